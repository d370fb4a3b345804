<?php
declare(strict_types=1);

namespace Usersync;

/** Link secrets (`usk1_…`) and random nonces. */
final class Secret
{
    /** A new link secret for both sites of one link. Store it in configuration, never log it. */
    public static function generate(): string
    {
        $lib = Library::get();
        return $lib->intoBuffer(
            $lib->ffi->usersync_secret_text_len(),
            static fn($out, $cap, $len) => $lib->ffi->usersync_secret_generate($out, $cap, $len),
        );
    }

    /** @throws ConfigException naming why the secret is refused. */
    public static function check(string $secret): void
    {
        $lib = Library::get();
        $lib->check($lib->ffi->usersync_secret_check($secret, strlen($secret)));
    }

    /** A random URL-safe nonce of $length characters (16 to 256). */
    public static function nonce(int $length = 32): string
    {
        $lib = Library::get();
        return $lib->intoBuffer($length, static fn($out, $cap, $len) => $lib->ffi->usersync_nonce($length, $out, $cap, $len));
    }
}
