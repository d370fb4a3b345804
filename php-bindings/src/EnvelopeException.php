<?php

declare(strict_types=1);

namespace Usersync;

/** A sealed envelope was refused (codes 2xx): too large, malformed, or authentication failed. */
class EnvelopeException extends Exception
{
}
