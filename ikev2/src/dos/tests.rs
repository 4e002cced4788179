use super::*;
use crate::crypto::SeededRandom;
use crate::wire::{self, Flags, KePayload, Message, Notify, Payload, ProtocolId};

const NI: &[u8] = &[0x11; 32];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn defences(cfg: DefenceConfig) -> Defences {
    Defences::new(cfg, &mut SeededRandom::new(7))
}

/// A generous rate limit so the other checks can be tested alone.
fn no_rate_limit() -> DefenceConfig {
    DefenceConfig {
        rate_burst: 1_000_000,
        rate_per_sec: 1_000_000,
        ..DefenceConfig::default()
    }
}

#[test]
fn defaults_match_strongswan() {
    let c = DefenceConfig::default();
    assert_eq!(
        (c.cookie_threshold, c.cookie_threshold_ip, c.block_threshold),
        (30, 3, 5)
    );
    assert_eq!(c.half_open_timeout, Duration::from_secs(30));
    assert!(c.half_open_timeout_under_attack < c.half_open_timeout);
}

#[test]
fn accepts_without_cookie_under_threshold() {
    let mut d = defences(no_rate_limit());
    let now = Instant::now();
    assert_eq!(
        d.check_ike_sa_init(now, ip("203.0.113.20"), 1, NI, None),
        Verdict::Accept
    );
    // A stale or garbage cookie is ignored when cookies are not required.
    assert_eq!(
        d.check_ike_sa_init(now, ip("203.0.113.20"), 1, NI, Some(b"junk")),
        Verdict::Accept
    );
}

#[test]
fn global_threshold_requires_cookie_and_cookie_is_accepted() {
    let mut d = defences(no_rate_limit());
    let now = Instant::now();
    for i in 0..30u32 {
        d.half_open_opened(IpAddr::V4((0xC633_6400 + i).into()));
    }
    assert!(d.under_attack());
    assert_eq!(d.half_open_timeout(), Duration::from_secs(5));
    let src = ip("203.0.113.20");
    let Verdict::RequireCookie(c) = d.check_ike_sa_init(now, src, 99, NI, None) else {
        panic!("cookie expected");
    };
    // The initiator retries with the cookie: accepted.
    assert_eq!(
        d.check_ike_sa_init(now, src, 99, NI, Some(c.as_bytes())),
        Verdict::Accept
    );
    // Cookie bound to the SPI, nonce and address: other values get a fresh cookie.
    assert!(matches!(
        d.check_ike_sa_init(now, src, 100, NI, Some(c.as_bytes())),
        Verdict::RequireCookie(_)
    ));
    assert!(matches!(
        d.check_ike_sa_init(now, ip("203.0.113.21"), 99, NI, Some(c.as_bytes())),
        Verdict::RequireCookie(_)
    ));
    assert!(matches!(
        d.check_ike_sa_init(now, src, 99, &[0x12; 32], Some(c.as_bytes())),
        Verdict::RequireCookie(_)
    ));
    let s = d.stats();
    assert_eq!(s.accepted_with_cookie, 1);
    assert_eq!(s.bad_cookies, 3);
    assert_eq!(s.cookies_sent, 4);
}

#[test]
fn cookie_survives_one_rotation() {
    let mut d = defences(no_rate_limit());
    let t0 = Instant::now();
    for i in 0..30u32 {
        d.half_open_opened(IpAddr::V4((0xC633_6400 + i).into()));
    }
    let src = ip("203.0.113.20");
    let Verdict::RequireCookie(c) = d.check_ike_sa_init(t0, src, 5, NI, None) else {
        panic!()
    };
    let t1 = t0 + DEFAULT_ROTATION;
    assert_eq!(
        d.check_ike_sa_init(t1, src, 5, NI, Some(c.as_bytes())),
        Verdict::Accept
    );
    let t2 = t1 + DEFAULT_ROTATION;
    assert!(matches!(
        d.check_ike_sa_init(t2, src, 5, NI, Some(c.as_bytes())),
        Verdict::RequireCookie(_)
    ));
}

#[test]
fn per_source_cookie_and_block_thresholds() {
    let mut d = defences(no_rate_limit());
    let now = Instant::now();
    let src = ip("203.0.113.20");
    let other = ip("203.0.113.99");
    for _ in 0..3 {
        d.half_open_opened(src);
    }
    let Verdict::RequireCookie(c) = d.check_ike_sa_init(now, src, 1, NI, None) else {
        panic!()
    };
    // Others are not affected.
    assert_eq!(
        d.check_ike_sa_init(now, other, 1, NI, None),
        Verdict::Accept
    );
    // With a valid cookie the source may go on, up to the block threshold.
    assert_eq!(
        d.check_ike_sa_init(now, src, 1, NI, Some(c.as_bytes())),
        Verdict::Accept
    );
    d.half_open_opened(src);
    d.half_open_opened(src);
    assert_eq!(d.check_ike_sa_init(now, src, 1, NI, None), Verdict::Drop);
    assert_eq!(
        d.check_ike_sa_init(now, src, 1, NI, Some(c.as_bytes())),
        Verdict::Drop
    );
    assert_eq!(d.stats().blocked, 2);
    // Completing SAs unblocks.
    d.half_open_closed(src);
    d.half_open_closed(src);
    d.half_open_closed(src);
    assert_eq!(d.check_ike_sa_init(now, src, 1, NI, None), Verdict::Accept);
}

#[test]
fn hard_cap_drops_even_with_cookie() {
    let mut d = defences(DefenceConfig {
        max_half_open: 40,
        ..no_rate_limit()
    });
    let now = Instant::now();
    for i in 0..40u32 {
        d.half_open_opened(IpAddr::V4((0xC633_6400 + i).into()));
    }
    let src = ip("203.0.113.20");
    let Verdict::RequireCookie(c) = d.check_ike_sa_init(now, src, 1, NI, None) else {
        panic!()
    };
    assert_eq!(
        d.check_ike_sa_init(now, src, 1, NI, Some(c.as_bytes())),
        Verdict::Drop
    );
    assert_eq!(d.stats().over_capacity, 1);
}

#[test]
fn always_cookies_with_zero_threshold() {
    let mut d = defences(DefenceConfig {
        cookie_threshold: 0,
        ..no_rate_limit()
    });
    assert!(matches!(
        d.check_ike_sa_init(Instant::now(), ip("192.0.2.1"), 1, NI, None),
        Verdict::RequireCookie(_)
    ));
}

#[test]
fn rate_limit_per_source() {
    let mut d = defences(DefenceConfig::default());
    let now = Instant::now();
    let src = ip("203.0.113.20");
    let verdicts: Vec<_> = (0..12)
        .map(|i| d.check_ike_sa_init(now, src, i, NI, None))
        .collect();
    assert!(verdicts[..10].iter().all(|v| *v == Verdict::Accept));
    // Over budget: a cookie, not silence (a spoofer of the source must not lock it out).
    assert!(matches!(verdicts[10], Verdict::RequireCookie(_)));
    assert!(matches!(verdicts[11], Verdict::RequireCookie(_)));
    assert_eq!(d.stats().rate_limited, 2);
    assert_eq!(d.stats().accepted, 10);
    // 5/s refill.
    assert_eq!(
        d.check_ike_sa_init(now + Duration::from_millis(200), src, 1, NI, None),
        Verdict::Accept
    );
}

#[test]
fn valid_cookies_have_their_own_budget() {
    let mut d = defences(DefenceConfig::default());
    let now = Instant::now();
    let src = ip("203.0.113.20");
    // A spoofer drains the source's budget for requests without cookies.
    for i in 0..1000 {
        let _ = d.check_ike_sa_init(now, src, 1000 + i, NI, None);
    }
    // The real source still gets a cookie and in with it, up to its own budget.
    let mut accepted = 0;
    for spi in 1..=12u64 {
        let Verdict::RequireCookie(c) = d.check_ike_sa_init(now, src, spi, NI, None) else {
            panic!("no cookie for {spi}");
        };
        if d.check_ike_sa_init(now, src, spi, NI, Some(c.as_bytes())) == Verdict::Accept {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 10);
    assert_eq!(d.stats().accepted_with_cookie, 10);
}

#[test]
fn spoofed_flood_costs_no_state() {
    // 100k spoofed sources while 30 SAs are half-open: every one gets a cookie (or is rate
    // limited), none is accepted, and the tracker does not grow.
    let mut d = defences(DefenceConfig::default());
    let now = Instant::now();
    for i in 0..30u32 {
        d.half_open_opened(IpAddr::V4((0xC633_6400 + i).into()));
    }
    for i in 0..100_000u32 {
        let src = IpAddr::V4((0xCB00_7100 ^ i.wrapping_mul(2_654_435_761)).into());
        let v = d.check_ike_sa_init(now, src, u64::from(i) + 1, NI, None);
        assert_ne!(v, Verdict::Accept);
    }
    assert_eq!(d.half_open().sources(), 30);
    assert_eq!(d.stats().accepted, 0);
}

fn init_request(cookie: Option<&[u8]>) -> Vec<u8> {
    let mut payloads = vec![];
    if let Some(c) = cookie {
        payloads.push(Payload::Notify(Notify {
            protocol: ProtocolId(0),
            spi: vec![],
            kind: NotifyType::COOKIE,
            data: c.to_vec(),
        }));
    }
    payloads.push(Payload::Ke(KePayload {
        group: wire::DhGroup(19),
        data: vec![4; 64],
    }));
    payloads.push(Payload::Nonce(NI.to_vec()));
    wire::encode_message(&Message {
        header: Header {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0,
            next_payload: PayloadType::NONE,
            version: Header::VERSION_2_0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags(Flags::INITIATOR),
            message_id: 0,
            length: 0,
        },
        payloads,
    })
}

#[test]
fn peek_finds_nonce_and_cookie() {
    let req = init_request(None);
    let p = peek_ike_sa_init(&req).unwrap();
    assert_eq!((p.ni, p.cookie), (NI, None));
    let req = init_request(Some(b"cookie-bytes"));
    let p = peek_ike_sa_init(&req).unwrap();
    assert_eq!((p.ni, p.cookie), (NI, Some(&b"cookie-bytes"[..])));
    assert_eq!(p.header.spi_i, 0x0102_0304_0506_0708);
    // Truncations and corruptions are refused, never panic.
    for cut in 0..req.len() {
        assert!(peek_ike_sa_init(&req[..cut]).is_none());
    }
    for i in 0..req.len() {
        for x in [1u8, 0x80, 0xff] {
            let mut m = req.clone();
            m[i] ^= x;
            let _ = peek_ike_sa_init(&m);
        }
    }
}

#[test]
fn cookie_response_is_small_and_decodes() {
    let mut d = defences(DefenceConfig {
        cookie_threshold: 0,
        ..DefenceConfig::default()
    });
    let req = init_request(None);
    let peek = peek_ike_sa_init(&req).unwrap();
    let src = ip("203.0.113.20");
    let Verdict::RequireCookie(c) =
        d.check_ike_sa_init(Instant::now(), src, peek.header.spi_i, peek.ni, None)
    else {
        panic!()
    };
    let resp = cookie_response(&peek.header, &c);
    assert_eq!(resp.len(), 69);
    assert!(resp.len() < req.len());
    let m = wire::decode_message(&resp).unwrap();
    assert_eq!(m.header.spi_i, peek.header.spi_i);
    assert_eq!(m.header.spi_r, 0);
    assert!(m.header.flags.response() && !m.header.flags.initiator());
    assert_eq!(m.header.exchange, ExchangeType::IKE_SA_INIT);
    let [Payload::Notify(n)] = m.payloads.as_slice() else {
        panic!("{:?}", m.payloads)
    };
    assert_eq!(n.kind, NotifyType::COOKIE);
    assert_eq!(n.data, c.as_bytes());
    // The retried request with that cookie passes.
    let retry = init_request(Some(&n.data));
    let p = peek_ike_sa_init(&retry).unwrap();
    assert_eq!(
        d.check_ike_sa_init(Instant::now(), src, p.header.spi_i, p.ni, p.cookie),
        Verdict::Accept
    );
}
