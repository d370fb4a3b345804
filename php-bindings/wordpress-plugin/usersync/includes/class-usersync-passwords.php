<?php
/**
 * Passwords across frameworks (docs/protocol.md §17): a peer that is not WordPress (a Django
 * site) sends its own hashes (`pbkdf2_sha256$…`), stored as they came. WordPress cannot read
 * them, so at the user's next login the library checks the password against that hash and, on
 * a match, the password is re-hashed here in WordPress's own format. The password never
 * travels; the re-hash is this site's alone (the peers keep the hash they can read), so it is
 * written without the wp_set_password action and no password event leaves.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Passwords {

	/** The formats of other hosts that only the library reads here. */
	const FOREIGN_PREFIXES = array( 'pbkdf2_sha256$' );

	/** @var array<int, true> users whose foreign hash this request replaced */
	private static $rehashed = array();

	private static function is_foreign( string $hash ): bool {
		foreach ( self::FOREIGN_PREFIXES as $prefix ) {
			if ( str_starts_with( $hash, $prefix ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * check_password: core could not read a peer's hash of a user's own password; the library
	 * answers as the host that made it would. Only for the stored password of the user named
	 * (never a post password or an application password).
	 *
	 * @param bool       $check    core's answer
	 * @param string     $password the plaintext, never kept
	 * @param string     $hash     the hash checked
	 * @param string|int $user_id  the user, when there is one
	 */
	public static function check( $check, $password, $hash, $user_id = '' ): bool {
		if ( $check || ! $user_id || ! is_string( $hash ) || ! self::is_foreign( $hash ) || ! class_exists( 'Usersync\\Secret' ) ) {
			return (bool) $check;
		}
		$user = get_userdata( (int) $user_id );
		if ( ! $user || ! hash_equals( $user->user_pass, $hash ) ) {
			return false;
		}
		try {
			$ok = Usersync\Secret::verifyPassword( (string) $password, $hash );
		} catch ( Usersync\Exception | Usersync\LibraryUnavailable $e ) {
			return false; // a hash the library cannot check (a work factor over its caps), or no library
		}
		if ( $ok ) {
			self::rehash( (int) $user_id, (string) $password );
		}
		return $ok;
	}

	/** Stores WordPress's own hash of the password the library just matched. */
	private static function rehash( int $user_id, string $password ): void {
		global $wpdb;
		$wpdb->update( $wpdb->users, array( 'user_pass' => wp_hash_password( $password ) ), array( 'ID' => $user_id ) );
		clean_user_cache( $user_id );
		self::$rehashed[ $user_id ] = true;
	}

	/**
	 * password_needs_rehash: core asks about the hash it read before ours replaced it; it must
	 * not re-hash (and announce) the password a second time.
	 */
	public static function needs_rehash( $needs, $hash, $user_id = '' ): bool {
		return isset( self::$rehashed[ (int) $user_id ] ) ? false : (bool) $needs;
	}
}
