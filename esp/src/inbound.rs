//! Inbound SA: in-place ESP decapsulation (RFC 4303 section 3.4) with anti-replay, usable by
//! several fast-path workers through `&self`.

use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::aes_cbc_hmac::BLOCK;
use crate::error::{DecapError, SaError};
use crate::lifetime::{Lifetime, Tally, Usage};
use crate::replay_window::{ReplayReject, ReplayWindow};
use crate::sa_cipher::{CryptoError, SaCipher};
use crate::sa_config::SaConfig;
use crate::sequence::infer_esn;
use crate::suite::Suite;
use crate::trailer::{parse_trailer, NextHeader};

/// IP version of a decapsulated inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnerProto {
    /// Next header 4.
    Ipv4,
    /// Next header 41.
    Ipv6,
}

/// What the packet carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An inner IP packet at `range` of the buffer passed to `decapsulate`.
    Inner {
        /// IP version, from the next header field.
        proto: InnerProto,
        /// The inner packet's position in the buffer.
        range: Range<usize>,
    },
    /// A dummy packet (next header 59, RFC 4303 section 2.6): authentic, to be dropped
    /// silently.
    Dummy,
}

/// Result of a successful [`InboundSa::decapsulate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapsulated {
    /// Full (inferred, with ESN) sequence number.
    pub seq: u64,
    /// The payload.
    pub payload: Payload,
    /// True for exactly one packet per SA: the first at or past a soft lifetime limit.
    pub rekey_signal: bool,
}

/// Snapshot of an inbound SA's counters: accepted traffic and one counter per drop reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundStats {
    /// Packets accepted (including dummies).
    pub packets: u64,
    /// Inner bytes accepted.
    pub bytes: u64,
    /// Dummy packets (next header 59) accepted and dropped.
    pub dummy: u64,
    /// [`DecapError::Truncated`].
    pub truncated: u64,
    /// [`DecapError::BadLength`].
    pub bad_length: u64,
    /// [`DecapError::SpiMismatch`].
    pub spi_mismatch: u64,
    /// [`DecapError::TooOld`].
    pub too_old: u64,
    /// [`DecapError::Replayed`].
    pub replayed: u64,
    /// [`DecapError::BadIcv`].
    pub bad_icv: u64,
    /// [`DecapError::BadPadding`].
    pub bad_padding: u64,
    /// [`DecapError::BadNextHeader`].
    pub bad_next_header: u64,
    /// [`DecapError::Expired`].
    pub expired: u64,
}

#[derive(Default)]
struct DropCounters {
    dummy: AtomicU64,
    truncated: AtomicU64,
    bad_length: AtomicU64,
    spi_mismatch: AtomicU64,
    too_old: AtomicU64,
    replayed: AtomicU64,
    bad_icv: AtomicU64,
    bad_padding: AtomicU64,
    bad_next_header: AtomicU64,
    expired: AtomicU64,
}

impl DropCounters {
    fn count(&self, e: DecapError) {
        let c = match e {
            DecapError::Truncated => &self.truncated,
            DecapError::BadLength => &self.bad_length,
            DecapError::SpiMismatch => &self.spi_mismatch,
            DecapError::TooOld => &self.too_old,
            DecapError::Replayed => &self.replayed,
            DecapError::BadIcv => &self.bad_icv,
            DecapError::BadPadding => &self.bad_padding,
            DecapError::BadNextHeader(_) => &self.bad_next_header,
            DecapError::Expired(_) => &self.expired,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The receiving side of an ESP SA. `Send + Sync`; see the crate docs for why the lock-free
/// replay window is sound when workers decapsulate concurrently.
pub struct InboundSa {
    spi: u32,
    esn: bool,
    lifetime: Lifetime,
    cipher: SaCipher,
    window: ReplayWindow,
    usage: Usage,
    rekey_requested: AtomicBool,
    drops: DropCounters,
}

fn replay_error(r: ReplayReject) -> DecapError {
    match r {
        ReplayReject::TooOld => DecapError::TooOld,
        ReplayReject::Replayed => DecapError::Replayed,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = at.checked_add(4).and_then(|e| b.get(at..e)) {
        w.copy_from_slice(s);
    }
    u32::from_be_bytes(w)
}

impl InboundSa {
    /// Creates the SA from KEYMAT in RFC 7296 section 2.17 order (encryption key incl. the
    /// GCM salt, then integrity key).
    pub fn new(config: &SaConfig, key_material: &[u8]) -> Result<Self, SaError> {
        config.validate(key_material)?;
        let cipher = SaCipher::new(config.suite, config.gcm_backend, key_material).ok_or(
            SaError::KeyMaterialLength {
                expected: config.suite.key_material_len(),
                got: key_material.len(),
            },
        )?;
        Ok(Self {
            spi: config.spi,
            esn: config.esn,
            lifetime: config.lifetime,
            cipher,
            window: ReplayWindow::new(config.replay_window),
            usage: Usage::default(),
            rekey_requested: AtomicBool::new(false),
            drops: DropCounters::default(),
        })
    }

    /// SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Suite.
    pub fn suite(&self) -> Suite {
        self.cipher.suite()
    }

    /// Anti-replay window size: how far out of order packets may be processed.
    pub fn replay_window(&self) -> u32 {
        self.window.size()
    }

    /// Highest authenticated sequence number received.
    pub fn highest_seq(&self) -> u64 {
        self.window.top()
    }

    /// Whether a soft limit has been reached (stays true).
    pub fn rekey_requested(&self) -> bool {
        self.rekey_requested.load(Ordering::Relaxed)
    }

    /// Counter snapshot.
    pub fn stats(&self) -> InboundStats {
        let d = &self.drops;
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        InboundStats {
            packets: self.usage.packets(),
            bytes: self.usage.bytes(),
            dummy: l(&d.dummy),
            truncated: l(&d.truncated),
            bad_length: l(&d.bad_length),
            spi_mismatch: l(&d.spi_mismatch),
            too_old: l(&d.too_old),
            replayed: l(&d.replayed),
            bad_icv: l(&d.bad_icv),
            bad_padding: l(&d.bad_padding),
            bad_next_header: l(&d.bad_next_header),
            expired: l(&d.expired),
        }
    }

    /// Decapsulates the ESP packet that is exactly `packet` (SPI .. ICV), in place. On
    /// success the inner packet lies at `payload`'s range of `packet`. Order of checks
    /// (RFC 4303 section 3.4): length, SPI, sequence number inference (appendix A2.2),
    /// replay pre-check, ICV (then decryption), replay window update, trailer.
    /// Never panics; on error the buffer content is unspecified.
    pub fn decapsulate(&self, packet: &mut [u8]) -> Result<Decapsulated, DecapError> {
        let mut tally = Tally::default();
        let r = self.decapsulate_tallied(packet, &mut tally);
        self.commit(&mut tally);
        r
    }

    /// [`InboundSa::decapsulate`] for a worker handling a batch: the packet is counted into
    /// `tally` (lifetimes checked against it and the SA's counters), which the worker
    /// [`InboundSa::commit`]s to this SA once per batch and before it sleeps.
    pub fn decapsulate_tallied(
        &self,
        packet: &mut [u8],
        tally: &mut Tally,
    ) -> Result<Decapsulated, DecapError> {
        let r = self.decapsulate_inner(packet, tally);
        match &r {
            Err(e) => self.drops.count(*e),
            Ok(Decapsulated {
                payload: Payload::Dummy,
                ..
            }) => {
                self.drops.dummy.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
        }
        r
    }

    /// Adds what `tally` counted (for this SA) to its statistics and empties it.
    pub fn commit(&self, tally: &mut Tally) {
        self.usage.commit(tally);
    }

    fn decapsulate_inner(
        &self,
        packet: &mut [u8],
        tally: &mut Tally,
    ) -> Result<Decapsulated, DecapError> {
        if let Some(kind) = self.usage.hard_expired(&self.lifetime, tally) {
            return Err(DecapError::Expired(kind));
        }
        let suite = self.cipher.suite();
        let head = suite.headroom();
        let icv = suite.icv_len();
        let ct_len = packet
            .len()
            .checked_sub(head)
            .and_then(|n| n.checked_sub(icv))
            .ok_or(DecapError::Truncated)?;
        match suite {
            // RFC 3602 section 3: whole blocks. GCM needs no alignment to decrypt, so
            // unaligned GCM packets (RFC 4303 section 2.4 asks for 4) are tolerated.
            Suite::AesCbc(..) => {
                if ct_len < BLOCK {
                    return Err(DecapError::Truncated);
                }
                if ct_len % BLOCK != 0 {
                    return Err(DecapError::BadLength);
                }
            }
            Suite::AesGcm16(_) => {
                if ct_len < 2 {
                    return Err(DecapError::Truncated);
                }
            }
        }
        if be32(packet, 0) != self.spi {
            return Err(DecapError::SpiMismatch);
        }
        let seq_lo = be32(packet, 4);
        let seq = if self.esn {
            infer_esn(self.window.top(), seq_lo, self.window.size()).ok_or(DecapError::TooOld)?
        } else {
            u64::from(seq_lo)
        };
        self.window.check(seq).map_err(replay_error)?;
        self.cipher
            .open(packet, seq, self.esn)
            .map_err(|e| match e {
                CryptoError::BadIcv => DecapError::BadIcv,
                CryptoError::Layout => DecapError::Truncated,
            })?;
        self.window.update(seq).map_err(replay_error)?;

        let plain_end = head.wrapping_add(ct_len);
        let plain = packet.get(head..plain_end).ok_or(DecapError::Truncated)?;
        let (inner_len, nh) = parse_trailer(plain)?;
        let payload = match NextHeader::from_value(nh) {
            Some(NextHeader::Ipv4) => Payload::Inner {
                proto: InnerProto::Ipv4,
                range: head..head.wrapping_add(inner_len),
            },
            Some(NextHeader::Ipv6) => Payload::Inner {
                proto: InnerProto::Ipv6,
                range: head..head.wrapping_add(inner_len),
            },
            Some(NextHeader::NoNextHeader) => Payload::Dummy,
            None => return Err(DecapError::BadNextHeader(nh)),
        };
        let soft = self
            .usage
            .tally(&self.lifetime, tally, inner_len as u64)
            .map_err(DecapError::Expired)?;
        let rekey_signal = soft
            && !self.rekey_requested.load(Ordering::Relaxed)
            && !self.rekey_requested.swap(true, Ordering::Relaxed);
        Ok(Decapsulated {
            seq,
            payload,
            rekey_signal,
        })
    }
}

impl fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("suite", &self.suite())
            .field("esn", &self.esn)
            .field("window", &self.window)
            .field("stats", &self.stats())
            .field("keys", &"<redacted>")
            .finish()
    }
}
