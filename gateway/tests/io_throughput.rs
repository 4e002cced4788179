//! Root-only, `--ignored` measurements (run with `--release -- --ignored --nocapture`):
//! UDP GSO/GRO on loopback and TUN batched reads, inside a throw-away namespace.

mod io_common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::io::routes::BlockingRoutes;
use gateway::io::{PacketBatch, Tun, TunConfig, UdpBatchSocket, UdpRecvBatch};
use io_common::{root_or_skip, Netns};

const SEG: usize = 1400;
const RUN: Duration = Duration::from_millis(1500);

/// Sends trains of `per_send` datagrams from `tx` for RUN; returns Gbit/s of payload
/// received and datagrams lost.
fn udp_rate(tx: Arc<UdpBatchSocket>, rx: Arc<UdpBatchSocket>, per_send: usize) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let dst = rx.local_addr();
    let sender = std::thread::spawn(move || {
        let payload = vec![0x5a; SEG * per_send];
        let mut sent = 0u64;
        while !s2.load(Ordering::Relaxed) {
            if tx.send_segments(dst, &payload, SEG).is_ok() {
                sent += per_send as u64;
            }
        }
        sent
    });
    let mut batch = UdpRecvBatch::new(32, gateway::io::udp::GRO_BUFFER_BYTES);
    let mut got = 0u64;
    let start = Instant::now();
    while start.elapsed() < RUN {
        match rx.recv_batch(&mut batch) {
            Ok(n) => got += n as u64,
            Err(_) => {
                rx.wait_readable(None, Some(Duration::from_millis(10)))
                    .unwrap();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    (
        (got * SEG as u64 * 8) as f64 / secs / 1e9,
        sent.saturating_sub(got),
    )
}

#[test]
#[ignore]
fn measure_udp_gso_gro_loopback() {
    if !root_or_skip("measure_udp_gso_gro_loopback") {
        return;
    }
    let ns = Netns::new("bench-udp");
    ns.run(|| {
        for per_send in [1usize, 16, 44] {
            let rx = Arc::new(UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap());
            let tx = Arc::new(UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap());
            let (gbps, lost) = udp_rate(tx, rx, per_send);
            eprintln!(
                "UDP loopback, {SEG}-byte datagrams, {per_send} per sendmsg: {gbps:.2} Gbit/s \
                 received (sent-but-unreceived {lost})"
            );
        }
    });
}

#[test]
#[ignore]
fn measure_tun_batched_reads() {
    if !root_or_skip("measure_tun_batched_reads") {
        return;
    }
    for offload in [false, true] {
        let ns = Netns::new("bench-tun");
        ns.run(move || {
            let mut cfg = TunConfig::new("igwbench0", 1500);
            cfg.addresses = vec![(IpAddr::V4(Ipv4Addr::new(10, 97, 0, 1)), 24)];
            cfg.offload = offload;
            let tun = Tun::open(&cfg).unwrap();
            BlockingRoutes::new()
                .unwrap()
                .add_routes(tun.ifindex(), &["10.97.1.0/24".parse().unwrap()])
                .unwrap();
            let tx =
                Arc::new(UdpBatchSocket::bind("10.97.0.1:0".parse().unwrap()).unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let s2 = stop.clone();
            let dst: SocketAddr = "10.97.1.9:9".parse().unwrap();
            let sender = std::thread::spawn(move || {
                let payload = vec![1u8; SEG * 32];
                while !s2.load(Ordering::Relaxed) {
                    let _ = tx.send_segments(dst, &payload, SEG);
                }
            });
            let mut batch = PacketBatch::for_tun(128);
            let (mut pkts, mut reads) = (0u64, 0u64);
            let start = Instant::now();
            while start.elapsed() < RUN {
                match tun.recv_batch(&mut batch) {
                    Ok(n) => {
                        pkts += n as u64;
                        reads += 1;
                    }
                    Err(_) => {
                        tun.wait_readable(None, Some(Duration::from_millis(10))).unwrap();
                    }
                }
            }
            let secs = start.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            sender.join().unwrap();
            eprintln!(
                "TUN read, offload={offload} ({:?}): {:.0} kpkt/s = {:.2} Gbit/s, {:.1} packets per \
                 recv_batch",
                tun.offload(),
                pkts as f64 / secs / 1e3,
                (pkts * (SEG as u64 + 28) * 8) as f64 / secs / 1e9,
                pkts as f64 / reads.max(1) as f64
            );
        });
    }
}
