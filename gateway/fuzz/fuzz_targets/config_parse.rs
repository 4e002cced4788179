//! Fuzz target `config_parse` (see ../bodies.rs). Run: `cd gateway/fuzz && cargo +nightly fuzz run
//! config_parse corpus/config_parse` (or scripts/fuzz.sh).
#![no_main]

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::config_parse(data);
});
