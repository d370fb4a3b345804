"""Sealing and opening envelopes: the binding (libusersync through cffi) against pure Python
(`cryptography`'s AES-256-CBC, the standard library's hmac and base64), in one run.

Both do the whole of docs/protocol.md §4-5 per call: a fresh IV, PKCS#7, AES-256-CBC, HMAC-SHA256
over ver ‖ kid ‖ iv ‖ ct ‖ aad ‖ len(aad), the text form; opening checks the size, decodes
strictly (alphabet, length, canonical trailing bits), checks version, layout and key id,
compares the tag in constant time before decrypting and checks the padding. Keys are derived
once for both. The pure implementation is first checked against the binding and the vectors.

    python3 python-bindings/bench/envelope.py [--quick]

Prints microseconds per operation (best of several rounds) and the ratio pure / binding (above 1:
the binding is faster). Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
try:
    import usersync
except ImportError:  # run from the repository without installing: the package's source
    sys.path.insert(0, str(HERE.parent / "src"))
    import usersync

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAX_TEXT = 1 << 20
_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")
_INDEX = {c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}


class Refused(Exception):
    pass


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.digest(b"usersync/v1", secret, "sha256")
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([i]), "sha256")
        out += block
        i += 1
    return out[:length]


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _b64decode_strict(text: bytes) -> bytes:
    """Canonical unpadded base64url only (docs/protocol.md §5), as fast as the standard library
    goes: binascii's strict mode (Python 3.11+) refuses every character outside the alphabet."""
    n = len(text)
    if n % 4 == 1 or b"+" in text or b"/" in text or b"=" in text:
        raise Refused("malformed_encoding")
    padded = text.translate(_TO_STANDARD) + b"=" * (-n % 4)
    try:
        if sys.version_info >= (3, 11):
            raw = binascii.a2b_base64(padded, strict_mode=True)
        elif _ALPHABET.fullmatch(text):
            raw = binascii.a2b_base64(padded)
        else:
            raise Refused("malformed_encoding")
    except binascii.Error:
        raise Refused("malformed_encoding") from None
    if n % 4:
        # Canonical: the unused low bits of the last character are zero.
        unused = 4 if n % 4 == 2 else 2
        if _INDEX[text[-1]] & ((1 << unused) - 1):
            raise Refused("malformed_encoding")
    return raw


class PureKeyring:
    """One secret, in Python and `cryptography` only (the generator of tests/vectors does the
    same with its own code)."""

    def __init__(self, secret: str) -> None:
        raw = _b64decode_strict(secret[5:].encode())
        self.enc = _hkdf(raw, b"usersync/v1 enc", 32)
        self.mac = _hkdf(raw, b"usersync/v1 mac", 32)
        self.kid = _hkdf(raw, b"usersync/v1 kid", 8)
        self.aes = algorithms.AES(self.enc)

    def seal_binary(self, aad: bytes, plaintext: bytes) -> bytes:
        iv = os.urandom(16)
        pad = 16 - len(plaintext) % 16
        enc = Cipher(self.aes, modes.CBC(iv)).encryptor()
        ct = enc.update(plaintext + bytes([pad]) * pad) + enc.finalize()
        head = b"\x01" + self.kid + iv + ct
        tag = hmac.digest(self.mac, head + aad + len(aad).to_bytes(8, "big"), "sha256")
        return head + tag

    def seal(self, aad: bytes, plaintext: bytes) -> str:
        text = base64.urlsafe_b64encode(self.seal_binary(aad, plaintext)).rstrip(b"=")
        if len(text) > MAX_TEXT:
            raise Refused("too_large")
        return text.decode("ascii")

    def open_binary(self, aad: bytes, env: bytes) -> bytes:
        if not env:
            raise Refused("malformed_envelope")
        if env[0] != 1:
            raise Refused("unsupported_version")
        if len(env) < 73 or (len(env) - 57) % 16:
            raise Refused("malformed_envelope")
        if env[1:9] != self.kid:
            raise Refused("authentication_failed")
        body, tag = env[:-32], env[-32:]
        if not hmac.compare_digest(hmac.digest(self.mac, body + aad + len(aad).to_bytes(8, "big"), "sha256"), tag):
            raise Refused("authentication_failed")
        dec = Cipher(self.aes, modes.CBC(env[9:25])).decryptor()
        padded = dec.update(env[25:-32]) + dec.finalize()
        pad = padded[-1]
        if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
            raise Refused("authentication_failed")
        return padded[:-pad]

    def open(self, aad: bytes, text: str) -> bytes:
        raw = text.encode("ascii", "replace")
        if len(raw) > MAX_TEXT:
            raise Refused("too_large")
        return self.open_binary(aad, _b64decode_strict(raw))


def check(pure: PureKeyring, ring: usersync.Keyring) -> None:
    """The pure implementation speaks the same envelope as the library, both ways, and opens
    the generator's vectors."""
    aad = b"usersync/v1|action|a.test|b.test"
    for n in (0, 1, 15, 16, 17, 1024):
        plain = os.urandom(n)
        assert ring.open(aad, pure.seal(aad, plain)) == plain
        assert pure.open(aad, ring.seal(aad, plain)) == plain
        assert ring.open_binary(aad, pure.seal_binary(aad, plain)) == plain
        assert pure.open_binary(aad, ring.seal_binary(aad, plain)) == plain
    text = ring.seal(aad, b"x")
    for bad in (text + "A", text[:-1] + ("B" if text[-1] == "A" else "A"), text + "=", "B" + text[1:], text + "\n",
                text[:8] + " " + text[9:], text[:8] + "+" + text[9:], text[:8] + "." + text[9:], text[:-3] + "=" + text[-2:]):
        try:
            pure.open(aad, bad)
        except Refused:
            pass
        else:
            raise AssertionError(f"pure opened {bad!r}")
    vectors = json.loads((HERE.parents[1] / "tests" / "vectors" / "envelope-generate.json").read_text())
    for case in vectors["cases"]:
        p = PureKeyring(case["secret"])
        assert p.enc.hex() == case["enc_key_hex"] and p.mac.hex() == case["mac_key_hex"] and p.kid.hex() == case["kid_hex"]
        assert p.open(bytes.fromhex(case["aad_hex"]), case["envelope"]).hex() == case["plaintext_hex"]


def best(f: Callable[[], object], number: int, rounds: int) -> float:
    """Microseconds per call, the best of ``rounds`` rounds of ``number`` calls."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(number):
            f()
        times.append(time.perf_counter() - t)
    return min(times) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: few iterations")
    args = ap.parse_args()
    secret = usersync.secret.generate()
    ring = usersync.Keyring(secret)
    pure = PureKeyring(secret)
    check(pure, ring)
    aad = b"usersync/v1|action|shop.example.com|blog.example.com"
    rounds = 2 if args.quick else 7
    lib = usersync.library()
    print(f"usersync {lib.version} ({lib.path}), Python {platform.python_version()}, "
          f"cryptography {__import__('cryptography').__version__}, {rounds} rounds, best round")
    print(f"{'size':>6} {'form':<6} {'op':<5} {'binding µs':>11} {'pure µs':>9} {'pure/binding':>13}")
    results: List[Tuple[str, float]] = []
    for size, number in ((64, 20000), (1024, 20000), (65536, 500)):
        if args.quick:
            number = max(10, number // 1000)
        plain = os.urandom(size)
        text, binary = ring.seal(aad, plain), ring.seal_binary(aad, plain)
        label = f"{size // 1024} KiB" if size >= 1024 else f"{size} B"
        ops: Dict[str, Tuple[Callable[[], object], Callable[[], object]]] = {
            "text seal": (lambda: ring.seal(aad, plain), lambda: pure.seal(aad, plain)),
            "text open": (lambda: ring.open(aad, text), lambda: pure.open(aad, text)),
            "text both": (lambda: ring.open(aad, ring.seal(aad, plain)), lambda: pure.open(aad, pure.seal(aad, plain))),
            "binary both": (lambda: ring.open_binary(aad, ring.seal_binary(aad, plain)),
                            lambda: pure.open_binary(aad, pure.seal_binary(aad, plain))),
        }
        for name, (b, p) in ops.items():
            form, op = name.split()
            # Interleaved rounds: the two sides see the same load.
            tb = tp = float("inf")
            for _ in range(rounds):
                tb = min(tb, best(b, number, 1))
                tp = min(tp, best(p, number, 1))
            print(f"{label:>6} {form:<6} {op:<5} {tb:11.2f} {tp:9.2f} {tp / tb:12.2f}×")
            if op == "both" and form == "text":
                results.append((label, tp / tb))
    print("seal+open (text): " + ", ".join(f"{label}: pure Python takes {ratio:.2f}× the binding's time" for label, ratio in results))


if __name__ == "__main__":
    main()
