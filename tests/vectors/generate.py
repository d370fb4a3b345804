#!/usr/bin/env python3
"""Makes the usersync envelope test vectors with an implementation independent of the crate.

Everything here is built from Python's `cryptography` (HKDF, AES-256-CBC, PKCS#7) and the
standard library (hmac, hashlib, base64), following docs/protocol.md. The Rust, C and PHP suites
all run the JSON files this writes; none of them produced any byte of it.

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
        if dropped:
            expected["dropped"] = dropped
        cases.append({"desc": desc, "typ": c["typ"], "remote_ip": ip,
                      "envelope": message(c, secret=secret, n=5000 + n), "expected": expected})

    user = {"login": "alice", "email": "alice@a.test",
            "fields": {"display_name": "Alice Ø. Example", "locale": "nb_NO", "description": "line 1\nline 2"},
            "roles": ["subscriber", "editor"], "meta": {"billing_city": ["Oslo"], "billing_phone": []},
            "pass_hash": BCRYPT}
    add("create with fields, roles, meta and a bcrypt hash", claims("create", user), user)
    add("update from an IPv6 address in ip_allow", claims("update", {"login": "alice", "email": "a2@a.test"}),
        {"login": "alice", "email": "a2@a.test"}, ip="2001:db8::1")
    add("update from an IPv4-mapped IPv6 address", claims("update", {"login": "alice", "email": "a2@a.test"}),
        {"login": "alice", "email": "a2@a.test"}, ip="::ffff:192.0.2.10")
    add("roles and meta outside the accept policy are dropped and reported",
        claims("update", {"login": "bob", "email": "bob@a.test", "roles": ["subscriber", "shop_manager"],
                          "meta": {"billing_zip": ["0150"], "nickname": ["b"]}}),
        {"login": "bob", "email": "bob@a.test", "roles": ["subscriber"], "meta": {"billing_zip": ["0150"]}},
        dropped={"roles": ["shop_manager"], "meta": ["nickname"], "pass_hash": False})
    add("delete with reassign", claims("delete", {"login": "bob", "reassign": "alice"}),
        {"login": "bob", "reassign": "alice"})
    add("delete with reassign null", claims("delete", {"login": "bob", "reassign": None}), {"login": "bob"})
    add("password with a phpass hash", claims("password", {"login": "alice", "pass_hash": PHPASS}),
        {"login": "alice", "pass_hash": PHPASS})
    add("meta set and delete", claims("meta", {"login": "alice", "set": {"billing_city": ["Bergen"]},
                                               "delete": ["billing_phone"]}),
        {"login": "alice", "set": {"billing_city": ["Bergen"]}, "delete": ["billing_phone"]})
    add("logout of one session", claims("logout", {"login": "alice", "sid": "9f86d081884c7d65"}),
        {"login": "alice", "sid": "9f86d081884c7d65"})
    add("logout everywhere", claims("logout", {"login": "alice"}), {"login": "alice"})
    add("issued 60 s in the future: within the clock skew", claims("logout", {"login": "alice"}, iat=NOW + 60),
        {"login": "alice"})
    add("expired 60 s ago: within the clock skew", claims("logout", {"login": "alice"}, iat=NOW - 180),
        {"login": "alice"})
    add("a pass_hash from a peer whose password action is not accepted is dropped",
        claims("update", {"login": "carol", "email": "c@c.test", "pass_hash": BCRYPT, "roles": ["editor"]},
               iss="c.test"),
        {"login": "carol", "email": "c@c.test", "roles": ["editor"]}, secret=1, ip=None,
        dropped={"roles": [], "meta": [], "pass_hash": True})
    add("login ticket with a return URL on a peer (normalised)",
        claims("login", {"login": "alice", "remember": True, "sid": "s1", "return": "https://C.test:8443/x?y=1"},
               typ="ticket", life=60),
        {"login": "alice", "remember": True, "sid": "s1", "return": "https://c.test:8443/x?y=1"}, ip=None)
    add("login ticket returning to this site",
        claims("login", {"login": "alice", "remember": False, "return": "https://b.test/wp-admin/"},
               typ="ticket", life=120),
        {"login": "alice", "remember": False, "return": "https://b.test/wp-admin/"}, ip=None)
    return cases


# The errors decided before the time check (see docs/protocol.md): hosts without a test clock
# can run these cases with their real clock.
BEFORE_TIME = {"too_large", "malformed_encoding", "malformed_envelope", "unsupported_version",
               "authentication_failed", "malformed_json", "claims_invalid", "wrong_site", "lifetime_too_long"}


def message_invalid_cases():
    cases = []

    def add(desc, error, *, c=None, typ=None, ip="192.0.2.10", envelope=None, **seal_args):
        n = len(cases)
        c = c if c is not None else claims("logout", {"login": "alice"})
        typ = typ or (c.get("typ") if isinstance(c, dict) and c.get("typ") in ("action", "ticket") else "action")
        if envelope is None:
            envelope = message(c, typ=seal_args.pop("seal_typ", typ), n=6000 + n, **seal_args)
        cases.append({"desc": desc, "typ": typ, "remote_ip": ip, "envelope": envelope, "error": error,
                      "before_time_check": error in BEFORE_TIME})

    good = claims("logout", {"login": "alice"})
    env = bytearray(base64.urlsafe_b64decode(message(good, n=6999) + "=="))
    env[40] ^= 4
    add("tampered ciphertext", "authentication_failed", envelope=b64u(bytes(env)))
    add("sealed for the other direction (b to a)", "authentication_failed", aud="a.test", iss="b.test",
        c=claims("logout", {"login": "alice"}, iss="b.test", aud="a.test"))
    add("sealed for another site (a to c)", "authentication_failed", aud="c.test",
        c=claims("logout", {"login": "alice"}, aud="c.test"))
    add("a ticket presented as an action", "authentication_failed",
        c=claims("login", {"login": "alice", "remember": True}, typ="ticket"), typ="action", seal_typ="ticket")
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
    add("v is 2", "claims_invalid", c=dict(good, v=2))
    add("jti is not 16 bytes", "claims_invalid", c=dict(good, jti="AAAA"))
    add("iat is not an integer", "claims_invalid", c=dict(good, iat=NOW + 0.5))
    add("data is not an object", "claims_invalid", c=dict(good, data=["alice"]))
    add("typ inside says ticket, sealed as an action", "claims_invalid",
        c=claims("login", {"login": "alice", "remember": True}, typ="ticket"), typ="action", seal_typ="action")
    add("iss names another site", "wrong_site", c=dict(good, iss="c.test"), iss="a.test")
    add("aud names another site", "wrong_site", c=dict(good, aud="c.test"))
    add("lifetime 301 s for an action", "lifetime_too_long", c=claims("logout", {"login": "a"}, life=301))
    add("lifetime 121 s for a ticket", "lifetime_too_long",
        c=claims("login", {"login": "a", "remember": True}, typ="ticket", life=121))
    add("exp before iat", "lifetime_too_long", c=claims("logout", {"login": "a"}, life=-1))
    add("expired 61 s ago", "expired", c=claims("logout", {"login": "a"}, iat=NOW - 181))
    add("issued 61 s in the future", "not_yet_valid", c=claims("logout", {"login": "a"}, iat=NOW + 61))
    add("from an IP outside ip_allow", "ip_not_allowed", ip="203.0.113.5")
    add("from an IPv6 address outside ip_allow", "ip_not_allowed", ip="2001:db9::1")
    add("without a remote IP where ip_allow is set", "ip_not_allowed", ip=None)
    add("an unknown action", "unknown_action", c=claims("promote", {"login": "a"}))
    add("login as a server-to-server action", "unknown_action", c=claims("login", {"login": "a", "remember": True}))
    add("a ticket carrying an update", "unknown_action",
        c=claims("update", {"login": "a", "email": "a@a.test"}, typ="ticket", life=60), ip=None)
    add("an action c may not send (delete)", "action_not_accepted",
        c=claims("delete", {"login": "a"}, iss="c.test"), secret=1, ip=None)
    add("administrator without allow_privileged", "privileged_role",
        c=claims("update", {"login": "a", "email": "a@a.test", "roles": ["administrator"]}))
    add("administrator from a peer accepting every role ('*')", "privileged_role",
        c=claims("update", {"login": "a", "email": "a@a.test", "roles": ["administrator"]}, iss="c.test"),
        secret=1, ip=None)
    for key in ["wp_capabilities", "wp_3_capabilities", "wp_user_level", "session_tokens", "usersync_sid"]:
        add(f"protected meta key {key} in update", "protected_meta",
            c=claims("update", {"login": "a", "email": "a@a.test", "meta": {key: ["x"]}}))
    add("protected meta key in a meta delete", "protected_meta",
        c=claims("meta", {"login": "a", "delete": ["wp_capabilities"]}))
    for plain in ["hunter2", "correct horse battery staple", "5f4dcc3b5aa765d61d8327deb882cf99", "$P$short",
                  "$2y$10$tooshort"]:
        add(f"pass_hash {plain!r} is not a hash", "pass_hash_format",
            c=claims("password", {"login": "a", "pass_hash": plain}))
    add("an unknown field in data", "unknown_field",
        c=claims("update", {"login": "a", "email": "a@a.test", "user_pass": "x"}))
    add("an unknown profile field", "unknown_field",
        c=claims("update", {"login": "a", "email": "a@a.test", "fields": {"user_level": "10"}}))
    add("an unknown field in a ticket", "unknown_field",
        c=claims("login", {"login": "a", "remember": True, "admin": True}, typ="ticket", life=60), ip=None)
    add("an empty login", "data_invalid", c=claims("delete", {"login": ""}))
    add("a login of 61 characters", "data_invalid", c=claims("delete", {"login": "x" * 61}))
    add("an email without @", "data_invalid", c=claims("update", {"login": "a", "email": "a.test"}))
    add("roles as a string", "data_invalid",
        c=claims("update", {"login": "a", "email": "a@a.test", "roles": "editor"}))
    add("meta values nested beyond the schema", "data_invalid",
        c=claims("update", {"login": "a", "email": "a@a.test", "meta": {"billing_x": [["x"]]}}))
    add("remember is not a boolean", "data_invalid",
        c=claims("login", {"login": "a", "remember": "yes"}, typ="ticket", life=60), ip=None)
    for bad in ["//evil.test", "https://b.test.evil.test/", "javascript:alert(1)", "http://b.test/",
                "https://a.test@evil.test/", "https://c.test/"]:
        add(f"ticket return URL {bad!r}", "return_url_refused",
            c=claims("login", {"login": "a", "remember": True, "return": bad}, typ="ticket", life=60), ip=None)
    return cases


def write_messages(name, cases):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump({"generated_by": "tests/vectors/generate.py (Python cryptography, independent of the crate)",
                   "receiver_config": RECEIVER, "now": NOW, "cases": cases}, f, indent=1, ensure_ascii=False)
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
