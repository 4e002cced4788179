//! Byte layouts checked against RFC 4303 figures 1 and 2, with the cryptography redone
//! independently (ring / RustCrypto directly), plus every typed decapsulation outcome.

mod common;
use common::*;
use esp::suite::{AesKeySize, Integrity};
use esp::{
    DecapError, EncapError, InboundSa, InnerProto, NextHeader, OutboundSa, Payload, SaConfig, Suite,
};

#[test]
fn gcm_packet_layout_rfc4303_figure_2() {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let (out, inb) = pair(suite, false);
    let inner = inner_packet(13, 0x5a);
    let (mut buf, range) = framed(&inner);
    let e = out
        .encapsulate(&mut buf, range.clone(), NextHeader::Ipv4)
        .unwrap();
    assert_eq!(e.seq, 1);
    assert_eq!(e.esp, range.start - 16..range.end + 3 + 16);
    let pkt = buf[e.esp.clone()].to_vec();
    // SPI | Seq | IV (= 64-bit seq) | ciphertext | ICV(16).
    assert_eq!(&pkt[0..4], &SPI.to_be_bytes());
    assert_eq!(&pkt[4..8], &1u32.to_be_bytes());
    assert_eq!(&pkt[8..16], &1u64.to_be_bytes());
    // Expected: 13 payload bytes, padding 1 (13+1+2 = 16, 4-aligned), pad len 1, NH 4.
    let mut plain = inner.clone();
    plain.extend_from_slice(&[1, 1, 4]);
    assert_eq!(pkt, ring_gcm_packet(&keymat(suite), SPI, 1, &plain));

    let mut rx = pkt.clone();
    let d = inb.decapsulate(&mut rx).unwrap();
    assert_eq!(d.seq, 1);
    assert_eq!(
        d.payload,
        Payload::Inner {
            proto: InnerProto::Ipv4,
            range: 16..29
        }
    );
    assert_eq!(&rx[16..29], &inner[..]);
}

#[test]
fn cbc_packet_layout_rfc4303_figure_1() {
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};
    let suite = Suite::AesCbc(AesKeySize::Aes128, Integrity::HmacSha256_128);
    let k = keymat(suite);
    let (out, inb) = pair(suite, true);
    let inner = inner_packet(20, 1);
    let (mut buf, range) = framed(&inner);
    let e = out
        .encapsulate(&mut buf, range.clone(), NextHeader::Ipv6)
        .unwrap();
    // 20 + pad 10 + 2 = 32: two blocks; 16 IV, 16 ICV.
    assert_eq!(e.esp, range.start - 24..range.end + 10 + 2 + 16);
    let pkt = buf[e.esp.clone()].to_vec();
    assert_eq!(&pkt[0..4], &SPI.to_be_bytes());
    assert_eq!(&pkt[4..8], &1u32.to_be_bytes());
    // ICV = HMAC-SHA-256(integ key, SPI..ciphertext || seq high (ESN)) truncated to 128 bits.
    let mac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k[16..]);
    let mut ctx = ring::hmac::Context::with_key(&mac_key);
    ctx.update(&pkt[..pkt.len() - 16]);
    ctx.update(&0u32.to_be_bytes());
    assert_eq!(&pkt[pkt.len() - 16..], &ctx.sign().as_ref()[..16]);
    // Decrypt with RustCrypto's CBC under the IV on the wire.
    let mut body = pkt[24..pkt.len() - 16].to_vec();
    let iv: [u8; 16] = pkt[8..24].try_into().unwrap();
    cbc::Decryptor::<aes::Aes128>::new_from_slices(&k[..16], &iv)
        .unwrap()
        .decrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut body)
        .unwrap();
    let mut plain = inner.clone();
    plain.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 41]);
    assert_eq!(body, plain);

    let mut rx = pkt.clone();
    let d = inb.decapsulate(&mut rx).unwrap();
    assert_eq!(
        d.payload,
        Payload::Inner {
            proto: InnerProto::Ipv6,
            range: 24..44
        }
    );
    assert_eq!(&rx[24..44], &inner[..]);
}

#[test]
fn every_failure_kind_is_typed_and_counted() {
    let suite = Suite::AesGcm16(AesKeySize::Aes128);
    let k = keymat(suite);
    let inb = InboundSa::new(&SaConfig::new(SPI, suite), &k).unwrap();
    let payload = [0x45u8, 1, 2, 3, 4, 5];
    let good = |seq: u32, trailer: &[u8]| {
        let mut p = payload.to_vec();
        p.extend_from_slice(trailer);
        ring_gcm_packet(&k, SPI, seq, &p)
    };
    let mut pkt = good(1, &[0, 4]);
    assert!(inb.decapsulate(&mut pkt).is_ok());
    assert_eq!(
        inb.decapsulate(&mut good(1, &[0, 4])),
        Err(DecapError::Replayed)
    );
    assert_eq!(
        inb.decapsulate(&mut good(2, &[1, 3, 2, 4])),
        Err(DecapError::BadPadding)
    );
    assert_eq!(
        inb.decapsulate(&mut good(3, &[9, 4])),
        Err(DecapError::BadPadding)
    );
    assert_eq!(
        inb.decapsulate(&mut good(4, &[0, 17])),
        Err(DecapError::BadNextHeader(17))
    );
    let d = inb.decapsulate(&mut good(5, &[1, 2, 2, 59])).unwrap();
    assert_eq!(d.payload, Payload::Dummy);
    let mut tampered = good(6, &[0, 4]);
    tampered[20] ^= 1;
    assert_eq!(inb.decapsulate(&mut tampered), Err(DecapError::BadIcv));
    // The forged packet did not advance the window: the genuine one is still accepted.
    assert!(inb.decapsulate(&mut good(6, &[0, 4])).is_ok());
    assert_eq!(
        inb.decapsulate(&mut good(5000, &[0, 4])).map(|d| d.seq),
        Ok(5000)
    );
    assert_eq!(
        inb.decapsulate(&mut good(7, &[0, 4])),
        Err(DecapError::TooOld)
    );
    assert_eq!(
        inb.decapsulate(&mut good(0, &[0, 4])),
        Err(DecapError::TooOld)
    );
    let mut other = ring_gcm_packet(&k, SPI + 1, 5001, &[0, 4]);
    assert_eq!(inb.decapsulate(&mut other), Err(DecapError::SpiMismatch));
    assert_eq!(
        inb.decapsulate(&mut good(5002, &[0, 4])[..33]),
        Err(DecapError::Truncated)
    );
    assert_eq!(inb.decapsulate(&mut []), Err(DecapError::Truncated));
    let s = inb.stats();
    assert_eq!(
        (
            s.packets,
            s.dummy,
            s.replayed,
            s.bad_padding,
            s.bad_next_header,
            s.bad_icv
        ),
        (4, 1, 1, 2, 1, 1)
    );
    assert_eq!(
        (s.too_old, s.spi_mismatch, s.truncated, s.bad_length),
        (2, 1, 2, 0)
    );

    let cbc = Suite::AesCbc(AesKeySize::Aes256, Integrity::HmacSha1_96);
    let inb = InboundSa::new(&SaConfig::new(SPI, cbc), &keymat(cbc)).unwrap();
    let mut misaligned = vec![0u8; 8 + 16 + 17 + 12];
    misaligned[..4].copy_from_slice(&SPI.to_be_bytes());
    assert_eq!(inb.decapsulate(&mut misaligned), Err(DecapError::BadLength));
    assert_eq!(inb.stats().bad_length, 1);
}

#[test]
fn encapsulate_checks_room() {
    let suite = Suite::AesCbc(AesKeySize::Aes192, Integrity::HmacSha512_256);
    let (out, _) = pair(suite, false);
    let mut buf = vec![0u8; 100];
    assert_eq!(
        out.encapsulate(&mut buf, 10..50, NextHeader::Ipv4),
        Err(EncapError::NoHeadroom {
            needed: 24,
            available: 10
        })
    );
    // 40 bytes: pad 6, trailer 8, ICV 32 -> 40 needed behind.
    assert_eq!(
        out.encapsulate(&mut buf, 24..64, NextHeader::Ipv4),
        Err(EncapError::NoTailroom {
            needed: 40,
            available: 36
        })
    );
    assert_eq!(
        out.encapsulate(
            &mut buf,
            std::ops::Range { start: 50, end: 40 },
            NextHeader::Ipv4
        ),
        Err(EncapError::BadRange)
    );
    assert_eq!(
        out.encapsulate(&mut buf, 24..101, NextHeader::Ipv4),
        Err(EncapError::BadRange)
    );
    // 30 bytes: 30 + 2 is block aligned, no padding; 2 + 32 behind.
    let mut buf = vec![0u8; 88];
    let e = out.encapsulate(&mut buf, 24..54, NextHeader::Ipv4).unwrap();
    assert_eq!(e.esp, 0..88);
    // Refusals consumed no sequence number.
    assert_eq!(e.seq, 1);
}

#[test]
fn sa_construction_errors_and_debug_hides_keys() {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let k = keymat(suite);
    assert_eq!(
        OutboundSa::new(&SaConfig::new(SPI, suite), &k[..35]).unwrap_err(),
        esp::SaError::KeyMaterialLength {
            expected: 36,
            got: 35
        }
    );
    assert_eq!(
        InboundSa::new(&SaConfig::new(255, suite), &k).unwrap_err(),
        esp::SaError::ReservedSpi(255)
    );
    let cfg = SaConfig {
        replay_window: 32,
        ..SaConfig::new(SPI, suite)
    };
    assert_eq!(
        InboundSa::new(&cfg, &k).unwrap_err(),
        esp::SaError::ReplayWindow(32)
    );
    let (out, inb) = pair(suite, false);
    for dbg in [format!("{out:?}"), format!("{inb:?}")] {
        assert!(dbg.contains("0x12345678"), "{dbg}");
        assert!(dbg.contains("redacted"));
        // No run of key bytes appears in any rendering.
        let key_hex: String = k[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.contains(&key_hex));
        assert!(!dbg.contains(&format!("{:?}", &k[..4])));
    }
}

#[test]
fn sa_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<OutboundSa>();
    check::<InboundSa>();
}
