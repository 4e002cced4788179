//! Fuzz target: `esp::classify_udp_4500` on arbitrary datagrams (see ../classify_body.rs).
//! Run: `cd esp/fuzz && cargo +nightly fuzz run classify_udp_4500 corpus/classify_udp_4500`.
#![no_main]

#[path = "../classify_body.rs"]
mod classify_body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    classify_body::classify_arbitrary(data);
});
