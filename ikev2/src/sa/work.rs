//! What our side of an established IKE SA starts by itself when its request window is free
//! (RFC 7296 2.3, window size 1): hard expiry, the remaining CHILD_SAs after IKE_AUTH,
//! IKE SA and CHILD_SA rekeys when their soft lifetime passed (2.8) or the message IDs near
//! their end (2.2, `message_id`), and DPD probes (2.4).

use super::child_sa::ChildState;
use super::keys::IkeKeys;
use super::retransmit::RequestKind;
use super::{create_child, dpd, informational, message_id, rekey_child, rekey_ike};
use super::{Ctx, IkeSa, Next, State};
use crate::event::DeleteReason;
use crate::wire::{Delete, ExchangeType, Payload, ProtocolId};
use std::time::{Duration, Instant};

/// How long to wait before retrying a rekey that failed for a reason other than
/// TEMPORARY_FAILURE (the hard lifetime still ends the SA).
pub(crate) const REKEY_RETRY: Duration = Duration::from_secs(60);

/// Whether our side may start exchanges on this SA.
fn active(sa: &IkeSa) -> bool {
    matches!(sa.state, State::Established(_)) && may_start(sa)
}

/// The same, for callers that took the `Established` state out to borrow its keys.
fn may_start(sa: &IkeSa) -> bool {
    sa.established_at.is_some() && !sa.closing && !sa.superseded && sa.redundant_until.is_none()
}

/// The earliest instant something is due (call only while no request is outstanding).
pub(crate) fn deadline(sa: &IkeSa) -> Option<Instant> {
    if !active(sa) {
        return None;
    }
    let mut d: Vec<Option<Instant>> = vec![sa.expire_at, sa.rekey_at, dpd::due(sa)];
    if !sa.queued.is_empty() || !sa.to_create.is_empty() {
        d.push(sa.established_at);
    }
    for c in &sa.children {
        if c.state == ChildState::Active {
            d.push(c.rekey_at);
        }
        if c.state != ChildState::Rekeying {
            d.push(c.expire_at);
        }
    }
    d.into_iter().flatten().min()
}

/// Timer expiry with no request outstanding.
pub(crate) fn on_timeout(sa: &mut IkeSa, ctx: &mut Ctx<'_>) -> Next {
    if !active(sa) {
        return Next::Keep;
    }
    let until = ctx.now;
    if let State::Established(st) = std::mem::replace(&mut sa.state, State::Closed { until }) {
        start_due(sa, ctx, &st.keys);
        sa.state = State::Established(st);
    }
    Next::Keep
}

/// Start the most urgent due thing, if the window is free. Everything due either starts a
/// request or has its deadline moved, so timers never spin.
pub(crate) fn start_due(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys) {
    if !may_start(sa) || sa.outstanding.is_some() {
        return;
    }
    if let Some(q) = sa.queued.pop_front() {
        sa.send_request(ctx, keys, q.exchange, q.payloads, q.kind);
        return;
    }
    let now = ctx.now;
    let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
    // Hard lifetime of the IKE SA: delete it (RFC 7296 2.8).
    if due(sa.expire_at) {
        sa.emit_deleted(ctx, DeleteReason::Expired);
        let payloads = vec![Payload::Delete(Delete {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: vec![],
        })];
        sa.send_request(
            ctx,
            keys,
            ExchangeType::INFORMATIONAL,
            payloads,
            RequestKind::DeleteIke,
        );
        return;
    }
    // Hard lifetime of a CHILD_SA: delete it (RFC 7296 2.8). A rekey that could not happen in
    // time (e.g. an IKE rekey held the window under loss) must not leave the IKE SA without
    // the CHILD_SA its configuration asks for: create it again right after the DELETE
    // (CREATE_CHILD_SA, RFC 7296 1.3.1), unless another SA of that child is still there.
    if let Some((spi, name)) = sa
        .children
        .iter()
        .find(|c| c.state != ChildState::Rekeying && due(c.expire_at))
        .map(|c| (c.inbound_spi, c.name.clone()))
    {
        let replaced = sa
            .children
            .iter()
            .any(|c| c.name == name && c.inbound_spi != spi);
        if !replaced && !sa.to_create.contains(&name) {
            sa.to_create.push_back(name);
        }
        informational::delete_child_with(sa, ctx, keys, spi);
        return;
    }
    if let Some(name) = sa.to_create.pop_front() {
        if create_child::start_new(sa, ctx, keys, &name) {
            return;
        }
        // Unusable configuration: reported, try the next thing.
        return start_due(sa, ctx, keys);
    }
    if due(sa.rekey_at) {
        if rekey_ike::start(sa, ctx, keys) {
            return;
        }
        if message_id::near_end(sa) {
            // RFC 7296 2.2: the SA cannot be rekeyed, so it is closed before its message
            // IDs wrap.
            sa.expire_at = Some(now);
            return start_due(sa, ctx, keys);
        }
        sa.rekey_at = now.checked_add(REKEY_RETRY);
    }
    if let Some(spi) = sa
        .children
        .iter()
        .find(|c| c.state == ChildState::Active && due(c.rekey_at))
        .map(|c| c.inbound_spi)
    {
        if rekey_child::start(sa, ctx, keys, spi) {
            return;
        }
        if let Some(c) = sa.children.iter_mut().find(|c| c.inbound_spi == spi) {
            c.rekey_at = now.checked_add(REKEY_RETRY);
        }
    }
    if due(dpd::due(sa)) {
        // RFC 7296 2.4: an empty INFORMATIONAL; its response refreshes `last_heard`.
        sa.send_request(
            ctx,
            keys,
            ExchangeType::INFORMATIONAL,
            vec![],
            RequestKind::Informational,
        );
    }
}
