"""Passwords against another host's hash (docs/protocol.md §17) through the binding: every case
of the shared vector files, whose hashes and verdicts real WordPress 6.8 and 6.1 and Django 5.2
made; refusals of hashes the library cannot check."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

import usersync
from conftest import cases

FILES = ["passwords-wordpress-6.8.json", "passwords-wordpress-6.1.json", "passwords-django.json"]


def all_cases() -> List[Dict[str, Any]]:
    return [dict(case, file=name) for name in FILES for case in cases(name)]


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: f"{c['file']}:{c['hash'][:12]}:{c['matches']}")
def test_vector_verdicts(case: Dict[str, Any]) -> None:
    assert usersync.secret.verify_password(case["password"], case["hash"]) is case["matches"]


def test_the_vectors_have_both_verdicts_for_every_maker() -> None:
    for name in FILES:
        assert {c["matches"] for c in cases(name)} == {True, False}, name


@pytest.mark.parametrize(
    "hash",
    [
        "5f4dcc3b5aa765d61d8327deb882cf99",  # bare MD5: could be a 32-character password
        "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "pbkdf2_sha256$9000000$salt$p2rMmGJTbegdbSDgvKDBRVHRTRej33UcvSgT0eeZEB8=",  # over the round cap
        "plaintext password",
        "",
    ],
)
def test_hashes_it_cannot_check_are_pass_hash_format(hash: str) -> None:
    with pytest.raises(usersync.MessageRefused) as e:
        usersync.secret.verify_password("password", hash)
    assert e.value.reason == "pass_hash_format"
