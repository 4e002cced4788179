//! Process-wide registry of what the harness created (child PIDs, namespaces), so a binary can
//! tear everything down on SIGINT/SIGTERM/SIGHUP, and stale namespaces of dead runs can be swept.
//!
//! Normal cleanup is by `Drop` ([`crate::proc::Child`], [`crate::netns::Netns`]); this is the
//! backstop for signals, where destructors do not run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Prefix of every namespace this crate creates: `itst<pid>-<n>-<role>`.
pub const NETNS_PREFIX: &str = "itst";

#[derive(Default)]
struct Registry {
    pids: BTreeSet<u32>,
    netns: BTreeSet<String>,
    /// Run directories and whether to keep them.
    dirs: BTreeMap<PathBuf, bool>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pids: BTreeSet::new(),
    netns: BTreeSet::new(),
    dirs: BTreeMap::new(),
});

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut g = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut g)
}

pub(crate) fn register_pid(pid: u32) {
    with(|r| r.pids.insert(pid));
}

pub(crate) fn unregister_pid(pid: u32) {
    with(|r| r.pids.remove(&pid));
}

pub(crate) fn register_netns(name: &str) {
    with(|r| r.netns.insert(name.to_string()));
}

pub(crate) fn unregister_netns(name: &str) {
    with(|r| r.netns.remove(name));
}

pub(crate) fn register_dir(path: &Path, keep: bool) {
    with(|r| r.dirs.insert(path.to_path_buf(), keep));
}

pub(crate) fn unregister_dir(path: &Path) {
    with(|r| r.dirs.remove(path));
}

/// Kills every registered process (SIGKILL) and deletes every registered namespace (after
/// killing whatever still runs inside it), then removes run directories not marked to be kept.
/// Safe to call more than once.
pub fn cleanup_all() {
    let (pids, netns, dirs) = with(|r| {
        (
            std::mem::take(&mut r.pids),
            std::mem::take(&mut r.netns),
            std::mem::take(&mut r.dirs),
        )
    });
    for pid in pids {
        // SAFETY: plain syscall; the PID is one of our own children.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    for ns in netns {
        crate::netns::delete_netns(&ns);
    }
    for (dir, keep) in dirs {
        if keep {
            eprintln!("interop: kept run directory {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and every thread it spawns later) and
/// starts a thread that waits for them, runs [`cleanup_all`] and exits with 128+signo.
///
/// Call it first thing in `main`, before spawning any thread.
pub fn install_signal_cleanup() {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask on the current thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::Builder::new()
        .name("signal-cleanup".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid, initialised signal set blocked in every thread.
            let rc = unsafe { libc::sigwait(&set, &mut sig) };
            if rc != 0 {
                return;
            }
            eprintln!("interop: caught signal {sig}, cleaning up");
            cleanup_all();
            std::process::exit(128 + sig);
        })
        .expect("spawning the signal-cleanup thread");
}

/// Deletes namespaces named `itst<pid>-...` whose creating process no longer exists (left by a run
/// that was SIGKILLed), killing any process still inside them. Never touches live runs' names.
pub fn sweep_stale_netns() {
    for ns in crate::netns::list_netns() {
        let Some(rest) = ns.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("interop: sweeping stale namespace {ns}");
            crate::netns::delete_netns(&ns);
        }
    }
}
