//! `cargo xtask soak`: a chaos soak. Three vrrp-agents and one keepalived on a bridge with a
//! client (VRRPv3, advert_int 0.05, four instances, a sync group), and a random schedule,
//! reproducible from a seed, of SIGKILL/SIGTERM and restart, link down/up, loss, partition,
//! delay and reordering on one port, SIGHUP with a new priority, health-check flips and
//! bursts of invalid adverts. An invariant checker (see `checker`) watches the bridge, every
//! router's addresses and the client throughout; the run ends with one table and fails on
//! any violation.
pub mod checker;
pub mod faults;
pub mod lab;
pub mod observe;
pub mod relay;
pub mod rng;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::{bail, Result};
use vrrp_agent::{
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};

use self::{
    checker::{Checker, Inv},
    faults::{Fault, Kind},
    lab::{Lab, ADVERT_INT, ATTACKER, ATTACKER_MAC, VRIDS},
    observe::{now, Pinger, Wire},
    relay::Impairment,
    rng::Rng,
};
use crate::PacketSocket;

/// Set (by a SIGINT handler) to stop the soak early; it still cleans up and reports.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long to inject faults.
    pub duration: Duration,
    /// Seed of the schedule.
    pub seed: u64,
    /// Scheduling margin added to every settle bound (seconds).
    pub margin: f64,
    /// Time after a daemon's start before its RSS and descriptors count.
    pub warmup: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(90),
            seed: 1,
            margin: 1.0,
            warmup: 15.0,
        }
    }
}

/// The outcome.
#[derive(Debug)]
pub struct Report {
    pub violations: Vec<checker::Violation>,
    /// The printed table.
    pub table: String,
    pub faults: u32,
    /// Where the logs were (removed unless VRRP_KEEP_TMP is set).
    pub dir: PathBuf,
}

/// One run of one agent, for RSS and descriptors.
struct Incarnation {
    node: usize,
    pid: u32,
    started: f64,
    baseline: Option<(u64, usize)>,
    last: Option<(u64, usize)>,
    max_rss: u64,
    done: bool,
}

struct Soak {
    opts: Options,
    wire: Wire,
    pinger: Pinger,
    checker: Checker,
    rng: Rng,
    incarnations: Vec<Incarnation>,
    /// Per node: its current log and how far it has been read.
    log_pos: Vec<(PathBuf, u64)>,
    explained_errors: Vec<String>,
    baseline_pins: BTreeMap<usize, Vec<String>>,
    last_sample: f64,
    last_log_scan: f64,
    /// Nodes the driver is stopping (their exit is expected).
    stopping: Vec<bool>,
    lab: Lab,
}

/// Runs the soak and prints its table.
pub fn run(opts: Options) -> Result<Report> {
    let mut lab = Lab::new(opts.seed)?;
    let wire = Wire::start(&lab.switch, "br0", &VRIDS, ATTACKER_MAC)?;
    let vips: Vec<Ipv4Addr> = VRIDS.iter().map(|v| lab::vip(*v)).collect();
    let pinger = Pinger::start(&lab.client, &vips, Duration::from_millis(20))?;
    for i in [lab::KEEPALIVED, 0, 1, 2] {
        lab.spawn(i)?;
    }
    let n = lab.nodes.len();
    let mut soak = Soak {
        checker: Checker::new(opts.margin),
        rng: Rng::new(opts.seed),
        incarnations: Vec::new(),
        log_pos: lab.nodes.iter().map(|n| (n.log.clone(), 0)).collect(),
        explained_errors: Vec::new(),
        baseline_pins: BTreeMap::new(),
        last_sample: 0.0,
        last_log_scan: 0.0,
        stopping: vec![false; n],
        opts,
        wire,
        pinger,
        lab,
    };
    for i in 0..n {
        soak.wait_ready(i)?;
    }
    print_bounds(&soak.opts);
    // Everyone up: wait for the first election to settle.
    let t_start = now();
    let mut since = None;
    loop {
        let ok = soak.tick();
        if ok {
            let s = *since.get_or_insert(now());
            if now() - s > 1.0 {
                break;
            }
        } else {
            since = None;
        }
        if now() - t_start > 60.0 || STOP.load(Ordering::Relaxed) {
            bail!(
                "the LAN never settled after start-up: {}",
                soak.checker.last_reason
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "soak: seed {}, {} s of faults, settled after start-up in {:.2} s",
        soak.opts.seed,
        soak.opts.duration.as_secs(),
        now() - t_start
    );
    soak.checker.t0 = now();
    let deadline = now() + soak.opts.duration.as_secs_f64();
    let mut count = 0u32;
    while now() < deadline && !STOP.load(Ordering::Relaxed) {
        let f = faults::draw(&mut soak.rng);
        count += 1;
        println!(
            "[{:7.2}s {}] #{count} {}{}",
            now() - soak.checker.t0,
            observe::clock(now()),
            f.kind.name(),
            f.node
                .map(|n| format!(" on r{}", n + 1))
                .unwrap_or_default()
        );
        soak.inject(&f)?;
        soak.settle(&f);
        soak.idle(f.gap.as_secs_f64());
    }
    soak.finish()?;
    let table = soak.table(count);
    println!("{table}");
    Ok(Report {
        violations: soak.checker.violations.clone(),
        table,
        faults: count,
        dir: soak.lab.dir.path().to_path_buf(),
    })
}

fn print_bounds(opts: &Options) {
    let mdi = lab::master_down_max();
    println!(
        "timers: advert_int {ADVERT_INT} s, Master_Down_Interval <= {mdi:.3} s (3 x advert_int + Skew_Time); \
         checker observation lag {:.2} s; scheduling margin {:.2} s",
        faults::OBSERVE,
        opts.margin
    );
    println!(
        "settle bounds (timers + garp_master_refresh + observation + margin), from the fault's begin / its last action:"
    );
    for k in Kind::ALL {
        let b = |end| {
            let t = faults::bound(k, end, opts.margin);
            if t.is_infinite() {
                "none while it lasts".to_string()
            } else {
                format!("{:.2} s", faults::bound(k, end, opts.margin))
            }
        };
        println!("  {:<28} {:>36} / {}", k.name(), b(false), b(true));
    }
}

impl Soak {
    /// One checker tick plus the periodic process, log and resource looks.
    fn tick(&mut self) -> bool {
        let ok = self.checker.tick(&mut self.lab, &self.wire, &self.pinger);
        let t = now();
        for i in 0..self.lab.nodes.len() {
            if self.stopping[i] {
                continue;
            }
            let exited = self.lab.nodes[i].proc.as_mut().and_then(|p| p.try_wait());
            if let Some(st) = exited {
                let text = self.lab.nodes[i]
                    .proc
                    .as_ref()
                    .map(|p| p.log_text())
                    .unwrap_or_default();
                self.checker.violate(
                    Inv::Process,
                    format!(
                        "{} exited on its own ({st}):\n{}",
                        self.lab.nodes[i].name,
                        lab::tail(&text, 15)
                    ),
                );
                self.lab.nodes[i].proc = None;
                self.end_incarnation(i);
                if self.lab.spawn(i).is_ok() {
                    self.log_pos[i] = (self.lab.nodes[i].log.clone(), 0);
                    let _ = self.wait_ready(i);
                }
            }
        }
        if t - self.last_log_scan > 0.5 {
            self.last_log_scan = t;
            self.scan_logs();
        }
        ok
    }

    /// Ticks for `secs`.
    fn idle(&mut self, secs: f64) {
        let until = now() + secs;
        while now() < until {
            self.tick();
            if self.checker.phase.as_ref().is_none_or(|p| p.settled) {
                self.sample_resources();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ticks until the current phase is settled and quiet, or gives up after its bound
    /// plus 30 s (the violation is already recorded).
    fn settle(&mut self, f: &Fault) {
        let quiet = 2.0 * lab::master_down_max() + faults::OBSERVE;
        let cap = now() + faults::bound(f.kind, true, self.opts.margin) + 30.0;
        while !self.checker.phase_done(quiet) && now() < cap {
            self.tick();
            std::thread::sleep(Duration::from_millis(50));
        }
        self.checker.close_span(&self.pinger);
    }

    /// Starts and waits for node `i` (ticking meanwhile), then records its incarnation.
    fn wait_ready(&mut self, i: usize) -> Result<f64> {
        let limit = now() + 60.0;
        loop {
            match self.lab.poll_ready(i) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    self.checker.violate(Inv::Process, format!("{e:#}"));
                    return Err(e);
                }
            }
            if now() > limit {
                let e = format!("{} not up within 60 s", self.lab.nodes[i].name);
                self.checker.violate(Inv::Process, e.clone());
                bail!(e);
            }
            if self.checker.phase.is_some() {
                self.checker.tick(&mut self.lab, &self.wire, &self.pinger);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let t = now();
        let n = &self.lab.nodes[i];
        self.log_pos[i] = (n.log.clone(), 0);
        if !n.keepalived {
            self.incarnations.push(Incarnation {
                node: i,
                pid: n.proc.as_ref().map_or(0, |p| p.pid()),
                started: n.started_at,
                baseline: None,
                last: None,
                max_rss: 0,
                done: false,
            });
            if let Some(p) = &n.pins {
                let names = lab::pins_left(p);
                let base = self.baseline_pins.entry(i).or_insert_with(|| names.clone());
                if *base != names {
                    let msg = format!(
                        "{} after restart pins {:?}, a fresh start pinned {:?}",
                        n.name, names, base
                    );
                    self.checker.violate(Inv::Cleanup, msg);
                }
            }
            match lab::xdp_attached(n) {
                Ok(k) if k <= 1 => {}
                Ok(k) => {
                    let msg = format!("{} has {k} XDP programs attached after a start", n.name);
                    self.checker.violate(Inv::Cleanup, msg);
                }
                Err(_) => {}
            }
        }
        Ok(t)
    }

    /// Stops node `i` with `sig` and waits for its exit; returns whether it exited cleanly.
    fn stop(&mut self, i: usize, sig: i32) -> bool {
        self.stopping[i] = true;
        self.lab.signal(i, sig);
        let limit = now() + 10.0;
        let mut status = None;
        while now() < limit {
            status = self.lab.nodes[i].proc.as_mut().and_then(|p| p.try_wait());
            if status.is_some() {
                break;
            }
            if self.checker.phase.is_some() {
                self.checker.tick(&mut self.lab, &self.wire, &self.pinger);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.scan_logs();
        let name = self.lab.nodes[i].name.clone();
        let clean = match status {
            Some(st) => st.success() || sig == libc::SIGKILL,
            None => {
                self.checker.violate(
                    Inv::Process,
                    format!("{name} did not exit within 10 s of signal {sig}"),
                );
                self.lab.signal(i, libc::SIGKILL);
                false
            }
        };
        if let Some(st) = status {
            if sig != libc::SIGKILL && !st.success() {
                let text = self.lab.nodes[i]
                    .proc
                    .as_ref()
                    .map(|p| p.log_text())
                    .unwrap_or_default();
                self.checker.violate(
                    Inv::Process,
                    format!(
                        "{name} exited with {st} on signal {sig}:\n{}",
                        lab::tail(&text, 10)
                    ),
                );
            }
        }
        // Reap (the Proc's drop waits for what is left of the group).
        self.lab.nodes[i].proc = None;
        self.end_incarnation(i);
        self.stopping[i] = false;
        clean
    }

    /// What a clean stop must leave: no VIP, no XDP program, no pin.
    fn check_clean(&mut self, i: usize) {
        let n = &mut self.lab.nodes[i];
        let mut left = Vec::new();
        if let Ok(addrs) = n.addrs.addrs() {
            for v in VRIDS {
                if addrs.contains(&lab::vip(v)) {
                    left.push(format!("VIP {}", lab::vip(v)));
                }
            }
        }
        if !n.keepalived {
            if let Ok(k) = lab::xdp_attached(n) {
                if k > 0 {
                    left.push(format!("{k} XDP program(s) on {}", n.iface));
                }
            }
            if let Some(p) = &n.pins {
                let pins = lab::pins_left(p);
                if !pins.is_empty() {
                    left.push(format!("pins {pins:?}"));
                }
            }
        }
        if !left.is_empty() {
            let msg = format!("{} stopped cleanly but left {}", n.name, left.join(", "));
            self.checker.violate(Inv::Cleanup, msg);
        }
    }

    /// Restarts node `i` and waits until it is up; returns when it was.
    fn restart(&mut self, i: usize) -> Result<f64> {
        self.lab.spawn(i)?;
        self.wait_ready(i)
    }

    fn inject(&mut self, f: &Fault) -> Result<()> {
        let m = self.opts.margin;
        let b = |end| faults::bound(f.kind, end, m);
        let node = f.node;
        let i = node.unwrap_or(0);
        match f.kind {
            Kind::Kill => {
                self.checker.begin(f.kind, node, None);
                self.stop(i, libc::SIGKILL);
                self.idle(f.hold.as_secs_f64());
                let t = self.restart(i)?;
                self.checker.end(f.kind, node, t, b(true));
            }
            Kind::Term => {
                self.checker.begin(f.kind, node, Some(b(false)));
                if self.stop(i, libc::SIGTERM) {
                    self.check_clean(i);
                }
                self.idle(f.hold.as_secs_f64());
                let t = self.restart(i)?;
                self.checker.end(f.kind, node, t, b(true));
            }
            Kind::Link => {
                self.checker.begin(f.kind, node, Some(b(false)));
                self.lab.set_link(i, f.router_side, false)?;
                self.idle(f.hold.as_secs_f64());
                self.lab.set_link(i, f.router_side, true)?;
                self.checker.end(f.kind, node, now(), b(true));
            }
            Kind::Loss | Kind::Partition | Kind::Delay | Kind::Reorder => {
                let partition = f.kind.partitions();
                self.checker.begin(f.kind, node, None);
                self.checker.partition_on = partition;
                self.lab.relay.set(Impairment {
                    loss: f.loss,
                    delay: f.delay,
                    jitter: f.jitter,
                });
                self.idle(f.hold.as_secs_f64());
                self.lab.relay.set(Impairment::default());
                // Frames already delayed drain within the delay.
                let t = now() + (f.delay + f.jitter).as_secs_f64();
                if partition {
                    self.checker.partition_on = false;
                    self.checker.partition_healed = now();
                }
                self.checker.end(f.kind, node, t, b(true));
            }
            Kind::Reload => {
                for v in &f.vrids {
                    self.lab.nodes[i].prio.insert(*v, f.new_prio);
                }
                self.lab.write_conf(i)?;
                self.checker.begin(f.kind, node, Some(b(false)));
                self.lab.signal(i, libc::SIGHUP);
            }
            Kind::Health => {
                self.checker.begin(f.kind, node, Some(b(false)));
                self.lab.set_health(i, 1)?;
                self.idle(f.hold.as_secs_f64());
                self.lab.set_health(i, 0)?;
                self.checker.end(f.kind, node, now(), b(true));
            }
            Kind::Invalid => {
                self.checker.begin(f.kind, None, Some(0.0));
                self.burst(f)?;
                self.checker.end(f.kind, None, now(), 0.0);
            }
        }
        Ok(())
    }

    /// `f.count` invalid adverts from the client's port, each for a configured VRID at
    /// priority 254 (if one got through, a Master would step down), from a router's
    /// address or the attacker's, with the attacker's MAC.
    fn burst(&mut self, f: &Fault) -> Result<()> {
        let sock = PacketSocket::open(&self.lab.client, &self.lab.client_if)?;
        let mut rng = Rng::new(f.seed);
        let mut sources: Vec<Ipv4Addr> = self.lab.nodes.iter().map(|n| n.addr).collect();
        sources.push(ATTACKER);
        for k in 0..f.count {
            // Mostly the agents' sync group: keepalived logs every invalid advert for its
            // own VRIDs, and a few thousand of them in a second made it miss its Master's
            // adverts and take over (the agents drop them in XDP, unlogged).
            let vrid = if rng.chance(0.05) {
                *rng.pick(&VRIDS)
            } else {
                *rng.pick(&lab::GROUP)
            };
            let src = *rng.pick(&sources);
            let ip = Endpoints::multicast(IpAddr::V4(src));
            let repr = Repr {
                version: Version::V3,
                vrid,
                priority: 254,
                max_adver_int: Centisecs::new(5),
                addresses: vec![IpAddr::V4(lab::vip(vrid))],
                auth: Auth::None,
            };
            let fb = FrameBuilder::new(&repr, ip)?.src_mac(ATTACKER_MAC);
            let frame = match rng.below(6) {
                0 => {
                    // A random checksum is right once in 65,536 (the 30-minute soak sent
                    // one): flip bits of the right one instead.
                    let mut fr = fb.build();
                    fr[40] ^= (rng.next_u64() as u8) | 1;
                    fr
                }
                1 => fb.version_type(0x21).build(),
                2 => fb.version_type(0x32).build(),
                3 => fb.ttl(rng.range(1, 254) as u8).build(),
                4 => fb.count(9).build(),
                _ => {
                    let full = fb.build();
                    FrameBuilder::from_vrrp_bytes(ip, &full[34..34 + rng.range(1, 7) as usize])
                        .src_mac(ATTACKER_MAC)
                        .build()
                }
            };
            sock.send(&frame)?;
            // About 1,000 a second: keepalived logs every invalid advert it reads (a
            // truncated one whatever its VRID), and at 4,000 a second it fell behind and
            // missed its Master's adverts. The agents drop them in XDP, unlogged.
            if k % 10 == 9 {
                self.tick();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// New log lines of every agent: a panic or an ERROR line must be explained by a fault.
    fn scan_logs(&mut self) {
        let t = now();
        for i in 0..self.lab.nodes.len() {
            if self.lab.nodes[i].keepalived {
                continue;
            }
            let (path, pos) = self.log_pos[i].clone();
            let Some(new) = read_from(&path, pos) else {
                continue;
            };
            let Some(end) = new.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            self.log_pos[i].1 = pos + end as u64 + 1;
            for line in String::from_utf8_lossy(&new[..end]).lines() {
                let bad = line.contains(" ERROR ") || line.contains("panicked");
                if !bad {
                    continue;
                }
                let who = &self.lab.nodes[i].name;
                if !line.contains("panicked") && self.checker.explained(i, t) {
                    self.explained_errors.push(format!("{who}: {line}"));
                } else {
                    self.checker.violate(Inv::Log, format!("{who}: {line}"));
                }
            }
        }
    }

    /// RSS and descriptors of every running agent, when nothing is going on.
    fn sample_resources(&mut self) {
        let t = now();
        if t - self.last_sample < 1.0 {
            return;
        }
        self.last_sample = t;
        let warmup = self.opts.warmup;
        for inc in self.incarnations.iter_mut().filter(|x| !x.done) {
            if t - inc.started < warmup {
                continue;
            }
            let Some(rss) = rss_kb(inc.pid) else { continue };
            let Some(fds) = fd_count(inc.pid) else {
                continue;
            };
            if inc.baseline.is_none() {
                inc.baseline = Some((rss, fds));
            }
            inc.last = Some((rss, fds));
            inc.max_rss = inc.max_rss.max(rss);
        }
    }

    fn end_incarnation(&mut self, node: usize) {
        let name = self.lab.nodes[node].name.clone();
        let mut bad = Vec::new();
        for inc in self
            .incarnations
            .iter_mut()
            .filter(|x| x.node == node && !x.done)
        {
            inc.done = true;
            if let (Some((r0, f0)), Some((r1, f1))) = (inc.baseline, inc.last) {
                if r1 > r0 + 1024 {
                    bad.push(format!("{name} (pid {}): RSS {r0} kB -> {r1} kB", inc.pid));
                }
                if f1 > f0 {
                    bad.push(format!(
                        "{name} (pid {}): {f0} -> {f1} descriptors",
                        inc.pid
                    ));
                }
            }
        }
        for b in bad {
            self.checker.violate(Inv::Resources, b);
        }
    }

    /// Stops every router cleanly, checking what each leaves behind.
    fn finish(&mut self) -> Result<()> {
        self.sample_resources();
        // The LAN is taken down now: no more settle checks.
        self.checker.phase = None;
        for i in 0..self.lab.nodes.len() {
            if self.lab.nodes[i].proc.is_some() && self.stop(i, libc::SIGTERM) {
                self.check_clean(i);
            }
        }
        Ok(())
    }

    fn table(&self, count: u32) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let c = &self.checker;
        let _ = writeln!(
            s,
            "\nchaos soak: seed {}, {} faults in {:.0} s, margin {:.2} s, advert_int {ADVERT_INT} s, \
             Master_Down_Interval <= {:.3} s",
            self.opts.seed,
            count,
            now() - c.t0,
            self.opts.margin,
            lab::master_down_max()
        );
        let _ = writeln!(
            s,
            "\n| fault | injected | longest settle | bound | longest client outage |\n|---|---:|---:|---:|---:|"
        );
        for k in Kind::ALL {
            let st = c.kinds.get(&k).cloned().unwrap_or_default();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                k.name(),
                st.injected,
                if st.injected > 0 && st.bound > 0.0 {
                    format!("{:.3} s", st.longest_settle)
                } else {
                    "-".into()
                },
                if k == Kind::Invalid {
                    "0 (no disruption)".into()
                } else {
                    format!("{:.2} s", table_bound(k, self.opts.margin))
                },
                if st.injected > 0 {
                    format!("{:.3} s", st.longest_outage)
                } else {
                    "-".into()
                },
            );
        }
        let _ = writeln!(s, "\n| invariant | violations |\n|---|---:|");
        for inv in Inv::ALL {
            let n = c.violations.iter().filter(|v| v.inv == inv).count();
            let _ = writeln!(s, "| {} | {n} |", inv.describe());
        }
        let (mut rss, mut fds, mut longest) = (0i64, 0i64, 0.0f64);
        for inc in &self.incarnations {
            if let (Some((r0, f0)), Some((r1, f1))) = (inc.baseline, inc.last) {
                rss = rss.max(r1 as i64 - r0 as i64);
                fds = fds.max(f1 as i64 - f0 as i64);
                longest = longest.max(inc.started);
            }
        }
        let measured = self
            .incarnations
            .iter()
            .filter(|i| i.baseline.is_some())
            .count();
        let _ = writeln!(
            s,
            "\nagents: {} runs ({} measured after a {:.0} s warm-up): largest RSS growth {} kB, largest descriptor growth {}",
            self.incarnations.len(),
            measured,
            self.opts.warmup,
            rss,
            fds
        );
        let _ = writeln!(
            s,
            "two Masters after a partition healed: longest {:.3} s (Master_Down_Interval {:.3} s)",
            c.longest_heal_tail,
            lab::master_down_max()
        );
        let rs = self.lab.relay.stats();
        let _ = writeln!(
            s,
            "relay (r3's port): {} frames forwarded, {} dropped, {} delayed; ERROR lines explained by a fault: {}",
            rs.forwarded,
            rs.dropped,
            rs.delayed,
            self.explained_errors.len()
        );
        for l in self.explained_errors.iter().take(5) {
            let _ = writeln!(s, "  {l}");
        }
        for v in &c.violations {
            let _ = writeln!(s, "VIOLATION at {:.2}s [{:?}] {}", v.at, v.inv, v.what);
        }
        s
    }
}

/// What `path` holds from byte `pos` on, if anything.
fn read_from(path: &std::path::Path, pos: u64) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(pos)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    (!buf.is_empty()).then_some(buf)
}

/// The larger of a kind's two bounds (a SIGKILL has none while the router is down).
fn table_bound(k: Kind, margin: f64) -> f64 {
    [false, true]
        .into_iter()
        .map(|end| faults::bound(k, end, margin))
        .filter(|b| b.is_finite())
        .fold(0.0, f64::max)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}
