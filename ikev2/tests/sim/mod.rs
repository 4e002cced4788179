//! A simulated network between two `Endpoint`s (the shape of quinn-proto's `Pair`): a
//! virtual clock (one `Instant::now()` at the start, then offsets; nothing sleeps), seeded
//! randomness everywhere, a lossy / duplicating / reordering network, and an optional 1:1 NAT
//! in front of node A (EC2: bound to 172.31.5.10, seen as 198.51.100.10).
#![allow(dead_code)]

use ikev2::crypto::{Random, Secret, SeededRandom};
use ikev2::proposal::{parse_esp, parse_ike};
use ikev2::wire::{TrafficSelector, TsType};
use ikev2::{ChildSa, Endpoint, Event, Identity, PeerConfig, PeerId, Role, Transmit};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

pub const A_PRIVATE: Ipv4Addr = Ipv4Addr::new(172, 31, 5, 10);
pub const A_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const B_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);

pub fn sock(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// A 1:1 NAT in front of node A: `private` <-> `public`, ports shifted by `port_shift`
/// (EC2 keeps ports: 0; a port-rewriting NAT to test that responders follow the real port).
#[derive(Clone, Copy, Debug)]
pub struct Nat {
    pub private: IpAddr,
    pub public: IpAddr,
    pub port_shift: u16,
}

impl Nat {
    pub fn ec2() -> Self {
        Nat {
            private: IpAddr::V4(A_PRIVATE),
            public: IpAddr::V4(A_PUBLIC),
            port_shift: 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram gets up to 5x the latency extra (overtaking others).
    pub reorder: f64,
    pub latency: Duration,
    pub nat: Option<Nat>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            latency: Duration::from_millis(20),
            nat: None,
        }
    }
}

/// A datagram on the wire (addresses as seen between the NAT and node B).
#[derive(Clone, Debug)]
pub struct Datagram {
    pub at: Instant,
    pub seq: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

pub struct Node {
    pub ep: Endpoint,
    /// The address the node's sockets are bound to.
    pub ip: IpAddr,
    pub peer: PeerId,
    pub events: Vec<(Duration, Event)>,
    /// Everything it sent, in order (time since start, datagram).
    pub sent: Vec<(Duration, Transmit)>,
    /// Everything delivered to it.
    pub received: Vec<(Duration, SocketAddr, SocketAddr, Vec<u8>)>,
    /// Drop everything addressed to this node (peer gone).
    pub down: bool,
}

impl Node {
    pub fn established(&self) -> Vec<&Event> {
        self.events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, Event::IkeSaEstablished { .. }))
            .collect()
    }
    pub fn children(&self) -> Vec<&ChildSa> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildSaEstablished(c) => Some(c),
                _ => None,
            })
            .collect()
    }
    pub fn failures(&self) -> Vec<&ikev2::FailureReason> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Failed { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }
}

pub struct Pair {
    pub start: Instant,
    pub now: Instant,
    pub a: Node,
    pub b: Node,
    pub net: NetConfig,
    rng: SeededRandom,
    pub flight: Vec<Datagram>,
    seq: u64,
    pub lost: u64,
    pub delivered: u64,
}

/// A traffic selector for an IPv4 range, any protocol and port.
pub fn ts(start: [u8; 4], end: [u8; 4]) -> TrafficSelector {
    TrafficSelector {
        ts_type: TsType::IPV4_ADDR_RANGE,
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V4(start.into()),
        end: IpAddr::V4(end.into()),
    }
}

/// 0.0.0.0/0 (route-based VPN).
pub fn ts_any() -> TrafficSelector {
    ts([0; 4], [255; 4])
}

/// A peer configuration with route-based selectors.
pub fn config(
    remote: SocketAddr,
    local_id: Ipv4Addr,
    psk: &str,
    ike: &[&str],
    esp: &[&str],
) -> PeerConfig {
    let mut c = PeerConfig::new(
        format!("peer-{remote}"),
        remote,
        Identity::Ipv4(local_id),
        Secret::new(psk.as_bytes().to_vec()),
    );
    c.ike_proposals = ike.iter().map(|s| parse_ike(s).unwrap()).collect();
    c.esp_proposals = esp.iter().map(|s| parse_esp(s).unwrap()).collect();
    c.local_ts = vec![ts_any()];
    c.remote_ts = vec![ts_any()];
    // No timers by default so `drive()` reaches quiescence; rekey tests set lifetimes.
    c.ike_lifetime = ikev2::Lifetime::unlimited();
    c.child_lifetime = ikev2::Lifetime::unlimited();
    c
}

/// Configurations of A (EC2, identity = elastic IP, peer B) and B (Azure, peer A's public
/// address), same PSK and proposals.
pub fn configs(ike: &[&str], esp: &[&str]) -> (PeerConfig, PeerConfig) {
    (
        config(sock(B_ADDR, 500), A_PUBLIC, "s3cret-psk", ike, esp),
        config(sock(A_PUBLIC, 500), B_ADDR, "s3cret-psk", ike, esp),
    )
}

fn unit(rng: &mut SeededRandom) -> f64 {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Pair {
    pub fn new(seed: u64, net: NetConfig, a_cfg: PeerConfig, b_cfg: PeerConfig) -> Pair {
        let start = Instant::now();
        let a_ip = match net.nat {
            Some(n) => n.private,
            None => IpAddr::V4(A_PUBLIC),
        };
        let mut a_ep = Endpoint::new(Box::new(SeededRandom::new(
            seed.wrapping_mul(3).wrapping_add(1),
        )));
        let mut b_ep = Endpoint::new(Box::new(SeededRandom::new(
            seed.wrapping_mul(3).wrapping_add(2),
        )));
        let a_peer = a_ep.add_peer(a_cfg);
        let b_peer = b_ep.add_peer(b_cfg);
        let node = |ep, ip, peer| Node {
            ep,
            ip,
            peer,
            events: vec![],
            sent: vec![],
            received: vec![],
            down: false,
        };
        Pair {
            start,
            now: start,
            a: node(a_ep, a_ip, a_peer),
            b: node(b_ep, IpAddr::V4(B_ADDR), b_peer),
            net,
            rng: SeededRandom::new(seed ^ 0x5eed_f00d),
            flight: vec![],
            seq: 0,
            lost: 0,
            delivered: 0,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// A's port-500 address (as bound).
    pub fn a_local(&self) -> SocketAddr {
        SocketAddr::new(self.a.ip, 500)
    }

    pub fn b_local(&self) -> SocketAddr {
        SocketAddr::new(self.b.ip, 500)
    }

    pub fn initiate_a(&mut self) {
        let (now, peer, local) = (self.now, self.a.peer, self.a_local());
        self.a.ep.initiate(now, peer, local).unwrap();
    }

    pub fn initiate_b(&mut self) {
        let (now, peer, local) = (self.now, self.b.peer, self.b_local());
        self.b.ep.initiate(now, peer, local).unwrap();
    }

    /// Move transmits and events out of both endpoints into the network and the logs.
    pub fn flush(&mut self) {
        let at = self.elapsed();
        for is_a in [true, false] {
            loop {
                let node = if is_a { &mut self.a } else { &mut self.b };
                let Some(t) = node.ep.poll_transmit() else {
                    break;
                };
                assert_eq!(
                    t.local.ip(),
                    node.ip,
                    "sent from an address the node does not have: {t:?}"
                );
                assert!(
                    matches!(t.local.port(), 500 | 4500),
                    "sent from port {}",
                    t.local.port()
                );
                node.sent.push((at, t.clone()));
                self.send(is_a, t);
            }
            let node = if is_a { &mut self.a } else { &mut self.b };
            while let Some(e) = node.ep.poll_event() {
                node.events.push((at, e));
            }
        }
    }

    /// Put a datagram from node A (`from_a`) or B on the wire through the NAT and the
    /// network's loss, duplication and delay.
    fn send(&mut self, from_a: bool, t: Transmit) {
        let mut src = t.local;
        if from_a {
            if let Some(n) = self.net.nat {
                src = SocketAddr::new(n.public, t.local.port().wrapping_add(n.port_shift));
            }
        }
        if unit(&mut self.rng) < self.net.loss {
            self.lost += 1;
            return;
        }
        let copies = if unit(&mut self.rng) < self.net.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = self.net.latency;
            if unit(&mut self.rng) < self.net.reorder {
                delay += self.net.latency.mul_f64(5.0 * unit(&mut self.rng));
            }
            self.seq += 1;
            self.flight.push(Datagram {
                at: self.now + delay,
                seq: self.seq,
                src,
                dst: t.remote,
                payload: t.payload.clone(),
            });
        }
    }

    /// Inject a datagram as if it came from the wire (addresses as between NAT and B).
    pub fn inject(&mut self, src: SocketAddr, dst: SocketAddr, payload: Vec<u8>) {
        self.seq += 1;
        self.flight.push(Datagram {
            at: self.now,
            seq: self.seq,
            src,
            dst,
            payload,
        });
    }

    /// Deliver one datagram to its node (through the NAT for A).
    pub fn deliver(&mut self, d: Datagram) {
        let at = self.elapsed();
        let b_ip = self.b.ip;
        let (node, local) = if d.dst.ip() == b_ip {
            (&mut self.b, d.dst)
        } else if let Some(n) = self.net.nat.filter(|n| d.dst.ip() == n.public) {
            (
                &mut self.a,
                SocketAddr::new(n.private, d.dst.port().wrapping_sub(n.port_shift)),
            )
        } else if d.dst.ip() == self.a.ip && self.net.nat.is_none() {
            (&mut self.a, d.dst)
        } else {
            self.lost += 1;
            return;
        };
        if node.down {
            self.lost += 1;
            return;
        }
        self.delivered += 1;
        node.received.push((at, local, d.src, d.payload.clone()));
        node.ep.handle(self.now, local, d.src, &d.payload);
    }

    /// The next instant something happens (delivery or timer).
    pub fn next_event_time(&self) -> Option<Instant> {
        let f = self.flight.iter().map(|d| d.at).min();
        [f, self.a.ep.poll_timeout(), self.b.ep.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// One step: advance the clock to the next event and process everything due then.
    /// False when nothing is left to do (or the next thing is after `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let Some(next) = self.next_event_time() else {
            return false;
        };
        if next > limit {
            return false;
        }
        self.now = self.now.max(next);
        self.flight.sort_by_key(|d| (d.at, d.seq));
        while let Some(d) = self.flight.first().filter(|d| d.at <= self.now).cloned() {
            self.flight.remove(0);
            self.deliver(d);
            self.flush();
        }
        let now = self.now;
        if self.a.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.a.ep.handle_timeout(now);
        }
        if self.b.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.b.ep.handle_timeout(now);
        }
        self.flush();
        true
    }

    /// Run until nothing is in flight and no timer is pending (or `max` virtual time passed).
    pub fn drive_for(&mut self, max: Duration) {
        let limit = self.now + max;
        for _ in 0..200_000 {
            if !self.step(limit) {
                return;
            }
        }
        panic!("simulation did not settle");
    }

    /// Run until quiescent (at most an hour of virtual time).
    pub fn drive(&mut self) {
        self.drive_for(Duration::from_secs(3600));
    }
}

/// Both sides established exactly one IKE SA and one CHILD_SA that mirror each other.
/// Returns (A's child, B's child).
pub fn assert_mirrored(p: &Pair, udp_encap: bool) -> (ChildSa, ChildSa) {
    assert!(p.a.failures().is_empty(), "A failed: {:?}", p.a.failures());
    assert!(p.b.failures().is_empty(), "B failed: {:?}", p.b.failures());
    let (ea, eb) = (p.a.established(), p.b.established());
    assert_eq!(ea.len(), 1, "A IKE SAs: {ea:?}");
    assert_eq!(eb.len(), 1, "B IKE SAs: {eb:?}");
    match (ea[0], eb[0]) {
        (
            Event::IkeSaEstablished {
                spi_i,
                spi_r,
                suite,
                ..
            },
            Event::IkeSaEstablished {
                spi_i: bi,
                spi_r: br,
                suite: bs,
                ..
            },
        ) => {
            assert_eq!((spi_i, spi_r, suite), (bi, br, bs));
            assert_ne!(*spi_i, 0);
            assert_ne!(*spi_r, 0);
        }
        _ => unreachable!(),
    }
    let (ca, cb) = (p.a.children(), p.b.children());
    assert_eq!(ca.len(), 1, "A children");
    assert_eq!(cb.len(), 1, "B children");
    let (a, b) = (ca[0].clone(), cb[0].clone());
    assert_eq!(a.inbound_spi, b.outbound_spi);
    assert_eq!(a.outbound_spi, b.inbound_spi);
    assert_ne!(a.inbound_spi, a.outbound_spi);
    assert_eq!(a.inbound_keys, b.outbound_keys);
    assert_eq!(a.outbound_keys, b.inbound_keys);
    assert_ne!(a.inbound_keys, a.outbound_keys);
    assert_eq!(a.suite, b.suite);
    assert_eq!(a.local_ts, b.remote_ts);
    assert_eq!(a.remote_ts, b.local_ts);
    assert_eq!(a.udp_encap, udp_encap, "A udp_encap");
    assert_eq!(b.udp_encap, udp_encap, "B udp_encap");
    (a, b)
}

/// The same role setup with B as Azure in `role`.
pub fn with_roles(
    mut a: PeerConfig,
    mut b: PeerConfig,
    ra: Role,
    rb: Role,
) -> (PeerConfig, PeerConfig) {
    a.role = ra;
    b.role = rb;
    (a, b)
}

/// The data plane a gateway would hold after applying a node's events in order (the rules
/// documented on `Event::ChildSaRekeyed`): inbound SAs by SPI, and the outbound SAs it sends
/// on (one per child; two only while a duplicate IKE SA exists).
#[derive(Default, Debug, Clone)]
pub struct Plane {
    /// inbound SPI -> (child, keys)
    pub inbound: std::collections::BTreeMap<u32, (String, Secret)>,
    /// outbound SPI -> (child, keys)
    pub outbound: std::collections::BTreeMap<u32, (String, Secret)>,
    /// new inbound SPI -> (child, old outbound SPI, new outbound SPI, keys)
    pub pending: std::collections::BTreeMap<u32, (String, u32, u32, Secret)>,
    /// Problems seen while applying (e.g. an outbound switch to an unknown SA).
    pub errors: Vec<String>,
}

impl Plane {
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::ChildSaEstablished(c) => {
                self.inbound
                    .insert(c.inbound_spi, (c.child.clone(), c.inbound_keys.clone()));
                self.outbound
                    .insert(c.outbound_spi, (c.child.clone(), c.outbound_keys.clone()));
            }
            Event::ChildSaRekeyed {
                child,
                new,
                outbound_now,
                old_outbound_spi,
                ..
            } => {
                self.inbound
                    .insert(new.inbound_spi, (child.clone(), new.inbound_keys.clone()));
                if *outbound_now {
                    self.outbound.remove(old_outbound_spi);
                    self.outbound
                        .insert(new.outbound_spi, (child.clone(), new.outbound_keys.clone()));
                } else {
                    self.pending.insert(
                        new.inbound_spi,
                        (
                            child.clone(),
                            *old_outbound_spi,
                            new.outbound_spi,
                            new.outbound_keys.clone(),
                        ),
                    );
                }
            }
            Event::ChildSaOutboundReady {
                inbound_spi,
                outbound_spi,
                ..
            } => match self.pending.remove(inbound_spi) {
                Some((child, old, out, keys)) if out == *outbound_spi => {
                    self.outbound.remove(&old);
                    self.outbound.insert(out, (child, keys));
                }
                other => self.errors.push(format!(
                    "outbound ready for unknown {inbound_spi:x}: {other:?}"
                )),
            },
            Event::ChildSaDeleted {
                inbound_spi,
                outbound_spi,
                ..
            } => {
                self.pending.remove(inbound_spi);
                self.outbound.remove(outbound_spi);
                if self.inbound.remove(inbound_spi).is_none() {
                    self.errors
                        .push(format!("deleted unknown inbound {inbound_spi:x}"));
                }
            }
            _ => {}
        }
    }
}

impl Node {
    pub fn plane(&self) -> Plane {
        let mut p = Plane::default();
        for (_, e) in &self.events {
            p.apply(e);
        }
        p
    }

    /// Requests this node answered more than once with different bytes (i.e. processed twice
    /// instead of replaying the cached response): (SPIi, SPIr, message ID).
    pub fn double_processed(&self) -> Vec<(u64, u64, u32)> {
        let mut seen: std::collections::BTreeMap<(u64, u64, u32), Vec<u8>> = Default::default();
        let mut dup = Vec::new();
        for (_, t) in &self.sent {
            let Ok(h) = ikev2::wire::decode_header(&t.payload) else {
                continue;
            };
            if !h.flags.response() || h.exchange == ikev2::wire::ExchangeType::IKE_SA_INIT {
                continue;
            }
            let k = (h.spi_i, h.spi_r, h.message_id);
            match seen.get(&k) {
                Some(b) if *b != t.payload => dup.push(k),
                Some(_) => {}
                None => {
                    seen.insert(k, t.payload.clone());
                }
            }
        }
        dup
    }
}

/// A's outbound SAs are exactly B's inbound ones with the same keys and vice versa, one per
/// child, nothing pending. Returns the number of child pairs.
pub fn assert_planes_mirror(p: &Pair) -> usize {
    let (a, b) = (p.a.plane(), p.b.plane());
    assert!(a.errors.is_empty(), "A plane: {:?}", a.errors);
    assert!(b.errors.is_empty(), "B plane: {:?}", b.errors);
    assert!(a.pending.is_empty(), "A pending: {:?}", a.pending.keys());
    assert!(b.pending.is_empty(), "B pending: {:?}", b.pending.keys());
    for (x, y, n) in [(&a, &b, "A->B"), (&b, &a, "B->A")] {
        assert_eq!(x.outbound.len(), y.inbound.len(), "{n}: {x:?} / {y:?}");
        for (out, (_, keys)) in &x.outbound {
            let got = y.inbound.get(out).map(|v| &v.1);
            assert_eq!(
                got,
                Some(keys),
                "{n}: outbound {out:x} not installed at the peer"
            );
        }
    }
    assert_eq!(a.inbound.len(), a.outbound.len(), "A: one pair per child");
    a.outbound.len()
}

impl Pair {
    /// Like `drive_for`, but after every step check that every outbound SA either node
    /// sends on is installed as inbound at the other (make-before-break).
    pub fn drive_checked(&mut self, max: Duration) {
        let limit = self.now + max;
        for _ in 0..200_000 {
            if !self.step(limit) {
                return;
            }
            let (a, b) = (self.a.plane(), self.b.plane());
            for (x, y, n) in [(&a, &b, "A->B"), (&b, &a, "B->A")] {
                for (out, (child, _)) in &x.outbound {
                    assert!(
                        y.inbound.contains_key(out),
                        "{n} at {:?}: {child} sends on {out:x}, not installed at the peer",
                        self.elapsed()
                    );
                }
            }
        }
        panic!("simulation did not settle");
    }
}
