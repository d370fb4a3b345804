#!/usr/bin/env bash
# A private PostgreSQL server (Debian's) for tests and demos, on a Unix socket only, without
# systemd:
#   scripts/postgres.sh start DIR   → cluster, socket and log under DIR (socket in DIR, port 5432)
#   scripts/postgres.sh stop DIR    → fast shutdown
# DIR must be somewhere the postgres user can reach (e.g. under /tmp). No TCP at all
# (listen_addresses is empty); the socket is the only way in, as the superuser "postgres"
# (trust on this private socket). Connect: psql -h DIR -U postgres
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?folder}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

case "$cmd" in
start)
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 755 "$dir"
    if [ -S "$dir/.s.PGSQL.5432" ] && as_postgres "$bin/pg_isready" -q -h "$dir"; then
        exit 0
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off" start >/dev/null
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
