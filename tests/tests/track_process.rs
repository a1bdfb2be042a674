//! `vrrp_track_process` with real agents in network namespaces (prefix `ft`): a copy of
//! `sleep` with a name of its own is the tracked "service"; killing and restarting it moves
//! the VIP (a weight that fails over, then weight 0 = FAULT), and `terminate_delay` holds a
//! loss back. The agents learn of it from the kernel's process events, not by polling.
//!
//! The kernel delivers process events only to sockets of the initial network namespace:
//! the agents (in their own namespaces) are pointed at this test's namespace with
//! `VRRP_AGENT_PROC_EVENTS_NETNS`.
use std::{
    net::Ipv4Addr,
    path::PathBuf,
    process::Command,
    sync::Once,
    time::{Duration, Instant},
};

use vrrp_tests::{
    lab::{self, Daemon, Running},
    unique, wait_for, Lan, Proc, TempDir,
};

const VIP: &str = "198.18.6.100";
const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 6, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 6, 2);
/// Generous bound for a transition (a failover at advert_int 0.1 takes ~0.4 s).
const TRANSITION: Duration = Duration::from_secs(10);

fn point_agents_at_this_netns() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(
            "VRRP_AGENT_PROC_EVENTS_NETNS",
            format!("/proc/{}/ns/net", std::process::id()),
        );
    });
}

struct Setup {
    lan: Lan,
    dir: TempDir,
    /// A copy of `sleep` whose name (its `comm`) is unique to this test.
    program: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        point_agents_at_this_netns();
        let mut lan = Lan::new_tagged("ftsw").unwrap();
        lan.add_host("ftr1", R1).unwrap();
        lan.add_host("ftr2", R2).unwrap();
        let dir = TempDir::new("ftproc").unwrap();
        let program = dir.path().join(unique("ftsvc"));
        std::fs::copy("/bin/sleep", &program).unwrap();
        Setup { lan, dir, program }
    }

    fn name(&self) -> String {
        self.program
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The tracked service: lives 300 s at most (killed on drop before that).
    fn service(&self) -> Proc {
        Proc::spawn(
            "service",
            Command::new(&self.program).arg("300"),
            &self.dir.path().join("service.log"),
        )
        .unwrap()
    }

    fn start(&self, i: usize, tag: &str, prio: u8, extra: &str, defs: &str) -> Running {
        let iface = &self.lan.hosts[i].iface;
        let text = format!(
            "{defs}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    \
             virtual_router_id 61\n    priority {prio}\n    version 3\n    advert_int 0.1\n    \
             virtual_ipaddress {{\n        {VIP}/24\n    }}\n{extra}\n}}\n"
        );
        lab::start(
            Daemon::Agent,
            &self.lan.hosts[i],
            self.dir.path(),
            tag,
            &text,
        )
        .unwrap()
    }

    /// Waits until exactly router `i` holds the VIP.
    fn wait_master(&self, i: usize, routers: &[&Running]) {
        let j = 1 - i;
        let ok = wait_for(TRANSITION, || {
            (self.lan.hosts[i].has_addr(VIP) && !self.lan.hosts[j].has_addr(VIP)).then_some(())
        });
        assert!(
            ok.is_some(),
            "router {} should hold {VIP} alone (r1: {}, r2: {})\n{}",
            i + 1,
            self.lan.hosts[0].has_addr(VIP),
            self.lan.hosts[1].has_addr(VIP),
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

fn wait_log(r: &Running, needle: &str) {
    let ok = wait_for(TRANSITION, || {
        r.proc.log_text().contains(needle).then_some(())
    });
    assert!(ok.is_some(), "no {needle:?} in the log:\n{}", logs(&[r]));
}

/// A weight that fails over: r1 (150, weight -100 while the service is down) is Master while
/// its service runs, r2 (100) while it is dead, and r1 again once it is restarted.
#[test]
fn weight_follows_the_process() {
    let s = Setup::new();
    let service = s.service();
    let defs = format!(
        "vrrp_track_process SVC {{\n    process {}\n    weight -100\n}}",
        s.name()
    );
    let r1 = s.start(
        0,
        "r1",
        150,
        "    track_process {\n        SVC\n    }",
        &defs,
    );
    let r2 = s.start(1, "r2", 100, "", "");
    s.wait_master(0, &[&r1, &r2]);
    wait_log(&r1, "quorum=true");

    drop(service);
    s.wait_master(1, &[&r1, &r2]);
    wait_log(&r1, "quorum lost for tracked process SVC");
    wait_log(&r1, "effective priority 150 -> 50");

    let _service = s.service();
    s.wait_master(0, &[&r1, &r2]);
    wait_log(&r1, "quorum gained for tracked process SVC");
}

/// Weight 0: without the service r1 is in FAULT (r2 holds the VIP); once it runs, r1 takes
/// over; when it dies, FAULT again. `terminate_delay 2` holds the loss back: 1 s after the
/// kill r1 still holds the VIP (a busy machine only makes that longer), then it moves.
#[test]
fn weight_zero_is_fault_and_terminate_delay_holds_back() {
    let s = Setup::new();
    let defs = format!(
        "vrrp_track_process SVC {{\n    process {}\n    terminate_delay 2\n}}",
        s.name()
    );
    let r1 = s.start(
        0,
        "r1",
        150,
        "    track_process {\n        SVC\n    }",
        &defs,
    );
    let r2 = s.start(1, "r2", 100, "", "");
    wait_log(&r1, "FAULT");
    s.wait_master(1, &[&r1, &r2]);

    let service = s.service();
    s.wait_master(0, &[&r1, &r2]);

    let killed = Instant::now();
    drop(service);
    std::thread::sleep(Duration::from_secs(1).saturating_sub(killed.elapsed()));
    assert!(
        s.lan.hosts[0].has_addr(VIP),
        "r1 gave the VIP up before terminate_delay ended\n{}",
        logs(&[&r1, &r2])
    );
    s.wait_master(1, &[&r1, &r2]);
    let log = r1.proc.log_text();
    assert!(
        log.matches("FAULT").count() >= 2,
        "r1 should have entered FAULT twice:\n{log}"
    );
}
