#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): formatting, lints, unit and property tests,
# fuzz-corpus replays, and the interop tests against a real strongSwan in network namespaces.
# Run as root on Debian 12; interop tests skip loudly when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  scripts/install-deps.sh
else
  echo "test.sh: NOT ROOT: dependencies not installed, interop tests will be skipped" >&2
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build (release binaries used by the interop tests)"
cargo build --release --locked -p gateway -p interop-tests --bins
echo "== cargo test"
cargo test --workspace --locked 2>&1
