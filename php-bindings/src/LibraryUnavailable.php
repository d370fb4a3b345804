<?php

declare(strict_types=1);

namespace Usersync;

/**
 * The native library could not be loaded; the message says in plain words what to change.
 * A Usersync\Exception like every other failure of the binding, with reason
 * "library_unavailable" and no library result code (0).
 */
class LibraryUnavailable extends Exception
{
    public function __construct(string $message, int $unused = 0, ?\Throwable $previous = null)
    {
        parent::__construct(0, 'library_unavailable', $message, $previous);
    }
}
