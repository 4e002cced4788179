//! Rekey collisions (RFC 7296 2.8.1, 2.8.2, 2.25) over a lossy, duplicating, reordering
//! network: both sides rekey the same CHILD_SA (or the IKE SA) within a random offset.
//! Each run must end with exactly one SA pair per child with identical keys on both sides,
//! one IKE SA with the same SPIs on both, and no request processed twice.
//!
//! Seeds: `IKEV2_SEEDS` CHILD runs and half as many IKE runs (default 1000 and 500, ~25 s on
//! 2 cores with the workspace's opt-level 2 for ikev2 in tests; 2026-12-04: 3000 and 1500 in
//! 70 s, all passing). More: `IKEV2_SEEDS=10000 cargo test -p ikev2 --test
//! pair_rekey_collision`.

mod sim;

use ikev2::{Event, SaPhase};
use sim::*;
use std::time::Duration;

fn seeds() -> u64 {
    std::env::var("IKEV2_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

fn lossy() -> NetConfig {
    NetConfig {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.2,
        latency: Duration::from_millis(20),
        nat: None,
    }
}

fn established(seed: u64, esp: &str) -> Pair {
    let (a, b) = configs(&["aes256gcm16-prfsha384-ecp384"], &[esp]);
    let mut p = Pair::new(seed, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, false);
    p.net = lossy();
    p
}

/// Offset in 0..=60 ms from the seed.
fn offset(seed: u64) -> Duration {
    Duration::from_millis(seed.wrapping_mul(2_654_435_761) % 61)
}

fn check_end(p: &Pair, seed: u64) {
    assert_eq!(assert_planes_mirror(p), 1, "seed {seed}");
    let (sa, sb) = (p.a.ep.status()[0].clone(), p.b.ep.status()[0].clone());
    assert_eq!(sa.phase, SaPhase::Established, "seed {seed}");
    assert_eq!((sa.spi_i, sa.spi_r), (sb.spi_i, sb.spi_r), "seed {seed}");
    assert_eq!(sa.children.len(), 1, "seed {seed}: {:?}", sa.children);
    assert_eq!(sb.children.len(), 1, "seed {seed}: {:?}", sb.children);
    assert_eq!(p.a.double_processed(), vec![], "seed {seed}");
    assert_eq!(p.b.double_processed(), vec![], "seed {seed}");
    for n in [&p.a, &p.b] {
        assert!(
            !n.events
                .iter()
                .any(|(_, e)| matches!(e, Event::IkeSaDeleted { .. } | Event::Failed { .. })),
            "seed {seed}: {:?}",
            n.events
        );
    }
}

#[test]
fn child_rekey_collisions() {
    let mut both_rekeyed = 0;
    for seed in 0..seeds() {
        let esp = if seed % 3 == 0 {
            "aes256gcm16-ecp256"
        } else {
            "aes256gcm16"
        };
        let mut p = established(seed, esp);
        let a_spi = *p.a.plane().inbound.keys().next().unwrap();
        let b_spi = *p.b.plane().inbound.keys().next().unwrap();
        let start = p.now;
        let (first_a, d) = (seed % 2 == 0, offset(seed));
        if first_a {
            assert!(p.a.ep.rekey_child_sa(start, p.a.peer, a_spi));
        } else {
            assert!(p.b.ep.rekey_child_sa(start, p.b.peer, b_spi));
        }
        p.drive_for(d);
        let now = p.now;
        // The second one may find the child already replaced (then it is refused).
        if first_a {
            p.b.ep.rekey_child_sa(now, p.b.peer, b_spi);
        } else {
            p.a.ep.rekey_child_sa(now, p.a.peer, a_spi);
        }
        p.drive_checked(Duration::from_secs(900));
        check_end(&p, seed);
        let a_rekeys =
            p.a.events
                .iter()
                .filter(|(_, e)| matches!(e, Event::ChildSaRekeyed { .. }))
                .count();
        if a_rekeys > 1 {
            both_rekeyed += 1;
        }
    }
    // The runs did exercise real collisions (both exchanges created an SA).
    assert!(both_rekeyed > 0);
}

#[test]
fn ike_rekey_collisions() {
    let mut collided = 0;
    for seed in 0..seeds() / 2 {
        let mut p = established(10_000 + seed, "aes256gcm16");
        let start = p.now;
        let d = offset(seed);
        assert!(p.a.ep.rekey_ike_sa(start, p.a.peer));
        p.drive_for(d);
        let now = p.now;
        p.b.ep.rekey_ike_sa(now, p.b.peer);
        p.drive_checked(Duration::from_secs(900));
        check_end(&p, seed);
        // The surviving IKE SA works: a CHILD_SA rekey over it.
        let now = p.now;
        let spi = *p.a.plane().inbound.keys().next().unwrap();
        assert!(p.a.ep.rekey_child_sa(now, p.a.peer, spi), "seed {seed}");
        p.drive_checked(Duration::from_secs(900));
        check_end(&p, seed);
        if p.b.sent.iter().any(|(_, t)| {
            let h = ikev2::wire::decode_header(&t.payload).unwrap();
            h.exchange == ikev2::wire::ExchangeType::CREATE_CHILD_SA && h.flags.response()
        }) && p
            .a
            .sent
            .iter()
            .filter(|(_, t)| {
                let h = ikev2::wire::decode_header(&t.payload).unwrap();
                h.exchange == ikev2::wire::ExchangeType::CREATE_CHILD_SA && h.flags.response()
            })
            .count()
            > 0
        {
            collided += 1;
        }
    }
    assert!(collided > 0);
}

#[test]
fn rekey_versus_delete_gets_temporary_failure() {
    // A rekeys the child while B deletes it; A's request is held back until B's DELETE
    // exchange is done, so B answers it TEMPORARY_FAILURE (RFC 7296 2.25.1).
    let (a, b) = configs(&["aes256gcm16-prfsha384-ecp384"], &["aes256gcm16"]);
    let mut b = b;
    b.children = vec![];
    let mut p = Pair::new(77, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let a_spi = *p.a.plane().inbound.keys().next().unwrap();
    let b_spi = *p.b.plane().inbound.keys().next().unwrap();
    let now = p.now;
    assert!(p.a.ep.rekey_child_sa(now, p.a.peer, a_spi));
    assert!(p.b.ep.delete_child_sa(now, p.b.peer, b_spi));
    p.flush();
    for d in p.flight.iter_mut() {
        if d.dst.ip() == p.b.ip {
            d.at += Duration::from_millis(500);
        }
    }
    p.drive();
    let responses: Vec<_> =
        p.b.sent
            .iter()
            .filter_map(|(_, t)| {
                let h = ikev2::wire::decode_header(&t.payload).ok()?;
                (h.exchange == ikev2::wire::ExchangeType::CREATE_CHILD_SA).then_some(h)
            })
            .collect();
    assert_eq!(responses.len(), 1);
    // The response is sealed; its effect: no new SA on either side, the child is gone.
    assert_eq!(p.a.plane().inbound.len(), 0, "{:?}", p.a.events);
    assert_eq!(p.b.plane().inbound.len(), 0);
    assert!(p.a.ep.status()[0].children.is_empty());
    let err = p.a.ep.status()[0].last_error.clone().unwrap_or_default();
    assert!(err.contains("TEMPORARY_FAILURE"), "{err}");
    assert!(p
        .a
        .events
        .iter()
        .all(|(_, e)| !matches!(e, Event::ChildSaRekeyed { .. })));
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Established);
}
