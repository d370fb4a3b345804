<?php
// Loads the committed include/usersync.h with FFI::cdef against the built library, exactly as
// the PHP binding will, and makes a few real calls: the header must parse in PHP's C parser.
//   php tests/php/ffi_cdef_check.php [path/to/libusersync.so]
declare(strict_types=1);

$root = dirname(__DIR__, 2);
$lib = $argv[1] ?? "$root/target/release/libusersync.so";
$passed = 0;
$failed = 0;
function check(bool $ok, string $what): void {
    global $passed, $failed;
    $ok ? $passed++ : $failed++;
    if (!$ok) {
        fwrite(STDERR, "FAIL: $what\n");
    }
}

if (!extension_loaded('ffi')) {
    fwrite(STDERR, "PHP's FFI extension is not loaded\n");
    exit(2);
}
$ffi = FFI::cdef(file_get_contents("$root/include/usersync.h"), $lib);
check(preg_match('/^\d+\.\d+\.\d+/', $ffi->usersync_version()) === 1, 'version string');
check($ffi->USERSYNC_RESULT_OK === 0, 'enum constants are visible to PHP');
check($ffi->USERSYNC_RESULT_AUTHENTICATION_FAILED === 204, 'result codes keep their numbers');

$len = FFI::new('size_t');
$secret = FFI::new('char[' . $ffi->usersync_secret_text_len() . ']');
check($ffi->usersync_secret_generate($secret, FFI::sizeof($secret), FFI::addr($len)) === 0, 'secret_generate');
$secretText = FFI::string($secret, $len->cdata);
check(str_starts_with($secretText, 'usk1_') && strlen($secretText) === 48, 'secret text form');

$ring = $ffi->new('usersync_keyring*');
check($ffi->usersync_keyring_new($secretText, strlen($secretText), 0, FFI::addr($ring)) === 0, 'keyring_new');
$aad = 'usersync/v1|action|a.example|b.example';
$plain = "binary\0safe plaintext \xff";
$cap = $ffi->usersync_keyring_sealed_len(strlen($plain));
$out = FFI::new("char[$cap]");
check($ffi->usersync_keyring_seal($ring, $aad, strlen($aad), $plain, strlen($plain), $out, $cap, FFI::addr($len)) === 0, 'seal');
$text = FFI::string($out, $len->cdata);
$cap = $ffi->usersync_keyring_opened_max_len(strlen($text));
$back = FFI::new("char[$cap]");
check($ffi->usersync_keyring_open($ring, $aad, strlen($aad), $text, strlen($text), $back, $cap, FFI::addr($len)) === 0, 'open');
check(FFI::string($back, $len->cdata) === $plain, 'round trip through PHP strings');
$code = $ffi->usersync_keyring_open($ring, 'other', 5, $text, strlen($text), $back, $cap, FFI::addr($len));
check($code === $ffi->USERSYNC_RESULT_AUTHENTICATION_FAILED, 'wrong aad refused');
check($ffi->usersync_result_name($code) === 'authentication_failed', 'result name');
$ffi->usersync_keyring_free($ring);
$ffi->usersync_keyring_free(null);

// A context and a library-allocated JSON result, freed by the library.
$config = json_encode(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [[
    'id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$secretText],
    'send' => ['actions' => ['update']],
]]]);
$ctx = $ffi->new('usersync_context*');
check($ffi->usersync_context_new($config, strlen($config), FFI::addr($ctx), null, 0, null) === 0, 'context_new');
$event = '{"eid":"ZXZlbnQtaWQtMDAwMDAwMQ","act":"update","data":{"uid":"dWlkLW9mLWFsaWNlLTAwMQ","login":"alice","email":"alice@a.test"}}';
$out = $ffi->new('char*');
check($ffi->usersync_context_build($ctx, $event, strlen($event), null, 0, FFI::addr($out), FFI::addr($len)) === 0, 'build');
$built = json_decode(FFI::string($out, $len->cdata), true);
$ffi->usersync_bytes_free($out, $len->cdata);
check(is_array($built) && count($built) === 1 && $built[0]['peer'] === 'b.test', 'build result as JSON');
$bad = str_replace('"usk1_', '"usk1_x', $config);
$err = FFI::new('char[200]');
$refused = $ffi->new('usersync_context*');
$code = $ffi->usersync_context_new($bad, strlen($bad), FFI::addr($refused), $err, 200, FFI::addr($len));
check($code === $ffi->USERSYNC_RESULT_CONFIG_INVALID && str_starts_with(FFI::string($err, $len->cdata), 'peers[0].secrets[0]'), 'config error detail');
$ffi->usersync_context_free($ctx);

echo "php FFI::cdef check: $passed passed, $failed failed\n";
exit($failed === 0 ? 0 : 1);
