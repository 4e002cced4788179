#!/usr/bin/env bash
# The demo: installs what it needs, builds ipsecgw, creates network namespaces (a VPC host,
# ipsecgw behind an EC2-style 1:1 NAT, a strongSwan "Azure VPN Gateway" with Azure's default
# policy, a VNet host), brings the tunnel up, pings and copies files across it, prints
# `ipsecgw status`, and cleans up. Run as root on Debian 12.
#   scripts/demo.sh            ipsecgw as the AWS-side gateway
#   scripts/demo.sh --keep     keep the run directory (configs, logs) afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (network namespaces, TUN devices)" >&2
  exit 1
fi
scripts/install-deps.sh
. scripts/cargo-env.sh
echo "== building ipsecgw (release)"
cargo build --release --locked -p gateway -p interop-tests --bins
# The build follows CARGO_TARGET_DIR when it is set.
exec "${CARGO_TARGET_DIR:-target}/release/demo" "$@"
