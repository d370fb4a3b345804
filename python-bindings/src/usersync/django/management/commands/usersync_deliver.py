"""manage.py usersync_deliver [--peer ID] [--watch SECONDS]: delivers the outbox (every peer's due
messages, peers in parallel), for cron or a systemd timer; --watch keeps delivering every
SECONDS until stopped."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ... import outbox
from ...models import OutboxMessage


class Command(BaseCommand):
    help = "Delivers the usersync outbox to the peers (for cron or a systemd timer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--peer", action="append", help="only this peer (repeatable)")
        parser.add_argument("--watch", type=float, default=0, help="keep delivering every SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            done = outbox.deliver(options["peer"])
            waiting = OutboxMessage.objects.count()
            if options["verbosity"] > 0:
                self.stdout.write(f"settled {done} message(s); {waiting} waiting")
            if not options["watch"]:
                return
            time.sleep(options["watch"])
