<?php
/**
 * Settings → usersync: initial sync. Per peer: make the dry-run report (a POST with a nonce),
 * read it, then carry it out with a progress bar — the page's script calls the step action
 * (admin-ajax, nonce and capability checked on every call) until every account is done. Uses
 * the same functions as `wp usersync sync` (Usersync_Sync).
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Sync_Admin {

	const PAGE = 'usersync-sync';

	/** Accounts listed per verdict on the page (the counts are always complete). */
	const LISTED = 500;

	public static function add_hooks(): void {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_post_usersync_sync_report', array( __CLASS__, 'make_report' ) );
		add_action( 'wp_ajax_usersync_sync_step', array( __CLASS__, 'step' ) );
		add_action( 'admin_enqueue_scripts', array( __CLASS__, 'scripts' ) );
	}

	public static function menu(): void {
		add_options_page( __( 'usersync: initial sync', 'usersync' ), __( 'usersync: initial sync', 'usersync' ), Usersync_Admin::CAPABILITY, self::PAGE, array( __CLASS__, 'render' ) );
	}

	/** The peer the page is about: the one asked for, if configured, else the first. */
	private static function peer(): string {
		$ids  = array_values( array_filter( array_map( static fn( $p ) => (string) ( $p['id'] ?? '' ), Usersync_Settings::peers() ) ) );
		$want = isset( $_REQUEST['peer'] ) ? sanitize_text_field( wp_unslash( $_REQUEST['peer'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification -- which page to show; actions check their nonce
		return in_array( $want, $ids, true ) ? $want : (string) ( $ids[0] ?? '' );
	}

	private static function url( string $peer, array $extra = array() ): string {
		return add_query_arg( array( 'page' => self::PAGE, 'peer' => rawurlencode( $peer ) ) + $extra, admin_url( 'options-general.php' ) );
	}

	/** What a reason code means for a site owner. */
	public static function reason_text( string $reason ): string {
		$texts = array(
			'login_taken'          => __( 'the login belongs to another account there (its email differs)', 'usersync' ),
			'email_taken'          => __( 'the email belongs to another account there (its login differs)', 'usersync' ),
			'protected_account'    => __( 'the account there holds a role this site may not change (e.g. an administrator)', 'usersync' ),
			'linked_elsewhere'     => __( 'the account there is already linked to another account', 'usersync' ),
			'identity_conflict'    => __( 'the login or email belongs to another account there', 'usersync' ),
			'invalid_account'      => __( 'WordPress there would not take this login or email as it is (characters it removes, too long, or not allowed)', 'usersync' ),
			'unknown_account'      => __( 'the account there is gone', 'usersync' ),
			'privileged_not_sent'  => __( 'a privileged account: the send policy does not name its role', 'usersync' ),
			'privileged_role'      => __( 'the peer does not accept this privileged role', 'usersync' ),
			'action_not_sent'      => __( 'the send policy does not send new accounts', 'usersync' ),
			'data_invalid'         => __( 'its login or email cannot be synced (too long, or not an address)', 'usersync' ),
			'pass_hash_format'     => __( 'its password hash is in a format usersync does not carry', 'usersync' ),
			'changed_since_report' => __( 'the account changed here after the report: make a new report', 'usersync' ),
		);
		return $texts[ $reason ] ?? $reason;
	}

	/** What the run did with an account of the report. */
	private static function run_text( array $r ): string {
		if ( 'refused' === $r['state'] ) {
			return __( 'refused:', 'usersync' ) . ' ' . self::reason_text( $r['result'] );
		}
		$done = array(
			'create' => __( 'created there', 'usersync' ),
			'link'   => __( 'linked', 'usersync' ),
			'linked' => __( 'linked (it was applied before an interruption)', 'usersync' ),
		);
		if ( 'done' === $r['state'] ) {
			return $done[ $r['result'] ] ?? $r['result'];
		}
		return in_array( $r['verdict'], Usersync_Sync::TO_DO, true ) ? __( 'waiting', 'usersync' ) : '—';
	}

	public static function scripts( string $hook ): void {
		if ( 'settings_page_' . self::PAGE !== $hook ) {
			return;
		}
		wp_enqueue_script( 'usersync-sync', plugins_url( 'assets/sync-progress.js', USERSYNC_PLUGIN_FILE ), array(), USERSYNC_VERSION, true );
		wp_localize_script(
			'usersync-sync',
			'usersyncSync',
			array(
				'ajax'     => admin_url( 'admin-ajax.php' ),
				'nonce'    => wp_create_nonce( 'usersync_sync_step' ),
				'inFlight' => Usersync_Sync::IN_FLIGHT,
				'peer'     => self::peer(),
				/* translators: 1: accounts done, 2: accounts in all */
				'done'     => __( '%1$d of %2$d accounts done', 'usersync' ),
				'end'      => __( 'Finished.', 'usersync' ),
				'fail'     => __( 'The sync stopped:', 'usersync' ),
			)
		);
	}

	public static function render(): void {
		if ( ! current_user_can( Usersync_Admin::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage usersync.', 'usersync' ) );
		}
		$peer = self::peer();
		echo '<div class="wrap"><h1>' . esc_html__( 'usersync: initial sync', 'usersync' ) . '</h1>';
		echo '<p>' . esc_html__( 'Accounts that existed here before a link are not synced until they are reconciled with the peer: created there, or linked to the account there with the same login and email. First make the report: it changes nothing on either site. Then carry it out.', 'usersync' ) . '</p>';
		if ( isset( $_GET['usersync_error'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- display only
			echo '<div class="notice notice-error"><p>' . esc_html( sanitize_text_field( wp_unslash( $_GET['usersync_error'] ) ) ) . '</p></div>'; // phpcs:ignore WordPress.Security.NonceVerification
		}
		if ( '' === $peer ) {
			echo '<p>' . esc_html__( 'No peer is configured.', 'usersync' ) . '</p></div>';
			return;
		}
		echo '<p>';
		foreach ( Usersync_Settings::peers() as $p ) {
			$id = (string) ( $p['id'] ?? '' );
			echo $id === $peer ? '<strong>' . esc_html( $id ) . '</strong> ' : '<a href="' . esc_url( self::url( $id ) ) . '">' . esc_html( $id ) . '</a> ';
		}
		echo '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="usersync_sync_report"><input type="hidden" name="peer" value="' . esc_attr( $peer ) . '">';
		wp_nonce_field( 'usersync_sync_report' );
		submit_button( __( 'Make the dry-run report', 'usersync' ), 'secondary', 'submit', false, array( 'id' => 'usersync-sync-report' ) );
		echo '</form>';
		try {
			$summary = Usersync_Sync::summary( $peer );
		} catch ( Throwable $e ) {
			echo '<div class="notice notice-error"><p>' . esc_html( $e->getMessage() ) . '</p></div></div>';
			return;
		}
		if ( 0 === $summary['reported_at'] ) {
			echo '<p>' . esc_html__( 'There is no report for this peer yet.', 'usersync' ) . '</p></div>';
			return;
		}
		self::report( $peer, $summary );
		echo '</div>';
	}

	private static function report( string $peer, array $summary ): void {
		$c = $summary['counts'];
		/* translators: 1: peer, 2: date and time (UTC) */
		echo '<h2>' . esc_html( sprintf( __( 'Report for %1$s, made %2$s UTC', 'usersync' ), $peer, gmdate( 'Y-m-d H:i:s', $summary['reported_at'] ) ) ) . '</h2>';
		echo '<ul id="usersync-sync-counts">';
		$lines = array(
			'create'    => __( 'to create there: %d', 'usersync' ),
			'link'      => __( 'to link (same login and email on both sites): %d', 'usersync' ),
			'linked'    => __( 'linked already: %d', 'usersync' ),
			'collision' => __( 'collisions, left alone on both sites: %d', 'usersync' ),
			'not_sent'  => __( 'not sent (a policy keeps them out): %d', 'usersync' ),
		);
		foreach ( $lines as $verdict => $text ) {
			echo '<li data-verdict="' . esc_attr( $verdict ) . '" data-count="' . esc_attr( (string) $c[ $verdict ] ) . '">' . esc_html( sprintf( $text, $c[ $verdict ] ) ) . '</li>';
		}
		echo '</ul>';
		$open = $summary['remaining'] > 0;
		echo '<p><progress id="usersync-sync-progress" max="' . esc_attr( (string) max( 1, $summary['total'] ) ) . '" value="' . esc_attr( (string) ( $summary['total'] - $summary['remaining'] ) ) . '" style="width: 30em"></progress> ';
		/* translators: 1: accounts done, 2: accounts in all */
		echo '<span id="usersync-sync-status">' . esc_html( sprintf( __( '%1$d of %2$d accounts done', 'usersync' ), $summary['total'] - $summary['remaining'], $summary['total'] ) ) . '</span></p>';
		if ( $open ) {
			echo '<p><button type="button" class="button button-primary" id="usersync-sync-run">' . esc_html__( 'Carry out the report', 'usersync' ) . '</button></p>';
		}
		foreach ( array_keys( $lines ) as $verdict ) {
			$rows = Usersync_Sync::rows( $peer, $verdict, self::LISTED );
			if ( ! $rows ) {
				continue;
			}
			echo '<h3>' . esc_html( $verdict ) . '</h3><table class="widefat striped usersync-sync-rows" data-verdict="' . esc_attr( $verdict ) . '"><thead><tr>';
			foreach ( array( __( 'User', 'usersync' ), __( 'Email', 'usersync' ), __( 'Why', 'usersync' ), __( 'Run', 'usersync' ) ) as $head ) {
				echo '<th>' . esc_html( $head ) . '</th>';
			}
			echo '</tr></thead><tbody>';
			foreach ( $rows as $r ) {
				$run = self::run_text( $r );
				echo '<tr><td>' . esc_html( $r['login'] ) . '</td><td>' . esc_html( $r['email'] ) . '</td><td>' . esc_html( '' !== $r['reason'] ? self::reason_text( $r['reason'] ) : '—' ) . '</td><td>' . esc_html( $run ) . '</td></tr>';
			}
			echo '</tbody></table>';
			if ( $c[ $verdict ] > count( $rows ) ) {
				/* translators: %d: accounts not listed */
				echo '<p>' . esc_html( sprintf( __( '… and %d more (wp usersync sync PEER --dry-run lists all).', 'usersync' ), $c[ $verdict ] - count( $rows ) ) ) . '</p>';
			}
		}
	}

	private static function guard( string $action ): string {
		if ( ! current_user_can( Usersync_Admin::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage usersync.', 'usersync' ), 403 );
		}
		check_admin_referer( $action );
		return self::peer();
	}

	public static function make_report(): void {
		$peer = self::guard( 'usersync_sync_report' );
		if ( function_exists( 'set_time_limit' ) ) {
			set_time_limit( 0 ); // a large site's report takes a while (wp usersync sync --dry-run needs no web request)
		}
		$back = self::url( $peer );
		try {
			Usersync_Sync::report( $peer );
		} catch ( Throwable $e ) {
			$back = self::url( $peer, array( 'usersync_error' => rawurlencode( $e->getMessage() ) ) );
		}
		wp_safe_redirect( $back );
		exit;
	}

	/** One batch of the run, for the page's progress bar: the summary as JSON. */
	public static function step(): void {
		if ( ! current_user_can( Usersync_Admin::CAPABILITY ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to manage usersync.', 'usersync' ) ), 403 );
		}
		check_ajax_referer( 'usersync_sync_step' );
		try {
			wp_send_json_success( Usersync_Sync::step( self::peer() ) );
		} catch ( Throwable $e ) {
			wp_send_json_error( array( 'message' => $e->getMessage() ), 500 );
		}
	}
}
