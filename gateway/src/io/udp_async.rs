//! Tokio access to a [`UdpBatchSocket`] for the control plane (port 500, or 4500 when no
//! fast-path thread owns it): readiness through `AsyncFd`, batched reads through the same
//! [`UdpRecvBatch`] so GRO trains are split correctly.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::udp::{UdpBatchSocket, UdpRecvBatch};

/// Must be created inside a tokio runtime.
pub struct AsyncUdpSocket {
    fd: AsyncFd<Arc<UdpBatchSocket>>,
}

impl AsyncUdpSocket {
    pub fn new(sock: Arc<UdpBatchSocket>) -> io::Result<Self> {
        // SAFETY: the descriptor is owned by the `UdpBatchSocket` inside the `Arc`, which the
        // `AsyncFd` keeps alive, so it stays open and `as_raw_fd` returns the same descriptor
        // for the `AsyncFd`'s whole lifetime.
        let fd = unsafe {
            AsyncFd::register_with_interest(sock, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| e.into_parts().1)?;
        Ok(Self { fd })
    }

    pub fn socket(&self) -> &Arc<UdpBatchSocket> {
        self.fd.get_ref()
    }

    /// Waits for datagrams and receives a batch of them.
    pub async fn recv_batch(&self, batch: &mut UdpRecvBatch) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| s.get_ref().recv_batch(batch)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one datagram, waiting for buffer space if needed.
    pub async fn send_to(&self, dst: SocketAddr, payload: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| s.get_ref().try_send_to(dst, payload)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}
