"""The shared vectors of tests/vectors/ through the binding: envelopes (text and binary form),
secrets, the clock-independent message refusals and every target-check case."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict

import pytest

import usersync
from conftest import cases, load


def ring(case: Dict[str, Any]) -> usersync.Keyring:
    return usersync.Keyring(case.get("secrets") or [case["secret"]], case.get("max_text_len", 0))


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("case", cases("envelope-generate.json"), ids=lambda c: c["desc"])
def test_generate_vectors_open_to_their_plaintext(case: Dict[str, Any]) -> None:
    # The IV is not injectable (no public API takes one), so sealing cannot be compared byte for
    # byte: each vector must open, in both forms, and a fresh seal must open to the same.
    k = ring(case)
    aad = bytes.fromhex(case["aad_hex"])
    plain = bytes.fromhex(case["plaintext_hex"])
    assert k.open(aad, case["envelope"]) == plain
    assert k.open_binary(aad, b64url_decode(case["envelope"])) == plain
    fresh = k.seal(aad, plain)
    assert len(fresh) == len(case["envelope"])
    assert fresh[:12] == case["envelope"][:12], "same version byte and key id"
    assert k.open(aad, fresh) == plain
    binary = k.seal_binary(aad, plain)
    assert binary[1:9] == bytes.fromhex(case["kid_hex"])
    assert k.open_binary(aad, binary) == plain


@pytest.mark.parametrize("case", cases("envelope-verify.json"), ids=lambda c: c["desc"])
def test_verify_vectors(case: Dict[str, Any]) -> None:
    k = ring(case)
    aad = bytes.fromhex(case["aad_hex"])
    assert k.open(aad, case["envelope"]).hex() == case["plaintext_hex"]
    assert k.open_binary(aad, b64url_decode(case["envelope"])).hex() == case["plaintext_hex"]


def test_invalid_vectors_are_refused_with_their_reason() -> None:
    all_cases = cases("envelope-invalid.json")
    assert len(all_cases) > 40
    reasons = set()
    for case in all_cases:
        with pytest.raises(usersync.EnvelopeError) as e:
            ring(case).open(bytes.fromhex(case["aad_hex"]), case["envelope"])
        assert e.value.reason == case["error"], case["desc"]
        assert e.value.code // 100 == 2
        reasons.add(e.value.reason)
    assert reasons == {"too_large", "malformed_encoding", "malformed_envelope", "unsupported_version", "authentication_failed"}


@pytest.mark.parametrize("case", cases("secret.json"), ids=lambda c: c["desc"])
def test_secret_vectors(case: Dict[str, Any]) -> None:
    if case["error"] is None:
        usersync.secret.check(case["secret"])
        usersync.Keyring(case["secret"])
    else:
        with pytest.raises(usersync.ConfigError) as e:
            usersync.secret.check(case["secret"])
        assert e.value.reason == case["error"]


def test_clock_independent_invalid_message_vectors() -> None:
    # The library reads the real clock: only the refusals decided before the time checks.
    v = load("messages-invalid.json")
    ctx = usersync.Context(v["receiver_config"])
    n = 0
    for case in v["cases"]:
        if not case["before_time_check"]:
            continue
        n += 1
        with pytest.raises((usersync.EnvelopeError, usersync.MessageRefused)) as e:
            if case["typ"] == "ticket":
                ctx.open_ticket(case["envelope"])
            else:
                ctx.open_action(case["envelope"], case["remote_ip"])
        assert e.value.reason == case["error"], case["desc"]
    assert n > 20


def test_every_target_vector() -> None:
    v = load("targets.json")
    ctx = usersync.Context(json.dumps(v["receiver_config"]))  # JSON text works as a config too
    seen = {"verdict": 0, "refused": 0}
    reasons = set()
    for case in v["cases"]:
        desc = case["desc"]
        assert ("expected" in case) != ("error" in case), desc
        try:
            # Facts that are not an object (a string, null, a number) are sent as their JSON: the
            # library itself refuses them.
            verdict = ctx.check_target(case["opened"], case["facts"])
        except usersync.Error as e:
            assert "error" in case, f"{desc}: refused with {e.reason}, expected {case.get('expected')}"
            assert e.reason == case["error"], desc
            # unknown_peer is 301, in the configuration band; every other refusal of the check
            # is a MessageRefused (4xx, 6xx).
            assert isinstance(e, usersync.ConfigError if e.reason == "unknown_peer" else usersync.MessageRefused), desc
            seen["refused"] += 1
            reasons.add(e.reason)
            continue
        assert "expected" in case, f"{desc}: verdict {verdict}, expected {case.get('error')}"
        assert verdict == case["expected"], desc
        seen["verdict"] += 1
    assert sum(seen.values()) == len(v["cases"]) >= 184
    assert seen["verdict"] > 50
    assert reasons == {"data_invalid", "identity_conflict", "protected_account", "unknown_account", "unknown_peer", "wrong_browser"}


def test_every_sync_vector() -> None:
    """The initial sync's rule (docs/protocol.md §18) on the receiver's side: each probe or batch
    answered exactly as the vector says, through :meth:`usersync.Context.sync_answer`."""
    v = load("sync.json")
    ctx = usersync.Context(v["receiver_config"])
    answered = refused = 0
    for case in v["cases"]:
        desc = case["desc"]
        assert ("expected" in case) != ("error" in case), desc
        try:
            out = ctx.sync_answer(case["opened"], case["facts"])
        except usersync.Error as e:
            assert e.reason == case.get("error"), f"{desc}: refused with {e.reason}, expected {case.get('expected')}"
            refused += 1
            continue
        assert out["results"] == case.get("expected"), desc
        assert out["peer"] == case["opened"]["iss"] and out["message"], desc
        answered += 1
    assert answered > 10 and answered + refused == len(v["cases"])
