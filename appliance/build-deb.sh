#!/usr/bin/env bash
# Builds the ipsecgw Debian package with cargo-deb (installed into a cache dir on first use).
# Output: the .deb's path on stdout (last line). Usage: appliance/build-deb.sh
# The build uses CARGO_TARGET_DIR when set (cargo-deb asks cargo metadata for the target dir);
# the .deb goes to $CARGO_TARGET_DIR/appliance, default target/appliance.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
  export CARGO_TARGET_DIR
fi
# cargo for root/sudo (rustup in a home directory), when the repository provides the helper.
if [ -f "$root/scripts/cargo-env.sh" ]; then
  # shellcheck source=/dev/null
  . "$root/scripts/cargo-env.sh"
fi
cache="${IPSECGW_APPLIANCE_CACHE:-/var/cache/ipsecgw-appliance}"
mkdir -p "$cache"
cargo_deb="$cache/cargo-deb/bin/cargo-deb"
if [ ! -x "$cargo_deb" ]; then
  echo "build-deb: installing cargo-deb into $cache/cargo-deb" >&2
  CARGO_TARGET_DIR="$cache/cargo-target" \
    cargo install cargo-deb --locked --root "$cache/cargo-deb" >&2
fi
out="${CARGO_TARGET_DIR:-$root/target}/appliance"
mkdir -p "$out"
cd "$root"
# cargo-deb runs `cargo build --release -p gateway` itself; --strip drops the debug info.
deb="$("$cargo_deb" -p gateway --strip --output "$out" "$@" | tail -n1)"
echo "build-deb: $deb ($(du -h "$deb" | cut -f1))" >&2
echo "$deb"
