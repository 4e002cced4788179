//! Rekeying the IKE SA in place (RFC 7296 1.3.2, 2.18): CREATE_CHILD_SA with SA(IKE, new
//! SPI), Ni, KEi; keys from the old SK_d (2.18); the CHILD_SAs move to the new IKE SA
//! untouched; the rekey initiator deletes the old IKE SA (the DELETE is the last request on
//! it). Message IDs restart at zero on the new IKE SA.
//!
//! Collisions (2.8.2): if the peer rekeys while our rekey is outstanding we answer as usual,
//! keep its new IKE SA aside (no CHILD_SAs, removed silently if never adopted), and decide
//! when our response arrives: the exchange with the lowest of the four nonces made the
//! redundant IKE SA, which its initiator deletes; the other gets the CHILD_SAs.

use super::ike_sa_init::our_ike_wire;
use super::keys::IkeKeys;
use super::retransmit::{schedule_length, RequestKind};
use super::work::REKEY_RETRY;
use super::{
    error_notify, lifetime, new_nonce, nonce_ok, notify, notify_data, Ctx, Established, IkeSa,
    State, Transfer,
};
use crate::crypto::KeyExchange;
use crate::event::Event;
use crate::proposal::{self, IkeSuite};
use crate::wire::{
    Delete, DhGroup, ExchangeType, KePayload, NotifyType, Payload, ProtocolId, SaPayload,
};
use std::collections::VecDeque;

const MAX_KE_RETRIES: u8 = 2;

/// Our outstanding IKE SA rekey.
pub(crate) struct IkeRekeyRequest {
    /// Our SPI of the new IKE SA (its SPIi).
    pub spi: u64,
    pub ni: Vec<u8>,
    pub ke: KeyExchange,
    pub ke_retries: u8,
}

impl core::fmt::Debug for IkeRekeyRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IkeRekeyRequest")
            .field("spi", &format_args!("{:016x}", self.spi))
            .field("group", &self.ke.group())
            .finish_non_exhaustive()
    }
}

/// The peer's IKE rekey we answered while ours was outstanding.
pub(crate) struct IkeCollision {
    pub peer_ni: Vec<u8>,
    pub our_nr: Vec<u8>,
    /// Our SPI of the IKE SA the peer's exchange created, and its identity for the event.
    pub new_spi: u64,
    pub spi_i: u64,
    pub spi_r: u64,
    pub suite: IkeSuite,
}

/// Initiator: start rekeying the IKE SA. False if nothing was sent.
pub(crate) fn start(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys) -> bool {
    // RFC 7296 2.25.2: not while one of our CHILD_SA exchanges is under way.
    if sa.outstanding.is_some() {
        return false;
    }
    let groups = proposal::ike_dh_groups(&sa.cfg.ike_proposals);
    let group = match sa.suite.map(|s| s.dh) {
        Some(g) if groups.contains(&g) => g,
        _ => match groups.first() {
            Some(g) => *g,
            None => return false,
        },
    };
    let Ok(ke) = KeyExchange::generate(group, ctx.rng) else {
        return false;
    };
    let spi = ctx.fresh_ike_spi(&[sa.our_spi()]);
    let req = IkeRekeyRequest {
        spi,
        ni: new_nonce(ctx.rng),
        ke,
        ke_retries: 0,
    };
    send(sa, ctx, keys, req);
    sa.outstanding.is_some()
}

/// SA (our IKE proposals with the new SPI), Ni, KEi (RFC 7296 1.3.2).
fn send(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys, req: IkeRekeyRequest) {
    let mut proposals = our_ike_wire(&sa.cfg);
    for p in &mut proposals {
        p.spi = req.spi.to_be_bytes().to_vec();
    }
    let payloads = vec![
        Payload::Sa(SaPayload { proposals }),
        Payload::Nonce(req.ni.clone()),
        Payload::Ke(KePayload {
            group: req.ke.group(),
            data: req.ke.public_value().to_vec(),
        }),
    ];
    sa.send_request(
        ctx,
        keys,
        ExchangeType::CREATE_CHILD_SA,
        payloads,
        RequestKind::RekeyIke(Box::new(req)),
    );
}

fn ike_spi(spi: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(spi)
        .ok()
        .map(u64::from_be_bytes)
        .filter(|s| *s != 0)
}

/// A new established IKE SA succeeding `sa`.
fn successor(
    sa: &IkeSa,
    ctx: &mut Ctx<'_>,
    initiator: bool,
    spi_i: u64,
    spi_r: u64,
    suite: IkeSuite,
    keys: IkeKeys,
) -> IkeSa {
    let mut n = IkeSa::new(
        sa.peer,
        sa.cfg.clone(),
        initiator,
        spi_i,
        spi_r,
        sa.local,
        sa.remote,
        State::Established(Box::new(Established { keys })),
    );
    n.suite = Some(suite);
    n.nat_local = sa.nat_local;
    n.nat_remote = sa.nat_remote;
    n.established_at = Some(ctx.now);
    n.start_lifetime(ctx);
    n
}

/// Move everything that lives on from `old` to `new` (RFC 7296 2.18: the CHILD_SAs).
fn adopt_into(old: &mut IkeSa, new: &mut IkeSa) {
    new.children.append(&mut old.children);
    new.spis.append(&mut old.spis);
    new.queued.append(&mut old.queued);
    new.to_create.append(&mut old.to_create);
}

/// The old IKE SA after the rekey: no more work of its own; it waits for (or sends) the
/// DELETE and goes silently.
fn supersede(old: &mut IkeSa, ctx: &Ctx<'_>) {
    old.superseded = true;
    old.redundant_until = ctx
        .now
        .checked_add(schedule_length(&old.cfg.retransmit))
        .or(Some(ctx.now));
}

fn emit_rekeyed(old: &IkeSa, ctx: &mut Ctx<'_>, spi_i: u64, spi_r: u64, suite: IkeSuite) {
    ctx.emit(Event::IkeSaRekeyed {
        peer: old.peer,
        old_spi_i: old.spi_i,
        old_spi_r: old.spi_r,
        new_spi_i: spi_i,
        new_spi_r: spi_r,
        suite,
    });
}

/// Responder: the peer's CREATE_CHILD_SA with an IKE proposal. Returns the response.
pub(crate) fn on_request(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
) -> Vec<Payload> {
    let err = |kind: NotifyType| vec![notify(kind, vec![])];
    // RFC 7296 2.25.2: TEMPORARY_FAILURE while we create, rekey or delete a CHILD_SA.
    let busy = matches!(
        sa.outstanding.as_ref().map(|o| &o.kind),
        Some(RequestKind::CreateChild(_) | RequestKind::DeleteChild(_))
    ) || sa
        .queued
        .iter()
        .any(|q| matches!(q.kind, RequestKind::DeleteChild(_)));
    if busy {
        return err(NotifyType::TEMPORARY_FAILURE);
    }
    let find = |f: fn(&Payload) -> bool| p.iter().find(|x| f(x));
    let (Some(Payload::Sa(offer)), Some(Payload::Nonce(ni)), Some(Payload::Ke(ke))) = (
        find(|x| matches!(x, Payload::Sa(_))),
        find(|x| matches!(x, Payload::Nonce(_))),
        find(|x| matches!(x, Payload::Ke(_))),
    ) else {
        return err(NotifyType::INVALID_SYNTAX);
    };
    if !nonce_ok(ni) {
        return err(NotifyType::INVALID_SYNTAX);
    }
    let Ok((num, suite)) =
        proposal::select_ike_with_ke(&sa.cfg.ike_proposals, &offer.proposals, Some(ke.group))
    else {
        return err(NotifyType::NO_PROPOSAL_CHOSEN);
    };
    if ke.group != suite.dh {
        return vec![notify(
            NotifyType::INVALID_KE_PAYLOAD,
            suite.dh.0.to_be_bytes().to_vec(),
        )];
    }
    let Some(peer_spi) = offer
        .proposals
        .iter()
        .find(|x| x.num == num)
        .and_then(|x| ike_spi(&x.spi))
    else {
        return err(NotifyType::INVALID_SYNTAX);
    };
    let Ok(our_ke) = KeyExchange::generate(suite.dh, ctx.rng) else {
        return err(NotifyType::NO_PROPOSAL_CHOSEN);
    };
    let Ok(g_ir) = our_ke.agree(&ke.data) else {
        return err(NotifyType::INVALID_SYNTAX);
    };
    let nr = new_nonce(ctx.rng);
    let our_spi = ctx.fresh_ike_spi(&[sa.our_spi()]);
    let Ok(new_keys) = IkeKeys::derive_rekeyed(
        keys,
        &suite,
        false,
        ni,
        &nr,
        g_ir.as_bytes(),
        peer_spi,
        our_spi,
    ) else {
        return err(NotifyType::NO_PROPOSAL_CHOSEN);
    };
    let mut new = successor(sa, ctx, false, peer_spi, our_spi, suite, new_keys);
    let mut chosen = suite.to_wire(num);
    chosen.spi = our_spi.to_be_bytes().to_vec();
    let out = vec![
        Payload::Sa(SaPayload {
            proposals: vec![chosen],
        }),
        Payload::Nonce(nr.clone()),
        Payload::Ke(KePayload {
            group: suite.dh,
            data: our_ke.public_value().to_vec(),
        }),
    ];
    let colliding = matches!(
        sa.outstanding.as_ref().map(|o| &o.kind),
        Some(RequestKind::RekeyIke(_))
    );
    if colliding {
        // Decided when our own response arrives (2.8.2).
        sa.ike_collision = Some(IkeCollision {
            peer_ni: ni.clone(),
            our_nr: nr,
            new_spi: our_spi,
            spi_i: peer_spi,
            spi_r: our_spi,
            suite,
        });
        new.redundant_until = ctx
            .now
            .checked_add(schedule_length(&sa.cfg.retransmit))
            .or(Some(ctx.now));
    } else {
        adopt_into(sa, &mut new);
        emit_rekeyed(sa, ctx, peer_spi, our_spi, suite);
        supersede(sa, ctx);
    }
    ctx.spawned.push(new);
    out
}

/// The peer's IKE SA from a collision becomes the successor (we lost, our exchange failed,
/// or the peer deleted the old IKE SA before our answer came). True if there was one.
pub(crate) fn adopt_collision(sa: &mut IkeSa, ctx: &mut Ctx<'_>) -> bool {
    let Some(c) = sa.ike_collision.take() else {
        return false;
    };
    ctx.transfers.push(Transfer {
        peer: sa.peer,
        to: c.new_spi,
        children: std::mem::take(&mut sa.children),
        spis: std::mem::take(&mut sa.spis),
        queued: std::mem::take(&mut sa.queued),
        to_create: std::mem::take(&mut sa.to_create),
    });
    emit_rekeyed(sa, ctx, c.spi_i, c.spi_r, c.suite);
    supersede(sa, ctx);
    true
}

/// Initiator: the response to our IKE SA rekey.
pub(crate) fn on_response(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
    mut req: IkeRekeyRequest,
) {
    if let Some(kind) = error_notify(p) {
        if kind == NotifyType::INVALID_KE_PAYLOAD {
            let wanted = notify_data(p, kind)
                .and_then(|d| <[u8; 2]>::try_from(d).ok())
                .map(|b| DhGroup(u16::from_be_bytes(b)));
            if let Some(g) = wanted
                .filter(|g| proposal::ike_dh_acceptable(&sa.cfg.ike_proposals, *g))
                .filter(|g| *g != req.ke.group() && req.ke_retries < MAX_KE_RETRIES)
            {
                if let Ok(ke) = KeyExchange::generate(g, ctx.rng) {
                    req.ke = ke;
                    req.ni = new_nonce(ctx.rng);
                    req.ke_retries = req.ke_retries.saturating_add(1);
                    return send(sa, ctx, keys, req);
                }
            }
        }
        return failed(sa, ctx, kind.to_string());
    }
    let find = |f: fn(&Payload) -> bool| p.iter().find(|x| f(x));
    let (Some(Payload::Sa(chosen)), Some(Payload::Nonce(nr)), Some(Payload::Ke(ke))) = (
        find(|x| matches!(x, Payload::Sa(_))),
        find(|x| matches!(x, Payload::Nonce(_))),
        find(|x| matches!(x, Payload::Ke(_))),
    ) else {
        return failed(sa, ctx, "response without SA, nonce or KE".into());
    };
    let [chosen] = chosen.proposals.as_slice() else {
        return failed(sa, ctx, "no single proposal".into());
    };
    let (Some(peer_spi), Ok(suite)) = (
        ike_spi(&chosen.spi),
        proposal::accept_ike(&sa.cfg.ike_proposals, chosen),
    ) else {
        return failed(sa, ctx, "unusable proposal".into());
    };
    if !nonce_ok(nr) || ke.group != suite.dh || ke.group != req.ke.group() {
        return failed(sa, ctx, "bad nonce or KE group".into());
    }
    let Ok(g_ir) = req.ke.agree(&ke.data) else {
        return failed(sa, ctx, "invalid KE".into());
    };
    let Ok(new_keys) = IkeKeys::derive_rekeyed(
        keys,
        &suite,
        true,
        &req.ni,
        nr,
        g_ir.as_bytes(),
        req.spi,
        peer_spi,
    ) else {
        return failed(sa, ctx, "key derivation".into());
    };
    if ctx.sas.contains_key(&req.spi) {
        return failed(sa, ctx, "SPI taken".into());
    }
    let lost = sa
        .ike_collision
        .as_ref()
        .is_some_and(|c| req.ni.as_slice().min(nr) < c.peer_ni.as_slice().min(&c.our_nr));
    let mut new = successor(sa, ctx, true, req.spi, peer_spi, suite, new_keys);
    if lost {
        // RFC 7296 2.8.2: ours is redundant; delete it at once, silently. The peer deletes
        // the old IKE SA.
        new.redundant_until = ctx
            .now
            .checked_add(schedule_length(&sa.cfg.retransmit))
            .or(Some(ctx.now));
        delete_silently(&mut new, ctx);
        ctx.spawned.push(new);
        adopt_collision(sa, ctx);
        sa.redundant_until = ctx
            .now
            .checked_add(schedule_length(&sa.cfg.retransmit))
            .or(Some(ctx.now));
        return;
    }
    // Won or no collision: the peer's SA (if any) stays aside until the peer deletes it.
    sa.ike_collision = None;
    adopt_into(sa, &mut new);
    emit_rekeyed(sa, ctx, req.spi, peer_spi, suite);
    ctx.spawned.push(new);
    supersede(sa, ctx);
    // RFC 7296 2.18: the DELETE is the last request on the old IKE SA.
    sa.queued.clear();
    sa.closing = true;
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
}

/// DELETE an IKE SA that never carried anything (a collision's redundant SA).
fn delete_silently(sa: &mut IkeSa, ctx: &mut Ctx<'_>) {
    sa.closing = true;
    let until = ctx.now;
    if let State::Established(st) = std::mem::replace(&mut sa.state, State::Closed { until }) {
        let payloads = vec![Payload::Delete(Delete {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: vec![],
        })];
        sa.send_request(
            ctx,
            &st.keys,
            ExchangeType::INFORMATIONAL,
            payloads,
            RequestKind::DeleteIke,
        );
        sa.state = State::Established(st);
    }
}

/// Our rekey produced no IKE SA: the peer's (from a collision) takes over, or we retry later
/// (RFC 7296 2.25: TEMPORARY_FAILURE means retry; the hard lifetime still applies).
fn failed(sa: &mut IkeSa, ctx: &mut Ctx<'_>, why: String) {
    if adopt_collision(sa, ctx) {
        return;
    }
    ctx.errors.insert(sa.peer, format!("IKE SA rekey: {why}"));
    sa.rekey_at = if why == NotifyType::TEMPORARY_FAILURE.to_string() {
        Some(lifetime::retry_at(ctx.now, ctx.rng))
    } else {
        ctx.now.checked_add(REKEY_RETRY)
    };
    let _ = VecDeque::<()>::new();
}
