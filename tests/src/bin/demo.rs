//! `cargo xtask demo`: a failover lab in network namespaces.
//!
//! Two routers run vrrp-agent with an ordinary keepalived.conf (advert_int 0.1, VRRPv3),
//! and a client pings the virtual IP every 10 ms. The demo:
//! 1. shows who is Master;
//! 2. cuts the Master's link and measures the outage the client sees;
//! 3. restores the link and shows preemption;
//! 4. stops the Master gracefully (priority 0).
//!
//! Everything is removed at the end, and on Ctrl-C.
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, Context, Result};
use vrrp_tests::{
    bpftool_counters,
    lab::{self, Daemon, Probe},
    Lan, TempDir,
};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: i32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Sleeps in small steps; fails at once on Ctrl-C so every guard runs its cleanup.
fn pause(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted: cleaning up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Polls `f` until true (or 10 s, or Ctrl-C); returns how long it took.
fn until(mut f: impl FnMut() -> bool) -> Result<Duration> {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("timed out");
        }
        pause(Duration::from_millis(5))?;
    }
    Ok(t0.elapsed())
}

fn step(n: u32, text: &str) {
    println!("\n== {n}. {text}");
}

fn main() {
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    if let Err(e) = demo() {
        eprintln!("\ndemo stopped: {e:#}");
        std::process::exit(1);
    }
}

const VIP: &str = "198.18.5.100";

/// The configuration both routers use, as in the nginx / HAProxy guides (only the priority
/// differs).
fn conf(iface: &str, router_id: &str, priority: u8) -> String {
    format!(
        r#"global_defs {{
    router_id {router_id}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface {iface}
    virtual_router_id 51
    priority {priority}
    version 3
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/24 dev {iface} label {iface}:vip
    }}
}}
"#
    )
}

/// How much `r` has logged so far (to show only what a step adds).
fn mark(r: &lab::Running) -> usize {
    r.proc.log_text().len()
}

/// Prints the lines containing `needle` that `r` logged after `since`.
fn show_log(r: &lab::Running, since: usize, needle: &str) {
    let log = r.proc.log_text();
    for line in log
        .get(since..)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains(needle))
    {
        let text = line.split("vrrp_agent::runtime: ").last().unwrap_or(line);
        println!("   {}: {}", r.proc.what, text);
    }
}

fn outage(probe: &Probe, since: SystemTime) -> String {
    match probe.longest_gap_after(since) {
        Some(g) => format!("{:.0} ms", g.as_secs_f64() * 1000.0),
        None => "no reply yet".into(),
    }
}

fn demo() -> Result<()> {
    println!("vrrp-agent demo: VIP failover between two routers, with a client watching");

    step(
        1,
        "Lab: routers r1 and r2 and a client on one LAN (network namespaces + a bridge)",
    );
    let mut lan = Lan::new()?;
    lan.add_host("r1", "198.18.5.1".parse()?)?;
    lan.add_host("r2", "198.18.5.2".parse()?)?;
    lan.add_host("cl", "198.18.5.10".parse()?)?;
    let dir = TempDir::new("vrrp-demo")?;
    for (i, name) in ["r1 ", "r2 ", "client"].iter().enumerate() {
        let h = &lan.hosts[i];
        println!("   {name:<6} {}  {}  mac {}", h.iface, h.addr, h.mac());
    }
    let c1 = conf(&lan.hosts[0].iface, "r1", 150);
    println!("   r1's keepalived.conf (r2's is the same with priority 100):");
    for l in c1.lines() {
        println!("   | {l}");
    }

    step(
        2,
        "Start vrrp-agent on both: r1 (priority 150) wins the election",
    );
    let r1 = lab::start(Daemon::Agent, &lan.hosts[0], dir.path(), "r1", &c1)?;
    let r2 = lab::start(
        Daemon::Agent,
        &lan.hosts[1],
        dir.path(),
        "r2",
        &conf(&lan.hosts[1].iface, "r2", 100),
    )?;
    until(|| lan.hosts[0].has_addr(VIP) && !lan.hosts[1].has_addr(VIP))?;
    show_log(&r1, 0, "-> Master");
    show_log(&r2, 0, "-> Backup");
    let line = lan.hosts[0]
        .ns
        .ip(&["-o", "-4", "addr", "show", "dev", &lan.hosts[0].iface])?;
    for l in line.lines().filter(|l| l.contains(VIP)) {
        println!(
            "   r1 ip addr: {}",
            l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
        );
    }
    until(|| lan.hosts[2].ping(VIP))?;
    println!(
        "   client reaches {VIP} at {} (r1's MAC)",
        lan.hosts[2].neigh_mac(VIP).unwrap_or_default()
    );
    // Linux ignores gratuitous ARP for an entry it learned less than a second ago.
    pause(Duration::from_millis(1200))?;

    step(
        3,
        "Cut r1's link: r1 loses carrier and goes to FAULT, r2 takes over (client pings every 10 ms)",
    );
    let probe = Probe::start(&lan.hosts[2], VIP, 10, 8, &dir.path().join("ping1.log"))?;
    pause(Duration::from_millis(300))?;
    let (m1, m2) = (mark(&r1), mark(&r2));
    let t0 = SystemTime::now();
    lan.cut(0)?;
    let took = until(|| lan.hosts[1].has_addr(VIP))?;
    until(|| probe.longest_gap_after(t0).is_some())?;
    pause(Duration::from_millis(300))?;
    show_log(&r1, m1, "-> Fault");
    show_log(&r2, m2, "-> Master");
    println!(
        "   r2 holds the VIP {:.0} ms after the cut",
        took.as_secs_f64() * 1000.0
    );
    println!("   client-visible outage: {}", outage(&probe, t0));
    println!(
        "   (theory: Master_Down_Interval = 3 x 100 ms + skew (256-100)/256 x 100 ms = 360.9 ms)"
    );
    probe.stop();

    step(
        4,
        "Restore r1's link: r1 comes back as Backup and, with the higher priority, preempts",
    );
    pause(Duration::from_millis(1200))?;
    let probe = Probe::start(&lan.hosts[2], VIP, 10, 8, &dir.path().join("ping2.log"))?;
    pause(Duration::from_millis(300))?;
    let (m1, m2) = (mark(&r1), mark(&r2));
    let t0 = SystemTime::now();
    lan.reconnect(0)?;
    until(|| lan.hosts[0].has_addr(VIP) && !lan.hosts[1].has_addr(VIP))?;
    until(|| probe.longest_gap_after(t0).is_some())?;
    pause(Duration::from_millis(300))?;
    show_log(&r1, m1, "Fault -> Backup");
    show_log(&r1, m1, "Backup -> Master");
    show_log(&r2, m2, "Master -> Backup");
    println!("   client-visible outage: {}", outage(&probe, t0));
    probe.stop();

    step(
        5,
        "Stop r1 gracefully (SIGTERM): it sends priority 0, r2 waits only its skew time",
    );
    pause(Duration::from_millis(1200))?;
    let probe = Probe::start(&lan.hosts[2], VIP, 10, 8, &dir.path().join("ping3.log"))?;
    pause(Duration::from_millis(300))?;
    let t0 = SystemTime::now();
    let mut r1 = r1;
    let m2 = mark(&r2);
    r1.proc.signal(libc::SIGTERM);
    until(|| lan.hosts[1].has_addr(VIP))?;
    let took = t0.elapsed().unwrap_or_default();
    let st = r1
        .proc
        .wait_timeout(Duration::from_secs(2))
        .context("r1 did not stop")?;
    until(|| probe.longest_gap_after(t0).is_some())?;
    pause(Duration::from_millis(300))?;
    show_log(&r2, m2, "master resigned");
    println!(
        "   r1 exited ({st}) with its VIP removed: {}; r2 took over {:.0} ms after the signal",
        !lan.hosts[0].has_addr(VIP),
        took.as_secs_f64() * 1000.0
    );
    println!("   client-visible outage: {}", outage(&probe, t0));
    println!("   (theory: Skew_Time = (256-100)/256 x 100 ms = 60.9 ms)");
    probe.stop();

    step(
        6,
        "What r2's XDP program counted (bpftool map dump pinned .../VRRP_STATS)",
    );
    for ((vrid, k), n) in bpftool_counters(&pin_of(&r2)) {
        println!("   vrid {vrid} {k:<14} {n}");
    }

    println!("\nDone: namespaces, processes and pins are removed now.");
    Ok(())
}

/// The pin directory a running agent was given (from its log).
fn pin_of(r: &lab::Running) -> std::path::PathBuf {
    r.proc
        .log_text()
        .split("pin_dir=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(std::path::PathBuf::from)
        .unwrap_or_default()
}
