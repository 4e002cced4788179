//! AES-GCM for ESP (RFC 4106): nonce = 4-byte salt || 8-byte explicit IV (section 4), 16-byte
//! ICV, key material = AES key || salt (section 8.1).
//!
//! Two implementations ([`GcmBackend`]): ring for AES-128/256 (ring has no AES-192-GCM, so
//! that one uses RustCrypto `aes-gcm` under this backend), or aws-lc-rs for all three sizes.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::AeadInOut;
use aes_gcm::{AesGcm, KeyInit};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, AES_256_GCM};
use zeroize::Zeroizing;

use crate::gcm_backend::GcmBackend;
use crate::suite::AesKeySize;
use crate::wipe::WipeOnDrop;

/// ICV length of the `_16` GCM variant.
pub(crate) const GCM_ICV_LEN: usize = 16;
/// Salt length (RFC 4106 section 4).
pub(crate) const SALT_LEN: usize = 4;

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, U12>;

#[allow(clippy::large_enum_variant)] // one per SA, built once; inline keeps it in cache
enum GcmKey {
    Ring(WipeOnDrop<LessSafeKey>),
    // The key schedule lives in AWS-LC's heap and is overwritten when freed (`gcm_backend`).
    AwsLc(aws_lc_rs::aead::LessSafeKey),
    // Boxed once at SA creation (the key schedule and GHASH state are large); zeroized on
    // drop by aes-gcm's `zeroize` feature.
    Aes192(Box<Aes192Gcm>),
}

/// An AES-GCM key with its salt.
pub(crate) struct GcmCipher {
    key: GcmKey,
    salt: Zeroizing<[u8; SALT_LEN]>,
}

/// The AEAD rejected the ICV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthFailed;

impl GcmCipher {
    /// `material` is the AES key followed by the 4-byte salt.
    pub(crate) fn new(backend: GcmBackend, size: AesKeySize, material: &[u8]) -> Option<Self> {
        let key_len = size.key_len();
        if material.len() != key_len.checked_add(SALT_LEN)? {
            return None;
        }
        let (key_bytes, salt_bytes) = material.split_at(key_len);
        let mut salt = Zeroizing::new([0u8; SALT_LEN]);
        salt.copy_from_slice(salt_bytes);
        let key = match (backend, size) {
            (GcmBackend::AwsLc, size) => {
                use aws_lc_rs::aead::{UnboundKey, AES_128_GCM, AES_192_GCM, AES_256_GCM};
                let alg = match size {
                    AesKeySize::Aes128 => &AES_128_GCM,
                    AesKeySize::Aes192 => &AES_192_GCM,
                    AesKeySize::Aes256 => &AES_256_GCM,
                };
                GcmKey::AwsLc(aws_lc_rs::aead::LessSafeKey::new(
                    UnboundKey::new(alg, key_bytes).ok()?,
                ))
            }
            (GcmBackend::Ring, AesKeySize::Aes128) => GcmKey::Ring(WipeOnDrop::new(
                LessSafeKey::new(UnboundKey::new(&AES_128_GCM, key_bytes).ok()?),
            )),
            (GcmBackend::Ring, AesKeySize::Aes256) => GcmKey::Ring(WipeOnDrop::new(
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key_bytes).ok()?),
            )),
            (GcmBackend::Ring, AesKeySize::Aes192) => {
                GcmKey::Aes192(Box::new(Aes192Gcm::new_from_slice(key_bytes).ok()?))
            }
        };
        Some(Self { key, salt })
    }

    fn nonce(&self, iv: &[u8; 8]) -> [u8; 12] {
        let mut n = [0u8; 12];
        let (s, i) = n.split_at_mut(SALT_LEN);
        s.copy_from_slice(&self.salt[..]);
        i.copy_from_slice(iv);
        n
    }

    /// Encrypts `data` in place and writes the ICV into `icv` (16 bytes).
    ///
    /// The tag goes straight to its place in the packet: returned by value and copied there
    /// (as before), it was read back from the stack right after the AEAD's ~1.4 KB of
    /// stores, a load the CPU cannot forward from the stores that wrote it, so it waited for
    /// the whole packet's stores to drain (~0.7% of the sending worker's samples).
    pub(crate) fn seal(
        &self,
        iv: &[u8; 8],
        aad: &[u8],
        data: &mut [u8],
        icv: &mut [u8],
    ) -> Result<(), AuthFailed> {
        if icv.len() != GCM_ICV_LEN {
            return Err(AuthFailed);
        }
        let nonce = self.nonce(iv);
        match &self.key {
            GcmKey::Ring(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        data,
                    )
                    .map_err(|_| AuthFailed)?;
                icv.copy_from_slice(tag.as_ref());
                Ok(())
            }
            GcmKey::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                // No extra plaintext: the tag alone goes to `icv`.
                key.seal_in_place_scatter(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    data,
                    &[],
                    icv,
                )
                .map_err(|_| AuthFailed)
            }
            GcmKey::Aes192(key) => {
                let tag = key
                    .encrypt_inout_detached(&nonce.into(), aad, data.into())
                    .map_err(|_| AuthFailed)?;
                icv.copy_from_slice(tag.as_slice());
                Ok(())
            }
        }
    }

    /// Verifies `icv` and decrypts `data` in place; `data` is left unspecified on failure.
    pub(crate) fn open(
        &self,
        iv: &[u8; 8],
        aad: &[u8],
        data: &mut [u8],
        icv: &[u8; GCM_ICV_LEN],
    ) -> Result<(), AuthFailed> {
        let nonce = self.nonce(iv);
        match &self.key {
            GcmKey::Ring(key) => key
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    Tag::from(*icv),
                    data,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| AuthFailed),
            GcmKey::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                key.open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    icv,
                    data,
                )
                .map(|_| ())
                .map_err(|_| AuthFailed)
            }
            GcmKey::Aes192(key) => key
                .decrypt_inout_detached(&nonce.into(), aad, data.into(), &(*icv).into())
                .map_err(|_| AuthFailed),
        }
    }
}
