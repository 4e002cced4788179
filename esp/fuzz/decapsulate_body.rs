//! Shared by the cargo-fuzz target `decapsulate` and the corpus replay test
//! (esp/tests/decap_hostile_input.rs), so both run exactly the same code.

use esp::{InboundSa, NextHeader, OutboundSa, SaConfig, Suite};

/// The body of the fuzz target: byte 0 picks a suite and ESN, the rest is decapsulated against a live SA
/// that already accepted a few packets.
pub fn decapsulate_arbitrary(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let suites = Suite::all();
    let suite = suites[usize::from(sel) % suites.len()];
    let esn = sel & 0x80 != 0;
    let cfg = SaConfig {
        esn,
        replay_window: 64,
        ..SaConfig::new(0x0000_1234, suite)
    };
    let k = vec![0x42u8; suite.key_material_len()];
    let out = OutboundSa::new(&cfg, &k).unwrap();
    let inb = InboundSa::new(&cfg, &k).unwrap();
    let mut buf = [0u8; 128];
    for _ in 0..3 {
        let e = out.encapsulate(&mut buf, 24..40, NextHeader::Ipv4).unwrap();
        inb.decapsulate(&mut buf[e.esp]).unwrap();
    }
    let mut pkt = rest.to_vec();
    let before = outcomes(&inb);
    let r = inb.decapsulate(&mut pkt);
    // Every call ends in exactly one counted outcome.
    assert_eq!(outcomes(&inb), before + 1);
    if let Ok(d) = r {
        if let esp::Payload::Inner { range, .. } = d.payload {
            assert!(range.end <= pkt.len());
        }
    }
}

fn outcomes(sa: &InboundSa) -> u64 {
    let s = sa.stats();
    s.packets
        + s.truncated
        + s.bad_length
        + s.spi_mismatch
        + s.too_old
        + s.replayed
        + s.bad_icv
        + s.bad_padding
        + s.bad_next_header
        + s.expired
}
