#!/usr/bin/env bash
# Builds the ipsecgw Debian package with cargo-deb (installed into a cache dir on first use).
# Output: the .deb's path on stdout (last line). Usage: appliance/build-deb.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${IPSECGW_APPLIANCE_CACHE:-/var/cache/ipsecgw-appliance}"
mkdir -p "$cache"
cargo_deb="$cache/cargo-deb/bin/cargo-deb"
if [ ! -x "$cargo_deb" ]; then
  echo "build-deb: installing cargo-deb into $cache/cargo-deb" >&2
  CARGO_TARGET_DIR="$cache/cargo-target" \
    cargo install cargo-deb --locked --root "$cache/cargo-deb" >&2
fi
out="$root/target/appliance"
mkdir -p "$out"
cd "$root"
# cargo-deb runs `cargo build --release -p gateway` itself; --strip drops the debug info.
deb="$("$cargo_deb" -p gateway --strip --output "$out" "$@" | tail -n1)"
echo "build-deb: $deb ($(du -h "$deb" | cut -f1))" >&2
echo "$deb"
