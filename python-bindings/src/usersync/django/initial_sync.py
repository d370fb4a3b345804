"""The initial sync, this site's side (docs/protocol.md §18): the accounts this site had before a
link are reconciled with one peer, as the WordPress plugin's ``wp usersync sync`` does.

1. The report (``--dry-run``): every local account is offered to the library in batches of up
   to 1000; it says which may be offered (privileged accounts only when the send policy names
   their roles exactly), and the peer — asked by a sealed probe for exactly those logins and
   emails, never for its user list — says what the sync would do there: create, link (login and
   email match one unlinked, unprotected account), linked already, or a collision it leaves
   alone. Nothing changes anywhere.
2. The run: the report's creates and links go in sealed batches, each account with the uid it
   is linked by — its own, or one minted here once and kept (SyncPending) before the batch
   leaves, so a run sent again after an interruption creates nothing twice. The peer classifies
   each account again and applies only what still holds; the accounts it created, linked or
   found linked are linked here by the same uid.

The rules are the library's; this module reads accounts, moves batches and stores links.
"""

from __future__ import annotations

import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from django.contrib.auth import get_user_model
from django.db import transaction

import usersync

from . import conf, outbox, roles
from .models import Link, SyncPending

#: Accounts per probe or batch (the library takes at most 1000 in one message).
BATCH = 1000
TO_DO = ("create", "link")


class SyncFailed(Exception):
    """The sync cannot go on (in plain words): no such peer, the peer did not answer, …"""


@dataclass
class Outcome:
    login: str
    do: str
    reason: str = ""


@dataclass
class Report:
    peer: str
    accounts: List[Outcome] = field(default_factory=list)

    def counts(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for a in self.accounts:
            out[a.do] = out.get(a.do, 0) + 1
        return out


def record(user: Any, peer: str, uid: Optional[str]) -> Dict[str, Any]:
    """A local account as the library reads it: the user record a create carries, and its uid."""
    data = outbox.event_data("create", user, uid or "") or {}
    data.pop("uid", None)
    data["roles"] = roles.sent_to(user, peer)
    if uid:
        data["uid"] = uid
    return data


def _users(batch: int) -> Iterator[List[Any]]:
    last = 0
    users = get_user_model().objects.order_by("pk")
    while True:
        chunk = list(users.filter(pk__gt=last).select_related("usersync_link")[:batch])
        if not chunk:
            return
        last = chunk[-1].pk
        yield chunk


def _uid_of(user: Any) -> Optional[str]:
    link = getattr(user, "usersync_link", None)  # None when not linked (Django raises an AttributeError)
    return link.uid if link is not None else None


def _context(peer: str) -> usersync.Context:
    if conf.peer(peer) is None:
        raise SyncFailed(f"no peer {peer} is configured")
    return conf.context()


def ask(context: usersync.Context, peer: str, request: Dict[str, Any], what: str) -> List[Dict[str, Any]]:
    """POSTs a sealed probe or batch to the peer's inbox and opens its sealed answer, which must
    answer exactly this message; returns the answer's results."""
    entry = conf.peer(peer) or {}
    url = conf.inbox_url(entry)
    try:
        address = socket.getaddrinfo(urllib.parse.urlsplit(url).hostname or "", None)[0][4][0]
        status, answer = outbox.post(url, str(request["message"]))
    except OSError as e:
        raise SyncFailed(f"{peer} is unreachable at {url}: {e}")
    if status != 200 or answer.get("result") != "answered":
        raise SyncFailed(f"{peer} did not answer the {what}: {answer.get('reason') or f'HTTP {status}'}")
    try:
        opened = context.open_action(str(answer.get("answer", "")), str(address))
    except usersync.Error as e:
        raise SyncFailed(f"the answer from {peer} was refused here: {e.reason}")
    if opened["act"] != "answer" or opened["iss"] != peer or opened["data"].get("to") != request["jti"]:
        raise SyncFailed(f"{peer} answered another message")
    return list(opened["data"]["results"])


def report(peer: str, batch: int = BATCH) -> Tuple[Report, Dict[int, Tuple[Any, str]]]:
    """The dry run: what the sync would do with each local account. Also returns the accounts
    to carry out (by id: the user and ``create`` or ``link``). Changes nothing."""
    context = _context(peer)
    out = Report(peer)
    todo: Dict[int, Tuple[Any, str]] = {}
    pending = dict(SyncPending.objects.filter(peer=peer).values_list("user_id", "uid"))
    for users in _users(max(1, min(BATCH, batch))):
        # A uid sent before an interruption is asked with: the peer may hold it already.
        records = [record(u, peer, _uid_of(u) or pending.get(u.pk)) for u in users]
        try:
            probe = context.sync_probe(peer, records)
        except usersync.Error as e:
            raise SyncFailed(f"the library will not sync with {peer}: {e.reason} ({e})")
        answers = ask(context, peer, probe, "probe") if probe["message"] is not None else []
        asked = iter(answers)
        for user, local in zip(users, probe["local"]):
            result = next(asked, {"do": "collision", "reason": "no_answer"}) if local["do"] == "ask" else local
            do, reason = str(result["do"]), str(result.get("reason", ""))
            if do == "linked" and _uid_of(user) is None and user.pk in pending:
                do = "link"  # applied there before an interruption; to be linked here
            out.accounts.append(Outcome(user.get_username(), do, reason))
            if do in TO_DO:
                todo[user.pk] = (user, do)
    return out, todo


def run(peer: str, batch: int = BATCH, progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """The report, then its creates and links in batches; returns what happened to each."""
    context = _context(peer)
    planned, todo = report(peer, batch)
    done = Report(peer, [a for a in planned.accounts if a.do not in TO_DO])
    items = list(todo.values())
    size = max(1, min(BATCH, batch))
    for start in range(0, len(items), size):
        done.accounts.extend(_send(context, peer, items[start:start + size]))
        if progress:
            progress(min(start + size, len(items)), len(items))
    return done


def _send(context: usersync.Context, peer: str, items: List[Tuple[Any, str]]) -> List[Outcome]:
    accounts: List[Dict[str, Any]] = []
    users: Dict[str, Any] = {}
    for user, op in items:
        uid = _uid_of(user)
        if uid is None:
            pending, _ = SyncPending.objects.get_or_create(peer=peer, user=user, defaults={"uid": usersync.secret.uid()})
            uid = pending.uid  # stored before the batch leaves
        users[uid] = user
        accounts.append(dict(record(user, peer, uid), op=op))
    try:
        batch = context.sync_batch(peer, accounts)
    except usersync.EnvelopeError as e:
        if e.reason == "too_large" and len(items) > 1:
            half = len(items) // 2
            return _send(context, peer, items[:half]) + _send(context, peer, items[half:])
        raise SyncFailed(f"the library will not build the batch: {e.reason}")
    except usersync.Error as e:
        raise SyncFailed(f"the library will not build the batch: {e.reason}")
    out = [Outcome(users[a["uid"]].get_username(), "not_sent", str(local.get("reason", "")))
           for a, local in zip(accounts, batch["local"]) if local["do"] != "ask"]
    if batch["message"] is None:
        return out
    for result in ask(context, peer, batch, "batch"):
        user = users.get(str(result.get("uid", "")))
        if user is None:
            continue
        do = str(result["do"])
        if do in ("create", "link", "linked"):
            with transaction.atomic():
                if not Link.objects.filter(user=user).exists():
                    Link.objects.create(uid=result["uid"], user=user)
                SyncPending.objects.filter(peer=peer, user=user).delete()
        out.append(Outcome(user.get_username(), do, str(result.get("reason", ""))))
    return out
