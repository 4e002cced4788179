//! CHILD_SA rekeying over the simulated pair (RFC 7296 1.3.3, 2.8): with and without PFS,
//! from either side, INVALID_KE_PAYLOAD, make-before-break event order, time-based triggers.

mod sim;

use ikev2::{Event, Lifetime, PeerConfig};
use sim::*;
use std::time::Duration;

const IKE: &[&str] = &["aes256gcm16-prfsha384-ecp384"];

fn pair(seed: u64, a: PeerConfig, b: PeerConfig) -> Pair {
    let mut p = Pair::new(seed, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, false);
    p
}

fn events_since(n: &Node, from: usize) -> Vec<Event> {
    n.events[from..].iter().map(|(_, e)| e.clone()).collect()
}

/// Rekey A's (or B's) child by external request and check both sides' event sequences,
/// the mirrored keys and that the old SA is gone. Returns the new SA as A sees it.
fn rekey_once(p: &mut Pair, from_a: bool) -> ikev2::ChildSa {
    let (na, nb) = (p.a.events.len(), p.b.events.len());
    let now = p.now;
    let (old_a_in, old_a_out) = {
        let pl = p.a.plane();
        let (out, _) = pl.outbound.iter().next().unwrap();
        let inb = *pl.inbound.keys().next().unwrap();
        (inb, *out)
    };
    let ok = if from_a {
        let spi = old_a_in;
        p.a.ep.rekey_child_sa(now, p.a.peer, spi)
    } else {
        let spi = old_a_out; // B's inbound SPI
        p.b.ep.rekey_child_sa(now, p.b.peer, spi)
    };
    assert!(ok);
    p.drive_checked(Duration::from_secs(600));
    let (ea, eb) = (events_since(&p.a, na), events_since(&p.b, nb));
    let (init, resp) = if from_a { (&ea, &eb) } else { (&eb, &ea) };
    // Initiator: rekeyed (outbound now), then the old SA deleted.
    match &init[..] {
        [Event::ChildSaRekeyed {
            outbound_now: true, ..
        }, Event::ChildSaDeleted { .. }] => {}
        other => panic!("initiator events: {other:?}"),
    }
    // Responder: rekeyed (inbound only), outbound ready on the DELETE, then deleted.
    match &resp[..] {
        [Event::ChildSaRekeyed {
            outbound_now: false,
            new,
            ..
        }, Event::ChildSaOutboundReady { inbound_spi, .. }, Event::ChildSaDeleted { .. }] => {
            assert_eq!(*inbound_spi, new.inbound_spi)
        }
        other => panic!("responder events: {other:?}"),
    }
    assert_eq!(assert_planes_mirror(p), 1);
    assert!(p.a.double_processed().is_empty());
    assert!(p.b.double_processed().is_empty());
    let new = ea
        .iter()
        .find_map(|e| match e {
            Event::ChildSaRekeyed {
                new,
                old_inbound_spi,
                old_outbound_spi,
                ..
            } => {
                assert_eq!((*old_inbound_spi, *old_outbound_spi), (old_a_in, old_a_out));
                Some(new.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_ne!(new.inbound_spi, old_a_in);
    assert_ne!(new.outbound_spi, old_a_out);
    let status = &p.a.ep.status()[0];
    assert_eq!(status.children.len(), 1);
    assert_eq!(status.children[0].inbound_spi, new.inbound_spi);
    new
}

#[test]
fn rekey_without_pfs_from_both_sides() {
    let (a, b) = configs(IKE, &["aes256gcm16"]);
    let mut p = pair(100, a, b);
    let first = p.a.children()[0].clone();
    let n1 = rekey_once(&mut p, true);
    let n2 = rekey_once(&mut p, false);
    assert_eq!(n1.suite.dh, None);
    assert_ne!(n1.inbound_keys, first.inbound_keys);
    assert_ne!(n2.inbound_keys, n1.inbound_keys);
    assert_eq!(n1.child, first.child);
}

#[test]
fn rekey_with_pfs_each_group() {
    for (i, g) in [
        "modp2048",
        "modp2048s256",
        "ecp256",
        "ecp384",
        "curve25519",
        "modp1024",
    ]
    .iter()
    .enumerate()
    {
        let esp = format!("aes128gcm16-{g}");
        let (a, b) = configs(IKE, &[esp.as_str()]);
        let mut p = pair(200 + i as u64, a, b);
        let n = rekey_once(&mut p, i % 2 == 0);
        let want = ikev2::proposal::parse_esp(&esp).unwrap().dh[0];
        assert_eq!(n.suite.dh, Some(want), "{g}");
    }
}

#[test]
fn invalid_ke_payload_is_followed() {
    // A offers ecp256 first; B only takes ecp384: INVALID_KE_PAYLOAD(ecp384), A retries.
    let (a, b) = configs(IKE, &["aes256gcm16-ecp256-ecp384"]);
    let mut b = b;
    b.esp_proposals = vec![ikev2::proposal::parse_esp("aes256gcm16-ecp384").unwrap()];
    let mut p = pair(300, a, b);
    let n = rekey_once(&mut p, true);
    assert_eq!(n.suite.dh, Some(ikev2::wire::DhGroup::ECP384));
    // Three CREATE_CHILD_SA requests would mean a loop; exactly two were sent by A.
    let cc =
        p.a.sent
            .iter()
            .filter(|(_, t)| {
                let h = ikev2::wire::decode_header(&t.payload).unwrap();
                h.exchange == ikev2::wire::ExchangeType::CREATE_CHILD_SA && !h.flags.response()
            })
            .count();
    assert_eq!(cc, 2);
}

#[test]
fn rekey_by_time_falls_in_the_jitter_window() {
    let lt = Lifetime {
        rekey_time: Duration::from_secs(100),
        rand_time: Duration::from_secs(10),
        life_time: Duration::from_secs(200),
    };
    for seed in 0..8u64 {
        let (mut a, mut b) = configs(IKE, &["aes256gcm16"]);
        a.child_lifetime = lt;
        // B rekeys later: only A's timer fires first.
        b.child_lifetime = Lifetime {
            rekey_time: Duration::from_secs(150),
            ..lt
        };
        let mut p = Pair::new(400 + seed, NetConfig::default(), a, b);
        p.initiate_a();
        p.drive_for(Duration::from_secs(1));
        let established =
            p.a.events
                .iter()
                .find_map(|(t, e)| matches!(e, Event::ChildSaEstablished(_)).then_some(*t));
        let established = established.unwrap();
        let st = p.a.ep.status()[0].children[0].rekey_at.unwrap() - p.start;
        assert!(
            st >= established + Duration::from_secs(90)
                && st <= established + Duration::from_secs(100),
            "{st:?}"
        );
        p.drive_checked(Duration::from_secs(120));
        let rekeyed: Vec<_> =
            p.a.events
                .iter()
                .filter(|(_, e)| {
                    matches!(
                        e,
                        Event::ChildSaRekeyed {
                            outbound_now: true,
                            ..
                        }
                    )
                })
                .map(|(t, _)| *t)
                .collect();
        assert_eq!(rekeyed.len(), 1, "seed {seed}");
        let d = rekeyed[0] - established;
        assert!(
            d >= Duration::from_secs(90)
                && d <= Duration::from_secs(100) + Duration::from_millis(100),
            "rekeyed after {d:?}"
        );
        assert_eq!(assert_planes_mirror(&p), 1);
    }
}

/// A CHILD_SA that is never rekeyed (here: rekeying off) is deleted at its hard lifetime and
/// created again at once (RFC 7296 1.3.1), so the IKE SA never stays without the CHILD_SA its
/// configuration asks for; the new one has new SPIs and both sides agree on it.
#[test]
fn hard_lifetime_deletes_an_unrekeyable_child_and_creates_it_again() {
    let (mut a, mut b) = configs(IKE, &["aes256gcm16"]);
    a.child_lifetime = Lifetime {
        rekey_time: Duration::ZERO,
        rand_time: Duration::ZERO,
        life_time: Duration::from_secs(50),
    };
    b.child_lifetime = Lifetime::unlimited();
    // Not `pair()`: it drives for an hour, 72 such lifetimes.
    let mut p = Pair::new(500, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive_for(Duration::from_secs(75));
    for (side, events) in [("a", &p.a.events), ("b", &p.b.events)] {
        let established = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::ChildSaEstablished(_)))
            .count();
        let deleted = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::ChildSaDeleted { .. }))
            .count();
        assert_eq!((established, deleted), (2, 1), "{side}: {events:?}");
    }
    let first = p.a.events.iter().find_map(|(_, e)| match e {
        Event::ChildSaEstablished(c) => Some(c.inbound_spi),
        _ => None,
    });
    let now = p.a.ep.status()[0].children.clone();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(Some(now[0].inbound_spi), first, "the same SA survived");
    assert_eq!(assert_planes_mirror(&p), 1);
}

/// The scripted peer of the hostile tests: it holds the IKE SA keys, so it can name a
/// CHILD_SA that the responder never had.
#[path = "../fuzz/common/mallory.rs"]
mod mallory;

#[test]
fn rekey_sa_for_an_spi_we_never_had_gets_child_sa_not_found() {
    use ikev2::wire::{ExchangeType, Notify, NotifyType, Payload, ProtocolId, SaPayload};
    let mut r = mallory::Responder::new(600, mallory::IKE);
    let mut m = mallory::Mallory::new(601, mallory::IKE);
    assert!(m.establish(&mut r), "{:?}", r.events);
    r.events.clear();
    let before = r.status();
    let real = before.children[0].outbound_spi;
    let rekey = |m: &mut mallory::Mallory, named: u32, new_spi: u32| {
        let esp = ikev2::proposal::parse_esp(mallory::ESP).unwrap();
        m.request(
            ExchangeType::CREATE_CHILD_SA,
            &[
                Payload::Notify(Notify {
                    protocol: ProtocolId::ESP,
                    spi: named.to_be_bytes().to_vec(),
                    kind: NotifyType::REKEY_SA,
                    data: vec![],
                }),
                Payload::Sa(SaPayload {
                    proposals: vec![esp.to_wire(1, new_spi, false)],
                }),
                Payload::Nonce(vec![0x4e; 32]),
                Payload::TsI(vec![mallory::ts_any()]),
                Payload::TsR(vec![mallory::ts_any()]),
            ],
        )
    };
    let never = real ^ 0x5a5a_5a5a;
    let out = r.deliver(&rekey(&mut m, never, 0x0bad_0001));
    // RFC 7296 2.25.1 / 3.10.1: CHILD_SA_NOT_FOUND, protocol ESP, naming the SPI asked for;
    // nothing else in the answer, nothing created or deleted.
    let [t] = &out[..] else { panic!("{out:?}") };
    let (h, payloads) = m.open(&t.payload).expect("answer opens");
    assert!(h.flags.response());
    assert_eq!(h.exchange, ExchangeType::CREATE_CHILD_SA);
    match &payloads[..] {
        [Payload::Notify(n)] => {
            assert_eq!(n.kind, NotifyType::CHILD_SA_NOT_FOUND);
            assert_eq!(n.protocol, ProtocolId::ESP);
            assert_eq!(n.spi, never.to_be_bytes().to_vec());
        }
        other => panic!("{other:?}"),
    }
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(r.status(), before);
    // The IKE SA is fine: a rekey of the real CHILD_SA succeeds.
    let out = r.deliver(&rekey(&mut m, real, 0x0bad_0002));
    let (_, payloads) = m.open(&out[0].payload).unwrap();
    assert!(
        payloads.iter().any(|p| matches!(p, Payload::Sa(_))),
        "{payloads:?}"
    );
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::ChildSaRekeyed { .. })));
}
