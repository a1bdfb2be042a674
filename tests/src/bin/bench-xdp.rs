//! `cargo xtask bench-xdp`: cost of the XDP program per packet, measured by the kernel with
//! BPF_PROG_TEST_RUN and a large repeat count (median of 5 rounds), for non-VRRP traffic,
//! valid adverts and invalid adverts, and for non-VRRP traffic on an interface with a
//! no_accept instance (a second copy of the program whose loopback device is marked, with a
//! VIP of each family in its VIP table).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context, Result};
use vrrp_agent::{
    dataplane::Dataplane,
    runtime::addr_bytes,
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_common::{AddrKey, InstanceConfig, InstanceKey, AUTH_PASS, FAMILY_IPV4, FAMILY_IPV6};

const LO: u32 = 1;

fn main() -> Result<()> {
    let repeat: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000_000);
    let mut dp = Dataplane::load(None).context("loading the XDP program (root needed)")?;
    let mut pass = [0u8; 8];
    pass.copy_from_slice(b"secret12");
    dp.set_instance(
        InstanceKey::new(LO, 51, FAMILY_IPV4),
        InstanceConfig {
            version: 2,
            auth_type: AUTH_PASS,
            adver_int_cs: 100,
            auth_pass: pass,
            ..Default::default()
        },
    )?;
    let v3 = InstanceConfig {
        version: 3,
        adver_int_cs: 1,
        ..Default::default()
    };
    dp.set_instance(InstanceKey::new(LO, 52, FAMILY_IPV4), v3)?;
    dp.set_instance(InstanceKey::new(LO, 52, FAMILY_IPV6), v3)?;

    let src = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    let vip = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100));
    let src6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let vip6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));
    let v2 = Repr {
        version: Version::V2,
        vrid: 51,
        priority: 100,
        max_adver_int: Centisecs::new(100),
        addresses: vec![vip],
        auth: Auth::pass(b"secret12"),
    };
    let v3a = Repr {
        version: Version::V3,
        vrid: 52,
        max_adver_int: Centisecs::new(1),
        auth: Auth::None,
        ..v2.clone()
    };
    let v3a6 = Repr {
        addresses: vec![vip6],
        ..v3a.clone()
    };
    let m4 = Endpoints::multicast(src);
    let m6 = Endpoints::multicast(src6);
    let valid_v2 = FrameBuilder::new(&v2, m4)?.build();
    let mut udp = FrameBuilder::new(&v3a, m4)?.pad_to_min_len().build();
    udp[23] = 17; // IP protocol UDP: the non-VRRP fast path
    let mut arp = vec![0xffu8; 60];
    arp[12] = 0x08;
    arp[13] = 0x06;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("floor: ARP (returns after the EtherType)", arp),
        ("non-VRRP (IPv4 UDP, 60 B)", udp.clone()),
        ("valid advert v2 PASS", valid_v2),
        ("valid advert v3 IPv4", FrameBuilder::new(&v3a, m4)?.build()),
        (
            "valid advert v3 IPv6",
            FrameBuilder::new(&v3a6, m6)?.build(),
        ),
        (
            "valid advert v3 IPv4, 2 VLAN tags",
            FrameBuilder::new(&v3a, m4)?.vlan(100).vlan(10).build(),
        ),
        (
            "invalid: bad checksum",
            FrameBuilder::new(&v3a, m4)?.vrrp_checksum(0x1234).build(),
        ),
        (
            "invalid: TTL 64",
            FrameBuilder::new(&v3a, m4)?.ttl(64).build(),
        ),
        (
            "invalid: wrong password",
            FrameBuilder::new(
                &Repr {
                    auth: Auth::pass(b"wrong"),
                    ..v2.clone()
                },
                m4,
            )?
            .build(),
        ),
        (
            "invalid: unknown VRID",
            FrameBuilder::new(
                &Repr {
                    vrid: 99,
                    ..v3a.clone()
                },
                m4,
            )?
            .build(),
        ),
    ];
    // The same program with lo marked no_accept and a VIP of each family in its table.
    let mut na = Dataplane::load(None).context("loading a second copy of the XDP program")?;
    let na_key = InstanceKey::new(LO, 52, FAMILY_IPV4);
    let na_key6 = InstanceKey::new(LO, 52, FAMILY_IPV6);
    na.set_instance(na_key, v3)?;
    na.set_instance(na_key6, v3)?;
    na.set_no_accept_vips(&na_key, &[AddrKey::new(FAMILY_IPV4, addr_bytes(vip))])?;
    na.set_no_accept_vips(&na_key6, &[AddrKey::new(FAMILY_IPV6, addr_bytes(vip6))])?;
    na.set_no_accept_iface(LO, true)?;
    let mut udp_vip = udp.clone();
    udp_vip[30..34].copy_from_slice(&[198, 18, 0, 100]);
    let mut udp_other = udp.clone();
    udp_other[30..34].copy_from_slice(&[198, 18, 0, 7]);
    let udp6 = |dst: Ipv6Addr| {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd];
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
        f.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50).octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&[0x9c, 0x40, 0x13, 0x88, 0, 8, 0, 0]);
        f
    };
    let na_cases: Vec<(&str, Vec<u8>)> = vec![
        ("no_accept interface: non-VRRP IPv4 UDP to a VIP", udp_vip),
        (
            "no_accept interface: non-VRRP IPv4 UDP to another address",
            udp_other,
        ),
        (
            "no_accept interface: non-VRRP IPv6 UDP to a VIP",
            udp6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
        ),
        (
            "no_accept interface: non-VRRP IPv6 UDP to another address",
            udp6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        ),
    ];
    println!("XDP program cost per packet (BPF_PROG_TEST_RUN, {repeat} repetitions, median of 5 rounds)\n");
    println!("| packet | verdict | ns/packet |");
    println!("|---|---|---:|");
    let all = cases
        .iter()
        .map(|(n, f)| (&dp, *n, f))
        .chain(na_cases.iter().map(|(n, f)| (&na, *n, f)));
    for (dp, name, frame) in all {
        let mut samples = Vec::new();
        let mut verdict = 0;
        for _ in 0..5 {
            let (v, d) = dp.test_run(frame, repeat)?;
            verdict = v;
            samples.push(d.as_nanos() as u64);
        }
        samples.sort_unstable();
        let v = match verdict {
            1 => "DROP",
            2 => "PASS",
            _ => "other",
        };
        println!("| {name} | {v} | {} |", samples[2]);
    }
    Ok(())
}
