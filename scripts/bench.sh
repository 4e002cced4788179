#!/usr/bin/env bash
# The end-to-end benchmark (issue 8), one command, as root on Debian 12:
#   scripts/bench.sh                          # everything (~11 min on 2 vCPUs)
#   scripts/bench.sh --quick --only plain,ipsecgw   # CI-sized smoke run (~1 min + build)
# Installs what it needs (apt packages, boringtun-cli cached in target/bench-tools), builds
# ipsecgw and the driver in release, then runs target/release/bench with the given arguments
# (see benches/README.md). The report goes to benches/results/latest.md (and .json).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench.sh: must run as root (network namespaces, apt-get)" >&2
  exit 2
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  # strongSwan with kernel-libipsec (userspace ESP), controlled with swanctl
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-extra-plugins libstrongswan-standard-plugins
  # the WireGuard comparisons (boringtun comes from crates.io below)
  wireguard-go wireguard-tools
  # traffic, NAT, namespaces, crypto ceiling
  iperf3 samba smbclient nftables openssl iproute2 iputils-ping procps util-linux
  # the per-hop trace of a loaded ping series (full runs, --hop-trace)
  tcpdump
  # C toolchain for ring (ipsecgw, boringtun)
  gcc libc6-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench.sh: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Freshly installed daemons must not run as system services: the benchmark starts its own
  # instances inside namespaces.
  for p in "${missing[@]}"; do
    case "$p" in
      samba) systemctl disable --now smbd nmbd samba-ad-dc >/dev/null 2>&1 || true ;;
      strongswan-charon) systemctl disable --now strongswan-starter strongswan >/dev/null 2>&1 || true ;;
      iperf3) systemctl disable --now iperf3 >/dev/null 2>&1 || true ;;
    esac
  done
fi

. scripts/cargo-env.sh

tools=target/bench-tools
boringtun_version="${BORINGTUN_VERSION:-0.7.1}"
if ! "$tools/bin/boringtun-cli" --version 2>/dev/null | grep -qF "$boringtun_version"; then
  echo "bench.sh: cargo install boringtun-cli $boringtun_version (cached in $tools)"
  cargo install boringtun-cli --version "$boringtun_version" --locked --root "$tools" --quiet
fi

echo "bench.sh: building ipsecgw and the benchmark driver (release)"
cargo build --release --locked --quiet -p gateway -p benches

status=0
out="${CARGO_TARGET_DIR:-target}/release"
"$out/bench" --ipsecgw "$out/ipsecgw" --boringtun "$tools/bin/boringtun-cli" "$@" || status=$?
echo "bench.sh: finished in $(( $(date +%s) - start )) s (exit status $status)" >&2
exit "$status"
