//! Which queue of a multi-queue TUN device an inbound packet is written through.
//!
//! The kernel picks the queue a packet *read* from the TUN comes out of by its flow table
//! (tun "automq"): a flow's packets go to the queue that the flow's last packet in the other
//! direction was *written* through. So the inbound worker decides which outbound worker
//! encrypts each flow's return traffic: writing every flow through the queue of a hash of
//! its addresses, protocol and ports spreads flows over the outbound workers and keeps each
//! flow on one worker (no reordering inside a flow). Packets without a reverse direction
//! (flows that only leave) are spread by the kernel's own hash.

use etherparse::{IpNumber, IpSlice};

/// The queue (of `queues`) for an inner IPv4/IPv6 packet: one per flow (addresses,
/// protocol and, for TCP/UDP/SCTP, ports); 0 when there is one queue or the packet cannot
/// be parsed.
pub fn queue_of(packet: &[u8], queues: usize) -> usize {
    if queues <= 1 {
        return 0;
    }
    let Ok(ip) = IpSlice::from_slice(packet) else {
        return 0;
    };
    let mut h = Fnv::default();
    match &ip {
        IpSlice::Ipv4(v4) => {
            h.write(&v4.header().source());
            h.write(&v4.header().destination());
        }
        IpSlice::Ipv6(v6) => {
            h.write(&v6.header().source());
            h.write(&v6.header().destination());
        }
    }
    let payload = ip.payload();
    h.write(&[payload.ip_number.0]);
    let has_ports = matches!(
        payload.ip_number,
        IpNumber::TCP | IpNumber::UDP | IpNumber::SCTP | IpNumber::UDP_LITE
    );
    // A fragment other than the first has no ports: hash all fragments by addresses only,
    // so they stay on one queue.
    if has_ports && !payload.fragmented {
        if let Some(ports) = payload.payload.get(..4) {
            h.write(ports);
        }
    }
    (h.0 % queues as u64) as usize
}

/// FNV-1a (64-bit): a few multiplications per packet, no allocation.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1, 1000);
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("build");
        v
    }

    #[test]
    fn one_queue_or_garbage_is_queue_zero() {
        let p = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, b"x");
        assert_eq!(queue_of(&p, 1), 0);
        assert_eq!(queue_of(&[0x45, 0, 0], 4), 0);
        assert_eq!(queue_of(&[], 4), 0);
    }

    /// Every packet of a flow maps to the same queue whatever its payload; different flows
    /// spread over all queues.
    #[test]
    fn a_flow_keeps_its_queue_and_flows_spread() {
        let a = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, b"first");
        let b = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, &[7u8; 1200]);
        assert_eq!(queue_of(&a, 4), queue_of(&b, 4));
        let mut seen = [0usize; 4];
        for port in 40000..40400u16 {
            let p = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, port, b"");
            let q = queue_of(&p, 4);
            assert!(q < 4);
            seen[q] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "uneven spread: {seen:?}");
    }

    #[test]
    fn ipv6_and_udp_flows_are_hashed_too() {
        let b = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).udp(53, 5353);
        let mut spread = std::collections::HashSet::new();
        for last in 0..64u8 {
            let mut src = [0xfd; 16];
            src[15] = last;
            let b2 = PacketBuilder::ipv6(src, [0xfe; 16], 64).udp(53, 5353);
            let mut v = Vec::new();
            b2.write(&mut v, b"q").expect("build");
            spread.insert(queue_of(&v, 3));
        }
        assert_eq!(spread.len(), 3);
        let mut v = Vec::new();
        b.write(&mut v, b"q").expect("build");
        assert_eq!(queue_of(&v, 3), queue_of(&v, 3));
    }
}
