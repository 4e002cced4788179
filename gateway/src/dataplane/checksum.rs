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

/// Copies `src` into `dst` (which must be as long) and returns the sum of `src` in the form
/// [`sum`] gives. The segmentation of a TUN super-packet copies every payload byte and must
/// checksum it too; here both happen per segment (about 1.4 KB), so the sum reads what the
/// copy has just brought into L1. (The compiler makes the copy one `memcpy` ahead of the
/// summing loop, also when written as vector loads and stores inside it: measured with
/// intrinsics, no faster.)
///
/// The words are added in the machine's byte order, 32 bits at a time into 64-bit lanes,
/// and the folded result is put into network order at the end: RFC 1071 section 2(B), the
/// one's complement sum does not depend on byte order, and 2^16 = 1 modulo 2^16 - 1, so
/// summing 32-bit words folds to the sum of their 16-bit halves. On x86-64 with AVX2 the
/// loop is compiled for 32-byte vectors.
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the one requirement of calling a `target_feature(enable = "avx2")`
        // function is that the CPU has AVX2, which was just checked.
        return unsafe { copy_and_sum_avx2(dst, src) };
    }
    copy_and_sum_lanes(dst, src)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn copy_and_sum_avx2(dst: &mut [u8], src: &[u8]) -> u64 {
    copy_and_sum_lanes(dst, src)
}

#[inline(always)]
fn copy_and_sum_lanes(dst: &mut [u8], src: &[u8]) -> u64 {
    let dst = &mut dst[..src.len()];
    let mut lanes = [0u64; 8];
    let mut d = dst.chunks_exact_mut(64);
    let mut s = src.chunks_exact(64);
    for (db, sb) in (&mut d).zip(&mut s) {
        db.copy_from_slice(sb);
        for (i, w) in sb.chunks_exact(4).enumerate() {
            lanes[i % 8] += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    let (dr, sr) = (d.into_remainder(), s.remainder());
    dr.copy_from_slice(sr);
    let mut words = sr.chunks_exact(4);
    for w in &mut words {
        lanes[0] += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    // The last 1-3 bytes, zero-padded to a word (the padding adds nothing).
    let mut last = [0u8; 4];
    let rest = words.remainder();
    last[..rest.len()].copy_from_slice(rest);
    lanes[1] += u64::from(u32::from_ne_bytes(last));
    // Each lane holds fewer than 2^32 words below 2^32 for any slice shorter than 16 GiB,
    // so neither a lane nor (folded first) their total can overflow.
    let total = lanes.iter().map(|&l| u64::from(fold(l))).sum();
    u64::from(u16::from_be(fold(total)))
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

    type CopySum = fn(&mut [u8], &[u8]) -> u64;

    #[test]
    fn copy_and_sum_copies_and_matches_the_bytewise_sum() {
        // Every length around the block and word boundaries, and odd starting offsets.
        let src: Vec<u8> = (0..300u32).map(|i| (i * 131 + 7) as u8).collect();
        for start in [0usize, 1, 3] {
            for len in (0..=200).chain([255, 256, 257]) {
                let from = &src[start..start + len];
                // The dispatching entry (AVX2 where the CPU has it) and the portable loop.
                let entries: [CopySum; 2] = [copy_and_sum, copy_and_sum_lanes];
                for f in entries {
                    let mut dst = vec![0xeeu8; len + 5];
                    let got = f(&mut dst, from);
                    assert_eq!(&dst[..len], from, "copy, start {start} len {len}");
                    assert!(dst[len..].iter().all(|&b| b == 0xee), "stays in bounds");
                    assert_eq!(fold(got), fold(sum(0, from)), "start {start} len {len}");
                }
            }
        }
        // All-ones data: the end-around carries must not be lost.
        let ones = vec![0xffu8; 70_000];
        let mut dst = vec![0u8; 70_000];
        assert_eq!(fold(copy_and_sum(&mut dst, &ones)), fold(sum(0, &ones)));
        assert_eq!(
            fold(copy_and_sum_lanes(&mut dst, &ones)),
            fold(sum(0, &ones))
        );
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
