<?php
/**
 * The endpoint peers deliver to: POST /wp-json/usersync/v1/inbox (or ?rest_route=…) with the
 * sealed message as the body. The library opens and checks it; then, in one database
 * transaction, its (iss, jti) is recorded — a second use is answered "duplicate" — and the
 * action is applied. Answers: 200 applied | 200 duplicate | 4xx refused with the reason code.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Inbox {

	public static function register_route(): void {
		register_rest_route(
			'usersync/v1',
			'/inbox',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				// The message authenticates itself; there is no WordPress user behind it.
				'permission_callback' => '__return_true',
			)
		);
	}

	private static function answer( int $status, string $result, string $reason = '' ): WP_REST_Response {
		return new WP_REST_Response( array_filter( array( 'result' => $result, 'reason' => $reason ) ), $status );
	}

	public static function receive( WP_REST_Request $request ): WP_REST_Response {
		global $wpdb;
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			return self::answer( 503, 'unavailable', 'usersync is not configured on this site' );
		}
		$remote = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : null;
		try {
			$opened = $context->openAction( $request->get_body(), $remote );
		} catch ( Usersync\Exception $e ) {
			Usersync_Log::add( 'in', '', '', '', 'refused', $e->reason . ( $remote ? " from $remote" : '' ) );
			$status = 'authentication_failed' === $e->reason || 'ip_not_allowed' === $e->reason ? 403 : 400;
			return self::answer( $status, 'refused', $e->reason );
		}
		$login = (string) ( $opened['data']['login'] ?? '' );
		$seen  = Usersync_Schema::tables()['seen'];
		$wpdb->query( 'START TRANSACTION' );
		try {
			$recorded = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, jti, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['jti'], $opened['exp'] ) ); // phpcs:ignore WordPress.DB.PreparedSQL
			if ( 1 !== $recorded ) {
				$wpdb->query( 'ROLLBACK' );
				Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'duplicate' );
				return self::answer( 200, 'duplicate' );
			}
			Usersync_Events::applying( static fn() => Usersync_Apply::apply( $opened['act'], $opened['data'] ) );
			$wpdb->query( 'COMMIT' );
		} catch ( Usersync_Apply_Failed $e ) {
			$wpdb->query( 'ROLLBACK' );
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'refused', $e->getMessage() );
			return self::answer( 422, 'refused', 'apply_failed: ' . $e->getMessage() );
		} catch ( Throwable $e ) {
			$wpdb->query( 'ROLLBACK' );
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'error', get_class( $e ) );
			return self::answer( 500, 'error' );
		}
		$dropped = isset( $opened['dropped'] ) ? wp_json_encode( $opened['dropped'] ) : '';
		Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'applied', $dropped ? "dropped by policy: $dropped" : '' );
		self::prune_seen();
		return self::answer( 200, 'applied' );
	}

	/** Forgets replay records once their messages could no longer open anyway. */
	private static function prune_seen(): void {
		global $wpdb;
		if ( wp_rand( 1, 50 ) === 1 ) {
			$seen = Usersync_Schema::tables()['seen'];
			$wpdb->query( $wpdb->prepare( "DELETE FROM $seen WHERE exp < %d", time() - 600 ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
	}
}
