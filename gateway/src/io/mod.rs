//! The gateway's packet I/O: TUN devices, batched UDP sockets, routes, network namespaces.
//!
//! Fast-path threads are plain std threads. Each owns its batch buffers ([`PacketBatch`],
//! [`UdpRecvBatch`], [`GsoBatch`]) allocated once; reading and writing a batch costs no allocation,
//! lock or syscall per packet. All fast-path descriptors are non-blocking: a thread reads until a
//! read would block, flushes what it has, then parks in [`poll::wait_readable`] with a timeout
//! and a shared [`poll::Waker`] so it notices shutdown promptly.

pub mod multipath;
pub mod nat_t;
pub mod netns;
pub mod packet_batch;
pub mod page_buf;
pub mod poll;
pub mod queue_turn;
pub mod recv_backlog;
pub mod reply_watch;
pub mod routes;
pub mod tun;
pub mod tun_gro;
pub mod tx_arena;
pub mod udp;
pub mod udp_async;

pub use packet_batch::{PacketBatch, PacketBuf};
pub use poll::{Readiness, Waker};
pub use reply_watch::ReplyWatch;
pub use tun::{Tun, TunConfig, TunOffload};
pub use tx_arena::TxArena;
pub use udp::{GsoBatch, OffloadStatus, UdpBatchSocket, UdpRecvBatch};
