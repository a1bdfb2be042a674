//! keepalived keywords with a runtime effect, on a real agent in network namespaces named
//! `kw...`: process tuning (`vrrp_no_swap`, `vrrp_rt_priority`, `vrrp_rlimit_rttime`,
//! `vrrp_cpu_affinity`, `vrrp_priority`) read back from /proc; `vrrp_startup_delay`;
//! `dont_track_primary`; `unicast_fault_no_peer`; `promote_secondaries`; and side by side with
//! keepalived 2.2.7: `vrrp_mcast_group4`, `notify_priority_changes`,
//! `notify_master_rx_lower_pri`, `vrrp_notify_fifo_script`. Each with a control (the same lab
//! without the keyword) where the effect is an absence. Needs root.
use std::time::{Duration, Instant};

use vrrp_tests::{start_agent_with, wait_for, Agent, TempDir, VethPair};

/// One v3 instance on A's end of `lab`, priority 254, advert_int 0.1, with `extra` lines.
fn conf(lab: &VethPair, globals: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n{globals}\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface {}\n    \
         virtual_router_id 42\n    priority 254\n    version 3\n    advert_int 0.1\n{extra}\n    \
         virtual_ipaddress {{\n        198.18.0.42/24\n    }}\n}}\n",
        lab.a_if
    )
}

fn start(lab: &VethPair, dir: &TempDir, tag: &str, text: &str) -> Agent {
    start_agent_with(&lab.a, dir.path(), tag, text, &[]).unwrap()
}

fn wait_state(agent: &Agent, needle: &str, secs: u64) -> bool {
    wait_for(Duration::from_secs(secs), || {
        agent.proc.log_text().contains(needle).then_some(())
    })
    .is_some()
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat.
fn stat_field(pid: u32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(n - 3).unwrap().parse().unwrap()
}

fn status_line(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

fn vm_lck_kb(pid: u32) -> u64 {
    status_line(pid, "VmLck")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// (soft, hard) of "Max realtime timeout" in /proc/PID/limits.
fn rttime_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max realtime timeout"))
        .unwrap();
    let mut w = line["Max realtime timeout".len()..].split_whitespace();
    (w.next().unwrap().to_owned(), w.next().unwrap().to_owned())
}

const SCHED_OTHER: i64 = 0;
const SCHED_RR: i64 = 2;

#[test]
fn real_time_tuning_is_applied_to_the_running_agent() {
    let lab = VethPair::new("kwrt").unwrap();
    let dir = TempDir::new("vrrp-kwrt").unwrap();

    // Control: nothing configured, nothing changed.
    let plain = start(&lab, &dir, "plain", &conf(&lab, "", ""));
    let pid = plain.proc.pid();
    assert_eq!(stat_field(pid, 41), SCHED_OTHER, "policy");
    assert_eq!(vm_lck_kb(pid), 0);
    assert_eq!(rttime_limits(pid).1, "unlimited");
    drop(plain);

    let text = conf(
        &lab,
        "    vrrp_no_swap\n    vrrp_rt_priority 11\n    vrrp_rlimit_rttime 60000\n    \
         vrrp_cpu_affinity 0\n    vrrp_priority -7",
        "",
    );
    let agent = start(&lab, &dir, "rt", &text);
    let pid = agent.proc.pid();
    assert!(
        wait_state(&agent, "-> Master", 10),
        "{}",
        agent.proc.log_text()
    );
    assert!(
        wait_state(&agent, "CPU affinity 0", 10),
        "{}",
        agent.proc.log_text()
    );
    // The thread that runs the loop (the main thread, pid) is SCHED_RR 11.
    assert_eq!(stat_field(pid, 41), SCHED_RR, "policy");
    assert_eq!(stat_field(pid, 40), 11, "rt_priority");
    // Locked in memory.
    assert!(vm_lck_kb(pid) > 0, "VmLck {}", vm_lck_kb(pid));
    // RLIMIT_RTTIME: soft half, hard all.
    assert_eq!(rttime_limits(pid), ("30000".to_owned(), "60000".to_owned()));
    assert_eq!(status_line(pid, "Cpus_allowed_list"), "0");
    // The nice value is not applied with a real-time priority (as keepalived), and said so.
    assert_eq!(stat_field(pid, 19), 0, "nice");
    let log = agent.proc.log_text();
    assert!(log.contains("vrrp_priority -7 is not applied"), "{log}");
    assert!(log.contains("SCHED_RR priority 11"), "{log}");
    // Still a working Master: it keeps its address.
    assert!(lab
        .a
        .ip(&["-o", "addr", "show", "dev", &lab.a_if])
        .unwrap()
        .contains("198.18.0.42/24"));
}

#[test]
fn keepalived_default_rttime_limit_does_not_kill_the_agent() {
    // vrrp_rt_priority alone: keepalived's RLIMIT_RTTIME of 10 ms (soft 5 ms). The loop must
    // block often enough, also through a reload, or the kernel kills it (SIGKILL).
    let lab = VethPair::new("kwrl").unwrap();
    let dir = TempDir::new("vrrp-kwrl").unwrap();
    let mut agent = start(&lab, &dir, "rl", &conf(&lab, "    vrrp_rt_priority 5", ""));
    let pid = agent.proc.pid();
    assert!(
        wait_state(&agent, "-> Master", 20),
        "{}",
        agent.proc.log_text()
    );
    assert!(
        wait_state(&agent, "SCHED_RR priority 5", 20),
        "{}",
        agent.proc.log_text()
    );
    assert_eq!(rttime_limits(pid), ("5000".to_owned(), "10000".to_owned()));
    assert_eq!(stat_field(pid, 41), SCHED_RR, "policy");
    agent.proc.signal(libc::SIGHUP);
    assert!(
        wait_state(&agent, "reload", 20),
        "no reload logged\n{}",
        agent.proc.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        agent.proc.wait_timeout(Duration::ZERO).is_none(),
        "the agent died\n{}",
        agent.proc.log_text()
    );
}

#[test]
fn nice_value_without_real_time_priority() {
    let lab = VethPair::new("kwni").unwrap();
    let dir = TempDir::new("vrrp-kwni").unwrap();
    let agent = start(&lab, &dir, "nice", &conf(&lab, "    vrrp_priority -7", ""));
    let pid = agent.proc.pid();
    // Applied once the instances are set up (after "instance ready").
    assert!(
        wait_state(&agent, "process tuning applied", 10),
        "{}",
        agent.proc.log_text()
    );
    assert_eq!(stat_field(pid, 19), -7, "nice");
    assert_eq!(stat_field(pid, 41), SCHED_OTHER, "policy");
}

#[test]
fn startup_delay_holds_every_instance_back() {
    let lab = VethPair::new("kwsd").unwrap();
    let dir = TempDir::new("vrrp-kwsd").unwrap();
    // Control: without the delay, the first state change follows the set-up at once (a
    // Master_Down_Interval of 0.3 s), however long the set-up took on a busy machine.
    let plain = start(&lab, &dir, "plain", &conf(&lab, "", ""));
    assert!(
        wait_state(&plain, "-> Master", 10),
        "{}",
        plain.proc.log_text()
    );
    let log = plain.proc.log_text();
    let gap = log_time(&log, "-> Master") - log_time(&log, "instance ready");
    assert!(gap < 3.0, "control: {gap} s from set-up to Master\n{log}");
    assert!(!log.contains("vrrp_startup_delay"), "{log}");
    drop(plain);

    // With a 3 s delay, nothing is set up (no XDP program, no socket, no state) until it
    // has passed; then it starts as the control did.
    let t0 = Instant::now();
    let delayed = start(
        &lab,
        &dir,
        "delayed",
        &conf(&lab, "    vrrp_startup_delay 3", ""),
    );
    assert!(
        wait_state(&delayed, "-> Master", 15),
        "{}",
        delayed.proc.log_text()
    );
    let log = delayed.proc.log_text();
    let held = log_time(&log, "instance ready") - log_time(&log, "vrrp_startup_delay: delaying");
    assert!(held >= 3.0, "set up {held} s after the delay began\n{log}");
    assert!(t0.elapsed() >= Duration::from_secs(3));
}

/// Seconds of the day of the first log line containing `needle` (tracing's RFC 3339 UTC
/// timestamp at the start of the line).
fn log_time(log: &str, needle: &str) -> f64 {
    let line = log
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in\n{log}"));
    let time = line.split('T').nth(1).unwrap().split('Z').next().unwrap();
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

#[test]
fn dont_track_primary_keeps_the_instance_when_its_interface_loses_carrier() {
    let lab = VethPair::new("kwdt").unwrap();
    let dir = TempDir::new("vrrp-kwdt").unwrap();
    for (tag, extra, faults) in [
        ("tracked", "", true),
        ("untracked", "    dont_track_primary", false),
    ] {
        lab.b.ip(&["link", "set", &lab.b_if, "up"]).unwrap();
        let agent = start(&lab, &dir, tag, &conf(&lab, "", extra));
        assert!(
            wait_state(&agent, "-> Master", 10),
            "{}",
            agent.proc.log_text()
        );
        // A's end loses carrier when B's end goes down.
        lab.b.ip(&["link", "set", &lab.b_if, "down"]).unwrap();
        assert!(
            wait_state(&agent, "interface down or without carrier", 10),
            "{tag}: the agent did not see the carrier loss\n{}",
            agent.proc.log_text()
        );
        let went_fault = wait_state(&agent, "-> Fault", 2);
        assert_eq!(went_fault, faults, "{tag}\n{}", agent.proc.log_text());
        if !faults {
            // Still holding its address.
            assert!(lab
                .a
                .ip(&["-o", "addr", "show", "dev", &lab.a_if])
                .unwrap()
                .contains("198.18.0.42/24"));
        }
    }
}

#[test]
fn unicast_fault_no_peer_holds_the_instance_in_fault() {
    let lab = VethPair::new("kwuf").unwrap();
    let dir = TempDir::new("vrrp-kwuf").unwrap();
    let src = format!("    unicast_src_ip {}", VethPair::A_ADDR);
    // Control: a unicast keyword without peers falls back to multicast (keepalived 2.2.7).
    let plain = start(&lab, &dir, "plain", &conf(&lab, "", &src));
    assert!(
        wait_state(&plain, "-> Master", 10),
        "{}",
        plain.proc.log_text()
    );
    drop(plain);

    let agent = start(
        &lab,
        &dir,
        "fault",
        &conf(&lab, "", &format!("{src}\n    unicast_fault_no_peer")),
    );
    assert!(
        wait_state(
            &agent,
            "unicast_fault_no_peer is set and there is no unicast_peer",
            10
        ),
        "{}",
        agent.proc.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let log = agent.proc.log_text();
    assert!(!log.contains("-> Master"), "{log}");
}

#[test]
fn promote_secondaries_is_set_while_running_and_reset_at_exit() {
    let lab = VethPair::new("kwps").unwrap();
    let dir = TempDir::new("vrrp-kwps").unwrap();
    let path = format!("/proc/sys/net/ipv4/conf/{}/promote_secondaries", lab.a_if);
    let read = || {
        let out = lab.a.output("cat", &[&path]).unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(read(), "0", "the lab starts with it off");
    let mut agent = start(&lab, &dir, "ps", &conf(&lab, "", "    promote_secondaries"));
    assert_eq!(read(), "1");
    agent.proc.signal(libc::SIGTERM);
    assert!(agent.proc.wait_timeout(Duration::from_secs(10)).is_some());
    assert_eq!(read(), "0", "reset at exit\n{}", agent.proc.log_text());
}

/// A keepalived-2.2.7-style instance on `iface` (v3, advert_int 0.1) with `globals`.
fn keepalived_conf(iface: &str, priority: u8, globals: &str) -> String {
    format!(
        "global_defs {{\n{globals}\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    \
         virtual_router_id 42\n    priority {priority}\n    version 3\n    advert_int 0.1\n    \
         virtual_ipaddress {{\n        198.18.0.42/24\n    }}\n}}\n"
    )
}

/// Adverts (IPv4 protocol 112) in `frames` from `src`: (destination IP, destination MAC).
fn adverts_from(
    frames: &[vrrp_tests::Captured],
    src: std::net::Ipv4Addr,
) -> Vec<(std::net::Ipv4Addr, [u8; 6])> {
    frames
        .iter()
        .filter(|c| {
            let f = &c.frame;
            f.len() >= 34 && f[12..14] == [0x08, 0x00] && f[23] == 112 && f[26..30] == src.octets()
        })
        .map(|c| {
            let f = &c.frame;
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&f[..6]);
            (std::net::Ipv4Addr::new(f[30], f[31], f[32], f[33]), mac)
        })
        .collect()
}

#[test]
fn mcast_group4_is_used_both_ways_with_keepalived() {
    use vrrp_tests::{keepalived, Capture};
    const GROUP: &str = "224.0.0.19";
    const GROUP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x13];
    let lab = VethPair::new("kwmg").unwrap();
    let dir = TempDir::new("vrrp-kwmg").unwrap();
    let group_line = format!("    vrrp_mcast_group4 {GROUP}");

    // keepalived Master on B, advertising to 224.0.0.19.
    let mut ka = keepalived(
        &lab.b,
        dir.path(),
        "ka",
        &keepalived_conf(&lab.b_if, 200, &group_line),
    )
    .unwrap();
    ka.wait_log("Entering MASTER STATE", Duration::from_secs(20))
        .unwrap();

    // Control: an agent on the standard group does not hear it and takes over.
    let plain = start(&lab, &dir, "plain", &conf(&lab, "", ""));
    assert!(
        wait_state(&plain, "-> Master", 10),
        "the control agent heard keepalived's adverts to {GROUP}\n{}",
        plain.proc.log_text()
    );
    drop(plain);

    // With the same group: the agent hears keepalived's adverts, accepts them and stays
    // Backup (priority 100 < 200).
    let capture = Capture::start(&lab.a, &lab.a_if, 2000, Duration::from_secs(30)).unwrap();
    let text = conf(&lab, &group_line, "").replace("priority 254", "priority 100");
    let agent = start(&lab, &dir, "group", &text);
    assert!(
        wait_state(&agent, "-> Backup", 10),
        "{}",
        agent.proc.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !agent.proc.log_text().contains("-> Master"),
        "the agent did not accept keepalived's adverts to {GROUP}\n{}",
        agent.proc.log_text()
    );
    let seen = adverts_from(&capture.seen(), VethPair::B_ADDR);
    assert!(!seen.is_empty(), "no advert from keepalived captured");
    assert!(
        seen.iter()
            .all(|(dst, mac)| dst.to_string() == GROUP && *mac == GROUP_MAC),
        "{seen:?}"
    );

    // keepalived stops (priority-0 advert to the group): the agent takes over, and its
    // adverts go to the group; keepalived, started again at a lower priority, stays Backup.
    drop(ka);
    assert!(
        wait_state(&agent, "-> Master", 10),
        "{}",
        agent.proc.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut ka = keepalived(
        &lab.b,
        dir.path(),
        "ka2",
        &keepalived_conf(&lab.b_if, 50, &group_line),
    )
    .unwrap();
    ka.wait_log("Entering BACKUP STATE", Duration::from_secs(20))
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !ka.log_text().contains("Entering MASTER STATE"),
        "keepalived did not accept the agent's adverts to {GROUP}\n{}",
        ka.log_text()
    );
    capture.finish().unwrap();
    drop(ka);
    // Our adverts, as seen by B.
    let b_capture = Capture::start(&lab.b, &lab.b_if, 200, Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let ours = adverts_from(&b_capture.finish().unwrap(), VethPair::A_ADDR);
    assert!(ours.len() >= 3, "{ours:?}");
    assert!(
        ours.iter()
            .all(|(dst, mac)| dst.to_string() == GROUP && *mac == GROUP_MAC),
        "{ours:?}"
    );
}

/// The lines a FIFO reader got.
fn fifo_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn notify_priority_changes_writes_keepalived_lines_to_the_fifo() {
    use vrrp_tests::{keepalived, Proc};
    let lab = VethPair::new("kwnp").unwrap();
    let dir = TempDir::new("vrrp-kwnp").unwrap();
    let mut results = Vec::new();
    for (tag, daemon_is_agent, keyword) in [
        ("control", true, ""),
        ("agent", true, "    notify_priority_changes"),
        ("keepalived", false, "    notify_priority_changes"),
    ] {
        let fifo = dir.path().join(format!("{tag}.fifo"));
        let out = dir.path().join(format!("{tag}.out"));
        let track = dir.path().join(format!("{tag}.track"));
        std::fs::write(&track, "0\n").unwrap();
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let mut reader = Proc::spawn(
            "fifo reader",
            std::process::Command::new("cat").arg(&fifo),
            &out,
        )
        .unwrap();
        let globals = format!("    vrrp_notify_fifo {}", fifo.display());
        let extra = format!("{keyword}\n    track_file {{\n        TF weight -10\n    }}");
        let text = format!(
            "vrrp_track_file TF {{\n    file {}\n}}\n{}",
            track.display(),
            conf(&lab, &globals, &extra)
        );
        let master = "INSTANCE \"VI_1\" MASTER 254".to_owned();
        let daemon: Box<dyn std::any::Any> = if daemon_is_agent {
            Box::new(start(&lab, &dir, tag, &text))
        } else {
            let mut ka = keepalived(&lab.a, dir.path(), tag, &text).unwrap();
            ka.wait_log("Entering MASTER STATE", Duration::from_secs(20))
                .unwrap();
            Box::new(ka)
        };
        assert!(
            wait_for(Duration::from_secs(10), || fifo_lines(&out)
                .contains(&master)
                .then_some(()))
            .is_some(),
            "{tag}: {:?}",
            fifo_lines(&out)
        );
        // The file says 1: priority 254 - 10.
        std::fs::write(&track, "1\n").unwrap();
        let want = "INSTANCE \"VI_1\" MASTER_PRIORITY 244".to_owned();
        let seen = wait_for(Duration::from_secs(5), || {
            fifo_lines(&out).contains(&want).then_some(())
        })
        .is_some();
        drop(daemon);
        reader.signal(libc::SIGTERM);
        let _ = reader.wait_timeout(Duration::from_secs(2));
        results.push((tag, seen, fifo_lines(&out)));
    }
    let seen: Vec<(&str, bool)> = results.iter().map(|(t, s, _)| (*t, *s)).collect();
    assert_eq!(
        seen,
        vec![("control", false), ("agent", true), ("keepalived", true)],
        "{results:#?}"
    );
    // The same priority lines as keepalived, in the same order.
    let priority_lines = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.contains("_PRIORITY"))
            .cloned()
            .collect()
    };
    assert_eq!(
        priority_lines(&results[1].2),
        priority_lines(&results[2].2),
        "{results:#?}"
    );
}

#[test]
fn notify_master_rx_lower_pri_runs_like_keepalived() {
    use std::{net::IpAddr, os::unix::fs::PermissionsExt};
    use vrrp_agent::{
        units::Centisecs,
        wire::{
            frame::FrameBuilder,
            vrrp::{Auth, Repr, Version},
            Endpoints,
        },
    };
    use vrrp_tests::{keepalived, link_mac, PacketSocket, Proc};
    let lab = VethPair::new("kwrx").unwrap();
    let dir = TempDir::new("vrrp-kwrx").unwrap();
    // A lower-priority v3 advert for VRID 42 from B.
    let repr = Repr {
        version: Version::V3,
        vrid: 42,
        priority: 50,
        max_adver_int: Centisecs::new(10),
        addresses: vec!["198.18.0.42".parse().unwrap()],
        auth: Auth::None,
    };
    let frame = FrameBuilder::new(&repr, Endpoints::multicast(IpAddr::V4(VethPair::B_ADDR)))
        .unwrap()
        .src_mac(link_mac(&lab.b, &lab.b_if).unwrap())
        .build();
    let sock = PacketSocket::open(&lab.b, &lab.b_if).unwrap();

    let mut results = Vec::new();
    for (tag, agent) in [("agent", true), ("keepalived", false)] {
        let out = dir.path().join(format!("{tag}.out"));
        let script = dir.path().join(format!("{tag}.sh"));
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"rx $#\" >> {}\n", out.display()),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fifo = dir.path().join(format!("{tag}.fifo"));
        let fifo_out = dir.path().join(format!("{tag}.fifo.out"));
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let mut reader = Proc::spawn(
            "fifo reader",
            std::process::Command::new("cat").arg(&fifo),
            &fifo_out,
        )
        .unwrap();
        let text = conf(
            &lab,
            &format!("    vrrp_notify_fifo {}", fifo.display()),
            &format!("    notify_master_rx_lower_pri {}", script.display()),
        );
        let daemon: Box<dyn std::any::Any> = if agent {
            let a = start(&lab, &dir, tag, &text);
            assert!(wait_state(&a, "-> Master", 10), "{}", a.proc.log_text());
            Box::new(a)
        } else {
            let mut ka = keepalived(&lab.a, dir.path(), tag, &text).unwrap();
            ka.wait_log("Entering MASTER STATE", Duration::from_secs(20))
                .unwrap();
            Box::new(ka)
        };
        // Control: nothing yet.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !out.exists(),
            "{tag}: the script ran before any lower advert"
        );
        sock.send(&frame).unwrap();
        let ran = wait_for(Duration::from_secs(5), || {
            std::fs::read_to_string(&out).ok().filter(|s| !s.is_empty())
        });
        let want = "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 254".to_owned();
        let line = wait_for(Duration::from_secs(5), || {
            fifo_lines(&fifo_out).contains(&want).then_some(())
        })
        .is_some();
        drop(daemon);
        reader.signal(libc::SIGTERM);
        let _ = reader.wait_timeout(Duration::from_secs(2));
        results.push((tag, ran, line));
    }
    // Both ran the script once, with no argument added, and wrote the FIFO line.
    assert_eq!(
        results,
        vec![
            ("agent", Some("rx 0\n".to_owned()), true),
            ("keepalived", Some("rx 0\n".to_owned()), true)
        ]
    );
}

#[test]
fn notify_fifo_script_reads_the_fifo_like_keepalived_s() {
    use std::os::unix::fs::PermissionsExt;
    use vrrp_tests::keepalived;
    let lab = VethPair::new("kwfs").unwrap();
    let dir = TempDir::new("vrrp-kwfs").unwrap();
    for (tag, agent) in [("agent", true), ("keepalived", false)] {
        let out = dir.path().join(format!("{tag}.out"));
        let pidfile = dir.path().join(format!("{tag}.pid.reader"));
        let script = dir.path().join(format!("{tag}.sh"));
        // The reader keepalived's users write: it gets the FIFO's path as its last argument.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho $$ > {}\nexec cat \"$1\" >> {}\n",
                pidfile.display(),
                out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fifo = dir.path().join(format!("{tag}.fifo"));
        let globals = format!(
            "    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}",
            fifo.display(),
            script.display()
        );
        let text = conf(&lab, &globals, "");
        let want = "INSTANCE \"VI_1\" MASTER 254".to_owned();
        let mut daemon = if agent {
            start(&lab, &dir, tag, &text).proc
        } else {
            keepalived(&lab.a, dir.path(), tag, &text).unwrap()
        };
        let got = wait_for(Duration::from_secs(20), || {
            fifo_lines(&out).contains(&want).then_some(())
        });
        assert!(
            got.is_some(),
            "{tag}: {:?}\n{}",
            fifo_lines(&out),
            daemon.log_text()
        );
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        daemon.signal(libc::SIGTERM);
        assert!(daemon.wait_timeout(Duration::from_secs(10)).is_some());
        // The reader does not outlive the daemon (EOF or killed).
        let gone = wait_for(Duration::from_secs(5), || {
            (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
        });
        assert!(
            gone.is_some(),
            "{tag}: the FIFO reader {pid} is still running"
        );
    }
}
