"""manage.py usersync_test PEER: the link health check (docs/protocol.md §16) — a sealed ping
through the peer's real inbox, its pong checked by the library against that ping. Says in plain
words what is wrong: unreachable, another secret or id, our address outside its ip_allow, clocks
apart, or a one-way link."""

from __future__ import annotations

import socket
import urllib.parse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import usersync

from ... import conf, outbox


class Command(BaseCommand):
    help = "Checks the link to a peer with a ping through its inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("peer")

    def handle(self, *args: Any, **options: Any) -> None:
        context = conf.context()
        peer = conf.peer(options["peer"])
        if peer is None:
            raise CommandError(f"{options['peer']} is not a configured peer")
        ping = context.ping(peer["id"])
        url = conf.inbox_url(peer)
        try:
            # The pong comes from the server we connect to: its address is what ip_allow checks.
            address = socket.getaddrinfo(urllib.parse.urlsplit(url).hostname or "", None)[0][4][0]
            status, answer = outbox.post(url, ping["message"])
        except OSError as e:
            raise CommandError(f"{peer['id']} is unreachable at {url}: {e}")
        if answer.get("result") != "pong":
            raise CommandError(f"{peer['id']} answered HTTP {status} {answer.get('result', '')}"
                               f"{': ' + str(answer['reason']) if answer.get('reason') else ''}")
        try:
            report = context.check_pong(ping, str(answer.get("message", "")), str(address))
        except usersync.Error as e:
            raise CommandError(f"the pong from {peer['id']} was refused here: {e.reason} ({e})")
        lines = [f"{peer['id']}: the link works both ways (same secret, ids agree)",
                 f"  clock difference: {int(report['time']) - int(report['local_time'])} s",
                 f"  library version there: {report['version']}"]
        if report["not_accepted"]:
            lines.append(f"  one-way: it refuses {', '.join(report['not_accepted'])}, which this site sends")
        if report["not_sent"]:
            lines.append(f"  one-way: it never sends {', '.join(report['not_sent'])}, which this site accepts")
        self.stdout.write("\n".join(lines))
