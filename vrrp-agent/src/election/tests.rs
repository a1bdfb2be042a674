//! Table tests for the election with a fake clock: every step asserts the exact actions,
//! the state and the exact next deadline. Times are offsets from `T0` (100 s after boot, so
//! that adverts from "before start-up" exist).
use std::{net::IpAddr, time::Duration};

use super::handover::HANDOVER_GRACE;
use super::*;
use crate::units::{Centisecs, MonoTime};

// ----- fixtures -----

const T0: Duration = Duration::from_secs(100);

/// `n` milliseconds after T0.
fn ms(n: u64) -> MonoTime {
    MonoTime::from_since_boot(T0 + Duration::from_millis(n))
}

/// `n` nanoseconds after T0, for deadlines with fractional milliseconds.
fn ns(n: u64) -> MonoTime {
    MonoTime::from_since_boot(T0 + Duration::from_nanos(n))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const LOCAL: &str = "198.18.0.2";
const PEER_A: &str = "198.18.0.10";
const LOW_ADDR: &str = "198.18.0.1";
const HIGH_ADDR: &str = "198.18.0.3";

// Master_Down_Interval / Skew_Time at Master_Adver_Interval 1 s, in nanoseconds.
const MDI_100: u64 = 3_609_375_000; // priority 100: 3 s + 156/256 s
const SKEW_100: u64 = 609_375_000;
const MDI_150: u64 = 3_414_062_500; // 3 s + 106/256 s
const SKEW_150: u64 = 414_062_500;
const SKEW_200: u64 = 218_750_000;
const MDI_200: u64 = 3_218_750_000; // 3 s + 56/256 s
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

fn v3(priority: u8) -> RouterConfig {
    RouterConfig {
        priority,
        ..RouterConfig::new(Version::V3, ip(LOCAL))
    }
}

fn v2(priority: u8) -> RouterConfig {
    RouterConfig {
        priority,
        ..RouterConfig::new(Version::V2, ip(LOCAL))
    }
}

fn cs(n: u16) -> Centisecs {
    Centisecs::new(n)
}

fn advert(from: &str, priority: u8, interval: Centisecs, received_at: MonoTime) -> Input {
    Input::Advert {
        from: ip(from),
        priority,
        max_adver_int: interval,
        received_at,
    }
}

fn change(from: State, to: State, reason: Reason) -> Action {
    Action::StateChange { from, to, reason }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert { priority }
}

/// The actions of RFC 9568 §6.4.1/§6.4.2 when becoming Master: the addresses and their
/// announcement before the advert (see `Router::become_master`).
fn takeover(priority: u8, from: State, reason: Reason) -> Vec<Action> {
    vec![
        Action::AddVips,
        Action::Announce,
        send(priority),
        change(from, State::Master, reason),
    ]
}

/// One row: at `now`, feed `input`; expect exactly `actions`, then `state` and `deadline`.
struct Step {
    now: MonoTime,
    input: Input,
    actions: Vec<Action>,
    state: State,
    deadline: Option<MonoTime>,
}

fn step(
    now: MonoTime,
    input: Input,
    actions: Vec<Action>,
    state: State,
    deadline: Option<MonoTime>,
) -> Step {
    Step {
        now,
        input,
        actions,
        state,
        deadline,
    }
}

/// Runs `steps` on `router`, naming the failing row.
fn run_on(router: &mut Router, name: &str, steps: &[Step]) {
    for (i, s) in steps.iter().enumerate() {
        let got = router.handle(s.now, s.input);
        assert_eq!(got, s.actions, "{name}: row {i} ({:?}) actions", s.input);
        assert_eq!(
            router.state(),
            s.state,
            "{name}: row {i} ({:?}) state",
            s.input
        );
        assert_eq!(
            router.next_deadline(),
            s.deadline,
            "{name}: row {i} ({:?}) deadline",
            s.input
        );
    }
}

fn run(name: &str, config: RouterConfig, steps: &[Step]) -> Router {
    let mut router = Router::new(config);
    run_on(&mut router, name, steps);
    router
}

/// A router that started at T0 and became Master when its Master_Down_Timer expired at
/// T0 + Master_Down_Interval; returns it and that moment.
fn master_by_timeout(config: RouterConfig) -> (Router, MonoTime) {
    let mut r = Router::new(config);
    r.handle(ms(0), Input::Startup);
    let at = r.next_deadline().unwrap();
    r.handle(at, Input::Timer);
    assert_eq!(r.state(), State::Master);
    (r, at)
}

// ----- timer formulas (PROTOCOL.md examples, exact) -----

#[test]
fn protocol_examples_hold_exactly() {
    use Version::*;
    assert_eq!(
        master_down_interval(V2, 100, cs(100)),
        Duration::from_nanos(3_609_375_000)
    );
    assert_eq!(
        master_down_interval(V3, 100, cs(10)),
        Duration::from_nanos(360_937_500)
    );
    assert_eq!(
        master_down_interval(V3, 100, cs(1)),
        Duration::from_nanos(36_093_750)
    );
    assert_eq!(skew_time(V3, 100, cs(1)), Duration::from_nanos(6_093_750));
    // v2 skew does not scale with the interval; v3 does.
    assert_eq!(skew_time(V2, 100, cs(500)), Duration::from_nanos(SKEW_100));
    assert_eq!(
        skew_time(V3, 100, cs(500)),
        Duration::from_nanos(5 * SKEW_100)
    );
    // holo's bug: integer (256 - p) / 256 is zero. Here the owner's skew is 1/256 s.
    assert_eq!(skew_time(V2, 255, cs(100)), Duration::from_nanos(3_906_250));
    assert_eq!(
        skew_time(V3, 1, cs(4095)),
        Duration::from_nanos(40_790_039_062)
    );
}

#[test]
fn router_reports_rfc_parameters() {
    let r = Router::new(RouterConfig {
        advertisement_interval: cs(10),
        preempt_delay: Duration::from_secs(5),
        accept_mode: true,
        ..v3(100)
    });
    assert_eq!(r.version(), Version::V3);
    assert_eq!((r.priority(), r.effective_priority()), (100, 100));
    assert_eq!(
        (r.advertisement_interval(), r.master_adver_interval()),
        (cs(10), cs(10))
    );
    assert_eq!(r.skew_time(), Duration::from_nanos(60_937_500));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(360_937_500));
    assert!(r.preempt_mode() && r.accept_mode());
    assert_eq!(r.preempt_delay(), Duration::from_secs(5));
    assert_eq!(r.primary_address(), ip(LOCAL));
    assert_eq!(
        (r.state(), r.next_deadline(), r.current_master()),
        (State::Initialize, None, None)
    );
}

// ----- Initialize (RFC 9568 §6.4.1, RFC 3768 §6.4.1) -----

#[test]
fn initialize_startup_non_owner_goes_backup() {
    for config in [v3(100), v2(100)] {
        let r = run(
            "startup non-owner",
            config,
            &[step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            )],
        );
        assert_eq!(r.master_adver_interval(), cs(100));
        assert_eq!(r.master_down_timer(), Some(ns(MDI_100)));
        assert_eq!(r.current_master(), None);
    }
}

#[test]
fn initialize_startup_owner_goes_master() {
    for config in [v3(255), v2(255)] {
        let r = run(
            "startup owner",
            config,
            &[step(
                ms(0),
                Input::Startup,
                takeover(255, State::Initialize, Reason::StartupOwner),
                State::Master,
                Some(ms(1000)),
            )],
        );
        assert_eq!(r.adver_timer(), Some(ms(1000)));
        assert_eq!(
            r.current_master(),
            Some(MasterInfo {
                address: ip(LOCAL),
                priority: 255
            })
        );
    }
}

#[test]
fn initialize_ignores_everything_but_startup() {
    let mut r = run(
        "initialize",
        v3(100),
        &[
            step(ms(0), Input::Timer, vec![], State::Initialize, None),
            step(
                ms(1),
                advert(PEER_A, 150, cs(100), ms(1)),
                vec![],
                State::Initialize,
                None,
            ),
            step(
                ms(2),
                advert(PEER_A, 0, cs(100), ms(2)),
                vec![],
                State::Initialize,
                None,
            ),
            step(ms(3), Input::Shutdown, vec![], State::Initialize, None),
            step(ms(4), Input::FaultCleared, vec![], State::Initialize, None),
        ],
    );
    // A second Startup is not an event outside Initialize.
    run_on(
        &mut r,
        "startup twice",
        &[
            step(
                ms(10),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(10 * MS + MDI_100)),
            ),
            step(
                ms(20),
                Input::Startup,
                vec![],
                State::Backup,
                Some(ns(10 * MS + MDI_100)),
            ),
        ],
    );
}

// ----- Backup (RFC 9568 §6.4.2, RFC 3768 §6.4.2) -----

#[test]
fn backup_master_down_timer_fires() {
    let after = Duration::from_nanos(MDI_100);
    run(
        "md expiry",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // One nanosecond early: nothing.
            step(
                ns(MDI_100 - 1),
                Input::Timer,
                vec![],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ns(MDI_100),
                Input::Timer,
                takeover(100, State::Backup, Reason::MasterDown { after }),
                State::Master,
                Some(ns(MDI_100 + SEC)),
            ),
        ],
    );
    // A late runtime: the Adver_Timer counts from the moment the advert goes out.
    run(
        "md expiry late",
        v2(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(4000),
                Input::Timer,
                takeover(100, State::Backup, Reason::MasterDown { after }),
                State::Master,
                Some(ms(5000)),
            ),
        ],
    );
}

#[test]
fn backup_priority_zero_sets_timer_to_skew_from_received_at() {
    let a = ip(PEER_A);
    let r = run(
        "backup prio 0",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(500),
                advert(PEER_A, 150, cs(100), ms(500)),
                vec![],
                State::Backup,
                Some(ns(500 * MS + MDI_100)),
            ),
            // Received at 1200 ms, handed in at 1300 ms: the skew counts from 1200 ms.
            step(
                ms(1300),
                advert(PEER_A, 0, cs(100), ms(1200)),
                vec![],
                State::Backup,
                Some(ns(1200 * MS + SKEW_100)),
            ),
        ],
    );
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: a,
            priority: 0
        })
    );
    let mut r = r;
    run_on(
        &mut r,
        "backup prio 0 expiry",
        &[step(
            ns(1200 * MS + SKEW_100),
            Input::Timer,
            takeover(100, State::Backup, Reason::MasterResigned { from: a }),
            State::Master,
            Some(ns(2200 * MS + SKEW_100)),
        )],
    );
}

#[test]
fn backup_priority_zero_v2_skew_ignores_interval() {
    // v2, 2 s adverts: Skew_Time is still (256 - 100)/256 s.
    let config = RouterConfig {
        advertisement_interval: cs(200),
        ..v2(100)
    };
    run(
        "v2 prio 0",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(6 * SEC + SKEW_100)),
            ),
            step(
                ms(1000),
                advert(PEER_A, 0, cs(200), ms(900)),
                vec![],
                State::Backup,
                Some(ns(900 * MS + SKEW_100)),
            ),
        ],
    );
}

#[test]
fn backup_preempt_discards_lower_priority_and_takes_over() {
    let r = run(
        "preempt",
        v3(150),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            // Discarded: the timer is not reset (and, as no Master was being followed, not
            // shortened either).
            step(
                ms(1000),
                advert(PEER_A, 100, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            step(
                ms(2000),
                advert(PEER_A, 100, cs(100), ms(2000)),
                vec![],
                State::Backup,
                Some(ns(MDI_150)),
            ),
        ],
    );
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: ip(PEER_A),
            priority: 100
        })
    );
    let mut r = r;
    run_on(
        &mut r,
        "preempt expiry",
        &[step(
            ns(MDI_150),
            Input::Timer,
            takeover(
                150,
                State::Backup,
                Reason::Preempting {
                    priority: 100,
                    from: ip(PEER_A),
                },
            ),
            State::Master,
            Some(ns(MDI_150 + SEC)),
        )],
    );
}

#[test]
fn backup_nopreempt_follows_lower_priority_master() {
    let config = RouterConfig {
        preempt_mode: false,
        ..v3(150)
    };
    let r = run(
        "nopreempt",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            step(
                ms(1000),
                advert(PEER_A, 100, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
            // The old deadline passes: nothing, the Master is alive.
            step(
                ns(MDI_150),
                Input::Timer,
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
        ],
    );
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: ip(PEER_A),
            priority: 100
        })
    );
}

#[test]
fn backup_accepts_equal_priority_whatever_the_address() {
    // The address tie-break is a Master's rule (§6.4.3); a Backup accepts >= (§6.4.2).
    for from in [LOW_ADDR, HIGH_ADDR] {
        run(
            "backup equal",
            v3(100),
            &[
                step(
                    ms(0),
                    Input::Startup,
                    vec![change(State::Initialize, State::Backup, Reason::Startup)],
                    State::Backup,
                    Some(ns(MDI_100)),
                ),
                step(
                    ms(1000),
                    advert(from, 100, cs(100), ms(1000)),
                    vec![],
                    State::Backup,
                    Some(ns(1000 * MS + MDI_100)),
                ),
            ],
        );
    }
}

#[test]
fn backup_v3_learns_master_adver_interval() {
    let mut r = run(
        "v3 learning",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // 10 ms adverts: MDI 36.09375 ms, counted from received_at.
            step(
                ms(1000),
                advert(PEER_A, 150, cs(1), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + 36_093_750)),
            ),
        ],
    );
    assert_eq!(r.master_adver_interval(), cs(1));
    assert_eq!(r.skew_time(), Duration::from_nanos(6_093_750));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(36_093_750));
    run_on(
        &mut r,
        "v3 learning 100 ms",
        &[step(
            ms(1020),
            advert(PEER_A, 150, cs(10), ms(1020)),
            vec![],
            State::Backup,
            Some(ns(1020 * MS + 360_937_500)),
        )],
    );
    assert_eq!(r.master_adver_interval(), cs(10));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(360_937_500));
}

#[test]
fn backup_v2_does_not_learn_and_discards_other_intervals() {
    let mut r = run(
        "v2 no learning",
        v2(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // RFC 3768 §7.1: another interval is discarded; nothing changes.
            step(
                ms(1000),
                advert(PEER_A, 150, cs(200), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(MDI_100)),
            ),
        ],
    );
    assert_eq!(r.master_adver_interval(), cs(100));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(MDI_100));
    assert_eq!(r.current_master(), None);
    run_on(
        &mut r,
        "v2 same interval",
        &[step(
            ms(1500),
            advert(PEER_A, 150, cs(100), ms(1500)),
            vec![],
            State::Backup,
            Some(ns(1500 * MS + MDI_100)),
        )],
    );
}

// ----- Master (RFC 9568 §6.4.3, RFC 3768 §6.4.3) -----

#[test]
fn master_adver_timer_rearms() {
    run(
        "adver timer",
        v3(255),
        &[
            step(
                ms(0),
                Input::Startup,
                takeover(255, State::Initialize, Reason::StartupOwner),
                State::Master,
                Some(ms(1000)),
            ),
            step(ms(999), Input::Timer, vec![], State::Master, Some(ms(1000))),
            step(
                ms(1000),
                Input::Timer,
                vec![send(255)],
                State::Master,
                Some(ms(2000)),
            ),
            // Late by 50 ms: the schedule holds (the lateness does not add up).
            step(
                ms(2050),
                Input::Timer,
                vec![send(255)],
                State::Master,
                Some(ms(3000)),
            ),
            // More than an interval late: no burst to catch up; restart from the send.
            step(
                ms(4500),
                Input::Timer,
                vec![send(255)],
                State::Master,
                Some(ms(5500)),
            ),
        ],
    );
}

#[test]
fn master_priority_zero_sends_at_once() {
    let (mut r, since) = master_by_timeout(v3(200));
    assert_eq!(since, ns(MDI_200));
    run_on(
        &mut r,
        "master prio 0",
        &[
            step(
                ms(4000),
                advert(PEER_A, 0, cs(100), ms(3999)),
                vec![send(200)],
                State::Master,
                Some(ms(5000)),
            ),
            // The same record again: harmless.
            step(
                ms(4100),
                advert(PEER_A, 0, cs(100), ms(3999)),
                vec![],
                State::Master,
                Some(ms(5000)),
            ),
        ],
    );
}

#[test]
fn master_higher_priority_goes_backup_with_learned_interval() {
    let (mut r, since) = master_by_timeout(v3(100));
    assert_eq!(r.next_deadline(), Some(since + Duration::from_secs(1)));
    run_on(
        &mut r,
        "master higher",
        &[step(
            ms(4001),
            advert(PEER_A, 150, cs(10), ms(4000)),
            vec![change(
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    priority: 150,
                    from: ip(PEER_A),
                },
            )],
            State::Backup,
            // The VIPs go after the handover grace (Master_Down_Interval would be later).
            Some(ms(4000) + HANDOVER_GRACE),
        )],
    );
    assert_eq!(r.master_adver_interval(), cs(10));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(360_937_500));
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: ip(PEER_A),
            priority: 150
        })
    );
    assert_eq!(r.adver_timer(), None);
}

#[test]
fn master_higher_priority_v2_keeps_interval() {
    let (mut r, _) = master_by_timeout(v2(100));
    run_on(
        &mut r,
        "v2 master higher",
        &[step(
            ms(4001),
            advert(PEER_A, 150, cs(100), ms(4000)),
            vec![change(
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    priority: 150,
                    from: ip(PEER_A),
                },
            )],
            State::Backup,
            Some(ms(4000) + HANDOVER_GRACE),
        )],
    );
}

/// keepalived vrrp_state_master_rx: a lower priority (or an equal one from a lower address)
/// is answered at once with an advert and the garp_lower_prio burst, at most once per
/// Advertisement_Interval however many arrive; the Adver_Timer keeps its schedule.
#[test]
fn master_answers_lower_priority_once_per_interval() {
    let (mut r, since) = master_by_timeout(v3(100));
    // Became Master at T0 + 3.609375 s; adverts at 4.609375 s, 5.609375 s, ...
    let next = since + Duration::from_secs(1);
    let answer = || vec![send(100), Action::AnnounceLowerPriority];
    run_on(
        &mut r,
        "master lower",
        &[
            step(
                ms(4000),
                advert(PEER_A, 99, cs(100), ms(4000)),
                answer(),
                State::Master,
                Some(next),
            ),
            // More lower priorities within the interval, from anyone: nothing more.
            step(
                ms(4001),
                advert(PEER_A, 99, cs(100), ms(4001)),
                vec![],
                State::Master,
                Some(next),
            ),
            step(
                ms(4500),
                advert("198.18.0.20", 1, cs(100), ms(4500)),
                vec![],
                State::Master,
                Some(next),
            ),
            step(
                ms(4999),
                advert(LOW_ADDR, 100, cs(100), ms(4999)),
                vec![],
                State::Master,
                Some(next),
            ),
            // The scheduled advert is unaffected.
            step(
                next,
                Input::Timer,
                vec![send(100)],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // One interval after the last answer: answered again (equal priority, lower address).
            step(
                ms(5000),
                advert(LOW_ADDR, 100, cs(100), ms(5000)),
                answer(),
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            step(
                ms(5100),
                advert(PEER_A, 99, cs(100), ms(5100)),
                vec![],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // A duplicate of a record already handled is not a new advert.
            step(
                ms(7000),
                advert(PEER_A, 99, cs(100), ms(5100)),
                vec![],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // Adverts received before it became Master are not news.
            step(
                ms(7000),
                advert("198.18.0.21", 99, cs(100), ms(3000)),
                vec![],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
        ],
    );
    // A new term as Master starts with no answer on record.
    let (mut r, since) = master_by_timeout(v3(100));
    run_on(
        &mut r,
        "answer right after becoming Master",
        &[step(
            since,
            advert(PEER_A, 99, cs(100), since),
            answer(),
            State::Master,
            Some(since + Duration::from_secs(1)),
        )],
    );
}

/// keepalived `lower_prio_no_advert` (forced by strict mode, vrrp_state_master_rx): a Master
/// that hears a lower priority (or an equal one from a lower address) sends no answering
/// advert; the lower-priority GARPs (and notify) keep their once-per-interval answer, the
/// Adver_Timer its schedule, and a higher priority still wins.
#[test]
fn lower_prio_no_advert_master_does_not_answer_a_lower_priority() {
    let config = RouterConfig {
        lower_prio_no_advert: true,
        ..v3(100)
    };
    let (mut r, since) = master_by_timeout(config);
    let next = since + Duration::from_secs(1);
    run_on(
        &mut r,
        "lower_prio_no_advert",
        &[
            step(
                ms(4000),
                advert(PEER_A, 99, cs(100), ms(4000)),
                vec![Action::AnnounceLowerPriority],
                State::Master,
                Some(next),
            ),
            // Within the interval: nothing at all.
            step(
                ms(4001),
                advert(PEER_A, 50, cs(100), ms(4001)),
                vec![],
                State::Master,
                Some(next),
            ),
            // The schedule is unchanged: the next advert is the Adver_Timer's.
            step(
                next,
                Input::Timer,
                vec![send(100)],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // Equal priority from a lower address, one interval later: still no advert.
            step(
                ms(5000),
                advert(LOW_ADDR, 100, cs(100), ms(5000)),
                vec![Action::AnnounceLowerPriority],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // A priority-0 advert is still answered at once (RFC 9568 §6.4.3).
            step(
                ms(5100),
                advert(PEER_A, 0, cs(100), ms(5100)),
                vec![send(100)],
                State::Master,
                Some(ms(5100) + Duration::from_secs(1)),
            ),
            // A higher priority still takes over, with no advert of ours.
            step(
                ms(5200),
                advert(PEER_A, 150, cs(100), ms(5200)),
                vec![change(
                    State::Master,
                    State::Backup,
                    Reason::HigherPriority {
                        priority: 150,
                        from: ip(PEER_A),
                    },
                )],
                State::Backup,
                Some(ms(5200) + HANDOVER_GRACE),
            ),
        ],
    );
}

/// keepalived `higher_prio_send_advert` (vrrp_state_master_rx): before yielding to a higher
/// priority (or an equal one from a greater address) the Master sends one advert with its
/// own priority; then it goes Backup as usual.
#[test]
fn higher_prio_send_advert_master_advertises_before_yielding() {
    let config = RouterConfig {
        higher_prio_send_advert: true,
        ..v3(100)
    };
    let (mut r, since) = master_by_timeout(config);
    run_on(
        &mut r,
        "higher_prio_send_advert, lower priority",
        &[step(
            ms(4000),
            advert(PEER_A, 99, cs(100), ms(4000)),
            vec![send(100), Action::AnnounceLowerPriority],
            State::Master,
            Some(since + Duration::from_secs(1)),
        )],
    );
    run_on(
        &mut r,
        "higher_prio_send_advert, higher priority",
        &[step(
            ms(4100),
            advert(PEER_A, 150, cs(100), ms(4100)),
            vec![
                send(100),
                change(
                    State::Master,
                    State::Backup,
                    Reason::HigherPriority {
                        priority: 150,
                        from: ip(PEER_A),
                    },
                ),
            ],
            State::Backup,
            Some(ms(4100) + HANDOVER_GRACE),
        )],
    );
    let (mut r, _) = master_by_timeout(RouterConfig {
        higher_prio_send_advert: true,
        ..v3(100)
    });
    run_on(
        &mut r,
        "higher_prio_send_advert, equal priority from a greater address",
        &[step(
            ms(4000),
            advert(HIGH_ADDR, 100, cs(100), ms(4000)),
            vec![
                send(100),
                change(
                    State::Master,
                    State::Backup,
                    Reason::EqualPriorityHigherAddress {
                        priority: 100,
                        from: ip(HIGH_ADDR),
                    },
                ),
            ],
            State::Backup,
            Some(ms(4000) + HANDOVER_GRACE),
        )],
    );
}

/// What the runtime scans for on each Adver_Timer: records received since the Master took
/// over with a priority of at least its own; nothing outside Master.
#[test]
fn master_scan_names_what_could_beat_the_master() {
    let mut r = Router::new(v3(150));
    assert_eq!(r.master_scan(), None);
    r.handle(ms(0), Input::Startup);
    assert_eq!(r.master_scan(), None);
    let at = r.next_deadline().unwrap();
    r.handle(at, Input::Timer);
    assert_eq!(
        r.master_scan(),
        Some(MasterScan {
            since: at,
            min_priority: 150
        })
    );
    r.handle(at, Input::PriorityChanged(50));
    assert_eq!(
        r.master_scan(),
        Some(MasterScan {
            since: at,
            min_priority: 50
        })
    );
    r.handle(at, Input::Fault);
    assert_eq!(r.master_scan(), None);
}

/// The split brain from the field, in the election: A (150) is Master again, a peer it knows
/// at 100 (advertising until A took over) preempts after A drops to 50, and XDP raises no
/// event (same priority, back within three intervals). The records the scan names, fed
/// before the Adver_Timer, send A to Backup; a record from before the takeover does not.
#[test]
fn master_steps_down_for_a_scanned_record_without_an_event() {
    let (mut r, since) = master_by_timeout(v3(150));
    let scan = r.master_scan().unwrap();
    // B's record as A took over: 100, received just before. Not news (and below 150).
    let before = since - Duration::from_millis(40);
    assert!(before.as_nanos() <= scan.since.as_nanos());
    run_on(
        &mut r,
        "split brain",
        &[
            step(
                since,
                advert(PEER_A, 100, cs(100), before),
                vec![],
                State::Master,
                Some(since + Duration::from_secs(1)),
            ),
            step(
                since + Duration::from_millis(100),
                Input::PriorityChanged(50),
                vec![],
                State::Master,
                Some(since + Duration::from_secs(1)),
            ),
        ],
    );
    // B preempts: its record now says 100, received after A took over; the scan names it.
    let b_at = since + Duration::from_millis(300);
    let scan = r.master_scan().unwrap();
    assert!(b_at > scan.since && 100 >= scan.min_priority);
    run_on(
        &mut r,
        "split brain",
        &[step(
            since + Duration::from_secs(1),
            advert(PEER_A, 100, cs(100), b_at),
            vec![change(
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    priority: 100,
                    from: ip(PEER_A),
                },
            )],
            State::Backup,
            // The handover grace, then Master_Down_Interval at priority 50 from B's
            // advert: 3 s + 206/256 s.
            Some(b_at + HANDOVER_GRACE),
        )],
    );
}

/// RFC 9568 §6.4.3 tie-break with equal priority, both directions. Each case: local primary
/// address, sender, whether the sender wins.
#[test]
fn master_equal_priority_tie_break() {
    let cases = [
        ("198.18.0.2", "198.18.0.1", false),
        ("198.18.0.2", "198.18.0.3", true),
        ("198.18.0.2", "198.18.0.2", false),
        // Network order: 198.18.1.0 > 198.18.0.255 (a little-endian compare says otherwise).
        ("198.18.0.255", "198.18.1.0", true),
        ("198.18.1.0", "198.18.0.255", false),
        ("fe80::2", "fe80::1", false),
        ("fe80::2", "fe80::3", true),
        ("2001:db8::ff", "2001:db8::1:0", true),
        ("2001:db8::1:0", "2001:db8::ff", false),
    ];
    for (local, sender, yields) in cases {
        let config = RouterConfig {
            primary_address: ip(local),
            ..v3(100)
        };
        let (mut r, since) = master_by_timeout(config);
        let name = format!("tie-break local {local} sender {sender}");
        let row = if yields {
            step(
                ms(4000),
                advert(sender, 100, cs(100), ms(4000)),
                vec![change(
                    State::Master,
                    State::Backup,
                    Reason::EqualPriorityHigherAddress {
                        priority: 100,
                        from: ip(sender),
                    },
                )],
                State::Backup,
                Some(ms(4000) + HANDOVER_GRACE),
            )
        } else {
            // The loser is answered as a lower priority (keepalived).
            step(
                ms(4000),
                advert(sender, 100, cs(100), ms(4000)),
                vec![send(100), Action::AnnounceLowerPriority],
                State::Master,
                Some(since + Duration::from_secs(1)),
            )
        };
        run_on(&mut r, &name, &[row]);
    }
}

/// A new source address (a re-created interface's new link-local address) is what the next
/// tie-break compares: fe80::3 beats fe80::2 but not fe80::4.
#[test]
fn tie_break_uses_a_changed_primary_address() {
    let config = RouterConfig {
        primary_address: ip("fe80::2"),
        ..v3(100)
    };
    let (mut r, since) = master_by_timeout(config);
    r.set_primary_address(ip("fe80::4"));
    assert_eq!(r.primary_address(), ip("fe80::4"));
    run_on(
        &mut r,
        "after the change",
        &[step(
            ms(4000),
            advert("fe80::3", 100, cs(100), ms(4000)),
            vec![send(100), Action::AnnounceLowerPriority],
            State::Master,
            Some(since + Duration::from_secs(1)),
        )],
    );
}

// ----- lazy advert feeding -----

#[test]
fn lazy_feeding_counts_from_received_at_and_ignores_duplicates() {
    let a = || advert(PEER_A, 150, cs(100), ms(3100));
    let mut r = run(
        "lazy",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // First advert from A: a ring-buffer event (new source).
            step(
                ms(101),
                advert(PEER_A, 150, cs(100), ms(100)),
                vec![],
                State::Backup,
                Some(ns(100 * MS + MDI_100)),
            ),
            // At the deadline the runtime re-reads the kernel: A was last seen at 3100 ms.
            step(
                ns(100 * MS + MDI_100),
                a(),
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            step(
                ns(100 * MS + MDI_100),
                Input::Timer,
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            // The same record again, and an older one: nothing moves.
            step(
                ms(4000),
                a(),
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            step(
                ms(4000),
                advert(PEER_A, 150, cs(100), ms(2100)),
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            // An older advert from another sender does not pull the timer back either.
            step(
                ms(4000),
                advert(HIGH_ADDR, 200, cs(100), ms(3000)),
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            // Next deadline: the kernel still says 3100 ms (A died). Duplicate, then expiry.
            step(
                ns(3100 * MS + MDI_100),
                a(),
                vec![],
                State::Backup,
                Some(ns(3100 * MS + MDI_100)),
            ),
            step(
                ns(3100 * MS + MDI_100),
                Input::Timer,
                takeover(
                    100,
                    State::Backup,
                    Reason::MasterDown {
                        after: Duration::from_nanos(MDI_100),
                    },
                ),
                State::Master,
                Some(ns(4100 * MS + MDI_100)),
            ),
            // A re-read after the takeover hands in A's last advert again (or an earlier
            // record from someone else): older than the decision, so not news.
            step(
                ms(7000),
                a(),
                vec![],
                State::Master,
                Some(ns(4100 * MS + MDI_100)),
            ),
            step(
                ms(7000),
                advert(HIGH_ADDR, 200, cs(100), ms(3200)),
                vec![],
                State::Master,
                Some(ns(4100 * MS + MDI_100)),
            ),
        ],
    );
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: ip(LOCAL),
            priority: 100
        })
    );
    // An advert newer than the takeover still counts.
    run_on(
        &mut r,
        "lazy newer",
        &[step(
            ms(7001),
            advert(PEER_A, 150, cs(100), ms(7000)),
            vec![change(
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    priority: 150,
                    from: ip(PEER_A),
                },
            )],
            State::Backup,
            Some(ms(7000) + HANDOVER_GRACE),
        )],
    );
}

#[test]
fn lazy_feeding_of_a_too_old_advert_leaves_the_timer_due() {
    // The newest advert the kernel has is older than Master_Down_Interval: the deadline it
    // gives is already past, and the runtime's Timer takes over at once.
    run(
        "lazy too old",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(100),
                advert(PEER_A, 150, cs(100), ms(100)),
                vec![],
                State::Backup,
                Some(ns(100 * MS + MDI_100)),
            ),
            // The runtime was stalled for 2 s and learns of an advert received at 200 ms.
            step(
                ms(5800),
                advert(PEER_A, 150, cs(100), ms(200)),
                vec![],
                State::Backup,
                Some(ns(200 * MS + MDI_100)),
            ),
            step(
                ms(5800),
                Input::Timer,
                takeover(
                    100,
                    State::Backup,
                    Reason::MasterDown {
                        after: Duration::from_nanos(MDI_100),
                    },
                ),
                State::Master,
                Some(ms(6800)),
            ),
        ],
    );
}

#[test]
fn adverts_from_before_startup_are_not_news() {
    // Records left in the kernel from before start-up (RFC 9568 §6.4.1: Initialize does not
    // process adverts; the timer counts from the Startup event).
    run(
        "pre-startup",
        v3(100),
        &[
            step(
                ms(1000),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(1000 * MS + MDI_100)),
            ),
            step(
                ms(1000),
                advert(PEER_A, 150, cs(100), ms(500)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_100)),
            ),
        ],
    );
}

// ----- preempt_delay (keepalived) -----

#[test]
fn preempt_delay_after_startup() {
    // Priority 150 preempts priority 100, but not before start-up + 10 s.
    let config = RouterConfig {
        preempt_delay: Duration::from_secs(10),
        ..v3(150)
    };
    let mut r = run(
        "preempt delay",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            // Within the delay a lower priority is followed like a higher one.
            step(
                ms(1000),
                advert(PEER_A, 100, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
            step(
                ms(9999),
                advert(PEER_A, 100, cs(100), ms(9999)),
                vec![],
                State::Backup,
                Some(ns(9999 * MS + MDI_150)),
            ),
            // From start-up + 10 s on it is discarded; the timer runs out one Skew_Time
            // later.
            step(
                ms(10_000),
                advert(PEER_A, 100, cs(100), ms(10_000)),
                vec![],
                State::Backup,
                Some(ns(10_000 * MS + SKEW_150)),
            ),
        ],
    );
    run_on(
        &mut r,
        "preempt delay expiry",
        &[step(
            ns(10_000 * MS + SKEW_150),
            Input::Timer,
            takeover(
                150,
                State::Backup,
                Reason::Preempting {
                    priority: 100,
                    from: ip(PEER_A),
                },
            ),
            State::Master,
            Some(ns(11_000 * MS + SKEW_150)),
        )],
    );
}

#[test]
fn preempt_delay_restarts_on_first_lower_priority_after_a_higher_one() {
    let config = RouterConfig {
        preempt_delay: Duration::from_secs(10),
        ..v3(150)
    };
    run(
        "preempt delay restart",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            // A higher-priority Master: the start-up delay stops.
            step(
                ms(1000),
                advert(HIGH_ADDR, 200, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
            // Still there at 17 s (the runtime re-read the kernel at the deadline).
            step(
                ms(17_000),
                advert(HIGH_ADDR, 200, cs(100), ms(17_000)),
                vec![],
                State::Backup,
                Some(ns(17_000 * MS + MDI_150)),
            ),
            // Then a lower priority is Master (say the higher one lost priority itself):
            // the delay starts with this advert.
            step(
                ms(20_000),
                advert(PEER_A, 100, cs(100), ms(20_000)),
                vec![],
                State::Backup,
                Some(ns(20_000 * MS + MDI_150)),
            ),
            step(
                ms(29_999),
                advert(PEER_A, 100, cs(100), ms(29_999)),
                vec![],
                State::Backup,
                Some(ns(29_999 * MS + MDI_150)),
            ),
            step(
                ms(30_000),
                advert(PEER_A, 100, cs(100), ms(30_000)),
                vec![],
                State::Backup,
                Some(ns(30_000 * MS + SKEW_150)),
            ),
        ],
    );
}

#[test]
fn nopreempt_never_takes_over_with_preempt_delay() {
    let config = RouterConfig {
        preempt_mode: false,
        preempt_delay: Duration::from_secs(1),
        ..v3(150)
    };
    run(
        "nopreempt delay",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            step(
                ms(5000),
                advert(PEER_A, 100, cs(100), ms(5000)),
                vec![],
                State::Backup,
                Some(ns(5000 * MS + MDI_150)),
            ),
        ],
    );
}

// ----- Shutdown -----

#[test]
fn shutdown_from_each_state() {
    let sd = |from| change(from, State::Initialize, Reason::Shutdown);
    // Master: priority-0 advert, VIPs released (RFC 9568 §6.4.3).
    let (mut r, _) = master_by_timeout(v3(100));
    run_on(
        &mut r,
        "shutdown master",
        &[
            step(
                ms(5000),
                Input::Shutdown,
                // Make-before-break: the VIPs stay until a new Master is heard, at most
                // 4 intervals + the margin.
                // 4 intervals + the margin; the runtime polls the kernel's records every 2 ms.
                vec![send(0), sd(State::Master)],
                State::Initialize,
                Some(ms(5002)),
            ),
            step(
                ms(5001),
                Input::Shutdown,
                vec![],
                State::Initialize,
                Some(ms(5002)),
            ),
            step(
                ms(5002),
                Input::Timer,
                vec![],
                State::Initialize,
                Some(ms(5004)),
            ),
            step(
                ms(9020),
                Input::Timer,
                vec![Action::RemoveVips],
                State::Initialize,
                None,
            ),
        ],
    );
    assert_eq!(r.current_master(), None);
    // Backup: no advert (RFC 9568 §6.4.2).
    run(
        "shutdown backup",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(10),
                Input::Shutdown,
                vec![sd(State::Backup)],
                State::Initialize,
                None,
            ),
        ],
    );
    // Fault.
    run(
        "shutdown fault",
        v3(100),
        &[
            step(ms(0), Input::Fault, vec![], State::Initialize, None),
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Fault, Reason::Fault)],
                State::Fault,
                None,
            ),
            step(
                ms(10),
                Input::Shutdown,
                vec![sd(State::Fault)],
                State::Initialize,
                None,
            ),
        ],
    );
}

#[test]
fn restart_after_shutdown_forgets_what_it_heard() {
    let mut r = run(
        "restart",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(100),
                advert(PEER_A, 150, cs(10), ms(100)),
                vec![],
                State::Backup,
                Some(ns(100 * MS + 360_937_500)),
            ),
            step(
                ms(200),
                Input::Shutdown,
                vec![change(State::Backup, State::Initialize, Reason::Shutdown)],
                State::Initialize,
                None,
            ),
            // Startup resets Master_Adver_Interval to Advertisement_Interval (§6.4.1).
            step(
                ms(300),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(300 * MS + MDI_100)),
            ),
        ],
    );
    assert_eq!(r.master_adver_interval(), cs(100));
    assert_eq!(r.current_master(), None);
    // The same sender is heard afresh.
    run_on(
        &mut r,
        "restart heard",
        &[step(
            ms(400),
            advert(PEER_A, 150, cs(100), ms(400)),
            vec![],
            State::Backup,
            Some(ns(400 * MS + MDI_100)),
        )],
    );
}

// ----- Fault -----

#[test]
fn fault_from_backup_and_clear() {
    let r = run(
        "fault backup",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(100),
                advert(PEER_A, 150, cs(10), ms(100)),
                vec![],
                State::Backup,
                Some(ns(100 * MS + 360_937_500)),
            ),
            step(
                ms(200),
                Input::Fault,
                vec![change(State::Backup, State::Fault, Reason::Fault)],
                State::Fault,
                None,
            ),
            // Fault ignores adverts, timers and a repeated Fault.
            step(
                ms(300),
                advert(PEER_A, 0, cs(10), ms(300)),
                vec![],
                State::Fault,
                None,
            ),
            step(ms(400), Input::Timer, vec![], State::Fault, None),
            step(ms(400), Input::Fault, vec![], State::Fault, None),
            step(ms(400), Input::Startup, vec![], State::Fault, None),
            // Cleared: Backup as at start-up, with the configured interval again.
            step(
                ms(1000),
                Input::FaultCleared,
                vec![change(State::Fault, State::Backup, Reason::FaultCleared)],
                State::Backup,
                Some(ns(1000 * MS + MDI_100)),
            ),
            step(
                ms(1001),
                Input::FaultCleared,
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_100)),
            ),
        ],
    );
    assert_eq!(r.master_adver_interval(), cs(100));
    assert!(!r.is_faulty());
}

#[test]
fn fault_from_master_resigns_and_releases() {
    let (mut r, _) = master_by_timeout(v3(100));
    run_on(
        &mut r,
        "fault master",
        &[step(
            ms(5000),
            Input::Fault,
            vec![
                send(0),
                Action::RemoveVips,
                change(State::Master, State::Fault, Reason::Fault),
            ],
            State::Fault,
            None,
        )],
    );
    assert_eq!(r.current_master(), None);
    assert!(r.is_faulty());
}

#[test]
fn fault_cleared_owner_goes_master() {
    run(
        "fault owner",
        v3(255),
        &[
            step(
                ms(0),
                Input::Startup,
                takeover(255, State::Initialize, Reason::StartupOwner),
                State::Master,
                Some(ms(1000)),
            ),
            step(
                ms(500),
                Input::Fault,
                vec![
                    send(0),
                    Action::RemoveVips,
                    change(State::Master, State::Fault, Reason::Fault),
                ],
                State::Fault,
                None,
            ),
            step(
                ms(800),
                Input::FaultCleared,
                takeover(255, State::Fault, Reason::FaultCleared),
                State::Master,
                Some(ms(1800)),
            ),
        ],
    );
}

#[test]
fn fault_before_startup_starts_in_fault() {
    run(
        "fault before startup",
        v3(100),
        &[
            step(ms(0), Input::Fault, vec![], State::Initialize, None),
            step(
                ms(10),
                Input::Startup,
                vec![change(State::Initialize, State::Fault, Reason::Fault)],
                State::Fault,
                None,
            ),
            step(
                ms(20),
                Input::FaultCleared,
                vec![change(State::Fault, State::Backup, Reason::FaultCleared)],
                State::Backup,
                Some(ns(20 * MS + MDI_100)),
            ),
        ],
    );
    // Cleared again before start-up: a normal start.
    run(
        "fault cleared before startup",
        v3(100),
        &[
            step(ms(0), Input::Fault, vec![], State::Initialize, None),
            step(ms(1), Input::FaultCleared, vec![], State::Initialize, None),
            step(
                ms(2),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(2 * MS + MDI_100)),
            ),
        ],
    );
}

#[test]
fn fault_cleared_restarts_preempt_delay() {
    let config = RouterConfig {
        preempt_delay: Duration::from_secs(10),
        ..v3(150)
    };
    run(
        "fault preempt delay",
        config,
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            step(
                ms(1000),
                Input::Fault,
                vec![change(State::Backup, State::Fault, Reason::Fault)],
                State::Fault,
                None,
            ),
            step(
                ms(20_000),
                Input::FaultCleared,
                vec![change(State::Fault, State::Backup, Reason::FaultCleared)],
                State::Backup,
                Some(ns(20_000 * MS + MDI_150)),
            ),
            // 25 s is past start-up + 10 s but within fault-cleared + 10 s: followed.
            step(
                ms(25_000),
                advert(PEER_A, 100, cs(100), ms(25_000)),
                vec![],
                State::Backup,
                Some(ns(25_000 * MS + MDI_150)),
            ),
        ],
    );
}

// ----- PriorityChanged -----

#[test]
fn priority_change_in_backup_shortens_running_timer_and_changes_skew() {
    let mut r = run(
        "prio backup",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // 100 -> 200: skew 56/256 s; the running timer (from start-up) shortens.
            step(
                ms(1000),
                Input::PriorityChanged(200),
                vec![],
                State::Backup,
                Some(ns(MDI_200)),
            ),
        ],
    );
    assert_eq!(r.effective_priority(), 200);
    assert_eq!(r.priority(), 100);
    assert_eq!(r.skew_time(), Duration::from_nanos(218_750_000));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(MDI_200));
    run_on(
        &mut r,
        "prio backup down",
        &[
            // 200 -> 50: MDI grows to 3.8046875 s; a running timer is never lengthened.
            step(
                ms(1100),
                Input::PriorityChanged(50),
                vec![],
                State::Backup,
                Some(ns(MDI_200)),
            ),
            // ...but the next reset uses it.
            step(
                ms(1200),
                advert(PEER_A, 60, cs(100), ms(1200)),
                vec![],
                State::Backup,
                Some(ns(1200 * MS + 3_804_687_500)),
            ),
        ],
    );
    // With priority 50 a priority-60 Master is followed; back at 200 it is preempted, and
    // the takeover advert carries 200.
    run_on(
        &mut r,
        "prio backup up again",
        &[
            step(
                ms(1300),
                Input::PriorityChanged(200),
                vec![],
                State::Backup,
                Some(ns(1200 * MS + MDI_200)),
            ),
            step(
                ms(1400),
                advert(PEER_A, 60, cs(100), ms(1400)),
                vec![],
                State::Backup,
                Some(ns(1400 * MS + SKEW_200)),
            ),
            step(
                ns(1400 * MS + SKEW_200),
                Input::Timer,
                takeover(
                    200,
                    State::Backup,
                    Reason::Preempting {
                        priority: 60,
                        from: ip(PEER_A),
                    },
                ),
                State::Master,
                Some(ns(2400 * MS + SKEW_200)),
            ),
        ],
    );
}

#[test]
fn priority_change_in_backup_shortens_a_resign_skew() {
    run(
        "prio resign",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            step(
                ms(1000),
                advert(PEER_A, 0, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + SKEW_100)),
            ),
            step(
                ms(1001),
                Input::PriorityChanged(200),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + 218_750_000)),
            ),
        ],
    );
}

#[test]
fn priority_change_in_master_goes_into_the_next_advert() {
    let (mut r, since) = master_by_timeout(v3(100));
    let next = since + Duration::from_secs(1);
    run_on(
        &mut r,
        "prio master",
        &[
            step(
                since,
                Input::PriorityChanged(120),
                vec![],
                State::Master,
                Some(next),
            ),
            step(
                next,
                Input::Timer,
                vec![send(120)],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            // Clamped: a non-owner never advertises 0 or 255.
            step(
                next + Duration::from_millis(1),
                Input::PriorityChanged(0),
                vec![],
                State::Master,
                Some(next + Duration::from_secs(1)),
            ),
            step(
                next + Duration::from_secs(1),
                Input::Timer,
                vec![send(1)],
                State::Master,
                Some(next + Duration::from_secs(2)),
            ),
            step(
                next + Duration::from_millis(1001),
                Input::PriorityChanged(255),
                vec![],
                State::Master,
                Some(next + Duration::from_secs(2)),
            ),
            step(
                next + Duration::from_secs(2),
                Input::Timer,
                vec![send(254)],
                State::Master,
                Some(next + Duration::from_secs(3)),
            ),
        ],
    );
    assert_eq!(
        r.current_master(),
        Some(MasterInfo {
            address: ip(LOCAL),
            priority: 254
        })
    );
}

#[test]
fn priority_change_ignored_for_owner() {
    let mut r = Router::new(v3(255));
    r.handle(ms(0), Input::PriorityChanged(10));
    assert_eq!(r.effective_priority(), 255);
    assert_eq!(
        r.handle(ms(0), Input::Startup),
        takeover(255, State::Initialize, Reason::StartupOwner)
    );
}

#[test]
fn priority_change_in_master_lets_a_higher_backup_preempt() {
    // A Master whose priority drops is not demoted by the change itself; the peer's
    // preemption does it, and its advert sends us to Backup.
    let (mut r, since) = master_by_timeout(v3(200));
    run_on(
        &mut r,
        "prio drop",
        &[
            step(
                since,
                Input::PriorityChanged(90),
                vec![],
                State::Master,
                Some(since + Duration::from_secs(1)),
            ),
            step(
                ms(4000),
                advert(PEER_A, 100, cs(100), ms(4000)),
                vec![change(
                    State::Master,
                    State::Backup,
                    Reason::HigherPriority {
                        priority: 100,
                        from: ip(PEER_A),
                    },
                )],
                State::Backup,
                Some(ms(4000) + HANDOVER_GRACE),
            ),
        ],
    );
}

// ----- degenerate inputs -----

#[test]
fn zero_intervals_read_as_one_centisecond() {
    let r = Router::new(RouterConfig {
        advertisement_interval: cs(0),
        ..v3(100)
    });
    assert_eq!(r.advertisement_interval(), cs(1));
    let mut r = Router::new(v3(100));
    r.handle(ms(0), Input::Startup);
    r.handle(ms(1), advert(PEER_A, 150, cs(0), ms(1)));
    assert_eq!(r.master_adver_interval(), cs(1));
    assert_eq!(r.next_deadline(), Some(ns(MS + 36_093_750)));
}

// ----- Display -----

#[test]
fn reasons_read_as_log_lines() {
    let from = ip("198.18.0.1");
    let cases = [
        (
            Reason::MasterDown {
                after: Duration::from_nanos(360_937_500),
            },
            "master down timer expired after 361 ms",
        ),
        (
            Reason::MasterDown {
                after: Duration::from_nanos(MDI_100),
            },
            "master down timer expired after 3609 ms",
        ),
        (
            Reason::HigherPriority {
                priority: 150,
                from,
            },
            "higher priority 150 from 198.18.0.1",
        ),
        (
            Reason::MasterResigned { from },
            "priority 0 from 198.18.0.1 (master resigned)",
        ),
        (
            Reason::Preempting { priority: 90, from },
            "preempting lower priority 90 from 198.18.0.1",
        ),
        (
            Reason::EqualPriorityHigherAddress {
                priority: 100,
                from: ip("fe80::3"),
            },
            "equal priority 100 from fe80::3 with a higher primary address",
        ),
        (Reason::StartupOwner, "startup as address owner"),
        (Reason::Startup, "startup"),
        (Reason::Shutdown, "shutdown"),
        (Reason::Fault, "fault"),
        (Reason::FaultCleared, "fault cleared"),
    ];
    for (reason, text) in cases {
        assert_eq!(reason.to_string(), text);
    }
    assert_eq!(
        [
            State::Initialize,
            State::Backup,
            State::Master,
            State::Fault
        ]
        .map(|s| s.to_string()),
        ["Initialize", "Backup", "Master", "Fault"]
    );
}

// ----- property-style: random input sequences -----

/// xorshift64*: small, deterministic, good enough to shuffle inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[test]
fn random_inputs_keep_invariants() {
    let senders = [
        ip("198.18.0.1"),
        ip("198.18.0.2"),
        ip("198.18.0.3"),
        ip("198.18.0.200"),
    ];
    let priorities = [0u8, 1, 50, 99, 100, 101, 150, 254, 255];
    let intervals = [cs(0), cs(1), cs(10), cs(100), cs(4095)];
    for seed in 1..=300u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let version = if rng.below(4) == 0 {
            Version::V2
        } else {
            Version::V3
        };
        let config = RouterConfig {
            version,
            priority: rng.pick(&priorities),
            advertisement_interval: rng.pick(&[cs(1), cs(10), cs(100), cs(300)]),
            preempt_mode: rng.below(2) == 0,
            preempt_delay: Duration::from_millis(rng.pick(&[0, 0, 500, 5000])),
            accept_mode: false,
            primary_address: senders[1],
            align_adverts: false,
            lower_prio_no_advert: seed % 3 == 0,
            higher_prio_send_advert: seed % 5 == 0,
        };
        let no_answer = config.lower_prio_no_advert;
        let mut r = Router::new(config);
        let mut now = ms(0);
        let mut vips_held = false;
        let mut fed: Vec<Input> = Vec::new();
        for i in 0..250 {
            now = now + Duration::from_micros(rng.below(1_500_000));
            // A runtime: fire due timers first, as it would after sleeping.
            if r.next_deadline().is_some_and(|d| d <= now) {
                let acts = r.handle(now, Input::Timer);
                check_actions(&acts, &mut vips_held, &r, no_answer, (seed, i));
                let d = r.next_deadline();
                assert!(
                    d.is_none_or(|d| d > now),
                    "seed {seed} step {i}: Timer left {d:?} <= {now:?}"
                );
            }
            let input = match rng.below(14) {
                0 => Input::Startup,
                1 => Input::Shutdown,
                2 => Input::Timer,
                3 => Input::PriorityChanged(rng.below(256) as u8),
                4 => Input::Fault,
                5 => Input::FaultCleared,
                6 if !fed.is_empty() => fed[rng.below(fed.len() as u64) as usize],
                7 => Input::Maintenance(rng.below(2) == 0),
                8 if rng.below(4) == 0 => Input::ReleaseVips,
                _ => {
                    let received_at = now - Duration::from_micros(rng.below(5_000_000));
                    let interval = if version == Version::V2 && rng.below(2) == 0 {
                        r.advertisement_interval()
                    } else {
                        rng.pick(&intervals)
                    };
                    let a = Input::Advert {
                        from: rng.pick(&senders),
                        priority: rng.pick(&priorities),
                        max_adver_int: interval,
                        received_at,
                    };
                    fed.push(a);
                    a
                }
            };
            let before = r.next_deadline();
            let acts = r.handle(now, input);
            check_actions(&acts, &mut vips_held, &r, no_answer, (seed, i));
            // A Timer that fires nothing when nothing is due.
            if input == Input::Timer && before.is_none_or(|d| d > now) {
                assert!(
                    acts.is_empty(),
                    "seed {seed} step {i}: Timer before the deadline acted"
                );
            }
            // Past deadlines only when a timer is due, and Timer then clears them.
            if r.next_deadline().is_some_and(|d| d <= now) {
                let acts = r.handle(now, Input::Timer);
                check_actions(&acts, &mut vips_held, &r, no_answer, (seed, i));
                let d = r.next_deadline();
                assert!(
                    d.is_none_or(|d| d > now),
                    "seed {seed} step {i}: due timer stayed at {d:?}"
                );
            }
            // The same input twice in a row changes nothing (except Timer, which may be due).
            if let Input::Advert { .. } = input {
                let (state, deadline) = (r.state(), r.next_deadline());
                assert!(
                    r.handle(now, input).is_empty(),
                    "seed {seed} step {i}: duplicate acted"
                );
                assert_eq!((r.state(), r.next_deadline()), (state, deadline));
            }
        }
    }
}

/// Invariants after every `handle`: VIPs held exactly while Master, a StateChange last and
/// consistent, deadlines exactly in Backup and Master, the RFC formula in force.
fn check_actions(
    acts: &[Action],
    vips_held: &mut bool,
    r: &Router,
    no_answer: bool,
    (seed, i): (u64, usize),
) {
    let ctx = format!("seed {seed} step {i}: {acts:?}");
    for (n, a) in acts.iter().enumerate() {
        match *a {
            Action::AddVips => {
                // Held already only when a handover was under way (nobody took over).
                *vips_held = true;
            }
            Action::RemoveVips => {
                assert!(*vips_held, "{ctx}: RemoveVips without VIPs");
                *vips_held = false;
            }
            Action::StateChange { from, to, .. } => {
                assert_eq!(n, acts.len() - 1, "{ctx}: StateChange not last");
                assert_ne!(from, to, "{ctx}");
                assert_eq!(to, r.state(), "{ctx}");
            }
            Action::SendAdvert { priority } => {
                assert!(
                    priority == 0 || priority == r.effective_priority(),
                    "{ctx}: advert priority {priority}"
                );
            }
            Action::Announce => assert!(*vips_held, "{ctx}: Announce without VIPs"),
            Action::AnnounceLowerPriority => {
                assert!(*vips_held, "{ctx}: AnnounceLowerPriority without VIPs");
                let answer = Action::SendAdvert {
                    priority: r.effective_priority(),
                };
                let before = acts.get(n.wrapping_sub(1));
                if no_answer {
                    assert_eq!(before, None, "{ctx}: lower_prio_no_advert answered");
                } else {
                    assert_eq!(
                        before,
                        Some(&answer),
                        "{ctx}: AnnounceLowerPriority without its advert"
                    );
                }
            }
        }
    }
    assert_eq!(
        *vips_held,
        r.state() == State::Master || r.handing_over(),
        "{ctx}: VIPs vs state"
    );
    assert!(
        !(r.state() == State::Master && r.handing_over()),
        "{ctx}: a Master hands nothing over"
    );
    assert_eq!(
        r.next_deadline().is_some(),
        matches!(r.state(), State::Backup | State::Master) || r.handing_over(),
        "{ctx}: deadline vs state"
    );
    assert_eq!(
        r.master_down_interval(),
        r.master_adver_interval().as_duration() * 3 + r.skew_time(),
        "{ctx}"
    );
    assert!((1..=255).contains(&r.effective_priority()), "{ctx}");
}

#[test]
fn aligned_adverts_share_a_grid() {
    // Two owners with a 1 s interval becoming Master at different instants advertise at once
    // and then on the same whole-second grid, at least half an interval after the first.
    let cfg = RouterConfig {
        align_adverts: true,
        ..v3(255)
    };
    for (start, first) in [
        (ms(0), ms(1000)),
        (ms(200), ms(1000)),
        (ms(700), ms(2000)),
        (ms(1499), ms(2000)),
    ] {
        let mut r = Router::new(cfg);
        let actions = r.handle(start, Input::Startup);
        assert!(actions.contains(&send(255)), "first advert at once");
        assert_eq!(r.next_deadline(), Some(first), "started at {start:?}");
        r.handle(first, Input::Timer);
        assert_eq!(
            r.next_deadline(),
            Some(first + Duration::from_secs(1)),
            "then on the grid"
        );
    }
}

#[test]
fn sync_group_master_and_backup_follow() {
    let mut r = run(
        "group master",
        v3(100),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // Not in Master: GroupBackup changes nothing.
            step(
                ms(10),
                Input::GroupBackup,
                vec![],
                State::Backup,
                Some(ns(MDI_100)),
            ),
            // A member became Master: follow at once.
            step(
                ms(500),
                Input::GroupMaster,
                takeover(100, State::Backup, Reason::SyncGroup),
                State::Master,
                Some(ms(1500)),
            ),
            // Already Master: nothing.
            step(
                ms(600),
                Input::GroupMaster,
                vec![],
                State::Master,
                Some(ms(1500)),
            ),
            // A member left Master: no priority-0 advert, a full Master_Down_Interval as
            // Backup, and the VIPs handed over (kept until the new Master is heard: the
            // next wake-up is the first look at the kernel's records, 2 ms later).
            step(
                ms(700),
                Input::GroupBackup,
                vec![change(State::Master, State::Backup, Reason::SyncGroup)],
                State::Backup,
                Some(ms(702)),
            ),
        ],
    );
    assert!(r.handing_over());
    assert_eq!(r.master_down_timer(), Some(ns(700 * MS + MDI_100)));
    // In Fault, following is not possible; a link fault lets the held VIPs go at once.
    run_on(
        &mut r,
        "group fault",
        &[
            step(
                ms(800),
                Input::Fault,
                vec![
                    Action::RemoveVips,
                    change(State::Backup, State::Fault, Reason::Fault),
                ],
                State::Fault,
                None,
            ),
            step(ms(900), Input::GroupMaster, vec![], State::Fault, None),
        ],
    );
}

#[test]
fn backup_preempts_its_master_one_skew_after_it_lowers_its_priority() {
    run(
        "followed master lowers",
        v3(150),
        &[
            step(
                ms(0),
                Input::Startup,
                vec![change(State::Initialize, State::Backup, Reason::Startup)],
                State::Backup,
                Some(ns(MDI_150)),
            ),
            // Following a priority-200 Master.
            step(
                ms(1000),
                advert(HIGH_ADDR, 200, cs(100), ms(1000)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
            // A third router with a lower priority: discarded, nothing moves.
            step(
                ms(1500),
                advert(PEER_A, 100, cs(100), ms(1500)),
                vec![],
                State::Backup,
                Some(ns(1000 * MS + MDI_150)),
            ),
            // The followed Master drops to 90 (its tracking): take over one skew later.
            step(
                ms(2000),
                advert(HIGH_ADDR, 90, cs(100), ms(2000)),
                vec![],
                State::Backup,
                Some(ns(2000 * MS + SKEW_150)),
            ),
            step(
                ns(2000 * MS + SKEW_150),
                Input::Timer,
                takeover(
                    150,
                    State::Backup,
                    Reason::Preempting {
                        priority: 90,
                        from: ip(HIGH_ADDR),
                    },
                ),
                State::Master,
                Some(ns(3000 * MS + SKEW_150)),
            ),
        ],
    );
}

#[test]
fn master_down_watch_describes_plain_timers_only() {
    let mut r = Router::new(v3(150));
    assert_eq!(r.master_down_watch(), None);
    r.handle(ms(0), Input::Startup);
    assert_eq!(
        r.master_down_watch(),
        Some(DownWatch {
            from: ms(0),
            down_after: Duration::from_nanos(MDI_150),
            min_priority: 150
        })
    );
    r.handle(ms(1000), advert(HIGH_ADDR, 200, cs(100), ms(1000)));
    assert_eq!(r.master_down_watch().map(|w| w.from), Some(ms(1000)));
    // The followed Master lowered its priority: Skew_Time, not a watchable timer.
    r.handle(ms(1100), advert(HIGH_ADDR, 90, cs(100), ms(1100)));
    assert_eq!(r.master_down_watch(), None);
    // Priority 0 likewise.
    let mut r = Router::new(v3(150));
    r.handle(ms(0), Input::Startup);
    r.handle(ms(500), advert(HIGH_ADDR, 0, cs(100), ms(500)));
    assert_eq!(r.master_down_watch(), None);
    // nopreempt: any priority holds it off.
    let mut r = Router::new(RouterConfig {
        preempt_mode: false,
        ..v3(150)
    });
    r.handle(ms(0), Input::Startup);
    assert_eq!(r.master_down_watch().map(|w| w.min_priority), Some(1));
    // preempt_delay: not watchable; Master: none.
    let mut r = Router::new(RouterConfig {
        preempt_delay: Duration::from_secs(5),
        ..v3(150)
    });
    r.handle(ms(0), Input::Startup);
    assert_eq!(r.master_down_watch(), None);
    let (m, _) = master_by_timeout(v3(150));
    assert_eq!(m.master_down_watch(), None);
}

#[test]
fn a_new_configured_priority_goes_through_priority_changed() {
    let (mut r, t) = master_by_timeout(v3(150));
    assert!(r.set_priority(120));
    assert_eq!((r.priority(), r.effective_priority()), (120, 150));
    // The runtime then feeds the effective priority; the next advert carries it.
    assert!(r.handle(t, Input::PriorityChanged(120)).is_empty());
    assert_eq!(r.state(), State::Master);
    let next = r.next_deadline().unwrap();
    assert_eq!(r.handle(next, Input::Timer), vec![send(120)]);
    // Owner changes need a restart.
    assert!(!r.set_priority(255));
    assert_eq!(r.priority(), 120);
    let mut owner = Router::new(v3(255));
    assert!(!owner.set_priority(200));
    assert!(owner.set_priority(255));
}

// ----- settings taken in place (reload) -----

/// A Master whose interval changes keeps its state; the advert already due goes no later
/// than one new interval, then the new interval holds.
#[test]
fn a_new_interval_is_taken_in_place_by_a_master() {
    let mut r = Router::new(v3(100));
    r.handle(ms(0), Input::Startup);
    r.handle(ns(MDI_100), Input::Timer);
    assert_eq!(r.state(), State::Master);
    let first = r.next_deadline().unwrap();
    assert_eq!(first, ns(MDI_100 + SEC));
    // 1 s -> 0.1 s, 200 ms after becoming Master: the next advert at once + 100 ms.
    let now = ns(MDI_100 + 200 * MS);
    r.set_advertisement_interval(now, cs(10));
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.next_deadline(), Some(now + Duration::from_millis(100)));
    let due = r.next_deadline().unwrap();
    assert_eq!(r.handle(due, Input::Timer), vec![send(100)]);
    assert_eq!(r.next_deadline(), Some(due + Duration::from_millis(100)));
    // Back to 1 s: the advert already scheduled stays where it is.
    let due = r.next_deadline().unwrap();
    r.set_advertisement_interval(due - Duration::from_millis(50), cs(100));
    assert_eq!(r.next_deadline(), Some(due));
    assert_eq!(r.handle(due, Input::Timer), vec![send(100)]);
    assert_eq!(r.next_deadline(), Some(due + Duration::from_secs(1)));
    assert_eq!(r.advertisement_interval(), cs(100));
}

/// A v3 Backup keeps the Master's interval it learned until the Master's adverts say
/// otherwise; a v2 Backup follows its own configured interval at once.
#[test]
fn a_backup_learns_the_interval_from_adverts_in_v3_and_takes_it_in_v2() {
    let mut r = Router::new(v3(100));
    r.handle(ms(0), Input::Startup);
    r.handle(ms(10), advert(PEER_A, 150, cs(100), ms(10)));
    let before = r.master_down_interval();
    r.set_advertisement_interval(ms(20), cs(10));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.master_down_interval(), before);
    assert_eq!(r.next_deadline(), Some(ms(10) + before));
    r.handle(ms(30), advert(PEER_A, 150, cs(10), ms(30)));
    assert_eq!(r.master_adver_interval(), cs(10));
    assert_eq!(
        r.next_deadline(),
        Some(ms(30) + Duration::from_millis(300) + r.skew_time())
    );

    let mut r = Router::new(v2(100));
    r.handle(ms(0), Input::Startup);
    r.set_advertisement_interval(ms(10), cs(200));
    assert_eq!(r.master_adver_interval(), cs(200));
    assert_eq!(
        r.master_down_interval(),
        Duration::from_secs(6) + r.skew_time()
    );
}

/// nopreempt -> preempt on a higher-priority Backup: the next lower-priority advert from
/// the Master it follows is discarded and it takes over one Skew_Time later, without any
/// other transition.
#[test]
fn preempt_is_taken_in_place() {
    let mut cfg = v3(150);
    cfg.preempt_mode = false;
    let mut r = Router::new(cfg);
    r.handle(ms(0), Input::Startup);
    r.handle(ms(100), advert(PEER_A, 100, cs(100), ms(100)));
    r.handle(ms(1100), advert(PEER_A, 100, cs(100), ms(1100)));
    assert_eq!(r.next_deadline(), Some(ms(1100) + r.master_down_interval()));
    r.set_preempt(true, Duration::ZERO);
    assert!(r.preempt_mode());
    assert_eq!(r.state(), State::Backup);
    r.handle(ms(2100), advert(PEER_A, 100, cs(100), ms(2100)));
    assert_eq!(r.next_deadline(), Some(ms(2100) + r.skew_time()));
    let out = r.handle(ms(2100) + r.skew_time(), Input::Timer);
    assert_eq!(
        out,
        takeover(
            150,
            State::Backup,
            Reason::Preempting {
                priority: 100,
                from: ip(PEER_A)
            }
        )
    );
    // And back: nopreempt with a delay changes nothing for a Master.
    r.set_preempt(false, Duration::from_secs(5));
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.preempt_delay(), Duration::from_secs(5));
}
