//! What a reload does to each instance: the difference between the running routers and the
//! new configuration's plans, decided before anything changes.
use std::{fmt, net::IpAddr};

use super::{registry::RouterId, setup::Plan};
use crate::config::{Family, Instance, VirtualAddress};

/// What a reload does to one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New in the configuration: started.
    Added,
    /// Gone from the configuration: stopped as on SIGTERM.
    Removed,
    /// Stopped and started again with its new settings, and why.
    Restarted(String),
    /// Running on with a new setting taken in place (what).
    ChangedInPlace(String),
    /// Unchanged (tracking and notify commands are rebuilt on every reload).
    Kept,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added => write!(f, "added"),
            Change::Removed => write!(f, "removed"),
            Change::Restarted(why) => write!(f, "restarted ({why})"),
            Change::ChangedInPlace(what) => write!(f, "changed in place ({what})"),
            Change::Kept => write!(f, "kept"),
        }
    }
}

/// A running router as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Running<'a> {
    pub id: RouterId,
    pub inst: &'a Instance,
    pub ifindex: u32,
    pub src: IpAddr,
}

/// The plan of a reload.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Diff {
    /// One entry per plan, in order: the running router it continues or replaces (if
    /// any), and what happens.
    pub plans: Vec<(Option<RouterId>, Change)>,
    /// Running routers no plan names.
    pub removed: Vec<RouterId>,
}

impl Diff {
    /// Running routers that stop: removed, or restarted (their successor starts).
    pub fn stopping(&self) -> Vec<RouterId> {
        let restarted = self.plans.iter().filter_map(|(id, c)| match c {
            Change::Restarted(_) => *id,
            _ => None,
        });
        self.removed.iter().copied().chain(restarted).collect()
    }

    /// Whether plan `k` needs a new router (and kernel record).
    pub fn starts(&self, k: usize) -> bool {
        matches!(
            self.plans.get(k),
            Some((_, Change::Added | Change::Restarted(_)))
        )
    }
}

/// A router's identity: what it is to the other routers on its link. Another value of
/// any of these is another router, whatever the instance is called.
fn identity(ifindex: u32, inst: &Instance) -> (u32, u8, Family) {
    (ifindex, inst.vrid, inst.family)
}

/// Compares the running routers with the new plans.
///
/// A plan continues the running router of the same identity (interface, VRID, family),
/// whatever their names: a renamed instance keeps its router, and two instances that swap
/// their VRIDs are two routers that each take the other's name and settings in place. A
/// plan whose identity no router has continues the router of its name, if that one's
/// identity is not taken by another plan: that router restarts (it says what moved).
pub(super) fn diff(running: &[Running<'_>], plans: &[Plan]) -> Diff {
    let mut out = Diff::default();
    let mut claimed = vec![false; running.len()];
    let by_identity: Vec<Option<usize>> = plans
        .iter()
        .map(|p| {
            let want = identity(p.link.index, &p.inst);
            let j = running
                .iter()
                .position(|r| identity(r.ifindex, r.inst) == want)?;
            claimed[j] = true;
            Some(j)
        })
        .collect();
    for (plan, matched) in plans.iter().zip(by_identity) {
        if let Some(j) = matched {
            out.plans
                .push((Some(running[j].id), change(&running[j], plan)));
            continue;
        }
        let by_name = running
            .iter()
            .enumerate()
            .find(|(j, r)| !claimed[*j] && r.inst.name == plan.inst.name);
        match by_name {
            Some((j, r)) => {
                claimed[j] = true;
                out.plans
                    .push((Some(r.id), Change::Restarted(moved(r, plan))));
            }
            None => out.plans.push((None, Change::Added)),
        }
    }
    out.removed = running
        .iter()
        .zip(&claimed)
        .filter(|(_, c)| !**c)
        .map(|(r, _)| r.id)
        .collect();
    out
}

/// Why the router of `r` cannot continue as `plan` (same name, another identity).
fn moved(r: &Running<'_>, plan: &Plan) -> String {
    let (old, new) = (r.inst, &plan.inst);
    let mut why = Vec::new();
    if plan.link.index != r.ifindex {
        why.push(format!(
            "interface {} (index {}) -> {} (index {})",
            old.interface, r.ifindex, new.interface, plan.link.index
        ));
    }
    if old.vrid != new.vrid {
        why.push(format!("virtual_router_id {} -> {}", old.vrid, new.vrid));
    }
    if old.family != new.family {
        why.push(format!(
            "address family {:?} -> {:?}",
            old.family, new.family
        ));
    }
    why.join(", ")
}

/// What happens to running router `r` under `plan` (same identity).
fn change(r: &Running<'_>, plan: &Plan) -> Change {
    let (old, new) = (r.inst, &plan.inst);
    match restart_reason(r, plan) {
        Some(why) => Change::Restarted(why),
        None => {
            let what = in_place(old, new);
            if what.is_empty() {
                Change::Kept
            } else {
                Change::ChangedInPlace(what.join(", "))
            }
        }
    }
}

/// Why the router of `r` must be replaced to run `plan` (same identity): what makes it
/// another router to its peers or to this host. `None`: everything else is taken in place.
fn restart_reason(r: &Running<'_>, plan: &Plan) -> Option<String> {
    let (old, new) = (r.inst, &plan.inst);
    if old.version != new.version {
        return Some(format!("version {:?} -> {:?}", old.version, new.version));
    }
    if plan.src != r.src {
        return Some(format!("source address {} -> {}", r.src, plan.src));
    }
    // The address owner starts as Master and never moves its priority: another start.
    if old.is_address_owner() != new.is_address_owner() {
        return Some(format!(
            "priority {} -> {} (address owner)",
            old.priority, new.priority
        ));
    }
    let rest = unknown_changes(old, new);
    (!rest.is_empty()).then(|| format!("changed: {}", rest.join(", ")))
}

/// `new` with every setting a running router takes in place set to `old`'s: what is left
/// differing needs a restart.
fn unknown_changes(old: &Instance, new: &Instance) -> Vec<&'static str> {
    let mut n = new.clone();
    n.name.clone_from(&old.name);
    n.location = old.location.clone();
    n.spans = old.spans.clone();
    n.state = old.state;
    n.priority = old.priority;
    n.advert_int = old.advert_int;
    n.preempt = old.preempt;
    n.preempt_delay = old.preempt_delay;
    n.auth.clone_from(&old.auth);
    n.unicast_src_ip = old.unicast_src_ip;
    n.mcast_src_ip = old.mcast_src_ip;
    n.unicast_peers.clone_from(&old.unicast_peers);
    n.unicast_peer_ttl.clone_from(&old.unicast_peer_ttl);
    n.unicast_ttl = old.unicast_ttl;
    n.mcast_group = old.mcast_group;
    n.vips.clone_from(&old.vips);
    n.vips_excluded.clone_from(&old.vips_excluded);
    n.garp.clone_from(&old.garp);
    n.track_scripts.clone_from(&old.track_scripts);
    n.track_interfaces.clone_from(&old.track_interfaces);
    n.track_files.clone_from(&old.track_files);
    n.track_processes.clone_from(&old.track_processes);
    n.virtual_routes.clone_from(&old.virtual_routes);
    n.virtual_rules.clone_from(&old.virtual_rules);
    n.smtp_alert = old.smtp_alert;
    n.notify.clone_from(&old.notify);
    n.v3_checksum_as_v2 = old.v3_checksum_as_v2;
    n.dont_track_primary = old.dont_track_primary;
    n.promote_secondaries = old.promote_secondaries;
    n.unicast_fault_no_peer = old.unicast_fault_no_peer;
    n.notify_priority_changes = old.notify_priority_changes;
    if n == *old {
        Vec::new()
    } else {
        // Settings added to `Instance` after this list was written: a restart is safe.
        vec!["settings that need a new router"]
    }
}

/// The settings a running router takes in place under `new`, each with what changed.
pub(super) fn in_place(old: &Instance, new: &Instance) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |differs: bool, what: &dyn Fn() -> String| {
        if differs {
            out.push(what());
        }
    };
    check(old.name != new.name, &|| {
        format!("renamed from {}", old.name)
    });
    check(old.priority != new.priority, &|| {
        format!("priority {} -> {}", old.priority, new.priority)
    });
    check(old.advert_int != new.advert_int, &|| {
        format!(
            "advert_int {} -> {}",
            old.advert_centisecs(),
            new.advert_centisecs()
        )
    });
    check(old.preempt != new.preempt, &|| {
        if new.preempt { "preempt" } else { "nopreempt" }.to_string()
    });
    check(old.preempt_delay != new.preempt_delay, &|| {
        format!(
            "preempt_delay {:?} -> {:?}",
            old.preempt_delay, new.preempt_delay
        )
    });
    check(old.state != new.state, &|| "state".into());
    check(old.auth != new.auth, &|| "authentication".into());
    check(old.unicast_peers != new.unicast_peers, &|| {
        format!(
            "unicast_peer{}",
            listed(&added_removed(&old.unicast_peers, &new.unicast_peers))
        )
    });
    check(old.unicast_peer_ttl != new.unicast_peer_ttl, &|| {
        "unicast_peer min_ttl/max_ttl".into()
    });
    check(old.unicast_ttl != new.unicast_ttl, &|| "unicast_ttl".into());
    check(
        old.unicast_src_ip != new.unicast_src_ip || old.mcast_src_ip != new.mcast_src_ip,
        &|| "unicast_src_ip / mcast_src_ip (same address)".into(),
    );
    check(old.mcast_group != new.mcast_group, &|| {
        "mcast_dst_ip".into()
    });
    check(!same_vips(&old.vips, &new.vips), &|| {
        format!(
            "virtual_ipaddress{}",
            listed(&vip_changes(&old.vips, &new.vips))
        )
    });
    check(!same_vips(&old.vips_excluded, &new.vips_excluded), &|| {
        format!(
            "virtual_ipaddress_excluded{}",
            listed(&vip_changes(&old.vips_excluded, &new.vips_excluded))
        )
    });
    check(old.garp != new.garp, &|| "garp settings".into());
    check(
        old.virtual_routes != new.virtual_routes || old.virtual_rules != new.virtual_rules,
        &|| "virtual_routes / virtual_rules".into(),
    );
    check(
        old.track_scripts != new.track_scripts
            || old.track_interfaces != new.track_interfaces
            || old.track_files != new.track_files
            || old.track_processes != new.track_processes,
        &|| "tracking".into(),
    );
    check(
        old.notify != new.notify
            || old.smtp_alert != new.smtp_alert
            || old.notify_priority_changes != new.notify_priority_changes,
        &|| "notify".into(),
    );
    check(old.v3_checksum_as_v2 != new.v3_checksum_as_v2, &|| {
        "v3_checksum_as_v2".into()
    });
    check(
        old.dont_track_primary != new.dont_track_primary
            || old.unicast_fault_no_peer != new.unicast_fault_no_peer,
        &|| "dont_track_primary / unicast_fault_no_peer".into(),
    );
    check(old.promote_secondaries != new.promote_secondaries, &|| {
        "promote_secondaries (takes effect at the next start)".into()
    });
    out
}

/// Two VIPs are the same address with the same attributes, wherever they are written.
pub(super) fn same_vip(a: &VirtualAddress, b: &VirtualAddress) -> bool {
    let strip = |v: &VirtualAddress| {
        let mut v = v.clone();
        v.location = Default::default();
        v
    };
    strip(a) == strip(b)
}

fn same_vips(a: &[VirtualAddress], b: &[VirtualAddress]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_vip(x, y))
}

/// `+addr` for each VIP added, `-addr` for each removed, `~addr` for each whose
/// attributes (dev, label, scope, brd, prefix) changed; reordering alone lists nothing.
fn vip_changes(old: &[VirtualAddress], new: &[VirtualAddress]) -> Vec<String> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.addr == n.addr) {
            None => out.push(format!("+{}", n.addr)),
            Some(o) if !same_vip(o, n) => out.push(format!("~{}", n.addr)),
            Some(_) => {}
        }
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| n.addr == o.addr)) {
        out.push(format!("-{}", o.addr));
    }
    out
}

fn added_removed(old: &[IpAddr], new: &[IpAddr]) -> Vec<String> {
    let added = new
        .iter()
        .filter(|a| !old.contains(a))
        .map(|a| format!("+{a}"));
    let removed = old
        .iter()
        .filter(|a| !new.contains(a))
        .map(|a| format!("-{a}"));
    added.chain(removed).collect()
}

/// ` (a b c)`, or nothing for an empty list (a change of order only).
fn listed(items: &[String]) -> String {
    if items.is_empty() {
        " (order)".into()
    } else {
        format!(" ({})", items.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config, netlink::LinkInfo, wire::MacAddr};

    fn instances(text: &str) -> Vec<Instance> {
        config::parse_str(text, std::path::Path::new("t.conf"))
            .expect("parses")
            .config
            .instances
    }

    fn plan(inst: &Instance, index: u32, src: [u8; 4]) -> Plan {
        Plan {
            vmac: None,
            inst: inst.clone(),
            link: LinkInfo {
                index,
                name: inst.interface.clone(),
                up: true,
                running: true,
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
                mtu: 1500,
                kind: None,
                lower: None,
                vlan_id: None,
                master: None,
            },
            src: IpAddr::from(src),
        }
    }

    const OLD: &str = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n \
        virtual_ipaddress { 198.18.0.1 }\n}\n\
        vrrp_instance B {\n interface eth0\n virtual_router_id 2\n priority 100\n \
        virtual_ipaddress { 198.18.0.2 }\n}\n\
        vrrp_instance C {\n interface eth0\n virtual_router_id 3\n priority 100\n \
        virtual_ipaddress { 198.18.0.3 }\n}\n\
        vrrp_instance D {\n interface eth0\n virtual_router_id 4\n priority 100\n \
        virtual_ipaddress { 198.18.0.4 }\n}\n";

    // A kept (moved in the file, a notify added), B priority changed, C new VIP, D gone,
    // E new.
    const NEW: &str = "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n priority 90\n \
        virtual_ipaddress { 198.18.0.2 }\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n \
        virtual_ipaddress { 198.18.0.1 }\n notify_master /bin/true\n}\n\
        vrrp_instance C {\n interface eth0\n virtual_router_id 3\n priority 100\n \
        virtual_ipaddress { 198.18.0.33 }\n}\n\
        vrrp_instance E {\n interface eth0\n virtual_router_id 5\n priority 100\n \
        virtual_ipaddress { 198.18.0.5 }\n}\n";

    fn ids(n: u8) -> Vec<RouterId> {
        let mut r = super::super::registry::Registry::<Fake>::default();
        (0..n)
            .map(|n| r.insert(Fake(n, format!("{n}"))).0)
            .collect()
    }

    fn running<'a>(insts: &'a [Instance], ids: &[RouterId]) -> Vec<Running<'a>> {
        insts
            .iter()
            .zip(ids)
            .map(|(inst, &id)| Running {
                id,
                inst,
                ifindex: 2,
                src: IpAddr::from([198, 18, 0, 100]),
            })
            .collect()
    }

    fn plans(insts: &[Instance]) -> Vec<Plan> {
        insts
            .iter()
            .map(|i| plan(i, 2, [198, 18, 0, 100]))
            .collect()
    }

    #[test]
    fn each_instance_gets_its_change() {
        let old = instances(OLD);
        let new = instances(NEW);
        let ids = ids(4);
        let running = running(&old, &ids);
        let d = diff(&running, &plans(&new));
        assert_eq!(
            d.plans,
            vec![
                (
                    Some(ids[1]),
                    Change::ChangedInPlace("priority 100 -> 90".into())
                ),
                (Some(ids[0]), Change::ChangedInPlace("notify".into())),
                (
                    Some(ids[2]),
                    Change::ChangedInPlace("virtual_ipaddress (+198.18.0.33 -198.18.0.3)".into())
                ),
                (None, Change::Added),
            ]
        );
        assert_eq!(d.removed, vec![ids[3]]);
        assert_eq!(d.stopping(), vec![ids[3]]);
        assert!(!d.starts(0) && !d.starts(1) && !d.starts(2) && d.starts(3));
        // The same file again: everything kept.
        let d = diff(&running, &plans(&old));
        assert!(d.plans.iter().all(|(_, c)| *c == Change::Kept), "{d:?}");

        // The same file on another interface index: other routers; the names restart.
        let moved: Vec<Plan> = old.iter().map(|i| plan(i, 9, [198, 18, 0, 100])).collect();
        let d = diff(&running, &moved);
        assert!(d
            .plans
            .iter()
            .all(|(_, c)| matches!(c, Change::Restarted(w) if w.contains("index 2") && w.contains("index 9"))));
        assert_eq!(d.stopping().len(), 4);
        let resourced: Vec<Plan> = old.iter().map(|i| plan(i, 2, [198, 18, 0, 101])).collect();
        let d = diff(&running, &resourced);
        assert!(d
            .plans
            .iter()
            .all(|(_, c)| matches!(c, Change::Restarted(w) if w.starts_with("source address"))));
        assert!(d.removed.is_empty());
    }

    /// One instance, `body` inside its block after interface and VRID.
    fn one(name: &str, vrid: u8, body: &str) -> Instance {
        instances(&format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}}}\n"
        ))
        .remove(0)
    }

    /// What one instance's change from `old` to `new` is (same interface and source).
    fn classify(old: &Instance, new: &Instance) -> Change {
        let ids = ids(1);
        let olds = [old.clone()];
        let d = diff(&running(&olds, &ids), &plans(std::slice::from_ref(new)));
        assert!(d.removed.is_empty() || matches!(d.plans[0].1, Change::Added));
        d.plans[0].1.clone()
    }

    #[test]
    fn what_is_taken_in_place_and_what_restarts() {
        let base = " priority 100\n advert_int 1\n virtual_ipaddress { 198.18.0.1/24 }\n";
        let old = one("A", 1, base);
        let inplace = |body: &str, what: &str| {
            let new = one("A", 1, body);
            assert_eq!(
                classify(&old, &new),
                Change::ChangedInPlace(what.into()),
                "{body}"
            );
        };
        inplace(
            " priority 100\n advert_int 1\n virtual_ipaddress { 198.18.0.1/24\n 198.18.0.2/24 }\n",
            "virtual_ipaddress (+198.18.0.2)",
        );
        inplace(
            " priority 100\n advert_int 1\n virtual_ipaddress { 198.18.0.1/24 label eth0:1 }\n",
            "virtual_ipaddress (~198.18.0.1)",
        );
        inplace(
            " priority 100\n advert_int 1\n virtual_ipaddress { 198.18.0.1/24 }\n              virtual_ipaddress_excluded { 198.18.1.1/24 }\n",
            "virtual_ipaddress_excluded (+198.18.1.1)",
        );
        inplace(
            " priority 100\n advert_int 2\n virtual_ipaddress { 198.18.0.1/24 }\n",
            "advert_int 1.00s -> 2.00s",
        );
        inplace(
            " priority 100\n advert_int 1\n nopreempt\n virtual_ipaddress { 198.18.0.1/24 }\n",
            "nopreempt",
        );
        inplace(
            " priority 100\n advert_int 1\n preempt_delay 5\n virtual_ipaddress { 198.18.0.1/24 }\n",
            "preempt_delay 0ns -> 5s",
        );
        inplace(&format!("{base} garp_master_repeat 2\n"), "garp settings");
        inplace(&format!("{base} track_interface {{ lo }}\n"), "tracking");
        inplace(&format!("{base} notify_master /bin/true\n"), "notify");
        inplace(
            &format!("{base} unicast_peer {{ 198.18.0.7\n 198.18.0.8 }}\n"),
            "unicast_peer (+198.18.0.7 +198.18.0.8)",
        );
        inplace(
            " priority 90\n advert_int 3\n virtual_ipaddress { 198.18.0.3/24 }\n",
            "priority 100 -> 90, advert_int 1.00s -> 3.00s, \
             virtual_ipaddress (+198.18.0.3 -198.18.0.1)",
        );
        // Peers removed, and a TTL: still in place.
        let uc = one(
            "A",
            1,
            &format!("{base} unicast_peer {{ 198.18.0.7\n 198.18.0.8 }}\n"),
        );
        let fewer = one(
            "A",
            1,
            &format!("{base} unicast_ttl 5\n unicast_peer {{ 198.18.0.8 }}\n"),
        );
        assert_eq!(
            classify(&uc, &fewer),
            Change::ChangedInPlace("unicast_peer (-198.18.0.7), unicast_ttl".into())
        );
        // Reordering the VIPs changes the advert, not the set.
        let two = one(
            "A",
            1,
            " virtual_ipaddress { 198.18.0.1/24\n 198.18.0.2/24 }\n",
        );
        let swapped = one(
            "A",
            1,
            " virtual_ipaddress { 198.18.0.2/24\n 198.18.0.1/24 }\n",
        );
        assert_eq!(
            classify(&two, &swapped),
            Change::ChangedInPlace("virtual_ipaddress (order)".into())
        );

        // What needs a new router.
        let restart = |body: &str, why: &str| {
            let new = one("A", 1, body);
            match classify(&old, &new) {
                Change::Restarted(w) => assert!(w.contains(why), "{body}: {w}"),
                c => panic!("{body}: {c:?}"),
            }
        };
        restart(
            " priority 100\n advert_int 1\n version 3\n virtual_ipaddress { 198.18.0.1/24 }\n",
            "version",
        );
        restart(
            " priority 255\n advert_int 1\n virtual_ipaddress { 198.18.0.1/24 }\n",
            "address owner",
        );
    }

    #[test]
    fn a_rename_keeps_the_router_and_a_vrid_swap_changes_both_in_place() {
        let vip = |a: &str| format!(" priority 100\n virtual_ipaddress {{ {a}/24 }}\n");
        let old = [
            one("A", 1, &vip("198.18.0.1")),
            one("B", 2, &vip("198.18.0.2")),
        ];
        let ids = ids(2);
        let running = running(&old, &ids);

        let renamed = [one("A2", 1, &vip("198.18.0.1")), old[1].clone()];
        let d = diff(&running, &plans(&renamed));
        assert_eq!(
            d.plans,
            vec![
                (
                    Some(ids[0]),
                    Change::ChangedInPlace("renamed from A".into())
                ),
                (Some(ids[1]), Change::Kept),
            ]
        );
        assert!(d.stopping().is_empty());

        // A takes VRID 2 and B VRID 1, each with its VIP: router 1 is now B (B's VIP),
        // router 2 is A.
        let swapped = [
            one("A", 2, &vip("198.18.0.1")),
            one("B", 1, &vip("198.18.0.2")),
        ];
        let d = diff(&running, &plans(&swapped));
        assert_eq!(
            d.plans,
            vec![
                (
                    Some(ids[1]),
                    Change::ChangedInPlace(
                        "renamed from B, virtual_ipaddress (+198.18.0.1 -198.18.0.2)".into()
                    )
                ),
                (
                    Some(ids[0]),
                    Change::ChangedInPlace(
                        "renamed from A, virtual_ipaddress (+198.18.0.2 -198.18.0.1)".into()
                    )
                ),
            ]
        );
        assert!(d.stopping().is_empty());

        // A moves to VRID 3: another router under the same name (restarted); B's VRID 2
        // goes to a new instance C, which continues B's router.
        let moved = [
            one("A", 3, &vip("198.18.0.1")),
            one("C", 2, &vip("198.18.0.2")),
        ];
        let d = diff(&running, &plans(&moved));
        assert_eq!(
            d.plans,
            vec![
                (
                    Some(ids[0]),
                    Change::Restarted("virtual_router_id 1 -> 3".into())
                ),
                (
                    Some(ids[1]),
                    Change::ChangedInPlace("renamed from B".into())
                ),
            ]
        );
        assert_eq!(d.stopping(), vec![ids[0]]);
        assert!(d.starts(0) && !d.starts(1));

        // B's name on A's VRID, and A gone: A's router continues as B; B's is removed.
        let taken = [one("B", 1, &vip("198.18.0.1"))];
        let d = diff(&running, &plans(&taken));
        assert_eq!(
            d.plans,
            vec![(
                Some(ids[0]),
                Change::ChangedInPlace("renamed from A".into())
            )]
        );
        assert_eq!(d.removed, vec![ids[1]]);
    }

    #[derive(Debug)]
    struct Fake(u8, String);
    impl super::super::registry::Entry for Fake {
        fn key(&self) -> vrrp_common::InstanceKey {
            vrrp_common::InstanceKey::new(1, self.0, vrrp_common::FAMILY_IPV4)
        }
        fn name(&self) -> &str {
            &self.1
        }
        fn set_key(&mut self, _: vrrp_common::InstanceKey) {}
        fn set_name(&mut self, name: &str) {
            self.1 = name.into();
        }
    }
}
