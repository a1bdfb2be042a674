//! `cargo xtask bench-stability --advert 0.01 --minutes N [--rt-priority P]`: steady state of
//! two vrrp-agents and of two keepalived, run AT THE SAME TIME on two separate bridges (each
//! pair in its own network namespaces), so that both see the same machine load: two routers
//! per bridge, VRRPv3, priorities 150 and 100, nothing injected. `--rt-priority P` puts
//! `vrrp_rt_priority P` in both daemons' global_defs. Measured:
//! - spurious transitions: the Backup advertising (a takeover while the Master is alive),
//!   the Master falling silent for longer than Master_Down_Interval, and every state change
//!   either daemon logs during the window; as a count and per hour;
//! - how late the Master's adverts come: inter-advert gaps on the bridge minus the interval,
//!   as a histogram;
//! - how late the Backup takes over: after the steady window the Master is stopped
//!   (SIGSTOP) `PROBES` times (both pairs at once); the Backup's first advert minus (the
//!   Master's last advert + Master_Down_Interval), as a histogram. This is the watchdog's
//!   lateness plus the time to send, seen on the wire the same way for both daemons;
//! - the machine's 1-minute load average during the window (sampled every 10 s).
use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use vrrp_tests::{
    lab::{self, Capture, Daemon},
    Lan, TempDir,
};

const VIP: &str = "198.18.79.100";
const PROBES: usize = 20;
/// Upper bucket bounds of the lateness histograms, in milliseconds.
const BUCKETS_MS: [f64; 7] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];
/// What the agent logs when its stall guard kept a Backup (see `runtime::stall`).
const STALL_KEPT: &str = "stall guard: the Master advertised";

struct Args {
    advert: String,
    minutes: u32,
    rt_priority: Option<u8>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        advert: "0.01".into(),
        minutes: 5,
        rt_priority: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--advert" => a.advert = v,
            "--minutes" => a.minutes = v.parse().context("--minutes")?,
            "--rt-priority" => {
                let p: u8 = v.parse().context("--rt-priority")?;
                if !(1..=99).contains(&p) {
                    bail!("--rt-priority must be 1..99");
                }
                a.rt_priority = Some(p);
            }
            _ => bail!("unknown argument {k} (expected --advert S --minutes N [--rt-priority P])"),
        }
    }
    if a.minutes == 0 || a.minutes > 24 * 60 {
        bail!("--minutes must be 1..1440");
    }
    Ok(a)
}

#[derive(Default)]
struct Outcome {
    minutes: f64,
    master_adverts: usize,
    /// Runs of adverts from the Backup (each a takeover while the Master was alive).
    backup_takeovers: usize,
    /// Of those, takeovers that came less than Master_Down_Interval after the Master's last
    /// advert: not explained by a silent Master (the timer fired early, or a record was
    /// misread).
    unexplained_takeovers: usize,
    /// Master silences longer than Master_Down_Interval.
    master_silences: usize,
    /// State changes either daemon logged during the window.
    logged_transitions: usize,
    /// Backups the agent's stall guard kept during the window (from its log; 0 for
    /// keepalived).
    stall_kept: usize,
    advert_late_ms: Vec<f64>,
    takeover_late_ms: Vec<f64>,
}

fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Result<()> {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > limit {
            bail!("timed out");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// State changes in a daemon's log text.
fn transitions(daemon: Daemon, log: &str) -> usize {
    let needles: &[&str] = match daemon {
        Daemon::Agent => &["-> Master", "-> Backup", "-> Fault"],
        Daemon::Keepalived => &[
            "Entering MASTER STATE",
            "Entering BACKUP STATE",
            "Entering FAULT STATE",
        ],
    };
    log.lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .count()
}

/// The pid that runs VRRP: the agent's own, keepalived's VRRP child.
fn vrrp_pid(daemon: Daemon, r: &lab::Running, dir: &Path, tag: &str) -> Result<i32> {
    Ok(match daemon {
        Daemon::Agent => r.proc.pid() as i32,
        Daemon::Keepalived => std::fs::read_to_string(dir.join(format!("{tag}-vrrp.pid")))?
            .trim()
            .parse()?,
    })
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a process this benchmark started.
    unsafe { libc::kill(pid, sig) };
}

/// The 1-minute load average.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One pair of routers of one daemon on its own bridge.
struct Pair {
    daemon: Daemon,
    // Dropped in this order: the daemons first, then their directory and namespaces.
    r1: lab::Running,
    r2: lab::Running,
    dir: TempDir,
    lan: Lan,
    r1_ip: String,
    r2_ip: String,
    logs_before: usize,
    /// Master_Down_Interval, seconds.
    master_down: f64,
    /// Advertisement_Interval, seconds.
    interval: f64,
}

impl Pair {
    fn start(daemon: Daemon, advert_int: &str, rt_priority: Option<u8>) -> Result<Pair> {
        let interval: f64 = advert_int.parse().context("--advert")?;
        // RFC 9568 §6.1, priority 100: Skew_Time = (256 - 100) * interval / 256.
        let master_down = 3.0 * interval + (256.0 - 100.0) * interval / 256.0;
        let mut lan = Lan::new_tagged("hsts")?;
        lan.add_host("hstr", "198.18.79.1".parse()?)?;
        lan.add_host("hstr", "198.18.79.2".parse()?)?;
        let dir = TempDir::new("hstb")?;
        let globals = match rt_priority {
            Some(p) => format!("global_defs {{\n    vrrp_rt_priority {p}\n}}\n"),
            None => String::new(),
        };
        let c1 = globals.clone()
            + &lab::v3_instance("VI_1", &lan.hosts[0].iface, 79, 150, advert_int, VIP);
        let c2 = globals + &lab::v3_instance("VI_1", &lan.hosts[1].iface, 79, 100, advert_int, VIP);
        let r2 = lab::start(daemon, &lan.hosts[1], dir.path(), "r2", &c2)?;
        let r1 = lab::start(daemon, &lan.hosts[0], dir.path(), "r1", &c1)?;
        let (r1_ip, r2_ip) = (lan.hosts[0].addr.to_string(), lan.hosts[1].addr.to_string());
        until(Duration::from_secs(20), || {
            lan.hosts[0].has_addr(VIP) && !lan.hosts[1].has_addr(VIP)
        })
        .with_context(|| format!("{}: r1 never became Master", daemon.name()))?;
        Ok(Pair {
            daemon,
            r1,
            r2,
            dir,
            lan,
            r1_ip,
            r2_ip,
            logs_before: 0,
            master_down,
            interval,
        })
    }

    fn log_text(&self) -> String {
        self.r1.proc.log_text() + &self.r2.proc.log_text()
    }

    /// Marks the start of the steady window.
    fn begin(&mut self) {
        self.logs_before = transitions(self.daemon, &self.log_text());
    }

    /// What the window showed: `ads` captured on this pair's bridge over `minutes`.
    fn steady(&self, ads: &[lab::Advert], minutes: f64, stall_before: usize) -> Outcome {
        let log = self.log_text();
        let mut out = Outcome {
            minutes,
            logged_transitions: transitions(self.daemon, &log) - self.logs_before,
            stall_kept: log.matches(STALL_KEPT).count() - stall_before,
            ..Outcome::default()
        };
        let master: Vec<f64> = ads
            .iter()
            .filter(|a| a.src == self.r1_ip && a.prio > 0)
            .map(|a| a.at)
            .collect();
        out.master_adverts = master.len();
        for w in master.windows(2) {
            let gap = w[1] - w[0];
            out.advert_late_ms.push((gap - self.interval) * 1000.0);
            if gap > self.master_down {
                out.master_silences += 1;
            }
        }
        let mut last_backup: Option<f64> = None;
        for a in ads.iter().filter(|a| a.src == self.r2_ip && a.prio > 0) {
            if last_backup.is_none_or(|t| a.at - t > 1.0) {
                out.backup_takeovers += 1;
                let last_master = master.iter().copied().rfind(|t| *t < a.at);
                if last_master.is_some_and(|t| a.at - t < self.master_down) {
                    out.unexplained_takeovers += 1;
                }
            }
            last_backup = Some(a.at);
        }
        out
    }

    /// The takeover probes: lateness of each takeover, in ms.
    fn probes(&self) -> Result<Vec<f64>> {
        let name = self.daemon.name();
        let pid1 = vrrp_pid(self.daemon, &self.r1, self.dir.path(), "r1")?;
        let cap = Capture::start(
            &self.lan,
            (PROBES * 10) as u32,
            &self.dir.path().join("probes.txt"),
        )?;
        let mut late = Vec::new();
        for _ in 0..PROBES {
            // An advert of the Master in this capture first: without one the lateness would
            // be measured from nothing (it came out as -Master_Down_Interval).
            let before = cap.adverts().len();
            until(Duration::from_secs(5), || {
                cap.adverts()[before..]
                    .iter()
                    .any(|a| a.src == self.r1_ip && a.prio > 0)
            })
            .with_context(|| format!("{name}: no advert of the Master captured"))?;
            let seen = cap.adverts().len();
            signal(pid1, libc::SIGSTOP);
            let found = until(Duration::from_secs(5), || {
                cap.adverts()[seen..]
                    .iter()
                    .any(|a| a.src == self.r2_ip && a.prio > 0)
            });
            signal(pid1, libc::SIGCONT);
            found.with_context(|| format!("{name}: the Backup did not take over"))?;
            let ads = cap.adverts();
            let first_backup = ads[seen..]
                .iter()
                .find(|a| a.src == self.r2_ip && a.prio > 0)
                .map(|a| a.at)
                .unwrap_or_default();
            let last_master = ads[..]
                .iter()
                .filter(|a| a.src == self.r1_ip && a.at < first_backup)
                .map(|a| a.at)
                .next_back()
                .unwrap_or(first_backup);
            late.push((first_backup - last_master - self.master_down) * 1000.0);
            // r1 preempts again; let it settle.
            until(Duration::from_secs(5), || {
                self.lan.hosts[0].has_addr(VIP) && !self.lan.hosts[1].has_addr(VIP)
            })
            .with_context(|| format!("{name}: r1 did not preempt back"))?;
            std::thread::sleep(Duration::from_millis(500));
        }
        cap.stop();
        Ok(late)
    }
}

fn histogram(v: &[f64]) -> Vec<usize> {
    let mut h = vec![0; BUCKETS_MS.len() + 1];
    for x in v {
        let i = BUCKETS_MS
            .iter()
            .position(|b| *x < *b)
            .unwrap_or(BUCKETS_MS.len());
        h[i] += 1;
    }
    h
}

fn quantiles(v: &[f64]) -> String {
    let mut v = v.to_vec();
    match lab::summary(&mut v) {
        Some([min, med, _p95, max]) => {
            let p99 = v[((v.len() - 1) as f64 * 0.99).round() as usize];
            format!("{min:.2} / {med:.2} / {p99:.2} / {max:.2}")
        }
        None => "-".into(),
    }
}

fn main() -> Result<()> {
    let a = args()?;
    let rt = a
        .rt_priority
        .map_or("no vrrp_rt_priority".to_string(), |p| {
            format!("vrrp_rt_priority {p}")
        });
    eprintln!(
        "vrrp-agent and keepalived pairs side by side: {} min of steady state at advert_int {} \
         ({rt}), then {PROBES} takeover probes each",
        a.minutes, a.advert
    );
    let mut pairs = Vec::new();
    for daemon in [Daemon::Agent, Daemon::Keepalived] {
        pairs.push(Pair::start(daemon, &a.advert, a.rt_priority)?);
    }
    // Settled: past the start-up transitions.
    std::thread::sleep(Duration::from_secs(1));

    // The steady window, both pairs at once.
    let secs = a.minutes * 60;
    let mut caps = Vec::new();
    let mut stall_before = Vec::new();
    for (n, p) in pairs.iter_mut().enumerate() {
        p.begin();
        stall_before.push(p.log_text().matches(STALL_KEPT).count());
        caps.push(Capture::start(
            &p.lan,
            secs + 5,
            &p.dir.path().join(format!("steady{n}.txt")),
        )?);
    }
    let t0 = Instant::now();
    let mut loads = vec![loadavg()];
    while t0.elapsed() < Duration::from_secs(u64::from(secs)) {
        let left = Duration::from_secs(u64::from(secs)).saturating_sub(t0.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(10)));
        loads.push(loadavg());
    }
    let minutes_run = t0.elapsed().as_secs_f64() / 60.0;
    let mut results: Vec<(Daemon, Outcome)> = Vec::new();
    for ((p, cap), before) in pairs.iter().zip(caps).zip(stall_before) {
        let ads = cap.adverts();
        cap.stop();
        results.push((p.daemon, p.steady(&ads, minutes_run, before)));
    }

    // Takeover probes, both pairs at once.
    let lates: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs.iter().map(|p| s.spawn(|| p.probes())).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("probe thread panicked")))
            })
            .collect()
    });
    for ((_, o), late) in results.iter_mut().zip(lates) {
        o.takeover_late_ms = late?;
    }
    drop(pairs);

    let mean_load = loads.iter().sum::<f64>() / loads.len() as f64;
    println!(
        "\nSteady state, VRRPv3, advert_int {} s, {rt}, two routers (priority 150 and 100) per \
         bridge, both daemons at the same time; 1-min load average {:.1} at the start, {:.1} \
         mean, {:.1} at the end",
        a.advert,
        loads[0],
        mean_load,
        loads[loads.len() - 1]
    );
    let row = |name: &str, f: &dyn Fn(&Outcome) -> String| {
        print!("| {name} |");
        for (_, o) in &results {
            print!(" {} |", f(o));
        }
        println!();
    };
    print!("| |");
    for (d, _) in &results {
        print!(" {} |", d.name());
    }
    println!();
    println!("|---|{}", "---|".repeat(results.len()));
    row("minutes of steady state", &|o| format!("{:.1}", o.minutes));
    row("adverts of the Master", &|o| o.master_adverts.to_string());
    row("takeovers by the Backup (Master alive)", &|o| {
        o.backup_takeovers.to_string()
    });
    row(
        "of which the Master's last advert was < Master_Down_Interval before",
        &|o| o.unexplained_takeovers.to_string(),
    );
    row("Master silent > Master_Down_Interval", &|o| {
        o.master_silences.to_string()
    });
    row("Backup kept by the stall guard (agent log)", &|o| {
        o.stall_kept.to_string()
    });
    row("state changes logged by either router", &|o| {
        o.logged_transitions.to_string()
    });
    row(
        "spurious transitions per hour (state changes logged)",
        &|o| {
            format!(
                "{:.1}",
                o.logged_transitions as f64 * 60.0 / o.minutes.max(1e-9)
            )
        },
    );
    row("Backup takeovers per hour", &|o| {
        format!(
            "{:.1}",
            o.backup_takeovers as f64 * 60.0 / o.minutes.max(1e-9)
        )
    });
    row("advert lateness ms (min / median / p99 / max)", &|o| {
        quantiles(&o.advert_late_ms)
    });
    let mut lower = f64::NEG_INFINITY;
    for (i, b) in BUCKETS_MS.iter().chain([f64::INFINITY].iter()).enumerate() {
        let label = if lower.is_infinite() {
            format!("adverts late < {b} ms")
        } else if b.is_infinite() {
            format!("adverts late >= {lower} ms")
        } else {
            format!("adverts late {lower} to {b} ms")
        };
        row(&label, &|o| histogram(&o.advert_late_ms)[i].to_string());
        lower = *b;
    }
    row(
        &format!("takeover lateness ms, {PROBES} probes (min / median / p99 / max)"),
        &|o| quantiles(&o.takeover_late_ms),
    );
    let mut lower = f64::NEG_INFINITY;
    for (i, b) in BUCKETS_MS.iter().chain([f64::INFINITY].iter()).enumerate() {
        let label = if lower.is_infinite() {
            format!("takeovers late < {b} ms")
        } else if b.is_infinite() {
            format!("takeovers late >= {lower} ms")
        } else {
            format!("takeovers late {lower} to {b} ms")
        };
        row(&label, &|o| histogram(&o.takeover_late_ms)[i].to_string());
        lower = *b;
    }
    Ok(())
}
