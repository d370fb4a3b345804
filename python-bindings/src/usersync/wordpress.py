"""WordPress auth cookies, session tokens and nonces, byte-identical to core's
(docs/wordpress-cookies.md)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union, cast

from . import _library
from ._library import Bytesish, to_bytes, to_json
from ._types import CookieNames, ParsedCookie, Scheme

__all__ = ["WordPressSite"]


class WordPressSite:
    """One WordPress site's keys and salts, site URL and version: its auth cookies, session
    tokens and nonces, exactly as core makes and checks them.

    Immutable in the library: share one across threads. Its salts are wiped when it is
    garbage-collected.
    """

    __slots__ = ("_lib", "_c", "_handle", "_schemes", "__weakref__")

    def __init__(self, config: Union[Mapping[str, Any], str, bytes]) -> None:
        """``config``: ``{"salts": {the eight wp-config keys and salts}, "siteurl": …,
        "wp_version": …, "nonce_life"?: seconds}``, as a mapping or JSON text.

        :raises ConfigError: ``config_invalid``, naming the faulty field (never its value).
        """
        lib = _library.get()
        data = to_bytes(config) if isinstance(config, (str, bytes)) else to_json(config)
        self._lib = lib
        self._c = lib.c
        self._handle = lib.construct("usersync_wp", lib.c.usersync_wp_new, lib.c.usersync_wp_free, data, len(data))
        # The header's usersync_wp_scheme: USERSYNC_WP_SCHEME_SECURE_AUTH -> "secure_auth".
        prefix = "USERSYNC_WP_SCHEME_"
        self._schemes: Dict[str, int] = {
            name[len(prefix):].lower(): value for name, value in lib.ffi.typeof("usersync_wp_scheme").relements.items()
        }

    def _scheme(self, scheme: Scheme) -> int:
        code = self._schemes.get(scheme)
        if code is None:
            raise ValueError(f"unknown cookie scheme {scheme!r} ({', '.join(sorted(self._schemes))})")
        return code

    def cookie_names(self) -> CookieNames:
        """``{"auth": "wordpress_<md5 of siteurl>", "secure_auth": …, "logged_in": …,
        "test": "wordpress_test_cookie"}``"""
        return cast(CookieNames, self._lib.allocated_json(self._c.usersync_wp_cookie_names, self._handle))

    def generate_cookie(self, scheme: Scheme, login: str, pass_hash: str, expiration: int, token: str) -> str:
        """The cookie value core would set (``login|expiration|token|hmac``) for the user's
        login and password hash (``user_pass``), an expiration (unix seconds) and a session
        token (:meth:`session_token`; store its :meth:`session_verifier` in the user's
        session_tokens as core does).

        :raises Error: ``invalid_argument`` for an empty login or token, a ``|`` in either, or
            a negative expiration.
        """
        lo, ph, tok = to_bytes(login), to_bytes(pass_hash), to_bytes(token)
        out = self._lib.allocated(
            self._c.usersync_wp_cookie_generate,
            self._handle, self._scheme(scheme), lo, len(lo), ph, len(ph), expiration, tok, len(tok),
        )
        return out.decode("utf-8")

    def parse_cookie(self, cookie: Bytesish) -> ParsedCookie:
        """``{"login", "expiration", "token", "verifier"}`` of a cookie value, unchecked, so
        that the host can look its user up.

        :raises WordPressError: ``wp_cookie_malformed``.
        """
        data = to_bytes(cookie)
        return cast(ParsedCookie, self._lib.allocated_json(self._c.usersync_wp_cookie_parse, data, len(data)))

    def validate_cookie(self, scheme: Scheme, cookie: Bytesish, pass_hash: str, grace: bool = False) -> None:
        """Checks a cookie as ``wp_validate_auth_cookie()`` does, with the password hash of
        the user its login names (``grace``: a POST or Ajax request, which core gives an hour
        past the expiration). Returns when valid; the host then checks the token's verifier
        against the user's session_tokens, as core does.

        :raises WordPressError: ``wp_cookie_malformed``, ``wp_cookie_expired``,
            ``wp_cookie_invalid``.
        """
        data, ph = to_bytes(cookie), to_bytes(pass_hash)
        self._lib.check(
            self._c.usersync_wp_cookie_validate(self._handle, self._scheme(scheme), data, len(data), ph, len(ph), bool(grace))
        )

    def session_token(self) -> str:
        """A new session token: 43 letters and digits from the OS CSPRNG, like core's."""
        c = self._c
        return self._lib.into_buffer(c.usersync_wp_session_token_len(), c.usersync_wp_session_token_new).decode("ascii")

    def session_verifier(self, token: str) -> str:
        """The verifier core keys session_tokens by: the token's SHA-256 in hex."""
        c = self._c
        data = to_bytes(token)
        return self._lib.into_buffer(
            c.usersync_wp_session_token_verifier_len(), c.usersync_wp_session_token_verifier, data, len(data)
        ).decode("ascii")

    def create_nonce(self, action: str, uid: int, token: str) -> str:
        """``wp_create_nonce()`` for ``action``, user id ``uid`` (0 when logged out) and the
        session token of the user's logged-in cookie (``""`` when none)."""
        c = self._c
        a, tok = to_bytes(action), to_bytes(token)
        return self._lib.into_buffer(
            c.usersync_wp_nonce_len(), c.usersync_wp_nonce_create, self._handle, a, len(a), uid, tok, len(tok)
        ).decode("ascii")

    def verify_nonce(self, nonce: str, action: str, uid: int, token: str) -> int:
        """``wp_verify_nonce()``: 1 (made in the current half of the nonce life) or 2 (the
        half before).

        :raises WordPressError: ``wp_nonce_invalid``, as :meth:`validate_cookie` raises for a
            bad cookie.
        """
        lib = self._lib
        n, a, tok = to_bytes(nonce), to_bytes(action), to_bytes(token)
        age = lib.ffi.new("uint32_t *")
        lib.check(self._c.usersync_wp_nonce_verify(self._handle, n, len(n), a, len(a), uid, tok, len(tok), age))
        return int(age[0])

    # Immutable: a copy is the same site; handles cannot be pickled.
    def __copy__(self) -> "WordPressSite":
        return self

    def __deepcopy__(self, memo: Any) -> "WordPressSite":
        return self

    def __reduce__(self) -> Tuple[Any, ...]:
        raise TypeError("a WordPressSite holds native salts and cannot be pickled")

    def __repr__(self) -> str:
        return "<usersync.WordPressSite>"
