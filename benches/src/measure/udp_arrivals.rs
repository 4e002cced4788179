//! Where a UDP flood's datagrams went: how many reached the receiving host's UDP layer
//! (`/proc/net/snmp` of its namespace), as against how many iperf3 sent and read.
//!
//! At full rate on this 2-vCPU machine the receiving iperf3 (one `read` per datagram) can be
//! the slowest stage: datagrams the tunnel delivered are then dropped because its socket's
//! receive buffer is full (`RcvbufErrors`). Counting arrivals separates that loss from the
//! tunnel's own.

use interop_tests::netns::Netns;
use interop_tests::{bail, Result};

/// UDP counters of one namespace (RFC 4113 names, as `/proc/net/snmp` prints them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Delivered to a socket.
    pub in_datagrams: u64,
    /// Not delivered: receive buffer full, checksum errors (`RcvbufErrors` is part of it).
    pub in_errors: u64,
    /// Of `in_errors`: dropped because the socket's receive buffer was full.
    pub rcvbuf_errors: u64,
}

impl UdpCounters {
    /// Datagrams that reached the UDP layer between `before` and `self`, delivered or not.
    pub fn arrived_since(&self, before: &UdpCounters) -> u64 {
        (self.in_datagrams + self.in_errors).saturating_sub(before.in_datagrams + before.in_errors)
    }
}

/// Reads the counters of `ns`.
pub fn sample(ns: &Netns) -> Result<UdpCounters> {
    parse(&ns.run("cat", &["/proc/net/snmp"])?)
}

/// Parses the two `Udp:` lines (names, then values) of `/proc/net/snmp`.
pub fn parse(snmp: &str) -> Result<UdpCounters> {
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        bail!("/proc/net/snmp has no Udp: lines");
    };
    let mut c = UdpCounters::default();
    let mut found = 0;
    for (name, value) in names
        .split_whitespace()
        .zip(values.split_whitespace())
        .skip(1)
    {
        let field = match name {
            "InDatagrams" => &mut c.in_datagrams,
            "InErrors" => &mut c.in_errors,
            "RcvbufErrors" => &mut c.rcvbuf_errors,
            _ => continue,
        };
        let Ok(v) = value.parse() else {
            bail!("/proc/net/snmp: Udp {name} is not a number: {value}");
        };
        *field = v;
        found += 1;
    }
    if found != 3 {
        bail!("/proc/net/snmp: Udp InDatagrams, InErrors or RcvbufErrors missing");
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 12
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 1253983 0 1389401 13 1389401 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn reads_the_udp_lines_not_udplite() {
        let c = parse(SNMP).unwrap();
        assert_eq!(
            c,
            UdpCounters {
                in_datagrams: 1_253_983,
                in_errors: 1_389_401,
                rcvbuf_errors: 1_389_401,
            }
        );
        let before = UdpCounters {
            in_datagrams: 801_350,
            in_errors: 900_885,
            rcvbuf_errors: 900_885,
        };
        assert_eq!(c.arrived_since(&before), 452_633 + 488_516);
    }

    #[test]
    fn rejects_missing_or_garbled_counters() {
        assert!(parse("Ip: a\nIp: 1\n").is_err());
        assert!(parse("Udp: InDatagrams InErrors\nUdp: 1 2\n").is_err());
        assert!(parse("Udp: InDatagrams InErrors RcvbufErrors\nUdp: 1 x 3\n").is_err());
    }
}
