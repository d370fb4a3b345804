#!/usr/bin/env bash
# Fails when include/usersync.h differs from what cbindgen 0.29.2 generates from src/ffi/ now:
# a fresh generation into a temporary file, diffed against the committed header (no build, no
# git needed). `make header` writes the fresh one.
set -euo pipefail
cd "$(dirname "$0")/.."
want="0.29.2"
have=$(cbindgen --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" != "$want" ]; then
    echo "cbindgen $want is needed (found: ${have:-none}): cargo install cbindgen --version $want --locked"
    exit 1
fi
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
cbindgen --quiet --config cbindgen.toml --output "$fresh" .
if ! diff -u include/usersync.h "$fresh"; then
    echo "include/usersync.h differs from cbindgen's output for src/ffi/ (stale, or edited by hand)."
    echo "Regenerate it with \`make header\`, review and commit it."
    exit 1
fi
echo "include/usersync.h matches cbindgen's output"
