<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\Exception;
use Usersync\Secret;

/** Account uids (docs/protocol.md §9) and browser-binding hashes (§12). */
final class SecretTest extends TestCase
{
    private static function b64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    public function testUidsAreRandomCanonicalBase64urlOf16Bytes(): void
    {
        $seen = [];
        for ($i = 0; $i < 64; $i++) {
            $uid = Secret::uid();
            $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', $uid);
            $bytes = base64_decode(strtr($uid, '-_', '+/'), true);
            $this->assertSame(16, strlen($bytes));
            $this->assertSame($uid, self::b64url($bytes), 'canonical (unused low bits zero)');
            $seen[$uid] = true;
        }
        $this->assertCount(64, $seen, 'every call draws a new uid');
        $this->assertNotSame(Secret::uid(), Secret::uid());
    }

    public function testBindingHash(): void
    {
        // Computed independently of usersync:
        //   printf %s 'usersync binding value 0001' | openssl dgst -sha256 -binary | basenc --base64url | tr -d '='
        $this->assertSame('IfCceS6wHQ7MzIb1OU3NfYHwjCszL26zIQfsYIUNzVU', Secret::bindingHash('usersync binding value 0001'));
        // And against PHP's own SHA-256, for the value lengths allowed (16 to 256 bytes, any bytes).
        foreach ([16, 17, 43, 255, 256] as $n) {
            $value = random_bytes($n);
            $hash = Secret::bindingHash($value);
            $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{43}$/', $hash);
            $this->assertSame(self::b64url(hash('sha256', $value, true)), $hash, "$n bytes");
        }
        $nonce = Secret::nonce(43);
        $this->assertSame(self::b64url(hash('sha256', $nonce, true)), Secret::bindingHash($nonce));
        $this->assertNotSame(Secret::bindingHash($nonce), Secret::bindingHash(Secret::nonce(43)));
    }

    public function testBindingValuesOutOfRangeAreRefused(): void
    {
        foreach (['', 'short', str_repeat('x', 15), str_repeat('x', 257)] as $value) {
            try {
                Secret::bindingHash($value);
                $this->fail(strlen($value) . ' bytes accepted');
            } catch (Exception $e) {
                $this->assertSame('invalid_argument', $e->reason, strlen($value) . ' bytes');
            }
        }
    }

    public function testAnEmptyKeyringSaysSo(): void
    {
        foreach ([[], '', ' '] as $none) {
            try {
                new \Usersync\Keyring($none);
                $this->fail('an empty keyring was made');
            } catch (\Usersync\ConfigException $e) {
                $this->assertSame('no_secrets', $e->reason);
            }
        }
    }

    /** Hashes real WordPress 6.8/6.1 and Django made, with their own verdicts (protocol §17). */
    public function testPasswordsAreCheckedAsTheHostThatMadeTheHash(): void
    {
        $matched = 0;
        foreach (['passwords-wordpress-6.8.json', 'passwords-wordpress-6.1.json', 'passwords-django.json'] as $file) {
            foreach (Vectors::cases($file) as $c) {
                $this->assertSame($c['matches'], Secret::verifyPassword($c['password'], $c['hash']), "{$c['made_by']}: {$c['password']}");
                $matched += $c['matches'] ? 1 : 0;
            }
        }
        $this->assertGreaterThanOrEqual(20, $matched);
        // PHP's own bcrypt, made here: the library agrees with password_verify().
        $hash = password_hash('from php', PASSWORD_BCRYPT, ['cost' => 4]);
        $this->assertTrue(Secret::verifyPassword('from php', $hash));
        $this->assertFalse(Secret::verifyPassword('from PHP', $hash));
        try {
            Secret::verifyPassword('x', '5f4dcc3b5aa765d61d8327deb882cf99');
            $this->fail('a bare md5 is not a hash the library checks');
        } catch (Exception $e) {
            $this->assertSame('pass_hash_format', $e->reason);
        }
    }
}
