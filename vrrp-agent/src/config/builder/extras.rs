//! keepalived 2.2.7 keywords of `global_defs` and `vrrp_instance` that tune the process, delay
//! the start, or change one instance behaviour (`dont_track_primary`, ...), and those read
//! only to say exactly what they would do here.
//!
//! The rule for each: the same VRRP behaviour as keepalived; where keepalived ignores a
//! value (or the keyword changes nothing a VRRP peer can see), a warning at its line says
//! so; an error only where running would behave differently from keepalived (then the
//! message says "not supported yet" and why).
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use super::{Builder, Parent, Slot};
use crate::config::{
    diagnostics::{Category, Diags, Pos},
    model::{Family, Location, NotifyCommand, NotifyFifo, ProcessTuning, VirtualAddress},
    parser::Stmt,
    values::{parse_int, parse_ip, parse_seconds},
};

/// The IPv4 VRRP group (RFC 9568 §5.1.1.2), keepalived's `vrrp_mcast_group4` default.
pub(crate) const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 VRRP group (RFC 9568 §5.1.2.2), keepalived's `vrrp_mcast_group6` default.
pub(crate) const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// keepalived's bounds on `vrrp_rt_priority` (`sched_get_priority_min/max(SCHED_RR)`).
const RT_PRIORITY_MIN: i64 = 1;
const RT_PRIORITY_MAX: i64 = 99;
/// keepalived logs (but accepts) a start-up delay of a minute or more.
const STARTUP_DELAY_LARGE: Duration = Duration::from_secs(60);

/// What `global_defs` says beyond the core keywords.
#[derive(Debug, Default)]
pub(crate) struct GlobalExtra {
    pub nice: Slot<i32>,
    pub no_swap: Option<Pos>,
    pub rt_priority: Slot<u32>,
    pub cpu_affinity: Slot<Vec<usize>>,
    pub rlimit_rttime_us: Slot<u64>,
    pub startup_delay: Slot<Duration>,
    /// `vrrp_mcast_group4` when valid and not 224.0.0.18.
    pub mcast_group4: Slot<Ipv4Addr>,
    /// `vrrp_mcast_group6` when valid and not ff02::12.
    pub mcast_group6: Slot<Ipv6Addr>,
    pub notify_priority_changes: Slot<bool>,
    /// `vrrp_garp_extra_if`: (seconds, all).
    pub garp_extra_if: Slot<(u32, bool)>,
    pub notify_fifo_script: Slot<NotifyCommand>,
    pub vrrp_notify_fifo_script: Slot<NotifyCommand>,
}

impl GlobalExtra {
    /// The FIFO of `notify_fifo` (or `vrrp_notify_fifo` when `vrrp`) with its script. A
    /// script without its FIFO does nothing in keepalived: a warning here.
    pub fn with_script(
        &self,
        fifo: Slot<NotifyFifo>,
        vrrp: bool,
        diags: &mut Diags,
    ) -> Option<NotifyFifo> {
        let script = if vrrp {
            &self.vrrp_notify_fifo_script
        } else {
            &self.notify_fifo_script
        };
        match (fifo, script) {
            (Some((mut f, _)), script) => {
                f.script = script.as_ref().map(|(s, _)| s.clone());
                Some(f)
            }
            (None, Some((_, pos))) => {
                let kw = if vrrp {
                    "vrrp_notify_fifo"
                } else {
                    "notify_fifo"
                };
                diags.warn(
                    pos,
                    format!("`{kw}_script` without `{kw}` does nothing, as in keepalived: it is ignored"),
                );
                None
            }
            (None, None) => None,
        }
    }

    /// The process tuning to apply at start-up.
    pub fn tuning(&self) -> ProcessTuning {
        let location: Option<Location> = [
            self.nice.as_ref().map(|(_, p)| p),
            self.no_swap.as_ref(),
            self.rt_priority.as_ref().map(|(_, p)| p),
            self.cpu_affinity.as_ref().map(|(_, p)| p),
            self.rlimit_rttime_us.as_ref().map(|(_, p)| p),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|p| (p.line, p.col))
        .map(Pos::location);
        ProcessTuning {
            nice: self.nice.as_ref().map(|(v, _)| *v),
            no_swap: self.no_swap.is_some(),
            rt_priority: self.rt_priority.as_ref().map(|(v, _)| *v),
            cpu_affinity: self
                .cpu_affinity
                .as_ref()
                .map(|(v, _)| v.clone())
                .unwrap_or_default(),
            rlimit_rttime_us: self.rlimit_rttime_us.as_ref().map(|(v, _)| *v),
            location,
        }
    }

    pub fn startup_delay(&self) -> Option<Duration> {
        self.startup_delay.as_ref().map(|(v, _)| *v)
    }

    pub fn mcast_group4(&self) -> Option<Ipv4Addr> {
        self.mcast_group4.as_ref().map(|(v, _)| *v)
    }

    pub fn mcast_group6(&self) -> Option<Ipv6Addr> {
        self.mcast_group6.as_ref().map(|(v, _)| *v)
    }
}

/// What a `vrrp_instance` says beyond the core keywords.
#[derive(Debug, Default)]
pub(crate) struct InstanceExtra {
    pub dont_track_primary: bool,
    pub promote_secondaries: bool,
    pub unicast_fault_no_peer: bool,
    /// `mcast_dst_ip` when a valid multicast group (standard ones included).
    pub mcast_dst_ip: Slot<IpAddr>,
    pub notify_priority_changes: Slot<bool>,
    /// `garp_extra_if`: (seconds, all).
    pub garp_extra_if: Slot<(u32, bool)>,
    /// `use_vmac`, `vmac_xmit_base`.
    pub vmac: crate::config::vmac::VmacDraft,
}

impl InstanceExtra {
    /// keepalived's `garp_extra_if` (else the global `vrrp_garp_extra_if`): while Master,
    /// every N seconds a gratuitous ARP/NA on each interface other than the instance's that
    /// holds one of its addresses (`dev`), on VMAC interfaces only unless `all`. Without
    /// `all` it never sends here (the periodic re-announcement on VMAC interfaces is not
    /// implemented); with `all` but no address on another interface neither: warnings.
    /// Otherwise it sends (see `runtime::addresses`).
    pub fn check_garp_extra_if(
        &self,
        global: &Slot<(u32, bool)>,
        interface: Option<&str>,
        addresses: &[&VirtualAddress],
        diags: &mut Diags,
    ) -> Option<Duration> {
        let ((secs, all), pos) = self.garp_extra_if.as_ref().or(global.as_ref())?;
        if *secs == 0 {
            return None;
        }
        let elsewhere = addresses
            .iter()
            .filter_map(|a| a.dev.as_deref())
            .find(|dev| Some(*dev) != interface);
        match (all, elsewhere) {
            (false, _) => {
                diags.warn(
                    pos,
                    "`garp_extra_if` without `all` sends only on VMAC interfaces (use_vmac); \
                     those periodic gratuitous ARPs are not implemented here: it has no effect \
                     (a new Master still announces its VIPs from the virtual MAC)",
                );
                None
            }
            (true, None) => {
                diags.warn(
                    pos,
                    "`garp_extra_if all`: no address of this instance is on another interface \
                     (`dev`), so it has no effect, as in keepalived",
                );
                None
            }
            // keepalived: a gratuitous ARP for each such address every `secs` while Master.
            (true, Some(_)) => Some(Duration::from_secs(u64::from(*secs))),
        }
    }

    /// The instance's advert group when not the standard one of `family`: its
    /// `mcast_dst_ip` if of its family (keepalived skips one of the other family, with an
    /// error it survives: a warning here), else the global group.
    pub fn mcast_group(
        &self,
        family: Family,
        global4: Option<Ipv4Addr>,
        global6: Option<Ipv6Addr>,
        diags: &mut Diags,
    ) -> Option<IpAddr> {
        if let Some((addr, pos)) = &self.mcast_dst_ip {
            if Family::of(addr) == family {
                return (*addr != IpAddr::V4(GROUP_V4) && *addr != IpAddr::V6(GROUP_V6))
                    .then_some(*addr);
            }
            diags.warn_as(
                Category::KeepalivedIgnores,
                pos,
                format!(
                    "`mcast_dst_ip {addr}` is not an {family} address like the instance's: it is \
                     ignored, as keepalived does"
                ),
            );
        }
        match family {
            Family::V4 => global4.map(IpAddr::V4),
            Family::V6 => global6.map(IpAddr::V6),
        }
    }
}

impl Builder<'_> {
    /// The `global_defs` keywords of this module; false if `kw` is not one of them.
    pub(super) fn global_extra(&mut self, kw: &str, stmt: &Stmt, g: &mut GlobalExtra) -> bool {
        let at = stmt.pos();
        match kw {
            "vrrp_priority" => {
                let expected = "a nice value from -20 to 19";
                if let Some(v) = self
                    .single(stmt, expected)
                    .and_then(|w| self.int_in(w, kw, -20, 19, expected))
                {
                    self.put(&mut g.nice, v as i32, at, kw);
                }
            }
            "vrrp_no_swap" => {
                self.flag(stmt);
                g.no_swap = Some(at.clone());
            }
            "vrrp_rt_priority" => {
                if let Some(w) = self.single(stmt, "a SCHED_RR priority from 1 to 99") {
                    match parse_int(&w.text) {
                        None => self.diags.error(
                            &w.pos,
                            format!(
                                "expected a number for `{kw}` (a SCHED_RR priority from 1 to 99), \
                                 found `{}`",
                                w.text
                            ),
                        ),
                        Some(v) => {
                            let clamped = v.clamp(RT_PRIORITY_MIN, RT_PRIORITY_MAX);
                            if clamped != v {
                                self.diags.warn(
                                    &w.pos,
                                    format!(
                                        "`{kw} {v}` is outside the SCHED_RR range 1..99: {clamped} \
                                         is used, as keepalived does"
                                    ),
                                );
                            }
                            self.put(&mut g.rt_priority, clamped as u32, at, kw);
                        }
                    }
                }
            }
            "vrrp_cpu_affinity" => {
                let Some(args) = self.values(stmt, 1, usize::MAX, "vrrp_cpu_affinity CPU...")
                else {
                    return true;
                };
                let mut cpus = Vec::new();
                for w in args {
                    match parse_int(&w.text).and_then(|v| usize::try_from(v).ok()) {
                        Some(cpu) => cpus.push(cpu),
                        None => {
                            // keepalived empties the set at the first bad id: no affinity.
                            self.diags.warn(
                                &w.pos,
                                format!(
                                    "`{}` is not a CPU number: `{kw}` is ignored (no CPU \
                                     affinity is set), as keepalived does",
                                    w.text
                                ),
                            );
                            return true;
                        }
                    }
                }
                self.put(&mut g.cpu_affinity, cpus, at, kw);
            }
            "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                if kw == "vrrp_rlimit_rtime" {
                    self.diags.warn(
                        &stmt.keyword().pos,
                        "`vrrp_rlimit_rtime` is keepalived's deprecated spelling of \
                         `vrrp_rlimit_rttime`; it is read as that",
                    );
                }
                let expected = "microseconds from 1 to 4294967295";
                if let Some(w) = self.single(stmt, expected) {
                    if let Some(v) = self.int_in(w, kw, 1, i64::from(u32::MAX), expected) {
                        // keepalived halves the value for the soft limit, which must not be 0.
                        let v = if v == 1 {
                            self.diags.warn(
                                &w.pos,
                                format!("`{kw} 1` is raised to 2, as keepalived does (the soft limit is half)"),
                            );
                            2
                        } else {
                            v
                        };
                        self.put(&mut g.rlimit_rttime_us, v.unsigned_abs(), at, kw);
                    }
                }
            }
            "vrrp_startup_delay" => {
                let expected = "seconds, at least 0.001";
                if let Some(w) = self.single(stmt, expected) {
                    if let Some(v) = parse_seconds(&w.text) {
                        if v < Duration::from_millis(1) {
                            self.diags.error(
                                &w.pos,
                                format!("`{kw} {}` is invalid: expected {expected} (remove the line for no delay)", w.text),
                            );
                        } else {
                            if v >= STARTUP_DELAY_LARGE {
                                self.diags.warn(
                                    &w.pos,
                                    format!("`{kw} {}` is very large: no instance can become Master for that long after start-up", w.text),
                                );
                            }
                            self.put(&mut g.startup_delay, v, at, kw);
                        }
                    } else {
                        self.diags.error(
                            &w.pos,
                            format!("expected {expected} for `{kw}`, found `{}`", w.text),
                        );
                    }
                }
            }
            "vrrp_skip_check_adv_addr" => {
                self.reject_block(stmt);
                self.skip_check_note(stmt);
            }
            "dynamic_interfaces" => {
                if let Some(args) = self.values(stmt, 0, 1, "dynamic_interfaces [allow_if_changes]")
                {
                    if let Some(w) = args.first().filter(|w| w.text != "allow_if_changes") {
                        self.diags.warn(
                            &w.pos,
                            format!(
                                "unknown dynamic_interfaces option `{}` is ignored, as keepalived \
                                 does (the only option is allow_if_changes)",
                                w.text
                            ),
                        );
                    }
                    self.diags.warn(
                        &stmt.keyword().pos,
                        "`dynamic_interfaces`: an interface deleted and re-created while running \
                         is followed here as by keepalived (its instances are in FAULT meanwhile), \
                         but every instance's interface must exist when the daemon starts \
                         (keepalived would start such an instance in FAULT and wait for it)",
                    );
                }
            }
            "default_interface" => {
                if let Some(w) = self.single(stmt, "an interface name") {
                    if self.ifname(w, "default_interface") {
                        self.diags.warn(
                            &stmt.keyword().pos,
                            "`default_interface` has no effect on VRRP: keepalived 2.2.7 uses it \
                             only for `static_ipaddress` entries without `dev` (skipped here); a \
                             vrrp_instance without `interface` is an error in keepalived too",
                        );
                    }
                }
            }
            "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                let v6 = kw == "vrrp_mcast_group6";
                if let Some(w) = self.single(stmt, "a multicast address") {
                    match self.mcast_group(w, kw, v6, "the standard group is used") {
                        Some(IpAddr::V4(group)) if group != GROUP_V4 => {
                            self.put(&mut g.mcast_group4, group, at, kw);
                        }
                        Some(IpAddr::V4(_)) => g.mcast_group4 = None,
                        Some(IpAddr::V6(group)) if group != GROUP_V6 => {
                            self.put(&mut g.mcast_group6, group, at, kw);
                        }
                        Some(IpAddr::V6(_)) => g.mcast_group6 = None,
                        None => {}
                    }
                }
            }
            "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => {
                if let Some(v) = self.garp_extra_if(stmt) {
                    self.put(&mut g.garp_extra_if, v, at, kw);
                }
            }
            "notify_fifo_script" | "vrrp_notify_fifo_script" => {
                let usage = format!("{kw} \"/path/to/script ARGS\" [USER [GROUP]]");
                if let Some(args) = self.values(stmt, 1, 3, &usage) {
                    if args[0].text.trim().is_empty() {
                        self.diags.error(
                            &args[0].pos,
                            format!("the command of `{kw}` is empty: write `{usage}`"),
                        );
                        return true;
                    }
                    let cmd = NotifyCommand {
                        command: args[0].text.clone(),
                        user: args.get(1).map(|w| w.text.clone()),
                        group: args.get(2).map(|w| w.text.clone()),
                    };
                    let slot = if kw == "notify_fifo_script" {
                        &mut g.notify_fifo_script
                    } else {
                        &mut g.vrrp_notify_fifo_script
                    };
                    if slot.is_some() {
                        let what = format!("`{kw}` is given twice");
                        let says = "notify_fifo_script already specified - ignoring";
                        self.keepalived_ignores(at, &what, says, "keeps the first one");
                    } else {
                        *slot = Some((cmd, at.clone()));
                    }
                }
            }
            "vrrp_notify_priority_changes" => {
                if let Some(v) = self.opt_bool(stmt) {
                    self.put(&mut g.notify_priority_changes, v, at, kw);
                }
            }
            _ => return false,
        }
        true
    }

    /// The `vrrp_instance` keywords of this module; false if `kw` is not one of them.
    pub(super) fn instance_extra(
        &mut self,
        kw: &str,
        stmt: &Stmt,
        d: &mut InstanceExtra,
        parent: &Parent,
    ) -> bool {
        match kw {
            "dont_track_primary" => {
                self.flag(stmt);
                d.dont_track_primary = true;
            }
            "promote_secondaries" => {
                self.flag(stmt);
                d.promote_secondaries = true;
            }
            "unicast_fault_no_peer" => {
                self.flag(stmt);
                d.unicast_fault_no_peer = true;
            }
            "skip_check_adv_addr" => {
                if self.opt_bool(stmt).is_some() {
                    self.skip_check_note(stmt);
                }
            }
            "debug" => {
                let args = self.values(stmt, 0, 1, "debug [0..4]");
                let level = match args.and_then(|a| a.first()) {
                    None => Some(0),
                    Some(w) => {
                        let says = "Debug value not valid; must be between 0-4";
                        self.c_int(w, kw, (0, 4), false, true, says, "ignores the line")
                    }
                };
                if level.is_some() {
                    self.diags.warn(
                        &stmt.keyword().pos,
                        format!(
                            "`debug` in {} has no effect: keepalived 2.2.7 only shows the level \
                             in its data dump; logging here is set with `vrrp-agent run \
                             --log-level` or RUST_LOG",
                            parent.label
                        ),
                    );
                }
            }
            "mcast_dst_ip" => {
                if let Some(w) = self.single(stmt, "a multicast address") {
                    let v6 = w.text.contains(':');
                    if let Some(group) =
                        self.mcast_group(w, kw, v6, "adverts go to the standard group")
                    {
                        self.put(&mut d.mcast_dst_ip, group, &w.pos, kw);
                    }
                }
            }
            "garp_extra_if" | "vmac_garp_intvl" => {
                if let Some(v) = self.garp_extra_if(stmt) {
                    self.put(&mut d.garp_extra_if, v, stmt.pos(), kw);
                }
            }
            "notify_priority_changes" => {
                if let Some(v) = self.opt_bool(stmt) {
                    self.put(&mut d.notify_priority_changes, v, stmt.pos(), kw);
                }
            }
            _ => return self.vmac_keyword(kw, stmt, &mut d.vmac),
        }
        true
    }

    /// `[vrrp_]garp_extra_if [all] SECONDS` (0..86400, `all` before or after): (seconds,
    /// all). keepalived ignores the line when the number is missing or bad.
    fn garp_extra_if(&mut self, stmt: &Stmt) -> Option<(u32, bool)> {
        self.reject_block(stmt);
        let kw = &stmt.keyword().text;
        if kw.ends_with("vmac_garp_intvl") {
            self.diags.warn(
                &stmt.keyword().pos,
                format!(
                    "`{kw}` is keepalived's deprecated name of `{}`; it is read as that",
                    kw.replace("vmac_garp_intvl", "garp_extra_if")
                ),
            );
        }
        let mut all = false;
        let mut secs = None;
        for w in stmt.args() {
            if w.text == "all" {
                all = true;
            } else {
                let says = format!("{kw} invalid - ignoring");
                let range = (0, 86400);
                secs = Some(self.c_int(w, kw, range, false, true, &says, "ignores the line")?);
            }
        }
        match secs {
            Some(s) => Some((u32::try_from(s).unwrap_or(0), all)),
            None => {
                let what = format!("`{kw}` without a time (`{kw} [all] SECONDS`)");
                let says = format!("{kw} specified without time - ignoring");
                self.keepalived_ignores(stmt.pos(), &what, &says, "ignores the line");
                None
            }
        }
    }

    /// `skip_check_adv_addr` / `vrrp_skip_check_adv_addr`: said once, as it changes nothing.
    fn skip_check_note(&mut self, stmt: &Stmt) {
        self.diags.warn_once(
            "skip_check_adv_addr",
            &stmt.keyword().pos,
            format!(
                "`{}`: this daemon never checks the address list of received adverts (keepalived \
                 with this keyword still checks a new Master's first advert; without it, every \
                 advert); accepted",
                stmt.keyword().text
            ),
        );
    }

    /// A multicast group for adverts, if usable: any IPv4 group; any IPv6 group for
    /// `vrrp_mcast_group6`, a link-scope one for an IPv6 `mcast_dst_ip` (keepalived's
    /// rules). A non-multicast address or one of the wrong family is ignored with a
    /// warning, as keepalived does.
    fn mcast_group(
        &mut self,
        w: &crate::config::parser::Word,
        kw: &str,
        v6: bool,
        ignored: &str,
    ) -> Option<IpAddr> {
        let family = if v6 { "IPv6" } else { "IPv4" };
        let addr = parse_ip(&w.text);
        let ok = match addr {
            Some(IpAddr::V4(a)) if !v6 => a.is_multicast(),
            Some(IpAddr::V6(a)) if v6 => {
                // keepalived wants a link-local group for mcast_dst_ip, any multicast group
                // for vrrp_mcast_group6.
                a.is_multicast() && (kw != "mcast_dst_ip" || a.segments()[0] & 0xff0f == 0xff02)
            }
            _ => false,
        };
        if !ok {
            self.diags.warn_as(
                Category::KeepalivedIgnores,
                &w.pos,
                format!(
                    "`{kw} {}` is not an {family} multicast address{}: it is ignored, as \
                     keepalived does ({ignored})",
                    w.text,
                    if kw == "mcast_dst_ip" && v6 {
                        " of link scope"
                    } else {
                        ""
                    }
                ),
            );
            return None;
        }
        addr
    }
}
