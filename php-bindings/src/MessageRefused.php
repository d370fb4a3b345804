<?php
declare(strict_types=1);

namespace Usersync;

/** A message was refused by the protocol or the peer's policy (codes 4xx). */
class MessageRefused extends Exception
{
}
