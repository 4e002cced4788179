//! The first CHILD_SA (RFC 7296 1.2, 2.17): ESP SPIs, key material split per direction, and
//! the record the IKE SA keeps of each CHILD_SA it owns.

use crate::crypto::{self, CryptoError, Prf, Random, Secret};
use crate::event::{ChildSa, ChildStatus, PeerId};
use crate::proposal::EspSuite;
use crate::wire::{EncrId, IntegId, TrafficSelector};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

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
            key(suite.key_bits)?.checked_add(4)?
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

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 2.17; no g^ir for the first
/// CHILD_SA or without PFS), taken as initiator-to-responder encryption and integrity keys
/// then responder-to-initiator ones. Returns (inbound, outbound) for our role.
#[allow(clippy::too_many_arguments)]
pub(crate) fn derive_keys(
    prf: Prf,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    suite: &EspSuite,
    initiator: bool,
) -> Result<(Secret, Secret), CryptoError> {
    let (e, a) = esp_key_lengths(suite).ok_or_else(|| {
        CryptoError::Unsupported(format!("ESP keying for {:?}/{:?}", suite.encr, suite.integ))
    })?;
    const TOO_LONG: CryptoError = CryptoError::Malformed("ESP key material length overflows");
    let one = e.checked_add(a).ok_or(TOO_LONG)?;
    let both = one.checked_mul(2).ok_or(TOO_LONG)?;
    let keymat = crypto::child_keymat(prf, sk_d, g_ir, ni, nr, both)?;
    let bytes = keymat.as_bytes();
    let (i_to_r, r_to_i) = match (bytes.get(..one), bytes.get(one..both)) {
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

/// Where a CHILD_SA is in its life (RFC 7296 2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildState {
    Active,
    /// Our CREATE_CHILD_SA rekeying it is outstanding.
    Rekeying,
    /// We rekeyed it; our DELETE of it is queued or outstanding.
    Rekeyed,
    /// The peer rekeyed it (or won a rekey collision); its DELETE is awaited.
    Replaced,
    /// Created by the losing side of a rekey collision (2.8.1); its initiator deletes it.
    Redundant,
}

/// The peer's rekey of a CHILD_SA we were rekeying ourselves (RFC 7296 2.8.1): what decides
/// which of the two new SAs survives.
#[derive(Clone, Debug)]
pub(crate) struct Collision {
    pub peer_ni: Vec<u8>,
    pub our_nr: Vec<u8>,
    /// Our inbound SPI of the SA the peer's exchange created.
    pub new_inbound: u32,
}

/// What the IKE SA remembers of a CHILD_SA it created (no keys).
#[derive(Clone, Debug)]
pub(crate) struct ChildRecord {
    /// The child configuration's name.
    pub name: String,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub udp_encap: bool,
    pub state: ChildState,
    pub rekey_at: Option<Instant>,
    pub expire_at: Option<Instant>,
    /// We answered the rekey that created this SA: outbound traffic moves to it only when the
    /// SA it replaces (our inbound SPI) is gone (strongSwan's rule, see `ChildSaRekeyed`).
    pub awaiting_outbound: Option<u32>,
    /// A `ChildSaEstablished`/`ChildSaRekeyed` was emitted for it (so deletion is reported).
    pub installed: bool,
    pub collision: Option<Collision>,
}

impl ChildRecord {
    pub fn status(&self) -> ChildStatus {
        ChildStatus {
            name: self.name.clone(),
            inbound_spi: self.inbound_spi,
            outbound_spi: self.outbound_spi,
            suite: self.suite,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            udp_encap: self.udp_encap,
            rekey_at: self.rekey_at.filter(|_| self.state == ChildState::Active),
            expire_at: self.expire_at,
            rekeying: self.state != ChildState::Active,
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
            child: self.name.clone(),
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
