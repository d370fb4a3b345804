<?php

declare(strict_types=1);

namespace Usersync;

/**
 * The secrets of one link (1 to 3; the first seals, all open) for sealing and opening envelopes
 * with associated data. Messages between sites use Context, which builds the associated data
 * itself; a Keyring is for hosts that need the envelope alone.
 */
final class Keyring
{
    private Library $lib;
    private \FFI $ffi;
    private \FFI\CData $handle;
    /**
     * One output buffer, grown as needed and reused, and the length pointer: a seal or an open
     * is one FFI call with the PHP strings passed as they are, and one copy out (FFI::string).
     * The buffer's size is asked of the library only when a call says it is too small.
     */
    private ?\FFI\CData $buffer = null;
    private int $capacity = 0;
    private \FFI\CData $length;
    private \FFI\CData $lengthAddress;

    /**
     * @param string|list<string> $secrets "usk1_…" secrets, or a comma-separated list
     * @param int $maxTextLength largest envelope text sealed or opened (0: 1 MiB)
     * @throws ConfigException
     */
    public function __construct(string|array $secrets, int $maxTextLength = 0)
    {
        $this->lib = Library::get();
        $list = is_array($secrets) ? implode(',', $secrets) : $secrets;
        $ffi = $this->ffi = $this->lib->ffi;
        $this->handle = $this->lib->construct(
            'usersync_keyring',
            static fn($out) => $ffi->usersync_keyring_new($list, strlen($list), $maxTextLength, $out),
        );
        $this->length = $ffi->new('size_t');
        $this->lengthAddress = \FFI::addr($this->length);
    }

    /** Grows the buffer to at least $capacity bytes (doubling, so growth is rare). */
    private function grow(int $capacity): void
    {
        if ($capacity > $this->capacity) {
            $this->capacity = max($capacity, 2 * $this->capacity, 256);
            $this->buffer = $this->ffi->new("char[$this->capacity]");
        }
    }

    /** Seals $plaintext with associated data $aad; returns the envelope text. */
    public function seal(string $aad, string $plaintext): string
    {
        $ffi = $this->ffi;
        $n = strlen($plaintext);
        if ($this->buffer === null) {
            $this->grow($ffi->usersync_keyring_sealed_len($n));
        }
        $code = $ffi->usersync_keyring_seal($this->handle, $aad, strlen($aad), $plaintext, $n, $this->buffer, $this->capacity, $this->lengthAddress);
        if ($code !== 0) {
            if ($code === $ffi->USERSYNC_RESULT_BUFFER_TOO_SMALL) { // refused before sealing: size it, once
                $this->grow($ffi->usersync_keyring_sealed_len($n));
                $code = $ffi->usersync_keyring_seal($this->handle, $aad, strlen($aad), $plaintext, $n, $this->buffer, $this->capacity, $this->lengthAddress);
            }
            $this->lib->check($code);
        }
        return \FFI::string($this->buffer, $this->length->cdata);
    }

    /** Opens an envelope text sealed with $aad. @throws EnvelopeException */
    public function open(string $aad, string $text): string
    {
        $ffi = $this->ffi;
        $n = strlen($text);
        if ($this->buffer === null) {
            $this->grow($ffi->usersync_keyring_opened_max_len($n));
        }
        $code = $ffi->usersync_keyring_open($this->handle, $aad, strlen($aad), $text, $n, $this->buffer, $this->capacity, $this->lengthAddress);
        if ($code !== 0) {
            if ($code === $ffi->USERSYNC_RESULT_BUFFER_TOO_SMALL) { // a longer text than the buffer has held: size it, once
                $this->grow($ffi->usersync_keyring_opened_max_len($n));
                $code = $ffi->usersync_keyring_open($this->handle, $aad, strlen($aad), $text, $n, $this->buffer, $this->capacity, $this->lengthAddress);
            }
            $this->lib->check($code);
        }
        $length = $this->length->cdata;
        $plaintext = \FFI::string($this->buffer, $length);
        \FFI::memset($this->buffer, 0, $length); // the reused buffer keeps no plaintext
        return $plaintext;
    }

    public function __destruct()
    {
        $this->ffi->usersync_keyring_free($this->handle);
    }

    public function __clone()
    {
        throw new \LogicException('a Keyring cannot be cloned');
    }
}
