//! Unit tests of the transmit module: the drop-all filter, advert building against the
//! keepalived captures, and the send policy with a scripted `sendmmsg`. The sockets
//! themselves are tested in network namespaces (`tests/tests/tx.rs`).
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::units::Centisecs;
use crate::wire::fixtures::{SRC4, V2_MSG, V2_PRIO0_MSG, V3_IPV4_MSG, VIP4};
use crate::wire::vrrp::{Auth, ParseContext, Version};
use crate::wire::VRRP_GROUP_V4;

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
