//! `virtual_routes` / `virtual_rules` with real agents in network namespaces (prefix `ft`):
//! the Master has them (`ip route show table 100`, `ip rule`), the Backup does not; they
//! move with a failover and back; a route that was there before the instance became Master
//! stays when it leaves Master.
use std::{net::Ipv4Addr, time::Duration};

use vrrp_tests::{
    lab::{self, Daemon, Running},
    wait_for, Lan, LanHost, TempDir,
};

const VIP: &str = "198.18.7.100";
const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 2);
/// Generous bound for a transition (a failover at advert_int 0.1 takes ~0.4 s).
const TRANSITION: Duration = Duration::from_secs(10);

fn config(iface: &str, prio: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id 71\n    \
         priority {prio}\n    version 3\n    advert_int 0.1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
         virtual_routes {{\n        198.18.9.0/24 via 198.18.7.254 dev {iface} table 100 metric 5\n        \
         blackhole 198.18.10.0/24 table 100\n        198.18.11.0/24 dev {iface} table 100 no_track\n    }}\n    \
         virtual_rules {{\n        from {VIP} table 100 priority 100\n    }}\n}}\n"
    )
}

fn routes(h: &LanHost) -> String {
    h.ns.ip(&["route", "show", "table", "100"])
        .unwrap_or_default()
}

fn rules(h: &LanHost) -> String {
    h.ns.ip(&["rule", "show"]).unwrap_or_default()
}

/// What router `h` has of the configuration: (route to 198.18.9.0/24 with its gateway,
/// metric and keepalived's protocol; the blackhole; the rule).
fn has_all(h: &LanHost) -> bool {
    let r = routes(h);
    r.lines().any(|l| {
        l.starts_with("198.18.9.0/24 via 198.18.7.254")
            && l.contains("proto keepalived")
            && l.contains("metric 5")
    }) && r.contains("blackhole 198.18.10.0/24")
        && rules(h).contains(&format!("100:\tfrom {VIP} lookup 100"))
}

fn has_none(h: &LanHost) -> bool {
    let r = routes(h);
    !r.contains("198.18.9.0/24")
        && !r.contains("198.18.10.0/24")
        && !rules(h).contains("lookup 100")
}

fn logs(routers: &[&Running]) -> String {
    routers
        .iter()
        .map(|r| format!("--- {}\n{}", r.proc.what, r.proc.log_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wait_state(lan: &Lan, master: usize, routers: &[&Running]) {
    let backup = 1 - master;
    let ok = wait_for(TRANSITION, || {
        (lan.hosts[master].has_addr(VIP)
            && has_all(&lan.hosts[master])
            && has_none(&lan.hosts[backup]))
        .then_some(())
    });
    assert!(
        ok.is_some(),
        "router {} should have the VIP, routes and rule, the other none\n\
         r1 routes:\n{}\nr1 rules:\n{}\nr2 routes:\n{}\nr2 rules:\n{}\n{}",
        master + 1,
        routes(&lan.hosts[0]),
        rules(&lan.hosts[0]),
        routes(&lan.hosts[1]),
        rules(&lan.hosts[1]),
        logs(routers)
    );
}

#[test]
fn routes_and_rules_follow_the_master() {
    let mut lan = Lan::new_tagged("ftsw").unwrap();
    lan.add_host("ftr1", R1).unwrap();
    lan.add_host("ftr2", R2).unwrap();
    let dir = TempDir::new("ftroute").unwrap();
    // r2 has the no_track route already (an administrator's): it must survive r2 leaving
    // Master.
    let if2 = lan.hosts[1].iface.clone();
    lan.hosts[1]
        .ns
        .ip(&[
            "route",
            "add",
            "198.18.11.0/24",
            "dev",
            &if2,
            "table",
            "100",
        ])
        .unwrap();

    let r1 = lab::start(
        Daemon::Agent,
        &lan.hosts[0],
        dir.path(),
        "r1",
        &config(&lan.hosts[0].iface, 150),
    )
    .unwrap();
    let r2 = lab::start(
        Daemon::Agent,
        &lan.hosts[1],
        dir.path(),
        "r2",
        &config(&if2, 100),
    )
    .unwrap();
    wait_state(&lan, 0, &[&r1, &r2]);
    assert!(
        routes(&lan.hosts[0]).contains("198.18.11.0/24"),
        "r1 adds the no_track route too"
    );

    // r1 stops: r2 takes over, r1 has removed everything.
    drop(r1);
    wait_state(&lan, 1, &[&r2]);

    // r1 comes back and preempts: r2 removes what it added, and only that.
    let r1 = lab::start(
        Daemon::Agent,
        &lan.hosts[0],
        dir.path(),
        "r1b",
        &config(&lan.hosts[0].iface, 150),
    )
    .unwrap();
    wait_state(&lan, 0, &[&r1, &r2]);
    assert!(
        routes(&lan.hosts[1]).contains("198.18.11.0/24"),
        "r2's own route was removed:\n{}",
        logs(&[&r2])
    );
    assert!(
        r2.proc.log_text().contains("virtual route already present"),
        "{}",
        logs(&[&r2])
    );
}
