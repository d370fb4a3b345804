<?php
/**
 * The plugin's tables: the outbox (events waiting to be routed, then one row per peer), the
 * replay record (each applied event by its eid, each used ticket by its jti), the linked
 * identities (uid of each linked account), the activity log and the initial sync's reports (one
 * row per account and peer).
 * Uninstall drops them (uninstall.php).
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Schema {

	const VERSION = '6';
	const OPTION  = 'usersync_schema';

	/** @return string[] table name by role */
	public static function tables(): array {
		global $wpdb;
		return array(
			'outbox' => $wpdb->prefix . 'usersync_outbox',
			'seen'   => $wpdb->prefix . 'usersync_seen',
			'log'    => $wpdb->prefix . 'usersync_log',
			'links'  => $wpdb->prefix . 'usersync_links',
			'sync'   => $wpdb->prefix . 'usersync_sync',
		);
	}

	public static function maybe_install(): void {
		if ( get_option( self::OPTION ) !== self::VERSION ) {
			self::install();
		}
	}

	public static function install(): void {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$t       = self::tables();
		$charset = $wpdb->get_charset_collate();
		// uids and jtis are base64url: compared byte for byte (ascii_bin), never case-insensitively.
		dbDelta(
			"CREATE TABLE {$t['outbox']} (
				id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
				peer varchar(128) NOT NULL DEFAULT '',
				eid char(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
				user_id bigint(20) unsigned NOT NULL DEFAULT 0,
				act varchar(16) NOT NULL,
				login varchar(60) NOT NULL,
				event longtext NOT NULL,
				created_at bigint(20) NOT NULL,
				attempts int(11) NOT NULL DEFAULT 0,
				next_attempt bigint(20) NOT NULL,
				last_error varchar(255) NOT NULL DEFAULT '',
				PRIMARY KEY  (id),
				KEY peer_id (peer,id),
				KEY next_attempt (next_attempt)
			) $charset;
			CREATE TABLE {$t['seen']} (
				iss varchar(128) NOT NULL,
				msg_id char(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
				exp bigint(20) NOT NULL,
				PRIMARY KEY  (iss,msg_id),
				KEY exp (exp)
			) $charset;
			CREATE TABLE {$t['log']} (
				id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
				time bigint(20) NOT NULL,
				direction varchar(3) NOT NULL,
				peer varchar(128) NOT NULL DEFAULT '',
				act varchar(16) NOT NULL DEFAULT '',
				login varchar(60) NOT NULL DEFAULT '',
				eid char(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
				result varchar(16) NOT NULL,
				reason varchar(255) NOT NULL DEFAULT '',
				PRIMARY KEY  (id),
				KEY time (time)
			) $charset;
			CREATE TABLE {$t['links']} (
				uid char(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
				user_id bigint(20) unsigned NOT NULL,
				linked_at bigint(20) NOT NULL,
				PRIMARY KEY  (uid),
				UNIQUE KEY user_id (user_id)
			) $charset;
			CREATE TABLE {$t['sync']} (
				peer varchar(128) NOT NULL,
				user_id bigint(20) unsigned NOT NULL,
				login varchar(60) NOT NULL,
				email varchar(100) NOT NULL,
				verdict varchar(16) NOT NULL,
				reason varchar(32) NOT NULL DEFAULT '',
				uid varchar(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
				state varchar(8) NOT NULL DEFAULT '',
				result varchar(32) NOT NULL DEFAULT '',
				reported_at bigint(20) NOT NULL,
				PRIMARY KEY  (peer,user_id),
				KEY todo (peer,state,user_id)
			) $charset;"
		);
		// Read at the end of every request (is a delivery due?): autoloaded from the start, so a
		// site that has never delivered does not ask the database for it on every page view.
		add_option( 'usersync_retry_at', 0, '', true );
		update_option( self::OPTION, self::VERSION, true );
	}

	/** Drops every table and option of the plugin (uninstall). */
	public static function uninstall(): void {
		global $wpdb;
		foreach ( self::tables() as $table ) {
			$wpdb->query( "DROP TABLE IF EXISTS $table" ); // phpcs:ignore WordPress.DB.PreparedSQL -- table names are ours
		}
		$cursors = $wpdb->get_col( $wpdb->prepare( "SELECT option_name FROM $wpdb->options WHERE option_name LIKE %s", $wpdb->esc_like( 'usersync_sync_cursor_' ) . '%' ) ); // the initial sync's, one per peer
		foreach ( array_merge( array( self::OPTION, 'usersync_retry_at', 'usersync_health', 'usersync_users_columns' ), $cursors ) as $option ) {
			delete_option( $option );
		}
		wp_clear_scheduled_hook( 'usersync_deliver' );
	}
}
