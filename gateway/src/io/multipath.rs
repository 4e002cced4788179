//! Multipath (ECMP) routes over several TUN devices, over rtnetlink: what `daemon::ha` decides
//! for tunnels that share remote prefixes (Azure active-active).
//!
//! `ip route replace 10.1.0.0/16 nexthop dev ipsecgw-a weight 1 nexthop dev ipsecgw-b weight 1`
//! without the subprocess. A single nexthop is installed as a plain route (`dev X scope link`),
//! like `routes::RouteHandle::add_routes` does. IPv6 multipath needs gateway nexthops in the
//! kernel (dev-only IPv6 routes are never ECMP siblings), so an IPv6 prefix over several
//! devices gets the first (preferred) nexthop only; IPv6 traffic then fails over but is not
//! spread.
//!
//! The netlink socket lives in the network namespace of the thread that calls
//! [`MultipathRoutes::connect`] / [`BlockingMultipath::new`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::packet_route::route::{RouteMessage, RouteScope};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};

use super::routes::IpPrefix;

/// One nexthop: a device and its weight (1-256, as `ip route` counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevNexthop {
    pub ifindex: u32,
    pub weight: u16,
}

fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// The route message for `prefix` over `hops` (at least one).
pub fn multipath_message(prefix: &IpPrefix, hops: &[DevNexthop]) -> io::Result<RouteMessage> {
    let Some(first) = hops.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a route needs at least one nexthop",
        ));
    };
    let nexthops = |family_v4: bool| {
        hops.iter()
            .map(|h| {
                let b = if family_v4 {
                    RouteNextHopBuilder::new_ipv4()
                } else {
                    RouteNextHopBuilder::new_ipv6()
                };
                // The kernel counts weight - 1.
                b.interface(h.ifindex)
                    .weight(h.weight.clamp(1, 256).saturating_sub(1) as u8)
                    .build()
            })
            .collect::<Vec<_>>()
    };
    Ok(match prefix.addr() {
        IpAddr::V4(a) => {
            let b = RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(a, prefix.prefix_len())
                .scope(RouteScope::Link);
            if hops.len() == 1 {
                b.output_interface(first.ifindex).build()
            } else {
                b.multipath(nexthops(true)).build()
            }
        }
        IpAddr::V6(a) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(a, prefix.prefix_len())
            .output_interface(first.ifindex)
            .build(),
    })
}

/// Async netlink access for multipath routes (tokio).
#[derive(Clone)]
pub struct MultipathRoutes {
    handle: Handle,
}

impl MultipathRoutes {
    /// Opens a netlink connection and spawns its driver on the current tokio runtime.
    pub fn connect() -> io::Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// Uses an existing rtnetlink handle (e.g. the daemon's).
    pub fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }

    /// Installs or replaces the route to `prefix` over `hops` in the main table.
    pub async fn replace(&self, prefix: &IpPrefix, hops: &[DevNexthop]) -> io::Result<()> {
        let msg = multipath_message(prefix, hops)?;
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(to_io)
    }

    /// Removes the route to `prefix` (whatever its nexthops); already gone is not an error.
    pub async fn remove(&self, prefix: &IpPrefix) -> io::Result<()> {
        let msg = match prefix.addr() {
            // The kernel matches the scope on delete: ours are link-scoped.
            IpAddr::V4(a) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(a, prefix.prefix_len())
                .scope(RouteScope::Link)
                .build(),
            IpAddr::V6(a) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(a, prefix.prefix_len())
                .build(),
        };
        match self.handle.route().del(msg).execute().await.map_err(to_io) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            r => r,
        }
    }
}

/// Blocking wrapper with its own single-threaded runtime (not for use inside a runtime).
pub struct BlockingMultipath {
    rt: tokio::runtime::Runtime,
    inner: MultipathRoutes,
}

impl BlockingMultipath {
    pub fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let inner = rt.block_on(async { MultipathRoutes::connect() })?;
        Ok(Self { rt, inner })
    }

    pub fn replace(&self, prefix: &IpPrefix, hops: &[DevNexthop]) -> io::Result<()> {
        self.rt.block_on(self.inner.replace(prefix, hops))
    }

    pub fn remove(&self, prefix: &IpPrefix) -> io::Result<()> {
        self.rt.block_on(self.inner.remove(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn empty_nexthops_refused() {
        let p: IpPrefix = "10.1.0.0/16".parse().unwrap();
        assert!(multipath_message(&p, &[]).is_err());
        assert!(multipath_message(
            &p,
            &[DevNexthop {
                ifindex: 3,
                weight: 1
            }]
        )
        .is_ok());
    }

    fn ip(ns: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", ns])
            .args(args)
            .output()
            .expect("ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    struct Ns(String);
    impl Drop for Ns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    /// Root only: a multipath route over two TUN devices in a throw-away namespace, then one
    /// nexthop (failover), then removed.
    #[test]
    fn multipath_route_in_a_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("!!!!! SKIPPING multipath_route_in_a_namespace: needs root !!!!!");
            return;
        }
        let name = format!("igw-mp-{}", std::process::id());
        assert!(Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success());
        let ns = Ns(name);
        for dev in ["igwmp-a", "igwmp-b"] {
            ip(&ns.0, &["tuntap", "add", "dev", dev, "mode", "tun"]);
            ip(&ns.0, &["link", "set", dev, "up"]);
        }
        let idx = |dev: &str| -> u32 {
            ip(&ns.0, &["-o", "link", "show", dev])
                .split(':')
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let (a, b) = (idx("igwmp-a"), idx("igwmp-b"));
        let v4: IpPrefix = "10.97.0.0/16".parse().unwrap();
        let v6: IpPrefix = "fd00:97::/64".parse().unwrap();
        let nsname = ns.0.clone();
        let run = move |f: Box<dyn FnOnce(&BlockingMultipath) + Send>| {
            let nsname = nsname.clone();
            std::thread::spawn(move || {
                crate::io::netns::enter_netns(&nsname).unwrap();
                f(&BlockingMultipath::new().unwrap());
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        };
        let both = [
            DevNexthop {
                ifindex: a,
                weight: 1,
            },
            DevNexthop {
                ifindex: b,
                weight: 2,
            },
        ];
        run(Box::new(move |m| {
            m.replace(&v4, &both).unwrap();
            // Replace-on-exists.
            m.replace(&v4, &both).unwrap();
            m.replace(&v6, &both).unwrap();
        }));
        let r = ip(&ns.0, &["route", "show", "10.97.0.0/16"]);
        assert!(r.contains("nexthop dev igwmp-a weight 1"), "{r}");
        assert!(r.contains("nexthop dev igwmp-b weight 2"), "{r}");
        let r6 = ip(&ns.0, &["-6", "route", "show", "fd00:97::/64"]);
        assert!(r6.contains("dev igwmp-a"), "{r6}");

        // Failover: only b.
        run(Box::new(move |m| {
            m.replace(
                &v4,
                &[DevNexthop {
                    ifindex: b,
                    weight: 1,
                }],
            )
            .unwrap();
        }));
        let r = ip(&ns.0, &["route", "show", "10.97.0.0/16"]);
        assert!(r.contains("dev igwmp-b") && !r.contains("igwmp-a"), "{r}");
        assert_eq!(r.lines().count(), 1, "{r}");

        run(Box::new(move |m| {
            m.remove(&v4).unwrap();
            m.remove(&v4).unwrap();
            m.remove(&v6).unwrap();
        }));
        assert!(!ip(&ns.0, &["route", "show"]).contains("10.97."));
        assert!(!ip(&ns.0, &["-6", "route", "show"]).contains("fd00:97"));
    }
}
