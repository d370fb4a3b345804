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
