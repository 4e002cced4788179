//! systemd `Type=notify` support (sd_notify(3)): READY, RELOADING, STOPPING, WATCHDOG and a
//! STATUS line. Every function is a no-op when `NOTIFY_SOCKET` is unset (not under systemd, or a
//! unit that is not `Type=notify`); failures to notify are logged at debug level and otherwise
//! ignored: systemd's own timeouts catch a daemon that never says READY.
//!
//! The daemon calls:
//! - [`ready`] once the sockets, TUN devices and control socket are up (before the first
//!   IKE_SA_INIT goes out: "ready" means "serving", not "tunnel established");
//! - [`status`] whenever the tunnel summary changes (see [`status_line`]);
//! - [`watchdog`] every [`watchdog_interval`] from the main loop (so a wedged control plane is
//!   restarted by systemd's `WatchdogSec=`);
//! - [`reloading`] when a reload starts and [`ready`] again when it is done;
//! - [`stopping`] when an orderly shutdown begins.

use crate::control::protocol::{StatusSnapshot, TunnelState};
use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// READY=1 with a STATUS= line.
pub fn ready(status_text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status_text)]);
}

/// RELOADING=1 (with MONOTONIC_USEC=, which systemd >= 253 wants with it); call [`ready`] when
/// the new configuration is in force.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// STOPPING=1.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// WATCHDOG=1: "still alive". Call it at least every [`watchdog_interval`].
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// STATUS=text (shown by `systemctl status ipsecgw`). Keep it to one short line.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// How often to call [`watchdog`]: half of the unit's `WatchdogSec=` (sd_watchdog_enabled(3)
/// recommends pinging at half the timeout), or `None` when the watchdog is off or we are not
/// under systemd.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// The STATUS= line for a snapshot, e.g.
/// `1/1 tunnels established, 1 CHILD_SA; azure: established`.
pub fn status_line(s: &StatusSnapshot) -> String {
    let total = s.tunnels.len();
    let up = s
        .tunnels
        .iter()
        .filter(|t| matches!(t.state, TunnelState::Established | TunnelState::Rekeying))
        .count();
    let children: usize = s.tunnels.iter().map(|t| t.child_sas.len()).sum();
    let mut line = format!(
        "{up}/{total} tunnels established, {children} CHILD_SA{}",
        if children == 1 { "" } else { "s" }
    );
    let per: Vec<String> = s
        .tunnels
        .iter()
        .map(|t| format!("{}: {}", t.name, t.state.as_str()))
        .collect();
    if !per.is_empty() {
        line.push_str("; ");
        line.push_str(&per.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{ChildSaStatus, TunnelStatus};

    #[test]
    fn status_line_counts() {
        let mut s = StatusSnapshot::default();
        assert_eq!(status_line(&s), "0/0 tunnels established, 0 CHILD_SAs");
        s.tunnels.push(TunnelStatus {
            name: "azure".into(),
            state: TunnelState::Established,
            child_sas: vec![ChildSaStatus::default()],
            ..Default::default()
        });
        s.tunnels.push(TunnelStatus {
            name: "dr".into(),
            state: TunnelState::Connecting,
            ..Default::default()
        });
        assert_eq!(
            status_line(&s),
            "1/2 tunnels established, 1 CHILD_SA; azure: established, dr: connecting"
        );
    }
}
