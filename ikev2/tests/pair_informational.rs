//! INFORMATIONAL exchanges on an established IKE SA: DELETE, liveness, INITIAL_CONTACT.

mod sim;

use ikev2::crypto::SeededRandom;
use ikev2::{DeleteReason, Endpoint, Event, SaPhase};
use sim::*;
use std::time::Duration;

const IKE: &[&str] = &["aes256gcm16-prfsha384-ecp384"];
const ESP: &[&str] = &["aes256gcm16"];

fn established(seed: u64, nat: bool) -> Pair {
    let (a, b) = configs(IKE, ESP);
    let net = NetConfig {
        nat: nat.then(Nat::ec2),
        ..NetConfig::default()
    };
    let mut p = Pair::new(seed, net, a, b);
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, nat);
    p
}

fn deletions(n: &Node, from: usize) -> Vec<Event> {
    n.events[from..]
        .iter()
        .map(|(_, e)| e.clone())
        .filter(|e| matches!(e, Event::ChildSaDeleted { .. } | Event::IkeSaDeleted { .. }))
        .collect()
}

#[test]
fn terminate_deletes_on_both_sides() {
    for (seed, a_terminates) in [(40, true), (41, false)] {
        let mut p = established(seed, true);
        let (ca, cb) = (p.a.children()[0].clone(), p.b.children()[0].clone());
        let (na, nb) = (p.a.events.len(), p.b.events.len());
        let now = p.now;
        if a_terminates {
            p.a.ep.terminate(now, p.a.peer);
        } else {
            p.b.ep.terminate(now, p.b.peer);
        }
        p.drive();
        let (da, db) = (deletions(&p.a, na), deletions(&p.b, nb));
        let (local, remote) = if a_terminates {
            (DeleteReason::Local, DeleteReason::ByPeer)
        } else {
            (DeleteReason::ByPeer, DeleteReason::Local)
        };
        match &da[..] {
            [Event::ChildSaDeleted {
                inbound_spi,
                outbound_spi,
                ..
            }, Event::IkeSaDeleted { reason, .. }] => {
                assert_eq!(
                    (*inbound_spi, *outbound_spi),
                    (ca.inbound_spi, ca.outbound_spi)
                );
                assert_eq!(*reason, local);
            }
            other => panic!("A: {other:?}"),
        }
        match &db[..] {
            [Event::ChildSaDeleted { inbound_spi, .. }, Event::IkeSaDeleted { reason, .. }] => {
                assert_eq!(*inbound_spi, cb.inbound_spi);
                assert_eq!(*reason, remote);
            }
            other => panic!("B: {other:?}"),
        }
        assert_eq!(p.a.ep.status()[0].phase, SaPhase::Idle);
        assert_eq!(p.b.ep.status()[0].phase, SaPhase::Idle);
        assert_eq!(p.a.ep.poll_timeout(), None);
        assert_eq!(p.b.ep.poll_timeout(), None);
        // DELETE went over the NAT on 4500 like the rest of the SA.
        let last = &(if a_terminates { &p.a } else { &p.b })
            .sent
            .last()
            .unwrap()
            .1;
        assert_eq!(last.local.port(), 4500);
    }
}

#[test]
fn lost_delete_response_is_replayed_and_the_deleter_finishes() {
    let mut p = established(42, false);
    let now = p.now;
    p.a.ep.terminate(now, p.a.peer);
    // Lose B's answer to the DELETE once.
    let far = p.now + Duration::from_secs(10);
    let b_sent = p.b.sent.len();
    while p.b.sent.len() == b_sent {
        assert!(p.step(far));
    }
    p.flight.clear();
    p.drive();
    // B answered the retransmitted DELETE from its cache, without new events.
    assert_eq!(p.b.sent.len(), b_sent + 2);
    assert_eq!(p.b.sent[b_sent].1, p.b.sent[b_sent + 1].1);
    let ike_deleted =
        p.b.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::IkeSaDeleted { .. }))
            .count();
    assert_eq!(ike_deleted, 1);
    assert_eq!(p.a.ep.poll_timeout(), None);
}

#[test]
fn liveness_check_is_answered_and_a_dead_peer_is_detected() {
    let mut p = established(43, true);
    let (na, nb) = (p.a.events.len(), p.b.events.len());
    let now = p.now;
    assert!(p.a.ep.check_liveness(now, p.a.peer));
    p.drive();
    assert_eq!(p.a.events.len(), na);
    assert_eq!(p.b.events.len(), nb);
    // Peer gone: the check times out after the schedule and the SA is deleted.
    p.b.down = true;
    let start = p.elapsed();
    let now = p.now;
    assert!(p.a.ep.check_liveness(now, p.a.peer));
    p.drive();
    let (retransmits, rest) = p.a.events[na..].split_at(p.a.events.len() - na - 2);
    assert_eq!(retransmits.len(), 5, "{retransmits:?}");
    assert!(retransmits.iter().all(|(_, e)| matches!(
        e,
        Event::Retransmitted {
            request: "INFORMATIONAL",
            ..
        }
    )));
    match rest {
        [(_, Event::ChildSaDeleted { .. }), (
            at,
            Event::IkeSaDeleted {
                reason: DeleteReason::Timeout,
                ..
            },
        )] => {
            assert!(((*at - start).as_secs_f64() - 165.06112).abs() < 1e-3);
        }
        other => panic!("{other:?}"),
    }
    assert!(p.a.ep.status()[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("5 retransmissions"));
    let now = p.now;
    assert!(!p.a.ep.check_liveness(now, p.a.peer));
}

#[test]
fn remove_peer_sends_delete() {
    let mut p = established(44, false);
    let nb = p.b.events.len();
    let now = p.now;
    p.a.ep.remove_peer(now, p.a.peer);
    p.drive();
    assert!(p.a.ep.status().is_empty());
    assert!(matches!(
        deletions(&p.b, nb)[..],
        [
            Event::ChildSaDeleted { .. },
            Event::IkeSaDeleted {
                reason: DeleteReason::ByPeer,
                ..
            }
        ]
    ));
}

#[test]
fn restarted_initiator_replaces_the_old_sa_with_initial_contact() {
    let mut p = established(45, true);
    let old_child = p.b.children()[0].clone();
    let nb = p.b.events.len();
    // A crashes and comes back with no state.
    let cfg = p.a.ep.peer_config(p.a.peer).unwrap().clone();
    p.a.ep = Endpoint::new(Box::new(SeededRandom::new(4545)));
    p.a.peer = p.a.ep.add_peer(cfg);
    p.a.events.clear();
    p.initiate_a();
    p.drive();
    let later: Vec<_> = p.b.events[nb..].iter().map(|(_, e)| e.clone()).collect();
    match &later[..] {
        [Event::IkeSaEstablished { .. }, Event::ChildSaEstablished(new_child), Event::ChildSaDeleted { inbound_spi, .. }, Event::IkeSaDeleted {
            reason: DeleteReason::InitialContact,
            ..
        }] => {
            assert_eq!(*inbound_spi, old_child.inbound_spi);
            assert_ne!(new_child.inbound_spi, old_child.inbound_spi);
        }
        other => panic!("{other:?}"),
    }
    let s = &p.b.ep.status()[0];
    assert_eq!(s.phase, SaPhase::Established);
    assert_eq!(s.children.len(), 1);
}

#[test]
fn child_sa_delete_is_answered_with_the_paired_spi() {
    let mut p = established(46, true);
    let (ca, cb) = (p.a.children()[0].clone(), p.b.children()[0].clone());
    let (na, nb) = (p.a.events.len(), p.b.events.len());
    let now = p.now;
    assert!(
        !p.a.ep.delete_child_sa(now, p.a.peer, ca.outbound_spi),
        "not our inbound SPI"
    );
    assert!(p.a.ep.delete_child_sa(now, p.a.peer, ca.inbound_spi));
    p.drive();
    assert_eq!(
        deletions(&p.a, na),
        vec![Event::ChildSaDeleted {
            peer: p.a.peer,
            inbound_spi: ca.inbound_spi,
            outbound_spi: ca.outbound_spi
        }]
    );
    assert_eq!(
        deletions(&p.b, nb),
        vec![Event::ChildSaDeleted {
            peer: p.b.peer,
            inbound_spi: cb.inbound_spi,
            outbound_spi: cb.outbound_spi
        }]
    );
    for n in [&p.a, &p.b] {
        let s = &n.ep.status()[0];
        assert_eq!(s.phase, SaPhase::Established);
        assert!(s.children.is_empty());
    }
    assert_eq!(p.a.ep.poll_timeout(), None);
}
