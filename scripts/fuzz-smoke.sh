#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 15) — a smoke test, not a campaign.
# cargo-fuzz needs nightly features; this stable toolchain allows them with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-15}"
export RUSTC_BOOTSTRAP=1
mkdir -p target
for target in $(cargo fuzz list); do
  log="target/smoke-$target.log"
  echo "--- fuzz $target for ${secs}s"
  if ! cargo fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed (crash or build error): see fuzz/$log and fuzz/artifacts/$target" >&2
    exit 1
  fi
  grep -E "^#[0-9]+ +DONE" "$log" | tail -n 1 || tail -n 3 "$log"
done
