#!/usr/bin/env bash
# PostgreSQL and Redis on loopback for the PostgreSQL pass of `make test` (`make test-pg`) and tests/scale/.
#
# Idempotent and quick when everything is already there: installs Debian's `postgresql` and
# `redis-server` only when missing, starts an own PostgreSQL cluster and an own redis-server on fixed
# loopback ports (only when they are not already answering), creates role and database
# gateway/gateway (CREATEDB, so Django's test runner can create test_gateway), and writes the URLs to
# .cache/ci-services.env:
#
#     set -a; . .cache/ci-services.env; set +a     # DATABASE_URL=postgres://...  CACHE_URL=redis://...
#
# Both services stay up after the script ends (they are meant to serve the whole CI run); stop them
# with `bash scripts/ci_services.sh stop`. Settings: CI_SERVICES_DIR (state: data, sockets, logs),
# CI_PG_PORT (55432), CI_REDIS_PORT (56379). Needs root (or sudo) only to install the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${CI_SERVICES_DIR:-/tmp/gateway-ci-services}"
PG_PORT="${CI_PG_PORT:-55432}"
REDIS_PORT="${CI_REDIS_PORT:-56379}"
DB_USER=gateway
DB_PASSWORD=gateway
DB_NAME=gateway
OUT=.cache/ci-services.env
PG_DATA="$STATE/pg/data"
PG_SOCKETS="$STATE/pg/sockets"

say() { echo "ci_services: $*"; }
die() { echo "ci_services: $*" >&2; exit 1; }

pg_bindir() {  # the newest installed server's bin directory, or nothing
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    if [ -x "$initdb" ]; then dirname "$initdb"; fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "installing $* needs root (or sudo)"; fi
}

# The server refuses to run as root: as root, run it as the `postgres` user the package creates.
PG_OWNER=$(id -un)
[ "$(id -u)" -eq 0 ] && PG_OWNER=postgres
as_pg() {
    if [ "$PG_OWNER" = "$(id -un)" ]; then "$@"; else runuser -u "$PG_OWNER" -- "$@"; fi
}

install_missing() {
    local wanted=()
    [ -n "$(pg_bindir)" ] || wanted+=(postgresql)
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null || wanted+=(redis-server)
    [ ${#wanted[@]} -eq 0 ] && return 0
    say "installing ${wanted[*]} (apt-get)"
    # The packages' own services are not used (and may be refused by policy-rc.d in containers).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
    [ -n "$(pg_bindir)" ] || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

start_postgres() {
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    if pg_ready; then
        say "PostgreSQL already answering on 127.0.0.1:$PG_PORT"
    else
        if [ ! -s "$PG_DATA/PG_VERSION" ]; then
            say "creating a PostgreSQL cluster in $PG_DATA"
            rm -rf "$STATE/pg"
            mkdir -p "$PG_DATA" "$PG_SOCKETS"
            chown -R "$PG_OWNER" "$STATE/pg"
            chmod 700 "$PG_DATA"
            # Local socket: trust (the superuser, for set-up only); TCP: password (what the gateway uses).
            as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=trust --auth-host=scram-sha-256 >"$STATE/pg/initdb.log" 2>&1 \
                || { cat "$STATE/pg/initdb.log" >&2; die "initdb failed"; }
        fi
        say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        # fsync off: a throwaway test cluster, and it makes the test suite's many small commits cheap.
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$STATE/pg/server.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKETS -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null || { tail -n 30 "$STATE/pg/server.log" >&2; die "PostgreSQL did not start"; }
        pg_ready || die "PostgreSQL started but does not answer on 127.0.0.1:$PG_PORT"
    fi
    # Role and database, created once (the socket is only there when the cluster is ours).
    [ -S "$PG_SOCKETS/.s.PGSQL.$PG_PORT" ] \
        || die "something else answers on port $PG_PORT (no socket in $PG_SOCKETS); set CI_PG_PORT"
    local psql=(as_pg "$PG_BIN/psql" -h "$PG_SOCKETS" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
    fi
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
    fi
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
    if redis_ready; then
        say "Redis already answering on 127.0.0.1:$REDIS_PORT"
        return
    fi
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$STATE/redis"
    # A cache for tests: nothing is persisted.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --protected-mode yes \
        --dir "$STATE/redis" --pidfile "$STATE/redis/redis.pid" --logfile "$STATE/redis/redis.log" \
        --save "" --appendonly no
    for _ in $(seq 50); do redis_ready && return; sleep 0.1; done
    tail -n 30 "$STATE/redis/redis.log" >&2 || true
    die "Redis did not start on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
    local bin
    bin=$(pg_bindir)
    if [ -n "$bin" ] && [ -s "$PG_DATA/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop || true
    fi
    if [ -s "$STATE/redis/redis.pid" ]; then
        local pid
        pid=$(cat "$STATE/redis/redis.pid")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
    rm -f "$OUT"
    say "stopped"
}

case "${1:-start}" in
    stop) stop_all; exit 0 ;;
    start) ;;
    *) die "usage: $0 [start|stop]" ;;
esac

install_missing
PG_BIN=$(pg_bindir)
start_postgres
start_redis

mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<EOF
# Written by scripts/ci_services.sh: PostgreSQL and Redis for make test-pg and tests/scale/.
DATABASE_URL=postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME
CACHE_URL=redis://127.0.0.1:$REDIS_PORT/0
EOF
say "wrote $OUT:"
grep -v '^#' "$OUT"
