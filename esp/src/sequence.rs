//! Sequence numbers: sender allocation with soft/hard limits (RFC 4303 section 3.3.3, the
//! counter never cycles) and receiver-side ESN high-bit inference (RFC 4303 appendix A2.2).

use core::sync::atomic::{AtomicU64, Ordering};

/// Last sequence number of a 32-bit SA.
pub const MAX_SEQ_32: u64 = u32::MAX as u64;
/// Last sequence number this crate sends on an ESN SA. 2^63 - 1 is never reached in practice
/// (centuries at line rate) and leaves the counter room so that refused calls cannot wrap it.
pub const MAX_SEQ_ESN: u64 = (1 << 63) - 1;

/// Hands out sequence numbers 1, 2, 3, ... atomically to concurrent senders.
#[derive(Debug)]
pub(crate) struct SeqCounter {
    next: AtomicU64,
    soft: u64,
    hard: u64,
}

/// A sequence number was allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocated {
    pub(crate) seq: u64,
    /// At or beyond the soft limit: 15/16 of the space.
    pub(crate) soft: bool,
}

/// Most numbers one block takes (a TUN read splits into at most 128 packets).
const MAX_BLOCK: u64 = 1024;

/// Sequence numbers taken for one batch of packets, handed out in order without touching the
/// shared counter ([`SeqCounter::allocate_block`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeqBlock {
    next: u64,
    end: u64,
    soft: u64,
}

impl SeqBlock {
    pub(crate) const EMPTY: SeqBlock = SeqBlock {
        next: 0,
        end: 0,
        soft: u64::MAX,
    };

    /// The next number of the block, None when it is used up.
    pub(crate) fn take(&mut self) -> Option<Allocated> {
        if self.next >= self.end {
            return None;
        }
        let seq = self.next;
        self.next = seq.saturating_add(1);
        Some(Allocated {
            seq,
            soft: seq >= self.soft,
        })
    }
}

impl SeqCounter {
    /// A counter whose next number is `next` (tests exercise the limits with it).
    pub(crate) fn starting_at(esn: bool, next: u64) -> Self {
        let hard = if esn { MAX_SEQ_ESN } else { MAX_SEQ_32 };
        Self {
            next: AtomicU64::new(next.max(1)),
            soft: hard.saturating_sub(hard >> 4),
            hard,
        }
    }

    /// Next number, or `None` once the hard limit is passed. A `fetch_add` per packet: no
    /// lock, and concurrent workers never get the same number.
    pub(crate) fn allocate(&self) -> Option<Allocated> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        if seq > self.hard || seq == 0 {
            // Keep the counter pinned past the limit so it can never come back around.
            self.next
                .store(self.hard.saturating_add(1), Ordering::Relaxed);
            return None;
        }
        Some(Allocated {
            seq,
            soft: seq >= self.soft,
        })
    }

    /// Up to `n` consecutive numbers with one `fetch_add` (a batch of packets sent by one
    /// worker), fewer if the hard limit comes first, an empty block once it is passed.
    /// Numbers of the block left unused are never sent: a gap, which the receiver's replay
    /// window takes as it takes loss (RFC 4303 3.4.3).
    pub(crate) fn allocate_block(&self, n: u64) -> SeqBlock {
        let n = n.min(MAX_BLOCK);
        if n == 0 {
            return SeqBlock::EMPTY;
        }
        let first = self.next.fetch_add(n, Ordering::Relaxed);
        if first > self.hard || first == 0 {
            self.next
                .store(self.hard.saturating_add(1), Ordering::Relaxed);
            return SeqBlock::EMPTY;
        }
        let past = self.hard.saturating_add(1);
        let end = first.saturating_add(n);
        if end > past {
            // The block reaches past the limit: it stops there, and so does the counter.
            self.next.store(past, Ordering::Relaxed);
        }
        let end = end.min(past);
        SeqBlock {
            next: first,
            end,
            soft: self.soft,
        }
    }

    /// The number the next call would try.
    pub(crate) fn peek(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

/// Infers the full 64-bit sequence number from its transmitted low 32 bits, relative to the
/// highest authenticated number `top` and window size `w` (RFC 4303 appendix A2.2).
/// `None` if the high half would overflow.
pub(crate) fn infer_esn(top: u64, seq_lo: u32, w: u32) -> Option<u64> {
    let tl = top as u32;
    let th = (top >> 32) as u32;
    let w = w.max(1);
    let bottom = tl.wrapping_sub(w).wrapping_add(1);
    let seq_hi = if tl >= w.saturating_sub(1) {
        // Case A: the window lies within one 2^32 subspace.
        if seq_lo >= bottom {
            th
        } else {
            th.checked_add(1)?
        }
    } else if seq_lo >= bottom {
        // Case B: the window spans two subspaces and seq_lo is in the lower one. Before
        // the first wrap (Th = 0) there is no lower subspace: the number is new.
        th.checked_sub(1).unwrap_or(th)
    } else {
        th
    };
    Some((u64::from(seq_hi) << 32) | u64::from(seq_lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_monotonic_and_stops() {
        let c = SeqCounter::starting_at(false, MAX_SEQ_32 - 1);
        assert_eq!(c.allocate().map(|a| a.seq), Some(MAX_SEQ_32 - 1));
        let last = c.allocate().unwrap();
        assert_eq!(last.seq, MAX_SEQ_32);
        assert!(last.soft);
        assert_eq!(c.allocate(), None);
        assert_eq!(c.allocate(), None);
        let c = SeqCounter::starting_at(false, 1);
        assert_eq!(
            c.allocate(),
            Some(Allocated {
                seq: 1,
                soft: false
            })
        );
        let c = SeqCounter::starting_at(true, MAX_SEQ_32);
        assert_eq!(c.allocate().map(|a| a.seq), Some(MAX_SEQ_32));
        assert_eq!(c.allocate().map(|a| a.seq), Some(MAX_SEQ_32 + 1));
        let c = SeqCounter::starting_at(true, MAX_SEQ_ESN);
        assert!(c.allocate().is_some());
        assert_eq!(c.allocate(), None);
    }

    #[test]
    fn blocks_are_disjoint_in_order_and_stop_at_the_limit() {
        let c = SeqCounter::starting_at(false, 1);
        let mut a = c.allocate_block(3);
        let one = c.allocate().unwrap();
        let mut b = c.allocate_block(2);
        assert_eq!(one.seq, 4);
        let taken: Vec<u64> = std::iter::from_fn(|| a.take().map(|x| x.seq)).collect();
        assert_eq!(taken, [1, 2, 3]);
        assert_eq!(b.take().map(|x| x.seq), Some(5));
        assert_eq!(c.allocate().map(|x| x.seq), Some(7));
        assert_eq!(b.take().map(|x| x.seq), Some(6));
        assert_eq!(b.take(), None);
        assert_eq!(c.allocate_block(0), SeqBlock::EMPTY);
        // A block that reaches past the last number is cut there, and nothing follows.
        let c = SeqCounter::starting_at(false, MAX_SEQ_32 - 1);
        let mut last = c.allocate_block(10);
        assert_eq!(last.take().map(|x| x.seq), Some(MAX_SEQ_32 - 1));
        let end = last.take().unwrap();
        assert_eq!((end.seq, end.soft), (MAX_SEQ_32, true));
        assert_eq!(last.take(), None);
        assert_eq!(c.allocate(), None);
        assert_eq!(c.allocate_block(1), SeqBlock::EMPTY);
        // The soft limit is per number within a block.
        let soft = MAX_SEQ_32 - (MAX_SEQ_32 >> 4);
        let c = SeqCounter::starting_at(false, soft - 1);
        let mut b = c.allocate_block(2);
        assert!(!b.take().unwrap().soft);
        assert!(b.take().unwrap().soft);
    }

    #[test]
    fn soft_limit_at_fifteen_sixteenths() {
        let soft = MAX_SEQ_32 - (MAX_SEQ_32 >> 4);
        let c = SeqCounter::starting_at(false, soft - 1);
        assert!(!c.allocate().unwrap().soft);
        assert!(c.allocate().unwrap().soft);
    }

    #[test]
    fn esn_inference_appendix_a() {
        let w = 64;
        // Case A, same subspace.
        assert_eq!(
            infer_esn(0x5_0000_1000, 0x0000_0ff0, w),
            Some(0x5_0000_0ff0)
        );
        assert_eq!(
            infer_esn(0x5_0000_1000, 0x0000_2000, w),
            Some(0x5_0000_2000)
        );
        // Case A, seq_lo below the window: it belongs to the next subspace.
        assert_eq!(
            infer_esn(0x5_8000_0000, 0x0000_0005, w),
            Some(0x6_0000_0005)
        );
        // Case B: top just wrapped; seq_lo near 2^32 belongs to the previous subspace.
        assert_eq!(
            infer_esn(0x6_0000_0010, 0xffff_fff0, w),
            Some(0x5_ffff_fff0)
        );
        assert_eq!(
            infer_esn(0x6_0000_0010, 0x0000_0020, w),
            Some(0x6_0000_0020)
        );
        // Start of the SA: no lower subspace exists.
        assert_eq!(infer_esn(0, 1, w), Some(1));
        assert_eq!(infer_esn(0, 0xffff_fff0, w), Some(0xffff_fff0));
        // Overflow of the high half.
        assert_eq!(infer_esn(u64::MAX - 5, 3, w), None);
    }
}
