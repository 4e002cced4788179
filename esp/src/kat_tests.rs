//! Known-answer tests against published vectors, at the level of the crate's internal
//! transforms (so vectors with arbitrary IVs can be reproduced byte for byte).

use crate::aes_cbc_hmac::CbcHmacCipher;
use crate::gcm_backend::GcmBackend;
use crate::sa_cipher::{CryptoError, SaCipher};
use crate::suite::{AesKeySize, Integrity, Suite};
use crate::{DecapError, InboundSa, SaConfig};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An ESP test case of draft-mcgrew-gcm-test-01 section 4 ("Test Cases"): key, nonce =
/// salt || IV, AAD = SPI || [seq high ||] seq low, plaintext, ciphertext, tag.
struct GcmCase {
    name: &'static str,
    key: &'static str,
    nonce: &'static str,
    aad: &'static str,
    plaintext: &'static str,
    ciphertext: &'static str,
    tag: &'static str,
}

const GCM_CASES: &[GcmCase] = &[
    GcmCase {
        name: "case 1 (AES-128, ESN)",
        key: "4c80cdefbb5d10da906ac73c3613a634",
        nonce: "2e443b684956ed7e3b244cfe",
        aad: "000043218765432100000000",
        plaintext: "45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f756470037369700963796265726369747902646b000021000101020201",
        ciphertext: "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732",
        tag: "459018148f6cbe722fd04796562dfdb4",
    },
    GcmCase {
        name: "case 2 (AES-128)",
        key: "feffe9928665731c6d6a8f9467308308",
        nonce: "cafebabefacedbaddecaf888",
        aad: "0000a5f80000000a",
        plaintext: "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d001000001000000000000037369700963796265726369747902646b00000100010001",
        ciphertext: "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
        tag: "83b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    GcmCase {
        name: "case 3 (AES-256)",
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        nonce: "112233440102030405060708",
        aad: "4a2cbfe300000002",
        plaintext: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b40101040201020201",
        ciphertext: "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99def842d8e",
        tag: "b335f4eecfdbf831824b4c4915956c96",
    },
    GcmCase {
        name: "case 7 (AES-192)",
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c",
        nonce: "cafebabefacedbaddecaf888",
        aad: "0000a5f80000000a",
        plaintext: "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
        ciphertext: "a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0315b27452144cc77",
        tag: "95457b9652037f5318027b5b4cd7a636",
    },
    GcmCase {
        name: "case 12 (AES-128, seq 0xffffffff)",
        key: "7d773d00c144c525ac619d18c84a3f47",
        nonce: "d966426743457e9182443bc6",
        aad: "335467aeffffffff",
        plaintext: "01020201",
        ciphertext: "437f866b",
        tag: "cb3f699fe9b0822bac961c4504bef270",
    },
    GcmCase {
        name: "case 14 (AES-256, ESN seq 2^64-1)",
        key: "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
        nonce: "7475726e333021696765746d",
        aad: "796b6963ffffffffffffffff",
        plaintext: "45000030da3a00008001df3bc0a80005c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
        ciphertext: "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe821dcc63b9",
        tag: "d0937ba2945f669368661a329fb4c053",
    },
];

struct GcmPacket {
    suite: Suite,
    keymat: Vec<u8>,
    spi: u32,
    seq: u64,
    esn: bool,
    iv: Vec<u8>,
    /// The ESP packet of the vector: SPI || seq low || IV || ciphertext || tag.
    wire: Vec<u8>,
    plaintext: Vec<u8>,
}

fn gcm_packet(c: &GcmCase) -> GcmPacket {
    let key = hex(c.key);
    let nonce = hex(c.nonce);
    let aad = hex(c.aad);
    let size = match key.len() {
        16 => AesKeySize::Aes128,
        24 => AesKeySize::Aes192,
        _ => AesKeySize::Aes256,
    };
    let mut keymat = key.clone();
    keymat.extend_from_slice(&nonce[..4]);
    let esn = aad.len() == 12;
    let spi = u32::from_be_bytes(aad[..4].try_into().unwrap());
    let seq = if esn {
        u64::from_be_bytes(aad[4..12].try_into().unwrap())
    } else {
        u64::from(u32::from_be_bytes(aad[4..8].try_into().unwrap()))
    };
    let mut wire = aad[..4].to_vec();
    wire.extend_from_slice(&aad[aad.len() - 4..]);
    wire.extend_from_slice(&nonce[4..]);
    wire.extend_from_slice(&hex(c.ciphertext));
    wire.extend_from_slice(&hex(c.tag));
    GcmPacket {
        suite: Suite::AesGcm16(size),
        keymat,
        spi,
        seq,
        esn,
        iv: nonce[4..].to_vec(),
        wire,
        plaintext: hex(c.plaintext),
    }
}

#[test]
fn gcm_esp_vectors_seal_byte_exact() {
    for (c, b) in GCM_CASES
        .iter()
        .flat_map(|c| GcmBackend::ALL.map(|b| (c, b)))
    {
        let p = gcm_packet(c);
        let cipher = SaCipher::new(p.suite, b, &p.keymat).unwrap();
        // Build the cleartext packet per RFC 4303 figure 1: header, IV, payload+trailer, ICV.
        let mut pkt = p.wire[..8].to_vec();
        pkt.extend_from_slice(&[0; 8]);
        pkt.extend_from_slice(&p.plaintext);
        pkt.extend_from_slice(&[0; 16]);
        cipher.seal_with_iv(&mut pkt, p.seq, p.esn, &p.iv).unwrap();
        assert_eq!(pkt, p.wire, "{} ({b})", c.name);
    }
}

#[test]
fn gcm_esp_vectors_open_and_reject_tampering() {
    for (c, b) in GCM_CASES
        .iter()
        .flat_map(|c| GcmBackend::ALL.map(|b| (c, b)))
    {
        let p = gcm_packet(c);
        let cipher = SaCipher::new(p.suite, b, &p.keymat).unwrap();
        let mut pkt = p.wire.clone();
        cipher.open(&mut pkt, p.seq, p.esn).unwrap();
        assert_eq!(
            &pkt[16..pkt.len() - 16],
            &p.plaintext[..],
            "{} ({b})",
            c.name
        );

        for flip in [0usize, 5, 9, 20, p.wire.len() - 1] {
            let mut bad = p.wire.clone();
            bad[flip] ^= 0x80;
            assert_eq!(
                cipher.open(&mut bad, p.seq, p.esn),
                Err(CryptoError::BadIcv),
                "{} ({b}) byte {flip}",
                c.name
            );
        }
        if p.esn {
            // The high sequence bits are authenticated although not transmitted.
            let mut pkt = p.wire.clone();
            let wrong = p.seq ^ (1 << 40);
            assert_eq!(cipher.open(&mut pkt, wrong, true), Err(CryptoError::BadIcv));
        }
    }
}

/// The draft's packets carry next header 1, which a tunnel-mode SA must refuse; the packet
/// is authentic, so the window is updated first (RFC 4303 3.4.3 order) and a resend is a
/// replay.
#[test]
fn gcm_vector_packets_through_inbound_sa() {
    for (c, b) in GCM_CASES[1..4]
        .iter()
        .flat_map(|c| GcmBackend::ALL.map(|b| (c, b)))
    {
        let p = gcm_packet(c);
        let cfg = SaConfig {
            gcm_backend: b,
            ..SaConfig::new(p.spi, p.suite)
        };
        let sa = InboundSa::new(&cfg, &p.keymat).unwrap();
        let mut pkt = p.wire.clone();
        assert_eq!(
            sa.decapsulate(&mut pkt),
            Err(DecapError::BadNextHeader(1)),
            "{}",
            c.name
        );
        let mut pkt = p.wire.clone();
        assert_eq!(
            sa.decapsulate(&mut pkt),
            Err(DecapError::Replayed),
            "{}",
            c.name
        );
        let stats = sa.stats();
        assert_eq!(
            (stats.bad_next_header, stats.replayed, stats.packets),
            (1, 1, 0)
        );
        assert_eq!(sa.highest_seq(), p.seq);
    }
}

/// RFC 2202 (HMAC-SHA-1, truncated to 96 bits per RFC 2404) and RFC 4868 section 2.7.2
/// (HMAC-SHA-256-128/384-192/512-256, keys as long as the hash output).
#[test]
fn hmac_truncated_vectors() {
    let rfc2202_1 = "b617318655057264e28bc0b6fb378c8ef146be00";
    let cases: &[(Integrity, Vec<u8>, &[u8], &str)] = &[
        // RFC 2202 test case 1.
        (Integrity::HmacSha1_96, vec![0x0b; 20], b"Hi There", rfc2202_1),
        // RFC 2202 test case 5 gives HMAC-SHA-1-96 explicitly.
        (
            Integrity::HmacSha1_96,
            vec![0x0c; 20],
            b"Test With Truncation",
            "4c1a03424b55e07fe7f27be1",
        ),
        // RFC 4868 AUTH256-1, AUTH384-1, AUTH512-1.
        (
            Integrity::HmacSha256_128,
            vec![0x0b; 32],
            b"Hi There",
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
        ),
        (
            Integrity::HmacSha384_192,
            vec![0x0b; 48],
            b"Hi There",
            "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2",
        ),
        (
            Integrity::HmacSha512_256,
            vec![0x0b; 64],
            b"Hi There",
            "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b",
        ),
        // RFC 4868 AUTH256-2 / AUTH384-2: "Jefe" repeated to the key length.
        (
            Integrity::HmacSha256_128,
            b"Jefe".repeat(8),
            b"what do ya want for nothing?",
            "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6",
        ),
        (
            Integrity::HmacSha384_192,
            b"Jefe".repeat(12),
            b"what do ya want for nothing?",
            "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5349524ca4e82400cbde0686d403371c9",
        ),
    ];
    for (integ, key, data, full) in cases {
        let c = CbcHmacCipher::new(AesKeySize::Aes128, *integ, &[0u8; 16], key).unwrap();
        let expected = &hex(full)[..integ.icv_len()];
        let mut icv = vec![0u8; integ.icv_len()];
        c.write_icv(data, None, &mut icv).unwrap();
        assert_eq!(icv, expected, "{integ:?}");
        assert!(c.verify_icv(data, None, expected).is_ok());
        let mut bad = expected.to_vec();
        bad[0] ^= 1;
        assert!(c.verify_icv(data, None, &bad).is_err());
        // ESN: the high bits are appended to the MAC input only (RFC 4303 2.2.1).
        if data.len() > 4 {
            let (head, tail) = data.split_at(data.len() - 4);
            let hi = u32::from_be_bytes(tail.try_into().unwrap());
            c.write_icv(head, Some(hi), &mut icv).unwrap();
            assert_eq!(icv, expected, "{integ:?} with appended high bits");
        }
    }
}

/// NIST SP 800-38A F.2.1/F.2.3/F.2.5 (CBC-AES128/192/256 Encrypt) and F.2.2/4/6 (Decrypt).
#[test]
fn cbc_nist_sp800_38a() {
    let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let pt = hex(
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
         30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
    );
    let cases = [
        (
            AesKeySize::Aes128,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
             73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
        ),
        (
            AesKeySize::Aes192,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a
             571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
        ),
        (
            AesKeySize::Aes256,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
             39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
        ),
    ];
    for (size, key, ct) in cases {
        let c = CbcHmacCipher::new(size, Integrity::HmacSha256_128, &hex(key), &[0u8; 32]).unwrap();
        let mut buf = pt.clone();
        c.encrypt(&iv, &mut buf).unwrap();
        assert_eq!(buf, hex(ct), "{size:?} encrypt");
        c.decrypt(&iv, &mut buf).unwrap();
        assert_eq!(buf, pt, "{size:?} decrypt");
        assert!(c.encrypt(&iv, &mut buf[..15]).is_err());
    }
}

#[test]
fn cbc_iv_derivation_is_deterministic_distinct_and_key_dependent() {
    let a = CbcHmacCipher::new(
        AesKeySize::Aes256,
        Integrity::HmacSha1_96,
        &[1; 32],
        &[2; 20],
    )
    .unwrap();
    let b = CbcHmacCipher::new(
        AesKeySize::Aes256,
        Integrity::HmacSha1_96,
        &[3; 32],
        &[2; 20],
    )
    .unwrap();
    let ivs: std::collections::HashSet<[u8; 16]> = (1..=1000u64).map(|s| a.derive_iv(s)).collect();
    assert_eq!(ivs.len(), 1000);
    assert_eq!(a.derive_iv(7), a.derive_iv(7));
    assert_ne!(a.derive_iv(7), b.derive_iv(7));
    // Not the sequence number encrypted under the data key itself (separate IV key).
    assert_ne!(a.derive_iv(7)[8..], 7u64.to_be_bytes());
}
