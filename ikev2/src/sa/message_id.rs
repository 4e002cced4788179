//! Message ID exhaustion (RFC 7296 2.2): message IDs are 32 bits and "an IKE SA MUST be
//! closed or rekeyed before the message ID wraps", in either direction. A rekey starts the
//! new IKE SA at zero (2.18).
//!
//! When our next request ID or the peer's next expected request ID reaches
//! `REKEY_THRESHOLD`, the IKE SA's rekey is made due at once. If the rekey does not start,
//! or has not replaced the SA by `CLOSE_THRESHOLD` (240 IDs later; every refused attempt
//! consumes one), the SA is closed as if its hard lifetime passed: from there on the only
//! request we send is the IKE SA's DELETE, and IDs saturate instead of wrapping.

use super::IkeSa;
use std::time::Instant;

/// From this message ID on (ours or the peer's), the IKE SA is rekeyed.
pub(crate) const REKEY_THRESHOLD: u32 = 0xFFFF_FF00;
/// From this message ID on, the IKE SA is closed; only its DELETE may still be sent.
pub(crate) const CLOSE_THRESHOLD: u32 = 0xFFFF_FFF0;

/// What the message IDs require of an IKE SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    Rekey,
    Close,
}

/// The action for our next request ID `ours` and the peer's next expected ID `peers`.
pub(crate) fn action(ours: u32, peers: u32) -> Action {
    let highest = ours.max(peers);
    if highest >= CLOSE_THRESHOLD {
        Action::Close
    } else if highest >= REKEY_THRESHOLD {
        Action::Rekey
    } else {
        Action::None
    }
}

/// The message ID after `id`; saturates rather than wrapping to zero (so a request the peer
/// sent with a low ID earlier can never be accepted again on this SA).
pub(crate) fn next(id: u32) -> u32 {
    id.saturating_add(1)
}

/// The IKE SA's IDs are close to running out: its rekey must not be postponed.
pub(crate) fn near_end(sa: &IkeSa) -> bool {
    action(sa.next_request_id, sa.peer_next_id) != Action::None
}

/// Our request of another kind than the IKE SA's DELETE may not use `id`.
pub(crate) fn reserved_for_delete(id: u32) -> bool {
    id >= CLOSE_THRESHOLD
}

/// After a message ID advanced: make the rekey (or, past `CLOSE_THRESHOLD`, the deletion)
/// due now, so `work::start_due` runs it as soon as the request window is free.
pub(crate) fn check(sa: &mut IkeSa, now: Instant) {
    let due = |t: Option<Instant>| Some(t.map_or(now, |t| t.min(now)));
    match action(sa.next_request_id, sa.peer_next_id) {
        Action::None => {}
        Action::Rekey => sa.rekey_at = due(sa.rekey_at),
        Action::Close => sa.expire_at = due(sa.expire_at),
    }
}

#[cfg(test)]
mod tests;
