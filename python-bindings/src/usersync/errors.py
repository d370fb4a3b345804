"""The exceptions of the binding: one per area of the library's result codes.

Every refusal of the library is raised as an :class:`Error` carrying the stable number
(``code``), its snake_case name (``reason``, as in the test vectors, from
``usersync_result_name()``) and a sentence (``message``, from ``usersync_result_message()``,
plus the detail naming the field for a configuration refusal). Catch the subclass of the area
you handle.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple, Type

__all__ = [
    "Error",
    "ConfigError",
    "EnvelopeError",
    "MessageRefused",
    "WordPressError",
    "LibraryUnavailable",
    "error_class",
]


class Error(Exception):
    """A usersync call failed: ``code`` (the library's number), ``reason`` (its name) and
    ``message`` (what it means, what to change)."""

    code: int
    reason: str
    message: str

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.code, self.reason, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


class ConfigError(Error):
    """A link secret or a configuration was refused (codes 1xx and 3xx, ``unknown_peer``
    included); for a configuration the message names the faulty field, never a secret."""


class EnvelopeError(Error):
    """An envelope was refused (codes 2xx): too large, malformed, another version, or
    ``authentication_failed`` (deliberately one answer for every key, tag or padding failure)."""


class MessageRefused(Error):
    """A message was refused by the protocol or the peer's policy (4xx), or for the account it
    names by the target check (6xx)."""


class WordPressError(Error):
    """A WordPress auth cookie or nonce was refused (codes 5xx)."""


class LibraryUnavailable(Error):
    """libusersync could not be loaded (missing, unloadable, or another version); the message
    says what to change and names every path tried. Code 0, reason ``library_unavailable``."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "library_unavailable", message)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message,))


_BY_HUNDREDS: Dict[int, Type[Error]] = {
    1: ConfigError,
    2: EnvelopeError,
    3: ConfigError,
    4: MessageRefused,
    5: WordPressError,
    6: MessageRefused,
}


def error_class(code: int) -> Type[Error]:
    """The exception class for a result code (:class:`Error` itself for the general codes
    1–5: null or invalid argument, buffer too small, panic, no random numbers)."""
    return _BY_HUNDREDS.get(code // 100, Error)
