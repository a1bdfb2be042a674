//! Planned departures in the agent loop: `maintenance on|off` from the control socket, and
//! the SIGTERM stop that waits for the make-before-break handovers (see
//! [`crate::election::handover`]) before the process exits.
//!
//! The election decides when the VIPs go; this only feeds it, keeps the maintenance set
//! across reloads, and tells the loop when every handover is done.
use std::collections::BTreeSet;

use super::{Agent, KernelInstance, RouterId};
use crate::{
    control::{
        maintenance::{MaintenanceInstance, MaintenanceReply},
        Response,
    },
    election::{Input, State},
    units::MonoTime,
};

/// Planned departures the loop keeps track of.
#[derive(Debug, Default)]
pub(super) struct Planned {
    /// The instances in maintenance, by name. Kept across reloads (a restarted instance
    /// starts in maintenance again); not across a restart of the agent.
    names: BTreeSet<String>,
    /// Routers a reload removed while they were Master: they stay registered (in
    /// Initialize, their kernel record kept) until their handover is done.
    lingering: BTreeSet<RouterId>,
}

impl Planned {
    /// Whether instance `name` is in maintenance.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

impl Agent {
    /// `maintenance on|off` for `instance`, or for every router without one.
    pub(super) async fn maintenance(&mut self, on: bool, instance: Option<String>) -> Response {
        let ids: Vec<RouterId> = match &instance {
            Some(name) => match self.routers.by_name(name) {
                Some(i) => vec![i],
                None => {
                    let names: Vec<&str> = self.routers.values().map(|r| r.name.as_str()).collect();
                    return Response::error(format!(
                        "no running instance {name} (running: {})",
                        names.join(", ")
                    ));
                }
            },
            None => self.routers.ids(),
        };
        let now = MonoTime::now();
        let mut instances = Vec::new();
        for i in ids {
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            let name = vr.name.clone();
            let changed = vr.router.in_maintenance() != on;
            let was_master = vr.router.state() == State::Master;
            if on {
                self.planned.names.insert(name.clone());
            } else {
                self.planned.names.remove(&name);
            }
            if changed {
                tracing::info!(instance = %name, "maintenance {}", if on { "on" } else { "off" });
                self.feed(i, now, Input::Maintenance(on)).await;
            }
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            instances.push(MaintenanceInstance {
                instance: name,
                changed,
                handing_over: changed && was_master && vr.router.handing_over(),
                effective_priority: vr.router.effective_priority(),
            });
        }
        Response::maintenance(MaintenanceReply { on, instances })
    }

    /// A departing router's handover has just heard the new Master (its VIPs go after the
    /// grace). `use_vmac`: the two nodes must never both send from the virtual MAC (each
    /// frame would move the switch's entry for it), so the old Master's macvlan goes down
    /// here, at once, not with the VIPs after the grace: from now on nothing here answers
    /// for the VIPs on it (the kernel drops its IPv6 addresses with it; the IPv4 ones stay
    /// until the grace ends, unusable on a down interface). The switch already sends the
    /// virtual MAC to the new Master: it learnt it from the advert just heard, which left
    /// from the new Master's macvlan once its VIPs were there (with `vmac_xmit_base`, from
    /// its gratuitous ARP / NA a moment later). Without `use_vmac` there is nothing to do
    /// before the grace ends.
    pub(super) async fn new_master_heard(&mut self, i: RouterId) {
        let Some(vr) = self.routers.get(i) else {
            return;
        };
        match &vr.vmac {
            Some(v) => {
                super::vmac::down(&self.netlink, v).await;
                tracing::info!(instance = %vr.name, iface = %v.name, "new Master heard: VMAC interface down at once (its VIPs go after the grace)");
            }
            _ => tracing::debug!(instance = %vr.name, "new Master heard: handing over"),
        }
    }

    /// For a reload, after it stopped `stopping` (Masters among them resigned and started
    /// their handovers): which of them stay registered until their handover is done. Those
    /// are the `removed` ones whose kernel key no instance of the new configuration
    /// (`new`) takes; every other stopping router lets its VIPs go now (a restarted
    /// instance starts again as Backup at once, as before). The reload must not remove the
    /// returned routers, nor unregister their sender, and calls
    /// [`Agent::keep_lingering_records`] after writing the new kernel records.
    pub(super) async fn linger_for_handover(
        &mut self,
        removed: &[RouterId],
        stopping: &[RouterId],
        new: &[KernelInstance],
    ) -> BTreeSet<RouterId> {
        let now = MonoTime::now();
        let mut lingering = BTreeSet::new();
        for &i in stopping {
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            if !vr.router.handing_over() {
                continue;
            }
            if removed.contains(&i) && !new.iter().any(|k| k.key == vr.key) {
                tracing::info!(instance = %vr.name, "removed by the reload: handing its VIPs over before it goes");
                lingering.insert(i);
            } else {
                self.feed(i, now, Input::ReleaseVips).await;
            }
        }
        self.planned.lingering.extend(lingering.iter().copied());
        lingering
    }

    /// Writes the kernel records of lingering routers back after a reload replaced the
    /// records (with an empty peer table: the new Master's first advert is a new source).
    pub(super) fn keep_lingering_records(&mut self) {
        for &i in &self.planned.lingering {
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            if self.kernel.contains_key(&vr.key) {
                continue;
            }
            let ki = self.kernel_instance(&vr.inst, vr.ifindex);
            if let Err(e) = self.dp.set_instance(ki.key, ki.cfg) {
                tracing::warn!(instance = %vr.name, "keeping its kernel record for the handover: {e}");
            }
            self.kernel.insert(ki.key, ki);
        }
    }

    /// Lingering routers whose handover is done go: registry, sender, kernel record.
    pub(super) fn reap_lingering(&mut self) {
        if self.planned.lingering.is_empty() {
            return;
        }
        let done: Vec<RouterId> = self
            .planned
            .lingering
            .iter()
            .copied()
            .filter(|&i| self.routers.get(i).is_none_or(|r| !r.router.handing_over()))
            .collect();
        for i in done {
            self.planned.lingering.remove(&i);
            let Some(vr) = self.routers.remove(i) else {
                continue;
            };
            self.sender.unregister(i);
            if self.kernel.remove(&vr.key).is_some() {
                if let Err(e) = self.dp.remove_instance(vr.key) {
                    tracing::error!(instance = %vr.name, "removing the instance record: {e}");
                }
            }
            tracing::info!(instance = %vr.name, "handover done; instance removed");
        }
    }

    /// SIGTERM / SIGINT: every Master resigns (priority 0) and starts handing over; the
    /// loop goes on until [`Agent::handovers_done`]. Returns whether one is under way.
    pub(super) async fn begin_stop(&mut self) -> bool {
        let all = self.routers.ids();
        self.stop_routers(&all, MonoTime::now()).await;
        !self.handovers_done()
    }

    /// No router holds VIPs for a handover any more.
    pub(super) fn handovers_done(&self) -> bool {
        self.routers.values().all(|r| !r.router.handing_over())
    }

    /// Gives up at once whatever VIPs handovers still hold (a second signal, the end).
    pub(super) async fn release_handovers(&mut self) {
        let now = MonoTime::now();
        for i in self.routers.ids() {
            if self.routers.get(i).is_some_and(|r| r.router.handing_over()) {
                self.feed(i, now, Input::ReleaseVips).await;
            }
        }
    }

    /// At a handover's wake-up: the kernel's records of the instance, so a new Master whose
    /// first advert raised no event (a known peer back within three intervals, a ring
    /// buffer overrun) still ends the wait at its real arrival.
    pub(super) async fn refresh_handover(&mut self, i: RouterId, now: MonoTime) {
        let due = self
            .routers
            .get(i)
            .and_then(|r| r.router.handover_wake())
            .is_some_and(|d| d <= now);
        if due {
            self.feed_kernel_records(i, now).await;
        }
    }
}
