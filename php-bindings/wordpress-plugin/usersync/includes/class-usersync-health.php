<?php
/**
 * The link health check and the status of each link, as plain functions: the settings page and
 * the WP-CLI commands (class-usersync-cli.php) call these and nothing else.
 *
 * test() sends the library's policy-free ping through the peer's real inbox (same URL, route,
 * envelope, checks and replay record as every delivery) and turns what came back into plain
 * words: no answer (curl's error), no usersync there (WordPress's REST error), the peer's
 * reason code, or the pong, which the library opens and reports on (clocks, one-way policies).
 * Nothing is decided here that the library or the peer's answer did not say.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Health {

	/** The last check of each peer and its last success (autoload off: read on the settings page). */
	const OPTION = 'usersync_health';

	/** @return array<string, array> the stored result of the last check, by peer id */
	public static function results(): array {
		$stored = get_option( self::OPTION, array() );
		return is_array( $stored ) ? $stored : array();
	}

	/**
	 * Checks the link to one peer now, stores the result (and the time, when healthy) and logs it.
	 *
	 * @return array{peer: string, ok: bool, code: string, message: string, notes: string[],
	 *               local_time: int, peer_time: ?int, version: ?string, ms: int, time: int, last_success: int}
	 */
	public static function test( string $peer_id ): array {
		$start  = microtime( true );
		$result = self::diagnose( $peer_id );
		$result = $result + array(
			'peer'       => $peer_id,
			'notes'      => array(),
			'local_time' => time(),
			'peer_time'  => null,
			'version'    => null,
		);
		$result['ms']   = (int) round( ( microtime( true ) - $start ) * 1000 );
		$result['time'] = time();
		if ( null === Usersync_Settings::peer( $peer_id ) ) {
			return $result + array( 'last_success' => 0 ); // nothing to remember for a peer that is not configured
		}
		$all                    = self::results();
		$result['last_success'] = $result['ok'] ? $result['time'] : (int) ( $all[ $peer_id ]['last_success'] ?? 0 );
		$all[ $peer_id ]        = $result;
		update_option( self::OPTION, $all, false );
		Usersync_Log::add( 'out', $peer_id, 'ping', '', $result['ok'] ? 'healthy' : 'unhealthy', $result['code'] );
		return $result;
	}

	/** @return array{ok: bool, code: string, message: string} and, after a pong, what it told */
	private static function diagnose( string $peer_id ): array {
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			/* translators: %s: why usersync cannot work here */
			return self::fail( 'local', sprintf( __( 'usersync cannot work on this site: %s', 'usersync' ), (string) Usersync_Settings::problem() ) );
		}
		$peer = Usersync_Settings::peer( $peer_id );
		if ( null === $peer ) {
			/* translators: %s: peer id */
			return self::fail( 'unknown_peer', sprintf( __( 'No peer "%s" is configured in USERSYNC_PEERS on this site.', 'usersync' ), $peer_id ) );
		}
		$url  = Usersync_Settings::inbox_url( $peer );
		$ping = $context->ping( $peer_id );
		$http = Usersync_Outbox::post_now( $url, $ping['message'] );
		if ( '' !== $http['error'] ) {
			/* translators: 1: peer id, 2: URL, 3: the network error in plain words */
			return self::fail( 'unreachable', sprintf( __( '%1$s is unreachable at %2$s: %3$s.', 'usersync' ), $peer_id, $url, $http['error'] ) );
		}
		$body = json_decode( $http['body'], true );
		$body = is_array( $body ) ? $body : array();
		if ( $http['status'] >= 300 && $http['status'] < 400 ) {
			/* translators: 1: URL, 2: where it redirects to */
			return self::fail( 'wrong_url', sprintf( __( '%1$s redirects to %2$s: put the final address (scheme, host and port) in the peer\'s url (or deliver_to) on this site.', 'usersync' ), $url, '' !== $http['location'] ? $http['location'] : '?' ) );
		}
		if ( ! isset( $body['result'] ) ) {
			return self::not_usersync( $http, $body, $url );
		}
		switch ( $body['result'] ) {
			case 'pong':
				return self::pong( $context, $ping, $peer_id, (string) ( $body['message'] ?? '' ), $http['ip'] );
			case 'unavailable':
				return self::unavailable( $peer_id, (string) ( $body['reason'] ?? '' ) );
			case 'refused':
				return self::refused( $peer_id, $body );
		}
		/* translators: 1: peer id, 2: HTTP status, 3: what it answered */
		return self::fail( 'peer_error', sprintf( __( '%1$s answered HTTP %2$d "%3$s" instead of a pong: see its activity log and PHP error log.', 'usersync' ), $peer_id, $http['status'], (string) $body['result'] ) );
	}

	private static function fail( string $code, string $message ): array {
		return array( 'ok' => false, 'code' => $code, 'message' => $message );
	}

	/** An answer that is not the usersync inbox's: WordPress without the plugin, or no WordPress. */
	private static function not_usersync( array $http, array $body, string $url ): array {
		$code = (string) ( $body['code'] ?? '' );
		if ( 'rest_no_route' === $code ) {
			/* translators: %s: URL */
			return self::fail( 'plugin_missing', sprintf( __( 'WordPress answers at %s but has no usersync inbox: the usersync plugin is not installed or not active there.', 'usersync' ), $url ) );
		}
		if ( '' !== $code ) {
			/* translators: 1: URL, 2: WordPress's error code, 3: HTTP status */
			return self::fail( 'rest_blocked', sprintf( __( 'WordPress at %1$s refused the REST request (%2$s, HTTP %3$d): a security plugin or a server rule blocks the REST API (?rest_route=, /wp-json/) there.', 'usersync' ), $url, $code, $http['status'] ) );
		}
		/* translators: 1: URL, 2: HTTP status */
		return self::fail( 'wrong_url', sprintf( __( 'No WordPress REST API answered at %1$s (HTTP %2$d): check the peer\'s url (or deliver_to) on this site.', 'usersync' ), $url, $http['status'] ) );
	}

	/** The peer's inbox answered 503 unavailable with its reason code. */
	private static function unavailable( string $peer_id, string $reason ): array {
		switch ( $reason ) {
			case 'library_unavailable':
				/* translators: %s: peer id */
				return self::fail( 'library_missing', sprintf( __( 'usersync is active on %s but cannot load its library there (PHP FFI is off, not preloaded, or libusersync.so is missing): its admin screens say what to change.', 'usersync' ), $peer_id ) );
			case 'not_configured':
				/* translators: %s: peer id */
				return self::fail( 'not_configured', sprintf( __( 'usersync is active on %s but not configured there: USERSYNC_SITE_ID is not defined in its wp-config.php.', 'usersync' ), $peer_id ) );
			default:
				/* translators: %s: peer id */
				return self::fail( 'config_invalid', sprintf( __( 'usersync on %s cannot use its configuration: its admin screens name the field to fix.', 'usersync' ), $peer_id ) );
		}
	}

	/** The peer refused the ping: its reason code, in words. */
	private static function refused( string $peer_id, array $body ): array {
		$reason = (string) ( $body['reason'] ?? '' );
		$site   = (string) ( $body['site'] ?? '' );
		$ours   = Usersync_Settings::site_id();
		switch ( $reason ) {
			case 'authentication_failed':
			case 'wrong_site':
				if ( '' !== $site && $site !== $peer_id ) {
					/* translators: 1: the id the peer gives itself, 2: the id this site gives it */
					return self::fail( 'peer_id_mismatch', sprintf( __( 'The peer calls itself "%1$s" (its USERSYNC_SITE_ID) but this site names it "%2$s": use one id on both sites.', 'usersync' ), $site, $peer_id ) );
				}
				/* translators: 1: peer id, 2: this site's id */
				return self::fail( 'secret_mismatch', sprintf( __( '%1$s could not authenticate the ping: it does not know this link\'s secret (the secrets differ), or its entry for this site is not named "%2$s". Put the same secret in both entries, with the ids swapped (see "Configuration for the other site").', 'usersync' ), $peer_id, $ours ) );
			case 'expired':
			case 'not_yet_valid':
				return self::clock_skew( $peer_id, isset( $body['time'] ) ? (int) $body['time'] : null );
			case 'ip_not_allowed':
				/* translators: 1: peer id, 2: the address it saw */
				return self::fail( 'ip_not_allowed', sprintf( __( '%1$s sees this site\'s requests coming from %2$s, which is not in its ip_allow for this site. Add that address there; or, if it is a reverse proxy in front of %1$s, list the proxy in USERSYNC_TRUSTED_PROXIES there.', 'usersync' ), $peer_id, (string) ( $body['seen_from'] ?? '?' ) ) );
			default:
				/* translators: 1: peer id, 2: reason code */
				return self::fail( 'refused', sprintf( __( '%1$s refused the ping: %2$s.', 'usersync' ), $peer_id, '' !== $reason ? $reason : '?' ) );
		}
	}

	private static function clock_skew( string $peer_id, ?int $peer_time ): array {
		$local = time();
		$skew  = defined( 'USERSYNC_CLOCK_SKEW' ) ? (int) USERSYNC_CLOCK_SKEW : 60;
		$text  = null === $peer_time
			/* translators: 1: peer id, 2: allowed seconds, 3: this site's clock */
			? sprintf( __( 'The clocks of this site and %1$s differ by more than the allowed %2$d s (this site: %3$s UTC). Set both servers\' clocks by NTP.', 'usersync' ), $peer_id, $skew, gmdate( 'Y-m-d H:i:s', $local ) )
			/* translators: 1: peer id, 2: allowed seconds, 3: this site's clock, 4: the peer's clock, 5: the difference in seconds */
			: sprintf( __( 'The clocks of this site and %1$s differ by more than the allowed %2$d s: this site %3$s UTC, %1$s %4$s UTC (%5$+d s). Set both servers\' clocks by NTP.', 'usersync' ), $peer_id, $skew, gmdate( 'Y-m-d H:i:s', $local ), gmdate( 'Y-m-d H:i:s', $peer_time ), $peer_time - $local );
		return array( 'ok' => false, 'code' => 'clock_skew', 'message' => $text, 'peer_time' => $peer_time );
	}

	/** The peer answered with a pong: the library opens it and reports the link. */
	private static function pong( Usersync\Context $context, array $ping, string $peer_id, string $message, string $ip ): array {
		try {
			$report = $context->checkPong( $ping, $message, '' !== $ip ? $ip : null );
		} catch ( Usersync\Exception $e ) {
			if ( in_array( $e->reason, array( 'expired', 'not_yet_valid' ), true ) ) {
				return self::clock_skew( $peer_id, null );
			}
			if ( 'ip_not_allowed' === $e->reason ) {
				/* translators: 1: peer id, 2: address */
				return self::fail( 'ip_not_allowed', sprintf( __( '%1$s answered from %2$s, which is not in this site\'s ip_allow for it.', 'usersync' ), $peer_id, $ip ) );
			}
			/* translators: 1: peer id, 2: reason code */
			return self::fail( 'bad_pong', sprintf( __( 'The answer of %1$s did not open here: %2$s.', 'usersync' ), $peer_id, $e->reason ) );
		}
		$notes = array();
		if ( $report['not_accepted'] ) {
			/* translators: 1: peer id, 2: actions */
			$notes[] = sprintf( __( 'One-way: %1$s does not accept %2$s from this site (its accept actions): those changes are refused there.', 'usersync' ), $peer_id, implode( ', ', $report['not_accepted'] ) );
		}
		if ( $report['not_sent'] ) {
			/* translators: 1: actions, 2: peer id */
			$notes[] = sprintf( __( 'One-way: this site accepts %1$s from %2$s, which it does not send (its send actions).', 'usersync' ), implode( ', ', $report['not_sent'] ), $peer_id );
		}
		$offset = (int) $report['time'] - (int) $report['local_time'];
		return array(
			'ok'         => true,
			'code'       => $notes ? 'one_way' : 'healthy',
			/* translators: 1: peer id, 2: usersync version there, 3: clock difference in seconds */
			'message'    => sprintf( __( 'The link to %1$s works both ways (usersync %2$s there; its clock differs from this site\'s by %3$+d s).', 'usersync' ), $peer_id, $report['version'], $offset ),
			'notes'      => $notes,
			'local_time' => (int) $report['local_time'],
			'peer_time'  => (int) $report['time'],
			'version'    => (string) $report['version'],
		);
	}

	/**
	 * Every configured peer with what waits for it and its last check, for the settings page and
	 * `wp usersync status`.
	 *
	 * @return array[] rows of peer, url, waiting, last_error, last_check, result, last_success
	 */
	public static function status(): array {
		$outbox  = Usersync_Outbox::health();
		$results = self::results();
		$rows    = array();
		foreach ( Usersync_Settings::peers() as $peer ) {
			$id     = (string) ( $peer['id'] ?? '' );
			$last   = $results[ $id ] ?? null;
			$rows[] = array(
				'peer'         => $id,
				'url'          => (string) ( $peer['url'] ?? '' ),
				'waiting'      => (int) ( $outbox[ $id ]['waiting'] ?? 0 ),
				'last_error'   => (string) ( $outbox[ $id ]['error'] ?? '' ),
				'last_check'   => $last ? gmdate( 'Y-m-d H:i:s', (int) $last['time'] ) : '',
				'result'       => $last ? (string) $last['code'] : '',
				'last_success' => $last && $last['last_success'] ? gmdate( 'Y-m-d H:i:s', (int) $last['last_success'] ) : '',
			);
		}
		return $rows;
	}

	/**
	 * The block to paste into the other site's wp-config.php for one peer: its id and this
	 * site's, swapped, the same secrets, and the policies mirrored (what this site sends, it
	 * accepts; what this site accepts, it sends). Contains the link's secrets: generated for an
	 * administrator on request, printed once, never stored, logged or put in a URL.
	 */
	public static function config_for_peer( string $peer_id ): ?string {
		$peer = Usersync_Settings::peer( $peer_id );
		if ( null === $peer ) {
			return null;
		}
		$entry = array(
			'id'      => Usersync_Settings::site_id(),
			'url'     => untrailingslashit( home_url() ),
			'secrets' => array_values( (array) ( $peer['secrets'] ?? array() ) ),
		);
		if ( isset( $peer['accept'] ) ) {
			$entry['send'] = array_diff_key( (array) $peer['accept'], array( 'allow_privileged' => true ) );
		}
		if ( isset( $peer['send'] ) ) {
			$entry['accept'] = (array) $peer['send'];
		}
		$lines = array(
			/* translators: %s: peer id */
			'// ' . sprintf( __( 'usersync on %s: paste into its wp-config.php (add the entry to USERSYNC_PEERS if it has other peers).', 'usersync' ), $peer_id ),
			'// ' . __( 'It holds the link secret: keep it out of e-mail, chat and version control.', 'usersync' ),
			'define( \'USERSYNC_SITE_ID\', ' . self::export( $peer_id ) . ' );',
			'define( \'USERSYNC_PEERS\', array(',
			"\t" . self::export( $entry ) . ',',
			') );',
			'// ' . __( 'Optional there: \'ip_allow\' => array( \'<this server\'s address>/32\' ) in the entry; a privileged role it accepts needs \'allow_privileged\' => true.', 'usersync' ),
		);
		return implode( "\n", $lines ) . "\n";
	}

	/** A PHP literal in WordPress's style: array( 'k' => 'v' ), strings single-quoted and escaped. */
	private static function export( $value ): string {
		if ( ! is_array( $value ) ) {
			return var_export( $value, true ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions -- a literal for wp-config.php
		}
		$list  = array_keys( $value ) === range( 0, count( $value ) - 1 );
		$items = array();
		foreach ( $value as $k => $v ) {
			$items[] = ( $list ? '' : self::export( (string) $k ) . ' => ' ) . self::export( $v );
		}
		return $items ? 'array( ' . implode( ', ', $items ) . ' )' : 'array()';
	}
}
