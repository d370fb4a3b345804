<?php
// usersync's WordPress cookies and nonces against real WordPress core, both ways:
//   php tests/wordpress/cookies.php SITE_DIR LIBUSERSYNC.so [VECTORS_OUT.json]
// Loads the site's WordPress (its own wp-config.php salts, its database), creates users with
// bcrypt ($wp$2y$ on 6.8), phpass ($P$), plain bcrypt ($2y$) and argon2 hashes, and checks that
// cookies and nonces made by usersync pass wp_validate_auth_cookie() / wp_verify_nonce(), that
// those made by WordPress pass usersync's checks, and that tampered, expired and wrong-scheme
// ones fail on both sides. With VECTORS_OUT it also records WordPress-made cookies and nonces
// as known-answer vectors for the Rust tests.
declare(strict_types=1);

[$_, $siteDir, $libPath] = $argv;
$vectorsOut = $argv[3] ?? null;
$_SERVER['HTTP_HOST'] = 'a.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_USE_THEMES', false);
require $siteDir . '/wp-load.php';
require_once ABSPATH . WPINC . '/class-phpass.php';
global $wp_version, $wpdb;

$passed = 0;
$failed = 0;
function check(bool $ok, string $what): void {
    global $passed, $failed;
    $ok ? $passed++ : $failed++;
    if (!$ok) {
        fwrite(STDERR, "FAIL: $what\n");
    }
}

require __DIR__ . '/usersync-wp.php';
usersync_use_library($libPath);
$salts = wp_config_salts();

// ---- users with every hash format ----------------------------------------------------------------
function make_user(string $login, ?string $hash): WP_User {
    global $wpdb;
    if ($old = get_user_by('login', $login)) {
        require_once ABSPATH . 'wp-admin/includes/user.php';
        wp_delete_user($old->ID);
    }
    $id = wp_insert_user(['user_login' => $login, 'user_pass' => 'pw-' . $login, 'user_email' => "$login@a.test", 'role' => 'subscriber']);
    if ($hash !== null) {
        $wpdb->update($wpdb->users, ['user_pass' => $hash], ['ID' => $id]);
        clean_user_cache($id);
    }
    return get_user_by('id', $id);
}
$phpass = (new PasswordHash(8, true))->HashPassword('secret phpass');
$users = [
    make_user('wp_default', null),                                   // $wp$2y$ on 6.8, $P$ on 6.1
    make_user('phpass_user', $phpass),
    make_user('bcrypt_user', password_hash('secret', PASSWORD_BCRYPT)),
    make_user('argon_user', password_hash('secret', PASSWORD_ARGON2ID)),
];
$expectDefault = version_compare($wp_version, '6.8', '>=') ? '$wp$2y$' : '$P$';
check(str_starts_with($users[0]->user_pass, $expectDefault), "WordPress $wp_version hashes new passwords as $expectDefault");

$wp = usersync_wp($salts, DAY_IN_SECONDS);
$vectors = ['generated_by' => "tests/wordpress/cookies.php on real WordPress $wp_version", 'wp_version' => $wp_version,
            'siteurl' => get_option('siteurl'), 'salts' => $salts, 'cookies' => [], 'expiration_fields' => [], 'nonces' => []];

// Cookie names.
$names = $wp->cookieNames();
check($names['auth'] === AUTH_COOKIE && $names['secure_auth'] === SECURE_AUTH_COOKIE && $names['logged_in'] === LOGGED_IN_COOKIE, 'cookie names match core\'s constants');

function store_session(int $uid, string $token, int $exp): void {
    // What the plugin does for a usersync-made session: the verifier keyed entry core reads.
    $sessions = get_user_meta($uid, 'session_tokens', true) ?: [];
    $sessions[hash('sha256', $token)] = ['expiration' => $exp, 'login' => time()];
    update_user_meta($uid, 'session_tokens', $sessions);
}

foreach ($users as $user) {
    $hashKind = substr($user->user_pass, 0, 7);
    foreach (array_keys(Usersync\WordPressSite::SCHEMES) as $scheme) {
        $what = "$user->user_login ($hashKind) $scheme";
        $exp = time() + 3600;
        // WordPress → usersync.
        $wpToken = WP_Session_Tokens::get_instance($user->ID)->create($exp);
        $wpCookie = wp_generate_auth_cookie($user->ID, $exp, $scheme, $wpToken);
        check(us_validate($wp, $scheme, $wpCookie, $user->user_pass) === 'ok', "$what: usersync accepts WordPress's cookie");
        $parsed = us_parse($wp, $wpCookie);
        check($parsed['login'] === $user->user_login && $parsed['expiration'] === $exp && $parsed['token'] === $wpToken, "$what: parse");
        check(WP_Session_Tokens::get_instance($user->ID)->get($wpToken) !== null && $parsed['verifier'] === hash('sha256', $wpToken), "$what: verifier is core's session key");
        $vectors['cookies'][] = ['scheme' => $scheme, 'login' => $user->user_login, 'pass_hash' => $user->user_pass,
                                 'expiration' => $exp, 'token' => $wpToken, 'cookie' => $wpCookie];
        // usersync → WordPress.
        $token = us_token($wp);
        store_session($user->ID, $token, $exp);
        $usCookie = us_generate($wp, $scheme, $user->user_login, $user->user_pass, $exp, $token);
        check(wp_validate_auth_cookie($usCookie, $scheme) === $user->ID, "$what: WordPress accepts usersync's cookie");
        check($usCookie === wp_generate_auth_cookie($user->ID, $exp, $scheme, $token), "$what: byte-identical to core's");
        // Tampered: each part.
        foreach ([0, 1, 2, 3] as $part) {
            $p = explode('|', $usCookie);
            $p[$part] = $part === 1 ? (string) ($exp + 1) : $p[$part] . ($part === 3 ? '' : 'x');
            if ($part === 3) {
                $p[3][5] = $p[3][5] === 'a' ? 'b' : 'a';
            }
            $bad = implode('|', $p);
            check(wp_validate_auth_cookie($bad, $scheme) === false, "$what: WordPress refuses part $part tampered");
            check(us_validate($wp, $scheme, $bad, $user->user_pass) === 'wp_cookie_invalid', "$what: usersync refuses part $part tampered");
        }
        // Wrong scheme.
        $other = $scheme === 'logged_in' ? 'auth' : 'logged_in';
        check(wp_validate_auth_cookie($usCookie, $other) === false, "$what: WordPress refuses it as $other");
        check(us_validate($wp, $other, $wpCookie, $user->user_pass) === 'wp_cookie_invalid', "$what: usersync refuses it as $other");
        // Another password (the hash changed) invalidates cookies on both sides.
        $otherHash = (new PasswordHash(8, true))->HashPassword('new password');
        check(us_validate($wp, $scheme, $wpCookie, $otherHash) === 'wp_cookie_invalid', "$what: usersync refuses after a password change");
    }
    // Expired beyond the grace hour; within it only for POST/Ajax (grace).
    $oldExp = time() - 7200;
    $token = us_token($wp);
    store_session($user->ID, $token, time() + 3600);
    $expired = us_generate($wp, 'auth', $user->user_login, $user->user_pass, $oldExp, $token);
    $_SERVER['REQUEST_METHOD'] = 'POST';
    check(wp_validate_auth_cookie($expired, 'auth') === false, "$user->user_login: WordPress refuses a cookie expired 2 h ago");
    check(us_validate($wp, 'auth', $expired, $user->user_pass, true) === 'wp_cookie_expired', "$user->user_login: usersync refuses it");
    $recent = us_generate($wp, 'auth', $user->user_login, $user->user_pass, time() - 60, $token);
    check(wp_validate_auth_cookie($recent, 'auth') === $user->ID, "$user->user_login: WordPress takes a just-expired cookie on POST (grace)");
    check(us_validate($wp, 'auth', $recent, $user->user_pass, true) === 'ok', "$user->user_login: so does usersync with grace");
    $_SERVER['REQUEST_METHOD'] = 'GET';
    check(wp_validate_auth_cookie($recent, 'auth') === false, "$user->user_login: but not on GET");
    check(us_validate($wp, 'auth', $recent, $user->user_pass, false) === 'wp_cookie_expired', "$user->user_login: nor usersync without grace");
}

// Malformed cookies (a non-numeric expiration is not one of them: see the next section).
foreach (['', 'a|b|c', '|' . (time() + 99) . '|tok|' . str_repeat('a', 64), 'alice|' . (time() + 99) . '||' . str_repeat('a', 64),
          str_repeat('x', 5000), 'alice|' . (time() + 99) . '|tok|' . str_repeat('A', 64), 'a|1|2|3|4'] as $bad) {
    check(us_validate($wp, 'auth', $bad, $users[0]->user_pass) === 'wp_cookie_malformed', 'usersync: malformed ' . substr($bad, 0, 20));
    check(wp_validate_auth_cookie($bad, 'auth') === false, 'WordPress: malformed ' . substr($bad, 0, 20));
}

// ---- expiration fields that are not canonical decimals ----------------------------------------
// Core splits the cookie on "|" and uses the expiration field as received: its MAC covers those
// exact bytes, and the expiry check reads them as a PHP number — (int) $expiration on 6.8+, the
// raw string compared with time() on 6.1 (a numeric string as a number, any other string byte
// by byte against the decimal time, and `+= HOUR_IN_SECONDS` on POST, a TypeError when the
// field is not numeric at all). Core makes each cookie here with wp_generate_auth_cookie() over
// the field as given ("exact"), or takes core's cookie for the canonical number and rewrites
// only the field ("rewritten": the MAC covers the canonical bytes); its own verdict, read from
// the auth_cookie_* actions, is what usersync must give, on GET and on POST (grace).
$coreAction = null;
foreach (['auth_cookie_malformed', 'auth_cookie_expired', 'auth_cookie_bad_username', 'auth_cookie_bad_hash',
          'auth_cookie_bad_session_token', 'auth_cookie_valid'] as $hook) {
    add_action($hook, function () use ($hook) { global $coreAction; $coreAction = $hook; });
}
/**
 * [usersync's name for core's verdict, what core did]: the auth_cookie_* action it fired, or the
 * TypeError it threw (6.1, POST, a field that is no number at all: "malformed" for usersync).
 */
function core_verdict(string $cookie, string $scheme, bool $post): array {
    global $coreAction;
    $coreAction = null;
    $warned = false;
    set_error_handler(function () use (&$warned) { $warned = true; return true; }, E_WARNING);
    $_SERVER['REQUEST_METHOD'] = $post ? 'POST' : 'GET';
    try {
        $uid = wp_validate_auth_cookie($cookie, $scheme);
        $how = (string) $coreAction;
    } catch (TypeError $e) {
        $uid = false;
        $how = 'TypeError: ' . $e->getMessage();
    } finally {
        $_SERVER['REQUEST_METHOD'] = 'GET';
        restore_error_handler();
    }
    $names = ['auth_cookie_valid' => 'ok', 'auth_cookie_expired' => 'wp_cookie_expired',
              'auth_cookie_bad_hash' => 'wp_cookie_invalid', 'auth_cookie_malformed' => 'wp_cookie_malformed'];
    $verdict = str_starts_with($how, 'TypeError') ? 'wp_cookie_malformed' : ($names[$how] ?? $how);
    if (($verdict === 'ok') !== ($uid !== false)) {
        $verdict = "inconsistent: $how";
    }
    return [$verdict, $how . ($warned ? ' + E_WARNING' : '')];
}
$user = $users[0];
$token = us_token($wp);
store_session($user->ID, $token, time() + 3600);
$far = 4102444800;                 // 2100-01-01: verdicts that hold until then ("timeless")
$soon = time() - 60;               // inside the POST grace hour, expired on GET
$forms = [
    // [field, timeless]
    [(string) $far, true], ['0' . $far, true], ['000' . $far, true], ['+' . $far, true], ['+0' . $far, true],
    [' ' . $far, true], [$far . ' ', true], ["\t" . $far . "\n", true], [' +0' . $far . ' ', true],
    ['-' . $far, true], ['-1', true], ['0', true], ['-0', true], ['0x' . dechex($far), true], ['', true], [' ', true],
    ['1e9', true], ['1e10', true], ['1E10', true], ['4.1024448e9', true], [$far . '.5', true], [$far . '.', true], ['.5e10', true],
    [$far . 'abc', true], [$far . ' x', true], ['abc', true], ['INF', true], ['1e999', true], ['-1e999', true],
    ['99999999999999999999', true], ['9223372036854775807', true], ['9223372036854775808', true], ['-9223372036854775809', true],
    ['9223372036854775808e-', true], [$far . 'e', true], [$far . 'e+', true], ["\v" . $far . "\f", true], ['.' . $far, true],
    [(string) $soon, false], ['0' . $soon, false], ['+' . $soon, false], [' ' . $soon, false], [$soon . '.9', false],
    [$soon . 'x', false], ['0' . ($soon - 7200), false],
];
foreach ($forms as [$field, $timeless]) {
    foreach (['exact', 'rewritten'] as $made) {
        if ($made === 'rewritten' && !preg_match('/^\s*[+-]?\d+\s*$/', $field)) {
            continue;                  // only forms of a plain integer have a canonical twin
        }
        if ($made === 'exact') {
            $macOver = $field;
            $cookie = wp_generate_auth_cookie($user->ID, $field, 'auth', $token);
        } else {
            $macOver = (string) (int) $field;
            if ($macOver === $field) {
                continue;
            }
            $p = explode('|', wp_generate_auth_cookie($user->ID, $macOver, 'auth', $token));
            $p[1] = $field;
            $cookie = implode('|', $p);
        }
        [$get, $coreGet] = core_verdict($cookie, 'auth', false);
        [$post, $corePost] = core_verdict($cookie, 'auth', true);
        $what = "expiration " . json_encode($field) . " ($made)";
        check(in_array($get, ['ok', 'wp_cookie_expired', 'wp_cookie_invalid', 'wp_cookie_malformed'], true)
              && in_array($post, ['ok', 'wp_cookie_expired', 'wp_cookie_invalid', 'wp_cookie_malformed'], true), "$what: core decides on the expiry or the MAC ($coreGet / $corePost)");
        check(us_validate($wp, 'auth', $cookie, $user->user_pass, false) === $get, "$what: usersync on GET says $get like core ($coreGet)");
        check(us_validate($wp, 'auth', $cookie, $user->user_pass, true) === $post, "$what: usersync on POST says $post like core ($corePost)");
        $parsed = us_parse($wp, $cookie);
        check($parsed !== null && $parsed['expiration'] === (int) $field && $parsed['token'] === $token, "$what: parse reports (int) of the field");
        $vectors['expiration_fields'][] = ['field' => $field, 'mac_over' => $macOver, 'php_int' => (int) $field, 'timeless' => $timeless, 'now' => time(),
            'scheme' => 'auth', 'login' => $user->user_login, 'pass_hash' => $user->user_pass, 'token' => $token, 'cookie' => $cookie,
            'get' => $get, 'post' => $post, 'core_get' => $coreGet, 'core_post' => $corePost];
    }
}

// ---- nonces ---------------------------------------------------------------------------------------
$user = $users[0];
$token = us_token($wp);
store_session($user->ID, $token, time() + 3600);
$_COOKIE[LOGGED_IN_COOKIE] = us_generate($wp, 'logged_in', $user->user_login, $user->user_pass, time() + 3600, $token);
wp_set_current_user($user->ID);
check(wp_get_session_token() === $token, 'WordPress reads the session token from usersync\'s logged_in cookie');
foreach (['update-post_7', 'log-out', '-1'] as $action) {
    $wpNonce = wp_create_nonce($action);
    check(us_nonce_verify($wp, $wpNonce, $action, $user->ID, $token) === 1, "usersync verifies WordPress's nonce for $action");
    $usNonce = us_nonce($wp, $action, $user->ID, $token);
    check($usNonce === $wpNonce && wp_verify_nonce($usNonce, $action) === 1, "WordPress verifies usersync's nonce for $action");
    check(wp_verify_nonce($usNonce, $action . 'x') === false && us_nonce_verify($wp, $wpNonce, $action . 'x', $user->ID, $token) === 0, "$action: another action fails on both");
    check(us_nonce_verify($wp, $wpNonce, $action, $user->ID + 1, $token) === 0, "$action: another user fails");
    $vectors['nonces'][] = ['action' => $action, 'uid' => $user->ID, 'token' => $token, 'nonce_life' => DAY_IN_SECONDS,
                            'tick' => (int) wp_nonce_tick($action), 'nonce' => $wpNonce];
}
wp_set_current_user(0);
unset($_COOKIE[LOGGED_IN_COOKIE]);
$anon = wp_create_nonce('comment');
check(us_nonce_verify($wp, $anon, 'comment', 0, '') === 1 && wp_verify_nonce(us_nonce($wp, 'comment', 0, ''), 'comment') === 1, 'logged-out nonces both ways');

// Ageing: with a 4-second nonce life a tick lasts 2 s; a nonce is "2" one tick later and dead two ticks later.
add_filter('nonce_life', fn() => 4);
$short = usersync_wp($salts, 4);
$start = wp_nonce_tick();
$wpNonce = wp_create_nonce('age');
$usNonce = us_nonce($short, 'age', 0, '');
check($wpNonce === $usNonce, 'the same nonce at a 4 s life');
while (wp_nonce_tick() < $start + 1) { usleep(50000); }
check(wp_verify_nonce($usNonce, 'age') === 2 && us_nonce_verify($short, $wpNonce, 'age', 0, '') === 2, 'one tick later both say 2');
while (wp_nonce_tick() < $start + 2) { usleep(50000); }
check(wp_verify_nonce($usNonce, 'age') === false && us_nonce_verify($short, $wpNonce, 'age', 0, '') === 0, 'two ticks later both refuse');

if ($vectorsOut !== null) {
    file_put_contents($vectorsOut, json_encode($vectors, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n");
}
echo "WordPress $wp_version cookies and nonces: $passed passed, $failed failed\n";
exit($failed === 0 ? 0 : 1);
