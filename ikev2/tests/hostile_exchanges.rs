//! Hostile-input regression tests: one per class of bug seen in other IKEv2 daemons. A
//! scripted initiator ("Mallory", ikev2/fuzz/common/mallory.rs) that holds the IKE SA keys
//! sends well-protected but hostile messages to a real responder `Endpoint`. Each test checks:
//! no panic, the RFC's answer or a silent drop, no change to established state
//! (`Endpoint::status()` before and after), and that the SA still works afterwards (liveness
//! both ways).

#[path = "../fuzz/common/mallory.rs"]
mod mallory;

use ikev2::crypto::KeyExchange;
use ikev2::wire::{
    Attribute, AttributeType, Delete, DhGroup, ExchangeType, Flags, KePayload, NotifyType, Payload,
    PayloadType, ProtocolId, SaPayload, TransformType,
};
use ikev2::{Event, PeerStatus, SaPhase, Transmit};
use mallory::*;
use std::time::Duration;

const REQ: u8 = Flags::INITIATOR;

/// A responder with an SA established by Mallory.
fn established(seed: u64) -> (Responder, Mallory) {
    let mut r = Responder::new(seed, IKE);
    let mut m = Mallory::new(seed + 1000, IKE);
    assert!(m.establish(&mut r), "{:?}", r.events);
    r.events.clear();
    (r, m)
}

/// Error notifications in the responder's (opened) answers.
fn answer_notifies(m: &Mallory, replies: &[Transmit]) -> Vec<NotifyType> {
    replies
        .iter()
        .filter_map(|t| m.open(&t.payload))
        .flat_map(|(_, p)| p)
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.kind),
            _ => None,
        })
        .collect()
}

/// After a hostile request with the message ID Mallory just used: if it was dropped, the
/// responder did not consume the ID, so Mallory reuses it (as a retransmitting initiator).
fn settle_id(m: &mut Mallory, replies: &[Transmit]) {
    if replies.is_empty() {
        m.next_id -= 1;
    }
}

/// The status without `last_error` (a diagnostic that unauthenticated IKE_SA_INIT failures from
/// the peer's address may set by design: operators see proposal mismatches there).
fn state(r: &Responder) -> PeerStatus {
    PeerStatus {
        last_error: None,
        ..r.status()
    }
}

/// Nothing established changed, and the SA still works both ways.
fn assert_unchanged_and_alive(r: &mut Responder, m: &mut Mallory, before: &PeerStatus) {
    assert_eq!(&state(r), before, "established state changed");
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, Event::IkeSaDeleted { .. } | Event::ChildSaDeleted { .. })),
        "events: {:?}",
        r.events
    );
    assert!(m.liveness(r), "the SA stopped working");
}

/// The ESP proposal Mallory offers, SPI set.
fn esp_sa(spi: u32) -> Payload {
    Payload::Sa(SaPayload {
        proposals: vec![ikev2::proposal::parse_esp(ESP)
            .unwrap()
            .to_wire(1, spi, false)],
    })
}

fn nonce() -> Payload {
    Payload::Nonce(vec![0x4e; 32])
}

#[test]
fn harness_establishes_and_stays_alive() {
    for ike in [IKE, IKE_CBC] {
        let mut r = Responder::new(1, ike);
        let mut m = Mallory::new(2, ike);
        assert!(m.establish(&mut r), "{ike}: {:?}", r.events);
        assert_eq!(r.status().phase, ikev2::SaPhase::Established);
        assert!(m.liveness(&mut r), "{ike}");
        assert!(m.liveness(&mut r), "{ike}");
    }
}

#[test]
fn informational_before_ike_auth_is_ignored() {
    let mut r = Responder::new(3, IKE);
    let mut m = Mallory::new(4, IKE);
    assert!(m.ike_sa_init(&mut r));
    let before = state(&r);
    for payloads in [
        vec![Payload::Delete(Delete {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: vec![],
        })],
        vec![],
        vec![Payload::Delete(Delete {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: vec![vec![0, 0, 0, 1]],
        })],
    ] {
        let info = m.seal(ExchangeType::INFORMATIONAL, REQ, 1, &payloads);
        let out = r.deliver(&info);
        assert!(out.is_empty(), "answered an INFORMATIONAL before IKE_AUTH");
        assert_eq!(state(&r), before);
    }
    // IKE_AUTH with message ID 1 still completes.
    assert!(m.establish_auth_only(&mut r), "{:?}", r.events);
    assert!(m.liveness(&mut r));
}

/// Hand-built TS payload bodies that are malformed in different ways.
fn bad_ts_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let v4 = |len: u16, ty: u8| {
        let mut b = vec![ty, 0];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255]);
        b
    };
    let with_count = |n: u8, sels: &[Vec<u8>]| {
        let mut b = vec![n, 0, 0, 0];
        for s in sels {
            b.extend_from_slice(s);
        }
        b
    };
    let mut backwards = v4(16, 7);
    backwards[8..12].copy_from_slice(&[10, 0, 0, 255]);
    backwards[12..16].copy_from_slice(&[10, 0, 0, 0]);
    vec![
        ("zero selectors", with_count(0, &[])),
        ("count larger than present", with_count(3, &[v4(16, 7)])),
        ("selector length 0", with_count(1, &[v4(0, 7)])),
        ("selector length 8", with_count(1, &[v4(8, 7)])),
        ("IPv4 type with IPv6 length", with_count(1, &[v4(40, 7)])),
        ("IPv6 type with IPv4 length", with_count(1, &[v4(16, 8)])),
        ("unknown type", with_count(1, &[v4(16, 13)])),
        ("start after end", with_count(1, &[backwards])),
        ("truncated header", vec![1, 0]),
        ("empty", vec![]),
        ("trailing bytes", {
            let mut b = with_count(1, &[v4(16, 7)]);
            b.extend_from_slice(&[1, 2, 3]);
            b
        }),
    ]
}

#[test]
fn malformed_traffic_selectors_in_create_child_sa() {
    let (mut r, mut m) = established(5);
    let before = state(&r);
    for (what, ts) in bad_ts_bodies() {
        let (sa_t, sa) = body_of(&esp_sa(0x0bad_0001));
        let (n_t, n) = body_of(&nonce());
        let (tsr_t, tsr) = body_of(&Payload::TsR(vec![ts_any()]));
        let (_, plain) = raw_chain(&[
            (sa_t, false, sa),
            (n_t, false, n),
            (44, false, ts),
            (tsr_t, false, tsr),
        ]);
        let id = m.next_id;
        m.next_id += 1;
        let req = m.seal_raw(
            ExchangeType::CREATE_CHILD_SA,
            REQ,
            id,
            PayloadType::SA,
            &plain,
        );
        let out = r.deliver(&req);
        let notes = answer_notifies(&m, &out);
        assert!(
            out.is_empty() || notes.iter().any(|n| n.is_error()),
            "{what}: accepted? {notes:?}"
        );
        settle_id(&mut m, &out);
        assert_eq!(state(&r), before, "{what}");
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

#[test]
fn malformed_traffic_selectors_in_ike_auth() {
    for (i, (what, ts)) in bad_ts_bodies().into_iter().enumerate() {
        let mut r = Responder::new(50 + i as u64, IKE);
        let mut m = Mallory::new(60 + i as u64, IKE);
        assert!(m.ike_sa_init(&mut r));
        let mut raw: Vec<RawPayload> = m
            .auth_payloads(PSK)
            .iter()
            .map(|p| {
                let (t, b) = body_of(p);
                (t, false, b)
            })
            .collect();
        raw[3] = (44, false, ts);
        let (first, plain) = raw_chain(&raw);
        let req = m.seal_raw(ExchangeType::IKE_AUTH, REQ, 1, first, &plain);
        let out = r.deliver(&req);
        // Either dropped / refused, or the IKE SA is up without a CHILD_SA from garbage.
        for c in r.status().children {
            assert!(!c.remote_ts.is_empty(), "{what}: child with no selectors");
        }
        let _ = out;
        // A correct initiator can still get in afterwards.
        let mut good = Responder::new(70 + i as u64, IKE);
        let mut m2 = Mallory::new(80 + i as u64, IKE);
        assert!(m2.establish(&mut good), "{what}");
    }
}

#[test]
fn rekey_sa_notify_with_protocol_0_or_1() {
    let (mut r, mut m) = established(7);
    let before = state(&r);
    let old_in: Vec<u32> = before.children.iter().map(|c| c.inbound_spi).collect();
    assert_eq!(old_in.len(), 1);
    for proto in [0u8, 1] {
        for spi in [vec![], old_in[0].to_be_bytes().to_vec(), vec![1; 8]] {
            let notify = Payload::Notify(ikev2::wire::Notify {
                protocol: ProtocolId(proto),
                spi: spi.clone(),
                kind: NotifyType::REKEY_SA,
                data: vec![],
            });
            let req = m.request(
                ExchangeType::CREATE_CHILD_SA,
                &[
                    notify,
                    esp_sa(0x0bad_0100 + u32::from(proto)),
                    nonce(),
                    Payload::TsI(vec![ts_any()]),
                    Payload::TsR(vec![ts_any()]),
                ],
            );
            let out = r.deliver(&req);
            settle_id(&mut m, &out);
            // The existing CHILD_SA is neither deleted nor replaced.
            let now_in: Vec<u32> = r.status().children.iter().map(|c| c.inbound_spi).collect();
            for s in &old_in {
                assert!(now_in.contains(s), "proto {proto} spi {spi:?}: child gone");
            }
            assert!(
                !r.events
                    .iter()
                    .any(|e| matches!(e, Event::ChildSaDeleted { .. })),
                "proto {proto}: {:?}",
                r.events
            );
        }
    }
    assert_eq!(r.status().phase, SaPhase::Established);
    assert!(m.liveness(&mut r));
}

#[test]
fn duplicate_delete_deletes_once() {
    let (mut r, mut m) = established(9);
    let spi = m.esp_spi.to_be_bytes().to_vec();
    let del = Payload::Delete(Delete {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: vec![spi.clone(), spi.clone()],
    });
    // Twice in one message, then the same DELETE again in a new request.
    for _ in 0..2 {
        let req = m.request(ExchangeType::INFORMATIONAL, &[del.clone(), del.clone()]);
        let out = r.deliver(&req);
        assert_eq!(out.len(), 1, "an INFORMATIONAL request is always answered");
    }
    let deleted = r
        .events
        .iter()
        .filter(|e| matches!(e, Event::ChildSaDeleted { .. }))
        .count();
    assert_eq!(deleted, 1, "{:?}", r.events);
    assert!(r.status().children.is_empty());
    // Unknown SPIs: no change at all.
    let before = state(&r);
    let req = m.request(
        ExchangeType::INFORMATIONAL,
        &[Payload::Delete(Delete {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: vec![vec![9, 9, 9, 9]],
        })],
    );
    assert_eq!(r.deliver(&req).len(), 1);
    assert_eq!(state(&r), before);
    assert_eq!(r.status().phase, SaPhase::Established);
    assert!(m.liveness(&mut r));
}

/// (group, public value length) for every group we implement.
const GROUPS: &[(DhGroup, &str, usize)] = &[
    (DhGroup::MODP1024, "aes128-sha256-modp1024", 128),
    (DhGroup::MODP2048, "aes128-sha256-modp2048", 256),
    (DhGroup::MODP2048_256, "aes128-sha256-modp2048s256", 256),
    (DhGroup::ECP256, "aes128-sha256-ecp256", 64),
    (DhGroup::ECP384, "aes128-sha256-ecp384", 96),
    (DhGroup::CURVE25519, "aes128-sha256-curve25519", 32),
];

#[test]
fn bad_ke_lengths_for_every_group() {
    let mut ike: Vec<&str> = vec![IKE];
    ike.extend(GROUPS.iter().map(|g| g.1));
    let mut r = Responder::with_ike(13, &ike);
    let mut m = Mallory::new(14, IKE);
    assert!(m.establish(&mut r));
    r.events.clear();
    let before = state(&r);
    let mut attempt = 0u64;
    for &(group, prop, len) in GROUPS {
        for bad in [0, 1, len - 1, len + 1, 2 * len, 3000] {
            attempt += 1;
            let mut a = Mallory::new(1000 + attempt, IKE);
            let payloads = vec![
                Payload::Sa(SaPayload {
                    proposals: vec![ikev2::proposal::parse_ike(prop).unwrap().to_wire(1)],
                }),
                Payload::Ke(KePayload {
                    group,
                    data: vec![0x5a; bad],
                }),
                Payload::Nonce(a.ni.clone()),
            ];
            let req = a.init_request_with(payloads);
            let out = r.deliver(&req);
            for t in &out {
                let msg = ikev2::wire::decode_message(&t.payload).expect("our reply decodes");
                assert!(
                    !msg.payloads.iter().any(|p| matches!(p, Payload::Ke(_))),
                    "{group:?} with a {bad}-byte KE was accepted"
                );
                assert!(t.payload.len() <= req.len(), "reply larger than request");
            }
            let _ = &mut a;
        }
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

fn with_key_length(mut p: ikev2::wire::Proposal, bits: Option<u16>) -> ikev2::wire::Proposal {
    for t in &mut p.transforms {
        if t.kind == TransformType::ENCR {
            t.attributes = bits
                .map(|b| {
                    vec![Attribute::Tv {
                        ty: AttributeType::KEY_LENGTH.0,
                        value: b,
                    }]
                })
                .unwrap_or_default();
        }
    }
    p
}

const BAD_BITS: &[Option<u16>] = &[None, Some(0), Some(1), Some(64), Some(257), Some(65535)];

#[test]
fn zero_or_absurd_key_lengths_in_ike_sa_init() {
    let mut r = Responder::with_ike(15, &[IKE, IKE_CBC]);
    let mut m = Mallory::new(16, IKE);
    assert!(m.establish(&mut r));
    r.events.clear();
    let before = state(&r);
    for (i, bits) in BAD_BITS.iter().enumerate() {
        for prop in [IKE, IKE_CBC] {
            let a = Mallory::new(2000 + i as u64, IKE);
            let p = with_key_length(ikev2::proposal::parse_ike(prop).unwrap().to_wire(1), *bits);
            let kx = KeyExchange::generate(
                if prop == IKE {
                    DhGroup::CURVE25519
                } else {
                    DhGroup::ECP256
                },
                &mut ikev2::crypto::SeededRandom::new(i as u64),
            )
            .unwrap();
            let req = a.init_request_with(vec![
                Payload::Sa(SaPayload { proposals: vec![p] }),
                Payload::Ke(KePayload {
                    group: kx.group(),
                    data: kx.public_value().to_vec(),
                }),
                Payload::Nonce(a.ni.clone()),
            ]);
            for t in r.deliver(&req) {
                let msg = ikev2::wire::decode_message(&t.payload).unwrap();
                assert!(
                    !msg.payloads.iter().any(|p| matches!(p, Payload::Sa(_))),
                    "{prop} with key length {bits:?} was accepted"
                );
            }
        }
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

#[test]
fn zero_or_absurd_key_lengths_in_create_child_sa() {
    let (mut r, mut m) = established(17);
    let before = state(&r);
    for bits in BAD_BITS {
        let p = with_key_length(
            ikev2::proposal::parse_esp("aes256-sha256")
                .unwrap()
                .to_wire(1, 0x0bad_0200, false),
            *bits,
        );
        let req = m.request(
            ExchangeType::CREATE_CHILD_SA,
            &[
                Payload::Sa(SaPayload { proposals: vec![p] }),
                nonce(),
                Payload::TsI(vec![ts_any()]),
                Payload::TsR(vec![ts_any()]),
            ],
        );
        let out = r.deliver(&req);
        let notes = answer_notifies(&m, &out);
        assert!(
            out.is_empty() || notes.iter().any(|n| n.is_error()),
            "key length {bits:?}: {notes:?}"
        );
        settle_id(&mut m, &out);
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

#[test]
fn payload_length_past_the_message() {
    let (mut r, mut m) = established(19);
    let before = state(&r);
    // Plaintext: an IKE_SA_INIT whose last payload claims 100 more bytes than there are, and
    // one whose header length exceeds the datagram.
    let a = Mallory::new(3000, IKE);
    let good = a.init_request_with(a.init_payloads());
    let mut past = good.clone();
    let last = find_last_payload(&past);
    let l = u16::from_be_bytes([past[last + 2], past[last + 3]]) + 100;
    past[last + 2..last + 4].copy_from_slice(&l.to_be_bytes());
    assert!(r.deliver(&past).is_empty());
    let mut long = good.clone();
    let n = (long.len() as u32 + 64).to_be_bytes();
    long[24..28].copy_from_slice(&n);
    assert!(r.deliver(&long).is_empty());
    // Inside SK: an inner payload whose length points past the decrypted chain.
    for extra in [1u16, 4, 1000, 0xffff - 40] {
        let (first, mut plain) = raw_chain(&[
            (41, false, vec![0, 0, 0x40, 0x00]),
            (40, false, vec![1; 16]),
        ]);
        let l = u16::from_be_bytes([plain[2], plain[3]]).saturating_add(extra);
        plain[2..4].copy_from_slice(&l.to_be_bytes());
        let id = m.next_id;
        m.next_id += 1;
        let req = m.seal_raw(ExchangeType::INFORMATIONAL, REQ, id, first, &plain);
        let out = r.deliver(&req);
        let notes = answer_notifies(&m, &out);
        assert!(
            out.is_empty() || notes.contains(&NotifyType::INVALID_SYNTAX),
            "{notes:?}"
        );
        settle_id(&mut m, &out);
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

/// Offset of the last payload's generic header in a plaintext message.
fn find_last_payload(msg: &[u8]) -> usize {
    let mut at = 28;
    let mut next = msg[16];
    loop {
        let len = usize::from(u16::from_be_bytes([msg[at + 2], msg[at + 3]]));
        let n = msg[at];
        if n == 0 || at + len >= msg.len() {
            assert_ne!(next, 0);
            return at;
        }
        next = n;
        at += len;
    }
}

#[test]
fn nested_or_repeated_sk_payloads() {
    let (mut r, mut m) = established(21);
    let before = state(&r);
    // SK inside SK, as the first and as a later inner payload.
    for chain in [
        vec![(46u8, false, vec![0x41; 48])],
        vec![
            (41u8, false, vec![0, 0, 0x40, 0x00]),
            (46, false, vec![0x41; 48]),
        ],
        vec![(53u8, false, vec![0, 1, 0, 1, 0x41, 0x41])],
    ] {
        let (first, plain) = raw_chain(&chain);
        let id = m.next_id;
        m.next_id += 1;
        let req = m.seal_raw(ExchangeType::INFORMATIONAL, REQ, id, first, &plain);
        let out = r.deliver(&req);
        let notes = answer_notifies(&m, &out);
        assert!(
            out.is_empty() || notes.contains(&NotifyType::INVALID_SYNTAX),
            "{notes:?}"
        );
        settle_id(&mut m, &out);
    }
    // Two SK payloads in one message: a sealed one followed by a copy of its SK payload.
    let id = m.next_id;
    let sealed = m.seal(ExchangeType::INFORMATIONAL, REQ, id, &[]);
    let sk = sealed[28..].to_vec();
    let mut twice = sealed[..28].to_vec();
    let mut first_sk = sk.clone();
    first_sk[0] = 46; // next payload: another SK
    twice.extend_from_slice(&first_sk);
    twice.extend_from_slice(&sk);
    let n = (twice.len() as u32).to_be_bytes();
    twice[24..28].copy_from_slice(&n);
    assert!(r.deliver(&twice).is_empty(), "two SK payloads accepted");
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

#[test]
fn wrong_psk_ike_auth_at_high_rate() {
    let (mut r, mut m) = established(23);
    let before = state(&r);
    let (mut requests, mut replies, mut auth_failed) = (0usize, 0usize, 0usize);
    for i in 0..1500u64 {
        let mut a = Mallory::new(10_000 + i, IKE);
        requests += 1;
        let init = a.init_request_with(a.init_payloads());
        a.init_request = init.clone();
        let out = r.deliver(&init);
        replies += out.len();
        let Some(resp) = out.first() else {
            continue;
        };
        if !a.accept_init_response(&resp.payload) {
            continue;
        }
        let p = a.auth_payloads("not-the-psk");
        let req = a.request(ExchangeType::IKE_AUTH, &p);
        requests += 1;
        let out = r.deliver(&req);
        replies += out.len();
        if answer_notifies(&a, &out).contains(&NotifyType::AUTHENTICATION_FAILED) {
            auth_failed += 1;
        }
        r.now += Duration::from_millis(1);
    }
    eprintln!("{requests} requests, {replies} replies, {auth_failed} AUTHENTICATION_FAILED");
    assert!(replies <= requests);
    // The established SA is untouched; failed attempts leave nothing behind for long.
    assert_eq!(r.status().phase, SaPhase::Established);
    assert_eq!(r.status().spi_r, before.spi_r);
    assert_eq!(r.status().children, before.children);
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, Event::IkeSaDeleted { .. } | Event::ChildSaDeleted { .. })),
        "{:?}",
        r.events.iter().take(5).collect::<Vec<_>>()
    );
    // Every half-open SA left the defences' count when its IKE_AUTH failed.
    assert_eq!(r.ep.half_open_count(), 0);
    assert!(r.ep.dos_stats().accepted >= 10);
    r.events.clear();
    let _ = r.advance(Duration::from_secs(1));
    assert!(m.liveness(&mut r));
}

#[test]
fn skf_with_unknown_outer_payloads() {
    let (mut r, mut m) = established(25);
    let before = state(&r);
    let skf = |frag: u16, total: u16| {
        let mut b = frag.to_be_bytes().to_vec();
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(&[0x33; 64]);
        b
    };
    for (i, outer) in [
        vec![(200u8, false, vec![1, 2, 3]), (53, false, skf(1, 2))],
        vec![(200u8, true, vec![]), (53, false, skf(1, 1))],
        vec![
            (41u8, false, vec![0, 0, 0x40, 0x00]),
            (53, false, skf(2, 2)),
        ],
        vec![(53u8, false, skf(1, 2)), (200, false, vec![0; 8])],
        vec![(53u8, false, skf(0, 0))],
        vec![(53u8, false, skf(3, 2))],
        vec![(53u8, false, vec![0, 1])],
    ]
    .into_iter()
    .enumerate()
    {
        let h = header(
            m.spi_i,
            m.spi_r,
            ExchangeType::INFORMATIONAL,
            REQ,
            m.next_id,
        );
        let msg = raw_message(h, &outer);
        let out = r.deliver(&msg);
        assert!(out.is_empty(), "case {i}: answered a bogus SKF");
        assert_eq!(state(&r), before, "case {i}");
    }
    assert_unchanged_and_alive(&mut r, &mut m, &before);
}

#[test]
fn unauthenticated_init_failures_do_not_alert_an_established_peer() {
    let (mut r, mut m) = established(27);
    let before = r.status();
    for i in 0..10u64 {
        let a = Mallory::new(4000 + i, IKE);
        let p = with_key_length(ikev2::proposal::parse_ike(IKE).unwrap().to_wire(1), Some(1));
        let mut payloads = a.init_payloads();
        payloads[0] = Payload::Sa(SaPayload { proposals: vec![p] });
        let _ = r.deliver(&a.init_request_with(payloads));
    }
    assert!(
        !r.events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "{:?}",
        r.events.first()
    );
    assert_eq!(r.status().last_error, before.last_error);
    assert!(m.liveness(&mut r));
}

#[test]
fn spoofed_init_flood_from_the_peers_address_does_not_lock_the_peer_out() {
    let mut r = Responder::new(29, IKE);
    // 1000 spoofed IKE_SA_INITs with the peer's address, as an off-path attacker sends them
    // (it never sees the answers, so it never continues).
    for i in 0..1000u64 {
        let a = Mallory::new(20_000 + i, IKE);
        let _ = r.deliver(&a.init_request_with(a.init_payloads()));
        r.now += Duration::from_millis(1);
    }
    // Bounded state: the spoofer got 3 half-open SAs (cookie_threshold_ip), then cookies.
    assert_eq!(r.ep.half_open_count(), 3);
    // The real peer (it sees our answers, so it can return a cookie) still gets in.
    let mut m = Mallory::new(30, IKE);
    assert!(
        m.establish(&mut r),
        "the peer is locked out: {:?}",
        r.events.last()
    );
    assert!(m.liveness(&mut r));
}

/// 300 spoofed IKE_SA_INITs with the peer's address (an off-path attacker never continues).
fn spoof_inits_from_peer(r: &mut Responder, n: u64) {
    for i in 0..n {
        let a = Mallory::new(40_000 + i, IKE);
        let _ = r.deliver(&a.init_request_with(a.init_payloads()));
    }
}

#[test]
fn spoofed_half_open_sas_expire_within_30_s() {
    let mut r = Responder::new(31, IKE);
    spoof_inits_from_peer(&mut r, 300);
    // Cookies (RFC 7296 2.6) keep the spoofed state small: 3 per source (cookie_threshold_ip).
    assert_eq!(r.ep.half_open_count(), 3);
    assert!(r.ep.dos_stats().cookies_sent >= 290);
    assert_eq!(r.sent.iter().filter(|t| t.payload.len() > 69).count(), 3);
    let _ = r.advance(Duration::from_secs(29));
    assert_eq!(r.ep.half_open_count(), 3);
    let _ = r.advance(Duration::from_secs(2));
    assert_eq!(r.ep.half_open_count(), 0, "half-open SAs outlive 30 s");
    assert_eq!(r.status().phase, SaPhase::Idle);
    // Expiry of unauthenticated state sent nothing and emitted nothing.
    assert!(r.events.is_empty(), "{:?}", r.events);
    // The peer gets in directly again, without a cookie round trip.
    let mut m = Mallory::new(32, IKE);
    let replies = r.deliver(&m.init_request_with(m.init_payloads()));
    let first = ikev2::wire::decode_message(&replies[0].payload).unwrap();
    assert!(first.payloads.iter().any(|p| matches!(p, Payload::Sa(_))));
    assert!(
        m.establish(&mut r),
        "the peer is still locked out 31 s after the flood"
    );
}

#[test]
fn init_failure_from_the_peer_is_reported_once_per_attempt_while_not_established() {
    let mut r = Responder::new(35, IKE);
    let bad = |seed| {
        let a = Mallory::new(seed, IKE);
        let p = with_key_length(ikev2::proposal::parse_ike(IKE).unwrap().to_wire(1), Some(1));
        let mut payloads = a.init_payloads();
        payloads[0] = Payload::Sa(SaPayload { proposals: vec![p] });
        a.init_request_with(payloads)
    };
    // One attempt, retransmitted (its NO_PROPOSAL_CHOSEN was lost): reported once.
    let req = bad(5000);
    for _ in 0..3 {
        let out = r.deliver(&req);
        assert_eq!(out.len(), 1);
        assert!(out[0].payload.len() <= req.len());
    }
    assert_eq!(r.failures(), 1, "{:?}", r.events);
    assert!(r.status().last_error.unwrap().contains("no IKE proposal"));
    // A new attempt a few seconds later is reported again.
    r.now += Duration::from_secs(5);
    let _ = r.deliver(&bad(5001));
    assert_eq!(r.failures(), 2, "{:?}", r.events);
    // A burst of (spoofable) attempts right after that: at most one report per second.
    for i in 0..20 {
        let _ = r.deliver(&bad(5100 + i));
    }
    assert_eq!(r.failures(), 2, "{:?}", r.events);
    assert!(r.ep.dos_stats().unreported_failures >= 2);
}

#[test]
fn spoofed_half_open_sas_do_not_block_our_own_initiate() {
    let mut r = Responder::with_ike_role(33, &[IKE], ikev2::Role::Both);
    spoof_inits_from_peer(&mut r, 10);
    let (now, peer) = (r.now, r.peer);
    let local = std::net::SocketAddr::new(std::net::IpAddr::V4(R_ADDR), 500);
    assert_eq!(r.ep.initiate(now, peer, local), Ok(()));
}
