//! Make-before-break handover (issue 12): two agents and a client pinging the VIP every
//! 2 ms on a bridge. Whenever the Master leaves on purpose (SIGTERM, `maintenance on`, a
//! reload lowering its priority, preemption by a recovered higher-priority node) the
//! client loses no reply: the old Master keeps answering until the new Master is heard.
//!
//! At advert_int 0.3 the old behaviour (VIPs removed with the priority-0 advert) costs the
//! client the Backup's Skew_Time, about 180 ms (90 replies); the bounds below are far above
//! the expected 2 ms and far below that.
use std::{
    process::Output,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use vrrp_tests::{
    agent_bin,
    lab::{v3_instance, Probe},
    start_agent_with, wait_for, Agent, Lan, Netns, TempDir,
};

const VIP: &str = "198.18.40.100";
const ADVERT_INT: &str = "0.3";
/// The client-visible gap allowed (expected: the 2 ms ping interval; a loaded machine
/// delays ping itself by tens of ms).
const GAP_BOUND: Duration = Duration::from_millis(120);
/// Replies that may go missing on a very busy machine (the old behaviour loses about 90,
/// or 9 when the loaded machine lets ping send only every 20 ms).
const LOST_BOUND: u64 = 3;
const SETTLE: Duration = Duration::from_secs(20);

fn conf(iface: &str, priority: u8) -> String {
    v3_instance("VI_1", iface, 40, priority, ADVERT_INT, VIP)
}

/// A bridge with r1, r2 and a client; r2 (priority 100) started first, then r1 (150),
/// which becomes Master. Dropped in field order: agents, then namespaces, then files.
struct Lab {
    r1: Option<Agent>,
    r2: Option<Agent>,
    lan: Lan,
    dir: TempDir,
}

impl Lab {
    fn new(tag: &str, with_backup: bool) -> Result<Lab> {
        Lab::with_r1(tag, with_backup, &|iface| conf(iface, 150))
    }

    /// [`Lab::new`] with r1 running `r1_conf(its interface)`.
    fn with_r1(tag: &str, with_backup: bool, r1_conf: &dyn Fn(&str) -> String) -> Result<Lab> {
        let mut lan = Lan::new_tagged(&format!("ho{tag}"))?;
        lan.add_host(&format!("ho{tag}1"), "198.18.40.1".parse()?)?;
        lan.add_host(&format!("ho{tag}2"), "198.18.40.2".parse()?)?;
        lan.add_host(&format!("ho{tag}c"), "198.18.40.10".parse()?)?;
        let dir = TempDir::new(&format!("ho-{tag}"))?;
        let mut lab = Lab {
            r1: None,
            r2: None,
            lan,
            dir,
        };
        if with_backup {
            lab.r2 = Some(lab.start(1, "r2", 100)?);
        }
        let h = &lab.lan.hosts[0];
        let text = r1_conf(&h.iface);
        let sock = lab.sock("r1");
        lab.r1 = Some(start_agent_with(
            &h.ns,
            lab.dir.path(),
            "r1",
            &text,
            &["--control-socket", &sock],
        )?);
        wait_for(SETTLE, || (lab.holds(0) && !lab.holds(1)).then_some(()))
            .context("r1 never became the only Master")?;
        Ok(lab)
    }

    fn start(&self, host: usize, tag: &str, priority: u8) -> Result<Agent> {
        let h = &self.lan.hosts[host];
        let sock = self.sock(tag);
        start_agent_with(
            &h.ns,
            self.dir.path(),
            tag,
            &conf(&h.iface, priority),
            &["--control-socket", &sock],
        )
    }

    fn sock(&self, tag: &str) -> String {
        self.dir
            .path()
            .join(format!("{tag}.sock"))
            .to_string_lossy()
            .into_owned()
    }

    fn holds(&self, host: usize) -> bool {
        self.lan.hosts[host].has_addr(VIP)
    }

    fn client(&self) -> &vrrp_tests::LanHost {
        &self.lan.hosts[2]
    }

    /// `vrrp-agent ARGS --control-socket <tag's>` in host `host`'s namespace.
    fn cli(&self, host: usize, tag: &str, args: &[&str]) -> Result<Output> {
        cli(&self.lan.hosts[host].ns, &self.sock(tag), args)
    }

    /// Pings the VIP every 2 ms while `act` runs and until host `to` holds the VIP alone
    /// (and 300 ms more); the longest gap and the lost replies after `act` began.
    fn measure(
        &self,
        name: &str,
        to: usize,
        act: impl FnOnce() -> Result<()>,
    ) -> Result<(Duration, u64)> {
        let log = self.dir.path().join(format!("{name}-ping.txt"));
        let probe = Probe::start(self.client(), VIP, 2, 30, &log)?;
        wait_for(SETTLE, || (!probe.replies().is_empty()).then_some(()))
            .context("the client gets no reply before the handover")?;
        std::thread::sleep(Duration::from_millis(200));
        let t0 = SystemTime::now();
        act()?;
        let from = 1 - to;
        wait_for(SETTLE, || {
            (self.holds(to) && !self.holds(from)).then_some(())
        })
        .with_context(|| format!("{name}: host {to} never held the VIP alone"))?;
        std::thread::sleep(Duration::from_millis(300));
        let gap = probe
            .longest_gap_after(t0)
            .with_context(|| format!("{name}: no reply after the handover"))?;
        let lost = probe.lost_after(t0).unwrap_or(u64::MAX);
        probe.stop();
        eprintln!("{name}: longest gap {gap:?}, {lost} lost");
        Ok((gap, lost))
    }
}

fn cli(ns: &Netns, sock: &str, args: &[&str]) -> Result<Output> {
    ns.command(agent_bin()?)
        .args(args)
        .args(["--control-socket", sock])
        .output()
        .context("running vrrp-agent")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_seamless(name: &str, (gap, lost): (Duration, u64)) {
    assert!(
        gap < GAP_BOUND && lost <= LOST_BOUND,
        "{name}: the client saw a gap of {gap:?} and lost {lost} replies (bounds {GAP_BOUND:?}, {LOST_BOUND})"
    );
}

/// `status --json` of instance VI_1.
fn vi1(lab: &Lab, host: usize, tag: &str) -> Result<Value> {
    let o = lab.cli(host, tag, &["status", "--json"])?;
    let s: Value =
        serde_json::from_slice(&o.stdout).with_context(|| format!("status: {}", text(&o)))?;
    s["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "VI_1"))
        .cloned()
        .context("no VI_1 in the status")
}

#[test]
fn sigterm_hands_over_without_losing_replies_and_exits_soon() -> Result<()> {
    let mut lab = Lab::new("t", true)?;
    let mut r1 = lab.r1.take().context("r1")?;
    let mut exited = None;
    let m = lab.measure("sigterm", 1, || {
        let t = Instant::now();
        r1.proc.signal(libc::SIGTERM);
        exited = r1
            .proc
            .wait_timeout(Duration::from_secs(10))
            .map(|_| t.elapsed());
        Ok(())
    })?;
    assert_seamless("SIGTERM", m);
    // Master_Down_Interval at 0.3 s is 1.08 s; with a Backup the exit comes about 130 ms
    // after the signal (its Skew_Time and the grace).
    let took = exited.context("r1 did not exit after SIGTERM")?;
    eprintln!("SIGTERM -> exit: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "SIGTERM -> exit took {took:?}"
    );
    let log = r1.proc.log_text();
    assert!(log.contains("handing the VIPs over"), "{log}");
    Ok(())
}

#[test]
fn maintenance_on_hands_over_shows_priority_1_and_off_preempts_back() -> Result<()> {
    let lab = Lab::new("m", true)?;
    let m = lab.measure("maintenance on", 1, || {
        let o = lab.cli(0, "r1", &["maintenance", "on", "VI_1"])?;
        if !o.status.success() {
            bail!("maintenance on: {}", text(&o));
        }
        assert!(text(&o).contains("VI_1: maintenance on"), "{}", text(&o));
        Ok(())
    })?;
    assert_seamless("maintenance on", m);
    // Backup at an effective priority of 1 until off, in JSON and in the text.
    let i = vi1(&lab, 0, "r1")?;
    assert_eq!(i["state"], "BACKUP", "{i}");
    assert_eq!(i["priority"]["effective"], 1, "{i}");
    assert_eq!(i["priority"]["maintenance"], true, "{i}");
    let o = lab.cli(0, "r1", &["status"])?;
    assert!(text(&o).contains("1/150 maint"), "{}", text(&o));
    // It stays there (r2 keeps the VIP) well past a Master_Down_Interval.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(lab.holds(1) && !lab.holds(0));
    // An unknown instance is an error (exit 1); --all and the instance are exclusive.
    let o = lab.cli(0, "r1", &["maintenance", "on", "NOPE"])?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = lab.cli(0, "r1", &["maintenance", "on"])?;
    assert_eq!(
        o.status.code(),
        Some(2),
        "no INSTANCE nor --all: {}",
        text(&o)
    );
    // Off: priority 150 is back and r1 preempts r2, which hands over in turn.
    let m = lab.measure("maintenance off", 0, || {
        let o = lab.cli(0, "r1", &["maintenance", "off", "--all"])?;
        if !o.status.success() {
            bail!("maintenance off: {}", text(&o));
        }
        Ok(())
    })?;
    assert_seamless("preemption after maintenance off", m);
    let i = vi1(&lab, 0, "r1")?;
    assert_eq!(i["priority"]["effective"], 150, "{i}");
    assert_eq!(i["priority"]["maintenance"], false, "{i}");
    Ok(())
}

#[test]
fn a_reload_lowering_the_priority_hands_over_to_the_preempting_backup() -> Result<()> {
    let lab = Lab::new("r", true)?;
    let m = lab.measure("reload", 1, || {
        let h = &lab.lan.hosts[0];
        std::fs::write(lab.dir.path().join("r1.conf"), conf(&h.iface, 50))?;
        let o = lab.cli(0, "r1", &["reload"])?;
        if !o.status.success() {
            bail!("reload: {}", text(&o));
        }
        Ok(())
    })?;
    assert_seamless("reload lowering the priority", m);
    Ok(())
}

#[test]
fn a_recovered_higher_priority_node_takes_over_without_losing_replies() -> Result<()> {
    let mut lab = Lab::new("p", true)?;
    // r1 leaves (handing over to r2), then comes back and preempts r2.
    let mut r1 = lab.r1.take().context("r1")?;
    r1.proc.signal(libc::SIGTERM);
    r1.proc.wait_timeout(Duration::from_secs(10));
    drop(r1);
    wait_for(SETTLE, || lab.holds(1).then_some(())).context("r2 did not take over")?;
    let mut back = None;
    let m = lab.measure("preemption", 0, || {
        back = Some(lab.start(0, "r1b", 150)?);
        Ok(())
    })?;
    assert_seamless("preemption by the recovered node", m);
    let r2 = lab.r2.as_ref().context("r2")?;
    let log = r2.proc.log_text();
    assert!(
        log.contains("Master -> Backup: higher priority 150"),
        "{log}"
    );
    drop(back);
    Ok(())
}

#[test]
fn without_a_backup_the_vips_go_after_the_bound_and_the_process_exits() -> Result<()> {
    let mut lab = Lab::new("n", false)?;
    let mut r1 = lab.r1.take().context("r1")?;
    let t = Instant::now();
    r1.proc.signal(libc::SIGTERM);
    // Still answering for a while: nobody took over yet (the bound is twice the longest
    // Skew_Time, 2 * 255/256 * 0.3 s, + 20 ms: 617.7 ms).
    std::thread::sleep(Duration::from_millis(300));
    let held = lab.holds(0);
    let exited = r1
        .proc
        .wait_timeout(Duration::from_secs(10))
        .map(|_| t.elapsed());
    let took = exited.context("r1 did not exit")?;
    assert!(
        held || took < Duration::from_millis(300),
        "the VIP went at once"
    );
    assert!(held, "the VIP went before the bound (exit after {took:?})");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "SIGTERM -> exit took {took:?} (bound 617.7 ms)"
    );
    assert!(!lab.holds(0), "the VIP is still there after the exit");
    Ok(())
}

#[test]
fn a_reload_removing_the_master_instance_hands_over_before_it_goes() -> Result<()> {
    let lab = Lab::new("x", true)?;
    let m = lab.measure("reload removing", 1, || {
        let h = &lab.lan.hosts[0];
        // VI_1 is gone from the file; another instance keeps the configuration valid.
        let other = v3_instance("VI_2", &h.iface, 41, 150, ADVERT_INT, "198.18.40.101");
        std::fs::write(lab.dir.path().join("r1.conf"), other)?;
        let o = lab.cli(0, "r1", &["reload"])?;
        if !o.status.success() {
            bail!("reload: {}", text(&o));
        }
        assert!(text(&o).contains("VI_1: removed"), "{}", text(&o));
        Ok(())
    })?;
    assert_seamless("reload removing the Master instance", m);
    let r1 = lab.r1.as_ref().context("r1")?;
    wait_for(SETTLE, || {
        r1.proc
            .log_text()
            .contains("handover done; instance removed")
            .then_some(())
    })
    .context("the removed instance never went")?;
    Ok(())
}

/// The longest round-trip time of a reply received after `t0` in ping log `log`: a
/// network that held the client's packets (a neighbour entry being resolved again) shows
/// there, where the longest gap between replies also counts ping itself not being
/// scheduled on a loaded machine (consecutive sequence numbers, microsecond round trips,
/// tens of ms apart).
fn max_rtt_after(log: &std::path::Path, t0: SystemTime) -> Duration {
    let t0 = t0
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let ms = text
        .lines()
        .filter_map(|l| {
            // [1795325201.576400] 64 bytes from 198.18.40.100: icmp_seq=17 ttl=64 time=0.05 ms
            let at: f64 = l.strip_prefix('[')?.split(']').next()?.parse().ok()?;
            let rtt: f64 = l.split("time=").nth(1)?.split(' ').next()?.parse().ok()?;
            (at > t0).then_some(rtt)
        })
        .fold(0.0_f64, f64::max);
    Duration::from_secs_f64(ms / 1000.0)
}

/// A handover the client must not notice: no reply lost, none held up, and replies again
/// within a bound that only a loaded machine's scheduling can come near.
fn assert_no_loss(name: &str, (gap, lost, rtt): (Duration, u64, Duration)) {
    assert!(
        lost <= LOST_BOUND && rtt < GAP_BOUND && gap < Duration::from_secs(1),
        "{name}: the client lost {lost} replies, waited up to {rtt:?} for one and saw a gap \
         of {gap:?} (bounds {LOST_BOUND}, {GAP_BOUND:?}, 1 s)"
    );
}

/// Pings the VIP every 2 ms while `act` runs, then until `done` (bounded by SETTLE) and
/// 300 ms more; the longest gap, the lost replies and the longest round trip after `act`
/// began.
fn probe_through(
    lab: &Lab,
    name: &str,
    act: impl FnOnce() -> Result<()>,
    done: impl Fn() -> bool,
) -> Result<(Duration, u64, Duration)> {
    let log = lab.dir.path().join(format!("{name}-ping.txt"));
    let probe = Probe::start(lab.client(), VIP, 2, 40, &log)?;
    wait_for(SETTLE, || (!probe.replies().is_empty()).then_some(()))
        .context("the client gets no reply before the handover")?;
    std::thread::sleep(Duration::from_millis(200));
    let t0 = SystemTime::now();
    act()?;
    wait_for(SETTLE, || done().then_some(())).with_context(|| format!("{name}: never done"))?;
    std::thread::sleep(Duration::from_millis(300));
    let gap = probe
        .longest_gap_after(t0)
        .with_context(|| format!("{name}: no reply after the handover"))?;
    let lost = probe.lost_after(t0).unwrap_or(u64::MAX);
    probe.stop();
    let rtt = max_rtt_after(&log, t0);
    eprintln!("{name}: longest gap {gap:?}, {lost} lost, longest round trip {rtt:?}");
    Ok((gap, lost, rtt))
}

#[test]
fn a_reload_restarting_the_master_hands_over_and_takes_the_vip_back_without_losing_replies(
) -> Result<()> {
    // A new source address makes the instance another router to its peers: the reload
    // restarts it. The old router resigns and keeps the VIP until r2 (which takes over one
    // Skew_Time later) is heard; the successor starts as Backup at 150, preempts r2 after
    // its Master_Down_Interval, and r2 hands over in turn. Before, the VIP went with the
    // priority-0 advert: about 180 ms (90 replies) lost at 0.3 s.
    let lab = Lab::new("hhr", true)?;
    let h = &lab.lan.hosts[0];
    h.ns.ip(&["addr", "add", "198.18.40.3/24", "dev", &h.iface])?;
    let r1 = lab.r1.as_ref().context("r1")?;
    let r2 = lab.r2.as_ref().context("r2")?;
    let m = probe_through(
        &lab,
        "reload-restart",
        || {
            let new_conf = conf(&h.iface, 150).replace(
                "    version 3\n",
                "    version 3\n    mcast_src_ip 198.18.40.3\n",
            );
            std::fs::write(lab.dir.path().join("r1.conf"), new_conf)?;
            let o = lab.cli(0, "r1", &["reload"])?;
            if !o.status.success() {
                bail!("reload: {}", text(&o));
            }
            let out = text(&o);
            if !out.contains("VI_1: restarted (source address 198.18.40.1 -> 198.18.40.3)") {
                bail!("the reload did not restart VI_1: {out}");
            }
            Ok(())
        },
        // r2 took over and was preempted back by the successor, and the old router is gone.
        || {
            let log1 = r1.proc.log_text();
            r2.proc
                .log_text()
                .contains("Master -> Backup: higher priority 150")
                && log1.contains("handover done; the stopped router is gone")
                && lab.holds(0)
                && !lab.holds(1)
        },
    )?;
    assert_no_loss("reload restarting the Master", m);
    let log1 = r1.proc.log_text();
    assert!(
        log1.contains("stopped by the reload: handing its VIPs over"),
        "{log1}"
    );
    let log2 = r2.proc.log_text();
    assert!(log2.contains("Backup -> Master"), "{log2}");
    // Adverts come from the new address now.
    let i = vi1(&lab, 1, "r2")?;
    assert_eq!(i["master"]["address"], "198.18.40.3", "{i}");
    Ok(())
}

/// r1 (150) with a health check of `weight` that succeeds while `flag` exists.
fn tracked_conf(iface: &str, flag: &std::path::Path, weight: i32) -> String {
    format!(
        "vrrp_script chk {{\n    script \"/bin/test -e {}\"\n    interval 0.1\n    weight {weight}\n    \
         fall 1\n    rise 1\n}}\n{}",
        flag.display(),
        conf(iface, 150).replace(
            "    version 3\n",
            "    version 3\n    track_script {\n        chk\n    }\n"
        )
    )
}

/// A failing health check on the Master: `weight` -60 lowers it to 90 below r2's 100
/// (r2 preempts it, it hands over), 0 puts it in FAULT (it resigns and hands over: its
/// link still works). Either way the client loses nothing.
fn tracking_failure_hands_over(tag: &str, weight: i32, state: &str) -> Result<()> {
    let flag_dir = TempDir::new(&format!("hh-{tag}-flag"))?;
    let flag = flag_dir.path().join("ok");
    std::fs::write(&flag, "")?;
    let lab = Lab::with_r1(tag, true, &|iface| tracked_conf(iface, &flag, weight))?;
    let r1 = lab.r1.as_ref().context("r1")?;
    let m = probe_through(
        &lab,
        "tracking",
        || Ok(std::fs::remove_file(&flag)?),
        || lab.holds(1) && !lab.holds(0),
    )?;
    assert_no_loss(&format!("health check of weight {weight} failing"), m);
    let log = r1.proc.log_text();
    assert!(log.contains(&format!("Master -> {state}")), "{log}");
    let i = vi1(&lab, 0, "r1")?;
    assert_eq!(i["state"], state.to_uppercase(), "{i}");
    Ok(())
}

#[test]
fn a_health_check_lowering_the_masters_priority_hands_over_without_losing_replies() -> Result<()> {
    tracking_failure_hands_over("hht", -60, "Backup")
}

#[test]
fn a_health_check_putting_the_master_in_fault_hands_over_without_losing_replies() -> Result<()> {
    tracking_failure_hands_over("hhf", 0, "Fault")
}
