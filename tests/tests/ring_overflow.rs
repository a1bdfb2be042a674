//! Nothing is lost when the kernel's event ring buffer overflows: the agent is stopped
//! (SIGSTOP) while a storm of adverts from thousands of forged sources fills the ring (each
//! new source is one event; the ring holds about 5,400), something the election must act on
//! happens while the ring is full, and after SIGCONT the agent must end in the right state,
//! in time: it notices that `events_lost` grew and reads the peer records XDP kept.
//!
//! One agent and a forged peer on a veth pair, in namespaces named `st...`. Sources are in
//! 198.18.0.0/15; the storm is bounded (7,000 frames). Needs root.
use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_tests::{
    bpftool_counters, link_mac, start_agent, unique, veth, wait_for, Agent, Netns, PacketSocket,
    TempDir,
};

const AGENT: Ipv4Addr = Ipv4Addr::new(198, 18, 73, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 73, 2);
const VIP: &str = "198.18.73.100";
const VRID: u8 = 73;
/// More new sources than the ring holds events.
const STORM: u32 = 7000;

struct Lab {
    agent_ns: Netns,
    _peer_ns: Netns,
    a_if: String,
    dir: TempDir,
    sock: PacketSocket,
    peer_mac: vrrp_agent::wire::MacAddr,
}

impl Lab {
    fn new() -> Lab {
        let agent_ns = Netns::new("sta").unwrap();
        let peer_ns = Netns::new("stp").unwrap();
        let (a_if, p_if) = (unique("sta"), unique("stp"));
        veth(&agent_ns, &a_if, &peer_ns, &p_if).unwrap();
        agent_ns
            .ip(&["addr", "add", &format!("{AGENT}/24"), "dev", &a_if])
            .unwrap();
        peer_ns
            .ip(&["addr", "add", &format!("{PEER}/24"), "dev", &p_if])
            .unwrap();
        let sock = PacketSocket::open(&peer_ns, &p_if).unwrap();
        let peer_mac = link_mac(&peer_ns, &p_if).unwrap();
        Lab {
            agent_ns,
            _peer_ns: peer_ns,
            a_if,
            dir: TempDir::new("stl").unwrap(),
            sock,
            peer_mac,
        }
    }

    /// The agent with one v3 instance of priority 100, advert_int 1.
    fn start(&self, state: &str) -> Agent {
        let conf = format!(
            "vrrp_instance VI_1 {{\n    state {state}\n    interface {}\n    virtual_router_id {VRID}\n    \
             priority 100\n    version 3\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
            self.a_if
        );
        start_agent(&self.agent_ns, self.dir.path(), "st-ring", &conf).unwrap()
    }

    fn advert(&self, src: Ipv4Addr, priority: u8) -> Vec<u8> {
        self.advert_every(src, priority, 100)
    }

    /// An advert announcing an interval of `cs` centiseconds.
    fn advert_every(&self, src: Ipv4Addr, priority: u8, cs: u16) -> Vec<u8> {
        let repr = Repr {
            version: Version::V3,
            vrid: VRID,
            priority,
            max_adver_int: Centisecs::new(cs),
            addresses: vec![VIP.parse().unwrap()],
            auth: Auth::None,
        };
        FrameBuilder::new(&repr, Endpoints::multicast(IpAddr::V4(src)))
            .unwrap()
            .src_mac(self.peer_mac)
            .build()
    }

    /// Adverts at priority 1 from `STORM` sources never seen before, in 198.18.128.0/17
    /// (each one a new-source event, and the lowest priority, so the peer's own record is
    /// never the one evicted).
    fn storm(&self) {
        for i in 0..STORM {
            let src = Ipv4Addr::new(198, 18, 128 + (i / 250) as u8, 1 + (i % 250) as u8);
            self.sock.send(&self.advert(src, 1)).unwrap();
        }
    }

    fn has_vip(&self) -> bool {
        self.agent_ns
            .ip(&["-4", "addr", "show", "dev", &self.a_if])
            .unwrap_or_default()
            .contains(&format!("{VIP}/"))
    }

    /// Waits up to `limit` for the VIP to be `present`; how long it took.
    fn vip_becomes(&self, present: bool, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        wait_for(limit, || (self.has_vip() == present).then(|| t0.elapsed()))
    }
}

fn events_lost(agent: &Agent) -> u64 {
    bpftool_counters(&agent.pins)
        .get(&(u64::from(VRID), "events_lost".to_string()))
        .copied()
        .unwrap_or(0)
}

/// Stops the agent, runs `during` (which fills the ring), waits `hold`, resumes it.
fn stalled(agent: &Agent, hold: Duration, during: impl FnOnce()) -> Instant {
    agent.proc.signal(libc::SIGSTOP);
    during();
    std::thread::sleep(hold);
    agent.proc.signal(libc::SIGCONT);
    Instant::now()
}

#[test]
fn a_higher_priority_master_that_appeared_during_the_stall_makes_the_master_step_down() {
    let lab = Lab::new();
    let agent = lab.start("MASTER");
    assert!(
        lab.vip_becomes(true, Duration::from_secs(10)).is_some(),
        "no Master\n{}",
        agent.proc.log_text()
    );
    let resumed = stalled(&agent, Duration::from_millis(300), || {
        lab.storm();
        // Its new-source event finds the ring full.
        lab.sock.send(&lab.advert(PEER, 200)).unwrap();
    });
    // Keeps advertising (once per second, as configured) until the agent has stepped down.
    let stepped_down = wait_for(Duration::from_secs(5), || {
        lab.sock.send(&lab.advert(PEER, 200)).unwrap();
        (!lab.has_vip()).then(|| resumed.elapsed())
    });
    assert!(
        events_lost(&agent) > 0,
        "the storm did not overflow the ring"
    );
    let took = stepped_down
        .unwrap_or_else(|| panic!("still Master 5 s after SIGCONT\n{}", agent.proc.log_text()));
    // Within one Advertisement_Interval (1 s) of the agent running again; generous bound.
    assert!(took < Duration::from_secs(3), "stepped down after {took:?}");
}

#[test]
fn a_master_that_resigned_during_the_stall_is_taken_over_after_skew_time_not_master_down() {
    let lab = Lab::new();
    let agent = lab.start("BACKUP");
    // A Master of priority 200 advertising once per second.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2500) {
        lab.sock.send(&lab.advert(PEER, 200)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!lab.has_vip(), "Backup took over from a live Master");
    lab.sock.send(&lab.advert(PEER, 200)).unwrap();
    let last_advert = Instant::now();
    let resumed = stalled(&agent, Duration::from_millis(200), || {
        lab.storm();
        // Resigns (priority 0, RFC 9568 §6.4.3) while the ring is full, then goes silent.
        lab.sock.send(&lab.advert(PEER, 0)).unwrap();
    });
    let took = lab
        .vip_becomes(true, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("no takeover\n{}", agent.proc.log_text()));
    assert!(
        events_lost(&agent) > 0,
        "the storm did not overflow the ring"
    );
    // Skew_Time is (256 - 100) / 256 s = 0.61 s after the resignation; without the resign the
    // Master_Down_Interval, 3.61 s after its last advert, would have run out first.
    let since_last = resumed.duration_since(last_advert) + took;
    assert!(
        since_last < Duration::from_millis(2800),
        "took over {since_last:?} after the Master's last advert: the resignation was missed\n{}",
        agent.proc.log_text()
    );
}

#[test]
fn a_master_that_died_during_the_stall_is_taken_over_within_one_master_down_interval() {
    let lab = Lab::new();
    let agent = lab.start("BACKUP");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2500) {
        lab.sock.send(&lab.advert(PEER, 200)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!lab.has_vip(), "Backup took over from a live Master");
    // The Master goes silent; the stall outlasts its Master_Down_Interval (3.61 s), so the
    // watchdog's event finds the ring full.
    let resumed = stalled(&agent, Duration::from_millis(4000), || lab.storm());
    lab.vip_becomes(true, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("no takeover\n{}", agent.proc.log_text()));
    let took = resumed.elapsed();
    assert!(
        events_lost(&agent) > 0,
        "the storm did not overflow the ring"
    );
    assert!(
        took < Duration::from_millis(3610),
        "took over {took:?} after SIGCONT, more than one Master_Down_Interval"
    );
}

#[test]
fn a_master_that_shortened_its_interval_during_the_stall_and_died_is_taken_over_on_the_new_interval(
) {
    let lab = Lab::new();
    let agent = lab.start("BACKUP");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2500) {
        lab.sock.send(&lab.advert(PEER, 200)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!lab.has_vip(), "Backup took over from a live Master");
    let resumed = stalled(&agent, Duration::from_millis(300), || {
        lab.storm();
        // The Master now advertises every 0.1 s (its interval-change event finds the ring
        // full), then dies. Master_Down_Interval becomes 3 * 0.1 + 0.06 s.
        for _ in 0..3 {
            lab.sock.send(&lab.advert_every(PEER, 200, 10)).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    lab.vip_becomes(true, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("no takeover\n{}", agent.proc.log_text()));
    let took = resumed.elapsed();
    assert!(
        events_lost(&agent) > 0,
        "the storm did not overflow the ring"
    );
    // Already past the new Master_Down_Interval when the agent resumes; on the old interval
    // (3.61 s from the last advert) it would come about 3.3 s after SIGCONT.
    assert!(
        took < Duration::from_millis(2000),
        "took over {took:?} after SIGCONT: the new interval was missed\n{}",
        agent.proc.log_text()
    );
}
