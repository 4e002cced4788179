//! Retransmission of our outstanding request (RFC 7296 2.1, 2.4): exponential back-off, give
//! up after the configured number of tries; and the responder's cache of its last response,
//! replayed byte-identical when the same request arrives again (2.1).

use crate::config::RetransmitConfig;
use crate::event::Transmit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What our outstanding request is for, so the response is dispatched to the right handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    IkeSaInit,
    IkeAuth,
    /// DELETE of the whole IKE SA (RFC 7296 1.4.1).
    DeleteIke,
    /// DELETE of these CHILD_SAs (our inbound SPIs).
    DeleteChild(Vec<u32>),
    /// Any other INFORMATIONAL (e.g. an empty liveness check).
    Informational,
}

/// The one request we have in flight on an IKE SA (window size 1, RFC 7296 2.3).
pub(crate) struct Outstanding {
    pub kind: RequestKind,
    pub message_id: u32,
    pub transmit: Transmit,
    /// Retransmissions sent so far (the original send is not counted).
    pub retransmits: u32,
    pub deadline: Instant,
}

/// What to do when the retransmission timer fires.
pub(crate) enum OnTimeout {
    Resend(Transmit),
    GiveUp { tries: u32 },
}

impl Outstanding {
    pub fn new(
        now: Instant,
        cfg: &RetransmitConfig,
        kind: RequestKind,
        message_id: u32,
        transmit: Transmit,
    ) -> Self {
        Outstanding {
            kind,
            message_id,
            transmit,
            retransmits: 0,
            deadline: now.checked_add(cfg.wait_after(0)).unwrap_or(now),
        }
    }

    /// Called when `deadline` has passed.
    pub fn on_timeout(&mut self, now: Instant, cfg: &RetransmitConfig) -> OnTimeout {
        if self.retransmits >= cfg.tries {
            return OnTimeout::GiveUp {
                tries: self.retransmits,
            };
        }
        self.retransmits += 1;
        self.deadline = now
            .checked_add(cfg.wait_after(self.retransmits))
            .unwrap_or(now);
        OnTimeout::Resend(self.transmit.clone())
    }
}

/// How long the whole schedule lasts: the peer (with the same configuration) may retransmit a
/// request this long, so a deleted SA keeps answering retransmissions for that time.
pub(crate) fn schedule_length(cfg: &RetransmitConfig) -> Duration {
    (0..=cfg.tries.min(32)).fold(Duration::ZERO, |acc, n| {
        acc.saturating_add(cfg.wait_after(n))
    })
}

/// The responder's last response on an IKE SA (RFC 7296 2.1): replayed for a retransmitted
/// request, i.e. the same message ID with identical bytes.
pub(crate) struct CachedResponse {
    pub message_id: u32,
    pub request: Vec<u8>,
    pub response: Transmit,
}

impl CachedResponse {
    /// The cached response, sent back to wherever the retransmission came from.
    pub fn replay_for(
        &self,
        request: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<Transmit> {
        (self.request == request).then(|| Transmit {
            local,
            remote,
            payload: self.response.payload.clone(),
        })
    }
}
