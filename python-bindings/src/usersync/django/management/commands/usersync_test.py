"""manage.py usersync_test PEER: the link health check (docs/protocol.md §16) — a sealed ping
through the peer's real inbox, its pong checked by the library against that ping. Says in plain
words what is wrong (health.py); the admin's "Test link" does the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import health


class Command(BaseCommand):
    help = "Checks the link to a peer with a ping through its inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("peer")

    def handle(self, *args: Any, **options: Any) -> None:
        result = health.check_and_keep(options["peer"])
        if not result.ok:
            raise CommandError(result.text())
        self.stdout.write(result.text())
