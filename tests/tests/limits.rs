//! Resource limits: 255 VRIDs of each family on one interface start, elect, fail over and
//! stop cleanly; a configuration beyond the XDP maps' capacity is refused at start-up with
//! an error naming the file and line, never run with instances silently left out.
//!
//! Two agents on a veth pair, in namespaces named `st...`; addresses in 198.18.76.0/23 and
//! 2001:db8:76::/64. Needs root (except the capacity check).
use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use vrrp_tests::{agent_bin, pin_dir, start_agent, unique, veth, wait_for, Agent, Netns, TempDir};

const VRIDS: u32 = 255;

/// 255 IPv4 instances (electing) and, with `v6`, 255 IPv6 instances on `iface`.
fn config(iface: &str, state: &str, priority: u8, v6: bool) -> String {
    let mut c = String::new();
    for vrid in 1..=VRIDS {
        let _ = write!(
            c,
            "vrrp_instance V4_{vrid} {{\n  state {state}\n  interface {iface}\n  virtual_router_id {vrid}\n  \
             priority {priority}\n  version 3\n  advert_int 1\n  virtual_ipaddress {{\n    198.18.76.{vrid}/23\n  }}\n}}\n"
        );
        if v6 {
            let _ = write!(
                c,
                "vrrp_instance V6_{vrid} {{\n  state {state}\n  interface {iface}\n  virtual_router_id {vrid}\n  \
                 priority {priority}\n  version 3\n  advert_int 1\n  virtual_ipaddress {{\n    2001:db8:76::{vrid:x}/64\n  }}\n}}\n"
            );
        }
    }
    c
}

/// How many of the 255 IPv4 VIPs `iface` holds.
fn vips(ns: &Netns, iface: &str) -> usize {
    ns.ip(&["-4", "-o", "addr", "show", "dev", iface])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("198.18.76."))
        .count()
}

fn wait_vips(ns: &Netns, iface: &str, n: usize, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    wait_for(limit, || (vips(ns, iface) == n).then(|| t0.elapsed()))
}

/// Stops the agent with SIGTERM; its exit status.
fn stop(agent: &mut Agent) -> std::process::ExitStatus {
    agent.proc.signal(libc::SIGTERM);
    agent
        .proc
        .wait_timeout(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no exit 20 s after SIGTERM\n{}", agent.proc.log_text()))
}

#[test]
fn vrids_1_to_255_of_both_families_on_one_interface_elect_fail_over_and_stop_cleanly() {
    let (a_ns, b_ns) = (Netns::new("stla").unwrap(), Netns::new("stlb").unwrap());
    let (a_if, b_if) = (unique("stla"), unique("stlb"));
    veth(&a_ns, &a_if, &b_ns, &b_if).unwrap();
    a_ns.ip(&["addr", "add", "198.18.77.1/23", "dev", &a_if])
        .unwrap();
    b_ns.ip(&["addr", "add", "198.18.77.2/23", "dev", &b_if])
        .unwrap();
    let dir = TempDir::new("stl").unwrap();

    // A: Master of every VRID (priority 200); IPv6 instances too (watched only until IPv6
    // elections exist: they must still start and stop with the rest).
    let mut a = start_agent(
        &a_ns,
        dir.path(),
        "stla",
        &config(&a_if, "MASTER", 200, true),
    )
    .unwrap();
    let all = VRIDS as usize;
    assert!(
        wait_vips(&a_ns, &a_if, all, Duration::from_secs(20)).is_some(),
        "A holds {} of {all} VIPs\n{}",
        vips(&a_ns, &a_if),
        a.proc.log_text()
    );
    let b = start_agent(
        &b_ns,
        dir.path(),
        "stlb",
        &config(&b_if, "BACKUP", 100, false),
    )
    .unwrap();
    let mut b = b;
    // B hears all 255 Masters: it stays Backup of every VRID (past its Master_Down_Interval,
    // 3.6 s).
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(
        vips(&b_ns, &b_if),
        0,
        "B took over from a live Master\n{}",
        b.proc.log_text()
    );
    assert_eq!(
        vips(&a_ns, &a_if),
        all,
        "A lost VIPs\n{}",
        a.proc.log_text()
    );

    // A stops: it resigns every VRID (priority 0) and removes its VIPs; B takes all over.
    assert!(
        stop(&mut a).success(),
        "A failed to stop\n{}",
        a.proc.log_text()
    );
    assert_eq!(vips(&a_ns, &a_if), 0, "A left VIPs behind");
    assert!(
        a_ns.ip(&["-6", "-o", "addr", "show", "dev", &a_if])
            .unwrap_or_default()
            .lines()
            .all(|l| !l.contains("2001:db8:76:")),
        "A left IPv6 VIPs behind"
    );
    let took = wait_vips(&b_ns, &b_if, all, Duration::from_secs(15)).unwrap_or_else(|| {
        panic!(
            "B holds {} of {all} VIPs\n{}",
            vips(&b_ns, &b_if),
            b.proc.log_text()
        )
    });
    // Skew_Time after the resignation is 0.6 s; generous bound on a busy machine.
    assert!(
        took < Duration::from_secs(10),
        "takeover of 255 VRIDs took {took:?}"
    );
    assert!(
        stop(&mut b).success(),
        "B failed to stop\n{}",
        b.proc.log_text()
    );
    assert_eq!(vips(&b_ns, &b_if), 0, "B left VIPs behind");
    assert!(!a.pins.exists() && !b.pins.exists(), "pins left behind");
}

#[test]
fn more_instances_than_the_maps_hold_is_an_error_at_start_up_naming_the_line() {
    // 1,024 instances over 5 interfaces: one more than the 1,023 slots of the XDP maps.
    let dir = TempDir::new("stlc").unwrap();
    let mut c = String::new();
    for i in 0..1024u32 {
        let (iface, vrid) = (format!("stl{}", i / 255), i % 255 + 1);
        let _ = write!(
            c,
            "vrrp_instance I{i} {{\n  interface {iface}\n  virtual_router_id {vrid}\n  priority 100\n  \
             virtual_ipaddress {{\n    198.18.76.1/23\n  }}\n}}\n"
        );
    }
    let path = dir.path().join("big.conf");
    std::fs::write(&path, &c).unwrap();
    // `run` refuses it before it loads anything.
    let pins = pin_dir("stlc");
    let out = std::process::Command::new(agent_bin().unwrap())
        .args(["run", "-f"])
        .arg(&path)
        .arg("--pin-dir")
        .arg(&*pins)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "run accepted 1,024 instances");
    // The 1,024th instance starts on line 8 * 1023 + 1.
    let line = format!("big.conf:{}:", 8 * 1023 + 1);
    assert!(
        err.contains(&line) && err.contains("vrrp_instance I1023") && err.contains("at most 1023"),
        "unclear error:\n{err}"
    );
    // 1,023 pass.
    let upto = c.match_indices("vrrp_instance I1023 ").next().unwrap().0;
    std::fs::write(&path, &c[..upto]).unwrap();
    let out = std::process::Command::new(agent_bin().unwrap())
        .args(["check", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("at most"), "1,023 instances refused:\n{err}");
}
