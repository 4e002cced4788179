//! Fuzz target `responder`: see common/responder.rs. Run with
//! `cargo +nightly fuzz run responder corpus/responder` in ikev2/fuzz (or scripts/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/mallory.rs"]
mod mallory;
#[path = "../common/responder.rs"]
mod responder;

fuzz_target!(|data: &[u8]| {
    let _ = responder::run(data);
});
