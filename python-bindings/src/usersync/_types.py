"""The shapes of the library's JSON results (docs/protocol.md), for type checkers. At run time
they are plain dicts, exactly as the library answered."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, TypedDict

__all__ = [
    "Outgoing",
    "Ping",
    "Opened",
    "Verdict",
    "PeerInfo",
    "CookieNames",
    "ParsedCookie",
    "Scheme",
]

#: A WordPress cookie scheme, by the name core uses.
Scheme = Literal["auth", "secure_auth", "logged_in"]


class Outgoing(TypedDict):
    """A sealed message to deliver: POST ``message`` to ``url`` for ``peer``."""

    peer: str
    url: str
    message: str


class Ping(Outgoing):
    """A sealed ``ping``: an :class:`Outgoing` with the ``jti`` its pong must name."""

    jti: str


class _OpenedRequired(TypedDict):
    iss: str
    jti: str
    exp: int
    act: str
    data: Dict[str, Any]


class Opened(_OpenedRequired, total=False):
    """An opened action or ticket: ``eid`` for actions, ``dropped`` when the accept policy
    removed roles, meta keys or a password hash. Pass it on unchanged to
    :meth:`usersync.Context.check_target`."""

    eid: str
    dropped: Dict[str, Any]


class _VerdictRequired(TypedDict):
    do: Literal["create", "apply", "skip"]


class Verdict(_VerdictRequired, total=False):
    """The target check's answer, to apply exactly; ``end_sessions`` for an applied logout."""

    end_sessions: List[str]


PeerInfo = TypedDict(
    "PeerInfo",
    {"id": str, "url": str, "origin": str, "send": List[str], "accept": List[str], "login": bool},
)
PeerInfo.__doc__ = """A configured peer, without its secrets (``login``: single sign-on signs
browsers in there)."""


class CookieNames(TypedDict):
    """The site's cookie names (``wordpress_<md5 of siteurl>`` and its kin)."""

    auth: str
    secure_auth: str
    logged_in: str
    test: str


class ParsedCookie(TypedDict):
    """An auth cookie's fields, unchecked; ``verifier`` is the session token's SHA-256 (hex)."""

    login: str
    expiration: int
    token: str
    verifier: str
