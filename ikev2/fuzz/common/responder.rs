//! Fuzz body `responder`: arbitrary datagrams into a responder `Endpoint` with a configured
//! peer, in one of three states (fresh; IKE_SA_INIT done; established with Mallory, see
//! mallory.rs).
//!
//! Input: byte 0 picks the state; then records `[flags, len_hi, len_lo, bytes...]`:
//! flags bit 0 overwrites the datagram's SPIs with the live SA's (so mutated messages reach the
//! SA's state machine instead of the SPI lookup), bit 1 sends it to port 4500, bit 2 from a
//! stranger's address, bits 4-7 advance the clock by 2^(n-1) seconds first (n > 0).
//! Invariants: no panic; nothing is ever sent to anyone but the datagram's sender or the
//! configured peer; an answer is never sent for a datagram from a stranger.
#![allow(dead_code)]
//! The including crate must also declare `#[path = ".../mallory.rs"] mod mallory;` at its root.

use crate::mallory::*;
use std::net::SocketAddr;
use std::time::Duration;

pub fn run(data: &[u8]) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mut r = Responder::new(1, IKE);
    let mut m = Mallory::new(2, IKE);
    match mode % 3 {
        0 => {}
        1 => {
            let _ = m.ike_sa_init(&mut r);
        }
        _ => {
            let _ = m.establish(&mut r);
        }
    }
    let stranger: SocketAddr = "192.0.2.66:500".parse().expect("addr");
    let mut n = 0;
    while let [flags, hi, lo, tail @ ..] = rest {
        n += 1;
        if n > 64 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (dgram, next) = tail.split_at(len);
        rest = next;
        let mut d = dgram.to_vec();
        if flags & 1 != 0 && d.len() >= 16 {
            d[..8].copy_from_slice(&m.spi_i.to_be_bytes());
            d[8..16].copy_from_slice(&m.spi_r.to_be_bytes());
        }
        let shift = flags >> 4;
        if shift > 0 {
            let _ = r.advance(Duration::from_secs(1u64 << (shift - 1)));
        }
        let port = if flags & 2 != 0 { 4500 } else { 500 };
        let from = if flags & 4 != 0 {
            SocketAddr::new(stranger.ip(), port)
        } else {
            SocketAddr::new(m_sock().ip(), port)
        };
        for t in r.deliver_from(from, &d) {
            assert_ne!(t.remote.ip(), stranger.ip(), "answered a stranger");
            assert_eq!(t.remote.ip(), m_sock().ip(), "sent to {}", t.remote);
        }
    }
    // Timers run to the end without panicking.
    for _ in 0..8 {
        let _ = r.advance(Duration::from_secs(30));
    }
}
