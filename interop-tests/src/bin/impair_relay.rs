//! A seeded impairing relay for the lab's `nat` box (see interop_tests::impair): UDP 500/4500
//! between the gateway side and the Azure side is taken off the kernel's forwarding path
//! (nftables drops it in `forward`), captured with AF_PACKET on the two interfaces, and sent
//! again from `nat` itself through a raw IP socket after a seeded decision: drop, delay
//! (base + jitter, so packets overtake each other: reordering), or duplicate. Re-sent packets
//! are locally generated, so they go through `nat`'s output NAT hooks (the EIP DNAT/SNAT).
//!
//! ```text
//! impair_relay --if gw0 --if az0 --seed 7 --delay-ms 30 --jitter-ms 20 --loss 10 --dup 5 \
//!              --reorder 20 --secs 600
//! ```
//! Percentages are integers. `--reorder P`: P% of packets get up to 3x the jitter extra.
//! Prints a JSON line with counters on exit (SIGTERM or after --secs).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn if_index(name: &str) -> i32 {
    let c = std::ffi::CString::new(name).unwrap_or_default();
    // SAFETY: c is a valid NUL-terminated string.
    unsafe { libc::if_nametoindex(c.as_ptr()) as i32 }
}

/// An AF_PACKET (cooked, IPv4 only) socket bound to interface `ifindex`, non-blocking.
fn packet_socket(ifindex: i32) -> std::io::Result<i32> {
    let proto = (libc::ETH_P_IP as u16).to_be();
    // SAFETY: plain socket/bind calls with properly sized, initialized structs.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
            i32::from(proto),
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex;
        if libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// UDP 500/4500 IPv4 packet? (No fragments: IKE fragments itself, ESP fits the MTU here.)
fn is_ike_or_natt(p: &[u8]) -> bool {
    if p.len() < 28 || p[0] >> 4 != 4 || p[9] != 17 {
        return false;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if p.len() < ihl + 8 {
        return false;
    }
    let sport = u16::from_be_bytes([p[ihl], p[ihl + 1]]);
    let dport = u16::from_be_bytes([p[ihl + 2], p[ihl + 3]]);
    matches!(sport, 500 | 4500) || matches!(dport, 500 | 4500)
}

fn main() {
    let mut ifs = vec![];
    let (mut seed, mut delay, mut jitter, mut loss, mut dup, mut reorder, mut secs) =
        (1u64, 30u64, 20u64, 10u64, 5u64, 20u64, 600u64);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let n = || {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{k} {v}: not a number"))
        };
        match k.as_str() {
            "--if" => ifs.push(v.clone()),
            "--seed" => seed = n(),
            "--delay-ms" => delay = n(),
            "--jitter-ms" => jitter = n(),
            "--loss" => loss = n(),
            "--dup" => dup = n(),
            "--reorder" => reorder = n(),
            "--secs" => secs = n(),
            _ => panic!("unknown option {k}"),
        }
    }
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    let socks: Vec<i32> = ifs
        .iter()
        .map(|i| packet_socket(if_index(i)).unwrap_or_else(|e| panic!("AF_PACKET on {i}: {e}")))
        .collect();
    // SAFETY: plain socket call.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(raw >= 0, "raw socket: {}", std::io::Error::last_os_error());
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    // (due, seq) -> packet
    let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let (mut seen, mut dropped, mut duplicated, mut sent, mut seq) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 65536];
    let send = |p: &[u8]| {
        let mut dst: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        dst.sin_family = libc::AF_INET as libc::sa_family_t;
        dst.sin_addr.s_addr = u32::from_ne_bytes([p[16], p[17], p[18], p[19]]);
        // SAFETY: p and dst are valid for the given lengths during the call.
        unsafe {
            libc::sendto(
                raw,
                p.as_ptr().cast(),
                p.len(),
                0,
                (&dst as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        }
    };
    while !STOP.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
        let mut pfds: Vec<libc::pollfd> = socks
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = queue
            .peek()
            .map(|Reverse((t, _, _))| {
                t.saturating_duration_since(Instant::now()).as_millis() as i32
            })
            .unwrap_or(50)
            .clamp(0, 50);
        // SAFETY: pfds is a valid array of pollfd of the given length.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, wait) };
        for &fd in &socks {
            loop {
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut flen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                // SAFETY: buf/from are valid for the lengths passed.
                let n = unsafe {
                    libc::recvfrom(
                        fd,
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_ll).cast(),
                        &mut flen,
                    )
                };
                if n <= 0 {
                    break;
                }
                // Only packets arriving on the interface, not ones leaving it (ours included).
                if from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let p = &buf[..n as usize];
                if !is_ike_or_natt(p) {
                    continue;
                }
                seen += 1;
                if rng.pct(loss) {
                    dropped += 1;
                    continue;
                }
                let copies = if rng.pct(dup) {
                    duplicated += 1;
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let mut d = delay + if jitter > 0 { rng.next() % jitter } else { 0 };
                    if rng.pct(reorder) {
                        d += rng.next() % (3 * jitter.max(1));
                    }
                    seq += 1;
                    let mut copy = p.to_vec();
                    // Captured from a veth, the UDP checksum may be a partial (offload) value:
                    // send none instead (optional over IPv4; NAT keeps it 0).
                    let ihl = usize::from(copy[0] & 0x0f) * 4;
                    copy[ihl + 6] = 0;
                    copy[ihl + 7] = 0;
                    queue.push(Reverse((
                        Instant::now() + Duration::from_millis(d),
                        seq,
                        copy,
                    )));
                }
            }
        }
        let now = Instant::now();
        while queue.peek().is_some_and(|Reverse((t, _, _))| *t <= now) {
            if let Some(Reverse((_, _, p))) = queue.pop() {
                if send(&p) >= 0 {
                    sent += 1;
                }
            }
        }
    }
    println!(
        "{{\"seen\":{seen},\"dropped\":{dropped},\"duplicated\":{duplicated},\"sent\":{sent},\"queued_at_exit\":{}}}",
        queue.len()
    );
}
