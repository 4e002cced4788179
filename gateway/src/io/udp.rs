//! Batched UDP sockets for IKE (500) and NAT-T/ESP (4500) over quinn-udp: GSO on send
//! (UDP_SEGMENT, one `sendmsg` for many equal-size datagrams), GRO and `recvmmsg` on receive,
//! with fall-back to one datagram per call where the kernel or NIC refuses.
//!
//! Sharing: a `UdpBatchSocket` is `Sync`. Put it in an `Arc`; the fast-path thread receives
//! and sends ESP while the control plane sends IKE on the same 4500 socket with
//! [`UdpBatchSocket::try_send_to`] (a non-blocking `sendmsg` that never waits, so it is fine on a
//! tokio worker; a message that meets a full buffer waits in `daemon::ike_outbox`). Concurrent
//! `sendmsg` calls on one UDP socket are atomic per datagram. Only one thread should receive.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState, BATCH_SIZE};
use socket2::{Domain, Protocol, Socket, Type};

use super::page_buf::{PageBuf, COLOR_STEP};
use super::poll::{self, Readiness, Waker};

/// Send buffer size asked for (forced past `net.core.wmem_max` when running as root).
pub const SOCKET_BUFFER_BYTES: usize = 8 << 20;
/// Receive buffer size. ESP waits here when the inbound worker is the slowest stage, so under
/// a saturating TCP stream it is the tunnel's standing queue (measured: up to ~7 MB, ping p99
/// 5-9 ms at 6.5 Gbit/s). 1 MiB cut p99 only to ~4 ms while TCP retransmits rose from ~0 to
/// 30k-190k per 5 s; the fix is AQM (docs/fast-path.md), not a smaller buffer.
pub const RECV_BUFFER_BYTES: usize = 8 << 20;
/// Largest UDP payload in one (GSO) send: 65535 - 20 (IPv4) - 8 (UDP).
pub const MAX_GSO_PAYLOAD: usize = 65507;
/// Receive buffer size per message; a GRO batch never exceeds 64 KiB.
pub const GRO_BUFFER_BYTES: usize = 65536;
/// How long a send waits for a full socket buffer to drain before giving up.
const SEND_WAIT: Duration = Duration::from_millis(50);

/// The UDP offloads in effect (for `ipsecgw status`): 1 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffloadStatus {
    pub gso_segments: usize,
    pub gro_segments: usize,
}

/// A non-blocking UDP socket with batched send and receive.
#[derive(Debug)]
pub struct UdpBatchSocket {
    sock: UdpSocket,
    state: UdpSocketState,
    local: SocketAddr,
}

impl UdpBatchSocket {
    /// Binds to `addr` (a specific local address, or `0.0.0.0:port` / `[::]:port`) with
    /// SO_REUSEADDR and 8 MiB buffers, enables GRO, and makes the socket non-blocking.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_cloexec(true)?;
        set_buffer_sizes(&s, RECV_BUFFER_BYTES, SOCKET_BUFFER_BYTES);
        s.bind(&addr.into())?;
        let sock: UdpSocket = s.into();
        let state = UdpSocketState::new(UdpSockRef::from(&sock))?;
        let local = sock.local_addr()?;
        Ok(Self { sock, state, local })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn offload_status(&self) -> OffloadStatus {
        OffloadStatus {
            gso_segments: self.state.max_gso_segments(),
            gro_segments: self.state.gro_segments(),
        }
    }

    /// Effective (kernel-doubled) receive and send buffer sizes.
    pub fn buffer_sizes(&self) -> io::Result<(usize, usize)> {
        let r = socket2::SockRef::from(&self.sock);
        Ok((r.recv_buffer_size()?, r.send_buffer_size()?))
    }

    /// Sends `payload` as datagrams of `segment_size` bytes (the last may be shorter) to `dst`:
    /// one `sendmsg` per up to `max_gso_segments` datagrams with UDP GSO, else one per
    /// datagram. Waits briefly if the socket buffer is full, then returns `WouldBlock`.
    pub fn send_segments(
        &self,
        dst: SocketAddr,
        payload: &[u8],
        segment_size: usize,
    ) -> io::Result<()> {
        if segment_size == 0 || segment_size > MAX_GSO_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad UDP segment size",
            ));
        }
        let mut rest = payload;
        while !rest.is_empty() {
            let per_send = self
                .state
                .max_gso_segments()
                .min(MAX_GSO_PAYLOAD / segment_size)
                .max(1);
            let take = rest.len().min(per_send * segment_size);
            let (chunk, tail) = rest.split_at(take);
            match self.send_one(dst, chunk, segment_size) {
                Ok(()) => rest = tail,
                // GSO refused (EIO/EINVAL): quinn-udp has dropped max_gso_segments to 1;
                // retry this chunk one datagram at a time.
                Err(e) if chunk.len() > segment_size && self.state.max_gso_segments() == 1 => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn send_one(&self, dst: SocketAddr, chunk: &[u8], segment_size: usize) -> io::Result<()> {
        let t = Transmit {
            destination: dst,
            ecn: None,
            contents: chunk,
            segment_size: (chunk.len() > segment_size).then_some(segment_size),
            src_ip: None,
        };
        for attempt in 0..2 {
            match self.state.try_send(UdpSockRef::from(&self.sock), &t) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && attempt == 0 => {
                    poll::wait_writable(&[self.sock.as_fd()], None, Some(SEND_WAIT))?;
                }
                r => return r,
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Sends one datagram without waiting (`WouldBlock` if the socket buffer is full).
    /// Safe to call from async code; used by the control plane for IKE.
    pub fn try_send_to(&self, dst: SocketAddr, payload: &[u8]) -> io::Result<()> {
        let t = Transmit {
            destination: dst,
            ecn: None,
            contents: payload,
            segment_size: None,
            src_ip: None,
        };
        self.state.try_send(UdpSockRef::from(&self.sock), &t)
    }

    /// Receives what is queued (up to the batch's message count, each possibly a GRO train)
    /// without blocking. Returns the number of datagrams after splitting by stride, or
    /// `WouldBlock` when nothing was queued.
    pub fn recv_batch(&self, batch: &mut UdpRecvBatch) -> io::Result<usize> {
        batch.messages = 0;
        batch.datagrams = 0;
        let n_msgs = (batch.buf.len() / batch.stride)
            .min(batch.meta.len())
            .min(BATCH_SIZE);
        let size = batch.size;
        let mut it = batch.buf.chunks_mut(batch.stride).map(|c| {
            let end = size.min(c.len());
            &mut c[..end]
        });
        let mut slices: [IoSliceMut<'_>; BATCH_SIZE] =
            std::array::from_fn(|_| IoSliceMut::new(it.next().unwrap_or(&mut [][..])));
        let (slices, meta) = (&mut slices[..n_msgs], &mut batch.meta[..n_msgs]);
        let n = loop {
            match self.state.recv(UdpSockRef::from(&self.sock), slices, meta) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        let n = n.min(n_msgs);
        batch.messages = n;
        batch.datagrams = batch
            .meta
            .iter()
            .take(n)
            .map(|m| m.len.div_ceil(m.stride.max(1)))
            .sum();
        Ok(batch.datagrams)
    }

    /// Waits until the socket is readable, the waker fires or the timeout passes.
    pub fn wait_readable(
        &self,
        waker: Option<&Waker>,
        timeout: Option<Duration>,
    ) -> io::Result<Readiness> {
        poll::wait_readable(&[self.sock.as_fd()], waker, timeout)
    }
}

impl AsFd for UdpBatchSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for UdpBatchSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

fn set_buffer_sizes(s: &Socket, recv: usize, send: usize) {
    // Best effort: the unforced size is capped by net.core.[rw]mem_max; the forced options
    // need CAP_NET_ADMIN and override the cap.
    let _ = s.set_recv_buffer_size(recv);
    let _ = s.set_send_buffer_size(send);
    let _ = set_int_opt(s, libc::SO_RCVBUFFORCE, recv);
    let _ = set_int_opt(s, libc::SO_SNDBUFFORCE, send);
}

fn set_int_opt(s: &Socket, opt: libc::c_int, value: usize) -> io::Result<()> {
    let v: libc::c_int = value.try_into().unwrap_or(libc::c_int::MAX);
    // SAFETY: `s` is an open socket; the option value points at a live c_int and the length
    // passed is exactly its size. setsockopt(2) only reads it.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One received datagram (a GRO train is split into its datagrams).
#[derive(Debug)]
pub struct RecvDatagram<'a> {
    pub src: SocketAddr,
    /// The local address it was sent to, when known (sockets bound to 0.0.0.0).
    pub dst_ip: Option<IpAddr>,
    /// The kernel's receive timestamp (`SO_TIMESTAMPNS`, since the Unix epoch), when given:
    /// how long the datagram waited in the socket queue.
    pub rx_time: Option<Duration>,
    pub data: &'a mut [u8],
}

/// Receive buffers for [`UdpBatchSocket::recv_batch`], owned by one thread.
pub struct UdpRecvBatch {
    /// Every message's buffer (`size` bytes each, `stride` apart), in one anonymous mapping:
    /// pages the kernel never wrote to cost no memory, dropping the batch returns them all (a
    /// heap allocation would depend on malloc's trim heuristics), and [`Self::release`] gives
    /// back those written while keeping the batch.
    buf: PageBuf,
    size: usize,
    /// Distance between two messages' buffers: `size` plus [`COLOR_STEP`], so that the
    /// messages of a batch do not all start at the same offset within a page (with 64 KiB
    /// buffers back to back every message would start at offset 0 of a page, and the headers
    /// of a batch of small datagrams would all fall into the same few L1 cache sets).
    stride: usize,
    meta: Vec<RecvMeta>,
    messages: usize,
    datagrams: usize,
}

impl UdpRecvBatch {
    /// Buffers for up to `messages` (capped at quinn-udp's batch of 32) messages of
    /// `buf_size` bytes each; use [`GRO_BUFFER_BYTES`] when GRO is on.
    pub fn new(messages: usize, buf_size: usize) -> Self {
        let messages = messages.clamp(1, BATCH_SIZE);
        let size = buf_size.max(1);
        let stride = size + COLOR_STEP;
        Self {
            buf: PageBuf::new(messages * stride),
            size,
            stride,
            meta: vec![RecvMeta::default(); messages],
            messages: 0,
            datagrams: 0,
        }
    }

    /// Forgets what was received and gives the written pages back to the kernel (see
    /// [`PageBuf::release`]); the batch stays ready for the next receive.
    pub fn release(&mut self) -> bool {
        self.messages = 0;
        self.datagrams = 0;
        self.buf.release()
    }

    /// Datagrams received by the last call.
    pub fn len(&self) -> usize {
        self.datagrams
    }

    pub fn is_empty(&self) -> bool {
        self.datagrams == 0
    }

    /// Iterates the received datagrams; `data` is mutable so ESP can be decrypted in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = RecvDatagram<'_>> {
        self.buf
            .chunks_mut(self.stride)
            .zip(self.meta.iter())
            .take(self.messages)
            .flat_map(|(buf, m)| datagrams_of(buf, m))
    }

    /// Messages (single datagrams or GRO trains) received by the last call.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Bytes and datagrams in message `i`.
    pub fn message_size(&self, i: usize) -> (usize, usize) {
        match self.meta.get(i) {
            Some(m) if i < self.messages => {
                let len = m.len.min(self.size);
                (len, len.div_ceil(m.stride.max(1)))
            }
            _ => (0, 0),
        }
    }

    /// The datagrams of message `i` (none if there is no such message); `next_back` gives the
    /// last one without walking the train.
    pub fn message_mut(&mut self, i: usize) -> impl DoubleEndedIterator<Item = RecvDatagram<'_>> {
        let live = i < self.messages;
        self.buf
            .chunks_mut(self.stride)
            .nth(i)
            .zip(self.meta.get(i))
            .filter(|_| live)
            .into_iter()
            .flat_map(|(buf, m)| datagrams_of(buf, m))
    }
}

fn datagrams_of<'a>(
    buf: &'a mut [u8],
    m: &RecvMeta,
) -> impl DoubleEndedIterator<Item = RecvDatagram<'a>> + use<'a> {
    let len = m.len.min(buf.len());
    let (src, dst_ip, rx_time) = (m.addr, m.dst_ip, m.timestamp);
    buf[..len]
        .chunks_mut(m.stride.max(1))
        .map(move |data| RecvDatagram {
            src,
            dst_ip,
            rx_time,
            data,
        })
}

/// Collects equal-size datagrams for one destination into a GSO send, flushing when the
/// destination or size changes, after a shorter datagram, or when full. Owned by one thread.
pub struct GsoBatch {
    buf: Box<[u8]>,
    len: usize,
    segment: usize,
    count: usize,
    dst: Option<SocketAddr>,
    closed: bool,
}

impl Default for GsoBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl GsoBatch {
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; MAX_GSO_PAYLOAD].into_boxed_slice(),
            len: 0,
            segment: 0,
            count: 0,
            dst: None,
            closed: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Datagrams waiting.
    pub fn pending(&self) -> usize {
        self.count
    }

    /// Queues `datagram` for `dst`, sending what is queued first if it cannot join.
    /// An error reports a failed flush of the earlier datagrams; this one is queued anyway.
    pub fn push(
        &mut self,
        sock: &UdpBatchSocket,
        dst: SocketAddr,
        datagram: &[u8],
    ) -> io::Result<()> {
        if datagram.is_empty() || datagram.len() > MAX_GSO_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad datagram size",
            ));
        }
        let max_segments = sock.offload_status().gso_segments.max(1);
        let joins = self.count > 0
            && !self.closed
            && self.dst == Some(dst)
            && datagram.len() <= self.segment
            && self.count < max_segments
            && self.len + datagram.len() <= self.buf.len();
        let mut result = Ok(());
        if !joins {
            result = self.flush(sock);
            self.segment = datagram.len();
            self.dst = Some(dst);
        }
        self.buf[self.len..self.len + datagram.len()].copy_from_slice(datagram);
        self.len += datagram.len();
        self.count += 1;
        // A shorter datagram must be the last of a GSO send.
        self.closed = datagram.len() < self.segment;
        result
    }

    /// Sends everything queued.
    pub fn flush(&mut self, sock: &UdpBatchSocket) -> io::Result<()> {
        let r = match self.dst {
            Some(dst) if self.count > 0 => {
                sock.send_segments(dst, &self.buf[..self.len], self.segment)
            }
            _ => Ok(()),
        };
        self.len = 0;
        self.count = 0;
        self.closed = false;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages of one receive lie at distinct offsets within a page (see
    /// [`COLOR_STEP`]), and each still holds what was sent to it.
    #[test]
    fn received_messages_start_at_distinct_page_offsets() {
        let rx = UdpBatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Growing sizes: UDP GRO never joins a datagram longer than the first of a train.
        let sent: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        for d in &sent {
            tx.send_to(d, rx.local_addr()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut batch = UdpRecvBatch::new(32, GRO_BUFFER_BYTES);
        rx.recv_batch(&mut batch).unwrap();
        assert_eq!(
            batch.messages(),
            sent.len(),
            "all queued datagrams in one read"
        );
        let mut offsets = Vec::new();
        for (i, want) in sent.iter().enumerate() {
            let d = batch.message_mut(i).next().unwrap();
            assert_eq!(&d.data[..], &want[..]);
            offsets.push(d.data.as_ptr() as usize % 4096);
        }
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), sent.len());
    }
}
