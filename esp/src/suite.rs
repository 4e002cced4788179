//! ESP cipher suites named by their IANA IKEv2 transform numbers (RFC 7296 section 3.3.2,
//! IANA "IKEv2 Transform Type 1/3" registries), so `gateway` can map a negotiated IKEv2
//! proposal to an ESP SA without `esp` and `ikev2` knowing each other.
//!
//! Supported (Azure VPN Gateway's ESP suites): AES-GCM with a 16-byte ICV (RFC 4106) and
//! AES-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404) or HMAC-SHA2 (RFC 4868), AES keys of
//! 128, 192 or 256 bits. DES, 3DES, NULL encryption and HMAC-MD5 are refused by design.

use core::fmt;

/// IANA ENCR transform id: DES (refused).
pub const ENCR_DES: u16 = 2;
/// IANA ENCR transform id: 3DES (refused).
pub const ENCR_3DES: u16 = 3;
/// IANA ENCR transform id: NULL (refused).
pub const ENCR_NULL: u16 = 11;
/// IANA ENCR transform id: AES-CBC (RFC 3602).
pub const ENCR_AES_CBC: u16 = 12;
/// IANA ENCR transform id: AES-GCM with a 16-octet ICV (RFC 4106).
pub const ENCR_AES_GCM_16: u16 = 20;

/// IANA INTEG transform id: NONE.
pub const AUTH_NONE: u16 = 0;
/// IANA INTEG transform id: HMAC-MD5-96 (refused).
pub const AUTH_HMAC_MD5_96: u16 = 1;
/// IANA INTEG transform id: HMAC-SHA1-96 (RFC 2404).
pub const AUTH_HMAC_SHA1_96: u16 = 2;
/// IANA INTEG transform id: HMAC-SHA2-256-128 (RFC 4868).
pub const AUTH_HMAC_SHA2_256_128: u16 = 12;
/// IANA INTEG transform id: HMAC-SHA2-384-192 (RFC 4868).
pub const AUTH_HMAC_SHA2_384_192: u16 = 13;
/// IANA INTEG transform id: HMAC-SHA2-512-256 (RFC 4868).
pub const AUTH_HMAC_SHA2_512_256: u16 = 14;

/// ESP header length: SPI (4) + sequence number (4), RFC 4303 section 2.
pub const ESP_HEADER_LEN: usize = 8;
/// Largest headroom any suite needs in front of the inner packet (ESP header + 16-byte CBC IV).
pub const MAX_HEADROOM: usize = ESP_HEADER_LEN + 16;
/// Largest tailroom any suite needs behind the inner packet
/// (15 bytes CBC padding + pad length + next header + 32-byte HMAC-SHA2-512-256 ICV).
pub const MAX_TAILROOM: usize = 15 + 2 + 32;

const SECURE_INSTEAD: &str = "aes256gcm16 or aes256-sha256";

/// AES key size, from the IKEv2 Key Length attribute (RFC 7296 section 3.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AesKeySize {
    /// 128-bit key.
    Aes128,
    /// 192-bit key.
    Aes192,
    /// 256-bit key.
    Aes256,
}

impl AesKeySize {
    /// Maps a Key Length attribute (bits) to a key size.
    pub fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            128 => Some(Self::Aes128),
            192 => Some(Self::Aes192),
            256 => Some(Self::Aes256),
            _ => None,
        }
    }

    /// Key length in bits.
    pub fn bits(self) -> u16 {
        match self {
            Self::Aes128 => 128,
            Self::Aes192 => 192,
            Self::Aes256 => 256,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }
}

/// Integrity algorithm for AES-CBC suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// HMAC-SHA1-96 (RFC 2404): 20-byte key, 12-byte ICV.
    HmacSha1_96,
    /// HMAC-SHA2-256-128 (RFC 4868): 32-byte key, 16-byte ICV.
    HmacSha256_128,
    /// HMAC-SHA2-384-192 (RFC 4868): 48-byte key, 24-byte ICV.
    HmacSha384_192,
    /// HMAC-SHA2-512-256 (RFC 4868): 64-byte key, 32-byte ICV.
    HmacSha512_256,
}

impl Integrity {
    /// Maps an IANA INTEG transform id.
    pub fn from_transform(id: u16) -> Result<Self, SuiteError> {
        match id {
            AUTH_HMAC_SHA1_96 => Ok(Self::HmacSha1_96),
            AUTH_HMAC_SHA2_256_128 => Ok(Self::HmacSha256_128),
            AUTH_HMAC_SHA2_384_192 => Ok(Self::HmacSha384_192),
            AUTH_HMAC_SHA2_512_256 => Ok(Self::HmacSha512_256),
            AUTH_HMAC_MD5_96 => Err(SuiteError::Refused {
                algorithm: "HMAC-MD5-96",
                instead: "aes256-sha256 or aes256gcm16",
            }),
            AUTH_NONE => Err(SuiteError::MissingIntegrity),
            other => Err(SuiteError::UnsupportedIntegrity(other)),
        }
    }

    /// IANA INTEG transform id.
    pub fn transform_id(self) -> u16 {
        match self {
            Self::HmacSha1_96 => AUTH_HMAC_SHA1_96,
            Self::HmacSha256_128 => AUTH_HMAC_SHA2_256_128,
            Self::HmacSha384_192 => AUTH_HMAC_SHA2_384_192,
            Self::HmacSha512_256 => AUTH_HMAC_SHA2_512_256,
        }
    }

    /// Key length: the hash output length (RFC 2404 section 3, RFC 4868 section 2.1.1).
    pub fn key_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 20,
            Self::HmacSha256_128 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
        }
    }

    /// Truncated ICV length (RFC 2404 section 2, RFC 4868 section 2.3).
    pub fn icv_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 12,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }
}

/// A supported ESP suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-GCM with a 16-byte ICV (RFC 4106), an AEAD: no separate integrity transform.
    AesGcm16(AesKeySize),
    /// AES-CBC (RFC 3602) with an HMAC integrity transform.
    AesCbc(AesKeySize, Integrity),
}

/// Why a transform combination cannot be used for ESP.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SuiteError {
    /// An insecure algorithm, refused by design.
    #[error("{algorithm} is refused: configure {instead}")]
    Refused {
        /// The refused algorithm.
        algorithm: &'static str,
        /// The secure suites to configure instead (strongSwan proposal names).
        instead: &'static str,
    },
    /// An encryption transform this crate does not implement.
    #[error(
        "ESP encryption transform {0} is not supported: configure aes256gcm16 or aes256-sha256"
    )]
    UnsupportedEncryption(u16),
    /// An integrity transform this crate does not implement.
    #[error("ESP integrity transform {0} is not supported: configure sha256, sha384 or sha512")]
    UnsupportedIntegrity(u16),
    /// AES needs a Key Length attribute of 128, 192 or 256 (RFC 7296 section 3.3.5).
    #[error("AES key length must be 128, 192 or 256 bits, got {0:?}")]
    InvalidKeyLength(Option<u16>),
    /// AES-GCM is combined mode: an integrity transform other than NONE is invalid
    /// (RFC 4106 section 10 / RFC 7296 section 3.3.3).
    #[error("AES-GCM is an AEAD and takes no integrity transform, got {0}")]
    IntegrityWithAead(u16),
    /// AES-CBC without integrity would be unauthenticated ESP.
    #[error("AES-CBC without integrity is refused: configure aes256-sha256 or aes256gcm16")]
    MissingIntegrity,
}

impl Suite {
    /// Builds a suite from negotiated IKEv2 transform ids.
    ///
    /// `encr_id` is the ENCR transform, `key_bits` its Key Length attribute, `integ_id` the
    /// INTEG transform (`None` or `Some(AUTH_NONE)` for none).
    pub fn from_transforms(
        encr_id: u16,
        key_bits: Option<u16>,
        integ_id: Option<u16>,
    ) -> Result<Suite, SuiteError> {
        let integ_id = integ_id.filter(|&id| id != AUTH_NONE);
        match encr_id {
            ENCR_DES => Err(SuiteError::Refused {
                algorithm: "DES",
                instead: SECURE_INSTEAD,
            }),
            ENCR_3DES => Err(SuiteError::Refused {
                algorithm: "3DES",
                instead: SECURE_INSTEAD,
            }),
            ENCR_NULL => Err(SuiteError::Refused {
                algorithm: "NULL encryption",
                instead: SECURE_INSTEAD,
            }),
            ENCR_AES_GCM_16 => {
                let size = aes_size(key_bits)?;
                match integ_id {
                    None => Ok(Suite::AesGcm16(size)),
                    Some(other) => Err(SuiteError::IntegrityWithAead(other)),
                }
            }
            ENCR_AES_CBC => {
                // Refuse insecure integrity before complaining about the key length.
                let integ = Integrity::from_transform(integ_id.unwrap_or(AUTH_NONE))?;
                let size = aes_size(key_bits)?;
                Ok(Suite::AesCbc(size, integ))
            }
            other => Err(SuiteError::UnsupportedEncryption(other)),
        }
    }

    /// IANA ENCR transform id.
    pub fn encr_transform_id(self) -> u16 {
        match self {
            Suite::AesGcm16(_) => ENCR_AES_GCM_16,
            Suite::AesCbc(..) => ENCR_AES_CBC,
        }
    }

    /// IANA INTEG transform id (`AUTH_NONE` for AES-GCM).
    pub fn integ_transform_id(self) -> u16 {
        match self {
            Suite::AesGcm16(_) => AUTH_NONE,
            Suite::AesCbc(_, integ) => integ.transform_id(),
        }
    }

    /// AES key size.
    pub fn key_size(self) -> AesKeySize {
        match self {
            Suite::AesGcm16(size) | Suite::AesCbc(size, _) => size,
        }
    }

    /// Encryption key material length: the AES key, plus the 4-byte salt for AES-GCM
    /// (RFC 4106 section 8.1).
    pub fn enc_key_len(self) -> usize {
        match self {
            Suite::AesGcm16(size) => size.key_len().saturating_add(4),
            Suite::AesCbc(size, _) => size.key_len(),
        }
    }

    /// Integrity key length (0 for AES-GCM).
    pub fn integ_key_len(self) -> usize {
        match self {
            Suite::AesGcm16(_) => 0,
            Suite::AesCbc(_, integ) => integ.key_len(),
        }
    }

    /// KEYMAT bytes to take per direction (RFC 7296 section 2.17: encryption key, then
    /// integrity key).
    pub fn key_material_len(self) -> usize {
        self.enc_key_len().saturating_add(self.integ_key_len())
    }

    /// IV length on the wire: 8 for AES-GCM (RFC 4106 section 3.1), 16 for AES-CBC
    /// (RFC 3602 section 3).
    pub fn iv_len(self) -> usize {
        match self {
            Suite::AesGcm16(_) => 8,
            Suite::AesCbc(..) => 16,
        }
    }

    /// ICV length.
    pub fn icv_len(self) -> usize {
        match self {
            Suite::AesGcm16(_) => 16,
            Suite::AesCbc(_, integ) => integ.icv_len(),
        }
    }

    /// Alignment of payload + padding + pad length + next header: 4 bytes for GCM
    /// (RFC 4303 section 2.4), the 16-byte block for CBC (RFC 3602 section 2.4).
    pub fn alignment(self) -> usize {
        match self {
            Suite::AesGcm16(_) => 4,
            Suite::AesCbc(..) => 16,
        }
    }

    /// Bytes this suite writes in front of the inner packet: ESP header + IV.
    pub fn headroom(self) -> usize {
        ESP_HEADER_LEN.saturating_add(self.iv_len())
    }

    /// Largest number of bytes this suite writes behind an inner packet of any size:
    /// maximal padding + pad length + next header + ICV.
    pub fn max_tailroom(self) -> usize {
        self.alignment()
            .saturating_sub(1)
            .saturating_add(2)
            .saturating_add(self.icv_len())
    }

    /// Padding length for an inner packet of `inner_len` bytes (minimal padding, RFC 4303
    /// section 2.4).
    pub fn pad_len(self, inner_len: usize) -> usize {
        let align = self.alignment();
        let used = inner_len.wrapping_add(2).checked_rem(align).unwrap_or(0);
        align.wrapping_sub(used).checked_rem(align).unwrap_or(0)
    }

    /// Exact number of bytes written behind an inner packet of `inner_len` bytes.
    pub fn tailroom(self, inner_len: usize) -> usize {
        self.pad_len(inner_len)
            .saturating_add(2)
            .saturating_add(self.icv_len())
    }

    /// Length of the ESP packet carrying an inner packet of `inner_len` bytes.
    pub fn esp_len(self, inner_len: usize) -> usize {
        self.headroom()
            .saturating_add(inner_len)
            .saturating_add(self.tailroom(inner_len))
    }

    /// Smallest ESP packet this crate produces (empty inner packet): header, IV, one aligned
    /// unit holding padding, pad length and next header, ICV.
    pub fn min_esp_len(self) -> usize {
        self.esp_len(0)
    }

    /// strongSwan-style proposal name, e.g. `aes256gcm16` or `aes256-sha256`.
    pub fn name(self) -> &'static str {
        use AesKeySize::*;
        use Integrity::*;
        match self {
            Suite::AesGcm16(Aes128) => "aes128gcm16",
            Suite::AesGcm16(Aes192) => "aes192gcm16",
            Suite::AesGcm16(Aes256) => "aes256gcm16",
            Suite::AesCbc(Aes128, HmacSha1_96) => "aes128-sha1",
            Suite::AesCbc(Aes128, HmacSha256_128) => "aes128-sha256",
            Suite::AesCbc(Aes128, HmacSha384_192) => "aes128-sha384",
            Suite::AesCbc(Aes128, HmacSha512_256) => "aes128-sha512",
            Suite::AesCbc(Aes192, HmacSha1_96) => "aes192-sha1",
            Suite::AesCbc(Aes192, HmacSha256_128) => "aes192-sha256",
            Suite::AesCbc(Aes192, HmacSha384_192) => "aes192-sha384",
            Suite::AesCbc(Aes192, HmacSha512_256) => "aes192-sha512",
            Suite::AesCbc(Aes256, HmacSha1_96) => "aes256-sha1",
            Suite::AesCbc(Aes256, HmacSha256_128) => "aes256-sha256",
            Suite::AesCbc(Aes256, HmacSha384_192) => "aes256-sha384",
            Suite::AesCbc(Aes256, HmacSha512_256) => "aes256-sha512",
        }
    }

    /// Every supported suite (for tests and benchmarks).
    pub fn all() -> [Suite; 15] {
        use AesKeySize::*;
        use Integrity::*;
        [
            Suite::AesGcm16(Aes128),
            Suite::AesGcm16(Aes192),
            Suite::AesGcm16(Aes256),
            Suite::AesCbc(Aes128, HmacSha1_96),
            Suite::AesCbc(Aes128, HmacSha256_128),
            Suite::AesCbc(Aes128, HmacSha384_192),
            Suite::AesCbc(Aes128, HmacSha512_256),
            Suite::AesCbc(Aes192, HmacSha1_96),
            Suite::AesCbc(Aes192, HmacSha256_128),
            Suite::AesCbc(Aes192, HmacSha384_192),
            Suite::AesCbc(Aes192, HmacSha512_256),
            Suite::AesCbc(Aes256, HmacSha1_96),
            Suite::AesCbc(Aes256, HmacSha256_128),
            Suite::AesCbc(Aes256, HmacSha384_192),
            Suite::AesCbc(Aes256, HmacSha512_256),
        ]
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn aes_size(key_bits: Option<u16>) -> Result<AesKeySize, SuiteError> {
    key_bits
        .and_then(AesKeySize::from_bits)
        .ok_or(SuiteError::InvalidKeyLength(key_bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_azure_suites() {
        assert_eq!(
            Suite::from_transforms(ENCR_AES_GCM_16, Some(256), None),
            Ok(Suite::AesGcm16(AesKeySize::Aes256))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_GCM_16, Some(192), Some(AUTH_NONE)),
            Ok(Suite::AesGcm16(AesKeySize::Aes192))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_CBC, Some(128), Some(AUTH_HMAC_SHA1_96)),
            Ok(Suite::AesCbc(AesKeySize::Aes128, Integrity::HmacSha1_96))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_CBC, Some(256), Some(AUTH_HMAC_SHA2_512_256)),
            Ok(Suite::AesCbc(AesKeySize::Aes256, Integrity::HmacSha512_256))
        );
    }

    #[test]
    fn refuses_insecure_with_advice() {
        let e = Suite::from_transforms(ENCR_3DES, None, Some(AUTH_HMAC_SHA1_96)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "3DES is refused: configure aes256gcm16 or aes256-sha256"
        );
        let e = Suite::from_transforms(ENCR_DES, None, None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("DES is refused: configure aes256gcm16"));
        let e = Suite::from_transforms(ENCR_NULL, None, Some(AUTH_HMAC_SHA2_256_128)).unwrap_err();
        assert!(e.to_string().contains("NULL encryption is refused"));
        let e =
            Suite::from_transforms(ENCR_AES_CBC, Some(256), Some(AUTH_HMAC_MD5_96)).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("HMAC-MD5-96 is refused: configure aes256-sha256"));
    }

    #[test]
    fn rejects_invalid_combinations() {
        assert_eq!(
            Suite::from_transforms(ENCR_AES_GCM_16, None, None),
            Err(SuiteError::InvalidKeyLength(None))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_CBC, Some(512), Some(AUTH_HMAC_SHA1_96)),
            Err(SuiteError::InvalidKeyLength(Some(512)))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_GCM_16, Some(128), Some(AUTH_HMAC_SHA2_256_128)),
            Err(SuiteError::IntegrityWithAead(AUTH_HMAC_SHA2_256_128))
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_CBC, Some(128), None),
            Err(SuiteError::MissingIntegrity)
        );
        assert_eq!(
            Suite::from_transforms(ENCR_AES_CBC, Some(128), Some(5)),
            Err(SuiteError::UnsupportedIntegrity(5))
        );
        assert_eq!(
            Suite::from_transforms(28, Some(256), None),
            Err(SuiteError::UnsupportedEncryption(28))
        );
    }

    #[test]
    fn sizes() {
        let gcm = Suite::AesGcm16(AesKeySize::Aes256);
        assert_eq!(gcm.key_material_len(), 36);
        assert_eq!(gcm.headroom(), 16);
        assert_eq!(gcm.max_tailroom(), 21);
        // 1 byte of payload + 2 -> 3, one pad byte aligns to 4.
        assert_eq!(gcm.pad_len(1), 1);
        assert_eq!(gcm.pad_len(2), 0);
        assert_eq!(gcm.esp_len(0), 8 + 8 + 4 + 16);
        let cbc = Suite::AesCbc(AesKeySize::Aes192, Integrity::HmacSha384_192);
        assert_eq!(cbc.key_material_len(), 24 + 48);
        assert_eq!(cbc.headroom(), 24);
        assert_eq!(cbc.pad_len(14), 0);
        assert_eq!(cbc.pad_len(15), 15);
        assert_eq!(cbc.esp_len(100), 8 + 16 + 112 + 24);
        for s in Suite::all() {
            assert!(s.headroom() <= MAX_HEADROOM);
            assert!(s.max_tailroom() <= MAX_TAILROOM);
            assert_eq!(
                Suite::from_transforms(
                    s.encr_transform_id(),
                    Some(s.key_size().bits()),
                    Some(s.integ_transform_id())
                ),
                Ok(s)
            );
            for n in 0..64 {
                assert_eq!((n + s.pad_len(n) + 2) % s.alignment(), 0);
                assert!(s.tailroom(n) <= s.max_tailroom());
            }
        }
    }
}
