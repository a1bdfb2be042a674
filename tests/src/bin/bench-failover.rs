//! `cargo xtask bench-failover`: failover times of vrrp-agent and keepalived in the same lab
//! (two routers and a client on a bridge, in network namespaces), VRRPv3 over IPv4 and over
//! IPv6 (ff02::12 from the link-local addresses, a 2001:db8:: VIP the client pings with
//! `ping -6`), advert_int 0.1 and 0.01, N repetitions each:
//! - hard: the Master's link is cut -> the Backup's first advert as Master (bridge capture);
//! - the client-visible outage (ping every 5 ms);
//! - graceful: SIGTERM to the Master -> the Backup's first advert as Master;
//! - graceful and preemption (the recovered higher-priority node taking the VIP back), as
//!   the client sees them: lost replies and the longest gap, pinging every
//!   [`CLIENT_MS`] ms (make-before-break handover: 0 lost, a gap of one ping interval).
//!   The preemption gap counts from the new Master's first advert (the last reply before
//!   it to the last one after it): before it the restarted node is only starting up (a
//!   process and the XDP verifier competing with ping for the CPUs), which is no failover;
//!   the lost replies count from the restart;
//!
//! next to the theoretical Master_Down_Interval and Skew_Time. Also the advert interval
//! jitter at 0.01 s. Every figure of both daemons comes from the same run.
//!
//! Arguments: `[REPS] [ipv4|ipv6|all]` (default 20, all).
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, Context, Result};
use vrrp_tests::{
    lab::{self, epoch_secs, summary, Capture, Daemon, Probe},
    Lan, TempDir,
};

const VIP: &str = "198.18.8.100";
const VIP6: &str = "2001:db8:8::100";

/// The address family of the instances of one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn vip(self) -> &'static str {
        match self {
            Family::V4 => VIP,
            Family::V6 => VIP6,
        }
    }

    /// The `advert_int` column's label.
    fn label(self, advert_int: &str) -> String {
        match self {
            Family::V4 => format!("{advert_int} s"),
            Family::V6 => format!("{advert_int} s, IPv6"),
        }
    }
}
/// The client's ping interval in the graceful and preemption rows (ms).
const CLIENT_MS: u32 = 2;
/// The client's ping interval in the link-down rows (ms).
const HARD_CLIENT_MS: u32 = 5;

fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Result<()> {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > limit {
            bail!("timed out");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

#[derive(Default)]
struct Series {
    /// The old Master's last advert -> the new Master's first (detection, on the wire).
    detect_ms: Vec<f64>,
    hard_advert_ms: Vec<f64>,
    hard_outage_ms: Vec<f64>,
    graceful_advert_ms: Vec<f64>,
    graceful_outage_ms: Vec<f64>,
    graceful_lost: Vec<f64>,
    preempt_outage_ms: Vec<f64>,
    preempt_lost: Vec<f64>,
    /// The new Master's first gratuitous ARP / NA minus its first advert (negative: the
    /// announcement went first), after a SIGTERM and in a preemption.
    graceful_garp_ms: Vec<f64>,
    preempt_garp_ms: Vec<f64>,
    jitter_ms: Vec<f64>,
}

fn conf(family: Family, iface: &str, priority: u8, advert_int: &str) -> String {
    match family {
        Family::V4 => lab::v3_instance("VI_1", iface, 51, priority, advert_int, VIP),
        Family::V6 => lab::v3_instance("VI_1", iface, 51, priority, advert_int, VIP6)
            .replace(&format!("{VIP6}/24"), &format!("{VIP6}/64")),
    }
}

/// The address host `i` sends adverts from: its IPv4 address, or its link-local one.
fn advert_src(lan: &Lan, i: usize, family: Family) -> Result<String> {
    let h = &lan.hosts[i];
    match family {
        Family::V4 => Ok(h.addr.to_string()),
        Family::V6 => {
            let out =
                h.ns.ip(&["-6", "-o", "addr", "show", "dev", &h.iface, "scope", "link"])?;
            out.split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)
                .and_then(|a| a.split('/').next())
                .map(str::to_string)
                .context("no link-local address")
        }
    }
}

/// Runs the series for one daemon at one interval.
fn series(daemon: Daemon, family: Family, advert_int: &str, reps: usize) -> Result<Series> {
    let vip = family.vip();
    let mut lan = Lan::new()?;
    lan.add_host("r1", "198.18.8.1".parse()?)?;
    lan.add_host("r2", "198.18.8.2".parse()?)?;
    lan.add_host("cl", "198.18.8.10".parse()?)?;
    if family == Family::V6 {
        // The client's own address in the VIP's prefix (hosts run without DAD).
        let cl = &lan.hosts[2];
        cl.ns.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:8::10/64",
            "dev",
            &cl.iface,
            "nodad",
        ])?;
        let ready = |i: usize| advert_src(&lan, i, family).is_ok();
        until(Duration::from_secs(5), || ready(0) && ready(1))
            .context("no link-local addresses")?;
    }
    let dir = TempDir::new("vrrp-bf")?;
    let c1 = conf(family, &lan.hosts[0].iface, 150, advert_int);
    let c2 = conf(family, &lan.hosts[1].iface, 100, advert_int);
    let _r2 = lab::start(daemon, &lan.hosts[1], dir.path(), "r2", &c2)?;
    let mut r1 = lab::start(daemon, &lan.hosts[0], dir.path(), "r1", &c1)?;
    let master1 = |lan: &Lan| lan.hosts[0].has_addr(vip) && !lan.hosts[1].has_addr(vip);
    until(Duration::from_secs(15), || master1(&lan)).context("r1 never became Master")?;
    let r2_ip = advert_src(&lan, 1, family)?;
    let r1_ip = advert_src(&lan, 0, family)?;
    let mut out = Series::default();

    // Advert jitter of the Master over 3 s.
    {
        let cap = Capture::start(&lan, 4, &dir.path().join("jitter.pcap.txt"))?;
        std::thread::sleep(Duration::from_secs(3));
        let ads: Vec<f64> = cap
            .adverts()
            .into_iter()
            .filter(|a| a.src == r1_ip)
            .map(|a| a.at)
            .collect();
        let nominal = advert_int.parse::<f64>()?;
        out.jitter_ms = ads
            .windows(2)
            .map(|w| ((w[1] - w[0]) - nominal).abs() * 1000.0)
            .collect();
        cap.stop();
    }

    for rep in 0..reps {
        // Let the client's ARP entry age past Linux's 1 s locktime, or it ignores the GARP.
        std::thread::sleep(Duration::from_millis(1200));
        // Hard: cut r1.
        let hard = takeover(
            &lan,
            vip,
            &dir.path().join(format!("h{rep}")),
            1,
            HARD_CLIENT_MS,
            None,
            || lan.cut(0),
        )?;
        let first = hard
            .adverts
            .iter()
            .find(|a| a.src == r2_ip && a.at > hard.t0);
        // The old Master's last advert that crossed the bridge. Not "the last one before
        // t0": `ip link set down` takes a few ms after t0, and an advert in that window still
        // reaches the Backup, which counts from it.
        let last_old =
            first.and_then(|f| hard.adverts.iter().rfind(|a| a.src == r1_ip && a.at < f.at));
        if let Some(a) = first {
            out.hard_advert_ms.push((a.at - hard.t0) * 1000.0);
            if let Some(l) = last_old {
                out.detect_ms.push((a.at - l.at) * 1000.0);
            }
        }
        out.hard_outage_ms.extend(hard.outage_ms);
        lan.reconnect(0)?;
        until(Duration::from_secs(10), || master1(&lan)).context("r1 did not preempt back")?;

        std::thread::sleep(Duration::from_millis(1200));
        // Graceful: SIGTERM r1, then start it again.
        let grace = takeover(
            &lan,
            vip,
            &dir.path().join(format!("g{rep}")),
            1,
            CLIENT_MS,
            None,
            || {
                r1.proc.signal(libc::SIGTERM);
                Ok(())
            },
        )?;
        let first = grace
            .adverts
            .iter()
            .find(|a| a.src == r2_ip && a.prio == 100 && a.at > grace.t0);
        if let Some(a) = first {
            out.graceful_advert_ms.push((a.at - grace.t0) * 1000.0);
        }
        out.graceful_outage_ms.extend(grace.outage_ms);
        out.graceful_garp_ms
            .extend(grace.announce_lag_ms(&r2_ip, 100));
        out.graceful_lost.extend(grace.lost);
        r1.proc.wait_timeout(Duration::from_secs(3));
        drop(r1);
        std::thread::sleep(Duration::from_millis(1200));
        // Preemption: r1 comes back and takes the VIP from r2.
        let mut back = None;
        let pre = takeover(
            &lan,
            vip,
            &dir.path().join(format!("p{rep}")),
            0,
            CLIENT_MS,
            Some((&r1_ip, 150)),
            || {
                back = Some(lab::start(
                    daemon,
                    &lan.hosts[0],
                    dir.path(),
                    &format!("r1-{rep}"),
                    &c1,
                )?);
                Ok(())
            },
        )?;
        r1 = back.context("r1 did not start again")?;
        out.preempt_outage_ms.extend(pre.outage_ms);
        out.preempt_garp_ms.extend(pre.announce_lag_ms(&r1_ip, 150));
        out.preempt_lost.extend(pre.lost);
        until(Duration::from_secs(15), || master1(&lan)).context("restarted r1 did not preempt")?;
        eprint!(".");
    }
    eprintln!(" {} at {advert_int} ({family:?}) done", daemon.name());
    Ok(out)
}

/// What the bridge and the client saw around one takeover by r2.
struct Takeover {
    /// When `act` began (seconds since the epoch).
    t0: f64,
    /// Adverts captured on the bridge.
    adverts: Vec<lab::Advert>,
    /// Gratuitous ARPs / unsolicited NAs for the VIP captured on the bridge.
    announced: Vec<f64>,
    /// The client's longest gap between ping replies after `t0` (or after the new
    /// Master's first advert, see [`takeover`]).
    outage_ms: Option<f64>,
    /// Requests without a reply after `t0`.
    lost: Option<f64>,
}

impl Takeover {
    /// The first gratuitous ARP / NA for the VIP after `t0` minus the first advert of
    /// `src` at `prio` after `t0` (ms; negative when the announcement went first).
    fn announce_lag_ms(&self, src: &str, prio: u32) -> Option<f64> {
        let advert = self
            .adverts
            .iter()
            .find(|a| a.src == src && a.prio == prio && a.at > self.t0)?;
        let garp = self.announced.iter().copied().find(|t| *t > self.t0)?;
        Some((garp - advert.at) * 1000.0)
    }
}

/// Captures the bridge and pings `vip` (every `client_ms`) while `act` makes the other
/// router give up and router `to` take over (and the other let go of the VIP); logs go to
/// `prefix`-something. With `gap_from` (the new Master's advert source and priority) the
/// longest gap counts from its first advert after `act` instead of from `act`.
fn takeover(
    lan: &Lan,
    vip: &str,
    prefix: &Path,
    to: usize,
    client_ms: u32,
    gap_from: Option<(&str, u32)>,
    act: impl FnOnce() -> Result<()>,
) -> Result<Takeover> {
    let file = |what: &str| PathBuf::from(format!("{}-{what}.txt", prefix.display()));
    let cap = Capture::start_with_announcements(lan, 30, &file("adverts"))?;
    let probe = Probe::start(&lan.hosts[2], vip, client_ms, 25, &file("ping"))?;
    std::thread::sleep(Duration::from_millis(300));
    let t0 = SystemTime::now();
    act()?;
    let from = 1 - to;
    until(Duration::from_secs(10), || {
        lan.hosts[to].has_addr(vip) && !lan.hosts[from].has_addr(vip)
    })
    .with_context(|| format!("r{} did not take over", to + 1))?;
    until(Duration::from_secs(5), || {
        probe.longest_gap_after(t0).is_some()
    })
    .context("client never recovered")?;
    std::thread::sleep(Duration::from_millis(100));
    let adverts = cap.adverts();
    let announced = cap.announcements(vip);
    let gap_t0 = match gap_from {
        None => Some(t0),
        Some((src, prio)) => adverts
            .iter()
            .find(|a| a.src == src && a.prio == prio && a.at > epoch_secs(t0))
            .map(|a| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(a.at)),
    };
    let result = Takeover {
        t0: epoch_secs(t0),
        outage_ms: gap_t0
            .and_then(|t| probe.longest_gap_after(t))
            .map(|g| g.as_secs_f64() * 1000.0),
        adverts,
        announced,
        lost: probe.lost_after(t0).map(|n| n as f64),
    };
    probe.stop();
    cap.stop();
    Ok(result)
}

fn fmt(v: &mut [f64]) -> String {
    match summary(v) {
        Some([a, b, c, d]) => format!("{a:.1} / {b:.1} / {c:.1} / {d:.1}"),
        None => "n/a".into(),
    }
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    summary(&mut v).map(|s| s[1])
}

fn main() -> Result<()> {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20);
    let families: &[Family] = match std::env::args().nth(2).as_deref() {
        None | Some("all") => &[Family::V4, Family::V6],
        Some("ipv4") => &[Family::V4],
        Some("ipv6") => &[Family::V6],
        Some(other) => bail!("unknown family {other:?}: ipv4, ipv6 or all"),
    };
    println!(
        "Failover, vrrp-agent vs keepalived 2.2.7, VRRPv3, priority 150 -> 100, {reps} repetitions"
    );
    println!("(ms, lost replies in counts; min / median / p95 / max; theory for the Backup at priority 100,");
    println!("or for the outage rows the client's ping interval: {HARD_CLIENT_MS} ms link down, {CLIENT_MS} ms otherwise)\n");
    println!(
        "| advert_int | measure | theory | vrrp-agent | keepalived | keepalived / agent (median) |"
    );
    println!("|---|---|---:|---|---|---:|");
    let mut jitter = Vec::new();
    let runs = families
        .iter()
        .flat_map(|&f| [(f, "0.1", 0.1f64), (f, "0.01", 0.01)]);
    for (family, advert_int, interval) in runs {
        let skew = (256.0 - 100.0) / 256.0 * interval * 1000.0;
        let mdi = 3.0 * interval * 1000.0 + skew;
        let mut a = series(Daemon::Agent, family, advert_int, reps)?;
        let mut k = series(Daemon::Keepalived, family, advert_int, reps)?;
        let label = family.label(advert_int);
        let ratio = |x: &[f64], y: &[f64]| match (median(x), median(y)) {
            (Some(x), Some(y)) if x > 0.0 => format!("{:.2}", y / x),
            _ => "n/a".into(),
        };
        let rows = [
            (
                "last advert of old Master -> first advert of new Master",
                mdi,
                &mut a.detect_ms,
                &mut k.detect_ms,
            ),
            (
                "link down -> first advert of new Master",
                mdi,
                &mut a.hard_advert_ms,
                &mut k.hard_advert_ms,
            ),
            (
                "client-visible outage (link down)",
                mdi,
                &mut a.hard_outage_ms,
                &mut k.hard_outage_ms,
            ),
            (
                "SIGTERM -> first advert of new Master",
                skew,
                &mut a.graceful_advert_ms,
                &mut k.graceful_advert_ms,
            ),
            (
                "client-visible outage (SIGTERM)",
                f64::from(CLIENT_MS),
                &mut a.graceful_outage_ms,
                &mut k.graceful_outage_ms,
            ),
            (
                "lost client replies (SIGTERM)",
                0.0,
                &mut a.graceful_lost,
                &mut k.graceful_lost,
            ),
            (
                "client-visible outage (preemption, from the new Master's first advert)",
                f64::from(CLIENT_MS),
                &mut a.preempt_outage_ms,
                &mut k.preempt_outage_ms,
            ),
            (
                "lost client replies (preemption)",
                0.0,
                &mut a.preempt_lost,
                &mut k.preempt_lost,
            ),
            (
                "new Master's first GARP/NA minus its first advert (SIGTERM)",
                0.0,
                &mut a.graceful_garp_ms,
                &mut k.graceful_garp_ms,
            ),
            (
                "new Master's first GARP/NA minus its first advert (preemption)",
                0.0,
                &mut a.preempt_garp_ms,
                &mut k.preempt_garp_ms,
            ),
        ];
        for (name, theory, x, y) in rows {
            let r = ratio(x, y);
            println!(
                "| {label} | {name} | {theory:.1} | {} | {} | {r} |",
                fmt(x),
                fmt(y)
            );
        }
        if advert_int == "0.01" {
            let tag = if family == Family::V6 { " (IPv6)" } else { "" };
            jitter.push((format!("vrrp-agent{tag}"), a.jitter_ms));
            jitter.push((format!("keepalived{tag}"), k.jitter_ms));
        }
    }
    println!("\nAdvert interval jitter at advert_int 0.01 (|interval - 10 ms| between consecutive adverts of the Master, over 3 s, captured on the bridge)\n");
    println!("| daemon | adverts | median ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, mut j) in jitter {
        j.sort_by(f64::total_cmp);
        let n = j.len();
        if n == 0 {
            println!("| {name} | 0 | n/a | n/a | n/a |");
            continue;
        }
        let p = |q: f64| j[((n - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            n + 1,
            p(0.5),
            p(0.99),
            j[n - 1]
        );
    }
    Ok(())
}
