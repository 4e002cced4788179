//! IKE_SA_INIT (RFC 7296 1.2, 2.6, 2.10, 2.23) in both roles: SA, KE, nonce and NAT
//! detection; COOKIE and INVALID_KE_PAYLOAD retries on the initiator; selection, stateless
//! error replies and the half-open SA on the responder.

use super::keys::IkeKeys;
use super::retransmit::{Outstanding, RequestKind};
use super::{
    ike_auth_psk, nat, new_nonce, nonce_ok, notify, notify_data, unknown_critical, Ctx, IkeSa,
    Next, State,
};
use crate::config::PeerConfig;
use crate::crypto::{KeyExchange, Random};
use crate::event::{FailureReason, PeerId, Transmit};
use crate::proposal;
use crate::wire::{
    self, DhGroup, ExchangeType, Flags, Header, KePayload, Message, NotifyType, Payload,
    PayloadType, Proposal, SaPayload,
};
use std::net::SocketAddr;
use std::sync::Arc;

/// How often the initiator follows a COOKIE or INVALID_KE_PAYLOAD before ignoring them (a
/// misbehaving or forged responder must not keep us looping).
const MAX_COOKIE_RETRIES: u8 = 2;
const MAX_KE_RETRIES: u8 = 2;
/// Cookies longer than this are not followed (RFC 7296 2.6: at most 64 bytes).
const MAX_COOKIE_LEN: usize = 64;

/// Initiator: IKE_SA_INIT request sent, awaiting the response.
pub(crate) struct InitSent {
    ke: KeyExchange,
    ni: Vec<u8>,
    cookie: Option<Vec<u8>>,
    /// The request as last sent (RealMessage1 for our AUTH, RFC 7296 2.15).
    request: Vec<u8>,
    cookie_retries: u8,
    ke_retries: u8,
}

/// Responder: IKE_SA_INIT answered, awaiting IKE_AUTH.
pub(crate) struct InitDone {
    /// Peers configured for the initiator's address, in configuration order; IKE_AUTH's IDi
    /// picks one (RFC 7296 2.15 leaves the choice of policy to the responder).
    pub candidates: Vec<(PeerId, Arc<PeerConfig>)>,
    /// The proposal we returned (to re-check against the finally chosen peer's proposals).
    pub chosen: Proposal,
    pub keys: IkeKeys,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    /// The initiator's IKE_SA_INIT (RealMessage1) and our response (RealMessage2).
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    pub expires: std::time::Instant,
}

/// Our IKE proposals as they go in the SA payload (numbered from 1).
pub(crate) fn our_ike_wire(cfg: &PeerConfig) -> Vec<Proposal> {
    cfg.ike_proposals
        .iter()
        .take(usize::from(u8::MAX))
        .enumerate()
        .map(|(i, p)| p.to_wire(u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX)))
        .collect()
}

fn find<'a, T>(payloads: &'a [Payload], f: impl Fn(&'a Payload) -> Option<T>) -> Option<T> {
    payloads.iter().find_map(f)
}

/// Start an IKE SA as initiator: IKE_SA_INIT from `local` (port 500) to the peer.
pub(crate) fn initiate(
    ctx: &mut Ctx<'_>,
    peer: PeerId,
    cfg: Arc<PeerConfig>,
    local: SocketAddr,
    spi_i: u64,
) -> Result<IkeSa, FailureReason> {
    let group = cfg
        .ike_proposals
        .first()
        .and_then(|p| p.dh.first().copied())
        .ok_or_else(|| FailureReason::Local("no IKE proposal with a key exchange group".into()))?;
    if cfg
        .child_configs()
        .first()
        .is_none_or(|c| c.esp_proposals.is_empty())
    {
        return Err(FailureReason::Local("no ESP proposal configured".into()));
    }
    let ke =
        KeyExchange::generate(group, ctx.rng).map_err(|e| FailureReason::Local(e.to_string()))?;
    let remote = cfg.remote;
    let st = InitSent {
        ke,
        ni: new_nonce(ctx.rng),
        cookie: None,
        request: Vec::new(),
        cookie_retries: 0,
        ke_retries: 0,
    };
    let mut sa = IkeSa::new(
        peer,
        cfg,
        true,
        spi_i,
        0,
        local,
        remote,
        State::Closed { until: ctx.now },
    );
    send_request(&mut sa, st, ctx);
    Ok(sa)
}

/// Build and send (or re-send, after COOKIE / INVALID_KE_PAYLOAD) our IKE_SA_INIT request
/// with message ID 0: [N(COOKIE)], SA, KE, Ni, N(NAT_DETECTION_*) (RFC 7296 1.2, 2.6, 2.23).
fn send_request(sa: &mut IkeSa, mut st: InitSent, ctx: &mut Ctx<'_>) {
    let mut payloads = Vec::with_capacity(6);
    if let Some(c) = &st.cookie {
        payloads.push(notify(NotifyType::COOKIE, c.clone()));
    }
    payloads.push(Payload::Sa(SaPayload {
        proposals: our_ike_wire(&sa.cfg),
    }));
    payloads.push(Payload::Ke(KePayload {
        group: st.ke.group(),
        data: st.ke.public_value().to_vec(),
    }));
    payloads.push(Payload::Nonce(st.ni.clone()));
    let fake: Option<&mut dyn Random> = if sa.cfg.force_udp_encap {
        Some(&mut *ctx.rng)
    } else {
        None
    };
    payloads.extend(nat::notifies(sa.spi_i, 0, sa.local, sa.remote, fake));
    let header = sa.header(ExchangeType::IKE_SA_INIT, false, 0);
    st.request = wire::encode_message(&Message { header, payloads });
    let transmit = Transmit {
        local: sa.local,
        remote: sa.remote,
        payload: st.request.clone(),
    };
    ctx.transmits.push_back(transmit.clone());
    sa.outstanding = Some(Outstanding::new(
        ctx.now,
        &sa.cfg.retransmit,
        RequestKind::IkeSaInit,
        0,
        transmit,
    ));
    sa.next_request_id = 1;
    sa.state = State::InitSent(Box::new(st));
}

/// Initiator: the IKE_SA_INIT response (unauthenticated: junk is ignored and the request
/// retransmitted; error notifies end the attempt).
pub(crate) fn on_response(
    sa: &mut IkeSa,
    mut st: InitSent,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
) -> Next {
    let p = &msg.payloads;
    if msg.header.exchange != ExchangeType::IKE_SA_INIT {
        sa.state = State::InitSent(Box::new(st));
        return Next::Keep;
    }
    // RFC 7296 2.6: retry with the cookie as the first payload, everything else unchanged.
    if let Some(cookie) = notify_data(p, NotifyType::COOKIE) {
        if st.cookie_retries < MAX_COOKIE_RETRIES && (1..=MAX_COOKIE_LEN).contains(&cookie.len()) {
            st.cookie_retries = st.cookie_retries.saturating_add(1);
            st.cookie = Some(cookie.to_vec());
            send_request(sa, st, ctx);
        } else {
            sa.state = State::InitSent(Box::new(st));
        }
        return Next::Keep;
    }
    // RFC 7296 1.2 / 2.6: redo with a KE of the group the responder wants (same SPIi, new
    // nonce and KE, full proposal list), if we offered that group.
    if let Some(data) = notify_data(p, NotifyType::INVALID_KE_PAYLOAD) {
        let wanted = <[u8; 2]>::try_from(data)
            .ok()
            .map(|b| DhGroup(u16::from_be_bytes(b)));
        let offered = |g: DhGroup| sa.cfg.ike_proposals.iter().any(|p| p.dh.contains(&g));
        match wanted {
            Some(g) if g != st.ke.group() && offered(g) && st.ke_retries < MAX_KE_RETRIES => {
                match KeyExchange::generate(g, ctx.rng) {
                    Ok(ke) => {
                        st.ke = ke;
                        st.ni = new_nonce(ctx.rng);
                        st.ke_retries = st.ke_retries.saturating_add(1);
                        send_request(sa, st, ctx);
                        return Next::Keep;
                    }
                    Err(e) => return sa.fail(ctx, FailureReason::Local(e.to_string())),
                }
            }
            _ => {
                ctx.errors.insert(
                    sa.peer,
                    format!("ignored INVALID_KE_PAYLOAD asking for {wanted:?}"),
                );
                sa.state = State::InitSent(Box::new(st));
                return Next::Keep;
            }
        }
    }
    if let Some(kind) = super::error_notify(p) {
        let error = match kind {
            NotifyType::NO_PROPOSAL_CHOSEN => FailureReason::NoProposalChosen {
                ours: proposal::describe(&our_ike_wire(&sa.cfg)),
                theirs: None,
            },
            other => FailureReason::PeerError(other),
        };
        return sa.fail(ctx, error);
    }
    match complete(sa, &st, ctx, msg, local, remote) {
        Ok((keys, nr)) => {
            let InitSent { ni, request, .. } = st;
            ike_auth_psk::start(sa, ctx, keys, ni, nr, request, bytes.to_vec())
        }
        Err(Ignore(why)) => {
            ctx.errors
                .insert(sa.peer, format!("ignored IKE_SA_INIT response: {why}"));
            sa.state = State::InitSent(Box::new(st));
            Next::Keep
        }
    }
}

/// Why a response was ignored (it may be forged; the real one may still come).
struct Ignore(String);

/// Check the successful response, derive the keys and run NAT detection.
fn complete(
    sa: &mut IkeSa,
    st: &InitSent,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<(IkeKeys, Vec<u8>), Ignore> {
    let p = &msg.payloads;
    let spi_r = msg.header.spi_r;
    if spi_r == 0 {
        return Err(Ignore("zero responder SPI".into()));
    }
    if let Some(kind) = unknown_critical(p) {
        return Err(Ignore(format!("unsupported critical payload {kind:?}")));
    }
    let sa_p = find(p, |x| match x {
        Payload::Sa(s) => Some(s),
        _ => None,
    })
    .ok_or_else(|| Ignore("no SA payload".into()))?;
    let [chosen] = sa_p.proposals.as_slice() else {
        return Err(Ignore("responder must choose exactly one proposal".into()));
    };
    let suite =
        proposal::accept_ike(&sa.cfg.ike_proposals, chosen).map_err(|e| Ignore(e.to_string()))?;
    let ke = find(p, |x| match x {
        Payload::Ke(k) => Some(k),
        _ => None,
    })
    .ok_or_else(|| Ignore("no KE payload".into()))?;
    if ke.group != suite.dh || ke.group != st.ke.group() {
        return Err(Ignore(format!(
            "KE group {:?} does not match {:?}",
            ke.group, suite.dh
        )));
    }
    let nr = find(p, |x| match x {
        Payload::Nonce(n) => Some(n),
        _ => None,
    })
    .filter(|n| nonce_ok(n))
    .ok_or_else(|| Ignore("missing or bad nonce".into()))?;
    let g_ir = st.ke.agree(&ke.data).map_err(|e| Ignore(e.to_string()))?;
    let keys = IkeKeys::derive(&suite, true, &st.ni, nr, g_ir.as_bytes(), sa.spi_i, spi_r)
        .map_err(|e| Ignore(e.to_string()))?;
    sa.spi_r = spi_r;
    sa.suite = Some(suite);
    // RFC 7296 2.23: the responder's hashes use both SPIs as in its header.
    if let Some(d) = nat::detect(p, sa.spi_i, spi_r, local, remote) {
        sa.nat_local = d.local_behind_nat;
        sa.nat_remote = d.remote_behind_nat;
    }
    sa.nat_local |= sa.cfg.force_udp_encap;
    if sa.nat_local || sa.nat_remote {
        // RFC 7296 2.23: continue on port 4500, from the same address.
        sa.local.set_port(4500);
        sa.remote.set_port(4500);
    }
    let _ = ctx;
    Ok((keys, nr.clone()))
}

/// What the responder does with a new IKE_SA_INIT request.
pub(crate) enum InitReply {
    /// Unknown sender, malformed, or refused without an answer.
    Drop,
    /// An answer that creates no state (error notify, RFC 7296 2.6 / 2.21.1).
    Stateless(Transmit),
    /// NO_PROPOSAL_CHOSEN (stateless, like `Stateless`) and the failure it means for the
    /// first candidate peer. The request is unauthenticated, so the endpoint decides whether
    /// to report it (never for a peer with an established IKE SA, RFC 7296 2.21.1).
    NoProposal {
        transmit: Transmit,
        peer: PeerId,
        error: FailureReason,
    },
    /// A half-open IKE SA whose response was already queued.
    NewSa(Box<IkeSa>),
}

/// Answer with a single notify and no state (SPIr zero, RFC 7296 2.21.1).
fn stateless(
    h: &Header,
    local: SocketAddr,
    remote: SocketAddr,
    kind: NotifyType,
    data: Vec<u8>,
) -> InitReply {
    let header = Header {
        spi_r: 0,
        flags: Flags(Flags::RESPONSE),
        next_payload: PayloadType::NONE,
        length: 0,
        ..*h
    };
    let payload = wire::encode_message(&Message {
        header,
        payloads: vec![notify(kind, data)],
    });
    InitReply::Stateless(Transmit {
        local,
        remote,
        payload,
    })
}

/// Responder: a new IKE_SA_INIT request from `remote`, whose address matches `candidates`,
/// that passed the endpoint's `dos::Defences` (cookies, RFC 7296 2.6, are checked there). A
/// half-open SA waits `half_open_timeout` for IKE_AUTH.
#[allow(clippy::too_many_arguments)]
pub(crate) fn on_request(
    ctx: &mut Ctx<'_>,
    candidates: Vec<(PeerId, Arc<PeerConfig>)>,
    msg: &Message,
    bytes: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
    spi_r: u64,
    half_open_timeout: std::time::Duration,
) -> InitReply {
    let h = &msg.header;
    let p = &msg.payloads;
    if candidates.is_empty() {
        return InitReply::Drop;
    }
    let responders: Vec<_> = candidates
        .into_iter()
        .filter(|(_, c)| c.role.may_respond())
        .collect();
    if responders.is_empty() {
        // Role::Initiator: refuse so the peer fails fast rather than retransmitting.
        return stateless(h, local, remote, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
    }
    if let Some(kind) = unknown_critical(p) {
        return stateless(
            h,
            local,
            remote,
            NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
            vec![kind.0],
        );
    }
    let (Some(offer), Some(ke), Some(ni)) = (
        find(p, |x| match x {
            Payload::Sa(s) => Some(s),
            _ => None,
        }),
        find(p, |x| match x {
            Payload::Ke(k) => Some(k),
            _ => None,
        }),
        find(p, |x| match x {
            Payload::Nonce(n) => Some(n),
            _ => None,
        }),
    ) else {
        return InitReply::Drop;
    };
    if !nonce_ok(ni) {
        return InitReply::Drop;
    }
    // Our order decides (RFC 7296 2.7), preferring the initiator's KE group when our chosen
    // proposal allows it; the first configured peer that accepts wins.
    let selected = responders.iter().find_map(|(id, c)| {
        proposal::select_ike_with_ke(&c.ike_proposals, &offer.proposals, Some(ke.group))
            .ok()
            .map(|s| (*id, c.clone(), s))
    });
    let Some((peer, cfg, (num, suite))) = selected else {
        let reply = stateless(h, local, remote, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
        return match (reply, responders.first()) {
            (InitReply::Stateless(transmit), Some((first_peer, first_cfg))) => {
                InitReply::NoProposal {
                    transmit,
                    peer: *first_peer,
                    error: FailureReason::NoProposalChosen {
                        ours: proposal::describe(&our_ike_wire(first_cfg)),
                        theirs: Some(proposal::describe(&offer.proposals)),
                    },
                }
            }
            (reply, _) => reply,
        };
    };
    if ke.group != suite.dh {
        // RFC 7296 1.2: tell the initiator which group we want.
        return stateless(
            h,
            local,
            remote,
            NotifyType::INVALID_KE_PAYLOAD,
            suite.dh.0.to_be_bytes().to_vec(),
        );
    }
    let Ok(our_ke) = KeyExchange::generate(suite.dh, ctx.rng) else {
        return InitReply::Drop;
    };
    let Ok(g_ir) = our_ke.agree(&ke.data) else {
        // Invalid public value (RFC 6989): nothing derived, nothing kept.
        return InitReply::Drop;
    };
    let nr = new_nonce(ctx.rng);
    let Ok(keys) = IkeKeys::derive(&suite, false, ni, &nr, g_ir.as_bytes(), h.spi_i, spi_r) else {
        return InitReply::Drop;
    };
    let chosen = suite.to_wire(num);
    let mut sa = IkeSa::new(
        peer,
        cfg,
        false,
        h.spi_i,
        spi_r,
        local,
        remote,
        State::Closed { until: ctx.now },
    );
    // RFC 7296 2.23: the request's hashes were computed with SPIr zero.
    if let Some(d) = nat::detect(p, h.spi_i, 0, local, remote) {
        sa.nat_local = d.local_behind_nat;
        sa.nat_remote = d.remote_behind_nat;
    }
    sa.nat_local |= sa.cfg.force_udp_encap;
    sa.suite = Some(suite);
    let mut out = vec![
        Payload::Sa(SaPayload {
            proposals: vec![chosen.clone()],
        }),
        Payload::Ke(KePayload {
            group: suite.dh,
            data: our_ke.public_value().to_vec(),
        }),
        Payload::Nonce(nr.clone()),
    ];
    let fake: Option<&mut dyn Random> = if sa.cfg.force_udp_encap {
        Some(&mut *ctx.rng)
    } else {
        None
    };
    out.extend(nat::notifies(h.spi_i, spi_r, local, remote, fake));
    let header = sa.header(ExchangeType::IKE_SA_INIT, true, 0);
    let response = wire::encode_message(&Message {
        header,
        payloads: out,
    });
    sa.send_response(ctx, 0, bytes, local, remote, response.clone());
    sa.half_open_key = Some((remote, h.spi_i));
    // Unauthenticated state: it lives only `half_open_timeout` (30 s as strongSwan's
    // half_open_timeout, 5 s while cookies are required; RFC 8019), not the initiator's whole
    // retransmission schedule, or a spoofer's half-open SAs would outlast a flood by minutes.
    let half_open = half_open_timeout;
    sa.state = State::InitDone(Box::new(InitDone {
        candidates: responders,
        chosen,
        keys,
        ni: ni.clone(),
        nr,
        request: bytes.to_vec(),
        response,
        expires: ctx.now.checked_add(half_open).unwrap_or(ctx.now),
    }));
    InitReply::NewSa(Box::new(sa))
}
