"""Linked identities and the facts the library's target check asks for (docs/protocol.md §15).
This module stores links and reads facts; what a peer may do with them is the library's rule."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Mapping, Optional, Tuple

from django.contrib.auth import get_user_model

import usersync

from . import roles
from .models import Link, UserSession


def uid_of(user: Any) -> Optional[str]:
    link = Link.objects.filter(user_id=user.pk).first()
    return link.uid if link else None


def user_of(uid: str, lock: bool = False) -> Optional[Any]:
    users = get_user_model().objects.filter(usersync_link__uid=uid)
    if lock:
        users = users.select_for_update()
    return users.first()


def mint(user: Any) -> str:
    """A new uid from the library for an account created here, linked at once."""
    uid = usersync.secret.uid()
    Link.objects.create(uid=uid, user=user)
    return uid


def session_id(session_key: str) -> str:
    """How this site names one of its sessions to peers (a logout's or a ticket's ``sid``): a
    hash of the session key, which itself is a credential and never leaves the site."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def session_keys(user: Any, ids: List[str]) -> List[str]:
    """The keys of the user's sessions named by ``session_id``s (a logout's verdict)."""
    wanted = set(ids)
    return [k for k in UserSession.objects.filter(user=user).values_list("session_key", flat=True) if session_id(k) in wanted]


def facts(opened: Mapping[str, Any], binding: Optional[str] = None) -> Tuple[Dict[str, Any], Optional[Any]]:
    """The facts about the account an opened message names, read (and the account's row locked)
    in the caller's transaction, and the linked account."""
    data = opened["data"]
    user = user_of(str(data["uid"]), lock=True)
    out: Dict[str, Any] = {"account": None}
    if user is not None:
        account: Dict[str, Any] = {"uid": uid_of(user), "roles": roles.held(user, str(opened["iss"]))}
        if opened["act"] == "logout":
            account["sessions"] = [
                {"id": session_id(s.session_key), "iss": s.iss or None, "sid": s.sid or None, "peers": list(s.peers)}
                for s in UserSession.objects.filter(user=user).order_by("session_key")
            ]
        out["account"] = account
    elif opened["act"] == "create":
        users = get_user_model().objects
        out["login_taken"] = users.filter(username=data["login"]).exists()
        out["email_taken"] = users.filter(email__iexact=data["email"]).exists()
    if opened["act"] == "login":
        out["binding"] = binding
    return out, user
