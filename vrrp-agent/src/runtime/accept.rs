//! Accept_Mode (RFC 9568 §6.1, §6.4.3) in the data plane: a Master of an instance in
//! no_accept mode (`no_accept`, or keepalived's strict mode) must not accept packets sent to
//! its virtual addresses, except what the protocol needs (ARP, IPv6 Neighbour Discovery,
//! VRRP). keepalived installs nftables rules for it; here the XDP program drops them:
//! - the interfaces of no_accept instances (and of their VIPs' `dev`) are marked once at
//!   start-up and after each reload (`IFACE_NO_ACCEPT`);
//! - on becoming Master, before its addresses are added, the instance's VIPs
//!   (virtual_ipaddress and virtual_ipaddress_excluded, as keepalived's `vips` set) go into
//!   `VRRP_VIPS`; on leaving Master (Backup, FAULT, stop), after its addresses are removed,
//!   they come out. Removing an instance from the kernel also removes its entries.
//!
//! A restart after SIGKILL starts from empty maps: the pins of the killed run are replaced,
//! and its XDP links died with it, so no entry of a previous run can drop traffic.
use std::collections::BTreeSet;

use vrrp_common::AddrKey;

use super::{addr_bytes, Agent, RouterId};
use crate::config::Instance;

/// The `VRRP_VIPS` keys of an instance's addresses.
pub(super) fn vip_keys(inst: &Instance) -> Vec<AddrKey> {
    inst.vips
        .iter()
        .chain(&inst.vips_excluded)
        .map(|v| {
            let family = if v.addr.is_ipv4() {
                vrrp_common::FAMILY_IPV4
            } else {
                vrrp_common::FAMILY_IPV6
            };
            AddrKey::new(family, addr_bytes(v.addr))
        })
        .collect()
}

/// The interfaces a no_accept instance filters on: its own, and those its addresses are
/// put on with `dev` (when they exist). Empty for an instance that accepts.
pub(super) fn filtered_ifaces(inst: &Instance, ifindex: u32) -> BTreeSet<u32> {
    if inst.accept_mode {
        return BTreeSet::new();
    }
    let mut out = BTreeSet::from([ifindex]);
    out.extend(
        inst.vips
            .iter()
            .chain(&inst.vips_excluded)
            .filter_map(|v| v.dev.as_deref())
            .filter_map(crate::dataplane::if_index),
    );
    out
}

impl Agent {
    /// Marks exactly the interfaces the running no_accept instances filter on.
    pub(super) fn sync_no_accept_ifaces(&mut self) {
        let want: BTreeSet<u32> = self
            .routers
            .values()
            .flat_map(|vr| filtered_ifaces(&vr.inst, vr.ifindex))
            .collect();
        if &want == self.dp.no_accept_ifaces() {
            return;
        }
        match self.dp.set_no_accept_ifaces(&want) {
            Ok(()) => {
                tracing::info!(ifindexes = ?want, "no_accept: packets to the VIPs of no_accept Masters are dropped on these interfaces")
            }
            Err(e) => tracing::error!("no_accept: marking the interfaces failed: {e}"),
        }
    }

    /// Router `i` becomes Master: a no_accept instance's VIPs go into the XDP VIP table
    /// (before the addresses are added, so that no packet to them is accepted meanwhile).
    pub(super) fn no_accept_take(&mut self, i: RouterId) {
        let Some(vr) = self.routers.get(i) else {
            return;
        };
        if vr.inst.accept_mode {
            return;
        }
        let keys = vip_keys(&vr.inst);
        if let Err(e) = self.dp.set_no_accept_vips(&vr.key, &keys) {
            tracing::error!(instance = %vr.name, "no_accept: writing the VIP table failed (packets to the VIPs are accepted): {e}");
        }
    }

    /// Router `i` left Master: its VIP table entries go (after its addresses went).
    pub(super) fn no_accept_release(&mut self, i: RouterId) {
        // A restarted instance's successor (same key) holding the VIPs keeps the entries.
        if self.key_held_elsewhere(i) {
            return;
        }
        let Some(vr) = self.routers.get(i) else {
            return;
        };
        if let Err(e) = self.dp.clear_no_accept_vips(&vr.key) {
            tracing::error!(instance = %vr.name, "no_accept: clearing the VIP table failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(text: &str) -> Instance {
        crate::config::parse_str(text, std::path::Path::new("t.conf"))
            .expect("parses")
            .config
            .instances
            .remove(0)
    }

    #[test]
    fn vip_keys_cover_both_lists_and_families() {
        let i = inst(
            "vrrp_instance A {\n interface lo0x\n virtual_router_id 1\n no_accept\n \
             virtual_ipaddress { 198.18.0.10/24 }\n virtual_ipaddress_excluded { 2001:db8::10/64 }\n}\n",
        );
        let keys = vip_keys(&i);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].family, vrrp_common::FAMILY_IPV4);
        assert_eq!(&keys[0].addr[..4], &[198, 18, 0, 10]);
        assert_eq!(keys[0].addr[4..], [0; 12]);
        assert_eq!(keys[1].family, vrrp_common::FAMILY_IPV6);
        assert_eq!(keys[1].addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
    }

    #[test]
    fn only_no_accept_instances_filter() {
        let acc = inst(
            "vrrp_instance A {\n interface lo0x\n virtual_router_id 1\n virtual_ipaddress { 198.18.0.10 }\n}\n",
        );
        assert!(filtered_ifaces(&acc, 7).is_empty());
        let no = inst(
            "vrrp_instance A {\n interface lo0x\n virtual_router_id 1\n no_accept\n \
             virtual_ipaddress { 198.18.0.10 dev lo }\n}\n",
        );
        assert_eq!(filtered_ifaces(&no, 7), BTreeSet::from([1, 7]));
    }
}
