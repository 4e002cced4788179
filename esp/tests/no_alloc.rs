//! No heap allocation per packet: a counting global allocator around bursts of
//! encapsulate/decapsulate calls for every suite.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use esp::{GcmBackend, InboundSa, NextHeader, OutboundSa, SaConfig, Suite};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts calls on the current thread (so the
// test harness's other threads do not disturb the measurement).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn burst_of_encap_decap_allocates_nothing() {
    // (AWS-LC allocates through C's malloc, which this counter does not see: its AES-GCM
    // seal and open work in the caller's buffer and the key's context.)
    let cases = Suite::all()
        .into_iter()
        .flat_map(|s| [false, true].map(|esn| (s, esn)))
        .flat_map(|(s, esn)| GcmBackend::ALL.map(|b| (s, esn, b)));
    for (suite, esn, gcm_backend) in cases {
        {
            let cfg = SaConfig {
                esn,
                gcm_backend,
                ..SaConfig::new(0x1000, suite)
            };
            let k: Vec<u8> = (0..suite.key_material_len()).map(|i| i as u8).collect();
            let out = OutboundSa::new(&cfg, &k).unwrap();
            let inb = InboundSa::new(&cfg, &k).unwrap();
            let mut bufs: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1600]).collect();
            let mut ok = 0u32;

            let before = allocs();
            for round in 0..4 {
                for (i, buf) in bufs.iter_mut().enumerate() {
                    let len = (i * 23 + round * 7) % 1500;
                    let e = out
                        .encapsulate(
                            buf,
                            esp::MAX_HEADROOM..esp::MAX_HEADROOM + len,
                            NextHeader::Ipv4,
                        )
                        .unwrap();
                    let d = inb.decapsulate(&mut buf[e.esp.clone()]).unwrap();
                    ok += u32::from(d.seq == e.seq);
                    // A replay and a forgery on the error paths too.
                    let _ = inb.decapsulate(&mut buf[e.esp.clone()]);
                    let _ = inb.decapsulate(&mut buf[..40]);
                }
            }
            let after = allocs();
            assert_eq!(
                after - before,
                0,
                "{suite} esn={esn} {gcm_backend}: heap allocations per packet"
            );
            assert_eq!(ok, 4 * 64);
            assert_eq!(inb.stats().replayed + inb.stats().bad_icv, 4 * 64);
        }
    }
}

#[test]
fn counter_sees_allocations() {
    // The instrument works: a Vec allocation is counted.
    let before = allocs();
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocs() > before);
    drop(v);
}
