//! Reloads that fail leave the running configuration as it was, and `unicast_ttl`, with a
//! real agent in network namespaces (prefix `rg`). Needs root.
//!
//! The agent (a debug build) fails a reload at each prepare step in turn when told so by
//! `VRRP_AGENT_FAIL_RELOAD`; real failures (a missing interface, a source address that
//! cannot be bound, a notify command that does not exist) are tested as well.
use std::{
    net::Ipv4Addr,
    path::Path,
    time::{Duration, Instant},
};

use vrrp_agent::wire::{frame::FrameBuilder, Endpoints};
use vrrp_tests::{
    bpftool_counters, start_agent_env, unique, veth, wait_for, Agent, Capture, PacketSocket,
    TempDir, VethPair,
};

const VIP: &str = "198.18.0.100";
const VIP2: &str = "198.18.9.100";
const VIP3: &str = "198.18.9.103";
const TRANSITION: Duration = Duration::from_secs(10);

fn has_addr(pair: &VethPair, iface_in_a: &str, addr: &str) -> bool {
    pair.a
        .ip(&["-o", "addr", "show", "dev", iface_in_a])
        .is_ok_and(|o| o.contains(&format!(" {addr}/")))
}

fn xdp_on(pair: &VethPair, iface_in_a: &str) -> bool {
    pair.a
        .ip(&["link", "show", iface_in_a])
        .is_ok_and(|o| o.contains("xdp"))
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn open_fds(agent: &Agent) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", agent.proc.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The VRRP adverts in `frames` from `src` for `vrid`: (when, IP TTL, priority).
fn adverts(frames: &[vrrp_tests::Captured], src: Ipv4Addr, vrid: u8) -> Vec<(Instant, u8, u8)> {
    frames
        .iter()
        .filter_map(|c| {
            let f = &c.frame;
            let ip = f.get(14..34)?;
            let vrrp = f.get(34..40)?;
            let ok = f[12..14] == [0x08, 0x00]
                && ip[9] == 112
                && ip[12..16] == src.octets()
                && vrrp[1] == vrid;
            ok.then_some((c.at, ip[8], vrrp[2]))
        })
        .collect()
}

/// Whether the frame captured at `at` carries `vip` among its bytes (an advert's list).
fn advert_has(frames: &[vrrp_tests::Captured], at: Instant, vip: &str) -> bool {
    let Ok(addr) = vip.parse::<Ipv4Addr>() else {
        return false;
    };
    frames.iter().filter(|c| c.at == at).any(|c| {
        c.frame
            .get(42..)
            .is_some_and(|v| v.windows(4).any(|w| w == addr.octets()))
    })
}

fn instance(name: &str, iface: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface {iface}\n virtual_router_id {vrid}\n priority {prio}\n \
         version 3\n advert_int 0.1\n virtual_ipaddress {{ {vip}/24 }}\n{extra}}}\n"
    )
}

/// Waits until the agent logged `needle` `n` times.
fn wait_count(agent: &Agent, needle: &str, n: usize) {
    let ok = wait_for(TRANSITION, || {
        (count(&agent.proc.log_text(), needle) >= n).then_some(())
    });
    assert!(
        ok.is_some(),
        "`{needle}` not logged {n} times:\n{}",
        agent.proc.log_text()
    );
}

/// Checks that the agent, Master for VIP on `pair.a_if`, goes on as it was after a rejected
/// reload: the VIP stays, no state change, and adverts keep coming (5 after `since`: the
/// positive control).
fn still_master(pair: &VethPair, agent: &Agent, cap: &Capture, since: Instant, transitions: usize) {
    let more = wait_for(TRANSITION, || {
        let n = adverts(&cap.seen(), VethPair::A_ADDR, 61)
            .iter()
            .filter(|(at, _, prio)| *at > since && *prio == 150)
            .count();
        (n >= 5).then_some(())
    });
    assert!(
        more.is_some(),
        "no adverts after a rejected reload:\n{}",
        agent.proc.log_text()
    );
    assert!(has_addr(pair, &pair.a_if, VIP), "{}", agent.proc.log_text());
    assert_eq!(
        count(&agent.proc.log_text(), " transitions="),
        transitions,
        "{}",
        agent.proc.log_text()
    );
}

#[test]
fn a_reload_failing_at_each_step_leaves_the_old_configuration_running() {
    let dir = TempDir::new("rgfail").unwrap();
    let pair = VethPair::new("rgf").unwrap();
    // A second link for the new instance (a new XDP attachment, a new socket).
    let (x_a, x_b) = (unique("rgfx"), unique("rgfy"));
    veth(&pair.a, &x_a, &pair.b, &x_b).unwrap();
    pair.a
        .ip(&["addr", "add", "198.18.9.1/24", "dev", &x_a])
        .unwrap();
    pair.b
        .ip(&["addr", "add", "198.18.9.2/24", "dev", &x_b])
        .unwrap();
    let v1 = instance("VI_1", &pair.a_if, 61, 150, VIP, "");
    let steps = "load,plan,notify,local-addrs,sockets,kernel,attach,tracking";
    let agent = start_agent_env(
        &pair.a,
        dir.path(),
        "rgf",
        &v1,
        &[],
        &[("VRRP_AGENT_FAIL_RELOAD", steps)],
    )
    .unwrap();
    if !agent
        .proc
        .log_text()
        .contains("reloads fail at these steps")
    {
        eprintln!("skipped: the agent is a release build (no injected failures)");
        return;
    }
    let became = wait_for(TRANSITION, || {
        has_addr(&pair, &pair.a_if, VIP).then_some(())
    });
    assert!(became.is_some(), "{}", agent.proc.log_text());
    let cap = Capture::start(&pair.b, &pair.b_if, 100_000, Duration::from_secs(90)).unwrap();
    let transitions = count(&agent.proc.log_text(), " transitions=");
    // Let the start-up settle (the tokio runtime's threads, lazily opened descriptors).
    std::thread::sleep(Duration::from_millis(300));
    let fds = open_fds(&agent);

    // The new configuration adds an instance on the second link with a unicast peer and a
    // health check: every step has something to do.
    let script = dir.path().join("chk.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::process::Command::new("chmod")
        .args(["755"])
        .arg(&script)
        .status()
        .unwrap();
    // VI_1 gets another VIP (a change in place, with new adverts prepared at `sockets`).
    let v1_more = instance(
        "VI_1",
        &pair.a_if,
        61,
        150,
        &format!("{VIP}/24\n {VIP3}"),
        "",
    );
    let v2 = format!(
        "vrrp_script chk {{\n script \"{}\"\n interval 1\n}}\n{v1_more}{}",
        script.display(),
        instance(
            "VI_2",
            &x_a,
            62,
            150,
            VIP2,
            " unicast_src_ip 198.18.9.1\n unicast_peer { 198.18.9.2 }\n track_script { chk }\n"
        )
    );
    let conf = dir.path().join("rgf.conf");
    std::fs::write(&conf, &v2).unwrap();
    for (n, step) in steps.split(',').enumerate() {
        let since = Instant::now();
        agent.proc.signal(libc::SIGHUP);
        wait_count(&agent, "reload rejected at ", n + 1);
        let log = agent.proc.log_text();
        assert!(
            log.contains(&format!(
                "reload rejected at {step}: failure injected at {step}"
            )),
            "{step}:\n{log}"
        );
        still_master(&pair, &agent, &cap, since, transitions);
        assert!(!has_addr(&pair, &x_a, VIP2), "{step}: VI_2 started");
        assert!(
            !has_addr(&pair, &pair.a_if, VIP3),
            "{step}: VI_1 took its new VIP"
        );
        let carried = adverts(&cap.seen(), VethPair::A_ADDR, 61)
            .iter()
            .any(|(at, _, _)| *at > since && advert_has(&cap.seen(), *at, VIP3));
        assert!(!carried, "{step}: VI_1 advertises its new VIP");
        assert!(!xdp_on(&pair, &x_a), "{step}: XDP left on the new link");
    }
    // Nothing opened by the failed reloads is left open (sockets, monitors).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(open_fds(&agent), fds, "{}", agent.proc.log_text());

    // Events after the failed reloads: a better Master on the link (A steps down, and
    // takes over again when it goes quiet), and the second link flapping.
    let sock = PacketSocket::open(&pair.b, &pair.b_if).unwrap();
    let mut better = VethPair::v3(61);
    better.priority = 200;
    better.addresses = vec![VIP.parse().unwrap()];
    let frame = FrameBuilder::new(&better, Endpoints::multicast(VethPair::B_ADDR.into()))
        .unwrap()
        .src_mac(pair.b_mac)
        .build();
    let t0 = Instant::now();
    let mut gone = false;
    while t0.elapsed() < Duration::from_secs(5) {
        sock.send(&frame).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        if !has_addr(&pair, &pair.a_if, VIP) {
            gone = true;
            break;
        }
    }
    assert!(gone, "A did not step down:\n{}", agent.proc.log_text());
    pair.a.ip(&["link", "set", &x_a, "down"]).unwrap();
    pair.a.ip(&["link", "set", &x_a, "up"]).unwrap();
    let back = wait_for(TRANSITION, || {
        has_addr(&pair, &pair.a_if, VIP).then_some(())
    });
    assert!(back.is_some(), "{}", agent.proc.log_text());

    // The list of failures is used up: the same file now loads.
    agent.proc.signal(libc::SIGHUP);
    wait_count(&agent, "configuration reloaded", 1);
    let log = agent.proc.log_text();
    assert!(log.contains("reload: added"), "{log}");
    assert!(
        log.contains("reload: changed in place (virtual_ipaddress (+198.18.9.103))"),
        "{log}"
    );
    let more = wait_for(TRANSITION, || {
        has_addr(&pair, &pair.a_if, VIP3).then_some(())
    });
    assert!(more.is_some(), "{}", agent.proc.log_text());
    let up = wait_for(TRANSITION, || has_addr(&pair, &x_a, VIP2).then_some(()));
    assert!(up.is_some(), "{}", agent.proc.log_text());
    assert!(xdp_on(&pair, &x_a));
    assert!(has_addr(&pair, &pair.a_if, VIP));
    assert!(!agent.proc.log_text().contains("panicked"));
    let mut agent = agent;
    assert!(
        agent.proc.wait_timeout(Duration::ZERO).is_none(),
        "the agent exited"
    );
}

#[test]
fn real_reload_failures_are_rejected_and_a_later_good_reload_applies() {
    let dir = TempDir::new("rgreal").unwrap();
    let pair = VethPair::new("rgr").unwrap();
    let v1 = instance("VI_1", &pair.a_if, 61, 150, VIP, "");
    let agent = start_agent_env(&pair.a, dir.path(), "rgr", &v1, &[], &[]).unwrap();
    let became = wait_for(TRANSITION, || {
        has_addr(&pair, &pair.a_if, VIP).then_some(())
    });
    assert!(became.is_some(), "{}", agent.proc.log_text());
    let cap = Capture::start(&pair.b, &pair.b_if, 100_000, Duration::from_secs(60)).unwrap();
    let transitions = count(&agent.proc.log_text(), " transitions=");
    let conf = dir.path().join("rgr.conf");
    let bad = [
        (
            "plan",
            instance("VI_2", "rgnosuch0", 62, 100, VIP2, ""),
            "does not exist",
        ),
        (
            "sockets",
            instance(
                "VI_2",
                &pair.a_if,
                62,
                100,
                VIP2,
                " unicast_src_ip 198.18.0.77\n unicast_peer { 198.18.0.2 }\n",
            ),
            "bind",
        ),
    ];
    for (n, (step, extra, why)) in bad.iter().enumerate() {
        std::fs::write(&conf, format!("{v1}{extra}")).unwrap();
        let since = Instant::now();
        agent.proc.signal(libc::SIGHUP);
        wait_count(&agent, "reload rejected at ", n + 1);
        let log = agent.proc.log_text();
        let line = log
            .lines()
            .filter(|l| l.contains("reload rejected at "))
            .nth(n)
            .unwrap_or_default()
            .to_string();
        assert!(
            line.contains(&format!("rejected at {step}")) && line.contains(why),
            "{step}: {line}\n{log}"
        );
        still_master(&pair, &agent, &cap, since, transitions);
    }
    // A good reload: the priority changes in place (no restart, no state change).
    std::fs::write(&conf, instance("VI_1", &pair.a_if, 61, 160, VIP, "")).unwrap();
    let since = Instant::now();
    agent.proc.signal(libc::SIGHUP);
    wait_count(&agent, "configuration reloaded", 1);
    assert!(agent
        .proc
        .log_text()
        .contains("reload: changed in place (priority 150 -> 160)"));
    let seen = wait_for(TRANSITION, || {
        adverts(&cap.seen(), VethPair::A_ADDR, 61)
            .iter()
            .any(|(at, _, prio)| *at > since && *prio == 160)
            .then_some(())
    });
    assert!(seen.is_some(), "{}", agent.proc.log_text());
    assert_eq!(count(&agent.proc.log_text(), " transitions="), transitions);

    // Another VIP: taken in place (no restart, no state change); the adverts carry on.
    std::fs::write(
        &conf,
        instance("VI_1", &pair.a_if, 61, 160, "198.18.0.101", ""),
    )
    .unwrap();
    agent.proc.signal(libc::SIGHUP);
    wait_count(&agent, "configuration reloaded", 2);
    let since = Instant::now();
    assert!(agent
        .proc
        .log_text()
        .contains("reload: changed in place (virtual_ipaddress (+198.18.0.101 -198.18.0.100))"));
    let again = wait_for(TRANSITION, || {
        (adverts(&cap.seen(), VethPair::A_ADDR, 61)
            .iter()
            .filter(|(at, _, prio)| *at > since && *prio == 160)
            .count()
            >= 5)
            .then_some(())
    });
    assert!(again.is_some(), "{}", agent.proc.log_text());
    let moved = wait_for(TRANSITION, || {
        (has_addr(&pair, &pair.a_if, "198.18.0.101") && !has_addr(&pair, &pair.a_if, VIP))
            .then_some(())
    });
    assert!(moved.is_some(), "{}", agent.proc.log_text());
    assert_eq!(count(&agent.proc.log_text(), " transitions="), transitions);
}

#[test]
fn unicast_ttl_is_the_ttl_sent_and_a_peer_ttl_range_filters_received_adverts() {
    let dir = TempDir::new("rgttl").unwrap();
    let pair = VethPair::new("rgt").unwrap();
    let conf = instance(
        "VI_U",
        &pair.a_if,
        63,
        150,
        VIP,
        &format!(
            " unicast_src_ip {}\n unicast_ttl 7\n unicast_peer {{\n  {} min_ttl 7 max_ttl 7\n }}\n",
            VethPair::A_ADDR,
            VethPair::B_ADDR
        ),
    );
    let agent = start_agent_env(&pair.a, dir.path(), "rgt", &conf, &[], &[]).unwrap();
    let cap = Capture::start(&pair.b, &pair.b_if, 10_000, Duration::from_secs(30)).unwrap();
    let became = wait_for(TRANSITION, || {
        has_addr(&pair, &pair.a_if, VIP).then_some(())
    });
    assert!(became.is_some(), "{}", agent.proc.log_text());
    let sent = wait_for(TRANSITION, || {
        let a = adverts(&cap.seen(), VethPair::A_ADDR, 63);
        (a.len() >= 5).then_some(a)
    })
    .expect("adverts from A");
    assert!(
        sent.iter().all(|(_, ttl, _)| *ttl == 7),
        "TTLs sent: {:?}",
        sent.iter().map(|a| a.1).collect::<Vec<_>>()
    );

    // B claims the VRID with a higher priority, unicast to A: with TTL 255 (outside
    // min_ttl 7 .. max_ttl 7) it is discarded and counted, and A stays Master; with TTL 7
    // it wins.
    let sock = PacketSocket::open(&pair.b, &pair.b_if).unwrap();
    let mut better = VethPair::v3(63);
    better.priority = 200;
    better.addresses = vec![VIP.parse().unwrap()];
    let frame = |ttl: u8| {
        FrameBuilder::new(
            &better,
            Endpoints::new(VethPair::B_ADDR.into(), VethPair::A_ADDR.into()).unwrap(),
        )
        .unwrap()
        .src_mac(pair.b_mac)
        .dst_mac(pair.a_mac)
        .ttl(ttl)
        .build()
    };
    let pins: &Path = &agent.pins;
    for _ in 0..10 {
        sock.send(&frame(255)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let counted = wait_for(TRANSITION, || {
        let n = bpftool_counters(pins)
            .get(&(63, "bad_ttl".to_string()))
            .copied()
            .unwrap_or(0);
        (n >= 10).then_some(n)
    });
    assert!(
        counted.is_some(),
        "TTL discards not counted: {:?}",
        bpftool_counters(pins)
    );
    assert!(
        has_addr(&pair, &pair.a_if, VIP),
        "{}",
        agent.proc.log_text()
    );
    let t0 = Instant::now();
    let mut gone = false;
    while t0.elapsed() < Duration::from_secs(5) {
        sock.send(&frame(7)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        if !has_addr(&pair, &pair.a_if, VIP) {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "A ignored a better Master with the right TTL:\n{}",
        agent.proc.log_text()
    );
}
