<?php
/**
 * Applies an action the library has opened, checked and filtered, with WordPress's own
 * functions. Everything here runs inside the inbox's transaction.
 */

defined( 'ABSPATH' ) || exit;

/** An action that cannot be applied here (e.g. the email belongs to another user). */
final class Usersync_Apply_Failed extends RuntimeException {
}

final class Usersync_Apply {

	/**
	 * Applies the library's verdict for an opened action: 'create' makes the account and links
	 * it to the message's uid; 'apply' changes the linked account $user (never another: the
	 * target was resolved by uid and checked by the library); 'skip' changes nothing.
	 */
	public static function apply( array $opened, array $verdict, ?WP_User $user ): void {
		$act  = $opened['act'];
		$data = $opened['data'];
		if ( 'skip' === $verdict['do'] ) {
			return;
		}
		/**
		 * A peer's change is about to be applied here, inside the inbox's transaction. Throw
		 * Usersync_Apply_Failed to refuse it for good (nothing is kept; the sender is answered
		 * apply_failed with the exception's message and does not retry).
		 *
		 * @param array    $opened  the opened action (act, iss, eid, data) as the library gave it
		 * @param array    $verdict the library's target check ('do' => 'create'|'apply')
		 * @param ?WP_User $user    the linked account ('apply'), null for a create
		 */
		do_action( 'usersync_before_apply', $opened, $verdict, $user );
		if ( 'create' === $verdict['do'] ) {
			self::create( $opened );
			return;
		}
		if ( ! $user ) {
			throw new Usersync_Apply_Failed( 'no linked account to apply to' );
		}
		// A synced change is not the user's own action on this site: no notification mails.
		$quiet = array( 'send_email_change_email', 'send_password_change_email' );
		foreach ( $quiet as $filter ) {
			add_filter( $filter, '__return_false' );
		}
		try {
			switch ( $act ) {
				case 'create':
				case 'update':
					self::update( $user, $data );
					break;
				case 'delete':
					self::delete( $user, $data );
					break;
				case 'password':
					self::password( $user, $data['pass_hash'] );
					break;
				case 'meta':
					foreach ( $data['delete'] ?? array() as $key ) {
						delete_user_meta( $user->ID, $key );
					}
					self::set_meta( $user->ID, $data['set'] ?? array() );
					break;
				case 'logout':
					self::end_sessions( $user, $verdict['end_sessions'] ?? array() );
					break;
				default:
					throw new Usersync_Apply_Failed( "unsupported action $act" );
			}
		} finally {
			foreach ( $quiet as $filter ) {
				remove_filter( $filter, '__return_false' );
			}
		}
	}

	/**
	 * The profile of a create/update as wp_insert_user()/wp_update_user() take it: slashed, as
	 * they unslash it (a backslash sent would otherwise be lost). Their input filters still run:
	 * a peer's markup is this site's to clean.
	 */
	private static function userdata( array $data ): array {
		$userdata = array( 'user_email' => $data['email'] );
		foreach ( $data['fields'] ?? array() as $field => $value ) {
			$userdata[ Usersync\WordPressSite::profileFields()[ $field ] ] = $value;
		}
		return wp_slash( $userdata );
	}

	/** A new account for a peer's create, linked to its uid; its roles, meta and hash. */
	private static function create( array $opened ): void {
		$data                   = $opened['data'];
		$userdata               = self::userdata( $data );
		$userdata['user_login'] = wp_slash( $data['login'] );
		// No password until the peer's hash, if sent, replaces it: WordPress stores "*" for one
		// longer than 4,096 characters without hashing it (wp_hash_password(), phpass alike),
		// and no password matches "*".
		$userdata['user_pass'] = str_repeat( '*', 4097 );
		// The account is made with its first role (the others are added below), so its roles are
		// written once. Without roles (none sent, or all dropped by the policy) WordPress would
		// give the site's default role: only when this peer may grant it.
		$userdata['role'] = isset( $data['roles'] ) ? ( self::roles( $data )[0] ?? '' ) : self::default_role( $opened );
		// The peer's hash, when sent, is in the row from the start (user_register sees it).
		$hash = static fn( $row, $update ) => ! $update && isset( $data['pass_hash'] ) ? array( 'user_pass' => $data['pass_hash'] ) + $row : $row;
		add_filter( 'wp_pre_insert_user_data', $hash, PHP_INT_MAX, 2 );
		try {
			$id = Usersync_Users_Columns::around( static fn() => Usersync_New_Account::insert( $userdata ) );
		} finally {
			remove_filter( 'wp_pre_insert_user_data', $hash, PHP_INT_MAX );
		}
		if ( is_wp_error( $id ) ) {
			throw new Usersync_Apply_Failed( $id->get_error_code() );
		}
		Usersync_Links::link( $id, $data['uid'] );
		// The hash is in the row and one role was given: the account is read again only for more.
		if ( count( self::roles( $data ) ) > 1 || ! empty( (array) ( $data['meta'] ?? array() ) ) ) {
			self::profile( get_user_by( 'id', $id ), $data );
		}
	}

	/**
	 * The role a peer's create without roles gets: this site's default role for new users when
	 * the peer's accept policy may grant it, else none. The library's target check decides, as
	 * for any account (a default role of "administrator", or any role the policy does not name,
	 * is never granted by a peer that may not grant it). An account with no role is not
	 * protected: the peer may still give it a role it may grant.
	 */
	private static function default_role( array $opened ): string {
		$role    = (string) get_option( 'default_role' );
		$context = Usersync_Settings::context();
		if ( '' === $role || ! get_role( $role ) || ! $context ) {
			return '';
		}
		$facts = array( 'account' => array( 'uid' => (string) $opened['data']['uid'], 'roles' => array( $role ) ) );
		try {
			$verdict = $context->checkTarget( $opened, $facts );
		} catch ( Usersync\Exception $e ) {
			return '';
		}
		return 'apply' === ( $verdict['do'] ?? '' ) ? $role : '';
	}

	private static function update( WP_User $user, array $data ): void {
		$userdata       = self::userdata( $data );
		$userdata['ID'] = $user->ID;
		$id             = Usersync_Users_Columns::around( static fn() => wp_update_user( $userdata ) );
		if ( is_wp_error( $id ) ) {
			throw new Usersync_Apply_Failed( $id->get_error_code() );
		}
		self::profile( get_user_by( 'id', $id ), $data );
	}

	/** @return string[] the roles a create/update names that exist here, in its order */
	private static function roles( array $data ): array {
		return array_values( array_filter( (array) ( $data['roles'] ?? array() ), 'get_role' ) );
	}

	/** Roles, meta and password hash of a create/update. */
	private static function profile( WP_User $user, array $data ): void {
		$roles = self::roles( $data );
		$held  = array_values( (array) $user->roles );
		sort( $roles );
		sort( $held );
		if ( isset( $data['roles'] ) && $roles !== $held ) { // unchanged roles are not rewritten (nor their hooks fired)
			$user->set_role( '' );
			foreach ( $data['roles'] as $role ) {
				if ( get_role( $role ) ) {
					$user->add_role( $role );
				}
			}
		}
		self::set_meta( $user->ID, (array) ( $data['meta'] ?? array() ) );
		if ( isset( $data['pass_hash'] ) ) {
			self::password( $user, $data['pass_hash'] );
		}
	}

	/** Replaces each key's values with the given strings (slashed: add_user_meta() unslashes). */
	private static function set_meta( int $user_id, array $meta ): void {
		foreach ( $meta as $key => $values ) {
			if ( get_user_meta( $user_id, $key ) === array_values( $values ) ) {
				continue; // unchanged: not rewritten
			}
			delete_user_meta( $user_id, $key );
			foreach ( $values as $value ) {
				add_user_meta( $user_id, $key, wp_slash( $value ) );
			}
		}
	}

	/** Stores a password hash as it came (it is never re-hashed) and ends the user's sessions. */
	private static function password( WP_User $user, string $hash ): void {
		global $wpdb;
		if ( $user->user_pass === $hash ) {
			return;
		}
		$wpdb->query( $wpdb->prepare( "UPDATE $wpdb->users SET user_pass = %s, user_activation_key = '' WHERE ID = %d", $hash, $user->ID ) );
		clean_user_cache( $user->ID );
		WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
	}

	/** Ends the sessions the library chose (those that came from the sender's session, or all). */
	private static function end_sessions( WP_User $user, array $ids ): void {
		// Sessions are stored by their verifier, the id the library was given.
		$stored = get_user_meta( $user->ID, 'session_tokens', true );
		$stored = is_array( $stored ) ? $stored : array();
		$kept   = array_diff_key( $stored, array_flip( array_map( 'strval', $ids ) ) );
		if ( count( $kept ) !== count( $stored ) ) {
			update_user_meta( $user->ID, 'session_tokens', $kept );
		}
	}

	/** Deletes the account; its content goes to the heir only when the heir is a linked account here. */
	private static function delete( WP_User $user, array $data ): void {
		$heir = isset( $data['reassign'] ) ? get_user_by( 'login', $data['reassign'] ) : false;
		if ( $heir && null === Usersync_Links::uid_of( $heir->ID ) ) {
			$heir = false;
		}
		require_once ABSPATH . 'wp-admin/includes/user.php';
		wp_delete_user( $user->ID, $heir ? $heir->ID : null );
	}
}
