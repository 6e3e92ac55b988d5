#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server for the update-server tests, then stops it.
#
# The server (Debian's postgresql package) gets its own data directory under a fresh temporary
# directory, listens on 127.0.0.1 only (port CPS_PG_PORT, default 55432) and on a socket in that
# directory, runs as the unprivileged `postgres` user when started as root, and is stopped by
# PID (SIGINT = fast shutdown) when the command ends, even on failure. The command sees
# CPS_TEST_POSTGRES="host=127.0.0.1 port=… user=… dbname=postgres".
#
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail
PORT="${CPS_PG_PORT:-55432}"
BIN=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/postgres" ] && BIN="$d"
done
if [ -z "$BIN" ]; then
  echo "with-postgres: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
DIR="$(mktemp -d /tmp/cps-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  RUNAS=(runuser -u postgres --)
  USER_NAME=postgres
  chown postgres: "$DIR"
else
  RUNAS=()
  USER_NAME="$(id -un)"
fi
PID=""
cleanup() {
  # The postmaster's own PID (runuser, when used, is its parent and waits for it).
  local pm=""
  [ -f "$DIR/data/postmaster.pid" ] && pm="$(head -1 "$DIR/data/postmaster.pid")"
  for p in $pm $PID; do
    if kill -0 "$p" 2>/dev/null; then
      kill -INT "$p" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    fi
  done
  wait "$PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${RUNAS[@]}" "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" -A trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
"${RUNAS[@]}" "$BIN/postgres" -D "$DIR/data" -h 127.0.0.1 -p "$PORT" -k "$DIR" \
  -c fsync=off -c max_connections=200 -c shared_buffers=64MB >"$DIR/postgres.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  if "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$DIR/postgres.log" >&2; exit 1; }
  sleep 0.1
done
"$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q || { echo "with-postgres: server not ready" >&2; cat "$DIR/postgres.log" >&2; exit 1; }
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (pid $PID)" >&2
export CPS_TEST_POSTGRES="host=127.0.0.1 port=$PORT user=$USER_NAME dbname=postgres"
set +e
"$@"
rc=$?
set -e
exit $rc
