//! Replays every file of the fuzz corpus (ikev2/fuzz/corpus/decode_message/) through the
//! fuzz target's check, so the corpus (seeds and anything the fuzzer saved) is a regression
//! suite on stable Rust.

#[path = "../fuzz/common/roundtrip.rs"]
mod roundtrip;

use std::path::PathBuf;

fn corpus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode_message");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn wire_corpus_replays_without_panic_and_reencodes_stably() {
    let files = corpus_files();
    assert!(!files.is_empty(), "the seed corpus is committed");
    let mut decoded = 0;
    for f in &files {
        let bytes = std::fs::read(f).expect("read corpus file");
        if roundtrip::check(&bytes) {
            decoded += 1;
        }
    }
    println!("{} corpus files, {decoded} decode", files.len());
}

#[test]
fn wire_corpus_seeds_decode() {
    // The hand-built seeds (named seed-*) are valid messages and must keep decoding.
    let seeds: Vec<PathBuf> = corpus_files()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .collect();
    assert!(!seeds.is_empty());
    for f in seeds {
        let bytes = std::fs::read(&f).unwrap();
        let m =
            ikev2::wire::decode_message(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(ikev2::wire::encode_message(&m), bytes, "{}", f.display());
    }
}
