<?php
// The real-WordPress cookie tests and benchmark call usersync through the PHP binding's
// WordPressSite; these small wrappers give the checks short names and plain return values.
declare(strict_types=1);

require_once __DIR__ . '/../../php-bindings/autoload.php';

/** Points the binding at the library under test. */
function usersync_use_library(string $libPath): void {
    define('USERSYNC_LIBRARY', $libPath);
}

/** The eight keys and salts of the loaded site's wp-config.php. */
function wp_config_salts(): array {
    $salts = [];
    foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $c) {
        $salts[$c] = constant($c);
    }
    return $salts;
}

function usersync_wp(array $salts, int $nonceLife): Usersync\WordPressSite {
    global $wp_version;
    return new Usersync\WordPressSite(['salts' => $salts, 'siteurl' => get_option('siteurl'), 'wp_version' => $wp_version, 'nonce_life' => $nonceLife]);
}

function us_generate(Usersync\WordPressSite $wp, string $scheme, string $login, string $hash, int $exp, string $token): string {
    return $wp->generateCookie($scheme, $login, $hash, $exp, $token);
}

/** "ok" or the library's reason name ("wp_cookie_invalid", …). */
function us_validate(Usersync\WordPressSite $wp, string $scheme, string $cookie, string $hash, bool $grace = false): string {
    try {
        $wp->validateCookie($scheme, $cookie, $hash, $grace);
        return 'ok';
    } catch (Usersync\WordPressException $e) {
        return $e->reason;
    }
}

function us_parse(Usersync\WordPressSite $wp, string $cookie): ?array {
    try {
        return $wp->parseCookie($cookie);
    } catch (Usersync\WordPressException) {
        return null;
    }
}

function us_token(Usersync\WordPressSite $wp): string {
    return $wp->sessionToken();
}

function us_nonce(Usersync\WordPressSite $wp, string $action, int $uid, string $token): string {
    return $wp->createNonce($action, $uid, $token);
}

/** 1 or 2 by age, 0 when invalid. */
function us_nonce_verify(Usersync\WordPressSite $wp, string $nonce, string $action, int $uid, string $token): int {
    try {
        return $wp->verifyNonce($nonce, $action, $uid, $token);
    } catch (Usersync\WordPressException $e) {
        return 0;
    }
}
