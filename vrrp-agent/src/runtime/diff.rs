//! What a reload does to each instance: the difference between the running routers and the
//! new configuration's plans, decided before anything changes.
use std::{fmt, net::IpAddr};

use super::{registry::RouterId, setup, setup::Plan};
use crate::config::Instance;

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

/// Compares the running routers with the new plans, by instance name.
pub(super) fn diff(running: &[Running<'_>], plans: &[Plan]) -> Diff {
    let mut out = Diff::default();
    for plan in plans {
        let Some(r) = running.iter().find(|r| r.inst.name == plan.inst.name) else {
            out.plans.push((None, Change::Added));
            continue;
        };
        out.plans.push((Some(r.id), change(r, plan)));
    }
    out.removed = running
        .iter()
        .filter(|r| !plans.iter().any(|p| p.inst.name == r.inst.name))
        .map(|r| r.id)
        .collect();
    out
}

/// What happens to running router `r` under `plan` (same name).
fn change(r: &Running<'_>, plan: &Plan) -> Change {
    let (old, new) = (r.inst, &plan.inst);
    if plan.src.is_none() {
        return Change::Restarted("IPv6 now: watched only".into());
    }
    if plan.link.index != r.ifindex {
        return Change::Restarted(format!(
            "interface {} (index {}) -> {} (index {})",
            old.interface, r.ifindex, new.interface, plan.link.index
        ));
    }
    if plan.src != Some(r.src) {
        let to = plan.src.map_or("none".to_string(), |a| a.to_string());
        return Change::Restarted(format!("source address {} -> {to}", r.src));
    }
    if setup::same_settings(old, new) {
        return Change::Kept;
    }
    if setup::priority_change_only(old, new) {
        return Change::ChangedInPlace(format!("priority {} -> {}", old.priority, new.priority));
    }
    Change::Restarted(format!("changed: {}", changed_fields(old, new).join(", ")))
}

/// The settings that differ between `old` and `new`, by keyword.
fn changed_fields(old: &Instance, new: &Instance) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("interface", old.interface != new.interface);
    check("virtual_router_id", old.vrid != new.vrid);
    check(
        "priority",
        old.priority != new.priority && (old.priority == 255 || new.priority == 255),
    );
    check("advert_int", old.advert_int != new.advert_int);
    check("version", old.version != new.version);
    check(
        "nopreempt / preempt_delay",
        old.preempt != new.preempt || old.preempt_delay != new.preempt_delay,
    );
    check("state", old.state != new.state);
    check("authentication", old.auth != new.auth);
    check(
        "unicast_peer",
        old.unicast_peers != new.unicast_peers || old.unicast_peer_ttl != new.unicast_peer_ttl,
    );
    check("unicast_ttl", old.unicast_ttl != new.unicast_ttl);
    check(
        "source address",
        old.unicast_src_ip != new.unicast_src_ip || old.mcast_src_ip != new.mcast_src_ip,
    );
    let addrs = |v: &[crate::config::VirtualAddress]| {
        v.iter()
            .map(|a| {
                let mut a = a.clone();
                a.location = Default::default();
                a
            })
            .collect::<Vec<_>>()
    };
    check("virtual_ipaddress", addrs(&old.vips) != addrs(&new.vips));
    check(
        "virtual_ipaddress_excluded",
        addrs(&old.vips_excluded) != addrs(&new.vips_excluded),
    );
    check("garp settings", old.garp != new.garp);
    check(
        "v3_checksum_as_v2",
        old.v3_checksum_as_v2 != new.v3_checksum_as_v2,
    );
    check("accept / no_accept", old.accept_mode != new.accept_mode);
    if out.is_empty() {
        out.push("other settings");
    }
    out
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
            src: Some(IpAddr::from(src)),
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

    #[test]
    fn each_instance_gets_its_change() {
        let old = instances(OLD);
        let new = instances(NEW);
        let ids: Vec<RouterId> = {
            let mut r = super::super::registry::Registry::<Fake>::default();
            (0..4)
                .map(|n| r.insert(Fake(n, format!("{n}"))).0)
                .collect()
        };
        let running: Vec<Running<'_>> = old
            .iter()
            .zip(&ids)
            .map(|(inst, &id)| Running {
                id,
                inst,
                ifindex: 2,
                src: IpAddr::from([198, 18, 0, 100]),
            })
            .collect();
        let plans: Vec<Plan> = new.iter().map(|i| plan(i, 2, [198, 18, 0, 100])).collect();
        let d = diff(&running, &plans);
        assert_eq!(
            d.plans,
            vec![
                (
                    Some(ids[1]),
                    Change::ChangedInPlace("priority 100 -> 90".into())
                ),
                (Some(ids[0]), Change::Kept),
                (
                    Some(ids[2]),
                    Change::Restarted("changed: virtual_ipaddress".into())
                ),
                (None, Change::Added),
            ]
        );
        assert_eq!(d.removed, vec![ids[3]]);
        assert_eq!(d.stopping(), vec![ids[3], ids[2]]);
        assert!(!d.starts(0) && !d.starts(1) && d.starts(2) && d.starts(3));

        // The same file on another interface index, or from another source: restarts.
        let moved: Vec<Plan> = old.iter().map(|i| plan(i, 9, [198, 18, 0, 100])).collect();
        let d = diff(&running, &moved);
        assert!(d
            .plans
            .iter()
            .all(|(_, c)| matches!(c, Change::Restarted(w) if w.contains("index 2") && w.contains("index 9"))));
        let resourced: Vec<Plan> = old.iter().map(|i| plan(i, 2, [198, 18, 0, 101])).collect();
        let d = diff(&running, &resourced);
        assert!(d
            .plans
            .iter()
            .all(|(_, c)| matches!(c, Change::Restarted(w) if w.starts_with("source address"))));
        assert!(d.removed.is_empty());

        // A unicast instance with another unicast_ttl restarts, and says why.
        let uc = |ttl: u8| {
            instances(&format!(
                "vrrp_instance U {{\n interface eth0\n virtual_router_id 9\n \
                 virtual_ipaddress {{ 198.18.0.9 }}\n unicast_ttl {ttl}\n \
                 unicast_peer {{ 198.18.0.200 }}\n}}\n"
            ))
        };
        let (old, new) = (uc(5), uc(6));
        let running = [Running {
            id: ids[0],
            inst: &old[0],
            ifindex: 2,
            src: IpAddr::from([198, 18, 0, 100]),
        }];
        let d = diff(&running, &[plan(&new[0], 2, [198, 18, 0, 100])]);
        assert_eq!(
            d.plans,
            vec![(
                Some(ids[0]),
                Change::Restarted("changed: unicast_ttl".into())
            )]
        );
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
    }
}
