"""usersync for Python: share users between websites safely.

The binding of libusersync's C ABI through cffi (ABI mode, declared from the library's own
header)::

    import usersync

    context = usersync.Context(config)            # docs/protocol.md §13; keep one per process
    event = {"eid": usersync.secret.uid(), "act": "update", "data": user}
    for m in context.build(event):
        ...                                       # POST m["message"] to m["url"]
    try:
        action = context.open_action(body, remote_addr)
        verdict = context.check_target(action, facts)
    except (usersync.MessageRefused, usersync.EnvelopeError) as e:
        e.reason, e.code, str(e)

The library is loaded on first use (see :func:`load` for where it is looked for).
"""

from __future__ import annotations

from typing import Dict

from . import secret
from ._library import ENV, Library, candidates, get as _get, load
from ._types import CookieNames, Opened, Outgoing, ParsedCookie, PeerInfo, Ping, Scheme, Verdict
from ._version import __version__
from .context import Context
from .errors import ConfigError, EnvelopeError, Error, LibraryUnavailable, MessageRefused, WordPressError, error_class
from .keyring import Keyring
from .wordpress import WordPressSite

__all__ = [
    "__version__",
    "Context",
    "Keyring",
    "WordPressSite",
    "secret",
    "Error",
    "ConfigError",
    "EnvelopeError",
    "MessageRefused",
    "WordPressError",
    "LibraryUnavailable",
    "error_class",
    "Library",
    "load",
    "library",
    "candidates",
    "library_version",
    "result_codes",
    "result_name",
    "result_message",
    "ENV",
    "Outgoing",
    "Ping",
    "Opened",
    "Verdict",
    "PeerInfo",
    "CookieNames",
    "ParsedCookie",
    "Scheme",
]


def library() -> Library:
    """The loaded library (``path``, ``header_path``, ``version``), loading it if needed.

    :raises LibraryUnavailable: when it cannot be loaded.
    """
    return _get()


def library_version() -> str:
    """``usersync_version()`` of the loaded library, e.g. ``"0.1.0"``."""
    return _get().version


def result_codes() -> Dict[str, int]:
    """Every result code of the header's ``usersync_result`` enum, by its C name
    (``USERSYNC_RESULT_AUTHENTICATION_FAILED``: 204, …)."""
    return dict(_get().codes)


def result_name(code: int) -> str:
    """``usersync_result_name()``: e.g. ``"authentication_failed"`` for 204; ``"unknown"``
    for a code the library does not have."""
    return _get().name(code)


def result_message(code: int) -> str:
    """``usersync_result_message()``: the sentence describing a result code."""
    return _get().message(code)
