//! A reload's changes to a running router, taken in place: no priority-0 advert, no state
//! change, no gap in its adverts (see [`super::diff::in_place`] for what qualifies).
//!
//! Renames come first ([`Agent::rename_in_place`]), then two phases, each run for every
//! changed router before the next one starts:
//! 1. [`Agent::release_in_place`]: the VIPs a Master no longer has (gone from its
//!    configuration, or with other attributes) leave their interfaces, and its virtual
//!    routes and rules go if they changed;
//! 2. [`Agent::take_in_place`]: the router takes its new name, priority, interval, preempt
//!    settings, GARP settings and adverts; a Master adds the VIPs it does not hold yet and
//!    announces them at once.
//!
//! Releasing everything first is what makes a VRID swap safe (keepalived #2364 loses VIPs
//! there): a VIP that moves from one instance to another is never added by the new owner
//! while the old one still holds it, which would count it as "already there, not ours" and
//! let the old owner's removal take it away.
use crate::{
    config::{Family, Instance, VirtualAddress},
    election::State,
    units::MonoTime,
    wire,
};

use super::{addresses::Held, diff, sender::Prepared, Agent, RouterId};

/// One router's change, prepared by the reload's PREPARE phase.
pub(super) struct InPlace {
    pub id: RouterId,
    /// Its new configuration.
    pub inst: Instance,
    /// What it sends from now on, when that changed (sockets opened in PREPARE).
    pub tx: Option<Prepared>,
}

/// Every address a router manages under `inst`, in `Vrouter::vips` order.
fn managed(inst: &Instance) -> Vec<VirtualAddress> {
    inst.vips
        .iter()
        .chain(&inst.vips_excluded)
        .cloned()
        .collect()
}

impl Agent {
    /// Renames router `id` to `name` (the name is not a router's identity). Done for every
    /// renamed router before any successor of a restarted one is registered, so that a
    /// successor never finds its name still held by a router that is only being renamed.
    pub(super) fn rename_in_place(&mut self, id: RouterId, name: &str) {
        let Some(vr) = self.routers.get(id) else {
            return;
        };
        if vr.name != name {
            tracing::info!(instance = %name, vrid = vr.key.vrid, "renamed from {} (reload)", vr.name);
            self.routers.rename(id, name);
        }
    }

    /// Phase 1 of an in-place change (see the module documentation).
    pub(super) async fn release_in_place(&mut self, c: &InPlace) {
        let Some(vr) = self.routers.get_mut(c.id) else {
            return;
        };
        let new_vips = managed(&c.inst);
        let routing_changed = vr.inst.virtual_routes != c.inst.virtual_routes
            || vr.inst.virtual_rules != c.inst.virtual_rules;
        if routing_changed {
            let (routes, rules) = (&vr.inst.virtual_routes, &vr.inst.virtual_rules);
            vr.addrs
                .routing
                .remove(&self.netlink, &vr.name, routes, rules)
                .await;
        }
        // Each new VIP takes the slot of the same old one (same address and attributes).
        let mut held: Vec<Option<Held>> = vec![None; new_vips.len()];
        let mut taken = vec![false; new_vips.len()];
        let mut gone: Vec<(VirtualAddress, Held)> = Vec::new();
        for (k, old) in vr.vips.iter().enumerate() {
            let slot = vr.addrs.held.get(k).copied().flatten();
            let same =
                (0..new_vips.len()).find(|&j| !taken[j] && diff::same_vip(old, &new_vips[j]));
            match same {
                Some(j) => {
                    taken[j] = true;
                    held[j] = slot;
                }
                None => gone.extend(slot.map(|h| (old.clone(), h))),
            }
        }
        vr.vips = new_vips;
        vr.addrs.held = held;
        let mut removed = Vec::new();
        for (vip, h) in gone {
            if !h.added {
                continue; // there before it became Master: stays
            }
            match self.netlink.remove_vip(h.ifindex, &vip).await {
                Ok(()) => removed.push(vip.addr),
                Err(e) => tracing::error!(instance = %vr.name, iface = %vr.iface, "{e}"),
            }
        }
        if !removed.is_empty() {
            tracing::info!(instance = %vr.name, vips = ?removed, "VIPs removed (reload, in place)");
        }
    }

    /// Phase 2 of an in-place change (see the module documentation).
    pub(super) async fn take_in_place(&mut self, c: InPlace, now: MonoTime) {
        let InPlace { id, inst, tx } = c;
        let Some(vr) = self.routers.get_mut(id) else {
            return;
        };
        let old = std::mem::replace(&mut vr.inst, inst);
        let new = &vr.inst;
        if old.priority != new.priority && vr.router.set_priority(new.priority) {
            tracing::info!(instance = %vr.name, "priority {} -> {} (reload)", old.priority, new.priority);
        }
        if old.advert_int != new.advert_int {
            vr.router
                .set_advertisement_interval(now, new.advert_centisecs());
            tracing::info!(instance = %vr.name, "advert_int {} -> {} (reload)", old.advert_centisecs(), new.advert_centisecs());
        }
        vr.router.set_preempt(new.preempt, new.preempt_delay);
        if old.garp != new.garp {
            let family = match new.family {
                Family::V4 => wire::Family::Ipv4,
                Family::V6 => wire::Family::Ipv6,
            };
            vr.garp.reconfigure(&new.garp, family, now);
        }
        let routing_changed =
            old.virtual_routes != new.virtual_routes || old.virtual_rules != new.virtual_rules;
        let missing = vr.addrs.held.iter().any(Option::is_none);
        let master = vr.router.state() == State::Master;
        if let Some(tx) = tx {
            self.sender.replace(id, tx);
        }
        if master && (missing || routing_changed) {
            match self.add_vips(id).await {
                Ok(()) => {
                    // The new VIPs are announced at once, as on becoming Master.
                    let vr = &mut self.routers[id];
                    vr.garp.became_master(now);
                    let rounds = vr.garp.due(now);
                    if rounds > 0 {
                        self.announce(id, rounds);
                    }
                }
                Err(e) => self.vip_add_failed(id, now, &e),
            }
        }
        self.sync_watch(id);
    }
}
