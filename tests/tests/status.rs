//! `vrrp-agent status` and `vrrp-agent reload` against real agents in network namespaces:
//! what an election leaves in the snapshot (text and JSON), the exit codes, who may use the
//! control socket, reloads accepted and rejected, and peers advertising other settings.
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use anyhow::{Context, Result};
use serde_json::Value;
use vrrp_tests::{
    agent_bin, lab::v3_instance, start_agent_with, wait_for, Agent, Netns, TempDir, VethPair,
};

const VIP: &str = "198.18.0.100";
/// Generous bound for an election on a busy machine (advert_int 0.1: about 0.4 s alone).
const SETTLE: Duration = Duration::from_secs(20);

/// Runs `vrrp-agent ARGS` in `ns`.
fn cli(ns: &Netns, args: &[&str]) -> Result<Output> {
    ns.command(agent_bin()?)
        .args(args)
        .output()
        .context("running vrrp-agent")
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `status --json` of the agent on `sock`, parsed.
fn snapshot(ns: &Netns, sock: &Path) -> Result<Value> {
    let o = cli(
        ns,
        &[
            "status",
            "--json",
            "--control-socket",
            &sock.to_string_lossy(),
        ],
    )?;
    serde_json::from_slice(&o.stdout).with_context(|| format!("status --json: {}", text(&o)))
}

fn instance<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .unwrap_or(&Value::Null)
}

/// Waits until `name` on `sock` is in `state`; the last snapshot.
fn wait_state(ns: &Netns, sock: &Path, name: &str, state: &str) -> Value {
    let mut last = Value::Null;
    wait_for(SETTLE, || {
        last = snapshot(ns, sock).ok()?;
        (instance(&last, name)["state"] == state).then_some(())
    });
    last
}

/// Dropped in field order: the agents stop before their namespaces and files go.
struct Pair {
    a: Agent,
    b: Agent,
    net: VethPair,
    dir: TempDir,
    a_sock: PathBuf,
    b_sock: PathBuf,
}

/// A (priority 200) and B (priority `b_prio`, `b_int`) for VRID 51 on a veth pair, each with a
/// control socket of its own under the test's directory.
fn pair(tag: &str, b_prio: u8, b_int: &str) -> Result<Pair> {
    let net = VethPair::new(tag)?;
    let dir = TempDir::new(tag)?;
    let a_sock = dir.path().join("a.sock");
    let b_sock = dir.path().join("b.sock");
    let a_conf = v3_instance("VI_1", &net.a_if, 51, 200, "0.1", VIP);
    let b_conf = v3_instance("VI_1", &net.b_if, 51, b_prio, b_int, VIP);
    let a = start_agent_with(
        &net.a,
        dir.path(),
        "a",
        &a_conf,
        &["--control-socket", &a_sock.to_string_lossy()],
    )?;
    let b = start_agent_with(
        &net.b,
        dir.path(),
        "b",
        &b_conf,
        &["--control-socket", &b_sock.to_string_lossy()],
    )?;
    Ok(Pair {
        net,
        dir,
        a,
        b,
        a_sock,
        b_sock,
    })
}

#[test]
fn status_after_an_election_shows_master_backup_and_the_vip() -> Result<()> {
    let p = pair("obel", 100, "0.1")?;
    let a = wait_state(&p.net.a, &p.a_sock, "VI_1", "MASTER");
    let b = wait_state(&p.net.b, &p.b_sock, "VI_1", "BACKUP");
    // B must have heard A: its Master is A's address.
    let mut b = b;
    wait_for(SETTLE, || {
        b = snapshot(&p.net.b, &p.b_sock).ok()?;
        (instance(&b, "VI_1")["master"]["address"] == "198.18.0.1").then_some(())
    });
    let ai = instance(&a, "VI_1");
    let bi = instance(&b, "VI_1");
    assert_eq!(a["schema_version"], 1);
    assert_eq!(ai["state"], "MASTER", "{a:#}");
    assert_eq!(ai["master"]["is_self"], true);
    assert_eq!(ai["vips"][0]["address"], format!("{VIP}/24"));
    assert_eq!(ai["vips"][0]["present"], true, "{ai:#}");
    assert!(ai["stats"]["advert_sent"].as_u64().unwrap_or(0) > 0);
    assert!(ai["stats"]["become_master"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(bi["state"], "BACKUP", "{b:#}");
    assert_eq!(bi["master"]["address"], "198.18.0.1", "{bi:#}");
    assert_eq!(bi["master"]["priority"], 200);
    assert!(
        bi["master"]["last_heard_ago_secs"]
            .as_f64()
            .is_some_and(|s| s < 5.0),
        "{bi:#}"
    );
    assert_eq!(bi["vips"][0]["present"], false);
    assert!(bi["stats"]["advert_rcvd"].as_u64().unwrap_or(0) > 0);
    assert_eq!(bi["peers"][0]["address"], "198.18.0.1");
    assert_eq!(bi["priority"]["configured"], 100);
    assert_eq!(a["agent"]["pid"], p.a.proc.pid());
    assert_eq!(a["agent"]["xdp"][0]["iface"], p.net.a_if.as_str());

    // The table: one line per instance, exit 0.
    let o = cli(
        &p.net.a,
        &["status", "--control-socket", &p.a_sock.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    let line = t
        .lines()
        .find(|l| l.starts_with("VI_1"))
        .unwrap_or_default();
    assert!(
        line.contains("MASTER") && line.contains("198.18.0.1 (self)") && line.contains("1/1 up"),
        "{t}"
    );
    let o = cli(
        &p.net.b,
        &["status", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        t.contains("BACKUP") && t.contains("198.18.0.1 prio 200") && t.contains("0/1 up"),
        "{t}"
    );
    // Details of one instance.
    let o = cli(
        &p.net.b,
        &[
            "status",
            "VI_1",
            "--control-socket",
            &p.b_sock.to_string_lossy(),
        ],
    )?;
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("Master:           198.18.0.1 priority 200"),
        "{}",
        text(&o)
    );
    let o = cli(
        &p.net.b,
        &[
            "status",
            "VI_9",
            "--control-socket",
            &p.b_sock.to_string_lossy(),
        ],
    )?;
    assert_eq!(code(&o), Some(1), "unknown instance: {}", text(&o));
    Ok(())
}

#[test]
fn exit_codes_say_fault_and_no_agent() -> Result<()> {
    let p = pair("obex", 100, "0.1")?;
    wait_state(&p.net.b, &p.b_sock, "VI_1", "BACKUP");
    let o = cli(
        &p.net.b,
        &["status", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    p.net.b.ip(&["link", "set", "dev", &p.net.b_if, "down"])?;
    let s = wait_state(&p.net.b, &p.b_sock, "VI_1", "FAULT");
    assert!(
        instance(&s, "VI_1")["fault_reason"]
            .as_str()
            .unwrap_or("")
            .contains("down"),
        "{s:#}"
    );
    let o = cli(
        &p.net.b,
        &["status", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(2), "FAULT: {}", text(&o));
    assert!(text(&o).contains("FAULT"), "{}", text(&o));
    // No agent: a socket path nobody serves, and a namespace without an agent (default path).
    let none = p.dir.path().join("none.sock");
    let o = cli(
        &p.net.b,
        &["status", "--control-socket", &none.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("no vrrp-agent is running"),
        "{}",
        text(&o)
    );
    let empty = Netns::new("obnone")?;
    let o = cli(&empty, &["status"])?;
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    let o = cli(&empty, &["reload"])?;
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    Ok(())
}

#[test]
fn only_the_agents_user_may_use_the_socket() -> Result<()> {
    let p = pair("obperm", 100, "0.1")?;
    let mode = std::fs::metadata(&p.a_sock)?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let bin = agent_bin()?;
    let nobody = |sock: &Path| -> Result<Output> {
        p.net
            .a
            .command("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["status", "--control-socket"])
            .arg(sock)
            .output()
            .context("setpriv")
    };
    // Positive control: root gets an answer on the same path.
    let o = cli(
        &p.net.a,
        &["status", "--control-socket", &p.a_sock.to_string_lossy()],
    )?;
    assert!(matches!(code(&o), Some(0) | Some(4)), "{}", text(&o));
    // The file mode stops another user (who can reach the directory).
    std::fs::set_permissions(p.dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let o = nobody(&p.a_sock)?;
    assert_eq!(code(&o), Some(1), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("permission denied"),
        "{}",
        text(&o)
    );
    // With the mode opened up, SO_PEERCRED still refuses.
    std::fs::set_permissions(&p.a_sock, std::fs::Permissions::from_mode(0o666))?;
    let o = nobody(&p.a_sock)?;
    assert_eq!(code(&o), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("uid 65534 may not control this agent"),
        "{}",
        text(&o)
    );
    assert!(p
        .a
        .proc
        .log_text()
        .contains("refused a connection from another user"));
    Ok(())
}

#[test]
fn reload_accepted_shows_the_change_and_rejected_names_the_error() -> Result<()> {
    let p = pair("obrl", 100, "0.1")?;
    wait_state(&p.net.b, &p.b_sock, "VI_1", "BACKUP");
    let conf = p.dir.path().join("b.conf");
    // Accepted: a new priority is taken in place.
    std::fs::write(&conf, v3_instance("VI_1", &p.net.b_if, 51, 150, "0.1", VIP))?;
    let o = cli(
        &p.net.b,
        &["reload", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("reload accepted")
            && text(&o).contains("VI_1: changed in place (priority 100 -> 150)"),
        "{}",
        text(&o)
    );
    let s = snapshot(&p.net.b, &p.b_sock)?;
    assert_eq!(instance(&s, "VI_1")["priority"]["configured"], 150, "{s:#}");
    assert_eq!(instance(&s, "VI_1")["priority"]["effective"], 150);
    // Rejected: an error at line 3, column 5; the agent keeps running its configuration.
    let bad = format!(
        "vrrp_instance VI_1 {{\n    interface {}\n    virtual_router_id 300\n    priority 90\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
        p.net.b_if
    );
    std::fs::write(&conf, bad)?;
    let o = cli(
        &p.net.b,
        &[
            "reload",
            "--json",
            "--control-socket",
            &p.b_sock.to_string_lossy(),
        ],
    )?;
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    let r: Value = serde_json::from_slice(&o.stdout).with_context(|| text(&o))?;
    assert_eq!(r["accepted"], false);
    let err = r["errors"][0].as_str().unwrap_or_default();
    assert!(err.starts_with(&format!("{}:3:", conf.display())), "{r:#}");
    let o = cli(
        &p.net.b,
        &["reload", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(":3:") && text(&o).contains("reload rejected"),
        "{}",
        text(&o)
    );
    let s = snapshot(&p.net.b, &p.b_sock)?;
    assert_eq!(
        instance(&s, "VI_1")["priority"]["configured"],
        150,
        "still running: {s:#}"
    );
    assert_eq!(s["agent"]["pid"], p.b.proc.pid());
    Ok(())
}

#[test]
fn a_peer_with_another_advert_int_is_shown_counted_and_logged_once() -> Result<()> {
    // B advertises every 0.2 s, A every 0.1 s.
    let mut p = pair("obmm", 100, "0.2")?;
    let mut s = Value::Null;
    wait_for(SETTLE, || {
        s = snapshot(&p.net.b, &p.b_sock).ok()?;
        let m = &instance(&s, "VI_1")["mismatches"];
        m.as_array()?
            .iter()
            .any(|m| m["kind"] == "advert_interval")
            .then_some(())
    });
    let bi = instance(&s, "VI_1");
    let m = bi["mismatches"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["kind"] == "advert_interval"))
        .unwrap_or(&Value::Null);
    assert_eq!(m["peer"], "198.18.0.1", "{s:#}");
    assert_eq!(m["ours"], "0.20s");
    assert_eq!(m["theirs"], "0.10s");
    assert_eq!(bi["stats"]["advert_interval_err"], 1, "{bi:#}");
    assert_eq!(bi["stats"]["mismatches"], 1);
    let o = cli(
        &p.net.b,
        &["status", "--control-socket", &p.b_sock.to_string_lossy()],
    )?;
    assert!(
        text(&o).contains("advert_int mismatch: 198.18.0.1 advertises 0.10s, we 0.20s"),
        "{}",
        text(&o)
    );
    // A's view of B: the same the other way round, once B has advertised (it may never,
    // as Backup); positive control of "no mismatch" is A's snapshot before that.
    let a = snapshot(&p.net.a, &p.a_sock)?;
    assert!(
        instance(&a, "VI_1")["mismatches"]
            .as_array()
            .is_some_and(|m| m.is_empty()),
        "{a:#}"
    );
    // Many adverts later: still one log line, still one count.
    std::thread::sleep(Duration::from_millis(1500));
    let s = snapshot(&p.net.b, &p.b_sock)?;
    assert!(
        instance(&s, "VI_1")["stats"]["advert_rcvd"]
            .as_u64()
            .unwrap_or(0)
            > 10
    );
    assert_eq!(instance(&s, "VI_1")["stats"]["advert_interval_err"], 1);
    let log = p.b.proc.log_text();
    assert_eq!(log.matches("advert_int mismatch").count(), 1, "{log}");
    p.b.proc
        .wait_log("advert_int mismatch", Duration::from_secs(1))?;
    Ok(())
}

/// A v2 instance with PASS `pass` (keepalived.conf).
fn v2_pass(iface: &str, priority: u8, pass: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id 52\n    \
         priority {priority}\n    version 2\n    advert_int 1\n    authentication {{\n        \
         auth_type PASS\n        auth_pass {pass}\n    }}\n    virtual_ipaddress {{\n        \
         {VIP}/24 dev {iface}\n    }}\n}}\n"
    )
}

#[test]
fn a_v2_peer_with_another_password_is_shown_as_an_auth_mismatch() -> Result<()> {
    let net = VethPair::new("obau")?;
    let dir = TempDir::new("obau")?;
    let a_sock = dir.path().join("a.sock");
    let b_sock = dir.path().join("b.sock");
    let mut a = start_agent_with(
        &net.a,
        dir.path(),
        "a",
        &v2_pass(&net.a_if, 200, "secret12"),
        &["--control-socket", &a_sock.to_string_lossy()],
    )?;
    let b = start_agent_with(
        &net.b,
        dir.path(),
        "b",
        &v2_pass(&net.b_if, 100, "other123"),
        &["--control-socket", &b_sock.to_string_lossy()],
    )?;
    // Logged without anyone asking for status (the agent looks every 5 s).
    a.proc.wait_log("authentication mismatch", SETTLE)?;
    // B never accepts A's adverts: both end up Master.
    wait_state(&net.a, &a_sock, "VI_1", "MASTER");
    let mut s = Value::Null;
    wait_for(SETTLE, || {
        s = snapshot(&net.a, &a_sock).ok()?;
        let i = instance(&s, "VI_1");
        (i["stats"]["auth_failure"].as_u64()? > 0
            && i["mismatches"]
                .as_array()?
                .iter()
                .any(|m| m["kind"] == "auth"))
        .then_some(())
    });
    let ai = instance(&s, "VI_1");
    assert!(
        ai["stats"]["auth_failure"].as_u64().unwrap_or(0) > 0,
        "{ai:#}"
    );
    assert!(
        ai["discards"]["bad_auth_pass"].as_u64().unwrap_or(0) > 0,
        "{ai:#}"
    );
    let m = ai["mismatches"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["kind"] == "auth"))
        .unwrap_or(&Value::Null);
    assert_eq!(
        m["peer"],
        Value::Null,
        "the kernel does not record the sender: {ai:#}"
    );
    assert_eq!(ai["stats"]["mismatches"], 1);
    // Asked again: no second count, no second log line.
    let s = snapshot(&net.a, &a_sock)?;
    assert_eq!(instance(&s, "VI_1")["stats"]["mismatches"], 1);
    a.proc
        .wait_log("authentication mismatch", Duration::from_secs(1))?;
    assert_eq!(
        a.proc.log_text().matches("authentication mismatch").count(),
        1
    );
    drop((a, b));
    Ok(())
}

#[test]
fn the_default_socket_is_the_namespaces_own() -> Result<()> {
    let net = VethPair::new("obdf")?;
    let dir = TempDir::new("obdf")?;
    let conf = v3_instance("VI_1", &net.a_if, 53, 100, "0.1", VIP);
    let agent = vrrp_tests::start_agent(&net.a, dir.path(), "a", &conf)?;
    let sock = PathBuf::from(format!("/run/vrrp-agent/control-{}.sock", net.a.name()));
    assert!(sock.exists(), "{}", agent.proc.log_text());
    let o = cli(&net.a, &["status"])?;
    assert!(matches!(code(&o), Some(0) | Some(4)), "{}", text(&o));
    assert!(text(&o).contains("VI_1"), "{}", text(&o));
    // The other namespace has no agent: its default socket is another one.
    let o = cli(&net.b, &["status"])?;
    assert_eq!(code(&o), Some(3), "{}", text(&o));
    drop(agent);
    assert!(!sock.exists(), "removed at exit");
    Ok(())
}
