//! Tests of the whole loader: the seed configurations, one broken file per error, every
//! warning, includes, syntax, and a no-panic sweep over mangled input.
use std::{
    fs,
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    time::Duration,
};

use super::*;

// ----- helpers -----------------------------------------------------------------------------

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/configs")
}

fn fixture(rel: &str) -> PathBuf {
    configs_dir().join(rel)
}

/// A pretend file in a directory that does not exist (relative includes find nothing).
pub(super) const ORIGIN: &str = "/nonexistent-vrrp-agent-test/keepalived.conf";

pub(super) fn parse(text: &str) -> Result<Loaded, ConfigError> {
    parse_str(text, Path::new(ORIGIN))
}

pub(super) fn ok(text: &str) -> Loaded {
    parse(text)
        .unwrap_or_else(|e| panic!("expected a usable configuration, got:\n{e}\n---\n{text}"))
}

pub(super) fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(l) => panic!(
            "expected errors, got a configuration with warnings {:#?}\n---\n{text}",
            l.warnings
        ),
        Err(e) => e.errors,
    }
}

fn warnings(text: &str) -> Vec<Diagnostic> {
    ok(text).warnings
}

fn show(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  {}:{}: {}", d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that one of `diags` is at `line:column` and contains `fragment`.
#[track_caller]
fn assert_diag(diags: &[Diagnostic], line: u32, column: u32, fragment: &str) {
    assert!(
        diags
            .iter()
            .any(|d| d.line == line && d.column == column && d.message.contains(fragment)),
        "expected a diagnostic at {line}:{column} containing {fragment:?}; got:\n{}",
        show(diags)
    );
}

/// Asserts that no diagnostic contains `fragment`.
#[track_caller]
fn assert_no_diag(diags: &[Diagnostic], fragment: &str) {
    assert!(
        diags.iter().all(|d| !d.message.contains(fragment)),
        "expected no diagnostic containing {fragment:?}; got:\n{}",
        show(diags)
    );
}

/// Loads a file of tests/configs/broken and asserts the error.
#[track_caller]
fn assert_broken(name: &str, line: u32, column: u32, fragment: &str) {
    let path = fixture(&format!("broken/{name}"));
    match load(&path) {
        Ok(l) => panic!(
            "{name}: expected an error, got a configuration (warnings: {:#?})",
            l.warnings
        ),
        Err(e) => {
            assert_diag(&e.errors, line, column, fragment);
            assert!(
                e.errors.iter().all(|d| d.file == path),
                "{name}: errors name another file: {e}"
            );
        }
    }
}

/// A complete instance around `body` (interface `lo0test`, which does not exist, so the
/// only host warning is about it).
fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        \
         192.0.2.100/24\n    }}\n{body}\n}}\n"
    )
}

fn only_instance(l: &Loaded) -> &Instance {
    assert_eq!(l.config.instances.len(), 1, "{:#?}", l.config.instances);
    &l.config.instances[0]
}

// ----- seeds -------------------------------------------------------------------------------

fn seed(name: &str) -> Loaded {
    let path = fixture(&format!("seeds/{name}"));
    load(&path).unwrap_or_else(|e| panic!("{name} must load:\n{e}"))
}

#[test]
fn every_seed_loads_without_errors() {
    let mut count = 0;
    let mut entries: Vec<_> = fs::read_dir(configs_dir().join("seeds"))
        .unwrap_or_else(|e| panic!("tests/configs/seeds: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    entries.sort();
    for path in entries {
        let loaded = load(&path).unwrap_or_else(|e| panic!("{} must load:\n{e}", path.display()));
        assert!(!loaded.config.instances.is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 19, "only {count} seed configurations found");
}

#[test]
fn seed_000_nginx_master_and_backup() {
    let master = seed("000-nginx-master.conf");
    let c = &master.config;
    assert_eq!(c.global.router_id.as_deref(), Some("NGINX_MASTER"));
    assert_eq!(c.global.script_user, Some(("root".to_owned(), None)));
    assert!(c.global.enable_script_security);
    let s = &c.scripts[0];
    assert_eq!(
        (s.name.as_str(), s.script.as_str()),
        ("check_nginx", "/etc/keepalived/check_nginx.sh")
    );
    assert_eq!(
        (s.interval, s.weight, s.fall, s.rise),
        (Duration::from_secs(2), -20, 2, 2)
    );
    assert_eq!(s.timeout, Some(Duration::from_secs(5)));
    let i = only_instance(&master);
    assert_eq!(
        (i.state, i.vrid, i.priority, i.preempt),
        (InitialState::Master, 51, 100, true)
    );
    assert_eq!(i.auth, Some(Auth::Pass(*b"secret12")));
    assert_eq!(i.vips[0].label.as_deref(), Some("eth0:1"));
    assert_eq!(i.vips[0].prefix_len, 24);
    assert_diag(
        &master.warnings,
        33,
        11,
        "auth_pass is longer than 8 characters",
    );

    let backup = seed("000-nginx-backup.conf");
    let i = only_instance(&backup);
    assert_eq!(
        (i.state, i.priority, i.preempt),
        (InitialState::Backup, 90, false)
    );

    let notify = seed("000-nginx-master-notify.conf");
    let i = only_instance(&notify);
    assert_eq!(
        i.notify.generic.as_ref().map(|n| n.command.as_str()),
        Some("/etc/keepalived/notify.sh")
    );
    assert_diag(
        &notify.warnings,
        16,
        1,
        "`log_level` is accepted but has no effect",
    );
}

#[test]
fn seed_001_haproxy() {
    let l = seed("001-haproxy-01.conf");
    let i = only_instance(&l);
    assert_eq!(i.unicast_src_ip, Some(IpAddr::from([10, 20, 30, 11])));
    assert_eq!(i.unicast_peers, vec![IpAddr::from([10, 20, 30, 12])]);
    assert!(i.is_unicast());
    // `Infra$2026!`: `!` starts a comment (keepalived), and only 8 characters are sent.
    assert_eq!(i.auth, Some(Auth::Pass(*b"Infra$20")));
    assert_diag(
        &l.warnings,
        26,
        21,
        "`!` starts a comment even inside a word",
    );
    assert_diag(
        &l.warnings,
        26,
        11,
        "only the first 8 (`Infra$20`) are used",
    );
    // nopreempt with state MASTER: ignored, as keepalived does.
    assert!(i.preempt);
    assert_diag(
        &l.warnings,
        23,
        1,
        "nopreempt with `state MASTER`: keepalived clears it",
    );
    assert_eq!(l.config.scripts[0].weight, -30);
    assert_eq!(l.config.scripts[0].script, "/usr/bin/killall -0 haproxy");
    assert_eq!(
        (
            l.config.global.garp.master_delay,
            l.config.global.garp.master_repeat
        ),
        (Duration::from_secs(5), 3)
    );
    assert_eq!(
        (i.garp.master_delay, i.garp.master_repeat),
        (Duration::from_secs(5), 3)
    );
    assert_eq!(
        i.notify.master.as_ref().map(|n| n.command.as_str()),
        Some("/etc/keepalived/notify.sh MASTER")
    );
    assert_eq!(
        i.notify.fault.as_ref().map(|n| n.program()),
        Some("/etc/keepalived/notify.sh")
    );
    assert_eq!(i.track_scripts[0].name, "chk_haproxy");

    let aa = seed("001-haproxy-active-active-02.conf");
    let names: Vec<_> = aa
        .config
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.vrid, i.state))
        .collect();
    assert_eq!(
        names,
        vec![
            ("VI_1", 51, InitialState::Backup),
            ("VI_2", 52, InitialState::Master)
        ]
    );
    assert_eq!(aa.config.instances[1].auth, Some(Auth::Pass(*b"Infra$VI")));

    let reference = seed("001-haproxy-reference-01.conf");
    let i = only_instance(&reference);
    assert_eq!(i.auth, Some(Auth::Pass(*b"Infra$HA")));
    assert_eq!(i.track_interfaces[0].name, "eth0");
    assert_eq!(i.track_interfaces[0].weight, Some(-40));
    assert!(!i.preempt);
    assert_diag(
        &reference.warnings,
        7,
        1,
        "`log_facility` is accepted but has no effect",
    );

    let sg = seed("001-haproxy-sync-group.conf");
    let g = &sg.config.sync_groups[0];
    assert_eq!(
        (g.name.as_str(), g.members.clone()),
        ("SG_1", vec!["VI_1".to_owned(), "VI_2".to_owned()])
    );
    assert!(g.notify.master.is_some() && g.notify.backup.is_some() && g.notify.fault.is_some());
    assert_eq!(
        sg.config.sync_group_of("VI_2").map(|g| g.name.as_str()),
        Some("SG_1")
    );

    let split = seed("001-haproxy-split-brain.conf");
    let names: Vec<_> = only_instance(&split)
        .track_scripts
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, vec!["chk_haproxy", "chk_gateway"]);

    let delay = seed("001-haproxy-preempt-delay.conf");
    assert_eq!(
        only_instance(&delay).preempt_delay,
        Duration::from_secs(300)
    );
}

#[test]
fn seed_002_nginx_plus() {
    let l = seed("002-nginx-plus.conf");
    assert_eq!(l.config.global.vrrp_version, Some(Version::V3));
    let i = only_instance(&l);
    assert_eq!(
        (i.version, i.priority, i.state),
        (Version::V3, 101, InitialState::Backup)
    );
    assert_eq!(i.advert_centisecs().get(), 100);
    assert_eq!(
        i.notify.generic.as_ref().map(|n| n.command.as_str()),
        Some("/usr/libexec/keepalived/nginx-ha-notify")
    );
    assert_eq!(i.garp.master_refresh, Some(Duration::from_secs(5)));
    assert_eq!(i.garp.master_refresh_repeat, 1);
    assert_eq!(
        l.config
            .script("chk_nginx_service")
            .map(|s| (s.interval, s.weight)),
        Some((Duration::from_secs(3), 50))
    );
    assert_eq!(
        l.config.script("chk_manual_failover").map(|s| s.interval),
        Some(Duration::from_secs(10))
    );

    let v6 = seed("002-nginx-plus-ipv6.conf");
    let vi2 = v6.config.instance("VI_2").unwrap_or_else(|| panic!("VI_2"));
    assert_eq!(
        (vi2.family, vi2.version, vi2.vrid),
        (Family::V6, Version::V3, 51)
    );
    assert_eq!(vi2.unicast_src_ip, "1234:5678:9abc:def::3".parse().ok());
    assert_eq!(vi2.vips[0].prefix_len, 128);

    let dual = seed("002-nginx-plus-dualstack-excluded.conf");
    let i = only_instance(&dual);
    assert_eq!(i.family, Family::V4);
    assert_eq!(i.vips_excluded[0].family(), Family::V6);

    let more = seed("002-nginx-plus-more-vips.conf");
    assert_eq!(only_instance(&more).vips.len(), 2);
}

#[test]
fn seed_003_dual_master() {
    for (file, master_of) in [
        ("003-dual-master-a.conf", "VI_1"),
        ("003-dual-master-b.conf", "VI_2"),
    ] {
        let l = seed(file);
        let c = &l.config;
        assert_eq!(c.instances.len(), 2);
        let labels: Vec<_> = c
            .instances
            .iter()
            .map(|i| i.vips[0].label.clone().unwrap_or_default())
            .collect();
        assert_eq!(labels, vec!["eth0:vip1", "eth0:vip2"]);
        let vi1 = &c.instances[0];
        assert_eq!(vi1.vips[0].addr, IpAddr::from([192, 168, 1, 100]));
        assert_eq!(vi1.vips[0].dev.as_deref(), Some("eth0"));
        assert_eq!(vi1.auth, Some(Auth::Pass(*b"K33pAl1v")));
        assert_eq!(
            vi1.notify.fault.as_ref().map(|n| n.command.as_str()),
            Some("/etc/keepalived/scripts/notify.sh fault VI_1")
        );
        let master = c
            .instances
            .iter()
            .find(|i| i.state == InitialState::Master)
            .map(|i| (i.name.as_str(), i.priority));
        assert_eq!(master, Some((master_of, 150)));
        // The email settings are read (no instance has smtp_alert, so nothing is mailed);
        // the published page's obfuscated address gets a warning.
        assert_eq!(
            c.global.smtp.server,
            Some((IpAddr::from([127, 0, 0, 1]), 25))
        );
        assert!(c.instances.iter().all(|i| !i.smtp_alert));
        assert_diag(&l.warnings, 8, 26, "is not an email address");
    }
}

// ----- one broken file per error ----------------------------------------------------------

#[test]
fn broken_vrid_and_priority() {
    assert_broken(
        "vrid-out-of-range.conf",
        4,
        23,
        "`virtual_router_id` 256 is out of range: expected 1 to 255",
    );
    assert_broken(
        "priority-missing-value.conf",
        4,
        5,
        "`priority` needs a value: expected 1 to 255",
    );
}

#[test]
fn vrid_error_is_not_also_reported_as_missing() {
    let e = load(&fixture("broken/vrid-out-of-range.conf"))
        .err()
        .map(|e| e.errors)
        .unwrap_or_default();
    assert_eq!(e.len(), 1, "{}", show(&e));
}

#[test]
fn priority_255_is_the_address_owner() {
    let l = ok(&instance("    priority 255"));
    assert!(only_instance(&l).is_address_owner());
}

#[test]
fn broken_addresses() {
    // keepalived drops a prefix length after unicast_src_ip (and unicast_peer): a warning.
    let w = warnings(&instance("    unicast_src_ip 192.0.2.11/24"));
    assert_diag(&w, 7, 20, "keepalived drops `/24` and uses 192.0.2.11");
}

#[test]
fn broken_families() {
    // keepalived ignores an address of the other family ("address family must match").
    let l = ok(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                virtual_ipaddress {\n  192.0.2.100/24\n  2001:db8::100/64\n }\n}\n",
    );
    assert_diag(
        &l.warnings,
        6,
        3,
        "2001:db8::100 is IPv6 but vrrp_instance VI_1 is IPv4",
    );
    assert_eq!(only_instance(&l).vips.len(), 1);
    assert_broken(
        "unicast-src-family.conf",
        4,
        20,
        "unicast_src_ip 2001:db8::11 is IPv6 but the virtual addresses are IPv4",
    );
    assert_broken(
        "peer-family.conf",
        6,
        9,
        "unicast_peer 2001:db8::12 is IPv6 but the virtual addresses are IPv4",
    );
    assert_broken(
        "ipv6-with-version-2.conf",
        4,
        13,
        "VRRPv2 is IPv4 only (RFC 3768)",
    );
}

#[test]
fn broken_duplicate_vrid_points_at_the_second_instance() {
    let first = format!("{}:2:1", fixture("broken/duplicate-vrid.conf").display());
    assert_broken(
        "duplicate-vrid.conf",
        10,
        1,
        &format!("vrrp_instance VI_2 uses virtual_router_id 51 on eth0 (IPv4), which vrrp_instance VI_1 at {first} already uses"),
    );
}

#[test]
fn same_vrid_is_fine_on_another_family_or_interface() {
    let text = "vrrp_instance A { interface eth0\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.1 } }\n\
                vrrp_instance B { interface eth0\n virtual_router_id 51\n virtual_ipaddress { 2001:db8::1 } }\n\
                vrrp_instance C { interface eth1\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.2 } }\n";
    assert_eq!(ok(text).config.instances.len(), 3);
}

#[test]
fn broken_authentication() {
    assert_broken(
        "auth-type-ah.conf",
        5,
        19,
        "auth_type AH (IPsec Authentication Header) is a keepalived value this project does not support",
    );
    // keepalived: "Authentication specified but no password given. Ignoring".
    let l = ok(&instance("authentication {\n auth_type PASS\n}"));
    assert_diag(
        &l.warnings,
        7,
        1,
        "authentication has `auth_type PASS` but no `auth_pass`",
    );
    assert_eq!(only_instance(&l).auth, None);
}

#[test]
fn broken_references() {
    assert_broken(
        "track-script-undefined.conf",
        12,
        9,
        "track_script `chk_haprxy` names no vrrp_script; did you mean `chk_haproxy`?",
    );
    assert_broken(
        "track-file-undefined.conf",
        12,
        9,
        "track_file `maintenence` names no vrrp_track_file; did you mean `maintenance`?",
    );
}

#[test]
fn broken_braces() {
    assert_broken(
        "unclosed-block.conf",
        1,
        20,
        "the block `vrrp_instance VI_1 {` opened here is never closed",
    );
    assert_broken(
        "stray-close-brace.conf",
        8,
        1,
        "unexpected `}`: no block is open here",
    );
    // Seed 002 as scraped lost its closing braces: say where a `}` is missing.
    assert_broken(
        "002-nginx-plus-as-scraped.conf",
        6,
        1,
        "`vrrp_script` starts a top-level block, but it is inside `global_defs`",
    );
    assert_broken(
        "002-nginx-plus-as-scraped.conf",
        3,
        13,
        "the block `global_defs {` opened here is never closed",
    );
}

#[test]
fn broken_required_keywords() {
    assert_broken(
        "missing-interface.conf",
        1,
        1,
        "vrrp_instance VI_1 has no `interface`",
    );
    assert_broken(
        "missing-vrid.conf",
        1,
        1,
        "vrrp_instance VI_1 has no `virtual_router_id`",
    );
    // keepalived runs a VRRPv2 instance without addresses, with a warning; not a v3 one.
    let l = ok("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n");
    assert_diag(
        &l.warnings,
        1,
        1,
        "vrrp_instance VI_1 has no virtual_ipaddress: keepalived runs it",
    );
    assert!(only_instance(&l).vips.is_empty());
    let e = errors("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n version 3\n}\n");
    assert_diag(&e, 1, 1, "at least one is required");
    assert_broken(
        "script-without-command.conf",
        1,
        1,
        "vrrp_script chk_haproxy has no `script`",
    );
    // keepalived removes a sync group without members and runs (see compat_tests).
    let l = ok("vrrp_sync_group G {\n notify_master /bin/true\n}\n");
    assert_diag(
        &l.warnings,
        1,
        1,
        "vrrp_sync_group G has no `group { ... }`",
    );
    assert!(l.config.sync_groups.is_empty());
    let l = ok("vrrp_sync_group G {\n group {\n }\n}\n");
    assert_diag(&l.warnings, 2, 8, "the group of vrrp_sync_group G is empty");
}

#[test]
fn broken_keywords() {
    assert_broken(
        "unsupported-keyword.conf",
        4,
        5,
        "`use_ipvlan` is a keepalived keyword this project does not support (yet)",
    );
    assert_broken(
        "unsupported-global.conf",
        3,
        5,
        "`vrrp_iptables` is a keepalived keyword this project does not support (yet)",
    );
    assert_broken(
        "unknown-keyword.conf",
        4,
        5,
        "unknown keyword `priorty` in vrrp_instance; did you mean `priority`?",
    );
    assert_broken(
        "unsupported-vip-option.conf",
        5,
        33,
        "`peer` in virtual_ipaddress is a keepalived option this project does not support (yet)",
    );
    assert_broken(
        "unknown-vip-option.conf",
        5,
        33,
        "unknown option `lable` in virtual_ipaddress; did you mean `label`?",
    );
}

#[test]
fn every_unsupported_instance_keyword_is_an_error() {
    for (name, support) in keywords::INSTANCE {
        if *support != keywords::Support::Unsupported {
            continue;
        }
        let e = errors(&instance(&format!("    {name}")));
        assert_diag(
            &e,
            7,
            5,
            &format!("`{name}` is a keepalived keyword this project does not support (yet)"),
        );
    }
    assert_eq!(
        keywords::lookup(keywords::Context::Instance, "native_ipv6"),
        Some(keywords::Support::Unsupported),
    );
    for name in ["accept", "no_accept", "strict_mode"] {
        assert_eq!(
            keywords::lookup(keywords::Context::Instance, name),
            Some(keywords::Support::Supported),
            "{name}"
        );
    }
    for (name, block) in [("track_bfd", "{ b }"), ("use_ipvlan", "")] {
        let e = errors(&instance(&format!("    {name} {block}")));
        assert_diag(
            &e,
            7,
            5,
            &format!("`{name}` is a keepalived keyword this project does not support (yet)"),
        );
    }
    // keepalived: "Unknown keyword" in global_defs; deprecated but known in an instance.
    let w = warnings(&format!(
        "global_defs {{\n  lvs_sync_daemon_interface eth0\n}}\n{}",
        instance("    lvs_sync_daemon_interface eth0\n    lvs_sync_daemon_inteface eth0")
    ));
    assert_diag(
        &w,
        2,
        3,
        "unknown keyword `lvs_sync_daemon_interface` in global_defs: keepalived reports",
    );
    assert_diag(
        &w,
        10,
        5,
        "`lvs_sync_daemon_interface` belongs to keepalived's LVS",
    );
    assert_diag(&w, 11, 5, "unknown keyword `lvs_sync_daemon_inteface` in vrrp_instance (did you mean `lvs_sync_daemon_interface`?)");
}

#[test]
fn unknown_keyword_elsewhere_and_at_top_level() {
    let e = errors(&instance("    vrrp_garp_master_delay 3"));
    assert_diag(&e, 7, 5, "unknown keyword `vrrp_garp_master_delay` in vrrp_instance: it belongs in global_defs; did you mean `garp_master_delay`?");
    let e = errors("vrrp_instnce VI_1 {\n}\n");
    assert_diag(
        &e,
        1,
        1,
        "unknown keyword `vrrp_instnce` at the top level; did you mean `vrrp_instance`?",
    );
    let w = warnings(&format!("$IF =eth0\n{}", instance("")));
    assert_diag(&w, 1, 1, "`$IF` is not a defined parameter");
    let w = warnings(&instance("    bogus_keyword 1"));
    assert_diag(
        &w,
        7,
        5,
        "unknown keyword `bogus_keyword` in vrrp_instance: keepalived reports",
    );
}

#[test]
fn broken_misc() {
    assert_broken(
        "unterminated-quote.conf",
        7,
        19,
        "unterminated quoted string",
    );
    let first = format!(
        "{}:1:1",
        fixture("broken/duplicate-instance.conf").display()
    );
    assert_broken(
        "duplicate-instance.conf",
        8,
        1,
        &format!("vrrp_instance VI_1 is defined twice (first at {first})"),
    );
    assert_broken(
        "include-must-match.conf",
        2,
        10,
        "`includew conf.d/*.conf` matches no file",
    );
    let e = errors("vrrp_script a { script /bin/true }\nvrrp_script a { script /bin/true }\n");
    assert_diag(&e, 2, 1, "vrrp_script a is defined twice");
}

#[test]
fn include_loop_is_an_error() {
    let b = fixture("broken/include-loop-b.conf");
    match load(&fixture("broken/include-loop-a.conf")) {
        Ok(_) => panic!("an include loop must be an error"),
        Err(e) => {
            assert_eq!(e.errors.len(), 1, "{e}");
            assert_eq!(
                (
                    e.errors[0].file.as_path(),
                    e.errors[0].line,
                    e.errors[0].column
                ),
                (b.as_path(), 2, 9)
            );
            assert!(e.errors[0].message.starts_with("include loop: "), "{e}");
            assert!(
                e.errors[0].message.contains("include-loop-a.conf -> "),
                "{e}"
            );
        }
    }
}

#[test]
fn loopback_interface_is_an_error() {
    // `lo` exists on every Linux host.
    if !Path::new("/sys/class/net/lo").exists() {
        return;
    }
    let text = "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n";
    assert_diag(&errors(text), 2, 12, "`lo` is a loopback interface");
}

#[test]
fn bad_interface_name() {
    let text = "vrrp_instance VI_1 {\n interface eth0/1\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n";
    assert_diag(
        &errors(text),
        2,
        12,
        "`eth0/1` is not a valid interface name",
    );
}

#[test]
fn errors_are_capped() {
    let mut text = String::new();
    for _ in 0..200 {
        text.push_str("vrrp_instanc X {\n}\n");
    }
    let e = errors(&text);
    assert_eq!(e.len(), MAX_ERRORS + 1);
    assert!(
        e[MAX_ERRORS]
            .message
            .starts_with("150 more error(s) not shown"),
        "{}",
        e[MAX_ERRORS].message
    );
}

#[test]
fn display_formats() {
    let err = parse(&instance("    priorty 100"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(
        err.to_string(),
        format!("{ORIGIN}:7:5: error: unknown keyword `priorty` in vrrp_instance; did you mean `priority`?")
    );
    let two = parse(&instance("    priorty 100\n    nopreemt"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(two.to_string().lines().count(), 2);
    let w = warnings(&instance("    advert_int 1.5"));
    let w = w
        .iter()
        .find(|w| w.message.contains("advert_int"))
        .unwrap_or_else(|| panic!("warning expected"));
    assert!(
        w.to_string().starts_with(&format!(
            "{ORIGIN}:7:16: warning: advert_int 1.5 s is rounded to 2 s"
        )),
        "{w}"
    );
    assert_eq!(
        w.location(),
        Location {
            file: PathBuf::from(ORIGIN),
            line: 7,
            column: 16
        }
    );
    let e: &dyn std::error::Error = &err;
    assert!(e.to_string().contains("error:"));
}

#[test]
fn unreadable_file() {
    let e = load(Path::new("/nonexistent-vrrp-agent-test/missing.conf"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!((e.errors[0].line, e.errors[0].column), (0, 0));
    assert!(
        e.errors[0]
            .message
            .contains("cannot read the configuration file"),
        "{e}"
    );
}

// ----- warnings ----------------------------------------------------------------------------

#[test]
fn warning_auth_pass_truncated() {
    let w = warnings(&instance(
        "    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }",
    ));
    assert_diag(
        &w,
        9,
        19,
        "auth_pass is longer than 8 characters: only the first 8 (`12345678`) are used",
    );
    let l = ok(&instance(
        "    authentication { auth_type PASS; auth_pass abc; }",
    ));
    assert_eq!(only_instance(&l).auth, Some(Auth::Pass(*b"abc\0\0\0\0\0")));
    assert_no_diag(&l.warnings, "auth_pass");
}

#[test]
fn warning_auth_pass_without_type_and_auth_with_v3() {
    let l = ok(&instance(
        "    authentication {\n        auth_pass abc\n    }",
    ));
    assert_diag(
        &l.warnings,
        8,
        9,
        "auth_pass has no effect without `auth_type PASS`",
    );
    assert_eq!(only_instance(&l).auth, None);
    let l = ok(&instance(
        "    version 3\n    authentication { auth_type PASS; auth_pass abc; }",
    ));
    assert_diag(
        &l.warnings,
        8,
        5,
        "VRRPv3 has no authentication (RFC 5798 removed it)",
    );
    assert_eq!(only_instance(&l).auth, None);
}

#[test]
fn warning_nopreempt_with_master() {
    let l = ok(&instance(
        "    state MASTER\n    priority 150\n    nopreempt",
    ));
    assert_diag(
        &l.warnings,
        9,
        5,
        "nopreempt with `state MASTER`: keepalived clears it",
    );
    assert!(only_instance(&l).preempt);
    let l = ok(&instance("    state BACKUP\n    nopreempt"));
    assert!(!only_instance(&l).preempt);
    assert_no_diag(&l.warnings, "nopreempt");
}

/// Where keepalived's handlers or `vrrp_complete_instance` ignore or reset a value, the
/// instance runs as keepalived runs it, with a keepalived-ignores warning at the line.
#[test]
fn keepalived_resets_of_state_priority_version_and_preemption() {
    let warned = |body: &str, line: u32, column: u32, fragment: &str| {
        let l = ok(&instance(body));
        assert_diag(&l.warnings, line, column, fragment);
        let w = l.warnings.iter().find(|w| w.message.contains(fragment));
        assert_eq!(w.map(|w| w.category), Some(Category::KeepalivedIgnores));
        only_instance(&l).clone()
    };
    // keepalived: "state previously set as MASTER - ignoring BACKUP".
    let i = warned(
        "    state MASTER\n    state BACKUP",
        8,
        5,
        "`state BACKUP` after `state MASTER`",
    );
    assert_eq!(i.state, InitialState::Master);
    // Case-sensitive: "unknown state 'master', defaulting to BACKUP".
    let i = warned(
        "    state master\n    priority 150",
        7,
        11,
        "unknown state `master`",
    );
    assert_eq!(i.state, InitialState::Backup);
    let i = warned(
        "    state MASTER\n    state MASTR",
        8,
        11,
        "did you mean `MASTER`?",
    );
    assert_eq!(i.state, InitialState::Backup);
    // "Priority not valid! ... Using default 100", even with state MASTER.
    for bad in ["0", "300", "high", "-5"] {
        let i = warned(
            &format!("    state MASTER\n    priority {bad}"),
            8,
            14,
            "default priority 100",
        );
        assert_eq!(i.priority, 100, "priority {bad}");
    }
    // The first version wins; a conflicting one is ignored.
    let i = warned(
        "    version 2\n    version 3",
        8,
        13,
        "`version 3` conflicts with `version 2`",
    );
    assert_eq!(i.version, Version::V2);
    let i = warned(
        "    version 3\n    version 2",
        8,
        13,
        "`version 2` conflicts with `version 3`",
    );
    assert_eq!(i.version, Version::V3);
    // nopreempt and preempt_delay resets.
    let i = warned(
        "    priority 255\n    nopreempt",
        8,
        5,
        "nopreempt with priority 255",
    );
    assert!(i.preempt);
    let i = warned(
        "    state MASTER\n    priority 200\n    preempt_delay 5",
        9,
        5,
        "preempt_delay with `state MASTER`",
    );
    assert_eq!(i.preempt_delay, Duration::ZERO);
    let i = warned(
        "    nopreempt\n    preempt_delay 5",
        8,
        5,
        "preempt_delay with nopreempt",
    );
    assert_eq!((i.preempt, i.preempt_delay), (false, Duration::ZERO));
    // What keepalived keeps is kept, without a warning.
    let l = ok(&instance(
        "    state BACKUP\n    priority 150\n    preempt_delay 5",
    ));
    assert_eq!(only_instance(&l).preempt_delay, Duration::from_secs(5));
    assert_no_diag(&l.warnings, "preempt_delay");
    let l = ok(&instance("    state BACKUP\n    state MASTER"));
    assert_eq!(only_instance(&l).state, InitialState::Master);
}

/// keepalived fixes an instance's family with its first address: a `version 2` after an IPv6
/// address is ignored (VRRPv3 runs); before one it would send VRRPv2 over IPv6: refused.
#[test]
fn version_2_after_an_ipv6_address_is_ignored_and_before_one_refused() {
    let v6 = |first: &str, second: &str| {
        format!(
            "vrrp_instance VI_6 {{\n    interface eth0\n    virtual_router_id 51\n{first}\n{second}\n}}\n"
        )
    };
    let vips = "    virtual_ipaddress {\n        2001:db8::10/64\n    }";
    let l = ok(&v6(vips, "    version 2"));
    assert_diag(&l.warnings, 7, 13, "`version 2` after the IPv6 address at");
    assert_eq!(only_instance(&l).version, Version::V3);
    let peers = "    unicast_peer {\n        2001:db8::2\n    }";
    let l = ok(&v6(&format!("{peers}\n{vips}"), "    version 2"));
    assert_diag(&l.warnings, 10, 13, "`version 2` after the IPv6 address at");
    let e = errors(&v6("    version 2", vips));
    assert_diag(&e, 4, 13, "VRRPv2 is IPv4 only");
}

#[test]
fn warning_advert_int_rounding() {
    let l = ok(&instance("    advert_int 1.5"));
    assert_diag(
        &l.warnings,
        7,
        16,
        "advert_int 1.5 s is rounded to 2 s, as keepalived does: VRRPv2 advertises whole seconds",
    );
    assert_eq!(only_instance(&l).advert_int, Duration::from_secs(2));
    let l = ok(&instance("    advert_int 0.3"));
    assert_diag(&l.warnings, 7, 16, "advert_int 0.3 s is rounded to 1 s");
    assert_eq!(only_instance(&l).advert_int, Duration::from_secs(1));
    let l = ok(&instance("    version 3\n    advert_int 0.123"));
    assert_diag(
        &l.warnings,
        8,
        16,
        "advert_int 0.123 s is rounded to 0.12 s",
    );
    let i = only_instance(&l);
    assert_eq!(
        (i.advert_int, i.advert_centisecs().get()),
        (Duration::from_millis(120), 12)
    );
    let l = ok(&instance("    version 3\n    advert_int 0.01"));
    assert_no_diag(&l.warnings, "advert_int");
    let l = ok(&instance("    version 3\n    advert_int 40.95"));
    assert_eq!(only_instance(&l).advert_centisecs().get(), 4095);
}

#[test]
fn warning_missing_and_unusable_programs() {
    let text = "vrrp_script chk {\n    script \"/nonexistent-vrrp-agent-test/check.sh arg\"\n}\n".to_owned()
        + &instance(
            "    track_script {\n        chk\n    }\n    notify_master \"/nonexistent-vrrp-agent-test/n.sh MASTER\"\n    \
             notify_backup \"/nonexistent-vrrp-agent-test/n.sh BACKUP\"",
        );
    let w = warnings(&text);
    assert_diag(
        &w,
        2,
        12,
        "`/nonexistent-vrrp-agent-test/check.sh` does not exist on this host: vrrp_script chk",
    );
    assert_diag(&w, 13, 19, "`/nonexistent-vrrp-agent-test/n.sh` does not exist on this host: `notify_master` of vrrp_instance VI_1");
    assert_eq!(
        w.iter().filter(|d| d.message.contains("n.sh")).count(),
        1,
        "one warning per program:\n{}",
        show(&w)
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = dir.path().join("check.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap_or_else(|e| panic!("{e}"));
    let text = format!("vrrp_script chk {{\n script {}\n}}\n", script.display())
        + &instance("track_script { chk }");
    assert_diag(&warnings(&text), 2, 9, "is not executable (chmod +x it)");
    // Relative commands (found through PATH) are not checked.
    let text = "vrrp_script chk {\n script \"killall -0 haproxy\"\n}\n".to_owned()
        + &instance("track_script { chk }");
    assert_no_diag(&warnings(&text), "killall");
}

#[test]
fn warning_interface_missing() {
    let text = "vrrp_instance VI_1 {\n interface nonexistent9\n virtual_router_id 1\n virtual_ipaddress { \
                192.0.2.1 dev nonexistent8 }\n track_interface {\n  nonexistent9 weight -10\n }\n}\n";
    let w = warnings(text);
    assert_diag(
        &w,
        2,
        12,
        "interface `nonexistent9` does not exist on this host; vrrp_instance VI_1",
    );
    assert_diag(
        &w,
        4,
        36,
        "interface `nonexistent8` does not exist on this host",
    );
    assert_eq!(
        w.iter()
            .filter(|d| d.message.contains("nonexistent9"))
            .count(),
        1,
        "once per interface"
    );
}

#[test]
fn warning_other_subsystems_are_skipped_each_time() {
    let text = "global_defs {\n\
                notification_email {\n  root@example.com\n  ops@example.com\n }\n\
                notification_email_from keepalived@example.com\n smtp_server 127.0.0.1\n smtp_connect_timeout 30\n\
                lvs_flush\n checker_log_all_failures on\n enable_snmp_vrrp\n enable_traps\n\
                }\n\
                virtual_server 192.0.2.1 80 {\n delay_loop 6\n real_server 192.0.2.2 80 {\n  TCP_CHECK { connect_timeout 3 }\n }\n}\n\
                virtual_server 192.0.2.1 443 {\n}\n\
                virtual_server_group VSG {\n 192.0.2.1 80\n}\n\
                static_ipaddress {\n 192.0.2.9/24 dev eth0\n}\n\
                static_routes {\n 192.0.2.0/24 via 192.0.2.254\n}\n\
                bfd_instance BFD1 {\n neighbor_ip 192.0.2.3\n}\n"
        .to_owned()
        + &instance("");
    let w = warnings(&text);
    for (line, col, keyword, subsystem) in [
        (9, 1, "lvs_flush", "LVS"),
        (10, 2, "checker_log_all_failures", "LVS"),
        (11, 2, "enable_snmp_vrrp", "SNMP"),
        (12, 2, "enable_traps", "SNMP"),
        (14, 1, "virtual_server", "LVS"),
        (22, 1, "virtual_server_group", "LVS"),
        (25, 1, "static_ipaddress", "static addresses"),
        (28, 1, "static_routes", "static addresses"),
        (31, 1, "bfd_instance", "BFD"),
    ] {
        assert_diag(
            &w,
            line,
            col,
            &format!("`{keyword}` belongs to keepalived's"),
        );
        assert_diag(&w, line, col, subsystem);
    }
    // Each occurrence is reported (`check --compat` lists every place).
    assert_eq!(
        w.iter()
            .filter(|d| d.message.contains("`virtual_server` "))
            .count(),
        2,
        "{}",
        show(&w)
    );
    // Nothing inside a skipped block is looked at.
    assert_no_diag(&w, "real_server");
    assert_no_diag(&w, "delay_loop");
}

#[test]
fn warning_log_level_and_log_facility() {
    let w = warnings(
        &("global_defs {\n  log_level 7\n  log_facility local5\n}\n".to_owned() + &instance("")),
    );
    assert_diag(
        &w,
        2,
        3,
        "`log_level` is accepted but has no effect: logging is set with `vrrp-agent run --log-level` or RUST_LOG",
    );
    assert_diag(
        &w,
        3,
        3,
        "`log_facility` is accepted but has no effect: this daemon logs to stderr",
    );
}

#[test]
fn warning_include_matches_nothing() {
    let w = warnings(&("include conf.d/*.conf\n".to_owned() + &instance("")));
    assert_diag(
        &w,
        1,
        9,
        "`include conf.d/*.conf` matches no file (looked in /nonexistent-vrrp-agent-test)",
    );
}

#[test]
fn warning_duplicates_and_odd_values() {
    let l = ok(&instance(
        "    priority 50\n    priority 60\n    garp_master_repeat 0",
    ));
    assert_diag(
        &l.warnings,
        8,
        5,
        "`priority` is given again here (first at",
    );
    assert_diag(&l.warnings, 9, 24, "`garp_master_repeat 0` is raised to 1");
    let i = only_instance(&l);
    assert_eq!((i.priority, i.garp.master_repeat), (60, 1));

    let l = ok(&instance(
        "    notify_master /bin/true\n    notify_master /bin/false",
    ));
    assert_diag(
        &l.warnings,
        8,
        5,
        "`notify_master` is given twice in vrrp_instance VI_1: keepalived keeps the first one",
    );
    assert_eq!(
        only_instance(&l)
            .notify
            .master
            .as_ref()
            .map(|n| n.command.as_str()),
        Some("/bin/true")
    );

    let l = ok(&instance("    unicast_peer {\n    }"));
    assert_diag(
        &l.warnings,
        7,
        18,
        "the unicast_peer block is empty, so this instance uses multicast",
    );
    assert!(!only_instance(&l).is_unicast());

    let l = ok(&instance(
        "    unicast_peer {\n        192.0.2.2\n        192.0.2.2\n    }",
    ));
    assert_diag(&l.warnings, 9, 9, "unicast peer 192.0.2.2 is listed twice");
    assert_eq!(only_instance(&l).unicast_peers.len(), 1);

    let l = ok("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  2001:db8::1 label eth0:x\n }\n}\n");
    assert_diag(&l.warnings, 5, 15, "`label` on an IPv6 address");
}

#[test]
fn warning_unused_objects_and_lonely_sync_group() {
    let text = "vrrp_script unused {\n script /bin/true\n}\nvrrp_track_file tf {\n file /tmp/x\n}\n"
        .to_owned()
        + &instance("") + "vrrp_sync_group G {\n group { VI_1 }\n}\n";
    let w = warnings(&text);
    assert_diag(
        &w,
        1,
        1,
        "vrrp_script unused is not used by any track_script, so it never runs",
    );
    assert_diag(&w, 4, 1, "vrrp_track_file tf is not used by any track_file");
    assert_diag(&w, 15, 1, "vrrp_sync_group G has only one vrrp_instance");
}

#[test]
fn warning_no_instances() {
    let w = warnings("global_defs {\n router_id x\n}\n");
    assert_diag(&w, 1, 1, "no vrrp_instance is configured");
}

#[test]
fn warning_comment_inside_word() {
    let l = ok(&instance(
        "    authentication { auth_type PASS\n auth_pass ab#cd }\n }",
    ));
    assert_diag(
        &l.warnings,
        8,
        14,
        "`#` starts a comment even inside a word",
    );
    // The rest of the line, including the `}`, is a comment: the block closes at the final `}`.
    assert_eq!(only_instance(&l).auth, Some(Auth::Pass(*b"ab\0\0\0\0\0\0")));
}

// ----- typed values and defaults ------------------------------------------------------------

#[test]
fn keepalived_defaults() {
    let l = ok(&instance(""));
    let i = only_instance(&l);
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert_eq!(i.version, Version::V2);
    assert_eq!(Version::default(), Version::V2);
    assert_eq!(i.family, Family::V4);
    assert_eq!(i.primary_family(), Family::V4);
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.auth, None);
    assert!(!i.is_unicast());
    assert_eq!(i.garp, GarpSettings::default());
    assert_eq!(
        (i.garp.master_delay, i.garp.master_repeat),
        (Duration::from_secs(5), 5)
    );
    assert_eq!(
        (i.garp.master_refresh, i.garp.master_refresh_repeat),
        (None, 1)
    );
    assert_eq!(i.vips[0].prefix_len, 24);
    assert!(i.notify.is_empty());
    assert!(!i.v3_checksum_as_v2);
    let l = ok("vrrp_instance V6 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 2001:db8::1 }\n}\n");
    let i = only_instance(&l);
    assert_eq!(
        (i.family, i.version, i.vips[0].prefix_len),
        (Family::V6, Version::V3, 128)
    );
}

#[test]
fn global_defaults_apply_to_instances() {
    let text = "global_defs {\n vrrp_version 3\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 4\n \
                vrrp_garp_master_refresh 60\n vrrp_garp_master_refresh_repeat 2\n vrrp_garp_interval 0.001\n \
                vrrp_gna_interval 0.002\n v3_checksum_as_v2\n script_user nobody nogroup\n notify_fifo \
                /run/keepalived.fifo root\n vrrp_notify_fifo /run/vrrp.fifo\n}\n"
        .to_owned()
        + &instance("")
        + "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n version 2\n garp_master_delay 1\n \
           garp_lower_prio_repeat 9\n v3_checksum_as_v2 off\n virtual_ipaddress { 192.0.2.101 }\n}\n";
    let l = ok(&text);
    let g = &l.config.global;
    assert_eq!(g.vrrp_version, Some(Version::V3));
    assert_eq!(
        g.script_user,
        Some(("nobody".to_owned(), Some("nogroup".to_owned())))
    );
    assert_eq!(
        g.notify_fifo
            .as_ref()
            .map(|f| (f.path.clone(), f.user.clone())),
        Some((
            PathBuf::from("/run/keepalived.fifo"),
            Some("root".to_owned())
        ))
    );
    assert_eq!(
        g.vrrp_notify_fifo.as_ref().map(|f| f.path.clone()),
        Some(PathBuf::from("/run/vrrp.fifo"))
    );
    assert!(g.v3_checksum_as_v2);
    let expected = GarpSettings {
        master_delay: Duration::from_secs(2),
        master_repeat: 4,
        master_refresh: Some(Duration::from_secs(60)),
        master_refresh_repeat: 2,
        lower_prio_delay: Duration::from_secs(2),
        lower_prio_repeat: 4,
        interval: Duration::from_millis(1),
        gna_interval: Duration::from_millis(2),
        extra_if: None,
    };
    assert_eq!(g.garp, expected);
    let vi1 = &l.config.instances[0];
    assert_eq!(
        (vi1.version, vi1.garp.clone(), vi1.v3_checksum_as_v2),
        (Version::V3, expected.clone(), true)
    );
    let vi2 = &l.config.instances[1];
    assert_eq!(vi2.version, Version::V2);
    assert!(!vi2.v3_checksum_as_v2);
    // The instance's own master delay is also its lower-priority delay (keepalived).
    assert_eq!(
        (vi2.garp.master_delay, vi2.garp.lower_prio_delay),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
    assert_eq!((vi2.garp.master_repeat, vi2.garp.lower_prio_repeat), (4, 9));
}

#[test]
fn min_garp() {
    let l = ok(&("global_defs {\n vrrp_min_garp\n}\n".to_owned() + &instance("")));
    let g = &only_instance(&l).garp;
    assert_eq!((g.master_delay, g.master_repeat), (Duration::ZERO, 1));
}

#[test]
fn virtual_address_options() {
    let l = ok(&instance(
        "    virtual_ipaddress_excluded {\n        192.0.2.200/26 brd + dev eth0 scope link label eth0:ex\n        \
         192.0.2.201/26 brd -\n        192.0.2.202 brd 192.0.2.255 scope global\n        2001:db8::5/64 dev eth0\n    }",
    ));
    let i = only_instance(&l);
    let ex = &i.vips_excluded;
    assert_eq!(ex.len(), 4);
    assert_eq!(ex[0].brd, Some(Ipv4Addr::new(192, 0, 2, 255)));
    assert_eq!(
        (
            ex[0].dev.as_deref(),
            ex[0].scope.as_deref(),
            ex[0].label.as_deref()
        ),
        (Some("eth0"), Some("link"), Some("eth0:ex"))
    );
    assert_eq!(ex[1].brd, Some(Ipv4Addr::new(192, 0, 2, 192)));
    assert_eq!(
        (ex[2].prefix_len, ex[2].brd),
        (32, Some(Ipv4Addr::new(192, 0, 2, 255)))
    );
    assert_eq!((ex[3].family(), ex[3].prefix_len), (Family::V6, 64));
    assert_eq!(ex[0].location.line, 8);
    assert_eq!(
        i.primary_vip().map(|v| v.addr),
        Some(IpAddr::from([192, 0, 2, 100]))
    );

    // Invalid options keepalived skips or ignores: see compat_tests.
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24 192.0.2.9\n }\n}\n";
    assert_diag(&errors(text), 5, 16, "write one address per line");
}

#[test]
fn track_references() {
    let text = "vrrp_script s1 { script /bin/true }\nvrrp_script s2 { script /bin/true }\n\
                vrrp_track_file f1 {\n file \"/run/f1\"\n weight -5 reverse\n init_file 3 overwrite\n}\n"
        .to_owned()
        + &instance(
            "    track_script {\n        s1\n        s2 weight 10 reverse\n    }\n    track_interface {\n        eth0 \
             weight -253\n    }\n    track_file {\n        f1 weight 254 noreverse\n    }",
        );
    let l = ok(&text);
    let i = only_instance(&l);
    let s: Vec<_> = i
        .track_scripts
        .iter()
        .map(|t| (t.name.as_str(), t.weight, t.reverse))
        .collect();
    assert_eq!(s, vec![("s1", None, None), ("s2", Some(10), Some(true))]);
    assert_eq!(i.track_scripts[1].location.line, 16);
    assert_eq!(i.track_interfaces[0].weight, Some(-253));
    assert_eq!(
        (i.track_files[0].weight, i.track_files[0].reverse),
        (Some(254), Some(false))
    );
    let f = &l.config.track_files[0];
    assert_eq!(
        (f.file.clone(), f.weight, f.reverse),
        (PathBuf::from("/run/f1"), -5, true)
    );
    assert_eq!(
        f.init_file,
        Some(TrackFileInit {
            value: 3,
            overwrite: true
        })
    );

    let e = errors(
        &("vrrp_script s1 { script /bin/true }\n".to_owned()
            + &instance("    track_script {\n s1 s2\n }")),
    );
    assert_diag(
        &e,
        9,
        5,
        "unexpected `s2` after `s1` in track_script: each line is `NAME [weight N] [reverse]`",
    );
}

#[test]
fn vrrp_script_values() {
    let text = "vrrp_script chk {\n script /usr/bin/test -e \"/run/a file\"\n interval 0.5\n timeout 0.25\n \
                weight 20 reverse\n rise 3\n fall 4\n user nobody nogroup\n init_fail\n}\n"
        .to_owned()
        + &instance("track_script { chk }");
    let l = ok(&text);
    let s = &l.config.scripts[0];
    assert_eq!(s.script, "/usr/bin/test -e '/run/a file'");
    assert_eq!(s.program(), "/usr/bin/test");
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_millis(500), Some(Duration::from_millis(250)))
    );
    assert_eq!(
        (s.weight, s.reverse, s.rise, s.fall, s.init_fail),
        (20, true, 3, 4, true)
    );
    assert_eq!(
        s.user,
        Some(("nobody".to_owned(), Some("nogroup".to_owned())))
    );
    let d =
        ok(&("vrrp_script d { script /bin/true }\n".to_owned() + &instance("track_script { d }")));
    let d = &d.config.scripts[0];
    assert_eq!(
        (d.interval, d.timeout, d.weight, d.rise, d.fall),
        (Duration::from_secs(1), None, 0, 1, 1)
    );
}

#[test]
fn notify_with_user_and_group() {
    let l = ok(&instance(
        "    notify_stop /bin/stop.sh nobody nogroup\n    notify \"/bin/all.sh x\" root",
    ));
    let n = &only_instance(&l).notify;
    let stop = n
        .stop
        .as_ref()
        .map(|c| (c.command.as_str(), c.user.as_deref(), c.group.as_deref()));
    assert_eq!(
        stop,
        Some(("/bin/stop.sh", Some("nobody"), Some("nogroup")))
    );
    assert_eq!(
        n.generic.as_ref().map(|c| c.user.as_deref()),
        Some(Some("root"))
    );
    assert_eq!(n.all().count(), 2);
    let e = errors(&instance("    notify_master /bin/x.sh MASTER root wheel"));
    assert_diag(
        &e,
        7,
        41,
        "unexpected `wheel`: `notify_master` takes at most 3 value(s)",
    );
}

#[test]
fn flags_and_blocks_are_checked() {
    let e = errors(&instance("    nopreempt now"));
    assert_diag(&e, 7, 15, "`nopreempt` takes no value; remove `now`");
    let e = errors(&instance("    priority { 100 }"));
    assert_diag(&e, 7, 14, "`priority` does not take a `{ ... }` block");
    let e = errors(&instance("    track_script chk"));
    assert_diag(&e, 7, 18, "unexpected `chk`: `track_script` takes no value");
    let e = errors(&instance("    priority 100 200"));
    assert_diag(
        &e,
        7,
        18,
        "unexpected `200` after `priority 100`: `priority` takes one value",
    );
    let e = errors("vrrp_instance {\n}\n");
    assert_diag(&e, 1, 1, "`vrrp_instance` needs a name");
    // keepalived reports an out-of-range preempt_delay and runs with 0.
    let l = ok(&instance("    preempt_delay 1001"));
    assert_diag(
        &l.warnings,
        7,
        19,
        "keepalived accepts at most 1000 s and uses 0 instead",
    );
    assert_eq!(only_instance(&l).preempt_delay, Duration::ZERO);
    let l = ok(&instance("    preempt_delay 5s"));
    assert_diag(&l.warnings, 7, 19, "reads it as 0.000005 s");
    let l = ok(&instance("    preempt_delay 1.23456789"));
    assert_eq!(
        only_instance(&l).preempt_delay,
        Duration::from_micros(1_234_568)
    );
    let l = ok(&instance("    preempt_delay 4.12"));
    assert_eq!(only_instance(&l).preempt_delay, Duration::from_millis(4120));
}

// ----- syntax ------------------------------------------------------------------------------

#[test]
fn comments_with_hash_and_bang_but_not_in_quotes() {
    let text = "# a comment\n! another\nvrrp_instance VI_1 { # open\n  interface eth0 ! trailing\n  \
                virtual_router_id 51#glued\n  virtual_ipaddress {\n 192.0.2.1 # here too\n }\n  notify \
                \"/bin/echo # not a comment ! either\"\n}\n";
    let l = ok(text);
    let i = only_instance(&l);
    assert_eq!(i.vrid, 51);
    assert_eq!(
        i.notify.generic.as_ref().map(|n| n.command.as_str()),
        Some("/bin/echo # not a comment ! either")
    );
}

#[test]
fn braces_on_the_next_line() {
    let text = "vrrp_script chk\n{\n script /bin/true\n}\nvrrp_instance VI_1\n{\n interface eth0\n \
                virtual_router_id 51\n virtual_ipaddress\n {\n  192.0.2.1/24\n }\n track_script\n {\n  chk\n }\n}\n";
    let l = ok(text);
    assert_eq!(only_instance(&l).track_scripts[0].name, "chk");
}

#[test]
fn semicolons_separate_statements() {
    let text = "vrrp_instance VI_1 { interface eth0; virtual_router_id 51; priority 150; advert_int 1;\n    \
                authentication { auth_type PASS; auth_pass K33pAl1v3d_VIP1; }\n    virtual_ipaddress { \
                192.168.1.100/24 dev eth0 label eth0:vip1; 192.168.1.101/24; }\n}\n";
    let l = ok(text);
    let i = only_instance(&l);
    assert_eq!((i.vrid, i.priority), (51, 150));
    assert_eq!(i.auth, Some(Auth::Pass(*b"K33pAl1v")));
    assert_eq!(i.vips.len(), 2);
    assert_eq!(i.vips[0].label.as_deref(), Some("eth0:vip1"));
}

#[test]
fn include_with_glob_braces_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write(
        "keepalived.conf",
        "global_defs {\n include global.d/*.conf\n}\ninclude conf.d/*.conf\ninclude extra/{a,b}.inc\n",
    );
    write("global.d/id.conf", "router_id from-include\n");
    write("conf.d/20-vi2.conf", "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n virtual_ipaddress { 192.0.2.2 }\n}\n");
    write(
        "conf.d/10-vi1.conf",
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.1 }\n \
         include ../scripts/track.inc\n}\n",
    );
    write("conf.d/.hidden.conf", "this would be an error\n");
    write("conf.d/ignored.txt", "this too\n");
    write("scripts/track.inc", "track_script { chk }\n");
    write("extra/a.inc", "vrrp_script chk { script /bin/true }\n");
    write("extra/b.inc", "vrrp_track_file f { file /tmp/f }\n");

    let l = load(&root.join("keepalived.conf")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = l.config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["VI_1", "VI_2"],
        "files are included in sorted order"
    );
    assert_eq!(l.config.global.router_id.as_deref(), Some("from-include"));
    assert_eq!(l.config.instances[0].track_scripts[0].name, "chk");
    assert_eq!(l.config.track_files[0].name, "f");
    // Positions point into the included file.
    assert_eq!(
        l.config.instances[1].location.file,
        root.join("conf.d/20-vi2.conf")
    );
    assert_eq!(
        (
            l.config.instances[1].location.line,
            l.config.instances[1].location.column
        ),
        (1, 1)
    );

    // An error in an included file names that file.
    write("conf.d/30-bad.conf", "vrrp_instance VI_3 {\n interface eth0\n virtual_router_id 999\n virtual_ipaddress { 192.0.2.3 }\n}\n");
    let e = load(&root.join("keepalived.conf"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(
        (
            e.errors[0].file.clone(),
            e.errors[0].line,
            e.errors[0].column
        ),
        (root.join("conf.d/30-bad.conf"), 3, 20)
    );

    // parse_str resolves includes from the directory of `origin`.
    let text = "include conf.d/[12]*.conf\ninclude \"extra/{a,b}.inc\"\n";
    let l = parse_str(text, &root.join("virtual.conf")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.config.instances.len(), 2);
}

#[test]
fn include_loop_through_a_glob() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fs::write(dir.path().join("main.conf"), "include *.inc\n").unwrap_or_else(|e| panic!("{e}"));
    fs::write(dir.path().join("self.inc"), "include self.inc\n").unwrap_or_else(|e| panic!("{e}"));
    let e = load(&dir.path().join("main.conf"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_diag(&e.errors, 1, 9, "include loop: ");
    assert_eq!(e.errors[0].file, dir.path().join("self.inc"));
}

// ----- never panic -------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so that failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

#[test]
fn no_panic_on_random_bytes_or_mangled_seeds() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Random bytes, biased towards the characters the lexer cares about.
    let alphabet = b"{}{};;#!\"'\\\n\n  abcvrrp_instance 0123456789./:-";
    for _ in 0..400 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }
    // Every seed, truncated at many points and with random characters replaced.
    let mut seeds: Vec<String> = fs::read_dir(configs_dir().join("seeds"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .collect();
    seeds.push(
        fs::read_to_string(fixture("broken/002-nginx-plus-as-scraped.conf")).unwrap_or_default(),
    );
    for text in &seeds {
        let chars: Vec<char> = text.chars().collect();
        for cut in (0..chars.len()).step_by(7) {
            let _ = parse(&chars[..cut].iter().collect::<String>());
        }
        for _ in 0..30 {
            let mut mangled = chars.clone();
            for _ in 0..4 {
                let at = rng.below(mangled.len());
                mangled[at] = char::from(alphabet[rng.below(alphabet.len())]);
            }
            let _ = parse(&mangled.iter().collect::<String>());
        }
    }
    // Pathological shapes.
    for text in [
        "{".repeat(10_000),
        "}".repeat(10_000),
        "a {".repeat(5_000),
        "\"".repeat(1_001),
        "vrrp_instance x { virtual_ipaddress { 1.2.3.4/999999999999999999999 brd } }".to_owned(),
        "vrrp_instance x { advert_int 99999999999999999999999.9 }".to_owned(),
        "vrrp_instance x { advert_int .}".to_owned(),
        "\u{0}\u{feff}\r\r\n;;;".to_owned(),
        "include /dev/null\ninclude /\ninclude [\n".to_owned(),
    ] {
        let _ = parse(&text);
    }
}

// ----- bounds: every value `check` accepts is one `run` can use ----------------------------

/// Every number at the largest value `check` accepts.
const LARGEST: &str = "global_defs {
 vrrp_garp_interval 4294.967295
 vrrp_gna_interval 4294.967295
 vrrp_garp_master_delay 4294
 vrrp_garp_master_refresh 4294967295
 vrrp_garp_master_repeat 4294967295
 vrrp_garp_master_refresh_repeat 4294967295
 vrrp_garp_lower_prio_delay 4294
 vrrp_garp_lower_prio_repeat 2147483647
}
vrrp_script chk {
 script /bin/true
 interval 4294
 timeout 4294
 rise 2147483647
 fall 2147483647
 weight -253
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 255
 priority 254
 advert_int 255
 preempt_delay 1000
 virtual_ipaddress { 192.0.2.100/24 }
 track_script { chk }
}
";

#[test]
fn bounds_largest_values_are_accepted() {
    let l = ok(LARGEST);
    let inst = only_instance(&l);
    let g = &inst.garp;
    assert_eq!(g.interval, Duration::from_micros(4_294_967_295));
    assert_eq!(g.gna_interval, Duration::from_micros(4_294_967_295));
    assert_eq!(g.master_delay, Duration::from_secs(4294));
    assert_eq!(g.lower_prio_delay, Duration::from_secs(4294));
    assert_eq!(g.master_refresh, Some(Duration::from_secs(u32::MAX.into())));
    // Bursts are capped (see `bounds_garp_repeats_are_capped`).
    assert_eq!(
        (
            g.master_repeat,
            g.master_refresh_repeat,
            g.lower_prio_repeat
        ),
        (100, 100, 100)
    );
    assert_eq!(inst.advert_int, Duration::from_secs(255));
    assert_eq!(inst.preempt_delay, Duration::from_secs(1000));
    let s = &l.config.scripts[0];
    assert_eq!(
        (s.interval, s.timeout, s.rise, s.fall),
        (
            Duration::from_secs(4294),
            Some(Duration::from_secs(4294)),
            2_147_483_647,
            2_147_483_647
        )
    );
}

/// What `run` does with these values in time arithmetic: the GARP schedule, the election's
/// timers, the script loop's `started + interval`, the timerfd's seconds. None may panic,
/// even with a clock that has run for a century.
#[test]
fn bounds_largest_values_do_not_overflow_run_time_arithmetic() {
    use crate::{
        announce::GarpSchedule,
        election::{Input, Router, RouterConfig, Version as EVersion},
        units::MonoTime,
    };
    let l = ok(LARGEST);
    let inst = only_instance(&l);
    let century = MonoTime::from_since_boot(Duration::from_secs(100 * 365 * 86_400));

    let mut garp = GarpSchedule::new(&inst.garp);
    garp.became_master(century);
    let mut now = century;
    for _ in 0..5 {
        let _ = garp.due(now);
        garp.lower_priority_advert(now);
        let next = garp.next_deadline().expect("a GARP round is scheduled");
        assert!(next.as_nanos() < u64::MAX, "saturated: {next:?}");
        now = next;
    }

    let mut router = Router::new(RouterConfig {
        version: EVersion::V2,
        priority: inst.priority,
        advertisement_interval: inst.advert_centisecs(),
        preempt_mode: inst.preempt,
        preempt_delay: inst.preempt_delay,
        accept_mode: false,
        primary_address: "192.0.2.1".parse().unwrap(),
        align_adverts: true,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
    });
    let _ = router.handle(century, Input::Startup);
    let down = router.next_deadline().expect("Master_Down_Timer armed");
    let _ = router.handle(down, Input::Timer);
    let _ = router.handle(
        down,
        Input::Advert {
            from: "192.0.2.2".parse().unwrap(),
            priority: 1,
            max_adver_int: inst.advert_centisecs(),
            received_at: down,
        },
    );
    let next = router.next_deadline().expect("Adver_Timer armed");
    assert!(next > down);

    let s = &l.config.scripts[0];
    let started = std::time::Instant::now();
    let _ = started + s.interval + s.timeout.unwrap_or(s.interval);
    let _ = tokio::time::Instant::now() + s.interval;

    // The timerfd takes whole seconds as i64.
    let ns = now.as_nanos();
    assert!(i64::try_from(ns / 1_000_000_000).is_ok());
}

#[test]
fn bounds_garp_repeats_are_capped_with_a_warning() {
    let l = ok(&instance(
        " garp_master_repeat 101\n garp_master_refresh_repeat 100\n garp_lower_prio_repeat 5000",
    ));
    let g = &only_instance(&l).garp;
    assert_eq!(
        (
            g.master_repeat,
            g.master_refresh_repeat,
            g.lower_prio_repeat
        ),
        (100, 100, 100)
    );
    assert_diag(
        &l.warnings,
        7,
        21,
        "`garp_master_repeat 101` is lowered to 100: a burst goes out at once",
    );
    assert_diag(
        &l.warnings,
        9,
        25,
        "`garp_lower_prio_repeat 5000` is lowered to 100",
    );
    assert_no_diag(&l.warnings, "garp_master_refresh_repeat 100");
    // 0 lower-priority rounds means none (keepalived), not 1.
    let l = ok(&instance(" garp_lower_prio_repeat 0"));
    assert_eq!(only_instance(&l).garp.lower_prio_repeat, 0);
    assert_no_diag(&l.warnings, "raised");
}

#[test]
fn bounds_garp_interval_zero_is_the_default_with_a_warning() {
    let l = ok(&format!(
        "global_defs {{\n vrrp_garp_interval 0\n}}\n{}",
        instance("")
    ));
    assert_eq!(only_instance(&l).garp.interval, Duration::ZERO);
    assert_diag(
        &l.warnings,
        2,
        21,
        "`vrrp_garp_interval 0` is the default (no gap between messages); keepalived 2.2.7 rejects",
    );
    let l = ok(&format!(
        "global_defs {{\n vrrp_garp_interval 0.000001\n}}\n{}",
        instance("")
    ));
    assert_eq!(only_instance(&l).garp.interval, Duration::from_micros(1));
    assert_no_diag(&l.warnings, "vrrp_garp_interval");
}

fn many_vips(n: usize, v6: bool, version: u8) -> String {
    let addrs: String = (0..n)
        .map(|i| {
            if v6 {
                format!("  2001:db8::{:x}\n", i + 1)
            } else {
                format!("  198.18.{}.{}\n", i / 250, i % 250 + 1)
            }
        })
        .collect();
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n version {version}\n \
         virtual_ipaddress {{\n{addrs} }}\n}}\n"
    )
}

#[test]
fn bounds_more_vips_than_an_advert_carries_are_excluded_as_keepalived_does() {
    assert_eq!(max_advertised(Family::V4, Version::V2, DEFAULT_MTU), 255);
    assert_eq!(max_advertised(Family::V4, Version::V3, DEFAULT_MTU), 255);
    assert_eq!(max_advertised(Family::V6, Version::V3, DEFAULT_MTU), 89);
    assert_eq!(max_advertised(Family::V6, Version::V3, 9000), 255);

    // 255 IPv4 addresses fit: no warning.
    let l = ok(&many_vips(255, false, 2));
    assert_eq!(only_instance(&l).vips.len(), 255);
    assert_no_diag(&l.warnings, "an advert carries at most");

    // 257: the last two move to the excluded list, the warning points at the first of them
    // (the 256th address, on line 6 + 255).
    let l = ok(&many_vips(257, false, 2));
    let inst = only_instance(&l);
    assert_eq!(inst.vips.len(), 255);
    assert_eq!(
        inst.vips_excluded
            .iter()
            .map(|v| v.addr.to_string())
            .collect::<Vec<_>>(),
        ["198.18.1.6", "198.18.1.7"]
    );
    assert_diag(
        &l.warnings,
        261,
        3,
        "has 257 virtual addresses but an advert carries at most 255 (IPv4, VRRPv2, 1500-byte \
         MTU): 198.18.1.6 and the 1 after it are moved to virtual_ipaddress_excluded",
    );

    // IPv6: 89 fit a 1500-byte MTU, as keepalived computes it.
    let l = ok(&many_vips(90, true, 3));
    let inst = only_instance(&l);
    assert_eq!((inst.vips.len(), inst.vips_excluded.len()), (89, 1));

    // The advert with the most addresses is one the sender can build.
    let l = ok(&many_vips(300, false, 3));
    let inst = only_instance(&l);
    let repr = crate::wire::vrrp::Repr {
        version: crate::wire::vrrp::Version::V3,
        vrid: inst.vrid,
        priority: 100,
        max_adver_int: inst.advert_centisecs(),
        addresses: inst.vips.iter().map(|v| v.addr).collect(),
        auth: crate::wire::vrrp::Auth::None,
    };
    assert!(repr.buffer_len() <= vrrp_common::MAX_VRRP_LEN);
    let mut buf = vec![0; repr.buffer_len()];
    let ctx = crate::wire::vrrp::EmitContext::new(crate::wire::Endpoints::V4 {
        src: Ipv4Addr::new(198, 18, 0, 1),
        dst: Ipv4Addr::new(224, 0, 0, 18),
    });
    assert_eq!(repr.emit(&mut buf, &ctx), Ok(repr.buffer_len()));
}

#[test]
fn bounds_track_file_init_value_is_an_int_as_in_keepalived() {
    let text = |v: &str| {
        format!(
            "vrrp_track_file f1 {{\n file \"/run/f1\"\n init_file {v}\n}}\n{}",
            instance("track_file { f1 }")
        )
    };
    let e = errors(&text("2147483648"));
    assert_diag(&e, 3, 12, "`init_file` 2147483648 is out of range");
    let l = ok(&text("-2147483648 overwrite"));
    assert_eq!(
        l.config.track_files[0].init_file.map(|i| i.value),
        Some(-2_147_483_648)
    );
    assert_diag(&l.warnings, 3, 12, "outside the sensible range -254 to 254");
    let l = ok(&text("254"));
    assert_no_diag(&l.warnings, "sensible range");
}

#[test]
fn bounds_run_fits_vips_to_the_interface_mtu() {
    // keepalived's formula: (MTU - Ethernet - IP - VRRP [- v2 auth]) / address size.
    assert_eq!(max_advertised(Family::V4, Version::V2, 576), 131);
    assert_eq!(max_advertised(Family::V4, Version::V3, 100), 14);
    assert_eq!(max_advertised(Family::V4, Version::V2, 0), 0);
    let l = ok(&many_vips(20, false, 3));
    let mut inst = only_instance(&l).clone();
    assert_eq!(inst.fit_vips_to_mtu(DEFAULT_MTU), 0);
    assert_eq!(inst.vips.len(), 20);
    assert_eq!(inst.fit_vips_to_mtu(100), 6);
    assert_eq!((inst.vips.len(), inst.vips_excluded.len()), (14, 6));
    assert_eq!(inst.vips_excluded[0].addr.to_string(), "198.18.0.15");
    // Nothing fits: the first address stays advertised (an advert with none is invalid).
    assert_eq!(inst.fit_vips_to_mtu(0), 13);
    assert_eq!(inst.vips.len(), 1);
    assert_eq!(inst.vips.len() + inst.vips_excluded.len(), 20);
}

#[test]
fn bounds_instances_and_unicast_peers_fit_the_xdp_maps() {
    // 1023 instances (VRIDs 1 to 255 on eth0 to eth4; slot 0 of the maps is never used)
    // load; 1024 do not.
    let instances = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "vrrp_instance V{i} {{\n interface eth{}\n virtual_router_id {}\n \
                     virtual_ipaddress {{ 198.18.{}.{} }}\n}}\n",
                    i / 255,
                    i % 255 + 1,
                    i / 250,
                    i % 250 + 1
                )
            })
            .collect()
    };
    let l = ok(&instances(1023));
    assert_eq!(l.config.instances.len(), 1023);
    let e = errors(&instances(1024));
    // V1023 starts on line 1023 * 5 + 1.
    assert_diag(
        &e,
        5116,
        1,
        "vrrp_instance V1023 is instance number 1024: one agent runs at most 1023 instances",
    );

    // 16384 unicast peers in all; one more is an error at the instance that crosses.
    let peers = |vrid: u8, n: usize, base: usize| -> String {
        let list: String = (base..base + n)
            .map(|i| format!("  198.{}.{}.{}\n", 18 + i / 65536, (i / 256) % 256, i % 256))
            .collect();
        format!(
            "vrrp_instance P{vrid} {{\n interface eth0\n virtual_router_id {vrid}\n \
             unicast_peer {{\n{list} }}\n virtual_ipaddress {{ 198.18.255.{vrid} }}\n}}\n"
        )
    };
    ok(&(peers(1, 16000, 0) + &peers(2, 384, 16000)));
    let e = errors(&(peers(1, 16000, 0) + &peers(2, 385, 16000)));
    assert!(
        e.iter().any(|d| d.message.contains(
            "vrrp_instance P2 brings the unicast_peer addresses of all instances to 16385"
        )),
        "{}",
        show(&e)
    );
}

/// keepalived raises `garp_master_repeat 0` to 1 but takes `garp_lower_prio_repeat 0` as
/// "no gratuitous ARP on a lower priority" (vrrp_parser.c reads it with a minimum of 0).
#[test]
fn garp_lower_prio_repeat_zero_is_off() {
    let l = ok(&instance("    garp_lower_prio_repeat 0"));
    assert!(
        !l.warnings.iter().any(|d| d.message.contains("raised to 1")),
        "{}",
        show(&l.warnings)
    );
    assert_eq!(only_instance(&l).garp.lower_prio_repeat, 0);
}

#[test]
fn unicast_peer_min_ttl_and_max_ttl_as_keepalived() {
    let l = ok(&instance(
        "    unicast_peer {\n        192.0.2.2 min_ttl 250\n        192.0.2.3 max_ttl 64 min_ttl 1\n        192.0.2.4\n    }",
    ));
    let i = only_instance(&l);
    assert_eq!(i.unicast_peers.len(), 3);
    assert_eq!(
        i.unicast_peer_ttl,
        vec![
            (
                IpAddr::from([192, 0, 2, 2]),
                TtlRange { min: 250, max: 255 }
            ),
            (IpAddr::from([192, 0, 2, 3]), TtlRange { min: 1, max: 64 }),
        ],
        "a peer without options has no range (any TTL)"
    );
    let has = |diags: &[Diagnostic], fragment: &str| {
        assert!(
            diags.iter().any(|d| d.message.contains(fragment)),
            "no `{fragment}` in\n{}",
            show(diags)
        );
    };
    let e = errors(&instance(
        "    unicast_peer {\n        192.0.2.2 min_ttl 200 max_ttl 100\n    }",
    ));
    has(&e, "min_ttl 200 > max_ttl 100");
    // A missing or invalid value: keepalived keeps the peer without it (see compat_tests).
    let e = errors(&instance(
        "    unicast_peer {\n        192.0.2.2 min_tl 3\n    }",
    ));
    has(&e, "did you mean");
}

/// keepalived's `unicast_ttl`: the TTL of sent unicast adverts; ignored (with a warning)
/// without unicast peers.
#[test]
fn unicast_ttl_sets_the_ttl_of_unicast_adverts_only() {
    let l = ok(&instance(
        "    unicast_ttl 3\n    unicast_peer {\n        192.0.2.2\n    }",
    ));
    assert_eq!(only_instance(&l).unicast_ttl, Some(3));
    let l = ok(&instance("    unicast_ttl 3"));
    assert_eq!(only_instance(&l).unicast_ttl, None);
    assert!(
        l.warnings.iter().any(|d| d
            .message
            .contains("unicast_ttl without unicast_peer is ignored")),
        "{}",
        show(&l.warnings)
    );
    // keepalived takes 0, which Linux refuses; 256 and x it ignores (see compat_tests).
    let e = errors(&instance(
        "    unicast_ttl 0\n    unicast_peer {\n        192.0.2.2\n    }",
    ));
    assert!(
        e.iter().any(|d| d.message.contains("unicast_ttl")),
        "{}",
        show(&e)
    );
}
