"""Applies an action the library has opened, checked and filtered, with Django's own models.
Everything here runs inside the inbox's transaction, with outgoing events switched off."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from . import conf, hashers, links, roles
from .models import Link, UserSession


class ApplyFailed(Exception):
    """An action that cannot be applied here (e.g. the email belongs to another account)."""


def apply(opened: Mapping[str, Any], verdict: Mapping[str, Any], user: Optional[Any]) -> None:
    """Applies the library's verdict: ``create`` makes the account and links it to the
    message's uid; ``apply`` changes the linked account ``user`` (never another: it was found by
    uid and checked by the library); ``skip`` changes nothing."""
    act, data = opened["act"], opened["data"]
    if verdict["do"] == "skip":
        return
    if verdict["do"] == "create":
        create(opened)
        return
    if user is None:
        raise ApplyFailed("no linked account to apply to")
    if act in ("create", "update"):
        update(user, opened)
    elif act == "delete":
        user.delete()  # Django has no content to hand to an heir: "reassign" has nothing to do
    elif act == "password":
        password(user, data["pass_hash"])
    elif act == "logout":
        end_sessions(links.session_keys(user, [str(i) for i in verdict.get("end_sessions", [])]))
    else:
        # meta: a Django user has no free-form meta; a site that accepts it has nowhere to put it.
        raise ApplyFailed(f"{act} is not applied on this site")


def _email_taken(email: str, user: Optional[Any]) -> bool:
    others = get_user_model().objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    return others.exists()


def _profile(user: Any, data: Mapping[str, Any]) -> None:
    user.email = data["email"]
    for field, attr in conf.fields().items():
        if field in data.get("fields", {}):
            value = data["fields"][field]
            limit = user._meta.get_field(attr).max_length
            setattr(user, attr, value[:limit] if limit else value)
    if "pass_hash" in data:
        user.password = hashers.stored_form(data["pass_hash"])


def create(opened: Mapping[str, Any]) -> None:
    """A new account for a peer's create, linked to its uid, with its roles and hash."""
    data = opened["data"]
    if _email_taken(data["email"], None):
        raise ApplyFailed("existing_user_email")
    User = get_user_model()
    user = User(**{User.USERNAME_FIELD: data["login"]})
    user.set_unusable_password()  # until the peer's hash (if any): no one can log in with it
    _profile(user, data)
    user.save()
    Link.objects.create(uid=data["uid"], user=user)
    if "roles" in data:
        roles.apply(user, opened, list(data["roles"]))


def update(user: Any, opened: Mapping[str, Any]) -> None:
    data = opened["data"]
    if _email_taken(data["email"], user):
        raise ApplyFailed("existing_user_email")
    before = user.password
    _profile(user, data)
    user.save()
    if user.password != before:
        end_sessions_of(user)
    if "roles" in data:
        roles.apply(user, opened, list(data["roles"]))


def password(user: Any, pass_hash: str) -> None:
    """Stores the hash as it came (re-hashed natively only at the next login here)."""
    stored = hashers.stored_form(pass_hash)
    if user.password == stored:
        return
    user.password = stored
    user.save(update_fields=["password"])
    end_sessions_of(user)


def end_sessions(keys: Any) -> None:
    keys = [str(k) for k in keys]
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(session_key__in=keys).delete()


def end_sessions_of(user: Any) -> None:
    """A new password ends the user's sessions (Django would refuse them anyway: a session
    carries a hash of the password)."""
    end_sessions(list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)))


