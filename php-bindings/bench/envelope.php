<?php

// The binding against the same envelope in pure PHP (openssl_encrypt + hash_hmac + base64url),
// seal and open at 64 B, 1 KiB and 64 KiB, in one process.
//   php php-bindings/bench/envelope.php [--quick]
declare(strict_types=1);

require dirname(__DIR__) . '/autoload.php';
require __DIR__ . '/timing.php';

use Usersync\Keyring;
use Usersync\Library;
use Usersync\Secret;

$quick = in_array('--quick', $argv, true);

/** The envelope in plain PHP, from docs/protocol.md. */
final class PurePhpEnvelope
{
    private string $enc;
    private string $mac;
    private string $kid;

    public function __construct(string $secretText)
    {
        $ikm = base64_decode(strtr(substr($secretText, 5), '-_', '+/'), true);
        $this->enc = hash_hkdf('sha256', $ikm, 32, 'usersync/v1 enc', 'usersync/v1');
        $this->mac = hash_hkdf('sha256', $ikm, 32, 'usersync/v1 mac', 'usersync/v1');
        $this->kid = hash_hkdf('sha256', $ikm, 8, 'usersync/v1 kid', 'usersync/v1');
    }

    public function seal(string $aad, string $plaintext): string
    {
        $iv = random_bytes(16);
        $body = "\x01" . $this->kid . $iv . openssl_encrypt($plaintext, 'aes-256-cbc', $this->enc, OPENSSL_RAW_DATA, $iv);
        $tag = hash_hmac('sha256', $body . $aad . pack('J', strlen($aad)), $this->mac, true);
        return rtrim(strtr(base64_encode($body . $tag), '+/', '-_'), '=');
    }

    public function open(string $aad, string $text): ?string
    {
        // preg_match, not strspn: PHP's strspn is O(length × mask) and would slow this baseline.
        if (strlen($text) > 1 << 20 || preg_match('/^[A-Za-z0-9_-]*$/D', $text) !== 1) {
            return null;
        }
        $raw = base64_decode(strtr($text, '-_', '+/'), true);
        if (
            $raw === false || strlen($raw) < 73 || (strlen($raw) - 57) % 16 !== 0 || $raw[0] !== "\x01"
            || substr($raw, 1, 8) !== $this->kid
        ) {
            return null;
        }
        $body = substr($raw, 0, -32);
        if (!hash_equals(hash_hmac('sha256', $body . $aad . pack('J', strlen($aad)), $this->mac, true), substr($raw, -32))) {
            return null;
        }
        $plain = openssl_decrypt(substr($body, 25), 'aes-256-cbc', $this->enc, OPENSSL_RAW_DATA, substr($body, 9, 16));
        return $plain === false ? null : $plain;
    }
}

$secret = Secret::generate();
$ring = new Keyring($secret, 1 << 24);
$php = new PurePhpEnvelope($secret);
$aad = 'usersync/v1|action|shop.example.com|blog.example.com';
printf("PHP %s, library %s: median µs per call (%s mode)\n", PHP_VERSION, Library::get()->version, $quick ? 'quick' : 'full');
printf("%-7s %-10s %10s %10s %8s\n", 'size', 'op', 'binding', 'pure PHP', 'speed-up');
foreach ([64 => '64 B', 1024 => '1 KiB', 65536 => '64 KiB'] as $size => $label) {
    $plain = random_bytes($size);
    // Each side opens what the other sealed: the same protocol.
    $fromPhp = $php->seal($aad, $plain);
    $fromBinding = $ring->seal($aad, $plain);
    if ($ring->open($aad, $fromPhp) !== $plain || $php->open($aad, $fromBinding) !== $plain) {
        fwrite(STDERR, "the binding and pure PHP disagree\n");
        exit(1);
    }
    $rows = [
        ['seal', fn() => $ring->seal($aad, $plain), fn() => $php->seal($aad, $plain)],
        ['open', fn() => $ring->open($aad, $fromBinding), fn() => $php->open($aad, $fromBinding)],
        ['seal+open', fn() => $ring->open($aad, $ring->seal($aad, $plain)), fn() => $php->open($aad, $php->seal($aad, $plain))],
    ];
    foreach ($rows as [$op, $b, $p]) {
        [$tb, $tp] = per_call_interleaved([$b, $p], $quick);
        printf("%-7s %-10s %10.2f %10.2f %7.2fx\n", $label, $op, $tb, $tp, $tp / $tb);
    }
}

echo "speed-up = pure PHP time / binding time, measured in interleaved rounds. The per-request cost of\n";
echo "loading the library is measured under php-fpm by benches/php-fpm-load.sh.\n";
