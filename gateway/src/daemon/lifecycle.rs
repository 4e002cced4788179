//! Bringing tunnels and sockets into and out of service at run time: at start-up, and on
//! `ipsecgw reload` / SIGHUP, which applies only the differences between the running config and
//! the file (RFC-agnostic operator behaviour: unchanged tunnels keep their SAs and traffic).

use super::control_plane::{ControlPlane, LocalSockets, Tunnel};
use super::datapath::{TunQueues, TunnelPath};
use super::fast_path::{self, IkeDatagram, InboundCtx};
use super::peer_config::{self, IKE_PORT, NAT_T_PORT};
use crate::config::{Config, Connection};
use crate::control::protocol::Response;
use crate::io::routes::IpPrefix;
use crate::io::{ReplyWatch, Tun, TunConfig, UdpBatchSocket};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a reload waits for the workers of removed or changed tunnels to exit.
const WORKER_EXIT_WAIT: Duration = Duration::from_secs(3);

pub fn local_ip_of(conn: &Connection) -> IpAddr {
    conn.local_addrs
        .first()
        .copied()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl ControlPlane {
    /// Binds UDP 500 and 4500 on `ip` unless already bound, and starts their receivers.
    pub async fn ensure_sockets(&mut self, ip: IpAddr) -> Result<(), String> {
        if self.sockets.iter().any(|s| s.ip == ip) {
            return Ok(());
        }
        let ike = tokio::net::UdpSocket::bind(SocketAddr::new(ip, IKE_PORT))
            .await
            .map_err(|e| format!("cannot bind UDP {ip}:{IKE_PORT}: {e}"))?;
        let nat_t = UdpBatchSocket::bind(SocketAddr::new(ip, NAT_T_PORT))
            .map_err(|e| format!("cannot bind UDP {ip}:{NAT_T_PORT}: {e}"))?;
        let reply = ReplyWatch::new(self.config.daemon.reply_spin)
            .map_err(|e| format!("cannot create the inbound worker's nudge: {e}"))?;
        let s = LocalSockets {
            ip,
            ike: Arc::new(ike),
            nat_t: Arc::new(nat_t),
            reply: Arc::new(reply),
        };
        fast_path::spawn_inbound(InboundCtx {
            sock: s.nat_t.clone(),
            reply: s.reply.clone(),
            table: self.inbound.clone(),
            tunnels: self.tunnel_map.clone(),
            ike_tx: self.ike_tx.clone(),
            drops: self.drops.clone(),
            waker: self.waker.clone(),
            aqm: self.config.daemon.aqm,
            sched: self.sched.clone(),
        })
        .map_err(|e| format!("cannot start the inbound worker: {e}"))?;
        tokio::spawn(recv_ike_500(s.ike.clone(), self.ike_tx.clone()));
        self.sockets.push(s);
        Ok(())
    }

    /// Creates a tunnel: TUN device, routes, endpoint peer, outbound worker.
    pub async fn open_tunnel(&mut self, conn: &Connection) -> Result<(), String> {
        let local_ip = local_ip_of(conn);
        self.ensure_sockets(local_ip).await?;
        let mut tc = TunConfig::new(conn.tun_name.clone(), conn.mtu);
        tc.offload = true;
        let queues = self.config.daemon.tun_queues_here();
        tc.multi_queue = queues > 1;
        let tun = Tun::open(&tc).map_err(|e| {
            format!(
                "connection {}: cannot open TUN {}: {e}",
                conn.name, conn.tun_name
            )
        })?;
        let ifindex = tun.ifindex();
        self.routes.set_link_up(ifindex).await.map_err(|e| {
            format!(
                "connection {}: cannot bring {} up: {e}",
                conn.name, conn.tun_name
            )
        })?;
        let prefixes = remote_prefixes(conn);
        // Grouped tunnels (active-active) share their routes: `reconcile_ha` installs them.
        let own_routes: &[IpPrefix] = if conn.ha_group.is_some() {
            &[]
        } else {
            &prefixes
        };
        self.routes
            .add_routes(ifindex, own_routes)
            .await
            .map_err(|e| {
                format!(
                    "connection {}: cannot add routes via {}: {e}",
                    conn.name, conn.tun_name
                )
            })?;
        let id = self.next_tunnel_id;
        self.next_tunnel_id += 1;
        let mut path = TunnelPath::new(conn.name.clone(), id, conn.mtu);
        path.local_ip = Some(local_ip);
        path.mss_v4 = conn.mss_ipv4();
        path.mss_v6 = conn.mss_ipv6();
        let path = Arc::new(path);
        let tun = Arc::new(tun);
        // One queue per outbound worker: the kernel steers each flow to one queue (RFC 4303
        // sequence numbers stay shared through the SA's atomic counter).
        let mut tuns = vec![tun.clone()];
        for _ in 1..queues {
            let q = tun.clone_queue().map_err(|e| {
                format!(
                    "connection {}: cannot open queue {} of TUN {}: {e} (set [daemon] tun_queues = 1)",
                    conn.name,
                    tuns.len(),
                    conn.tun_name
                )
            })?;
            tuns.push(Arc::new(q));
        }
        let tuns: TunQueues = tuns.into();
        let peer = self.endpoint.add_peer(peer_config::peer_config(conn)?);
        let (sock, reply) = self
            .sockets
            .iter()
            .find(|s| s.ip == local_ip)
            .map(|s| (s.nat_t.clone(), s.reply.clone()))
            .ok_or("no socket for the tunnel")?;
        let mut workers = Vec::with_capacity(tuns.len());
        for (k, q) in tuns.iter().enumerate() {
            let w = fast_path::spawn_outbound(
                path.clone(),
                q.clone(),
                k,
                sock.clone(),
                // The latency queue's requests are answered through the inbound worker,
                // which also sends the ACKs of the streams it writes to a bulk queue.
                match (k, tuns.len()) {
                    (_, 1) => fast_path::QueueRole::Only(reply.clone()),
                    (0, _) => fast_path::QueueRole::Latency(reply.clone()),
                    _ => fast_path::QueueRole::Bulk(reply.clone()),
                },
                self.waker.clone(),
                self.sched.clone(),
            );
            match w {
                Ok(w) => workers.push(w),
                Err(e) => {
                    path.stop.store(true, Ordering::Relaxed);
                    return Err(format!("cannot start outbound worker {k}: {e}"));
                }
            }
        }
        let mut map = HashMap::clone(&self.tunnel_map.load());
        map.insert(id, (path.clone(), tuns.clone()));
        self.tunnel_map.store(Arc::new(map));
        tracing::info!(
            tunnel = %conn.name, tun = %conn.tun_name, mtu = conn.mtu, offload = ?tun.offload(), queues = tuns.len(),
            routes = ?prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(), "tunnel device ready"
        );
        self.ha_dirty = true;
        self.tunnels.push(Tunnel {
            conn: conn.clone(),
            peer,
            path,
            tun,
            workers,
            local_ip,
            sas: super::sa_install::ChildTable::new(
                conn.children.iter().map(|c| c.name.clone()).collect(),
            ),
            ike: None,
            ike_rekeys: 0,
            dpd_failures: 0,
            ike_retransmits: 0,
            last_inbound_packets: 0,
            last_error: None,
            peer_proposals: None,
            held_down: false,
            retry_at: None,
            retry_delay: Duration::from_secs(2),
            last_keepalive: Instant::now(),
            routes_wanted: true,
            routes_installed: true,
            drops_logged: HashMap::new(),
            drops_logged_at: Instant::now(),
        });
        Ok(())
    }

    /// Removes a tunnel: DELETE to the peer, SAs out of the fast path, worker told to stop.
    /// The TUN closes (and its routes go with it) once the returned worker has exited: join it
    /// before opening a device of the same name again, or the kernel answers EBUSY.
    pub fn close_tunnel(&mut self, now: Instant, name: &str) -> Vec<JoinHandle<()>> {
        let Some(pos) = self.tunnels.iter().position(|t| t.conn.name == name) else {
            return Vec::new();
        };
        let t = self.tunnels.remove(pos);
        self.endpoint.remove_peer(now, t.peer);
        let mut t = t;
        t.sas.clear(&t.path, &self.inbound);
        for spi in self.inbound.spis_of_tunnel(t.path.index) {
            self.inbound.remove(spi);
        }
        t.path.outbound.store(None);
        t.path.stop.store(true, Ordering::Relaxed);
        let mut map = HashMap::clone(&self.tunnel_map.load());
        map.remove(&t.path.index);
        self.tunnel_map.store(Arc::new(map));
        // An idle inbound worker may sleep on this tunnel's latency queue: it lets go now.
        for s in &self.sockets {
            s.reply.release();
        }
        self.ha_dirty = true;
        tracing::info!(tunnel = %name, "tunnel removed");
        std::mem::take(&mut t.workers)
    }

    /// Re-reads the config file and applies the differences. A config with errors is
    /// rejected whole and nothing changes.
    pub async fn reload(&mut self, now: Instant) -> Response {
        let new = match crate::config::load(&self.config_path) {
            Ok(mut c) => {
                // `auto` addresses: the ones found at start-up (they do not change while the
                // instance runs); only a config that newly says `auto` asks IMDS, briefly.
                let path = self.config_path.clone();
                let resolved = tokio::task::spawn_blocking(move || {
                    crate::platform::imds::resolve_config(&mut c, Duration::from_secs(5)).map(|_| c)
                })
                .await;
                match resolved {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        return Response::Error {
                            message: format!(
                                "reload rejected, nothing changed; {}: {e}",
                                path.display()
                            ),
                        }
                    }
                    Err(e) => {
                        return Response::Error {
                            message: format!("reload rejected, nothing changed: {e}"),
                        }
                    }
                }
            }
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                tracing::warn!(
                    errors = list.len(),
                    "reload rejected: the config has errors; nothing changed"
                );
                for e in &list {
                    tracing::warn!("  {e}");
                }
                return Response::Error {
                    message: format!(
                        "reload rejected, nothing changed; {} error(s) in {}:\n{}",
                        list.len(),
                        self.config_path.display(),
                        list.join("\n")
                    ),
                };
            }
        };
        let plan = ReloadPlan::new(&self.config, &new);
        for w in &new.warnings {
            tracing::warn!("{w}");
        }
        if self.config.daemon.runs_differently(&new.daemon) {
            tracing::warn!("[daemon] settings changed: they take effect at the next restart");
        }
        let workers: Vec<JoinHandle<()>> = plan
            .removed
            .iter()
            .chain(plan.changed.iter())
            .flat_map(|name| self.close_tunnel(now, name))
            .collect();
        // The DELETEs go out now, before the wait below.
        self.flush(now);
        // A changed tunnel reopens its TUN by name: its old worker must have let go of the old
        // device first (it notices `stop` within fast_path's idle wait).
        if !workers.is_empty() {
            let joined = tokio::task::spawn_blocking(move || {
                for w in workers {
                    let _ = w.join();
                }
            });
            if tokio::time::timeout(WORKER_EXIT_WAIT, joined)
                .await
                .is_err()
            {
                tracing::warn!("a removed tunnel's worker did not exit in time");
            }
        }
        let mut errors = Vec::new();
        for name in plan.added.iter().chain(plan.changed.iter()) {
            let Some(conn) = new.connections.iter().find(|c| &c.name == name) else {
                continue;
            };
            match self.open_tunnel(conn).await {
                Ok(()) => {
                    let i = self.tunnels.len() - 1;
                    if self.tunnels[i].wants_up() {
                        self.initiate_index(now, i);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        self.config = new;
        let summary = plan.summary();
        tracing::info!("reloaded: {summary}");
        if errors.is_empty() {
            Response::Ok {
                message: format!("reloaded: {summary}"),
            }
        } else {
            Response::Error {
                message: format!("reloaded with errors ({summary}): {}", errors.join("; ")),
            }
        }
    }
}

/// The remote traffic selectors of every child: the prefixes routed into the tunnel.
pub fn remote_prefixes(conn: &Connection) -> Vec<IpPrefix> {
    conn.children
        .iter()
        .flat_map(|c| c.remote_ts.iter())
        .filter_map(|p| IpPrefix::new(p.addr, p.len).ok())
        .collect()
}

impl ControlPlane {
    /// Brings each ungrouped tunnel's routes in line with `routes_wanted` (removed after a dead
    /// peer with `dpd_action = "clear"`, back with the next CHILD SA).
    pub async fn sync_routes(&mut self) {
        self.routes_dirty = false;
        for t in &mut self.tunnels {
            if t.conn.ha_group.is_some() || t.routes_wanted == t.routes_installed {
                continue;
            }
            let prefixes = remote_prefixes(&t.conn);
            let ifindex = t.tun.ifindex();
            let r = if t.routes_wanted {
                self.routes.add_routes(ifindex, &prefixes).await
            } else {
                self.routes.remove_routes(ifindex, &prefixes).await
            };
            match r {
                Ok(()) => {
                    t.routes_installed = t.routes_wanted;
                    tracing::info!(
                        tunnel = %t.conn.name,
                        routes = ?prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                        "{}", if t.routes_wanted { "routes restored" } else { "routes cleared" }
                    );
                }
                Err(e) => {
                    tracing::warn!(tunnel = %t.conn.name, error = %e, "cannot change the tunnel's routes");
                    self.routes_dirty = true;
                }
            }
        }
    }
}

/// Which connections a reload adds, removes, changes or leaves alone (by name).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

impl ReloadPlan {
    pub fn new(old: &Config, new: &Config) -> ReloadPlan {
        let mut plan = ReloadPlan::default();
        for o in &old.connections {
            match new.connections.iter().find(|n| n.name == o.name) {
                None => plan.removed.push(o.name.clone()),
                Some(n) if n == o => plan.unchanged.push(o.name.clone()),
                Some(_) => plan.changed.push(o.name.clone()),
            }
        }
        for n in &new.connections {
            if !old.connections.iter().any(|o| o.name == n.name) {
                plan.added.push(n.name.clone());
            }
        }
        plan
    }

    pub fn summary(&self) -> String {
        let part = |label: &str, v: &[String]| {
            if v.is_empty() {
                format!("{label} none")
            } else {
                format!("{label} {}", v.join(", "))
            }
        };
        format!(
            "{}; {}; {}; {}",
            part("added", &self.added),
            part("removed", &self.removed),
            part("changed", &self.changed),
            part("unchanged", &self.unchanged)
        )
    }
}

/// Reads IKE on UDP 500 and queues it for the control plane.
async fn recv_ike_500(sock: Arc<tokio::net::UdpSocket>, tx: mpsc::Sender<IkeDatagram>) {
    let Ok(local) = sock.local_addr() else { return };
    let mut buf = vec![0u8; 65535];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, remote)) => {
                let Some(bytes) = buf.get(..n) else { continue };
                let d = IkeDatagram {
                    local,
                    remote,
                    bytes: bytes.to_vec(),
                };
                if tx.send(d).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!(error = %e, "UDP 500 receive error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> Config {
        crate::config::parse(text, Path::new("/")).unwrap_or_else(|e| panic!("{e}"))
    }

    const BASE: &str = r#"
[connections.a]
remote_addrs = ["203.0.113.20"]
local_id = "198.51.100.10"
psk = "a-long-enough-test-psk-0123456789"
[connections.a.children.net]
local_ts = ["10.0.1.0/24"]
remote_ts = ["10.1.0.0/24"]

[connections.b]
remote_addrs = ["203.0.113.21"]
local_id = "198.51.100.10"
psk = "a-long-enough-test-psk-0123456789"
[connections.b.children.net]
local_ts = ["10.0.1.0/24"]
remote_ts = ["10.2.0.0/24"]
"#;

    #[test]
    fn plan_names_each_kind_of_difference() {
        let old = cfg(BASE);
        let changed_b = BASE.replace("10.2.0.0/24", "10.3.0.0/24");
        let new_text = format!(
            "{changed_b}\n[connections.c]\nremote_addrs = [\"203.0.113.22\"]\nlocal_id = \"198.51.100.10\"\npsk = \"a-long-enough-test-psk-0123456789\"\n[connections.c.children.net]\nlocal_ts = [\"10.0.1.0/24\"]\nremote_ts = [\"10.4.0.0/24\"]\n"
        );
        let plan = ReloadPlan::new(&old, &cfg(&new_text));
        assert_eq!(plan.unchanged, vec!["a"]);
        assert_eq!(plan.changed, vec!["b"]);
        assert_eq!(plan.added, vec!["c"]);
        assert!(plan.removed.is_empty());
        let only_a = cfg(&BASE[..BASE.find("[connections.b]").unwrap()]);
        let plan = ReloadPlan::new(&old, &only_a);
        assert_eq!(plan.removed, vec!["b"]);
        assert_eq!(plan.unchanged, vec!["a"]);
        assert_eq!(ReloadPlan::new(&old, &old).unchanged, vec!["a", "b"]);
    }
}
