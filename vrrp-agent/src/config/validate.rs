//! Drafts -> [`Config`]: defaults, per-instance rules, cross-references and host checks.
use std::{
    collections::{HashMap, HashSet},
    fs,
    os::unix::fs::PermissionsExt,
    time::Duration,
};

use super::{
    builder::{
        strict::{self, StrictGlobal},
        Drafts, GarpDraft, HostCheck, InstanceDraft, SyncGroupDraft,
    },
    diagnostics::{Category, Diags, Pos},
    keywords::did_you_mean,
    model::{
        max_advertised, Config, Family, GarpSettings, GlobalDefs, InitialState, Instance,
        InstanceSpans, SyncGroup, TrackRef, Version, VirtualAddress, DEFAULT_MTU,
    },
    values::{round_to, show_duration},
};

/// The smallest advert interval keepalived accepts (and the v3 resolution).
const ADVERT_MIN: Duration = Duration::from_millis(10);
/// Whether interface `name` exists in this process's network namespace, and if so whether
/// it is a loopback. Asks the kernel (if_nametoindex, SIOCGIFFLAGS) rather than /sys,
/// which shows the namespace that mounted it, not necessarily ours.
fn interface_is_loopback(name: &str) -> Option<bool> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    if unsafe { libc::if_nametoindex(c.as_ptr()) } == 0 {
        return None;
    }
    // SAFETY: a datagram socket for the ioctl, closed before returning; ifreq is plain data
    // and the name fits (if_nametoindex accepted it, so it is shorter than IFNAMSIZ).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Some(false);
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, b) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *d = b as libc::c_char;
        }
        let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0;
        libc::close(fd);
        Some(ok && (req.ifr_ifru.ifru_flags as i32 & libc::IFF_LOOPBACK) != 0)
    }
}

/// Applies defaults, checks everything that involves more than one statement, and returns
/// the configuration (meaningful only if no error was reported).
pub(crate) fn finish(drafts: Drafts, diags: &mut Diags) -> Config {
    let Drafts {
        global,
        instances,
        scripts,
        track_files,
        sync_groups,
        track_processes,
        unnumbered_rules: _,
        host_checks,
        first,
    } = drafts;

    let global_garp = resolve_garp(&global.garp, &GarpSettings::default(), None);
    // Explicit global lower-priority values are the defaults for instances; otherwise an
    // instance's lower-priority values follow its own master values.
    let global_lower = (
        global.garp.lower_prio_delay.as_ref().map(|(v, _)| *v),
        global.garp.lower_prio_repeat.as_ref().map(|(v, _)| *v),
    );
    let garp_extra_if = global.extra.garp_extra_if.clone();
    let mut strict_global = global.strict.clone();
    strict_global
        .garp_lower_prio_repeat
        .clone_from(&global.garp.lower_prio_repeat);
    strict_global
        .garp_lower_prio_delay
        .clone_from(&global.garp.lower_prio_delay);
    let global = GlobalDefs {
        router_id: global.router_id.map(|(v, _)| v),
        vrrp_version: global.vrrp_version.map(|(v, _)| v),
        garp: global_garp,
        enable_script_security: global.enable_script_security,
        script_user: global.script_user.map(|(v, _)| v),
        notify_fifo: global.extra.with_script(global.notify_fifo, false, diags),
        vrrp_notify_fifo: global
            .extra
            .with_script(global.vrrp_notify_fifo, true, diags),
        v3_checksum_as_v2: global.v3_checksum_as_v2.is_some_and(|(v, _)| v),
        smtp: global.smtp,
        tuning: global.extra.tuning(),
        startup_delay: global.extra.startup_delay(),
        mcast_group4: global.extra.mcast_group4(),
        mcast_group6: global.extra.mcast_group6(),
        notify_priority_changes: global.extra.notify_priority_changes.is_some_and(|(v, _)| v),
        vrrp_strict: global.strict.on.is_some(),
    };

    let mut config = Config {
        global,
        ..Config::default()
    };

    // Named objects: a second definition with the same name is an error.
    config.scripts = dedup_named(scripts, "vrrp_script", diags, |s| (&s.name, &s.location));
    config.track_files = dedup_named(track_files, "vrrp_track_file", diags, |f| {
        (&f.name, &f.location)
    });

    config.track_processes = dedup_named(track_processes, "vrrp_track_process", diags, |p| {
        (&p.name, &p.location)
    });

    // A sync group's notify_priority_changes is its members' default (keepalived).
    let group_npc: HashMap<&str, (bool, Pos)> = sync_groups
        .iter()
        .filter_map(|g| Some((g, g.notify_priority_changes.clone()?)))
        .flat_map(|(g, v)| g.members.iter().map(move |(m, _)| (m.as_str(), v.clone())))
        .collect();
    let instances: Vec<_> = instances
        .into_iter()
        .map(|mut d| {
            if d.extra.notify_priority_changes.is_none() {
                d.extra.notify_priority_changes = group_npc.get(d.name.as_str()).cloned();
            }
            d
        })
        .collect();
    let mut seen_instances: HashMap<String, Pos> = HashMap::new();
    for draft in instances {
        if let Some(first) = seen_instances.get(&draft.name) {
            diags.error(
                &draft.pos,
                format!(
                    "vrrp_instance {} is defined twice (first at {first}): rename or remove one",
                    draft.name
                ),
            );
            continue;
        }
        seen_instances.insert(draft.name.clone(), draft.pos.clone());
        let addresses: Vec<_> = draft.vips.iter().chain(&draft.vips_excluded).collect();
        let interface = draft.interface.as_ref().map(|(n, _)| n.as_str());
        let extra_if =
            (draft.extra).check_garp_extra_if(&garp_extra_if, interface, &addresses, diags);
        if let Some(mut instance) =
            finish_instance(draft, &config.global, global_lower, &strict_global, diags)
        {
            instance.garp.extra_if = extra_if;
            config.instances.push(instance);
        }
    }

    super::vmac::assign_default_names(&mut config.instances, diags);
    check_vrids(&config.instances, diags);
    check_capacity(&config.instances, diags);
    for instance in &config.instances {
        check_track_refs(
            &config,
            &instance.track_scripts,
            &instance.track_files,
            diags,
        );
        super::builder::track_process::check_refs(&config, &instance.track_processes, diags);
    }
    let mut sync_groups = sync_groups;
    for g in &mut sync_groups {
        g.smtp_alert = Some(config.global.smtp.alerts(g.smtp_alert));
    }
    config.sync_groups = finish_sync_groups(sync_groups, &seen_instances, diags);
    for group in &config.sync_groups {
        check_track_refs(&config, &group.track_scripts, &group.track_files, diags);
        super::builder::track_process::check_refs(&config, &group.track_processes, diags);
    }
    warn_unused(&config, diags);

    if config.instances.is_empty() && !diags.has_errors() {
        if let Some(first) = &first {
            diags.warn(
                first,
                "no vrrp_instance is configured: the daemon will have nothing to do",
            );
        }
    }
    run_host_checks(&host_checks, diags);
    config
}

/// Resolves GARP settings: explicit values, else `base` (the global settings for an
/// instance, keepalived's defaults for global_defs). The lower-priority values default to
/// the master values, as in keepalived.
fn resolve_garp(
    d: &GarpDraft,
    base: &GarpSettings,
    global_lower: Option<(Option<Duration>, Option<u32>)>,
) -> GarpSettings {
    let v = |slot: &Option<(Duration, Pos)>| slot.as_ref().map(|(v, _)| *v);
    let n = |slot: &Option<(u32, Pos)>| slot.as_ref().map(|(v, _)| *v);
    let mut base = base.clone();
    if d.min_garp.as_ref().is_some_and(|(on, _)| *on) {
        // vrrp_min_garp: one message, no second burst.
        base.master_repeat = 1;
        base.master_delay = Duration::ZERO;
        base.master_refresh_repeat = 1;
    }
    let master_delay = v(&d.master_delay).unwrap_or(base.master_delay);
    let master_repeat = n(&d.master_repeat).unwrap_or(base.master_repeat);
    let (lower_delay_default, lower_repeat_default) = match global_lower {
        Some((delay, repeat)) => (
            delay.unwrap_or(master_delay),
            repeat.unwrap_or(master_repeat),
        ),
        None => (master_delay, master_repeat),
    };
    GarpSettings {
        master_delay,
        master_repeat,
        master_refresh: d
            .master_refresh
            .as_ref()
            .map(|(v, _)| *v)
            .unwrap_or(base.master_refresh),
        master_refresh_repeat: n(&d.master_refresh_repeat).unwrap_or(base.master_refresh_repeat),
        lower_prio_delay: v(&d.lower_prio_delay).unwrap_or(lower_delay_default),
        lower_prio_repeat: n(&d.lower_prio_repeat).unwrap_or(lower_repeat_default),
        interval: v(&d.interval).unwrap_or(base.interval),
        gna_interval: v(&d.gna_interval).unwrap_or(base.gna_interval),
        // Per instance, from its addresses (see `check_garp_extra_if`).
        extra_if: None,
    }
}

fn dedup_named<T>(
    items: Vec<T>,
    kind: &str,
    diags: &mut Diags,
    key: impl Fn(&T) -> (&String, &super::model::Location),
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        let (name, location) = key(&item);
        if let Some(first) = out.iter().find(|o| key(o).0 == name) {
            diags.error(
                location,
                format!(
                    "{kind} {name} is defined twice (first at {}): rename or remove one",
                    key(first).1
                ),
            );
            continue;
        }
        out.push(item);
    }
    out
}

fn finish_instance(
    mut d: InstanceDraft,
    global: &GlobalDefs,
    global_lower: (Option<Duration>, Option<u32>),
    strict_global: &StrictGlobal,
    diags: &mut Diags,
) -> Option<Instance> {
    let name = d.name.clone();
    let mut complete = true;
    if d.interface.is_none() && !d.seen.contains("interface") {
        diags.error(
            &d.pos,
            format!("vrrp_instance {name} has no `interface`: add `interface NAME` (the interface VRRP runs on)"),
        );
        complete = false;
    }
    if d.vrid.is_none() && !d.seen.contains("virtual_router_id") {
        diags.error(
            &d.pos,
            format!(
                "vrrp_instance {name} has no `virtual_router_id`: add `virtual_router_id N` (1 to 255, \
                 the same on every router of this group)"
            ),
        );
        complete = false;
    }
    // Family: that of the first virtual address; the others must match.
    let family = d
        .vips
        .first()
        .map(VirtualAddress::family)
        .or(d.unicast_src_ip.as_ref().map(|(ip, _)| Family::of(ip)))
        .or(d.mcast_src_ip.as_ref().map(|(ip, _)| Family::of(ip)))
        .or(d.unicast_peers.first().map(|(ip, _)| Family::of(ip)))
        .unwrap_or_default();
    let no_vip_lines = d.vip_lines == 0;
    if let Some(first) = d.vips.first().cloned() {
        d.vips.retain(|vip| {
            if vip.family() == family {
                return true;
            }
            diags.warn_as(
                Category::KeepalivedIgnores,
                &vip.location,
                format!(
                    "{} is {} but vrrp_instance {name} is {family} (its first address, {} at {}): \
                     keepalived ignores it (\"address family must match VRRP instance\"), and so \
                     does this daemon; move it to virtual_ipaddress_excluded (set with the \
                     instance, not advertised) or to an {} instance",
                    vip.addr,
                    vip.family(),
                    first.addr,
                    first.location,
                    vip.family()
                ),
            );
            false
        });
    }
    let family_word = if d.vips.is_empty() {
        "this instance's addresses"
    } else {
        "the virtual addresses"
    };
    for (kw, slot) in [
        ("unicast_src_ip", &d.unicast_src_ip),
        ("mcast_src_ip", &d.mcast_src_ip),
    ] {
        if let Some((ip, pos)) = slot {
            if Family::of(ip) != family {
                diags.error(
                    pos,
                    format!(
                        "{kw} {ip} is {} but {family_word} are {family}: VRRP adverts use the family of \
                         the virtual addresses; use an {family} source address",
                        Family::of(ip)
                    ),
                );
            }
        }
    }
    for (ip, pos) in &d.unicast_peers {
        if Family::of(ip) != family {
            diags.error(
                pos,
                format!(
                    "unicast_peer {ip} is {} but {family_word} are {family}: use {family} peer addresses",
                    Family::of(ip)
                ),
            );
        }
    }

    let strict = strict::is_strict(&d, global.vrrp_strict);
    // Version: instance, else global, else 2; IPv6 always uses 3 (RFC 3768 is IPv4 only).
    let version = match (&d.version, family) {
        (Some((Version::V2, pos)), Family::V6) if strict => {
            strict::v2_with_ipv6(&name, pos, diags);
            Version::V3
        }
        (Some((Version::V2, pos)), Family::V6) => {
            diags.error(
                pos,
                "VRRPv2 is IPv4 only (RFC 3768): an IPv6 instance must use `version 3` (or leave \
                 `version` out); keepalived without strict mode sends VRRPv2 over IPv6 here, \
                 which no RFC defines",
            );
            Version::V3
        }
        (_, Family::V6) => Version::V3,
        (Some((v, _)), _) => *v,
        (None, _) => global.default_version(),
    };

    if strict {
        strict::warn_unused_globals(&d, strict_global, diags);
        strict::reset(&mut d, version, family, diags);
    }

    if d.vips.is_empty() {
        let lines = if no_vip_lines {
            "has no virtual_ipaddress"
        } else {
            "has no usable virtual_ipaddress left"
        };
        if version == Version::V3 || family == Family::V6 || strict {
            let kind = if strict {
                "an instance in strict mode (vrrp_strict / strict_mode)".to_owned()
            } else {
                format!("a {version} or IPv6 instance")
            };
            diags.error(
                &d.pos,
                format!(
                    "vrrp_instance {name} {lines}: keepalived refuses {kind} without one (\"No \
                     VIP specified; at least one is required\": its VRRP process stops); add \
                     `virtual_ipaddress {{ ADDRESS/PREFIX }}`"
                ),
            );
            complete = false;
        } else {
            diags.warn_as(
                Category::KeepalivedIgnores,
                &d.pos,
                format!(
                    "vrrp_instance {name} {lines}: keepalived runs it with the warning \"No VIP \
                     specified; at least one is sensible\", and so does this daemon: its adverts \
                     list no address, and a change of state moves no address (a notify script \
                     may)"
                ),
            );
        }
    }

    let advert_int = match &d.advert_int {
        None => Duration::from_secs(1),
        Some((raw, pos)) => check_advert_int(*raw, pos, version, diags),
    };

    let state = d.state.as_ref().map(|(s, _)| *s).unwrap_or_default();
    let priority = strict::priority(&d);
    let (preempt, preempt_delay) = preemption(&d, &name, state, priority, diags);

    let auth = match (&d.auth, version) {
        (Some(a), Version::V3) if a.auth.is_some() => {
            diags.warn(
                &a.pos,
                format!(
                    "VRRPv3 has no authentication (RFC 5798 removed it): the authentication block of \
                     vrrp_instance {name} is ignored, as keepalived does"
                ),
            );
            None
        }
        (a, _) => a.as_ref().and_then(|a| a.auth),
    };

    if let (None, false, Some((InitialState::Master, pos))) =
        (&d.priority, d.seen.contains("priority"), &d.state)
    {
        diags.warn(
            pos,
            format!(
                "vrrp_instance {name}: `state MASTER` without `priority`: keepalived makes it \
                 the address owner (priority 255, it always wins and always accepts), and so \
                 does this daemon; write `priority 255`, or a priority below 255 if another \
                 router may take over"
            ),
        );
    }
    let accept_mode = super::builder::accept::resolve(&d, priority, strict);
    let (lower_prio_no_advert, higher_prio_send_advert) = strict::answers(
        &d,
        strict,
        (
            strict_global
                .lower_prio_no_advert
                .as_ref()
                .is_some_and(|(v, _)| *v),
            strict_global
                .higher_prio_send_advert
                .as_ref()
                .is_some_and(|(v, _)| *v),
        ),
    );
    let unicast_ttl = match d.unicast_ttl {
        Some((_, pos)) if d.unicast_peers.is_empty() => {
            diags.warn(
                &pos,
                format!(
                    "vrrp_instance {name}: unicast_ttl without unicast_peer is ignored: multicast \
                     adverts keep TTL 255 (keepalived warns too, and then sends them with TTL 0)"
                ),
            );
            None
        }
        t => t.map(|(v, _)| v),
    };
    let mut garp = resolve_garp(&d.garp, &global.garp, Some(global_lower));
    if strict {
        super::builder::accept::strict_garp(&d.garp, &mut garp);
    }
    let (vips, vips_excluded) = fit_vips(&name, d.vips, d.vips_excluded, family, version, diags);

    let spans = InstanceSpans {
        state: d.state.as_ref().map(|(_, p)| p.location()),
        vrid: d.vrid.as_ref().map(|(_, p)| p.location()),
        priority: d.priority.as_ref().map(|(_, p)| p.location()),
        advert_int: d.advert_int.as_ref().map(|(_, p)| p.location()),
        version: d.version.as_ref().map(|(_, p)| p.location()),
        nopreempt: match &d.preempt {
            Some((false, p)) => Some(p.location()),
            _ => None,
        },
        auth: d.auth.as_ref().map(|a| a.pos.location()),
        unicast_src_ip: d.unicast_src_ip.as_ref().map(|(_, p)| p.location()),
        unicast_peers: d.unicast_peers.iter().map(|(_, p)| p.location()).collect(),
    };
    if !complete {
        return None;
    }
    let (interface, _) = d.interface?;
    let (vrid, _) = d.vrid?;
    let vmac = d
        .extra
        .vmac
        .finish(&d.name, !d.unicast_peers.is_empty(), diags);
    Some(Instance {
        spans,
        name: d.name,
        location: d.pos.location(),
        state,
        interface,
        vrid,
        priority,
        advert_int,
        version,
        family,
        preempt,
        preempt_delay,
        auth,
        unicast_src_ip: d.unicast_src_ip.map(|(v, _)| v),
        unicast_peers: d.unicast_peers.into_iter().map(|(ip, _)| ip).collect(),
        unicast_peer_ttl: d.unicast_peer_ttl,
        unicast_ttl,
        mcast_src_ip: d.mcast_src_ip.map(|(v, _)| v),
        vips,
        vips_excluded,
        garp,
        track_scripts: d.track_scripts,
        track_interfaces: d.track_interfaces,
        track_files: d.track_files,
        track_processes: d.track_processes,
        virtual_routes: d.virtual_routes,
        virtual_rules: d.virtual_rules,
        smtp_alert: global.smtp.alerts(d.smtp_alert),
        notify: d.notify,
        v3_checksum_as_v2: d
            .v3_checksum_as_v2
            .map(|(v, _)| v)
            .unwrap_or(global.v3_checksum_as_v2),
        dont_track_primary: d.extra.dont_track_primary,
        promote_secondaries: d.extra.promote_secondaries,
        unicast_fault_no_peer: d.extra.unicast_fault_no_peer,
        mcast_group: d
            .extra
            .mcast_group(family, global.mcast_group4, global.mcast_group6, diags),
        notify_priority_changes: d
            .extra
            .notify_priority_changes
            .map_or(global.notify_priority_changes, |(v, _)| v),
        vmac,
        accept_mode,
        strict,
        lower_prio_no_advert,
        higher_prio_send_advert,
    })
}

/// keepalived's answer to more virtual addresses than an advert carries: the first ones are
/// advertised, the rest are moved to `virtual_ipaddress_excluded` (still added and removed
/// with the instance, not advertised). Never a Master that cannot advertise.
fn fit_vips(
    name: &str,
    mut vips: Vec<VirtualAddress>,
    mut excluded: Vec<VirtualAddress>,
    family: Family,
    version: Version,
    diags: &mut Diags,
) -> (Vec<VirtualAddress>, Vec<VirtualAddress>) {
    let max = max_advertised(family, version, DEFAULT_MTU);
    if vips.len() > max {
        let extra = vips.split_off(max);
        diags.warn(
            &extra[0].location,
            format!(
                "vrrp_instance {name} has {} virtual addresses but an advert carries at most {max} \
                 ({family}, {version}, 1500-byte MTU): {} and the {} after it are moved to \
                 virtual_ipaddress_excluded (set and removed with the instance, not advertised), \
                 as keepalived does",
                max + extra.len(),
                extra[0].addr,
                extra.len() - 1
            ),
        );
        excluded.splice(0..0, extra);
    }
    (vips, excluded)
}

/// Range check and keepalived's rounding: v2 to whole seconds, v3 to 10 ms.
/// `preempt` and `preempt_delay` as keepalived runs them (`vrrp_complete_instance`): the
/// address owner and an initial MASTER always preempt, and at once; `nopreempt` makes a
/// delay meaningless. Each reset is reported where the setting is written.
fn preemption(
    d: &InstanceDraft,
    name: &str,
    state: InitialState,
    priority: u8,
    diags: &mut Diags,
) -> (bool, Duration) {
    let reset = |diags: &mut Diags, pos: &Pos, what: String| {
        diags.warn_as(
            Category::KeepalivedIgnores,
            pos,
            format!("vrrp_instance {name}: {what}"),
        );
    };
    let mut preempt = d.preempt.as_ref().is_none_or(|(p, _)| *p);
    let mut delay = d
        .preempt_delay
        .as_ref()
        .map(|(v, _)| *v)
        .unwrap_or_default();
    if let (false, Some((_, pos))) = (preempt, &d.preempt) {
        let why = if priority == 255 {
            Some(
                "priority 255: keepalived resets it (\"nopreempt is incompatible with priority \
                 255\"), and so does this daemon: the address owner always preempts",
            )
        } else if state == InitialState::Master {
            Some(
                "`state MASTER`: keepalived clears it (\"nopreempt will not work with initial \
                 state MASTER\"), and so does this daemon, so this instance preempts; use \
                 `state BACKUP` on every router to stop preemption",
            )
        } else {
            None
        };
        if let Some(why) = why {
            reset(diags, pos, format!("nopreempt with {why}"));
            preempt = true;
        }
    }
    if let (false, Some((_, pos))) = (delay.is_zero(), &d.preempt_delay) {
        let why = if state == InitialState::Master {
            Some(
                "`state MASTER`: keepalived clears it (\"preempt delay will not work with \
                 initial state MASTER\")",
            )
        } else if !preempt {
            Some(
                "nopreempt: keepalived resets it (\"preempt_delay is incompatible with \
                 nopreempt mode\")",
            )
        } else {
            None
        };
        if let Some(why) = why {
            reset(
                diags,
                pos,
                format!("preempt_delay with {why}, and so does this daemon: it has no delay"),
            );
            delay = Duration::ZERO;
        }
    }
    (preempt, delay)
}

fn check_advert_int(raw: Duration, pos: &Pos, version: Version, diags: &mut Diags) -> Duration {
    let max = version.max_advert_int();
    // keepalived's parser takes 0.01 to 255 s and ignores anything else (its default, 1 s,
    // stays); vrrp_complete_instance then lowers a VRRPv3 interval to 40.95 s.
    if raw < ADVERT_MIN || raw > Version::V2.max_advert_int() {
        diags.warn_as(
            Category::KeepalivedIgnores,
            pos,
            format!(
                "advert_int {} is not valid (0.01 to 255 s): keepalived ignores it (\"Advert \
                 interval not valid! Must be > 0 - ignoring\") and uses its default 1 s, and so \
                 does this daemon",
                show_duration(raw)
            ),
        );
        return Duration::from_secs(1);
    }
    if raw > max {
        diags.warn_as(
            Category::KeepalivedIgnores,
            pos,
            format!(
                "advert_int {} is above the {version} maximum (the field holds at most 4095 \
                 centiseconds): keepalived sets {} (\"VRRPv3 advertisement interval is out of \
                 range\"), and so does this daemon",
                show_duration(raw),
                show_duration(max)
            ),
        );
        return max;
    }
    let rounded = match version {
        Version::V2 => round_to(raw, Duration::from_secs(1)).max(Duration::from_secs(1)),
        Version::V3 => round_to(raw, ADVERT_MIN).max(ADVERT_MIN),
    };
    if rounded != raw {
        let why = match version {
            Version::V2 => {
                "VRRPv2 advertises whole seconds (RFC 3768 §5.3.7); use `version 3` for sub-second \
                 intervals"
            }
            Version::V3 => "VRRPv3 advertises centiseconds (RFC 5798 §5.2.7)",
        };
        diags.warn(
            pos,
            format!(
                "advert_int {} is rounded to {}, as keepalived does: {why}",
                show_duration(raw),
                show_duration(rounded)
            ),
        );
    }
    rounded
}

/// One virtual router per (interface, family, VRID): the receive path tells them apart by
/// exactly that (PROTOCOL.md).
/// The XDP maps hold at most `MAX_INSTANCES - 1` instances (slot 0 is never assigned) and
/// `MAX_UNICAST_PEERS` unicast peers: more would pass `check` and stop `run` with a full
/// map. (keepalived has no such limit.)
fn check_capacity(instances: &[Instance], diags: &mut Diags) {
    let max_instances = vrrp_common::MAX_INSTANCES as usize - 1;
    if let Some(first_over) = instances.get(max_instances) {
        diags.error(
            &first_over.location,
            format!(
                "vrrp_instance {} is instance number {}: one agent runs at most {max_instances} \
                 instances (the capacity of its XDP maps); remove {} of them",
                first_over.name,
                max_instances + 1,
                instances.len() - max_instances
            ),
        );
    }
    let max_peers = vrrp_common::MAX_UNICAST_PEERS as usize;
    let mut peers = 0;
    for instance in instances {
        peers += instance.unicast_peers.len();
        if peers > max_peers {
            diags.error(
                &instance.location,
                format!(
                    "vrrp_instance {} brings the unicast_peer addresses of all instances to \
                     {peers}: one agent accepts at most {max_peers} (the capacity of its XDP \
                     map); use fewer peers or multicast",
                    instance.name
                ),
            );
            break;
        }
    }
}

fn check_vrids(instances: &[Instance], diags: &mut Diags) {
    let mut seen: HashMap<(&str, Family, u8), &Instance> = HashMap::new();
    for instance in instances {
        let key = (instance.interface.as_str(), instance.family, instance.vrid);
        match seen.get(&key) {
            Some(first) => diags.error(
                &instance.location,
                format!(
                    "vrrp_instance {} uses virtual_router_id {} on {} ({}), which vrrp_instance {} at {} \
                     already uses: give one of them a different virtual_router_id",
                    instance.name, instance.vrid, instance.interface, instance.family, first.name, first.location
                ),
            ),
            None => {
                seen.insert(key, instance);
            }
        }
    }
}

fn check_track_refs(config: &Config, scripts: &[TrackRef], files: &[TrackRef], diags: &mut Diags) {
    for r in scripts {
        if config.script(&r.name).is_none() {
            diags.error(
                &r.location,
                format!(
                    "track_script `{}` names no vrrp_script{} (keepalived would only warn and run \
                     without this health check: define the vrrp_script or remove the line)",
                    r.name,
                    did_you_mean(&r.name, config.scripts.iter().map(|s| s.name.as_str())),
                ),
            );
        }
    }
    for r in files {
        if config.track_file(&r.name).is_none() {
            diags.error(
                &r.location,
                format!(
                    "track_file `{}` names no vrrp_track_file{} (define it with `vrrp_track_file {} {{ \
                     file \"/path\" }}` or remove the line)",
                    r.name,
                    did_you_mean(&r.name, config.track_files.iter().map(|f| f.name.as_str())),
                    r.name
                ),
            );
        }
    }
}

fn finish_sync_groups(
    groups: Vec<SyncGroupDraft>,
    instances: &HashMap<String, Pos>,
    diags: &mut Diags,
) -> Vec<SyncGroup> {
    let mut out: Vec<SyncGroup> = Vec::new();
    let mut member_of: HashMap<String, (String, Pos)> = HashMap::new();
    let names: Vec<&str> = instances.keys().map(String::as_str).collect();
    for g in groups {
        if let Some(first) = out.iter().find(|o| o.name == g.name) {
            diags.error(
                &g.pos,
                format!(
                    "vrrp_sync_group {} is defined twice (first at {}): rename or remove one",
                    g.name, first.location
                ),
            );
            continue;
        }
        let mut members = Vec::new();
        for (member, pos) in &g.members {
            if !instances.contains_key(member) {
                let mut sorted = names.clone();
                sorted.sort_unstable();
                diags.warn_as(
                    Category::KeepalivedIgnores,
                    pos,
                    format!(
                        "vrrp_sync_group {} names `{member}`, which is not a vrrp_instance{}: \
                         keepalived ignores it (\"Virtual router specified in sync group doesn't \
                         exist - ignoring\"), and so does this daemon",
                        g.name,
                        did_you_mean(member, sorted)
                    ),
                );
                continue;
            }
            if let Some((other, first)) = member_of.get(member) {
                diags.warn_as(
                    Category::KeepalivedIgnores,
                    pos,
                    format!(
                        "vrrp_instance {member} is already in vrrp_sync_group {other} (at {first}); an \
                         instance can be in one sync group only: keepalived ignores it here \
                         (\"cannot exist in more than one sync group\"), and so does this daemon"
                    ),
                );
                continue;
            }
            member_of.insert(member.clone(), (g.name.clone(), pos.clone()));
            members.push(member.clone());
        }
        if members.is_empty() {
            // keepalived removes a sync group without members; the builder reported an empty
            // or missing group block.
            if !g.members.is_empty() {
                diags.warn_as(
                    Category::KeepalivedIgnores,
                    &g.pos,
                    format!(
                        "vrrp_sync_group {} has no vrrp_instance left: keepalived removes it \
                         (\"no matching virtual router found in group declaration - removing\"), \
                         and so does this daemon",
                        g.name
                    ),
                );
            }
            continue;
        }
        if members.len() == 1 {
            diags.warn(
                &g.pos,
                format!(
                    "vrrp_sync_group {} has only one vrrp_instance, so it synchronises nothing (keepalived \
                     warns about this too)",
                    g.name
                ),
            );
        }
        out.push(SyncGroup {
            name: g.name,
            location: g.pos.location(),
            members,
            track_scripts: g.track_scripts,
            track_interfaces: g.track_interfaces,
            track_files: g.track_files,
            track_processes: g.track_processes,
            smtp_alert: g.smtp_alert.unwrap_or(false),
            notify: g.notify,
        });
    }
    out
}

/// keepalived runs a vrrp_script (and reads a track file) only if something tracks it.
fn warn_unused(config: &Config, diags: &mut Diags) {
    let tracked = |pick: fn(&Instance) -> &Vec<TrackRef>,
                   gpick: fn(&SyncGroup) -> &Vec<TrackRef>| {
        let mut names: HashSet<&str> = HashSet::new();
        names.extend(
            config
                .instances
                .iter()
                .flat_map(|i| pick(i).iter().map(|r| r.name.as_str())),
        );
        names.extend(
            config
                .sync_groups
                .iter()
                .flat_map(|g| gpick(g).iter().map(|r| r.name.as_str())),
        );
        names
    };
    let scripts = tracked(|i| &i.track_scripts, |g| &g.track_scripts);
    for s in config
        .scripts
        .iter()
        .filter(|s| !scripts.contains(s.name.as_str()))
    {
        diags.warn(
            &s.location,
            format!(
                "vrrp_script {} is not used by any track_script, so it never runs",
                s.name
            ),
        );
    }
    let files = tracked(|i| &i.track_files, |g| &g.track_files);
    for f in config
        .track_files
        .iter()
        .filter(|f| !files.contains(f.name.as_str()))
    {
        diags.warn(
            &f.location,
            format!(
                "vrrp_track_file {} is not used by any track_file, so it is never read",
                f.name
            ),
        );
    }
    let processes = tracked(|i| &i.track_processes, |g| &g.track_processes);
    for p in config
        .track_processes
        .iter()
        .filter(|p| !processes.contains(p.name.as_str()))
    {
        diags.warn(
            &p.location,
            format!(
                "vrrp_track_process {} is not used by any track_process, so it is not watched",
                p.name
            ),
        );
    }
}

fn run_host_checks(checks: &[HostCheck], diags: &mut Diags) {
    for check in checks {
        match check {
            HostCheck::Interface {
                name,
                pos,
                used_by,
                must_not_be_loopback,
            } => {
                let loopback = interface_is_loopback(name);
                if loopback.is_none() {
                    diags.warn_once(
                        &format!("interface {name}"),
                        pos,
                        format!(
                            "interface `{name}` does not exist on this host; {used_by} cannot \
                             work until it does"
                        ),
                    );
                } else if *must_not_be_loopback && loopback == Some(true) {
                    diags.error(
                        pos,
                        format!(
                            "`{name}` is a loopback interface: VRRP needs an Ethernet-like interface that \
                             reaches the other routers"
                        ),
                    );
                }
            }
            HostCheck::Program {
                command,
                pos,
                used_by,
            } => {
                let Some(program) = command.split_whitespace().next() else {
                    continue;
                };
                if !program.starts_with('/') {
                    continue;
                }
                let problem = match fs::metadata(program) {
                    Err(_) => "does not exist on this host",
                    Ok(meta) if meta.is_dir() => "is a directory, not a program",
                    Ok(meta) if meta.permissions().mode() & 0o111 == 0 => {
                        "is not executable (chmod +x it)"
                    }
                    Ok(_) => continue,
                };
                // One warning per program, at its first use.
                diags.warn_once(
                    &format!("program {program}"),
                    pos,
                    format!(
                        "`{program}` {problem}: {used_by} (and anything else that runs it) will fail \
                         until this is fixed"
                    ),
                );
            }
        }
    }
}
