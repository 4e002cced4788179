//! Maps a configured connection onto the IKEv2 endpoint's `PeerConfig`.

use crate::config::{Connection, Mode, Prefix};
use ikev2::crypto::Secret;
use ikev2::wire::{TrafficSelector, TsType};
use ikev2::{ChildConfig, Identity, Lifetime, PeerConfig, RetransmitConfig, Role};
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
    // One CHILD_SA per configured child (the first inside IKE_AUTH, the others by
    // CREATE_CHILD_SA right after), each with its own selectors, proposals and lifetimes.
    cfg.children = conn
        .children
        .iter()
        .map(|child| ChildConfig {
            name: child.name.clone(),
            local_ts: child.local_ts.iter().map(selector).collect(),
            remote_ts: child.remote_ts.iter().map(selector).collect(),
            esp_proposals: child.esp_proposals.clone(),
            lifetime: Lifetime {
                rekey_time: child.lifetime.rekey_time,
                rand_time: child.lifetime.rand_time,
                life_time: child.lifetime.life_time,
            },
        })
        .collect();
    if let Some(first) = conn.children.first() {
        cfg.esp_proposals = first.esp_proposals.clone();
    }
    cfg.ike_lifetime = Lifetime {
        rekey_time: conn.lifetime.rekey_time,
        rand_time: conn.lifetime.rand_time,
        life_time: conn.lifetime.rekey_time + conn.lifetime.over_time,
    };
    cfg.dpd_delay = conn.dpd_delay;
    cfg.dpd_timeout = conn.dpd_timeout;
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
