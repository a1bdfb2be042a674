//! The IPv6 advert transmit path (`AdvertSocket::open_v6`) against the kernel: namespace A
//! sends from its link-local address, namespace B captures on the other end of the veth
//! pair. What must be on the wire (RFC 9568 §5.1.2): next header 112, hop limit 255 for
//! multicast and unicast, traffic class 0xc0, source = A's link-local address, the message
//! as `build_advert` built it with the checksum over the IPv6 pseudo-header; multicast to
//! ff02::12 at 33:33:00:00:00:12, and the socket has joined ff02::12 on the interface. Needs
//! root.
use std::{
    net::{IpAddr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use vrrp_agent::{
    tx::{build_advert, send_batch, AdvertSocket, Outgoing},
    units::Centisecs,
    wire::{
        vrrp::{Auth, Packet, ParseContext, Repr, Version},
        ChecksumForm, Endpoints, MacAddr, VRRP_GROUP_V6,
    },
};
use vrrp_tests::{in_netns, wait_for, Netns, VethPair};

/// The usable (non-tentative) link-local address of `iface` in `ns`, waiting out DAD.
fn link_local(ns: &Netns, iface: &str) -> Result<Ipv6Addr> {
    wait_for(Duration::from_secs(5), || {
        let out = ns
            .ip(&["-6", "-o", "addr", "show", "dev", iface, "scope", "link"])
            .ok()?;
        if out.contains("tentative") {
            return None;
        }
        out.split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)?
            .split('/')
            .next()?
            .parse()
            .ok()
    })
    .context("no usable link-local address")
}

/// One IPv6 frame as captured: (eth dst, traffic class, next header, hop limit, src, dst,
/// payload).
type V6Frame = (MacAddr, u8, u8, u8, Ipv6Addr, Ipv6Addr, Vec<u8>);

fn parse(b: &[u8]) -> Option<V6Frame> {
    if b.len() < 54 || b[12..14] != [0x86, 0xdd] {
        return None;
    }
    let ip = &b[14..];
    let tclass = ((ip[0] & 0x0f) << 4) | (ip[1] >> 4);
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?);
    Some((
        MacAddr(b[0..6].try_into().ok()?),
        tclass,
        ip[6],
        ip[7],
        src,
        dst,
        ip.get(40..40 + len)?.to_vec(),
    ))
}

#[test]
fn ipv6_adverts_leave_from_the_link_local_address_with_hop_limit_255() -> Result<()> {
    let lab = VethPair::new("v6t")?;
    let a_ll = link_local(&lab.a, &lab.a_if)?;
    let b_ll = link_local(&lab.b, &lab.b_if)?;
    let b_ifindex = lab.b.ifindex(&lab.b_if)?;
    let capture = in_netns(&lab.b, move || {
        let proto = (libc::ETH_P_IPV6 as u16).to_be();
        // SAFETY: socket(2) with plain arguments; the fd is owned right away.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        ensure!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: raw is a fresh, valid descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = b_ifindex as i32;
        // SAFETY: bind reads `sa`, valid for the length given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&sa).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        ensure!(r == 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: setsockopt reads a valid timeval.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&tv).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        Ok(fd)
    })?;

    let vip: Ipv6Addr = "2001:db8::100".parse()?;
    let repr = |vrid| Repr {
        version: Version::V3,
        vrid,
        priority: 100,
        max_adver_int: Centisecs::new(10),
        addresses: vec![vip.into()],
        auth: Auth::None,
    };
    let cases: Vec<(Repr, IpAddr)> = vec![
        (repr(51), VRRP_GROUP_V6.into()),
        (repr(52), IpAddr::V6(b_ll)),
    ];
    let mut payloads = Vec::new();
    for (r, dst) in &cases {
        let mut p = Vec::new();
        build_advert(r, a_ll.into(), *dst, ChecksumForm::PseudoHeader, &mut p)?;
        payloads.push(p);
    }
    let (iface, ifindex) = (lab.a_if.clone(), lab.a_ifindex);
    let socket = in_netns(&lab.a, move || {
        let s = AdvertSocket::open_v6(&iface, ifindex, a_ll)?;
        s.join_vrrp_group()?;
        Ok(s)
    })?;
    assert_eq!(socket.src(), IpAddr::V6(a_ll));
    let maddr = lab.a.ip(&["-6", "maddr", "show", "dev", &lab.a_if])?;
    assert!(maddr.contains("ff02::12"), "ff02::12 not joined:\n{maddr}");
    let out: Vec<Outgoing<'_>> = cases
        .iter()
        .zip(&payloads)
        .map(|((_, dst), p)| Outgoing {
            socket: &socket,
            dst: *dst,
            payload: p,
        })
        .collect();
    let results = in_netns(&lab.a, || Ok(send_batch(&out)))?;
    for r in &results {
        assert_eq!(r, &Ok(()));
    }

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = std::collections::BTreeMap::new();
    let mut buf = vec![0u8; 2048];
    while seen.len() < cases.len() && Instant::now() < deadline {
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(capture.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let Ok(n) = usize::try_from(n) else { continue };
        if let Some(f) = parse(&buf[..n]) {
            if f.2 == 112 && f.4 == a_ll && f.6.len() >= 2 {
                seen.insert(f.6[1], f);
            }
        }
    }
    for ((r, dst), payload) in cases.iter().zip(&payloads) {
        let what = format!("VRID {} to {dst}", r.vrid);
        let (eth_dst, tclass, _, hops, src, fdst, body) = seen
            .get(&r.vrid)
            .with_context(|| format!("{what} not captured"))?;
        if *dst == IpAddr::V6(VRRP_GROUP_V6) {
            assert_eq!(*eth_dst, MacAddr([0x33, 0x33, 0, 0, 0, 0x12]), "{what}");
        } else {
            assert_eq!(*eth_dst, lab.b_mac, "{what}");
        }
        assert_eq!(*hops, 255, "{what}: hop limit");
        assert_eq!(*tclass, 0xc0, "{what}: traffic class");
        assert_eq!(*src, a_ll, "{what}: source");
        assert_eq!(IpAddr::V6(*fdst), *dst, "{what}");
        assert_eq!(body, payload, "{what}: payload differs from build_advert's");
        let ip = Endpoints::V6 {
            src: *src,
            dst: *fdst,
        };
        assert_eq!(
            Packet::new_checked(&body[..])
                .ok()
                .and_then(|p| p.verify_checksum(&ip)),
            Some(ChecksumForm::PseudoHeader),
            "{what}: checksum over the IPv6 pseudo-header"
        );
        assert_eq!(
            Repr::parse_bytes(body, &ParseContext::new(ip, *hops)),
            Ok(r.clone()),
            "{what}"
        );
    }
    Ok(())
}
