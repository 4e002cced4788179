//! Denial-of-service defences for the responder (RFC 7296 2.6, RFC 8019), as pure logic the
//! endpoint calls before it does anything expensive for a new IKE_SA_INIT request.
//!
//! * [`CookieJar`]: stateless cookies, `version || HMAC-SHA256(secret, Ni | IPi | SPIi)`, with a
//!   secret that rotates (the previous one stays valid), seeded from the caller's
//!   [`Random`](crate::crypto::Random).
//! * [`HalfOpenTracker`]: half-open responder IKE SAs, in all and per source IP.
//! * [`RateLimiter`]: a per-source token bucket on IKE_SA_INIT in a fixed-size table.
//! * [`Defences`] combines them into one cheap decision, [`Defences::check_ike_sa_init`]: no
//!   Diffie-Hellman, no allocation (the cookie is a fixed-size value), at most two HMACs
//!   (verify a presented cookie, make a fresh one).
//!
//! Defaults follow strongSwan 5.9's `charon.*` settings (strongswan.conf(5), the
//! `/etc/strongswan.d/charon.conf` template): `cookie_threshold = 30` half-open SAs in all,
//! `cookie_threshold_ip = 3` per source IP, `block_threshold = 5` per source IP (further
//! requests from that IP are dropped), `half_open_timeout = 30` s; strongSwan switches its
//! cookie secret every 120 s. On top: a hard cap of 256 half-open SAs, a shorter half-open timeout while cookies are required (5 s, RFC 8019
//! 4.1 suggests reducing it under attack), and token buckets of 10 requests, refilled at 5/s,
//! per source (one for requests without a valid cookie, one for requests with one).
//!
//! # Order of checks in [`Defences::check_ike_sa_init`]
//! 1. the source has `block_threshold` half-open SAs: [`Verdict::Drop`] (off-path spoofers
//!    cannot get there: from `cookie_threshold_ip` on they must return cookies);
//! 2. the request carries a valid cookie (current or previous secret): the source has shown
//!    that it receives at its address (RFC 7296 2.6), so it is charged to a separate
//!    *verified* token bucket that spoofers cannot drain: `Accept`, or `Drop` when that bucket
//!    is empty or the global hard cap is reached;
//! 3. cookies are required (global or per-source threshold reached) or the source's
//!    *unverified* token bucket is empty: `RequireCookie(c)` (also when the request carries an
//!    invalid or stale cookie: RFC 7296 2.6 says to answer with a fresh cookie);
//! 4. the global hard cap is reached: `Drop`; otherwise `Accept`.
//!
//! Why a source over its budget gets a cookie rather than nothing: the endpoint only lets
//! requests from configured peers' addresses reach this gate, so an off-path attacker floods
//! with a peer's own address. Dropping would lock the real peer out for as long as the flood
//! lasts (the limiter cannot tell them apart); a cookie costs one HMAC and no state, and lets
//! the real peer (which sees the answer) in through the verified bucket. The cookie response
//! (69 bytes) is never larger than the request, and it can only go to a configured peer's
//! address, so this is no amplifier.
//!
//! # How the endpoint calls it (wiring for `Endpoint::handle_init_request`)
//! ```text
//! // Endpoint gets a field `dos: ikev2::dos::Defences`, built in Endpoint::new with
//! //   Defences::new(DefenceConfig::default(), &mut *rng)   (before boxing rng away).
//! // In handle_init_request, after the header checks, after the retransmission lookup in
//! // `half_open` (retransmits of accepted requests are answered from the cache, no check) and
//! // after the `candidates` lookup (unknown sources get nothing), BEFORE decode_message:
//! let Some(init) = ikev2::dos::peek_ike_sa_init(datagram) else { return };
//! match self.dos.check_ike_sa_init(now, remote.ip(), h.spi_i, init.ni, init.cookie) {
//!     Verdict::Drop => return,
//!     Verdict::RequireCookie(c) => {
//!         // 28 + 8 + 33 = 69 bytes: never larger than the request (which holds SA, KE, Ni).
//!         let payload = ikev2::dos::cookie_response(h, &c);
//!         if payload.len() <= datagram.len() {
//!             self.transmits.push_back(Transmit { local, remote, payload });
//!         }
//!         return;
//!     }
//!     Verdict::Accept => {} // go on: decode_message, on_request (DH etc.)
//! }
//! // When on_request returns InitReply::NewSa: self.dos.half_open_opened(remote.ip()).
//! // When a responder SA leaves the half-open phase (established, failed, expired,
//! // removed: drop_sa / the phase change out of Authenticating): self.dos.half_open_closed(ip)
//! // exactly once per opened SA (the SA should remember that it was counted).
//! // The half-open expiry deadline of a responder SA: self.dos.half_open_timeout() (short
//! // while under attack).
//! // (Done: Endpoint::handle_init_request; ike_sa_init::cookie_required() is gone.)
//! ```
//! Counters for metrics are in [`Defences::stats`]; log at most a rate-limited summary, never
//! one line per dropped request.

mod cookie;
mod half_open;
mod rate_limit;

pub use cookie::{Cookie, CookieJar, COOKIE_LEN, DEFAULT_ROTATION};
pub use half_open::HalfOpenTracker;
pub use rate_limit::RateLimiter;

use crate::crypto::Random;
use crate::wire::{ExchangeType, Header, NotifyType, PayloadType};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Tunables of [`Defences`]; see the module documentation for the defaults' origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefenceConfig {
    /// Require cookies from everyone once this many SAs are half-open (strongSwan
    /// `cookie_threshold`, 30). Zero: always require cookies.
    pub cookie_threshold: u32,
    /// Require cookies from a source with this many half-open SAs (`cookie_threshold_ip`, 3).
    pub cookie_threshold_ip: u32,
    /// Drop requests from a source with this many half-open SAs (`block_threshold`, 5).
    pub block_threshold: u32,
    /// Never more than this many half-open SAs, cookies or not (256).
    pub max_half_open: u32,
    /// Half-open SA lifetime (`half_open_timeout`, 30 s).
    pub half_open_timeout: Duration,
    /// Half-open SA lifetime while cookies are required (5 s).
    pub half_open_timeout_under_attack: Duration,
    /// Token buckets per source: burst (10) and refill per second (5). Requests without a
    /// valid cookie over this budget are answered with a cookie; requests with a valid cookie
    /// have a bucket of their own and are dropped over it.
    pub rate_burst: u32,
    pub rate_per_sec: u32,
    /// Cookie secret rotation period (120 s).
    pub cookie_rotation: Duration,
}

impl Default for DefenceConfig {
    fn default() -> Self {
        DefenceConfig {
            cookie_threshold: 30,
            cookie_threshold_ip: 3,
            block_threshold: 5,
            max_half_open: 256,
            half_open_timeout: Duration::from_secs(30),
            half_open_timeout_under_attack: Duration::from_secs(5),
            rate_burst: 10,
            rate_per_sec: 5,
            cookie_rotation: DEFAULT_ROTATION,
        }
    }
}

/// What to do with a new IKE_SA_INIT request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the exchange (decode, select, DH, half-open SA).
    Accept,
    /// Answer statelessly with N(COOKIE) carrying this value ([`cookie_response`]).
    RequireCookie(Cookie),
    /// Send nothing, keep nothing.
    Drop,
}

/// Counters of the decisions taken (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefenceStats {
    pub accepted: u64,
    pub accepted_with_cookie: u64,
    pub cookies_sent: u64,
    pub bad_cookies: u64,
    /// Requests over a source's budget (without a valid cookie: answered with a cookie; with
    /// one: dropped).
    pub rate_limited: u64,
    pub blocked: u64,
    pub over_capacity: u64,
    /// Failures of unauthenticated IKE_SA_INIT requests (e.g. no acceptable proposal) that the
    /// endpoint did not report as `Event::Failed` (the peer has an established IKE SA, or the
    /// report was rate limited); see [`Defences::note_unreported_failure`].
    pub unreported_failures: u64,
}

/// The responder's IKE_SA_INIT gatekeeper; see the module documentation.
#[derive(Debug)]
pub struct Defences {
    cfg: DefenceConfig,
    jar: CookieJar,
    half_open: HalfOpenTracker,
    /// Requests without a valid cookie (spoofable).
    limiter: RateLimiter,
    /// Requests with a valid cookie (the source receives at its address).
    verified: RateLimiter,
    stats: DefenceStats,
}

impl Defences {
    /// Seeds the cookie secret and the rate limiter's hash keys from `rng`.
    pub fn new(cfg: DefenceConfig, rng: &mut dyn Random) -> Defences {
        let jar = CookieJar::new(rng, cfg.cookie_rotation);
        let limiter = RateLimiter::new(rng, cfg.rate_burst, cfg.rate_per_sec);
        let verified = RateLimiter::new(rng, cfg.rate_burst, cfg.rate_per_sec);
        Defences {
            cfg,
            jar,
            half_open: HalfOpenTracker::new(),
            limiter,
            verified,
            stats: DefenceStats::default(),
        }
    }

    pub fn config(&self) -> &DefenceConfig {
        &self.cfg
    }

    pub fn stats(&self) -> DefenceStats {
        self.stats
    }

    pub fn half_open(&self) -> &HalfOpenTracker {
        &self.half_open
    }

    /// The cookie jar (e.g. to reseed it).
    pub fn jar_mut(&mut self) -> &mut CookieJar {
        &mut self.jar
    }

    /// True while every new initiator must return a cookie.
    pub fn under_attack(&self) -> bool {
        self.half_open.total() >= self.cfg.cookie_threshold
    }

    /// How long a new half-open SA may wait for IKE_AUTH.
    pub fn half_open_timeout(&self) -> Duration {
        if self.under_attack() {
            self.cfg.half_open_timeout_under_attack
        } else {
            self.cfg.half_open_timeout
        }
    }

    /// A responder SA from `src` became half-open.
    pub fn half_open_opened(&mut self, src: IpAddr) {
        self.half_open.opened(src);
    }

    /// A half-open responder SA from `src` completed, failed or expired.
    pub fn half_open_closed(&mut self, src: IpAddr) {
        self.half_open.closed(src);
    }

    /// The endpoint did not report an unauthenticated IKE_SA_INIT failure (counted only).
    pub fn note_unreported_failure(&mut self) {
        self.stats.unreported_failures = self.stats.unreported_failures.saturating_add(1);
    }

    /// Decide about a new IKE_SA_INIT request from `src` with SPIi `spi_i`, nonce `ni` and the
    /// data of its N(COOKIE), if any. Cheap: no DH, no allocation, at most two HMACs.
    pub fn check_ike_sa_init(
        &mut self,
        now: Instant,
        src: IpAddr,
        spi_i: u64,
        ni: &[u8],
        cookie: Option<&[u8]>,
    ) -> Verdict {
        self.jar.tick(now);
        let from_src = self.half_open.from_source(src);
        if from_src >= self.cfg.block_threshold {
            self.stats.blocked = self.stats.blocked.saturating_add(1);
            return Verdict::Drop;
        }
        let at_capacity = self.half_open.total() >= self.cfg.max_half_open;
        let cookie_ok = cookie.is_some_and(|c| self.jar.verify(c, ni, src, spi_i));
        if cookie_ok {
            if at_capacity {
                self.stats.over_capacity = self.stats.over_capacity.saturating_add(1);
                return Verdict::Drop;
            }
            if !self.verified.allow(now, src) {
                self.stats.rate_limited = self.stats.rate_limited.saturating_add(1);
                return Verdict::Drop;
            }
            self.stats.accepted = self.stats.accepted.saturating_add(1);
            self.stats.accepted_with_cookie = self.stats.accepted_with_cookie.saturating_add(1);
            return Verdict::Accept;
        }
        let mut required = self.half_open.total() >= self.cfg.cookie_threshold
            || from_src >= self.cfg.cookie_threshold_ip;
        if !required && !at_capacity && !self.limiter.allow(now, src) {
            // Over budget: make the source prove it receives at its address (see the module
            // documentation for why this is not a drop).
            self.stats.rate_limited = self.stats.rate_limited.saturating_add(1);
            required = true;
        }
        if required {
            if cookie.is_some() {
                self.stats.bad_cookies = self.stats.bad_cookies.saturating_add(1);
            }
            self.stats.cookies_sent = self.stats.cookies_sent.saturating_add(1);
            return Verdict::RequireCookie(self.jar.make(ni, src, spi_i));
        }
        if at_capacity {
            self.stats.over_capacity = self.stats.over_capacity.saturating_add(1);
            return Verdict::Drop;
        }
        self.stats.accepted = self.stats.accepted.saturating_add(1);
        Verdict::Accept
    }
}

/// The parts of an IKE_SA_INIT request [`Defences::check_ike_sa_init`] needs, borrowed from
/// the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitPeek<'a> {
    pub header: Header,
    /// The Ni payload's data.
    pub ni: &'a [u8],
    /// The data of the first N(COOKIE), if present.
    pub cookie: Option<&'a [u8]>,
}

/// Walks the payload chain of an IKE_SA_INIT request without decoding (or allocating) it and
/// returns its nonce and cookie. None if the datagram is not a well-formed chain (the full
/// decoder runs later anyway), is not an IKE_SA_INIT request, or has no nonce.
pub fn peek_ike_sa_init(datagram: &[u8]) -> Option<InitPeek<'_>> {
    let header = crate::wire::decode_header(datagram).ok()?;
    if header.exchange != ExchangeType::IKE_SA_INIT
        || header.flags.response()
        || header.length as usize != datagram.len()
    {
        return None;
    }
    let mut rest = datagram.get(Header::LEN..)?;
    let mut next = header.next_payload;
    let (mut ni, mut cookie) = (None, None);
    let mut count = 0usize;
    while next != PayloadType::NONE {
        count = count.saturating_add(1);
        if count > crate::wire::MAX_PAYLOADS {
            return None;
        }
        // Generic payload header: next payload, critical bit, length (RFC 7296 3.2).
        let &[next_payload, _, len_hi, len_lo] = rest.first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if len < 4 {
            return None;
        }
        let body = rest.get(4..len)?;
        if next == PayloadType::NONCE && ni.is_none() {
            ni = Some(body);
        } else if next == PayloadType::NOTIFY && cookie.is_none() {
            // Protocol ID, SPI size, type, SPI, data (RFC 7296 3.10).
            let spi_size = usize::from(*body.get(1)?);
            let kind = u16::from_be_bytes([*body.get(2)?, *body.get(3)?]);
            if kind == NotifyType::COOKIE.0 {
                cookie = Some(body.get(spi_size.checked_add(4)?..)?);
            }
        }
        next = PayloadType(next_payload);
        rest = rest.get(len..)?;
    }
    if !rest.is_empty() {
        return None;
    }
    Some(InitPeek {
        header,
        ni: ni?,
        cookie,
    })
}

/// The stateless IKE_SA_INIT response carrying N(COOKIE) (RFC 7296 2.6): the request's header
/// with SPIr zero and the response flag, and one Notify payload. 69 bytes for our cookies.
pub fn cookie_response(request: &Header, cookie: &Cookie) -> Vec<u8> {
    // Our cookies have a fixed length, so both lengths are constants.
    const NOTIFY_LEN: usize = 8 + cookie::COOKIE_LEN;
    const TOTAL: usize = Header::LEN + NOTIFY_LEN;
    let (notify_len, total) = (NOTIFY_LEN, TOTAL);
    let data = cookie.as_bytes();
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(&request.spi_i.to_be_bytes());
    v.extend_from_slice(&0u64.to_be_bytes());
    v.push(PayloadType::NOTIFY.0);
    v.push(0x20);
    v.push(ExchangeType::IKE_SA_INIT.0);
    v.push(crate::wire::Flags::RESPONSE);
    v.extend_from_slice(&request.message_id.to_be_bytes());
    v.extend_from_slice(&(total as u32).to_be_bytes());
    v.push(PayloadType::NONE.0);
    v.push(0);
    v.extend_from_slice(&(notify_len as u16).to_be_bytes());
    v.push(0); // protocol ID: none
    v.push(0); // SPI size
    v.extend_from_slice(&NotifyType::COOKIE.0.to_be_bytes());
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests;
