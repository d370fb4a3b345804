"""One link's secrets, for sealing and opening envelopes with associated data."""

from __future__ import annotations

from typing import Any, Sequence, Tuple, Union, cast

from . import _library
from ._library import Bytesish, to_bytes

__all__ = ["Keyring"]


class Keyring:
    """The secrets of one link (1 to 3 ``usk1_…``; the first seals, all open) and a size limit,
    for sealing and opening envelopes with associated data (docs/protocol.md §4). Messages
    between sites use :class:`usersync.Context`, which builds the associated data itself; a
    keyring is for hosts that need the envelope alone.

    Immutable in the library: one keyring may be shared by any number of threads (cffi releases
    the GIL during each call). Its keys are wiped when it is garbage-collected.
    """

    __slots__ = ("_lib", "_c", "_ffi", "_handle", "__weakref__")

    def __init__(self, secrets: Union[str, Sequence[str]], max_text_len: int = 0) -> None:
        """``secrets``: one secret, a comma-separated list, or a sequence of secrets.
        ``max_text_len``: the largest envelope text sealed or opened (0: the library's default,
        1 MiB).

        :raises ConfigError: ``secret_prefix``, ``too_many_secrets``, ``duplicate_secret``, …
        """
        lib = _library.get()
        text = secrets if isinstance(secrets, str) else ",".join(secrets)
        data = to_bytes(text)
        if max_text_len < 0:
            raise lib.error(lib.INVALID_ARGUMENT, "max_text_len is negative")
        handle = lib.ffi.new("usersync_keyring **")
        code = lib.c.usersync_keyring_new(data, len(data), max_text_len, handle)
        if code:
            raise lib.error(code)
        self._lib = lib
        self._c = lib.c
        self._ffi = lib.ffi
        self._handle = lib.ffi.gc(handle[0], lib.c.usersync_keyring_free)

    def seal(self, aad: Bytesish, plaintext: Bytesish) -> str:
        """Seals ``plaintext`` (text is sealed as UTF-8) with associated data ``aad``
        (authenticated, not sent) under the first secret and a fresh IV; returns the envelope
        text (unpadded base64url).

        :raises EnvelopeError: ``too_large`` beyond the keyring's maximum.
        """
        if type(aad) is not bytes:
            aad = to_bytes(aad)
        if type(plaintext) is not bytes:
            plaintext = to_bytes(plaintext)
        c = self._c
        cap = c.usersync_keyring_sealed_len(len(plaintext))
        out = self._lib.new_buffer("char[]", cap or 1)
        length = self._ffi.new("size_t *")
        code = c.usersync_keyring_seal(self._handle, aad, len(aad), plaintext, len(plaintext), out, cap, length)
        if code:
            raise self._lib.error(code)
        return cast(bytes, self._ffi.unpack(out, length[0])).decode("ascii")

    def open(self, aad: Bytesish, text: Bytesish) -> bytes:
        """Opens an envelope text sealed with associated data ``aad`` under any of the
        keyring's secrets; returns the plaintext bytes (``.decode()`` them for text).

        :raises EnvelopeError: ``too_large``, ``malformed_encoding``, ``malformed_envelope``,
            ``unsupported_version``, and ``authentication_failed`` for every failure from the
            key id on.
        """
        if type(aad) is not bytes:
            aad = to_bytes(aad)
        if type(text) is not bytes:
            text = to_bytes(text)
        return self._open(self._c.usersync_keyring_open, self._c.usersync_keyring_opened_max_len, aad, text)

    def seal_binary(self, aad: Bytesish, plaintext: Bytesish) -> bytes:
        """Seals like :meth:`seal` but returns the binary envelope, for hosts that carry bytes.
        The keyring's maximum applies to the text the envelope would make."""
        if type(aad) is not bytes:
            aad = to_bytes(aad)
        if type(plaintext) is not bytes:
            plaintext = to_bytes(plaintext)
        c = self._c
        cap = c.usersync_keyring_sealed_binary_len(len(plaintext))
        out = self._lib.new_buffer("char[]", cap or 1)
        length = self._ffi.new("size_t *")
        code = c.usersync_keyring_seal_binary(
            self._handle, aad, len(aad), plaintext, len(plaintext), out, cap, length
        )
        if code:
            raise self._lib.error(code)
        return cast(bytes, self._ffi.unpack(out, length[0]))

    def open_binary(self, aad: Bytesish, envelope: Union[bytes, bytearray, memoryview]) -> bytes:
        """Opens a binary envelope as :meth:`open` opens the text form."""
        if type(aad) is not bytes:
            aad = to_bytes(aad)
        if type(envelope) is not bytes:
            if isinstance(envelope, str):
                raise TypeError("open_binary() takes the envelope's bytes; open() takes its text")
            envelope = to_bytes(envelope)
        return self._open(
            self._c.usersync_keyring_open_binary, self._c.usersync_keyring_opened_binary_max_len, aad, envelope
        )

    def _open(self, call: Any, max_len: Any, aad: bytes, data: bytes) -> bytes:
        cap = max_len(len(data))
        ffi = self._ffi
        out = self._lib.new_buffer("char[]", cap or 1)
        length = ffi.new("size_t *")
        code = call(self._handle, aad, len(aad), data, len(data), out, cap, length)
        if code:
            raise self._lib.error(code)
        n = length[0]
        try:
            return cast(bytes, ffi.unpack(out, n))
        finally:
            ffi.memmove(out, bytes(n), n)  # the freed buffer keeps no plaintext

    # Immutable: a copy is the same keyring; handles cannot be pickled.
    def __copy__(self) -> "Keyring":
        return self

    def __deepcopy__(self, memo: Any) -> "Keyring":
        return self

    def __reduce__(self) -> Tuple[Any, ...]:
        raise TypeError("a Keyring holds native keys and cannot be pickled")

    def __repr__(self) -> str:
        return "<usersync.Keyring>"
