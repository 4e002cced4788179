//! IKE SA rekey in place (RFC 7296 1.3.2, 2.18): new SPIs and keys, CHILD_SAs moved with
//! their traffic keys untouched, the old IKE SA deleted silently; later exchanges run on the
//! new IKE SA.

mod sim;

use ikev2::{Event, SaPhase};
use sim::*;
use std::time::Duration;

#[test]
fn ike_rekey_moves_children_and_keeps_traffic_keys() {
    for (seed, from_a) in [(600u64, true), (601, false)] {
        let (a, b) = configs(&["aes256-sha256-modp2048"], &["aes256gcm16"]);
        let mut p = Pair::new(seed, NetConfig::default(), a, b);
        p.initiate_a();
        p.drive();
        assert_mirrored(&p, false);
        let before = (p.a.plane(), p.b.plane());
        let old = p.a.ep.status()[0].clone();
        let (na, nb) = (p.a.events.len(), p.b.events.len());
        let now = p.now;
        if from_a {
            assert!(p.a.ep.rekey_ike_sa(now, p.a.peer));
        } else {
            assert!(p.b.ep.rekey_ike_sa(now, p.b.peer));
        }
        p.drive_checked(Duration::from_secs(600));
        for (n, from) in [(&p.a, na), (&p.b, nb)] {
            let ev: Vec<_> = n.events[from..].iter().map(|(_, e)| e.clone()).collect();
            match &ev[..] {
                [Event::IkeSaRekeyed {
                    old_spi_i,
                    old_spi_r,
                    new_spi_i,
                    new_spi_r,
                    ..
                }] => {
                    assert_eq!(
                        (*old_spi_i, *old_spi_r),
                        (old.spi_i.unwrap(), old.spi_r.unwrap())
                    );
                    assert_ne!(*new_spi_i, *old_spi_i);
                    assert_ne!(*new_spi_r, *old_spi_r);
                }
                other => panic!("events: {other:?}"),
            }
        }
        let (sa, sb) = (p.a.ep.status()[0].clone(), p.b.ep.status()[0].clone());
        assert_eq!(sa.phase, SaPhase::Established);
        assert_eq!((sa.spi_i, sa.spi_r), (sb.spi_i, sb.spi_r));
        assert_ne!(sa.spi_i, old.spi_i);
        assert_eq!(
            sa.initiator,
            Some(from_a),
            "the rekey initiator is the new SA's initiator"
        );
        assert_eq!(sa.children.len(), 1);
        // Data plane untouched.
        let after = (p.a.plane(), p.b.plane());
        assert_eq!(
            before.0.inbound.keys().collect::<Vec<_>>(),
            after.0.inbound.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            before.1.outbound.keys().collect::<Vec<_>>(),
            after.1.outbound.keys().collect::<Vec<_>>()
        );
        // Exactly one IKE SA per side is left (the old one is gone, no timers pending).
        assert_eq!(p.a.ep.poll_timeout(), None);
        assert_eq!(p.b.ep.poll_timeout(), None);
        // CHILD_SA rekey and liveness on the new IKE SA work (keys from the new SK_d).
        let now = p.now;
        let spi = *p.a.plane().inbound.keys().next().unwrap();
        assert!(p.a.ep.rekey_child_sa(now, p.a.peer, spi));
        p.drive_checked(Duration::from_secs(600));
        assert_eq!(assert_planes_mirror(&p), 1);
        let now = p.now;
        assert!(p.b.ep.check_liveness(now, p.b.peer));
        p.drive();
        assert!(p.a.failures().is_empty() && p.b.failures().is_empty());
        assert!(p.a.double_processed().is_empty() && p.b.double_processed().is_empty());
    }
}

#[test]
fn ike_rekey_by_time_then_hard_expiry_never_hits() {
    let (mut a, mut b) = configs(&["aes256gcm16-prfsha384-ecp384"], &["aes256gcm16"]);
    a.ike_lifetime = ikev2::Lifetime {
        rekey_time: Duration::from_secs(100),
        rand_time: Duration::from_secs(10),
        life_time: Duration::from_secs(130),
    };
    b.ike_lifetime = a.ike_lifetime;
    let mut p = Pair::new(610, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive_for(Duration::from_secs(1));
    p.drive_checked(Duration::from_secs(350));
    let rekeys =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::IkeSaRekeyed { .. }))
            .count();
    assert!(rekeys >= 3, "rekeyed {rekeys} times in 350 s");
    assert!(p
        .a
        .events
        .iter()
        .all(|(_, e)| !matches!(e, Event::IkeSaDeleted { .. })));
    assert_eq!(assert_planes_mirror(&p), 1);
    let (sa, sb) = (p.a.ep.status()[0].clone(), p.b.ep.status()[0].clone());
    assert_eq!((sa.spi_i, sa.spi_r), (sb.spi_i, sb.spi_r));
    assert!(sa.rekey_at.is_some());
}
