//! TCP receive coalescing for TUN writes (GRO in userspace), without allocation.
//!
//! Consecutive in-order segments of one TCP flow (as they come out of one decrypted UDP GRO
//! train) are appended into one super-packet and written to the TUN with a virtio-net header
//! (`GSO_TCPV4/6`, `NEEDS_CSUM`), so the kernel handles a 64 KiB packet instead of 45 small
//! ones. Each payload is copied exactly once, from where it was decrypted into the
//! super-packet. tun-rs's own `send_multiple` does the same but copies every packet into a
//! fresh `Vec` first (an allocation and a copy per packet); it remains in use for UDP.
//!
//! Rules (as the kernel's and wireguard-go's GRO): IPv4 without options and not fragmented,
//! or IPv6 with TCP as the next header; only ACK/PSH flags; same addresses, ports,
//! TOS/traffic class, TTL/hop limit, DF, ACK number, TCP header length and options; the
//! sequence number continues the previous segment; all segments the size of the first, the
//! last may be shorter (and ends the packet), as does PSH. Anything else is written alone,
//! after the pending super-packet, so a flow's order is kept.
//!
//! Checksums: the inner packets were authenticated by ESP (the AEAD covers them from the peer
//! gateway on), so the merged packet carries the pseudo-header sum with `NEEDS_CSUM`, as tun-rs
//! and wireguard-go do.

use std::io;

use tun_rs::{VirtioNetHdr, VIRTIO_NET_HDR_LEN};

use super::packet_batch::MAX_IP_PACKET;
use super::tun::Tun;

const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const F_NEEDS_CSUM: u8 = 1;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// Most segments merged into one write.
pub const MAX_MERGED: usize = 64;

/// Where the parts of a TCP packet are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TcpShape {
    v6: bool,
    iph: usize,
    tcph: usize,
    payload: usize,
    seq: u32,
    flags: u8,
}

fn tcp_shape(p: &[u8]) -> Option<TcpShape> {
    let (v6, iph, total) = match p.first()? >> 4 {
        4 => {
            // No options, protocol TCP, not a fragment (MF clear, offset 0).
            if p.first()? & 0x0f != 5 || *p.get(9)? != 6 || p.get(6)? & 0x3f != 0 || *p.get(7)? != 0
            {
                return None;
            }
            (
                false,
                20,
                usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?])),
            )
        }
        6 => {
            if *p.get(6)? != 6 {
                return None;
            }
            let pl = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            (true, 40, pl + 40)
        }
        _ => return None,
    };
    if total != p.len() {
        return None;
    }
    let tcph = usize::from(p.get(iph + 12)? >> 4) * 4;
    if tcph < 20 || iph + tcph > p.len() {
        return None;
    }
    let flags = *p.get(iph + 13)?;
    let seq = u32::from_be_bytes(p.get(iph + 4..iph + 8)?.try_into().ok()?);
    Some(TcpShape {
        v6,
        iph,
        tcph,
        payload: p.len() - iph - tcph,
        seq,
        flags,
    })
}

/// Builds TCP super-packets for one TUN; owned by one thread.
pub struct TcpCoalescer {
    /// Virtio header followed by the super-packet.
    buf: Box<[u8]>,
    /// Length of the IP packet in `buf` after the header (0: nothing pending).
    len: usize,
    head: Option<TcpShape>,
    segs: usize,
    next_seq: u32,
    closed: bool,
    /// Writes and segments written, for tests and diagnostics.
    pub writes: u64,
    pub segments: u64,
}

impl Default for TcpCoalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpCoalescer {
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; VIRTIO_NET_HDR_LEN + MAX_IP_PACKET].into_boxed_slice(),
            len: 0,
            head: None,
            segs: 0,
            next_seq: 0,
            closed: false,
            writes: 0,
            segments: 0,
        }
    }

    /// Whether `pkt` is TCP this coalescer handles (else the caller writes it another way,
    /// after [`TcpCoalescer::flush`] if order with TCP matters).
    pub fn is_candidate(pkt: &[u8]) -> bool {
        tcp_shape(pkt).is_some()
    }

    fn pending(&self) -> &[u8] {
        self.buf
            .get(VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + self.len)
            .unwrap_or_default()
    }

    fn joins(&self, pkt: &[u8], s: &TcpShape) -> bool {
        let Some(h) = self.head else {
            return false;
        };
        if self.closed
            || self.segs >= MAX_MERGED
            || s.v6 != h.v6
            || s.tcph != h.tcph
            || s.payload == 0
            || s.payload > h.payload
            || s.seq != self.next_seq
            || s.flags & !(TCP_ACK | TCP_PSH) != 0
            || self.len + s.payload > MAX_IP_PACKET
        {
            return false;
        }
        let cur = self.pending();
        // IP header fields that must match, and the TCP header but for seq, flags, checksum
        // (window may differ: the newest is kept... simply require equality, as a sender's
        // GSO burst has one window).
        let same_ip = if h.v6 {
            // Version/traffic class/flow label, next header, hop limit, addresses.
            cur.get(..4) == pkt.get(..4) && cur.get(6..40) == pkt.get(6..40)
        } else {
            // TOS, DF, TTL, protocol, addresses (not total length, ID, checksum).
            cur.get(1) == pkt.get(1)
                && cur.get(6) == pkt.get(6)
                && cur.get(8..10) == pkt.get(8..10)
                && cur.get(12..20) == pkt.get(12..20)
        };
        let t = h.iph;
        same_ip
            // ports
            && cur.get(t..t + 4) == pkt.get(t..t + 4)
            // ack number, data offset
            && cur.get(t + 8..t + 13) == pkt.get(t + 8..t + 13)
            // window
            && cur.get(t + 14..t + 16) == pkt.get(t + 14..t + 16)
            // urgent pointer and options
            && cur.get(t + 18..t + h.tcph) == pkt.get(t + 18..t + h.tcph)
    }

    /// Adds a TCP packet (see [`TcpCoalescer::is_candidate`]); writes what was pending first
    /// when it cannot join. Errors are write errors (the packet is still taken).
    pub fn push(&mut self, tun: &Tun, pkt: &[u8]) -> io::Result<()> {
        let Some(s) = tcp_shape(pkt) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not TCP"));
        };
        let mut r = Ok(());
        if self.joins(pkt, &s) {
            let start = VIRTIO_NET_HDR_LEN + self.len;
            let payload = pkt.get(s.iph + s.tcph..).unwrap_or_default();
            if let Some(dst) = self.buf.get_mut(start..start + payload.len()) {
                dst.copy_from_slice(payload);
                self.len += payload.len();
                self.segs += 1;
                self.next_seq = s.seq.wrapping_add(payload.len() as u32);
                if let Some(h) = self.head.as_mut() {
                    if s.flags & TCP_PSH != 0 {
                        h.flags |= TCP_PSH;
                    }
                    if s.payload < h.payload || s.flags & TCP_PSH != 0 {
                        self.closed = true;
                    }
                }
                return Ok(());
            }
        }
        if self.len > 0 {
            r = self.flush(tun);
        }
        let Some(dst) = self
            .buf
            .get_mut(VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + pkt.len())
        else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "too long"));
        };
        dst.copy_from_slice(pkt);
        self.len = pkt.len();
        self.head = Some(s);
        self.segs = 1;
        self.next_seq = s.seq.wrapping_add(s.payload as u32);
        // Only pure ACK(/PSH) data segments may start a merge.
        self.closed =
            s.payload == 0 || s.flags & !(TCP_ACK | TCP_PSH) != 0 || s.flags & TCP_PSH != 0;
        r
    }

    /// Writes the pending super-packet (or single packet), if any.
    pub fn flush(&mut self, tun: &Tun) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let Some(h) = self.head else {
            self.len = 0;
            return Ok(());
        };
        let total = self.len;
        let mut hdr = VirtioNetHdr::default();
        if self.segs > 1 {
            let pkt = &mut self.buf[VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + total];
            let l4_len = (total - h.iph) as u16;
            let (src, dst) = if h.v6 {
                pkt[4..6].copy_from_slice(&l4_len.to_be_bytes());
                (8..24, 24..40)
            } else {
                pkt[2..4].copy_from_slice(&(total as u16).to_be_bytes());
                pkt[10..12].fill(0);
                let c = !tun_rs::checksum(&pkt[..20], 0);
                pkt[10..12].copy_from_slice(&c.to_be_bytes());
                (12..16, 16..20)
            };
            pkt[h.iph + 13] = h.flags;
            let sum = tun_rs::checksum(&pkt[src], 0);
            let sum = tun_rs::checksum(&pkt[dst], u64::from(sum));
            let mut trailer = [0u8; 4];
            trailer[1] = 6;
            trailer[2..4].copy_from_slice(&l4_len.to_be_bytes());
            let psum = tun_rs::checksum(&trailer, u64::from(sum));
            pkt[h.iph + 16..h.iph + 18].copy_from_slice(&psum.to_be_bytes());
            hdr.flags = F_NEEDS_CSUM;
            hdr.gso_type = if h.v6 { GSO_TCPV6 } else { GSO_TCPV4 };
            hdr.hdr_len = (h.iph + h.tcph) as u16;
            hdr.gso_size = h.payload as u16;
            hdr.csum_start = h.iph as u16;
            hdr.csum_offset = 16;
        }
        hdr.encode(&mut self.buf[..VIRTIO_NET_HDR_LEN])?;
        self.writes += 1;
        self.segments += self.segs as u64;
        self.len = 0;
        self.head = None;
        self.segs = 0;
        tun.send_raw(&self.buf[..VIRTIO_NET_HDR_LEN + total])
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp4(seq: u32, payload: usize, flags: u8) -> Vec<u8> {
        let total = 20 + 20 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[10, 1, 0, 10]);
        p[16..20].copy_from_slice(&[10, 0, 1, 10]);
        p[20..22].copy_from_slice(&5201u16.to_be_bytes());
        p[22..24].copy_from_slice(&40000u16.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p
    }

    #[test]
    fn shapes() {
        let p = tcp4(7, 100, TCP_ACK);
        let s = tcp_shape(&p).unwrap();
        assert_eq!((s.iph, s.tcph, s.payload, s.seq), (20, 20, 100, 7));
        assert!(tcp_shape(&p[..50]).is_none(), "length mismatch");
        let mut frag = p.clone();
        frag[6] = 0x20; // MF
        assert!(tcp_shape(&frag).is_none());
        let mut udp = p.clone();
        udp[9] = 17;
        assert!(tcp_shape(&udp).is_none());
        assert!(tcp_shape(&[]).is_none());
        assert!(tcp_shape(&[0x45]).is_none());
    }

    #[test]
    fn join_rules() {
        let mut c = TcpCoalescer::new();
        let a = tcp4(1000, 100, TCP_ACK);
        // Start by hand (push needs a TUN only when flushing).
        c.buf[VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + a.len()].copy_from_slice(&a);
        c.len = a.len();
        c.head = tcp_shape(&a);
        c.segs = 1;
        c.next_seq = 1100;
        let b = tcp4(1100, 100, TCP_ACK);
        assert!(c.joins(&b, &tcp_shape(&b).unwrap()));
        let gap = tcp4(1200, 100, TCP_ACK);
        assert!(!c.joins(&gap, &tcp_shape(&gap).unwrap()));
        let longer = tcp4(1100, 101, TCP_ACK);
        assert!(!c.joins(&longer, &tcp_shape(&longer).unwrap()));
        let fin = tcp4(1100, 100, TCP_ACK | 0x01);
        assert!(!c.joins(&fin, &tcp_shape(&fin).unwrap()));
        let mut other_port = b.clone();
        other_port[21] ^= 1;
        assert!(!c.joins(&other_port, &tcp_shape(&other_port).unwrap()));
        let mut other_ack = b.clone();
        other_ack[28] ^= 1;
        assert!(!c.joins(&other_ack, &tcp_shape(&other_ack).unwrap()));
    }
}
