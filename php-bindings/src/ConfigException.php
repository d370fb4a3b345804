<?php

declare(strict_types=1);

namespace Usersync;

/** A secret or configuration was refused (codes 1xx and 3xx); the message names the field. */
class ConfigException extends Exception
{
}
