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
	 * Meta keys never worth an event: privileges and sessions (the library never sends them
	 * anyway), usersync's own, and WordPress's per-screen bookkeeping.
	 */
	private static function ignored_meta( string $key ): bool {
		return (bool) preg_match( '/(capabilities|user_level)$|^session_tokens$|^_?usersync|^wp_user-settings|^(dismissed_wp_pointers|last_update|community-events-location)$/', $key );
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

	/**
	 * Profile fields WordPress keeps in usermeta. They travel in an update's 'fields', never as
	 * meta (a peer's meta policy would drop them): a plugin that writes one with
	 * update_user_meta() — WooCommerce does, for first_name and last_name — makes an update.
	 */
	const FIELD_META = array( 'first_name', 'last_name', 'nickname', 'description', 'locale' );

	public static function meta_changed( $meta_id, $user_id, $key ): void {
		if ( self::$applying || self::ignored_meta( (string) $key ) ) {
			return;
		}
		if ( in_array( (string) $key, self::FIELD_META, true ) ) {
			self::touch( (int) $user_id, 'update' );
			return;
		}
		self::touch( (int) $user_id, 'meta' );
		self::$users[ (int) $user_id ]['meta_set'][ (string) $key ] = true;
		unset( self::$users[ (int) $user_id ]['meta_deleted'][ (string) $key ] );
	}

	public static function meta_deleted( $meta_ids, $user_id, $key ): void {
		if ( self::$applying || self::ignored_meta( (string) $key ) ) {
			return;
		}
		if ( in_array( (string) $key, self::FIELD_META, true ) ) {
			self::touch( (int) $user_id, 'update' );
			return;
		}
		self::touch( (int) $user_id, 'meta' );
		self::$users[ (int) $user_id ]['meta_deleted'][ (string) $key ] = true;
		unset( self::$users[ (int) $user_id ]['meta_set'][ (string) $key ] );
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

	/** The user's current state as a create/update event's data (the outbox adds the uid). */
	public static function user_data( WP_User $user ): array {
		$fields = array(
			'display_name' => $user->display_name,
			'first_name'   => $user->first_name,
			'last_name'    => $user->last_name,
			'nickname'     => $user->nickname,
			'nicename'     => $user->user_nicename,
			'url'          => $user->user_url,
			'description'  => $user->description,
			'locale'       => $user->locale,
		);
		$meta = array();
		foreach ( get_user_meta( $user->ID ) as $key => $values ) {
			if ( ! self::ignored_meta( (string) $key ) && ! isset( $fields[ $key ] ) ) {
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
		foreach ( self::$users as $user_id => $entry ) {
			clean_user_cache( $user_id );
			$user = get_userdata( $user_id );
			if ( ! $user ) {
				continue;
			}
			if ( 'create' === $entry['kind'] || 'update' === $entry['kind'] ) {
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
				$events[] = array( 'user_id' => $user_id, 'act' => 'meta', 'data' => $data );
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
