//! `bench-tx`: what a Master's advert sends cost in CPU, through the raw IP sockets
//! (`tx::send_batch`, what the runtime uses) against whole frames on an AF_PACKET socket
//! (`tx::send_frames`), with and without PACKET_QDISC_BYPASS.
//!
//! Lab: two namespaces on one veth pair. The receiving side runs, by default, a real
//! `vrrp-agent run` with the same N VRRPv3 instances at `advert_int 0.01` and priority 100
//! (so the XDP program checks every advert and the agent stays Backup); `--receiver none`
//! leaves it empty. One thread of this process, inside the sending namespace, sends N
//! adverts (priority 150) per 10 ms tick, one batch per tick, as the runtime does, with
//! payloads / frames built once up front (the runtime also reuses them tick after tick).
//!
//! Measured per window of `--secs` seconds: the sending thread's on-CPU time
//! (`/proc/thread-self/schedstat`, ns), and on the receiving side that every advert arrived
//! and passed the XDP program's checks. On veth the receiver's softirq work (XDP, IP
//! receive) runs inside the sender's system call, so it is in these figures, the same for
//! every variant. Variants are interleaved, `--reps` rounds; the table shows the median and
//! every run.
//!
//! Usage: `bench-tx [--secs 10] [--reps 3] [--instances 50] [--receiver agent|none]
//! [--qdisc noqueue|pfifo_fast|fq_codel] [--only raw|frame|bypass]` (a qdisc on the sender's veth stands for a NIC's
//! default one; veth has none). Addresses: 198.18.9.0/24 and VIPs in 198.19.0.0/16.
use std::{
    net::{IpAddr, Ipv4Addr},
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use vrrp_agent::{
    tx::{
        build_advert, build_advert_frame, send_batch, send_frames, AdvertSocket, FrameSocket,
        Outgoing,
    },
    units::Centisecs,
    wire::{
        vrrp::{Auth, Repr, Version},
        ChecksumForm, VRRP_GROUP_V4,
    },
};
use vrrp_tests::{bpftool_counters, sh, start_agent, unique, veth, Agent, Netns, TempDir};

const M_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 2);
const TICK: Duration = Duration::from_millis(10);
/// Unmeasured sending before each window: the receiver settles on the new variant.
const SETTLE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// Raw IPPROTO_VRRP socket, `send_batch`.
    Raw,
    /// AF_PACKET `FrameSocket`, `send_frames`, through the qdisc.
    Frame,
    /// The same with PACKET_QDISC_BYPASS.
    FrameBypass,
}

const VARIANTS: [Variant; 3] = [Variant::Raw, Variant::Frame, Variant::FrameBypass];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Raw => "(a) raw IP socket + send_batch",
            Variant::Frame => "(b) AF_PACKET + send_frames",
            Variant::FrameBypass => "(b) AF_PACKET + send_frames, QDISC_BYPASS",
        }
    }
}

struct Options {
    secs: u64,
    reps: usize,
    instances: u8,
    agent: bool,
    variants: Vec<Variant>,
    qdisc: String,
}

fn options() -> Result<Options> {
    let mut o = Options {
        secs: 10,
        reps: 3,
        instances: 50,
        agent: true,
        variants: VARIANTS.to_vec(),
        qdisc: "noqueue".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--secs" => o.secs = value()?.parse()?,
            "--reps" => o.reps = value()?.parse()?,
            "--instances" => o.instances = value()?.parse()?,
            // For profiling one variant (`perf record -t TID`, TID printed at start).
            "--only" => {
                o.variants = vec![match value()?.as_str() {
                    "a" | "raw" => Variant::Raw,
                    "b" | "frame" => Variant::Frame,
                    "bypass" => Variant::FrameBypass,
                    other => bail!("--only raw|frame|bypass, not {other}"),
                }]
            }
            "--receiver" => {
                o.agent = match value()?.as_str() {
                    "agent" => true,
                    "none" => false,
                    other => bail!("--receiver agent|none, not {other}"),
                }
            }
            "--qdisc" => {
                o.qdisc = value()?;
                ensure!(
                    ["noqueue", "pfifo_fast", "fq_codel"].contains(&o.qdisc.as_str()),
                    "--qdisc noqueue|pfifo_fast|fq_codel (if the kernel has it)"
                );
            }
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!((1..=120).contains(&o.secs), "--secs 1..=120");
    ensure!((1..=9).contains(&o.reps), "--reps 1..=9");
    ensure!(o.instances >= 1, "--instances 1..=255");
    Ok(o)
}

/// The receiver's keepalived.conf: `n` v3 instances at advert_int 0.01, as bench-cpu's.
fn instances_conf(iface: &str, n: u8, priority: u8) -> String {
    let mut s = String::from("global_defs {\n    router_id bench\n}\n");
    for i in 1..=u32::from(n) {
        s.push_str(&format!(
            "vrrp_instance VI_{i} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {i}\n    \
             priority {priority}\n    version 3\n    advert_int 0.01\n    virtual_ipaddress {{\n        {}/16 dev {iface}\n    }}\n}}\n",
            vip(i)
        ));
    }
    s
}

fn vip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, (i / 200) as u8, (i % 200 + 1) as u8)
}

/// The Master's advert of instance `i`.
fn repr(i: u8) -> Repr {
    Repr {
        version: Version::V3,
        vrid: i,
        priority: 150,
        max_adver_int: Centisecs::new(1),
        addresses: vec![vip(u32::from(i)).into()],
        auth: Auth::None,
    }
}

/// This thread's on-CPU time in ns (schedstat). (Its user / system split in
/// /proc/thread-self/stat counts 10 ms ticks, meaningless for a thread that runs for
/// 40 µs a tick.)
fn thread_cpu_ns() -> Result<u64> {
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    sched
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .context("parsing /proc/thread-self/schedstat")
}

/// On-CPU seconds of every thread of every vrrp-agent process in the receiving namespace.
fn agent_cpu(lab: &Lab) -> f64 {
    if lab.agent.is_none() {
        return 0.0;
    }
    let pids = sh(std::process::Command::new("ip").args(["netns", "pids", lab.b.name()]))
        .unwrap_or_default();
    pids.split_whitespace()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "vrrp-agent")
        })
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/task")).ok())
        .flat_map(|d| d.flatten())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>() as f64
        / 1e9
}

/// Packets received on `iface` in `ns`.
fn rx_packets(ns: &Netns, iface: &str) -> u64 {
    ns.ip(&["-s", "-j", "link", "show", "dev", iface])
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v[0]["stats64"]["rx"]["packets"].as_u64())
        .unwrap_or(0)
}

/// VIPs of the receiver's instances it holds (0 while it is Backup everywhere).
fn vips_held(ns: &Netns, iface: &str) -> usize {
    ns.ip(&["-o", "-4", "addr", "show", "dev", iface])
        .map(|s| s.matches("198.19.").count())
        .unwrap_or(0)
}

/// XDP counters of the receiving agent summed over instances: (valid, discarded).
fn xdp_counts(agent: Option<&Agent>) -> (u64, u64) {
    let Some(a) = agent else { return (0, 0) };
    let mut valid = 0;
    let mut other = 0;
    for ((_, name), n) in bpftool_counters(&a.pins) {
        match name.as_str() {
            "valid" => valid += n,
            "events" | "events_lost" => {}
            _ => other += n,
        }
    }
    (valid, other)
}

/// One measured window.
#[derive(Clone, Debug)]
struct Run {
    cpu: f64,
    adverts: u64,
    errors: u64,
    rx: u64,
    valid: u64,
    discarded: u64,
    receiver_cpu: f64,
    late_ticks: u64,
}

/// The sending side: sockets, prebuilt payloads and frames.
struct Sender {
    raw: AdvertSocket,
    frame: FrameSocket,
    bypass: FrameSocket,
    payloads: Vec<Vec<u8>>,
    frames: Vec<Vec<u8>>,
}

impl Sender {
    fn open(iface: &str, ifindex: u32, n: u8) -> Result<Sender> {
        let raw = AdvertSocket::open(iface, ifindex, M_ADDR)?;
        let frame = FrameSocket::open(iface, ifindex)?;
        let bypass = FrameSocket::open(iface, ifindex)?;
        bypass.set_qdisc_bypass(true)?;
        let mut payloads = Vec::new();
        let mut frames = Vec::new();
        for i in 1..=n {
            let r = repr(i);
            let mut p = Vec::new();
            build_advert(
                &r,
                M_ADDR.into(),
                IpAddr::V4(VRRP_GROUP_V4),
                ChecksumForm::PseudoHeader,
                &mut p,
            )?;
            payloads.push(p);
            let mut f = Vec::new();
            build_advert_frame(&r, M_ADDR, frame.mac(), ChecksumForm::PseudoHeader, &mut f)?;
            frames.push(f);
        }
        Ok(Sender {
            raw,
            frame,
            bypass,
            payloads,
            frames,
        })
    }

    /// One tick's batch; the number of adverts not sent.
    fn tick(&self, v: Variant) -> u64 {
        // The batch is assembled per tick, as the runtime's flush does.
        let results = match v {
            Variant::Raw => {
                let batch: Vec<Outgoing<'_>> = self
                    .payloads
                    .iter()
                    .map(|p| Outgoing {
                        socket: &self.raw,
                        dst: IpAddr::V4(VRRP_GROUP_V4),
                        payload: p,
                    })
                    .collect();
                send_batch(&batch)
            }
            Variant::Frame | Variant::FrameBypass => {
                let socket = if v == Variant::Frame {
                    &self.frame
                } else {
                    &self.bypass
                };
                let batch: Vec<(&FrameSocket, &[u8])> =
                    self.frames.iter().map(|f| (socket, &f[..])).collect();
                send_frames(&batch)
            }
        };
        results.iter().filter(|r| r.is_err()).count() as u64
    }

    /// Sends one batch per tick until `stop()` says so after a tick, or `max` ticks, or
    /// (bound on time) twice the ticks' duration; returns (ticks, errors, late ticks).
    fn run(&self, v: Variant, max: u64, mut stop: impl FnMut() -> bool) -> (u64, u64, u64) {
        let limit = TICK * u32::try_from(max).unwrap_or(u32::MAX) * 2;
        let start = Instant::now();
        let mut next = start;
        let (mut done, mut errors, mut late) = (0, 0, 0);
        while done < max && start.elapsed() < limit {
            errors += self.tick(v);
            done += 1;
            if stop() {
                break;
            }
            next += TICK;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                late += 1;
            }
        }
        (done, errors, late)
    }

    /// [`Sender::run`] for `dur`.
    fn run_for(&self, v: Variant, dur: Duration) -> (u64, u64, u64) {
        let ticks = (dur.as_micros() / TICK.as_micros()) as u64;
        self.run(v, ticks, || false)
    }

    /// Keeps sending (unmeasured) while `job` runs on another thread, so that the receiver
    /// never misses an advert and takes over (its Master_Down_Interval is 36 ms); returns
    /// `job`'s result.
    fn while_doing<T: Send>(&self, v: Variant, job: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            let h = s.spawn(job);
            // At most 60 s of filler.
            self.run(v, 6000, || h.is_finished());
            match h.join() {
                Ok(t) => t,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }
}

struct Lab {
    m: Netns,
    b: Netns,
    mi: String,
    bi: String,
    _dir: TempDir,
    agent: Option<Agent>,
}

fn lab(o: &Options) -> Result<Lab> {
    let (m, b) = (Netns::new("txm")?, Netns::new("txb")?);
    let (mi, bi) = (unique("txm"), unique("txb"));
    veth(&m, &mi, &b, &bi)?;
    m.ip(&["addr", "add", &format!("{M_ADDR}/24"), "dev", &mi])?;
    b.ip(&["addr", "add", &format!("{B_ADDR}/24"), "dev", &bi])?;
    if o.qdisc != "noqueue" {
        sh(m.command("tc")
            .args(["qdisc", "replace", "dev", &mi, "root", &o.qdisc]))?;
    }
    let dir = TempDir::new("vrrp-tx")?;
    let agent = if o.agent {
        Some(start_agent(
            &b,
            dir.path(),
            "b",
            &instances_conf(&bi, o.instances, 100),
        )?)
    } else {
        None
    };
    Ok(Lab {
        m,
        b,
        mi,
        bi,
        _dir: dir,
        agent,
    })
}

/// What the receiving side has seen so far.
#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    rx: u64,
    valid: u64,
    discarded: u64,
    receiver_cpu: f64,
    vips: usize,
    takeovers: usize,
}

fn snapshot(lab: &Lab) -> Snapshot {
    let (valid, discarded) = xdp_counts(lab.agent.as_ref());
    Snapshot {
        rx: rx_packets(&lab.b, &lab.bi),
        valid,
        discarded,
        receiver_cpu: agent_cpu(lab),
        vips: vips_held(&lab.b, &lab.bi),
        takeovers: lab
            .agent
            .as_ref()
            .map_or(0, |a| a.proc.log_text().matches("-> Master").count()),
    }
}

/// One measured window of variant `v`, after [`SETTLE`].
/// Also says whether the receiver took over during the window.
fn window(o: &Options, lab: &Lab, sender: &Sender, v: Variant, rep: usize) -> Result<(Run, bool)> {
    let window_ticks = o.secs * 1000 / TICK.as_millis() as u64;
    sender.run_for(v, SETTLE);
    let before = sender.while_doing(v, || snapshot(lab));
    if before.vips != 0 {
        bail!(
            "the receiver holds {} VIPs before {}",
            before.vips,
            v.name()
        );
    }
    let ns0 = thread_cpu_ns()?;
    let (ticks, errors, late) = sender.run(v, window_ticks, || false);
    let ns1 = thread_cpu_ns()?;
    let after = sender.while_doing(v, || snapshot(lab));
    let run = Run {
        cpu: (ns1 - ns0) as f64 / 1e9,
        adverts: ticks * u64::from(o.instances),
        errors,
        rx: after.rx.saturating_sub(before.rx),
        valid: after.valid.saturating_sub(before.valid),
        discarded: after.discarded.saturating_sub(before.discarded),
        receiver_cpu: after.receiver_cpu - before.receiver_cpu,
        late_ticks: late + (window_ticks - ticks),
    };
    eprintln!(
        "rep {} {:<45} cpu {:.3} s adverts {} errors {} rx {} xdp valid {} discarded {} receiver {:.3} s late ticks {}",
        rep + 1,
        v.name(),
        run.cpu,
        run.adverts,
        run.errors,
        run.rx,
        run.valid,
        run.discarded,
        run.receiver_cpu,
        run.late_ticks
    );
    let took_over = after.takeovers != before.takeovers || after.vips != 0;
    if took_over {
        eprintln!("  the receiver took over during the window (a tick came > 26 ms late)");
    }
    Ok((run, took_over))
}

/// Runs every window on one thread inside the sending namespace; the receiving side's
/// counters are read by short-lived helper threads while the sender keeps sending.
fn measure(o: &Options, lab: &Lab) -> Result<Vec<(Variant, Run)>> {
    let ifindex = lab.m.ifindex(&lab.mi)?;
    let path = format!("/run/netns/{}", lab.m.name());
    std::thread::scope(|s| {
        s.spawn(|| -> Result<Vec<(Variant, Run)>> {
            let nsf = std::fs::File::open(&path)?;
            // SAFETY: setns on this thread only, with a namespace fd we own.
            if unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            // SAFETY: gettid has no preconditions.
            eprintln!("sending thread: tid {}", unsafe { libc::gettid() });
            let sender = Sender::open(&lab.mi, ifindex, o.instances)?;
            // The receiver, Master of everything by now, hears priority 150 and backs off.
            sender.run_for(Variant::Raw, Duration::from_secs(2));
            let window_ticks = o.secs * 1000 / TICK.as_millis() as u64;
            let mut out = Vec::new();
            for rep in 0..o.reps {
                for &v in &o.variants {
                    // A window that did not run its ticks on time (the VM or the host
                    // stalled: more than 1 % late ticks), or during which the receiver
                    // took over (a tick late by more than its Master_Down_Interval minus
                    // one interval), is run again, at most twice.
                    let mut attempt = 0;
                    let run = loop {
                        attempt += 1;
                        let (run, took_over) = window(o, lab, &sender, v, rep)?;
                        if run.late_ticks * 100 <= window_ticks && !took_over {
                            break run;
                        }
                        if attempt == 3 {
                            bail!(
                                "{}: 3 disturbed windows in a row; is the machine busy?",
                                v.name()
                            );
                        }
                        eprintln!("  measuring again");
                    };
                    out.push((v, run));
                }
            }
            Ok(out)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("sending thread panicked"))?
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let o = options()?;
    let lab = lab(&o)?;
    let runs = measure(&o, &lab)?;
    println!(
        "Sender CPU over {} s, {} VRRPv3 adverts per 10 ms tick ({} adverts/s), receiver: {}, sender qdisc: {}",
        o.secs,
        o.instances,
        u32::from(o.instances) * 100,
        if o.agent {
            "vrrp-agent (XDP) Backup"
        } else {
            "nothing"
        },
        o.qdisc
    );
    println!("(on-CPU seconds of the sending thread from schedstat; median of {} runs, runs in brackets; on veth it includes the receiver's softirq work)\n", o.reps);
    println!(
        "| variant | sender CPU-s | runs | µs per advert | vs (a) | vs (a), round by round | all delivered{} |",
        if o.agent { " and valid in XDP" } else { "" }
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    let raw: Vec<f64> = runs
        .iter()
        .filter(|(v, _)| *v == Variant::Raw)
        .map(|(_, r)| r.cpu)
        .collect();
    let raw_median = median(raw.clone());
    for &v in &o.variants {
        let rs: Vec<&Run> = runs
            .iter()
            .filter(|(x, _)| *x == v)
            .map(|(_, r)| r)
            .collect();
        let cpu = median(rs.iter().map(|r| r.cpu).collect());
        let adverts = median(rs.iter().map(|r| r.adverts as f64).collect());
        let all = rs
            .iter()
            .map(|r| format!("{:.3}", r.cpu))
            .collect::<Vec<_>>()
            .join(" / ");
        // Each round runs every variant back to back: the median of the per-round ratios is
        // less sensitive to what else the machine did during the rounds.
        let paired = if raw.len() == rs.len() && raw_median > 0.0 {
            let ratios = raw.iter().zip(&rs).map(|(a, r)| r.cpu / a - 1.0).collect();
            format!("{:+.1}%", median(ratios) * 100.0)
        } else {
            "-".into()
        };
        println!(
            "| {} | {cpu:.3} | {all} | {:.2} | {} | {paired} | {} |",
            v.name(),
            cpu * 1e6 / adverts.max(1.0),
            if raw_median > 0.0 {
                format!("{:+.1}%", (cpu / raw_median - 1.0) * 100.0)
            } else {
                "-".into()
            },
            // The receiver's counters are read while the sender keeps going, so they also
            // count some unmeasured adverts: at least the window's must be there.
            if rs.iter().all(|r| r.rx >= r.adverts
                && (!o.agent || r.valid >= r.adverts)
                && r.discarded == 0)
            {
                "yes"
            } else {
                "NO (see the log above)"
            },
        );
        let errors: u64 = rs.iter().map(|r| r.errors).sum();
        if errors > 0 {
            println!("|   (send errors: {errors}) | | | | | | | |");
        }
    }
    Ok(())
}
