//! Where a ping's time goes, hop by hop: `tcpdump` in the AWS-side (`gw`) and the
//! Azure-side (`azure`) gateway namespaces during a ping series (idle, or under a TCP
//! stream, `suite::traced_pings`), each echo request and
//! reply followed through the gateways' inside interface, TUN device and outside interface
//! by its ICMP identifier and sequence number, and the tunnel datagram that carried it by
//! its time and length (`hop_times`; the payload is encrypted).
//!
//! A tunnel datagram is seen leaving one gateway's outside interface and, unless UDP GRO
//! joined it to a train on the way (a ping's datagram is often a train's short last
//! segment), arriving at the other's. The kernel hands it to the socket right there, so the
//! hops split into the NAT crossing (the underlay and its softirq processing) and the
//! receiving gateway's own part (the datagram waiting in its socket, then decrypted and
//! written to its TUN).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interop_tests::error::Context;
use interop_tests::netns::Netns;
use interop_tests::proc::{wait_for, Child};
use interop_tests::topology::{GW_INSIDE_IF, GW_OUTSIDE_IF};
use interop_tests::{bail, Result};

use super::ping::quantile;

/// Tunnel datagrams longer than this (UDP payload) are bulk data, not a ping.
const SMALL_DATAGRAM: usize = 200;
/// How long the captures go on after the pings, so that tcpdump has read them all.
const CAPTURE_BLOCK_WAIT: Duration = Duration::from_millis(1500);
/// A ping's hop is searched for within this time of the point before it.
const MATCH_WINDOW_NS: u64 = 100_000_000;

/// Which of a gateway namespace's interfaces a packet crossed (both gateways name their
/// inside and outside veths alike; the TUN device is the other one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    Inside,
    Outside,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// ICMP echo request (`true`) or reply, with identifier and sequence number.
    Echo { request: bool, id: u16, seq: u16 },
    /// A UDP datagram and its payload length (a tunnel datagram on the outside interface).
    Udp { len: usize },
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub t_ns: u64,
    pub iface: Iface,
    /// Sent through the interface (`PACKET_OUTGOING`; for the TUN: handed to the daemon).
    pub outgoing: bool,
    pub what: What,
}

/// `tcpdump` writing a capture in both gateway namespaces.
pub struct HopCapture {
    sides: Vec<Side>,
}

struct Side {
    child: Child,
    pcap: PathBuf,
    ifaces: HashMap<u32, Iface>,
}

impl HopCapture {
    /// Starts the captures in `gw` and `azure` (files in `dir`); returns once both listen.
    pub fn start(gw: &Netns, azure: &Netns, dir: &Path) -> Result<HopCapture> {
        let mut sides = Vec::new();
        for (ns, name) in [(gw, "gw"), (azure, "azure")] {
            let pcap = dir.join(format!("hops-{name}.pcap"));
            let mut cmd = ns.command("tcpdump");
            cmd.args([
                "-i",
                "any",
                "-y",
                "LINUX_SLL2",
                "-n",
                "-B",
                "16384",
                "-s",
                "160",
            ])
            .args(["--time-stamp-precision=nano", "-Z", "root", "-w"])
            .arg(&pcap)
            .arg(format!("icmp or (udp and less {})", SMALL_DATAGRAM + 60));
            let mut child = Child::spawn(cmd, &format!("tcpdump-hops-{name}"), dir)?;
            wait_for("tcpdump to listen", Duration::from_secs(10), || {
                !child.is_running() || child.stderr().contains("listening on")
            })?;
            if !child.is_running() {
                bail!("tcpdump in {name} exited: {}", child.stderr().trim());
            }
            let ifaces = iface_map(&ns.ip(&["-o", "link"])?);
            sides.push(Side {
                child,
                pcap,
                ifaces,
            });
        }
        Ok(HopCapture { sides })
    }

    /// Stops both captures and times the hops of every ping they saw.
    pub fn finish(self) -> Result<HopTable> {
        // tcpdump reads the kernel's capture ring a block at a time, and a block is handed
        // over when full or after its timeout (1 s); what a SIGINT finds in an unfinished
        // block is lost (the last ~40% of a 100-ping series was). Let the last block go first.
        std::thread::sleep(CAPTURE_BLOCK_WAIT);
        let mut events = Vec::new();
        for mut s in self.sides {
            s.child.signal(libc::SIGINT);
            s.child
                .wait_timeout(Duration::from_secs(10))
                .context("tcpdump did not stop")?;
            let bytes = std::fs::read(&s.pcap).context(format!("reading {}", s.pcap.display()))?;
            events.push(parse_capture(&bytes, &s.ifaces)?);
        }
        let az = events.pop().unwrap_or_default();
        let gw = events.pop().unwrap_or_default();
        Ok(HopTable::from_times(&hop_times(&gw, &az)))
    }
}

/// `ip -o link` → interface index to role (`lo` and other devices left out).
fn iface_map(ip_link: &str) -> HashMap<u32, Iface> {
    let mut map = HashMap::new();
    for line in ip_link.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(idx), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(idx) = idx.trim().parse::<u32>() else {
            continue;
        };
        let name = name.trim().split('@').next().unwrap_or("");
        let role = match name {
            n if n == GW_INSIDE_IF => Iface::Inside,
            n if n == GW_OUTSIDE_IF => Iface::Outside,
            "lo" | "" => continue,
            _ => Iface::Tun,
        };
        map.insert(idx, role);
    }
    map
}

/// A pcap file (`LINUX_SLL2` link type, µs or ns timestamps) → the ICMP echo and UDP
/// packets on the interfaces in `ifaces`, in capture order.
pub fn parse_capture(bytes: &[u8], ifaces: &HashMap<u32, Iface>) -> Result<Vec<Event>> {
    const LINKTYPE_LINUX_SLL2: u32 = 276;
    if bytes.len() < 24 {
        bail!("pcap file too short ({} bytes)", bytes.len());
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => bail!("not a pcap file (magic {magic:02x?})"),
    };
    let u32_at = |b: &[u8], o: usize| {
        let w = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = u32_at(bytes, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_LINUX_SLL2 {
        bail!("pcap link type {linktype}, expected LINUX_SLL2 ({LINKTYPE_LINUX_SLL2})");
    }
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let secs = u64::from(u32_at(bytes, off));
        let frac = u64::from(u32_at(bytes, off + 4));
        let caplen = u32_at(bytes, off + 8) as usize;
        let data_start = off + 16;
        let Some(data) = bytes.get(data_start..data_start.saturating_add(caplen)) else {
            break; // a record cut off by the capture's end
        };
        off = data_start + caplen;
        let t_ns = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        if let Some(ev) = parse_sll2(data, t_ns, ifaces) {
            out.push(ev);
        }
    }
    Ok(out)
}

/// One `LINUX_SLL2` record: a 20-byte header (protocol, reserved, interface index, ARPHRD
/// type, packet type, address length, address), then the packet.
fn parse_sll2(data: &[u8], t_ns: u64, ifaces: &HashMap<u32, Iface>) -> Option<Event> {
    const PACKET_OUTGOING: u8 = 4;
    if data.len() < 20 || u16::from_be_bytes([data[0], data[1]]) != 0x0800 {
        return None;
    }
    let ifindex = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let iface = *ifaces.get(&ifindex)?;
    let outgoing = data[10] == PACKET_OUTGOING;
    let ip = &data[20..];
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let l4 = ip.get(ihl..)?;
    let what = match ip[9] {
        1 if l4.len() >= 8 && (l4[0] == 8 || l4[0] == 0) => What::Echo {
            request: l4[0] == 8,
            id: u16::from_be_bytes([l4[4], l4[5]]),
            seq: u16::from_be_bytes([l4[6], l4[7]]),
        },
        17 if l4.len() >= 8 => What::Udp {
            len: usize::from(u16::from_be_bytes([l4[4], l4[5]])).checked_sub(8)?,
        },
        _ => return None,
    };
    Some(Event {
        t_ns,
        iface,
        outgoing,
        what,
    })
}

/// The hops of one round trip, in order. The arrival of a tunnel datagram at the far
/// gateway's outside interface (where the kernel hands it to the socket) is seen only when
/// UDP GRO did not join it to a train; rows 2-3 and 6-7 cover the round trips where it was
/// (their sum, the datagram's way from one gateway's socket to the other's TUN, is known for
/// all).
pub const HOPS: [&str; 9] = [
    "VPC host's request into the AWS gateway's TUN",
    "AWS gateway: TUN → tunnel datagram sent",
    "NAT crossing, to the Azure gateway's socket",
    "Azure gateway: socket → decrypted into its TUN",
    "the VNet host answers (Azure gateway's TUN → TUN)",
    "Azure gateway: TUN → tunnel datagram sent",
    "NAT crossing, to the AWS gateway's socket",
    "AWS gateway: socket → decrypted into its TUN",
    "AWS gateway's TUN → toward the VPC host",
];

/// One round trip's hops (ns, as [`HOPS`]); `None` where the point between two rows was not
/// seen (then the earlier row holds both).
pub type HopTimes = [Option<u64>; 9];

/// Per ping followed through every gateway point, the duration of each of [`HOPS`] in ns.
pub fn hop_times(gw: &[Event], az: &[Event]) -> Vec<HopTimes> {
    let echo = |evs: &[Event], iface: Iface, outgoing: bool, request: bool| {
        let mut m: HashMap<(u16, u16), u64> = HashMap::new();
        for e in evs {
            if let What::Echo {
                request: r,
                id,
                seq,
            } = e.what
            {
                if e.iface == iface && e.outgoing == outgoing && r == request {
                    m.entry((id, seq)).or_insert(e.t_ns);
                }
            }
        }
        m
    };
    let gw_in = echo(gw, Iface::Inside, false, true);
    let gw_tun_req = echo(gw, Iface::Tun, true, true);
    let az_tun_req = echo(az, Iface::Tun, false, true);
    let az_tun_rep = echo(az, Iface::Tun, true, false);
    let gw_tun_rep = echo(gw, Iface::Tun, false, false);
    let gw_out_rep = echo(gw, Iface::Inside, true, false);
    let udp = |evs: &[Event], outgoing: bool| -> Vec<(u64, usize)> {
        evs.iter()
            .filter_map(|e| match e.what {
                What::Udp { len }
                    if e.iface == Iface::Outside
                        && e.outgoing == outgoing
                        && len <= SMALL_DATAGRAM =>
                {
                    Some((e.t_ns, len))
                }
                _ => None,
            })
            .collect()
    };
    let (gw_sent, az_sent) = (udp(gw, true), udp(az, true));
    let (gw_arrived, az_arrived) = (udp(gw, false), udp(az, false));
    let mut keys: Vec<(u16, u16)> = gw_in.keys().copied().collect();
    keys.sort_unstable_by_key(|k| gw_in[k]);
    let after = |m: &HashMap<(u16, u16), u64>, k: &(u16, u16), t: u64| {
        m.get(k)
            .copied()
            .filter(|&v| v >= t && v - t < MATCH_WINDOW_NS)
    };
    let req_starts: Vec<u64> = keys
        .iter()
        .filter_map(|k| gw_tun_req.get(k).copied())
        .collect();
    let rep_starts: Vec<u64> = keys
        .iter()
        .filter_map(|k| az_tun_rep.get(k).copied())
        .collect();
    let req_len = datagram_len(&gw_sent, &req_starts);
    let rep_len = datagram_len(&az_sent, &rep_starts);
    let first = |s: &[(u64, usize)], len: Option<usize>, from: u64, to: u64| {
        let len = len?;
        let i = s.partition_point(|&(ts, _)| ts < from);
        s[i..]
            .iter()
            .take_while(|&&(ts, _)| ts < to && ts - from < MATCH_WINDOW_NS)
            .find(|&&(_, l)| l == len)
            .map(|&(ts, _)| ts)
    };
    let split = |from: u64, mid: Option<u64>, to: u64| match mid {
        Some(m) => (Some(m - from), Some(to - m)),
        None => (Some(to - from), None),
    };
    let trace = |k: &(u16, u16)| -> Option<HopTimes> {
        let t0 = gw_in[k];
        let t1 = after(&gw_tun_req, k, t0)?;
        let t2 = first(&gw_sent, req_len, t1, u64::MAX)?;
        let t3 = after(&az_tun_req, k, t2)?;
        let t4 = after(&az_tun_rep, k, t3)?;
        let t5 = first(&az_sent, rep_len, t4, u64::MAX)?;
        let t6 = after(&gw_tun_rep, k, t5)?;
        let t7 = after(&gw_out_rep, k, t6)?;
        let (nat_ab, az_in) = split(t2, first(&az_arrived, req_len, t2, t3), t3);
        let (nat_ba, gw_in_hop) = split(t5, first(&gw_arrived, rep_len, t5, t6), t6);
        Some([
            Some(t1 - t0),
            Some(t2 - t1),
            nat_ab,
            az_in,
            Some(t4 - t3),
            Some(t5 - t4),
            nat_ba,
            gw_in_hop,
            Some(t7 - t6),
        ])
    };
    keys.iter().filter_map(trace).collect()
}

/// The length of the tunnel datagrams that carry a ping one way: of the small datagram
/// lengths seen within 5 ms after most pings entered the TUN (`starts`), the one seen about
/// once per ping (ACKs and other small packets of the load share the window, but many times
/// per ping or in few windows).
fn datagram_len(sent: &[(u64, usize)], starts: &[u64]) -> Option<usize> {
    const WINDOW_NS: u64 = 5_000_000;
    let mut in_windows: HashMap<usize, usize> = HashMap::new();
    for &t in starts {
        let i = sent.partition_point(|&(ts, _)| ts < t);
        let mut lens: Vec<usize> = sent[i..]
            .iter()
            .take_while(|&&(ts, _)| ts - t < WINDOW_NS)
            .map(|&(_, l)| l)
            .collect();
        lens.sort_unstable();
        lens.dedup();
        for l in lens {
            *in_windows.entry(l).or_default() += 1;
        }
    }
    let mut total: HashMap<usize, usize> = HashMap::new();
    for &(_, l) in sent {
        *total.entry(l).or_default() += 1;
    }
    let pings = starts.len();
    in_windows
        .into_iter()
        .filter(|&(_, n)| n * 10 >= pings * 8)
        .min_by_key(|&(l, _)| (total[&l].abs_diff(pings), l))
        .map(|(l, _)| l)
}

/// One hop's distribution over the traced round trips.
#[derive(Debug, Clone, PartialEq)]
pub struct HopRow {
    pub hop: &'static str,
    /// Round trips in which this hop was seen on its own.
    pub seen: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    /// Of the time the slowest 5% round trips took, the share this hop took (over those of
    /// them in which it was seen).
    pub tail_share: f64,
}

/// Where the traced round trips spent their time.
#[derive(Debug, Clone, PartialEq)]
pub struct HopTable {
    /// Round trips followed through every gateway point.
    pub traced: usize,
    pub rows: Vec<HopRow>,
    /// The sum of the hops (the round trip between the AWS gateway's inside interface
    /// crossings): p50, p90, p99 in µs.
    pub total_us: [f64; 3],
}

impl HopTable {
    pub fn from_times(times: &[HopTimes]) -> HopTable {
        let us = |v: u64| v as f64 / 1e3;
        let total = |t: &HopTimes| t.iter().flatten().sum::<u64>();
        let totals: Vec<f64> = times.iter().map(|t| us(total(t))).collect();
        if times.is_empty() {
            return HopTable {
                traced: 0,
                rows: Vec::new(),
                total_us: [f64::NAN; 3],
            };
        }
        let cut = quantile(&totals, 0.95);
        let tail: Vec<&HopTimes> = times
            .iter()
            .zip(&totals)
            .filter(|(_, &t)| t >= cut)
            .map(|(x, _)| x)
            .collect();
        let rows = HOPS
            .iter()
            .enumerate()
            .map(|(i, hop)| {
                // A row whose next point was not seen holds two hops: left out here.
                let alone = |t: &HopTimes| {
                    let paired = matches!(i, 2 | 6);
                    t[i].filter(|_| !paired || t[i + 1].is_some())
                };
                let v: Vec<f64> = times.iter().filter_map(alone).map(us).collect();
                let (mut part, mut whole) = (0u64, 0u64);
                for t in &tail {
                    if let Some(x) = alone(t) {
                        part += x;
                        whole += total(t);
                    }
                }
                let q = |p| {
                    if v.is_empty() {
                        f64::NAN
                    } else {
                        quantile(&v, p)
                    }
                };
                HopRow {
                    hop,
                    seen: v.len(),
                    p50_us: q(0.50),
                    p90_us: q(0.90),
                    p99_us: q(0.99),
                    tail_share: if whole == 0 {
                        f64::NAN
                    } else {
                        part as f64 / whole as f64
                    },
                }
            })
            .collect();
        HopTable {
            traced: times.len(),
            rows,
            total_us: [
                quantile(&totals, 0.50),
                quantile(&totals, 0.90),
                quantile(&totals, 0.99),
            ],
        }
    }

    /// A markdown table.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| hop | seen | p50 µs | p90 µs | p99 µs | share of the slowest 5% |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0}% |",
                r.hop,
                r.seen,
                r.p50_us,
                r.p90_us,
                r.p99_us,
                r.tail_share * 100.0
            );
        }
        let [a, b, c] = self.total_us;
        let _ = writeln!(
            out,
            "| **round trip** (sum) | {} | {a:.0} | {b:.0} | {c:.0} | 100% |",
            self.traced
        );
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "hop": r.hop, "seen": r.seen, "p50_us": r.p50_us, "p90_us": r.p90_us,
                    "p99_us": r.p99_us, "tail_share": r.tail_share,
                })
            })
            .collect();
        serde_json::json!({ "traced": self.traced, "hops": rows, "round_trip_us": self.total_us })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(t_ns: u64, iface: Iface, outgoing: bool, request: bool, seq: u16) -> Event {
        Event {
            t_ns,
            iface,
            outgoing,
            what: What::Echo {
                request,
                id: 7,
                seq,
            },
        }
    }

    fn udp(t_ns: u64, len: usize) -> Event {
        Event {
            t_ns,
            iface: Iface::Outside,
            outgoing: true,
            what: What::Udp { len },
        }
    }

    fn arrived(t_ns: u64, len: usize) -> Event {
        Event {
            outgoing: false,
            ..udp(t_ns, len)
        }
    }

    /// Ten pings 10 ms apart; every 100 µs an 88-byte datagram (an ACK) leaves each side,
    /// a ping's datagram is 120 bytes and crosses the NAT in 6 µs (to Azure) or 5 µs (back).
    /// The Azure gateway sees the requests of odd pings only in GRO trains (not on their own),
    /// the AWS gateway misses the reply of ping 3; ping 2 waits 3 ms in the Azure gateway.
    fn lab() -> (Vec<Event>, Vec<Event>) {
        let (mut gw, mut az) = (Vec::new(), Vec::new());
        for t in (0..115_000_000u64).step_by(100_000) {
            gw.push(udp(t + 50, 88));
            az.push(udp(t + 70, 88));
            az.push(arrived(t + 56, 88));
        }
        for seq in 1..=10u16 {
            let b = u64::from(seq) * 10_000_000;
            let wait = if seq == 2 { 3_000_000 } else { 40_000 };
            gw.push(echo(b, Iface::Inside, false, true, seq));
            gw.push(echo(b + 5_000, Iface::Tun, true, true, seq));
            gw.push(udp(b + 25_000, 120));
            if seq % 2 == 0 {
                az.push(arrived(b + 31_000, 120));
            }
            az.push(echo(b + 25_000 + wait, Iface::Tun, false, true, seq));
            az.push(echo(b + 45_000 + wait, Iface::Tun, true, false, seq));
            az.push(udp(b + 60_000 + wait, 120));
            if seq != 3 {
                gw.push(arrived(b + 65_000 + wait, 120));
            }
            gw.push(echo(b + 100_000 + wait, Iface::Tun, false, false, seq));
            gw.push(echo(b + 103_000 + wait, Iface::Inside, true, false, seq));
        }
        for v in [&mut gw, &mut az] {
            v.sort_by_key(|e| e.t_ns);
        }
        (gw, az)
    }

    #[test]
    fn each_ping_is_followed_through_both_gateways() {
        let (gw, az) = lab();
        let times = hop_times(&gw, &az);
        assert_eq!(times.len(), 10);
        let us = |v: [u64; 9]| v.map(|x| Some(x * 1000));
        let mut first = us([5, 20, 40, 0, 20, 15, 5, 35, 3]);
        first[3] = None; // its request reached Azure in a GRO train
        assert_eq!(times[0], first);
        assert_eq!(times[1], us([5, 20, 6, 2994, 20, 15, 5, 35, 3]));
        let mut third = us([5, 20, 40, 0, 20, 15, 40, 0, 3]);
        (third[3], third[7]) = (None, None);
        assert_eq!(times[2], third);
        let table = HopTable::from_times(&times);
        assert_eq!(table.traced, 10);
        let slow = &table.rows[3];
        assert_eq!(slow.seen, 5);
        assert_eq!(
            (slow.p50_us, slow.p90_us, slow.p99_us),
            (34.0, 2994.0, 2994.0)
        );
        assert_eq!(slow.tail_share, 2994.0 / 3103.0);
        assert_eq!(table.rows[2].seen, 5);
        assert_eq!(table.rows[2].p99_us, 6.0);
        assert_eq!((table.rows[6].seen, table.rows[7].seen), (9, 9));
        assert_eq!(table.rows[0].tail_share, 5.0 / 3103.0);
        assert_eq!(table.total_us, [143.0, 143.0, 3103.0]);
        let md = table.markdown();
        assert!(
            md.contains(
                "| Azure gateway: socket → decrypted into its TUN | 5 | 34 | 2994 | 2994 | 96% |"
            ),
            "{md}"
        );
        assert!(md.contains("| **round trip** (sum) | 10 | 143 | 143 | 3103 | 100% |"));
    }

    #[test]
    fn a_ping_without_its_datagram_is_left_out() {
        let (mut gw, az) = lab();
        gw.retain(|e| !(e.what == What::Udp { len: 120 } && e.t_ns == 20_025_000));
        let times = hop_times(&gw, &az);
        assert_eq!(times.len(), 9, "{times:?}");
        assert!(times.iter().all(|t| t[3] != Some(2_994_000)));
    }

    #[test]
    fn the_ping_datagram_length_is_the_one_seen_once_per_ping() {
        let sent: Vec<(u64, usize)> = (0..100u64)
            .map(|i| (i * 100, if i % 10 == 3 { 120 } else { 88 }))
            .collect();
        let starts: Vec<u64> = (0..10u64).map(|i| i * 1000).collect();
        assert_eq!(datagram_len(&sent, &starts), Some(120));
        assert_eq!(datagram_len(&[], &starts), None);
    }

    fn pcap_record(out: &mut Vec<u8>, t_ns: u64, ifindex: u32, pkttype: u8, ip: &[u8]) {
        let mut sll = vec![0x08, 0x00, 0, 0];
        sll.extend_from_slice(&ifindex.to_be_bytes());
        sll.extend_from_slice(&[0xff, 0xfe, pkttype, 0]);
        sll.extend_from_slice(&[0; 8]);
        sll.extend_from_slice(ip);
        out.extend_from_slice(&((t_ns / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_ns % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(sll.len() as u32).to_le_bytes());
        out.extend_from_slice(&(sll.len() as u32).to_le_bytes());
        out.extend_from_slice(&sll);
    }

    #[test]
    fn parses_a_nanosecond_sll2_capture() {
        let mut f = vec![0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&160u32.to_le_bytes());
        f.extend_from_slice(&276u32.to_le_bytes());
        // ICMP echo request id 0x1234 seq 5, from 10.0.1.10 to 10.1.0.10.
        let mut icmp = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 1, 0, 0];
        icmp.extend_from_slice(&[10, 0, 1, 10, 10, 1, 0, 10]);
        icmp.extend_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 5]);
        // UDP 4500 → 4500 with a 120-byte payload (only the headers captured).
        let mut udp = vec![0x45, 0, 0, 148, 0, 0, 0x40, 0, 64, 17, 0, 0];
        udp.extend_from_slice(&[198, 51, 100, 10, 203, 0, 113, 20]);
        udp.extend_from_slice(&[0x11, 0x94, 0x11, 0x94, 0, 128, 0, 0]);
        pcap_record(&mut f, 1_700_000_000_123_456_789, 3, 0, &icmp);
        pcap_record(&mut f, 1_700_000_000_123_556_789, 4, 4, &udp);
        pcap_record(&mut f, 1_700_000_000_123_600_000, 1, 4, &udp); // lo: not ours
        f.extend_from_slice(&[1, 2, 3]); // a cut-off record
        let ifaces = iface_map(
            "1: lo: <LOOPBACK,UP> mtu 65536\n3: in0@if2: <BROADCAST> mtu 1500\n\
             4: out0@if5: <BROADCAST> mtu 1500\n6: ipsec0: <POINTOPOINT> mtu 1400\n",
        );
        assert_eq!(ifaces.get(&6), Some(&Iface::Tun));
        let ev = parse_capture(&f, &ifaces).unwrap();
        assert_eq!(
            ev,
            vec![
                Event {
                    t_ns: 1_700_000_000_123_456_789,
                    iface: Iface::Inside,
                    outgoing: false,
                    what: What::Echo {
                        request: true,
                        id: 0x1234,
                        seq: 5
                    },
                },
                Event {
                    t_ns: 1_700_000_000_123_556_789,
                    iface: Iface::Outside,
                    outgoing: true,
                    what: What::Udp { len: 120 },
                },
            ]
        );
        assert!(parse_capture(&f[..10], &ifaces).is_err());
        let mut wrong = f.clone();
        wrong[20] = 1; // Ethernet
        assert!(parse_capture(&wrong, &ifaces).is_err());
    }
}
