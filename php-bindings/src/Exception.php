<?php

declare(strict_types=1);

namespace Usersync;

/**
 * A usersync call failed. `resultCode` is the library's stable number (docs/protocol.md),
 * `reason` its snake_case name (e.g. "authentication_failed"); the message says what to do.
 * Subclasses group the codes by area so hosts can catch what they handle.
 */
class Exception extends \RuntimeException
{
    public function __construct(public readonly int $resultCode, public readonly string $reason, string $message, ?\Throwable $previous = null)
    {
        parent::__construct($message, $resultCode, $previous);
    }

    /** The exception class for a result code. */
    public static function forCode(int $code, string $reason, string $message): self
    {
        $class = match (intdiv($code, 100)) {
            1, 3 => ConfigException::class,
            2 => EnvelopeException::class,
            4, 6, 7 => MessageRefused::class,
            5 => WordPressException::class,
            default => self::class,
        };
        return new $class($code, $reason, $message);
    }
}
