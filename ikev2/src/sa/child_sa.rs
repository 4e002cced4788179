//! The first CHILD_SA (RFC 7296 1.2, 2.17): ESP SPIs, key material split per direction, and
//! the record the IKE SA keeps of each CHILD_SA it owns.

use crate::crypto::{self, CryptoError, Prf, Random, Secret};
use crate::event::{ChildSa, ChildStatus, PeerId};
use crate::proposal::EspSuite;
use crate::wire::{EncrId, IntegId, TrafficSelector};
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// Encryption and integrity key lengths in bytes for an ESP suite: AES-GCM key plus 4-byte
/// salt (RFC 4106 8.1), AES-CTR/ChaCha20-Poly1305 key plus 4-byte nonce (RFC 3686, RFC 7634),
/// AES-CBC the key; HMAC keys per RFC 2404 / RFC 4868. `None` for an algorithm we cannot key.
pub(crate) fn esp_key_lengths(suite: &EspSuite) -> Option<(usize, usize)> {
    let key = |bits: Option<u16>| match bits {
        Some(b @ (128 | 192 | 256)) => Some(usize::from(b) / 8),
        _ => None,
    };
    let encr = match suite.encr {
        EncrId::AES_GCM_8 | EncrId::AES_GCM_12 | EncrId::AES_GCM_16 | EncrId::AES_CTR => {
            key(suite.key_bits)? + 4
        }
        EncrId::AES_CBC => key(suite.key_bits)?,
        EncrId::CHACHA20_POLY1305 => 36,
        _ => return None,
    };
    let integ = match suite.integ {
        None | Some(IntegId::NONE) => 0,
        Some(IntegId::HMAC_SHA1_96) => 20,
        Some(IntegId::HMAC_SHA2_256_128) => 32,
        Some(IntegId::HMAC_SHA2_384_192) => 48,
        Some(IntegId::HMAC_SHA2_512_256) => 64,
        Some(_) => return None,
    };
    Some((encr, integ))
}

/// KEYMAT = prf+(SK_d, Ni | Nr) (RFC 7296 2.17, no PFS for the first CHILD_SA), taken as
/// initiator-to-responder encryption and integrity keys then responder-to-initiator ones.
/// Returns (inbound, outbound) for our role.
pub(crate) fn derive_keys(
    prf: Prf,
    sk_d: &[u8],
    ni: &[u8],
    nr: &[u8],
    suite: &EspSuite,
    initiator: bool,
) -> Result<(Secret, Secret), CryptoError> {
    let (e, a) = esp_key_lengths(suite).ok_or_else(|| {
        CryptoError::Unsupported(format!("ESP keying for {:?}/{:?}", suite.encr, suite.integ))
    })?;
    let one = e + a;
    let keymat = crypto::child_keymat(prf, sk_d, None, ni, nr, 2 * one)?;
    let bytes = keymat.as_bytes();
    let (i_to_r, r_to_i) = match (bytes.get(..one), bytes.get(one..2 * one)) {
        (Some(x), Some(y)) => (Secret::new(x.to_vec()), Secret::new(y.to_vec())),
        _ => return Err(CryptoError::Malformed("short KEYMAT")),
    };
    Ok(if initiator {
        (r_to_i, i_to_r)
    } else {
        (i_to_r, r_to_i)
    })
}

/// A fresh inbound ESP SPI: random, not 0..=255 (reserved, RFC 4303 2.1), not in use.
pub(crate) fn allocate_spi(rng: &mut dyn Random, in_use: &mut BTreeSet<u32>) -> u32 {
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b);
        let spi = u32::from_be_bytes(b);
        if spi > 255 && in_use.insert(spi) {
            return spi;
        }
    }
}

/// What the IKE SA remembers of a CHILD_SA it created (no keys).
#[derive(Clone, Debug)]
pub(crate) struct ChildRecord {
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub udp_encap: bool,
}

impl ChildRecord {
    pub fn status(&self) -> ChildStatus {
        ChildStatus {
            inbound_spi: self.inbound_spi,
            outbound_spi: self.outbound_spi,
            suite: self.suite,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            udp_encap: self.udp_encap,
        }
    }

    /// The event that hands this CHILD_SA with its keys to the data plane.
    pub fn event(
        &self,
        peer: PeerId,
        inbound_keys: Secret,
        outbound_keys: Secret,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> ChildSa {
        ChildSa {
            peer,
            inbound_spi: self.inbound_spi,
            outbound_spi: self.outbound_spi,
            suite: self.suite,
            inbound_keys,
            outbound_keys,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            udp_encap: self.udp_encap,
            local,
            remote,
        }
    }
}
