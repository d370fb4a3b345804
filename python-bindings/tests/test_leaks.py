"""100,000 calls of each kind with bounded growth of the resident set (from /proc/self/statm),
which counts the library's allocations and any cffi buffer or handle not freed."""

from __future__ import annotations

import gc
import os
from typing import Callable

import pytest

import usersync

CALLS = 100_000
# Resident growth allowed over the measured calls. One leaked byte per call would already be
# ~100 kB and the smallest leak worth the name (a 64-byte buffer per call) 6 MB; the allowance
# covers the allocator's and the interpreter's own noise.
LIMIT = 2 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def assert_flat(what: str, call: Callable[[], object]) -> None:
    for _ in range(5_000):  # warm up allocators, caches and the interpreter
        call()
    gc.collect()
    before = rss()
    for _ in range(CALLS):
        call()
    gc.collect()
    grown = rss() - before
    assert grown < LIMIT, f"{what}: resident memory grew by {grown} bytes over {CALLS} calls"


@pytest.fixture(scope="module")
def contexts() -> "tuple[usersync.Context, usersync.Context]":
    secret = usersync.secret.generate()
    a = usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
        {"id": "b.test", "url": "https://b.test", "secrets": [secret], "send": {"actions": ["update", "login"], "roles": ["subscriber"]}}]})
    b = usersync.Context({"site_id": "b.test", "url": "https://b.test", "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret], "accept": {"actions": ["update", "login"], "roles": ["subscriber"]}}]})
    return a, b


def test_seal_and_open() -> None:
    ring = usersync.Keyring(usersync.secret.generate())
    plain = b"x" * 1024
    assert_flat("seal+open", lambda: ring.open("aad", ring.seal("aad", plain)))
    assert_flat("seal_binary+open_binary", lambda: ring.open_binary("aad", ring.seal_binary("aad", plain)))


def test_build_open_action_and_check_target(contexts: "tuple[usersync.Context, usersync.Context]") -> None:
    a, b = contexts
    uid = usersync.secret.uid()
    event = {"eid": usersync.secret.uid(), "act": "update",
             "data": {"uid": uid, "login": "alice", "email": "alice@a.test", "roles": ["subscriber"]}}
    facts = {"account": {"uid": uid, "roles": ["subscriber"], "super_admin": False}}

    def round_trip() -> None:
        opened = b.open_action(a.build(event)[0]["message"], "127.0.0.1")
        assert b.check_target(opened, facts) == {"do": "apply"}

    assert_flat("build+open_action+check_target", round_trip)


def test_failing_calls(contexts: "tuple[usersync.Context, usersync.Context]") -> None:
    a, b = contexts
    ring = usersync.Keyring(usersync.secret.generate())
    text = ring.seal("aad", b"x" * 1024)

    def refused_open() -> None:
        try:
            ring.open("other", text)
        except usersync.EnvelopeError:
            pass
        else:
            raise AssertionError("opened")

    assert_flat("refused open", refused_open)
    uid = usersync.secret.uid()
    opened = b.open_action(a.build({"eid": usersync.secret.uid(), "act": "update",
                                    "data": {"uid": uid, "login": "alice", "email": "alice@a.test"}})[0]["message"], None)
    admin = {"account": {"uid": uid, "roles": ["administrator"]}}

    def refused_target() -> None:
        try:
            b.check_target(opened, admin)
        except usersync.MessageRefused:
            pass
        else:
            raise AssertionError("applied")

    assert_flat("refused check_target", refused_target)

    def refused_config() -> None:
        try:
            usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [{"id": "b.test", "url": "https://b.test", "secrets": ["x"]}]})
        except usersync.ConfigError:
            pass

    assert_flat("refused Context()", refused_config)


def test_handles_are_freed() -> None:
    secret = usersync.secret.generate()
    assert_flat("Keyring() and its release", lambda: usersync.Keyring(secret))
    config = {"site_id": "a.test", "url": "https://a.test", "peers": [{"id": "b.test", "url": "https://b.test", "secrets": [secret]}]}
    assert_flat("Context() and its release", lambda: usersync.Context(config))
