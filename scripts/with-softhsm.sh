#!/usr/bin/env bash
# Runs a command with a private SoftHSM2 token for the update-server's PKCS#11 tests.
#
# SoftHSM2 (Debian's softhsm2 package) is a PKCS#11 library, not a daemon: "starting" it is
# giving it its own configuration and token directory. This script makes both under a fresh
# temporary directory, initialises a token labelled cps-update with random SO and user PINs,
# runs the command with SOFTHSM2_CONF, CPS_TEST_PKCS11_MODULE, CPS_TEST_PKCS11_TOKEN and
# CPS_TEST_PKCS11_PIN set, and removes the directory afterwards, even on failure.
#
# Usage: scripts/with-softhsm.sh COMMAND [ARGS...]
set -euo pipefail
MODULE=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  [ -f "$m" ] && MODULE="$m" && break
done
if [ -z "$MODULE" ] || ! command -v softhsm2-util >/dev/null 2>&1; then
  echo "with-softhsm: SoftHSM2 is not installed (apt-get install softhsm2)" >&2
  exit 1
fi
DIR="$(mktemp -d /tmp/cps-softhsm.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/tokens"
cat >"$DIR/softhsm2.conf" <<CONF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$DIR/softhsm2.conf"
SO_PIN="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PIN="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
softhsm2-util --init-token --free --label cps-update --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
echo "with-softhsm: token cps-update in $DIR/tokens ($MODULE)" >&2
export CPS_TEST_PKCS11_MODULE="$MODULE" CPS_TEST_PKCS11_TOKEN=cps-update CPS_TEST_PKCS11_PIN="$PIN"
set +e
"$@"
rc=$?
set -e
exit $rc
