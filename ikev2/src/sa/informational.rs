//! Requests and responses on an established IKE SA (RFC 7296 1.4, 1.5): INFORMATIONAL with
//! DELETE (IKE SA or CHILD_SAs, answered with our paired CHILD_SAs per 1.4.1) or empty
//! (liveness); CREATE_CHILD_SA requests go to `create_child`, responses to our requests are
//! dispatched by what they answer.

use super::child_sa::ChildState;
use super::keys::IkeKeys;
use super::retransmit::RequestKind;
use super::{
    create_child, notify, open, rekey_ike, unknown_critical, Ctx, Established, IkeSa, Next, Opened,
    State,
};
use crate::event::{DeleteReason, Event, FailureReason};
use crate::wire::{Delete, ExchangeType, Message, NotifyType, Payload, ProtocolId};
use std::net::SocketAddr;

/// A request from the peer with the expected message ID.
pub(crate) fn on_request(
    sa: &mut IkeSa,
    st: Established,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
) -> Next {
    let id = msg.header.message_id;
    let exchange = msg.header.exchange;
    let p = match open(&st.keys, msg, bytes) {
        Opened::Payloads(p) => p,
        Opened::NotAuthentic => {
            sa.state = State::Established(Box::new(st));
            return Next::Keep;
        }
        Opened::Malformed => {
            // RFC 7296 2.21.2: authentic but malformed.
            let out = [notify(NotifyType::INVALID_SYNTAX, vec![])];
            sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &out);
            sa.state = State::Established(Box::new(st));
            return Next::Keep;
        }
    };
    sa.last_heard = Some(ctx.now);
    // RFC 7296 2.23: when only the peer is behind a NAT, follow its latest authentic address.
    if sa.nat_remote && !sa.nat_local {
        sa.remote = remote;
    }
    if let Some(kind) = unknown_critical(&p) {
        let out = [notify(
            NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
            vec![kind.0],
        )];
        sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &out);
        sa.state = State::Established(Box::new(st));
        return Next::Keep;
    }
    match exchange {
        ExchangeType::INFORMATIONAL => {
            let deletes = p.iter().filter_map(|x| match x {
                Payload::Delete(d) => Some(d),
                _ => None,
            });
            let mut ike_deleted = false;
            let mut ours = Vec::new();
            for d in deletes {
                match d.protocol {
                    ProtocolId::IKE => ike_deleted = true,
                    ProtocolId::ESP => {
                        for spi in &d.spis {
                            let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else {
                                continue;
                            };
                            let outbound = u32::from_be_bytes(b);
                            if let Some(i) =
                                sa.children.iter().position(|c| c.outbound_spi == outbound)
                            {
                                if let Some(c) = remove_child(sa, ctx, i) {
                                    ours.push(c.inbound_spi);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if super::notify_data(&p, NotifyType::AUTHENTICATION_FAILED).is_some() {
                // The initiator rejected our IKE_AUTH response (RFC 7296 2.21.2).
                sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &[]);
                ctx.emit(Event::Failed {
                    peer: sa.peer,
                    error: FailureReason::AuthenticationFailed {
                        detail: "the peer rejected our authentication".into(),
                    },
                });
                sa.emit_deleted(ctx, DeleteReason::ByPeer);
                sa.linger(ctx);
                return Next::Keep;
            }
            if ike_deleted {
                // The winner of an IKE rekey collision deletes the old IKE SA: the peer's new
                // one carries on (RFC 7296 2.8.2).
                rekey_ike::adopt_collision(sa, ctx);
                // RFC 7296 1.4.1: answer with an empty INFORMATIONAL; all CHILD_SAs go too.
                sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &[]);
                sa.emit_deleted(ctx, DeleteReason::ByPeer);
                sa.linger(ctx);
                return Next::Keep;
            }
            let out: Vec<Payload> = if ours.is_empty() {
                Vec::new()
            } else {
                vec![Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spi_size: 4,
                    spis: ours.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
                })]
            };
            sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &out);
        }
        ExchangeType::CREATE_CHILD_SA => {
            let out = create_child::on_request(sa, ctx, &st.keys, &p);
            sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &out);
        }
        _ => {
            let out = [notify(NotifyType::INVALID_SYNTAX, vec![])];
            sa.respond(ctx, &st.keys, exchange, id, bytes, local, remote, &out);
        }
    }
    sa.state = State::Established(Box::new(st));
    Next::Keep
}

/// The response to our outstanding request (already matched by message ID).
pub(crate) fn on_response(
    sa: &mut IkeSa,
    st: Established,
    ctx: &mut Ctx<'_>,
    msg: &Message,
    bytes: &[u8],
) -> Next {
    let p = match open(&st.keys, msg, bytes) {
        Opened::Payloads(p) => p,
        Opened::Malformed => Vec::new(),
        Opened::NotAuthentic => {
            sa.state = State::Established(Box::new(st));
            return Next::Keep;
        }
    };
    sa.last_heard = Some(ctx.now);
    let Some(kind) = sa.outstanding.take().map(|o| o.kind) else {
        sa.state = State::Established(Box::new(st));
        return Next::Keep;
    };
    let expected = match &kind {
        RequestKind::CreateChild(_) | RequestKind::RekeyIke(_) => ExchangeType::CREATE_CHILD_SA,
        _ => ExchangeType::INFORMATIONAL,
    };
    if msg.header.exchange != expected {
        // Not the answer to what we asked: keep waiting (and retransmitting).
        let _ = kind;
        sa.state = State::Established(Box::new(st));
        return Next::Keep;
    }
    match kind {
        RequestKind::DeleteIke => {
            // Deletion events were emitted when the DELETE was sent.
            return Next::Remove;
        }
        RequestKind::DeleteChild(spis) => {
            // Records still here (an old SA after a rekey) go now (1.4.1).
            for spi in spis {
                if let Some(i) = sa.children.iter().position(|c| c.inbound_spi == spi) {
                    remove_child(sa, ctx, i);
                }
            }
        }
        RequestKind::CreateChild(req) => create_child::on_response(sa, ctx, &st.keys, &p, *req),
        RequestKind::RekeyIke(req) => rekey_ike::on_response(sa, ctx, &st.keys, &p, *req),
        _ => {}
    }
    if sa.superseded && sa.outstanding.is_none() {
        sa.queued.clear();
    }
    sa.pump_queue(ctx, &st.keys);
    sa.state = State::Established(Box::new(st));
    Next::Keep
}

/// Remove the CHILD_SA at `i` and report it: any SA waiting to take over its outbound
/// traffic gets `ChildSaOutboundReady` first (RFC 7296 2.8, make-before-break).
pub(crate) fn remove_child(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    i: usize,
) -> Option<super::child_sa::ChildRecord> {
    if i >= sa.children.len() {
        return None;
    }
    let c = sa.children.remove(i);
    if c.state == ChildState::Rekeying && c.collision.is_some() {
        if sa.lost_rekeys.len() >= 8 {
            sa.lost_rekeys.pop_front();
        }
        sa.lost_rekeys.push_back(c.inbound_spi);
    }
    for n in sa.children.iter_mut() {
        if n.awaiting_outbound == Some(c.inbound_spi) {
            n.awaiting_outbound = None;
            if n.state != ChildState::Redundant {
                ctx.emit(Event::ChildSaOutboundReady {
                    peer: sa.peer,
                    inbound_spi: n.inbound_spi,
                    outbound_spi: n.outbound_spi,
                });
            }
        }
    }
    if c.installed {
        ctx.emit(Event::ChildSaDeleted {
            peer: sa.peer,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        });
    }
    if sa.deleted_outbound.len() >= 32 {
        sa.deleted_outbound.pop_front();
    }
    sa.deleted_outbound.push_back(c.outbound_spi);
    Some(c)
}

/// DELETE for CHILD_SAs by our inbound SPIs; their records (if still kept) go when the peer
/// answers.
pub(crate) fn send_delete_child(sa: &mut IkeSa, ctx: &mut Ctx<'_>, keys: &IkeKeys, spis: Vec<u32>) {
    let payloads = vec![Payload::Delete(Delete {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
    })];
    let kind = RequestKind::DeleteChild(spis);
    sa.send_request(ctx, keys, ExchangeType::INFORMATIONAL, payloads, kind);
}

/// Delete one CHILD_SA now (event at once) and tell the peer.
pub(crate) fn delete_child_with(
    sa: &mut IkeSa,
    ctx: &mut Ctx<'_>,
    keys: &IkeKeys,
    inbound_spi: u32,
) -> bool {
    let Some(i) = sa
        .children
        .iter()
        .position(|c| c.inbound_spi == inbound_spi)
    else {
        return false;
    };
    remove_child(sa, ctx, i);
    send_delete_child(sa, ctx, keys, vec![inbound_spi]);
    true
}

/// Delete the whole IKE SA (RFC 7296 1.4.1): events now, DELETE request out; the SA goes
/// when the response arrives or the request times out.
pub(crate) fn delete_ike(sa: &mut IkeSa, ctx: &mut Ctx<'_>, reason: DeleteReason) -> Next {
    let until = ctx.now;
    match std::mem::replace(&mut sa.state, State::Closed { until }) {
        State::Established(st) if !sa.closing => {
            sa.emit_deleted(ctx, reason);
            // Nothing queued matters any more; the DELETE goes next.
            sa.queued.clear();
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
            Next::Keep
        }
        State::Closed { until } => {
            sa.state = State::Closed { until };
            Next::Keep
        }
        other => {
            sa.state = other;
            Next::Remove
        }
    }
}

/// An empty INFORMATIONAL request (liveness check, RFC 7296 1.4); queued behind any
/// outstanding request. Its timeout deletes the IKE SA (2.4).
pub(crate) fn liveness_check(sa: &mut IkeSa, ctx: &mut Ctx<'_>) -> bool {
    let until = ctx.now;
    match std::mem::replace(&mut sa.state, State::Closed { until }) {
        State::Established(st) if !sa.closing => {
            sa.send_request(
                ctx,
                &st.keys,
                ExchangeType::INFORMATIONAL,
                vec![],
                RequestKind::Informational,
            );
            sa.state = State::Established(st);
            true
        }
        other => {
            sa.state = other;
            false
        }
    }
}

/// Delete one CHILD_SA by our inbound SPI (RFC 7296 1.4.1): the event now, the DELETE request
/// out (the peer answers with its paired SPI).
pub(crate) fn delete_child(sa: &mut IkeSa, ctx: &mut Ctx<'_>, inbound_spi: u32) -> bool {
    if !sa.children.iter().any(|c| c.inbound_spi == inbound_spi) {
        return false;
    }
    let until = ctx.now;
    match std::mem::replace(&mut sa.state, State::Closed { until }) {
        State::Established(st) if !sa.closing => {
            let done = delete_child_with(sa, ctx, &st.keys, inbound_spi);
            sa.state = State::Established(st);
            done
        }
        other => {
            sa.state = other;
            false
        }
    }
}
