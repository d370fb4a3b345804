<?php

declare(strict_types=1);

namespace Usersync;

/** Link secrets (`usk1_…`), random nonces, account uids and browser-binding hashes. */
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
        return $lib->intoBuffer($length, static fn($out, $cap, $len) => $lib->ffi->usersync_nonce_new($length, $out, $cap, $len));
    }

    /**
     * A new id of 16 random bytes: an account uid (docs/protocol.md §15), minted where an account
     * enters the network, or an event id (eid), minted once per event.
     */
    public static function uid(): string
    {
        $lib = Library::get();
        return $lib->intoBuffer(
            $lib->ffi->usersync_uid_len(),
            static fn($out, $cap, $len) => $lib->ffi->usersync_uid_new($out, $cap, $len),
        );
    }

    /** `bnd` for a browser-binding cookie value (docs/protocol.md §12): base64url(SHA-256). */
    public static function bindingHash(string $value): string
    {
        $lib = Library::get();
        return $lib->intoBuffer(
            $lib->ffi->usersync_binding_hash_len(),
            static fn($out, $cap, $len) => $lib->ffi->usersync_binding_hash($value, strlen($value), $out, $cap, $len),
        );
    }

    /**
     * Whether $password matches a hash another host made (docs/protocol.md §17): WordPress's
     * `$wp$2y$`, bcrypt, phpass `$P$`, Django's `pbkdf2_sha256$`. False when it does not match.
     * @throws MessageRefused pass_hash_format for a hash this library cannot check
     */
    public static function verifyPassword(string $password, string $hash): bool
    {
        $lib = Library::get();
        $code = $lib->ffi->usersync_password_verify($password, strlen($password), $hash, strlen($hash));
        if ($code === $lib->ffi->USERSYNC_RESULT_PASSWORD_MISMATCH) {
            return false;
        }
        $lib->check($code);
        return true;
    }
}
