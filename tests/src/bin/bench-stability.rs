//! `cargo xtask bench-stability --advert 0.01 --minutes N`: steady state of two vrrp-agents,
//! then of two keepalived, run the same way back to back (two routers on a bridge, VRRPv3,
//! priorities 150 and 100), with nothing injected:
//! - spurious transitions: the Backup advertising (a takeover while the Master is alive),
//!   the Master falling silent for longer than Master_Down_Interval, and every state change
//!   either daemon logs during the window; as a count and per hour;
//! - how late the Master's adverts come: inter-advert gaps on the bridge minus the interval,
//!   as a histogram;
//! - how late the Backup takes over: the Master is stopped (SIGSTOP) `PROBES` times after
//!   the steady window; the Backup's first advert minus (the Master's last advert +
//!   Master_Down_Interval), as a histogram. This is the watchdog's lateness plus the time to
//!   send, seen on the wire the same way for both daemons.
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

struct Args {
    advert: String,
    minutes: u32,
}

fn args() -> Result<Args> {
    let mut a = Args {
        advert: "0.01".into(),
        minutes: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--advert" => a.advert = v,
            "--minutes" => a.minutes = v.parse().context("--minutes")?,
            _ => bail!("unknown argument {k} (expected --advert S --minutes N)"),
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

fn run(daemon: Daemon, advert_int: &str, minutes: u32) -> Result<Outcome> {
    let interval: f64 = advert_int.parse().context("--advert")?;
    // RFC 9568 §6.1, priority 100: Skew_Time = (256 - 100) * interval / 256.
    let master_down = 3.0 * interval + (256.0 - 100.0) * interval / 256.0;
    let mut lan = Lan::new_tagged("sts")?;
    lan.add_host("str", "198.18.79.1".parse()?)?;
    lan.add_host("str", "198.18.79.2".parse()?)?;
    let dir = TempDir::new("stb")?;
    let c1 = lab::v3_instance("VI_1", &lan.hosts[0].iface, 79, 150, advert_int, VIP);
    let c2 = lab::v3_instance("VI_1", &lan.hosts[1].iface, 79, 100, advert_int, VIP);
    let r2 = lab::start(daemon, &lan.hosts[1], dir.path(), "r2", &c2)?;
    let r1 = lab::start(daemon, &lan.hosts[0], dir.path(), "r1", &c1)?;
    let (r1_ip, r2_ip) = (lan.hosts[0].addr.to_string(), lan.hosts[1].addr.to_string());
    until(Duration::from_secs(20), || {
        lan.hosts[0].has_addr(VIP) && !lan.hosts[1].has_addr(VIP)
    })
    .context("r1 never became Master")?;
    // Settled: past the start-up transitions.
    std::thread::sleep(Duration::from_secs(1));
    let logs_before =
        transitions(daemon, &r1.proc.log_text()) + transitions(daemon, &r2.proc.log_text());

    // The steady window.
    let secs = minutes * 60;
    let cap = Capture::start(&lan, secs + 5, &dir.path().join("steady.txt"))?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(u64::from(secs)));
    let minutes_run = t0.elapsed().as_secs_f64() / 60.0;
    let ads = cap.adverts();
    cap.stop();
    let logs_after =
        transitions(daemon, &r1.proc.log_text()) + transitions(daemon, &r2.proc.log_text());
    let mut out = Outcome {
        minutes: minutes_run,
        logged_transitions: logs_after - logs_before,
        ..Outcome::default()
    };
    let master: Vec<f64> = ads
        .iter()
        .filter(|a| a.src == r1_ip && a.prio > 0)
        .map(|a| a.at)
        .collect();
    out.master_adverts = master.len();
    for w in master.windows(2) {
        let gap = w[1] - w[0];
        out.advert_late_ms.push((gap - interval) * 1000.0);
        if gap > master_down {
            out.master_silences += 1;
        }
    }
    let mut last_backup: Option<f64> = None;
    for a in ads.iter().filter(|a| a.src == r2_ip && a.prio > 0) {
        if last_backup.is_none_or(|t| a.at - t > 1.0) {
            out.backup_takeovers += 1;
            let last_master = master.iter().copied().rfind(|t| *t < a.at);
            if last_master.is_some_and(|t| a.at - t < master_down) {
                out.unexplained_takeovers += 1;
            }
        }
        last_backup = Some(a.at);
    }

    // Takeover probes.
    let pid1 = vrrp_pid(daemon, &r1, dir.path(), "r1")?;
    let cap = Capture::start(&lan, (PROBES * 10) as u32, &dir.path().join("probes.txt"))?;
    for _ in 0..PROBES {
        let seen = cap.adverts().len();
        signal(pid1, libc::SIGSTOP);
        let found = until(Duration::from_secs(5), || {
            cap.adverts()[seen..]
                .iter()
                .any(|a| a.src == r2_ip && a.prio > 0)
        });
        signal(pid1, libc::SIGCONT);
        found.context("the Backup did not take over")?;
        let ads = cap.adverts();
        let first_backup = ads[seen..]
            .iter()
            .find(|a| a.src == r2_ip && a.prio > 0)
            .map(|a| a.at)
            .unwrap_or_default();
        let last_master = ads[..]
            .iter()
            .filter(|a| a.src == r1_ip && a.at < first_backup)
            .map(|a| a.at)
            .next_back()
            .unwrap_or(first_backup);
        out.takeover_late_ms
            .push((first_backup - last_master - master_down) * 1000.0);
        // r1 preempts again; let it settle.
        until(Duration::from_secs(5), || {
            lan.hosts[0].has_addr(VIP) && !lan.hosts[1].has_addr(VIP)
        })
        .context("r1 did not preempt back")?;
        std::thread::sleep(Duration::from_millis(500));
    }
    cap.stop();
    drop(r1);
    drop(r2);
    Ok(out)
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
    let mut results = Vec::new();
    for daemon in [Daemon::Agent, Daemon::Keepalived] {
        eprintln!(
            "{}: {} min of steady state at advert_int {}, then {PROBES} takeover probes",
            daemon.name(),
            a.minutes,
            a.advert
        );
        results.push((daemon, run(daemon, &a.advert, a.minutes)?));
    }
    println!(
        "\nSteady state, VRRPv3, advert_int {} s, two routers (priority 150 and 100) on a bridge",
        a.advert
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
