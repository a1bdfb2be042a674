//! Statement tree -> drafts of the typed configuration.
//!
//! This pass knows the keywords: it classifies every statement with [`keywords`], checks
//! each value where it is written (numbers, ranges, addresses), and fills drafts that still
//! carry positions. Defaults, cross-references and host checks are [`super::validate`]'s job.
use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    time::Duration,
};

use super::{
    diagnostics::{Category, Diags, Pos},
    keywords::{self, did_you_mean, Context, Support},
    model::{
        Auth, Family, InitialState, Notify, NotifyCommand, NotifyFifo, SmtpSettings, TrackFileDef,
        TrackFileInit, TrackProcessDef, TrackRef, TtlRange, Version, VirtualAddress, VirtualRoute,
        VirtualRule, VrrpScript,
    },
    parser::{Block, Stmt, Word},
    values::{parse_bool, parse_int, parse_ip, parse_seconds},
};

// `vrrp_track_process` blocks: a child module, so it uses the builder's helpers.
#[path = "track_process.rs"]
pub(super) mod track_process;
// `notification_email`, `smtp_server`, ... of global_defs.
#[path = "smtp.rs"]
mod smtp;
// `virtual_routes` / `virtual_rules` lines.
mod extras;
mod vmac;
#[path = "vroutes.rs"]
mod vroutes;
pub(crate) use extras::{GlobalExtra, InstanceExtra};
// `accept`, `no_accept`, `strict_mode`.
pub(crate) mod accept;
// Invalid values keepalived reports and runs without.
mod ignores;
// `vrrp_strict` and what strict mode resets; `lower_prio_no_advert`, `higher_prio_send_advert`.
pub(crate) mod strict;

/// Linux's limit on interface names (IFNAMSIZ - 1); also the limit on address labels.
const IFNAME_MAX: usize = 15;
/// keepalived's limit on preempt_delay.
const PREEMPT_DELAY_MAX: Duration = Duration::from_secs(1000);
/// keepalived 2.2.7's limit on whole-second timers it keeps in microseconds in an unsigned
/// int (`UINT_MAX / TIMER_HZ`): garp_master_delay, garp_lower_prio_delay, and vrrp_script
/// interval and timeout.
pub(crate) const WHOLE_SECONDS_MAX: u32 = 4294;
/// keepalived 2.2.7's limit on vrrp_garp_interval / vrrp_gna_interval: `UINT_MAX`
/// microseconds.
pub(crate) const GARP_INTERVAL_MAX: Duration = Duration::from_micros(4_294_967_295);
/// keepalived's `INT_MAX` limit on counts (rise, fall, garp_lower_prio_repeat).
const COUNT_MAX: u32 = i32::MAX as u32;
/// Gratuitous ARP rounds per burst (garp_master_repeat, garp_master_refresh_repeat,
/// garp_lower_prio_repeat) above this are lowered to it. keepalived accepts up to 2^32 - 1,
/// but a burst goes out at once (unless vrrp_garp_interval spaces it), and billions of
/// rounds would keep a Master from advertising for hours.
pub(crate) const GARP_REPEAT_MAX: u32 = 100;
/// What keepalived does with a `virtual_ipaddress` line it cannot use.
const RUNS_WITHOUT_IT: &str = "skips this address (the instance runs with its other ones)";

/// A value and where it was set.
pub(crate) type Slot<T> = Option<(T, Pos)>;

/// Everything read from the file, before defaults and cross-checks.
#[derive(Debug, Default)]
pub(crate) struct Drafts {
    pub global: GlobalDraft,
    pub instances: Vec<InstanceDraft>,
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFileDef>,
    pub sync_groups: Vec<SyncGroupDraft>,
    pub track_processes: Vec<TrackProcessDef>,
    /// keepalived numbers `virtual_rules` without a priority from 16384 down, per family
    /// (how many were numbered so far: IPv4, IPv6).
    pub unnumbered_rules: (u32, u32),
    pub host_checks: Vec<HostCheck>,
    /// Position of the first statement, for whole-file messages.
    pub first: Option<Pos>,
}

/// Things to look up on this host once the configuration is read.
#[derive(Debug, Clone)]
pub(crate) enum HostCheck {
    /// An interface named in the configuration; `used_by` says where, for the message.
    Interface {
        name: String,
        pos: Pos,
        used_by: String,
        must_not_be_loopback: bool,
    },
    /// A command whose first word, if an absolute path, should be an executable file.
    Program {
        command: String,
        pos: Pos,
        used_by: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct GarpDraft {
    pub master_delay: Slot<Duration>,
    pub master_repeat: Slot<u32>,
    pub master_refresh: Slot<Option<Duration>>,
    pub master_refresh_repeat: Slot<u32>,
    pub lower_prio_delay: Slot<Duration>,
    pub lower_prio_repeat: Slot<u32>,
    pub interval: Slot<Duration>,
    pub gna_interval: Slot<Duration>,
    pub min_garp: Slot<bool>,
}

#[derive(Debug, Default)]
pub(crate) struct GlobalDraft {
    pub router_id: Slot<String>,
    pub vrrp_version: Slot<Version>,
    pub garp: GarpDraft,
    pub enable_script_security: bool,
    pub script_user: Slot<(String, Option<String>)>,
    pub notify_fifo: Slot<NotifyFifo>,
    pub vrrp_notify_fifo: Slot<NotifyFifo>,
    pub v3_checksum_as_v2: Slot<bool>,
    pub smtp: SmtpSettings,
    /// Process tuning, start-up delay (see `extras`).
    pub extra: GlobalExtra,
    /// `vrrp_strict`, `vrrp_lower_prio_no_advert`, `vrrp_higher_prio_send_advert` (see
    /// `strict`).
    pub strict: strict::StrictGlobal,
}

#[derive(Debug)]
pub(crate) struct AuthDraft {
    pub pos: Pos,
    pub auth: Option<Auth>,
}

#[derive(Debug)]
pub(crate) struct InstanceDraft {
    pub name: String,
    pub pos: Pos,
    pub state: Slot<InitialState>,
    pub interface: Slot<String>,
    pub vrid: Slot<u8>,
    pub priority: Slot<u8>,
    /// As written; checked and rounded once the version is known.
    pub advert_int: Slot<Duration>,
    pub version: Slot<Version>,
    /// `preempt` (true) or `nopreempt` (false), the last one written.
    pub preempt: Slot<bool>,
    pub preempt_delay: Slot<Duration>,
    pub auth: Option<AuthDraft>,
    pub unicast_src_ip: Slot<IpAddr>,
    /// `unicast_ttl`: IP TTL of sent unicast adverts.
    pub unicast_ttl: Slot<u8>,
    pub mcast_src_ip: Slot<IpAddr>,
    pub unicast_peers: Vec<(IpAddr, Pos)>,
    /// keepalived's per-peer `min_ttl` / `max_ttl`, for peers that set either.
    pub unicast_peer_ttl: Vec<(IpAddr, TtlRange)>,
    pub vips: Vec<VirtualAddress>,
    pub vips_excluded: Vec<VirtualAddress>,
    /// Lines in `virtual_ipaddress` blocks, valid or not (to tell "none" from "all bad").
    pub vip_lines: usize,
    pub garp: GarpDraft,
    pub track_scripts: Vec<TrackRef>,
    pub track_interfaces: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
    pub virtual_routes: Vec<VirtualRoute>,
    pub virtual_rules: Vec<VirtualRule>,
    pub smtp_alert: Option<bool>,
    pub notify: Notify,
    pub v3_checksum_as_v2: Slot<bool>,
    /// dont_track_primary, promote_secondaries, unicast_fault_no_peer (see `extras`).
    pub extra: InstanceExtra,
    /// accept, no_accept, strict_mode (see `accept`).
    pub accept: accept::AcceptDraft,
    /// lower_prio_no_advert, higher_prio_send_advert (see `strict`).
    pub answers: strict::AnswerDraft,
    /// Supported keywords written in the block, valid or not (so that an invalid value is
    /// not also reported as a missing one).
    pub seen: HashSet<String>,
}

impl InstanceDraft {
    /// The family keepalived has deduced from the statements read so far (the first VIP,
    /// source, peer or multicast destination fixes it), and where.
    fn family_so_far(&self) -> Option<(Family, String)> {
        let vip = self
            .vips
            .first()
            .map(|v| (v.family(), v.location.to_string()));
        let slots = [
            &self.unicast_src_ip,
            &self.mcast_src_ip,
            &self.extra.mcast_dst_ip,
        ];
        let addr = slots
            .into_iter()
            .flatten()
            .chain(self.unicast_peers.first())
            .map(|(ip, at)| (Family::of(ip), at.to_string()));
        vip.into_iter().chain(addr).next()
    }
}

#[derive(Debug)]
pub(crate) struct SyncGroupDraft {
    pub name: String,
    pub pos: Pos,
    pub members: Vec<(String, Pos)>,
    pub has_group: bool,
    pub track_scripts: Vec<TrackRef>,
    pub track_interfaces: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
    pub smtp_alert: Option<bool>,
    /// `notify_priority_changes`: the members' default (keepalived: the instance's own
    /// setting, else its sync group's, else the global one).
    pub notify_priority_changes: Slot<bool>,
    pub notify: Notify,
}

/// The block a statement is in, for messages.
struct Parent {
    ctx: Context,
    /// e.g. `vrrp_instance VI_1`.
    label: String,
    open: Pos,
}

#[derive(Clone, Copy)]
enum TrackKind {
    Script,
    Interface,
    File,
    Process,
}

impl TrackKind {
    fn keyword(self) -> &'static str {
        match self {
            TrackKind::Script => "track_script",
            TrackKind::Interface => "track_interface",
            TrackKind::File => "track_file",
            TrackKind::Process => "track_process",
        }
    }

    /// keepalived.conf(5): scripts and interfaces -253..253, files -254..254; processes
    /// -254..254 (alloc_track_process).
    fn weight_limit(self) -> i64 {
        match self {
            TrackKind::Script | TrackKind::Interface => 253,
            TrackKind::File | TrackKind::Process => 254,
        }
    }
}

/// Reads the statement tree into drafts, reporting what is wrong on the way.
pub(crate) fn build(stmts: &[Stmt], diags: &mut Diags) -> Drafts {
    let mut b = Builder {
        diags,
        out: Drafts::default(),
    };
    b.out.first = stmts.first().map(|s| s.pos().clone());
    for stmt in stmts {
        b.root(stmt);
    }
    b.out
}

struct Builder<'d> {
    diags: &'d mut Diags,
    out: Drafts,
}

impl Builder<'_> {
    // ----- classification -------------------------------------------------------------

    /// Returns the keyword if it is supported in `ctx`; otherwise reports it (unsupported,
    /// skipped, ignored or unknown) and returns `None`.
    fn classify<'s>(
        &mut self,
        ctx: Context,
        stmt: &'s Stmt,
        parent: Option<&Parent>,
    ) -> Option<&'s str> {
        let kw = stmt.keyword();
        let name = kw.text.as_str();
        match keywords::lookup(ctx, name) {
            Some(Support::Supported) => return Some(name),
            Some(Support::Unsupported) => {
                let place = parent
                    .map(|p| format!(" from {}", p.label))
                    .unwrap_or_default();
                self.diags.error(
                    &kw.pos,
                    format!(
                        "`{name}` is a keepalived keyword this project does not support (yet): \
                         remove it{place}, or keep this configuration on keepalived"
                    ),
                );
            }
            // Every occurrence, so that `check --compat` lists every place.
            Some(Support::Skipped(subsystem)) => self.diags.warn_as(
                Category::Differs,
                &kw.pos,
                format!(
                    "`{name}` belongs to {subsystem}, which this VRRP daemon does not include: \
                     it is skipped"
                ),
            ),
            Some(Support::Ignored(why)) => self.diags.warn_as(
                Category::KeepalivedIgnores,
                &kw.pos,
                format!("`{name}` is accepted but has no effect: {why}"),
            ),
            None => self.unknown(ctx, stmt, parent),
        }
        None
    }

    fn unknown(&mut self, ctx: Context, stmt: &Stmt, parent: Option<&Parent>) {
        let kw = stmt.keyword();
        let name = kw.text.as_str();
        if let Some(parent) = parent {
            if stmt.block.is_some()
                && keywords::lookup(Context::Root, name) == Some(Support::Supported)
            {
                self.diags.error(
                    &kw.pos,
                    format!(
                        "`{name}` starts a top-level block, but it is inside `{}` (opened at {}): \
                         is a `}}` missing before this line?",
                        parent.label, parent.open
                    ),
                );
                // Read it as the top-level block it probably is, to report more in one run.
                self.root(stmt);
                return;
            }
        }
        super::compat::unknown_keyword(ctx, stmt, self.diags);
    }

    /// A keyword the tables call supported but no handler took: a bug, reported, not a panic.
    fn internal(&mut self, stmt: &Stmt) {
        self.diags.error(
            stmt.pos(),
            format!(
                "internal error: `{}` is not handled; please report this",
                stmt.keyword().text
            ),
        );
    }

    // ----- statement shapes ----------------------------------------------------------

    fn reject_block(&mut self, stmt: &Stmt) {
        if let Some(block) = &stmt.block {
            self.diags.error(
                &block.open,
                format!(
                    "`{}` does not take a `{{ ... }}` block; remove the block",
                    stmt.keyword().text
                ),
            );
        }
    }

    /// The one value of `stmt`; `expected` describes it for messages.
    fn single<'s>(&mut self, stmt: &'s Stmt, expected: &str) -> Option<&'s Word> {
        self.reject_block(stmt);
        let kw = &stmt.keyword().text;
        match stmt.args() {
            [] => {
                self.diags.error(
                    stmt.pos(),
                    format!("`{kw}` needs a value: expected {expected}"),
                );
                None
            }
            [one] => Some(one),
            [one, extra, ..] => {
                self.diags.error(
                    &extra.pos,
                    format!(
                        "unexpected `{}` after `{kw} {}`: `{kw}` takes one value ({expected})",
                        extra.text, one.text
                    ),
                );
                Some(one)
            }
        }
    }

    /// Between `min` and `max` values; reports the count problem and returns the values.
    fn values<'s>(
        &mut self,
        stmt: &'s Stmt,
        min: usize,
        max: usize,
        usage: &str,
    ) -> Option<&'s [Word]> {
        self.reject_block(stmt);
        let args = stmt.args();
        if args.len() < min {
            self.diags.error(
                stmt.pos(),
                format!("`{}` needs a value: write `{usage}`", stmt.keyword().text),
            );
            return None;
        }
        if args.len() > max {
            self.diags.error(
                &args[max].pos,
                format!(
                    "unexpected `{}`: `{}` takes at most {max} value(s): `{usage}` (quote values \
                     that contain spaces)",
                    args[max].text,
                    stmt.keyword().text
                ),
            );
            return None;
        }
        Some(args)
    }

    /// A keyword that takes no value.
    fn flag(&mut self, stmt: &Stmt) {
        self.reject_block(stmt);
        if let Some(extra) = stmt.args().first() {
            self.diags.error(
                &extra.pos,
                format!(
                    "`{}` takes no value; remove `{}`",
                    stmt.keyword().text,
                    extra.text
                ),
            );
        }
    }

    /// `KEYWORD [<BOOL>]`: true when the value is omitted.
    fn opt_bool(&mut self, stmt: &Stmt) -> Option<bool> {
        let args = self.values(stmt, 0, 1, &format!("{} [on|off]", stmt.keyword().text))?;
        match args.first() {
            None => Some(true),
            Some(w) => {
                let value = parse_bool(&w.text);
                if value.is_none() {
                    // keepalived: "Invalid value for ... specified", and the line is ignored.
                    self.diags.warn_as(
                        Category::KeepalivedIgnores,
                        &w.pos,
                        format!(
                            "`{} {}` is not on, off, true, false, yes or no (in lower case): \
                             keepalived reports it as invalid and ignores the line, and so does \
                             this daemon",
                            stmt.keyword().text,
                            w.text
                        ),
                    );
                }
                value
            }
        }
    }

    /// A `KEYWORD { ... }` statement without values.
    fn block_of<'s>(&mut self, stmt: &'s Stmt) -> Option<&'s Block> {
        let kw = &stmt.keyword().text;
        if let Some(extra) = stmt.args().first() {
            self.diags.error(
                &extra.pos,
                format!(
                    "unexpected `{}`: `{kw}` takes no value, only a `{{ ... }}` block",
                    extra.text
                ),
            );
        }
        if stmt.block.is_none() {
            self.diags.error(
                stmt.pos(),
                format!("`{kw}` needs a block: `{kw} {{ ... }}`"),
            );
        }
        stmt.block.as_ref()
    }

    /// A `KEYWORD NAME { ... }` statement.
    fn named_block<'s>(&mut self, stmt: &'s Stmt) -> Option<(&'s Word, &'s Block)> {
        let kw = &stmt.keyword().text;
        let name = match stmt.args() {
            [] => {
                self.diags.error(
                    stmt.pos(),
                    format!("`{kw}` needs a name: `{kw} NAME {{ ... }}`"),
                );
                None
            }
            [name] => Some(name),
            [name, extra, ..] => {
                self.diags.error(
                    &extra.pos,
                    format!(
                        "unexpected `{}` after `{kw} {}`: the name is one word",
                        extra.text, name.text
                    ),
                );
                Some(name)
            }
        };
        match (&stmt.block, name) {
            (Some(block), Some(name)) => Some((name, block)),
            (None, name) => {
                let shown = name.map(|n| format!(" {}", n.text)).unwrap_or_default();
                self.diags.error(
                    stmt.pos(),
                    format!("`{kw}{shown}` needs a `{{ ... }}` block"),
                );
                None
            }
            (Some(_), None) => None,
        }
    }

    // ----- values --------------------------------------------------------------------

    /// An integer in `min..=max`; `expected` describes the range for messages.
    fn int_in(&mut self, w: &Word, kw: &str, min: i64, max: i64, expected: &str) -> Option<i64> {
        match parse_int(&w.text) {
            None => {
                self.diags.error(
                    &w.pos,
                    format!(
                        "expected a number for `{kw}` ({expected}), found `{}`",
                        w.text
                    ),
                );
                None
            }
            Some(v) if v < min || v > max => {
                self.diags.error(
                    &w.pos,
                    format!("`{kw}` {v} is out of range: expected {expected}"),
                );
                None
            }
            Some(v) => Some(v),
        }
    }

    fn u8_in(&mut self, w: &Word, kw: &str, min: u8, max: u8, expected: &str) -> Option<u8> {
        self.int_in(w, kw, min.into(), max.into(), expected)
            .and_then(|v| u8::try_from(v).ok())
    }

    fn u32_in(&mut self, w: &Word, kw: &str, min: u32, max: u32, expected: &str) -> Option<u32> {
        self.int_in(w, kw, min.into(), max.into(), expected)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// A `<TIMER>` value (seconds, fractions allowed).
    fn seconds(&mut self, w: &Word, kw: &str, expected: &str) -> Option<Duration> {
        let value = parse_seconds(&w.text);
        if value.is_none() {
            self.diags.error(
                &w.pos,
                format!(
                    "expected a number of seconds for `{kw}` ({expected}), found `{}`",
                    w.text
                ),
            );
        }
        value
    }

    /// A `<TIMER>` value no larger than `max`; `expected` describes the range.
    fn seconds_upto(
        &mut self,
        w: &Word,
        kw: &str,
        max: Duration,
        expected: &str,
    ) -> Option<Duration> {
        let v = self.seconds(w, kw, expected)?;
        if v > max {
            self.diags.error(
                &w.pos,
                format!("`{kw}` {} is out of range: expected {expected}", w.text),
            );
            return None;
        }
        Some(v)
    }

    fn ip(&mut self, w: &Word, kw: &str) -> Option<IpAddr> {
        let value = parse_ip(&w.text);
        if value.is_none() {
            let hint = if w.text.contains('/') {
                " (without a /prefix)"
            } else {
                ""
            };
            self.diags.error(
                &w.pos,
                format!(
                    "invalid address `{}` for `{kw}`: expected an IPv4 or IPv6 address{hint}, \
                     such as 192.0.2.10 or 2001:db8::10",
                    w.text
                ),
            );
        }
        value
    }

    /// Checks the shape of an interface name (not that it exists).
    fn ifname(&mut self, w: &Word, what: &str) -> bool {
        let name = &w.text;
        let ok = !name.is_empty()
            && name.len() <= IFNAME_MAX
            && name != "."
            && name != ".."
            && !name
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace());
        if !ok {
            self.diags.error(
                &w.pos,
                format!(
                    "`{name}` is not a valid interface name for {what}: Linux interface names \
                     have 1 to {IFNAME_MAX} characters and no `/`, `:` or spaces"
                ),
            );
        }
        ok
    }

    fn host_interface(&mut self, w: &Word, used_by: String, must_not_be_loopback: bool) {
        self.out.host_checks.push(HostCheck::Interface {
            name: w.text.clone(),
            pos: w.pos.clone(),
            used_by,
            must_not_be_loopback,
        });
    }

    /// Stores `value`, warning when the keyword was already given in this block.
    fn put<T>(&mut self, slot: &mut Slot<T>, value: T, at: &Pos, kw: &str) {
        if let Some((_, first)) = slot {
            self.diags.warn(
                at,
                format!(
                    "`{kw}` is given again here (first at {first}); the last value is used, as in \
                     keepalived"
                ),
            );
        }
        *slot = Some((value, at.clone()));
    }

    // ----- top level -----------------------------------------------------------------

    fn root(&mut self, stmt: &Stmt) {
        let Some(kw) = self.classify(Context::Root, stmt, None) else {
            return;
        };
        match kw {
            "global_defs" => {
                if let Some(block) = self.block_of(stmt) {
                    let parent = Parent {
                        ctx: Context::GlobalDefs,
                        label: kw.to_owned(),
                        open: block.open.clone(),
                    };
                    self.global_defs(block, &parent);
                }
            }
            "vrrp_instance" => {
                if let Some((name, block)) = self.named_block(stmt) {
                    self.instance(stmt, name, block);
                }
            }
            "vrrp_script" => {
                if let Some((name, block)) = self.named_block(stmt) {
                    self.script(stmt, name, block);
                }
            }
            "vrrp_track_file" | "track_file" => {
                if let Some((name, block)) = self.named_block(stmt) {
                    self.track_file_def(stmt, name, block);
                }
            }
            "vrrp_sync_group" => {
                if let Some((name, block)) = self.named_block(stmt) {
                    self.sync_group(stmt, name, block);
                }
            }
            "vrrp_track_process" => {
                if let Some((name, block)) = self.named_block(stmt) {
                    self.track_process_def(stmt, name, block);
                }
            }
            _ => self.internal(stmt),
        }
    }

    // ----- global_defs ---------------------------------------------------------------

    fn global_defs(&mut self, block: &Block, parent: &Parent) {
        let mut g = std::mem::take(&mut self.out.global);
        for stmt in &block.stmts {
            let Some(kw) = self.classify(parent.ctx, stmt, Some(parent)) else {
                continue;
            };
            let at = stmt.pos();
            match kw {
                "router_id" => {
                    if let Some(w) = self.single(stmt, "a name for this host") {
                        self.put(&mut g.router_id, w.text.clone(), at, kw);
                    }
                }
                "vrrp_version" => {
                    if let Some(v) = self
                        .single(stmt, "2 or 3")
                        .and_then(|w| self.version(w, kw))
                    {
                        self.put(&mut g.vrrp_version, v, at, kw);
                    }
                }
                "enable_script_security" => {
                    self.flag(stmt);
                    g.enable_script_security = true;
                }
                "script_user" => {
                    if let Some(args) = self.values(stmt, 1, 2, "script_user USER [GROUP]") {
                        let user = (args[0].text.clone(), args.get(1).map(|w| w.text.clone()));
                        self.put(&mut g.script_user, user, at, kw);
                    }
                }
                "notify_fifo" | "vrrp_notify_fifo" => {
                    if let Some(fifo) = self.fifo(stmt) {
                        let slot = if kw == "notify_fifo" {
                            &mut g.notify_fifo
                        } else {
                            &mut g.vrrp_notify_fifo
                        };
                        if let Some((_, first)) = slot {
                            let what = format!("`{kw}` is given again (first at {first})");
                            let says = "notify_fifo already specified - ignoring";
                            self.keepalived_ignores(at, &what, says, "keeps the first one");
                        } else {
                            *slot = Some((fifo, at.clone()));
                        }
                    }
                }
                "v3_checksum_as_v2" => {
                    if let Some(v) = self.opt_bool(stmt) {
                        self.put(&mut g.v3_checksum_as_v2, v, at, kw);
                    }
                }
                "vrrp_check_unicast_src" => self.flag(stmt),
                "notification_email"
                | "notification_email_from"
                | "smtp_server"
                | "smtp_helo_name"
                | "smtp_connect_timeout"
                | "smtp_alert"
                | "smtp_alert_vrrp"
                | "no_email_faults" => self.smtp_global(kw, stmt, &mut g.smtp),
                garp if garp.starts_with("vrrp_g") || garp == "vrrp_min_garp" => {
                    let key = &garp["vrrp_".len()..];
                    if !self.garp(key, stmt, &mut g.garp)
                        && !self.global_extra(garp, stmt, &mut g.extra)
                    {
                        self.internal(stmt);
                    }
                }
                other => {
                    if !self.global_extra(other, stmt, &mut g.extra)
                        && !self.strict_global(other, stmt, &mut g.strict)
                    {
                        self.internal(stmt);
                    }
                }
            }
        }
        self.out.global = g;
    }

    /// keepalived ignores a version that is not 2 or 3 ("Version must be either 2 or 3").
    fn version(&mut self, w: &Word, kw: &str) -> Option<Version> {
        let says = "Version must be either 2 or 3";
        match self.c_int(w, kw, (2, 3), true, true, says, "ignores the line")? {
            2 => Some(Version::V2),
            _ => Some(Version::V3),
        }
    }

    fn fifo(&mut self, stmt: &Stmt) -> Option<NotifyFifo> {
        let usage = format!("{} /path/to/fifo [USER [GROUP]]", stmt.keyword().text);
        let args = self.values(stmt, 1, 3, &usage)?;
        if args[0].text.is_empty() {
            self.diags.error(
                &args[0].pos,
                format!("the FIFO path is empty: write `{usage}`"),
            );
            return None;
        }
        Some(NotifyFifo {
            path: PathBuf::from(&args[0].text),
            user: args.get(1).map(|w| w.text.clone()),
            group: args.get(2).map(|w| w.text.clone()),
            location: args[0].pos.location(),
            script: None,
        })
    }

    /// The gratuitous ARP keywords, shared by global_defs (`vrrp_` prefix removed) and
    /// vrrp_instance. Returns false if `key` is not one of them.
    fn garp(&mut self, key: &str, stmt: &Stmt, d: &mut GarpDraft) -> bool {
        let kw = &stmt.keyword().text;
        let at = stmt.pos();
        match key {
            "garp_master_delay" | "garp_lower_prio_delay" => {
                let says = format!("{kw} invalid - ignoring");
                if let Some(v) = self.single(stmt, "whole seconds").and_then(|w| {
                    let range = (0, WHOLE_SECONDS_MAX.into());
                    let v = self.c_int(w, kw, range, false, true, &says, "ignores the line")?;
                    Some(Duration::from_secs(v.unsigned_abs()))
                }) {
                    let slot = if key == "garp_master_delay" {
                        &mut d.master_delay
                    } else {
                        &mut d.lower_prio_delay
                    };
                    self.put(slot, v, at, kw);
                }
            }
            "garp_master_refresh" => {
                let says = format!("Invalid {kw} - ignoring");
                let result = "sets it to 0 (no refresh)";
                if let Some(v) = self.single(stmt, "whole seconds, 0 = off").and_then(|w| {
                    let range = (0, u32::MAX.into());
                    let v = self.c_int_or(w, kw, range, false, &says, result, 0)?;
                    Some(Duration::from_secs(v.unsigned_abs()))
                }) {
                    let v = (!v.is_zero()).then_some(v);
                    self.put(&mut d.master_refresh, v, at, kw);
                }
            }
            "garp_master_repeat" | "garp_master_refresh_repeat" | "garp_lower_prio_repeat" => {
                // keepalived: 0..=UINT_MAX, or 0..=INT_MAX for garp_lower_prio_repeat (where
                // 0 means no burst).
                let (min, max) = if key == "garp_lower_prio_repeat" {
                    (0, COUNT_MAX)
                } else {
                    (1, u32::MAX)
                };
                let expected = format!("a count from {min} to {max}");
                if let Some(w) = self.single(stmt, &expected) {
                    let says = format!("{kw} invalid - ignoring");
                    let range = (0, max.into());
                    if let Some(mut v) = self
                        .c_int(w, kw, range, false, true, &says, "ignores the line")
                        .and_then(|v| u32::try_from(v).ok())
                    {
                        if v < min {
                            self.diags.warn_as(
                                Category::KeepalivedIgnores,
                                &w.pos,
                                format!("`{kw} 0` is raised to 1, as keepalived does"),
                            );
                            v = 1;
                        }
                        if v > GARP_REPEAT_MAX {
                            self.diags.warn(
                                &w.pos,
                                format!(
                                    "`{kw} {v}` is lowered to {GARP_REPEAT_MAX}: a burst goes out \
                                     at once, and a longer one would keep this router from \
                                     advertising (space bursts with vrrp_garp_interval instead)"
                                ),
                            );
                            v = GARP_REPEAT_MAX;
                        }
                        let slot = match key {
                            "garp_master_repeat" => &mut d.master_repeat,
                            "garp_master_refresh_repeat" => &mut d.master_refresh_repeat,
                            _ => &mut d.lower_prio_repeat,
                        };
                        self.put(slot, v, at, kw);
                    }
                }
            }
            "garp_interval" | "gna_interval" => {
                let expected = "seconds from 0.000001 to 4294.967295, e.g. 0.001";
                if let Some((v, w)) = self.single(stmt, expected).and_then(|w| {
                    let v = self.seconds(w, kw, expected)?;
                    if v > GARP_INTERVAL_MAX {
                        let what = format!("`{kw} {}` is above 4294.967295 s", w.text);
                        let says = format!("{kw} is invalid");
                        self.keepalived_ignores(&w.pos, &what, &says, "ignores the line");
                        return None;
                    }
                    Some((v, w))
                }) {
                    if v.is_zero() {
                        self.diags.warn(
                            &w.pos,
                            format!(
                                "`{kw} 0` is the default (no gap between messages); keepalived \
                                 2.2.7 rejects an explicit 0 (`keepalived -t` fails): remove the \
                                 line"
                            ),
                        );
                    }
                    let slot = if key == "garp_interval" {
                        &mut d.interval
                    } else {
                        &mut d.gna_interval
                    };
                    self.put(slot, v, at, kw);
                }
            }
            "min_garp" => {
                if let Some(v) = self.opt_bool(stmt) {
                    self.put(&mut d.min_garp, v, at, kw);
                }
            }
            _ => return false,
        }
        true
    }

    // ----- vrrp_instance -------------------------------------------------------------

    fn instance(&mut self, stmt: &Stmt, name: &Word, block: &Block) {
        let parent = Parent {
            ctx: Context::Instance,
            label: format!("vrrp_instance {}", name.text),
            open: block.open.clone(),
        };
        let mut d = InstanceDraft {
            name: name.text.clone(),
            pos: stmt.pos().clone(),
            state: None,
            interface: None,
            vrid: None,
            priority: None,
            advert_int: None,
            version: None,
            preempt: None,
            preempt_delay: None,
            auth: None,
            unicast_src_ip: None,
            unicast_ttl: None,
            mcast_src_ip: None,
            unicast_peers: Vec::new(),
            unicast_peer_ttl: Vec::new(),
            vips: Vec::new(),
            vips_excluded: Vec::new(),
            vip_lines: 0,
            garp: GarpDraft::default(),
            track_scripts: Vec::new(),
            track_interfaces: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            smtp_alert: None,
            notify: Notify::default(),
            v3_checksum_as_v2: None,
            extra: InstanceExtra::default(),
            accept: Default::default(),
            answers: Default::default(),
            seen: HashSet::new(),
        };
        for stmt in &block.stmts {
            let Some(kw) = self.classify(Context::Instance, stmt, Some(&parent)) else {
                continue;
            };
            d.seen.insert(kw.to_owned());
            self.instance_stmt(kw, stmt, &mut d, &parent);
        }
        self.out.instances.push(d);
    }

    /// `version` in an instance. keepalived keeps the first version written and ignores a
    /// different one after it, and ignores `version 2` once an address above has made the
    /// instance IPv6 (it runs VRRPv3 then); each with its own message.
    fn instance_version(&mut self, v: Version, w: &Word, d: &mut InstanceDraft, parent: &Parent) {
        let ignored = match (&d.version, d.family_so_far()) {
            (Some((first, at)), _) if *first != v => Some(format!(
                "`version {}` conflicts with `version {}` at {at}: keepalived ignores it \
                 (\"vrrp_version {} conflicts with configured or deduced version\") and keeps the \
                 first, and so does this daemon: {} runs {first}",
                v.number(),
                first.number(),
                v.number(),
                parent.label
            )),
            (None, Some((Family::V6, at))) if v == Version::V2 => Some(format!(
                "`version 2` after the IPv6 address at {at}: keepalived ignores it (\"vrrp_version \
                 2 conflicts with configured or deduced version\"), and so does this daemon: {} \
                 is IPv6 and runs VRRPv3; write `version 3`, or drop the line",
                parent.label
            )),
            _ => None,
        };
        match ignored {
            Some(message) => self
                .diags
                .warn_as(Category::KeepalivedIgnores, &w.pos, message),
            None => self.put(&mut d.version, v, &w.pos, "version"),
        }
    }

    fn instance_stmt(&mut self, kw: &str, stmt: &Stmt, d: &mut InstanceDraft, parent: &Parent) {
        let at = stmt.pos();
        match kw {
            "state" => {
                if let Some(w) = self.single(stmt, "MASTER or BACKUP") {
                    let state = match w.text.as_str() {
                        "MASTER" => Some(InitialState::Master),
                        "BACKUP" => Some(InitialState::Backup),
                        other => {
                            // keepalived compares case-sensitively: "(VI_1) unknown state
                            // 'master', defaulting to BACKUP", even after a `state MASTER`.
                            self.diags.warn_as(
                                Category::KeepalivedIgnores,
                                &w.pos,
                                format!(
                                    "unknown state `{other}` (MASTER or BACKUP, in capitals): \
                                     keepalived starts {} as BACKUP (\"unknown state, \
                                     defaulting to BACKUP\"), and so does this daemon{}",
                                    parent.label,
                                    did_you_mean(other, ["MASTER", "BACKUP"])
                                ),
                            );
                            self.put(&mut d.state, InitialState::Backup, at, kw);
                            None
                        }
                    };
                    match (state, &d.state) {
                        (Some(InitialState::Backup), Some((InitialState::Master, first))) => {
                            self.diags.warn_as(
                                Category::KeepalivedIgnores,
                                at,
                                format!(
                                    "`state BACKUP` after `state MASTER` (at {first}): keepalived \
                                     ignores it (\"state previously set as MASTER - ignoring \
                                     BACKUP\"), and so does this daemon: {} starts as MASTER",
                                    parent.label
                                ),
                            );
                        }
                        (Some(state), _) => self.put(&mut d.state, state, at, kw),
                        (None, _) => {}
                    }
                }
            }
            "interface" => {
                if let Some(w) = self.single(stmt, "an interface name such as eth0") {
                    if self.ifname(w, &parent.label) {
                        self.host_interface(w, parent.label.clone(), true);
                        self.put(&mut d.interface, w.text.clone(), at, kw);
                    }
                }
            }
            "virtual_router_id" => {
                let expected = "1 to 255";
                if let Some(v) = self
                    .single(stmt, expected)
                    .and_then(|w| self.u8_in(w, kw, 1, 255, expected))
                {
                    self.put(&mut d.vrid, v, at, kw);
                }
            }
            "priority" => {
                if let Some(w) = self.single(stmt, "1 to 255, where 255 means address owner") {
                    let v = match parse_int(&w.text).map(u8::try_from) {
                        Some(Ok(v)) if v >= 1 => v,
                        _ => {
                            // keepalived: "Priority not valid! must be between 1 & 255. Using
                            // default 100" (100 even with `state MASTER`).
                            self.diags.warn_as(
                                Category::KeepalivedIgnores,
                                &w.pos,
                                format!(
                                    "`priority {}` is not valid (1 to 255): keepalived runs {} \
                                     with its default priority 100 (\"Priority not valid! ... \
                                     Using default 100\"), and so does this daemon; write the \
                                     priority you mean",
                                    w.text, parent.label
                                ),
                            );
                            100
                        }
                    };
                    self.put(&mut d.priority, v, at, kw);
                }
            }
            "advert_int" => {
                let expected = "seconds, e.g. 1 or 0.1 (v3)";
                if let Some(w) = self.single(stmt, expected) {
                    if let Some(v) = self.seconds(w, kw, expected) {
                        self.put(&mut d.advert_int, v, &w.pos, kw);
                    }
                }
            }
            "version" => {
                if let Some(w) = self.single(stmt, "2 or 3") {
                    if let Some(v) = self.version(w, kw) {
                        self.instance_version(v, w, d, parent);
                    }
                }
            }
            "nopreempt" | "preempt" => {
                self.flag(stmt);
                d.preempt = Some((kw == "preempt", at.clone()));
            }
            "preempt_delay" => {
                if let Some(w) = self.single(stmt, "seconds from 0 to 1000") {
                    let v = super::compat::keepalived_timer(w, kw, PREEMPT_DELAY_MAX, self.diags);
                    self.put(&mut d.preempt_delay, v, at, kw);
                }
            }
            "authentication" => {
                if let Some(block) = self.block_of(stmt) {
                    d.auth = self.authentication(stmt, block, parent);
                }
            }
            "unicast_src_ip" | "mcast_src_ip" => {
                if let Some(ip) = self.single(stmt, "an IP address").and_then(|w| {
                    let w = super::compat::drop_prefix(w, kw, self.diags);
                    let Some(ip) = parse_ip(&w.text) else {
                        let what = format!("`{kw} {}` is not an IP address", w.text);
                        let says = "malformed src address ... Skipping...";
                        self.keepalived_ignores(&w.pos, &what, says, "ignores the line");
                        return None;
                    };
                    Some((ip, w))
                }) {
                    let slot = if kw == "unicast_src_ip" {
                        &mut d.unicast_src_ip
                    } else {
                        &mut d.mcast_src_ip
                    };
                    self.put(slot, ip.0, &ip.1.pos, kw);
                }
            }
            "unicast_ttl" => {
                // keepalived takes 0 too; Linux's IP_TTL refuses it (and a TTL-0 packet is
                // not meant to leave the host).
                let expected = "1 to 255";
                if let Some(w) = self.single(stmt, expected) {
                    let says = "TTL not valid - must be between 0 & 255";
                    let valid = self
                        .c_int(w, kw, (0, 255), false, false, says, "ignores the line")
                        .is_some();
                    if let Some(v) = valid.then(|| self.u8_in(w, kw, 1, 255, expected)).flatten() {
                        self.put(&mut d.unicast_ttl, v, at, kw);
                    }
                }
            }
            "unicast_peer" => {
                if let Some(block) = self.block_of(stmt) {
                    self.unicast_peers(block, d);
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                if let Some(block) = self.block_of(stmt) {
                    let excluded = kw == "virtual_ipaddress_excluded";
                    for line in &block.stmts {
                        if !excluded {
                            d.vip_lines += 1;
                        }
                        if let Some(vip) =
                            self.vip(line, kw, d.interface.as_ref().map(|(n, _)| n.as_str()))
                        {
                            if excluded {
                                d.vips_excluded.push(vip);
                            } else {
                                d.vips.push(vip);
                            }
                        }
                    }
                }
            }
            "smtp_alert" => {
                if let Some(v) = self.opt_bool(stmt) {
                    d.smtp_alert = Some(v);
                }
            }
            "virtual_routes" | "virtual_rules" => {
                if let Some(block) = self.block_of(stmt) {
                    self.virtual_routing(kw, block, d);
                }
            }
            "track_script" | "track_interface" | "track_file" | "track_process" => {
                if let Some(block) = self.block_of(stmt) {
                    let (kind, list) = match kw {
                        "track_script" => (TrackKind::Script, &mut d.track_scripts),
                        "track_interface" => (TrackKind::Interface, &mut d.track_interfaces),
                        "track_process" => (TrackKind::Process, &mut d.track_processes),
                        _ => (TrackKind::File, &mut d.track_files),
                    };
                    let refs = self.track_list(block, kind, &parent.label);
                    self.add_tracks(list, refs, kind, &parent.label);
                }
            }
            "notify_master"
            | "notify_backup"
            | "notify_fault"
            | "notify_stop"
            | "notify"
            | "notify_master_rx_lower_pri" => {
                self.notify(stmt, &mut d.notify, &parent.label);
            }
            "v3_checksum_as_v2" => {
                if let Some(v) = self.opt_bool(stmt) {
                    self.put(&mut d.v3_checksum_as_v2, v, at, kw);
                }
            }
            "check_unicast_src" => self.flag(stmt),
            garp if garp.starts_with("garp_") => {
                if !self.garp(garp, stmt, &mut d.garp)
                    && !self.instance_extra(garp, stmt, &mut d.extra, parent)
                {
                    self.internal(stmt);
                }
            }
            other => {
                if !self.instance_extra(other, stmt, &mut d.extra, parent)
                    && !self.accept_keyword(other, stmt, &mut d.accept)
                    && !self.answer_keyword(other, stmt, &mut d.answers)
                {
                    self.internal(stmt);
                }
            }
        }
    }

    fn authentication(&mut self, stmt: &Stmt, block: &Block, parent: &Parent) -> Option<AuthDraft> {
        let inner = Parent {
            ctx: Context::Authentication,
            label: format!("authentication of {}", parent.label),
            open: block.open.clone(),
        };
        let mut kind: Slot<bool> = None; // Some(true) = PASS
        let mut pass: Slot<[u8; 8]> = None;
        let mut type_seen = false;
        for s in &block.stmts {
            let Some(kw) = self.classify(Context::Authentication, s, Some(&inner)) else {
                continue;
            };
            type_seen |= kw == "auth_type";
            let Some(w) = self.single(
                s,
                if kw == "auth_type" {
                    "PASS"
                } else {
                    "a password of up to 8 characters"
                },
            ) else {
                continue;
            };
            match kw {
                "auth_type" => match w.text.as_str() {
                    "PASS" => self.put(&mut kind, true, s.pos(), kw),
                    "AH" => self.diags.error(
                        &w.pos,
                        "auth_type AH (IPsec Authentication Header) is a keepalived value this project \
                         does not support: use `auth_type PASS`, or remove the authentication block",
                    ),
                    other => {
                        let what = format!(
                            "unknown auth_type `{other}` (PASS, in capitals){}",
                            did_you_mean(other, ["PASS", "AH"])
                        );
                        let says = "unknown authentication type";
                        let result = "ignores the line (no authentication without a valid type)";
                        self.keepalived_ignores(&w.pos, &what, says, result);
                    }
                },
                "auth_pass" => {
                    let bytes = w.text.as_bytes();
                    if bytes.is_empty() {
                        self.diags.error(&w.pos, "auth_pass is empty: write a password of 1 to 8 characters");
                        continue;
                    }
                    let mut padded = [0u8; 8];
                    let n = bytes.len().min(8);
                    padded[..n].copy_from_slice(&bytes[..n]);
                    if bytes.len() > 8 {
                        self.diags.warn(
                            &w.pos,
                            format!(
                                "auth_pass is longer than 8 characters: only the first 8 (`{}`) are \
                                 used, as keepalived does (a VRRPv2 packet carries 8 bytes of password)",
                                String::from_utf8_lossy(&padded)
                            ),
                        );
                    }
                    self.put(&mut pass, padded, s.pos(), kw);
                }
                _ => self.internal(s),
            }
        }
        match (kind, pass) {
            (Some(_), Some((p, _))) => Some(AuthDraft {
                pos: stmt.pos().clone(),
                auth: Some(Auth::Pass(p)),
            }),
            (Some(_), None) => {
                let what = "authentication has `auth_type PASS` but no `auth_pass` (add \
                            `auth_pass PASSWORD`, up to 8 characters)";
                let says = "Authentication specified but no password given. Ignoring";
                let result = "runs without authentication";
                self.keepalived_ignores(stmt.pos(), what, says, result);
                None
            }
            (None, Some((_, at))) if !type_seen => {
                self.diags.warn(
                    &at,
                    "auth_pass has no effect without `auth_type PASS`: add `auth_type PASS` to the \
                     authentication block, or remove the block",
                );
                None
            }
            (None, _) => None,
        }
    }

    fn unicast_peers(&mut self, block: &Block, d: &mut InstanceDraft) {
        if block.stmts.is_empty() {
            self.diags.warn(
                &block.open,
                "the unicast_peer block is empty, so this instance uses multicast (as keepalived \
                 does); list the peer addresses, or remove the block",
            );
        }
        // Thousands of peers must not cost a quadratic scan.
        let mut listed: HashSet<IpAddr> = d.unicast_peers.iter().map(|(p, _)| *p).collect();
        for line in &block.stmts {
            self.reject_block(line);
            let first = &super::compat::drop_prefix(line.keyword(), "unicast_peer", self.diags);
            let Some(ip) = parse_ip(&first.text) else {
                let what = format!("unicast peer `{}` is not an IP address", first.text);
                let says = "malformed unicast peer address ... Skipping...";
                self.keepalived_ignores(&first.pos, &what, says, "skips this peer");
                continue;
            };
            // keepalived: `ADDR [min_ttl N] [max_ttl M]`, N and M in 0..=255; either one
            // turns on the TTL check of this peer's adverts (default range 0..=255).
            let mut ttl: Option<TtlRange> = None;
            let mut ok = true;
            let args = line.args();
            let mut i = 0;
            while i < args.len() {
                let opt = &args[i];
                let known = keywords::find(keywords::PEER_OPTIONS, &opt.text).is_some();
                if !known {
                    let msg = if parse_ip(&opt.text).is_some() {
                        format!(
                            "unexpected `{}` after unicast peer `{}`: write one peer per line",
                            opt.text, first.text
                        )
                    } else {
                        format!(
                            "unknown option `{}` in unicast_peer{}",
                            opt.text,
                            did_you_mean(&opt.text, keywords::PEER_OPTIONS.iter().map(|(n, _)| *n))
                        )
                    };
                    self.diags.error(&opt.pos, msg);
                    ok = false;
                    break;
                }
                let Some(value) = args.get(i + 1) else {
                    let what = format!("`{}` in unicast_peer has no value", opt.text);
                    let says = "is missing a value";
                    let result = "adds the peer without it";
                    self.keepalived_ignores(&opt.pos, &what, says, result);
                    break;
                };
                let says = if parse_int(&value.text).is_some() {
                    "number outside range [0, 255]"
                } else {
                    "invalid number"
                };
                let result = "adds the peer without it";
                let Some(v) = self
                    .c_int(value, &opt.text, (0, 255), false, false, says, result)
                    .and_then(|v| u8::try_from(v).ok())
                else {
                    i += 2;
                    continue;
                };
                let range = ttl.get_or_insert(TtlRange::default());
                if opt.text == "min_ttl" {
                    range.min = v;
                } else {
                    range.max = v;
                }
                i += 2;
            }
            if !ok {
                continue;
            }
            if let Some(range) = ttl {
                if range.min > range.max {
                    self.diags.error(
                        &first.pos,
                        format!(
                            "unicast peer {ip}: min_ttl {} > max_ttl {}, so every advert from it \
                             would be discarded",
                            range.min, range.max
                        ),
                    );
                    continue;
                }
            }
            if !listed.insert(ip) {
                self.diags
                    .warn(&first.pos, format!("unicast peer {ip} is listed twice"));
                continue;
            }
            d.unicast_peers.push((ip, first.pos.clone()));
            if let Some(range) = ttl {
                d.unicast_peer_ttl.push((ip, range));
            }
        }
    }

    /// One line of `virtual_ipaddress`: `ADDR[/PREFIX] [dev X] [label Y] [scope Z] [brd B]`.
    fn vip(&mut self, line: &Stmt, kw: &str, instance_if: Option<&str>) -> Option<VirtualAddress> {
        self.reject_block(line);
        let first = line.keyword();
        let (addr_text, prefix_text) = match first.text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (first.text.as_str(), None),
        };
        let Some(addr) = parse_ip(addr_text) else {
            let what = format!(
                "`{}` in {kw} is not an address (ADDRESS[/PREFIX], such as 192.0.2.10/24 or \
                 2001:db8::10/64)",
                first.text
            );
            let says = "VRRP parsed invalid IP. skipping IP...";
            self.keepalived_ignores(&first.pos, &what, says, RUNS_WITHOUT_IT);
            return None;
        };
        let max_prefix: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_text {
            None => max_prefix,
            Some(p) => match ignores::c_number(p, 0, max_prefix.into(), false, true) {
                ignores::CNumber::Valid(v) => u8::try_from(v).unwrap_or(max_prefix),
                ignores::CNumber::Invalid => {
                    let what = format!(
                        "prefix length `/{p}` of `{}` is not valid (0 to {max_prefix})",
                        first.text
                    );
                    let says = "Invalid address prefix len - using {max}";
                    let says = says.replace("{max}", &max_prefix.to_string());
                    let result = format!("uses /{max_prefix}");
                    self.keepalived_ignores(&first.pos, &what, &says, &result);
                    max_prefix
                }
                ignores::CNumber::Unclear(v) => {
                    self.unclear_number(first, "prefix length of", v);
                    return None;
                }
            },
        };
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            dev: None,
            label: None,
            scope: None,
            brd: None,
            location: first.pos.location(),
        };
        let args = line.args();
        let mut i = 0;
        while i < args.len() {
            let opt = &args[i];
            let value = args.get(i + 1);
            match keywords::find(keywords::VIP_OPTIONS, &opt.text) {
                Some(Support::Supported) => {
                    let Some(value) = value else {
                        let what = format!("`{}` in {kw} has no value", opt.text);
                        let says = "No parameter specified";
                        self.keepalived_ignores(&opt.pos, &what, says, RUNS_WITHOUT_IT);
                        return None;
                    };
                    match opt.text.as_str() {
                        "dev" => {
                            if !self.ifname(value, kw) {
                                return None;
                            }
                            if instance_if != Some(value.text.as_str()) {
                                self.host_interface(value, format!("{kw} {}", first.text), false);
                            }
                            vip.dev = Some(value.text.clone());
                        }
                        "label" => {
                            if value.text.len() > IFNAME_MAX {
                                let what = format!(
                                    "label `{}` is longer than {IFNAME_MAX} characters, the \
                                     kernel's limit for address labels",
                                    value.text
                                );
                                let says = "Address label is longer than maximum length 15 - \
                                            removing address";
                                self.keepalived_ignores(&value.pos, &what, says, RUNS_WITHOUT_IT);
                                return None;
                            }
                            if addr.is_ipv6() {
                                let what = "`label` on an IPv6 address (the kernel keeps labels \
                                            only for IPv4)";
                                let says = "Cannot specify label for IPv6 addresses - ignoring \
                                            label";
                                let result = "adds the address without it";
                                self.keepalived_ignores(&opt.pos, what, says, result);
                            } else {
                                vip.label = Some(value.text.clone());
                            }
                        }
                        "scope" => {
                            // Global is scope 0, which keepalived does not see as set.
                            if keywords::SCOPES.contains(&value.text.as_str())
                                && addr.is_ipv6()
                                && value.text != "global"
                            {
                                let what = "`scope` on an IPv6 address";
                                let says = "Cannot specify scope for IPv6 addresses - ignoring \
                                            scope";
                                let result = "adds the address without it";
                                self.keepalived_ignores(&opt.pos, what, says, result);
                            } else if keywords::SCOPES.contains(&value.text.as_str()) {
                                vip.scope = Some(value.text.clone());
                            } else {
                                let what = format!(
                                    "scope `{}` is not one of {}{}",
                                    value.text,
                                    keywords::SCOPES.join(", "),
                                    did_you_mean(&value.text, keywords::SCOPES.iter().copied())
                                );
                                let says = "Invalid scope specified - ignoring";
                                let result = "adds the address without it";
                                self.keepalived_ignores(&value.pos, &what, says, result);
                            }
                        }
                        _ => {
                            // brd
                            let IpAddr::V4(v4) = addr else {
                                let what = "`brd` applies only to IPv4 addresses";
                                let says = "VRRP is trying to assign a broadcast to the IPv6 \
                                            address ... skipping VIP...";
                                self.keepalived_ignores(&opt.pos, what, says, RUNS_WITHOUT_IT);
                                return None;
                            };
                            let mask = u32::MAX
                                .checked_shl(32 - u32::from(prefix_len))
                                .unwrap_or(0);
                            let brd = match value.text.as_str() {
                                "+" => Ipv4Addr::from(u32::from(v4) | !mask),
                                "-" => Ipv4Addr::from(u32::from(v4) & mask),
                                text => match text.parse::<Ipv4Addr>() {
                                    Ok(b) => b,
                                    Err(_) => {
                                        let what = format!(
                                            "broadcast address `{text}` is not an IPv4 address, \
                                             `+` (set host bits) or `-` (clear them)"
                                        );
                                        let says = "VRRP is trying to assign invalid broadcast. \
                                                    skipping VIP...";
                                        self.keepalived_ignores(
                                            &value.pos,
                                            &what,
                                            says,
                                            RUNS_WITHOUT_IT,
                                        );
                                        return None;
                                    }
                                },
                            };
                            vip.brd = Some(brd);
                        }
                    }
                    i += 2;
                }
                Some(_) => {
                    self.diags.error(
                        &opt.pos,
                        format!(
                            "`{}` in {kw} is a keepalived option this project does not support (yet): \
                             remove it",
                            opt.text
                        ),
                    );
                    return None;
                }
                None => {
                    let message = if parse_ip(opt.text.split('/').next().unwrap_or("")).is_some() {
                        format!(
                            "unexpected `{}` after `{}`: write one address per line",
                            opt.text, first.text
                        )
                    } else {
                        format!(
                            "unknown option `{}` in {kw}{}",
                            opt.text,
                            did_you_mean(&opt.text, keywords::VIP_OPTIONS.iter().map(|(n, _)| *n))
                        )
                    };
                    self.diags.error(&opt.pos, message);
                    return None;
                }
            }
        }
        Some(vip)
    }

    /// The lines of a `track_script`/`track_interface`/`track_file` block:
    /// `NAME [weight N] [reverse|noreverse]`.
    fn track_list(&mut self, block: &Block, kind: TrackKind, owner: &str) -> Vec<TrackRef> {
        let kw = kind.keyword();
        let limit = kind.weight_limit();
        let mut refs = Vec::new();
        for line in &block.stmts {
            self.reject_block(line);
            let name = line.keyword();
            if matches!(kind, TrackKind::Interface) {
                if !self.ifname(name, kw) {
                    continue;
                }
                self.host_interface(name, format!("{kw} of {owner}"), false);
            }
            let mut r = TrackRef {
                name: name.text.clone(),
                weight: None,
                reverse: None,
                location: name.pos.location(),
            };
            let args = line.args();
            let mut i = 0;
            let mut ok = true;
            while i < args.len() {
                let w = &args[i];
                match w.text.as_str() {
                    "weight" => {
                        let expected = format!("-{limit} to {limit}");
                        match args.get(i + 1) {
                            Some(v) => match self.track_weight(v, kind, &name.text) {
                                Ok(weight) => r.weight = weight,
                                Err(()) => ok = false,
                            },
                            None => {
                                self.diags.error(
                                    &w.pos,
                                    format!("`weight` needs a value: expected {expected}"),
                                );
                                ok = false;
                            }
                        }
                        i += 2;
                    }
                    "reverse" => {
                        r.reverse = Some(true);
                        i += 1;
                    }
                    "noreverse" | "no_reverse" => {
                        r.reverse = Some(false);
                        i += 1;
                    }
                    other => {
                        self.diags.error(
                            &w.pos,
                            format!(
                                "unexpected `{other}` after `{}` in {kw}: each line is `NAME [weight N] \
                                 [reverse]`; put each name on its own line{}",
                                name.text,
                                did_you_mean(other, ["weight", "reverse", "noreverse"])
                            ),
                        );
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                refs.push(r);
            }
        }
        refs
    }

    /// `notify_* COMMAND [USER [GROUP]]`.
    fn notify(&mut self, stmt: &Stmt, notify: &mut Notify, owner: &str) {
        let kw = stmt.keyword().text.as_str();
        let usage = format!("{kw} \"/path/to/script ARGS\" [USER [GROUP]]");
        let Some(args) = self.values(stmt, 1, 3, &usage) else {
            return;
        };
        if args[0].text.trim().is_empty() {
            self.diags.error(
                &args[0].pos,
                format!("the command of `{kw}` is empty: write `{usage}`"),
            );
            return;
        }
        let slot = match kw {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.generic,
            "notify_master_rx_lower_pri" => &mut notify.master_rx_lower_pri,
            _ => {
                self.internal(stmt);
                return;
            }
        };
        if slot.is_some() {
            self.diags.warn_as(
                Category::KeepalivedIgnores,
                stmt.pos(),
                format!(
                    "`{kw}` is given twice in {owner}: keepalived keeps the first one (\"script \
                     already specified - ignoring\"), and so does this daemon"
                ),
            );
            return;
        }
        *slot = Some(NotifyCommand {
            command: args[0].text.clone(),
            user: args.get(1).map(|w| w.text.clone()),
            group: args.get(2).map(|w| w.text.clone()),
        });
        self.out.host_checks.push(HostCheck::Program {
            command: args[0].text.clone(),
            pos: args[0].pos.clone(),
            used_by: format!("`{kw}` of {owner}"),
        });
    }

    // ----- vrrp_script ---------------------------------------------------------------

    fn script(&mut self, stmt: &Stmt, name: &Word, block: &Block) {
        let parent = Parent {
            ctx: Context::Script,
            label: format!("vrrp_script {}", name.text),
            open: block.open.clone(),
        };
        let mut script: Slot<String> = None;
        let mut s = VrrpScript {
            name: name.text.clone(),
            location: stmt.pos().location(),
            script: String::new(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
        };
        for line in &block.stmts {
            let Some(kw) = self.classify(Context::Script, line, Some(&parent)) else {
                continue;
            };
            match kw {
                "script" => {
                    if let Some(args) =
                        self.values(line, 1, usize::MAX, "script \"/path/to/check ARGS\"")
                    {
                        let command = join_command(args);
                        if command.trim().is_empty() {
                            self.diags
                                .error(&args[0].pos, "the script command is empty");
                            continue;
                        }
                        self.out.host_checks.push(HostCheck::Program {
                            command: command.clone(),
                            pos: args[0].pos.clone(),
                            used_by: parent.label.clone(),
                        });
                        self.put(&mut script, command, line.pos(), kw);
                    }
                }
                "interval" | "timeout" => {
                    let expected = "seconds greater than 0, up to 4294, e.g. 2 or 0.5";
                    let Some(w) = self.single(line, expected) else {
                        continue;
                    };
                    let max = Duration::from_secs(WHOLE_SECONDS_MAX.into());
                    let Some(mut v) = self.seconds(w, kw, expected) else {
                        continue;
                    };
                    if v > max {
                        let what = format!("`{kw} {}` is above {WHOLE_SECONDS_MAX} s", w.text);
                        let says = format!("vrrp script {kw} invalid - ignoring");
                        self.keepalived_ignores(&w.pos, &what, &says, "ignores the line");
                        continue;
                    }
                    if v.is_zero() {
                        let what = format!("`{kw} 0` in {}", parent.label);
                        let says = format!("vrrp script {kw} must be greater than 0, setting to 1");
                        self.keepalived_ignores(&w.pos, &what, &says, "uses 1 s");
                        v = Duration::from_secs(1);
                    }
                    if kw == "interval" {
                        s.interval = v;
                    } else {
                        s.timeout = Some(v);
                    }
                }
                "weight" => {
                    let Some(args) = self.values(line, 1, 2, "weight N [reverse]") else {
                        continue;
                    };
                    // keepalived stores what strtol reads even outside -253..253 or with
                    // text after it (it only says so): `high` is 0, `-20x` is -20.
                    let w = &args[0];
                    let read = ignores::strtol(&w.text).and_then(|v| i32::try_from(v).ok());
                    match read {
                        Some(v)
                            if parse_int(&w.text) == Some(v.into())
                                && (-253..=253).contains(&v) =>
                        {
                            s.weight = v;
                        }
                        Some(v) => {
                            let what = format!(
                                "`weight {}` of {} is not a number from -253 to 253",
                                w.text, parent.label
                            );
                            let says = "weight must be in [-253, 253]";
                            let result = format!(
                                "uses {v}, what it reads (the priority stays within 1..254)"
                            );
                            self.keepalived_ignores(&w.pos, &what, says, &result);
                            s.weight = v;
                        }
                        None => {
                            if let Some(v) = self.int_in(w, kw, -253, 253, "-253 to 253") {
                                s.weight = i32::try_from(v).unwrap_or(0);
                            }
                        }
                    }
                    match args.get(1).map(|w| (w, w.text.as_str())) {
                        None | Some((_, "noreverse" | "no_reverse")) => {}
                        Some((_, "reverse")) => s.reverse = true,
                        Some((w, other)) => {
                            let what = format!("`{other}` after the weight of {}", parent.label);
                            let says = "unknown weight option";
                            self.keepalived_ignores(
                                &w.pos,
                                &what,
                                says,
                                "ignores it (only `reverse` may follow)",
                            );
                        }
                    }
                }
                "rise" | "fall" => {
                    let expected = "a count from 1 to 2147483647";
                    let says = format!("vrrp script {kw} value invalid, defaulting to 1");
                    if let Some(v) = self.single(line, expected).and_then(|w| {
                        let range = (1, COUNT_MAX.into());
                        let v = self.c_int_or(w, kw, range, false, &says, "uses 1", 1)?;
                        u32::try_from(v).ok()
                    }) {
                        if kw == "rise" {
                            s.rise = v;
                        } else {
                            s.fall = v;
                        }
                    }
                }
                "user" => {
                    if let Some(args) = self.values(line, 1, 2, "user USER [GROUP]") {
                        s.user = Some((args[0].text.clone(), args.get(1).map(|w| w.text.clone())));
                    }
                }
                "init_fail" => {
                    self.flag(line);
                    s.init_fail = true;
                }
                _ => self.internal(line),
            }
        }
        match script {
            Some((command, _)) => {
                s.script = command;
                self.out.scripts.push(s);
            }
            None => self.diags.error(
                stmt.pos(),
                format!(
                    "vrrp_script {} has no `script`: add `script \"/path/to/check\"` to it",
                    name.text
                ),
            ),
        }
    }

    // ----- vrrp_track_file -----------------------------------------------------------

    fn track_file_def(&mut self, stmt: &Stmt, name: &Word, block: &Block) {
        let kw0 = &stmt.keyword().text;
        let parent = Parent {
            ctx: Context::TrackFile,
            label: format!("{kw0} {}", name.text),
            open: block.open.clone(),
        };
        let mut file: Slot<PathBuf> = None;
        let mut weight = 1;
        let mut reverse = false;
        let mut init_file = None;
        for line in &block.stmts {
            let Some(kw) = self.classify(Context::TrackFile, line, Some(&parent)) else {
                continue;
            };
            match kw {
                "file" => {
                    if let Some(w) = self.single(line, "the path of the file to track") {
                        if w.text.is_empty() {
                            self.diags.error(&w.pos, "the file name is empty");
                        } else if let Some((_, first)) = &file {
                            let what =
                                format!("a second `file` in {} (first at {first})", parent.label);
                            let says = "File already set for track file - ignoring";
                            self.keepalived_ignores(line.pos(), &what, says, "keeps the first");
                        } else {
                            file = Some((PathBuf::from(&w.text), line.pos().clone()));
                        }
                    }
                }
                "weight" => {
                    let Some(args) = self.values(line, 1, 2, "weight N [reverse]") else {
                        continue;
                    };
                    // keepalived keeps a weight other than 1 ("Weight already set"), and
                    // uses 1 for one outside -254..254.
                    if weight != 1 {
                        let what = format!("a second `weight` in {}", parent.label);
                        let says = "Weight already set for track file - ignoring";
                        let result = "keeps the weight set before";
                        self.keepalived_ignores(line.pos(), &what, says, result);
                        continue;
                    }
                    let says = "Weight for track_file must be between [-254..254] inclusive. \
                                Ignoring...";
                    let w = &args[0];
                    if let Some(v) = self.c_int_or(w, kw, (-254, 254), true, says, "uses 1", 1) {
                        weight = i32::try_from(v).unwrap_or(1);
                    }
                    match args.get(1) {
                        None => {}
                        Some(w) if w.text == "reverse" => reverse = true,
                        Some(w) => {
                            let what = format!("`{}` after the weight of {}", w.text, parent.label);
                            let says = "unknown weight option";
                            let result = "ignores it (only `reverse` may follow)";
                            self.keepalived_ignores(&w.pos, &what, says, result);
                        }
                    }
                }
                "init_file" => {
                    let Some(args) = self.values(line, 0, 2, "init_file [VALUE] [overwrite]")
                    else {
                        continue;
                    };
                    let mut init = TrackFileInit {
                        value: 0,
                        overwrite: false,
                    };
                    let mut ok = true;
                    for (i, w) in args.iter().enumerate() {
                        if w.text == "overwrite" {
                            init.overwrite = true;
                        } else if i == 0 {
                            // keepalived: an int (else an error); outside -254..=254 it
                            // complains but writes it.
                            match parse_int(&w.text) {
                                Some(v) if i32::try_from(v).is_err() => {
                                    self.diags.error(
                                        &w.pos,
                                        format!(
                                            "`init_file` {v} is out of range: expected \
                                             -2147483648 to 2147483647"
                                        ),
                                    );
                                    ok = false;
                                }
                                Some(v) => {
                                    if !(-254..=254).contains(&v) {
                                        self.diags.warn(
                                            &w.pos,
                                            format!(
                                                "`init_file` {v} is outside the sensible range \
                                                 -254 to 254 (keepalived says so too); it is \
                                                 written as given"
                                            ),
                                        );
                                    }
                                    init.value = v;
                                }
                                None => {
                                    self.diags.error(
                                        &w.pos,
                                        format!("expected a number or `overwrite` after `init_file`, found `{}`", w.text),
                                    );
                                    ok = false;
                                }
                            }
                        } else {
                            self.diags
                                .error(&w.pos, format!("expected `overwrite`, found `{}`", w.text));
                            ok = false;
                        }
                    }
                    if ok {
                        init_file = Some(init);
                    }
                }
                _ => self.internal(line),
            }
        }
        match file {
            Some((file, _)) => self.out.track_files.push(TrackFileDef {
                name: name.text.clone(),
                location: stmt.pos().location(),
                file,
                weight,
                reverse,
                init_file,
            }),
            None => self.diags.error(
                stmt.pos(),
                format!(
                    "{kw0} {} has no `file`: add `file \"/path/to/file\"` to it",
                    name.text
                ),
            ),
        }
    }

    // ----- vrrp_sync_group -----------------------------------------------------------

    fn sync_group(&mut self, stmt: &Stmt, name: &Word, block: &Block) {
        let parent = Parent {
            ctx: Context::SyncGroup,
            label: format!("vrrp_sync_group {}", name.text),
            open: block.open.clone(),
        };
        let mut g = SyncGroupDraft {
            name: name.text.clone(),
            pos: stmt.pos().clone(),
            members: Vec::new(),
            has_group: false,
            track_scripts: Vec::new(),
            track_interfaces: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            smtp_alert: None,
            notify_priority_changes: None,
            notify: Notify::default(),
        };
        for (n, line) in block.stmts.iter().enumerate() {
            let Some(kw) = self.classify(Context::SyncGroup, line, Some(&parent)) else {
                continue;
            };
            match kw {
                "group" if g.has_group => {
                    let last = n + 1 == block.stmts.len();
                    self.second_group(line, &name.text, last);
                }
                "group" => {
                    if let Some(b) = self.block_of(line) {
                        g.has_group = true;
                        for member in &b.stmts {
                            self.reject_block(member);
                            g.members.extend(
                                member.words.iter().map(|w| (w.text.clone(), w.pos.clone())),
                            );
                        }
                        if b.stmts.is_empty() {
                            let what = format!(
                                "the group of vrrp_sync_group {} is empty (list its vrrp_instance \
                                 names, as in `group {{ VI_1 VI_2 }}`)",
                                name.text
                            );
                            let says = "sync group has empty group block";
                            let result = "removes the sync group; its instances run on their own";
                            self.keepalived_ignores(&b.open, &what, says, result);
                        }
                    }
                }
                "track_script" | "track_interface" | "track_file" | "track_process" => {
                    if let Some(b) = self.block_of(line) {
                        let (kind, list) = match kw {
                            "track_script" => (TrackKind::Script, &mut g.track_scripts),
                            "track_interface" => (TrackKind::Interface, &mut g.track_interfaces),
                            "track_process" => (TrackKind::Process, &mut g.track_processes),
                            _ => (TrackKind::File, &mut g.track_files),
                        };
                        let refs = self.track_list(b, kind, &parent.label);
                        self.add_tracks(list, refs, kind, &parent.label);
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(line, &mut g.notify, &parent.label);
                }
                "smtp_alert" => {
                    if let Some(v) = self.opt_bool(line) {
                        g.smtp_alert = Some(v);
                    }
                }
                "notify_priority_changes" => {
                    if let Some(v) = self.opt_bool(line) {
                        g.notify_priority_changes = Some((v, line.pos().clone()));
                    }
                }
                _ => self.internal(line),
            }
        }
        if !g.has_group {
            let what = format!(
                "vrrp_sync_group {} has no `group {{ ... }}` (list its vrrp_instance names in \
                 `group {{ VI_1 VI_2 }}`)",
                name.text
            );
            let says = "Sync group has no virtual router(s). removing";
            let result = "runs without it";
            self.keepalived_ignores(stmt.pos(), &what, says, result);
        }
        self.out.sync_groups.push(g);
    }
}

/// Joins the words of an unquoted command line. A quoted word with spaces among several
/// words is wrapped in single quotes, keepalived's way of keeping a parameter whole.
fn join_command(words: &[Word]) -> String {
    if let [one] = words {
        return one.text.clone();
    }
    words
        .iter()
        .map(|w| {
            if w.quoted && w.text.chars().any(char::is_whitespace) {
                format!("'{}'", w.text)
            } else {
                w.text.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parser::Parser;
    use std::path::Path;

    /// Every keyword the tables call supported has a handler: feed each one a dummy value and
    /// make sure the "not handled" error never appears.
    #[test]
    fn every_supported_keyword_has_a_handler() {
        let wrap = |ctx: Context, line: &str| -> String {
            match ctx {
                Context::Root => format!("{line} X {{ }}\n"),
                Context::GlobalDefs => format!("global_defs {{\n{line}\n}}\n"),
                Context::Instance => format!("vrrp_instance VI {{\n{line}\n}}\n"),
                Context::Authentication => {
                    format!("vrrp_instance VI {{\nauthentication {{\n{line}\n}}\n}}\n")
                }
                Context::Script => format!("vrrp_script S {{\n{line}\n}}\n"),
                Context::SyncGroup => format!("vrrp_sync_group G {{\n{line}\n}}\n"),
                Context::TrackFile => format!("vrrp_track_file F {{\n{line}\n}}\n"),
                Context::TrackProcess => format!("vrrp_track_process P {{\n{line}\n}}\n"),
            }
        };
        for ctx in Context::ALL {
            for (name, support) in ctx.table() {
                if *support != Support::Supported || name.starts_with("include") {
                    continue;
                }
                for value in ["", " 1", " { }"] {
                    let text = wrap(ctx, &format!("{name}{value}"));
                    let mut diags = Diags::default();
                    let stmts = Parser::new(&mut diags, "test")
                        .parse_text(&text, Path::new("/nonexistent/x.conf"));
                    let _ = build(&stmts, &mut diags);
                    let (errors, _) = diags.finish();
                    assert!(
                        errors.iter().all(|e| !e.message.contains("internal error")),
                        "{name} in {}: {errors:?}",
                        ctx.label()
                    );
                }
            }
        }
    }
}
