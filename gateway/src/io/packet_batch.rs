//! Reusable packet buffers for batched TUN I/O.
//!
//! A [`PacketBatch`] owns `capacity` fixed-size buffers allocated once. Each [`PacketBuf`]
//! holds one IP packet at `offset..offset + len`; the bytes before it (headroom) let ESP prepend
//! its headers in place and the bytes after it (tailroom) take padding and the ICV. Filling,
//! reading and sending a batch never allocates.

use super::page_buf::PageBuf;
use tun_rs::{ExpandBuffer, GROTable};

/// Headroom that covers outer IPv6 (40) + UDP (8) + ESP header (8) + IV (16) with room to spare,
/// and is at least the virtio-net header that TUN offload needs in front of each packet.
pub const DEFAULT_HEADROOM: usize = 96;
/// Tailroom for ESP padding (up to 255), pad length, next header and a 16-byte ICV is bounded
/// by the caller's choice of padding; 64 covers block-size padding with a 16-byte ICV.
pub const DEFAULT_TAILROOM: usize = 64;
/// The largest IP packet the TUN can hand over or accept (also the GRO coalescing limit).
pub const MAX_IP_PACKET: usize = 65535;

/// One packet buffer: a fixed allocation with the packet at `offset..offset + len`.
pub struct PacketBuf {
    /// In pages of its own: what a packet never reached costs no memory (see [`PageBuf`]).
    data: PageBuf,
    offset: usize,
    len: usize,
    /// Length of the prefix exposed through `AsRef`/`AsMut`/`ExpandBuffer` to tun-rs.
    view: usize,
}

impl PacketBuf {
    /// A buffer of `size` bytes; `color` is its index in its batch (see
    /// [`PageBuf::colored`]).
    fn new(size: usize, color: usize) -> Self {
        Self {
            data: PageBuf::colored(size, color),
            offset: 0,
            len: 0,
            view: 0,
        }
    }

    /// The packet bytes.
    pub fn packet(&self) -> &[u8] {
        self.data
            .get(self.offset..self.offset + self.len)
            .unwrap_or_default()
    }

    /// The packet bytes, mutable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        let end = self.offset + self.len;
        self.data.get_mut(self.offset..end).unwrap_or_default()
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total size of the buffer (headroom + packet + tailroom).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The whole buffer, for in-place transforms that move the packet (ESP encapsulation
    /// writes headers into the headroom, then calls [`PacketBuf::set_packet`]).
    pub fn buffer(&self) -> &[u8] {
        &self.data
    }

    /// The whole buffer, mutable.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Declares that the packet now lives at `offset..offset + len`. Returns false (and leaves
    /// the buffer unchanged) if that range does not fit.
    pub fn set_packet(&mut self, offset: usize, len: usize) -> bool {
        match offset.checked_add(len) {
            Some(end) if end <= self.data.len() => {
                self.offset = offset;
                self.len = len;
                self.view = end;
                true
            }
            _ => false,
        }
    }

    /// Copies `packet` into the buffer at `offset`. Returns false if it does not fit.
    pub fn fill(&mut self, offset: usize, packet: &[u8]) -> bool {
        let Some(dst) = offset
            .checked_add(packet.len())
            .and_then(|end| self.data.get_mut(offset..end))
        else {
            return false;
        };
        dst.copy_from_slice(packet);
        self.set_packet(offset, packet.len())
    }

    /// Moves the packet so it starts at `offset` (a `memmove` inside the buffer).
    pub fn move_to(&mut self, offset: usize) -> bool {
        if offset == self.offset {
            return true;
        }
        let Some(end) = offset.checked_add(self.len) else {
            return false;
        };
        if end > self.data.len() {
            return false;
        }
        self.data
            .copy_within(self.offset..self.offset + self.len, offset);
        self.set_packet(offset, self.len)
    }

    fn expose_all(&mut self) {
        self.view = self.data.len();
    }
}

impl AsRef<[u8]> for PacketBuf {
    fn as_ref(&self) -> &[u8] {
        self.data.get(..self.view).unwrap_or_default()
    }
}

impl AsMut<[u8]> for PacketBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        let view = self.view.min(self.data.len());
        &mut self.data[..view]
    }
}

/// tun-rs coalesces TCP/UDP segments into the first buffer of a flow; it checks
/// `buf_capacity()` before growing, so the fixed buffer never needs to reallocate. The clamps
/// below only guard against a violated contract.
impl ExpandBuffer for PacketBuf {
    fn buf_capacity(&self) -> usize {
        self.data.len()
    }

    fn buf_resize(&mut self, new_len: usize, value: u8) {
        let new_len = new_len.min(self.data.len());
        if new_len > self.view {
            self.data[self.view..new_len].fill(value);
        }
        self.view = new_len;
    }

    fn buf_extend_from_slice(&mut self, src: &[u8]) {
        let start = self.view.min(self.data.len());
        let n = src.len().min(self.data.len() - start);
        self.data[start..start + n].copy_from_slice(&src[..n]);
        self.view = start + n;
    }
}

/// A batch of packets in reusable buffers, owned by one fast-path thread.
pub struct PacketBatch {
    bufs: Vec<PacketBuf>,
    len: usize,
    headroom: usize,
    tailroom: usize,
    sizes: Vec<usize>,
    /// Receive buffer for one (possibly GSO) TUN read, virtio header included.
    scratch: Box<[u8]>,
    gro: GROTable,
}

impl PacketBatch {
    /// `capacity` buffers of `buf_size` bytes; received packets are placed at `headroom`, and
    /// `tailroom` bytes after the largest packet are kept free.
    ///
    /// For a batch that is sent to a TUN with offload, `buf_size` bounds how far tun-rs can
    /// coalesce segments into one buffer: use [`PacketBatch::for_tun`] for full coalescing.
    pub fn new(capacity: usize, headroom: usize, tailroom: usize, buf_size: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            bufs: (0..capacity).map(|i| PacketBuf::new(buf_size, i)).collect(),
            len: 0,
            headroom,
            tailroom,
            sizes: vec![0; capacity],
            scratch: vec![0u8; tun_rs::VIRTIO_NET_HDR_LEN + MAX_IP_PACKET].into_boxed_slice(),
            gro: GROTable::new(),
        }
    }

    /// A batch of `capacity` buffers sized so tun-rs can coalesce up to a 64 KiB super-packet
    /// (with [`DEFAULT_HEADROOM`] and [`DEFAULT_TAILROOM`]). 128 buffers is tun-rs's ideal.
    pub fn for_tun(capacity: usize) -> Self {
        Self::new(
            capacity,
            DEFAULT_HEADROOM,
            DEFAULT_TAILROOM,
            2 * DEFAULT_HEADROOM + MAX_IP_PACKET + DEFAULT_TAILROOM,
        )
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    pub fn headroom(&self) -> usize {
        self.headroom
    }

    pub fn tailroom(&self) -> usize {
        self.tailroom
    }

    /// Size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.bufs.first().map_or(0, PacketBuf::capacity)
    }

    /// Empties the batch (buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn get(&self, i: usize) -> Option<&PacketBuf> {
        self.bufs.get(..self.len)?.get(i)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut PacketBuf> {
        self.bufs.get_mut(..self.len)?.get_mut(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PacketBuf> {
        self.bufs.iter().take(self.len)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut PacketBuf> {
        self.bufs.iter_mut().take(self.len)
    }

    /// Appends a copy of `packet` at the batch's headroom. False if the batch is full or the
    /// packet does not fit a buffer.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        let headroom = self.headroom;
        let Some(slot) = self.push_slot() else {
            return false;
        };
        if slot.fill(headroom, packet) {
            return true;
        }
        self.len -= 1;
        false
    }

    /// Appends an empty slot (packet length 0 at the headroom) for the caller to fill through
    /// [`PacketBuf::buffer_mut`] and [`PacketBuf::set_packet`]. None if the batch is full.
    pub fn push_slot(&mut self) -> Option<&mut PacketBuf> {
        let headroom = self.headroom;
        let slot = self.bufs.get_mut(self.len)?;
        slot.offset = headroom.min(slot.data.len());
        slot.len = 0;
        slot.view = slot.offset;
        self.len += 1;
        Some(slot)
    }

    /// Keeps only the packets for which `keep` returns true, preserving order (buffers are
    /// swapped, not copied).
    pub fn retain_mut(&mut self, mut keep: impl FnMut(&mut PacketBuf) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            if keep(&mut self.bufs[i]) {
                self.bufs.swap(kept, i);
                kept += 1;
            }
        }
        self.len = kept;
    }

    pub(crate) fn size(&self, i: usize) -> usize {
        self.sizes.get(i).copied().unwrap_or(0)
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len.min(self.bufs.len());
    }

    pub(crate) fn bufs_mut(&mut self) -> &mut [PacketBuf] {
        &mut self.bufs
    }

    /// Disjoint borrows for one tun-rs `recv_multiple`: scratch, all buffers, sizes.
    pub(crate) fn recv_parts(&mut self) -> (&mut [u8], &mut [PacketBuf], &mut [usize]) {
        let n = self.bufs.len().min(self.sizes.len());
        (&mut self.scratch, &mut self.bufs[..n], &mut self.sizes[..n])
    }

    /// Disjoint borrows for one tun-rs `send_multiple`: the filled buffers and the GRO table.
    pub(crate) fn send_parts(&mut self) -> (&mut [PacketBuf], &mut GROTable) {
        let n = self.len.min(self.bufs.len());
        (&mut self.bufs[..n], &mut self.gro)
    }

    /// Exposes every buffer in full to tun-rs for a read into `[headroom..]`.
    pub(crate) fn expose_all(&mut self) {
        self.bufs.iter_mut().for_each(PacketBuf::expose_all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_read_back() {
        let mut b = PacketBatch::new(2, 16, 8, 64);
        assert!(b.push(&[1, 2, 3]));
        assert!(b.push(&[4; 40]));
        assert!(!b.push(&[5]), "batch full");
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(0).unwrap().packet(), &[1, 2, 3]);
        assert_eq!(b.get(0).unwrap().offset(), 16);
        assert_eq!(b.get(1).unwrap().len(), 40);
        b.clear();
        assert!(!b.push(&[0; 60]), "does not fit after headroom");
        assert!(b.is_empty());
    }

    #[test]
    fn retain_keeps_order() {
        let mut b = PacketBatch::new(4, 0, 0, 8);
        for i in 0..4u8 {
            assert!(b.push(&[i]));
        }
        b.retain_mut(|p| p.packet()[0] % 2 == 1);
        let got: Vec<u8> = b.iter().map(|p| p.packet()[0]).collect();
        assert_eq!(got, vec![1, 3]);
    }

    #[test]
    fn set_packet_and_move_check_bounds() {
        let mut b = PacketBatch::new(1, 4, 0, 16);
        let p = b.push_slot().unwrap();
        assert!(!p.set_packet(10, 7));
        assert!(!p.set_packet(usize::MAX, 2));
        assert!(p.fill(8, &[9, 8, 7]));
        assert!(p.move_to(2));
        assert_eq!(p.packet(), &[9, 8, 7]);
        assert!(!p.move_to(14));
        assert_eq!(p.offset(), 2);
    }

    #[test]
    fn expand_buffer_clamps() {
        let mut p = PacketBuf::new(8, 0);
        p.set_packet(0, 4);
        p.buf_extend_from_slice(&[1; 10]);
        assert_eq!(p.as_ref().len(), 8);
        p.buf_resize(2, 0);
        assert_eq!(p.as_ref().len(), 2);
        p.buf_resize(100, 7);
        assert_eq!(p.as_ref(), &[0, 0, 7, 7, 7, 7, 7, 7][..]);
    }
}
