//! IKE_AUTH with a pre-shared key (RFC 7296 1.2, 2.15) in both roles, carrying the first
//! CHILD_SA (1.2, 2.9, 2.17). Errors about the CHILD_SA leave the IKE SA up (2.21.3).

use super::child_sa::{allocate_spi, derive_keys};
use super::create_child;
use super::ike_sa_init::InitDone;
use super::keys::IkeKeys;
use super::retransmit::RequestKind;
use super::traffic_selector::{narrow, within};
use super::{
    error_notify, notify, open, unknown_critical, Ctx, Established, IkeSa, Next, Opened, State,
};
use crate::config::{ChildConfig, Identity};
use crate::crypto::{ct_eq, psk_auth, Prf, Secret};
use crate::event::{Event, FailureReason, Transmit};
use crate::proposal;
use crate::proposal::EspProposalSpec;
use crate::wire::{
    id_payload_body, AuthMethod, AuthPayload, Delete, ExchangeType, Identification, Message,
    NotifyType, Payload, Proposal, ProtocolId, SaPayload, TrafficSelector,
};
use std::net::SocketAddr;

/// Initiator: IKE_AUTH request sent, awaiting the response.
pub(crate) struct AuthSent {
    keys: IkeKeys,
    ni: Vec<u8>,
    nr: Vec<u8>,
    /// The responder's IKE_SA_INIT response as received (its RealMessage2, 2.15).
    init_response: Vec<u8>,
    /// The inbound SPI we proposed for the first CHILD_SA.
    child_spi: u32,
    /// The first child's configuration.
    child: ChildConfig,
}

/// Our ESP proposals for the first CHILD_SA: our inbound SPI, no DH (RFC 7296 1.2).
pub(crate) fn our_esp_wire(proposals: &[EspProposalSpec], spi: u32) -> Vec<Proposal> {
    proposals
        .iter()
        .take(usize::from(u8::MAX))
        .enumerate()
        .map(|(i, p)| {
            p.to_wire(
                u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX),
                spi,
                false,
            )
        })
        .collect()
}

/// AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | NonceData | prf(SK_p, ID')) (2.15).
fn auth_value(
    prf: Prf,
    psk: &Secret,
    real_message: &[u8],
    peer_nonce: &[u8],
    sk_p: &Secret,
    id: &Identification,
) -> Vec<u8> {
    psk_auth(
        prf,
        psk.as_bytes(),
        real_message,
        peer_nonce,
        sk_p.as_bytes(),
        &id_payload_body(id),
    )
}

fn auth_payload(payloads: &[Payload]) -> Option<&AuthPayload> {
    payloads.iter().find_map(|p| match p {
        Payload::Auth(a) => Some(a),
        _ => None,
    })
}

/// The ESP SPI of a proposal: protocol ESP, exactly 4 bytes, not reserved (RFC 4303 2.1).
fn esp_spi(p: &Proposal) -> Option<u32> {
    proposal::esp_spi(p).filter(|spi| p.protocol == ProtocolId::ESP && *spi > 255)
}

/// Initiator, after IKE_SA_INIT: IDi, [IDr], AUTH, N(INITIAL_CONTACT), SAi2, TSi, TSr in SK,
/// message ID 1, from port 4500 if a NAT was detected (already set on `sa`).
pub(crate) fn start(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: IkeKeys,
    ni: Vec<u8>,
    nr: Vec<u8>,
    init_request: Vec<u8>,
    init_response: Vec<u8>,
) -> Next {
    let cfg = sa.cfg.clone();
    let Some(child) = cfg.child_configs().into_iter().next() else {
        return sa.fail(ctx, FailureReason::Local("no CHILD_SA configured".into()));
    };
    let child_spi = allocate_spi(ctx.rng, ctx.spis);
    sa.spis.push(child_spi);
    let idi = cfg.local_id.to_wire();
    let auth = auth_value(keys.prf, &cfg.psk, &init_request, &nr, &keys.sk_pi, &idi);
    let mut payloads = vec![Payload::IdI(idi)];
    if let Some(r) = &cfg.remote_id {
        payloads.push(Payload::IdR(r.to_wire()));
    }
    payloads.push(Payload::Auth(AuthPayload {
        method: AuthMethod::SHARED_KEY_MIC,
        data: auth,
    }));
    // RFC 7296 2.4: only when we hold no other IKE SA with this peer (with simultaneous
    // IKE_SA_INIT from both sides we do, and the peer must not drop it).
    if !ctx.sas.values().any(|other| other.peer == sa.peer) {
        payloads.push(notify(NotifyType::INITIAL_CONTACT, vec![]));
    }
    payloads.push(Payload::Sa(SaPayload {
        proposals: our_esp_wire(&child.esp_proposals, child_spi),
    }));
    payloads.push(Payload::TsI(child.local_ts.clone()));
    payloads.push(Payload::TsR(child.remote_ts.clone()));
    sa.outstanding = None;
    sa.send_request(
        ctx,
        &keys,
        ExchangeType::IKE_AUTH,
        payloads,
        RequestKind::IkeAuth,
    );
    if sa.outstanding.is_none() {
        return sa.fail(ctx, FailureReason::Local("could not seal IKE_AUTH".into()));
    }
    sa.state = State::AuthSent(Box::new(AuthSent {
        keys,
        ni,
        nr,
        init_response,
        child_spi,
        child,
    }));
    Next::Keep
}

/// Initiator: the IKE_AUTH response. Not authentic: ignored. Otherwise verify IDr and AUTH,
/// then take the CHILD_SA or report why there is none.
pub(crate) fn on_response(
    sa: &mut IkeSa,
    st: AuthSent,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
) -> Next {
    if msg.header.exchange != ExchangeType::IKE_AUTH {
        sa.state = State::AuthSent(Box::new(st));
        return Next::Keep;
    }
    let p = match open(&st.keys, msg, bytes) {
        Opened::Payloads(p) => p,
        Opened::NotAuthentic => {
            sa.state = State::AuthSent(Box::new(st));
            return Next::Keep;
        }
        Opened::Malformed => {
            return sa.fail(
                ctx,
                FailureReason::Protocol("malformed IKE_AUTH response".into()),
            )
        }
    };
    if let Some(kind) = unknown_critical(&p) {
        return sa.fail(
            ctx,
            FailureReason::Protocol(format!("unsupported critical payload {kind:?}")),
        );
    }
    let cfg = sa.cfg.clone();
    let (Some(auth), Some(idr)) = (
        auth_payload(&p),
        p.iter().find_map(|x| match x {
            Payload::IdR(i) => Some(i),
            _ => None,
        }),
    ) else {
        // RFC 7296 2.21.2: no AUTH means the IKE SA was not created.
        let error = match error_notify(&p) {
            Some(NotifyType::AUTHENTICATION_FAILED) => FailureReason::AuthenticationFailed {
                detail: "the peer answered AUTHENTICATION_FAILED (PSK or identity mismatch)".into(),
            },
            Some(NotifyType::NO_PROPOSAL_CHOSEN) => FailureReason::ChildNoProposalChosen {
                ours: proposal::describe(&our_esp_wire(&st.child.esp_proposals, st.child_spi)),
                theirs: None,
            },
            Some(NotifyType::TS_UNACCEPTABLE) => FailureReason::TsUnacceptable,
            Some(other) => FailureReason::PeerError(other),
            None => FailureReason::Protocol("IKE_AUTH response without IDr/AUTH".into()),
        };
        return sa.fail(ctx, error);
    };
    let id_ok =
        Identity::from_wire(idr).is_some_and(|id| cfg.accepts_remote_id(&id, sa.remote.ip()));
    if !id_ok {
        let shown = Identity::from_wire(idr)
            .map_or_else(|| format!("{:?}", idr.id_type), |i| i.to_string());
        notify_auth_failed(sa, ctx, &st.keys);
        return sa.fail(
            ctx,
            FailureReason::AuthenticationFailed {
                detail: format!("unexpected peer identity {shown}"),
            },
        );
    }
    let expected = auth_value(
        st.keys.prf,
        &cfg.psk,
        &st.init_response,
        &st.ni,
        &st.keys.sk_pr,
        idr,
    );
    if auth.method != AuthMethod::SHARED_KEY_MIC || !ct_eq(&auth.data, &expected) {
        notify_auth_failed(sa, ctx, &st.keys);
        return sa.fail(
            ctx,
            FailureReason::AuthenticationFailed {
                detail: "the peer's AUTH does not verify (PSK mismatch?)".into(),
            },
        );
    }
    // The IKE SA is established (RFC 7296 1.2).
    sa.outstanding = None;
    sa.established_at = Some(ctx.now);
    sa.start_lifetime(ctx);
    // The other children follow by CREATE_CHILD_SA (RFC 7296 1.3.1).
    sa.to_create = cfg
        .child_configs()
        .into_iter()
        .skip(1)
        .map(|c| c.name)
        .collect();
    if let Some(suite) = sa.suite {
        ctx.emit(Event::IkeSaEstablished {
            peer: sa.peer,
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            suite,
            local: sa.local,
            remote: sa.remote,
            nat_local: sa.nat_local,
            nat_remote: sa.nat_remote,
        });
    }
    let AuthSent {
        keys,
        ni,
        nr,
        child_spi,
        child,
        ..
    } = st;
    match initiator_child(sa, ctx, &p, &keys, &ni, &nr, child_spi, &child) {
        Ok(child) => ctx.emit(Event::ChildSaEstablished(child)),
        Err((error, created)) => {
            ctx.emit(Event::Failed {
                peer: sa.peer,
                error,
            });
            if created {
                // The responder created a CHILD_SA we cannot use: delete it (RFC 7296 1.4.1).
                let payloads = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spi_size: 4,
                    spis: vec![child_spi.to_be_bytes().to_vec()],
                })];
                let kind = RequestKind::DeleteChild(vec![child_spi]);
                sa.send_request(ctx, &keys, ExchangeType::INFORMATIONAL, payloads, kind);
            }
        }
    }
    sa.pump_queue(ctx, &keys);
    sa.state = State::Established(Box::new(Established { keys }));
    Next::Keep
}

/// Initiator rejecting the responder's authentication: tell it in a separate INFORMATIONAL
/// (RFC 7296 2.21.2 allows this exception), sent once and not retransmitted.
fn notify_auth_failed(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys) {
    let header = sa.header(ExchangeType::INFORMATIONAL, false, sa.next_request_id);
    let payloads = [notify(NotifyType::AUTHENTICATION_FAILED, vec![])];
    if let Some(payload) = sa.seal(keys, ctx.rng, header, &payloads) {
        ctx.transmits.push_back(Transmit {
            local: sa.local,
            remote: sa.remote,
            payload,
        });
    }
}

/// Initiator: accept the CHILD_SA in the IKE_AUTH response. On failure returns the reason
/// and whether the responder did create the CHILD_SA (so we delete it).
#[allow(clippy::too_many_arguments)]
fn initiator_child(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    p: &[Payload],
    keys: &IkeKeys,
    ni: &[u8],
    nr: &[u8],
    child_spi: u32,
    cfg: &ChildConfig,
) -> Result<crate::event::ChildSa, (FailureReason, bool)> {
    let ours = || proposal::describe(&our_esp_wire(&cfg.esp_proposals, child_spi));
    if let Some(kind) = error_notify(p) {
        return Err((
            match kind {
                NotifyType::NO_PROPOSAL_CHOSEN => FailureReason::ChildNoProposalChosen {
                    ours: ours(),
                    theirs: None,
                },
                NotifyType::TS_UNACCEPTABLE => FailureReason::TsUnacceptable,
                other => FailureReason::PeerError(other),
            },
            false,
        ));
    }
    let chosen = p.iter().find_map(|x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    });
    let Some([chosen]) = chosen.map(|s| s.proposals.as_slice()) else {
        return Err((
            FailureReason::Protocol("no single ESP proposal in IKE_AUTH response".into()),
            false,
        ));
    };
    let Some(outbound_spi) = esp_spi(chosen) else {
        return Err((
            FailureReason::Protocol("bad ESP SPI in IKE_AUTH response".into()),
            false,
        ));
    };
    let suite = proposal::accept_esp(&cfg.esp_proposals, chosen, false).map_err(|_| {
        (
            FailureReason::ChildNoProposalChosen {
                ours: ours(),
                theirs: Some(proposal::describe(std::slice::from_ref(chosen))),
            },
            true,
        )
    })?;
    let ts = |f: fn(&Payload) -> Option<&Vec<TrafficSelector>>| {
        p.iter().find_map(f).cloned().unwrap_or_default()
    };
    let tsi = ts(|x| match x {
        Payload::TsI(t) => Some(t),
        _ => None,
    });
    let tsr = ts(|x| match x {
        Payload::TsR(t) => Some(t),
        _ => None,
    });
    // RFC 7296 2.9: the responder may only narrow what we proposed.
    if !within(&tsi, &cfg.local_ts) || !within(&tsr, &cfg.remote_ts) {
        return Err((FailureReason::TsUnacceptable, true));
    }
    let (inbound_keys, outbound_keys) =
        derive_keys(keys.prf, keys.sk_d.as_bytes(), None, ni, nr, &suite, true)
            .map_err(|e| (FailureReason::Local(e.to_string()), true))?;
    let mut record = create_child::new_record(
        sa,
        ctx,
        &cfg.name,
        &cfg.lifetime,
        child_spi,
        outbound_spi,
        suite,
        tsi,
        tsr,
    );
    record.installed = true;
    let event = record.event(sa.peer, inbound_keys, outbound_keys, sa.local, sa.remote);
    sa.children.push(record);
    Ok(event)
}

/// Responder: the IKE_AUTH request (message ID 1). Not authentic: ignored (2.21.2).
pub(crate) fn on_request(
    sa: &mut IkeSa,
    st: InitDone,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
) -> Next {
    let id = msg.header.message_id;
    if msg.header.exchange != ExchangeType::IKE_AUTH {
        sa.state = State::InitDone(Box::new(st));
        return Next::Keep;
    }
    let p = match open(&st.keys, msg, bytes) {
        Opened::Payloads(p) => p,
        Opened::NotAuthentic => {
            sa.state = State::InitDone(Box::new(st));
            return Next::Keep;
        }
        Opened::Malformed => {
            return refuse(
                sa,
                st,
                ctx,
                msg,
                bytes,
                local,
                remote,
                NotifyType::INVALID_SYNTAX,
                vec![],
                None,
            );
        }
    };
    if let Some(kind) = unknown_critical(&p) {
        let why =
            FailureReason::Protocol(format!("unsupported critical payload {kind:?} in IKE_AUTH"));
        return refuse(
            sa,
            st,
            ctx,
            msg,
            bytes,
            local,
            remote,
            NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
            vec![kind.0],
            Some(why),
        );
    }
    let idi = p.iter().find_map(|x| match x {
        Payload::IdI(i) => Some(i),
        _ => None,
    });
    let (Some(idi), Some(auth)) = (idi, auth_payload(&p)) else {
        return refuse(
            sa,
            st,
            ctx,
            msg,
            bytes,
            local,
            remote,
            NotifyType::INVALID_SYNTAX,
            vec![],
            None,
        );
    };
    // Pick the peer configuration by IDi: an explicit remote_id first, then address IDs.
    let ident = Identity::from_wire(idi);
    let picked = ident.as_ref().and_then(|i| {
        st.candidates
            .iter()
            .find(|(_, c)| c.remote_id.as_ref() == Some(i))
            .or_else(|| {
                st.candidates
                    .iter()
                    .find(|(_, c)| c.remote_id.is_none() && c.accepts_remote_id(i, remote.ip()))
            })
            .cloned()
    });
    let auth_failed = |detail: String| Some(FailureReason::AuthenticationFailed { detail });
    let Some((peer, cfg)) = picked else {
        let shown = ident.map_or_else(|| format!("{:?}", idi.id_type), |i| i.to_string());
        let why = auth_failed(format!("peer identity {shown} is not configured"));
        return refuse(
            sa,
            st,
            ctx,
            msg,
            bytes,
            local,
            remote,
            NotifyType::AUTHENTICATION_FAILED,
            vec![],
            why,
        );
    };
    if peer != sa.peer && proposal::accept_ike(&cfg.ike_proposals, &st.chosen).is_err() {
        let why = auth_failed(format!("IKE suite not allowed for peer {}", cfg.name));
        return refuse(
            sa,
            st,
            ctx,
            msg,
            bytes,
            local,
            remote,
            NotifyType::AUTHENTICATION_FAILED,
            vec![],
            why,
        );
    }
    sa.peer = peer;
    sa.cfg = cfg.clone();
    let expected = auth_value(
        st.keys.prf,
        &cfg.psk,
        &st.request,
        &st.nr,
        &st.keys.sk_pi,
        idi,
    );
    if auth.method != AuthMethod::SHARED_KEY_MIC || !ct_eq(&auth.data, &expected) {
        let why = auth_failed("the peer's AUTH does not verify (PSK mismatch?)".into());
        return refuse(
            sa,
            st,
            ctx,
            msg,
            bytes,
            local,
            remote,
            NotifyType::AUTHENTICATION_FAILED,
            vec![],
            why,
        );
    }
    // Authenticated: answer to where the request came from (RFC 7296 2.23).
    sa.local = local;
    sa.remote = remote;
    if p.iter()
        .any(|x| matches!(x, Payload::Notify(n) if n.kind == NotifyType::INITIAL_CONTACT))
    {
        ctx.initial_contact = Some(peer);
    }
    let idr = cfg.local_id.to_wire();
    let our_auth = auth_value(
        st.keys.prf,
        &cfg.psk,
        &st.response,
        &st.ni,
        &st.keys.sk_pr,
        &idr,
    );
    let mut out = vec![
        Payload::IdR(idr),
        Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: our_auth,
        }),
    ];
    let child = responder_child(sa, ctx, &p, &st, &mut out);
    sa.respond(
        ctx,
        &st.keys,
        ExchangeType::IKE_AUTH,
        id,
        bytes,
        local,
        remote,
        &out,
    );
    sa.established_at = Some(ctx.now);
    sa.start_lifetime(ctx);
    if let Some(suite) = sa.suite {
        ctx.emit(Event::IkeSaEstablished {
            peer,
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            suite,
            local,
            remote,
            nat_local: sa.nat_local,
            nat_remote: sa.nat_remote,
        });
    }
    match child {
        Ok(event) => ctx.emit(Event::ChildSaEstablished(event)),
        Err(Some(error)) => ctx.emit(Event::Failed { peer, error }),
        Err(None) => {}
    }
    let InitDone { keys, .. } = st;
    sa.state = State::Established(Box::new(Established { keys }));
    Next::Keep
}

/// Responder: the first CHILD_SA. Appends SAr2, TSi, TSr (or the error notify) to `out`.
/// `Err(None)`: the initiator asked for no CHILD_SA.
fn responder_child(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    p: &[Payload],
    st: &InitDone,
    out: &mut Vec<Payload>,
) -> Result<crate::event::ChildSa, Option<FailureReason>> {
    let cfg = sa.cfg.clone();
    let offer = p.iter().find_map(|x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    });
    let tsi = p.iter().find_map(|x| match x {
        Payload::TsI(t) => Some(t),
        _ => None,
    });
    let tsr = p.iter().find_map(|x| match x {
        Payload::TsR(t) => Some(t),
        _ => None,
    });
    let (Some(offer), Some(tsi), Some(tsr)) = (offer, tsi, tsr) else {
        return Err(None);
    };
    // The first child configuration whose selectors intersect the initiator's (RFC 7296 2.9)
    // and whose proposals match; TS_UNACCEPTABLE if no selectors fit at all.
    let configs = cfg.child_configs();
    let fitting: Vec<_> = configs
        .iter()
        .filter_map(|c| {
            let n_tsi = narrow(tsi, &c.remote_ts);
            let n_tsr = narrow(tsr, &c.local_ts);
            (!n_tsi.is_empty() && !n_tsr.is_empty()).then_some((c, n_tsi, n_tsr))
        })
        .collect();
    let Some(first) = fitting.first() else {
        out.push(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        return Err(Some(FailureReason::TsUnacceptable));
    };
    let (child, n_tsi, n_tsr) = fitting
        .iter()
        .find(|(c, _, _)| proposal::select_esp(&c.esp_proposals, &offer.proposals, false).is_ok())
        .unwrap_or(first)
        .clone();
    let ours = || proposal::describe(&our_esp_wire(&child.esp_proposals, 0));
    let selected = proposal::select_esp(&child.esp_proposals, &offer.proposals, false);
    let spi_of = |num: u8| {
        offer
            .proposals
            .iter()
            .find(|x| x.num == num)
            .and_then(esp_spi)
    };
    let (num, suite, outbound_spi) = match selected {
        Ok((num, suite)) => match spi_of(num) {
            Some(spi) => (num, suite, spi),
            None => {
                out.push(notify(NotifyType::INVALID_SYNTAX, vec![]));
                return Err(Some(FailureReason::Protocol(
                    "bad ESP SPI in IKE_AUTH".into(),
                )));
            }
        },
        Err(_) => {
            out.push(notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![]));
            return Err(Some(FailureReason::ChildNoProposalChosen {
                ours: ours(),
                theirs: Some(proposal::describe(&offer.proposals)),
            }));
        }
    };
    let (inbound_keys, outbound_keys) = match derive_keys(
        st.keys.prf,
        st.keys.sk_d.as_bytes(),
        None,
        &st.ni,
        &st.nr,
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
    out.push(Payload::TsI(n_tsi.clone()));
    out.push(Payload::TsR(n_tsr.clone()));
    let mut record = create_child::new_record(
        sa,
        ctx,
        &child.name,
        &child.lifetime,
        inbound_spi,
        outbound_spi,
        suite,
        n_tsr,
        n_tsi,
    );
    record.installed = true;
    let event = record.event(sa.peer, inbound_keys, outbound_keys, sa.local, sa.remote);
    sa.children.push(record);
    Ok(event)
}

/// Responder: answer IKE_AUTH with an error notify, report, and keep the SA only to replay
/// that answer (RFC 7296 2.21.2).
#[allow(clippy::too_many_arguments)]
fn refuse(
    sa: &mut IkeSa,
    st: InitDone,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
    kind: NotifyType,
    data: Vec<u8>,
    why: Option<FailureReason>,
) -> Next {
    let out = [notify(kind, data)];
    sa.respond(
        ctx,
        &st.keys,
        ExchangeType::IKE_AUTH,
        msg.header.message_id,
        bytes,
        local,
        remote,
        &out,
    );
    let error =
        why.unwrap_or_else(|| FailureReason::Protocol(format!("refused IKE_AUTH with {kind:?}")));
    ctx.emit(Event::Failed {
        peer: sa.peer,
        error,
    });
    sa.linger(ctx);
    Next::Keep
}
