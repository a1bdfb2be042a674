//! One VRRP router: the state machine of RFC 9568 §6.4 / RFC 3768 §6.4.
use std::{net::IpAddr, time::Duration};

use super::handover::Handover;
use super::timers::{master_down_interval, skew_time};
use super::types::{Action, Actions, Input, Reason, State, Version};
use crate::units::{Centisecs, MonoTime};

/// The priority of the router that owns the virtual addresses (RFC 9568 §6.1).
const OWNER_PRIORITY: u8 = 255;

/// How many senders the duplicate filter remembers. A segment has a handful of VRRP
/// routers per VRID; when more show up, the one heard longest ago is forgotten (an advert
/// from it then falls back on the per-state staleness checks).
const SEEN_CAPACITY: usize = 8;

/// The configuration of one router, named after RFC 9568 §6.1 (and keepalived where the
/// RFC has no such parameter). Validation (ranges, v2 whole seconds) belongs to `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// VRRPv2 (RFC 3768) or VRRPv3 (RFC 9568).
    pub version: Version,
    /// Priority: 255 for the address owner, 1..=254 otherwise (0 is read as 1).
    pub priority: u8,
    /// Advertisement_Interval: time between this router's adverts while Master.
    /// v2: whole seconds kept as `seconds * 100`. Less than 1 cs is read as 1 cs.
    pub advertisement_interval: Centisecs,
    /// Preempt_Mode: whether a higher-priority Backup takes over from a lower-priority
    /// Master (keepalived `nopreempt` sets it false).
    pub preempt_mode: bool,
    /// keepalived `preempt_delay`: after start-up (or leaving Fault), and after first
    /// hearing a lower-priority Master, wait this long before preempting it. Zero: none.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 9568 §6.1): carried for the data plane; the election ignores it.
    pub accept_mode: bool,
    /// The primary address (IPv4) or link-local address (IPv6) this router sends from;
    /// breaks priority ties (RFC 9568 §6.4.3).
    pub primary_address: IpAddr,
    /// Put the Adver_Timer on a grid of Advertisement_Interval on CLOCK_MONOTONIC, so that
    /// every router of a host with the same interval advertises at the same instants and the
    /// runtime wakes once and sends them in one batch. The first advert still goes out at
    /// once on becoming Master; the second follows after 0.5 to 1.5 intervals instead of
    /// exactly one (well inside every Backup's 3-interval Master_Down_Interval); from then on
    /// the schedule is exact.
    pub align_adverts: bool,
    /// keepalived `lower_prio_no_advert` (forced on by strict mode): a Master that hears a
    /// lower priority does not answer with an advert of its own (RFC 9568 §6.4.3 "Discard
    /// the ADVERTISEMENT"); the lower-priority gratuitous ARPs still go out.
    pub lower_prio_no_advert: bool,
    /// keepalived `higher_prio_send_advert` (never in strict mode): a Master that hears a
    /// higher priority sends one advert with its own before it becomes Backup, so that the
    /// new Master (if it has `garp_lower_prio_repeat`) announces the addresses again.
    pub higher_prio_send_advert: bool,
}

impl RouterConfig {
    /// The RFC 9568 §6.1 defaults: priority 100, Advertisement_Interval 1 s, Preempt_Mode
    /// true, Accept_Mode false; no preempt delay.
    pub fn new(version: Version, primary_address: IpAddr) -> Self {
        RouterConfig {
            version,
            priority: 100,
            advertisement_interval: Centisecs::new(100),
            preempt_mode: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            primary_address,
            align_adverts: false,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
        }
    }
}

/// The first Adver_Timer after becoming Master at `now`: one interval later, or with
/// `align` the next grid point of `interval` that is at least half an interval away.
fn first_adver_at(now: MonoTime, interval: Duration, align: bool) -> MonoTime {
    let step = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    if !align {
        return now + interval;
    }
    let t = now.as_nanos();
    let next = (t / step).saturating_add(1).saturating_mul(step);
    let next = if next - t < step / 2 {
        next.saturating_add(step)
    } else {
        next
    };
    MonoTime::from_nanos(next)
}

/// The Master as last known: from its adverts while Backup, ourselves while Master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterInfo {
    /// Its primary (IPv4) or link-local (IPv6) address.
    pub address: IpAddr,
    /// Its last advertised priority (0 once it resigned).
    pub priority: u8,
}

/// What armed the running Master_Down_Timer, and so what it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArmedBy {
    /// Start-up or leaving Fault: Master_Down_Interval from that moment.
    Start,
    /// An accepted advert from `from` (the Master followed): Master_Down_Interval from its
    /// `received_at`.
    Advert { from: IpAddr },
    /// A priority-0 advert: Skew_Time from its `received_at`.
    Resign { from: IpAddr },
}

/// Backup-only state.
#[derive(Clone, Copy, Debug)]
struct Backup {
    /// Master_Down_Timer: when it expires.
    down_at: MonoTime,
    /// The moment the timer counts from (an advert's `received_at`, or the start). An
    /// advert older than this carries no news for the timer.
    counted_from: MonoTime,
    armed_by: ArmedBy,
    /// The last lower-priority advert discarded to preempt its sender, if that is the
    /// newest thing heard: the takeover's reason.
    discarded_lower: Option<MasterInfo>,
    /// keepalived's `preempt_time`: lower-priority adverts received before it are still
    /// accepted. `None` with a nonzero delay: the delay starts at the next one.
    preempt_hold_until: Option<MonoTime>,
}

/// A Backup's Master_Down_Timer in the form a watchdog outside the election can keep (see
/// [`Router::master_down_watch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownWatch {
    /// When the timer started counting (start-up, or the newest advert fed in).
    pub from: MonoTime,
    /// Master_Down_Interval.
    pub down_after: Duration,
    /// Adverts with at least this priority restart it.
    pub min_priority: u8,
}

/// What a Master must be fed from the kernel's peer records (see [`Router::master_scan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterScan {
    /// Only adverts received after this are news (the moment it became Master).
    pub since: MonoTime,
    /// Only adverts with at least this priority can make it step down (its effective
    /// priority: higher wins, equal wins with a greater primary address).
    pub min_priority: u8,
}

/// Master-only state.
#[derive(Clone, Copy, Debug)]
struct Master {
    /// Adver_Timer: when the next advert is due.
    adver_at: MonoTime,
    /// When this router became Master: adverts received earlier were judged (or ignored)
    /// before that decision and are not news.
    since: MonoTime,
    /// When it last answered a lower-priority advert with an extra advert (at most one per
    /// Advertisement_Interval).
    answered_lower_at: Option<MonoTime>,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Initialize,
    Backup(Backup),
    Master(Master),
    Fault,
}

/// An advert, unpacked from [`Input::Advert`].
#[derive(Clone, Copy, Debug)]
struct Advert {
    from: IpAddr,
    priority: u8,
    max_adver_int: Centisecs,
    received_at: MonoTime,
}

/// One VRRP router for one (interface, VRID, address family): RFC 9568 §6 for v3, RFC 3768
/// §6 for v2. Sans-I/O: see the [module documentation](super) for the runtime's side.
///
/// Start-up follows the RFC, not keepalived's `state MASTER`: only the address owner
/// (priority 255) starts as Master (RFC 9568 §6.4.1); every other router starts as Backup
/// and becomes Master when its Master_Down_Timer expires. keepalived instead gives a
/// non-owner configured `state MASTER` a shortened first down timer; that is not done
/// here, the configured initial state is only a hint for the config module to warn about.
#[derive(Clone, Debug)]
pub struct Router {
    /// VRRP version.
    version: Version,
    /// Priority as configured (RFC 9568 §6.1 Priority).
    priority: u8,
    /// The priority in force: `priority` adjusted by tracking weights, 1..=254 unless the
    /// router is the address owner (then always 255). Used in adverts, Skew_Time and every
    /// comparison.
    effective_priority: u8,
    /// Advertisement_Interval: this router's interval while Master.
    advertisement_interval: Centisecs,
    /// Master_Adver_Interval: the Master's interval, learned from its adverts (v3 only;
    /// equal to `advertisement_interval` in v2, and while this router is Master).
    master_adver_interval: Centisecs,
    /// Skew_Time = ((256 - effective_priority) * Master_Adver_Interval) / 256 (v3), or
    /// (256 - effective_priority) / 256 s (v2).
    skew_time: Duration,
    /// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
    master_down_interval: Duration,
    /// Preempt_Mode.
    preempt_mode: bool,
    /// keepalived preempt_delay.
    preempt_delay: Duration,
    /// Accept_Mode (carried, not used by the election).
    accept_mode: bool,
    /// Source of our adverts; the tie-breaker.
    primary_address: IpAddr,
    /// Adver_Timer on a shared grid (see [`RouterConfig::align_adverts`]).
    align_adverts: bool,
    /// See [`RouterConfig::lower_prio_no_advert`].
    lower_prio_no_advert: bool,
    /// See [`RouterConfig::higher_prio_send_advert`].
    higher_prio_send_advert: bool,
    phase: Phase,
    /// Set by `Input::Fault`, cleared by `Input::FaultCleared`; outlives Shutdown so that
    /// a router started while faulty starts in Fault.
    faulty: bool,
    /// The Master as last known (Backup); `None` in Initialize and Fault.
    heard_master: Option<MasterInfo>,
    /// Newest `received_at` handled per sender: the duplicate filter.
    seen: Vec<(IpAddr, MonoTime)>,
    /// A planned departure that still holds the VIPs (make-before-break, see
    /// [`handover`](super::handover)); in any state but Master.
    handover: Option<Handover>,
    /// `vrrp-agent maintenance on`: the effective priority is 1 until off.
    maintenance: bool,
    /// The effective priority tracking asks for (applied when not in maintenance).
    tracked_priority: u8,
}

impl Router {
    /// A router in Initialize. Nothing happens until `Input::Startup`.
    pub fn new(config: RouterConfig) -> Router {
        let priority = config.priority.max(1);
        let advertisement_interval = at_least_one_cs(config.advertisement_interval);
        let mut router = Router {
            version: config.version,
            priority,
            effective_priority: priority,
            advertisement_interval,
            master_adver_interval: advertisement_interval,
            skew_time: Duration::ZERO,
            master_down_interval: Duration::ZERO,
            preempt_mode: config.preempt_mode,
            preempt_delay: config.preempt_delay,
            accept_mode: config.accept_mode,
            primary_address: config.primary_address,
            align_adverts: config.align_adverts,
            lower_prio_no_advert: config.lower_prio_no_advert,
            higher_prio_send_advert: config.higher_prio_send_advert,
            phase: Phase::Initialize,
            faulty: false,
            heard_master: None,
            seen: Vec::with_capacity(SEEN_CAPACITY),
            handover: None,
            maintenance: false,
            tracked_priority: priority,
        };
        router.recompute_intervals();
        router
    }

    /// Feeds one input at time `now` and returns what to do, in order.
    pub fn handle(&mut self, now: MonoTime, input: Input) -> Actions {
        let mut out = Actions::new();
        match input {
            Input::Startup => self.on_startup(now, &mut out),
            Input::Shutdown => self.on_shutdown(now, &mut out),
            Input::Timer => self.on_timer(now, &mut out),
            Input::Advert {
                from,
                priority,
                max_adver_int,
                received_at,
            } => {
                let advert = Advert {
                    from,
                    priority,
                    max_adver_int,
                    received_at,
                };
                self.on_advert(now, advert, &mut out)
            }
            Input::PriorityChanged(priority) => self.on_priority_changed(priority),
            Input::Fault => self.on_fault(&mut out),
            Input::TrackingFault => self.on_tracking_fault(now, &mut out),
            Input::FaultCleared => self.on_fault_cleared(now, &mut out),
            Input::GroupMaster => {
                if let Phase::Backup(_) = self.phase {
                    self.become_master(now, State::Backup, Reason::SyncGroup, &mut out);
                }
            }
            Input::GroupBackup => self.on_group_backup(now, &mut out),
            Input::VipRemoved => self.on_vip_removed(now, &mut out),
            Input::Maintenance(on) => self.on_maintenance(now, on, &mut out),
            Input::ReleaseVips => self.release_handover(&mut out),
        }
        out
    }

    /// When `Input::Timer` is next due: Master_Down_Timer in Backup, Adver_Timer in Master,
    /// `None` in Initialize and Fault. May be at or before the last `now` after an advert
    /// handed in late; the runtime then calls `Input::Timer` at once.
    pub fn next_deadline(&self) -> Option<MonoTime> {
        let phase = match self.phase {
            Phase::Backup(b) => Some(b.down_at),
            Phase::Master(m) => Some(m.adver_at),
            Phase::Initialize | Phase::Fault => None,
        };
        let backup = matches!(self.phase, Phase::Backup(_));
        let handover = self.handover.map(|h| h.wake_at(backup));
        phase.into_iter().chain(handover).min()
    }

    /// Whether a planned departure still holds the VIPs, waiting for the new Master.
    pub fn handing_over(&self) -> bool {
        self.handover.is_some()
    }

    /// Whether a running handover has heard the new Master (its VIPs go after the grace).
    pub fn handover_heard(&self) -> bool {
        self.handover.is_some_and(|h| h.heard())
    }

    /// When a running handover lets the VIPs go (if nobody is heard sooner, its bound);
    /// `None` also while it waits in Backup for its own Master_Down_Timer (see
    /// [`Handover::deadline`]).
    pub fn handover_deadline(&self) -> Option<MonoTime> {
        let backup = matches!(self.phase, Phase::Backup(_));
        self.handover.and_then(|h| h.deadline(backup))
    }

    /// When a running handover wants the kernel's records fed (see
    /// [`HANDOVER_POLL`](super::handover::HANDOVER_POLL)) or lets the VIPs go; the runtime
    /// feeds the records as [`Input::Advert`] before `Input::Timer` at that moment.
    pub fn handover_wake(&self) -> Option<MonoTime> {
        let backup = matches!(self.phase, Phase::Backup(_));
        self.handover.map(|h| h.wake_at(backup))
    }

    /// Whether `vrrp-agent maintenance on` is in force.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance
    }

    /// The current state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Initialize => State::Initialize,
            Phase::Backup(_) => State::Backup,
            Phase::Master(_) => State::Master,
            Phase::Fault => State::Fault,
        }
    }

    /// VRRP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Priority as configured.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// A new configured priority (reload), neither the old nor the new one 255: the
    /// address owner starts differently, so that takes a restart. The effective priority
    /// follows through `Input::PriorityChanged`, as for tracking; returns false (and changes
    /// nothing) for an owner change.
    pub fn set_priority(&mut self, priority: u8) -> bool {
        let priority = priority.max(1);
        if priority == OWNER_PRIORITY || self.priority == OWNER_PRIORITY {
            return priority == self.priority;
        }
        self.priority = priority;
        true
    }

    /// A new Advertisement_Interval (reload), taken in place. A Master's next advert carries
    /// it: the advert already scheduled goes out no later than one new interval from `now`
    /// (1.5 with `align_adverts`, on the grid), and the following ones keep the new
    /// interval. A v3 Backup goes on with the
    /// Master_Adver_Interval it learned (the Master's adverts teach it the new one); in v2
    /// Master_Adver_Interval is the configured one (RFC 3768 §6.1), so it follows at once.
    pub fn set_advertisement_interval(&mut self, now: MonoTime, interval: Centisecs) {
        let interval = at_least_one_cs(interval);
        if interval == self.advertisement_interval {
            return;
        }
        self.advertisement_interval = interval;
        match self.phase {
            Phase::Master(mut m) => {
                self.master_adver_interval = interval;
                // Back on the shared grid when that is sooner (see `align_adverts`).
                let next = first_adver_at(now, interval.as_duration(), self.align_adverts);
                m.adver_at = m.adver_at.min(next);
                self.phase = Phase::Master(m);
            }
            Phase::Backup(_) if self.version == Version::V3 => {}
            Phase::Backup(_) | Phase::Initialize | Phase::Fault => {
                self.master_adver_interval = interval;
            }
        }
        self.recompute_intervals();
    }

    /// New Preempt_Mode and preempt_delay (reload), taken in place: the next advert is
    /// judged with them. A changed delay in Backup starts again at the next lower-priority
    /// advert (as after hearing a Master we would not preempt).
    pub fn set_preempt(&mut self, preempt_mode: bool, preempt_delay: Duration) {
        self.preempt_mode = preempt_mode;
        if preempt_delay == self.preempt_delay {
            return;
        }
        self.preempt_delay = preempt_delay;
        if let Phase::Backup(mut b) = self.phase {
            b.preempt_hold_until = None;
            self.phase = Phase::Backup(b);
        }
    }

    /// The priority in force after tracking (what adverts carry).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// Advertisement_Interval (configured).
    pub fn advertisement_interval(&self) -> Centisecs {
        self.advertisement_interval
    }

    /// Master_Adver_Interval: learned from the Master's adverts (v3), else configured.
    pub fn master_adver_interval(&self) -> Centisecs {
        self.master_adver_interval
    }

    /// Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 (v3);
    /// (256 - Priority) / 256 s (v2). Priority is the effective priority.
    pub fn skew_time(&self) -> Duration {
        self.skew_time
    }

    /// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_down_interval
    }

    /// Preempt_Mode.
    pub fn preempt_mode(&self) -> bool {
        self.preempt_mode
    }

    /// keepalived preempt_delay.
    pub fn preempt_delay(&self) -> Duration {
        self.preempt_delay
    }

    /// Accept_Mode, carried for the data plane.
    pub fn accept_mode(&self) -> bool {
        self.accept_mode
    }

    /// The address adverts are sent from; the tie-breaker.
    pub fn primary_address(&self) -> IpAddr {
        self.primary_address
    }

    /// A new source address (the interface was re-created with another link-local or
    /// primary address): the next equal-priority tie-break (RFC 9568 §6.4.3) compares it.
    pub fn set_primary_address(&mut self, address: IpAddr) {
        self.primary_address = address;
    }

    /// Whether `Input::Fault` is in force (the router is, or will start, in Fault).
    pub fn is_faulty(&self) -> bool {
        self.faulty
    }

    /// The Master as last known: this router while Master; the sender of the newest advert
    /// heard while Backup (priority 0 once it resigned); `None` in Initialize and Fault and
    /// while no advert has been heard since entering Backup.
    pub fn current_master(&self) -> Option<MasterInfo> {
        match self.phase {
            Phase::Master(_) => Some(MasterInfo {
                address: self.primary_address,
                priority: self.effective_priority,
            }),
            Phase::Backup(_) => self.heard_master,
            Phase::Initialize | Phase::Fault => None,
        }
    }

    /// Master_Down_Timer, when running (Backup).
    pub fn master_down_timer(&self) -> Option<MonoTime> {
        match self.phase {
            Phase::Backup(b) => Some(b.down_at),
            _ => None,
        }
    }

    /// The Master_Down_Timer as a watchdog can keep it without asking the election:
    /// "`down_after` after `from` or after the newest advert with a priority of at least
    /// `min_priority`, whichever is later". `None` when the running timer is not of that
    /// form: not in Backup, after a priority-0 advert or a lower priority from the followed
    /// Master (Skew_Time), or with a preempt_delay (whose lower-priority adverts count only
    /// for a while). An advert that would change the form (priority 0, another interval)
    /// reaches the election as an event anyway.
    pub fn master_down_watch(&self) -> Option<DownWatch> {
        let Phase::Backup(b) = self.phase else {
            return None;
        };
        // A handover's deadline is the election's to keep, not the watchdog's.
        if self.handover.is_some()
            || !self.preempt_delay.is_zero()
            || matches!(b.armed_by, ArmedBy::Resign { .. })
            || b.down_at != b.counted_from + self.master_down_interval
        {
            return None;
        }
        Some(DownWatch {
            from: b.counted_from,
            down_after: self.master_down_interval,
            // RFC 9568 §6.4.2: an advert resets the timer if Preempt_Mode is False or its
            // priority is at least ours (0 never: it resigns).
            min_priority: if self.preempt_mode {
                self.effective_priority
            } else {
                1
            },
        })
    }

    /// While Master: which of the kernel's peer records the runtime must feed as
    /// [`Input::Advert`] so that no advert that beats this router goes unheard. XDP raises
    /// an event only on a change (new or returning source, priority, interval), so a known
    /// peer that comes back within three intervals at the priority it had (a Backup that
    /// preempts a Master whose priority just fell) raises none. Feeding every record
    /// received after `since` with a priority of at least `min_priority`, once per
    /// Adver_Timer, makes the Master step down within one Advertisement_Interval whatever
    /// the events did (or a full ring buffer lost). Records fed twice change nothing.
    /// `None` outside Master.
    pub fn master_scan(&self) -> Option<MasterScan> {
        let Phase::Master(m) = self.phase else {
            return None;
        };
        Some(MasterScan {
            since: m.since,
            min_priority: self.effective_priority,
        })
    }

    /// Adver_Timer, when running (Master).
    pub fn adver_timer(&self) -> Option<MonoTime> {
        match self.phase {
            Phase::Master(m) => Some(m.adver_at),
            _ => None,
        }
    }

    // ----- events -----

    fn on_startup(&mut self, now: MonoTime, out: &mut Actions) {
        // RFC 9568 §6.4.1: Startup is only an event in Initialize.
        if !matches!(self.phase, Phase::Initialize) {
            return;
        }
        if self.faulty {
            // keepalived: an instance whose tracking is down at start-up starts in FAULT.
            self.phase = Phase::Fault;
            out.push(state_change(State::Initialize, State::Fault, Reason::Fault));
            return;
        }
        self.start(now, State::Initialize, out);
    }

    /// RFC 9568 §6.4.1 (RFC 3768 §6.4.1) Startup, also used when leaving Fault.
    fn start(&mut self, now: MonoTime, from: State, out: &mut Actions) {
        let owner = self.effective_priority == OWNER_PRIORITY;
        if owner {
            // RFC 9568 §6.4.1 / RFC 3768 §6.4.1: "If the Priority = 255": send an
            // ADVERTISEMENT, announce, set Adver_Timer, transition to Master.
            let reason = if from == State::Initialize {
                Reason::StartupOwner
            } else {
                Reason::FaultCleared
            };
            self.become_master(now, from, reason, out);
        } else {
            // RFC 9568 §6.4.1 / RFC 3768 §6.4.1 else-branch: Master_Adver_Interval =
            // Advertisement_Interval, Master_Down_Timer = Master_Down_Interval, Backup.
            self.master_adver_interval = self.advertisement_interval;
            self.recompute_intervals();
            self.heard_master = None;
            let preempt_hold_until =
                (!self.preempt_delay.is_zero()).then(|| now + self.preempt_delay);
            self.phase = Phase::Backup(Backup {
                down_at: now + self.master_down_interval,
                counted_from: now,
                armed_by: ArmedBy::Start,
                discarded_lower: None,
                preempt_hold_until,
            });
            let reason = if from == State::Initialize {
                Reason::Startup
            } else {
                Reason::FaultCleared
            };
            out.push(state_change(from, State::Backup, reason));
        }
    }

    fn on_shutdown(&mut self, now: MonoTime, out: &mut Actions) {
        match self.phase {
            // Nothing to shut down.
            Phase::Initialize => return,
            // RFC 9568 §6.4.2 / RFC 3768 §6.4.2: Shutdown in Backup: cancel the
            // Master_Down_Timer, transition to Initialize. No advert.
            Phase::Backup(_) => {}
            // RFC 9568 §6.4.3 / RFC 3768 §6.4.3: Shutdown in Master: cancel the Adver_Timer,
            // send an ADVERTISEMENT with Priority 0, transition to Initialize. The VIPs go
            // too (keepalived: SIGTERM removes them).
            // Make-before-break: the VIPs stay until the new Master is heard (see
            // `handover`); the next `Input::Timer` past `next_deadline` removes them.
            Phase::Master(_) => {
                out.push(Action::SendAdvert { priority: 0 });
                self.start_handover(now);
            }
            // Fault holds nothing; only the state changes.
            Phase::Fault => {}
        }
        let from = self.state();
        self.phase = Phase::Initialize;
        self.heard_master = None;
        self.seen.clear();
        out.push(state_change(from, State::Initialize, Reason::Shutdown));
    }

    fn on_timer(&mut self, now: MonoTime, out: &mut Actions) {
        // A departure's VIPs go once the new Master's announcement had its grace, or at the
        // give-up bound.
        let backup = matches!(self.phase, Phase::Backup(_));
        if self
            .handover
            .is_some_and(|h| h.deadline(backup).is_some_and(|d| d <= now))
        {
            self.release_handover(out);
        } else if let Some(h) = &mut self.handover {
            h.polled(now);
        }
        match self.phase {
            Phase::Backup(b) if b.down_at <= now => {
                // RFC 9568 §6.4.2 / RFC 3768 §6.4.2: "If the Master_Down_Timer fires": send
                // an ADVERTISEMENT, announce, set Adver_Timer, transition to Master.
                let reason = match (b.discarded_lower, b.armed_by) {
                    (Some(lower), _) => Reason::Preempting {
                        priority: lower.priority,
                        from: lower.address,
                    },
                    (None, ArmedBy::Resign { from }) => Reason::MasterResigned { from },
                    (None, ArmedBy::Start | ArmedBy::Advert { .. }) => Reason::MasterDown {
                        after: b.down_at.saturating_since(b.counted_from),
                    },
                };
                self.become_master(now, State::Backup, reason, out);
            }
            Phase::Master(mut m) if m.adver_at <= now => {
                // RFC 9568 §6.4.3 / RFC 3768 §6.4.3: "If the Adver_Timer fires": send an
                // ADVERTISEMENT, reset the Adver_Timer to Advertisement_Interval. The next
                // deadline keeps the nominal schedule (previous deadline + interval), so the
                // runtime's wake-up latency does not add up from advert to advert; if the
                // runtime is more than an interval late it restarts from `now` instead, so it
                // never sends a burst to catch up.
                out.push(Action::SendAdvert {
                    priority: self.effective_priority,
                });
                let interval = self.advertisement_interval.as_duration();
                let nominal = m.adver_at + interval;
                m.adver_at = if nominal > now {
                    nominal
                } else {
                    now + interval
                };
                self.phase = Phase::Master(m);
            }
            // Not due yet, or no timer in this state.
            _ => {}
        }
    }

    fn on_advert(&mut self, now: MonoTime, advert: Advert, out: &mut Actions) {
        // A departure listens in every state (after SIGTERM it is in Initialize): the first
        // advert of someone else is the new Master's.
        if let Some(h) = &mut self.handover {
            h.advert(advert.from, advert.priority, advert.received_at);
        }
        // RFC 9568 §6.4.1: in Initialize adverts are not processed; keepalived likewise
        // ignores adverts in FAULT.
        if !matches!(self.phase, Phase::Backup(_) | Phase::Master(_)) {
            return;
        }
        // Lazy feeding: the same kernel record may be handed in more than once, or an older
        // one after a newer one. Only a strictly newer advert from a sender is news.
        if !self.note_seen(advert.from, advert.received_at) {
            return;
        }
        // RFC 3768 §7.1: a v2 advert whose Adver Int differs from ours MUST be discarded
        // (the XDP program already does; this keeps the machine right on its own).
        if self.version == Version::V2 && advert.max_adver_int != self.advertisement_interval {
            return;
        }
        match self.phase {
            Phase::Backup(b) => self.backup_advert(b, advert),
            Phase::Master(m) => self.master_advert(now, m, advert, out),
            Phase::Initialize | Phase::Fault => {}
        }
    }

    /// RFC 9568 §6.4.2 / RFC 3768 §6.4.2: "If an ADVERTISEMENT is received" in Backup.
    /// Never produces actions: a Backup only re-arms its timer.
    fn backup_advert(&mut self, mut b: Backup, advert: Advert) {
        let Advert {
            from,
            priority,
            max_adver_int,
            received_at,
        } = advert;
        // The timer already counts from a newer advert (or from start-up): this one is
        // stale and carries no news (it would only pull the timer back).
        if received_at < b.counted_from {
            return;
        }
        if priority == 0 {
            // RFC 9568 §6.4.2 / RFC 3768 §6.4.2: "If the Priority in the ADVERTISEMENT is
            // zero, then: Set the Master_Down_Timer to Skew_Time" (from its arrival).
            b.down_at = received_at + self.skew_time;
            b.counted_from = received_at;
            b.armed_by = ArmedBy::Resign { from };
            b.discarded_lower = None;
        } else if !self.preempt_mode
            || priority >= self.effective_priority
            || self.preempt_held(&mut b, priority, received_at)
        {
            // RFC 9568 §6.4.2: "If Preempt_Mode is False, or if the Priority in the
            // ADVERTISEMENT is greater than or equal to the local Priority": set
            // Master_Adver_Interval to the advert's interval (v3 only, RFC 3768 §6.4.2 has
            // no such step), recompute Skew_Time and Master_Down_Interval, reset the
            // Master_Down_Timer to Master_Down_Interval. keepalived's preempt_delay adds a
            // third way in: a lower priority heard before the delay ran out.
            if self.version == Version::V3 {
                self.master_adver_interval = at_least_one_cs(max_adver_int);
                self.recompute_intervals();
            }
            b.down_at = received_at + self.master_down_interval;
            b.counted_from = received_at;
            b.armed_by = ArmedBy::Advert { from };
            b.discarded_lower = None;
            if priority >= self.effective_priority {
                // keepalived: a Master we would not preempt stops the preempt delay.
                b.preempt_hold_until = None;
            }
        } else {
            // RFC 9568 §6.4.2 / RFC 3768 §6.4.2 "else (Priority less than local Priority and
            // Preempt_Mode True): Discard the ADVERTISEMENT"; remember whom it preempts for
            // the log. The RFC lets the Master_Down_Timer run out (up to three intervals
            // after the last accepted advert). When the lower priority comes from the Master
            // this router has been following (its tracking lowered it), we take over one
            // Skew_Time after it instead, as after a priority-0 advert: such a Master hands
            // over within one advert interval plus our skew, and Backups of different
            // priorities still act in priority order. A lower priority from anyone else (a
            // third router, a flood) changes nothing while the followed Master lives.
            if matches!(b.armed_by, ArmedBy::Advert { from: m } if m == from) {
                b.down_at = b.down_at.min(received_at + self.skew_time);
            }
            b.discarded_lower = Some(MasterInfo {
                address: from,
                priority,
            });
        }
        self.heard_master = Some(MasterInfo {
            address: from,
            priority,
        });
        self.phase = Phase::Backup(b);
    }

    /// keepalived `preempt_delay` (vrrp_state_backup): whether a lower-priority advert is
    /// still accepted because the delay has not run out. A higher-or-equal priority advert
    /// stops the delay (done here for every accepted advert with a priority of at least
    /// ours); the first lower-priority one after that starts it. Start-up and leaving Fault
    /// start it too (see `start`).
    fn preempt_held(&self, b: &mut Backup, priority: u8, received_at: MonoTime) -> bool {
        debug_assert!(priority < self.effective_priority);
        if self.preempt_delay.is_zero() {
            return false;
        }
        match b.preempt_hold_until {
            None => {
                b.preempt_hold_until = Some(received_at + self.preempt_delay);
                true
            }
            Some(until) => received_at < until,
        }
    }

    /// RFC 9568 §6.4.3 / RFC 3768 §6.4.3: "If an ADVERTISEMENT is received" in Master.
    fn master_advert(&mut self, now: MonoTime, mut m: Master, advert: Advert, out: &mut Actions) {
        let Advert {
            from,
            priority,
            max_adver_int,
            received_at,
        } = advert;
        // Received before this router became Master: it was judged (or was older than the
        // Master_Down_Interval) when the decision was taken, so it is not news now.
        if received_at < m.since {
            return;
        }
        let local = self.effective_priority;
        if priority == 0 {
            // RFC 9568 §6.4.3 / RFC 3768 §6.4.3: "If the Priority in the ADVERTISEMENT is
            // zero, then: Send an ADVERTISEMENT; Reset the Adver_Timer to
            // Advertisement_Interval".
            out.push(Action::SendAdvert { priority: local });
            m.adver_at = now + self.advertisement_interval.as_duration();
            self.phase = Phase::Master(m);
            return;
        }
        let reason = if priority > local {
            Reason::HigherPriority { priority, from }
        } else if priority == local && address_greater(from, self.primary_address) {
            Reason::EqualPriorityHigherAddress { priority, from }
        } else {
            // RFC 9568 §6.4.3 / RFC 3768 §6.4.3 "else: Discard ADVERTISEMENT". keepalived
            // (vrrp_state_master_rx) answers a lower priority (or an equal one from a lower
            // address) at once: an advert with our priority, so that a router that believes
            // it is Master hears us now rather than at our next Adver_Timer, and the
            // garp_lower_prio_repeat gratuitous ARPs (again after garp_lower_prio_delay).
            // Unlike keepalived, at most once per Advertisement_Interval: a flood of
            // lower-priority adverts must not become a flood of ours. The Adver_Timer keeps
            // its schedule (keepalived restarts it after its answer, vrrp_scheduler.c
            // "If we have sent an advert, reset the timer"; here it stays on the grid of
            // `align_adverts`). With `lower_prio_no_advert` (strict mode) there is no answering
            // advert, as the RFC says; the gratuitous ARPs (none in strict mode) and the
            // notification stay (keepalived).
            let due = m
                .answered_lower_at
                .is_none_or(|at| now >= at + self.advertisement_interval.as_duration());
            if due {
                m.answered_lower_at = Some(now);
                self.phase = Phase::Master(m);
                if !self.lower_prio_no_advert {
                    out.push(Action::SendAdvert { priority: local });
                }
                out.push(Action::AnnounceLowerPriority);
            }
            return;
        };
        // RFC 9568 §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local
        // Priority or [equal and] the primary IPvX Address of the sender is greater than the
        // local primary IPvX Address": cancel Adver_Timer, set Master_Adver_Interval to the
        // advert's interval (v3), recompute Skew_Time and Master_Down_Interval, set the
        // Master_Down_Timer to Master_Down_Interval, transition to Backup. RFC 3768 §6.4.3
        // is the same without the interval. Leaving Master releases the VIPs.
        //
        // An address owner cannot see a higher priority (255 is the maximum); two owners
        // (a misconfiguration) tie-break like anyone else.
        //
        // keepalived `higher_prio_send_advert` (vrrp_state_master_rx): one advert with our
        // priority first, which the new Master hears as a lower priority.
        if self.higher_prio_send_advert {
            out.push(Action::SendAdvert { priority: local });
        }
        if self.version == Version::V3 {
            self.master_adver_interval = at_least_one_cs(max_adver_int);
        }
        self.recompute_intervals();
        self.phase = Phase::Backup(Backup {
            down_at: received_at + self.master_down_interval,
            counted_from: received_at,
            armed_by: ArmedBy::Advert { from },
            discarded_lower: None,
            // The advert that sends us to Backup has a priority of at least ours, which
            // stops any preempt delay (keepalived).
            preempt_hold_until: None,
        });
        self.heard_master = Some(MasterInfo {
            address: from,
            priority,
        });
        // RFC 9568 §6.4.3 releases the VIPs here. The advert that preempts us was sent
        // just before the new Master adds them and announces them: keep answering for the
        // grace of `handover`, so the client never has no one to send to (the RFC's "MUST
        // NOT accept packets for the VIPs" then holds from the end of the grace).
        self.handover = Some(Handover::heard_already(
            now,
            self.primary_address,
            received_at,
        ));
        out.push(state_change(State::Master, State::Backup, reason));
    }

    fn on_priority_changed(&mut self, priority: u8) {
        // keepalived vrrp_set_effective_priority: an address owner's priority never moves;
        // anyone else stays within 1..=254 (0 would mean resigning, 255 claiming ownership).
        if self.priority == OWNER_PRIORITY {
            return;
        }
        let priority = priority.clamp(1, OWNER_PRIORITY - 1);
        self.tracked_priority = priority;
        if self.maintenance {
            return;
        }
        self.set_effective(priority);
    }

    /// Puts `priority` in force (recomputing the timers), as `Input::PriorityChanged` does.
    fn set_effective(&mut self, priority: u8) {
        if priority == self.effective_priority {
            return;
        }
        self.effective_priority = priority;
        self.recompute_intervals();
        // RFC 9568 §6.1 defines Skew_Time from the local Priority, so the next reset uses
        // the new value. Like keepalived, a running Master_Down_Timer is also shortened when
        // the new skew makes it expire sooner (a Backup whose priority rose should not wait
        // out the old, longer skew); it is never lengthened. A Master's next advert carries
        // the new priority; no advert is sent early.
        if let Phase::Backup(mut b) = self.phase {
            let run = match b.armed_by {
                ArmedBy::Resign { .. } => self.skew_time,
                ArmedBy::Start | ArmedBy::Advert { .. } => self.master_down_interval,
            };
            b.down_at = b.down_at.min(b.counted_from + run);
            self.phase = Phase::Backup(b);
        }
    }

    /// `vrrp-agent maintenance on|off` (see `Input::Maintenance`).
    fn on_maintenance(&mut self, now: MonoTime, on: bool, out: &mut Actions) {
        if on == self.maintenance {
            return;
        }
        self.maintenance = on;
        if !on {
            // The tracked priority is back (an owner's is its 255); a Backup's running
            // timer is shortened if that makes it expire sooner, as for tracking.
            let priority = if self.priority == OWNER_PRIORITY {
                OWNER_PRIORITY
            } else {
                self.tracked_priority
            };
            self.set_effective(priority);
            return;
        }
        // An address owner in maintenance advertises 1 as well: nothing else lets a Backup
        // take its addresses.
        self.set_effective(1);
        if !matches!(self.phase, Phase::Master(_)) {
            return;
        }
        // Resign once with priority 0 (RFC 9568 §6.4.3 Shutdown's advert), hand the VIPs
        // over, and wait as Backup of priority 1: the new Master's adverts keep it there;
        // with nobody else, its Master_Down_Timer makes it Master again (the VIPs were
        // held all along).
        out.push(Action::SendAdvert { priority: 0 });
        self.start_handover(now);
        self.master_adver_interval = self.advertisement_interval;
        self.recompute_intervals();
        self.phase = Phase::Backup(Backup {
            down_at: now + self.master_down_interval,
            counted_from: now,
            armed_by: ArmedBy::Start,
            discarded_lower: None,
            preempt_hold_until: None,
        });
        self.heard_master = None;
        out.push(state_change(
            State::Master,
            State::Backup,
            Reason::Maintenance,
        ));
    }

    /// Starts a departure at `now`: the VIPs stay until the new Master is heard (see
    /// [`handover`](super::handover)). One already under way goes on (it started earlier).
    fn start_handover(&mut self, now: MonoTime) {
        if self.handover.is_none() {
            self.handover = Some(Handover::start(
                now,
                self.primary_address,
                self.version,
                self.advertisement_interval,
            ));
        }
    }

    /// Ends a departure: its VIPs go now.
    fn release_handover(&mut self, out: &mut Actions) {
        if self.handover.take().is_some() {
            out.push(Action::RemoveVips);
        }
    }

    /// keepalived vrrp_sync_backup: another member of the sync group left Master, so this
    /// one does too. It stops advertising (no priority-0 advert: the peer's group follows
    /// its own member that took over) and waits a full Master_Down_Interval as Backup.
    /// Its VIPs are handed over like its member's (make-before-break): they stay until
    /// its own new Master is heard (the peer's member of the group, which became Master
    /// with the one that took over), or until its Master_Down_Timer makes it Master
    /// again if none comes.
    fn on_group_backup(&mut self, now: MonoTime, out: &mut Actions) {
        if !matches!(self.phase, Phase::Master(_)) {
            return;
        }
        self.master_adver_interval = self.advertisement_interval;
        self.recompute_intervals();
        self.phase = Phase::Backup(Backup {
            down_at: now + self.master_down_interval,
            counted_from: now,
            armed_by: ArmedBy::Start,
            discarded_lower: None,
            preempt_hold_until: None,
        });
        self.heard_master = None;
        self.start_handover(now);
        out.push(state_change(
            State::Master,
            State::Backup,
            Reason::SyncGroup,
        ));
    }

    /// keepalived 2.2.7 when a Master's VIP is deleted behind its back (netlink reflector
    /// "IP ... removed"): it leaves Master with a priority-0 advert and releases the VIPs,
    /// then, as Backup, runs Skew_Time as after a priority-0 advert. A Backup that heard it
    /// takes over after its own Skew_Time; with none, this router is Master again and
    /// re-adds every VIP.
    fn on_vip_removed(&mut self, now: MonoTime, out: &mut Actions) {
        if !matches!(self.phase, Phase::Master(_)) {
            return;
        }
        out.push(Action::SendAdvert { priority: 0 });
        out.push(Action::RemoveVips);
        self.master_adver_interval = self.advertisement_interval;
        self.recompute_intervals();
        let from = self.primary_address;
        self.phase = Phase::Backup(Backup {
            down_at: now + self.skew_time,
            counted_from: now,
            armed_by: ArmedBy::Resign { from },
            discarded_lower: None,
            preempt_hold_until: None,
        });
        self.heard_master = None;
        out.push(state_change(
            State::Master,
            State::Backup,
            Reason::VipRemoved,
        ));
    }

    fn on_fault(&mut self, out: &mut Actions) {
        self.faulty = true;
        // A fault is not planned: whatever a departure still holds goes now.
        self.release_handover(out);
        match self.phase {
            // Remembered: Startup will enter Fault.
            Phase::Initialize | Phase::Fault => return,
            Phase::Backup(_) => {}
            // Like Shutdown from Master (RFC 9568 §6.4.3): a priority-0 advert so a Backup
            // takes over after Skew_Time rather than Master_Down_Interval, and the VIPs go
            // (keepalived vrrp_state_leave_master on the way to FAULT does both).
            Phase::Master(_) => {
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::RemoveVips);
            }
        }
        let from = self.state();
        self.phase = Phase::Fault;
        self.heard_master = None;
        out.push(state_change(from, State::Fault, Reason::Fault));
    }

    /// `Input::TrackingFault`: Fault as for `Input::Fault`, but a Master's link still
    /// works, so it hands its VIPs over as on Shutdown (priority 0 now, the VIPs until
    /// the new Master is heard and its announcement had its grace, or the give-up bound).
    fn on_tracking_fault(&mut self, now: MonoTime, out: &mut Actions) {
        self.faulty = true;
        let from = match self.phase {
            Phase::Initialize | Phase::Fault => return,
            // A departure under way (maintenance, a preemption) goes on.
            Phase::Backup(_) => State::Backup,
            Phase::Master(_) => {
                out.push(Action::SendAdvert { priority: 0 });
                self.start_handover(now);
                State::Master
            }
        };
        self.phase = Phase::Fault;
        self.heard_master = None;
        out.push(state_change(from, State::Fault, Reason::Fault));
    }

    fn on_fault_cleared(&mut self, now: MonoTime, out: &mut Actions) {
        self.faulty = false;
        if matches!(self.phase, Phase::Fault) {
            // keepalived vrrp_state_leave_fault: back to Backup with a fresh
            // Master_Down_Timer and preempt delay, or straight to Master for the address
            // owner; that is RFC 9568 §6.4.1 Startup again.
            self.start(now, State::Fault, out);
        }
    }

    // ----- helpers -----

    /// RFC 9568 §6.4.1 (owner) and §6.4.2 (Master_Down_Timer fired): send an advert,
    /// announce the VIPs, set Adver_Timer, transition to Master.
    fn become_master(&mut self, now: MonoTime, from: State, reason: Reason, out: &mut Actions) {
        // Back to Master during a departure (nobody took over): the VIPs were never given
        // up; AddVips below finds them in place.
        self.handover = None;
        // RFC 9568 §6.4.2 lists the advert first. The order means nothing to the other
        // routers, but a Master handing over lets its VIPs go a grace after it hears this
        // advert: the addresses and the gratuitous ARP / NA go first, so the client is
        // already sent to this router when the advert leaves.
        out.push(Action::AddVips);
        out.push(Action::Announce);
        out.push(Action::SendAdvert {
            priority: self.effective_priority,
        });
        // While Master, the Master's interval is ours (RFC 9568 leaves it unchanged; this
        // only affects what the accessors report until the next transition recomputes it).
        self.master_adver_interval = self.advertisement_interval;
        self.recompute_intervals();
        self.phase = Phase::Master(Master {
            adver_at: first_adver_at(
                now,
                self.advertisement_interval.as_duration(),
                self.align_adverts,
            ),
            since: now,
            answered_lower_at: None,
        });
        self.heard_master = None;
        out.push(state_change(from, State::Master, reason));
    }

    /// Skew_Time and Master_Down_Interval from the effective priority and
    /// Master_Adver_Interval (RFC 9568 §6.1, RFC 3768 §6.1).
    fn recompute_intervals(&mut self) {
        let (version, priority, mai) = (
            self.version,
            self.effective_priority,
            self.master_adver_interval,
        );
        self.skew_time = skew_time(version, priority, mai);
        self.master_down_interval = master_down_interval(version, priority, mai);
    }

    /// Records `at` as the newest advert from `from`; false if it is not newer than one
    /// already handled (a duplicate, or an older record handed in late).
    fn note_seen(&mut self, from: IpAddr, at: MonoTime) -> bool {
        if let Some(entry) = self.seen.iter_mut().find(|(addr, _)| *addr == from) {
            if at <= entry.1 {
                return false;
            }
            entry.1 = at;
            return true;
        }
        if self.seen.len() >= SEEN_CAPACITY {
            if let Some(oldest) = (0..self.seen.len()).min_by_key(|&i| self.seen[i].1) {
                self.seen.swap_remove(oldest);
            }
        }
        self.seen.push((from, at));
        true
    }
}

fn state_change(from: State, to: State, reason: Reason) -> Action {
    Action::StateChange { from, to, reason }
}

/// An interval of zero would make Master_Down_Interval zero; RFC 9568 §5.2.7 has no zero
/// interval, so 0 reads as the smallest, 1 cs.
fn at_least_one_cs(interval: Centisecs) -> Centisecs {
    interval.max(Centisecs::new(1))
}

/// RFC 9568 §6.4.3 tie-break: "the primary IPvX Address of the sender is greater than the
/// local primary IPvX Address", compared as unsigned integers in network byte order. That is
/// exactly `Ipv4Addr`/`Ipv6Addr` ordering (octet by octet, most significant first), made
/// explicit here. A router is per address family, so the families never differ; if they
/// did, the sender is not counted as greater and this router stays Master.
fn address_greater(sender: IpAddr, local: IpAddr) -> bool {
    match (sender, local) {
        (IpAddr::V4(s), IpAddr::V4(l)) => u32::from(s) > u32::from(l),
        (IpAddr::V6(s), IpAddr::V6(l)) => u128::from(s) > u128::from(l),
        _ => false,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn address_greater_is_network_order() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(address_greater(a("198.18.1.0"), a("198.18.0.255")));
        assert!(!address_greater(a("198.18.0.255"), a("198.18.1.0")));
        assert!(!address_greater(a("198.18.0.2"), a("198.18.0.2")));
        assert!(address_greater(a("2001:db8::1:0"), a("2001:db8::ff")));
        assert!(!address_greater(a("fe80::1"), a("fe80::2")));
        assert!(!address_greater(a("2001:db8::1"), a("198.18.0.1")));
        assert!(!address_greater(a("198.18.0.1"), a("2001:db8::1")));
    }

    #[test]
    fn duplicate_filter_forgets_the_oldest_sender_when_full() {
        let mut r = Router::new(RouterConfig::new(
            Version::V3,
            "198.18.0.2".parse().unwrap(),
        ));
        let t = |s: u64| MonoTime::from_since_boot(Duration::from_secs(s));
        for i in 0..SEEN_CAPACITY as u8 {
            assert!(r.note_seen(IpAddr::from([198, 18, 1, i]), t(10 + u64::from(i))));
        }
        assert!(!r.note_seen(IpAddr::from([198, 18, 1, 3]), t(13)));
        assert!(r.note_seen(IpAddr::from([198, 18, 2, 0]), t(50)));
        assert_eq!(r.seen.len(), SEEN_CAPACITY);
        // 198.18.1.0 (heard at 10 s) was the oldest and is forgotten.
        assert!(r
            .seen
            .iter()
            .all(|(a, _)| *a != IpAddr::from([198, 18, 1, 0])));
        assert!(!r.note_seen(IpAddr::from([198, 18, 1, 7]), t(17)));
    }
}
