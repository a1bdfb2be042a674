//! What goes into the election and what comes out of it.
use std::{fmt, net::IpAddr, time::Duration};

use crate::units::{Centisecs, MonoTime};

/// The VRRP version a router speaks; v2 and v3 do not interoperate (RFC 9568 §8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: intervals in whole seconds, no interval learning, IPv4 only.
    V2,
    /// RFC 9568 (RFC 5798): intervals in centiseconds, learned from the Master.
    V3,
}

/// The states of RFC 9568 §6.4 (RFC 3768 §6.4), plus Fault.
///
/// RFC 9568 renames Master to "Active"; this crate keeps the name keepalived and RFC 3768
/// use. Fault is keepalived's: a started router whose tracking says it must not serve
/// (interface down, a failing weight-0 script). It neither advertises nor holds the VIPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or shut down (RFC 9568 §6.4.1).
    Initialize,
    /// Monitoring the Master (RFC 9568 §6.4.2).
    Backup,
    /// Forwarding for the virtual router and advertising (RFC 9568 §6.4.3).
    Master,
    /// Started but held down by tracking (keepalived FAULT).
    Fault,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "Initialize",
            State::Backup => "Backup",
            State::Master => "Master",
            State::Fault => "Fault",
        })
    }
}

/// An event for [`Router::handle`](super::Router::handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// RFC 9568 §6.4.1 Startup event.
    Startup,
    /// RFC 9568 §6.4.2/§6.4.3 Shutdown event (SIGTERM, instance removed).
    Shutdown,
    /// A timer may have expired: called at or after `next_deadline()`. The machine works
    /// out from `now` which of Master_Down_Timer and Adver_Timer expired, if any.
    Timer,
    /// An ADVERTISEMENT that passed every receive check of RFC 9568 §7.1 (done in XDP).
    Advert {
        /// The sender's primary address (IPv4) or link-local address (IPv6).
        from: IpAddr,
        /// The advertised priority; 0 means the Master is resigning.
        priority: u8,
        /// v3: the Max Adver Int field. v2: the Adver Int field as `seconds * 100`.
        max_adver_int: Centisecs,
        /// When the XDP program saw the packet (CLOCK_MONOTONIC). May be earlier than `now`.
        received_at: MonoTime,
    },
    /// The effective priority after tracking weights changed. Ignored for an address owner
    /// (configured priority 255); otherwise clamped to 1..=254, as keepalived does.
    PriorityChanged(u8),
    /// The router cannot serve (its own interface is down or lost carrier, its VIPs could
    /// not be added): enter Fault; a Master sends priority 0 and its VIPs go at once.
    Fault,
    /// Tracking (a weight-0 script or track_file, a `track_interface` other than its
    /// own, a sync group member in Fault) says the router must not serve, but its own link
    /// works: enter Fault, and a Master hands its VIPs over (priority 0, the VIPs kept
    /// until the new Master is heard, see [`handover`](super::handover)) instead of
    /// dropping them at once. `Input::Fault` during it lets them go at once.
    TrackingFault,
    /// Tracking says the router may serve again: leave Fault.
    FaultCleared,
    /// Another member of this router's sync group became Master: a Backup follows at once
    /// (keepalived vrrp_sync_master). Ignored in other states.
    GroupMaster,
    /// Another member of this router's sync group left Master for Backup: a Master follows
    /// (keepalived vrrp_sync_backup). Ignored in other states.
    GroupBackup,
    /// Someone else removed one of a Master's VIPs. As keepalived 2.2.7 does: the Master
    /// resigns (priority 0, the other VIPs go) and waits as Backup for Skew_Time, so that
    /// a Backup takes over or, if none does, it becomes Master again and re-adds them all.
    /// Ignored in other states.
    VipRemoved,
    /// `vrrp-agent maintenance on` (true) / `off` (false). On: the effective priority is 1
    /// until off, whatever tracking says; a Master resigns (priority 0) and hands over
    /// (see [`handover`](super::handover)), then stays Backup. Off: the tracked priority
    /// is back, and the usual preemption rules apply.
    Maintenance(bool),
    /// Give up at once the VIPs a handover still holds (a second SIGTERM, an instance
    /// going away). Nothing when none are held.
    ReleaseVips,
}

/// Something the runtime must do, in the order returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send one ADVERTISEMENT now with this priority (0 when resigning), the configured
    /// Advertisement_Interval and the virtual addresses.
    SendAdvert {
        /// The priority field of the advert.
        priority: u8,
    },
    /// Add the virtual addresses to the interface (and start answering ARP/ND for them).
    AddVips,
    /// Remove the virtual addresses (and stop answering ARP/ND for them).
    RemoveVips,
    /// Announce the virtual addresses: gratuitous ARP (IPv4) or unsolicited Neighbor
    /// Advertisements (IPv6), RFC 9568 §6.4.2, with keepalived's garp_master_* schedule.
    Announce,
    /// A Master heard a lower priority (keepalived vrrp_state_master_rx): announce the
    /// virtual addresses with keepalived's `garp_lower_prio_repeat` / `garp_lower_prio_delay`
    /// schedule. Follows the extra [`Action::SendAdvert`] that answers the same advert,
    /// unless the router has `lower_prio_no_advert`.
    AnnounceLowerPriority,
    /// The state changed; for logs, notify scripts and status. Always the last action.
    StateChange {
        /// The state left.
        from: State,
        /// The state entered.
        to: State,
        /// Why, for the log line.
        reason: Reason,
    },
}

/// The actions of one [`Router::handle`](super::Router::handle) call, in order.
pub type Actions = Vec<Action>;

/// Why a state changed. `Display` gives the tail of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Initialize -> Backup at start-up (RFC 9568 §6.4.1).
    Startup,
    /// Initialize -> Master at start-up, priority 255 (RFC 9568 §6.4.1).
    StartupOwner,
    /// -> Initialize on the Shutdown event.
    Shutdown,
    /// Backup -> Master: no advert for `after` (the Master_Down_Interval the timer ran).
    MasterDown {
        /// How long the Master_Down_Timer ran, from the advert (or start-up) it counted from.
        after: Duration,
    },
    /// Backup -> Master: the Master sent priority 0 and Skew_Time passed (RFC 9568 §6.4.2).
    MasterResigned {
        /// Who resigned.
        from: IpAddr,
    },
    /// Backup -> Master: preempting a lower-priority Master whose adverts were discarded.
    Preempting {
        /// The Master's priority.
        priority: u8,
        /// The Master's address.
        from: IpAddr,
    },
    /// Master -> Backup: an advert with a higher priority (RFC 9568 §6.4.3).
    HigherPriority {
        /// The sender's priority.
        priority: u8,
        /// The sender.
        from: IpAddr,
    },
    /// Master -> Backup: an equal priority from a greater primary address (RFC 9568 §6.4.3).
    EqualPriorityHigherAddress {
        /// The common priority.
        priority: u8,
        /// The sender.
        from: IpAddr,
    },
    /// -> Fault (tracking).
    Fault,
    /// Fault -> Backup, or Master for an address owner.
    FaultCleared,
    /// Following another member of the sync group.
    SyncGroup,
    /// Master -> Backup: someone else removed one of its VIPs.
    VipRemoved,
    /// Master -> Backup: `vrrp-agent maintenance on`.
    Maintenance,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::Startup => f.write_str("startup"),
            Reason::StartupOwner => f.write_str("startup as address owner"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::MasterDown { after } => {
                // Rounded to the nearest millisecond: 360.9375 ms -> "361 ms".
                let ms = (after.as_nanos() + 500_000) / 1_000_000;
                write!(f, "master down timer expired after {ms} ms")
            }
            Reason::MasterResigned { from } => {
                write!(f, "priority 0 from {from} (master resigned)")
            }
            Reason::Preempting { priority, from } => {
                write!(f, "preempting lower priority {priority} from {from}")
            }
            Reason::HigherPriority { priority, from } => {
                write!(f, "higher priority {priority} from {from}")
            }
            Reason::EqualPriorityHigherAddress { priority, from } => {
                write!(
                    f,
                    "equal priority {priority} from {from} with a higher primary address"
                )
            }
            Reason::Fault => f.write_str("fault"),
            Reason::FaultCleared => f.write_str("fault cleared"),
            Reason::SyncGroup => f.write_str("following its sync group"),
            Reason::Maintenance => f.write_str("maintenance on: handing over"),
            Reason::VipRemoved => {
                f.write_str("a VIP was removed by someone else; resigning to re-elect")
            }
        }
    }
}
