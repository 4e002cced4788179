//! Route policy for several tunnels that reach the same remote prefixes (Azure active-active:
//! one tunnel to each of the gateway's two public IPs; or two Azure gateways for redundancy).
//!
//! Pure: given each tunnel's HA group, state (up/down), priority and TUN ifindex, compute the
//! kernel routes the daemon should have ([`desired_routes`]) and the changes from what is
//! installed ([`plan`]). The daemon calls it on every tunnel up/down event (CHILD_SA installed,
//! DPD declared the peer dead, SA deleted) and applies the result with
//! `io::multipath::MultipathRoutes`.
//!
//! - `ecmp`: each prefix is routed over every *up* tunnel of the group (a multipath route,
//!   nexthops weighted); the kernel hashes flows onto nexthops, so a flow sticks to one tunnel.
//!   Inbound, every tunnel's traffic is accepted (Azure active-active sends on both at once and
//!   the return path of a flow may be the other tunnel).
//! - `active-standby`: each prefix is routed over the up tunnel with the lowest `priority`
//!   (ties: the name), i.e. the standby takes over when the active one goes down and hands
//!   back when it returns.
//! - When no tunnel of a group is up, the route stays on the preferred tunnel's device rather
//!   than being removed: traffic for the remote prefixes must never fall through to the default
//!   route in clear text. (The device drops it, or triggers the connection.)
//! - Tunnels without a group route their own prefixes over their own device, as before.
//!
//! Failover time is the peer-dead detection time (DPD: `dpd_delay` + `dpd_timeout`, within
//! Azure's 9-3600 s DPD timeout) plus one netlink round trip.

use crate::io::routes::IpPrefix;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How a group spreads traffic over its tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HaMode {
    /// Every up tunnel (multipath route, flows hashed onto tunnels).
    #[default]
    Ecmp,
    /// The up tunnel with the lowest priority value.
    ActiveStandby,
}

impl HaMode {
    /// `ecmp` or `active-standby` (the config spelling).
    pub fn parse(s: &str) -> Option<HaMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ecmp" => Some(HaMode::Ecmp),
            "active-standby" | "active_standby" => Some(HaMode::ActiveStandby),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HaMode::Ecmp => "ecmp",
            HaMode::ActiveStandby => "active-standby",
        }
    }
}

/// One tunnel as the route policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaTunnel {
    /// Connection name (for logs; ties in priority are broken by it).
    pub name: String,
    /// HA group: tunnels of one group share their remote prefixes. `None`: on its own.
    pub group: Option<String>,
    /// Lower is preferred (active-standby); also orders ECMP nexthops.
    pub priority: u32,
    /// ECMP weight (1-256 as `ip route` counts; 0 is treated as 1).
    pub weight: u16,
    /// CHILD_SA(s) installed and the peer not declared dead.
    pub up: bool,
    /// The tunnel's TUN device.
    pub ifindex: u32,
    /// The remote traffic selectors routed into the tunnel.
    pub prefixes: Vec<IpPrefix>,
}

/// A nexthop of a route: a TUN device and its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nexthop {
    pub ifindex: u32,
    /// 1-256 as `ip route` counts.
    pub weight: u16,
}

/// A route the kernel should have: the prefix over one or more TUN devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRoute {
    pub prefix: IpPrefix,
    /// At least one; more than one = a multipath (ECMP) route.
    pub nexthops: Vec<Nexthop>,
    /// No tunnel for this prefix is up: the route only holds traffic off the default route.
    pub held: bool,
}

/// A change to apply, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// Install or replace the route to the prefix.
    Set(DesiredRoute),
    /// Remove the route to the prefix (no tunnel has it any more).
    Remove(IpPrefix),
}

type Key = (IpAddr, u8);

fn key(p: &IpPrefix) -> Key {
    (p.addr(), p.prefix_len())
}

fn hop(t: &HaTunnel) -> Nexthop {
    Nexthop {
        ifindex: t.ifindex,
        weight: t.weight.clamp(1, 256),
    }
}

/// The routes the kernel should have for `tunnels`; `mode_of(group)` gives each group's mode.
/// Sorted by prefix; deterministic for equal input.
pub fn desired_routes(tunnels: &[HaTunnel], mode_of: impl Fn(&str) -> HaMode) -> Vec<DesiredRoute> {
    // Candidates per prefix: (group or own name, tunnel).
    let mut by_prefix: BTreeMap<Key, (IpPrefix, Vec<&HaTunnel>)> = BTreeMap::new();
    for t in tunnels {
        for p in &t.prefixes {
            by_prefix
                .entry(key(p))
                .or_insert((*p, Vec::new()))
                .1
                .push(t);
        }
    }
    let mut out = Vec::new();
    for (_, (prefix, mut cands)) in by_prefix {
        // Preferred first: priority, then name.
        cands.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        // A prefix claimed by tunnels of one group follows the group's mode; tunnels without a
        // group (or of different groups: a misconfiguration the config check reports) fall
        // back to "the preferred up tunnel".
        let group = cands[0].group.as_deref();
        let same_group = group.is_some() && cands.iter().all(|t| t.group.as_deref() == group);
        let mode = match group {
            Some(g) if same_group => mode_of(g),
            _ => HaMode::ActiveStandby,
        };
        let up: Vec<&HaTunnel> = cands.iter().copied().filter(|t| t.up).collect();
        let (nexthops, held) = match (up.is_empty(), mode) {
            (true, _) => (vec![hop(cands[0])], true),
            (false, HaMode::Ecmp) => (up.iter().map(|t| hop(t)).collect(), false),
            (false, HaMode::ActiveStandby) => (vec![hop(up[0])], false),
        };
        out.push(DesiredRoute {
            prefix,
            nexthops,
            held,
        });
    }
    out
}

/// The changes that turn `installed` into `desired` (both as returned by [`desired_routes`]):
/// removals first, then routes that are new or differ in nexthops.
pub fn plan(installed: &[DesiredRoute], desired: &[DesiredRoute]) -> Vec<RouteChange> {
    let want: BTreeMap<Key, &DesiredRoute> = desired.iter().map(|r| (key(&r.prefix), r)).collect();
    let have: BTreeMap<Key, &DesiredRoute> =
        installed.iter().map(|r| (key(&r.prefix), r)).collect();
    let mut out: Vec<RouteChange> = have
        .iter()
        .filter(|(k, _)| !want.contains_key(k))
        .map(|(_, r)| RouteChange::Remove(r.prefix))
        .collect();
    for (k, r) in &want {
        let same = have.get(k).is_some_and(|h| {
            let mut a = h.nexthops.clone();
            let mut b = r.nexthops.clone();
            a.sort();
            b.sort();
            a == b
        });
        if !same {
            out.push(RouteChange::Set((*r).clone()));
        }
    }
    out
}

/// The tunnel names carrying traffic for `prefix` in `routes` (for `ipsecgw status` and logs).
pub fn carriers<'a>(
    routes: &[DesiredRoute],
    tunnels: &'a [HaTunnel],
    prefix: &IpPrefix,
) -> Vec<&'a str> {
    routes
        .iter()
        .find(|r| r.prefix == *prefix && !r.held)
        .map(|r| {
            r.nexthops
                .iter()
                .filter_map(|h| tunnels.iter().find(|t| t.ifindex == h.ifindex))
                .map(|t| t.name.as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    fn t(name: &str, group: Option<&str>, prio: u32, up: bool, ifindex: u32) -> HaTunnel {
        HaTunnel {
            name: name.into(),
            group: group.map(str::to_string),
            priority: prio,
            weight: 1,
            up,
            ifindex,
            prefixes: vec![p("10.1.0.0/16"), p("fd00:1::/64")],
        }
    }

    fn hops(r: &DesiredRoute) -> Vec<u32> {
        r.nexthops.iter().map(|h| h.ifindex).collect()
    }

    const ECMP: fn(&str) -> HaMode = |_| HaMode::Ecmp;
    const STANDBY: fn(&str) -> HaMode = |_| HaMode::ActiveStandby;

    #[test]
    fn ecmp_uses_every_up_tunnel() {
        let ts = [
            t("a", Some("az"), 1, true, 10),
            t("b", Some("az"), 2, true, 11),
        ];
        let r = desired_routes(&ts, ECMP);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].prefix, p("10.1.0.0/16"));
        assert_eq!(hops(&r[0]), vec![10, 11]);
        assert!(!r[0].held);
        assert_eq!(carriers(&r, &ts, &p("10.1.0.0/16")), vec!["a", "b"]);

        // One down: the other carries everything.
        let ts = [
            t("a", Some("az"), 1, false, 10),
            t("b", Some("az"), 2, true, 11),
        ];
        let r = desired_routes(&ts, ECMP);
        assert_eq!(hops(&r[0]), vec![11]);
        assert_eq!(carriers(&r, &ts, &p("fd00:1::/64")), vec!["b"]);
    }

    #[test]
    fn active_standby_prefers_lowest_priority_up() {
        let ts = [
            t("b", Some("az"), 2, true, 11),
            t("a", Some("az"), 1, true, 10),
        ];
        let r = desired_routes(&ts, STANDBY);
        assert_eq!(hops(&r[0]), vec![10]);
        let ts = [
            t("b", Some("az"), 2, true, 11),
            t("a", Some("az"), 1, false, 10),
        ];
        assert_eq!(hops(&desired_routes(&ts, STANDBY)[0]), vec![11]);
        // Equal priorities: by name.
        let ts = [
            t("b", Some("az"), 1, true, 11),
            t("a", Some("az"), 1, true, 10),
        ];
        assert_eq!(hops(&desired_routes(&ts, STANDBY)[0]), vec![10]);
    }

    #[test]
    fn all_down_holds_the_route_on_the_preferred_device() {
        let ts = [
            t("a", Some("az"), 5, false, 10),
            t("b", Some("az"), 2, false, 11),
        ];
        let r = desired_routes(&ts, ECMP);
        assert_eq!(hops(&r[0]), vec![11]);
        assert!(r[0].held);
        assert!(carriers(&r, &ts, &p("10.1.0.0/16")).is_empty());
    }

    #[test]
    fn ungrouped_tunnels_route_their_own_prefixes() {
        let mut a = t("a", None, 0, true, 10);
        a.prefixes = vec![p("10.1.0.0/16")];
        let mut b = t("b", None, 0, false, 11);
        b.prefixes = vec![p("10.2.0.0/16")];
        let r = desired_routes(&[a, b], ECMP);
        assert_eq!(r.len(), 2);
        assert_eq!((hops(&r[0]), r[0].held), (vec![10], false));
        assert_eq!((hops(&r[1]), r[1].held), (vec![11], true));
    }

    #[test]
    fn weights_are_kept_and_clamped() {
        let mut a = t("a", Some("az"), 1, true, 10);
        a.weight = 3;
        let mut b = t("b", Some("az"), 1, true, 11);
        b.weight = 0;
        let r = desired_routes(&[a, b], ECMP);
        assert_eq!(
            r[0].nexthops,
            vec![
                Nexthop {
                    ifindex: 10,
                    weight: 3
                },
                Nexthop {
                    ifindex: 11,
                    weight: 1
                }
            ]
        );
    }

    #[test]
    fn plan_applies_only_differences() {
        let up = [
            t("a", Some("az"), 1, true, 10),
            t("b", Some("az"), 2, true, 11),
        ];
        let both = desired_routes(&up, ECMP);
        assert_eq!(plan(&both, &both), vec![]);
        let first: Vec<RouteChange> = plan(&[], &both);
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|c| matches!(c, RouteChange::Set(_))));

        // b fails: both prefixes move to a only.
        let down = [
            t("a", Some("az"), 1, true, 10),
            t("b", Some("az"), 2, false, 11),
        ];
        let one = desired_routes(&down, ECMP);
        let changes = plan(&both, &one);
        assert_eq!(changes.len(), 2);
        for c in &changes {
            let RouteChange::Set(r) = c else {
                panic!("{c:?}")
            };
            assert_eq!(hops(r), vec![10]);
        }
        // Nexthop order does not matter.
        let mut swapped = both.clone();
        swapped[0].nexthops.reverse();
        assert_eq!(plan(&swapped, &both), vec![]);

        // A tunnel removed with its prefix: the route goes.
        let mut a = t("a", Some("az"), 1, true, 10);
        a.prefixes = vec![p("10.1.0.0/16")];
        let fewer = desired_routes(&[a], ECMP);
        assert_eq!(
            plan(&both, &fewer),
            vec![
                RouteChange::Remove(p("fd00:1::/64")),
                RouteChange::Set(fewer[0].clone())
            ]
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!(HaMode::parse("ECMP"), Some(HaMode::Ecmp));
        assert_eq!(HaMode::parse("active-standby"), Some(HaMode::ActiveStandby));
        assert_eq!(HaMode::parse("round-robin"), None);
        assert_eq!(HaMode::ActiveStandby.as_str(), "active-standby");
    }

    #[test]
    fn mixed_groups_fall_back_to_the_preferred_tunnel() {
        let ts = [
            t("a", Some("x"), 1, true, 10),
            t("b", Some("y"), 2, true, 11),
        ];
        assert_eq!(hops(&desired_routes(&ts, ECMP)[0]), vec![10]);
    }
}
