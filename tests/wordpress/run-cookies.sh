#!/usr/bin/env bash
# Runs tests/wordpress/cookies.php and passwords.php against real WordPress 6.8 (Debian 13) and 6.1 (Debian 12):
# fetches both cores (cached under build/wordpress), starts a private MariaDB, installs one
# site per version with fresh salts, runs the checks, stops the database.
#   tests/wordpress/run-cookies.sh [--write-vectors]   (rewrites tests/vectors/wordpress-*.json
#                                                        and passwords-wordpress-*.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
lib="$PWD/target/release/libusersync.so"
[ -f "$lib" ] || cargo build --release --quiet

bash scripts/wp/fetch-wordpress.sh trixie build/wordpress/trixie >/dev/null
bash scripts/wp/fetch-wordpress.sh bookworm build/wordpress/bookworm >/dev/null

work=$(mktemp -d /tmp/usersync-cookies.XXXXXX)
chmod 755 "$work"
cleanup() { bash scripts/wp/mariadb.sh stop "$work/db"; rm -rf "$work"; }
trap cleanup EXIT
bash scripts/wp/mariadb.sh start "$work/db"

status=0
for pair in trixie:6.8 bookworm:6.1; do
    suite=${pair%%:*}
    version=${pair##*:}
    bash scripts/wp/new-site.sh "build/wordpress/$suite" "$work/$suite" https://a.test "usersync_cookies_$suite" \
        "$work/db/mysqld.sock" >/dev/null
    vectors=()
    [ "${1:-}" = "--write-vectors" ] && vectors=("tests/vectors/wordpress-$version.json")
    php tests/wordpress/cookies.php "$work/$suite" "$lib" "${vectors[@]}" || status=1
    passwords=()
    [ "${1:-}" = "--write-vectors" ] && passwords=("tests/vectors/passwords-wordpress-$version.json")
    USERSYNC_LIBRARY="$lib" php tests/wordpress/passwords.php "$work/$suite" "$version" "${passwords[@]}" || status=1
done
exit $status
