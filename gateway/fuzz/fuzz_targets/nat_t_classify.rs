//! Fuzz target `nat_t_classify` (see ../bodies.rs). Run: `cd gateway/fuzz && cargo +nightly fuzz run
//! nat_t_classify corpus/nat_t_classify` (or scripts/fuzz.sh).
#![no_main]

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::nat_t_classify(data);
});
