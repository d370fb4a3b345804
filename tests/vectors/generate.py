#!/usr/bin/env python3
"""Makes the usersync test vectors with an implementation independent of the crate.

Everything here is built from Python's `cryptography` (HKDF, AES-256-CBC, PKCS#7) and the
standard library (hmac, hashlib, base64), following docs/protocol.md. The Rust, C and PHP suites
all run the JSON files this writes; none of them produced any byte of it.

Files: envelope-*.json and secret.json (§2-§7), messages-verify.json and messages-invalid.json
(§8-§14: sealed claims whose data carry `uid`, and `bnd` in tickets), targets.json (§15: the
target check, whose verdicts come from `decide()` below, written from the text, and are each
also written out by hand in the case table, so the two must agree).

Deterministic: inputs are derived from fixed labels, so running it again gives the same files.
    pip install cryptography && python3 tests/vectors/generate.py [--out DIR]
"""
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = 1


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def label_bytes(label: str, n: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}#{counter}".encode()).digest()
        counter += 1
    return out[:n]


def secret_text(raw: bytes) -> str:
    return "usk1_" + b64u(raw)


def subkeys(raw: bytes):
    def expand(info: bytes, n: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=n, salt=b"usersync/v1", info=info).derive(raw)

    return expand(b"usersync/v1 enc", 32), expand(b"usersync/v1 mac", 32), expand(b"usersync/v1 kid", 8)


def tag(mac_key: bytes, body: bytes, aad: bytes) -> bytes:
    return hmac.new(mac_key, body + aad + len(aad).to_bytes(8, "big"), hashlib.sha256).digest()


def seal(raw: bytes, iv: bytes, aad: bytes, plaintext: bytes, *, pad=True, version=VERSION) -> bytes:
    enc, mac, kid = subkeys(raw)
    if pad:
        padder = padding.PKCS7(128).padder()
        plaintext = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = encryptor.update(plaintext) + encryptor.finalize()
    body = bytes([version]) + kid + iv + ct
    return body + tag(mac, body, aad)


SECRETS = [label_bytes(f"usersync vector secret {i}", 32) for i in range(4)]
AAD = b"usersync/v1|action|shop.example.com|blog.example.com"


def iv(n: int) -> bytes:
    return label_bytes(f"usersync vector iv {n}", 16)


def generate_cases():
    cases = []
    plaintexts = [
        ("empty plaintext", b""),
        ("one byte", b"x"),
        ("15 bytes: one block after padding", b"A" * 15),
        ("16 bytes: a whole padding block is added", b"B" * 16),
        ("17 bytes", b"C" * 17),
        ("JSON claims", b'{"v":1,"typ":"action","iss":"shop.example.com","aud":"blog.example.com"}'),
        ("binary bytes including NUL", bytes(range(256))),
        ("4 KiB", label_bytes("usersync vector 4k", 4096)),
    ]
    for n, (desc, pt) in enumerate(plaintexts):
        for aad_desc, aad in (("", AAD), (", empty aad", b"")):
            raw = SECRETS[n % 3]
            enc, mac, kid = subkeys(raw)
            the_iv = iv(len(cases))
            cases.append({
                "desc": desc + aad_desc,
                "secret": secret_text(raw),
                "enc_key_hex": enc.hex(),
                "mac_key_hex": mac.hex(),
                "kid_hex": kid.hex(),
                "iv_hex": the_iv.hex(),
                "aad_hex": aad.hex(),
                "plaintext_hex": pt.hex(),
                "envelope": b64u(seal(raw, the_iv, aad, pt)),
            })
    return cases


def verify_cases():
    ring = [secret_text(s) for s in SECRETS[:3]]
    cases = []
    for i, raw in enumerate(SECRETS[:3]):
        pt = f"sealed with secret {i} of a rotating link".encode()
        cases.append({
            "desc": f"rotation: keyring of 3 opens a message sealed with secret {i}",
            "secrets": ring,
            "aad_hex": AAD.hex(),
            "envelope": b64u(seal(raw, iv(100 + i), AAD, pt)),
            "plaintext_hex": pt.hex(),
        })
    pt = b'{"act":"create"}'
    cases.append({
        "desc": "single secret, empty aad",
        "secrets": [secret_text(SECRETS[3])],
        "aad_hex": "",
        "envelope": b64u(seal(SECRETS[3], iv(110), b"", pt)),
        "plaintext_hex": pt.hex(),
    })
    return cases


def invalid_cases():
    ring = [secret_text(s) for s in SECRETS[:2]]
    pt = b'{"v":1,"act":"update","data":{"login":"alice","email":"a@example.com"}}'
    good = seal(SECRETS[0], iv(200), AAD, pt)
    cases = []

    def add(desc, envelope, error, *, aad=AAD, secrets=ring, max_text_len=None):
        case = {"desc": desc, "secrets": secrets, "aad_hex": aad.hex(), "envelope": envelope, "error": error}
        if max_text_len is not None:
            case["max_text_len"] = max_text_len
        cases.append(case)

    regions = [("key id", 1, 9), ("IV", 9, 25), ("ciphertext", 25, len(good) - 32), ("tag", len(good) - 32, len(good))]
    for name, start, end in regions:
        for pos in (start, (start + end) // 2, end - 1):
            for bit in (0, 7):
                bad = bytearray(good)
                bad[pos] ^= 1 << bit
                add(f"bit {bit} of byte {pos} flipped ({name})", b64u(bytes(bad)), "authentication_failed")
    for bit in range(8):
        bad = bytearray(good)
        bad[0] ^= 1 << bit
        add(f"bit {bit} of the version byte flipped", b64u(bytes(bad)), "unsupported_version")
    add("version 2 with a valid tag", b64u(seal(SECRETS[0], iv(201), AAD, pt, version=2)), "unsupported_version")
    for desc, aad in (("empty aad", b""), ("aad for another audience", AAD.replace(b"blog", b"shop")),
                      ("aad for another type", AAD.replace(b"|action|", b"|ticket|")),
                      ("aad with one byte more", AAD + b"x")):
        add(f"sealed for other associated data: {desc}", b64u(good), "authentication_failed", aad=aad)
    add("sealed with a secret the keyring does not hold", b64u(seal(SECRETS[2], iv(202), AAD, pt)), "authentication_failed")
    add("unknown key id with the keyring's own MAC key", b64u(good[:1] + b"\0" * 8 + good[9:]), "authentication_failed")
    add("valid tag over a ciphertext with invalid padding",
        b64u(seal(SECRETS[0], iv(203), AAD, b"0123456789abcdef", pad=False)), "authentication_failed")
    for desc, cut in (("empty", 0), ("version only", 1), ("header without IV", 9), ("header only", 25),
                      ("tag removed", len(good) - 32), ("tag cut short", len(good) - 1),
                      ("shortest possible envelope", 73), ("one byte under the shortest", 72)):
        # The layout rule of the protocol: at least one ciphertext block, whole blocks only.
        n = cut
        layout_ok = n >= 73 and (n - 57) % 16 == 0
        add(f"truncated to {cut} bytes: {desc}", b64u(good[:cut]),
            "authentication_failed" if layout_ok else "malformed_envelope")
    add("truncated: last ciphertext block removed",
        b64u(good[:len(good) - 48] + good[len(good) - 32:]), "authentication_failed")
    add("extra block appended", b64u(good + b"\0" * 16), "authentication_failed")
    text = b64u(good)
    add("base64 padding appended", text + "=" * ((4 - len(text) % 4) % 4 or 2), "malformed_encoding")
    add("trailing newline", text + "\n", "malformed_encoding")
    add("space inside", text[:10] + " " + text[10:], "malformed_encoding")
    add("'+' from the standard alphabet", text[:5] + "+" + text[6:], "malformed_encoding")
    add("'/' from the standard alphabet", text[:5] + "/" + text[6:], "malformed_encoding")
    add("character outside the alphabet", text[:20] + "*" + text[21:], "malformed_encoding")
    add("impossible length (4n+1 characters)", text[: len(text) - len(text) % 4] + "A", "malformed_encoding")
    assert len(text) % 4 in (2, 3), "the plaintext is chosen so the last character has unused bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanonical = alphabet[alphabet.index(text[-1]) | 1]
    add("non-canonical trailing bits", text[:-1] + noncanonical, "malformed_encoding")
    add("larger than max_text_len", text, "too_large", max_text_len=len(text) - 1)
    add("exactly max_text_len passes the size check, then the tag fails", b64u(good[:-1] + bytes([good[-1] ^ 1])),
        "authentication_failed", max_text_len=len(text))
    return cases


def secret_cases():
    good = secret_text(SECRETS[0])
    return [
        {"desc": "valid", "secret": good, "error": None},
        {"desc": "other version prefix", "secret": "usk2_" + good[5:], "error": "secret_prefix"},
        {"desc": "upper-case prefix", "secret": "USK1_" + good[5:], "error": "secret_prefix"},
        {"desc": "no prefix", "secret": good[5:], "error": "secret_prefix"},
        {"desc": "empty", "secret": "", "error": "secret_prefix"},
        {"desc": "one character short", "secret": good[:-1], "error": "secret_length"},
        {"desc": "one character long", "secret": good + "A", "error": "secret_length"},
        {"desc": "24 bytes", "secret": secret_text(SECRETS[1][:24]), "error": "secret_length"},
        {"desc": "padding", "secret": good[:-1] + "=", "error": "secret_encoding"},
        {"desc": "standard alphabet", "secret": good[:-2] + "+A", "error": "secret_encoding"},
        {"desc": "trailing space", "secret": good[:-1] + " ", "error": "secret_encoding"},
        {"desc": "non-canonical trailing bits", "secret": "usk1_" + "A" * 41 + "QB", "error": "secret_encoding"},
        {"desc": "all zero bytes", "secret": secret_text(bytes(32)), "error": "secret_all_zero"},
    ]


# ---- messages (claims, actions, policy, tickets) ---------------------------------------------

NOW = 1_800_000_000
BCRYPT = "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"
PHPASS = "$P$BhnEt5cXZQcN1PmY3Qy7pA6ZqXnCHj/"
ALL = ["create", "update", "delete", "password", "meta", "logout", "login"]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def strict_b64u(text):
    """The text form of docs/protocol.md §5: the bytes, or None when the text is refused."""
    if not isinstance(text, str) or len(text) % 4 == 1 or any(ch not in ALPHABET for ch in text):
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return raw if b64u(raw) == text else None  # the one canonical form: unused low bits are 0


def uid(name: str) -> str:
    """An account's network id (§9): 16 bytes, one per user name."""
    return b64u(label_bytes(f"usersync vector uid {name}", 16))


def binding(name: str) -> str:
    """The browser binding value (§12) a receiver set in a cookie: a 43-character nonce."""
    return b64u(label_bytes(f"usersync vector binding {name}", 32))


def bnd_of(value: str) -> str:
    return b64u(hashlib.sha256(value.encode()).digest())


def user(login, *, name=None, **rest):
    """An action's data: uid (of `name`, default the login) and login first, then the rest."""
    return {"uid": uid(name or login), "login": login, **rest}


def ticket(login, remember=True, *, name=None, **rest):
    """A login ticket's data, bound to the browser of `name` (default the login)."""
    return {"uid": uid(name or login), "login": login, "remember": remember,
            "bnd": bnd_of(binding(name or login)), **rest}


for _name in ("alice", "bob", "carol", "a"):
    assert len(uid(_name)) == 22 and strict_b64u(uid(_name)) is not None and len(strict_b64u(uid(_name))) == 16
    assert len(binding(_name)) == 43 and len(bnd_of(binding(_name))) == 43
    assert strict_b64u(bnd_of(binding(_name))) == hashlib.sha256(binding(_name).encode()).digest()

# The receiving site, b.test: peer a.test (a trusted peer behind an IP allow-list) and peer
# c.test (may only update, without roles' privileges, meta or passwords).
RECEIVER = {
    "site_id": "b.test",
    "url": "https://b.test",
    "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret_text(SECRETS[0])],
         "accept": {"actions": ALL, "roles": ["subscriber", "editor", "administrator"], "meta": ["billing_*"]},
         "ip_allow": ["192.0.2.0/24", "2001:db8::/32"]},
        {"id": "c.test", "url": "https://c.test:8443", "secrets": [secret_text(SECRETS[1])],
         "accept": {"actions": ["update"], "roles": ["*"]}},
    ],
}


def claims(act, data, *, typ="action", iss="a.test", aud="b.test", iat=NOW, life=120, n=0, **extra):
    c = {"v": 1, "typ": typ, "iss": iss, "aud": aud, "iat": iat, "exp": iat + life,
         "jti": b64u(label_bytes(f"usersync vector jti {n}", 16)), "act": act, "data": data}
    if typ == "action":  # an action carries its event's id; a ticket does not
        c["eid"] = b64u(label_bytes(f"usersync vector eid {n}", 16))
    c.update(extra)
    return c


def message(c, *, secret=0, typ=None, iss=None, aud="b.test", raw_plaintext=None, n=0):
    typ = typ or c["typ"]
    iss = iss or c["iss"]
    aad = f"usersync/v1|{typ}|{iss}|{aud}".encode()
    pt = raw_plaintext if raw_plaintext is not None else json.dumps(c, separators=(",", ":")).encode()
    return b64u(seal(SECRETS[secret], iv(1000 + n), aad, pt))


def message_verify_cases():
    cases = []

    def add(desc, c, expected_data, *, secret=0, ip="192.0.2.10", dropped=None):
        n = len(cases)
        c["jti"] = b64u(label_bytes(f"usersync vector jti ok {n}", 16))
        expected = {"iss": c["iss"], "jti": c["jti"], "exp": c["exp"], "act": c["act"], "data": expected_data}
        if "eid" in c:
            expected["eid"] = c["eid"]
        if dropped:
            expected["dropped"] = dropped
        cases.append({"desc": desc, "typ": c["typ"], "remote_ip": ip,
                      "envelope": message(c, secret=secret, n=5000 + n), "expected": expected})

    alice = user("alice", email="alice@a.test",
                 fields={"display_name": "Alice Ø. Example", "locale": "nb_NO", "description": "line 1\nline 2"},
                 roles=["subscriber", "editor"], meta={"billing_city": ["Oslo"], "billing_phone": []},
                 pass_hash=BCRYPT)
    add("create with fields, roles, meta and a bcrypt hash", claims("create", alice), alice)
    add("update from an IPv6 address in ip_allow", claims("update", user("alice", email="a2@a.test")),
        user("alice", email="a2@a.test"), ip="2001:db8::1")
    add("update from an IPv4-mapped IPv6 address", claims("update", user("alice", email="a2@a.test")),
        user("alice", email="a2@a.test"), ip="::ffff:192.0.2.10")
    add("roles and meta outside the accept policy are dropped and reported",
        claims("update", user("bob", email="bob@a.test", roles=["subscriber", "shop_manager"],
                              meta={"billing_zip": ["0150"], "nickname": ["b"]})),
        user("bob", email="bob@a.test", roles=["subscriber"], meta={"billing_zip": ["0150"]}),
        dropped={"roles": ["shop_manager"], "meta": ["nickname"], "pass_hash": False})
    add("delete with reassign", claims("delete", user("bob", reassign="alice")), user("bob", reassign="alice"))
    add("delete with reassign null", claims("delete", user("bob", reassign=None)), user("bob"))
    add("password with a phpass hash", claims("password", user("alice", pass_hash=PHPASS)),
        user("alice", pass_hash=PHPASS))
    add("meta set and delete", claims("meta", user("alice", set={"billing_city": ["Bergen"]},
                                                   delete=["billing_phone"])),
        user("alice", set={"billing_city": ["Bergen"]}, delete=["billing_phone"]))
    add("logout of one session", claims("logout", user("alice", sid="9f86d081884c7d65")),
        user("alice", sid="9f86d081884c7d65"))
    add("logout everywhere", claims("logout", user("alice")), user("alice"))
    add("issued 60 s in the future: within the clock skew", claims("logout", user("alice"), iat=NOW + 60),
        user("alice"))
    add("expired 60 s ago: within the clock skew", claims("logout", user("alice"), iat=NOW - 180),
        user("alice"))
    add("a pass_hash from a peer whose password action is not accepted is dropped",
        claims("update", user("carol", email="c@c.test", pass_hash=BCRYPT, roles=["editor"]), iss="c.test"),
        user("carol", email="c@c.test", roles=["editor"]), secret=1, ip=None,
        dropped={"roles": [], "meta": [], "pass_hash": True})
    add("login ticket with a return URL on a peer (normalised)",
        claims("login", ticket("alice", True, sid="s1", **{"return": "https://C.test:8443/x?y=1"}),
               typ="ticket", life=60),
        ticket("alice", True, sid="s1", **{"return": "https://c.test:8443/x?y=1"}), ip=None)
    add("login ticket returning to this site",
        claims("login", ticket("alice", False, **{"return": "https://b.test/wp-admin/"}), typ="ticket", life=120),
        ticket("alice", False, **{"return": "https://b.test/wp-admin/"}), ip=None)
    add("login ticket with only the required members", claims("login", ticket("bob", False), typ="ticket", life=60),
        ticket("bob", False), ip=None)
    add("a uid whose bytes encode to '-' and '_'", claims("delete", {"uid": b64u(b"\xfb\xff" * 8), "login": "dave"}),
        {"uid": b64u(b"\xfb\xff" * 8), "login": "dave"})
    # The link health check (§16) is policy-free: c.test, which may only send update, pings too.
    add("a ping from a", claims("ping", {}), {})
    add("a ping from a peer whose accept policy has no ping (none can)", claims("ping", {}, iss="c.test"), {},
        secret=1, ip=None)
    pong = {"ping": b64u(label_bytes("usersync vector ping jti", 16)), "time": NOW - 3,
            "accepts": ["create", "update", "delete", "password", "meta", "logout", "login"], "sends": [], "version": "0.1.0"}
    add("a pong answering a's ping", claims("pong", pong), pong)
    assert "-" in b64u(b"\xfb\xff" * 8) and "_" in b64u(b"\xfb\xff" * 8)
    return cases


# The errors decided before the time check (see docs/protocol.md): hosts without a test clock
# can run these cases with their real clock.
BEFORE_TIME = {"too_large", "malformed_encoding", "malformed_envelope", "unsupported_version",
               "authentication_failed", "malformed_json", "claims_invalid", "wrong_site", "lifetime_too_long"}


def message_invalid_cases():
    cases = []

    def add(desc, error, *, c=None, typ=None, ip="192.0.2.10", envelope=None, **seal_args):
        n = len(cases)
        c = c if c is not None else claims("logout", user("alice"))
        typ = typ or (c.get("typ") if isinstance(c, dict) and c.get("typ") in ("action", "ticket") else "action")
        if envelope is None:
            envelope = message(c, typ=seal_args.pop("seal_typ", typ), n=6000 + n, **seal_args)
        cases.append({"desc": desc, "typ": typ, "remote_ip": ip, "envelope": envelope, "error": error,
                      "before_time_check": error in BEFORE_TIME})

    good = claims("logout", user("alice"))
    env = bytearray(base64.urlsafe_b64decode(message(good, n=6999) + "=="))
    env[40] ^= 4
    add("tampered ciphertext", "authentication_failed", envelope=b64u(bytes(env)))
    add("sealed for the other direction (b to a)", "authentication_failed", aud="a.test", iss="b.test",
        c=claims("logout", user("alice"), iss="b.test", aud="a.test"))
    add("sealed for another site (a to c)", "authentication_failed", aud="c.test",
        c=claims("logout", user("alice"), aud="c.test"))
    add("a ticket presented as an action", "authentication_failed",
        c=claims("login", ticket("alice"), typ="ticket"), typ="action", seal_typ="ticket")
    add("an action presented as a ticket", "authentication_failed", c=good, typ="ticket", seal_typ="action")
    add("sealed with a secret b does not hold", "authentication_failed", secret=3)
    add("oversized text", "too_large", envelope="A" * (1024 * 1024 + 1))
    add("not base64url", "malformed_encoding", envelope="not base64!")
    add("plaintext is not UTF-8", "malformed_json", raw_plaintext=b'{"v":1,"x":"' + bytes([0xC3, 0x28]) + b'"}')
    add("plaintext is a JSON array", "malformed_json", raw_plaintext=b"[]")
    add("deeply nested JSON", "malformed_json", raw_plaintext=b"[" * 5000 + b"]" * 5000)
    add("plaintext is not JSON", "malformed_json", raw_plaintext=b"v=1&act=delete")
    add("an unknown claim", "claims_invalid", c=dict(good, admin=True))
    add("a missing claim (jti)", "claims_invalid", c={k: v for k, v in good.items() if k != "jti"})
    add("an action without eid", "claims_invalid", c={k: v for k, v in good.items() if k != "eid"})
    add("eid is not 16 bytes", "claims_invalid", c=dict(good, eid="AAAA"))
    noncanonical_eid = good["eid"][:-1] + "B"
    assert strict_b64u(noncanonical_eid) is None
    add("eid is not canonical base64url", "claims_invalid", c=dict(good, eid=noncanonical_eid))
    add("a ticket with an eid", "claims_invalid",
        c=dict(claims("login", ticket("alice"), typ="ticket", life=60), eid=good["eid"]), ip=None)
    add("v is 2", "claims_invalid", c=dict(good, v=2))
    add("jti is not 16 bytes", "claims_invalid", c=dict(good, jti="AAAA"))
    add("iat is not an integer", "claims_invalid", c=dict(good, iat=NOW + 0.5))
    add("data is not an object", "claims_invalid", c=dict(good, data=["alice"]))
    add("typ inside says ticket, sealed as an action", "claims_invalid",
        c=claims("login", ticket("alice"), typ="ticket"), typ="action", seal_typ="action")
    add("iss names another site", "wrong_site", c=dict(good, iss="c.test"), iss="a.test")
    add("aud names another site", "wrong_site", c=dict(good, aud="c.test"))
    add("lifetime 301 s for an action", "lifetime_too_long", c=claims("logout", user("a"), life=301))
    add("lifetime 121 s for a ticket", "lifetime_too_long", c=claims("login", ticket("a"), typ="ticket", life=121))
    add("exp before iat", "lifetime_too_long", c=claims("logout", user("a"), life=-1))
    add("expired 61 s ago", "expired", c=claims("logout", user("a"), iat=NOW - 181))
    add("issued 61 s in the future", "not_yet_valid", c=claims("logout", user("a"), iat=NOW + 61))
    add("from an IP outside ip_allow", "ip_not_allowed", ip="203.0.113.5")
    add("from an IPv6 address outside ip_allow", "ip_not_allowed", ip="2001:db9::1")
    add("without a remote IP where ip_allow is set", "ip_not_allowed", ip=None)
    add("an unknown action", "unknown_action", c=claims("promote", user("a")))
    add("login as a server-to-server action", "unknown_action", c=claims("login", ticket("a")))
    add("a ticket carrying an update", "unknown_action",
        c=claims("update", user("a", email="a@a.test"), typ="ticket", life=60), ip=None)
    add("an action c may not send (delete)", "action_not_accepted",
        c=claims("delete", user("a"), iss="c.test"), secret=1, ip=None)
    add("administrator without allow_privileged", "privileged_role",
        c=claims("update", user("a", email="a@a.test", roles=["administrator"])))
    add("administrator from a peer accepting every role ('*')", "privileged_role",
        c=claims("update", user("a", email="a@a.test", roles=["administrator"]), iss="c.test"),
        secret=1, ip=None)
    for key in ["wp_capabilities", "wp_3_capabilities", "wp_user_level", "session_tokens", "usersync_sid"]:
        add(f"protected meta key {key} in update", "protected_meta",
            c=claims("update", user("a", email="a@a.test", meta={key: ["x"]})))
    add("protected meta key in a meta delete", "protected_meta",
        c=claims("meta", user("a", delete=["wp_capabilities"])))
    for plain in ["hunter2", "correct horse battery staple", "5f4dcc3b5aa765d61d8327deb882cf99", "$P$short",
                  "$2y$10$tooshort"]:
        add(f"pass_hash {plain!r} is not a hash", "pass_hash_format",
            c=claims("password", user("a", pass_hash=plain)))
    add("an unknown field in data", "unknown_field",
        c=claims("update", user("a", email="a@a.test", user_pass="x")))
    add("an unknown profile field", "unknown_field",
        c=claims("update", user("a", email="a@a.test", fields={"user_level": "10"})))
    add("a ping with data", "unknown_field", c=claims("ping", {"login": "alice"}))
    good_pong = {"ping": b64u(label_bytes("usersync vector ping jti", 16)), "time": NOW, "accepts": [], "sends": [],
                 "version": "0.1.0"}
    add("a pong without its ping's jti", "data_invalid", c=claims("pong", {k: v for k, v in good_pong.items() if k != "ping"}))
    add("a pong naming an unknown action", "data_invalid", c=claims("pong", dict(good_pong, accepts=["promote"])))
    add("a pong naming ping among the actions", "data_invalid", c=claims("pong", dict(good_pong, sends=["ping"])))
    add("a ping as a ticket", "unknown_action", c=claims("ping", {}, typ="ticket", life=60), ip=None)
    add("an unknown field in a ticket", "unknown_field",
        c=claims("login", ticket("a", admin=True), typ="ticket", life=60), ip=None)
    add("a bnd in an action's data", "unknown_field", c=claims("logout", user("a", bnd=bnd_of(binding("a")))))
    add("an empty login", "data_invalid", c=claims("delete", user("", name="a")))
    add("a login of 61 characters", "data_invalid", c=claims("delete", user("x" * 61, name="a")))
    add("an email without @", "data_invalid", c=claims("update", user("a", email="a.test")))
    add("roles as a string", "data_invalid", c=claims("update", user("a", email="a@a.test", roles="editor")))
    add("meta values nested beyond the schema", "data_invalid",
        c=claims("update", user("a", email="a@a.test", meta={"billing_x": [["x"]]})))
    add("remember is not a boolean", "data_invalid",
        c=claims("login", ticket("a", "yes"), typ="ticket", life=60), ip=None)

    # uid (§9): required in every action and ticket, exactly 16 bytes in canonical base64url.
    good_uid = uid("alice")
    last = ALPHABET.index(good_uid[-1])
    assert last & 0b1111 == 0, "22 characters of 16 bytes: the last one has 4 unused low bits"
    noncanonical = good_uid[:-1] + ALPHABET[last | 1]
    assert base64.urlsafe_b64decode(noncanonical + "==") == base64.urlsafe_b64decode(good_uid + "=="), \
        "a lenient decoder reads the same 16 bytes"
    bad_uids = [
        ("21 characters", good_uid[:-1]),
        ("23 characters (17 bytes)", b64u(label_bytes("usersync vector uid long", 17))),
        ("20 characters (15 bytes)", b64u(label_bytes("usersync vector uid short", 15))),
        ("43 characters (32 bytes)", b64u(label_bytes("usersync vector uid 32", 32))),
        ("empty", ""),
        ("non-canonical trailing bits", noncanonical),
        ("with base64 padding", good_uid + "=="),
        ("with '+' from the standard alphabet", good_uid[:5] + "+" + good_uid[6:]),
        ("with '/' from the standard alphabet", good_uid[:5] + "/" + good_uid[6:]),
        ("with a trailing newline", good_uid + "\n"),
        ("a number", 12345),
        ("null", None),
    ]
    for desc, bad in bad_uids:
        raw = strict_b64u(bad)
        assert raw is None or len(raw) != 16, desc
        add(f"uid {desc}", "data_invalid", c=claims("update", dict(user("alice", email="a@a.test"), uid=bad)))
    add("uid with '+' in a ticket", "data_invalid",
        c=claims("login", dict(ticket("alice"), uid=good_uid[:5] + "+" + good_uid[6:]), typ="ticket", life=60),
        ip=None)
    for act, data in [("create", user("alice", email="a@a.test")), ("update", user("alice", email="a@a.test")),
                      ("delete", user("alice")), ("password", user("alice", pass_hash=PHPASS)),
                      ("meta", user("alice", set={"billing_city": ["Oslo"]})), ("logout", user("alice"))]:
        del data["uid"]
        add(f"{act} without a uid", "data_invalid", c=claims(act, data))
    add("a ticket without a uid", "data_invalid",
        c=claims("login", {k: v for k, v in ticket("alice").items() if k != "uid"}, typ="ticket", life=60), ip=None)

    # bnd (§9, §12): required in every ticket, 32 bytes in canonical base64url (43 characters).
    good_bnd = bnd_of(binding("alice"))
    last = ALPHABET.index(good_bnd[-1])
    assert last & 0b11 == 0, "43 characters of 32 bytes: the last one has 2 unused low bits"
    bad_bnds = [
        ("42 characters (31 bytes)", b64u(hashlib.sha256(binding("alice").encode()).digest()[:31])),
        ("44 characters (33 bytes)", b64u(hashlib.sha256(binding("alice").encode()).digest() + b"\0")),
        ("non-canonical trailing bits", good_bnd[:-1] + ALPHABET[last | 1]),
        ("with base64 padding", good_bnd + "="),
        ("with '+' from the standard alphabet", good_bnd[:7] + "+" + good_bnd[8:]),
        ("the hex SHA-256 (64 characters)", hashlib.sha256(binding("alice").encode()).hexdigest()),
        ("empty", ""),
        ("a boolean", True),
        ("null", None),
    ]
    for desc, bad in bad_bnds:
        raw = strict_b64u(bad)
        assert raw is None or len(raw) != 32, desc
        add(f"ticket bnd {desc}", "data_invalid",
            c=claims("login", dict(ticket("alice"), bnd=bad), typ="ticket", life=60), ip=None)
    add("a ticket without bnd", "data_invalid",
        c=claims("login", {k: v for k, v in ticket("alice").items() if k != "bnd"}, typ="ticket", life=60), ip=None)

    for bad in ["//evil.test", "https://b.test.evil.test/", "javascript:alert(1)", "http://b.test/",
                "https://a.test@evil.test/", "https://c.test/"]:
        add(f"ticket return URL {bad!r}", "return_url_refused",
            c=claims("login", ticket("a", **{"return": bad}), typ="ticket", life=60), ip=None)
    return cases


def write_messages(name, cases):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump({"generated_by": "tests/vectors/generate.py (Python cryptography, independent of the crate)",
                   "receiver_config": RECEIVER, "now": NOW, "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


# ---- the target check (§15) ------------------------------------------------------------------

# The receiving site, b.test, with peers that may grant different roles: a.test (ordinary roles
# only), p.test (administrator, with allow_privileged), s.test (also super_admin), w.test (every
# role through '*', which never grants a privileged one) and x.test (privileged roles only
# through patterns, so none despite allow_privileged).
TARGET_RECEIVER = {
    "site_id": "b.test",
    "url": "https://b.test",
    "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret_text(SECRETS[0])],
         "accept": {"actions": ALL, "roles": ["subscriber", "customer", "editor"]}},
        {"id": "p.test", "url": "https://p.test", "secrets": [secret_text(SECRETS[1])],
         "accept": {"actions": ALL, "roles": ["subscriber", "administrator"], "allow_privileged": True}},
        {"id": "s.test", "url": "https://s.test", "secrets": [secret_text(SECRETS[2])],
         "accept": {"actions": ALL, "roles": ["subscriber", "super_admin", "administrator"],
                    "allow_privileged": True}},
        {"id": "w.test", "url": "https://w.test", "secrets": [secret_text(SECRETS[3])],
         "accept": {"actions": ALL, "roles": ["*"]}},
        {"id": "x.test", "url": "https://x.test",
         "secrets": [secret_text(label_bytes("usersync vector secret 4", 32))],
         "accept": {"actions": ALL, "roles": ["shop_*", "admin*"], "allow_privileged": True}},
    ],
}


class Refused(Exception):
    pass


def _is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _facts_ok(facts):
    if not isinstance(facts, dict):
        return False
    for key in ("login_taken", "email_taken"):
        if key in facts and not isinstance(facts[key], bool):
            return False
    if "binding" in facts and not (facts["binding"] is None or isinstance(facts["binding"], str)):
        return False
    if "account" not in facts:  # required: a host that forgot it must not get "create"
        return False
    account = facts["account"]
    if account is None:
        return True
    if not isinstance(account, dict) or not _is_str_list(account.get("roles")) \
            or not isinstance(account.get("super_admin", False), bool):
        return False
    if not isinstance(account.get("uid"), str):
        return False
    sessions = account.get("sessions", [])
    if not isinstance(sessions, list):
        return False
    for s in sessions:
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            return False
        for key in ("iss", "sid"):
            if s.get(key) is not None and not isinstance(s[key], str):
                return False
        if "peers" in s and not _is_str_list(s["peers"]):
            return False
    return True


def _role_matches(pattern, role):
    return pattern == "*" or pattern == role or (pattern.endswith("*") and role.startswith(pattern[:-1]))


def _may_grant(config, peer, role):
    accept = peer.get("accept", {})
    roles = accept.get("roles", [])
    privileged = set(config.get("privileged_roles", ["administrator"])) | {"super_admin"}
    if role in privileged:  # named exactly, and only with allow_privileged
        return role in roles and accept.get("allow_privileged") is True
    return any(_role_matches(p, role) for p in roles)


def decide(config, opened, facts):
    """The target check of docs/protocol.md §15, written from the text: the verdict or Refused."""
    # 1. shapes and the peer
    if not isinstance(opened, dict) or not isinstance(opened.get("iss"), str) \
            or opened.get("act") not in ALL or not isinstance(opened.get("data"), dict) \
            or not isinstance(opened["data"].get("uid"), str):
        raise Refused("data_invalid")
    peers = {p["id"]: p for p in config["peers"]}
    iss, act, data = opened["iss"], opened["act"], opened["data"]
    if iss not in peers:
        raise Refused("unknown_peer")
    if not _facts_ok(facts):
        raise Refused("data_invalid")
    account = facts.get("account")
    # 2. the browser binding of a ticket
    if act == "login":
        value = facts.get("binding")
        if value is None or not hmac.compare_digest(bnd_of(value), data.get("bnd", "")):
            raise Refused("wrong_browser")
    # 3. the host looked up another account
    if account is not None and "uid" in account and account["uid"] != data["uid"]:
        raise Refused("identity_conflict")
    # 4. no linked account
    if account is None:
        if act == "create":
            if facts.get("login_taken", False) or facts.get("email_taken", False):
                raise Refused("identity_conflict")
            return {"do": "create"}
        if act in ("delete", "logout"):
            return {"do": "skip"}
        raise Refused("unknown_account")
    # 5. a protected account: every role it holds must be one this peer may grant
    held = list(account["roles"]) + (["super_admin"] if account["super_admin"] else [])
    if not all(_may_grant(config, peers[iss], role) for role in held):
        raise Refused("protected_account")
    # 6. apply
    verdict = {"do": "apply"}
    if act == "logout":
        sessions = account.get("sessions", [])
        if "sid" not in data:
            verdict["end_sessions"] = [s["id"] for s in sessions]
        else:
            sid = data["sid"]
            verdict["end_sessions"] = [
                s["id"] for s in sessions
                if (s.get("iss") == iss and s.get("sid") == sid) or (s["id"] == sid and iss in s.get("peers", []))]
    return verdict


# Hand-checked against the rule above, independently of the case table below.
assert _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][1], "administrator")
assert not _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][0], "administrator")
assert not _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][3], "administrator")
assert not _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][3], "super_admin")
assert _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][3], "shop_manager")
assert not _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][4], "administrator")
assert not _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][1], "super_admin")
assert _may_grant(TARGET_RECEIVER, TARGET_RECEIVER["peers"][2], "super_admin")


def target_cases():
    cases = []

    def opened(act, data, iss="a.test"):
        return {"iss": iss, "jti": b64u(label_bytes(f"usersync vector target jti {len(cases)}", 16)),
                "exp": NOW + (60 if act == "login" else 120), "act": act, "data": data}

    def add(desc, o, facts, want):
        """`want` is written by hand: a verdict object or an error name; decide() must agree."""
        try:
            got = decide(TARGET_RECEIVER, o, facts)
            case = {"desc": desc, "opened": o, "facts": facts, "expected": got}
        except Refused as refused:
            got = str(refused)
            case = {"desc": desc, "opened": o, "facts": facts, "error": got}
        assert got == want, f"{desc}: the rule says {got}, the case says {want}"
        cases.append(case)

    def sample(act, name="alice"):
        if act in ("create", "update"):
            return user(name, email=f"{name}@example.test", roles=["subscriber"])
        return {"delete": lambda: user(name), "password": lambda: user(name, pass_hash=BCRYPT),
                "meta": lambda: user(name, set={"billing_city": ["Oslo"]}), "logout": lambda: user(name),
                "login": lambda: ticket(name, True)}[act]()

    def account(name="alice", roles=("subscriber",), super_admin=False, **extra):
        return {"uid": uid(name), "roles": list(roles), "super_admin": super_admin, **extra}

    two_sessions = [{"id": "verifier-1"}, {"id": "verifier-2", "iss": "w.test", "sid": "w-session"}]

    def facts_for(act, acct, name="alice"):
        facts = {"account": acct}
        if act == "login":
            facts["binding"] = binding(name)
        if act == "create" and acct is not None:
            facts.update(login_taken=True, email_taken=True)  # the linked account holds both
        if act == "logout" and acct is not None:
            acct["sessions"] = [dict(s) for s in two_sessions]
        return facts

    # Every action and the ticket against linked accounts of every kind (5, 6 of §15).
    apply_, protected = "apply", "protected_account"
    matrix = [
        ("a subscriber", "a.test", ["subscriber"], False, apply_),
        ("several roles, all grantable", "a.test", ["subscriber", "editor"], False, apply_),
        ("an account with no role", "a.test", [], False, apply_),
        ("an administrator, from a peer that may not grant it", "a.test", ["administrator"], False, protected),
        ("several roles, one not grantable (shop_manager)", "a.test", ["subscriber", "shop_manager"], False,
         protected),
        ("a super admin without a role on this site", "a.test", [], True, protected),
        ("an administrator, from a peer granting it with allow_privileged", "p.test", ["administrator"], False,
         apply_),
        ("subscriber and administrator, from a peer granting both", "p.test", ["subscriber", "administrator"],
         False, apply_),
        ("an editor, from a peer that grants only subscriber and administrator", "p.test", ["editor"], False,
         protected),
        ("a super admin, from a peer granting administrator but not super_admin", "p.test", ["administrator"],
         True, protected),
        ("a super admin, from a peer granting super_admin and administrator", "s.test", ["administrator"], True,
         apply_),
        ("an administrator, from a peer accepting every role through '*'", "w.test", ["administrator"], False,
         protected),
        ("a super admin, from a peer accepting every role through '*'", "w.test", ["subscriber"], True,
         protected),
        ("ordinary roles, from a peer accepting every role through '*'", "w.test", ["subscriber", "shop_manager"],
         False, apply_),
        ("an administrator, from a peer naming it only by a pattern ('admin*')", "x.test", ["administrator"],
         False, protected),
        ("a role matched by a prefix pattern ('shop_*')", "x.test", ["shop_manager"], False, apply_),
    ]
    for act in ALL:
        for desc, iss, roles, super_admin, outcome in matrix:
            want = outcome
            if outcome == apply_:
                want = {"do": "apply"}
                if act == "logout":
                    want["end_sessions"] = ["verifier-1", "verifier-2"]
            add(f"{act}: {desc} ({iss})", opened(act, sample(act), iss),
                facts_for(act, account(roles=roles, super_admin=super_admin)), want)

    # No linked account (4).
    add("create: no account, login and email free", opened("create", sample("create")), {"account": None},
        {"do": "create"})
    add("create: no account, login_taken and email_taken false", opened("create", sample("create")),
        {"account": None, "login_taken": False, "email_taken": False}, {"do": "create"})
    add("create: no account, administrator in data from a peer granting it", opened(
        "create", user("alice", email="alice@example.test", roles=["administrator"]), "p.test"),
        {"account": None}, {"do": "create"})
    add("create: no account, the login belongs to an unlinked local account", opened("create", sample("create")),
        {"account": None, "login_taken": True}, "identity_conflict")
    add("create: no account, the email belongs to an unlinked local account", opened("create", sample("create")),
        {"account": None, "email_taken": True}, "identity_conflict")
    add("create: no account, login and email taken", opened("create", sample("create")),
        {"account": None, "login_taken": True, "email_taken": True}, "identity_conflict")
    add("create: login taken, from a peer accepting every role", opened("create", sample("create"), "w.test"),
        {"account": None, "login_taken": True, "email_taken": False}, "identity_conflict")
    for act in ("update", "password", "meta"):
        add(f"{act}: no linked account", opened(act, sample(act)), {"account": None}, "unknown_account")
    add("update: no linked account, even with the login taken", opened("update", sample("update")),
        {"account": None, "login_taken": True}, "unknown_account")
    add("ticket: no linked account (right binding)", opened("login", sample("login")),
        {"account": None, "binding": binding("alice")}, "unknown_account")
    add("delete: no linked account", opened("delete", sample("delete")), {"account": None}, {"do": "skip"})
    add("delete with reassign: no linked account", opened("delete", user("alice", reassign="bob")),
        {"account": None}, {"do": "skip"})
    add("logout: no linked account", opened("logout", sample("logout")), {"account": None}, {"do": "skip"})
    add("logout of one session: no linked account", opened("logout", user("alice", sid="a-session")),
        {"account": None}, {"do": "skip"})

    # A create whose uid is already linked is applied as an update (6), or refused when protected (5).
    add("create: the uid is linked (its login and email are the account's own)", opened("create", sample("create")),
        {"account": account(), "login_taken": True, "email_taken": True}, {"do": "apply"})
    add("create: the uid is linked, login and email not reported", opened("create", sample("create")),
        {"account": account()}, {"do": "apply"})
    add("create: the uid is linked to an administrator, from a peer that may not grant it",
        opened("create", sample("create")),
        {"account": account(roles=["administrator"]), "login_taken": True, "email_taken": True},
        "protected_account")

    # The account the host found is not the one the message names (3).
    for act in ALL:
        facts = {"account": account("bob")}
        if act == "login":
            facts["binding"] = binding("alice")
        add(f"{act}: the account's uid is another one", opened(act, sample(act)), facts, "identity_conflict")
    add("update: another uid, before the protected check", opened("update", sample("update")),
        {"account": account("bob", roles=["administrator"])}, "identity_conflict")
    add("create: another uid, with login and email taken", opened("create", sample("create")),
        {"account": account("bob"), "login_taken": True, "email_taken": True}, "identity_conflict")

    # Browser binding of tickets (2), decided before the account.
    good_facts = lambda **kw: dict({"account": account(), "binding": binding("alice")}, **kw)  # noqa: E731
    add("ticket: the right binding value, a subscriber", opened("login", sample("login")), good_facts(),
        {"do": "apply"})
    add("ticket with sid and return: the right binding value",
        opened("login", ticket("alice", False, sid="a-session", **{"return": "https://b.test/shop/"})),
        good_facts(), {"do": "apply"})
    add("ticket: no binding cookie (null)", opened("login", sample("login")), good_facts(binding=None),
        "wrong_browser")
    add("ticket: no binding cookie (absent)", opened("login", sample("login")), {"account": account()},
        "wrong_browser")
    add("ticket: another browser's binding value", opened("login", sample("login")),
        good_facts(binding=binding("mallory")), "wrong_browser")
    add("ticket: the bnd itself as the cookie (the hash, not the value)", opened("login", sample("login")),
        good_facts(binding=bnd_of(binding("alice"))), "wrong_browser")
    add("ticket: the binding value with a trailing newline", opened("login", sample("login")),
        good_facts(binding=binding("alice") + "\n"), "wrong_browser")
    add("ticket: a wrong binding, for an unknown account", opened("login", sample("login")),
        {"account": None, "binding": binding("mallory")}, "wrong_browser")
    add("ticket: no binding, for an unknown account", opened("login", sample("login")),
        {"account": None, "binding": None}, "wrong_browser")
    add("ticket: a wrong binding, for another uid", opened("login", sample("login")),
        {"account": account("bob"), "binding": binding("mallory")}, "wrong_browser")
    add("ticket: no binding, for a protected account", opened("login", sample("login")),
        {"account": account(roles=["administrator"]), "binding": None}, "wrong_browser")
    add("ticket: the right binding, for a protected account", opened("login", sample("login")),
        {"account": account(roles=["administrator"]), "binding": binding("alice")}, "protected_account")
    add("ticket: bob's ticket and binding", opened("login", ticket("bob"), "w.test"),
        {"account": account("bob", roles=["customer"]), "binding": binding("bob")}, {"do": "apply"})
    add("ticket: alice's binding value with bob's ticket", opened("login", ticket("bob"), "w.test"),
        {"account": account("bob", roles=["customer"]), "binding": binding("alice")}, "wrong_browser")

    # Logout: which sessions end (6).
    sessions = [
        {"id": "plain-local"},
        {"id": "from-w-same-sid", "iss": "w.test", "sid": "a-session", "peers": ["a.test"]},
        {"id": "a-session", "iss": None, "sid": None, "peers": ["w.test", "a.test"]},
        {"id": "from-a-other-sid", "iss": "a.test", "sid": "a-other"},
        {"id": "from-a", "iss": "a.test", "sid": "a-session"},
        {"id": "local-sent-to-a", "peers": ["a.test"]},
        {"id": "from-a-no-sid", "iss": "a.test"},
        {"id": "from-a-again", "iss": "a.test", "sid": "a-session", "peers": []},
    ]
    add("logout without sid: every session ends", opened("logout", user("alice")),
        {"account": account(sessions=sessions)}, {"do": "apply", "end_sessions": [s["id"] for s in sessions]})
    add("logout with sid: the sessions from that peer session and the local session that sent it a ticket",
        opened("logout", user("alice", sid="a-session")), {"account": account(sessions=sessions)},
        {"do": "apply", "end_sessions": ["a-session", "from-a", "from-a-again"]})
    add("logout with sid from another peer: only its own sessions",
        opened("logout", user("alice", sid="a-session"), "w.test"), {"account": account(sessions=sessions)},
        {"do": "apply", "end_sessions": ["from-w-same-sid", "a-session"]})
    add("logout with sid: a local session named sid that sent no ticket to the sender stays",
        opened("logout", user("alice", sid="s-1")),
        {"account": account(sessions=[{"id": "s-1", "peers": ["w.test"]}, {"id": "x", "iss": "w.test", "sid": "s-1"}])},
        {"do": "apply", "end_sessions": []})
    add("logout with sid: a local session named sid with no peers stays",
        opened("logout", user("alice", sid="s-1")),
        {"account": account(sessions=[{"id": "s-1"}, {"id": "s-2", "peers": []}, {"id": "s-1x", "peers": ["a.test"]}])},
        {"do": "apply", "end_sessions": []})
    add("logout with sid: a session of the same sid from another peer stays",
        opened("logout", user("alice", sid="s-1")),
        {"account": account(sessions=[{"id": "v1", "iss": "p.test", "sid": "s-1"}, {"id": "v2", "iss": "a.test",
                                                                                     "sid": "s-1"}])},
        {"do": "apply", "end_sessions": ["v2"]})
    add("logout with sid: the sid is compared exactly", opened("logout", user("alice", sid="s-1")),
        {"account": account(sessions=[{"id": "v1", "iss": "a.test", "sid": "S-1"},
                                      {"id": "v2", "iss": "a.test", "sid": "s-10"},
                                      {"id": "S-1", "peers": ["a.test"]}])},
        {"do": "apply", "end_sessions": []})
    add("logout with sid: an empty session list", opened("logout", user("alice", sid="s-1")),
        {"account": account(sessions=[])}, {"do": "apply", "end_sessions": []})
    add("logout without sid: an empty session list", opened("logout", user("alice")),
        {"account": account(sessions=[])}, {"do": "apply", "end_sessions": []})
    add("logout without sid: sessions not given (optional)", opened("logout", user("alice")),
        {"account": account()}, {"do": "apply", "end_sessions": []})
    add("logout with sid: an account with no role", opened("logout", user("alice", sid="s-1")),
        {"account": account(roles=[], sessions=[{"id": "v1", "iss": "a.test", "sid": "s-1"}])},
        {"do": "apply", "end_sessions": ["v1"]})
    add("logout with sid: a protected account ends nothing", opened("logout", user("alice", sid="s-1")),
        {"account": account(roles=["administrator"], sessions=[{"id": "v1", "iss": "a.test", "sid": "s-1"}])},
        "protected_account")

    # Refusals of step 1.
    for iss in ("z.test", "b.test"):
        add(f"update from {iss}, not a peer", opened("update", sample("update"), iss), {"account": account()},
            "unknown_peer")
    add("ticket from an unknown peer", opened("login", sample("login"), "z.test"),
        {"account": account(), "binding": binding("alice")}, "unknown_peer")
    add("delete from an unknown peer, for an unknown account", opened("delete", sample("delete"), "z.test"),
        {"account": None}, "unknown_peer")
    for desc, facts in [("an array", [{"account": None}]), ("a string", "{}"), ("null", None), ("a number", 1)]:
        add(f"facts is {desc}", opened("update", sample("update")), facts, "data_invalid")
    add("facts: account is a string", opened("update", sample("update")), {"account": "alice"}, "data_invalid")
    add("facts: account.roles is a string", opened("update", sample("update")),
        {"account": dict(account(), roles="subscriber")}, "data_invalid")
    add("facts: login_taken is a string", opened("create", sample("create")),
        {"account": None, "login_taken": "yes"}, "data_invalid")
    add("facts: binding is a number", opened("login", sample("login")), {"account": account(), "binding": 42},
        "data_invalid")
    add("facts without account (it is required: null when no account is linked)", opened("create", sample("create")),
        {"login_taken": False}, "data_invalid")
    add("facts: an account without uid", opened("update", sample("update")),
        {"account": {k: v for k, v in account().items() if k != "uid"}}, "data_invalid")
    add("facts: an account without roles", opened("update", sample("update")),
        {"account": {k: v for k, v in account().items() if k != "roles"}}, "data_invalid")
    add("facts: account.roles null (never 'no role' by omission)", opened("update", sample("update")),
        {"account": dict(account(), roles=None)}, "data_invalid")
    add("facts: a session without an id", opened("logout", user("alice")),
        {"account": account(sessions=[{"iss": "a.test", "sid": "s-1"}])}, "data_invalid")
    add("opened is not an object", [opened("update", sample("update"))], {"account": account()}, "data_invalid")
    add("opened without data.uid", opened("update", {k: v for k, v in sample("update").items() if k != "uid"}),
        {"account": account()}, "data_invalid")
    add("opened with data.uid a number", opened("update", dict(sample("update"), uid=16)),
        {"account": account()}, "data_invalid")
    add("opened without act", {k: v for k, v in opened("update", sample("update")).items() if k != "act"},
        {"account": account()}, "data_invalid")
    add("opened with data not an object", dict(opened("update", sample("update")), data=[uid("alice")]),
        {"account": account()}, "data_invalid")
    return cases


# ---- the initial sync (§18) ---------------------------------------------------------------

def _sync_account_ok(a):
    if a is None:
        return True
    if not isinstance(a, dict) or set(a) - {"id", "uid", "roles", "super_admin"} or not {"id", "roles"} <= set(a):
        return False
    ok_id = (isinstance(a["id"], str) and a["id"] != "") or (isinstance(a["id"], int) and not isinstance(a["id"], bool) and a["id"] >= 0)
    return ok_id and _is_str_list(a["roles"]) and (a.get("uid") is None or isinstance(a["uid"], str)) \
        and isinstance(a.get("super_admin", False), bool)


def reconcile(config, opened, facts):
    """The receiver's rule of docs/protocol.md §18, written from the text: one outcome per asked
    account (a probe in order; a batch: its creates, its links, then the accounts its policy
    refused, each with its uid), or Refused."""
    peers = {p["id"]: p for p in config["peers"]}
    if opened.get("iss") not in peers:
        raise Refused("unknown_peer")
    peer = peers[opened["iss"]]
    act, data = opened.get("act"), opened.get("data")
    if act == "probe":
        asked = [("probe", a) for a in data["accounts"]]
    elif act == "sync":
        asked = [("create", u) for u in data.get("create", [])] + [("link", l) for l in data.get("link", [])]
    else:
        raise Refused("data_invalid")
    if not isinstance(facts, dict) or set(facts) != {"accounts"} or not isinstance(facts["accounts"], list) \
            or len(facts["accounts"]) != len(asked):
        raise Refused("data_invalid")
    for f in facts["accounts"]:
        if not isinstance(f, dict) or not {"linked", "by_login", "by_email"} <= set(f) <= {"linked", "by_login", "by_email", "invalid"} \
                or not all(_sync_account_ok(f[k]) for k in ("linked", "by_login", "by_email")) \
                or not isinstance(f.get("invalid", False), bool):
            raise Refused("data_invalid")
    privileged = set(config.get("privileged_roles", ["administrator"])) | {"super_admin"}
    claimed, out = set(), []
    for (op, a), f in zip(asked, facts["accounts"]):
        linked, by_login, by_email = f["linked"], f["by_login"], f["by_email"]
        same = lambda x, y: x is not None and y is not None and str(x["id"]) == str(y["id"])  # noqa: E731
        keys = ("l:" + a["login"].lower(), "e:" + a["email"].lower())
        if linked is not None:
            o = ("linked", None) if "uid" in a and same(by_login, linked) and same(by_email, linked) \
                else ("collision", "identity_conflict")
        elif keys[0] in claimed:
            o = ("collision", "login_taken")
        elif keys[1] in claimed:
            o = ("collision", "email_taken")
        elif by_login is None and by_email is None:
            if op == "link":
                o = ("collision", "unknown_account")
            elif any(r in privileged and not _may_grant(config, peer, r) for r in a.get("roles", [])):
                o = ("not_sent", "privileged_role")
            elif f.get("invalid", False):
                o = ("collision", "invalid_account")
            else:
                o = ("create", None)
        elif same(by_login, by_email):
            held = list(by_login["roles"]) + (["super_admin"] if by_login.get("super_admin") else [])
            if by_login.get("uid") is not None:
                o = ("collision", "linked_elsewhere")
            elif not all(_may_grant(config, peer, r) for r in held):
                o = ("collision", "protected_account")
            elif op == "create":
                o = ("collision", "identity_conflict")
            else:
                o = ("link", None)
        elif by_login is not None:
            o = ("collision", "login_taken")
        else:
            o = ("collision", "email_taken")
        if o[0] in ("create", "link"):
            claimed.update(keys)
        result = {"do": o[0]}
        if o[1]:
            result["reason"] = o[1]
        if op != "probe":
            result["uid"] = a["uid"]
        out.append(result)
    for refused in opened.get("dropped", {}).get("accounts", []):
        out.append({"do": "not_sent", "reason": refused["reason"], "uid": refused["uid"]})
    return out


def sync_cases():
    cases = []

    def opened(act, data, iss="a.test", dropped=None):
        o = {"iss": iss, "jti": b64u(label_bytes(f"usersync vector sync jti {len(cases)}", 16)),
             "eid": b64u(label_bytes(f"usersync vector sync eid {len(cases)}", 16)), "exp": NOW + 120, "act": act, "data": data}
        if dropped:
            o["dropped"] = {"roles": [], "meta": [], "pass_hash": False, "accounts": dropped}
        return o

    def add(desc, o, facts, want):
        """`want` is written by hand: the outcomes as (do, reason) pairs, or an error name."""
        try:
            got = reconcile(TARGET_RECEIVER, o, facts)
            assert [(r["do"], r.get("reason")) for r in got] == want, f"{desc}: the rule says {got}, the case says {want}"
            cases.append({"desc": desc, "opened": o, "facts": facts, "expected": got})
        except Refused as refused:
            assert str(refused) == want, f"{desc}: the rule says {refused}, the case says {want}"
            cases.append({"desc": desc, "opened": o, "facts": facts, "error": str(refused)})

    def asked(name, **rest):
        return {"login": name, "email": f"{name}@example.test", **rest}

    def acct(n, roles=("subscriber",), uid_of=None, super_admin=False):
        a = {"id": n, "roles": list(roles)}
        if uid_of:
            a["uid"] = uid(uid_of)
        if super_admin:
            a["super_admin"] = True
        return a

    def f(linked=None, by_login=None, by_email=None):
        return {"linked": linked, "by_login": by_login, "by_email": by_email}

    def one(desc, facts1, want, peer="a.test", **rest):
        add(desc, opened("probe", {"accounts": [asked("alice", **rest)]}, iss=peer), {"accounts": [facts1]}, [want])

    one("nothing there: create", f(), ("create", None))
    one("login and email of one unlinked subscriber: link", f(None, acct(7), acct(7)), ("link", None))
    one("the account ids may be strings", f(None, acct("7"), acct("7")), ("link", None))
    one("an account with no role is linked", f(None, acct(7, ()), acct(7, ())), ("link", None))
    one("the login belongs to an account with another email", f(None, acct(7), None), ("collision", "login_taken"))
    one("the login and the email belong to two accounts", f(None, acct(7), acct(8)), ("collision", "login_taken"))
    one("the email belongs to an account with another login", f(None, None, acct(8)), ("collision", "email_taken"))
    one("the match is an administrator the peer may not grant", f(None, acct(1, ["administrator"]), acct(1, ["administrator"])),
        ("collision", "protected_account"))
    one("the match holds a role outside the peer's policy", f(None, acct(2, ["subscriber", "shop_manager"]),
                                                             acct(2, ["subscriber", "shop_manager"])), ("collision", "protected_account"))
    one("the match is a super admin", f(None, acct(3, super_admin=True), acct(3, super_admin=True)), ("collision", "protected_account"))
    one("an administrator, from a peer that may grant it", f(None, acct(1, ["administrator"]), acct(1, ["administrator"])),
        ("link", None), peer="p.test")
    one("a super admin, from a peer that may grant super_admin", f(None, acct(1, ["administrator"], super_admin=True),
                                                                    acct(1, ["administrator"], super_admin=True)), ("link", None), peer="s.test")
    one("the match is linked to another identity", f(None, acct(7, uid_of="someone"), acct(7, uid_of="someone")),
        ("collision", "linked_elsewhere"))
    one("a new account with a privileged role the peer may not grant", f(), ("not_sent", "privileged_role"), roles=["administrator"])
    one("a new account with an ordinary role outside the policy is created (the role is dropped)", f(), ("create", None),
        roles=["shop_manager"])
    one("the sender's uid is linked here to this very account", f(acct(7, uid_of="alice"), acct(7, uid_of="alice"), acct(7, uid_of="alice")),
        ("linked", None), uid=uid("alice"))
    one("the sender's uid is linked here to another account", f(acct(9, uid_of="alice"), acct(7), acct(7)),
        ("collision", "identity_conflict"), uid=uid("alice"))
    add("two accounts of one probe with one email (case aside): the second collides",
        opened("probe", {"accounts": [asked("alice"), {"login": "alice2", "email": "ALICE@example.test"}]}),
        {"accounts": [f(), f()]}, [("create", None), ("collision", "email_taken")])
    add("two accounts of one probe with one login (case aside): the second collides",
        opened("probe", {"accounts": [asked("bob"), {"login": "BOB", "email": "bob2@example.test"}]}),
        {"accounts": [f(), f()]}, [("create", None), ("collision", "login_taken")])

    new = user("carol", email="carol@example.test", roles=["subscriber"], pass_hash=BCRYPT)
    link = {"uid": uid("dave"), "login": "dave", "email": "dave@example.test"}
    add("a batch creates and links what matches",
        opened("sync", {"create": [new], "link": [link]}),
        {"accounts": [f(), f(None, acct(11), acct(11))]}, [("create", None), ("link", None)])
    add("the same batch again: both already linked, nothing to do",
        opened("sync", {"create": [new], "link": [link]}),
        {"accounts": [f(acct(30, uid_of="carol"), acct(30, uid_of="carol"), acct(30, uid_of="carol")),
                      f(acct(11, uid_of="dave"), acct(11, uid_of="dave"), acct(11, uid_of="dave"))]},
        [("linked", None), ("linked", None)])
    add("a batch's create never merges into an account that appeared since the report",
        opened("sync", {"create": [new]}), {"accounts": [f(None, acct(12), acct(12))]}, [("collision", "identity_conflict")])
    add("a batch's link of an account deleted since the report",
        opened("sync", {"link": [link]}), {"accounts": [f()]}, [("collision", "unknown_account")])
    add("a batch's link of an account made an administrator since the report",
        opened("sync", {"link": [link]}), {"accounts": [f(None, acct(11, ["administrator"]), acct(11, ["administrator"]))]},
        [("collision", "protected_account")])
    add("a batch's link whose email changed since the report",
        opened("sync", {"link": [link]}), {"accounts": [f(None, acct(11), None)]}, [("collision", "login_taken")])
    add("accounts the policy refused on opening come last, not sent",
        opened("sync", {"link": [link]}, dropped=[{"uid": uid("erin"), "reason": "privileged_role"}]),
        {"accounts": [f(None, acct(11), acct(11))]}, [("link", None), ("not_sent", "privileged_role")])
    add("a batch's create of a login or email this host would not take as it is (invalid): not created",
        opened("sync", {"create": [new]}), {"accounts": [dict(f(), invalid=True)]}, [("collision", "invalid_account")])
    add("a probe of such an account reports it, beside a valid one (invalid false)",
        opened("probe", {"accounts": [asked("alice"), asked("bob")]}), {"accounts": [dict(f(), invalid=True), dict(f(), invalid=False)]},
        [("collision", "invalid_account"), ("create", None)])
    add("invalid matters only for a create: an existing matching account is still linked",
        opened("sync", {"link": [link]}), {"accounts": [dict(f(None, acct(11), acct(11)), invalid=True)]}, [("link", None)])
    add("facts: invalid is not a boolean", opened("probe", {"accounts": [asked("alice")]}),
        {"accounts": [dict(f(), invalid="yes")]}, "data_invalid")
    add("facts for fewer accounts than asked", opened("sync", {"create": [new], "link": [link]}), {"accounts": [f()]}, "data_invalid")
    add("facts without a lookup", opened("probe", {"accounts": [asked("alice")]}), {"accounts": [{"linked": None, "by_login": None}]},
        "data_invalid")
    add("facts naming an account without roles", opened("probe", {"accounts": [asked("alice")]}),
        {"accounts": [f(None, {"id": 7}, {"id": 7})]}, "data_invalid")
    add("a probe from an unknown peer", opened("probe", {"accounts": [asked("alice")]}, iss="z.test"), {"accounts": [f()]}, "unknown_peer")
    add("not a probe or batch", opened("update", user("alice", email="alice@example.test")), {"accounts": []}, "data_invalid")
    add("every account of a batch refused on opening: each answered not sent, nothing asked",
        opened("sync", {}, dropped=[{"uid": uid("erin"), "reason": "privileged_role"}, {"uid": uid("frank"), "reason": "protected_meta"}]),
        {"accounts": []}, [("not_sent", "privileged_role"), ("not_sent", "protected_meta")])
    return cases


def write_targets(name, cases):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump({"generated_by": "tests/vectors/generate.py (Python cryptography, independent of the crate)",
                   "receiver_config": TARGET_RECEIVER, "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


def write(name, cases):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump({"generated_by": "tests/vectors/generate.py (Python cryptography, independent of the crate)",
                   "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--out":  # write elsewhere, to compare
        HERE = sys.argv[2]
    write("envelope-generate.json", generate_cases())
    write("envelope-verify.json", verify_cases())
    write("envelope-invalid.json", invalid_cases())
    write("secret.json", secret_cases())
    write_messages("messages-verify.json", message_verify_cases())
    write_messages("messages-invalid.json", message_invalid_cases())
    write_targets("targets.json", target_cases())
    write_targets("sync.json", sync_cases())
