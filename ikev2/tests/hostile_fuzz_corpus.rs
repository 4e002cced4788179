//! Replays the committed corpora (ikev2/fuzz/corpus/<target>/) and crash reproducers
//! (ikev2/fuzz/regressions/<target>/) of the cargo-fuzz targets through the same bodies on
//! stable Rust, so everything the fuzzers found worth keeping is a regression test.
//!
//! `write_seed_corpora` (ignored; run with `--ignored`) regenerates the `seed-*` files from the
//! real strongSwan captures in ikev2/tests/fixtures/strongswan/ (SK payloads decrypted with
//! their keys.txt).

#[path = "../fuzz/common/exchange.rs"]
mod exchange;
#[path = "../fuzz/common/mallory.rs"]
mod mallory;
#[path = "../fuzz/common/payloads.rs"]
mod payloads;
#[path = "../fuzz/common/responder.rs"]
mod responder;
#[path = "../fuzz/common/sk_body.rs"]
mod sk_body;

use ikev2::crypto::{IkeCipher, Integ, SkProtector};
use ikev2::wire::{self, Payload};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Run `body` over the corpus and regressions of `target`; returns how many inputs ran.
fn replay(target: &str, body: impl Fn(&[u8])) -> usize {
    let mut n = 0;
    for sub in ["fuzz/corpus", "fuzz/regressions"] {
        for f in files(&root().join(sub).join(target)) {
            let data = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&data)));
            assert!(r.is_ok(), "{} panics", f.display());
            n += 1;
        }
    }
    println!("{target}: {n} inputs replayed");
    n
}

#[test]
fn decode_payloads_corpus() {
    assert!(
        replay("decode_payloads", |d| {
            payloads::check(d);
        }) > 0
    );
}

#[test]
fn responder_corpus() {
    assert!(replay("responder", responder::run) > 0);
}

#[test]
fn sk_body_corpus() {
    assert!(replay("sk_body", sk_body::run) > 0);
}

#[test]
fn exchange_corpus() {
    assert!(
        replay("exchange", |d| {
            exchange::run(d);
        }) > 0
    );
    // The seeds reach the interesting end state (both established, keys compared).
    let seed = std::fs::read(root().join("fuzz/corpus/exchange/seed-initiate-deliver")).unwrap();
    assert!(exchange::run(&seed), "the basic seed does not establish");
}

fn keys(set: &str) -> std::collections::HashMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(
        root()
            .join("tests/fixtures/strongswan")
            .join(set)
            .join("keys.txt"),
    )
    .unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| {
            let v = v.trim();
            let bytes: Option<Vec<u8>> = (0..v.len() / 2)
                .map(|i| u8::from_str_radix(v.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            Some((k.trim().to_string(), bytes?))
        })
        .collect()
}

/// (file stem, message bytes, decrypted inner chain as (first payload type, bytes)).
type Fixture = (String, Vec<u8>, Option<(u8, Vec<u8>)>);

fn fixture_messages(set: &str) -> Vec<Fixture> {
    let k = keys(set);
    let (cipher, integ) = if set == "gcm-ecp384" {
        (IkeCipher::AesGcm16 { key_bits: 256 }, None)
    } else {
        (
            IkeCipher::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha1_96),
        )
    };
    let prot = |e: &str, a: &str| {
        SkProtector::new(cipher, &k[e], integ, integ.map(|_| k[a].as_slice())).unwrap()
    };
    let (from_i, from_r) = (prot("sk_ei", "sk_ai"), prot("sk_er", "sk_ar"));
    let dir = root().join("tests/fixtures/strongswan").join(set);
    files(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let m = wire::decode_message(&bytes).unwrap();
            let inner = match m.payloads.last() {
                Some(Payload::Sk(sk)) => {
                    let prot = if m.header.flags.initiator() {
                        &from_i
                    } else {
                        &from_r
                    };
                    let plain = prot.open(&bytes, sk.body.len()).unwrap();
                    Some((sk.first_inner.0, plain.to_vec()))
                }
                _ => None,
            };
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, bytes, inner)
        })
        .collect()
}

fn sel_of(kind: u8) -> u8 {
    payloads::TYPES
        .iter()
        .position(|t| *t == kind)
        .map_or(kind, |i| i as u8)
}

#[test]
#[ignore = "writes the seed corpora; run by hand after changing the fixtures or the bodies"]
fn write_seed_corpora() {
    let out = |target: &str, name: &str, data: &[u8]| {
        let dir = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    };
    for set in ["azure-default", "gcm-ecp384"] {
        for (name, bytes, inner) in fixture_messages(set) {
            let tag = format!("{set}-{name}");
            // decode_payloads: the outer chain, and the decrypted inner chain.
            let mut d = vec![sel_of(bytes[16])];
            d.extend_from_slice(&bytes[28..]);
            out("decode_payloads", &format!("{tag}-outer"), &d);
            if let Some((first, plain)) = &inner {
                let mut d = vec![sel_of(*first)];
                d.extend_from_slice(plain);
                out("decode_payloads", &format!("{tag}-inner"), &d);
                // sk_body: the same inner chain sealed in the matching exchange, both suites.
                let mode = match bytes[18] {
                    35 => 0u8,
                    37 => 1,
                    _ => 2,
                };
                for cbc in [0u8, 4] {
                    let mut d = vec![mode | cbc, sel_of(*first)];
                    d.extend_from_slice(plain);
                    out(
                        "sk_body",
                        &format!("{tag}-{}", if cbc == 0 { "gcm" } else { "cbc" }),
                        &d,
                    );
                }
            }
            // responder: the real message, as is (mode 0) and on the live SA (modes 1, 2).
            for mode in 0..3u8 {
                let flags = if mode == 0 { 0u8 } else { 1 } | if bytes[18] == 34 { 0 } else { 2 };
                let mut d = vec![mode, flags];
                d.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                d.extend_from_slice(&bytes);
                out("responder", &format!("{tag}-m{mode}"), &d);
            }
        }
    }
    // exchange: A initiates and everything is delivered in order; with drops; with time.
    out(
        "exchange",
        "initiate-deliver",
        &[0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    out(
        "exchange",
        "initiate-drop-timeout",
        &[0, 5, 2, 4 | (5 << 3), 0, 0, 0, 0, 0, 0],
    );
    out(
        "exchange",
        "both-initiate",
        &[0, 5, 5 | 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    out(
        "exchange",
        "dup-liveness-delete",
        &[0, 5, 3, 0, 0, 0, 0, 0, 6 | 8, 0, 0, 6 | (3 << 4), 0, 0],
    );
}
