//! The faults, their random parameters (all drawn from the seeded generator before the
//! fault runs, so the schedule depends on the seed only) and their settle bounds.
use std::time::Duration;

use super::{
    lab::{self, runs, ADVERT_INT, GROUP, RELAYED, VRIDS},
    rng::Rng,
};

/// The seed `tests/tests/soak.rs` runs.
pub const TEST_SEED: u64 = 22;

/// Kinds of fault, in the order of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Kill,
    Term,
    Link,
    Loss,
    Partition,
    Delay,
    Reorder,
    Reload,
    Health,
    Invalid,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Kill,
        Kind::Term,
        Kind::Link,
        Kind::Loss,
        Kind::Partition,
        Kind::Delay,
        Kind::Reorder,
        Kind::Reload,
        Kind::Health,
        Kind::Invalid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "SIGKILL + restart",
            Kind::Term => "SIGTERM + restart",
            Kind::Link => "link down/up",
            Kind::Loss => "packet loss (r3)",
            Kind::Partition => "partition (r3, 100% loss)",
            Kind::Delay => "delay (r3)",
            Kind::Reorder => "reordering (r3)",
            Kind::Reload => "SIGHUP, new priority",
            Kind::Health => "health check flip",
            Kind::Invalid => "invalid advert burst",
        }
    }

    /// Whether the LAN must settle while the fault lasts (after its bound from the begin):
    /// not after a SIGKILL (the dead router keeps its VIPs until its restart cleans them
    /// up), nor while r3's port drops, delays or reorders frames.
    pub fn settles_during(self) -> bool {
        !matches!(
            self,
            Kind::Kill | Kind::Loss | Kind::Partition | Kind::Delay | Kind::Reorder
        )
    }

    /// Faults during which two Masters are expected (the checker's own partitions).
    pub fn partitions(self) -> bool {
        matches!(self, Kind::Loss | Kind::Partition)
    }
}

/// One fault with its parameters.
#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: Kind,
    /// The router it hits (relay faults: r3; invalid adverts: none).
    pub node: Option<usize>,
    /// How long the fault lasts before it is undone.
    pub hold: Duration,
    /// Link: on the router's side (else the switch's).
    pub router_side: bool,
    /// Loss probability.
    pub loss: f64,
    /// Delay and jitter.
    pub delay: Duration,
    pub jitter: Duration,
    /// Reload: the new priority and the VRIDs it applies to.
    pub new_prio: u8,
    pub vrids: Vec<u8>,
    /// Invalid adverts: how many, and the seed of their contents.
    pub count: u32,
    pub seed: u64,
    /// Quiet time after the LAN settled, before the next fault.
    pub gap: Duration,
}

/// Draws the next fault.
pub fn draw(rng: &mut Rng) -> Fault {
    let kind = *rng.pick(&Kind::ALL);
    let secs = |rng: &mut Rng, lo: f64, hi: f64| Duration::from_secs_f64(rng.uniform(lo, hi));
    let mut f = Fault {
        kind,
        node: Some(rng.below(4) as usize),
        hold: Duration::ZERO,
        router_side: rng.chance(0.5),
        loss: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        new_prio: 0,
        vrids: Vec::new(),
        count: 0,
        seed: rng.next_u64(),
        gap: secs(rng, 0.3, 1.5),
    };
    match kind {
        // keepalived is the reference fourth router: only the agents are SIGKILLed
        // (keepalived 2.2.7 does not remove a killed run's VIPs at its next start).
        Kind::Kill => {
            f.node = Some(rng.below(3) as usize);
            f.hold = secs(rng, 0.2, 2.0);
        }
        Kind::Term => f.hold = secs(rng, 0.2, 2.0),
        Kind::Link | Kind::Health => f.hold = secs(rng, 0.5, 3.0),
        Kind::Loss => {
            f.node = Some(RELAYED);
            f.hold = secs(rng, 1.0, 4.0);
            f.loss = rng.uniform(0.1, 0.6);
        }
        Kind::Partition => {
            f.node = Some(RELAYED);
            f.hold = secs(rng, 0.5, 3.0);
            f.loss = 1.0;
        }
        Kind::Delay => {
            f.node = Some(RELAYED);
            f.hold = secs(rng, 1.0, 4.0);
            f.delay = Duration::from_millis(rng.range(5, 40));
        }
        Kind::Reorder => {
            f.node = Some(RELAYED);
            f.hold = secs(rng, 1.0, 4.0);
            f.jitter = Duration::from_millis(rng.range(5, 40));
        }
        Kind::Reload => {
            let node = f.node.unwrap_or(0);
            let mine: Vec<u8> = VRIDS.iter().copied().filter(|v| runs(node, *v)).collect();
            let v = *rng.pick(&mine);
            // The group's members move together, or they would fight over the group.
            f.vrids = if GROUP.contains(&v) {
                GROUP.to_vec()
            } else {
                vec![v]
            };
            f.new_prio = rng.range(50, 250) as u8;
        }
        Kind::Invalid => {
            f.node = None;
            f.count = rng.range(200, 1000) as u32;
        }
    }
    f
}

/// Time the checker needs to see a settled LAN once it is: the client's reachability
/// window (a reply to a request sent 0.3 s back) and the "nobody else advertises" window.
pub const OBSERVE: f64 = 0.4 + 3.0 * ADVERT_INT;
/// The instances' `garp_master_refresh` period (see `lab::GARP_REFRESH`).
pub const GARP_REFRESH: f64 = lab::GARP_REFRESH as f64;
/// An agent's own work at a stop or a reload (remove VIPs, send priority 0, re-read the
/// file), generously.
pub const WORK: f64 = 0.5;

/// Timer part of the settle bound of `kind` after its begin (`ending` false) or its last
/// action (`ending` true): Master_Down_Interval (at most 3.996 × advert_int) for a Backup
/// to take over, plus one advert interval for a Master to hear a better one and step down.
pub fn timers(kind: Kind, ending: bool) -> f64 {
    let mdi = lab::master_down_max();
    let takeover = mdi + ADVERT_INT;
    match (kind, ending) {
        (Kind::Invalid, _) => 0.0,
        // A restarted router waits one Master_Down_Interval as Backup, then preempts.
        (Kind::Kill | Kind::Term, true) => mdi + takeover,
        (Kind::Term, false) => WORK + takeover,
        (Kind::Reload, _) => WORK + mdi + takeover,
        (Kind::Link | Kind::Health, _) => mdi + takeover,
        (Kind::Loss | Kind::Partition | Kind::Delay | Kind::Reorder, _) => mdi + takeover,
        (Kind::Kill, false) => f64::INFINITY,
    }
}

/// The settle bound: timers + one `garp_master_refresh` period (when two routers announce
/// within milliseconds of each other, as a partition heals or a restarted router preempts
/// the one that just took over, the client may keep the MAC of the one that stepped down
/// until the Master's next refresh) + what the checker needs to see it + the scheduling
/// margin.
pub fn bound(kind: Kind, ending: bool, margin: f64) -> f64 {
    if kind == Kind::Invalid {
        return 0.0;
    }
    if !ending && !kind.settles_during() {
        return f64::INFINITY;
    }
    timers(kind, ending) + GARP_REFRESH + OBSERVE + margin
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed of `tests/tests/soak.rs`: its first 18 faults (a 90 s run injects about 24)
    /// include every kind, so the test exercises them all.
    #[test]
    fn the_test_seed_draws_every_kind_early() {
        let mut rng = Rng::new(TEST_SEED);
        let kinds: std::collections::BTreeSet<Kind> =
            (0..18).map(|_| draw(&mut rng).kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "{kinds:?}");
    }
}
