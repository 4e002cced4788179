//! Authentic packets with arbitrary plaintext reach the trailer checks behind the ICV
//! (RFC 4303 sections 2.4, 2.6, 3.4.4.1) and give the result of an independent model: a
//! proptest, and a replay of the cargo-fuzz corpus in esp/fuzz/corpus/decapsulate_sealed/
//! through the same entry point as the fuzz target `decapsulate_sealed`.

use proptest::prelude::*;

#[path = "../fuzz/sealed_trailer_body.rs"]
mod sealed_trailer_body;
use sealed_trailer_body::decapsulate_sealed;

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decapsulate_sealed")
}

/// A selector byte and a plaintext of `inner` payload bytes, `pad` padding bytes as given,
/// then pad length and next header.
fn input(sel: u8, inner: usize, pad: &[u8], pad_len: u8, next_header: u8) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend((0..inner).map(|i| (i as u8) ^ 0x45));
    v.extend_from_slice(pad);
    v.push(pad_len);
    v.push(next_header);
    v
}

/// The seed corpus: valid IPv4/IPv6/dummy trailers, and one of each malformation, for GCM
/// and CBC suites (selector: suite index, bit 7 = ESN).
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let gcm = 2u8; // AES-256-GCM
    let cbc = 3u8; // AES-128-CBC + HMAC-SHA1-96
    vec![
        ("gcm-ipv4", input(gcm, 20, &[1, 2], 2, 4)),
        ("gcm-ipv6-esn", input(gcm | 0x80, 40, &[], 0, 41)),
        ("gcm-dummy", input(gcm, 0, &[1, 2, 3, 4, 5, 6], 6, 59)),
        ("gcm-next-header-17", input(gcm, 10, &[], 0, 17)),
        ("gcm-bad-padding", input(gcm, 10, &[1, 3], 2, 4)),
        ("gcm-pad-len-too-long", input(gcm, 3, &[1, 2, 3], 9, 4)),
        ("gcm-only-trailer", vec![gcm, 0, 4]),
        ("gcm-one-byte", vec![gcm, 4]),
        ("cbc-ipv4", input(cbc, 12, &[1, 2], 2, 4)),
        ("cbc-ipv6-esn", input(cbc | 0x80, 28, &[1, 2], 2, 41)),
        ("cbc-bad-padding", input(cbc, 12, &[2, 1], 2, 4)),
        (
            "cbc-dummy",
            input(cbc, 0, &(1..=14).collect::<Vec<u8>>(), 14, 59),
        ),
        ("cbc-next-header-50", input(cbc, 14, &[], 0, 50)),
        ("sha512-ipv4", input(14, 44, &[1, 2], 2, 4)),
        ("gcm192-ipv4", input(1, 7, &[1, 2, 3], 3, 4)),
    ]
}

/// Regenerates the seed corpus:
/// `cargo test -p esp --test decap_sealed_trailer -- --ignored`.
#[test]
#[ignore = "writes the seed corpus; run by hand after changing the seeds"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds() {
        std::fs::write(dir.join(name), data).unwrap();
    }
}

#[test]
fn seeds_run_and_are_committed() {
    for (name, data) in seeds() {
        decapsulate_sealed(&data);
        let committed = std::fs::read(corpus_dir().join(name)).unwrap();
        assert_eq!(
            committed, data,
            "{name} is stale: regenerate the seed corpus"
        );
    }
}

#[test]
fn fuzz_corpus_replays() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        decapsulate_sealed(&data);
        n += 1;
    }
    assert!(n >= seeds().len(), "seed corpus present: {n} files");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// Arbitrary plaintext: mostly malformed trailers.
    #[test]
    fn arbitrary_plaintext_matches_model(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        decapsulate_sealed(&data);
    }

    /// Near-valid trailers: correct padding with one field possibly disturbed, so the valid
    /// and each invalid outcome all occur often.
    #[test]
    fn near_valid_trailers_match_model(
        sel in any::<u8>(),
        inner in 0usize..64,
        pad in 0u8..20,
        pad_len_delta in prop_oneof![Just(0i16), -3i16..4],
        broken_pad in proptest::option::of(any::<prop::sample::Index>()),
        next_header in prop_oneof![Just(4u8), Just(41u8), Just(59u8), any::<u8>()],
    ) {
        let mut padding: Vec<u8> = (1..=pad).collect();
        if let (Some(i), false) = (broken_pad, padding.is_empty()) {
            let i = i.index(padding.len());
            padding[i] = padding[i].wrapping_add(1);
        }
        let pad_len = (i16::from(pad) + pad_len_delta).clamp(0, 255) as u8;
        decapsulate_sealed(&input(sel, inner, &padding, pad_len, next_header));
    }
}
