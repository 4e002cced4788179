//! Metrics: update from a snapshot and scrape `/metrics` over loopback with a plain TcpStream.

use futures::FutureExt;
use gateway::control::protocol::*;
use gateway::metrics::{serve_metrics_listener, Metrics, Refresh};
use std::io::{Read, Write};
use std::sync::Arc;

fn snapshot(bytes_in: u64) -> StatusSnapshot {
    StatusSnapshot {
        daemon: DaemonInfo {
            version: "0.1.0".into(),
            uptime_secs: 42,
            fast_path: "batched, no offload".into(),
            workers: WorkerScheduling {
                realtime_priority: 10,
                refused: None,
                fifo_workers: 3,
                dropped_to_normal: 2,
                small_batch_drops: 5,
            },
            ..Default::default()
        },
        tunnels: vec![
            TunnelStatus {
                name: "azure".into(),
                state: TunnelState::Established,
                traffic: TrafficTotals {
                    bytes_in,
                    bytes_out: 2000,
                    packets_in: 10,
                    packets_out: 20,
                    ecn_ce_marked: 0,
                },
                drops: [("replay".to_string(), 3)].into(),
                ike_rekeys: 1,
                child_rekeys: 4,
                dpd_failures: 2,
                ..Default::default()
            },
            TunnelStatus {
                name: "azure-b".into(),
                state: TunnelState::Connecting,
                ..Default::default()
            },
        ],
    }
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn scrape_over_loopback_shows_every_series() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    metrics.update(&snapshot(1000));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(serve_metrics_listener(listener, metrics.clone(), None));

    let resp = get(addr, "/metrics");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(
        resp.contains("Content-Type: application/openmetrics-text"),
        "{resp}"
    );
    for series in [
        "ipsecgw_tunnel_up{tunnel=\"azure\"} 1",
        "ipsecgw_tunnel_up{tunnel=\"azure-b\"} 0",
        "ipsecgw_bytes_total{tunnel=\"azure\",direction=\"in\"} 1000",
        "ipsecgw_bytes_total{tunnel=\"azure\",direction=\"out\"} 2000",
        "ipsecgw_packets_total{tunnel=\"azure\",direction=\"out\"} 20",
        "ipsecgw_drops_total{tunnel=\"azure\",reason=\"replay\"} 3",
        "ipsecgw_rekeys_total{tunnel=\"azure\",kind=\"ike\"} 1",
        "ipsecgw_rekeys_total{tunnel=\"azure\",kind=\"child\"} 4",
        "ipsecgw_dpd_failures_total{tunnel=\"azure\"} 2",
        "ipsecgw_uptime_seconds 42",
        "ipsecgw_realtime_workers 3",
        "ipsecgw_realtime_drops_total 2",
        "ipsecgw_realtime_small_batch_drops_total 5",
        "# TYPE ipsecgw_bytes counter",
        "# EOF",
    ] {
        assert!(resp.contains(series), "missing `{series}` in:\n{resp}");
    }
    assert!(get(addr, "/").starts_with("HTTP/1.1 404"));

    // Values follow the daemon's cumulative counters; removed tunnels disappear.
    let mut next = snapshot(5000);
    next.tunnels.truncate(1);
    metrics.update(&next);
    let resp = get(addr, "/metrics");
    assert!(
        resp.contains("ipsecgw_bytes_total{tunnel=\"azure\",direction=\"in\"} 5000"),
        "{resp}"
    );
    assert!(!resp.contains("azure-b"), "{resp}");
}

#[test]
fn refresh_pulls_a_fresh_snapshot_per_scrape() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let refresh: Refresh = Arc::new(|| async { Some(snapshot(777)) }.boxed());
    rt.spawn(serve_metrics_listener(listener, metrics, Some(refresh)));
    let resp = get(addr, "/metrics");
    assert!(
        resp.contains("ipsecgw_bytes_total{tunnel=\"azure\",direction=\"in\"} 777"),
        "{resp}"
    );
}
