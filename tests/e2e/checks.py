"""What the end-to-end scripts share: counted checks with a closing 'N passed, N failed' line,
and fresh link secrets from the usersync tool."""
import os
import subprocess

from sites import ROOT

_counts = {"passed": 0, "failed": 0}


def check(ok, what):
    if ok:
        _counts["passed"] += 1
    else:
        _counts["failed"] += 1
        print(f"FAIL: {what}", flush=True)


def failed():
    return _counts["failed"]


def summary(label):
    """Prints the closing line; returns the exit status."""
    print(f"{label}: {_counts['passed']} passed, {_counts['failed']} failed")
    return 0 if _counts["failed"] == 0 else 1


def secret():
    return subprocess.run([os.path.join(ROOT, "target/release/usersync"), "secret"], capture_output=True, text=True,
                          check=True).stdout.strip()
