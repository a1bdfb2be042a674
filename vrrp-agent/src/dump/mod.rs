//! keepalived's dump files, in keepalived 2.2.7's layouts, for the tools that read them
//! (exporters, scripts, operators' habits):
//!
//! - SIGUSR1 -> `keepalived.data`: the `------< VRRP Topology >------` section (one block
//!   per instance: same keys, order and indentation as keepalived's `dump_vrrp`). Lines about
//!   things the agent does not have (receive sockets, sockpool, the global definitions and
//!   interface sections) are left out.
//! - SIGUSR2 -> `keepalived.stats`: the counters per instance.
//! - SIGRTMIN+2 -> `keepalived.json`: keepalived's version-1 JSON, an array of
//!   `{"data": {...}, "stats": {...}}` with `state` as 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.
//!
//! The files go to `$TMPDIR` if it is a directory, else `/tmp` (as keepalived's
//! `make_tmp_filename`), written under a temporary name and renamed, mode 0600.
//!
//! The formatting is pure: it takes the status snapshot and the running configuration.
use std::{
    fmt::Write as _,
    io::{self, Write as _},
    net::IpAddr,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Serialize;

use crate::{
    config::{Instance, Version, VirtualAddress},
    runtime::status::{InstanceState, InstanceStatus, TrackKind},
};

/// One instance as the dumps show it: its status and what the runtime adds.
#[derive(Debug, Clone)]
pub struct DumpInstance<'a> {
    /// The snapshot's view of it.
    pub status: &'a InstanceStatus,
    /// Its running configuration.
    pub config: &'a Instance,
    /// The source address of its adverts.
    pub src_ip: Option<IpAddr>,
    /// When its next timer fires (Unix seconds), if one is armed.
    pub read_timeout_unix: Option<f64>,
    /// Master_Down_Interval.
    pub master_down_timer: Duration,
    /// The command line of each `vrrp_script`, by name (JSON's `track_script`).
    pub script_commands: Vec<(String, String)>,
}

/// keepalived's state numbers (`VRRP_STATE_*`).
pub fn state_number(s: InstanceState) -> u8 {
    match s {
        InstanceState::Init => 0,
        InstanceState::Backup => 1,
        InstanceState::Master => 2,
        InstanceState::Fault => 3,
    }
}

/// keepalived's state names (`get_state_str`).
fn state_name(s: InstanceState) -> &'static str {
    match s {
        InstanceState::Init => "INIT",
        InstanceState::Backup => "BACKUP",
        InstanceState::Master => "MASTER",
        InstanceState::Fault => "FAULT",
    }
}

/// `keepalived.data`'s VRRP section.
pub fn data(instances: &[DumpInstance<'_>]) -> String {
    let mut out = String::new();
    if instances.is_empty() {
        return out;
    }
    out.push_str("------< VRRP Topology >------\n");
    for i in instances {
        instance_data(&mut out, i);
    }
    out
}

fn instance_data(out: &mut String, i: &DumpInstance<'_>) {
    let (st, c) = (i.status, i.config);
    let v3 = c.version == Version::V3;
    let mut w = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    w(format!(" VRRP Instance = {}", st.name));
    w(format!("   VRRP Version = {}", st.version));
    if let Some(g) = &st.sync_group {
        w(format!("   Sync group = {g}"));
    }
    if matches!(c.family, crate::config::Family::V6) {
        w("   Using Native IPv6".into());
    }
    w(format!("   State = {}", state_name(st.state)));
    if st.state == InstanceState::Backup {
        if let Some(m) = st.master.as_ref().filter(|m| !m.is_self) {
            w(format!("   Master router = {}", m.address));
            w(format!("   Master priority = {}", m.priority));
            if v3 {
                w(format!(
                    "   Master advert int = {:.2} sec",
                    st.master_advert_interval_secs
                ));
            }
        }
    }
    if c.is_unicast() {
        w("   Flags:".into());
        w("     Using unicast".into());
    } else {
        w("   Flags: none".into());
    }
    w(format!("   Wantstate = {}", state_name(st.state)));
    w("   Number of config faults = 0".into());
    let faults = st.priority.inputs.iter().filter(|t| t.fault).count()
        + usize::from(st.fault_reason.is_some() && !st.priority.inputs.iter().any(|t| t.fault));
    w(format!(
        "   Number of interface and track script faults = {faults}"
    ));
    let init = st
        .priority
        .inputs
        .iter()
        .filter(|t| t.kind == TrackKind::Script && t.state == "not run yet")
        .count();
    w(format!("   Number of track scripts init = {init}"));
    w(format!(
        "   Last transition = {}",
        time_with_ctime(st.state_since_unix)
    ));
    match i.read_timeout_unix {
        Some(t) => w(format!("   Read timeout = {}", time_with_ctime(t))),
        None => w("   Read timeout = DISABLED".into()),
    }
    w(format!(
        "   Master down timer = {} usecs",
        i.master_down_timer.as_micros()
    ));
    w(format!("   Interface = {}", c.interface));
    if c.strict {
        w("   Enforcing strict VRRP compliance".into());
    }
    w(format!(
        "   Using src_ip = {}{}",
        i.src_ip.map_or("(none)".to_string(), |a| a.to_string()),
        if c.src_ip().is_some() {
            " (from configuration)"
        } else {
            ""
        }
    ));
    if !c.is_unicast() {
        match c.family {
            crate::config::Family::V4 => w("   Multicast address 224.0.0.18".into()),
            crate::config::Family::V6 => w("   Multicast address ff02::12".into()),
        }
    }
    let g = &c.garp;
    w(format!(
        "   Gratuitous ARP delay = {}",
        g.master_delay.as_secs()
    ));
    w(format!("   Gratuitous ARP repeat = {}", g.master_repeat));
    w(format!(
        "   Gratuitous ARP refresh = {}",
        g.master_refresh.map_or(0, |d| d.as_secs())
    ));
    w(format!(
        "   Gratuitous ARP refresh repeat = {}",
        g.master_refresh_repeat
    ));
    w(format!(
        "   Gratuitous ARP lower priority delay = {}",
        g.lower_prio_delay.as_secs()
    ));
    w(format!(
        "   Gratuitous ARP lower priority repeat = {}",
        g.lower_prio_repeat
    ));
    w("   Down timer adverts = 3".into());
    w(format!(
        "   Send advert after receive lower priority advert = {}",
        !c.lower_prio_no_advert
    ));
    w(format!(
        "   Send advert after receive higher priority advert = {}",
        c.higher_prio_send_advert
    ));
    w(format!("   Virtual Router ID = {}", st.vrid));
    w(format!("   Priority = {}", st.priority.configured));
    w(format!("   Effective priority = {}", st.priority.effective));
    w(format!("   Total priority = {}", st.priority.effective));
    if v3 {
        w(format!(
            "   Advert interval = {} milli-sec",
            (st.advert_interval_secs * 1000.0).round() as u64
        ));
    } else {
        w(format!(
            "   Advert interval = {} sec",
            st.advert_interval_secs.round() as u64
        ));
    }
    if st.state == InstanceState::Backup && v3 {
        w(format!(
            "   Master advert interval = {} milli-sec",
            (st.master_advert_interval_secs * 1000.0).round() as u64
        ));
    }
    w(format!(
        "   Accept = {}",
        if c.accept_mode { "enabled" } else { "disabled" }
    ));
    w(format!(
        "   Preempt = {}",
        if c.preempt { "enabled" } else { "disabled" }
    ));
    if !c.preempt_delay.is_zero() {
        w(format!(
            "   Preempt delay = {} secs",
            c.preempt_delay.as_secs_f64()
        ));
    }
    w("   Promote_secondaries = disabled".into());
    match &c.auth {
        Some(crate::config::Auth::Pass(p)) => {
            w("   Authentication type = SIMPLE_PASSWORD".into());
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            w(format!(
                "   Password = {}",
                String::from_utf8_lossy(&p[..end])
            ));
        }
        None if !v3 => w("   Authentication type = none".into()),
        None => {}
    }
    let held = |v: &VirtualAddress| {
        st.vips
            .iter()
            .any(|s| s.held && s.address.split('/').next() == Some(&v.addr.to_string()))
    };
    if !c.vips.is_empty() {
        w(format!("   Virtual IP ({}):", c.vips.len()));
        for v in &c.vips {
            w(format!("     {}", vip_text(v, &c.interface, held(v))));
        }
    }
    if !c.vips_excluded.is_empty() {
        w("   Virtual IP Excluded :".into());
        for v in &c.vips_excluded {
            w(format!("     {}", vip_text(v, &c.interface, held(v))));
        }
    }
    if c.is_unicast() {
        w("   Check unicast src : no".into());
        w("   Unicast Peer :".into());
        for p in &c.unicast_peers {
            w(format!("     {p}"));
        }
    }
    let own = |kind: TrackKind| {
        st.priority
            .inputs
            .iter()
            .filter(move |t| t.kind == kind && t.sync_group.is_none())
    };
    if own(TrackKind::Interface).next().is_some() {
        w("   Tracked interfaces :".into());
        for t in own(TrackKind::Interface) {
            w(format!("     {}", tracked(&t.name, t.weight, t.reverse)));
        }
    }
    if own(TrackKind::Script).next().is_some() {
        w("   Tracked scripts :".into());
        for t in own(TrackKind::Script) {
            w(format!("     {}", tracked(&t.name, t.weight, t.reverse)));
        }
    }
    if own(TrackKind::File).next().is_some() {
        w("   Tracked files :".into());
        for t in own(TrackKind::File) {
            w(format!("     {}", tracked(&t.name, t.weight, t.reverse)));
        }
    }
    w("   Using smtp notification = no".into());
    w("   Notify deleted = Fault".into());
    for (kind, cmd) in [
        ("Backup", &c.notify.backup),
        ("Master", &c.notify.master),
        ("Fault", &c.notify.fault),
        ("Stop", &c.notify.stop),
        ("Generic", &c.notify.generic),
    ] {
        if let Some(cmd) = cmd {
            w(format!(
                "   {kind} state transition script = {}, uid:gid 0:0",
                quoted(&cmd.command)
            ));
        }
    }
    w("   Notify priority changes = false".into());
}

/// `NAME weight N[ reverse]` (dump_track_script / dump_track_if).
fn tracked(name: &str, weight: i64, reverse: bool) -> String {
    format!(
        "{name} weight {weight}{}",
        if reverse { " reverse" } else { "" }
    )
}

/// keepalived's `format_ipaddress`: the prefix only when not a host route, then brd, dev,
/// scope, label, and ` set` while the address is on the interface.
fn vip_text(v: &VirtualAddress, iface: &str, set: bool) -> String {
    let mut s = v.addr.to_string();
    let host = match v.addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if v.prefix_len != host {
        let _ = write!(s, "/{}", v.prefix_len);
    }
    if let Some(b) = v.brd {
        let _ = write!(s, " brd {b}");
    }
    let _ = write!(s, " dev {}", v.dev.as_deref().unwrap_or(iface));
    let _ = write!(s, " scope {}", v.scope.as_deref().unwrap_or("global"));
    if let Some(l) = &v.label {
        let _ = write!(s, " label {l}");
    }
    if matches!(v.addr, IpAddr::V6(_)) {
        s.push_str(" preferred_lft forever");
    }
    if set {
        s.push_str(" set");
    }
    s
}

/// keepalived's `cmd_str`: each word in single quotes.
fn quoted(cmd: &str) -> String {
    cmd.split_whitespace()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `SECS.USECS (Www Mmm dd hh:mm:ss.uuuuuu yyyy)` in local time, as keepalived's
/// `ctime_us_r`.
fn time_with_ctime(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let usecs = ((unix - unix.floor()) * 1e6).round().min(999_999.0) as u32;
    format!("{secs}.{usecs:06} ({})", ctime_us(secs, usecs))
}

fn ctime_us(secs: i64, usecs: u32) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed struct we own; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return "invalid time".into();
    }
    format!(
        "{} {} {:2} {:02}:{:02}:{:02}.{usecs:06} {}",
        DAYS.get(tm.tm_wday as usize).unwrap_or(&"???"),
        MONTHS.get(tm.tm_mon as usize).unwrap_or(&"???"),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// `keepalived.stats`.
pub fn stats(instances: &[DumpInstance<'_>]) -> String {
    let mut out = String::new();
    for i in instances {
        let s = &i.status.stats;
        let _ = write!(
            out,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  \
             Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    \
             TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    \
             Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    \
             Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    \
             Sent: {}\n",
            i.status.name,
            s.advert_rcvd,
            s.advert_sent,
            s.become_master,
            s.release_master,
            s.packet_len_err,
            s.ip_ttl_err,
            s.invalid_type_rcvd,
            s.advert_interval_err,
            s.addr_list_err,
            s.invalid_authtype,
            s.authtype_mismatch,
            s.auth_failure,
            s.pri_zero_rcvd,
            s.pri_zero_sent
        );
    }
    out
}

/// A number keepalived prints with `%g`: whole values without a fraction.
#[derive(Debug, Clone, Copy)]
struct G(f64);

impl Serialize for G {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// `keepalived.json`'s `data`, fields in keepalived's order.
#[derive(Serialize)]
struct JsonData<'a> {
    iname: &'a str,
    dont_track_primary: u8,
    skip_check_adv_addr: u8,
    strict_mode: u8,
    vmac_ifname: &'a str,
    ifp_ifname: &'a str,
    master_priority: u8,
    last_transition: f64,
    garp_delay: G,
    garp_refresh: u64,
    garp_rep: u32,
    garp_refresh_rep: u32,
    garp_lower_prio_delay: u64,
    garp_lower_prio_rep: u32,
    lower_prio_no_advert: u8,
    higher_prio_send_advert: u8,
    vrid: u8,
    base_priority: u8,
    effective_priority: u8,
    vipset: bool,
    promote_secondaries: bool,
    adver_int: G,
    master_adver_int: G,
    accept: u8,
    nopreempt: bool,
    preempt_delay: u64,
    state: u8,
    wantstate: u8,
    version: u8,
    smtp_alert: bool,
    notify_deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    script_backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script_master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script_fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script_stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    evips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    track_ifp: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    track_script: Vec<String>,
    auth_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_data: Option<String>,
}

/// `keepalived.json`'s `stats`.
#[derive(Serialize)]
struct JsonStats {
    advert_rcvd: u64,
    advert_sent: u64,
    become_master: u64,
    release_master: u64,
    packet_len_err: u64,
    advert_interval_err: u64,
    ip_ttl_err: u64,
    invalid_type_rcvd: u64,
    addr_list_err: u64,
    invalid_authtype: u64,
    authtype_mismatch: u64,
    auth_failure: u64,
    pri_zero_rcvd: u64,
    pri_zero_sent: u64,
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    data: JsonData<'a>,
    stats: JsonStats,
}

/// `keepalived.json` (version 1).
pub fn json(instances: &[DumpInstance<'_>]) -> String {
    let entries: Vec<JsonEntry<'_>> = instances.iter().map(json_entry).collect();
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
}

fn json_entry<'a>(i: &'a DumpInstance<'a>) -> JsonEntry<'a> {
    let (st, c) = (i.status, i.config);
    let script =
        |cmd: &Option<crate::config::NotifyCommand>| cmd.as_ref().map(|n| quoted(&n.command));
    let held = |v: &VirtualAddress| {
        st.vips
            .iter()
            .any(|s| s.held && s.address.split('/').next() == Some(&v.addr.to_string()))
    };
    let master_priority = match (&st.master, st.state) {
        (Some(m), InstanceState::Backup) if !m.is_self => m.priority,
        _ => 0,
    };
    let s = &st.stats;
    JsonEntry {
        data: JsonData {
            iname: &st.name,
            dont_track_primary: 0,
            skip_check_adv_addr: 0,
            strict_mode: u8::from(c.strict),
            vmac_ifname: "",
            ifp_ifname: &c.interface,
            master_priority,
            last_transition: (st.state_since_unix * 1e6).round() / 1e6,
            garp_delay: G(c.garp.master_delay.as_secs_f64()),
            garp_refresh: c.garp.master_refresh.map_or(0, |d| d.as_secs()),
            garp_rep: c.garp.master_repeat,
            garp_refresh_rep: c.garp.master_refresh_repeat,
            garp_lower_prio_delay: c.garp.lower_prio_delay.as_secs(),
            garp_lower_prio_rep: c.garp.lower_prio_repeat,
            lower_prio_no_advert: u8::from(c.lower_prio_no_advert),
            higher_prio_send_advert: u8::from(c.higher_prio_send_advert),
            vrid: st.vrid,
            base_priority: st.priority.configured,
            effective_priority: st.priority.effective,
            vipset: st.vips.iter().any(|v| v.held),
            promote_secondaries: false,
            adver_int: G(st.advert_interval_secs),
            master_adver_int: G(st.master_advert_interval_secs),
            accept: u8::from(c.accept_mode),
            nopreempt: !c.preempt,
            preempt_delay: c.preempt_delay.as_secs(),
            state: state_number(st.state),
            wantstate: state_number(st.state),
            version: st.version,
            smtp_alert: false,
            notify_deleted: false,
            script_backup: script(&c.notify.backup),
            script_master: script(&c.notify.master),
            script_fault: script(&c.notify.fault),
            script_stop: script(&c.notify.stop),
            script: script(&c.notify.generic),
            vips: c
                .vips
                .iter()
                .map(|v| vip_text(v, &c.interface, held(v)))
                .collect(),
            evips: c
                .vips_excluded
                .iter()
                .map(|v| vip_text(v, &c.interface, held(v)))
                .collect(),
            track_ifp: c.track_interfaces.iter().map(|t| t.name.clone()).collect(),
            track_script: c
                .track_scripts
                .iter()
                .map(|t| {
                    i.script_commands
                        .iter()
                        .find(|(n, _)| *n == t.name)
                        .map_or_else(|| quoted(&t.name), |(_, cmd)| quoted(cmd))
                })
                .collect(),
            auth_type: u8::from(c.auth.is_some()),
            auth_data: c.auth.as_ref().map(|crate::config::Auth::Pass(p)| {
                let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
                String::from_utf8_lossy(&p[..end]).into_owned()
            }),
        },
        stats: JsonStats {
            advert_rcvd: s.advert_rcvd,
            advert_sent: s.advert_sent,
            become_master: s.become_master,
            release_master: s.release_master,
            packet_len_err: s.packet_len_err,
            advert_interval_err: s.advert_interval_err,
            ip_ttl_err: s.ip_ttl_err,
            invalid_type_rcvd: s.invalid_type_rcvd,
            addr_list_err: s.addr_list_err,
            invalid_authtype: s.invalid_authtype,
            authtype_mismatch: s.authtype_mismatch,
            auth_failure: s.auth_failure,
            pri_zero_rcvd: s.pri_zero_rcvd,
            pri_zero_sent: s.pri_zero_sent,
        },
    }
}

/// Where the dump files go: `$TMPDIR` if it is a directory, else `/tmp`.
pub fn dump_dir() -> PathBuf {
    match std::env::var_os("TMPDIR").map(PathBuf::from) {
        Some(d) if d.is_dir() => d,
        _ => PathBuf::from("/tmp"),
    }
}

/// Writes `text` to `dir/name` through a temporary name and a rename, mode 0600, never
/// following a symlink planted at the temporary name.
pub fn write_file(dir: &Path, name: &str, text: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

#[cfg(test)]
mod tests;
