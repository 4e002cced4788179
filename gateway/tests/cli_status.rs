//! Status rendering: golden text for a sample snapshot, and JSON round-trip.

use gateway::control::protocol::*;
use gateway::status::{render_json, render_text};

pub fn sample() -> StatusSnapshot {
    StatusSnapshot {
        daemon: DaemonInfo {
            version: "0.1.0".into(),
            uptime_secs: 7380,
            fast_path: "tun offload + udp gso/gro".into(),
            workers: WorkerScheduling {
                realtime_priority: 10,
                refused: None,
                fifo_workers: 3,
                dropped_to_normal: 1,
                small_batch_drops: 4,
            },
            aes_gcm: "aws-lc-rs (measured here: ring 612 ns, aws-lc-rs 487 ns per 1400-byte \
                      seal + open)"
                .into(),
            ..Default::default()
        },
        tunnels: vec![
            TunnelStatus {
                name: "azure".into(),
                state: TunnelState::Established,
                local_addr: Some("172.31.5.10:4500".into()),
                remote_addr: Some("203.0.113.20:4500".into()),
                local_id: Some("198.51.100.10".into()),
                remote_id: Some("203.0.113.20".into()),
                nat_local: true,
                nat_remote: false,
                ike_sa: Some(IkeSaStatus {
                    initiator_spi: "0123456789abcdef".into(),
                    responder_spi: "fedcba9876543210".into(),
                    we_initiated: true,
                    suite: "aes256-sha256-prfsha256-modp1024".into(),
                    age_secs: 3600,
                    rekey_in_secs: Some(10800),
                }),
                child_sas: vec![ChildSaStatus {
                    name: "vnet".into(),
                    spi_in: "c1234567".into(),
                    spi_out: "c7654321".into(),
                    suite: "aes256gcm16".into(),
                    udp_encap: true,
                    age_secs: 1200,
                    rekey_in_secs: Some(2400),
                    bytes_in: 123456,
                    bytes_out: 654321,
                    packets_in: 789,
                    packets_out: 987,
                    local_ts: vec!["172.31.0.0/16".into()],
                    remote_ts: vec!["10.1.0.0/16".into(), "10.2.0.0/16".into()],
                }],
                traffic: TrafficTotals {
                    bytes_in: 1_000_000,
                    bytes_out: 2_000_000,
                    packets_in: 1000,
                    packets_out: 2000,
                    ecn_ce_marked: 0,
                },
                drops: [("auth_failed".to_string(), 1), ("replay".to_string(), 3)].into(),
                ike_rekeys: 2,
                child_rekeys: 5,
                dpd_failures: 0,
                ike_retransmits: 3,
                answers_sent_inline: 0,
                bulk_sent_inline: 0,
                bulk_parks: 0,
                last_error: None,
                peer_proposals: None,
            },
            TunnelStatus {
                name: "azure-b".into(),
                state: TunnelState::Connecting,
                local_addr: Some("172.31.5.10:500".into()),
                remote_addr: Some("203.0.113.21:500".into()),
                local_id: Some("198.51.100.10".into()),
                remote_id: Some("203.0.113.21".into()),
                last_error: Some("NO_PROPOSAL_CHOSEN from peer".into()),
                peer_proposals: Some("aes256gcm16-prfsha384-ecp384".into()),
                dpd_failures: 1,
                ..Default::default()
            },
        ],
    }
}

const GOLDEN: &str = "\
ipsecgw 0.1.0, up 2h03m, fast path: tun offload + udp gso/gro
workers: SCHED_FIFO 10 while loaded (3 now); drops to SCHED_OTHER: 1 after a busy window, 4 for small batches
AES-GCM: aws-lc-rs (measured here: ring 612 ns, aws-lc-rs 487 ns per 1400-byte seal + open)
azure: ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
  local  '198.51.100.10' @ 172.31.5.10:4500 [NAT]
  remote '203.0.113.20' @ 203.0.113.20:4500
  aes256-sha256-prfsha256-modp1024
  established 1h00m ago, rekeying in 3h00m
  vnet: INSTALLED, TUNNEL-in-UDP, ESP:aes256gcm16
    installed 20m00s ago, rekeying in 40m00s
    in  c1234567, 123456 bytes, 789 packets
    out c7654321, 654321 bytes, 987 packets
    local  172.31.0.0/16
    remote 10.1.0.0/16 10.2.0.0/16
  drops: auth_failed 1, replay 3
  rekeys: ike 2, child 5; dpd failures: 0; IKE retransmits: 3
azure-b: CONNECTING
  local  '198.51.100.10' @ 172.31.5.10:500
  remote '203.0.113.21' @ 203.0.113.21:500
  rekeys: ike 0, child 0; dpd failures: 1; IKE retransmits: 0
  last error: NO_PROPOSAL_CHOSEN from peer
  peer proposed: aes256gcm16-prfsha384-ecp384
";

#[test]
fn text_rendering_matches_golden() {
    assert_eq!(render_text(&sample()), GOLDEN);
}

#[test]
fn reply_spin_counters_are_shown_when_it_is_on() {
    let mut s = sample();
    s.daemon.reply_spin_us = 250;
    s.daemon.reply_nudges = 3;
    s.daemon.replies_caught_awake = 2;
    let text = render_text(&s);
    assert!(
        text.lines().nth(1)
            == Some(
                "answers awaited awake for 250 us: 3 inbound worker wake-ups ahead of an answer, \
                 2 answers caught awake"
            ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&s)).unwrap();
    assert_eq!(json["daemon"]["reply_spin_us"], 250);
    assert_eq!(json["daemon"]["replies_caught_awake"], 2);
}

#[test]
fn worker_scheduling_says_when_it_is_off_or_refused() {
    let mut s = sample();
    s.daemon.workers.refused = Some("Operation not permitted (os error 1)".into());
    s.daemon.workers.fifo_workers = 0;
    let text = render_text(&s);
    assert_eq!(
        text.lines().nth(1),
        Some(
            "workers: SCHED_OTHER, SCHED_FIFO 10 refused: Operation not permitted (os error 1) \
             (needs CAP_SYS_NICE)"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&s)).unwrap();
    assert_eq!(json["daemon"]["workers"]["realtime_priority"], 10);
    assert_eq!(json["daemon"]["workers"]["fifo_workers"], 0);
    // Off (the default): no line.
    s.daemon.workers.realtime_priority = 0;
    s.daemon.workers.refused = None;
    let text = render_text(&s);
    assert!(!text.contains("workers:"), "{text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("AES-GCM: aws-lc-rs"),
        "{text}"
    );
    // A daemon of an older version, which does not report its AES-GCM implementation.
    s.daemon.aes_gcm.clear();
    let text = render_text(&s);
    assert!(
        text.lines().nth(1).unwrap().starts_with("azure: "),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&s)).unwrap();
    assert!(json["daemon"].get("aes_gcm").is_none(), "{json}");
}

#[test]
fn empty_daemon_says_so() {
    let s = StatusSnapshot {
        daemon: sample().daemon,
        tunnels: vec![],
    };
    assert!(render_text(&s).ends_with("no connections configured\n"));
}

#[test]
fn json_round_trips_with_stable_names() {
    let s = sample();
    let text = render_json(&s);
    let back: StatusSnapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["tunnels"][0]["state"], "established");
    assert_eq!(v["tunnels"][0]["child_sas"][0]["spi_in"], "c1234567");
    assert_eq!(v["tunnels"][0]["drops"]["replay"], 3);
    assert_eq!(v["daemon"]["fast_path"], "tun offload + udp gso/gro");
}
