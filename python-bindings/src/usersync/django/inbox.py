"""The endpoint peers deliver to: POST {prefix}/inbox with the sealed message as the body — the
same wire protocol as the WordPress plugin's inbox. The library opens and checks it; then, in
one database transaction, its (iss, eid) is recorded — a second copy of the event is answered
"duplicate" —, the library's target check decides from the local account's facts what the
message may do, and the verdict is applied. Answers: 200 applied | 200 skipped | 200 duplicate
| 200 pong | 4xx refused with the reason | 503 busy (a create waited 10 s for the create lock).
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from typing import Any, Dict, Mapping, Optional

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import usersync

from . import apply as applying, conf, links, log, state
from .models import Seen

#: How long an applied event's id is remembered: longer than any sender retries (3 days).
EVENT_MEMORY = timedelta(days=7)

REFUSAL_STATUS = {"authentication_failed": 403, "ip_not_allowed": 403, "protected_account": 403,
                  "unknown_account": 404, "identity_conflict": 409}


def answer(status: int, result: str, reason: str = "", **extra: Any) -> JsonResponse:
    body: Dict[str, Any] = {"result": result}
    if reason:
        body["reason"] = reason
    body.update(extra)
    return JsonResponse(body, status=status)


def refused(reason: str) -> JsonResponse:
    """Every refusal is final (4xx), so the sender stops retrying."""
    return answer(REFUSAL_STATUS.get(reason, 400), "refused", reason)


def client_ip(context: usersync.Context, request: HttpRequest) -> Optional[str]:
    remote = request.META.get("REMOTE_ADDR") or ""
    try:
        return context.client_ip(remote, request.META.get("HTTP_X_FORWARDED_FOR"))
    except usersync.Error:
        return None  # no address: fails any ip_allow


def _lock_creates() -> bool:
    """Serialises creates (a login or an email must not be taken twice by two concurrent
    creates), waiting up to 10 s; PostgreSQL's transaction-level advisory lock, named for the
    database and site. Other databases serialise writers themselves."""
    if connection.vendor != "postgresql":
        return True
    name = f"usersync|{connection.settings_dict.get('NAME')}|{conf.site_id()}|create"
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1
    try:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL lock_timeout = '10s'")
            c.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    except DatabaseError:
        return False
    return True


def record_once(iss: str, msg_id: str, exp: Any) -> bool:
    """Records a replay key; False when it was recorded before."""
    try:
        with transaction.atomic():
            Seen.objects.create(iss=iss, msg_id=msg_id, exp=exp)
        return True
    except IntegrityError:
        return False


@csrf_exempt
@require_POST
def inbox(request: HttpRequest) -> JsonResponse:
    if not conf.configured():
        return answer(503, "unavailable", "usersync is not configured on this site")
    try:
        context = conf.context()
    except usersync.Error as e:
        return answer(503, "unavailable", e.reason)
    remote = client_ip(context, request)
    try:
        opened = context.open_action(request.body, remote)
    except usersync.Error as e:
        log.add("in", "", "", "", "refused", e.reason + (f" from {remote}" if remote else ""))
        return refused(e.reason)
    iss, act, eid = opened["iss"], opened["act"], opened["eid"]
    login = str(opened["data"].get("login", ""))
    if act == "ping":
        return _pong(context, opened)
    try:
        with transaction.atomic():
            if act == "create" and not _lock_creates():
                raise _Busy()
            # The event, not the message, is what must apply once: a retry re-seals it with a
            # new jti but the same eid.
            if not record_once(iss, eid, timezone.now() + EVENT_MEMORY):
                raise _Duplicate()
            facts, user = links.facts(opened)
            verdict = context.check_target(opened, facts)
            with state.applying_peer_action():
                applying.apply(opened, verdict, user)
    except _Busy:
        log.add("in", iss, act, login, "busy", "another create held the lock for 10 s", eid)
        return answer(503, "busy", "another create is being applied here")
    except _Duplicate:
        log.add("in", iss, act, login, "duplicate", "", eid)
        return answer(200, "duplicate")
    except usersync.Error as e:
        log.add("in", iss, act, login, "refused", e.reason, eid)
        return refused(e.reason)
    except applying.ApplyFailed as e:
        log.add("in", iss, act, login, "refused", str(e), eid)
        return answer(422, "refused", f"apply_failed: {e}")
    if verdict["do"] == "skip":
        log.add("in", iss, act, login, "skipped", "no such account here: nothing to do", eid)
        _prune()
        return answer(200, "skipped")
    dropped = json.dumps(opened["dropped"]) if opened.get("dropped") else ""
    log.add("in", iss, act, login, "applied", f"dropped by policy: {dropped}" if dropped else "", eid)
    _prune()
    return answer(200, "applied")


def _pong(context: usersync.Context, opened: Mapping[str, Any]) -> JsonResponse:
    """The link health check (docs/protocol.md §16): a ping is recorded like any event and
    answered with a sealed pong in the body."""
    if not record_once(opened["iss"], opened["eid"], timezone.now() + EVENT_MEMORY):
        return answer(200, "duplicate")
    pong = context.pong(opened)
    log.add("in", opened["iss"], "ping", "", "applied", "answered with a pong", opened["eid"])
    return answer(200, "pong", message=pong["message"])


def _prune() -> None:
    """Forgets replay records once their messages could no longer open anyway (now and then)."""
    if random.randint(1, 50) == 1:
        Seen.objects.filter(exp__lt=timezone.now() - timedelta(minutes=10)).delete()


class _Busy(Exception):
    pass


class _Duplicate(Exception):
    pass
