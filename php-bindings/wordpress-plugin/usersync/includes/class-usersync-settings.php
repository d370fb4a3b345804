<?php
/**
 * The configuration from wp-config.php constants, turned into a usersync context. Secrets stay
 * in constants: never stored in the database, shown, or logged.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Settings {

	/** @var Usersync\Context|null */
	private static $context = null;
	/** @var string|null why the context could not be made */
	private static $problem = null;

	/** The site's id (USERSYNC_SITE_ID), or '' when not configured. */
	public static function site_id(): string {
		return defined( 'USERSYNC_SITE_ID' ) ? (string) USERSYNC_SITE_ID : '';
	}

	/** @return array[] the peers from USERSYNC_PEERS */
	public static function peers(): array {
		return defined( 'USERSYNC_PEERS' ) && is_array( USERSYNC_PEERS ) ? USERSYNC_PEERS : array();
	}

	/** Peer settings the plugin uses itself; they are not part of the library's configuration. */
	const PLUGIN_KEYS = array( 'deliver_to', 'inbox' );

	/** The library's configuration document. */
	public static function config(): array {
		$peers = array();
		foreach ( self::peers() as $peer ) {
			$peers[] = array_diff_key( $peer, array_flip( self::PLUGIN_KEYS ) );
		}
		$config = array(
			'site_id' => self::site_id(),
			'url'     => untrailingslashit( home_url() ),
			'peers'   => $peers,
		);
		if ( defined( 'USERSYNC_CLOCK_SKEW' ) ) {
			$config['clock_skew'] = (int) USERSYNC_CLOCK_SKEW;
		}
		if ( defined( 'USERSYNC_TRUSTED_PROXIES' ) ) {
			$config['trusted_proxies'] = (array) USERSYNC_TRUSTED_PROXIES;
		}
		if ( defined( 'USERSYNC_PRIVILEGED_ROLES' ) ) {
			$config['privileged_roles'] = (array) USERSYNC_PRIVILEGED_ROLES;
		}
		return $config;
	}

	/** The context, made once per request; null (with problem()) when it cannot be. */
	public static function context(): ?Usersync\Context {
		if ( null === self::$context && null === self::$problem ) {
			if ( '' === self::site_id() ) {
				self::$problem = __( 'USERSYNC_SITE_ID is not defined in wp-config.php.', 'usersync' );
			} elseif ( ! class_exists( 'Usersync\\Context' ) ) {
				self::$problem = __( 'The usersync PHP binding is missing from the plugin.', 'usersync' );
			} else {
				try {
					self::$context = new Usersync\Context( self::config() );
				} catch ( Usersync\LibraryUnavailable $e ) {
					self::$problem = $e->getMessage();
				} catch ( Usersync\Exception $e ) {
					// The library's message names the field and never contains a secret.
					self::$problem = $e->getMessage();
				}
			}
		}
		return self::$context;
	}

	/** Why usersync is not working, or null. */
	public static function problem(): ?string {
		self::context();
		return self::$problem;
	}

	/** A peer's entry by id. */
	public static function peer( string $id ): ?array {
		foreach ( self::peers() as $peer ) {
			if ( isset( $peer['id'] ) && $peer['id'] === $id ) {
				return $peer;
			}
		}
		return null;
	}

	/**
	 * Where a peer's inbox is (works with and without pretty permalinks): under the peer's URL,
	 * or under its 'deliver_to' URL when server-to-server traffic takes another route (e.g. a
	 * private address) than browsers; at the peer's 'inbox' path when it is not WordPress (a
	 * Django peer's is '/usersync/inbox').
	 */
	public static function inbox_url( array $peer ): string {
		return untrailingslashit( $peer['deliver_to'] ?? $peer['url'] ) . ( $peer['inbox'] ?? '/?rest_route=/usersync/v1/inbox' );
	}

	/** The origin (scheme://host[:port]) of a URL, as browsers compare them; '' for a bad URL. */
	public static function origin( string $url ): string {
		$p = wp_parse_url( $url );
		if ( empty( $p['scheme'] ) || empty( $p['host'] ) ) {
			return '';
		}
		return strtolower( $p['scheme'] ) . '://' . strtolower( $p['host'] ) . ( isset( $p['port'] ) ? ':' . $p['port'] : '' );
	}

	/** @var Usersync\WordPressSite|null|false */
	private static $wordpress = null;

	/** This site's cookies and session tokens through the library (from wp-config's salts). */
	public static function wordpress(): ?Usersync\WordPressSite {
		global $wp_version;
		if ( null === self::$wordpress ) {
			$salts = array();
			foreach ( array( 'AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT' ) as $name ) {
				$salts[ $name ] = defined( $name ) ? (string) constant( $name ) : '';
			}
			try {
				self::$wordpress = new Usersync\WordPressSite( array( 'salts' => $salts, 'siteurl' => get_option( 'siteurl' ), 'wp_version' => $wp_version ) );
			} catch ( Usersync\Exception | Usersync\LibraryUnavailable $e ) {
				self::$problem   = self::$problem ?? $e->getMessage();
				self::$wordpress = false;
			}
		}
		return self::$wordpress ?: null;
	}

	/** 'auto' (parallel frames, falling back to a redirect chain), 'parallel' or 'redirect'. */
	public static function sso_mode(): string {
		$mode = defined( 'USERSYNC_SSO_MODE' ) ? (string) USERSYNC_SSO_MODE : 'auto';
		return in_array( $mode, array( 'auto', 'parallel', 'redirect' ), true ) ? $mode : 'auto';
	}
}
