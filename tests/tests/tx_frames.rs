//! The AF_PACKET advert path (`vrrp_agent::tx::FrameSocket`) against the kernel, in network
//! namespaces: namespace A (198.18.0.1/24) sends, namespace B (198.18.0.2/24) captures on
//! the other end of a veth pair. Checks that a built frame is the advert the raw IP socket
//! puts on the wire (but for the IP ID), that frames arrive intact, that a batch is one
//! `sendmmsg`, that errors follow `send_batch`'s policy, and that the socket never receives.
//! Needs root.
use std::{
    net::{IpAddr, Ipv4Addr},
    os::fd::{AsRawFd, RawFd},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use vrrp_agent::{
    tx::{
        build_advert, build_advert_frame, send_batch, send_frames, AdvertSocket, Errno,
        FrameSocket, Outgoing, TxCounters, TxError,
    },
    wire::{checksum, parse_frame, vrrp::Repr, ChecksumForm, MacAddr, VRRP_GROUP_V4},
};
use vrrp_tests::{in_netns, Capture, Captured, PacketSocket, VethPair};

const A_ADDR: Ipv4Addr = VethPair::A_ADDR;
const B_ADDR: Ipv4Addr = VethPair::B_ADDR;
const GROUP: IpAddr = IpAddr::V4(VRRP_GROUP_V4);
const GROUP_MAC: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);

type Lab = VethPair;

/// What these tests open and capture on the pair.
trait LabExt {
    fn open_a(&self) -> Result<FrameSocket>;
    fn capture_b(&self, max: usize) -> Result<Capture>;
}

impl LabExt for Lab {
    /// Opens a frame socket in A on its veth end.
    fn open_a(&self) -> Result<FrameSocket> {
        let (iface, ifindex) = (self.a_if.clone(), self.a_ifindex);
        in_netns(&self.a, move || Ok(FrameSocket::open(&iface, ifindex)?))
    }

    /// Captures (at most `max`, for at most 10 s) what B's veth end receives.
    fn capture_b(&self, max: usize) -> Result<Capture> {
        Capture::start(&self.b, &self.b_if, max, Duration::from_secs(10))
    }
}

fn v3(vrid: u8) -> Repr {
    VethPair::v3(vrid)
}

fn v2_pass(vrid: u8) -> Repr {
    VethPair::v2_pass(vrid)
}

fn frame(lab: &Lab, repr: &Repr) -> Result<Vec<u8>> {
    let mut f = Vec::new();
    build_advert_frame(repr, A_ADDR, lab.a_mac, ChecksumForm::PseudoHeader, &mut f)?;
    Ok(f)
}

/// The captured VRRP frames from A, by VRID (the last one of each VRID).
fn vrrp_frames(captured: &[Captured]) -> std::collections::BTreeMap<u8, Vec<u8>> {
    captured
        .iter()
        .filter_map(|c| {
            let p = parse_frame(&c.frame).ok()?;
            let vrid = *p.payload_bytes(&c.frame).get(1)?;
            (p.protocol == 112 && p.ip.src() == IpAddr::V4(A_ADDR)).then(|| (vrid, c.frame.clone()))
        })
        .collect()
}

/// Stops `capture` once every VRID in `sent` was seen from A (at most 10 s: on a busy
/// machine the receiving softirq and the capture thread can be late) and returns the VRRP
/// frames from A. veth keeps the order of what one socket sends, so a frame sent between
/// two expected ones that should not have gone out is seen by then too.
fn settle(
    capture: Capture,
    sent: impl IntoIterator<Item = u8>,
) -> Result<std::collections::BTreeMap<u8, Vec<u8>>> {
    let sent: Vec<u8> = sent.into_iter().collect();
    let frames = capture.finish_when(Duration::from_secs(10), |c| {
        let seen = vrrp_frames(c);
        sent.iter().all(|v| seen.contains_key(v))
    })?;
    Ok(vrrp_frames(&frames))
}

/// `frame` with IP ID `id` and its IPv4 header checksum recomputed.
fn with_ip_id(frame: &[u8], id: u16) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[18..20].copy_from_slice(&id.to_be_bytes());
    f[24..26].fill(0);
    let sum = checksum::ipv4_header(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f
}

#[test]
fn built_frame_is_the_kernels_advert_but_for_the_ip_id() -> Result<()> {
    let lab = Lab::new("fx")?;
    let capture = lab.capture_b(64)?;
    // The raw IP path, as the runtime uses it today.
    let reprs = [v3(51), v2_pass(52)];
    let mut payloads = Vec::new();
    for r in &reprs {
        let mut p = Vec::new();
        build_advert(r, A_ADDR.into(), GROUP, ChecksumForm::PseudoHeader, &mut p)?;
        payloads.push(p);
    }
    let (iface, ifindex) = (lab.a_if.clone(), lab.a_ifindex);
    let results = in_netns(&lab.a, || {
        let socket = AdvertSocket::open(&iface, ifindex, A_ADDR)?;
        let batch: Vec<Outgoing<'_>> = payloads
            .iter()
            .map(|p| Outgoing {
                socket: &socket,
                dst: GROUP,
                payload: p,
            })
            .collect();
        Ok(send_batch(&batch))
    })?;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let seen = settle(capture, reprs.iter().map(|r| r.vrid))?;

    for r in &reprs {
        let kernel = seen
            .get(&r.vrid)
            .with_context(|| format!("VRID {} not captured in B", r.vrid))?;
        let ours = frame(&lab, r)?;
        let what = format!("VRID {}", r.vrid);
        assert_eq!(kernel.len(), ours.len(), "{what}: length");
        // Every byte but the IP ID (18..20) and the header checksum (24..26) that covers it.
        assert_eq!(
            kernel[..18],
            ours[..18],
            "{what}: Ethernet, IP version to length"
        );
        assert_eq!(
            kernel[20..24],
            ours[20..24],
            "{what}: flags (DF), TTL, protocol"
        );
        assert_eq!(
            kernel[26..],
            ours[26..],
            "{what}: addresses and VRRP message"
        );
        assert_eq!(
            with_ip_id(kernel, 0),
            ours,
            "{what}: with ID 0 the kernel's frame is ours"
        );
        assert_eq!(kernel[6..12], lab.a_mac.0, "{what}: source MAC");
        assert_eq!(kernel[20], 0x40, "{what}: the kernel sets DF");
    }
    Ok(())
}

#[test]
fn frames_arrive_intact_with_and_without_qdisc_bypass() -> Result<()> {
    let lab = Lab::new("fx")?;
    let socket = lab.open_a()?;
    assert_eq!(socket.mac(), lab.a_mac, "SIOCGIFHWADDR");
    assert_eq!(
        (socket.iface(), socket.ifindex()),
        (lab.a_if.as_str(), lab.a_ifindex)
    );
    let capture = lab.capture_b(64)?;
    let plain = [frame(&lab, &v3(1))?, frame(&lab, &v2_pass(2))?];
    let bypassed = frame(&lab, &v3(3))?;
    let results = in_netns(&lab.a, || {
        let first = send_frames(&[(&socket, &plain[0][..]), (&socket, &plain[1][..])]);
        socket.set_qdisc_bypass(true)?;
        let second = send_frames(&[(&socket, &bypassed[..])]);
        socket.set_qdisc_bypass(false)?;
        Ok([first, second].concat())
    })?;
    assert_eq!(results, [Ok(()), Ok(()), Ok(())]);
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 2,
            sent: 3,
            errors: 0,
            retries: 0
        }
    );
    let seen = settle(capture, [1, 2, 3])?;
    assert_eq!(seen.get(&1), Some(&plain[0]), "VRID 1 (v3)");
    assert_eq!(seen.get(&2), Some(&plain[1]), "VRID 2 (v2 PASS)");
    assert_eq!(seen.get(&3), Some(&bypassed), "VRID 3 (qdisc bypass)");
    for f in seen.values() {
        assert_eq!(f[..6], GROUP_MAC.0);
        assert_ne!(f[..6], lab.b_mac.0);
    }
    Ok(())
}

#[test]
fn two_hundred_frames_in_one_sendmmsg() -> Result<()> {
    let lab = Lab::new("fx")?;
    let socket = lab.open_a()?;
    let capture = lab.capture_b(400)?;
    let frames = (1..=200u8)
        .map(|vrid| frame(&lab, &v3(vrid)))
        .collect::<Result<Vec<_>>>()?;
    let batch: Vec<(&FrameSocket, &[u8])> = frames.iter().map(|f| (&socket, &f[..])).collect();
    let results = in_netns(&lab.a, || Ok(send_frames(&batch)))?;
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
    let seen = settle(capture, 1..=200)?;
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=200).collect::<Vec<u8>>(),
        "VRIDs captured in B"
    );
    for (vrid, f) in &seen {
        assert_eq!(f, &frames[usize::from(*vrid) - 1], "VRID {vrid}");
    }
    Ok(())
}

#[test]
fn a_refused_frame_is_skipped_and_a_down_link_ends_the_batch() -> Result<()> {
    let lab = Lab::new("fx")?;
    let socket = lab.open_a()?;
    let capture = lab.capture_b(64)?;
    let (f1, f3) = (frame(&lab, &v3(1))?, frame(&lab, &v3(3))?);
    // Shorter than an Ethernet header: the kernel refuses it (EINVAL), for itself only.
    let short = [0u8; 10];
    let results = in_netns(&lab.a, || {
        Ok(send_frames(&[
            (&socket, &f1[..]),
            (&socket, &short[..]),
            (&socket, &f3[..]),
        ]))
    })?;
    assert_eq!(results[0], Ok(()));
    let refused = results[1].clone().unwrap_err();
    assert_eq!(refused.errno(), Some(Errno::EINVAL), "{refused}");
    assert!(refused.to_string().contains(&lab.a_if), "{refused}");
    assert_eq!(results[2], Ok(()));
    // Call 1 stops after the first frame; the retry names EINVAL; call 3 sends the last.
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 3,
            sent: 2,
            errors: 1,
            retries: 1
        }
    );
    // VRID 2 was refused: it never left, and VRID 3, sent after it, is what proves the
    // capture would have seen it.
    let seen = settle(capture, [1, 3])?;
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [1, 3]);

    // An interface that is down refuses the first frame and ends the batch.
    lab.a.ip(&["link", "set", &lab.a_if, "down"])?;
    let results = in_netns(&lab.a, || {
        Ok(send_frames(&[
            (&socket, &f1[..]),
            (&socket, &f3[..]),
            (&socket, &f1[..]),
        ]))
    })?;
    assert_eq!(
        results[0],
        Err(TxError::Send {
            iface: lab.a_if.clone(),
            src: A_ADDR.into(),
            dst: GROUP,
            errno: Errno::ENETDOWN
        })
    );
    for r in &results[1..] {
        assert_eq!(
            r,
            &Err(TxError::NotSent {
                iface: lab.a_if.clone(),
                src: A_ADDR.into(),
                dst: GROUP,
                cause: Some(Errno::ENETDOWN)
            })
        );
    }
    let text = results[0].clone().unwrap_err().to_string();
    for needle in [lab.a_if.as_str(), "198.18.0.1", "224.0.0.18", "ENETDOWN"] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    assert_eq!(
        socket.counters(),
        TxCounters {
            syscalls: 4,
            sent: 2,
            errors: 4,
            retries: 1
        }
    );
    Ok(())
}

/// Bytes queued on `fd` for reading (FIONREAD).
fn queued(fd: RawFd) -> Result<libc::c_int> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    ensure!(r == 0, "FIONREAD: {}", std::io::Error::last_os_error());
    Ok(n)
}

#[test]
fn the_frame_socket_never_receives() -> Result<()> {
    let lab = Lab::new("fx")?;
    let socket = lab.open_a()?;
    // A control capture on A's end: proof that the frames below do arrive there.
    let control = Capture::start(&lab.a, &lab.a_if, 64, Duration::from_secs(10))?;

    // The kernel lists the socket with protocol 0 and not running: it is hooked to nothing.
    let inode = {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes one `stat` into `st`.
        ensure!(
            unsafe { libc::fstat(socket.as_raw_fd(), &mut st) } == 0,
            "fstat"
        );
        st.st_ino.to_string()
    };
    let table = in_netns(&lab.a, || {
        Ok(std::fs::read_to_string("/proc/thread-self/net/packet")?)
    })?;
    // sk RefCnt Type Proto Iface R Rmem User Inode
    let row: Vec<&str> = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.get(8) == Some(&inode.as_str()))
        .with_context(|| format!("socket inode {inode} not in /proc/net/packet:\n{table}"))?;
    assert_eq!(
        (u16::from_str_radix(row[3], 16)?, row[5]),
        (0, "0"),
        "Proto and R(unning) of {row:?}"
    );
    assert_eq!(
        row[4],
        lab.a_ifindex.to_string(),
        "bound interface of {row:?}"
    );

    // B sends an advert to the group, a broadcast and a frame to A's MAC.
    let to_group = {
        let mut f = Vec::new();
        build_advert_frame(
            &v3(9),
            B_ADDR,
            lab.b_mac,
            ChecksumForm::PseudoHeader,
            &mut f,
        )?;
        f
    };
    let mut to_bcast = to_group.clone();
    to_bcast[..6].copy_from_slice(&MacAddr::BROADCAST.0);
    let mut to_a = to_group.clone();
    to_a[..6].copy_from_slice(&lab.a_mac.0);
    let b = PacketSocket::open(&lab.b, &lab.b_if)?;
    for f in [&to_group, &to_bcast, &to_a] {
        b.send(f)?;
    }
    // And A sends one of its own.
    let own = frame(&lab, &v3(8))?;
    let sent = in_netns(&lab.a, || Ok(send_frames(&[(&socket, &own[..])])))?;
    assert_eq!(sent, [Ok(())]);

    // The positive control: all three reached A (the same softirq that hands them to the
    // control capture would queue them on the frame socket if it were hooked).
    let from_b = |got: &[Captured]| {
        got.iter()
            .filter(|c| c.frame.get(6..12) == Some(&lab.b_mac.0[..]))
            .filter(|c| parse_frame(&c.frame).is_ok_and(|p| p.protocol == 112))
            .count()
    };
    let got = control.finish_when(Duration::from_secs(10), |c| from_b(c) >= 3)?;
    assert_eq!(from_b(&got), 3, "frames from B seen by A's control capture");

    assert_eq!(
        queued(socket.as_raw_fd())?,
        0,
        "FIONREAD on the frame socket"
    );
    let mut buf = [0u8; 2048];
    // SAFETY: recv writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    let e = std::io::Error::last_os_error();
    assert!(n < 0, "the frame socket received {n} bytes");
    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
    Ok(())
}

#[test]
fn open_errors_name_the_interface() -> Result<()> {
    let lab = Lab::new("fx")?;
    let a_if = lab.a_if.clone();
    let (no_iface, bad_index, loopback) = in_netns(&lab.a, move || {
        Ok((
            FrameSocket::open("fxnosuch0", 999).map(|_| ()),
            FrameSocket::open(&a_if, 999_999).map(|_| ()),
            FrameSocket::open("lo", 1).map(|_| ()),
        ))
    })?;
    let e = no_iface.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENODEV), "{e}");
    assert!(e.to_string().contains("fxnosuch0"), "{e}");
    let e = bad_index.unwrap_err();
    assert!(
        matches!(&e, TxError::OpenFrame { step: "bind", errno: Errno::ENODEV, iface } if *iface == lab.a_if),
        "{e:?}"
    );
    assert_eq!(
        loopback.unwrap_err(),
        TxError::NotEthernet {
            iface: "lo".into(),
            hw_type: libc::ARPHRD_LOOPBACK
        }
    );
    Ok(())
}
