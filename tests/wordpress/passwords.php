<?php
// Passwords across hosts, against real WordPress: hashes WordPress makes now (wp_hash_password,
// and on 6.8 also phpass and plain bcrypt as older sites hold them) are checked by core's
// wp_check_password and by the library, both ways, with the right password and a wrong one.
// With a third argument, writes what this WordPress made as vectors for the Rust, C, PHP and
// Python suites (made by WordPress, never by the code under test).
//   php tests/wordpress/passwords.php SITE_DIR VERSION [VECTORS.json]
declare(strict_types=1);

[$_, $site, $version] = $argv;
$out = $argv[3] ?? null;
$_SERVER['HTTP_HOST'] = 'a.test';
define('WP_USE_THEMES', false);
require $site . '/wp-load.php';
require_once ABSPATH . WPINC . '/class-phpass.php';
require dirname(__DIR__, 2) . '/php-bindings/autoload.php';

$passwords = ['correct horse battery staple', 'pässwörd – ünïcode ✓', str_repeat('long password ', 8), "it's \"quoted\" \\ slashed", 'x'];
$makers = ['wp_hash_password' => static fn(string $p): string => wp_hash_password($p)];
if (version_compare($version, '6.8', '>=')) {
    $makers['phpass (WordPress before 6.8)'] = static fn(string $p): string => (new PasswordHash(8, true))->HashPassword($p);
    $makers['password_hash bcrypt'] = static fn(string $p): string => password_hash($p, PASSWORD_BCRYPT);
}
$passed = $failed = 0;
$check = static function (bool $ok, string $what) use (&$passed, &$failed): void {
    if ($ok) {
        $passed++;
    } else {
        $failed++;
        fwrite(STDERR, "FAIL ($GLOBALS[version]): $what\n");
    }
};
$cases = [];
$accepted = 0;
foreach ($makers as $maker => $make) {
    foreach ($passwords as $password) {
        $hash = $make($password);
        $label = "$maker of " . json_encode($password, JSON_UNESCAPED_UNICODE);
        // Core's own verdict is the answer, quirks included: wp_hash_password() trims the
        // password first and bcrypt reads only 72 bytes, so some checks below are "no" in core.
        foreach ([$password, $password . '!'] as $tried) {
            $core = wp_check_password($tried, $hash);
            $accepted += $core ? 1 : 0;
            $check(Usersync\Secret::verifyPassword($tried, $hash) === $core,
                "the library answers as core (" . ($core ? 'yes' : 'no') . ") for " . json_encode($tried, JSON_UNESCAPED_UNICODE) . " against $label");
            $cases[] = ['made_by' => "WordPress $version $maker", 'password' => $tried, 'hash' => $hash, 'matches' => $core];
        }
    }
}
// Not a test that passes by refusing everything: core accepted each maker's right passwords.
$check($accepted >= count($makers) * (count($passwords) - 1), "core accepted the right passwords ($accepted)");
if ($out !== null) {
    file_put_contents($out, json_encode(['generated_by' => "tests/wordpress/passwords.php on real WordPress $version (core made every hash)",
        'cases' => $cases], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n");
}
echo "WordPress $version passwords: $passed passed, $failed failed\n";
exit($failed === 0 ? 0 : 1);
