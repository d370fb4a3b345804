#!/usr/bin/env bash
# Builds the usersync wheel with the library bundled: cargo build --release, then a staging copy
# of the package (so the source tree never holds a stale library) with target/release/
# libusersync.so and include/usersync.h in usersync/_lib/, then `pip wheel`. Prints the wheel's
# path. Usage: python-bindings/build-wheel.sh [OUTDIR]  (default build/python-wheel/; the Python
# is $PYTHON, default python3, which needs pip; setuptools comes from PyPI).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${1:-$root/build/python-wheel}
python=${PYTHON:-python3}

(cd "$root" && cargo build --release --quiet)

stage=$root/build/python-wheel-stage
rm -rf "$stage"
mkdir -p "$stage" "$out"
cp "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$stage/"
cp -r "$here/src" "$stage/src"
find "$stage/src" \( -name __pycache__ -o -name '*.egg-info' -o -name _lib \) -prune -exec rm -rf {} +
mkdir -p "$stage/src/usersync/_lib"
cp "$root/target/release/libusersync.so" "$root/include/usersync.h" "$stage/src/usersync/_lib/"

rm -f "$out"/usersync-*.whl
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out" "$stage" >&2
ls "$out"/usersync-*.whl
