//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` as big-endian 16-bit words (odd trailing byte padded with zero) to `sum`.
/// The result is unfolded; call [`fold`].
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds an accumulated sum to 16 bits (not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for data whose unfolded sum is `acc`.
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// Pseudo-header sum for IPv4 (RFC 793/768).
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u64 {
    let acc = sum(sum(0, &src.octets()), &dst.octets());
    acc + u64::from(proto) + u64::from(len)
}

/// Pseudo-header sum for IPv6 (RFC 8200 8.1).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    let acc = sum(sum(0, &src.octets()), &dst.octets());
    acc + u64::from(len >> 16) + u64::from(len & 0xffff) + u64::from(next_header)
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit word changes from `old` to `new`.
/// For a 2-byte field at an odd offset, pass both values read little-endian.
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!check) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: sum of 0001 f203 f4f5 f6f7 folds to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &d)), 0xddf2);
    }

    #[test]
    fn incremental_matches_recompute_at_both_alignments() {
        let mut d: Vec<u8> = (0..41u8).map(|i| i.wrapping_mul(37)).collect();
        for pos in [4usize, 7] {
            let check = finish(sum(0, &d));
            let old = [d[pos], d[pos + 1]];
            let new = [0xab, 0xcd];
            d[pos..pos + 2].copy_from_slice(&new);
            let (o, n) = if pos % 2 == 0 {
                (u16::from_be_bytes(old), u16::from_be_bytes(new))
            } else {
                (u16::from_le_bytes(old), u16::from_le_bytes(new))
            };
            assert_eq!(update16(check, o, n), finish(sum(0, &d)), "pos {pos}");
        }
    }
}
