//! ECP groups 19 (P-256) and 20 (P-384) per RFC 5903, with RustCrypto `p256`/`p384`.
//!
//! ring is not used here: its ECDH API only generates its own ephemeral private keys from
//! its own RNG and cannot take a caller-supplied private value, which the injected
//! [`Random`](super::super::Random) and the RFC 5903 known-answer tests need.

use super::super::CryptoError;
use zeroize::Zeroizing;

macro_rules! ecp_curve {
    ($modname:ident, $krate:ident, $len:expr) => {
        pub(crate) mod $modname {
            use super::*;
            use $krate::elliptic_curve::sec1::ToEncodedPoint;
            use $krate::{FieldBytes, PublicKey, SecretKey};

            /// Coordinate (and scalar) length in bytes.
            pub(crate) const LEN: usize = $len;

            /// A private scalar 0 < k < n from exactly `LEN` big-endian bytes.
            pub(crate) fn private_from_bytes(bytes: &[u8]) -> Option<SecretKey> {
                if bytes.len() != LEN {
                    return None;
                }
                SecretKey::from_bytes(FieldBytes::from_slice(bytes)).ok()
            }

            /// x | y without the SEC1 0x04 prefix (RFC 5903 section 7).
            pub(crate) fn public_value(sk: &SecretKey) -> Vec<u8> {
                let point = sk.public_key().to_encoded_point(false);
                point.as_bytes().get(1..).unwrap_or_default().to_vec()
            }

            /// Validates the peer's x | y (exact length, point on the curve, RFC 6989 2.3;
            /// the identity has no x | y encoding) and returns the x coordinate of the shared
            /// point (RFC 5903 section 7).
            pub(crate) fn agree(
                sk: &SecretKey,
                peer: &[u8],
            ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
                if peer.len() != 2 * LEN {
                    return Err(CryptoError::InvalidPublicValue(
                        "ECP public value length is not twice the coordinate length (RFC 5903 7)",
                    ));
                }
                let mut sec1 = Vec::with_capacity(1 + 2 * LEN);
                sec1.push(0x04);
                sec1.extend_from_slice(peer);
                let pk = PublicKey::from_sec1_bytes(&sec1).map_err(|_| {
                    CryptoError::InvalidPublicValue("ECP public value is not a point on the curve")
                })?;
                let shared = $krate::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
            }
        }
    };
}

ecp_curve!(p256c, p256, 32);
ecp_curve!(p384c, p384, 48);
