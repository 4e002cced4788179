//! `ipsecgw status`: a [`StatusSnapshot`] as text in the flavour of `swanctl --list-sas`, or as
//! JSON.

use crate::control::protocol::{ChildSaStatus, StatusSnapshot, TunnelStatus};
use std::fmt::Write;

/// The snapshot as pretty-printed JSON (what `status --json` prints).
pub fn render_json(s: &StatusSnapshot) -> String {
    serde_json::to_string_pretty(s).expect("status serializes")
}

/// The snapshot as operator text, e.g.
///
/// ```text
/// ipsecgw 0.1.0, up 2h03m, fast path: tun offload + udp gso/gro
/// azure: ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
///   local  '198.51.100.10' @ 172.31.5.10:4500 [NAT]
///   remote '203.0.113.20' @ 203.0.113.20:4500
///   aes256-sha256-prfsha256-modp1024
///   established 1h00m ago, rekeying in 3h00m
///   vnet: INSTALLED, TUNNEL-in-UDP, ESP:aes256gcm16
///     installed 20m00s ago, rekeying in 40m00s
///     in  c1234567, 123456 bytes, 789 packets
///     out c7654321, 654321 bytes, 987 packets
///     local  10.0.0.0/16
///     remote 10.1.0.0/16
/// ```
pub fn render_text(s: &StatusSnapshot) -> String {
    let mut out = String::new();
    let d = &s.daemon;
    let _ = writeln!(
        out,
        "ipsecgw {}, up {}, fast path: {}",
        d.version,
        human(d.uptime_secs),
        d.fast_path
    );
    if d.reply_spin_us > 0 {
        let _ = writeln!(
            out,
            "answers awaited awake for {} us: {} inbound worker wake-ups ahead of an answer, {} answers caught awake",
            d.reply_spin_us, d.reply_nudges, d.replies_caught_awake
        );
    }
    // Not with `realtime_priority = 0` (the default is 10).
    let w = &d.workers;
    let _ = match (&w.refused, w.realtime_priority) {
        (_, 0) => Ok(()),
        (Some(why), p) => writeln!(
            out,
            "workers: SCHED_OTHER, SCHED_FIFO {p} refused: {why} (needs CAP_SYS_NICE)"
        ),
        (None, p) => writeln!(
            out,
            "workers: SCHED_FIFO {p} while loaded ({} now); drops to SCHED_OTHER: {} after a busy window, {} for small batches",
            w.fifo_workers, w.dropped_to_normal, w.small_batch_drops
        ),
    };
    if !d.aes_gcm.is_empty() {
        let _ = writeln!(out, "AES-GCM: {}", d.aes_gcm);
    }
    if s.tunnels.is_empty() {
        out.push_str("no connections configured\n");
    }
    for t in &s.tunnels {
        tunnel(&mut out, t);
    }
    out
}

fn tunnel(out: &mut String, t: &TunnelStatus) {
    let state = t.state.as_str().to_ascii_uppercase();
    match &t.ike_sa {
        Some(ike) => {
            let (i, r) = if ike.we_initiated {
                ("*", "")
            } else {
                ("", "*")
            };
            let _ = writeln!(
                out,
                "{}: {state}, IKEv2, {}_i{i} {}_r{r}",
                t.name, ike.initiator_spi, ike.responder_spi
            );
        }
        None => {
            let _ = writeln!(out, "{}: {state}", t.name);
        }
    }
    let endpoint = |id: &Option<String>, addr: &Option<String>, nat: bool| {
        format!(
            "'{}' @ {}{}",
            id.as_deref().unwrap_or("%any"),
            addr.as_deref().unwrap_or("%any"),
            if nat { " [NAT]" } else { "" }
        )
    };
    let _ = writeln!(
        out,
        "  local  {}",
        endpoint(&t.local_id, &t.local_addr, t.nat_local)
    );
    let _ = writeln!(
        out,
        "  remote {}",
        endpoint(&t.remote_id, &t.remote_addr, t.nat_remote)
    );
    if let Some(ike) = &t.ike_sa {
        let _ = writeln!(out, "  {}", ike.suite);
        let _ = writeln!(
            out,
            "  established {} ago{}",
            human(ike.age_secs),
            rekey(ike.rekey_in_secs)
        );
    }
    for c in &t.child_sas {
        child(out, c);
    }
    if !t.drops.is_empty() {
        let list: Vec<String> = t.drops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  drops: {}", list.join(", "));
    }
    if t.ike_rekeys + t.child_rekeys + t.dpd_failures + t.ike_retransmits > 0 {
        let _ = writeln!(
            out,
            "  rekeys: ike {}, child {}; dpd failures: {}; IKE retransmits: {}",
            t.ike_rekeys, t.child_rekeys, t.dpd_failures, t.ike_retransmits
        );
    }
    if let Some(e) = &t.last_error {
        let _ = writeln!(out, "  last error: {e}");
    }
    if let Some(p) = &t.peer_proposals {
        let _ = writeln!(out, "  peer proposed: {p}");
    }
}

fn child(out: &mut String, c: &ChildSaStatus) {
    let mode = if c.udp_encap {
        "TUNNEL-in-UDP"
    } else {
        "TUNNEL"
    };
    let _ = writeln!(out, "  {}: INSTALLED, {mode}, ESP:{}", c.name, c.suite);
    let _ = writeln!(
        out,
        "    installed {} ago{}",
        human(c.age_secs),
        rekey(c.rekey_in_secs)
    );
    let _ = writeln!(
        out,
        "    in  {}, {} bytes, {} packets",
        c.spi_in, c.bytes_in, c.packets_in
    );
    let _ = writeln!(
        out,
        "    out {}, {} bytes, {} packets",
        c.spi_out, c.bytes_out, c.packets_out
    );
    let _ = writeln!(out, "    local  {}", c.local_ts.join(" "));
    let _ = writeln!(out, "    remote {}", c.remote_ts.join(" "));
}

fn rekey(secs: Option<u64>) -> String {
    secs.map(|s| format!(", rekeying in {}", human(s)))
        .unwrap_or_default()
}

/// `45s`, `20m00s`, `2h03m`, `3d04h`.
pub fn human(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(1200), "20m00s");
        assert_eq!(human(7380), "2h03m");
        assert_eq!(human(273600), "3d04h");
    }
}
