//! Fuzz target: arbitrary bytes decapsulated against a live inbound SA.
//! Run: `cd esp/fuzz && cargo +nightly fuzz run decapsulate corpus/decapsulate`.
#![no_main]

#[path = "../decapsulate_body.rs"]
mod decapsulate_body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    decapsulate_body::decapsulate_arbitrary(data);
});
