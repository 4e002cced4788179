//! The check shared by the `decode_message` fuzz target and `ikev2/tests/wire_corpus.rs`:
//! decoding arbitrary bytes must not panic, and when it succeeds, encoding is stable.

use ikev2::wire::{decode_header, decode_message, decode_payloads, encode_message, PayloadType};

/// Decode `bytes` as an IKE message (and its payload area as an inner chain). When the
/// message decodes, its re-encoding has the same length (only reserved bits may differ),
/// decodes to the same message, and re-encodes to the same bytes. Returns whether the
/// message decoded.
pub fn check(bytes: &[u8]) -> bool {
    let _ = decode_header(bytes);
    if let Some((hdr, rest)) = bytes.split_at_checked(28) {
        let _ = decode_payloads(PayloadType(hdr[16]), rest);
    }
    let Ok(m) = decode_message(bytes) else {
        return false;
    };
    let encoded = encode_message(&m);
    assert_eq!(encoded.len(), bytes.len(), "re-encoding changed the length");
    let again = decode_message(&encoded).expect("re-encoded message decodes");
    assert_eq!(again, m, "re-encoded message decodes differently");
    assert_eq!(encode_message(&again), encoded, "encoding is not stable");
    true
}
