//! Demultiplexing of datagrams received on UDP port 4500 (RFC 3948 sections 2.1-2.3,
//! RFC 7296 section 2.23).

/// What a datagram on UDP 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp4500<'a> {
    /// An IKE message, after the 4-byte zero non-ESP marker.
    Ike(&'a [u8]),
    /// A NAT-keepalive: a single 0xFF byte (RFC 3948 section 2.3).
    Keepalive,
    /// An ESP packet (non-zero SPI in the first 4 bytes), the whole datagram.
    Esp(&'a [u8]),
    /// None of the above: drop.
    Malformed,
}

/// Classifies a UDP 4500 payload.
pub fn classify_udp_4500(datagram: &[u8]) -> Udp4500<'_> {
    match datagram {
        [0xff] => Udp4500::Keepalive,
        [0, 0, 0, 0, ike @ ..] if !ike.is_empty() => Udp4500::Ike(ike),
        [0, 0, 0, 0, ..] => Udp4500::Malformed,
        // SPI (4) + sequence number (4) at least.
        esp if esp.len() >= 8 => Udp4500::Esp(esp),
        _ => Udp4500::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify_udp_4500(&[0xff]), Udp4500::Keepalive);
        assert_eq!(
            classify_udp_4500(&[0, 0, 0, 0, 1, 2]),
            Udp4500::Ike(&[1, 2])
        );
        assert_eq!(classify_udp_4500(&[0, 0, 0, 0]), Udp4500::Malformed);
        let esp = [0, 0, 1, 0, 0, 0, 0, 1];
        assert_eq!(classify_udp_4500(&esp), Udp4500::Esp(&esp));
        assert_eq!(classify_udp_4500(&esp[..7]), Udp4500::Malformed);
        assert_eq!(classify_udp_4500(&[]), Udp4500::Malformed);
        assert_eq!(classify_udp_4500(&[0xfe]), Udp4500::Malformed);
        assert_eq!(classify_udp_4500(&[0xff, 0xff]), Udp4500::Malformed);
    }
}
