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
    /// Source of adverts: `unicast_src_ip` / `mcast_src_ip`, else the interface's primary
    /// IPv4 address (RFC 9568 §5.1.1.1) or its IPv6 link-local address (§5.1.2.1; with
    /// `use_vmac`, the macvlan's own link-local, see `vmac::Vmacs::prepare`). Also the
    /// router's own address in the equal-priority tie-break, compared with senders of the
    /// same family only.
    pub src: IpAddr,
    /// Its `use_vmac` macvlan, once made (`runtime::vmac`).
    pub vmac: Option<super::vmac::VmacLink>,
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
        let src = match (inst.unicast_src_ip.or(inst.mcast_src_ip), inst.family) {
            (Some(a), _) => Some(a),
            (None, Family::V4) => netlink.primary_ipv4(link.index).await?.map(IpAddr::V4),
            (None, Family::V6) => link_local(netlink, link.index).await?.map(IpAddr::V6),
        };
        let Some(src) = src else {
            let what = match inst.family {
                Family::V4 => "an IPv4 address",
                Family::V6 => "a usable IPv6 link-local address (is it up? is DAD still running?)",
            };
            bail!(
                "instance {}: interface {} has no {what} to send adverts from; add one or set \
                 unicast_src_ip",
                inst.name,
                inst.interface
            );
        };
        // keepalived sizes adverts for the interface's MTU, as `check` did for 1500 bytes.
        let mut inst = inst.clone();
        let moved = inst.fit_vips_to_mtu(link.mtu);
        if moved > 0 {
            tracing::warn!(instance = %inst.name, iface = %inst.interface, mtu = link.mtu, "{moved} virtual address(es) do not fit an advert on this interface: moved to virtual_ipaddress_excluded (set, not advertised), as keepalived does");
        }
        plans.push(Plan {
            inst,
            link,
            src,
            vmac: None,
        });
    }
    Ok(plans)
}

/// How long [`plan_instances`] waits for a tentative link-local address to finish Duplicate
/// Address Detection (one probe of `RetransTimer`, 1 s, by default).
const LINK_LOCAL_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The interface's link-local IPv6 address, waiting up to [`LINK_LOCAL_WAIT`] while it is
/// tentative (an interface brought up just before the agent starts).
async fn link_local(
    netlink: &Netlink,
    ifindex: u32,
) -> Result<Option<std::net::Ipv6Addr>, crate::netlink::NetlinkError> {
    let until = std::time::Instant::now() + LINK_LOCAL_WAIT;
    loop {
        if let Some(a) = netlink.link_local_ipv6(ifindex).await? {
            return Ok(Some(a));
        }
        let tentative =
            netlink.addresses(ifindex).await?.iter().any(|a| {
                matches!(a.addr, IpAddr::V6(v6) if v6.is_unicast_link_local()) && a.tentative
            });
        if !tentative || std::time::Instant::now() >= until {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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
        if vip.addr == plan.src {
            continue; // the address adverts are sent from
        }
        // A VIP on an interface that does not exist (yet) has nothing to clean up; taking it
        // later fails and puts the instance in FAULT until it can be taken.
        let (home, home_mac) = match &plan.vmac {
            Some(v) => (v.ifindex, v.mac),
            None => (plan.link.index, plan.link.mac),
        };
        let Ok((ifindex, _)) = vip_link(netlink, vip, home, home_mac).await else {
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

/// What the router of a plan sends, and from where: v3 over IPv6 to ff02::12 (or the
/// unicast peers), or v2/v3 over IPv4.
pub(super) fn tx_spec(plan: &Plan) -> TxSpec {
    let src = plan.src;
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
    // use_vmac: multicast adverts leave from the macvlan (the virtual MAC), unless
    // vmac_xmit_base. IPv6 ones from the macvlan's own link-local address (`plan.src`, set
    // by `vmac::Vmacs::prepare`), which it has only while up: bound with IPV6_FREEBIND.
    let (iface, ifindex, nonlocal_src) = match &plan.vmac {
        Some(v) if v.sends_adverts(multicast, src) => (
            v.name.clone(),
            v.ifindex,
            v.link_local.map(IpAddr::V6) == Some(src),
        ),
        _ => (inst.interface.clone(), plan.link.index, false),
    };
    // Adverts are received on the base interface, which must hold the group then.
    let rx_link = (iface != inst.interface).then(|| (inst.interface.clone(), plan.link.index));
    TxSpec {
        name: inst.name.clone(),
        iface,
        ifindex,
        src,
        nonlocal_src,
        rx_link,
        dsts: if multicast {
            // 224.0.0.18 / ff02::12, or keepalived's mcast_dst_ip / vrrp_mcast_group4 / 6.
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
    }
}

/// The router of a plan, in Initialize.
pub(super) fn build_router(plan: &Plan) -> Vrouter {
    let inst = &plan.inst;
    let src = plan.src;
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
        lower_prio_no_advert: inst.lower_prio_no_advert,
        higher_prio_send_advert: inst.higher_prio_send_advert,
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
        af = if src.is_ipv4() { 4 } else { 6 },
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
        vmac: plan.vmac.clone(),
        addrs: super::addresses::VipState::new(inst.vips.len() + inst.vips_excluded.len()),
        garp: GarpSchedule::for_family(&inst.garp, wire::Family::of(&src)),
        link_fault: !(plan.link.up && plan.link.running),
        link_up: plan.link.up && plan.link.running,
        track_fault: None,
        vip_fault: None,
        inst: inst.clone(),
        awaiting_checks: false,
        transitions: 0,
        watch: None,
        stall: Default::default(),
        obs: Default::default(),
    }
}
