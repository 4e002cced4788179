//! DPD (RFC 7296 2.4), several CHILD_SAs per IKE SA (1.3.1) and simultaneous IKE_SA_INIT
//! from both sides.

mod sim;

use ikev2::{ChildConfig, DeleteReason, Event, Lifetime, SaPhase};
use sim::*;
use std::time::Duration;

const IKE: &[&str] = &["aes256gcm16-prfsha384-ecp384"];
const ESP: &[&str] = &["aes256gcm16"];

#[test]
fn silent_peer_is_dead_after_the_dpd_schedule() {
    let (mut a, b) = configs(IKE, ESP);
    a.dpd_delay = Duration::from_secs(30);
    a.dpd_timeout = Duration::from_secs(60);
    let mut p = Pair::new(700, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive_for(Duration::from_secs(1));
    assert_mirrored(&p, false);
    // ESP keeps arriving for 100 s: no probe is sent.
    let sent = p.a.sent.len();
    for _ in 0..10 {
        let now = p.now;
        p.a.ep.note_inbound_traffic(p.a.peer, now);
        p.drive_for(Duration::from_secs(10));
    }
    assert_eq!(p.a.sent.len(), sent, "no probe while traffic flows");
    // The peer stays alive but silent: a probe after 30 s is answered.
    p.drive_for(Duration::from_secs(35));
    assert_eq!(p.a.sent.len(), sent + 1);
    assert!(p.a.ep.status()[0].phase == SaPhase::Established);
    // Now it goes away: probe after 30 s, declared dead 60 s later.
    let t0 = p.elapsed();
    p.b.down = true;
    p.drive_for(Duration::from_secs(200));
    let dead =
        p.a.events
            .iter()
            .find_map(|(t, e)| match e {
                Event::IkeSaDeleted { reason, .. } => Some((*t, reason.clone())),
                _ => None,
            })
            .unwrap();
    assert_eq!(dead.1, DeleteReason::DeadPeer);
    let after = dead.0 - t0;
    assert!(
        after <= Duration::from_secs(30 + 60 + 1),
        "dead after {after:?}"
    );
    assert!(after >= Duration::from_secs(60), "dead after {after:?}");
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Idle);
}

fn child(name: &str, local: [u8; 4], remote: [u8; 4]) -> ChildConfig {
    let mut l_end = local;
    l_end[3] = 255;
    let mut r_end = remote;
    r_end[3] = 255;
    ChildConfig {
        name: name.into(),
        local_ts: vec![ts(local, l_end)],
        remote_ts: vec![ts(remote, r_end)],
        esp_proposals: vec![ikev2::proposal::parse_esp("aes256gcm16").unwrap()],
        lifetime: Lifetime::unlimited(),
    }
}

#[test]
fn several_children_by_create_child_sa_with_per_child_selectors() {
    let (mut a, mut b) = configs(IKE, ESP);
    a.children = vec![
        child("net1", [10, 1, 0, 0], [10, 9, 0, 0]),
        child("net2", [10, 2, 0, 0], [10, 9, 1, 0]),
        child("net3", [10, 3, 0, 0], [10, 9, 2, 0]),
    ];
    // B matches by selectors (its names differ); net2's remote side is wider at B.
    let mut wide = child("b-net2", [10, 9, 1, 0], [10, 2, 0, 0]);
    wide.remote_ts = vec![ts([10, 2, 0, 0], [10, 2, 255, 255])];
    b.children = vec![
        child("b-net1", [10, 9, 0, 0], [10, 1, 0, 0]),
        wide,
        child("b-net3", [10, 9, 2, 0], [10, 3, 0, 0]),
    ];
    let mut p = Pair::new(710, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let ca: Vec<ikev2::ChildSa> = p.a.children().into_iter().cloned().collect();
    let cb: Vec<ikev2::ChildSa> = p.b.children().into_iter().cloned().collect();
    assert_eq!(ca.len(), 3);
    assert_eq!(cb.len(), 3);
    let names: Vec<_> = ca.iter().map(|c| c.child.as_str()).collect();
    assert_eq!(names, ["net1", "net2", "net3"]);
    let bnames: Vec<_> = cb.iter().map(|c| c.child.as_str()).collect();
    assert_eq!(bnames, ["b-net1", "b-net2", "b-net3"]);
    for (x, y) in ca.iter().zip(&cb) {
        assert_eq!(x.inbound_spi, y.outbound_spi);
        assert_eq!(x.inbound_keys, y.outbound_keys);
        assert_eq!(x.local_ts, y.remote_ts);
    }
    assert_eq!(ca[1].local_ts, vec![ts([10, 2, 0, 0], [10, 2, 0, 255])]);
    assert_eq!(assert_planes_mirror(&p), 3);
    assert_eq!(p.a.ep.status()[0].children.len(), 3);
    // Rekey the middle one; the others are untouched.
    let now = p.now;
    assert!(p.a.ep.rekey_child_sa(now, p.a.peer, ca[1].inbound_spi));
    p.drive_checked(Duration::from_secs(60));
    assert_eq!(assert_planes_mirror(&p), 3);
    assert!(p.a.plane().inbound.contains_key(&ca[0].inbound_spi));
    assert!(!p.a.plane().inbound.contains_key(&ca[1].inbound_spi));
}

#[test]
fn unmatched_extra_child_fails_alone() {
    let (mut a, mut b) = configs(IKE, ESP);
    a.children = vec![
        child("net1", [10, 1, 0, 0], [10, 9, 0, 0]),
        child("nowhere", [10, 5, 0, 0], [10, 6, 0, 0]),
    ];
    b.children = vec![child("b-net1", [10, 9, 0, 0], [10, 1, 0, 0])];
    let mut p = Pair::new(711, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_eq!(p.a.children().len(), 1);
    assert_eq!(p.a.failures(), vec![&ikev2::FailureReason::TsUnacceptable]);
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Established);
}

#[test]
fn simultaneous_ike_sa_init_ends_with_one_ike_sa() {
    for seed in 0..20u64 {
        let (a, b) = configs(IKE, ESP);
        let mut p = Pair::new(720 + seed, NetConfig::default(), a, b);
        p.initiate_a();
        p.drive_for(Duration::from_millis(seed * 7 % 19));
        p.initiate_b();
        p.drive_for(Duration::from_secs(120));
        let (sa, sb) = (p.a.ep.status()[0].clone(), p.b.ep.status()[0].clone());
        assert_eq!(sa.phase, SaPhase::Established, "seed {seed}");
        assert_eq!((sa.spi_i, sa.spi_r), (sb.spi_i, sb.spi_r), "seed {seed}");
        assert_eq!(assert_planes_mirror(&p), 1, "seed {seed}");
        for n in [&p.a, &p.b] {
            let live = n.established().len()
                - n.events
                    .iter()
                    .filter(|(_, e)| matches!(e, Event::IkeSaDeleted { .. }))
                    .count();
            assert_eq!(live, 1, "seed {seed}: {:?}", n.events);
        }
        // The deleted duplicate lingers only to answer retransmissions, then goes.
        p.drive();
        assert_eq!(p.a.ep.poll_timeout(), None, "seed {seed}");
        assert_eq!(
            p.a.ep.status()[0].phase,
            SaPhase::Established,
            "seed {seed}"
        );
    }
}
