//! Negotiation and authentication failures, INVALID_KE_PAYLOAD and traffic selector narrowing.

mod sim;

use ikev2::wire::{decode_message, DhGroup, ExchangeType, NotifyType, Payload};
use ikev2::{Event, FailureReason, Identity, Role, SaPhase};
use sim::*;

const ESP: &[&str] = &["aes256gcm16"];

/// Error notifies `n` sent in the clear.
fn notifies_sent(n: &Node) -> Vec<NotifyType> {
    n.sent
        .iter()
        .filter_map(|(_, t)| decode_message(&t.payload).ok())
        .flat_map(|m| m.payloads)
        .filter_map(|p| match p {
            Payload::Notify(n) if n.kind.is_error() => Some(n.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn invalid_ke_payload_retry_converges() {
    // A prefers ecp384 and also offers modp2048; B accepts only modp2048.
    let (a, _) = configs(&["aes256-sha256-ecp384", "aes256-sha256-modp2048"], ESP);
    let (_, b) = configs(&["aes256-sha256-modp2048"], ESP);
    let mut p = Pair::new(10, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, false);
    match p.a.established()[0] {
        Event::IkeSaEstablished { suite, .. } => assert_eq!(suite.dh, DhGroup::MODP2048),
        _ => unreachable!(),
    }
    // B answered the first request with INVALID_KE_PAYLOAD naming group 14, statelessly.
    let first_answer = decode_message(&p.b.sent[0].1.payload).unwrap();
    assert_eq!(first_answer.header.spi_r, 0);
    match &first_answer.payloads[..] {
        [Payload::Notify(n)] => {
            assert_eq!(n.kind, NotifyType::INVALID_KE_PAYLOAD);
            assert_eq!(n.data, 14u16.to_be_bytes());
        }
        other => panic!("unexpected {other:?}"),
    }
    // A retried with the same SPIi and a modp2048 KE, still proposing everything.
    let (r1, r2) = (
        decode_message(&p.a.sent[0].1.payload).unwrap(),
        decode_message(&p.a.sent[1].1.payload).unwrap(),
    );
    assert_eq!(r1.header.spi_i, r2.header.spi_i);
    let ke_group = |m: &ikev2::wire::Message| {
        m.payloads.iter().find_map(|p| match p {
            Payload::Ke(k) => Some(k.group),
            _ => None,
        })
    };
    assert_eq!(ke_group(&r1), Some(DhGroup::ECP384));
    assert_eq!(ke_group(&r2), Some(DhGroup::MODP2048));
    let proposals = |m: &ikev2::wire::Message| {
        m.payloads.iter().find_map(|p| match p {
            Payload::Sa(s) => Some(s.proposals.len()),
            _ => None,
        })
    };
    assert_eq!(proposals(&r2), Some(2));
}

#[test]
fn no_proposal_chosen_fails_on_both_ends() {
    let (a, _) = configs(&["aes128-sha1-modp2048"], ESP);
    let (_, b) = configs(&["aes256gcm16-prfsha384-ecp384"], ESP);
    let mut p = Pair::new(11, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    match p.b.failures()[..] {
        [FailureReason::NoProposalChosen {
            ours,
            theirs: Some(theirs),
        }] => {
            assert!(
                ours.contains("AES_GCM_16") && ours.contains("384"),
                "{ours}"
            );
            assert!(
                theirs.contains("AES_CBC") && theirs.contains("2048"),
                "{theirs}"
            );
        }
        ref other => panic!("B: {other:?}"),
    }
    match p.a.failures()[..] {
        [FailureReason::NoProposalChosen { ours, theirs: None }] => {
            assert!(ours.contains("AES_CBC") && ours.contains("2048"), "{ours}");
        }
        ref other => panic!("A: {other:?}"),
    }
    // A gave up at the first answer, without retransmitting.
    assert_eq!(p.a.sent.len(), 1);
    assert_eq!(notifies_sent(&p.b), vec![NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(p.a.established().is_empty() && p.b.established().is_empty());
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Idle);
    assert!(p.a.ep.status()[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("no IKE proposal"));
}

#[test]
fn esp_no_proposal_chosen_keeps_the_ike_sa() {
    let (a, _) = configs(&["aes256-sha256-ecp256"], &["aes128-sha1"]);
    let (_, b) = configs(&["aes256-sha256-ecp256"], &["aes256gcm16"]);
    let mut p = Pair::new(12, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_eq!(p.a.established().len(), 1);
    assert_eq!(p.b.established().len(), 1);
    assert!(p.a.children().is_empty() && p.b.children().is_empty());
    assert!(matches!(
        p.a.failures()[..],
        [FailureReason::ChildNoProposalChosen { theirs: None, .. }]
    ));
    match p.b.failures()[..] {
        [FailureReason::ChildNoProposalChosen {
            ours,
            theirs: Some(theirs),
        }] => {
            assert!(ours.contains("AES_GCM_16"), "{ours}");
            assert!(theirs.contains("HMAC_SHA1"), "{theirs}");
        }
        ref other => panic!("B: {other:?}"),
    }
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Established);
}

#[test]
fn wrong_psk_is_authentication_failed_on_both() {
    let (mut a, b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.psk = ikev2::crypto::Secret::new(b"not the same key".to_vec());
    let mut p = Pair::new(13, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert!(
        matches!(
            p.a.failures()[..],
            [FailureReason::AuthenticationFailed { .. }]
        ),
        "{:?}",
        p.a.failures()
    );
    assert!(
        matches!(
            p.b.failures()[..],
            [FailureReason::AuthenticationFailed { .. }]
        ),
        "{:?}",
        p.b.failures()
    );
    assert!(p.a.established().is_empty() && p.b.established().is_empty());
    assert!(
        notifies_sent(&p.b).is_empty(),
        "the AUTHENTICATION_FAILED notify is encrypted"
    );
    // Nothing lingers once the responder stopped replaying its answer.
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Idle);
    assert_eq!(p.b.ep.status()[0].phase, SaPhase::Idle);
    assert_eq!(p.a.ep.poll_timeout(), None);
    assert_eq!(p.b.ep.poll_timeout(), None);
}

#[test]
fn unexpected_responder_identity_fails_and_tells_the_responder() {
    let (mut a, b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.remote_id = Some(Identity::Fqdn("vpn.example.net".into()));
    let mut p = Pair::new(14, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert!(matches!(
        p.a.failures()[..],
        [FailureReason::AuthenticationFailed { .. }]
    ));
    assert!(p.a.established().is_empty());
    // B had authenticated A and set up the SA; A's INFORMATIONAL AUTHENTICATION_FAILED
    // tears it down again.
    assert!(matches!(
        p.b.failures()[..],
        [FailureReason::AuthenticationFailed { .. }]
    ));
    let deleted =
        p.b.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::IkeSaDeleted { .. }))
            .count();
    assert_eq!(deleted, 1);
    assert_eq!(p.b.ep.status()[0].phase, SaPhase::Idle);
}

#[test]
fn unknown_initiator_identity_is_refused() {
    let (a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    b.remote_id = Some(Identity::Fqdn("ec2.example.net".into()));
    let mut p = Pair::new(15, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert!(matches!(
        p.a.failures()[..],
        [FailureReason::AuthenticationFailed { .. }]
    ));
    assert!(matches!(
        p.b.failures()[..],
        [FailureReason::AuthenticationFailed { .. }]
    ));
}

#[test]
fn fqdn_and_key_id_identities() {
    let (mut a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.local_id = Identity::Fqdn("ec2.example.net".into());
    b.remote_id = Some(Identity::Fqdn("ec2.example.net".into()));
    b.local_id = Identity::KeyId(b"azure-gw".to_vec());
    a.remote_id = Some(Identity::KeyId(b"azure-gw".to_vec()));
    let mut p = Pair::new(16, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, false);
}

#[test]
fn initiator_only_peer_refuses_incoming() {
    let (a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    b.role = Role::Initiator;
    let mut p = Pair::new(17, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert!(matches!(
        p.a.failures()[..],
        [FailureReason::NoProposalChosen { .. }]
    ));
    assert_eq!(notifies_sent(&p.b), vec![NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(p.b.established().is_empty());
}

#[test]
fn ts_narrowed_to_responder_policy() {
    // A proposes its side as 10.0.0.0/16; B only allows 10.0.1.0/24 for A's side.
    let (mut a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.local_ts = vec![ts([10, 0, 0, 0], [10, 0, 255, 255])];
    b.remote_ts = vec![ts([10, 0, 1, 0], [10, 0, 1, 255])];
    let mut p = Pair::new(18, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let (ca, cb) = assert_mirrored(&p, false);
    assert_eq!(ca.local_ts, vec![ts([10, 0, 1, 0], [10, 0, 1, 255])]);
    assert_eq!(ca.remote_ts, vec![ts_any()]);
    assert_eq!(cb.remote_ts, vec![ts([10, 0, 1, 0], [10, 0, 1, 255])]);
}

#[test]
fn ts_policy_based_prefix_pairs() {
    let (mut a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.local_ts = vec![
        ts([10, 0, 0, 0], [10, 0, 0, 255]),
        ts([10, 0, 5, 0], [10, 0, 5, 255]),
    ];
    a.remote_ts = vec![ts([10, 1, 0, 0], [10, 1, 255, 255])];
    b.local_ts = vec![
        ts([10, 1, 0, 0], [10, 1, 0, 255]),
        ts([10, 1, 9, 0], [10, 1, 9, 255]),
    ];
    b.remote_ts = vec![ts([10, 0, 0, 0], [10, 0, 255, 255])];
    let mut p = Pair::new(19, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let (ca, _) = assert_mirrored(&p, false);
    assert_eq!(
        ca.local_ts,
        vec![
            ts([10, 0, 0, 0], [10, 0, 0, 255]),
            ts([10, 0, 5, 0], [10, 0, 5, 255])
        ]
    );
    assert_eq!(
        ca.remote_ts,
        vec![
            ts([10, 1, 0, 0], [10, 1, 0, 255]),
            ts([10, 1, 9, 0], [10, 1, 9, 255])
        ]
    );
}

#[test]
fn disjoint_ts_is_ts_unacceptable_and_keeps_the_ike_sa() {
    let (mut a, mut b) = configs(&["aes256-sha256-ecp256"], ESP);
    a.local_ts = vec![ts([10, 0, 0, 0], [10, 0, 255, 255])];
    b.remote_ts = vec![ts([192, 168, 0, 0], [192, 168, 0, 255])];
    let mut p = Pair::new(20, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert_eq!(p.a.failures(), vec![&FailureReason::TsUnacceptable]);
    assert_eq!(p.b.failures(), vec![&FailureReason::TsUnacceptable]);
    assert_eq!(p.a.established().len(), 1);
    assert_eq!(p.b.established().len(), 1);
    assert!(p.a.children().is_empty() && p.b.children().is_empty());
    assert_eq!(p.b.ep.status()[0].phase, SaPhase::Established);
    let _ = ExchangeType::IKE_AUTH;
}
