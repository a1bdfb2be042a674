//! Values keepalived 2.2.7 reports as invalid and then runs without: it ignores the line
//! (the default or the earlier value stays), uses its default, clamps, or drops one address
//! of a list. This daemon does the same, with a keepalived-ignores warning at the value that
//! quotes keepalived's message.
//!
//! keepalived reads integers with `strtol`/`strtoul` and a range (`read_int_func`,
//! `read_unsigned_func`). Text after the digits (`5s`) is where `keepalived -t` and a
//! running keepalived part: for the handlers that pass `ignore_error`, `-t` ignores the line
//! and a running keepalived uses the digits. Such a value stays an error here: which one
//! keepalived means cannot be told.
use super::{Builder, TrackKind};
use crate::config::{
    diagnostics::{Category, Spot},
    model::TrackRef,
    parser::{Stmt, Word},
};

/// How keepalived reads an integer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CNumber {
    /// A number in range: used.
    Valid(i64),
    /// Out of range, negative where unsigned, or no number at all: keepalived reports it (the
    /// same way in `-t` and when running) and the handler goes on without it.
    Invalid,
    /// Other text after the digits (or instead of them, read as 0) where the number is in
    /// range: `keepalived -t` ignores it, a running keepalived (for `ignore_error` handlers)
    /// uses the number.
    Unclear(i64),
}

/// `text` read as keepalived's `read_int_func` (signed) or `read_unsigned_func` reads it, in
/// base 10, for a range `min..=max`; `ignore_error` as the handler passes it.
pub(crate) fn c_number(
    text: &str,
    min: i64,
    max: i64,
    signed: bool,
    ignore_error: bool,
) -> CNumber {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let junk = digits.len() != rest.len() || digits.is_empty();
    // strtol saturates; anything that does not fit an i64 is out of every range used here.
    let magnitude = if digits.is_empty() {
        Some(0)
    } else {
        digits.parse::<i64>().ok()
    };
    let Some(magnitude) = magnitude else {
        return CNumber::Invalid;
    };
    let value = if negative { -magnitude } else { magnitude };
    if negative && !signed {
        // "negative number": strtoul wraps, out of range.
        return CNumber::Invalid;
    }
    let in_range = (min..=max).contains(&value);
    match (junk, in_range) {
        (false, true) => CNumber::Valid(value),
        (true, true) if ignore_error => CNumber::Unclear(value),
        _ => CNumber::Invalid,
    }
}

/// What C's `strtol(text, _, 10)` returns (the leading `[+-]digits`, 0 when there are none);
/// `None` when it would not fit an i64 (strtol saturates).
pub(crate) fn strtol(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Some(0);
    }
    let v = digits.parse::<i64>().ok()?;
    Some(if negative { -v } else { v })
}

impl Builder<'_> {
    /// keepalived reported `says` about the value at `at` and did `result` (e.g. "ignores the
    /// line: the default 1 s is used"); this daemon does the same.
    pub(super) fn keepalived_ignores(
        &mut self,
        at: &impl Spot,
        what: &str,
        says: &str,
        result: &str,
    ) {
        self.diags.warn_as(
            Category::KeepalivedIgnores,
            at,
            format!("{what}: keepalived reports \"{says}\" and {result}, and so does this daemon"),
        );
    }

    /// An integer keyword value as keepalived reads it: `Some` when valid; otherwise a
    /// keepalived-ignores warning (keepalived `says` and does `result`) or, for text after
    /// the digits, an error, and `None`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn c_int(
        &mut self,
        w: &Word,
        kw: &str,
        (min, max): (i64, i64),
        signed: bool,
        ignore_error: bool,
        says: &str,
        result: &str,
    ) -> Option<i64> {
        match c_number(&w.text, min, max, signed, ignore_error) {
            CNumber::Valid(v) => Some(v),
            CNumber::Invalid => {
                let what = format!("`{kw} {}` is not valid ({min} to {max})", w.text);
                self.keepalived_ignores(&w.pos, &what, says, result);
                None
            }
            CNumber::Unclear(v) => {
                self.unclear_number(w, kw, v);
                None
            }
        }
    }

    /// Like [`Self::c_int`], but where keepalived uses `default` for an invalid value:
    /// `Some(default)` after the warning; `None` only after an error.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn c_int_or(
        &mut self,
        w: &Word,
        kw: &str,
        (min, max): (i64, i64),
        signed: bool,
        says: &str,
        result: &str,
        default: i64,
    ) -> Option<i64> {
        if let CNumber::Unclear(v) = c_number(&w.text, min, max, signed, true) {
            self.unclear_number(w, kw, v);
            return None;
        }
        Some(
            self.c_int(w, kw, (min, max), signed, true, says, result)
                .unwrap_or(default),
        )
    }

    /// The `weight N` of a track line: keepalived reads -254..=254; outside it ignores the
    /// weight (a tracked interface then has weight 0, the others their definition's weight),
    /// and it lowers ±254 to ±253 for scripts and interfaces. `Err` after an error.
    pub(super) fn track_weight(
        &mut self,
        w: &Word,
        kind: TrackKind,
        name: &str,
    ) -> Result<Option<i32>, ()> {
        let kw = kind.keyword();
        let limit = kind.weight_limit();
        let result = match kind {
            TrackKind::Interface => "ignores the weight (the interface is tracked with weight 0)",
            _ => "ignores the weight (the definition's weight is used)",
        };
        let says = format!("weight for {name} must be between [-{limit}..{limit}] ... Ignoring");
        let Some(v) = self.c_int(
            w,
            &format!("{kw} {name} weight"),
            (-254, 254),
            true,
            true,
            &says,
            result,
        ) else {
            return match c_number(&w.text, -254, 254, true, true) {
                CNumber::Unclear(_) => Err(()),
                _ => Ok(matches!(kind, TrackKind::Interface).then_some(0)),
            };
        };
        if v.abs() > limit {
            let clamped = v.signum() * limit;
            let what = format!("`weight {v}` in {kw} for {name}");
            let says = "weight cannot be +/-254. Setting to +/-253";
            self.keepalived_ignores(&w.pos, &what, says, &format!("uses {clamped}"));
            return Ok(i32::try_from(clamped).ok());
        }
        Ok(i32::try_from(v).ok())
    }

    /// Adds the lines of a track block to `list`; keepalived ignores a name the list already
    /// has ("duplicate track_script ... - ignoring"), whichever block it is in.
    pub(super) fn add_tracks(
        &mut self,
        list: &mut Vec<TrackRef>,
        refs: Vec<TrackRef>,
        kind: TrackKind,
        owner: &str,
    ) {
        let kw = kind.keyword();
        for r in refs {
            if let Some(first) = list.iter().find(|t| t.name == r.name) {
                let what = format!(
                    "{kw} {} is listed again in {owner} (first at {})",
                    r.name, first.location
                );
                let says = format!("duplicate {kw} - ignoring");
                self.keepalived_ignores(&r.location, &what, &says, "keeps the first");
            } else {
                list.push(r);
            }
        }
    }

    /// A second `group` block in a sync group: keepalived keeps the first ("Group list already
    /// specified") and skips the block, but its `}` then closes the sync group: lines after it
    /// are read outside the sync group, which this daemon cannot reproduce (an error).
    pub(super) fn second_group(&mut self, line: &Stmt, group: &str, last: bool) {
        let what = format!("a second `group` block in vrrp_sync_group {group}");
        let says = "Group list already specified for sync group";
        if last {
            let result = "keeps the first one";
            self.keepalived_ignores(line.pos(), &what, says, result);
        } else {
            self.diags.error(
                line.pos(),
                format!(
                    "{what}: keepalived keeps the first (\"{says}\"), but skipping this block \
                     ends the sync group for it, so the lines after it are read outside \
                     vrrp_sync_group {group}; merge the two blocks"
                ),
            );
        }
    }

    /// Digits followed by other text, where `keepalived -t` and a running keepalived differ.
    pub(super) fn unclear_number(&mut self, w: &Word, kw: &str, v: i64) {
        self.diags.error(
            &w.pos,
            format!(
                "`{kw} {}` is not a plain number: `keepalived -t` ignores this line, but a \
                 running keepalived reads it as {v}; write the number you mean",
                w.text
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_keepalived_reads_them() {
        let u = |t: &str| c_number(t, 0, 255, false, true);
        assert_eq!(u("7"), CNumber::Valid(7));
        assert_eq!(u("+7"), CNumber::Valid(7));
        assert_eq!(u("300"), CNumber::Invalid);
        assert_eq!(u("-5"), CNumber::Invalid);
        // strtoul reads no digits as 0: in range, a running keepalived uses it.
        assert_eq!(u("abc"), CNumber::Unclear(0));
        assert_eq!(c_number("abc", 1, 255, false, true), CNumber::Invalid);
        assert_eq!(u("99999999999999999999999"), CNumber::Invalid);
        assert_eq!(u("5s"), CNumber::Unclear(5));
        assert_eq!(u("2.5"), CNumber::Unclear(2));
        assert_eq!(u("300s"), CNumber::Invalid);
        // Without ignore_error, text after the number is invalid in both modes.
        assert_eq!(c_number("5s", 0, 255, false, false), CNumber::Invalid);
        let s = |t: &str| c_number(t, -254, 254, true, true);
        assert_eq!(s("-254"), CNumber::Valid(-254));
        assert_eq!(s("-300"), CNumber::Invalid);
        assert_eq!(strtol("high"), Some(0));
        assert_eq!(strtol("-20x"), Some(-20));
        assert_eq!(strtol("99999999999999999999"), None);
    }
}
