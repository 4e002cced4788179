//! IKE datagrams on their way out, held briefly when the socket's send buffer is full.
//!
//! The UDP 4500 socket is shared with the ESP fast path, whose GSO sends can fill the send
//! buffer while a bulk transfer runs. An IKE message that meets a full buffer used to be
//! dropped, leaving recovery to the retransmission of the request (RFC 7296 2.1): seconds
//! later (strongSwan waits 4 s), which a rekey started close to the SA's hard lifetime does
//! not survive. Here such a message waits and is tried again every [`RETRY`], in order with
//! any later ones, for at most [`GIVE_UP`]; only then is it dropped (and counted).

use super::control_plane::{sockets_for, LocalSockets};
use super::peer_config::NAT_T_PORT;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How soon a message that met a full send buffer is tried again.
pub const RETRY: Duration = Duration::from_millis(2);
/// How long a message may wait before it is dropped (retransmission takes over).
pub const GIVE_UP: Duration = Duration::from_millis(500);
/// Messages held at most; beyond this the oldest is dropped.
const MAX_HELD: usize = 256;

/// One IKE datagram, framed for its socket (non-ESP marker on 4500, RFC 3948 2.2).
pub struct Outgoing {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: Vec<u8>,
}

/// What could not be sent, per remote address, for the caller to count.
pub type Dropped = Vec<SocketAddr>;

/// IKE datagrams waiting for room in a socket's send buffer.
#[derive(Default)]
pub struct IkeOutbox {
    /// With the time each was first tried.
    held: VecDeque<(Outgoing, Instant)>,
}

/// Frames an IKE message for the port it leaves from: on 4500 it follows the four-byte
/// non-ESP marker (RFC 3948 2.2).
pub fn frame(local_port: u16, payload: &[u8]) -> Vec<u8> {
    if local_port == NAT_T_PORT {
        let mut framed = Vec::with_capacity(payload.len() + 4);
        framed.extend_from_slice(&[0, 0, 0, 0]);
        framed.extend_from_slice(payload);
        framed
    } else {
        payload.to_vec()
    }
}

fn try_send(
    sockets: &[LocalSockets],
    local: SocketAddr,
    remote: SocketAddr,
    bytes: &[u8],
) -> io::Result<()> {
    let s = sockets_for(sockets, local.ip())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no socket for this address"))?;
    if local.port() == NAT_T_PORT {
        s.nat_t.try_send_to(remote, bytes)
    } else {
        s.ike.try_send_to(bytes, remote).map(|_| ())
    }
}

/// Sends one datagram through `sockets`; `WouldBlock` when the send buffer is full.
pub fn socket_sender(sockets: &[LocalSockets]) -> impl FnMut(&Outgoing) -> io::Result<()> + '_ {
    move |m| try_send(sockets, m.local, m.remote, &m.bytes)
}

impl IkeOutbox {
    /// Sends `m` now, or holds it if the buffer is full or earlier messages are still held
    /// (IKE messages keep their order). Returns the remotes of messages dropped.
    pub fn send(
        &mut self,
        now: Instant,
        m: Outgoing,
        mut send: impl FnMut(&Outgoing) -> io::Result<()>,
    ) -> Dropped {
        let mut dropped = Vec::new();
        if self.held.is_empty() {
            match send(&m) {
                Ok(()) => return dropped,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    tracing::debug!(remote = %m.remote, error = %e, "IKE send failed");
                    dropped.push(m.remote);
                    return dropped;
                }
            }
        }
        if self.held.len() >= MAX_HELD {
            if let Some((old, _)) = self.held.pop_front() {
                dropped.push(old.remote);
            }
        }
        self.held.push_back((m, now));
        dropped
    }

    /// Tries the held messages again, oldest first, until the buffer is full again; drops
    /// those that waited past [`GIVE_UP`]. Returns the remotes of messages dropped.
    pub fn retry(
        &mut self,
        now: Instant,
        mut send: impl FnMut(&Outgoing) -> io::Result<()>,
    ) -> Dropped {
        let mut dropped = Vec::new();
        while let Some((m, since)) = self.held.front() {
            if now.saturating_duration_since(*since) > GIVE_UP {
                dropped.push(m.remote);
                self.held.pop_front();
                continue;
            }
            match send(m) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                r => {
                    if let Err(e) = r {
                        tracing::debug!(remote = %m.remote, error = %e, "IKE send failed");
                        dropped.push(m.remote);
                    }
                    self.held.pop_front();
                }
            }
        }
        dropped
    }

    /// When [`Self::retry`] should run next.
    pub fn next_retry(&self, now: Instant) -> Option<Instant> {
        (!self.held.is_empty()).then(|| now + RETRY)
    }

    /// Messages waiting.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn msg(remote: u16, body: &[u8]) -> Outgoing {
        Outgoing {
            local: SocketAddr::from(([198, 51, 100, 10], NAT_T_PORT)),
            remote: SocketAddr::from(([203, 0, 113, 20], remote)),
            bytes: frame(NAT_T_PORT, body),
        }
    }

    /// A socket stand-in: full (WouldBlock) while `full`, else it records what was sent.
    struct Wire {
        full: bool,
        sent: Vec<Vec<u8>>,
    }

    fn sender(w: &RefCell<Wire>) -> impl FnMut(&Outgoing) -> io::Result<()> + '_ {
        move |m| {
            let mut w = w.borrow_mut();
            if w.full {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            w.sent.push(m.bytes.clone());
            Ok(())
        }
    }

    #[test]
    fn frames_with_the_non_esp_marker_on_4500_only() {
        assert_eq!(frame(4500, &[1, 2]), vec![0, 0, 0, 0, 1, 2]);
        assert_eq!(frame(500, &[1, 2]), vec![1, 2]);
    }

    /// A message that finds the send buffer full is held, a later one queues behind it, and
    /// both go out in order once the buffer drains.
    #[test]
    fn held_while_the_buffer_is_full_then_sent_in_order() {
        let w = RefCell::new(Wire {
            full: false,
            sent: vec![],
        });
        let mut ob = IkeOutbox::default();
        let t0 = Instant::now();
        assert!(ob.send(t0, msg(4500, b"a"), sender(&w)).is_empty());
        assert_eq!(ob.held(), 0);
        assert_eq!(ob.next_retry(t0), None);
        w.borrow_mut().full = true;
        assert!(ob.send(t0, msg(4500, b"b"), sender(&w)).is_empty());
        w.borrow_mut().full = false;
        // The buffer has room again, but "c" must not overtake "b".
        assert!(ob.send(t0, msg(4500, b"c"), sender(&w)).is_empty());
        assert_eq!(ob.held(), 2);
        assert_eq!(ob.next_retry(t0), Some(t0 + RETRY));
        assert!(ob.retry(t0 + RETRY, sender(&w)).is_empty());
        assert_eq!(ob.held(), 0);
        let bodies: Vec<Vec<u8>> = w.borrow().sent.iter().map(|b| b[4..].to_vec()).collect();
        assert_eq!(bodies, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    /// A buffer that stays full: retries stop at the first WouldBlock, and a message is
    /// dropped (reported with its remote) only after `GIVE_UP`.
    #[test]
    fn dropped_only_after_give_up() {
        let w = RefCell::new(Wire {
            full: true,
            sent: vec![],
        });
        let mut ob = IkeOutbox::default();
        let t0 = Instant::now();
        assert!(ob.send(t0, msg(4500, b"a"), sender(&w)).is_empty());
        assert!(ob
            .send(t0 + GIVE_UP, msg(4501, b"b"), sender(&w))
            .is_empty());
        assert!(ob.retry(t0 + GIVE_UP, sender(&w)).is_empty());
        assert_eq!(ob.held(), 2);
        let dropped = ob.retry(t0 + GIVE_UP + RETRY, sender(&w));
        assert_eq!(dropped, vec![msg(4500, b"a").remote]);
        assert_eq!(ob.held(), 1);
        w.borrow_mut().full = false;
        assert!(ob.retry(t0 + GIVE_UP + RETRY, sender(&w)).is_empty());
        assert_eq!(w.borrow().sent.len(), 1);
    }

    /// Errors other than a full buffer (no route, no socket) drop the message at once.
    #[test]
    fn other_errors_drop_at_once() {
        let mut ob = IkeOutbox::default();
        let dropped = ob.send(Instant::now(), msg(4500, b"a"), |_| {
            Err(io::ErrorKind::NetworkUnreachable.into())
        });
        assert_eq!(dropped.len(), 1);
        assert_eq!(ob.held(), 0);
    }

    /// The holding area is bounded: the oldest message goes first.
    #[test]
    fn bounded() {
        let mut ob = IkeOutbox::default();
        let t0 = Instant::now();
        let full = |_: &Outgoing| -> io::Result<()> { Err(io::ErrorKind::WouldBlock.into()) };
        for i in 0..MAX_HELD {
            assert!(ob.send(t0, msg(4500, &[i as u8]), full).is_empty());
        }
        assert_eq!(ob.send(t0, msg(4501, b"x"), full).len(), 1);
        assert_eq!(ob.held(), MAX_HELD);
    }
}
