//! Retransmission of our outstanding request (RFC 7296 2.1, 2.4): exponential back-off, give
//! up after the configured number of tries; and the responder's cache of its last response,
//! replayed byte-identical when the same request arrives again (2.1).

use crate::config::RetransmitConfig;
use crate::event::Transmit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What our outstanding request is for, so the response is dispatched to the right handler.
#[derive(Debug)]
pub(crate) enum RequestKind {
    IkeSaInit,
    IkeAuth,
    /// DELETE of the whole IKE SA (RFC 7296 1.4.1).
    DeleteIke,
    /// DELETE of these CHILD_SAs (our inbound SPIs).
    DeleteChild(Vec<u32>),
    /// Any other INFORMATIONAL (e.g. an empty liveness check).
    Informational,
    /// CREATE_CHILD_SA for a new CHILD_SA or a CHILD_SA rekey (RFC 7296 1.3.1, 1.3.3).
    CreateChild(Box<super::create_child::ChildRequest>),
    /// CREATE_CHILD_SA rekeying the IKE SA (RFC 7296 1.3.2).
    RekeyIke(Box<super::rekey_ike::IkeRekeyRequest>),
}

impl RequestKind {
    /// The exchange (and what it is for), for logs.
    pub fn describe(&self) -> &'static str {
        match self {
            RequestKind::IkeSaInit => "IKE_SA_INIT",
            RequestKind::IkeAuth => "IKE_AUTH",
            RequestKind::DeleteIke => "INFORMATIONAL (DELETE IKE_SA)",
            RequestKind::DeleteChild(_) => "INFORMATIONAL (DELETE CHILD_SA)",
            RequestKind::Informational => "INFORMATIONAL",
            RequestKind::CreateChild(_) => "CREATE_CHILD_SA",
            RequestKind::RekeyIke(_) => "CREATE_CHILD_SA (rekey IKE_SA)",
        }
    }
}

/// The one request we have in flight on an IKE SA (window size 1, RFC 7296 2.3).
pub(crate) struct Outstanding {
    pub kind: RequestKind,
    pub message_id: u32,
    pub transmit: Transmit,
    /// Retransmissions sent so far (the original send is not counted).
    pub retransmits: u32,
    pub deadline: Instant,
    /// Give up at this instant even if retransmissions remain (DPD timeout, RFC 7296 2.4).
    pub give_up_at: Option<Instant>,
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
            give_up_at: None,
        }
    }

    /// Cap the schedule: give up `limit` after now (the first send).
    pub fn give_up_after(mut self, now: Instant, limit: std::time::Duration) -> Self {
        let at = now.checked_add(limit).unwrap_or(now);
        self.give_up_at = Some(at);
        self.deadline = self.deadline.min(at);
        self
    }

    /// Called when `deadline` has passed.
    pub fn on_timeout(&mut self, now: Instant, cfg: &RetransmitConfig) -> OnTimeout {
        let capped = self.give_up_at.is_some_and(|g| g <= now);
        if self.retransmits >= cfg.tries || capped {
            return OnTimeout::GiveUp {
                tries: self.retransmits,
            };
        }
        self.retransmits = self.retransmits.saturating_add(1);
        self.deadline = now
            .checked_add(cfg.wait_after(self.retransmits))
            .unwrap_or(now);
        if let Some(g) = self.give_up_at {
            self.deadline = self.deadline.min(g);
        }
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
