//! The running daemon: a tokio control plane driving `ikev2::Endpoint` (see
//! [`control_plane`]), fast-path threads driving `esp` SAs ([`fast_path`]), TUN devices, UDP
//! sockets on 500/4500 and routes.

pub mod control_plane;
pub mod datapath;
pub mod fast_path;
pub mod peer_config;
pub mod signals;
pub mod status;

use crate::config::Config;
use crate::control::protocol::Response;
use crate::io::routes::{IpPrefix, RouteHandle};
use crate::io::{Tun, TunConfig, UdpBatchSocket, Waker};
use control_plane::{ControlMsg, ControlPlane, LocalSockets, Tunnel};
use datapath::{GatewayDrops, InboundTable, TunnelPath};
use fast_path::{IkeDatagram, InboundCtx};
use ikev2::crypto::OsRandom;
use ikev2::Endpoint;
use peer_config::{IKE_PORT, NAT_T_PORT};
use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long an orderly shutdown waits for the peers to answer our DELETEs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Runs the daemon until SIGINT/SIGTERM.
pub fn run(config: Config, config_path: PathBuf) -> Result<(), Box<dyn Error>> {
    signals::unblock_control_signals();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(config, config_path))
}

fn local_ip_of(conn: &crate::config::Connection) -> IpAddr {
    conn.local_addrs
        .first()
        .copied()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn warn_if_not_forwarding() {
    match std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward") {
        Ok(s) if s.trim() == "1" => {}
        Ok(_) => tracing::warn!(
            "net.ipv4.ip_forward is 0: this host will not route traffic between the VPC and the tunnel (sysctl -w net.ipv4.ip_forward=1)"
        ),
        Err(_) => {}
    }
}

async fn bind_sockets(ip: IpAddr) -> Result<LocalSockets, Box<dyn Error>> {
    let ike = tokio::net::UdpSocket::bind(SocketAddr::new(ip, IKE_PORT))
        .await
        .map_err(|e| format!("cannot bind UDP {ip}:{IKE_PORT}: {e}"))?;
    let nat_t = UdpBatchSocket::bind(SocketAddr::new(ip, NAT_T_PORT))
        .map_err(|e| format!("cannot bind UDP {ip}:{NAT_T_PORT}: {e}"))?;
    Ok(LocalSockets {
        ip,
        ike: Arc::new(ike),
        nat_t: Arc::new(nat_t),
    })
}

async fn run_async(config: Config, _config_path: PathBuf) -> Result<(), Box<dyn Error>> {
    warn_if_not_forwarding();
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // Sockets: one pair per distinct local address.
    let mut sockets: Vec<LocalSockets> = Vec::new();
    for conn in &config.connections {
        let ip = local_ip_of(conn);
        if !sockets.iter().any(|s| s.ip == ip) {
            sockets.push(bind_sockets(ip).await?);
        }
    }
    // Tunnels: TUN device, routes, fast-path state, endpoint peer.
    let routes = RouteHandle::connect()?;
    let mut endpoint = Endpoint::new(Box::new(OsRandom::new()));
    let mut tunnels = Vec::new();
    for (index, conn) in config.connections.iter().enumerate() {
        let mut tc = TunConfig::new(conn.tun_name.clone(), conn.mtu);
        tc.offload = true;
        tc.txqueuelen = Some(1000);
        let tun = Tun::open(&tc).map_err(|e| {
            format!(
                "connection {}: cannot open TUN {}: {e}",
                conn.name, conn.tun_name
            )
        })?;
        let ifindex = tun.ifindex();
        routes.set_link_up(ifindex).await?;
        let prefixes: Vec<IpPrefix> = conn
            .children
            .iter()
            .flat_map(|c| c.remote_ts.iter())
            .filter_map(|p| IpPrefix::new(p.addr, p.len).ok())
            .collect();
        routes.add_routes(ifindex, &prefixes).await.map_err(|e| {
            format!(
                "connection {}: cannot add routes via {}: {e}",
                conn.name, conn.tun_name
            )
        })?;
        let local_ip = local_ip_of(conn);
        let mut path = TunnelPath::new(conn.name.clone(), index, conn.mtu);
        path.mss_v4 = conn.mss_ipv4();
        path.mss_v6 = conn.mss_ipv6();
        if local_ip.is_ipv4() && !local_ip.is_unspecified() {
            path.icmp_source_v4 = Some(local_ip);
        }
        if local_ip.is_ipv6() && !local_ip.is_unspecified() {
            path.icmp_source_v6 = Some(local_ip);
        }
        let peer = endpoint.add_peer(peer_config::peer_config(conn)?);
        tracing::info!(
            tunnel = %conn.name, tun = %conn.tun_name, mtu = conn.mtu, offload = ?tun.offload(),
            routes = ?prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(), "tunnel device ready"
        );
        tunnels.push(Tunnel {
            conn: conn.clone(),
            peer,
            path: Arc::new(path),
            tun: Arc::new(tun),
            local_ip,
            children: Vec::new(),
            ike: None,
            last_error: None,
            peer_proposals: None,
            held_down: false,
            retry_at: None,
            retry_delay: Duration::from_secs(2),
            last_keepalive: Instant::now(),
        });
    }
    let fast_path_mode = describe_fast_path(&tunnels, &sockets);
    tracing::info!(fast_path = %fast_path_mode, "fast path");

    // Fast-path threads.
    let waker = Arc::new(Waker::new()?);
    let inbound = Arc::new(InboundTable::default());
    let drops = Arc::new(GatewayDrops::default());
    let (ike_tx, mut ike_rx) = control_plane::ike_channel();
    let mut threads = Vec::new();
    for t in &tunnels {
        let s = sockets
            .iter()
            .find(|s| s.ip == t.local_ip)
            .ok_or("no socket for tunnel")?;
        threads.push(fast_path::spawn_outbound(
            t.path.clone(),
            t.tun.clone(),
            s.nat_t.clone(),
            waker.clone(),
        )?);
    }
    for s in &sockets {
        threads.push(fast_path::spawn_inbound(InboundCtx {
            sock: s.nat_t.clone(),
            table: inbound.clone(),
            tunnels: tunnels
                .iter()
                .map(|t| (t.path.clone(), t.tun.clone()))
                .collect(),
            ike_tx: ike_tx.clone(),
            drops: drops.clone(),
            waker: waker.clone(),
        })?);
        tokio::spawn(recv_ike_500(s.ike.clone(), ike_tx.clone()));
    }

    // Control socket.
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControlMsg>(16);
    let listener = crate::control::server::bind(&config.daemon.control_socket).map_err(|e| {
        format!(
            "cannot bind control socket {}: {e}",
            config.daemon.control_socket.display()
        )
    })?;
    let handler: crate::control::server::Handler = Arc::new(move |req| {
        let ctl_tx = ctl_tx.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            if ctl_tx.send((req, tx)).await.is_err() {
                return Response::Error {
                    message: "daemon is shutting down".into(),
                };
            }
            rx.await.unwrap_or(Response::Error {
                message: "daemon is shutting down".into(),
            })
        })
    });
    tokio::spawn(async move {
        if let Err(e) = crate::control::server::serve_listener(listener, handler).await {
            tracing::error!(error = %e, "control socket failed");
        }
    });

    let mut cp = ControlPlane {
        endpoint,
        tunnels,
        sockets,
        inbound,
        drops,
        started: Instant::now(),
        fast_path_mode,
        shutting_down: false,
    };

    // Metrics (opt-in).
    let metrics = config.daemon.metrics_listen.map(|addr| {
        let m = Arc::new(crate::metrics::Metrics::new());
        let served = m.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve_metrics(addr, served).await {
                tracing::error!(error = %e, %addr, "metrics listener failed");
            }
        });
        m
    });

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    tracing::info!(tunnels = cp.tunnels.len(), "ipsecgw running");
    cp.start(Instant::now());
    let mut last_metrics = Instant::now();
    loop {
        let now = Instant::now();
        cp.flush(now);
        if let Some(m) = &metrics {
            if now.duration_since(last_metrics) >= Duration::from_secs(1) {
                m.update(&status::snapshot(&cp, now));
                last_metrics = now;
            }
        }
        let deadline = cp.next_deadline(now);
        tokio::select! {
            Some(d) = ike_rx.recv() => cp.handle_ike(Instant::now(), d),
            Some((req, reply)) = ctl_rx.recv() => {
                let resp = cp.control(Instant::now(), req);
                let _ = reply.send(resp);
            }
            _ = tokio::time::sleep_until(deadline.into()) => cp.handle_timeout(Instant::now()),
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => tracing::warn!("SIGHUP: live reload is not implemented yet; restart to apply a new config"),
        }
    }

    tracing::info!("shutting down: deleting SAs");
    let end = Instant::now() + SHUTDOWN_GRACE;
    cp.shutdown(Instant::now());
    while cp.any_ike_up() && Instant::now() < end {
        cp.flush(Instant::now());
        let deadline = cp.next_deadline(Instant::now()).min(end);
        tokio::select! {
            Some(d) = ike_rx.recv() => cp.handle_ike(Instant::now(), d),
            _ = tokio::time::sleep_until(deadline.into()) => cp.handle_timeout(Instant::now()),
        }
    }
    cp.flush(Instant::now());
    waker.wake()?;
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_file(&config.daemon.control_socket);
    tracing::info!("stopped");
    Ok(())
}

/// Reads IKE on UDP 500 and queues it for the control plane.
async fn recv_ike_500(sock: Arc<tokio::net::UdpSocket>, tx: mpsc::Sender<IkeDatagram>) {
    let local = match sock.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
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
            Err(e) => {
                tracing::debug!(error = %e, "UDP 500 receive error");
            }
        }
    }
}

fn describe_fast_path(tunnels: &[Tunnel], sockets: &[LocalSockets]) -> String {
    let tun = tunnels.first().map(|t| t.tun.offload());
    let udp = sockets.first().map(|s| s.nat_t.offload_status());
    let tun_part = match tun {
        Some(o) if o.tcp_gso => "TUN offload (TSO/GRO)",
        Some(_) => "TUN without offload",
        None => "no TUN",
    };
    let udp_part = match udp {
        Some(u) if u.gso_segments > 1 && u.gro_segments > 1 => {
            format!("UDP GSO x{} / GRO x{}", u.gso_segments, u.gro_segments)
        }
        Some(u) if u.gso_segments > 1 => format!("UDP GSO x{}, no GRO", u.gso_segments),
        Some(_) => "UDP batched, no GSO".to_string(),
        None => "no UDP".to_string(),
    };
    format!("{tun_part}; {udp_part}")
}
