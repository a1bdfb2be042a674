//! Sending multicast adverts as whole Ethernet frames on an `AF_PACKET` socket, next to
//! (not instead of) the raw IP sockets of [`super::AdvertSocket`].
//!
//! Why: at `advert_int 0.01` a Master's CPU is almost all kernel time on the send path. A
//! raw IP socket makes the kernel look up a route, lay out the IP header
//! (`ip_append_data`), pick an IP ID and resolve the neighbour for every advert. A
//! multicast advert needs none of that per packet: its IP header and its destination MAC
//! (01:00:5e:00:00:12) never change, so the agent builds the whole frame once per priority
//! ([`build_advert_frame`]) and the kernel only copies it to the device
//! ([`send_frames`]).
//!
//! What the frame path skips, and so what a deployment loses with it:
//! - netfilter's IP hooks (`OUTPUT`, `POSTROUTING`): an nftables / iptables rule that
//!   matches or counts outgoing VRRP sees nothing. (An nft `netdev` egress hook and tc
//!   egress still see the frames, unless [`FrameSocket::set_qdisc_bypass`] is on.)
//! - IP multicast loopback (off on the raw sockets anyway: `IP_MULTICAST_LOOP` 0).
//! - Anything the routing table would say. Adverts go to a link-local group on one
//!   interface, so there is nothing to route; unicast adverts (`unicast_peer`) need ARP and
//!   stay on the raw IP sockets.
//!
//! The frames are what the raw socket puts on the wire (checked byte for byte against a
//! kernel-built advert in the tests), except the IP ID: see [`build_advert_frame`].
use std::{
    ffi::c_void,
    io,
    net::{IpAddr, Ipv4Addr},
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
};

use super::{
    build_advert, errno_of, group_by_socket, sendmmsg_all, settle, AtomicCounters, Errno,
    TxCounters, TxError,
};
use crate::wire::{
    checksum::{self, ChecksumForm},
    frame::{ETHERNET_HEADER_LEN, IPV4_HEADER_LEN},
    parse_frame,
    vrrp::Repr,
    Endpoints, FrameBuilder, MacAddr, VRRP_GROUP_V4,
};

/// Send buffer asked for (the kernel caps it at `net.core.wmem_max`, 208 KiB by default,
/// and doubles it). Every frame of a batch holds about 1 KiB of it until the device has sent
/// it: on a NIC that is after the TX completion, so a default-sized buffer could end a batch
/// of a few hundred adverts with `EAGAIN`. On veth the frame is freed inside the call.
const SEND_BUFFER: libc::c_int = 1 << 20;

/// The "don't fragment" bit of the IPv4 flags / fragment offset field (RFC 791 §3.1).
const IPV4_DF: u8 = 0x40;

/// A send-only `AF_PACKET` socket for one interface, sending whole Ethernet frames (from
/// [`build_advert_frame`]) with [`send_frames`].
///
/// It never receives: see [`FrameSocket::open`]. It is not tied to an address family; the
/// kernel takes each frame's EtherType from its Ethernet header.
#[derive(Debug)]
pub struct FrameSocket {
    fd: OwnedFd,
    iface: String,
    ifindex: u32,
    mac: MacAddr,
    counters: AtomicCounters,
}

impl FrameSocket {
    /// Opens an `AF_PACKET` / `SOCK_RAW` socket that sends frames out of `iface` (index
    /// `ifindex`, which must be the same interface):
    /// - non-blocking and close-on-exec (set atomically by `socket(2)`);
    /// - protocol 0, and bound to `ifindex` with protocol 0. A packet socket only receives
    ///   once it is hooked to a protocol (a non-zero protocol at `socket()` or `bind()`), so
    ///   the kernel never queues a frame on this one, and no received frame ever visits it
    ///   (cheaper than `ETH_P_ALL` with a drop-all filter, which every frame of the host
    ///   would run through). Sends name no address: the bound interface is cached in the
    ///   socket (no per-frame interface lookup) and the EtherType is parsed from the frame;
    /// - a send buffer of 1 MiB asked for, best effort (capped at `net.core.wmem_max`): on a
    ///   NIC each frame holds about 1 KiB of it until its TX completion;
    /// - the qdisc is *not* bypassed: see [`FrameSocket::set_qdisc_bypass`].
    ///
    /// It reads the interface's MAC address (SIOCGIFHWADDR), the source of the frames, and
    /// refuses an interface that does not carry Ethernet frames ([`TxError::NotEthernet`]).
    /// If the MAC changes later (bonding, a manual `ip link set address`), reopen the socket
    /// and rebuild the frames.
    ///
    /// `skb->priority` is the socket's, 0, the same as the raw socket's: TOS 0xc0 is
    /// precedence 6, which `rt_tos2priority` maps to 0 (best effort).
    pub fn open(iface: &str, ifindex: u32) -> Result<FrameSocket, TxError> {
        let fail = |step: &'static str| {
            move |e: io::Error| TxError::OpenFrame {
                iface: iface.to_owned(),
                step,
                errno: errno_of(&e),
            }
        };
        // SAFETY: socket(2) with constant arguments; the descriptor is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(fail("socket(AF_PACKET, SOCK_RAW, 0)")(
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let (hw_type, mac) = hardware_address(&fd, iface).map_err(fail("ioctl(SIOCGIFHWADDR)"))?;
        if hw_type != libc::ARPHRD_ETHER {
            return Err(TxError::NotEthernet {
                iface: iface.to_owned(),
                hw_type,
            });
        }

        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = 0; // never hooked: never receives
        sa.sll_ifindex = i32::try_from(ifindex)
            .map_err(|_| fail("bind")(io::Error::from_raw_os_error(libc::ENODEV)))?;
        // SAFETY: bind reads `sa`, valid for the length given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&sa).cast::<libc::sockaddr>(),
                socklen::<libc::sockaddr_ll>(),
            )
        };
        if r != 0 {
            return Err(fail("bind")(io::Error::last_os_error()));
        }
        // A larger send buffer is a nicety: failure leaves the default, which also works.
        let _ = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, SEND_BUFFER);
        Ok(FrameSocket {
            fd,
            iface: iface.to_owned(),
            ifindex,
            mac,
            counters: AtomicCounters::default(),
        })
    }

    /// Sends frames straight to the driver (PACKET_QDISC_BYPASS), or through the qdisc
    /// again.
    ///
    /// Bypassing skips the interface's qdisc (its queueing, shaping and fairness), tc egress
    /// filters (tcx, clsact) and nftables' netdev egress hook. A full device queue then
    /// drops the frame (counted in the device's `tx_dropped`) instead of queueing it. It
    /// saves the enqueue / dequeue and the qdisc lock per frame, which `bench-tx` (tests
    /// crate) could not measure at 5,000 adverts/s on veth, with `noqueue` or `pfifo_fast`:
    /// hence off by default.
    pub fn set_qdisc_bypass(&self, on: bool) -> Result<(), TxError> {
        setsockopt_int(
            &self.fd,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            libc::c_int::from(on),
        )
        .map_err(|e| TxError::OpenFrame {
            iface: self.iface.clone(),
            step: "setsockopt(PACKET_QDISC_BYPASS)",
            errno: errno_of(&e),
        })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The interface's MAC address when the socket was opened: the source MAC of adverts.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// What has been sent through this socket so far.
    pub fn counters(&self) -> TxCounters {
        self.counters.get()
    }

    /// The error for `frame` refused with `errno`. The addresses come from the frame (the
    /// unspecified address if it is not an IP frame).
    fn send_error(&self, frame: &[u8], errno: Errno) -> TxError {
        let (src, dst) = frame_addresses(frame);
        TxError::Send {
            iface: self.iface.clone(),
            src,
            dst,
            errno,
        }
    }

    fn not_sent(&self, frame: &[u8], cause: Option<Errno>) -> TxError {
        let (src, dst) = frame_addresses(frame);
        TxError::NotSent {
            iface: self.iface.clone(),
            src,
            dst,
            cause,
        }
    }
}

impl AsFd for FrameSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for FrameSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Builds into `buf` (cleared first, its allocation reused) the whole Ethernet frame of the
/// multicast advert `repr` from `src` out of an interface with MAC `src_mac`, with the
/// v3-over-IPv4 checksum in `checksum` (as [`build_advert`]).
///
/// The frame is what the raw socket's advert looks like on the wire:
/// - Ethernet: to 01:00:5e:00:00:12 (the group's MAC, RFC 1112 §6.4), from `src_mac` (the
///   interface's, as the kernel writes it for the raw socket and keepalived without
///   `use_vmac` sends), EtherType IPv4;
/// - IPv4: no options, TOS 0xc0, TTL 255 (RFC 9568 §5.1.1.3), protocol 112, to 224.0.0.18,
///   DF set: the kernel sets DF on these packets (`IP_PMTUDISC_WANT`, the default for raw
///   sockets; keepalived, which writes its own header, leaves it clear);
/// - IP ID 0. The kernel's ID for these packets varies (its hashed per-destination counter,
///   bumped by a random amount as time passes, because the socket may fragment), so no
///   fixed value would match it; with DF set the ID of an atomic datagram has no meaning
///   (RFC 6864 §4.1), and Linux itself sends 0 for DF packets of unconnected sockets that
///   may not fragment;
/// - the VRRP message is [`build_advert`]'s; the layout is [`FrameBuilder`]'s.
///
/// The frame is for [`send_frames`]; build it once per priority and reuse it. On error
/// `buf` is left empty.
pub fn build_advert_frame(
    repr: &Repr,
    src: Ipv4Addr,
    src_mac: MacAddr,
    checksum: ChecksumForm,
    buf: &mut Vec<u8>,
) -> Result<(), TxError> {
    build_advert_frame_to(repr, src, VRRP_GROUP_V4, src_mac, checksum, buf)
}

/// [`build_advert_frame`] to another multicast `group` (keepalived's `mcast_dst_ip` /
/// `vrrp_mcast_group4`): the IP destination, the Ethernet one (the group's MAC) and the v3
/// pseudo-header checksum follow it.
pub fn build_advert_frame_to(
    repr: &Repr,
    src: Ipv4Addr,
    group: Ipv4Addr,
    src_mac: MacAddr,
    checksum: ChecksumForm,
    buf: &mut Vec<u8>,
) -> Result<(), TxError> {
    build_advert(repr, src.into(), IpAddr::V4(group), checksum, buf)?;
    let frame = FrameBuilder::from_vrrp_bytes(Endpoints::V4 { src, dst: group }, buf)
        .src_mac(src_mac)
        .build();
    buf.clear();
    buf.extend_from_slice(&frame);
    set_dont_fragment(buf);
    Ok(())
}

/// Sets DF in the IPv4 header of an untagged frame from [`FrameBuilder`] (which writes the
/// flags clear, as keepalived does) and rewrites the header checksum.
fn set_dont_fragment(frame: &mut [u8]) {
    if let Some(h) = frame.get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + IPV4_HEADER_LEN) {
        h[6] |= IPV4_DF;
        h[10..12].fill(0);
        let sum = checksum::ipv4_header(h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
    }
}

/// Sends each frame of `batch` on its socket and returns one result per frame, in the order
/// of `batch`.
///
/// The policy is [`super::send_batch`]'s, and so is its code: frames are grouped by socket
/// (in order of first appearance), each group goes out in one `sendmmsg(2)` (up to 1024
/// frames per call), a partial send is retried once to learn the errno, a frame refused for
/// itself (`EMSGSIZE`, `EINVAL` for a frame shorter than an Ethernet header) is reported and
/// skipped, and an error of the socket or interface (`ENETDOWN` when the interface is down,
/// `ENXIO` when it is gone, `EAGAIN` / `ENOBUFS`) ends the socket's group, whose remaining
/// frames are [`TxError::NotSent`]. Errors name the IP source and destination found in
/// the frame.
pub fn send_frames(batch: &[(&FrameSocket, &[u8])]) -> Vec<Result<(), TxError>> {
    let mut results: Vec<Result<(), TxError>> = batch
        .iter()
        .map(|&(socket, frame)| Err(socket.not_sent(frame, None)))
        .collect();

    let sockets = batch
        .iter()
        .enumerate()
        .map(|(i, &(socket, _))| (i, socket));
    for (socket, indices) in group_by_socket(sockets) {
        send_group(socket, batch, &indices, &mut results);
    }
    results
}

/// Sends the frames `batch[i]` for `i` in `indices`, all on `socket`.
fn send_group(
    socket: &FrameSocket,
    batch: &[(&FrameSocket, &[u8])],
    indices: &[usize],
    results: &mut [Result<(), TxError>],
) {
    let mut iovs: Vec<libc::iovec> = indices
        .iter()
        .map(|&i| libc::iovec {
            // The kernel only reads through it (sendmsg); iovec has no const variant.
            iov_base: batch[i].1.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: batch[i].1.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: msghdr is plain data for which all-zero is valid (null pointers, zero
            // lengths); no name: the socket is bound to its interface.
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_iov = std::ptr::from_mut(iov);
            hdr.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            }
        })
        .collect();

    // `msgs` points into `iovs` and the frames of `batch`, all alive and unmoved until it
    // returns.
    let attempt = sendmmsg_all(socket.as_raw_fd(), &mut msgs);
    drop(msgs);
    drop(iovs);

    let counters = settle(
        attempt,
        indices,
        results,
        |i, errno| socket.send_error(batch[i].1, errno),
        |i, cause| socket.not_sent(batch[i].1, cause),
    );
    socket.counters.add(counters);
}

/// IP source and destination of `frame`, for error messages; unspecified if it is not an IP
/// frame.
fn frame_addresses(frame: &[u8]) -> (IpAddr, IpAddr) {
    parse_frame(frame).map_or(
        (
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ),
        |p| (p.ip.src(), p.ip.dst()),
    )
}

/// The hardware type (ARPHRD_*) and address of `iface`, from SIOCGIFHWADDR.
fn hardware_address(fd: &OwnedFd, iface: &str) -> io::Result<(u16, MacAddr)> {
    let name = iface.as_bytes();
    // A name that does not fit (with its NUL) names no interface.
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    // SAFETY: ifreq is plain data (a name and a union of plain data); all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, &s) in req.ifr_name.iter_mut().zip(name) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the name and writes `ifru_hwaddr` inside `req`, which we
    // own for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the kernel wrote the hardware address variant of the union.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, &s) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *d = s as u8;
    }
    Ok((hw.sa_family, MacAddr(mac)))
}

fn socklen<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt reads one c_int from `value`.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(&value).cast::<c_void>(),
            socklen::<libc::c_int>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
