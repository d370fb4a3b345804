"""Every result code of the header's enum maps to its exception class, reason and message."""

from __future__ import annotations

import pickle
from typing import Type

import pytest

import usersync

PREFIX = "USERSYNC_RESULT_"


def expected_class(code: int) -> Type[usersync.Error]:
    band = code // 100
    if band in (1, 3):
        return usersync.ConfigError
    if band == 2:
        return usersync.EnvelopeError
    if band in (4, 6):
        return usersync.MessageRefused
    if band == 5:
        return usersync.WordPressError
    return usersync.Error


def test_every_result_code_maps_to_its_exception() -> None:
    lib = usersync.library()
    codes = usersync.result_codes()  # the enum as cffi parsed it from the header
    assert len(codes) >= 44
    assert codes[PREFIX + "OK"] == 0
    assert codes == {name: getattr(lib.c, name) for name in codes}, "cffi exposes the enum constants"
    seen_classes = set()
    for name, code in codes.items():
        if code == 0:
            continue
        reason = name[len(PREFIX):].lower()
        assert usersync.result_name(code) == reason, name
        err = lib.error(code)
        cls = expected_class(code)
        assert type(err) is cls, name
        assert isinstance(err, usersync.Error) and isinstance(err, Exception)
        assert (err.code, err.reason) == (code, reason)
        assert err.message == str(err) == usersync.result_message(code)
        assert err.message and err.message != "unknown result code"
        assert usersync.error_class(code) is cls
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is cls and (copy.code, copy.reason, copy.message) == (err.code, err.reason, err.message)
        with pytest.raises(cls) as raised:
            lib.check(code)
        assert raised.value.reason == reason
        seen_classes.add(cls)
    assert seen_classes == {usersync.Error, usersync.ConfigError, usersync.EnvelopeError, usersync.MessageRefused, usersync.WordPressError}
    lib.check(0)  # OK raises nothing


def test_codes_outside_the_enum() -> None:
    assert usersync.result_name(999) == "unknown"
    assert usersync.result_message(999) == "unknown result code"
    assert usersync.result_name(0) == "ok"


def test_library_unavailable_is_an_error_with_its_reason() -> None:
    e = usersync.LibraryUnavailable("gone")
    assert isinstance(e, usersync.Error)
    assert (e.code, e.reason, str(e)) == (0, "library_unavailable", "gone")
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is usersync.LibraryUnavailable and copy.message == "gone"


def test_a_configuration_refusal_carries_the_detail() -> None:
    with pytest.raises(usersync.ConfigError) as e:
        usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [
            {"id": "b.test", "url": "https://b.test", "secrets": ["nope"]}]})
    assert e.value.code == 300 and e.value.reason == "config_invalid"
    assert str(e.value) == 'invalid usersync configuration: peers[0].secrets[0]: a link secret must start with "usk1_"'
    with pytest.raises(usersync.ConfigError) as e:
        usersync.Context("{not json")
    assert e.value.reason == "config_invalid" and str(e.value).startswith("invalid usersync configuration: ")
    with pytest.raises(usersync.ConfigError, match="unknown"):
        usersync.Context({"site_id": "a.test", "url": "https://a.test", "peers": [], "colour": "red"})
