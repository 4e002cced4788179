//! TCP and UDP receive coalescing for TUN writes (GRO in userspace), without allocation.
//!
//! Consecutive in-order segments of one TCP flow (as they come out of one decrypted UDP GRO
//! train) are appended into one super-packet and written to the TUN with a virtio-net header
//! (`GSO_TCPV4/6`, `NEEDS_CSUM`), so the kernel handles a 64 KiB packet instead of 45 small
//! ones. Consecutive datagrams of one UDP flow, all of one size but the last, become one
//! `GSO_UDP_L4` packet the same way (the kernel's USO, where the TUN offers it). Each payload
//! is copied exactly once, from where it was decrypted into the super-packet. tun-rs's own
//! `send_multiple` does the same but copies every packet into a fresh `Vec` first (an
//! allocation and a copy per packet); it remains in use for what neither coalescer takes.
//!
//! Rules (as the kernel's and wireguard-go's GRO): IPv4 without options and not fragmented,
//! or IPv6 with TCP as the next header; only ACK/PSH flags; same addresses, ports,
//! TOS/traffic class, TTL/hop limit, DF, ACK number, TCP header length and options; the
//! sequence number continues the previous segment; all segments the size of the first, the
//! last may be shorter (and ends the packet), as does PSH. Anything else is written alone,
//! after the pending super-packet, so a flow's order is kept.
//!
//! UDP (as the kernel's UDP GRO): unfragmented, the UDP length matching the IP length; same
//! addresses, ports, TOS/traffic class, TTL/hop limit and DF; over IPv4 without DF the IP IDs
//! must count up by one, since the kernel numbers the segments it cuts that way; all
//! datagrams the size of the first, the last may be shorter (and ends the packet).
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
const GSO_UDP_L4: u8 = 5;
const F_NEEDS_CSUM: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const UDP_HEADER: usize = 8;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// Most segments merged into one write.
pub const MAX_MERGED: usize = 64;

/// The transport a coalescer merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L4 {
    Tcp,
    Udp,
}

/// Where the parts of a TCP or UDP packet are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    v6: bool,
    iph: usize,
    /// Transport header length (TCP with options, or 8 for UDP).
    l4h: usize,
    payload: usize,
    /// TCP only.
    seq: u32,
    flags: u8,
    /// IPv4 identification (0 for IPv6).
    id: u16,
}

/// IP version, header length and the IPv4 ID of an unfragmented packet of `proto` whose IP
/// length is its length.
#[inline(always)]
fn ip_shape(p: &[u8], proto: u8) -> Option<(bool, usize, u16)> {
    let (v6, iph, total, id) = match p.first()? >> 4 {
        4 => {
            // No options, the protocol, not a fragment (MF clear, offset 0).
            if p.first()? & 0x0f != 5
                || *p.get(9)? != proto
                || p.get(6)? & 0x3f != 0
                || *p.get(7)? != 0
            {
                return None;
            }
            (
                false,
                20,
                usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?])),
                u16::from_be_bytes([*p.get(4)?, *p.get(5)?]),
            )
        }
        6 => {
            if *p.get(6)? != proto {
                return None;
            }
            let pl = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            (true, 40, pl + 40, 0)
        }
        _ => return None,
    };
    (total == p.len()).then_some((v6, iph, id))
}

#[inline(always)]
fn tcp_shape(p: &[u8]) -> Option<Shape> {
    let (v6, iph, id) = ip_shape(p, PROTO_TCP)?;
    let tcph = usize::from(p.get(iph + 12)? >> 4) * 4;
    if tcph < 20 || iph + tcph > p.len() {
        return None;
    }
    let flags = *p.get(iph + 13)?;
    let seq = u32::from_be_bytes(p.get(iph + 4..iph + 8)?.try_into().ok()?);
    Some(Shape {
        v6,
        iph,
        l4h: tcph,
        payload: p.len() - iph - tcph,
        seq,
        flags,
        id,
    })
}

#[inline(always)]
fn udp_shape(p: &[u8]) -> Option<Shape> {
    let (v6, iph, id) = ip_shape(p, PROTO_UDP)?;
    let udp_len = usize::from(u16::from_be_bytes([*p.get(iph + 4)?, *p.get(iph + 5)?]));
    if udp_len < UDP_HEADER || iph + udp_len != p.len() {
        return None;
    }
    Some(Shape {
        v6,
        iph,
        l4h: UDP_HEADER,
        payload: udp_len - UDP_HEADER,
        seq: 0,
        flags: 0,
        id,
    })
}

/// Whether `a` and `b` both have `N` bytes at `at` and they are equal.
#[inline(always)]
fn same<const N: usize>(a: &[u8], b: &[u8], at: usize) -> bool {
    let word = |p: &[u8]| -> Option<[u8; N]> { p.get(at..at + N)?.try_into().ok() };
    matches!((word(a), word(b)), (Some(x), Some(y)) if x == y)
}

/// Whether `a` and `b` are equal from `at` to `end` (a multiple of 4 bytes further), compared
/// in 4-byte words.
#[inline(always)]
fn same_words(a: &[u8], b: &[u8], mut at: usize, end: usize) -> bool {
    while at < end {
        if !same::<4>(a, b, at) {
            return false;
        }
        at += 4;
    }
    true
}

/// Builds TCP or UDP super-packets for one TUN; owned by one thread.
pub struct Coalescer {
    l4: L4,
    /// Virtio header followed by the super-packet.
    buf: Box<[u8]>,
    /// Length of the IP packet in `buf` after the header (0: nothing pending).
    len: usize,
    head: Option<Shape>,
    segs: usize,
    next_seq: u32,
    closed: bool,
    /// Writes and segments written, for tests and diagnostics.
    pub writes: u64,
    pub segments: u64,
}

impl Coalescer {
    /// Merges TCP segments (`GSO_TCPV4/6`).
    pub fn tcp() -> Self {
        Self::new(L4::Tcp)
    }

    /// Merges UDP datagrams (`GSO_UDP_L4`): only for a TUN with USO.
    pub fn udp() -> Self {
        Self::new(L4::Udp)
    }

    fn new(l4: L4) -> Self {
        Self {
            l4,
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

    #[inline(always)]
    fn shape(&self, pkt: &[u8]) -> Option<Shape> {
        match self.l4 {
            L4::Tcp => tcp_shape(pkt),
            L4::Udp => udp_shape(pkt),
        }
    }

    fn pending(&self) -> &[u8] {
        self.buf
            .get(VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + self.len)
            .unwrap_or_default()
    }

    #[inline(always)]
    fn joins(&self, pkt: &[u8], s: &Shape) -> bool {
        let Some(h) = self.head else {
            return false;
        };
        if self.closed
            || self.segs >= MAX_MERGED
            || s.v6 != h.v6
            || s.l4h != h.l4h
            || s.payload == 0
            || s.payload > h.payload
            || self.len + s.payload > MAX_IP_PACKET
        {
            return false;
        }
        let cur = self.pending();
        // Fixed-size comparisons (`same`), which compile to integer compares: slice equality
        // of ranges the compiler cannot size calls `memcmp` (7% of this function's time).
        let same_ip = if h.v6 {
            // Version/traffic class/flow label, next header, hop limit, addresses.
            same::<4>(cur, pkt, 0) && same::<2>(cur, pkt, 6) && same::<32>(cur, pkt, 8)
        } else {
            // TOS, DF, TTL, protocol, addresses (not total length, ID, checksum).
            same::<2>(cur, pkt, 0)
                && cur.get(6) == pkt.get(6)
                && same::<2>(cur, pkt, 8)
                && same::<8>(cur, pkt, 12)
        };
        let t = h.iph;
        // Ports.
        if !same_ip || !same::<4>(cur, pkt, t) {
            return false;
        }
        match self.l4 {
            L4::Tcp => {
                s.seq == self.next_seq
                    && s.flags & !(TCP_ACK | TCP_PSH) == 0
                    // ack number, data offset
                    && same::<4>(cur, pkt, t + 8)
                    && cur.get(t + 12) == pkt.get(t + 12)
                    // window (a sender's GSO burst has one)
                    && same::<2>(cur, pkt, t + 14)
                    // urgent pointer, then the options in 4-byte words (the header length is
                    // a multiple of 4, the same for both)
                    && same::<2>(cur, pkt, t + 18)
                    && same_words(cur, pkt, t + 20, t + h.l4h)
            }
            // The kernel gives the segments it cuts consecutive IDs: without DF they must
            // already be so (RFC 6864 section 4.1: the ID matters only for fragmentation).
            L4::Udp => {
                let df = pkt.get(6).is_some_and(|b| b & 0x40 != 0);
                h.v6 || df || s.id == h.id.wrapping_add(self.segs as u16)
            }
        }
    }

    /// Takes `pkt` if it is this coalescer's transport (`None`: it is not, the caller writes
    /// it another way); writes what was pending first when it cannot join. `Some(Err)` is a
    /// write error (the packet is still taken).
    pub fn push(&mut self, tun: &Tun, pkt: &[u8]) -> Option<io::Result<()>> {
        self.push_with(pkt, |b| tun.send_raw(b))
    }

    /// [`Self::push`] with any writer of one virtio header and packet (benchmarks, tests).
    pub fn push_with<W>(&mut self, pkt: &[u8], write: W) -> Option<io::Result<()>>
    where
        W: FnOnce(&[u8]) -> io::Result<usize>,
    {
        let s = self.shape(pkt)?;
        if self.try_join(pkt, &s) {
            return Some(Ok(()));
        }
        let r = self.flush_with(write);
        Some(self.start(pkt, s).and(r))
    }

    /// Appends `pkt` (of shape `s`) to the pending packet if it joins.
    #[inline(always)]
    fn try_join(&mut self, pkt: &[u8], s: &Shape) -> bool {
        if !self.joins(pkt, s) {
            return false;
        }
        let start = VIRTIO_NET_HDR_LEN + self.len;
        let payload = pkt.get(s.iph + s.l4h..).unwrap_or_default();
        let Some(dst) = self.buf.get_mut(start..start + payload.len()) else {
            return false;
        };
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
        true
    }

    /// Makes `pkt` (of shape `s`) the pending packet (nothing may be pending).
    fn start(&mut self, pkt: &[u8], s: Shape) -> io::Result<()> {
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
        // Only pure ACK(/PSH) TCP segments with data, and non-empty UDP datagrams, may start
        // a merge.
        self.closed = s.payload == 0
            || (self.l4 == L4::Tcp
                && (s.flags & !(TCP_ACK | TCP_PSH) != 0 || s.flags & TCP_PSH != 0));
        Ok(())
    }

    /// Writes the pending super-packet (or single packet), if any.
    pub fn flush(&mut self, tun: &Tun) -> io::Result<()> {
        self.flush_with(|b| tun.send_raw(b))
    }

    /// [`Self::flush`] with any writer of one virtio header and packet.
    pub fn flush_with<W>(&mut self, write: W) -> io::Result<()>
    where
        W: FnOnce(&[u8]) -> io::Result<usize>,
    {
        match self.finish()? {
            0 => Ok(()),
            n => write(&self.buf[..n]).map(drop),
        }
    }

    /// Completes the pending packet in `buf` (virtio header, lengths, the pseudo-header sum)
    /// and empties the coalescer; returns the bytes to write (0: nothing pending).
    fn finish(&mut self) -> io::Result<usize> {
        let total = std::mem::take(&mut self.len);
        let segs = std::mem::take(&mut self.segs);
        let Some(h) = self.head.take() else {
            return Ok(0);
        };
        if total == 0 {
            return Ok(0);
        }
        let mut hdr = VirtioNetHdr::default();
        if segs > 1 {
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
            let (proto, csum_offset) = match self.l4 {
                L4::Tcp => {
                    pkt[h.iph + 13] = h.flags;
                    hdr.gso_type = if h.v6 { GSO_TCPV6 } else { GSO_TCPV4 };
                    (PROTO_TCP, 16)
                }
                L4::Udp => {
                    // The UDP length of the whole; the kernel sets each segment's.
                    pkt[h.iph + 4..h.iph + 6].copy_from_slice(&l4_len.to_be_bytes());
                    hdr.gso_type = GSO_UDP_L4;
                    (PROTO_UDP, 6)
                }
            };
            let sum = tun_rs::checksum(&pkt[src], 0);
            let sum = tun_rs::checksum(&pkt[dst], u64::from(sum));
            let mut trailer = [0u8; 4];
            trailer[1] = proto;
            trailer[2..4].copy_from_slice(&l4_len.to_be_bytes());
            let psum = tun_rs::checksum(&trailer, u64::from(sum));
            let at = h.iph + csum_offset;
            pkt[at..at + 2].copy_from_slice(&psum.to_be_bytes());
            hdr.flags = F_NEEDS_CSUM;
            hdr.hdr_len = (h.iph + h.l4h) as u16;
            hdr.gso_size = h.payload as u16;
            hdr.csum_start = h.iph as u16;
            hdr.csum_offset = csum_offset as u16;
        }
        hdr.encode(&mut self.buf[..VIRTIO_NET_HDR_LEN])?;
        self.writes += 1;
        self.segments += segs as u64;
        Ok(VIRTIO_NET_HDR_LEN + total)
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
        assert_eq!((s.iph, s.l4h, s.payload, s.seq), (20, 20, 100, 7));
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
        let mut c = Coalescer::tcp();
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

    /// A TCP segment over IPv4 or IPv6 with `opt_words` 4-byte words of options.
    fn tcp_any(v6: bool, opt_words: usize, seq: u32, payload: usize) -> Vec<u8> {
        let iph = if v6 { 40 } else { 20 };
        let tcph = 20 + 4 * opt_words;
        let total = iph + tcph + payload;
        let mut p = vec![0u8; total];
        if v6 {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((tcph + payload) as u16).to_be_bytes());
            p[6] = PROTO_TCP;
            p[7] = 64;
            p[8..24].copy_from_slice(&[0xfd, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
            p[24..40].copy_from_slice(&[0xfd, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5]);
        } else {
            p[..20].copy_from_slice(&tcp4(0, 0, 0)[..20]);
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        }
        let t = iph;
        p[t..t + 2].copy_from_slice(&5201u16.to_be_bytes());
        p[t + 2..t + 4].copy_from_slice(&40000u16.to_be_bytes());
        p[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        p[t + 8..t + 12].copy_from_slice(&77u32.to_be_bytes());
        p[t + 12] = (tcph as u8 / 4) << 4;
        p[t + 13] = TCP_ACK;
        p[t + 14..t + 16].copy_from_slice(&512u16.to_be_bytes());
        for (k, b) in p[t + 20..t + tcph].iter_mut().enumerate() {
            *b = k as u8 + 1;
        }
        p
    }

    /// What may join, as written first with slice comparisons (the specification the
    /// fixed-size comparisons of `Coalescer::joins` must keep).
    fn joins_by_slices(c: &Coalescer, pkt: &[u8], s: &Shape) -> bool {
        let Some(h) = c.head else {
            return false;
        };
        if c.closed
            || c.segs >= MAX_MERGED
            || s.v6 != h.v6
            || s.l4h != h.l4h
            || s.payload == 0
            || s.payload > h.payload
            || c.len + s.payload > MAX_IP_PACKET
        {
            return false;
        }
        let cur = c.pending();
        let same_ip = if h.v6 {
            cur.get(..4) == pkt.get(..4) && cur.get(6..40) == pkt.get(6..40)
        } else {
            cur.get(1) == pkt.get(1)
                && cur.get(6) == pkt.get(6)
                && cur.get(8..10) == pkt.get(8..10)
                && cur.get(12..20) == pkt.get(12..20)
        };
        let t = h.iph;
        if !same_ip || cur.get(t..t + 4) != pkt.get(t..t + 4) {
            return false;
        }
        s.seq == c.next_seq
            && s.flags & !(TCP_ACK | TCP_PSH) == 0
            && cur.get(t + 8..t + 13) == pkt.get(t + 8..t + 13)
            && cur.get(t + 14..t + 16) == pkt.get(t + 14..t + 16)
            && cur.get(t + 18..t + h.l4h) == pkt.get(t + 18..t + h.l4h)
    }

    proptest::proptest! {
        /// The next segment of a flow (IPv4 or IPv6, 0-10 words of options) with any header
        /// bytes changed: joins exactly when the slice-by-slice rules say so, and joins
        /// unchanged.
        #[test]
        fn header_comparisons_match_the_slice_rules(
            v6 in proptest::bool::ANY,
            opt_words in 0usize..=10,
            edits in proptest::collection::vec((0usize..100, proptest::num::u8::ANY), 0..4),
        ) {
            let first = tcp_any(v6, opt_words, 1000, 100);
            let mut next = tcp_any(v6, opt_words, 1100, 100);
            let mut c = Coalescer::tcp();
            start(&mut c, &first);
            let hl = next.len() - 100;
            for (at, v) in &edits {
                next[at % hl] = *v;
            }
            if let Some(s) = tcp_shape(&next) {
                proptest::prop_assert_eq!(c.joins(&next, &s), joins_by_slices(&c, &next, &s));
                if edits.is_empty() {
                    proptest::prop_assert!(c.joins(&next, &s));
                }
            }
        }
    }

    fn udp4(id: u16, df: bool, payload: &[u8]) -> Vec<u8> {
        let total = 20 + 8 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&id.to_be_bytes());
        p[6] = if df { 0x40 } else { 0 };
        p[8] = 64;
        p[9] = PROTO_UDP;
        p[12..16].copy_from_slice(&[10, 1, 0, 10]);
        p[16..20].copy_from_slice(&[10, 0, 1, 10]);
        p[20..22].copy_from_slice(&5201u16.to_be_bytes());
        p[22..24].copy_from_slice(&40000u16.to_be_bytes());
        p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p[28..].copy_from_slice(payload);
        p
    }

    /// Makes `p` (of `c`'s transport) the pending packet.
    fn start(c: &mut Coalescer, p: &[u8]) {
        let s = c.shape(p).unwrap();
        c.start(p, s).unwrap();
    }

    /// Whether `p` (of `c`'s transport) joined the pending packet.
    fn join(c: &mut Coalescer, p: &[u8]) -> bool {
        let s = c.shape(p).unwrap();
        c.try_join(p, &s)
    }

    /// Starts `c` with `first` and offers the rest; which of them joined.
    fn offer(c: &mut Coalescer, first: &[u8], rest: &[Vec<u8>]) -> Vec<bool> {
        start(c, first);
        rest.iter().map(|p| join(c, p)).collect()
    }

    /// RFC 1071 sum of the IPv4 pseudo-header, folded, not complemented.
    fn pseudo_sum(src: [u8; 4], dst: [u8; 4], proto: u8, len: u16) -> u16 {
        let words = [
            u16::from_be_bytes([src[0], src[1]]),
            u16::from_be_bytes([src[2], src[3]]),
            u16::from_be_bytes([dst[0], dst[1]]),
            u16::from_be_bytes([dst[2], dst[3]]),
            u16::from(proto),
            len,
        ];
        let mut sum: u32 = words.iter().map(|w| u32::from(*w)).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn udp_shapes() {
        let p = udp4(1, true, &[7; 64]);
        let s = udp_shape(&p).unwrap();
        assert_eq!((s.iph, s.l4h, s.payload, s.id), (20, 8, 64, 1));
        assert!(tcp_shape(&p).is_none(), "UDP is not TCP");
        assert!(udp_shape(&tcp4(1, 10, TCP_ACK)).is_none());
        let mut bad_len = p.clone();
        bad_len[25] ^= 1;
        assert!(
            udp_shape(&bad_len).is_none(),
            "UDP length must match IP length"
        );
        let mut frag = p.clone();
        frag[6] |= 0x20;
        assert!(udp_shape(&frag).is_none(), "fragments are never merged");
        assert!(udp_shape(&p[..27]).is_none());
        assert!(Coalescer::udp().shape(&p).is_some());
        assert!(Coalescer::tcp().shape(&p).is_none());
    }

    #[test]
    fn udp_join_rules() {
        let first = udp4(10, true, &[1; 100]);
        let joined = offer(
            &mut Coalescer::udp(),
            &first,
            &[
                udp4(99, true, &[2; 100]), // DF: any ID
                udp4(5, true, &[3; 101]),  // longer
                udp4(5, true, &[]),        // empty
            ],
        );
        assert_eq!(joined, [true, false, false]);

        // Without DF the IDs must count up by one, as the kernel will number the segments.
        let first = udp4(10, false, &[1; 100]);
        let joined = offer(
            &mut Coalescer::udp(),
            &first,
            &[udp4(11, false, &[2; 100]), udp4(13, false, &[3; 100])],
        );
        assert_eq!(joined, [true, false]);

        // A shorter datagram ends the train; other ports, addresses or DF do not join.
        let mut other_port = udp4(11, true, &[2; 100]);
        other_port[21] ^= 1;
        let mut other_dst = udp4(11, true, &[2; 100]);
        other_dst[19] ^= 1;
        other_dst[10..12].fill(0);
        let joined = offer(
            &mut Coalescer::udp(),
            &udp4(10, true, &[1; 100]),
            &[
                other_port,
                other_dst,
                udp4(11, false, &[2; 100]),
                udp4(12, true, &[2; 60]),
                udp4(13, true, &[2; 60]),
            ],
        );
        assert_eq!(joined, [false, false, false, true, false]);
    }

    #[test]
    fn udp_super_packet_has_uso_header_lengths_and_pseudo_sum() {
        let mut c = Coalescer::udp();
        let payloads: [&[u8]; 3] = [&[1; 64], &[2; 64], &[3; 20]];
        start(&mut c, &udp4(7, true, payloads[0]));
        for (i, p) in payloads[1..].iter().enumerate() {
            assert!(join(&mut c, &udp4(8 + i as u16, true, p)));
        }
        let n = c.finish().unwrap();
        let total = 20 + 8 + 64 + 64 + 20;
        assert_eq!(n, VIRTIO_NET_HDR_LEN + total);
        let hdr = VirtioNetHdr::decode(&c.buf[..VIRTIO_NET_HDR_LEN]).unwrap();
        assert_eq!(
            (hdr.flags, hdr.gso_type, hdr.hdr_len, hdr.gso_size),
            (F_NEEDS_CSUM, GSO_UDP_L4, 28, 64)
        );
        assert_eq!((hdr.csum_start, hdr.csum_offset), (20, 6));
        let pkt = &c.buf[VIRTIO_NET_HDR_LEN..n];
        assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]) as usize, total);
        assert_eq!(
            tun_rs::checksum(&pkt[..20], 0),
            0xffff,
            "IPv4 header checksum"
        );
        let udp_len = u16::from_be_bytes([pkt[24], pkt[25]]);
        assert_eq!(udp_len as usize, total - 20);
        assert_eq!(
            u16::from_be_bytes([pkt[26], pkt[27]]),
            pseudo_sum([10, 1, 0, 10], [10, 0, 1, 10], PROTO_UDP, udp_len)
        );
        assert_eq!(&pkt[28..], &[payloads.concat()].concat()[..]);
        assert_eq!((c.writes, c.segments), (1, 3));
        assert_eq!(c.finish().unwrap(), 0, "nothing pending after a finish");

        // One datagram alone is written as it came, without GSO.
        let single = udp4(1, true, &[9; 30]);
        start(&mut c, &single);
        let n = c.finish().unwrap();
        let hdr = VirtioNetHdr::decode(&c.buf[..VIRTIO_NET_HDR_LEN]).unwrap();
        assert_eq!((hdr.flags, hdr.gso_type), (0, 0));
        assert_eq!(&c.buf[VIRTIO_NET_HDR_LEN..n], &single[..]);
    }

    /// Decrypted packets come from the peer: mangled TCP and UDP packets (a seeded
    /// xorshift, so a failure reproduces) never make the coalescers panic, and whatever they
    /// complete is one IPv4 packet whose length field is its length.
    #[test]
    fn mangled_packets_never_panic_and_complete_consistently() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for l4 in [L4::Tcp, L4::Udp] {
            let mut c = Coalescer::new(l4);
            for round in 0..20_000u32 {
                let r = next();
                let mut p = match l4 {
                    L4::Tcp => tcp4(1000 + 100 * (round % 4), (r % 300) as usize, TCP_ACK),
                    L4::Udp => udp4(round as u16, r & 1 == 0, &vec![0; (r % 300) as usize]),
                };
                for _ in 0..(r >> 8) % 4 {
                    let at = (next() as usize) % p.len();
                    p[at] = next() as u8;
                }
                if r >> 16 & 7 == 0 {
                    p.truncate((next() as usize) % (p.len() + 1));
                }
                let shape = c.shape(&p);
                let joined = shape.is_some_and(|s| c.try_join(&p, &s));
                if !joined && (shape.is_none() || r >> 20 & 3 == 0) {
                    let n = c.finish().unwrap();
                    if n > 0 {
                        let ip = &c.buf[VIRTIO_NET_HDR_LEN..n];
                        if ip[0] >> 4 == 4 {
                            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
                            assert_eq!(total, ip.len(), "round {round}");
                        }
                    }
                }
                if let (false, Some(s)) = (joined, shape) {
                    let _ = c.finish().unwrap();
                    c.start(&p, s).unwrap();
                }
            }
        }
    }
}
