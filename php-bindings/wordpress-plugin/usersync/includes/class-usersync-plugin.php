<?php
/**
 * Every hook the plugin uses, in one place, with its priority.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Plugin {

	public static function add_hooks(): void {
		// Every string is translatable in the text domain "usersync" (languages/ in the plugin).
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );

		// Outgoing: user events are collected during the request and coalesced per user.
		add_action( 'user_register', array( 'Usersync_Events', 'created' ), 100 );
		add_action( 'profile_update', array( 'Usersync_Events', 'updated' ), 100, 3 );
		add_action( 'set_user_role', array( 'Usersync_Events', 'updated' ), 100 );
		add_action( 'add_user_role', array( 'Usersync_Events', 'updated' ), 100 );
		add_action( 'remove_user_role', array( 'Usersync_Events', 'updated' ), 100 );
		add_action( 'added_user_meta', array( 'Usersync_Events', 'meta_changed' ), 100, 3 );
		add_action( 'updated_user_meta', array( 'Usersync_Events', 'meta_changed' ), 100, 3 );
		add_action( 'deleted_user_meta', array( 'Usersync_Events', 'meta_deleted' ), 100, 3 );
		add_action( 'wp_set_password', array( 'Usersync_Events', 'password_changed' ), 100, 2 );
		add_action( 'after_password_reset', array( 'Usersync_Events', 'password_reset' ), 100 );
		add_action( 'delete_user', array( 'Usersync_Events', 'deleted' ), 100, 2 );
		add_action( 'deleted_user', array( 'Usersync_Links', 'unlink' ) );

		// At the end of the request: write the outbox, answer the browser, then deliver — right
		// after WordPress flushes its output (wp_ob_end_flush_all, also at 1), before other
		// plugins' shutdown work, so peers are not kept waiting for it.
		add_action( 'shutdown', array( 'Usersync_Events', 'flush' ), 0 );
		add_action( 'shutdown', array( 'Usersync_Outbox', 'deliver_after_response' ), 1 );
		add_action( 'usersync_deliver', array( 'Usersync_Outbox', 'deliver' ) );

		// Single sign-on and logout everywhere.
		add_action( 'set_logged_in_cookie', array( 'Usersync_SSO', 'capture_login' ), 10, 6 );
		add_filter( 'login_redirect', array( 'Usersync_SSO', 'login_redirect' ), 1000, 3 );
		add_filter( 'allowed_redirect_hosts', array( 'Usersync_SSO', 'allowed_hosts' ) );
		add_action( 'init', array( 'Usersync_SSO', 'bind' ), 1 );
		add_action( 'init', array( 'Usersync_SSO', 'accept' ), 1 );
		add_action( 'admin_head', array( 'Usersync_SSO', 'page_peers' ), 1 );
		add_action( 'wp_head', array( 'Usersync_SSO', 'page_peers' ), 1 );
		add_action( 'wp_footer', array( 'Usersync_SSO', 'page_peers' ), 100 );
		add_action( 'admin_footer', array( 'Usersync_SSO', 'page_peers' ), 100 );
		add_action( 'init', array( 'Usersync_SSO', 'sso_page' ), 1 );
		add_action( 'login_form', array( 'Usersync_SSO', 'login_form_bindings' ) );
		add_action( 'login_footer', array( 'Usersync_SSO', 'login_footer' ) );
		add_action( 'check_admin_referer', array( 'Usersync_SSO', 'before_logout' ), 10, 2 );
		add_action( 'wp_logout', array( 'Usersync_SSO', 'logged_out' ) );
		add_action( 'auth_cookie_bad_session_token', array( 'Usersync_SSO', 'clear_dead_cookie' ) );
		add_action( 'admin_bar_menu', array( 'Usersync_SSO', 'toolbar' ), 100 );

		// Logins with a hash another host made (Django's): checked by the library, re-hashed here.
		add_filter( 'check_password', array( 'Usersync_Passwords', 'check' ), 10, 4 );
		add_filter( 'password_needs_rehash', array( 'Usersync_Passwords', 'needs_rehash' ), 10, 3 );

		// Incoming: one REST endpoint for peers, answered early when a peer delivers to it.
		add_action( 'rest_api_init', array( 'Usersync_Inbox', 'register_route' ) );
		Usersync_Inbox_Request::start();

		// Administration.
		add_action( 'admin_menu', array( 'Usersync_Admin', 'menu' ) );
		add_action( 'admin_notices', array( 'Usersync_Admin', 'notices' ) );
		add_action( 'admin_post_usersync_deliver_now', array( 'Usersync_Admin', 'deliver_now' ) );
		add_action( 'admin_post_usersync_clear_log', array( 'Usersync_Admin', 'clear_log' ) );
		add_action( 'admin_post_usersync_test_link', array( 'Usersync_Admin', 'test_link' ) );

		// The initial sync's settings page (its WP-CLI command is registered in usersync.php).
		Usersync_Sync_Admin::add_hooks();

		// Upgrades without re-activation (tables created on first use).
		add_action( 'plugins_loaded', array( 'Usersync_Schema', 'maybe_install' ) );
	}

	/**
	 * Runs $run with these hooks added (add_filter()'s arguments each) and removes them after,
	 * however $run ends: what $run returns.
	 *
	 * @param array[] $hooks
	 */
	public static function with_hooks( array $hooks, callable $run ) {
		foreach ( $hooks as $hook ) {
			add_filter( ...$hook );
		}
		try {
			return $run();
		} finally {
			foreach ( $hooks as $hook ) {
				remove_filter( $hook[0], $hook[1], $hook[2] ?? 10 );
			}
		}
	}

	public static function load_textdomain(): void {
		load_plugin_textdomain( 'usersync', false, dirname( plugin_basename( USERSYNC_PLUGIN_FILE ) ) . '/languages' );
	}
}
