//! Catching up after the kernel's event ring buffer overflowed.
//!
//! XDP sends an event only when something the election acts on changed (a new source, a
//! priority change, priority 0, an interval change), and the watchdog one when a Master went
//! silent. When the ring is full (a storm of new sources, an agent stopped or starved), XDP
//! counts the event in its instance's `events_lost` and drops it; the peer record itself is
//! still updated. Some losses mend themselves: the watchdog keeps its slot armed and tries
//! again every `WATCH_RETRY_NS`; a Master reads the records at each Adver_Timer; a record
//! that fell to priority 0 no longer holds the watchdog off. One does not: a Master that
//! shortened its interval (its `EV_INTERVAL` lost) and then died would be taken over on the
//! old, longer Master_Down_Interval.
//!
//! The agent looks at `events_lost` (per instance, summed over CPUs) after every large batch
//! of events (a full or nearly full ring: the sign that it fell behind) and once every
//! [`CHECK_EVERY`] otherwise (after the turn's adverts are out, so a Master's schedule never
//! waits for it: with 1,023 instances the read is 1,023 syscalls). For every instance whose
//! count grew it feeds the election the kernel's peer records, as if their events had come:
//! a Backup all of them (a Master that resigned with priority 0 or changed its interval
//! during the gap), a Master those that would make it step down. The election ignores records it has already seen, so a resync
//! never does harm.
use std::{collections::BTreeMap, time::Duration};

use vrrp_common::InstanceKey;

use super::Agent;
use crate::{election::State, units::MonoTime};

/// How often `events_lost` is read when no large batch came.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A drained batch at least this long is read as a sign that the ring was full or nearly
/// so (the ring holds about 5,400 events); `events_lost` is then read at once.
pub(super) const LARGE_BATCH: usize = 256;

/// The `events_lost` counts seen last, per instance.
#[derive(Debug, Default)]
pub(super) struct RingLoss {
    seen: BTreeMap<InstanceKey, u64>,
    next_check: Option<MonoTime>,
    /// Events lost in total since the agent started, as far as it noticed.
    pub(super) noticed: u64,
    /// Resynchronisations done.
    pub(super) resyncs: u64,
}

impl RingLoss {
    /// Whether `events_lost` should be read now, after a drained batch of `batch` events
    /// (0 from the timer).
    pub(super) fn due(&self, now: MonoTime, batch: usize) -> bool {
        batch >= LARGE_BATCH || self.next_check.is_none_or(|t| now >= t)
    }

    /// Takes the counts just read; returns the instances whose count grew, and by how many
    /// events in all. An instance seen for the first time counts from zero.
    pub(super) fn update(
        &mut self,
        now: MonoTime,
        counts: impl IntoIterator<Item = (InstanceKey, u64)>,
    ) -> (Vec<InstanceKey>, u64) {
        self.next_check = Some(now + CHECK_EVERY);
        let mut grown = Vec::new();
        let mut lost = 0;
        for (key, n) in counts {
            let before = self.seen.insert(key, n).unwrap_or(0);
            if n > before {
                grown.push(key);
                lost += n - before;
            }
        }
        self.noticed += lost;
        if !grown.is_empty() {
            self.resyncs += 1;
        }
        (grown, lost)
    }
}

impl Agent {
    /// Reads `events_lost` if due (see the module comment) and resynchronises every
    /// instance that lost events from the kernel's peer records. Returns whether it read.
    pub(super) async fn check_ring_loss(&mut self, now: MonoTime, batch: usize) -> bool {
        if !self.ring_loss.due(now, batch) {
            return false;
        }
        let counts = match self.dp.events_lost() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("reading the kernel's lost-event counts: {e}");
                self.ring_loss.update(now, []);
                return true;
            }
        };
        let (grown, lost) = self.ring_loss.update(now, counts);
        if grown.is_empty() {
            return true;
        }
        tracing::warn!(
            lost,
            instances = grown.len(),
            "the kernel's event ring buffer overflowed: resynchronising those instances from the \
             peer records (a storm of new sources, or the agent was stopped or starved)"
        );
        for key in grown {
            let Some(i) = self.routers.by_key(&key) else {
                continue;
            };
            match self.routers[i].router.state() {
                State::Backup => self.feed_kernel_records(i, now).await,
                State::Master => self.feed_master_records(i, now).await,
                _ => {}
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(vrid: u8) -> InstanceKey {
        InstanceKey::new(2, vrid, vrrp_common::FAMILY_IPV4)
    }

    #[test]
    fn only_instances_whose_count_grew_are_resynchronised() {
        let mut r = RingLoss::default();
        let t0 = MonoTime::from_nanos(1_000_000_000);
        assert!(r.due(t0, 0), "the first check is due at once");
        assert_eq!(r.update(t0, [(key(1), 0), (key(2), 3)]), (vec![key(2)], 3));
        assert!(!r.due(t0 + Duration::from_millis(10), 0));
        assert!(r.due(t0 + Duration::from_millis(10), LARGE_BATCH));
        assert!(r.due(t0 + CHECK_EVERY, 0));
        let t1 = t0 + CHECK_EVERY;
        assert_eq!(r.update(t1, [(key(1), 0), (key(2), 3)]), (vec![], 0));
        assert_eq!(
            r.update(t1, [(key(1), 5), (key(2), 4)]),
            (vec![key(1), key(2)], 6)
        );
        assert_eq!((r.noticed, r.resyncs), (9, 2));
    }
}
