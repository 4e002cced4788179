//! IKE identities as written in the config (strongSwan conventions).

use ikev2::wire::{IdType, Identification};
use std::fmt;
use std::net::IpAddr;

/// An IKE identity (RFC 7296 3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR.
    Addr(IpAddr),
    /// ID_FQDN.
    Fqdn(String),
    /// ID_RFC822_ADDR (`user@example.com`).
    Email(String),
    /// ID_KEY_ID (opaque bytes).
    KeyId(Vec<u8>),
}

impl Identity {
    /// Parses `198.51.100.10`, `2001:db8::1`, `fqdn:vpn.example.com`, `@vpn.example.com`,
    /// `vpn.example.com`, `email:a@b` / `a@b`, `keyid:text` or `keyid:#0a0b0c` (hex).
    pub fn parse(text: &str) -> Result<Identity, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err(
                "is empty: write an IP address, a hostname, fqdn:NAME or keyid:VALUE".into(),
            );
        }
        if let Some(v) = t.strip_prefix("keyid:") {
            if let Some(hex) = v.strip_prefix('#') {
                if hex.is_empty()
                    || hex.len() % 2 != 0
                    || !hex.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(format!(
                        "`{t}`: keyid:# must be followed by an even number of hex digits"
                    ));
                }
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
                    .collect();
                return Ok(Identity::KeyId(bytes));
            }
            if v.is_empty() {
                return Err(format!("`{t}`: keyid: needs a value"));
            }
            return Ok(Identity::KeyId(v.as_bytes().to_vec()));
        }
        if let Some(v) = t.strip_prefix("fqdn:").or_else(|| t.strip_prefix('@')) {
            return fqdn(v, t);
        }
        if let Some(v) = t.strip_prefix("email:") {
            return Ok(Identity::Email(v.to_string()));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Identity::Addr(ip));
        }
        if t.contains('@') {
            return Ok(Identity::Email(t.to_string()));
        }
        fqdn(t, t)
    }

    /// The Identification payload body.
    pub fn to_wire(&self) -> Identification {
        match self {
            Identity::Addr(IpAddr::V4(a)) => Identification {
                id_type: IdType::IPV4_ADDR,
                data: a.octets().to_vec(),
            },
            Identity::Addr(IpAddr::V6(a)) => Identification {
                id_type: IdType::IPV6_ADDR,
                data: a.octets().to_vec(),
            },
            Identity::Fqdn(n) => Identification {
                id_type: IdType::FQDN,
                data: n.as_bytes().to_vec(),
            },
            Identity::Email(n) => Identification {
                id_type: IdType::RFC822_ADDR,
                data: n.as_bytes().to_vec(),
            },
            Identity::KeyId(b) => Identification {
                id_type: IdType::KEY_ID,
                data: b.clone(),
            },
        }
    }
}

fn fqdn(name: &str, original: &str) -> Result<Identity, String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(Identity::Fqdn(name.to_string()))
    } else {
        Err(format!(
            "`{original}` is neither an IP address nor a valid hostname: use an IP address, \
             fqdn:NAME or keyid:VALUE"
        ))
    }
}

impl fmt::Display for Identity {
    /// The config form, which `Identity::parse` reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Addr(a) => write!(f, "{a}"),
            Identity::Fqdn(n) => write!(f, "fqdn:{n}"),
            Identity::Email(n) => write!(f, "email:{n}"),
            Identity::KeyId(b) => {
                f.write_str("keyid:#")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_and_round_trips() {
        let cases = [
            ("198.51.100.10", "198.51.100.10", IdType::IPV4_ADDR),
            ("2001:db8::1", "2001:db8::1", IdType::IPV6_ADDR),
            ("fqdn:vpn.example.com", "fqdn:vpn.example.com", IdType::FQDN),
            ("@vpn.example.com", "fqdn:vpn.example.com", IdType::FQDN),
            ("vpn.example.com", "fqdn:vpn.example.com", IdType::FQDN),
            (
                "ops@example.com",
                "email:ops@example.com",
                IdType::RFC822_ADDR,
            ),
            ("keyid:#0a0b", "keyid:#0a0b", IdType::KEY_ID),
            ("keyid:abc", "keyid:#616263", IdType::KEY_ID),
        ];
        for (text, shown, ty) in cases {
            let id = Identity::parse(text).unwrap();
            assert_eq!(id.to_string(), shown);
            assert_eq!(id.to_wire().id_type, ty);
            assert_eq!(Identity::parse(&id.to_string()).unwrap(), id);
        }
        assert_eq!(
            Identity::parse("198.51.100.10").unwrap().to_wire().data,
            vec![198, 51, 100, 10]
        );
        assert!(Identity::parse("not a host!").is_err());
        assert!(Identity::parse("keyid:#abc").is_err());
    }
}
