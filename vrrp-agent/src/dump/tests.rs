//! The dumps of keepalived's own lab situation (fixtures/: keepalived 2.2.7's files for
//! fixtures/keepalived.conf: one VRRPv3 Master, advert_int 0.1, one vrrp_script) compared
//! with ours for the same configuration and state.
use super::*;
use crate::runtime::status::InstanceStatus;

const CONF: &str = include_str!("fixtures/keepalived.conf");
const DATA: &str = include_str!("fixtures/keepalived.data.vrrp");
const STATS: &str = include_str!("fixtures/keepalived.stats");
const JSON: &str = include_str!("fixtures/keepalived.json");

/// The instance as the snapshot shows it in keepalived's situation: Master since
/// 1796194162.762202, 69 adverts sent, the VIP held.
fn status() -> InstanceStatus {
    serde_json::from_value(serde_json::json!({
        "name": "VI_1", "interface": "kd-a0", "vrid": 51, "family": "ipv4", "version": 3,
        "state": "MASTER", "state_since_unix": 1796194162.762202, "state_for_secs": 2.0,
        "state_reason": "master down timer expired", "fault_reason": null, "sync_group": null,
        "priority": {"configured": 150, "effective": 150, "tracking_delta": 0, "inputs": [
            {"kind": "script", "name": "chk", "weight": -20, "reverse": false,
             "sync_group": null, "state": "ok", "file_value": null, "contribution": 0,
             "fault": false}]},
        "advert_interval_secs": 0.1, "master_advert_interval_secs": 0.1,
        "unicast_peers": [],
        "master": {"address": "198.18.0.1", "is_self": true, "priority": 150,
                   "advert_interval_secs": 0.1, "last_heard_unix": null,
                   "last_heard_ago_secs": null},
        "peers": [],
        "vips": [{"address": "198.18.1.51/32", "interface": "kd-a0", "excluded": false,
                  "held": true, "present": true}],
        "stats": {"advert_rcvd": 0, "advert_sent": 69, "become_master": 1,
                  "release_master": 0, "packet_len_err": 0, "advert_interval_err": 0,
                  "ip_ttl_err": 0, "invalid_type_rcvd": 0, "addr_list_err": 0,
                  "invalid_authtype": 0, "authtype_mismatch": 0, "auth_failure": 0,
                  "pri_zero_rcvd": 0, "pri_zero_sent": 0, "chk_err": 0, "vers_err": 0,
                  "transitions": 1, "mismatches": 0},
        "discards": {}, "kernel_valid": 0, "mismatches": []
    }))
    .expect("an InstanceStatus")
}

fn config() -> crate::config::Config {
    crate::config::parse_str(CONF, Path::new("keepalived.conf"))
        .expect("the fixture parses")
        .config
}

fn with_instance<T>(f: impl FnOnce(&[DumpInstance<'_>]) -> T) -> T {
    let st = status();
    let cfg = config();
    let i = DumpInstance {
        status: &st,
        config: &cfg.instances[0],
        src_ip: Some("198.18.0.1".parse().expect("address")),
        read_timeout_unix: Some(1796194165.367449),
        master_down_timer: Duration::from_micros(341_406),
        script_commands: vec![("chk".into(), "/usr/bin/true".into())],
    };
    f(&[i])
}

/// A line's key: what comes before ` = `, or the whole line for list items and headers.
fn key(line: &str) -> &str {
    line.split(" = ").next().unwrap_or(line)
}

#[test]
fn data_has_keepalived_keys_in_order_with_the_same_indentation() {
    let ours = with_instance(data);
    // keepalived's receive and send sockets have no counterpart (XDP receives): that one
    // line is left out.
    let theirs: Vec<&str> = DATA
        .lines()
        .filter(|l| !l.starts_with("   fd_in "))
        .collect();
    let ours: Vec<&str> = ours.lines().collect();
    let keys = |v: &[&str]| v.iter().map(|l| key(l).to_string()).collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&theirs), "ours:\n{}", ours.join("\n"));
    // Values that must agree, byte for byte (time lines depend on the local time zone:
    // only their seconds part is compared).
    for (a, b) in ours.iter().zip(&theirs) {
        if a.contains("Last transition") || a.contains("Read timeout") {
            assert_eq!(a.split(" (").next(), b.split(" (").next());
            continue;
        }
        assert_eq!(a, b);
    }
}

#[test]
fn ctime_matches_keepalived_layout() {
    // keepalived ran in UTC: (Wed Dec  2 06:49:22.762202 2026). Here the local zone may
    // differ: the layout is compared, and the whole text when the zone is UTC.
    let t = time_with_ctime(1796194162.762202);
    assert!(t.starts_with("1796194162.762202 ("), "{t}");
    assert!(t.ends_with(".762202 2026)"), "{t}");
    let inner = &t["1796194162.762202 (".len()..t.len() - 1];
    assert_eq!(inner.len(), "Wed Dec  2 06:49:22.762202 2026".len(), "{t}");
    let t0 = 1796194162 as libc::time_t;
    // SAFETY: localtime_r into a zeroed struct we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t0, &mut tm) };
    if tm.tm_gmtoff == 0 {
        assert_eq!(t, "1796194162.762202 (Wed Dec  2 06:49:22.762202 2026)");
    }
}

#[test]
fn stats_match_keepalived_byte_for_byte() {
    let mut st = status();
    st.stats.advert_sent = 26;
    let cfg = config();
    let i = DumpInstance {
        status: &st,
        config: &cfg.instances[0],
        src_ip: None,
        read_timeout_unix: None,
        master_down_timer: Duration::ZERO,
        script_commands: vec![],
    };
    assert_eq!(stats(&[i]), STATS);
}

#[test]
fn json_matches_keepalived_as_json() {
    let ours: serde_json::Value =
        serde_json::from_str(&with_instance(json)).expect("our JSON parses");
    let theirs: serde_json::Value = serde_json::from_str(JSON).expect("keepalived's parses");
    assert_eq!(ours, theirs);
    // And in keepalived's key order.
    let text = with_instance(json);
    let order = |t: &str| {
        let mut keys: Vec<(usize, &str)> = [
            "\"iname\"",
            "\"vrid\"",
            "\"state\"",
            "\"vips\"",
            "\"auth_type\"",
            "\"advert_rcvd\"",
            "\"pri_zero_sent\"",
        ]
        .iter()
        .map(|k| (t.find(k).expect("key present"), *k))
        .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect::<Vec<_>>()
    };
    assert_eq!(order(&text), order(JSON));
}

#[test]
fn a_backup_names_its_master() {
    let mut st = status();
    st.state = InstanceState::Backup;
    st.master = Some(crate::runtime::status::MasterStatus {
        address: "198.18.0.2".into(),
        is_self: false,
        priority: 200,
        advert_interval_secs: 0.1,
        last_heard_unix: None,
        last_heard_ago_secs: None,
    });
    st.vips[0].held = false;
    let cfg = config();
    let i = DumpInstance {
        status: &st,
        config: &cfg.instances[0],
        src_ip: None,
        read_timeout_unix: None,
        master_down_timer: Duration::ZERO,
        script_commands: vec![],
    };
    let text = data(std::slice::from_ref(&i));
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "   State = BACKUP")
        .expect("state");
    assert_eq!(lines[at + 1], "   Master router = 198.18.0.2");
    assert_eq!(lines[at + 2], "   Master priority = 200");
    assert_eq!(lines[at + 3], "   Master advert int = 0.10 sec");
    assert!(text.contains("   Master advert interval = 100 milli-sec\n"));
    assert!(
        text.contains("     198.18.1.51 dev kd-a0 scope global\n"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&json(&[i])).expect("parses");
    assert_eq!(v[0]["data"]["state"], 1);
    assert_eq!(v[0]["data"]["master_priority"], 200);
    assert_eq!(v[0]["data"]["vipset"], false);
}

#[test]
fn files_are_replaced_through_a_rename_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_file(dir.path(), "keepalived.data", "one\n").expect("written");
    write_file(dir.path(), "keepalived.data", "two\n").expect("rewritten");
    assert_eq!(std::fs::read_to_string(&p).expect("read"), "two\n");
    let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}
