//! The runtime's side of the metrics: counting what routers send and decide, and answering
//! a scrape with a [`View`] of the loop's state (copied counters; the scrape encodes it).
use std::time::{Duration, Instant};

use crate::{
    election::State,
    metrics::{
        instruments, DownPath, InstanceView, KaState, KernelView, NotifyView, ScriptView, View,
        ViewRequest,
    },
    track::ScriptHealth,
    units::MonoTime,
};

use super::{Agent, Vrouter};

impl Vrouter {
    /// One advert left (per destination).
    pub(super) fn count_sent(&mut self) {
        self.tally.adverts_sent += 1;
        if self.built_for == Some(0) {
            self.tally.priority_zero_sent += 1;
        }
    }

    /// keepalived's state numbering for the exporter's series.
    fn ka_state(&self) -> KaState {
        if self.awaiting_checks {
            return KaState::Init;
        }
        match self.router.state() {
            State::Initialize => KaState::Init,
            State::Backup => KaState::Backup,
            State::Master => KaState::Master,
            State::Fault => KaState::Fault,
        }
    }
}

/// keepalived's text of a virtual address: the address, with `/len` unless it is /32 (/128).
fn ka_addr(v: &crate::config::VirtualAddress) -> String {
    let host = if v.addr.is_ipv4() { 32 } else { 128 };
    if v.prefix_len == host {
        v.addr.to_string()
    } else {
        format!("{}/{}", v.addr, v.prefix_len)
    }
}

impl Agent {
    /// Counts a state change of router `i`; a takeover from Backup also records how long
    /// after the previous Master's last advert (as the kernel recorded it) it came.
    pub(super) fn count_transition(&mut self, i: usize, from: State, to: State) {
        let vr = &mut self.routers[i];
        if to == State::Master {
            vr.tally.become_master += 1;
        } else if from == State::Master {
            vr.tally.release_master += 1;
        }
        if !(to == State::Master && from == State::Backup) {
            return;
        }
        let key = vr.key;
        let Ok(Some(table)) = self.dp.peer_table(&key) else {
            return;
        };
        let Some(last) = table.peers.iter().map(|r| r.last_seen_ns).max() else {
            return;
        };
        let now = MonoTime::now().as_nanos();
        if last != 0 && last <= now {
            instruments().failover(&self.routers[i].name, Duration::from_nanos(now - last));
        }
    }

    /// Router `i`'s timer ran out in the agent: a Backup's Master_Down deadline, how late.
    pub(super) fn note_down_lateness(&self, i: usize, now: MonoTime) {
        let r = &self.routers[i].router;
        if r.state() != State::Backup {
            return;
        }
        if let Some(due) = r.next_deadline() {
            let late = now.as_nanos().saturating_sub(due.as_nanos());
            instruments().master_down_late(DownPath::Agent, Duration::from_nanos(late));
        }
    }

    /// Answers one scrape.
    pub(super) fn answer_scrape(&self, ask: ViewRequest) {
        let t0 = Instant::now();
        // The scrape may have given up already; nothing to do then.
        let _ = ask.send(self.metrics_view());
        instruments().scraped(t0.elapsed());
    }

    /// What a scrape shows of the loop's state.
    fn metrics_view(&self) -> View {
        let counters = self.dp.counters().unwrap_or_else(|e| {
            tracing::debug!("metrics: reading the XDP counters: {e}");
            Vec::new()
        });
        let instances = self
            .routers
            .iter()
            .map(|vr| InstanceView {
                name: vr.name.clone(),
                iface: vr.iface.clone(),
                vrid: vr.key.vrid,
                state: vr.ka_state(),
                vips: vr
                    .inst
                    .vips
                    .iter()
                    .map(|v| {
                        (
                            ka_addr(v),
                            v.dev.clone().unwrap_or_else(|| vr.iface.clone()),
                        )
                    })
                    .collect(),
                priority: vr.inst.priority,
                effective_priority: vr.router.effective_priority(),
                tally: vr.tally,
                kernel: counters.iter().find(|(k, _)| *k == vr.key).map(|(_, c)| *c),
            })
            .collect();
        let kernel = counters
            .iter()
            .map(|(key, c)| KernelView {
                iface: self
                    .kernel
                    .values()
                    .find(|k| k.key.ifindex == key.ifindex)
                    .map(|k| k.iface.clone())
                    .or_else(|| {
                        self.routers
                            .iter()
                            .find(|r| r.ifindex == key.ifindex)
                            .map(|r| r.iface.clone())
                    })
                    .unwrap_or_else(|| key.ifindex.to_string()),
                vrid: key.vrid,
                family: key.family,
                counters: *c,
            })
            .collect();
        let scripts = self
            .tracker
            .state
            .scripts()
            .into_iter()
            .map(|name| ScriptView {
                good: match self.tracker.state.script_health(&name) {
                    Some(ScriptHealth::Good) => Some(true),
                    Some(ScriptHealth::Bad) => Some(false),
                    Some(ScriptHealth::Unknown) | None => None,
                },
                name,
            })
            .collect();
        let n = self.notifier.stats();
        View {
            instances,
            kernel,
            scripts,
            notify: NotifyView {
                succeeded: n.succeeded,
                failed: n.failed,
                timed_out: n.timed_out,
                aborted: n.aborted,
            },
        }
    }
}
