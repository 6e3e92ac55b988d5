#!/usr/bin/env bash
# CI step: builds the Debian package (scripts/build-deb.sh), installs it with dpkg, exercises
# what it installed (the command on the simulator and through pcscd + vpcd, man pages,
# completions, the PKCS#11 module directly and through p11-kit), then removes and purges it
# and checks nothing it installed is left (a failed check purges it too). Needs root (dpkg -i)
# and no other pcscd user at the same time (CI runs its steps one after the other).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

fail() { echo "deb-check: FAILED: $*" >&2; exit 1; }
step() { echo "deb-check: $*"; }

scripts/build-deb.sh
DEB="$(ls -t target/dist/cps-rs_*.deb 2>/dev/null | head -1 || true)"
[ -n "$DEB" ] && [ -f "$DEB" ] || fail "no package built"
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)"
MODULE="/usr/lib/$MULTIARCH/pkcs11/libcps_pkcs11.so"
TAR="$(ls -t target/dist/cps-rs-*-linux-gnu.tar.gz 2>/dev/null | head -1 || true)"
[ -n "$TAR" ] || fail "no tarball built"

step "package contents and metadata"
[ "$(dpkg-deb --field "$DEB" Package)" = cps-rs ] || fail "control file"
FILES="$(dpkg-deb --contents "$DEB" | awk '{print $6}')"
for f in ./usr/bin/cps ".$MODULE" ./usr/share/p11-kit/modules/cps-rs.module \
  ./usr/lib/mozilla/pkcs11-modules/cps_rs.json \
  ./usr/share/man/man1/cps.1.gz ./usr/share/man/man1/cps-info.1.gz \
  ./usr/share/bash-completion/completions/cps ./usr/share/zsh/vendor-completions/_cps \
  ./usr/share/fish/vendor_completions.d/cps.fish ./usr/share/doc/cps-rs/copyright; do
  grep -qxF "$f" <<<"$FILES" || fail "$f missing from the package"
done
grep -q '/cps$' <<<"$(tar -tzf "$TAR")" || fail "cps missing from $TAR"

step "dpkg -i"
dpkg -r cps-rs >/dev/null 2>&1 || true
dpkg -i "$DEB"
# Whatever happens next, the package does not stay installed (another p11-kit or Firefox user
# of this machine would load the module).
trap 'dpkg -P cps-rs >/dev/null 2>&1 || true; rm -f /tmp/deb-check-info.txt /tmp/deb-check-serve.log' EXIT
[ "$(command -v cps)" = /usr/bin/cps ] || fail "cps is not /usr/bin/cps on PATH: $(command -v cps || true)"
VERSION="$(dpkg-deb --field "$DEB" Version)"
[ "$(cps --version | sed -n 1p)" = "cps $VERSION" ] || fail "cps --version: $(cps --version)"

step "cps on the built-in simulator"
cd /tmp   # not the source tree: the installed command needs nothing from it
grep -q "MARTIN" <<<"$(cps --sim cps4 info)" || fail "cps --sim cps4 info does not show the holder"
cps --sim cps3 doctor >/dev/null || fail "cps --sim cps3 doctor failed"
cd "$ROOT"

step "man pages and completions"
grep -q '^\.TH' <<<"$(zcat /usr/share/man/man1/cps.1.gz)" || fail "cps.1 is not a man page"
bash -c 'source /usr/share/bash-completion/completions/cps && complete -p cps' >/dev/null \
  || fail "bash completion does not register cps"

step "the PKCS#11 module, directly and through p11-kit"
grep -qi "cps-rs" <<<"$(pkcs11-tool --module "$MODULE" --show-info)" || fail "pkcs11-tool --show-info"
grep -q "^cps-rs: " <<<"$(p11-kit list-modules 2>/dev/null)" || fail "p11-kit does not list the cps-rs module"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["type"]=="pkcs11" and m["path"]==sys.argv[2], m' \
  /usr/lib/mozilla/pkcs11-modules/cps_rs.json "$MODULE" || fail "Firefox manifest"

step "cps through pcscd with a simulated card in the virtual reader"
scripts/with-pcscd.sh bash -c '
  set -euo pipefail
  cps sim serve --profile cps3 >/tmp/deb-check-serve.log 2>&1 &
  SERVE=$!
  trap "kill $SERVE 2>/dev/null || true; wait $SERVE 2>/dev/null || true" EXIT
  for _ in $(seq 1 50); do
    cps info >/tmp/deb-check-info.txt 2>&1 && break
    sleep 0.2
  done
  grep -q "MARTIN" /tmp/deb-check-info.txt || { cat /tmp/deb-check-info.txt /tmp/deb-check-serve.log >&2; exit 1; }
  cps doctor --reader auto >/dev/null
  grep -qi "token" <<<"$(pkcs11-tool --module "'"$MODULE"'" --list-token-slots)"
' || fail "cps / the module through pcscd"

step "dpkg -r and dpkg -P leave nothing"
dpkg -r cps-rs >/dev/null
dpkg -P cps-rs >/dev/null
for f in /usr/bin/cps "$MODULE" /usr/share/p11-kit/modules/cps-rs.module \
  /usr/lib/mozilla/pkcs11-modules/cps_rs.json /usr/share/man/man1/cps.1.gz; do
  [ ! -e "$f" ] || fail "$f left after removal"
done
! dpkg -s cps-rs >/dev/null 2>&1 || fail "cps-rs still known to dpkg"
step "OK ($DEB, $TAR)"
