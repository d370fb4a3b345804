#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine (as root), skipping what is present:
# the C compiler and cJSON for the C header tests, valgrind, PHP with FFI and the extensions
# WordPress uses, MariaDB for real WordPress sites, OpenSSL headers for
# the benchmark baseline, Python's cryptography for the vector generator, rustfmt, clippy and
# cargo-fuzz and cbindgen; Debian's Chromium, nginx, php-fpm and playwright-core for the browser tests;
# libfaketime for a peer whose clock is off (tests/e2e/health.py); PostgreSQL and python3-venv for
# the Django host (its units and tests/e2e/test_django.py).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(gcc g++ make pkg-config libssl-dev libcjson-dev valgrind php8.2-cli php8.2-mysql php8.2-xml
          php8.2-mbstring php8.2-curl php8.2-gd php8.2-intl php8.2-fpm php8.2-opcache phpunit php-codesniffer
          mariadb-server mariadb-client nginx-light curl chromium libnss3-tools openssl procps libfaketime
          postgresql python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography
rustup component add rustfmt clippy >/dev/null 2>&1 || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked
# The header generator, pinned: later versions emit C23 enum syntax that PHP's FFI rejects.
[ "$(cbindgen --version 2>/dev/null)" = "cbindgen 0.29.2" ] || cargo install cbindgen --version 0.29.2 --locked
# playwright-core drives Debian's Chromium (it never downloads a browser of its own).
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund)
