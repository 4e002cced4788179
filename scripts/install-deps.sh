#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmarks need on a fresh Debian 12 machine (as root).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get, network namespaces)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  # the strongSwan peer: charon with kernel-libipsec (userspace ESP; the kernel has no XFRM)
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-extra-plugins libstrongswan-standard-plugins
  # namespaces, NAT, traffic, captures
  iproute2 iputils-ping nftables iperf3 procps util-linux
  # C toolchain for ring (its build script compiles assembly and C)
  gcc libc6-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# charon must not run as a system service: the tests start their own instances.
systemctl disable --now strongswan-starter strongswan 2>/dev/null || true
# The Rust toolchain is not installed here (Debian 12's rustc is too old for this workspace):
# scripts/cargo-env.sh finds a rustup toolchain, also the sudo user's.
echo "install-deps: ok"
