//! PRFs (RFC 7296 3.3.2 transform type 2) and prf+ (RFC 7296 2.13), HMAC via ring.

use super::{CryptoError, Prf, Secret};
use crate::wire::PrfId;
use ring::hmac;
use zeroize::Zeroizing;

impl Prf {
    /// HMAC-MD5 (1) is refused; AES128-XCBC and unknown PRFs are unsupported.
    pub fn from_id(id: PrfId) -> Result<Prf, CryptoError> {
        match id {
            PrfId::HMAC_SHA1 => Ok(Prf::HmacSha1),
            PrfId::HMAC_SHA2_256 => Ok(Prf::HmacSha256),
            PrfId::HMAC_SHA2_384 => Ok(Prf::HmacSha384),
            PrfId::HMAC_SHA2_512 => Ok(Prf::HmacSha512),
            PrfId::HMAC_MD5 => Err(CryptoError::Refused {
                what: "PRF_HMAC_MD5 (PRF 1)".into(),
                instead: "prfsha256 (PRF_HMAC_SHA2_256)",
            }),
            other => Err(CryptoError::Unsupported(format!("PRF {other}"))),
        }
    }

    pub fn id(self) -> PrfId {
        match self {
            Prf::HmacSha1 => PrfId::HMAC_SHA1,
            Prf::HmacSha256 => PrfId::HMAC_SHA2_256,
            Prf::HmacSha384 => PrfId::HMAC_SHA2_384,
            Prf::HmacSha512 => PrfId::HMAC_SHA2_512,
        }
    }

    /// Output length in bytes (also the preferred key length, RFC 7296 2.14).
    pub fn output_len(self) -> usize {
        match self {
            Prf::HmacSha1 => 20,
            Prf::HmacSha256 => 32,
            Prf::HmacSha384 => 48,
            Prf::HmacSha512 => 64,
        }
    }

    pub(crate) fn hmac_alg(self) -> hmac::Algorithm {
        match self {
            Prf::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Prf::HmacSha256 => hmac::HMAC_SHA256,
            Prf::HmacSha384 => hmac::HMAC_SHA384,
            Prf::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// prf(key, data[0] | data[1] | ...).
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Secret {
        let key = hmac::Key::new(self.hmac_alg(), key);
        let mut ctx = hmac::Context::with_key(&key);
        for d in data {
            ctx.update(d);
        }
        Secret::new(ctx.sign().as_ref().to_vec())
    }

    /// prf+ (RFC 7296 2.13): `len` bytes of T1 | T2 | ..., at most 255 iterations.
    /// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
    pub fn prf_plus(self, key: &[u8], seed: &[&[u8]], len: usize) -> Result<Secret, CryptoError> {
        let block = self.output_len();
        let max = block.saturating_mul(255);
        if len > max {
            return Err(CryptoError::Unsupported(format!(
                "prf+ output of {len} bytes (at most 255 iterations, {max} bytes, with {self:?})"
            )));
        }
        let key = hmac::Key::new(self.hmac_alg(), key);
        let mut out = Zeroizing::new(Vec::with_capacity(len.saturating_add(block)));
        let mut prev: Option<hmac::Tag> = None;
        let mut counter: u8 = 1;
        while out.len() < len {
            let mut ctx = hmac::Context::with_key(&key);
            if let Some(t) = &prev {
                ctx.update(t.as_ref());
            }
            for s in seed {
                ctx.update(s);
            }
            ctx.update(&[counter]);
            let t = ctx.sign();
            out.extend_from_slice(t.as_ref());
            prev = Some(t);
            // At most 255 iterations were checked above, so this never wraps while used.
            counter = counter.wrapping_add(1);
        }
        out.truncate(len);
        Ok(Secret(out))
    }
}
