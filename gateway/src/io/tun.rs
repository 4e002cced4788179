//! The TUN device for the fast path: batched, non-blocking reads and writes of plain IP packets
//! over tun-rs, with virtio-net offloads (GSO split on read, GRO coalescing on write) when the
//! kernel offers them.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tun_rs::{DeviceBuilder, SyncDevice, VIRTIO_NET_HDR_LEN};

use super::packet_batch::PacketBatch;
use super::poll::{self, Readiness, Waker};
use super::queue_turn::QueueTurn;

/// How to create the TUN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    pub name: String,
    pub mtu: u16,
    /// Addresses with prefix lengths assigned to the device (may be empty).
    pub addresses: Vec<(IpAddr, u8)>,
    /// Ask for virtio-net header offloads (TSO/USO): GSO super-packets on read, coalesced writes.
    pub offload: bool,
    /// Create the device with IFF_MULTI_QUEUE so [`Tun::clone_queue`] can add queues.
    pub multi_queue: bool,
    /// Transmit queue length to set (None leaves the kernel default of 500).
    pub txqueuelen: Option<u32>,
}

impl TunConfig {
    pub fn new(name: impl Into<String>, mtu: u16) -> Self {
        Self {
            name: name.into(),
            mtu,
            addresses: Vec::new(),
            offload: true,
            multi_queue: false,
            txqueuelen: Some(5000),
        }
    }
}

/// Which offloads are actually engaged (for `ipsecgw status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunOffload {
    /// IFF_VNET_HDR with TCP segmentation offload (TSO4/6): reads may be GSO super-packets.
    pub tcp_gso: bool,
    /// UDP segmentation offload (USO4/6, Linux >= 6.2).
    pub udp_gso: bool,
    /// The device was created multi-queue.
    pub multi_queue: bool,
    /// Offload was requested but the kernel refused it, so the device runs without.
    pub fell_back: bool,
}

/// One queue of a TUN device. `Sync`: one thread may read while another writes.
pub struct Tun {
    dev: SyncDevice,
    name: String,
    ifindex: u32,
    offload: TunOffload,
    /// Reads dropped because tun-rs could not split them (malformed virtio header, too many
    /// segments for the batch).
    malformed: AtomicU64,
    /// Which thread reads this queue (its outbound worker, or the inbound worker).
    turn: QueueTurn,
}

impl Tun {
    /// Creates the device, assigns addresses, sets the MTU and txqueuelen, brings the link up
    /// and makes the descriptor non-blocking. If offload is refused, retries without it.
    pub fn open(cfg: &TunConfig) -> io::Result<Self> {
        match Self::build(cfg, cfg.offload) {
            Ok(t) => Ok(t),
            Err(e) if cfg.offload => {
                let mut t = Self::build(cfg, false).map_err(|_| e)?;
                t.offload.fell_back = true;
                Ok(t)
            }
            Err(e) => Err(e),
        }
    }

    fn build(cfg: &TunConfig, offload: bool) -> io::Result<Self> {
        let mut b = DeviceBuilder::new()
            .name(cfg.name.clone())
            .mtu(cfg.mtu)
            .offload(offload)
            .multi_queue(cfg.multi_queue)
            .enable(true);
        if let Some(q) = cfg.txqueuelen {
            b = b.tx_queue_len(q);
        }
        let mut v4 = cfg.addresses.iter().filter_map(|(a, p)| match a {
            IpAddr::V4(a) => Some((*a, *p)),
            IpAddr::V6(_) => None,
        });
        if let Some((a, p)) = v4.next() {
            b = b.ipv4(a, p, None);
        }
        for (a, p) in &cfg.addresses {
            if let IpAddr::V6(a) = a {
                b = b.ipv6(*a, *p);
            }
        }
        let dev = b.build_sync()?;
        for (a, p) in v4 {
            dev.add_address_v4(a, p)?;
        }
        dev.set_nonblocking(true)?;
        let name = dev.name()?;
        let ifindex = dev.if_index()?;
        let offload = TunOffload {
            tcp_gso: dev.tcp_gso(),
            udp_gso: dev.udp_gso(),
            multi_queue: cfg.multi_queue,
            fell_back: false,
        };
        Ok(Self {
            dev,
            name,
            ifindex,
            offload,
            malformed: AtomicU64::new(0),
            turn: QueueTurn::new()?,
        })
    }

    /// Opens another queue of a multi-queue device (one per fast-path thread).
    pub fn clone_queue(&self) -> io::Result<Tun> {
        let dev = self.dev.try_clone()?;
        dev.set_nonblocking(true)?;
        Ok(Self {
            dev,
            name: self.name.clone(),
            ifindex: self.ifindex,
            offload: self.offload,
            malformed: AtomicU64::new(0),
            turn: QueueTurn::new()?,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn mtu(&self) -> io::Result<u16> {
        self.dev.mtu()
    }

    pub fn offload(&self) -> TunOffload {
        self.offload
    }

    /// The turn-taking of the threads that read this queue.
    pub fn turn(&self) -> &QueueTurn {
        &self.turn
    }

    /// Reads dropped as unsplittable so far.
    pub fn malformed_reads(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// One raw read without blocking: with offload, the virtio-net header followed by one
    /// (possibly GSO) packet; without, one IP packet. For callers that split GSO themselves
    /// ([`super::TxArena`]).
    pub fn recv_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.recv(buf)
    }

    /// One raw write: with offload, a virtio-net header followed by one (possibly GSO)
    /// packet ([`super::tun_gro::Coalescer`]); without, one IP packet.
    pub fn send_raw(&self, buf: &[u8]) -> io::Result<usize> {
        self.dev.send(buf)
    }

    /// Replaces the batch's contents with packets read from the device, without blocking.
    ///
    /// With offload, one read returns one (possibly GSO) packet, split into segments, each at
    /// the batch's headroom in its own buffer; give the batch at least 128 buffers so any
    /// super-packet fits. Without offload, reads one packet per buffer until the batch is full
    /// or the device is empty. Returns the number of packets (> 0) or `WouldBlock` when there
    /// was nothing to read: flush, then [`Tun::wait_readable`].
    pub fn recv_batch(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        batch.clear();
        if self.offload.tcp_gso {
            self.recv_offload(batch)
        } else {
            self.recv_plain(batch)
        }
    }

    fn recv_offload(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        let headroom = batch.headroom();
        batch.expose_all();
        // A few malformed reads in a row are skipped; the next good one is returned.
        for _ in 0..8 {
            let (scratch, bufs, sizes) = batch.recv_parts();
            let r = self.dev.recv_multiple(scratch, bufs, sizes, headroom);
            match r {
                Ok(n) => return Ok(self.finish_recv(batch, n)),
                Err(e) if e.raw_os_error().is_some() => return Err(e),
                // tun-rs reports malformed input (bad virtio header, too many segments) as
                // errors without an OS code; the packet is consumed, so drop it and go on.
                Err(_) => {
                    self.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn finish_recv(&self, batch: &mut PacketBatch, n: usize) -> usize {
        let headroom = batch.headroom();
        let n = n.min(batch.capacity());
        for i in 0..n {
            let size = batch.size(i);
            if let Some(b) = batch.bufs_mut().get_mut(i) {
                if !b.set_packet(headroom, size) {
                    b.set_packet(headroom, 0);
                }
            }
        }
        batch.set_len(n);
        n
    }

    fn recv_plain(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        let headroom = batch.headroom();
        let tailroom = batch.tailroom();
        let mut n = 0;
        while n < batch.capacity() {
            let Some(b) = batch.bufs_mut().get_mut(n) else {
                break;
            };
            let end = b.capacity().saturating_sub(tailroom);
            let Some(area) = b.buffer_mut().get_mut(headroom..end) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "packet buffers smaller than headroom + tailroom",
                ));
            };
            match self.dev.recv(area) {
                Ok(len) => {
                    b.set_packet(headroom, len);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    batch.set_len(n);
                    return if n > 0 { Ok(n) } else { Err(e) };
                }
            }
        }
        batch.set_len(n);
        Ok(n)
    }

    /// Writes every packet of the batch to the device, then empties the batch.
    ///
    /// With offload, tun-rs coalesces TCP/UDP segments of the same flow into super-packets
    /// (one write each). Packets may sit at different offsets (e.g. after decapsulation); they
    /// are moved to a common offset first when needed. Returns the bytes written; an error
    /// means at least one packet was refused (the others were still written).
    pub fn send_batch(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        batch.retain_mut(|p| !p.is_empty());
        if batch.is_empty() {
            return Ok(0);
        }
        let r = if self.offload.tcp_gso {
            self.send_offload(batch)
        } else {
            self.send_plain(batch)
        };
        batch.clear();
        r
    }

    fn send_offload(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        // A common offset with room for the virtio header in front.
        let offset = batch
            .iter()
            .map(|p| p.offset())
            .min()
            .unwrap_or(0)
            .max(VIRTIO_NET_HDR_LEN);
        batch.retain_mut(|p| p.move_to(offset));
        let (bufs, gro) = batch.send_parts();
        self.dev.send_multiple(gro, bufs, offset)
    }

    fn send_plain(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        let mut total = 0;
        let mut err = None;
        for p in batch.iter() {
            match self.dev.send(p.packet()) {
                Ok(n) => total += n,
                Err(e) => err = Some(e),
            }
        }
        match err {
            Some(e) if total == 0 => Err(e),
            _ => Ok(total),
        }
    }

    /// Waits until the device is readable, the waker fires or the timeout passes.
    pub fn wait_readable(
        &self,
        waker: Option<&Waker>,
        timeout: Option<Duration>,
    ) -> io::Result<Readiness> {
        poll::wait_readable(&[self.dev.as_fd()], waker, timeout)
    }

    /// Whether a read would find a packet now (nothing is read).
    pub fn is_readable(&self) -> bool {
        self.wait_readable(None, Some(Duration::ZERO))
            .is_ok_and(|r| r.is_ready(0))
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }
}
