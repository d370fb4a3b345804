<?php

declare(strict_types=1);

namespace Usersync;

/** A message was refused by the protocol or the peer's policy (4xx), or for the account it names (6xx). */
class MessageRefused extends Exception
{
}
