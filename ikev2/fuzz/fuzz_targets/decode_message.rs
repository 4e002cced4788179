//! Fuzz target: decode arbitrary bytes as an IKE message; when that succeeds, encode ->
//! decode must be stable. Run with `cargo +nightly fuzz run decode_message` in ikev2/fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/roundtrip.rs"]
mod roundtrip;

fuzz_target!(|data: &[u8]| {
    roundtrip::check(data);
});
