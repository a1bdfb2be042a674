//! The XDP program's no_accept filter (RFC 9568 §6.4.3) on byte fixtures, through
//! BPF_PROG_TEST_RUN (which runs on the loopback device, ifindex 1): packets to a VIP of a
//! no_accept Master are dropped and counted on a marked interface, IPv4 and IPv6; ARP, IPv6
//! Neighbour Solicitations / Advertisements, VRRP and packets to other addresses go on; an
//! interface that is not marked is not filtered. Needs root (CAP_BPF).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_agent::{
    dataplane::{Dataplane, ALL_IFACES},
    runtime::addr_bytes,
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_common::{
    AddrKey, Counters, IfaceConfig, InstanceConfig, InstanceKey, FAMILY_IPV4, FAMILY_IPV6,
    IFACE_DROP_UNKNOWN, IFACE_NO_ACCEPT,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
/// BPF_PROG_TEST_RUN runs on the loopback device's receive queue.
const LO: u32 = 1;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const OTHER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const OTHER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50);

fn v3_cfg() -> InstanceConfig {
    InstanceConfig {
        version: 3,
        adver_int_cs: 10,
        ..Default::default()
    }
}

/// Instances vrid 60 (IPv4) and 60 (IPv6) on lo, with their VIPs in the table, and lo
/// marked when `marked`.
fn loaded(marked: bool) -> (Dataplane, InstanceKey, InstanceKey) {
    let mut dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    let k4 = InstanceKey::new(LO, 60, FAMILY_IPV4);
    let k6 = InstanceKey::new(LO, 60, FAMILY_IPV6);
    dp.set_instance(k4, v3_cfg()).unwrap();
    dp.set_instance(k6, v3_cfg()).unwrap();
    dp.set_no_accept_vips(&k4, &[AddrKey::new(FAMILY_IPV4, addr_bytes(VIP.into()))])
        .unwrap();
    dp.set_no_accept_vips(&k6, &[AddrKey::new(FAMILY_IPV6, addr_bytes(VIP6.into()))])
        .unwrap();
    if marked {
        dp.set_no_accept_iface(LO, true).unwrap();
    }
    (dp, k4, k6)
}

fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 packet of protocol `proto` from the client to `dst` with 8 bytes of payload.
fn ipv4(dst: Ipv4Addr, proto: u8) -> Vec<u8> {
    let mut f = eth(0x0800);
    let total: u16 = 20 + 8;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&CLIENT.octets());
    h.extend_from_slice(&dst.octets());
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&h);
    // UDP 40000 -> 5000 (or the first 8 bytes of whatever `proto` is).
    f.extend_from_slice(&[0x9c, 0x40, 0x13, 0x88, 0, 8, 0, 0]);
    f.resize(f.len().max(60), 0);
    f
}

/// An IPv6 packet with next header `next` from the client to `dst`, whose payload starts
/// with `first` (the ICMPv6 type, or a UDP port byte).
fn ipv6(dst: Ipv6Addr, next: u8, first: u8) -> Vec<u8> {
    let mut f = eth(0x86dd);
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 24, next, 255]);
    f.extend_from_slice(&CLIENT6.octets());
    f.extend_from_slice(&dst.octets());
    let mut payload = vec![0u8; 24];
    payload[0] = first;
    f.extend_from_slice(&payload);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f.extend_from_slice(&CLIENT.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
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

const UDP: u8 = 17;
const ICMP: u8 = 1;
const TCP: u8 = 6;
const ICMPV6: u8 = 58;

#[test]
fn ipv4_packets_to_a_no_accept_vip_are_dropped_and_counted() {
    let (dp, k4, _) = loaded(true);
    for proto in [UDP, ICMP, TCP] {
        assert_eq!(
            run(&dp, &ipv4(VIP, proto)),
            XDP_DROP,
            "proto {proto} to the VIP"
        );
    }
    assert_eq!(counters(&dp, k4).no_accept, 3);
    assert_eq!(counters(&dp, k4).discards(), 0, "not a VRRP discard");
    // Other addresses of the host, and ARP for the VIP itself, go on.
    assert_eq!(run(&dp, &ipv4(OTHER, UDP)), XDP_PASS);
    assert_eq!(run(&dp, &arp_request(VIP)), XDP_PASS);
    assert_eq!(counters(&dp, k4).no_accept, 3);
}

#[test]
fn ipv6_packets_to_a_no_accept_vip_are_dropped_but_neighbour_discovery_goes_on() {
    let (dp, _, k6) = loaded(true);
    assert_eq!(run(&dp, &ipv6(VIP6, UDP, 0x9c)), XDP_DROP, "UDP");
    assert_eq!(run(&dp, &ipv6(VIP6, ICMPV6, 128)), XDP_DROP, "echo request");
    assert_eq!(run(&dp, &ipv6(VIP6, ICMPV6, 135)), XDP_PASS, "NS");
    assert_eq!(run(&dp, &ipv6(VIP6, ICMPV6, 136)), XDP_PASS, "NA");
    assert_eq!(
        run(&dp, &ipv6(OTHER6, UDP, 0x9c)),
        XDP_PASS,
        "other address"
    );
    assert_eq!(counters(&dp, k6).no_accept, 2);
}

#[test]
fn vrrp_to_a_vip_is_not_filtered() {
    // A (unicast) advert sent to the VIP goes through the advert checks, not the filter.
    let (dp, k4, _) = loaded(true);
    let repr = Repr {
        version: Version::V3,
        vrid: 99,
        priority: 100,
        max_adver_int: Centisecs::new(10),
        addresses: vec![IpAddr::V4(VIP)],
        auth: Auth::None,
    };
    let frame = FrameBuilder::new(
        &repr,
        Endpoints::V4 {
            src: CLIENT,
            dst: VIP,
        },
    )
    .unwrap()
    .ttl(255)
    .build();
    // Unknown VRID: passed on (counted as such), never a no_accept drop.
    assert_eq!(run(&dp, &frame), XDP_PASS);
    assert_eq!(counters(&dp, k4).no_accept, 0);
}

#[test]
fn an_interface_without_no_accept_is_not_filtered() {
    let (mut dp, k4, k6) = loaded(false);
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_PASS);
    assert_eq!(run(&dp, &ipv6(VIP6, UDP, 0x9c)), XDP_PASS);
    // Another interface sharing lo's bit in the bitmap (index 1 + 4096) is marked: lo's own
    // VRRP_IFACES entry still says no.
    let twin = 1 + vrrp_common::NO_ACCEPT_BITS;
    dp.set_no_accept_iface(twin, true).unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_PASS);
    // Marked, then unmarked again.
    dp.set_no_accept_iface(LO, true).unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_DROP);
    dp.set_no_accept_iface(LO, false).unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_PASS);
    assert_eq!(
        dp.iface_config(LO).unwrap(),
        None,
        "an entry with no flag left is removed"
    );
    dp.set_no_accept_iface(twin, false).unwrap();
    assert_eq!(counters(&dp, k4).no_accept, 1);
    assert_eq!(counters(&dp, k6).no_accept, 0);
}

#[test]
fn a_marked_interface_keeps_the_default_settings() {
    // `--drop-unknown-vrids` is written as the default entry (key 0); the marked interface's
    // own entry must keep it.
    let mut dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    let drop_unknown = IfaceConfig {
        flags: IFACE_DROP_UNKNOWN,
        ..Default::default()
    };
    dp.set_iface_config(ALL_IFACES, drop_unknown).unwrap();
    dp.set_no_accept_iface(LO, true).unwrap();
    assert_eq!(
        dp.iface_config(LO).unwrap().map(|c| c.flags),
        Some(IFACE_DROP_UNKNOWN | IFACE_NO_ACCEPT)
    );
    dp.set_no_accept_iface(LO, false).unwrap();
    assert_eq!(
        dp.iface_config(LO).unwrap(),
        None,
        "back to the default entry"
    );
}

#[test]
fn leaving_master_takes_the_vips_out_of_the_table() {
    let (mut dp, k4, k6) = loaded(true);
    let key = AddrKey::new(FAMILY_IPV4, addr_bytes(VIP.into()));
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_DROP);
    // Another instance leaving Master leaves this one's entry.
    dp.clear_no_accept_vips(&k6).unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_DROP);
    assert_eq!(run(&dp, &ipv6(VIP6, UDP, 0x9c)), XDP_PASS);
    // A new VIP list replaces the old one.
    dp.set_no_accept_vips(&k4, &[AddrKey::new(FAMILY_IPV4, addr_bytes(OTHER.into()))])
        .unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_PASS);
    assert_eq!(run(&dp, &ipv4(OTHER, UDP)), XDP_DROP);
    dp.clear_no_accept_vips(&k4).unwrap();
    assert_eq!(run(&dp, &ipv4(OTHER, UDP)), XDP_PASS);
    assert_eq!(
        dp.no_accept_vips().unwrap(),
        vec![],
        "nothing left after {key:?}"
    );
    assert_eq!(counters(&dp, k4).no_accept, 3);
}

#[test]
fn removing_an_instance_removes_its_vips() {
    let (mut dp, k4, _) = loaded(true);
    dp.remove_instance(k4).unwrap();
    assert_eq!(run(&dp, &ipv4(VIP, UDP)), XDP_PASS);
    assert_eq!(
        dp.no_accept_vips().unwrap().len(),
        1,
        "the IPv6 one is left"
    );
}
