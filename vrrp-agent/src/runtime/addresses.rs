//! A router's virtual addresses on the host:
//! - which ones it holds as Master, and which of those this run added: only those are
//!   removed (an address that was on the interface before, such as an address owner's real
//!   address, stays on SIGTERM, FAULT and Backup);
//! - on which interface and with which MAC each one is announced (a VIP with `dev X` is
//!   announced on X with X's MAC);
//! - the retry, with backoff, of an add that failed (the instance waits in FAULT meanwhile);
//! - what happens when someone else removes a VIP from a Master (as keepalived 2.2.7: the
//!   Master resigns and the election runs again, see [`Input::VipRemoved`]).
use std::{net::IpAddr, time::Duration};

use anyhow::Result;

use super::{setup::vip_link, Agent, RouterId};
use crate::{
    election::{Input, State},
    netlink::NetlinkError,
    units::MonoTime,
    wire::MacAddr,
};

/// First wait before a failed VIP add is tried again; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between two tries.
const RETRY_MAX: Duration = Duration::from_secs(4);
/// Once tries are [`RETRY_MAX`] apart, a failure is logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A VIP a Master holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Held {
    /// The interface it is on (its `dev`, else the instance's).
    pub ifindex: u32,
    /// That interface's MAC, for gratuitous ARP.
    pub mac: MacAddr,
    /// This run added it (the kernel did not have it yet); only then is it removed.
    pub added: bool,
}

/// When to try a failed VIP add again, and whether to log the failure.
#[derive(Clone, Debug, Default)]
pub(super) struct Backoff {
    delay: Duration,
    next_at: Option<MonoTime>,
    /// Failures in a row.
    failures: u32,
    last_log: Option<MonoTime>,
    /// Failures not logged since `last_log`.
    suppressed: u32,
}

impl Backoff {
    /// A failure at `now`: schedules the next try. Returns the wait, and `Some(n)` when this
    /// failure is to be logged (`n`: failures not logged before it).
    pub fn failed(&mut self, now: MonoTime) -> (Duration, Option<u32>) {
        self.delay = if self.failures == 0 {
            RETRY_FIRST
        } else {
            (self.delay * 2).min(RETRY_MAX)
        };
        self.failures += 1;
        self.next_at = Some(now + self.delay);
        let log = self.delay < RETRY_MAX
            || self
                .last_log
                .is_none_or(|t| now.saturating_since(t) >= LOG_EVERY);
        if log {
            self.last_log = Some(now);
            let n = std::mem::take(&mut self.suppressed);
            (self.delay, Some(n))
        } else {
            self.suppressed += 1;
            (self.delay, None)
        }
    }

    /// The add succeeded (or the interface came back): the next failure starts over.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }

    /// When the next try is due, if one is scheduled.
    pub fn due_at(&self) -> Option<MonoTime> {
        self.next_at
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Takes the scheduled try if it is due at `now`.
    fn take_due(&mut self, now: MonoTime) -> bool {
        if self.next_at.is_some_and(|t| t <= now) {
            self.next_at = None;
            true
        } else {
            false
        }
    }
}

/// A router's addresses: one slot per configured VIP (`Vrouter::vips`, same order).
#[derive(Clone, Debug, Default)]
pub(super) struct VipState {
    pub held: Vec<Option<Held>>,
    pub retry: Backoff,
    /// `virtual_routes` / `virtual_rules` this run added (set and removed with the VIPs).
    pub routing: crate::netlink::routes::VirtualRouting,
}

impl VipState {
    pub fn new(vips: usize) -> VipState {
        VipState {
            held: vec![None; vips],
            retry: Backoff::default(),
            routing: Default::default(),
        }
    }
}

impl super::Vrouter {
    /// Where its VIPs without `dev` live, and their MAC: the `use_vmac` macvlan and the
    /// virtual MAC, else its interface.
    pub(super) fn home_link(&self) -> (u32, MacAddr) {
        match &self.vmac {
            Some(v) => (v.ifindex, v.mac),
            None => (self.ifindex, self.mac),
        }
    }
}

impl Agent {
    /// Adds router `i`'s VIPs, remembering which ones this call added and where each one is.
    /// Stops at the first failure; the ones added before it are held (and removed when the
    /// router leaves Master).
    ///
    /// `use_vmac`: the macvlan comes up first, with its IPv6 link-local address. Becoming
    /// Master, this is done before the advert is sent (see `Agent::apply`): the advert
    /// leaves from the macvlan (sent while it was down, it was lost: ENETDOWN) and moves the
    /// switch's entry for the virtual MAC to this node, which then already answers for the
    /// VIPs.
    pub(super) async fn add_vips(&mut self, i: RouterId) -> Result<()> {
        match self.vmac_up(i).await {
            Ok(()) => self.take_vips(i).await,
            Err(e) => Err(e),
        }
    }

    /// `use_vmac`: brings router `i`'s macvlan up with its IPv6 link-local address (a no-op
    /// when it is up already, or without a macvlan). On failure it goes down again.
    async fn vmac_up(&mut self, i: RouterId) -> Result<()> {
        let Some(v) = &self.routers[i].vmac else {
            return Ok(());
        };
        let result = super::vmac::up(&self.netlink, v).await;
        if result.is_err() {
            super::vmac::down(&self.netlink, v).await;
        }
        result
    }

    /// [`Agent::add_vips`] once the macvlan, if any, is up ([`Agent::vmac_up`]).
    async fn take_vips(&mut self, i: RouterId) -> Result<()> {
        let result = self.add_vips_here(i).await;
        // use_vmac: a router that could not take its VIPs (FAULT) keeps its macvlan down.
        if let (Err(_), Some(v)) = (&result, &self.routers[i].vmac) {
            super::vmac::down(&self.netlink, v).await;
        }
        result
    }

    async fn add_vips_here(&mut self, i: RouterId) -> Result<()> {
        let t0 = std::time::Instant::now();
        let vr = &mut self.routers[i];
        vr.addrs.held.resize(vr.vips.len(), None);
        let (home, home_mac) = vr.home_link();
        let mut kept = Vec::new();
        for (k, vip) in vr.vips.iter().enumerate() {
            let (ifindex, mac) = vip_link(&self.netlink, vip, home, home_mac).await?;
            let added = self.netlink.add_address(ifindex, vip).await?;
            // Added by an earlier call and not released since (a failed removal): still ours.
            let ours_before = vr.addrs.held[k].is_some_and(|h| h.added && h.ifindex == ifindex);
            if !added && !ours_before {
                kept.push(vip.addr);
            }
            vr.addrs.held[k] = Some(Held {
                ifindex,
                mac,
                added: added || ours_before,
            });
        }
        vr.addrs.retry.reset();
        let (routes, rules) = (&vr.inst.virtual_routes, &vr.inst.virtual_rules);
        vr.addrs
            .routing
            .install(&self.netlink, &vr.name, routes, rules)
            .await;
        let took_us = t0.elapsed().as_micros();
        tracing::info!(instance = %vr.name, vips = ?vr.vips.iter().map(|v| v.addr).collect::<Vec<_>>(), took_us, "VIPs added");
        if !kept.is_empty() {
            tracing::info!(instance = %vr.name, iface = %vr.iface, addrs = ?kept, "already on the interface before this instance became Master (e.g. the address owner's own address): not removed when it leaves Master");
        }
        Ok(())
    }

    /// Removes the VIPs router `i` added; the ones that were there before it became Master
    /// stay.
    ///
    /// `use_vmac`: the macvlan goes down first, so that nothing answers from the virtual MAC
    /// while the addresses go one by one (the kernel drops its IPv6 addresses with it; their
    /// removal below then finds them gone, which is fine). Not when a successor router of
    /// the same key (a reload's restart) holds the macvlan now.
    pub(super) async fn remove_vips(&mut self, i: RouterId) {
        let shared = self.key_held_elsewhere(i);
        let vr = &mut self.routers[i];
        if let Some(v) = vr.vmac.as_ref().filter(|_| !shared) {
            super::vmac::down(&self.netlink, v).await;
        }
        let (routes, rules) = (&vr.inst.virtual_routes, &vr.inst.virtual_rules);
        vr.addrs
            .routing
            .remove(&self.netlink, &vr.name, routes, rules)
            .await;
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        let mut handed = Vec::new();
        for k in 0..vr.vips.len().min(vr.addrs.held.len()) {
            let Some(held) = self.routers[i].addrs.held[k].take() else {
                continue;
            };
            let vip = self.routers[i].vips[k].clone();
            // A handover that ends after a successor took the same address keeps it there.
            if self.hand_vip_to_holder(i, k, held) {
                handed.push(vip.addr);
                continue;
            }
            let vr = &self.routers[i];
            if !held.added {
                kept.push(vip.addr);
                continue;
            }
            match self.netlink.remove_vip(held.ifindex, &vip).await {
                Ok(()) => removed.push(vip.addr),
                // Its interface was deleted, and the address with it.
                Err(NetlinkError::RemoveAddress { errno, .. }) if errno.0 == libc::ENODEV => {
                    tracing::debug!(instance = %vr.name, vip = %vip.addr, "its interface is gone");
                }
                Err(e) => tracing::error!(instance = %vr.name, iface = %vr.iface, "{e}"),
            }
        }
        if !handed.is_empty() {
            tracing::info!(instance = %self.routers[i].name, vips = ?handed, "VIPs left to the router that holds them now");
        }
        let vr = &self.routers[i];
        if kept.is_empty() {
            tracing::info!(instance = %vr.name, vips = ?removed, "VIPs removed");
        } else {
            tracing::info!(instance = %vr.name, vips = ?removed, kept = ?kept, "VIPs removed; kept the addresses that were there before it became Master");
        }
    }

    /// `rounds` gratuitous ARPs (IPv4) and unsolicited Neighbor Advertisements (IPv6) for
    /// router `i`'s VIPs, excluded ones included, as keepalived sends them; each on the
    /// interface it lives on with that interface's MAC.
    pub(super) fn announce(&mut self, i: RouterId, rounds: u32) {
        self.announce_where(i, rounds, false);
    }

    /// keepalived's `garp_extra_if all`: one gratuitous ARP for each of router `i`'s
    /// addresses held on an interface other than its own.
    pub(super) fn announce_extra_if(&mut self, i: RouterId) {
        self.announce_where(i, 1, true);
    }

    /// `rounds` gratuitous ARPs / unsolicited NAs for router `i`'s addresses (only those on
    /// other interfaces when `elsewhere`), each on the interface that holds it with that
    /// interface's MAC. NAs carry the Router flag when that interface forwards IPv6.
    fn announce_where(&mut self, i: RouterId, rounds: u32, elsewhere: bool) {
        let vr = &self.routers[i];
        let home = vr.home_link();
        // (ifindex, mac) -> addresses, in configuration order.
        let mut by_link: Vec<((u32, MacAddr), Vec<IpAddr>)> = Vec::new();
        for (k, vip) in vr.vips.iter().enumerate() {
            let link = match vr.addrs.held.get(k).copied().flatten() {
                Some(h) => (h.ifindex, h.mac),
                None => home,
            };
            if elsewhere && link.0 == vr.ifindex {
                continue;
            }
            match by_link.iter_mut().find(|(l, _)| *l == link) {
                Some((_, addrs)) => addrs.push(vip.addr),
                None => by_link.push((link, vec![vip.addr])),
            }
        }
        // Read once per call (a sysctl read per interface holding an IPv6 VIP).
        let router: Vec<bool> = by_link
            .iter()
            .map(|((ifindex, _), addrs)| {
                addrs.iter().any(IpAddr::is_ipv6) && crate::announce::ipv6_forwarding(*ifindex)
            })
            .collect();
        for _ in 0..rounds {
            for (((ifindex, mac), addrs), &router) in by_link.iter().zip(&router) {
                for r in self.announcer.announce_as(*ifindex, *mac, addrs, router) {
                    if let Err(e) = r {
                        tracing::warn!(instance = %vr.name, iface = %vr.iface, "announcing a VIP: {e}");
                    }
                }
            }
        }
    }

    /// Taking router `i`'s VIPs failed: FAULT until the next try, which is scheduled with
    /// backoff. The failure is logged with its errno (all of them while the waits grow, then
    /// once a minute).
    pub(super) fn vip_add_failed(&mut self, i: RouterId, now: MonoTime, e: &anyhow::Error) {
        let vr = &mut self.routers[i];
        let (wait, log) = vr.addrs.retry.failed(now);
        if let Some(unlogged) = log {
            let wait_ms = wait.as_millis();
            let failures = vr.addrs.retry.failures();
            let state = if vr.router.is_faulty() {
                "still in FAULT"
            } else {
                "going to FAULT"
            };
            tracing::error!(instance = %vr.name, iface = %vr.iface, vrid = vr.key.vrid, failures, unlogged, wait_ms, "{e:#}; {state}, trying again in {wait_ms} ms");
        }
        vr.vip_fault = Some(format!("taking the VIPs failed: {e:#}"));
        self.faults_dirty = true;
    }

    /// When router `i`'s failed VIP add is due to be tried again: it leaves FAULT, and the
    /// election takes it where it would go (Backup, and Master again if nobody else is; an
    /// address owner at once), which adds the VIPs once more.
    ///
    /// What can be checked without touching the addresses is checked first: while the
    /// interface of a `dev` VIP is missing, the router stays in FAULT (no election round,
    /// no priority-0 advert to the other routers) and the next try is scheduled.
    pub(super) async fn retry_vips(&mut self, i: RouterId, now: MonoTime) {
        let vr = &mut self.routers[i];
        if vr.vip_fault.is_none() || !vr.addrs.retry.take_due(now) {
            return;
        }
        for vip in &vr.vips {
            if let Err(e) = vip_link(&self.netlink, vip, vr.ifindex, vr.mac).await {
                self.vip_add_failed(i, now, &e);
                return;
            }
        }
        let vr = &mut self.routers[i];
        tracing::info!(instance = %vr.name, iface = %vr.iface, failures = vr.addrs.retry.failures(), "trying the VIPs again");
        vr.vip_fault = None;
        self.faults_dirty = true;
        self.sync_faults(now).await;
    }

    /// An address was removed from interface `index`. If it is a VIP a Master holds and it
    /// really is gone (the event may be our own removal, or the address may be back), that
    /// Master resigns as keepalived 2.2.7 does: priority 0, its other VIPs go, Backup for
    /// Skew_Time, then Master again (re-adding every VIP) unless another router took over.
    pub(super) async fn on_address_removed(&mut self, now: MonoTime, index: u32, addr: IpAddr) {
        let hits: Vec<RouterId> = self
            .routers
            .iter()
            .filter(|(_, vr)| {
                vr.router.state() == State::Master
                    && vr
                        .vips
                        .iter()
                        .zip(&vr.addrs.held)
                        .any(|(v, h)| v.addr == addr && h.is_some_and(|h| h.ifindex == index))
            })
            .map(|(id, _)| id)
            .collect();
        if hits.is_empty() {
            return;
        }
        match self.netlink.has_address(index, addr).await {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                tracing::warn!(vip = %addr, "checking whether a removed VIP is gone: {e}");
                return;
            }
        }
        for i in hits {
            let vr = &mut self.routers[i];
            for (v, h) in vr.vips.iter().zip(vr.addrs.held.iter_mut()) {
                if v.addr == addr {
                    *h = None;
                }
            }
            tracing::warn!(instance = %vr.name, iface = %vr.iface, vrid = vr.key.vrid, vip = %addr, "a VIP of this Master was removed by someone else; resigning (priority 0, Backup for Skew_Time) so that the election runs again, as keepalived does");
            self.feed(i, now, Input::VipRemoved).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::election::{Action, Reason, Router, RouterConfig, Version};

    /// The election's side of a VIP removed behind a Master's back: keepalived 2.2.7's
    /// sequence (priority 0, VIPs released, Backup), then Master again after Skew_Time.
    #[test]
    fn vip_removed_makes_a_master_resign_for_skew_time() {
        let mut cfg = RouterConfig::new(Version::V3, "198.18.0.1".parse().unwrap());
        cfg.advertisement_interval = crate::units::Centisecs::new(10);
        let mut r = Router::new(cfg);
        let t0 = MonoTime::from_nanos(1_000_000_000);
        r.handle(t0, Input::Startup);
        let down = r.next_deadline().unwrap();
        r.handle(down, Input::Timer);
        assert_eq!(r.state(), State::Master);
        let now = down + Duration::from_millis(5);
        let out = r.handle(now, Input::VipRemoved);
        assert_eq!(
            out,
            vec![
                Action::SendAdvert { priority: 0 },
                Action::RemoveVips,
                Action::StateChange {
                    from: State::Master,
                    to: State::Backup,
                    reason: Reason::VipRemoved,
                },
            ]
        );
        assert_eq!(r.next_deadline(), Some(now + r.skew_time()));
        assert!(
            r.handle(now, Input::VipRemoved).is_empty(),
            "Backup ignores it"
        );
        let out = r.handle(now + r.skew_time(), Input::Timer);
        assert!(out.contains(&Action::AddVips), "{out:?}");
        assert_eq!(r.state(), State::Master);
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_logs_less_there() {
        let t0 = MonoTime::from_nanos(1_000_000_000);
        let mut b = Backoff::default();
        let mut now = t0;
        let mut waits = Vec::new();
        let mut logged = 0;
        for _ in 0..10 {
            let (wait, log) = b.failed(now);
            assert_eq!(b.due_at(), Some(now + wait));
            waits.push(wait.as_millis());
            logged += u32::from(log.is_some());
            assert!(b.take_due(now + wait));
            assert!(!b.take_due(now + wait), "taken once");
            now = now + wait;
        }
        assert_eq!(
            waits,
            [50, 100, 200, 400, 800, 1600, 3200, 4000, 4000, 4000]
        );
        // Every failure while the waits grow; at the cap, once a minute.
        assert_eq!(logged, 7);
        // A minute after the last log: logged again, with the count of the unlogged ones.
        let (_, log) = b.failed(now + LOG_EVERY);
        assert_eq!(log, Some(3));
        b.reset();
        assert_eq!(b.failed(now).0, RETRY_FIRST);
    }
}
