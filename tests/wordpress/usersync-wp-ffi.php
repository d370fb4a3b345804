<?php
// usersync's WordPress cookie and nonce calls through raw FFI, for the real-WordPress tests and
// benchmark (the PHP binding in php-bindings/ wraps the same calls for hosts).
declare(strict_types=1);

$SCHEMES = ['auth' => 0, 'secure_auth' => 1, 'logged_in' => 2];

function usersync_ffi(string $libPath): FFI {
    return FFI::cdef(file_get_contents(__DIR__ . '/../../include/usersync.h'), $libPath);
}

/** The eight keys and salts of the loaded site's wp-config.php. */
function wp_config_salts(): array {
    $salts = [];
    foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $c) {
        $salts[$c] = constant($c);
    }
    return $salts;
}

function usersync_wp(array $salts, int $nonceLife) {
    global $ffi, $wp_version;
    $config = json_encode(['salts' => $salts, 'siteurl' => get_option('siteurl'), 'wp_version' => $wp_version, 'nonce_life' => $nonceLife]);
    $wp = $ffi->new('usersync_wp*');
    $err = FFI::new('char[256]');
    $len = FFI::new('size_t');
    $rc = $ffi->usersync_wp_new($config, strlen($config), FFI::addr($wp), $err, 256, FFI::addr($len));
    if ($rc !== 0) {
        throw new RuntimeException('usersync_wp_new: ' . FFI::string($err, $len->cdata));
    }
    return $wp;
}
function take(FFI\CData $out, FFI\CData $len): string {
    global $ffi;
    $s = FFI::string($out, $len->cdata);
    $ffi->usersync_bytes_free($out, $len->cdata);
    return $s;
}
function us_generate($wp, string $scheme, string $login, string $hash, int $exp, string $token): string {
    global $ffi, $SCHEMES;
    $out = $ffi->new('char*');
    $len = FFI::new('size_t');
    $rc = $ffi->usersync_wp_cookie_generate($wp, $SCHEMES[$scheme], $login, strlen($login), $hash, strlen($hash), $exp, $token, strlen($token), FFI::addr($out), FFI::addr($len));
    if ($rc !== 0) {
        throw new RuntimeException('generate: ' . $ffi->usersync_result_name($rc));
    }
    return take($out, $len);
}
function us_validate($wp, string $scheme, string $cookie, string $hash, bool $grace = false): string {
    global $ffi, $SCHEMES;
    return $ffi->usersync_result_name($ffi->usersync_wp_cookie_validate($wp, $SCHEMES[$scheme], $cookie, strlen($cookie), $hash, strlen($hash), $grace));
}
function us_parse(string $cookie): ?array {
    global $ffi;
    $out = $ffi->new('char*');
    $len = FFI::new('size_t');
    if ($ffi->usersync_wp_cookie_parse($cookie, strlen($cookie), FFI::addr($out), FFI::addr($len)) !== 0) {
        return null;
    }
    return json_decode(take($out, $len), true);
}
function us_token(): string {
    global $ffi;
    $buf = FFI::new('char[64]');
    $len = FFI::new('size_t');
    $ffi->usersync_wp_session_token($buf, 64, FFI::addr($len));
    return FFI::string($buf, $len->cdata);
}
function us_nonce($wp, string $action, int $uid, string $token): string {
    global $ffi;
    $buf = FFI::new('char[16]');
    $len = FFI::new('size_t');
    $ffi->usersync_wp_nonce_create($wp, $action, strlen($action), $uid, $token, strlen($token), $buf, 16, FFI::addr($len));
    return FFI::string($buf, $len->cdata);
}
function us_nonce_verify($wp, string $nonce, string $action, int $uid, string $token): int {
    global $ffi;
    $age = FFI::new('uint32_t');
    $rc = $ffi->usersync_wp_nonce_verify($wp, $nonce, strlen($nonce), $action, strlen($action), $uid, $token, strlen($token), FFI::addr($age));
    return $rc === 0 ? $age->cdata : 0;
}

