"""The one place where Python meets libusersync: finds and loads the library once per process
(cffi in ABI mode, declared from the committed header itself), checks its version, and turns
result codes into exceptions. No cffi object leaves the binding.

The library file is, in order: the path given to :func:`load`; the environment variable
``USERSYNC_LIBRARY`` (taken at its word: a wrong path fails loudly, no other copy is tried);
the copy bundled in the package (``usersync/_lib/libusersync.so``, as the wheel ships it); a
build in the repository's ``target/release/``. The header ``usersync.h`` is read from beside
the library, else the bundled ``usersync/_lib/``, else the repository's ``include/``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union, cast

import cffi

from ._version import __version__
from .errors import Error, LibraryUnavailable, error_class

__all__ = ["Library", "load", "get", "candidates", "ENV"]

#: The environment variable naming the library file.
ENV = "USERSYNC_LIBRARY"
#: The library's file name.
LIBRARY_FILE = "libusersync.so"
HEADER_FILE = "usersync.h"

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_lib"
# python-bindings/src/usersync/ -> the repository root; only a repository when it looks like one
# (an installed wheel lives in site-packages, where this is some unrelated directory).
_REPO = _PACKAGE.parents[2]
_IN_REPO = (_REPO / "Cargo.toml").is_file() and (_REPO / "include" / HEADER_FILE).is_file()

# Size of the buffer for a constructor's configuration detail (the library cuts it to this).
_DETAIL_CAP = 1024

Bytesish = Union[str, bytes, bytearray, memoryview]


def cdef_source(header: str) -> str:
    """The header as cffi's parser takes it: without comments and preprocessor lines
    (``#include``, the include guard); the declarations themselves are unchanged."""
    text = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def candidates(library: Optional[Union[str, "os.PathLike[str]"]] = None) -> List[str]:
    """Where the library is looked for, in order: the one given (or ``USERSYNC_LIBRARY``)
    alone, else the bundled copy and the repository's build."""
    if library is None:
        library = os.environ.get(ENV) or None
    if library is not None:
        return [os.fspath(library)]
    found = [str(_BUNDLED / LIBRARY_FILE)]
    if _IN_REPO:
        found.append(str(_REPO / "target" / "release" / LIBRARY_FILE))
    return found


def _headers_for(library: str) -> List[str]:
    found = [str(Path(library).resolve().parent / HEADER_FILE), str(_BUNDLED / HEADER_FILE)]
    if _IN_REPO:
        found.append(str(_REPO / "include" / HEADER_FILE))
    return found


def _locate(library: Optional[Union[str, "os.PathLike[str]"]]) -> str:
    tried = candidates(library)
    for candidate in tried:
        if os.path.isfile(candidate) and os.access(candidate, os.R_OK):
            return candidate
    if library is not None or os.environ.get(ENV):
        hint = (
            f"It was named by {'usersync.load()' if library is not None else ENV} and is taken "
            "at its word: fix the path, or unset it to use the bundled copy."
        )
    else:
        hint = (
            f"Set {ENV} to its path, install the wheel (which bundles it), or build it with "
            "`cargo build --release`."
        )
    raise LibraryUnavailable(f"{LIBRARY_FILE} was not found. Tried: {', '.join(tried)}. {hint}")


class Library:
    """A loaded libusersync: its cffi declarations (``ffi``), functions (``c``), file
    (``path``), header (``header_path``) and ``version``. Immutable; shared by every thread."""

    ffi: cffi.FFI
    c: Any
    path: str
    header_path: str
    version: str

    def __init__(self, path: str, header_path: str, expected_version: str) -> None:
        try:
            header = Path(header_path).read_text(encoding="utf-8")
        except OSError as e:
            raise LibraryUnavailable(f"cannot read {header_path}: {e}") from e
        ffi = cffi.FFI()
        try:
            ffi.cdef(cdef_source(header))
        except Exception as e:  # cffi's CDefError and the parser's own errors
            raise LibraryUnavailable(f"cffi cannot parse {header_path}: {e}") from e
        try:
            c: Any = ffi.dlopen(os.path.abspath(path))
        except OSError as e:
            raise LibraryUnavailable(f"cannot load {path}: {e}") from e
        # Resolve every declared function now, so a library that lacks one of the header's
        # functions fails here and not in the middle of a host's request.
        missing = []
        for name in dir(c):
            try:
                getattr(c, name)
            except AttributeError:
                missing.append(name)
        if missing:
            raise LibraryUnavailable(
                f"{path} does not match {header_path}: it lacks {', '.join(sorted(missing))}. "
                "Install the library and its header from the same release."
            )
        version = cast(bytes, ffi.string(c.usersync_version())).decode("ascii", "replace")
        if _major_minor(version) != _major_minor(expected_version):
            raise LibraryUnavailable(
                f"libusersync {version} ({path}) does not match this binding, written for "
                f"{expected_version}: install the library and the Python binding from the same "
                "release."
            )
        self.ffi = ffi
        self.c = c
        self.path = path
        self.header_path = header_path
        self.version = version
        # Every result code of the header's enum, with its name and sentence from the library.
        self.codes: Dict[str, int] = dict(ffi.typeof("usersync_result").relements)
        self._names: Dict[int, str] = {}
        self._messages: Dict[int, str] = {}
        for code in self.codes.values():
            self._names[code] = cast(bytes, ffi.string(c.usersync_result_name(code))).decode("utf-8")
            self._messages[code] = cast(bytes, ffi.string(c.usersync_result_message(code))).decode("utf-8")
        self.CONFIG_INVALID: int = c.USERSYNC_RESULT_CONFIG_INVALID
        self.INVALID_ARGUMENT: int = c.USERSYNC_RESULT_INVALID_ARGUMENT
        # Output buffers the library fills: not zeroed first (it writes before we read).
        self.new_buffer: Callable[..., Any] = ffi.new_allocator(should_clear_after_alloc=False)

    def __repr__(self) -> str:
        return f"<usersync.Library {self.version} from {self.path}>"

    # ---- results ---------------------------------------------------------------------------

    def name(self, code: int) -> str:
        """``usersync_result_name()``: the snake_case name of a result code."""
        found = self._names.get(code)
        if found is None:
            found = cast(bytes, self.ffi.string(self.c.usersync_result_name(code & 0xFFFFFFFF))).decode()
        return found

    def message(self, code: int) -> str:
        """``usersync_result_message()``: the sentence describing a result code."""
        found = self._messages.get(code)
        if found is None:
            found = cast(bytes, self.ffi.string(self.c.usersync_result_message(code & 0xFFFFFFFF))).decode()
        return found

    def error(self, code: int, detail: str = "") -> Error:
        """The typed exception for a non-zero result code."""
        message = self.message(code)
        if detail:
            message = f"{message}: {detail}"
        return error_class(code)(code, self.name(code), message)

    def check(self, code: int) -> None:
        if code:
            raise self.error(code)

    # ---- calls -----------------------------------------------------------------------------

    def into_buffer(self, capacity: int, call: Callable[..., int], *args: Any) -> bytes:
        """Calls ``call(*args, out, capacity, &out_len)`` with a caller buffer of ``capacity``
        bytes and returns what the library wrote."""
        out = self.new_buffer("char[]", max(1, capacity))
        length = self.ffi.new("size_t *")
        code = call(*args, out, capacity, length)
        if code:
            raise self.error(code)
        return cast(bytes, self.ffi.unpack(out, length[0]))

    def allocated(self, call: Callable[..., int], *args: Any) -> bytes:
        """Calls ``call(*args, &out, &out_len)`` for a library-allocated result, returns a copy
        and frees (and so wipes) the library's buffer whatever happens."""
        out = self.ffi.new("char **")
        length = self.ffi.new("size_t *")
        code = call(*args, out, length)
        if code:
            raise self.error(code)
        try:
            return cast(bytes, self.ffi.unpack(out[0], length[0]))
        finally:
            self.c.usersync_bytes_free(out[0], length[0])

    def allocated_json(self, call: Callable[..., int], *args: Any) -> Any:
        """Same, decoding the JSON result."""
        return json.loads(self.allocated(call, *args))

    def construct(self, type_name: str, new: Callable[..., int], free: Any, *args: Any) -> Any:
        """Calls a constructor ``new(*args, &handle, err, err_cap, &err_len)`` and returns the
        handle, released by ``free`` when garbage-collected; a configuration refusal carries the
        library's detail naming the field."""
        handle = self.ffi.new(f"{type_name} **")
        err = self.ffi.new("char[]", _DETAIL_CAP)
        err_len = self.ffi.new("size_t *")
        code = new(*args, handle, err, _DETAIL_CAP, err_len)
        if code:
            detail = ""
            if code == self.CONFIG_INVALID:
                # Cut to the buffer by the library, possibly inside a UTF-8 sequence.
                detail = cast(bytes, self.ffi.unpack(err, min(err_len[0], _DETAIL_CAP))).decode("utf-8", "replace")
            raise self.error(code, detail)
        return self.ffi.gc(handle[0], free)


# ---- input conversion ------------------------------------------------------------------------


def to_bytes(value: Bytesish) -> bytes:
    """Text as UTF-8 (lone surrogates passed through, for the library to refuse), bytes as
    they are."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected str or bytes, not {type(value).__name__}")


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON of a Python value (no NaN or infinity: not JSON)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


# ---- the process-wide instance ---------------------------------------------------------------

_lock = threading.Lock()
_instance: Optional[Library] = None
# Every library ever loaded stays referenced (and so loaded) for the life of the process: objects
# made with it free their handles through it, whenever the garbage collector gets to them.
_loaded: List[Library] = []


def _open(library: Optional[Union[str, "os.PathLike[str]"]], expected_version: str) -> Library:
    path = _locate(library)
    for header in _headers_for(path):
        if os.path.isfile(header):
            break
    else:
        raise LibraryUnavailable(
            f"{HEADER_FILE} was not found for {path}. Tried: {', '.join(_headers_for(path))}."
        )
    return Library(path, header, expected_version)


def load(
    library: Optional[Union[str, "os.PathLike[str]"]] = None,
    *,
    expected_version: str = __version__,
) -> Library:
    """Loads libusersync and makes it the one every class of the binding uses from now on
    (objects already made keep theirs). ``library`` names the file to load, and no other is
    tried; without it ``USERSYNC_LIBRARY``, the bundled copy and the repository's build are
    (see the module's documentation). ``expected_version`` exists for tests.

    :raises LibraryUnavailable: with what to change, naming every path tried.
    """
    global _instance
    with _lock:
        lib = _open(library, expected_version)
        _loaded.append(lib)
        _instance = lib
        return lib


def get() -> Library:
    """The process-wide library, loaded on first use (or the one :func:`load` made)."""
    global _instance
    lib = _instance
    if lib is None:
        with _lock:
            lib = _instance
            if lib is None:
                lib = _open(None, __version__)
                _loaded.append(lib)
                _instance = lib
    return lib
