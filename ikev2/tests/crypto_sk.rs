//! SK payload protection (RFC 7296 3.14, RFC 5282): round trips for every cipher and
//! integrity combination, tamper detection, length checks, and open() on arbitrary bytes.

use ikev2::crypto::{aes_cbc_encrypt_blocks, aes_gcm_seal};
use ikev2::crypto::{CryptoError, IkeCipher, Integ, Random, SeededRandom, SkProtector};
use proptest::prelude::*;

const INTEGS: [Integ; 4] = [
    Integ::HmacSha1_96,
    Integ::HmacSha256_128,
    Integ::HmacSha384_192,
    Integ::HmacSha512_256,
];

/// Every supported suite as (cipher, integ).
fn suites() -> Vec<(IkeCipher, Option<Integ>)> {
    let mut v = Vec::new();
    for bits in [128, 192, 256] {
        for i in INTEGS {
            v.push((IkeCipher::AesCbc { key_bits: bits }, Some(i)));
        }
    }
    for bits in [128, 256] {
        v.push((IkeCipher::AesGcm16 { key_bits: bits }, None));
    }
    v
}

fn protector(cipher: IkeCipher, integ: Option<Integ>, seed: u8) -> SkProtector {
    let enc: Vec<u8> = (0..cipher.keymat_len()).map(|i| i as u8 ^ seed).collect();
    let ik: Option<Vec<u8>> = integ.map(|i| {
        (0..i.key_len())
            .map(|j| (j as u8).wrapping_mul(3) ^ seed)
            .collect()
    });
    SkProtector::new(cipher, &enc, integ, ik.as_deref()).expect("protector")
}

/// IKE header (28 bytes) and SK generic payload header (4 bytes) stand-ins.
fn header() -> Vec<u8> {
    (0u8..32).map(|b| b.wrapping_mul(7)).collect()
}

fn seal(sk: &SkProtector, rng: &mut dyn Random, plaintext: &[u8]) -> Vec<u8> {
    let mut msg = header();
    msg.resize(msg.len() + sk.sealed_len(plaintext.len()), 0);
    sk.seal(rng, &mut msg, plaintext).expect("seal");
    msg
}

#[test]
fn crypto_sk_round_trip_every_suite() {
    let mut rng = SeededRandom::new(3);
    for (cipher, integ) in suites() {
        let sk = protector(cipher, integ, 0);
        for len in [0usize, 1, 14, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            let msg = seal(&sk, &mut rng, &pt);
            let body_len = sk.sealed_len(len);
            assert_eq!(msg.len(), header().len() + body_len);
            assert_eq!(&msg[..32], &header()[..], "seal must not touch the header");
            let inner = sk
                .open(&msg, body_len)
                .unwrap_or_else(|e| panic!("{cipher:?} {len}: {e}"));
            assert_eq!(&inner[..], &pt[..], "{cipher:?} {integ:?} {len}");
            match (cipher, integ) {
                (IkeCipher::AesCbc { .. }, Some(i)) => {
                    // IV, whole blocks holding plaintext and Pad Length, truncated ICV.
                    let ct = body_len - 16 - i.icv_len();
                    assert_eq!(ct % 16, 0);
                    assert!(ct > len && ct <= len + 16);
                }
                _ => assert_eq!(body_len, 8 + len + 1 + 16),
            }
        }
    }
}

#[test]
fn crypto_sk_ivs_are_fresh_and_from_rng() {
    for (cipher, integ) in suites() {
        let sk = protector(cipher, integ, 1);
        let mut rng = SeededRandom::new(9);
        let a = seal(&sk, &mut rng, b"same plaintext");
        let b = seal(&sk, &mut rng, b"same plaintext");
        assert_ne!(a, b, "{cipher:?}: a second seal must use a new IV");
        // Deterministic for a given generator state.
        let c = seal(&sk, &mut SeededRandom::new(9), b"same plaintext");
        assert_eq!(a, c);
        let iv_len = if cipher.is_aead() { 8 } else { 16 };
        let mut expected_iv = vec![0u8; iv_len];
        SeededRandom::new(9).fill(&mut expected_iv);
        assert_eq!(&a[32..32 + iv_len], &expected_iv[..]);
    }
}

#[test]
fn crypto_sk_any_flipped_bit_fails() {
    let mut rng = SeededRandom::new(4);
    for (cipher, integ) in suites() {
        let sk = protector(cipher, integ, 2);
        let msg = seal(&sk, &mut rng, b"IDi AUTH SA TSi TSr");
        let body_len = msg.len() - 32;
        for byte in 0..msg.len() {
            for bit in 0..8 {
                let mut bad = msg.clone();
                bad[byte] ^= 1 << bit;
                assert_eq!(
                    sk.open(&bad, body_len).unwrap_err(),
                    CryptoError::IntegrityFailed,
                    "{cipher:?} {integ:?} byte {byte} bit {bit}"
                );
            }
        }
        // Another key (the other direction) fails too.
        let other = protector(cipher, integ, 3);
        assert_eq!(
            other.open(&msg, body_len).unwrap_err(),
            CryptoError::IntegrityFailed
        );
        // Truncation and extension fail.
        assert!(sk.open(&msg[..msg.len() - 1], body_len - 1).is_err());
        let mut longer = msg.clone();
        longer.push(0);
        assert!(sk.open(&longer, body_len + 1).is_err());
    }
}

#[test]
fn crypto_sk_length_checks() {
    for (cipher, integ) in suites() {
        let sk = protector(cipher, integ, 4);
        let msg = vec![0u8; 200];
        for body_len in [
            0usize,
            1,
            8,
            15,
            16,
            24,
            25,
            31,
            33,
            40,
            47,
            201,
            usize::MAX,
        ] {
            assert!(
                matches!(
                    sk.open(&msg, body_len),
                    Err(CryptoError::Malformed(_)) | Err(CryptoError::IntegrityFailed)
                ),
                "{cipher:?} {body_len}"
            );
        }
        // seal into a buffer too small for the body is an error, not a panic.
        let mut small = vec![0u8; sk.sealed_len(10) - 1];
        assert!(sk
            .seal(&mut SeededRandom::new(0), &mut small, &[0; 10])
            .is_err());
    }
}

#[test]
fn crypto_sk_constructor_checks() {
    let cbc = IkeCipher::AesCbc { key_bits: 256 };
    let gcm = IkeCipher::AesGcm16 { key_bits: 128 };
    let i = Integ::HmacSha256_128;
    assert!(SkProtector::new(cbc, &[0; 31], Some(i), Some(&[0; 32])).is_err());
    assert!(SkProtector::new(cbc, &[0; 32], Some(i), Some(&[0; 31])).is_err());
    assert!(SkProtector::new(cbc, &[0; 32], None, None).is_err());
    assert!(
        SkProtector::new(gcm, &[0; 16], None, None).is_err(),
        "salt missing"
    );
    assert!(SkProtector::new(gcm, &[0; 20], Some(i), Some(&[0; 32])).is_err());
    let sk = SkProtector::new(gcm, &[0x11; 20], None, None).unwrap();
    let dbg = format!("{sk:?}");
    assert!(!dbg.contains("17") && !dbg.contains("0x11"), "{dbg}");
}

/// A correctly authenticated body whose decrypted Pad Length exceeds the plaintext is
/// refused as malformed (RFC 7296 3.14), after the integrity check.
#[test]
fn crypto_sk_bad_pad_length() {
    let hdr = header();
    // CBC: one block ending in Pad Length 16 (> 15 bytes before it).
    let key = [0x21u8; 16];
    let ik = [0x43u8; 32];
    let integ = Integ::HmacSha256_128;
    let sk = SkProtector::new(
        IkeCipher::AesCbc { key_bits: 128 },
        &key,
        Some(integ),
        Some(&ik),
    )
    .unwrap();
    let iv = [0x65u8; 16];
    let mut block = [0u8; 16];
    block[15] = 16;
    aes_cbc_encrypt_blocks(&key, &iv, &mut block).unwrap();
    let mut msg = [&hdr[..], &iv, &block].concat();
    let icv = integ.compute(&ik, &[&msg]);
    msg.extend_from_slice(&icv);
    assert!(matches!(
        sk.open(&msg, msg.len() - hdr.len()),
        Err(CryptoError::Malformed(_))
    ));
    // Pad Length 15 leaves zero bytes of payload: fine.
    block = [0u8; 16];
    block[15] = 15;
    aes_cbc_encrypt_blocks(&key, &iv, &mut block).unwrap();
    let mut msg = [&hdr[..], &iv, &block].concat();
    let icv = integ.compute(&ik, &[&msg]);
    msg.extend_from_slice(&icv);
    assert!(sk.open(&msg, msg.len() - hdr.len()).unwrap().is_empty());

    // GCM: 3 bytes of plaintext ending in Pad Length 3.
    let key_salt: Vec<u8> = (1u8..=20).collect();
    let sk =
        SkProtector::new(IkeCipher::AesGcm16 { key_bits: 128 }, &key_salt, None, None).unwrap();
    let iv = [9u8; 8];
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key_salt[16..]);
    nonce[4..].copy_from_slice(&iv);
    let ct = aes_gcm_seal(&key_salt[..16], &nonce, &hdr, &[7, 7, 3]).unwrap();
    let msg = [&hdr[..], &iv, &ct].concat();
    assert!(matches!(
        sk.open(&msg, msg.len() - hdr.len()),
        Err(CryptoError::Malformed(_))
    ));
    let ct = aes_gcm_seal(&key_salt[..16], &nonce, &hdr, &[7, 7, 1]).unwrap();
    let msg = [&hdr[..], &iv, &ct].concat();
    assert_eq!(
        &sk.open(&msg, msg.len() - hdr.len()).unwrap()[..],
        &[7u8][..]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn crypto_sk_open_arbitrary_bytes_never_panics(
        suite in 0usize..14,
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        body_len in 0usize..260,
    ) {
        let (cipher, integ) = suites()[suite];
        let sk = protector(cipher, integ, 6);
        prop_assert!(sk.open(&bytes, body_len).is_err());
    }

    #[test]
    fn crypto_sk_round_trip_arbitrary(
        suite in 0usize..14,
        pt in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in proptest::collection::vec(any::<u8>(), 0..40),
        seed in any::<u64>(),
    ) {
        let (cipher, integ) = suites()[suite];
        let sk = protector(cipher, integ, 7);
        let mut msg = prefix.clone();
        msg.resize(prefix.len() + sk.sealed_len(pt.len()), 0);
        sk.seal(&mut SeededRandom::new(seed), &mut msg, &pt).unwrap();
        prop_assert_eq!(&msg[..prefix.len()], &prefix[..]);
        let inner = sk.open(&msg, msg.len() - prefix.len()).unwrap();
        prop_assert_eq!(&inner[..], &pt[..]);
    }
}
