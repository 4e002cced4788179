//! Segmenting one 64 KiB TCP super-packet (a TUN read with TSO) into 1348-byte-MSS segments
//! spaced for ESP: `dataplane::gso_split::split` (machine-order sums, header sums once)
//! beside tun-rs's `gso_split` (network-order sums of each whole segment), on the same input and output layout
//! as the outbound worker's arena. Reproduce with:
//!
//! `cargo bench -p gateway --bench gso_split`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gateway::dataplane::gso_split::{split, SuperPacket};
use tun_rs::VirtioNetHdr;

const MSS: usize = 1348;
const HEAD: usize = 44;
const STRIDE: usize = 1440;

fn super_packet() -> Vec<u8> {
    let payload = 48 * MSS;
    let mut v = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 0, 1, 10], [10, 1, 0, 20], 64)
        .tcp(50000, 445, 1, 65535)
        .ack(1)
        .write(
            &mut v,
            &(0..payload).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
        )
        .expect("super-packet");
    v
}

fn bench(c: &mut Criterion) {
    let input = super_packet();
    let count = (input.len() - 40).div_ceil(MSS);
    let mut g = c.benchmark_group("gso_split 64KiB TSO");
    g.throughput(Throughput::Bytes(input.len() as u64));
    let sp = SuperPacket {
        tcp: true,
        v6: false,
        l4_start: 20,
        hdr_len: 40,
        gso_size: MSS,
    };
    let mut arena = vec![0u8; STRIDE * count];
    let mut sizes = vec![0usize; count];
    g.bench_function("ipsecgw split (fused copy+sum)", |b| {
        b.iter(|| split(black_box(&input), &sp, &mut arena, STRIDE, HEAD, &mut sizes))
    });
    let hdr = VirtioNetHdr {
        flags: 1,
        gso_type: 1,
        hdr_len: 40,
        gso_size: MSS as u16,
        csum_start: 20,
        csum_offset: 16,
    };
    let mut scratch = input.clone();
    let mut bufs: Vec<&mut [u8]> = arena.chunks_mut(STRIDE).collect();
    g.bench_function("tun-rs gso_split", |b| {
        b.iter(|| {
            tun_rs::gso_split(
                black_box(&mut scratch),
                hdr,
                &mut bufs,
                &mut sizes,
                HEAD,
                false,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
