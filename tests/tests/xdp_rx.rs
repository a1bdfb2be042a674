//! The XDP receive path's own rules beyond the classic checks: what is not ours goes on
//! untouched (unknown VRIDs, adverts not sent to us), per-interface settings, IP header
//! sanity, the IPv6 link-local source rule, keepalived's per-peer TTL range, and the
//! address-owner conflict. Byte fixtures through BPF_PROG_TEST_RUN, plus one two-host lab
//! for `--drop-unknown-vrids`. Needs root (CAP_BPF, network namespaces).
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use vrrp_agent::{
    dataplane::{Dataplane, ALL_IFACES},
    runtime::{addr_bytes, parse_event},
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_common::{
    AddrKey, Counters, Discard, IfaceConfig, InstanceConfig, InstanceKey, PeerKey, UnicastPeer,
    CFG_OWNER, CFG_UNICAST, EV_OWNER_CONFLICT, FAMILY_IPV4, FAMILY_IPV6, IFACE_DROP_UNKNOWN,
};
use vrrp_tests::{bpftool_counters, start_agent, start_agent_with, Lan, TempDir};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
/// BPF_PROG_TEST_RUN runs on the loopback device's receive queue.
const LO: u32 = 1;

const ME: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 100);
const LL6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 7);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 7, 0, 0, 0, 0, 0x100);

fn v3_cfg(flags: u8) -> InstanceConfig {
    InstanceConfig {
        version: 3,
        adver_int_cs: 10,
        flags,
        ..Default::default()
    }
}

fn v3(vrid: u8, priority: u8, addr: IpAddr) -> Repr {
    Repr {
        version: Version::V3,
        vrid,
        priority,
        max_adver_int: Centisecs::new(10),
        addresses: vec![addr],
        auth: Auth::None,
    }
}

fn frame(repr: &Repr, ip: Endpoints) -> FrameBuilder {
    FrameBuilder::new(repr, ip).expect("emit")
}

fn mcast4() -> Endpoints {
    Endpoints::multicast(IpAddr::V4(PEER))
}

fn to(src: Ipv4Addr, dst: Ipv4Addr) -> Endpoints {
    Endpoints::new(src.into(), dst.into()).unwrap()
}

/// vrid 52 v3 IPv4 multicast, vrid 52 v3 IPv6 multicast, vrid 54 v3 IPv4 unicast from PEER
/// with TTL 250..=255 to ME, vrid 55 v3 IPv4 multicast address owner.
fn loaded() -> Dataplane {
    let mut dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    dp.set_instance(InstanceKey::new(LO, 52, FAMILY_IPV4), v3_cfg(0))
        .unwrap();
    dp.set_instance(InstanceKey::new(LO, 52, FAMILY_IPV6), v3_cfg(0))
        .unwrap();
    let uc = InstanceKey::new(LO, 54, FAMILY_IPV4);
    dp.set_instance(uc, v3_cfg(CFG_UNICAST)).unwrap();
    dp.allow_unicast_peer_ttl(
        PeerKey::new(uc, addr_bytes(PEER.into())),
        UnicastPeer::new(250, 255),
    )
    .unwrap();
    dp.set_local_addrs(&[AddrKey::new(FAMILY_IPV4, addr_bytes(ME.into()))].into())
        .unwrap();
    dp.set_instance(InstanceKey::new(LO, 55, FAMILY_IPV4), v3_cfg(CFG_OWNER))
        .unwrap();
    dp
}

fn run(dp: &Dataplane, frame: &[u8]) -> u32 {
    dp.test_run(frame, 1).unwrap().0
}

fn counters(dp: &Dataplane, key: InstanceKey) -> Counters {
    dp.counters()
        .unwrap()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| c)
        .unwrap_or_default()
}

/// Runs `frame`, asserts `verdict`, that exactly `reason` of `key` moved by one, and that
/// no record of `src` appeared.
fn assert_counted(
    dp: &Dataplane,
    frame: &[u8],
    key: InstanceKey,
    reason: Discard,
    src: IpAddr,
    verdict: u32,
) {
    let before = counters(dp, key);
    assert_eq!(run(dp, frame), verdict, "verdict for {reason:?}");
    let after = counters(dp, key);
    for r in Discard::ALL {
        let want = before.discard(r) + u64::from(r == reason);
        assert_eq!(after.discard(r), want, "{} after {reason:?}", r.name());
    }
    assert_eq!(after.valid, before.valid, "{reason:?} counted as valid");
    assert_eq!(
        dp.peer(&PeerKey::new(key, addr_bytes(src))).unwrap(),
        None,
        "{reason:?} left a record"
    );
}

/// The one's complement checksum of an IPv4 header, written into it.
fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24] = 0;
    frame[25] = 0;
    let mut sum: u32 = frame[14..14 + ihl]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[test]
fn unknown_vrids_pass_unless_the_interface_drops_them() {
    let mut dp = loaded();
    let k99 = InstanceKey::new(LO, 99, FAMILY_IPV4);
    let f = frame(&v3(99, 100, VIP.into()), mcast4()).build();
    let src = IpAddr::V4(PEER);
    // Default: another speaker's VRID goes on to the stack, counted.
    assert_counted(&dp, &f, k99, Discard::UnknownVrid, src, XDP_PASS);
    // Key 0: every interface drops them.
    let drop = IfaceConfig {
        flags: IFACE_DROP_UNKNOWN,
        ..Default::default()
    };
    dp.set_iface_config(ALL_IFACES, drop).unwrap();
    assert_counted(&dp, &f, k99, Discard::UnknownVrid, src, XDP_DROP);
    // An interface's own entry wins over key 0.
    dp.set_iface_config(LO, IfaceConfig::default()).unwrap();
    assert_eq!(dp.iface_config(LO).unwrap(), Some(IfaceConfig::default()));
    assert_counted(&dp, &f, k99, Discard::UnknownVrid, src, XDP_PASS);
    dp.remove_iface_config(LO).unwrap();
    assert_eq!(dp.iface_config(LO).unwrap(), None);
    assert_counted(&dp, &f, k99, Discard::UnknownVrid, src, XDP_DROP);
    // Configured instances are not affected: a valid advert still passes and is recorded.
    let ok = frame(&v3(52, 100, VIP.into()), mcast4()).build();
    assert_eq!(run(&dp, &ok), XDP_PASS);
    assert_eq!(
        counters(&dp, InstanceKey::new(LO, 52, FAMILY_IPV4)).valid,
        1
    );
}

#[test]
fn a_malformed_ipv4_header_is_counted_before_the_advert_is_read() {
    let mut dp = loaded();
    let vrid0 = InstanceKey::new(LO, 0, FAMILY_IPV4);
    let good = frame(&v3(52, 100, VIP.into()), mcast4()).build();
    let src = IpAddr::V4(PEER);
    // Header checksum wrong (the VRRP message itself is fine).
    let mut bad_sum = good.clone();
    bad_sum[25] ^= 0x5a;
    assert_counted(&dp, &bad_sum, vrid0, Discard::IpHeader, src, XDP_PASS);
    // IHL of 4 words.
    let mut short_ihl = good.clone();
    short_ihl[14] = 0x44;
    fix_ipv4_checksum(&mut short_ihl);
    assert_counted(&dp, &short_ihl, vrid0, Discard::IpHeader, src, XDP_PASS);
    // A fragment (More Fragments), checksum right.
    let mut frag = good.clone();
    frag[20] |= 0x20;
    fix_ipv4_checksum(&mut frag);
    assert_counted(&dp, &frag, vrid0, Discard::IpHeader, src, XDP_PASS);
    // Total length shorter than the header.
    let mut tiny = good.clone();
    tiny[16..18].copy_from_slice(&19u16.to_be_bytes());
    fix_ipv4_checksum(&mut tiny);
    assert_counted(&dp, &tiny, vrid0, Discard::IpHeader, src, XDP_PASS);
    // Nothing of these reached the instance.
    assert_eq!(
        counters(&dp, InstanceKey::new(LO, 52, FAMILY_IPV4)).valid,
        0
    );
    // Dropped where unknown traffic is dropped.
    dp.set_iface_config(
        ALL_IFACES,
        IfaceConfig {
            flags: IFACE_DROP_UNKNOWN,
            ..Default::default()
        },
    )
    .unwrap();
    assert_counted(&dp, &bad_sum, vrid0, Discard::IpHeader, src, XDP_DROP);
    // Positive control: the same advert with a right header, and one with IP options (the
    // header sum covers them), are valid.
    assert_eq!(run(&dp, &good), XDP_PASS);
    let opts = frame(&v3(52, 100, VIP.into()), mcast4())
        .ip_options(&[0x94, 0x04, 0, 0]) // Router Alert
        .build();
    assert_eq!(run(&dp, &opts), XDP_PASS);
    assert_eq!(
        counters(&dp, InstanceKey::new(LO, 52, FAMILY_IPV4)).valid,
        2
    );
}

#[test]
fn adverts_not_sent_to_us_are_counted_and_passed_on() {
    let dp = loaded();
    let k52 = InstanceKey::new(LO, 52, FAMILY_IPV4);
    let k54 = InstanceKey::new(LO, 54, FAMILY_IPV4);
    let src = IpAddr::V4(PEER);
    // Multicast instance: an advert to another group, and one to a unicast address.
    let other_group = to(PEER, Ipv4Addr::new(224, 0, 0, 19));
    assert_counted(
        &dp,
        &frame(&v3(52, 100, VIP.into()), other_group).build(),
        k52,
        Discard::Destination,
        src,
        XDP_PASS,
    );
    assert_counted(
        &dp,
        &frame(&v3(52, 100, VIP.into()), to(PEER, ME)).build(),
        k52,
        Discard::Destination,
        src,
        XDP_PASS,
    );
    // Unicast instance: from its peer, but to another host (seen in promiscuous mode).
    let elsewhere = to(PEER, Ipv4Addr::new(198, 18, 7, 3));
    assert_counted(
        &dp,
        &frame(&v3(54, 100, VIP.into()), elsewhere).ttl(255).build(),
        k54,
        Discard::Destination,
        src,
        XDP_PASS,
    );
    // Positive control: the same advert to this host is valid.
    assert_eq!(
        run(
            &dp,
            &frame(&v3(54, 100, VIP.into()), to(PEER, ME))
                .ttl(255)
                .build()
        ),
        XDP_PASS
    );
    assert_eq!(counters(&dp, k54).valid, 1);
    // IPv6 multicast instance: ff02::12 only.
    let k6 = InstanceKey::new(LO, 52, FAMILY_IPV6);
    let ip6 = Endpoints::new(
        LL6.into(),
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x13).into(),
    )
    .unwrap();
    assert_counted(
        &dp,
        &frame(&v3(52, 100, VIP6.into()), ip6).build(),
        k6,
        Discard::Destination,
        LL6.into(),
        XDP_PASS,
    );
}

#[test]
fn an_ipv6_multicast_advert_from_a_global_address_is_dropped() {
    let dp = loaded();
    let k6 = InstanceKey::new(LO, 52, FAMILY_IPV6);
    let global = Ipv6Addr::new(0x2001, 0xdb8, 7, 0, 0, 0, 0, 2);
    assert_counted(
        &dp,
        &frame(
            &v3(52, 100, VIP6.into()),
            Endpoints::multicast(global.into()),
        )
        .build(),
        k6,
        Discard::Source,
        global.into(),
        XDP_DROP,
    );
    // Positive control: from a link-local address.
    let ok = frame(&v3(52, 100, VIP6.into()), Endpoints::multicast(LL6.into())).build();
    assert_eq!(run(&dp, &ok), XDP_PASS);
    assert_eq!(counters(&dp, k6).valid, 1);
}

#[test]
fn a_unicast_peer_ttl_outside_its_range_is_dropped() {
    let dp = loaded();
    let k54 = InstanceKey::new(LO, 54, FAMILY_IPV4);
    let src = IpAddr::V4(PEER);
    let f = |ttl: u8| {
        frame(&v3(54, 100, VIP.into()), to(PEER, ME))
            .ttl(ttl)
            .build()
    };
    // min_ttl 250: a routed advert (TTL 64) is out of range.
    assert_counted(&dp, &f(64), k54, Discard::Ttl, src, XDP_DROP);
    assert_counted(&dp, &f(249), k54, Discard::Ttl, src, XDP_DROP);
    assert_eq!(run(&dp, &f(250)), XDP_PASS);
    assert_eq!(run(&dp, &f(255)), XDP_PASS);
    assert_eq!(counters(&dp, k54).valid, 2);
}

#[test]
fn a_second_address_owner_is_dropped_and_reported_rate_limited() {
    let mut dp = loaded();
    let mut events = dp.take_events().unwrap();
    let k55 = InstanceKey::new(LO, 55, FAMILY_IPV4);
    let src = IpAddr::V4(PEER);
    let owner = frame(&v3(55, 255, VIP.into()), mcast4()).build();
    assert_counted(&dp, &owner, k55, Discard::OwnerConflict, src, XDP_DROP);
    let ev = parse_event(&events.next().expect("the agent is told")).unwrap();
    assert_eq!(ev.kind, EV_OWNER_CONFLICT);
    assert_eq!(ev.peer, PeerKey::new(k55, addr_bytes(src)));
    assert_eq!(ev.priority, 255);
    // A stream of them: events on the 1st, 2nd, 4th, ... per CPU, not one per advert.
    const N: u64 = 300;
    for _ in 1..N {
        assert_eq!(run(&dp, &owner), XDP_DROP);
    }
    let mut n_events = 1;
    while let Some(item) = events.next() {
        assert_eq!(parse_event(&item).unwrap().kind, EV_OWNER_CONFLICT);
        n_events += 1;
    }
    let cpus = aya::util::nr_cpus().unwrap() as u64;
    // Per CPU at most 1, 2, 4, ..., 256 (9 events) and the 256th again is one of them.
    assert!(
        n_events <= 10 * cpus,
        "{n_events} events for {N} adverts on {cpus} CPUs"
    );
    assert_eq!(counters(&dp, k55).owner_conflict, N);
    assert_eq!(counters(&dp, k55).events, n_events);
    // Positive control: a lower priority from the same source is an ordinary advert, and
    // 255 for an instance that is not the owner is too.
    assert_eq!(
        run(&dp, &frame(&v3(55, 200, VIP.into()), mcast4()).build()),
        XDP_PASS
    );
    assert_eq!(
        run(&dp, &frame(&v3(52, 255, VIP.into()), mcast4()).build()),
        XDP_PASS
    );
    assert_eq!(counters(&dp, k55).valid, 1);
}

/// An agent config: one v3 instance with `vrid` on `iface`, 0.1 s adverts.
fn conf(iface: &str, vrid: u8, priority: u8, vip: &str) -> String {
    format!(
        "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface {iface}\n    \
         virtual_router_id {vrid}\n    priority {priority}\n    version 3\n    advert_int 0.1\n    \
         virtual_ipaddress {{\n        {vip}/24 dev {iface}\n    }}\n}}\n"
    )
}

/// VRRP frames with `vrid` a capture on host `i` sees within `limit`.
fn adverts_seen(lan: &Lan, i: usize, vrid: u8, limit: Duration) -> usize {
    let host = &lan.hosts[i];
    let cap = vrrp_tests::Capture::start(&host.ns, &host.iface, 10_000, limit).unwrap();
    std::thread::sleep(limit);
    cap.finish()
        .unwrap()
        .iter()
        // Untagged IPv4, protocol 112, IHL 5, the VRID.
        .filter(|c| {
            c.frame.len() > 35
                && c.frame[12..14] == [8, 0]
                && c.frame[23] == 112
                && c.frame[35] == vrid
        })
        .count()
}

#[test]
fn another_speakers_vrid_reaches_the_host_unless_dropped() {
    // Host 0 runs our agent for VRID 51; host 1 is another VRRP speaker (here our agent too)
    // that is Master of VRID 77, as keepalived would be during a migration.
    let mut lan = Lan::new().unwrap();
    lan.add_host("xr1", Ipv4Addr::new(198, 18, 8, 1)).unwrap();
    lan.add_host("xr2", Ipv4Addr::new(198, 18, 8, 2)).unwrap();
    let dir = TempDir::new("vrrp-xr").unwrap();
    let mut other = start_agent(
        &lan.hosts[1].ns,
        dir.path(),
        "xr-other",
        &conf(&lan.hosts[1].iface, 77, 200, "198.18.8.177"),
    )
    .unwrap();
    other
        .proc
        .wait_log("-> Master", Duration::from_secs(20))
        .unwrap();
    let text = conf(&lan.hosts[0].iface, 51, 100, "198.18.8.151");
    {
        let ours = start_agent(&lan.hosts[0].ns, dir.path(), "xr-pass", &text).unwrap();
        let seen = adverts_seen(&lan, 0, 77, Duration::from_millis(800));
        assert!(
            seen >= 3,
            "{seen} VRID 77 adverts reached host 0's stack\n{}",
            ours.proc.log_text()
        );
        let c = bpftool_counters(&ours.pins);
        assert!(
            c.get(&(77, "unknown_vrid".into())).copied().unwrap_or(0) >= 3,
            "{c:?}"
        );
    }
    let ours = start_agent_with(
        &lan.hosts[0].ns,
        dir.path(),
        "xr-drop",
        &text,
        &["--drop-unknown-vrids"],
    )
    .unwrap();
    let seen = adverts_seen(&lan, 0, 77, Duration::from_millis(800));
    assert_eq!(seen, 0, "{}", ours.proc.log_text());
    // Positive control: they still arrive, and are counted.
    let c = bpftool_counters(&ours.pins);
    assert!(
        c.get(&(77, "unknown_vrid".into())).copied().unwrap_or(0) >= 3,
        "{c:?}"
    );
    drop(other);
}

#[test]
fn with_the_debug_log_on_the_program_loads_and_counts_as_before() {
    // The logging path must pass the verifier too (it is dead code with the log off).
    let mut dp = Dataplane::load_with(None, true).unwrap_or_else(|e| panic!("{e}"));
    let k52 = InstanceKey::new(LO, 52, FAMILY_IPV4);
    dp.set_instance(k52, v3_cfg(0)).unwrap();
    let k6 = InstanceKey::new(LO, 52, FAMILY_IPV6);
    dp.set_instance(k6, v3_cfg(0)).unwrap();
    let src = IpAddr::V4(PEER);
    for _ in 0..3 {
        assert_counted(
            &dp,
            &frame(&v3(52, 100, VIP.into()), mcast4()).ttl(64).build(),
            k52,
            Discard::Ttl,
            src,
            XDP_DROP,
        );
    }
    let global = Ipv6Addr::new(0x2001, 0xdb8, 7, 0, 0, 0, 0, 2);
    assert_counted(
        &dp,
        &frame(
            &v3(52, 100, VIP6.into()),
            Endpoints::multicast(global.into()),
        )
        .build(),
        k6,
        Discard::Source,
        global.into(),
        XDP_DROP,
    );
    assert_eq!(
        run(&dp, &frame(&v3(52, 100, VIP.into()), mcast4()).build()),
        XDP_PASS
    );
}

#[test]
fn the_agent_logs_why_an_advert_was_discarded_at_debug_level() {
    // Host 1 speaks VRRPv2 for VRID 51, host 0 v3: host 0 discards every advert as
    // bad_version, and with RUST_LOG=vrrp=debug its log says so, with the source.
    let mut lan = Lan::new().unwrap();
    lan.add_host("xr3", Ipv4Addr::new(198, 18, 9, 1)).unwrap();
    lan.add_host("xr4", Ipv4Addr::new(198, 18, 9, 2)).unwrap();
    let dir = TempDir::new("vrrp-xrl").unwrap();
    let v2 = conf(&lan.hosts[1].iface, 51, 200, "198.18.9.151")
        .replace("version 3", "version 2")
        .replace("advert_int 0.1", "advert_int 1");
    let _other = start_agent(&lan.hosts[1].ns, dir.path(), "xr-v2", &v2).unwrap();
    let path = dir.path().join("xr-dbg.conf");
    std::fs::write(&path, conf(&lan.hosts[0].iface, 51, 100, "198.18.9.151")).unwrap();
    let pins = vrrp_tests::pin_dir("xr-dbg");
    let mut cmd = lan.hosts[0].ns.command(vrrp_tests::agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(&path)
        .arg("--pin-dir")
        .arg(&pins)
        .env("RUST_LOG", "info,vrrp_xdp=debug");
    let mut agent =
        vrrp_tests::Proc::spawn("xr-dbg", &mut cmd, &dir.path().join("xr-dbg.log")).unwrap();
    agent
        .wait_log(
            "discarded bad_version vrid 51 from 198.18.9.2",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", agent.log_text()));
    assert!(
        agent.log_text().contains("vrrp_xdp"),
        "{}",
        agent.log_text()
    );
}
