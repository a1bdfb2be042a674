//! The `vrrp-agent` command line: `check` exit codes and messages on the seed configs and
//! on broken ones, and clear errors for bad flags.
use std::{path::PathBuf, process::Command};

use vrrp_tests::agent_bin;

fn configs(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(dir)
}

fn agent(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(agent_bin().unwrap())
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
fn check_accepts_every_seed_config() {
    let mut n = 0;
    for entry in std::fs::read_dir(configs("seeds")).unwrap() {
        let path = entry.unwrap().path();
        let p = path.to_str().unwrap();
        let (code, out, err) = agent(&["check", "--config", p]);
        assert_eq!(code, 0, "{p}:\n{err}");
        assert!(out.contains(": OK ("), "{out}");
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn check_prints_warnings_and_still_succeeds() {
    let p = configs("seeds").join("003-dual-master-a.conf");
    let (code, _, err) = agent(&["check", "-f", p.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        err.contains("003-dual-master-a.conf:8:26: warning: `[email` is not an email address"),
        "{err}"
    );
    assert!(
        err.contains("auth_pass is longer than 8 characters"),
        "{err}"
    );
}

#[test]
fn check_says_which_tracking_weights_keepalived_ignores() {
    let dir = std::env::temp_dir().join(format!("vrrp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("group.conf");
    std::fs::write(
        &p,
        "vrrp_script chk { script \"/bin/true\"\n weight -20 }\n\
         vrrp_sync_group G { group { VI_1 } }\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n priority 100\n \
         virtual_ipaddress { 198.18.0.1 }\n track_script { chk }\n}\n",
    )
    .unwrap();
    let (code, out, err) = agent(&["check", "-f", p.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: VI_1: track_script chk (weight -20) is ignored"),
        "{err}"
    );
    assert!(out.contains("OK"), "{out}");
}

#[test]
fn check_rejects_broken_configs_with_location_and_suggestion() {
    let p = configs("broken").join("unknown-keyword.conf");
    let (code, _, err) = agent(&["check", "--config", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown-keyword.conf:4:5: error: unknown keyword `priorty` in vrrp_instance; did you mean `priority`?"),
        "{err}"
    );
    let p = configs("broken").join("unsupported-keyword.conf");
    let (code, _, err) = agent(&["check", "--config", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("this project does not support"), "{err}");
    // Every broken fixture fails, none panics.
    for entry in std::fs::read_dir(configs("broken")).unwrap() {
        let path = entry.unwrap().path();
        let (code, _, err) = agent(&["check", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 1, "{}: {err}", path.display());
        assert!(err.contains(": error: "), "{}: {err}", path.display());
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn missing_file_and_bad_flags_are_clear_errors() {
    let (code, _, err) = agent(&["check", "--config", "/nonexistent/keepalived.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read the configuration file"), "{err}");
    let p = configs("seeds").join("000-nginx-master.conf");
    let (code, _, err) = agent(&[
        "run",
        "--config",
        p.to_str().unwrap(),
        "--xdp-mode",
        "turbo",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown XDP mode `turbo`"), "{err}");
}

#[test]
fn run_log_level_takes_the_five_levels() {
    let p = configs("seeds").join("000-nginx-master.conf");
    let (code, _, err) = agent(&[
        "run",
        "--config",
        p.to_str().unwrap(),
        "--log-level",
        "loud",
    ]);
    assert_eq!(code, 2, "{err}");
    for level in ["error", "warn", "info", "debug", "trace"] {
        assert!(err.contains(level), "{err}");
    }
    let (code, out, _) = agent(&["run", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--log-level <LEVEL>"), "{out}");
}

#[test]
fn every_flag_a_message_names_exists() {
    // `check`'s warnings and `run`'s help name flags; each must be one `run` or `check` has.
    let (_, run_help, _) = agent(&["run", "--help"]);
    let (_, check_help, _) = agent(&["check", "--help"]);
    let p = configs("seeds").join("000-nginx-master.conf");
    let text = std::fs::read_to_string(&p).unwrap();
    let dir = std::env::temp_dir().join(vrrp_tests::unique("vrrp-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("k.conf");
    std::fs::write(
        &conf,
        format!("global_defs {{\n log_level 7\n log_facility local5\n}}\n{text}"),
    )
    .unwrap();
    let (code, _, err) = agent(&["check", "--config", conf.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    let mut named = 0;
    for word in err.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
        if let Some(flag) = word.strip_prefix("--") {
            let flag = flag.trim_end_matches([',', '.', ';', ':']);
            named += 1;
            let usage = format!("--{flag}");
            assert!(
                run_help.contains(&usage) || check_help.contains(&usage),
                "a warning names {usage}, which neither run nor check has:\n{err}"
            );
        }
    }
    assert!(
        named >= 2,
        "the log_level/log_facility warnings name a flag:\n{err}"
    );
}
