#!/usr/bin/env bash
# Sets up a real WordPress 6.8 site (as tests/wordpress/run-cookies.sh does) and runs
# benches/wordpress-cookies.php on it:  benches/wordpress-cookies.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
lib="$PWD/target/release/libusersync.so"
[ -f "$lib" ] || cargo build --release --quiet
bash scripts/wp/fetch-wordpress.sh trixie build/wordpress/trixie >/dev/null
work=$(mktemp -d /tmp/usersync-bench.XXXXXX)
chmod 755 "$work"
cleanup() { bash scripts/wp/mariadb.sh stop "$work/db"; rm -rf "$work"; }
trap cleanup EXIT
bash scripts/wp/mariadb.sh start "$work/db"
bash scripts/wp/new-site.sh build/wordpress/trixie "$work/site" https://a.test usersync_bench "$work/db/mysqld.sock" >/dev/null
php benches/wordpress-cookies.php "$work/site" "$lib" "$@"
