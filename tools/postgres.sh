#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's `postgresql` package:
#   tools/postgres.sh start DIR   initdb (if needed) and start on a free loopback port; prints the
#                                 superuser URL (postgres://tutor@127.0.0.1:PORT/postgres)
#   tools/postgres.sh stop DIR    stop it (the files stay until DIR is removed)
# PostgreSQL refuses to run as root, and CI runs as root: the cluster then belongs to the
# `postgres` user that the package creates. Trust authentication, loopback only.
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?cluster directory}")
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1)")
[ -x "$bin/pg_ctl" ] || { echo "error: PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
as_owner() {
  # From /, since the postgres user may not be allowed into the current folder (paths are absolute).
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
case "$command" in
start)
  mkdir -p "$dir"
  base=$dir
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      # The postgres user cannot reach a folder inside this checkout (a clone under /root, say):
      # the cluster lives in a temporary folder instead, named in $dir/base.
      base=$(mktemp -d /tmp/tutor-pg.XXXXXX)
      chown postgres: "$base"
    fi
  fi
  echo "$base" >"$dir/base"
  if [ ! -f "$base/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" --pgdata="$base/data" --username=tutor --auth=trust --encoding=UTF8 \
      --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # fsync off: a throwaway cluster need not survive a power cut, and every test's CREATE DATABASE
  # would otherwise sync a database's worth of files while the other tests wait for the disk. The
  # crash tests kill tutor, not PostgreSQL, so what PostgreSQL acknowledged is still there.
  as_owner "$bin/pg_ctl" --pgdata="$base/data" --log="$base/server.log" --wait --silent \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$base' -c max_connections=200 -c fsync=off" \
    start >&2 || { tail -20 "$base/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgres://tutor@127.0.0.1:$port/postgres"
  ;;
stop)
  base=$(cat "$dir/base" 2>/dev/null || echo "$dir")
  if [ -f "$base/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" --pgdata="$base/data" --mode=fast --wait --silent stop || true
  fi
  # A temporary folder outside the checkout goes with the cluster.
  case "$base" in /tmp/tutor-pg.*) rm -rf "$base" ;; esac
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
