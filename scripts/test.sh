#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): formatting, lints, the appliance boot test,
# a short benchmark smoke run, then the unit/property tests, fuzz-corpus replays and the interop
# tests against a real strongSwan in network namespaces (cargo test, last).
# Run as root on Debian 12; interop tests skip loudly when not root.
#   IPSECGW_BOOT_TEST=0   skip the appliance boot test (it builds a Debian image; ~5 min cold)
#   IPSECGW_BENCH=0       skip the benchmark smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# Each step's line carries the free disk space: a CI run once failed with "No space left on
# device" while compiling the tests.
stamp() { echo "== [$(( $(date +%s) - start ))s] $* (disk free: $(df -h --output=avail . | tail -1 | tr -d ' '))"; }
root=0
if [ "$(id -u)" -eq 0 ]; then
  root=1
  scripts/install-deps.sh
else
  echo "test.sh: NOT ROOT: dependencies not installed, interop tests will be skipped" >&2
fi
. scripts/cargo-env.sh
# A clean checkout gains nothing from incremental state (1.4 GiB of it in target/debug).
export CARGO_INCREMENTAL=0
stamp "cargo fmt --check"
cargo fmt --all -- --check
stamp "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
stamp "build (release binaries used by the interop tests)"
cargo build --release --locked -p gateway -p interop-tests --bins
if [ "$root" = 1 ] && [ "${IPSECGW_BOOT_TEST:-1}" != 0 ]; then
  stamp "appliance boot test (Debian image under QEMU, tunnel to strongSwan)"
  appliance/test-boot.sh
fi
if [ "$root" = 1 ] && [ "${IPSECGW_BENCH:-1}" != 0 ]; then
  stamp "benchmark smoke run (scripts/bench.sh --quick --only plain,ipsecgw --hop-trace)"
  scripts/bench.sh --quick --only plain,ipsecgw --hop-trace
fi
stamp "cargo test"
# The interop tests append their measurements (lost pings, rekeys, retransmits) here.
rm -rf target/interop-results
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 || status=$?
if compgen -G "target/interop-results/*.txt" >/dev/null; then
  stamp "interop measurements (target/interop-results)"
  cat target/interop-results/*.txt
fi
stamp "done (cargo test exit status $status)"
exit "$status"
