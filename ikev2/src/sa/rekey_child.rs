//! CHILD_SA rekeying (RFC 7296 1.3.3, 2.8) and its collisions (2.8.1, 2.25.1).
//!
//! Make-before-break, as strongSwan does it: the rekey initiator installs the new SA in both
//! directions when the response arrives (the responder installed it before answering) and then
//! deletes the old one; the responder installs the new inbound SA at once but moves outbound
//! traffic only when the old SA is gone (normally: the initiator's DELETE). So neither side
//! ever sends on an SA the other cannot decrypt, and there is always an outbound SA.
//!
//! Collisions: if the peer rekeys a CHILD_SA we are rekeying, we answer as usual and remember
//! its nonces. When our response arrives, the exchange holding the lowest of the four nonces
//! created the redundant SA, which its initiator deletes; the winner deletes the old SA. If
//! we completed our rekey before the peer's request arrives, the old SA is being deleted and
//! the peer gets TEMPORARY_FAILURE (2.25.1), so both ends always agree on the survivor.

use super::child_sa::{ChildRecord, ChildState, Collision};
use super::create_child::{self, ChildRequest};
use super::informational::{remove_child, send_delete_child};
use super::keys::IkeKeys;
use super::work::REKEY_RETRY;
use super::{lifetime, notify, Ctx, IkeSa};
use crate::crypto::Secret;
use crate::event::Event;
use crate::wire::{Notify, NotifyType, Payload, ProtocolId};

/// Initiator: rekey the CHILD_SA with our inbound SPI `spi`. False if nothing was sent.
pub(crate) fn start(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys, spi: u32) -> bool {
    let Some(c) = sa
        .children
        .iter()
        .find(|c| c.inbound_spi == spi && c.state == ChildState::Active)
        .cloned()
    else {
        return false;
    };
    let (proposals, lt) = match sa.cfg.child_config(&c.name) {
        Some(cfg) if !cfg.esp_proposals.is_empty() => (cfg.esp_proposals, cfg.lifetime),
        _ => (vec![c.suite.to_spec()], sa.cfg.child_lifetime),
    };
    let sent = create_child::request(
        sa,
        ctx,
        keys,
        c.name.clone(),
        Some(spi),
        proposals,
        c.local_ts.clone(),
        c.remote_ts.clone(),
        lt,
        c.suite.dh,
    );
    if sent {
        if let Some(r) = sa.children.iter_mut().find(|r| r.inbound_spi == spi) {
            r.state = ChildState::Rekeying;
            r.collision = None;
        }
    }
    sent
}

/// The lowest nonce of an exchange (RFC 7296 2.8.1 compares the four nonces).
fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}

/// Responder: a CREATE_CHILD_SA with REKEY_SA naming our outbound SPI (1.3.3).
pub(crate) fn on_request(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
    n: &Notify,
) -> Vec<Payload> {
    let not_found = |spi: &[u8]| {
        vec![Payload::Notify(Notify {
            protocol: ProtocolId::ESP,
            spi: spi.to_vec(),
            kind: NotifyType::CHILD_SA_NOT_FOUND,
            data: vec![],
        })]
    };
    let Ok(b) = <[u8; 4]>::try_from(n.spi.as_slice()) else {
        return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
    };
    if n.protocol != ProtocolId::ESP {
        return not_found(&n.spi);
    }
    let outbound = u32::from_be_bytes(b);
    let Some(i) = sa.children.iter().position(|c| c.outbound_spi == outbound) else {
        // RFC 7296 2.25.1: one we are deleting gets TEMPORARY_FAILURE, others are unknown.
        if sa.deleted_outbound.contains(&outbound) {
            return vec![notify(NotifyType::TEMPORARY_FAILURE, vec![])];
        }
        return not_found(&n.spi);
    };
    let state = sa.children.get(i).map(|c| c.state);
    if !matches!(state, Some(ChildState::Active | ChildState::Rekeying)) {
        // Already rekeyed (being deleted) or redundant (2.25.1).
        return vec![notify(NotifyType::TEMPORARY_FAILURE, vec![])];
    }
    let Some(old) = sa.children.get(i).cloned() else {
        return not_found(&n.spi);
    };
    let configs: Vec<_> = sa.cfg.child_config(&old.name).into_iter().collect();
    let mut out = Vec::new();
    match create_child::accept(sa, ctx, keys, p, &configs, Some(&old), &mut out) {
        Ok(mut a) => {
            a.record.installed = true;
            a.record.awaiting_outbound = Some(old.inbound_spi);
            let new = a.record.event(
                sa.peer,
                a.inbound_keys,
                a.outbound_keys,
                sa.local,
                sa.remote,
            );
            let new_inbound = a.record.inbound_spi;
            if let Some(o) = sa.children.get_mut(i) {
                if o.state == ChildState::Rekeying {
                    o.collision = Some(Collision {
                        peer_ni: a.ni,
                        our_nr: a.nr,
                        new_inbound,
                    });
                } else {
                    o.state = ChildState::Replaced;
                }
            }
            sa.children.push(a.record);
            ctx.emit(Event::ChildSaRekeyed {
                peer: sa.peer,
                child: old.name.clone(),
                old_inbound_spi: old.inbound_spi,
                old_outbound_spi: old.outbound_spi,
                new,
                outbound_now: false,
            });
        }
        Err(Some(error)) => ctx.emit(Event::Failed {
            peer: sa.peer,
            error,
        }),
        Err(None) => {}
    }
    out
}

/// Initiator: our rekey succeeded with `record` (keys given); decide the collision, if any.
#[allow(clippy::too_many_arguments)]
pub(crate) fn complete(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    req: &ChildRequest,
    mut record: ChildRecord,
    nr: &[u8],
    inbound_keys: Secret,
    outbound_keys: Secret,
) {
    let old_spi = req.rekey.unwrap_or_default();
    let Some(i) = sa.children.iter().position(|c| c.inbound_spi == old_spi) else {
        if sa.lost_rekeys.contains(&old_spi) {
            // The peer won a collision and already deleted the old SA: ours is redundant.
            sa.lost_rekeys.retain(|s| *s != old_spi);
            record.state = ChildState::Redundant;
            let spi = record.inbound_spi;
            sa.children.push(record);
            super::informational::delete_child_with(sa, ctx, keys, spi);
            return;
        }
        // The old SA went away meanwhile (the peer deleted it): the new one simply exists.
        record.installed = true;
        let event = record.event(sa.peer, inbound_keys, outbound_keys, sa.local, sa.remote);
        sa.children.push(record);
        ctx.emit(Event::ChildSaEstablished(event));
        return;
    };
    let collision = sa.children.get_mut(i).and_then(|c| c.collision.take());
    let lost = collision
        .as_ref()
        .is_some_and(|c| lowest(&req.ni, nr) < lowest(&c.peer_ni, &c.our_nr));
    if lost {
        // RFC 7296 2.8.1: ours is redundant; delete it unused. The peer won and deletes the
        // old SA, which moves our outbound traffic to its new SA.
        if let Some(o) = sa.children.get_mut(i) {
            o.state = ChildState::Replaced;
        }
        record.state = ChildState::Redundant;
        let spi = record.inbound_spi;
        sa.children.push(record);
        super::informational::delete_child_with(sa, ctx, keys, spi);
        return;
    }
    if let Some(c) = collision {
        // We won: the peer deletes the SA its exchange created; never send on it.
        if let Some(r) = sa
            .children
            .iter_mut()
            .find(|r| r.inbound_spi == c.new_inbound)
        {
            r.state = ChildState::Redundant;
            r.awaiting_outbound = None;
            r.rekey_at = None;
        }
    }
    let Some(old) = sa.children.get_mut(i) else {
        return;
    };
    old.state = ChildState::Rekeyed;
    let (old_in, old_out, name) = (old.inbound_spi, old.outbound_spi, old.name.clone());
    record.installed = true;
    let new = record.event(sa.peer, inbound_keys, outbound_keys, sa.local, sa.remote);
    sa.children.push(record);
    ctx.emit(Event::ChildSaRekeyed {
        peer: sa.peer,
        child: name,
        old_inbound_spi: old_in,
        old_outbound_spi: old_out,
        new,
        outbound_now: true,
    });
    // The old SA goes once the peer confirmed the DELETE (1.4.1).
    send_delete_child(sa, ctx, keys, vec![old_in]);
}

/// Initiator: our rekey produced no SA (error notify `kind`, or an unusable answer).
pub(crate) fn failed(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    _keys: &IkeKeys,
    req: &ChildRequest,
    kind: NotifyType,
    error: Option<crate::event::FailureReason>,
) {
    ctx.spis.remove(&req.spi);
    sa.spis.retain(|s| *s != req.spi);
    match error {
        Some(error) => ctx
            .errors
            .insert(sa.peer, format!("CHILD_SA rekey: {error}")),
        None => ctx
            .errors
            .insert(sa.peer, format!("CHILD_SA rekey refused: {kind}")),
    };
    let old_spi = req.rekey.unwrap_or_default();
    sa.lost_rekeys.retain(|s| *s != old_spi);
    let Some(i) = sa.children.iter().position(|c| c.inbound_spi == old_spi) else {
        return;
    };
    if kind == NotifyType::CHILD_SA_NOT_FOUND {
        // RFC 7296 2.25.1: the peer has no such SA; ours is useless.
        remove_child(sa, ctx, i);
        return;
    }
    let now = ctx.now;
    let Some(old) = sa.children.get_mut(i) else {
        return;
    };
    if old.collision.take().is_some() {
        // The peer's rekey of it succeeded and ours did not: its SA is the successor.
        old.state = ChildState::Replaced;
        return;
    }
    old.state = ChildState::Active;
    old.rekey_at = if kind == NotifyType::TEMPORARY_FAILURE {
        Some(lifetime::retry_at(now, ctx.rng))
    } else {
        now.checked_add(REKEY_RETRY)
    };
}
