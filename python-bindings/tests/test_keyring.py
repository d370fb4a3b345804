"""Keyrings: round trips in both forms, rotation, limits, refusals and argument types."""

from __future__ import annotations

import copy
import os
import pickle

import pytest

import usersync


def test_round_trips_at_block_boundaries_and_binary_data() -> None:
    ring = usersync.Keyring(usersync.secret.generate(), 2 << 20)
    for n in (0, 1, 15, 16, 17, 1000, 1 << 20):
        plain = os.urandom(n)
        text = ring.seal(b"aad\0x", plain)
        size = 57 + 16 * (n // 16 + 1)  # docs/protocol.md §4
        assert isinstance(text, str) and len(text) == (4 * size + 2) // 3 == usersync.library().c.usersync_keyring_sealed_len(n)
        assert ring.open(b"aad\0x", text) == plain
        assert ring.open(b"aad\0x", text.encode()) == plain
        binary = ring.seal_binary(b"aad\0x", plain)
        assert len(binary) == 57 + 16 * (n // 16 + 1)
        assert ring.open_binary(b"aad\0x", binary) == plain
        assert ring.open_binary(b"aad\0x", bytearray(binary)) == plain
        assert ring.open_binary(b"aad\0x", memoryview(binary)) == plain


def test_text_is_sealed_as_utf8() -> None:
    ring = usersync.Keyring(usersync.secret.generate())
    assert ring.open("ø", ring.seal("ø", "blåbær")).decode() == "blåbær"
    assert ring.open("ø".encode(), ring.seal("ø", "x")) == b"x"
    with pytest.raises(usersync.EnvelopeError) as e:
        ring.open("o", ring.seal("ø", "x"))
    assert e.value.reason == "authentication_failed"


def test_rotation_and_bad_keyrings() -> None:
    old, new = usersync.secret.generate(), usersync.secret.generate()
    sealed = usersync.Keyring(old).seal("", "m")
    assert usersync.Keyring([new, old]).open("", sealed) == b"m"
    assert usersync.Keyring(f"{new} , {old}").open("", sealed) == b"m"
    with pytest.raises(usersync.EnvelopeError, match="authentication failed"):
        usersync.Keyring(new).open("", sealed)
    for secrets, reason in (
        ([usersync.secret.generate() for _ in range(4)], "too_many_secrets"),
        ([old, old], "duplicate_secret"),
        ("", "no_secrets"),
        ([], "no_secrets"),
        ("usk2_x", "secret_prefix"),
        (f"{old},", "secret_prefix"),  # an empty item
    ):
        with pytest.raises(usersync.ConfigError) as e:
            usersync.Keyring(secrets)
        assert e.value.reason == reason, secrets


def test_size_limits() -> None:
    ring = usersync.Keyring(usersync.secret.generate(), 4096)
    with pytest.raises(usersync.EnvelopeError) as e:
        ring.seal("", b"x" * 4096)
    assert e.value.reason == "too_large"
    with pytest.raises(usersync.EnvelopeError) as e:
        ring.seal_binary("", b"x" * 4096)
    assert e.value.reason == "too_large"
    with pytest.raises(usersync.EnvelopeError) as e:
        ring.open("", "A" * 4097)
    assert e.value.reason == "too_large"
    with pytest.raises(usersync.Error) as general:
        usersync.Keyring(usersync.secret.generate(), -1)
    assert general.value.reason == "invalid_argument"


def test_refusals_of_the_binary_form() -> None:
    ring = usersync.Keyring(usersync.secret.generate())
    good = ring.seal_binary("a", b"payload")
    for bad, reason in ((b"", "malformed_envelope"), (b"\x02" + good[1:], "unsupported_version"),
                        (good[:-1], "malformed_envelope"), (good[:-1] + bytes([good[-1] ^ 1]), "authentication_failed")):
        with pytest.raises(usersync.EnvelopeError) as e:
            ring.open_binary("a", bad)
        assert e.value.reason == reason
    with pytest.raises(TypeError, match="open\\(\\) takes its text"):
        ring.open_binary("a", ring.seal("a", b"x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.seal("a", 42)  # type: ignore[arg-type]


def test_keyrings_are_immutable_handles() -> None:
    ring = usersync.Keyring(usersync.secret.generate())
    assert copy.copy(ring) is ring and copy.deepcopy(ring) is ring
    with pytest.raises(TypeError):
        pickle.dumps(ring)


def test_secrets_nonces_uids_and_binding_hashes() -> None:
    import base64
    import hashlib
    import re

    s = usersync.secret.generate()
    assert re.fullmatch(r"usk1_[A-Za-z0-9_-]{43}", s)
    usersync.secret.check(s)
    assert usersync.secret.generate() != s
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", usersync.secret.nonce(40))
    assert len(usersync.secret.nonce()) == 32 and usersync.secret.nonce() != usersync.secret.nonce()
    for bad in (8, 15, 257, -1, 1 << 70):
        with pytest.raises(usersync.Error) as e:
            usersync.secret.nonce(bad)
        assert e.value.reason == "invalid_argument"
    uid = usersync.secret.uid()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", uid) and uid != usersync.secret.uid()
    value = usersync.secret.nonce(43)
    expected = base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()
    assert usersync.secret.binding_hash(value) == expected == usersync.secret.binding_hash(value.encode())
    for bad_value in ("x" * 15, "x" * 257):
        with pytest.raises(usersync.Error) as e:
            usersync.secret.binding_hash(bad_value)
        assert e.value.reason == "invalid_argument"
