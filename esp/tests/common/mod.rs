#![allow(dead_code)]
//! Helpers shared by the integration tests.

use esp::{InboundSa, OutboundSa, SaConfig, Suite};

pub const SPI: u32 = 0x1234_5678;

/// Deterministic, suite-sized key material.
pub fn keymat(suite: Suite) -> Vec<u8> {
    (0..suite.key_material_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

pub fn config(suite: Suite, esn: bool) -> SaConfig {
    SaConfig {
        esn,
        ..SaConfig::new(SPI, suite)
    }
}

pub fn pair(suite: Suite, esn: bool) -> (OutboundSa, InboundSa) {
    let cfg = config(suite, esn);
    let k = keymat(suite);
    (
        OutboundSa::new(&cfg, &k).unwrap(),
        InboundSa::new(&cfg, &k).unwrap(),
    )
}

/// A buffer with `esp::MAX_HEADROOM` before and `esp::MAX_TAILROOM` after `inner`.
pub fn framed(inner: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let mut buf = vec![0u8; esp::MAX_HEADROOM];
    buf.extend_from_slice(inner);
    buf.extend(std::iter::repeat_n(0u8, esp::MAX_TAILROOM));
    (buf, esp::MAX_HEADROOM..esp::MAX_HEADROOM + inner.len())
}

/// A fake IPv4 packet of `len` bytes (first nibble 4 when non-empty).
pub fn inner_packet(len: usize, seed: u8) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| (i as u8) ^ seed).collect();
    if let Some(b) = p.first_mut() {
        *b = 0x45;
    }
    p
}

/// Builds an AES-GCM ESP packet with ring directly, independent of the crate: RFC 4303
/// figure 2 layout with an arbitrary plaintext (payload + whatever trailer the test wants),
/// nonce = salt || seq (RFC 4106 section 4), AAD = SPI || seq (RFC 4106 section 5).
pub fn ring_gcm_packet(keymat: &[u8], spi: u32, seq: u32, plaintext: &[u8]) -> Vec<u8> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
    let (key, salt) = keymat.split_at(keymat.len() - 4);
    let alg = if key.len() == 16 {
        &AES_128_GCM
    } else {
        &AES_256_GCM
    };
    let key = LessSafeKey::new(UnboundKey::new(alg, key).unwrap());
    let iv = u64::from(seq).to_be_bytes();
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(&iv);
    let mut aad = spi.to_be_bytes().to_vec();
    aad.extend_from_slice(&seq.to_be_bytes());
    let mut body = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut body,
        )
        .unwrap();
    let mut pkt = aad.clone();
    pkt.extend_from_slice(&iv);
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(tag.as_ref());
    pkt
}
