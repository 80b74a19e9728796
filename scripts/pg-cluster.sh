#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, CI, benchmarks and the docs.
#
#   scripts/pg-cluster.sh start DIR [--owner-pid PID]
#       initdb in DIR/data, start the server on a free port on 127.0.0.1, write
#       DIR/env (PHASE_MEMORY_TEST_DATABASE_URL=postgres://...) and print the URL.
#       With --owner-pid, a watcher stops and removes the cluster once PID exits
#       (the Rust test harness passes its own pid, so a panic or a kill -9 of the
#       test binary still cleans up).
#   scripts/pg-cluster.sh stop DIR
#       stop the server (fast shutdown) and remove DIR.
#   scripts/pg-cluster.sh check
#       make sure the server binaries (installing them when missing and root) and,
#       as root, the system user are there; print the server version.
#   scripts/pg-cluster.sh with-pg COMMAND [ARGS...]
#       start a cluster in a temporary folder, run COMMAND with
#       PHASE_MEMORY_TEST_DATABASE_URL exported, stop and remove the cluster,
#       exit with COMMAND's status.
#
# The server binaries come from `pg_config --bindir` (or /usr/lib/postgresql/*/bin);
# when none are found and we are root, the distribution's `postgresql` package is
# installed with apt-get. PostgreSQL refuses to run as root, so as root the cluster
# runs as the system user `phase-memory-pg` (created when missing).
#
# The cluster trusts local connections on 127.0.0.1 only. By default it runs with
# fsync=off (a test cluster survives process kills, not power loss; tests are much
# faster); set PG_CLUSTER_FSYNC=on for benchmarks that measure durable commits.
set -euo pipefail

PG_USER_SYSTEM=phase-memory-pg

die() {
    echo "pg-cluster: $*" >&2
    exit 1
}

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

ensure_binaries() {
    local d
    if d="$(find_bindir)"; then
        echo "$d"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "no PostgreSQL server binaries found (install the 'postgresql' package)"
    echo "pg-cluster: installing the distribution's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
    d="$(find_bindir)" || die "postgresql installed but initdb/pg_ctl not found"
    echo "$d"
}

# Runs a command as the cluster's owner (a system user when we are root).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_USER_SYSTEM" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [ "$(id -u)" = 0 ] || return 0
    if ! id "$PG_USER_SYSTEM" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_USER_SYSTEM" 2>/dev/null ||
            id "$PG_USER_SYSTEM" >/dev/null 2>&1 ||
            die "cannot create the system user $PG_USER_SYSTEM"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
    local dir="${1:-}"
    shift || true
    local owner=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --owner-pid) owner="${2:-}"; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    [ -n "$dir" ] || die "usage: pg-cluster.sh start DIR [--owner-pid PID]"
    local bindir
    bindir="$(ensure_binaries)"
    ensure_user
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [ ! -e "$dir/data" ] || die "$dir/data already exists"
    mkdir -p "$dir/data" "$dir/run"
    if [ "$(id -u)" = 0 ]; then
        chown -R "$PG_USER_SYSTEM" "$dir"
        # The owner must be able to reach the folder through its parents.
        chmod o+x "$(dirname "$dir")" 2>/dev/null || true
    fi
    chmod 700 "$dir/data"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1 ||
        as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
            --encoding=UTF8 --no-locale --no-instructions >"$dir/initdb.log" 2>&1 ||
        die "initdb failed; see $dir/initdb.log"
    local fsync="${PG_CLUSTER_FSYNC:-off}"
    local port="" try
    for try in 1 2 3 4 5 6 7 8; do
        local p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$p" && continue
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -c port=$p -c unix_socket_directories=$dir/run \
                -c fsync=$fsync -c full_page_writes=$fsync -c max_connections=200 \
                -c shared_buffers=256MB" >/dev/null 2>&1; then
            port="$p"
            break
        fi
    done
    [ -n "$port" ] || die "the server did not start; see $dir/server.log"
    local url="postgres://postgres@127.0.0.1:$port/postgres"
    {
        echo "PHASE_MEMORY_TEST_DATABASE_URL=$url"
        echo "PG_CLUSTER_BINDIR=$bindir"
        echo "PG_CLUSTER_PORT=$port"
    } >"$dir/env"
    echo "$bindir" >"$dir/bindir"
    if [ -n "$owner" ]; then
        # Detached watcher: stops the cluster once the owner process is gone.
        nohup setsid bash -c '
            while kill -0 "$1" 2>/dev/null; do sleep 1; done
            "$2" stop "$3"
        ' _ "$owner" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$dir" \
            >/dev/null 2>&1 </dev/null &
    fi
    echo "$url"
}

cmd_stop() {
    local dir="${1:-}"
    [ -n "$dir" ] || die "usage: pg-cluster.sh stop DIR"
    [ -d "$dir" ] || return 0
    local bindir=""
    [ -f "$dir/bindir" ] && bindir="$(cat "$dir/bindir")"
    [ -n "$bindir" ] || bindir="$(find_bindir || true)"
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            true
    fi
    rm -rf "$dir"
}

cmd_with_pg() {
    [ $# -gt 0 ] || die "usage: pg-cluster.sh with-pg COMMAND [ARGS...]"
    local dir
    dir="$(mktemp -d /tmp/phase-memory-pg.XXXXXX)"
    # shellcheck disable=SC2064
    trap "'$0' stop '$dir'" EXIT INT TERM
    local url
    url="$(cmd_start "$dir")"
    export PHASE_MEMORY_TEST_DATABASE_URL="$url"
    echo "pg-cluster: $url" >&2
    local rc=0
    "$@" || rc=$?
    return "$rc"
}

cmd_check() {
    local bindir
    bindir="$(ensure_binaries)"
    ensure_user
    "$bindir/postgres" --version
}

case "${1:-}" in
    check) shift; cmd_check "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    with-pg) shift; cmd_with_pg "$@" ;;
    *) die "usage: pg-cluster.sh check | start DIR [--owner-pid PID] | stop DIR | with-pg COMMAND..." ;;
esac
