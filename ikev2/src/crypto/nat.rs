//! NAT detection hashes (RFC 7296 2.23).

use ring::digest;
use std::net::{IpAddr, SocketAddr};

/// NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | port) (RFC 7296 2.23), SPIs 8 bytes and
/// port 2 bytes big-endian, IP 4 (IPv4) or 16 (IPv6) bytes.
pub fn nat_detection_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> [u8; 20] {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&spi_i.to_be_bytes());
    ctx.update(&spi_r.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => ctx.update(&a.octets()),
        IpAddr::V6(a) => ctx.update(&a.octets()),
    }
    ctx.update(&addr.port().to_be_bytes());
    let mut out = [0u8; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
