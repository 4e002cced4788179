//! Routes and link settings over rtnetlink (no `ip` subprocess): routes for the remote
//! traffic selectors via the TUN (replace-on-exists), link up, MTU, ifindex lookup.
//!
//! The netlink socket lives in the network namespace of the thread that calls
//! [`RouteHandle::connect`] / [`BlockingRoutes::new`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use futures::TryStreamExt;
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

/// An IPv4 or IPv6 prefix with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// Fails if `len` exceeds the address width; host bits of `addr` are cleared.
    pub fn new(addr: IpAddr, len: u8) -> io::Result<Self> {
        let addr = match addr {
            IpAddr::V4(a) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) if len <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "prefix length exceeds address width",
                ))
            }
        };
        Ok(Self { addr, len })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

impl FromStr for IpPrefix {
    type Err = io::Error;

    /// `10.1.0.0/16`, `2001:db8::/32`, or a bare address (a host prefix).
    fn from_str(s: &str) -> io::Result<Self> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, "invalid IP prefix");
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let len = match l {
            Some(l) => l.trim().parse().map_err(|_| bad())?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, len)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// Async netlink access (tokio).
#[derive(Clone)]
pub struct RouteHandle {
    handle: Handle,
}

impl RouteHandle {
    /// Opens a netlink connection and spawns its driver on the current tokio runtime.
    pub fn connect() -> io::Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// The ifindex of the link called `name`.
    pub async fn link_index(&self, name: &str) -> io::Result<u32> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await.map_err(to_io)? {
            Some(msg) => Ok(msg.header.index),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such link")),
        }
    }

    pub async fn set_link_up(&self, ifindex: u32) -> io::Result<()> {
        let msg = LinkUnspec::new_with_index(ifindex).up().build();
        self.handle.link().set(msg).execute().await.map_err(to_io)
    }

    pub async fn set_mtu(&self, ifindex: u32, mtu: u32) -> io::Result<()> {
        let msg = LinkUnspec::new_with_index(ifindex).mtu(mtu).build();
        self.handle.link().set(msg).execute().await.map_err(to_io)
    }

    /// Routes each prefix via `ifindex` in the main table, replacing an existing route to
    /// the same prefix.
    pub async fn add_routes(&self, ifindex: u32, prefixes: &[IpPrefix]) -> io::Result<()> {
        for p in prefixes {
            let msg = route_message(ifindex, p);
            self.handle
                .route()
                .add(msg)
                .replace()
                .execute()
                .await
                .map_err(to_io)?;
        }
        Ok(())
    }

    /// Removes the routes to each prefix via `ifindex`; a route that is already gone is not an
    /// error.
    pub async fn remove_routes(&self, ifindex: u32, prefixes: &[IpPrefix]) -> io::Result<()> {
        for p in prefixes {
            let msg = route_message(ifindex, p);
            match self.handle.route().del(msg).execute().await.map_err(to_io) {
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                r => r?,
            }
        }
        Ok(())
    }
}

fn route_message(ifindex: u32, p: &IpPrefix) -> rtnetlink::packet_route::route::RouteMessage {
    match p.addr {
        IpAddr::V4(a) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(a, p.len)
            .output_interface(ifindex)
            .scope(RouteScope::Link)
            .build(),
        IpAddr::V6(a) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(a, p.len)
            .output_interface(ifindex)
            .build(),
    }
}

/// Blocking wrapper with its own single-threaded runtime. Do not call from inside a tokio
/// runtime (use [`RouteHandle`] there).
pub struct BlockingRoutes {
    rt: tokio::runtime::Runtime,
    inner: RouteHandle,
}

impl BlockingRoutes {
    pub fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let inner = rt.block_on(async { RouteHandle::connect() })?;
        Ok(Self { rt, inner })
    }

    pub fn link_index(&self, name: &str) -> io::Result<u32> {
        self.rt.block_on(self.inner.link_index(name))
    }

    pub fn set_link_up(&self, ifindex: u32) -> io::Result<()> {
        self.rt.block_on(self.inner.set_link_up(ifindex))
    }

    pub fn set_mtu(&self, ifindex: u32, mtu: u32) -> io::Result<()> {
        self.rt.block_on(self.inner.set_mtu(ifindex, mtu))
    }

    pub fn add_routes(&self, ifindex: u32, prefixes: &[IpPrefix]) -> io::Result<()> {
        self.rt.block_on(self.inner.add_routes(ifindex, prefixes))
    }

    pub fn remove_routes(&self, ifindex: u32, prefixes: &[IpPrefix]) -> io::Result<()> {
        self.rt
            .block_on(self.inner.remove_routes(ifindex, prefixes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_mask() {
        let p: IpPrefix = "10.1.2.3/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        let p: IpPrefix = "2001:db8::1/32".parse().unwrap();
        assert_eq!(p.to_string(), "2001:db8::/32");
        assert_eq!("10.0.0.1".parse::<IpPrefix>().unwrap().prefix_len(), 32);
        assert_eq!(
            "0.0.0.0/0".parse::<IpPrefix>().unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert!("10.0.0.0/33".parse::<IpPrefix>().is_err());
        assert!("::/129".parse::<IpPrefix>().is_err());
        assert!("nonsense/3".parse::<IpPrefix>().is_err());
    }
}
