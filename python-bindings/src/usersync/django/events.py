"""User changes from Django's signals become usersync events in the outbox — written by the
signal receiver on the same database connection, so inside the transaction of the change
(run requests with ``ATOMIC_REQUESTS = True``, as Django recommends, or wrap changes in
``transaction.atomic()``: a change rolled back takes its events with it).

create (``post_save``, created: the account gets its uid here, entering the network), update
(``post_save``; groups through ``m2m_changed``), password (a save that changed only the hash),
delete (``pre_delete``, while the link still exists). Not events: changes made while a peer's
action is applied, a login's ``last_login``, and the first login's re-hash of a peer's hash
(the same password: the peers keep the hash they can read).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Set

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import request_finished
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
from django.dispatch import receiver

from . import apply as applying, conf, hashers, links, outbox, state
from .models import UserSession

User = get_user_model()
WATCHED = ("password", "email", "first_name", "last_name", "is_staff", "is_superuser", User.USERNAME_FIELD)


def _active() -> bool:
    return conf.configured() and not state.applying()


def _snapshot(user: Any) -> Dict[str, Any]:
    snap = {name: getattr(user, name, None) for name in WATCHED}
    for attr in conf.fields().values():
        snap[attr] = getattr(user, attr, None)
    return snap


@receiver(pre_save, sender=User, dispatch_uid="usersync_pre_save")
def _remember(sender: Any, instance: Any, update_fields: Optional[Iterable[str]] = None, **kw: Any) -> None:
    if not _active() or instance.pk is None or instance._state.adding:
        return
    old = User.objects.filter(pk=instance.pk).first()
    instance._usersync_before = _snapshot(old) if old is not None else None


@receiver(post_save, sender=User, dispatch_uid="usersync_post_save")
def _saved(sender: Any, instance: Any, created: bool, update_fields: Optional[Iterable[str]] = None, **kw: Any) -> None:
    if not _active() or kw.get("raw"):
        return
    fields = set(update_fields or ())
    if created:
        if conf.peers():
            links.mint(instance)  # the account enters the network here
            outbox.enqueue("create", instance)
        return
    if fields == {"last_login"}:
        return
    before = getattr(instance, "_usersync_before", None)
    instance._usersync_before = None
    now = _snapshot(instance)
    if before is not None:
        changed = {k for k in now if now[k] != before[k]}
        if not changed:
            return
        if changed == {"password"}:
            if fields == {"password"} and hashers.is_foreign(str(before["password"] or "")):
                return  # the first login re-hashed a peer's hash: same password, nothing to send
            outbox.enqueue("password", instance)
            return
    outbox.enqueue("update", instance)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="usersync_groups")
def _groups(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Optional[Set[Any]], **kw: Any) -> None:
    if not _active() or action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:
        if action != "pre_clear":
            outbox.enqueue("update", instance)
        return
    # group.user_set.add(...) and friends: every user named (a clear names them before).
    if action == "pre_clear":
        instance._usersync_cleared = list(instance.user_set.values_list("pk", flat=True))
        return
    pks = pk_set if action != "post_clear" else set(getattr(instance, "_usersync_cleared", []))
    for user in User.objects.filter(pk__in=pks or ()):
        outbox.enqueue("update", user)


@receiver(pre_delete, sender=User, dispatch_uid="usersync_pre_delete")
def _deleted(sender: Any, instance: Any, **kw: Any) -> None:
    if not _active():
        return
    uid = links.uid_of(instance)
    if uid is not None:
        outbox.enqueue("delete", instance, uid=uid)


@receiver(request_finished, dispatch_uid="usersync_deliver_after_response")
def _after_response(sender: Any, **kw: Any) -> None:
    """After the response has been sent (WSGI servers close the response after writing it):
    deliver what this request queued."""
    if state.take_queued() and conf.raw().get("DELIVER_AFTER_RESPONSE", True):
        outbox.deliver()



@receiver(user_logged_in, dispatch_uid="usersync_session_started")
def _logged_in(sender: Any, request: Any, user: Any, **kw: Any) -> None:
    """Sessions are facts of the target check (a peer's logout ends them): record each one, with
    the peer and peer session it came from when a peer's ticket started it (sso.accept). A login
    made here starts single sign-on on the peers once its answer is ready (the middleware)."""
    session = getattr(request, "session", None)
    if session is None or not conf.configured():
        return
    if session.session_key is None:
        session.save()
    came = getattr(request, "usersync_from", None) or {}
    UserSession.objects.update_or_create(session_key=session.session_key,
                                         defaults={"user": user, "iss": came.get("iss", ""), "sid": came.get("sid", "")})
    if not came:
        request.usersync_login = True


@receiver(user_logged_out, dispatch_uid="usersync_session_ended")
def _logged_out(sender: Any, request: Any, user: Any, **kw: Any) -> None:
    """Logout everywhere: the peers end the sessions that came from this one (a ``logout`` with
    its ``sid``: for a session a peer's ticket started, the peer's session it came from), or, with
    ``usersync_everywhere=1`` in the logout's POST, every session of the user here and there."""
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if user is None or not conf.configured():
        return
    everywhere = request is not None and request.method == "POST" and request.POST.get("usersync_everywhere") == "1"
    mine = UserSession.objects.filter(session_key=key).first() if key else None
    if everywhere:
        sid = ""
        applying.end_sessions_of(user)
    else:
        sid = mine.sid if mine is not None and mine.iss and mine.sid else (links.session_id(key) if key else "")
    if key:
        UserSession.objects.filter(session_key=key).delete()
    if not state.applying() and (sid or everywhere):
        outbox.enqueue("logout", user, sid=sid)
