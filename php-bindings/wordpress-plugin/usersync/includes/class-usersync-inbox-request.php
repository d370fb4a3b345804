<?php
/**
 * The inbox's fast path. A peer's delivery — a POST to ?rest_route=/usersync/v1/inbox, the URL
 * senders use — is answered as soon as WordPress has loaded: every plugin, the theme, `init` and
 * `wp_loaded` have run, so every hook other plugins put on user changes fires as on any other
 * request. What applying a user change never needs is left out: the REST server (building it
 * registers every core route), the main query and the template, and core's block, block style,
 * pattern and font registration at `init` (presentation only; plugins' own `init` callbacks
 * all run). The answer goes out before the rest of the shutdown work.
 *
 * The REST route (/wp-json/usersync/v1/inbox) stays and answers the same, the full way.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Inbox_Request {

	const ROUTE = '/usersync/v1/inbox';

	/** A peer's delivery to the inbox, by the URL senders use. */
	public static function is_inbox(): bool {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the message authenticates itself
		$route = isset( $_GET['rest_route'] ) ? sanitize_text_field( wp_unslash( $_GET['rest_route'] ) ) : '';
		return self::ROUTE === $route && 'POST' === ( $_SERVER['REQUEST_METHOD'] ?? '' );
	}

	/** Called while plugins load: takes over a delivery to the inbox. */
	public static function start(): void {
		if ( self::is_inbox() ) {
			add_action( 'init', array( __CLASS__, 'skip_presentation' ), PHP_INT_MIN );
			add_action( 'wp_loaded', array( __CLASS__, 'serve' ), PHP_INT_MAX );
		}
	}

	/** Core's block, block style, pattern and font registrations are dropped from this `init`. */
	public static function skip_presentation(): void {
		global $wp_filter;
		$core = '/^(register_block_core_|register_core_block_|_register_core_block_patterns_and_categories$|_register_theme_block_patterns$|_wp_register_default_font_collections$)/';
		foreach ( $wp_filter['init']->callbacks as $priority => $callbacks ) {
			foreach ( $callbacks as $callback ) {
				if ( is_string( $callback['function'] ) && preg_match( $core, $callback['function'] ) ) {
					remove_action( 'init', $callback['function'], $priority );
				}
			}
		}
	}

	/** Answers the delivery with the inbox's own answer, then lets the request end. */
	public static function serve(): void {
		$request = new WP_REST_Request( 'POST', self::ROUTE );
		$request->set_body( (string) file_get_contents( 'php://input' ) );
		$response = Usersync_Inbox::receive( $request );
		status_header( $response->get_status() );
		header( 'Content-Type: application/json; charset=' . get_option( 'blog_charset' ) );
		echo wp_json_encode( $response->get_data() );
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request(); // the sender's next message need not wait for our shutdown work
		}
		exit;
	}
}
