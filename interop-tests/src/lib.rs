//! Network-namespace harness for interop tests: ipsecgw (or a strongSwan standing in for it)
//! against a strongSwan "Azure VPN Gateway" behind an EC2-style 1:1 NAT.
//!
//! Everything runs inside network namespaces this crate creates; every namespace, process and
//! temporary directory is removed on drop (and, for binaries, on SIGINT/SIGTERM via
//! [`cleanup::install_signal_cleanup`]).

pub mod azure_policy;
pub mod capture;
pub mod cleanup;
pub mod error;
pub mod fixtures;
pub mod flood;
pub mod gateway_config;
pub mod impair;
pub mod ipsecgw;
pub mod netns;
pub mod proc;
pub mod rundir;
pub mod scenario;
pub mod strongswan;
pub mod topology;
pub mod traffic;

pub use error::{Error, Result};

/// True when running as root. Otherwise prints a loud SKIP line naming `what` and returns false:
/// tests call `if !interop_tests::require_root("name") { return; }`.
pub fn require_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(
        what,
        "interop tests need root (network namespaces); not running",
    );
    false
}

/// Prints `SKIP <what>: <why>` straight to stderr, past the test harness's output capture.
pub fn skip(what: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {what}: {why}");
}
