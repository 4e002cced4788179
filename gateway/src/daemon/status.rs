//! Builds the `ipsecgw status` snapshot from the endpoint and the fast-path counters.
//! Nothing secret is read here: only SPIs, suites, addresses and counters.

use super::control_plane::{drops_of, ControlPlane, Tunnel};
use crate::control::protocol::{
    ChildSaStatus, DaemonInfo, IkeSaStatus, StatusSnapshot, TrafficTotals, TunnelState,
    TunnelStatus, WorkerScheduling,
};
use ikev2::wire::TrafficSelector;
use ikev2::SaPhase;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub fn selector_string(ts: &TrafficSelector) -> String {
    let range = if ts.start == ts.end {
        ts.start.to_string()
    } else {
        match prefix_len(ts) {
            Some(len) => format!("{}/{}", ts.start, len),
            None => format!("{}-{}", ts.start, ts.end),
        }
    };
    if ts.ip_protocol == 0 && ts.start_port == 0 && ts.end_port == 65535 {
        range
    } else {
        format!(
            "{range}[{}/{}-{}]",
            ts.ip_protocol, ts.start_port, ts.end_port
        )
    }
}

fn prefix_len(ts: &TrafficSelector) -> Option<u32> {
    use std::net::IpAddr;
    let (s, e, bits): (u128, u128, u32) = match (ts.start, ts.end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (u32::from(s).into(), u32::from(e).into(), 32),
        (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e), 128),
        _ => return None,
    };
    let span = e.checked_sub(s)?.checked_add(1);
    let host_bits = match span {
        None => 128, // the whole IPv6 space
        Some(n) if n.is_power_of_two() => n.trailing_zeros(),
        Some(_) => return None,
    };
    if host_bits > bits || (host_bits < 128 && s & ((1u128 << host_bits) - 1) != 0) {
        return None;
    }
    Some(bits - host_bits)
}

fn tunnel_state(t: &Tunnel, phase: Option<SaPhase>) -> TunnelState {
    match phase {
        Some(SaPhase::Established) if !t.sas.children.is_empty() => TunnelState::Established,
        Some(SaPhase::Established) | Some(SaPhase::Connecting) | Some(SaPhase::Authenticating) => {
            TunnelState::Connecting
        }
        Some(SaPhase::Deleting) => TunnelState::Closing,
        _ if t.conn.mode == crate::config::Mode::Responder
            || t.conn.start_action == crate::config::StartAction::Add =>
        {
            TunnelState::Waiting
        }
        _ => TunnelState::Down,
    }
}

pub fn snapshot(cp: &ControlPlane, now: Instant) -> StatusSnapshot {
    let peers = cp.endpoint.status();
    let tunnels = cp
        .tunnels
        .iter()
        .map(|t| {
            let ps = peers.iter().find(|p| p.peer == t.peer);
            let mut child_sas = Vec::new();
            let mut traffic = TrafficTotals {
                bytes_in: t.path.retired_in.0.load(Ordering::Relaxed),
                packets_in: t.path.retired_in.1.load(Ordering::Relaxed),
                bytes_out: t.path.retired_out.0.load(Ordering::Relaxed),
                packets_out: t.path.retired_out.1.load(Ordering::Relaxed),
                ecn_ce_marked: t.path.drops.aqm_ce_marked.load(Ordering::Relaxed),
            };
            let ep_children: Vec<&ikev2::ChildStatus> =
                ps.map(|p| p.children.iter().collect()).unwrap_or_default();
            let rekeying = ep_children.iter().any(|c| c.rekeying);
            for c in &t.sas.children {
                let ins = cp
                    .inbound
                    .get(c.inbound_spi)
                    .map(|p| p.sa.stats())
                    .unwrap_or_default();
                let outs = t
                    .sas
                    .outbound_of(&c.name)
                    .filter(|o| o.sa.spi() == c.outbound_spi)
                    .map(|o| o.sa.stats())
                    .unwrap_or_default();
                traffic.bytes_in += ins.bytes;
                traffic.packets_in += ins.packets;
                traffic.bytes_out += outs.bytes;
                traffic.packets_out += outs.packets;
                child_sas.push(ChildSaStatus {
                    name: c.name.clone(),
                    spi_in: format!("{:08x}", c.inbound_spi),
                    spi_out: format!("{:08x}", c.outbound_spi),
                    suite: c.suite.to_string(),
                    udp_encap: c.udp_encap,
                    age_secs: now.saturating_duration_since(c.installed_at).as_secs(),
                    rekey_in_secs: ep_children
                        .iter()
                        .find(|e| e.inbound_spi == c.inbound_spi)
                        .and_then(|e| e.rekey_at)
                        .map(|at| at.saturating_duration_since(now).as_secs()),
                    bytes_in: ins.bytes,
                    bytes_out: outs.bytes,
                    packets_in: ins.packets,
                    packets_out: outs.packets,
                    local_ts: c.local_ts.clone(),
                    remote_ts: c.remote_ts.clone(),
                });
            }
            let mut drops: std::collections::BTreeMap<String, u64> =
                drops_of(t, &cp.inbound).into_iter().collect();
            drops.retain(|_, v| *v > 0);
            TunnelStatus {
                name: t.conn.name.clone(),
                state: match tunnel_state(t, ps.map(|p| p.phase)) {
                    TunnelState::Established if rekeying => TunnelState::Rekeying,
                    other => other,
                },
                local_addr: t
                    .ike
                    .as_ref()
                    .map(|i| i.local.to_string())
                    .or(Some(t.local_ip.to_string())),
                remote_addr: t.ike.as_ref().map(|i| i.remote.to_string()).or(t
                    .conn
                    .remote_addrs
                    .first()
                    .map(|a| a.to_string())),
                local_id: Some(t.conn.local_id.to_string()),
                remote_id: Some(t.conn.remote_id.to_string()),
                nat_local: t.ike.as_ref().is_some_and(|i| i.nat_local),
                nat_remote: t.ike.as_ref().is_some_and(|i| i.nat_remote),
                ike_sa: t.ike.as_ref().map(|i| IkeSaStatus {
                    initiator_spi: format!("{:016x}", i.spi_i),
                    responder_spi: format!("{:016x}", i.spi_r),
                    we_initiated: ps.and_then(|p| p.initiator).unwrap_or(false),
                    suite: i.suite.to_string(),
                    age_secs: now.saturating_duration_since(i.established_at).as_secs(),
                    rekey_in_secs: ps
                        .and_then(|p| p.rekey_at)
                        .map(|at| at.saturating_duration_since(now).as_secs()),
                }),
                child_sas,
                traffic,
                drops,
                ike_rekeys: t.ike_rekeys,
                child_rekeys: t.sas.child_rekeys,
                dpd_failures: t.dpd_failures,
                ike_retransmits: t.ike_retransmits,
                answers_sent_inline: t.path.answers_sent_inline.load(Ordering::Relaxed),
                bulk_sent_inline: t.path.bulk_sent_inline.load(Ordering::Relaxed),
                bulk_parks: t.path.bulk_parks.load(Ordering::Relaxed),
                last_error: t.last_error.clone(),
                peer_proposals: t.peer_proposals.clone(),
            }
        })
        .collect();
    StatusSnapshot {
        daemon: DaemonInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: now.saturating_duration_since(cp.started).as_secs(),
            fast_path: cp.fast_path_mode.clone(),
            // What the workers run with ([daemon] changes wait for a restart).
            reply_spin_us: cp.sockets.first().map_or(0, |s| {
                u64::try_from(s.reply.spin().as_micros()).unwrap_or(u64::MAX)
            }),
            reply_nudges: cp.sockets.iter().map(|s| s.reply.counts().0).sum(),
            replies_caught_awake: cp.sockets.iter().map(|s| s.reply.counts().1).sum(),
            aes_gcm: cp.aead.to_string(),
            workers: {
                let c = cp.sched.counts();
                WorkerScheduling {
                    realtime_priority: c.priority,
                    refused: (c.refused_errno != 0)
                        .then(|| std::io::Error::from_raw_os_error(c.refused_errno).to_string()),
                    fifo_workers: c.fifo_now,
                    dropped_to_normal: c.drops,
                    small_batch_drops: c.small_batch_drops,
                }
            },
        },
        tunnels,
    }
}
