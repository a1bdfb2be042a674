//! Make-before-break handover and maintenance, with a fake clock: exact actions and
//! deadlines at advert_int 0.01 s (the interval of the benchmark's fast rows).
use std::{net::IpAddr, time::Duration};

use super::handover::{give_up_after, HANDOVER_GRACE, HANDOVER_POLL};
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

#[test]
fn the_bound_is_four_intervals_and_the_margin() {
    assert_eq!(give_up_after(Centisecs::new(1)), Duration::from_millis(60));
    assert_eq!(
        give_up_after(Centisecs::new(100)),
        Duration::from_millis(4020)
    );
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
    assert_eq!(r.handover_deadline(), Some(t + Duration::from_millis(60)));
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
        assert_eq!(r.handover_deadline(), Some(t + Duration::from_millis(60)));
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
    let bound = t + Duration::from_millis(60);
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
    // Nobody takes over: Master_Down_Interval at priority 1 (39.96 ms) comes before the
    // give-up bound (60 ms), and the router is Master again; the VIPs never went.
    let (mut r, t) = master(100);
    r.handle(t, Input::Maintenance(true));
    let down = t + Duration::from_nanos(39_960_937);
    assert_eq!(r.master_down_timer(), Some(down));
    assert_eq!(r.handover_deadline(), Some(t + Duration::from_millis(60)));
    assert_eq!(
        r.handle(down, Input::Timer),
        vec![
            Action::SendAdvert { priority: 1 },
            Action::AddVips,
            Action::Announce,
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
