//! Interfaces that change under a running agent: a new MAC address, or deleted and created
//! again under the same name (a new ifindex).
//!
//! Everything the agent keeps per interface is checked against each link event of an
//! instance's interface, and what is stale is rebuilt:
//! - the kernel's instance records and unicast peers, keyed by ifindex (re-keyed; the peer
//!   records start empty, the master-down watchdog is re-armed by the election);
//! - the XDP attachment (detached from the old interface, attached to the new one);
//! - the advert socket (bound to the interface, joined to 224.0.0.18 there) and the
//!   AF_PACKET socket with its prebuilt frames, which carry the MAC read when it was opened;
//! - the MAC the GARPs are sent from;
//! - the advert source when it comes from the interface: a re-created interface has a new
//!   IPv6 link-local address (from its new MAC), maybe another primary IPv4 address;
//! - `use_vmac` macvlans: the kernel deletes them with their base interface; they are made
//!   again on the new one.
//!
//! Nothing is done while nothing is stale, so the frequent `RTM_NEWLINK` events cost no
//! system call. When a rebuild fails (e.g. the new interface has no address to bind the
//! advert socket to yet), its instances stay in FAULT and the next event for the interface
//! (a link change or an address added) tries again.
use std::net::IpAddr;

use vrrp_common::InstanceKey;

use super::{registry::RouterId, setup::Plan, Agent};
use crate::{netlink::LinkEvent, units::MonoTime};

impl Agent {
    /// Brings what the agent keeps for interface `ev.name` up to date with `ev`. Returns
    /// whether the interface can be used (false: a rebuild failed; try again later).
    pub(super) async fn follow_link(&mut self, ev: &LinkEvent) -> bool {
        if ev.removed {
            return true;
        }
        if let Some(mac) = ev.mac {
            // GARPs of VIPs on this interface (also as some instance's `dev`).
            for vr in self.routers.values_mut() {
                for h in vr.addrs.held.iter_mut().flatten() {
                    if h.ifindex == ev.index {
                        h.mac = mac;
                    }
                }
            }
        }
        if !self.kernel.values().any(|k| k.iface == ev.name) {
            return true;
        }
        let mut usable = true;
        self.rekey(ev);
        if self
            .dp
            .attachments()
            .iter()
            .any(|a| a.iface == ev.name && a.ifindex != ev.index)
        {
            self.dp.detach(&ev.name);
            match self.attach_all().await {
                Ok(()) => {
                    tracing::info!(iface = %ev.name, ifindex = ev.index, "XDP attached to the re-created interface")
                }
                Err(e) => {
                    tracing::warn!(iface = %ev.name, "attaching XDP to the re-created interface: {e:#}");
                    usable = false;
                }
            }
        }
        // Sources first: a socket reopened on the old source would fail to bind, so the
        // sockets wait until every source is known (the next event tries again).
        usable &=
            self.follow_sources(ev).await && self.sender.follow_link(&ev.name, ev.index, ev.mac);
        usable &= self.follow_vmacs(ev).await;
        if let Some(mac) = ev.mac {
            let mut announce = Vec::new();
            for (i, vr) in self.routers.iter_mut() {
                if vr.ifindex == ev.index && vr.mac != mac {
                    tracing::info!(instance = %vr.name, iface = %vr.iface, from = %vr.mac, to = %mac, "interface MAC changed");
                    vr.mac = mac;
                    if vr.router.state() == crate::election::State::Master {
                        announce.push(i);
                    }
                }
            }
            // Neighbours still have the old MAC for the VIPs: tell them at once.
            for i in announce {
                self.announce(i, 1);
            }
        }
        usable
    }

    /// An address was added to interface `index`. An instance whose re-created interface is
    /// up but could not be used (no address to bind its advert socket to) tries again, and
    /// leaves FAULT if that works.
    pub(super) async fn on_address_added(&mut self, now: MonoTime, index: u32) {
        let waiting = |vr: &super::Vrouter| vr.ifindex == index && vr.link_fault && vr.link_up;
        if !self.routers.values().any(waiting) {
            return;
        }
        let Ok(l) = self.netlink.link_by_index(index).await else {
            return;
        };
        let ev = LinkEvent {
            index: l.index,
            name: l.name,
            up: l.up,
            running: l.running,
            removed: false,
            mac: Some(l.mac),
        };
        if !self.follow_link(&ev).await {
            return;
        }
        for vr in self.routers.values_mut().filter(|vr| waiting(vr)) {
            vr.link_fault = false;
            vr.vip_fault = None;
            vr.addrs.retry.reset();
            tracing::info!(instance = %vr.name, iface = %vr.iface, "interface is usable again");
            self.faults_dirty = true;
        }
        self.sync_faults(now).await;
    }

    /// Re-reads the advert source of the routers on `ev.name` that take it from the
    /// interface (no `unicast_src_ip` / `mcast_src_ip`): its IPv6 link-local address, which
    /// a re-created interface derives from its new MAC, or its primary IPv4 address. Only
    /// for an interface re-created since the router's sender last followed it (its spec
    /// still holds the old ifindex), so routine `RTM_NEWLINK` events and carrier flaps cost
    /// nothing. A changed source moves the router's socket, its adverts and its tie-break
    /// address. False if a router has no source yet (no link-local address while the link
    /// is down or DAD runs): the next link or address event tries again.
    ///
    /// `use_vmac` instances are left to [`Agent::follow_vmacs`]: their macvlan is made again.
    async fn follow_sources(&mut self, ev: &LinkEvent) -> bool {
        let ids: Vec<_> = self
            .routers
            .iter()
            .filter(|(id, vr)| {
                vr.iface == ev.name
                    && vr.inst.src_ip().is_none()
                    && vr.vmac.is_none()
                    && self.sender.spec(*id).is_some_and(|s| s.ifindex != ev.index)
            })
            .map(|(id, _)| id)
            .collect();
        let mut usable = true;
        for id in ids {
            let Some(src) = self.interface_source(id, ev).await else {
                usable = false;
                continue;
            };
            usable &= self.move_source(id, src, ev.index);
        }
        usable
    }

    /// Router `id` sends from `src` on interface index `ifindex` from now on, and breaks
    /// ties with it; nothing to do when it already does. False if its socket could not be
    /// opened (nothing changed; the instance stays in FAULT until it works).
    fn move_source(&mut self, id: RouterId, src: IpAddr, ifindex: u32) -> bool {
        let vr = &self.routers[id];
        if src == vr.src {
            return true;
        }
        if let Err(e) = self.sender.set_source(id, src, ifindex) {
            tracing::warn!(instance = %vr.name, iface = %vr.iface, from = %src, "opening the advert socket on the new source: {e:#}; the instance stays in FAULT until it works");
            return false;
        }
        let vr = &mut self.routers[id];
        tracing::info!(instance = %vr.name, iface = %vr.iface, from = %vr.src, to = %src, "advert source changed");
        vr.src = src;
        vr.router.set_primary_address(src);
        true
    }

    /// Router `id`'s advert source as interface `ev` gives it: its IPv6 link-local address
    /// or its primary IPv4 address. None (logged) while it has none yet (the link is down,
    /// DAD runs, the address is not added yet) or reading failed.
    async fn interface_source(&self, id: RouterId, ev: &LinkEvent) -> Option<IpAddr> {
        let vr = &self.routers[id];
        let v6 = vr.src.is_ipv6();
        let read = if v6 {
            self.netlink
                .link_local_ipv6(ev.index)
                .await
                .map(|a| a.map(IpAddr::V6))
        } else {
            self.netlink
                .primary_ipv4(ev.index)
                .await
                .map(|a| a.map(IpAddr::V4))
        };
        match read {
            Ok(Some(src)) => Some(src),
            Ok(None) => {
                if ev.up && ev.running {
                    tracing::info!(instance = %vr.name, iface = %vr.iface, "no {} on the interface yet to send adverts from; waiting for it", if v6 { "usable IPv6 link-local address" } else { "IPv4 address" });
                }
                None
            }
            Err(e) => {
                tracing::warn!(instance = %vr.name, iface = %vr.iface, "reading the interface's addresses: {e}");
                None
            }
        }
    }

    /// `use_vmac` routers on a re-created base interface: the kernel deleted their macvlans
    /// with the old interface. Each is made again on the new one (its sysctls too), and
    /// what sends from it follows: the advert socket and frames on the macvlan, and for
    /// IPv6 the macvlan's link-local address, derived from the base interface's new MAC
    /// (the advert source and tie-break address). A Master-to-be brings it up as usual.
    /// False if that failed (the instance stays in FAULT; the next event tries again).
    async fn follow_vmacs(&mut self, ev: &LinkEvent) -> bool {
        let ids: Vec<_> = self
            .routers
            .iter()
            .filter(|(_, vr)| {
                vr.iface == ev.name && vr.vmac.as_ref().is_some_and(|v| v.parent != ev.index)
            })
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return true;
        }
        let link = match self.netlink.link_by_index(ev.index).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(iface = %ev.name, "reading the re-created VMAC base interface: {e}");
                return false;
            }
        };
        // The source as at start-up: configured, else the new interface's; `remake` puts
        // the macvlan's own link-local address where IPv6 adverts leave from it.
        let mut plans = Vec::new();
        for &id in &ids {
            let vr = &self.routers[id];
            let src = match vr.inst.src_ip() {
                Some(src) => src,
                None => match self.interface_source(id, ev).await {
                    Some(src) => src,
                    None => return false,
                },
            };
            plans.push(Plan {
                inst: self.routers[id].inst.clone(),
                link: link.clone(),
                src,
                vmac: None,
            });
        }
        if let Err(e) = self.vmacs.remake(&self.netlink, &mut plans).await {
            tracing::warn!(iface = %ev.name, "making the VMAC interfaces on the re-created base interface: {e:#}; their instances stay in FAULT until it works");
            return false;
        }
        let mut usable = true;
        for (id, plan) in ids.into_iter().zip(plans) {
            let Some(v) = plan.vmac else { continue };
            // Sockets and frames of the old macvlan (same name) move to the new one; until
            // they have, the router keeps the old one and the next event tries again.
            if !self.sender.follow_link(&v.name, v.ifindex, Some(v.mac)) {
                usable = false;
                continue;
            }
            let spec_ifindex = self.sender.spec(id).map_or(v.ifindex, |s| s.ifindex);
            if !self.move_source(id, plan.src, spec_ifindex) {
                usable = false;
                continue;
            }
            let vr = &mut self.routers[id];
            tracing::info!(instance = %vr.name, iface = %v.name, parent = %ev.name, ifindex = v.ifindex, "VMAC interface made again on the re-created base interface");
            vr.vmac = Some(v);
        }
        usable
    }

    /// Moves the kernel records of the instances on `ev.name` to its ifindex now.
    fn rekey(&mut self, ev: &LinkEvent) {
        let stale: Vec<InstanceKey> = self
            .kernel
            .iter()
            .filter(|(k, ki)| ki.iface == ev.name && k.ifindex != ev.index)
            .map(|(k, _)| *k)
            .collect();
        for old in stale {
            let Some(mut ki) = self.kernel.remove(&old) else {
                continue;
            };
            for (p, _) in &ki.peers {
                if let Err(e) = self.dp.remove_unicast_peer(*p) {
                    tracing::warn!(instance = %ki.name, "removing a unicast peer of the old interface: {e}");
                }
            }
            if let Err(e) = self.dp.remove_instance(old) {
                tracing::warn!(instance = %ki.name, "removing the old interface's instance record: {e}");
            }
            ki.key.ifindex = ev.index;
            for (p, _) in &mut ki.peers {
                p.ifindex = ev.index;
            }
            if let Err(e) = self.dp.set_instance(ki.key, ki.cfg) {
                tracing::error!(instance = %ki.name, iface = %ki.iface, "writing the instance record for the re-created interface: {e}");
            }
            for (p, ttl) in &ki.peers {
                if let Err(e) = self.dp.allow_unicast_peer_ttl(*p, *ttl) {
                    tracing::error!(instance = %ki.name, "allowing a unicast peer on the re-created interface: {e}");
                }
            }
            tracing::info!(instance = %ki.name, iface = %ki.iface, from = old.ifindex, to = ev.index, "interface re-created: ifindex changed");
            if let Some(id) = self.routers.by_key(&old) {
                if self.routers.rekey(id, ki.key) {
                    // The watchdog of the old key went with its slot; the election re-arms it.
                    self.routers[id].watch = None;
                }
            }
            self.kernel.insert(ki.key, ki);
        }
    }
}
