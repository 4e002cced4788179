//! Fuzz target: arbitrary plaintext (payload, padding, pad length, next header) sealed with a
//! live SA's keys, then decapsulated, so mutations reach the checks behind the ICV.
//! Run: `cd esp/fuzz && cargo +nightly fuzz run decapsulate_sealed corpus/decapsulate_sealed`.
#![no_main]

#[path = "../sealed_trailer_body.rs"]
mod sealed_trailer_body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sealed_trailer_body::decapsulate_sealed(data);
});
