//! Whose turn it is to read a TUN queue: its outbound worker, or the inbound worker that
//! writes the queue's other direction.
//!
//! A TCP stream arriving through the tunnel is written to one bulk queue of the TUN, and the
//! receiving host's ACKs come back out of that same queue (the kernel's flow table, see
//! `dataplane::flow_queue`). They are produced within the inbound worker's write, so the
//! outbound worker that would send them wakes for each: thousands of cross-vCPU wake-ups per
//! second, each costing more than the ACK's encryption. While a queue carries only such small
//! packets and the inbound worker keeps writing to it, the outbound worker *parks*: it stops
//! watching the queue and only looks at it now and then
//! ([`super::reply_watch::PARKED_LOOK`], as a latency queue's worker does); the inbound worker
//! reads and sends what its writes produced, and watches the queue while it sleeps. When bulk
//! data shows up in the queue, or the parked look finds packets that nobody sent, the queue
//! goes back to its outbound worker.
//!
//! Order inside a queue is kept by the *turn*: a thread holds it from its first read of the
//! queue until the datagrams it read are sent, and only one thread holds it at a time. The
//! latency queue (queue 0), which the inbound worker also reads for answers, uses the turn
//! too; only bulk queues park.

use super::poll::Waker;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The inbound worker counts as writing to the queue if it did so this recently.
pub const ACTIVE_WITHIN: Duration = Duration::from_millis(1);
/// Consecutive reads of only small packets after which an outbound worker may park.
pub const PARK_AFTER: u32 = 16;
/// A packet of a TUN read up to this size (a TCP ACK, a ping) counts as small.
pub const SMALL_PACKET: usize = 256;

/// The turn-taking state of one TUN queue (see the module documentation).
#[derive(Debug)]
pub struct QueueTurn {
    /// A thread is between reading this queue and sending what it read.
    held: AtomicBool,
    /// The outbound worker does not watch the queue: the inbound worker serves it.
    parked: AtomicBool,
    /// Nanoseconds since [`clock`]'s epoch of the inbound worker's last write to the queue.
    wrote_ns: AtomicU64,
    /// Ends a parked outbound worker's sleep.
    unpark: Waker,
}

/// Holding the turn of a queue: released on drop.
#[derive(Debug)]
pub struct Turn<'a>(&'a QueueTurn);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
    }
}

fn clock() -> &'static Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    u64::try_from(clock().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl QueueTurn {
    pub fn new() -> io::Result<Self> {
        clock();
        Ok(Self {
            held: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            wrote_ns: AtomicU64::new(0),
            unpark: Waker::new()?,
        })
    }

    /// The turn, if no other thread holds it.
    pub fn try_take(&self) -> Option<Turn<'_>> {
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Turn(self))
    }

    /// The turn, yielding the CPU while another thread finishes its (short) turn.
    pub fn take(&self) -> Turn<'_> {
        let mut tries = 0u32;
        loop {
            if let Some(t) = self.try_take() {
                return t;
            }
            wait_for_holder(&mut tries);
        }
    }

    /// The inbound worker wrote to the queue.
    pub fn wrote(&self) {
        self.wrote_ns.store(now_ns(), Ordering::Relaxed);
    }

    /// Whether the inbound worker wrote to the queue within [`ACTIVE_WITHIN`].
    pub fn writer_active(&self) -> bool {
        let w = self.wrote_ns.load(Ordering::Relaxed);
        w != 0 && now_ns().saturating_sub(w) < ACTIVE_WITHIN.as_nanos() as u64
    }

    /// Outbound worker: stop watching the queue. Afterwards it must read the queue once more
    /// (what a write produced before the inbound worker saw the flag is its to send), and
    /// make a sleeping inbound worker gather the queue (`ReplyWatch::release`).
    pub fn park(&self) {
        self.unpark.reset();
        self.parked.store(true, Ordering::SeqCst);
    }

    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// Gives the queue back to its outbound worker and wakes it (no-op if it is not parked).
    pub fn unpark(&self) {
        // (A plain load first: the outbound worker calls this after every read of bulk data,
        // and the queue is almost never parked then.)
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            // A failed wake-up only delays the hand-back to the next look.
            let _ = self.unpark.wake();
        }
    }

    /// Readable while an unpark is pending: what a parked outbound worker sleeps on.
    pub fn unpark_fd(&self) -> BorrowedFd<'_> {
        self.unpark.as_fd()
    }
}

/// Yields after a failed `try_take`; after [`YIELDS_BEFORE_SLEEP`] of them, sleeps briefly.
/// A `SCHED_FIFO` worker's yield lets only threads of its own priority run on its vCPU: a
/// holder that is not one of them (a worker dropped back to `SCHED_OTHER` by
/// `platform::realtime`) gets the vCPU only once the waiter sleeps.
pub fn wait_for_holder(tries: &mut u32) {
    *tries = tries.wrapping_add(1);
    if *tries % YIELDS_BEFORE_SLEEP == 0 {
        std::thread::sleep(Duration::from_micros(50));
    } else {
        std::thread::yield_now();
    }
}

/// Yields before [`wait_for_holder`] sleeps (a turn lasts a few microseconds).
const YIELDS_BEFORE_SLEEP: u32 = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::poll;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn one_turn_at_a_time() {
        let q = QueueTurn::new().unwrap();
        let t = q.try_take().expect("free");
        assert!(q.try_take().is_none());
        drop(t);
        assert!(q.try_take().is_some());
    }

    #[test]
    fn take_waits_for_the_holder_and_turns_never_overlap() {
        let q = Arc::new(QueueTurn::new().unwrap());
        let inside = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (q, inside, overlaps) = (q.clone(), inside.clone(), overlaps.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let _t = q.take();
                        if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn unpark_wakes_a_parked_sleeper_once() {
        let q = Arc::new(QueueTurn::new().unwrap());
        q.park();
        assert!(q.is_parked());
        let q2 = q.clone();
        let sleeper = std::thread::spawn(move || {
            let r = poll::wait_readable(&[q2.unpark_fd()], None, Some(Duration::from_secs(10)))
                .unwrap();
            r.is_ready(0)
        });
        std::thread::sleep(Duration::from_millis(20));
        q.unpark();
        assert!(sleeper.join().unwrap(), "the unpark ended the sleep");
        assert!(!q.is_parked());
        // Parking again drains the old wake-up: the next sleep lasts until its timeout.
        q.park();
        let r =
            poll::wait_readable(&[q.unpark_fd()], None, Some(Duration::from_millis(20))).unwrap();
        assert!(r.timed_out());
        // Unparking a queue that is not parked sends no wake-up.
        q.unpark();
        q.unpark();
        q.park();
        let r = poll::wait_readable(&[q.unpark_fd()], None, Some(Duration::ZERO)).unwrap();
        assert!(r.timed_out());
    }

    #[test]
    fn the_writer_counts_as_active_briefly() {
        let q = QueueTurn::new().unwrap();
        assert!(!q.writer_active(), "never wrote");
        // (Retried: a loaded machine may stop this thread between the two calls.)
        assert!((0..100).any(|_| {
            q.wrote();
            q.writer_active()
        }));
        std::thread::sleep(ACTIVE_WITHIN + Duration::from_millis(2));
        assert!(!q.writer_active());
    }
}
