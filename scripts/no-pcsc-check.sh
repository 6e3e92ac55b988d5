#!/usr/bin/env bash
# Proves that the CLI needs nothing PC/SC to build, nor to run on the simulated card, and that
# the same binary uses readers when the PC/SC library is there (issue 13, item 1):
#
#  (a) `cargo tree` has no pcsc-sys (nor pcsc); the CLI is built in a fresh target directory
#      (target/no-pcsc, removed afterwards) with pkg-config unusable and libpcsclite hidden;
#  (b) in the same private mount namespace (`unshare --mount`; libpcsclite.so.1 — its real
#      file, found with `ldconfig -p` — and pkg-config covered by an empty file, the PC/SC
#      headers by an empty directory), `cps info` (simulated card) succeeds;
#  (c) there, `cps readers` and `cps --reader NAME info` fail with exit code 3 and a message
#      naming the Debian packages to install (libpcsclite1, pcscd);
#  (d) outside the namespace, the same binary lists pcscd's readers (vpcd's "Virtual PCD"),
#      with pcscd started by scripts/with-pcscd.sh.
#
# Needs root (mount namespaces), util-linux (unshare), and for (d) pcscd + vsmartcard-vpcd (no
# other pcscd running: like scripts/test.sh, the caller serialises pcscd users).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TARGET="$ROOT/target/no-pcsc"
BIN="$TARGET/debug/cps"

fail() {
  echo "no-pcsc-check: FAILED: $*" >&2
  exit 1
}
ok() { echo "no-pcsc-check: ok: $*"; }

# The real file behind libpcsclite.so.1 (empty when the library is not installed at all).
pcsc_library() {
  local path
  path="$(ldconfig -p 2>/dev/null | awk '$1 == "libpcsclite.so.1" { print $NF; exit }')"
  [ -n "$path" ] && readlink -f "$path" || true
}

inside() {
  # Runs in the private mount namespace: nothing mounted here is seen outside.
  local empty_file empty_dir lib tool out rc
  empty_dir="$(mktemp -d)"
  empty_file="$empty_dir/.empty"
  : >"$empty_file"
  chmod 644 "$empty_file"
  lib="$(pcsc_library)"
  if [ -n "$lib" ]; then
    mount --bind "$empty_file" "$lib"
  fi
  for tool in pkg-config pkgconf x86_64-linux-gnu-pkg-config aarch64-linux-gnu-pkg-config; do
    if tool="$(command -v "$tool")"; then
      mount --bind "$empty_file" "$(readlink -f "$tool")"
    fi
  done
  if [ -d /usr/include/PCSC ]; then
    mount --bind "$empty_dir" /usr/include/PCSC
  fi
  # The hiding works: no pkg-config runs, the library does not load.
  if pkg-config --version >/dev/null 2>&1; then fail "pkg-config still runs"; fi
  if python3 -c 'import ctypes; ctypes.CDLL("libpcsclite.so.1")' 2>/dev/null; then
    fail "libpcsclite.so.1 still loads"
  fi
  ok "pkg-config, libpcsclite.so.1 and /usr/include/PCSC hidden"

  # (a) Build the CLI from scratch without pkg-config or the PC/SC library.
  rm -rf "$TARGET"
  PKG_CONFIG="$empty_dir/pkg-config" PKG_CONFIG_LIBDIR="$empty_dir" PKG_CONFIG_PATH="$empty_dir" \
    CARGO_TARGET_DIR="$TARGET" cargo build -p cps-cli --bin cps
  ok "cps-cli built without pkg-config, libpcsclite-dev, libpcsclite1"

  # (b) The simulated card works.
  out="$("$BIN" info)" || fail "cps info (simulated card) failed: $out"
  grep -q "built-in simulator" <<<"$out" || fail "cps info did not read the simulated card: $out"
  ok "cps info on the simulated card"

  # (c) Reader commands fail clearly.
  for args in "readers" "--reader Virtual_PCD info"; do
    rc=0
    # shellcheck disable=SC2086 # word splitting of $args is intended
    out="$("$BIN" $args 2>&1)" || rc=$?
    [ "$rc" = 3 ] || fail "cps $args: exit code $rc, expected 3: $out"
    grep -q "libpcsclite1" <<<"$out" && grep -q "pcscd" <<<"$out" \
      || fail "cps $args does not name libpcsclite1 and pcscd: $out"
    ok "cps $args: exit 3, $(head -1 <<<"$out")"
  done
}

if [ "${1:-}" = --inside ]; then
  inside
  exit 0
fi

[ "$(id -u)" = 0 ] || fail "needs root (unshare --mount)"

# (a) No build-time PC/SC binding left in the dependency tree.
if cargo tree --workspace -e all --prefix none | grep -E '^pcsc(-sys)? v'; then
  fail "cargo tree still has pcsc / pcsc-sys"
fi
ok "cargo tree: no pcsc-sys"

unshare --mount --propagation private "$0" --inside

# (d) The same binary with the library present: pcscd's readers are listed.
[ -n "$(pcsc_library)" ] || fail "libpcsclite.so.1 is not installed: cannot check readers (apt-get install libpcsclite1 pcscd vsmartcard-vpcd)"
out="$(scripts/with-pcscd.sh "$BIN" readers 2>&1)" || fail "cps readers with libpcsclite present: $out"
grep -q "Virtual PCD" <<<"$out" || fail "cps readers did not list vpcd's reader: $out"
ok "same binary, library present: $(grep -m1 'Virtual PCD' <<<"$out")"

rm -rf "$TARGET"
echo "no-pcsc-check: all checks passed"
