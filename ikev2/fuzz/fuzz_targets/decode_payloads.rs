//! Fuzz target `decode_payloads`: see common/payloads.rs. Run with
//! `cargo +nightly fuzz run decode_payloads corpus/decode_payloads` in ikev2/fuzz (or scripts/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/payloads.rs"]
mod payloads;

fuzz_target!(|data: &[u8]| {
    let _ = payloads::check(data);
});
