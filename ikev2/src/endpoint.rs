//! The sans-IO endpoint: owns the peer configurations and every IKE SA, demultiplexes
//! datagrams by SPI (RFC 7296 2.21.4: nothing is sent for unknown SPIs), and runs the timers.

use crate::config::PeerConfig;
use crate::crypto::Random;
use crate::dos::{self, DefenceConfig, DefenceStats, Defences, Verdict};
use crate::event::{DeleteReason, Event, PeerId, PeerStatus, SaPhase, Transmit};
use crate::sa::ike_sa_init::{self, InitReply};
use crate::sa::{informational, work, Ctx, IkeSa, Next, State};
use crate::wire::{self, ExchangeType, Header};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest datagram we look at (an IKE message length is at most 2^32-1, but UDP carries at
/// most 65535 bytes).
const MAX_DATAGRAM: usize = 65_535;

/// At most one `Event::Failed` per peer in this interval for unauthenticated IKE_SA_INIT
/// failures (e.g. NO_PROPOSAL_CHOSEN): a spoofer of the peer's address must not fill the logs.
const INIT_FAILURE_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// A context borrowing everything of the endpoint but its SA map.
macro_rules! ctx {
    ($s:ident, $now:expr) => {
        Ctx {
            now: $now,
            rng: &mut *$s.rng,
            transmits: &mut $s.transmits,
            events: &mut $s.events,
            spis: &mut $s.esp_spis,
            errors: &mut $s.errors,
            initial_contact: None,
            sas: &$s.sas,
            spawned: Vec::new(),
            transfers: Vec::new(),
        }
    };
}

/// With simultaneous IKE_SA_INIT from both sides (RFC 7296 2.8 leaves it open) two IKE SAs
/// with one peer may both get established. strongSwan (uniqueids) deletes the older one
/// 10 s after the newer one authenticated as responder; we wait this long for the peer to
/// settle it, then delete every one but the IKE SA with the highest (SPIi, SPIr). Both ends of
/// ours compute the same survivor, so they send DELETE for the same SA (a DELETE collision,
/// which 2.25.2 resolves).
pub const DUPLICATE_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Why `Endpoint::initiate` did nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InitiateError {
    #[error("no such peer")]
    UnknownPeer,
    #[error("the peer is configured as responder only")]
    ResponderOnly,
    #[error("an IKE SA with this peer already exists or is being set up")]
    AlreadyActive,
    #[error("{0}")]
    Config(String),
}

/// All IKE SAs of one gateway. See the crate documentation for the driving loop.
pub struct Endpoint {
    rng: Box<dyn Random + Send>,
    peers: BTreeMap<PeerId, Arc<PeerConfig>>,
    next_peer: u32,
    /// Filed under our own SPI (SPIi as initiator, SPIr as responder).
    sas: BTreeMap<u64, IkeSa>,
    /// (initiator address, SPIi) -> our SPI, for IKE_SA_INIT retransmissions (RFC 7296 2.1);
    /// kept for the SA's lifetime so late duplicates never create a second SA.
    half_open: HashMap<(SocketAddr, u64), u64>,
    /// Inbound ESP SPIs in use.
    esp_spis: BTreeSet<u32>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    errors: HashMap<PeerId, String>,
    /// Peers holding more than one established IKE SA, since when (see `DUPLICATE_GRACE`).
    duplicates: HashMap<PeerId, Instant>,
    /// The IKE_SA_INIT gatekeeper (cookies, half-open limits, rate limits; RFC 7296 2.6,
    /// RFC 8019).
    dos: Defences,
    /// Last reported unauthenticated IKE_SA_INIT failure per peer: (SPIi, when).
    init_failures: HashMap<PeerId, (u64, Instant)>,
}

impl Endpoint {
    pub fn new(mut rng: Box<dyn Random + Send>) -> Self {
        let dos = Defences::new(DefenceConfig::default(), &mut *rng);
        Endpoint {
            rng,
            peers: BTreeMap::new(),
            next_peer: 0,
            sas: BTreeMap::new(),
            half_open: HashMap::new(),
            esp_spis: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            errors: HashMap::new(),
            duplicates: HashMap::new(),
            dos,
            init_failures: HashMap::new(),
        }
    }

    /// Counters of the IKE_SA_INIT defences (cookies sent, rate limited, ...), for metrics.
    pub fn dos_stats(&self) -> DefenceStats {
        self.dos.stats()
    }

    /// Responder IKE SAs currently half-open (IKE_SA_INIT answered, IKE_AUTH awaited).
    pub fn half_open_count(&self) -> u32 {
        self.dos.half_open().total()
    }

    pub fn add_peer(&mut self, cfg: PeerConfig) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer = self.next_peer.wrapping_add(1);
        self.peers.insert(id, Arc::new(cfg));
        id
    }

    pub fn peer_config(&self, peer: PeerId) -> Option<&PeerConfig> {
        self.peers.get(&peer).map(|c| &**c)
    }

    /// Forget a peer: its established IKE SA is deleted (DELETE sent), others dropped.
    pub fn remove_peer(&mut self, now: Instant, peer: PeerId) {
        self.terminate(now, peer);
        self.peers.remove(&peer);
        self.errors.remove(&peer);
        self.init_failures.remove(&peer);
    }

    /// Start IKE_SA_INIT towards the peer from `local` (our port-500 address; IKE_AUTH moves
    /// to the same IP, port 4500, if a NAT is detected).
    pub fn initiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        local: SocketAddr,
    ) -> Result<(), InitiateError> {
        let cfg = self
            .peers
            .get(&peer)
            .ok_or(InitiateError::UnknownPeer)?
            .clone();
        if !cfg.role.may_initiate() {
            return Err(InitiateError::ResponderOnly);
        }
        // Only our own attempt or an established IKE SA count: a responder's half-open SA is
        // unauthenticated (anyone can create one with the peer's address), and a real one just
        // makes this a simultaneous initiation (RFC 7296 2.8), settled by `check_duplicates`.
        if self.sas.values().any(|sa| {
            sa.peer == peer
                && match sa.phase() {
                    SaPhase::Established => true,
                    SaPhase::Connecting | SaPhase::Authenticating => sa.initiator,
                    SaPhase::Idle | SaPhase::Deleting | SaPhase::Closed => false,
                }
        }) {
            return Err(InitiateError::AlreadyActive);
        }
        let spi = self.fresh_ike_spi();
        let mut ctx = ctx!(self, now);
        match ike_sa_init::initiate(&mut ctx, peer, cfg, local, spi) {
            Ok(sa) => {
                self.sas.insert(spi, sa);
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                self.errors.insert(peer, msg.clone());
                Err(InitiateError::Config(msg))
            }
        }
    }

    /// Delete the peer's IKE SAs: established ones with an INFORMATIONAL DELETE (events are
    /// emitted at once), ones being set up are dropped.
    pub fn terminate(&mut self, now: Instant, peer: PeerId) {
        let spis: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.peer == peer)
            .map(|(s, _)| *s)
            .collect();
        for spi in spis {
            self.with_sa(now, spi, |sa, ctx| {
                informational::delete_ike(sa, ctx, DeleteReason::Local)
            });
        }
    }

    /// Send an empty INFORMATIONAL to the peer's established IKE SA (RFC 7296 1.4; the
    /// building block for dead peer detection). False if there is none.
    pub fn check_liveness(&mut self, now: Instant, peer: PeerId) -> bool {
        let spi = self
            .sas
            .iter()
            .find(|(_, sa)| sa.peer == peer && sa.phase() == SaPhase::Established)
            .map(|(s, _)| *s);
        let mut sent = false;
        if let Some(spi) = spi {
            self.with_sa(now, spi, |sa, ctx| {
                sent = informational::liveness_check(sa, ctx);
                Next::Keep
            });
        }
        sent
    }

    /// Delete one CHILD_SA of the peer, named by our inbound SPI (INFORMATIONAL DELETE,
    /// RFC 7296 1.4.1; `ChildSaDeleted` is emitted at once). False if there is no such SA.
    pub fn delete_child_sa(&mut self, now: Instant, peer: PeerId, inbound_spi: u32) -> bool {
        let spi = self
            .sas
            .iter()
            .find(|(_, sa)| {
                sa.peer == peer && sa.children.iter().any(|c| c.inbound_spi == inbound_spi)
            })
            .map(|(s, _)| *s);
        let mut done = false;
        if let Some(spi) = spi {
            self.with_sa(now, spi, |sa, ctx| {
                done = informational::delete_child(sa, ctx, inbound_spi);
                Next::Keep
            });
        }
        done
    }

    /// Rekey one CHILD_SA of the peer, named by our inbound SPI (RFC 7296 1.3.3), e.g. when
    /// the ESP layer reports a byte, packet or sequence-number soft limit. Starts now if no
    /// other request of ours is outstanding, else right after it. False if there is no such
    /// CHILD_SA or it is already being rekeyed.
    pub fn rekey_child_sa(&mut self, now: Instant, peer: PeerId, inbound_spi: u32) -> bool {
        let spi = self
            .sas
            .iter()
            .find(|(_, sa)| {
                sa.peer == peer
                    && sa.phase() == SaPhase::Established
                    && sa.children.iter().any(|c| {
                        c.inbound_spi == inbound_spi
                            && c.state == crate::sa::child_sa::ChildState::Active
                    })
            })
            .map(|(s, _)| *s);
        let Some(spi) = spi else {
            return false;
        };
        self.with_sa(now, spi, |sa, ctx| {
            if let Some(c) = sa
                .children
                .iter_mut()
                .find(|c| c.inbound_spi == inbound_spi)
            {
                c.rekey_at = Some(now);
            }
            kick(sa, ctx);
            Next::Keep
        });
        true
    }

    /// Rekey the peer's IKE SA now (RFC 7296 1.3.2), or right after the outstanding request.
    /// False if it has no established IKE SA.
    pub fn rekey_ike_sa(&mut self, now: Instant, peer: PeerId) -> bool {
        let spi = self
            .sas
            .iter()
            .find(|(_, sa)| sa.peer == peer && sa.phase() == SaPhase::Established)
            .map(|(s, _)| *s);
        let Some(spi) = spi else {
            return false;
        };
        self.with_sa(now, spi, |sa, ctx| {
            sa.rekey_at = Some(now);
            kick(sa, ctx);
            Next::Keep
        });
        true
    }

    /// ESP traffic arrived from the peer: no DPD probe is needed (RFC 7296 2.4). Cheap; call
    /// it at most every second or so per peer.
    pub fn note_inbound_traffic(&mut self, peer: PeerId, now: Instant) {
        for sa in self.sas.values_mut() {
            if sa.peer == peer && sa.established_at.is_some() {
                sa.last_heard = Some(sa.last_heard.map_or(now, |t| t.max(now)));
            }
        }
    }

    /// One received IKE datagram (without the non-ESP marker), arrived on `local` from `remote`.
    pub fn handle(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, datagram: &[u8]) {
        if datagram.len() > MAX_DATAGRAM {
            return;
        }
        let Ok(h) = wire::decode_header(datagram) else {
            return;
        };
        if h.version >> 4 != 2 {
            return;
        }
        let new_sa_request = h.exchange == ExchangeType::IKE_SA_INIT && !h.flags.response();
        if new_sa_request {
            self.handle_init_request(now, local, remote, &h, datagram);
            return;
        }
        // The I flag says who sent it (RFC 7296 3.1): from the original initiator, so our SPI
        // is SPIr; otherwise it is SPIi.
        let from_initiator = h.flags.initiator();
        let our_spi = if from_initiator { h.spi_r } else { h.spi_i };
        let Some(sa) = self.sas.get(&our_spi) else {
            // RFC 7296 2.21.4: INVALID_IKE_SPI is optional; we never answer unknown SPIs.
            return;
        };
        let peer_spi = if from_initiator { h.spi_i } else { h.spi_r };
        let their_spi = if sa.initiator { sa.spi_r } else { sa.spi_i };
        // Before IKE_SA_INIT completes the initiator does not know SPIr (error replies carry 0).
        if sa.initiator == from_initiator || (their_spi != 0 && peer_spi != their_spi) {
            return;
        }
        let Ok(msg) = wire::decode_message(datagram) else {
            return;
        };
        self.with_sa(now, our_spi, |sa, ctx| {
            sa.handle(ctx, &msg, datagram, local, remote)
        });
    }

    fn handle_init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        h: &Header,
        datagram: &[u8],
    ) {
        if !h.flags.initiator() || h.spi_i == 0 || h.spi_r != 0 || h.message_id != 0 {
            return;
        }
        if let Some(spi) = self.half_open.get(&(remote, h.spi_i)) {
            // A retransmission: replay our cached response if it is the same request.
            if let Some(t) = self
                .sas
                .get(spi)
                .and_then(|sa| sa.cached.as_ref())
                .filter(|c| c.message_id == 0)
                .and_then(|c| c.replay_for(datagram, local, remote))
            {
                self.transmits.push_back(t);
            }
            return;
        }
        // Candidates by the initiator's address; unknown senders get no answer at all.
        let candidates: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, c)| c.remote.ip() == remote.ip())
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        if candidates.is_empty() {
            return;
        }
        // RFC 7296 2.6, RFC 8019: cookies, half-open and rate limits before any decoding,
        // Diffie-Hellman or state (`dos` module documentation).
        let Some(init) = dos::peek_ike_sa_init(datagram) else {
            return;
        };
        match self
            .dos
            .check_ike_sa_init(now, remote.ip(), h.spi_i, init.ni, init.cookie)
        {
            Verdict::Drop => return,
            Verdict::RequireCookie(c) => {
                // 69 bytes: never larger than the request (no amplification).
                let payload = dos::cookie_response(h, &c);
                if payload.len() <= datagram.len() {
                    self.transmits.push_back(Transmit {
                        local,
                        remote,
                        payload,
                    });
                }
                return;
            }
            Verdict::Accept => {}
        }
        let Ok(msg) = wire::decode_message(datagram) else {
            return;
        };
        let spi_r = self.fresh_ike_spi();
        let timeout = self.dos.half_open_timeout();
        let mut ctx = ctx!(self, now);
        let reply = ike_sa_init::on_request(
            &mut ctx, candidates, &msg, datagram, local, remote, spi_r, timeout,
        );
        match reply {
            InitReply::Drop => {}
            InitReply::Stateless(t) => self.transmits.push_back(t),
            InitReply::NoProposal {
                transmit,
                peer,
                error,
            } => {
                self.transmits.push_back(transmit);
                self.report_init_failure(now, peer, h.spi_i, error);
            }
            InitReply::NewSa(mut sa) => {
                if let Some(key) = sa.half_open_key {
                    self.half_open.insert(key, spi_r);
                }
                self.dos.half_open_opened(remote.ip());
                sa.dos_counted = Some(remote.ip());
                self.sas.insert(spi_r, *sa);
            }
        }
    }

    /// An unauthenticated IKE_SA_INIT request from the peer's address failed (e.g. no
    /// acceptable proposal). Anyone can send one with that address, so: never reported for a
    /// peer with an established IKE SA (it must not change what the operator sees of a working
    /// tunnel), once per attempt (SPIi) otherwise, and at most once per
    /// `INIT_FAILURE_REPORT_INTERVAL`; the rest is only counted (`DefenceStats`).
    fn report_init_failure(
        &mut self,
        now: Instant,
        peer: PeerId,
        spi_i: u64,
        error: crate::event::FailureReason,
    ) {
        let established = self
            .sas
            .values()
            .any(|sa| sa.peer == peer && sa.phase() == SaPhase::Established);
        let repeated = self.init_failures.get(&peer).is_some_and(|(spi, at)| {
            *spi == spi_i || now.saturating_duration_since(*at) < INIT_FAILURE_REPORT_INTERVAL
        });
        if established || repeated {
            self.dos.note_unreported_failure();
            return;
        }
        self.init_failures.insert(peer, (spi_i, now));
        self.errors.insert(peer, error.to_string());
        self.events.push_back(Event::Failed { peer, error });
    }

    /// A responder SA leaves the half-open phase (IKE_AUTH done or failed, expired, removed):
    /// uncount it in the defences, exactly once.
    fn settle_half_open(dos: &mut Defences, sa: &mut IkeSa, removed: bool) {
        if removed || !matches!(sa.state, State::InitDone(_)) {
            if let Some(ip) = sa.dos_counted.take() {
                dos.half_open_closed(ip);
            }
        }
    }

    /// Run `f` on the SA filed under `spi` with a context borrowing the rest of the endpoint,
    /// then keep or drop it, and apply INITIAL_CONTACT.
    fn with_sa(
        &mut self,
        now: Instant,
        spi: u64,
        f: impl FnOnce(&mut IkeSa, &mut Ctx<'_>) -> Next,
    ) {
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        let mut ctx = ctx!(self, now);
        let next = f(&mut sa, &mut ctx);
        let initial_contact = ctx.initial_contact.take();
        let spawned = std::mem::take(&mut ctx.spawned);
        let transfers = std::mem::take(&mut ctx.transfers);
        Self::settle_half_open(&mut self.dos, &mut sa, next == Next::Remove);
        match next {
            Next::Keep => {
                self.sas.insert(spi, sa);
            }
            Next::Remove => self.drop_sa(sa),
        }
        for new in spawned {
            let key = new.our_spi();
            if let std::collections::btree_map::Entry::Vacant(e) = self.sas.entry(key) {
                e.insert(new);
            }
        }
        for t in transfers {
            self.transfer(now, t);
        }
        if let Some(peer) = initial_contact {
            self.initial_contact(now, peer, spi);
        }
        self.check_duplicates(now);
    }

    /// Hand CHILD_SAs to the IKE SA that survived an IKE rekey collision (RFC 7296 2.8.2).
    fn transfer(&mut self, now: Instant, mut t: crate::sa::Transfer) {
        let Some(target) = self.sas.get_mut(&t.to) else {
            // It is gone already: so are the CHILD_SAs.
            for c in t.children.iter().filter(|c| c.installed) {
                self.events.push_back(Event::ChildSaDeleted {
                    peer: t.peer,
                    inbound_spi: c.inbound_spi,
                    outbound_spi: c.outbound_spi,
                });
            }
            for s in &t.spis {
                self.esp_spis.remove(s);
            }
            return;
        };
        target.children.append(&mut t.children);
        target.spis.append(&mut t.spis);
        target.queued.append(&mut t.queued);
        target.to_create.append(&mut t.to_create);
        target.redundant_until = None;
        let spi = t.to;
        self.with_sa_plain(now, spi, kick);
    }

    /// `with_sa` without the follow-ups (no recursion through transfers).
    fn with_sa_plain(&mut self, now: Instant, spi: u64, f: impl FnOnce(&mut IkeSa, &mut Ctx<'_>)) {
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        let mut ctx = ctx!(self, now);
        f(&mut sa, &mut ctx);
        Self::settle_half_open(&mut self.dos, &mut sa, false);
        self.sas.insert(spi, sa);
    }

    /// Resolve two established IKE SAs with one peer after `DUPLICATE_GRACE`.
    fn check_duplicates(&mut self, now: Instant) {
        let mut count: BTreeMap<PeerId, Vec<(u64, u64, u64)>> = BTreeMap::new();
        for (key, sa) in &self.sas {
            if sa.phase() == SaPhase::Established {
                count
                    .entry(sa.peer)
                    .or_default()
                    .push((sa.spi_i, sa.spi_r, *key));
            }
        }
        self.duplicates
            .retain(|p, _| count.get(p).is_some_and(|v| v.len() > 1));
        for (peer, mut v) in count {
            if v.len() < 2 {
                continue;
            }
            let since = *self.duplicates.entry(peer).or_insert(now);
            if now.saturating_duration_since(since) < DUPLICATE_GRACE {
                continue;
            }
            v.sort();
            v.pop(); // the survivor: highest (SPIi, SPIr)
            self.duplicates.remove(&peer);
            for (_, _, key) in v {
                self.with_sa_plain(now, key, |sa, ctx| {
                    let _ = informational::delete_ike(sa, ctx, DeleteReason::Duplicate);
                });
            }
        }
    }

    /// RFC 7296 2.4: the peer restarted; its older IKE SAs (other than `keep`) are gone, with
    /// their CHILD_SAs, and no DELETE is sent for them.
    fn initial_contact(&mut self, now: Instant, peer: PeerId, keep: u64) {
        let old: Vec<u64> = self
            .sas
            .iter()
            .filter(|(s, sa)| **s != keep && sa.peer == peer && sa.established_at.is_some())
            .map(|(s, _)| *s)
            .collect();
        for s in old {
            if let Some(mut sa) = self.sas.remove(&s) {
                let mut ctx = ctx!(self, now);
                sa.emit_deleted(&mut ctx, DeleteReason::InitialContact);
                self.drop_sa(sa);
            }
        }
    }

    fn drop_sa(&mut self, mut sa: IkeSa) {
        Self::settle_half_open(&mut self.dos, &mut sa, true);
        if let Some(key) = sa.half_open_key {
            self.half_open.remove(&key);
        }
        for spi in &sa.spis {
            self.esp_spis.remove(spi);
        }
    }

    /// A random non-zero IKE SPI not in use (RFC 7296 2.6).
    fn fresh_ike_spi(&mut self) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.rng.fill(&mut b);
            let spi = u64::from_be_bytes(b);
            if spi != 0 && !self.sas.contains_key(&spi) {
                return spi;
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The earliest instant `handle_timeout` must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let dup = self
            .duplicates
            .values()
            .map(|&t| crate::time::saturating_after(t, DUPLICATE_GRACE))
            .min();
        self.sas
            .values()
            .filter_map(IkeSa::deadline)
            .chain(dup)
            .min()
    }

    /// Retransmit, give up, and expire half-open or closed IKE SAs due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.deadline().is_some_and(|d| d <= now))
            .map(|(s, _)| *s)
            .collect();
        for spi in due {
            self.with_sa(now, spi, |sa, ctx| sa.on_timeout(ctx));
        }
        self.check_duplicates(now);
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        // (Events are queued in the order the protocol produced them.)
        self.events.pop_front()
    }

    /// One entry per configured peer, describing its most advanced IKE SA (no secrets).
    pub fn status(&self) -> Vec<PeerStatus> {
        let rank = |p: SaPhase| match p {
            SaPhase::Established => 5,
            SaPhase::Authenticating => 4,
            SaPhase::Connecting => 3,
            SaPhase::Deleting => 2,
            SaPhase::Closed => 1,
            SaPhase::Idle => 0,
        };
        self.peers
            .iter()
            .map(|(id, cfg)| {
                let best = self
                    .sas
                    .values()
                    .filter(|sa| sa.peer == *id)
                    .max_by_key(|sa| (rank(sa.phase()), sa.established_at));
                PeerStatus {
                    peer: *id,
                    name: cfg.name.clone(),
                    phase: best.map_or(SaPhase::Idle, IkeSa::phase),
                    spi_i: best.map(|sa| sa.spi_i),
                    spi_r: best.map(|sa| sa.spi_r),
                    initiator: best.map(|sa| sa.initiator),
                    ike_suite: best.and_then(|sa| sa.suite),
                    children: best.map(IkeSa::child_status).unwrap_or_default(),
                    local: best.map(|sa| sa.local),
                    remote: best.map(|sa| sa.remote),
                    nat_local: best.is_some_and(|sa| sa.nat_local),
                    nat_remote: best.is_some_and(|sa| sa.nat_remote),
                    established_at: best.and_then(|sa| sa.established_at),
                    last_error: self.errors.get(id).cloned(),
                    rekey_at: best.and_then(|sa| sa.rekey_at),
                    expire_at: best.and_then(|sa| sa.expire_at),
                }
            })
            .collect()
    }
}

#[cfg(test)]
impl Endpoint {
    /// The peer's established IKE SA, for crate-internal tests that need to put it into a
    /// state no short exchange reaches (e.g. message IDs near 2^32).
    pub(crate) fn established_sa_mut(&mut self, peer: PeerId) -> Option<&mut IkeSa> {
        self.sas
            .values_mut()
            .find(|sa| sa.peer == peer && sa.phase() == SaPhase::Established)
    }
}

/// Start whatever is due on an established IKE SA whose window is free.
fn kick(sa: &mut IkeSa, ctx: &mut Ctx<'_>) {
    if sa.outstanding.is_some() || !matches!(sa.state, State::Established(_)) {
        return;
    }
    let until = ctx.now;
    if let State::Established(st) = std::mem::replace(&mut sa.state, State::Closed { until }) {
        work::start_due(sa, ctx, &st.keys);
        sa.state = State::Established(st);
    }
}
