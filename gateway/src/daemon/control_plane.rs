//! The control plane: one tokio task that owns the IKEv2 endpoint, feeds it datagrams and
//! timeouts, sends what it produces, and turns its events into fast-path SA changes.

use super::datapath::{GatewayDrops, InboundTable, TunnelMap, TunnelPath};
use super::fast_path::IkeDatagram;
use super::ike_outbox::{self, socket_sender, IkeOutbox, Outgoing};
use super::peer_config::{IKE_PORT, NAT_T_PORT};
use super::sa_install::{ChildTable, EspSettings};
use super::status;
use crate::config::Config;
use crate::config::DpdAction;
use crate::config::{Connection, StartAction};
use crate::control::protocol::{Request, Response};
use crate::io::routes::RouteHandle;
use crate::io::Waker;
use crate::io::{Tun, UdpBatchSocket};
use crate::platform::aead_backend::AeadChoice;
use crate::platform::realtime::WorkerSched;
use ikev2::proposal::IkeSuite;
use ikev2::{DeleteReason, Endpoint, Event, FailureReason, PeerId};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// NAT-T keepalive interval (RFC 3948 4: 20 s is customary).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// Dropped packets are counted per reason (status, metrics) and summarised in the log at most
/// once per this interval per tunnel: a flood of garbage ESP costs a few lines, not one per
/// packet.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// First and largest delay before initiating again after a failure.
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The sockets for local address `ip`: those bound to it, else the wildcard ones.
pub fn sockets_for(sockets: &[LocalSockets], ip: IpAddr) -> Option<&LocalSockets> {
    sockets
        .iter()
        .find(|s| s.ip == ip)
        .or_else(|| sockets.iter().find(|s| s.ip.is_unspecified()))
}

/// The sockets bound on one local address.
pub struct LocalSockets {
    pub ip: IpAddr,
    pub ike: Arc<tokio::net::UdpSocket>,
    pub nat_t: Arc<UdpBatchSocket>,
    /// Shared by the latency-queue senders on `nat_t` and its inbound worker.
    pub reply: Arc<crate::io::ReplyWatch>,
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
    /// Queue 0 of the TUN device (its name, index and offloads).
    pub tun: Arc<Tun>,
    /// The outbound worker threads, one per TUN queue (they hold the TUN open until they
    /// exit).
    pub workers: Vec<std::thread::JoinHandle<()>>,
    pub local_ip: IpAddr,
    /// The tunnel's CHILD_SAs in the fast path (by SPI).
    pub sas: ChildTable,
    pub ike: Option<IkeInfo>,
    pub ike_rekeys: u64,
    pub dpd_failures: u64,
    /// IKE requests we had to send again (RFC 7296 2.1): loss on the path to the peer.
    pub ike_retransmits: u64,
    /// Inbound packets seen at the last liveness note (DPD: traffic is proof of life).
    pub last_inbound_packets: u64,
    pub last_error: Option<String>,
    pub peer_proposals: Option<String>,
    /// Set by `ipsecgw terminate`: stay down until `initiate`.
    pub held_down: bool,
    pub retry_at: Option<Instant>,
    pub retry_delay: Duration,
    pub last_keepalive: Instant,
    /// Whether the tunnel's own (non-HA) routes should be in the routing table, and whether
    /// they are: `dpd_action = "clear"` takes them away until a CHILD SA is back.
    pub routes_wanted: bool,
    pub routes_installed: bool,
    /// Drop counters as of the last drop summary in the log (rate-limited, see
    /// [`DROP_LOG_INTERVAL`]).
    pub drops_logged: HashMap<String, u64>,
    pub drops_logged_at: Instant,
}

impl Tunnel {
    /// ESP settings of child `name` (the first child's when unknown).
    pub fn esp_settings(&self, name: &str, gcm_backend: esp::GcmBackend) -> EspSettings {
        let child = self
            .conn
            .children
            .iter()
            .find(|c| c.name == name)
            .or(self.conn.children.first());
        EspSettings {
            replay_window: child.map_or(esp::DEFAULT_REPLAY_WINDOW, |c| c.replay_window),
            life_bytes: child.and_then(|c| c.lifetime.life_bytes),
            life_packets: child.and_then(|c| c.lifetime.life_packets),
            gcm_backend,
        }
    }

    /// Inbound packets on all of the tunnel's current SAs.
    fn inbound_packets(&self, table: &InboundTable) -> u64 {
        self.sas
            .children
            .iter()
            .filter_map(|c| table.get(c.inbound_spi))
            .map(|p| p.sa.stats().packets)
            .sum()
    }

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
    /// The fast-path workers' scheduling (`[daemon] realtime_priority`).
    pub sched: Arc<WorkerSched>,
    /// The AES-GCM implementation of the ESP SAs (`[daemon] aead_backend`).
    pub aead: AeadChoice,
    pub routes: RouteHandle,
    pub waker: Arc<Waker>,
    pub ike_tx: mpsc::Sender<IkeDatagram>,
    pub config: Config,
    pub config_path: PathBuf,
    pub started: Instant,
    pub fast_path_mode: String,
    pub shutting_down: bool,
    /// Routes of HA groups as installed, and whether tunnel states changed since.
    pub ha_installed: Vec<super::ha::DesiredRoute>,
    pub ha_dirty: bool,
    /// IKE datagrams waiting for room in a full socket send buffer.
    pub outbox: IkeOutbox,
    /// A tunnel's own routes must be removed or put back (`dpd_action = "clear"`).
    pub routes_dirty: bool,
    pub multipath: Option<crate::io::multipath::MultipathRoutes>,
}

impl ControlPlane {
    /// Re-computes the routes of HA groups from the tunnels' states and applies the changes
    /// (active-active: a multipath route over every up tunnel; active-standby: the preferred up
    /// tunnel). Called after events that bring a tunnel up or down.
    pub async fn reconcile_ha(&mut self) {
        use super::ha::{desired_routes, plan, HaMode, HaTunnel, RouteChange};
        use crate::io::multipath::DevNexthop;
        self.ha_dirty = false;
        let grouped: Vec<HaTunnel> = self
            .tunnels
            .iter()
            .filter(|t| t.conn.ha_group.is_some())
            .map(|t| HaTunnel {
                name: t.conn.name.clone(),
                group: t.conn.ha_group.clone(),
                priority: t.conn.ha_priority,
                weight: 1,
                up: t.ike.is_some() && !t.sas.children.is_empty(),
                ifindex: t.tun.ifindex(),
                prefixes: t
                    .conn
                    .children
                    .iter()
                    .flat_map(|c| &c.remote_ts)
                    .filter_map(|p| crate::io::routes::IpPrefix::new(p.addr, p.len).ok())
                    .collect(),
            })
            .collect();
        if grouped.is_empty() && self.ha_installed.is_empty() {
            return;
        }
        let modes: HashMap<String, HaMode> = self
            .tunnels
            .iter()
            .filter_map(|t| t.conn.ha_group.clone().map(|g| (g, t.conn.ha_mode)))
            .collect();
        let desired = desired_routes(&grouped, |g| modes.get(g).copied().unwrap_or_default());
        if self.multipath.is_none() {
            self.multipath = crate::io::multipath::MultipathRoutes::connect().ok();
        }
        let Some(mp) = &self.multipath else { return };
        for change in plan(&self.ha_installed, &desired) {
            let r = match &change {
                RouteChange::Set(route) => {
                    let hops: Vec<DevNexthop> = route
                        .nexthops
                        .iter()
                        .map(|h| DevNexthop {
                            ifindex: h.ifindex,
                            weight: h.weight,
                        })
                        .collect();
                    tracing::info!(prefix = %route.prefix, nexthops = hops.len(), held = route.held, "HA route");
                    mp.replace(&route.prefix, &hops).await
                }
                RouteChange::Remove(prefix) => mp.remove(prefix).await,
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, ?change, "cannot apply HA route");
                self.ha_dirty = true;
            }
        }
        self.ha_installed = desired;
    }

    fn tunnel_of(&mut self, peer: PeerId) -> Option<&mut Tunnel> {
        self.tunnels.iter_mut().find(|t| t.peer == peer)
    }

    fn sockets_for(&self, ip: IpAddr) -> Option<&LocalSockets> {
        sockets_for(&self.sockets, ip)
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
        self.data_plane_tick(now);
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
            if let Some(at) = t.sas.next_expiry() {
                next = next.min(at);
            }
        }
        if let Some(at) = self.outbox.next_retry(now) {
            next = next.min(at);
        }
        next.max(now)
    }

    /// Once a second or so: old inbound SAs past their grace period go; ESP soft limits
    /// (bytes, packets, sequence numbers) ask the endpoint to rekey; inbound traffic is
    /// reported as proof of life so DPD only probes idle tunnels (RFC 7296 2.4).
    fn data_plane_tick(&mut self, now: Instant) {
        for t in &mut self.tunnels {
            t.sas.expire(&t.path, &self.inbound, now);
            let packets = t.inbound_packets(&self.inbound);
            if packets != t.last_inbound_packets {
                t.last_inbound_packets = packets;
                self.endpoint.note_inbound_traffic(t.peer, now);
            }
            let wanted: Vec<u32> =
                t.sas
                    .children
                    .iter()
                    .filter(|c| !c.rekey_asked)
                    .filter(|c| {
                        let inbound = self
                            .inbound
                            .get(c.inbound_spi)
                            .is_some_and(|p| p.sa.rekey_requested());
                        let outbound = t.sas.outbound_of(&c.name).is_some_and(|o| {
                            o.sa.spi() == c.outbound_spi && o.sa.rekey_requested()
                        });
                        inbound || outbound
                    })
                    .map(|c| c.inbound_spi)
                    .collect();
            for c in &mut t.sas.children {
                if wanted.contains(&c.inbound_spi) {
                    c.rekey_asked = true;
                }
            }
            for spi in wanted {
                tracing::info!(tunnel = %t.conn.name, spi_in = %format!("{spi:08x}"), "ESP soft limit reached: rekeying the CHILD SA");
                self.endpoint.rekey_child_sa(now, t.peer, spi);
            }
            if now.saturating_duration_since(t.drops_logged_at) >= DROP_LOG_INTERVAL {
                t.drops_logged_at = now;
                let current = drops_of(t, &self.inbound);
                if let Some(summary) = drop_summary(&t.drops_logged, &current) {
                    tracing::warn!(
                        tunnel = %t.conn.name,
                        "dropped in the last {}s: {summary} (totals: ipsecgw status)",
                        DROP_LOG_INTERVAL.as_secs()
                    );
                }
                t.drops_logged = current;
            }
        }
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
        let mut dropped = self.outbox.retry(now, socket_sender(&self.sockets));
        while let Some(tx) = self.endpoint.poll_transmit() {
            if self.sockets_for(tx.local.ip()).is_none() {
                tracing::warn!(local = %tx.local, "no socket for IKE transmit");
                continue;
            }
            let m = Outgoing {
                local: tx.local,
                remote: tx.remote,
                bytes: ike_outbox::frame(tx.local.port(), &tx.payload),
            };
            dropped.extend(self.outbox.send(now, m, socket_sender(&self.sockets)));
        }
        for remote in dropped {
            if let Some(t) = self
                .tunnels
                .iter()
                .find(|t| t.ike.as_ref().is_some_and(|i| i.remote.ip() == remote.ip()))
            {
                t.path.drops.ike_send_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        while let Some(ev) = self.endpoint.poll_event() {
            self.apply(now, ev);
        }
    }

    fn apply(&mut self, now: Instant, ev: Event) {
        if matches!(
            ev,
            Event::ChildSaEstablished(_)
                | Event::ChildSaDeleted { .. }
                | Event::IkeSaDeleted { .. }
        ) {
            self.ha_dirty = true;
        }
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
                let gcm = self.aead.backend;
                let Some(t) = self.tunnel_of(child.peer) else {
                    return;
                };
                let esp_cfg = t.esp_settings(&child.child, gcm);
                let routes_back = !t.routes_wanted;
                t.routes_wanted = true;
                match t.sas.established(&t.path, &inbound, &child, &esp_cfg, now) {
                    Ok(()) => tracing::info!(
                        tunnel = %t.conn.name, child = %child.child, spi_in = %format!("{:08x}", child.inbound_spi),
                        spi_out = %format!("{:08x}", child.outbound_spi), suite = %child.suite,
                        udp_encap = child.udp_encap, "CHILD SA installed"
                    ),
                    Err(e) => {
                        tracing::error!(tunnel = %t.conn.name, error = %e, "cannot install CHILD SA");
                        t.last_error = Some(e);
                    }
                }
                if routes_back {
                    self.routes_dirty = true;
                }
            }
            Event::ChildSaRekeyed {
                peer,
                child,
                old_inbound_spi,
                old_outbound_spi,
                new,
                outbound_now,
            } => {
                let inbound = self.inbound.clone();
                let gcm = self.aead.backend;
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                let esp_cfg = t.esp_settings(&child, gcm);
                match t
                    .sas
                    .rekeyed(&t.path, &inbound, &new, outbound_now, &esp_cfg, now)
                {
                    Ok(()) => tracing::info!(
                        tunnel = %t.conn.name, %child,
                        old_spi_in = %format!("{old_inbound_spi:08x}"), old_spi_out = %format!("{old_outbound_spi:08x}"),
                        spi_in = %format!("{:08x}", new.inbound_spi), spi_out = %format!("{:08x}", new.outbound_spi),
                        suite = %new.suite, outbound_now, "CHILD SA rekeyed"
                    ),
                    Err(e) => {
                        tracing::error!(tunnel = %t.conn.name, error = %e, "cannot install rekeyed CHILD SA");
                        t.last_error = Some(e);
                    }
                }
            }
            Event::ChildSaOutboundReady {
                peer,
                inbound_spi,
                outbound_spi,
            } => {
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::debug!(tunnel = %t.conn.name, spi_in = %format!("{inbound_spi:08x}"), spi_out = %format!("{outbound_spi:08x}"), "outbound switched to the new CHILD SA");
                t.sas.outbound_ready(&t.path, inbound_spi);
            }
            Event::ChildSaDeleted {
                peer,
                inbound_spi,
                outbound_spi,
            } => {
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::info!(tunnel = %t.conn.name, spi_in = %format!("{inbound_spi:08x}"), spi_out = %format!("{outbound_spi:08x}"), "CHILD SA deleted");
                let grace = t.conn.rekey_grace;
                t.sas
                    .deleted(&t.path, inbound_spi, outbound_spi, grace, now);
            }
            Event::IkeSaRekeyed {
                peer,
                new_spi_i,
                new_spi_r,
                suite,
                ..
            } => {
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                tracing::info!(tunnel = %t.conn.name, spi_i = %format!("{new_spi_i:016x}"), spi_r = %format!("{new_spi_r:016x}"), %suite, "IKE SA rekeyed");
                t.ike_rekeys += 1;
                if let Some(ike) = &mut t.ike {
                    ike.spi_i = new_spi_i;
                    ike.spi_r = new_spi_r;
                    ike.suite = suite;
                    ike.established_at = now;
                }
            }
            Event::IkeSaDeleted {
                peer,
                spi_i,
                spi_r,
                reason,
            } => {
                let inbound = self.inbound.clone();
                let shutting_down = self.shutting_down;
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                if reason == DeleteReason::Duplicate {
                    // A redundant IKE SA from simultaneous initiation (RFC 7296 2.8.1's
                    // spirit for IKE_SA_INIT): the other one and its CHILD_SAs stay (the
                    // endpoint reported the children it removed). The endpoint keeps the SA
                    // with the highest SPIs, which need not be the one established last, so
                    // when the one we recorded goes, record the survivor instead.
                    tracing::info!(tunnel = %t.conn.name, spi_i = %format!("{spi_i:016x}"), "duplicate IKE SA deleted");
                    if t.ike
                        .as_ref()
                        .is_some_and(|i| i.spi_i == spi_i && i.spi_r == spi_r)
                    {
                        let survivor = self
                            .endpoint
                            .status()
                            .into_iter()
                            .find(|p| p.peer == peer)
                            .and_then(|p| surviving_ike(&p, now));
                        let Some(t) = self.tunnel_of(peer) else {
                            return;
                        };
                        if let Some(s) = &survivor {
                            tracing::info!(tunnel = %t.conn.name, spi_i = %format!("{:016x}", s.spi_i), spi_r = %format!("{:016x}", s.spi_r), "the surviving IKE SA carries the tunnel");
                        }
                        t.ike = survivor;
                    }
                    return;
                }
                tracing::info!(tunnel = %t.conn.name, ?reason, "IKE SA deleted");
                t.sas.clear(&t.path, &inbound);
                t.ike = None;
                if reason == DeleteReason::DeadPeer {
                    t.dpd_failures += 1;
                    t.last_error = Some(format!(
                        "peer dead: no answer to liveness checks within dpd_timeout {}s",
                        t.conn.dpd_timeout.as_secs()
                    ));
                    tracing::warn!(tunnel = %t.conn.name, action = ?t.conn.dpd_action, "dead peer detected");
                    // The SAs are gone either way (the endpoint deleted the IKE SA): status
                    // shows the tunnel down. The actions differ in what happens next, as AWS's
                    // DPD timeout actions do.
                    match t.conn.dpd_action {
                        DpdAction::Restart => {
                            if !shutting_down
                                && !t.held_down
                                && t.conn.mode != crate::config::Mode::Responder
                            {
                                t.retry_at = Some(now + t.retry_delay);
                            }
                        }
                        DpdAction::Clear => {
                            // Stop the tunnel and clear its routes; they return with the next
                            // CHILD SA (the peer initiates, or `ipsecgw initiate`).
                            if let Some(e) = &mut t.last_error {
                                e.push_str("; routes cleared (dpd_action = clear)");
                            }
                            if t.conn.ha_group.is_none() {
                                t.routes_wanted = false;
                                self.routes_dirty = true;
                            }
                        }
                        // Take no action: config and routes stay, nothing is re-initiated.
                        DpdAction::None => {}
                    }
                    return;
                }
                if !shutting_down && t.wants_up() {
                    t.retry_at = Some(now + t.retry_delay);
                }
            }
            Event::Retransmitted {
                peer,
                message_id,
                request,
                retransmit,
            } => {
                let Some(t) = self.tunnel_of(peer) else {
                    return;
                };
                t.ike_retransmits += 1;
                // strongSwan logs the same at its default level: loss towards the peer is
                // worth knowing before DPD gives up on it.
                tracing::info!(
                    tunnel = %t.conn.name,
                    message_id,
                    "retransmit {retransmit} of {request} request"
                );
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
                let mut msg = error.to_string();
                if let FailureReason::ChildNoProposalChosen {
                    ours,
                    theirs: Some(theirs),
                } = &error
                {
                    if let Some(hint) = pfs_hint(ours, theirs) {
                        tracing::warn!(tunnel = %t.conn.name, "{hint}");
                        msg = format!("{msg}; {hint}");
                    }
                }
                t.last_error = Some(msg);
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

/// The IKE SA the endpoint reports for a peer, if it is established (after a duplicate was
/// deleted, the survivor).
pub fn surviving_ike(p: &ikev2::PeerStatus, now: Instant) -> Option<IkeInfo> {
    if p.phase != ikev2::SaPhase::Established {
        return None;
    }
    Some(IkeInfo {
        spi_i: p.spi_i?,
        spi_r: p.spi_r?,
        suite: p.ike_suite?,
        local: p.local?,
        remote: p.remote?,
        nat_local: p.nat_local,
        nat_remote: p.nat_remote,
        established_at: p.established_at.unwrap_or(now),
    })
}

/// When two ESP proposal lists differ only in their key exchange, say so: a PFS mismatch
/// passes IKE_AUTH (no key exchange there) and first fails at the CHILD_SA rekey.
fn pfs_hint(ours: &str, theirs: &str) -> Option<String> {
    const GROUPS: [&str; 7] = [
        "MODP_1024",
        "MODP_2048_256",
        "MODP_2048",
        "ECP_256",
        "ECP_384",
        "CURVE_25519",
        "CURVE25519",
    ];
    let group_in = |s: &str| GROUPS.iter().find(|g| s.contains(*g)).copied();
    match (group_in(ours), group_in(theirs)) {
        (None, Some(g)) => Some(format!(
            "PFS mismatch: the peer requires PFS with {g} and we offer none; add the group to esp_proposals (e.g. aes256gcm16-{})",
            g.to_lowercase().replace('_', "")
        )),
        (Some(g), None) => Some(format!(
            "PFS mismatch: we require PFS with {g} and the peer offers none; remove the group from esp_proposals or enable PFS on the peer"
        )),
        (Some(a), Some(b)) if a != b => Some(format!("PFS mismatch: we use {a}, the peer {b}; use the same PFS group on both sides")),
        _ => None,
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

/// Channel capacity for IKE datagrams waiting for the control plane.
pub const IKE_QUEUE: usize = 1024;

pub fn ike_channel() -> (mpsc::Sender<IkeDatagram>, mpsc::Receiver<IkeDatagram>) {
    mpsc::channel(IKE_QUEUE)
}

/// Per-tunnel drop counters by reason, ESP layer and gateway combined.
/// "reason N, reason M" for the counters that grew since `before` (per-SA counters restart
/// with a new SA, so a smaller value counts from zero); None if nothing was dropped.
pub fn drop_summary(before: &HashMap<String, u64>, now: &HashMap<String, u64>) -> Option<String> {
    let mut grown: Vec<(&str, u64)> = now
        .iter()
        .map(|(k, &v)| {
            let was = before.get(k).copied().unwrap_or(0);
            (k.as_str(), if v >= was { v - was } else { v })
        })
        .filter(|&(_, d)| d > 0)
        .collect();
    if grown.is_empty() {
        return None;
    }
    grown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Some(
        grown
            .iter()
            .map(|(k, d)| format!("{k} {d}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

pub fn drops_of(t: &Tunnel, table: &InboundTable) -> HashMap<String, u64> {
    let mut m: HashMap<String, u64> = HashMap::new();
    for (k, v) in t.path.drops.snapshot() {
        *m.entry(k.to_string()).or_default() += v;
    }
    for c in &t.sas.children {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_summary_lists_what_grew_largest_first() {
        let m = |v: &[(&str, u64)]| -> HashMap<String, u64> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        let before = m(&[("bad_icv", 10), ("replayed", 5), ("unknown_spi", 7)]);
        assert_eq!(drop_summary(&before, &before), None);
        assert_eq!(drop_summary(&m(&[]), &m(&[("too_big", 0)])), None);
        // bad_icv grew by 90; replayed restarted with a new SA (now 3 < 5: 3 new); unknown_spi
        // did not move; too_big is new.
        let now = m(&[
            ("bad_icv", 100),
            ("replayed", 3),
            ("unknown_spi", 7),
            ("too_big", 3),
        ]);
        assert_eq!(
            drop_summary(&before, &now).as_deref(),
            Some("bad_icv 90, replayed 3, too_big 3")
        );
    }
    use ikev2::wire::{DhGroup, EncrId, IntegId, PrfId};
    use ikev2::{PeerStatus, SaPhase};

    fn peer_status(phase: SaPhase) -> PeerStatus {
        PeerStatus {
            peer: PeerId(7),
            name: "azure".into(),
            phase,
            spi_i: Some(0x1111),
            spi_r: Some(0x2222),
            initiator: Some(false),
            ike_suite: Some(IkeSuite {
                encr: EncrId::AES_CBC,
                key_bits: Some(256),
                prf: PrfId::HMAC_SHA1,
                integ: Some(IntegId::HMAC_SHA1_96),
                dh: DhGroup::MODP1024,
            }),
            children: Vec::new(),
            local: Some("172.31.5.10:4500".parse().unwrap()),
            remote: Some("203.0.113.20:4500".parse().unwrap()),
            nat_local: true,
            nat_remote: false,
            established_at: None,
            last_error: None,
            rekey_at: None,
            expire_at: None,
        }
    }

    /// After simultaneous IKE_SA_INIT the endpoint keeps the SA with the highest SPIs; when the
    /// gateway's recorded SA is the one deleted, it records the survivor the endpoint reports.
    #[test]
    fn the_survivor_of_a_duplicate_is_recorded() {
        let now = Instant::now();
        let s = surviving_ike(&peer_status(SaPhase::Established), now).expect("established");
        assert_eq!((s.spi_i, s.spi_r), (0x1111, 0x2222));
        assert!(s.nat_local && !s.nat_remote);
        assert_eq!(s.remote, "203.0.113.20:4500".parse().unwrap());
        assert_eq!(s.established_at, now);
        for phase in [
            SaPhase::Deleting,
            SaPhase::Connecting,
            SaPhase::Authenticating,
            SaPhase::Closed,
            SaPhase::Idle,
        ] {
            assert!(
                surviving_ike(&peer_status(phase), now).is_none(),
                "{phase:?}"
            );
        }
        let mut no_spi = peer_status(SaPhase::Established);
        no_spi.spi_r = None;
        assert!(surviving_ike(&no_spi, now).is_none());
    }
}
