"""Shared helpers: the repository's JSON vectors (tests/vectors/, the same files the Rust, C and
PHP suites run) and two linked contexts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import usersync

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
ALL_ACTIONS = ["create", "update", "delete", "password", "meta", "logout", "login"]


def pytest_report_header(config: Any) -> List[str]:
    lib = usersync.library()
    return [f"usersync {usersync.__version__} from {Path(usersync.__file__).parent}", f"library {lib.version}: {lib.path}"]


def load(name: str) -> Dict[str, Any]:
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def cases(name: str) -> List[Dict[str, Any]]:
    return load(name)["cases"]  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _restore_library() -> Iterator[None]:
    """Tests that load another library put the process-wide one back."""
    before = usersync.library()
    yield
    if usersync.library() is not before:
        usersync._library._instance = before


@pytest.fixture()
def secret() -> str:
    return usersync.secret.generate()


@pytest.fixture()
def pair(secret: str) -> "tuple[usersync.Context, usersync.Context]":
    """a.test sends everything to b.test, which accepts everything but delete from 127.0.0.0/8."""
    a = usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
        {"id": "b.test", "url": "https://b.test", "secrets": [secret],
         "send": {"actions": ALL_ACTIONS, "roles": ["subscriber", "administrator"], "meta": ["billing_*"]}},
    ]})
    b = usersync.Context({"site_id": "b.test", "url": "https://b.test", "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secret],
         "accept": {"actions": ["create", "update", "password", "meta", "logout", "login"], "roles": ["*"], "meta": ["billing_*"]},
         "ip_allow": ["127.0.0.0/8"]},
    ]})
    return a, b
