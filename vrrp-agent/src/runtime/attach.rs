//! Keeps the XDP program's view of VLAN devices (`VRRP_VLAN_NETS`) in step with the links of
//! the namespace: at attach time, and on every link event (a VLAN device created or removed
//! later). What the entries mean and why is in [`crate::dataplane::vlan`].
use std::collections::{BTreeMap, BTreeSet};

use vrrp_common::FAMILY_IPV6;

use super::Agent;
use crate::dataplane::vlan;

impl Agent {
    /// Recomputes and writes `VRRP_VLAN_NETS`. With `warn`, also warns about instances whose
    /// adverts the program on the parent cannot tell from a VLAN's when the tag is offloaded.
    /// Failures are logged: the program then keeps its previous view.
    pub(super) async fn sync_vlans(&mut self, warn: bool) {
        self.sync_vlans_with(&[], warn).await;
    }

    /// [`Agent::sync_vlans`], with the interfaces `extra` (about to be attached by a
    /// reload) counted as attached.
    pub(super) async fn sync_vlans_with(&mut self, extra: &[u32], warn: bool) {
        // The interfaces XDP is or is about to be attached to: written before attaching, so
        // that no advert reaches the program before it knows the VLAN devices.
        let attached: BTreeSet<u32> = (self.dp.attachments().iter().map(|a| a.ifindex))
            .chain(self.kernel.keys().map(|k| k.ifindex))
            .chain(extra.iter().copied())
            .collect();
        let links = match self.netlink.links().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("VLAN devices not updated: {e}");
                return;
            }
        };
        let mut addrs = BTreeMap::new();
        for l in &links {
            if l.kind.as_deref() == Some("vlan") && l.lower.is_some_and(|p| attached.contains(&p)) {
                match self.netlink.addresses(l.index).await {
                    Ok(a) => {
                        addrs.insert(l.index, a);
                    }
                    Err(e) => tracing::warn!(iface = %l.name, "VLAN subnets not read: {e}"),
                }
            }
        }
        let nets = vlan::plan(&attached, &links, &addrs);
        match self.dp.set_vlan_nets(&nets) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(entries = nets.len(), changed = n, "VLAN view updated"),
            Err(e) => tracing::warn!("VLAN view not updated: {e}"),
        }
        if warn {
            self.warn_ambiguous(&attached, &links, &nets);
        }
    }

    /// An instance on a parent and one on a VLAN device on it with the same VRID and family:
    /// with the tag offloaded, the parent's program tells them apart by the IPv4 subnets of
    /// the VLAN device only.
    fn warn_ambiguous(
        &self,
        attached: &BTreeSet<u32>,
        links: &[crate::netlink::LinkInfo],
        nets: &BTreeSet<vlan::VlanNet>,
    ) {
        let unaddressed: BTreeSet<u32> = vlan::unaddressed(attached, links, nets)
            .iter()
            .map(|l| l.index)
            .collect();
        for k in self.kernel.values() {
            let Some(l) = links.iter().find(|l| l.index == k.key.ifindex) else {
                continue;
            };
            let (Some("vlan"), Some(parent)) = (l.kind.as_deref(), l.lower) else {
                continue;
            };
            let same = self.kernel.values().find(|p| {
                p.key.ifindex == parent && p.key.vrid == k.key.vrid && p.key.family == k.key.family
            });
            let Some(p) = same else { continue };
            if k.key.family == FAMILY_IPV6 || unaddressed.contains(&l.index) {
                tracing::warn!(
                    instance = %p.name, iface = %p.iface, vrid = k.key.vrid,
                    "{} on {} has the same VRID: if the NIC strips VLAN tags (RX VLAN offload), \
                     its adverts look like {}'s to XDP on {}; turn the offload off \
                     (ethtool -K {} rxvlan off), use another VRID, or give {} an IPv4 address",
                    k.name, k.iface, p.iface, p.iface, p.iface, k.iface
                );
            }
        }
    }
}
