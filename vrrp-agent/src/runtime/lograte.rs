//! Rate-limited logging of what the kernel reports per instance (RFC 9568 §7.1 asks that
//! received anomalies be logged "rate-limited"): a storm of new sources or priority changes
//! must not become a storm of log lines.
//!
//! One token bucket per instance: [`BURST`] lines at once, then one per [`REFILL`]. Lines
//! beyond that are counted, not logged; the count comes back with the next line that may be
//! logged (or from [`LogRates::summaries`], called from the runtime's timer), so that the
//! log says how many were left out ("N more suppressed"). Sans-I/O: time is an argument.
use std::{collections::BTreeMap, time::Duration};

use crate::units::MonoTime;

/// Lines an instance may log back to back.
pub const BURST: u32 = 5;
/// One more line allowed per this much time, up to [`BURST`].
pub const REFILL: Duration = Duration::from_secs(1);

/// Whether a line may be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Log it. `suppressed` lines were left out since the last one logged: say so first.
    Log {
        /// Lines suppressed before this one (0: none).
        suppressed: u64,
    },
    /// Leave it out (it is counted).
    Suppress,
}

/// A token bucket for log lines.
#[derive(Clone, Debug)]
pub struct LogRate {
    burst: u32,
    refill: Duration,
    tokens: u32,
    /// The moment the tokens were last brought up to date (a multiple of `refill` after
    /// the start, so that no partial period is lost).
    refilled_at: MonoTime,
    suppressed: u64,
}

impl LogRate {
    /// A full bucket at `now`: `burst` lines at once, then one per `refill`. A zero
    /// `refill` means no limit; a zero `burst` is read as 1.
    pub fn new(burst: u32, refill: Duration, now: MonoTime) -> Self {
        let burst = burst.max(1);
        LogRate {
            burst,
            refill,
            tokens: burst,
            refilled_at: now,
            suppressed: 0,
        }
    }

    fn refill(&mut self, now: MonoTime) {
        if self.refill.is_zero() {
            self.tokens = self.burst;
            return;
        }
        if self.tokens >= self.burst {
            self.refilled_at = now;
            return;
        }
        let elapsed = now.saturating_since(self.refilled_at);
        let periods = elapsed.as_nanos() / self.refill.as_nanos();
        if periods == 0 {
            return;
        }
        let add = u32::try_from(periods).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(add).min(self.burst);
        self.refilled_at = if self.tokens >= self.burst {
            now
        } else {
            // add < burst here, so the product is small.
            self.refilled_at + self.refill * add
        };
    }

    /// One line at `now`: log it (after a summary of what was suppressed) or count it.
    pub fn admit(&mut self, now: MonoTime) -> Admit {
        self.refill(now);
        if self.tokens == 0 {
            self.suppressed = self.suppressed.saturating_add(1);
            return Admit::Suppress;
        }
        self.tokens -= 1;
        Admit::Log {
            suppressed: std::mem::take(&mut self.suppressed),
        }
    }

    /// Lines suppressed so far, if any and if a line may be logged now (the summary takes
    /// that line's token). For a storm that stopped: nothing else would report it.
    pub fn summary(&mut self, now: MonoTime) -> Option<u64> {
        if self.suppressed == 0 {
            return None;
        }
        self.refill(now);
        if self.tokens == 0 {
            return None;
        }
        self.tokens -= 1;
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Lines counted and not logged yet.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// When [`LogRate::summary`] can next report something: `None` when nothing was
    /// suppressed.
    pub fn next_summary(&self) -> Option<MonoTime> {
        if self.suppressed == 0 {
            return None;
        }
        if self.tokens > 0 || self.refill.is_zero() {
            return Some(self.refilled_at);
        }
        Some(self.refilled_at + self.refill)
    }
}

/// A [`LogRate`] per key (instance), created on first use with [`BURST`] / [`REFILL`].
#[derive(Clone, Debug, Default)]
pub struct LogRates<K: Ord> {
    rates: BTreeMap<K, LogRate>,
    /// Some key has suppressed lines to report.
    pending: bool,
}

impl<K: Ord + Clone> LogRates<K> {
    /// No keys yet.
    pub fn new() -> Self {
        LogRates {
            rates: BTreeMap::new(),
            pending: false,
        }
    }

    /// One line for `key` at `now` (see [`LogRate::admit`]).
    pub fn admit(&mut self, key: &K, now: MonoTime) -> Admit {
        let rate = self
            .rates
            .entry(key.clone())
            .or_insert_with(|| LogRate::new(BURST, REFILL, now));
        let admit = rate.admit(now);
        if admit == Admit::Suppress {
            self.pending = true;
        }
        admit
    }

    /// When the runtime must wake for [`LogRates::summaries`]: `None` while nothing is
    /// suppressed (costs nothing then).
    pub fn next_deadline(&self) -> Option<MonoTime> {
        if !self.pending {
            return None;
        }
        self.rates.values().filter_map(LogRate::next_summary).min()
    }

    /// The summaries due at `now`: (key, lines suppressed) for each key whose storm may be
    /// reported now. Costs nothing while no line was suppressed.
    pub fn summaries(&mut self, now: MonoTime) -> Vec<(K, u64)> {
        if !self.pending {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut left = false;
        for (key, rate) in &mut self.rates {
            if let Some(n) = rate.summary(now) {
                out.push((key.clone(), n));
            }
            left |= rate.suppressed() > 0;
        }
        self.pending = left;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> MonoTime {
        MonoTime::from_nanos(1_000_000_000_000 + ms * 1_000_000)
    }

    #[test]
    fn burst_then_one_per_period_with_the_count_of_what_was_left_out() {
        let mut r = LogRate::new(3, Duration::from_secs(1), at(0));
        let log = |n| Admit::Log { suppressed: n };
        for _ in 0..3 {
            assert_eq!(r.admit(at(0)), log(0));
        }
        for _ in 0..1000 {
            assert_eq!(r.admit(at(10)), Admit::Suppress);
        }
        assert_eq!(r.admit(at(999)), Admit::Suppress);
        // One period after the start: one token back; the line carries the count.
        assert_eq!(r.admit(at(1000)), log(1001));
        assert_eq!(r.admit(at(1001)), Admit::Suppress);
        // Partial periods are not lost: the next token is due at 2000, not 2001.
        assert_eq!(r.admit(at(2000)), log(1));
        // A long quiet spell refills up to the burst, no more.
        for _ in 0..3 {
            assert_eq!(r.admit(at(60_000)), log(0));
        }
        assert_eq!(r.admit(at(60_000)), Admit::Suppress);
    }

    #[test]
    fn a_storm_of_n_lines_logs_at_most_burst_plus_elapsed_periods() {
        let mut r = LogRate::new(BURST, REFILL, at(0));
        // 10,000 lines over 10 s: at most BURST + 10 logged, and every one counted.
        let mut logged = 0u64;
        let mut reported = 0u64;
        for i in 0..10_000u64 {
            if let Admit::Log { suppressed } = r.admit(at(i)) {
                logged += 1;
                reported += suppressed;
            }
        }
        assert!(logged <= u64::from(BURST) + 10, "{logged}");
        assert_eq!(logged + reported + r.suppressed(), 10_000);
    }

    #[test]
    fn summary_reports_a_storm_that_stopped() {
        let mut r = LogRate::new(1, Duration::from_secs(1), at(0));
        assert_eq!(r.summary(at(0)), None);
        assert_eq!(r.admit(at(0)), Admit::Log { suppressed: 0 });
        assert_eq!(r.admit(at(1)), Admit::Suppress);
        assert_eq!(r.admit(at(2)), Admit::Suppress);
        // No token yet.
        assert_eq!(r.summary(at(500)), None);
        assert_eq!(r.next_summary(), Some(at(1000)));
        assert_eq!(r.summary(at(1000)), Some(2));
        assert_eq!(r.next_summary(), None);
        assert_eq!(r.summary(at(5000)), None);
        // The summary took the token of its period.
        assert_eq!(r.admit(at(1000)), Admit::Suppress);
    }

    #[test]
    fn zero_refill_is_no_limit_and_zero_burst_reads_as_one() {
        let mut r = LogRate::new(0, Duration::ZERO, at(0));
        for _ in 0..100 {
            assert_eq!(r.admit(at(0)), Admit::Log { suppressed: 0 });
        }
        let mut r = LogRate::new(0, Duration::from_secs(1), at(0));
        assert_eq!(r.admit(at(0)), Admit::Log { suppressed: 0 });
        assert_eq!(r.admit(at(0)), Admit::Suppress);
    }

    #[test]
    fn per_key_buckets_are_independent_and_summaries_come_once() {
        let mut rates = LogRates::new();
        for _ in 0..BURST {
            assert_eq!(rates.admit(&1, at(0)), Admit::Log { suppressed: 0 });
        }
        assert_eq!(rates.admit(&1, at(0)), Admit::Suppress);
        assert_eq!(rates.admit(&1, at(0)), Admit::Suppress);
        // Another instance is not affected by the first one's storm.
        assert_eq!(rates.admit(&2, at(0)), Admit::Log { suppressed: 0 });
        assert_eq!(rates.summaries(at(10)), vec![]);
        assert_eq!(rates.next_deadline(), Some(at(1000)));
        assert_eq!(rates.summaries(at(1000)), vec![(1, 2)]);
        assert_eq!(rates.next_deadline(), None);
        assert_eq!(rates.summaries(at(5000)), vec![]);
        assert!(!rates.pending);
    }
}
