//! Decapsulation of arbitrary bytes never panics (proptest), and the cargo-fuzz corpus in
//! esp/fuzz/corpus/decapsulate/ is replayed through the same entry point as the fuzz target.

use esp::{NextHeader, OutboundSa, SaConfig, Suite};
use proptest::prelude::*;

#[path = "../fuzz/decapsulate_body.rs"]
mod decapsulate_body;
use decapsulate_body::decapsulate_arbitrary;

/// Regenerates the seed corpus: `cargo test -p esp --test decap_hostile_input -- --ignored`.
#[test]
#[ignore]
fn write_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decapsulate");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, &sel) in [0u8, 2, 3, 9, 14, 0x80, 0x83].iter().enumerate() {
        let suite = Suite::all()[usize::from(sel) % 15];
        let cfg = SaConfig {
            esn: sel & 0x80 != 0,
            replay_window: 64,
            ..SaConfig::new(0x0000_1234, suite)
        };
        let out = OutboundSa::new(&cfg, &vec![0x42u8; suite.key_material_len()]).unwrap();
        let mut buf = [0u8; 128];
        let mut last = Vec::new();
        // The 4th packet is fresh for the fuzz SA, which has seen three.
        for _ in 0..4 {
            let e = out.encapsulate(&mut buf, 24..40, NextHeader::Ipv6).unwrap();
            last = buf[e.esp].to_vec();
        }
        let mut data = vec![sel];
        data.extend_from_slice(&last);
        std::fs::write(dir.join(format!("valid-{i}")), &data).unwrap();
    }
    std::fs::write(dir.join("empty"), [0u8]).unwrap();
    std::fs::write(dir.join("short-header"), [0u8, 0, 0, 0x12, 0x34, 0, 0, 0]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        decapsulate_arbitrary(&data);
    }

    /// Arbitrary bytes behind a valid SPI and a fresh sequence number reach the ICV check.
    #[test]
    fn arbitrary_body_with_valid_header(sel in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut data = vec![sel, 0, 0, 0x12, 0x34, 0, 0, 0, 9];
        data.extend_from_slice(&body);
        decapsulate_arbitrary(&data);
    }
}

#[test]
fn fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decapsulate");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        decapsulate_arbitrary(&data);
        n += 1;
    }
    assert!(n >= 5, "seed corpus present: {n} files");
}
