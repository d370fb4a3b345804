<?php

declare(strict_types=1);

namespace Usersync;

/**
 * A WordPress site's auth cookies, session tokens and nonces, byte-identical to core's
 * (docs/wordpress-cookies.md).
 */
final class WordPressSite
{
    public const SCHEMES = ['auth' => 0, 'secure_auth' => 1, 'logged_in' => 2];

    private Library $lib;
    private \FFI\CData $handle;

    /**
     * @param array $config `['salts' => [the eight wp-config constants], 'siteurl' => …,
     *                      'wp_version' => …, 'nonce_life' => …?]`
     * @throws ConfigException naming the faulty field (never its value)
     */
    public function __construct(array $config)
    {
        $this->lib = Library::get();
        $json = json_encode($config, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        $this->handle = $this->lib->construct(
            'usersync_wp',
            static fn($out, $err, $cap, $len) => $ffi->usersync_wp_new($json, strlen($json), $out, $err, $cap, $len),
        );
    }

    /** @var ?array<string, string> the library's profile field map, asked once per process */
    private static ?array $profileFields = null;

    /**
     * The protocol's profile fields and WordPress's name for each (`WP_User` property and
     * `wp_update_user()` key): `['display_name' => 'display_name', 'nicename' => 'user_nicename', …]`.
     * @return array<string, string>
     */
    public static function profileFields(): array
    {
        if (self::$profileFields === null) {
            $lib = Library::get();
            self::$profileFields = $lib->allocatedJson(static fn($out, $len) => $lib->ffi->usersync_wp_profile_fields($out, $len));
        }
        return self::$profileFields;
    }

    /**
     * How a changed user meta key travels: 'meta' (a meta action, where policies name it),
     * 'profile_field' (WordPress keeps that field in user meta: it travels in an update), or
     * 'protected' (privileges, sessions, usersync's own: never sent).
     */
    public static function metaKind(string $key): string
    {
        $lib = Library::get();
        $kind = $lib->ffi->new('uint32_t');
        $lib->check($lib->ffi->usersync_wp_meta_classify($key, strlen($key), \FFI::addr($kind)));
        return match ($kind->cdata) {
            $lib->ffi->USERSYNC_WP_META_KIND_PROFILE_FIELD => 'profile_field',
            $lib->ffi->USERSYNC_WP_META_KIND_PROTECTED => 'protected',
            default => 'meta',
        };
    }

    /** `['auth' => 'wordpress_…', 'secure_auth' => …, 'logged_in' => …, 'test' => …]` */
    public function cookieNames(): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(fn($out, $len) => $ffi->usersync_wp_cookie_names($this->handle, $out, $len));
    }

    /** The cookie value core would set for this user, expiration and session token. */
    public function generateCookie(string $scheme, string $login, string $passHash, int $expiration, string $token): string
    {
        $ffi = $this->lib->ffi;
        $code = self::scheme($scheme);
        return $this->lib->allocated(
            fn($out, $len) => $ffi->usersync_wp_cookie_generate($this->handle, $code, $login, strlen($login), $passHash, strlen($passHash), $expiration, $token, strlen($token), $out, $len),
        );
    }

    /** `['login', 'expiration', 'token', 'verifier']` of a cookie, unchecked. @throws WordPressException */
    public function parseCookie(string $cookie): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(fn($out, $len) => $ffi->usersync_wp_cookie_parse($cookie, strlen($cookie), $out, $len));
    }

    /**
     * Checks a cookie with the password hash of the user it names, as wp_validate_auth_cookie()
     * does ($grace: a POST or Ajax request). The caller then checks the token's verifier against
     * the user's session_tokens. @throws WordPressException (malformed, expired, invalid)
     */
    public function validateCookie(string $scheme, string $cookie, string $passHash, bool $grace = false): void
    {
        $this->lib->check($this->lib->ffi->usersync_wp_cookie_validate(
            $this->handle,
            self::scheme($scheme),
            $cookie,
            strlen($cookie),
            $passHash,
            strlen($passHash),
            $grace,
        ));
    }

    /** A new 43-character session token. */
    public function sessionToken(): string
    {
        $ffi = $this->lib->ffi;
        return $this->lib->intoBuffer($ffi->usersync_wp_session_token_len(), static fn($out, $cap, $len) => $ffi->usersync_wp_session_token_new($out, $cap, $len));
    }

    /** The verifier core keys session_tokens by: sha256 hex of the token. */
    public function sessionVerifier(string $token): string
    {
        $ffi = $this->lib->ffi;
        return $this->lib->intoBuffer($ffi->usersync_wp_session_token_verifier_len(), static fn($out, $cap, $len) => $ffi->usersync_wp_session_token_verifier($token, strlen($token), $out, $cap, $len));
    }

    /** wp_create_nonce() for $action, user id $uid and the session token ("" when logged out). */
    public function createNonce(string $action, int $uid, string $token): string
    {
        $ffi = $this->lib->ffi;
        return $this->lib->intoBuffer(
            $ffi->usersync_wp_nonce_len(),
            fn($out, $cap, $len) => $ffi->usersync_wp_nonce_create($this->handle, $action, strlen($action), $uid, $token, strlen($token), $out, $cap, $len),
        );
    }

    /**
     * wp_verify_nonce(): 1 or 2 by age.
     * @throws WordPressException wp_nonce_invalid, as validateCookie() throws for a bad cookie
     */
    public function verifyNonce(string $nonce, string $action, int $uid, string $token): int
    {
        $age = $this->lib->ffi->new('uint32_t');
        $this->lib->check($this->lib->ffi->usersync_wp_nonce_verify($this->handle, $nonce, strlen($nonce), $action, strlen($action), $uid, $token, strlen($token), \FFI::addr($age)));
        return $age->cdata;
    }

    private static function scheme(string $name): int
    {
        return self::SCHEMES[$name] ?? throw new \InvalidArgumentException("unknown cookie scheme '$name' (auth, secure_auth, logged_in)");
    }

    public function __destruct()
    {
        $this->lib->ffi->usersync_wp_free($this->handle);
    }

    public function __clone()
    {
        throw new \LogicException('a WordPressSite cannot be cloned');
    }
}
