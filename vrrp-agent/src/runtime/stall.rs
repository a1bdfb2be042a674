//! The stall guard: a Backup that finds its Master_Down_Timer expired well after the
//! deadline looks at the Master's records once more, a little later, before it takes over.
//!
//! Why: on a loaded host (2 cores, `PREEMPT_NONE`, HZ=250) the whole machine sometimes stalls
//! for tens of milliseconds. The Master's process does not run, so its adverts stop, and the
//! Backup's timer runs out; but the Backup did not run either, and when it gets the CPU back
//! the Master gets it back too and advertises within a few milliseconds. Every spurious
//! takeover seen in `bench-stability` (of either daemon) followed such a silence. A Backup
//! that wakes more than [`LATE_AFTER`] after its deadline knows it was stalled itself: what it
//! reads now (the kernel's peer records, the event ring) may not yet show an advert the
//! Master sends as soon as it runs. It reads them once more after [`recheck_delay`]; if an
//! advert came meanwhile the election re-arms its timer from it and it stays Backup.
//!
//! Bounds (see `Guard::judge`):
//! - one recheck per Master_Down deadline; a deadline moves only when a newer advert is
//!   fed in (the Master was alive), so the guard never defers in a loop;
//! - a real failover (no advert comes) is delayed by at most the recheck delay,
//!   min(Master_Adver_Interval / 2, [`MAX_RECHECK`]), after the agent first saw the timer
//!   expired; a timer found on time (at most [`LATE_AFTER`] late) is never delayed.
//!
//! `Guard` is pure (time is a parameter); the `Agent` methods below apply it.
use std::time::Duration;

use super::{Agent, RouterId};
use crate::units::MonoTime;

/// A Master_Down_Timer found expired more than this after its deadline means the agent
/// itself was stalled (the kernel watchdog and the agent's timerfd are normally 0.2-0.4 ms
/// late).
pub(super) const LATE_AFTER: Duration = Duration::from_millis(1);

/// The longest recheck delay (the bound on how much later a real failover can come).
pub(super) const MAX_RECHECK: Duration = Duration::from_millis(5);

/// How long after a late expiry the records are read again: half the Master's advert
/// interval (by then a Master that runs again has advertised), at most [`MAX_RECHECK`].
pub(super) fn recheck_delay(master_adver_interval: Duration) -> Duration {
    (master_adver_interval / 2).min(MAX_RECHECK)
}

/// What to do with a Master_Down_Timer found expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Take over now: found on time, or its one recheck is done.
    TakeOver,
    /// Found `late`: read the records again at `at`, then decide.
    Recheck { at: MonoTime, late: Duration },
    /// Its recheck is pending until `at`.
    Wait { at: MonoTime },
}

/// How a pending recheck ended without a takeover (see [`Guard::settle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// The timer was re-armed (an advert came meanwhile): still Backup. `late`: how late the
    /// expiry was found; `moved`: how far the deadline moved on.
    Rearmed { late: Duration, moved: Duration },
    /// The router left Backup for another reason (fault, shutdown, reload).
    Moot,
}

/// The recheck of one Master_Down deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Recheck {
    /// The deadline found late.
    due: MonoTime,
    /// When the records are read again.
    at: MonoTime,
    /// How late it was found.
    late: Duration,
    /// The recheck is over and the takeover was allowed.
    done: bool,
}

/// One router's stall guard.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Guard {
    recheck: Option<Recheck>,
    /// Rechecks started, and of those the ones that kept the router Backup.
    pub(super) rechecks: u64,
    pub(super) kept: u64,
}

impl Guard {
    /// The Master_Down_Timer `due` is found expired at `now`.
    pub(super) fn judge(
        &mut self,
        due: MonoTime,
        now: MonoTime,
        master_adver_interval: Duration,
    ) -> Verdict {
        if let Some(r) = &mut self.recheck {
            if r.due == due {
                if r.done || now >= r.at {
                    r.done = true;
                    return Verdict::TakeOver;
                }
                return Verdict::Wait { at: r.at };
            }
        }
        let late = now.saturating_since(due);
        let delay = recheck_delay(master_adver_interval);
        if late <= LATE_AFTER || delay.is_zero() {
            self.recheck = None;
            return Verdict::TakeOver;
        }
        let at = now + delay;
        self.recheck = Some(Recheck {
            due,
            at,
            late,
            done: false,
        });
        self.rechecks += 1;
        Verdict::Recheck { at, late }
    }

    /// While the recheck of `due` (the router's Master_Down_Timer, if it is Backup) is
    /// pending: when to wake for it instead of `due`.
    pub(super) fn holds(&self, due: Option<MonoTime>) -> Option<MonoTime> {
        let r = self.recheck.filter(|r| !r.done)?;
        (due == Some(r.due)).then_some(r.at)
    }

    /// Ends a pending recheck whose deadline is no longer the router's Master_Down_Timer
    /// (`due`, `None` outside Backup): returns how it ended, once.
    pub(super) fn settle(&mut self, due: Option<MonoTime>) -> Option<Settled> {
        let r = self.recheck.filter(|r| !r.done && due != Some(r.due))?;
        self.recheck = None;
        Some(match due {
            Some(new_due) => {
                self.kept += 1;
                Settled::Rearmed {
                    late: r.late,
                    moved: new_due.saturating_since(r.due),
                }
            }
            None => Settled::Moot,
        })
    }
}

impl Agent {
    /// Whether router `i`, whose election deadline has passed, may be given
    /// `Input::Timer` now. A Backup's Master_Down_Timer found more than [`LATE_AFTER`] late
    /// is held once for [`recheck_delay`] (the router then wakes at the recheck, see
    /// `Vrouter::deadline`); anything else passes.
    pub(super) fn stall_allows(&mut self, i: RouterId, now: MonoTime) -> bool {
        let Some(vr) = self.routers.get_mut(i) else {
            return true;
        };
        // Only the Master_Down_Timer, and only when it is the deadline that came (not a
        // handover's).
        let Some(due) = vr
            .router
            .master_down_timer()
            .filter(|d| *d <= now && vr.router.next_deadline() == Some(*d))
        else {
            return true;
        };
        let interval = vr.router.master_adver_interval().as_duration();
        match vr.stall.judge(due, now, interval) {
            Verdict::TakeOver => true,
            Verdict::Recheck { at, late } => {
                tracing::debug!(
                    instance = %vr.name,
                    vrid = vr.key.vrid,
                    late_us = late.as_micros() as u64,
                    recheck_in_us = at.saturating_since(now).as_micros() as u64,
                    "Master_Down_Timer found late (this process was stalled): reading the \
                     Master's records once more before taking over"
                );
                false
            }
            Verdict::Wait { .. } => false,
        }
    }

    /// Ends router `i`'s pending recheck if its timer changed; returns whether the recheck
    /// still holds (then the kernel watchdog must not be re-armed: its deadline has passed
    /// and it would fire again at once).
    pub(super) fn stall_holds(&mut self, i: RouterId) -> bool {
        let Some(vr) = self.routers.get_mut(i) else {
            return false;
        };
        let due = vr.router.master_down_timer();
        if let Some(Settled::Rearmed { late, moved }) = vr.stall.settle(due) {
            tracing::info!(
                instance = %vr.name,
                vrid = vr.key.vrid,
                late_ms = late.as_secs_f64() * 1e3,
                rechecks = vr.stall.rechecks,
                kept = vr.stall.kept,
                deadline_moved_ms = moved.as_secs_f64() * 1e3,
                "stall guard: the Master advertised while the late Master_Down_Timer was \
                 rechecked: staying Backup"
            );
        }
        vr.stall.holds(due).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const ADVER: Duration = Duration::from_millis(10);

    fn t(ms: f64) -> MonoTime {
        MonoTime::from_nanos(1_000_000_000 + (ms * 1e6) as u64)
    }

    #[test]
    fn recheck_delay_is_half_the_interval_at_most_5_ms() {
        assert_eq!(recheck_delay(Duration::from_millis(10)), 5 * MS);
        assert_eq!(recheck_delay(Duration::from_millis(20)), 5 * MS);
        assert_eq!(recheck_delay(Duration::from_secs(1)), 5 * MS);
        assert_eq!(recheck_delay(Duration::from_millis(4)), 2 * MS);
        assert_eq!(recheck_delay(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn on_time_expiry_takes_over_at_once() {
        let mut g = Guard::default();
        assert_eq!(g.judge(t(0.0), t(0.0), ADVER), Verdict::TakeOver);
        assert_eq!(g.judge(t(0.0), t(0.4), ADVER), Verdict::TakeOver);
        // Exactly the threshold is still on time.
        assert_eq!(g.judge(t(0.0), t(1.0), ADVER), Verdict::TakeOver);
        assert_eq!(g.holds(Some(t(0.0))), None);
        assert_eq!(g.rechecks, 0);
    }

    #[test]
    fn late_expiry_is_rechecked_once_then_taken_over() {
        let mut g = Guard::default();
        let due = t(0.0);
        assert_eq!(
            g.judge(due, t(30.0), ADVER),
            Verdict::Recheck {
                at: t(35.0),
                late: 30 * MS
            }
        );
        assert_eq!(g.holds(Some(due)), Some(t(35.0)));
        // Woken early for another router: still waiting, the wake-up time unchanged.
        assert_eq!(g.judge(due, t(33.0), ADVER), Verdict::Wait { at: t(35.0) });
        // At the recheck (itself late): no second recheck.
        assert_eq!(g.judge(due, t(41.0), ADVER), Verdict::TakeOver);
        assert_eq!(g.holds(Some(due)), None);
        assert_eq!(g.judge(due, t(42.0), ADVER), Verdict::TakeOver);
        assert_eq!(g.settle(Some(due)), None);
        assert_eq!((g.rechecks, g.kept), (1, 0));
    }

    #[test]
    fn a_failover_is_delayed_by_at_most_the_recheck_delay() {
        // However late the expiry is found, and however often the agent wakes meanwhile, the
        // takeover is allowed at the first look at or after first-look + delay.
        for interval_ms in [1u64, 4, 10, 50, 1000] {
            let interval = Duration::from_millis(interval_ms);
            for late_ms in [1.5, 3.0, 20.0, 100.0] {
                let mut g = Guard::default();
                let first = t(late_ms);
                assert!(matches!(
                    g.judge(t(0.0), first, interval),
                    Verdict::Recheck { .. }
                ));
                let bound = first + recheck_delay(interval);
                let mut now = first;
                let mut looks = 0;
                while g.judge(t(0.0), now, interval) != Verdict::TakeOver {
                    assert!(now < bound, "held past the bound at {interval_ms} ms");
                    now = now + Duration::from_micros(250);
                    looks += 1;
                    assert!(looks < 100);
                }
                assert!(now.saturating_since(first) <= recheck_delay(interval));
            }
        }
    }

    #[test]
    fn an_advert_during_the_recheck_keeps_the_backup() {
        let mut g = Guard::default();
        assert!(matches!(
            g.judge(t(0.0), t(80.0), ADVER),
            Verdict::Recheck { .. }
        ));
        // Nothing new yet: the hold stays.
        assert_eq!(g.settle(Some(t(0.0))), None);
        // The Master's advert fed at 82 ms moved the deadline to 82 + 36 ms.
        let new_due = t(118.0);
        assert_eq!(g.holds(Some(new_due)), None);
        assert_eq!(
            g.settle(Some(new_due)),
            Some(Settled::Rearmed {
                late: 80 * MS,
                moved: 118 * MS
            })
        );
        assert_eq!(g.settle(Some(new_due)), None, "reported once");
        assert_eq!((g.rechecks, g.kept), (1, 1));
        // The new deadline gets its own recheck if it too is found late.
        assert!(matches!(
            g.judge(new_due, t(125.0), ADVER),
            Verdict::Recheck { .. }
        ));
        assert_eq!(g.rechecks, 2);
    }

    #[test]
    fn leaving_backup_ends_the_hold_without_counting_it_kept() {
        let mut g = Guard::default();
        assert!(matches!(
            g.judge(t(0.0), t(5.0), ADVER),
            Verdict::Recheck { .. }
        ));
        assert_eq!(g.holds(None), None);
        assert_eq!(g.settle(None), Some(Settled::Moot));
        assert_eq!(g.kept, 0);
        assert_eq!(g.holds(Some(t(0.0))), None);
    }

    #[test]
    fn a_zero_interval_never_holds() {
        let mut g = Guard::default();
        assert_eq!(g.judge(t(0.0), t(50.0), Duration::ZERO), Verdict::TakeOver);
    }
}
