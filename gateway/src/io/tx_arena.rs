//! Zero-copy outbound batching: TUN reads are split straight into one contiguous arena at the
//! offsets where their ESP packets will be sent from, so equal-size ESP packets of one (or
//! several) TUN reads form a UDP GSO train without being copied again.
//!
//! ```text
//! arena: | ESP(seg 0) | ESP(seg 1) | ... | ESP(seg n-1, maybe shorter) | ESP(next read) | ...
//!          ^ head bytes left free in front of each inner packet, tail bytes behind it
//! ```
//!
//! One TUN read goes into a scratch buffer (virtio-net header + up to 64 KiB); its segments
//! are computed from the virtio header, and `dataplane::gso_split` writes segment `i` to
//! `arena[pos + i * stride + head..]` with `stride = suite.esp_len(segment)`. ESP
//! encapsulation then happens in place ([`esp::OutboundSa::encapsulate`] on the arena), and
//! [`TxArena::flush`] sends runs of adjacent equal-size ESP packets with one `sendmsg` each.
//! Whether a run is contiguous is decided from the actual ESP ranges, so a mispredicted size
//! (or a packet dropped in between) only splits a train; it never sends wrong bytes.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use tun_rs::{VirtioNetHdr, VIRTIO_NET_HDR_LEN};

use super::packet_batch::MAX_IP_PACKET;
use super::tun::Tun;
use super::udp::UdpBatchSocket;
use crate::dataplane::gso_split::{self, SuperPacket};

/// Most segments one TUN read may split into (tun-rs's ideal batch; a 64 KiB TCP super-packet
/// at the smallest sensible MSS stays below it).
pub const MAX_SEGMENTS: usize = 128;
/// Arena size: several 64 KiB super-packets' worth of ESP packets per flush.
pub const ARENA_BYTES: usize = 384 * 1024;
/// Most ESP packets waiting for one flush.
pub const MAX_PENDING: usize = 1024;

const GSO_NONE: u8 = 0;
const F_NEEDS_CSUM: u8 = 1;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;
const GSO_ECN: u8 = 0x80;

/// What one TUN read holds, before placement.
#[derive(Debug, Clone, Copy)]
pub struct ReadShape {
    /// Number of inner packets.
    pub count: usize,
    /// Length of every packet but the last.
    pub segment: usize,
    /// Length of the last packet.
    pub last: usize,
    hdr: Option<VirtioNetHdr>,
    is_v6: bool,
    payload: (usize, usize),
}

/// An inner packet placed in the arena, ready for in-place encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Where the inner packet lies in [`TxArena::buf_mut`].
    pub inner: (usize, usize),
}

/// Per-thread outbound buffers.
pub struct TxArena {
    buf: Box<[u8]>,
    used: usize,
    scratch: Box<[u8]>,
    scratch_len: usize,
    sizes: [usize; MAX_SEGMENTS],
    placed: [Placed; MAX_SEGMENTS],
    placed_len: usize,
    /// ESP packets waiting, as (start, len, destination) in `buf`, in send order.
    pending: Vec<(u32, u32, SocketAddr)>,
    /// Counters for tests and status: sendmsg calls and datagrams sent.
    pub sends: u64,
    pub datagrams: u64,
}

impl Default for TxArena {
    fn default() -> Self {
        Self::new()
    }
}

impl TxArena {
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; ARENA_BYTES].into_boxed_slice(),
            used: 0,
            scratch: vec![0u8; VIRTIO_NET_HDR_LEN + MAX_IP_PACKET].into_boxed_slice(),
            scratch_len: 0,
            sizes: [0; MAX_SEGMENTS],
            placed: [Placed { inner: (0, 0) }; MAX_SEGMENTS],
            placed_len: 0,
            pending: Vec::with_capacity(MAX_PENDING),
            sends: 0,
            datagrams: 0,
        }
    }

    /// ESP packets waiting to be sent.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Reads one (possibly GSO) packet from `tun` into the scratch buffer and describes it.
    /// `Ok(None)`: the read was malformed and is dropped (counted by the caller).
    pub fn read(&mut self, tun: &Tun) -> io::Result<Option<ReadShape>> {
        self.placed_len = 0;
        let n = loop {
            match tun.recv_raw(&mut self.scratch) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.scratch_len = n.min(self.scratch.len());
        if !tun.offload().tcp_gso {
            if n == 0 {
                return Ok(None);
            }
            return Ok(Some(ReadShape {
                count: 1,
                segment: n,
                last: n,
                hdr: None,
                is_v6: false,
                payload: (0, self.scratch_len),
            }));
        }
        Ok(self.shape())
    }

    fn shape(&mut self) -> Option<ReadShape> {
        let len = self.scratch_len;
        if len <= VIRTIO_NET_HDR_LEN {
            return None;
        }
        let mut hdr = VirtioNetHdr::decode(self.scratch.get(..VIRTIO_NET_HDR_LEN)?).ok()?;
        let payload = (VIRTIO_NET_HDR_LEN, len);
        let input = self.scratch.get_mut(VIRTIO_NET_HDR_LEN..len)?;
        let ilen = input.len();
        if hdr.gso_type == GSO_NONE {
            if hdr.flags & F_NEEDS_CSUM != 0 {
                partial_checksum(input, hdr.csum_start.into(), hdr.csum_offset.into())?;
            }
            return Some(ReadShape {
                count: 1,
                segment: ilen,
                last: ilen,
                hdr: None,
                is_v6: false,
                payload,
            });
        }
        if hdr.gso_size == 0 {
            return None;
        }
        let is_v6 = match input.first()? >> 4 {
            4 => false,
            6 => true,
            _ => return None,
        };
        let base = hdr.gso_type & !GSO_ECN;
        let tcp = match base {
            GSO_TCPV4 if !is_v6 => true,
            GSO_TCPV6 if is_v6 => true,
            GSO_UDP_L4 if hdr.gso_type & GSO_ECN == 0 => false,
            _ => return None,
        };
        // As tun-rs (after wireguard-go): do not trust hdr_len, derive it from the transport
        // header.
        let cs = usize::from(hdr.csum_start);
        let hdr_len = if tcp {
            let doff = usize::from(*input.get(cs.checked_add(12)?)? >> 4) * 4;
            if !(20..=60).contains(&doff) {
                return None;
            }
            cs.checked_add(doff)?
        } else {
            cs.checked_add(8)?
        };
        if ilen < hdr_len
            || cs
                .checked_add(usize::from(hdr.csum_offset))?
                .checked_add(1)?
                >= ilen
        {
            return None;
        }
        hdr.hdr_len = u16::try_from(hdr_len).ok()?;
        let gso = usize::from(hdr.gso_size);
        let data = ilen - hdr_len;
        let count = data.div_ceil(gso).max(1);
        if count > MAX_SEGMENTS {
            return None;
        }
        let last = hdr_len + (data - (count - 1) * gso);
        Some(ReadShape {
            count,
            segment: hdr_len + gso,
            last,
            hdr: Some(hdr),
            is_v6,
            payload,
        })
    }

    /// Arena bytes one read needs with ESP packets of `stride` bytes per segment.
    pub fn room_for(shape: &ReadShape, stride: usize) -> usize {
        stride.saturating_mul(shape.count)
    }

    /// Free arena bytes.
    pub fn room(&self) -> usize {
        self.buf.len() - self.used
    }

    /// Splits the last read into the arena: packet `i` at `used + i * stride + head`.
    /// `stride` must be at least `head + segment + tailroom(segment)` (the ESP length of a
    /// full segment). Returns the number of packets placed (0 if the read was malformed or
    /// does not fit: flush first).
    pub fn place(&mut self, shape: &ReadShape, head: usize, stride: usize) -> usize {
        self.placed_len = 0;
        let need = Self::room_for(shape, stride);
        if stride < head.saturating_add(shape.segment) || need > self.room() {
            return 0;
        }
        let start = self.used;
        let Some(region) = self.buf.get_mut(start..start + need) else {
            return 0;
        };
        let Some(input) = self.scratch.get_mut(shape.payload.0..shape.payload.1) else {
            return 0;
        };
        let n = match shape.hdr {
            None => {
                let Some(dst) = region.get_mut(head..head + input.len()) else {
                    return 0;
                };
                dst.copy_from_slice(input);
                self.sizes[0] = input.len();
                1
            }
            Some(hdr) => {
                let tcp = hdr.gso_type & !GSO_ECN != GSO_UDP_L4;
                // The transport checksum field is where TCP or UDP has it, or the read is
                // not one the kernel makes.
                if hdr.csum_offset != if tcp { 16 } else { 6 } {
                    return 0;
                }
                let sp = SuperPacket {
                    tcp,
                    v6: shape.is_v6,
                    l4_start: hdr.csum_start.into(),
                    hdr_len: hdr.hdr_len.into(),
                    gso_size: hdr.gso_size.into(),
                };
                let count = shape.count.min(MAX_SEGMENTS);
                match gso_split::split(input, &sp, region, stride, head, &mut self.sizes[..count]) {
                    Some(n) => n.min(count),
                    None => return 0,
                }
            }
        };
        if n == 0 {
            return 0;
        }
        for i in 0..n {
            let at = start + i * stride + head;
            self.placed[i] = Placed {
                inner: (at, self.sizes[i]),
            };
        }
        self.placed_len = n;
        // Everything up to the end of the last packet's slot is now owned by this read.
        self.used = start + n * stride;
        n
    }

    /// The packets placed by the last [`TxArena::place`].
    pub fn placed(&self) -> &[Placed] {
        &self.placed[..self.placed_len]
    }

    /// The whole arena, for in-place encapsulation of placed packets.
    pub fn buf_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Queues an encapsulated packet (`esp`: the range encapsulation returned) for `dst`.
    /// Dropped if [`MAX_PENDING`] packets are already waiting: callers flush before placing
    /// a read that would not fit.
    pub fn queue(&mut self, dst: SocketAddr, esp: Range<usize>) {
        if self.pending.len() >= MAX_PENDING {
            return;
        }
        let (Ok(s), Ok(l)) = (u32::try_from(esp.start), u32::try_from(esp.len())) else {
            return;
        };
        self.pending.push((s, l, dst));
    }

    /// Sends everything queued: each run of adjacent ESP packets of equal size for one
    /// destination (the last may be shorter) goes out as one GSO send. Empties the arena:
    /// call it between reads only. Returns the number of failed sends.
    pub fn flush(&mut self, sock: &UdpBatchSocket) -> u64 {
        let mut failed = 0;
        let mut i = 0;
        while let Some(&(start, seg, dst)) = self.pending.get(i) {
            let (mut end, mut j) = (start + seg, i + 1);
            while let Some(&(s, l, d)) = self.pending.get(j) {
                // Joins if adjacent, same destination and not longer; a shorter one ends
                // the run.
                if s != end || l > seg || d != dst {
                    break;
                }
                end += l;
                j += 1;
                if l < seg {
                    break;
                }
            }
            if let Some(bytes) = self.buf.get(start as usize..end as usize) {
                self.sends += 1;
                self.datagrams += (j - i) as u64;
                if sock.send_segments(dst, bytes, seg as usize).is_err() {
                    failed += 1;
                }
            }
            i = j;
        }
        self.pending.clear();
        self.used = 0;
        failed
    }
}

/// CHECKSUM_PARTIAL completion (virtio NEEDS_CSUM): the field holds the pseudo-header sum;
/// fold in everything from `start` and store the complement. None if out of bounds.
fn partial_checksum(pkt: &mut [u8], start: usize, offset: usize) -> Option<()> {
    let at = start.checked_add(offset)?;
    let field = pkt.get_mut(at..at.checked_add(2)?)?;
    let initial = u16::from_be_bytes([field[0], field[1]]);
    field.fill(0);
    let sum = tun_rs::checksum(pkt.get(start..)?, u64::from(initial));
    pkt.get_mut(at..at + 2)?
        .copy_from_slice(&(!sum).to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_groups_adjacent_equal_runs_per_destination() {
        let sock = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let rx1 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx2 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for r in [&rx1, &rx2] {
            r.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
        }
        let (d1, d2) = (rx1.local_addr().unwrap(), rx2.local_addr().unwrap());
        let mut a = TxArena::new();
        // Three adjacent 100-byte packets and a shorter one to d1 (one run), then a gap,
        // then two to d2 (a second run), then one more to d1 (a third).
        let layout: [(usize, usize, SocketAddr); 7] = [
            (0, 100, d1),
            (100, 100, d1),
            (200, 100, d1),
            (300, 40, d1),
            (500, 60, d2),
            (560, 60, d2),
            (620, 60, d1),
        ];
        for (i, &(s, l, d)) in layout.iter().enumerate() {
            a.buf_mut()[s..s + l].fill(i as u8 + 1);
            a.queue(d, s..s + l);
        }
        assert_eq!(a.pending(), 7);
        assert_eq!(a.flush(&sock), 0);
        assert_eq!(a.sends, 3);
        assert_eq!(a.datagrams, 7);
        assert_eq!(a.pending(), 0);
        let mut got1 = Vec::new();
        let mut b = [0u8; 2048];
        for _ in 0..5 {
            let n = rx1.recv(&mut b).unwrap();
            assert!(b[..n].iter().all(|&x| x == b[0]));
            got1.push((b[0], n));
        }
        assert_eq!(got1, vec![(1, 100), (2, 100), (3, 100), (4, 40), (7, 60)]);
        for want in [5u8, 6] {
            let n = rx2.recv(&mut b).unwrap();
            assert_eq!((b[0], n), (want, 60));
        }
    }

    #[test]
    fn partial_checksum_matches_full_sum() {
        // A UDP-like body: checksum over bytes 4.. with the field at 4+6.
        let mut p = vec![0u8; 40];
        for (i, b) in p.iter_mut().enumerate() {
            *b = i as u8;
        }
        p[10] = 0x12;
        p[11] = 0x34;
        let mut q = p.clone();
        partial_checksum(&mut q, 4, 6).unwrap();
        // Verifying: the sum over the range including the stored checksum folds to 0xffff
        // when seeded with the same initial value.
        let mut check = q.clone();
        let stored = u16::from_be_bytes([check[10], check[11]]);
        check[10] = 0;
        check[11] = 0;
        let s = tun_rs::checksum(&check[4..], 0x1234);
        assert_eq!(!s, stored);
        assert!(partial_checksum(&mut p, 39, 6).is_none());
    }
}
