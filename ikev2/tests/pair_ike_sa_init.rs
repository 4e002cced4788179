//! IKE_SA_INIT details: COOKIE on the initiator (RFC 7296 2.6), unsupported critical payloads
//! (2.5), and the responder choosing among several peers at one address by IDi.

mod sim;

use ikev2::wire::{
    decode_message, encode_message, ExchangeType, Flags, Header, Message, Notify, NotifyType,
    Payload, PayloadType, ProtocolId,
};
use ikev2::{Event, Identity};
use sim::*;

const IKE: &[&str] = &["aes256-sha256-ecp256"];
const ESP: &[&str] = &["aes256gcm16"];

#[test]
fn initiator_retries_with_the_cookie_first() {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(50, NetConfig::default(), a, b);
    p.initiate_a();
    p.flush();
    p.flight.clear();
    let first = decode_message(&p.a.sent[0].1.payload).unwrap();
    let cookie = vec![0xc0; 20];
    let reply = Message {
        header: Header {
            spi_r: 0,
            flags: Flags(Flags::RESPONSE),
            ..first.header
        },
        payloads: vec![Payload::Notify(Notify {
            protocol: ProtocolId::NONE,
            spi: vec![],
            kind: NotifyType::COOKIE,
            data: cookie.clone(),
        })],
    };
    p.inject(
        sock(B_ADDR, 500),
        sock(A_PUBLIC, 500),
        encode_message(&reply),
    );
    p.drive();
    assert_mirrored(&p, false);
    let second = decode_message(&p.a.sent[1].1.payload).unwrap();
    assert_eq!(second.header.spi_i, first.header.spi_i);
    match &second.payloads[0] {
        Payload::Notify(n) => assert_eq!((n.kind, &n.data), (NotifyType::COOKIE, &cookie)),
        other => panic!("{other:?}"),
    }
    // Everything else unchanged (RFC 7296 2.6).
    assert_eq!(&second.payloads[1..], &first.payloads[..]);
}

#[test]
fn unsupported_critical_payload_and_tampered_ike_sa_init() {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(51, NetConfig::default(), a, b);
    p.initiate_a();
    p.flush();
    p.flight.clear();
    let mut req = decode_message(&p.a.sent[0].1.payload).unwrap();
    req.payloads.push(Payload::Unknown {
        kind: PayloadType(222),
        critical: true,
        body: vec![1, 2, 3],
    });
    p.a.down = true;
    p.inject(sock(A_PUBLIC, 500), sock(B_ADDR, 500), encode_message(&req));
    let far = p.now + std::time::Duration::from_secs(1);
    while p.step(far) {}
    let answer = decode_message(&p.b.sent[0].1.payload).unwrap();
    assert_eq!(answer.header.exchange, ExchangeType::IKE_SA_INIT);
    match &answer.payloads[..] {
        [Payload::Notify(n)] => {
            assert_eq!(n.kind, NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
            assert_eq!(n.data, vec![222]);
        }
        other => panic!("{other:?}"),
    }
    // A non-critical unknown payload is ignored: B answers normally. But the request was
    // not what A sent, and AUTH covers the whole IKE_SA_INIT (RFC 7296 2.15): both fail.
    if let Some(Payload::Unknown { critical, .. }) = req.payloads.last_mut() {
        *critical = false;
    }
    p.a.down = false;
    p.inject(sock(A_PUBLIC, 500), sock(B_ADDR, 500), encode_message(&req));
    p.drive();
    let answer = decode_message(&p.b.sent[1].1.payload).unwrap();
    assert!(answer.payloads.iter().any(|x| matches!(x, Payload::Sa(_))));
    assert!(matches!(
        p.a.failures()[..],
        [ikev2::FailureReason::AuthenticationFailed { .. }]
    ));
    assert!(matches!(
        p.b.failures()[..],
        [ikev2::FailureReason::AuthenticationFailed { .. }]
    ));
}

#[test]
fn responder_picks_the_peer_by_idi_among_peers_at_one_address() {
    let (mut a, b) = configs(IKE, ESP);
    a.local_id = Identity::Fqdn("site-two.example".into());
    a.psk = ikev2::crypto::Secret::new(b"second key".to_vec());
    let mut p = Pair::new(52, NetConfig::default(), a, b.clone());
    // B: a first peer at the same address with another identity and key, then the right one.
    let mut one = b.clone();
    one.name = "site-one".into();
    one.remote_id = Some(Identity::Fqdn("site-one.example".into()));
    let mut two = b;
    two.name = "site-two".into();
    two.remote_id = Some(Identity::Fqdn("site-two.example".into()));
    two.psk = ikev2::crypto::Secret::new(b"second key".to_vec());
    let mut ep = ikev2::Endpoint::new(Box::new(ikev2::crypto::SeededRandom::new(5252)));
    let _first = ep.add_peer(one);
    let second = ep.add_peer(two);
    p.b.ep = ep;
    p.b.peer = second;
    p.initiate_a();
    p.drive();
    assert_mirrored(&p, false);
    assert!(
        matches!(p.b.established()[0], Event::IkeSaEstablished { peer, .. } if *peer == second)
    );
    let status = p.b.ep.status();
    assert_eq!(status[0].phase, ikev2::SaPhase::Idle);
    assert_eq!(status[1].phase, ikev2::SaPhase::Established);
}

#[test]
fn half_open_state_is_bounded_and_expires() {
    let (a, b) = configs(&["aes128gcm16-prfsha256-curve25519"], ESP);
    let mut p = Pair::new(53, NetConfig::default(), a, b);
    p.initiate_a();
    p.flush();
    p.flight.clear();
    // A gives up at once (no retransmissions): only the spoofed requests reach B.
    let (now, peer) = (p.now, p.a.peer);
    p.a.ep.terminate(now, peer);
    p.a.down = true;
    let template = decode_message(&p.a.sent[0].1.payload).unwrap();
    let len = p.a.sent[0].1.payload.len();
    for i in 0..300u64 {
        let mut m = template.clone();
        m.header.spi_i = 0x1000 + i;
        p.inject(sock(A_PUBLIC, 500), sock(B_ADDR, 500), encode_message(&m));
    }
    let far = p.now + std::time::Duration::from_secs(1);
    while p.step(far) {}
    // RFC 7296 2.6: 3 half-open SAs from one address (cookie_threshold_ip), then stateless
    // cookies, each no larger than its request.
    assert_eq!(p.b.sent.len(), 300);
    let full = p.b.sent.iter().filter(|(_, t)| {
        decode_message(&t.payload)
            .unwrap()
            .payloads
            .iter()
            .any(|x| matches!(x, Payload::Sa(_)))
    });
    assert_eq!(full.count(), 3);
    assert!(p.b.sent[3..].iter().all(|(_, t)| t.payload.len() <= len));
    assert_eq!(p.b.ep.half_open_count(), 3);
    assert_eq!(p.b.ep.status()[0].phase, ikev2::SaPhase::Authenticating);
    // Without IKE_AUTH they expire after the half-open timeout (30 s); nothing is sent.
    p.drive();
    assert_eq!(p.b.sent.len(), 300);
    assert!(
        p.elapsed() <= std::time::Duration::from_secs(31),
        "{:?}",
        p.elapsed()
    );
    assert_eq!(p.b.ep.poll_timeout(), None);
    assert_eq!(p.b.ep.half_open_count(), 0);
    assert_eq!(p.b.ep.status()[0].phase, ikev2::SaPhase::Idle);
    assert!(p.b.events.is_empty());
}

#[test]
fn cookie_under_load_and_the_real_initiator_still_gets_in() {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(54, NetConfig::default(), a, b);
    // An off-path attacker sends IKE_SA_INITs with A's address (it never sees the answers):
    // B holds more half-open SAs from that address than its cookie threshold allows.
    let mut spoofer = ikev2::Endpoint::new(Box::new(ikev2::crypto::SeededRandom::new(99)));
    let (scfg, _) = configs(IKE, ESP);
    let speer = spoofer.add_peer(scfg);
    for _ in 0..6 {
        spoofer.terminate(p.now, speer);
        spoofer.initiate(p.now, speer, p.a_local()).unwrap();
        let t = spoofer.poll_transmit().unwrap();
        p.inject(sock(A_PUBLIC, 500), sock(B_ADDR, 500), t.payload);
    }
    let soon = p.now + std::time::Duration::from_millis(1);
    while p.step(soon) {}
    let answered = p.b.sent.len();
    assert_eq!(answered, 6);
    assert_eq!(p.b.ep.half_open_count(), 3);
    assert_eq!(p.b.ep.dos_stats().cookies_sent, 3);
    // The real A initiates: B answers N(COOKIE), A retries with it (RFC 7296 2.6) and gets in.
    p.initiate_a();
    p.drive_for(std::time::Duration::from_secs(5));
    assert_mirrored(&p, false);
    let cookie_reply = decode_message(&p.b.sent[answered].1.payload).unwrap();
    match &cookie_reply.payloads[..] {
        [Payload::Notify(n)] => assert_eq!(n.kind, NotifyType::COOKIE),
        other => panic!("{other:?}"),
    }
    let retry = decode_message(&p.a.sent[1].1.payload).unwrap();
    match &retry.payloads[0] {
        Payload::Notify(n) => assert_eq!(
            (n.kind, &n.data),
            (NotifyType::COOKIE, &{
                let [Payload::Notify(c)] = &cookie_reply.payloads[..] else {
                    unreachable!()
                };
                c.data.clone()
            })
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.b.ep.dos_stats().accepted_with_cookie, 1);
    // A's SA left the half-open count when it was established; the spoofed ones expire.
    assert_eq!(p.b.ep.half_open_count(), 3);
    p.drive_for(std::time::Duration::from_secs(31));
    assert_eq!(p.b.ep.half_open_count(), 0);
    assert_eq!(p.b.ep.status()[0].phase, ikev2::SaPhase::Established);
    assert!(p.b.failures().is_empty(), "{:?}", p.b.failures());
}
