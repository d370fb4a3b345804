<?php

declare(strict_types=1);

namespace Usersync;

/** A WordPress cookie or nonce was refused (codes 5xx). */
class WordPressException extends Exception
{
}
