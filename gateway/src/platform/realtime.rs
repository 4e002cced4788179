//! Real-time scheduling of the fast-path workers (`[daemon] realtime_priority`, sched(7)).
//!
//! Why: where the tunnel shares a few vCPUs with other busy threads (the hosts' own work, the
//! other gateway of a lab, the kernel's forwarding), a worker woken under `SCHED_OTHER` waits
//! for the running thread's EEVDF slice to end whenever it is not yet eligible: on a
//! `preempt=none`, 250 Hz kernel up to a tick, 4 ms. A ping crosses three or four such
//! wake-ups, and one in fifty of them waited 0.5-2.5 ms (docs/fast-path.md). A
//! `SCHED_FIFO` worker runs as soon as the running `SCHED_OTHER` thread returns to user space.
//!
//! Every worker gets the same priority: a `SCHED_FIFO` worker does not preempt another of its
//! priority, so a busy worker keeps its vCPU against an idle one that wakes, as under
//! `SCHED_OTHER`; what changes is that the workers no longer queue behind other programs.
//!
//! Only while the gateway is loaded (a worker busy for a quarter of a window within the last
//! [`LOADED_HOLD`]): on an idle machine a woken worker finds a vCPU at once anyway, and the
//! kernel places a real-time thread woken by another one on a different vCPU, so the
//! idle round trip would pay an extra cross-vCPU wake-up.
//!
//! Two guards send a loaded worker back to `SCHED_OTHER`:
//! * Small batches: real-time priority pays where each wake-up brings much work, as offloaded
//!   TCP does (a 64 KB super-packet from the TUN device, a GRO train from the socket: 50-1700
//!   KB per round of the worker's loop in the benchmark's lab). A flood of single datagrams
//!   brings one or two packets per wake-up to a worker that runs the moment one arrives
//!   (60-7000 bytes per round), so it pays a wake-up, a read and a send per packet, where under
//!   `SCHED_OTHER` the packets wait in the queue for a while and go in batches of 20-30. A
//!   loaded `SCHED_FIFO` worker whose rounds averaged less than [`SMALL_ROUND_BYTES`] over a
//!   window runs at `SCHED_OTHER` for [`LOADED_HOLD`], then is judged again. Without it the
//!   64-byte UDP flood of the lab fell from ~105 to ~55-75 kpps.
//! * Busy: a worker that keeps a vCPU busy for nearly all of [`WINDOW`] (more traffic than one
//!   vCPU decrypts) drops back until a window in which it was idle for a while, so the control
//!   plane, the host and its SSH are never left with only the kernel's real-time throttling
//!   share (5%). A worker that keeps up with TCP is busy for 60-95% of a window and stays: a
//!   guard at 90% kept the receiving gateway's inbound worker at `SCHED_OTHER` for most of a
//!   TCP stream, and the loaded p99 at 2.6 ms instead of 1.8 ms (medians).
//!
//! On by default (priority 10): a gateway on its own instance is the program that must not
//! wait, and the guards above keep it from starving the rest. `realtime_priority = 0` keeps
//! the workers at `SCHED_OTHER` where the instance runs other work that must keep up with
//! the tunnel (docs/fast-path.md has the measurements of both).
//!
//! Without `CAP_SYS_NICE` (or an `RLIMIT_RTPRIO`) the kernel refuses: the workers stay at
//! `SCHED_OTHER`, the first refusal is logged (a warning where the configuration asks for a
//! priority, an info line where it is the default), and `ipsecgw status` says so.
//!
//! `unsafe`: `sched_setscheduler(2)` and `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` are called
//! through `libc` (std has neither; the `thread-priority` crate's `SCHED_OTHER` path also
//! rewrites the thread's nice value, which dropping back must not touch).

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The default `realtime_priority`: low among real-time threads (the kernel's own run at 50
/// and above when threaded), above every `SCHED_OTHER` thread. Real-time workers cut the
/// loaded round trip where the gateway shares its vCPUs with other busy programs (from a p99
/// of 2-3 ms to under 1 ms in the benchmark's lab, docs/fast-path.md); they need
/// `CAP_SYS_NICE`, which the appliance's unit grants.
pub const DEFAULT_PRIORITY: u8 = 10;
/// The highest `SCHED_FIFO` priority.
pub const MAX_PRIORITY: u8 = 99;
/// How often a worker compares the CPU time it used with the time that passed.
pub const WINDOW: Duration = Duration::from_millis(50);
/// A worker busier than this share of a window makes the gateway loaded.
const LOADED_ABOVE: f64 = 0.25;
/// How long the gateway counts as loaded after a worker last was.
pub const LOADED_HOLD: Duration = Duration::from_secs(1);
/// Busier than this share of a window: the worker drops back to `SCHED_OTHER`.
const DROP_ABOVE: f64 = 0.97;
/// Back to `SCHED_FIFO` after a window below this share.
const RESUME_BELOW: f64 = 0.8;
/// A loaded `SCHED_FIFO` worker whose loop rounds brought fewer bytes than this on average
/// over a window drops back to `SCHED_OTHER` for [`LOADED_HOLD`] (small batches).
pub const SMALL_ROUND_BYTES: u64 = 32 * 1024;

/// The workers' scheduling, shared by all of them (one per daemon).
#[derive(Debug)]
pub struct WorkerSched {
    /// `SCHED_FIFO` priority; 0 = the workers stay at `SCHED_OTHER`.
    priority: u8,
    /// Whether the configuration asked for `priority` (a refusal is then a warning; for the
    /// default, an info line).
    asked: bool,
    /// The clock of `loaded_until`.
    epoch: Instant,
    /// Nanoseconds after `epoch` until which the gateway counts as loaded.
    loaded_until: AtomicU64,
    /// errno of the kernel's first refusal (0: none).
    refused: AtomicI32,
    /// Workers running at `SCHED_FIFO` now.
    fifo_now: AtomicUsize,
    /// Times a worker dropped back to `SCHED_OTHER` (busy for a whole window).
    drops: AtomicU64,
    /// Times a worker dropped back to `SCHED_OTHER` for small batches.
    small_batch_drops: AtomicU64,
}

/// What `ipsecgw status` shows of [`WorkerSched`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedCounts {
    pub priority: u8,
    pub refused_errno: i32,
    pub fifo_now: usize,
    pub drops: u64,
    pub small_batch_drops: u64,
}

impl WorkerSched {
    /// `asked`: whether the configuration set `priority` (rather than leaving the default).
    pub fn new(priority: u8, asked: bool) -> Self {
        Self {
            priority: priority.min(MAX_PRIORITY),
            asked,
            epoch: Instant::now(),
            loaded_until: AtomicU64::new(0),
            refused: AtomicI32::new(0),
            fifo_now: AtomicUsize::new(0),
            drops: AtomicU64::new(0),
            small_batch_drops: AtomicU64::new(0),
        }
    }

    pub fn counts(&self) -> SchedCounts {
        SchedCounts {
            priority: self.priority,
            refused_errno: self.refused.load(Ordering::Relaxed),
            fifo_now: self.fifo_now.load(Ordering::Relaxed),
            drops: self.drops.load(Ordering::Relaxed),
            small_batch_drops: self.small_batch_drops.load(Ordering::Relaxed),
        }
    }

    /// The calling worker thread's guard, which the worker calls once per loop
    /// ([`Realtime::tick`]); it starts at `SCHED_OTHER`.
    pub fn enter(&self) -> Realtime<'_> {
        Realtime {
            shared: self,
            fifo: false,
            hog: false,
            small_until: 0,
            window_start: Instant::now(),
            cpu_start: thread_cpu_time(),
            rounds: 0,
            bytes: 0,
        }
    }

    /// Tries `SCHED_FIFO` once on a short-lived thread at start, so that a kernel refusal
    /// shows in the log and in `ipsecgw status` before the first load rather than during it.
    pub fn probe(&self) {
        if self.priority == 0 {
            return;
        }
        let tried = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    set_policy(libc::SCHED_FIFO, i32::from(self.priority))
                        .and_then(|()| set_policy(libc::SCHED_OTHER, 0))
                })
                .join()
        });
        if let Ok(Err(e)) = tried {
            self.refuse(&e);
        }
    }

    /// Records the kernel's refusal of `SCHED_FIFO`; the first one is logged.
    fn refuse(&self, e: &io::Error) {
        let errno = e.raw_os_error().unwrap_or(libc::EPERM);
        if self.refused.swap(errno, Ordering::Relaxed) != 0 {
            return;
        }
        if self.asked {
            tracing::warn!(
                error = %e,
                "fast-path workers stay at SCHED_OTHER: SCHED_FIFO needs CAP_SYS_NICE \
                 (or set [daemon] realtime_priority = 0 to silence this)"
            );
        } else {
            tracing::info!(
                error = %e,
                "fast-path workers stay at SCHED_OTHER under load: the default \
                 realtime_priority needs CAP_SYS_NICE (the appliance's unit grants it)"
            );
        }
    }

    fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One worker thread's scheduling; back to `SCHED_OTHER` when dropped.
#[derive(Debug)]
pub struct Realtime<'a> {
    shared: &'a WorkerSched,
    fifo: bool,
    /// Busy for (nearly) a whole window: stays at `SCHED_OTHER`.
    hog: bool,
    /// Nanoseconds after the epoch until which it stays at `SCHED_OTHER` (small batches).
    small_until: u64,
    window_start: Instant,
    cpu_start: Duration,
    /// Loop rounds ([`Realtime::tick`] calls) in this window.
    rounds: u64,
    /// Bytes read in this window ([`Realtime::note`]).
    bytes: u64,
}

impl Realtime<'_> {
    /// Whether the thread runs at `SCHED_FIFO` now.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Whether a priority is configured (otherwise [`Realtime::tick`] and
    /// [`Realtime::note`] do nothing).
    pub fn is_configured(&self) -> bool {
        self.shared.priority != 0
    }

    /// Called once per worker loop (one `Instant` read; a CPU-clock read per [`WINDOW`]).
    ///
    /// * A worker busy for more than a quarter of a window makes the gateway loaded for
    ///   [`LOADED_HOLD`]; while it is, its workers run at `SCHED_FIFO`. An idle gateway keeps
    ///   them at `SCHED_OTHER`: a real-time wake-up is placed on another vCPU when the waker
    ///   is a real-time thread too, and waking an idle vCPU costs more than it saves there.
    /// * A loaded `SCHED_FIFO` worker whose rounds averaged less than [`SMALL_ROUND_BYTES`]
    ///   runs at `SCHED_OTHER` for [`LOADED_HOLD`], where its packets batch up.
    /// * A worker busy for nearly a whole window drops back to `SCHED_OTHER` until a
    ///   quieter one (the guard against starving the rest of the machine).
    pub fn tick(&mut self) {
        let s = self.shared;
        if s.priority == 0 {
            return;
        }
        self.rounds += 1;
        let now = Instant::now();
        let wall = now.saturating_duration_since(self.window_start);
        if wall >= WINDOW {
            let cpu = thread_cpu_time();
            let share = cpu.saturating_sub(self.cpu_start).as_secs_f64() / wall.as_secs_f64();
            // Judged only from a window at SCHED_FIFO: at SCHED_OTHER the batches grow.
            if self.fifo
                && share > LOADED_ABOVE
                && self.bytes < SMALL_ROUND_BYTES.saturating_mul(self.rounds)
            {
                self.small_until = s.ns(now + LOADED_HOLD);
                s.small_batch_drops.fetch_add(1, Ordering::Relaxed);
            }
            self.window_start = now;
            self.cpu_start = cpu;
            self.rounds = 0;
            self.bytes = 0;
            if share > LOADED_ABOVE {
                s.loaded_until
                    .fetch_max(s.ns(now + LOADED_HOLD), Ordering::Relaxed);
            }
            if share > DROP_ABOVE && !self.hog {
                self.hog = true;
                if self.fifo {
                    s.drops.fetch_add(1, Ordering::Relaxed);
                }
            } else if share < RESUME_BELOW {
                self.hog = false;
            }
        }
        let at = s.ns(now);
        let want =
            !self.hog && at >= self.small_until && at < s.loaded_until.load(Ordering::Relaxed);
        if want != self.fifo {
            self.set_fifo(want);
        }
    }

    /// Counts `bytes` the worker read (a TUN read, a UDP message or GRO train) for the
    /// small-batch guard. Only with a priority set.
    pub fn note(&mut self, bytes: usize) {
        if self.is_configured() {
            self.bytes = self.bytes.saturating_add(bytes as u64);
        }
    }

    fn set_fifo(&mut self, on: bool) {
        let s = self.shared;
        if !on {
            if set_policy(libc::SCHED_OTHER, 0).is_ok() {
                self.fifo = false;
                s.fifo_now.fetch_sub(1, Ordering::Relaxed);
            }
            return;
        }
        if s.refused.load(Ordering::Relaxed) != 0 {
            return;
        }
        match set_policy(libc::SCHED_FIFO, i32::from(s.priority)) {
            Ok(()) => {
                self.fifo = true;
                s.fifo_now.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => s.refuse(&e),
        }
    }
}

impl Drop for Realtime<'_> {
    fn drop(&mut self) {
        if self.fifo {
            self.set_fifo(false);
        }
    }
}

/// `sched_setscheduler(2)` for the calling thread.
fn set_policy(policy: i32, priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread; `param` is an initialized local that the call only
    // reads during the call.
    let r = unsafe { libc::sched_setscheduler(0, policy, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's scheduling policy (`sched_getscheduler(2)`).
    fn current_policy() -> i32 {
        // SAFETY: no pointers; pid 0 is the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    fn is_root() -> bool {
        // SAFETY: no arguments, always succeeds.
        unsafe { libc::geteuid() == 0 }
    }

    /// Keeps the calling thread busy, in large rounds (offloaded TCP), until `r.tick()` leaves `fifo` as `until`.
    fn spin_until(r: &mut Realtime<'_>, until: bool) {
        let t = Instant::now();
        while r.is_fifo() != until {
            r.note(SMALL_ROUND_BYTES as usize);
            r.tick();
            assert!(t.elapsed() < WINDOW * 40, "still fifo = {}", r.is_fifo());
        }
    }

    /// One cycle of a loaded worker: busy (rounds of `round_bytes`) for a third of the time.
    fn loaded_cycle(r: &mut Realtime<'_>, round_bytes: usize) {
        let busy = Instant::now();
        while busy.elapsed() < WINDOW / 10 {
            r.note(round_bytes);
            r.tick();
        }
        // Woken with the next batch.
        std::thread::sleep(WINDOW / 5);
        r.note(round_bytes);
        r.tick();
    }

    #[test]
    fn priority_zero_leaves_the_thread_alone() {
        std::thread::spawn(|| {
            let s = WorkerSched::new(0, true);
            let mut r = s.enter();
            // Busy for a third of each window (what makes a configured gateway loaded) ...
            let t = Instant::now();
            while t.elapsed() < WINDOW * 4 {
                loaded_cycle(&mut r, 100);
            }
            // ... yet no policy change was even tried (it would be refused for priority 0,
            // or without root).
            assert!(!r.is_fifo());
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            assert_eq!(s.counts(), SchedCounts::default());
        })
        .join()
        .unwrap();
    }

    /// Runs `f` on a thread of its own with a [`WorkerSched`] at the default priority
    /// (skipped without root).
    fn on_worker_thread(f: impl FnOnce(&WorkerSched) + Send) {
        if !is_root() {
            eprintln!("SKIPPED: SCHED_FIFO needs root (CAP_SYS_NICE)");
            return;
        }
        let s = WorkerSched::new(DEFAULT_PRIORITY, false);
        std::thread::scope(|scope| {
            scope.spawn(|| f(&s));
        });
    }

    /// Loaded cycles in large rounds until the worker runs at `SCHED_FIFO`.
    fn load_until_fifo(r: &mut Realtime<'_>) {
        let t = Instant::now();
        while !r.is_fifo() {
            loaded_cycle(r, SMALL_ROUND_BYTES as usize);
            assert!(t.elapsed() < WINDOW * 40, "never loaded");
        }
    }

    #[test]
    fn workers_run_at_fifo_while_the_gateway_is_loaded_and_not_while_one_hogs() {
        on_worker_thread(|s| {
            // Idle: SCHED_OTHER.
            let mut r = s.enter();
            std::thread::sleep(WINDOW * 2);
            r.tick();
            assert!(!r.is_fifo());
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            // Busy for a third of each window: the gateway is loaded, and this worker
            // runs at SCHED_FIFO.
            load_until_fifo(&mut r);
            assert_eq!(current_policy(), libc::SCHED_FIFO);
            assert_eq!(s.counts().fifo_now, 1);
            // Another worker of the loaded gateway, idle itself: SCHED_FIFO too.
            std::thread::scope(|inner| {
                inner.spawn(|| {
                    let mut idle = s.enter();
                    idle.tick();
                    assert!(idle.is_fifo());
                    assert_eq!(current_policy(), libc::SCHED_FIFO);
                    assert_eq!(s.counts().fifo_now, 2);
                });
            });
            assert_eq!(s.counts().fifo_now, 1);
            // Saturated (more than one vCPU can decrypt): busy for whole windows without
            // sleeping. Drops back.
            spin_until(&mut r, false);
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            assert_eq!(s.counts().drops, 1);
            assert_eq!(s.counts().fifo_now, 0);
            // Quiet again while the load lasts: SCHED_FIFO again.
            std::thread::sleep(WINDOW * 2);
            r.tick();
            assert!(r.is_fifo());
            // No load for LOADED_HOLD: SCHED_OTHER.
            std::thread::sleep(LOADED_HOLD + WINDOW);
            r.tick();
            assert!(!r.is_fifo());
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            assert_eq!(s.counts().fifo_now, 0);
            assert_eq!(s.counts().small_batch_drops, 0);
        });
    }

    #[test]
    fn a_loaded_worker_with_small_batches_runs_at_sched_other_for_a_while() {
        on_worker_thread(|s| {
            let mut r = s.enter();
            // Loaded, with large rounds (offloaded TCP): SCHED_FIFO, and it stays.
            load_until_fifo(&mut r);
            let t = Instant::now();
            while t.elapsed() < WINDOW * 6 {
                loaded_cycle(&mut r, SMALL_ROUND_BYTES as usize);
                assert!(r.is_fifo());
            }
            assert_eq!(s.counts().small_batch_drops, 0);
            // The same load in rounds of one small datagram (a flood): SCHED_OTHER ...
            let t = Instant::now();
            while r.is_fifo() {
                loaded_cycle(&mut r, 100);
                assert!(t.elapsed() < WINDOW * 40, "still fifo");
            }
            let dropped = Instant::now();
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            assert_eq!(s.counts().small_batch_drops, 1);
            assert_eq!(s.counts().drops, 0);
            // ... for LOADED_HOLD, whatever its batches (they grow at SCHED_OTHER) ...
            while dropped.elapsed() < LOADED_HOLD - WINDOW * 2 {
                loaded_cycle(&mut r, SMALL_ROUND_BYTES as usize);
                assert!(!r.is_fifo(), "back after {:?}", dropped.elapsed());
            }
            // ... then SCHED_FIFO again, judged anew: large rounds keep it there.
            let t = Instant::now();
            while !r.is_fifo() {
                loaded_cycle(&mut r, SMALL_ROUND_BYTES as usize);
                assert!(t.elapsed() < LOADED_HOLD, "not back");
            }
            let t = Instant::now();
            while t.elapsed() < WINDOW * 4 {
                loaded_cycle(&mut r, SMALL_ROUND_BYTES as usize);
                assert!(r.is_fifo());
            }
            assert_eq!(s.counts().small_batch_drops, 1);
        });
    }

    /// What `probe` logs, from a thread that lacks `CAP_SYS_NICE` (dropped from its effective
    /// set; the probe's own thread inherits that) when `drop_nice`.
    fn probe_log(sched: &WorkerSched, drop_nice: bool) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || out.clone())
            .finish();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                if drop_nice {
                    caps::drop(
                        None,
                        caps::CapSet::Effective,
                        caps::Capability::CAP_SYS_NICE,
                    )
                    .unwrap();
                }
                tracing::subscriber::with_default(subscriber, || sched.probe());
                assert_eq!(current_policy(), libc::SCHED_OTHER);
            });
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn the_start_probe_reports_a_refusal_as_info_for_the_default_and_a_warning_when_asked() {
        if !is_root() {
            eprintln!("SKIPPED: the probe's success needs root (CAP_SYS_NICE)");
            return;
        }
        // Allowed: nothing logged, nothing refused, the probing thread back at SCHED_OTHER.
        let s = WorkerSched::new(DEFAULT_PRIORITY, false);
        assert_eq!(probe_log(&s, false), "");
        assert_eq!(s.counts().refused_errno, 0);
        // The default, refused: an info line, and the refusal shows in the counts (status).
        let s = WorkerSched::new(DEFAULT_PRIORITY, false);
        let log = probe_log(&s, true);
        assert_eq!(s.counts().refused_errno, libc::EPERM);
        assert!(log.contains(" INFO ") && !log.contains("WARN"), "{log}");
        assert!(
            log.contains("the default realtime_priority needs CAP_SYS_NICE"),
            "{log}"
        );
        // Asked for in the configuration, refused: a warning naming the way out.
        let s = WorkerSched::new(DEFAULT_PRIORITY, true);
        let log = probe_log(&s, true);
        assert_eq!(s.counts().refused_errno, libc::EPERM);
        assert!(log.contains(" WARN "), "{log}");
        assert!(log.contains("realtime_priority = 0"), "{log}");
        // A worker of a refused gateway stays at SCHED_OTHER when loaded, without asking again.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut r = s.enter();
                let t = Instant::now();
                while t.elapsed() < WINDOW * 4 {
                    loaded_cycle(&mut r, SMALL_ROUND_BYTES as usize);
                }
                let loaded_until = s.loaded_until.load(Ordering::Relaxed);
                assert!(loaded_until > s.ns(Instant::now()), "never loaded");
                assert!(!r.is_fifo());
                assert_eq!(current_policy(), libc::SCHED_OTHER);
            });
        });
        // Priority 0: no probe at all.
        let s = WorkerSched::new(0, true);
        assert_eq!(probe_log(&s, true), "");
        assert_eq!(s.counts().refused_errno, 0);
    }
}
