//! Make-before-break handover and maintenance, with a fake clock: exact actions and
//! deadlines at advert_int 0.01 s (the interval of the benchmark's fast rows).
use std::{net::IpAddr, time::Duration};

use super::handover::{give_up_after, HANDOVER_GRACE, HANDOVER_POLL};
use super::skew_time;
use super::*;
use crate::units::{Centisecs, MonoTime};

const LOCAL: &str = "198.18.0.2";
const PEER: &str = "198.18.0.10";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `n` microseconds after 100 s since boot.
fn us(n: u64) -> MonoTime {
    MonoTime::from_since_boot(Duration::from_secs(100) + Duration::from_micros(n))
}

fn advert(from: &str, priority: u8, received_at: MonoTime) -> Input {
    Input::Advert {
        from: ip(from),
        priority,
        max_adver_int: Centisecs::new(1),
        received_at,
    }
}

fn change(from: State, to: State, reason: Reason) -> Action {
    Action::StateChange { from, to, reason }
}

/// A v3 router at 0.01 s that became Master by its timer; returns it and that moment.
fn master(priority: u8) -> (Router, MonoTime) {
    let mut r = Router::new(RouterConfig {
        priority,
        advertisement_interval: Centisecs::new(1),
        ..RouterConfig::new(Version::V3, ip(LOCAL))
    });
    r.handle(us(0), Input::Startup);
    let at = r.next_deadline().unwrap();
    r.handle(at, Input::Timer);
    assert_eq!(r.state(), State::Master);
    (r, at)
}

/// The give-up bound at 0.01 s (v3): 2 * 255/256 * 10 ms + 20 ms (the skew, 9.9609375 ms,
/// in whole nanoseconds).
const BOUND_10MS: Duration = Duration::from_nanos(39_921_874);

#[test]
fn the_bound_is_twice_the_longest_skew_and_the_margin_capped_at_5_s() {
    let v3 = |cs| give_up_after(Version::V3, Centisecs::new(cs));
    let v2 = |cs| give_up_after(Version::V2, Centisecs::new(cs));
    assert_eq!(v3(1), BOUND_10MS);
    assert_eq!(v3(10), Duration::from_nanos(219_218_750));
    assert_eq!(v3(100), Duration::from_nanos(2_012_187_500));
    assert_eq!(v3(200), Duration::from_nanos(4_004_375_000));
    // 2 * 2.490 s + 20 ms is 5.0005 s: capped.
    assert_eq!(v3(250), Duration::from_secs(5));
    assert_eq!(v3(4095), Duration::from_secs(5));
    // v2: Skew_Time is (256 - p)/256 s whatever the interval.
    assert_eq!(v2(100), Duration::from_nanos(2_012_187_500));
    assert_eq!(v2(25_500), Duration::from_nanos(2_012_187_500));
}

#[test]
fn shutdown_keeps_the_vips_until_the_new_master_is_heard_and_its_grace_passed() {
    let (mut r, t) = master(100);
    let t = t + Duration::from_millis(3);
    // Priority 0 as today, but no RemoveVips yet, and no further adverts.
    assert_eq!(
        r.handle(t, Input::Shutdown),
        vec![
            Action::SendAdvert { priority: 0 },
            change(State::Master, State::Initialize, Reason::Shutdown)
        ]
    );
    assert!(r.handing_over());
    assert_eq!(r.handover_deadline(), Some(t + BOUND_10MS));
    // Until someone is heard, the runtime reads the kernel's records every 2 ms.
    assert_eq!(r.next_deadline(), Some(t + HANDOVER_POLL));
    assert_eq!(r.handle(t + HANDOVER_POLL, Input::Timer), vec![]);
    assert_eq!(r.next_deadline(), Some(t + HANDOVER_POLL * 2));
    // Not news: our own looped-back advert, a priority 0, an advert from before we resigned.
    for input in [
        advert(LOCAL, 100, t + Duration::from_millis(1)),
        advert(PEER, 0, t + Duration::from_millis(1)),
        advert(PEER, 100, t - Duration::from_millis(1)),
    ] {
        assert_eq!(r.handle(t + Duration::from_millis(2), input), vec![]);
        assert_eq!(r.handover_deadline(), Some(t + BOUND_10MS));
    }
    // The Backup took over after its Skew_Time: its advert, read a little late.
    let heard = t + Duration::from_micros(6_200);
    assert_eq!(
        r.handle(heard + Duration::from_micros(300), advert(PEER, 100, heard)),
        vec![]
    );
    assert_eq!(r.next_deadline(), Some(heard + HANDOVER_GRACE));
    // A later advert does not move the deadline.
    r.handle(
        heard + Duration::from_millis(5),
        advert(PEER, 100, heard + Duration::from_millis(5)),
    );
    assert_eq!(r.next_deadline(), Some(heard + HANDOVER_GRACE));
    // Not yet: nothing. Then the VIPs go, and nothing is left to do.
    let early = heard + HANDOVER_GRACE - Duration::from_micros(1);
    assert_eq!(r.handle(early, Input::Timer), vec![]);
    assert_eq!(
        r.handle(heard + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
    assert!(!r.handing_over());
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.state(), State::Initialize);
}

#[test]
fn shutdown_without_a_backup_lets_go_at_the_bound() {
    let (mut r, t) = master(100);
    r.handle(t, Input::Shutdown);
    let bound = t + BOUND_10MS;
    assert_eq!(
        r.handle(bound - Duration::from_micros(1), Input::Timer),
        vec![]
    );
    assert_eq!(r.handle(bound, Input::Timer), vec![Action::RemoveVips]);
    assert_eq!(r.next_deadline(), None);
    // A second SIGTERM (ReleaseVips) during a handover lets go at once; afterwards nothing.
    let (mut r, t) = master(100);
    r.handle(t, Input::Shutdown);
    assert_eq!(r.handle(t, Input::ReleaseVips), vec![Action::RemoveVips]);
    assert_eq!(r.handle(t, Input::ReleaseVips), vec![]);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn preempted_master_goes_backup_at_once_and_lets_go_after_the_grace() {
    let (mut r, t) = master(100);
    let at = t + Duration::from_millis(4);
    assert_eq!(
        r.handle(at + Duration::from_micros(100), advert(PEER, 150, at)),
        vec![change(
            State::Master,
            State::Backup,
            Reason::HigherPriority {
                priority: 150,
                from: ip(PEER)
            }
        )]
    );
    // No advert from us any more; the VIPs for the grace; the watchdog does not keep a
    // timer the grace is part of.
    assert_eq!(r.next_deadline(), Some(at + HANDOVER_GRACE));
    assert_eq!(r.master_down_watch(), None);
    assert_eq!(
        r.handle(at + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
    // Then an ordinary Backup following the new Master: Master_Down_Interval from its
    // advert (priority 100 at 0.01 s: 30 ms + 156/256 * 10 ms).
    let mdi = Duration::from_nanos(36_093_750);
    assert_eq!(r.next_deadline(), Some(at + mdi));
    assert!(r.master_down_watch().is_some());
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_fault_during_a_handover_lets_go_at_once() {
    let (mut r, t) = master(100);
    r.handle(t, advert(PEER, 150, t));
    assert_eq!(
        r.handle(t, Input::Fault),
        vec![
            Action::RemoveVips,
            change(State::Backup, State::Fault, Reason::Fault)
        ]
    );
    assert!(!r.handing_over());
}

#[test]
fn maintenance_resigns_once_hands_over_and_stays_backup_at_priority_1() {
    let (mut r, t) = master(150);
    assert_eq!(
        r.handle(t, Input::Maintenance(true)),
        vec![
            Action::SendAdvert { priority: 0 },
            change(State::Master, State::Backup, Reason::Maintenance)
        ]
    );
    assert!(r.in_maintenance() && r.handing_over());
    assert_eq!(r.effective_priority(), 1);
    // Tracking does not lift it while in maintenance.
    assert_eq!(r.handle(t, Input::PriorityChanged(120)), vec![]);
    assert_eq!(r.effective_priority(), 1);
    // The peer (priority 100) takes over: the VIPs go after the grace, then it follows.
    let heard = t + Duration::from_micros(6_500);
    assert_eq!(r.handle(heard, advert(PEER, 100, heard)), vec![]);
    assert_eq!(r.next_deadline(), Some(heard + HANDOVER_GRACE));
    assert_eq!(
        r.handle(heard + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
    // Priority 1 at 0.01 s: 30 ms + 255/256 * 10 ms.
    assert_eq!(
        r.next_deadline(),
        Some(heard + Duration::from_nanos(39_960_937))
    );
    // Maintenance on again is nothing new.
    assert_eq!(r.handle(heard, Input::Maintenance(true)), vec![]);
    // Off: the tracked priority is back (120 beats the Master's 100), and the next advert
    // of the lower-priority Master starts the preemption: Skew_Time at 120 after it.
    assert_eq!(r.handle(heard, Input::Maintenance(false)), vec![]);
    assert!(!r.in_maintenance());
    assert_eq!(r.effective_priority(), 120);
    let next = heard + Duration::from_millis(10);
    assert_eq!(r.handle(next, advert(PEER, 100, next)), vec![]);
    assert_eq!(
        r.next_deadline(),
        Some(next + Duration::from_nanos(5_312_500))
    );
}

#[test]
fn maintenance_without_a_peer_keeps_serving() {
    // Nobody takes over: the router waits as Backup of priority 1 and keeps the VIPs past
    // the give-up bound (39.92 ms) until its own Master_Down_Timer (39.96 ms) makes it
    // Master again; the VIPs never went.
    let (mut r, t) = master(100);
    r.handle(t, Input::Maintenance(true));
    let down = t + Duration::from_nanos(39_960_937);
    assert_eq!(r.master_down_timer(), Some(down));
    assert_eq!(r.handover_deadline(), None);
    assert_eq!(r.next_deadline(), Some(t + HANDOVER_POLL));
    let mut now = t;
    while now + HANDOVER_POLL < down {
        now = r.next_deadline().unwrap();
        assert_eq!(r.handle(now, Input::Timer), vec![], "at {now:?}");
    }
    // Past the give-up bound: still holding.
    assert!(now < t + BOUND_10MS);
    assert_eq!(r.handle(t + BOUND_10MS, Input::Timer), vec![]);
    assert!(r.handing_over());
    assert_eq!(r.next_deadline(), Some(down));
    assert_eq!(
        r.handle(down, Input::Timer),
        vec![
            Action::AddVips,
            Action::Announce,
            Action::SendAdvert { priority: 1 },
            change(
                State::Backup,
                State::Master,
                Reason::MasterDown {
                    after: Duration::from_nanos(39_960_937)
                }
            )
        ]
    );
    assert!(!r.handing_over());
}

#[test]
fn an_owner_in_maintenance_starts_as_backup() {
    let mut r = Router::new(RouterConfig {
        priority: 255,
        advertisement_interval: Centisecs::new(1),
        ..RouterConfig::new(Version::V3, ip(LOCAL))
    });
    assert_eq!(r.handle(us(0), Input::Maintenance(true)), vec![]);
    assert_eq!(r.effective_priority(), 1);
    assert_eq!(
        r.handle(us(0), Input::Startup),
        vec![change(State::Initialize, State::Backup, Reason::Startup)]
    );
    assert_eq!(r.handle(us(10), Input::Maintenance(false)), vec![]);
    assert_eq!(r.effective_priority(), 255);
}

#[test]
fn a_new_master_adds_and_announces_its_vips_before_its_first_advert() {
    // The old Master lets go a grace after it hears this advert: the addresses and the
    // gratuitous ARP must not come after it.
    let mut r = Router::new(RouterConfig {
        advertisement_interval: Centisecs::new(1),
        ..RouterConfig::new(Version::V3, ip(LOCAL))
    });
    r.handle(us(0), Input::Startup);
    let at = r.next_deadline().unwrap();
    let actions = r.handle(at, Input::Timer);
    assert_eq!(
        actions[..3],
        [
            Action::AddVips,
            Action::Announce,
            Action::SendAdvert { priority: 100 }
        ]
    );
}

#[test]
fn a_tracking_fault_on_a_master_hands_over_and_a_link_fault_lets_go_at_once() {
    // A failing weight-0 script: priority 0 now, the VIPs kept until the new Master is
    // heard, Fault at once.
    let (mut r, t) = master(100);
    assert_eq!(
        r.handle(t, Input::TrackingFault),
        vec![
            Action::SendAdvert { priority: 0 },
            change(State::Master, State::Fault, Reason::Fault)
        ]
    );
    assert!(r.is_faulty() && r.handing_over());
    assert_eq!(r.handover_deadline(), Some(t + BOUND_10MS));
    assert_eq!(r.next_deadline(), Some(t + HANDOVER_POLL));
    // Adverts are heard in Fault (only for the handover).
    let heard = t + Duration::from_micros(6_300);
    assert_eq!(r.handle(heard, advert(PEER, 100, heard)), vec![]);
    assert_eq!(r.next_deadline(), Some(heard + HANDOVER_GRACE));
    assert_eq!(
        r.handle(heard + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.state(), State::Fault);

    // Nobody takes over: the VIPs go at the bound, the router stays in Fault.
    let (mut r, t) = master(100);
    r.handle(t, Input::TrackingFault);
    assert_eq!(
        r.handle(t + BOUND_10MS, Input::Timer),
        vec![Action::RemoveVips]
    );

    // The interface goes down during the handover: nothing left to keep, at once.
    let (mut r, t) = master(100);
    r.handle(t, Input::TrackingFault);
    let later = t + Duration::from_millis(3);
    assert_eq!(r.handle(later, Input::Fault), vec![Action::RemoveVips]);
    assert!(!r.handing_over());
    assert_eq!(r.next_deadline(), None);

    // A link fault on a Master: priority 0 and the VIPs go at once, as before.
    let (mut r, t) = master(100);
    assert_eq!(
        r.handle(t, Input::Fault),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            change(State::Master, State::Fault, Reason::Fault)
        ]
    );
    assert!(!r.handing_over());

    // In Backup and Initialize a tracking fault only changes the state (or is remembered).
    let mut r = Router::new(RouterConfig {
        advertisement_interval: Centisecs::new(1),
        ..RouterConfig::new(Version::V3, ip(LOCAL))
    });
    assert_eq!(r.handle(us(0), Input::TrackingFault), vec![]);
    assert_eq!(
        r.handle(us(1), Input::Startup),
        vec![change(State::Initialize, State::Fault, Reason::Fault)]
    );
}

#[test]
fn a_tracking_fault_cleared_during_the_handover_waits_as_backup_holding_the_vips() {
    let (mut r, t) = master(100);
    r.handle(t, Input::TrackingFault);
    let back = t + Duration::from_millis(5);
    assert_eq!(
        r.handle(back, Input::FaultCleared),
        vec![change(State::Fault, State::Backup, Reason::FaultCleared)]
    );
    // Still holding, now until its own Master_Down_Timer (36.09 ms from `back`) or a new
    // Master; nobody came, so it is Master again with the VIPs in place.
    assert!(r.handing_over());
    assert_eq!(r.handover_deadline(), None);
    let down = back + Duration::from_nanos(36_093_750);
    assert_eq!(r.master_down_timer(), Some(down));
    let actions = r.handle(down, Input::Timer);
    assert_eq!(actions[0], Action::AddVips);
    assert_eq!(r.state(), State::Master);
    assert!(!r.handing_over());
}

#[test]
fn a_master_whose_tracked_priority_falls_below_the_peer_hands_over_on_preemption() {
    let (mut r, t) = master(150);
    // A track_file lowers it to 90: nothing at once, its next advert carries 90.
    assert_eq!(r.handle(t, Input::PriorityChanged(90)), vec![]);
    let adver = r.adver_timer().unwrap();
    assert_eq!(
        r.handle(adver, Input::Timer),
        vec![Action::SendAdvert { priority: 90 }]
    );
    // The Backup (100) takes over one Skew_Time later; its advert comes after its VIPs
    // and GARP, and the old Master keeps its VIPs for the grace after hearing it.
    let heard = adver + skew_time(Version::V3, 100, Centisecs::new(1));
    assert_eq!(
        r.handle(heard, advert(PEER, 100, heard)),
        vec![change(
            State::Master,
            State::Backup,
            Reason::HigherPriority {
                priority: 100,
                from: ip(PEER)
            }
        )]
    );
    assert_eq!(r.handover_deadline(), Some(heard + HANDOVER_GRACE));
    assert_eq!(
        r.handle(heard + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
}

#[test]
fn a_sync_group_follower_hands_over_too() {
    // A member of its group left Master: this one follows with no advert and keeps its
    // VIPs until its own new Master (the peer's member of the group) is heard.
    let (mut r, t) = master(100);
    assert_eq!(
        r.handle(t, Input::GroupBackup),
        vec![change(State::Master, State::Backup, Reason::SyncGroup)]
    );
    assert!(r.handing_over());
    assert_eq!(r.handover_deadline(), None);
    assert_eq!(r.next_deadline(), Some(t + HANDOVER_POLL));
    let heard = t + Duration::from_micros(700);
    assert_eq!(r.handle(heard, advert(PEER, 100, heard)), vec![]);
    assert_eq!(r.handover_deadline(), Some(heard + HANDOVER_GRACE));
    assert_eq!(
        r.handle(
            heard + HANDOVER_GRACE - Duration::from_micros(1),
            Input::Timer
        ),
        vec![]
    );
    assert_eq!(
        r.handle(heard + HANDOVER_GRACE, Input::Timer),
        vec![Action::RemoveVips]
    );
    assert_eq!(r.state(), State::Backup);

    // Nobody comes: Master again at its own Master_Down_Timer, the VIPs never went.
    let (mut r, t) = master(100);
    r.handle(t, Input::GroupBackup);
    let down = t + Duration::from_nanos(36_093_750);
    assert_eq!(r.master_down_timer(), Some(down));
    let actions = r.handle(down, Input::Timer);
    assert!(!actions.contains(&Action::RemoveVips));
    assert_eq!(actions[0], Action::AddVips);
    assert_eq!(r.state(), State::Master);
}
