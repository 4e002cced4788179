//! Outbound SA: in-place ESP encapsulation (RFC 4303 section 3.3), shareable by several
//! fast-path workers through `&self`.

use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{EncapError, SaError};
use crate::lifetime::{Lifetime, Tally, Usage};
use crate::sa_cipher::SaCipher;
use crate::sa_config::SaConfig;
use crate::sequence::{SeqBlock, SeqCounter};
use crate::suite::{Suite, ESP_HEADER_LEN};
use crate::trailer::{write_trailer, NextHeader};

/// Result of a successful [`OutboundSa::encapsulate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulated {
    /// Where the ESP packet (SPI .. ICV) now lies in the buffer.
    pub esp: Range<usize>,
    /// Sequence number used.
    pub seq: u64,
    /// True for exactly one packet per SA: the first one at or past a soft limit (lifetime
    /// or 15/16 of the sequence space). The control plane should start a rekey.
    pub rekey_signal: bool,
}

/// Snapshot of an outbound SA's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundStats {
    /// Packets encapsulated.
    pub packets: u64,
    /// Inner bytes encapsulated.
    pub bytes: u64,
    /// Refused: sequence numbers exhausted.
    pub seq_exhausted: u64,
    /// Refused: hard lifetime reached.
    pub expired: u64,
}

/// Sequence numbers and usage of a batch of packets one worker encapsulates
/// ([`OutboundSa::batch`]); committed to its SA with [`OutboundSa::commit`].
#[derive(Debug)]
#[must_use = "a batch's packets count only once committed to its SA"]
pub struct OutboundBatch {
    seq: SeqBlock,
    tally: Tally,
}

/// The sending side of an ESP SA. `Send + Sync`: sequence numbers come from one atomic
/// `fetch_add`, counters are atomics; no lock and no allocation per packet.
pub struct OutboundSa {
    spi: u32,
    esn: bool,
    lifetime: Lifetime,
    cipher: SaCipher,
    seq: SeqCounter,
    usage: Usage,
    rekey_requested: AtomicBool,
    seq_exhausted: AtomicU64,
    expired: AtomicU64,
}

impl OutboundSa {
    /// Creates the SA from KEYMAT in RFC 7296 section 2.17 order (encryption key incl. the
    /// GCM salt, then integrity key), `config.suite.key_material_len()` bytes.
    pub fn new(config: &SaConfig, key_material: &[u8]) -> Result<Self, SaError> {
        Self::with_first_seq(config, key_material, 1)
    }

    /// As [`Self::new`], starting at sequence number `first` (for tests of the limits).
    #[doc(hidden)]
    pub fn with_first_seq(
        config: &SaConfig,
        key_material: &[u8],
        first: u64,
    ) -> Result<Self, SaError> {
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
            seq: SeqCounter::starting_at(config.esn, first),
            usage: Usage::default(),
            rekey_requested: AtomicBool::new(false),
            seq_exhausted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
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

    /// Whether ESN is in use.
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// Whether a soft limit has been reached (stays true).
    pub fn rekey_requested(&self) -> bool {
        self.rekey_requested.load(Ordering::Relaxed)
    }

    /// The sequence number the next packet will try to use.
    pub fn next_seq(&self) -> u64 {
        self.seq.peek()
    }

    /// Counter snapshot.
    pub fn stats(&self) -> OutboundStats {
        OutboundStats {
            packets: self.usage.packets(),
            bytes: self.usage.bytes(),
            seq_exhausted: self.seq_exhausted.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }

    /// Encapsulates the inner packet at `buf[inner]` in place (RFC 4303 section 3.3): writes
    /// SPI, sequence number and IV into the `suite().headroom()` bytes in front of it, padding,
    /// pad length, next header and ICV into the `suite().tailroom(len)` bytes behind it, and
    /// encrypts. Returns where the ESP packet lies.
    pub fn encapsulate(
        &self,
        buf: &mut [u8],
        inner: Range<usize>,
        next_header: NextHeader,
    ) -> Result<Encapsulated, EncapError> {
        let mut batch = OutboundBatch {
            seq: SeqBlock::EMPTY,
            tally: Tally::default(),
        };
        let r = self.encapsulate_batched(&mut batch, buf, inner, next_header);
        self.commit(batch);
        r
    }

    /// Takes `packets` sequence numbers at once for a batch of packets one worker is about
    /// to encapsulate with [`OutboundSa::encapsulate_batched`] (one `fetch_add` instead of
    /// one per packet). Numbers the batch does not use are never sent (a gap the receiver
    /// takes as loss); packets beyond them take numbers one at a time.
    pub fn batch(&self, packets: usize) -> OutboundBatch {
        OutboundBatch {
            seq: self.seq.allocate_block(packets as u64),
            tally: Tally::default(),
        }
    }

    /// Adds what `batch` counted to this SA's statistics.
    pub fn commit(&self, mut batch: OutboundBatch) {
        self.usage.commit(&mut batch.tally);
    }

    /// [`OutboundSa::encapsulate`] within a batch from [`OutboundSa::batch`]: the sequence
    /// number comes from the batch's block, the packet is counted in its tally (lifetimes
    /// checked against it and the SA's counters).
    pub fn encapsulate_batched(
        &self,
        batch: &mut OutboundBatch,
        buf: &mut [u8],
        inner: Range<usize>,
        next_header: NextHeader,
    ) -> Result<Encapsulated, EncapError> {
        let suite = self.cipher.suite();
        let Range { start, end } = inner;
        if start > end || end > buf.len() {
            return Err(EncapError::BadRange);
        }
        let inner_len = end.wrapping_sub(start);
        let head = suite.headroom();
        let esp_start = start.checked_sub(head).ok_or(EncapError::NoHeadroom {
            needed: head,
            available: start,
        })?;
        let tail = suite.tailroom(inner_len);
        let esp_end =
            end.checked_add(tail)
                .filter(|&e| e <= buf.len())
                .ok_or(EncapError::NoTailroom {
                    needed: tail,
                    available: buf.len().wrapping_sub(end),
                })?;

        let len64 = inner_len as u64;
        let mut tally = batch.tally;
        let soft_life = self
            .usage
            .tally(&self.lifetime, &mut tally, len64)
            .map_err(|k| {
                self.expired.fetch_add(1, Ordering::Relaxed);
                EncapError::Expired(k)
            })?;
        let Some(alloc) = batch.seq.take().or_else(|| self.seq.allocate()) else {
            self.seq_exhausted.fetch_add(1, Ordering::Relaxed);
            return Err(EncapError::SequenceExhausted);
        };
        batch.tally = tally;

        let pkt = buf
            .get_mut(esp_start..esp_end)
            .ok_or(EncapError::BadRange)?;
        let trailer_end = pkt.len().wrapping_sub(suite.icv_len());
        let trailer = pkt
            .get_mut(end.wrapping_sub(esp_start)..trailer_end)
            .ok_or(EncapError::BadRange)?;
        write_trailer(trailer, next_header.value());
        self.write_header_and_seal(pkt, alloc.seq)?;

        let rekey_signal = (soft_life || alloc.soft)
            && !self.rekey_requested.load(Ordering::Relaxed)
            && !self.rekey_requested.swap(true, Ordering::Relaxed);
        Ok(Encapsulated {
            esp: esp_start..esp_end,
            seq: alloc.seq,
            rekey_signal,
        })
    }

    /// Writes SPI and the low 32 sequence number bits (RFC 4303 section 2.2.1: only those are
    /// transmitted) in front of the IV, then writes the IV, encrypts and writes the ICV.
    fn write_header_and_seal(&self, pkt: &mut [u8], seq: u64) -> Result<(), EncapError> {
        let header = pkt.get_mut(..ESP_HEADER_LEN).ok_or(EncapError::BadRange)?;
        let (spi, seq_lo) = header.split_at_mut(4);
        spi.copy_from_slice(&self.spi.to_be_bytes());
        seq_lo.copy_from_slice(&(seq as u32).to_be_bytes());
        self.cipher
            .seal(pkt, seq, self.esn)
            .map_err(|_| EncapError::Cipher)
    }

    /// Test and fuzzing hook, not for sending: seals `buf[plaintext]` as the *complete* ESP
    /// plaintext (payload, padding, pad length and next header, whatever their values) with
    /// the next sequence number, writing SPI, sequence number and IV into the
    /// `suite().headroom()` bytes in front of it and the ICV into the `suite().icv_len()`
    /// bytes behind it. It lets tests reach the receiver's post-ICV trailer checks (RFC 4303
    /// section 3.4.4.1 and 2.4) with authentic but malformed packets. CBC suites need a whole
    /// number of blocks (RFC 3602 section 3), else [`EncapError::BadRange`] and no sequence
    /// number is used. Lifetime counters are not touched.
    #[doc(hidden)]
    pub fn seal_plaintext(
        &self,
        buf: &mut [u8],
        plaintext: Range<usize>,
    ) -> Result<Encapsulated, EncapError> {
        let suite = self.cipher.suite();
        let Range { start, end } = plaintext;
        if start > end || end > buf.len() {
            return Err(EncapError::BadRange);
        }
        if let Suite::AesCbc(..) = suite {
            if end.wrapping_sub(start) % crate::aes_cbc_hmac::BLOCK != 0 {
                return Err(EncapError::BadRange);
            }
        }
        let esp_start = start
            .checked_sub(suite.headroom())
            .ok_or(EncapError::NoHeadroom {
                needed: suite.headroom(),
                available: start,
            })?;
        let esp_end = end
            .checked_add(suite.icv_len())
            .filter(|&e| e <= buf.len())
            .ok_or(EncapError::NoTailroom {
                needed: suite.icv_len(),
                available: buf.len().wrapping_sub(end),
            })?;
        let alloc = self.seq.allocate().ok_or(EncapError::SequenceExhausted)?;
        let pkt = buf
            .get_mut(esp_start..esp_end)
            .ok_or(EncapError::BadRange)?;
        self.write_header_and_seal(pkt, alloc.seq)?;
        Ok(Encapsulated {
            esp: esp_start..esp_end,
            seq: alloc.seq,
            rekey_signal: false,
        })
    }
}

impl fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("suite", &self.suite())
            .field("esn", &self.esn)
            .field("next_seq", &self.next_seq())
            .field("stats", &self.stats())
            .field("keys", &"<redacted>")
            .finish()
    }
}
