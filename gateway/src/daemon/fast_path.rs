//! The fast path: plain threads outside the tokio control plane.
//!
//! * Outbound, one thread per tunnel: TUN -> MSS clamp / ICMP too-big -> ESP encapsulation in
//!   place -> UDP 4500, equal-sized datagrams of one TUN read leaving in one GSO send.
//! * Inbound, one thread per UDP 4500 socket: UDP (GRO) -> RFC 3948 demux (IKE goes to the
//!   control plane) -> SPI lookup -> ESP decapsulation in place -> selector check -> TUN, one
//!   batched (GRO-coalescing) write per tunnel per receive batch.
//!
//! Each thread owns its buffers (allocated once), loads the SA snapshots once per batch, and
//! flushes whenever a read would block, so batching never adds delay at low load.

use super::datapath::{GatewayDrops, InboundPath, InboundTable, TunnelMap, TunnelPath};
use crate::dataplane::{icmp_ptb, mss_clamp};
use crate::io::tun_gro::TcpCoalescer;
use crate::io::tx_arena::{Placed, ReadShape, MAX_PENDING};
use crate::io::{PacketBatch, Tun, TxArena, UdpBatchSocket, UdpRecvBatch, Waker};
use esp::{NextHeader, Payload, Udp4500};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// An IKE message that arrived on UDP 4500 (non-ESP marker stripped), for the control plane.
#[derive(Debug)]
pub struct IkeDatagram {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: Vec<u8>,
}

/// How long an idle worker sleeps before looking at the shutdown waker again.
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Packets per TUN batch (a GSO super-packet splits into at most 64 segments).
const TUN_BATCH: usize = 128;
/// Datagrams (or GRO trains) per UDP receive call.
const UDP_BATCH: usize = 32;

pub fn spawn_outbound(
    tunnel: Arc<TunnelPath>,
    tun: Arc<Tun>,
    sock: Arc<UdpBatchSocket>,
    waker: Arc<Waker>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("out-{}", tunnel.name))
        .spawn(move || outbound_loop(&tunnel, &tun, &sock, &waker))
}

fn outbound_loop(tunnel: &TunnelPath, tun: &Tun, sock: &UdpBatchSocket, waker: &Waker) {
    let mut arena = TxArena::new();
    let mut icmp = PacketBatch::new(8, 0, 0, 1500);
    let mut scratch = [0u8; 1280];
    loop {
        match arena.read(tun) {
            Ok(Some(shape)) => {
                encapsulate_read(tunnel, &shape, &mut arena, &mut icmp, &mut scratch, sock);
                if icmp.len() == icmp.capacity() {
                    flush_outbound(tunnel, tun, sock, &mut arena, &mut icmp);
                }
            }
            Ok(None) => {
                tunnel.drops.tun_malformed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Never wait with packets in hand: send, then sleep.
                if arena.pending() > 0 || !icmp.is_empty() {
                    flush_outbound(tunnel, tun, sock, &mut arena, &mut icmp);
                    continue;
                }
                match tun.wait_readable(Some(waker), Some(IDLE_WAIT)) {
                    Ok(r) if r.woken => return,
                    Ok(_) if tunnel.stop.load(Ordering::Relaxed) => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(tunnel = %tunnel.name, error = %e, "TUN poll failed");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Err(e) => {
                flush_outbound(tunnel, tun, sock, &mut arena, &mut icmp);
                tracing::warn!(tunnel = %tunnel.name, error = %e, "TUN read failed");
                if waker.is_woken() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn flush_outbound(
    tunnel: &TunnelPath,
    tun: &Tun,
    sock: &UdpBatchSocket,
    arena: &mut TxArena,
    icmp: &mut PacketBatch,
) {
    let failed = arena.flush(sock);
    if failed > 0 {
        tunnel
            .drops
            .send_failed
            .fetch_add(failed, Ordering::Relaxed);
    }
    if !icmp.is_empty() && tun.send_batch(icmp).is_err() {
        tunnel
            .drops
            .tun_write_failed
            .fetch_add(1, Ordering::Relaxed);
    }
    icmp.clear();
}

/// Places the packets of one TUN read in the arena, each where its ESP packet will be sent
/// from, and encapsulates them in place. Counters are updated once per read.
fn encapsulate_read(
    tunnel: &TunnelPath,
    shape: &ReadShape,
    arena: &mut TxArena,
    icmp: &mut PacketBatch,
    scratch: &mut [u8],
    sock: &UdpBatchSocket,
) {
    let guard = tunnel.outbound.load();
    let Some(path) = guard.as_ref() else {
        tunnel
            .drops
            .no_outbound_sa
            .fetch_add(shape.count as u64, Ordering::Relaxed);
        return;
    };
    let suite = path.sa.suite();
    let head = suite.headroom();
    let stride = suite.esp_len(shape.segment);
    if arena.pending() + shape.count > MAX_PENDING
        || TxArena::room_for(shape, stride) > arena.room()
    {
        let failed = arena.flush(sock);
        if failed > 0 {
            tunnel
                .drops
                .send_failed
                .fetch_add(failed, Ordering::Relaxed);
        }
    }
    if arena.place(shape, head, stride) == 0 {
        tunnel.drops.tun_malformed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let children = tunnel.outbound_children.load();
    let (mut too_big, mut failed, mut no_sa) = (0u64, 0u64, 0u64);
    for i in 0..arena.placed().len() {
        let Some(&Placed { inner: (at, len) }) = arena.placed().get(i) else {
            break;
        };
        let buf = arena.buf_mut();
        let Some(pkt) = buf.get_mut(at..at + len) else {
            continue;
        };
        let (next_header, mss) = match pkt.first().map(|b| b >> 4) {
            Some(4) => (NextHeader::Ipv4, tunnel.mss_v4),
            Some(6) => (NextHeader::Ipv6, tunnel.mss_v6),
            _ => continue,
        };
        if let Some(m) = mss {
            mss_clamp::clamp_mss(pkt, m);
        }
        if let Some(mtu) = icmp_ptb::needs_ptb(pkt, tunnel.mtu) {
            too_big += 1;
            if let Some(src) = icmp_ptb::ptb_source(pkt) {
                if let Some(n) = icmp_ptb::build_ptb(pkt, mtu, src, scratch) {
                    if let Some(reply) = scratch.get(..n) {
                        icmp.push(reply);
                    }
                }
            }
            continue;
        }
        // Several children (policy-based): the SA whose selectors hold the inner packet
        // (RFC 4301 5.1); children of one connection share the ESP suite, so the read's
        // layout fits. One child (route-based): its SA, as routed.
        let chosen = if children.len() > 1 {
            match inner_addrs(pkt)
                .and_then(|(src, dst)| children.iter().find(|o| o.allows(src, dst)))
            {
                Some(o) if o.sa.suite() == suite => o.as_ref(),
                _ => {
                    no_sa += 1;
                    continue;
                }
            }
        } else {
            path
        };
        match chosen.sa.encapsulate(buf, at..at + len, next_header) {
            Ok(enc) => arena.queue(chosen.remote, enc.esp),
            Err(_) => failed += 1,
        }
    }
    if too_big > 0 {
        tunnel.drops.too_big.fetch_add(too_big, Ordering::Relaxed);
    }
    if no_sa > 0 {
        tunnel
            .drops
            .no_outbound_sa
            .fetch_add(no_sa, Ordering::Relaxed);
    }
    if failed > 0 {
        tunnel
            .drops
            .encap_failed
            .fetch_add(failed, Ordering::Relaxed);
    }
}

/// Everything an inbound worker needs.
pub struct InboundCtx {
    pub sock: Arc<UdpBatchSocket>,
    pub table: Arc<InboundTable>,
    /// By `InboundPath::tunnel`.
    pub tunnels: Arc<TunnelMap>,
    pub ike_tx: mpsc::Sender<IkeDatagram>,
    pub drops: Arc<GatewayDrops>,
    pub waker: Arc<Waker>,
}

pub fn spawn_inbound(ctx: InboundCtx) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("in-{}", ctx.sock.local_addr()))
        .spawn(move || inbound_loop(&ctx))
}

fn inbound_loop(ctx: &InboundCtx) {
    let mut rb = UdpRecvBatch::new(UDP_BATCH, 65535);
    // One output batch per tunnel, created on the tunnel's first packet and reused.
    let mut out: Vec<(usize, TunOut)> = Vec::new();
    let local = ctx.sock.local_addr();
    loop {
        match ctx.sock.recv_batch(&mut rb) {
            Ok(_) => {
                decapsulate_batch(ctx, local, &mut rb, &mut out);
                flush_tuns(ctx, &mut out);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                match ctx.sock.wait_readable(Some(&ctx.waker), Some(IDLE_WAIT)) {
                    Ok(r) if r.woken => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "UDP poll failed");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive error");
                if ctx.waker.is_woken() {
                    return;
                }
            }
        }
    }
}

fn flush_tuns(ctx: &InboundCtx, out: &mut Vec<(usize, TunOut)>) {
    let tunnels = ctx.tunnels.load();
    out.retain(|(id, _)| tunnels.contains_key(id));
    for (id, o) in out.iter_mut() {
        let Some((tp, tun)) = tunnels.get(id) else {
            continue;
        };
        if o.tcp.flush(tun).is_err() {
            tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
        }
        if !o.other.is_empty() && tun.send_batch(&mut o.other).is_err() {
            tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
        }
        o.other.clear();
    }
}

/// What one inbound worker writes to one tunnel's TUN: TCP merged into super-packets by our
/// own coalescer, everything else batched through tun-rs (which coalesces UDP).
struct TunOut {
    tcp: TcpCoalescer,
    other: PacketBatch,
}

impl TunOut {
    fn new() -> Self {
        Self {
            tcp: TcpCoalescer::new(),
            other: PacketBatch::for_tun(TUN_BATCH),
        }
    }

    fn push(&mut self, tp: &TunnelPath, tun: &Tun, inner: &[u8]) {
        if tun.offload().tcp_gso && TcpCoalescer::is_candidate(inner) {
            if self.tcp.push(tun, inner).is_err() {
                tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if self.other.len() == self.other.capacity() {
            if tun.send_batch(&mut self.other).is_err() {
                tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
            }
            self.other.clear();
        }
        self.other.push(inner);
    }
}

fn decapsulate_batch(
    ctx: &InboundCtx,
    local: SocketAddr,
    rb: &mut UdpRecvBatch,
    out: &mut Vec<(usize, TunOut)>,
) {
    let table = ctx.table.snapshot();
    let tunnels = ctx.tunnels.load();
    // Consecutive datagrams nearly always share an SA: skip the hash lookups for repeats.
    let mut last_sa: Option<(u32, &Arc<InboundPath>)> = None;
    for d in rb.iter_mut() {
        let spi = match esp::classify_udp_4500(d.data) {
            Udp4500::Ike(ike) => {
                let msg = IkeDatagram {
                    local,
                    remote: d.src,
                    bytes: ike.to_vec(),
                };
                if ctx.ike_tx.try_send(msg).is_err() {
                    ctx.drops.ike_queue_full.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Udp4500::Keepalive | Udp4500::Malformed => continue,
            Udp4500::Esp(esp) => match esp.get(..4) {
                Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                None => continue,
            },
        };
        let path = match last_sa {
            Some((s, p)) if s == spi => p,
            _ => {
                let Some(p) = table.get(&spi) else {
                    ctx.drops.unknown_spi.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                last_sa = Some((spi, p));
                p
            }
        };
        // Errors are counted per kind by the SA itself.
        let Ok(dec) = path.sa.decapsulate(d.data) else {
            continue;
        };
        let Payload::Inner { range, .. } = dec.payload else {
            continue;
        };
        let Some(inner) = d.data.get_mut(range) else {
            continue;
        };
        let Some((tp, tun)) = tunnels.get(&path.tunnel) else {
            continue;
        };
        match inner_addrs(inner) {
            Some((src, dst)) if path.allows(src, dst) => {}
            _ => {
                tp.drops.ts_mismatch.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        // Clamp the MSS of SYN/SYN-ACKs arriving through the tunnel too, so hosts on our side
        // never send segments that would not fit back through it.
        let mss = if inner.first().map(|b| b >> 4) == Some(6) {
            tp.mss_v6
        } else {
            tp.mss_v4
        };
        if let Some(m) = mss {
            mss_clamp::clamp_mss(inner, m);
        }
        let slot = match out.iter().position(|(id, _)| *id == path.tunnel) {
            Some(i) => i,
            None => {
                // Once per tunnel for the worker's lifetime (buffers are kept).
                out.push((path.tunnel, TunOut::new()));
                out.len() - 1
            }
        };
        if let Some((_, o)) = out.get_mut(slot) {
            o.push(tp, tun, inner);
        }
    }
}

/// Source and destination of an inner IPv4/IPv6 packet.
fn inner_addrs(p: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match p.first()? >> 4 {
        4 => {
            let s: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            Some((Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into()))
        }
        6 => {
            let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            Some((Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_addresses_of_both_versions() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[10, 1, 0, 10]);
        v4[16..20].copy_from_slice(&[10, 0, 1, 10]);
        assert_eq!(
            inner_addrs(&v4),
            Some((IpAddr::from([10, 1, 0, 10]), IpAddr::from([10, 0, 1, 10])))
        );
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[23] = 1;
        v6[39] = 2;
        let (s, d) = inner_addrs(&v6).unwrap();
        assert_eq!(s, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(d, "::2".parse::<IpAddr>().unwrap());
        assert_eq!(inner_addrs(&v4[..19]), None);
        assert_eq!(inner_addrs(&[0x50]), None);
    }
}
