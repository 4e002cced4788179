//! Lets the lab's namespaces use the benchmark's TCP congestion control.
//!
//! A network namespace other than the host's may set `net.ipv4.tcp_congestion_control` only to
//! a name in the host's `net.ipv4.tcp_allowed_congestion_control` (EPERM otherwise; see
//! `tcp_set_default_congestion_control` in the kernel's net/ipv4/tcp_cong.c). Some machines
//! allow only their own default (e.g. `reno bbr`), so the rows would fail to set `cubic`.
//! [`allow`] adds the name for the run; the previous list comes back when the guard drops, or
//! when a signal ends the run ([`restore_now`], called by `signals`).

use std::io;
use std::sync::Mutex;

const ALLOWED: &str = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";

/// The list to write back, if this run changed it.
static RESTORE: Mutex<Option<String>> = Mutex::new(None);

/// Restores the host's allowed list when dropped.
#[derive(Debug)]
pub struct AllowedCc(());

impl Drop for AllowedCc {
    fn drop(&mut self) {
        restore_now();
    }
}

/// `list` (space-separated names, as the sysctl reads) with `name` added, or `None` if it is
/// there already.
pub fn with_name(list: &str, name: &str) -> Option<String> {
    let names: Vec<&str> = list.split_whitespace().collect();
    if names.contains(&name) {
        return None;
    }
    Some(
        names
            .into_iter()
            .chain([name])
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Makes `name` allowed in every namespace until the guard drops (nothing to undo if it was).
pub fn allow(name: &str) -> io::Result<AllowedCc> {
    let before = std::fs::read_to_string(ALLOWED)?;
    if let Some(list) = with_name(&before, name) {
        std::fs::write(ALLOWED, &list).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("adding {name:?} to {ALLOWED} ({}): {e}", before.trim()),
            )
        })?;
        eprintln!(
            "bench: {name} added to the host's allowed congestion controls for this run (was: {})",
            before.trim()
        );
        *RESTORE.lock().unwrap_or_else(|p| p.into_inner()) = Some(before.trim().to_string());
    }
    Ok(AllowedCc(()))
}

/// Writes back the list [`allow`] changed (once).
pub fn restore_now() {
    let prev = RESTORE.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(list) = prev {
        if let Err(e) = std::fs::write(ALLOWED, &list) {
            eprintln!("bench: could not restore {ALLOWED} to {list:?}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_name_is_appended_and_a_present_one_left_alone() {
        assert_eq!(
            with_name("reno bbr\n", "cubic").as_deref(),
            Some("reno bbr cubic")
        );
        assert_eq!(with_name("reno cubic\n", "cubic"), None);
        assert_eq!(with_name("", "cubic").as_deref(), Some("cubic"));
    }
}
