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
//! - the MAC the GARPs are sent from.
//!
//! Nothing is done while nothing is stale, so the frequent `RTM_NEWLINK` events cost no
//! system call. When a rebuild fails (e.g. the new interface has no address to bind the
//! advert socket to yet), its instances stay in FAULT and the next event for the interface
//! (a link change or an address added) tries again.
use std::net::IpAddr;

use vrrp_common::InstanceKey;

use super::Agent;
use crate::{
    netlink::LinkEvent,
    tx::{AdvertSocket, FrameSocket},
    units::MonoTime,
};

impl Agent {
    /// Brings what the agent keeps for interface `ev.name` up to date with `ev`. Returns
    /// whether the interface can be used (false: a rebuild failed; try again later).
    pub(super) async fn follow_link(&mut self, ev: &LinkEvent) -> bool {
        if ev.removed {
            return true;
        }
        if let Some(mac) = ev.mac {
            // GARPs of VIPs on this interface (also as some instance's `dev`).
            for vr in &mut self.routers {
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
        usable &= self.reopen_advert_sockets(ev);
        usable &= self.reopen_frame_sockets(ev);
        if let Some(mac) = ev.mac {
            let mut announce = Vec::new();
            for (i, vr) in self.routers.iter_mut().enumerate() {
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
        if !self.routers.iter().any(waiting) {
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
        for vr in self.routers.iter_mut().filter(|vr| waiting(vr)) {
            vr.link_fault = false;
            vr.vip_fault = None;
            vr.addrs.retry.reset();
            tracing::info!(instance = %vr.name, iface = %vr.iface, "interface is usable again");
            self.faults_dirty = true;
        }
        self.sync_faults(now).await;
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
            if let Some(i) = self.by_key.remove(&old) {
                self.by_key.insert(ki.key, i);
                let vr = &mut self.routers[i];
                vr.key = ki.key;
                vr.ifindex = ev.index;
                // The watchdog of the old key went with its slot; the election re-arms it.
                vr.watch = None;
            }
            self.kernel.insert(ki.key, ki);
        }
    }

    /// Reopens the advert sockets of the routers on `ev.name` that are bound to another
    /// ifindex. False if one could not be opened.
    fn reopen_advert_sockets(&mut self, ev: &LinkEvent) -> bool {
        let mut ok = true;
        let mut done = Vec::new();
        for vr in self.routers.iter().filter(|vr| vr.iface == ev.name) {
            let (idx, socket) = &self.sockets[vr.socket];
            if *idx == ev.index || done.contains(&vr.socket) {
                continue;
            }
            let IpAddr::V4(src) = socket.src() else {
                continue;
            };
            // The standard group, and the configured ones of the routers on this socket.
            let groups = self
                .routers
                .iter()
                .filter(|r| r.socket == vr.socket && !r.inst.is_unicast())
                .filter_map(|r| match r.inst.mcast_group {
                    Some(IpAddr::V4(g)) => Some(g),
                    _ => None,
                });
            let opened = AdvertSocket::open(&ev.name, ev.index, src).and_then(|s| {
                s.join_vrrp_group()?;
                for g in groups {
                    s.join_group(g)?;
                }
                Ok(s)
            });
            match opened {
                Ok(s) => {
                    tracing::info!(iface = %ev.name, ifindex = ev.index, from = %src, "advert socket reopened");
                    self.sockets[vr.socket] = (ev.index, s);
                    done.push(vr.socket);
                }
                Err(e) => {
                    tracing::warn!(instance = %vr.name, iface = %ev.name, "reopening the advert socket: {e}; the instance stays in FAULT until it works");
                    ok = false;
                }
            }
        }
        ok
    }

    /// Reopens the AF_PACKET sockets of `ev.name` that are bound to another ifindex or hold
    /// another MAC, and has their routers rebuild their frames. False if one could not be
    /// opened.
    fn reopen_frame_sockets(&mut self, ev: &LinkEvent) -> bool {
        let mut ok = true;
        for f in 0..self.frame_sockets.len() {
            let s = &self.frame_sockets[f];
            let users = self
                .routers
                .iter()
                .any(|vr| vr.frame_socket == Some(f) && vr.iface == ev.name);
            let stale = s.ifindex() != ev.index || ev.mac.is_some_and(|m| m != s.mac());
            if !users || !stale {
                continue;
            }
            match FrameSocket::open(&ev.name, ev.index) {
                Ok(s) => {
                    tracing::info!(iface = %ev.name, ifindex = ev.index, mac = %s.mac(), "AF_PACKET advert socket reopened; frames rebuilt");
                    self.frame_sockets[f] = s;
                    for vr in &mut self.routers {
                        if vr.frame_socket == Some(f) {
                            vr.built_for = None;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(iface = %ev.name, "reopening the AF_PACKET advert socket: {e}");
                    ok = false;
                }
            }
        }
        ok
    }
}
