<?php
// WordPress's own cookie and nonce functions against usersync's (through the PHP binding), in one
// process on a real WordPress site:  php benches/wordpress-cookies.php SITE_DIR LIB [--quick]
declare(strict_types=1);

[$_, $siteDir, $libPath] = $argv;
$quick = in_array('--quick', $argv, true);
$_SERVER['HTTP_HOST'] = 'a.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_USE_THEMES', false);
require $siteDir . '/wp-load.php';
require __DIR__ . '/../tests/wordpress/usersync-wp.php';
require __DIR__ . '/../php-bindings/bench/timing.php';
global $wp_version;
usersync_use_library($libPath);
$wp = usersync_wp(wp_config_salts(), DAY_IN_SECONDS);

$user = get_user_by('login', 'bench') ?: get_user_by('id', wp_insert_user(['user_login' => 'bench', 'user_pass' => 'bench-pw', 'user_email' => 'bench@a.test']));
$exp = time() + 3600;
$token = WP_Session_Tokens::get_instance($user->ID)->create($exp);
$cookie = wp_generate_auth_cookie($user->ID, $exp, 'logged_in', $token);
if (us_generate($wp, 'logged_in', $user->user_login, $user->user_pass, $exp, $token) !== $cookie) {
    fwrite(STDERR, "usersync and WordPress disagree\n");
    exit(1);
}
$_COOKIE[LOGGED_IN_COOKIE] = $cookie;
wp_set_current_user($user->ID);
wp_validate_auth_cookie($cookie, 'logged_in');   // warm WordPress's user and meta caches

$rows = [
    ['generate auth cookie',
     fn() => wp_generate_auth_cookie($user->ID, $exp, 'logged_in', $token),
     fn() => us_generate($wp, 'logged_in', $user->user_login, $user->user_pass, $exp, $token)],
    ['validate auth cookie (warm)',
     fn() => wp_validate_auth_cookie($cookie, 'logged_in'),
     fn() => us_validate($wp, 'logged_in', $cookie, $user->user_pass)],
    ['validate + user lookup + session check',
     fn() => wp_validate_auth_cookie($cookie, 'logged_in'),
     function () use ($wp, $cookie, $token) {
         $u = get_user_by('login', 'bench');
         return us_validate($wp, 'logged_in', $cookie, $u->user_pass) === 'ok'
             && WP_Session_Tokens::get_instance($u->ID)->verify($token);
     }],
    ['create nonce',
     fn() => wp_create_nonce('bench-action'),
     fn() => us_nonce($wp, 'bench-action', $user->ID, $token)],
    ['verify nonce',
     fn() => wp_verify_nonce(wp_create_nonce('bench-action'), 'bench-action'),
     fn() => us_nonce_verify($wp, us_nonce($wp, 'bench-action', $user->ID, $token), 'bench-action', $user->ID, $token)],
];
printf("WordPress %s, PHP %s, %s mode: median µs per call\n", $wp_version, PHP_VERSION, $quick ? 'quick' : 'full');
printf("%-42s %10s %10s %8s\n", 'operation', 'WordPress', 'usersync', 'ratio');
foreach ($rows as [$name, $wpFn, $usFn]) {
    $a = per_call($wpFn, $quick, 5e6);
    $b = per_call($usFn, $quick, 5e6);
    printf("%-42s %10.2f %10.2f %7.2fx\n", $name, $a, $b, $b / $a);
}
echo "ratio = usersync / WordPress (below 1 is faster); usersync times include the binding's FFI calls and\n";
echo "the PHP-side string conversions; 'verify nonce' includes creating the nonce on both sides.\n";
