//! The pair lint on the fixtures of tests/configs/pairs (after the seed guides, plus one
//! broken variant per finding kind) and on a few inline pairs: exact kinds, lines on both
//! sides and exit codes.
use std::path::Path;

use super::{
    pair::{check_pair, Finding, FindingKind, FindingKind::*},
    report::{exit_code, finding_json, text_line},
};
use crate::config::{parse_str, Config};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../tests/configs/pairs/", $name)),
        )
    };
}

fn load((name, text): (&str, &str)) -> Config {
    match parse_str(text, Path::new(name)) {
        Ok(l) => l.config,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

/// `(kind, line on node a, line on node b)`; 0 = no location on that side.
type Expected = (FindingKind, u32, u32);

/// A file name and its text.
type Fixture = (&'static str, &'static str);

/// Node a, node b, the findings, the exit code.
type Case = (Fixture, Fixture, &'static [Expected], u8);

fn lines(f: &Finding) -> (FindingKind, u32, u32) {
    let l = |i: usize| f.locations[i].as_ref().map_or(0, |l| l.line);
    (f.kind, l(0), l(1))
}

fn assert_pair(a: (&str, &str), b: (&str, &str), expected: &[Expected], code: u8) {
    let findings = check_pair(&load(a), &load(b));
    let got: Vec<_> = findings.iter().map(lines).collect();
    assert_eq!(got, expected, "{} vs {}: {findings:#?}", a.0, b.0);
    for f in &findings {
        for (i, name) in [a.0, b.0].into_iter().enumerate() {
            if let Some(l) = &f.locations[i] {
                assert_eq!(l.file, Path::new(name), "{f:?}");
            }
        }
    }
    assert_eq!(exit_code(&findings), code, "{} vs {}", a.0, b.0);
}

#[test]
fn fixture_pairs_give_exactly_the_expected_findings() {
    let nginx_a = fixture!("nginx-a.conf");
    let haproxy_a = fixture!("haproxy-a.conf");
    let haproxy_b = fixture!("haproxy-b.conf");
    #[rustfmt::skip]
    let table: &[Case] = &[
        // The seed pairs, as the guides mean them: clean.
        (nginx_a, fixture!("nginx-b.conf"), &[], 0),
        (haproxy_a, haproxy_b, &[], 0),
        (fixture!("v6-a.conf"), fixture!("v6-b.conf"), &[], 0),
        // Seed 003 as published: 150/100 with weight -20, on each node's Master VRID.
        (fixture!("dual-a.conf"), fixture!("dual-b.conf"),
         &[(CheckCannotMove, 24, 20), (CheckCannotMove, 31, 35)], 2),
        (fixture!("combo-a.conf"), fixture!("combo-b.conf"),
         &[(CheckCannotMove, 25, 6), (CheckCannotMove, 26, 6),
           (CheckCannotMove, 29, 6), (CheckCannotMove, 32, 6)], 2),
        // One broken variant per kind.
        (nginx_a, fixture!("nginx-b-v3.conf"), &[(Version, 15, 20)], 1),
        (nginx_a, fixture!("nginx-b-advert2.conf"), &[(AdvertInt, 20, 19)], 1),
        (nginx_a, fixture!("nginx-b-pass.conf"), &[(Auth, 22, 20)], 1),
        (nginx_a, fixture!("nginx-b-vips.conf"), &[(VipSet, 27, 25)], 1),
        (nginx_a, fixture!("nginx-b-other-vip.conf"), &[(VridConflict, 27, 25)], 1),
        (nginx_a, fixture!("nginx-b-vrid52.conf"), &[(Unmatched, 15, 0), (Unmatched, 0, 14)], 2),
        (nginx_a, fixture!("nginx-b-prio100.conf"), &[(EqualPriority, 19, 18)], 2),
        (nginx_a, fixture!("nginx-b-master.conf"), &[(BothMaster, 16, 15)], 2),
        // Seed 000's Backup as published: nopreempt, so check_nginx's -20 never moves it.
        (nginx_a, fixture!("nginx-b-nopreempt.conf"), &[(CheckCannotMove, 30, 20)], 2),
        (haproxy_a, fixture!("haproxy-b-multicast.conf"), &[(UnicastMulticast, 27, 12)], 1),
        (haproxy_a, fixture!("haproxy-b-wrong-peer.conf"), &[(UnicastPeerMissing, 25, 24)], 1),
        (haproxy_a, fixture!("haproxy-b-no-src.conf"), &[(UnicastPeerUnknown, 27, 12)], 2),
        (haproxy_a, fixture!("haproxy-b-prio110.conf"), &[(EqualPriority, 18, 16)], 2),
        (fixture!("haproxy-a-nopreempt-master.conf"), haproxy_b, &[(NopreemptMaster, 18, 13)], 2),
        // The order of the files does not change the findings, only the sides.
        (fixture!("nginx-b-pass.conf"), nginx_a, &[(Auth, 20, 22)], 1),
        (haproxy_b, fixture!("haproxy-a-nopreempt-master.conf"), &[(NopreemptMaster, 13, 18)], 2),
    ];
    for (a, b, expected, code) in table {
        assert_pair(*a, *b, expected, *code);
    }
}

#[test]
fn messages_say_what_and_why() {
    let dual = check_pair(
        &load(fixture!("dual-a.conf")),
        &load(fixture!("dual-b.conf")),
    );
    let m = &dual[0].message;
    assert!(m.contains("from priority 150 to 130"), "{m}");
    assert!(m.contains("still above the Backup's 100"), "{m}");
    assert!(m.contains("no combination moves it"), "{m}");
    assert!(m.contains("larger than 50"), "{m}");
    // VI_2's Master is node b: its check is on b's side.
    assert_eq!(
        dual[1].instances,
        [Some("VI_2".into()), Some("VI_2".into())]
    );
    assert!(dual[1].message.contains("on the Master dual-b.conf"));

    let combo = check_pair(
        &load(fixture!("combo-a.conf")),
        &load(fixture!("combo-b.conf")),
    );
    let smallest = "the smallest set of failing checks that moves it: track_script chk_a \
                    (weight -30) + track_script chk_b (weight 30) (combo-a.conf then at 90)";
    for f in &combo {
        assert!(f.message.contains(smallest), "{}", f.message);
    }
    // Positive weight: added while the script succeeds, so failing removes it.
    assert!(combo[1].message.contains("from priority 150 to 120"));
    assert!(combo[2].message.contains("to 110"));
    // track_file maint weight -10: 150 - 10 v < 100 from v = 6.
    assert!(
        combo[3].message.contains("the file holding 6 or more"),
        "{}",
        combo[3].message
    );

    let nopreempt = check_pair(
        &load(fixture!("nginx-a.conf")),
        &load(fixture!("nginx-b-nopreempt.conf")),
    );
    let m = &nopreempt[0].message;
    assert!(m.contains("from priority 100 to 80, but the Backup"), "{m}");
    assert!(m.contains("has nopreempt"), "{m}");
    assert!(m.contains("no combination moves it"), "{m}");

    let eq = check_pair(
        &load(fixture!("haproxy-a.conf")),
        &load(fixture!("haproxy-b-prio110.conf")),
    );
    assert!(eq[0]
        .message
        .contains("haproxy-b-prio110.conf wins: its source address 198.18.30.12"));
    let missing = check_pair(
        &load(fixture!("haproxy-a.conf")),
        &load(fixture!("haproxy-b-wrong-peer.conf")),
    );
    assert!(missing[0].message.contains("add 198.18.30.11"));
}

#[test]
fn text_and_json_carry_both_locations() {
    let a = fixture!("nginx-a.conf");
    let b = fixture!("nginx-b-vrid52.conf");
    let findings = check_pair(&load(a), &load(b));
    let nodes = [Path::new(a.0), Path::new(b.0)];
    assert!(text_line(nodes, &findings[0]).starts_with(
        "warning[unmatched]: nginx-a.conf:15:1 <-> nginx-b-vrid52.conf (no instance): VRID 51 (IPv4): "
    ));
    let j = finding_json(nodes, &findings[1]);
    assert_eq!(j["severity"], "warning");
    assert_eq!(j["kind"], "unmatched");
    assert_eq!(j["vrid"], 52);
    assert_eq!(j["family"], "IPv4");
    assert!(j["locations"][0].is_null());
    assert_eq!(j["locations"][1]["file"], "nginx-b-vrid52.conf");
    assert_eq!(j["locations"][1]["line"], 14);
    assert!(j["instances"][0].is_null());
    assert_eq!(j["instances"][1], "VI_1");
}

fn inline(name: &str, text: &str) -> Config {
    load((name, text))
}

fn node(name: &str, body: &str, extra: &str) -> Config {
    inline(
        name,
        &format!(
            "{extra}\nvrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 7\n{body}\n}}\n"
        ),
    )
}

fn kinds(a: &Config, b: &Config) -> Vec<FindingKind> {
    check_pair(a, b).iter().map(|f| f.kind).collect()
}

#[test]
fn vip_order_interface_names_and_v3_intervals_do_not_matter() {
    let a = node(
        "a.conf",
        "    priority 110\n    version 3\n    advert_int 1\n    virtual_ipaddress {\n        198.18.7.1\n        198.18.7.2\n    }",
        "",
    );
    let b = inline(
        "b.conf",
        "vrrp_instance OTHER {\n    interface ens4\n    virtual_router_id 7\n    version 3\n    advert_int 2\n    virtual_ipaddress {\n        198.18.7.2/24\n        198.18.7.1/24\n    }\n}\n",
    );
    assert_eq!(kinds(&a, &b), []);
    // The same VRID in the other family is another virtual router.
    let v6 = node(
        "c.conf",
        "    virtual_ipaddress {\n        2001:db8::7\n    }",
        "",
    );
    assert_eq!(kinds(&a, &v6), [Unmatched, Unmatched]);
}

#[test]
fn health_checks_follow_the_tracking_rules() {
    let backup = node(
        "b.conf",
        "    priority 100\n    virtual_ipaddress {\n        198.18.7.1\n    }",
        "",
    );
    let script = |weight: &str| {
        format!("vrrp_script chk {{\n    script \"/bin/true\"\n    weight {weight}\n}}\n")
    };
    let master = |weight: &str| {
        node(
            "a.conf",
            "    priority 150\n    virtual_ipaddress {\n        198.18.7.1\n    }\n    track_script {\n        chk\n    }",
            &script(weight),
        )
    };
    // Weight 0: failing is FAULT, which always moves the addresses.
    assert_eq!(kinds(&master("0"), &backup), []);
    // -51 takes 150 below 100; -50 only to 100, where the Master stays.
    assert_eq!(kinds(&master("-51"), &backup), []);
    let eq = check_pair(&master("-50"), &backup);
    assert_eq!(eq.len(), 1);
    assert!(
        eq[0].message.contains("equal to the Backup's 100"),
        "{}",
        eq[0].message
    );
    assert!(eq[0].message.contains("no combination moves it"));
    // reverse: the adjustment applies the other way; still 20 points between the states.
    assert_eq!(kinds(&master("-20 reverse"), &backup), [CheckCannotMove]);
    // A sync group member: keepalived drops weighted track_scripts (so -20 can never
    // move anything), and weight 0 still means FAULT.
    let grouped = |weight: &str| {
        inline(
        "a.conf",
        &format!(
            "{}vrrp_sync_group G {{\n    group {{\n        VI_1\n    }}\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 7\n    priority 150\n    virtual_ipaddress {{\n        198.18.7.1\n    }}\n    track_script {{\n        chk\n    }}\n}}\n",
            script(weight)
        ),
    )
    };
    assert_eq!(kinds(&grouped("-20"), &backup), [CheckCannotMove]);
    assert_eq!(kinds(&grouped("0"), &backup), []);
    // The address owner's priority never changes: no weight can move it.
    let owner = node(
        "a.conf",
        "    priority 255\n    virtual_ipaddress {\n        198.18.7.1\n    }\n    track_script {\n        chk\n    }",
        &script("-200"),
    );
    assert_eq!(kinds(&owner, &backup), [CheckCannotMove]);
    // The Backup's own checks count at their healthy value: +30 on the Backup makes 130.
    let backup_plus = node(
        "b.conf",
        "    priority 100\n    virtual_ipaddress {\n        198.18.7.1\n    }\n    track_script {\n        chk\n    }",
        &script("30"),
    );
    assert_eq!(kinds(&master("-40"), &backup), [CheckCannotMove]);
    assert_eq!(kinds(&master("-40"), &backup_plus), []);
    // A Backup with nopreempt never takes over from a live Master: only FAULT moves it.
    let backup_nopreempt = node(
        "b.conf",
        "    priority 100\n    nopreempt\n    virtual_ipaddress {\n        198.18.7.1\n    }",
        "",
    );
    assert_eq!(kinds(&master("0"), &backup_nopreempt), []);
    let f = check_pair(&master("-140"), &backup_nopreempt);
    assert_eq!(
        f.iter().map(lines).collect::<Vec<_>>(),
        [(CheckCannotMove, 14, 6)]
    );
}

#[test]
fn equal_priorities_pick_the_master_by_state() {
    let mk = |name: &str, state: &str| {
        node(
            name,
            &format!(
                "    state {state}\n    priority 100\n    virtual_ipaddress {{\n        198.18.7.1\n    }}"
            ),
            "",
        )
    };
    let f = check_pair(&mk("a.conf", "BACKUP"), &mk("b.conf", "MASTER"));
    assert_eq!(
        f.iter().map(|f| f.kind).collect::<Vec<_>>(),
        [EqualPriority]
    );
    assert!(f[0].message.contains("the files do not say the addresses"));
}

#[test]
fn unicast_lists_are_checked_both_ways() {
    let mk = |name: &str, src: &str, peers: &str| {
        node(
            name,
            &format!(
                "    priority {}\n    unicast_src_ip {src}\n    unicast_peer {{\n{peers}    }}\n    virtual_ipaddress {{\n        198.18.7.1\n    }}",
                if name == "a.conf" { 110 } else { 100 }
            ),
            "",
        )
    };
    // A third node in the list is fine; each list must hold the other's source.
    let a = mk(
        "a.conf",
        "198.18.7.11",
        "        198.18.7.13\n        198.18.7.12\n",
    );
    let b = mk("b.conf", "198.18.7.12", "        198.18.7.11\n");
    assert_eq!(kinds(&a, &b), []);
    let b_bad = mk("b.conf", "198.18.7.14", "        198.18.7.15\n");
    let f = check_pair(&a, &b_bad);
    assert_eq!(
        f.iter().map(lines).collect::<Vec<_>>(),
        [(UnicastPeerMissing, 8, 6), (UnicastPeerMissing, 6, 8)]
    );
}
