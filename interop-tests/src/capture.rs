//! Capturing UDP datagrams (IKE on 500/4500) on an interface inside a namespace, with an
//! AF_PACKET socket opened by a thread that joined the namespace (no tcpdump needed).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::{Context, Error, Result};
use crate::netns::Netns;

/// One captured UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
    /// Since the capture started.
    pub at: Duration,
}

/// A running capture; [`UdpCapture::stop`] returns what it saw.
pub struct UdpCapture {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Datagram>>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl UdpCapture {
    /// Captures IPv4 UDP datagrams from or to any of `ports` on `ifname` in `ns`, both
    /// directions. Returns once the socket is bound.
    pub fn start(ns: &Netns, ifname: &str, ports: &[u16]) -> Result<UdpCapture> {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (ns_path, ifname, ports) = (
            format!("/var/run/netns/{}", ns.name()),
            ifname.to_string(),
            ports.to_vec(),
        );
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::Builder::new()
            .name("udp-capture".into())
            .spawn(move || {
                let sock = match open_socket(&ns_path, &ifname) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                capture_loop(&sock, &ports, &stop2, &seen2)
            })?;
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|e| Error::new(e.to_string()))
            .context("capture thread")??;
        Ok(UdpCapture {
            stop,
            seen,
            thread: Some(thread),
        })
    }

    /// What has been captured so far.
    pub fn snapshot(&self) -> Vec<Datagram> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the capture and returns every datagram seen, in order.
    pub fn stop(mut self) -> Result<Vec<Datagram>> {
        self.halt()?;
        Ok(std::mem::take(
            &mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    fn halt(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| Error::new("capture thread panicked"))??;
        }
        Ok(())
    }
}

impl Drop for UdpCapture {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

fn last_os_error(what: &str) -> Error {
    Error::new(format!("{what}: {}", std::io::Error::last_os_error()))
}

/// Joins the namespace (this thread only) and opens an AF_PACKET/SOCK_DGRAM socket (all protocols, both directions)
/// bound to `ifname`.
fn open_socket(ns_path: &str, ifname: &str) -> Result<OwnedFd> {
    let nsfile = std::fs::File::open(ns_path).context(format!("opening {ns_path}"))?;
    // SAFETY: setns on a valid namespace fd; CLONE_NEWNET affects only the calling thread.
    if unsafe { libc::setns(nsfile.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(last_os_error("setns"));
    }
    let cname = std::ffi::CString::new(ifname).map_err(|e| Error::new(e.to_string()))?;
    // SAFETY: valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(last_os_error(&format!("if_nametoindex({ifname})")));
    }
    // ETH_P_ALL: only "all" taps see outgoing packets; non-IPv4 is dropped by the parser.
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket syscall; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, proto as libc::c_int) };
    if fd < 0 {
        return Err(last_os_error("socket(AF_PACKET)"));
    }
    // SAFETY: fd is a fresh, valid descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_ll is valid; fields set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: pointer and length describe `sll`.
    let rc = unsafe {
        libc::bind(
            fd,
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        return Err(last_os_error("bind(AF_PACKET)"));
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    let rcvbuf: libc::c_int = 8 << 20;
    // SAFETY: option values point to live locals of the right size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &rcvbuf as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    Ok(sock)
}

fn capture_loop(
    sock: &OwnedFd,
    ports: &[u16],
    stop: &AtomicBool,
    seen: &Mutex<Vec<Datagram>>,
) -> Result<()> {
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: buf is a live, writable buffer of the given length.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => continue,
                _ => bail!("capture recv: {err}"),
            }
        }
        if let Some(mut d) = parse_ipv4_udp(&buf[..n as usize]) {
            if ports.contains(&d.src.port()) || ports.contains(&d.dst.port()) {
                d.at = start.elapsed();
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(d);
            }
        }
    }
    Ok(())
}

/// An unfragmented IPv4/UDP packet's addresses and payload.
pub fn parse_ipv4_udp(pkt: &[u8]) -> Option<Datagram> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 || pkt[9] != 17 {
        return None;
    }
    let ihl = (pkt[0] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
    let frag = u16::from_be_bytes([pkt[6], pkt[7]]);
    if frag & 0x3fff != 0 || total > pkt.len() || ihl + 8 > total {
        return None;
    }
    let ip = |o: usize| Ipv4Addr::new(pkt[o], pkt[o + 1], pkt[o + 2], pkt[o + 3]);
    let udp = &pkt[ihl..total];
    let port = |o: usize| u16::from_be_bytes([udp[o], udp[o + 1]]);
    let ulen = port(4) as usize;
    if ulen < 8 || ulen > udp.len() {
        return None;
    }
    Some(Datagram {
        src: SocketAddrV4::new(ip(12), port(0)),
        dst: SocketAddrV4::new(ip(16), port(2)),
        payload: udp[8..ulen].to_vec(),
        at: Duration::ZERO,
    })
}
