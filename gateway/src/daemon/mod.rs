//! The running daemon: a tokio control plane driving `ikev2::Endpoint` (see
//! [`control_plane`]), fast-path threads driving `esp` SAs ([`fast_path`]), TUN devices, UDP
//! sockets on 500/4500 and routes; [`lifecycle`] brings tunnels in and out of service at start
//! and on reload.

pub mod control_plane;
pub mod datapath;
pub mod fast_path;
pub mod ha;
pub mod ike_outbox;
pub mod lifecycle;
pub mod peer_config;
pub mod sa_install;
pub mod signals;
pub mod status;

use crate::config::Config;
use crate::control::protocol::{Request, Response};
use crate::io::routes::RouteHandle;
use crate::io::Waker;
use crate::platform::aead_backend::AeadChoice;
use crate::platform::realtime::WorkerSched;
use crate::platform::sd_notify;
use control_plane::{ControlMsg, ControlPlane, LocalSockets, Tunnel};
use datapath::{GatewayDrops, InboundTable};
use ikev2::crypto::OsRandom;
use ikev2::Endpoint;
use std::error::Error;
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

fn warn_if_not_forwarding() {
    match std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward") {
        Ok(s) if s.trim() == "1" => {}
        Ok(_) => tracing::warn!(
            "net.ipv4.ip_forward is 0: this host will not route traffic between the VPC and the tunnel (sysctl -w net.ipv4.ip_forward=1)"
        ),
        Err(_) => {}
    }
}

async fn run_async(config: Config, config_path: PathBuf) -> Result<(), Box<dyn Error>> {
    warn_if_not_forwarding();
    let (ike_tx, mut ike_rx) = control_plane::ike_channel();
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControlMsg>(16);
    let control_socket = config.daemon.control_socket.clone();
    let metrics_listen = config.daemon.metrics_listen;
    let connections = config.connections.clone();
    // Before the first SA: every AES-GCM SA is built with this one.
    let aead = AeadChoice::new(config.daemon.aead_backend);
    tracing::info!(aes_gcm = %aead, "ESP AES-GCM implementation");
    let mut cp = ControlPlane {
        endpoint: Endpoint::new(Box::new(OsRandom::new())),
        tunnels: Vec::new(),
        sockets: Vec::new(),
        inbound: Arc::new(InboundTable::default()),
        tunnel_map: Arc::new(Default::default()),
        next_tunnel_id: 0,
        drops: Arc::new(GatewayDrops::default()),
        sched: Arc::new(WorkerSched::new(
            config.daemon.realtime_priority,
            config.daemon.realtime_priority_set,
        )),
        aead,
        routes: RouteHandle::connect()?,
        waker: Arc::new(Waker::new()?),
        ike_tx,
        config,
        config_path,
        started: Instant::now(),
        fast_path_mode: String::new(),
        shutting_down: false,
        ha_installed: Vec::new(),
        ha_dirty: false,
        outbox: Default::default(),
        routes_dirty: false,
        multipath: None,
    };
    if cp.config.connections.iter().any(|c| c.ha_group.is_some()) {
        cp.multipath = Some(crate::io::multipath::MultipathRoutes::connect()?);
        // Hash flows on ports too, so one VPC host's flows spread over ECMP tunnels.
        // The appliance's sysctl.d sets it (its unit may not write /proc/sys): only write
        // when it is not already so.
        const HASH_POLICY: &str = "/proc/sys/net/ipv4/fib_multipath_hash_policy";
        let current = std::fs::read_to_string(HASH_POLICY).unwrap_or_default();
        if current.trim() != "1" {
            if let Err(e) = std::fs::write(HASH_POLICY, "1") {
                tracing::warn!(error = %e, "cannot set net.ipv4.fib_multipath_hash_policy=1: set it in /etc/sysctl.d for ECMP by flow");
            }
        }
    }
    for conn in &connections {
        cp.open_tunnel(conn).await?;
    }
    cp.reconcile_ha().await;
    cp.fast_path_mode = describe_fast_path(&cp.tunnels, &cp.sockets);
    tracing::info!(fast_path = %cp.fast_path_mode, "fast path");
    cp.sched.probe();

    // Control socket.
    let listener = crate::control::server::bind(&control_socket).map_err(|e| {
        format!(
            "cannot bind control socket {}: {e}",
            control_socket.display()
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

    // Metrics (opt-in).
    let metrics = metrics_listen.map(|addr| {
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
    // systemd (Type=notify): ready once sockets, TUNs, routes and the control socket exist.
    sd_notify::ready(&sd_notify::status_line(&status::snapshot(
        &cp,
        Instant::now(),
    )));
    let mut notifier = sd_notify::Notifier::new();
    let mut last_snapshot = Instant::now();
    loop {
        let now = Instant::now();
        cp.flush(now);
        if cp.ha_dirty {
            cp.reconcile_ha().await;
        }
        if cp.routes_dirty {
            cp.sync_routes().await;
        }
        if now.duration_since(last_snapshot) >= Duration::from_secs(1) {
            let snap = status::snapshot(&cp, now);
            if let Some(m) = &metrics {
                m.update(&snap);
            }
            notifier.tick(now, Some(&snap));
            last_snapshot = now;
        } else {
            notifier.tick(now, None);
        }
        let mut deadline = cp.next_deadline(now);
        if let Some(w) = notifier.next_deadline() {
            deadline = deadline.min(w.max(now));
        }
        tokio::select! {
            Some(d) = ike_rx.recv() => cp.handle_ike(Instant::now(), d),
            Some((req, reply)) = ctl_rx.recv() => {
                let resp = match req {
                    Request::Reload => reload(&mut cp).await,
                    req => cp.control(Instant::now(), req),
                };
                let _ = reply.send(resp);
            }
            _ = tokio::time::sleep_until(deadline.into()) => cp.handle_timeout(Instant::now()),
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                let _ = reload(&mut cp).await;
            }
        }
    }

    sd_notify::stopping();
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
    cp.waker.wake()?;
    let _ = std::fs::remove_file(&control_socket);
    for s in &cp.sockets {
        let (nudges, caught) = s.reply.counts();
        tracing::info!(local = %s.ip, nudges, caught, "inbound worker: woken ahead of an answer {nudges} times, {caught} answers caught awake");
    }
    tracing::info!("stopped");
    Ok(())
}

/// A reload framed by systemd's RELOADING=1 / READY=1.
async fn reload(cp: &mut ControlPlane) -> Response {
    sd_notify::reloading();
    let resp = cp.reload(Instant::now()).await;
    sd_notify::ready(&sd_notify::status_line(&status::snapshot(
        cp,
        Instant::now(),
    )));
    resp
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
    let workers = match tunnels.first().map(|t| t.workers.len()) {
        Some(1) => "1 outbound worker".to_string(),
        Some(n) => format!("{n} TUN queues / outbound workers per tunnel"),
        None => String::new(),
    };
    if workers.is_empty() {
        format!("{tun_part}; {udp_part}")
    } else {
        format!("{tun_part}; {udp_part}; {workers}")
    }
}
