"""The link health check (docs/protocol.md §16) from this site: a sealed ping through the peer's
real inbox, its pong checked by the library against that ping, and the result in plain words —
unreachable, another secret or id, this site's address outside its ip_allow, clocks apart, a
one-way link. Used by ``manage.py usersync_test PEER`` and the admin's "Test link"; the last
result per peer is kept (PeerCheck), never a secret."""

from __future__ import annotations

import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import List

from django.utils import timezone

import usersync

from . import conf, outbox
from .models import PeerCheck


@dataclass
class Result:
    ok: bool
    summary: str
    notes: List[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([self.summary] + [f"  {n}" for n in self.notes])


def check(peer_id: str) -> Result:
    """Pings one peer and says what the link is like (nothing is raised: every failure is a result)."""
    peer = conf.peer(peer_id)
    if peer is None:
        return Result(False, f"{peer_id} is not a configured peer")
    try:
        context = conf.context()
        ping = context.ping(peer["id"])
    except usersync.Error as e:
        return Result(False, f"this site's usersync configuration is refused: {e.reason} ({e})")
    url = conf.inbox_url(peer)
    try:
        # The pong comes from the server we connect to: its address is what ip_allow checks.
        address = socket.getaddrinfo(urllib.parse.urlsplit(url).hostname or "", None)[0][4][0]
        status, answer = outbox.post(url, ping["message"])
    except OSError as e:
        return Result(False, f"{peer['id']} is unreachable at {url}: {e}")
    if answer.get("result") != "pong":
        why = f": {answer['reason']}" if answer.get("reason") else ""
        hint = {"authentication_failed": " (the two sites hold different secrets for this link, or different site ids)",
                "ip_not_allowed": " (this site's address is outside the peer's ip_allow)"}.get(str(answer.get("reason", "")), "")
        return Result(False, f"{peer['id']} answered HTTP {status} {answer.get('result', '')}{why}{hint}")
    try:
        report = context.check_pong(ping, str(answer.get("message", "")), str(address))
    except usersync.Error as e:
        return Result(False, f"the pong from {peer['id']} was refused here: {e.reason} ({e})")
    notes = [f"clock difference: {int(report['time']) - int(report['local_time'])} s",
             f"library version there: {report['version']}"]
    if report["not_accepted"]:
        notes.append(f"one-way: it refuses {', '.join(report['not_accepted'])}, which this site sends")
    if report["not_sent"]:
        notes.append(f"one-way: it never sends {', '.join(report['not_sent'])}, which this site accepts")
    return Result(True, f"{peer['id']}: the link works both ways (same secret, ids agree)", notes)


def check_and_keep(peer_id: str) -> Result:
    """``check``, with the result kept as the peer's last (and, when it worked, last success)."""
    result = check(peer_id)
    now = timezone.now()
    row, _ = PeerCheck.objects.get_or_create(peer=peer_id[:128])
    row.checked_at, row.ok, row.report = now, result.ok, result.text()[:2000]
    if result.ok:
        row.last_ok_at = now
    row.save()
    return result
