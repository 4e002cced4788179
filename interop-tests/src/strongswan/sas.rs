//! Parsing `swanctl --list-sas` output.

/// IKE and CHILD SAs seen in one `swanctl --list-sas` listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaSummary {
    /// `(connection name, state)` of every IKE SA, e.g. `("azure", "ESTABLISHED")`.
    pub ike: Vec<(String, String)>,
    /// `(child name, state)` of every CHILD SA, e.g. `("vnet", "INSTALLED")`.
    pub child: Vec<(String, String)>,
    /// Bytes counted on the CHILD SAs' inbound / outbound SAs, summed over all CHILD SAs.
    pub child_bytes_in: u64,
    pub child_bytes_out: u64,
}

impl SaSummary {
    pub fn parse(listing: &str) -> SaSummary {
        let mut s = SaSummary::default();
        for line in listing.lines() {
            let t = line.trim_start();
            if let Some(dir) = ["in ", "out "].iter().find(|d| t.starts_with(**d)) {
                let bytes = t
                    .split(',')
                    .nth(1)
                    .and_then(|f| f.split_whitespace().next()?.parse::<u64>().ok());
                match (*dir, bytes) {
                    ("in ", Some(b)) => s.child_bytes_in += b,
                    (_, Some(b)) => s.child_bytes_out += b,
                    _ => {}
                }
                continue;
            }
            let Some((name, rest)) = line.split_once(": #") else {
                continue;
            };
            let fields: Vec<&str> = rest.split(", ").collect();
            let indented = line.starts_with(' ');
            if !indented && fields.len() >= 2 {
                s.ike.push((name.to_string(), fields[1].trim().to_string()));
            } else if indented && fields.len() >= 3 && fields[1].starts_with("reqid") {
                s.child
                    .push((name.trim().to_string(), fields[2].trim().to_string()));
            }
        }
        s
    }

    pub fn ike_count(&self) -> usize {
        self.ike.len()
    }

    pub fn child_count(&self) -> usize {
        self.child.len()
    }

    pub fn ike_established(&self) -> usize {
        self.ike
            .iter()
            .filter(|(_, st)| st == "ESTABLISHED")
            .count()
    }

    pub fn child_installed(&self) -> usize {
        self.child
            .iter()
            .filter(|(_, st)| st == "INSTALLED")
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
azure: #1, ESTABLISHED, IKEv2, 9e1b1d3f2b6c1a2e_i* 4b1c2f3e5d6a7b8c_r
  local  '198.51.100.10' @ 172.31.5.10[4500]
  remote '203.0.113.20' @ 203.0.113.20[4500]
  AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024
  established 1s ago, rekeying in 27981s
  vnet: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256
    installed 1s ago, rekeying in 25962s, expires in 29701s
    in  c2d1a5e4,   1680 bytes,    20 packets,     0s ago
    out c6e3b0f1,  21000 bytes,    25 packets,     0s ago
    local  10.0.1.0/24
    remote 10.1.0.0/24
";

    #[test]
    fn parses_ike_and_child() {
        let s = SaSummary::parse(LISTING);
        assert_eq!(s.ike, vec![("azure".into(), "ESTABLISHED".into())]);
        assert_eq!(s.child, vec![("vnet".into(), "INSTALLED".into())]);
        assert_eq!((s.ike_established(), s.child_installed()), (1, 1));
        assert_eq!((s.child_bytes_in, s.child_bytes_out), (1680, 21000));
        assert_eq!(SaSummary::parse(""), SaSummary::default());
    }
}
