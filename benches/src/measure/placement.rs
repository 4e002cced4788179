//! Where the host runs this VM's first two vCPUs, seen from inside: the round trip of one
//! cache line between a thread pinned to CPU 0 and one pinned to CPU 1.
//!
//! On the 2-vCPU EPYC VMs this benchmark runs on, the value is bimodal: ~55 ns when the host
//! runs both vCPUs on one CCD (they share an L3), ~340 ns when it runs them on two. In the
//! second case a copy of data written on the other vCPU is ~3× slower (10 vs 29 GB/s), and
//! TCP through every tunnel kind, plain forwarding included, slows down. The host moves the
//! vCPUs every few minutes, so the benchmark probes just before and just after each TCP run
//! and reports both (docs/fast-path.md, "Two throughput phases").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Round trips per probe: ~20 ms at 340 ns, ~3 ms at 55 ns.
const ROUND_TRIPS: u64 = 50_000;
/// A probe that cannot finish in this time (the other vCPU busy) gives up.
const DEADLINE: Duration = Duration::from_millis(500);

/// Separates the two cases above; between them there is nothing on these machines.
pub const SPLIT_ABOVE_NS: f64 = 150.0;

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> bool {
    // SAFETY: `set` is a plain bit set owned by this frame; CPU_ZERO/CPU_SET only write
    // inside it, and sched_setaffinity(0, ..) reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// The median of three probes of CPU 0 ↔ CPU 1, in nanoseconds per round trip; `None` on a
/// machine with fewer than two CPUs or when the other CPU never answered in time.
pub fn cross_vcpu_rtt_ns() -> Option<f64> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let mut v: Vec<f64> = (0..3)
        .filter_map(|_| probe_once(ROUND_TRIPS, DEADLINE))
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn probe_once(round_trips: u64, deadline: Duration) -> Option<f64> {
    let line = Arc::new(AtomicU64::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let (l2, a2) = (line.clone(), abort.clone());
    let partner = std::thread::spawn(move || {
        if !pin(1) {
            a2.store(true, Ordering::Relaxed);
            return;
        }
        // Odd values are the prober's, even ones the answer.
        for i in 0..round_trips {
            while l2.load(Ordering::Acquire) != 2 * i + 1 {
                if a2.load(Ordering::Relaxed) {
                    return;
                }
                std::hint::spin_loop();
            }
            l2.store(2 * i + 2, Ordering::Release);
        }
    });
    let result = std::thread::scope(|s| {
        // The prober runs on its own pinned thread, so the caller's affinity is untouched.
        s.spawn(|| {
            if !pin(0) {
                return None;
            }
            let start = Instant::now();
            for i in 0..round_trips {
                line.store(2 * i + 1, Ordering::Release);
                let mut spins = 0u32;
                while line.load(Ordering::Acquire) != 2 * i + 2 {
                    spins = spins.wrapping_add(1);
                    if spins % 4096 == 0
                        && (abort.load(Ordering::Relaxed) || start.elapsed() > deadline)
                    {
                        return None;
                    }
                    std::hint::spin_loop();
                }
            }
            Some(start.elapsed().as_nanos() as f64 / round_trips as f64)
        })
        .join()
        .ok()
        .flatten()
    });
    abort.store(true, Ordering::Relaxed);
    let _ = partner.join();
    result
}

/// How a probe value reads in the report.
pub fn describe(rtt_ns: f64) -> &'static str {
    if rtt_ns > SPLIT_ABOVE_NS {
        "split"
    } else {
        "shared L3"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_measures_a_plausible_round_trip() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            assert_eq!(cross_vcpu_rtt_ns(), None);
            return;
        }
        // Few round trips and a long deadline: the test runs among other busy tests, where a
        // preempted partner costs a time slice per round trip.
        let ns = probe_once(2_000, Duration::from_secs(60)).expect("the CPU 1 thread answered");
        // A cache line cannot cross cores in under a few ns; preemption can make it slow,
        // but never 20 ms per round trip on average.
        assert!((5.0..20_000_000.0).contains(&ns), "{ns} ns");
    }

    #[test]
    fn classification_threshold() {
        assert_eq!(describe(55.0), "shared L3");
        assert_eq!(describe(340.0), "split");
    }
}
