//! SIGHUP: re-read the configuration and move to it without disturbing what did not change.
//!
//! A reload is a diff ([`super::diff`]) applied in two phases:
//! - PREPARE: everything that can fail, without touching the running routers: parsing and
//!   validation, interfaces and source addresses on this host ([`Step::Plan`]), notify
//!   commands ([`Step::Notify`]), the addresses unicast adverts may go to
//!   ([`Step::LocalAddrs`]), the advert sockets of new routers ([`Step::Sockets`]), the
//!   kernel records of new instances ([`Step::Kernel`]), XDP on new interfaces
//!   ([`Step::Attach`]) and the health-check monitors ([`Step::Tracking`]). A step that fails
//!   undoes what the steps before it did, and the old configuration runs on as it was (same
//!   routers, sockets, kernel records, monitors): the reload is rejected with its cause.
//! - COMMIT: steps that cannot fail (a map write refused there is logged): routers that go
//!   are stopped as on SIGTERM (priority 0 if Master, VIPs removed, notify_stop), new ones
//!   are registered and started, kept ones take their new settings.
//!
//! What happens to each instance ([`Change`]) — see [`super::diff`] for the matching:
//! - a router continues under the new configuration when its identity (interface, VRID,
//!   family) is configured again, whatever the instance is now called: it keeps its state,
//!   timers and held VIPs, and takes every other setting in place ([`super::inplace`]): no
//!   priority-0 advert, no state change, no missed advert. A new priority is in the next
//!   advert (a Master whose priority drops below a Backup's hands over as when tracking
//!   lowers it), a new interval too (v3 Backups learn it from it); VIPs that go leave the
//!   interface, new ones are added and announced at once on a Master; adverts, the kernel's
//!   instance record and its unicast peer table follow;
//! - only what makes it another router restarts it, through one function
//!   (`restart_routers`): another version, source address or address ownership, or the
//!   same name on another interface, VRID or family;
//! - a removed instance is stopped;
//! - tracking and notifications are rebuilt from the new file; the state of a tracked
//!   object whose definition did not change carries over, so an unchanged failing health
//!   check does not flap the priority.
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use anyhow::{bail, Result};
use vrrp_common::InstanceKey;

use super::{
    diff::{self, Change},
    groups_of,
    inplace::InPlace,
    setup, Agent, KernelInstance, RouterId, Tracker,
};
use crate::{config, units::MonoTime};

/// The steps of a reload that can fail, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Reading, parsing and validating the file.
    Load,
    /// Interfaces and source addresses on this host (rtnetlink).
    Plan,
    /// Notify commands (present, executable, secure).
    Notify,
    /// The addresses of unicast instances' interfaces (rtnetlink).
    LocalAddrs,
    /// Advert sockets of new routers.
    Sockets,
    /// Kernel records of new instances.
    Kernel,
    /// XDP on interfaces no instance used before.
    Attach,
    /// Health-check monitors (scripts, track files).
    Tracking,
}

impl Step {
    const ALL: [Step; 8] = [
        Step::Load,
        Step::Plan,
        Step::Notify,
        Step::LocalAddrs,
        Step::Sockets,
        Step::Kernel,
        Step::Attach,
        Step::Tracking,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::Load => "load",
            Step::Plan => "plan",
            Step::Notify => "notify",
            Step::LocalAddrs => "local-addrs",
            Step::Sockets => "sockets",
            Step::Kernel => "kernel",
            Step::Attach => "attach",
            Step::Tracking => "tracking",
        }
    }

    /// The step named `name` (as [`fmt::Display`] writes it).
    pub fn parse(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One instance's part of a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceChange {
    pub name: String,
    pub change: Change,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new configuration runs.
    Applied(Vec<InstanceChange>),
    /// Rejected at `step`; the old configuration runs on unchanged.
    Rejected { step: Step, error: String },
}

impl fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadOutcome::Applied(changes) => {
                let list: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.change))
                    .collect();
                write!(f, "applied: {}", list.join("; "))
            }
            ReloadOutcome::Rejected { step, error } => write!(f, "rejected at {step}: {error}"),
        }
    }
}

/// A failed prepare step.
struct Failed {
    step: Step,
    error: anyhow::Error,
}

/// Tags the error of step `step`.
fn at<T>(step: Step, r: Result<T>) -> Result<T, Failed> {
    r.map_err(|error| Failed { step, error })
}

impl Agent {
    /// Reloads the configuration file; see the module documentation. The outcome is
    /// logged.
    pub(super) async fn reload(&mut self) -> ReloadOutcome {
        match self.try_reload().await {
            Ok(changes) => {
                for c in &changes {
                    tracing::info!(instance = %c.name, "reload: {}", c.change);
                }
                ReloadOutcome::Applied(changes)
            }
            Err(Failed { step, error }) => {
                tracing::error!(%step, "reload rejected, the running configuration stays: {error:#}");
                ReloadOutcome::Rejected {
                    step,
                    error: format!("{error:#}"),
                }
            }
        }
    }

    /// A failure injected at `step` by a test (`VRRP_AGENT_FAIL_RELOAD=<step>,<step>...` in
    /// debug builds): a reload that reaches the first step of the list fails there, and
    /// the step leaves the list.
    fn fail_point(&mut self, step: Step) -> Result<()> {
        if self.fail_reload.front() == Some(&step) {
            self.fail_reload.pop_front();
            bail!("failure injected at {step} (VRRP_AGENT_FAIL_RELOAD)");
        }
        Ok(())
    }

    /// Runs step `step`'s fail point, then `r`.
    fn check<T>(&mut self, step: Step, r: Result<T>) -> Result<T, Failed> {
        at(step, self.fail_point(step))?;
        at(step, r)
    }

    async fn try_reload(&mut self) -> Result<Vec<InstanceChange>, Failed> {
        // PREPARE: nothing running changes until COMMIT below.
        at(Step::Load, self.fail_point(Step::Load))?;
        let loaded = at(
            Step::Load,
            config::load(&self.opts.config).map_err(|e| anyhow::anyhow!("{e}")),
        )?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let config = loaded.config;
        if config.instances.is_empty() {
            return Err(Failed {
                step: Step::Load,
                error: anyhow::anyhow!(
                    "{}: no vrrp_instance configured",
                    self.opts.config.display()
                ),
            });
        }
        let plans = setup::plan_instances(&self.netlink, &config).await;
        let mut plans = self.check(Step::Plan, plans)?;
        let vmacs = self.vmacs.prepare(&self.netlink, &mut plans, false).await;
        self.check(Step::Plan, vmacs)?;
        // Shares the running notifier's per-instance queues: order holds across the reload.
        let notifier = self
            .notifier
            .reload(&config)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|n| super::check_notify_security(&config, &n).map(|()| n));
        let notifier = self.check(Step::Notify, notifier)?;

        // Routers an earlier reload stopped that are still handing over are no part of the
        // running configuration: they go when their handover is done.
        let running: Vec<diff::Running<'_>> = self
            .routers
            .iter()
            .filter(|(id, _)| !self.planned.is_lingering(*id))
            .map(|(id, vr)| diff::Running {
                id,
                inst: &vr.inst,
                ifindex: vr.ifindex,
                src: vr.src,
            })
            .collect();
        let plan = diff::diff(&running, &plans);

        let local = self.local_addr_keys(&plans).await;
        let local = self.check(Step::LocalAddrs, local)?;

        let mut prepared = Vec::new();
        // Routers changed in place whose adverts change (VIPs, interval, peers, name...):
        // what they send next, opened now like a new router's.
        let mut retx = BTreeMap::new();
        for (k, p) in plans.iter().enumerate() {
            let spec = setup::tx_spec(p);
            match &plan.plans[k] {
                (Some(id), Change::ChangedInPlace(_)) => {
                    let Some(cur) = self.sender.spec(*id) else {
                        continue;
                    };
                    let mut same = spec.clone();
                    same.repr.priority = cur.repr.priority; // set per send
                    if same != *cur {
                        retx.insert(k, at(Step::Sockets, self.sender.prepare(&spec))?);
                    }
                }
                _ if plan.starts(k) => {
                    let r = self.sender.prepare(&spec);
                    prepared.push((k, at(Step::Sockets, r)?));
                }
                _ => {}
            }
        }
        at(Step::Sockets, self.fail_point(Step::Sockets))?;

        // The kernel's view: which records stay as they are (kept routers), which are new.
        let new_kernel: Vec<KernelInstance> = plans
            .iter()
            .map(|p| self.kernel_instance(&p.inst, p.link.index))
            .collect();
        let mut kept_keys = BTreeSet::new();
        for (k, ki) in new_kernel.iter().enumerate() {
            if !plan.starts(k) {
                kept_keys.insert(ki.key);
            }
        }
        let written = self.write_new_kernel(&new_kernel);
        let written = at(Step::Kernel, written)?;
        if let Err(e) = self.fail_point(Step::Kernel) {
            self.unwrite_kernel(&new_kernel, &written);
            return Err(Failed {
                step: Step::Kernel,
                error: e,
            });
        }
        let attached = match self.attach_new(&new_kernel).await {
            Ok(a) => a,
            Err(e) => {
                self.unwrite_kernel(&new_kernel, &written);
                return Err(Failed {
                    step: Step::Attach,
                    error: e,
                });
            }
        };
        if let Err(e) = self.swap_tracker(&config) {
            for iface in &attached {
                self.dp.detach(iface);
            }
            self.unwrite_kernel(&new_kernel, &written);
            return Err(Failed {
                step: Step::Tracking,
                error: e,
            });
        }

        // COMMIT: nothing below fails the reload.
        let now = MonoTime::now();
        let mut outcome = Vec::new();
        for id in &plan.removed {
            if let Some(vr) = self.routers.get(*id) {
                outcome.push(InstanceChange {
                    name: vr.name.clone(),
                    change: Change::Removed,
                });
            }
        }
        self.stop_routers(&plan.removed, now).await;
        // A removed Master keeps its VIPs until the new Master is heard (make-before-break).
        let lingering = self.linger_for_handover(&plan.removed);
        // Their sender registrations go after the new routers are registered: a socket the
        // old and the new router share stays open.
        for id in plan.removed.iter().filter(|id| !lingering.contains(id)) {
            self.routers.remove(*id);
        }
        for (k, p) in plans.iter().enumerate() {
            if let (Some(id), Change::ChangedInPlace(_)) = &plan.plans[k] {
                self.rename_in_place(*id, &p.inst.name);
            }
        }
        let mut prepared: BTreeMap<usize, _> = prepared.into_iter().collect();
        let restarts: Vec<_> = plan
            .plans
            .iter()
            .enumerate()
            .filter_map(|(k, (id, c))| match (id, c) {
                (Some(id), Change::Restarted(_)) => {
                    Some((*id, prepared.remove(&k).map(|s| (&plans[k], s))))
                }
                _ => None,
            })
            .collect();
        let mut started = self.restart_routers(restarts, now).await;
        let routers = &self.routers;
        self.followups.retain(|(id, _)| routers.contains(*id));
        if self.watch_hold.is_some_and(|id| !routers.contains(id)) {
            self.watch_hold = None;
        }
        self.commit_kernel(&new_kernel, &kept_keys, &written);
        self.keep_lingering_records();

        // Kept routers take their new settings: every VIP that goes is released first,
        // then each router takes the rest (see `inplace`).
        let mut kept = 0;
        let mut changes = Vec::new();
        for (k, p) in plans.iter().enumerate() {
            match &plan.plans[k] {
                (Some(_), Change::Kept) => kept += 1,
                (Some(id), Change::ChangedInPlace(_)) => {
                    kept += 1;
                    changes.push(InPlace {
                        id: *id,
                        inst: p.inst.clone(),
                        tx: retx.remove(&k),
                    });
                }
                _ => {}
            }
        }
        for c in &changes {
            self.release_in_place(c).await;
        }
        for c in changes {
            self.take_in_place(c, now).await;
        }
        // Queued notify_stop of removed instances still runs (in the shared queues).
        drop(std::mem::replace(&mut self.notifier, notifier));
        let old_groups = std::mem::replace(&mut self.groups, groups_of(&config));
        for g in &mut self.groups {
            g.notified = old_groups
                .iter()
                .find(|o| o.name == g.name && o.members == g.members)
                .and_then(|o| o.notified);
        }
        self.sync_no_accept_ifaces();
        if let Err(e) = self.dp.set_local_addrs(&local) {
            tracing::error!("writing the addresses unicast adverts may be sent to: {e}");
        }
        for (k, p) in plans.iter().enumerate() {
            if !matches!(plan.plans[k], (None, Change::Added)) {
                continue;
            }
            if let Some(s) = prepared.remove(&k) {
                started.push(self.insert_router(p, s));
            }
        }
        for id in plan.removed.iter().filter(|id| !lingering.contains(id)) {
            self.sender.unregister(*id);
        }
        for (k, (_, change)) in plan.plans.iter().enumerate() {
            outcome.push(InstanceChange {
                name: plans[k].inst.name.clone(),
                change: change.clone(),
            });
        }
        self.config = config;
        self.sync_vlans(true).await;
        let used: BTreeSet<String> = self.kernel.values().map(|k| k.iface.clone()).collect();
        let unused: Vec<String> = self
            .dp
            .attachments()
            .iter()
            .map(|a| a.iface.clone())
            .filter(|i| !used.contains(i))
            .collect();
        for iface in unused {
            self.dp.detach(&iface);
            tracing::info!(iface, "XDP detached: no instance uses it any more");
        }
        self.init_tracked_interfaces().await;
        let now = MonoTime::now();
        for id in self.routers.ids() {
            if started.contains(&id) || self.planned.is_lingering(id) {
                continue;
            }
            if self.routers[id].awaiting_checks {
                self.start_router(id, now).await;
            } else {
                self.apply_tracking(id, now).await;
            }
        }
        self.faults_dirty = true;
        self.sync_faults(now).await;
        for id in &started {
            self.start_router(*id, now).await;
        }
        let (sockets, frame_sockets) = self.sender.socket_counts();
        tracing::info!(
            kept,
            stopped = plan.stopping().len(),
            started = started.len(),
            routers = self.routers.len(),
            sockets,
            frame_sockets,
            "configuration reloaded"
        );
        Ok(outcome)
    }

    /// The restart path, the only one: each router of `restarts` stops (as on SIGTERM: a
    /// Master sends priority 0 and hands its VIPs over, make-before-break) and its
    /// successor, built from the new plan with the sockets prepared for it, is registered
    /// under a new id; it starts with the reload's other new routers, as Backup (`None`: an
    /// instance with no router of its own, only watched). A stopped Master lingers (see
    /// [`Agent::linger_for_handover`]) holding its VIPs until a new Master is heard (a peer
    /// takes over after its Skew_Time) or the give-up bound; if the successor becomes
    /// Master first, it takes the addresses over in place. Returns the successors' ids.
    async fn restart_routers(
        &mut self,
        restarts: Vec<(RouterId, Option<(&setup::Plan, super::sender::Prepared)>)>,
        now: MonoTime,
    ) -> Vec<RouterId> {
        let old: Vec<RouterId> = restarts.iter().map(|(id, _)| *id).collect();
        self.stop_routers(&old, now).await;
        let lingering = self.linger_for_handover(&old);
        for id in old.iter().filter(|id| !lingering.contains(id)) {
            self.routers.remove(*id);
        }
        let mut started = Vec::new();
        for (_, successor) in restarts {
            if let Some((plan, prepared)) = successor {
                started.push(self.insert_router(plan, prepared));
            }
        }
        // After the successors registered: a socket they share with the old router stays.
        for id in old.iter().filter(|id| !lingering.contains(id)) {
            self.sender.unregister(*id);
        }
        started
    }

    /// Writes the kernel records (and unicast peers) of the instances in `new` whose keys
    /// are not in use yet; on failure removes what it wrote. Returns the keys written.
    fn write_new_kernel(&mut self, new: &[KernelInstance]) -> Result<Vec<InstanceKey>> {
        let mut written = Vec::new();
        for ki in new.iter().filter(|k| !self.kernel.contains_key(&k.key)) {
            written.push(ki.key);
            let mut r = self.dp.set_instance(ki.key, ki.cfg);
            for (key, peer) in &ki.peers {
                r = r.and_then(|()| self.dp.allow_unicast_peer_ttl(*key, *peer));
            }
            if let Err(e) = r {
                self.unwrite_kernel(new, &written);
                return Err(anyhow::anyhow!("instance {}: {e}", ki.name));
            }
        }
        Ok(written)
    }

    /// Removes the kernel records `keys` of `new` that [`Agent::write_new_kernel`] wrote.
    fn unwrite_kernel(&mut self, new: &[KernelInstance], keys: &[InstanceKey]) {
        for ki in new.iter().filter(|k| keys.contains(&k.key)) {
            for (p, _) in &ki.peers {
                if let Err(e) = self.dp.remove_unicast_peer(*p) {
                    tracing::error!(instance = %ki.name, "undoing a unicast peer: {e}");
                }
            }
            if let Err(e) = self.dp.remove_instance(ki.key) {
                tracing::debug!(instance = %ki.name, "undoing an instance record: {e}");
            }
        }
    }

    /// The kernel's records become `new`: records of instances that stopped go (those of
    /// the same key are written afresh, with empty peer tables), kept ones take changed
    /// flags. `written` were written by PREPARE already.
    fn commit_kernel(
        &mut self,
        new: &[KernelInstance],
        kept: &BTreeSet<InstanceKey>,
        written: &[InstanceKey],
    ) {
        let old = std::mem::take(&mut self.kernel);
        for (key, ki) in &old {
            if kept.contains(key) {
                continue;
            }
            for (p, _) in &ki.peers {
                if let Err(e) = self.dp.remove_unicast_peer(*p) {
                    tracing::error!(instance = %ki.name, "removing a unicast peer: {e}");
                }
            }
            if let Err(e) = self.dp.remove_instance(*key) {
                tracing::error!(instance = %ki.name, "removing the instance record: {e}");
            }
        }
        for ki in new {
            let fresh = !kept.contains(&ki.key) && !written.contains(&ki.key);
            let changed =
                kept.contains(&ki.key) && old.get(&ki.key).is_some_and(|o| o.cfg != ki.cfg);
            if fresh || changed {
                if let Err(e) = self.dp.set_instance(ki.key, ki.cfg) {
                    tracing::error!(instance = %ki.name, "writing the instance record: {e}");
                }
            }
            // A kept instance's peers are changed in place: the ones gone first, then the
            // new ones and those whose TTL range changed.
            let before: &[_] = match (fresh, old.get(&ki.key)) {
                (false, Some(o)) if kept.contains(&ki.key) => &o.peers,
                _ => &[],
            };
            for (p, _) in before
                .iter()
                .filter(|(p, _)| !ki.peers.iter().any(|(q, _)| q == p))
            {
                if let Err(e) = self.dp.remove_unicast_peer(*p) {
                    tracing::error!(instance = %ki.name, "removing a unicast peer: {e}");
                }
            }
            if fresh || kept.contains(&ki.key) {
                for (key, peer) in ki.peers.iter().filter(|p| !before.contains(p)) {
                    if let Err(e) = self.dp.allow_unicast_peer_ttl(*key, *peer) {
                        tracing::error!(instance = %ki.name, "allowing a unicast peer: {e}");
                    }
                }
            }
            self.kernel.insert(ki.key, ki.clone());
        }
    }

    /// Attaches XDP to the interfaces of `new` it is not attached to yet; on failure
    /// detaches those it attached. Returns them.
    async fn attach_new(&mut self, new: &[KernelInstance]) -> Result<Vec<String>> {
        let ifindexes: Vec<u32> = new.iter().map(|k| k.key.ifindex).collect();
        self.sync_vlans_with(&ifindexes, false).await;
        let mut ifaces: Vec<String> = new.iter().map(|k| k.iface.clone()).collect();
        ifaces.sort_unstable();
        ifaces.dedup();
        let mut attached: Vec<String> = Vec::new();
        for iface in ifaces {
            if self.dp.attachments().iter().any(|a| a.iface == iface) {
                continue;
            }
            if let Err(e) = self.attach_one(&iface).await {
                for a in &attached {
                    self.dp.detach(a);
                }
                return Err(e);
            }
            attached.push(iface);
        }
        if let Err(e) = self.fail_point(Step::Attach) {
            for a in &attached {
                self.dp.detach(a);
            }
            return Err(e);
        }
        Ok(attached)
    }

    /// Replaces the monitors with those of `config`; the old ones stop first, so a script
    /// never runs twice at once. If the new ones cannot start, the old configuration's are
    /// started again (their state carried over) and the error returned.
    fn swap_tracker(&mut self, config: &config::Config) -> Result<()> {
        let placeholder = Tracker::start(&config::Config::default(), None)?;
        let old = std::mem::replace(&mut self.tracker, placeholder);
        let started = Tracker::start(config, Some(old.monitors))
            .and_then(|t| self.fail_point(Step::Tracking).map(|()| t));
        match started {
            Ok(mut t) => {
                t.state.carry_over(&old.state);
                self.tracker = t;
                Ok(())
            }
            Err(e) => {
                match Tracker::start(&self.config, None) {
                    Ok(mut t) => {
                        t.state.carry_over(&old.state);
                        self.tracker = t;
                    }
                    Err(e2) => tracing::error!(
                        "restarting the running configuration's health checks failed too: \
                         {e2:#}; they stay stopped until the next reload"
                    ),
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip() {
        for s in Step::ALL {
            assert_eq!(Step::parse(&s.to_string()), Some(s));
        }
        assert_eq!(Step::parse("nope"), None);
        let o = ReloadOutcome::Rejected {
            step: Step::Sockets,
            error: "bind: EADDRNOTAVAIL".into(),
        };
        assert_eq!(o.to_string(), "rejected at sockets: bind: EADDRNOTAVAIL");
        let o = ReloadOutcome::Applied(vec![
            InstanceChange {
                name: "A".into(),
                change: Change::Kept,
            },
            InstanceChange {
                name: "B".into(),
                change: Change::Restarted("changed: advert_int".into()),
            },
        ]);
        assert_eq!(
            o.to_string(),
            "applied: A: kept; B: restarted (changed: advert_int)"
        );
    }
}
