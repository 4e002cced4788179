//! Traffic selector narrowing (RFC 7296 2.9): the responder answers with the intersection of
//! what the initiator proposed and what its policy allows; the initiator checks the answer is
//! within its proposal.

use crate::wire::{TrafficSelector, TsType};
use std::net::IpAddr;

/// An address as (is IPv6, value) so v4 and v6 ranges never mix.
fn key(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    }
}

fn from_key(v6: bool, v: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(v.into())
    } else {
        // Only ever called with values that came from v4 addresses.
        IpAddr::V4(u32::try_from(v).unwrap_or(u32::MAX).into())
    }
}

/// A selector whose type, address family and ranges are consistent.
fn well_formed(ts: &TrafficSelector) -> bool {
    let (s6, s) = key(ts.start);
    let (e6, e) = key(ts.end);
    let family_ok = match ts.ts_type {
        TsType::IPV4_ADDR_RANGE => !s6 && !e6,
        TsType::IPV6_ADDR_RANGE => s6 && e6,
        _ => false,
    };
    family_ok && s <= e && ts.start_port <= ts.end_port
}

/// The intersection of two selectors, if not empty.
pub(crate) fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    if !well_formed(a) || !well_formed(b) || a.ts_type != b.ts_type {
        return None;
    }
    let ip_protocol = match (a.ip_protocol, b.ip_protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    let (v6, a_start) = key(a.start);
    let start = a_start.max(key(b.start).1);
    let end = key(a.end).1.min(key(b.end).1);
    (start_port <= end_port && start <= end).then(|| TrafficSelector {
        ts_type: a.ts_type,
        ip_protocol,
        start_port,
        end_port,
        start: from_key(v6, start),
        end: from_key(v6, end),
    })
}

/// Responder: every non-empty intersection of a proposed selector with an allowed one, without
/// duplicates, in the order proposed. Empty means TS_UNACCEPTABLE.
pub(crate) fn narrow(
    proposed: &[TrafficSelector],
    allowed: &[TrafficSelector],
) -> Vec<TrafficSelector> {
    let mut out: Vec<TrafficSelector> = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(ts) = intersect(p, a) {
                if !out.contains(&ts) {
                    out.push(ts);
                }
            }
        }
    }
    out
}

/// Initiator: the responder's selectors are non-empty and each lies within one we proposed.
pub(crate) fn within(answer: &[TrafficSelector], proposed: &[TrafficSelector]) -> bool {
    !answer.is_empty()
        && answer
            .iter()
            .all(|a| proposed.iter().any(|p| intersect(a, p).as_ref() == Some(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
        TrafficSelector {
            ts_type: TsType::IPV4_ADDR_RANGE,
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: IpAddr::V4(Ipv4Addr::from(a)),
            end: IpAddr::V4(Ipv4Addr::from(b)),
        }
    }

    #[test]
    fn narrows_to_the_allowed_subnet() {
        let proposed = [v4([10, 0, 0, 0], [10, 0, 255, 255])];
        let allowed = [v4([10, 0, 1, 0], [10, 0, 1, 255])];
        assert_eq!(narrow(&proposed, &allowed), allowed.to_vec());
        assert!(within(&allowed, &proposed));
        assert!(!within(&proposed, &allowed));
    }

    #[test]
    fn disjoint_and_mixed_family_are_empty() {
        let a = [v4([10, 0, 0, 0], [10, 0, 0, 255])];
        let b = [v4([10, 1, 0, 0], [10, 1, 0, 255])];
        assert!(narrow(&a, &b).is_empty());
        let mut v6 = v4([0; 4], [0; 4]);
        v6.ts_type = TsType::IPV6_ADDR_RANGE;
        assert!(narrow(&a, &[v6]).is_empty());
        assert!(!within(&[], &a));
    }

    #[test]
    fn protocol_and_ports_intersect() {
        let mut a = v4([0; 4], [255; 4]);
        a.ip_protocol = 6;
        a.start_port = 100;
        a.end_port = 200;
        let mut b = v4([1, 2, 3, 4], [1, 2, 3, 4]);
        b.start_port = 150;
        let got = intersect(&a, &b).unwrap();
        assert_eq!(
            (got.ip_protocol, got.start_port, got.end_port),
            (6, 150, 200)
        );
        let mut c = b.clone();
        c.ip_protocol = 17;
        assert_eq!(intersect(&a, &c), None);
    }
}
