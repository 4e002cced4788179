//! Fuzz target `exchange`: see common/exchange.rs. Run with
//! `cargo +nightly fuzz run exchange corpus/exchange` in ikev2/fuzz (or scripts/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/exchange.rs"]
mod exchange;

fuzz_target!(|data: &[u8]| {
    let _ = exchange::run(data);
});
