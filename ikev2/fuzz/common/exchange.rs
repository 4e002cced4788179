//! Fuzz body `exchange`: two real `Endpoint`s (A initiator/responder, B the same) driven by
//! the fuzz input through arbitrary interleavings of their datagrams, drops, duplicates,
//! timer advances and API calls (initiate, terminate, liveness, CHILD_SA delete).
//!
//! Invariants: never a panic; every datagram is sent from the node's own address; and when the
//! run ends quiescent (a lossless drive to the end) with both sides established on the same IKE
//! SA, every pair of live CHILD_SAs whose SPIs match carries the same keys on both sides.
#![allow(dead_code)]

use ikev2::crypto::{Secret, SeededRandom};
use ikev2::proposal::{parse_esp, parse_ike};
use ikev2::wire::{TrafficSelector, TsType};
use ikev2::{ChildSa, Endpoint, Event, Identity, PeerConfig, PeerId, Role, SaPhase, Transmit};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);

fn ts_any() -> TrafficSelector {
    TrafficSelector {
        ts_type: TsType::IPV4_ADDR_RANGE,
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        end: IpAddr::V4(Ipv4Addr::BROADCAST),
    }
}

fn cfg(remote: Ipv4Addr, id: Ipv4Addr, role: Role) -> PeerConfig {
    let mut c = PeerConfig::new(
        "peer",
        SocketAddr::new(IpAddr::V4(remote), 500),
        Identity::Ipv4(id),
        Secret::new(b"exchange-fuzz-psk".to_vec()),
    );
    c.ike_proposals = vec![
        parse_ike("aes128gcm16-prfsha256-curve25519").expect("ike"),
        parse_ike("aes128-sha256-ecp256").expect("ike"),
    ];
    c.esp_proposals = vec![parse_esp("aes128gcm16").expect("esp")];
    c.local_ts = vec![ts_any()];
    c.remote_ts = vec![ts_any()];
    c.role = role;
    c
}

struct Node {
    ep: Endpoint,
    ip: Ipv4Addr,
    peer: PeerId,
    /// Live CHILD_SAs by inbound SPI.
    children: BTreeMap<u32, ChildSa>,
}

impl Node {
    fn drain(&mut self, flight: &mut Vec<(bool, Transmit)>, to_b: bool) {
        while let Some(t) = self.ep.poll_transmit() {
            assert_eq!(
                t.local.ip(),
                IpAddr::V4(self.ip),
                "sent from a foreign address"
            );
            if flight.len() < 256 {
                flight.push((to_b, t));
            }
        }
        while let Some(e) = self.ep.poll_event() {
            match e {
                Event::ChildSaEstablished(c) => {
                    self.children.insert(c.inbound_spi, c);
                }
                Event::ChildSaDeleted { inbound_spi, .. } => {
                    self.children.remove(&inbound_spi);
                }
                _ => {}
            }
        }
    }
}

/// True when the run ended with both sides established on the same IKE SA (keys checked).
pub fn run(data: &[u8]) -> bool {
    let Some((&roles, ops)) = data.split_first() else {
        return false;
    };
    let role = |b: u8| match b % 3 {
        0 => Role::Both,
        1 => Role::Initiator,
        _ => Role::Responder,
    };
    let mut now = Instant::now();
    let mk = |ip, remote, seed, r| {
        let mut ep = Endpoint::new(Box::new(SeededRandom::new(seed)));
        let peer = ep.add_peer(cfg(remote, ip, r));
        Node {
            ep,
            ip,
            peer,
            children: BTreeMap::new(),
        }
    };
    let mut a = mk(A, B, 1, role(roles));
    let mut b = mk(B, A, 2, role(roles / 3));
    // (to B?, datagram)
    let mut flight: Vec<(bool, Transmit)> = Vec::new();
    let deliver = |n: &mut Node, now: Instant, t: &Transmit| {
        let local = SocketAddr::new(IpAddr::V4(n.ip), t.remote.port());
        n.ep.handle(now, local, t.local, &t.payload);
    };
    for op in ops.iter().take(400) {
        let arg = usize::from(op >> 3);
        match op & 7 {
            // Deliver one in-flight datagram (chosen by arg), maybe out of order.
            0 | 1 => {
                if !flight.is_empty() {
                    let (to_b, t) = flight.remove(arg % flight.len());
                    deliver(if to_b { &mut b } else { &mut a }, now, &t);
                }
            }
            // Drop one.
            2 => {
                if !flight.is_empty() {
                    flight.remove(arg % flight.len());
                }
            }
            // Duplicate one.
            3 => {
                if !flight.is_empty() && flight.len() < 256 {
                    let d = flight[arg % flight.len()].clone();
                    flight.push(d);
                }
            }
            // Time passes; timers run.
            4 => {
                now += Duration::from_millis(50u64 << (arg % 12));
                for n in [&mut a, &mut b] {
                    if n.ep.poll_timeout().is_some_and(|t| t <= now) {
                        n.ep.handle_timeout(now);
                    }
                }
            }
            5 => {
                let n = if arg & 1 == 0 { &mut a } else { &mut b };
                let (peer, local) = (n.peer, SocketAddr::new(IpAddr::V4(n.ip), 500));
                let _ = n.ep.initiate(now, peer, local);
            }
            6 => {
                let n = if arg & 1 == 0 { &mut a } else { &mut b };
                let peer = n.peer;
                match (arg >> 1) % 4 {
                    0 => n.ep.terminate(now, peer),
                    1 | 2 => {
                        let _ = n.ep.check_liveness(now, peer);
                    }
                    _ => {
                        if let Some(&spi) = n.children.keys().next() {
                            let _ = n.ep.delete_child_sa(now, peer, spi);
                        }
                    }
                }
            }
            // Corrupt one in-flight datagram's byte.
            _ => {
                if !flight.is_empty() {
                    let i = arg % flight.len();
                    let p = &mut flight[i].1.payload;
                    if !p.is_empty() {
                        let at = (arg * 7) % p.len();
                        p[at] ^= 0x5a;
                    }
                }
            }
        }
        a.drain(&mut flight, true);
        b.drain(&mut flight, false);
    }
    // Quiesce losslessly: deliver everything, run timers, until nothing is left (bounded).
    for _ in 0..2000 {
        a.drain(&mut flight, true);
        b.drain(&mut flight, false);
        if let Some((to_b, t)) = (!flight.is_empty()).then(|| flight.remove(0)) {
            deliver(if to_b { &mut b } else { &mut a }, now, &t);
            continue;
        }
        let next = [a.ep.poll_timeout(), b.ep.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= now + Duration::from_secs(60) => {
                now = now.max(t);
                a.ep.handle_timeout(now);
                b.ep.handle_timeout(now);
            }
            _ => break,
        }
    }
    let (sa, sb) = (&a.ep.status()[0], &b.ep.status()[0]);
    if sa.phase == SaPhase::Established
        && sb.phase == SaPhase::Established
        && (sa.spi_i, sa.spi_r) == (sb.spi_i, sb.spi_r)
    {
        for (spi, ca) in &a.children {
            if let Some(cb) = b.children.values().find(|c| c.outbound_spi == *spi) {
                if cb.inbound_spi == ca.outbound_spi {
                    assert_eq!(ca.inbound_keys, cb.outbound_keys, "keys disagree");
                    assert_eq!(ca.outbound_keys, cb.inbound_keys, "keys disagree");
                    assert_eq!(ca.suite, cb.suite);
                }
            }
        }
        return true;
    }
    false
}
