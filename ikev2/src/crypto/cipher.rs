//! The SK payload's encryption (RFC 7296 3.14) with AES-CBC + HMAC, and AES-GCM with a
//! 16-byte ICV (RFC 5282). AES-CBC comes from RustCrypto (`aes` + `cbc`: ring has no CBC
//! mode); AES-GCM from ring.

use super::{ct_eq, CryptoError, IkeCipher, Integ, Random};
use crate::wire::EncrId;
use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use ring::aead;
use zeroize::Zeroizing;

/// AES block size; also the CBC IV length (RFC 3602 section 2.1).
const AES_BLOCK: usize = 16;
/// GCM explicit IV carried in the SK payload (RFC 5282 section 3.1).
const GCM_IV: usize = 8;
/// GCM salt: the last 4 bytes of SK_e* (RFC 5282 section 7.1).
const GCM_SALT: usize = 4;
/// AES-GCM ICV length for ENCR_AES_GCM_16 (RFC 5282 section 3).
const GCM_TAG: usize = 16;

const REFUSED_CIPHER_INSTEAD: &str = "aes256gcm16 or aes256-sha256";

impl IkeCipher {
    /// From the negotiated ENCR transform and its Key Length attribute (RFC 7296 3.3.5:
    /// AES requires the attribute). DES, 3DES and NULL are refused by design.
    pub fn from_transform(id: EncrId, key_bits: Option<u16>) -> Result<IkeCipher, CryptoError> {
        match id {
            EncrId::AES_CBC => match key_bits {
                Some(bits @ (128 | 192 | 256)) => Ok(IkeCipher::AesCbc { key_bits: bits }),
                Some(bits) => Err(CryptoError::Unsupported(format!(
                    "AES-CBC key length {bits} bits"
                ))),
                None => Err(CryptoError::Unsupported(
                    "AES-CBC without a Key Length attribute (RFC 7296 3.3.5)".into(),
                )),
            },
            EncrId::AES_GCM_16 => match key_bits {
                Some(bits @ (128 | 256)) => Ok(IkeCipher::AesGcm16 { key_bits: bits }),
                Some(bits) => Err(CryptoError::Unsupported(format!(
                    "AES-GCM-16 key length {bits} bits (128 and 256 are supported)"
                ))),
                None => Err(CryptoError::Unsupported(
                    "AES-GCM-16 without a Key Length attribute (RFC 7296 3.3.5)".into(),
                )),
            },
            EncrId::DES_IV64 | EncrId::DES | EncrId::DES3 | EncrId::NULL => {
                Err(CryptoError::Refused {
                    what: format!("encryption algorithm {id} ({})", id.0),
                    instead: REFUSED_CIPHER_INSTEAD,
                })
            }
            other => Err(CryptoError::Unsupported(format!(
                "encryption algorithm {other}"
            ))),
        }
    }

    /// Bytes of key material prf+ must produce for SK_ei/SK_er (GCM: key + 4-byte salt,
    /// RFC 5282 section 7.1).
    pub fn keymat_len(self) -> usize {
        match self {
            IkeCipher::AesCbc { key_bits } => usize::from(key_bits / 8),
            // key_bits / 8 <= 8191, so adding the 4-byte salt cannot overflow.
            IkeCipher::AesGcm16 { key_bits } => usize::from(key_bits / 8).saturating_add(GCM_SALT),
        }
    }

    pub fn is_aead(self) -> bool {
        matches!(self, IkeCipher::AesGcm16 { .. })
    }
}

#[derive(Clone)]
enum Mode {
    Cbc {
        key: Zeroizing<Vec<u8>>,
        integ: Integ,
        integ_key: Zeroizing<Vec<u8>>,
    },
    Gcm {
        alg: &'static aead::Algorithm,
        key: Zeroizing<Vec<u8>>,
        salt: Zeroizing<[u8; GCM_SALT]>,
    },
}

/// Seals and opens SK payloads for one direction of an IKE SA.
///
/// Keys are kept as zeroize-on-drop bytes and the cipher contexts are built per message
/// (IKE messages are rare; this keeps expanded key schedules off the heap between uses).
#[derive(Clone)]
pub struct SkProtector {
    cipher: IkeCipher,
    mode: Mode,
}

impl core::fmt::Debug for SkProtector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let integ = match &self.mode {
            Mode::Cbc { integ, .. } => Some(*integ),
            Mode::Gcm { .. } => None,
        };
        f.debug_struct("SkProtector")
            .field("cipher", &self.cipher)
            .field("integ", &integ)
            .finish_non_exhaustive()
    }
}

fn cbc_encrypt(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
    let bad = |_| CryptoError::Malformed("AES-CBC key or IV length");
    let len = buf.len();
    let res = match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .map(|_| ()),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .map(|_| ()),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .map(|_| ()),
        _ => return Err(CryptoError::Malformed("AES-CBC key length")),
    };
    res.map_err(|_| CryptoError::Malformed("CBC plaintext is not a multiple of the block size"))
}

fn cbc_decrypt(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
    let bad = |_| CryptoError::Malformed("AES-CBC key or IV length");
    let res = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(buf)
            .map(|_| ()),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(buf)
            .map(|_| ()),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(buf)
            .map(|_| ()),
        _ => return Err(CryptoError::Malformed("AES-CBC key length")),
    };
    res.map_err(|_| CryptoError::Malformed("CBC ciphertext is not a multiple of the block size"))
}

/// Raw AES-CBC encryption of whole blocks (no padding), exposed for the NIST SP 800-38A
/// known-answer tests of the CBC path.
#[doc(hidden)]
pub fn aes_cbc_encrypt_blocks(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
    cbc_encrypt(key, iv, buf)
}

/// Raw AES-GCM seal (nonce 12 bytes) returning ciphertext | tag, exposed for the GCM
/// known-answer tests of the GCM path.
#[doc(hidden)]
pub fn aes_gcm_seal(
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        32 => &aead::AES_256_GCM,
        _ => return Err(CryptoError::Malformed("AES-GCM key length")),
    };
    let key = gcm_key(alg, key)?;
    let mut buf = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(*nonce),
            aead::Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| CryptoError::Malformed("AES-GCM input too long"))?;
    buf.extend_from_slice(tag.as_ref());
    Ok(buf)
}

fn gcm_key(alg: &'static aead::Algorithm, key: &[u8]) -> Result<aead::LessSafeKey, CryptoError> {
    aead::UnboundKey::new(alg, key)
        .map(aead::LessSafeKey::new)
        .map_err(|_| CryptoError::Malformed("AES-GCM key length"))
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
        if enc_key.len() != cipher.keymat_len() {
            return Err(CryptoError::Malformed(
                "encryption key length does not match the cipher",
            ));
        }
        let mode = match cipher {
            IkeCipher::AesCbc { .. } => {
                let (integ, integ_key) = match (integ, integ_key) {
                    (Some(i), Some(k)) if k.len() == i.key_len() => (i, k),
                    (Some(_), Some(_)) => {
                        return Err(CryptoError::Malformed(
                            "integrity key length does not match the algorithm",
                        ))
                    }
                    _ => {
                        return Err(CryptoError::Unsupported(
                            "AES-CBC without an integrity algorithm and key".into(),
                        ))
                    }
                };
                Mode::Cbc {
                    key: Zeroizing::new(enc_key.to_vec()),
                    integ,
                    integ_key: Zeroizing::new(integ_key.to_vec()),
                }
            }
            IkeCipher::AesGcm16 { key_bits } => {
                if integ.is_some() || integ_key.is_some() {
                    return Err(CryptoError::Unsupported(
                        "AES-GCM with a separate integrity algorithm (RFC 5282 8 requires NONE)"
                            .into(),
                    ));
                }
                let alg = match key_bits {
                    128 => &aead::AES_128_GCM,
                    256 => &aead::AES_256_GCM,
                    _ => {
                        return Err(CryptoError::Unsupported(format!(
                            "AES-GCM-16 key length {key_bits} bits"
                        )))
                    }
                };
                let split = enc_key
                    .len()
                    .checked_sub(GCM_SALT)
                    .ok_or(CryptoError::Malformed(
                        "AES-GCM key material shorter than the salt",
                    ))?;
                let (key, salt_bytes) = enc_key.split_at(split);
                let mut salt = Zeroizing::new([0u8; GCM_SALT]);
                salt.copy_from_slice(salt_bytes);
                // Validate the key once so seal/open cannot fail on it later.
                gcm_key(alg, key)?;
                Mode::Gcm {
                    alg,
                    key: Zeroizing::new(key.to_vec()),
                    salt,
                }
            }
        };
        Ok(SkProtector { cipher, mode })
    }

    pub fn cipher(&self) -> IkeCipher {
        self.cipher
    }

    /// Length of the SK payload body (IV, padded ciphertext including the pad-length byte,
    /// ICV) for `plaintext_len` bytes of inner payloads.
    ///
    /// CBC pads to the 16-byte block (RFC 7296 3.14); GCM sends no padding, only the
    /// pad-length byte 0 (RFC 5282 3: GCM needs no block alignment).
    ///
    /// Saturates at `usize::MAX` for absurd lengths; no buffer can hold that, so
    /// [`SkProtector::seal`] then fails with an error.
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        match &self.mode {
            Mode::Cbc { integ, .. } => plaintext_len
                .saturating_add(1)
                .div_ceil(AES_BLOCK)
                .saturating_mul(AES_BLOCK)
                .saturating_add(AES_BLOCK)
                .saturating_add(integ.icv_len()),
            Mode::Gcm { .. } => plaintext_len.saturating_add(GCM_IV + 1 + GCM_TAG),
        }
    }

    /// `message` is the whole encoded message whose last `sealed_len(plaintext.len())` bytes
    /// are the SK body (content ignored). Writes IV, ciphertext and ICV there. The ICV covers
    /// (CBC) or the AAD is (GCM) everything before it as RFC 7296 3.14 / RFC 5282 5 say.
    ///
    /// IVs: CBC takes 16 random bytes from `rng` (RFC 7296 3.14 requires unpredictable IVs);
    /// GCM takes 8 random bytes from `rng` (RFC 5282 3.1 only requires uniqueness per key;
    /// a random 64-bit IV repeats with negligible probability at IKE message rates).
    pub fn seal(
        &self,
        rng: &mut dyn Random,
        message: &mut [u8],
        plaintext: &[u8],
    ) -> Result<(), CryptoError> {
        const SHORT: CryptoError =
            CryptoError::Malformed("message shorter than the sealed SK body");
        let body_len = self.sealed_len(plaintext.len());
        let start = message.len().checked_sub(body_len).ok_or(SHORT)?;
        let (aad, body) = message.split_at_mut(start);
        match &self.mode {
            Mode::Cbc {
                key,
                integ,
                integ_key,
            } => {
                // body = IV | ciphertext (plaintext, padding, Pad Length) | ICV.
                let (iv, rest) = body.split_at_mut_checked(AES_BLOCK).ok_or(SHORT)?;
                rng.fill(iv);
                let ct_len = rest.len().checked_sub(integ.icv_len()).ok_or(SHORT)?;
                let (ct, icv_out) = rest.split_at_mut(ct_len);
                let (data, pad_and_len) = ct.split_at_mut_checked(plaintext.len()).ok_or(SHORT)?;
                data.copy_from_slice(plaintext);
                let (pad_len_byte, padding) = pad_and_len.split_last_mut().ok_or(SHORT)?;
                padding.fill(0);
                // sealed_len pads to the next block, so fewer than 16 padding bytes.
                *pad_len_byte = u8::try_from(padding.len())
                    .map_err(|_| CryptoError::Malformed("CBC padding longer than a block"))?;
                cbc_encrypt(key, iv, ct)?;
                // The ICV covers the header, the payloads before SK, IV and ciphertext.
                let icv = integ.compute(integ_key, &[&*aad, &*iv, &*ct]);
                icv_out.copy_from_slice(&icv);
                Ok(())
            }
            Mode::Gcm { alg, key, salt } => {
                let (iv, rest) = body.split_at_mut_checked(GCM_IV).ok_or(SHORT)?;
                rng.fill(iv);
                let nonce = gcm_nonce(salt, iv)?;
                let ct_len = plaintext.len().checked_add(1).ok_or(SHORT)?;
                let (ct, tag_out) = rest.split_at_mut_checked(ct_len).ok_or(SHORT)?;
                let (pad_len_byte, data) = ct.split_last_mut().ok_or(SHORT)?;
                data.copy_from_slice(plaintext);
                *pad_len_byte = 0; // Pad Length: no padding.
                let tag = gcm_key(alg, key)?
                    .seal_in_place_separate_tag(nonce, aead::Aad::from(&*aad), ct)
                    .map_err(|_| CryptoError::Malformed("AES-GCM input too long"))?;
                tag_out.copy_from_slice(tag.as_ref());
                Ok(())
            }
        }
    }

    /// `message` is the whole received message whose last `body_len` bytes are the SK body.
    /// Verifies the ICV, decrypts, strips padding and returns the inner payload chain bytes.
    pub fn open(&self, message: &[u8], body_len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let start = message
            .len()
            .checked_sub(body_len)
            .ok_or(CryptoError::Malformed("SK payload longer than the message"))?;
        const SHORT: CryptoError = CryptoError::Malformed("SK payload too short");
        let (aad, body) = message.split_at(start);
        match &self.mode {
            Mode::Cbc {
                key,
                integ,
                integ_key,
            } => {
                // IV, at least one block of ciphertext, ICV (RFC 7296 3.14).
                let (signed, icv) = message
                    .split_at_checked(message.len().saturating_sub(integ.icv_len()))
                    .ok_or(SHORT)?;
                let (iv, ct) = body.split_at_checked(AES_BLOCK).ok_or(SHORT)?;
                let ct = ct
                    .get(..ct.len().saturating_sub(integ.icv_len()))
                    .filter(|ct| ct.len() >= AES_BLOCK && icv.len() == integ.icv_len())
                    .ok_or(SHORT)?;
                if ct.len() % AES_BLOCK != 0 {
                    return Err(CryptoError::Malformed(
                        "SK ciphertext is not a multiple of the block size",
                    ));
                }
                let expected = integ.compute(integ_key, &[signed]);
                if !ct_eq(&expected, icv) {
                    return Err(CryptoError::IntegrityFailed);
                }
                let mut buf = Zeroizing::new(ct.to_vec());
                cbc_decrypt(key, iv, &mut buf)?;
                strip_padding(buf)
            }
            Mode::Gcm { alg, key, salt } => {
                // IV, at least the Pad Length byte, ICV (RFC 5282 3).
                if body.len() < GCM_IV + 1 + GCM_TAG {
                    return Err(SHORT);
                }
                let (iv, sealed) = body.split_at_checked(GCM_IV).ok_or(SHORT)?;
                let nonce = gcm_nonce(salt, iv)?;
                let mut buf = Zeroizing::new(sealed.to_vec());
                let pt_len = gcm_key(alg, key)?
                    .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
                    .map_err(|_| CryptoError::IntegrityFailed)?
                    .len();
                buf.truncate(pt_len);
                strip_padding(buf)
            }
        }
    }
}

fn gcm_nonce(salt: &[u8; GCM_SALT], iv: &[u8]) -> Result<aead::Nonce, CryptoError> {
    // Nonce = salt (4) | IV (8), RFC 5282 section 4.
    let iv =
        <&[u8; GCM_IV]>::try_from(iv).map_err(|_| CryptoError::Malformed("AES-GCM IV length"))?;
    let mut n = [0u8; GCM_SALT + GCM_IV];
    let (n_salt, n_iv) = n.split_at_mut(GCM_SALT);
    n_salt.copy_from_slice(salt);
    n_iv.copy_from_slice(iv);
    Ok(aead::Nonce::assume_unique_for_key(n))
}

/// Removes Padding and Pad Length (RFC 7296 3.14): the last byte says how many padding
/// bytes precede it.
fn strip_padding(mut buf: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let pad_len = usize::from(
        *buf.last()
            .ok_or(CryptoError::Malformed("empty plaintext"))?,
    );
    // The Pad Length byte itself, then `pad_len` padding bytes before it.
    let inner = buf
        .len()
        .checked_sub(1)
        .and_then(|n| n.checked_sub(pad_len))
        .ok_or(CryptoError::Malformed("pad length exceeds the plaintext"))?;
    buf.truncate(inner);
    Ok(buf)
}
