#!/usr/bin/env bash
# The Django host's virtual environment: build/django-venv (python3 -m venv; Debian's
# python3-venv first if that fails, as root) with Django 5.2 LTS, gunicorn and psycopg 3 from
# PyPI, and the usersync wheel (python-bindings/build-wheel.sh: the library bundled) with the
# Django app in it. Prints the venv's python. Usage: scripts/django/venv.sh [VENV]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${1:-$root/build/django-venv}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pip' 2>/dev/null; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
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
"$py" -m pip install --quiet --disable-pip-version-check "Django>=5.2,<5.3" "gunicorn>=23" "psycopg[binary]>=3.2" cffi >&2
wheel=$(PYTHON="$py" bash "$root/python-bindings/build-wheel.sh" "$root/build/django-wheel")
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel" >&2
echo "$py"
