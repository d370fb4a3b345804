<?php
/**
 * The initial sync, the peer's side (docs/protocol.md §18): the inbox hands over an opened
 * `probe` or `sync`. For each asked account this reads, in a few queries, the account linked to
 * its uid, the account with its login and one with its email (with WordPress's own comparison:
 * the columns' collation); the library classifies each and seals the answer. A probe changes
 * nothing. A batch is applied in one transaction under the create lock: its (iss, eid) recorded,
 * the accounts to create written in bulk (rows as wp_insert_user() writes them, less the meta
 * rows WordPress reads the same when missing: empty fields, a user level of 0; the password
 * hash as it came: no re-hashing, no hook per account) and linked to their uid, the accounts to
 * link linked. Nothing else is touched.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Sync_Receiver {

	/** Rows per INSERT statement. */
	const ROWS = 2000;

	private static function answer( int $status, array $body ): WP_REST_Response {
		return new WP_REST_Response( $body, $status );
	}

	public static function receive( array $opened, Usersync\Context $context ): WP_REST_Response {
		global $wpdb;
		if ( 'probe' === $opened['act'] ) {
			// Single-use, as every message (docs/protocol.md §11): a copy is not answered again.
			$seen = Usersync_Schema::tables()['seen'];
			if ( 1 !== $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, msg_id, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['eid'], time() + Usersync_Inbox::EVENT_MEMORY ) ) ) { // phpcs:ignore WordPress.DB.PreparedSQL
				return self::duplicate( $opened );
			}
			$answer = $context->syncAnswer( $opened, array( 'accounts' => self::facts( $opened['data']['accounts'] ) ) );
			Usersync_Log::add( 'in', $opened['iss'], 'probe', '', 'answered', self::counts( $answer['results'] ), $opened['eid'] );
			return self::answer( 200, array( 'result' => 'answered', 'answer' => $answer['message'] ) );
		}
		$lock = Usersync_Inbox::lock_creates();
		if ( null === $lock ) {
			return self::answer( 503, array( 'result' => 'busy', 'reason' => 'another create is being applied here' ) );
		}
		$seen = Usersync_Schema::tables()['seen'];
		$wpdb->query( 'START TRANSACTION' );
		try {
			$recorded = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, msg_id, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['eid'], time() + Usersync_Inbox::EVENT_MEMORY ) ); // phpcs:ignore WordPress.DB.PreparedSQL
			if ( 1 !== $recorded ) {
				$wpdb->query( 'ROLLBACK' );
				return self::duplicate( $opened );
			}
			$create  = $opened['data']['create'] ?? array();
			$link    = $opened['data']['link'] ?? array();
			$facts   = self::facts( array_merge( $create, $link ) );
			$answer  = $context->syncAnswer( $opened, array( 'accounts' => $facts ) );
			$results = array();
			foreach ( $answer['results'] as $r ) {
				$results[ $r['uid'] ] = $r['do'];
			}
			$new = array_values( array_filter( $create, static fn( $u ) => 'create' === ( $results[ $u['uid'] ] ?? '' ) ) );
			$links = self::insert_users( $new );
			foreach ( $link as $i => $entry ) {
				if ( 'link' === ( $results[ $entry['uid'] ] ?? '' ) ) {
					$links[ $entry['uid'] ] = (int) $facts[ count( $create ) + $i ]['by_login']['id'];
				}
			}
			self::insert_links( $links );
			$wpdb->query( 'COMMIT' );
		} catch ( Throwable $e ) {
			$wpdb->query( 'ROLLBACK' );
			$reason = $e instanceof Usersync\Exception ? $e->reason : get_class( $e );
			Usersync_Log::add( 'in', $opened['iss'], 'sync', '', 'refused', $reason, $opened['eid'] );
			return self::answer( $e instanceof Usersync\Exception ? 400 : 500, array( 'result' => 'refused', 'reason' => $reason ) );
		} finally {
			$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
		$created = array();
		foreach ( $links as $uid => $id ) {
			if ( 'create' === ( $results[ $uid ] ?? '' ) ) {
				$created[] = $id;
			} else {
				clean_user_cache( $id );
			}
		}
		self::forget_created( $created );
		Usersync_Log::add( 'in', $opened['iss'], 'sync', '', 'applied', self::counts( $answer['results'] ), $opened['eid'] );
		/**
		 * Fires when a batch of the initial sync was applied and committed here. Its accounts are
		 * written in bulk, so core's user_register does not fire for them: this does.
		 *
		 * @param string $peer    the peer that sent the batch
		 * @param int[]  $created the accounts created
		 * @param int[]  $linked  the existing accounts linked
		 */
		do_action( 'usersync_sync_applied', $opened['iss'], $created, array_values( array_diff( array_values( $links ), $created ) ) );
		return self::answer( 200, array( 'result' => 'answered', 'answer' => $answer['message'] ) );
	}

	/** A replayed probe or batch: refused, and in the activity log (a replay is an attack or a bug). */
	private static function duplicate( array $opened ): WP_REST_Response {
		Usersync_Log::add( 'in', $opened['iss'], $opened['act'], '', 'duplicate', 'refused: this message was received before', $opened['eid'] );
		return self::answer( 409, array( 'result' => 'refused', 'reason' => 'duplicate: this ' . $opened['act'] . ' was received already; send it again as a new one' ) );
	}

	/**
	 * What clean_user_cache() does for accounts just created, without loading each one as a
	 * WP_User (two queries each): their cache keys go, read in one query, and the users'
	 * last-changed time moves once, after the commit, so cached user queries are redone.
	 *
	 * @param int[] $ids the new accounts
	 */
	private static function forget_created( array $ids ): void {
		global $wpdb;
		if ( ! $ids ) {
			return;
		}
		$in   = implode( ',', array_map( 'intval', $ids ) );
		$rows = $wpdb->get_results( "SELECT user_login, user_nicename, user_email FROM $wpdb->users WHERE ID IN ($in)" ); // phpcs:ignore WordPress.DB.PreparedSQL
		wp_cache_delete_multiple( $ids, 'users' );
		wp_cache_delete_multiple( $ids, 'user_meta' );
		wp_cache_delete_multiple( array_column( $rows, 'user_login' ), 'userlogins' );
		wp_cache_delete_multiple( array_column( $rows, 'user_nicename' ), 'userslugs' );
		wp_cache_delete_multiple( array_column( $rows, 'user_email' ), 'useremail' );
		wp_cache_set_users_last_changed();
	}

	/** "create 3, link 1, collision 2" for the activity log (no logins: one line per batch). */
	private static function counts( array $results ): string {
		$n = array_count_values( array_map( static fn( $r ) => (string) $r['do'], $results ) );
		return implode( ', ', array_map( static fn( $k, $v ) => "$k $v", array_keys( $n ), $n ) );
	}

	/**
	 * The facts about each asked account (login, email, uid?), in order, read in three queries
	 * whatever the batch size: each lookup joins the asked values against the users table, so
	 * the column's collation decides what matches, as username_exists() and email_exists() do.
	 */
	private static function facts( array $asked ): array {
		global $wpdb;
		if ( ! $asked ) {
			return array(); // a batch whose every account the policy refused: nothing to look up
		}
		$links = Usersync_Schema::tables()['links'];
		$rows  = array();
		$vals  = array();
		foreach ( $asked as $i => $a ) {
			$rows[] = 0 === $i ? 'SELECT %d AS i, %s AS l, %s AS m, %s AS u' : 'SELECT %d, %s, %s, %s';
			array_push( $vals, $i, $a['login'], $a['email'], (string) ( $a['uid'] ?? '' ) );
		}
		$asked_sql = $wpdb->prepare( implode( ' UNION ALL ', $rows ), $vals ); // phpcs:ignore WordPress.DB.PreparedSQL
		$found     = array_fill( 0, count( $asked ), array( 'linked' => null, 'by_login' => null, 'by_email' => null ) );
		$lookups   = array(
			'by_login' => "SELECT e.i, MIN(u.ID) AS id FROM ($asked_sql) e JOIN $wpdb->users u ON u.user_login = e.l GROUP BY e.i",
			'by_email' => "SELECT e.i, MIN(u.ID) AS id FROM ($asked_sql) e JOIN $wpdb->users u ON u.user_email = e.m GROUP BY e.i",
			'linked'   => "SELECT e.i, k.user_id AS id FROM ($asked_sql) e JOIN $links k ON k.uid = e.u",
		);
		$ids = array();
		foreach ( $lookups as $what => $sql ) {
			foreach ( $wpdb->get_results( $sql ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
				$found[ (int) $r->i ][ $what ] = (int) $r->id;
				$ids[ (int) $r->id ]           = true;
			}
		}
		$accounts = self::accounts( array_keys( $ids ) );
		$illegal  = array_map( 'strtolower', (array) apply_filters( 'illegal_user_logins', array() ) ); // once a batch
		foreach ( $found as $i => $f ) {
			foreach ( $f as $what => $id ) {
				$found[ $i ][ $what ] = null === $id ? null : ( $accounts[ $id ] ?? null );
			}
			$found[ $i ]['invalid'] = ! self::takes_as_is( (string) $asked[ $i ]['login'], (string) $asked[ $i ]['email'], $illegal );
		}
		return $found;
	}

	/**
	 * Whether wp_insert_user() would store this login and email for a new account as they are:
	 * its strict user name cleaning, length limit and illegal logins ($illegal, lower-cased),
	 * and the address filters
	 * with a valid address. (The bulk INSERTs skip wp_insert_user(); the library refuses a
	 * create this says no to, so markup or a look-alike of another login is never written.)
	 */
	private static function takes_as_is( string $login, string $email, array $illegal ): bool {
		$clean = trim( (string) apply_filters( 'pre_user_login', sanitize_user( $login, true ) ) );
		$legal = ! in_array( strtolower( $clean ), $illegal, true );
		$addr  = (string) apply_filters( 'pre_user_email', $email );
		return $clean === $login && '' !== $login && mb_strlen( $login ) <= 60 && $legal
			&& $addr === $email && false !== is_email( $email ) && mb_strlen( $email ) <= 100;
	}

	/** The library's view of local accounts: id, uid when linked, roles now, super admin. */
	private static function accounts( array $ids ): array {
		global $wpdb;
		if ( ! $ids ) {
			return array();
		}
		$links = Usersync_Schema::tables()['links'];
		$in    = implode( ',', array_map( 'intval', $ids ) );
		$uids  = array();
		foreach ( $wpdb->get_results( "SELECT user_id, uid FROM $links WHERE user_id IN ($in)" ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$uids[ (int) $r->user_id ] = (string) $r->uid;
		}
		// Roles as WordPress reads them (Usersync_Links::facts does the same for one account).
		cache_users( $ids );
		$out = array();
		foreach ( $ids as $id ) {
			$user       = get_userdata( $id );
			$out[ $id ] = array(
				'id'          => $id,
				'uid'         => $uids[ $id ] ?? null,
				'roles'       => $user ? array_values( (array) $user->roles ) : array(),
				'super_admin' => is_multisite() && is_super_admin( $id ),
			);
		}
		return $out;
	}

	/** The user level WordPress stores with a set of roles (the highest level_N they grant). */
	private static function level( array $roles ): int {
		$level = 0;
		foreach ( $roles as $role ) {
			$object = get_role( $role );
			foreach ( $object ? array_keys( array_filter( $object->capabilities ) ) : array() as $cap ) {
				if ( preg_match( '/^level_(\d+)$/', $cap, $m ) ) {
					$level = max( $level, (int) $m[1] );
				}
			}
		}
		return $level;
	}

	/**
	 * Creates the batch's new accounts in bulk: the users rows, then their meta (profile fields
	 * WordPress keeps as meta, roles, the synced meta). @return array<string, int> uid → new id
	 */
	private static function insert_users( array $users ): array {
		global $wpdb;
		if ( ! $users ) {
			return array();
		}
		$now       = current_time( 'mysql', true );
		$nicenames = self::nicenames( $users );
		$rows      = array();
		foreach ( $users as $k => $u ) {
			$f      = $u['fields'] ?? array();
			$rows[] = array(
				$u['login'],
				// The peer's hash as it came; without one, nothing anyone can log in with (a reset works).
				$u['pass_hash'] ?? '*' . bin2hex( random_bytes( 16 ) ),
				$nicenames[ $k ],
				$u['email'],
				(string) ( $f['url'] ?? '' ),
				$now,
				'' !== (string) ( $f['display_name'] ?? '' ) ? $f['display_name'] : $u['login'],
			);
		}
		$ids = array();
		foreach ( array_chunk( $rows, self::ROWS, true ) as $chunk ) {
			self::insert( $wpdb->users, array( 'user_login', 'user_pass', 'user_nicename', 'user_email', 'user_url', 'user_registered', 'display_name' ), $chunk );
			$first = (int) $wpdb->insert_id;
			$made  = $wpdb->get_results( $wpdb->prepare( "SELECT ID, user_login FROM $wpdb->users WHERE ID >= %d ORDER BY ID LIMIT %d", $first, count( $chunk ) ) );
			foreach ( array_values( array_keys( $chunk ) ) as $j => $k ) {
				// Consecutive ids for one multi-row INSERT; checked, never assumed.
				if ( ! isset( $made[ $j ] ) || $made[ $j ]->user_login !== $users[ $k ]['login'] ) {
					throw new RuntimeException( 'the new accounts did not get consecutive ids' );
				}
				$ids[ $k ] = (int) $made[ $j ]->ID;
			}
		}
		$caps  = $wpdb->get_blog_prefix() . 'capabilities';
		$level = $wpdb->get_blog_prefix() . 'user_level';
		$meta  = array();
		$links = array();
		foreach ( $users as $k => $u ) {
			$id    = $ids[ $k ];
			$f     = $u['fields'] ?? array();
			$roles = array_values( array_filter( $u['roles'] ?? array(), 'get_role' ) );
			$meta[] = array( $id, 'nickname', maybe_serialize( '' !== (string) ( $f['nickname'] ?? '' ) ? $f['nickname'] : $u['login'] ) );
			foreach ( array( 'first_name', 'last_name', 'description', 'locale' ) as $field ) {
				if ( '' !== (string) ( $f[ $field ] ?? '' ) ) {
					$meta[] = array( $id, $field, maybe_serialize( $f[ $field ] ) );
				}
			}
			$meta[] = array( $id, $caps, serialize( array_fill_keys( $roles, true ) ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions -- as WordPress stores roles
			// Level 0 (subscribers) needs no row: WordPress reads a missing level as 0, and its
			// one query on levels (authors) looks for levels other than 0.
			$user_level = self::level( $roles );
			if ( $user_level > 0 ) {
				$meta[] = array( $id, $level, (string) $user_level );
			}
			foreach ( $u['meta'] ?? array() as $key => $values ) {
				foreach ( $values as $value ) {
					// As add_user_meta() stores a string: one that looks serialized is never unserialized.
					$meta[] = array( $id, $key, maybe_serialize( $value ) );
				}
			}
			$links[ $u['uid'] ] = $id;
		}
		foreach ( array_chunk( $meta, self::ROWS ) as $chunk ) {
			self::insert( $wpdb->usermeta, array( 'user_id', 'meta_key', 'meta_value' ), $chunk );
		}
		return $links;
	}

	/** Nicenames as wp_insert_user() makes them: the given one or the login's, unique here. */
	private static function nicenames( array $users ): array {
		global $wpdb;
		$want = array();
		foreach ( $users as $k => $u ) {
			$nice       = (string) ( $u['fields']['nicename'] ?? '' );
			$want[ $k ] = mb_substr( sanitize_title( '' !== $nice ? $nice : $u['login'] ), 0, 50 );
		}
		$in    = implode( ',', array_fill( 0, count( $want ), '%s' ) );
		$taken = array_flip( $wpdb->get_col( $wpdb->prepare( "SELECT user_nicename FROM $wpdb->users WHERE user_nicename IN ($in)", array_values( $want ) ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		foreach ( $want as $k => $nice ) {
			$try = $nice;
			for ( $n = 2; isset( $taken[ $try ] ); $n++ ) {
				$try = mb_substr( $nice, 0, 49 - strlen( (string) $n ) ) . "-$n";
				if ( ! isset( $taken[ $try ] ) && null !== $wpdb->get_var( $wpdb->prepare( "SELECT ID FROM $wpdb->users WHERE user_nicename = %s", $try ) ) ) {
					$taken[ $try ] = true;
				}
			}
			$taken[ $try ] = true;
			$want[ $k ]    = $try;
		}
		return $want;
	}

	/** Links accounts to uids in one statement. */
	private static function insert_links( array $links ): void {
		global $wpdb;
		$rows = array();
		foreach ( $links as $uid => $id ) {
			$rows[] = array( $uid, $id, time() );
		}
		foreach ( array_chunk( $rows, self::ROWS ) as $chunk ) {
			self::insert( Usersync_Schema::tables()['links'], array( 'uid', 'user_id', 'linked_at' ), $chunk );
		}
	}

	/**
	 * One multi-row INSERT; a failure fails the batch (its transaction is rolled back). Integers
	 * go in as integers, everything else as escaped strings: what $wpdb->prepare() would make of
	 * %d and %s, without its pass over a format of thousands of placeholders.
	 */
	private static function insert( string $table, array $columns, array $rows ): void {
		global $wpdb;
		if ( ! $rows ) {
			return;
		}
		$values = array();
		foreach ( $rows as $r ) {
			$values[] = '(' . implode( ', ', array_map( static fn( $v ) => is_int( $v ) ? (string) $v : "'" . esc_sql( (string) $v ) . "'", array_values( $r ) ) ) . ')';
		}
		$sql = "INSERT INTO $table (" . implode( ', ', $columns ) . ') VALUES ' . implode( ', ', $values );
		if ( false === $wpdb->query( $sql ) ) { // phpcs:ignore WordPress.DB.PreparedSQL -- every value escaped above
			throw new RuntimeException( "bulk insert into $table failed" );
		}
	}
}
