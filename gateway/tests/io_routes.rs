//! Root-only: routes, MTU and link state over rtnetlink in a throw-away namespace.

mod io_common;

use gateway::io::routes::{BlockingRoutes, IpPrefix};
use io_common::{root_or_skip, Netns};

#[test]
fn routes_added_replaced_and_removed_via_netlink() {
    if !root_or_skip("routes_added_replaced_and_removed_via_netlink") {
        return;
    }
    let ns = Netns::new("routes");
    // A persistent TUN stands in for the tunnel interface (no dummy module here).
    ns.ip(&["tuntap", "add", "dev", "igwd0", "mode", "tun"]);
    let prefixes: Vec<IpPrefix> = ["10.98.1.0/24", "10.98.2.7/16", "2001:db8:1::/48"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();

    let p2 = prefixes.clone();
    let ifindex = ns.run(move || {
        let r = BlockingRoutes::new().unwrap();
        let idx = r.link_index("igwd0").unwrap();
        assert!(r.link_index("no-such-link").is_err());
        r.set_mtu(idx, 1380).unwrap();
        r.set_link_up(idx).unwrap();
        r.add_routes(idx, &p2).unwrap();
        // Replace-on-exists: adding again is not an error.
        r.add_routes(idx, &p2).unwrap();
        idx
    });

    let link = ns.ip(&["link", "show", "igwd0"]);
    assert!(link.contains("mtu 1380"), "{link}");
    assert!(link.contains(",UP") || link.contains("<UP"), "{link}");
    assert!(link.starts_with(&format!("{ifindex}:")), "{link}");
    let v4 = ns.ip(&["route", "show", "dev", "igwd0"]);
    assert!(v4.contains("10.98.1.0/24"), "{v4}");
    assert!(v4.contains("10.98.0.0/16"), "{v4}");
    assert_eq!(v4.lines().count(), 2, "{v4}");
    let v6 = ns.ip(&["-6", "route", "show", "dev", "igwd0"]);
    assert!(v6.contains("2001:db8:1::/48"), "{v6}");

    ns.run(move || {
        let r = BlockingRoutes::new().unwrap();
        r.remove_routes(ifindex, &prefixes).unwrap();
        // Already gone: still fine.
        r.remove_routes(ifindex, &prefixes).unwrap();
    });
    let v4 = ns.ip(&["route", "show", "dev", "igwd0"]);
    assert!(!v4.contains("10.98."), "{v4}");
    let v6 = ns.ip(&["-6", "route", "show", "dev", "igwd0"]);
    assert!(!v6.contains("2001:db8:1::"), "{v6}");
}

#[tokio::test]
async fn async_handle_works_on_a_runtime() {
    if !root_or_skip("async_handle_works_on_a_runtime") {
        return;
    }
    // The runtime thread is in the host namespace: only read, never change anything here.
    let h = gateway::io::routes::RouteHandle::connect().unwrap();
    assert_eq!(h.link_index("lo").await.unwrap(), 1);
}
