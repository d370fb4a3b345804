<?php
/**
 * Turns WordPress user events into usersync events. Events of one request are coalesced per
 * user and written to the outbox at shutdown: a sign-up that also sets a role and meta leaves
 * as one "create" carrying the user's final state. Events caused by applying a peer's action
 * are ignored, so nothing is echoed back. Only linked accounts are synced: an account created
 * here gets its uid when the outbox routes its create; accounts that existed before the link
 * stay local until an administrator links them.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Events {

	/** @var array<int, array{kind: string, meta_set: array<string, bool>, meta_deleted: array<string, bool>}> */
	private static $users = array();
	/** @var array<int, array{uid: string, login: string, reassign: ?string}> */
	private static $deleted = array();
	/** @var bool true while a peer's action is applied */
	private static $applying = false;
	/** @var array[] events built elsewhere (logout) for this request's flush */
	private static $extra = array();

	/** Adds a ready event (e.g. a logout) to this request's outbox write. */
	public static function add( array $event ): void {
		self::$extra[] = $event;
	}

	/**
	 * How a changed meta key travels, as the library sorts it: 'meta', 'profile_field' (a
	 * field WordPress keeps in user meta: it travels in an update's fields), 'protected'
	 * (never sent) — or null when the library is not loaded in this request: the event is
	 * queued anyway, as an update and as meta, and the library's send filter sorts it when it
	 * is routed. WordPress's per-screen bookkeeping is never worth an event.
	 */
	private static function meta_kind( string $key ): ?string {
		if ( preg_match( '/^wp_user-settings|^(dismissed_wp_pointers|last_update|community-events-location)$/', $key ) ) {
			return 'protected';
		}
		if ( ! Usersync_Settings::context() ) {
			return null;
		}
		static $kinds = array(); // the library's answer never changes: one FFI call per key (a bulk sync asks 14 per account)
		return $kinds[ $key ] ??= Usersync\WordPressSite::metaKind( $key );
	}

	/** Runs $apply with outgoing events switched off (applying a peer's action). */
	public static function applying( callable $apply ) {
		self::$applying = true;
		try {
			return $apply();
		} finally {
			self::$applying = false;
		}
	}

	private static function touch( int $user_id, string $kind ): void {
		if ( self::$applying || $user_id <= 0 ) {
			return;
		}
		$entry = self::$users[ $user_id ] ?? array( 'kind' => 'meta', 'meta_set' => array(), 'meta_deleted' => array() );
		// create > update > password > meta: the strongest event of the request wins.
		$rank = array( 'meta' => 0, 'password' => 1, 'update' => 2, 'create' => 3 );
		if ( $rank[ $kind ] > $rank[ $entry['kind'] ] ) {
			$entry['kind'] = $kind;
		}
		self::$users[ $user_id ] = $entry;
	}

	public static function created( $user_id ): void {
		self::touch( (int) $user_id, 'create' );
	}

	public static function updated( $user_id ): void {
		self::touch( (int) $user_id, 'update' );
	}

	public static function password_changed( $unused_plaintext, $user_id ): void {
		// The plaintext is never kept: the hash is read from the database at flush.
		self::touch( (int) $user_id, 'password' );
	}

	public static function password_reset( $user ): void {
		self::touch( (int) $user->ID, 'password' );
	}

	public static function meta_changed( $meta_id, $user_id, $key ): void {
		self::meta_touched( (int) $user_id, (string) $key, 'meta_set', 'meta_deleted' );
	}

	public static function meta_deleted( $meta_ids, $user_id, $key ): void {
		self::meta_touched( (int) $user_id, (string) $key, 'meta_deleted', 'meta_set' );
	}

	/** A meta key set or deleted: noted under $as (and no longer under $not) as the library sorts it. */
	private static function meta_touched( int $user_id, string $key, string $as, string $not ): void {
		$kind = self::$applying ? 'protected' : self::meta_kind( $key );
		if ( 'protected' === $kind ) {
			return;
		}
		if ( 'meta' !== $kind ) {
			self::touch( $user_id, 'update' );
			if ( 'profile_field' === $kind ) {
				return;
			}
		}
		self::touch( $user_id, 'meta' );
		self::$users[ $user_id ][ $as ][ $key ] = true;
		unset( self::$users[ $user_id ][ $not ][ $key ] );
	}

	public static function deleted( $user_id, $reassign = null ): void {
		if ( self::$applying ) {
			return;
		}
		$user = get_userdata( (int) $user_id );
		$uid  = $user ? Usersync_Links::uid_of( $user->ID ) : null;
		if ( $user && null === $uid && '' !== Usersync_Settings::site_id() ) {
			// Not linked (yet?): a delivery run may be linking and routing its sign-up right now.
			// Routing waits until this request's events are written (flush), so the sign-up is
			// either routed before — and the delete goes after it — or never.
			Usersync_Outbox::hold_routing();
			$uid = Usersync_Links::uid_of( $user->ID );
		}
		if ( null !== $uid ) {
			$to                              = $reassign ? get_userdata( (int) $reassign ) : null;
			self::$deleted[ (int) $user_id ] = array(
				'uid'      => $uid,
				'login'    => $user->user_login,
				'reassign' => $to ? $to->user_login : null,
			);
		}
		unset( self::$users[ (int) $user_id ] );
	}

	/**
	 * Meta values as they travel: plain strings only. Values WordPress stores serialized (arrays,
	 * objects) are not synced, so a receiver never unserializes anything a peer sent.
	 *
	 * @param string[] $raw values as get_user_meta() returns them unserialized
	 * @return string[]|null
	 */
	private static function plain_values( array $raw ): ?array {
		foreach ( $raw as $value ) {
			if ( ! is_scalar( $value ) ) {
				return null;
			}
		}
		return array_map( 'strval', array_values( $raw ) );
	}

	/**
	 * An event queued while the library was not loaded, sorted now that it is (the outbox
	 * routes it): a create or update is rebuilt from the account as it is now, with the fields
	 * the library names; a meta event keeps the keys that travel as meta. Null: nothing to send.
	 */
	public static function sorted( array $event, int $user_id ): ?array {
		$event = self::sorted_now( $event, $user_id );
		if ( null === $event ) {
			return null;
		}
		/**
		 * An event about to be routed to the peers (before the library's send policy filters
		 * it per peer). Return false to send nothing; a changed event is checked by the
		 * library like any other.
		 *
		 * @param array $event   `['act' => …, 'data' => […]]` as in docs/protocol.md §9 (no uid yet)
		 * @param int   $user_id the account here (0 for a deleted one)
		 */
		$filtered = apply_filters( 'usersync_event', $event, $user_id );
		return is_array( $filtered ) ? $filtered : null;
	}

	private static function sorted_now( array $event, int $user_id ): ?array {
		if ( empty( $event['unsorted'] ) ) {
			return $event;
		}
		unset( $event['unsorted'] );
		if ( 'create' === $event['act'] || 'update' === $event['act'] ) {
			$user = self::fresh_user( $user_id );
			return $user ? array( 'act' => $event['act'], 'data' => self::user_data( $user ) ) : null;
		}
		if ( 'meta' === $event['act'] ) {
			$travels = static fn( $key ): bool => 'meta' === self::meta_kind( (string) $key );
			$data    = array( 'login' => $event['data']['login'] );
			$set     = array_filter( $event['data']['set'] ?? array(), $travels, ARRAY_FILTER_USE_KEY );
			$delete  = array_values( array_filter( $event['data']['delete'] ?? array(), $travels ) );
			if ( $set ) {
				$data['set'] = $set;
			}
			if ( $delete ) {
				$data['delete'] = $delete;
			}
			return ( $set || $delete ) ? array( 'act' => 'meta', 'data' => $data ) : null;
		}
		return $event;
	}

	/**
	 * The account as the database has it now (WordPress's cache may not know a change made in
	 * this request). clean_user_cache() would load the account to empty its cache, only to
	 * load it again: the entries the account is read by are dropped instead.
	 *
	 * @return WP_User|false
	 */
	private static function fresh_user( int $user_id ) {
		wp_cache_delete( $user_id, 'users' );
		wp_cache_delete( $user_id, 'user_meta' );
		return get_userdata( $user_id );
	}

	/** The user's current state as a create/update event's data (the outbox adds the uid). */
	public static function user_data( WP_User $user ): array {
		$fields = array();
		foreach ( Usersync\WordPressSite::profileFields() as $field => $property ) {
			$fields[ $field ] = $user->$property;
		}
		$meta = array();
		foreach ( get_user_meta( $user->ID ) as $key => $values ) {
			if ( 'meta' === self::meta_kind( (string) $key ) ) {
				$strings = self::plain_values( $values );
				if ( null !== $strings ) {
					$meta[ $key ] = $strings;
				}
			}
		}
		$data = array(
			'login'  => $user->user_login,
			'email'  => $user->user_email,
			'fields' => array_map( 'strval', $fields ),   // empty strings too: a cleared field is a change
			'roles'  => array_values( $user->roles ),
			'meta'   => (object) $meta,
		);
		if ( '' !== $user->user_pass ) {
			$data['pass_hash'] = $user->user_pass;
		}
		return $data;
	}

	/** @return array[] the coalesced events of this request */
	public static function take(): array {
		$events = array();
		// Without the library the fields and meta keys cannot be sorted yet: sorted() does it
		// when the event is routed.
		$unsorted = null === Usersync_Settings::context();
		foreach ( self::$users as $user_id => $entry ) {
			$user = self::fresh_user( $user_id );
			if ( ! $user ) {
				continue;
			}
			if ( $unsorted && ( 'create' === $entry['kind'] || 'update' === $entry['kind'] ) ) {
				$events[] = array( 'user_id' => $user_id, 'act' => $entry['kind'], 'data' => array( 'login' => $user->user_login ), 'unsorted' => true );
			} elseif ( 'create' === $entry['kind'] || 'update' === $entry['kind'] ) {
				$events[] = array( 'user_id' => $user_id, 'act' => $entry['kind'], 'data' => self::user_data( $user ) );
			} elseif ( 'password' === $entry['kind'] ) {
				$events[] = array( 'user_id' => $user_id, 'act' => 'password', 'data' => array( 'login' => $user->user_login, 'pass_hash' => $user->user_pass ) );
			}
			// A create or update carries the meta as it is now, but not the keys deleted in this
			// request: an update never removes a key on a peer, so those follow as a meta event.
			$full     = 'create' === $entry['kind'] || 'update' === $entry['kind'];
			$set_keys = $full ? array() : array_keys( $entry['meta_set'] );
			$deleted  = 'create' === $entry['kind'] ? array() : array_keys( $entry['meta_deleted'] );
			if ( $set_keys || $deleted ) {
				$set = array();
				foreach ( $set_keys as $key ) {
					$strings = self::plain_values( get_user_meta( $user_id, $key ) );
					if ( null !== $strings ) {
						$set[ $key ] = $strings;
					}
				}
				$data = array( 'login' => $user->user_login );
				if ( $set ) {
					$data['set'] = $set;
				}
				if ( $deleted ) {
					$data['delete'] = array_map( 'strval', $deleted );
				}
				$events[] = array( 'user_id' => $user_id, 'act' => 'meta', 'data' => $data, 'unsorted' => $unsorted );
			}
		}
		foreach ( self::$deleted as $deleted ) {
			$data = array( 'uid' => $deleted['uid'], 'login' => $deleted['login'] );
			if ( null !== $deleted['reassign'] ) {
				$data['reassign'] = $deleted['reassign'];
			}
			$events[] = array( 'act' => 'delete', 'data' => $data );
		}
		$events        = array_merge( $events, self::$extra );
		self::$users   = array();
		self::$deleted = array();
		self::$extra   = array();
		return $events;
	}

	/**
	 * At shutdown: the request's events go into the outbox, library or not (it routes and
	 * seals them when it can).
	 */
	public static function flush(): void {
		if ( '' !== Usersync_Settings::site_id() ) {
			Usersync_Outbox::enqueue( self::take() );
		}
		Usersync_Outbox::release_routing();
	}
}
