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

	const FIELDS = array(
		'display_name' => 'display_name',
		'first_name'   => 'first_name',
		'last_name'    => 'last_name',
		'nickname'     => 'nickname',
		'nicename'     => 'user_nicename',
		'url'          => 'user_url',
		'description'  => 'description',
		'locale'       => 'locale',
	);

	public static function apply( string $act, array $data ): void {
		// A synced change is not the user's own action on this site: no notification mails.
		add_filter( 'send_email_change_email', '__return_false' );
		add_filter( 'send_password_change_email', '__return_false' );
		switch ( $act ) {
			case 'create':
			case 'update':
				self::upsert( $data );
				break;
			case 'delete':
				self::delete( $data );
				break;
			case 'password':
				self::password( self::user( $data['login'] ), $data['pass_hash'] );
				break;
			case 'meta':
				$user = self::user( $data['login'] );
				foreach ( $data['delete'] ?? array() as $key ) {
					delete_user_meta( $user->ID, $key );
				}
				self::set_meta( $user->ID, $data['set'] ?? array() );
				break;
			case 'logout':
				$user = get_user_by( 'login', $data['login'] );
				if ( $user ) {
					self::logout( $user, $data['sid'] ?? null );
				}
				break;
			default:
				throw new Usersync_Apply_Failed( "unsupported action $act" );
		}
	}

	private static function user( string $login ): WP_User {
		$user = get_user_by( 'login', $login );
		if ( ! $user ) {
			throw new Usersync_Apply_Failed( 'no such user' );
		}
		return $user;
	}

	private static function upsert( array $data ): void {
		$user     = get_user_by( 'login', $data['login'] );
		$userdata = array( 'user_email' => $data['email'] );
		foreach ( $data['fields'] ?? array() as $field => $value ) {
			$userdata[ self::FIELDS[ $field ] ] = $value;
		}
		if ( $user ) {
			$userdata['ID'] = $user->ID;
			$id             = wp_update_user( $userdata );
		} else {
			$userdata['user_login'] = $data['login'];
			// A random password until the peer's hash (if any) is written below: no one can log in with it.
			$userdata['user_pass'] = wp_generate_password( 40, true, true );
			if ( isset( $data['roles'] ) ) {
				$userdata['role'] = '';
			}
			$id = wp_insert_user( $userdata );
		}
		if ( is_wp_error( $id ) ) {
			throw new Usersync_Apply_Failed( $id->get_error_code() );
		}
		$user = get_user_by( 'id', $id );
		if ( isset( $data['roles'] ) ) {
			$user->set_role( '' );
			foreach ( $data['roles'] as $role ) {
				if ( get_role( $role ) ) {
					$user->add_role( $role );
				}
			}
		}
		self::set_meta( $id, (array) ( $data['meta'] ?? array() ) );
		if ( isset( $data['pass_hash'] ) ) {
			self::password( $user, $data['pass_hash'] );
		}
	}

	/** Replaces each key's values with the given strings. */
	private static function set_meta( int $user_id, array $meta ): void {
		foreach ( $meta as $key => $values ) {
			delete_user_meta( $user_id, $key );
			foreach ( $values as $value ) {
				add_user_meta( $user_id, $key, $value );
			}
		}
	}

	/** Stores a password hash as it came (it is never re-hashed) and ends the user's sessions. */
	private static function password( WP_User $user, string $hash ): void {
		global $wpdb;
		if ( $user->user_pass === $hash ) {
			return;
		}
		$wpdb->update( $wpdb->users, array( 'user_pass' => $hash, 'user_activation_key' => '' ), array( 'ID' => $user->ID ) );
		clean_user_cache( $user->ID );
		WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
	}

	/**
	 * Ends the sessions linked to the sender's session $sid — the one it names itself (a session
	 * that started here) and those started from it by single sign-on — or all of them.
	 */
	private static function logout( WP_User $user, ?string $sid ): void {
		if ( null === $sid ) {
			WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
			return;
		}
		$sessions = get_user_meta( $user->ID, 'session_tokens', true );
		if ( ! is_array( $sessions ) ) {
			return;
		}
		foreach ( $sessions as $verifier => $session ) {
			if ( hash_equals( (string) $verifier, $sid ) || hash_equals( (string) ( $session['usersync_sid'] ?? '' ), $sid ) ) {
				unset( $sessions[ $verifier ] );
			}
		}
		update_user_meta( $user->ID, 'session_tokens', $sessions );
	}

	private static function delete( array $data ): void {
		$user = get_user_by( 'login', $data['login'] );
		if ( ! $user ) {
			return; // already gone: deleting is idempotent
		}
		$reassign = isset( $data['reassign'] ) ? get_user_by( 'login', $data['reassign'] ) : false;
		require_once ABSPATH . 'wp-admin/includes/user.php';
		wp_delete_user( $user->ID, $reassign ? $reassign->ID : null );
	}
}
