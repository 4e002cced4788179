//! CREATE_CHILD_SA for CHILD_SAs (RFC 7296 1.3.1, 1.3.3, 2.17): the request (new CHILD_SA or
//! rekey, optional KE for PFS with the group of our ESP proposals), the responder's
//! selection and traffic selector narrowing per child configuration, and the initiator's
//! checks of the answer, including INVALID_KE_PAYLOAD (1.3, 2.7). Rekey specifics and
//! collisions are in `rekey_child`, the IKE SA rekey in `rekey_ike`.

use super::child_sa::{allocate_spi, derive_keys, ChildRecord, ChildState};
use super::keys::IkeKeys;
use super::retransmit::RequestKind;
use super::traffic_selector::{narrow, within};
use super::{
    error_notify, lifetime, new_nonce, nonce_ok, notify, notify_data, rekey_child, rekey_ike, Ctx,
    IkeSa,
};
use crate::config::{ChildConfig, ChildLifetime, Lifetime};
use crate::crypto::{KeyExchange, Secret};
use crate::event::{Event, FailureReason};
use crate::proposal::{self, EspProposalSpec, EspSuite};
use crate::wire::{
    DhGroup, ExchangeType, KePayload, Notify, NotifyType, Payload, Proposal, ProtocolId, SaPayload,
    TrafficSelector,
};

/// At most this many CHILD_SAs per IKE SA (bounded state); more get NO_ADDITIONAL_SAS.
pub(crate) const MAX_CHILDREN: usize = 64;
/// How often we follow INVALID_KE_PAYLOAD on one request.
const MAX_KE_RETRIES: u8 = 2;

/// Our outstanding CREATE_CHILD_SA for a CHILD_SA.
pub(crate) struct ChildRequest {
    pub name: String,
    /// Our inbound SPI of the CHILD_SA being rekeyed (REKEY_SA, 1.3.3), if a rekey.
    pub rekey: Option<u32>,
    /// Our inbound SPI of the new CHILD_SA.
    pub spi: u32,
    pub ni: Vec<u8>,
    pub ke: Option<KeyExchange>,
    pub proposals: Vec<EspProposalSpec>,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub lifetime: ChildLifetime,
    pub ke_retries: u8,
}

impl core::fmt::Debug for ChildRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChildRequest")
            .field("name", &self.name)
            .field("rekey", &self.rekey)
            .field("spi", &self.spi)
            .field("ke", &self.ke.as_ref().map(KeyExchange::group))
            .finish_non_exhaustive()
    }
}

/// The PFS group to send a KE for: `prefer` (the group the SA being rekeyed used) if we
/// propose it, else the first group in our proposals (RFC 7296 1.3.1: KEi must be of the
/// group the initiator expects the responder to accept). None: no PFS.
pub(crate) fn pfs_group(proposals: &[EspProposalSpec], prefer: Option<DhGroup>) -> Option<DhGroup> {
    let mut all = proposals
        .iter()
        .flat_map(|p| p.dh.iter().copied())
        .filter(|g| *g != DhGroup::NONE);
    match prefer {
        Some(g) if proposals.iter().any(|p| p.dh.contains(&g)) => Some(g),
        _ => all.next(),
    }
}

fn wire_proposals(proposals: &[EspProposalSpec], spi: u32) -> Vec<Proposal> {
    proposals
        .iter()
        .take(usize::from(u8::MAX))
        .enumerate()
        .map(|(i, p)| {
            p.to_wire(
                u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX),
                spi,
                true,
            )
        })
        .collect()
}

/// Build a request for `cfg`'s CHILD_SA (or a rekey of `rekey`) and send it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn request(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    name: String,
    rekey: Option<u32>,
    proposals: Vec<EspProposalSpec>,
    local_ts: Vec<TrafficSelector>,
    remote_ts: Vec<TrafficSelector>,
    lifetime: Lifetime,
    prefer_group: Option<DhGroup>,
) -> bool {
    let ke = match pfs_group(&proposals, prefer_group) {
        Some(g) => match KeyExchange::generate(g, ctx.rng) {
            Ok(ke) => Some(ke),
            Err(e) => {
                ctx.errors.insert(sa.peer, e.to_string());
                return false;
            }
        },
        None => None,
    };
    let spi = allocate_spi(ctx.rng, ctx.spis);
    sa.spis.push(spi);
    let req = ChildRequest {
        name,
        rekey,
        spi,
        ni: new_nonce(ctx.rng),
        ke,
        proposals,
        local_ts,
        remote_ts,
        lifetime,
        ke_retries: 0,
    };
    send(sa, ctx, keys, req);
    sa.outstanding.is_some()
}

/// [N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr (RFC 7296 1.3.1, 1.3.3).
fn send(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys, req: ChildRequest) {
    let mut payloads = Vec::with_capacity(6);
    if let Some(old) = req.rekey {
        payloads.push(Payload::Notify(Notify {
            protocol: ProtocolId::ESP,
            spi: old.to_be_bytes().to_vec(),
            kind: NotifyType::REKEY_SA,
            data: vec![],
        }));
    }
    payloads.push(Payload::Sa(SaPayload {
        proposals: wire_proposals(&req.proposals, req.spi),
    }));
    payloads.push(Payload::Nonce(req.ni.clone()));
    if let Some(ke) = &req.ke {
        payloads.push(Payload::Ke(KePayload {
            group: ke.group(),
            data: ke.public_value().to_vec(),
        }));
    }
    payloads.push(Payload::TsI(req.local_ts.clone()));
    payloads.push(Payload::TsR(req.remote_ts.clone()));
    sa.send_request(
        ctx,
        keys,
        ExchangeType::CREATE_CHILD_SA,
        payloads,
        RequestKind::CreateChild(Box::new(req)),
    );
}

/// Initiator: create the configured CHILD_SA `name` (after IKE_AUTH). False if nothing was
/// sent (the failure is reported).
pub(crate) fn start_new(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys, name: &str) -> bool {
    let Some(c) = sa.cfg.child_config(name) else {
        return false;
    };
    if c.esp_proposals.is_empty() {
        ctx.emit(Event::Failed {
            peer: sa.peer,
            error: FailureReason::Local(format!("child {name}: no ESP proposal configured")),
        });
        return false;
    }
    request(
        sa,
        ctx,
        keys,
        c.name,
        None,
        c.esp_proposals,
        c.local_ts,
        c.remote_ts,
        c.lifetime,
        None,
    )
}

fn find<'a, T>(p: &'a [Payload], f: impl Fn(&'a Payload) -> Option<T>) -> Option<T> {
    p.iter().find_map(f)
}

/// What the responder derived for a CHILD_SA request.
pub(crate) struct Accepted {
    pub record: ChildRecord,
    pub inbound_keys: Secret,
    pub outbound_keys: Secret,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
}

/// Responder: a CREATE_CHILD_SA request on an established IKE SA (message already opened).
/// Returns the response payloads.
pub(crate) fn on_request(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
) -> Vec<Payload> {
    let err = |kind: NotifyType| vec![notify(kind, vec![])];
    if sa.superseded || sa.closing || sa.redundant_until.is_some() {
        return err(NotifyType::TEMPORARY_FAILURE);
    }
    let Some(offer) = find(p, |x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    }) else {
        return err(NotifyType::INVALID_SYNTAX);
    };
    if offer
        .proposals
        .first()
        .is_some_and(|x| x.protocol == ProtocolId::IKE)
    {
        return rekey_ike::on_request(sa, ctx, keys, p);
    }
    let rekey = p.iter().find_map(|x| match x {
        Payload::Notify(n) if n.kind == NotifyType::REKEY_SA => Some(n),
        _ => None,
    });
    // RFC 7296 2.25.2: no CHILD_SA business while we rekey the IKE SA.
    if matches!(
        sa.outstanding.as_ref().map(|o| &o.kind),
        Some(RequestKind::RekeyIke(_))
    ) {
        return err(NotifyType::TEMPORARY_FAILURE);
    }
    match rekey {
        Some(n) => rekey_child::on_request(sa, ctx, keys, p, n),
        None => new_child_request(sa, ctx, keys, p),
    }
}

fn new_child_request(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
) -> Vec<Payload> {
    if sa.children.len() >= MAX_CHILDREN {
        return vec![notify(NotifyType::NO_ADDITIONAL_SAS, vec![])];
    }
    let configs = sa.cfg.child_configs();
    let mut out = Vec::new();
    match accept(sa, ctx, keys, p, &configs, None, &mut out) {
        Ok(mut a) => {
            a.record.installed = true;
            let event = a.record.event(
                sa.peer,
                a.inbound_keys,
                a.outbound_keys,
                sa.local,
                sa.remote,
            );
            sa.children.push(a.record);
            ctx.emit(Event::ChildSaEstablished(event));
        }
        Err(Some(error)) => ctx.emit(Event::Failed {
            peer: sa.peer,
            error,
        }),
        Err(None) => {}
    }
    out
}

/// Responder: select proposal and selectors among `configs` (first that fits, RFC 7296 2.9),
/// check the KE (1.3, 2.7), derive keys (2.17), allocate our SPI and append SA, Nr, [KEr],
/// TSi, TSr to `out` (or the error notify). `rekeyed`: the record being rekeyed, whose
/// selectors and suite serve when its configuration no longer exists.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accept(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
    configs: &[ChildConfig],
    rekeyed: Option<&ChildRecord>,
    out: &mut Vec<Payload>,
) -> Result<Accepted, Option<FailureReason>> {
    let offer = find(p, |x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    });
    let ni = find(p, |x| match x {
        Payload::Nonce(n) => Some(n),
        _ => None,
    });
    let tsi = find(p, |x| match x {
        Payload::TsI(t) => Some(t),
        _ => None,
    });
    let tsr = find(p, |x| match x {
        Payload::TsR(t) => Some(t),
        _ => None,
    });
    let ke = find(p, |x| match x {
        Payload::Ke(k) => Some(k),
        _ => None,
    });
    let (Some(offer), Some(ni), Some(tsi), Some(tsr)) = (offer, ni, tsi, tsr) else {
        out.push(notify(NotifyType::INVALID_SYNTAX, vec![]));
        return Err(Some(FailureReason::Protocol(
            "CREATE_CHILD_SA without SA, nonce or selectors".into(),
        )));
    };
    if !nonce_ok(ni) {
        out.push(notify(NotifyType::INVALID_SYNTAX, vec![]));
        return Err(None);
    }
    // Candidates: (name, allowed remote, allowed local, proposals, lifetime).
    let mut candidates: Vec<ChildConfig> = configs.to_vec();
    if let Some(r) = rekeyed {
        if candidates.is_empty() {
            candidates.push(ChildConfig {
                name: r.name.clone(),
                local_ts: r.local_ts.clone(),
                remote_ts: r.remote_ts.clone(),
                esp_proposals: vec![r.suite.to_spec()],
                lifetime: sa.cfg.child_lifetime,
            });
        }
    }
    let ke_group = ke.map(|k| k.group);
    let mut ts_ok = false;
    let mut picked = None;
    for c in &candidates {
        // RFC 7296 2.9: TSi is the initiator's side (our remote), TSr ours.
        let n_tsi = narrow(tsi, &c.remote_ts);
        let n_tsr = narrow(tsr, &c.local_ts);
        if n_tsi.is_empty() || n_tsr.is_empty() {
            continue;
        }
        ts_ok = true;
        if let Ok(sel) =
            proposal::select_esp_with_ke(&c.esp_proposals, &offer.proposals, true, ke_group)
        {
            picked = Some((c.clone(), n_tsi, n_tsr, sel));
            break;
        }
    }
    let Some((c, n_tsi, n_tsr, (num, suite))) = picked else {
        if ts_ok {
            out.push(notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![]));
            let ours: Vec<Proposal> = candidates
                .first()
                .map(|c| wire_proposals(&c.esp_proposals, 0))
                .unwrap_or_default();
            return Err(Some(FailureReason::ChildNoProposalChosen {
                ours: proposal::describe(&ours),
                theirs: Some(proposal::describe(&offer.proposals)),
            }));
        }
        out.push(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        return Err(Some(FailureReason::TsUnacceptable));
    };
    let Some(outbound_spi) = offer
        .proposals
        .iter()
        .find(|x| x.num == num)
        .and_then(proposal::esp_spi)
        .filter(|s| *s > 255)
    else {
        out.push(notify(NotifyType::INVALID_SYNTAX, vec![]));
        return Err(Some(FailureReason::Protocol(
            "bad ESP SPI in CREATE_CHILD_SA".into(),
        )));
    };
    // PFS (RFC 7296 1.3.1): the KE must be of the selected group, else INVALID_KE_PAYLOAD
    // names the group we want (2.7); a KE for a proposal without PFS is ignored.
    let (our_ke, g_ir) = match suite.dh {
        Some(g) => {
            let Some(ke) = ke.filter(|k| k.group == g) else {
                out.push(notify(
                    NotifyType::INVALID_KE_PAYLOAD,
                    g.0.to_be_bytes().to_vec(),
                ));
                return Err(None);
            };
            let Ok(ours) = KeyExchange::generate(g, ctx.rng) else {
                out.push(notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![]));
                return Err(Some(FailureReason::Local(format!(
                    "cannot use group {g:?}"
                ))));
            };
            let Ok(shared) = ours.agree(&ke.data) else {
                // RFC 6989: an invalid public value.
                out.push(notify(NotifyType::INVALID_SYNTAX, vec![]));
                return Err(Some(FailureReason::Protocol(
                    "invalid KE public value".into(),
                )));
            };
            (Some(ours), Some(shared))
        }
        None => (None, None),
    };
    let nr = new_nonce(ctx.rng);
    let (inbound_keys, outbound_keys) = match derive_keys(
        keys.prf,
        keys.sk_d.as_bytes(),
        g_ir.as_ref().map(Secret::as_bytes),
        ni,
        &nr,
        &suite,
        false,
    ) {
        Ok(k) => k,
        Err(e) => {
            out.push(notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![]));
            return Err(Some(FailureReason::Local(e.to_string())));
        }
    };
    let inbound_spi = allocate_spi(ctx.rng, ctx.spis);
    sa.spis.push(inbound_spi);
    out.push(Payload::Sa(SaPayload {
        proposals: vec![suite.to_wire(num, inbound_spi)],
    }));
    out.push(Payload::Nonce(nr.clone()));
    if let Some(k) = &our_ke {
        out.push(Payload::Ke(KePayload {
            group: k.group(),
            data: k.public_value().to_vec(),
        }));
    }
    out.push(Payload::TsI(n_tsi.clone()));
    out.push(Payload::TsR(n_tsr.clone()));
    let record = new_record(
        sa,
        ctx,
        &c.name,
        &c.lifetime,
        inbound_spi,
        outbound_spi,
        suite,
        n_tsr,
        n_tsi,
    );
    Ok(Accepted {
        record,
        inbound_keys,
        outbound_keys,
        ni: ni.clone(),
        nr,
    })
}

/// A fresh record with its lifetime started now.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_record(
    sa: &IkeSa,
    ctx: &mut Ctx<'_>,
    name: &str,
    lt: &Lifetime,
    inbound_spi: u32,
    outbound_spi: u32,
    suite: EspSuite,
    local_ts: Vec<TrafficSelector>,
    remote_ts: Vec<TrafficSelector>,
) -> ChildRecord {
    let (rekey_at, expire_at) = lifetime::deadlines(ctx.now, lt, ctx.rng);
    ChildRecord {
        name: name.to_string(),
        inbound_spi,
        outbound_spi,
        suite,
        local_ts,
        remote_ts,
        udp_encap: sa.nat_local || sa.nat_remote,
        state: ChildState::Active,
        rekey_at,
        expire_at,
        awaiting_outbound: None,
        installed: false,
        collision: None,
    }
}

/// Initiator: the response to our CREATE_CHILD_SA for a CHILD_SA.
pub(crate) fn on_response(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    p: &[Payload],
    mut req: ChildRequest,
) {
    if let Some(kind) = error_notify(p) {
        if kind == NotifyType::INVALID_KE_PAYLOAD {
            // RFC 7296 1.3 / 2.7: retry with the group the responder wants, if we offered it.
            let wanted = notify_data(p, kind)
                .and_then(|d| <[u8; 2]>::try_from(d).ok())
                .map(|b| DhGroup(u16::from_be_bytes(b)));
            let offered =
                |g: DhGroup| g != DhGroup::NONE && req.proposals.iter().any(|x| x.dh.contains(&g));
            if let Some(g) = wanted.filter(|g| offered(*g)) {
                if req.ke_retries < MAX_KE_RETRIES
                    && req.ke.as_ref().map(KeyExchange::group) != Some(g)
                {
                    if let Ok(ke) = KeyExchange::generate(g, ctx.rng) {
                        req.ke = Some(ke);
                        req.ni = new_nonce(ctx.rng);
                        req.ke_retries = req.ke_retries.saturating_add(1);
                        send(sa, ctx, keys, req);
                        return;
                    }
                }
            }
        }
        return failed(sa, ctx, keys, req, kind, None);
    }
    match check_response(sa, keys, p, &req) {
        Ok((outbound_spi, suite, nr, tsi, tsr, inbound_keys, outbound_keys)) => {
            let lt = req.lifetime;
            let record = new_record(
                sa,
                ctx,
                &req.name,
                &lt,
                req.spi,
                outbound_spi,
                suite,
                tsi,
                tsr,
            );
            match req.rekey {
                Some(_) => rekey_child::complete(
                    sa,
                    ctx,
                    keys,
                    &req,
                    record,
                    &nr,
                    inbound_keys,
                    outbound_keys,
                ),
                None => {
                    let mut record = record;
                    record.installed = true;
                    let event =
                        record.event(sa.peer, inbound_keys, outbound_keys, sa.local, sa.remote);
                    sa.children.push(record);
                    ctx.emit(Event::ChildSaEstablished(event));
                }
            }
        }
        Err(error) => {
            // The responder created an SA we cannot use: delete it (RFC 7296 1.4.1).
            let spi = req.spi;
            failed(
                sa,
                ctx,
                keys,
                req,
                NotifyType::NO_PROPOSAL_CHOSEN,
                Some(error),
            );
            super::informational::send_delete_child(sa, ctx, keys, vec![spi]);
        }
    }
}

type Checked = (
    u32,
    EspSuite,
    Vec<u8>,
    Vec<TrafficSelector>,
    Vec<TrafficSelector>,
    Secret,
    Secret,
);

/// RFC 7296 1.3.1 / 2.9 / 2.17: one proposal of ours, nonce, KE of our group (if PFS),
/// narrowed selectors; the keys.
fn check_response(
    sa: &IkeSa,
    keys: &IkeKeys,
    p: &[Payload],
    req: &ChildRequest,
) -> Result<Checked, FailureReason> {
    let proto = |s: &str| FailureReason::Protocol(format!("CREATE_CHILD_SA response: {s}"));
    let chosen = find(p, |x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    });
    let Some([chosen]) = chosen.map(|s| s.proposals.as_slice()) else {
        return Err(proto("no single proposal"));
    };
    let outbound_spi = proposal::esp_spi(chosen)
        .filter(|s| *s > 255 && chosen.protocol == ProtocolId::ESP)
        .ok_or_else(|| proto("bad ESP SPI"))?;
    let suite = proposal::accept_esp(&req.proposals, chosen, true).map_err(|_| {
        FailureReason::ChildNoProposalChosen {
            ours: proposal::describe(&wire_proposals(&req.proposals, req.spi)),
            theirs: Some(proposal::describe(std::slice::from_ref(chosen))),
        }
    })?;
    let nr = find(p, |x| match x {
        Payload::Nonce(n) => Some(n),
        _ => None,
    })
    .filter(|n| nonce_ok(n))
    .ok_or_else(|| proto("missing or bad nonce"))?;
    let ke = find(p, |x| match x {
        Payload::Ke(k) => Some(k),
        _ => None,
    });
    let g_ir = match (&req.ke, suite.dh) {
        (Some(ours), Some(g)) if ours.group() == g => {
            let theirs = ke
                .filter(|k| k.group == g)
                .ok_or_else(|| proto("no KE of the chosen group"))?;
            Some(
                ours.agree(&theirs.data)
                    .map_err(|e| proto(&e.to_string()))?,
            )
        }
        (_, None) => None,
        _ => return Err(proto("PFS group differs from our KE")),
    };
    let tsi = find(p, |x| match x {
        Payload::TsI(t) => Some(t.clone()),
        _ => None,
    })
    .unwrap_or_default();
    let tsr = find(p, |x| match x {
        Payload::TsR(t) => Some(t.clone()),
        _ => None,
    })
    .unwrap_or_default();
    if !within(&tsi, &req.local_ts) || !within(&tsr, &req.remote_ts) {
        return Err(FailureReason::TsUnacceptable);
    }
    let (inbound_keys, outbound_keys) = derive_keys(
        keys.prf,
        keys.sk_d.as_bytes(),
        g_ir.as_ref().map(Secret::as_bytes),
        &req.ni,
        nr,
        &suite,
        true,
    )
    .map_err(|e| FailureReason::Local(e.to_string()))?;
    let _ = sa;
    Ok((
        outbound_spi,
        suite,
        nr.clone(),
        tsi,
        tsr,
        inbound_keys,
        outbound_keys,
    ))
}

/// Our request produced no CHILD_SA: report it (new CHILD_SA) or let the rekey logic
/// decide what happens to the old SA.
fn failed(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    req: ChildRequest,
    kind: NotifyType,
    error: Option<FailureReason>,
) {
    if req.rekey.is_some() {
        return rekey_child::failed(sa, ctx, keys, &req, kind, error);
    }
    ctx.spis.remove(&req.spi);
    sa.spis.retain(|s| *s != req.spi);
    let error = error.unwrap_or(match kind {
        NotifyType::NO_PROPOSAL_CHOSEN => FailureReason::ChildNoProposalChosen {
            ours: proposal::describe(&wire_proposals(&req.proposals, req.spi)),
            theirs: None,
        },
        NotifyType::TS_UNACCEPTABLE => FailureReason::TsUnacceptable,
        other => FailureReason::PeerError(other),
    });
    ctx.emit(Event::Failed {
        peer: sa.peer,
        error,
    });
}
