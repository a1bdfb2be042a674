//! `use_vmac`: each such instance has a private-mode macvlan on its interface with the
//! virtual router MAC (RFC 9568 §7.3). The Master holds its VIPs there and announces them
//! from the virtual MAC; its multicast adverts leave from the macvlan (the base interface
//! with `vmac_xmit_base` or unicast). The XDP program stays on the base interface: a
//! macvlan's frames are received through it.
//!
//! keepalived 2.2.7 creates the macvlan at start-up and keeps it up in every state. Here it
//! is created at start-up too, but **down** except while Master: a down macvlan is not in
//! the base interface's MAC filter and sends nothing (no IGMP/MLD report, no DAD, no
//! router solicitation from the virtual MAC), so a Backup can neither answer for the VIPs
//! nor make a switch learn the virtual MAC on its port.
//!
//! Sysctls (IPv4), as keepalived sets them, plus one:
//! - macvlan: `arp_ignore=1` (answer ARP only for its own addresses, the VIPs),
//!   `accept_local=1`, `rp_filter=0` (clients' packets to the VIPs arrive on the macvlan
//!   while the route back to them is through the base interface), `disable_ipv6=1`
//!   (IPv4 instance without IPv6 addresses);
//! - base interface: `arp_ignore=1` (never answer ARP for a VIP with the real MAC),
//!   `arp_filter=1`, and `arp_announce=2` (not keepalived's: a Master answering a client
//!   from a VIP would otherwise ARP "who-has client tell VIP" from the real MAC and the
//!   client would learn the real MAC for the VIP);
//! - `all.rp_filter`: when non-zero the macvlan's 0 does not count; as keepalived, every
//!   interface below `all`'s value is raised to it (and `default`), then `all` set to 0.
//!
//! What was changed is put back at a clean stop. The base interface's original values are
//! also kept in the macvlan's alias, so that a run started after a SIGKILL restores them
//! and not the values a killed run left.
use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv6Addr},
    path::PathBuf,
};

use anyhow::{bail, Context, Result};

use super::setup::Plan;
use crate::{
    config::{vmac::virtual_mac, Family, VirtualAddress},
    netlink::{
        vmac::{MacvlanInfo, ALIAS_PREFIX},
        LinkInfo, Netlink,
    },
    wire::MacAddr,
};

/// An instance's macvlan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VmacLink {
    pub name: String,
    pub ifindex: u32,
    pub mac: MacAddr,
    pub parent: u32,
    pub family: Family,
    /// Adverts leave from the base interface.
    pub xmit_base: bool,
    /// IPv6: the link-local address it gets when it comes up (never the base
    /// interface's, never the EUI-64 of the virtual MAC, which is the same on every node).
    pub link_local: Option<Ipv6Addr>,
}

impl VmacLink {
    /// Whether the instance's adverts (multicast or not, from `src`) leave from the
    /// macvlan: multicast ones without `vmac_xmit_base`; for IPv6 only from the macvlan's
    /// own link-local address (a configured `mcast_src_ip` stays on the base interface,
    /// where the address is).
    pub fn sends_adverts(&self, multicast: bool, src: IpAddr) -> bool {
        multicast
            && !self.xmit_base
            && match self.family {
                Family::V4 => src.is_ipv4(),
                Family::V6 => self.link_local.map(IpAddr::V6) == Some(src),
            }
    }
}

/// The base-interface sysctls set for a VMAC, with their values.
const PARENT_SYSCTLS: [(&str, &str); 3] = [
    ("arp_ignore", "1"),
    ("arp_filter", "1"),
    ("arp_announce", "2"),
];
/// The macvlan sysctls of an IPv4 VMAC.
const VMAC_SYSCTLS: [(&str, &str); 3] = [
    ("arp_ignore", "1"),
    ("accept_local", "1"),
    ("rp_filter", "0"),
];

/// What this run created and changed, to undo at a clean stop.
#[derive(Debug, Default)]
pub(super) struct Vmacs {
    /// Our macvlans by name.
    links: BTreeMap<String, u32>,
    /// Sysctls changed: path, value set, original value; restored in reverse order when
    /// they still hold the value set.
    changed: Vec<(PathBuf, String, String)>,
    /// Base interfaces whose sysctls are set (by name).
    parents: BTreeMap<String, Vec<(String, String)>>,
    rp_filter_done: bool,
}

fn conf_path(family: &str, iface: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/{family}/conf/{iface}/{name}"))
}

fn read_sysctl(path: &PathBuf) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_owned())
}

fn write_sysctl(path: &PathBuf, value: &str) -> Result<()> {
    std::fs::write(path, value).with_context(|| format!("writing {value} to {}", path.display()))
}

/// The alias of a macvlan made for `parent`: the prefix, then the base interface's original
/// sysctl values (`name=value`, space-separated).
fn alias_for(originals: &[(String, String)]) -> String {
    let mut s = ALIAS_PREFIX.to_owned();
    for (k, v) in originals {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// The original values an alias of ours records.
fn originals_in(alias: &str) -> Vec<(String, String)> {
    alias
        .strip_prefix(ALIAS_PREFIX)
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, v)| PARENT_SYSCTLS.iter().any(|(n, _)| n == k) && v.parse::<u32>().is_ok())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The link-local address of an IPv6 VMAC: fe80::/64 with the interface ID
/// `mac0^2:mac1:mac2:mac3:mac4:mac5:5e:VRID` of the base interface's MAC: unique per node
/// and VRID, and never the base interface's EUI-64 one.
pub(super) fn link_local_for(parent_mac: MacAddr, vrid: u8) -> Ipv6Addr {
    let m = parent_mac.0;
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..16].copy_from_slice(&[m[0] ^ 0x02, m[1], m[2], m[3], m[4], m[5], 0x5e, vrid]);
    Ipv6Addr::from(o)
}

/// IPv6 multicast adverts leave from the macvlan with its own link-local address as
/// source (RFC 9568 §5.1.2.1: the link-local address of the interface they are sent on),
/// which is then also this router's address in the equal-priority tie-break (§6.4.3).
/// `None` (the base interface's address stays the source) with `vmac_xmit_base`, unicast
/// peers, a configured source address, or an IPv4 instance (no `link_local`).
fn macvlan_source(
    inst: &crate::config::Instance,
    xmit_base: bool,
    link_local: Option<Ipv6Addr>,
) -> Option<IpAddr> {
    let configured = inst.unicast_src_ip.or(inst.mcast_src_ip).is_some();
    let multicast = inst.unicast_peers.is_empty();
    match link_local {
        Some(ll) if multicast && !xmit_base && !configured => Some(IpAddr::V6(ll)),
        _ => None,
    }
}

fn ours(m: &MacvlanInfo) -> bool {
    m.alias
        .as_deref()
        .is_some_and(|a| a.starts_with(ALIAS_PREFIX))
}

impl Vmacs {
    /// Makes (or adopts) the macvlan of every plan with `use_vmac` and records it in the
    /// plan. With `cleanup` (start-up), our macvlans that no plan wants (left by a killed
    /// run with another configuration) are removed first, and their base interfaces'
    /// sysctls restored.
    pub async fn prepare(
        &mut self,
        netlink: &Netlink,
        plans: &mut [Plan],
        cleanup: bool,
    ) -> Result<()> {
        let existing = netlink.macvlans().await?;
        let wanted: Vec<&str> = plans
            .iter()
            .filter_map(|p| p.inst.vmac.as_ref().map(|v| v.name.as_str()))
            .collect();
        // Originals recorded by a previous run, per base interface index.
        let mut recorded: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        for m in existing.iter().filter(|m| ours(m)) {
            let orig = originals_in(m.alias.as_deref().unwrap_or(""));
            if let Some(parent) = m.link.lower {
                if !orig.is_empty() {
                    recorded.entry(parent).or_insert(orig);
                }
            }
        }
        if cleanup {
            for m in existing
                .iter()
                .filter(|m| ours(m) && !wanted.contains(&m.link.name.as_str()))
            {
                netlink.delete_link(m.link.index).await?;
                tracing::info!(iface = %m.link.name, "removed a VMAC interface a previous run left");
                if let Some(parent) = m.link.lower {
                    let still_used = existing.iter().any(|o| {
                        ours(o)
                            && o.link.lower == Some(parent)
                            && wanted.contains(&o.link.name.as_str())
                    });
                    if !still_used {
                        if let Ok(p) = netlink.link_by_index(parent).await {
                            for (k, v) in originals_in(m.alias.as_deref().unwrap_or("")) {
                                let _ = write_sysctl(&conf_path("ipv4", &p.name, &k), &v);
                            }
                        }
                    }
                }
            }
        }
        for plan in plans.iter_mut() {
            let Some(cfg) = plan.inst.vmac.clone() else {
                continue;
            };
            let family = plan.inst.family;
            let mac = MacAddr(virtual_mac(family, plan.inst.vrid));
            let parent = plan.link.clone();
            // Base interface sysctls first (their originals go into the alias).
            let originals = if family == Family::V4 {
                self.set_parent_sysctls(&parent, recorded.get(&parent.index))?
            } else {
                Vec::new()
            };
            let alias = alias_for(&originals);
            let found = existing.iter().find(|m| m.link.name == cfg.name);
            let ifindex = match found {
                // Made by this run (a reload): left as it is (up on a Master).
                Some(m)
                    if self.links.get(&cfg.name) == Some(&m.link.index)
                        && m.link.lower == Some(parent.index)
                        && m.link.mac == mac =>
                {
                    m.link.index
                }
                Some(m) if m.link.lower == Some(parent.index) && m.link.mac == mac => {
                    netlink.set_link_alias(m.link.index, &alias).await?;
                    // Ours from a killed run (or keepalived's): taken over, down until Master.
                    netlink.set_link_up(m.link.index, false).await?;
                    tracing::info!(instance = %plan.inst.name, iface = %cfg.name, "took over the VMAC interface a previous run left (same base interface and MAC); down until Master");
                    m.link.index
                }
                Some(m) if ours(m) => {
                    netlink.delete_link(m.link.index).await?;
                    tracing::info!(instance = %plan.inst.name, iface = %cfg.name, "removed a VMAC interface a previous run left for another base interface or MAC");
                    self.create(netlink, &cfg.name, &parent, mac, &alias)
                        .await?
                }
                _ => match netlink.link(&cfg.name).await {
                    Ok(other) if Some(other.index) != self.links.get(&cfg.name).copied() => bail!(
                        "instance {}: interface {} exists and is not a VMAC of this instance \
                         ({}); remove it or give use_vmac another name",
                        plan.inst.name,
                        cfg.name,
                        other.kind.as_deref().unwrap_or("no link type")
                    ),
                    Ok(mine) => mine.index,
                    Err(_) => {
                        self.create(netlink, &cfg.name, &parent, mac, &alias)
                            .await?
                    }
                },
            };
            self.links.insert(cfg.name.clone(), ifindex);
            let link_local = match family {
                Family::V6 => Some(link_local_for(parent.mac, plan.inst.vrid)),
                Family::V4 => None,
            };
            self.set_vmac_sysctls(netlink, ifindex, &cfg.name, family, plan)
                .await?;
            if let Some(src) = macvlan_source(&plan.inst, cfg.xmit_base, link_local) {
                plan.src = src;
            }
            tracing::info!(instance = %plan.inst.name, iface = %cfg.name, parent = %parent.name, mac = %mac, "VMAC interface ready (down until Master)");
            plan.vmac = Some(VmacLink {
                name: cfg.name.clone(),
                ifindex,
                mac,
                parent: parent.index,
                family,
                xmit_base: cfg.xmit_base,
                link_local,
            });
        }
        Ok(())
    }

    /// The base interface of `plans` was deleted and created again under its name: the
    /// kernel removed their macvlans with the old one. Sets the base interface's sysctls
    /// again and makes each macvlan on the new interface (down until Master), as at
    /// start-up.
    pub async fn remake(&mut self, netlink: &Netlink, plans: &mut [Plan]) -> Result<()> {
        for p in plans.iter() {
            // Its first originals stay in `changed`, restored last at stop.
            self.parents.remove(&p.link.name);
        }
        self.prepare(netlink, plans, false).await
    }

    async fn create(
        &mut self,
        netlink: &Netlink,
        name: &str,
        parent: &LinkInfo,
        mac: MacAddr,
        alias: &str,
    ) -> Result<u32> {
        let index = netlink
            .create_macvlan(name, parent.index, mac, alias)
            .await
            .with_context(|| format!("creating VMAC interface {name} on {}", parent.name))?;
        self.links.insert(name.to_owned(), index);
        Ok(index)
    }

    /// arp_ignore / arp_filter / arp_announce on the base interface, once per interface.
    /// Returns the original values (the ones a previous run recorded when there are).
    fn set_parent_sysctls(
        &mut self,
        parent: &LinkInfo,
        recorded: Option<&Vec<(String, String)>>,
    ) -> Result<Vec<(String, String)>> {
        if let Some(orig) = self.parents.get(&parent.name) {
            return Ok(orig.clone());
        }
        let mut originals = Vec::new();
        for (name, value) in PARENT_SYSCTLS {
            let path = conf_path("ipv4", &parent.name, name);
            let now = read_sysctl(&path)?;
            let original = recorded
                .and_then(|r| r.iter().find(|(k, _)| k == name))
                .map_or(now.clone(), |(_, v)| v.clone());
            if now != value {
                write_sysctl(&path, value)?;
            }
            if original != value {
                self.changed
                    .push((path, value.to_owned(), original.clone()));
            }
            originals.push((name.to_owned(), original));
        }
        tracing::info!(iface = %parent.name, "VMAC base interface: arp_ignore=1 arp_filter=1 arp_announce=2 (restored at stop)");
        self.parents.insert(parent.name.clone(), originals.clone());
        Ok(originals)
    }

    /// The macvlan's own settings: IPv4 sysctls (and IPv6 off unless it holds IPv6
    /// addresses); addrgenmode none for IPv6.
    async fn set_vmac_sysctls(
        &mut self,
        netlink: &Netlink,
        ifindex: u32,
        name: &str,
        family: Family,
        plan: &Plan,
    ) -> Result<()> {
        let has_v6 = plan
            .inst
            .vips
            .iter()
            .chain(&plan.inst.vips_excluded)
            .any(|v| v.addr.is_ipv6() && v.dev.is_none());
        if family == Family::V6 || has_v6 {
            netlink.set_addrgenmode_none(ifindex).await?;
            write_sysctl(&conf_path("ipv6", name, "disable_ipv6"), "0")?;
        } else {
            write_sysctl(&conf_path("ipv6", name, "disable_ipv6"), "1")?;
        }
        if family == Family::V4 {
            self.clear_all_rp_filter()?;
            for (k, v) in VMAC_SYSCTLS {
                write_sysctl(&conf_path("ipv4", name, k), v)?;
            }
        }
        Ok(())
    }

    /// keepalived's `clear_rp_filter`: with `all.rp_filter` > 0 no interface can have 0;
    /// raise `default` and every interface below `all`'s value to it, then set `all` to 0.
    fn clear_all_rp_filter(&mut self) -> Result<()> {
        if self.rp_filter_done {
            return Ok(());
        }
        self.rp_filter_done = true;
        let all_path = conf_path("ipv4", "all", "rp_filter");
        let all = read_sysctl(&all_path)?;
        if all == "0" {
            return Ok(());
        }
        let entries = std::fs::read_dir("/proc/sys/net/ipv4/conf")
            .context("listing /proc/sys/net/ipv4/conf")?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "all" {
                continue;
            }
            let path = conf_path("ipv4", &name, "rp_filter");
            let Ok(now) = read_sysctl(&path) else {
                continue;
            };
            if now.parse::<u32>().unwrap_or(0) < all.parse::<u32>().unwrap_or(0) {
                write_sysctl(&path, &all)?;
                self.changed.push((path, all.clone(), now));
            }
        }
        write_sysctl(&all_path, "0")?;
        self.changed.push((all_path, "0".into(), all.clone()));
        tracing::info!(was = %all, "net.ipv4.conf.all.rp_filter set to 0 for the VMAC interfaces, every interface kept at {all} (restored at stop), as keepalived does");
        Ok(())
    }

    /// Clean stop: removes every macvlan this run made or took over, then restores the
    /// sysctls it changed (those that still hold the value it set).
    pub async fn teardown(&mut self, netlink: &Netlink) {
        for (name, index) in std::mem::take(&mut self.links) {
            match netlink.delete_link(index).await {
                Ok(()) => tracing::info!(iface = %name, "VMAC interface removed"),
                Err(e) => tracing::warn!(iface = %name, "removing the VMAC interface: {e}"),
            }
        }
        for (path, set, original) in std::mem::take(&mut self.changed).into_iter().rev() {
            match read_sysctl(&path) {
                Ok(now) if now == set => {
                    if let Err(e) = write_sysctl(&path, &original) {
                        tracing::warn!("{e:#}");
                    }
                }
                Ok(_) => {
                    tracing::info!(path = %path.display(), "changed by someone else since start-up: left as it is")
                }
                Err(_) => {}
            }
        }
        self.parents.clear();
        self.rp_filter_done = false;
    }
}

/// Brings `v` up before its VIPs are added (Master), with its IPv6 link-local address.
pub(super) async fn up(netlink: &Netlink, v: &VmacLink) -> Result<()> {
    netlink
        .set_link_up(v.ifindex, true)
        .await
        .with_context(|| format!("bringing VMAC interface {} up", v.name))?;
    if let Some(ll) = v.link_local {
        let addr = VirtualAddress {
            addr: IpAddr::V6(ll),
            prefix_len: 64,
            dev: None,
            label: None,
            scope: None,
            brd: None,
            location: Default::default(),
        };
        netlink
            .add_address(v.ifindex, &addr)
            .await
            .with_context(|| format!("adding link-local {ll} to VMAC interface {}", v.name))?;
    }
    Ok(())
}

/// Takes `v` down once its VIPs are removed (leaving Master).
pub(super) async fn down(netlink: &Netlink, v: &VmacLink) {
    if let Err(e) = netlink.set_link_up(v.ifindex, false).await {
        if !crate::netlink::vmac::is_enodev(&e) {
            tracing::warn!(iface = %v.name, "taking the VMAC interface down: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_round_trips_the_originals() {
        let orig = vec![
            ("arp_ignore".to_owned(), "0".to_owned()),
            ("arp_filter".to_owned(), "0".to_owned()),
            ("arp_announce".to_owned(), "1".to_owned()),
        ];
        let a = alias_for(&orig);
        assert!(a.starts_with(ALIAS_PREFIX));
        assert_eq!(originals_in(&a), orig);
        assert!(originals_in("vrrp-agent vmac rp_filter=3 arp_ignore=x").is_empty());
    }

    fn v6_plan(extra: &str) -> Plan {
        let text = format!(
            "vrrp_instance V6 {{\n interface eth0\n virtual_router_id 52\n priority 100\n \
             advert_int 0.1\n use_vmac\n{extra}\n virtual_ipaddress {{\n 2001:db8::50/64\n }}\n}}\n"
        );
        let inst = crate::config::parse_str(&text, std::path::Path::new("t.conf"))
            .expect("parses")
            .config
            .instances
            .remove(0);
        let parent = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
        let link_local = link_local_for(parent, 52);
        let xmit_base = inst.vmac.as_ref().is_some_and(|v| v.xmit_base);
        let base_ll: Ipv6Addr = "fe80::5eff:fe10:1".parse().unwrap();
        let mut plan = Plan {
            vmac: Some(VmacLink {
                name: "vrrp.52".into(),
                ifindex: 9,
                mac: MacAddr(virtual_mac(Family::V6, 52)),
                parent: 2,
                family: Family::V6,
                xmit_base,
                link_local: Some(link_local),
            }),
            link: crate::netlink::LinkInfo {
                index: 2,
                name: "eth0".into(),
                up: true,
                running: true,
                mac: parent,
                mtu: 1500,
                kind: None,
                lower: None,
                vlan_id: None,
                master: None,
            },
            src: inst
                .unicast_src_ip
                .or(inst.mcast_src_ip)
                .unwrap_or(IpAddr::V6(base_ll)),
            inst,
        };
        if let Some(src) = macvlan_source(&plan.inst, xmit_base, Some(link_local)) {
            plan.src = src;
        }
        plan
    }

    /// An IPv6 VMAC instance sends from the macvlan, from its link-local address (bound
    /// with IPV6_FREEBIND), and uses that address in the tie-break; with vmac_xmit_base, unicast
    /// peers or mcast_src_ip it sends from the base interface, as before.
    #[test]
    fn ipv6_vmac_adverts_leave_from_the_macvlans_own_link_local() {
        let ll: IpAddr = "fe80::5e10:1:5e34".parse().unwrap();
        let plan = v6_plan("");
        let spec = super::super::setup::tx_spec(&plan);
        assert_eq!(
            (
                spec.iface.as_str(),
                spec.ifindex,
                spec.src,
                spec.nonlocal_src
            ),
            ("vrrp.52", 9, ll, true)
        );
        // The group is held on the base interface too, where XDP receives the adverts.
        assert_eq!(spec.rx_link, Some(("eth0".to_owned(), 2)));
        let vr = super::super::setup::build_router(&plan);
        assert_eq!(vr.router.primary_address(), ll);
        assert_eq!(vr.src, ll);

        let base_ll: IpAddr = "fe80::5eff:fe10:1".parse().unwrap();
        for extra in [
            " vmac_xmit_base",
            " unicast_peer {\n 2001:db8::2\n }",
            " mcast_src_ip 2001:db8::1",
        ] {
            let plan = v6_plan(extra);
            let spec = super::super::setup::tx_spec(&plan);
            assert_eq!(
                (spec.iface.as_str(), spec.ifindex, spec.nonlocal_src),
                ("eth0", 2, false),
                "{extra}"
            );
            assert_eq!(spec.rx_link, None, "{extra}");
            assert_ne!(spec.src, ll, "{extra}");
            let vr = super::super::setup::build_router(&plan);
            assert_eq!(vr.router.primary_address(), spec.src, "{extra}");
            if extra.contains("xmit") {
                assert_eq!(spec.src, base_ll);
            }
        }
    }

    #[test]
    fn link_local_is_neither_the_parents_nor_the_vmacs_eui64() {
        let parent = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
        let ll = link_local_for(parent, 7);
        assert_eq!(ll, "fe80::5e10:1:5e07".parse::<Ipv6Addr>().unwrap());
        // The EUI-64 of the parent (fe80::0:5eff:fe10:1) and of the virtual MAC
        // (fe80::200:5eff:fe00:207) are not it.
        assert_ne!(ll, "fe80::5eff:fe10:1".parse::<Ipv6Addr>().unwrap());
        assert_ne!(ll, "fe80::200:5eff:fe00:207".parse::<Ipv6Addr>().unwrap());
    }
}
