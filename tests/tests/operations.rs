//! The agent under real operations: a second agent started by mistake on the same pin
//! directory, the signals keepalived users send (dumps, SIGPIPE), and `run --log-level`.
//! A second agent in the same network namespace with its own pin directory is refused too.
//! Each test runs a real agent that becomes Master of a VIP in a network namespace and
//! checks that it still holds it (and its pins) after what the test did to it.
use std::{
    os::unix::fs::MetadataExt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use vrrp_tests::{agent_bin, start_agent_with, wait_for, Netns, Proc, TempDir, VethPair};

const VIP: &str = "198.18.0.100";
/// Generous bound for start-up to Master (advert_int 0.1: about 0.4 s alone).
const TO_MASTER: Duration = Duration::from_secs(20);

fn conf(iface: &str, vrid: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    \
         virtual_router_id {vrid}\n    priority 100\n    advert_int 0.1\n    version 3\n    \
         virtual_ipaddress {{\n        {VIP}/32\n    }}\n}}\n"
    )
}

fn has_vip(ns: &Netns, iface: &str) -> bool {
    ns.ip(&["-4", "addr", "show", "dev", iface])
        .map(|out| out.contains(&format!("inet {VIP}/32")))
        .unwrap_or(false)
}

/// Inode of every pin in `pins`, by name (a replaced pin gets a new inode).
fn pin_inodes(pins: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(pins)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let ino = e.metadata().ok()?.ino();
                    Some((e.file_name().to_string_lossy().into_owned(), ino))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `vrrp-agent run` in `ns` on `conf_path` and `pins`, not waited for.
fn spawn_agent(
    ns: &Netns,
    conf_path: &Path,
    pins: &Path,
    extra: &[&str],
    rust_log: Option<&str>,
    log: &Path,
) -> Proc {
    let mut cmd: Command = ns.command(agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(conf_path)
        .arg("--pin-dir")
        .arg(pins)
        .args(extra);
    match rust_log {
        Some(l) => cmd.env("RUST_LOG", l),
        None => cmd.env_remove("RUST_LOG"),
    };
    Proc::spawn("agent", &mut cmd, log).unwrap()
}

/// Still running after a short look.
fn running(p: &mut Proc) -> bool {
    p.wait_timeout(Duration::from_millis(100)).is_none()
}

#[test]
fn a_second_agent_on_the_same_pin_dir_is_refused_and_changes_nothing() {
    let vp = VethPair::new("opl").unwrap();
    let dir = TempDir::new("vrrp-opl").unwrap();
    let text = conf(&vp.a_if, 61);
    let mut first = start_agent_with(&vp.a, dir.path(), "first", &text, &[]).unwrap();
    first.proc.wait_log("VIPs added", TO_MASTER).unwrap();
    assert!(has_vip(&vp.a, &vp.a_if));
    let pins_before = pin_inodes(&first.pins);
    assert!(
        pins_before.iter().any(|(n, _)| n == "VRRP_PEERS"),
        "{pins_before:?}"
    );

    // The same configuration and pin directory, as a mistaken second start would have.
    let conf_path = dir.path().join("first.conf");
    let log2 = dir.path().join("second.log");
    let mut second = spawn_agent(&vp.a, &conf_path, &first.pins, &[], Some("info"), &log2);
    let st = second
        .wait_timeout(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the second agent kept running:\n{}", second.log_text()));
    let err = second.log_text();
    assert!(!st.success(), "the second agent exited 0:\n{err}");
    assert!(
        err.contains(&format!("pid {}", first.proc.pid())),
        "the refusal does not name the running agent's pid {}:\n{err}",
        first.proc.pid()
    );
    assert!(err.contains("--pin-dir"), "{err}");
    assert!(!err.contains("removed a VIP"), "{err}");

    // The same configuration with a pin directory of its own, in the same namespace: refused
    // as well (one agent per network namespace).
    let log3 = dir.path().join("samens.log");
    let other_pins = vrrp_tests::pin_dir("opl2");
    let mut samens = spawn_agent(&vp.a, &conf_path, &other_pins, &[], Some("info"), &log3);
    let st = samens
        .wait_timeout(Duration::from_secs(20))
        .unwrap_or_else(|| {
            panic!(
                "the same-namespace agent kept running:\n{}",
                samens.log_text()
            )
        });
    let err = samens.log_text();
    assert!(!st.success(), "{err}");
    assert!(
        err.contains(&format!("pid {}", first.proc.pid())) && err.contains("network namespace"),
        "{err}"
    );
    assert!(!other_pins.exists(), "a refused agent pinned maps");

    // The first agent is untouched: still running, still Master with its VIP, same pins.
    assert!(running(&mut first.proc), "{}", first.proc.log_text());
    assert!(has_vip(&vp.a, &vp.a_if), "{}", first.proc.log_text());
    assert_eq!(pin_inodes(&first.pins), pins_before);
    assert!(!first.proc.log_text().contains("Master -> "));

    // Another pin directory in another namespace is another agent's business: it starts.
    let other = start_agent_with(&vp.b, dir.path(), "other", &conf(&vp.b_if, 62), &[]).unwrap();
    drop(other);

    // A clean stop releases the lock: the same pin directory starts again.
    first.proc.signal(libc::SIGTERM);
    let st = first.proc.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(st.success(), "{}", first.proc.log_text());
    assert!(!has_vip(&vp.a, &vp.a_if));
    let mut third = spawn_agent(
        &vp.a,
        &conf_path,
        &first.pins,
        &[],
        Some("info"),
        &dir.path().join("third.log"),
    );
    third.wait_log("VIPs added", TO_MASTER).unwrap();
    third.signal(libc::SIGTERM);
    let st = third.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(st.success(), "{}", third.log_text());
}

#[test]
fn keepalived_dump_signals_and_sigpipe_leave_the_master_running() {
    let vp = VethPair::new("ops").unwrap();
    let dir = TempDir::new("vrrp-ops").unwrap();
    let mut agent = start_agent_with(&vp.a, dir.path(), "sig", &conf(&vp.a_if, 63), &[]).unwrap();
    agent.proc.wait_log("VIPs added", TO_MASTER).unwrap();
    let pins_before = pin_inodes(&agent.pins);

    // What the guides tell keepalived users to send (keepalived --signum=DATA|STATS|JSON|
    // STATS_CLEAR): the dumps are written (tests/tests/dump_files.rs checks them), clearing
    // is answered with a warning; and SIGPIPE, ignored.
    let dumps = [
        (libc::SIGUSR1, "SIGUSR1: dump written"),
        (libc::SIGUSR2, "SIGUSR2: dump written"),
        (libc::SIGRTMIN() + 2, "SIGRTMIN+2: dump written"),
        (libc::SIGRTMAX() - 1, "SIGRTMAX-1: clearing the statistics"),
    ];
    for (sig, line) in dumps {
        agent.proc.signal(sig);
        agent
            .proc
            .wait_log(line, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("signal {sig}: {e:#}"));
        assert!(running(&mut agent.proc), "signal {sig} stopped the agent");
        assert!(has_vip(&vp.a, &vp.a_if), "VIP gone after signal {sig}");
    }
    agent.proc.signal(libc::SIGPIPE);
    // Positive control that the process lived on: it answers a signal sent afterwards.
    let before = agent.proc.log_text().matches("SIGUSR1:").count();
    agent.proc.signal(libc::SIGUSR1);
    let answered = wait_for(Duration::from_secs(10), || {
        (agent.proc.log_text().matches("SIGUSR1:").count() > before).then_some(())
    });
    assert!(answered.is_some(), "{}", agent.proc.log_text());
    assert!(running(&mut agent.proc), "SIGPIPE stopped the agent");
    assert!(has_vip(&vp.a, &vp.a_if));
    assert_eq!(pin_inodes(&agent.pins), pins_before);
    let log = agent.proc.log_text();
    assert!(
        !log.contains("Master -> ") && !log.contains("VIPs removed"),
        "{log}"
    );

    // SIGTERM still stops it cleanly: VIP removed, pins removed, exit 0.
    let t0 = Instant::now();
    agent.proc.signal(libc::SIGTERM);
    let st = agent.proc.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(st.success(), "{}", agent.proc.log_text());
    assert!(t0.elapsed() < Duration::from_secs(10));
    let log = agent.proc.log_text();
    assert!(
        log.contains("SIGTERM: stopping") && log.contains("VIPs removed"),
        "{log}"
    );
    assert!(!has_vip(&vp.a, &vp.a_if));
    assert!(!agent.pins.exists());
}

#[test]
fn log_level_flag_sets_the_level_unless_rust_log_is_set() {
    let vp = VethPair::new("opv").unwrap();
    let dir = TempDir::new("vrrp-opv").unwrap();
    let conf_path = dir.path().join("lvl.conf");
    std::fs::write(&conf_path, conf(&vp.a_if, 64)).unwrap();
    let pins = vrrp_tests::pin_dir("oplvl");
    // A debug line written at start-up.
    let debug_line = "network namespace locked";

    let log = dir.path().join("debug.log");
    let mut a = spawn_agent(
        &vp.a,
        &conf_path,
        &pins,
        &["--log-level", "debug"],
        None,
        &log,
    );
    a.wait_log("instance ready", TO_MASTER).unwrap();
    assert!(a.log_text().contains(debug_line), "{}", a.log_text());
    a.signal(libc::SIGTERM);
    assert!(a.wait_timeout(Duration::from_secs(10)).unwrap().success());

    // RUST_LOG wins over the flag.
    let log = dir.path().join("rustlog.log");
    let mut b = spawn_agent(
        &vp.a,
        &conf_path,
        &pins,
        &["--log-level", "debug"],
        Some("info"),
        &log,
    );
    b.wait_log("instance ready", TO_MASTER).unwrap();
    assert!(!b.log_text().contains(debug_line), "{}", b.log_text());
    b.signal(libc::SIGTERM);
    assert!(b.wait_timeout(Duration::from_secs(10)).unwrap().success());
}

#[test]
fn more_vips_than_the_link_mtu_carries_are_set_but_not_advertised() {
    let vp = VethPair::new("opm").unwrap();
    let dir = TempDir::new("vrrp-opm").unwrap();
    // 100 bytes: keepalived's formula gives (100 - 14 - 20 - 8) / 4 = 14 addresses (v3).
    vp.a.ip(&["link", "set", "dev", &vp.a_if, "mtu", "100"])
        .unwrap();
    let vips: Vec<String> = (0..20).map(|i| format!("198.18.0.{}", 100 + i)).collect();
    let text =
        format!(
        "vrrp_instance VI_1 {{\n    interface {}\n    virtual_router_id 65\n    priority 100\n    \
         advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n{}    }}\n}}\n",
        vp.a_if,
        vips.iter().map(|v| format!("        {v}/32\n")).collect::<String>()
    );
    let capture =
        vrrp_tests::Capture::start(&vp.b, &vp.b_if, 200, Duration::from_secs(30)).unwrap();
    let mut agent = start_agent_with(&vp.a, dir.path(), "mtu", &text, &[]).unwrap();
    agent.proc.wait_log("VIPs added", TO_MASTER).unwrap();
    let log = agent.proc.log_text();
    assert!(
        log.contains("6 virtual address(es) do not fit an advert on this interface"),
        "{log}"
    );
    // Every address is set, as keepalived sets its eVIPs.
    let addrs = vp.a.ip(&["-4", "addr", "show", "dev", &vp.a_if]).unwrap();
    for v in &vips {
        assert!(
            addrs.contains(&format!("inet {v}/32")),
            "{v} missing:\n{addrs}"
        );
    }
    // Adverts go out (a few at 0.1 s) with the 14 addresses that fit, and none failed.
    std::thread::sleep(Duration::from_millis(500));
    let frames = capture.finish().unwrap();
    let counts: Vec<u8> = frames
        .iter()
        .filter_map(|c| {
            let f = &c.frame;
            if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[23] != 112 {
                return None;
            }
            let vrrp = 14 + usize::from(f[14] & 0x0f) * 4;
            f.get(vrrp + 3).copied()
        })
        .collect();
    assert!(
        !counts.is_empty(),
        "no advert captured:\n{}",
        agent.proc.log_text()
    );
    assert!(counts.iter().all(|&n| n == 14), "address counts {counts:?}");
    let log = agent.proc.log_text();
    assert!(!log.contains("sending an advert"), "{log}");
    assert!(running(&mut agent.proc));
}
