<?php
/**
 * The durable outbox. Queue first, always: a request's events are written as they are, one
 * row each, before anything else — no library call on the user's request, so nothing a user
 * did is lost while the library cannot load. Each is given its event id (eid, kept for every
 * retry, so a receiver applies it once) there, and a sign-up the uid its account will have.
 * After the response (or from WP-Cron, or the system-cron entry point bin/usersync-deliver.php)
 * a delivery run routes waiting events — each gets its account's uid and one row per peer the
 * library routes it to — and then delivers. Because the ids were fixed with the queued row, a
 * run that routed an event and crashed before its commit routes it again as the same event:
 * the peers' requests leave before that commit (the peers answer a second copy "duplicate").
 *
 * Peers are independent: each peer is delivered by at most one run at a time (a named lock per
 * site and peer), in order, one message at a time, and all peers at once in one curl_multi
 * loop that starts a peer's next message as soon as its previous one is answered. A slow, hung
 * or failing peer holds only its own lock; it is retried with backoff until delivered or
 * expired. Timeouts: 3 s to connect, USERSYNC_HTTP_TIMEOUT (default 10 s) in all.
 *
 * Each request is prepared by WordPress's HTTP API exactly as wp_remote_post() prepares one —
 * its defaults, `http_request_args`, `pre_http_request` (a plugin or test may answer instead of
 * the peer), WP_HTTP_BLOCK_EXTERNAL / WP_ACCESSIBLE_HOSTS, `https_ssl_verify`, the proxy
 * constants (WP_HTTP_Proxy) and WordPress's CA bundle — and reported to `http_api_debug` with
 * the sealed body left out; only the sending is this loop's own, so peers stay concurrent. The
 * loop's connections are kept for the process (HTTP keep-alive): a run delivering several
 * messages to a peer, and the system-cron entry point's --watch loop, reuse them.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Outbox {

	/** @var bool this request queued something */
	private static $queued = false;

	/** @var bool this request holds routing (hold_routing()) */
	private static $holding = false;

	/** @var bool a delivery run's routing is not committed yet (it holds the route lock) */
	private static $routing_open = false;

	/** Messages one run delivers to one peer at most, so a run ends under steady load. */
	const RUN_LIMIT = 1000;

	/** @var CurlMultiHandle|null the delivery loop's handle, kept for the process: its connections stay open */
	private static $multi = null;

	private static function table(): string {
		return Usersync_Schema::tables()['outbox'];
	}

	/** Seconds before the first retry (USERSYNC_RETRY_BASE), doubling up to an hour. */
	private static function backoff( int $attempts ): int {
		$base = defined( 'USERSYNC_RETRY_BASE' ) ? max( 1, (int) USERSYNC_RETRY_BASE ) : 30;
		return (int) min( HOUR_IN_SECONDS, $base * ( 2 ** max( 0, $attempts - 1 ) ) );
	}

	/** Seconds an undelivered event is kept (USERSYNC_OUTBOX_TTL, default 3 days). */
	public static function ttl(): int {
		return defined( 'USERSYNC_OUTBOX_TTL' ) ? max( 60, (int) USERSYNC_OUTBOX_TTL ) : 3 * DAY_IN_SECONDS;
	}

	/** Seconds a delivery may take in all (USERSYNC_HTTP_TIMEOUT, default 10). */
	public static function timeout(): int {
		return defined( 'USERSYNC_HTTP_TIMEOUT' ) ? max( 1, (int) USERSYNC_HTTP_TIMEOUT ) : 10;
	}

	/**
	 * Queues a request's events, one row each, in one statement, each with its eid (and a
	 * sign-up with its account's uid-to-be, 'mint'): routing (which needs the library) happens
	 * in the delivery run.
	 *
	 * @param array[] $events `['user_id' => int, 'act' => …, 'data' => […]]`
	 */
	public static function enqueue( array $events ): void {
		global $wpdb;
		if ( ! $events ) {
			return;
		}
		$now    = time();
		$rows   = array();
		$values = array();
		foreach ( $events as $event ) {
			$queued = array( 'act' => $event['act'], 'data' => $event['data'] ) + ( empty( $event['unsorted'] ) ? array() : array( 'unsorted' => true ) );
			if ( 'create' === $event['act'] ) {
				$queued['mint'] = self::new_id();
			}
			$rows[] = '(%d, %s, %s, %s, %s, %d, %d)';
			array_push( $values, (int) ( $event['user_id'] ?? 0 ), $event['act'], (string) ( $event['data']['login'] ?? '' ), self::new_id(), wp_json_encode( $queued ), $now, $now );
		}
		$wpdb->query(
			$wpdb->prepare(
				'INSERT INTO ' . self::table() . ' (user_id, act, login, eid, event, created_at, next_attempt) VALUES ' . implode( ', ', $rows ), // phpcs:ignore WordPress.DB.PreparedSQL
				$values
			)
		);
		self::$queued = true;
	}

	/**
	 * An id as docs/protocol.md §8–9 define them — 16 random bytes in base64url, no padding —
	 * from PHP's CSPRNG: the user's request makes no library call.
	 */
	private static function new_id(): string {
		return rtrim( strtr( base64_encode( random_bytes( 16 ) ), '+/', '-_' ), '=' );
	}

	/**
	 * At the end of a request (shutdown, right after WordPress flushes its output buffers and
	 * before other plugins' shutdown work): answer the browser first, then deliver what is due.
	 */
	public static function deliver_after_response(): void {
		$retry_at = (int) get_option( 'usersync_retry_at', 0 );
		if ( ! self::$queued && ( 0 === $retry_at || $retry_at > time() ) ) {
			return;
		}
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			wp_ob_end_flush_all(); // whatever is still buffered belongs to the answer
			fastcgi_finish_request();
		}
		self::deliver();
	}

	/** A named lock for this site (MariaDB's named locks are server-wide: name the database and prefix). */
	private static function lock_name( string $what ): string {
		global $wpdb;
		return 'usersync:' . substr( hash( 'sha256', DB_NAME . '|' . $wpdb->prefix . '|' . $what ), 0, 40 );
	}

	private static function lock( string $what, int $wait = 0 ): bool {
		global $wpdb;
		return '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', self::lock_name( $what ), $wait ) );
	}

	private static function unlock( string $what ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name( $what ) ) );
	}

	/**
	 * Holds routing on this site until release_routing() (the route lock, waiting up to 10 s
	 * for a run that is routing). Usersync_Events takes it while it deletes an account that is
	 * not linked yet, so that no run links and routes the account's sign-up between its look at
	 * the links and the account's deletion: the peers would keep an account deleted here.
	 */
	public static function hold_routing(): void {
		if ( ! self::$holding ) {
			self::$holding = self::lock( 'route', 10 );
		}
	}

	public static function release_routing(): void {
		if ( self::$holding ) {
			self::unlock( 'route' );
			self::$holding = false;
		}
	}

	/**
	 * Routes waiting events, oldest first (one run at a time per site): each gets its account's
	 * uid — linked here for an account created on this site —, its event id, and one row per
	 * peer the library routes it to. Events of accounts that are not linked are not synced.
	 * The routed peers' delivery locks are taken (the free ones). The last event's transaction
	 * is left open when it has peers — end_routing() commits it and lets go of routing. It
	 * writes without reading (but for a sign-up already linked): the routed peers' oldest events,
	 * read next under their locks, are its first look at the database, so it sees what other
	 * runs committed until then.
	 *
	 * @return string[] the peers given an event whose delivery locks this run took
	 */
	private static function route( Usersync\Context $context ): array {
		global $wpdb;
		if ( ! self::lock( 'route', 5 ) ) {
			return array();
		}
		$routed = array();
		try {
			$table = self::table();
			$links = Usersync_Schema::tables()['links'];
			// Each with its account's uid as linked now (a sign-up routed earlier in this loop is
			// linked after this read: looked up again below).
			$rows = $wpdb->get_results( "SELECT o.*, l.uid AS linked_uid FROM $table o LEFT JOIN $links l ON l.user_id = o.user_id WHERE o.peer = '' ORDER BY o.id LIMIT 1000" ); // phpcs:ignore WordPress.DB.PreparedSQL
			foreach ( $rows as $i => $row ) {
				$queued = json_decode( $row->event, true );
				$mint   = $queued['mint'] ?? null; // a sign-up's uid-to-be (none in rows queued before it was)
				unset( $queued['mint'] );
				$event  = Usersync_Events::sorted( $queued, (int) $row->user_id );
				$signup = null !== $event && ! isset( $event['data']['uid'] ) && 'create' === $row->act && get_userdata( (int) $row->user_id );
				$uid    = null === $event || $signup ? null : ( $event['data']['uid'] ?? $row->linked_uid ?? Usersync_Links::uid_of( (int) $row->user_id ) );
				$peers  = array();
				// One transaction (one commit) per event: the link, the routed rows, the queued row's end.
				$wpdb->query( 'START TRANSACTION' );
				if ( $signup ) {
					try {
						$uid = Usersync_Links::mint( (int) $row->user_id, $mint ); // the account enters the network here
					} catch ( Usersync_Apply_Failed $e ) {
						// The link was not stored (the database's failure): routing stops as for
						// any failed write, and the queued row waits for the next run.
						$wpdb->query( 'ROLLBACK' );
						break;
					}
				}
				if ( null !== $uid ) {
					$event = array(
						'eid'  => '' !== (string) $row->eid ? $row->eid : Usersync\Secret::uid(),
						'act'  => $event['act'],
						'data' => array( 'uid' => $uid ) + $event['data'],
					);
					try {
						$peers = $context->route( $event );
					} catch ( Usersync\Exception $e ) {
						Usersync_Log::add( 'out', '', $row->act, $row->login, 'refused', $e->reason );
					}
				}
				// One statement for every peer's row. A failed write (a deadlock has rolled the
				// transaction back) stops routing: the queued row stays for the next run.
				if ( ( $peers && ! self::insert_routed( $row, $event, $peers ) ) || false === $wpdb->query( $wpdb->prepare( "DELETE FROM $table WHERE id = %d", $row->id ) ) ) { // phpcs:ignore WordPress.DB.PreparedSQL
					$wpdb->query( 'ROLLBACK' );
					break;
				}
				$routed += array_fill_keys( $peers, true );
				if ( $peers && count( $rows ) - 1 === $i ) {
					self::$routing_open = true;
				} else {
					$wpdb->query( 'COMMIT' );
				}
			}
		} catch ( Throwable $e ) {
			self::unlock( 'route' );
			throw $e;
		}
		return self::lock_peers( array_keys( $routed ), self::$routing_open ? '' : 'route' );
	}

	/** Commits routing's open transaction (see route()) and lets go of routing. */
	private static function end_routing(): void {
		global $wpdb;
		if ( self::$routing_open ) {
			self::$routing_open = false;
			$wpdb->query( 'COMMIT' ); // when it fails, the queued rows wait for the next run, which routes them as the same events
			self::unlock( 'route' );
		}
	}

	/** One row per peer for a routed event, in one INSERT; false when the database refused it. */
	private static function insert_routed( object $row, array $event, array $peers ): bool {
		global $wpdb;
		$json   = wp_json_encode( $event );
		$rows   = array();
		$values = array();
		foreach ( $peers as $peer ) {
			$rows[] = '(%s, %s, %d, %s, %s, %s, %d, %d)';
			array_push( $values, $peer, $event['eid'], (int) $row->user_id, $row->act, $row->login, $json, (int) $row->created_at, (int) $row->created_at );
		}
		$sql = 'INSERT INTO ' . self::table() . ' (peer, eid, user_id, act, login, event, created_at, next_attempt) VALUES ' . implode( ', ', $rows );
		return false !== $wpdb->query( $wpdb->prepare( $sql, $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/**
	 * Health per peer: events waiting, and the last error of the oldest one (why it waits).
	 *
	 * @return array<string, array{waiting: int, error: string}>
	 */
	public static function health(): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results( "SELECT o.peer, h.n, o.last_error FROM $table o JOIN (SELECT peer, MIN(id) AS id, COUNT(*) AS n FROM $table WHERE peer <> '' GROUP BY peer) h ON o.id = h.id" ); // phpcs:ignore WordPress.DB.PreparedSQL
		$health = array();
		foreach ( $rows as $row ) {
			$health[ $row->peer ] = array( 'waiting' => (int) $row->n, 'error' => (string) $row->last_error );
		}
		return $health;
	}

	/** Events not yet routed (queued while the library could not load, or just now). */
	public static function unrouted(): int {
		global $wpdb;
		return (int) $wpdb->get_var( 'SELECT COUNT(*) FROM ' . self::table() . " WHERE peer = ''" ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/** The oldest event of one peer when it is due, else null. */
	private static function head( string $peer ): ?object {
		global $wpdb;
		$table = self::table();
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM $table WHERE peer = %s ORDER BY id LIMIT 1", $peer ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		return $row && self::due( $row ) ? $row : null;
	}

	private static function due( object $row ): bool {
		return (int) $row->next_attempt <= time();
	}

	private static function expired( object $row ): bool {
		return (int) $row->created_at < time() - self::ttl();
	}

	/**
	 * The oldest event of every peer (or of the given ones), due or not, in one query.
	 *
	 * @param string[]|null $peers
	 * @return array<string, object> by peer
	 */
	private static function heads( ?array $peers = null ): array {
		global $wpdb;
		$table = self::table();
		$which = null === $peers ? "peer <> ''" : $wpdb->prepare( 'peer IN (' . implode( ', ', array_fill( 0, count( $peers ), '%s' ) ) . ')', $peers ); // phpcs:ignore WordPress.DB.PreparedSQL
		$heads = array();
		foreach ( $wpdb->get_results( "SELECT o.* FROM $table o JOIN (SELECT MIN(id) AS id FROM $table WHERE $which GROUP BY peer) h ON o.id = h.id" ) as $row ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$heads[ $row->peer ] = $row;
		}
		return $heads;
	}

	/**
	 * Takes the delivery locks of these peers that are free, in one statement — which first lets
	 * go of the lock named $release, when one is.
	 *
	 * @param string[] $peers
	 * @return string[] the peers taken
	 */
	private static function lock_peers( array $peers, string $release = '' ): array {
		global $wpdb;
		if ( ! $peers ) {
			if ( '' !== $release ) {
				self::unlock( $release );
			}
			return array();
		}
		$calls = array_fill( 0, count( $peers ), 'GET_LOCK(%s, 0)' );
		$names = array_map( static fn( $peer ) => self::lock_name( 'deliver|' . $peer ), $peers );
		if ( '' !== $release ) {
			array_unshift( $calls, 'RELEASE_LOCK(%s)' );
			array_unshift( $names, self::lock_name( $release ) );
		}
		$got = (array) $wpdb->get_row( $wpdb->prepare( 'SELECT ' . implode( ', ', $calls ), $names ), ARRAY_N ); // phpcs:ignore WordPress.DB.PreparedSQL
		$got = '' === $release ? $got : array_slice( $got, 1 );
		return array_values( array_filter( $peers, static fn( $i ) => '1' === (string) ( $got[ $i ] ?? '' ), ARRAY_FILTER_USE_KEY ) );
	}

	/**
	 * Routes what waits, then delivers every peer's due events (see the class comment). Safe to
	 * run from many processes at once: each peer is taken by one of them.
	 */
	public static function deliver(): void {
		global $wpdb;
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			self::schedule(); // routed later, when the library loads
			return;
		}
		$routed      = self::route( $context );
		self::$multi = self::$multi ?? curl_multi_init();
		$multi       = self::$multi;
		$busy        = array(); // peer => [handle, row, request]
		$sent  = array();
		$next  = static function ( string $peer, bool $known = false, ?object $head = null ) use ( $context, $multi, &$busy, &$sent ): void {
			// Take the peer's next due message ($head when it was just read), or let the peer go
			// (and look once more after letting go: a row queued by a run that found the lock
			// taken must not be stranded).
			for ( $again = 0; $again < 2; $again++ ) {
				if ( $known ) {
					$row   = $head && self::due( $head ) ? $head : null;
					$known = false;
				} else {
					$row = ( $sent[ $peer ] ?? 0 ) < self::RUN_LIMIT ? self::head( $peer ) : null;
				}
				while ( $row ) {
					$request = self::request( $context, $row );
					if ( isset( $request['handle'] ) ) {
						curl_multi_add_handle( $multi, $request['handle'] );
						// On its way while the others are prepared: driven until its bytes are handed
						// to the connection, for 0.2 ms at most (a peer slow to connect is not waited for).
						self::drive( $multi, static fn() => self::handed_over( array( $request['handle'], null, $request ) ), 0.0002 );
						$busy[ $peer ] = array( $request['handle'], $row, $request );
						$sent[ $peer ] = ( $sent[ $peer ] ?? 0 ) + 1;
						return;
					}
					self::settle( $row, $request['outcome'] ); // answered or refused before sending: the next one
					$row = self::head( $peer );
				}
				self::unlock( 'deliver|' . $peer );
				if ( 0 === $again && ( ! self::head( $peer ) || ! self::lock( 'deliver|' . $peer ) ) ) {
					return;
				}
			}
		};
		// The peers just given an event first (their delivery locks were taken while routing):
		// their oldest events are read under their locks, and their requests leave before
		// routing commits — unless one has an event to expire first.
		$heads = $routed ? self::heads( $routed ) : array();
		$later = array_filter( $heads, array( __CLASS__, 'expired' ) ) ? $routed : array();
		try {
			foreach ( array_diff( $routed, $later ) as $peer ) {
				$next( $peer, true, $heads[ $peer ] ?? null );
			}
			// Their bytes handed to the connections before routing commits and the other peers
			// are looked at (2 ms at most in all: a peer slow to connect is left to the loop).
			if ( $busy ) {
				self::drive( $multi, static fn() => count( array_filter( $busy, array( __CLASS__, 'handed_over' ) ) ) === count( $busy ), 0.002 );
			}
		} finally {
			self::end_routing();
		}
		// Then every other free peer with an event due, taken in one statement and read again
		// under its lock: only that reading counts (another run may have delivered it in between,
		// even all of it). Events expire oldest first: when no peer's oldest has, none has.
		$heads = self::heads();
		if ( array_filter( $heads, array( __CLASS__, 'expired' ) ) ) {
			self::expire();
			$heads = self::heads();
		}
		$more  = self::lock_peers( array_values( array_diff( array_keys( array_filter( $heads, array( __CLASS__, 'due' ) ) ), $routed ) ) );
		$heads = array_intersect_key( $heads, array_flip( $later ) ) + ( $more ? self::heads( $more ) : array() );
		foreach ( array_merge( $later, $more ) as $peer ) {
			$next( $peer, true, $heads[ $peer ] ?? null );
		}
		while ( $busy ) {
			curl_multi_exec( $multi, $running );
			while ( $done = curl_multi_info_read( $multi ) ) {
				foreach ( $busy as $peer => list( $handle, $row, $request ) ) {
					if ( $handle !== $done['handle'] ) {
						continue;
					}
					$outcome = self::finished( $handle, $done['result'], $request );
					curl_multi_remove_handle( $multi, $handle );
					curl_close( $handle ); // its connection stays in the multi handle's cache
					unset( $busy[ $peer ] );
					self::settle( $row, $outcome );
					if ( 'retry' === $outcome['result'] ) {
						self::unlock( 'deliver|' . $peer ); // this peer waits for its backoff
					} else {
						$next( $peer );
					}
					break;
				}
			}
			if ( $busy ) {
				curl_multi_select( $multi, 0.5 );
			}
		}
		self::schedule();
		Usersync_Log::prune();
	}

	/**
	 * When the next delivery is due — the earliest due time of each peer's oldest event, or now
	 * while events wait to be routed — for requests (usersync_retry_at) and for WP-Cron.
	 */
	private static function schedule(): void {
		global $wpdb;
		$table = self::table();
		$next  = $wpdb->get_var( "SELECT MIN(o.next_attempt) FROM $table o JOIN (SELECT MIN(id) AS id FROM $table GROUP BY peer) h ON o.id = h.id" ); // phpcs:ignore WordPress.DB.PreparedSQL
		$next  = null === $next ? 0 : max( time(), (int) $next );
		update_option( 'usersync_retry_at', $next, true );
		$scheduled = wp_next_scheduled( 'usersync_deliver' );
		if ( $next && ( ! $scheduled || $scheduled > $next ) ) {
			if ( $scheduled ) {
				wp_unschedule_event( $scheduled, 'usersync_deliver' );
			}
			wp_schedule_single_event( $next, 'usersync_deliver' );
		}
	}

	/** Drops events past the TTL, logging each. */
	private static function expire(): void {
		global $wpdb;
		$table   = self::table();
		$expired = $wpdb->get_results( $wpdb->prepare( "SELECT id, peer, eid, act, login FROM $table WHERE created_at < %d AND peer <> ''", time() - self::ttl() ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		foreach ( $expired as $row ) {
			$wpdb->delete( $table, array( 'id' => $row->id ) );
			Usersync_Log::add( 'out', $row->peer, $row->act, $row->login, 'expired', 'undelivered after ' . self::ttl() . ' s', $row->eid );
		}
	}

	/**
	 * One row's message (sealed now, with the event's own eid) as a request on its way — or the
	 * outcome when nothing is sent: refused before sealing, answered by `pre_http_request`, or
	 * blocked by WordPress's HTTP settings.
	 *
	 * @return array{handle: CurlHandle, url: string, args: array}|array{outcome: array{result: string, reason: string}}
	 */
	private static function request( Usersync\Context $context, object $row ): array {
		$peer = Usersync_Settings::peer( $row->peer );
		try {
			$built = $peer ? $context->build( json_decode( $row->event, true ), $row->peer ) : array();
		} catch ( Usersync\Exception $e ) {
			return array( 'outcome' => array( 'result' => 'refused', 'reason' => $e->reason ) );
		}
		if ( ! $built ) {
			return array( 'outcome' => array( 'result' => 'refused', 'reason' => 'no longer sent to this peer' ) );
		}
		$url      = Usersync_Settings::inbox_url( $peer );
		$prepared = self::http_args( $url, $built[0]['message'] );
		if ( isset( $prepared['answer'] ) ) {
			self::debug( $prepared['answer'], $prepared['args'], $url );
			return array( 'outcome' => self::answered( $prepared['answer'] ) );
		}
		$args    = $prepared['args'];
		$blocked = self::blocked( $url, $args );
		if ( null !== $blocked ) {
			self::debug( new WP_Error( 'http_request_not_executed', $blocked ), $args, $url );
			return array( 'outcome' => array( 'result' => 'retry', 'reason' => $blocked ) );
		}
		return array( 'handle' => self::curl( $url, $args ), 'url' => $url, 'args' => $args );
	}

	/**
	 * The request's arguments as WordPress's HTTP API makes them for wp_remote_post(): its
	 * defaults, then `http_request_args`, then `pre_http_request`. WordPress itself does this
	 * (wp_remote_post() with a last `pre_http_request` filter that keeps the arguments and
	 * stops it before it sends); a plugin's earlier `pre_http_request` answer is the answer.
	 *
	 * @return array{args: array, answer?: array|WP_Error}
	 */
	private static function http_args( string $url, string $message, ?int $timeout = null ): array {
		$args    = null;
		$capture = static function ( $pre, $parsed ) use ( &$args ) {
			$args = $parsed;
			return false === $pre ? new WP_Error( 'usersync_prepared' ) : $pre;
		};
		add_filter( 'pre_http_request', $capture, PHP_INT_MAX, 2 );
		try {
			$answer = wp_remote_post(
				$url,
				array(
					'body'        => $message,
					'timeout'     => $timeout ?? self::timeout(),
					'redirection' => 0,
					'httpversion' => '1.1', // keep-alive
					'headers'     => array( 'Content-Type' => 'text/plain' ),
				)
			);
		} finally {
			remove_filter( 'pre_http_request', $capture, PHP_INT_MAX );
		}
		$args = is_array( $args ) ? $args : array();
		if ( ! ( is_wp_error( $answer ) && 'usersync_prepared' === $answer->get_error_code() ) ) {
			return array( 'args' => $args, 'answer' => $answer ); // answered by a pre_http_request filter
		}
		return array( 'args' => $args );
	}

	/** Why WordPress's HTTP settings forbid this request, in plain words, or null. */
	private static function blocked( string $url, array $args ): ?string {
		if ( ! empty( $args['reject_unsafe_urls'] ) && ! wp_http_validate_url( $url ) ) {
			return __( 'blocked: the peer\'s URL is not a safe URL for WordPress (http_request_reject_unsafe_urls)', 'usersync' );
		}
		if ( _wp_http_get_object()->block_request( $url ) ) {
			/* translators: %s: the peer's host name */
			return sprintf( __( 'blocked by WP_HTTP_BLOCK_EXTERNAL: add %s to WP_ACCESSIBLE_HOSTS in wp-config.php', 'usersync' ), (string) wp_parse_url( $url, PHP_URL_HOST ) );
		}
		return null;
	}

	/** A curl handle doing what the arguments say (timeout, headers, user agent, TLS, proxy). */
	private static function curl( string $url, array $args ): CurlHandle {
		$timeout = max( 1, (int) ceil( 1000 * (float) ( $args['timeout'] ?? self::timeout() ) ) );
		$headers = array( 'Expect:' );
		foreach ( (array) ( $args['headers'] ?? array() ) as $name => $value ) {
			$headers[] = is_int( $name ) ? (string) $value : "$name: $value";
		}
		$ch   = curl_init( $url );
		$opts = array(
			CURLOPT_POST              => true,
			CURLOPT_POSTFIELDS        => (string) ( $args['body'] ?? '' ),
			CURLOPT_HTTPHEADER        => $headers,
			CURLOPT_USERAGENT         => (string) ( $args['user-agent'] ?? '' ),
			CURLOPT_RETURNTRANSFER    => true,
			CURLOPT_CONNECTTIMEOUT_MS => min( 3000, $timeout ),
			CURLOPT_TIMEOUT_MS        => $timeout,
			CURLOPT_FOLLOWLOCATION    => false,
			CURLOPT_PROTOCOLS         => CURLPROTO_HTTP | CURLPROTO_HTTPS,
			CURLOPT_HTTP_VERSION      => '1.0' === (string) ( $args['httpversion'] ?? '' ) ? CURL_HTTP_VERSION_1_0 : CURL_HTTP_VERSION_1_1,
		);
		// TLS as WordPress verifies it: its CA bundle (sslcertificates), sslverify, https_ssl_verify.
		$verify = empty( $args['sslverify'] ) ? false : (string) ( $args['sslcertificates'] ?? '' );
		$verify = apply_filters( 'https_ssl_verify', $verify, $url );
		if ( false === $verify ) {
			$opts[ CURLOPT_SSL_VERIFYPEER ] = false;
			$opts[ CURLOPT_SSL_VERIFYHOST ] = 0;
		} else {
			$opts[ CURLOPT_SSL_VERIFYPEER ] = true;
			$opts[ CURLOPT_SSL_VERIFYHOST ] = 2;
			if ( is_string( $verify ) && '' !== $verify ) {
				$opts[ CURLOPT_CAINFO ] = $verify;
			}
		}
		// WordPress's proxy (WP_PROXY_HOST, WP_PROXY_PORT, WP_PROXY_USERNAME/PASSWORD, WP_PROXY_BYPASS_HOSTS).
		$proxy = new WP_HTTP_Proxy();
		if ( $proxy->is_enabled() && $proxy->send_through_proxy( $url ) ) {
			$opts[ CURLOPT_PROXYTYPE ] = CURLPROXY_HTTP;
			$opts[ CURLOPT_PROXY ]     = $proxy->host();
			$opts[ CURLOPT_PROXYPORT ] = (int) $proxy->port();
			if ( $proxy->use_authentication() ) {
				$opts[ CURLOPT_PROXYAUTH ]    = CURLAUTH_ANY;
				$opts[ CURLOPT_PROXYUSERPWD ] = $proxy->authentication();
			}
		}
		curl_setopt_array( $ch, $opts );
		return $ch;
	}

	/**
	 * A finished transfer: reported to `http_api_debug` (and `http_response` applied) as
	 * WordPress reports its own requests, then what it means for the row.
	 *
	 * @return array{result: string, reason: string}
	 */
	private static function finished( CurlHandle $ch, int $curl_result, array $request ): array {
		if ( CURLE_OK !== $curl_result ) {
			$reason = self::network_error( $curl_result, curl_error( $ch ), (float) ( $request['args']['timeout'] ?? self::timeout() ) );
			self::debug( new WP_Error( 'http_request_failed', $reason ), $request['args'], $request['url'] );
			return array( 'result' => 'retry', 'reason' => $reason );
		}
		$code     = (int) curl_getinfo( $ch, CURLINFO_RESPONSE_CODE );
		$response = array(
			'headers'  => array(),
			'body'     => (string) curl_multi_getcontent( $ch ),
			'response' => array( 'code' => $code, 'message' => get_status_header_desc( $code ) ),
			'cookies'  => array(),
			'filename' => null,
			// How the time went (seconds), and whether the connection was reused (0 new connections).
			'usersync' => array(
				'new_connections' => (int) curl_getinfo( $ch, CURLINFO_NUM_CONNECTS ),
				'connect'         => (float) curl_getinfo( $ch, CURLINFO_CONNECT_TIME ),
				'first_byte'      => (float) curl_getinfo( $ch, CURLINFO_STARTTRANSFER_TIME ),
				'total'           => (float) curl_getinfo( $ch, CURLINFO_TOTAL_TIME ),
			),
		);
		$response = apply_filters( 'http_response', $response, self::redacted( $request['args'] ), $request['url'] );
		self::debug( $response, $request['args'], $request['url'] );
		return self::answered( $response );
	}

	/** `http_api_debug` as WordPress fires it, with the sealed message replaced by its size. */
	private static function debug( $response, array $args, string $url ): void {
		do_action( 'http_api_debug', $response, 'response', 'Usersync_Outbox', self::redacted( $args ), $url );
	}

	/** The arguments without the sealed message: nothing outside the loop sees it. */
	private static function redacted( array $args ): array {
		/* translators: %d: bytes */
		$args['body'] = sprintf( __( '(sealed usersync message, %d bytes)', 'usersync' ), strlen( (string) ( $args['body'] ?? '' ) ) );
		return $args;
	}

	/**
	 * What an answer means: delivered, duplicate (applied before: a retry after a lost answer),
	 * refused (final), or retry — with the reason in plain words.
	 *
	 * @param array|WP_Error $response as WordPress's HTTP API returns it
	 * @return array{result: string, reason: string}
	 */
	private static function answered( $response ): array {
		if ( is_wp_error( $response ) ) {
			/* translators: %s: the error */
			return array( 'result' => 'retry', 'reason' => sprintf( __( 'not sent: %s', 'usersync' ), $response->get_error_message() ) );
		}
		$code = (int) wp_remote_retrieve_response_code( $response );
		$body = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		$said = is_array( $body ) ? (string) ( $body['result'] ?? '' ) : '';
		$why  = is_array( $body ) ? (string) ( $body['reason'] ?? '' ) : '';
		if ( 200 === $code && in_array( $said, array( 'applied', 'skipped', 'duplicate' ), true ) ) {
			$result = 'duplicate' === $said ? 'duplicate' : 'delivered';
			return array( 'result' => $result, 'reason' => 'skipped' === $said ? 'nothing to do there' : '' );
		}
		if ( $code >= 400 && $code < 500 && 'refused' === $said ) {
			return array( 'result' => 'refused', 'reason' => $why );
		}
		/* translators: 1: HTTP status code, 2: the peer's reason, if it gave one */
		$text = sprintf( __( 'HTTP %1$d from the peer%2$s', 'usersync' ), $code, '' !== $why ? ': ' . $why : ( 404 === $code ? ' (is usersync active there, and the URL right?)' : '' ) );
		return array( 'result' => 'retry', 'reason' => $text );
	}

	/** A curl failure in plain words. */
	private static function network_error( int $errno, string $detail, float $timeout ): string {
		switch ( $errno ) {
			case CURLE_OPERATION_TIMEDOUT:
				/* translators: %s: seconds */
				return sprintf( __( 'timed out after %s s (the peer accepted the connection but did not answer)', 'usersync' ), (string) round( $timeout, 1 ) );
			case CURLE_COULDNT_CONNECT:
				return __( 'connection refused (nothing listens at the peer\'s address, or a firewall)', 'usersync' );
			case CURLE_COULDNT_RESOLVE_HOST:
				return __( 'host not found (DNS)', 'usersync' );
			case CURLE_SSL_CONNECT_ERROR:
			case CURLE_SSL_PEER_CERTIFICATE: // also CURLE_SSL_CACERT: a certificate the CA bundle does not trust
			case CURLE_SSL_CACERT_BADFILE:
			case CURLE_SSL_CERTPROBLEM:
				/* translators: %s: curl's detail */
				return sprintf( __( 'TLS error: %s', 'usersync' ), $detail );
			default:
				/* translators: %s: curl's detail */
				return sprintf( __( 'network error: %s', 'usersync' ), $detail );
		}
	}

	/**
	 * One POST to a peer's inbox now, built as delivery builds its requests, for the link health
	 * check and the initial sync: the HTTP status, the body, the address answered from
	 * (CURLINFO_PRIMARY_IP) and, when no answer came, the network error in plain words. As in
	 * delivery, a `pre_http_request` filter's answer is the answer, and WordPress's HTTP settings
	 * may block it. $timeout: seconds, delivery's by default.
	 *
	 * @return array{status: int, body: string, ip: string, error: string, location: string}
	 */
	public static function post_now( string $url, string $body, ?int $timeout = null ): array {
		return self::post_wait( self::post_start( $url, $body, $timeout ) );
	}

	/**
	 * post_now() in two halves, so that the caller can prepare its next request while the peer
	 * works on this one: the request is sent (its body handed to the connection) before this
	 * returns; post_wait() gives its answer.
	 *
	 * @return array the pending request, for post_wait()
	 */
	public static function post_start( string $url, string $body, ?int $timeout = null ): array {
		$timeout  = $timeout ?? self::timeout();
		$prepared = self::http_args( $url, $body, $timeout );
		$none     = array( 'status' => 0, 'body' => '', 'ip' => '', 'error' => '', 'location' => '' );
		if ( isset( $prepared['answer'] ) ) {
			$answer = $prepared['answer'];
			if ( is_wp_error( $answer ) ) {
				return array( 'done' => array( 'error' => $answer->get_error_message() ) + $none );
			}
			return array(
				'done' => array(
					'status'   => (int) wp_remote_retrieve_response_code( $answer ),
					'body'     => (string) wp_remote_retrieve_body( $answer ),
					'location' => (string) wp_remote_retrieve_header( $answer, 'location' ),
				) + $none,
			);
		}
		$blocked = self::blocked( $url, $prepared['args'] );
		if ( null !== $blocked ) {
			return array( 'done' => array( 'error' => $blocked ) + $none );
		}
		$ch = self::curl( $url, $prepared['args'] );
		$mh = curl_multi_init();
		curl_multi_add_handle( $mh, $ch );
		// Drive the transfer until the body is out (or it ended): the peer works while we do not.
		$sent = static fn() => (int) curl_getinfo( $ch, CURLINFO_SIZE_UPLOAD ) >= strlen( $body );
		self::drive( $mh, $sent );
		return array( 'ch' => $ch, 'mh' => $mh, 'timeout' => $timeout );
	}

	/** @param array $busy [handle, row, request]: its request's body is with the connection */
	private static function handed_over( array $busy ): bool {
		return (int) curl_getinfo( $busy[0], CURLINFO_SIZE_UPLOAD ) >= strlen( (string) ( $busy[2]['args']['body'] ?? '' ) );
	}

	/** Runs a multi handle's transfers until they have ended, $far_enough() says so, or $seconds have passed. */
	private static function drive( CurlMultiHandle $mh, callable $far_enough, float $seconds = INF ): void {
		$until = microtime( true ) + $seconds;
		while ( true ) {
			curl_multi_exec( $mh, $running );
			if ( ! $running || $far_enough() || microtime( true ) >= $until ) {
				return;
			}
			if ( -1 === curl_multi_select( $mh, min( 1.0, $seconds ) ) ) {
				usleep( (int) min( 1000, 1e6 * $seconds ) ); // no socket to wait on yet
			}
		}
	}

	/** The answer to a request from post_start(). @return array{status: int, body: string, ip: string, error: string, location: string} */
	public static function post_wait( array $pending ): array {
		if ( isset( $pending['done'] ) ) {
			return $pending['done'];
		}
		list( $ch, $mh ) = array( $pending['ch'], $pending['mh'] );
		self::drive( $mh, static fn() => false );
		$info  = curl_multi_info_read( $mh );
		$errno = is_array( $info ) ? (int) $info['result'] : CURLE_OK;
		$out   = array(
			'status'   => (int) curl_getinfo( $ch, CURLINFO_RESPONSE_CODE ),
			'body'     => (string) curl_multi_getcontent( $ch ),
			'ip'       => (string) curl_getinfo( $ch, CURLINFO_PRIMARY_IP ),
			'error'    => CURLE_OK === $errno ? '' : self::network_error( $errno, curl_error( $ch ), (float) $pending['timeout'] ),
			'location' => (string) curl_getinfo( $ch, CURLINFO_REDIRECT_URL ),
		);
		curl_multi_remove_handle( $mh, $ch );
		curl_multi_close( $mh );
		curl_close( $ch );
		return $out;
	}

	/** Records a row's outcome: gone when delivered or final, else waiting with backoff. */
	private static function settle( object $row, array $outcome ): void {
		global $wpdb;
		// The row's change and its log line: one commit, one flush to disk (the peers this run
		// still waits for write to the same disk).
		$wpdb->query( 'START TRANSACTION' );
		if ( 'retry' === $outcome['result'] ) {
			$wpdb->update(
				self::table(),
				array(
					'attempts'     => $row->attempts + 1,
					'next_attempt' => time() + self::backoff( $row->attempts + 1 ),
					'last_error'   => substr( $outcome['reason'], 0, 255 ),
				),
				array( 'id' => $row->id )
			);
		} else {
			$wpdb->query( $wpdb->prepare( 'DELETE FROM ' . self::table() . ' WHERE id = %d', $row->id ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
		Usersync_Log::add( 'out', $row->peer, $row->act, $row->login, $outcome['result'], $outcome['reason'], $row->eid );
		$wpdb->query( 'COMMIT' );
		/**
		 * A delivery attempt's outcome, once per attempt: 'delivered', 'duplicate' (applied
		 * before), 'refused' (final), 'retry' (waits with backoff) or 'expired'.
		 *
		 * @param string $result  the outcome
		 * @param string $peer    the peer's site id
		 * @param string $act     the action
		 * @param string $login   the account's login here
		 * @param string $reason  why (a reason code or plain words), '' when delivered
		 * @param string $eid     the event id (the same in the peer's log)
		 */
		do_action( 'usersync_delivery_result', $outcome['result'], $row->peer, $row->act, $row->login, $outcome['reason'], $row->eid );
	}
}
