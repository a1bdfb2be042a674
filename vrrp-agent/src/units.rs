//! Units of time used across the agent. Seconds, centiseconds and nanoseconds never share
//! a bare integer (holo-vrrp's skew bug came from exactly that).
use std::{fmt, ops::Add, ops::Sub, time::Duration};

/// A VRRPv3 interval in centiseconds (RFC 9568 §5.2.7: 12 bits, 1..=4095 on the wire).
/// VRRPv2 intervals are whole seconds; they are kept here as `seconds * 100`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centisecs(u16);

impl Centisecs {
    /// The largest value the 12-bit v3 field can carry (40.95 s).
    pub const V3_MAX: Centisecs = Centisecs(4095);

    /// Wraps a raw centisecond count.
    pub const fn new(cs: u16) -> Self {
        Centisecs(cs)
    }

    /// The raw centisecond count.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// `d` rounded to the nearest centisecond, or `None` if it does not fit in u16.
    pub fn from_duration_round(d: Duration) -> Option<Self> {
        let cs = (d.as_micros() + 5_000) / 10_000;
        u16::try_from(cs).ok().map(Centisecs)
    }

    /// The interval as a `Duration`.
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
    }
}

/// A point on CLOCK_MONOTONIC, the clock `bpf_ktime_get_ns` reads, so that times the XDP
/// program records and times the agent reads compare directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonoTime(Duration);

impl MonoTime {
    /// The time `d` after the clock's origin (boot).
    pub const fn from_since_boot(d: Duration) -> Self {
        MonoTime(d)
    }

    /// A time from `bpf_ktime_get_ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        MonoTime(Duration::from_nanos(ns))
    }

    /// Nanoseconds since the clock's origin.
    pub fn as_nanos(self) -> u64 {
        u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Now, from CLOCK_MONOTONIC. Only the runtime calls this; logic takes time as an argument.
    pub fn now() -> Self {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        MonoTime(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: MonoTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for MonoTime {
    type Output = MonoTime;
    fn add(self, d: Duration) -> MonoTime {
        MonoTime(self.0 + d)
    }
}

impl Sub<Duration> for MonoTime {
    type Output = MonoTime;
    fn sub(self, d: Duration) -> MonoTime {
        MonoTime(self.0.saturating_sub(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centisecs_round_and_display() {
        assert_eq!(
            Centisecs::from_duration_round(Duration::from_millis(100)),
            Some(Centisecs::new(10))
        );
        assert_eq!(
            Centisecs::from_duration_round(Duration::from_millis(14)),
            Some(Centisecs::new(1))
        );
        assert_eq!(
            Centisecs::from_duration_round(Duration::from_millis(15)),
            Some(Centisecs::new(2))
        );
        assert_eq!(Centisecs::new(361).to_string(), "3.61s");
        assert_eq!(Centisecs::new(1).as_duration(), Duration::from_millis(10));
    }

    #[test]
    fn mono_time_arithmetic() {
        let t = MonoTime::from_nanos(1_000);
        assert_eq!((t + Duration::from_nanos(500)).as_nanos(), 1_500);
        assert_eq!(
            t.saturating_since(t + Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
