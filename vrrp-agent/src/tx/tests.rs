//! Unit tests of the transmit module: the drop-all filter, advert building against the
//! keepalived captures, and the send policy with a scripted `sendmmsg`. The sockets
//! themselves are tested in network namespaces (`tests/tests/tx.rs`).
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::units::Centisecs;
use crate::wire::fixtures::{SRC4, V2_MSG, V2_PRIO0_MSG, V3_IPV4_MSG, VIP4};
use crate::wire::vrrp::{Auth, ParseContext, Version};
use crate::wire::{MacAddr, VRRP_GROUP_V4};

const GROUP: IpAddr = IpAddr::V4(VRRP_GROUP_V4);
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));

fn src() -> IpAddr {
    SRC4.into()
}

/// The fixtures' v2 instance: VRID 51, priority 100, advert_int 1, PASS "secret12".
fn v2_repr() -> Repr {
    Repr {
        version: Version::V2,
        vrid: 51,
        priority: 100,
        max_adver_int: Centisecs::new(100),
        addresses: vec![VIP4.into()],
        auth: Auth::pass(b"secret12"),
    }
}

/// The fixtures' v3 instance: VRID 51, priority 100, advert_int 0.1.
fn v3_repr() -> Repr {
    Repr {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        max_adver_int: Centisecs::new(10),
        addresses: vec![VIP4.into()],
        auth: Auth::None,
    }
}

#[test]
fn drop_all_filter_is_one_ret_0() {
    // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }: 8 bytes, as the kernel reads it.
    assert_eq!(std::mem::size_of::<libc::sock_filter>(), 8);
    assert_eq!(DROP_ALL.len(), 1);
    let f = DROP_ALL[0];
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&f.code.to_ne_bytes());
    bytes.extend_from_slice(&[f.jt, f.jf]);
    bytes.extend_from_slice(&f.k.to_ne_bytes());
    // `ret #0` (BPF_RET | BPF_K = 0x06, k = 0); in `tcpdump -dd` notation
    // { 0x6, 0, 0, 0x00000000 }, the reject instruction that ends every tcpdump filter.
    let mut expected = Vec::new();
    expected.extend_from_slice(&0x0006u16.to_ne_bytes());
    expected.extend_from_slice(&[0, 0]);
    expected.extend_from_slice(&0u32.to_ne_bytes());
    assert_eq!(bytes, expected);
    if cfg!(target_endian = "little") {
        assert_eq!(bytes, [0x06, 0, 0, 0, 0, 0, 0, 0]);
    }
}

#[test]
fn build_v2_pass_equals_keepalived() {
    let mut buf = Vec::new();
    // v2 has one checksum form; the requested one is ignored.
    for form in [ChecksumForm::PseudoHeader, ChecksumForm::Plain] {
        build_advert(&v2_repr(), src(), GROUP, form, &mut buf).unwrap();
        assert_eq!(buf, V2_MSG);
    }
    let prio0 = Repr {
        priority: 0,
        ..v2_repr()
    };
    build_advert(&prio0, src(), GROUP, ChecksumForm::PseudoHeader, &mut buf).unwrap();
    assert_eq!(buf, V2_PRIO0_MSG);
}

#[test]
fn build_v3_keepalived_form_equals_keepalived() {
    let mut buf = Vec::new();
    build_advert(
        &v3_repr(),
        src(),
        GROUP,
        ChecksumForm::PseudoHeader,
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf, V3_IPV4_MSG);
}

#[test]
fn build_v3_plain_form() {
    let mut buf = Vec::new();
    build_advert(&v3_repr(), src(), GROUP, ChecksumForm::Plain, &mut buf).unwrap();
    // Same message as keepalived's apart from the checksum, which is RFC 9568's (over the
    // message only; 0xa44a computed independently in wire::checksum's tests).
    assert_eq!(buf[..6], V3_IPV4_MSG[..6]);
    assert_eq!(buf[6..8], [0xa4, 0x4a]);
    assert_eq!(buf[8..], V3_IPV4_MSG[8..]);
    assert_eq!(crate::wire::checksum::vrrp_v2(&buf), 0);
    let ip = Endpoints::new(src(), GROUP).unwrap();
    assert_eq!(
        Repr::parse_bytes(&buf, &ParseContext::new(ip, 255)),
        Ok(v3_repr())
    );
}

#[test]
fn build_v3_unicast_binds_the_destination() {
    // The pseudo-header covers the destination: a unicast advert differs from the
    // multicast one in its checksum only, and is valid for its own destination.
    let mut uni = Vec::new();
    build_advert(
        &v3_repr(),
        src(),
        PEER,
        ChecksumForm::PseudoHeader,
        &mut uni,
    )
    .unwrap();
    assert_eq!(uni[..6], V3_IPV4_MSG[..6]);
    assert_ne!(uni[6..8], V3_IPV4_MSG[6..8]);
    let ip = Endpoints::new(src(), PEER).unwrap();
    let packet = crate::wire::vrrp::Packet::new_checked(&uni[..]).unwrap();
    assert_eq!(
        packet.verify_checksum(&ip),
        Some(ChecksumForm::PseudoHeader)
    );
}

#[test]
fn build_reuses_the_buffer() {
    let mut buf = vec![0xee; 300];
    let cap = buf.capacity();
    build_advert(
        &v3_repr(),
        src(),
        GROUP,
        ChecksumForm::PseudoHeader,
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf, V3_IPV4_MSG);
    assert_eq!(buf.capacity(), cap);
    build_advert(
        &v2_repr(),
        src(),
        GROUP,
        ChecksumForm::PseudoHeader,
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf, V2_MSG);
}

#[test]
fn build_errors_name_the_addresses() {
    let mut buf = vec![1, 2, 3];
    let v6: IpAddr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into();
    let err = build_advert(&v3_repr(), src(), v6, ChecksumForm::Plain, &mut buf).unwrap_err();
    assert_eq!(
        err,
        TxError::MixedFamilies {
            src: src(),
            dst: v6
        }
    );
    assert!(err.to_string().contains("198.18.0.1"), "{err}");
    assert!(err.to_string().contains("2001:db8::1"), "{err}");
    assert!(buf.is_empty());

    buf.push(7);
    let bad = Repr {
        auth: Auth::pass(b"x"),
        vrid: 7,
        ..v3_repr()
    };
    let err = build_advert(&bad, src(), GROUP, ChecksumForm::PseudoHeader, &mut buf).unwrap_err();
    assert_eq!(
        err,
        TxError::Build {
            vrid: 7,
            src: src(),
            dst: GROUP,
            reason: EmitError::AuthOnV3
        }
    );
    assert_eq!(
        err.to_string(),
        "building the VRRP advert for VRID 7 from 198.18.0.1 to 224.0.0.18: \
         VRRPv3 has no authentication"
    );
    assert!(
        buf.is_empty(),
        "a failed build must not leave a stale advert"
    );
}

#[test]
fn error_messages_name_interface_addresses_and_errno() {
    let e = TxError::Send {
        iface: "eth0".into(),
        src: src(),
        dst: PEER,
        errno: Errno::ENETUNREACH,
    };
    assert_eq!(
        e.to_string(),
        "sending a VRRP advert on eth0 from 198.18.0.1 to 198.18.0.2: \
         ENETUNREACH: Network is unreachable"
    );
    assert_eq!(e.errno(), Some(Errno::ENETUNREACH));
    let e = TxError::NotSent {
        iface: "eth0".into(),
        src: src(),
        dst: GROUP,
        cause: Some(Errno::ENOBUFS),
    };
    assert_eq!(
        e.to_string(),
        "VRRP advert on eth0 from 198.18.0.1 to 224.0.0.18 not sent: its batch stopped at an \
         earlier advert (ENOBUFS: No buffer space available)"
    );
    let e = TxError::NotSent {
        iface: "eth0".into(),
        src: src(),
        dst: GROUP,
        cause: None,
    };
    assert!(
        e.to_string().ends_with("stopped at an earlier advert"),
        "{e}"
    );
    assert_eq!(e.errno(), None);
    let e = TxError::Open {
        iface: "eth0".into(),
        src: src(),
        step: "bind",
        errno: Errno::EADDRNOTAVAIL,
    };
    assert_eq!(
        e.to_string(),
        "opening the VRRP socket on eth0 from 198.18.0.1: bind: \
         EADDRNOTAVAIL: Cannot assign requested address (the source address must be \
         configured on this host: check unicast_src_ip or the interface's primary address)"
    );
    let e = TxError::Open {
        iface: "eth0".into(),
        src: src(),
        step: "setsockopt(IP_TOS)",
        errno: Errno::EINVAL,
    };
    assert!(
        e.to_string()
            .ends_with("setsockopt(IP_TOS): EINVAL: Invalid argument"),
        "{e}"
    );
    assert_eq!(
        errno_of(&io::Error::from_raw_os_error(libc::EPERM)),
        Errno::EPERM
    );
    assert_eq!(
        errno_of(&io::Error::other("not from the kernel")),
        Errno::UnknownErrno
    );
}

/// A scripted sendmmsg: each call pops the next reply and records (pos, len).
struct Script {
    replies: VecDeque<Result<usize, Errno>>,
    calls: Vec<(usize, usize)>,
}

impl Script {
    fn new(replies: &[Result<usize, Errno>]) -> Self {
        Script {
            replies: replies.iter().copied().collect(),
            calls: Vec::new(),
        }
    }

    fn run(&mut self, n: usize) -> Attempt {
        let attempt = send_all(n, |pos, len| {
            self.calls.push((pos, len));
            self.replies
                .pop_front()
                .expect("more sendmmsg calls than scripted")
        });
        assert!(
            self.replies.is_empty(),
            "unused replies: {:?}",
            self.replies
        );
        attempt
    }
}

use Outcome::{NotSent, Refused, Sent};

#[test]
fn one_call_sends_everything() {
    let mut s = Script::new(&[Ok(200)]);
    let a = s.run(200);
    assert_eq!(a.outcomes, vec![Sent; 200]);
    assert_eq!((a.syscalls, a.retries), (1, 0));
    assert_eq!(s.calls, [(0, 200)]);
}

#[test]
fn empty_batch_makes_no_call() {
    let a = Script::new(&[]).run(0);
    assert_eq!(a.outcomes, []);
    assert_eq!(a.syscalls, 0);
}

#[test]
fn partial_send_retries_the_tail_once() {
    let mut s = Script::new(&[Ok(3), Ok(2)]);
    let a = s.run(5);
    assert_eq!(a.outcomes, vec![Sent; 5]);
    assert_eq!((a.syscalls, a.retries), (2, 1));
    assert_eq!(s.calls, [(0, 5), (3, 2)]);
}

#[test]
fn retry_names_the_errno_and_skips_a_refused_destination() {
    // [multicast, unreachable peer, peer, peer]: the first call stops after one message,
    // the retry reports ENETUNREACH for the second, the rest goes out.
    let mut s = Script::new(&[Ok(1), Err(Errno::ENETUNREACH), Ok(2)]);
    let a = s.run(4);
    assert_eq!(a.outcomes, [Sent, Refused(Errno::ENETUNREACH), Sent, Sent]);
    assert_eq!((a.syscalls, a.retries), (3, 1));
    assert_eq!(s.calls, [(0, 4), (1, 3), (2, 2)]);
}

#[test]
fn resource_errors_end_the_batch() {
    for errno in [Errno::EAGAIN, Errno::ENOBUFS, Errno::ENETDOWN] {
        let mut s = Script::new(&[Ok(2), Err(errno)]);
        let a = s.run(5);
        assert_eq!(
            a.outcomes,
            [
                Sent,
                Sent,
                Refused(errno),
                NotSent(Some(errno)),
                NotSent(Some(errno))
            ]
        );
        assert_eq!((a.syscalls, a.retries), (2, 1));
    }
    // Refused on the very first message: nothing else is tried.
    let a = Script::new(&[Err(Errno::EAGAIN)]).run(3);
    assert_eq!(
        a.outcomes,
        [
            Refused(Errno::EAGAIN),
            NotSent(Some(Errno::EAGAIN)),
            NotSent(Some(Errno::EAGAIN))
        ]
    );
    assert_eq!(a.syscalls, 1);
}

#[test]
fn a_retry_that_stops_short_again_ends_the_batch() {
    let mut s = Script::new(&[Ok(1), Ok(1)]);
    let a = s.run(4);
    assert_eq!(a.outcomes, [Sent, Sent, NotSent(None), NotSent(None)]);
    assert_eq!((a.syscalls, a.retries), (2, 1));
}

#[test]
fn no_progress_never_loops() {
    let a = Script::new(&[Ok(0)]).run(3);
    assert_eq!(a.outcomes, [NotSent(None); 3]);
    assert_eq!(a.syscalls, 1);
    // A kernel claiming more than asked is clamped.
    let a = Script::new(&[Ok(99)]).run(2);
    assert_eq!(a.outcomes, [Sent, Sent]);
}

#[test]
fn every_destination_refused_is_bounded_by_the_batch() {
    let replies = vec![Err(Errno::EHOSTUNREACH); 6];
    let a = Script::new(&replies).run(6);
    assert_eq!(a.outcomes, [Refused(Errno::EHOSTUNREACH); 6]);
    assert_eq!(a.syscalls, 6);
}

#[test]
fn large_batches_are_cut_at_uio_maxiov() {
    let mut s = Script::new(&[Ok(1024), Ok(1024), Ok(452)]);
    let a = s.run(2500);
    assert_eq!(a.outcomes, vec![Sent; 2500]);
    assert_eq!((a.syscalls, a.retries), (3, 0));
    assert_eq!(s.calls, [(0, 1024), (1024, 1024), (2048, 452)]);
}

#[test]
fn counters_add_up() {
    let mut total = TxCounters::default();
    total += TxCounters {
        syscalls: 1,
        sent: 200,
        errors: 0,
        retries: 0,
    };
    total += TxCounters {
        syscalls: 2,
        sent: 3,
        errors: 1,
        retries: 1,
    };
    assert_eq!(
        total,
        TxCounters {
            syscalls: 3,
            sent: 203,
            errors: 1,
            retries: 1
        }
    );
}

// --- Whole frames for the AF_PACKET path (`frame.rs`) ---

/// A multicast advert the kernel built for the raw socket (vrrp-agent Master, VRRPv3,
/// VRID 51, priority 150, advert_int 0.1, VIP 198.18.7.100, from 198.18.7.1 on a veth with
/// MAC 4e:dc:25:9a:01:f5), captured on the peer with `tcpdump -xx`. IP ID 0x2b12 (the
/// kernel's varies from packet to packet), DF set.
const KERNEL_V3_FRAME: [u8; 46] = [
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x4e, 0xdc, 0x25, 0x9a, 0x01, 0xf5, 0x08, 0x00, 0x45, 0xc0,
    0x00, 0x20, 0x2b, 0x12, 0x40, 0x00, 0xff, 0x70, 0xa2, 0x75, 0xc6, 0x12, 0x07, 0x01, 0xe0, 0x00,
    0x00, 0x12, 0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0xbd, 0xa7, 0xc6, 0x12, 0x07, 0x64,
];
const KERNEL_MAC: MacAddr = MacAddr([0x4e, 0xdc, 0x25, 0x9a, 0x01, 0xf5]);
const KERNEL_SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 1);

fn kernel_repr() -> Repr {
    Repr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        max_adver_int: Centisecs::new(10),
        addresses: vec![Ipv4Addr::new(198, 18, 7, 100).into()],
        auth: Auth::None,
    }
}

/// `frame` with IP ID `id` and its IPv4 header checksum recomputed.
fn with_ip_id(frame: &[u8], id: u16) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[18..20].copy_from_slice(&id.to_be_bytes());
    f[24..26].fill(0);
    let sum = crate::wire::checksum::ipv4_header(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f
}

#[test]
fn advert_frame_equals_the_kernels_but_for_the_ip_id() {
    let mut frame = Vec::new();
    build_advert_frame(
        &kernel_repr(),
        KERNEL_SRC,
        KERNEL_MAC,
        ChecksumForm::PseudoHeader,
        &mut frame,
    )
    .unwrap();
    assert_eq!(frame.len(), KERNEL_V3_FRAME.len());
    // Every byte but the IP ID (18..20) and so the header checksum (24..26).
    for (i, (ours, kernel)) in frame.iter().zip(KERNEL_V3_FRAME.iter()).enumerate() {
        if !(18..20).contains(&i) && !(24..26).contains(&i) {
            assert_eq!(ours, kernel, "byte {i}");
        }
    }
    // Ours carries ID 0; with that ID the kernel's frame is ours exactly.
    assert_eq!(frame[18..20], [0, 0]);
    assert_eq!(frame, with_ip_id(&KERNEL_V3_FRAME, 0));
    assert_eq!(with_ip_id(&frame, 0x2b12), KERNEL_V3_FRAME);

    let parsed = crate::wire::parse_frame(&frame).unwrap();
    assert_eq!(
        parsed.dst_mac,
        MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12])
    );
    assert_eq!(parsed.src_mac, KERNEL_MAC);
    assert!(parsed.vlans.is_empty());
    assert_eq!(parsed.ip, Endpoints::multicast(KERNEL_SRC.into()));
    assert_eq!((parsed.ttl, parsed.tos, parsed.protocol), (255, 0xc0, 112));
    assert_eq!(frame[20], 0x40, "DF set, no fragment offset");
    assert_eq!(
        Repr::parse_bytes(parsed.payload_bytes(&frame), &parsed.parse_context()),
        Ok(kernel_repr())
    );
}

#[test]
fn advert_frame_carries_build_adverts_message() {
    for (repr, form) in [
        (v2_repr(), ChecksumForm::PseudoHeader),
        (v3_repr(), ChecksumForm::PseudoHeader),
        (v3_repr(), ChecksumForm::Plain),
    ] {
        let (mut msg, mut frame) = (Vec::new(), Vec::new());
        build_advert(&repr, src(), GROUP, form, &mut msg).unwrap();
        build_advert_frame(&repr, SRC4, KERNEL_MAC, form, &mut frame).unwrap();
        let parsed = crate::wire::parse_frame(&frame).unwrap();
        assert_eq!(parsed.payload_bytes(&frame), msg, "{repr:?} {form:?}");
        assert_eq!(parsed.payload.end, frame.len(), "no padding");
    }
    // keepalived's v2 capture: the same bytes but for its IP ID (1), DF (clear) and the
    // source MAC.
    let mut frame = Vec::new();
    build_advert_frame(
        &v2_repr(),
        SRC4,
        crate::wire::fixtures::IF_MAC,
        ChecksumForm::PseudoHeader,
        &mut frame,
    )
    .unwrap();
    assert_eq!(frame[..18], crate::wire::fixtures::V2_FRAME[..18]);
    assert_eq!(frame[22..24], crate::wire::fixtures::V2_FRAME[22..24]);
    assert_eq!(frame[26..], crate::wire::fixtures::V2_FRAME[26..]);
}

#[test]
fn advert_frame_reuses_the_buffer_and_is_empty_on_error() {
    let mut buf = vec![0xee; 300];
    let cap = buf.capacity();
    build_advert_frame(
        &kernel_repr(),
        KERNEL_SRC,
        KERNEL_MAC,
        ChecksumForm::PseudoHeader,
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf, with_ip_id(&KERNEL_V3_FRAME, 0));
    assert_eq!(buf.capacity(), cap);

    let bad = Repr {
        auth: Auth::pass(b"x"),
        vrid: 7,
        ..v3_repr()
    };
    let err =
        build_advert_frame(&bad, SRC4, KERNEL_MAC, ChecksumForm::Plain, &mut buf).unwrap_err();
    assert_eq!(
        err,
        TxError::Build {
            vrid: 7,
            src: src(),
            dst: GROUP,
            reason: EmitError::AuthOnV3
        }
    );
    assert!(
        buf.is_empty(),
        "a failed build must not leave a stale frame"
    );
}

#[test]
fn frame_socket_error_messages() {
    let e = TxError::OpenFrame {
        iface: "eth0".into(),
        step: "bind",
        errno: Errno::ENODEV,
    };
    assert_eq!(
        e.to_string(),
        "opening the AF_PACKET advert socket on eth0: bind: ENODEV: No such device (no such \
         interface in this network namespace)"
    );
    assert_eq!(e.errno(), Some(Errno::ENODEV));
    let e = TxError::OpenFrame {
        iface: "eth0".into(),
        step: "socket(AF_PACKET, SOCK_RAW, 0)",
        errno: Errno::EPERM,
    };
    assert!(
        e.to_string()
            .ends_with("(raw sockets need root or CAP_NET_RAW)"),
        "{e}"
    );
    let e = TxError::NotEthernet {
        iface: "wg0".into(),
        hw_type: 65534,
    };
    assert_eq!(
        e.to_string(),
        "wg0 is not an Ethernet interface (ARPHRD 65534): send its adverts through the raw \
         IP socket"
    );
    assert_eq!(e.errno(), None);
}
