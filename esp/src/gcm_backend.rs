//! Which library runs AES-GCM for an SA: ring or aws-lc-rs (issue #8: "the AEAD backend
//! chosen by measuring both on this CPU").
//!
//! Both implement RFC 4106's AES-GCM byte for byte (the known-answer tests run through each);
//! they differ in speed by CPU. On a Xeon with AVX-512 (Emerald Rapids) aws-lc-rs's
//! VAES/AVX-512 code seals a 1400-byte packet ~20% faster than ring's VAES/AVX2 code; on the
//! AMD machines of this project they were within a few percent. The daemon times both at start
//! ([`GcmProbe`]) and builds every AES-GCM SA with the faster one.
//!
//! Key material: ring's keys are inline and wiped by `wipe::WipeOnDrop`; aws-lc-rs keeps its
//! key schedule in an `EVP_AEAD_CTX` allocated by AWS-LC, whose `OPENSSL_free` overwrites the
//! allocation (`OPENSSL_cleanse`) when the key drops.

use core::fmt;
use core::str::FromStr;

use crate::aes_gcm_esp::GcmCipher;
use crate::suite::AesKeySize;

/// The AES-GCM implementation an SA uses (AES-128/192/256 alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GcmBackend {
    /// ring 0.17 (AES-128/256; AES-192 through RustCrypto `aes-gcm`, which ring lacks).
    #[default]
    Ring,
    /// aws-lc-rs (AWS-LC), all three key sizes.
    AwsLc,
}

impl GcmBackend {
    /// Both, in the order a measurement tries them.
    pub const ALL: [GcmBackend; 2] = [GcmBackend::Ring, GcmBackend::AwsLc];

    /// The name used in configuration and status (`ring`, `aws-lc-rs`).
    pub fn name(self) -> &'static str {
        match self {
            GcmBackend::Ring => "ring",
            GcmBackend::AwsLc => "aws-lc-rs",
        }
    }
}

impl fmt::Display for GcmBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is neither `ring` nor `aws-lc-rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownGcmBackend;

impl FromStr for GcmBackend {
    type Err = UnknownGcmBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ring" => Ok(GcmBackend::Ring),
            "aws-lc-rs" => Ok(GcmBackend::AwsLc),
            _ => Err(UnknownGcmBackend),
        }
    }
}

/// An AES-256-GCM key of one backend under a fixed, public test key, for timing the backends
/// against each other on this CPU (the caller owns the clock: this crate reads none).
pub struct GcmProbe {
    cipher: GcmCipher,
}

impl GcmProbe {
    /// A probe for `backend`.
    pub fn new(backend: GcmBackend) -> Option<Self> {
        let material = [0x5a_u8; 36];
        let cipher = GcmCipher::new(backend, AesKeySize::Aes256, &material)?;
        Some(Self { cipher })
    }

    /// Seals `data` in place and opens it again, as one packet each way does: returns whether
    /// the round trip gave back what went in (it always should).
    pub fn seal_open(&self, iv: u64, data: &mut [u8]) -> bool {
        let iv = iv.to_be_bytes();
        let aad = [0u8; 8];
        let first = data.first().copied();
        let mut icv = [0u8; crate::aes_gcm_esp::GCM_ICV_LEN];
        if self.cipher.seal(&iv, &aad, data, &mut icv).is_err() {
            return false;
        }
        self.cipher.open(&iv, &aad, data, &icv).is_ok() && data.first().copied() == first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for b in GcmBackend::ALL {
            assert_eq!(b.name().parse::<GcmBackend>(), Ok(b));
        }
        assert_eq!("openssl".parse::<GcmBackend>(), Err(UnknownGcmBackend));
        assert_eq!(GcmBackend::default(), GcmBackend::Ring);
    }

    #[test]
    fn probes_of_both_backends_round_trip() {
        for b in GcmBackend::ALL {
            let p = GcmProbe::new(b).unwrap();
            let mut data: Vec<u8> = (0..1400u32).map(|i| i as u8).collect();
            assert!(p.seal_open(7, &mut data), "{b}");
            assert!(data.iter().enumerate().all(|(i, v)| *v == i as u8), "{b}");
        }
    }
}
