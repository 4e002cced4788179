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

use crate::control::protocol::StatusSnapshot;
use sd_notify::NotifyState;
use std::time::{Duration, Instant};

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
    let up = s.tunnels.iter().filter(|t| t.state.is_up()).count();
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

/// The main loop's side of the protocol in one place: pings the watchdog when due and sends
/// STATUS= when the summary changes.
///
/// ```ignore
/// let mut notify = platform::sd_notify::Notifier::new();
/// platform::sd_notify::ready(&platform::sd_notify::status_line(&snapshot));
/// loop {
///     notify.tick(Instant::now(), Some(&snapshot)); // or None when no fresh snapshot
///     let deadline = notify.next_deadline().map_or(deadline, |w| w.min(deadline));
///     ...
/// }
/// ```
#[derive(Debug)]
pub struct Notifier {
    interval: Option<Duration>,
    last_ping: Instant,
    last_status: String,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    /// Reads the watchdog interval from the environment ([`watchdog_interval`]).
    pub fn new() -> Notifier {
        Notifier::with_interval(watchdog_interval())
    }

    /// With an explicit watchdog interval (`None` = no watchdog pings).
    pub fn with_interval(interval: Option<Duration>) -> Notifier {
        Notifier {
            interval,
            last_ping: Instant::now(),
            last_status: String::new(),
        }
    }

    /// Sends WATCHDOG=1 if an interval has passed since the last one, and STATUS= if the
    /// snapshot's [`status_line`] differs from the last one sent. Returns what it sent, for
    /// tests and debug logs.
    pub fn tick(&mut self, now: Instant, snapshot: Option<&StatusSnapshot>) -> (bool, bool) {
        let mut sent_status = false;
        if let Some(s) = snapshot {
            let line = status_line(s);
            if line != self.last_status {
                status(&line);
                self.last_status = line;
                sent_status = true;
            }
        }
        let mut pinged = false;
        if let Some(iv) = self.interval {
            if now.duration_since(self.last_ping) >= iv {
                watchdog();
                self.last_ping = now;
                pinged = true;
            }
        }
        (pinged, sent_status)
    }

    /// When the next watchdog ping is due (wake the loop by then), if the watchdog is on.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.interval.map(|iv| self.last_ping + iv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{ChildSaStatus, TunnelState, TunnelStatus};

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

    #[test]
    fn notifier_pings_when_due_and_reports_changes_once() {
        let t0 = Instant::now();
        let mut n = Notifier::with_interval(Some(Duration::from_secs(15)));
        n.last_ping = t0;
        let s = StatusSnapshot::default();
        assert_eq!(n.tick(t0, Some(&s)), (false, true));
        assert_eq!(
            n.tick(t0 + Duration::from_secs(1), Some(&s)),
            (false, false)
        );
        assert_eq!(n.tick(t0 + Duration::from_secs(15), None), (true, false));
        assert_eq!(n.next_deadline(), Some(t0 + Duration::from_secs(30)));
        let mut off = Notifier::with_interval(None);
        assert_eq!(off.tick(t0 + Duration::from_secs(99), None), (false, false));
        assert_eq!(off.next_deadline(), None);
    }
}
