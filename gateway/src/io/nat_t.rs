//! RFC 3948 framing on UDP port 4500: IKE behind the 4-byte non-ESP marker, one-byte NAT
//! keepalives, and ESP (which starts with a non-zero SPI).
//!
//! (The `esp` crate has no classifier of its own, so it lives here next to the socket.)

/// The non-ESP marker that precedes IKE messages on port 4500 (RFC 3948 2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT-keepalive packet (RFC 3948 2.3).
pub const KEEPALIVE: [u8; 1] = [0xff];
/// The fixed IKE header length (RFC 7296 3.1).
const IKE_HEADER_LEN: usize = 28;
/// SPI + sequence number.
const ESP_MIN_LEN: usize = 8;

/// What a datagram received on port 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// An IKE message, marker stripped.
    Ike(&'a [u8]),
    /// A NAT-keepalive: drop it.
    Keepalive,
    /// An ESP packet, starting at the SPI.
    Esp(&'a [u8]),
    /// Anything else: drop it.
    Malformed,
}

/// Classifies a datagram received on the NAT-T port.
pub fn classify(datagram: &[u8]) -> Datagram<'_> {
    match datagram {
        [0xff] => Datagram::Keepalive,
        [0, 0, 0, 0, ike @ ..] if ike.len() >= IKE_HEADER_LEN => Datagram::Ike(ike),
        [0, 0, 0, 0, ..] => Datagram::Malformed,
        esp if esp.len() >= ESP_MIN_LEN => Datagram::Esp(esp),
        _ => Datagram::Malformed,
    }
}

/// Writes `ike` behind the non-ESP marker into `out` (cleared first), for sending on 4500.
pub fn frame_ike(ike: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(NON_ESP_MARKER.len() + ike.len());
    out.extend_from_slice(&NON_ESP_MARKER);
    out.extend_from_slice(ike);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(&[0xff]), Datagram::Keepalive);
        let mut ike = vec![0u8; 4];
        ike.extend_from_slice(&[7u8; 28]);
        assert_eq!(classify(&ike), Datagram::Ike(&[7u8; 28]));
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2]), Datagram::Malformed);
        let esp = [0, 0, 1, 0, 0, 0, 0, 1, 9, 9];
        assert_eq!(classify(&esp), Datagram::Esp(&esp));
        assert_eq!(classify(&[1, 2, 3]), Datagram::Malformed);
        assert_eq!(classify(&[]), Datagram::Malformed);
        assert_eq!(classify(&[0xfe]), Datagram::Malformed);
    }

    #[test]
    fn frame_roundtrip() {
        let mut out = vec![1, 2, 3];
        let msg = [5u8; 40];
        frame_ike(&msg, &mut out);
        assert_eq!(classify(&out), Datagram::Ike(&msg));
    }

    #[test]
    fn never_panics_on_short_or_odd_input() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..64 {
            for _ in 0..64 {
                let d: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x % 3) as u8 * 0x7f
                    })
                    .collect();
                match classify(&d) {
                    Datagram::Ike(i) => assert_eq!(i.len() + 4, d.len()),
                    Datagram::Esp(e) => assert_eq!(e, &d[..]),
                    Datagram::Keepalive => assert_eq!(d, [0xff]),
                    Datagram::Malformed => {}
                }
            }
        }
    }
}
