//! Per-packet cost of every suite at 64, 512, 1400 and 8900 bytes, measured so that the load
//! of a shared machine largely cancels out: the four operations of one suite and size
//! (encapsulate, decapsulate, encapsulate+decapsulate, raw seal+open from `common/raw.rs`)
//! are timed alternately in short rounds (about 30 us per operation batch, order rotated
//! every round), and the medians over all rounds are reported, with the median of the
//! per-round ratio "encap+decap / raw seal+open". A round that another process interrupts is
//! an outlier the median ignores; a slow phase of the machine hits all four alike.
//!
//! `cargo bench -p esp --bench interleaved` prints the README's table (all 15 suites);
//! `-- --suite aes256gcm16 --size 1400 --rounds 20001` is the focused 1.2x goal check.
//! `--only esp|raw --iterations N` (with `--suite`/`--size`) runs just one side, for
//! instruction counts: `valgrind --tool=callgrind target/release/deps/interleaved-* --only esp`.

use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use esp::{NextHeader, Suite, MAX_HEADROOM, MAX_TAILROOM};

#[path = "common/raw.rs"]
mod raw;
use raw::{sa_pair, Raw};

const SIZES: [usize; 4] = [64, 512, 1400, 8900];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn fmt(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

struct Result4 {
    encap: f64,
    decap: f64,
    both: f64,
    raw: f64,
    ratio: f64,
    quartiles: (f64, f64),
}

fn measure(
    suite: Suite,
    size: usize,
    rounds: usize,
    only: Option<(&str, usize)>,
) -> Option<Result4> {
    let (out, inb) = sa_pair(suite);
    let raw = Raw::new(suite);
    let len = MAX_HEADROOM + size + MAX_TAILROOM;
    let inner = MAX_HEADROOM..MAX_HEADROOM + size;
    let esp_range = MAX_HEADROOM - suite.headroom()..MAX_HEADROOM + size + suite.tailroom(size);
    let mut raw_seq = 0u64;
    let mut one = vec![0x45u8; len];

    let both = |buf: &mut [u8]| {
        let e = out
            .encapsulate(buf, inner.clone(), NextHeader::Ipv4)
            .unwrap();
        black_box(inb.decapsulate(&mut buf[e.esp]).unwrap());
    };
    let mut raw_op = |buf: &mut [u8]| {
        raw_seq += 1;
        raw.seal_open(&mut buf[esp_range.clone()], suite.iv_len(), raw_seq);
        black_box(&*buf);
    };
    if let Some((side, n)) = only {
        for _ in 0..n {
            match side {
                "esp" => both(&mut one),
                "raw" => raw_op(&mut one),
                other => panic!("--only esp|raw, not {other}"),
            }
        }
        return None;
    }

    // Batch size: about 30 us of encap+decap, at least one packet.
    let t = Instant::now();
    let mut calib = 0usize;
    while t.elapsed() < Duration::from_millis(20) {
        both(&mut one);
        calib += 1;
    }
    let n = (calib * 30 / 20_000).max(1);
    let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| vec![0x45u8; len]).collect();
    let mut ranges: Vec<Range<usize>> = vec![0..0; n];

    let (mut te, mut td, mut tb, mut tr, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut times = [0f64; 4];
        for k in 0..4 {
            let op = (k + round) % 4;
            let t = Instant::now();
            match op {
                // Encapsulate n packets, then decapsulate exactly those.
                0 => {
                    for (b, r) in bufs.iter_mut().zip(ranges.iter_mut()) {
                        *r = out
                            .encapsulate(b, inner.clone(), NextHeader::Ipv4)
                            .unwrap()
                            .esp;
                    }
                }
                1 => {
                    // Decapsulation needs fresh packets: unless op 0 already made this
                    // round's, encapsulate them first, untimed.
                    if times[0] == 0.0 {
                        for (b, r) in bufs.iter_mut().zip(ranges.iter_mut()) {
                            *r = out
                                .encapsulate(b, inner.clone(), NextHeader::Ipv4)
                                .unwrap()
                                .esp;
                        }
                    }
                    let t = Instant::now();
                    for (b, r) in bufs.iter_mut().zip(ranges.iter()) {
                        black_box(inb.decapsulate(&mut b[r.clone()]).unwrap());
                    }
                    times[1] = t.elapsed().as_nanos() as f64 / n as f64;
                    continue;
                }
                2 => {
                    for _ in 0..n {
                        both(&mut one);
                    }
                }
                _ => {
                    for _ in 0..n {
                        raw_op(&mut one);
                    }
                }
            }
            times[op] = t.elapsed().as_nanos() as f64 / n as f64;
        }
        te.push(times[0]);
        td.push(times[1]);
        tb.push(times[2]);
        tr.push(times[3]);
        ratios.push(times[2] / times[3]);
    }
    let ratio = median(&mut ratios);
    let quartiles = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
    Some(Result4 {
        encap: median(&mut te),
        decap: median(&mut td),
        both: median(&mut tb),
        raw: median(&mut tr),
        ratio,
        quartiles,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds").map_or(501, |s| s.parse().unwrap());
    let suite_filter = arg(&args, "--suite");
    let sizes: Vec<usize> =
        arg(&args, "--size").map_or(SIZES.to_vec(), |s| vec![s.parse().unwrap()]);
    let suites: Vec<Suite> = Suite::all()
        .into_iter()
        .filter(|s| suite_filter.as_ref().is_none_or(|f| s.to_string() == *f))
        .collect();
    assert!(!suites.is_empty(), "no suite named {suite_filter:?}");
    let only = arg(&args, "--only");
    let iterations: usize = arg(&args, "--iterations").map_or(20_000, |s| s.parse().unwrap());
    if let Some(side) = only.as_deref() {
        measure(suites[0], sizes[0], 0, Some((side, iterations)));
        return;
    }
    println!("medians over {rounds} interleaved rounds");
    println!("| size | suite | encap | decap | encap+decap | raw seal+open | ratio (p25-p75) |");
    println!("|---|---|---|---|---|---|---|");
    for &size in &sizes {
        for &suite in &suites {
            let r = measure(suite, size, rounds, None).unwrap();
            println!(
                "| {size} B | {suite} | {} | {} | {} | {} | {:.2} ({:.2}-{:.2}) |",
                fmt(r.encap),
                fmt(r.decap),
                fmt(r.both),
                fmt(r.raw),
                r.ratio,
                r.quartiles.0,
                r.quartiles.1
            );
        }
    }
}
