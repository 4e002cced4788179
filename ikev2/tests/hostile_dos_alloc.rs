//! `Defences::check_ike_sa_init` and `peek_ike_sa_init` allocate nothing per request (a
//! counting global allocator), so a flood of IKE_SA_INIT costs no heap.

use ikev2::crypto::SeededRandom;
use ikev2::dos::{peek_ike_sa_init, DefenceConfig, Defences, Verdict};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// A real IKE_SA_INIT request captured from strongSwan.
fn strongswan_init() -> Vec<u8> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strongswan/azure-default/01-ike_sa_init-request.bin"
    );
    std::fs::read(p).unwrap()
}

#[test]
fn check_and_peek_allocate_nothing() {
    let req = strongswan_init();
    let mut d = Defences::new(DefenceConfig::default(), &mut SeededRandom::new(1));
    // Half-open SAs push the defences into cookie mode (the allocation happens here, once).
    for i in 0..30u32 {
        d.half_open_opened(IpAddr::V4((0xC633_6400 + i).into()));
    }
    let t0 = Instant::now();
    let before = ALLOCS.load(Ordering::Relaxed);
    let (mut cookies, mut dropped) = (0u32, 0u32);
    for i in 0..50_000u32 {
        let peek = peek_ike_sa_init(&req).expect("valid IKE_SA_INIT");
        let src = IpAddr::V4((0xCB00_7100u32.wrapping_add(i.wrapping_mul(40_503))).into());
        let now = t0 + Duration::from_micros(u64::from(i) * 50);
        match d.check_ike_sa_init(now, src, peek.header.spi_i, peek.ni, peek.cookie) {
            Verdict::RequireCookie(c) => {
                cookies += 1;
                // The retry with the cookie is accepted, also allocation-free.
                let v =
                    d.check_ike_sa_init(now, src, peek.header.spi_i, peek.ni, Some(c.as_bytes()));
                assert!(matches!(v, Verdict::Accept | Verdict::Drop), "{v:?}");
            }
            // Sources sharing a rate-limiter slot run out of tokens.
            Verdict::Drop => dropped += 1,
            Verdict::Accept => panic!("accepted without a cookie"),
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations in the IKE_SA_INIT gate");
    assert_eq!(cookies + dropped, 50_000);
    assert!(
        cookies > 40_000,
        "{cookies} cookies, {dropped} rate limited"
    );
}
