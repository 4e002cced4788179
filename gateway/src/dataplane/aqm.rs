//! Active queue management for the inbound worker: CoDel on the socket queue's sojourn time
//! (`codel`), signalled only on packets of the flows that fill the queue (`FatFlows`), by ECN
//! CE where the inner packet is ECN-capable (RFC 3168 5) and by a drop otherwise.
//!
//! Sparse flows (DNS, Kerberos, LDAP, a ping) are never marked or dropped here: like fq_codel,
//! congestion is signalled to the flows that cause it.

use super::checksum;
use super::codel::{Codel, CodelParams, Verdict};

/// Flow buckets; a collision only makes a sparse flow share a fat flow's fate.
const BUCKETS: usize = 64;
/// When this many bytes have been counted, all counts are halved: the shares follow the last
/// few megabytes of traffic seen while the queue was building.
const DECAY_BYTES: u64 = 4 << 20;

/// Recent bytes per flow bucket, counted while the queue is above target.
#[derive(Debug, Clone)]
pub struct FatFlows {
    bytes: [u32; BUCKETS],
    total: u64,
}

impl Default for FatFlows {
    fn default() -> Self {
        Self {
            bytes: [0; BUCKETS],
            total: 0,
        }
    }
}

impl FatFlows {
    /// Counts `pkt` (an inner IPv4/IPv6 packet) against its flow and says whether that flow is
    /// a fat one: it holds at least half the mean bytes of the flows seen recently.
    pub fn note(&mut self, pkt: &[u8]) -> bool {
        let b = bucket(pkt);
        let len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
        if let Some(slot) = self.bytes.get_mut(b) {
            *slot = slot.saturating_add(len);
        }
        self.total += u64::from(len);
        if self.total >= DECAY_BYTES {
            for v in &mut self.bytes {
                *v /= 2;
            }
            self.total = self.bytes.iter().map(|&v| u64::from(v)).sum();
        }
        let active = self.bytes.iter().filter(|&&v| v > 0).count().max(1) as u64;
        let mine = u64::from(self.bytes.get(b).copied().unwrap_or(0));
        mine * 2 * active >= self.total
    }
}

/// The flow bucket of an inner packet: addresses, protocol and (TCP/UDP/SCTP, unfragmented)
/// ports. Anything unparseable shares bucket 0.
fn bucket(p: &[u8]) -> usize {
    let key = match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
            let proto = p.get(9).copied().unwrap_or(0);
            // Fragment offset or MF set: later fragments carry no ports.
            let frag = p.get(6..8).is_some_and(|f| f[0] & 0x3f != 0 || f[1] != 0);
            let addrs = p.get(12..20).unwrap_or(&[]);
            let ports = if frag { None } else { ports_at(p, ihl, proto) };
            fold(addrs, proto, ports)
        }
        Some(6) => {
            let proto = p.get(6).copied().unwrap_or(0);
            let addrs = p.get(8..40).unwrap_or(&[]);
            fold(addrs, proto, ports_at(p, 40, proto))
        }
        _ => 0,
    };
    // Fibonacci hashing: the top bits of the product.
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % BUCKETS
}

fn ports_at(p: &[u8], at: usize, proto: u8) -> Option<[u8; 4]> {
    match proto {
        6 | 17 | 132 => p.get(at..at + 4)?.try_into().ok(),
        _ => None,
    }
}

fn fold(addrs: &[u8], proto: u8, ports: Option<[u8; 4]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    addrs.iter().for_each(|&b| eat(b));
    eat(proto);
    ports.unwrap_or_default().iter().for_each(|&b| eat(b));
    h
}

/// Sets ECN CE on an ECN-capable inner packet (RFC 3168 5), fixing the IPv4 header checksum
/// (RFC 1624). Returns false for Not-ECT packets (and anything that is not IPv4/IPv6), which
/// must be dropped instead.
pub fn set_ce(p: &mut [u8]) -> bool {
    match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => {
            let tos = p[1];
            if tos & 0b11 == 0 {
                return false;
            }
            let new = tos | 0b11;
            if new != tos {
                let old_word = u16::from_be_bytes([p[0], tos]);
                let new_word = u16::from_be_bytes([p[0], new]);
                p[1] = new;
                let sum = u16::from_be_bytes([p[10], p[11]]);
                let sum = checksum::update16(sum, old_word, new_word);
                p[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            true
        }
        Some(6) if p.len() >= 40 => {
            // Traffic class is bits 4..12 of the header; ECN its two low bits, in byte 1.
            if p[1] & 0x30 == 0 {
                return false;
            }
            p[1] |= 0x30;
            true
        }
        _ => false,
    }
}

/// What the inbound worker counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AqmCounts {
    pub marked: u64,
    pub dropped: u64,
}

/// CoDel plus flow selection for one receive queue.
#[derive(Debug, Clone)]
pub struct Aqm {
    codel: Codel,
    flows: FatFlows,
}

impl Aqm {
    pub fn new(params: CodelParams) -> Self {
        Self {
            codel: Codel::new(params),
            flows: FatFlows::default(),
        }
    }

    /// Judges one decrypted inner packet read at `now` after `sojourn` ns in the queue: true
    /// to forward it (possibly CE-marked), false to drop it.
    pub fn forward(
        &mut self,
        now: u64,
        sojourn: u64,
        pkt: &mut [u8],
        counts: &mut AqmCounts,
    ) -> bool {
        // Flows are only tracked while the queue builds: at low load this costs nothing.
        let eligible = self.codel.above_target(sojourn) && self.flows.note(pkt);
        match self.codel.on_dequeue(now, sojourn, eligible) {
            Verdict::Pass => true,
            Verdict::Signal if set_ce(pkt) => {
                counts.marked += 1;
                true
            }
            Verdict::Signal => {
                counts.dropped += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket};
    use std::time::Duration;

    fn tcp4(src_port: u16, payload: usize, ecn: u8) -> Vec<u8> {
        let b =
            PacketBuilder::ipv4([10, 1, 0, 10], [10, 0, 1, 10], 64).tcp(src_port, 445, 1, 65535);
        let mut v = Vec::new();
        b.write(&mut v, &vec![0u8; payload]).unwrap();
        // Set the ECN field and recompute the header checksum from scratch.
        v[1] = (v[1] & !0b11) | ecn;
        v[10] = 0;
        v[11] = 0;
        let ip = etherparse::Ipv4HeaderSlice::from_slice(&v)
            .unwrap()
            .to_header();
        let sum = ip.calc_header_checksum();
        v[10..12].copy_from_slice(&sum.to_be_bytes());
        v
    }

    #[test]
    fn ce_is_set_on_ect_packets_with_a_valid_checksum() {
        for ecn in [0b01, 0b10, 0b11] {
            let mut p = tcp4(5000, 100, ecn);
            assert!(set_ce(&mut p));
            assert_eq!(p[1] & 0b11, 0b11);
            let h = etherparse::Ipv4HeaderSlice::from_slice(&p)
                .unwrap()
                .to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum(), "ecn {ecn:02b}");
            assert!(SlicedPacket::from_ip(&p).is_ok());
        }
        let mut p = tcp4(5000, 100, 0);
        let before = p.clone();
        assert!(!set_ce(&mut p), "Not-ECT must be dropped, not marked");
        assert_eq!(p, before);
    }

    #[test]
    fn ce_on_ipv6() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 10]).unwrap();
        assert!(!set_ce(&mut v));
        // Traffic class 0x02 (ECT(0)).
        v[1] |= 0x20;
        assert!(set_ce(&mut v));
        let h = etherparse::Ipv6HeaderSlice::from_slice(&v).unwrap();
        assert_eq!(h.traffic_class() & 0b11, 0b11);
        assert_eq!(h.flow_label().value(), 0);
        assert!(!set_ce(&mut [0x60; 20]), "too short");
        assert!(!set_ce(&mut []));
    }

    #[test]
    fn only_fat_flows_are_eligible() {
        let mut f = FatFlows::default();
        let bulk = tcp4(40000, 1300, 0);
        let sparse = tcp4(53, 60, 0);
        let mut sparse_eligible = 0;
        for i in 0..20_000 {
            assert!(f.note(&bulk) || i < 1, "bulk flow at {i}");
            if i % 100 == 0 && f.note(&sparse) {
                sparse_eligible += 1;
            }
        }
        // Only the very first sparse packet (when it was the second flow seen) could count.
        assert!(sparse_eligible <= 1, "{sparse_eligible}");
        // Four equal bulk flows are all eligible.
        let mut f = FatFlows::default();
        let flows: Vec<Vec<u8>> = (0..4).map(|i| tcp4(41000 + i, 1300, 0)).collect();
        let mut eligible = [0; 4];
        for _ in 0..5000 {
            for (i, p) in flows.iter().enumerate() {
                eligible[i] += usize::from(f.note(p));
            }
        }
        assert!(eligible.iter().all(|&e| e > 4900), "{eligible:?}");
    }

    #[test]
    fn a_standing_queue_drops_bulk_never_the_ping() {
        let mut aqm = Aqm::new(CodelParams {
            target: Duration::from_millis(1),
            interval: Duration::from_millis(20),
        });
        let mut counts = AqmCounts::default();
        let ping = {
            let mut v = Vec::new();
            PacketBuilder::ipv4([10, 1, 0, 10], [10, 0, 1, 10], 64)
                .icmpv4_echo_request(1, 1)
                .write(&mut v, &[0u8; 56])
                .unwrap();
            v
        };
        let (mut ping_lost, mut bulk_dropped, mut marked) = (0, 0, 0);
        // One second, a packet every 2 us with 3 ms of standing queue; a ping every 10 ms;
        // every other bulk packet ECN-capable.
        let us = 1_000u64;
        for i in 0..500_000u64 {
            let now = i * 2 * us;
            if i % 5_000 == 0 {
                let mut p = ping.clone();
                if !aqm.forward(now, 3_000 * us, &mut p, &mut counts) {
                    ping_lost += 1;
                }
            }
            let mut p = tcp4(40000, 1300, if i % 2 == 0 { 0b10 } else { 0 });
            let before = counts.marked;
            if !aqm.forward(now + 1, 3_000 * us, &mut p, &mut counts) {
                bulk_dropped += 1;
            }
            if counts.marked > before {
                assert_eq!(p[1] & 0b11, 0b11);
                marked += 1;
            }
        }
        assert_eq!(ping_lost, 0);
        assert!(bulk_dropped > 10, "{bulk_dropped}");
        assert!(marked > 10, "{marked}");
        assert_eq!(counts.dropped, bulk_dropped);
        // Drained: nothing more is signalled.
        let before = counts;
        for i in 0..10_000u64 {
            let mut p = tcp4(40000, 1300, 0);
            assert!(aqm.forward(2_000_000 * us + i * us, 100 * us, &mut p, &mut counts));
        }
        assert_eq!(counts, before);
    }
}
