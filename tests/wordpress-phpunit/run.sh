#!/usr/bin/env bash
# PHPUnit tests of the plugin's classes inside a real WordPress (Debian's 6.8) on a private
# MariaDB:  tests/wordpress-phpunit/run.sh [phpunit arguments, e.g. --filter Inbox]
# One WordPress install holds two sites on one database server: table prefix wp_ ("shop.test",
# the site under test) and wp2_ ("other.test", for what must differ between two sites on one
# server). The plugin is installed from the release zip, as sites get it. Peers' inboxes are a
# stub (stub-peer.php under `php -S` on a loopback port) that answers what a test tells it and
# keeps what it was sent. KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/wordpress-phpunit

[ -f target/release/libusersync.so ] || cargo build --release --quiet
bash scripts/package-plugin.sh >/dev/null
bash scripts/wp/fetch-wordpress.sh trixie build/wordpress/trixie >/dev/null

work=$(mktemp -d /tmp/usersync-phpunit.XXXXXX)
chmod 755 "$work"
stub_pid=
cleanup() {
    [ -n "$stub_pid" ] && kill -- "-$stub_pid" 2>/dev/null || true
    bash scripts/wp/mariadb.sh stop "$work/db"
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
bash scripts/wp/mariadb.sh start "$work/db"

# The stub peer on a free loopback port.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
down_port=$(free_port) # nothing listens there: a peer that is down
mkdir -p "$work/stub" "$work/opcache"
USERSYNC_STUB_DIR="$work/stub" PHP_CLI_SERVER_WORKERS=2 setsid php -S "127.0.0.1:$port" "$here/stub-peer.php" \
    >"$work/stub.log" 2>&1 &
stub_pid=$!

# One secret per link, made by the library; the site's wp-config reads them from links.json.
secret() { php php-bindings/bin/usersync-secret; }
cat >"$work/links.json" <<JSON
{"stub_url": "http://127.0.0.1:$port", "stub_dir": "$work/stub", "down_url": "http://127.0.0.1:$down_port",
 "secrets": {"shop-blog": "$(secret)", "shop-news": "$(secret)", "shop-down": "$(secret)", "other-blog": "$(secret)"}}
JSON

site=$work/site
bash scripts/wp/new-site.sh build/wordpress/trixie "$site" http://shop.test usersync_phpunit "$work/db/mysqld.sock" >/dev/null
python3 -m zipfile -e build/usersync-plugin-linux-x86_64.zip "$site/wp-content/plugins"
printf '<?php\ndefine("USERSYNC_TEST_LINKS", %s);\nrequire %s;\n' "'$work/links.json'" "'$here/site-config.php'" \
    >"$site/wp-config-local.php"
# The second site: the same core and database, tables under wp2_.
USERSYNC_TEST_SITE=other php scripts/wp/install.php "$site" http://shop.test "$(php -r 'echo bin2hex(random_bytes(12));')" >/dev/null
for variant in shop other; do
    USERSYNC_TEST_SITE=$variant php -r "\$_SERVER['HTTP_HOST'] = 'shop.test'; define('WP_USE_THEMES', false);
        require '$site/wp-load.php'; require_once ABSPATH . 'wp-admin/includes/plugin.php';
        \$r = activate_plugin('usersync/usersync.php'); if (is_wp_error(\$r)) { fwrite(STDERR, \$r->get_error_message()); exit(1); }"
done

for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

USERSYNC_TEST_WORK=$work phpunit -d ffi.enable=1 -c "$here/phpunit.xml" "$@"
