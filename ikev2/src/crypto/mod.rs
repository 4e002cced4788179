//! Cryptography for the IKE SA (RFC 7296 2.13-2.15, 2.17-2.18; RFC 5282 for AES-GCM in SK).
//!
//! Backends: `ring` for HMAC and AES-GCM-128/256; RustCrypto only where ring lacks the
//! primitive or cannot take a caller-supplied private key (AES-CBC, AES-192, ECDH/X25519 with
//! injected randomness for deterministic tests, MODP arithmetic). Nothing here reads a clock or
//! ambient randomness: every random byte comes from the caller's [`Random`].

use crate::wire::{DhGroup, EncrId, IntegId, PrfId};
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

/// A pseudo-random function (RFC 7296 3.3.2 transform type 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prf {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Prf {
    pub fn from_id(id: PrfId) -> Result<Prf, CryptoError> {
        let _ = id;
        todo!("crypto")
    }
    pub fn id(self) -> PrfId {
        todo!("crypto")
    }
    /// Output length in bytes (also the preferred key length, RFC 7296 2.14).
    pub fn output_len(self) -> usize {
        todo!("crypto")
    }
    /// prf(key, data[0] | data[1] | ...).
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Secret {
        let _ = (key, data);
        todo!("crypto")
    }
    /// prf+ (RFC 7296 2.13): `len` bytes of T1 | T2 | ..., at most 255 iterations.
    pub fn prf_plus(self, key: &[u8], seed: &[&[u8]], len: usize) -> Result<Secret, CryptoError> {
        let _ = (key, seed, len);
        todo!("crypto")
    }
}

/// Encryption for the SK payload (RFC 7296 3.14; RFC 5282 for GCM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IkeCipher {
    /// AES-CBC with 128/192/256-bit keys; needs a separate integrity algorithm.
    AesCbc { key_bits: u16 },
    /// AES-GCM with a 16-byte ICV, 128/256-bit keys; integrity must be NONE.
    AesGcm16 { key_bits: u16 },
}

impl IkeCipher {
    /// From the negotiated ENCR transform and its Key Length attribute.
    pub fn from_transform(id: EncrId, key_bits: Option<u16>) -> Result<IkeCipher, CryptoError> {
        let _ = (id, key_bits);
        todo!("crypto")
    }
    /// Bytes of key material prf+ must produce for SK_ei/SK_er (GCM: key + 4-byte salt).
    pub fn keymat_len(self) -> usize {
        todo!("crypto")
    }
    pub fn is_aead(self) -> bool {
        matches!(self, IkeCipher::AesGcm16 { .. })
    }
}

/// Integrity algorithm (transform type 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integ {
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

impl Integ {
    pub fn from_id(id: IntegId) -> Result<Integ, CryptoError> {
        let _ = id;
        todo!("crypto")
    }
    /// Key length in bytes (RFC 2404 / RFC 4868).
    pub fn key_len(self) -> usize {
        todo!("crypto")
    }
    /// Truncated ICV length in bytes.
    pub fn icv_len(self) -> usize {
        todo!("crypto")
    }
    /// Truncated HMAC over `data`.
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
        let _ = (key, data);
        todo!("crypto")
    }
}

/// Seals and opens SK payloads for one direction of an IKE SA.
pub struct SkProtector {
    _private: (),
}

impl SkProtector {
    /// `enc_key` is SK_ei or SK_er as prf+ produced it (GCM: key followed by 4-byte salt);
    /// `integ` and `integ_key` (SK_ai/SK_ar) are None for AEAD ciphers.
    pub fn new(
        cipher: IkeCipher,
        enc_key: &[u8],
        integ: Option<Integ>,
        integ_key: Option<&[u8]>,
    ) -> Result<SkProtector, CryptoError> {
        let _ = (cipher, enc_key, integ, integ_key);
        todo!("crypto")
    }
    /// Length of the SK payload body (IV, padded ciphertext including the pad-length byte,
    /// ICV) for `plaintext_len` bytes of inner payloads.
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        let _ = plaintext_len;
        todo!("crypto")
    }
    /// `message` is the whole encoded message whose last `sealed_len(plaintext.len())` bytes
    /// are the SK body (content ignored). Writes IV, ciphertext and ICV there. The ICV covers
    /// (CBC) or the AAD is (GCM) everything before it as RFC 7296 3.14 / RFC 5282 5 say.
    pub fn seal(
        &self,
        rng: &mut dyn Random,
        message: &mut [u8],
        plaintext: &[u8],
    ) -> Result<(), CryptoError> {
        let _ = (rng, message, plaintext);
        todo!("crypto")
    }
    /// `message` is the whole received message whose last `body_len` bytes are the SK body.
    /// Verifies the ICV, decrypts, strips padding and returns the inner payload chain bytes.
    pub fn open(&self, message: &[u8], body_len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let _ = (message, body_len);
        todo!("crypto")
    }
}

/// An ephemeral key-exchange private value with its public value (RFC 7296 3.4).
pub struct KeyExchange {
    _private: (),
}

impl KeyExchange {
    /// Refuses MODP768 (group 1) by design and names a replacement; Unsupported for unknown.
    pub fn check_group(group: DhGroup) -> Result<(), CryptoError> {
        let _ = group;
        todo!("crypto")
    }
    pub fn generate(group: DhGroup, rng: &mut dyn Random) -> Result<KeyExchange, CryptoError> {
        let _ = (group, rng);
        todo!("crypto")
    }
    pub fn group(&self) -> DhGroup {
        todo!("crypto")
    }
    /// The public value as it goes in the KE payload.
    pub fn public_value(&self) -> &[u8] {
        todo!("crypto")
    }
    /// Validate the peer's public value (length and RFC 6989 checks) and compute g^ir.
    pub fn agree(&self, peer: &[u8]) -> Result<Secret, CryptoError> {
        let _ = peer;
        todo!("crypto")
    }
}

/// The seven IKE SA keys (RFC 7296 2.14).
#[derive(Debug)]
pub struct IkeSaKeys {
    pub sk_d: Secret,
    pub sk_ai: Secret,
    pub sk_ar: Secret,
    pub sk_ei: Secret,
    pub sk_er: Secret,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
}

/// SKEYSEED = prf(Ni | Nr, g^ir) and the keys from prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
/// (RFC 7296 2.14). For PRFs with fixed key sizes the nonce halves are used as 2.14 says.
pub fn derive_ike_sa_keys(
    prf: Prf,
    cipher: IkeCipher,
    integ: Option<Integ>,
    ni: &[u8],
    nr: &[u8],
    g_ir: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let _ = (prf, cipher, integ, ni, nr, g_ir, spi_i, spi_r);
    todo!("crypto")
}

/// Keys of an IKE SA created by rekeying (RFC 7296 2.18):
/// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's PRF.
#[allow(clippy::too_many_arguments)]
pub fn derive_rekeyed_ike_sa_keys(
    old_prf: Prf,
    old_sk_d: &[u8],
    new_prf: Prf,
    cipher: IkeCipher,
    integ: Option<Integ>,
    g_ir: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let _ = (old_prf, old_sk_d, new_prf, cipher, integ, g_ir, ni, nr, spi_i, spi_r);
    todo!("crypto")
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 2.17), `len` bytes. The caller splits
/// it: initiator-to-responder encryption key then integrity key, then the same for the other
/// direction.
pub fn child_keymat(
    prf: Prf,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    let _ = (prf, sk_d, g_ir, ni, nr, len);
    todo!("crypto")
}

/// AUTH for a pre-shared key (RFC 7296 2.15):
/// prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | NonceData | prf(SK_p, RestOfIDPayload)).
/// `message` is the sender's IKE_SA_INIT message, `peer_nonce` the other side's nonce data,
/// `sk_p` the sender's SK_pi/SK_pr and `id_body` from [`crate::wire::id_payload_body`].
pub fn psk_auth(prf: Prf, psk: &[u8], message: &[u8], peer_nonce: &[u8], sk_p: &[u8], id_body: &[u8]) -> Vec<u8> {
    let _ = (prf, psk, message, peer_nonce, sk_p, id_body);
    todo!("crypto")
}

/// NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | port) (RFC 7296 2.23).
pub fn nat_detection_hash(spi_i: u64, spi_r: u64, addr: std::net::SocketAddr) -> [u8; 20] {
    let _ = (spi_i, spi_r, addr);
    todo!("crypto")
}

/// Constant-time comparison for ICVs and AUTH values.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
