//! The advert transmit path (`vrrp_agent::tx`) against the kernel, in network namespaces:
//! namespace A (198.18.0.1/24) sends through an `AdvertSocket`, namespace B (198.18.0.2/24)
//! captures on the other end of a veth pair. Checks what the kernel puts on the wire, that a
//! batch is one `sendmmsg`, that one refused destination does not stop the others, and that
//! the socket never queues what it receives. Needs root.
use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use vrrp_agent::{
    tx::{build_advert, send_batch, AdvertSocket, Errno, Outgoing, TxCounters, TxError},
    wire::{
        checksum,
        vrrp::{Packet, ParseContext, Repr, Version},
        ChecksumForm, Endpoints, MacAddr, VRRP_GROUP_V4,
    },
};
use vrrp_tests::{in_netns, wait_for, VethPair};

const A_ADDR: Ipv4Addr = VethPair::A_ADDR;
const B_ADDR: Ipv4Addr = VethPair::B_ADDR;
const GROUP: IpAddr = IpAddr::V4(VRRP_GROUP_V4);
const IPPROTO_VRRP: u8 = 112;

type Lab = VethPair;

/// What these tests open and capture on the pair.
trait LabExt {
    fn open_a(&self) -> Result<AdvertSocket>;
}

impl LabExt for Lab {
    /// Opens an advert socket in A on its veth end, from 198.18.0.1.
    fn open_a(&self) -> Result<AdvertSocket> {
        let (iface, ifindex) = (self.a_if.clone(), self.a_ifindex);
        in_netns(&self.a, move || {
            Ok(AdvertSocket::open(&iface, ifindex, A_ADDR)?)
        })
    }
}

fn setsockopt<T>(fd: RawFd, level: i32, name: i32, value: &T) -> Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() bytes from `value`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::from_ref(value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    ensure!(
        r == 0,
        "setsockopt({level}, {name}): {}",
        std::io::Error::last_os_error()
    );
    Ok(())
}

fn owned_socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
    // SAFETY: socket(2) with plain arguments; the fd is owned right away.
    let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    ensure!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: raw is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn recv_timeout(fd: RawFd, timeout: Duration) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// One datagram, or the errno (EAGAIN on timeout).
fn recv(fd: RawFd, flags: i32) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    // SAFETY: recv writes at most buf.len() bytes into buf.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    let n = usize::try_from(n).map_err(|_| std::io::Error::last_os_error())?;
    buf.truncate(n);
    Ok(buf)
}

/// An AF_PACKET socket on B's veth end that sees every frame arriving there.
struct Capture {
    fd: OwnedFd,
}

impl Capture {
    fn open(lab: &Lab) -> Result<Capture> {
        let ifindex = lab.b.ifindex(&lab.b_if)?;
        let fd = in_netns(&lab.b, move || {
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let fd = owned_socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto))?;
            // Room for a 200-advert burst (the default ~200 KiB holds fewer skbs).
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &(16 << 20),
            )?;
            recv_timeout(fd.as_raw_fd(), Duration::from_millis(100))?;
            // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
            sa.sll_ifindex = ifindex as i32;
            // SAFETY: bind reads `sa`, valid for the length given.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sa).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            ensure!(
                r == 0,
                "bind AF_PACKET: {}",
                std::io::Error::last_os_error()
            );
            Ok(fd)
        })?;
        Ok(Capture { fd })
    }

    /// VRRP frames from `src`, keyed by VRID, until `want` VRIDs are seen or `timeout`.
    fn vrrp_from(&self, src: Ipv4Addr, want: usize, timeout: Duration) -> BTreeMap<u8, Frame> {
        let deadline = Instant::now() + timeout;
        let mut seen = BTreeMap::new();
        while seen.len() < want && Instant::now() < deadline {
            let Ok(bytes) = recv(self.fd.as_raw_fd(), 0) else {
                continue;
            };
            if let Some(f) = Frame::parse(&bytes) {
                if f.src == src && f.protocol == IPPROTO_VRRP && f.payload.len() >= 2 {
                    seen.insert(f.payload[1], f);
                }
            }
        }
        seen
    }
}

/// An Ethernet + IPv4 frame as captured.
#[derive(Debug)]
struct Frame {
    eth_dst: MacAddr,
    eth_src: MacAddr,
    tos: u8,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    header_checksum_ok: bool,
    payload: Vec<u8>,
}

impl Frame {
    /// `None` unless an untagged IPv4 frame without IP options.
    fn parse(b: &[u8]) -> Option<Frame> {
        if b.len() < 34 || b[12..14] != [0x08, 0x00] || b[14] != 0x45 {
            return None;
        }
        let ip = &b[14..];
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let payload = ip.get(20..total)?.to_vec();
        Some(Frame {
            eth_dst: MacAddr(b[0..6].try_into().ok()?),
            eth_src: MacAddr(b[6..12].try_into().ok()?),
            tos: ip[1],
            ttl: ip[8],
            protocol: ip[9],
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            header_checksum_ok: checksum::ipv4_header(&ip[..20]) == 0,
            payload,
        })
    }
}

fn v3(vrid: u8) -> Repr {
    VethPair::v3(vrid)
}

fn v2_pass(vrid: u8) -> Repr {
    VethPair::v2_pass(vrid)
}

/// One advert of a test: what to send and how it should look.
struct Case {
    repr: Repr,
    dst: IpAddr,
    form: ChecksumForm,
    payload: Vec<u8>,
}

fn case(repr: Repr, dst: IpAddr, form: ChecksumForm) -> Result<Case> {
    let mut payload = Vec::new();
    build_advert(&repr, A_ADDR.into(), dst, form, &mut payload)?;
    Ok(Case {
        repr,
        dst,
        form,
        payload,
    })
}

fn outgoing<'a>(socket: &'a AdvertSocket, cases: &'a [Case]) -> Vec<Outgoing<'a>> {
    cases
        .iter()
        .map(|c| Outgoing {
            socket,
            dst: c.dst,
            payload: &c.payload,
        })
        .collect()
}

/// Sends `cases` through a fresh socket in A (opened and used on a thread inside A);
/// returns the socket (kept open until the capture is done) and the results.
fn send_from_a(lab: &Lab, cases: &[Case]) -> Result<(AdvertSocket, Vec<Result<(), TxError>>)> {
    let socket = lab.open_a()?;
    let results = in_netns(&lab.a, || Ok(send_batch(&outgoing(&socket, cases))))?;
    Ok((socket, results))
}

#[test]
fn multicast_and_unicast_adverts_leave_as_built() -> Result<()> {
    let lab = Lab::new("tx")?;
    let capture = Capture::open(&lab)?;
    let peer = IpAddr::V4(B_ADDR);
    let cases = [
        case(v3(51), GROUP, ChecksumForm::PseudoHeader)?,
        case(v2_pass(52), GROUP, ChecksumForm::PseudoHeader)?,
        case(v3(53), peer, ChecksumForm::PseudoHeader)?,
        case(v3(54), peer, ChecksumForm::Plain)?,
    ];
    let (socket, results) = send_from_a(&lab, &cases)?;
    assert_eq!(socket.src(), IpAddr::V4(A_ADDR));
    for r in &results {
        assert_eq!(r, &Ok(()));
    }
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 1,
            sent: 4,
            errors: 0,
            retries: 0
        }
    );

    // The unicast ones wait for ARP; 5 s is many times what that takes.
    let seen = capture.vrrp_from(A_ADDR, cases.len(), Duration::from_secs(5));
    for c in &cases {
        let f = seen
            .get(&c.repr.vrid)
            .with_context(|| format!("VRID {} to {} not captured in B", c.repr.vrid, c.dst))?;
        let what = format!("VRID {} to {}", c.repr.vrid, c.dst);
        let expected_mac = match MacAddr::multicast(c.dst) {
            Some(group) => group,
            None => lab.b_mac,
        };
        if c.dst == GROUP {
            assert_eq!(
                f.eth_dst,
                MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]),
                "{what}"
            );
        }
        assert_eq!(f.eth_dst, expected_mac, "{what}");
        assert_eq!(f.eth_src, lab.a_mac, "{what}");
        assert_eq!(f.ttl, 255, "{what}");
        assert_eq!(f.protocol, 112, "{what}");
        assert_eq!(f.tos, 0xc0, "{what}");
        assert_eq!(f.src, A_ADDR, "{what}");
        assert_eq!(IpAddr::V4(f.dst), c.dst, "{what}");
        assert!(f.header_checksum_ok, "{what}: bad IP header checksum");
        assert_eq!(
            f.payload, c.payload,
            "{what}: payload differs from build_advert's"
        );
        let ip = Endpoints::V4 {
            src: f.src,
            dst: f.dst,
        };
        assert_eq!(
            Repr::parse_bytes(&f.payload, &ParseContext::new(ip, f.ttl)),
            Ok(c.repr.clone()),
            "{what}"
        );
        let form = match c.repr.version {
            Version::V2 => ChecksumForm::Plain,
            Version::V3 => c.form,
        };
        assert_eq!(
            Packet::new_checked(&f.payload[..])
                .ok()
                .and_then(|p| p.verify_checksum(&ip)),
            Some(form),
            "{what}"
        );
    }
    drop(socket);
    Ok(())
}

#[test]
fn two_hundred_adverts_in_one_sendmmsg() -> Result<()> {
    let lab = Lab::new("tx")?;
    let capture = Capture::open(&lab)?;
    let cases = (1..=200u8)
        .map(|vrid| case(v3(vrid), GROUP, ChecksumForm::PseudoHeader))
        .collect::<Result<Vec<_>>>()?;
    let (socket, results) = send_from_a(&lab, &cases)?;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 1,
            sent: 200,
            errors: 0,
            retries: 0
        }
    );
    let seen = capture.vrrp_from(A_ADDR, 200, Duration::from_secs(10));
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=200).collect::<Vec<u8>>(),
        "VRIDs captured in B"
    );
    for c in &cases {
        assert_eq!(
            seen[&c.repr.vrid].payload, c.payload,
            "VRID {}",
            c.repr.vrid
        );
    }
    Ok(())
}

#[test]
fn a_refused_destination_does_not_stop_the_others() -> Result<()> {
    let lab = Lab::new("tx")?;
    let capture = Capture::open(&lab)?;
    // The limited broadcast address without SO_BROADCAST: the kernel refuses it (EACCES)
    // for that message only. IPv6 on an IPv4 socket is refused before any syscall.
    let bcast = IpAddr::V4(Ipv4Addr::BROADCAST);
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    let payloads = [
        case(v3(1), GROUP, ChecksumForm::PseudoHeader)?,
        case(v3(2), bcast, ChecksumForm::PseudoHeader)?,
        case(v3(3), GROUP, ChecksumForm::PseudoHeader)?,
    ];
    let socket = lab.open_a()?;
    let mut batch = outgoing(&socket, &payloads);
    batch.insert(
        1,
        Outgoing {
            socket: &socket,
            dst: v6,
            payload: &payloads[0].payload,
        },
    );
    let results = in_netns(&lab.a, || Ok(send_batch(&batch)))?;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], Ok(()));
    assert_eq!(
        results[1],
        Err(TxError::WrongFamily {
            iface: lab.a_if.clone(),
            src: A_ADDR.into(),
            dst: v6
        })
    );
    let refused = results[2].clone().unwrap_err();
    assert_eq!(refused.errno(), Some(Errno::EACCES), "{refused}");
    let text = refused.to_string();
    for needle in [lab.a_if.as_str(), "198.18.0.1", "255.255.255.255", "EACCES"] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    assert_eq!(results[3], Ok(()));
    // Call 1 stops after VRID 1; the retry names EACCES for the broadcast; call 3 sends
    // VRID 3.
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 3,
            sent: 2,
            errors: 2,
            retries: 1
        }
    );
    let seen = capture.vrrp_from(A_ADDR, 2, Duration::from_secs(5));
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [1, 3]);
    Ok(())
}

#[test]
fn the_socket_never_queues_what_it_receives() -> Result<()> {
    let lab = Lab::new("tx")?;
    let socket = lab.open_a()?;
    // A control socket in A like the advert socket minus the filter: it sees every advert
    // that reaches A's stack (its join also makes A accept 224.0.0.18).
    let (a_if, ifindex) = (lab.a_if.clone(), lab.a_ifindex);
    let control = in_netns(&lab.a, move || {
        let fd = owned_socket(libc::AF_INET, libc::SOCK_RAW, i32::from(IPPROTO_VRRP))?;
        let mut name = a_if.into_bytes();
        name.push(0);
        // SAFETY: setsockopt reads name.len() bytes from name.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.len() as libc::socklen_t,
            )
        };
        ensure!(
            r == 0,
            "SO_BINDTODEVICE: {}",
            std::io::Error::last_os_error()
        );
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from_ne_bytes(VRRP_GROUP_V4.octets()),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex as i32,
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            &mreqn,
        )?;
        recv_timeout(fd.as_raw_fd(), Duration::from_millis(100))?;
        Ok(fd)
    })?;

    // A's own multicast advert is not looped back to A (IP_MULTICAST_LOOP off).
    let mut own = Vec::new();
    build_advert(
        &v3(8),
        A_ADDR.into(),
        GROUP,
        ChecksumForm::PseudoHeader,
        &mut own,
    )?;
    let sent = in_netns(&lab.a, || {
        Ok(send_batch(&[Outgoing {
            socket: &socket,
            dst: GROUP,
            payload: &own,
        }]))
    })?;
    assert_eq!(sent, [Ok(())]);

    // B sends a multicast advert and a unicast one to A's address (the one the advert
    // socket is bound to), with its own AdvertSocket.
    let b_if = lab.b_if.clone();
    let b_ifindex = lab.b.ifindex(&lab.b_if)?;
    let mut to_group = Vec::new();
    let mut to_a = Vec::new();
    build_advert(
        &v3(9),
        B_ADDR.into(),
        GROUP,
        ChecksumForm::PseudoHeader,
        &mut to_group,
    )?;
    build_advert(
        &v3(10),
        B_ADDR.into(),
        A_ADDR.into(),
        ChecksumForm::PseudoHeader,
        &mut to_a,
    )?;
    let results = in_netns(&lab.b, || {
        let b = AdvertSocket::open(&b_if, b_ifindex, B_ADDR)?;
        Ok(send_batch(&[
            Outgoing {
                socket: &b,
                dst: GROUP,
                payload: &to_group,
            },
            Outgoing {
                socket: &b,
                dst: A_ADDR.into(),
                payload: &to_a,
            },
        ]))
    })?;
    assert_eq!(results, [Ok(()), Ok(())]);

    // Both reach A's stack (and A's own advert does not)...
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.iter().filter(|(src, _)| *src == B_ADDR).count() < 2 && Instant::now() < deadline {
        if let Ok(p) = recv(control.as_raw_fd(), 0) {
            if p.len() >= 20 {
                let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
                got.push((src, Ipv4Addr::new(p[16], p[17], p[18], p[19])));
            }
        }
    }
    got.sort();
    let mut expected = vec![(B_ADDR, A_ADDR), (B_ADDR, VRRP_GROUP_V4)];
    expected.sort();
    assert_eq!(
        got, expected,
        "(source, destination) of the adverts seen in A"
    );

    // ...and the advert socket queued neither.
    let queued = wait_for(Duration::from_millis(200), || {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut n) };
        (r != 0 || n != 0).then_some((r, n))
    });
    assert_eq!(queued, None, "FIONREAD on the advert socket (rc, bytes)");
    match recv(socket.as_raw_fd(), libc::MSG_DONTWAIT) {
        Ok(p) => panic!("the advert socket received {} bytes", p.len()),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}"),
    }
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 1,
            sent: 1,
            errors: 0,
            retries: 0
        }
    );
    Ok(())
}

#[test]
fn open_errors_name_interface_address_and_errno() -> Result<()> {
    let lab = Lab::new("tx")?;
    let (a_if, ifindex) = (lab.a_if.clone(), lab.a_ifindex);
    let (not_mine, no_iface) = in_netns(&lab.a, move || {
        Ok((
            AdvertSocket::open(&a_if, ifindex, Ipv4Addr::new(198, 18, 0, 9)).map(|_| ()),
            AdvertSocket::open("txnosuch0", 999, A_ADDR).map(|_| ()),
        ))
    })?;
    let e = not_mine.unwrap_err();
    assert!(
        matches!(&e, TxError::Open { step: "bind", errno: Errno::EADDRNOTAVAIL, iface, .. } if *iface == lab.a_if),
        "{e:?}"
    );
    let text = e.to_string();
    for needle in [lab.a_if.as_str(), "198.18.0.9", "bind", "EADDRNOTAVAIL"] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    let e = no_iface.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENODEV), "{e}");
    assert!(e.to_string().contains("txnosuch0"), "{e}");
    assert!(e.to_string().contains("SO_BINDTODEVICE"), "{e}");
    Ok(())
}
