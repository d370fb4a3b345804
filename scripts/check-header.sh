#!/usr/bin/env bash
# Fails when include/usersync.h is not exactly what cbindgen 0.29.2 generates from src/ffi/.
# build.rs regenerates the header on every build; this compares it with the copy as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(mktemp)
trap 'rm -f "$before"' EXIT
cp include/usersync.h "$before"
cargo build --quiet --lib
# In a git checkout, also compare with the staged copy: an earlier build in the same run may
# already have regenerated the file.
stale=0
cmp -s "$before" include/usersync.h || stale=1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && git ls-files --error-unmatch include/usersync.h >/dev/null 2>&1; then
    git diff --quiet -- include/usersync.h || stale=1
fi
if [ "$stale" = 1 ]; then
    git diff -- include/usersync.h 2>/dev/null | head -40 || true
    diff -u "$before" include/usersync.h | head -40 || true
    echo "include/usersync.h was stale or edited by hand. The build has now regenerated it;"
    echo "review and commit it:  git add include/usersync.h && git commit"
    exit 1
fi
echo "include/usersync.h matches cbindgen's output"
