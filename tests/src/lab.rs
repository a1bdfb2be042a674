//! A failover lab shared by the demo and the benchmarks: routers running vrrp-agent or
//! keepalived on a [`Lan`], a client probing the VIP, and bounded measurements.
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result};

use crate::{start_agent_with, Lan, LanHost, PinDir, Proc};

/// What runs VRRP on a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// This project.
    Agent,
    /// keepalived (Debian package).
    Keepalived,
}

impl Daemon {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Agent => "vrrp-agent",
            Daemon::Keepalived => "keepalived",
        }
    }
}

/// A running VRRP daemon on one router.
pub struct Running {
    /// The process.
    pub proc: Proc,
    /// Which daemon.
    pub daemon: Daemon,
    _pins: Option<PinDir>,
}

/// Starts `daemon` on `host` with the keepalived.conf `text`; returns once it is up.
pub fn start(daemon: Daemon, host: &LanHost, dir: &Path, tag: &str, text: &str) -> Result<Running> {
    start_with(daemon, host, dir, tag, text, &[])
}

/// [`start`] with more arguments for `vrrp-agent run` (ignored for keepalived).
pub fn start_with(
    daemon: Daemon,
    host: &LanHost,
    dir: &Path,
    tag: &str,
    text: &str,
    agent_args: &[&str],
) -> Result<Running> {
    match daemon {
        Daemon::Agent => {
            let agent = start_agent_with(&host.ns, dir, tag, text, agent_args)?;
            Ok(Running {
                proc: agent.proc,
                daemon,
                _pins: Some(agent.pins),
            })
        }
        Daemon::Keepalived => {
            let conf = dir.join(format!("{tag}.conf"));
            std::fs::write(&conf, text)?;
            let log = dir.join(format!("{tag}.log"));
            let mut cmd = Command::new("ip");
            cmd.args([
                "netns",
                "exec",
                host.ns.name(),
                "keepalived",
                "-n",
                "-l",
                "-P",
                "-f",
            ])
            .arg(&conf)
            .arg("-p")
            .arg(dir.join(format!("{tag}.pid")))
            .arg("-r")
            .arg(dir.join(format!("{tag}-vrrp.pid")));
            let mut proc = Proc::spawn(tag, &mut cmd, &log)?;
            proc.wait_log("Entering BACKUP STATE", Duration::from_secs(20))
                .or_else(|_| proc.wait_log("Entering MASTER STATE", Duration::from_secs(1)))?;
            Ok(Running {
                proc,
                daemon,
                _pins: None,
            })
        }
    }
}

/// A v3 IPv4 instance block for `iface` (keepalived.conf syntax), VIP `vip`/24.
pub fn v3_instance(
    name: &str,
    iface: &str,
    vrid: u8,
    priority: u8,
    advert_int: &str,
    vip: &str,
) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    version 3\n    advert_int {advert_int}\n    virtual_ipaddress {{\n        \
         {vip}/24 dev {iface}\n    }}\n}}\n"
    )
}

/// A client probing an address with ICMP every `interval_ms` (1..) for at most `secs`,
/// through `ping -D` (reply timestamps) in the client's namespace.
pub struct Probe {
    proc: Proc,
    log: PathBuf,
}

impl Probe {
    /// Starts probing `addr` from `client`.
    pub fn start(
        client: &LanHost,
        addr: &str,
        interval_ms: u32,
        secs: u32,
        log: &Path,
    ) -> Result<Probe> {
        let count = (secs * 1000 / interval_ms.max(1)).max(1).to_string();
        let interval = format!("{:.3}", f64::from(interval_ms) / 1000.0);
        let mut cmd = client.ns.command("ping");
        cmd.args([
            "-D",
            "-n",
            "-i",
            &interval,
            "-W",
            "1",
            "-c",
            &count,
            "-w",
            &secs.to_string(),
            addr,
        ]);
        let proc = Proc::spawn("ping", &mut cmd, log)?;
        Ok(Probe {
            proc,
            log: log.to_path_buf(),
        })
    }

    /// Reply times (seconds since the epoch) seen so far.
    pub fn replies(&self) -> Vec<f64> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse::<f64>().ok())
            .collect()
    }

    /// The longest gap between consecutive replies after `since` (the client-visible
    /// outage, up to one probe interval of resolution), or `None` if no reply came after.
    pub fn longest_gap_after(&self, since: SystemTime) -> Option<Duration> {
        let t0 = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        let r = self.replies();
        let before = r.iter().copied().rfind(|t| *t <= t0).unwrap_or(t0);
        let mut last = before;
        let mut gap: f64 = 0.0;
        let mut any = false;
        for t in r.into_iter().filter(|t| *t > t0) {
            gap = gap.max(t - last);
            last = t;
            any = true;
        }
        any.then(|| Duration::from_secs_f64(gap))
    }

    /// Requests lost after `since`: icmp_seq numbers missing between the last reply at or
    /// before `since` and the last reply (a request after the last reply is still in
    /// flight, not lost). `None` if no reply came after `since`.
    pub fn lost_after(&self, since: SystemTime) -> Option<u64> {
        let t0 = epoch_secs(since);
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // [1795325201.576400] 64 bytes from 198.18.8.100: icmp_seq=17 ttl=64 time=0.05 ms
        let mut seqs: Vec<(f64, u64)> = text
            .lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| {
                let at = l
                    .strip_prefix('[')?
                    .split(']')
                    .next()?
                    .parse::<f64>()
                    .ok()?;
                let seq = l.split("icmp_seq=").nth(1)?.split_whitespace().next()?;
                Some((at, seq.parse().ok()?))
            })
            .collect();
        seqs.sort_by_key(|&(_, s)| s);
        seqs.dedup_by_key(|&mut (_, s)| s);
        let first = seqs.iter().rfind(|(at, _)| *at <= t0).map(|&(_, s)| s);
        let after: Vec<u64> = seqs
            .iter()
            .filter(|(at, _)| *at > t0)
            .map(|&(_, s)| s)
            .collect();
        let last = *after.iter().max()?;
        let from = first.unwrap_or(*after.iter().min()?);
        let expected = last.saturating_sub(from);
        let got = after.iter().filter(|&&s| s > from).count() as u64;
        Some(expected.saturating_sub(got))
    }

    /// Stops the probe.
    pub fn stop(self) {
        self.proc.signal(libc::SIGINT);
    }
}

/// Seconds since the epoch, as the captures and ping report them.
pub fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A bounded tcpdump of VRRP adverts on the LAN's bridge, with epoch timestamps.
pub struct Capture {
    proc: Proc,
    log: PathBuf,
}

/// One captured advert.
#[derive(Clone, Debug)]
pub struct Advert {
    /// When it crossed the bridge (seconds since the epoch).
    pub at: f64,
    /// Source address.
    pub src: String,
    /// Advertised priority.
    pub prio: u32,
}

impl Capture {
    /// Captures `proto 112` on the bridge for at most `secs`.
    pub fn start(lan: &Lan, secs: u32, log: &Path) -> Result<Capture> {
        Capture::start_filtered(lan, secs, log, &["proto", "112"])
    }

    /// Captures adverts, gratuitous ARPs and Neighbor Advertisements on the bridge for at
    /// most `secs` (see [`Capture::announcements`]).
    pub fn start_with_announcements(lan: &Lan, secs: u32, log: &Path) -> Result<Capture> {
        Capture::start_filtered(
            lan,
            secs,
            log,
            &[
                "proto", "112", "or", "arp", "or", "(icmp6", "and", "ip6[40]", "==", "136)",
            ],
        )
    }

    fn start_filtered(lan: &Lan, secs: u32, log: &Path, filter: &[&str]) -> Result<Capture> {
        let mut cmd = Command::new("timeout");
        cmd.arg(secs.to_string()).args([
            "ip",
            "netns",
            "exec",
            lan.switch.name(),
            "tcpdump",
            // Each packet is printed as it arrives (libpcap otherwise hands them over in
            // blocks, up to a second late): a test reads the log right after an event.
            "--immediate-mode",
            "-l",
            "-n",
            "-tt",
            "-i",
            "br0",
        ]);
        cmd.args(filter);
        let proc = Proc::spawn("tcpdump", &mut cmd, log)?;
        // tcpdump needs a moment before it captures.
        let mut p = proc;
        p.wait_log("listening on", Duration::from_secs(20))
            .context("tcpdump did not start")?;
        Ok(Capture {
            proc: p,
            log: log.to_path_buf(),
        })
    }

    /// Adverts captured so far.
    pub fn adverts(&self) -> Vec<Advert> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                // 1795325201.576400 IP 198.18.3.1 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, ...
                let mut w = l.split_whitespace();
                let at = w.next()?.parse::<f64>().ok()?;
                let src = w.nth(1)?.to_string();
                let prio = l
                    .split("prio ")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .trim()
                    .parse()
                    .ok()?;
                Some(Advert { at, src, prio })
            })
            .collect()
    }

    /// When gratuitous ARPs (`who-has VIP tell VIP`) or unsolicited Neighbor
    /// Advertisements (to ff02::1, target VIP) for `vip` crossed the bridge (seconds since
    /// the epoch); needs [`Capture::start_with_announcements`].
    pub fn announcements(&self, vip: &str) -> Vec<f64> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let garp =
            |l: &str| l.contains(&format!("who-has {vip} ")) && l.contains(&format!("tell {vip},"));
        let na = |l: &str| {
            l.contains("> ff02::1:")
                && l.contains(&format!("neighbor advertisement, tgt is {vip},"))
        };
        text.lines()
            .filter(|l| garp(l) || na(l))
            .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
            .collect()
    }

    /// Stops the capture.
    pub fn stop(self) {
        drop(self.proc);
    }
}

/// min / median / p95 / max of `v` (sorted in place), or `None` if empty.
pub fn summary(v: &mut [f64]) -> Option<[f64; 4]> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some([v[0], at(0.5), at(0.95), v[v.len() - 1]])
}
