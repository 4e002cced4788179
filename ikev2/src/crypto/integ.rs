//! Integrity algorithms (RFC 7296 3.3.2 transform type 3): truncated HMACs per RFC 2404
//! (HMAC-SHA1-96) and RFC 4868 (HMAC-SHA2-256-128, -384-192, -512-256), via ring.

use super::{CryptoError, Integ};
use crate::wire::IntegId;
use ring::hmac;

impl Integ {
    /// HMAC-MD5-96 (1) is refused; NONE, AES-XCBC-96 and unknown values are unsupported.
    pub fn from_id(id: IntegId) -> Result<Integ, CryptoError> {
        match id {
            IntegId::HMAC_SHA1_96 => Ok(Integ::HmacSha1_96),
            IntegId::HMAC_SHA2_256_128 => Ok(Integ::HmacSha256_128),
            IntegId::HMAC_SHA2_384_192 => Ok(Integ::HmacSha384_192),
            IntegId::HMAC_SHA2_512_256 => Ok(Integ::HmacSha512_256),
            IntegId::HMAC_MD5_96 => Err(CryptoError::Refused {
                what: "AUTH_HMAC_MD5_96 (integrity 1)".into(),
                instead: "sha256 (AUTH_HMAC_SHA2_256_128)",
            }),
            other => Err(CryptoError::Unsupported(format!(
                "integrity algorithm {other}"
            ))),
        }
    }

    pub fn id(self) -> IntegId {
        match self {
            Integ::HmacSha1_96 => IntegId::HMAC_SHA1_96,
            Integ::HmacSha256_128 => IntegId::HMAC_SHA2_256_128,
            Integ::HmacSha384_192 => IntegId::HMAC_SHA2_384_192,
            Integ::HmacSha512_256 => IntegId::HMAC_SHA2_512_256,
        }
    }

    /// Key length in bytes (RFC 2404 / RFC 4868: the hash output length).
    pub fn key_len(self) -> usize {
        match self {
            Integ::HmacSha1_96 => 20,
            Integ::HmacSha256_128 => 32,
            Integ::HmacSha384_192 => 48,
            Integ::HmacSha512_256 => 64,
        }
    }

    /// Truncated ICV length in bytes.
    pub fn icv_len(self) -> usize {
        match self {
            Integ::HmacSha1_96 => 12,
            Integ::HmacSha256_128 => 16,
            Integ::HmacSha384_192 => 24,
            Integ::HmacSha512_256 => 32,
        }
    }

    fn hmac_alg(self) -> hmac::Algorithm {
        match self {
            Integ::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integ::HmacSha256_128 => hmac::HMAC_SHA256,
            Integ::HmacSha384_192 => hmac::HMAC_SHA384,
            Integ::HmacSha512_256 => hmac::HMAC_SHA512,
        }
    }

    /// Truncated HMAC over `data` (the leftmost `icv_len()` bytes, RFC 2104 section 5).
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
        let key = hmac::Key::new(self.hmac_alg(), key);
        let mut ctx = hmac::Context::with_key(&key);
        for d in data {
            ctx.update(d);
        }
        let tag = ctx.sign();
        let full = tag.as_ref();
        full.get(..self.icv_len()).unwrap_or(full).to_vec()
    }
}
