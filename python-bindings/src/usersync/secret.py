"""Link secrets (``usk1_…``), random nonces, ids (account uids and event ids),
browser-binding hashes and passwords checked against another host's hash."""

from __future__ import annotations

from . import _library
from ._library import Bytesish, to_bytes

__all__ = ["generate", "check", "nonce", "uid", "binding_hash", "verify_password"]

# Nonces the library makes are 16 to 256 characters; anything else is its INVALID_ARGUMENT.
_NONCE_MAX = 256


def generate() -> str:
    """A new link secret (``usk1_`` + 43 characters) from the OS CSPRNG, for both sites of
    one link. Store it in configuration; never log it."""
    lib = _library.get()
    c = lib.c
    return lib.into_buffer(c.usersync_secret_text_len(), c.usersync_secret_generate).decode("ascii")


def check(secret: Bytesish) -> None:
    """Returns when ``secret`` is a valid link secret's text form (no trimming).

    :raises ConfigError: ``secret_prefix``, ``secret_length``, ``secret_encoding`` or
        ``secret_all_zero``.
    """
    lib = _library.get()
    data = to_bytes(secret)
    lib.check(lib.c.usersync_secret_check(data, len(data)))


def nonce(length: int = 32) -> str:
    """A random URL-safe nonce of ``length`` characters (16 to 256), each carrying 6 bits.

    :raises Error: ``invalid_argument`` for another length.
    """
    lib = _library.get()
    if not 0 <= length <= _NONCE_MAX:
        # Out of the library's range, and possibly of size_t: refused as the library would.
        raise lib.error(lib.INVALID_ARGUMENT, f"a nonce has 16 to {_NONCE_MAX} characters, not {length}")
    return lib.into_buffer(length, lib.c.usersync_nonce_new, length).decode("ascii")


def uid() -> str:
    """A new id of 16 random bytes in base64url (22 characters): an account's uid
    (docs/protocol.md §15), minted where the account enters the network, or an event id
    (``eid``), minted once per event and kept for every retry."""
    lib = _library.get()
    c = lib.c
    return lib.into_buffer(c.usersync_uid_len(), c.usersync_uid_new).decode("ascii")


def binding_hash(value: Bytesish) -> str:
    """``bnd`` for a browser-binding cookie value of 16 to 256 bytes (docs/protocol.md §12):
    base64url(SHA-256(value)), 43 characters.

    :raises Error: ``invalid_argument`` for a shorter or longer value.
    """
    lib = _library.get()
    c = lib.c
    data = to_bytes(value)
    return lib.into_buffer(c.usersync_binding_hash_len(), c.usersync_binding_hash, data, len(data)).decode("ascii")


def verify_password(password: Bytesish, hash: Bytesish) -> bool:
    """Whether ``password`` matches a hash another host made (docs/protocol.md §17): WordPress
    6.8's ``$wp$2y$``, bcrypt ``$2y$``/``$2a$``/``$2b$``, phpass ``$P$``/``$H$``, Django's
    ``pbkdf2_sha256$``, answered as the host that made it would. ``False`` when it does not
    match; after a match a host stores a hash of its own (the password never travels).

    :raises MessageRefused: ``pass_hash_format`` for a hash the library cannot check (argon2,
        another format, a work factor over its limits).
    """
    lib = _library.get()
    c = lib.c
    p = to_bytes(password)
    h = to_bytes(hash)
    code = c.usersync_password_verify(p, len(p), h, len(h))
    if code == c.USERSYNC_RESULT_PASSWORD_MISMATCH:
        return False
    lib.check(code)
    return True
