<?php
declare(strict_types=1);

namespace Usersync;

/** The native library could not be loaded; the message says in plain words what to change. */
class LibraryUnavailable extends \RuntimeException
{
}
