//! Encapsulate -> decapsulate round trips for every suite, ESN, lifetimes and concurrency.

mod common;
use common::*;
use esp::suite::AesKeySize;
use esp::{
    DecapError, EncapError, GcmBackend, InboundSa, InnerProto, Lifetime, LimitKind, NextHeader,
    OutboundSa, Payload, SaConfig, Suite,
};
use proptest::prelude::*;

fn round_trip(out: &OutboundSa, inb: &InboundSa, inner: &[u8], nh: NextHeader) {
    let (mut buf, range) = framed(inner);
    let e = out.encapsulate(&mut buf, range, nh).unwrap();
    let suite = out.suite();
    assert_eq!(e.esp.len(), suite.esp_len(inner.len()));
    assert_eq!(e.esp.start, esp::MAX_HEADROOM - suite.headroom());
    let pkt = &mut buf[e.esp.clone()];
    let d = inb.decapsulate(pkt).unwrap();
    assert_eq!(d.seq, e.seq);
    let expected = match nh {
        NextHeader::Ipv4 => InnerProto::Ipv4,
        NextHeader::Ipv6 => InnerProto::Ipv6,
        NextHeader::NoNextHeader => {
            assert_eq!(d.payload, Payload::Dummy);
            return;
        }
    };
    let Payload::Inner { proto, range } = d.payload else {
        panic!("not an inner packet")
    };
    assert_eq!(proto, expected);
    assert_eq!(&pkt[range], inner);
}

/// Every suite, deterministically, at the edges of the size range (empty inner packet, the
/// sizes around a cipher block and the 9000-byte jumbo limit), with and without ESN.
#[test]
fn every_suite_round_trips_at_edge_sizes() {
    let mut checked = 0;
    for suite in Suite::all() {
        for esn in [false, true] {
            let (out, inb) = pair(suite, esn);
            for len in [0usize, 1, 2, 13, 14, 15, 16, 17, 1400, 8999, 9000] {
                round_trip(&out, &inb, &inner_packet(len, len as u8), NextHeader::Ipv4);
                round_trip(&out, &inb, &inner_packet(len, 1), NextHeader::Ipv6);
                checked += 1;
            }
            round_trip(&out, &inb, &[], NextHeader::NoNextHeader);
            assert_eq!(inb.stats().packets, 23, "{suite}");
            assert_eq!(inb.stats().dummy, 1, "{suite}");
        }
    }
    assert_eq!(checked, 15 * 2 * 11);
}

/// The AES-GCM suites, with the sender on one backend and the receiver on the other.
fn cross_backend_pairs() -> Vec<(Suite, OutboundSa, InboundSa)> {
    let mut v = Vec::new();
    for size in [AesKeySize::Aes128, AesKeySize::Aes192, AesKeySize::Aes256] {
        let suite = Suite::AesGcm16(size);
        for (send, recv) in [
            (GcmBackend::Ring, GcmBackend::AwsLc),
            (GcmBackend::AwsLc, GcmBackend::Ring),
        ] {
            let k = keymat(suite);
            let cfg = |b| SaConfig {
                esn: true,
                gcm_backend: b,
                ..SaConfig::new(SPI, suite)
            };
            v.push((
                suite,
                OutboundSa::new(&cfg(send), &k).unwrap(),
                InboundSa::new(&cfg(recv), &k).unwrap(),
            ));
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// What ring seals aws-lc-rs opens and the other way round, for every key size: a gateway
    /// on either backend talks to a peer on any AES-GCM implementation.
    #[test]
    fn gcm_backends_open_what_the_other_sealed(
        len in prop_oneof![0usize..=64, 0usize..=9000],
        seed in any::<u8>(),
    ) {
        for (suite, out, inb) in cross_backend_pairs() {
            round_trip(&out, &inb, &inner_packet(len, seed), NextHeader::Ipv4);
            prop_assert_eq!(inb.stats().packets, 1, "{}", suite);
            // A flipped bit is refused by the other backend too.
            let (mut buf, range) = framed(&inner_packet(len, seed));
            let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
            let pkt = &mut buf[e.esp];
            let at = pkt.len() - 1 - usize::from(seed) % 16;
            pkt[at] ^= 1;
            prop_assert_eq!(inb.decapsulate(pkt), Err(DecapError::BadIcv));
        }
    }

    /// Each case runs all 15 suites, so every suite sees every generated size.
    #[test]
    fn every_suite_round_trips(
        len in prop_oneof![0usize..=64, 0usize..=9000],
        seed in any::<u8>(),
        esn in any::<bool>(),
        v6 in any::<bool>(),
    ) {
        prop_assert_eq!(Suite::all().len(), 15);
        for suite in Suite::all() {
            let (out, inb) = pair(suite, esn);
            let inner = inner_packet(len, seed);
            let nh = if v6 { NextHeader::Ipv6 } else { NextHeader::Ipv4 };
            round_trip(&out, &inb, &inner, nh);
            round_trip(&out, &inb, &inner, NextHeader::NoNextHeader);
            prop_assert_eq!(inb.stats().packets, 2);
            prop_assert_eq!(inb.stats().dummy, 1);
        }
    }

    /// A modified byte anywhere is caught (ICV), and never panics.
    #[test]
    fn any_bit_flip_is_rejected(suite_idx in 0usize..15, len in 0usize..200, pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let suite = Suite::all()[suite_idx];
        let (out, inb) = pair(suite, false);
        let (mut buf, range) = framed(&inner_packet(len, 3));
        let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
        let pkt = &mut buf[e.esp];
        let i = pos.index(pkt.len());
        pkt[i] ^= 1 << bit;
        let r = inb.decapsulate(pkt);
        prop_assert!(matches!(r, Err(DecapError::BadIcv | DecapError::SpiMismatch | DecapError::TooOld)), "{:?}", r);
    }
}

#[test]
fn esn_crosses_the_32_bit_boundary() {
    for suite in [
        Suite::AesGcm16(AesKeySize::Aes128),
        Suite::all()[6], // AES-128-CBC + HMAC-SHA2-512-256
    ] {
        let cfg = config(suite, true);
        let k = keymat(suite);
        let out = OutboundSa::with_first_seq(&cfg, &k, (1 << 32) - 3).unwrap();
        let inb = InboundSa::new(&cfg, &k).unwrap();
        let mut seqs = Vec::new();
        for _ in 0..6 {
            let (mut buf, range) = framed(&inner_packet(40, 9));
            let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
            // Only the low 32 bits go on the wire.
            assert_eq!(
                &buf[e.esp.start + 4..e.esp.start + 8],
                &(e.seq as u32).to_be_bytes()
            );
            seqs.push((buf, e));
        }
        // Deliver the first three (high half 0) and then those after the wrap (high half 1),
        // with one reordered across the boundary.
        let order = [0usize, 1, 3, 2, 4, 5];
        for &i in &order {
            let (buf, e) = &mut seqs[i];
            let d = inb.decapsulate(&mut buf[e.esp.clone()]).unwrap();
            assert_eq!(d.seq, e.seq, "{suite}");
        }
        assert_eq!(inb.highest_seq(), (1 << 32) + 2);
    }
}

#[test]
fn esn_mismatch_fails_integrity() {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let k = keymat(suite);
    let out = OutboundSa::with_first_seq(&config(suite, true), &k, (1 << 33) + 5).unwrap();
    let inb = InboundSa::new(&config(suite, true), &k).unwrap();
    let (mut buf, range) = framed(&inner_packet(10, 1));
    let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
    // The receiver infers high half 0: the ICV over SPI || seq64 does not match.
    assert_eq!(inb.decapsulate(&mut buf[e.esp]), Err(DecapError::BadIcv));
}

#[test]
fn sequence_numbers_never_wrap() {
    let suite = Suite::AesGcm16(AesKeySize::Aes128);
    let k = keymat(suite);
    let out =
        OutboundSa::with_first_seq(&config(suite, false), &k, u64::from(u32::MAX) - 1).unwrap();
    let mut signals = 0;
    for expected in [u32::MAX - 1, u32::MAX] {
        let (mut buf, range) = framed(&inner_packet(10, 1));
        let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
        assert_eq!(e.seq, u64::from(expected));
        signals += usize::from(e.rekey_signal);
    }
    // Past 15/16 of the space: one rekey signal, then the hard stop.
    assert_eq!(signals, 1);
    assert!(out.rekey_requested());
    for _ in 0..3 {
        let (mut buf, range) = framed(&inner_packet(10, 1));
        assert_eq!(
            out.encapsulate(&mut buf, range, NextHeader::Ipv4),
            Err(EncapError::SequenceExhausted)
        );
    }
    let s = out.stats();
    assert_eq!((s.packets, s.seq_exhausted), (2, 3));
}

#[test]
fn lifetimes_signal_rekey_then_refuse() {
    let suite = Suite::AesGcm16(AesKeySize::Aes128);
    let k = keymat(suite);
    let cfg = SaConfig {
        lifetime: Lifetime {
            soft_bytes: Some(250),
            hard_bytes: Some(400),
            soft_packets: None,
            hard_packets: Some(100),
        },
        ..config(suite, false)
    };
    let out = OutboundSa::new(&cfg, &k).unwrap();
    let inb = InboundSa::new(&cfg, &k).unwrap();
    let mut out_signals = Vec::new();
    let mut in_signals = Vec::new();
    for i in 0..4 {
        let (mut buf, range) = framed(&inner_packet(100, i));
        let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
        out_signals.push(e.rekey_signal);
        let d = inb.decapsulate(&mut buf[e.esp]).unwrap();
        in_signals.push(d.rekey_signal);
    }
    assert_eq!(out_signals, [false, false, true, false]);
    assert_eq!(in_signals, [false, false, true, false]);
    let (mut buf, range) = framed(&inner_packet(1, 0));
    assert_eq!(
        out.encapsulate(&mut buf, range, NextHeader::Ipv4),
        Err(EncapError::Expired(LimitKind::Bytes))
    );
    assert_eq!(out.stats().bytes, 400);
    assert_eq!(out.stats().expired, 1);
    // The receiver has reached its hard byte limit too.
    let mut pkt = ring_gcm_packet(&k, SPI, 9, &[0, 4]);
    assert_eq!(
        inb.decapsulate(&mut pkt),
        Err(DecapError::Expired(LimitKind::Bytes))
    );
    assert_eq!(inb.stats().expired, 1);
}

#[test]
fn concurrent_workers_share_one_sa_pair() {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let (out, _) = pair(suite, false);
    let per_thread = 2000;
    type Sent = (Vec<u8>, std::ops::Range<usize>, u64);
    let packets: Vec<Vec<Sent>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let out = &out;
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let (mut buf, range) = framed(&inner_packet(64 + i % 7, t));
                            let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
                            (buf, e.esp, e.seq)
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seqs: Vec<u64> = packets.iter().flatten().map(|p| p.2).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 4 * per_thread, "sequence numbers are unique");
    assert_eq!(*seqs.last().unwrap(), 4 * per_thread as u64);

    // Decapsulate concurrently with duplicates: every worker offers every packet, in
    // sequence order within chunks of 1024 and meeting at a barrier after each chunk, so no
    // packet can fall out of the 4096 window. Each packet must be accepted by exactly one
    // worker and rejected as `Replayed` by the three others.
    let inb = InboundSa::new(
        &SaConfig {
            replay_window: 4096,
            ..config(suite, false)
        },
        &keymat(suite),
    )
    .unwrap();
    let mut all: Vec<&Sent> = packets.iter().flatten().collect();
    all.sort_by_key(|p| p.2);
    let barrier = std::sync::Barrier::new(4);
    let accepted: Vec<Vec<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (inb, all, barrier) = (&inb, &all, &barrier);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for chunk in all.chunks(1024) {
                        // Workers 1 and 3 walk each chunk backwards.
                        let order: Vec<&&Sent> = if t % 2 == 0 {
                            chunk.iter().collect()
                        } else {
                            chunk.iter().rev().collect()
                        };
                        for (buf, esp, seq) in order {
                            let mut b = buf.clone();
                            match inb.decapsulate(&mut b[esp.clone()]) {
                                Ok(d) => {
                                    assert_eq!(d.seq, *seq);
                                    let Payload::Inner { range, .. } = d.payload else {
                                        panic!("not an inner packet")
                                    };
                                    assert_eq!(b[esp.start..][range][0], 0x45);
                                    mine.push(d.seq);
                                }
                                Err(DecapError::Replayed) => {}
                                Err(e) => panic!("unexpected {e:?} for {seq}"),
                            }
                        }
                        barrier.wait();
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total = 4 * per_thread as u64;
    let mut got: Vec<u64> = accepted.into_iter().flatten().collect();
    assert_eq!(got.len() as u64, total, "one acceptance per packet");
    got.sort_unstable();
    assert_eq!(
        got,
        (1..=total).collect::<Vec<_>>(),
        "each number exactly once"
    );
    let s = inb.stats();
    assert_eq!((s.packets, s.replayed, s.too_old), (total, 3 * total, 0));
    // Replaying everything afterwards is rejected entirely.
    for (buf, esp, _) in &all {
        let mut b = buf.clone();
        assert!(inb.decapsulate(&mut b[esp.clone()]).is_err());
    }
    assert_eq!(inb.stats().packets, total);
    drop(out);
}

/// A worker's batch: one block of sequence numbers for its packets (in order, a gap where
/// one is skipped, single numbers past the block), statistics once committed; the receiver
/// counting a batch into a tally with the hard limit checked against it.
#[test]
fn batches_take_blocks_of_sequence_numbers_and_count_once_committed() {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let k = keymat(suite);
    let cfg = SaConfig {
        lifetime: Lifetime {
            hard_packets: Some(6),
            ..Lifetime::UNLIMITED
        },
        ..config(suite, false)
    };
    let out = OutboundSa::new(&cfg, &k).unwrap();
    let inb = InboundSa::new(&cfg, &k).unwrap();
    let mut batch = out.batch(3);
    let (mut buf, range) = framed(&inner_packet(20, 4));
    let other = out.encapsulate(&mut buf, range, NextHeader::Ipv4);
    assert_eq!(other.map(|e| e.seq), Ok(4), "the block was taken first");
    let mut sent = Vec::new();
    for len in [100usize, 200, 300, 400] {
        let (mut buf, range) = framed(&inner_packet(len, len as u8));
        let e = out
            .encapsulate_batched(&mut batch, &mut buf, range, NextHeader::Ipv4)
            .unwrap();
        sent.push((buf, e.esp, e.seq));
    }
    // Three from the block, the fourth one at a time.
    assert_eq!(sent.iter().map(|s| s.2).collect::<Vec<_>>(), [1, 2, 3, 5]);
    assert_eq!(out.stats().packets, 1, "not yet committed");
    out.commit(batch);
    assert_eq!((out.stats().packets, out.stats().bytes), (5, 1020));
    // A batch whose numbers go unused leaves a gap: the next packet skips them.
    out.commit(out.batch(10));
    let (mut buf, range) = framed(&inner_packet(10, 0));
    assert_eq!(
        out.encapsulate(&mut buf, range, NextHeader::Ipv4)
            .map(|e| e.seq),
        Ok(16)
    );
    let mut tally = esp::Tally::default();
    for (buf, esp, seq) in &mut sent {
        let d = inb
            .decapsulate_tallied(&mut buf[esp.clone()], &mut tally)
            .unwrap();
        assert_eq!(d.seq, *seq);
    }
    assert_eq!((tally.packets(), inb.stats().packets), (4, 0));
    inb.commit(&mut tally);
    assert_eq!((tally.packets(), inb.stats().packets), (0, 4));
    // Two more fit the hard limit of 6 only with the tally counted: the third is refused.
    let mut more = Vec::new();
    for seq in 20..23 {
        more.push(ring_gcm_packet(&k, SPI, seq, &[0x45, 0, 0, 4, 0, 4]));
    }
    let r: Vec<_> = more
        .iter_mut()
        .map(|p| inb.decapsulate_tallied(p, &mut tally).map(|d| d.seq))
        .collect();
    assert_eq!(
        r,
        [Ok(20), Ok(21), Err(DecapError::Expired(LimitKind::Packets))]
    );
    inb.commit(&mut tally);
    assert_eq!((inb.stats().packets, inb.stats().expired), (6, 1));
}
