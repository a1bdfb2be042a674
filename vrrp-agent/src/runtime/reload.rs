//! SIGHUP: re-read the configuration and move to it without disturbing what did not change.
//!
//! - Everything that can fail (parsing, validation, interfaces and source addresses on this
//!   host, script and notify commands) is checked before anything changes: a bad
//!   configuration is rejected whole and the running one stays.
//! - An instance whose settings are unchanged keeps its router, state, timers and VIPs; it
//!   does not miss an advert.
//! - A new priority is taken in place: the next advert carries it (a Master whose priority
//!   drops below a Backup's hands over as when tracking lowers it).
//! - A removed instance is stopped as on SIGTERM (priority 0 if Master, VIPs removed,
//!   notify_stop); one changed otherwise is stopped and started again with its new settings.
//! - Tracking and notifications are rebuilt from the new file; the state of a tracked
//!   object whose definition did not change carries over, so an unchanged failing health
//!   check does not flap the priority.
use std::collections::BTreeSet;

use anyhow::{bail, Result};

use super::{groups_of, kernel_instance, setup, Agent, Tracker};
use crate::{config, units::MonoTime};

impl Agent {
    pub(super) async fn reload(&mut self) -> Result<()> {
        let loaded = config::load(&self.opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let config = loaded.config;
        if config.instances.is_empty() {
            bail!(
                "{}: no vrrp_instance configured",
                self.opts.config.display()
            );
        }
        for f in super::inactive_features(&config) {
            tracing::warn!("configured but not active yet: {f}");
        }
        let plans = setup::plan_instances(&self.netlink, &config).await?;
        // Shares the running notifier's per-instance queues: order holds across the reload.
        let notifier = self
            .notifier
            .reload(&config)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        super::check_notify_security(&config, &notifier)?;

        // Nothing has changed so far. Which routers stay as they are?
        let now = MonoTime::now();
        let mut keep = vec![false; self.routers.len()];
        let mut kept_keys = BTreeSet::new();
        for (i, vr) in self.routers.iter_mut().enumerate() {
            let Some(plan) = plans.iter().find(|p| p.inst.name == vr.name) else {
                continue;
            };
            if plan.link.index != vr.ifindex || plan.src != Some(vr.src) {
                continue;
            }
            // A new priority is taken in place (no priority-0 advert, no flap): the
            // effective priority follows with the tracking below, and the next advert
            // carries it.
            let in_place = setup::priority_change_only(&vr.inst, &plan.inst)
                && vr.router.set_priority(plan.inst.priority);
            if in_place || setup::same_settings(&vr.inst, &plan.inst) {
                if vr.inst.priority != plan.inst.priority {
                    tracing::info!(instance = %vr.name, "priority {} -> {} (reload)", vr.inst.priority, plan.inst.priority);
                }
                keep[i] = true;
                kept_keys.insert(vr.key);
                vr.inst = plan.inst.clone();
            }
        }
        // Watched-only (IPv6) instances stay when the kernel's view of them is unchanged.
        for plan in plans.iter().filter(|p| p.src.is_none()) {
            let ki = self.kernel_instance(&plan.inst, plan.link.index);
            if self.kernel.get(&ki.key) == Some(&ki) {
                kept_keys.insert(ki.key);
            }
        }

        let stop: Vec<usize> = (0..self.routers.len()).filter(|&i| !keep[i]).collect();
        let (stopped, kept) = (stop.len(), self.routers.len() - stop.len());
        self.stop_routers(&stop, now).await;
        let gone: Vec<_> = self
            .kernel
            .keys()
            .filter(|k| !kept_keys.contains(k))
            .copied()
            .collect();
        for key in gone {
            if let Some(ki) = self.kernel.remove(&key) {
                for (p, _) in &ki.peers {
                    self.dp.remove_unicast_peer(*p)?;
                }
                self.dp.remove_instance(key)?;
            }
        }
        let mut i = 0;
        self.routers.retain(|_| {
            i += 1;
            keep[i - 1]
        });

        // From here on, the new configuration.
        // Queued notify_stop of removed instances still runs (in the shared queues).
        drop(std::mem::replace(&mut self.notifier, notifier));
        // The old monitors stop before the new ones start: no script runs twice at once.
        let placeholder = Tracker::start(&config::Config::default(), None)?;
        let old = std::mem::replace(&mut self.tracker, placeholder);
        let mut tracker = Tracker::start(&config, Some(old.monitors))?;
        tracker.state.carry_over(&old.state);
        self.tracker = tracker;
        let old_groups = std::mem::replace(&mut self.groups, groups_of(&config));
        for g in &mut self.groups {
            g.notified = old_groups
                .iter()
                .find(|o| o.name == g.name && o.members == g.members)
                .and_then(|o| o.notified);
        }
        let first_new = self.routers.len();
        self.sync_local_addrs(&plans).await?;
        // Kept instances whose kernel settings changed in place: the address-owner flag
        // follows a priority changed to or from 255.
        for plan in &plans {
            let ki = self.kernel_instance(&plan.inst, plan.link.index);
            if kept_keys.contains(&ki.key)
                && self
                    .kernel
                    .get(&ki.key)
                    .is_some_and(|old| old.cfg != ki.cfg)
            {
                self.dp.set_instance(ki.key, ki.cfg)?;
                self.kernel.insert(ki.key, ki);
            }
        }
        for plan in plans
            .iter()
            .filter(|p| !kept_keys.contains(&kernel_instance(&p.inst, p.link.index).key))
        {
            self.add_instance(plan)?;
        }
        self.reindex();
        self.prune_sockets();
        self.attach_all().await?;
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
        for i in 0..first_new {
            if self.routers[i].awaiting_checks {
                self.start_router(i, now).await;
            } else {
                self.apply_tracking(i, now).await;
            }
        }
        self.faults_dirty = true;
        self.sync_faults(now).await;
        for i in first_new..self.routers.len() {
            self.start_router(i, now).await;
        }
        tracing::info!(
            kept,
            stopped,
            started = self.routers.len() - first_new,
            "configuration reloaded"
        );
        Ok(())
    }

    /// Rebuilds the key -> router index map after routers were removed or added.
    fn reindex(&mut self) {
        self.by_key = self
            .routers
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key, i))
            .collect();
    }

    /// Closes advert sockets no router uses any more.
    fn prune_sockets(&mut self) {
        let mut map = vec![None; self.sockets.len()];
        let mut sockets = Vec::new();
        for (old, s) in std::mem::take(&mut self.sockets).into_iter().enumerate() {
            if self.routers.iter().any(|r| r.socket == old) {
                map[old] = Some(sockets.len());
                sockets.push(s);
            }
        }
        for r in &mut self.routers {
            if let Some(new) = map[r.socket] {
                r.socket = new;
            }
        }
        self.sockets = sockets;
        let mut map = vec![None; self.frame_sockets.len()];
        let mut frame_sockets = Vec::new();
        for (old, s) in std::mem::take(&mut self.frame_sockets)
            .into_iter()
            .enumerate()
        {
            if self.routers.iter().any(|r| r.frame_socket == Some(old)) {
                map[old] = Some(frame_sockets.len());
                frame_sockets.push(s);
            }
        }
        for r in &mut self.routers {
            r.frame_socket = r.frame_socket.and_then(|f| map[f]);
        }
        self.frame_sockets = frame_sockets;
    }
}
