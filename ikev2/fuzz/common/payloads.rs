//! Fuzz body `decode_payloads`: byte 0 names the first payload type (a real type for most
//! values, any byte otherwise), the rest is decoded as an inner payload chain with
//! `wire::decode_payloads`. What decodes must re-encode stably, and every decoded SA payload
//! goes through proposal selection (IKE and ESP, against all presets) and `describe`.
#![allow(dead_code)]

use ikev2::proposal;
use ikev2::wire::{self, Payload, PayloadType};

/// Payload types the chain decoder knows (RFC 7296 3.2, RFC 7383).
pub const TYPES: &[u8] = &[
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53,
];

/// True if the input decoded.
pub fn check(data: &[u8]) -> bool {
    let Some((&sel, body)) = data.split_first() else {
        return false;
    };
    let first = if usize::from(sel) < TYPES.len() * 12 {
        TYPES[usize::from(sel) % TYPES.len()]
    } else {
        sel
    };
    let Ok(payloads) = wire::decode_payloads(PayloadType(first), body) else {
        return false;
    };
    let (t, bytes) = wire::encode_payloads(&payloads);
    let again = wire::decode_payloads(t, &bytes).expect("re-encoded chain decodes");
    assert_eq!(again, payloads, "encode -> decode is not stable");
    let (t2, bytes2) = wire::encode_payloads(&again);
    assert_eq!((t, &bytes), (t2, &bytes2));
    for p in &payloads {
        if let Payload::Sa(sa) = p {
            select_all(&sa.proposals);
        }
    }
    true
}

fn select_all(offered: &[wire::Proposal]) {
    let _ = proposal::describe(offered);
    let ike = [
        "aes256-sha256-modp2048",
        "aes128gcm16-prfsha256-curve25519",
        "aes256-sha1-modp1024",
    ];
    let esp = ["aes256gcm16", "aes128-sha1", "aes256-sha256-modp2048"];
    let ours_ike: Vec<_> = ike
        .iter()
        .filter_map(|s| proposal::parse_ike(s).ok())
        .collect();
    let ours_esp: Vec<_> = esp
        .iter()
        .filter_map(|s| proposal::parse_esp(s).ok())
        .collect();
    if let Ok((num, suite)) = proposal::select_ike(&ours_ike, offered) {
        assert!(offered.iter().any(|p| p.num == num));
        let _ = suite;
    }
    for with_dh in [false, true] {
        let _ = proposal::select_esp(&ours_esp, offered, with_dh);
    }
    for p in offered {
        let _ = proposal::accept_ike(&ours_ike, p);
        let _ = proposal::accept_esp(&ours_esp, p, false);
    }
}
