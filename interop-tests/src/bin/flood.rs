//! A spoofed-source UDP flooder for the hostile lab tests (interop-tests/tests/hostile_flood.rs).
//! Runs INSIDE a lab namespace (the `attacker`), writes raw IPv4 packets with IP_HDRINCL.
//!
//! ```text
//! flood --target 198.51.100.10 --secs 10 --ike-rate 20000 --esp-rate 20000
//!       [--live-spi 0xc1a2b3c4] [--peer 203.0.113.20] [--peer-share 10] [--seed 1]
//!       [--src-net 198.51.100.0/24 --src-net 203.0.113.0/24]
//! ```
//! * IKE: IKE_SA_INIT requests (a real strongSwan capture with a fresh random SPIi each) to
//!   UDP 500 from random sources in the `--src-net` ranges; `--peer-share` percent of them
//!   spoof the configured peer's address (`--peer`), the case that reaches the responder's
//!   state machine.
//! * ESP: UDP 4500 datagrams of 60..1400 random bytes; half with random non-zero SPIs from
//!   random sources, half with `--live-spi` (the gateway's inbound SPI) from the peer's
//!   address and port 4500, so they reach decryption and fail the ICV.
//!
//! Prints one JSON line with what was sent: attempts, packets the kernel accepted (`ike_sent`,
//! `esp_sent`) and their rates per second over the whole run (`ike_rate`, `esp_rate`).
//! Refuses targets and sources outside the documentation ranges (TEST-NET-1/2/3) and 10.0.0.0/8.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const IKE_SA_INIT: &[u8] = include_bytes!(
    "../../../ikev2/tests/fixtures/strongswan/azure-default/01-ike_sa_init-request.bin"
);

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill(&mut self, b: &mut [u8]) {
        for c in b.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

fn lab_address(a: Ipv4Addr) -> bool {
    let o = a.octets();
    matches!(
        (o[0], o[1], o[2]),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
    ) || o[0] == 10
}

struct Args {
    target: Ipv4Addr,
    secs: f64,
    ike_rate: u64,
    esp_rate: u64,
    live_spi: Option<u32>,
    peer: Option<Ipv4Addr>,
    peer_share: u64,
    seed: u64,
    src_nets: Vec<(u32, u32)>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: Ipv4Addr::UNSPECIFIED,
        secs: 10.0,
        ike_rate: 20_000,
        esp_rate: 20_000,
        live_spi: None,
        peer: None,
        peer_share: 10,
        seed: 1,
        src_nets: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
        match k.as_str() {
            "--target" => a.target = v.parse().map_err(|e| bad(&e))?,
            "--secs" => a.secs = v.parse().map_err(|e| bad(&e))?,
            "--ike-rate" => a.ike_rate = v.parse().map_err(|e| bad(&e))?,
            "--esp-rate" => a.esp_rate = v.parse().map_err(|e| bad(&e))?,
            "--live-spi" => {
                a.live_spi =
                    Some(u32::from_str_radix(v.trim_start_matches("0x"), 16).map_err(|e| bad(&e))?)
            }
            "--peer" => a.peer = Some(v.parse().map_err(|e| bad(&e))?),
            "--peer-share" => a.peer_share = v.parse().map_err(|e| bad(&e))?,
            "--seed" => a.seed = v.parse().map_err(|e| bad(&e))?,
            "--src-net" => {
                let (ip, len) = v.split_once('/').ok_or(bad(&"want a.b.c.d/len"))?;
                let ip: Ipv4Addr = ip.parse().map_err(|e| bad(&e))?;
                let len: u32 = len.parse().map_err(|e| bad(&e))?;
                if !(8..=32).contains(&len) || !lab_address(ip) {
                    return Err(bad(&"only /8../32 within TEST-NET or 10/8"));
                }
                let mask = u32::MAX << (32 - len);
                a.src_nets.push((u32::from(ip) & mask, !mask));
            }
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if !lab_address(a.target) || a.peer.is_some_and(|p| !lab_address(p)) {
        return Err("target and peer must be TEST-NET or 10/8 addresses".into());
    }
    if a.src_nets.is_empty() {
        a.src_nets = vec![(u32::from(Ipv4Addr::new(198, 51, 100, 0)), 0xff)];
    }
    Ok(a)
}

/// IPv4 + UDP header in front of `payload` (checksums: the kernel fills the IP one; UDP's is
/// optional over IPv4 and left 0).
fn packet(buf: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) {
    buf.clear();
    let total = (20 + 8 + payload.len()) as u16;
    buf.extend_from_slice(&[0x45, 0]);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flood: {e}");
            std::process::exit(2);
        }
    };
    // SAFETY: installing a handler that only stores to an atomic (SIGTERM ends the flood early
    // and still prints the summary).
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    // SAFETY: plain socket(2) call; the fd is owned by this process until exit.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        eprintln!("flood: raw socket: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let mut rng = Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut dst: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    dst.sin_family = libc::AF_INET as libc::sa_family_t;
    dst.sin_addr.s_addr = u32::from(a.target).to_be();
    let random_src = |rng: &mut Rng| {
        let n = a.src_nets[(rng.next() % a.src_nets.len() as u64) as usize];
        loop {
            let ip = Ipv4Addr::from(n.0 | (rng.next() as u32 & n.1));
            let last = ip.octets()[3];
            // Never the target itself, a network or broadcast address, or .1 (lab routers).
            if ip != a.target && !matches!(last, 0 | 1 | 255) {
                return ip;
            }
        }
    };
    // Attempts pace the flood; `*_ok` count the packets the kernel accepted.
    let (mut ike_sent, mut esp_sent, mut errors, mut peer_spoofed) = (0u64, 0u64, 0u64, 0u64);
    let (mut ike_ok, mut esp_ok) = (0u64, 0u64);
    let mut buf = Vec::with_capacity(1600);
    let mut ike = IKE_SA_INIT.to_vec();
    let mut esp = vec![0u8; 1400];
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.secs);
    // Returns whether the kernel took the packet (ENOBUFS etc. are counted, not retried).
    let send = |buf: &[u8], errors: &mut u64| -> bool {
        // SAFETY: buf and dst are valid for the given lengths during the call.
        let r = unsafe {
            libc::sendto(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&dst as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r < 0 {
            *errors += 1;
        }
        r >= 0
    };
    loop {
        let now = Instant::now();
        if now >= end || STOP.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let t = now.duration_since(start).as_secs_f64();
        let want_ike = (t * a.ike_rate as f64) as u64;
        let want_esp = (t * a.esp_rate as f64) as u64;
        if ike_sent >= want_ike && esp_sent >= want_esp {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        // Bounded bursts keep the two kinds interleaved.
        for _ in 0..64 {
            if ike_sent < want_ike {
                rng.fill(&mut ike[..8]);
                let (src, sport) = match a.peer {
                    Some(p) if rng.next() % 100 < a.peer_share => {
                        peer_spoofed += 1;
                        (p, 500)
                    }
                    _ => (random_src(&mut rng), 500 + (rng.next() % 2000) as u16),
                };
                packet(&mut buf, src, a.target, sport, 500, &ike);
                ike_ok += u64::from(send(&buf, &mut errors));
                ike_sent += 1;
            }
            if esp_sent < want_esp {
                let len = 60 + (rng.next() % 1340) as usize;
                rng.fill(&mut esp[..len]);
                let (src, sport) = match (a.live_spi, a.peer) {
                    (Some(spi), Some(p)) if esp_sent % 2 == 0 => {
                        esp[..4].copy_from_slice(&spi.to_be_bytes());
                        (p, 4500)
                    }
                    _ => {
                        if esp[..4] == [0; 4] {
                            esp[3] = 1;
                        }
                        (random_src(&mut rng), 4500)
                    }
                };
                packet(&mut buf, src, a.target, sport, 4500, &esp[..len]);
                esp_ok += u64::from(send(&buf, &mut errors));
                esp_sent += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // SAFETY: closing our own fd once.
    unsafe { libc::close(fd) };
    // Rates count only the packets the kernel accepted.
    println!(
        "{{\"secs\":{secs:.3},\"ike_attempted\":{ike_sent},\"esp_attempted\":{esp_sent},\"ike_sent\":{ike_ok},\"esp_sent\":{esp_ok},\"peer_spoofed\":{peer_spoofed},\"send_errors\":{errors},\"ike_rate\":{:.0},\"esp_rate\":{:.0}}}",
        ike_ok as f64 / secs,
        esp_ok as f64 / secs
    );
}
