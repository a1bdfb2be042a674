//! Bytes as a scenario for two or three routers of one VRID on a simulated link with a fake
//! clock: their configuration, then a sequence of start-ups, shutdowns, priority changes,
//! faults, cut links and lost adverts. Every advert a router sends reaches the others after
//! a fixed latency unless its link is cut or the scenario loses it.
//!
//! Checked after every input a router handles: the actions are consistent (VIPs added and
//! removed in turn, exactly while Master; the state change last), a Backup always has a
//! Master_Down deadline, a Master an Adver_Timer, and no deadline is left in the past once
//! its timer ran. Checked once the scenario ends, every link is restored and the routers
//! have run for longer than any timer they can hold: exactly one Master among the routers
//! that are up (none in Initialize or Fault), never two.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_agent::election::{Action, Input, Router, RouterConfig, State, Version};
use vrrp_agent::units::{Centisecs, MonoTime};

use crate::Bytes;

/// Delay of every advert on the simulated link.
const LATENCY: Duration = Duration::from_micros(100);
/// Most scenario steps read from one input.
const MAX_STEPS: usize = 256;

struct Node {
    router: Router,
    /// VIPs held, as the actions say.
    vips: bool,
    /// The link is cut: nothing it sends arrives, nothing reaches it.
    cut: bool,
    /// Its next advert is lost.
    lose_next: bool,
}

struct Sim {
    nodes: Vec<Node>,
    now: MonoTime,
    /// Adverts in flight: (arrival, sequence) -> (to, input).
    flight: BTreeMap<(MonoTime, u64), (usize, Input)>,
    seq: u64,
}

/// Runs one scenario; returns how many routers were up (Backup or Master) once it
/// settled, so tests can show they exercised real elections.
pub fn run(data: &[u8]) -> usize {
    let mut b = Bytes::new(data);
    let n = 2 + usize::from(b.u8() % 2);
    let version = if b.u8().is_multiple_of(4) {
        Version::V2
    } else {
        Version::V3
    };
    let interval = match version {
        Version::V2 => Centisecs::new(100 * u16::from(1 + b.u8() % 3)),
        Version::V3 => Centisecs::new(b.pick(&[1, 5, 10, 100])),
    };
    let mut owner = false;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let mut priority = b.pick(&[1u8, 50, 100, 100, 150, 200, 254, 255]);
        // One address owner at most: two would each discard the other's adverts (RFC 9568
        // §7.1, the XDP program's owner conflict) and both stay Master, as they must.
        if priority == 255 && std::mem::replace(&mut owner, true) {
            priority = 254;
        }
        let delay_cs = b.pick(&[0u64, 0, 0, u64::from(interval.get()) * 2, 100]);
        let config = RouterConfig {
            priority,
            advertisement_interval: interval,
            preempt_mode: !b.u8().is_multiple_of(4),
            preempt_delay: Duration::from_millis(delay_cs * 10),
            align_adverts: b.u8().is_multiple_of(2),
            ..RouterConfig::new(version, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10 + i as u8)))
        };
        nodes.push(Node {
            router: Router::new(config),
            vips: false,
            cut: false,
            lose_next: false,
        });
    }
    let mut sim = Sim {
        nodes,
        now: MonoTime::from_since_boot(Duration::from_secs(1000)),
        flight: BTreeMap::new(),
        seq: 0,
    };
    let step = interval.as_duration() / 16;
    for _ in 0..MAX_STEPS {
        if b.is_empty() {
            break;
        }
        let op = b.u8();
        let r = usize::from(op >> 4) % n;
        match op & 0x0f {
            0..=2 => {
                let t = sim.now + step * (u32::from(b.u8()) + 1);
                sim.run_until(t);
            }
            3 | 4 => sim.input(r, Input::Startup),
            5 => sim.input(r, Input::Shutdown),
            6 => {
                let p = b.u8();
                sim.input(r, Input::PriorityChanged(p));
            }
            7 => {
                let input = if b.u8() & 1 == 0 {
                    Input::Fault
                } else {
                    Input::TrackingFault
                };
                sim.input(r, input);
            }
            8 => sim.input(r, Input::FaultCleared),
            9 => sim.nodes[r].cut = !sim.nodes[r].cut,
            10 => sim.nodes[r].lose_next = true,
            11 => sim.input(r, Input::Timer),
            _ => {
                let t = sim.now + Duration::from_micros(u64::from(b.u8()));
                sim.run_until(t);
            }
        }
    }
    // Settle: every link back, then longer than any timer: Master_Down_Interval (below
    // 4 intervals), the preempt delay, the v2/v3 skew.
    for node in &mut sim.nodes {
        node.cut = false;
        node.lose_next = false;
    }
    let settle = interval.as_duration() * 12 + Duration::from_secs(2);
    let t = sim.now + settle;
    sim.run_until(t);
    let up: Vec<usize> = (0..n)
        .filter(|&i| matches!(sim.nodes[i].router.state(), State::Backup | State::Master))
        .collect();
    let masters: Vec<usize> = up
        .iter()
        .copied()
        .filter(|&i| sim.nodes[i].router.state() == State::Master)
        .collect();
    if !up.is_empty() {
        assert_eq!(
            masters.len(),
            1,
            "after settling: Masters {masters:?} among routers up {up:?} ({})",
            sim.describe()
        );
    }
    up.len()
}

impl Sim {
    /// Hands `input` to router `r` now, then carries out what it returns.
    fn input(&mut self, r: usize, input: Input) {
        let was_handing_over = self.nodes[r].router.handing_over();
        let actions = self.nodes[r].router.handle(self.now, input);
        self.apply(r, input, &actions, was_handing_over);
    }

    /// Delivers adverts and fires timers in time order up to `t`, then sets the clock to `t`.
    fn run_until(&mut self, t: MonoTime) {
        // Bounded: a router sends at most one advert per centisecond plus one per input.
        for _ in 0..1_000_000 {
            let next_flight = self.flight.keys().next().map(|k| k.0);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.router.next_deadline())
                .min();
            let next = match (next_flight, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(x) => x,
                    None => break,
                },
            };
            if next > t {
                break;
            }
            self.now = self.now.max(next);
            if next_flight == Some(next) {
                let (_, (to, input)) = self.flight.pop_first().expect("an advert in flight");
                if !self.nodes[to].cut {
                    self.input(to, input);
                }
                continue;
            }
            for r in 0..self.nodes.len() {
                if self.nodes[r]
                    .router
                    .next_deadline()
                    .is_some_and(|d| d <= self.now)
                {
                    self.input(r, Input::Timer);
                    let d = self.nodes[r].router.next_deadline();
                    assert!(
                        d.is_none_or(|d| d > self.now),
                        "router {r}: its timer ran at {:?} and left the deadline {d:?}",
                        self.now
                    );
                }
            }
        }
        self.now = self.now.max(t);
    }

    /// Checks router `r`'s actions for `input` and sends its adverts.
    /// `was_handing_over`: the router held its VIPs for a departure before `input`; if it
    /// becomes Master again its AddVips finds them in place.
    fn apply(&mut self, r: usize, input: Input, actions: &[Action], was_handing_over: bool) {
        let now = self.now;
        let ctx = || format!("router {r} on {input:?} at {now:?}: {actions:?}");
        for (i, a) in actions.iter().enumerate() {
            match *a {
                Action::SendAdvert { priority } => {
                    let node = &self.nodes[r];
                    assert!(
                        priority == 0 || priority == node.router.effective_priority(),
                        "{}: advert priority",
                        ctx()
                    );
                    let lost = std::mem::take(&mut self.nodes[r].lose_next) || self.nodes[r].cut;
                    if !lost {
                        self.send(r, priority);
                    }
                }
                Action::AddVips => {
                    assert!(
                        !self.nodes[r].vips || was_handing_over,
                        "{}: AddVips twice",
                        ctx()
                    );
                    self.nodes[r].vips = true;
                }
                Action::RemoveVips => {
                    assert!(self.nodes[r].vips, "{}: RemoveVips without VIPs", ctx());
                    self.nodes[r].vips = false;
                }
                Action::Announce | Action::AnnounceLowerPriority => {
                    assert!(self.nodes[r].vips, "{}: announce without VIPs", ctx());
                }
                Action::StateChange { from, to, .. } => {
                    assert_eq!(i, actions.len() - 1, "{}: StateChange not last", ctx());
                    assert_ne!(from, to, "{}", ctx());
                    assert_eq!(to, self.nodes[r].router.state(), "{}", ctx());
                }
            }
        }
        let router = &self.nodes[r].router;
        let state = router.state();
        // A planned departure (shutdown, maintenance, preemption) keeps the VIPs until the
        // new Master is heard (make-before-break); otherwise VIPs exactly while Master.
        assert_eq!(
            self.nodes[r].vips,
            state == State::Master || router.handing_over(),
            "{}: VIPs vs state",
            ctx()
        );
        assert_eq!(
            router.next_deadline().is_some(),
            matches!(state, State::Backup | State::Master) || router.handing_over(),
            "{}: a deadline exactly in Backup and Master, and while handing over",
            ctx()
        );
        if state == State::Backup {
            assert!(
                router.master_down_timer().is_some(),
                "{}: a Backup without a Master_Down_Timer",
                ctx()
            );
        }
        if state == State::Master {
            assert!(
                router.adver_timer().is_some(),
                "{}: a Master without an Adver_Timer",
                ctx()
            );
        }
    }

    /// Puts router `r`'s advert on the link to every other router.
    fn send(&mut self, r: usize, priority: u8) {
        let router = &self.nodes[r].router;
        let from = router.primary_address();
        let max_adver_int = router.advertisement_interval();
        let at = self.now + LATENCY;
        for to in 0..self.nodes.len() {
            if to == r {
                continue;
            }
            self.seq += 1;
            let input = Input::Advert {
                from,
                priority,
                max_adver_int,
                received_at: at,
            };
            self.flight.insert((at, self.seq), (to, input));
        }
    }

    fn describe(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{i}: {:?} prio {} eff {} preempt {}",
                    n.router.state(),
                    n.router.priority(),
                    n.router.effective_priority(),
                    n.router.preempt_mode()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Seed scenarios: a start-up of every router, a failover by fault, a shutdown, a priority
/// change and recovery, a cut link healed.
pub fn seeds() -> Vec<Vec<u8>> {
    vec![
        vec![0, 1, 2, 0, 0, 0, 3, 0, 0, 0, 0x03, 0x13, 0x00, 0xff],
        vec![
            1, 1, 3, 1, 0, 1, 5, 1, 0, 1, 4, 0, 1, 0, 0x03, 0x13, 0x23, 0x00, 0xff, 0x07, 0x00,
            0xff, 0x08, 0x00, 0xff,
        ],
        vec![
            0, 0, 1, 3, 0, 0, 2, 4, 1, 0, 0x03, 0x13, 0x00, 0x80, 0x05, 0x00, 0x80,
        ],
        vec![
            0, 1, 0, 5, 1, 0, 4, 1, 0, 0, 0x03, 0x13, 0x00, 0x80, 0x06, 0x01, 0x00, 0x80, 0x06,
            0xfe, 0x00, 0x80,
        ],
        vec![
            0, 1, 0, 4, 0, 0, 2, 0, 0, 0, 0x03, 0x13, 0x00, 0x40, 0x09, 0x00, 0xff, 0x09, 0x00,
            0xff,
        ],
    ]
}
