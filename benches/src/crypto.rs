//! The crypto ceiling on this CPU: AES-256-GCM over 1400-byte packets on one core, measured with
//! `openssl speed` and with ring (what ipsecgw's ESP uses).

use std::process::Command;
use std::time::{Duration, Instant};

use interop_tests::proc::run_checked;
use interop_tests::{bail, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// Packet size of both measurements.
pub const PACKET: usize = 1400;

/// `openssl speed -evp aes-256-gcm -bytes 1400` on one core: bytes per second.
pub fn openssl_aes256gcm(seconds: u32) -> Result<f64> {
    let out = run_checked(Command::new("openssl").args([
        "speed",
        "-mr",
        "-seconds",
        &seconds.to_string(),
        "-bytes",
        &PACKET.to_string(),
        "-evp",
        "aes-256-gcm",
    ]))?;
    parse_openssl_mr(&out).ok_or_else(|| interop_tests::Error::new(format!("unparsed: {out}")))
}

/// The `+F:<n>:<alg>:<bytes/s>` line of `openssl speed -mr`.
pub fn parse_openssl_mr(out: &str) -> Option<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("+F:"))
        .find_map(|l| l.rsplit(':').next()?.trim().parse().ok())
}

/// Result of the ring measurement.
#[derive(Debug, Clone, Copy)]
pub struct SealRate {
    pub ns_per_packet: f64,
    pub bytes_per_sec: f64,
}

/// Seals 1400-byte packets in place with ring AES-256-GCM (8-byte AAD, like ESP's SPI and
/// sequence number) for about `dur` on the calling thread.
pub fn ring_seal(dur: Duration) -> Result<SealRate> {
    let key = match UnboundKey::new(&AES_256_GCM, &[0x42; 32]) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => bail!("ring rejected the key"),
    };
    let mut buf = vec![0x5au8; PACKET];
    let mut n: u64 = 0;
    let start = Instant::now();
    loop {
        for _ in 0..1024 {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            let aad = [
                0u8,
                0,
                0,
                1,
                (n >> 24) as u8,
                (n >> 16) as u8,
                (n >> 8) as u8,
                n as u8,
            ];
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut buf,
                )
                .map_err(|_| interop_tests::Error::new("seal failed"))?;
            let _ = std::hint::black_box(tag);
            n += 1;
        }
        if start.elapsed() >= dur {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(SealRate {
        ns_per_packet: secs * 1e9 / n as f64,
        bytes_per_sec: (n as f64 * PACKET as f64) / secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssl_machine_readable() {
        let out = "+DT:aes-256-gcm:3:1400\n+R:1234567:aes-256-gcm:3.000000\n\
                   +H:1400\n+F:22:aes-256-gcm:5761234567.89\n";
        assert_eq!(parse_openssl_mr(out), Some(5761234567.89));
    }

    #[test]
    fn ring_seal_runs() {
        let r = ring_seal(Duration::from_millis(10)).unwrap();
        assert!(r.bytes_per_sec > 0.0);
    }
}
