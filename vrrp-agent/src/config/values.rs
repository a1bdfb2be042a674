//! Parsing of single values: numbers, timers, booleans, addresses.
use std::{net::IpAddr, time::Duration};

/// An unsigned decimal integer (no sign, no spaces).
pub(crate) fn parse_uint(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A decimal integer with an optional sign.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = i64::try_from(parse_uint(digits)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// keepalived's `<TIMER>`: seconds with an optional fraction (`3`, `0.5`, `.25`). Digits
/// beyond nanoseconds are dropped. No sign, exponent, `inf` or `nan`.
pub(crate) fn parse_seconds(text: &str) -> Option<Duration> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    let mut nanos = 0u32;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(secs, nanos))
}

/// keepalived's `<BOOL>`: on|off|true|false|yes|no, in lower case (`check_true_false`
/// compares exactly).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An IPv4 or IPv6 address (no prefix, no zone).
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

/// A duration for messages: `2 s`, `1.5 s`, `0.123 s`.
pub(crate) fn show_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        return format!("{} s", d.as_secs());
    }
    let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
    format!("{} s", s.trim_end_matches('0'))
}

/// Rounds to the nearest multiple of `step` (halves round up).
pub(crate) fn round_to(d: Duration, step: Duration) -> Duration {
    let step_ns = step.as_nanos().max(1);
    let n = (d.as_nanos() + step_ns / 2) / step_ns * step_ns;
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint("+42"), None);
        assert_eq!(parse_uint(""), None);
        assert_eq!(parse_uint("99999999999999999999999"), None);
        assert_eq!(parse_int("-30"), Some(-30));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("--1"), None);
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.0000000019"), Some(Duration::from_nanos(1)));
        for bad in ["", ".", "-1", "1e3", "inf", "nan", "1.2.3", "abc", " 1"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn showing_and_rounding() {
        assert_eq!(show_duration(Duration::from_secs(2)), "2 s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(
            round_to(Duration::from_millis(1500), Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        assert_eq!(
            round_to(Duration::from_millis(1499), Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            round_to(Duration::from_millis(123), Duration::from_millis(10)),
            Duration::from_millis(120)
        );
        assert_eq!(
            round_to(Duration::from_millis(125), Duration::from_millis(10)),
            Duration::from_millis(130)
        );
    }
}
