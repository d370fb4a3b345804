"""Messages between sites through the binding: round trips, every refusal path, tickets, the
target check, return URLs and the link health check."""

from __future__ import annotations

import copy
import json
import pickle
import time
from typing import Any, Callable, Dict, Tuple

import pytest

import usersync
from conftest import ALL_ACTIONS

BCRYPT = "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"
UID = "AAECAwQFBgcICQoLDA0ODw"  # the account every message names (docs/protocol.md §9)
Pair = Tuple[usersync.Context, usersync.Context]


def to_b(a: usersync.Context, event: Dict[str, Any]) -> str:
    out = a.build(event, "b.test")
    assert len(out) == 1 and out[0]["peer"] == "b.test" and out[0]["url"] == "https://b.test/"
    return out[0]["message"]


def forge(secret: str, act: str, data: Dict[str, Any], iat_offset: int = 0, life: int = 60, **extra: Any) -> str:
    """Seals claims on the a→b link as a compromised peer could, with the real clock."""
    now = int(time.time())
    claims = {"v": 1, "typ": "action", "iss": "a.test", "aud": "b.test", "iat": now + iat_offset,
              "exp": now + iat_offset + life, "jti": "AAAAAAAAAAAAAAAAAAAAAA", "eid": "ZXZlbnQtaWQtMDAwMDAwMQ",
              "act": act, "data": data, **extra}
    return usersync.Keyring(secret).seal("usersync/v1|action|a.test|b.test", json.dumps(claims))


def refused(reason: str, f: Callable[[], Any]) -> usersync.Error:
    with pytest.raises((usersync.MessageRefused, usersync.EnvelopeError)) as e:
        f()
    assert e.value.reason == reason
    return e.value


def test_create_round_trip_with_policy_and_replay_key(pair: Pair) -> None:
    a, b = pair
    event = {"eid": usersync.secret.uid(), "act": "create", "data": {
        "uid": UID, "login": "alice", "email": "alice@a.test", "fields": {"display_name": "Alice Ø. Example"},
        "roles": ["subscriber", "shop_manager"], "meta": {"billing_city": ["Oslo"], "wp_capabilities": ["x"]},
        "pass_hash": BCRYPT}}
    assert a.route(event) == ["b.test"]
    msg = to_b(a, event)
    o = b.open_action(msg, "127.0.0.1")
    assert (o["iss"], o["act"], o["eid"]) == ("a.test", "create", event["eid"])
    assert o["data"]["uid"] == UID
    assert o["data"]["fields"] == {"display_name": "Alice Ø. Example"}
    assert o["data"]["roles"] == ["subscriber"]
    assert "dropped" not in o, "the send policy removed them: nothing left for b to drop"
    assert o["data"]["meta"] == {"billing_city": ["Oslo"]}
    assert o["data"]["pass_hash"] == BCRYPT
    assert o["exp"] > time.time()
    assert b.check_target(o, {"account": None}) == {"do": "create"}
    # A host-side replay store keyed by (iss, eid): the second copy is a duplicate.
    seen = set()
    outcomes = []
    for m in (msg, msg.encode()):
        r = b.open_action(m, "127.0.0.1")
        key = (r["iss"], r["eid"])
        outcomes.append("duplicate" if key in seen else "applied")
        seen.add(key)
    assert outcomes == ["applied", "duplicate"]


def test_peers_and_routes(pair: Pair) -> None:
    a, b = pair
    assert a.peers() == [{"id": "b.test", "url": "https://b.test/", "origin": "https://b.test", "send": ALL_ACTIONS,
                          "accept": [], "login": True}]
    peers = b.peers()
    assert [p["id"] for p in peers] == ["a.test"] and peers[0]["send"] == [] and "secrets" not in peers[0]
    assert b.route({"eid": usersync.secret.uid(), "act": "update", "data": {"uid": UID, "login": "x", "email": "x@b.test"}}) == []
    assert b.build({"eid": usersync.secret.uid(), "act": "update", "data": {"uid": UID, "login": "x", "email": "x@b.test"}}) == []
    with pytest.raises(usersync.ConfigError) as e:
        a.build({"eid": usersync.secret.uid(), "act": "update", "data": {"uid": UID, "login": "x", "email": "x@a.test"}}, "c.test")
    assert e.value.reason == "unknown_peer"
    with pytest.raises(usersync.ConfigError) as e:
        a.build({"eid": usersync.secret.uid(), "act": "update", "data": {"uid": UID, "login": "x", "email": "x@a.test"}}, "")
    assert e.value.reason == "unknown_peer", "an empty peer id is not 'every peer'"


def test_refusals(pair: Pair, secret: str) -> None:
    a, b = pair
    good = to_b(a, {"eid": usersync.secret.uid(), "act": "logout", "data": {"uid": UID, "login": "bob"}})
    tampered = good[:40] + ("B" if good[40] == "A" else "A") + good[41:]
    refused("authentication_failed", lambda: b.open_action(tampered, "127.0.0.1"))
    refused("ip_not_allowed", lambda: b.open_action(good, "192.0.2.1"))
    refused("ip_not_allowed", lambda: b.open_action(good, None))
    refused("too_large", lambda: b.open_action("A" * ((1 << 20) + 1), "127.0.0.1"))
    refused("malformed_encoding", lambda: b.open_action(good + "\n", "127.0.0.1"))
    refused("malformed_encoding", lambda: b.open_action("é" + good[2:], "127.0.0.1"))
    logout = {"uid": UID, "login": "b"}
    refused("expired", lambda: b.open_action(forge(secret, "logout", logout, -1000), "127.0.0.1"))
    refused("not_yet_valid", lambda: b.open_action(forge(secret, "logout", logout, 3600), "127.0.0.1"))
    refused("lifetime_too_long", lambda: b.open_action(forge(secret, "logout", logout, 0, 301), "127.0.0.1"))
    refused("action_not_accepted", lambda: b.open_action(forge(secret, "delete", logout), "127.0.0.1"))
    refused("privileged_role", lambda: b.open_action(
        forge(secret, "update", {"uid": UID, "login": "b", "email": "b@a.test", "roles": ["administrator"]}), "127.0.0.1"))
    for key in ("wp_capabilities", "wp_user_level", "session_tokens", "usersync_sid"):
        refused("protected_meta", lambda: b.open_action(
            forge(secret, "meta", {"uid": UID, "login": "b", "set": {key: ["1"]}}), "127.0.0.1"))
    refused("pass_hash_format", lambda: b.open_action(
        forge(secret, "password", {"uid": UID, "login": "b", "pass_hash": "hunter2"}), "127.0.0.1"))
    refused("unknown_field", lambda: b.open_action(
        forge(secret, "update", {"uid": UID, "login": "b", "email": "b@a.test", "is_admin": True}), "127.0.0.1"))
    refused("claims_invalid", lambda: b.open_action(forge(secret, "logout", logout, admin=True), "127.0.0.1"))
    refused("unknown_action", lambda: b.open_action(forge(secret, "login", logout), "127.0.0.1"))
    refused("pass_hash_format", lambda: a.build(
        {"eid": usersync.secret.uid(), "act": "password", "data": {"uid": UID, "login": "b", "pass_hash": "plain"}}))
    refused("pass_hash_format", lambda: a.route(
        {"eid": usersync.secret.uid(), "act": "password", "data": {"uid": UID, "login": "b", "pass_hash": "plain"}}))
    # A message for a.test opened by a.test itself: sealed for another direction.
    refused("authentication_failed", lambda: a.open_action(good, "127.0.0.1"))
    # An action is not a ticket.
    with pytest.raises((usersync.EnvelopeError, usersync.MessageRefused)):
        b.open_ticket(good)


def test_tickets(pair: Pair) -> None:
    a, b = pair
    bnd = usersync.secret.binding_hash("v" * 43)
    t = a.mint_ticket({"peer": "b.test", "uid": UID, "login": "lee", "remember": True, "bnd": bnd, "return": "https://a.test/x"})
    assert t["peer"] == "b.test"
    o = b.open_ticket(t["message"])
    assert o["act"] == "login" and "eid" not in o
    assert o["data"] == {"bnd": bnd, "login": "lee", "remember": True, "return": "https://a.test/x", "uid": UID}
    for bad in ("//evil.test", "https://a.test.evil.test/", "javascript:alert(1)", "http://a.test/"):
        refused("return_url_refused", lambda: a.mint_ticket(
            {"peer": "b.test", "uid": UID, "login": "lee", "remember": False, "bnd": bnd, "return": bad}))
    refused("authentication_failed", lambda: a.open_ticket(t["message"]))


def test_configuration_errors_name_the_field() -> None:
    with pytest.raises(usersync.ConfigError) as e:
        usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
            {"id": "b.test", "url": "https://b.test", "secrets": ["nope"]}]})
    assert str(e.value) == 'invalid usersync configuration: peers[0].secrets[0]: a link secret must start with "usk1_"'
    s = usersync.secret.generate()
    with pytest.raises(usersync.ConfigError) as e:
        usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
            {"id": "b.test", "url": "https://b.test", "secrets": [s]}, {"id": "c.test", "url": "https://c.test", "secrets": [s]}]})
    assert "peers[1].secrets: a secret is also used for peer" in str(e.value) and s not in str(e.value)
    with pytest.raises(TypeError):
        usersync.Context({"site_id": object()})
    with pytest.raises(ValueError):
        usersync.Context({"site_id": "a.test", "clock_skew": float("nan")})


def test_ping_and_pong(pair: Pair) -> None:
    a, b = pair
    ping = a.ping("b.test")
    assert ping["peer"] == "b.test"
    opened = b.open_action(ping["message"], "127.0.0.1")
    assert opened["act"] == "ping"
    pong = b.pong(opened)
    answer = a.open_action(pong["message"], None)
    assert answer["act"] == "pong"
    assert answer["data"]["ping"] == opened["jti"]
    assert abs(answer["data"]["time"] - time.time()) < 5
    assert answer["data"]["version"] == usersync.library_version()
    refused("data_invalid", lambda: b.pong(answer))
    # The pinging side: the pong checked against its own ping, from the answering address.
    assert ping["jti"] == opened["jti"]
    report = a.check_pong(ping, pong["message"], "127.0.0.1")
    assert report["peer"] == "b.test" and report["version"] == usersync.library_version()
    assert abs(report["time"] - report["local_time"]) < 5
    assert report["not_accepted"] == ["delete"]  # a sends b everything; b refuses delete
    other = a.ping("b.test")
    refused("data_invalid", lambda: a.check_pong(other, pong["message"], "127.0.0.1"))
    tampered = pong["message"][:-2] + ("AA" if pong["message"][-2:] != "AA" else "BA")
    refused("authentication_failed", lambda: a.check_pong(ping, tampered, None))
    for unknown in ("c.test", ""):
        with pytest.raises(usersync.ConfigError) as e:
            a.ping(unknown)
        assert e.value.reason == "unknown_peer"


def test_contexts_are_immutable_handles(pair: Pair) -> None:
    a, _ = pair
    assert copy.copy(a) is a and copy.deepcopy(a) is a
    with pytest.raises(TypeError):
        pickle.dumps(a)


# ---- the target check through the binding (docs/protocol.md §15), on real messages -------------


@pytest.fixture()
def grants(secret: str) -> Pair:
    """b accepts every action from a and grants only subscriber and editor, so that an ordinary
    role (shop_manager) is one it may not grant."""
    a = usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
        {"id": "b.test", "url": "https://b.test", "secrets": [secret],
         "send": {"actions": ALL_ACTIONS, "roles": ["subscriber", "editor", "administrator"], "meta": ["billing_*"]}}]})
    b = usersync.Context({"site_id": "b.test", "url": "https://b.test", "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret],
         "accept": {"actions": ALL_ACTIONS, "roles": ["subscriber", "editor"], "meta": ["billing_*"]},
         "ip_allow": ["127.0.0.0/8"]}]})
    return a, b


def on_b(pair: Pair, event: Dict[str, Any]) -> usersync.Opened:
    a, b = pair
    return b.open_action(to_b(a, event), "127.0.0.1")


def account(uid: str, roles: Any, super_admin: bool = False, **extra: Any) -> Dict[str, Any]:
    return {"account": {"uid": uid, "roles": roles, "super_admin": super_admin}, **extra}


def test_protected_accounts(grants: Pair) -> None:
    _, b = grants
    uid = usersync.secret.uid()
    o = on_b(grants, {"eid": usersync.secret.uid(), "act": "update",
                      "data": {"uid": uid, "login": "alice", "email": "alice@a.test", "roles": ["subscriber"]}})
    assert b.check_target(o, account(uid, ["subscriber"])) == {"do": "apply"}
    assert b.check_target(o, account(uid, ["subscriber", "editor"])) == {"do": "apply"}
    assert b.check_target(o, account(uid, [])) == {"do": "apply"}, "no role: not protected"
    for roles, sa in ((["administrator"], False), ([], True), (["subscriber"], True), (["subscriber", "shop_manager"], False),
                      (["editor", "administrator"], False)):
        e = refused("protected_account", lambda: b.check_target(o, account(uid, roles, sa)))
        assert isinstance(e, usersync.MessageRefused) and e.code == 601
    refused("identity_conflict", lambda: b.check_target(o, account(usersync.secret.uid(), ["subscriber"])))
    refused("unknown_account", lambda: b.check_target(o, {"account": None}))
    p = on_b(grants, {"eid": usersync.secret.uid(), "act": "password",
                      "data": {"uid": uid, "login": "alice", "pass_hash": "$2y$10$" + "a" * 53}})
    refused("protected_account", lambda: b.check_target(p, account(uid, ["administrator"])))
    assert b.check_target(p, account(uid, ["subscriber"])) == {"do": "apply"}


def test_create_delete_and_logout_verdicts(grants: Pair) -> None:
    _, b = grants
    uid = usersync.secret.uid()
    create = on_b(grants, {"eid": usersync.secret.uid(), "act": "create",
                           "data": {"uid": uid, "login": "carol", "email": "carol@a.test", "roles": ["subscriber"]}})
    assert b.check_target(create, {"account": None}) == {"do": "create"}
    assert b.check_target(create, {"account": None, "login_taken": False, "email_taken": False}) == {"do": "create"}
    refused("identity_conflict", lambda: b.check_target(create, {"account": None, "login_taken": True}))
    refused("identity_conflict", lambda: b.check_target(create, {"account": None, "email_taken": True}))
    assert b.check_target(create, account(uid, ["subscriber"], login_taken=True, email_taken=True)) == {"do": "apply"}

    delete = on_b(grants, {"eid": usersync.secret.uid(), "act": "delete", "data": {"uid": usersync.secret.uid(), "login": "nobody"}})
    assert b.check_target(delete, {"account": None}) == {"do": "skip"}

    logout = on_b(grants, {"eid": usersync.secret.uid(), "act": "logout", "data": {"uid": uid, "login": "carol", "sid": "a-session"}})
    assert b.check_target(logout, {"account": None}) == {"do": "skip"}
    sessions = [{"id": "local"}, {"id": "from-a", "iss": "a.test", "sid": "a-session"},
                {"id": "from-a-other", "iss": "a.test", "sid": "other"}, {"id": "a-session", "peers": ["a.test"]}]
    with_sessions = {"account": {"uid": uid, "roles": ["subscriber"], "super_admin": False, "sessions": sessions}}
    assert b.check_target(logout, with_sessions) == {"do": "apply", "end_sessions": ["from-a", "a-session"]}
    everything = on_b(grants, {"eid": usersync.secret.uid(), "act": "logout", "data": {"uid": uid, "login": "carol"}})
    assert b.check_target(everything, with_sessions) == {"do": "apply", "end_sessions": ["local", "from-a", "from-a-other", "a-session"]}
    admin = {"account": {**with_sessions["account"], "roles": ["administrator"]}}
    refused("protected_account", lambda: b.check_target(everything, admin))


def test_tickets_are_bound_to_their_browser(grants: Pair) -> None:
    a, b = grants
    uid = usersync.secret.uid()
    value = usersync.secret.nonce(43)  # the binding cookie b set in this browser
    bnd = usersync.secret.binding_hash(value)
    t = a.mint_ticket({"peer": "b.test", "uid": uid, "login": "lee", "remember": False, "bnd": bnd, "return": "https://b.test/account"})
    o = b.open_ticket(t["message"])
    assert o["act"] == "login" and o["data"]["bnd"] == bnd
    assert b.check_target(o, account(uid, ["subscriber"], binding=value)) == {"do": "apply"}
    for facts in (account(uid, ["subscriber"], binding=usersync.secret.nonce(43)), account(uid, ["subscriber"], binding=None),
                  account(uid, ["subscriber"]), account(uid, ["subscriber"], binding=bnd),
                  account(uid, ["subscriber"], binding=value + "\n"), {"account": None, "binding": None}):
        refused("wrong_browser", lambda: b.check_target(o, facts))
    refused("unknown_account", lambda: b.check_target(o, {"account": None, "binding": value}))
    refused("protected_account", lambda: b.check_target(o, account(uid, ["administrator"], binding=value)))


def test_uid_and_bnd_are_required(grants: Pair) -> None:
    a, _ = grants
    uid = usersync.secret.uid()
    bnd = usersync.secret.binding_hash(usersync.secret.nonce(43))
    eid = usersync.secret.uid()
    refused("data_invalid", lambda: a.build({"eid": eid, "act": "update", "data": {"login": "alice", "email": "alice@a.test"}}))
    refused("data_invalid", lambda: a.build({"eid": eid, "act": "update", "data": {"uid": "alice", "login": "alice", "email": "alice@a.test"}}))
    refused("data_invalid", lambda: a.build({"eid": eid, "act": "logout", "data": {"uid": uid[:21] + "=", "login": "alice"}}))
    refused("data_invalid", lambda: a.mint_ticket({"peer": "b.test", "uid": uid, "login": "lee", "remember": True}))
    refused("data_invalid", lambda: a.mint_ticket({"peer": "b.test", "login": "lee", "remember": True, "bnd": bnd}))
    refused("data_invalid", lambda: a.mint_ticket({"peer": "b.test", "uid": uid, "login": "lee", "remember": True, "bnd": bnd[:42]}))
    assert len(a.build({"eid": eid, "act": "update", "data": {"uid": uid, "login": "alice", "email": "alice@a.test"}})) == 1


def test_return_urls(grants: Pair) -> None:
    a, b = grants
    assert a.check_return("HTTPS://A.Test:443/p/../q?x=1#f") == "https://a.test/q?x=1#f"
    assert a.check_return("https://a.test") == "https://a.test/"
    assert a.check_return("https://B.TEST") == "https://b.test/", "a peer"
    assert a.check_return("https://b.test/wp-admin/profile.php") == "https://b.test/wp-admin/profile.php"
    assert b.check_return("https://a.test/account") == "https://a.test/account", "the other side"
    for bad in ("//evil.test", "javascript:alert(1)", "https://a.test.evil.test/", "https://a.test@evil.test/", "http://a.test/",
                "https://a.test:8443/", "/relative", "data:text/html,x", "https://a.test/ x", "https://a.test\\@evil.test/",
                "https://a.test/\nx", "https://c.test/", ""):
        refused("return_url_refused", lambda: a.check_return(bad))


def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(secret: str) -> None:
    ctx = usersync.Context({"site_id": "d.test", "url": "https://d.test", "trusted_proxies": ["127.0.0.1/32"], "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret]}]})
    # From the proxy: the rightmost address it did not add itself.
    assert ctx.client_ip("127.0.0.1", "198.51.100.7, 127.0.0.1") == "198.51.100.7"
    assert ctx.client_ip("127.0.0.1", "203.0.113.9, 198.51.100.7") == "198.51.100.7"
    # From anyone else the header is ignored; without the header, the connection's address.
    assert ctx.client_ip("192.0.2.1", "198.51.100.7") == "192.0.2.1"
    assert ctx.client_ip("127.0.0.1") == "127.0.0.1"
    with pytest.raises(usersync.Error) as e:
        ctx.client_ip("not an address")
    assert e.value.reason == "invalid_argument"
