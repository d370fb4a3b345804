<?php
/**
 * Delivery from a system cron (or systemd timer), for sites that get few visitors or set
 * DISABLE_WP_CRON: routes and delivers everything due, then exits.
 *
 *     php wp-content/plugins/usersync/bin/usersync-deliver.php [--path=/srv/www/wordpress] [--watch=55]
 *
 * --path    the WordPress folder (default: the one this plugin is installed in)
 * --watch=N keep delivering whatever becomes due for N seconds (with a crontab line every
 *           minute and --watch=55, changes wait at most about a second after their retry time)
 * Exit status: 0 done; 1 usersync cannot work here (the reason is printed); 2 bad arguments.
 * Run it as the web server's user (e.g. `sudo -u www-data php …`), with PHP's FFI enabled for
 * the command line (Debian's default). WP-CLI users can run `wp usersync deliver` instead.
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 2 );
}
$usersync_args = getopt( '', array( 'path:', 'watch:' ) );
$usersync_path = $usersync_args['path'] ?? dirname( __DIR__, 4 );
$usersync_load = rtrim( (string) $usersync_path, '/' ) . '/wp-load.php';
if ( ! is_file( $usersync_load ) ) {
	fwrite( STDERR, "usersync: no WordPress at $usersync_path (use --path)\n" );
	exit( 2 );
}
$_SERVER['HTTP_HOST']      = $_SERVER['HTTP_HOST'] ?? 'localhost';
$_SERVER['REQUEST_METHOD'] = 'GET';
define( 'WP_USE_THEMES', false );
require $usersync_load;

if ( ! class_exists( 'Usersync_Outbox' ) ) {
	fwrite( STDERR, "usersync: the plugin is not active on this site\n" );
	exit( 1 );
}
$usersync_until = time() + max( 0, (int) ( $usersync_args['watch'] ?? 0 ) );
do {
	Usersync_Outbox::deliver();
	$usersync_problem = Usersync_Settings::problem();
	if ( null !== $usersync_problem ) {
		fwrite( STDERR, "usersync: $usersync_problem\n" );
		exit( 1 );
	}
	if ( time() < $usersync_until ) {
		sleep( 1 ); // whatever became due in the meantime goes out within a second
	}
} while ( time() < $usersync_until );
exit( 0 );
