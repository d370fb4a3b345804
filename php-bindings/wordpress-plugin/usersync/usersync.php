<?php
/**
 * Plugin Name:       usersync
 * Description:       Keeps users in sync between WordPress sites: sign-ups, profile and role changes, passwords (as hashes) and deletions reach linked sites, sealed and checked by the usersync library.
 * Version:           0.1.0
 * Requires PHP:      8.1
 * Requires at least: 6.1
 * License:           MIT OR Apache-2.0
 * Text Domain:       usersync
 * Domain Path:       /languages
 *
 * Configuration lives in wp-config.php (secrets never go to the database):
 *     define( 'USERSYNC_SITE_ID', 'shop.example.com' );
 *     define( 'USERSYNC_PEERS', array( array( 'id' => 'blog.example.com', 'url' => 'https://blog.example.com',
 *         'secrets' => array( 'usk1_…' ), 'send' => array( … ), 'accept' => array( … ) ) ) );
 * See readme.txt for the whole format.
 */

defined( 'ABSPATH' ) || exit;

if ( ! defined( 'USERSYNC_PLUGIN_FILE' ) ) {
	define( 'USERSYNC_PLUGIN_FILE', __FILE__ );
}
if ( ! defined( 'USERSYNC_VERSION' ) ) {
	define( 'USERSYNC_VERSION', '0.1.0' );
}

// The PHP binding: bundled in the release zip, or the repository's copy in development.
foreach ( array( __DIR__ . '/binding/autoload.php', dirname( __DIR__, 2 ) . '/autoload.php' ) as $usersync_autoload ) {
	if ( is_file( $usersync_autoload ) ) {
		require_once $usersync_autoload;
		break;
	}
}

require_once __DIR__ . '/includes/class-usersync-settings.php';
require_once __DIR__ . '/includes/class-usersync-log.php';
require_once __DIR__ . '/includes/class-usersync-schema.php';
require_once __DIR__ . '/includes/class-usersync-links.php';
require_once __DIR__ . '/includes/class-usersync-events.php';
require_once __DIR__ . '/includes/class-usersync-outbox.php';
require_once __DIR__ . '/includes/class-usersync-new-account.php';
require_once __DIR__ . '/includes/class-usersync-users-columns.php';
require_once __DIR__ . '/includes/class-usersync-apply.php';
require_once __DIR__ . '/includes/class-usersync-passwords.php';
require_once __DIR__ . '/includes/class-usersync-inbox.php';
require_once __DIR__ . '/includes/class-usersync-inbox-request.php';
require_once __DIR__ . '/includes/class-usersync-sso.php';
require_once __DIR__ . '/includes/class-usersync-health.php';
require_once __DIR__ . '/includes/class-usersync-admin.php';
require_once __DIR__ . '/includes/class-usersync-sync.php';
require_once __DIR__ . '/includes/class-usersync-sync-receiver.php';
require_once __DIR__ . '/includes/class-usersync-sync-admin.php';
require_once __DIR__ . '/includes/class-usersync-plugin.php';

register_activation_hook( __FILE__, array( 'Usersync_Schema', 'install' ) );
Usersync_Plugin::add_hooks();

// `wp usersync …` where WP-CLI runs the site (readme.txt: WP-CLI is needed for the commands).
if ( defined( 'WP_CLI' ) && WP_CLI ) {
	require_once __DIR__ . '/includes/class-usersync-cli.php';
	require_once __DIR__ . '/includes/class-usersync-sync-cli.php';
	WP_CLI::add_command( 'usersync', 'Usersync_CLI' );
	WP_CLI::add_command( 'usersync sync', 'Usersync_Sync_CLI' );
}
