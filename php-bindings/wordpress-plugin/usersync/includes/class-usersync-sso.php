<?php
/**
 * Single sign-on and logout everywhere.
 *
 * Login on this site: after wp-login.php, the browser signs in on every peer whose policy is
 * sent `login`, with one single-use ticket per peer minted by the library and bound to the
 * browser (docs/protocol.md §12): the browser first visits the peer, which sets a random
 * binding cookie and hands back its hash; the ticket carries that hash, so a ticket posted by
 * any other browser logs nobody in. Two ways to carry them:
 *  - from the page ("parallel"; "auto" first): the login form's page already has the browser
 *    bound on every peer, in hidden frames, while the user types; the login sends the binding
 *    hashes along, the browser goes straight to the page it asked for, and that page posts each
 *    peer its ticket in a credentialed cross-site request, reading the peer's answer by CORS (one
 *    request per peer; a peer not bound yet is bound from the page first). Needs third-party
 *    cookies (and HTTPS). With them blocked the peer never stores its binding cookie, and the
 *    login form's frame says so: "auto" then takes the chain at once (a peer that refuses the
 *    page's ticket for want of the cookie sends the page on the chain through it, back to the
 *    same page), and remembers to take the chain first next time. A peer's frame mode (a page in
 *    a frame posting its answer) stays for hosts that sign their peers in from frames;
 *  - a top-level redirect chain through the peers and back ("redirect"): the login goes
 *    straight to the first peer's binding step, and the last peer straight to the asked page.
 * Tickets travel only in POST bodies, never in URLs. Every destination is checked by the
 * library (this site or a peer); a peer that refuses a ticket is skipped and logs why, and the
 * browser always ends on the page it asked for. Pages run no inline script.
 *
 * Login from a peer: the ticket is opened by the library, the library's target check decides
 * (binding, linked account, protected account), its jti is recorded once, and the session is
 * started by WordPress core (wp_set_auth_cookie and the wp_login action), so security, audit
 * and two-factor plugins see the login. Peers never create users here, an account that a
 * second factor protects is refused (filter usersync_sso_requires_second_factor), and so is one
 * this site's plugins refuse at login (core's wp_authenticate_user filter; multisite spam).
 *
 * Logout: a back-channel `logout` action tells the peers to end the sessions that came from
 * this session (or, "log out everywhere", all of the user's sessions).
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_SSO {

	/** This site's single sign-on state for a login in progress (HttpOnly, first-party). */
	const STATE_COOKIE = 'usersync_sso';
	/** This browser blocks third-party cookies: its logins take the chain at once (first-party). */
	const CHAIN_COOKIE = 'usersync_chain';
	/** The modes in which a peer's page asks and reads the answer itself (else: the chain's redirects). */
	const IN_PAGE = array( 'fetch', 'frame' );

	/** The browser binding a peer's ticket must match (HttpOnly, set by the receiving site). */
	const BIND_COOKIE = 'usersync_bind';
	const STATE_TTL   = 600;
	const BIND_TTL    = 300;

	/** @var array{user_id: int, token: string, remember: bool}|null the login being made now */
	private static $login = null;
	/** @var bool true while a peer's ticket signs the browser in here */
	private static $accepting = false;
	/** @var array{uid: string, login: string, sid: string}|null the session being logged out */
	private static $logout = null;
	/** @var bool true once the login form has its binding frames */
	private static $login_frames = false;

	// ---- shared --------------------------------------------------------------------------------

	/** @return string[] ids of the peers this site sends logins to. */
	private static function login_peers(): array {
		$peers = array();
		foreach ( Usersync_Settings::peers() as $peer ) {
			if ( in_array( 'login', (array) ( $peer['send']['actions'] ?? array() ), true ) ) {
				$peers[] = (string) $peer['id'];
			}
		}
		return $peers;
	}

	/** A destination checked by the library (this site or a peer), or null. */
	private static function checked( string $url ): ?string {
		$context = Usersync_Settings::context();
		if ( ! $context ) {
			return null;
		}
		try {
			return $context->checkReturn( $url );
		} catch ( Usersync\Exception $e ) {
			return null;
		}
	}

	/**
	 * Where a login may send the browser: core's rule (wp_validate_redirect, this site and the
	 * allowed hosts), made absolute, then the library's (same scheme, host and port as this
	 * site or a peer); anything else goes to the dashboard.
	 */
	public static function destination( string $url ): string {
		$fallback = admin_url();
		$url      = wp_validate_redirect( $url, $fallback );
		if ( '' === $url || ! preg_match( '#^https?://#i', $url ) ) {
			$home = wp_parse_url( home_url( '/' ) );
			$base = $home['scheme'] . '://' . $home['host'] . ( isset( $home['port'] ) ? ':' . $home['port'] : '' );
			$url  = str_starts_with( $url, '/' ) ? $base . $url : home_url( '/' . $url );
		}
		return self::checked( $url ) ?? $fallback;
	}

	/** allowed_redirect_hosts: the peers' hosts (the library still checks scheme and port). */
	public static function allowed_hosts( $hosts ): array {
		foreach ( Usersync_Settings::peers() as $peer ) {
			$host = wp_parse_url( (string) ( $peer['url'] ?? '' ), PHP_URL_HOST );
			if ( $host ) {
				$hosts[] = $host;
			}
		}
		return (array) $hosts;
	}

	private static function set_cookie( string $name, string $value, int $ttl, bool $cross_site ): void {
		$secure = is_ssl();
		setcookie(
			$name,
			$value,
			array(
				'expires'  => $ttl > 0 ? time() + $ttl : 1,
				'path'     => COOKIEPATH,
				'domain'   => COOKIE_DOMAIN,
				'secure'   => $secure,
				'httponly' => true,
				// SameSite=None is only honoured on Secure cookies: without HTTPS only same-site flows work.
				'samesite' => $cross_site && $secure ? 'None' : 'Lax',
			)
		);
	}

	private static function script_url( string $file ): string {
		return plugins_url( 'assets/' . $file, USERSYNC_PLUGIN_FILE ) . '?ver=' . rawurlencode( USERSYNC_VERSION );
	}

	/**
	 * Prints one of the plugin's scripts (assets/$name.js) the WordPress way: registered, then
	 * printed by core where the markup it drives ends (these pages have no wp_head/wp_footer of
	 * their own).
	 */
	private static function print_script( string $name ): void {
		wp_register_script( "usersync-$name", plugins_url( "assets/$name.js", USERSYNC_PLUGIN_FILE ), array(), USERSYNC_VERSION, true );
		wp_print_scripts( "usersync-$name" );
	}

	/**
	 * Starts one of the plugin's own small HTML pages: no caching, no Referer, and a Content
	 * Security Policy that allows no inline script or style, and frames, forms and redirects
	 * only to this site and its peers (a form's redirect chain runs through every peer).
	 * $frame_ancestors: the origins that may frame the page.
	 */
	private static function page_headers( array $frame_ancestors = array() ): void {
		nocache_headers();
		header( 'Content-Type: text/html; charset=utf-8' );
		header( 'Referrer-Policy: no-referrer' );
		$script = Usersync_Settings::origin( self::script_url( 'x' ) );
		$peers  = array();
		foreach ( Usersync_Settings::peers() as $peer ) {
			$peers[] = Usersync_Settings::origin( (string) ( $peer['url'] ?? '' ) );
		}
		$peers = implode( ' ', array_filter( $peers ) );
		header(
			"Content-Security-Policy: default-src 'none'; script-src $script; connect-src 'self' $peers; frame-src $peers; "
			. "form-action 'self' $peers; base-uri 'none'; frame-ancestors " . ( $frame_ancestors ? implode( ' ', $frame_ancestors ) : "'none'" )
		);
	}

	// ---- this site: a login starts single sign-on ----------------------------------------------

	/** set_logged_in_cookie: remembers the new session's token (to name it to the peers). */
	public static function capture_login( $cookie, $expire, $expiration, $user_id, $scheme, $token ): void {
		if ( ! self::$accepting ) {
			self::$login = array( 'user_id' => (int) $user_id, 'token' => (string) $token, 'remember' => 0 !== (int) $expire );
		}
	}

	/**
	 * login_redirect: after a login, the asked page at once, signing the peers in while it loads —
	 * or, for the chain (redirect mode, a browser known to block third-party cookies, a page
	 * that is not this site's), the single sign-on page first.
	 */
	public static function login_redirect( $redirect_to, $requested, $user ) {
		if ( ! self::$login || ! ( $user instanceof WP_User ) || self::$login['user_id'] !== $user->ID ) {
			return $redirect_to;
		}
		$peers = self::login_peers();
		$uid   = Usersync_Links::uid_of( $user->ID );
		$wp    = Usersync_Settings::wordpress();
		if ( ! $peers || null === $uid || ! $wp ) {
			return $redirect_to; // nothing to sign in elsewhere (an account that is not linked stays local)
		}
		// The session names the peers it signs in: their logout may end it (docs/protocol.md §15).
		$sessions = WP_Session_Tokens::get_instance( $user->ID );
		$session  = $sessions->get( self::$login['token'] );
		if ( is_array( $session ) ) {
			$session['usersync_peers'] = $peers;
			$sessions->update( self::$login['token'], $session );
		}
		$dest    = self::destination( (string) $redirect_to );
		$bound   = self::login_bindings( $peers );
		$blocked = null === $bound;
		if ( $blocked && 'auto' === Usersync_Settings::sso_mode() ) {
			self::set_cookie( self::CHAIN_COOKIE, '1', 30 * DAY_IN_SECONDS, false ); // the login page's frames found their cookies blocked
		}
		$chain  = 'redirect' === Usersync_Settings::sso_mode() || ! empty( $_COOKIE[ self::CHAIN_COOKIE ] )
			|| ( $blocked && 'auto' === Usersync_Settings::sso_mode() );
		$here   = ! $chain && Usersync_Settings::origin( $dest ) === Usersync_Settings::origin( home_url( '/' ) );
		$state  = array(
			'user_id'   => $user->ID,
			'uid'       => $uid,
			'sid'       => $wp->sessionVerifier( self::$login['token'] ),
			'remember'  => self::$login['remember'],
			'dest'      => $dest,
			'remaining' => $chain ? $peers : array(), // peers the chain still goes through
			'in_page'   => $here ? $peers : array(), // peers the asked page still signs in
			'bnd'       => $chain ? array() : (array) $bound, // binding hashes the login form's frames got
		);
		$key = Usersync\Secret::nonce( 32 );
		set_transient( 'usersync_sso_' . $key, $state, self::STATE_TTL );
		self::set_cookie( self::STATE_COOKIE, $key, self::STATE_TTL, false );
		if ( $chain ) {
			return self::bind_url( $peers[0], 'chain' ); // the chain's first hop, straight from the login
		}
		return $here ? $dest : home_url( '/?usersync_sso=1' );
	}

	/**
	 * The binding hashes the login form's frames put into the form (login_form_bindings), for
	 * the peers this site signs in, or null when a frame found that the browser blocks its
	 * cookies. They are only hashes: a ticket bound to one logs in only the browser that holds
	 * the value behind it (a wrong one is refused as wrong_browser). @return array|null
	 */
	private static function login_bindings( array $peers ): ?array {
		// phpcs:disable WordPress.Security.NonceVerification.Missing -- hashes only, see above; the login itself is core's
		if ( ! empty( $_POST['usersync_blocked'] ) ) {
			return null;
		}
		$posted = isset( $_POST['usersync_bnd'] ) && is_array( $_POST['usersync_bnd'] ) ? wp_unslash( $_POST['usersync_bnd'] ) : array(); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- each checked below
		// phpcs:enable
		$bound = array();
		foreach ( $peers as $peer ) {
			$bnd = isset( $posted[ $peer ] ) && is_string( $posted[ $peer ] ) ? $posted[ $peer ] : '';
			if ( preg_match( '/^[A-Za-z0-9_-]{43}$/', $bnd ) ) {
				$bound[ $peer ] = $bnd;
			}
		}
		return $bound;
	}

	/**
	 * login_form: the login form binds the browser on every peer while the user types (hidden
	 * frames to each peer's binding step, sso-login.js), so that after the login each peer needs
	 * only its ticket. Not for a browser that takes the chain (whose frames' cookies are blocked).
	 */
	public static function login_form_bindings(): void {
		global $interim_login;
		$peers = self::login_peers();
		if ( ! $peers || $interim_login || 'redirect' === Usersync_Settings::sso_mode() || ! empty( $_COOKIE[ self::CHAIN_COOKIE ] ) || ! Usersync_Settings::context() ) {
			return;
		}
		$config = array( 'peers' => array() );
		foreach ( $peers as $id ) {
			$entry = Usersync_Settings::peer( $id );
			$config['peers'][ $id ] = array(
				'origin' => Usersync_Settings::origin( (string) $entry['url'] ),
				'bind'   => esc_url_raw( self::bind_url( $id, 'frame' ) ),
			);
		}
		echo '<div id="usersync-login" hidden data-config="' . esc_attr( wp_json_encode( $config ) ) . '"></div>';
		self::$login_frames = true;
	}

	/** login_footer: the script that drives the login form's binding frames, if it has them. */
	public static function login_footer(): void {
		if ( self::$login_frames ) {
			self::print_script( 'sso-login' );
		}
	}

	/** @return array{0: string, 1: array|false} the state's key and the state of this browser's login */
	private static function state(): array {
		$key   = isset( $_COOKIE[ self::STATE_COOKIE ] ) ? preg_replace( '/[^A-Za-z0-9_-]/', '', wp_unslash( $_COOKIE[ self::STATE_COOKIE ] ) ) : '';
		$state = $key ? get_transient( 'usersync_sso_' . $key ) : false;
		if ( ! is_array( $state ) || get_current_user_id() !== (int) $state['user_id'] ) {
			$state = false;
		}
		return array( $key, $state );
	}

	/** A peer id named in the request, if it is one this site signs in. */
	private static function peer_param( string $name ): ?string {
		$id = isset( $_REQUEST[ $name ] ) ? sanitize_text_field( wp_unslash( $_REQUEST[ $name ] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification -- checked against the configured peers
		return in_array( $id, self::login_peers(), true ) ? $id : null;
	}

	/**
	 * The single sign-on page on this site (init, 1: answered as soon as the user is known, without
	 * the main query and the template): a ticket for the asked page, the chain's next hop, or the
	 * destination.
	 */
	public static function sso_page(): void {
		if ( ! isset( $_GET['usersync_sso'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- the state is bound to an HttpOnly cookie
			return;
		}
		Usersync_Plugin::load_textdomain(); // its pages' words (the plugin loads them later in init)
		list( $key, $state ) = self::state();
		if ( ! $state ) {
			wp_safe_redirect( admin_url() );
			exit;
		}
		if ( isset( $_GET['issue'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- checked in page_ticket()
			self::page_ticket( $state );
		}
		// phpcs:disable WordPress.Security.NonceVerification -- each value is checked against the configured peers
		if ( isset( $_GET['bound'], $_GET['bnd'] ) ) {
			// Back from a peer's binding step of the chain: post the peer its ticket. The last
			// peer sends the browser straight on to the asked page when it is this site's (a
			// peer returns only to this site, or itself).
			$peer = (string) self::peer_param( 'bound' );
			$bnd  = preg_replace( '/[^A-Za-z0-9_-]/', '', wp_unslash( $_GET['bnd'] ) );
			$rest = array_values( array_diff( $state['remaining'], array( $peer ) ) );
			$last = ! $rest && Usersync_Settings::origin( $state['dest'] ) === Usersync_Settings::origin( home_url( '/' ) );
			$back = $last ? $state['dest'] : home_url( '/?usersync_sso=1&continue=' . rawurlencode( $peer ) );
			$t    = '' !== $peer ? self::mint( $state, $peer, $bnd, $back ) : null;
			if ( $t ) {
				if ( $last ) {
					self::end_state( $key );
				}
				self::render_post( $t, $back );
			}
			$state['remaining'] = $rest; // no ticket: skip it
		} elseif ( isset( $_GET['continue'] ) ) {
			$state['remaining'] = array_values( array_diff( $state['remaining'], array( (string) self::peer_param( 'continue' ) ) ) );
		} elseif ( isset( $_GET['chain'] ) ) {
			// The page could not sign some peers in (third-party cookies blocked): chain through
			// those, and take the chain at once next time in this browser.
			$asked              = explode( ',', sanitize_text_field( wp_unslash( $_GET['chain'] ) ) );
			$state['remaining'] = array_values( array_intersect( self::login_peers(), $asked ) );
			$state['in_page']   = array(); // the chain signs them in now: not the next page
			self::set_cookie( self::CHAIN_COOKIE, '1', 30 * DAY_IN_SECONDS, false );
		} elseif ( 'redirect' === Usersync_Settings::sso_mode() ) {
			$state['remaining'] = self::login_peers();
		} else {
			self::render_interstitial();
		}
		// phpcs:enable
		set_transient( 'usersync_sso_' . $key, $state, self::STATE_TTL );
		$next = $state['remaining'][0] ?? null;
		if ( null === $next ) {
			self::end_state( $key );
			wp_safe_redirect( $state['dest'] );
			exit;
		}
		wp_safe_redirect( self::bind_url( $next, 'chain' ), 303 );
		exit;
	}

	/** The login's single sign-on is over: its state goes. */
	private static function end_state( string $key ): void {
		delete_transient( 'usersync_sso_' . $key );
		self::set_cookie( self::STATE_COOKIE, '', 0, false );
	}

	/** Where the browser gets a peer's binding cookie. */
	private static function bind_url( string $peer, string $mode ): string {
		$entry = Usersync_Settings::peer( $peer );
		return add_query_arg(
			array(
				'usersync_sso_bind' => '1',
				'from'              => rawurlencode( Usersync_Settings::site_id() ),
				'mode'              => $mode,
			),
			untrailingslashit( (string) $entry['url'] ) . '/'
		);
	}

	/** A ticket for one peer bound to the browser's binding hash $bnd, or null (logged: skipped). */
	private static function mint( array $state, string $peer, string $bnd, ?string $return ): ?array {
		$user    = get_userdata( (int) $state['user_id'] );
		$context = Usersync_Settings::context();
		if ( ! $user || ! $context ) {
			return null;
		}
		$request = array(
			'peer'     => $peer,
			'uid'      => $state['uid'],
			'login'    => $user->user_login,
			'remember' => (bool) $state['remember'],
			'bnd'      => $bnd,
		);
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

	/** POST ?usersync_sso=1&issue=1 from the asked page: a ticket for one peer, as JSON. */
	private static function page_ticket( array $state ): void {
		if ( 'POST' !== ( $_SERVER['REQUEST_METHOD'] ?? '' ) || ! wp_verify_nonce( sanitize_text_field( wp_unslash( $_POST['nonce'] ?? '' ) ), 'usersync_sso' ) ) {
			wp_send_json_error( null, 403 );
		}
		$peer = self::peer_param( 'peer' );
		$bnd  = preg_replace( '/[^A-Za-z0-9_-]/', '', wp_unslash( $_POST['bnd'] ?? '' ) );
		$t    = $peer ? self::mint( $state, $peer, $bnd, null ) : null;
		if ( ! $t ) {
			wp_send_json_error( null, 404 );
		}
		// One ticket per peer: the next page this browser opens does not sign it in. (A flag of
		// its own per peer: the page asks for all at once, and they must not overwrite each
		// other's state.)
		list( $key ) = self::state();
		set_transient( self::issued_key( $key, $peer ), 1, self::STATE_TTL );
		wp_send_json_success( array( 'accept' => $t['accept'], 'ticket' => $t['message'] ) );
	}

	/** A top-level POST of a ticket to a peer (the chain); $back is where a refusal returns. */
	private static function render_post( array $ticket, string $back ): void {
		self::page_headers();
		echo '<!doctype html><meta name="referrer" content="no-referrer"><title>' . esc_html__( 'Signing you in…', 'usersync' ) . '</title>';
		echo '<form id="usersync-post" method="post" action="' . esc_url( $ticket['accept'] ) . '">';
		echo '<input type="hidden" name="ticket" value="' . esc_attr( $ticket['message'] ) . '">';
		echo '<input type="hidden" name="mode" value="chain">';
		echo '<input type="hidden" name="return" value="' . esc_url( $back ) . '">';
		echo '<noscript><button>' . esc_html__( 'Continue', 'usersync' ) . '</button></noscript></form>';
		self::print_script( 'sso-post' );
		exit;
	}

	/**
	 * The configuration of the script that signs the browser in on $peers from a page
	 * (sso-peers.js): each peer gets a bound ticket — here and now for a peer the login form's
	 * frames bound (the page posts it at once), else from the ticket request once the page has
	 * bound the browser there; $done is where the page goes when all have answered (null: it
	 * stays). The page carrying tickets is this user's own, never cached (WordPress sends
	 * logged-in pages with no-store), and a ticket in it is single-use and bound to this
	 * browser; it never appears in a URL.
	 */
	private static function peers_markup( array $peers, ?string $done, string $key, array $state ): string {
		$config = array(
			'peers'    => array(),
			'ticket'   => home_url( '/?usersync_sso=1&issue=1' ),
			'nonce'    => wp_create_nonce( 'usersync_sso' ),
			'done'     => $done,
			'chain'    => home_url( '/?usersync_sso=1&chain=' ),
			'site'     => Usersync_Settings::site_id(),
			'fallback' => 'auto' === Usersync_Settings::sso_mode(),
			'timeout'  => 5000,
		);
		foreach ( $peers as $id ) {
			$entry = Usersync_Settings::peer( $id );
			if ( $entry ) {
				$config['peers'][ $id ] = array(
					'origin' => Usersync_Settings::origin( (string) $entry['url'] ),
					'bind'   => esc_url_raw( self::bind_url( $id, 'fetch' ) ),
				);
				$bnd = (string) ( $state['bnd'][ $id ] ?? '' );
				$t   = '' !== $bnd ? self::mint( $state, $id, $bnd, null ) : null;
				if ( $t ) {
					set_transient( self::issued_key( $key, $id ), 1, self::STATE_TTL );
					$config['peers'][ $id ]['ticket'] = array( 'accept' => $t['accept'], 'ticket' => $t['message'] );
				}
			}
		}
		// A template: inert, and allowed in the head as in the body.
		return '<template id="usersync-sso" data-config="' . esc_attr( wp_json_encode( $config ) ) . '"></template>';
	}

	/** The interstitial for a destination that is not this site's: the peers, then the destination. */
	private static function render_interstitial(): void {
		list( $key, $state ) = self::state();
		self::page_headers();
		echo '<!doctype html><meta name="referrer" content="no-referrer"><title>' . esc_html__( 'Signing you in…', 'usersync' ) . '</title>';
		echo '<p>' . esc_html__( 'Signing you in on the linked sites…', 'usersync' ) . '</p>';
		echo self::peers_markup( self::login_peers(), $state['dest'], $key, $state ); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped where built
		self::print_script( 'sso-peers' );
		exit;
	}

	/** Where a login's in-page ticket for one peer is noted as issued. */
	private static function issued_key( string $key, string $peer ): string {
		return 'usersync_sso_' . $key . '_' . substr( md5( $peer ), 0, 12 );
	}

	/**
	 * admin_head, wp_head (else wp_footer, admin_footer): the page this browser asked for after
	 * its login signs it in on the peers still to sign in while the user already reads it; once
	 * per page. Printed in the head with a small blocking script, so the peers' requests leave
	 * before the page's own scripts run: an async script in the body is fetched at low priority
	 * and waits for the main thread, which held the peers back by 100–200 ms.
	 */
	public static function page_peers(): void {
		static $printed = false;
		if ( $printed ) {
			return;
		}
		$printed = true;
		list( $key, $state ) = self::state();
		if ( ! $state || empty( $state['in_page'] ) ) {
			return;
		}
		$peers = array();
		foreach ( array_intersect( self::login_peers(), (array) $state['in_page'] ) as $peer ) {
			if ( ! get_transient( self::issued_key( $key, $peer ) ) ) {
				$peers[] = $peer;
			}
		}
		if ( $peers ) {
			echo self::peers_markup( $peers, null, $key, $state ); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped where built
			self::print_script( 'sso-peers' );
		}
	}

	// ---- a peer's browser signs in here ----------------------------------------------------------

	/** The peer named by ?from=, with its origin, or null. */
	private static function from_peer(): ?array {
		$id   = isset( $_GET['from'] ) ? sanitize_text_field( wp_unslash( $_GET['from'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification -- checked against the configuration
		$peer = Usersync_Settings::peer( $id );
		return $peer ? $peer + array( 'origin' => Usersync_Settings::origin( (string) $peer['url'] ) ) : null;
	}

	/**
	 * Answers a peer's page with one message, readable by that peer's origin only: to its
	 * credentialed request ("fetch": JSON, with CORS allowing that one origin), or as a page in
	 * its frame that posts the message to it ("frame": a host that signs its peers in from frames).
	 */
	private static function answer_page( array $peer, string $mode, array $message ): void {
		if ( 'fetch' === $mode ) {
			nocache_headers();
			header( 'Access-Control-Allow-Origin: ' . $peer['origin'] );
			header( 'Access-Control-Allow-Credentials: true' );
			header( 'Vary: Origin' );
			wp_send_json( $message );
		}
		self::render_frame_message( $peer, $message );
	}

	/** A page in a peer's frame that posts one message to the peer's origin, and nothing else. */
	private static function render_frame_message( array $peer, array $message ): void {
		self::page_headers( array( $peer['origin'] ) );
		echo '<!doctype html><div id="usersync-message" data-origin="' . esc_attr( $peer['origin'] ) . '" data-message="' . esc_attr( wp_json_encode( $message ) ) . '"></div>';
		self::print_script( 'sso-frame' );
		exit;
	}

	/**
	 * GET ?usersync_sso_bind=1&from=PEER&mode=fetch|frame|chain: the first step of a peer's single
	 * sign-on here. Sets a fresh binding cookie and hands its hash back to the peer (the answer to
	 * its page's request, a message to its frame's parent, or the redirect back to it). The value
	 * itself never leaves this site.
	 */
	public static function bind(): void {
		if ( ! isset( $_GET['usersync_sso_bind'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- sets a random cookie only
			return;
		}
		$peer = self::from_peer();
		if ( ! $peer || ! Usersync_Settings::context() ) {
			status_header( 400 );
			exit;
		}
		$value = Usersync\Secret::nonce( 43 );
		self::set_cookie( self::BIND_COOKIE, $value, self::BIND_TTL, true );
		$bnd = Usersync\Secret::bindingHash( $value );
		$mode = sanitize_key( wp_unslash( $_GET['mode'] ?? '' ) ); // phpcs:ignore WordPress.Security.NonceVerification
		if ( in_array( $mode, self::IN_PAGE, true ) ) {
			self::answer_page( $peer, $mode, array( 'usersync' => 'bind', 'bnd' => $bnd ) );
		}
		$back = self::checked( untrailingslashit( (string) $peer['url'] ) . '/?usersync_sso=1&bound=' . rawurlencode( Usersync_Settings::site_id() ) . '&bnd=' . $bnd );
		nocache_headers();
		wp_safe_redirect( $back ?? home_url( '/' ), 303 );
		exit;
	}

	/** POST ?usersync_sso_accept=1 with a ticket: the library decides; WordPress signs the browser in. */
	public static function accept(): void {
		if ( ! isset( $_GET['usersync_sso_accept'] ) || 'POST' !== ( $_SERVER['REQUEST_METHOD'] ?? '' ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- the ticket is the credential
			return;
		}
		// phpcs:disable WordPress.Security.NonceVerification -- the ticket is the credential, bound to this browser
		$mode    = sanitize_key( wp_unslash( $_POST['mode'] ?? 'chain' ) );
		$in_page = in_array( $mode, self::IN_PAGE, true ); // answered to the peer's page, not a redirect
		$ticket  = isset( $_POST['ticket'] ) ? (string) wp_unslash( $_POST['ticket'] ) : '';
		$back    = isset( $_POST['return'] ) ? self::checked( (string) wp_unslash( $_POST['return'] ) ) : null;
		$binding = isset( $_COOKIE[ self::BIND_COOKIE ] ) ? preg_replace( '/[^A-Za-z0-9_-]/', '', wp_unslash( $_COOKIE[ self::BIND_COOKIE ] ) ) : null;
		// phpcs:enable
		self::set_cookie( self::BIND_COOKIE, '', 0, true ); // single use, whatever happens
		$context = Usersync_Settings::context();
		$opened  = null;
		try {
			if ( ! $context ) {
				throw new Usersync_Apply_Failed( 'usersync is not configured here' );
			}
			$opened               = $context->openTicket( $ticket );
			list( $facts, $user ) = Usersync_Links::facts( $opened, $binding );
			$context->checkTarget( $opened, $facts );
			self::record_once( $opened );
			if ( self::requires_second_factor( $user ) ) {
				throw new Usersync_Apply_Failed( 'second_factor_required' );
			}
			$refused = self::login_refused( $user );
			if ( null !== $refused ) {
				throw new Usersync_Apply_Failed( $refused );
			}
			self::log_in( $user, $opened, $in_page );
			Usersync_Log::add( 'in', $opened['iss'], 'login', $user->user_login, 'applied', $in_page ? $mode : 'chain' );
			$ok = true;
		} catch ( Usersync\Exception | Usersync_Apply_Failed $e ) {
			$reason = $e instanceof Usersync\Exception ? $e->reason : $e->getMessage();
			Usersync_Log::add( 'in', (string) ( $opened['iss'] ?? '' ), 'login', (string) ( $opened['data']['login'] ?? '' ), 'refused', $reason );
			$ok = false;
		}
		nocache_headers();
		if ( $in_page ) {
			// The peer's page gets the answer at once. A signed-in browser sent the binding cookie
			// from that page, so the login's cookies stick there too; a ticket refused for want of
			// it means the browser blocks this site's cookies there, and the chain may work.
			$retry = ! $ok && isset( $reason ) && 'wrong_browser' === $reason;
			// The ticket names its site; one that did not open falls back on the form's word for
			// it (only a configured peer's origin ever gets the answer).
			$from = (string) ( $opened['iss'] ?? sanitize_text_field( wp_unslash( $_POST['from'] ?? '' ) ) ); // phpcs:ignore WordPress.Security.NonceVerification
			$peer = Usersync_Settings::peer( $from );
			if ( ! $peer ) {
				status_header( 400 );
				exit;
			}
			self::answer_page( $peer + array( 'origin' => Usersync_Settings::origin( (string) $peer['url'] ) ), $mode, array( 'usersync' => 'sso', 'ok' => $ok, 'retry' => $retry ) );
		}
		// The chain goes on: to the ticket's return URL (checked by the library), else where the form said.
		wp_safe_redirect( $opened['data']['return'] ?? $back ?? home_url( '/' ), 303 );
		exit;
	}

	/** A ticket is single-use: its (iss, jti) is recorded like an action's. */
	private static function record_once( array $opened ): void {
		global $wpdb;
		$seen = Usersync_Schema::tables()['seen'];
		if ( 1 !== $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO $seen (iss, msg_id, exp) VALUES (%s, %s, %d)", $opened['iss'], $opened['jti'], $opened['exp'] ) ) ) { // phpcs:ignore WordPress.DB.PreparedSQL
			throw new Usersync_Apply_Failed( 'ticket already used' );
		}
	}

	/**
	 * Whether another plugin requires a second factor for this account. Single sign-on never
	 * bypasses one: such accounts log in on this site themselves. Sites that accept the peer's
	 * login as enough return false from the filter usersync_sso_requires_second_factor.
	 */
	private static function requires_second_factor( WP_User $user ): bool {
		$uses = class_exists( 'Two_Factor_Core' ) && method_exists( 'Two_Factor_Core', 'is_user_using_two_factor' )
			&& Two_Factor_Core::is_user_using_two_factor( $user->ID );
		return (bool) apply_filters( 'usersync_sso_requires_second_factor', $uses, $user );
	}

	/**
	 * Whether this site refuses the account a login now, asked the way core's password login
	 * asks: the wp_authenticate_user filter, where plugins refuse suspended, unapproved or
	 * locked accounts (it gets no password: the peer checked the user's), and on multisite a
	 * spammed account. @return string|null the refusal's reason, or null
	 */
	private static function login_refused( WP_User $user ): ?string {
		if ( is_multisite() && is_user_spammy( $user ) ) {
			return 'spammed_account';
		}
		$checked = apply_filters( 'wp_authenticate_user', $user, '' );
		if ( is_wp_error( $checked ) ) {
			return 'login_refused: ' . $checked->get_error_code();
		}
		return $checked instanceof WP_User && $checked->ID === $user->ID ? null : 'login_refused';
	}

	/**
	 * Signs the browser in the way wp_signon() does: core makes the session (WP_Session_Tokens,
	 * with the peer session it came from attached) and the cookies, its cookie actions and
	 * wp_login fire. Only the sending differs: set from another site's page, the cookies need
	 * SameSite=None.
	 */
	private static function log_in( WP_User $user, array $opened, bool $cross_site ): void {
		$attach  = static function ( $info ) use ( $opened ) {
			return (array) $info + array( 'usersync_iss' => $opened['iss'], 'usersync_sid' => (string) ( $opened['data']['sid'] ?? '' ) );
		};
		$cookies = array();
		$capture = static function ( $cookie, $expire, $expiration, $user_id, $scheme ) use ( &$cookies ) {
			$cookies[ $scheme ] = array( $cookie, (int) $expire );
		};
		self::$accepting = true;
		add_filter( 'attach_session_information', $attach );
		add_action( 'set_auth_cookie', $capture, 10, 5 );
		add_action( 'set_logged_in_cookie', $capture, 10, 5 );
		add_filter( 'send_auth_cookies', '__return_false', PHP_INT_MAX );
		try {
			wp_set_auth_cookie( $user->ID, (bool) $opened['data']['remember'], is_ssl() );
		} finally {
			remove_filter( 'send_auth_cookies', '__return_false', PHP_INT_MAX );
			remove_action( 'set_logged_in_cookie', $capture, 10 );
			remove_action( 'set_auth_cookie', $capture, 10 );
			remove_filter( 'attach_session_information', $attach );
			self::$accepting = false;
		}
		self::send_cookies( $cookies, $cross_site );
		wp_set_current_user( $user->ID );
		do_action( 'wp_login', $user->user_login, $user );
	}

	/** Sends the cookies core made, as core would, with the SameSite a cross-site request needs. */
	private static function send_cookies( array $cookies, bool $cross_site ): void {
		$secure    = is_ssl();
		$secure_li = (bool) apply_filters( 'secure_logged_in_cookie', $secure && 'https' === wp_parse_url( get_option( 'home' ), PHP_URL_SCHEME ), 0, $secure );
		$send      = static function ( string $name, array $cookie, string $path, bool $is_secure ) use ( $cross_site ): void {
			setcookie(
				$name,
				$cookie[0],
				array(
					'expires'  => $cookie[1],
					'path'     => $path,
					'domain'   => COOKIE_DOMAIN,
					'secure'   => $is_secure,
					'httponly' => true,
					'samesite' => $cross_site && $is_secure ? 'None' : 'Lax',
				)
			);
		};
		foreach ( array( 'secure_auth', 'auth' ) as $scheme ) {
			if ( isset( $cookies[ $scheme ] ) ) {
				$name = 'secure_auth' === $scheme ? SECURE_AUTH_COOKIE : AUTH_COOKIE;
				$send( $name, $cookies[ $scheme ], PLUGINS_COOKIE_PATH, $secure );
				$send( $name, $cookies[ $scheme ], ADMIN_COOKIE_PATH, $secure );
			}
		}
		if ( isset( $cookies['logged_in'] ) ) {
			$send( LOGGED_IN_COOKIE, $cookies['logged_in'], COOKIEPATH, $secure_li );
			if ( COOKIEPATH !== SITECOOKIEPATH ) {
				$send( LOGGED_IN_COOKIE, $cookies['logged_in'], SITECOOKIEPATH, $secure_li );
			}
		}
	}

	// ---- logout ---------------------------------------------------------------------------------

	/** check_admin_referer('log-out'): before WordPress ends the session, note which it is. */
	public static function before_logout( $action, $result ): void {
		if ( 'log-out' !== $action || ! $result || ! is_user_logged_in() ) {
			return;
		}
		$user = wp_get_current_user();
		$uid  = Usersync_Links::uid_of( $user->ID );
		if ( null === $uid ) {
			return;
		}
		$token   = wp_get_session_token();
		$session = WP_Session_Tokens::get_instance( $user->ID )->get( $token );
		$wp      = Usersync_Settings::wordpress();
		// A session that came from a peer is named by the session it came from.
		$sid          = ! empty( $session['usersync_sid'] ) ? $session['usersync_sid'] : ( $wp ? $wp->sessionVerifier( $token ) : '' );
		self::$logout = array( 'uid' => $uid, 'login' => $user->user_login, 'sid' => $sid );
		if ( ! empty( $_REQUEST['usersync_everywhere'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- check_admin_referer('log-out') just passed
			self::$logout['sid'] = '';
			WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
		}
	}

	/** wp_logout: the peers end the matching sessions (back-channel, through the outbox). */
	public static function logged_out(): void {
		if ( self::$logout ) {
			$data = array( 'uid' => self::$logout['uid'], 'login' => self::$logout['login'] );
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
