//! NAT detection (RFC 7296 2.23): NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP
//! notifies in IKE_SA_INIT, and what they tell us about either side.

use super::notify;
use crate::crypto::{nat_detection_hash, Random};
use crate::wire::{NotifyType, Payload};
use std::net::SocketAddr;

/// The two NAT detection notifies for a message with SPIs `spi_i`/`spi_r` as they appear in
/// its header (the IKE_SA_INIT request has SPIr zero). With `fake_source`, the source hash is
/// random so the peer sees a NAT and both move to UDP encapsulation (strongSwan `encap=yes`).
pub(crate) fn notifies(
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    fake_source: Option<&mut dyn Random>,
) -> [Payload; 2] {
    let source = match fake_source {
        Some(rng) => {
            let mut h = [0u8; 20];
            rng.fill(&mut h);
            h.to_vec()
        }
        None => nat_detection_hash(spi_i, spi_r, local).to_vec(),
    };
    [
        notify(NotifyType::NAT_DETECTION_SOURCE_IP, source),
        notify(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            nat_detection_hash(spi_i, spi_r, remote).to_vec(),
        ),
    ]
}

/// What the peer's NAT detection notifies say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NatDetection {
    /// What the peer saw as our address is not what we are bound to.
    pub local_behind_nat: bool,
    /// The peer's claimed source is not where its message came from.
    pub remote_behind_nat: bool,
}

/// Compare the peer's notifies with the addresses of the datagram that carried them. `None`
/// when the peer sent neither notify (no NAT traversal support: stay on port 500).
pub(crate) fn detect(
    payloads: &[Payload],
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<NatDetection> {
    let hashes = |kind: NotifyType| {
        payloads
            .iter()
            .filter_map(move |p| match p {
                Payload::Notify(n) if n.kind == kind => Some(n.data.as_slice()),
                _ => None,
            })
            .peekable()
    };
    let mut sources = hashes(NotifyType::NAT_DETECTION_SOURCE_IP);
    let mut dests = hashes(NotifyType::NAT_DETECTION_DESTINATION_IP);
    if sources.peek().is_none() && dests.peek().is_none() {
        return None;
    }
    let remote_hash = nat_detection_hash(spi_i, spi_r, remote);
    let local_hash = nat_detection_hash(spi_i, spi_r, local);
    // Several SOURCE_IP notifies are allowed (multihomed sender): any match means no NAT.
    let remote_behind_nat = sources.peek().is_some() && !sources.any(|h| h == remote_hash);
    let local_behind_nat = dests.peek().is_some() && !dests.any(|h| h == local_hash);
    Some(NatDetection {
        local_behind_nat,
        remote_behind_nat,
    })
}
