"""Django's groups and privilege flags as the protocol's roles, per peer (deny by default).

Each peer's ``groups`` setting maps WordPress roles to Django groups; a group no mapping names
is never sent to that peer and never changed by it. ``is_superuser`` is the role
``administrator`` and ``is_staff`` the role ``staff``, both privileged (conf.py). Whether a peer
may grant a role is the library's rule: this module asks the target check, as the WordPress
plugin does for its default role, and never decides it here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from django.contrib.auth.models import Group

from . import conf

#: How a group the peer has no mapping for is described to the target check: a name no exact
#: role entry matches, so the account stays out of reach of that peer (only an accept policy of
#: "*" would match it, and such a peer may already grant anything that is not privileged).
UNMAPPED = "django-group:"


def flags(user: Any) -> List[str]:
    out = []
    if user.is_superuser:
        out.append(conf.SUPERUSER_ROLE)
    if user.is_staff:
        out.append(conf.STAFF_ROLE)
    return out


def sent_to(user: Any, peer_id: str) -> List[str]:
    """The roles a user's create/update carries to one peer (its send policy filters them again)."""
    by_group = {group: role for role, group in conf.groups(peer_id).items()}
    names = sorted(user.groups.values_list("name", flat=True)) if user.pk else []
    return flags(user) + [by_group[n] for n in names if n in by_group]


def held(user: Any, peer_id: str) -> List[str]:
    """Every role the account holds now, as the target check must see it for this peer."""
    by_group = {group: role for role, group in conf.groups(peer_id).items()}
    names = sorted(user.groups.values_list("name", flat=True))
    return flags(user) + [by_group.get(n, UNMAPPED + n) for n in names]


def may_grant(opened: Mapping[str, Any], role: str) -> bool:
    """Whether the peer that sent ``opened`` may grant ``role``: the library's verdict on an
    account holding that role alone."""
    facts = {"account": {"uid": str(opened["data"]["uid"]), "roles": [role]}}
    try:
        return conf.context().check_target(opened, facts).get("do") == "apply"
    except Exception:  # protected_account and every other refusal: not granted
        return False


def apply(user: Any, opened: Mapping[str, Any], roles: List[str]) -> None:
    """Sets the peer's roles on the account: each role this peer may grant (mapped groups and
    the two flags) is held exactly when ``roles`` has it; everything else is left alone."""
    peer_id = str(opened["iss"])
    grantable: Dict[str, bool] = {}

    def grants(role: str) -> bool:
        if role not in grantable:
            grantable[role] = may_grant(opened, role)
        return grantable[role]

    changed = False
    for role, attr in ((conf.SUPERUSER_ROLE, "is_superuser"), (conf.STAFF_ROLE, "is_staff")):
        if grants(role) and getattr(user, attr) != (role in roles):
            setattr(user, attr, role in roles)
            changed = True
    if changed:
        user.save(update_fields=["is_superuser", "is_staff"])
    for role, group_name in conf.groups(peer_id).items():
        if not grants(role):
            continue
        if role in roles:
            group, _ = Group.objects.get_or_create(name=group_name)
            user.groups.add(group)
        else:
            user.groups.remove(*Group.objects.filter(name=group_name))
