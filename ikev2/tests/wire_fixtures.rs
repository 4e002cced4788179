//! Real captures (e.g. strongSwan's, taken with tcpdump) as regression fixtures: every
//! `*.bin` under ikev2/tests/fixtures/ holds one IKE datagram's UDP payload. Each must decode
//! and re-encode byte-identical. A file captured on port 4500 may keep its 4-byte non-ESP
//! marker (RFC 3948 2.2), which is stripped. Adding a file is enough; no fixture, no check.
//! The encrypted ones are opened with the logged keys in `wire_fixtures_sk.rs`.

use ikev2::wire::{decode_message, encode_message, Header};
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "bin") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    files.sort();
    files
}

/// The IKE message inside a captured UDP payload: drop a leading non-ESP marker (four zero
/// bytes) when what follows is a header whose length matches the rest.
fn ike_message(datagram: &[u8]) -> &[u8] {
    if let Some(rest) = datagram.strip_prefix(&[0u8; 4]) {
        if let Some(len) = rest.get(24..Header::LEN) {
            if u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize == rest.len() {
                return rest;
            }
        }
    }
    datagram
}

#[test]
fn wire_fixtures_decode_and_reencode_byte_identical() {
    let files = fixtures();
    // The committed strongSwan captures (tests/fixtures/strongswan/*/, see its README):
    // IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA and INFORMATIONAL, both directions, two suites.
    assert!(
        files.len() >= 20,
        "expected the committed strongSwan fixtures, found {}",
        files.len()
    );
    for f in &files {
        let raw = std::fs::read(f).expect("read fixture");
        let bytes = ike_message(&raw);
        let m = decode_message(bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            encode_message(&m),
            bytes,
            "{} re-encodes differently",
            f.display()
        );
    }
    println!("{} fixtures round-trip", files.len());
}

#[test]
fn wire_fixtures_non_esp_marker_is_stripped() {
    // A 28-byte header-only message (length 28) behind a non-ESP marker.
    let mut msg = vec![0u8; 4];
    msg.extend_from_slice(&[1; 16]);
    msg.extend_from_slice(&[0, 0x20, 37, 0x08, 0, 0, 0, 0, 0, 0, 0, 28]);
    assert_eq!(ike_message(&msg).len(), 28);
    assert!(decode_message(ike_message(&msg)).is_ok());
    // Without the marker the bytes are kept as they are.
    assert_eq!(ike_message(&msg[4..]), &msg[4..]);
}
