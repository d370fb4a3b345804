<?php
/**
 * Linked identities: which local account carries which network-wide uid (docs/protocol.md §15).
 * One row per linked account; both columns unique, so no uid can name two accounts and no
 * account two uids. Accounts without a row are not synced and are untouchable by peers. The
 * rules about what a peer may do to an account are the library's (the target check); this class
 * only stores links and reads the facts the library asks for.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Links {

	private static function table(): string {
		return Usersync_Schema::tables()['links'];
	}

	/** The uid of a local account, or null when it is not linked. */
	public static function uid_of( int $user_id ): ?string {
		global $wpdb;
		$uid = $wpdb->get_var( $wpdb->prepare( 'SELECT uid FROM ' . self::table() . ' WHERE user_id = %d', $user_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		return null === $uid ? null : (string) $uid;
	}

	/** The local account linked to $uid, or null. */
	public static function user_of( string $uid ): ?WP_User {
		return self::linked( $uid )[0];
	}

	/** @return array{0: ?WP_User, 1: ?string} the account linked to $uid, and the uid as stored (one query) */
	private static function linked( string $uid ): array {
		global $wpdb;
		$row  = $wpdb->get_row( $wpdb->prepare( 'SELECT user_id, uid FROM ' . self::table() . ' WHERE uid = %s', $uid ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		$user = null === $row ? false : get_userdata( (int) $row->user_id );
		return $user ? array( $user, (string) $row->uid ) : array( null, null );
	}

	/** Links an account to a uid (a unique key refuses a second link of either). */
	public static function link( int $user_id, string $uid ): void {
		global $wpdb;
		if ( ! self::insert( 'INSERT', $user_id, $uid ) ) {
			// MariaDB's duplicate-key error (1062) is a second link; anything else is the database's.
			$duplicate = 0 === strpos( (string) $wpdb->last_error, 'Duplicate entry' );
			throw new Usersync_Apply_Failed( $duplicate ? 'the account or the uid is already linked' : 'the link could not be stored: ' . $wpdb->last_error );
		}
	}

	/**
	 * The uid of an account created here: $uid (minted with its sign-up's queued event) or a
	 * new one from the library, linked at once — in one query, as a new account has none —, or
	 * the one it has when it is linked already.
	 */
	public static function mint( int $user_id, ?string $uid = null ): string {
		global $wpdb;
		$uid   = $uid ?? Usersync\Secret::uid();
		$added = self::insert( 'INSERT IGNORE', $user_id, $uid );
		$uid   = 1 === $added ? $uid : ( false === $added ? null : self::uid_of( $user_id ) );
		if ( null === $uid ) {
			throw new Usersync_Apply_Failed( 'the link could not be stored: ' . $wpdb->last_error );
		}
		return $uid;
	}

	/** @return int|false the rows $verb ("INSERT" or "INSERT IGNORE") added: the link's one row */
	private static function insert( string $verb, int $user_id, string $uid ) {
		global $wpdb;
		return $wpdb->query( $wpdb->prepare( $verb . ' INTO ' . self::table() . ' (uid, user_id, linked_at) VALUES (%s, %d, %d)', $uid, $user_id, time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/** deleted_user: a deleted account's link goes with it. */
	public static function unlink( $user_id ): void {
		global $wpdb;
		$wpdb->delete( self::table(), array( 'user_id' => (int) $user_id ) );
	}

	/**
	 * The facts the library's target check needs about the account an opened message names,
	 * read in the caller's transaction: the linked account (its roles now, super-admin flag,
	 * and for a logout its sessions), for a create whether login or email are taken here, and
	 * for a ticket the browser's binding cookie.
	 *
	 * @return array{0: array, 1: ?WP_User} the facts, and the linked account
	 */
	public static function facts( array $opened, ?string $binding = null ): array {
		$data  = $opened['data'];
		list( $user, $stored ) = self::linked( (string) ( $data['uid'] ?? '' ) ); // a ping, pong or answer names none: the target check refuses it
		$facts                 = array( 'account' => null );
		if ( $user ) {
			$account = array(
				'uid'         => $stored, // as stored: the library compares it
				'roles'       => array_values( (array) $user->roles ),
				'super_admin' => is_multisite() && is_super_admin( $user->ID ),
			);
			if ( 'logout' === $opened['act'] ) {
				$account['sessions'] = self::sessions( $user->ID );
			}
			$facts['account'] = $account;
		} elseif ( 'create' === $opened['act'] ) {
			$facts['login_taken'] = false !== username_exists( $data['login'] );
			$facts['email_taken'] = false !== email_exists( $data['email'] );
		}
		if ( 'login' === $opened['act'] ) {
			$facts['binding'] = $binding;
		}
		return array( $facts, $user );
	}

	/** The account's sessions as the target check describes them (docs/protocol.md §15). */
	private static function sessions( int $user_id ): array {
		$sessions = get_user_meta( $user_id, 'session_tokens', true );
		$out      = array();
		foreach ( is_array( $sessions ) ? $sessions : array() as $verifier => $session ) {
			$out[] = array(
				'id'    => (string) $verifier,
				'iss'   => isset( $session['usersync_iss'] ) ? (string) $session['usersync_iss'] : null,
				'sid'   => isset( $session['usersync_sid'] ) ? (string) $session['usersync_sid'] : null,
				'peers' => array_values( array_map( 'strval', (array) ( $session['usersync_peers'] ?? array() ) ) ),
			);
		}
		return $out;
	}
}
