//! Shared by the cargo-fuzz target `decapsulate_sealed` and the corpus replay test
//! (esp/tests/decap_sealed_trailer.rs), so both run exactly the same code.
//!
//! Mutated bytes sent to `decapsulate` almost never pass the ICV, so the checks behind it
//! (RFC 4303 section 2.4 padding, pad length, section 2.6 / 3.4.4.1 next header) would only
//! ever see valid trailers. Here the fuzzer chooses the *plaintext* instead: it is sealed
//! with a live SA's keys (`OutboundSa::seal_plaintext`), so every input is authentic and
//! reaches the trailer parser with arbitrary payload, padding, pad length and next header.
//! The result must equal an independent model of the RFC's rules.

use esp::{DecapError, InboundSa, InnerProto, OutboundSa, Payload, SaConfig, Suite};

/// Plaintexts longer than this are cut (jumbo frames add nothing to the trailer logic).
const MAX_PLAINTEXT: usize = 9216;

/// What decapsulating `plain` (payload || padding || pad length || next header) must give,
/// by RFC 4303: at least pad length and next header present, pad length within the
/// plaintext, padding bytes 1, 2, 3, ... (section 2.4), next header 4 or 41 for a tunnel
/// packet and 59 for a dummy (section 2.6); anything else is an error.
fn model(suite: Suite, head: usize, plain: &[u8]) -> Result<Payload, DecapError> {
    let min = match suite {
        Suite::AesCbc(..) => 16,
        Suite::AesGcm16(_) => 2,
    };
    if plain.len() < min {
        return Err(DecapError::Truncated);
    }
    let n = plain.len();
    let pad_len = usize::from(plain[n - 2]);
    let next_header = plain[n - 1];
    if pad_len > n - 2 {
        return Err(DecapError::BadPadding);
    }
    let inner_len = n - 2 - pad_len;
    for (i, &b) in plain[inner_len..n - 2].iter().enumerate() {
        if usize::from(b) != i + 1 {
            return Err(DecapError::BadPadding);
        }
    }
    let range = head..head + inner_len;
    match next_header {
        4 => Ok(Payload::Inner {
            proto: InnerProto::Ipv4,
            range,
        }),
        41 => Ok(Payload::Inner {
            proto: InnerProto::Ipv6,
            range,
        }),
        59 => Ok(Payload::Dummy),
        other => Err(DecapError::BadNextHeader(other)),
    }
}

/// The body of the fuzz target: byte 0 picks a suite (low bits) and ESN (bit 7), the rest is
/// the plaintext (cut to whole AES blocks for CBC suites).
pub fn decapsulate_sealed(data: &[u8]) {
    let Some((&sel, plain)) = data.split_first() else {
        return;
    };
    let suites = Suite::all();
    let suite = suites[usize::from(sel & 0x7f) % suites.len()];
    let esn = sel & 0x80 != 0;
    let mut plain = &plain[..plain.len().min(MAX_PLAINTEXT)];
    if let Suite::AesCbc(..) = suite {
        plain = &plain[..plain.len() - plain.len() % 16];
    }
    let cfg = SaConfig {
        esn,
        replay_window: 64,
        ..SaConfig::new(0x0000_1234, suite)
    };
    let k = vec![0x42u8; suite.key_material_len()];
    let out = OutboundSa::new(&cfg, &k).unwrap();
    let inb = InboundSa::new(&cfg, &k).unwrap();

    let head = suite.headroom();
    let mut buf = vec![0u8; head + plain.len() + suite.icv_len()];
    buf[head..head + plain.len()].copy_from_slice(plain);
    let e = out
        .seal_plaintext(&mut buf, head..head + plain.len())
        .unwrap();
    assert_eq!(e.esp, 0..buf.len());
    let expected = model(suite, head, plain);
    let got = inb.decapsulate(&mut buf).map(|d| {
        assert_eq!(d.seq, e.seq);
        d.payload
    });
    assert_eq!(got, expected, "{suite} esn={esn}");
    let s = inb.stats();
    match got {
        Ok(Payload::Inner { range, .. }) => {
            // The inner packet is the decrypted payload, in place.
            assert_eq!(&buf[range.clone()], &plain[..range.len()]);
            assert_eq!((s.packets, s.bytes), (1, range.len() as u64));
        }
        Ok(Payload::Dummy) => assert_eq!((s.packets, s.dummy), (1, 1)),
        Err(DecapError::Truncated) => assert_eq!(s.truncated, 1),
        Err(DecapError::BadPadding) => assert_eq!(s.bad_padding, 1),
        Err(DecapError::BadNextHeader(_)) => assert_eq!(s.bad_next_header, 1),
        Err(other) => panic!("authentic packet rejected as {other:?}"),
    }
}
