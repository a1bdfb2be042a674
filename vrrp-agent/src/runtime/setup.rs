//! From configured instances to running routers: host checks first (so a typo fails before
//! anything changes, at start-up and on reload), then the pieces of a [`Vrouter`].
use std::net::IpAddr;

use anyhow::{bail, Context, Result};

use super::{sender::TxSpec, Vrouter};
use crate::{
    announce::GarpSchedule,
    config::{self, Config, Family, Instance, VirtualAddress},
    election::{Router, RouterConfig},
    netlink::{LinkInfo, Netlink, VIP_PROTO},
    wire::{self, vrrp::Repr, ChecksumForm, MacAddr},
};

/// One configured instance with what this host says about it.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub inst: Instance,
    pub link: LinkInfo,
    /// Source of adverts (IPv4); `None` for a watched-only IPv6 instance.
    pub src: Option<IpAddr>,
}

/// Resolves every instance's interface and source address.
pub(super) async fn plan_instances(netlink: &Netlink, config: &Config) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    for inst in &config.instances {
        let link = netlink.link(&inst.interface).await.with_context(|| {
            format!(
                "instance {}: interface {} does not exist on this host",
                inst.name, inst.interface
            )
        })?;
        let src = match inst.family {
            Family::V4 => match inst.unicast_src_ip.or(inst.mcast_src_ip) {
                Some(a) => Some(a),
                None => netlink.primary_ipv4(link.index).await?.map(IpAddr::V4),
            },
            Family::V6 => None,
        };
        if inst.family == Family::V4 && src.is_none() {
            bail!(
                "instance {}: interface {} has no IPv4 address to send adverts from; add one or \
                 set unicast_src_ip",
                inst.name,
                inst.interface
            );
        }
        // keepalived sizes adverts for the interface's MTU, as `check` did for 1500 bytes.
        let mut inst = inst.clone();
        let moved = inst.fit_vips_to_mtu(link.mtu);
        if moved > 0 {
            tracing::warn!(instance = %inst.name, iface = %inst.interface, mtu = link.mtu, "{moved} virtual address(es) do not fit an advert on this interface: moved to virtual_ipaddress_excluded (set, not advertised), as keepalived does");
        }
        plans.push(Plan { inst, link, src });
    }
    Ok(plans)
}

/// Removes the VIPs of `plan` that a previous run left on the interfaces (e.g. after
/// SIGKILL): a Backup must not answer for them.
///
/// An address owner's (priority 255) VIPs are its own real addresses, configured on the
/// interface by the host: only those a previous run added (marked with `IFA_PROTO`
/// [`VIP_PROTO`]) go. keepalived 2.2.7 removes them all, the owner's real address
/// included, and re-adds them as Master; a SIGTERM then leaves the host without it.
pub(super) async fn remove_leftover_vips(netlink: &Netlink, plan: &Plan) -> Result<()> {
    let inst = &plan.inst;
    let owner = inst.priority == 255;
    for vip in inst.vips.iter().chain(&inst.vips_excluded) {
        if Some(vip.addr) == plan.src {
            continue; // the address adverts are sent from
        }
        // A VIP on an interface that does not exist (yet) has nothing to clean up; taking it
        // later fails and puts the instance in FAULT until it can be taken.
        let Ok((ifindex, _)) = vip_link(netlink, vip, plan.link.index, plan.link.mac).await else {
            continue;
        };
        let addrs = netlink.addresses(ifindex).await.unwrap_or_default();
        let Some(present) = addrs.iter().find(|a| a.addr == vip.addr) else {
            continue;
        };
        if owner && present.proto != VIP_PROTO {
            tracing::info!(instance = %inst.name, vip = %vip.addr, "address owner: {} is on the interface and was not added by vrrp-agent; it stays", vip.addr);
            continue;
        }
        netlink.remove_vip(ifindex, vip).await?;
        tracing::info!(instance = %inst.name, vip = %vip.addr, "removed a VIP left by a previous run");
    }
    Ok(())
}

/// The interface a VIP lives on and its MAC: its `dev` (looked up now), else the
/// instance's (`default`).
pub(super) async fn vip_link(
    netlink: &Netlink,
    vip: &VirtualAddress,
    default_index: u32,
    default_mac: MacAddr,
) -> Result<(u32, MacAddr)> {
    match &vip.dev {
        Some(dev) => {
            let link = netlink
                .link(dev)
                .await
                .with_context(|| format!("VIP {}: dev {dev}", vip.addr))?;
            Ok((link.index, link.mac))
        }
        None => Ok((default_index, default_mac)),
    }
}

/// What the router of an IPv4 plan sends, and from where; `None` for a watched-only IPv6
/// instance.
pub(super) fn tx_spec(plan: &Plan) -> Option<TxSpec> {
    let src = plan.src.filter(IpAddr::is_ipv4)?;
    let inst = &plan.inst;
    let repr = Repr {
        version: match inst.version {
            config::Version::V2 => wire::vrrp::Version::V2,
            config::Version::V3 => wire::vrrp::Version::V3,
        },
        vrid: inst.vrid,
        priority: inst.priority,
        max_adver_int: inst.advert_centisecs(),
        addresses: inst.vips.iter().map(|v| v.addr).collect(),
        auth: match &inst.auth {
            Some(config::Auth::Pass(p)) if inst.version == config::Version::V2 => {
                wire::vrrp::Auth::Pass(*p)
            }
            _ => wire::vrrp::Auth::None,
        },
    };
    let multicast = inst.unicast_peers.is_empty();
    Some(TxSpec {
        name: inst.name.clone(),
        iface: inst.interface.clone(),
        ifindex: plan.link.index,
        src,
        dsts: if multicast {
            // 224.0.0.18, or keepalived's mcast_dst_ip / vrrp_mcast_group4.
            vec![inst.advert_group()]
        } else {
            inst.unicast_peers.clone()
        },
        ttl: inst.unicast_ttl.unwrap_or(wire::VRRP_TTL),
        checksum: if inst.v3_checksum_as_v2 {
            ChecksumForm::Plain
        } else {
            ChecksumForm::PseudoHeader
        },
        multicast,
        repr,
    })
}

/// The router of an IPv4 plan (`src` set), in Initialize.
pub(super) fn build_router(plan: &Plan) -> Vrouter {
    let inst = &plan.inst;
    let src = plan.src.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let version = match inst.version {
        config::Version::V2 => crate::election::Version::V2,
        config::Version::V3 => crate::election::Version::V3,
    };
    let interval = inst.advert_centisecs();
    let router = Router::new(RouterConfig {
        version,
        priority: inst.priority,
        advertisement_interval: interval,
        preempt_mode: inst.preempt,
        preempt_delay: inst.preempt_delay,
        accept_mode: inst.accept_mode,
        primary_address: src,
        // One wake-up and one sendmmsg per tick for all instances of an interval.
        align_adverts: true,
    });
    let to: Vec<IpAddr> = if inst.unicast_peers.is_empty() {
        vec![inst.advert_group()]
    } else {
        inst.unicast_peers.clone()
    };
    tracing::info!(
        instance = %inst.name,
        iface = %inst.interface,
        vrid = inst.vrid,
        priority = inst.priority,
        interval = %interval,
        from = %src,
        to = ?to,
        "instance ready"
    );
    Vrouter {
        name: inst.name.clone(),
        iface: inst.interface.clone(),
        ifindex: plan.link.index,
        key: super::kernel_instance(inst, plan.link.index).key,
        router,
        vips: inst
            .vips
            .iter()
            .chain(&inst.vips_excluded)
            .cloned()
            .collect(),
        src,
        mac: plan.link.mac,
        addrs: super::addresses::VipState::new(inst.vips.len() + inst.vips_excluded.len()),
        garp: GarpSchedule::new(&inst.garp),
        link_fault: !(plan.link.up && plan.link.running),
        link_up: plan.link.up && plan.link.running,
        track_fault: None,
        vip_fault: None,
        inst: inst.clone(),
        awaiting_checks: false,
        transitions: 0,
        watch: None,
        obs: Default::default(),
    }
}

/// Whether a running instance can stay as it is under `new`: everything that shapes its
/// election, adverts, kernel record and addresses is equal. Tracking references and notify
/// commands may differ (they are rebuilt on every reload), and so may where in the file it
/// is written.
pub(super) fn same_settings(old: &Instance, new: &Instance) -> bool {
    let strip = |i: &Instance| {
        let mut i = i.clone();
        i.location = Default::default();
        i.spans = Default::default();
        for v in i.vips.iter_mut().chain(i.vips_excluded.iter_mut()) {
            v.location = Default::default();
        }
        i.track_scripts.clear();
        i.track_interfaces.clear();
        i.track_files.clear();
        i.notify = Default::default();
        i
    };
    strip(old) == strip(new)
}

/// Whether `old` can take `new`'s settings in place: they differ at most in the priority,
/// and neither is the address owner (255), which starts differently.
pub(super) fn priority_change_only(old: &Instance, new: &Instance) -> bool {
    let owner = |i: &Instance| i.priority == 255;
    if owner(old) || owner(new) {
        return false;
    }
    let mut same = new.clone();
    same.priority = old.priority;
    same_settings(old, &same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(text: &str) -> Instance {
        let loaded = config::parse_str(text, std::path::Path::new("t.conf")).expect("parses");
        loaded.config.instances[0].clone()
    }

    #[test]
    fn same_settings_ignores_position_tracking_and_notify() {
        let a = instance(
            "vrrp_instance VI_1 {\n interface lo0x\n virtual_router_id 5\n priority 100\n \
             virtual_ipaddress { 198.18.0.1 }\n}\n",
        );
        let moved = instance(
            "\n\nvrrp_instance VI_1 {\n interface lo0x\n  virtual_router_id 5\n priority 100\n \
             virtual_ipaddress {\n 198.18.0.1\n }\n notify_master /bin/true\n \
             track_interface { lo }\n}\n",
        );
        assert!(same_settings(&a, &moved));
        let prio = instance(
            "vrrp_instance VI_1 {\n interface lo0x\n virtual_router_id 5\n priority 101\n \
             virtual_ipaddress { 198.18.0.1 }\n}\n",
        );
        assert!(!same_settings(&a, &prio));
        assert!(priority_change_only(&a, &prio));
        let vip = instance(
            "vrrp_instance VI_1 {\n interface lo0x\n virtual_router_id 5\n priority 100\n \
             virtual_ipaddress { 198.18.0.2 }\n}\n",
        );
        assert!(!same_settings(&a, &vip));
        assert!(!priority_change_only(&a, &vip));
        let owner = instance(
            "vrrp_instance VI_1 {\n interface lo0x\n virtual_router_id 5\n priority 255\n \
             virtual_ipaddress { 198.18.0.1 }\n}\n",
        );
        assert!(!priority_change_only(&a, &owner));
    }
}
