# Sourced by the top-level scripts: puts a Rust toolchain on PATH. `sudo` resets PATH, so look
# in root's and the invoking user's ~/.cargo/bin too. Debian 12's own rustc (1.63) is too old.
if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin}"; do
    if [ -n "$d" ] && [ -x "$d/cargo" ]; then
      export PATH="$d:$PATH"
      # A user's rustup keeps its toolchains beside ~/.cargo.
      [ -d "${d%/.cargo/bin}/.rustup" ] && export RUSTUP_HOME="${RUSTUP_HOME:-${d%/.cargo/bin}/.rustup}"
      break
    fi
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "$(basename "$0"): cargo not found: install a Rust toolchain (rustup, stable >= 1.85) for root or the sudo user, then rerun" >&2
  exit 2
fi
