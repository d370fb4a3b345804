<?php

declare(strict_types=1);

namespace Usersync;

use FFI;

/**
 * The one place where PHP meets libusersync: finds and loads the library once per process,
 * checks its version, and turns result codes into exceptions. No FFI type leaves this binding.
 *
 * Loading, in order:
 *  1. preload mode — the header was loaded at server start with `ffi.preload` (see
 *     bin/usersync-preload-header) and these classes with `opcache.preload` (preload.php), as
 *     the production default `ffi.enable=preload` requires; FFI::scope('USERSYNC') then costs
 *     microseconds per request;
 *  2. `FFI::cdef` of the header, once per process, where FFI is enabled (`ffi.enable=1`, or the
 *     command line).
 * The library file is taken from: the constant or environment variable USERSYNC_LIBRARY; the
 * bundled copy in lib/<os>-<arch>/; a development build under target/ of the repository.
 */
final class Library
{
    /** The library version this binding is written for (major.minor must match). */
    public const VERSION = '0.1.0';
    /** The FFI scope name the preload header declares. */
    public const SCOPE = 'USERSYNC';

    private static ?self $instance = null;

    private function __construct(
        public readonly FFI $ffi,
        /** "preload" or "cdef". */
        public readonly string $mode,
        /** The library file loaded ("(preloaded)" in preload mode). */
        public readonly string $path,
        public readonly string $version,
    ) {
    }

    /** The process-wide instance, loaded on first use (or the one load() made). */
    public static function get(): self
    {
        return self::$instance ??= self::load();
    }

    /**
     * Loads the library and makes it the one every class of the binding uses. $library names
     * the file to load (no other is tried); $expectedVersion exists for tests.
     * @throws LibraryUnavailable with what to change, naming every path tried.
     */
    public static function load(?string $library = null, string $expectedVersion = self::VERSION): self
    {
        return self::$instance = self::open($library, $expectedVersion);
    }

    private static function open(?string $library, string $expectedVersion): self
    {
        $ffi = null;
        $mode = 'cdef';
        $path = '';
        // A configured path (USERSYNC_LIBRARY) is taken at its word: a wrong one fails loudly,
        // never another copy. In preload mode the preloaded library (named by the preload
        // header) is used, but a configured path must still exist.
        $configured = self::configured();
        if ($library === null && $configured !== null && !is_file($configured)) {
            self::locate($configured);
        }
        if ($library === null && class_exists(FFI::class, false)) {
            try {
                // Preload mode first: the common production path, and the cheapest.
                $ffi = FFI::scope(self::SCOPE);
                $mode = 'preload';
                $path = '(preloaded)';
            } catch (\Throwable) {
                // Not preloaded (or FFI restricted here): fall through to FFI::cdef.
            }
        }
        $enable = strtolower((string) ini_get('ffi.enable'));
        if ($ffi === null && !extension_loaded('ffi')) {
            throw new LibraryUnavailable(
                "PHP's FFI extension is not loaded. On Debian it ships in php8.2-common: check that "
                . 'the ffi extension is enabled (php --ri ffi; mods-available/ffi.ini).'
            );
        }
        if ($ffi === null) {
            if ($enable === '0' || $enable === 'off' || $enable === 'false' || $enable === '') {
                throw new LibraryUnavailable(
                    'FFI is disabled (ffi.enable=0). Preload the usersync header (ffi.preload, see '
                    . 'php-bindings/README.md) or set ffi.enable=1 for this PHP.'
                );
            }
            if ($enable === 'preload' && PHP_SAPI !== 'cli') {
                throw new LibraryUnavailable(
                    "ffi.enable is 'preload' and usersync is not preloaded. In this PHP's ini set "
                    . 'opcache.preload=<php-bindings/preload.php>, opcache.preload_user=www-data and '
                    . 'ffi.preload=<the header made by php-bindings/bin/usersync-preload-header>, then '
                    . 'restart php-fpm (production); or set ffi.enable=1 '
                    . '(php_admin_value[ffi.enable]=1 in a php-fpm pool).'
                );
            }
            $path = self::locate($library ?? $configured);
            $header = self::header($path);
            try {
                $ffi = FFI::cdef($header, $path);
            } catch (\Throwable $e) {
                throw new LibraryUnavailable("cannot load $path with its header: " . $e->getMessage(), 0, $e);
            }
        }
        $version = (string) $ffi->usersync_version(); // a returned const char* arrives as a PHP string
        if (!self::compatible($version, $expectedVersion)) {
            throw new LibraryUnavailable(
                "libusersync $version ($path) does not match this binding, written for $expectedVersion: "
                . 'install the library and the PHP binding from the same release.'
            );
        }
        return new self($ffi, $mode, $path, $version);
    }

    /** Same major and minor version. */
    private static function compatible(string $have, string $want): bool
    {
        $major = static fn(string $v): string => implode('.', array_slice(explode('.', $v), 0, 2));
        return $major($have) === $major($want);
    }

    /** The library named by the constant or environment variable USERSYNC_LIBRARY, if any. */
    private static function configured(): ?string
    {
        if (defined('USERSYNC_LIBRARY')) {
            return (string) constant('USERSYNC_LIBRARY');
        }
        return getenv('USERSYNC_LIBRARY') ?: null;
    }

    /** @return list<string> where the library is looked for, in order: the one given, else the search. */
    public static function candidates(?string $library = null): array
    {
        $library ??= self::configured();
        if ($library !== null) {
            return [$library];
        }
        $arch = strtolower(PHP_OS_FAMILY) . '-' . php_uname('m');
        $root = dirname(__DIR__);
        return [
            "$root/lib/$arch/libusersync.so",
            dirname($root) . '/target/release/libusersync.so',
            dirname($root) . '/target/debug/libusersync.so',
        ];
    }

    private static function locate(?string $library): string
    {
        $tried = self::candidates($library);
        foreach ($tried as $candidate) {
            if (is_file($candidate) && is_readable($candidate)) {
                return $candidate;
            }
        }
        throw new LibraryUnavailable(
            'libusersync.so was not found. Tried: ' . implode(', ', $tried)
            . '. Set USERSYNC_LIBRARY (constant or environment variable) to its path, or build it with `cargo build --release`.'
        );
    }

    private static function header(string $library): string
    {
        $root = dirname(__DIR__);
        foreach ([dirname($library) . '/usersync.h', "$root/lib/usersync.h", dirname($root) . '/include/usersync.h'] as $h) {
            if (is_file($h)) {
                return (string) file_get_contents($h);
            }
        }
        throw new LibraryUnavailable("usersync.h was not found next to $library, in php-bindings/lib/ or include/.");
    }

    // ---- calls ------------------------------------------------------------------------------

    /** Throws the typed exception for a non-zero result code. */
    public function check(int $code, string $detail = ''): void
    {
        if ($code !== 0) {
            $message = (string) $this->ffi->usersync_result_message($code);
            throw Exception::forCode(
                $code,
                (string) $this->ffi->usersync_result_name($code),
                $detail !== '' ? "$message: $detail" : $message,
            );
        }
    }

    /**
     * Calls $call(out_buffer, capacity, out_len_pointer) with a buffer of $capacity bytes and
     * returns what the library wrote.
     */
    public function intoBuffer(int $capacity, callable $call): string
    {
        $buffer = $this->ffi->new('char[' . max(1, $capacity) . ']');
        $length = $this->ffi->new('size_t');
        $this->check($call($buffer, $capacity, FFI::addr($length)));
        return FFI::string($buffer, $length->cdata);
    }

    /**
     * Calls $call(out_pointer_pointer, out_len_pointer) for a library-allocated result, returns
     * it as a PHP string and frees (and wipes) the library's copy whatever happens.
     */
    public function allocated(callable $call): string
    {
        $out = $this->ffi->new('char*');
        $length = $this->ffi->new('size_t');
        $this->check($call(FFI::addr($out), FFI::addr($length)));
        try {
            return FFI::string($out, $length->cdata);
        } finally {
            $this->ffi->usersync_bytes_free($out, $length->cdata);
        }
    }

    /** Same, decoding the JSON result into an array. */
    public function allocatedJson(callable $call): array
    {
        return json_decode($this->allocated($call), true, 64, JSON_THROW_ON_ERROR);
    }

    /**
     * Calls a constructor `$call(out_handle_pointer, err, err_cap, err_len)` and returns the
     * handle; a configuration refusal carries the library's detail naming the field.
     */
    public function construct(string $type, callable $call): FFI\CData
    {
        $handle = $this->ffi->new("$type*");
        $err = $this->ffi->new('char[512]');
        $errLength = $this->ffi->new('size_t');
        $code = $call(FFI::addr($handle), $err, 512, FFI::addr($errLength));
        $this->check($code, $code === $this->ffi->USERSYNC_RESULT_CONFIG_INVALID ? FFI::string($err, $errLength->cdata) : '');
        return $handle;
    }
}
