<?php
/**
 * `wp usersync …`: thin WP-CLI commands over the plain functions the settings page uses
 * (Usersync_Health, Usersync_Outbox, Usersync_Log). Registered only when WP-CLI runs the site
 * (usersync.php). Errors end through WP_CLI::error(), which exits with status 1.
 *
 * `wp usersync sync PEER [--dry-run]` (the initial sync) is added by the initial-sync work as
 * the method sync() of this class.
 */

defined( 'ABSPATH' ) || exit;

/**
 * Checks, delivers and explains usersync's links to other sites.
 */
final class Usersync_CLI {

	const FORMATS = array( 'table', 'json' );

	/** @var string the class with the plain functions (a stand-in in tests) */
	private $health;
	/** @var string */
	private $outbox;
	/** @var string */
	private $log;
	/** @var string */
	private $settings;

	public function __construct( string $health = 'Usersync_Health', string $outbox = 'Usersync_Outbox', string $log = 'Usersync_Log', string $settings = 'Usersync_Settings' ) {
		$this->health   = $health;
		$this->outbox   = $outbox;
		$this->log      = $log;
		$this->settings = $settings;
	}

	/** Ends with status 1 when usersync cannot work on this site. */
	private function fail_if_broken(): void {
		$problem = call_user_func( array( $this->settings, 'problem' ) );
		if ( null !== $problem ) {
			WP_CLI::error( 'usersync is not syncing users: ' . $problem );
		}
	}

	/**
	 * Shows each peer: what waits for it, the last delivery error, the last link check and its last success.
	 *
	 * ## OPTIONS
	 *
	 * [--format=<format>]
	 * : table or json.
	 * ---
	 * default: table
	 * options:
	 *   - table
	 *   - json
	 * ---
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync status
	 *     wp usersync status --format=json
	 *
	 * @param string[] $args       positional arguments (none)
	 * @param string[] $assoc_args options
	 */
	public function status( array $args, array $assoc_args ): void {
		$format = $this->format( $assoc_args );
		$rows   = call_user_func( array( $this->health, 'status' ) );
		$this->items( $format, $rows, array( 'peer', 'url', 'waiting', 'last_error', 'last_check', 'result', 'last_success' ) );
		$this->fail_if_broken();
	}

	/**
	 * Checks the link to a peer: a ping through its real inbox, answered in plain words.
	 *
	 * ## OPTIONS
	 *
	 * <peer>
	 * : The peer's id, as in USERSYNC_PEERS.
	 *
	 * [--format=<format>]
	 * : table or json.
	 * ---
	 * default: table
	 * options:
	 *   - table
	 *   - json
	 * ---
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync test blog.example.com
	 *
	 * Exit status: 0 when the link works (one-way policies are warnings), 1 otherwise.
	 *
	 * @param string[] $args       the peer id
	 * @param string[] $assoc_args options
	 */
	public function test( array $args, array $assoc_args ): void {
		$format = $this->format( $assoc_args );
		if ( 1 !== count( $args ) || '' === $args[0] ) {
			WP_CLI::error( 'Name one peer: wp usersync test <peer>.' );
		}
		$result = call_user_func( array( $this->health, 'test' ), $args[0] );
		if ( 'json' === $format ) {
			WP_CLI::line( (string) wp_json_encode( $result ) );
		} else {
			$this->items(
				'table',
				array(
					array(
						'peer'         => $result['peer'],
						'result'       => $result['code'],
						'local_time'   => gmdate( 'Y-m-d H:i:s', (int) $result['local_time'] ),
						'peer_time'    => null === $result['peer_time'] ? '' : gmdate( 'Y-m-d H:i:s', (int) $result['peer_time'] ),
						'ms'           => $result['ms'],
						'last_success' => $result['last_success'] ? gmdate( 'Y-m-d H:i:s', (int) $result['last_success'] ) : '',
					),
				),
				array( 'peer', 'result', 'local_time', 'peer_time', 'ms', 'last_success' )
			);
		}
		foreach ( $result['notes'] as $note ) {
			WP_CLI::warning( $note );
		}
		if ( ! $result['ok'] ) {
			WP_CLI::error( $result['message'] );
		}
		WP_CLI::success( $result['message'] );
	}

	/**
	 * Routes and delivers every waiting change that is due (as the system-cron entry point does).
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync deliver
	 *
	 * @param string[] $args       none
	 * @param string[] $assoc_args none
	 */
	public function deliver( array $args, array $assoc_args ): void {
		call_user_func( array( $this->outbox, 'deliver' ) );
		$this->fail_if_broken();
		$waiting = 0;
		foreach ( call_user_func( array( $this->health, 'status' ) ) as $row ) {
			$waiting += (int) $row['waiting'];
			if ( $row['waiting'] ) {
				WP_CLI::warning( sprintf( '%s: %d waiting (%s)', $row['peer'], $row['waiting'], '' !== $row['last_error'] ? $row['last_error'] : 'not due yet' ) );
			}
		}
		WP_CLI::success( 0 === $waiting ? 'Delivered; nothing waits.' : sprintf( 'Delivered what was due; %d waiting for a retry.', $waiting ) );
	}

	/**
	 * Prints a new link secret, or the wp-config.php block for the other site of a link.
	 *
	 * The output holds a secret: it goes to standard output only (never to a log); put it into
	 * wp-config.php and nowhere else.
	 *
	 * ## OPTIONS
	 *
	 * [--for=<peer>]
	 * : Print the block to paste into that peer's wp-config.php (ids swapped, the same secret).
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync secret
	 *     wp usersync secret --for=blog.example.com
	 *
	 * @param string[] $args       none
	 * @param string[] $assoc_args options
	 */
	public function secret( array $args, array $assoc_args ): void {
		if ( isset( $assoc_args['for'] ) ) {
			$block = call_user_func( array( $this->health, 'config_for_peer' ), (string) $assoc_args['for'] );
			if ( null === $block ) {
				WP_CLI::error( sprintf( 'No peer "%s" is configured in USERSYNC_PEERS on this site.', $assoc_args['for'] ) );
			}
			WP_CLI::line( rtrim( $block ) );
			return;
		}
		try {
			WP_CLI::line( Usersync\Secret::generate() );
		} catch ( Usersync\Exception | Usersync\LibraryUnavailable $e ) {
			WP_CLI::error( $e->getMessage() );
		}
	}

	/**
	 * Shows the activity log, newest first (no secrets, messages or password hashes are logged).
	 *
	 * ## OPTIONS
	 *
	 * [--limit=<n>]
	 * : How many entries.
	 * ---
	 * default: 50
	 * ---
	 *
	 * [--format=<format>]
	 * : table or json.
	 * ---
	 * default: table
	 * options:
	 *   - table
	 *   - json
	 * ---
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync log --limit=20
	 *
	 * @param string[] $args       none
	 * @param string[] $assoc_args options
	 */
	public function log( array $args, array $assoc_args ): void {
		$format = $this->format( $assoc_args );
		$limit  = $assoc_args['limit'] ?? '50';
		if ( ! ctype_digit( (string) $limit ) || (int) $limit < 1 || (int) $limit > 10000 ) {
			WP_CLI::error( '--limit must be a whole number from 1 to 10000.' );
		}
		$rows = array();
		foreach ( call_user_func( array( $this->log, 'recent' ), (int) $limit ) as $row ) {
			$rows[] = array(
				'time'   => gmdate( 'Y-m-d H:i:s', (int) $row->time ),
				'dir'    => 'in' === $row->direction ? 'received' : 'sent',
				'peer'   => (string) $row->peer,
				'action' => (string) $row->act,
				'user'   => (string) $row->login,
				'result' => (string) $row->result,
				'detail' => (string) $row->reason,
			);
		}
		$this->items( $format, $rows, array( 'time', 'dir', 'peer', 'action', 'user', 'result', 'detail' ) );
	}

	/** --format, refused unless table or json. */
	private function format( array $assoc_args ): string {
		$format = (string) ( $assoc_args['format'] ?? 'table' );
		if ( ! in_array( $format, self::FORMATS, true ) ) {
			WP_CLI::error( sprintf( 'Unknown --format=%s (use table or json).', $format ) );
		}
		return $format;
	}

	private function items( string $format, array $rows, array $fields ): void {
		WP_CLI\Utils\format_items( $format, $rows, $fields );
	}
}
