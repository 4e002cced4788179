//! The control plane: one tokio task that owns the IKEv2 endpoint, feeds it datagrams and
//! timeouts, sends what it produces, and turns its events into fast-path SA changes.

use super::datapath::{
    AddrRange, GatewayDrops, InboundPath, InboundTable, OutboundPath, TunnelMap, TunnelPath,
};
use super::fast_path::IkeDatagram;
use super::peer_config::{IKE_PORT, NAT_T_PORT};
use super::status;
use crate::config::Config;
use crate::config::{Connection, StartAction};
use crate::control::protocol::{Request, Response};
use crate::io::routes::RouteHandle;
use crate::io::Waker;
use crate::io::{Tun, UdpBatchSocket};
use ikev2::proposal::{EspSuite, IkeSuite};
use ikev2::{ChildSa, Endpoint, Event, FailureReason, PeerId};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// NAT-T keepalive interval (RFC 3948 4: 20 s is customary).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// First and largest delay before initiating again after a failure.
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The sockets bound on one local address.
pub struct LocalSockets {
    pub ip: IpAddr,
    pub ike: Arc<tokio::net::UdpSocket>,
    pub nat_t: Arc<UdpBatchSocket>,
}

/// A CHILD_SA installed in the fast path.
pub struct InstalledChild {
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub udp_encap: bool,
    pub installed_at: Instant,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
}

pub struct IkeInfo {
    pub spi_i: u64,
    pub spi_r: u64,
    pub suite: IkeSuite,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub nat_local: bool,
    pub nat_remote: bool,
    pub established_at: Instant,
}

/// One configured connection at run time.
pub struct Tunnel {
    pub conn: Connection,
    pub peer: PeerId,
    pub path: Arc<TunnelPath>,
    pub tun: Arc<Tun>,
    pub local_ip: IpAddr,
    pub children: Vec<InstalledChild>,
    pub ike: Option<IkeInfo>,
    pub last_error: Option<String>,
    pub peer_proposals: Option<String>,
    /// Set by `ipsecgw terminate`: stay down until `initiate`.
    pub held_down: bool,
    pub retry_at: Option<Instant>,
    pub retry_delay: Duration,
    pub last_keepalive: Instant,
}

impl Tunnel {
    pub fn wants_up(&self) -> bool {
        !self.held_down
            && self.conn.start_action == StartAction::Start
            && self.conn.mode != crate::config::Mode::Responder
    }
}

/// A control-socket request with the channel for its answer.
pub type ControlMsg = (Request, oneshot::Sender<Response>);

pub struct ControlPlane {
    pub endpoint: Endpoint,
    pub tunnels: Vec<Tunnel>,
    pub sockets: Vec<LocalSockets>,
    pub inbound: Arc<InboundTable>,
    pub tunnel_map: Arc<TunnelMap>,
    pub next_tunnel_id: usize,
    pub drops: Arc<GatewayDrops>,
    pub routes: RouteHandle,
    pub waker: Arc<Waker>,
    pub ike_tx: mpsc::Sender<IkeDatagram>,
    pub config: Config,
    pub config_path: PathBuf,
    pub started: Instant,
    pub fast_path_mode: String,
    pub shutting_down: bool,
}

impl ControlPlane {
    fn tunnel_of(&mut self, peer: PeerId) -> Option<&mut Tunnel> {
        self.tunnels.iter_mut().find(|t| t.peer == peer)
    }

    fn sockets_for(&self, ip: IpAddr) -> Option<&LocalSockets> {
        self.sockets
            .iter()
            .find(|s| s.ip == ip)
            .or_else(|| self.sockets.iter().find(|s| s.ip.is_unspecified()))
    }

    /// Initiate every tunnel whose start action says so.
    pub fn start(&mut self, now: Instant) {
        for i in 0..self.tunnels.len() {
            if self.tunnels[i].wants_up() {
                self.initiate_index(now, i);
            }
        }
    }

    pub fn initiate_index(&mut self, now: Instant, i: usize) {
        let t = &mut self.tunnels[i];
        t.retry_at = None;
        let local = SocketAddr::new(t.local_ip, IKE_PORT);
        tracing::info!(tunnel = %t.conn.name, %local, remote = ?t.conn.remote_addrs.first(), "initiating");
        if let Err(e) = self.endpoint.initiate(now, t.peer, local) {
            t.last_error = Some(e.to_string());
            tracing::warn!(tunnel = %t.conn.name, error = %e, "cannot initiate");
        }
    }

    /// Feed one received IKE datagram.
    pub fn handle_ike(&mut self, now: Instant, d: IkeDatagram) {
        self.endpoint.handle(now, d.local, d.remote, &d.bytes);
    }

    /// Timers: the endpoint's, retries, NAT keepalives.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        for i in 0..self.tunnels.len() {
            let due = matches!(self.tunnels[i].retry_at, Some(at) if at <= now);
            if due && !self.shutting_down {
                self.initiate_index(now, i);
            }
        }
        self.send_keepalives(now);
    }

    pub fn next_deadline(&self, now: Instant) -> Instant {
        let mut next = now + Duration::from_secs(1);
        if let Some(t) = self.endpoint.poll_timeout() {
            next = next.min(t);
        }
        for t in &self.tunnels {
            if let Some(at) = t.retry_at {
                next = next.min(at);
            }
        }
        next.max(now)
    }

    fn send_keepalives(&mut self, now: Instant) {
        for t in &mut self.tunnels {
            let Some(ike) = &t.ike else { continue };
            if !ike.nat_local || now.duration_since(t.last_keepalive) < KEEPALIVE_INTERVAL {
                continue;
            }
            t.last_keepalive = now;
            let remote = SocketAddr::new(ike.remote.ip(), NAT_T_PORT);
            if let Some(s) = self
                .sockets
                .iter()
                .find(|s| s.ip == t.local_ip || s.ip.is_unspecified())
            {
                let _ = s.nat_t.try_send_to(remote, &[0xff]);
            }
        }
    }

    /// Send every datagram the endpoint produced and apply every event.
    pub fn flush(&mut self, now: Instant) {
        while let Some(tx) = self.endpoint.poll_transmit() {
            let Some(s) = self.sockets_for(tx.local.ip()) else {
                tracing::warn!(local = %tx.local, "no socket for IKE transmit");
                continue;
            };
            let r = if tx.local.port() == NAT_T_PORT {
                let mut framed = Vec::with_capacity(tx.payload.len() + 4);
                framed.extend_from_slice(&[0, 0, 0, 0]);
                framed.extend_from_slice(&tx.payload);
                s.nat_t.try_send_to(tx.remote, &framed)
            } else {
                s.ike.try_send_to(&tx.payload, tx.remote).map(|_| ())
            };
            if let Err(e) = r {
                tracing::debug!(remote = %tx.remote, error = %e, "IKE send failed");
            }
        }
        while let Some(ev) = self.endpoint.poll_event() {
            self.apply(now, ev);
        }
    }

    fn apply(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::IkeSaEstablished {
                peer,
                spi_i,
                spi_r,
                suite,
                local,
                remote,
                nat_local,
                nat_remote,
            } => {
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::info!(
                    tunnel = %t.conn.name, spi_i = %format!("{spi_i:016x}"), spi_r = %format!("{spi_r:016x}"),
                    %suite, %local, %remote, nat_local, nat_remote, "IKE SA established"
                );
                t.ike = Some(IkeInfo {
                    spi_i,
                    spi_r,
                    suite,
                    local,
                    remote,
                    nat_local,
                    nat_remote,
                    established_at: now,
                });
                t.last_error = None;
                t.peer_proposals = None;
                t.retry_delay = RETRY_MIN;
                t.last_keepalive = now;
            }
            Event::ChildSaEstablished(child) => {
                let inbound = self.inbound.clone();
                let Some(t) = self.tunnel_of(child.peer) else {
                    return;
                };
                match install_child(t, &child, &inbound, now) {
                    Ok(()) => tracing::info!(
                        tunnel = %t.conn.name, spi_in = %format!("{:08x}", child.inbound_spi),
                        spi_out = %format!("{:08x}", child.outbound_spi), suite = %child.suite,
                        udp_encap = child.udp_encap, "CHILD SA installed"
                    ),
                    Err(e) => {
                        tracing::error!(tunnel = %t.conn.name, error = %e, "cannot install CHILD SA");
                        t.last_error = Some(e);
                    }
                }
            }
            Event::ChildSaDeleted {
                peer,
                inbound_spi,
                outbound_spi,
            } => {
                let inbound = self.inbound.clone();
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::info!(tunnel = %t.conn.name, spi_in = %format!("{inbound_spi:08x}"), spi_out = %format!("{outbound_spi:08x}"), "CHILD SA deleted");
                remove_child(t, &inbound, inbound_spi);
            }
            Event::IkeSaDeleted { peer, reason, .. } => {
                let inbound = self.inbound.clone();
                let shutting_down = self.shutting_down;
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::info!(tunnel = %t.conn.name, ?reason, "IKE SA deleted");
                let spis: Vec<u32> = t.children.iter().map(|c| c.inbound_spi).collect();
                for spi in spis {
                    remove_child(t, &inbound, spi);
                }
                t.ike = None;
                if !shutting_down && t.wants_up() {
                    t.retry_at = Some(now + t.retry_delay);
                }
            }
            Event::Failed { peer, error } => {
                let shutting_down = self.shutting_down;
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::warn!(tunnel = %t.conn.name, error = %error, "tunnel setup failed");
                if let FailureReason::NoProposalChosen {
                    theirs: Some(p), ..
                }
                | FailureReason::ChildNoProposalChosen {
                    theirs: Some(p), ..
                } = &error
                {
                    t.peer_proposals = Some(p.clone());
                }
                t.last_error = Some(error.to_string());
                if !shutting_down && t.wants_up() && t.ike.is_none() {
                    t.retry_at = Some(now + t.retry_delay);
                    t.retry_delay = (t.retry_delay * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Answer one control-socket request.
    pub fn control(&mut self, now: Instant, req: Request) -> Response {
        match req {
            Request::Status => Response::Status(status::snapshot(self, now)),
            Request::Initiate { name } => {
                match self.tunnels.iter().position(|t| t.conn.name == name) {
                    Some(i) => {
                        self.tunnels[i].held_down = false;
                        self.initiate_index(now, i);
                        Response::Ok {
                            message: format!("initiating {name}"),
                        }
                    }
                    None => unknown(&name, self),
                }
            }
            Request::Terminate { name } => {
                match self.tunnels.iter().position(|t| t.conn.name == name) {
                    Some(i) => {
                        let t = &mut self.tunnels[i];
                        t.held_down = true;
                        t.retry_at = None;
                        self.endpoint.terminate(now, t.peer);
                        Response::Ok {
                            message: format!("terminating {name}"),
                        }
                    }
                    None => unknown(&name, self),
                }
            }
            Request::Reload => Response::Error {
                message: "reload is not implemented yet: restart the daemon to apply a new config"
                    .into(),
            },
        }
    }

    /// Orderly shutdown: DELETE every IKE SA (RFC 7296 1.4.1).
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        for t in &self.tunnels {
            self.endpoint.terminate(now, t.peer);
        }
    }

    /// True while a DELETE is still unanswered.
    pub fn any_ike_up(&self) -> bool {
        self.tunnels.iter().any(|t| t.ike.is_some())
    }
}

fn unknown(name: &str, cp: &ControlPlane) -> Response {
    let names: Vec<&str> = cp.tunnels.iter().map(|t| t.conn.name.as_str()).collect();
    Response::Error {
        message: format!(
            "no connection named `{name}` (configured: {})",
            names.join(", ")
        ),
    }
}

fn ranges(ts: &[ikev2::wire::TrafficSelector]) -> Vec<AddrRange> {
    ts.iter()
        .map(|t| AddrRange {
            start: t.start,
            end: t.end,
        })
        .collect()
}

fn ts_strings(ts: &[ikev2::wire::TrafficSelector]) -> Vec<String> {
    ts.iter().map(status::selector_string).collect()
}

/// Install a new CHILD_SA: inbound first, then switch outbound (make-before-break).
fn install_child(
    t: &mut Tunnel,
    c: &ChildSa,
    table: &InboundTable,
    now: Instant,
) -> Result<(), String> {
    if !c.udp_encap {
        return Err(
            "the peer negotiated raw ESP (no NAT detected): ipsecgw sends ESP in UDP only; set `encap = true` on the connection"
                .into(),
        );
    }
    let suite =
        esp::Suite::from_transforms(c.suite.encr.0, c.suite.key_bits, c.suite.integ.map(|i| i.0))
            .map_err(|e| format!("ESP suite {}: {e}", c.suite))?;
    let child_cfg = t.conn.children.first();
    let mut cfg = esp::SaConfig::new(c.inbound_spi, suite);
    cfg.esn = c.suite.esn;
    if let Some(cc) = child_cfg {
        cfg.replay_window = cc.replay_window;
        cfg.lifetime = esp::Lifetime {
            soft_bytes: cc.lifetime.life_bytes.map(|b| b / 10 * 9),
            hard_bytes: cc.lifetime.life_bytes,
            soft_packets: cc.lifetime.life_packets.map(|p| p / 10 * 9),
            hard_packets: cc.lifetime.life_packets,
        };
    }
    let inbound = esp::InboundSa::new(&cfg, c.inbound_keys.as_bytes())
        .map_err(|e| format!("inbound SA: {e}"))?;
    let mut out_cfg = cfg;
    out_cfg.spi = c.outbound_spi;
    let outbound = esp::OutboundSa::new(&out_cfg, c.outbound_keys.as_bytes())
        .map_err(|e| format!("outbound SA: {e}"))?;
    table.insert(InboundPath {
        sa: inbound,
        tunnel: t.path.index,
        remote_ts: ranges(&c.remote_ts),
        local_ts: ranges(&c.local_ts),
        installed_at: now,
    });
    let old = t.path.outbound.swap(Some(Arc::new(OutboundPath {
        sa: outbound,
        remote: c.remote,
        installed_at: now,
    })));
    if let Some(old) = old {
        let s = old.sa.stats();
        t.path
            .retired_out
            .0
            .fetch_add(s.bytes, std::sync::atomic::Ordering::Relaxed);
        t.path
            .retired_out
            .1
            .fetch_add(s.packets, std::sync::atomic::Ordering::Relaxed);
    }
    t.children.push(InstalledChild {
        inbound_spi: c.inbound_spi,
        outbound_spi: c.outbound_spi,
        suite: c.suite,
        udp_encap: c.udp_encap,
        installed_at: now,
        local_ts: ts_strings(&c.local_ts),
        remote_ts: ts_strings(&c.remote_ts),
    });
    Ok(())
}

fn remove_child(t: &mut Tunnel, table: &InboundTable, inbound_spi: u32) {
    let Some(pos) = t.children.iter().position(|c| c.inbound_spi == inbound_spi) else {
        return;
    };
    let child = t.children.remove(pos);
    if let Some(old) = table.remove(inbound_spi) {
        let s = old.sa.stats();
        t.path
            .retired_in
            .0
            .fetch_add(s.bytes, std::sync::atomic::Ordering::Relaxed);
        t.path
            .retired_in
            .1
            .fetch_add(s.packets, std::sync::atomic::Ordering::Relaxed);
    }
    let current = t.path.outbound.load();
    if current
        .as_ref()
        .is_some_and(|o| o.sa.spi() == child.outbound_spi)
    {
        if let Some(old) = t.path.outbound.swap(None) {
            let s = old.sa.stats();
            t.path
                .retired_out
                .0
                .fetch_add(s.bytes, std::sync::atomic::Ordering::Relaxed);
            t.path
                .retired_out
                .1
                .fetch_add(s.packets, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Channel capacity for IKE datagrams waiting for the control plane.
pub const IKE_QUEUE: usize = 1024;

pub fn ike_channel() -> (mpsc::Sender<IkeDatagram>, mpsc::Receiver<IkeDatagram>) {
    mpsc::channel(IKE_QUEUE)
}

/// Per-tunnel drop counters by reason, ESP layer and gateway combined.
pub fn drops_of(t: &Tunnel, table: &InboundTable) -> HashMap<String, u64> {
    let mut m: HashMap<String, u64> = HashMap::new();
    for (k, v) in t.path.drops.snapshot() {
        *m.entry(k.to_string()).or_default() += v;
    }
    for c in &t.children {
        if let Some(p) = table.get(c.inbound_spi) {
            let s = p.sa.stats();
            for (k, v) in [
                ("truncated", s.truncated),
                ("bad_length", s.bad_length),
                ("too_old", s.too_old),
                ("replayed", s.replayed),
                ("bad_icv", s.bad_icv),
                ("bad_padding", s.bad_padding),
                ("bad_next_header", s.bad_next_header),
                ("expired", s.expired),
            ] {
                *m.entry(k.to_string()).or_default() += v;
            }
        }
    }
    m
}
