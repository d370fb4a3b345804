#!/usr/bin/env bash
# A private MariaDB server for tests and demos, on loopback only, without systemd:
#   scripts/wp/mariadb.sh start DIR    → data, socket and log under DIR (DIR/mysqld.sock)
#   scripts/wp/mariadb.sh stop DIR     → clean shutdown (SIGTERM, wait)
# DIR must be somewhere the mysql user can reach (e.g. under /tmp). Connect as root over the
# socket: mariadb --socket=DIR/mysqld.sock -u root
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?folder}
sock="$dir/mysqld.sock"
pidfile="$dir/mysqld.pid"

case "$cmd" in
start)
    if [ -S "$sock" ] && mariadb-admin --socket="$sock" -u root ping >/dev/null 2>&1; then
        exit 0
    fi
    mkdir -p "$dir"
    chown mysql:mysql "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
        mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" --skip-test-db \
            --auth-root-authentication-method=socket >"$dir/install.log" 2>&1
    fi
    # --port=0 with --skip-networking: the socket is the only way in.
    mariadbd --no-defaults --user=mysql --datadir="$dir/data" --socket="$sock" \
        --skip-networking --pid-file="$pidfile" --log-error="$dir/error.log" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M >/dev/null 2>&1 &
    for _ in $(seq 1 100); do
        mariadb-admin --socket="$sock" -u root ping >/dev/null 2>&1 && exit 0
        sleep 0.2
    done
    echo "MariaDB did not start; see $dir/error.log" >&2
    tail -20 "$dir/error.log" >&2 || true
    exit 1
    ;;
stop)
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
