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
    private \FFI\CData $handle;
    /** One output buffer, grown as needed and reused: the hot path allocates nothing in PHP. */
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
        $ffi = $this->lib->ffi;
        $this->handle = $this->lib->construct(
            'usersync_keyring',
            static fn($out) => $ffi->usersync_keyring_new($list, strlen($list), $maxTextLength, $out),
        );
        $this->length = $ffi->new('size_t');
        $this->lengthAddress = \FFI::addr($this->length);
    }

    private function buffer(int $capacity): \FFI\CData
    {
        if ($this->buffer === null || $capacity > $this->capacity) {
            $this->capacity = max($capacity, 2 * $this->capacity, 64);
            $this->buffer = $this->lib->ffi->new("char[$this->capacity]");
        }
        return $this->buffer;
    }

    /** Seals $plaintext with associated data $aad; returns the envelope text. */
    public function seal(string $aad, string $plaintext): string
    {
        $ffi = $this->lib->ffi;
        $cap = $ffi->usersync_keyring_sealed_len(strlen($plaintext));
        $out = $this->buffer($cap);
        $code = $ffi->usersync_keyring_seal($this->handle, $aad, strlen($aad), $plaintext, strlen($plaintext), $out, $cap, $this->lengthAddress);
        if ($code !== 0) {
            $this->lib->check($code);
        }
        return \FFI::string($out, $this->length->cdata);
    }

    /** Opens an envelope text sealed with $aad. @throws EnvelopeException */
    public function open(string $aad, string $text): string
    {
        $ffi = $this->lib->ffi;
        $cap = $ffi->usersync_keyring_opened_max_len(strlen($text));
        $out = $this->buffer($cap);
        $code = $ffi->usersync_keyring_open($this->handle, $aad, strlen($aad), $text, strlen($text), $out, $cap, $this->lengthAddress);
        if ($code !== 0) {
            $this->lib->check($code);
        }
        $n = $this->length->cdata;
        $plaintext = \FFI::string($out, $n);
        \FFI::memset($out, 0, $n); // the reused buffer keeps no plaintext
        return $plaintext;
    }

    public function __destruct()
    {
        $this->lib->ffi->usersync_keyring_free($this->handle);
    }

    public function __clone()
    {
        throw new \LogicException('a Keyring cannot be cloned');
    }
}
