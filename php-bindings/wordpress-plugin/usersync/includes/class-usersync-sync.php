<?php
/**
 * The initial sync, this site's side (docs/protocol.md §18): the accounts that existed here
 * before a link are reconciled with one peer by an administrator, in two steps.
 *
 * 1. report(): the dry run. Every local account is offered to the library in batches; it says
 *    which may be offered to the peer (privileged accounts only when the send policy names their
 *    roles exactly), and the peer — asked by a sealed probe for exactly those logins and emails,
 *    never for its user list — says for each what the sync would do there: create it, link it
 *    (login and email match one unlinked, unprotected account), nothing (linked already), or a
 *    collision it will not touch. The report is stored, one row per account.
 * 2. step(), repeated by run(), the CLI or the settings page's progress bar: the next batch of
 *    the report's creates and links, each account with the uid it is linked by — minted here once,
 *    stored with the report, so a batch sent again after an interruption changes nothing twice —
 *    and the profile, roles, meta and password hash the send policy lets out. Up to IN_FLIGHT
 *    steps run at once (the progress bar keeps two going: this site reads and seals the next
 *    batch while the peer applies the last), each on a batch of its own.
 *    The peer classifies every account again, with what it holds at that moment, and applies only
 *    what still holds; an account that changed here since the report is not sent. Answered
 *    accounts are linked here by the same uid.
 *
 * The rules are the library's; this class reads accounts, stores the report and moves batches.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Sync {

	/** Accounts per probe or batch (the library takes at most 1000 in one message). */
	const BATCH = 1000;

	/**
	 * Steps of one run at a time (each holds a slot, a named lock): while the peer applies one
	 * batch, this site reads and seals the next.
	 */
	const IN_FLIGHT = 2;

	/** Report verdicts the run carries out. */
	const TO_DO = array( 'create', 'link' );

	public static function table(): string {
		return Usersync_Schema::tables()['sync'];
	}

	/** The peer's configured entry and the library, or an exception in plain words. */
	private static function context_for( string $peer ): Usersync\Context {
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			throw new RuntimeException( (string) Usersync_Settings::problem() );
		}
		if ( ! Usersync_Settings::peer( $peer ) ) {
			/* translators: %s: peer id */
			throw new RuntimeException( sprintf( __( 'No peer %s is configured.', 'usersync' ), $peer ) );
		}
		return $context;
	}

	/**
	 * Local accounts as the library reads them: the record a create would carry (what
	 * Usersync_Events sends), the uid of each linked one, whether it is a super admin.
	 *
	 * @param WP_User[] $users by id
	 * @return array[] by id
	 */
	public static function records( array $users ): array {
		$uids    = self::uids( array_keys( $users ) );
		$records = array();
		foreach ( $users as $id => $user ) {
			$records[ $id ] = self::with_identity( Usersync_Events::user_data( $user ), $id, $uids );
		}
		return $records;
	}

	/** A record with what the library's identity rules read besides it: its uid, if linked, and super admin. */
	private static function with_identity( array $record, int $id, array $uids ): array {
		if ( isset( $uids[ $id ] ) ) {
			$record['uid'] = $uids[ $id ];
		}
		if ( is_multisite() && is_super_admin( $id ) ) {
			$record['super_admin'] = true;
		}
		return $record;
	}

	/** The uids of those of these accounts that are linked, in one query. @return array<int, string> */
	private static function uids( array $ids ): array {
		global $wpdb;
		if ( ! $ids ) {
			return array();
		}
		$uids = array();
		$in   = implode( ',', array_map( 'intval', $ids ) );
		foreach ( $wpdb->get_results( 'SELECT user_id, uid FROM ' . Usersync_Schema::tables()['links'] . " WHERE user_id IN ($in)" ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$uids[ (int) $r->user_id ] = (string) $r->uid;
		}
		return $uids;
	}

	/** A named lock per site and peer: the peer's (`''`) or one of its run's slots (`':0'`, …). */
	private static function lock_name( string $peer, string $which ): string {
		global $wpdb;
		return 'usersync_sync:' . substr( hash( 'sha256', DB_NAME . '|' . $wpdb->prefix . '|' . $peer ), 0, 40 ) . $which;
	}

	private static function lock( string $peer, string $which = '', int $wait = 0 ): bool {
		global $wpdb;
		return '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', self::lock_name( $peer, $which ), $wait ) );
	}

	private static function unlock( string $peer, string $which = '' ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name( $peer, $which ) ) );
	}

	/** The peer's lock and every slot: a report runs alone. */
	private static function lock_all( string $peer ): bool {
		$held = array();
		foreach ( array_merge( array( '' ), self::slots() ) as $which ) {
			if ( ! self::lock( $peer, $which ) ) {
				foreach ( $held as $h ) {
					self::unlock( $peer, $h );
				}
				return false;
			}
			$held[] = $which;
		}
		return true;
	}

	private static function unlock_all( string $peer ): void {
		foreach ( array_merge( array( '' ), self::slots() ) as $which ) {
			self::unlock( $peer, $which );
		}
	}

	/** @return string[] the slots' lock suffixes */
	private static function slots(): array {
		return array_map( static fn( $i ) => ":$i", range( 0, self::IN_FLIGHT - 1 ) );
	}

	/**
	 * The dry run: a new report for $peer (replacing the last one), made in batches. Changes
	 * nothing here or there. $progress is called with (accounts done, accounts in all).
	 *
	 * @return array the summary (see summary())
	 */
	public static function report( string $peer, int $batch = self::BATCH, ?callable $progress = null ): array {
		global $wpdb;
		$context = self::context_for( $peer );
		if ( ! self::lock_all( $peer ) ) {
			throw new RuntimeException( __( 'An initial sync with this peer is running: wait for it to end.', 'usersync' ) );
		}
		try {
			$table = self::table();
			// uids the last report minted for what its run had still to do: the run may have sent
			// some before it was interrupted and the peer applied them, so the new report asks with
			// them and the next run sends them again.
			$kept = array();
			foreach ( $wpdb->get_results( $wpdb->prepare( "SELECT user_id, uid FROM $table WHERE peer = %s AND state = '' AND uid <> ''", $peer ) ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
				$kept[ (int) $r->user_id ] = (string) $r->uid;
			}
			$wpdb->delete( $table, array( 'peer' => $peer ) );
			$total = (int) $wpdb->get_var( "SELECT COUNT(*) FROM $wpdb->users" );
			$batch = max( 1, min( self::BATCH, $batch ) );
			$last  = 0;
			$done  = 0;
			$now   = time();
			// One probe in flight while the next is read and sealed here: the peer answers one
			// while this site prepares the other.
			$pending = null;
			while ( true ) {
				$ids  = array_map( 'intval', $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM $wpdb->users WHERE ID > %d ORDER BY ID LIMIT %d", $last, $batch ) ) );
				$next = $ids ? self::probe( $context, $peer, self::identities( $ids ), $kept ) : null;
				$last = $ids ? end( $ids ) : $last;
				if ( $pending ) {
					self::store( $peer, $pending['records'], self::classify( $context, $peer, $pending ), $now, $kept );
					$done += count( $pending['records'] );
					if ( $progress ) {
						$progress( $done, $total );
					}
				}
				if ( ! $next ) {
					break;
				}
				$pending = $next;
			}
			delete_option( self::cursor_option( $peer ) );
		} finally {
			self::unlock_all( $peer );
		}
		return self::summary( $peer );
	}

	/**
	 * What the dry run offers of these accounts, read in three queries without loading them as
	 * WP_User objects: login, email, password hash, every profile field (from the users table
	 * and the user meta WordPress keeps them in), roles as WP_User reads them (the keys of the
	 * capabilities that are roles), uid when linked, super admin. Only the meta is left to the
	 * batch: an account whose meta cannot be sent is refused by the run, never merged.
	 *
	 * @return array[] records by id
	 */
	private static function identities( array $ids ): array {
		global $wpdb;
		$in      = implode( ',', array_map( 'intval', $ids ) );
		$caps    = $wpdb->get_blog_prefix() . 'capabilities';
		$fields  = Usersync\WordPressSite::profileFields();
		$keys    = array_merge( array( $caps ), array_values( $fields ) ); // the fields' that are columns match no meta
		$meta    = array();
		$records = array();
		$place   = implode( ', ', array_fill( 0, count( $keys ), '%s' ) );
		foreach ( $wpdb->get_results( $wpdb->prepare( "SELECT user_id, meta_key, meta_value FROM $wpdb->usermeta WHERE user_id IN ($in) AND meta_key IN ($place) ORDER BY umeta_id", $keys ) ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$meta[ (int) $r->user_id ][ $r->meta_key ] ??= (string) $r->meta_value; // the first row, as get_user_meta( …, true )
		}
		$uids  = self::uids( $ids );
		$roles = wp_roles();
		foreach ( $wpdb->get_results( "SELECT * FROM $wpdb->users WHERE ID IN ($in) ORDER BY ID", ARRAY_A ) as $row ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$id   = (int) $row['ID'];
			$mine = $meta[ $id ] ?? array();
			// The roles array as WordPress stores it (serialized): read as WP_User reads it, never
			// into an object.
			$held   = isset( $mine[ $caps ] ) && is_serialized( $mine[ $caps ] ) ? unserialize( trim( $mine[ $caps ] ), array( 'allowed_classes' => false ) ) : array(); // phpcs:ignore Generic.PHP.ForbiddenFunctions.Found, WordPress.PHP.DiscouragedPHPFunctions -- allowed_classes false
			$record = array(
				'login'  => (string) $row['user_login'],
				'email'  => (string) $row['user_email'],
				'fields' => array(),
				'roles'  => array_values( array_filter( array_keys( is_array( $held ) ? $held : array() ), array( $roles, 'is_role' ) ) ),
			);
			foreach ( $fields as $field => $property ) {
				$value = array_key_exists( $property, $row ) ? $row[ $property ] : ( $mine[ $property ] ?? '' );
				if ( ! is_serialized( (string) $value ) ) { // one WordPress would unserialize is the run's to read
					$record['fields'][ $field ] = (string) $value;
				}
			}
			if ( '' !== (string) $row['user_pass'] ) {
				$record['pass_hash'] = (string) $row['user_pass'];
			}
			$records[ $id ] = self::with_identity( $record, $id, $uids );
		}
		return $records;
	}

	/** The accounts with these ids, caches primed in a few queries. @return WP_User[] by id */
	private static function users( array $ids ): array {
		cache_users( $ids );
		$users = array();
		foreach ( $ids as $id ) {
			$user = get_userdata( $id );
			if ( $user ) {
				$users[ $id ] = $user;
			}
		}
		return $users;
	}

	/** Keeps memory flat over 100,000 accounts: what was cached for a batch goes. */
	private static function forget( array $ids ): void {
		foreach ( $ids as $id ) {
			clean_user_cache( $id );
		}
	}

	/** The probe of these accounts, sent (the library's local verdicts with it). @return array for classify() */
	private static function probe( Usersync\Context $context, string $peer, array $accounts, array $kept ): array {
		$asked = $accounts; // with the uids the last report minted (the accounts stay as read, for store())
		foreach ( $asked as $id => $record ) {
			if ( ! isset( $record['uid'] ) && isset( $kept[ $id ] ) ) {
				$asked[ $id ]['uid'] = $kept[ $id ];
			}
		}
		$probe = $context->syncProbe( $peer, array_values( $asked ) );
		$sent  = null === $probe['message'] ? null : self::ask_start( $peer, $probe );
		return array( 'records' => $accounts, 'probe' => $probe, 'sent' => $sent );
	}

	/**
	 * The report's verdict for each account of a probe(): the library's reason when it may not
	 * be offered, else the peer's answer. @return array<int, array{0: string, 1: string}> by id
	 */
	private static function classify( Usersync\Context $context, string $peer, array $probed ): array {
		$probe   = $probed['probe'];
		$answers = null === $probed['sent'] ? array() : self::ask_finish( $context, $peer, $probe, $probed['sent'], 'probe' );
		$rows    = array();
		$next    = 0;
		foreach ( array_keys( $probed['records'] ) as $i => $id ) {
			$local       = $probe['local'][ $i ];
			$outcome     = 'ask' === $local['do'] ? ( $answers[ $next++ ] ?? array( 'do' => 'collision', 'reason' => 'no_answer' ) ) : $local;
			$rows[ $id ] = array( (string) $outcome['do'], (string) ( $outcome['reason'] ?? '' ) );
		}
		return $rows;
	}

	/** Writes a batch's report rows in one statement. */
	private static function store( string $peer, array $records, array $rows, int $now, array $kept ): void {
		global $wpdb;
		$values = array();
		$place  = array();
		foreach ( $rows as $id => list( $verdict, $reason ) ) {
			$place[] = '(%s, %d, %s, %s, %s, %s, %s, %s, %d)';
			$linked  = isset( $records[ $id ]['uid'] );
			$uid     = $linked ? '' : ( $kept[ $id ] ?? '' ); // '' for none
			// State '' marks what the run has still to do, '-' what it leaves alone; an account an
			// interrupted run left linked there but not yet here is still to do (linked here then).
			$unfinished = 'linked' === $verdict && '' !== $uid;
			$state      = in_array( $verdict, self::TO_DO, true ) || $unfinished ? '' : '-';
			if ( '' === $state && '' === $uid && ! $linked ) {
				$uid = Usersync\Secret::uid(); // the uid the run links it by, stored before any batch leaves
			}
			array_push( $values, $peer, $id, $records[ $id ]['login'], $records[ $id ]['email'], $unfinished ? 'link' : $verdict, $reason, $uid, $state, $now );
		}
		if ( $place ) {
			$wpdb->query( $wpdb->prepare( 'INSERT INTO ' . self::table() . ' (peer, user_id, login, email, verdict, reason, uid, state, reported_at) VALUES ' . implode( ', ', $place ), $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
	}

	/**
	 * POSTs a sealed probe or batch to the peer's inbox and opens its sealed answer (which must
	 * answer exactly this message). The request is the one delivery and the link check make
	 * (Usersync_Outbox::post_now: WordPress's HTTP arguments and filters, CA bundle, proxy), with
	 * time for the peer to apply a whole batch. @return array[] the answer's results
	 */
	private static function ask( Usersync\Context $context, string $peer, array $request, string $what ): array {
		return self::ask_finish( $context, $peer, $request, self::ask_start( $peer, $request ), $what );
	}

	/** ask() in two halves: the request sent (see Usersync_Outbox::post_start()). */
	private static function ask_start( string $peer, array $request ): array {
		return Usersync_Outbox::post_start( Usersync_Settings::inbox_url( Usersync_Settings::peer( $peer ) ), $request['message'], max( 30, Usersync_Outbox::timeout() ) );
	}

	/** @return array[] the answer's results to a request from ask_start() */
	private static function ask_finish( Usersync\Context $context, string $peer, array $request, array $sent, string $what ): array {
		$http   = Usersync_Outbox::post_wait( $sent );
		$answer = json_decode( $http['body'], true );
		if ( 200 !== $http['status'] || ! is_array( $answer ) || 'answered' !== ( $answer['result'] ?? '' ) || ! is_string( $answer['answer'] ?? null ) ) {
			$why = is_array( $answer ) && isset( $answer['reason'] ) ? (string) $answer['reason'] : ( '' !== $http['error'] ? $http['error'] : 'HTTP ' . $http['status'] );
			/* translators: 1: probe or batch, 2: the reason */
			throw new RuntimeException( sprintf( __( 'The peer did not answer the %1$s: %2$s', 'usersync' ), $what, $why ) );
		}
		$opened = $context->openAction( $answer['answer'], '' !== $http['ip'] ? $http['ip'] : null );
		if ( 'answer' !== $opened['act'] || $opened['iss'] !== $peer || ( $opened['data']['to'] ?? '' ) !== $request['jti'] ) {
			throw new RuntimeException( __( 'The peer answered another message.', 'usersync' ) );
		}
		return $opened['data']['results'];
	}

	/**
	 * Carries out the next batch of the report: at most $batch of its creates and links.
	 *
	 * @return array the progress after the batch (see progress())
	 */
	public static function step( string $peer, int $batch = self::BATCH ): array {
		$context = self::context_for( $peer );
		$busy    = __( 'An initial sync with this peer is running: wait for it to end.', 'usersync' );
		// The peer's lock only while a batch is claimed (a report holds it throughout).
		if ( ! self::lock( $peer, '', 10 ) ) {
			throw new RuntimeException( $busy );
		}
		$slot = null;
		try {
			foreach ( self::slots() as $which ) {
				if ( self::lock( $peer, $which ) ) {
					$slot = $which;
					break;
				}
			}
			$rows = null === $slot ? null : self::claim( $peer, $slot, max( 1, min( self::BATCH, $batch ) ) );
		} finally {
			self::unlock( $peer );
		}
		if ( null === $slot ) {
			throw new RuntimeException( $busy );
		}
		try {
			if ( $rows ) {
				self::send( $context, $peer, $rows );
			}
		} finally {
			self::unlock( $peer, $slot );
		}
		return self::progress( $peer );
	}

	/** The option holding the highest account id claimed by a step still in flight. */
	private static function cursor_option( string $peer ): string {
		return 'usersync_sync_cursor_' . substr( hash( 'sha256', $peer ), 0, 16 );
	}

	/**
	 * The next batch still to do that no other step has in flight (called holding the peer's
	 * lock and a slot). Steps in flight took the accounts up to the cursor; with none in flight,
	 * everything still to do is free again — what a step that died left undone included.
	 */
	private static function claim( string $peer, string $slot, int $batch ): array {
		global $wpdb;
		$others = false;
		foreach ( array_diff( self::slots(), array( $slot ) ) as $which ) {
			$others = $others || null !== $wpdb->get_var( $wpdb->prepare( 'SELECT IS_USED_LOCK(%s)', self::lock_name( $peer, $which ) ) );
		}
		$after = $others ? (int) get_option( self::cursor_option( $peer ), 0 ) : 0;
		$rows  = $wpdb->get_results( $wpdb->prepare( 'SELECT * FROM ' . self::table() . " WHERE peer = %s AND state = '' AND user_id > %d ORDER BY user_id LIMIT %d", $peer, $after, $batch ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		if ( $rows ) {
			update_option( self::cursor_option( $peer ), (int) end( $rows )->user_id, false );
		}
		return $rows;
	}

	/**
	 * The run's progress alone — accounts in the run, done, refused, remaining — counted on the
	 * report's (peer, state) index, cheap after every batch of a long run.
	 */
	public static function progress( string $peer ): array {
		global $wpdb;
		$n = array( '' => 0, 'done' => 0, 'refused' => 0 );
		foreach ( array_keys( $n ) as $state ) {
			$n[ $state ] = (int) $wpdb->get_var( $wpdb->prepare( 'SELECT COUNT(*) FROM ' . self::table() . ' WHERE peer = %s AND state = %s', $peer, $state ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
		return array(
			'peer'      => $peer,
			'total'     => $n[''] + $n['done'] + $n['refused'],
			'done'      => $n['done'],
			'refused'   => $n['refused'],
			'remaining' => $n[''],
		);
	}

	/** Runs the report to its end (or until a batch changes nothing); $progress gets each batch's progress. */
	public static function run( string $peer, int $batch = self::BATCH, ?callable $progress = null ): array {
		$summary = self::progress( $peer );
		while ( $summary['remaining'] > 0 ) {
			$before  = $summary['remaining'];
			$summary = self::step( $peer, $batch );
			if ( $progress ) {
				$progress( $summary );
			}
			if ( $summary['remaining'] >= $before ) {
				break;
			}
		}
		return $summary;
	}

	/** Sends one batch of report rows and records each account's outcome. */
	private static function send( Usersync\Context $context, string $peer, array $rows ): void {
		global $wpdb;
		$users   = self::users( array_map( static fn( $r ) => (int) $r->user_id, $rows ) );
		$records = self::records( $users );
		$sent    = array();
		$changed = array();
		$uids    = array();
		foreach ( $rows as $row ) {
			$id   = (int) $row->user_id;
			$user = $users[ $id ] ?? null;
			// Only what the report showed: an account deleted or renamed since is not sent.
			if ( ! $user || $user->user_login !== $row->login || strtolower( $user->user_email ) !== strtolower( $row->email ) ) {
				$changed[ $id ] = 'changed_since_report';
				continue;
			}
			// The uid the account is linked by: its own, or the report's (a report made before the
			// report minted them has none: one is minted now and stored before the batch leaves).
			$uid = $records[ $id ]['uid'] ?? ( '' !== (string) $row->uid ? (string) $row->uid : null );
			if ( null === $uid ) {
				$uid         = Usersync\Secret::uid();
				$uids[ $id ] = $uid;
			}
			$sent[ $id ] = array( 'op' => $row->verdict, 'uid' => $uid ) + $records[ $id ];
		}
		self::forget( array_keys( $users ) );
		self::settle( $peer, 'refused', $changed );
		self::keep_uids( $peer, $uids );
		if ( $sent ) {
			self::deliver( $context, $peer, $sent );
		}
	}

	/** Stores the batch's uids with its report rows, in one statement, before the batch leaves. */
	private static function keep_uids( string $peer, array $uids ): void {
		global $wpdb;
		if ( ! $uids ) {
			return;
		}
		$cases = array();
		$vals  = array();
		foreach ( $uids as $id => $uid ) {
			$cases[] = 'WHEN %d THEN %s';
			array_push( $vals, $id, $uid );
		}
		$in = implode( ',', array_map( 'intval', array_keys( $uids ) ) );
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . self::table() . ' SET uid = CASE user_id ' . implode( ' ', $cases ) . " END WHERE peer = %s AND user_id IN ($in)", array_merge( $vals, array( $peer ) ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/**
	 * Delivers accounts (by local id) as one batch, or as two halves when they do not fit one
	 * message; each outcome is recorded and answered accounts are linked here.
	 */
	private static function deliver( Usersync\Context $context, string $peer, array $sent ): void {
		try {
			$batch = $context->syncBatch( $peer, array_values( $sent ) );
		} catch ( Usersync\Exception $e ) {
			if ( 'too_large' === $e->reason && count( $sent ) > 1 ) {
				$half = (int) ceil( count( $sent ) / 2 );
				self::deliver( $context, $peer, array_slice( $sent, 0, $half, true ) );
				self::deliver( $context, $peer, array_slice( $sent, $half, null, true ) );
				return;
			}
			throw $e;
		}
		$ids     = array_keys( $sent );
		$refused = array();
		foreach ( $batch['local'] as $i => $local ) {
			if ( 'ask' !== $local['do'] ) {
				$refused[ $ids[ $i ] ] = (string) $local['reason'];
				unset( $sent[ $ids[ $i ] ] );
			}
		}
		self::settle( $peer, 'refused', $refused );
		if ( null === $batch['message'] ) {
			return;
		}
		$by_uid = array();
		foreach ( $sent as $id => $record ) {
			$by_uid[ $record['uid'] ] = $id;
		}
		$results = self::ask( $context, $peer, $batch, 'batch' );
		/**
		 * Fires when the peer has applied a batch, before its outcomes are recorded here (the
		 * end-to-end test interrupts a run at this point).
		 *
		 * @param string $peer the peer
		 * @param int[]  $ids  the local accounts in the batch
		 */
		do_action( 'usersync_sync_batch_answered', $peer, array_values( $by_uid ) );
		$links   = array();
		$done    = array();
		$refused = array();
		foreach ( $results as $result ) {
			$id = $by_uid[ $result['uid'] ?? '' ] ?? null;
			if ( null === $id ) {
				continue;
			}
			if ( in_array( $result['do'], array( 'create', 'link', 'linked' ), true ) ) {
				$links[ $id ] = $result['uid'];
				$done[ $id ]  = (string) $result['do'];
			} else {
				$refused[ $id ] = (string) ( $result['reason'] ?? $result['do'] );
			}
		}
		self::link_all( $links );
		self::settle( $peer, 'done', $done );
		self::settle( $peer, 'refused', $refused );
	}

	/** Links answered accounts here by their uid (those linked already keep theirs). */
	private static function link_all( array $links ): void {
		global $wpdb;
		if ( ! $links ) {
			return;
		}
		$place  = array();
		$values = array();
		$now    = time();
		foreach ( $links as $id => $uid ) {
			$place[] = '(%s, %d, %d)';
			array_push( $values, $uid, $id, $now );
		}
		$wpdb->query( $wpdb->prepare( 'INSERT IGNORE INTO ' . Usersync_Schema::tables()['links'] . ' (uid, user_id, linked_at) VALUES ' . implode( ', ', $place ), $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL
	}

	/** Records outcomes (local id => result) of one state, one statement per result. */
	private static function settle( string $peer, string $state, array $results ): void {
		global $wpdb;
		$by_result = array();
		foreach ( $results as $id => $result ) {
			$by_result[ substr( $result, 0, 32 ) ][] = (int) $id;
		}
		foreach ( $by_result as $result => $ids ) {
			$wpdb->query( $wpdb->prepare( 'UPDATE ' . self::table() . ' SET state = %s, result = %s WHERE peer = %s AND user_id IN (' . implode( ',', $ids ) . ')', $state, $result, $peer ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		}
	}

	/**
	 * The stored report and the run's progress: counts by verdict, accounts in the run (creates
	 * and links), done, refused, remaining, when the report was made.
	 */
	public static function summary( string $peer ): array {
		global $wpdb;
		$table  = self::table();
		$counts = array_fill_keys( array( 'create', 'link', 'linked', 'collision', 'not_sent' ), 0 );
		foreach ( $wpdb->get_results( $wpdb->prepare( "SELECT verdict, COUNT(*) AS n FROM $table WHERE peer = %s GROUP BY verdict", $peer ) ) as $r ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$counts[ $r->verdict ] = (int) $r->n;
		}
		return array(
			'reported_at' => (int) $wpdb->get_var( $wpdb->prepare( "SELECT MAX(reported_at) FROM $table WHERE peer = %s", $peer ) ), // phpcs:ignore WordPress.DB.PreparedSQL
			'counts'      => $counts,
		) + self::progress( $peer );
	}

	/**
	 * The report's accounts, optionally of one verdict: `[user_id, login, email, verdict, reason,
	 * state, result]` each, by id.
	 */
	public static function rows( string $peer, ?string $verdict = null, int $limit = 0 ): array {
		global $wpdb;
		$sql  = $wpdb->prepare( 'SELECT user_id, login, email, verdict, reason, state, result FROM ' . self::table() . ' WHERE peer = %s', $peer ); // phpcs:ignore WordPress.DB.PreparedSQL
		$sql .= null !== $verdict ? $wpdb->prepare( ' AND verdict = %s', $verdict ) : '';
		$sql .= ' ORDER BY user_id' . ( $limit > 0 ? $wpdb->prepare( ' LIMIT %d', $limit ) : '' );
		return $wpdb->get_results( $sql, ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL
	}
}
