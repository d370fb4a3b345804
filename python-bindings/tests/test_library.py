"""Finding and loading the library: the lookup order, the header as cffi's input, the version
check, and loud failures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import usersync
from usersync import _library
from conftest import ROOT


def test_the_loaded_library_and_its_header() -> None:
    lib = usersync.library()
    assert lib is usersync.library(), "loaded once per process"
    assert os.path.isfile(lib.path) and lib.path in usersync.candidates() + [os.environ.get(usersync.ENV)]
    assert os.path.basename(lib.header_path) == "usersync.h"
    assert usersync.library_version() == lib.version
    assert lib.version.split(".")[:2] == usersync.__version__.split(".")[:2]
    cargo = (ROOT / "Cargo.toml").read_text()
    assert re.search(r'^version = "' + re.escape(usersync.__version__) + '"', cargo, re.M), "the package's version is the crate's"


def test_the_cdef_is_the_committed_header() -> None:
    header = (ROOT / "include" / "usersync.h").read_text()
    source = _library.cdef_source(header)
    assert "#" not in source and "//" not in source and "/*" not in source
    # Every function the header declares is one the binding sees (no second copy of them).
    declared = set(re.findall(r"\b(usersync_\w+)\(", header))
    lib = usersync.library()
    assert declared and declared <= set(dir(lib.c))
    assert len(declared) >= 45


def test_lookup_order() -> None:
    saved = os.environ.pop(usersync.ENV, None)
    try:
        found = usersync.candidates()
        assert found[0].endswith(os.path.join("usersync", "_lib", "libusersync.so"))
        if _library._IN_REPO:
            assert found[1] == str(ROOT / "target" / "release" / "libusersync.so")
        os.environ[usersync.ENV] = "/somewhere/libusersync.so"
        assert usersync.candidates() == ["/somewhere/libusersync.so"], "the environment variable alone"
        assert usersync.candidates("/given.so") == ["/given.so"], "an explicit path alone"
    finally:
        os.environ.pop(usersync.ENV, None)
        if saved is not None:
            os.environ[usersync.ENV] = saved


def test_a_missing_library_fails_loudly() -> None:
    before = usersync.library()
    with pytest.raises(usersync.LibraryUnavailable) as e:
        usersync.load("/nonexistent/libusersync.so")
    assert "/nonexistent/libusersync.so" in str(e.value) and "taken at its word" in str(e.value)
    assert e.value.reason == "library_unavailable" and e.value.code == 0
    assert usersync.library() is before, "a failed load changes nothing"


def test_a_wrong_environment_path_fails_loudly_and_tries_nothing_else() -> None:
    # In a fresh process: USERSYNC_LIBRARY names a missing file, while a working copy exists.
    code = "import usersync\ntry:\n    usersync.secret.uid()\nexcept usersync.LibraryUnavailable as e:\n    print('refused:', e)\n"
    env = dict(os.environ, **{usersync.ENV: "/nonexistent/libusersync.so"})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused: libusersync.so was not found. Tried: /nonexistent/libusersync.so.")
    assert usersync.ENV in out.stdout


def test_the_environment_path_is_used(tmp_path: Path) -> None:
    lib = usersync.library()
    copy = tmp_path / "libusersync.so"
    shutil.copy(lib.path, copy)
    shutil.copy(lib.header_path, tmp_path / "usersync.h")
    code = "import usersync\nprint(usersync.library().path, usersync.library().header_path)\n"
    env = dict(os.environ, **{usersync.ENV: str(copy)})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(copy), str(tmp_path / "usersync.h")]


def test_not_a_library(tmp_path: Path) -> None:
    fake = tmp_path / "libusersync.so"
    fake.write_text("not an ELF file")
    with pytest.raises(usersync.LibraryUnavailable, match="cannot load"):
        usersync.load(fake)


def test_another_version_is_refused() -> None:
    with pytest.raises(usersync.LibraryUnavailable) as e:
        usersync.load(usersync.library().path, expected_version="9.9.0")
    assert "does not match this binding, written for 9.9.0" in str(e.value)
    # Same major.minor, another patch: accepted.
    major_minor = ".".join(usersync.library().version.split(".")[:2])
    usersync.load(usersync.library().path, expected_version=major_minor + ".99")


def test_a_header_the_library_does_not_match(tmp_path: Path) -> None:
    # The header beside the library is the one read; a function the library lacks fails the load.
    lib = usersync.library()
    shutil.copy(lib.path, tmp_path / "libusersync.so")
    header = Path(lib.header_path).read_text()
    header = header.replace("#endif", "size_t usersync_not_in_the_library(void);\n#endif")
    (tmp_path / "usersync.h").write_text(header)
    with pytest.raises(usersync.LibraryUnavailable, match="lacks usersync_not_in_the_library"):
        usersync.load(tmp_path / "libusersync.so")
    (tmp_path / "usersync.h").write_text("typedef struct { int; } broken")
    with pytest.raises(usersync.LibraryUnavailable, match="cffi cannot parse"):
        usersync.load(tmp_path / "libusersync.so")


def test_loading_another_copy_keeps_old_objects_working(tmp_path: Path) -> None:
    ring = usersync.Keyring(usersync.secret.generate())
    shutil.copy(usersync.library().path, tmp_path / "libusersync.so")
    loaded = usersync.load(tmp_path / "libusersync.so")
    assert usersync.library() is loaded and loaded.path == str(tmp_path / "libusersync.so")
    assert ring.open("x", ring.seal("x", b"still works")) == b"still works"
    newer = usersync.Keyring(usersync.secret.generate())
    assert newer.open("", newer.seal("", "")) == b""
