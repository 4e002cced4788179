//! Waiting for an answer that is about to arrive: spin for a moment instead of sleeping.
//!
//! A fast-path thread that sleeps in `poll(2)` on an idle vCPU is woken by an inter-processor
//! interrupt, which in a VM without guest halt-polling goes through the hypervisor: 40-90 µs
//! here, once per hop of a round trip. When an outbound worker has just sent a request on the
//! latency queue (a ping, a DNS or Kerberos request), the answer comes back through the inbound
//! worker of the same socket a round trip later. [`ReplyWatch::expect`] tells that worker so;
//! if it is asleep, a nudge wakes it now, in parallel with the round trip, and it then polls its
//! socket without sleeping (yielding the CPU to anything runnable) until the answer is there
//! or the spin time has passed.
//!
//! Only sparse traffic is served this way: requests at least [`SPARSE`] apart, to a receiver
//! that slept at least that long before. Under load a spinning thread would do harm: the
//! scheduler places woken threads on idle vCPUs, and a spinning vCPU is never idle, so the
//! other threads (the peer's workers, the hosts' stacks) would queue behind each other. (Tried:
//! spinning after every latency-queue send doubled the ping p50 under a TCP stream.)

use super::poll::{self, Readiness, Waker};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Requests closer together than this, or a receiver that slept less than this, count as load.
pub const SPARSE: Duration = Duration::from_millis(1);
/// How often a latency queue's outbound worker looks at its queue while the receiver reads it.
pub const PARKED_LOOK: Duration = Duration::from_millis(2);

/// Shared by the senders on one socket and the worker receiving on it.
#[derive(Debug)]
pub struct ReplyWatch {
    epoch: Instant,
    spin_ns: u64,
    /// Nanoseconds since `epoch` until which the receiver should not sleep.
    until_ns: AtomicU64,
    /// The receiver is (about to be) blocked in `poll`.
    sleeping: AtomicBool,
    /// The sleeping receiver would spin for an answer (its `wait` was called with `spin`);
    /// one that would not (at `SCHED_FIFO`) is woken by the answer itself, not nudged.
    sleeper_spins: AtomicBool,
    /// When [`ReplyWatch::expect`] was last called.
    last_expect_ns: AtomicU64,
    /// The receiver's last sleep lasted at least [`SPARSE`].
    quiet: AtomicBool,
    /// The last two requests were less than [`SPARSE`] apart.
    dense: AtomicBool,
    /// When the receiver last returned from a sleep.
    woke_at_ns: AtomicU64,
    /// Bumped by [`ReplyWatch::release`]: descriptors gathered before it must not be slept on.
    generation: AtomicU64,
    /// Latency-queue workers asleep without watching their queues, because the receiver does
    /// ([`ReplyWatch::sleep_while_receiver_watches`]).
    delegated: AtomicUsize,
    nudge: Waker,
    /// Nudges sent, and waits that ended in the spin with the socket readable.
    nudges: AtomicU64,
    caught: AtomicU64,
}

impl ReplyWatch {
    /// `spin` is how long the receiver stays awake after a request left; zero turns it off.
    pub fn new(spin: Duration) -> io::Result<Self> {
        Ok(Self {
            epoch: Instant::now(),
            spin_ns: u64::try_from(spin.as_nanos()).unwrap_or(u64::MAX),
            until_ns: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            sleeper_spins: AtomicBool::new(true),
            last_expect_ns: AtomicU64::new(0),
            quiet: AtomicBool::new(true),
            dense: AtomicBool::new(false),
            woke_at_ns: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            delegated: AtomicUsize::new(0),
            nudge: Waker::new()?,
            nudges: AtomicU64::new(0),
            caught: AtomicU64::new(0),
        })
    }

    pub fn spin(&self) -> Duration {
        Duration::from_nanos(self.spin_ns)
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// A request left: an answer is expected within the spin time.
    pub fn expect(&self) {
        if self.spin_ns == 0 {
            return;
        }
        let now = self.now_ns();
        let previous = self.last_expect_ns.swap(now, Ordering::Relaxed);
        // (`previous` is 0 before the first request.)
        let dense = previous != 0 && now.saturating_sub(previous) < SPARSE.as_nanos() as u64;
        if self.dense.load(Ordering::Relaxed) != dense {
            self.dense.store(dense, Ordering::Relaxed);
        }
        if dense || !self.quiet.load(Ordering::Relaxed) {
            // A stream of requests, or a receiver kept busy: it is awake anyway, or spinning
            // would take a vCPU the others need.
            return;
        }
        let until = now.saturating_add(self.spin_ns);
        // SeqCst pairs with `wait`: either it sees the new deadline after announcing that it
        // sleeps, or this sees `sleeping` and nudges it.
        self.until_ns.fetch_max(until, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) && self.sleeper_spins.load(Ordering::SeqCst) {
            self.nudges.fetch_add(1, Ordering::Relaxed);
            // A failed nudge only costs the wake-up it was meant to save.
            let _ = self.nudge.wake();
        }
    }

    /// Whether [`ReplyWatch::wait`] would spin now (an answer is awaited).
    pub fn spinning(&self) -> bool {
        self.now_ns() < self.until_ns.load(Ordering::SeqCst)
    }

    /// Read before gathering the descriptors passed to [`ReplyWatch::wait`] as `also`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes the receiver let go of the descriptors it sleeps on (a tunnel's TUN queue that is
    /// being closed and may be reopened by name): a wait that gathered them returns at once.
    pub fn release(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            let _ = self.nudge.wake();
        }
    }

    /// Whether the receiver reads the latency queues itself (it sleeps on them, or woke from
    /// such a sleep less than [`SPARSE`] ago): their outbound workers need not wake for each
    /// request and only look now and then ([`PARKED_LOOK`]). False under load, and at once
    /// when the receiver stays busy.
    pub fn receiver_watches(&self) -> bool {
        self.watching_now()
            && (self.sleeping.load(Ordering::SeqCst) || {
                // (0: it has not slept yet.)
                let woke = self.woke_at_ns.load(Ordering::Relaxed);
                woke != 0 && self.now_ns().saturating_sub(woke) < SPARSE.as_nanos() as u64
            })
    }

    /// For a latency queue's outbound worker with nothing to send: if the receiver reads the
    /// latency queues itself ([`ReplyWatch::receiver_watches`]), sleeps up to `look` without
    /// watching the queue and returns how the sleep ended; otherwise returns `None` at once, and
    /// the caller sleeps on its queue as usual.
    ///
    /// While such a worker sleeps, every sleep of the receiver covers the latency queues, also
    /// once its traffic is no longer sparse: a request arriving then would otherwise wait for
    /// the look (measured: up to 2-3 ms for a ping under a stream through the same socket).
    pub fn sleep_while_receiver_watches(
        &self,
        shutdown: &Waker,
        look: Duration,
    ) -> Option<io::Result<Readiness>> {
        // SeqCst pairs with `wait`: either the receiver sees this count after announcing that
        // it sleeps, or `receiver_watches` sees it sleeping with the queues it covers then.
        self.delegated.fetch_add(1, Ordering::SeqCst);
        let slept = self
            .receiver_watches()
            .then(|| poll::wait_readable(&[], Some(shutdown), Some(look)));
        self.delegated.fetch_sub(1, Ordering::SeqCst);
        slept
    }

    /// Sparse traffic: the receiver's next sleep covers the latency queues.
    fn watching_now(&self) -> bool {
        self.spin_ns > 0
            && self.quiet.load(Ordering::Relaxed)
            && !self.dense.load(Ordering::Relaxed)
    }

    /// (nudges sent, waits that ended during a spin because the socket became readable).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.nudges.load(Ordering::Relaxed),
            self.caught.load(Ordering::Relaxed),
        )
    }

    /// Waits until `fd` is readable, `shutdown` fires or `idle` passes, like
    /// [`poll::wait_readable`], but without sleeping while an answer is expected. A sleep also
    /// ends when one of the first `always` of `also` becomes readable, and while the traffic
    /// is sparse or a latency-queue worker relies on this receiver
    /// ([`ReplyWatch::sleep_while_receiver_watches`]), when any of `also` does (bit `1 + i` of
    /// the result for `also[i]`; bit 0 is `fd`). `generation` is what
    /// [`ReplyWatch::generation`] said before `also` was gathered. A nudge ends the wait
    /// (timed out), so that the caller gathers `also` afresh and calls again.
    ///
    /// With `spin == false` it sleeps even while an answer is expected: for a receiver at
    /// `SCHED_FIFO` (a loaded gateway, `platform::realtime`), which is woken within
    /// microseconds anyway, while a spin would have to run at `SCHED_OTHER` (a real-time spin
    /// keeps every other program off its vCPU) and its yields hand the vCPU to the busy
    /// threads for their whole slice: the answer then waited 1-2 ms in the socket
    /// (docs/fast-path.md).
    #[allow(clippy::too_many_arguments)]
    pub fn wait(
        &self,
        fd: BorrowedFd<'_>,
        also: &[BorrowedFd<'_>],
        always: usize,
        generation: u64,
        shutdown: &Waker,
        idle: Duration,
        spin: bool,
    ) -> io::Result<Readiness> {
        loop {
            if spin && self.now_ns() < self.until_ns.load(Ordering::SeqCst) {
                let r = poll::wait_readable(&[fd], Some(shutdown), Some(Duration::ZERO))?;
                if !r.timed_out() {
                    if r.ready != 0 {
                        self.caught.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(r);
                }
                // Whatever else wants this vCPU (the peer's worker, the host's stack) runs first.
                std::thread::yield_now();
                continue;
            }
            self.sleeper_spins.store(spin, Ordering::SeqCst);
            self.sleeping.store(true, Ordering::SeqCst);
            if self.generation.load(Ordering::SeqCst) != generation {
                // `release` ran after `also` was gathered.
                self.sleeping.store(false, Ordering::SeqCst);
                return Ok(Readiness::default());
            }
            if spin && self.now_ns() < self.until_ns.load(Ordering::SeqCst) {
                // `expect` ran between the check above and the announcement.
                self.sleeping.store(false, Ordering::SeqCst);
                continue;
            }
            let mut fds = [fd; poll::MAX_POLL_FDS];
            fds[1] = self.nudge.as_fd();
            let extra = if self.watching_now() || self.delegated.load(Ordering::SeqCst) > 0 {
                also.len()
            } else {
                always.min(also.len())
            }
            .min(poll::MAX_POLL_FDS - 2);
            fds[2..2 + extra].copy_from_slice(&also[..extra]);
            let slept_from = Instant::now();
            let r = poll::wait_readable(&fds[..2 + extra], Some(shutdown), Some(idle));
            self.woke_at_ns.store(self.now_ns(), Ordering::Relaxed);
            self.sleeping.store(false, Ordering::SeqCst);
            self.quiet
                .store(slept_from.elapsed() >= SPARSE, Ordering::Relaxed);
            let r = r?;
            let nudged = r.is_ready(1);
            if nudged {
                self.nudge.reset();
            }
            return Ok(Readiness {
                ready: (r.ready & 1) | ((r.ready >> 2) << 1),
                woken: r.woken,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Arc;

    /// `wait` with no parked queues and generation 0 (nothing released since).
    fn wait_on(
        w: &ReplyWatch,
        fd: BorrowedFd<'_>,
        also: &[BorrowedFd<'_>],
        shutdown: &Waker,
        timeout: Duration,
    ) -> Readiness {
        w.wait(fd, also, 0, 0, shutdown, timeout, true).unwrap()
    }

    /// `wait` of a receiver that must not spin (at `SCHED_FIFO`), on `fd` alone.
    fn wait_no_spin(
        w: &ReplyWatch,
        fd: BorrowedFd<'_>,
        shutdown: &Waker,
        timeout: Duration,
    ) -> Readiness {
        w.wait(fd, &[], 0, 0, shutdown, timeout, false).unwrap()
    }

    #[test]
    fn sleeps_without_expectation_and_times_out() {
        let w = ReplyWatch::new(Duration::from_millis(50)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (_a, b) = UnixDatagram::pair().unwrap();
        let t = Instant::now();
        let r = wait_on(&w, b.as_fd(), &[], &shutdown, Duration::from_millis(30));
        assert!(r.timed_out());
        assert!(t.elapsed() >= Duration::from_millis(25));
        assert_eq!(w.counts(), (0, 0));
    }

    #[test]
    fn a_receiver_that_must_not_spin_sleeps_while_an_answer_is_expected() {
        let w = ReplyWatch::new(Duration::from_millis(200)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (a, b) = UnixDatagram::pair().unwrap();
        w.expect();
        assert!(w.spinning());
        let t = Instant::now();
        let r = wait_no_spin(&w, b.as_fd(), &shutdown, Duration::from_millis(20));
        assert!(r.timed_out(), "{r:?}");
        let slept = t.elapsed();
        assert!(
            slept >= Duration::from_millis(20) && slept < Duration::from_millis(150),
            "slept for its idle time, no 200 ms spin first: {slept:?}"
        );
        assert!(
            w.spinning(),
            "the expectation stays for a receiver that may spin"
        );
        // A request sent while it sleeps (sparse: the last one was 20 ms ago) does not nudge
        // it, and the answer wakes it from that sleep.
        let r2 = std::thread::scope(|sc| {
            let waiter =
                sc.spawn(|| wait_no_spin(&w, b.as_fd(), &shutdown, Duration::from_secs(5)));
            std::thread::sleep(Duration::from_millis(20));
            w.expect();
            std::thread::sleep(Duration::from_millis(20));
            a.send(b"answer").unwrap();
            waiter.join().unwrap()
        });
        assert!(
            r2.is_ready(0),
            "woken by the answer, not by a nudge: {r2:?}"
        );
        assert_eq!(w.counts(), (0, 0), "no nudge, not caught by a spin");
    }

    #[test]
    fn expect_nudges_a_sleeping_receiver_which_then_catches_the_answer() {
        let w = Arc::new(ReplyWatch::new(Duration::from_secs(5)).unwrap());
        let shutdown = Arc::new(Waker::new().unwrap());
        let (a, b) = UnixDatagram::pair().unwrap();
        let (w2, s2) = (w.clone(), shutdown.clone());
        let receiver = std::thread::spawn(move || {
            // Long idle timeout: only the nudge and then the datagram end these waits quickly.
            // As the inbound worker does, wait again after a wait that ended empty.
            let mut waits = 0;
            loop {
                waits += 1;
                let gen = w2.generation();
                let r = w2
                    .wait(b.as_fd(), &[], 0, gen, &s2, Duration::from_secs(30), true)
                    .unwrap();
                if !r.timed_out() {
                    return (r, b, waits);
                }
            }
        });
        // Wait until the receiver sleeps, then announce an answer and send it a bit later.
        let t = Instant::now();
        while !w.sleeping.load(Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(5), "receiver never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        w.expect();
        std::thread::sleep(Duration::from_millis(20));
        a.send(b"answer").unwrap();
        let (r, _b, waits) = receiver.join().unwrap();
        assert!(r.is_ready(0) && !r.woken, "{r:?}");
        assert_eq!(
            waits, 2,
            "the nudge ended the first wait, the answer the second"
        );
        assert_eq!(
            w.counts(),
            (1, 1),
            "one nudge, answer caught while spinning"
        );
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn spinning_ends_when_the_spin_time_passes() {
        let w = ReplyWatch::new(Duration::from_millis(20)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (_a, b) = UnixDatagram::pair().unwrap();
        w.expect();
        let t = Instant::now();
        let r = wait_on(&w, b.as_fd(), &[], &shutdown, Duration::from_millis(40));
        assert!(r.timed_out());
        // ~20 ms spinning, then ~40 ms asleep.
        assert!(
            t.elapsed() >= Duration::from_millis(55),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(w.counts(), (0, 0));
    }

    #[test]
    fn shutdown_ends_a_spin() {
        let w = ReplyWatch::new(Duration::from_secs(30)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (_a, b) = UnixDatagram::pair().unwrap();
        w.expect();
        shutdown.wake().unwrap();
        let r = wait_on(&w, b.as_fd(), &[], &shutdown, Duration::from_secs(30));
        assert!(r.woken);
    }

    #[test]
    fn a_latency_worker_relying_on_the_receiver_keeps_its_queue_covered() {
        let w = Arc::new(ReplyWatch::new(Duration::from_millis(1)).unwrap());
        let shutdown = Arc::new(Waker::new().unwrap());
        let (_a, b) = UnixDatagram::pair().unwrap();
        let (q_tx, q_rx) = UnixDatagram::pair().unwrap();
        q_tx.send(b"request").unwrap();
        // Traffic no longer sparse (the receiver's last sleep was short): a request in a
        // latency queue does not end the receiver's sleep ...
        w.quiet.store(false, Ordering::Relaxed);
        let r = wait_on(
            &w,
            b.as_fd(),
            &[q_rx.as_fd()],
            &shutdown,
            Duration::from_millis(30),
        );
        assert!(r.timed_out(), "{r:?}");
        // ... and the latency worker does not rely on the receiver: it sleeps on its queue.
        // (That sleep was long; say it was short, as under load.)
        w.quiet.store(false, Ordering::Relaxed);
        assert!(w
            .sleep_while_receiver_watches(&shutdown, Duration::from_secs(5))
            .is_none());
        // A worker that went to sleep relying on the receiver while the traffic was sparse
        // is still asleep when it stops being sparse: the receiver keeps covering the queue.
        w.quiet.store(true, Ordering::Relaxed);
        w.sleeping.store(true, Ordering::SeqCst);
        let (w2, s2) = (w.clone(), shutdown.clone());
        let worker = std::thread::spawn(move || {
            w2.sleep_while_receiver_watches(&s2, Duration::from_secs(30))
        });
        let t = Instant::now();
        while w.delegated.load(Ordering::SeqCst) == 0 {
            assert!(t.elapsed() < Duration::from_secs(5), "worker never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        w.sleeping.store(false, Ordering::SeqCst);
        w.quiet.store(false, Ordering::Relaxed);
        let r = wait_on(
            &w,
            b.as_fd(),
            &[q_rx.as_fd()],
            &shutdown,
            Duration::from_secs(30),
        );
        assert!(r.is_ready(1) && !r.timed_out(), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        shutdown.wake().unwrap();
        let slept = worker.join().unwrap().expect("it relied on the receiver");
        assert!(slept.unwrap().woken);
        assert_eq!(w.delegated.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn requests_in_a_stream_do_not_make_the_receiver_spin() {
        let w = ReplyWatch::new(Duration::from_secs(5)).unwrap();
        w.expect();
        let first = w.until_ns.load(Ordering::SeqCst);
        assert!(first > 0);
        // The next request within SPARSE: no new deadline.
        w.expect();
        assert_eq!(w.until_ns.load(Ordering::SeqCst), first);
        // A receiver that was kept busy: none either.
        std::thread::sleep(SPARSE * 2);
        w.quiet.store(false, Ordering::Relaxed);
        w.expect();
        assert_eq!(w.until_ns.load(Ordering::SeqCst), first);
    }

    #[test]
    fn a_short_sleep_marks_the_receiver_busy() {
        let w = ReplyWatch::new(Duration::from_millis(1)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"x").unwrap();
        let r = wait_on(&w, b.as_fd(), &[], &shutdown, Duration::from_secs(5));
        assert!(r.is_ready(0));
        assert!(!w.quiet.load(Ordering::Relaxed));
    }

    #[test]
    fn a_quiet_receiver_also_wakes_for_the_extra_descriptors() {
        let w = ReplyWatch::new(Duration::from_millis(1)).unwrap();
        let shutdown = Waker::new().unwrap();
        let (_a, b) = UnixDatagram::pair().unwrap();
        let (c, d) = UnixDatagram::pair().unwrap();
        c.send(b"request").unwrap();
        let r = wait_on(
            &w,
            b.as_fd(),
            &[b.as_fd(), d.as_fd()],
            &shutdown,
            Duration::from_secs(5),
        );
        assert!(!r.is_ready(0) && !r.is_ready(1) && r.is_ready(2), "{r:?}");
        // A busy receiver only waits for its own descriptor...
        w.quiet.store(false, Ordering::Relaxed);
        let r = wait_on(
            &w,
            b.as_fd(),
            &[d.as_fd()],
            &shutdown,
            Duration::from_millis(20),
        );
        assert!(r.timed_out(), "{r:?}");
        // ...and the ones it must always watch (parked bulk queues), which come first.
        let (_e, f) = UnixDatagram::pair().unwrap();
        let r = w
            .wait(
                b.as_fd(),
                &[d.as_fd(), f.as_fd()],
                1,
                0,
                &shutdown,
                Duration::from_secs(5),
                true,
            )
            .unwrap();
        assert!(r.is_ready(1) && !r.is_ready(2), "{r:?}");
    }

    #[test]
    fn release_ends_a_sleep_on_gathered_descriptors() {
        let w = Arc::new(ReplyWatch::new(Duration::from_millis(1)).unwrap());
        let shutdown = Arc::new(Waker::new().unwrap());
        let (_a, b) = UnixDatagram::pair().unwrap();
        let (_c, d) = UnixDatagram::pair().unwrap();
        // Released between gathering and sleeping: returns at once.
        let gen = w.generation();
        w.release();
        let t = Instant::now();
        let r = w
            .wait(
                b.as_fd(),
                &[d.as_fd()],
                0,
                gen,
                &shutdown,
                Duration::from_secs(30),
                true,
            )
            .unwrap();
        assert!(r.timed_out());
        assert!(t.elapsed() < Duration::from_secs(10));
        // Released while asleep: nudged awake.
        let (w2, s2) = (w.clone(), shutdown.clone());
        let sleeper = std::thread::spawn(move || {
            let gen = w2.generation();
            w2.wait(
                b.as_fd(),
                &[d.as_fd()],
                0,
                gen,
                &s2,
                Duration::from_secs(30),
                true,
            )
            .unwrap()
        });
        while !w.sleeping.load(Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(10), "never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        w.release();
        assert!(sleeper.join().unwrap().timed_out());
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_receiver_watches_only_sparse_traffic_while_idle() {
        let w = Arc::new(ReplyWatch::new(Duration::from_millis(1)).unwrap());
        let shutdown = Arc::new(Waker::new().unwrap());
        // Asleep in `wait` until released; returns when it was woken.
        let sleep_once = |w: &Arc<ReplyWatch>| {
            let (w2, s2) = (w.clone(), shutdown.clone());
            let t = std::thread::spawn(move || {
                let (_a, b) = UnixDatagram::pair().unwrap();
                let gen = w2.generation();
                w2.wait(b.as_fd(), &[], 0, gen, &s2, Duration::from_secs(30), true)
                    .unwrap()
            });
            let start = Instant::now();
            while !w.sleeping.load(Ordering::SeqCst) {
                assert!(start.elapsed() < Duration::from_secs(10), "never slept");
                std::thread::sleep(Duration::from_millis(1));
            }
            t
        };
        // Not asleep and never slept: the outbound worker must read its queue.
        assert!(!w.receiver_watches());
        // Asleep, traffic sparse: it watches.
        let t = sleep_once(&w);
        assert!(w.receiver_watches());
        w.release();
        t.join().unwrap();
        // Busy for longer than SPARSE since it woke: no longer.
        std::thread::sleep(SPARSE * 2);
        assert!(
            !w.receiver_watches(),
            "a receiver busy for a while reads no queue"
        );
        // Requests in a stream: not even while it sleeps.
        for _ in 0..1000 {
            w.expect();
        }
        let t = sleep_once(&w);
        assert!(!w.receiver_watches());
        w.release();
        t.join().unwrap();
    }

    #[test]
    fn zero_spin_turns_it_off() {
        let w = ReplyWatch::new(Duration::ZERO).unwrap();
        w.expect();
        assert_eq!(w.until_ns.load(Ordering::SeqCst), 0);
    }
}
