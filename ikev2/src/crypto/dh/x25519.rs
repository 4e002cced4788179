//! Curve25519 key exchange for IKEv2 (RFC 8031, X25519 per RFC 7748), with x25519-dalek.

use super::super::{ct_eq, CryptoError};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

pub(crate) const LEN: usize = 32;

/// The private key from 32 bytes (clamped when used, RFC 7748 5).
pub(crate) fn private_from_bytes(bytes: &[u8]) -> Option<StaticSecret> {
    let arr: [u8; LEN] = bytes.try_into().ok()?;
    let arr = Zeroizing::new(arr);
    let sk = StaticSecret::from(*arr);
    Some(sk)
}

/// The 32-byte public value (RFC 8031 2).
pub(crate) fn public_value(sk: &StaticSecret) -> Vec<u8> {
    PublicKey::from(sk).as_bytes().to_vec()
}

/// X25519 with the peer's 32 bytes; an all-zero result is refused (RFC 8031 2.3).
pub(crate) fn agree(sk: &StaticSecret, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let arr: [u8; LEN] = peer.try_into().map_err(|_| {
        CryptoError::InvalidPublicValue("Curve25519 public value is not 32 bytes (RFC 8031 2)")
    })?;
    let shared = sk.diffie_hellman(&PublicKey::from(arr));
    if ct_eq(shared.as_bytes(), &[0u8; LEN]) {
        return Err(CryptoError::InvalidPublicValue(
            "Curve25519 shared secret is all zeros (RFC 8031 2.3)",
        ));
    }
    Ok(Zeroizing::new(shared.as_bytes().to_vec()))
}
