"""The type hints: the package passes mypy --strict, and a host's code sees its types (the
installed package ships py.typed), including a mistake mypy must catch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import usersync

USE = '''
import usersync

ctx = usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": []})
out: list[usersync.Outgoing] = ctx.build({"eid": usersync.secret.uid(), "act": "update", "data": {}})
opened: usersync.Opened = ctx.open_action(out[0]["message"], None)
verdict: usersync.Verdict = ctx.check_target(opened, {"account": None})
ring = usersync.Keyring([usersync.secret.generate()])
text: str = ring.seal("aad", b"x")
plain: bytes = ring.open("aad", text)
wp = usersync.WordPressSite({})
age: int = wp.verify_nonce("n", "a", 1, "")
try:
    usersync.secret.check("usk1_")
except usersync.ConfigError as e:
    code: int = e.code
    reason: str = e.reason
'''


def mypy(tmp_path: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    pytest.importorskip("mypy")
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


def test_the_package_passes_mypy_strict(tmp_path: Path) -> None:
    # The project's configuration: the Django app is checked in the Django venv instead
    # (django_site/tests/test_types.py), with Django's types.
    out = mypy(tmp_path, "--config-file", str(Path(__file__).resolve().parents[1] / "pyproject.toml"), "-p", "usersync")
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_host_sees_the_types(tmp_path: Path) -> None:
    assert (Path(usersync.__file__).parent / "py.typed").is_file()
    (tmp_path / "host.py").write_text(USE)
    out = mypy(tmp_path, "host.py")
    assert out.returncode == 0, out.stdout + out.stderr
    (tmp_path / "wrong.py").write_text(USE + "wrong: int = ring.seal('aad', b'x')\nusersync.secret.nonce('32')\n")
    out = mypy(tmp_path, "wrong.py")
    assert out.returncode == 1
    assert 'Incompatible types in assignment (expression has type "str", variable has type "int")' in out.stdout
    assert 'Argument 1 to "nonce" has incompatible type "str"; expected "int"' in out.stdout
