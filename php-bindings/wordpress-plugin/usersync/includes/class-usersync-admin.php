<?php
/**
 * Settings → usersync: this site's peers with their policies and health, a "Test link" button
 * per peer (Usersync_Health::test) with the last result and last success, the configuration
 * block for the other site of each link (on request, in the POST's answer only), the activity
 * log, and actions (deliver now, clear the log). Secrets are shown only in the answer to an
 * administrator's POST (a new secret, a configuration block), never stored, logged or put in a
 * URL. Every action checks the capability and a nonce; output is escaped where it is printed.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Admin {

	const CAPABILITY = 'manage_options';
	const PAGE       = 'usersync';

	public static function menu(): void {
		add_options_page( __( 'usersync', 'usersync' ), __( 'usersync', 'usersync' ), self::CAPABILITY, self::PAGE, array( __CLASS__, 'render' ) );
	}

	/** A clear notice on every admin screen when usersync cannot work. */
	public static function notices(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$problem = Usersync_Settings::problem();
		if ( null !== $problem ) {
			printf(
				'<div class="notice notice-error"><p><strong>%s</strong> %s</p></div>',
				esc_html__( 'usersync is not syncing users:', 'usersync' ),
				esc_html( $problem )
			);
		}
	}

	private static function policy_text( array $policy ): string {
		/* translators: 1: actions, 2: roles, 3: meta keys */
		return sprintf( __( 'actions: %1$s; roles: %2$s; meta: %3$s', 'usersync' ), self::list_text( $policy['actions'] ?? array() ), self::list_text( $policy['roles'] ?? array() ), self::list_text( $policy['meta'] ?? array() ) );
	}

	private static function list_text( $items ): string {
		$items = array_map( 'strval', (array) $items );
		return $items ? implode( ', ', $items ) : '—';
	}

	public static function render(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage usersync.', 'usersync' ) );
		}
		$health  = Usersync_Outbox::health();
		$checks  = Usersync_Health::results();
		$log     = Usersync_Log::recent( 100 );
		echo '<div class="wrap"><h1>usersync</h1>';
		if ( isset( $_GET['usersync_done'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- display only
			echo '<div class="notice notice-success"><p>' . esc_html( sanitize_text_field( wp_unslash( $_GET['usersync_done'] ) ) ) . '</p></div>'; // phpcs:ignore WordPress.Security.NonceVerification
		}
		printf( '<p>%s <code>%s</code></p>', esc_html__( 'This site:', 'usersync' ), esc_html( Usersync_Settings::site_id() ) );
		echo '<h2>' . esc_html__( 'Peers', 'usersync' ) . '</h2>';
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( array( __( 'Peer', 'usersync' ), __( 'URL', 'usersync' ), __( 'Secrets', 'usersync' ), __( 'Sends', 'usersync' ), __( 'Accepts', 'usersync' ), __( 'IP allow-list', 'usersync' ), __( 'Waiting', 'usersync' ), __( 'Last error', 'usersync' ), __( 'Link check', 'usersync' ), __( 'Last success', 'usersync' ) ) as $head ) {
			echo '<th>' . esc_html( $head ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( Usersync_Settings::peers() as $peer ) {
			$send   = $peer['send'] ?? array();
			$accept = $peer['accept'] ?? array();
			echo '<tr>';
			echo '<td>' . esc_html( $peer['id'] ?? '' ) . '</td>';
			echo '<td>' . esc_html( $peer['url'] ?? '' ) . '</td>';
			/* translators: %d: number of secrets configured for the link */
			echo '<td>' . esc_html( sprintf( _n( '%d (hidden)', '%d (hidden; the first seals)', count( (array) ( $peer['secrets'] ?? array() ) ), 'usersync' ), count( (array) ( $peer['secrets'] ?? array() ) ) ) ) . '</td>';
			echo '<td>' . esc_html( self::policy_text( $send ) ) . '</td>';
			echo '<td>' . esc_html( self::policy_text( $accept ) . ( ! empty( $accept['allow_privileged'] ) ? __( '; privileged roles allowed', 'usersync' ) : '' ) ) . '</td>';
			echo '<td>' . esc_html( self::list_text( $peer['ip_allow'] ?? array() ) ) . '</td>';
			$state = $health[ $peer['id'] ?? '' ] ?? array( 'waiting' => 0, 'error' => '' );
			echo '<td>' . esc_html( (string) $state['waiting'] ) . '</td>';
			echo '<td>' . esc_html( '' !== $state['error'] ? $state['error'] : '—' ) . '</td>';
			self::check_cells( (string) ( $peer['id'] ?? '' ), $checks[ $peer['id'] ?? '' ] ?? null );
			echo '</tr>';
		}
		echo '</tbody></table>';
		self::peer_config();
		self::action_button( 'usersync_deliver_now', __( 'Deliver waiting events now', 'usersync' ) );
		self::identity_refusals();
		self::new_secret();

		echo '<h2>' . esc_html__( 'Activity', 'usersync' ) . '</h2>';
		/* translators: %d: days */
		echo '<p>' . esc_html( sprintf( __( 'Kept %d days. No secrets, messages or password hashes are logged.', 'usersync' ), Usersync_Log::retention_days() ) ) . '</p>';
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( array( __( 'Time (UTC)', 'usersync' ), __( 'Direction', 'usersync' ), __( 'Peer', 'usersync' ), __( 'Action', 'usersync' ), __( 'User', 'usersync' ), __( 'Result', 'usersync' ), __( 'Detail', 'usersync' ) ) as $head ) {
			echo '<th>' . esc_html( $head ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( $log as $row ) {
			echo '<tr>';
			foreach ( array( gmdate( 'Y-m-d H:i:s', (int) $row->time ), 'in' === $row->direction ? __( 'received', 'usersync' ) : __( 'sent', 'usersync' ), $row->peer, $row->act, $row->login, $row->result, $row->reason ) as $cell ) {
				echo '<td>' . esc_html( (string) $cell ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table>';
		self::action_button( 'usersync_clear_log', __( 'Clear the activity log', 'usersync' ) );
		echo '</div>';
	}

	/**
	 * Accounts peers tried to change and may not: a peer's sign-up whose login or email belongs
	 * to an account here that is not linked (never merged), or a protected account.
	 */
	private static function identity_refusals(): void {
		$rows = Usersync_Log::identity_refusals();
		echo '<h2>' . esc_html__( 'Accounts peers may not change', 'usersync' ) . '</h2>';
		echo '<p>' . esc_html__( 'identity_conflict: a peer created an account whose login or email already belongs to an account here that is not linked to it. Nothing was merged; link existing accounts with the initial sync. protected_account: the account holds a role the peer may not grant (e.g. an administrator).', 'usersync' ) . '</p>';
		if ( ! $rows ) {
			echo '<p>' . esc_html__( 'None.', 'usersync' ) . '</p>';
			return;
		}
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( array( __( 'Time (UTC)', 'usersync' ), __( 'Peer', 'usersync' ), __( 'Action', 'usersync' ), __( 'User', 'usersync' ), __( 'Reason', 'usersync' ) ) as $head ) {
			echo '<th>' . esc_html( $head ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( $rows as $row ) {
			echo '<tr>';
			foreach ( array( gmdate( 'Y-m-d H:i:s', (int) $row->time ), $row->peer, $row->act, $row->login, $row->reason ) as $cell ) {
				echo '<td>' . esc_html( (string) $cell ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table>';
	}

	/** The last link check of a peer (result, notes, time), its last success and the Test link button. */
	private static function check_cells( string $peer_id, ?array $check ): void {
		echo '<td class="usersync-check">';
		if ( $check ) {
			printf( '<p><strong>%s</strong> %s</p>', esc_html( $check['ok'] ? __( 'OK:', 'usersync' ) : __( 'Problem:', 'usersync' ) ), esc_html( $check['message'] ) );
			foreach ( (array) $check['notes'] as $note ) {
				echo '<p>' . esc_html( $note ) . '</p>';
			}
			/* translators: %s: time in UTC */
			echo '<p>' . esc_html( sprintf( __( 'checked %s UTC', 'usersync' ), gmdate( 'Y-m-d H:i:s', (int) $check['time'] ) ) ) . '</p>';
		}
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="usersync_test_link">';
		echo '<input type="hidden" name="peer" value="' . esc_attr( $peer_id ) . '">';
		wp_nonce_field( 'usersync_test_link' );
		submit_button( __( 'Test link', 'usersync' ), 'secondary small', 'submit', false );
		echo '</form></td>';
		$success = $check ? (int) $check['last_success'] : 0;
		echo '<td>' . esc_html( $success ? gmdate( 'Y-m-d H:i:s', $success ) . ' UTC' : __( 'never', 'usersync' ) ) . '</td>';
	}

	/** "Test link": checks one peer now (capability and nonce first), then back to the page. */
	public static function test_link(): void {
		self::guard( 'usersync_test_link' );
		$peer = isset( $_POST['peer'] ) ? sanitize_text_field( wp_unslash( $_POST['peer'] ) ) : ''; // nonce checked in guard()
		if ( null === Usersync_Settings::peer( $peer ) ) {
			wp_die( esc_html__( 'No such peer is configured.', 'usersync' ), 400 );
		}
		$result = Usersync_Health::test( $peer );
		/* translators: 1: peer id, 2: the result in plain words */
		self::back( sprintf( __( 'Link to %1$s checked: %2$s', 'usersync' ), $peer, $result['ok'] ? __( 'it works.', 'usersync' ) : __( 'see the problem in its row.', 'usersync' ) ) );
	}

	/**
	 * The wp-config.php block for the other site of a link, made when an administrator asks
	 * (a POST with a nonce to this page) and printed only in that answer: it holds the link's
	 * secret, so it is never stored, logged or put in a URL.
	 */
	private static function peer_config(): void {
		echo '<h2>' . esc_html__( 'Configuration for the other site', 'usersync' ) . '</h2>';
		echo '<p>' . esc_html__( 'The block to paste into a peer\'s wp-config.php: the ids swapped, the same secret, the policies mirrored. It is made now, shown only here and stored nowhere.', 'usersync' ) . '</p>';
		if ( isset( $_POST['usersync_peer_config'] ) ) {
			// The page is half printed: a bad nonce gets a notice here, not wp_die().
			$nonce = isset( $_POST['_wpnonce'] ) ? sanitize_text_field( wp_unslash( $_POST['_wpnonce'] ) ) : '';
			$block = wp_verify_nonce( $nonce, 'usersync_peer_config' ) ? Usersync_Health::config_for_peer( sanitize_text_field( wp_unslash( $_POST['usersync_peer_config'] ) ) ) : null;
			if ( null !== $block ) {
				echo '<p><textarea class="large-text code" rows="12" readonly autocomplete="off" id="usersync-peer-config">' . esc_textarea( $block ) . '</textarea></p>';
			} else {
				echo '<div class="notice notice-error inline"><p>' . esc_html__( 'The request was not confirmed (it expired, or came from elsewhere): use the button again.', 'usersync' ) . '</p></div>';
			}
		}
		echo '<form method="post" action="' . esc_url( add_query_arg( 'page', self::PAGE, admin_url( 'options-general.php' ) ) ) . '">';
		wp_nonce_field( 'usersync_peer_config' );
		echo '<select name="usersync_peer_config">';
		foreach ( Usersync_Settings::peers() as $peer ) {
			echo '<option value="' . esc_attr( (string) ( $peer['id'] ?? '' ) ) . '">' . esc_html( (string) ( $peer['id'] ?? '' ) ) . '</option>';
		}
		echo '</select> ';
		submit_button( __( 'Show the block for this peer', 'usersync' ), 'secondary', 'submit', false );
		echo '</form>';
	}

	/**
	 * A new link secret from the library, shown once in this response and never stored: the
	 * site owner copies it into both sites' wp-config.php. A POST with a nonce, so the secret is
	 * never in a URL, a log or the database.
	 */
	private static function new_secret(): void {
		echo '<h2>' . esc_html__( 'New link secret', 'usersync' ) . '</h2>';
		if ( isset( $_POST['usersync_new_secret'] ) && check_admin_referer( 'usersync_new_secret' ) ) {
			try {
				$secret = Usersync\Secret::generate();
				echo '<p>' . esc_html__( 'Copy this secret into the peer entry on both sites (wp-config.php). It is shown only now and stored nowhere:', 'usersync' ) . '</p>';
				echo '<p><input type="text" class="large-text code" readonly autocomplete="off" id="usersync-secret" value="' . esc_attr( $secret ) . '"></p>';
			} catch ( Usersync\Exception | Usersync\LibraryUnavailable $e ) {
				echo '<div class="notice notice-error inline"><p>' . esc_html( $e->getMessage() ) . '</p></div>';
			}
		}
		echo '<form method="post" action="' . esc_url( add_query_arg( 'page', self::PAGE, admin_url( 'options-general.php' ) ) ) . '">';
		wp_nonce_field( 'usersync_new_secret' );
		echo '<input type="hidden" name="usersync_new_secret" value="1">';
		submit_button( __( 'Make a new link secret', 'usersync' ), 'secondary', 'submit', false );
		echo '</form>';
	}

	private static function action_button( string $action, string $label ): void {
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( $action ) . '">';
		wp_nonce_field( $action );
		submit_button( $label, 'secondary' );
		echo '</form>';
	}

	private static function guard( string $action ): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage usersync.', 'usersync' ), 403 );
		}
		check_admin_referer( $action );
	}

	private static function back( string $message ): void {
		wp_safe_redirect( add_query_arg( array( 'page' => self::PAGE, 'usersync_done' => rawurlencode( $message ) ), admin_url( 'options-general.php' ) ) );
		exit;
	}

	public static function deliver_now(): void {
		self::guard( 'usersync_deliver_now' );
		update_option( 'usersync_retry_at', 0, true );
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Usersync_Schema::tables()['outbox'] . ' SET next_attempt = %d', time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		Usersync_Outbox::deliver();
		self::back( __( 'Delivery attempted; see the activity below.', 'usersync' ) );
	}

	public static function clear_log(): void {
		self::guard( 'usersync_clear_log' );
		Usersync_Log::clear();
		self::back( __( 'The activity log was cleared.', 'usersync' ) );
	}
}
