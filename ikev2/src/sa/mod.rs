//! One IKE SA and its state machine (RFC 7296 1.2-1.4, 2.1-2.2).
//!
//! Each state that awaits a message is its own type holding exactly what that step needs and
//! is taken by value when the message arrives: `InitSent` (initiator, IKE_SA_INIT out),
//! `AuthSent` (initiator, IKE_AUTH out), `InitDone` (responder, IKE_AUTH awaited),
//! `Established`. The exchanges live in `ike_sa_init`, `ike_auth_psk` and `informational`.

pub(crate) mod child_sa;
pub(crate) mod create_child;
pub(crate) mod dpd;
pub(crate) mod ike_auth_psk;
pub(crate) mod ike_sa_init;
pub(crate) mod informational;
pub(crate) mod keys;
pub(crate) mod lifetime;
pub(crate) mod message_id;
pub(crate) mod nat;
pub(crate) mod rekey_child;
pub(crate) mod rekey_ike;
pub(crate) mod retransmit;
pub(crate) mod traffic_selector;
pub(crate) mod work;

use crate::config::PeerConfig;
use crate::crypto::Random;
use crate::event::{ChildStatus, DeleteReason, Event, FailureReason, PeerId, SaPhase, Transmit};
use crate::proposal::IkeSuite;
use crate::wire::{
    self, Encrypted, ExchangeType, Flags, Header, Message, Notify, NotifyType, Payload,
    PayloadType, ProtocolId,
};
use child_sa::ChildRecord;
use keys::IkeKeys;
use retransmit::{CachedResponse, OnTimeout, Outstanding, RequestKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Everything an exchange handler may touch outside its own IKE SA.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub rng: &'a mut dyn Random,
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    /// Inbound ESP SPIs in use on the whole endpoint.
    pub spis: &'a mut BTreeSet<u32>,
    /// Last failure per peer, for status.
    pub errors: &'a mut HashMap<PeerId, String>,
    /// Set when a peer authenticated with INITIAL_CONTACT (RFC 7296 2.4): the endpoint then
    /// drops that peer's other IKE SAs.
    pub initial_contact: Option<PeerId>,
    /// The endpoint's other IKE SAs (read only; the one being handled is not in it).
    pub sas: &'a BTreeMap<u64, IkeSa>,
    /// IKE SAs created by a rekey (RFC 7296 2.18), filed by the endpoint afterwards.
    pub spawned: Vec<IkeSa>,
    /// CHILD_SAs (and queued requests) moved to another IKE SA of the endpoint.
    pub transfers: Vec<Transfer>,
}

/// CHILD_SAs handed from a rekeyed IKE SA to its successor already filed in the endpoint
/// (the survivor of an IKE rekey collision, RFC 7296 2.8.2).
pub(crate) struct Transfer {
    pub peer: PeerId,
    /// Our SPI of the receiving IKE SA.
    pub to: u64,
    pub children: Vec<ChildRecord>,
    pub spis: Vec<u32>,
    pub queued: VecDeque<Queued>,
    pub to_create: VecDeque<String>,
}

impl Ctx<'_> {
    /// A random non-zero IKE SPI not used by any IKE SA of the endpoint (RFC 7296 2.6), nor
    /// `also_not` (the SA being handled, which is not in `sas`).
    pub fn fresh_ike_spi(&mut self, also_not: &[u64]) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.rng.fill(&mut b);
            let spi = u64::from_be_bytes(b);
            let ours = |sa: &IkeSa| if sa.initiator { sa.spi_i } else { sa.spi_r };
            if spi != 0
                && !self.sas.contains_key(&spi)
                && !also_not.contains(&spi)
                && !self.spawned.iter().any(|sa| ours(sa) == spi)
            {
                return spi;
            }
        }
    }

    /// The peer has an established IKE SA other than the one being handled. Unauthenticated
    /// (spoofable) failures are then not reported for it: they must not change what the
    /// operator sees of an established tunnel.
    pub fn peer_established(&self, peer: PeerId) -> bool {
        self.sas
            .values()
            .any(|sa| sa.peer == peer && sa.phase() == SaPhase::Established)
    }

    pub fn emit(&mut self, event: Event) {
        if let Event::Failed { peer, error } = &event {
            self.errors.insert(*peer, error.to_string());
        }
        self.events.push_back(event);
    }
}

/// What the endpoint should do with the IKE SA after a handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Keep,
    Remove,
}

/// Keys of an established IKE SA.
pub(crate) struct Established {
    pub keys: IkeKeys,
}

pub(crate) enum State {
    InitSent(Box<ike_sa_init::InitSent>),
    AuthSent(Box<ike_auth_psk::AuthSent>),
    InitDone(Box<ike_sa_init::InitDone>),
    Established(Box<Established>),
    /// Deleted or failed; kept until `until` only to replay the cached response.
    Closed {
        until: Instant,
    },
}

/// A request waiting for the window (RFC 7296 2.3, window size 1).
pub(crate) struct Queued {
    pub exchange: ExchangeType,
    pub payloads: Vec<Payload>,
    pub kind: RequestKind,
}

pub(crate) struct IkeSa {
    pub peer: PeerId,
    pub cfg: Arc<PeerConfig>,
    /// We are the original initiator of this IKE SA.
    pub initiator: bool,
    pub spi_i: u64,
    /// Zero until the initiator learns it.
    pub spi_r: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: State,
    pub outstanding: Option<Outstanding>,
    pub queued: VecDeque<Queued>,
    /// Message ID of our next request (RFC 7296 2.2).
    pub next_request_id: u32,
    /// Message ID we expect on the peer's next request.
    pub peer_next_id: u32,
    pub cached: Option<CachedResponse>,
    pub suite: Option<IkeSuite>,
    pub nat_local: bool,
    pub nat_remote: bool,
    pub children: Vec<ChildRecord>,
    pub established_at: Option<Instant>,
    /// Deletion events were emitted; nothing may be established on it any more.
    pub closing: bool,
    /// Inbound ESP SPIs this SA allocated (freed with it).
    pub spis: Vec<u32>,
    /// (remote, SPIi) under which the endpoint finds this SA for IKE_SA_INIT retransmissions.
    pub half_open_key: Option<(SocketAddr, u64)>,
    /// Counted as half-open from this source in the endpoint's `dos::Defences` (responder,
    /// IKE_SA_INIT answered, IKE_AUTH not yet done); cleared when uncounted, exactly once.
    pub dos_counted: Option<IpAddr>,
    /// Soft and hard lifetime of the IKE SA (RFC 7296 2.8).
    pub rekey_at: Option<Instant>,
    pub expire_at: Option<Instant>,
    /// Last authentic message or reported ESP traffic from the peer (DPD, RFC 7296 2.4).
    pub last_heard: Option<Instant>,
    /// Rekeyed (RFC 7296 2.18): the CHILD_SAs live on in the new IKE SA; this one only waits
    /// for its DELETE and goes without events.
    pub superseded: bool,
    /// Created by the peer's side of an IKE rekey collision and not (yet) adopted: removed
    /// silently at this instant unless its CHILD_SAs arrive (RFC 7296 2.8.2).
    pub redundant_until: Option<Instant>,
    /// The peer's IKE rekey we answered while ours was outstanding (RFC 7296 2.8.2).
    pub ike_collision: Option<rekey_ike::IkeCollision>,
    /// Children still to create by CREATE_CHILD_SA after IKE_AUTH (configuration names).
    pub to_create: VecDeque<String>,
    /// Outbound SPIs of CHILD_SAs we recently deleted: a rekey of one of them gets
    /// TEMPORARY_FAILURE rather than CHILD_SA_NOT_FOUND (RFC 7296 2.25.1).
    pub deleted_outbound: VecDeque<u32>,
    /// Our inbound SPIs of CHILD_SAs the peer deleted while both of us were rekeying them:
    /// the peer won that collision (RFC 7296 2.8.1), so our exchange's SA is redundant.
    pub lost_rekeys: VecDeque<u32>,
}

/// Result of opening an SK payload.
pub(crate) enum Opened {
    Payloads(Vec<Payload>),
    /// No SK payload or the ICV does not verify: drop silently (RFC 7296 2.21.2).
    NotAuthentic,
    /// Authentic but the inner chain does not parse.
    Malformed,
}

impl IkeSa {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        peer: PeerId,
        cfg: Arc<PeerConfig>,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        local: SocketAddr,
        remote: SocketAddr,
        state: State,
    ) -> Self {
        IkeSa {
            peer,
            cfg,
            initiator,
            spi_i,
            spi_r,
            local,
            remote,
            state,
            outstanding: None,
            queued: VecDeque::new(),
            next_request_id: 0,
            peer_next_id: 0,
            cached: None,
            suite: None,
            nat_local: false,
            nat_remote: false,
            children: Vec::new(),
            established_at: None,
            closing: false,
            spis: Vec::new(),
            half_open_key: None,
            dos_counted: None,
            rekey_at: None,
            expire_at: None,
            last_heard: None,
            superseded: false,
            redundant_until: None,
            ike_collision: None,
            to_create: VecDeque::new(),
            deleted_outbound: VecDeque::new(),
            lost_rekeys: VecDeque::new(),
        }
    }

    /// Our SPI: the key the endpoint files this SA under.
    pub fn our_spi(&self) -> u64 {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    /// Start the IKE SA's clocks once it is established (IKE_AUTH or rekey).
    pub fn start_lifetime(&mut self, ctx: &mut Ctx<'_>) {
        let (rekey, expire) = lifetime::deadlines(ctx.now, &self.cfg.ike_lifetime, ctx.rng);
        self.rekey_at = rekey;
        self.expire_at = expire;
        self.last_heard = Some(ctx.now);
    }

    pub fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> Header {
        let mut flags = 0;
        if self.initiator {
            flags |= Flags::INITIATOR;
        }
        if response {
            flags |= Flags::RESPONSE;
        }
        Header {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: PayloadType::NONE,
            version: Header::VERSION_2_0,
            exchange,
            flags: Flags(flags),
            message_id,
            length: 0,
        }
    }

    /// Encode `payloads` inside an SK payload (RFC 7296 3.14) and seal it.
    pub fn seal(
        &self,
        keys: &IkeKeys,
        rng: &mut dyn Random,
        header: Header,
        payloads: &[Payload],
    ) -> Option<Vec<u8>> {
        let (first_inner, plain) = wire::encode_payloads(payloads);
        let plain = zeroize::Zeroizing::new(plain);
        let body = vec![0; keys.outbound.sealed_len(plain.len())];
        let msg = Message {
            header,
            payloads: vec![Payload::Sk(Encrypted { first_inner, body })],
        };
        let mut bytes = wire::encode_message(&msg);
        keys.outbound.seal(rng, &mut bytes, &plain).ok()?;
        Some(bytes)
    }

    /// Send a protected request, or queue it while another one is outstanding.
    pub fn send_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        keys: &IkeKeys,
        exchange: ExchangeType,
        payloads: Vec<Payload>,
        kind: RequestKind,
    ) {
        if self.closing && !matches!(kind, RequestKind::DeleteIke) {
            // Nothing but the IKE SA's own DELETE is sent once it is going away.
            return;
        }
        if self.outstanding.is_some() {
            self.queued.push_back(Queued {
                exchange,
                payloads,
                kind,
            });
            return;
        }
        let id = self.next_request_id;
        if message_id::reserved_for_delete(id) && !matches!(kind, RequestKind::DeleteIke) {
            // RFC 7296 2.2: the message IDs are nearly used up; nothing but the IKE SA's
            // DELETE is sent any more, and the SA is closed as soon as the window allows.
            ctx.errors
                .insert(self.peer, "IKE message IDs exhausted before a rekey".into());
            message_id::check(self, ctx.now);
            return;
        }
        let header = self.header(exchange, false, id);
        let Some(payload) = self.seal(keys, ctx.rng, header, &payloads) else {
            ctx.errors
                .insert(self.peer, "could not seal a request".into());
            return;
        };
        let transmit = Transmit {
            local: self.local,
            remote: self.remote,
            payload,
        };
        ctx.transmits.push_back(transmit.clone());
        let mut out = Outstanding::new(ctx.now, &self.cfg.retransmit, kind, id, transmit);
        if self.established_at.is_some() && dpd::caps_requests(&self.cfg) {
            out = out.give_up_after(ctx.now, self.cfg.dpd_timeout);
        }
        self.outstanding = Some(out);
        // RFC 7296 2.2: message IDs are sequential and must not wrap; near the end the SA is
        // rekeyed or closed (`message_id`).
        self.next_request_id = message_id::next(id);
        message_id::check(self, ctx.now);
    }

    /// After a response: send the next queued request, if any, else start whatever is due
    /// (new CHILD_SAs, rekeys, expiry, DPD).
    pub fn pump_queue(&mut self, ctx: &mut Ctx<'_>, keys: &IkeKeys) {
        if self.outstanding.is_none() {
            if let Some(q) = self.queued.pop_front() {
                self.send_request(ctx, keys, q.exchange, q.payloads, q.kind);
            } else {
                work::start_due(self, ctx, keys);
            }
        }
    }

    /// Send `payload` as the response to the request `request` (message ID `message_id`)
    /// that arrived on `local` from `remote`, and cache it for retransmissions (RFC 7296 2.1).
    pub fn send_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        message_id: u32,
        request: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
        payload: Vec<u8>,
    ) {
        let response = Transmit {
            local,
            remote,
            payload,
        };
        ctx.transmits.push_back(response.clone());
        self.cached = Some(CachedResponse {
            message_id,
            request: request.to_vec(),
            response,
        });
        self.peer_next_id = self::message_id::next(message_id);
        self::message_id::check(self, ctx.now);
    }

    /// Seal and send a protected response.
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        keys: &IkeKeys,
        exchange: ExchangeType,
        message_id: u32,
        request: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
        payloads: &[Payload],
    ) {
        let header = self.header(exchange, true, message_id);
        match self.seal(keys, ctx.rng, header, payloads) {
            Some(bytes) => self.send_response(ctx, message_id, request, local, remote, bytes),
            None => {
                ctx.errors
                    .insert(self.peer, "could not seal a response".into());
            }
        }
    }

    /// Report a failure that ends this IKE SA attempt.
    pub fn fail(&mut self, ctx: &mut Ctx<'_>, error: FailureReason) -> Next {
        ctx.emit(Event::Failed {
            peer: self.peer,
            error,
        });
        Next::Remove
    }

    /// Emit the deletion events once (CHILD_SAs first, then the IKE SA). A rekeyed or
    /// never-adopted IKE SA goes silently (its successor carries on).
    pub fn emit_deleted(&mut self, ctx: &mut Ctx<'_>, reason: DeleteReason) {
        if self.closing {
            return;
        }
        self.closing = true;
        for c in self.children.drain(..) {
            if c.installed {
                ctx.emit(Event::ChildSaDeleted {
                    peer: self.peer,
                    inbound_spi: c.inbound_spi,
                    outbound_spi: c.outbound_spi,
                });
            }
        }
        if self.established_at.is_some() && !self.superseded && self.redundant_until.is_none() {
            ctx.emit(Event::IkeSaDeleted {
                peer: self.peer,
                spi_i: self.spi_i,
                spi_r: self.spi_r,
                reason,
            });
        }
    }

    /// Deleted or failed after we answered a request: keep answering retransmissions of that
    /// request for as long as the peer may send them, then go.
    pub fn linger(&mut self, ctx: &mut Ctx<'_>) {
        self.outstanding = None;
        self.queued.clear();
        let until = ctx
            .now
            .checked_add(retransmit::schedule_length(&self.cfg.retransmit))
            .unwrap_or(ctx.now);
        self.state = State::Closed { until };
    }

    /// The earliest time `on_timeout` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Closed { until } => Some(*until),
            State::InitDone(st) => Some(st.expires),
            _ => None,
        };
        let retransmit = self.outstanding.as_ref().map(|o| o.deadline);
        let work = if self.outstanding.is_none() {
            work::deadline(self)
        } else {
            None
        };
        [state, retransmit, work, self.redundant_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers: retransmission or giving up (RFC 7296 2.1, 2.4), half-open expiry, linger end.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let now = ctx.now;
        match &self.state {
            State::Closed { until } if *until <= now => return Next::Remove,
            State::InitDone(st) if st.expires <= now => {
                // Unauthenticated (possibly spoofed): noted only while the peer has no
                // established IKE SA.
                if !ctx.peer_established(self.peer) {
                    ctx.errors.insert(
                        self.peer,
                        "half-open IKE SA expired without IKE_AUTH".into(),
                    );
                }
                return Next::Remove;
            }
            _ => {}
        }
        if self.redundant_until.is_some_and(|t| t <= now) {
            // A collision's losing IKE SA whose DELETE never came (RFC 7296 2.8.2).
            self.emit_deleted(ctx, DeleteReason::Local);
            return Next::Remove;
        }
        let cfg = self.cfg.retransmit;
        let Some(out) = self.outstanding.as_mut() else {
            return work::on_timeout(self, ctx);
        };
        if out.deadline > now {
            return Next::Keep;
        }
        match out.on_timeout(now, &cfg) {
            OnTimeout::Resend(t) => {
                let event = Event::Retransmitted {
                    peer: self.peer,
                    message_id: out.message_id,
                    request: out.kind.describe(),
                    retransmit: out.retransmits,
                };
                ctx.transmits.push_back(t);
                ctx.emit(event);
                Next::Keep
            }
            OnTimeout::GiveUp { tries } => {
                if self.established_at.is_some() {
                    // RFC 7296 2.4: an unanswered request means the peer is gone; so does a
                    // failed rekey (2.8).
                    ctx.errors
                        .insert(self.peer, FailureReason::Timeout { tries }.to_string());
                    let reason = if dpd::enabled(&self.cfg) {
                        DeleteReason::DeadPeer
                    } else {
                        DeleteReason::Timeout
                    };
                    self.emit_deleted(ctx, reason);
                    Next::Remove
                } else {
                    self.fail(ctx, FailureReason::Timeout { tries })
                }
            }
        }
    }

    /// Coarse phase for status.
    pub fn phase(&self) -> SaPhase {
        match &self.state {
            State::InitSent(_) => SaPhase::Connecting,
            State::AuthSent(_) | State::InitDone(_) => SaPhase::Authenticating,
            State::Established(_)
                if self.closing || self.superseded || self.redundant_until.is_some() =>
            {
                SaPhase::Deleting
            }
            State::Established(_) => SaPhase::Established,
            State::Closed { .. } => SaPhase::Closed,
        }
    }

    pub fn child_status(&self) -> Vec<ChildStatus> {
        self.children.iter().map(ChildRecord::status).collect()
    }

    /// A message for this SA (anything but a new IKE_SA_INIT request). Requests are checked
    /// against the expected message ID (RFC 7296 2.2); a retransmitted one gets the cached
    /// response; responses must match our outstanding request.
    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        bytes: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Next {
        let h = msg.header;
        if h.flags.response() {
            match &self.outstanding {
                Some(o) if o.message_id == h.message_id => {}
                _ => return Next::Keep,
            }
            let until = ctx.now;
            match std::mem::replace(&mut self.state, State::Closed { until }) {
                State::InitSent(st) => {
                    ike_sa_init::on_response(self, *st, ctx, msg, bytes, local, remote)
                }
                State::AuthSent(st) => ike_auth_psk::on_response(self, *st, ctx, msg, bytes),
                State::Established(st) => informational::on_response(self, *st, ctx, msg, bytes),
                other => {
                    self.state = other;
                    Next::Keep
                }
            }
        } else {
            if let Some(c) = &self.cached {
                if c.message_id == h.message_id {
                    if let Some(t) = c.replay_for(bytes, local, remote) {
                        ctx.transmits.push_back(t);
                    }
                    return Next::Keep;
                }
            }
            if h.message_id != self.peer_next_id {
                return Next::Keep;
            }
            let until = ctx.now;
            match std::mem::replace(&mut self.state, State::Closed { until }) {
                State::InitDone(st) => {
                    ike_auth_psk::on_request(self, *st, ctx, msg, bytes, local, remote)
                }
                State::Established(st) => {
                    informational::on_request(self, *st, ctx, msg, bytes, local, remote)
                }
                other => {
                    self.state = other;
                    Next::Keep
                }
            }
        }
    }
}

/// Open the SK payload that ends `msg` (RFC 7296 3.14) and decode the inner chain.
pub(crate) fn open(keys: &IkeKeys, msg: &Message, bytes: &[u8]) -> Opened {
    let Some(Payload::Sk(Encrypted { first_inner, body })) = msg.payloads.last() else {
        return Opened::NotAuthentic;
    };
    let Ok(plain) = keys.inbound.open(bytes, body.len()) else {
        return Opened::NotAuthentic;
    };
    match wire::decode_payloads(*first_inner, &plain) {
        Ok(p) => Opened::Payloads(p),
        Err(_) => Opened::Malformed,
    }
}

/// A status or error notify about the IKE SA (protocol 0, no SPI; RFC 7296 3.10).
pub(crate) fn notify(kind: NotifyType, data: Vec<u8>) -> Payload {
    Payload::Notify(Notify {
        protocol: ProtocolId::NONE,
        spi: Vec::new(),
        kind,
        data,
    })
}

/// The first error notify (types below 16384, RFC 7296 3.10.1).
pub(crate) fn error_notify(payloads: &[Payload]) -> Option<NotifyType> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.kind.is_error() => Some(n.kind),
        _ => None,
    })
}

/// The data of the first notify of `kind`.
pub(crate) fn notify_data(payloads: &[Payload], kind: NotifyType) -> Option<&[u8]> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.kind == kind => Some(n.data.as_slice()),
        _ => None,
    })
}

/// An unknown payload with the critical bit (RFC 7296 2.5): the message must be rejected.
pub(crate) fn unknown_critical(payloads: &[Payload]) -> Option<PayloadType> {
    payloads.iter().find_map(|p| match p {
        Payload::Unknown {
            kind,
            critical: true,
            ..
        } => Some(*kind),
        _ => None,
    })
}

/// RFC 7296 2.10: nonces are at least 128 bits and at most 2048 bits.
pub(crate) fn nonce_ok(n: &[u8]) -> bool {
    (16..=256).contains(&n.len())
}

/// A fresh 32-byte nonce.
pub(crate) fn new_nonce(rng: &mut dyn Random) -> Vec<u8> {
    let mut n = vec![0u8; 32];
    rng.fill(&mut n);
    n
}
