//! Readiness waits for fast-path threads: `poll(2)` on a few descriptors plus a shared
//! [`Waker`], with a timeout, so a thread blocked on an idle TUN or socket notices shutdown.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// At most this many descriptors (besides the waker) can be waited on at once.
pub const MAX_POLL_FDS: usize = 8;

/// A level-triggered wake-up shared by fast-path threads (wrap it in an `Arc`).
///
/// After [`Waker::wake`], every wait that includes this waker returns [`Readiness::woken`]
/// until [`Waker::reset`] drains it, so one call stops all threads.
#[derive(Debug)]
pub struct Waker {
    tx: UnixDatagram,
    rx: UnixDatagram,
}

impl Waker {
    pub fn new() -> io::Result<Self> {
        let (tx, rx) = UnixDatagram::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Self { tx, rx })
    }

    /// Wakes every current and future waiter until [`Waker::reset`].
    pub fn wake(&self) -> io::Result<()> {
        match self.tx.send(&[1]) {
            Ok(_) => Ok(()),
            // The queue is full: waiters are already woken.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Drains pending wake-ups.
    pub fn reset(&self) {
        let mut b = [0u8; 8];
        while self.rx.recv(&mut b).is_ok() {}
    }

    /// True if a wake-up is pending (without waiting).
    pub fn is_woken(&self) -> bool {
        wait_readable(&[], Some(self), Some(Duration::ZERO))
            .map(|r| r.woken)
            .unwrap_or(false)
    }
}

impl AsFd for Waker {
    /// Readable while a wake-up is pending.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }
}

/// What a wait returned: which of the given descriptors are readable (bit `i` for `fds[i]`),
/// and whether the waker fired. Both empty means the timeout expired (or a signal interrupted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    pub ready: u32,
    pub woken: bool,
}

impl Readiness {
    pub fn is_ready(&self, index: usize) -> bool {
        index < 32 && self.ready & (1 << index) != 0
    }
    pub fn timed_out(&self) -> bool {
        self.ready == 0 && !self.woken
    }
}

/// Waits until one of `fds` is readable, the waker fires, or `timeout` passes
/// (`None` waits forever). Errors, hang-ups and readability all count as "ready" for a
/// descriptor: the following read reports what happened.
pub fn wait_readable(
    fds: &[BorrowedFd<'_>],
    waker: Option<&Waker>,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    wait(fds, libc::POLLIN, waker, timeout)
}

/// Like [`wait_readable`], for writability (a socket whose send buffer was full).
pub fn wait_writable(
    fds: &[BorrowedFd<'_>],
    waker: Option<&Waker>,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    wait(fds, libc::POLLOUT, waker, timeout)
}

fn wait(
    fds: &[BorrowedFd<'_>],
    events: libc::c_short,
    waker: Option<&Waker>,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    if fds.len() > MAX_POLL_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors to poll",
        ));
    }
    let empty = libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    };
    let mut pfds = [empty; MAX_POLL_FDS + 1];
    let mut n = 0;
    for (slot, fd) in pfds.iter_mut().zip(fds) {
        slot.fd = fd.as_raw_fd();
        slot.events = events;
        n += 1;
    }
    let waker_slot = waker.map(|w| {
        if let Some(slot) = pfds.get_mut(n) {
            slot.fd = w.as_fd().as_raw_fd();
            slot.events = libc::POLLIN;
        }
        n += 1;
        n - 1
    });
    let timeout_ms: libc::c_int = match timeout {
        None => -1,
        // Round up so a short timeout does not become a busy loop.
        Some(d) => d
            .as_micros()
            .div_ceil(1000)
            .try_into()
            .unwrap_or(libc::c_int::MAX),
    };
    // SAFETY: `pfds` is a live, properly initialised array of at least `n` pollfd structs
    // (n <= MAX_POLL_FDS + 1); poll(2) writes only their `revents` fields. The descriptors are
    // borrowed for the duration of the call so they stay open.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Readiness::default());
        }
        return Err(e);
    }
    let mut r = Readiness::default();
    for (i, p) in pfds.iter().take(fds.len()).enumerate() {
        if p.revents != 0 {
            r.ready |= 1 << i;
        }
    }
    if let Some(ws) = waker_slot {
        r.woken = pfds.get(ws).is_some_and(|p| p.revents != 0);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn waker_wakes_and_resets() {
        let w = Waker::new().unwrap();
        let t = Instant::now();
        let r = wait_readable(&[], Some(&w), Some(Duration::from_millis(30))).unwrap();
        assert!(r.timed_out());
        assert!(t.elapsed() >= Duration::from_millis(25));
        w.wake().unwrap();
        let r = wait_readable(&[], Some(&w), Some(Duration::from_secs(5))).unwrap();
        assert!(r.woken);
        // Level-triggered: still woken.
        assert!(w.is_woken());
        w.reset();
        assert!(!w.is_woken());
    }

    #[test]
    fn readable_descriptor_reported_by_index() {
        let (a, b) = UnixDatagram::pair().unwrap();
        let (c, _d) = UnixDatagram::pair().unwrap();
        a.send(b"x").unwrap();
        let r = wait_readable(&[c.as_fd(), b.as_fd()], None, Some(Duration::from_secs(5))).unwrap();
        assert!(!r.is_ready(0));
        assert!(r.is_ready(1));
        assert!(!r.woken);
    }
}
