//! Cryptography for the IKE SA (RFC 7296 2.13-2.15, 2.17-2.18; RFC 5282 for AES-GCM in SK).
//!
//! Backends: `ring` for HMAC and AES-GCM-128/256; RustCrypto only where ring lacks the
//! primitive or cannot take a caller-supplied private key (AES-CBC, AES-192, ECDH/X25519 with
//! injected randomness for deterministic tests, MODP arithmetic). Nothing here reads a clock or
//! ambient randomness: every random byte comes from the caller's [`Random`].

mod auth;
mod cipher;
mod dh;
mod integ;
mod keys;
mod nat;
mod prf;
mod random;

pub use auth::psk_auth;
pub use cipher::SkProtector;
#[doc(hidden)]
pub use cipher::{aes_cbc_encrypt_blocks, aes_gcm_seal};
pub use dh::KeyExchange;
pub use keys::{child_keymat, derive_ike_sa_keys, derive_rekeyed_ike_sa_keys, IkeSaKeys};
pub use nat::nat_detection_hash;
pub use random::{OsRandom, SeededRandom};

use zeroize::Zeroizing;

/// Key material: zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.0.len())
    }
}

/// The source of every random byte the protocol uses (SPIs, nonces, IVs, DH private values,
/// padding). The gateway passes an OS-backed one; tests pass a seeded one.
pub trait Random {
    fn fill(&mut self, out: &mut [u8]);
}

/// Errors from the crypto layer. `Refused` names the secure replacement to configure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{what} is refused by design: {instead}")]
    Refused { what: String, instead: &'static str },
    #[error("unsupported {0}")]
    Unsupported(String),
    #[error("invalid peer public value: {0}")]
    InvalidPublicValue(&'static str),
    #[error("integrity check failed")]
    IntegrityFailed,
    #[error("malformed encrypted payload: {0}")]
    Malformed(&'static str),
}

/// A pseudo-random function (RFC 7296 3.3.2 transform type 2). Implemented in `prf.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prf {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

/// Encryption for the SK payload (RFC 7296 3.14; RFC 5282 for GCM). Implemented in
/// `cipher.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IkeCipher {
    /// AES-CBC with 128/192/256-bit keys; needs a separate integrity algorithm.
    AesCbc { key_bits: u16 },
    /// AES-GCM with a 16-byte ICV, 128/256-bit keys; integrity must be NONE.
    AesGcm16 { key_bits: u16 },
}

/// Integrity algorithm (transform type 3). Implemented in `integ.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integ {
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

/// Constant-time comparison for ICVs and AUTH values.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
