//! Prometheus metrics (OpenMetrics text) per tunnel, and a minimal HTTP/1.1 `/metrics`
//! endpoint on a tokio `TcpListener`. Opt-in: the daemon serves it only with
//! `[daemon] metrics_listen`.
//!
//! Series (label `tunnel` = connection name):
//! `ipsecgw_tunnel_up`, `ipsecgw_bytes_total{direction}`, `ipsecgw_packets_total{direction}`,
//! `ipsecgw_drops_total{reason}`, `ipsecgw_rekeys_total{kind=ike|child}`,
//! `ipsecgw_dpd_failures_total`, `ipsecgw_ike_retransmits_total`, plus `ipsecgw_uptime_seconds`,
//! `ipsecgw_realtime_workers` (fast-path workers at `SCHED_FIFO` now),
//! `ipsecgw_realtime_drops_total` (times a busy worker dropped back to `SCHED_OTHER`) and
//! `ipsecgw_realtime_small_batch_drops_total` (times a loaded worker did, for small batches).

use crate::control::protocol::StatusSnapshot;
use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct TunnelLabels {
    tunnel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct DirectionLabels {
    tunnel: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ReasonLabels {
    tunnel: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct KindLabels {
    tunnel: String,
    kind: &'static str,
}

/// The registry and its metric families. Cheap to update; share it in an `Arc`.
pub struct Metrics {
    registry: Registry,
    uptime: Gauge,
    realtime_workers: Gauge,
    realtime_drops: Counter,
    realtime_small_batch_drops: Counter,
    tunnel_up: Family<TunnelLabels, Gauge>,
    bytes: Family<DirectionLabels, Counter>,
    packets: Family<DirectionLabels, Counter>,
    drops: Family<ReasonLabels, Counter>,
    rekeys: Family<KindLabels, Counter>,
    dpd_failures: Family<TunnelLabels, Counter>,
    ike_retransmits: Family<TunnelLabels, Counter>,
    /// (tunnel, drop reason) pairs last exported, to drop series that went away.
    seen: Mutex<BTreeSet<(String, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ipsecgw");
        let m = Metrics {
            uptime: Gauge::default(),
            realtime_workers: Gauge::default(),
            realtime_drops: Counter::default(),
            realtime_small_batch_drops: Counter::default(),
            tunnel_up: Family::default(),
            bytes: Family::default(),
            packets: Family::default(),
            drops: Family::default(),
            rekeys: Family::default(),
            dpd_failures: Family::default(),
            ike_retransmits: Family::default(),
            seen: Mutex::new(BTreeSet::new()),
            registry: Registry::default(),
        };
        registry.register(
            "uptime_seconds",
            "Seconds since the daemon started",
            m.uptime.clone(),
        );
        registry.register(
            "realtime_workers",
            "Fast-path workers running at SCHED_FIFO now ([daemon] realtime_priority)",
            m.realtime_workers.clone(),
        );
        registry.register(
            "realtime_drops",
            "Times a fast-path worker busy for a whole window dropped back to SCHED_OTHER",
            m.realtime_drops.clone(),
        );
        registry.register(
            "realtime_small_batch_drops",
            "Times a loaded fast-path worker dropped back to SCHED_OTHER for a second because its \
             wake-ups brought small batches (a datagram flood)",
            m.realtime_small_batch_drops.clone(),
        );
        registry.register(
            "tunnel_up",
            "1 if the tunnel has an established IKE SA, else 0",
            m.tunnel_up.clone(),
        );
        registry.register(
            "bytes",
            "ESP payload bytes through the tunnel",
            m.bytes.clone(),
        );
        registry.register("packets", "Packets through the tunnel", m.packets.clone());
        registry.register("drops", "Packets dropped, by reason", m.drops.clone());
        registry.register("rekeys", "Completed rekeys, by SA kind", m.rekeys.clone());
        registry.register(
            "dpd_failures",
            "Times dead peer detection declared the peer dead",
            m.dpd_failures.clone(),
        );
        registry.register(
            "ike_retransmits",
            "IKE requests sent again because no response came in time",
            m.ike_retransmits.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets every series from a status snapshot (the daemon's counters are cumulative).
    /// Series of tunnels or drop reasons no longer present are removed.
    pub fn update(&self, snap: &StatusSnapshot) {
        let now: BTreeSet<(String, String)> = snap
            .tunnels
            .iter()
            .flat_map(|t| {
                std::iter::once((t.name.clone(), String::new()))
                    .chain(t.drops.keys().map(|r| (t.name.clone(), r.clone())))
            })
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.is_subset(&now) {
            self.tunnel_up.clear();
            self.bytes.clear();
            self.packets.clear();
            self.drops.clear();
            self.rekeys.clear();
            self.dpd_failures.clear();
            self.ike_retransmits.clear();
        }
        *seen = now;
        self.uptime
            .set(i64::try_from(snap.daemon.uptime_secs).unwrap_or(i64::MAX));
        let w = &snap.daemon.workers;
        self.realtime_workers
            .set(i64::try_from(w.fifo_workers).unwrap_or(i64::MAX));
        self.realtime_drops
            .inner()
            .store(w.dropped_to_normal, Ordering::Relaxed);
        self.realtime_small_batch_drops
            .inner()
            .store(w.small_batch_drops, Ordering::Relaxed);
        for t in &snap.tunnels {
            let tunnel = || t.name.clone();
            self.tunnel_up
                .get_or_create(&TunnelLabels { tunnel: tunnel() })
                .set(i64::from(t.state.is_up()));
            let set = |c: &Counter, v: u64| c.inner().store(v, Ordering::Relaxed);
            for (direction, b, p) in [
                ("in", t.traffic.bytes_in, t.traffic.packets_in),
                ("out", t.traffic.bytes_out, t.traffic.packets_out),
            ] {
                set(
                    &self.bytes.get_or_create(&DirectionLabels {
                        tunnel: tunnel(),
                        direction,
                    }),
                    b,
                );
                set(
                    &self.packets.get_or_create(&DirectionLabels {
                        tunnel: tunnel(),
                        direction,
                    }),
                    p,
                );
            }
            for (reason, n) in &t.drops {
                set(
                    &self.drops.get_or_create(&ReasonLabels {
                        tunnel: tunnel(),
                        reason: reason.clone(),
                    }),
                    *n,
                );
            }
            set(
                &self.rekeys.get_or_create(&KindLabels {
                    tunnel: tunnel(),
                    kind: "ike",
                }),
                t.ike_rekeys,
            );
            set(
                &self.rekeys.get_or_create(&KindLabels {
                    tunnel: tunnel(),
                    kind: "child",
                }),
                t.child_rekeys,
            );
            set(
                &self
                    .dpd_failures
                    .get_or_create(&TunnelLabels { tunnel: tunnel() }),
                t.dpd_failures,
            );
            set(
                &self
                    .ike_retransmits
                    .get_or_create(&TunnelLabels { tunnel: tunnel() }),
                t.ike_retransmits,
            );
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

/// Produces a fresh snapshot for a scrape (e.g. the daemon's status handler); `None` keeps the
/// last values.
pub type Refresh = Arc<dyn Fn() -> BoxFuture<'static, Option<StatusSnapshot>> + Send + Sync>;

/// Serves `GET /metrics` on `addr` forever.
pub async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    serve_metrics_listener(TcpListener::bind(addr).await?, metrics, None).await
}

/// Serves `GET /metrics` on a bound listener forever, refreshing from `refresh` per scrape.
pub async fn serve_metrics_listener(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    refresh: Option<Refresh>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let (metrics, refresh) = (metrics.clone(), refresh.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, metrics, refresh))
                .await;
        });
    }
}

const MAX_HEAD: usize = 8 * 1024;

async fn answer(
    mut stream: TcpStream,
    metrics: Arc<Metrics>,
    refresh: Option<Refresh>,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "header too large\n",
            )
            .await;
        }
    }
    let line = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or_default())
        .into_owned();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            if let Some(r) = refresh {
                if let Some(snap) = r().await {
                    metrics.update(&snap);
                }
            }
            let body = metrics.encode();
            respond(
                &mut stream,
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                &body,
            )
            .await
        }
        ("GET", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "ipsecgw: metrics are at /metrics\n",
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                "only GET\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
