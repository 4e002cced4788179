//! The inbound coalescer per packet: one GRO train's worth of decrypted TCP segments (45 of
//! MSS 1348 with the timestamp option, as the benchmark's bulk stream sends them) pushed into
//! `io::tun_gro::Coalescer` and flushed as one super-packet into a writer that only looks at
//! its length. Per segment: the shape checks, the comparison with the pending packet's
//! headers and the copy of the payload. Reproduce with:
//!
//! `cargo bench -p gateway --bench coalesce`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gateway::io::tun_gro::Coalescer;

const MSS: usize = 1348;
const SEGMENTS: usize = 45;

fn segments() -> Vec<Vec<u8>> {
    (0..SEGMENTS)
        .map(|k| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ipv4([10, 0, 1, 10], [10, 1, 0, 20], 63)
                .tcp(50000, 445, 1 + (k * MSS) as u32, 65535)
                .ack(77)
                .options(&[etherparse::TcpOptionElement::Timestamp(5, 6)])
                .expect("timestamp option")
                .write(&mut v, &vec![k as u8; MSS])
                .expect("segment");
            v
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let segs = segments();
    let mut g = c.benchmark_group("coalesce a GRO train");
    g.throughput(Throughput::Elements(SEGMENTS as u64));
    let mut co = Coalescer::tcp();
    g.bench_function("45 TCP segments into one super-packet", |b| {
        b.iter(|| {
            let mut written = 0;
            for s in &segs {
                let r = co.push_with(black_box(s), |buf| {
                    written += buf.len();
                    Ok(buf.len())
                });
                debug_assert!(matches!(r, Some(Ok(()))));
            }
            co.flush_with(|buf| {
                written += buf.len();
                Ok(buf.len())
            })
            .expect("flush");
            black_box(written)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
