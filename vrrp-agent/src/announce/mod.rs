//! Gratuitous ARP and unsolicited Neighbor Advertisement: what a new Master sends for each
//! virtual address (RFC 9568 §6.4.1 / §6.4.2, RFC 3768 §6.4.1), and when.
//!
//! - [`Announcer`] sends the frames ([`crate::wire::arp`] and [`crate::wire::nd`] build
//!   them) on one `AF_PACKET` socket.
//! - [`GarpSchedule`] is the sans-I/O timing of keepalived's `garp_master_*` settings: the
//!   runtime tells it about state changes and asks what is due at `now`.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

use crate::{
    config::GarpSettings,
    netlink::{Errno, Iface},
    units::MonoTime,
    wire::{arp::GarpRepr, nd::NaRepr, Family, MacAddr},
};

/// Send buffer asked for: room for a burst of a few thousand announcement frames, so that a
/// Master with many VIPs does not see `EAGAIN` half way through a round (the kernel caps it
/// at `net.core.wmem_max`).
const SEND_BUFFER: libc::c_int = 1 << 20;

/// Frames handed to one `sendmmsg` call.
const BATCH: usize = 256;

/// `EINTR`s tolerated in one [`Announcer::announce`] call before giving up on the rest.
const MAX_EINTR: usize = 8;

/// What went wrong sending an announcement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// The socket could not be created.
    #[error(
        "opening the AF_PACKET socket for gratuitous ARP / unsolicited NA: {errno}{}",
        if errno.0 == libc::EPERM { "; the agent needs root or CAP_NET_RAW" } else { "" }
    )]
    Socket { errno: Errno },
    /// The kernel refused one frame.
    #[error("sending {kind} for {addr} on {iface}: {errno}")]
    Send {
        /// "gratuitous ARP" or "unsolicited NA".
        kind: &'static str,
        iface: Iface,
        addr: IpAddr,
        errno: Errno,
    },
}

/// One `AF_PACKET` / `SOCK_RAW` socket that sends whole Ethernet frames and never receives.
///
/// It is opened with protocol 0 and never bound: a packet socket only receives once it is
/// hooked to a protocol (a non-zero protocol at `socket()` or `bind()`), so with 0 the kernel
/// queues nothing on it and there is no receive path to filter; that is cheaper and simpler
/// than an `ETH_P_ALL` socket with a drop-everything BPF filter, which would still be
/// visited by every frame. Each send names its interface, EtherType and destination in a
/// `sockaddr_ll`, so one socket serves every interface. The socket is non-blocking: a full
/// send queue is reported (`EAGAIN`) rather than stalling the runtime; announcements are
/// repeated anyway.
#[derive(Debug)]
pub struct Announcer {
    fd: OwnedFd,
}

/// A frame ready to send.
enum Frame {
    Arp([u8; crate::wire::arp::FRAME_LEN]),
    Na([u8; crate::wire::nd::FRAME_LEN]),
}

impl Frame {
    fn for_addr(mac: MacAddr, addr: IpAddr) -> Frame {
        Frame::announcing(mac, addr, false)
    }

    /// The announcement of `addr`; for IPv6 with the Router flag set when `router`.
    fn announcing(mac: MacAddr, addr: IpAddr, router: bool) -> Frame {
        match addr {
            IpAddr::V4(v4) => Frame::Arp(GarpRepr::new(mac, v4).to_frame()),
            IpAddr::V6(v6) => Frame::Na(
                NaRepr {
                    router,
                    ..NaRepr::new(mac, v6)
                }
                .to_frame(),
            ),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Frame::Arp(f) => f,
            Frame::Na(f) => f,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Frame::Arp(_) => "gratuitous ARP",
            Frame::Na(_) => "unsolicited NA",
        }
    }

    fn ethertype(&self) -> u16 {
        match self {
            Frame::Arp(_) => libc::ETH_P_ARP as u16,
            Frame::Na(_) => libc::ETH_P_IPV6 as u16,
        }
    }
}

/// The link-layer address of one send: interface, EtherType and the frame's destination MAC.
fn sockaddr(ifindex: u32, frame: &Frame) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = frame.ethertype().to_be();
    sa.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&frame.bytes()[..6]);
    sa
}

/// The interface's name for an error message, best effort, in the current namespace.
fn iface(ifindex: u32) -> Iface {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes, NUL included, into buf.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return Iface::index(ifindex);
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Iface::named(ifindex, &name.to_string_lossy())
}

/// Whether interface `ifindex` forwards IPv6 (`net.ipv6.conf.<iface>.forwarding` is 1), as
/// keepalived reads it to set the Router flag of its unsolicited Neighbor Advertisements.
/// Unreadable (no IPv6 on it, no such interface): false.
pub fn ipv6_forwarding(ifindex: u32) -> bool {
    let Iface {
        name: Some(name), ..
    } = iface(ifindex)
    else {
        return false;
    };
    if name.contains('/') || name.starts_with('.') {
        return false;
    }
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{name}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl Announcer {
    /// Opens the socket in the current network namespace (the thread's).
    pub fn new() -> Result<Announcer, AnnounceError> {
        // SAFETY: socket(2) with constant arguments; the descriptor is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(AnnounceError::Socket {
                errno: Errno(last_errno()),
            });
        }
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // A larger send buffer is a nicety: failure leaves the default, which also works.
        // SAFETY: setsockopt reads an int we own for its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&SEND_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(Announcer { fd })
    }

    /// Sends one gratuitous ARP for `addr` from `mac` on interface `ifindex`, in
    /// keepalived's form ([`GarpRepr::new`]: an ARP request, sender = target = `addr`, to
    /// the broadcast MAC).
    pub fn garp(&self, ifindex: u32, mac: MacAddr, addr: Ipv4Addr) -> Result<(), AnnounceError> {
        self.send_one(ifindex, &Frame::for_addr(mac, addr.into()), addr.into())
    }

    /// Sends one unsolicited Neighbor Advertisement for `addr` with `mac` in its Target
    /// Link-Layer Address option, as keepalived does ([`NaRepr::new`]: from `addr` to ff02::1,
    /// Override set, Router clear). Use [`Announcer::send_na`] to set the Router flag on a
    /// forwarding interface (RFC 9568 §6.4.2).
    pub fn unsolicited_na(
        &self,
        ifindex: u32,
        mac: MacAddr,
        addr: Ipv6Addr,
    ) -> Result<(), AnnounceError> {
        self.send_one(ifindex, &Frame::for_addr(mac, addr.into()), addr.into())
    }

    /// Sends the unsolicited Neighbor Advertisement `na` on interface `ifindex`.
    pub fn send_na(&self, ifindex: u32, na: &NaRepr) -> Result<(), AnnounceError> {
        self.send_one(ifindex, &Frame::Na(na.to_frame()), na.target.into())
    }

    /// One announcement per address (GARP for IPv4, NA for IPv6), in order, handed to the
    /// kernel in batches with `sendmmsg`. One result per address, in the same order.
    pub fn announce(
        &self,
        ifindex: u32,
        mac: MacAddr,
        addrs: &[IpAddr],
    ) -> Vec<Result<(), AnnounceError>> {
        self.announce_as(ifindex, mac, addrs, false)
    }

    /// [`Announcer::announce`], with the Router flag of the Neighbor Advertisements set when
    /// `router` (the interface forwards IPv6, see [`ipv6_forwarding`]; RFC 9568 §6.4.2).
    pub fn announce_as(
        &self,
        ifindex: u32,
        mac: MacAddr,
        addrs: &[IpAddr],
        router: bool,
    ) -> Vec<Result<(), AnnounceError>> {
        let frames: Vec<Frame> = addrs
            .iter()
            .map(|&a| Frame::announcing(mac, a, router))
            .collect();
        let mut results = Vec::with_capacity(addrs.len());
        let mut eintr = 0;
        for (chunk_frames, chunk_addrs) in frames.chunks(BATCH).zip(addrs.chunks(BATCH)) {
            let errnos = self.send_batch(ifindex, chunk_frames, &mut eintr);
            let mut name = None;
            for ((frame, &addr), errno) in chunk_frames.iter().zip(chunk_addrs).zip(errnos) {
                results.push(match errno {
                    None => Ok(()),
                    Some(e) => Err(AnnounceError::Send {
                        kind: frame.kind(),
                        iface: name.get_or_insert_with(|| iface(ifindex)).clone(),
                        addr,
                        errno: Errno(e),
                    }),
                });
            }
        }
        let sent = results.iter().filter(|r| r.is_ok()).count();
        tracing::debug!(
            ifindex,
            %mac,
            sent,
            failed = results.len() - sent,
            "sent gratuitous ARP / unsolicited NA"
        );
        results
    }

    fn send_one(&self, ifindex: u32, frame: &Frame, addr: IpAddr) -> Result<(), AnnounceError> {
        let mut eintr = 0;
        match self
            .send_batch(ifindex, std::slice::from_ref(frame), &mut eintr)
            .first()
        {
            Some(None) => {
                tracing::debug!(ifindex, af = %Family::of(&addr), %addr, kind = frame.kind(), "sent");
                Ok(())
            }
            Some(&Some(e)) => Err(AnnounceError::Send {
                kind: frame.kind(),
                iface: iface(ifindex),
                addr,
                errno: Errno(e),
            }),
            None => Err(AnnounceError::Send {
                kind: frame.kind(),
                iface: iface(ifindex),
                addr,
                errno: Errno(libc::EINVAL),
            }),
        }
    }

    /// Sends `frames` (at most [`BATCH`]) with `sendmmsg`; `None` for each frame sent, the
    /// errno for each one refused. `sendmmsg` stops at the first failing message and reports
    /// either the number sent or, when the first one fails, its errno; so each call either
    /// sends at least one frame or settles the first one's error, and the loop ends after at
    /// most `frames.len()` calls plus [`MAX_EINTR`] interruptions.
    fn send_batch(&self, ifindex: u32, frames: &[Frame], eintr: &mut usize) -> Vec<Option<i32>> {
        let n = frames.len().min(BATCH);
        let mut addrs: Vec<libc::sockaddr_ll> =
            frames[..n].iter().map(|f| sockaddr(ifindex, f)).collect();
        let mut iovs: Vec<libc::iovec> = frames[..n]
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.bytes().as_ptr() as *mut libc::c_void,
                iov_len: f.bytes().len(),
            })
            .collect();
        // `addrs` and `iovs` are not touched again until `msgs` is gone, so the pointers
        // below stay valid.
        let mut msgs: Vec<libc::mmsghdr> = addrs
            .iter_mut()
            .zip(iovs.iter_mut())
            .map(|(sa, iov)| {
                // SAFETY: msghdr is plain data; all-zero is a valid value.
                let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
                hdr.msg_name = (sa as *mut libc::sockaddr_ll).cast();
                hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                hdr.msg_iov = iov;
                hdr.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: hdr,
                    msg_len: 0,
                }
            })
            .collect();
        let mut out = vec![None; n];
        let mut i = 0;
        while i < n {
            // SAFETY: msgs[i..] are valid mmsghdrs whose name and iovec pointers point into
            // `addrs`, `iovs` and `frames`, all alive and unmoved for this call.
            let rc = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    msgs[i..].as_mut_ptr(),
                    (n - i) as libc::c_uint,
                    0,
                )
            };
            if rc > 0 {
                i += rc as usize;
                continue;
            }
            let e = if rc == 0 { libc::EAGAIN } else { last_errno() };
            if e == libc::EINTR && *eintr < MAX_EINTR {
                *eintr += 1;
                continue;
            }
            out[i] = Some(e);
            i += 1;
        }
        out
    }
}

/// When to send gratuitous ARPs / unsolicited NAs, as keepalived 2.2 does; sans-I/O: time is
/// an argument, nothing is sent here.
///
/// keepalived's rules (`man keepalived.conf` and `keepalived/vrrp/vrrp.c`,
/// `vrrp_state_become_master` / `vrrp_state_master_tx`):
/// - On becoming Master, one burst of `garp_master_repeat` rounds at once. A round is one
///   message per virtual address (keepalived's `vrrp_send_link_update(vrrp, rep)` loops
///   `rep` times over the addresses).
/// - If `garp_master_delay` is not 0, a second burst of `garp_master_repeat` rounds
///   `garp_master_delay` after becoming Master ("0 for no second set").
/// - If `garp_master_refresh` is set (0 = off), a burst of `garp_master_refresh_repeat`
///   rounds every `garp_master_refresh` while Master, the first one refresh period after
///   becoming Master; after each refresh the next one is armed from the time it fired
///   (keepalived's `timer_add_now`). keepalived checks the refresh only when it sends an
///   advert, so its refresh goes out at the first advert after the period ("minimum time
///   interval"); here it is due at the period itself, at most one advert interval earlier.
/// - `garp_lower_prio_repeat` / `garp_lower_prio_delay`: when a Master hears a
///   lower-priority advert (keepalived `vrrp_state_master_rx`), a burst of
///   `garp_lower_prio_repeat` rounds at once and, if the delay is not 0, another one after
///   `garp_lower_prio_delay` (nothing when the repeat is 0). The election asks for it with
///   [`Action::AnnounceLowerPriority`](crate::election::Action::AnnounceLowerPriority), at
///   most once per advert interval (keepalived: once per such advert, so a flood of them
///   would be a flood of ours); the runtime then calls
///   [`GarpSchedule::lower_priority_advert`] for the instance and the Masters of its sync
///   group. keepalived arms one timer per such advert; here at most [`MAX_PENDING`] delayed
///   bursts wait, further ones are dropped (a burst that many is already sent by then).
/// - `vrrp_garp_interval` (`vrrp_gna_interval` for IPv6): the minimum gap between two
///   messages on an interface. Here it spaces rounds: with a non-zero interval,
///   [`GarpSchedule::due`] returns at most one round at a time, the next one `interval`
///   later. keepalived spaces every single message; with one address per instance (the
///   usual case) that is the same; with several, the runtime sends a round's messages back
///   to back.
/// - Leaving Master (Backup, Fault, stop) cancels everything pending; keepalived checks
///   that its VIPs are still set before each delayed burst, which has the same effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GarpSchedule {
    repeat: u32,
    delay: Duration,
    refresh: Option<Duration>,
    refresh_repeat: u32,
    lower_prio_repeat: u32,
    lower_prio_delay: Duration,
    interval: Duration,
    master: bool,
    /// Delayed bursts (when, rounds), sorted by time.
    pending: Vec<(MonoTime, u32)>,
    /// The next refresh burst, while Master with refresh on.
    refresh_at: Option<MonoTime>,
    /// `garp_extra_if all`: the period of the extra interfaces' announcements, and the next
    /// one while Master.
    extra_if: Option<Duration>,
    extra_at: Option<MonoTime>,
    /// Rounds due but not handed out yet (held back by `interval`).
    owed: u32,
    /// Earliest time the next owed round may go.
    next_round_at: MonoTime,
}

/// Delayed bursts kept at most (see [`GarpSchedule`]).
pub const MAX_PENDING: usize = 16;

impl GarpSchedule {
    /// A schedule for IPv4 instances (`interval` = `vrrp_garp_interval`).
    pub fn new(settings: &GarpSettings) -> Self {
        Self::for_family(settings, Family::Ipv4)
    }

    /// A schedule for instances of `family`: IPv6 ones are spaced by `vrrp_gna_interval`.
    pub fn for_family(settings: &GarpSettings, family: Family) -> Self {
        GarpSchedule {
            repeat: settings.master_repeat,
            delay: settings.master_delay,
            refresh: settings.master_refresh.filter(|d| !d.is_zero()),
            refresh_repeat: settings.master_refresh_repeat,
            lower_prio_repeat: settings.lower_prio_repeat,
            lower_prio_delay: settings.lower_prio_delay,
            interval: match family {
                Family::Ipv4 => settings.interval,
                Family::Ipv6 => settings.gna_interval,
            },
            master: false,
            pending: Vec::new(),
            refresh_at: None,
            extra_if: settings.extra_if.filter(|d| !d.is_zero()),
            extra_at: None,
            owed: 0,
            next_round_at: MonoTime::default(),
        }
    }

    /// New settings (reload) for a schedule that goes on: delayed bursts already due stay,
    /// and, while Master, the refresh and `garp_extra_if` periods start again from `now`.
    pub fn reconfigure(&mut self, settings: &GarpSettings, family: Family, now: MonoTime) {
        let fresh = Self::for_family(settings, family);
        self.repeat = fresh.repeat;
        self.delay = fresh.delay;
        self.refresh = fresh.refresh;
        self.refresh_repeat = fresh.refresh_repeat;
        self.lower_prio_repeat = fresh.lower_prio_repeat;
        self.lower_prio_delay = fresh.lower_prio_delay;
        self.interval = fresh.interval;
        self.extra_if = fresh.extra_if;
        if self.master {
            self.refresh_at = self.refresh.map(|r| now + r);
            self.extra_at = self.extra_if.map(|p| now + p);
        }
    }

    /// The instance became Master at `now` (RFC 9568 §6.4.1/§6.4.2 "send ... gratuitous
    /// ARP / unsolicited ND"): `master_repeat` rounds due now, `master_repeat` more after
    /// `master_delay`, then refreshes. Calling it again restarts the schedule.
    pub fn became_master(&mut self, now: MonoTime) {
        self.left_master();
        self.master = true;
        self.owed = self.repeat;
        self.next_round_at = now;
        if !self.delay.is_zero() && self.repeat > 0 {
            self.push_pending(now + self.delay, self.repeat);
        }
        self.refresh_at = self.refresh.map(|r| now + r);
        self.extra_at = self.extra_if.map(|p| now + p);
    }

    /// A lower-priority advert arrived while Master at `now` (keepalived
    /// `garp_lower_prio_repeat` / `garp_lower_prio_delay`). Ignored unless Master.
    pub fn lower_priority_advert(&mut self, now: MonoTime) {
        if !self.master || self.lower_prio_repeat == 0 {
            return;
        }
        if self.owed == 0 {
            self.next_round_at = self.next_round_at.max(now);
        }
        self.owed = self.owed.saturating_add(self.lower_prio_repeat);
        if !self.lower_prio_delay.is_zero() {
            self.push_pending(now + self.lower_prio_delay, self.lower_prio_repeat);
        }
    }

    /// The instance is no longer Master: nothing more is due.
    pub fn left_master(&mut self) {
        self.master = false;
        self.pending.clear();
        self.refresh_at = None;
        self.extra_at = None;
        self.owed = 0;
    }

    /// Whether the addresses on other interfaces (`garp_extra_if all`) are to be announced
    /// at `now`; the next time is then armed from `now` (keepalived's `timer_add_now`).
    pub fn extra_if_due(&mut self, now: MonoTime) -> bool {
        match (self.master, self.extra_at, self.extra_if) {
            (true, Some(at), Some(period)) if at <= now => {
                self.extra_at = Some(now + period);
                true
            }
            _ => false,
        }
    }

    /// How many rounds (one message per virtual address each) to send at `now`.
    pub fn due(&mut self, now: MonoTime) -> u32 {
        if !self.master {
            return 0;
        }
        let ready = self.pending.iter().take_while(|(t, _)| *t <= now).count();
        for (_, rounds) in self.pending.drain(..ready) {
            if self.owed == 0 {
                self.next_round_at = self.next_round_at.max(now);
            }
            self.owed = self.owed.saturating_add(rounds);
        }
        if let (Some(at), Some(period)) = (self.refresh_at, self.refresh) {
            if at <= now {
                if self.owed == 0 {
                    self.next_round_at = self.next_round_at.max(now);
                }
                self.owed = self.owed.saturating_add(self.refresh_repeat);
                self.refresh_at = Some(now + period);
            }
        }
        if self.owed == 0 || self.next_round_at > now {
            return 0;
        }
        if self.interval.is_zero() {
            return std::mem::take(&mut self.owed);
        }
        self.owed -= 1;
        self.next_round_at = now + self.interval;
        1
    }

    /// When [`GarpSchedule::due`] next returns more than 0 (perhaps already past), or `None`
    /// when nothing is scheduled.
    pub fn next_deadline(&self) -> Option<MonoTime> {
        if !self.master {
            return None;
        }
        let owed = (self.owed > 0).then_some(self.next_round_at);
        [
            owed,
            self.pending.first().map(|&(t, _)| t),
            self.refresh_at,
            self.extra_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the instance is Master as far as the schedule knows.
    pub fn is_master(&self) -> bool {
        self.master
    }

    fn push_pending(&mut self, at: MonoTime, rounds: u32) {
        if self.pending.len() >= MAX_PENDING {
            return;
        }
        let pos = self.pending.partition_point(|&(t, _)| t <= at);
        self.pending.insert(pos, (at, rounds));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: MonoTime = MonoTime::from_nanos(1_000_000_000_000);

    fn at(ms: u64) -> MonoTime {
        T0 + Duration::from_millis(ms)
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Master,
        Leave,
        Lower,
        /// `due` must return this.
        Due(u32),
    }

    struct Case {
        name: &'static str,
        settings: GarpSettings,
        /// (time in ms after T0, operation, next_deadline afterwards in ms after T0).
        steps: &'static [(u64, Op, Option<u64>)],
    }

    fn settings(f: impl FnOnce(&mut GarpSettings)) -> GarpSettings {
        let mut s = GarpSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn reconfigure_keeps_the_state_and_takes_the_new_settings() {
        let t0 = MonoTime::from_nanos(1_000_000_000);
        let mut g = GarpSchedule::new(&GarpSettings::default());
        g.became_master(t0);
        assert_eq!(g.due(t0), 5);
        let s = settings(|s| {
            s.master_repeat = 2;
            s.master_delay = Duration::ZERO;
            s.master_refresh = Some(Duration::from_secs(10));
            s.master_refresh_repeat = 1;
        });
        let now = t0 + Duration::from_secs(1);
        g.reconfigure(&s, Family::Ipv4, now);
        assert!(g.is_master(), "still Master");
        // The delayed second burst of the old settings is still due; the refresh starts now.
        assert_eq!(g.due(t0 + Duration::from_secs(5)), 5);
        assert_eq!(g.next_deadline(), Some(now + Duration::from_secs(10)));
        assert_eq!(g.due(now + Duration::from_secs(10)), 1);
        // The next takeover uses the new repeat, with no second burst.
        g.became_master(now + Duration::from_secs(20));
        assert_eq!(g.due(now + Duration::from_secs(20)), 2);
        // A Backup's schedule stays quiet.
        let mut b = GarpSchedule::new(&GarpSettings::default());
        b.reconfigure(&s, Family::Ipv4, now);
        assert_eq!(b.next_deadline(), None);
    }

    #[test]
    fn schedule_table() {
        use Op::*;
        let cases = [
            Case {
                name: "keepalived defaults: 5 now, 5 after 5 s, no refresh",
                settings: GarpSettings::default(),
                steps: &[
                    (0, Due(0), None),
                    (0, Master, Some(0)),
                    (0, Due(5), Some(5_000)),
                    (1, Due(0), Some(5_000)),
                    (4_999, Due(0), Some(5_000)),
                    (5_000, Due(5), None),
                    (60_000, Due(0), None),
                ],
            },
            Case {
                name: "a late first call still gets both bursts, in one go",
                settings: GarpSettings::default(),
                steps: &[(0, Master, Some(0)), (7_000, Due(10), None)],
            },
            Case {
                name: "vrrp_min_garp: repeat 1, delay 0 = one message, no second set",
                settings: settings(|s| {
                    s.master_repeat = 1;
                    s.master_delay = Duration::ZERO;
                }),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(1), None),
                    (5_000, Due(0), None),
                ],
            },
            Case {
                name: "repeat 0 sends nothing",
                settings: settings(|s| s.master_repeat = 0),
                steps: &[(0, Master, None), (0, Due(0), None), (5_000, Due(0), None)],
            },
            Case {
                name: "refresh 60 s x2, re-armed from when it fired",
                settings: settings(|s| {
                    s.master_repeat = 2;
                    s.master_delay = Duration::from_secs(3);
                    s.master_refresh = Some(Duration::from_secs(60));
                    s.master_refresh_repeat = 2;
                }),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(2), Some(3_000)),
                    (3_000, Due(2), Some(60_000)),
                    (59_999, Due(0), Some(60_000)),
                    (60_000, Due(2), Some(120_000)),
                    (130_000, Due(2), Some(190_000)),
                    (190_000, Due(2), Some(250_000)),
                    (190_001, Leave, None),
                    (250_000, Due(0), None),
                ],
            },
            Case {
                name: "refresh of 0 is off",
                settings: settings(|s| s.master_refresh = Some(Duration::ZERO)),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(5), Some(5_000)),
                    (5_000, Due(5), None),
                ],
            },
            Case {
                name: "garp_interval 100 ms spaces the rounds",
                settings: settings(|s| {
                    s.master_repeat = 3;
                    s.interval = Duration::from_millis(100);
                }),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(1), Some(100)),
                    (50, Due(0), Some(100)),
                    (100, Due(1), Some(200)),
                    (250, Due(1), Some(5_000)),
                    (5_000, Due(1), Some(5_100)),
                    (5_100, Due(1), Some(5_200)),
                    (5_200, Due(1), None),
                    (9_000, Due(0), None),
                ],
            },
            Case {
                name: "leaving Master cancels the second burst; coming back restarts",
                settings: GarpSettings::default(),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(5), Some(5_000)),
                    (2_000, Leave, None),
                    (5_000, Due(0), None),
                    (6_000, Master, Some(6_000)),
                    (6_000, Due(5), Some(11_000)),
                    (11_000, Due(5), None),
                ],
            },
            Case {
                name: "becoming Master again before the second burst restarts the schedule",
                settings: GarpSettings::default(),
                steps: &[
                    (0, Master, Some(0)),
                    (2_000, Master, Some(2_000)),
                    (2_000, Due(5), Some(7_000)),
                    (5_000, Due(0), Some(7_000)),
                    (7_000, Due(5), None),
                ],
            },
            Case {
                name: "lower-priority advert: lower_prio_repeat now and after lower_prio_delay",
                settings: settings(|s| {
                    s.lower_prio_repeat = 2;
                    s.lower_prio_delay = Duration::from_secs(2);
                }),
                steps: &[
                    (0, Lower, None), // not Master: ignored
                    (0, Due(0), None),
                    (10, Master, Some(10)),
                    (10, Due(5), Some(5_010)),
                    (1_000, Lower, Some(1_000)),
                    (1_000, Due(2), Some(3_000)),
                    (3_000, Due(2), Some(5_010)),
                    (5_010, Due(5), None),
                ],
            },
            Case {
                name: "bursts falling due together add up",
                settings: settings(|s| {
                    s.lower_prio_repeat = 1;
                    s.lower_prio_delay = Duration::from_secs(5);
                }),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Lower, Some(0)),
                    (0, Due(6), Some(5_000)),
                    (5_000, Due(6), None),
                ],
            },
            Case {
                name: "lower_prio_repeat 0: nothing, even with a delay",
                settings: settings(|s| s.lower_prio_repeat = 0),
                steps: &[
                    (0, Master, Some(0)),
                    (0, Due(5), Some(5_000)),
                    (5_000, Due(5), None),
                    (6_000, Lower, None),
                    (6_000, Due(0), None),
                    (20_000, Due(0), None),
                ],
            },
        ];
        for case in cases {
            let mut s = GarpSchedule::new(&case.settings);
            for (i, &(ms, op, deadline)) in case.steps.iter().enumerate() {
                let now = at(ms);
                match op {
                    Op::Master => s.became_master(now),
                    Op::Leave => s.left_master(),
                    Op::Lower => s.lower_priority_advert(now),
                    Op::Due(want) => {
                        assert_eq!(s.due(now), want, "{}: step {i} ({ms} ms)", case.name)
                    }
                }
                assert_eq!(
                    s.next_deadline(),
                    deadline.map(at),
                    "{}: deadline after step {i} ({ms} ms, {op:?})",
                    case.name
                );
            }
        }
    }

    #[test]
    fn ipv6_uses_gna_interval() {
        let st = settings(|s| {
            s.master_repeat = 2;
            s.interval = Duration::from_millis(100);
            s.gna_interval = Duration::from_millis(30);
        });
        let mut v6 = GarpSchedule::for_family(&st, Family::Ipv6);
        v6.became_master(at(0));
        assert_eq!(v6.due(at(0)), 1);
        assert_eq!(v6.next_deadline(), Some(at(30)));
        let mut v4 = GarpSchedule::new(&st);
        v4.became_master(at(0));
        assert_eq!(v4.due(at(0)), 1);
        assert_eq!(v4.next_deadline(), Some(at(100)));
    }

    #[test]
    fn extra_interfaces_every_period_while_master() {
        let mut g = GarpSchedule::new(&settings(|s| {
            s.extra_if = Some(Duration::from_secs(5));
        }));
        assert!(!g.extra_if_due(at(0)), "not before becoming Master");
        g.became_master(at(0));
        assert!(!g.extra_if_due(at(0)), "the first one a period after");
        assert!(g.next_deadline().is_some_and(|d| d <= at(5000)));
        assert!(!g.extra_if_due(at(4999)));
        assert!(g.extra_if_due(at(5300)));
        // Re-armed from when it fired, not from the nominal time.
        assert!(!g.extra_if_due(at(10_000)));
        assert!(g.extra_if_due(at(10_300)));
        g.left_master();
        assert!(!g.extra_if_due(at(60_000)));
        // Off by default.
        let mut off = GarpSchedule::new(&settings(|_| {}));
        off.became_master(at(0));
        assert!(!off.extra_if_due(at(60_000)));
    }

    #[test]
    fn pending_bursts_are_bounded() {
        let st = settings(|s| {
            s.lower_prio_repeat = 1;
            s.lower_prio_delay = Duration::from_secs(5);
            s.master_delay = Duration::ZERO;
        });
        let mut s = GarpSchedule::new(&st);
        s.became_master(at(0));
        for i in 0..100 {
            s.lower_priority_advert(at(i * 10));
        }
        assert_eq!(s.pending.len(), MAX_PENDING);
        assert_eq!(s.due(at(1_000)), 5 + 100);
        assert_eq!(s.due(at(10_000)), MAX_PENDING as u32);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn error_display() {
        let e = AnnounceError::Send {
            kind: "gratuitous ARP",
            iface: Iface::named(2, "eth0"),
            addr: "198.18.0.100".parse().unwrap(),
            errno: Errno(libc::ENETDOWN),
        };
        assert_eq!(
            e.to_string(),
            "sending gratuitous ARP for 198.18.0.100 on eth0 (ifindex 2): Network is down \
             (ENETDOWN)"
        );
        let e = AnnounceError::Socket {
            errno: Errno(libc::EPERM),
        };
        assert_eq!(
            e.to_string(),
            "opening the AF_PACKET socket for gratuitous ARP / unsolicited NA: Operation not \
             permitted (EPERM); the agent needs root or CAP_NET_RAW"
        );
    }

    #[test]
    fn frames_and_addresses() {
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let v4 = Frame::for_addr(mac, "198.18.0.100".parse().unwrap());
        assert_eq!(
            GarpRepr::parse(v4.bytes()),
            Ok(GarpRepr::new(mac, Ipv4Addr::new(198, 18, 0, 100)))
        );
        let sa = sockaddr(7, &v4);
        assert_eq!(sa.sll_ifindex, 7);
        assert_eq!(u16::from_be(sa.sll_protocol), 0x0806);
        assert_eq!(sa.sll_addr[..6], [0xff; 6]);
        let v6 = Frame::for_addr(mac, "2001:db8::100".parse().unwrap());
        assert_eq!(
            NaRepr::parse(v6.bytes()),
            Ok(NaRepr::new(mac, "2001:db8::100".parse().unwrap()))
        );
        let sa = sockaddr(7, &v6);
        assert_eq!(u16::from_be(sa.sll_protocol), 0x86dd);
        assert_eq!(sa.sll_addr[..6], [0x33, 0x33, 0, 0, 0, 1]);
    }

    /// A forwarding interface's NAs carry the Router flag (RFC 9568 §6.4.2), Override set
    /// either way; an IPv4 address is a GARP whatever `router` says.
    #[test]
    fn router_flag_only_when_asked() {
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let router = Frame::announcing(mac, vip.into(), true);
        let parsed = NaRepr::parse(router.bytes()).unwrap();
        assert!(parsed.router);
        assert_eq!(parsed.target, vip);
        assert_eq!(parsed.sender_mac, mac);
        let host = Frame::announcing(mac, vip.into(), false);
        assert!(!NaRepr::parse(host.bytes()).unwrap().router);
        let v4 = Frame::announcing(mac, "198.18.0.100".parse().unwrap(), true);
        assert_eq!(
            GarpRepr::parse(v4.bytes()),
            Ok(GarpRepr::new(mac, Ipv4Addr::new(198, 18, 0, 100)))
        );
    }
}
