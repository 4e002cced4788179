//! Traffic-selector prefixes (`10.0.0.0/16`): address plus prefix length, host bits checked.

use std::fmt;
use std::net::IpAddr;

/// An IP prefix with no host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// Parses `10.0.0.0/16`, `2001:db8::/32` or a bare address (a /32 or /128 host route).
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let t = text.trim();
        if t == "dynamic" || t.contains('[') {
            return Err(format!(
                "`{t}` is not supported: a site-to-site tunnel needs subnets such as 10.0.0.0/16 \
                 (no `dynamic`, protocol or port selectors)"
            ));
        }
        let (a, l) = match t.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (t, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("`{t}` is not a prefix: write it like 10.0.0.0/16"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("`{t}`: prefix length must be 0..={max}")),
            },
        };
        let p = Prefix { addr, len };
        let network = p.network();
        if network != addr {
            return Err(format!("{t} has host bits set: use {network}/{len}"));
        }
        Ok(p)
    }

    /// The address with the host bits cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.len)
                };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.len)
                };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// First and last address covered (for TS_IPV4_ADDR_RANGE / TS_IPV6_ADDR_RANGE).
    pub fn range(&self) -> (IpAddr, IpAddr) {
        match self.addr {
            IpAddr::V4(a) => {
                let host = if self.len == 32 {
                    0
                } else {
                    u32::MAX >> self.len
                };
                (self.addr, IpAddr::V4((u32::from(a) | host).into()))
            }
            IpAddr::V6(a) => {
                let host = if self.len == 128 {
                    0
                } else {
                    u128::MAX >> self.len
                };
                (self.addr, IpAddr::V6((u128::from(a) | host).into()))
            }
        }
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Prefix) -> bool {
        if self.addr.is_ipv4() != other.addr.is_ipv4() {
            return false;
        }
        let shorter = if self.len <= other.len { self } else { other };
        let longer = if self.len <= other.len { other } else { self };
        Prefix {
            addr: longer.addr,
            len: shorter.len,
        }
        .network()
            == shorter.addr
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_host_bits() {
        assert_eq!(
            Prefix::parse("10.0.0.0/16").unwrap().to_string(),
            "10.0.0.0/16"
        );
        assert_eq!(
            Prefix::parse("10.0.0.7").unwrap().to_string(),
            "10.0.0.7/32"
        );
        assert_eq!(Prefix::parse("2001:db8::/32").unwrap().len, 32);
        assert_eq!(
            Prefix::parse("10.0.0.1/16").unwrap_err(),
            "10.0.0.1/16 has host bits set: use 10.0.0.0/16"
        );
        assert!(Prefix::parse("10.0.0.0/33").is_err());
        assert!(Prefix::parse("dynamic").unwrap_err().contains("subnets"));
        assert_eq!(Prefix::parse("0.0.0.0/0").unwrap().len, 0);
    }

    #[test]
    fn ranges_and_overlaps() {
        let p = Prefix::parse("10.1.0.0/16").unwrap();
        assert_eq!(p.range().1.to_string(), "10.1.255.255");
        assert!(p.overlaps(&Prefix::parse("10.1.2.0/24").unwrap()));
        assert!(Prefix::parse("10.0.0.0/8").unwrap().overlaps(&p));
        assert!(!p.overlaps(&Prefix::parse("10.2.0.0/16").unwrap()));
    }
}
