"""The durable outbox: one row per event and peer, written in the transaction of the change
(events.py), delivered after the response and by ``manage.py usersync_deliver`` (cron or a
systemd timer). Each event keeps its eid for every retry, so the peer applies it once.

Peers are independent: each is delivered by at most one run at a time (a PostgreSQL advisory
lock per site and peer; a process lock on other databases), in order, one message at a time,
all peers at once in threads. A failing or hung peer holds only its own thread; it is retried
with backoff (RETRY_BASE, default 30 s, doubling up to an hour) until delivered or expired
(OUTBOX_TTL, default 3 days). Timeouts: HTTP_TIMEOUT (default 10 s).
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Dict, Iterator, List, Optional, Tuple

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

import usersync

from . import conf, hashers, links, log, roles, state
from .models import OutboxMessage

#: Messages one run delivers to one peer at most, so a run ends under steady load.
RUN_LIMIT = 1000


def ttl() -> int:
    return max(60, conf.setting("OUTBOX_TTL", 3 * 86400))


def backoff(attempts: int) -> int:
    base = max(1, conf.setting("RETRY_BASE", 30))
    return int(min(3600, base * 2 ** max(0, attempts - 1)))


def timeout() -> int:
    return max(1, conf.setting("HTTP_TIMEOUT", 10))


def login_of(user: Any) -> str:
    return str(getattr(user, get_user_model().USERNAME_FIELD))


def event_data(act: str, user: Any, uid: str, sid: str = "") -> Optional[Dict[str, Any]]:
    """The data of an event about ``user`` (docs/protocol.md §9); roles are added per peer.
    ``sid``: a logout's session (none: every session)."""
    data: Dict[str, Any] = {"uid": uid, "login": login_of(user)}
    if act == "delete":
        return data
    if act == "logout":
        return dict(data, sid=sid) if sid else data
    pass_hash = hashers.wire_form(user.password or "")
    if act == "password":
        if pass_hash is None:
            return None  # a hash no peer could read (e.g. unusable): nothing to send
        return dict(data, pass_hash=pass_hash)
    data["email"] = user.email
    data["fields"] = {field: str(getattr(user, attr, "") or "") for field, attr in conf.fields().items()}
    if pass_hash is not None:
        data["pass_hash"] = pass_hash
    return data


def enqueue(act: str, user: Any, uid: Optional[str] = None, sid: str = "") -> None:
    """Queues an event about a linked account, one row per peer the library routes it to, on
    the caller's transaction. Accounts that are not linked are not synced."""
    uid = uid or links.uid_of(user)
    if uid is None:
        return
    data = event_data(act, user, uid, sid)
    if data is None:
        return
    event: Dict[str, Any] = {"eid": usersync.secret.uid(), "act": act, "data": data}
    try:
        peers = conf.context().route(event)
    except usersync.MessageRefused as e:
        # e.g. an account without an email address: it cannot travel; say so in the log.
        log.add("out", "", act, data["login"], "refused", e.reason, event["eid"])
        return
    now = timezone.now()
    rows = []
    for peer in peers:
        per_peer = dict(data, roles=roles.sent_to(user, peer)) if act in ("create", "update") else data
        rows.append(OutboxMessage(peer=peer, eid=event["eid"], user_id=user.pk, act=act, login=data["login"],
                                  event={"eid": event["eid"], "act": act, "data": per_peer},
                                  created_at=now, next_attempt=now))
    if rows:
        OutboxMessage.objects.bulk_create(rows)
        transaction.on_commit(state.mark_queued)


# ---- delivery --------------------------------------------------------------------------------

_process_locks: Dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _lock_key(peer: str) -> int:
    """A 63-bit advisory-lock key for this site and peer (the database is named too: one
    PostgreSQL server may hold several sites)."""
    name = f"usersync|{connection.settings_dict.get('NAME')}|{conf.site_id()}|deliver|{peer}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


@contextmanager
def peer_lock(peer: str) -> Iterator[bool]:
    """At most one delivery run per peer at a time; yields whether this run got the peer."""
    if connection.vendor == "postgresql":
        key = _lock_key(peer)
        with connection.cursor() as c:
            c.execute("SELECT pg_try_advisory_lock(%s)", [key])
            got = bool(c.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as c:
                    c.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    with _process_locks_guard:
        lock = _process_locks.setdefault(peer, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def head(peer: str) -> Optional[OutboxMessage]:
    """The oldest message of one peer when it is due, else None."""
    row = OutboxMessage.objects.filter(peer=peer).order_by("id").first()
    return row if row is not None and row.next_attempt <= timezone.now() else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kw: Any) -> None:
        return None  # a redirect is an answer like any other: the message is not re-posted


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, message: str) -> Tuple[int, Dict[str, Any]]:
    """POSTs a sealed message; returns the HTTP status and the JSON answer ({} if none)."""
    if not url.startswith(("http://", "https://")):
        raise urllib.error.URLError("not an http(s) URL")
    request = urllib.request.Request(url, data=message.encode("ascii"), method="POST",
                                     headers={"Content-Type": "text/plain"})
    try:
        with _opener.open(request, timeout=timeout()) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def outcome(status: int, answer: Dict[str, Any]) -> Tuple[str, str]:
    """delivered, duplicate (applied before: a retry after a lost answer), refused (final), or
    retry — with the reason in plain words."""
    said, why = str(answer.get("result", "")), str(answer.get("reason", ""))
    if status == 200 and said in ("applied", "skipped", "duplicate"):
        return ("duplicate", "") if said == "duplicate" else ("delivered", "nothing to do there" if said == "skipped" else "")
    if 400 <= status < 500 and said == "refused":
        return "refused", why
    hint = f": {why}" if why else (" (is usersync active there, and the URL right?)" if status == 404 else "")
    return "retry", f"HTTP {status} from the peer{hint}"


def send(context: usersync.Context, row: OutboxMessage) -> Tuple[str, str]:
    peer = conf.peer(row.peer)
    try:
        built = context.build(row.event, row.peer) if peer else []
    except usersync.Error as e:
        return "refused", e.reason
    if not built or peer is None:
        return "refused", "no longer sent to this peer"
    try:
        return outcome(*post(conf.inbox_url(peer), built[0]["message"]))
    except TimeoutError:
        return "retry", f"timed out after {timeout()} s (the peer accepted the connection but did not answer)"
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ConnectionRefusedError):
            return "retry", "connection refused (nothing listens at the peer's address, or a firewall)"
        if isinstance(reason, TimeoutError):
            return "retry", f"timed out after {timeout()} s (the peer accepted the connection but did not answer)"
        return "retry", f"network error: {reason}"
    except OSError as e:
        return "retry", f"network error: {e}"


def settle(row: OutboxMessage, result: str, reason: str) -> None:
    """Gone when delivered or final, else waiting with backoff."""
    if result == "retry":
        row.attempts += 1
        row.next_attempt = timezone.now() + timedelta(seconds=backoff(row.attempts))
        row.last_error = reason[:255]
        row.save(update_fields=["attempts", "next_attempt", "last_error"])
    else:
        row.delete()
    log.add("out", row.peer, row.act, row.login, result, reason, row.eid)


def deliver_peer(context: usersync.Context, peer: str) -> int:
    """Delivers one peer's due messages in order until one must wait; returns how many were
    settled (0 when another run has the peer)."""
    done = 0
    with peer_lock(peer) as got:
        if not got:
            return 0
        while done < RUN_LIMIT:
            row = head(peer)
            if row is None:
                break
            result, reason = send(context, row)
            settle(row, result, reason)
            done += 1
            if result == "retry":
                break
    return done


def _in_thread(context: usersync.Context, peer: str) -> int:
    try:
        return deliver_peer(context, peer)
    finally:
        connection.close()  # this thread's own connection


def expire() -> None:
    cutoff = timezone.now() - timedelta(seconds=ttl())
    for row in OutboxMessage.objects.filter(created_at__lt=cutoff):
        row.delete()
        log.add("out", row.peer, row.act, row.login, "expired", f"undelivered after {ttl()} s", row.eid)


def deliver(peers: Optional[List[str]] = None) -> int:
    """Delivers every peer's due messages (or only ``peers``'), each peer in its own thread when
    there are several. Safe to run from many processes at once."""
    if not conf.configured():
        return 0
    context = conf.context()
    expire()
    due = sorted(set(OutboxMessage.objects.values_list("peer", flat=True)))
    if peers is not None:
        due = [p for p in due if p in peers]
    if len(due) <= 1:
        return sum(deliver_peer(context, p) for p in due)
    with ThreadPoolExecutor(max_workers=min(len(due), 16)) as pool:
        return sum(pool.map(lambda p: _in_thread(context, p), due))
