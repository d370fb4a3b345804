<?php
/**
 * The activity log: what was sent, received, applied and refused. It records peers, actions,
 * logins and reason codes — never secrets, tickets, message bodies or password hashes.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Log {

	/** Days an entry is kept (USERSYNC_LOG_DAYS). */
	public static function retention_days(): int {
		return defined( 'USERSYNC_LOG_DAYS' ) ? max( 1, (int) USERSYNC_LOG_DAYS ) : 30;
	}

	/** One entry; $eid names the event (the same on the sender's and the receiver's lines). */
	public static function add( string $direction, string $peer, string $act, string $login, string $result, string $reason = '', string $eid = '' ): void {
		global $wpdb;
		// A prepared INSERT, not $wpdb->insert(): that asks the table's columns (SHOW FULL COLUMNS)
		// in every request that logs. Lengths are the columns' own, in characters.
		$table = Usersync_Schema::tables()['log'];
		$wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare(
				"INSERT INTO $table (time, direction, peer, act, login, eid, result, reason) VALUES (%d, %s, %s, %s, %s, %s, %s, %s)", // phpcs:ignore WordPress.DB.PreparedSQL
				time(),
				$direction,
				mb_substr( $peer, 0, 128 ),
				mb_substr( $act, 0, 16 ),
				mb_substr( $login, 0, 60 ),
				mb_substr( $eid, 0, 22 ),
				$result,
				mb_substr( $reason, 0, 255 )
			)
		);
	}

	/** Deletes entries past the retention. */
	public static function prune(): void {
		global $wpdb;
		$table = Usersync_Schema::tables()['log'];
		$wpdb->query( $wpdb->prepare( "DELETE FROM $table WHERE time < %d", time() - self::retention_days() * DAY_IN_SECONDS ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/** @return object[] the newest entries */
	public static function recent( int $limit = 100 ): array {
		global $wpdb;
		$table = Usersync_Schema::tables()['log'];
		return $wpdb->get_results( $wpdb->prepare( "SELECT * FROM $table ORDER BY id DESC LIMIT %d", $limit ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/** @return object[] the newest refusals of peers' changes that named a local account they may not touch */
	public static function identity_refusals( int $limit = 20 ): array {
		global $wpdb;
		$table = Usersync_Schema::tables()['log'];
		return $wpdb->get_results( $wpdb->prepare( "SELECT * FROM $table WHERE direction = 'in' AND result = 'refused' AND reason IN ('identity_conflict', 'protected_account') ORDER BY id DESC LIMIT %d", $limit ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	public static function clear(): void {
		global $wpdb;
		$wpdb->query( 'TRUNCATE TABLE ' . Usersync_Schema::tables()['log'] ); // phpcs:ignore WordPress.DB.PreparedSQL
	}
}
