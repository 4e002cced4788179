//! Dead peer detection (RFC 7296 2.4): an empty INFORMATIONAL when nothing was heard from the
//! peer for `dpd_delay`; an unanswered request (retransmissions capped by `dpd_timeout`)
//! declares the peer dead. What to do then (clear, restart) is the gateway's dpd_action.

use super::IkeSa;
use crate::config::PeerConfig;
use std::time::Instant;

pub(crate) fn enabled(cfg: &PeerConfig) -> bool {
    !cfg.dpd_delay.is_zero()
}

/// Requests on established IKE SAs give up after `dpd_timeout`.
pub(crate) fn caps_requests(cfg: &PeerConfig) -> bool {
    enabled(cfg) && !cfg.dpd_timeout.is_zero()
}

/// When the next probe is due (only meaningful while no request is outstanding).
pub(crate) fn due(sa: &IkeSa) -> Option<Instant> {
    if !enabled(&sa.cfg) {
        return None;
    }
    sa.last_heard?.checked_add(sa.cfg.dpd_delay)
}
