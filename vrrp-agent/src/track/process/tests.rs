use std::{
    path::Path,
    time::{Duration, Instant},
};

use super::*;
use crate::{
    config::parse_str,
    track::{effective_priority, Tracking},
};

fn def(block: &str) -> TrackProcessDef {
    let text = format!(
        "vrrp_track_process P {{\n{block}\n}}\nvrrp_instance VI {{\n interface lo0x\n \
         virtual_router_id 1\n virtual_ipaddress {{ 198.18.0.1 }}\n track_process {{\n P\n }}\n}}\n"
    );
    parse_str(&text, Path::new("/x/k.conf"))
        .unwrap()
        .config
        .track_processes
        .remove(0)
}

fn cmd(words: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in words {
        v.extend_from_slice(w.as_bytes());
        v.push(0);
    }
    v
}

#[test]
fn matching_comm_and_command_lines() {
    let m = Matcher::new(&def("process haproxy"));
    assert!(m.matches("haproxy", &cmd(&["/usr/sbin/haproxy", "-f", "x"])));
    assert!(!m.matches("haproxy2", &[]));
    assert!(!m.matches("hapr", &[]));

    let m = Matcher::new(&def("process /usr/sbin/nginx\nfull_command"));
    assert!(m.matches("nginx", &cmd(&["/usr/sbin/nginx"])));
    assert!(m.matches("x", &cmd(&["/usr/sbin/nginx", "-g", "daemon off;"])));
    assert!(!m.matches("nginx", &cmd(&["nginx"])));

    // Parameters given: exact by default.
    let m = Matcher::new(&def("process sleep 100"));
    assert!(m.matches("sleep", &cmd(&["sleep", "100"])));
    assert!(!m.matches("sleep", &cmd(&["sleep", "1000"])));
    assert!(!m.matches("sleep", &cmd(&["sleep", "100", "x"])));
    assert!(!m.matches("sleep", &cmd(&["sleep"])));

    // param_match with no parameters: exact means "none".
    let m = Matcher::new(&def("process sleep\nparam_match"));
    assert!(m.matches("sleep", &cmd(&["sleep"])));
    assert!(!m.matches("sleep", &cmd(&["sleep", "1"])));

    let m = Matcher::new(&def("process sleep 100\nparam_match partial"));
    assert!(m.matches("sleep", &cmd(&["sleep", "100", "x"])));
    assert!(!m.matches("sleep", &cmd(&["sleep", "1000"])));

    let m = Matcher::new(&def("process sleep 10\nparam_match initial"));
    assert!(m.matches("sleep", &cmd(&["sleep", "100"])));
    assert!(m.matches("sleep", &cmd(&["sleep", "10", "x"])));
    assert!(!m.matches("sleep", &cmd(&["sleep", "20"])));
}

/// Quorum 2..=3: the state follows the count across both edges, each change reported once.
#[test]
fn quorum_edges() {
    let d = def("process x\nquorum 2\nquorum_max 3");
    let mut q = Quorum::new(&d);
    let t = Instant::now();
    assert_eq!(q.add(1, t, false), None, "1 process: below quorum");
    assert_eq!(q.add(2, t, false), Some(true), "2: quorum gained");
    assert_eq!(q.add(2, t, false), None, "the same pid twice counts once");
    assert_eq!(q.add(3, t, false), None, "3: still in range");
    assert_eq!(q.add(4, t, false), Some(false), "4: above quorum_max");
    assert_eq!(q.remove(4, t, true), Some(true), "back to 3");
    assert_eq!(q.remove(9, t, true), None, "an unknown pid changes nothing");
    assert_eq!(q.remove(3, t, true), None);
    assert_eq!(q.remove(2, t, true), Some(false), "1: quorum lost");
    assert_eq!(q.count(), 1);
}

#[test]
fn must_not_run() {
    let d = def("process x\nquorum_max 0");
    let mut w = Watcher::new([&d]);
    assert_eq!(w.scan(&[]), vec![("P".to_owned(), true)]);
    let t = Instant::now();
    let p = ProcInfo {
        pid: 7,
        comm: "x".into(),
        cmdline: Vec::new(),
    };
    assert_eq!(w.exec(7, Some(&p), t), vec![("P".to_owned(), false)]);
    assert_eq!(w.exit(7, t), vec![("P".to_owned(), true)]);
}

/// terminate_delay: an exit that loses quorum is reported only after the delay, and a
/// process starting meanwhile cancels it (nothing reported at all).
#[test]
fn terminate_delay() {
    let d = def("process x\nterminate_delay 2");
    let mut q = Quorum::new(&d);
    let t = Instant::now();
    assert_eq!(q.add(1, t, false), Some(true));
    assert_eq!(q.remove(1, t, true), None, "delayed");
    assert_eq!(q.deadline(), Some(t + Duration::from_secs(2)));
    assert_eq!(q.expire(t + Duration::from_secs(1)), None, "not due yet");
    assert_eq!(q.expire(t + Duration::from_secs(2)), Some(false));
    assert_eq!(q.deadline(), None);

    assert_eq!(q.add(2, t, false), Some(true));
    assert_eq!(q.remove(2, t, true), None);
    assert_eq!(
        q.add(3, t, false),
        None,
        "a restart within the delay cancels it"
    );
    assert_eq!(q.deadline(), None);
    assert!(q.has_quorum());
    assert_eq!(q.expire(t + Duration::from_secs(5)), None);

    // Not an exit (an exec into another program): at once.
    assert_eq!(q.remove(3, t, false), Some(false));
}

/// fork_delay: a fork that gains quorum waits; an exit meanwhile cancels it; an exec does
/// not wait.
#[test]
fn fork_delay() {
    let d = def("process x\nquorum 2\nfork_delay 1");
    let mut w = Watcher::new([&d]);
    let p = |pid| ProcInfo {
        pid,
        comm: "x".into(),
        cmdline: Vec::new(),
    };
    w.scan(&[p(10)]);
    let t = Instant::now();
    assert!(w.fork(99, 100, t).is_empty(), "untracked parent");
    assert!(w.fork(10, 11, t).is_empty(), "delayed");
    assert_eq!(w.count("P"), Some(2));
    assert_eq!(w.deadline(), Some(t + Duration::from_secs(1)));
    assert_eq!(
        w.expire(t + Duration::from_secs(1)),
        vec![("P".to_owned(), true)]
    );

    assert_eq!(w.exit(11, t), vec![("P".to_owned(), false)]);
    assert!(w.fork(10, 12, t).is_empty());
    assert!(
        w.exit(12, t).is_empty(),
        "the exit cancels the pending gain: no change"
    );
    assert_eq!(w.deadline(), None);
    assert_eq!(
        w.exec(13, Some(&p(13)), t),
        vec![("P".to_owned(), true)],
        "exec: at once"
    );
}

/// A process renaming itself (prctl) leaves or joins a `comm` match; command-line matches
/// ignore renames.
#[test]
fn comm_changes() {
    let by_comm = def("process x");
    let mut by_cmd = def("process x\nfull_command");
    by_cmd.name = "C".into();
    let mut w = Watcher::new([&by_comm, &by_cmd]);
    let x = ProcInfo {
        pid: 5,
        comm: "x".into(),
        cmdline: cmd(&["x"]),
    };
    assert_eq!(
        w.scan(&[x]),
        vec![("P".to_owned(), true), ("C".to_owned(), true)]
    );
    let t = Instant::now();
    assert_eq!(w.comm(5, "worker", t), vec![("P".to_owned(), false)]);
    assert_eq!(w.comm(5, "x", t), vec![("P".to_owned(), true)]);
    // exec of something else: both lose it.
    let y = ProcInfo {
        pid: 5,
        comm: "y".into(),
        cmdline: cmd(&["y"]),
    };
    assert_eq!(
        w.exec(5, Some(&y), t),
        vec![("P".to_owned(), false), ("C".to_owned(), false)]
    );
    assert!(
        w.exec(6, None, t).is_empty(),
        "a process gone before it was read"
    );
}

#[test]
fn rescan_after_lost_events() {
    let d = def("process x");
    let mut w = Watcher::new([&d]);
    w.scan(&[]);
    let x = ProcInfo {
        pid: 5,
        comm: "x".into(),
        cmdline: Vec::new(),
    };
    assert_eq!(
        w.rescan(std::slice::from_ref(&x)),
        vec![("P".to_owned(), true)]
    );
    assert!(w.rescan(&[x]).is_empty());
    assert_eq!(w.rescan(&[]), vec![("P".to_owned(), false)]);
}

/// A message as the kernel sends it: nlmsghdr, cn_msg, proc_event.
fn message(what: u32, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    let len = (16 + 20 + 16 + data.len()) as u32;
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&3u16.to_ne_bytes()); // NLMSG_DONE
    m.extend_from_slice(&[0; 10]);
    m.extend_from_slice(&1u32.to_ne_bytes()); // CN_IDX_PROC
    m.extend_from_slice(&1u32.to_ne_bytes()); // CN_VAL_PROC
    m.extend_from_slice(&[0; 8]); // seq, ack
    m.extend_from_slice(&((16 + data.len()) as u16).to_ne_bytes());
    m.extend_from_slice(&[0; 2]);
    m.extend_from_slice(&what.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // cpu
    m.extend_from_slice(&[0; 8]); // timestamp
    m.extend_from_slice(data);
    m
}

fn ints(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|i| i.to_ne_bytes()).collect()
}

#[test]
fn parse_connector_messages() {
    assert_eq!(
        parse_event(&message(1, &ints(&[10, 10, 11, 11]))),
        Some(ProcEvent::Fork {
            parent: 10,
            child: 11
        })
    );
    assert_eq!(
        parse_event(&message(1, &ints(&[10, 10, 12, 11]))),
        None,
        "a new thread"
    );
    assert_eq!(
        parse_event(&message(2, &ints(&[20, 20]))),
        Some(ProcEvent::Exec { pid: 20 })
    );
    assert_eq!(
        parse_event(&message(0x8000_0000, &ints(&[30, 30, 0, 9, 1, 1]))),
        Some(ProcEvent::Exit { pid: 30 })
    );
    assert_eq!(
        parse_event(&message(0x8000_0000, &ints(&[31, 30, 0, 9]))),
        None,
        "a thread exiting"
    );
    let mut comm = ints(&[40, 40]);
    comm.extend_from_slice(b"worker\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(
        parse_event(&message(0x200, &comm)),
        Some(ProcEvent::Comm {
            pid: 40,
            comm: "worker".into()
        })
    );
    assert_eq!(
        parse_event(&message(0x4, &ints(&[1, 1, 0, 0]))),
        None,
        "uid"
    );
    // Truncated, lying length, other connector.
    let m = message(2, &ints(&[20, 20]));
    for n in 0..m.len() {
        assert_eq!(parse_event(&m[..n]), None, "{n} bytes");
    }
    let mut other = m.clone();
    other[16] = 7;
    assert_eq!(parse_event(&other), None);
    let mut long = m.clone();
    long[0] = 200;
    assert_eq!(parse_event(&long), None);
    assert_eq!(listen_message().len(), 40);
}

fn tracking(inst_track: &str, def_extra: &str, group: bool) -> Tracking {
    let mut text = format!(
        "vrrp_track_process P {{\n process x\n {def_extra}\n}}\n\
         vrrp_instance A {{\n interface lo0x\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_process {{\n {inst_track}\n }}\n}}\n"
    );
    if group {
        text.push_str(
            "vrrp_instance B {\n interface lo0x\n virtual_router_id 2\n \
             virtual_ipaddress { 198.18.0.2 }\n}\nvrrp_sync_group G {\n group { A B }\n}\n",
        );
    }
    Tracking::new(&parse_str(&text, Path::new("/x/k.conf")).unwrap().config)
}

/// Weights and FAULT, as a vrrp_script's: weight 0 = FAULT without quorum (with reverse:
/// FAULT with it); a positive weight adds while up, a negative one while down.
#[test]
fn weights_and_fault() {
    for (track, extra, up, fault, delta) in [
        ("P", "", true, false, 0),
        ("P", "", false, true, 0),
        ("P weight 0 reverse", "", true, true, 0),
        ("P weight 0 reverse", "", false, false, 0),
        ("P", "weight 30", true, false, 30),
        ("P", "weight 30", false, false, 0),
        ("P", "weight -30", false, false, -30),
        ("P", "weight -30", true, false, 0),
        ("P weight 30 reverse", "", true, false, -30),
        ("P weight 20", "weight -30", true, false, 20),
        ("P", "weight 30 reverse", false, false, 0),
        ("P", "weight -30 reverse", false, false, 30),
    ] {
        let mut t = tracking(track, extra, false);
        t.process_quorum("P", up);
        let s = t.status("A");
        assert_eq!(s.fault.is_some(), fault, "{track} / {extra} up={up}: {s:?}");
        assert_eq!(s.delta, delta, "{track} / {extra} up={up}");
        assert!(s.pending.is_none());
    }
    // The instance's priority follows, clamped.
    let mut t = tracking("P", "weight -60", false);
    assert_eq!(
        effective_priority(100, &t.status("A")),
        40,
        "a process counts as without quorum until the monitor has scanned /proc"
    );
    assert_eq!(t.process_quorum("P", true), vec!["A".to_owned()]);
    assert_eq!(effective_priority(100, &t.status("A")), 100);
    assert_eq!(t.process_quorum("P", false), vec!["A".to_owned()]);
    assert_eq!(effective_priority(100, &t.status("A")), 40);
    assert!(
        t.process_quorum("P", false).is_empty(),
        "no change, no news"
    );
    assert_eq!(t.process_quorum("P", true), vec!["A".to_owned()]);
    assert_eq!(effective_priority(100, &t.status("A")), 100);
}

/// keepalived 2.2.7 keeps a track_process weight in a sync group member (it drops weighted
/// scripts there); a disabled process (no process events) counts for nothing.
#[test]
fn sync_group_weight_kept_and_disabled_ignored() {
    let mut t = tracking("P", "weight 30", true);
    t.process_quorum("P", true);
    assert_eq!(t.status("A").delta, 30);

    let mut t = tracking("P", "", false);
    assert!(t.status("A").fault.is_some(), "starts without quorum");
    assert_eq!(t.disable_process("P"), vec!["A".to_owned()]);
    assert_eq!(t.status("A"), Default::default());
    assert!(t.process_quorum("P", true).is_empty());
    assert_eq!(t.processes(), vec!["P".to_owned()]);
}

/// keepalived tracks the `dev` of a virtual route (and a rule's `iif`/`oif`) unless
/// `no_track`: down = FAULT, like `track_interface` with weight 0.
#[test]
fn virtual_route_devices_are_tracked() {
    let text = "vrrp_instance A {\n interface lo0x\n virtual_router_id 1\n \
                virtual_ipaddress { 198.18.0.1 }\n virtual_routes {\n 198.18.5.0/24 dev up0x\n \
                198.18.6.0/24 dev nt0x no_track\n }\n virtual_rules {\n iif in0x table 5 \
                priority 5\n }\n}\n";
    let mut t = Tracking::new(&parse_str(text, Path::new("/x/k.conf")).unwrap().config);
    assert_eq!(t.interfaces(), vec!["in0x".to_owned(), "up0x".to_owned()]);
    t.interface_state("in0x", true);
    assert!(t.status("A").fault.is_some(), "up0x not reported: down");
    assert_eq!(t.interface_state("up0x", true), vec!["A".to_owned()]);
    assert!(t.status("A").fault.is_none());
    assert_eq!(t.interface_state("up0x", false), vec!["A".to_owned()]);
    assert!(t.status("A").fault.unwrap().contains("up0x"));
}
