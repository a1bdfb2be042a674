//! Values keepalived 2.2.7 reports as invalid and then runs without (it ignores the line,
//! uses its default, clamps, or skips one address): the configuration loads with what
//! keepalived runs and a keepalived-ignores warning at the value. Each case was checked
//! against `keepalived -t` (see tests/configs/corpus/34-keepalived-defaults.conf).
use std::{net::IpAddr, path::Path, time::Duration};

use super::{parse_str, Category, Diagnostic, Instance, Loaded, Version};

fn load(text: &str) -> Loaded {
    parse_str(text, Path::new("/nonexistent-kq/keepalived.conf"))
        .unwrap_or_else(|e| panic!("refused:\n{e}\n---\n{text}"))
}

fn refused(text: &str) -> Vec<Diagnostic> {
    match parse_str(text, Path::new("/nonexistent-kq/keepalived.conf")) {
        Ok(l) => panic!("accepted (warnings {:?}):\n{text}", l.warnings),
        Err(e) => e.errors,
    }
}

/// Asserts a keepalived-ignores warning at `line` containing `fragment`.
fn ignored_at(l: &Loaded, line: u32, fragment: &str) {
    assert!(
        l.warnings.iter().any(|w| w.line == line
            && w.category == Category::KeepalivedIgnores
            && w.message.contains(fragment)),
        "no keepalived-ignores warning at line {line} with {fragment:?}: {:#?}",
        l.warnings
    );
}

/// An instance with `body` from line 5 on (lines 1-4: header, interface, VRID, one VIP).
fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{ 198.18.0.100/24 }}\n{body}\n}}\n"
    )
}

fn only(l: &Loaded) -> &Instance {
    &l.config.instances[0]
}

/// One `virtual_ipaddress` line (line 3) after a good one (line 2).
fn vips(line: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n virtual_ipaddress {{\n  198.18.0.1/24\n  {line}\n }}\n interface eth0\n virtual_router_id 1\n}}\n"
    )
}

#[test]
fn a_virtual_address_keepalived_skips_is_skipped_and_the_others_run() {
    for (line, fragment) in [
        ("198.18.0.300/24", "VRRP parsed invalid IP"),
        (
            "198.18.0.2/24 label eth0:far-too-long-x",
            "removing address",
        ),
        ("198.18.0.2/24 dev", "No parameter specified"),
        ("198.18.0.2/24 brd 198.18.0.256", "invalid broadcast"),
    ] {
        let l = load(&vips(line));
        ignored_at(&l, 4, fragment);
        let addrs: Vec<IpAddr> = only(&l).vips.iter().map(|v| v.addr).collect();
        assert_eq!(addrs, [IpAddr::from([198, 18, 0, 1])], "{line}");
    }
    let l = load(&vips("2001:db8::1 brd +").replace("198.18.0.1/24", "2001:db8::2/64"));
    ignored_at(&l, 4, "broadcast to the IPv6");
    assert_eq!(only(&l).vips.len(), 1);
}

#[test]
fn a_bad_prefix_or_scope_is_dropped_from_the_address() {
    let l = load(&vips("198.18.0.2/33"));
    ignored_at(&l, 4, "Invalid address prefix len - using 32");
    assert_eq!(only(&l).vips[1].prefix_len, 32);
    let l = load(&vips("198.18.0.2/24 scope lnk"));
    ignored_at(&l, 4, "did you mean `link`?");
    assert_eq!(
        (only(&l).vips[1].prefix_len, only(&l).vips[1].scope.clone()),
        (24, None)
    );
    // `/24x`: keepalived -t ignores the prefix, a running keepalived uses 24: refused.
    let e = refused(&vips("198.18.0.2/24x"));
    assert!(e
        .iter()
        .any(|d| d.line == 4 && d.message.contains("running keepalived reads it as 24")));
}

#[test]
fn a_malformed_peer_or_source_is_skipped() {
    let l = load(&instance(
        " unicast_src_ip 198.18.0.300\n unicast_peer {\n  198.18.0.2\n  198.18.0.\n }",
    ));
    ignored_at(&l, 5, "malformed src address");
    ignored_at(&l, 8, "malformed unicast peer address");
    let i = only(&l);
    assert_eq!(i.unicast_src_ip, None);
    assert_eq!(i.unicast_peers, [IpAddr::from([198, 18, 0, 2])]);
    let l = load(&instance(" mcast_src_ip eth0"));
    ignored_at(&l, 5, "malformed src address");
    assert_eq!(only(&l).mcast_src_ip, None);
}

#[test]
fn instance_numbers_keepalived_ignores() {
    // advert_int outside 0.01..255: keepalived keeps its default 1 s.
    for bad in ["0.005", "0", "256"] {
        let l = load(&instance(&format!(" advert_int {bad}")));
        ignored_at(&l, 5, "Advert interval not valid");
        assert_eq!(only(&l).advert_int, Duration::from_secs(1), "{bad}");
    }
    // VRRPv3 above 40.95 s: lowered to 40.95 s.
    let l = load(&instance(" version 3\n advert_int 41"));
    ignored_at(&l, 6, "VRRPv3 advertisement interval is out of range");
    assert_eq!(only(&l).advert_int, Duration::from_millis(40_950));
    // unicast_ttl outside 0..255 or not a number: ignored.
    for bad in ["256", "x"] {
        let l = load(&instance(&format!(
            " unicast_ttl {bad}\n unicast_peer {{ 198.18.0.2 }}"
        )));
        ignored_at(&l, 5, "TTL not valid");
        assert_eq!(only(&l).unicast_ttl, None);
    }
    // A version that is not 2 or 3: ignored, in an instance and globally.
    let l = load(&format!(
        "global_defs {{\n vrrp_version 3\n vrrp_version 4\n}}\n{}",
        instance(" version 5")
    ));
    ignored_at(&l, 3, "Version must be either 2 or 3");
    ignored_at(&l, 9, "Version must be either 2 or 3");
    assert_eq!(only(&l).version, Version::V3);
    // garp timers and counts: the line is ignored (defaults stay); refresh becomes 0.
    let l = load(&instance(
        " garp_master_delay 4295\n garp_master_repeat 4294967296\n garp_master_refresh 4294967296",
    ));
    ignored_at(&l, 5, "garp_master_delay invalid - ignoring");
    ignored_at(&l, 6, "garp_master_repeat invalid - ignoring");
    ignored_at(&l, 7, "Invalid garp_master_refresh - ignoring");
    let g = &only(&l).garp;
    assert_eq!(
        (g.master_delay, g.master_repeat, g.master_refresh),
        (Duration::from_secs(5), 5, None)
    );
    let l = load(&format!(
        "global_defs {{\n vrrp_garp_lower_prio_delay 4295\n}}\n{}",
        instance("")
    ));
    ignored_at(&l, 2, "invalid - ignoring");
    // Text after the digits: `keepalived -t` and a running keepalived differ: refused.
    let e = refused(&instance(" garp_master_delay 5s"));
    assert!(e
        .iter()
        .any(|d| d.line == 5 && d.message.contains("reads it as 5")));
}

#[test]
fn bad_booleans_and_auth_types_are_ignored() {
    // keepalived compares booleans exactly (lower case) and ignores anything else.
    let l = load(&instance(
        " smtp_alert on\n smtp_alert maybe\n strict_mode Yes\n notify_priority_changes ON",
    ));
    ignored_at(&l, 6, "is not on, off, true, false, yes or no");
    ignored_at(&l, 7, "is not on, off");
    ignored_at(&l, 8, "is not on, off");
    let i = only(&l);
    assert!(i.smtp_alert && !i.strict && !i.notify_priority_changes);
    let l = load(&instance(
        " authentication {\n  auth_type PAS\n  auth_pass secret\n }",
    ));
    ignored_at(&l, 6, "did you mean `PASS`?");
    assert_eq!(only(&l).auth, None);
}

#[test]
fn script_values_keepalived_resets() {
    let text = "vrrp_script chk {\n script /bin/true\n interval 0\n timeout 0\n rise 0\n fall 2147483648\n \
                weight 300 reverse_it\n}\n"
        .to_owned()
        + &instance(" track_script { chk }");
    let l = load(&text);
    ignored_at(&l, 3, "interval must be greater than 0, setting to 1");
    ignored_at(&l, 4, "timeout must be greater than 0, setting to 1");
    ignored_at(&l, 5, "rise value invalid, defaulting to 1");
    ignored_at(&l, 6, "fall value invalid, defaulting to 1");
    ignored_at(&l, 7, "weight must be in [-253, 253]");
    ignored_at(&l, 7, "unknown weight option");
    let s = &l.config.scripts[0];
    assert_eq!(
        (s.interval, s.timeout, s.rise, s.fall, s.weight, s.reverse),
        (
            Duration::from_secs(1),
            Some(Duration::from_secs(1)),
            1,
            1,
            300,
            false
        )
    );
    let l = load(
        &("vrrp_script chk {\n script /bin/true\n interval 4295\n}\n".to_owned()
            + &instance(" track_script { chk }")),
    );
    ignored_at(&l, 3, "vrrp script interval invalid - ignoring");
    assert_eq!(l.config.scripts[0].interval, Duration::from_secs(1));
    let e = refused("vrrp_script chk {\n script /bin/true\n rise 2x\n}\n");
    assert!(e
        .iter()
        .any(|d| d.line == 3 && d.message.contains("reads it as 2")));
}

#[test]
fn track_weights_keepalived_clamps_or_ignores() {
    let text = "vrrp_script s1 {\n script /bin/true\n weight 7\n}\nvrrp_script s2 {\n script /bin/true\n}\n"
        .to_owned()
        + &instance(
            " track_script {\n  s1 weight 254\n  s2 weight -300\n }\n track_interface {\n  eth1 weight -254\n  \
             eth2 weight 999\n }",
        );
    let l = load(&text);
    let i = only(&l);
    ignored_at(&l, 13, "cannot be +/-254. Setting to +/-253");
    ignored_at(&l, 14, "the definition's weight is used");
    ignored_at(&l, 17, "cannot be +/-254");
    ignored_at(&l, 18, "is not valid (-254 to 254)");
    let w: Vec<_> = i.track_scripts.iter().map(|t| t.weight).collect();
    assert_eq!(w, [Some(253), None]);
    let w: Vec<_> = i.track_interfaces.iter().map(|t| t.weight).collect();
    assert_eq!(w, [Some(-253), Some(0)]);
}

#[test]
fn a_duplicate_track_line_is_ignored() {
    let text = "vrrp_script s1 {\n script /bin/true\n}\n".to_owned()
        + &instance(
            " track_script {\n  s1 weight 10\n }\n track_script {\n  s1 weight 20\n }\n track_interface {\n  \
             eth1\n  eth1 weight 5\n }",
        );
    let l = load(&text);
    ignored_at(&l, 12, "duplicate track_script - ignoring");
    ignored_at(&l, 16, "duplicate track_interface - ignoring");
    let i = only(&l);
    let w: Vec<_> = i.track_scripts.iter().map(|t| t.weight).collect();
    assert_eq!(w, [Some(10)]);
    let w: Vec<_> = i.track_interfaces.iter().map(|t| t.weight).collect();
    assert_eq!(w, [None]);
}

/// Two instances (lines 1-4 and 5-8) and `group` (from line 9).
fn synced(group: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{ 198.18.0.1 }} }}\n\
         vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {{ 198.18.0.2 }} }}\n{group}\n"
    )
}

#[test]
fn sync_group_members_keepalived_ignores() {
    // A name that is no instance, and an instance already in a group: ignored.
    let l = load(&synced(
        "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_3\n }\n}\nvrrp_sync_group G2 {\n group {\n  VI_1\n  VI_2\n }\n}",
    ));
    ignored_at(&l, 12, "doesn't exist - ignoring");
    ignored_at(&l, 17, "cannot exist in more than one sync group");
    let groups: Vec<_> = l
        .config
        .sync_groups
        .iter()
        .map(|g| (g.name.as_str(), g.members.clone()))
        .collect();
    assert_eq!(
        groups,
        [
            ("G1", vec!["VI_1".to_owned()]),
            ("G2", vec!["VI_2".to_owned()])
        ]
    );
    // No member left, an empty or a missing group block: the sync group is removed.
    let l = load(&synced(
        "vrrp_sync_group G1 {\n group {\n  VI_3\n }\n}\nvrrp_sync_group G2 {\n group {\n }\n}",
    ));
    ignored_at(&l, 9, "no vrrp_instance left");
    ignored_at(&l, 15, "empty group block");
    assert!(l.config.sync_groups.is_empty());
    // A second group block: the first is kept when it ends the sync group...
    let l = load(&synced(
        "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_2\n }\n group {\n  VI_2\n }\n}",
    ));
    ignored_at(&l, 14, "Group list already specified");
    assert_eq!(l.config.sync_groups[0].members, ["VI_1", "VI_2"]);
    // ... and refused before other lines, which keepalived reads outside the sync group.
    let e = refused(&synced(
        "vrrp_sync_group G1 {\n group {\n  VI_1\n }\n group {\n  VI_2\n }\n notify_master /bin/true\n}",
    ));
    assert!(e
        .iter()
        .any(|d| d.line == 13 && d.message.contains("merge the two blocks")));
}

#[test]
fn global_garp_intervals_and_debug_out_of_range_are_ignored() {
    let l = load(&format!(
        "global_defs {{\n vrrp_garp_interval 5000\n vrrp_gna_interval 4294.967296\n}}\n{}",
        instance(" debug 9")
    ));
    ignored_at(&l, 2, "vrrp_garp_interval is invalid");
    ignored_at(&l, 3, "vrrp_gna_interval is invalid");
    ignored_at(&l, 9, "Debug value not valid");
    let g = &l.config.global.garp;
    assert_eq!(
        (g.interval, g.gna_interval),
        (Duration::ZERO, Duration::ZERO)
    );
}

#[test]
fn a_bad_peer_ttl_option_is_dropped_and_the_peer_kept() {
    let l = load(&instance(
        " unicast_peer {\n  198.18.0.2 min_ttl 300\n  198.18.0.3 max_ttl\n  198.18.0.4 min_ttl 5 max_ttl abc\n }",
    ));
    ignored_at(&l, 6, "number outside range [0, 255]");
    ignored_at(&l, 7, "is missing a value");
    ignored_at(&l, 8, "invalid number");
    let i = only(&l);
    assert_eq!(i.unicast_peers.len(), 3);
    let ttl: Vec<_> = i
        .unicast_peer_ttl
        .iter()
        .map(|(ip, r)| (ip.to_string(), r.min, r.max))
        .collect();
    assert_eq!(ttl, [("198.18.0.4".to_owned(), 5, 255)]);
}

#[test]
fn a_track_file_keeps_its_first_file_and_weight() {
    let text = "vrrp_track_file tf {\n file /run/a\n file /run/b\n weight 300\n weight 5\n weight 7 sideways\n}\n"
        .to_owned()
        + &instance(" track_file {\n  tf\n }");
    let l = load(&text);
    ignored_at(&l, 3, "File already set");
    ignored_at(&l, 4, "must be between [-254..254]");
    ignored_at(&l, 6, "Weight already set");
    let f = &l.config.track_files[0];
    assert_eq!(
        (f.file.to_str(), f.weight, f.reverse),
        (Some("/run/a"), 5, false)
    );
}

#[test]
fn a_second_notify_fifo_is_ignored() {
    let l = load(&format!(
        "global_defs {{\n notify_fifo /run/fifo1\n notify_fifo /run/fifo2\n vrrp_notify_fifo /run/v1\n \
         vrrp_notify_fifo /run/v2\n}}\n{}",
        instance("")
    ));
    ignored_at(&l, 3, "notify_fifo already specified - ignoring");
    ignored_at(&l, 5, "notify_fifo already specified - ignoring");
    let g = &l.config.global;
    let paths = |f: &Option<super::NotifyFifo>| f.as_ref().map(|f| f.path.clone());
    assert_eq!(paths(&g.notify_fifo), Some("/run/fifo1".into()));
    assert_eq!(paths(&g.vrrp_notify_fifo), Some("/run/v1".into()));
}

#[test]
fn a_track_process_weight_keepalived_ignores() {
    let text =
        "vrrp_track_process P {\n process x\n weight 255\n weight -5 sideways\n weight 9\n}\n"
            .to_owned()
            + &instance(" track_process {\n  P\n }");
    let l = load(&text);
    ignored_at(&l, 3, "must be between [-254..254]");
    ignored_at(&l, 4, "unknown weight option");
    ignored_at(&l, 5, "Weight already set");
    let p = &l.config.track_processes[0];
    assert_eq!((p.weight, p.reverse), (-5, false));
}

#[test]
fn a_script_weight_is_what_keepalived_reads() {
    for (text, weight) in [("high", 0), ("-20x", -20), ("-300", -300)] {
        let l = load(
            &(format!("vrrp_script chk {{\n script /bin/true\n weight {text}\n}}\n")
                + &instance(" track_script { chk }")),
        );
        ignored_at(&l, 3, "weight must be in [-253, 253]");
        assert_eq!(l.config.scripts[0].weight, weight, "{text}");
    }
}

#[test]
fn a_scope_or_label_on_an_ipv6_address_is_dropped() {
    let text = "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  \
                2001:db8::1/64 scope link\n  2001:db8::2/64 label eth0:v6\n  2001:db8::3/64 scope global\n }\n}\n";
    let l = load(text);
    ignored_at(&l, 5, "Cannot specify scope for IPv6 addresses");
    ignored_at(&l, 6, "Cannot specify label for IPv6 addresses");
    assert!(!l.warnings.iter().any(|w| w.line == 7), "{:?}", l.warnings);
    let v = &only(&l).vips;
    assert_eq!(
        (
            v[0].scope.as_deref(),
            v[1].label.as_deref(),
            v[2].scope.as_deref()
        ),
        (None, None, Some("global"))
    );
}

#[test]
fn a_garp_extra_if_without_a_valid_time_is_ignored() {
    let l = load(&instance(
        " garp_extra_if 5 all\n garp_extra_if 99999\n garp_extra_if\n virtual_ipaddress_excluded {\n  \
         198.18.1.1/24 dev eth1\n }",
    ));
    ignored_at(&l, 6, "garp_extra_if invalid - ignoring");
    ignored_at(&l, 7, "specified without time - ignoring");
    assert_eq!(only(&l).garp.extra_if, Some(Duration::from_secs(5)));
}
