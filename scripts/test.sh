#!/usr/bin/env bash
# The test command of README.md: every test of the workspace, including the end-to-end tests
# through the real PC/SC stack (pcscd + vsmartcard-vpcd + OpenSC tools).
#
# On Debian/Ubuntu as root it installs the PC/SC packages when they are missing; pcscd is
# started for the run and stopped afterwards (scripts/with-pcscd.sh). Without pcscd the PC/SC
# tests print SKIPPED, except under CI=true where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(pcscd libpcsclite-dev vsmartcard-vpcd opensc pcsc-tools)
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s "${PKGS[@]}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PKGS[@]}"
  else
    echo "note: install the PC/SC stack for the end-to-end tests: sudo apt-get install ${PKGS[*]}" >&2
  fi
fi
if command -v pcscd >/dev/null 2>&1; then
  exec scripts/with-pcscd.sh cargo test --workspace "$@"
else
  exec cargo test --workspace "$@"
fi
