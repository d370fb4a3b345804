#!/usr/bin/env bash
# Shows that scripts/check-header.sh fails on a hand-edited header (and passes on the real one),
# in a throw-away copy of the source (no git needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r Cargo.toml cbindgen.toml src include scripts "$work/"
(cd "$work" && bash scripts/check-header.sh >/dev/null) || { echo "FAIL: the committed header does not check"; exit 1; }
sed -i 's/^size_t usersync_secret_text_len(void);/size_t usersync_secret_text_len(int edited);/' "$work/include/usersync.h"
grep -q 'edited' "$work/include/usersync.h" || { echo "FAIL: the edit did not apply"; exit 1; }
if (cd "$work" && bash scripts/check-header.sh >/dev/null 2>&1); then
    echo "FAIL: a hand-edited header passed the check"
    exit 1
fi
echo "ok: the header check passes on the generated header and fails on a hand edit"
