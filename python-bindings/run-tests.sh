#!/usr/bin/env bash
# The Python binding's tests: a virtual environment under build/python-venv (python3 -m venv;
# on Debian without python3-venv it is installed first, as root), cffi, pytest and cryptography
# (for the benchmark's smoke run) from PyPI, the wheel built by build-wheel.sh (cargo build
# --release, the library bundled) installed into it, then pytest. Arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
venv=$root/build/python-venv

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pip' 2>/dev/null; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "python3 -m venv failed: installing Debian's python3-venv" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$venv"
        else
            echo "python3 -m venv failed: install python3-venv (Debian) and run again" >&2
            exit 1
        fi
    fi
fi
py=$venv/bin/python
"$py" -m pip install --quiet cffi pytest cryptography mypy types-cffi

wheel=$(PYTHON="$py" bash "$here/build-wheel.sh")
"$py" -m pip install --quiet --force-reinstall --no-deps "$wheel"

cd "$here"
exec "$py" -m pytest "$@"
