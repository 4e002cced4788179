//! ID_IPV6_ADDR identities end to end (RFC 7296 3.5), and the window of one outstanding
//! request (RFC 7296 2.3: our window size is 1, so a second request waits for the first's
//! response).

mod sim;

use ikev2::wire::{decode_header, ExchangeType};
use ikev2::{FailureReason, Identity};
use sim::*;
use std::net::Ipv6Addr;
use std::time::Duration;

const IKE: &[&str] = &["aes256-sha256-prfsha256-ecp256"];
const ESP: &[&str] = &["aes256gcm16"];

fn v6(s: &str) -> Identity {
    Identity::Ipv6(s.parse::<Ipv6Addr>().expect("IPv6 literal"))
}

#[test]
fn ipv6_address_identities_establish_both_ways() {
    for (seed, b_starts) in [(40u64, false), (41, true)] {
        let (mut a, mut b) = configs(IKE, ESP);
        a.local_id = v6("2001:db8:a::10");
        b.remote_id = Some(v6("2001:db8:a::10"));
        b.local_id = v6("2001:db8:b::20");
        a.remote_id = Some(v6("2001:db8:b::20"));
        let mut p = Pair::new(seed, NetConfig::default(), a, b);
        if b_starts {
            p.initiate_b();
        } else {
            p.initiate_a();
        }
        p.drive();
        assert_mirrored(&p, false);
    }
}

#[test]
fn ipv6_identity_mismatch_is_authentication_failed() {
    // B expects a different IPv6 identity than the one A claims: B must not pick a peer
    // configuration for it, so the IKE_AUTH fails on both ends.
    let (mut a, mut b) = configs(IKE, ESP);
    a.local_id = v6("2001:db8:a::10");
    b.remote_id = Some(v6("2001:db8:a::11"));
    b.local_id = v6("2001:db8:b::20");
    a.remote_id = Some(v6("2001:db8:b::20"));
    let mut p = Pair::new(42, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    assert!(p.a.established().is_empty() && p.b.established().is_empty());
    assert!(
        p.a.failures()
            .iter()
            .any(|f| matches!(f, FailureReason::AuthenticationFailed { .. })),
        "A: {:?}",
        p.a.failures()
    );
}

/// An established pair, and A's number of sent datagrams so far.
fn established(seed: u64) -> (Pair, ikev2::ChildSa, usize) {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(seed, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let (child, _) = assert_mirrored(&p, false);
    let before = p.a.sent.len();
    (p, child, before)
}

/// Right after two requests were started at once: only the first is on the wire. Then, once
/// everything ran: A's requests since `before` are `want` in order, and each one was sent
/// only after A received the response to the previous one (and B received it only after
/// answering the previous one).
fn assert_one_at_a_time(p: &mut Pair, before: usize, want: &[(ExchangeType, u32)]) {
    p.flush();
    let first: Vec<_> = p.a.sent[before..].to_vec();
    assert_eq!(first.len(), 1, "only one request goes out at once");
    let h1 = decode_header(&first[0].1.payload).expect("header");
    assert_eq!((h1.exchange, h1.message_id), want[0]);
    assert!(!h1.flags.response());

    p.drive_for(Duration::from_secs(60));
    let requests: Vec<_> = p.a.sent[before..]
        .iter()
        .map(|(at, t)| (*at, decode_header(&t.payload).expect("header")))
        .filter(|(_, h)| !h.flags.response())
        .collect();
    let kinds: Vec<_> = requests
        .iter()
        .map(|(_, h)| (h.exchange, h.message_id))
        .collect();
    assert_eq!(kinds, want, "{requests:?}");
    let response_at = |id: u32| {
        p.a.received
            .iter()
            .find(|(_, _, _, bytes)| {
                decode_header(bytes).is_ok_and(|h| h.flags.response() && h.message_id == id)
            })
            .map(|(at, _, _, _)| *at)
            .unwrap_or_else(|| panic!("A received the response to {id}"))
    };
    for pair in requests.windows(2) {
        let [(sent_at, first), (next_at, next)] = pair else {
            unreachable!()
        };
        let answered = response_at(first.message_id);
        assert!(answered > *sent_at, "the response came after the request");
        assert!(
            *next_at >= answered,
            "request {} sent at {next_at:?}, before the response to {} at {answered:?}",
            next.message_id,
            first.message_id
        );
        let b_answered =
            p.b.sent
                .iter()
                .find(|(_, t)| {
                    decode_header(&t.payload)
                        .is_ok_and(|h| h.flags.response() && h.message_id == first.message_id)
                })
                .map(|(at, _)| *at)
                .expect("B answered");
        let b_got_next =
            p.b.received
                .iter()
                .find(|(_, _, _, bytes)| {
                    decode_header(bytes)
                        .is_ok_and(|h| !h.flags.response() && h.message_id == next.message_id)
                })
                .map(|(at, _, _, _)| *at)
                .expect("B received the next request");
        assert!(b_got_next > b_answered);
    }
    assert!(p.a.failures().is_empty(), "{:?}", p.a.failures());
    assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
}

#[test]
fn second_request_is_queued_until_the_first_response() {
    // Liveness check and CHILD_SA delete at the same instant: the delete is queued.
    let (mut p, child, before) = established(43);
    let (now, peer) = (p.now, p.a.peer);
    assert!(p.a.ep.check_liveness(now, peer));
    assert!(p.a.ep.delete_child_sa(now, peer, child.inbound_spi));
    assert_one_at_a_time(
        &mut p,
        before,
        &[
            (ExchangeType::INFORMATIONAL, 2),
            (ExchangeType::INFORMATIONAL, 3),
        ],
    );
    assert!(p
        .b
        .events
        .iter()
        .any(|(_, e)| matches!(e, ikev2::Event::ChildSaDeleted { .. })));
}

#[test]
fn rekey_started_during_a_request_waits_for_its_response() {
    // Liveness check and CHILD_SA rekey at the same instant: the rekey (CREATE_CHILD_SA)
    // starts after the INFORMATIONAL's response, and its DELETE of the old SA after that.
    let (mut p, child, before) = established(44);
    let (now, peer) = (p.now, p.a.peer);
    assert!(p.a.ep.check_liveness(now, peer));
    assert!(p.a.ep.rekey_child_sa(now, peer, child.inbound_spi));
    assert_one_at_a_time(
        &mut p,
        before,
        &[
            (ExchangeType::INFORMATIONAL, 2),
            (ExchangeType::CREATE_CHILD_SA, 3),
            (ExchangeType::INFORMATIONAL, 4),
        ],
    );
    assert!(p
        .a
        .events
        .iter()
        .any(|(_, e)| matches!(e, ikev2::Event::ChildSaRekeyed { .. })));
}
