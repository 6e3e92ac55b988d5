#!/usr/bin/env bash
# Usage: scripts/with-pcscd.sh CMD [ARGS...]
#
# Runs CMD with a PC/SC daemon available, for the end-to-end tests (simulated card in the
# vsmartcard-vpcd reader "Virtual PCD 00 00").
#
# - If pcscd is already running, CMD simply runs against it (that pcscd is left alone).
# - Otherwise pcscd is started in the foreground mode as a background job (log:
#   ${CARGO_TARGET_DIR:-target}/pcscd.log), the script waits up to 10 s for its socket
#   /run/pcscd/pcscd.comm to answer a PC/SC client (pcsc_scan -r), runs CMD, and stops that pcscd by its PID on exit, whatever happens
#   (CMD failing, Ctrl-C, TERM). Never `--auto-exit`: pcscd would quit after 60 s without a client.
#   CMD runs in the foreground (it keeps the terminal and Ctrl-C): a signal sent to this script
#   alone (not to its process group) is acted on when CMD returns.
# - If pcscd cannot be started (not installed, not root), a warning is printed and CMD runs
#   anyway: the PC/SC tests then report SKIPPED, or fail under CI=true.
#
# The exit status is CMD's.
set -uo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG="$TARGET_DIR/pcscd.log"
SOCKET=/run/pcscd/pcscd.comm
PIDFILE=/run/pcscd/pcscd.pid
PCSCD_PID=""

log() { echo "with-pcscd: $*" >&2; }

# A live pcscd: a process named pcscd that is not a zombie (an exited pcscd whose parent has
# not reaped it yet still matches `pgrep`), or pcscd's own PID file pointing at a live process.
pcscd_running() {
  local pid state
  if command -v pgrep >/dev/null 2>&1; then
    for pid in $(pgrep -x pcscd 2>/dev/null); do
      state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
      [ "$state" != Z ] && [ -n "$state" ] && return 0
    done
  fi
  [ -S "$SOCKET" ] && [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE" 2>/dev/null)" 2>/dev/null
}

# pcscd answers on its socket: a PC/SC client establishes a context (pcsc_scan -r, from
# pcsc-tools: exit 0 listing the readers; "Service not available" when nobody answers). A socket
# file alone can be left over by a dead pcscd. Without pcsc_scan the socket has to do.
pcscd_answers() {
  local out rc
  command -v pcsc_scan >/dev/null 2>&1 || { [ -S "$SOCKET" ]; return; }
  out="$(timeout 5 pcsc_scan -r 2>&1)"
  rc=$?
  [ "$rc" -eq 0 ] && return 0
  case "$out" in
    *"Service not available"*|*"Cannot connect"*) return 1 ;;
  esac
  # Any other answer (no reader yet, ...) came from a running service.
  [ "$rc" -ne 124 ]
}

stop_pcscd() {
  [ -n "$PCSCD_PID" ] || return 0
  if kill -0 "$PCSCD_PID" 2>/dev/null; then
    kill -TERM "$PCSCD_PID" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$PCSCD_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$PCSCD_PID" 2>/dev/null; then
      log "pcscd (pid $PCSCD_PID) did not stop on TERM: killing it"
      kill -KILL "$PCSCD_PID" 2>/dev/null
    fi
  fi
  wait "$PCSCD_PID" 2>/dev/null
  log "stopped pcscd (pid $PCSCD_PID)"
  PCSCD_PID=""
}

trap stop_pcscd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if pcscd_running; then
  if pcscd_answers; then
    log "pcscd is already running: using it (it will not be stopped)"
  else
    log "WARNING: a pcscd process exists but its socket does not answer (pcsc_scan -r)"
  fi
elif ! command -v pcscd >/dev/null 2>&1; then
  log "WARNING: pcscd is not installed (apt-get install pcscd vsmartcard-vpcd): running without it"
else
  mkdir -p "$TARGET_DIR"
  pcscd --foreground >"$LOG" 2>&1 &
  PCSCD_PID=$!
  ready=""
  for _ in $(seq 1 100); do
    if [ -S "$SOCKET" ] && pcscd_answers; then
      ready=1
      break
    fi
    kill -0 "$PCSCD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$ready" ]; then
    log "started pcscd (pid $PCSCD_PID, log $LOG)"
  else
    log "WARNING: pcscd did not come up within 10 s (root needed?); log $LOG:"
    tail -n 20 "$LOG" >&2
    stop_pcscd
  fi
fi

"$@"
rc=$?
exit "$rc"
