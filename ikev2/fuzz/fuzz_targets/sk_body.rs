//! Fuzz target `sk_body`: see common/sk_body.rs. Run with
//! `cargo +nightly fuzz run sk_body corpus/sk_body` in ikev2/fuzz (or scripts/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/mallory.rs"]
mod mallory;
#[path = "../common/sk_body.rs"]
mod sk_body;

fuzz_target!(|data: &[u8]| {
    let _ = sk_body::run(data);
});
