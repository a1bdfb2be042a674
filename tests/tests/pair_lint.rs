//! `vrrp-agent check -f NODE1 --peer NODE2 [--peer ...] [--json]`: exit codes, the text
//! lines and the JSON document on the pair fixtures of configs/pairs (the exact findings of
//! every fixture are in vrrp-agent's lint unit tests).
use std::{path::PathBuf, process::Command};

use serde_json::Value;
use vrrp_tests::agent_bin;

fn pairs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join("pairs")
}

/// Runs the agent in configs/pairs, so that locations are the bare file names.
fn agent(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(agent_bin().unwrap())
        .current_dir(pairs())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_clean_errors_warnings() {
    for (a, b, code, first) in [
        (
            "nginx-a.conf",
            "nginx-b.conf",
            0,
            "nginx-a.conf <-> nginx-b.conf: 0 error(s), 0 warning(s)",
        ),
        (
            "haproxy-a.conf",
            "haproxy-b.conf",
            0,
            "haproxy-a.conf <-> haproxy-b.conf: 0 error(s)",
        ),
        (
            "nginx-a.conf",
            "nginx-b-pass.conf",
            1,
            "error[auth]: nginx-a.conf:22:5 <-> nginx-b-pass.conf:20:5: VRID 51 (IPv4): ",
        ),
        (
            "haproxy-a.conf",
            "haproxy-b-multicast.conf",
            1,
            "error[unicast_multicast]: haproxy-a.conf:27:9 <-> haproxy-b-multicast.conf:12:1: ",
        ),
        (
            "dual-a.conf",
            "dual-b.conf",
            2,
            "warning[check_cannot_move]: dual-a.conf:24:20 <-> dual-b.conf:20:5: VRID 51 (IPv4): ",
        ),
        (
            "nginx-a.conf",
            "nginx-b-master.conf",
            2,
            "warning[both_master]: nginx-a.conf:16:5 <-> nginx-b-master.conf:15:5: ",
        ),
    ] {
        let (got, out, err) = agent(&["check", "-f", a, "--peer", b]);
        assert_eq!(got, code, "{a} vs {b}:\n{out}\n{err}");
        assert!(out.starts_with(first), "{a} vs {b}:\n{out}");
    }
}

#[test]
fn json_document_for_ci() {
    let (code, out, _) = agent(&[
        "check",
        "-f",
        "dual-a.conf",
        "--peer",
        "dual-b.conf",
        "--json",
    ]);
    assert_eq!(code, 2);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["errors"], 0);
    assert_eq!(j["warnings"], 2);
    assert_eq!(
        j["files"],
        serde_json::json!(["dual-a.conf", "dual-b.conf"])
    );
    let f = &j["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f[1]["severity"], "warning");
    assert_eq!(f[1]["kind"], "check_cannot_move");
    assert_eq!(f[1]["vrid"], 52);
    assert_eq!(f[1]["instances"], serde_json::json!(["VI_2", "VI_2"]));
    assert_eq!(f[1]["locations"][0]["file"], "dual-a.conf");
    assert_eq!(f[1]["locations"][0]["line"], 31);
    assert_eq!(f[1]["locations"][1]["line"], 35);
    assert!(f[1]["message"]
        .as_str()
        .unwrap()
        .contains("from priority 150 to 130"));

    let (code, out, _) = agent(&[
        "check",
        "-f",
        "nginx-a.conf",
        "--peer",
        "nginx-b-v3.conf",
        "--json",
    ]);
    assert_eq!(code, 1);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["findings"][0]["kind"], "version");
    assert_eq!(j["findings"][0]["severity"], "error");
}

#[test]
fn three_nodes_are_checked_pairwise() {
    // a-b clean, a-pass and b-pass both differ in the password.
    let (code, out, _) = agent(&[
        "check",
        "-f",
        "nginx-a.conf",
        "--peer",
        "nginx-b.conf",
        "--peer",
        "nginx-b-pass.conf",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("nginx-a.conf <-> nginx-b.conf: 0 error(s)"),
        "{out}"
    );
    assert!(
        out.contains("nginx-a.conf <-> nginx-b-pass.conf: 1 error(s)"),
        "{out}"
    );
    assert!(
        out.contains("nginx-b.conf <-> nginx-b-pass.conf: 1 error(s)"),
        "{out}"
    );
}

#[test]
fn unreadable_peer_and_bad_flags() {
    let (code, out, err) = agent(&[
        "check",
        "-f",
        "nginx-a.conf",
        "--peer",
        "missing.conf",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing.conf:0:0: error: cannot read"),
        "{err}"
    );
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["load_errors"][0]["file"], "missing.conf");
    assert_eq!(j["findings"], serde_json::json!([]));
    // --json belongs to --peer.
    let (code, out, err) = agent(&["check", "-f", "nginx-a.conf", "--json"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("--peer"), "{err}");
}

/// The seed guides' own node pairs, as published (configs/seeds): two of them carry the
/// pitfalls their troubleshooting sections warn about.
#[test]
fn published_seed_pairs() {
    let seeds = pairs().parent().unwrap().join("seeds");
    for (a, b, code, kinds) in [
        // Backup nopreempt + Master weight -20: only FAULT would move the address.
        (
            "000-nginx-master.conf",
            "000-nginx-backup.conf",
            2,
            &["check_cannot_move"][..],
        ),
        (
            "001-haproxy-01.conf",
            "001-haproxy-02.conf",
            2,
            &["nopreempt_master"],
        ),
        (
            "001-haproxy-reference-01.conf",
            "001-haproxy-reference-02.conf",
            0,
            &[],
        ),
        (
            "001-haproxy-active-active-01.conf",
            "001-haproxy-active-active-02.conf",
            0,
            &[],
        ),
        // 150/100 with weight -20, on each node's Master VRID.
        (
            "003-dual-master-a.conf",
            "003-dual-master-b.conf",
            2,
            &["check_cannot_move", "check_cannot_move"],
        ),
    ] {
        let out = Command::new(agent_bin().unwrap())
            .current_dir(&seeds)
            .args(["check", "-f", a, "--peer", b, "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{a} vs {b}");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<&str> = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        assert_eq!(got, kinds, "{a} vs {b}");
    }
}
