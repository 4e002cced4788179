//! Entering a named network namespace (`ip netns add NAME`) from the current thread.
//!
//! Only the calling thread moves; sockets and TUN devices it creates afterwards live in that
//! namespace even when other threads use them later. When the daemon itself runs under
//! `ip netns exec`, none of this is needed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Where `ip netns` keeps its namespace handles.
pub const NETNS_DIR: &str = "/var/run/netns";

/// Moves the current thread into the network namespace `name` (as created by `ip netns add`).
pub fn enter_netns(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid network namespace name",
        ));
    }
    enter_netns_path(&Path::new(NETNS_DIR).join(name))
}

/// Moves the current thread into the network namespace referred to by `path`
/// (e.g. `/proc/PID/ns/net` or `/var/run/netns/NAME`).
pub fn enter_netns_path(path: &Path) -> io::Result<()> {
    let ns = File::open(path)?;
    // SAFETY: `ns` is an open descriptor owned by this function for the duration of the call;
    // setns(2) only reads it, and CLONE_NEWNET restricts the call to the network namespace of
    // the calling thread, which is permitted in multi-threaded processes.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
