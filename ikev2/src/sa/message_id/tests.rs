//! Message ID exhaustion (RFC 7296 2.2) end to end: two endpoints over a lossless in-memory
//! network with a virtual clock; the IKE SA's counters are moved close to 2^32 through the
//! crate-internal `Endpoint::established_sa_mut`.

use super::*;
use crate::config::{Identity, Lifetime, PeerConfig};
use crate::crypto::{Secret, SeededRandom};
use crate::event::{DeleteReason, Event, PeerId, SaPhase, Transmit};
use crate::proposal::{parse_esp, parse_ike};
use crate::wire::{self, ExchangeType, TrafficSelector, TsType};
use crate::Endpoint;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 500);
const B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 20)), 500);

#[test]
fn thresholds() {
    assert_eq!(action(0, 0), Action::None);
    assert_eq!(action(REKEY_THRESHOLD - 1, 5), Action::None);
    assert_eq!(action(REKEY_THRESHOLD, 5), Action::Rekey);
    assert_eq!(action(5, REKEY_THRESHOLD), Action::Rekey);
    assert_eq!(action(CLOSE_THRESHOLD - 1, 0), Action::Rekey);
    assert_eq!(action(0, CLOSE_THRESHOLD), Action::Close);
    assert_eq!(action(u32::MAX, u32::MAX), Action::Close);
    assert_eq!(next(7), 8);
    assert_eq!(next(u32::MAX), u32::MAX, "never wraps to zero");
    assert!(!reserved_for_delete(CLOSE_THRESHOLD - 1));
    assert!(reserved_for_delete(CLOSE_THRESHOLD));
}

struct Side {
    ep: Endpoint,
    peer: PeerId,
    addr: SocketAddr,
    events: Vec<Event>,
    sent: Vec<Transmit>,
}

struct Net {
    now: Instant,
    a: Side,
    b: Side,
}

fn any() -> TrafficSelector {
    TrafficSelector {
        ts_type: TsType::IPV4_ADDR_RANGE,
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        end: IpAddr::V4(Ipv4Addr::BROADCAST),
    }
}

fn side(seed: u64, addr: SocketAddr, remote: SocketAddr) -> Side {
    let IpAddr::V4(id) = addr.ip() else {
        unreachable!()
    };
    let mut cfg = PeerConfig::new(
        "peer",
        remote,
        Identity::Ipv4(id),
        Secret::new(b"message-id psk".to_vec()),
    );
    cfg.ike_proposals = vec![parse_ike("aes256gcm16-prfsha256-curve25519").unwrap()];
    cfg.esp_proposals = vec![parse_esp("aes256gcm16").unwrap()];
    cfg.local_ts = vec![any()];
    cfg.remote_ts = vec![any()];
    // Only the message IDs may start a rekey here.
    cfg.ike_lifetime = Lifetime::unlimited();
    cfg.child_lifetime = Lifetime::unlimited();
    let mut ep = Endpoint::new(Box::new(SeededRandom::new(seed)));
    let peer = ep.add_peer(cfg);
    Side {
        ep,
        peer,
        addr,
        events: vec![],
        sent: vec![],
    }
}

impl Net {
    /// A and B with an established IKE SA (A initiated) and one CHILD_SA.
    fn established(seed: u64) -> Net {
        let mut n = Net {
            now: Instant::now(),
            a: side(seed, A, B),
            b: side(seed + 1, B, A),
        };
        n.a.ep.initiate(n.now, n.a.peer, A).unwrap();
        n.drive();
        for s in [&n.a, &n.b] {
            assert!(
                matches!(
                    s.events[..],
                    [Event::IkeSaEstablished { .. }, Event::ChildSaEstablished(_)]
                ),
                "{:?}",
                s.events
            );
        }
        n
    }

    /// Deliver everything (no latency, no loss) and run timers until nothing is left, at most
    /// ten minutes of virtual time.
    fn drive(&mut self) {
        let limit = self.now + Duration::from_secs(600);
        for _ in 0..10_000 {
            let mut moved = false;
            for from_a in [true, false] {
                let (src, dst) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                while let Some(e) = src.ep.poll_event() {
                    src.events.push(e);
                }
                while let Some(t) = src.ep.poll_transmit() {
                    assert_eq!(t.remote, dst.addr);
                    dst.ep.handle(self.now, t.remote, t.local, &t.payload);
                    src.sent.push(t);
                    moved = true;
                }
            }
            if moved {
                continue;
            }
            let next = [self.a.ep.poll_timeout(), self.b.ep.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= limit => {
                    self.now = self.now.max(t);
                    self.a.ep.handle_timeout(self.now);
                    self.b.ep.handle_timeout(self.now);
                }
                _ => return,
            }
        }
        panic!("did not settle");
    }

    /// Set `from`'s next request ID to `id` and the other side's expectation to match.
    fn set_ids(&mut self, from_a: bool, id: u32) {
        let (s, r) = if from_a {
            (&mut self.a, &mut self.b)
        } else {
            (&mut self.b, &mut self.a)
        };
        s.ep.established_sa_mut(s.peer).unwrap().next_request_id = id;
        r.ep.established_sa_mut(r.peer).unwrap().peer_next_id = id;
    }

    fn spis(&self) -> (Option<u64>, Option<u64>) {
        let st = &self.a.ep.status()[0];
        (st.spi_i, st.spi_r)
    }
}

/// (SPIi, message ID) of every request `s` sent after its first `from` transmits.
fn requests(s: &Side, from: usize) -> Vec<(u64, u32, ExchangeType)> {
    s.sent[from..]
        .iter()
        .map(|t| wire::decode_header(&t.payload).unwrap())
        .filter(|h| !h.flags.response())
        .map(|h| (h.spi_i, h.message_id, h.exchange))
        .collect()
}

/// Our requests reach `REKEY_THRESHOLD`: the next request is an IKE rekey, the old SA is
/// deleted with the following ID, and the new IKE SA starts at zero with the CHILD_SA.
#[test]
fn our_ids_near_the_end_rekey_the_ike_sa() {
    for from_a in [true, false] {
        let mut n = Net::established(10 + u64::from(from_a));
        let old = n.spis();
        let child = n.a.ep.status()[0].children.clone();
        let (ea, eb, sa, sb) = (
            n.a.events.len(),
            n.b.events.len(),
            n.a.sent.len(),
            n.b.sent.len(),
        );
        n.set_ids(from_a, REKEY_THRESHOLD - 1);
        let now = n.now;
        let (s, from) = if from_a {
            (&mut n.a, sa)
        } else {
            (&mut n.b, sb)
        };
        assert!(s.ep.check_liveness(now, s.peer));
        n.drive();
        let s = if from_a { &n.a } else { &n.b };
        let old_spi_i = old.0.unwrap();
        assert_eq!(
            requests(s, from)
                .into_iter()
                .filter(|r| r.0 == old_spi_i)
                .collect::<Vec<_>>(),
            vec![
                (old_spi_i, REKEY_THRESHOLD - 1, ExchangeType::INFORMATIONAL),
                (old_spi_i, REKEY_THRESHOLD, ExchangeType::CREATE_CHILD_SA),
                (old_spi_i, REKEY_THRESHOLD + 1, ExchangeType::INFORMATIONAL),
            ],
            "liveness check, IKE rekey, DELETE of the old IKE SA"
        );
        for (side, from) in [(&n.a, ea), (&n.b, eb)] {
            assert!(
                matches!(&side.events[from..], [Event::IkeSaRekeyed { old_spi_i: o, .. }] if *o == old_spi_i),
                "{:?}",
                &side.events[from..]
            );
        }
        let new = n.spis();
        assert_ne!(new.0, old.0);
        let (st_a, st_b) = (n.a.ep.status()[0].clone(), n.b.ep.status()[0].clone());
        assert_eq!(st_a.phase, SaPhase::Established);
        assert_eq!((st_b.spi_i, st_b.spi_r), new);
        assert_eq!(st_a.children, child, "CHILD_SA moved untouched");
        // The old SA is gone on both sides; the new one counts from zero.
        for side in [&mut n.a, &mut n.b] {
            let sa = side.ep.established_sa_mut(side.peer).unwrap();
            assert_eq!(Some(sa.spi_i), new.0);
            assert!(sa.next_request_id < 2 && sa.peer_next_id < 2);
            assert_eq!(sa.rekey_at, None);
            assert_eq!(side.ep.poll_timeout(), None);
        }
        // And it works: a liveness check on the new SA uses ID 0 and is answered.
        let now = n.now;
        let sa = n.a.sent.len();
        assert!(n.a.ep.check_liveness(now, n.a.peer));
        n.drive();
        assert_eq!(
            requests(&n.a, sa),
            vec![(new.0.unwrap(), 0, ExchangeType::INFORMATIONAL)]
        );
        assert_eq!(n.a.ep.status()[0].phase, SaPhase::Established);
    }
}

/// The peer's requests reach `REKEY_THRESHOLD`: we rekey after answering (our own counter is
/// low), and so does the peer, whose own counter it is; the collision (RFC 7296 2.8.2) leaves
/// both with one new IKE SA and the CHILD_SA intact.
#[test]
fn peer_ids_near_the_end_rekey_the_ike_sa() {
    let mut n = Net::established(20);
    let old = n.spis();
    let (ea, eb, sa) = (n.a.events.len(), n.b.events.len(), n.a.sent.len());
    n.set_ids(false, REKEY_THRESHOLD - 1);
    let now = n.now;
    assert!(n.b.ep.check_liveness(now, n.b.peer));
    // Only B's request reaches A before A's timers run.
    let t = n.b.ep.poll_transmit().unwrap();
    n.a.ep.handle(now, t.remote, t.local, &t.payload);
    n.b.sent.push(t);
    n.a.ep.handle_timeout(now);
    while let Some(t) = n.a.ep.poll_transmit() {
        n.b.ep.handle(now, t.remote, t.local, &t.payload);
        n.a.sent.push(t);
    }
    let ours = n.a.ep.status()[0].clone();
    assert_eq!((ours.spi_i, ours.spi_r), old);
    assert!(
        requests(&n.a, sa)
            .iter()
            .any(|r| r.0 == old.0.unwrap() && r.1 < 10 && r.2 == ExchangeType::CREATE_CHILD_SA),
        "A rekeys on its own: {:?}",
        requests(&n.a, sa)
    );
    n.drive();
    let new = n.spis();
    assert_ne!(new.0, old.0);
    for (side, from) in [(&n.a, ea), (&n.b, eb)] {
        let ev = &side.events[from..];
        assert!(!ev.is_empty());
        assert!(
            ev.iter().all(|e| matches!(e, Event::IkeSaRekeyed { .. })),
            "only rekeys, nothing deleted: {ev:?}"
        );
        let st = &side.ep.status()[0];
        assert_eq!(st.phase, SaPhase::Established);
        assert_eq!((st.spi_i, st.spi_r), new);
        assert_eq!(st.children.len(), 1);
    }
    for side in [&mut n.a, &mut n.b] {
        let sa = side.ep.established_sa_mut(side.peer).unwrap();
        assert!(sa.next_request_id < 3 && sa.peer_next_id < 3);
    }
}

/// A rekey that has not replaced the SA by `CLOSE_THRESHOLD` (here: the counter is put
/// there directly) closes it: the DELETE takes the next ID, nothing wraps.
#[test]
fn exhausted_ids_close_the_ike_sa() {
    // `CLOSE_THRESHOLD - 1`: reached by a request; `CLOSE_THRESHOLD`: the request that would
    // use a reserved ID is refused and the SA closed instead.
    for (seed, start) in [(30, CLOSE_THRESHOLD - 1), (31, CLOSE_THRESHOLD)] {
        let mut n = Net::established(seed);
        let old = n.spis();
        let (ea, eb, sa) = (n.a.events.len(), n.b.events.len(), n.a.sent.len());
        n.set_ids(true, start);
        let now = n.now;
        assert!(n.a.ep.check_liveness(now, n.a.peer));
        n.drive();
        let old_spi_i = old.0.unwrap();
        let mut want = vec![];
        if start < CLOSE_THRESHOLD {
            want.push((old_spi_i, start, ExchangeType::INFORMATIONAL));
        }
        want.push((old_spi_i, CLOSE_THRESHOLD, ExchangeType::INFORMATIONAL));
        assert_eq!(requests(&n.a, sa), want, "(liveness check), DELETE");
        let deleted = |ev: &[Event], reason: DeleteReason| matches!(ev, [Event::ChildSaDeleted { .. }, Event::IkeSaDeleted { reason: r, .. }] if *r == reason);
        assert!(
            deleted(&n.a.events[ea..], DeleteReason::Expired),
            "{:?}",
            &n.a.events[ea..]
        );
        assert!(
            deleted(&n.b.events[eb..], DeleteReason::ByPeer),
            "{:?}",
            &n.b.events[eb..]
        );
        for side in [&n.a, &n.b] {
            assert_eq!(side.ep.status()[0].phase, SaPhase::Idle);
            assert_eq!(side.ep.poll_timeout(), None);
        }
        if start == CLOSE_THRESHOLD {
            let err = n.a.ep.status()[0].last_error.clone().unwrap_or_default();
            assert!(err.contains("message IDs exhausted"), "{err}");
        }
    }
}
