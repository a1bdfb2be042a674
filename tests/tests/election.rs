//! Two agents on one LAN (network namespaces and a bridge), with a client: start-up election
//! by priority and by address, hard failover (the Master's link cut), graceful failover
//! (SIGTERM, priority 0), preemption and nopreempt on recovery, preempt_delay, unicast peers,
//! v2 PASS with a wrong password. Every transition is checked where it matters: which router
//! holds the VIP, and that the client reaches it (and has the right MAC for it).
use std::{net::Ipv4Addr, time::Duration};

use vrrp_tests::{
    bpftool_counters, bpftool_peers, start_agent, start_agent_with, wait_for, Lan, TempDir,
};

const VIP: &str = "198.18.2.100";
const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 10);
/// Generous bound for a transition: a failover at advert_int 0.1 takes ~0.4 s.
const TRANSITION: Duration = Duration::from_secs(10);
/// Generous bound for an agent to exit on a signal (it takes a few milliseconds).
const EXIT: Duration = Duration::from_secs(10);

type Router = vrrp_tests::Agent;

struct Setup {
    lan: Lan,
    dir: TempDir,
}

fn setup() -> Setup {
    let mut lan = Lan::new().unwrap();
    lan.add_host("r1", R1).unwrap();
    lan.add_host("r2", R2).unwrap();
    lan.add_host("cl", CLIENT).unwrap();
    Setup {
        lan,
        dir: TempDir::new("vrrp-el").unwrap(),
    }
}

/// An instance block in keepalived.conf syntax; `extra` goes inside it.
fn conf(iface: &str, priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id 51\n    \
         priority {priority}\n    version 3\n    advert_int 0.1\n{extra}\n    virtual_ipaddress {{\n        \
         {VIP}/24 dev {iface} label {iface}:vip\n    }}\n}}\n"
    )
}

fn start(s: &Setup, i: usize, text: &str, tag: &str) -> Router {
    start_agent(&s.lan.hosts[i].ns, s.dir.path(), tag, text).unwrap()
}

/// Whether `r` logs `needle` within TRANSITION. An agent logs a transition after the
/// netlink change that the test sees first, and a busy machine can put time between the
/// two: a log line that follows an effect is waited for, not read at once.
fn logged(r: &Router, needle: &str) -> bool {
    wait_for(TRANSITION, || {
        r.proc.log_text().contains(needle).then_some(())
    })
    .is_some()
}

/// Waits until exactly router `i` holds the VIP.
fn wait_master(s: &Setup, i: usize, routers: &[&Router]) {
    let others: Vec<usize> = (0..2).filter(|&j| j != i).collect();
    let ok = wait_for(TRANSITION, || {
        (s.lan.hosts[i].has_addr(VIP) && others.iter().all(|&j| !s.lan.hosts[j].has_addr(VIP)))
            .then_some(())
    });
    if ok.is_none() {
        let logs: Vec<String> = routers
            .iter()
            .map(|r| format!("--- {}\n{}", r.proc.what, r.proc.log_text()))
            .collect();
        panic!(
            "router {} should hold {VIP} alone (r1 has it: {}, r2 has it: {})\n{}",
            i + 1,
            s.lan.hosts[0].has_addr(VIP),
            s.lan.hosts[1].has_addr(VIP),
            logs.join("\n")
        );
    }
}

/// The client reaches the VIP, and its neighbour entry points at router `i`'s MAC.
fn assert_client_reaches(s: &Setup, i: usize, routers: &[&Router]) {
    let client = &s.lan.hosts[2];
    let ok = wait_for(TRANSITION, || client.ping(VIP).then_some(()));
    if ok.is_none() {
        let logs: Vec<String> = routers
            .iter()
            .map(|r| format!("--- {}\n{}", r.proc.what, r.proc.log_text()))
            .collect();
        panic!(
            "client cannot ping {VIP} (router {} should answer; client neigh: {:?}; r1 mac {}, r2 mac {})\n{}",
            i + 1,
            client.ns.ip(&["neigh"]).unwrap_or_default(),
            s.lan.hosts[0].mac(),
            s.lan.hosts[1].mac(),
            logs.join("\n")
        );
    }
    let want = s.lan.hosts[i].mac();
    let got = wait_for(TRANSITION, || client.neigh_mac(VIP).filter(|m| *m == want));
    assert!(
        got.is_some(),
        "client's ARP entry for {VIP} is {:?}, router {} has {want}",
        client.neigh_mac(VIP),
        i + 1
    );
}

#[test]
fn startup_by_priority_then_hard_failover_and_preemption() {
    let s = setup();
    let (i1, i2) = (&s.lan.hosts[0].iface, &s.lan.hosts[1].iface);
    let r1 = start(&s, 0, &conf(i1, 150, ""), "r1");
    let r2 = start(&s, 1, &conf(i2, 100, ""), "r2");
    wait_master(&s, 0, &[&r1, &r2]);
    assert_client_reaches(&s, 0, &[&r1, &r2]);
    // The agent joined the VRRP group, so a NIC that filters multicast delivers adverts.
    let maddr = s.lan.hosts[0].ns.ip(&["maddr", "show", "dev", i1]).unwrap();
    assert!(maddr.contains("224.0.0.18"), "{maddr}");
    // On a veth, --xdp-mode auto attaches in SKB mode (native veth XDP copies every
    // received packet).
    let log = r1.proc.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("XDP attached") && l.contains("mode=skb")),
        "{log}"
    );
    // The VIP carries its label.
    let addrs = s.lan.hosts[0]
        .ns
        .ip(&["-o", "addr", "show", "dev", i1])
        .unwrap();
    assert!(addrs.contains(&format!("{i1}:vip")), "{addrs}");

    // Hard failover: the Master's link is cut. (First wait out the client's ARP locktime,
    // 1 s: Linux ignores a gratuitous ARP for an entry it updated less than a second ago,
    // and then relies on the repeat after garp_master_delay or on its own re-probe.)
    std::thread::sleep(Duration::from_millis(1200));
    s.lan.cut(0).unwrap();
    let ok = wait_for(TRANSITION, || s.lan.hosts[1].has_addr(VIP).then_some(()));
    assert!(
        ok.is_some(),
        "r2 did not take over:\n{}",
        r2.proc.log_text()
    );
    assert_client_reaches(&s, 1, &[&r1, &r2]);
    assert!(
        logged(&r2, "master down timer expired"),
        "{}",
        r2.proc.log_text()
    );
    // r1 lost carrier: like keepalived, it goes to FAULT and gives its VIP up.
    let fault = wait_for(TRANSITION, || {
        (r1.proc.log_text().contains("Master -> Fault") && !s.lan.hosts[0].has_addr(VIP))
            .then_some(())
    });
    assert!(fault.is_some(), "{}", r1.proc.log_text());

    // Recovery: r1 (higher priority, preempt by default) takes the VIP back.
    s.lan.reconnect(0).unwrap();
    wait_master(&s, 0, &[&r1, &r2]);
    assert_client_reaches(&s, 0, &[&r1, &r2]);
    assert!(
        logged(&r2, "Master -> Backup: higher priority 150"),
        "{}",
        r2.proc.log_text()
    );
}

#[test]
fn equal_priority_elects_the_higher_address() {
    // A Backup hearing an equal-priority Master stays Backup (RFC 9568 §6.4.2); the address
    // breaks the tie when two Masters meet (§6.4.3). Make both Master apart, then join them.
    let s = setup();
    s.lan.isolate(0, true).unwrap();
    s.lan.isolate(1, true).unwrap();
    let r1 = start(&s, 0, &conf(&s.lan.hosts[0].iface, 100, ""), "t1");
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, ""), "t2");
    assert!(wait_for(TRANSITION, || (s.lan.hosts[0].has_addr(VIP)
        && s.lan.hosts[1].has_addr(VIP))
    .then_some(()))
    .is_some());
    s.lan.isolate(0, false).unwrap();
    wait_master(&s, 1, &[&r1, &r2]);
    assert!(
        logged(&r1, "Master -> Backup: equal priority 100 from 198.18.2.2"),
        "{}",
        r1.proc.log_text()
    );
    assert_client_reaches(&s, 1, &[&r1, &r2]);
}

#[test]
fn graceful_shutdown_hands_over_after_skew_time() {
    let s = setup();
    let mut r1 = start(&s, 0, &conf(&s.lan.hosts[0].iface, 150, ""), "g1");
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, ""), "g2");
    wait_master(&s, 0, &[&r1, &r2]);
    let t0 = std::time::Instant::now();
    r1.proc.signal(libc::SIGTERM);
    let st = r1
        .proc
        .wait_timeout(EXIT)
        .unwrap_or_else(|| panic!("SIGTERM -> exit within {EXIT:?}"));
    assert!(st.success());
    assert!(
        !s.lan.hosts[0].has_addr(VIP),
        "r1 removed its VIP on the way out"
    );
    let ok = wait_for(TRANSITION, || s.lan.hosts[1].has_addr(VIP).then_some(()));
    assert!(
        ok.is_some(),
        "r2 did not take over:\n{}",
        r2.proc.log_text()
    );
    // Priority 0 makes the Backup wait only Skew_Time (~0.06 s), not Master_Down_Interval
    // (~0.36 s): the log line is the proof (a time bound cannot tell 0.06 s from 0.36 s on
    // a busy machine); the waits above (EXIT, TRANSITION) are the only bounds.
    assert!(
        logged(&r2, "master resigned"),
        "{}\nhanded over after {:?}",
        r2.proc.log_text(),
        t0.elapsed()
    );
    assert_client_reaches(&s, 1, &[&r1, &r2]);
}

#[test]
fn nopreempt_keeps_the_new_master_after_recovery() {
    // nopreempt: a higher-priority router that comes back does not take over a live Master.
    let s = setup();
    let c1 = conf(&s.lan.hosts[0].iface, 150, "    nopreempt");
    let mut r1 = start(&s, 0, &c1, "n1");
    let r2 = start(
        &s,
        1,
        &conf(&s.lan.hosts[1].iface, 100, "    nopreempt"),
        "n2",
    );
    wait_master(&s, 0, &[&r1, &r2]);
    r1.proc.signal(libc::SIGTERM);
    assert!(r1.proc.wait_timeout(EXIT).is_some());
    wait_master(&s, 1, &[&r2, &r2]);
    let t0 = std::time::Instant::now();
    let r1 = start(&s, 0, &c1, "n1b");
    // The window is counted in r2's adverts that r1's XDP recorded (the positive control:
    // r1 hears the Master it must not preempt), 20 of them, i.e. ~5 Master_Down_Intervals
    // at which a preempting r1 would have taken over, and at least 2 s.
    let heard = |a: &Router| {
        bpftool_peers(&a.pins)
            .iter()
            .filter(|(vrid, _, rec)| *vrid == 51 && rec["priority"] == 100)
            .filter_map(|(_, _, rec)| rec["adverts"].as_u64())
            .max()
            .unwrap_or(0)
    };
    // A Master that goes silent for Master_Down_Interval (0.36 s) is replaced, nopreempt or
    // not, and a busy machine can stall r2 that long: then r1 takes over with "master down
    // timer expired", r2 steps down and stops advertising. That ends the window too; what
    // nopreempt forbids is a take-over from a live Master, logged as "preempting".
    let down = "master down timer expired";
    let window = wait_for(TRANSITION, || {
        (heard(&r1) >= 20 || r1.proc.log_text().contains(down)).then_some(())
    });
    assert!(
        window.is_some() && heard(&r1) >= 3,
        "r1 recorded {} adverts from r2\n{}",
        heard(&r1),
        r1.proc.log_text()
    );
    if let Some(rest) = Duration::from_secs(2).checked_sub(t0.elapsed()) {
        std::thread::sleep(rest);
    }
    let (r1_has, r2_has) = (s.lan.hosts[0].has_addr(VIP), s.lan.hosts[1].has_addr(VIP));
    let log = r1.proc.log_text();
    assert!(log.contains("Initialize -> Backup"), "{log}");
    if r1_has || !r2_has || log.contains("-> Master") {
        // r1 took over (or is doing it: the VIP comes before the log line). Only r2's
        // silence allows that.
        logged(&r1, "Backup -> Master");
        let log = r1.proc.log_text();
        assert!(
            log.contains(&format!("Backup -> Master: {down}")) && !log.contains("preempting"),
            "nopreempt must hold (r1 has the VIP: {r1_has}, r2: {r2_has}):\n{log}"
        );
        eprintln!("r2 was silent for a Master_Down_Interval; r1 took over:\n{log}");
        return;
    }
    assert_client_reaches(&s, 1, &[&r1, &r2]);
    // Without nopreempt, the same return preempts (shown in the first test).
}

#[test]
fn preempt_delay_postpones_the_takeover() {
    let s = setup();
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, ""), "d2");
    wait_master(&s, 1, &[&r2, &r2]);
    // The delay runs from r1's start-up, which comes after t0: load can only make the
    // take-over later than t0 + 2 s, never earlier, so this lower bound cannot flake. (A
    // check at a fixed moment in between could: r1's start itself can take seconds.)
    vrrp_tests::agent_bin().unwrap();
    let t0 = std::time::Instant::now();
    let r1 = start(
        &s,
        0,
        &conf(&s.lan.hosts[0].iface, 150, "    preempt_delay 2"),
        "d1",
    );
    wait_master(&s, 0, &[&r1, &r2]);
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "r1 must wait out preempt_delay; it took over after {:?}\n{}",
        t0.elapsed(),
        r1.proc.log_text()
    );
}

#[test]
fn unicast_peers_instead_of_multicast() {
    let s = setup();
    let uc = |me: Ipv4Addr, peer: Ipv4Addr| {
        format!("    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}")
    };
    let r1 = start(&s, 0, &conf(&s.lan.hosts[0].iface, 150, &uc(R1, R2)), "u1");
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, &uc(R2, R1)), "u2");
    wait_master(&s, 0, &[&r1, &r2]);
    s.lan.cut(0).unwrap();
    assert!(
        wait_for(TRANSITION, || s.lan.hosts[1].has_addr(VIP).then_some(())).is_some(),
        "{}",
        r2.proc.log_text()
    );
    s.lan.reconnect(0).unwrap();
    wait_master(&s, 0, &[&r1, &r2]);
}

#[test]
fn v2_pass_auth_and_a_wrong_password_cannot_take_over() {
    let s = setup();
    let v2 = |pass: &str| {
        format!("    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}")
    };
    let c = |iface: &str, prio: u8, pass: &str| {
        conf(iface, prio, &v2(pass))
            .replace("    version 3\n", "    version 2\n")
            .replace("advert_int 0.1", "advert_int 1")
    };
    let r1 = start(&s, 0, &c(&s.lan.hosts[0].iface, 100, "right"), "a1");
    wait_master(&s, 0, &[&r1, &r1]);
    // A higher-priority router with the wrong password: its adverts are dropped in r1's XDP,
    // so r1 stays Master.
    let r2 = start(&s, 1, &c(&s.lan.hosts[1].iface, 200, "wrong"), "a2");
    // The positive control: r2 (Master on its side once it stops hearing r1, after ~3.2 s)
    // does advertise, and r1's XDP drops those adverts as a wrong password. Three of them,
    // each of which would have made r1 step down had it got through.
    let dropped = || {
        bpftool_counters(&r1.pins)
            .get(&(51, "bad_auth_pass".to_string()))
            .copied()
            .unwrap_or(0)
    };
    let three = wait_for(Duration::from_secs(30), || (dropped() >= 3).then_some(()));
    assert!(
        three.is_some(),
        "r1 dropped {} adverts with a wrong password\n{}",
        dropped(),
        r2.proc.log_text()
    );
    assert!(
        s.lan.hosts[0].has_addr(VIP),
        "r1 must not step down for a wrong password:\n{}",
        r1.proc.log_text()
    );
    assert!(
        !r1.proc.log_text().contains("Master -> Backup"),
        "{}",
        r1.proc.log_text()
    );
    drop(r2);
    // The right password at a higher priority does take over.
    let r3 = start(&s, 1, &c(&s.lan.hosts[1].iface, 200, "right"), "a3");
    wait_master(&s, 1, &[&r1, &r3]);
}

#[test]
fn a_restart_after_sigkill_removes_the_vip_left_behind() {
    // SIGKILL leaves the VIP on the interface (nothing can run on the way out). The next
    // start removes it before entering Backup, so r1 never answers for it as a Backup.
    let s = setup();
    let c1 = conf(&s.lan.hosts[0].iface, 150, "");
    let mut r1 = start(&s, 0, &c1, "k1");
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, ""), "k2");
    wait_master(&s, 0, &[&r1, &r2]);
    r1.proc.signal(libc::SIGKILL);
    assert!(r1.proc.wait_timeout(EXIT).is_some());
    assert!(
        s.lan.hosts[0].has_addr(VIP),
        "SIGKILL leaves the VIP behind"
    );
    let ok = wait_for(TRANSITION, || s.lan.hosts[1].has_addr(VIP).then_some(()));
    assert!(ok.is_some(), "r2 takes over from the killed r1");
    let r1 = start(&s, 0, &c1, "k1b");
    wait_for(TRANSITION, || {
        r1.proc
            .log_text()
            .contains("Initialize -> Backup")
            .then_some(())
    });
    let log = r1.proc.log_text();
    assert!(
        log.contains("removed a VIP left by a previous run"),
        "{log}"
    );
    // The clean-up came before the instance started (as Backup).
    let removed = log
        .find("removed a VIP left by a previous run")
        .unwrap_or(usize::MAX);
    let started = log.find("Initialize -> Backup").unwrap_or(0);
    assert!(removed < started, "{log}");
    // And then r1, the higher priority, preempts normally.
    wait_master(&s, 0, &[&r1, &r2]);
}

#[test]
fn a_vip_that_cannot_be_added_puts_the_instance_in_fault() {
    // A netlink failure must not leave the instance claiming Master without its address:
    // the error is logged with instance, interface and errno, and the instance goes to FAULT.
    let s = setup();
    let bad = conf(&s.lan.hosts[0].iface, 150, "").replace(
        &format!(
            "{VIP}/24 dev {} label {}:vip",
            s.lan.hosts[0].iface, s.lan.hosts[0].iface
        ),
        &format!("{VIP}/24 dev nosuchdev0"),
    );
    let mut r1 = start(&s, 0, &bad, "f1");
    let ok = r1.proc.wait_log("Master -> Fault", TRANSITION);
    assert!(ok.is_ok(), "{}", r1.proc.log_text());
    let log = r1.proc.log_text();
    assert!(
        log.contains("nosuchdev0") && log.contains("going to FAULT"),
        "{log}"
    );
    assert!(!s.lan.hosts[0].has_addr(VIP));
}

/// What a capture on host `i`'s interface (past XDP, where tcpdump looks) saw during
/// `limit`: (VRRP adverts, ICMP echo requests). Meanwhile the client pings host `i`
/// `pings` times: the echo requests are the capture's positive control.
fn seen_past_xdp(s: &Setup, i: usize, limit: Duration, pings: u32) -> (usize, usize) {
    let host = &s.lan.hosts[i];
    let cap = vrrp_tests::Capture::start(&host.ns, &host.iface, 10_000, limit * 3).unwrap();
    let t0 = std::time::Instant::now();
    for _ in 0..pings {
        s.lan.hosts[2].ping(&host.addr.to_string());
    }
    if let Some(rest) = limit.checked_sub(t0.elapsed()) {
        std::thread::sleep(rest);
    }
    let frames = cap.finish().unwrap();
    let ipv4 = |f: &[u8], proto: u8| f.len() > 34 && f[12..14] == [8, 0] && f[23] == proto;
    (
        frames.iter().filter(|c| ipv4(&c.frame, 112)).count(),
        // ICMP, type 8 (echo request).
        frames
            .iter()
            .filter(|c| ipv4(&c.frame, 1) && c.frame[34] == 8)
            .count(),
    )
}

/// VRID 51's `valid` counter in `r`'s XDP statistics.
fn valid(r: &Router) -> u64 {
    bpftool_counters(&r.pins)
        .get(&(51, "valid".to_string()))
        .copied()
        .unwrap_or(0)
}

#[test]
fn valid_adverts_end_in_xdp_unless_pass_adverts() {
    let s = setup();
    let r1 = start(&s, 0, &conf(&s.lan.hosts[0].iface, 150, ""), "pa1");
    let r2 = start(&s, 1, &conf(&s.lan.hosts[1].iface, 100, ""), "pa2");
    wait_master(&s, 0, &[&r1, &r2]);
    // r2 follows r1 (it stays Backup, so it hears the adverts), but they end in XDP. In the
    // same window its XDP counts r1's adverts as valid (they did arrive) and the capture
    // sees the client's pings (it does see what XDP passes).
    let before = valid(&r2);
    let (adverts, pings) = seen_past_xdp(&s, 1, Duration::from_millis(1000), 3);
    let arrived = valid(&r2) - before;
    assert!(arrived >= 3, "{arrived} adverts reached r2's XDP");
    assert!(
        pings >= 3,
        "the capture saw {pings} of the client's 3 pings"
    );
    assert_eq!(adverts, 0, "adverts passed XDP ({arrived} arrived)");
    assert!(!s.lan.hosts[1].has_addr(VIP));
    drop(r2);
    // With --pass-adverts a capture on the Backup sees them (0.1 s interval).
    let text = conf(&s.lan.hosts[1].iface, 100, "");
    let mut r3 = start_agent_with(
        &s.lan.hosts[1].ns,
        s.dir.path(),
        "pa3",
        &text,
        &["--pass-adverts"],
    )
    .unwrap();
    r3.proc
        .wait_log("Initialize -> Backup", Duration::from_secs(20))
        .unwrap();
    let (seen, _) = seen_past_xdp(&s, 1, Duration::from_millis(2000), 0);
    assert!(seen >= 3, "{seen} adverts seen with --pass-adverts");
    assert!(!s.lan.hosts[1].has_addr(VIP), "{}", r3.proc.log_text());
}
