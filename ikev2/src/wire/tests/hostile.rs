//! Hostile shapes: each length and count the RFC defines, made to lie; and properties that
//! arbitrary or mutated input never panics and, when it decodes, re-encodes stably.

use super::golden::*;
use super::strategies::*;
use crate::wire::*;
use proptest::prelude::*;

/// Rewrite the header's Length field (RFC 7296 3.1, bytes 24..28) to the datagram length, so
/// a mutation deep in the chain is what the decoder meets.
fn fix_length(bytes: &mut [u8]) {
    if bytes.len() >= Header::LEN {
        let n = bytes.len() as u32;
        bytes[24..28].copy_from_slice(&n.to_be_bytes());
    }
}

/// HDR (next payload `first`) followed by `chain`, with a correct length.
fn message_with(first: u8, chain: &[u8]) -> Vec<u8> {
    let mut b = ike_sa_init_request()[..Header::LEN].to_vec();
    b[16] = first;
    b.extend_from_slice(chain);
    fix_length(&mut b);
    b
}

// Offsets in the golden IKE_SA_INIT request (see golden.rs).
const SA_HDR: usize = 28;
const PROPOSAL: usize = SA_HDR + 4;
const FIRST_TRANSFORM: usize = PROPOSAL + 8;

fn syntax(bytes: &[u8]) -> bool {
    matches!(decode_message(bytes), Err(DecodeError::Syntax(_)))
}

#[test]
fn header_too_short() {
    let b = ike_sa_init_request();
    assert_eq!(
        decode_header(&b[..27]),
        Err(DecodeError::Truncated { need: 28, have: 27 })
    );
    assert_eq!(
        decode_message(&[]),
        Err(DecodeError::Truncated { need: 28, have: 0 })
    );
}

#[test]
fn header_length_must_equal_datagram_length() {
    let b = ike_sa_init_request();
    let field = "IKE header length";
    let mut longer = b.clone();
    longer.push(0);
    assert_eq!(
        decode_message(&longer),
        Err(DecodeError::BadLength { field, value: 432 })
    );
    assert_eq!(
        decode_message(&b[..431]),
        Err(DecodeError::BadLength { field, value: 432 })
    );
    let mut short = b.clone();
    short[24..28].copy_from_slice(&27u32.to_be_bytes());
    assert_eq!(
        decode_header(&short),
        Err(DecodeError::BadLength { field, value: 27 })
    );
}

#[test]
fn only_major_version_2() {
    for (v, ok) in [
        (0x20, true),
        (0x21, true),
        (0x2f, true),
        (0x10, false),
        (0x30, false),
        (0x00, false),
    ] {
        let mut b = ike_sa_init_request();
        b[17] = v;
        let r = decode_message(&b);
        assert_eq!(r.is_ok(), ok, "version {v:#x}: {r:?}");
        if !ok {
            assert_eq!(r.unwrap_err(), DecodeError::Version(v));
            assert_eq!(decode_header(&b), Err(DecodeError::Version(v)));
        }
    }
}

#[test]
fn payload_length_past_the_message() {
    let mut b = ike_sa_init_request();
    b[SA_HDR + 2..SA_HDR + 4].copy_from_slice(&0xffffu16.to_be_bytes());
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "payload length",
            value: 0xffff
        })
    );
    // The last payload one byte longer than what is left.
    let mut b = ike_sa_init_request();
    let last = b.len() - 28;
    b[last + 3] += 1;
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "payload length",
            value: 29
        })
    );
}

#[test]
fn payload_length_below_generic_header() {
    for len in [0u16, 3] {
        let mut b = ike_sa_init_request();
        b[SA_HDR + 2..SA_HDR + 4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            decode_message(&b),
            Err(DecodeError::BadLength {
                field: "payload length",
                value: usize::from(len)
            })
        );
    }
}

#[test]
fn chain_must_end_with_the_datagram() {
    // Next Payload NONE but bytes follow.
    let mut b = ike_sa_init_request();
    b.extend_from_slice(&[0, 0, 0, 4]);
    fix_length(&mut b);
    assert_eq!(decode_message(&b), Err(DecodeError::TrailingBytes(4)));
    // Next Payload names a payload but the datagram ends.
    assert!(matches!(
        decode_message(&message_with(33, &[])),
        Err(DecodeError::Truncated { .. })
    ));
    // Inner chain likewise.
    assert_eq!(
        decode_payloads(PayloadType::NONCE, &[0, 0, 0, 4, 9]),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn proposal_transform_count_mismatch() {
    for count in [0u8, 3, 5, 255] {
        let mut b = ike_sa_init_request();
        b[PROPOSAL + 7] = count;
        assert!(syntax(&b), "count {count}: {:?}", decode_message(&b));
    }
}

#[test]
fn last_substruc_flags_checked() {
    // Proposal says "more" (2) but is the last one.
    let mut b = ike_sa_init_request();
    b[PROPOSAL] = 2;
    assert!(syntax(&b));
    // Proposal Last Substruc neither 0 nor 2 (3 is the transform value).
    b[PROPOSAL] = 3;
    assert!(syntax(&b));
    // First transform says "last" (0) though three more follow.
    let mut b = ike_sa_init_request();
    b[FIRST_TRANSFORM] = 0;
    assert!(syntax(&b));
}

#[test]
fn substructure_lengths_checked_against_parent() {
    // Proposal length beyond the SA payload.
    let mut b = ike_sa_init_request();
    b[PROPOSAL + 3] = 45;
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "proposal length",
            value: 45
        })
    );
    // Proposal length shorter than its fixed part.
    b[PROPOSAL + 3] = 7;
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "proposal length",
            value: 7
        })
    );
    // Transform length beyond the proposal.
    let mut b = ike_sa_init_request();
    b[FIRST_TRANSFORM + 3] = 200;
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "transform length",
            value: 200
        })
    );
    // TLV attribute longer than its transform: turn the key-length TV into a TLV.
    let mut b = ike_sa_init_request();
    b[FIRST_TRANSFORM + 8] = 0x00;
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::BadLength {
            field: "attribute length",
            value: 256
        })
    );
    // SA payload without proposals.
    assert!(syntax(&message_with(33, &[0, 0, 0, 4])));
}

#[test]
fn sk_must_be_last() {
    // HDR, SK, Nonce: the SK's Next Payload names its first inner payload, so the nonce
    // after it has no place in the chain.
    let mut b = ike_auth_request_sealed();
    b.extend_from_slice(&[0, 0, 0, 8, 1, 2, 3, 4]);
    fix_length(&mut b);
    assert_eq!(
        decode_message(&b),
        Err(DecodeError::Syntax("SK payload is not the last payload"))
    );
    // Same with SKF.
    let mut b = skf_fragment();
    b.extend_from_slice(&[0, 0, 0, 4]);
    fix_length(&mut b);
    assert!(syntax(&b));
    // But an SK payload after plain ones is fine (e.g. HDR, N(COOKIE)... is not, but the
    // codec leaves exchange rules to the state machine).
    let m = decode_message(&message_with(
        40,
        &[46, 0, 0, 8, 1, 2, 3, 4, 35, 0, 0, 6, 9, 9],
    ))
    .unwrap();
    assert_eq!(m.payloads.len(), 2);
}

#[test]
fn sk_cannot_nest() {
    let sk = [35, 0, 0, 6, 9, 9];
    assert_eq!(
        decode_payloads(PayloadType::SK, &sk),
        Err(DecodeError::Syntax("SK payload nested inside SK"))
    );
    let skf = [0, 0, 0, 8, 0, 1, 0, 1];
    assert!(matches!(
        decode_payloads(PayloadType::SKF, &skf),
        Err(DecodeError::Syntax(_))
    ));
    // Nested after a plain inner payload too.
    let chain = [46, 0, 0, 5, 7, 35, 0, 0, 6, 9, 9];
    assert!(matches!(
        decode_payloads(PayloadType::NONCE, &chain),
        Err(DecodeError::Syntax(_))
    ));
}

#[test]
fn skf_fragment_numbers() {
    for (num, total, ok) in [
        (1u16, 1u16, true),
        (3, 3, true),
        (0, 3, false),
        (4, 3, false),
        (1, 0, false),
    ] {
        let mut chain = vec![46, 0, 0, 10];
        chain.extend_from_slice(&num.to_be_bytes());
        chain.extend_from_slice(&total.to_be_bytes());
        chain.extend_from_slice(&[0xab, 0xcd]);
        let r = decode_message(&message_with(53, &chain));
        assert_eq!(r.is_ok(), ok, "{num}/{total}: {r:?}");
    }
    // SKF shorter than its fixed part.
    assert!(matches!(
        decode_message(&message_with(53, &[0, 0, 0, 6, 0, 1])),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn traffic_selector_lengths_and_types() {
    // TSi body: 1 selector, TS_IPV4_ADDR_RANGE with the given length and type.
    let ts = |ty: u8, len: u16, addr_bytes: usize| {
        let mut body = vec![1, 0, 0, 0, ty, 0];
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0xff, 0xff]);
        body.extend(std::iter::repeat_n(10u8, addr_bytes));
        let mut chain = vec![0, 0];
        chain.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        chain.extend_from_slice(&body);
        decode_payloads(PayloadType::TSI, &chain)
    };
    assert!(ts(7, 16, 8).is_ok());
    assert!(ts(8, 40, 32).is_ok());
    let bad = |value| {
        Err(DecodeError::BadLength {
            field: "selector length",
            value,
        })
    };
    assert_eq!(ts(7, 17, 9), bad(17));
    assert_eq!(ts(7, 40, 32), bad(40));
    assert_eq!(ts(8, 16, 8), bad(16));
    assert_eq!(
        ts(9, 16, 8),
        Err(DecodeError::Syntax("unknown traffic selector type"))
    );
    // Selector claims 16 bytes but the payload ends early.
    assert!(matches!(ts(7, 16, 4), Err(DecodeError::BadLength { .. })));
    // Number of TSs says 2, one present; says 1, two present.
    let one = [
        0, 0, 0, 24, 2, 0, 0, 0, 7, 0, 0, 16, 0, 0, 0xff, 0xff, 1, 1, 1, 1, 2, 2, 2, 2,
    ];
    assert!(decode_payloads(PayloadType::TSI, &one).is_err());
    let mut two = one.to_vec();
    two[4] = 1;
    two.extend_from_slice(&one[8..]);
    two[3] = two.len() as u8;
    assert_eq!(
        decode_payloads(PayloadType::TSI, &two),
        Err(DecodeError::TrailingBytes(16))
    );
}

#[test]
fn delete_count_times_size_must_fill_payload() {
    let del = |body: &[u8]| {
        let mut chain = vec![0, 0, 0, 4 + body.len() as u8];
        chain.extend_from_slice(body);
        decode_payloads(PayloadType::DELETE, &chain)
    };
    // ESP, SPI size 4, 2 SPIs.
    assert!(del(&[3, 4, 0, 2, 1, 1, 1, 1, 2, 2, 2, 2]).is_ok());
    let bad = |value| {
        Err(DecodeError::BadLength {
            field: "number of SPIs",
            value,
        })
    };
    assert_eq!(del(&[3, 4, 0, 2, 1, 1, 1, 1]), bad(2));
    assert_eq!(del(&[3, 4, 0, 1, 1, 1, 1, 1, 2]), bad(1));
    assert_eq!(del(&[3, 4, 0xff, 0xff, 1, 1, 1, 1]), bad(0xffff));
    // IKE: SPI size 0 with SPIs claimed.
    assert_eq!(del(&[1, 0, 0, 0]).map(|p| p.len()), Ok(1));
    assert!(matches!(
        del(&[1, 0, 0xff, 0xff]),
        Err(DecodeError::Syntax(_))
    ));
}

#[test]
fn key_exchange_data_required() {
    let mut ke = vec![0, 0, 0, 8, 0, 14, 0, 0];
    assert_eq!(
        decode_payloads(PayloadType::KE, &ke),
        Err(DecodeError::Syntax("KE payload without key exchange data"))
    );
    ke[3] = 4;
    ke.truncate(4);
    assert!(matches!(
        decode_payloads(PayloadType::KE, &ke),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn fixed_parts_truncated() {
    // Payload bodies shorter than their fixed fields: ID, AUTH, Notify, Delete, TS, CERT.
    for (kind, body) in [
        (PayloadType::IDI, &[2, 0, 0][..]),
        (PayloadType::AUTH, &[2][..]),
        (PayloadType::NOTIFY, &[0, 4, 0x40][..]),
        (PayloadType::NOTIFY, &[0, 4, 0x40, 0x00, 1, 2, 3][..]),
        (PayloadType::DELETE, &[3, 4, 0][..]),
        (PayloadType::TSI, &[1, 0][..]),
        (PayloadType::CERT, &[][..]),
    ] {
        let mut chain = vec![0, 0, 0, 4 + body.len() as u8];
        chain.extend_from_slice(body);
        let r = decode_payloads(kind, &chain);
        assert!(
            matches!(r, Err(DecodeError::Truncated { .. })),
            "{kind:?} {body:?}: {r:?}"
        );
    }
}

#[test]
fn payload_count_capped() {
    let chain = |n: usize| {
        let mut c = Vec::new();
        for i in 0..n {
            c.extend_from_slice(&[if i + 1 == n { 0 } else { 40 }, 0, 0, 5, i as u8]);
        }
        c
    };
    assert_eq!(
        decode_message(&message_with(40, &chain(MAX_PAYLOADS))).map(|m| m.payloads.len()),
        Ok(64)
    );
    assert_eq!(
        decode_message(&message_with(40, &chain(MAX_PAYLOADS + 1))),
        Err(DecodeError::TooMany(64))
    );
    assert_eq!(
        decode_message(&message_with(40, &chain(1000))),
        Err(DecodeError::TooMany(64))
    );
    assert_eq!(
        decode_payloads(PayloadType::NONCE, &chain(65)),
        Err(DecodeError::TooMany(64))
    );
}

/// When `bytes` decodes, its re-encoding has the same length and decodes to the same message
/// (the codec drops only reserved bits and critical bits of known payloads).
fn check_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = decode_message(bytes) {
        let again = encode_message(&m);
        prop_assert_eq!(again.len(), bytes.len());
        prop_assert_eq!(decode_message(&again), Ok(m));
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    SetU16(usize, u16),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop_oneof![0..16u16, any::<u16>()])
            .prop_map(|(i, v)| Mutation::SetU16(i, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    if b.is_empty() {
        return;
    }
    let n = b.len();
    match *m {
        Mutation::Flip(i, x) => b[i % n] ^= x,
        Mutation::Truncate(i) => b.truncate(i % n),
        Mutation::SetU16(i, v) => {
            let i = i % n;
            for (j, byte) in v.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = b.get_mut(i + j) {
                    *slot = byte;
                }
            }
        }
        Mutation::Insert(i, x) => b.insert(i % n, x),
        Mutation::Remove(i) => {
            b.remove(i % n);
        }
    }
}

fn golden() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(ike_sa_init_request()),
        Just(ike_auth_request_sealed()),
        Just(skf_fragment()),
        message().prop_map(|m| encode_message(&m)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600), first in any::<u8>()) {
        let _ = decode_header(&b);
        let _ = decode_payloads(PayloadType(first), &b);
        check_stable(&b)?;
    }

    #[test]
    fn arbitrary_chain_after_valid_header_never_panics(
        first in any::<u8>(),
        chain in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        check_stable(&message_with(first, &chain))?;
    }

    #[test]
    fn mutated_messages_never_panic(
        base in golden(),
        muts in proptest::collection::vec(mutation(), 1..4),
        keep_length_consistent in any::<bool>(),
    ) {
        let mut b = base;
        for m in &muts {
            apply(&mut b, m);
        }
        if keep_length_consistent {
            fix_length(&mut b);
        }
        check_stable(&b)?;
        if b.len() > Header::LEN {
            let first = b[16];
            let _ = decode_payloads(PayloadType(first), &b[Header::LEN..]);
        }
    }
}
