#!/usr/bin/env bash
# Creates one real WordPress site from a fetched core (scripts/wp/fetch-wordpress.sh):
#   scripts/wp/new-site.sh CORE SITE_DIR URL DB_NAME DB_SOCKET
# The site gets its own full copy of core, its own database and user on the private MariaDB,
# and a wp-config.php with fresh random keys and salts; then WordPress is installed with an
# administrator "admin" whose password is written to SITE_DIR/.admin-password (mode 600).
# Extra settings for a site go in SITE_DIR/wp-config-local.php, read before WordPress loads.
set -euo pipefail
core=${1:?core folder}; site=${2:?site folder}; url=${3:?site URL}; db=${4:?database name}; sock=${5:?MariaDB socket}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$site"
mkdir -p "$(dirname "$site")"
cp -a "$core" "$site"
db_pass=$(php -r 'echo bin2hex(random_bytes(16));')
mariadb --socket="$sock" -u root <<SQL
DROP DATABASE IF EXISTS \`$db\`;
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$db'@'localhost' IDENTIFIED BY '$db_pass';
ALTER USER '$db'@'localhost' IDENTIFIED BY '$db_pass';
GRANT ALL ON \`$db\`.* TO '$db'@'localhost';
SQL

salt() { php -r 'echo strtr(base64_encode(random_bytes(48)), "+/", "-_");'; }
{
    echo "<?php"
    echo "// Written by scripts/wp/new-site.sh for a test or demo site on this machine."
    echo "define('DB_NAME', '$db');"
    echo "define('DB_USER', '$db');"
    echo "define('DB_PASSWORD', '$db_pass');"
    echo "define('DB_HOST', 'localhost:$sock');"
    echo "define('DB_CHARSET', 'utf8mb4');"
    echo "define('DB_COLLATE', '');"
    for name in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
        echo "define('$name', '$(salt)');"
    done
    echo "\$table_prefix = 'wp_';"
    echo "define('WP_HOME', '$url');"
    echo "define('WP_SITEURL', '$url');"
    echo "define('WP_HTTP_BLOCK_EXTERNAL', true);"
    echo "define('DISABLE_WP_CRON', true);"
    echo "define('AUTOMATIC_UPDATER_DISABLED', true);"
    echo "if (file_exists(__DIR__ . '/wp-config-local.php')) { require __DIR__ . '/wp-config-local.php'; }"
    echo "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }"
    echo "require_once ABSPATH . 'wp-settings.php';"
} > "$site/wp-config.php"

# Sites here cannot send mail (no MTA, no network): make wp_mail() a no-op instead of an error.
mkdir -p "$site/wp-content/mu-plugins"
printf '%s\n' "<?php add_filter('pre_wp_mail', '__return_true');" > "$site/wp-content/mu-plugins/no-mail.php"

admin_pass=$(php -r 'echo bin2hex(random_bytes(12));')
(umask 077; printf '%s' "$admin_pass" > "$site/.admin-password")
php "$here/install.php" "$site" "$url" "$admin_pass"
