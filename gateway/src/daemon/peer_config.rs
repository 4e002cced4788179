//! Maps a configured connection onto the IKEv2 endpoint's `PeerConfig`.

use crate::config::{Connection, Mode, Prefix};
use ikev2::crypto::Secret;
use ikev2::wire::{TrafficSelector, TsType};
use ikev2::{Identity, PeerConfig, RetransmitConfig, Role};
use std::net::{IpAddr, SocketAddr};

/// The IKE port (RFC 7296 2).
pub const IKE_PORT: u16 = 500;
/// The NAT-T port (RFC 3948).
pub const NAT_T_PORT: u16 = 4500;

pub fn peer_config(conn: &Connection) -> Result<PeerConfig, String> {
    let remote_ip = *conn
        .remote_addrs
        .first()
        .ok_or_else(|| format!("connection {}: no remote address", conn.name))?;
    let local_id = Identity::from_wire(&conn.local_id.to_wire())
        .ok_or_else(|| format!("connection {}: local_id has no IKEv2 form", conn.name))?;
    let remote_id = Identity::from_wire(&conn.remote_id.to_wire());
    let mut cfg = PeerConfig::new(
        conn.name.clone(),
        SocketAddr::new(remote_ip, IKE_PORT),
        local_id,
        Secret::new(conn.psk.expose().to_vec()),
    );
    cfg.remote_id = remote_id;
    cfg.ike_proposals = conn.proposals.clone();
    // All children share one CHILD_SA for now: its selectors are the union of theirs, its
    // proposals the first child's.
    if let Some(first) = conn.children.first() {
        cfg.esp_proposals = first.esp_proposals.clone();
    }
    for child in &conn.children {
        cfg.local_ts.extend(child.local_ts.iter().map(selector));
        cfg.remote_ts.extend(child.remote_ts.iter().map(selector));
    }
    cfg.role = match conn.mode {
        Mode::Both => Role::Both,
        Mode::Initiator => Role::Initiator,
        Mode::Responder => Role::Responder,
    };
    cfg.retransmit = RetransmitConfig {
        timeout: conn.retransmit.timeout,
        factor: conn.retransmit.base,
        tries: conn.retransmit.tries,
    };
    cfg.force_udp_encap = conn.encap;
    Ok(cfg)
}

/// A prefix as an any-protocol, any-port traffic selector (RFC 7296 3.13.1).
pub fn selector(p: &Prefix) -> TrafficSelector {
    let (start, end) = p.range();
    TrafficSelector {
        ts_type: match start {
            IpAddr::V4(_) => TsType::IPV4_ADDR_RANGE,
            IpAddr::V6(_) => TsType::IPV6_ADDR_RANGE,
        },
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start,
        end,
    }
}
