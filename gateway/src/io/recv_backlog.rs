//! The inbound worker's read-ahead: ESP datagrams read from the UDP 4500 socket but not yet
//! decrypted.
//!
//! Under a saturating stream the slowest stage of the path is decryption, so a standing queue
//! forms in front of it. In the kernel's socket queue it is a FIFO: a ping, a TCP ACK of a
//! reverse flow or a Kerberos request waits behind milliseconds of bulk data. Reading ahead
//! moves that queue here, where the worker can take the small datagrams first (see
//! `daemon::fast_path`) and the bulk ones in arrival order.
//!
//! Slots (receive batches) are allocated on first use and kept while they are needed; after
//! a burst (or a flood) [`RecvBacklog::trim`] gives back those the last period did not use,
//! and once a period passes without a backlog it also gives back the pages the kept slots
//! were written to (a flood of 64 KiB GRO trains would otherwise leave them resident).

use super::udp::UdpRecvBatch;
use std::collections::VecDeque;

/// One receive batch and how far it has been processed.
pub struct Slot {
    pub rb: UdpRecvBatch,
    /// Next message to process in order.
    next: usize,
    /// Messages already handled out of order (bit per message; batches hold at most 64).
    done: u64,
    /// GRO trains whose last datagram, a shorter one the kernel joined to the train's end, was
    /// already handled out of order (bit per message).
    tails: u64,
    /// Last datagrams decrypted ahead of their turn but to be written in order, as
    /// (message, plaintext start, end, SPI).
    early: Vec<(usize, usize, usize, u32)>,
    /// Received into since its pages were last given back.
    touched: bool,
}

impl Slot {
    /// Records that the last datagram of message `m` was decrypted early; its plaintext is at
    /// `start..end` and is written in its turn.
    pub fn set_early(&mut self, m: usize, start: usize, end: usize, spi: u32) {
        self.early.push((m, start, end, spi));
    }

    /// The early decryption of message `m`'s last datagram, if any.
    pub fn take_early(&mut self, m: usize) -> Option<(usize, usize, u32)> {
        let k = self.early.iter().position(|e| e.0 == m)?;
        let (_, start, end, spi) = self.early.swap_remove(k);
        Some((start, end, spi))
    }

    /// Records that the last datagram of message `m` was handled out of order: the in-order
    /// pass skips it. (A whole message handled out of order is [`RecvBacklog::mark_done`].)
    pub fn take_tail(&mut self, m: usize) {
        if m < 64 {
            self.tails |= 1 << m;
        }
    }

    /// Whether the last datagram of message `m` was handled out of order.
    pub fn tail_taken(&self, m: usize) -> bool {
        m < 64 && self.tails & (1 << m) != 0
    }

    /// Datagrams of message `m` the in-order pass still has to handle (one kept by
    /// [`Self::set_early`] counts: it is written in its turn).
    fn waiting_in(&self, m: usize) -> usize {
        if m < 64 && self.done & (1 << m) != 0 {
            return 0;
        }
        self.rb
            .message_size(m)
            .1
            .saturating_sub(usize::from(self.tail_taken(m)))
    }

    fn reset(&mut self) {
        self.next = 0;
        self.done = 0;
        self.tails = 0;
        self.early.clear();
    }
}

/// What one [`RecvBacklog::trim`] gave back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Slots freed (their mappings unmapped).
    pub freed: usize,
    /// Kept slots whose written pages went back to the kernel.
    pub released: usize,
}

/// Received batches in arrival order, plus free ones to receive into.
pub struct RecvBacklog {
    slots: Vec<Slot>,
    queue: VecDeque<usize>,
    free: Vec<usize>,
    /// Datagrams queued and not yet processed.
    datagrams: usize,
    max_slots: usize,
    max_datagrams: usize,
    messages_per_slot: usize,
    buf_size: usize,
    /// Most slots queued at once since the last [`Self::trim`].
    high_water: usize,
}

impl RecvBacklog {
    /// At most `max_slots` batches of `messages_per_slot` (<= 64) buffers of `buf_size`
    /// bytes; no new batch is read while `max_datagrams` are waiting.
    pub fn new(
        max_slots: usize,
        max_datagrams: usize,
        messages_per_slot: usize,
        buf_size: usize,
    ) -> Self {
        Self {
            slots: Vec::new(),
            queue: VecDeque::new(),
            free: Vec::new(),
            datagrams: 0,
            max_slots: max_slots.max(1),
            max_datagrams: max_datagrams.max(1),
            messages_per_slot: messages_per_slot.clamp(1, 64),
            buf_size,
            high_water: 0,
        }
    }

    /// Slots allocated (queued or free).
    pub fn allocated(&self) -> usize {
        self.slots.len()
    }

    /// With nothing queued, frees the slots beyond `keep` or beyond what was queued at once
    /// since the last trim, whichever is more (call it about once a second: a steady load
    /// keeps its slots, a burst's go afterwards). If no more than one slot was queued at once
    /// in that period (no backlog formed), the kept slots received into since their last
    /// release also give their pages back: the next receives fault in only what they write.
    pub fn trim(&mut self, keep: usize) -> Trimmed {
        if !self.queue.is_empty() {
            return Trimmed::default();
        }
        let quiet = self.high_water <= 1;
        let target = keep.max(self.high_water).max(1);
        self.high_water = 0;
        let mut t = Trimmed::default();
        if self.slots.len() > target {
            t.freed = self.slots.len() - target;
            self.slots.truncate(target);
            self.free.retain(|&i| i < target);
        }
        if quiet {
            for s in self.slots.iter_mut().filter(|s| s.touched) {
                s.touched = false;
                s.reset();
                if s.rb.release() {
                    t.released += 1;
                }
            }
        }
        t
    }

    /// Datagrams waiting.
    pub fn datagrams(&self) -> usize {
        self.datagrams
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A slot to receive into, if there is room; it joins the queue with [`Self::commit`].
    pub fn vacant(&mut self) -> Option<usize> {
        if self.datagrams >= self.max_datagrams {
            return None;
        }
        if let Some(&i) = self.free.last() {
            return Some(i);
        }
        if self.slots.len() >= self.max_slots {
            return None;
        }
        self.slots.push(Slot {
            rb: UdpRecvBatch::new(self.messages_per_slot, self.buf_size),
            next: 0,
            done: 0,
            tails: 0,
            early: Vec::with_capacity(self.messages_per_slot),
            touched: false,
        });
        self.free.push(self.slots.len() - 1);
        Some(self.slots.len() - 1)
    }

    pub fn slot_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.slots.get_mut(i)
    }

    /// Datagrams of slot `i` before message `m` that are still waiting.
    pub fn waiting_before(&self, i: usize, m: usize) -> usize {
        let Some(s) = self.slots.get(i) else {
            return 0;
        };
        (s.next..m).map(|k| s.waiting_in(k)).sum()
    }

    /// Marks message `m` of the vacant slot `i` as handled already (before [`Self::commit`]).
    pub fn mark_done(&mut self, i: usize, m: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if m < 64 {
                s.done |= 1 << m;
            }
        }
    }

    /// Queues the vacant slot `i` after a successful receive into it.
    pub fn commit(&mut self, i: usize) {
        if self.free.last() != Some(&i) {
            return;
        }
        self.free.pop();
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        s.touched = true;
        s.next = 0;
        let waiting: usize = (0..s.rb.messages()).map(|k| s.waiting_in(k)).sum();
        if waiting == 0 {
            s.reset();
            self.free.push(i);
            return;
        }
        self.datagrams += waiting;
        self.queue.push_back(i);
        self.high_water = self.high_water.max(self.queue.len());
    }

    /// The oldest message not yet handled, as (slot, message). It must be processed before
    /// the next [`Self::vacant`]/[`Self::commit`], which may reuse the slot.
    pub fn pop_front(&mut self) -> Option<(usize, usize)> {
        while let Some(&i) = self.queue.front() {
            let s = self.slots.get_mut(i)?;
            while s.next < s.rb.messages() && s.next < 64 && s.done & (1 << s.next) != 0 {
                s.next += 1;
            }
            if s.next < s.rb.messages() {
                let m = s.next;
                s.next += 1;
                self.datagrams = self.datagrams.saturating_sub(s.waiting_in(m));
                return Some((i, m));
            }
            s.reset();
            self.queue.pop_front();
            self.free.push(i);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::udp::UdpBatchSocket;
    use std::net::UdpSocket;

    /// Sends `sizes` from a plain socket to `rx` and reads one batch into a vacant slot.
    fn receive(b: &mut RecvBacklog, rx: &UdpBatchSocket, sizes: &[usize]) -> usize {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for (n, &len) in sizes.iter().enumerate() {
            let mut d = vec![0u8; len];
            d[0] = n as u8;
            tx.send_to(&d, rx.local_addr()).unwrap();
        }
        let i = b.vacant().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let s = b.slot_mut(i).unwrap();
            match rx.recv_batch(&mut s.rb) {
                Ok(n) if n > 0 => return i,
                _ if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                r => panic!("nothing received: {r:?}"),
            }
        }
    }

    fn first_byte(b: &mut RecvBacklog, (i, m): (usize, usize)) -> u8 {
        let s = b.slot_mut(i).unwrap();
        s.rb.message_mut(m).next().unwrap().data[0]
    }

    #[test]
    fn in_order_with_out_of_order_messages_skipped() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = RecvBacklog::new(4, 1000, 8, 2048);
        // Increasing sizes: consecutive datagrams are never one GRO train.
        let i = receive(&mut b, &rx, &[60, 900, 950, 1000]);
        assert_eq!(b.slot_mut(i).unwrap().rb.messages(), 4);
        assert_eq!(b.waiting_before(i, 3), 3);
        // Messages 0 and 2 were handled at once.
        b.mark_done(i, 0);
        b.mark_done(i, 2);
        assert_eq!(b.waiting_before(i, 3), 1);
        b.commit(i);
        assert_eq!(b.datagrams(), 2);
        let mut order = Vec::new();
        while let Some(p) = b.pop_front() {
            order.push(first_byte(&mut b, p));
        }
        assert_eq!(order, vec![1, 3]);
        assert!(b.is_empty());
        assert_eq!(b.datagrams(), 0);
        // The slot went back to the free list and is reused.
        assert_eq!(b.vacant(), Some(i));
    }

    /// A GRO train whose shorter last datagram (a ping joined to bulk data) was handled out
    /// of order: the in-order pass counts and gets only the train's other datagrams.
    #[test]
    fn a_train_with_its_tail_taken_waits_without_it() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let tx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = RecvBacklog::new(4, 1000, 8, crate::io::udp::GRO_BUFFER_BYTES);
        // Three 1000-byte datagrams and a 100-byte one, one GSO send: one GRO train.
        let payload: Vec<u8> = (0..3100).map(|k| (k / 1000) as u8).collect();
        tx.send_segments(rx.local_addr(), &payload, 1000).unwrap();
        let i = b.vacant().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !matches!(rx.recv_batch(&mut b.slot_mut(i).unwrap().rb), Ok(n) if n > 0) {
            assert!(std::time::Instant::now() < deadline, "nothing received");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let s = b.slot_mut(i).unwrap();
        assert_eq!(s.rb.messages(), 1, "one train");
        assert_eq!(s.rb.message_size(0), (3100, 4));
        assert_eq!(s.rb.message_mut(0).last().unwrap().data, &[3u8; 100][..]);
        assert!(!s.tail_taken(0));
        s.take_tail(0);
        assert!(s.tail_taken(0));
        assert_eq!(b.waiting_before(i, 1), 3);
        b.commit(i);
        assert_eq!(b.datagrams(), 3);
        assert_eq!(b.pop_front(), Some((i, 0)));
        assert_eq!(b.datagrams(), 0);
        assert_eq!(b.pop_front(), None);
        // The slot is free again, its marks cleared.
        assert_eq!(b.vacant(), Some(i));
        assert!(!b.slot_mut(i).unwrap().tail_taken(0));
    }

    /// A single datagram decrypted early still waits for its turn (it is written then).
    #[test]
    fn an_early_datagram_keeps_its_place() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = RecvBacklog::new(4, 1000, 8, 2048);
        let i = receive(&mut b, &rx, &[60, 900]);
        b.slot_mut(i).unwrap().set_early(0, 8, 60, 7);
        b.commit(i);
        assert_eq!(b.datagrams(), 2);
        assert_eq!(b.pop_front(), Some((i, 0)));
        assert_eq!(b.slot_mut(i).unwrap().take_early(0), Some((8, 60, 7)));
        assert_eq!(b.datagrams(), 1);
    }

    #[test]
    fn a_fully_handled_batch_is_not_queued_and_room_is_bounded() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = RecvBacklog::new(2, 3, 8, 2048);
        let i = receive(&mut b, &rx, &[50]);
        b.mark_done(i, 0);
        b.commit(i);
        assert!(b.is_empty());
        assert_eq!(b.pop_front(), None);
        // Two slots at most.
        let a = receive(&mut b, &rx, &[100]);
        b.commit(a);
        let c = receive(&mut b, &rx, &[100]);
        b.commit(c);
        assert_ne!(a, c);
        assert_eq!(b.vacant(), None, "both slots are queued");
        assert_eq!(b.pop_front().map(|p| p.0), Some(a));
        assert_eq!(b.pop_front().map(|p| p.0), Some(c));
        assert_eq!(b.pop_front(), None);
        assert!(b.vacant().is_some());
        // A datagram cap below the slot cap.
        let mut b = RecvBacklog::new(8, 1, 8, 2048);
        let a = receive(&mut b, &rx, &[100]);
        b.commit(a);
        assert_eq!(b.vacant(), None, "one datagram waiting is the cap");
    }

    /// A burst that queued many slots: they stay while a steady load needs them and go at
    /// the trim after the load stopped; nothing is freed while anything is queued.
    #[test]
    fn slots_of_a_burst_are_given_back() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut b = RecvBacklog::new(16, 1000, 8, 2048);
        let mut queued = Vec::new();
        for _ in 0..6 {
            let i = receive(&mut b, &rx, &[100]);
            b.commit(i);
            queued.push(i);
        }
        assert_eq!(b.allocated(), 6);
        assert_eq!(
            b.trim(2),
            Trimmed::default(),
            "nothing goes while datagrams are queued"
        );
        while b.pop_front().is_some() {}
        assert!(b.is_empty());
        // The period that just ended queued 6 slots at once: they are kept, pages and all.
        assert_eq!(b.trim(2), Trimmed::default());
        assert_eq!(b.allocated(), 6);
        // A quiet period: down to `keep`, the free list only names live slots, and the two
        // kept (written to by the burst) give their pages back.
        assert_eq!(
            b.trim(2),
            Trimmed {
                freed: 4,
                released: 2
            }
        );
        assert_eq!(b.allocated(), 2);
        // Nothing received since: nothing more to give back.
        assert_eq!(b.trim(2), Trimmed::default());
        for _ in 0..2 {
            let i = receive(&mut b, &rx, &[100]);
            assert!(i < 2);
            b.commit(i);
        }
        // Room for more again: new slots are allocated as needed.
        let i = receive(&mut b, &rx, &[100]);
        assert_eq!(i, 2);
        b.commit(i);
        assert_eq!(b.allocated(), 3);
    }
}
