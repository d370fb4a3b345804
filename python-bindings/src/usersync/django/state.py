"""Per-thread state of a request: whether a peer's action is being applied (its changes are not
events: nothing is echoed back) and whether this request queued something to deliver."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_local = threading.local()


def applying() -> bool:
    return getattr(_local, "applying", False)


@contextmanager
def applying_peer_action() -> Iterator[None]:
    before = applying()
    _local.applying = True
    try:
        yield
    finally:
        _local.applying = before


def mark_queued() -> None:
    _local.queued = True


def take_queued() -> bool:
    queued = getattr(_local, "queued", False)
    _local.queued = False
    return queued
