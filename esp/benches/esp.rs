//! ESP encapsulation/decapsulation cost for every suite at 64, 512, 1400 and 8900 bytes, each
//! beside the raw cipher work of the same packet, so the overhead beyond the cipher is
//! visible.
//!
//! "raw seal+open" does exactly the cryptography of one ESP packet and nothing else, in the
//! same buffer layout (`MAX_HEADROOM + size + MAX_TAILROOM`), over the same plaintext length
//! (payload, padding, pad length, next header) and with the same authenticated data as the
//! SAs here (ESN on: 12-byte AAD for GCM; SPI .. ciphertext plus the 4 high sequence bytes for
//! HMAC):
//! * AES-128/256-GCM: ring `seal_in_place_separate_tag` + `open_in_place_separate_tag`;
//!   AES-192-GCM: RustCrypto `aes-gcm` detached encrypt + decrypt (what the crate uses).
//! * AES-CBC + HMAC: RustCrypto AES-CBC encrypt, ring HMAC sign (truncated ICV copied), then
//!   HMAC sign + constant-time compare and CBC decrypt, with a fixed IV.
//!
//! "encap+decap" encapsulates into the buffer and decapsulates the result in place, so the
//! pair "encap+decap" / "raw seal+open" is an apples-to-apples ratio. Reproduce with:
//!
//! `cargo bench -p esp --bench esp -- --warm-up-time 0.5 --measurement-time 1`
//!
//! and the focused 1.2x goal comparison (AES-256-GCM, 1400 B) with:
//!
//! `cargo bench -p esp --bench esp -- '1400B/(encap\+decap|raw seal\+open)/aes256gcm16$'`
//!
//! The two AES-GCM implementations (`esp::GcmBackend`, which the daemon picks at start by
//! timing both) side by side, encap+decap per suite and size:
//!
//! `cargo bench -p esp --bench esp -- 'gcm-backend'`
//!
//! On a loaded machine prefer `benches/interleaved.rs` (same operations, timed alternately
//! in short rounds so that load cancels out); the README's table comes from it.

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use esp::suite::AesKeySize;
use esp::{
    GcmBackend, InboundSa, NextHeader, OutboundSa, SaConfig, Suite, MAX_HEADROOM, MAX_TAILROOM,
};

#[path = "common/raw.rs"]
mod raw;
use raw::{sa_pair, Raw};

const SIZES: [usize; 4] = [64, 512, 1400, 8900];

fn bench(c: &mut Criterion) {
    for size in SIZES {
        let mut g = c.benchmark_group(format!("{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        for suite in Suite::all() {
            let (out, inb) = sa_pair(suite);
            let mut buf = vec![0x45u8; MAX_HEADROOM + size + MAX_TAILROOM];
            let inner = MAX_HEADROOM..MAX_HEADROOM + size;
            g.bench_function(BenchmarkId::new("encap", suite), |b| {
                b.iter(|| {
                    black_box(
                        out.encapsulate(&mut buf, inner.clone(), NextHeader::Ipv4)
                            .unwrap(),
                    );
                })
            });
            g.bench_function(BenchmarkId::new("decap", suite), |b| {
                b.iter_batched_ref(
                    || {
                        let mut v = buf.clone();
                        let e = out
                            .encapsulate(&mut v, inner.clone(), NextHeader::Ipv4)
                            .unwrap();
                        (v, e.esp)
                    },
                    |(v, esp)| black_box(inb.decapsulate(&mut v[esp.clone()]).unwrap()),
                    BatchSize::SmallInput,
                )
            });
            g.bench_function(BenchmarkId::new("encap+decap", suite), |b| {
                b.iter(|| {
                    let e = out
                        .encapsulate(&mut buf, inner.clone(), NextHeader::Ipv4)
                        .unwrap();
                    black_box(inb.decapsulate(&mut buf[e.esp]).unwrap());
                })
            });
            // Same buffer, same packet region as the ESP packet above.
            let raw = Raw::new(suite);
            let esp_range =
                MAX_HEADROOM - suite.headroom()..MAX_HEADROOM + size + suite.tailroom(size);
            let mut seq = 0u64;
            g.bench_function(BenchmarkId::new("raw seal+open", suite), |b| {
                b.iter(|| {
                    seq += 1;
                    raw.seal_open(&mut buf[esp_range.clone()], suite.iv_len(), seq);
                    black_box(&buf);
                })
            });
        }
        g.finish();
    }
}

/// encap+decap of the AES-GCM suites with each backend.
fn backends(c: &mut Criterion) {
    for size in [64usize, 1400, 8900] {
        let mut g = c.benchmark_group(format!("gcm-backend/{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        for key in [AesKeySize::Aes128, AesKeySize::Aes192, AesKeySize::Aes256] {
            let suite = Suite::AesGcm16(key);
            for backend in GcmBackend::ALL {
                let cfg = SaConfig {
                    esn: true,
                    gcm_backend: backend,
                    ..SaConfig::new(raw::SPI, suite)
                };
                let k = raw::keymat(suite);
                let out = OutboundSa::new(&cfg, &k).unwrap();
                let inb = InboundSa::new(&cfg, &k).unwrap();
                let mut buf = vec![0x45u8; MAX_HEADROOM + size + MAX_TAILROOM];
                let inner = MAX_HEADROOM..MAX_HEADROOM + size;
                g.bench_function(BenchmarkId::new(backend.name(), suite), |b| {
                    b.iter(|| {
                        let e = out
                            .encapsulate(&mut buf, inner.clone(), NextHeader::Ipv4)
                            .unwrap();
                        black_box(inb.decapsulate(&mut buf[e.esp]).unwrap());
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench, backends);
criterion_main!(benches);
