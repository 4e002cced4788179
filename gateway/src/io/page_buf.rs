//! Packet memory in whole pages: a zeroed buffer in its own anonymous mapping, whose pages can
//! also be handed back to the kernel while the buffer is kept.
//!
//! The fast path's buffers are sized for the largest packet (64 KiB GRO trains and TSO
//! super-packets) but mostly carry 1.5 KiB ones. In a mapping, pages nothing wrote to cost no
//! memory, and dropping the buffer returns all of it at once. From the heap, the same buffer
//! would cost a page for malloc's chunk header even unused, and after it is freed its pages
//! would stay resident until malloc's trim heuristics return them, if ever.
//!
//! Every page once written stays resident for as long as the mapping lives, though: a
//! read-ahead slot kept after a flood of GRO trains would hold megabytes of stale datagrams.
//! [`PageBuf::release`] drops them (`MADV_DONTNEED`) and keeps the mapping for the next use.

use std::ops::{Deref, DerefMut};

const LINE: usize = 64;
const PAGE: usize = 4096;
/// Bytes a buffer's start is moved by per [`PageBuf::colored`] color: five cache lines, so
/// 64 consecutive colors land on 64 distinct line offsets within a page (5 and 64 are
/// coprime). Batches laid out in one mapping space their parts by this too.
pub const COLOR_STEP: usize = 5 * LINE;

/// A zeroed buffer of pages of its own (or from the heap if mapping failed).
pub struct PageBuf {
    mem: Mem,
    start: usize,
    len: usize,
}

enum Mem {
    Mapped(memmap2::MmapMut),
    Heap(Box<[u8]>),
}

impl PageBuf {
    /// `len` zeroed bytes starting at the mapping's first byte.
    pub fn new(len: usize) -> Self {
        Self::at(len, 0)
    }

    /// `len` zeroed bytes starting `color` cache-line steps into the mapping's first page.
    ///
    /// Mappings start on a page boundary, so the packets of a batch of page-aligned buffers
    /// would all start at the same offset within a page and fall into the same few sets of
    /// the L1 cache (its set index is the address modulo 4 KiB): 128 small packets handled in
    /// a batch would evict each other. Giving each buffer of a batch its own color spreads
    /// them over 64 cache-line offsets, as malloc's chunk headers happened to.
    pub fn colored(len: usize, color: usize) -> Self {
        Self::at(len, color.wrapping_mul(COLOR_STEP) % PAGE)
    }

    fn at(len: usize, start: usize) -> Self {
        let total = (start + len).max(1);
        let mem = match memmap2::MmapMut::map_anon(total) {
            Ok(m) => Mem::Mapped(m),
            Err(_) => Mem::Heap(vec![0u8; total].into_boxed_slice()),
        };
        Self { mem, start, len }
    }

    /// Gives the pages back to the kernel; the buffer then reads as zeros until written.
    /// Returns false for a heap buffer (nothing to give back) or if `madvise` failed.
    pub fn release(&mut self) -> bool {
        match &mut self.mem {
            // SAFETY: `&mut self` proves no other reference into the mapping exists, so no
            // view observes the contents turning to zeros (the reason memmap2 calls this
            // advice unchecked). The mapping is private and anonymous: MADV_DONTNEED only
            // drops its pages, which later reads see as zero-filled; nothing here reads the
            // old contents again, since a receive writes each buffer before it is read.
            Mem::Mapped(m) => {
                unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) }.is_ok()
            }
            Mem::Heap(_) => false,
        }
    }
}

impl Deref for PageBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.mem {
            Mem::Mapped(m) => m,
            Mem::Heap(b) => b,
        };
        &all[self.start..self.start + self.len]
    }
}

impl DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let all: &mut [u8] = match &mut self.mem {
            Mem::Mapped(m) => m,
            Mem::Heap(b) => b,
        };
        &mut all[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Released pages read as zeros and the buffer stays usable; resident memory goes (the
    /// mapping's RSS, from /proc/self/smaps, drops by what was written).
    #[test]
    fn released_pages_read_as_zeros_and_leave_rss() {
        let len = 4 << 20;
        let mut b = PageBuf::new(len);
        assert!(matches!(b.mem, Mem::Mapped(_)));
        b.fill(0xa5);
        let addr = b.as_ptr() as usize;
        let before = mapping_rss_kib(addr).expect("mapping in smaps");
        assert!(before >= 4096, "written: {before} KiB resident");
        assert!(b.release());
        let after = mapping_rss_kib(addr).expect("mapping in smaps");
        assert!(after < 64, "after release: {after} KiB resident");
        assert!(b.iter().all(|&x| x == 0));
        b[0] = 7;
        assert_eq!(b[0], 7);
        assert_eq!(b.len(), len);
    }

    /// A batch's buffers start at different cache-line offsets within a page, and each is
    /// exactly as long as asked.
    #[test]
    fn colored_buffers_spread_over_cache_line_offsets() {
        let bufs: Vec<PageBuf> = (0..64).map(|i| PageBuf::colored(65_791, i)).collect();
        let mut offsets: Vec<usize> = bufs.iter().map(|b| b.as_ptr() as usize % 4096).collect();
        assert!(bufs.iter().all(|b| b.len() == 65_791));
        assert!(offsets.iter().all(|o| o % 64 == 0));
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), 64, "64 buffers, 64 distinct line offsets");
    }

    /// RSS of the mapping containing `addr`, in KiB.
    fn mapping_rss_kib(addr: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((lo, hi)) = range.split_once('-') {
                    if let (Ok(lo), Ok(hi)) =
                        (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                    {
                        inside = (lo..hi).contains(&addr);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("Rss:") {
                    return v.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }
}
