"""A smoke run of the benchmark (bench/envelope.py --quick): its pure-Python envelope agrees
with the library both ways and on the vectors, and it prints its table. Timings are not
checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_benchmark_smoke_run() -> None:
    pytest.importorskip("cryptography")
    bench = Path(__file__).resolve().parents[1] / "bench" / "envelope.py"
    out = subprocess.run([sys.executable, str(bench), "--quick"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "pure/binding" in out.stdout and "64 KiB" in out.stdout and "seal+open (text)" in out.stdout
