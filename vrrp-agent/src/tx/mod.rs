//! Sending VRRP advertisements: one raw socket per (interface, source address, family) and
//! batches of adverts sent with one `sendmmsg(2)` per socket.
//!
//! The sockets only send. Adverts are *received* by the XDP program into BPF maps
//! (`dataplane`), never through a socket, so every [`AdvertSocket`] drops whatever the kernel
//! would queue on it (see [`AdvertSocket::open`]).
//!
//! The kernel writes the IP header: protocol 112, TTL 255 (RFC 9568 §5.1.1.3, RFC 3768
//! §5.2.3), TOS 0xc0 as keepalived sends, source = the bound address (RFC 9568 §5.1.1.1).
//! This module hands it the VRRP message only, which [`crate::wire::vrrp`] lays out
//! ([`build_advert`]).
//!
//! Multicast adverts can instead go out as whole Ethernet frames on an `AF_PACKET` socket
//! ([`FrameSocket`], [`build_advert_frame`], [`send_frames`]), which skips the kernel's
//! per-packet IP work; see `frame.rs` for what that trades away.
//!
//! IPv6 adverts (RFC 9568, v3 only) go through a raw IPv6 socket ([`AdvertSocket::open_v6`]):
//! hop limit 255, IPV6_TCLASS 0xc0, IPV6_MULTICAST_IF, bound to the interface's link-local
//! address (or `unicast_src_ip`) with the interface as scope; the agent computes the checksum
//! over the IPv6 pseudo-header ([`build_advert`]). They never take the AF_PACKET path. A
//! `use_vmac` instance's socket is on its macvlan and bound to the macvlan's own link-local
//! address with IPV6_FREEBIND ([`AdvertSocket::open_v6_nonlocal`]): the address is only
//! there while the macvlan is up (Master).
use std::{
    collections::HashMap,
    ffi::c_void,
    io,
    mem::MaybeUninit,
    net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    sync::atomic::{AtomicU64, Ordering},
};

pub use nix::errno::Errno;
use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use vrrp_common::IPPROTO_VRRP;

use crate::wire::{
    checksum::ChecksumForm,
    vrrp::{EmitContext, EmitError, Repr},
    Endpoints, Family, VRRP_TTL,
};

mod frame;
mod member;
#[cfg(test)]
mod tests;

pub use frame::{build_advert_frame, build_advert_frame_to, send_frames, FrameSocket};
pub use member::GroupMember;

/// IP TOS of every advert: 0xc0, precedence 6 (internetwork control, DSCP CS6), as keepalived
/// sends (PROTOCOL.md; see the captures in `wire::fixtures`).
pub const ADVERT_TOS: u8 = 0xc0;

/// The classic BPF program attached to every advert socket: one `ret #0` instruction
/// (`BPF_RET | BPF_K`, k = 0), "keep 0 bytes of this packet", which drops it before it is
/// queued. In `tcpdump -dd` notation: `{ 0x6, 0, 0, 0x00000000 }`.
const DROP_ALL: [libc::sock_filter; 1] = [libc::sock_filter {
    code: (libc::BPF_RET | libc::BPF_K) as u16,
    jt: 0,
    jf: 0,
    k: 0,
}];

/// Receive buffer asked for; the kernel raises it to its minimum (SOCK_MIN_RCVBUF, about
/// 2 KiB) and nothing is ever queued anyway (see [`AdvertSocket::open`]).
const RCVBUF_REQUEST: usize = 0;

/// At most this many datagrams are read off a fresh socket (see [`AdvertSocket::open`]).
const DRAIN_MAX: usize = 256;

/// Messages per `sendmmsg(2)` call: the kernel silently caps `vlen` at UIO_MAXIOV (1024).
const MAX_VLEN: usize = libc::UIO_MAXIOV as usize;

/// Why opening a socket, building an advert or sending it failed. Each error names the
/// interface and addresses involved and, when the kernel refused, its errno.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// Creating or configuring the socket failed at `step`.
    #[error(
        "opening the VRRP socket on {iface} from {src}: {step}: {errno}{}",
        open_hint(step, *errno)
    )]
    Open {
        /// Interface name.
        iface: String,
        /// Source address the socket was to be bound to.
        src: IpAddr,
        /// The call that failed, e.g. `bind` or `setsockopt(SO_BINDTODEVICE)`.
        step: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// Creating or configuring the AF_PACKET socket of [`FrameSocket`] failed at `step`.
    #[error(
        "opening the AF_PACKET advert socket on {iface}: {step}: {errno}{}",
        open_hint(step, *errno)
    )]
    OpenFrame {
        /// Interface name.
        iface: String,
        /// The call that failed, e.g. `bind` or `ioctl(SIOCGIFHWADDR)`.
        step: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// [`FrameSocket::open`] on an interface that does not carry Ethernet frames.
    #[error(
        "{iface} is not an Ethernet interface (ARPHRD {hw_type}): send its adverts through \
         the raw IP socket"
    )]
    NotEthernet {
        /// Interface name.
        iface: String,
        /// Its hardware type (ARPHRD_*, from SIOCGIFHWADDR).
        hw_type: u16,
    },
    /// The kernel refused this advert.
    #[error("sending a VRRP advert on {iface} from {src} to {dst}: {errno}")]
    Send {
        /// Interface of the socket.
        iface: String,
        /// Source address of the socket.
        src: IpAddr,
        /// Destination of the advert.
        dst: IpAddr,
        /// What the kernel said.
        errno: Errno,
    },
    /// The advert was not handed to the kernel: the batch for its socket stopped at an
    /// earlier advert (with `cause`, when the kernel said why; see [`send_batch`]).
    #[error(
        "VRRP advert on {iface} from {src} to {dst} not sent: its batch stopped at an earlier advert{}",
        cause.map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    NotSent {
        /// Interface of the socket.
        iface: String,
        /// Source address of the socket.
        src: IpAddr,
        /// Destination of the advert.
        dst: IpAddr,
        /// The errno that stopped the batch, if known.
        cause: Option<Errno>,
    },
    /// The destination is not of the socket's address family.
    #[error("VRRP advert on {iface} from {src} to {dst}: the destination is not of the socket's address family")]
    WrongFamily {
        /// Interface of the socket.
        iface: String,
        /// Source address of the socket.
        src: IpAddr,
        /// Destination of the advert.
        dst: IpAddr,
    },
    /// [`build_advert`] was given addresses of two families.
    #[error(
        "VRRP advert from {src} to {dst}: source and destination are of different address families"
    )]
    MixedFamilies {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
    },
    /// The advert cannot be laid out (a configuration the checks should have refused).
    #[error("building the VRRP advert for VRID {vrid} from {src} to {dst}: {reason}")]
    Build {
        /// Virtual Router ID of the advert.
        vrid: u8,
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// Why `wire::vrrp` refused it.
        reason: EmitError,
    },
}

impl TxError {
    /// The errno the kernel returned, if this error comes from the kernel.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            TxError::Open { errno, .. }
            | TxError::OpenFrame { errno, .. }
            | TxError::Send { errno, .. } => Some(*errno),
            TxError::NotSent { cause, .. } => *cause,
            _ => None,
        }
    }
}

/// What a socket has sent, for the runtime to report. Counters only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCounters {
    /// `sendmmsg(2)` calls made (normally one per [`send_batch`] call that used the socket).
    pub syscalls: u64,
    /// Adverts the kernel accepted.
    pub sent: u64,
    /// Adverts that were not sent, each also returned as an error by [`send_batch`].
    pub errors: u64,
    /// Partial sends whose unsent tail was retried.
    pub retries: u64,
}

impl std::ops::AddAssign for TxCounters {
    fn add_assign(&mut self, other: TxCounters) {
        self.syscalls += other.syscalls;
        self.sent += other.sent;
        self.errors += other.errors;
        self.retries += other.retries;
    }
}

/// [`TxCounters`] shared by the `&AdvertSocket`s of concurrent batches.
#[derive(Debug, Default)]
struct AtomicCounters {
    syscalls: AtomicU64,
    sent: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
}

impl AtomicCounters {
    fn add(&self, c: TxCounters) {
        self.syscalls.fetch_add(c.syscalls, Ordering::Relaxed);
        self.sent.fetch_add(c.sent, Ordering::Relaxed);
        self.errors.fetch_add(c.errors, Ordering::Relaxed);
        self.retries.fetch_add(c.retries, Ordering::Relaxed);
    }

    fn get(&self) -> TxCounters {
        TxCounters {
            syscalls: self.syscalls.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// A send-only raw VRRP socket for one (interface, source address, family).
#[derive(Debug)]
pub struct AdvertSocket {
    socket: Socket,
    iface: String,
    ifindex: u32,
    src: IpAddr,
    counters: AtomicCounters,
}

impl AdvertSocket {
    /// Opens a raw IPPROTO_VRRP (112) IPv4 socket that sends from `src` out of `iface`
    /// (index `ifindex`):
    /// - non-blocking and close-on-exec (set atomically by `socket(2)`);
    /// - bound to the interface (SO_BINDTODEVICE) and to `src` (`bind`), which must be an
    ///   address of this host (RFC 9568 §5.1.1.1: the interface's primary address, or
    ///   `unicast_src_ip`);
    /// - TTL 255 for unicast and multicast (IP_TTL, IP_MULTICAST_TTL; RFC 9568 §5.1.1.3);
    /// - multicast out of `ifindex` (IP_MULTICAST_IF with an `ip_mreqn`), not looped back to
    ///   this host (IP_MULTICAST_LOOP off);
    /// - IP TOS 0xc0 ([`ADVERT_TOS`]).
    ///
    /// It never queues a received packet. The kernel hands a raw socket a copy of every
    /// locally delivered packet of its protocol that matches its bindings: here, every
    /// unicast advert to `src` from the interface (a `unicast_peer` set-up sends exactly
    /// those), and every multicast advert of a joined group were the socket not bound to an
    /// address (IPv6 later). Nobody reads this socket (the agent's view of adverts comes from
    /// the XDP program's maps), so without a guard those copies would fill the receive
    /// buffer, about 200 KiB per socket, and stay there. Hence:
    /// - a classic BPF filter that drops everything (`ret #0`, SO_ATTACH_FILTER),
    ///   attached before any other set-up;
    /// - the smallest receive buffer (SO_RCVBUF), should the filter ever be detached;
    /// - IP_MULTICAST_ALL off: only groups this socket joined (none) are delivered to it;
    /// - a bounded drain of what arrived between `socket(2)` and the filter.
    ///
    /// (An IPPROTO_RAW socket never receives, but then the agent would have to write the IP
    /// header itself; with protocol 112 the kernel does, as on any other socket.)
    pub fn open(iface: &str, ifindex: u32, src: Ipv4Addr) -> Result<AdvertSocket, TxError> {
        Self::open_ip(iface, ifindex, IpAddr::V4(src), false)
    }

    /// Opens a raw IPPROTO_VRRP IPv6 socket that sends from `src` out of `iface`, set up as
    /// [`AdvertSocket::open`] does for IPv4 (drop-all filter, bound to the interface and to
    /// `src`, no multicast loop), with RFC 9568 §5.1.2's IPv6 fields:
    /// - `src` is the interface's link-local address (§5.1.2.1) or `unicast_src_ip`; a
    ///   link-local one is bound with the interface as scope;
    /// - hop limit 255 for unicast and multicast (IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS;
    ///   §5.1.2.3);
    /// - multicast out of `ifindex` (IPV6_MULTICAST_IF), traffic class 0xc0 (IPV6_TCLASS).
    ///
    /// The kernel does not checksum a raw IPv6 socket's payload unless IPV6_CHECKSUM is set;
    /// [`build_advert`] writes the pseudo-header checksum itself.
    pub fn open_v6(
        iface: &str,
        ifindex: u32,
        src: std::net::Ipv6Addr,
    ) -> Result<AdvertSocket, TxError> {
        Self::open_ip(iface, ifindex, IpAddr::V6(src), false)
    }

    /// [`AdvertSocket::open_v6`] for a source address the interface does not have yet:
    /// IPV6_FREEBIND is set before `bind`. A `use_vmac` macvlan is down, without its
    /// link-local address, while its instance is Backup; the socket is opened at start-up
    /// all the same, and sends once the address is there (the macvlan comes up before the
    /// first advert as Master).
    pub fn open_v6_nonlocal(
        iface: &str,
        ifindex: u32,
        src: std::net::Ipv6Addr,
    ) -> Result<AdvertSocket, TxError> {
        Self::open_ip(iface, ifindex, IpAddr::V6(src), true)
    }

    fn open_ip(
        iface: &str,
        ifindex: u32,
        src_ip: IpAddr,
        nonlocal: bool,
    ) -> Result<AdvertSocket, TxError> {
        let fail = |step: &'static str| {
            move |e: io::Error| TxError::Open {
                iface: iface.to_owned(),
                src: src_ip,
                step,
                errno: errno_of(&e),
            }
        };
        // socket2 adds SOCK_CLOEXEC; with SOCK_NONBLOCK both are set by socket(2) itself.
        let (domain, what) = match src_ip {
            IpAddr::V4(_) => (Domain::IPV4, "socket(AF_INET, SOCK_RAW, IPPROTO_VRRP)"),
            IpAddr::V6(_) => (Domain::IPV6, "socket(AF_INET6, SOCK_RAW, IPPROTO_VRRP)"),
        };
        let socket = Socket::new(
            domain,
            Type::RAW.nonblocking(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(fail(what))?;
        attach_drop_all(&socket).map_err(fail("setsockopt(SO_ATTACH_FILTER)"))?;
        socket
            .set_recv_buffer_size(RCVBUF_REQUEST)
            .map_err(fail("setsockopt(SO_RCVBUF)"))?;
        socket
            .bind_device(Some(iface.as_bytes()))
            .map_err(fail("setsockopt(SO_BINDTODEVICE)"))?;
        match src_ip {
            IpAddr::V4(src) => {
                setsockopt_int(&socket, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)
                    .map_err(fail("setsockopt(IP_MULTICAST_ALL)"))?;
                socket
                    .bind(&SockAddr::from(SocketAddrV4::new(src, 0)))
                    .map_err(fail("bind"))?;
                socket
                    .set_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(fail("setsockopt(IP_TTL)"))?;
                socket
                    .set_multicast_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(fail("setsockopt(IP_MULTICAST_TTL)"))?;
                set_multicast_if_v4(&socket, ifindex)
                    .map_err(fail("setsockopt(IP_MULTICAST_IF)"))?;
                socket
                    .set_multicast_loop_v4(false)
                    .map_err(fail("setsockopt(IP_MULTICAST_LOOP)"))?;
                socket
                    .set_tos_v4(u32::from(ADVERT_TOS))
                    .map_err(fail("setsockopt(IP_TOS)"))?;
            }
            IpAddr::V6(src) => {
                setsockopt_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_ALL, 0)
                    .map_err(fail("setsockopt(IPV6_MULTICAST_ALL)"))?;
                let scope = if is_link_local_v6(src) { ifindex } else { 0 };
                if nonlocal {
                    socket
                        .set_freebind_v6(true)
                        .map_err(fail("setsockopt(IPV6_FREEBIND)"))?;
                }
                socket
                    .bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope)))
                    .map_err(fail("bind"))?;
                socket
                    .set_unicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(fail("setsockopt(IPV6_UNICAST_HOPS)"))?;
                socket
                    .set_multicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(fail("setsockopt(IPV6_MULTICAST_HOPS)"))?;
                socket
                    .set_multicast_if_v6(ifindex)
                    .map_err(fail("setsockopt(IPV6_MULTICAST_IF)"))?;
                socket
                    .set_multicast_loop_v6(false)
                    .map_err(fail("setsockopt(IPV6_MULTICAST_LOOP)"))?;
                setsockopt_int(
                    &socket,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_TCLASS,
                    libc::c_int::from(ADVERT_TOS),
                )
                .map_err(fail("setsockopt(IPV6_TCLASS)"))?;
            }
        }
        drain(&socket);
        Ok(AdvertSocket {
            socket,
            iface: iface.to_owned(),
            ifindex,
            src: src_ip,
            counters: AtomicCounters::default(),
        })
    }

    /// Joins the VRRP group 224.0.0.18 on the socket's interface. Adverts are read by XDP,
    /// not from this socket (its filter drops everything), but a NIC that filters multicast
    /// in hardware only delivers 01:00:5e:00:00:12 frames, to XDP or anyone, once some
    /// socket on the host has joined the group there (keepalived's receive socket does).
    /// For IPv6: ff02::12 (the hardware filter then passes 33:33:00:00:00:12).
    pub fn join_vrrp_group(&self) -> Result<(), TxError> {
        match self.src {
            IpAddr::V4(_) => self.join_group(crate::wire::VRRP_GROUP_V4),
            IpAddr::V6(_) => self.join_group_v6(crate::wire::VRRP_GROUP_V6),
        }
    }

    /// Joins the IPv6 `group` on the socket's interface (ff02::12, or keepalived's
    /// `mcast_dst_ip` / `vrrp_mcast_group6`). Already a member is success.
    pub fn join_group_v6(&self, group: std::net::Ipv6Addr) -> Result<(), TxError> {
        match self.socket.join_multicast_v6(&group, self.ifindex) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            other => other.map_err(|e| TxError::Open {
                iface: self.iface.clone(),
                src: self.src,
                step: if group == crate::wire::VRRP_GROUP_V6 {
                    "setsockopt(IPV6_ADD_MEMBERSHIP ff02::12)"
                } else {
                    "setsockopt(IPV6_ADD_MEMBERSHIP of mcast_dst_ip / vrrp_mcast_group6)"
                },
                errno: errno_of(&e),
            }),
        }
    }

    /// Joins `group` on the socket's interface (as [`Self::join_vrrp_group`], for
    /// keepalived's `mcast_dst_ip` / `vrrp_mcast_group4`). Already a member is success.
    pub fn join_group(&self, group: std::net::Ipv4Addr) -> Result<(), TxError> {
        let imr_ifindex = i32::try_from(self.ifindex).unwrap_or(0);
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from(group).to_be(),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex,
        };
        match setsockopt(
            &self.socket,
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            &mreqn,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            other => other.map_err(|e| TxError::Open {
                iface: self.iface.clone(),
                src: self.src,
                step: if group == crate::wire::VRRP_GROUP_V4 {
                    "setsockopt(IP_ADD_MEMBERSHIP 224.0.0.18)"
                } else {
                    "setsockopt(IP_ADD_MEMBERSHIP of mcast_dst_ip / vrrp_mcast_group4)"
                },
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            }),
        }
    }

    /// Sends unicast adverts with IP TTL `ttl` instead of 255 (keepalived's `unicast_ttl`,
    /// for peers some routers away). Multicast adverts keep TTL 255 (IP_MULTICAST_TTL).
    /// For IPv6 the unicast hop limit (IPV6_UNICAST_HOPS).
    pub fn set_unicast_ttl(&self, ttl: u8) -> Result<(), TxError> {
        let (r, step) = match self.src {
            IpAddr::V4(_) => (self.socket.set_ttl_v4(u32::from(ttl)), "setsockopt(IP_TTL)"),
            IpAddr::V6(_) => (
                self.socket.set_unicast_hops_v6(u32::from(ttl)),
                "setsockopt(IPV6_UNICAST_HOPS)",
            ),
        };
        r.map_err(|e| TxError::Open {
            iface: self.iface.clone(),
            src: self.src,
            step,
            errno: errno_of(&e),
        })
    }

    /// The source address the socket is bound to.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The address family of the socket (of its source address).
    pub fn family(&self) -> Family {
        Family::of(&self.src)
    }

    /// What has been sent through this socket so far.
    pub fn counters(&self) -> TxCounters {
        self.counters.get()
    }

    /// The socket address of `dst` for `sendmsg`: port 0 (raw sockets take the protocol from
    /// the socket); for IPv6 the interface as scope (needed for link-local destinations).
    fn sockaddr(&self, dst: IpAddr) -> SockAddr {
        match dst {
            IpAddr::V4(a) => SockAddr::from(SocketAddr::V4(SocketAddrV4::new(a, 0))),
            IpAddr::V6(a) => {
                SockAddr::from(SocketAddr::V6(SocketAddrV6::new(a, 0, 0, self.ifindex)))
            }
        }
    }

    fn send_error(&self, dst: IpAddr, errno: Errno) -> TxError {
        TxError::Send {
            iface: self.iface.clone(),
            src: self.src,
            dst,
            errno,
        }
    }

    fn not_sent(&self, dst: IpAddr, cause: Option<Errno>) -> TxError {
        TxError::NotSent {
            iface: self.iface.clone(),
            src: self.src,
            dst,
            cause,
        }
    }
}

impl AsFd for AdvertSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for AdvertSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// One advert to send.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// The socket to send it with (its interface and source address).
    pub socket: &'a AdvertSocket,
    /// 224.0.0.18 (multicast) or a `unicast_peer`.
    pub dst: IpAddr,
    /// The VRRP message (the kernel writes the IP header), e.g. from [`build_advert`].
    pub payload: &'a [u8],
}

/// Sends `batch` with as few syscalls as possible and returns one result per advert, in the
/// order of `batch`.
///
/// Adverts are grouped by socket (in order of first appearance) and each group goes out in
/// one `sendmmsg(2)` call, however many instances and peers it holds (up to 1024 adverts
/// per call, the kernel's UIO_MAXIOV). The socket's [`TxCounters`] count the calls.
///
/// When the kernel refuses an advert in the middle of a call, `sendmmsg` returns how many
/// went out and drops the error. Then:
/// - the unsent tail is retried once. That call either sends it, or fails on its first
///   advert and so names the errno ([`TxError::Send`]);
/// - an advert refused for its own destination (ENETUNREACH, EHOSTUNREACH, EPERM from a
///   firewall, EMSGSIZE, ...) is reported and skipped, and the rest is sent: one unreachable
///   unicast peer does not silence the others. This costs at most two more calls per
///   refused advert;
/// - a resource or interface error (EAGAIN, ENOBUFS, ENOMEM, ENETDOWN, ENODEV, ...), or a
///   retry that stops short again, ends the socket's batch. The adverts left are
///   [`TxError::NotSent`].
///
/// Every call sends or rejects at least one advert, so the calls are bounded by the batch
/// length. A destination of the wrong family is [`TxError::WrongFamily`] without a syscall.
pub fn send_batch(batch: &[Outgoing<'_>]) -> Vec<Result<(), TxError>> {
    // Nothing counts as sent until the kernel says so.
    let mut results: Vec<Result<(), TxError>> = batch
        .iter()
        .map(|o| Err(o.socket.not_sent(o.dst, None)))
        .collect();

    let mut sendable = Vec::with_capacity(batch.len());
    for (i, out) in batch.iter().enumerate() {
        let socket = out.socket;
        if Family::of(&out.dst) != socket.family() {
            results[i] = Err(TxError::WrongFamily {
                iface: socket.iface.clone(),
                src: socket.src,
                dst: out.dst,
            });
            socket.counters.add(TxCounters {
                errors: 1,
                ..TxCounters::default()
            });
            continue;
        }
        sendable.push((i, socket));
    }

    for (socket, indices) in group_by_socket(sendable) {
        send_group(socket, batch, &indices, &mut results);
    }
    results
}

/// Sends the adverts `batch[i]` for `i` in `indices`, all on `socket`.
fn send_group(
    socket: &AdvertSocket,
    batch: &[Outgoing<'_>],
    indices: &[usize],
    results: &mut [Result<(), TxError>],
) {
    let n = indices.len();
    let addrs: Vec<SockAddr> = indices
        .iter()
        .map(|&i| socket.sockaddr(batch[i].dst))
        .collect();
    let mut iovs: Vec<libc::iovec> = indices
        .iter()
        .map(|&i| libc::iovec {
            // The kernel only reads through it (sendmsg); iovec has no const variant.
            iov_base: batch[i].payload.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: batch[i].payload.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
    for (addr, iov) in addrs.iter().zip(iovs.iter_mut()) {
        // SAFETY: msghdr is plain data for which all-zero is valid (null pointers, zero
        // lengths), and it has private padding fields on some targets, so it cannot be
        // written as a literal.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = addr.as_ptr().cast_mut().cast::<c_void>();
        hdr.msg_namelen = addr.len();
        hdr.msg_iov = std::ptr::from_mut(iov);
        hdr.msg_iovlen = 1;
        msgs.push(libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        });
    }

    // `msgs` points into `addrs`, `iovs` and the payloads of `batch`, all alive and unmoved
    // until it returns.
    let attempt = sendmmsg_all(socket.as_raw_fd(), &mut msgs);
    drop(msgs);
    drop(iovs);

    let counters = settle(
        attempt,
        indices,
        results,
        |i, errno| socket.send_error(batch[i].dst, errno),
        |i, cause| socket.not_sent(batch[i].dst, cause),
    );
    socket.counters.add(counters);
}

/// Writes `attempt`'s outcome for each `batch[indices[k]]` into `results` (building errors
/// with `refused` and `not_sent`) and returns the counters it adds up to.
fn settle(
    attempt: Attempt,
    indices: &[usize],
    results: &mut [Result<(), TxError>],
    refused: impl Fn(usize, Errno) -> TxError,
    not_sent: impl Fn(usize, Option<Errno>) -> TxError,
) -> TxCounters {
    let mut counters = TxCounters {
        syscalls: attempt.syscalls,
        retries: attempt.retries,
        ..TxCounters::default()
    };
    for (&i, outcome) in indices.iter().zip(attempt.outcomes) {
        results[i] = match outcome {
            Outcome::Sent => {
                counters.sent += 1;
                Ok(())
            }
            Outcome::Refused(errno) => {
                counters.errors += 1;
                Err(refused(i, errno))
            }
            Outcome::NotSent(cause) => {
                counters.errors += 1;
                Err(not_sent(i, cause))
            }
        };
    }
    counters
}

/// What happened to one message of [`send_all`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The kernel took it.
    Sent,
    /// The kernel refused it with this errno.
    Refused(Errno),
    /// It was not handed to the kernel; the errno that stopped the batch, if known.
    NotSent(Option<Errno>),
}

/// Result of [`send_all`].
#[derive(Debug, PartialEq, Eq)]
struct Attempt {
    outcomes: Vec<Outcome>,
    syscalls: u64,
    retries: u64,
}

/// Whether `errno` concerns the socket, its interface or the host rather than one
/// destination: the rest of the batch would fail the same way (see [`send_batch`]).
fn ends_batch(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::EAGAIN
            | Errno::ENOBUFS
            | Errno::ENOMEM
            | Errno::EINTR
            | Errno::ENETDOWN
            | Errno::ENODEV
            | Errno::ENXIO
            | Errno::EBADF
            | Errno::ENOTSOCK
            | Errno::EFAULT
    )
}

/// The policy of [`send_batch`] over `n` prepared messages, apart from the syscall:
/// `call(pos, len)` sends messages `pos..pos + len` in one `sendmmsg` and returns how many
/// the kernel took, or the errno of message `pos`.
/// Groups `(index, socket)` pairs by socket, in order of first appearance (a file
/// descriptor is owned by exactly one socket object).
fn group_by_socket<'a, S: AsRawFd>(
    items: impl IntoIterator<Item = (usize, &'a S)>,
) -> Vec<(&'a S, Vec<usize>)> {
    let mut groups: Vec<(&S, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<RawFd, usize> = HashMap::new();
    for (i, socket) in items {
        let g = *group_of.entry(socket.as_raw_fd()).or_insert_with(|| {
            groups.push((socket, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups
}

/// Sends `msgs` on `fd` with `sendmmsg(2)`, under [`send_all`]'s retry and skip rules. Every
/// pointer in `msgs` (names, iovecs and what they point to) must stay valid until it
/// returns; sendmmsg only reads them and writes `msg_len`.
fn sendmmsg_all(fd: RawFd, msgs: &mut [libc::mmsghdr]) -> Attempt {
    send_all(msgs.len(), |pos, len| {
        let Some(chunk) = msgs.get_mut(pos..pos + len) else {
            return Err(Errno::EINVAL);
        };
        let vlen = libc::c_uint::try_from(len).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `chunk` holds `len` initialised mmsghdrs whose pointers the caller keeps
        // valid (see above).
        let r = unsafe { libc::sendmmsg(fd, chunk.as_mut_ptr(), vlen, 0) };
        // Negative: failed on the first message, with errno set.
        usize::try_from(r).map_err(|_| Errno::last())
    })
}

fn send_all(n: usize, mut call: impl FnMut(usize, usize) -> Result<usize, Errno>) -> Attempt {
    let mut outcomes = vec![Outcome::NotSent(None); n];
    let (mut syscalls, mut retries) = (0, 0);
    let mut pos = 0;
    let mut retrying = false;
    let mut stopped_by = None;
    // Each turn sends or refuses at least one message, or leaves the loop: at most n turns.
    while pos < n {
        let len = (n - pos).min(MAX_VLEN);
        syscalls += 1;
        match call(pos, len) {
            Ok(sent) => {
                let sent = sent.min(len);
                outcomes[pos..pos + sent].fill(Outcome::Sent);
                pos += sent;
                if sent == len {
                    retrying = false;
                    continue;
                }
                // Partial (the kernel dropped the error of message `pos`) or, defensively,
                // no progress at all: retry the tail once to learn the errno.
                if retrying || sent == 0 {
                    break;
                }
                retrying = true;
                retries += 1;
            }
            Err(errno) => {
                outcomes[pos] = Outcome::Refused(errno);
                pos += 1;
                retrying = false;
                if ends_batch(errno) {
                    stopped_by = Some(errno);
                    break;
                }
            }
        }
    }
    outcomes[pos..].fill(Outcome::NotSent(stopped_by));
    Attempt {
        outcomes,
        syscalls,
        retries,
    }
}

/// Builds the VRRP message of `repr` sent from `src` to `dst` into `buf` (cleared first,
/// its allocation reused), with the v3-over-IPv4 checksum in `form`: keepalived's
/// pseudo-header form by default ([`ChecksumForm::PseudoHeader`]) or RFC 9568's
/// ([`ChecksumForm::Plain`]). The layout and checksum are [`Repr::emit`]'s. On error `buf`
/// is left empty.
pub fn build_advert(
    repr: &Repr,
    src: IpAddr,
    dst: IpAddr,
    form: ChecksumForm,
    buf: &mut Vec<u8>,
) -> Result<(), TxError> {
    buf.clear();
    let ip = Endpoints::new(src, dst).ok_or(TxError::MixedFamilies { src, dst })?;
    let ctx = EmitContext::new(ip).with_v3_ipv4_checksum(form);
    buf.resize(repr.buffer_len(), 0);
    match repr.emit(buf, &ctx) {
        Ok(len) => {
            buf.truncate(len);
            Ok(())
        }
        Err(reason) => {
            buf.clear();
            Err(TxError::Build {
                vrid: repr.vrid,
                src,
                dst,
                reason,
            })
        }
    }
}

/// What to do about the commonest [`TxError::Open`] failures.
fn open_hint(step: &str, errno: Errno) -> &'static str {
    match (step, errno) {
        (_, Errno::EPERM | Errno::EACCES) => " (raw sockets need root or CAP_NET_RAW)",
        ("bind", Errno::EADDRNOTAVAIL) => {
            " (the source address must be configured on this host: check unicast_src_ip or \
             the interface's primary address)"
        }
        (_, Errno::ENODEV) => " (no such interface in this network namespace)",
        _ => "",
    }
}

/// The errno of an error from a socket call.
fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error()
        .map_or(Errno::UnknownErrno, Errno::from_raw)
}

fn attach_drop_all(socket: &Socket) -> io::Result<()> {
    let program = DROP_ALL.map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k));
    socket.attach_filter(&program)
}

/// `setsockopt(level, name, &value)` for an option socket2 does not wrap.
fn setsockopt<T>(socket: &Socket, level: i32, name: i32, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: setsockopt reads `len` bytes from `value`, a valid `T`.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast::<c_void>(),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn setsockopt_int(socket: &Socket, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    setsockopt(socket, level, name, &value)
}

/// IP_MULTICAST_IF by interface index (an `ip_mreqn`; socket2 only takes an address).
fn set_multicast_if_v4(socket: &Socket, ifindex: u32) -> io::Result<()> {
    let imr_ifindex =
        i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex,
    };
    setsockopt(socket, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreqn)
}

/// fe80::/10.
fn is_link_local_v6(a: std::net::Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Discards what the socket queued before its filter was attached: a raw socket receives
/// from the moment `socket(2)` returns. Bounded; whatever is left (nothing in practice) only
/// occupies the receive buffer.
fn drain(socket: &Socket) {
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    for _ in 0..DRAIN_MAX {
        // MSG_TRUNC: discard the whole datagram whatever its length.
        if socket
            .recv_with_flags(&mut byte, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
            .is_err()
        {
            break;
        }
    }
}
