<?php
/**
 * `wp usersync sync PEER [--dry-run] [--format=table|json] [--batch=N]` — the initial sync from
 * a shell (needs WP-CLI; registered only when it runs). A thin layer over Usersync_Sync, which
 * the settings page uses too: arguments in, the report or the run's progress out, WP-CLI's exit
 * codes (an error exits 1).
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Sync_CLI {

	/** @var string the class with report(), run(), summary() and rows() (Usersync_Sync; tests pass a stand-in) */
	private $sync;

	public function __construct( string $sync = 'Usersync_Sync' ) {
		$this->sync = $sync;
	}

	/**
	 * Reconciles the users this site had before the link with one peer.
	 *
	 * ## OPTIONS
	 *
	 * <peer>
	 * : The peer's id (as in USERSYNC_PEERS).
	 *
	 * [--dry-run]
	 * : Make the report only: which accounts would be created there, linked (same login and email
	 * on both sites), left alone (collisions) or not sent. Nothing changes on either site.
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
	 * [--batch=<n>]
	 * : Accounts per message (1-1000).
	 * ---
	 * default: 1000
	 * ---
	 *
	 * ## EXAMPLES
	 *
	 *     wp usersync sync blog.example.com --dry-run
	 *     wp usersync sync blog.example.com
	 *
	 * Without --dry-run the last report is carried out, in batches, resuming where an interrupted
	 * run stopped; make the report first.
	 *
	 * @param string[] $args
	 * @param array    $assoc_args
	 */
	public function __invoke( array $args, array $assoc_args ): void {
		$peer   = (string) ( $args[0] ?? '' );
		$format = (string) ( $assoc_args['format'] ?? 'table' );
		$batch  = (string) ( $assoc_args['batch'] ?? '1000' );
		if ( '' === $peer ) {
			WP_CLI::error( 'Name the peer: wp usersync sync PEER [--dry-run].' );
		}
		if ( ! in_array( $format, array( 'table', 'json' ), true ) ) {
			WP_CLI::error( "Unknown --format=$format: use table or json." );
		}
		if ( ! ctype_digit( $batch ) || (int) $batch < 1 || (int) $batch > 1000 ) {
			WP_CLI::error( "--batch must be a number from 1 to 1000, not $batch." );
		}
		$sync = $this->sync;
		try {
			if ( ! empty( $assoc_args['dry-run'] ) ) {
				$this->dry_run( $peer, (int) $batch, $format );
				return;
			}
			$summary = $sync::summary( $peer );
			if ( 0 === $summary['reported_at'] ) {
				WP_CLI::error( "There is no report for $peer yet: run wp usersync sync $peer --dry-run first, and read it." );
			}
			$bar     = 'table' === $format && $summary['remaining'] > 0 ? \WP_CLI\Utils\make_progress_bar( "Syncing with $peer", $summary['remaining'] ) : null;
			$left    = $summary['remaining'];
			$summary = $sync::run(
				$peer,
				(int) $batch,
				static function ( array $s ) use ( $bar, &$left ): void {
					if ( $bar ) {
						$bar->tick( $left - $s['remaining'] );
					}
					$left = $s['remaining'];
				}
			);
			if ( $bar ) {
				$bar->finish();
			}
		} catch ( Throwable $e ) {
			WP_CLI::error( $e->getMessage() );
			return;
		}
		if ( 'json' === $format ) {
			WP_CLI::line( (string) wp_json_encode( $summary ) );
		} elseif ( $summary['remaining'] > 0 ) {
			WP_CLI::error( sprintf( '%d of %d accounts are not done yet: run the command again to resume.', $summary['remaining'], $summary['total'] ) );
		} elseif ( $summary['refused'] > 0 ) {
			WP_CLI::warning( sprintf( '%d accounts done, %d refused (they changed since the report): see the report.', $summary['done'], $summary['refused'] ) );
		} else {
			WP_CLI::success( sprintf( '%d accounts created or linked on %s.', $summary['done'], $peer ) );
		}
	}

	private function dry_run( string $peer, int $batch, string $format ): void {
		$sync    = $this->sync;
		$summary = $sync::report( $peer, $batch );
		$rows    = array_map(
			static fn( array $r ) => array( 'login' => $r['login'], 'email' => $r['email'], 'verdict' => $r['verdict'], 'reason' => $r['reason'] ),
			$sync::rows( $peer )
		);
		if ( 'json' === $format ) {
			WP_CLI::line( (string) wp_json_encode( array( 'summary' => $summary, 'accounts' => $rows ) ) );
			return;
		}
		\WP_CLI\Utils\format_items( 'table', $rows, array( 'login', 'email', 'verdict', 'reason' ) );
		$c = $summary['counts'];
		WP_CLI::success( sprintf( 'Report for %s: %d to create, %d to link, %d linked already, %d collisions left alone, %d not sent. Run wp usersync sync %s to carry it out.', $peer, $c['create'], $c['link'], $c['linked'], $c['collision'], $c['not_sent'], $peer ) );
	}
}
