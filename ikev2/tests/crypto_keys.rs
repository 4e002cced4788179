//! Key derivation (RFC 7296 2.13-2.15, 2.17, 2.18), algorithm identifiers and refusals, and
//! NAT detection hashes (2.23). Derived keys are cross-checked against a derivation written
//! out here from the prf and prf+ primitives (which crypto_kat.rs checks against published
//! vectors).

use ikev2::crypto::{
    child_keymat, derive_ike_sa_keys, derive_rekeyed_ike_sa_keys, nat_detection_hash, psk_auth,
    CryptoError, IkeCipher, IkeSaKeys, Integ, Prf,
};
use ikev2::wire::{EncrId, IntegId, PrfId};
use std::net::SocketAddr;

const PRFS: [Prf; 4] = [
    Prf::HmacSha1,
    Prf::HmacSha256,
    Prf::HmacSha384,
    Prf::HmacSha512,
];

fn suites() -> Vec<(IkeCipher, Option<Integ>)> {
    vec![
        (
            IkeCipher::AesCbc { key_bits: 128 },
            Some(Integ::HmacSha1_96),
        ),
        (
            IkeCipher::AesCbc { key_bits: 192 },
            Some(Integ::HmacSha384_192),
        ),
        (
            IkeCipher::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha256_128),
        ),
        (
            IkeCipher::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha512_256),
        ),
        (IkeCipher::AesGcm16 { key_bits: 128 }, None),
        (IkeCipher::AesGcm16 { key_bits: 256 }, None),
    ]
}

fn keys_vec(k: &IkeSaKeys) -> Vec<Vec<u8>> {
    [
        &k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The 2.14 split written out: lengths in order d, ai, ar, ei, er, pi, pr.
fn split(keymat: &[u8], lens: [usize; 7]) -> Vec<Vec<u8>> {
    let mut at = 0;
    lens.iter()
        .map(|l| {
            let v = keymat[at..at + l].to_vec();
            at += l;
            v
        })
        .collect()
}

#[test]
fn crypto_keys_ike_sa_lengths_and_cross_check() {
    let ni: Vec<u8> = (0..32).collect();
    let nr: Vec<u8> = (100..148).collect();
    let g_ir: Vec<u8> = (0..256).map(|i| (i * 7 + 1) as u8).collect();
    let (spi_i, spi_r) = (0x0102030405060708u64, 0x1112131415161718u64);
    for prf in PRFS {
        for (cipher, integ) in suites() {
            let keys =
                derive_ike_sa_keys(prf, cipher, integ, &ni, &nr, &g_ir, spi_i, spi_r).unwrap();
            let p = prf.output_len();
            let a = integ.map_or(0, |i| i.key_len());
            let e = match cipher {
                IkeCipher::AesCbc { key_bits } => key_bits as usize / 8,
                IkeCipher::AesGcm16 { key_bits } => key_bits as usize / 8 + 4,
            };
            let lens = [p, a, a, e, e, p, p];
            // SKEYSEED = prf(Ni | Nr, g^ir); prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
            let skeyseed = prf.compute(&[&ni[..], &nr[..]].concat(), &[&g_ir]);
            let seed = [&ni[..], &nr[..], &spi_i.to_be_bytes(), &spi_r.to_be_bytes()].concat();
            let total: usize = lens.iter().sum();
            let keymat = prf.prf_plus(skeyseed.as_bytes(), &[&seed], total).unwrap();
            assert_eq!(
                keys_vec(&keys),
                split(keymat.as_bytes(), lens),
                "{prf:?} {cipher:?}"
            );
            // Debug output never shows key bytes.
            let dbg = format!("{keys:?}");
            assert!(dbg.contains("redacted"));
            assert!(!dbg.contains(&format!("{:?}", keys.sk_d.as_bytes())));
        }
    }
}

#[test]
fn crypto_keys_integ_must_match_cipher_kind() {
    let cbc = IkeCipher::AesCbc { key_bits: 128 };
    let gcm = IkeCipher::AesGcm16 { key_bits: 128 };
    assert!(derive_ike_sa_keys(Prf::HmacSha256, cbc, None, b"n", b"n", b"g", 1, 2).is_err());
    assert!(derive_ike_sa_keys(
        Prf::HmacSha256,
        gcm,
        Some(Integ::HmacSha256_128),
        b"n",
        b"n",
        b"g",
        1,
        2
    )
    .is_err());
}

#[test]
fn crypto_keys_rekeyed_ike_sa() {
    let old_sk_d = [0x33u8; 48];
    let ni = [1u8; 32];
    let nr = [2u8; 32];
    let g_ir = [3u8; 64];
    let (spi_i, spi_r) = (77u64, 88u64);
    let (cipher, integ) = (
        IkeCipher::AesCbc { key_bits: 256 },
        Some(Integ::HmacSha256_128),
    );
    let keys = derive_rekeyed_ike_sa_keys(
        Prf::HmacSha384,
        &old_sk_d,
        Prf::HmacSha256,
        cipher,
        integ,
        &g_ir,
        &ni,
        &nr,
        spi_i,
        spi_r,
    )
    .unwrap();
    // RFC 7296 2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old PRF;
    // the keys with the new PRF.
    let skeyseed = Prf::HmacSha384.compute(&old_sk_d, &[&[&g_ir[..], &ni, &nr].concat()]);
    let seed = [&ni[..], &nr, &spi_i.to_be_bytes(), &spi_r.to_be_bytes()].concat();
    let lens = [32, 32, 32, 32, 32, 32, 32];
    let keymat = Prf::HmacSha256
        .prf_plus(skeyseed.as_bytes(), &[&seed], 224)
        .unwrap();
    assert_eq!(keys_vec(&keys), split(keymat.as_bytes(), lens));
}

#[test]
fn crypto_keys_child_keymat() {
    let sk_d = [5u8; 32];
    let (ni, nr, g) = ([6u8; 16], [7u8; 16], [8u8; 32]);
    let k = child_keymat(Prf::HmacSha256, &sk_d, None, &ni, &nr, 128).unwrap();
    let want = Prf::HmacSha256
        .prf_plus(&sk_d, &[&[&ni[..], &nr].concat()], 128)
        .unwrap();
    assert_eq!(k, want);
    let k = child_keymat(Prf::HmacSha256, &sk_d, Some(&g), &ni, &nr, 100).unwrap();
    let want = Prf::HmacSha256
        .prf_plus(&sk_d, &[&[&g[..], &ni, &nr].concat()], 100)
        .unwrap();
    assert_eq!(k, want);
    assert!(child_keymat(Prf::HmacSha1, &sk_d, None, &ni, &nr, 255 * 20 + 1).is_err());
}

#[test]
fn crypto_keys_prf_plus_structure() {
    for prf in PRFS {
        let n = prf.output_len();
        let (k, s) = (b"key".as_slice(), b"seed".as_slice());
        let out = prf.prf_plus(k, &[s], 3 * n).unwrap();
        // T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), T3 = prf(K, T2 | S | 0x03).
        let t1 = prf.compute(k, &[s, &[1]]);
        let t2 = prf.compute(k, &[t1.as_bytes(), s, &[2]]);
        let t3 = prf.compute(k, &[t2.as_bytes(), s, &[3]]);
        assert_eq!(&out.as_bytes()[..n], t1.as_bytes());
        assert_eq!(&out.as_bytes()[n..2 * n], t2.as_bytes());
        assert_eq!(&out.as_bytes()[2 * n..], t3.as_bytes());
        assert_eq!(
            prf.prf_plus(k, &[s], n + 1).unwrap().as_bytes(),
            &out.as_bytes()[..n + 1]
        );
        assert!(prf.prf_plus(k, &[s], 0).unwrap().is_empty());
        // At most 255 iterations (RFC 7296 2.13).
        let max = prf.prf_plus(k, &[s], 255 * n).unwrap();
        assert_eq!(max.len(), 255 * n);
        let t255 = &max.as_bytes()[254 * n..];
        let t254 = &max.as_bytes()[253 * n..254 * n];
        assert_eq!(prf.compute(k, &[t254, s, &[255]]).as_bytes(), t255);
        assert!(matches!(
            prf.prf_plus(k, &[s], 255 * n + 1),
            Err(CryptoError::Unsupported(_))
        ));
    }
}

#[test]
fn crypto_keys_psk_auth() {
    let (psk, msg, nonce, sk_p, id) = (
        b"secret",
        b"IKE_SA_INIT bytes",
        [9u8; 32],
        [4u8; 32],
        [1, 0, 0, 0, 10, 0, 0, 1],
    );
    for prf in PRFS {
        let got = psk_auth(prf, psk, msg, &nonce, &sk_p, &id);
        // RFC 7296 2.15, written out: the pad is the 17 ASCII bytes "Key Pad for IKEv2".
        let pad = [
            b'K', b'e', b'y', b' ', b'P', b'a', b'd', b' ', b'f', b'o', b'r', b' ', b'I', b'K',
            b'E', b'v', b'2',
        ];
        let key = prf.compute(psk, &[&pad]);
        let maced_id = prf.compute(&sk_p, &[&id]);
        let want = prf.compute(key.as_bytes(), &[msg, &nonce, maced_id.as_bytes()]);
        assert_eq!(&got[..], want.as_bytes());
        assert_eq!(got.len(), prf.output_len());
        assert_ne!(got, psk_auth(prf, b"secreT", msg, &nonce, &sk_p, &id));
    }
}

#[test]
fn crypto_keys_nat_detection_hash() {
    let v4: SocketAddr = "192.0.2.1:4500".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:500".parse().unwrap();
    let (spi_i, spi_r) = (0x8899aabbccddeeffu64, 0u64);
    let mut in4 = Vec::new();
    in4.extend_from_slice(&[
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    in4.extend_from_slice(&[192, 0, 2, 1, 0x11, 0x94]);
    let mut in6 = in4[..16].to_vec();
    in6.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xf4,
    ]);
    for (addr, input) in [(v4, in4), (v6, in6)] {
        let want = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
        assert_eq!(&nat_detection_hash(spi_i, spi_r, addr)[..], want.as_ref());
    }
    // SHA-1("abc") from FIPS 180-2 appendix A.1 pins the digest itself.
    let abc = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"abc");
    assert_eq!(
        abc.as_ref(),
        &[
            0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
            0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
        ]
    );
    assert_ne!(nat_detection_hash(1, 2, v4), nat_detection_hash(2, 1, v4));
}

#[test]
fn crypto_keys_algorithm_ids() {
    for prf in PRFS {
        assert_eq!(Prf::from_id(prf.id()), Ok(prf));
    }
    match Prf::from_id(PrfId::HMAC_MD5) {
        Err(CryptoError::Refused { instead, .. }) => assert!(instead.contains("sha256")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Prf::from_id(PrfId::AES128_XCBC),
        Err(CryptoError::Unsupported(_))
    ));
    assert!(matches!(
        Prf::from_id(PrfId(99)),
        Err(CryptoError::Unsupported(_))
    ));

    for (id, integ) in [
        (IntegId::HMAC_SHA1_96, Integ::HmacSha1_96),
        (IntegId::HMAC_SHA2_256_128, Integ::HmacSha256_128),
        (IntegId::HMAC_SHA2_384_192, Integ::HmacSha384_192),
        (IntegId::HMAC_SHA2_512_256, Integ::HmacSha512_256),
    ] {
        assert_eq!(Integ::from_id(id), Ok(integ));
    }
    match Integ::from_id(IntegId::HMAC_MD5_96) {
        Err(CryptoError::Refused { instead, .. }) => assert!(instead.contains("sha256")),
        other => panic!("{other:?}"),
    }
    for id in [IntegId::NONE, IntegId::AES_XCBC_96, IntegId(1000)] {
        assert!(
            matches!(Integ::from_id(id), Err(CryptoError::Unsupported(_))),
            "{id}"
        );
    }

    for bits in [128u16, 192, 256] {
        let c = IkeCipher::from_transform(EncrId::AES_CBC, Some(bits)).unwrap();
        assert_eq!(c, IkeCipher::AesCbc { key_bits: bits });
        assert_eq!(c.keymat_len(), bits as usize / 8);
        assert!(!c.is_aead());
    }
    for bits in [128u16, 256] {
        let c = IkeCipher::from_transform(EncrId::AES_GCM_16, Some(bits)).unwrap();
        assert_eq!(c.keymat_len(), bits as usize / 8 + 4);
        assert!(c.is_aead());
    }
    assert!(IkeCipher::from_transform(EncrId::AES_CBC, None).is_err());
    assert!(IkeCipher::from_transform(EncrId::AES_CBC, Some(64)).is_err());
    assert!(IkeCipher::from_transform(EncrId::AES_GCM_16, None).is_err());
    for id in [EncrId::DES_IV64, EncrId::DES, EncrId::DES3, EncrId::NULL] {
        match IkeCipher::from_transform(id, None) {
            Err(CryptoError::Refused { instead, .. }) => {
                assert_eq!(instead, "aes256gcm16 or aes256-sha256")
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    for id in [
        EncrId::AES_CTR,
        EncrId::AES_GCM_8,
        EncrId::CHACHA20_POLY1305,
        EncrId(999),
    ] {
        assert!(matches!(
            IkeCipher::from_transform(id, Some(256)),
            Err(CryptoError::Unsupported(_))
        ));
    }
}
