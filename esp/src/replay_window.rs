//! Lock-free anti-replay window (RFC 4303 section 3.4.3 and appendix A; ring-of-blocks
//! bitmap as in RFC 6479).
//!
//! The window accepts sequence number `s` iff `s > top - W` (`top` = highest authenticated
//! number, `W` = window size) and `s` was not accepted before. As in RFC 6479 the bitmap is a
//! ring of blocks; here each ring slot is one `AtomicU64` holding a 16-bit bitmap (for 16
//! consecutive numbers) and a 48-bit tag naming the block it currently describes. A slot
//! whose tag is older than the block being marked is stale and replaced in the same
//! compare-and-swap, so the ring is "cleared" lazily, atomically per block, with no lock and
//! no separate clearing pass that could race with concurrent markers.
//!
//! Soundness: with `N = ceil(W / 16) + 1` slots (so `16 N >= W + 15`), a slot's stale block lies entirely at
//! or below `s - W` when block `s >> 4` replaces it, i.e. outside the window once `s` is
//! accepted; a slot whose tag is *newer* than `s`'s block proves `s <= top - W` (too old).
//! Tags only move forward, so a number marked once can never be marked again: concurrent
//! `update` calls for one number have exactly one winner. 48-bit tags compared by wrapping
//! difference can only misjudge a slot untouched for 2^47 blocks, and then only as "too
//! old" (a drop), never as an acceptance.

use core::sync::atomic::{AtomicU64, Ordering};

/// Smallest configurable window size.
pub const MIN_REPLAY_WINDOW: u32 = 64;
/// Largest configurable window size.
pub const MAX_REPLAY_WINDOW: u32 = 4096;
/// Default window size.
pub const DEFAULT_REPLAY_WINDOW: u32 = 1024;

const BLOCK_SHIFT: u32 = 4;
const BLOCK_BITS: u64 = 1 << BLOCK_SHIFT;
const TAG_BITS: u32 = 48;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// Why the window rejects a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayReject {
    /// Left of the window (or zero, which is never sent: RFC 4303 section 3.3.3).
    TooOld,
    /// Already accepted.
    Replayed,
}

/// A sliding anti-replay window usable through `&self` from several threads.
pub struct ReplayWindow {
    size: u64,
    top: AtomicU64,
    slots: Box<[AtomicU64]>,
}

enum SlotState {
    Same(u16),
    Older,
    Newer,
}

impl ReplayWindow {
    /// A window of `size` numbers (clamped to `MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW`).
    pub fn new(size: u32) -> Self {
        let size = size.clamp(MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW);
        let n = (size as usize)
            .div_ceil(BLOCK_BITS as usize)
            .saturating_add(1);
        let slots = (0..n).map(|_| AtomicU64::new(0)).collect();
        Self {
            size: u64::from(size),
            top: AtomicU64::new(0),
            slots,
        }
    }

    /// Window size.
    pub fn size(&self) -> u32 {
        u32::try_from(self.size).unwrap_or(MAX_REPLAY_WINDOW)
    }

    /// Highest sequence number accepted so far (0 before the first).
    pub fn top(&self) -> u64 {
        self.top.load(Ordering::Acquire)
    }

    fn slot(&self, seq: u64) -> (&AtomicU64, u64, u16) {
        let block = seq >> BLOCK_SHIFT;
        let n = self.slots.len() as u64;
        let idx = block.checked_rem(n).unwrap_or(0);
        let bit = 1u16 << (seq & (BLOCK_BITS - 1));
        // `slots` is never empty and `idx < len`; `first()` keeps the fallback panic-free.
        let slot = self
            .slots
            .get(idx as usize)
            .or_else(|| self.slots.first())
            .unwrap_or(&ZERO_SLOT);
        (slot, block & TAG_MASK, bit)
    }

    fn classify(word: u64, tag: u64) -> SlotState {
        let stored = word >> 16;
        let diff = stored.wrapping_sub(tag) & TAG_MASK;
        if diff == 0 {
            SlotState::Same(word as u16)
        } else if diff < (1 << (TAG_BITS - 1)) {
            SlotState::Newer
        } else {
            SlotState::Older
        }
    }

    fn outside(&self, seq: u64, top: u64) -> bool {
        seq == 0 || seq.saturating_add(self.size) <= top
    }

    /// Pre-check before the ICV is verified (RFC 4303 section 3.4.3): read-only.
    pub fn check(&self, seq: u64) -> Result<(), ReplayReject> {
        if self.outside(seq, self.top()) {
            return Err(ReplayReject::TooOld);
        }
        let (slot, tag, bit) = self.slot(seq);
        match Self::classify(slot.load(Ordering::Acquire), tag) {
            SlotState::Same(bits) if bits & bit != 0 => Err(ReplayReject::Replayed),
            SlotState::Newer => Err(ReplayReject::TooOld),
            _ => Ok(()),
        }
    }

    /// Marks `seq` as received after its ICV verified, advancing the window if it is the new
    /// highest. Exactly one of several concurrent calls for the same number succeeds.
    pub fn update(&self, seq: u64) -> Result<(), ReplayReject> {
        if self.outside(seq, self.top()) {
            return Err(ReplayReject::TooOld);
        }
        let (slot, tag, bit) = self.slot(seq);
        let mut current = slot.load(Ordering::Acquire);
        loop {
            let next = match Self::classify(current, tag) {
                SlotState::Same(bits) if bits & bit != 0 => return Err(ReplayReject::Replayed),
                SlotState::Same(bits) => (tag << 16) | u64::from(bits | bit),
                SlotState::Older => (tag << 16) | u64::from(bit),
                SlotState::Newer => return Err(ReplayReject::TooOld),
            };
            match slot.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.top.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }
}

static ZERO_SLOT: AtomicU64 = AtomicU64::new(0);

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size)
            .field("top", &self.top())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn accept(w: &ReplayWindow, s: u64) -> Result<(), ReplayReject> {
        w.check(s)?;
        w.update(s)
    }

    #[test]
    fn in_order_reorder_and_replay() {
        let w = ReplayWindow::new(64);
        assert_eq!(accept(&w, 0), Err(ReplayReject::TooOld));
        for s in 1..=100 {
            assert_eq!(accept(&w, s), Ok(()));
        }
        assert_eq!(accept(&w, 100), Err(ReplayReject::Replayed));
        assert_eq!(accept(&w, 37), Err(ReplayReject::Replayed));
        assert_eq!(accept(&w, 36), Err(ReplayReject::TooOld));
        // Skip ahead, then fill the gap out of order: each accepted once.
        assert_eq!(accept(&w, 150), Ok(()));
        assert_eq!(accept(&w, 120), Ok(()));
        assert_eq!(accept(&w, 120), Err(ReplayReject::Replayed));
        assert_eq!(accept(&w, 87), Err(ReplayReject::Replayed));
        assert_eq!(accept(&w, 101), Ok(()));
        assert_eq!(accept(&w, 86), Err(ReplayReject::TooOld));
        assert_eq!(w.top(), 150);
    }

    #[test]
    fn huge_jump_clears_everything() {
        let w = ReplayWindow::new(1024);
        for s in 1..=2000 {
            accept(&w, s).unwrap();
        }
        accept(&w, 1 << 40).unwrap();
        assert_eq!(accept(&w, (1 << 40) - 1023), Ok(()));
        assert_eq!(accept(&w, (1 << 40) - 1024), Err(ReplayReject::TooOld));
        assert_eq!(accept(&w, 2000), Err(ReplayReject::TooOld));
    }

    #[test]
    fn concurrent_duplicates_accepted_exactly_once() {
        // Four threads offer every number of 1..=20_000, each in a different order inside
        // chunks of 1024, meeting at a barrier after each chunk. While any thread works on a
        // chunk, `top` is at most the chunk's end, so no number of the chunk can fall out of
        // the 4096 window: each number must be accepted by exactly one thread and rejected
        // as `Replayed` by the three others. A double acceptance or a lost number fails.
        const N: u64 = 20_000;
        const CHUNK: u64 = 1024;
        const THREADS: usize = 4;
        let w = ReplayWindow::new(4096);
        let barrier = std::sync::Barrier::new(THREADS);
        let per_thread: Vec<(Vec<u64>, u64)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (w, barrier) = (&w, &barrier);
                    s.spawn(move || {
                        let mut accepted = Vec::new();
                        let mut replayed = 0u64;
                        let mut lo = 1;
                        while lo <= N {
                            let hi = (lo + CHUNK - 1).min(N);
                            let len = hi - lo + 1;
                            for i in 0..len {
                                // Ascending, descending, and strides 7 and 13, which are
                                // coprime to the chunk lengths (1024 and 544): permutations.
                                let seq = match t {
                                    0 => lo + i,
                                    1 => hi - i,
                                    2 => lo + (i * 7) % len,
                                    _ => lo + (i * 13 + 5) % len,
                                };
                                match accept(w, seq) {
                                    Ok(()) => accepted.push(seq),
                                    Err(ReplayReject::Replayed) => replayed += 1,
                                    Err(ReplayReject::TooOld) => panic!("{seq} too old"),
                                }
                            }
                            barrier.wait();
                            lo = hi + 1;
                        }
                        (accepted, replayed)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut times = vec![0u32; N as usize + 1];
        let mut offered = 0u64;
        for (accepted, replayed) in &per_thread {
            offered += accepted.len() as u64 + replayed;
            for &s in accepted {
                times[s as usize] += 1;
            }
        }
        let total: u64 = per_thread.iter().map(|p| p.0.len() as u64).sum();
        assert_eq!(total, N, "exactly one acceptance per number");
        for (s, &n) in times.iter().enumerate().skip(1) {
            assert_eq!(n, 1, "sequence number {s} accepted {n} times");
        }
        assert_eq!(offered, 4 * N);
        assert_eq!(w.top(), N);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Sequential behaviour equals the RFC 4303 rule: accept iff `s > top - W`,
        /// `s != 0` and never accepted before.
        #[test]
        fn matches_model(
            size in 64u32..=4096,
            ops in proptest::collection::vec((0u64..6000, any::<bool>()), 1..400),
        ) {
            let w = ReplayWindow::new(size);
            let mut seen = HashSet::new();
            let mut top = 0u64;
            for (s, jump) in ops {
                let s = if jump { s.saturating_mul(7) } else { s };
                let model_ok = s != 0 && s + u64::from(size) > top && !seen.contains(&s);
                let got = accept(&w, s);
                prop_assert_eq!(got.is_ok(), model_ok, "seq {} top {}", s, top);
                if model_ok {
                    seen.insert(s);
                    top = top.max(s);
                } else if s != 0 && s + u64::from(size) > top {
                    prop_assert_eq!(got, Err(ReplayReject::Replayed));
                } else {
                    prop_assert_eq!(got, Err(ReplayReject::TooOld));
                }
            }
            prop_assert_eq!(w.top(), top);
        }
    }
}
