//! Make-before-break handover: a Master that leaves on purpose keeps its VIPs until the
//! new Master has been heard and its gratuitous ARP / unsolicited NA has had time to land.
//!
//! Today's RFC behaviour (priority 0, then the VIPs go at once) leaves the client without a
//! working next hop from the moment the addresses go until the Backup has waited its
//! Skew_Time, sent its advert, added the addresses and announced them: 15 ms at
//! advert_int 0.01, over 600 ms at 1 s. Holding the addresses a little longer costs
//! nothing: until the client hears the new Master's announcement it sends to the old
//! Master's MAC, and the old Master still answers. Once the announcement has landed, the
//! old Master lets go.
//!
//! ```text
//! old Master: prio 0 ──── holds VIPs, silent ──────────── heard ── GRACE ── RemoveVips
//! Backup:            Skew_Time ── advert, AddVips, GARP ─┘
//! ```
//!
//! The machine below is only the timing; [`Router`](super::Router) owns one while a
//! departure is under way and turns its deadline into [`Action::RemoveVips`](super::Action).
use std::{net::IpAddr, time::Duration};

use super::{timers::skew_time, types::Version};
use crate::units::{Centisecs, MonoTime};

/// How long the old Master keeps answering after it heard the new Master's first advert.
///
/// The new Master sends that advert, then adds the addresses (one netlink request, well
/// under a millisecond on an idle host, a few on a busy one) and sends its gratuitous ARP /
/// unsolicited NA, which reaches a client on the segment in microseconds. 10 ms covers
/// that on a loaded host; during it both nodes answer for the VIPs, which a client never
/// notices (it sends to one MAC, and both reply from the same address). It is also the
/// window in which the old Master keeps accepting packets for the VIPs after a preemption.
pub const HANDOVER_GRACE: Duration = Duration::from_millis(10);

/// How often the runtime looks at the kernel's peer records while no new Master has been
/// heard. The XDP program raises an event for a new source or a changed priority only: a
/// Backup that was Master less than three intervals ago (a maintenance off and on, a quick
/// restart) comes back without one. Polling every 2 ms makes the release at most 2 ms
/// later than the grace wants, far inside it; it lasts only while a departure waits.
pub const HANDOVER_POLL: Duration = Duration::from_millis(2);

/// Added to twice the longest Skew_Time before the old Master gives up waiting and
/// removes the addresses anyway (nobody took over): the agent's own wake-up latency and
/// the new Master's, on a loaded host.
pub const HANDOVER_MARGIN: Duration = Duration::from_millis(20);

/// The longest a lone Master keeps its addresses after resigning, whatever the interval.
/// A v2 Skew_Time is below 1 s whatever the interval, but a v3 one scales with it (40.95 s
/// at the largest interval): nobody should wait 80 s for a SIGTERM to finish.
pub const HANDOVER_GIVE_UP_CAP: Duration = Duration::from_secs(5);

/// How long a departing Master waits for a new Master before it lets its addresses go.
///
/// A Backup that heard the priority-0 advert takes over one Skew_Time after it (RFC 9568
/// §6.4.2), and Skew_Time is longest at priority 1: `255/256` of the interval (v3), or
/// `255/256` s (v2, whatever the interval). Twice that plus [`HANDOVER_MARGIN`] leaves
/// a Backup of any priority a full Skew_Time of slack, capped at
/// [`HANDOVER_GIVE_UP_CAP`]. A Backup that missed the priority-0 advert takes over
/// later, at its Master_Down_Interval; it then finds the addresses gone, as it would
/// without the handover (the bound only decides how long a Master with no Backup at all
/// holds them, and so how long a SIGTERM takes to finish there).
///
/// v3 at 0.01 s: 39.92 ms; at 0.1 s: 219.2 ms; at 1 s and v2 at any interval: 2.012 s.
pub fn give_up_after(version: Version, advertisement_interval: Centisecs) -> Duration {
    let longest_skew = skew_time(version, 1, advertisement_interval);
    (longest_skew * 2 + HANDOVER_MARGIN).min(HANDOVER_GIVE_UP_CAP)
}

/// One departure under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handover {
    /// When the Master resigned: only adverts received at or after it name a new Master.
    since: MonoTime,
    /// Our own address: our adverts (a looped-back copy) are not a new Master.
    local: IpAddr,
    /// When the new Master's first advert arrived.
    heard_at: Option<MonoTime>,
    /// When to let go even if nobody was heard.
    give_up_at: MonoTime,
    /// When the runtime next reads the kernel's records (while nobody was heard).
    poll_at: MonoTime,
}

impl Handover {
    /// A departure starting at `now`, for a router of `version` advertising every
    /// `advertisement_interval` from `local`.
    pub fn start(
        now: MonoTime,
        local: IpAddr,
        version: Version,
        advertisement_interval: Centisecs,
    ) -> Handover {
        Handover {
            since: now,
            local,
            heard_at: None,
            give_up_at: now + give_up_after(version, advertisement_interval),
            poll_at: now + HANDOVER_POLL,
        }
    }

    /// A departure whose new Master is already heard (the advert that preempted us).
    pub fn heard_already(now: MonoTime, local: IpAddr, heard_at: MonoTime) -> Handover {
        Handover {
            since: heard_at.min(now),
            local,
            heard_at: Some(heard_at),
            give_up_at: heard_at + HANDOVER_GRACE,
            poll_at: heard_at + HANDOVER_GRACE,
        }
    }

    /// An advert (`from`, `priority`, received at `at`): the first one with a nonzero
    /// priority from someone else since the departure is the new Master's.
    pub fn advert(&mut self, from: IpAddr, priority: u8, at: MonoTime) {
        if self.heard_at.is_none() && priority != 0 && from != self.local && at >= self.since {
            self.heard_at = Some(at);
        }
    }

    /// When the addresses go: the grace after the new Master was heard, or the give-up
    /// bound, whichever is first. `None` while nobody was heard and `waits_in_backup`: a
    /// router that left Master for Backup (maintenance, a sync group following, a
    /// tracked priority or fault cleared) keeps them until its own Master_Down_Timer makes
    /// it Master again (it finds them in place), so a lone Master never drops them.
    pub fn deadline(&self, waits_in_backup: bool) -> Option<MonoTime> {
        match self.heard_at {
            Some(at) => Some((at + HANDOVER_GRACE).min(self.give_up_at)),
            None if waits_in_backup => None,
            None => Some(self.give_up_at),
        }
    }

    /// When the router must be woken: the release, or before it (nobody heard yet) the
    /// next look at the kernel's records.
    pub fn wake_at(&self, waits_in_backup: bool) -> MonoTime {
        let release = self.deadline(waits_in_backup);
        match self.heard_at {
            Some(_) => release.unwrap_or(self.poll_at),
            None => release.map_or(self.poll_at, |d| d.min(self.poll_at)),
        }
    }

    /// A timer at `now`: the next poll is one [`HANDOVER_POLL`] later.
    pub fn polled(&mut self, now: MonoTime) {
        if self.poll_at <= now {
            self.poll_at = now + HANDOVER_POLL;
        }
    }

    /// Whether the new Master was heard.
    pub fn heard(&self) -> bool {
        self.heard_at.is_some()
    }
}
