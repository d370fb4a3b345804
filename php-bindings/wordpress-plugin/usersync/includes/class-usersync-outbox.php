<?php
/**
 * The durable outbox: one row per event and peer, written before anything is sent. Delivery
 * runs after the browser has its response, to all peers at once, in order per peer, with
 * backoff while a peer is down, until delivered or expired. Messages are sealed at each attempt,
 * so a long outage never leaves expired messages behind.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Outbox {

	/** @var bool this request queued something */
	private static $queued = false;

	private static function table(): string {
		return Usersync_Schema::tables()['outbox'];
	}

	/** Seconds before the first retry (USERSYNC_RETRY_BASE), doubling up to an hour. */
	private static function backoff( int $attempts ): int {
		$base = defined( 'USERSYNC_RETRY_BASE' ) ? max( 1, (int) USERSYNC_RETRY_BASE ) : 30;
		return (int) min( HOUR_IN_SECONDS, $base * ( 2 ** max( 0, $attempts - 1 ) ) );
	}

	/** Seconds an undelivered event is kept (USERSYNC_OUTBOX_TTL, default 3 days). */
	private static function ttl(): int {
		return defined( 'USERSYNC_OUTBOX_TTL' ) ? max( 60, (int) USERSYNC_OUTBOX_TTL ) : 3 * DAY_IN_SECONDS;
	}

	/**
	 * Queues events for every peer whose send policy takes them. The library checks each event
	 * now (a plaintext password or an unknown field never gets queued) and picks the peers.
	 */
	public static function enqueue( array $events ): void {
		global $wpdb;
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			return;
		}
		$now    = time();
		$rows   = array();
		$values = array();
		foreach ( $events as $event ) {
			$login = (string) ( $event['data']['login'] ?? '' );
			try {
				$peers = wp_list_pluck( $context->build( $event ), 'peer' );
			} catch ( Usersync\Exception $e ) {
				Usersync_Log::add( 'out', '', $event['act'], $login, 'refused', $e->reason );
				continue;
			}
			$json = wp_json_encode( $event );
			foreach ( $peers as $peer ) {
				$rows[] = '(%s, %s, %s, %s, %d, %d)';
				array_push( $values, $peer, $event['act'], $login, $json, $now, $now );
			}
		}
		if ( $rows ) {
			// One statement for every peer: the user's request pays one round trip, not one per peer.
			$wpdb->query(
				$wpdb->prepare(
					'INSERT INTO ' . self::table() . ' (peer, act, login, event, created_at, next_attempt) VALUES ' . implode( ', ', $rows ), // phpcs:ignore WordPress.DB.PreparedSQL
					$values
				)
			);
			self::$queued = true;
		}
	}

	/** At the end of a request: answer the browser first, then deliver what is due. */
	public static function deliver_after_response(): void {
		$retry_at = (int) get_option( 'usersync_retry_at', 0 );
		if ( ! self::$queued && ( 0 === $retry_at || $retry_at > time() ) ) {
			return;
		}
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request();
		}
		self::deliver();
	}

	/**
	 * Health per peer: events waiting, and the last error of the oldest one (why it waits).
	 *
	 * @return array<string, array{waiting: int, error: string}>
	 */
	public static function health(): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results( "SELECT o.peer, h.n, o.last_error FROM $table o JOIN (SELECT peer, MIN(id) AS id, COUNT(*) AS n FROM $table GROUP BY peer) h ON o.id = h.id" ); // phpcs:ignore WordPress.DB.PreparedSQL
		$health = array();
		foreach ( $rows as $row ) {
			$health[ $row->peer ] = array( 'waiting' => (int) $row->n, 'error' => (string) $row->last_error );
		}
		return $health;
	}

	/**
	 * Delivers due events: each round sends the oldest due event of every peer at once; a peer
	 * that fails is left for later (its order kept). One run at a time per database.
	 */
	public static function deliver(): void {
		global $wpdb;
		$context = Usersync_Settings::context();
		if ( ! $context || ! $wpdb->get_var( "SELECT GET_LOCK('usersync_deliver', 0)" ) ) {
			return;
		}
		try {
			self::expire();
			$blocked = array();
			for ( $round = 0; $round < 500; $round++ ) {
				$heads = self::heads( $blocked );
				if ( ! $heads ) {
					break;
				}
				foreach ( self::send( $context, $heads ) as $id => $outcome ) {
					$row = $heads[ $id ];
					if ( 'retry' === $outcome['result'] ) {
						$blocked[ $row->peer ] = true;
						$wpdb->update(
							self::table(),
							array(
								'attempts'     => $row->attempts + 1,
								'next_attempt' => time() + self::backoff( $row->attempts + 1 ),
								'last_error'   => substr( $outcome['reason'], 0, 255 ),
							),
							array( 'id' => $id )
						);
					} else {
						$wpdb->delete( self::table(), array( 'id' => $id ) );
					}
					Usersync_Log::add( 'out', $row->peer, $row->act, $row->login, $outcome['result'], $outcome['reason'] );
				}
			}
			$next = $wpdb->get_var( 'SELECT MIN(next_attempt) FROM ' . self::table() ); // phpcs:ignore WordPress.DB.PreparedSQL
			update_option( 'usersync_retry_at', $next ? (int) $next : 0, true );
			Usersync_Log::prune();
		} finally {
			$wpdb->query( "SELECT RELEASE_LOCK('usersync_deliver')" );
		}
	}

	/** The oldest due event of each peer not blocked in this run. @return array<int, object> */
	private static function heads( array $blocked ): array {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT o.* FROM $table o JOIN (SELECT peer, MIN(id) AS id FROM $table GROUP BY peer) h ON o.id = h.id WHERE o.next_attempt <= %d", // phpcs:ignore WordPress.DB.PreparedSQL
				time()
			)
		);
		$heads = array();
		foreach ( $rows as $row ) {
			if ( ! isset( $blocked[ $row->peer ] ) ) {
				$heads[ (int) $row->id ] = $row;
			}
		}
		return $heads;
	}

	/** Drops events past the TTL, logging each. */
	private static function expire(): void {
		global $wpdb;
		$table   = self::table();
		$expired = $wpdb->get_results( $wpdb->prepare( "SELECT id, peer, act, login FROM $table WHERE created_at < %d", time() - self::ttl() ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		foreach ( $expired as $row ) {
			$wpdb->delete( $table, array( 'id' => $row->id ) );
			Usersync_Log::add( 'out', $row->peer, $row->act, $row->login, 'expired', 'undelivered after ' . self::ttl() . ' s' );
		}
	}

	/**
	 * Seals and POSTs each row to its peer, all at once (curl_multi).
	 *
	 * @param object[] $rows by id
	 * @return array<int, array{result: string, reason: string}> delivered, duplicate, refused or retry
	 */
	private static function send( Usersync\Context $context, array $rows ): array {
		$multi   = curl_multi_init();
		$handles = array();
		$results = array();
		foreach ( $rows as $id => $row ) {
			$peer = Usersync_Settings::peer( $row->peer );
			try {
				$built = $peer ? $context->build( json_decode( $row->event, true ), $row->peer ) : array();
			} catch ( Usersync\Exception $e ) {
				$results[ $id ] = array( 'result' => 'refused', 'reason' => $e->reason );
				continue;
			}
			if ( ! $built ) {
				$results[ $id ] = array( 'result' => 'refused', 'reason' => 'no longer sent to this peer' );
				continue;
			}
			$ch = curl_init( Usersync_Settings::inbox_url( $peer ) );
			curl_setopt_array(
				$ch,
				array(
					CURLOPT_POST           => true,
					CURLOPT_POSTFIELDS     => $built[0]['message'],
					CURLOPT_HTTPHEADER     => array( 'Content-Type: text/plain', 'Expect:' ),
					CURLOPT_RETURNTRANSFER => true,
					CURLOPT_CONNECTTIMEOUT => 3,
					CURLOPT_TIMEOUT        => 15,
					CURLOPT_FOLLOWLOCATION => false,
					CURLOPT_PROTOCOLS      => CURLPROTO_HTTP | CURLPROTO_HTTPS,
				)
			);
			curl_multi_add_handle( $multi, $ch );
			$handles[ $id ] = $ch;
		}
		do {
			$status = curl_multi_exec( $multi, $running );
			if ( $running ) {
				curl_multi_select( $multi, 1.0 );
			}
		} while ( $running && CURLM_OK === $status );
		foreach ( $handles as $id => $ch ) {
			$code = (int) curl_getinfo( $ch, CURLINFO_RESPONSE_CODE );
			$body = json_decode( (string) curl_multi_getcontent( $ch ), true );
			$said = is_array( $body ) ? (string) ( $body['result'] ?? '' ) : '';
			if ( 200 === $code && in_array( $said, array( 'applied', 'skipped', 'duplicate' ), true ) ) {
				$results[ $id ] = array( 'result' => 'duplicate' === $said ? 'duplicate' : 'delivered', 'reason' => 'skipped' === $said ? 'nothing to do there' : '' );
			} elseif ( $code >= 400 && $code < 500 && 'refused' === $said ) {
				$results[ $id ] = array( 'result' => 'refused', 'reason' => (string) ( $body['reason'] ?? '' ) );
			} else {
				$error          = curl_error( $ch );
				$results[ $id ] = array( 'result' => 'retry', 'reason' => $error ? $error : "HTTP $code" );
			}
			curl_multi_remove_handle( $multi, $ch );
			curl_close( $ch );
		}
		curl_multi_close( $multi );
		return $results;
	}
}
