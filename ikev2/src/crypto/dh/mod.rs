//! Key exchange (RFC 7296 3.4): MODP groups 2, 14, 24, ECP groups 19, 20 (RFC 5903) and
//! Curve25519 (RFC 8031), with the peer public value checks of RFC 6989.

mod ecp;
mod modp;
mod x25519;

use super::{CryptoError, Random, Secret};
use crate::wire::DhGroup;
use crypto_bigint::U256;
use modp::Modp;
use zeroize::Zeroizing;

/// Tries before giving up on a generator that keeps producing unusable private values
/// (for a working generator the chance of even one retry is below 2^-32 except group 24,
/// where about half of all 256-bit values exceed q).
const MAX_TRIES: usize = 128;

#[derive(Clone)]
enum Private {
    Modp(Modp, Zeroizing<U256>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    X25519(x25519_dalek::StaticSecret),
}

/// An ephemeral key-exchange private value with its public value (RFC 7296 3.4).
#[derive(Clone)]
pub struct KeyExchange {
    group: DhGroup,
    private: Private,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("public_len", &self.public.len())
            .finish_non_exhaustive()
    }
}

impl KeyExchange {
    /// Refuses MODP768 (group 1) by design and names a replacement; Unsupported for unknown.
    pub fn check_group(group: DhGroup) -> Result<(), CryptoError> {
        match group {
            DhGroup::MODP1024
            | DhGroup::MODP2048
            | DhGroup::MODP2048_256
            | DhGroup::ECP256
            | DhGroup::ECP384
            | DhGroup::CURVE25519 => Ok(()),
            DhGroup::MODP768 => Err(CryptoError::Refused {
                what: "modp768 (DH group 1)".into(),
                instead: "ecp256 (19) or modp2048 (14)",
            }),
            other => Err(CryptoError::Unsupported(format!(
                "key exchange group {other} ({})",
                other.0
            ))),
        }
    }

    pub fn generate(group: DhGroup, rng: &mut dyn Random) -> Result<KeyExchange, CryptoError> {
        Self::check_group(group)?;
        let len = private_len(group);
        let mut buf = Zeroizing::new(vec![0u8; len]);
        for _ in 0..MAX_TRIES {
            rng.fill(&mut buf);
            if let Some(kx) = Self::from_private(group, &buf)? {
                return Ok(kx);
            }
        }
        Err(CryptoError::Unsupported(format!(
            "no valid private value for group {group} after {MAX_TRIES} random draws"
        )))
    }

    /// A key exchange with a caller-chosen private value, for known-answer tests (RFC 5903
    /// section 8, RFC 7748 6.1, RFC 5114 A.3). Ok(None) if the value is not a valid private
    /// value for the group (ECP: 0 or >= n, exact length; MODP: 32 bytes at most, >= 2 and
    /// for group 24 < q; Curve25519: exactly 32 bytes).
    #[doc(hidden)]
    pub fn from_private(group: DhGroup, bytes: &[u8]) -> Result<Option<KeyExchange>, CryptoError> {
        Self::check_group(group)?;
        let private = match group {
            DhGroup::MODP1024 | DhGroup::MODP2048 | DhGroup::MODP2048_256 => {
                let m = match group {
                    DhGroup::MODP1024 => Modp::G2,
                    DhGroup::MODP2048 => Modp::G14,
                    _ => Modp::G24,
                };
                match modp::exponent_from_bytes(bytes) {
                    Some(x) if m.private_ok(&x) => Private::Modp(m, x),
                    _ => return Ok(None),
                }
            }
            DhGroup::ECP256 => match ecp::p256c::private_from_bytes(bytes) {
                Some(k) => Private::P256(k),
                None => return Ok(None),
            },
            DhGroup::ECP384 => match ecp::p384c::private_from_bytes(bytes) {
                Some(k) => Private::P384(k),
                None => return Ok(None),
            },
            _ => match x25519::private_from_bytes(bytes) {
                Some(k) => Private::X25519(k),
                None => return Ok(None),
            },
        };
        let public = match &private {
            Private::Modp(m, x) => m.public_value(x),
            Private::P256(k) => ecp::p256c::public_value(k),
            Private::P384(k) => ecp::p384c::public_value(k),
            Private::X25519(k) => x25519::public_value(k),
        };
        Ok(Some(KeyExchange {
            group,
            private,
            public,
        }))
    }

    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public value as it goes in the KE payload.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// Validate the peer's public value (length and RFC 6989 checks) and compute g^ir.
    pub fn agree(&self, peer: &[u8]) -> Result<Secret, CryptoError> {
        let shared = match &self.private {
            Private::Modp(m, x) => m.agree(x, peer)?,
            Private::P256(k) => ecp::p256c::agree(k, peer)?,
            Private::P384(k) => ecp::p384c::agree(k, peer)?,
            Private::X25519(k) => x25519::agree(k, peer)?,
        };
        Ok(Secret(shared))
    }
}

/// Bytes of randomness drawn per private value candidate.
fn private_len(group: DhGroup) -> usize {
    match group {
        DhGroup::ECP256 => ecp::p256c::LEN,
        DhGroup::ECP384 => ecp::p384c::LEN,
        DhGroup::CURVE25519 => x25519::LEN,
        _ => modp::EXP_BYTES,
    }
}
