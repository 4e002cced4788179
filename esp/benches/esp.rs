//! ESP encapsulation/decapsulation throughput per suite and packet size, beside a raw ring
//! AES-256-GCM seal+open of the same plaintext length (ESP payload + trailer), so the
//! overhead beyond the cipher is visible.
//!
//! `cargo bench -p esp --bench esp -- --measurement-time 2 --warm-up-time 1`

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use esp::suite::{AesKeySize, Integrity};
use esp::{InboundSa, NextHeader, OutboundSa, SaConfig, Suite};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

const SIZES: [usize; 4] = [64, 512, 1400, 8900];

fn suites() -> Vec<Suite> {
    use AesKeySize::*;
    vec![
        Suite::AesGcm16(Aes128),
        Suite::AesGcm16(Aes192),
        Suite::AesGcm16(Aes256),
        Suite::AesCbc(Aes128, Integrity::HmacSha1_96),
        Suite::AesCbc(Aes256, Integrity::HmacSha256_128),
        Suite::AesCbc(Aes256, Integrity::HmacSha384_192),
        Suite::AesCbc(Aes256, Integrity::HmacSha512_256),
    ]
}

fn sa_pair(suite: Suite) -> (OutboundSa, InboundSa) {
    let cfg = SaConfig {
        esn: true,
        ..SaConfig::new(0x1000, suite)
    };
    let k: Vec<u8> = (0..suite.key_material_len()).map(|i| i as u8).collect();
    (
        OutboundSa::new(&cfg, &k).unwrap(),
        InboundSa::new(&cfg, &k).unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    for size in SIZES {
        let mut g = c.benchmark_group(format!("{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        for suite in suites() {
            let (out, inb) = sa_pair(suite);
            let mut buf = vec![0x45u8; esp::MAX_HEADROOM + size + esp::MAX_TAILROOM];
            let inner = esp::MAX_HEADROOM..esp::MAX_HEADROOM + size;
            g.bench_function(BenchmarkId::new("encap", suite), |b| {
                b.iter(|| {
                    black_box(
                        out.encapsulate(&mut buf, inner.clone(), NextHeader::Ipv4)
                            .unwrap(),
                    );
                })
            });
            g.bench_function(BenchmarkId::new("encap+decap", suite), |b| {
                b.iter(|| {
                    let e = out
                        .encapsulate(&mut buf, inner.clone(), NextHeader::Ipv4)
                        .unwrap();
                    black_box(inb.decapsulate(&mut buf[e.esp]).unwrap());
                })
            });
            g.bench_function(BenchmarkId::new("decap", suite), |b| {
                b.iter_batched_ref(
                    || {
                        let mut v = buf.clone();
                        let e = out
                            .encapsulate(&mut v, inner.clone(), NextHeader::Ipv4)
                            .unwrap();
                        v.truncate(e.esp.end);
                        v.drain(..e.esp.start);
                        v
                    },
                    |pkt| black_box(inb.decapsulate(pkt).unwrap()),
                    BatchSize::SmallInput,
                )
            });
        }
        // Raw ring AES-256-GCM over the same plaintext length ESP encrypts (payload, padding,
        // pad length, next header) with the same 12-byte AAD (SPI || 64-bit ESN).
        let suite = Suite::AesGcm16(AesKeySize::Aes256);
        let plain_len = size + suite.pad_len(size) + 2;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
        let mut data = vec![0x45u8; plain_len];
        let aad = [1u8; 12];
        let mut n = 0u64;
        let nonce = |n: u64| {
            let mut b = [0u8; 12];
            b[4..].copy_from_slice(&n.to_be_bytes());
            Nonce::assume_unique_for_key(b)
        };
        g.bench_function("raw ring aes256gcm seal", |b| {
            b.iter(|| {
                n += 1;
                let _tag = black_box(
                    key.seal_in_place_separate_tag(nonce(n), Aad::from(&aad), &mut data)
                        .unwrap(),
                );
            })
        });
        g.bench_function("raw ring aes256gcm seal+open", |b| {
            b.iter(|| {
                n += 1;
                let tag = key
                    .seal_in_place_separate_tag(nonce(n), Aad::from(&aad), &mut data)
                    .unwrap();
                black_box(
                    key.open_in_place_separate_tag(nonce(n), Aad::from(&aad), tag, &mut data, 0..)
                        .unwrap(),
                );
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
