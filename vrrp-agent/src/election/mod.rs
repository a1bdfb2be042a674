//! The VRRP election: a sans-I/O state machine, one [`Router`] per (interface, VRID,
//! address family), after RFC 9568 §6 (VRRPv3) and RFC 3768 §6 (VRRPv2).
//!
//! The machine takes time as an argument and returns what to do; it never reads a clock,
//! touches a socket or logs. The runtime owns the I/O:
//!
//! ```text
//!            Input (Startup, Advert, Timer, ...)            Vec<Action>
//! runtime ───────────────────────────────────► Router ───────────────────► runtime
//!    ▲  handle(now, input)                                   SendAdvert, AddVips, ...
//!    └── sleeps until next_deadline(), then handle(now, Input::Timer)
//! ```
//!
//! # Contract with the runtime
//!
//! - Execute the returned actions in order. A [`Action::StateChange`] comes last, after the
//!   actions that carry the change out, so a log line or notify script sees the new state
//!   in place.
//! - Call `handle(now, Input::Timer)` at or after [`Router::next_deadline`]. Only
//!   `Input::Timer` fires timers: an advert handed in late (see below) is judged first, so
//!   a Master that is still alive is never declared down because its advert was read late.
//! - Adverts are fed lazily. The XDP program keeps the newest advert per (instance, source)
//!   and raises a ring-buffer event only on a change, so the runtime feeds
//!   [`Input::Advert`] on each event, and before handling a Master_Down deadline it
//!   re-reads the kernel's record and feeds the newest advert with its real `received_at`.
//!   Every timer the machine arms from an advert counts from `received_at`, never from
//!   `now`. Feeding an advert twice, or an older advert after a newer one, changes nothing.
//! - A Master must still hear the adverts of other routers, including a known peer whose
//!   priority did not change (for example a former Master that is advertising again); a
//!   change-only event stream does not report that. On each Adver_Timer the runtime feeds
//!   the records [`Router::master_scan`] names (received since it became Master, priority
//!   at least its own). Duplicates are harmless.
//!
//! # Models
//!
//! Field names follow the RFC as FRR's `vrrpd/vrrp.h` does, with each formula in the doc
//! comment; every branch of [`Router::handle`] cites the RFC section it implements (as
//! holo's `holo-vrrp/src/events.rs` does). Unlike those, skew is computed in integer
//! nanoseconds of a `Duration` (no float truncated to zero), and intervals are
//! [`Centisecs`](crate::units::Centisecs) or `Duration`, never a bare integer.

pub mod handover;
mod router;
mod timers;
mod types;

pub use router::{DownWatch, MasterInfo, MasterScan, Router, RouterConfig};
pub use timers::{master_down_interval, skew_time};
pub use types::{Action, Actions, Input, Reason, State, Version};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_handover;
