//! UDP 4500 demultiplexing on hostile input: the cargo-fuzz target `classify_udp_4500`'s
//! corpus (esp/fuzz/corpus/classify_udp_4500/) and reproducers (esp/fuzz/regressions/) are
//! replayed through the same body, plus a proptest sweep.

use proptest::prelude::*;

#[path = "../fuzz/classify_body.rs"]
mod classify_body;
use classify_body::classify_arbitrary;

#[test]
fn classify_corpus_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for sub in ["corpus/classify_udp_4500", "regressions/classify_udp_4500"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in rd {
            classify_arbitrary(&std::fs::read(e.unwrap().path()).unwrap());
            n += 1;
        }
    }
    assert!(n >= 5, "{n} files");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]
    #[test]
    fn classify_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        classify_arbitrary(&data);
    }
}
