//! Fuzz body `sk_body`: arbitrary decrypted SK content. Mallory (mallory.rs) holds the keys
//! of an IKE SA with a real responder `Endpoint` and seals the fuzz input as the inner payload
//! chain of a well-protected message.
//!
//! Input: byte 0: bits 0-1 the exchange (IKE_AUTH right after IKE_SA_INIT; INFORMATIONAL or
//! CREATE_CHILD_SA on an established SA), bit 2 the AES-CBC suite instead of AES-GCM;
//! byte 1: the first inner payload type (mapped onto the known types for most values);
//! the rest: the plaintext. Invariants: no panic; any answer opens with our keys and is a
//! response with the request's message ID; afterwards the responder is still consistent (its
//! timers run, status works).
#![allow(dead_code)]
//! The including crate must also declare `#[path = ".../mallory.rs"] mod mallory;` at its root.

use crate::mallory::*;
use ikev2::wire::{ExchangeType, Flags, PayloadType};
use std::time::Duration;

const TYPES: &[u8] = &[
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53,
];

pub fn run(data: &[u8]) {
    let [mode, sel, plain @ ..] = data else {
        return;
    };
    let ike = if mode & 4 != 0 { IKE_CBC } else { IKE };
    let mut r = Responder::new(1, ike);
    let mut m = Mallory::new(2, ike);
    let exchange = match mode & 3 {
        0 => ExchangeType::IKE_AUTH,
        1 | 3 => ExchangeType::INFORMATIONAL,
        _ => ExchangeType::CREATE_CHILD_SA,
    };
    let ok = if exchange == ExchangeType::IKE_AUTH {
        m.ike_sa_init(&mut r)
    } else {
        m.establish(&mut r)
    };
    assert!(ok, "harness could not set up the SA: {:?}", r.events);
    let first = if usize::from(*sel) < TYPES.len() * 12 {
        TYPES[usize::from(*sel) % TYPES.len()]
    } else {
        *sel
    };
    let id = m.next_id;
    m.next_id += 1;
    let req = m.seal_raw(exchange, Flags::INITIATOR, id, PayloadType(first), plain);
    for t in r.deliver(&req) {
        let (h, _) = m
            .open(&t.payload)
            .expect("the responder's answer opens with our keys");
        if h.flags.response() {
            assert_eq!(h.message_id, id, "answered another message ID");
        }
    }
    let _ = r.status();
    for _ in 0..4 {
        let _ = r.advance(Duration::from_secs(20));
    }
}
