"""Passwords across frameworks (docs/protocol.md §17). A peer's hash is stored as it arrives: a
Django ``pbkdf2_sha256$`` hash as it is, any other (WordPress 6.8's ``$wp$2y$``, bcrypt
``$2y$``, phpass ``$P$``) behind the prefix ``usersync_wp$``, so that Django's
``identify_hasher()`` hands it to :class:`WordPressPasswordHasher`. That hasher checks it with
the library at the user's next login and, on a match, Django re-hashes the password with the
site's preferred hasher (``must_update``): the password never travels, only hashes do.

Add it at the end of ``PASSWORD_HASHERS`` (it never makes hashes itself)::

    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ...,
        "usersync.django.hashers.WordPressPasswordHasher",
    ]
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.translation import gettext_noop as _

import usersync

PREFIX = "usersync_wp$"
NATIVE = "pbkdf2_sha256$"


def stored_form(pass_hash: str) -> str:
    """How a hash from a peer (already checked by the library as a recognised format) is stored
    in the user's ``password`` column."""
    return pass_hash if pass_hash.startswith(NATIVE) else PREFIX + pass_hash


def wire_form(password: str) -> Optional[str]:
    """The hash a user's ``password`` column can send to peers: Django's PBKDF2 hashes and the
    peers' hashes stored here; ``None`` for anything else (unusable passwords, argon2, …),
    which then does not travel."""
    if password.startswith(NATIVE):
        return password
    if password.startswith(PREFIX):
        return password[len(PREFIX):]
    return None


def is_foreign(password: str) -> bool:
    return password.startswith(PREFIX)


class WordPressPasswordHasher(BasePasswordHasher):
    """Checks the WordPress formats a peer sent, through libusersync; never the preferred
    hasher, so a match always re-hashes the password natively."""

    algorithm = "usersync_wp"

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError("usersync only checks WordPress hashes; put it after Django's hashers")

    def verify(self, password: str, encoded: str) -> bool:
        if not encoded.startswith(PREFIX):
            return False
        try:
            return usersync.secret.verify_password(password, encoded[len(PREFIX):])
        except usersync.Error:
            return False  # a hash the library cannot check (e.g. a work factor over its caps)

    def decode(self, encoded: str) -> Dict[str, Any]:
        return {"algorithm": self.algorithm, "hash": encoded[len(PREFIX):], "salt": None}

    def safe_summary(self, encoded: str) -> Dict[Any, Any]:
        return {_("algorithm"): self.algorithm, _("hash"): mask_hash(encoded[len(PREFIX):])}

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
