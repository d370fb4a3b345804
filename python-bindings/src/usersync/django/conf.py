"""The site's usersync configuration, from ``settings.USERSYNC`` and the environment, turned into
the library's configuration (docs/protocol.md §13) and one context per process.

Secrets are configuration, never data: they come from settings (read there from the
environment, as Django settings usually do) or, when a peer's ``secrets`` is left out, from the
environment variable ``USERSYNC_SECRETS_<PEER>`` (the peer id upper-cased, other characters as
``_``; comma-separated for rotation). They are never stored in the database, shown in the admin
or logged. ::

    USERSYNC = {
        "SITE_ID": "members.example.com",
        "URL": "https://members.example.com",
        "PEERS": [{
            "id": "blog.example.com", "url": "https://blog.example.com",
            "send": {"actions": ["create", "update", "delete", "password", "login"], "roles": ["subscriber"]},
            "accept": {"actions": ["create", "update", "delete", "password"], "roles": ["subscriber"]},
            "groups": {"subscriber": "Members"},   # WordPress role -> Django group, for this peer
            "deliver_to": "http://10.0.0.5",       # optional: where server-to-server posts go
            "inbox": "/usersync/inbox",            # optional: the peer's inbox path (default WordPress's)
        }],
        # optional: "PRIVILEGED_ROLES", "CLOCK_SKEW", "TRUSTED_PROXIES", "HTTP_TIMEOUT" (10 s),
        # "RETRY_BASE" (30 s), "OUTBOX_TTL" (3 days), "FIELDS" (protocol field -> user attribute)
    }

Django's own privileges are roles of the protocol: ``is_superuser`` is ``administrator`` and
``is_staff`` is ``staff``, both always privileged — a peer touches such an account, or grants
them, only when its accept policy names them exactly with ``allow_privileged``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from typing import Any, Dict, List, Optional

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

import usersync

#: The protocol's names for Django's two privilege flags.
SUPERUSER_ROLE = "administrator"
STAFF_ROLE = "staff"
#: Peer settings this app uses itself; they are not part of the library's configuration.
APP_PEER_KEYS = ("groups", "deliver_to", "inbox")
#: Protocol profile fields (docs/protocol.md §9) -> attributes of the user model, by default.
DEFAULT_FIELDS = {"first_name": "first_name", "last_name": "last_name"}

_lock = threading.Lock()
_context: Optional[usersync.Context] = None
_context_for: Optional[bytes] = None


def raw() -> Dict[str, Any]:
    value = getattr(settings, "USERSYNC", None) or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured("USERSYNC must be a dict")
    return value


def configured() -> bool:
    return bool(raw().get("SITE_ID"))


def site_id() -> str:
    return str(raw().get("SITE_ID", ""))


def env_name(peer_id: str) -> str:
    return "USERSYNC_SECRETS_" + re.sub(r"[^A-Z0-9]", "_", peer_id.upper())


def peers() -> List[Dict[str, Any]]:
    """The peers as configured, each with its secrets (from the environment when left out)."""
    out = []
    for peer in raw().get("PEERS", []):
        peer = dict(peer)
        if "secrets" not in peer:
            value = os.environ.get(env_name(str(peer.get("id", ""))), "")
            peer["secrets"] = [s.strip() for s in value.split(",") if s.strip()]
        out.append(peer)
    return out


def peer(peer_id: str) -> Optional[Dict[str, Any]]:
    for p in peers():
        if p.get("id") == peer_id:
            return p
    return None


def groups(peer_id: str) -> Dict[str, str]:
    """WordPress role -> Django group name for one peer; roles not named are not synced."""
    p = peer(peer_id)
    return dict(p.get("groups", {})) if p else {}


def fields() -> Dict[str, str]:
    return dict(raw().get("FIELDS", DEFAULT_FIELDS))


def setting(name: str, default: int) -> int:
    return int(raw().get(name, default))


def library_config() -> Dict[str, Any]:
    conf = raw()
    privileged = [SUPERUSER_ROLE, STAFF_ROLE]
    for role in conf.get("PRIVILEGED_ROLES", []):
        if role not in privileged:
            privileged.append(role)
    out: Dict[str, Any] = {
        "site_id": site_id(),
        "url": str(conf.get("URL", "")).rstrip("/"),
        "privileged_roles": privileged,
        "peers": [{k: v for k, v in p.items() if k not in APP_PEER_KEYS} for p in peers()],
    }
    if "CLOCK_SKEW" in conf:
        out["clock_skew"] = int(conf["CLOCK_SKEW"])
    if "TRUSTED_PROXIES" in conf:
        out["trusted_proxies"] = list(conf["TRUSTED_PROXIES"])
    return out


def context() -> usersync.Context:
    """The process's context, made once (again only when the configuration changes, as tests'
    override_settings and the environment can make it).

    :raises usersync.ConfigError: naming the faulty field (never a secret).
    """
    global _context, _context_for
    config = json.dumps(library_config(), sort_keys=True).encode()
    key = hashlib.sha256(config).digest()
    with _lock:
        if _context is None or _context_for != key:
            _context = usersync.Context(config)
            _context_for = key
        return _context


def inbox_url(p: Dict[str, Any]) -> str:
    """A peer's inbox: under its ``deliver_to`` or ``url``, at its ``inbox`` path (default the
    WordPress plugin's REST route; ``/usersync/inbox`` for a Django peer)."""
    base = str(p.get("deliver_to") or p["url"]).rstrip("/")
    return base + str(p.get("inbox", "/?rest_route=/usersync/v1/inbox"))
