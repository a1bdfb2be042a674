//! Places where keepalived 2.2.7 would read the statement tree differently from the builder.
//!
//! keepalived warns "Unknown keyword" and skips the line of a keyword it does not know in a
//! block, but it does not skip that keyword's `{ ... }`: it reports "Unexpected '{' -
//! ignoring", reads the lines inside as if they were written in the enclosing block, and the
//! `}` of the unknown block closes the *enclosing* block. When nothing follows the unknown
//! block, the result is the same as skipping it (the enclosing block's own `}` becomes a
//! stray "Unknown keyword '}'" at the top level); when statements follow it, keepalived
//! reads them outside their block, which this daemon cannot reproduce: that is an error.
use std::time::Duration;

use super::{
    diagnostics::{Category, Diags},
    keywords::{self, Context, Support},
    parser::{Block, Stmt, Word},
};

/// Reports unknown blocks followed by statements (see the module comment).
pub(crate) fn check_blocks(stmts: &[Stmt], diags: &mut Diags) {
    for stmt in stmts {
        let Some(block) = &stmt.block else { continue };
        let ctx = match stmt.keyword().text.as_str() {
            "global_defs" => Context::GlobalDefs,
            "vrrp_instance" => Context::Instance,
            "vrrp_script" => Context::Script,
            "vrrp_sync_group" => Context::SyncGroup,
            "vrrp_track_file" | "track_file" => Context::TrackFile,
            _ => continue,
        };
        let label = describe(stmt);
        check_block(ctx, &label, block, diags);
        if ctx == Context::Instance {
            for inner in &block.stmts {
                if let (Some(b), "authentication") = (&inner.block, inner.keyword().text.as_str()) {
                    check_block(Context::Authentication, "authentication", b, diags);
                }
            }
        }
    }
}

fn check_block(ctx: Context, label: &str, block: &Block, diags: &mut Diags) {
    let Some(last) = block.stmts.len().checked_sub(1) else {
        return;
    };
    for (i, stmt) in block.stmts.iter().enumerate() {
        let name = stmt.keyword().text.as_str();
        if stmt.block.is_none() || i == last || keywords::lookup(ctx, name).is_some() {
            continue;
        }
        // A top-level block inside another is reported by the builder (a missing `}`).
        if keywords::lookup(Context::Root, name) == Some(Support::Supported) {
            continue;
        }
        let next = block.stmts[i + 1].pos();
        diags.error(
            stmt.pos(),
            format!(
                "keepalived does not know `{name}` in {label}: it skips this line but not its \
                 `{{`, so the `}}` of this block closes `{label}` for keepalived, and the lines \
                 from {next} on are read outside `{label}` (keepalived ignores or misreads them); \
                 move this block to the end of `{label}`, or remove it"
            ),
        );
    }
}

fn describe(stmt: &Stmt) -> String {
    stmt.words
        .iter()
        .take(2)
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A keyword keepalived does not know in `ctx` (the builder found no entry for it).
///
/// keepalived warns "Unknown keyword" and runs without the line, and so does this daemon,
/// with a warning naming the place. Two cases stay errors, because the line was surely meant
/// to change what VRRP does and keepalived silently runs without it: a misspelling of a VRRP
/// keyword of this block ("did you mean"), and a VRRP keyword written in the wrong block.
pub(crate) fn unknown_keyword(ctx: Context, stmt: &Stmt, diags: &mut Diags) {
    let kw = stmt.keyword();
    let name = kw.text.as_str();
    let place = ctx.where_();
    if name.starts_with('$') {
        diags.warn_as(
            Category::KeepalivedIgnores,
            &kw.pos,
            format!(
                "`{name}` is not a defined parameter (a definition is `$NAME=VALUE`, with no \
                 space before `=`): keepalived reads it as an unknown keyword and ignores the \
                 line, and so does this daemon"
            ),
        );
        return;
    }
    let elsewhere: Vec<&str> = Context::ALL
        .iter()
        .filter(|c| {
            **c != ctx
                && matches!(
                    keywords::lookup(**c, name),
                    Some(Support::Supported | Support::Unsupported)
                )
        })
        .map(|c| c.label())
        .collect();
    let candidates = || ctx.table().iter().map(|(n, _)| *n);
    if !elsewhere.is_empty() {
        diags.error(
            &kw.pos,
            format!(
                "unknown keyword `{name}` {place}: it belongs in {}{}",
                elsewhere.join(" or "),
                keywords::did_you_mean(name, candidates())
            ),
        );
        return;
    }
    let suggestion = keywords::suggest(name, candidates());
    let vrrp_suggestion = suggestion.filter(|s| {
        matches!(
            keywords::lookup(ctx, s),
            Some(Support::Supported | Support::Unsupported)
        )
    });
    if let Some(s) = vrrp_suggestion {
        diags.error(
            &kw.pos,
            format!("unknown keyword `{name}` {place}; did you mean `{s}`?"),
        );
        return;
    }
    let hint = suggestion
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    let block = if stmt.block.is_some() {
        " and its block"
    } else {
        ""
    };
    diags.warn_as(
        Category::KeepalivedIgnores,
        &kw.pos,
        format!(
            "unknown keyword `{name}` {place}{hint}: keepalived reports \"Unknown keyword\" and \
             ignores it, and so does this daemon (the line{block} is skipped)"
        ),
    );
}

/// `ADDRESS/PREFIX` where keepalived wants an address (`unicast_src_ip`, `mcast_src_ip`,
/// `unicast_peer`): keepalived drops the prefix without a word; this daemon does the same and
/// says so.
pub(crate) fn drop_prefix(w: &Word, kw: &str, diags: &mut Diags) -> Word {
    match w.text.split_once('/') {
        Some((addr, prefix)) if !addr.is_empty() && addr.parse::<std::net::IpAddr>().is_ok() => {
            diags.warn_as(
                Category::KeepalivedIgnores,
                &w.pos,
                format!(
                    "`{kw}` takes an address without a prefix length: keepalived drops `/{prefix}` \
                     and uses {addr}, and so does this daemon; write `{addr}`"
                ),
            );
            Word {
                text: addr.to_owned(),
                ..w.clone()
            }
        }
        _ => w.clone(),
    }
}

/// A `<TIMER>` value read the way keepalived 2.2.7 reads it (`read_decimal_unsigned_long_func`
/// with 6 decimal places, errors ignored): more than 6 decimals are rounded; text after the
/// number ends it (the digits read so far count, in microseconds once the decimal point has
/// been removed); a negative or out-of-range value becomes 0. Each of these is a warning
/// saying what keepalived does; the value is the one keepalived uses.
pub(crate) fn keepalived_timer(w: &Word, kw: &str, max: Duration, diags: &mut Diags) -> Duration {
    const SHIFT: usize = 6;
    let text = w.text.as_str();
    let mut warn = |what: String| {
        diags.warn_as(
            Category::KeepalivedIgnores,
            &w.pos,
            format!("`{kw} {text}`: {what}; this daemon does the same"),
        );
    };
    if text.starts_with('-') {
        warn("keepalived refuses a negative value and uses 0".to_owned());
        return Duration::ZERO;
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut round_up = false;
    let mut frac = frac.to_owned();
    if frac.chars().count() > SHIFT {
        round_up = frac.chars().nth(SHIFT).is_some_and(|c| c >= '5');
        frac = frac.chars().take(SHIFT).collect();
    }
    let mut digits = format!("{whole}{frac}");
    digits.extend(std::iter::repeat_n(
        '0',
        SHIFT.saturating_sub(frac.chars().count()),
    ));
    let leading: String = digits.chars().take_while(char::is_ascii_digit).collect();
    let valid = leading.len() == digits.len();
    let Ok(mut micros) =
        leading
            .parse::<u64>()
            .or_else(|e| if leading.is_empty() { Ok(0) } else { Err(e) })
    else {
        warn("keepalived finds the number too large and uses 0".to_owned());
        return Duration::ZERO;
    };
    if round_up {
        micros += 1;
    }
    let value = Duration::from_micros(micros);
    if value > max {
        warn(format!(
            "keepalived accepts at most {} s and uses 0 instead",
            max.as_secs()
        ));
        return Duration::ZERO;
    }
    if !valid {
        warn(format!(
            "keepalived reports an invalid number and reads it as {} s (the digits before the first \
             other character, in microseconds once the decimal point is removed)",
            value.as_secs_f64()
        ));
    } else if round_up || text.split_once('.').is_some_and(|(_, f)| f.len() > SHIFT) {
        warn(format!(
            "keepalived keeps 6 decimal places and rounds this to {} s",
            value.as_secs_f64()
        ));
    }
    value
}
