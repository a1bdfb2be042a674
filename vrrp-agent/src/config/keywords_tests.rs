//! The keepalived keywords of `builder/extras.rs`: process tuning, start-up delay, instance
//! options, and those that are accepted with a warning or refused as "not supported yet",
//! each message at its file:line:column.
use std::{path::Path, time::Duration};

use super::*;

// The loader helpers of the main config tests (same pretend file, same messages).
use super::tests::{errors, ok, ORIGIN};

#[track_caller]
fn has(diags: &[Diagnostic], line: u32, column: u32, fragment: &str) {
    assert!(
        diags.iter().any(|d| d.line == line
            && d.column == column
            && d.file == Path::new(ORIGIN)
            && d.message.contains(fragment)),
        "expected {line}:{column} containing {fragment:?}; got:\n{}",
        diags
            .iter()
            .map(|d| format!("  {}:{}: {}", d.line, d.column, d.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `global_defs` with `globals` (from line 2), then one instance with `body` (its first
/// body line is line 5 + the number of global lines).
fn conf(globals: &str, body: &str) -> String {
    format!(
        "global_defs {{\n{globals}\n}}\nvrrp_instance VI_1 {{\n{body}\n    interface eth0\n    \
         virtual_router_id 51\n    virtual_ipaddress {{\n        198.18.0.100/24\n    }}\n}}\n"
    )
}

#[test]
fn process_tuning_is_read() {
    let l = ok(&conf(
        "  vrrp_priority -15\n  vrrp_no_swap\n  vrrp_rt_priority 60\n  vrrp_cpu_affinity 0 1\n  \
         vrrp_rlimit_rttime 20000",
        "",
    ));
    let t = &l.config.global.tuning;
    assert_eq!(t.nice, Some(-15));
    assert!(t.no_swap);
    assert_eq!(t.rt_priority, Some(60));
    assert_eq!(t.cpu_affinity, vec![0, 1]);
    assert_eq!(t.rlimit_rttime_us, Some(20_000));
    assert_eq!(t.effective_rlimit_rttime_us(), Some(20_000));
    assert_eq!(t.location.as_ref().map(|l| l.line), Some(2));
}

#[test]
fn rt_priority_alone_gets_keepalived_default_rttime() {
    let l = ok(&conf("  vrrp_rt_priority 10", ""));
    assert_eq!(
        l.config.global.tuning.effective_rlimit_rttime_us(),
        Some(RLIMIT_RTTIME_DEFAULT_US)
    );
    let none = ok(&conf("", ""));
    assert!(none.config.global.tuning.is_empty());
    assert_eq!(none.config.global.tuning.effective_rlimit_rttime_us(), None);
}

#[test]
fn tuning_values_are_clamped_or_refused_like_keepalived() {
    // Clamped to the SCHED_RR range, with a warning.
    let l = ok(&conf("  vrrp_rt_priority 150", ""));
    assert_eq!(l.config.global.tuning.rt_priority, Some(99));
    has(&l.warnings, 2, 20, "99 is used, as keepalived does");
    let l = ok(&conf("  vrrp_rt_priority 0", ""));
    assert_eq!(l.config.global.tuning.rt_priority, Some(1));
    // rttime 1 -> 2; the old spelling is read with a warning.
    let l = ok(&conf("  vrrp_rlimit_rtime 1", ""));
    assert_eq!(l.config.global.tuning.rlimit_rttime_us, Some(2));
    has(&l.warnings, 2, 3, "deprecated spelling");
    has(&l.warnings, 2, 21, "raised to 2");
    // A bad CPU id: keepalived sets no affinity.
    let l = ok(&conf("  vrrp_cpu_affinity 0 x", ""));
    assert!(l.config.global.tuning.cpu_affinity.is_empty());
    has(&l.warnings, 2, 23, "no CPU affinity is set");
    // Out of range nice value, not a number.
    has(
        &errors(&conf("  vrrp_priority 20", "")),
        2,
        17,
        "out of range",
    );
    has(
        &errors(&conf("  vrrp_rt_priority high", "")),
        2,
        20,
        "expected a number",
    );
    has(
        &errors(&conf("  vrrp_no_swap yes", "")),
        2,
        16,
        "takes no value",
    );
}

#[test]
fn startup_delay() {
    let l = ok(&conf("  vrrp_startup_delay 2.5", ""));
    assert_eq!(
        l.config.global.startup_delay,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(ok(&conf("", "")).config.global.startup_delay, None);
    let l = ok(&conf("  vrrp_startup_delay 90", ""));
    has(&l.warnings, 2, 22, "very large");
    has(
        &errors(&conf("  vrrp_startup_delay 0", "")),
        2,
        22,
        "invalid",
    );
    has(
        &errors(&conf("  vrrp_startup_delay soon", "")),
        2,
        22,
        "expected seconds",
    );
}

#[test]
fn instance_options() {
    let l = ok(&conf(
        "",
        "    dont_track_primary\n    promote_secondaries\n    unicast_fault_no_peer",
    ));
    let i = &l.config.instances[0];
    assert!(i.dont_track_primary && i.promote_secondaries && i.unicast_fault_no_peer);
    let plain = ok(&conf("", ""));
    let i = &plain.config.instances[0];
    assert!(!i.dont_track_primary && !i.promote_secondaries && !i.unicast_fault_no_peer);
    has(
        &errors(&conf("", "    dont_track_primary on")),
        5,
        24,
        "takes no value",
    );
}

#[test]
fn accepted_with_a_warning_that_says_why() {
    // debug: keepalived only prints it in its dump.
    let l = ok(&conf("", "    debug 2"));
    has(
        &l.warnings,
        5,
        5,
        "`debug` in vrrp_instance VI_1 has no effect",
    );
    has(
        &ok(&conf("", "    debug 9")).warnings,
        5,
        11,
        "Debug value not valid",
    );
    // skip_check_adv_addr: said once, global or instance.
    let l = ok(&conf(
        "  vrrp_skip_check_adv_addr",
        "    skip_check_adv_addr on",
    ));
    has(&l.warnings, 2, 3, "never checks the address list");
    assert_eq!(
        l.warnings
            .iter()
            .filter(|w| w.message.contains("address list"))
            .count(),
        1
    );
    // default_interface: static_ipaddress only in keepalived 2.2.7.
    let l = ok(&conf("  default_interface eth1", ""));
    has(&l.warnings, 2, 3, "only for `static_ipaddress`");
    // An instance without `interface` stays an error, as in keepalived.
    let e = errors("global_defs {\n  default_interface eth1\n}\nvrrp_instance V {\n  virtual_router_id 1\n  virtual_ipaddress {\n    198.18.0.1\n  }\n}\n");
    has(&e, 4, 1, "has no `interface`");
    // dynamic_interfaces: what it does here, and an unknown option.
    let l = ok(&conf("  dynamic_interfaces allow_if_changes", ""));
    has(&l.warnings, 2, 3, "must exist when the daemon starts");
    let l = ok(&conf("  dynamic_interfaces sometimes", ""));
    has(&l.warnings, 2, 22, "unknown dynamic_interfaces option");
    // The standard groups are the defaults: accepted silently.
    let l = ok(&conf(
        "  vrrp_mcast_group4 224.0.0.18\n  vrrp_mcast_group6 ff02::12",
        "    mcast_dst_ip 224.0.0.18",
    ));
    assert!(
        l.warnings.iter().all(|w| !w.message.contains("mcast")),
        "{:?}",
        l.warnings
    );
    // Not multicast: keepalived skips the line.
    let l = ok(&conf(
        "  vrrp_mcast_group4 198.18.0.1",
        "    mcast_dst_ip ff05::12",
    ));
    has(&l.warnings, 2, 21, "ignored, as keepalived does");
    has(&l.warnings, 5, 18, "of link scope");
    // Priority-change notifications switched off: nothing to do.
    ok(&conf(
        "  vrrp_notify_priority_changes off",
        "    notify_priority_changes false",
    ));
}

#[test]
fn ipv6_multicast_group_of_adverts() {
    let text = |global: &str, own: &str| {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance VI_6 {{\n    interface eth0\n    \
             virtual_router_id 51\n    version 3\n{own}\n    virtual_ipaddress {{\n        \
             2001:db8::100/64\n    }}\n}}\n"
        )
    };
    let group = |l: &Loaded| l.config.instances[0].mcast_group;
    let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
    // Default: ff02::12.
    let l = ok(&text("", ""));
    assert_eq!(group(&l), None);
    assert_eq!(
        l.config.instances[0].advert_group(),
        ip("ff02::12").unwrap()
    );
    // The global group (any scope, as keepalived), silently: it is used.
    let l = ok(&text("  vrrp_mcast_group6 ff05::1:12", ""));
    assert_eq!(group(&l), ip("ff05::1:12"));
    assert_eq!(
        l.config.global.mcast_group6,
        Some("ff05::1:12".parse().unwrap())
    );
    assert!(
        l.warnings.iter().all(|w| !w.message.contains("mcast")),
        "{:?}",
        l.warnings
    );
    // The instance's own (link scope) wins, the standard one included.
    let l = ok(&text(
        "  vrrp_mcast_group6 ff05::1:12",
        "    mcast_dst_ip ff02::1:12",
    ));
    assert_eq!(group(&l), ip("ff02::1:12"));
    let l = ok(&text(
        "  vrrp_mcast_group6 ff05::1:12",
        "    mcast_dst_ip ff02::12",
    ));
    assert_eq!(group(&l), None);
    // An IPv4 instance keeps 224.0.0.18 under vrrp_mcast_group6; an IPv6 group given as its
    // mcast_dst_ip is skipped with a warning, as keepalived does.
    let l = ok(&conf("  vrrp_mcast_group6 ff02::1:12", ""));
    assert_eq!(group(&l), None);
    let l = ok(&conf("", "    mcast_dst_ip ff02::1:12"));
    assert_eq!(group(&l), None);
    has(
        &l.warnings,
        5,
        18,
        "is not an IPv4 address like the instance's",
    );
}

#[test]
fn garp_extra_if_all_repeats_announcements_on_other_interfaces() {
    let other_dev = "    virtual_ipaddress_excluded {\n        198.18.1.1/24 dev eth1\n    }";
    // Without `all`: VMAC interfaces only, and there are none here.
    let l = ok(&conf("  vrrp_garp_extra_if 5", other_dev));
    has(&l.warnings, 2, 3, "sends only on VMAC interfaces");
    // `all`, but every address is on the instance's own interface.
    let l = ok(&conf("", "    garp_extra_if all 5"));
    has(
        &l.warnings,
        5,
        5,
        "no address of this instance is on another interface",
    );
    // `all` with an address on eth1: announced there every 5 s while Master.
    let extra = |l: &Loaded| l.config.instances[0].garp.extra_if;
    let l = ok(&conf("", &format!("    garp_extra_if 5 all\n{other_dev}")));
    assert_eq!(extra(&l), Some(std::time::Duration::from_secs(5)));
    // The global value applies to instances without their own; 0 is off.
    let l = ok(&conf("  vrrp_garp_extra_if all 7", other_dev));
    assert_eq!(extra(&l), Some(std::time::Duration::from_secs(7)));
    ok(&conf(
        "  vrrp_garp_extra_if all 7",
        &format!("    garp_extra_if 0\n{other_dev}"),
    ));
    // The old name, and a missing or bad time (keepalived ignores the line).
    let l = ok(&conf("", "    vmac_garp_intvl 5"));
    has(&l.warnings, 5, 5, "deprecated name of `garp_extra_if`");
    has(
        &ok(&conf("", "    garp_extra_if all")).warnings,
        5,
        5,
        "specified without time - ignoring",
    );
    has(
        &ok(&conf("", "    garp_extra_if 90000")).warnings,
        5,
        19,
        "garp_extra_if invalid - ignoring",
    );
}

#[test]
fn ipv4_multicast_group_of_adverts() {
    let group = |l: &Loaded| l.config.instances[0].mcast_group;
    let v4 = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
    // Default: the standard group.
    let l = ok(&conf("", ""));
    assert_eq!(group(&l), None);
    assert_eq!(
        l.config.instances[0].advert_group(),
        v4("224.0.0.18").unwrap()
    );
    // The global group, unless the instance says otherwise.
    let l = ok(&conf("  vrrp_mcast_group4 224.0.0.19", ""));
    assert_eq!(group(&l), v4("224.0.0.19"));
    assert_eq!(
        l.config.global.mcast_group4,
        Some("224.0.0.19".parse().unwrap())
    );
    let l = ok(&conf(
        "  vrrp_mcast_group4 224.0.0.19",
        "    mcast_dst_ip 239.1.1.1",
    ));
    assert_eq!(group(&l), v4("239.1.1.1"));
    let l = ok(&conf(
        "  vrrp_mcast_group4 224.0.0.19",
        "    mcast_dst_ip 224.0.0.18",
    ));
    assert_eq!(group(&l), None);
    // An IPv6 group for an IPv4 instance: keepalived skips it (the global group stays).
    let l = ok(&conf(
        "  vrrp_mcast_group4 224.0.0.19",
        "    mcast_dst_ip ff02::12",
    ));
    assert_eq!(group(&l), v4("224.0.0.19"));
    has(
        &l.warnings,
        5,
        18,
        "is not an IPv4 address like the instance's",
    );
}

#[test]
fn notify_priority_changes_instance_or_global() {
    let on = |l: &Loaded| l.config.instances[0].notify_priority_changes;
    assert!(!on(&ok(&conf("", ""))));
    assert!(on(&ok(&conf("  vrrp_notify_priority_changes", ""))));
    assert!(on(&ok(&conf("", "    notify_priority_changes"))));
    assert!(!on(&ok(&conf(
        "  vrrp_notify_priority_changes on",
        "    notify_priority_changes off"
    ))));
    // keepalived ignores an invalid boolean.
    let l = ok(&conf(
        "  vrrp_notify_priority_changes",
        "    notify_priority_changes maybe",
    ));
    assert!(on(&l));
    has(&l.warnings, 5, 29, "is not on, off, true, false, yes or no");
}

#[test]
fn notify_priority_changes_of_a_sync_group_is_its_members_default() {
    // keepalived 2.2.7 (vrrp.c): the instance's own setting, else its sync group's, else
    // the global one.
    let text = |global: &str, group: &str, own: &str| {
        format!(
            "global_defs {{\n{global}\n}}\n\
             vrrp_instance VI_1 {{\n{own}\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{ 198.18.0.100/24 }}\n}}\n\
             vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 52\n \
             virtual_ipaddress {{ 198.18.0.101/24 }}\n}}\n\
             vrrp_instance VI_3 {{\n interface eth0\n virtual_router_id 53\n \
             virtual_ipaddress {{ 198.18.0.102/24 }}\n}}\n\
             vrrp_sync_group G {{\n group {{ VI_1 VI_2 }}\n{group}\n}}\n"
        )
    };
    let npc = |l: &Loaded| -> Vec<bool> {
        l.config
            .instances
            .iter()
            .map(|i| i.notify_priority_changes)
            .collect()
    };
    assert_eq!(
        npc(&ok(&text("", " notify_priority_changes", ""))),
        [true, true, false]
    );
    assert_eq!(
        npc(&ok(&text(
            " vrrp_notify_priority_changes",
            " notify_priority_changes off",
            " notify_priority_changes on"
        ))),
        [true, false, true]
    );
}

#[test]
fn notify_master_rx_lower_pri_is_an_instance_notify_command() {
    let l = ok(&conf(
        "",
        "    notify_master_rx_lower_pri \"/bin/echo lower\" root",
    ));
    let c = l.config.instances[0]
        .notify
        .master_rx_lower_pri
        .as_ref()
        .unwrap();
    assert_eq!(c.command, "/bin/echo lower");
    assert_eq!(c.user.as_deref(), Some("root"));
    assert!(l.config.instances[0]
        .notify
        .all()
        .any(|(k, _)| k == "notify_master_rx_lower_pri"));
    let l = ok(&conf(
        "",
        "    notify_master_rx_lower_pri /bin/true\n    notify_master_rx_lower_pri /bin/false",
    ));
    has(&l.warnings, 6, 5, "keepalived keeps the first one");
}

#[test]
fn notify_fifo_script_goes_with_its_fifo() {
    let l = ok(&conf(
        "  vrrp_notify_fifo_script \"/bin/reader -v\" nobody\n  vrrp_notify_fifo /run/k.fifo",
        "",
    ));
    let f = l.config.global.vrrp_notify_fifo.as_ref().unwrap();
    let s = f.script.as_ref().unwrap();
    assert_eq!(s.command, "/bin/reader -v");
    assert_eq!(s.user.as_deref(), Some("nobody"));
    assert!(l.config.global.notify_fifo.is_none());
    // Without its FIFO: ignored with a warning, as keepalived runs nothing.
    let l = ok(&conf("  notify_fifo_script /bin/reader", ""));
    has(&l.warnings, 2, 3, "without `notify_fifo` does nothing");
    assert!(l.config.global.notify_fifo.is_none());
}

#[test]
fn no_virtual_ipaddress_is_not_a_keepalived_2_2_7_keyword() {
    // keepalived 2.2.7: "Unknown keyword 'no_virtual_ipaddress'" and `keepalived -t` fails.
    let e = errors(&conf("", "    no_virtual_ipaddress"));
    has(&e, 5, 5, "unknown keyword `no_virtual_ipaddress`");
}
