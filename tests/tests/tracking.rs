//! Health tracking, notifications, sync groups and reload, with real agents in network
//! namespaces: a health script whose result the test flips, a hanging script, a tracked
//! interface set down, the manual-failover file, notify commands and FIFO recording their
//! arguments, a sync group failing over together, and SIGHUP with unchanged, broken, extended
//! and reduced configurations. Each transition is checked where it matters: which router holds
//! the VIP (and that the client reaches it), or what the notify commands recorded.
use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use vrrp_tests::{
    lab::{self, epoch_secs, Capture, Daemon, Running},
    wait_for, Lan, TempDir,
};

const VIP: &str = "198.18.4.100";
const VIP2: &str = "198.18.4.101";
const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 10);
/// Generous bound for a transition (a failover at advert_int 0.1 takes ~0.4 s).
const TRANSITION: Duration = Duration::from_secs(10);

struct Setup {
    lan: Lan,
    dir: TempDir,
}

fn setup(with_client: bool) -> Setup {
    let mut lan = Lan::new().unwrap();
    lan.add_host("r1", R1).unwrap();
    lan.add_host("r2", R2).unwrap();
    if with_client {
        lan.add_host("cl", CLIENT).unwrap();
    }
    Setup {
        lan,
        dir: TempDir::new("vrrp-trk").unwrap(),
    }
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn iface(&self, i: usize) -> &str {
        &self.lan.hosts[i].iface
    }

    fn start(&self, i: usize, tag: &str, text: &str) -> Running {
        lab::start(
            Daemon::Agent,
            &self.lan.hosts[i],
            self.dir.path(),
            tag,
            text,
        )
        .unwrap()
    }

    /// Waits until exactly router `i` of `r1`/`r2` holds `vip`.
    fn wait_master(&self, vip: &str, i: usize, routers: &[&Running]) {
        let j = 1 - i;
        let ok = wait_for(TRANSITION, || {
            (self.lan.hosts[i].has_addr(vip) && !self.lan.hosts[j].has_addr(vip)).then_some(())
        });
        if ok.is_none() {
            panic!(
                "router {} should hold {vip} alone (r1: {}, r2: {})\n{}",
                i + 1,
                self.lan.hosts[0].has_addr(vip),
                self.lan.hosts[1].has_addr(vip),
                logs(routers)
            );
        }
    }

    /// The client reaches `vip` at router `i`'s MAC.
    fn assert_client_reaches(&self, vip: &str, i: usize, routers: &[&Running]) {
        let client = &self.lan.hosts[2];
        let want = self.lan.hosts[i].mac();
        let ok = wait_for(TRANSITION, || {
            (client.ping(vip) && client.neigh_mac(vip).as_deref() == Some(want.as_str()))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "client does not reach {vip} at router {} ({want}); neigh {:?}\n{}",
            i + 1,
            client.neigh_mac(vip),
            logs(routers)
        );
    }
}

fn logs(routers: &[&Running]) -> String {
    routers
        .iter()
        .map(|r| format!("--- {}\n{}", r.proc.what, r.proc.log_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A v3 instance at advert_int 0.1; `extra` goes inside the block.
fn instance(name: &str, iface: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {vrid}\n    \
         priority {prio}\n    version 3\n    advert_int 0.1\n    virtual_ipaddress {{\n        {vip}/24\n    }}\n\
         {extra}\n}}\n"
    )
}

/// An "uplink" in `ns` to track: one end of a veth pair whose other end stays in `ns`;
/// setting `upl0` down takes its carrier away.
fn uplink(ns: &vrrp_tests::Netns) {
    ns.ip(&[
        "link", "add", "upl0", "type", "veth", "peer", "name", "upl0p",
    ])
    .unwrap();
    ns.ip(&["link", "set", "upl0p", "up"]).unwrap();
    ns.ip(&["link", "set", "upl0", "up"]).unwrap();
}

/// Waits until `r`'s log contains `needle`.
fn wait_log(r: &Running, needle: &str) {
    let ok = wait_for(TRANSITION, || {
        r.proc.log_text().contains(needle).then_some(())
    });
    assert!(ok.is_some(), "no {needle:?} in the log:\n{}", logs(&[r]));
}

/// Counts the lines of `log` that contain `needle`.
fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// A shell script at `path` that appends its arguments, one line per call, to `out`.
fn recorder(path: &Path, out: &Path) {
    std::fs::write(
        path,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Lines of `path` (empty when missing).
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A health check whose results the test plays out one run at a time: each run takes the
/// next letter of `dir/plan` (`f`: fail, `o`: succeed) and repeats the last one once the
/// plan is used up (it starts with `o`); it appends what it returned to `dir/runs`. Fall
/// and rise are then checked by counting runs, which a busy machine cannot change, instead
/// of timing them.
struct Plan {
    dir: PathBuf,
}

impl Plan {
    fn new(dir: PathBuf) -> Plan {
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("check.sh");
        let d = dir.display();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh
plan=$(cat {d}/plan 2>/dev/null)
if [ -n \"$plan\" ]; then
                   r=${{plan%\"${{plan#?}}\"}}
  printf %s \"${{plan#?}}\" > {d}/plan.tmp
                   mv {d}/plan.tmp {d}/plan
  echo $r > {d}/last
else
                   r=$(cat {d}/last 2>/dev/null || echo o)
fi
echo $r >> {d}/runs
                 [ \"$r\" = o ]
"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Plan { dir }
    }

    fn script(&self) -> PathBuf {
        self.dir.join("check.sh")
    }

    /// The results of the runs so far, in order.
    fn runs(&self) -> String {
        lines(&self.dir.join("runs")).concat()
    }

    /// Plays `results` next (written whole, so that no run sees half of it); returns how many
    /// runs there were before.
    fn play(&self, results: &str) -> usize {
        let n = self.runs().len();
        let tmp = self.dir.join("plan.new");
        std::fs::write(&tmp, results).unwrap();
        std::fs::rename(&tmp, self.dir.join("plan")).unwrap();
        n
    }

    /// Waits until the runs after the first `from` contain `want` (a run that was under way
    /// when the plan changed may come first).
    fn wait_runs(&self, from: usize, want: &str, routers: &[&Running]) {
        let ok = wait_for(TRANSITION * 2, || {
            self.runs()
                .get(from..)
                .is_some_and(|r| r.contains(want))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "runs after the first {from}: {:?}, want {want:?} among them\n{}",
            self.runs().get(from..),
            logs(routers)
        );
    }
}

#[test]
fn health_script_moves_the_vip_and_back_respecting_fall_and_rise() {
    let s = setup(true);
    let plan = Plan::new(s.path("plan"));
    // The seeds' pattern: a check that fails while the service is down lowers the priority.
    // The timeout is long (the default is the interval, 0.2 s): on a busy machine a run of
    // the shell script can take longer, and a run killed after taking its letter from the
    // plan but before recording it would count as a failure the test does not see.
    let script = format!(
        "vrrp_script chk_nginx {{\n    script \"{}\"\n    interval 0.2\n    timeout 5\n    \
         weight -60\n    fall 3\n    rise 2\n}}\n",
        plan.script().display()
    );
    let r1 = s.start(
        0,
        "r1",
        &format!(
            "{script}{}",
            instance(
                "VI_1",
                s.iface(0),
                51,
                150,
                VIP,
                "track_script {\n chk_nginx\n}"
            )
        ),
    );
    let r2 = s.start(1, "r2", &instance("VI_1", s.iface(1), 51, 100, VIP, ""));
    s.wait_master(VIP, 0, &[&r1, &r2]);
    s.assert_client_reaches(VIP, 0, &[&r1, &r2]);
    let down = "effective priority 150 -> 90";
    let up = "effective priority 90 -> 150";

    // Two failed runs, then good ones: fall 3 is not reached, r1 keeps 150 and the VIP.
    // (Three good runs after them: the results of the failed ones were handled by then.)
    let from = plan.play("ffo");
    plan.wait_runs(from, "ffooo", &[&r1, &r2]);
    assert!(!r1.proc.log_text().contains(down), "{}", logs(&[&r1]));
    s.wait_master(VIP, 0, &[&r1, &r2]);

    // Wait out the client's ARP locktime (1 s) so it accepts the new Master's GARP.
    std::thread::sleep(Duration::from_millis(1200));
    // The service goes down: three failed runs (fall 3) lower r1 to 90, and r2 (100) takes
    // over.
    let from = plan.play("fff");
    s.wait_master(VIP, 1, &[&r1, &r2]);
    plan.wait_runs(from, "fff", &[&r1, &r2]);
    wait_log(&r1, down);
    s.assert_client_reaches(VIP, 1, &[&r1, &r2]);

    // One good run among failed ones: rise 2 is not reached, r2 stays Master.
    let from = plan.play("of");
    plan.wait_runs(from, "offf", &[&r1, &r2]);
    assert!(!r1.proc.log_text().contains(up), "{}", logs(&[&r1]));
    s.wait_master(VIP, 1, &[&r1, &r2]);
    std::thread::sleep(Duration::from_millis(1200));

    // Back up: two good runs (rise 2) restore 150 and r1 preempts.
    let from = plan.play("oo");
    s.wait_master(VIP, 0, &[&r1, &r2]);
    plan.wait_runs(from, "oo", &[&r1, &r2]);
    wait_log(&r1, up);
    s.assert_client_reaches(VIP, 0, &[&r1, &r2]);
}

#[test]
fn hanging_script_is_killed_at_its_timeout_and_blocks_nothing() {
    let s = setup(false);
    // A unique argument, so that the test can count this script's processes.
    let secs = format!(
        "{}.{}",
        40 + std::process::id() % 50,
        std::process::id() % 997
    );
    let text = format!(
        "vrrp_script chk_hang {{\n    script \"/bin/sleep {secs}\"\n    interval 0.3\n    timeout 1.5\n    \
         weight 0\n}}\n{}{}",
        instance("VI_1", s.iface(0), 51, 150, VIP, "track_script {\n chk_hang\n}"),
        instance("VI_2", s.iface(0), 52, 150, VIP2, "")
    );
    let sleepers = || {
        std::process::Command::new("pgrep")
            .args(["-c", "-f", &format!("sleep {secs}")])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    let r1 = s.start(0, "r1", &text);
    let cap_log = s.path("cap.log");
    let cap = Capture::start(&s.lan, 120, &cap_log).unwrap();
    // The check never answers: killed at 1.5 s (15 advert intervals: a runtime blocked by
    // the run would leave a gap in VI_2's adverts that long), counted as failed; weight 0
    // means FAULT.
    wait_log(&r1, "-> Fault");
    assert!(
        r1.proc
            .log_text()
            .contains("timed out (process group killed)"),
        "{}",
        logs(&[&r1])
    );
    let t0 = SystemTime::now();
    // Over at least 4 s: two runs or more, each killed at its timeout.
    let mut most = 0;
    for _ in 0..40 {
        most = most.max(sleepers());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The positive control: the sampling does see the hanging run.
    assert!(most >= 1, "the hanging script was never seen running");
    assert!(most <= 1, "{most} runs of the hanging script at once");
    // VI_2 on the same agent became Master and kept advertising every 0.1 s meanwhile.
    assert!(s.lan.hosts[0].has_addr(VIP2), "{}", logs(&[&r1]));
    assert!(!s.lan.hosts[0].has_addr(VIP), "{}", logs(&[&r1]));
    let (t0, t1) = (epoch_secs(t0), epoch_secs(SystemTime::now()));
    // tcpdump prints a packet a moment after it crossed: wait until it printed one from
    // after t1.
    let caught_up = wait_for(TRANSITION, || {
        cap.adverts().iter().any(|a| a.at > t1).then_some(())
    });
    assert!(caught_up.is_some(), "no advert captured after {t1:.3}");
    let at: Vec<f64> = cap
        .adverts()
        .into_iter()
        .filter(|a| a.src == R1.to_string() && a.at >= t0 && a.at <= t1)
        .map(|a| a.at)
        .collect();
    // One every 0.1 s on schedule; half of that allows for a busy machine.
    let schedule = ((t1 - t0) / 0.1) as usize;
    assert!(
        at.len() >= schedule / 2,
        "only {} adverts from r1 in {:.3} s",
        at.len(),
        t1 - t0
    );
    let gap = at.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        gap < 1.0,
        "VI_2's adverts stalled for {gap:.3} s while the script hung"
    );
    cap.stop();
    drop(r1);
    let gone = wait_for(Duration::from_secs(10), || (sleepers() == 0).then_some(()));
    assert!(gone.is_some(), "the hanging script outlived the agent");
}

#[test]
fn an_instance_waits_for_its_first_health_check_result() {
    let s = setup(false);
    // A weight-0 check that takes 1 s to fail. Alone on the LAN, the instance would be
    // Master after 0.34 s if it started at once; like keepalived, it waits for the result.
    let text = format!(
        "vrrp_script slow {{\n    script \"/bin/sh -c 'sleep 1; exit 1'\"\n    interval 5\n    \
         timeout 3\n    weight 0\n}}\n{}",
        instance("VI_1", s.iface(0), 51, 150, VIP, "track_script {\n slow\n}")
    );
    let r1 = s.start(0, "r1", &text);
    wait_log(&r1, "Initialize -> Fault");
    let log = r1.proc.log_text();
    assert!(log.contains("waiting for the first result"), "{log}");
    assert!(!log.contains("-> Master"), "{log}");
    assert!(!log.contains("VIPs added"), "{log}");
    assert!(!s.lan.hosts[0].has_addr(VIP));
}

#[test]
fn track_interface_down_means_fault_and_up_means_back() {
    let s = setup(true);
    let r1_ns = &s.lan.hosts[0].ns;
    uplink(r1_ns);
    let r1 = s.start(
        0,
        "r1",
        &instance(
            "VI_1",
            s.iface(0),
            51,
            150,
            VIP,
            "track_interface {\n upl0\n}",
        ),
    );
    let r2 = s.start(1, "r2", &instance("VI_1", s.iface(1), 51, 100, VIP, ""));
    s.wait_master(VIP, 0, &[&r1, &r2]);
    std::thread::sleep(Duration::from_millis(1200));
    r1_ns.ip(&["link", "set", "upl0", "down"]).unwrap();
    s.wait_master(VIP, 1, &[&r1, &r2]);
    wait_log(&r1, "Master -> Fault");
    s.assert_client_reaches(VIP, 1, &[&r1, &r2]);
    std::thread::sleep(Duration::from_millis(1200));
    r1_ns.ip(&["link", "set", "upl0", "up"]).unwrap();
    s.wait_master(VIP, 0, &[&r1, &r2]);
    s.assert_client_reaches(VIP, 0, &[&r1, &r2]);
}

#[test]
fn manual_failover_file_moves_the_master() {
    let s = setup(true);
    let file = s.path("manual-failover");
    let track = format!(
        "vrrp_track_file manual {{\n    file {}\n    weight -60\n}}\n",
        file.display()
    );
    let r1 = s.start(
        0,
        "r1",
        &format!(
            "{track}{}",
            instance("VI_1", s.iface(0), 51, 150, VIP, "track_file {\n manual\n}")
        ),
    );
    let r2 = s.start(1, "r2", &instance("VI_1", s.iface(1), 51, 100, VIP, ""));
    s.wait_master(VIP, 0, &[&r1, &r2]);
    std::thread::sleep(Duration::from_millis(1200));
    // The operator writes 1: 150 - 60 = 90 < 100.
    std::fs::write(&file, "1\n").unwrap();
    s.wait_master(VIP, 1, &[&r1, &r2]);
    s.assert_client_reaches(VIP, 1, &[&r1, &r2]);
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::remove_file(&file).unwrap();
    s.wait_master(VIP, 0, &[&r1, &r2]);
    s.assert_client_reaches(VIP, 0, &[&r1, &r2]);
}

#[test]
fn notify_commands_and_fifo_record_the_exact_sequence() {
    let s = setup(false);
    let out = s.path("notify.out");
    let rec = s.path("rec.sh");
    recorder(&rec, &out);
    let fifo = s.path("notify.fifo");
    let fifo_out = s.path("fifo.out");
    let r = rec.display();
    let text = format!(
        "global_defs {{\n    vrrp_notify_fifo {}\n}}\n{}",
        fifo.display(),
        instance(
            "VI_1",
            s.iface(0),
            51,
            150,
            VIP,
            &format!(
                "notify_master \"{r} master\"\nnotify_backup \"{r} backup\"\nnotify_fault \"{r} fault\"\n\
                 notify_stop \"{r} stop\"\nnotify {r}"
            )
        )
    );
    // A reader for the FIFO, as a user's notify_fifo consumer would be.
    std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    let mut reader = vrrp_tests::Proc::spawn(
        "fifo reader",
        std::process::Command::new("cat").arg(&fifo),
        &fifo_out,
    )
    .unwrap();
    let mut r1 = s.start(0, "r1", &text);
    let master = ["master", "INSTANCE VI_1 MASTER 150"];
    let backup = ["backup", "INSTANCE VI_1 BACKUP 150"];
    let fault = ["fault", "INSTANCE VI_1 FAULT 150"];
    let stop = ["stop", "INSTANCE VI_1 STOP 150"];
    let wait_lines = |n: usize| {
        wait_for(TRANSITION, || (lines(&out).len() >= n).then_some(()));
        lines(&out)
    };
    // Start-up: Backup, then Master when nobody else answers.
    s.wait_master(VIP, 0, &[&r1]);
    let mut want: Vec<&str> = [backup, master].concat();
    assert_eq!(wait_lines(want.len()), want, "{}", logs(&[&r1]));
    // Carrier lost (FAULT), and back (Backup, then Master).
    s.lan.hosts[0]
        .ns
        .ip(&["link", "set", s.iface(0), "down"])
        .unwrap();
    want.extend(fault);
    assert_eq!(wait_lines(want.len()), want, "{}", logs(&[&r1]));
    s.lan.hosts[0]
        .ns
        .ip(&["link", "set", s.iface(0), "up"])
        .unwrap();
    want.extend(backup.iter().chain(&master));
    assert_eq!(wait_lines(want.len()), want, "{}", logs(&[&r1]));
    // Stop: notify_stop runs before the agent exits.
    r1.proc.signal(libc::SIGTERM);
    assert!(r1.proc.wait_timeout(TRANSITION).is_some());
    want.extend(stop);
    assert_eq!(lines(&out), want, "{}", logs(&[&r1]));
    // The FIFO got keepalived's lines, in the same order.
    let fifo_want = [
        "INSTANCE \"VI_1\" BACKUP 150",
        "INSTANCE \"VI_1\" MASTER 150",
        "INSTANCE \"VI_1\" FAULT 150",
        "INSTANCE \"VI_1\" BACKUP 150",
        "INSTANCE \"VI_1\" MASTER 150",
        "INSTANCE \"VI_1\" STOP 150",
    ];
    wait_for(TRANSITION, || {
        (lines(&fifo_out).len() >= fifo_want.len()).then_some(())
    });
    assert_eq!(lines(&fifo_out), fifo_want, "{}", logs(&[&r1]));
    reader.signal(libc::SIGTERM);
    let _ = reader.wait_timeout(Duration::from_secs(2));
}

#[test]
fn sync_group_members_fail_over_together() {
    let s = setup(true);
    let out = s.path("group.out");
    let rec = s.path("rec.sh");
    recorder(&rec, &out);
    let r1_ns = &s.lan.hosts[0].ns;
    uplink(r1_ns);
    let group = |notify: bool| {
        format!(
            "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n{}}}\n",
            if notify {
                format!("    notify {}\n", rec.display())
            } else {
                String::new()
            }
        )
    };
    // Only VI_1 tracks the uplink on r1; its group takes VI_2 along.
    let r1 = s.start(
        0,
        "r1",
        &format!(
            "{}{}{}",
            group(true),
            instance(
                "VI_1",
                s.iface(0),
                51,
                150,
                VIP,
                "track_interface {\n upl0\n}"
            ),
            instance("VI_2", s.iface(0), 52, 150, VIP2, "")
        ),
    );
    let r2 = s.start(
        1,
        "r2",
        &format!(
            "{}{}{}",
            group(false),
            instance("VI_1", s.iface(1), 51, 100, VIP, ""),
            instance("VI_2", s.iface(1), 52, 100, VIP2, "")
        ),
    );
    let all = [&r1, &r2];
    s.wait_master(VIP, 0, &all);
    s.wait_master(VIP2, 0, &all);
    std::thread::sleep(Duration::from_millis(1200));
    r1_ns.ip(&["link", "set", "upl0", "down"]).unwrap();
    s.wait_master(VIP, 1, &all);
    s.wait_master(VIP2, 1, &all);
    s.assert_client_reaches(VIP2, 1, &all);
    wait_log(&r1, "sync group G1: member VI_1 in FAULT");
    std::thread::sleep(Duration::from_millis(1200));
    r1_ns.ip(&["link", "set", "upl0", "up"]).unwrap();
    s.wait_master(VIP, 0, &all);
    s.wait_master(VIP2, 0, &all);
    s.assert_client_reaches(VIP2, 0, &all);
    // The group's own notify saw the group's states.
    let want = [
        "GROUP G1 BACKUP 0",
        "GROUP G1 MASTER 0",
        "GROUP G1 FAULT 0",
        "GROUP G1 BACKUP 0",
        "GROUP G1 MASTER 0",
    ];
    wait_for(TRANSITION, || {
        (lines(&out).len() >= want.len()).then_some(())
    });
    assert_eq!(lines(&out), want, "{}", logs(&all));
}

#[test]
fn sighup_reloads_without_a_gap_and_rejects_a_broken_file() {
    let s = setup(false);
    let v1 = instance("VI_1", s.iface(0), 51, 150, VIP, "");
    let v2 = instance("VI_2", s.iface(0), 52, 150, VIP2, "");
    let r1 = s.start(0, "r1", &v1);
    let b1 = instance("VI_1", s.iface(1), 51, 100, VIP, "");
    let r2 = s.start(1, "r2", &b1);
    let all = [&r1, &r2];
    s.wait_master(VIP, 0, &all);
    let conf = s.path("r1.conf");
    let cap_log = s.path("cap.log");
    let cap = Capture::start(&s.lan, 120, &cap_log).unwrap();
    // State changes are the log lines with a running count.
    let transitions = |r: &Running| count(&r.proc.log_text(), " transitions=");
    let before = transitions(&r1);
    let before_r2 = transitions(&r2);
    // r1's adverts captured from `t0` on, once tcpdump has printed one from after `t1`
    // (it prints a packet a moment after it crossed; on a busy machine, a while after).
    let r1_adverts = |t0: f64, t1: f64| {
        let caught_up = wait_for(TRANSITION, || {
            cap.adverts().iter().any(|a| a.at > t1).then_some(())
        });
        assert!(caught_up.is_some(), "no advert captured after {t1:.3}");
        cap.adverts()
            .into_iter()
            .filter(|a| a.src == R1.to_string() && a.at >= t0 && a.at <= t1)
            .collect::<Vec<_>>()
    };

    // 1. The same instance, rewritten (moved down, a comment added): nothing changes.
    std::fs::write(&conf, format!("# reloaded\n\n{v1}")).unwrap();
    let t0 = epoch_secs(SystemTime::now());
    r1.proc.signal(libc::SIGHUP);
    wait_log(&r1, "configuration reloaded");
    std::thread::sleep(Duration::from_millis(500));
    let t1 = epoch_secs(SystemTime::now());
    let around = r1_adverts(t0 - 0.3, t1);
    let at: Vec<f64> = around.iter().map(|a| a.at).collect();
    // Without a gap: neither side changed state (r2 would have taken over after
    // Master_Down_Interval, 0.36 s, without adverts), r1 never resigned (a reload that
    // restarts the instance sends priority 0 first), and the adverts kept coming: at least
    // half of the schedule, with no gap of 0.5 s (5 intervals; a busy machine can delay one
    // advert, not stop them).
    assert_eq!(transitions(&r1), before, "{}", logs(&all));
    assert_eq!(transitions(&r2), before_r2, "{}", logs(&all));
    assert!(
        around.iter().all(|a| a.prio == 150),
        "r1 advertised another priority across the reload: {:?}",
        around.iter().map(|a| a.prio).collect::<Vec<_>>()
    );
    let gap = at.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let schedule = ((t1 - t0 + 0.3) / 0.1) as usize;
    assert!(
        at.len() >= schedule / 2,
        "{} adverts around the reload ({t0:.3}..{t1:.3}): {at:?}\n{}\n{}",
        at.len(),
        std::fs::read_to_string(&cap_log).unwrap_or_default(),
        logs(&all)
    );
    assert!(
        gap < 0.5,
        "an advert gap of {gap:.3} s across the reload (5 intervals)"
    );

    // 2. A broken file: rejected, the running configuration stays.
    std::fs::write(&conf, format!("{v1}\nvrrp_instance {{\n")).unwrap();
    r1.proc.signal(libc::SIGHUP);
    wait_log(&r1, "reload rejected");
    // r1 goes on advertising (5 adverts after the rejection: the positive control for the
    // "no transition" below) at its priority.
    let rejected = epoch_secs(SystemTime::now());
    let after = wait_for(TRANSITION, || {
        let n = cap
            .adverts()
            .into_iter()
            .filter(|a| a.src == R1.to_string() && a.at > rejected && a.prio == 150)
            .count();
        (n >= 5).then_some(())
    });
    assert!(
        after.is_some(),
        "r1 stopped advertising after a rejected reload\n{}",
        logs(&all)
    );
    assert_eq!(transitions(&r1), before, "{}", logs(&all));
    assert_eq!(transitions(&r2), before_r2, "{}", logs(&all));
    assert!(s.lan.hosts[0].has_addr(VIP));

    // 3. An instance added: it starts (and, alone on its VRID, becomes Master).
    std::fs::write(&conf, format!("{v1}{v2}")).unwrap();
    r1.proc.signal(libc::SIGHUP);
    let ok = wait_for(TRANSITION, || s.lan.hosts[0].has_addr(VIP2).then_some(()));
    assert!(ok.is_some(), "{}", logs(&all));
    assert!(s.lan.hosts[0].has_addr(VIP));

    // 4. VI_1 removed: stopped as on SIGTERM (priority 0), so r2 takes over at once.
    std::fs::write(&conf, &v2).unwrap();
    let t0 = epoch_secs(SystemTime::now());
    r1.proc.signal(libc::SIGHUP);
    s.wait_master(VIP, 1, &all);
    let resigned = wait_for(TRANSITION, || {
        cap.adverts()
            .into_iter()
            .any(|a| a.src == R1.to_string() && a.prio == 0 && a.at >= t0)
            .then_some(())
    });
    assert!(
        resigned.is_some(),
        "no priority-0 advert from r1 for the removed VI_1\n{}\n{}",
        std::fs::read_to_string(&cap_log).unwrap_or_default(),
        logs(&all)
    );
    assert!(s.lan.hosts[0].has_addr(VIP2), "{}", logs(&all));

    // 5. A new priority for VI_2 is taken in place: no transition, the adverts carry it.
    let before = transitions(&r1);
    std::fs::write(&conf, v2.replace("priority 150", "priority 120")).unwrap();
    let t0 = epoch_secs(SystemTime::now());
    r1.proc.signal(libc::SIGHUP);
    let ok = wait_for(TRANSITION, || {
        cap.adverts()
            .into_iter()
            .any(|a| a.src == R1.to_string() && a.prio == 120 && a.at >= t0)
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "no advert with the new priority\n{}",
        logs(&all)
    );
    // And five more at it (the positive control for "no transition").
    let five = wait_for(TRANSITION, || {
        let n = cap
            .adverts()
            .into_iter()
            .filter(|a| a.src == R1.to_string() && a.prio == 120 && a.at >= t0)
            .count();
        (n >= 6).then_some(())
    });
    assert!(five.is_some(), "{}", logs(&all));
    assert_eq!(transitions(&r1), before, "{}", logs(&all));
    assert!(s.lan.hosts[0].has_addr(VIP2));
    cap.stop();
}
