<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\ConfigException;
use Usersync\WordPressException;
use Usersync\WordPressSite;

require_once __DIR__ . '/Vectors.php';

/** Cookies and nonces recorded from real WordPress (tests/vectors/wordpress-*.json). */
final class WordPressSiteTest extends TestCase
{
    private static function site(array $v): WordPressSite
    {
        return new WordPressSite(['salts' => $v['salts'], 'siteurl' => $v['siteurl'], 'wp_version' => $v['wp_version']]);
    }

    public function testCookiesAreByteIdenticalToWordPress(): void
    {
        foreach (['6.8', '6.1'] as $version) {
            $v = Vectors::load("wordpress-$version.json");
            $site = self::site($v);
            foreach ($v['cookies'] as $c) {
                $made = $site->generateCookie($c['scheme'], $c['login'], $c['pass_hash'], $c['expiration'], $c['token']);
                $this->assertSame($c['cookie'], $made, "$version {$c['login']} {$c['scheme']}");
                $parsed = $site->parseCookie($made);
                $this->assertSame(
                    [$c['login'], $c['expiration'], $c['token'], hash('sha256', $c['token'])],
                    [$parsed['login'], $parsed['expiration'], $parsed['token'], $parsed['verifier']]
                );
            }
        }
    }

    /**
     * Cookies core made over expiration fields like 04102444800, +4102444800, " 4102444800",
     * 1e10, 0x…, "abc" or 99999999999999999999 (or rewrote after making them), with core's
     * verdicts on GET and POST; the "timeless" ones hold until 2100, so the real clock decides.
     */
    public function testNonCanonicalExpirationFieldsGetCoresVerdict(): void
    {
        foreach (['6.8', '6.1'] as $version) {
            $v = Vectors::load("wordpress-$version.json");
            $site = self::site($v);
            $checked = 0;
            foreach ($v['expiration_fields'] as $c) {
                if (!$c['timeless']) {
                    continue;
                }
                $what = "$version " . json_encode($c['field']) . ' MAC over ' . json_encode($c['mac_over']);
                foreach (['get' => false, 'post' => true] as $method => $grace) {
                    try {
                        $site->validateCookie($c['scheme'], $c['cookie'], $c['pass_hash'], $grace);
                        $got = 'ok';
                    } catch (WordPressException $e) {
                        $got = $e->reason;
                    }
                    $this->assertSame($c[$method], $got, "$what on $method");
                }
                $this->assertSame($c['php_int'], $site->parseCookie($c['cookie'])['expiration'], $what);
                $checked++;
            }
            $this->assertGreaterThanOrEqual(40, $checked);
        }
    }

    public function testValidationAndRefusals(): void
    {
        $v = Vectors::load('wordpress-6.8.json');
        $site = self::site($v);
        $hash = '$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW';
        $token = $site->sessionToken();
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9]{43}$/', $token);
        $this->assertSame(hash('sha256', $token), $site->sessionVerifier($token));
        $cookie = $site->generateCookie('logged_in', 'alice', $hash, time() + 60, $token);
        $site->validateCookie('logged_in', $cookie, $hash);
        $cases = [
            ['wp_cookie_invalid', fn() => $site->validateCookie('auth', $cookie, $hash)],
            ['wp_cookie_expired', fn() => $site->validateCookie('auth', $site->generateCookie('auth', 'alice', $hash, time() - 7200, $token), $hash, true)],
            ['wp_cookie_malformed', fn() => $site->validateCookie('auth', 'a|b|c', $hash)],
            ['wp_cookie_malformed', fn() => $site->validateCookie('auth', str_repeat('x', 5000), $hash)],
        ];
        foreach ($cases as [$reason, $f]) {
            try {
                $f();
                $this->fail("accepted; expected $reason");
            } catch (WordPressException $e) {
                $this->assertSame($reason, $e->reason);
            }
        }
        $names = $site->cookieNames();
        $this->assertSame('wordpress_logged_in_' . md5($v['siteurl']), $names['logged_in']);
    }

    public function testNonces(): void
    {
        $site = self::site(Vectors::load('wordpress-6.1.json'));
        $nonce = $site->createNonce('log-out', 3, 'tok');
        $this->assertSame(1, $site->verifyNonce($nonce, 'log-out', 3, 'tok'));
        foreach ([[$nonce, 'log-in'], ['', 'log-out']] as [$n, $action]) {
            try {
                $site->verifyNonce($n, $action, 3, 'tok');
                $this->fail("nonce for $action accepted");
            } catch (\Usersync\WordPressException $e) {
                $this->assertSame('wp_nonce_invalid', $e->reason);
            }
        }
    }

    public function testBadSaltsAreRefusedWithoutShowingThem(): void
    {
        $v = Vectors::load('wordpress-6.8.json');
        $salts = $v['salts'];
        $salts['NONCE_SALT'] = $salts['AUTH_KEY'];
        try {
            new WordPressSite(['salts' => $salts, 'siteurl' => 'https://a.test', 'wp_version' => '6.8']);
            $this->fail('accepted');
        } catch (ConfigException $e) {
            $this->assertStringContainsString('salts.NONCE_SALT: repeats', $e->getMessage());
            $this->assertStringNotContainsString($salts['AUTH_KEY'], $e->getMessage());
        }
    }

    public function testMetaKeysAndProfileFieldsComeFromTheLibrary(): void
    {
        $fields = WordPressSite::profileFields();
        $this->assertSame('user_nicename', $fields['nicename']);
        $this->assertSame('user_url', $fields['url']);
        $this->assertCount(8, $fields);
        foreach (['first_name', 'last_name', 'nickname', 'description', 'locale'] as $key) {
            $this->assertSame('profile_field', WordPressSite::metaKind($key), $key);
        }
        foreach (['billing_city', 'user_url', 'rich_editing', 'First_Name'] as $key) {
            $this->assertSame('meta', WordPressSite::metaKind($key), $key);
        }
        foreach (['wp_capabilities', 'wp_user_level', 'session_tokens', 'usersync_uid', 'WP_CAPABILITIES'] as $key) {
            $this->assertSame('protected', WordPressSite::metaKind($key), $key);
        }
    }
}
