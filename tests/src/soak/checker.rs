//! The invariant checker. Every tick (about 50 ms) it reads every router's addresses, the
//! bridge capture and the client's echo log, and decides whether the LAN is *settled*:
//! for each VRID exactly one router holds the VIP, that router advertises on the wire and
//! nobody else does, the sync group's VIPs are on one router, and the client reaches every
//! VIP. Faults open *phases*: a phase says from when the LAN must be settled again (its
//! bound); once settled it must stay so until the next fault.
use std::{
    collections::{BTreeMap, HashSet},
    net::Ipv4Addr,
};

use super::{
    faults::Kind,
    lab::{self, Lab, ADVERT_INT, GROUP, VRIDS},
    observe::{now, Pinger, Stream, Wire},
};

/// The invariants, in the order of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Inv {
    /// Not settled within the fault's bound.
    Settle,
    /// Left the settled state with no fault to explain it.
    Steady,
    /// Two Masters for one VRID outside a partition (or longer than one
    /// Master_Down_Interval after it healed).
    TwoMasters,
    /// VIP, XDP attachment or pin left behind.
    Cleanup,
    /// A panic or an error-level log line no fault explains.
    Log,
    /// RSS or descriptor growth.
    Resources,
    /// A daemon exited on its own, or did not start, or did not stop.
    Process,
}

impl Inv {
    pub const ALL: [Inv; 7] = [
        Inv::Settle,
        Inv::Steady,
        Inv::TwoMasters,
        Inv::Cleanup,
        Inv::Log,
        Inv::Resources,
        Inv::Process,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Inv::Settle => "settled within bound (one holder, one advertiser, group together, client reaches VIP)",
            Inv::Steady => "stays settled until the next fault",
            Inv::TwoMasters => "two Masters only in a partition (+ one Master_Down_Interval)",
            Inv::Cleanup => "no VIP / XDP / pin left after a stop; none after SIGKILL + restart",
            Inv::Log => "no panic, no unexplained ERROR line",
            Inv::Resources => "RSS growth < 1 MB, descriptors flat (after warm-up)",
            Inv::Process => "no daemon exits or hangs unasked",
        }
    }
}

/// One violation.
#[derive(Clone, Debug)]
pub struct Violation {
    pub inv: Inv,
    /// Seconds since the soak began.
    pub at: f64,
    pub what: String,
}

/// A fault phase: the time of its action and from when the LAN must be settled.
#[derive(Clone, Debug)]
pub struct Phase {
    pub kind: Kind,
    /// The router concerned, if one.
    pub node: Option<usize>,
    pub action_at: f64,
    /// From when S must hold (`None`: not during this phase).
    pub expect_from: Option<f64>,
    /// The bound printed in the table.
    pub bound: f64,
    /// Last time S went from false to true in this phase.
    pub settled_at: Option<f64>,
    pub settled: bool,
    pub reported: bool,
}

/// One fault, start to settled, for the outage and log attribution.
#[derive(Clone, Debug)]
pub struct FaultSpan {
    pub kind: Kind,
    pub node: Option<usize>,
    pub from: f64,
    pub to: Option<f64>,
}

/// Per fault kind: what the table shows.
#[derive(Clone, Debug, Default)]
pub struct KindStats {
    pub injected: u32,
    pub longest_settle: f64,
    pub bound: f64,
    pub longest_outage: f64,
}

pub struct Checker {
    pub t0: f64,
    pub margin: f64,
    pub violations: Vec<Violation>,
    pub phase: Option<Phase>,
    pub spans: Vec<FaultSpan>,
    pub kinds: BTreeMap<Kind, KindStats>,
    /// A partition-type fault is on.
    pub partition_on: bool,
    /// When the last partition-type fault ended.
    pub partition_healed: f64,
    /// Longest two-Master overlap seen after a partition healed (seconds).
    pub longest_heal_tail: f64,
    reported_pairs: HashSet<(u8, u64, u64)>,
    /// The last reason the LAN was not settled (for messages).
    pub last_reason: String,
    pub ticks: u64,
}

/// Window in which the holder of a VIP must have advertised.
const HOLDER_WINDOW: f64 = 6.0 * ADVERT_INT;
/// Window in which no one else may have advertised.
const OTHERS_WINDOW: f64 = 3.0 * ADVERT_INT;

impl Checker {
    pub fn new(margin: f64) -> Checker {
        Checker {
            t0: now(),
            margin,
            violations: Vec::new(),
            phase: None,
            spans: Vec::new(),
            kinds: BTreeMap::new(),
            partition_on: false,
            partition_healed: f64::NEG_INFINITY,
            longest_heal_tail: 0.0,
            reported_pairs: HashSet::new(),
            last_reason: String::new(),
            ticks: 0,
        }
    }

    /// Records a violation (and prints it at once).
    pub fn violate(&mut self, inv: Inv, what: String) {
        let at = now() - self.t0;
        let what = format!("({} UTC) {what}", super::observe::clock(now()));
        eprintln!("VIOLATION at {at:.2}s [{inv:?}] {what}");
        self.violations.push(Violation { inv, at, what });
    }

    /// A fault begins now: `expect_from` None if the LAN need not be settled while it lasts.
    pub fn begin(&mut self, kind: Kind, node: Option<usize>, bound: Option<f64>) {
        let t = now();
        self.kinds.entry(kind).or_default().injected += 1;
        self.spans.push(FaultSpan {
            kind,
            node,
            from: t,
            to: None,
        });
        self.open(kind, node, t, bound);
    }

    /// The fault's last action (the end of a hold, a restart being up) happened at `t`; the
    /// LAN must be settled by `t + bound`.
    pub fn end(&mut self, kind: Kind, node: Option<usize>, t: f64, bound: f64) {
        self.open(kind, node, t, Some(bound));
    }

    fn open(&mut self, kind: Kind, node: Option<usize>, t: f64, bound: Option<f64>) {
        let s = self.kinds.entry(kind).or_default();
        if let Some(b) = bound {
            s.bound = s.bound.max(b);
        }
        let was_settled = self.phase.as_ref().is_some_and(|p| p.settled);
        self.phase = Some(Phase {
            kind,
            node,
            action_at: t,
            expect_from: bound.map(|b| t + b),
            bound: bound.unwrap_or(0.0),
            settled_at: None,
            settled: was_settled && bound == Some(0.0),
            reported: false,
        });
    }

    /// Whether the current phase is settled and its tolerance has run out or the LAN has
    /// been settled for `quiet` seconds.
    pub fn phase_done(&self, quiet: f64) -> bool {
        let t = now();
        self.phase.as_ref().is_none_or(|p| {
            p.settled
                && (p.expect_from.is_some_and(|e| t >= e)
                    || p.settled_at.is_some_and(|s| t - s >= quiet))
        })
    }

    /// Closes the current fault's span (for outages) once it has settled or been given up.
    pub fn close_span(&mut self, pinger: &Pinger) {
        let t = now();
        let settled_at = self.phase.as_ref().and_then(|p| p.settled_at).unwrap_or(t);
        let Some(span) = self.spans.last_mut() else {
            return;
        };
        if span.to.is_some() {
            return;
        }
        span.to = Some(settled_at.max(span.from));
        let (from, to) = (span.from, settled_at.max(span.from));
        let kind = span.kind;
        let gap = pinger
            .logs
            .lock()
            .map(|l| {
                l.iter()
                    .map(|e| e.longest_gap(from, to))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0);
        let s = self.kinds.entry(kind).or_default();
        s.longest_outage = s.longest_outage.max(gap);
    }

    /// One look at the LAN.
    pub fn tick(&mut self, lab: &mut Lab, wire: &Wire, pinger: &Pinger) -> bool {
        self.ticks += 1;
        let t = now();
        let (streams, drained) = wire.snapshot();
        let t_ref = drained.min(t);
        let reason = self.settled_reason(lab, &streams, t_ref, pinger, t);
        let ok = reason.is_none();
        if let Some(r) = &reason {
            self.last_reason = r.clone();
        }
        self.two_masters(&streams);
        let Some(p) = self.phase.as_mut() else {
            return ok;
        };
        let required = p.expect_from.is_some_and(|e| t >= e);
        if ok {
            if !p.settled {
                p.settled = true;
                p.settled_at = Some(t);
                let kind = p.kind;
                let took = t - p.action_at;
                if p.expect_from.is_some() {
                    let s = self.kinds.entry(kind).or_default();
                    s.longest_settle = s.longest_settle.max(took);
                }
            }
        } else if p.settled {
            p.settled = false;
            if required {
                let (kind, since) = (p.kind, t - p.action_at);
                // A fresh phase for the recovery, so one flap is one violation.
                p.action_at = t;
                p.expect_from = Some(t + p.bound.max(1.0));
                p.reported = false;
                let r = reason.unwrap_or_default();
                self.violate(
                    Inv::Steady,
                    format!("{r} ({:.2}s after the last {} action)", since, kind.name()),
                );
            }
        } else if required && !p.reported {
            p.reported = true;
            let (kind, bound) = (p.kind, p.bound);
            let r = reason.unwrap_or_default();
            self.violate(
                Inv::Settle,
                format!("not settled {bound:.2}s after {}: {r}", kind.name()),
            );
        }
        ok
    }

    /// Why the LAN is not settled now, or `None` if it is.
    fn settled_reason(
        &mut self,
        lab: &mut Lab,
        streams: &std::collections::HashMap<(u8, Ipv4Addr), Stream>,
        t_ref: f64,
        pinger: &Pinger,
        t: f64,
    ) -> Option<String> {
        let names = lab.names();
        let mut held: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for (i, n) in lab.nodes.iter_mut().enumerate() {
            let addrs = match n.addrs.addrs() {
                Ok(a) => a,
                Err(e) => return Some(format!("cannot read {}'s addresses: {e:#}", n.name)),
            };
            for v in VRIDS {
                if addrs.contains(&lab::vip(v)) {
                    held.entry(v).or_default().push(i);
                }
            }
        }
        let mut holder_of = BTreeMap::new();
        for v in VRIDS {
            let h = held.get(&v).cloned().unwrap_or_default();
            if h.len() != 1 {
                return Some(format!(
                    "VIP {} held by [{}]",
                    lab::vip(v),
                    super::observe::names(&h, &names)
                ));
            }
            let holder = h[0];
            holder_of.insert(v, holder);
            let haddr = lab.nodes[holder].addr;
            let fresh = |s: &Stream, w: f64| s.last > t_ref - w && s.run_start.is_finite();
            if !streams
                .get(&(v, haddr))
                .is_some_and(|s| fresh(s, HOLDER_WINDOW))
            {
                return Some(format!(
                    "VRID {v}: holder {} does not advertise",
                    names[holder]
                ));
            }
            let others: Vec<String> = streams
                .iter()
                .filter(|((vv, src), s)| *vv == v && *src != haddr && fresh(s, OTHERS_WINDOW))
                .map(|((_, src), _)| src.to_string())
                .collect();
            if !others.is_empty() {
                return Some(format!(
                    "VRID {v}: {} holds the VIP but {} advertise too",
                    names[holder],
                    others.join(", ")
                ));
            }
        }
        if holder_of.get(&GROUP[0]) != holder_of.get(&GROUP[1]) {
            return Some(format!(
                "sync group split: VRID {} on {}, VRID {} on {}",
                GROUP[0], names[holder_of[&GROUP[0]]], GROUP[1], names[holder_of[&GROUP[1]]]
            ));
        }
        let logs = pinger.logs.lock().ok()?;
        for (i, v) in VRIDS.iter().enumerate() {
            if !logs[i].reachable(t) {
                let vip = lab::vip(*v);
                let neigh = lab
                    .client
                    .ip(&["neigh", "show", &vip.to_string()])
                    .unwrap_or_default();
                let mac = neigh
                    .split("lladdr ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("none");
                let owner = lab
                    .nodes
                    .iter()
                    .find(|n| n.mac == mac)
                    .map_or("no router", |n| n.name.as_str());
                return Some(format!(
                    "client gets no reply from {vip} (held by {}; the client's ARP entry: {mac}, {owner}'s)",
                    names[holder_of[v]]
                ));
            }
        }
        None
    }

    /// Two sources advertising one VRID at once for longer than a Master_Down_Interval,
    /// outside partitions (and their Master_Down_Interval after healing).
    fn two_masters(&mut self, streams: &std::collections::HashMap<(u8, Ipv4Addr), Stream>) {
        if self.partition_on {
            return;
        }
        let limit = lab::master_down_max() + self.margin_dual();
        for v in VRIDS {
            let mine: Vec<(&Ipv4Addr, &Stream)> = streams
                .iter()
                .filter(|((vv, _), s)| *vv == v && s.run_start.is_finite())
                .map(|((_, a), s)| (a, s))
                .collect();
            for (i, (a, sa)) in mine.iter().enumerate() {
                for (b, sb) in mine.iter().skip(i + 1) {
                    let healed = self.partition_healed;
                    let start = sa.run_start.max(sb.run_start);
                    let end = sa.last.min(sb.last);
                    if healed <= end && healed >= start - limit {
                        self.longest_heal_tail = self.longest_heal_tail.max(end - healed);
                    }
                    let overlap = end - start.max(healed);
                    if overlap > limit {
                        let key = (v, sa.run_start.to_bits(), sb.run_start.to_bits());
                        if self.reported_pairs.insert(key) {
                            self.violate(
                                Inv::TwoMasters,
                                format!(
                                    "VRID {v}: {a} and {b} both advertised for {overlap:.3}s (limit {limit:.3}s)"
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Scheduling margin allowed on top of the Master_Down_Interval for two Masters.
    pub fn margin_dual(&self) -> f64 {
        self.margin.min(0.25)
    }

    /// Whether a log line seen at `t` on `node` is explained by a fault on that node (or a
    /// LAN-wide one) that was going on around then.
    pub fn explained(&self, node: usize, t: f64) -> bool {
        self.spans.iter().any(|s| {
            s.node.is_none_or(|n| n == node)
                && t >= s.from - 0.5
                && s.to.is_none_or(|to| t <= to + 2.0)
        })
    }
}
