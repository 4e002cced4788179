//! What the fast path reads per packet, published by the control plane without a lock.
//!
//! The control plane owns all changes: it builds a new [`InboundTable`] map or a new
//! [`OutboundPath`] and publishes it with one atomic pointer swap (`ArcSwap`). Fast-path workers
//! load the current snapshot once per batch. Make-before-break (RFC 7296 2.8): a new CHILD_SA's
//! inbound SA is published before its outbound SA replaces the old one, and the old inbound SA
//! stays in the table until it is deleted.

use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Drop reasons counted by the gateway itself (the ESP layer counts its own per SA).
#[derive(Debug, Default)]
pub struct GatewayDrops {
    /// A packet for the tunnel arrived from the TUN while no outbound SA was installed.
    pub no_outbound_sa: AtomicU64,
    /// ESP with an SPI we have no inbound SA for.
    pub unknown_spi: AtomicU64,
    /// Decrypted inner packet outside the CHILD_SA's traffic selectors (RFC 4301 5.2).
    pub ts_mismatch: AtomicU64,
    /// Inner packet larger than the tunnel MTU with DF set: ICMP sent back instead.
    pub too_big: AtomicU64,
    /// Encapsulation refused (SA expired, sequence numbers exhausted, no room).
    pub encap_failed: AtomicU64,
    /// UDP send failed.
    pub send_failed: AtomicU64,
    /// IKE datagrams from port 4500 dropped because the control plane's queue was full.
    pub ike_queue_full: AtomicU64,
    /// IKE messages we could not send (socket buffer full for longer than the outbox waits,
    /// or a send error); the request's retransmission recovers.
    pub ike_send_failed: AtomicU64,
    /// TUN write failed.
    pub tun_write_failed: AtomicU64,
    /// TUN read that could not be split into packets (bad virtio header, too many segments).
    pub tun_malformed: AtomicU64,
    /// Dropped by the inbound AQM (CoDel on the UDP 4500 queue) to slow a bulk flow down.
    pub aqm: AtomicU64,
    /// Marked ECN CE by the inbound AQM instead of dropped (not a drop: not in `snapshot`).
    pub aqm_ce_marked: AtomicU64,
}

impl GatewayDrops {
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("no_outbound_sa", l(&self.no_outbound_sa)),
            ("unknown_spi", l(&self.unknown_spi)),
            ("ts_mismatch", l(&self.ts_mismatch)),
            ("too_big", l(&self.too_big)),
            ("encap_failed", l(&self.encap_failed)),
            ("send_failed", l(&self.send_failed)),
            ("ike_queue_full", l(&self.ike_queue_full)),
            ("ike_send_failed", l(&self.ike_send_failed)),
            ("tun_write_failed", l(&self.tun_write_failed)),
            ("tun_malformed", l(&self.tun_malformed)),
            ("aqm", l(&self.aqm)),
        ]
    }
}

/// An inclusive address range from a traffic selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrRange {
    pub start: IpAddr,
    pub end: IpAddr,
}

impl AddrRange {
    pub fn contains(&self, a: IpAddr) -> bool {
        match (self.start, self.end, a) {
            // As integers: two compares, where the addresses' own order compares octet arrays.
            (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(x)) => {
                (s.to_bits()..=e.to_bits()).contains(&x.to_bits())
            }
            (IpAddr::V6(s), IpAddr::V6(e), IpAddr::V6(x)) => {
                (s.to_bits()..=e.to_bits()).contains(&x.to_bits())
            }
            _ => false,
        }
    }
}

/// Where and how to send ESP for one tunnel.
pub struct OutboundPath {
    pub sa: esp::OutboundSa,
    /// The peer's ESP address (UDP 4500 after NAT-T).
    pub remote: SocketAddr,
    pub installed_at: Instant,
    /// The configured child this SA belongs to.
    pub child: String,
    /// The SA's selectors: inner sources on our side, destinations on the peer's.
    pub local_ts: Vec<AddrRange>,
    pub remote_ts: Vec<AddrRange>,
}

impl OutboundPath {
    /// RFC 4301 5.1: may this inner packet use this SA?
    pub fn allows(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.local_ts.iter().any(|r| r.contains(src))
            && self.remote_ts.iter().any(|r| r.contains(dst))
    }
}

/// One inbound CHILD_SA and the tunnel its packets belong to.
pub struct InboundPath {
    pub sa: esp::InboundSa,
    pub tunnel: usize,
    /// Inner source addresses must fall in these (the peer's side).
    pub remote_ts: Vec<AddrRange>,
    /// Inner destination addresses must fall in these (our side).
    pub local_ts: Vec<AddrRange>,
    pub installed_at: Instant,
}

impl InboundPath {
    /// RFC 4301 5.2: a decrypted packet must match the SA's selectors.
    pub fn allows(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.remote_ts.iter().any(|r| r.contains(src))
            && self.local_ts.iter().any(|r| r.contains(dst))
    }
}

/// Per-tunnel state shared between the control plane and the fast path.
pub struct TunnelPath {
    pub name: String,
    /// Stable id of the tunnel for the daemon's lifetime (ids are never reused).
    pub index: usize,
    /// Set when the tunnel is removed (reload): its outbound worker exits.
    pub stop: std::sync::atomic::AtomicBool,
    /// Current outbound SA of the first child (route-based tunnels have only this one).
    pub outbound: ArcSwapOption<OutboundPath>,
    /// Current outbound SAs of every child, first child first (policy-based tunnels: one per
    /// selector pair; the fast path picks by the inner packet's addresses).
    pub outbound_children: ArcSwap<Vec<Arc<OutboundPath>>>,
    pub mtu: u16,
    /// The address its ESP leaves from (the port-4500 socket of this address sends it).
    pub local_ip: Option<IpAddr>,
    pub mss_v4: Option<u16>,
    pub mss_v6: Option<u16>,
    pub drops: GatewayDrops,
    /// Bytes/packets of SAs already deleted, so totals survive rekeys.
    pub retired_in: (AtomicU64, AtomicU64),
    pub retired_out: (AtomicU64, AtomicU64),
    /// Packets of the latency queue that an inbound worker encapsulated and sent right after
    /// writing what they answer (`fast_path::pick_up`).
    pub answers_sent_inline: AtomicU64,
    /// Packets of bulk queues (the ACKs of streams arriving through the tunnel) that an
    /// inbound worker sent right after its write produced them, and the times a bulk queue's
    /// outbound worker parked to let it (`io::queue_turn`).
    pub bulk_sent_inline: AtomicU64,
    pub bulk_parks: AtomicU64,
}

impl TunnelPath {
    pub fn new(name: String, index: usize, mtu: u16) -> Self {
        TunnelPath {
            name,
            index,
            stop: std::sync::atomic::AtomicBool::new(false),
            outbound: ArcSwapOption::empty(),
            outbound_children: ArcSwap::from_pointee(Vec::new()),
            mtu,
            local_ip: None,
            mss_v4: None,
            mss_v6: None,
            drops: GatewayDrops::default(),
            retired_in: (AtomicU64::new(0), AtomicU64::new(0)),
            retired_out: (AtomicU64::new(0), AtomicU64::new(0)),
            answers_sent_inline: AtomicU64::new(0),
            bulk_sent_inline: AtomicU64::new(0),
            bulk_parks: AtomicU64::new(0),
        }
    }
}

/// SPI -> inbound SA, for every tunnel.
#[derive(Default)]
pub struct InboundTable {
    map: ArcSwap<HashMap<u32, Arc<InboundPath>>>,
}

impl InboundTable {
    pub fn get(&self, spi: u32) -> Option<Arc<InboundPath>> {
        self.map.load().get(&spi).cloned()
    }

    /// A snapshot for a whole batch of lookups.
    pub fn snapshot(&self) -> Arc<HashMap<u32, Arc<InboundPath>>> {
        self.map.load_full()
    }

    /// Control plane only (single writer): publish a copy with `path` added.
    pub fn insert(&self, path: InboundPath) {
        let spi = path.sa.spi();
        let mut next = HashMap::clone(&self.map.load());
        next.insert(spi, Arc::new(path));
        self.map.store(Arc::new(next));
    }

    /// Control plane only: publish a copy without `spi`; returns the removed SA.
    pub fn remove(&self, spi: u32) -> Option<Arc<InboundPath>> {
        let current = self.map.load();
        if !current.contains_key(&spi) {
            return None;
        }
        let mut next = HashMap::clone(&current);
        let old = next.remove(&spi);
        self.map.store(Arc::new(next));
        old
    }

    pub fn spis_of_tunnel(&self, tunnel: usize) -> Vec<u32> {
        self.map
            .load()
            .iter()
            .filter(|(_, p)| p.tunnel == tunnel)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// The queues of a tunnel's TUN device (one, or one per outbound worker of a multi-queue
/// device); queue 0 first.
pub type TunQueues = Arc<[Arc<crate::io::Tun>]>;

/// Every tunnel's shared state and TUN queues by id, for the inbound workers. Replaced as a
/// whole (one pointer swap) when a reload adds or removes tunnels.
pub type TunnelMap = ArcSwap<HashMap<usize, (Arc<TunnelPath>, TunQueues)>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_ranges_are_inclusive_and_per_family() {
        let r4 = AddrRange {
            start: "10.1.0.0".parse().unwrap(),
            end: "10.1.255.255".parse().unwrap(),
        };
        for (a, want) in [
            ("10.1.0.0", true),
            ("10.1.200.7", true),
            ("10.1.255.255", true),
            ("10.0.255.255", false),
            ("10.2.0.0", false),
            // Octet order, not byte-reversed: 0.0.1.10 is far below the range.
            ("0.0.1.10", false),
            ("::ffff:10.1.0.1", false),
        ] {
            assert_eq!(r4.contains(a.parse().unwrap()), want, "{a}");
        }
        let r6 = AddrRange {
            start: "fd00::".parse().unwrap(),
            end: "fd00::ffff".parse().unwrap(),
        };
        assert!(r6.contains("fd00::1".parse().unwrap()));
        assert!(r6.contains("fd00::ffff".parse().unwrap()));
        assert!(!r6.contains("fd00::1:0".parse().unwrap()));
        assert!(!r6.contains("fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap()));
        assert!(!r6.contains("10.1.0.1".parse().unwrap()));
    }
}
