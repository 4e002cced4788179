//! Per-SA cryptographic transform over a whole ESP packet (RFC 4303 section 2 layout):
//!
//! ```text
//! | SPI (4) | Seq low (4) | IV | payload + padding + pad len + next header | ICV |
//! ```
//!
//! AES-GCM (RFC 4106 section 5): AAD = SPI || Seq (32-bit) or SPI || Seq high || Seq low
//! (ESN); the explicit IV is the 64-bit sequence number (unique per SA, section 3.1 permits a
//! counter). AES-CBC + HMAC: ICV = HMAC(SPI .. end of ciphertext [|| Seq high with ESN]),
//! RFC 4303 sections 2.2.1 and 3.3.2.

use crate::aes_cbc_hmac::{CbcHmacCipher, BLOCK};
use crate::aes_gcm_esp::{GcmCipher, GCM_ICV_LEN};
use crate::gcm_backend::GcmBackend;
use crate::suite::{Suite, ESP_HEADER_LEN};

/// Why a packet could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CryptoError {
    /// The buffer does not have the suite's layout (too short or misaligned).
    Layout,
    /// ICV verification failed.
    BadIcv,
}

#[allow(clippy::large_enum_variant)] // one per SA, built once
enum Transform {
    Gcm(GcmCipher),
    Cbc(CbcHmacCipher),
}

/// The keys of one SA direction plus its suite.
pub(crate) struct SaCipher {
    suite: Suite,
    transform: Transform,
}

/// Parts of a packet buffer.
struct Parts<'a> {
    header: &'a mut [u8],
    iv: &'a mut [u8],
    body: &'a mut [u8],
    icv: &'a mut [u8],
}

impl SaCipher {
    /// Keys from KEYMAT in RFC 7296 section 2.17 order: encryption key (incl. GCM salt),
    /// then integrity key. `None` if the length is wrong.
    pub(crate) fn new(suite: Suite, gcm_backend: GcmBackend, key_material: &[u8]) -> Option<Self> {
        if key_material.len() != suite.key_material_len() {
            return None;
        }
        let (enc, integ) = key_material.split_at_checked(suite.enc_key_len())?;
        let transform = match suite {
            Suite::AesGcm16(size) => Transform::Gcm(GcmCipher::new(gcm_backend, size, enc)?),
            Suite::AesCbc(size, i) => Transform::Cbc(CbcHmacCipher::new(size, i, enc, integ)?),
        };
        Some(Self { suite, transform })
    }

    pub(crate) fn suite(&self) -> Suite {
        self.suite
    }

    fn split<'a>(&self, pkt: &'a mut [u8]) -> Result<Parts<'a>, CryptoError> {
        let icv_len = self.suite.icv_len();
        let body_end = pkt.len().checked_sub(icv_len).ok_or(CryptoError::Layout)?;
        let (auth, icv) = pkt
            .split_at_mut_checked(body_end)
            .ok_or(CryptoError::Layout)?;
        let (header, rest) = auth
            .split_at_mut_checked(ESP_HEADER_LEN)
            .ok_or(CryptoError::Layout)?;
        let (iv, body) = rest
            .split_at_mut_checked(self.suite.iv_len())
            .ok_or(CryptoError::Layout)?;
        Ok(Parts {
            header,
            iv,
            body,
            icv,
        })
    }

    /// Writes the IV for `seq`, encrypts the body and writes the ICV. The header (SPI and
    /// low sequence bits) must already be in place.
    pub(crate) fn seal(&self, pkt: &mut [u8], seq: u64, esn: bool) -> Result<(), CryptoError> {
        match &self.transform {
            Transform::Gcm(_) => self.seal_with_iv(pkt, seq, esn, &seq.to_be_bytes()),
            Transform::Cbc(c) => self.seal_with_iv(pkt, seq, esn, &c.derive_iv(seq)),
        }
    }

    /// [`Self::seal`] with a caller-chosen IV (known-answer tests use the vectors' IVs).
    pub(crate) fn seal_with_iv(
        &self,
        pkt: &mut [u8],
        seq: u64,
        esn: bool,
        iv_bytes: &[u8],
    ) -> Result<(), CryptoError> {
        let seq_hi = esn.then_some(high_bits(seq));
        match &self.transform {
            Transform::Gcm(g) => {
                let p = self.split(pkt)?;
                p.iv.copy_from_slice(iv_bytes.get(..8).ok_or(CryptoError::Layout)?);
                let iv: &[u8; 8] = (&*p.iv).try_into().map_err(|_| CryptoError::Layout)?;
                let aad = gcm_aad(p.header, seq_hi);
                g.seal(iv, aad.as_slice(), p.body, p.icv)
                    .map_err(|_| CryptoError::Layout)
            }
            Transform::Cbc(c) => {
                let icv_len = c.icv_len();
                let body_end = pkt.len().checked_sub(icv_len).ok_or(CryptoError::Layout)?;
                {
                    let p = self.split(pkt)?;
                    p.iv.copy_from_slice(iv_bytes.get(..BLOCK).ok_or(CryptoError::Layout)?);
                    let iv: &[u8; BLOCK] = (&*p.iv).try_into().map_err(|_| CryptoError::Layout)?;
                    c.encrypt(iv, p.body).map_err(|_| CryptoError::Layout)?;
                }
                let (auth, icv) = pkt
                    .split_at_mut_checked(body_end)
                    .ok_or(CryptoError::Layout)?;
                c.write_icv(auth, seq_hi, icv)
                    .map_err(|_| CryptoError::Layout)
            }
        }
    }

    /// Verifies the ICV, then decrypts the body in place (RFC 4303 section 3.4.4: integrity
    /// before decryption). `seq` is the full (inferred) sequence number.
    pub(crate) fn open(&self, pkt: &mut [u8], seq: u64, esn: bool) -> Result<(), CryptoError> {
        let seq_hi = esn.then_some(high_bits(seq));
        match &self.transform {
            Transform::Gcm(g) => {
                let p = self.split(pkt)?;
                let iv: &[u8; 8] = (&*p.iv).try_into().map_err(|_| CryptoError::Layout)?;
                let icv: &[u8; GCM_ICV_LEN] =
                    (&*p.icv).try_into().map_err(|_| CryptoError::Layout)?;
                let aad = gcm_aad(p.header, seq_hi);
                g.open(iv, aad.as_slice(), p.body, icv)
                    .map_err(|_| CryptoError::BadIcv)
            }
            Transform::Cbc(c) => {
                let body_end = pkt
                    .len()
                    .checked_sub(c.icv_len())
                    .ok_or(CryptoError::Layout)?;
                {
                    let (auth, icv) = pkt.split_at_checked(body_end).ok_or(CryptoError::Layout)?;
                    c.verify_icv(auth, seq_hi, icv)
                        .map_err(|_| CryptoError::BadIcv)?;
                }
                let p = self.split(pkt)?;
                let iv: &[u8; BLOCK] = (&*p.iv).try_into().map_err(|_| CryptoError::Layout)?;
                c.decrypt(iv, p.body).map_err(|_| CryptoError::Layout)
            }
        }
    }
}

/// High-order 32 bits of a 64-bit sequence number.
pub(crate) fn high_bits(seq: u64) -> u32 {
    (seq >> 32) as u32
}

/// AAD of RFC 4106 section 5: SPI || [Seq high ||] Seq low.
struct GcmAad {
    bytes: [u8; 12],
    len: usize,
}

impl GcmAad {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

fn gcm_aad(header: &[u8], seq_hi: Option<u32>) -> GcmAad {
    let mut bytes = [0u8; 12];
    let mut spi = [0u8; 4];
    let mut low = [0u8; 4];
    if let (Some(s), Some(l)) = (header.get(0..4), header.get(4..8)) {
        spi.copy_from_slice(s);
        low.copy_from_slice(l);
    }
    let (a, rest) = bytes.split_at_mut(4);
    a.copy_from_slice(&spi);
    let (b, c) = rest.split_at_mut(4);
    match seq_hi {
        Some(hi) => {
            b.copy_from_slice(&hi.to_be_bytes());
            c.copy_from_slice(&low);
            GcmAad { bytes, len: 12 }
        }
        None => {
            b.copy_from_slice(&low);
            GcmAad { bytes, len: 8 }
        }
    }
}
