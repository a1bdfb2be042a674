//! Running under systemd, without systemd as PID 1: the unit passes `systemd-analyze
//! verify`; the agent tells a `NOTIFY_SOCKET` READY=1 once XDP is attached, feeds the
//! watchdog at half `WATCHDOG_USEC`, says STOPPING=1; its logs carry syslog priorities
//! when stderr is the journal (`JOURNAL_STREAM`); and it runs with no more capabilities than
//! the unit's `CapabilityBoundingSet=`.
use std::{
    os::unix::{fs::MetadataExt, net::UnixDatagram},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use vrrp_tests::{agent_bin, pin_dir, wait_for, Netns, PinDir, Proc, TempDir, VethPair};

const VIP: &str = "198.18.0.100";
/// Generous bound for start-up to Master on a busy machine.
const TO_MASTER: Duration = Duration::from_secs(20);

/// A datagram from the agent and when it came.
type Message = (Instant, String);

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/vrrp-agent.service")
}

/// One v3 instance on `iface`; with `warn`, a global keyword that draws a warning.
fn conf(iface: &str, vrid: u8, warn: bool) -> String {
    let mut c = String::new();
    if warn {
        // Accepted with a warning (<4> in the journal): not a multicast address, ignored
        // as keepalived does.
        c.push_str("global_defs {\n    vrrp_mcast_group4 198.18.0.1\n}\n");
    }
    c.push_str(&format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    \
         virtual_router_id {vrid}\n    priority 100\n    advert_int 0.1\n    version 3\n    \
         virtual_ipaddress {{\n        {VIP}/32\n    }}\n}}\n"
    ));
    c
}

/// `vrrp-agent run` through `cmd` (the agent in a namespace, with the environment or the
/// wrapper the test needs); the pin directory goes when the returned guard drops.
fn spawn(dir: &Path, tag: &str, conf_text: &str, cmd: Command) -> (Proc, PinDir) {
    let conf_path = dir.join(format!("{tag}.conf"));
    std::fs::write(&conf_path, conf_text).unwrap();
    let pins = pin_dir(tag);
    let mut cmd = cmd;
    cmd.arg("run")
        .arg("-f")
        .arg(&conf_path)
        .arg("--pin-dir")
        .arg(&*pins)
        .env("RUST_LOG", "info");
    let log = dir.join(format!("{tag}.log"));
    let proc = Proc::spawn(tag, &mut cmd, &log).unwrap();
    (proc, pins)
}

fn has_vip(ns: &Netns, iface: &str) -> bool {
    ns.ip(&["-4", "addr", "show", "dev", iface])
        .map(|out| out.contains(&format!("inet {VIP}/32")))
        .unwrap_or(false)
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = TempDir::new("vrrp-pkunit").unwrap();
    // verify checks that ExecStart= exists: point it at this build instead of /usr/sbin.
    let text = std::fs::read_to_string(unit_path()).unwrap().replace(
        "/usr/sbin/vrrp-agent",
        &agent_bin().unwrap().display().to_string(),
    );
    let unit = dir.path().join("vrrp-agent.service");
    std::fs::write(&unit, text).unwrap();
    // Documentation=man:vrrp-agent(8) must resolve: the pages the binary generates.
    let man = dir.path().join("man");
    std::fs::create_dir_all(man.join("man8")).unwrap();
    vrrp_tests::sh(
        Command::new(agent_bin().unwrap())
            .arg("manpages")
            .arg(man.join("man8")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", &man)
        .output()
        .expect("systemd-analyze (package systemd; cargo xtask setup installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{err}"
    );
    // Warnings are printed but do not fail verify: none about our unit.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("vrrp-agent.service"))
        .collect();
    assert!(ours.is_empty(), "{err}");

    // The positive control: a broken unit of the same shape fails.
    let broken = dir.path().join("broken.service");
    std::fs::write(&broken, "[Service]\nType=notify\nExecStart=relative/path\n").unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken unit passed verify");
}

#[test]
fn ready_watchdog_and_stopping_reach_the_notify_socket() {
    let vp = VethPair::new("pkn").unwrap();
    let dir = TempDir::new("vrrp-pkn").unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = vp.a.command(agent_bin().unwrap());
    cmd.env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID");
    let (mut agent, _pins) = spawn(dir.path(), "pkn", &conf(&vp.a_if, 71, false), cmd);

    let mut buf = [0u8; 512];
    let mut messages: Vec<Message> = Vec::new();
    let mut recv_until =
        |deadline: Instant, messages: &mut Vec<Message>, f: &dyn Fn(&[Message]) -> bool| {
            while Instant::now() < deadline && !f(messages) {
                if let Ok(n) = sock.recv(&mut buf) {
                    messages.push((
                        Instant::now(),
                        String::from_utf8_lossy(&buf[..n]).into_owned(),
                    ));
                }
            }
            f(messages)
        };
    let ready = |m: &[Message]| m.iter().any(|(_, s)| s.lines().any(|l| l == "READY=1"));
    assert!(
        recv_until(Instant::now() + TO_MASTER, &mut messages, &ready),
        "no READY=1: {messages:?}\n{}",
        agent.log_text()
    );
    // READY=1 comes after XDP is attached and every instance started.
    let link = vp.a.ip(&["link", "show", "dev", &vp.a_if]).unwrap();
    assert!(
        link.contains("xdp"),
        "READY=1 before XDP was attached: {link}"
    );
    assert!(
        agent.log_text().contains("instance ready"),
        "{}",
        agent.log_text()
    );
    let status = messages
        .iter()
        .find(|(_, s)| s.contains("READY=1"))
        .map(|(_, s)| s.clone())
        .unwrap();
    assert!(
        status.contains("STATUS=1 instance(s) running"),
        "{status:?}"
    );

    // WATCHDOG_USEC 0.4 s: a ping every 0.2 s. Five of them well within 10 s.
    let t0 = Instant::now();
    let pings = |m: &[Message]| {
        m.iter()
            .filter(|(_, s)| s.lines().any(|l| l == "WATCHDOG=1"))
            .count()
            >= 5
    };
    assert!(
        recv_until(t0 + Duration::from_secs(10), &mut messages, &pings),
        "fewer than 5 WATCHDOG=1 in 10 s: {messages:?}"
    );
    let times: Vec<Instant> = messages
        .iter()
        .filter(|(_, s)| s.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    // At half the interval, not as fast as the loop can go: 5 pings took at least 0.6 s.
    assert!(
        times[4].duration_since(times[0]) >= Duration::from_millis(600),
        "pings too fast: {:?}",
        times[4].duration_since(times[0])
    );
    wait_for(TO_MASTER, || has_vip(&vp.a, &vp.a_if).then_some(()))
        .unwrap_or_else(|| panic!("never Master:\n{}", agent.log_text()));

    agent.signal(libc::SIGTERM);
    let stopping = |m: &[Message]| m.iter().any(|(_, s)| s.contains("STOPPING=1"));
    assert!(
        recv_until(
            Instant::now() + Duration::from_secs(10),
            &mut messages,
            &stopping
        ),
        "no STOPPING=1: {messages:?}"
    );
    let st = agent.wait_timeout(Duration::from_secs(20)).expect("stops");
    assert!(st.success(), "{}", agent.log_text());
}

#[test]
fn no_watchdog_pings_without_watchdog_usec() {
    let vp = VethPair::new("pkw").unwrap();
    let dir = TempDir::new("vrrp-pkw").unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = vp.a.command(agent_bin().unwrap());
    cmd.env("NOTIFY_SOCKET", &sock_path)
        .env_remove("WATCHDOG_USEC");
    let (mut agent, _pins) = spawn(dir.path(), "pkw", &conf(&vp.a_if, 72, false), cmd);
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    // READY=1 is the positive control of this window; then 1.5 s with no WATCHDOG=1.
    let deadline = Instant::now() + TO_MASTER;
    while Instant::now() < deadline && !got.iter().any(|s: &String| s.contains("READY=1")) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(
        got.iter().any(|s| s.contains("READY=1")),
        "{got:?}\n{}",
        agent.log_text()
    );
    let quiet = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < quiet {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(!got.iter().any(|s| s.contains("WATCHDOG=1")), "{got:?}");
    agent.signal(libc::SIGTERM);
    agent.wait_timeout(Duration::from_secs(20)).expect("stops");
}

/// `dev:inode` of `path`, as systemd sets JOURNAL_STREAM for a stream it owns.
fn dev_ino(path: &Path) -> String {
    let m = std::fs::metadata(path).unwrap();
    format!("{}:{}", m.dev(), m.ino())
}

#[test]
fn logs_carry_syslog_priorities_when_stderr_is_the_journal() {
    let vp = VethPair::new("pkj").unwrap();
    let dir = TempDir::new("vrrp-pkj").unwrap();
    // Proc::spawn sends stderr to the log file: JOURNAL_STREAM names that file, as systemd's
    // names its socket. The file must exist to know its inode: Proc::spawn creates it anew,
    // so run through a shell that checks the inode it was given.
    let log = dir.path().join("pkj.log");
    std::fs::write(&log, "").unwrap();
    let conf_path = dir.path().join("pkj.conf");
    std::fs::write(&conf_path, conf(&vp.a_if, 73, true)).unwrap();
    let pins = pin_dir("pkj");
    let stream = dev_ino(&log);
    let mut agent_cmd = vp.a.command(agent_bin().unwrap());
    agent_cmd
        .arg("run")
        .arg("-f")
        .arg(&conf_path)
        .arg("--pin-dir")
        .arg(&*pins)
        .env("RUST_LOG", "info")
        .env("JOURNAL_STREAM", &stream)
        .stdout(std::fs::OpenOptions::new().append(true).open(&log).unwrap())
        .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
    let mut child = agent_cmd.spawn().unwrap();
    let text = wait_for(TO_MASTER, || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        t.contains("VIPs added").then_some(t)
    });
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().unwrap();
    let text = text.unwrap_or_else(|| std::fs::read_to_string(&log).unwrap_or_default());
    assert!(st.success(), "{text}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        let p = line.get(..3).unwrap_or("");
        assert!(
            ["<3>", "<4>", "<5>", "<6>", "<7>"].contains(&p),
            "a line without a priority prefix: {line:?}\n{text}"
        );
        // No timestamp of our own (the journal adds one), no level word.
        assert!(
            !line.contains(" INFO ") && !line.contains(" WARN "),
            "{line:?}"
        );
        assert!(
            !line.chars().skip(3).take(4).all(|c| c.is_ascii_digit()),
            "a timestamp: {line:?}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("<4>") && l.contains("vrrp_mcast_group4")),
        "the configuration warning is not <4>:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("instance ready")),
        "{text}"
    );
}

#[test]
fn journal_priorities_only_when_journal_stream_names_stderr() {
    let dir = TempDir::new("vrrp-pkjc").unwrap();
    let conf_path = dir.path().join("bad.conf");
    std::fs::write(
        &conf_path,
        "vrrp_instance VI_1 {\n    virtual_router_id 300\n}\n",
    )
    .unwrap();
    let log = dir.path().join("check.log");
    // Created first to know its inode; each run truncates it (same inode).
    std::fs::write(&log, "").unwrap();
    let run = |stream: &str| {
        std::fs::write(&log, "").unwrap();
        let f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let st = Command::new(agent_bin().unwrap())
            .arg("check")
            .arg("-f")
            .arg(&conf_path)
            .env("JOURNAL_STREAM", stream)
            .stderr(f)
            .status()
            .unwrap();
        assert!(!st.success());
        std::fs::read_to_string(&log).unwrap()
    };
    // stderr is the "journal": errors are <3>, warnings (the missing virtual_ipaddress,
    // which keepalived also only warns about) <4>, nothing unprefixed.
    let text = run(&dev_ino(&log));
    assert!(!text.is_empty());
    for l in text.lines() {
        let want = if l.contains(": warning: ") {
            "<4>"
        } else {
            "<3>"
        };
        assert!(l.starts_with(want), "{l:?} is not {want}:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("<3>")), "{text}");
    // A JOURNAL_STREAM inherited but naming another stream: plain lines.
    let other = dir.path().join("other");
    std::fs::write(&other, "").unwrap();
    let text = run(&dev_ino(&other));
    assert!(!text.is_empty());
    assert!(!text.contains("<3>"), "{text}");
}

/// The capabilities the unit's CapabilityBoundingSet= names, for setpriv.
fn unit_caps() -> Vec<String> {
    let text = std::fs::read_to_string(unit_path()).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit sets CapabilityBoundingSet=");
    line.split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect()
}

/// Runs the agent with only `caps` in its bounding set (root keeps exactly those, as under
/// systemd's CapabilityBoundingSet= with User=root); returns whether it became Master.
fn master_with_caps(tag: &str, vrid: u8, caps: &[String]) -> (bool, String) {
    let vp = VethPair::new(tag).unwrap();
    let dir = TempDir::new(&format!("vrrp-{tag}")).unwrap();
    let set: String = std::iter::once("-all".to_string())
        .chain(caps.iter().map(|c| format!("+{c}")))
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = vp.a.command("setpriv");
    cmd.arg(format!("--bounding-set={set}"))
        .arg("--")
        .arg(agent_bin().unwrap());
    let (mut agent, _pins) = spawn(dir.path(), tag, &conf(&vp.a_if, vrid, false), cmd);
    let master = wait_for(TO_MASTER, || {
        if agent.wait_timeout(Duration::from_millis(50)).is_some() {
            return Some(false);
        }
        has_vip(&vp.a, &vp.a_if).then_some(true)
    })
    .unwrap_or(false);
    agent.signal(libc::SIGTERM);
    let _ = agent.wait_timeout(Duration::from_secs(20));
    (master, agent.log_text())
}

#[test]
fn the_units_capabilities_are_enough_and_cap_bpf_is_needed() {
    let caps = unit_caps();
    let (master, log) = master_with_caps("pkc", 74, &caps);
    assert!(master, "not Master with {caps:?}:\n{log}");
    assert!(!log.contains("ERROR"), "{log}");
    // The control: without CAP_BPF the XDP program does not load and the agent exits.
    let without: Vec<String> = caps.iter().filter(|c| *c != "bpf").cloned().collect();
    let (master, log) = master_with_caps("pkd", 75, &without);
    assert!(!master, "Master without CAP_BPF:\n{log}");
}
