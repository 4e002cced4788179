//! The bare cryptography of one ESP packet per suite, the baseline of the benchmarks in
//! `esp.rs` (criterion) and `interleaved.rs` (see `esp.rs` for what exactly it does).

use aes::cipher::consts::{U12, U16};
use aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt,
    BlockSizeUser, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::AesGcm;
use esp::suite::{AesKeySize, Integrity};
use esp::{InboundSa, OutboundSa, SaConfig, Suite};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, AES_256_GCM};
use ring::hmac;
use subtle::ConstantTimeEq;

pub const SPI: u32 = 0x1000;

/// Deterministic key material for `suite`.
pub fn keymat(suite: Suite) -> Vec<u8> {
    (0..suite.key_material_len()).map(|i| i as u8).collect()
}

/// An SA pair with ESN (12-byte GCM AAD, 4 extra HMAC bytes), as the raw baseline assumes.
pub fn sa_pair(suite: Suite) -> (OutboundSa, InboundSa) {
    let cfg = SaConfig {
        esn: true,
        ..SaConfig::new(SPI, suite)
    };
    let k = keymat(suite);
    (
        OutboundSa::new(&cfg, &k).unwrap(),
        InboundSa::new(&cfg, &k).unwrap(),
    )
}

pub enum CbcKey {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

fn cbc_enc<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>>(
    c: &C,
    iv: &[u8; 16],
    d: &mut [u8],
) {
    let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(d);
    assert!(rest.is_empty());
    cbc::Encryptor::<&C>::inner_iv_init(c, iv.into()).encrypt_blocks(blocks);
}

fn cbc_dec<C: BlockCipherDecrypt + BlockSizeUser<BlockSize = U16>>(
    c: &C,
    iv: &[u8; 16],
    d: &mut [u8],
) {
    let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(d);
    assert!(rest.is_empty());
    cbc::Decryptor::<&C>::inner_iv_init(c, iv.into()).decrypt_blocks(blocks);
}

/// The bare cryptography of one ESP packet for a suite (see the module docs).
pub enum Raw {
    RingGcm(LessSafeKey, [u8; 4]),
    Gcm192(Box<AesGcm<aes_gcm::aes::Aes192, U12>>, [u8; 4]),
    Cbc {
        key: CbcKey,
        mac: hmac::Key,
        icv_len: usize,
    },
}

impl Raw {
    pub fn new(suite: Suite) -> Self {
        let k = keymat(suite);
        let (enc, integ) = k.split_at(suite.enc_key_len());
        match suite {
            Suite::AesGcm16(size) => {
                let (key, salt) = enc.split_at(size.key_len());
                let salt: [u8; 4] = salt.try_into().unwrap();
                match size {
                    AesKeySize::Aes128 => Raw::RingGcm(
                        LessSafeKey::new(UnboundKey::new(&AES_128_GCM, key).unwrap()),
                        salt,
                    ),
                    AesKeySize::Aes256 => Raw::RingGcm(
                        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap()),
                        salt,
                    ),
                    AesKeySize::Aes192 => {
                        Raw::Gcm192(Box::new(AesGcm::new_from_slice(key).unwrap()), salt)
                    }
                }
            }
            Suite::AesCbc(size, integrity) => {
                let key = match size {
                    AesKeySize::Aes128 => CbcKey::A128(Aes128::new_from_slice(enc).unwrap()),
                    AesKeySize::Aes192 => CbcKey::A192(Aes192::new_from_slice(enc).unwrap()),
                    AesKeySize::Aes256 => CbcKey::A256(Aes256::new_from_slice(enc).unwrap()),
                };
                let alg = match integrity {
                    Integrity::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    Integrity::HmacSha256_128 => hmac::HMAC_SHA256,
                    Integrity::HmacSha384_192 => hmac::HMAC_SHA384,
                    Integrity::HmacSha512_256 => hmac::HMAC_SHA512,
                };
                Raw::Cbc {
                    key,
                    mac: hmac::Key::new(alg, integ),
                    icv_len: integrity.icv_len(),
                }
            }
        }
    }

    fn nonce(salt: &[u8; 4], seq: u64) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(salt);
        n[4..].copy_from_slice(&seq.to_be_bytes());
        n
    }

    fn aad(seq: u64) -> [u8; 12] {
        let mut a = [0u8; 12];
        a[..4].copy_from_slice(&SPI.to_be_bytes());
        a[4..8].copy_from_slice(&((seq >> 32) as u32).to_be_bytes());
        a[8..].copy_from_slice(&(seq as u32).to_be_bytes());
        a
    }

    /// Seals `pkt` (header 8 | IV | body | ICV) in place, then opens it again.
    pub fn seal_open(&self, pkt: &mut [u8], iv_len: usize, seq: u64) {
        match self {
            Raw::RingGcm(key, salt) => {
                let (body, icv) = pkt.split_at_mut(pkt.len() - 16);
                let body = &mut body[8 + iv_len..];
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(Self::nonce(salt, seq)),
                        Aad::from(Self::aad(seq)),
                        body,
                    )
                    .unwrap();
                icv.copy_from_slice(tag.as_ref());
                let tag: [u8; 16] = (&*icv).try_into().unwrap();
                key.open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(Self::nonce(salt, seq)),
                    Aad::from(Self::aad(seq)),
                    Tag::from(tag),
                    body,
                    0..,
                )
                .unwrap();
            }
            Raw::Gcm192(key, salt) => {
                let (body, icv) = pkt.split_at_mut(pkt.len() - 16);
                let body = &mut body[8 + iv_len..];
                let nonce = Self::nonce(salt, seq);
                let tag = key
                    .encrypt_inout_detached(&nonce.into(), &Self::aad(seq), body.into())
                    .unwrap();
                icv.copy_from_slice(tag.as_slice());
                let tag: [u8; 16] = (&*icv).try_into().unwrap();
                key.decrypt_inout_detached(
                    &nonce.into(),
                    &Self::aad(seq),
                    body.into(),
                    &tag.into(),
                )
                .unwrap();
            }
            Raw::Cbc { key, mac, icv_len } => {
                let iv = [0x5au8; 16];
                let hi = ((seq >> 32) as u32).to_be_bytes();
                let (auth, icv) = pkt.split_at_mut(pkt.len() - icv_len);
                let body = &mut auth[8 + iv_len..];
                match key {
                    CbcKey::A128(c) => cbc_enc(c, &iv, body),
                    CbcKey::A192(c) => cbc_enc(c, &iv, body),
                    CbcKey::A256(c) => cbc_enc(c, &iv, body),
                }
                let mut ctx = hmac::Context::with_key(mac);
                ctx.update(auth);
                ctx.update(&hi);
                icv.copy_from_slice(&ctx.sign().as_ref()[..*icv_len]);
                let mut ctx = hmac::Context::with_key(mac);
                ctx.update(auth);
                ctx.update(&hi);
                assert!(bool::from(ctx.sign().as_ref()[..*icv_len].ct_eq(icv)));
                let body = &mut auth[8 + iv_len..];
                match key {
                    CbcKey::A128(c) => cbc_dec(c, &iv, body),
                    CbcKey::A192(c) => cbc_dec(c, &iv, body),
                    CbcKey::A256(c) => cbc_dec(c, &iv, body),
                }
            }
        }
    }
}
