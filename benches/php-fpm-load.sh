#!/usr/bin/env bash
# What loading usersync adds to a web request under php-fpm (behind nginx, on loopback), in
# preload mode (ffi.preload, the production setting) and in cdef mode (ffi.enable=1): each
# request times Library::get() alone, or with one library call after it, and reports it; the
# median over requests served by warm workers is printed.   benches/php-fpm-load.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=300
[ "${1:-}" = "--quick" ] && requests=40
lib="$PWD/target/release/libusersync.so"
[ -f "$lib" ] || cargo build --release --quiet
fpm=$(command -v php-fpm8.2 || command -v php-fpm)
work=$(mktemp -d /tmp/usersync-fpm.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/www"
cleanup() {
    for pid in "$work"/*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; done
    sleep 0.3
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# php-fpm's workers run as www-data: give them a copy of the binding and library they can read.
binding="$work/binding"
mkdir -p "$binding/lib"
cp -r php-bindings/src php-bindings/autoload.php php-bindings/preload.php "$binding/"
cp "$lib" include/usersync.h "$binding/lib/"
chmod -R a+rX "$binding"
php php-bindings/bin/usersync-preload-header "$binding/lib/libusersync.so" > "$work/usersync-preload.h"
for probe in load call; do
    cat > "$work/www/$probe.php" <<PHP
<?php
define('USERSYNC_LIBRARY', '$binding/lib/libusersync.so');
require '$binding/autoload.php';
\$t = hrtime(true);
Usersync\Library::get();
if ('$probe' === 'call') { Usersync\Secret::nonce(16); }
echo (hrtime(true) - \$t) / 1000, ' ', Usersync\Library::get()->mode;
PHP
done

port=$((20000 + RANDOM % 20000))
cat > "$work/nginx.conf" <<NGINX
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        location ~ ^/(preload|cdef)/(.+\.php)\$ {
            fastcgi_pass unix:$work/\$1.sock;
            fastcgi_param SCRIPT_FILENAME $work/www/\$2;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param QUERY_STRING \$query_string;
        }
    }
}
NGINX

for mode in preload cdef; do
    cat > "$work/$mode.conf" <<FPM
[global]
pid = $work/fpm-$mode.pid
error_log = $work/fpm-$mode.log
daemonize = yes
[$mode]
user = www-data
group = www-data
listen = $work/$mode.sock
listen.mode = 0666
pm = static
pm.max_children = 2
php_admin_value[opcache.enable] = 1
FPM
    extra=()
    if [ "$mode" = preload ]; then
        extra=(-d ffi.enable=preload -d "ffi.preload=$work/usersync-preload.h" -d opcache.enable=1
               -d "opcache.preload=$binding/preload.php" -d opcache.preload_user=www-data)
    else
        echo "php_admin_value[ffi.enable] = 1" >> "$work/$mode.conf"
    fi
    "$fpm" --fpm-config "$work/$mode.conf" "${extra[@]}"
done
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5

for mode in preload cdef; do
    for probe in load call; do
        out=$(for _ in $(seq 1 "$requests"); do curl -s "http://127.0.0.1:$port/$mode/$probe.php"; echo; done)
        got_mode=$(echo "$out" | tail -1 | cut -d' ' -f2)
        # The first requests of each worker pay one-time costs (mapping pages, binding symbols).
        median=$(echo "$out" | tail -n +11 | cut -d' ' -f1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        what="Library::get()"
        [ "$probe" = call ] && what="Library::get() + a first call"
        printf 'php-fpm %-7s mode (%s): %-30s %7.1f µs per request (median of %d warm requests)\n' \
            "$mode" "$got_mode" "$what" "$median" $((requests - 10))
    done
done
