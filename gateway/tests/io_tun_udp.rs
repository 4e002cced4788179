//! Root-only: a TUN with offloads and batched UDP sockets inside a throw-away namespace.

mod io_common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use gateway::io::routes::{BlockingRoutes, IpPrefix};
use gateway::io::{GsoBatch, PacketBatch, Tun, TunConfig, UdpBatchSocket, UdpRecvBatch, Waker};
use io_common::{root_or_skip, Netns};

const TUN_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 5);

fn open_tun(offload: bool, multi_queue: bool) -> Tun {
    let mut cfg = TunConfig::new("igwtun0", 1400);
    cfg.addresses = vec![(IpAddr::V4(TUN_ADDR), 24)];
    cfg.offload = offload;
    cfg.multi_queue = multi_queue;
    let tun = Tun::open(&cfg).expect("open TUN");
    let routes = BlockingRoutes::new().unwrap();
    routes
        .add_routes(
            tun.ifindex(),
            &["10.99.1.0/24".parse::<IpPrefix>().unwrap()],
        )
        .unwrap();
    eprintln!(
        "TUN {} (ifindex {}) offload requested={offload}: {:?}",
        tun.name(),
        tun.ifindex(),
        tun.offload()
    );
    tun
}

/// UDP payloads (to `REMOTE:port`) read from the TUN until `want` arrived or 3 s passed, and
/// how many of them each read returned. Reads holding none of them (the kernel's own IPv6
/// router solicitations and MLD reports on a fresh interface) are not counted.
fn read_udp_from_tun(tun: &Tun, port: u16, want: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut batch = PacketBatch::for_tun(128);
    let mut got = Vec::new();
    let mut per_read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while got.len() < want && Instant::now() < deadline {
        match tun.recv_batch(&mut batch) {
            Ok(_) => {
                let before = got.len();
                for p in batch.iter() {
                    assert_eq!(p.offset(), batch.headroom());
                    let Ok(s) = SlicedPacket::from_ip(p.packet()) else {
                        continue;
                    };
                    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) =
                        (&s.net, &s.transport)
                    else {
                        continue;
                    };
                    if ip.header().destination_addr() == REMOTE && udp.destination_port() == port {
                        got.push(udp.payload().to_vec());
                    }
                }
                if got.len() > before {
                    per_read.push(got.len() - before);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tun.wait_readable(None, Some(Duration::from_millis(200)))
                    .unwrap();
            }
            Err(e) => panic!("recv_batch: {e}"),
        }
    }
    (got, per_read)
}

fn tun_roundtrip(offload: bool) {
    let ns = Netns::new(if offload { "tunoff" } else { "tunplain" });
    ns.run(move || {
        let tun = open_tun(offload, true);
        if offload {
            assert!(tun.offload().tcp_gso, "this kernel supports TUN offload");
        }

        // Kernel -> TUN: one datagram, then a GSO train of 10 x 1000 bytes.
        let sock = UdpSocket::bind((TUN_ADDR, 0)).unwrap();
        sock.send_to(b"hello tun", (REMOTE, 9999)).unwrap();
        let (got, _) = read_udp_from_tun(&tun, 9999, 1);
        assert_eq!(got, vec![b"hello tun".to_vec()]);

        let batch_sock = UdpBatchSocket::bind((TUN_ADDR, 0).into()).unwrap();
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i / 1000) as u8 + b'a').collect();
        batch_sock
            .send_segments((REMOTE, 9998).into(), &payload, 1000)
            .unwrap();
        let (got, per_read) = read_udp_from_tun(&tun, 9998, 10);
        assert_eq!(got.len(), 10, "reads: {per_read:?}");
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &payload[i * 1000..(i + 1) * 1000]);
        }
        eprintln!(
            "offload={offload}: UDP GSO train of 10 arrived in reads of {per_read:?} \
             (socket offload {:?})",
            batch_sock.offload_status()
        );
        if offload && tun.offload().udp_gso && batch_sock.offload_status().gso_segments > 1 {
            assert_eq!(per_read, vec![10], "one read, split into 10 segments");
        }

        // TUN -> kernel: a batch of 20 equal datagrams from REMOTE to a local socket.
        let rx = UdpSocket::bind((TUN_ADDR, 0)).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let rx_port = rx.local_addr().unwrap().port();
        let mut batch = PacketBatch::for_tun(128);
        for i in 0..20u8 {
            let b = PacketBuilder::ipv4(REMOTE.octets(), TUN_ADDR.octets(), 64).udp(7777, rx_port);
            let body = [i; 500];
            let mut pkt = Vec::new();
            b.write(&mut pkt, &body).unwrap();
            assert!(batch.push(&pkt));
        }
        // Packets at a mix of offsets are normalised before the write.
        let p = batch.get_mut(3).unwrap();
        let (off, len) = (p.offset(), p.len());
        assert!(p.move_to(off + 24));
        assert_eq!(p.len(), len);
        let written = tun.send_batch(&mut batch).unwrap();
        // With offload the 20 datagrams go out as one coalesced USO write.
        assert!(written >= 20 * 500, "wrote {written} bytes");
        if offload && tun.offload().udp_gso {
            // Coalesced: one virtio header and one IP/UDP header instead of 20.
            assert!(written < 20 * 528, "not coalesced: {written} bytes");
        }
        assert!(batch.is_empty());
        let mut buf = [0u8; 2048];
        for i in 0..20u8 {
            let (n, from) = rx.recv_from(&mut buf).expect("datagram from TUN");
            assert_eq!(from, SocketAddr::from((REMOTE, 7777)));
            assert_eq!(&buf[..n], &[i; 500][..]);
        }

        // TUN -> kernel through our UDP coalescer (where the TUN has USO): 20 datagrams of
        // 500 bytes and a shorter last one become one GSO_UDP_L4 write, which the kernel cuts
        // back into 21 datagrams with valid checksums (the socket drops bad ones).
        if offload && tun.offload().udp_gso {
            eprintln!("UDP coalescer: 21 datagrams in one USO write");
            let mut c = gateway::io::tun_gro::Coalescer::udp();
            let sizes: Vec<usize> = (0..20).map(|_| 500).chain([200]).collect();
            for (i, len) in sizes.iter().enumerate() {
                let b =
                    PacketBuilder::ipv4(REMOTE.octets(), TUN_ADDR.octets(), 64).udp(7778, rx_port);
                let mut pkt = Vec::new();
                b.write(&mut pkt, &vec![i as u8 + 1; *len]).unwrap();
                c.push(&tun, &pkt).expect("UDP is the coalescer's").unwrap();
            }
            c.flush(&tun).unwrap();
            assert_eq!((c.writes, c.segments), (1, 21), "one write of 21 datagrams");
            for (i, len) in sizes.iter().enumerate() {
                let (n, from) = rx.recv_from(&mut buf).expect("coalesced datagram from TUN");
                assert_eq!(from, SocketAddr::from((REMOTE, 7778)));
                assert_eq!(&buf[..n], &vec![i as u8 + 1; *len][..], "datagram {i}");
            }
        }

        // Multi-queue: a second queue opens.
        let q2 = tun.clone_queue().expect("second queue");
        assert_eq!(q2.ifindex(), tun.ifindex());

        // Shutdown wake-up reaches a thread parked on an idle TUN.
        let waker = std::sync::Arc::new(Waker::new().unwrap());
        let w2 = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w2.wake().unwrap();
        });
        let start = Instant::now();
        let r = q2
            .wait_readable(Some(&waker), Some(Duration::from_secs(5)))
            .unwrap();
        assert!(r.woken);
        assert!(start.elapsed() < Duration::from_secs(2));
        t.join().unwrap();
    });
}

#[test]
fn tun_with_offload_reads_and_writes_batches() {
    if root_or_skip("tun_with_offload_reads_and_writes_batches") {
        tun_roundtrip(true);
    }
}

#[test]
fn tun_without_offload_reads_and_writes_batches() {
    if root_or_skip("tun_without_offload_reads_and_writes_batches") {
        tun_roundtrip(false);
    }
}

#[test]
fn udp_gso_send_and_gro_receive_on_loopback() {
    if !root_or_skip("udp_gso_send_and_gro_receive_on_loopback") {
        return;
    }
    let ns = Netns::new("udp");
    ns.run(|| {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let tx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (rcvbuf, sndbuf) = rx.buffer_sizes().unwrap();
        assert!(rcvbuf >= 8 << 20 && sndbuf >= 8 << 20, "{rcvbuf} {sndbuf}");
        eprintln!(
            "UDP offload status: tx {:?} rx {:?}",
            tx.offload_status(),
            rx.offload_status()
        );

        const N: usize = 40;
        const SEG: usize = 1200;
        let payload: Vec<u8> = (0..N * SEG).map(|i| (i / SEG) as u8).collect();
        tx.send_segments(rx.local_addr(), &payload, SEG).unwrap();

        let mut batch = UdpRecvBatch::new(32, gateway::io::udp::GRO_BUFFER_BYTES);
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(3);
        while got.len() < N && Instant::now() < deadline {
            match rx.recv_batch(&mut batch) {
                Ok(n) => {
                    calls += 1;
                    assert_eq!(batch.len(), n);
                    for d in batch.iter_mut() {
                        assert_eq!(d.src, tx.local_addr());
                        got.push(d.data.to_vec());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    rx.wait_readable(None, Some(Duration::from_millis(200)))
                        .unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got.len(), N);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &payload[i * SEG..(i + 1) * SEG], "datagram {i}");
        }
        eprintln!("received {N} GSO-sent datagrams in {calls} recv_batch call(s)");

        // GsoBatch: runs of equal sizes per destination, a short tail, a second destination.
        let rx2 = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut gso = GsoBatch::new();
        let mut expect1 = Vec::new();
        let mut expect2 = Vec::new();
        for i in 0..30u8 {
            let (dst, len, exp) = match i % 10 {
                9 => (rx2.local_addr(), 300, &mut expect2),
                8 => (rx.local_addr(), 700, &mut expect1),
                _ => (rx.local_addr(), 1000, &mut expect1),
            };
            let d = vec![i; len];
            gso.push(&tx, dst, &d).unwrap();
            exp.push(d);
        }
        gso.flush(&tx).unwrap();
        assert!(gso.is_empty());
        for (sock, expect) in [(&rx, expect1), (&rx2, expect2)] {
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(3);
            while got.len() < expect.len() && Instant::now() < deadline {
                match sock.recv_batch(&mut batch) {
                    Ok(_) => got.extend(batch.iter_mut().map(|d| d.data.to_vec())),
                    Err(_) => {
                        sock.wait_readable(None, Some(Duration::from_millis(200)))
                            .unwrap();
                    }
                }
            }
            assert_eq!(got, expect);
        }
    });
}

#[test]
fn udp_bound_to_any_reports_destination() {
    if !root_or_skip("udp_bound_to_any_reports_destination") {
        return;
    }
    let ns = Netns::new("udpany");
    ns.run(|| {
        let rx = UdpBatchSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = rx.local_addr().port();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"x", ("127.0.0.1", port)).unwrap();
        let mut batch = UdpRecvBatch::new(4, 2048);
        rx.wait_readable(None, Some(Duration::from_secs(2)))
            .unwrap();
        assert_eq!(rx.recv_batch(&mut batch).unwrap(), 1);
        let d = batch.iter_mut().next().unwrap();
        assert_eq!(d.data, b"x");
        assert_eq!(d.dst_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        // Nothing left: WouldBlock, not a hang.
        let e = rx.recv_batch(&mut batch).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        assert!(batch.is_empty());
    });
}
