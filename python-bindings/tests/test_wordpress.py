"""Cookies and nonces recorded from real WordPress 6.8 and 6.1 (tests/vectors/wordpress-*.json),
as php-bindings/tests/WordPressSiteTest.php and tests/c/test_wordpress.c check them."""

from __future__ import annotations

import copy
import hashlib
import re
import time
from typing import Any, Callable, Dict, List, Tuple

import pytest

import usersync
from conftest import load

HASH = "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"


def site(v: Dict[str, Any]) -> usersync.WordPressSite:
    return usersync.WordPressSite({"salts": v["salts"], "siteurl": v["siteurl"], "wp_version": v["wp_version"]})


@pytest.mark.parametrize("version", ["6.8", "6.1"])
def test_cookies_are_byte_identical_to_wordpress(version: str) -> None:
    v = load(f"wordpress-{version}.json")
    s = site(v)
    assert len(v["cookies"]) >= 12
    for c in v["cookies"]:
        made = s.generate_cookie(c["scheme"], c["login"], c["pass_hash"], c["expiration"], c["token"])
        assert made == c["cookie"], f"{version} {c['login']} {c['scheme']}"
        parsed = s.parse_cookie(made)
        assert parsed == {
            "login": c["login"],
            "expiration": c["expiration"],
            "token": c["token"],
            "verifier": hashlib.sha256(c["token"].encode()).hexdigest(),
        }
        # Valid until their recorded expiration, expired after (the real clock decides).
        if time.time() <= c["expiration"]:
            s.validate_cookie(c["scheme"], c["cookie"], c["pass_hash"])
        else:
            with pytest.raises(usersync.WordPressError) as e:
                s.validate_cookie(c["scheme"], c["cookie"], c["pass_hash"])
            assert e.value.reason == "wp_cookie_expired"


@pytest.mark.parametrize("version", ["6.8", "6.1"])
def test_non_canonical_expiration_fields_get_cores_verdict(version: str) -> None:
    # Cookies core made over expiration fields like 04102444800, +4102444800, " 4102444800",
    # 1e10, 0x…, "abc" or 99999999999999999999 (or rewrote after making them), with core's
    # verdicts on GET and POST; the "timeless" ones hold until 2100, so the real clock decides.
    v = load(f"wordpress-{version}.json")
    s = site(v)
    checked = accepted = 0
    for c in v["expiration_fields"]:
        if not c["timeless"]:
            continue
        what = f"{version} {c['field']!r} MAC over {c['mac_over']!r}"
        for method, grace in (("get", False), ("post", True)):
            try:
                s.validate_cookie(c["scheme"], c["cookie"], c["pass_hash"], grace)
                got = "ok"
            except usersync.WordPressError as e:
                got = e.reason
            assert got == c[method], f"{what} on {method}"
        accepted += c["get"] == "ok"
        assert s.parse_cookie(c["cookie"])["expiration"] == c["php_int"], what
        checked += 1
    assert checked >= 40 and accepted >= 10


def test_validation_and_refusals() -> None:
    v = load("wordpress-6.8.json")
    s = site(v)
    token = s.session_token()
    assert re.fullmatch(r"[A-Za-z0-9]{43}", token)
    assert s.session_verifier(token) == hashlib.sha256(token.encode()).hexdigest()
    cookie = s.generate_cookie("logged_in", "alice", HASH, int(time.time()) + 60, token)
    s.validate_cookie("logged_in", cookie, HASH)
    s.validate_cookie("logged_in", cookie.encode(), HASH)
    cases: List[Tuple[str, Callable[[], object]]] = [
        ("wp_cookie_invalid", lambda: s.validate_cookie("auth", cookie, HASH)),
        ("wp_cookie_invalid", lambda: s.validate_cookie("logged_in", cookie, "$P$B59G4..iyIfwnknZg9G2DuOYQqcsPp.")),
        ("wp_cookie_expired", lambda: s.validate_cookie(
            "auth", s.generate_cookie("auth", "alice", HASH, int(time.time()) - 7200, token), HASH, True)),
        ("wp_cookie_malformed", lambda: s.validate_cookie("auth", "a|b|c", HASH)),
        ("wp_cookie_malformed", lambda: s.validate_cookie("auth", "x" * 10000, HASH)),
        ("wp_cookie_malformed", lambda: s.parse_cookie("alice|12x|tok|aaaa")),
    ]
    for reason, f in cases:
        with pytest.raises(usersync.WordPressError) as e:
            f()
        assert e.value.reason == reason
        assert 500 <= e.value.code < 600
    # Within the grace hour a POST is still valid, a GET is not.
    late = s.generate_cookie("auth", "alice", HASH, int(time.time()) - 60, token)
    s.validate_cookie("auth", late, HASH, grace=True)
    with pytest.raises(usersync.WordPressError, match="expired"):
        s.validate_cookie("auth", late, HASH)
    for bad_login, bad_token, exp in (("", token, 1), ("a|b", token, 1), ("alice", "", 1), ("alice", token, -1)):
        with pytest.raises(usersync.Error) as general:
            s.generate_cookie("auth", bad_login, HASH, exp, bad_token)
        assert general.value.reason == "invalid_argument" and type(general.value) is usersync.Error
    with pytest.raises(ValueError, match="unknown cookie scheme"):
        s.validate_cookie("admin", cookie, HASH)  # type: ignore[arg-type]
    names = s.cookie_names()
    assert names["logged_in"] == "wordpress_logged_in_" + hashlib.md5(v["siteurl"].encode()).hexdigest()
    assert names["auth"] == "wordpress_" + hashlib.md5(v["siteurl"].encode()).hexdigest()
    assert names["test"] == "wordpress_test_cookie"
    assert copy.deepcopy(s) is s


def test_nonces() -> None:
    s = site(load("wordpress-6.1.json"))
    nonce = s.create_nonce("log-out", 3, "tok")
    assert re.fullmatch(r"[0-9a-f]{10}", nonce)
    assert s.verify_nonce(nonce, "log-out", 3, "tok") == 1
    for n, action, uid, token in ((nonce, "log-in", 3, "tok"), ("", "log-out", 3, "tok"), (nonce, "log-out", 4, "tok"),
                                  (nonce, "log-out", 3, "other")):
        with pytest.raises(usersync.WordPressError) as e:
            s.verify_nonce(n, action, uid, token)
        assert e.value.reason == "wp_nonce_invalid"
    logged_out = s.create_nonce("comment", 0, "")
    assert s.verify_nonce(logged_out, "comment", 0, "") == 1


def test_bad_salts_are_refused_without_showing_them() -> None:
    v = load("wordpress-6.8.json")
    salts = dict(v["salts"])
    salts["NONCE_SALT"] = salts["AUTH_KEY"]
    with pytest.raises(usersync.ConfigError) as e:
        usersync.WordPressSite({"salts": salts, "siteurl": "https://a.test", "wp_version": "6.8"})
    assert "salts.NONCE_SALT: repeats" in str(e.value)
    assert salts["AUTH_KEY"] not in str(e.value)
    with pytest.raises(usersync.ConfigError, match="salts.AUTH_KEY"):
        usersync.WordPressSite('{"salts":{},"siteurl":"https://a.test","wp_version":"6.8"}')
