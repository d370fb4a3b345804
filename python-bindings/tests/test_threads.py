"""8 threads share one Context and one Keyring, doing round trips concurrently: every result is
the right one (cffi releases the GIL during each call, so the library really runs in parallel)."""

from __future__ import annotations

import threading
from typing import List

import usersync

THREADS = 8
ROUNDS = 300


def test_threads_share_one_context_and_one_keyring() -> None:
    secret = usersync.secret.generate()
    a = usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
        {"id": "b.test", "url": "https://b.test", "secrets": [secret], "send": {"actions": ["create", "update", "login"], "roles": ["subscriber"]}}]})
    b = usersync.Context({"site_id": "b.test", "url": "https://b.test", "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret], "accept": {"actions": ["create", "update", "login"], "roles": ["subscriber"]}}]})
    ring = usersync.Keyring([usersync.secret.generate(), secret])
    start = threading.Barrier(THREADS)
    errors: List[BaseException] = []
    done = [0] * THREADS

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(ROUNDS):
                # Keyring: a plaintext of its own, in both forms, with its own associated data.
                plain = f"thread {n} round {i} ".encode() * (1 + (n * ROUNDS + i) % 40)
                aad = f"aad {n}/{i}"
                assert ring.open(aad, ring.seal(aad, plain)) == plain
                assert ring.open_binary(aad, ring.seal_binary(aad, plain)) == plain
                # Context: an event of its own, opened and checked on the other side.
                uid = usersync.secret.uid()
                login = f"user{n}x{i}"
                event = {"eid": usersync.secret.uid(), "act": "update" if i % 2 else "create",
                         "data": {"uid": uid, "login": login, "email": f"{login}@a.test", "roles": ["subscriber"]}}
                out = a.build(event)
                assert [m["peer"] for m in out] == ["b.test"]
                opened = b.open_action(out[0]["message"], "127.0.0.1")
                assert opened["eid"] == event["eid"] and opened["data"]["login"] == login and opened["data"]["uid"] == uid
                facts = {"account": None} if event["act"] == "create" else {"account": {"uid": uid, "roles": ["subscriber"]}}
                assert b.check_target(opened, facts) == {"do": "create" if event["act"] == "create" else "apply"}
                # A refusal in the middle of it all is still the right one.
                try:
                    b.check_target(opened, {"account": {"uid": uid, "roles": ["administrator"]}})
                except usersync.MessageRefused as e:
                    assert e.reason == "protected_account"
                else:
                    raise AssertionError("a protected account was touched")
                done[n] += 1
        except BaseException as e:  # reported below, with the thread's number
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert done == [ROUNDS] * THREADS
