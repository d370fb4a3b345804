<?php
/**
 * Single sign-on and logout everywhere.
 *
 * Login on this site: the library mints one single-use ticket per peer whose policy sends
 * `login`, and the browser carries them — in hidden frames to every peer at once ("parallel"),
 * or as a top-level redirect chain through the peers and back ("redirect", for browsers that
 * block third-party cookies). "auto" tries the frames and falls back to the chain for any peer
 * whose cookie did not stick. Tickets only ever travel in POST bodies, never in URLs.
 *
 * Login from a peer: the ticket is opened by the library, its jti recorded once, and
 * WordPress's own auth cookies are set for the existing user (peers never create users here).
 *
 * Logout: a back-channel `logout` action tells the peers to end the sessions that came from
 * this session (or, "log out everywhere", all of the user's sessions).
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_SSO {

	const COOKIE = 'usersync_sso';
	/** @var array{user_id: int, token: string, remember: bool}|null the login being made now */
	private static $login = null;
	/** @var array{login: string, sid: string}|null the session being logged out */
	private static $logout = null;

	// ---- this site: login starts single sign-on ----------------------------------------------

	/** set_logged_in_cookie: remembers the new session's token (to name it to the peers). */
	public static function capture_login( $cookie, $expire, $expiration, $user_id, $scheme, $token ): void {
		self::$login = array( 'user_id' => (int) $user_id, 'token' => (string) $token, 'remember' => 0 !== (int) $expire );
	}

	/** login_redirect: after a login, go through the single sign-on page first. */
	public static function login_redirect( $redirect_to, $requested, $user ) {
		if ( ! self::$login || ! ( $user instanceof WP_User ) || self::$login['user_id'] !== $user->ID || ! self::login_peers() ) {
			return $redirect_to;
		}
		$wp    = Usersync_Settings::wordpress();
		$state = array(
			'user_id'     => $user->ID,
			'sid'         => $wp ? $wp->sessionVerifier( self::$login['token'] ) : '',
			'remember'    => self::$login['remember'],
			'redirect_to' => $redirect_to,
			'remaining'   => array(),
		);
		$key = Usersync\Secret::nonce( 32 );
		set_transient( 'usersync_sso_' . $key, $state, 10 * MINUTE_IN_SECONDS );
		setcookie( self::COOKIE, $key, array( 'expires' => time() + 10 * MINUTE_IN_SECONDS, 'path' => COOKIEPATH, 'domain' => COOKIE_DOMAIN, 'secure' => is_ssl(), 'httponly' => true, 'samesite' => 'Lax' ) );
		return home_url( '/?usersync_sso=1' );
	}

	/** @return string[] ids of the peers this site sends logins to (the library decides). */
	private static function login_peers(): array {
		$peers = array();
		foreach ( Usersync_Settings::peers() as $peer ) {
			if ( in_array( 'login', (array) ( $peer['send']['actions'] ?? array() ), true ) ) {
				$peers[] = (string) $peer['id'];
			}
		}
		return $peers;
	}

	private static function state_key(): string {
		return isset( $_COOKIE[ self::COOKIE ] ) ? preg_replace( '/[^A-Za-z0-9_-]/', '', wp_unslash( $_COOKIE[ self::COOKIE ] ) ) : '';
	}

	/** The single sign-on page: frames, or the next hop of the chain, or the destination. */
	public static function sso_page(): void {
		if ( ! isset( $_GET['usersync_sso'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- the state is bound to an HttpOnly cookie
			return;
		}
		$key   = self::state_key();
		$state = $key ? get_transient( 'usersync_sso_' . $key ) : false;
		if ( ! $state || get_current_user_id() !== (int) $state['user_id'] ) {
			wp_safe_redirect( admin_url() );
			exit;
		}
		nocache_headers();
		header( 'Referrer-Policy: no-referrer' );
		if ( isset( $_GET['continue'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification
			$done               = sanitize_text_field( wp_unslash( $_GET['continue'] ) ); // phpcs:ignore WordPress.Security.NonceVerification
			$state['remaining'] = array_values( array_diff( $state['remaining'], array( $done ) ) );
		} elseif ( isset( $_GET['chain'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification
			// The frames could not log some peers in (third-party cookies blocked): chain through those.
			$asked              = explode( ',', sanitize_text_field( wp_unslash( $_GET['chain'] ) ) ); // phpcs:ignore WordPress.Security.NonceVerification
			$state['remaining'] = array_values( array_intersect( self::login_peers(), $asked ) );
		} elseif ( 'redirect' === Usersync_Settings::sso_mode() ) {
			$state['remaining'] = self::login_peers();
		} else {
			set_transient( 'usersync_sso_' . $key, $state, 10 * MINUTE_IN_SECONDS );
			self::render_frames( $state );
			exit;
		}
		set_transient( 'usersync_sso_' . $key, $state, 10 * MINUTE_IN_SECONDS );
		$next = $state['remaining'][0] ?? null;
		if ( null === $next ) {
			delete_transient( 'usersync_sso_' . $key );
			setcookie( self::COOKIE, '', array( 'expires' => 1, 'path' => COOKIEPATH, 'domain' => COOKIE_DOMAIN, 'secure' => is_ssl(), 'httponly' => true, 'samesite' => 'Lax' ) );
			wp_safe_redirect( $state['redirect_to'] ?: admin_url() );
			exit;
		}
		$ticket = self::mint( $state, $next, home_url( '/?usersync_sso=1&continue=' . rawurlencode( $next ) ) );
		if ( ! $ticket ) {
			$state['remaining'] = array_values( array_diff( $state['remaining'], array( $next ) ) );
			set_transient( 'usersync_sso_' . $key, $state, 10 * MINUTE_IN_SECONDS );
			wp_safe_redirect( home_url( '/?usersync_sso=1&continue=' . rawurlencode( $next ) ) );
			exit;
		}
		self::render_post( $ticket, 'chain' );
		exit;
	}

	/** A ticket for one peer, or null (logged: the peer is skipped). */
	private static function mint( array $state, string $peer, ?string $return ): ?array {
		$user    = get_userdata( (int) $state['user_id'] );
		$context = Usersync_Settings::context();
		if ( ! $user || ! $context ) {
			return null;
		}
		$request = array( 'peer' => $peer, 'login' => $user->user_login, 'remember' => (bool) $state['remember'] );
		if ( '' !== $state['sid'] ) {
			$request['sid'] = $state['sid'];
		}
		if ( null !== $return ) {
			$request['return'] = $return;
		}
		try {
			$ticket = $context->mintTicket( $request );
		} catch ( Usersync\Exception $e ) {
			Usersync_Log::add( 'out', $peer, 'login', $user->user_login, 'refused', $e->reason );
			return null;
		}
		$ticket['accept'] = add_query_arg( 'usersync_sso_accept', '1', untrailingslashit( $ticket['url'] ) . '/' );
		return $ticket;
	}

	/** A top-level POST of a ticket to a peer (the chain). */
	private static function render_post( array $ticket, string $mode ): void {
		header( 'Content-Type: text/html; charset=utf-8' );
		echo '<!doctype html><meta name="referrer" content="no-referrer"><title>' . esc_html__( 'Signing you in…', 'usersync' ) . '</title>';
		echo '<form id="usersync" method="post" action="' . esc_url( $ticket['accept'] ) . '">';
		echo '<input type="hidden" name="ticket" value="' . esc_attr( $ticket['message'] ) . '">';
		echo '<input type="hidden" name="mode" value="' . esc_attr( $mode ) . '">';
		echo '<noscript><button>' . esc_html__( 'Continue', 'usersync' ) . '</button></noscript></form>';
		echo '<script>document.getElementById("usersync").submit();</script>';
	}

	/** Hidden frames, one per peer, then the destination (or the chain for peers that failed). */
	private static function render_frames( array $state ): void {
		$frames = array();
		foreach ( self::login_peers() as $peer ) {
			$ticket = self::mint( $state, $peer, null );
			if ( $ticket ) {
				$frames[ $peer ] = $ticket;
			}
		}
		$origins = array();
		foreach ( $frames as $peer => $ticket ) {
			$parts             = wp_parse_url( $ticket['url'] );
			$origins[ $peer ]  = $parts['scheme'] . '://' . $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
		}
		header( 'Content-Type: text/html; charset=utf-8' );
		echo '<!doctype html><meta name="referrer" content="no-referrer"><title>' . esc_html__( 'Signing you in…', 'usersync' ) . '</title>';
		echo '<p>' . esc_html__( 'Signing you in on the linked sites…', 'usersync' ) . '</p>';
		foreach ( $frames as $peer => $ticket ) {
			$name = 'usersync_' . md5( $peer );
			echo '<iframe name="' . esc_attr( $name ) . '" style="display:none"></iframe>';
			echo '<form method="post" target="' . esc_attr( $name ) . '" action="' . esc_url( $ticket['accept'] ) . '">';
			echo '<input type="hidden" name="ticket" value="' . esc_attr( $ticket['message'] ) . '">';
			echo '<input type="hidden" name="mode" value="frame"></form>';
		}
		$config = array(
			'origins'  => $origins,
			'done'     => $state['redirect_to'] ?: admin_url(),
			'chain'    => home_url( '/?usersync_sso=1&chain=' ),
			'fallback' => 'auto' === Usersync_Settings::sso_mode(),
		);
		?>
<script>
(function (c) {
	var pending = Object.keys(c.origins), failed = [];
	function finish() {
		if (failed.length && c.fallback) { location.replace(c.chain + encodeURIComponent(failed.join(','))); }
		else { location.replace(c.done); }
	}
	window.addEventListener('message', function (e) {
		var peer = pending.filter(function (p) { return c.origins[p] === e.origin; })[0];
		if (!peer || !e.data || e.data.usersync !== 'sso') { return; }
		pending.splice(pending.indexOf(peer), 1);
		if (!e.data.ok) { failed.push(peer); }
		if (!pending.length) { finish(); }
	});
	document.querySelectorAll('form').forEach(function (f) { f.submit(); });
	setTimeout(function () { failed = failed.concat(pending); pending = []; finish(); }, 5000);
	if (!pending.length) { finish(); }
})(<?php echo wp_json_encode( $config ); ?>);
</script>
		<?php
	}

	// ---- a peer's ticket logs the user in here ---------------------------------------------------

	/** POST ?usersync_sso_accept=1 with a ticket: check it, then set WordPress's auth cookies. */
	public static function accept(): void {
		if ( ! isset( $_GET['usersync_sso_accept'] ) || 'POST' !== ( $_SERVER['REQUEST_METHOD'] ?? '' ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- the ticket is the credential
			return;
		}
		nocache_headers();
		header( 'Referrer-Policy: no-referrer' );
		$mode    = isset( $_POST['mode'] ) && 'frame' === $_POST['mode'] ? 'frame' : 'chain'; // phpcs:ignore WordPress.Security.NonceVerification
		$ticket  = isset( $_POST['ticket'] ) ? (string) wp_unslash( $_POST['ticket'] ) : ''; // phpcs:ignore WordPress.Security.NonceVerification
		$context = Usersync_Settings::context();
		$wp      = Usersync_Settings::wordpress();
		$iss     = '';
		try {
			if ( ! $context || ! $wp ) {
				throw new Usersync_Apply_Failed( 'usersync is not configured here' );
			}
			$opened = $context->openTicket( $ticket );
			$iss    = $opened['iss'];
			self::record_once( $opened );
			$user = get_user_by( 'login', $opened['data']['login'] );
			if ( ! $user ) {
				throw new Usersync_Apply_Failed( 'no such user here (single sign-on never creates users)' );
			}
			self::start_session( $wp, $user, $opened, 'frame' === $mode ? 'None' : 'Lax' );
			Usersync_Log::add( 'in', $iss, 'login', $user->user_login, 'applied', $mode );
		} catch ( Usersync\Exception | Usersync_Apply_Failed $e ) {
			$reason = $e instanceof Usersync\Exception ? $e->reason : $e->getMessage();
			Usersync_Log::add( 'in', $iss, 'login', '', 'refused', $reason );
			if ( 'frame' === $mode ) {
				self::redirect( add_query_arg( array( 'usersync_sso_check' => '1', 'from' => rawurlencode( $iss ) ), home_url( '/' ) ) );
			}
			status_header( 403 );
			header( 'Content-Type: text/plain; charset=utf-8' );
			echo esc_html( 'Single sign-on refused: ' . $reason );
			exit;
		}
		if ( 'frame' === $mode ) {
			self::redirect( add_query_arg( array( 'usersync_sso_check' => '1', 'from' => rawurlencode( $iss ) ), home_url( '/' ) ) );
		}
		// The return URL was checked by the library: this site or one of its peers.
		self::redirect( $opened['data']['return'] ?? home_url( '/' ) );
	}

	private static function redirect( string $url ): void {
		header( 'Location: ' . $url, true, 303 );
		exit;
	}

	/** A ticket is single-use: its (iss, jti) is recorded like an action's. */
	private static function record_once( array $opened ): void {
		global $wpdb;
		$seen = Usersync_Schema::tables()['seen'];
		if ( 1 !== $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, jti, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['jti'], $opened['exp'] ) ) ) { // phpcs:ignore WordPress.DB.PreparedSQL
			throw new Usersync_Apply_Failed( 'ticket already used' );
		}
	}

	/** A new WordPress session for the user, linked to the peer's session, and its cookies. */
	private static function start_session( Usersync\WordPressSite $wp, WP_User $user, array $opened, string $samesite ): void {
		$remember   = (bool) $opened['data']['remember'];
		$expiration = time() + (int) apply_filters( 'auth_cookie_expiration', ( $remember ? 14 : 2 ) * DAY_IN_SECONDS, $user->ID, $remember );
		$token      = $wp->sessionToken();
		$sessions   = get_user_meta( $user->ID, 'session_tokens', true );
		$sessions   = is_array( $sessions ) ? $sessions : array();
		$sessions[ $wp->sessionVerifier( $token ) ] = array(
			'expiration'   => $expiration,
			'ip'           => isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '',
			'ua'           => isset( $_SERVER['HTTP_USER_AGENT'] ) ? substr( sanitize_text_field( wp_unslash( $_SERVER['HTTP_USER_AGENT'] ) ), 0, 255 ) : '',
			'login'        => time(),
			'usersync_iss' => $opened['iss'],
			'usersync_sid' => (string) ( $opened['data']['sid'] ?? '' ),
		);
		update_user_meta( $user->ID, 'session_tokens', $sessions );

		$secure  = is_ssl();
		$expires = $remember ? $expiration + 12 * HOUR_IN_SECONDS : 0;
		$options = static function ( string $path, bool $is_secure ) use ( $expires, $samesite ): array {
			// SameSite=None is only honoured on Secure cookies: over plain HTTP the frames cannot work.
			return array( 'expires' => $expires, 'path' => $path, 'domain' => COOKIE_DOMAIN, 'secure' => $is_secure, 'httponly' => true, 'samesite' => $is_secure ? $samesite : 'Lax' );
		};
		$auth_name = $secure ? SECURE_AUTH_COOKIE : AUTH_COOKIE;
		$auth      = $wp->generateCookie( $secure ? 'secure_auth' : 'auth', $user->user_login, $user->user_pass, $expiration, $token );
		$logged_in = $wp->generateCookie( 'logged_in', $user->user_login, $user->user_pass, $expiration, $token );
		$secure_li = $secure && 'https' === wp_parse_url( get_option( 'home' ), PHP_URL_SCHEME );
		setcookie( $auth_name, $auth, $options( PLUGINS_COOKIE_PATH, $secure ) );
		setcookie( $auth_name, $auth, $options( ADMIN_COOKIE_PATH, $secure ) );
		setcookie( LOGGED_IN_COOKIE, $logged_in, $options( COOKIEPATH, $secure_li ) );
		if ( COOKIEPATH !== SITECOOKIEPATH ) {
			setcookie( LOGGED_IN_COOKIE, $logged_in, $options( SITECOOKIEPATH, $secure_li ) );
		}
	}

	/** ?usersync_sso_check=1&from=PEER in a frame: tell the peer's page whether the cookie stuck. */
	public static function check_page(): void {
		if ( ! isset( $_GET['usersync_sso_check'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- reports a boolean only
			return;
		}
		$from   = sanitize_text_field( wp_unslash( $_GET['from'] ?? '' ) ); // phpcs:ignore WordPress.Security.NonceVerification
		$peer   = Usersync_Settings::peer( $from );
		$origin = '';
		if ( $peer ) {
			$parts  = wp_parse_url( $peer['url'] );
			$origin = $parts['scheme'] . '://' . $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
		}
		nocache_headers();
		header( 'Content-Type: text/html; charset=utf-8' );
		$message = array( 'usersync' => 'sso', 'site' => Usersync_Settings::site_id(), 'ok' => is_user_logged_in() );
		echo '<!doctype html><script>';
		if ( '' !== $origin ) {
			// Only the peer's own origin may receive the answer.
			echo 'parent.postMessage(' . wp_json_encode( $message ) . ', ' . wp_json_encode( $origin ) . ');';
		}
		echo '</script>';
		exit;
	}

	// ---- logout ---------------------------------------------------------------------------------

	/** check_admin_referer('log-out'): before WordPress ends the session, note which it is. */
	public static function before_logout( $action, $result ): void {
		if ( 'log-out' !== $action || ! $result || ! is_user_logged_in() ) {
			return;
		}
		$user    = wp_get_current_user();
		$token   = wp_get_session_token();
		$session = WP_Session_Tokens::get_instance( $user->ID )->get( $token );
		$wp      = Usersync_Settings::wordpress();
		// A session that came from a peer is named by the session it came from.
		$sid          = ! empty( $session['usersync_sid'] ) ? $session['usersync_sid'] : ( $wp ? $wp->sessionVerifier( $token ) : '' );
		self::$logout = array( 'login' => $user->user_login, 'sid' => $sid );
		if ( ! empty( $_REQUEST['usersync_everywhere'] ) ) {
			self::$logout['sid'] = '';
			WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
		}
	}

	/** wp_logout: the peers end the matching sessions (back-channel, through the outbox). */
	public static function logged_out(): void {
		if ( self::$logout ) {
			$data = array( 'login' => self::$logout['login'] );
			if ( '' !== self::$logout['sid'] ) {
				$data['sid'] = self::$logout['sid'];
			}
			Usersync_Events::add( array( 'act' => 'logout', 'data' => $data ) );
			self::$logout = null;
		}
	}

	/** A cookie whose session a peer ended: clear it when the browser next comes by. */
	public static function clear_dead_cookie(): void {
		// wp_clear_auth_cookie() asks for the current user, which validates the same dead cookie
		// and lands here again: clear once.
		static $clearing = false;
		if ( ! $clearing ) {
			$clearing = true;
			wp_clear_auth_cookie();
		}
	}

	/** "Log out everywhere" in the toolbar's account menu. */
	public static function toolbar( WP_Admin_Bar $bar ): void {
		if ( is_user_logged_in() && self::login_peers() ) {
			$bar->add_node(
				array(
					'parent' => 'user-actions',
					'id'     => 'usersync-logout-everywhere',
					'title'  => esc_html__( 'Log out everywhere', 'usersync' ),
					'href'   => add_query_arg( 'usersync_everywhere', '1', wp_logout_url() ),
				)
			);
		}
	}
}
