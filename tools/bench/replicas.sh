#!/usr/bin/env bash
# Two `tutor serve` replicas on one PostgreSQL behind nginx (grpc_pass, least_conn), and the same
# load against one replica on SQLite, in one sitting:
#   tools/bench/replicas.sh [MODEL_DIR] [STUDENTS] [SECONDS] [MAX_NEW_TOKENS]
# Uses the release binary (.build-release/release/tutor; build it with
#   swift build -c release --product tutor --scratch-path .build-release),
# a throwaway PostgreSQL cluster under .build/pg-bench and nginx from Debian. Prints each
# loadtest's JSON report on its own line, prefixed by the setup's name.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/tutor}
students=${2:-50}
seconds=${3:-60}
tokens=${4:-16}
SERVE_FLAGS=${SERVE_FLAGS:-}
THINK_MS=${THINK_MS:-1000}
tutor=.build-release/release/tutor
[ -x "$tutor" ] || { echo "error: build the release binary first (see the header)" >&2; exit 1; }
work=$(mktemp -d) && chmod 755 "$work"
# The servers' logs stay here after the run.
logs=.build/bench-replicas && rm -rf "$logs" && mkdir -p "$logs"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  tools/postgres.sh stop .build/pg-bench >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
serve() { # serve DB PORT LOG; $SERVE_FLAGS are passed on (e.g. "--weights float16")
  # shellcheck disable=SC2086
  "$tutor" serve --model "$model" --db "$1" --port "$2" $SERVE_FLAGS >"$3" 2>&1 &
  pids+=($!)
  wait_port "$2"
}

# Two replicas on PostgreSQL behind nginx.
admin_url=$(tools/postgres.sh start .build/pg-bench)
psql "$admin_url" -qc "DROP DATABASE IF EXISTS tutor_bench WITH (FORCE)" -c "CREATE DATABASE tutor_bench"
url=${admin_url%/postgres}/tutor_bench
token=$("$tutor" token create --role admin --db "$url" --label bench)
p1=$(free_port) && serve "$url" "$p1" "$logs/replica1.log"
p2=$(free_port) && serve "$url" "$p2" "$logs/replica2.log"
front=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream tutor {
    least_conn; server 127.0.0.1:$p1; server 127.0.0.1:$p2; keepalive 32; keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$front http2;
    keepalive_requests 1000000;
    location / { grpc_pass grpc://tutor; grpc_read_timeout 300s; grpc_next_upstream error timeout; }
  }
}
CONF
/usr/sbin/nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf"
wait_port "$front"
echo -n "postgres-2-replicas-nginx "
"$tutor" loadtest --server "127.0.0.1:$front" --token "$token" --students "$students" \
  --duration "$seconds" --max-new-tokens "$tokens" --think-ms "$THINK_MS" --db "$url" --json
for pid in "${pids[@]}"; do kill "$pid"; done
pids=()
kill "$(cat "$work/nginx/nginx.pid")"

# One replica on SQLite, the same load.
db=$work/tutor.sqlite
token=$("$tutor" token create --role admin --db "$db" --label bench)
p=$(free_port) && serve "$db" "$p" "$logs/sqlite.log"
echo -n "sqlite-1-replica "
"$tutor" loadtest --server "127.0.0.1:$p" --token "$token" --students "$students" \
  --duration "$seconds" --max-new-tokens "$tokens" --think-ms "$THINK_MS" --db "$db" --json
