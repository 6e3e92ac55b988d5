#!/usr/bin/env bash
# The test command of README.md: every test of the workspace, including the end-to-end tests
# through the real PC/SC stack (pcscd + vsmartcard-vpcd + OpenSC tools).
#
# On Debian/Ubuntu as root it installs the PC/SC packages when they are missing; pcscd is
# started for the run and stopped afterwards (scripts/with-pcscd.sh). Without pcscd the PC/SC
# tests print SKIPPED, except under CI=true where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
# The `cps` command speaks the language of the locale (LC_ALL, LC_MESSAGES, LANG): the tests
# that assert English output must not depend on the machine's locale. The language tests
# (crates/cps-cli/tests/i18n.rs) set their own locale variables.
export LC_ALL=C.UTF-8
unset LC_MESSAGES LANGUAGE
PKGS=(pcscd libpcsclite1 vsmartcard-vpcd opensc pcsc-tools python3-pyscard python3-venv openssl libnss3-tools libengine-pkcs11-openssl openjdk-17-jdk-headless firefox-esr p11-kit p11-kit-modules chromium pinentry-curses thunderbird libreoffice-writer-nogui python3-uno xmlsec1)
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s "${PKGS[@]}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PKGS[@]}"
  else
    echo "note: install the PC/SC stack for the end-to-end tests: sudo apt-get install ${PKGS[*]}" >&2
  fi
fi
# python-fido2 2.2.1 (PyPI) on Debian's python3 with its pyscard, for the FIDO2 interop test.
VENV=target/py-fido2
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import smartcard" 2>/dev/null; then
  if ! "$VENV/bin/python" -c "import fido2, smartcard" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q "fido2==2.2.1"
  fi
  export FIDO2_PYTHON="$PWD/$VENV/bin/python"
fi
# python-desfire 0.1.5 (PyPI; pycryptodome pinned) on Debian's python3 with its pyscard, for
# the DESFire interop test (native frames through pcscd; crates/cps-cli/tests/desfire_python.rs).
VENV=target/py-desfire
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import smartcard" 2>/dev/null; then
  if ! "$VENV/bin/python" -c "import desfire, smartcard" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q "python-desfire==0.1.5" "pycryptodome==3.24.1"
  fi
  export DESFIRE_PYTHON="$PWD/$VENV/bin/python"
fi
if command -v pcscd >/dev/null 2>&1; then
  exec scripts/with-pcscd.sh cargo test --workspace "$@"
else
  exec cargo test --workspace "$@"
fi
