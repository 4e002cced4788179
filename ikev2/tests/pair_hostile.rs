//! Hostile input: `Endpoint::handle` on arbitrary bytes and on mutated real IKE_SA_INIT /
//! IKE_AUTH messages never panics, and unauthenticated mutations never change IKE_AUTH state.

mod sim;

use proptest::prelude::*;
use proptest::sample::Index;
use sim::*;
use std::net::SocketAddr;
use std::time::Duration;

const IKE: &[&str] = &["aes256-sha256-ecp256", "aes128gcm16-prfsha256-curve25519"];
const ESP: &[&str] = &["aes256gcm16", "aes128-sha1"];
const SEED: u64 = 77;

fn fresh(nat: bool) -> Pair {
    let (a, b) = configs(IKE, ESP);
    let net = NetConfig {
        nat: nat.then(Nat::ec2),
        ..NetConfig::default()
    };
    Pair::new(SEED, net, a, b)
}

/// Step until `cond` holds (bounded).
fn step_until(p: &mut Pair, cond: impl Fn(&Pair) -> bool) {
    let far = p.now + Duration::from_secs(1);
    while !cond(p) {
        assert!(p.step(far), "did not get there");
    }
}

/// Apply XORs at positions and an optional truncation.
fn mutate(orig: &[u8], flips: &[(Index, u8)], cut: Option<Index>) -> Vec<u8> {
    let mut m = orig.to_vec();
    for (i, x) in flips {
        let at = i.index(m.len());
        m[at] ^= x;
    }
    if let Some(c) = cut {
        m.truncate(c.index(m.len() + 1));
    }
    m
}

fn header_bytes(
    spi_i: u64,
    spi_r: u64,
    next: u8,
    exchange: u8,
    flags: u8,
    id: u32,
    body: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + body.len());
    v.extend_from_slice(&spi_i.to_be_bytes());
    v.extend_from_slice(&spi_r.to_be_bytes());
    v.extend_from_slice(&[next, 0x20, exchange, flags]);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&u32::try_from(28 + body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn flips() -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec((any::<Index>(), 1..=255u8), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..1200), port in prop::sample::select(vec![500u16, 4500])) {
        let mut p = fresh(false);
        let (local, remote) = (SocketAddr::new(p.b.ip, port), sock(A_PUBLIC, port));
        p.b.ep.handle(p.now, local, remote, &data);
        p.drive();
        prop_assert!(p.b.events.is_empty());
        prop_assert!(p.b.sent.is_empty());
    }

    #[test]
    fn plausible_headers_with_arbitrary_payloads_never_panic(
        spi_i in any::<u64>(), spi_r in prop::sample::select(vec![0u64, 1, u64::MAX]),
        next in prop::sample::select(vec![0u8, 33, 34, 40, 41, 46, 53, 200]),
        exchange in prop::sample::select(vec![34u8, 35, 36, 37, 99]),
        flags in prop::sample::select(vec![0x08u8, 0x20, 0x28, 0x00, 0xff]),
        id in prop::sample::select(vec![0u32, 1, 2, u32::MAX]),
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut p = fresh(false);
        let msg = header_bytes(spi_i, spi_r, next, exchange, flags, id, &body);
        let (local, remote) = (p.b_local(), sock(A_PUBLIC, 500));
        p.b.ep.handle(p.now, local, remote, &msg);
        p.drive();
        // Nothing can be established from one message, and answers are never larger than
        // a single small notify (no amplification).
        let only_failures = p.b.events.iter().all(|(_, e)| matches!(e, ikev2::Event::Failed { .. }));
        prop_assert!(only_failures);
        prop_assert!(p.b.sent.len() <= 1);
        for (_, t) in &p.b.sent {
            prop_assert!(t.payload.len() <= 40 || t.payload.len() <= msg.len());
        }
    }

    #[test]
    fn mutated_ike_sa_init_request_never_panics(f in flips(), cut in proptest::option::of(any::<Index>())) {
        let mut p = fresh(false);
        p.initiate_a();
        p.flush();
        let orig = p.a.sent[0].1.payload.clone();
        p.flight.clear();
        let m = mutate(&orig, &f, cut);
        p.inject(sock(A_PUBLIC, 500), sock(B_ADDR, 500), m);
        p.drive();
        // A's retransmission of the genuine request may still set the SA up; never twice.
        prop_assert!(p.b.established().len() <= 1);
    }

    #[test]
    fn mutated_ike_sa_init_response_never_panics(f in flips(), cut in proptest::option::of(any::<Index>()), nat in any::<bool>()) {
        let mut p = fresh(nat);
        p.initiate_a();
        step_until(&mut p, |p| !p.b.sent.is_empty());
        let orig = p.b.sent[0].1.payload.clone();
        p.flight.clear();
        let m = mutate(&orig, &f, cut);
        p.inject(sock(B_ADDR, 500), sock(A_PUBLIC, 500), m);
        p.drive();
    }

    #[test]
    fn mutated_ike_auth_request_changes_nothing(f in flips(), cut in proptest::option::of(any::<Index>()), nat in any::<bool>()) {
        let mut p = fresh(nat);
        p.initiate_a();
        step_until(&mut p, |p| p.a.sent.len() >= 2);
        p.flush();
        let real = p.flight.clone();
        let orig = p.a.sent[1].1.payload.clone();
        let m = mutate(&orig, &f, cut);
        prop_assume!(m != orig);
        let (src, dst) = (real[0].src, real[0].dst);
        p.flight.clear();
        p.inject(src, dst, m);
        let b_sent = p.b.sent.len();
        let far = p.now + Duration::from_millis(1);
        while p.step(far) {}
        prop_assert_eq!(p.b.sent.len(), b_sent, "answered a tampered IKE_AUTH");
        prop_assert!(p.b.events.is_empty());
        // The genuine request still completes the exchange.
        p.flight = real;
        p.drive();
        assert_mirrored(&p, nat);
    }

    #[test]
    fn mutated_ike_auth_response_changes_nothing(f in flips(), cut in proptest::option::of(any::<Index>()), nat in any::<bool>()) {
        let mut p = fresh(nat);
        p.initiate_a();
        step_until(&mut p, |p| p.b.sent.len() >= 2);
        p.flush();
        let real = p.flight.clone();
        let orig = p.b.sent[1].1.payload.clone();
        let m = mutate(&orig, &f, cut);
        prop_assume!(m != orig);
        let (src, dst) = (real[0].src, real[0].dst);
        p.flight.clear();
        p.inject(src, dst, m);
        let far = p.now + Duration::from_millis(1);
        while p.step(far) {}
        prop_assert!(p.a.events.is_empty(), "{:?}", p.a.events);
        p.flight = real;
        p.drive();
        assert_mirrored(&p, nat);
    }
}
