//! The runtime's side of the metrics: the takeovers and Master_Down lateness it times, and
//! the answer to a scrape: the status snapshot plus what it leaves out (every key the XDP
//! program counted, unknown VRIDs included; every health check; notify results).
use super::RouterId;
use std::time::{Duration, Instant};

use crate::{
    election::State,
    metrics::{instruments, DownPath, KernelView, NotifyView, ScriptView, View, ViewRequest},
    track::ScriptHealth,
    units::MonoTime,
};

use super::Agent;

impl Agent {
    /// A takeover from Backup: records how long after the previous Master's last advert
    /// (as the kernel recorded it) it came.
    pub(super) fn note_takeover(&self, i: RouterId, from: State, to: State) {
        if !(to == State::Master && from == State::Backup) {
            return;
        }
        let vr = &self.routers[i];
        let Ok(Some(table)) = self.dp.peer_table(&vr.key) else {
            return;
        };
        let Some(last) = table.peers.iter().map(|r| r.last_seen_ns).max() else {
            return;
        };
        let now = MonoTime::now().as_nanos();
        if last != 0 && last <= now {
            instruments().failover(&vr.name, Duration::from_nanos(now - last));
        }
    }

    /// Router `i`'s timer ran out in the agent: for a Backup's Master_Down deadline, how
    /// late it is acted on.
    pub(super) fn note_down_lateness(&self, i: RouterId, now: MonoTime) {
        let r = &self.routers[i].router;
        if r.state() != State::Backup {
            return;
        }
        // Only the Master_Down_Timer counts (a handover's deadline may be the one due).
        if let Some(due) = r.master_down_timer().filter(|d| *d <= now) {
            let late = now.as_nanos().saturating_sub(due.as_nanos());
            instruments().master_down_late(DownPath::Agent, Duration::from_nanos(late));
        }
    }

    /// Answers one scrape (the scrape encodes the text, off this thread).
    pub(super) fn answer_scrape(&mut self, ask: ViewRequest) {
        let t0 = Instant::now();
        // The kernel's counters are read once, for the snapshot and the keys it leaves out.
        let counters = self.refresh_observations();
        let view = View {
            snapshot: self.snapshot_with(&counters),
            kernel: self.kernel_view(&counters),
            scripts: self.scripts_view(),
            notify: {
                let n = self.notifier.stats();
                NotifyView {
                    succeeded: n.succeeded,
                    failed: n.failed,
                    timed_out: n.timed_out,
                    aborted: n.aborted,
                }
            },
        };
        // The scrape may have given up already; nothing to do then.
        let _ = ask.send(view);
        instruments().scraped(t0.elapsed());
    }

    /// Every key the XDP program counted something for, with its interface's name.
    fn kernel_view(&self, counters: &super::observe::KernelCounters) -> Vec<KernelView> {
        counters
            .iter()
            .map(|(key, counters)| KernelView {
                iface: self
                    .kernel
                    .values()
                    .find(|k| k.key.ifindex == key.ifindex)
                    .map(|k| k.iface.clone())
                    .unwrap_or_else(|| key.ifindex.to_string()),
                vrid: key.vrid,
                family: key.family,
                counters: *counters,
            })
            .collect()
    }

    /// Every `vrrp_script`, GOOD or BAD once it has a result.
    fn scripts_view(&self) -> Vec<ScriptView> {
        let t = &self.tracker.state;
        t.scripts()
            .into_iter()
            .map(|name| ScriptView {
                good: match t.script_health(&name) {
                    Some(ScriptHealth::Good) => Some(true),
                    Some(ScriptHealth::Bad) => Some(false),
                    Some(ScriptHealth::Unknown) | None => None,
                },
                name,
            })
            .collect()
    }
}
