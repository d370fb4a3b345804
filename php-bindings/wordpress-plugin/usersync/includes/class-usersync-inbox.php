<?php
/**
 * The endpoint peers deliver to: POST /wp-json/usersync/v1/inbox (or ?rest_route=…) with the
 * sealed message as the body. The library opens and checks it; then, in one database
 * transaction, its (iss, eid) is recorded — a second copy of the event is answered "duplicate" —, the library's
 * target check decides from the local account's facts what the message may do, and the verdict
 * is applied. Answers: 200 applied | 200 skipped | 200 duplicate | 4xx refused with the reason
 * | 503 busy (a create waited 10 s for the create lock: the sender retries) | 200 pong (a ping,
 * recorded like any action, answered with the sealed pong: the link health check) | 503
 * unavailable (not_configured, library_unavailable, config_invalid). Every answer names this
 * site's id and clock (public facts a health check shows when the clocks or ids differ).
 * ip_allow sees the client address the library believes (X-Forwarded-For only from
 * USERSYNC_TRUSTED_PROXIES).
 */

defined( 'ABSPATH' ) || exit;

/** A query failed while a change was applied: it is rolled back and the sender retries. */
final class Usersync_Database_Failed extends RuntimeException {
}

final class Usersync_Inbox {

	/** @var bool the change being applied has sent a write (roll_back() must forget what the cache kept of it) */
	private static $wrote = false;

	/** Seconds an applied event's id is remembered: longer than any sender retries (3 days by default). */
	const EVENT_MEMORY = 7 * DAY_IN_SECONDS;

	public static function register_route(): void {
		register_rest_route(
			'usersync/v1',
			'/inbox',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				// The message authenticates itself; there is no WordPress user behind it.
				'permission_callback' => '__return_true',
			)
		);
	}

	private static function answer( int $status, string $result, string $reason = '', array $more = array() ): WP_REST_Response {
		$facts = array( 'site' => Usersync_Settings::site_id(), 'time' => time() );
		return new WP_REST_Response( array_filter( array( 'result' => $result, 'reason' => $reason ) + $more + $facts ), $status );
	}

	/** Why this site cannot open messages, as a reason code (details stay in the admin notice). */
	private static function unavailable(): string {
		if ( '' === Usersync_Settings::site_id() ) {
			return 'not_configured';
		}
		try {
			Usersync\Library::get();
		} catch ( Throwable $e ) {
			return 'library_unavailable';
		}
		return 'config_invalid';
	}

	/** The address the request came from, as the library believes it (trusted proxies). */
	private static function client_ip( Usersync\Context $context ): ?string {
		$remote = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		$xff    = isset( $_SERVER['HTTP_X_FORWARDED_FOR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['HTTP_X_FORWARDED_FOR'] ) ) : null;
		try {
			return '' === $remote ? null : $context->clientIp( $remote, $xff );
		} catch ( Usersync\Exception $e ) {
			return null; // not an address: fails any ip_allow
		}
	}

	/**
	 * The link health check (docs/protocol.md §16): a ping the library opened is recorded like
	 * any action (a replay is a duplicate, unanswered) and answered with the sealed pong.
	 */
	private static function answer_ping( Usersync\Context $context, array $opened ): WP_REST_Response {
		global $wpdb;
		$seen = Usersync_Schema::tables()['seen'];
		$recorded = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, msg_id, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['eid'], time() + self::EVENT_MEMORY ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		if ( false === $recorded ) {
			return self::answer( 503, 'busy', 'the replay record could not be written' ); // never answered unrecorded
		}
		if ( 1 !== $recorded ) {
			Usersync_Log::add( 'in', $opened['iss'], 'ping', '', 'duplicate', '', $opened['eid'] );
			return self::answer( 200, 'duplicate' );
		}
		try {
			$pong = $context->pong( $opened );
		} catch ( Usersync\Exception $e ) {
			return self::answer( 500, 'error', $e->reason );
		}
		Usersync_Log::add( 'in', $opened['iss'], 'ping', '', 'answered', '', $opened['eid'] );
		return self::answer( 200, 'pong', '', array( 'message' => $pong['message'] ) );
	}

	/** The HTTP status of a refusal: every refusal is final, so the sender stops retrying. */
	private static function refusal_status( string $reason ): int {
		switch ( $reason ) {
			case 'authentication_failed':
			case 'ip_not_allowed':
			case 'protected_account':
				return 403;
			case 'unknown_account':
				return 404;
			case 'identity_conflict':
				return 409;
			default:
				return 400;
		}
	}

	public static function receive( WP_REST_Request $request ): WP_REST_Response {
		global $wpdb;
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			return self::answer( 503, 'unavailable', self::unavailable() );
		}
		$remote = self::client_ip( $context );
		try {
			$opened = $context->openAction( $request->get_body(), $remote );
		} catch ( Usersync\Exception $e ) {
			Usersync_Log::add( 'in', '', '', '', 'refused', $e->reason . ( $remote ? " from $remote" : '' ) );
			// The sender learns the address it was seen from: ip_allow is written with it.
			return self::answer( self::refusal_status( $e->reason ), 'refused', $e->reason, 'ip_not_allowed' === $e->reason ? array( 'seen_from' => (string) $remote ) : array() );
		}
		if ( 'ping' === $opened['act'] ) {
			return self::answer_ping( $context, $opened );
		}
		if ( in_array( $opened['act'], array( 'probe', 'sync' ), true ) ) {
			return Usersync_Sync_Receiver::receive( $opened, $context ); // the initial sync
		}
		$login = (string) ( $opened['data']['login'] ?? '' );
		$seen  = Usersync_Schema::tables()['seen'];
		// Creates are serialised: wp_users has no unique key on login or email. One that cannot
		// take the lock is not applied unserialised: the sender retries it.
		$lock = null;
		if ( 'create' === $opened['act'] ) {
			$lock = self::lock_creates();
			if ( null === $lock ) {
				Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'busy', 'another create held the lock for 10 s', $opened['eid'] );
				return self::answer( 503, 'busy', 'another create is being applied here' );
			}
		}
		self::$wrote = false;
		$wpdb->query( 'START TRANSACTION' );
		try {
			// The event, not the message, is what must apply once: a retry re-seals it with a new
			// jti but the same eid. Kept for as long as a sender retries.
			$recorded = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, msg_id, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['eid'], time() + self::EVENT_MEMORY ) ); // phpcs:ignore WordPress.DB.PreparedSQL
			if ( false === $recorded ) {
				throw new Usersync_Database_Failed( $wpdb->last_error );
			}
			if ( 1 !== $recorded ) {
				$wpdb->query( 'ROLLBACK' );
				Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'duplicate', '', $opened['eid'] );
				return self::answer( 200, 'duplicate' );
			}
			// The library decides which local account the message may touch, from what is here now.
			list( $facts, $user ) = Usersync_Links::facts( $opened );
			$verdict              = $context->checkTarget( $opened, $facts );
			self::stopping_on_database_errors( static fn() => Usersync_Events::applying( static fn() => Usersync_Apply::apply( $opened, $verdict, $user ) ) );
			// The log line is part of the change: one commit (one flush to disk) for both.
			self::log_outcome( $opened, $verdict, $login );
			if ( false === $wpdb->query( 'COMMIT' ) ) {
				throw new Usersync_Database_Failed( $wpdb->last_error );
			}
		} catch ( Usersync\Exception $e ) {
			$wpdb->query( 'ROLLBACK' );
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'refused', $e->reason, $opened['eid'] );
			return self::answer( self::refusal_status( $e->reason ), 'refused', $e->reason );
		} catch ( Usersync_Apply_Failed $e ) {
			self::roll_back();
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'refused', $e->getMessage(), $opened['eid'] );
			return self::answer( 422, 'refused', 'apply_failed: ' . $e->getMessage() );
		} catch ( Usersync_Database_Failed $e ) {
			// A deadlock or lock wait (receivers apply concurrently): nothing is kept, the
			// sender retries. Never "applied" over a half-written change.
			self::roll_back();
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'busy', 'database: ' . $e->getMessage(), $opened['eid'] );
			return self::answer( 503, 'busy', 'the database refused a write: retry' );
		} catch ( Throwable $e ) {
			self::roll_back();
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'error', get_class( $e ), $opened['eid'] );
			return self::answer( 500, 'error' );
		} finally {
			if ( null !== $lock ) {
				$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
			}
		}
		if ( 'skip' === $verdict['do'] ) {
			self::prune_seen();
			return self::answer( 200, 'skipped' );
		}
		/**
		 * A peer's change was applied and committed here.
		 *
		 * @param array $opened  the opened action (act, iss, eid, data)
		 * @param array $verdict the library's target check
		 */
		do_action( 'usersync_after_apply', $opened, $verdict );
		self::prune_seen();
		return self::answer( 200, 'applied' );
	}

	/**
	 * Logs an applied (or skipped) change inside its transaction. A failed write stops it like
	 * any failed query of the change: after a deadlock InnoDB has rolled the change back, and
	 * it must not be answered "applied".
	 */
	private static function log_outcome( array $opened, array $verdict, string $login ): void {
		global $wpdb;
		if ( 'skip' === $verdict['do'] ) {
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'skipped', 'no such account here: nothing to do', $opened['eid'] );
		} else {
			$dropped = isset( $opened['dropped'] ) ? wp_json_encode( $opened['dropped'] ) : '';
			Usersync_Log::add( 'in', $opened['iss'], $opened['act'], $login, 'applied', $dropped ? "dropped by policy: $dropped" : '', $opened['eid'] );
		}
		if ( '' !== $wpdb->last_error ) {
			throw new Usersync_Database_Failed( $wpdb->last_error );
		}
	}

	/**
	 * Undoes a change that was (partly) applied: the transaction, and — once it had written
	 * anything — what WordPress's object cache kept of it (a persistent cache would go on naming
	 * an account that is not there, and the sender's retry would be refused as taken). Refused
	 * before its first write (most refusals: WordPress's checks, a veto), it changed nothing the
	 * cache could hold: a peer's refused messages do not empty the cache everything else uses.
	 */
	private static function roll_back(): void {
		global $wpdb;
		$wpdb->query( 'ROLLBACK' );
		if ( self::$wrote ) {
			wp_cache_flush();
		}
	}

	/**
	 * Runs $apply and stops it at the first failed query. WordPress's functions ignore a failed
	 * write, and after a deadlock InnoDB has already rolled the transaction back, so every later
	 * statement would commit on its own: half a change, answered "applied". The `query` filter
	 * runs before each query, so it sees the previous one's error before anything else is sent.
	 */
	private static function stopping_on_database_errors( callable $apply ): void {
		global $wpdb;
		$stop = static function ( $query ) use ( $wpdb ) {
			if ( '' !== $wpdb->last_error ) {
				throw new Usersync_Database_Failed( $wpdb->last_error );
			}
			self::$wrote = self::$wrote || ! preg_match( '/^\s*(SELECT|SHOW)\b/i', (string) $query );
			return $query;
		};
		$wpdb->last_error = '';
		add_filter( 'query', $stop );
		try {
			$apply();
		} catch ( Usersync_Apply_Failed $e ) {
			// Refused after a failed write (e.g. the link's insert): the database's failure, retried
			// — unless a unique key refused it (a real conflict, final).
			if ( '' !== $wpdb->last_error && ! str_starts_with( $wpdb->last_error, 'Duplicate entry' ) ) {
				throw new Usersync_Database_Failed( $wpdb->last_error );
			}
			throw $e;
		} finally {
			remove_filter( 'query', $stop );
		}
		if ( '' !== $wpdb->last_error ) {
			throw new Usersync_Database_Failed( $wpdb->last_error );
		}
	}

	/**
	 * Takes this site's create lock, waiting up to 10 s. MariaDB's named locks are server-wide,
	 * shared by every site on the server, and at most 64 characters: the name hashes the
	 * database and table prefix (as the outbox's do), so no two sites share it however long
	 * their names. @return ?string the lock's name, or null when it was not free in time
	 */
	public static function lock_creates(): ?string {
		global $wpdb;
		$name = 'usersync_create:' . substr( hash( 'sha256', DB_NAME . '|' . $wpdb->prefix ), 0, 40 );
		return '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 10)', $name ) ) ? $name : null;
	}

	/** Forgets replay records once their messages could no longer open anyway. */
	private static function prune_seen(): void {
		global $wpdb;
		if ( wp_rand( 1, 50 ) === 1 ) {
			$seen = Usersync_Schema::tables()['seen'];
			$wpdb->query( $wpdb->prepare( "DELETE FROM $seen WHERE exp < %d", time() - 600 ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
	}
}
