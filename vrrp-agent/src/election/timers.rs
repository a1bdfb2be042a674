//! The timer formulas of RFC 9568 §6.1 and RFC 3768 §6.1, in exact integer arithmetic.
//!
//! `Duration * u32 / u32` works in whole nanoseconds, so a skew is exact whenever the
//! result is a whole number of nanoseconds (every example in PROTOCOL.md is) and otherwise
//! truncated by less than one nanosecond. holo-vrrp computed the v2 skew as
//! `(256 - priority) / 256` in integers, which is always zero; that cannot happen here.
use std::time::Duration;

use super::types::Version;
use crate::units::Centisecs;

/// Skew_Time for a router of local (effective) priority `priority`.
///
/// - v3 (RFC 9568 §6.1): `Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256`.
/// - v2 (RFC 3768 §6.1): `Skew_Time = (256 - Priority) / 256` seconds, whatever the
///   interval.
///
/// Priority 100: v2 609.375 ms; v3 at 0.01 s 6.09375 ms.
pub fn skew_time(version: Version, priority: u8, master_adver_interval: Centisecs) -> Duration {
    let weight = 256 - u32::from(priority);
    match version {
        Version::V2 => Duration::from_secs(1) * weight / 256,
        Version::V3 => master_adver_interval.as_duration() * weight / 256,
    }
}

/// Master_Down_Interval = `3 * Master_Adver_Interval + Skew_Time` (RFC 9568 §6.1; RFC 3768
/// §6.1 with `Advertisement_Interval`, which a v2 Backup never replaces with a learned
/// interval, so the two are the same there).
///
/// Priority 100: v2 at 1 s 3.609375 s; v3 at 0.1 s 360.9375 ms; v3 at 0.01 s 36.09375 ms.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: Centisecs,
) -> Duration {
    master_adver_interval.as_duration() * 3 + skew_time(version, priority, master_adver_interval)
}
