//! `cargo xtask bench-cpu`: CPU and memory of a Master and a Backup with 50 and 200 VRRPv3
//! instances at advert_int 0.01, vrrp-agent next to keepalived in the same lab.
//!
//! CPU is the on-CPU time of every thread of every process of the daemon (schedstat,
//! nanoseconds) over the window. For vrrp-agent it also includes the XDP program's run time, from
//! `kernel.bpf_stats_enabled`, and its master-down watchdog timer's (which no process is
//! charged for). RSS is the sum of VmRSS at the end.
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vrrp_tests::{
    lab::{self, Daemon},
    sh, unique, veth, Lan, LanHost, Netns, TempDir,
};

fn instances_conf(iface: &str, n: u32, priority: u8) -> String {
    let mut s = String::from("global_defs {\n    router_id bench\n}\n");
    for i in 1..=n {
        let vip = format!("198.19.{}.{}", i / 200, i % 200 + 1);
        s.push_str(&format!(
            "vrrp_instance VI_{i} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {i}\n    \
             priority {priority}\n    version 3\n    advert_int 0.01\n    virtual_ipaddress {{\n        {vip}/16 dev {iface}\n    }}\n}}\n"
        ));
    }
    s
}

/// Two hosts joined by one veth pair (the `Lan`'s switch namespace stays empty).
fn direct_pair(a: std::net::Ipv4Addr, b: std::net::Ipv4Addr) -> Result<Lan> {
    let switch = Netns::new("sw")?;
    let (na, nb) = (Netns::new("m")?, Netns::new("b")?);
    let (ia, ib) = (unique("m"), unique("b"));
    veth(&na, &ia, &nb, &ib)?;
    na.ip(&["addr", "add", &format!("{a}/24"), "dev", &ia])?;
    nb.ip(&["addr", "add", &format!("{b}/24"), "dev", &ib])?;
    let hosts = vec![
        LanHost {
            ns: na,
            iface: ia.clone(),
            port: ib.clone(),
            addr: a,
        },
        LanHost {
            ns: nb,
            iface: ib,
            port: ia,
            addr: b,
        },
    ];
    Ok(Lan { switch, hosts })
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// (utime, stime) of `pid` in seconds.
fn cpu_split(pid: u32) -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0.0, 0.0);
    };
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / clk_tck();
    (get(11), get(12))
}

/// Time `pid` spent on a CPU, in seconds: the sum of its threads' sum_exec_runtime from
/// /proc/PID/task/*/schedstat (nanoseconds; /proc/PID/stat counts 10 ms ticks, too coarse
/// for a Backup that uses a few milliseconds a second).
fn cpu_secs(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum::<u64>() as f64
        / 1e9
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Processes in the namespace (the daemon and, for keepalived, its children).
fn pids(ns: &Netns) -> Vec<u32> {
    sh(std::process::Command::new("ip").args(["netns", "pids", ns.name()]))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// (run_time_ns, run_cnt) of the XDP program attached to `iface` in `ns`, if any.
fn xdp_stats(ns: &Netns, iface: &str) -> Option<(u64, u64)> {
    let link = ns.ip(&["-d", "link", "show", iface]).ok()?;
    let id = link
        .split("prog/xdp id ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .to_string();
    let out =
        sh(std::process::Command::new("bpftool").args(["-j", "prog", "show", "id", &id])).ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    Some((
        v["run_time_ns"].as_u64().unwrap_or(0) + watch_timer_ns(&v).unwrap_or(0),
        v["run_cnt"].as_u64().unwrap_or(0),
    ))
}

/// The run time of the agent's master-down watchdog timer (kernel time charged to no
/// process, and not in the program's `run_time_ns`): `run_ns` of the VRRP_WATCH_TIMER map
/// among the maps of the program `prog` (bpftool's JSON of it).
fn watch_timer_ns(prog: &serde_json::Value) -> Option<u64> {
    for id in prog["map_ids"].as_array()? {
        let id = id.as_u64()?.to_string();
        let show = sh(std::process::Command::new("bpftool").args(["-j", "map", "show", "id", &id]))
            .ok()?;
        let m: serde_json::Value = serde_json::from_str(&show).ok()?;
        if !m["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("VRRP_WATCH_TIM")
        {
            continue;
        }
        let dump = sh(std::process::Command::new("bpftool")
            .args(["-j", "map", "lookup", "id", &id, "key", "0", "0", "0", "0"]))
        .ok()?;
        let d: serde_json::Value = serde_json::from_str(&dump).ok()?;
        return d["formatted"]["value"]["run_ns"].as_u64();
    }
    None
}

/// CPU seconds, user seconds and XDP (run_time_ns, run_cnt) at the start of the window.
type Before = (f64, f64, Option<(u64, u64)>);

struct Sample {
    cpu: f64,
    user: f64,
    xdp: f64,
    rss_mb: f64,
}

fn measure(daemon: Daemon, n: u32, secs: u32) -> Result<(Sample, Sample)> {
    // Master and Backup on one veth pair, no bridge: on veth the receiver's work runs in the
    // sender's system call, and a bridge (with the host's bridge netfilter hooks) would add
    // a lab cost both daemons pay, which says nothing about either.
    let lan = direct_pair("198.18.9.1".parse()?, "198.18.9.2".parse()?)?;
    let dir = TempDir::new("vrrp-cpu")?;
    let (mi, bi) = (lan.hosts[0].iface.clone(), lan.hosts[1].iface.clone());
    let _b = lab::start(
        daemon,
        &lan.hosts[1],
        dir.path(),
        "b",
        &instances_conf(&bi, n, 100),
    )?;
    let _m = lab::start(
        daemon,
        &lan.hosts[0],
        dir.path(),
        "m",
        &instances_conf(&mi, n, 150),
    )?;
    let count = |i: usize| {
        let h = &lan.hosts[i];
        h.ns.ip(&["-o", "-4", "addr", "show", "dev", &h.iface])
            .map(|s| s.matches("198.19.").count())
            .unwrap_or(0)
    };
    let t0 = Instant::now();
    while !(count(0) == n as usize && count(1) == 0) {
        if t0.elapsed() > Duration::from_secs(60) {
            bail!(
                "{}: Master holds {} of {n} VIPs, Backup {}",
                daemon.name(),
                count(0),
                count(1)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let roles = [
        (&lan.hosts[0].ns, mi.as_str()),
        (&lan.hosts[1].ns, bi.as_str()),
    ];
    let before: Vec<Before> = roles
        .iter()
        .map(|(ns, ifc)| {
            let p = pids(ns);
            (
                p.iter().map(|&x| cpu_secs(x)).sum(),
                p.iter().map(|&x| cpu_split(x).0).sum(),
                xdp_stats(ns, ifc),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(u64::from(secs)));
    let mut out = Vec::new();
    for (k, (ns, ifc)) in roles.iter().enumerate() {
        let p = pids(ns);
        let cpu: f64 = p.iter().map(|&x| cpu_secs(x)).sum::<f64>() - before[k].0;
        let user: f64 = p.iter().map(|&x| cpu_split(x).0).sum::<f64>() - before[k].1;
        let xdp = match (before[k].2, xdp_stats(ns, ifc)) {
            (Some((t0, _)), Some((t1, _))) => (t1 - t0) as f64 / 1e9,
            _ => 0.0,
        };
        let rss = p.iter().map(|&x| rss_kb(x)).sum::<u64>() as f64 / 1024.0;
        out.push(Sample {
            cpu,
            user,
            xdp,
            rss_mb: rss,
        });
    }
    if count(0) != n as usize || count(1) != 0 {
        bail!(
            "{}: the roles changed during the measurement",
            daemon.name()
        );
    }
    let b = out.pop().context("backup sample")?;
    let m = out.pop().context("master sample")?;
    Ok((m, b))
}

fn main() -> Result<()> {
    let secs: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    // Count the XDP program's run time (restored afterwards).
    let old = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .unwrap_or_else(|_| "0".into());
    std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1")
        .context("enabling kernel.bpf_stats_enabled")?;
    let result = (|| -> Result<()> {
        println!("CPU and memory over {secs} s, VRRPv3 advert_int 0.01, Master (priority 150) and Backup (100)");
        println!("(CPU-s = on-CPU seconds of all the daemon's threads (schedstat), plus the XDP program's run time; user from /proc/PID/stat ticks)\n");
        println!("| instances | role | vrrp-agent CPU-s | (user / XDP) | keepalived CPU-s | (user) | agent / keepalived | vrrp-agent RSS MB | keepalived RSS MB |");
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        for n in [50u32, 200] {
            let (am, ab) = measure(Daemon::Agent, n, secs)?;
            let (km, kb) = measure(Daemon::Keepalived, n, secs)?;
            for (role, a, k) in [("Master", &am, &km), ("Backup", &ab, &kb)] {
                let total = a.cpu + a.xdp;
                println!(
                    "| {n} | {role} | {total:.3} | ({:.2} / {:.3}) | {:.3} | ({:.2}) | {:.3} | {:.1} | {:.1} |",
                    a.user,
                    a.xdp,
                    k.cpu,
                    k.user,
                    if k.cpu > 0.0 { total / k.cpu } else { 0.0 },
                    a.rss_mb,
                    k.rss_mb
                );
            }
        }
        Ok(())
    })();
    let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", old.trim());
    result
}
