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

use super::datapath::{GatewayDrops, InboundPath, InboundTable, TunQueues, TunnelMap, TunnelPath};
use crate::dataplane::aqm::{Aqm, AqmCounts};
use crate::dataplane::codel::CodelParams;
use crate::dataplane::{flow_queue, icmp_ptb, mss_clamp};
use crate::io::queue_turn::{wait_for_holder, PARK_AFTER, SMALL_PACKET};
use crate::io::recv_backlog::RecvBacklog;
use crate::io::reply_watch::PARKED_LOOK;
use crate::io::tun_gro::Coalescer;
use crate::io::tx_arena::{Placed, ReadShape, MAX_PENDING};
use crate::io::udp::{RecvDatagram, UdpRecvBatch, GRO_BUFFER_BYTES};
use crate::io::{PacketBatch, ReplyWatch, Tun, TxArena, UdpBatchSocket, Waker};
use crate::platform::realtime::{Realtime, WorkerSched};
use esp::{NextHeader, Payload, Udp4500};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
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
/// Datagrams (or GRO trains) per UDP receive call, and per chunk of the backlog processed
/// between two looks at the socket.
const UDP_BATCH: usize = 32;
/// Receive batches the inbound worker may read ahead (allocated as needed).
const BACKLOG_SLOTS: usize = 128;
/// Datagrams decrypted in order between two looks at the socket within a chunk: a ping or an
/// ACK that arrives while the worker works through bulk data waits for about this many (tens of
/// microseconds) instead of the rest of the chunk and its TUN writes (up to 1-4 ms).
const LOOK_EVERY: usize = 32;
/// Datagrams it may read ahead: the standing queue under load (a few MB) belongs in the
/// backlog, where small datagrams can overtake it, rather than in the socket's FIFO.
const BACKLOG_DATAGRAMS: usize = 3072;
/// Receive batches kept allocated when the backlog is quiet.
const BACKLOG_KEEP_SLOTS: usize = 4;
/// How often batches beyond what the last period used are given back.
const BACKLOG_TRIM_EVERY: Duration = Duration::from_secs(1);
/// ESP datagrams up to this size (a ping, a TCP ACK, a DNS or Kerberos request) are decrypted
/// and forwarded as soon as they are read, ahead of the bulk backlog.
const PRIORITY_LEN: usize = 256;
/// TUN reads the inbound worker makes on a latency queue after writing to it (see
/// [`pick_up`]).
const PICKUP_READS: usize = 8;
/// At most this many reads of a parked bulk queue at once (then its outbound worker takes it
/// back: more than ACKs are waiting).
const BULK_PICKUP_READS: usize = 64;
/// TUN queues an idle inbound worker also sleeps on (see [`watched_queues`]).
const MAX_WATCHED: usize = 6;

/// What an outbound worker's TUN queue carries, and who else may read it.
pub enum QueueRole {
    /// The tunnel's only queue: the inbound worker of this socket is told when an answer is
    /// coming, but does not read the queue.
    Only(Arc<ReplyWatch>),
    /// Queue 0 of several: sparse, latency-sensitive flows, whose requests the inbound
    /// worker of this socket may send itself ([`pick_up`]); told when an answer is coming.
    Latency(Arc<ReplyWatch>),
    /// A bulk queue: parked while it carries only the ACKs of a stream the inbound worker of
    /// this socket writes to it (`io::queue_turn`).
    Bulk(Arc<ReplyWatch>),
}

/// Starts the outbound worker of TUN queue `queue` (thread `out<queue>-<tunnel>`).
pub fn spawn_outbound(
    tunnel: Arc<TunnelPath>,
    tun: Arc<Tun>,
    queue: usize,
    sock: Arc<UdpBatchSocket>,
    role: QueueRole,
    waker: Arc<Waker>,
    sched: Arc<WorkerSched>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("out{queue}-{}", tunnel.name))
        .spawn(move || {
            let mut rt = sched.enter();
            outbound_loop(&tunnel, &tun, &sock, &role, &waker, &mut rt);
        })
}

fn outbound_loop(
    tunnel: &TunnelPath,
    tun: &Tun,
    sock: &UdpBatchSocket,
    role: &QueueRole,
    waker: &Waker,
    rt: &mut Realtime<'_>,
) {
    let mut bufs = OutboundBufs::new();
    let turn = tun.turn();
    // Consecutive packets read that were all small (ACKs): a bulk queue may park after some.
    let mut small_run = 0u32;
    loop {
        rt.tick();
        // One turn: read until the queue is empty, send what was read, give the turn back.
        let held = turn.take();
        let mut read = 0usize;
        let mut big = false;
        let mut failed = None;
        loop {
            match bufs.read_one(tunnel, tun, sock) {
                Ok(small) => {
                    read += 1;
                    big |= !small;
                    small_run = if small {
                        small_run.saturating_add(1)
                    } else {
                        0
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        rt.note(std::mem::take(&mut bufs.read_bytes));
        // Never wait with packets in hand: send, then sleep.
        if bufs.has_pending() {
            bufs.flush(tunnel, tun, sock);
            if let QueueRole::Latency(r) | QueueRole::Only(r) = role {
                r.expect();
            }
        }
        drop(held);
        if big {
            // Bulk data leaving: this worker's job again.
            turn.unpark();
        }
        if let Some(e) = failed {
            tracing::warn!(tunnel = %tunnel.name, error = %e, "TUN read failed");
            if waker.is_woken() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        if read > 0 {
            continue;
        }
        // While the inbound worker reads this (latency) queue for sparse requests, waking
        // here for each of them too would cost a second vCPU wake-up: look now and then
        // instead, and take over when the traffic is no longer sparse.
        let delegated = match role {
            QueueRole::Latency(r) => r.sleep_while_receiver_watches(waker, PARKED_LOOK),
            _ => None,
        };
        let w = match (role, delegated) {
            (_, Some(w)) => w,
            (QueueRole::Bulk(_), None) if turn.is_parked() => {
                let w = crate::io::poll::wait_readable(
                    &[turn.unpark_fd()],
                    Some(waker),
                    Some(PARKED_LOOK),
                );
                if turn.is_parked()
                    && matches!(w, Ok(r) if r.timed_out())
                    && !turn.writer_active()
                    && tun.is_readable()
                {
                    // Packets waiting and the inbound worker no longer writes to this queue
                    // (the stream ended, or the worker is busy elsewhere): take it back.
                    // (While it writes, what the look finds, such as the window updates the
                    // receiving application's reads produce between two writes, is sent
                    // below without unparking.)
                    turn.unpark();
                }
                if !turn.is_parked() {
                    small_run = 0;
                }
                w
            }
            (QueueRole::Bulk(r), None) if small_run >= PARK_AFTER && turn.writer_active() => {
                // Only the ACKs of a stream the inbound worker writes: let it send them.
                // Then read once more (a write before it saw the flag left them to us), and
                // make a sleeping inbound worker gather this queue.
                turn.park();
                tunnel.bulk_parks.fetch_add(1, Ordering::Relaxed);
                r.release();
                small_run = 0;
                continue;
            }
            _ => tun.wait_readable(Some(waker), Some(IDLE_WAIT)),
        };
        match w {
            Ok(r) if r.woken => return,
            Ok(_) if tunnel.stop.load(Ordering::Relaxed) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(tunnel = %tunnel.name, error = %e, "TUN poll failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// What TUN -> ESP -> UDP needs, owned by one thread (an outbound worker, or an inbound
/// worker for [`pick_up`]): the ESP arena, ICMP too-big replies for the TUN and the
/// scratch space they are built in.
struct OutboundBufs {
    arena: TxArena,
    icmp: PacketBatch,
    scratch: [u8; 1280],
    /// Bytes read since the worker last took them (`Realtime::note`).
    read_bytes: usize,
}

impl OutboundBufs {
    fn new() -> Self {
        Self {
            arena: TxArena::new(),
            icmp: PacketBatch::new(8, 0, 0, 1500),
            scratch: [0; 1280],
            read_bytes: 0,
        }
    }

    /// Reads one (possibly GSO) packet from `tun` and encapsulates it into the arena; sends
    /// first if the ICMP batch is full. Returns whether the read was one small packet (at most
    /// [`SMALL_PACKET`]: an ACK, a ping). A read error (`WouldBlock` when the queue is empty)
    /// is returned with nothing changed.
    fn read_one(
        &mut self,
        tunnel: &TunnelPath,
        tun: &Tun,
        sock: &UdpBatchSocket,
    ) -> io::Result<bool> {
        match self.arena.read(tun)? {
            Some(shape) => {
                let small = shape.count <= 1 && shape.last <= SMALL_PACKET;
                self.read_bytes += shape.segment * shape.count.saturating_sub(1) + shape.last;
                encapsulate_read(
                    tunnel,
                    &shape,
                    &mut self.arena,
                    &mut self.icmp,
                    &mut self.scratch,
                    sock,
                );
                if self.icmp.len() == self.icmp.capacity() {
                    self.flush(tunnel, tun, sock);
                }
                Ok(small)
            }
            None => {
                tunnel.drops.tun_malformed.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
        }
    }

    fn has_pending(&self) -> bool {
        self.arena.pending() > 0 || !self.icmp.is_empty()
    }

    /// Sends the queued ESP packets and writes the ICMP replies to the TUN.
    fn flush(&mut self, tunnel: &TunnelPath, tun: &Tun, sock: &UdpBatchSocket) {
        let failed = self.arena.flush(sock);
        if failed > 0 {
            tunnel
                .drops
                .send_failed
                .fetch_add(failed, Ordering::Relaxed);
        }
        if !self.icmp.is_empty() && tun.send_batch(&mut self.icmp).is_err() {
            tunnel
                .drops
                .tun_write_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        self.icmp.clear();
    }
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
    // The read's sequence numbers in one block, its usage committed once (route-based: one
    // SA; several children take theirs one packet at a time).
    let mut batch = path.sa.batch(if children.len() > 1 {
        0
    } else {
        arena.placed().len()
    });
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
        let sent = if children.len() > 1 {
            match inner_addrs(pkt)
                .and_then(|(src, dst)| children.iter().find(|o| o.allows(src, dst)))
            {
                Some(o) if o.sa.suite() == suite => {
                    o.sa.encapsulate(buf, at..at + len, next_header)
                        .map(|e| (o.remote, e))
                }
                _ => {
                    no_sa += 1;
                    continue;
                }
            }
        } else {
            path.sa
                .encapsulate_batched(&mut batch, buf, at..at + len, next_header)
                .map(|e| (path.remote, e))
        };
        match sent {
            Ok((remote, enc)) => arena.queue(remote, enc.esp),
            Err(_) => failed += 1,
        }
    }
    path.sa.commit(batch);
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
    /// Told by the latency queues' senders when an answer is on its way.
    pub reply: Arc<ReplyWatch>,
    pub table: Arc<InboundTable>,
    /// By `InboundPath::tunnel`.
    pub tunnels: Arc<TunnelMap>,
    pub ike_tx: mpsc::Sender<IkeDatagram>,
    pub drops: Arc<GatewayDrops>,
    pub waker: Arc<Waker>,
    /// CoDel on this socket's receive queue; `None` turns the AQM off.
    pub aqm: Option<CodelParams>,
    /// The workers' scheduling (`platform::realtime`).
    pub sched: Arc<WorkerSched>,
}

pub fn spawn_inbound(ctx: InboundCtx) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("in-{}", ctx.sock.local_addr()))
        .spawn(move || {
            let mut rt = ctx.sched.enter();
            inbound_loop(&ctx, &mut rt);
        })
}

fn inbound_loop(ctx: &InboundCtx, rt: &mut Realtime<'_>) {
    let mut backlog = RecvBacklog::new(
        BACKLOG_SLOTS,
        BACKLOG_DATAGRAMS,
        UDP_BATCH,
        GRO_BUFFER_BYTES,
    );
    // One output batch per tunnel, created on the tunnel's first packet and reused.
    let mut out: Vec<(OutKey, TunOut)> = Vec::new();
    // What the looks within a chunk let overtake it, written at once.
    let mut urgent_out: Vec<(OutKey, TunOut)> = Vec::new();
    let mut aqm = ctx.aqm.map(Aqm::new);
    let mut st = DecapState::new(ctx);
    let mut pickup = Pickup::default();
    let mut watched: Vec<(Arc<TunnelPath>, Arc<Tun>)> = Vec::new();
    let mut last_trim = Instant::now();
    loop {
        rt.tick();
        // Read what the socket holds, as far as the backlog has room, handling the small
        // datagrams of each read at once.
        let mut would_block = false;
        let mut urgent = false;
        while let Some(i) = backlog.vacant() {
            let Some(slot) = backlog.slot_mut(i) else {
                break;
            };
            match ctx.sock.recv_batch(&mut slot.rb) {
                Ok(_) => {
                    note_read(rt, &slot.rb);
                    st.refresh(ctx);
                    urgent |= decapsulate_small(&mut st, &mut backlog, i, &mut out, &mut aqm);
                    backlog.commit(i);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    would_block = true;
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive error");
                    if ctx.waker.is_woken() {
                        return;
                    }
                    break;
                }
            }
        }
        if urgent {
            flush_tuns(ctx, &mut out, &mut pickup);
        }
        if backlog.is_empty() {
            flush_tuns(ctx, &mut out, &mut pickup);
            st.commit();
            if last_trim.elapsed() >= BACKLOG_TRIM_EVERY {
                // Memory a burst (or a flood) needed goes back once it is over: the slots
                // beyond those a steady load uses, then the pages the kept ones were written.
                backlog.trim(BACKLOG_KEEP_SLOTS);
                // And both lanes hold an output batch for every tunnel queue, made here
                // rather than by the first packet that needs one (mid-burst).
                provision(ctx, &mut out);
                provision(ctx, &mut urgent_out);
                last_trim = Instant::now();
            }
            if !would_block {
                continue;
            }
            let generation = ctx.reply.generation();
            let parked = watched_queues(ctx, &mut watched);
            let mut also = [ctx.sock.as_fd(); MAX_WATCHED];
            for (slot, (_, tun)) in also.iter_mut().zip(&watched) {
                *slot = tun.as_fd();
            }
            let also = &also[..watched.len()];
            // A worker at SCHED_FIFO (a loaded gateway) sleeps instead of spinning for an
            // answer: it is woken at once, where a spin, which must run at SCHED_OTHER, would
            // yield its vCPU to the busy threads for their whole slice (`ReplyWatch::wait`).
            let waited = ctx.reply.wait(
                ctx.sock.as_fd(),
                also,
                parked,
                generation,
                &ctx.waker,
                IDLE_WAIT,
                !rt.is_fifo(),
            );
            match waited {
                Ok(r) if r.woken => return,
                Ok(r) => {
                    for (k, (tp, tun)) in watched.iter().enumerate() {
                        if !r.is_ready(k + 1) {
                            continue;
                        }
                        if k < parked {
                            // A delayed ACK, or the first packet of a flow leaving through
                            // a parked bulk queue.
                            pick_up(ctx, tp, tun, &mut pickup, true);
                        } else if pick_up(ctx, tp, tun, &mut pickup, false) > 0 {
                            // A request on an idle tunnel: sent from here, and this worker,
                            // already awake, waits for the answer.
                            ctx.reply.expect();
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "UDP poll failed");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            // Hold no TUN queue beyond the wait: a closed tunnel's device must go (it may be
            // reopened by name at once, see `ReplyWatch::release`).
            watched.clear();
            continue;
        }
        // Then a chunk of the backlog in arrival order, looking at the socket every
        // `LOOK_EVERY` datagrams (the bulk data stays in `out` until the chunk is done).
        st.refresh(ctx);
        let mut mark = backlog.datagrams();
        for _ in 0..UDP_BATCH {
            let Some((i, m)) = backlog.pop_front() else {
                break;
            };
            decapsulate_in_order(&mut st, &mut backlog, (i, m), &mut out, &mut aqm);
            if mark.saturating_sub(backlog.datagrams()) >= LOOK_EVERY {
                if look(ctx, &mut st, &mut backlog, &mut urgent_out, &mut aqm, rt) {
                    flush_tuns(ctx, &mut urgent_out, &mut pickup);
                }
                mark = backlog.datagrams();
            }
        }
        flush_tuns(ctx, &mut out, &mut pickup);
    }
}

/// Counts a socket read for the worker's scheduling (`platform::realtime`).
fn note_read(rt: &mut Realtime<'_>, rb: &UdpRecvBatch) {
    if rt.is_configured() {
        rt.note((0..rb.messages()).map(|m| rb.message_size(m).0).sum());
    }
}

/// One read of what the socket holds, within a chunk, if the backlog has room: its small
/// datagrams are handled as at the top of the loop, into `urgent` (returns true if they need a
/// flush), the rest joins the backlog. A failed read is left to the top of the loop.
fn look<'a>(
    ctx: &'a InboundCtx,
    st: &mut DecapState<'a>,
    backlog: &mut RecvBacklog,
    urgent: &mut Vec<(OutKey, TunOut)>,
    aqm: &mut Option<Aqm>,
    rt: &mut Realtime<'_>,
) -> bool {
    let Some(i) = backlog.vacant() else {
        return false;
    };
    let Some(slot) = backlog.slot_mut(i) else {
        return false;
    };
    if ctx.sock.recv_batch(&mut slot.rb).is_err() {
        return false;
    }
    note_read(rt, &slot.rb);
    st.refresh(ctx);
    let any = decapsulate_small(st, backlog, i, urgent, aqm);
    backlog.commit(i);
    any
}

/// Right after a read into slot `i`, passes its IKE messages to the control plane and
/// decrypts its small ESP datagrams (a ping, a TCP ACK, a DNS or Kerberos request) ahead of
/// the backlog, as far as their SA's replay window covers the reordering. Those that may
/// overtake bulk data are written at once (returns true if any was); TCP data is kept,
/// decrypted, for its turn.
fn decapsulate_small(
    st: &mut DecapState<'_>,
    backlog: &mut RecvBacklog,
    i: usize,
    out: &mut Vec<(OutKey, TunOut)>,
    aqm: &mut Option<Aqm>,
) -> bool {
    let Some(n) = backlog.slot_mut(i).map(|s| s.rb.messages()) else {
        return false;
    };
    let mut any = false;
    for m in 0..n {
        let Some(slot) = backlog.slot_mut(i) else {
            return any;
        };
        let datagrams = slot.rb.message_size(m).1;
        // UDP GRO joins a datagram shorter than a train's segments to the train's end
        // (`udp_gro_receive_segment`): a ping or an ACK arriving right behind bulk data of
        // the same peer is the last datagram of a bulk train about as often as a datagram on
        // its own. Only that shorter tail of a train of large datagrams takes this lane; a
        // train of small datagrams (ACKs, a flood of small packets) stays in order.
        let stride = match datagrams {
            0 => continue,
            1 => None,
            _ => match slot.rb.message_mut(m).next() {
                Some(first) if first.data.len() > PRIORITY_LEN => Some(first.data.len()),
                _ => continue,
            },
        };
        let Some(len) = slot.rb.message_mut(m).next_back().map(|d| {
            // IKE (and keepalives) always take this lane, whatever their size: IKE messages
            // must reach the control plane in the order they came (a CREATE_CHILD_SA with a
            // PFS key share is larger than a DELETE sent after it), and DPD must not wait
            // behind bulk.
            match esp::classify_udp_4500(d.data) {
                Udp4500::Esp(_) => d.data.len(),
                _ => 0,
            }
        }) else {
            continue;
        };
        if len > PRIORITY_LEN || stride.is_some_and(|s| len >= s) {
            continue;
        }
        // Everything still waiting ahead of it: the backlog, this read's earlier messages and
        // the rest of its own train.
        let ahead = backlog.datagrams() + backlog.waiting_before(i, m) + datagrams - 1;
        let Some(slot) = backlog.slot_mut(i) else {
            return any;
        };
        let Some(mut d) = slot.rb.message_mut(m).next_back() else {
            continue;
        };
        let early = match open_one(st, &mut d, Some(ahead)) {
            Opened::Deferred => continue,
            Opened::Handled => None,
            Opened::Inner { start, end } => match (st.selected(), d.data.get_mut(start..end)) {
                (Some(sel), Some(inner)) if may_overtake(inner) => {
                    deliver(sel, st.now, inner, d.rx_time, out, aqm);
                    any = true;
                    None
                }
                (Some(sel), Some(_)) => Some((start, end, sel.spi)),
                _ => None,
            },
        };
        match early {
            Some((start, end, spi)) => slot.set_early(m, start, end, spi),
            None if stride.is_some() => slot.take_tail(m),
            None => backlog.mark_done(i, m),
        }
    }
    any
}

/// Gives `lane` an output batch for every queue of every tunnel it lacks one for. A batch is
/// about a megabyte of tun-rs GRO tables plus buffers whose pages come as packets use them:
/// made while the worker is idle, the memory is there before a burst or a flood (when the
/// lane that lets small packets overtake a backlog is first used) and stays flat through it.
///
/// Only the tunnels whose ESP can arrive on this worker's socket: those of its local address
/// (or of any, for a tunnel without one or a worker on the wildcard address).
fn provision(ctx: &InboundCtx, lane: &mut Vec<(OutKey, TunOut)>) {
    let tunnels = ctx.tunnels.load();
    let local = ctx.sock.local_addr().ip();
    for (&id, (tp, tuns)) in tunnels.iter() {
        if !local.is_unspecified() && tp.local_ip.is_some_and(|ip| ip != local) {
            continue;
        }
        for q in 0..tuns.len() {
            if !lane.iter().any(|(k, _)| *k == (id, q)) {
                lane.push(((id, q), TunOut::new()));
            }
        }
    }
}

fn flush_tuns(ctx: &InboundCtx, out: &mut Vec<(OutKey, TunOut)>, pickup: &mut Pickup) {
    let tunnels = ctx.tunnels.load();
    out.retain(|((id, q), _)| tunnels.get(id).is_some_and(|(_, tuns)| *q < tuns.len()));
    for ((id, q), o) in out.iter_mut() {
        let Some((tp, tuns)) = tunnels.get(id) else {
            continue;
        };
        let Some(tun) = tuns.get(*q) else {
            continue;
        };
        let (tcp, udp) = (o.tcp.flush(tun), o.udp.flush(tun));
        if tcp.is_err() || udp.is_err() {
            tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
        }
        if !o.other.is_empty() && tun.send_batch(&mut o.other).is_err() {
            tp.drops.tun_write_failed.fetch_add(1, Ordering::Relaxed);
        }
        o.other.clear();
        if std::mem::take(&mut o.wrote) && tuns.len() > 1 {
            if *q == 0 {
                pick_up(ctx, tp, tun, pickup, false);
            } else {
                tun.turn().wrote();
                if tun.turn().is_parked() {
                    pick_up(ctx, tp, tun, pickup, true);
                }
            }
        }
    }
}

/// The outbound half of an inbound worker, used only by [`pick_up`] (allocated on first use).
#[derive(Default)]
struct Pickup {
    bufs: Option<Box<OutboundBufs>>,
}

/// Right after writing to one of a tunnel's queues, reads that queue and sends what it holds,
/// when the queue's outbound worker would otherwise wake for it:
///
/// * the latency queue (`bulk == false`: queue 0 of several: pings, DNS, Kerberos, LDAP): a
///   few reads. The kernel delivers a TUN write to a host in another namespace, and that
///   host's answer back to the TUN, within the write system call, so an echo reply or a DNS
///   answer is usually waiting already: sent from here it skips waking the queue's outbound
///   worker, a cross-vCPU wake-up of 40-90 us in a VM;
/// * a parked bulk queue (`bulk == true`): the ACKs of the stream just written, until the
///   queue holds something else (bulk data leaving), which hands it back to its outbound
///   worker (`io::queue_turn`).
///
/// Only the holder of the queue's turn reads it, so packets leave in the order they were
/// read. Returns the datagrams sent.
fn pick_up(ctx: &InboundCtx, tp: &TunnelPath, tun: &Tun, pickup: &mut Pickup, bulk: bool) -> u64 {
    let turn = tun.turn();
    // The tunnel's ESP leaves from its own address's socket; this worker has one socket.
    if tp.local_ip != Some(ctx.sock.local_addr().ip()) {
        if bulk {
            turn.unpark();
        }
        return 0;
    }
    let held = if bulk {
        // A parked worker holds the turn only for a look at its queue.
        let mut tries = 0u32;
        loop {
            if let Some(t) = turn.try_take() {
                break t;
            }
            if !turn.is_parked() {
                return 0;
            }
            wait_for_holder(&mut tries);
        }
    } else {
        // Its outbound worker is awake and reading: it sends them.
        match turn.try_take() {
            Some(t) => t,
            None => return 0,
        }
    };
    let bufs = pickup
        .bufs
        .get_or_insert_with(|| Box::new(OutboundBufs::new()));
    let sent_before = bufs.arena.datagrams;
    let limit = if bulk {
        BULK_PICKUP_READS
    } else {
        PICKUP_READS
    };
    let mut hand_back = bulk;
    for _ in 0..limit {
        match bufs.read_one(tp, tun, &ctx.sock) {
            Ok(true) => {}
            // Bulk data leaving: its outbound worker's job.
            Ok(false) if bulk => break,
            Ok(false) => {}
            Err(_) => {
                hand_back = false;
                break;
            }
        }
    }
    if bufs.has_pending() {
        bufs.flush(tp, tun, &ctx.sock);
    }
    drop(held);
    if hand_back {
        turn.unpark();
    }
    let sent = bufs.arena.datagrams - sent_before;
    if sent > 0 {
        let counter = if bulk {
            &tp.bulk_sent_inline
        } else {
            &tp.answers_sent_inline
        };
        counter.fetch_add(sent, Ordering::Relaxed);
    }
    sent
}

/// What an idle inbound worker also sleeps on, first the parked bulk queues of the tunnels
/// sending from its socket (always), then their latency queues (queue 0 of several; only while
/// traffic is sparse), at most [`MAX_WATCHED`] in all; returns the number of bulk queues.
///
/// Sparse traffic: the worker sends a request itself ([`pick_up`]) and stays awake for its
/// answer, instead of the queue's outbound worker waking and then this one waking again for
/// the answer. A parked queue that does not fit is handed back to its outbound worker.
fn watched_queues(ctx: &InboundCtx, watched: &mut Vec<(Arc<TunnelPath>, Arc<Tun>)>) -> usize {
    watched.clear();
    let ip = Some(ctx.sock.local_addr().ip());
    let tunnels = ctx.tunnels.load();
    for (tp, tuns) in tunnels.values() {
        if tuns.len() < 2 || tp.local_ip != ip {
            continue;
        }
        for tun in tuns.iter().skip(1).filter(|t| t.turn().is_parked()) {
            if watched.len() < MAX_WATCHED {
                watched.push((tp.clone(), tun.clone()));
            } else {
                tun.turn().unpark();
            }
        }
    }
    let parked = watched.len();
    for (tp, tuns) in tunnels.values() {
        if watched.len() == MAX_WATCHED {
            break;
        }
        if tuns.len() > 1 && tp.local_ip == ip {
            watched.push((tp.clone(), tuns[0].clone()));
        }
    }
    parked
}

/// What one inbound worker writes to one tunnel's TUN: TCP, and UDP where the TUN has USO,
/// merged into super-packets by our own coalescers; everything else batched through tun-rs.
struct TunOut {
    tcp: Coalescer,
    udp: Coalescer,
    other: PacketBatch,
    /// Something was pushed since the last flush.
    wrote: bool,
}

impl TunOut {
    fn new() -> Self {
        Self {
            tcp: Coalescer::tcp(),
            udp: Coalescer::udp(),
            other: PacketBatch::for_tun(TUN_BATCH),
            wrote: false,
        }
    }

    fn push(&mut self, tp: &TunnelPath, tun: &Tun, inner: &[u8]) {
        self.wrote = true;
        let offload = tun.offload();
        for (on, c) in [
            (offload.tcp_gso, &mut self.tcp),
            (offload.udp_gso, &mut self.udp),
        ] {
            let Some(written) = on.then(|| c.push(tun, inner)).flatten() else {
                continue;
            };
            if written.is_err() {
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

/// The tunnels by id, as `TunnelMap` publishes them.
type TunnelTable = std::collections::HashMap<usize, (Arc<TunnelPath>, TunQueues)>;
/// An inbound worker's output batch: (tunnel id, TUN queue).
type OutKey = (usize, usize);
/// Inbound SAs by SPI, as `InboundTable` publishes them.
type SpiTable = std::collections::HashMap<u32, Arc<InboundPath>>;

/// What the per-datagram path needs, loaded once per chunk.
struct DecapState<'a> {
    ctx: &'a InboundCtx,
    local: SocketAddr,
    table: Arc<SpiTable>,
    tunnels: Arc<TunnelTable>,
    /// The SA of the datagram being handled, with its tunnel. Consecutive datagrams nearly
    /// always share an SA: for a repeat neither the SPI nor the tunnel is looked up again,
    /// and no reference count is touched (an `Arc` clone and drop per packet cost ~1.5% of
    /// the receiving gateway's CPU under bulk TCP).
    selected: Option<Selected>,
    /// The clock of the kernel's receive timestamps.
    now: Duration,
}

/// An inbound SA and the tunnel it belongs to (None once the tunnel is gone).
struct Selected {
    spi: u32,
    path: Arc<InboundPath>,
    tunnel: Option<(Arc<TunnelPath>, TunQueues)>,
    /// Packets accepted and not yet in the SA's statistics (committed per read or chunk).
    tally: esp::Tally,
}

impl<'a> DecapState<'a> {
    fn new(ctx: &'a InboundCtx) -> Self {
        let mut s = Self {
            ctx,
            local: ctx.sock.local_addr(),
            table: ctx.table.snapshot(),
            tunnels: ctx.tunnels.load_full(),
            selected: None,
            now: Duration::ZERO,
        };
        s.refresh(ctx);
        s
    }

    /// Makes the inbound SA for `spi` (and its tunnel) the selected one; false if there is no
    /// such SA. The last one found is kept, so a repeat costs one comparison.
    fn select(&mut self, spi: u32) -> bool {
        if self.selected.as_ref().is_some_and(|s| s.spi == spi) {
            return true;
        }
        self.commit();
        self.selected = self.table.get(&spi).map(|path| Selected {
            spi,
            path: path.clone(),
            tunnel: self.tunnels.get(&path.tunnel).cloned(),
            tally: esp::Tally::default(),
        });
        self.selected.is_some()
    }

    /// Adds what the selected SA accepted to its statistics: before the selection changes,
    /// at each refresh (per read and per chunk) and before the worker sleeps.
    fn commit(&mut self) {
        if let Some(s) = self.selected.as_mut() {
            s.path.sa.commit(&mut s.tally);
        }
    }

    /// The SA chosen by the last successful [`DecapState::select`].
    fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// Picks up SA and tunnel changes and the time.
    fn refresh(&mut self, ctx: &'a InboundCtx) {
        self.commit();
        let table = ctx.table.snapshot();
        if !Arc::ptr_eq(&table, &self.table) {
            self.table = table;
            self.selected = None;
        }
        let tunnels = ctx.tunnels.load();
        if !Arc::ptr_eq(&tunnels, &self.tunnels) {
            self.tunnels = arc_swap::Guard::into_inner(tunnels);
            self.selected = None;
        }
        self.now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
    }
}

/// What opening one datagram from UDP 4500 gave.
enum Opened {
    /// Nothing (more) to do: IKE passed to the control plane, a keepalive, or a drop
    /// (counted).
    Handled,
    /// Left alone: going first would reorder more than its SA's replay window allows.
    Deferred,
    /// ESP decrypted in place with the SA now selected in the `DecapState`; the inner packet
    /// is at `start..end` of the datagram.
    Inner { start: usize, end: usize },
}

/// Classifies one datagram (RFC 3948 3.1) and decrypts ESP in place. With
/// `ahead = Some(n)` the datagram is overtaking `n` waiting ones: it is deferred if its SA's
/// replay window is too small for that (RFC 4303 3.4.3: a packet more than a window behind
/// the newest is rejected, so the ones it overtakes must stay within the window).
fn open_one(st: &mut DecapState<'_>, d: &mut RecvDatagram<'_>, ahead: Option<usize>) -> Opened {
    let ctx = st.ctx;
    let spi = match esp::classify_udp_4500(d.data) {
        Udp4500::Ike(ike) => {
            let msg = IkeDatagram {
                local: st.local,
                remote: d.src,
                bytes: ike.to_vec(),
            };
            if ctx.ike_tx.try_send(msg).is_err() {
                ctx.drops.ike_queue_full.fetch_add(1, Ordering::Relaxed);
            }
            return Opened::Handled;
        }
        Udp4500::Keepalive | Udp4500::Malformed => return Opened::Handled,
        Udp4500::Esp(esp) => match esp.get(..4) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => return Opened::Handled,
        },
    };
    if !st.select(spi) {
        ctx.drops.unknown_spi.fetch_add(1, Ordering::Relaxed);
        return Opened::Handled;
    }
    let Some(Selected { path, tally, .. }) = st.selected.as_mut() else {
        return Opened::Handled;
    };
    if let Some(n) = ahead {
        // A margin of two batches for what the rest of this read adds.
        if n + 2 * UDP_BATCH >= path.sa.replay_window() as usize {
            return Opened::Deferred;
        }
    }
    // Errors are counted per kind by the SA itself.
    let Ok(dec) = path.sa.decapsulate_tallied(d.data, tally) else {
        return Opened::Handled;
    };
    let Payload::Inner { range, .. } = dec.payload else {
        return Opened::Handled;
    };
    Opened::Inner {
        start: range.start,
        end: range.end,
    }
}

/// Whether an inner packet may overtake bulk data that arrived before it: it must not be
/// data of a TCP stream (that would look like reordering to TCP). ICMP, UDP (DNS, Kerberos)
/// and TCP segments without payload (ACKs, SYNs) may.
fn may_overtake(inner: &[u8]) -> bool {
    let (proto, l4) = match inner.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(inner.first().copied().unwrap_or(0) & 0x0f) * 4;
            let total = inner
                .get(2..4)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            (
                inner.get(9).copied(),
                inner.get(ihl..total.min(inner.len())),
            )
        }
        Some(6) => {
            let total = inner
                .get(4..6)
                .map_or(0, |b| 40 + usize::from(u16::from_be_bytes([b[0], b[1]])));
            (inner.get(6).copied(), inner.get(40..total.min(inner.len())))
        }
        _ => return false,
    };
    match (proto, l4) {
        (Some(1 | 17 | 58), _) => true,
        (Some(6), Some(tcp)) => {
            let doff = tcp.get(12).map_or(usize::MAX, |b| usize::from(b >> 4) * 4);
            let flags = tcp.get(13).copied().unwrap_or(0xff);
            // No payload, and no FIN or RST (they are sequenced after the data).
            tcp.len() == doff && flags & 0x05 == 0
        }
        _ => false,
    }
}

/// Writes a decrypted inner packet to its tunnel: traffic-selector check, MSS clamp, AQM.
/// `now`: the clock of the kernel's receive timestamps, for the sojourn time.
fn deliver(
    sel: &Selected,
    now: Duration,
    inner: &mut [u8],
    rx_time: Option<Duration>,
    out: &mut Vec<(OutKey, TunOut)>,
    aqm: &mut Option<Aqm>,
) {
    let (path, Some((tp, tuns))) = (&sel.path, &sel.tunnel) else {
        return;
    };
    match inner_addrs(inner) {
        Some((src, dst)) if path.allows(src, dst) => {}
        _ => {
            tp.drops.ts_mismatch.fetch_add(1, Ordering::Relaxed);
            return;
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
    if let Some(aqm) = aqm.as_mut() {
        let sojourn = rx_time.map_or(Duration::ZERO, |t| now.saturating_sub(t));
        let mut c = AqmCounts::default();
        let keep = aqm.forward(nanos(now), nanos(sojourn), inner, &mut c);
        if c.marked > 0 {
            tp.drops
                .aqm_ce_marked
                .fetch_add(c.marked, Ordering::Relaxed);
        }
        if !keep {
            tp.drops.aqm.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    // The queue whose outbound worker will carry this flow's return traffic.
    let q = flow_queue::queue_of(inner, tuns.len());
    let Some(tun) = tuns.get(q) else {
        return;
    };
    let key = (path.tunnel, q);
    let slot = match out.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            // Once per tunnel queue and lane for the worker's lifetime (buffers are kept),
            // if the packet comes before `provision` made it.
            out.push((key, TunOut::new()));
            out.len() - 1
        }
    };
    if let Some((_, o)) = out.get_mut(slot) {
        o.push(tp, tun, inner);
    }
}

/// Processes message `m` of backlog slot `i` in its turn (decrypting it unless that was done
/// early).
fn decapsulate_in_order(
    st: &mut DecapState<'_>,
    backlog: &mut RecvBacklog,
    (i, m): (usize, usize),
    out: &mut Vec<(OutKey, TunOut)>,
    aqm: &mut Option<Aqm>,
) {
    let Some(slot) = backlog.slot_mut(i) else {
        return;
    };
    // The last datagram may have been taken out of order (`decapsulate_small`): handled
    // already, or decrypted early and written now, in its turn.
    let datagrams = slot.rb.message_size(m).1;
    let early = slot.take_early(m);
    let skip_last = early.is_some() || slot.tail_taken(m);
    for (k, mut d) in slot.rb.message_mut(m).enumerate() {
        if skip_last && k + 1 == datagrams {
            let Some((start, end, spi)) = early else {
                break;
            };
            if st.select(spi) {
                if let (Some(sel), Some(inner)) = (st.selected(), d.data.get_mut(start..end)) {
                    deliver(sel, st.now, inner, d.rx_time, out, aqm);
                }
            }
            break;
        }
        if let Opened::Inner { start, end } = open_one(st, &mut d, None) {
            if let (Some(sel), Some(inner)) = (st.selected(), d.data.get_mut(start..end)) {
                deliver(sel, st.now, inner, d.rx_time, out, aqm);
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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

    fn tcp(flags: u8, payload: usize) -> Vec<u8> {
        let mut b = etherparse::PacketBuilder::ipv4([10, 1, 0, 10], [10, 0, 1, 10], 64)
            .tcp(445, 50000, 1, 65535)
            .ack(1);
        if flags & 0x01 != 0 {
            b = b.fin();
        }
        if flags & 0x02 != 0 {
            b = b.syn();
        }
        if flags & 0x04 != 0 {
            b = b.rst();
        }
        let mut v = Vec::new();
        b.write(&mut v, &vec![7u8; payload]).unwrap();
        v
    }

    #[test]
    fn only_what_tcp_cannot_see_reordered_overtakes() {
        // TCP: ACKs and SYNs may go first; data, FIN and RST keep their place.
        assert!(may_overtake(&tcp(0, 0)));
        assert!(may_overtake(&tcp(0x02, 0)));
        assert!(!may_overtake(&tcp(0, 1)));
        assert!(!may_overtake(&tcp(0, 100)));
        assert!(!may_overtake(&tcp(0x01, 0)));
        assert!(!may_overtake(&tcp(0x04, 0)));
        // Padding after the IP total length is not payload.
        let mut padded = tcp(0, 0);
        padded.extend_from_slice(&[0; 6]);
        assert!(may_overtake(&padded));
        // ICMP, UDP (DNS, Kerberos) and ICMPv6 may.
        let mut v = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 1, 0, 10], [10, 0, 1, 10], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut v, &[0; 56])
            .unwrap();
        assert!(may_overtake(&v));
        let mut v = Vec::new();
        etherparse::PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .udp(5353, 53)
            .write(&mut v, &[0; 40])
            .unwrap();
        assert!(may_overtake(&v));
        let mut v = Vec::new();
        etherparse::PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut v, &[1; 10])
            .unwrap();
        assert!(!may_overtake(&v));
        // Anything else (GRE, truncated headers) keeps its place.
        let mut gre = tcp(0, 0);
        gre[9] = 47;
        assert!(!may_overtake(&gre));
        assert!(!may_overtake(&tcp(0, 0)[..30]));
        assert!(!may_overtake(&[]));
    }
}
