//! `use_vmac` for an IPv6 instance (RFC 9568 §7.3, MAC 00-00-5E-00-02-{VRID}) end to end, on
//! a bridged LAN with two routers and a client:
//! - the client's neighbour entry for the VIP is the virtual MAC before and after every
//!   failover (switch port cut, SIGTERM) and it keeps reaching the VIP (`ping -6`);
//! - the Master's adverts leave from its macvlan: Ethernet source the virtual MAC, IPv6
//!   source the macvlan's own link-local address (never the base interface's), to
//!   ff02::12 with hop limit 255; the first one as Master is on the wire before the VIP's
//!   unsolicited NA (the macvlan is up before it is sent);
//! - a Backup sends nothing from the virtual MAC and answers no Neighbor Solicitation for
//!   the VIP; equal priorities elect the higher macvlan link-local address;
//! - a clean stop leaves no macvlan;
//! - interop with keepalived 2.2.7's `use_vmac` both ways.
//!
//! Root only (network namespaces); skipped otherwise. The hosts run with `accept_dad=0`
//! ([`Lan::add_host`]).
use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::{Duration, SystemTime},
};

use vrrp_tests::frame_mac as mac_of;
use vrrp_tests::{
    keepalived, lab::Probe, link_mac, start_agent, wait_for, Agent, Capture, Captured, Lan,
    LanHost, TempDir,
};

const VIP: &str = "2001:db8:61::50";
const VRID: u8 = 52;
const VMAC: &str = "00:00:5e:00:02:34";
const MACVLAN: &str = "vrrp.52";
const TRANSITION: Duration = Duration::from_secs(10);

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn conf(iface: &str, priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance V6 {{\n state BACKUP\n interface {iface}\n virtual_router_id {VRID}\n \
         priority {priority}\n version 3\n advert_int 0.1\n use_vmac\n{extra} \
         virtual_ipaddress {{\n {VIP}/64\n }}\n}}\n"
    )
}

fn lab() -> (Lan, TempDir) {
    let mut lan = Lan::new_tagged("h6mS").expect("switch");
    lan.add_host("h6mA", Ipv4Addr::new(198, 18, 61, 1))
        .expect("r1");
    lan.add_host("h6mB", Ipv4Addr::new(198, 18, 61, 2))
        .expect("r2");
    lan.add_host("h6mC", Ipv4Addr::new(198, 18, 61, 10))
        .expect("client");
    for (h, a) in lan
        .hosts
        .iter()
        .zip(["2001:db8:61::1", "2001:db8:61::2", "2001:db8:61::10"])
    {
        h.ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{a}/64"),
            "dev",
            &h.iface,
            "nodad",
        ])
        .expect("address");
    }
    for h in &lan.hosts {
        let ready = wait_for(Duration::from_secs(5), || {
            h.ns.ip(&["-6", "addr", "show", "dev", &h.iface, "scope", "link"])
                .ok()
                .filter(|s| s.contains("fe80::") && !s.contains("tentative"))
        });
        assert!(ready.is_some(), "no link-local address on {}", h.iface);
    }
    (lan, TempDir::new("h6m-vmac").expect("tempdir"))
}

fn start(h: &LanHost, dir: &TempDir, tag: &str, priority: u8) -> Agent {
    start_agent(&h.ns, dir.path(), tag, &conf(&h.iface, priority, "")).expect("agent starts")
}

/// The link-local address the agent gives the host's macvlan: fe80:: with the interface
/// ID `mac0^2:mac1:mac2:mac3:mac4:mac5:5e:VRID` of the base interface's MAC.
fn macvlan_link_local(h: &LanHost) -> Ipv6Addr {
    let m = link_mac(&h.ns, &h.iface).expect("base MAC").0;
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&[m[0] ^ 2, m[1], m[2], m[3], m[4], m[5], 0x5e, VRID]);
    Ipv6Addr::from(o)
}

/// The base interface's own link-local address.
fn base_link_local(h: &LanHost) -> Option<Ipv6Addr> {
    h.ns.ip(&["-o", "-6", "addr", "show", "dev", &h.iface, "scope", "link"])
        .ok()?
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn link_line(h: &LanHost) -> Option<String> {
    h.ns.ip(&["-o", "-d", "link", "show", "dev", MACVLAN]).ok()
}

fn has_vip(h: &LanHost) -> bool {
    h.ns.ip(&["-o", "-6", "addr", "show", "dev", MACVLAN])
        .map(|s| s.contains(&format!("{VIP}/")))
        .unwrap_or(false)
}

fn ping6(client: &LanHost) -> bool {
    client
        .ns
        .output("ping", &["-6", "-c", "1", "-W", "1", "-n", VIP])
        .is_ok_and(|o| o.status.success())
}

/// What a captured frame is, as far as these tests care.
#[derive(Debug, PartialEq)]
enum Kind {
    /// An IPv6 VRRP advert: (IPv6 source, destination, hop limit, VRRP priority).
    Advert(Ipv6Addr, Ipv6Addr, u8, u8),
    /// A Neighbor Advertisement for this target.
    Na(Ipv6Addr),
    Other,
}

fn v6_at(frame: &[u8], at: usize) -> Option<Ipv6Addr> {
    let b: [u8; 16] = frame.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

fn classify(frame: &[u8]) -> (String, Kind) {
    let src = mac_of(frame, 6);
    if frame.get(12..14) != Some(&[0x86, 0xdd][..]) {
        return (src, Kind::Other);
    }
    let kind = match (frame.get(20), v6_at(frame, 22), v6_at(frame, 38)) {
        (Some(112), Some(s), Some(d)) => match (frame.get(21), frame.get(56)) {
            (Some(&hl), Some(&p)) => Kind::Advert(s, d, hl, p),
            _ => Kind::Other,
        },
        (Some(58), _, _) if frame.get(54) == Some(&136) => match v6_at(frame, 62) {
            Some(t) => Kind::Na(t),
            None => Kind::Other,
        },
        _ => Kind::Other,
    };
    (src, kind)
}

/// A short description of an IPv6 frame: ICMPv6 type (after a hop-by-hop header too), or
/// the next header.
fn describe(frame: &[u8]) -> String {
    let icmp = match frame.get(20) {
        Some(58) => frame.get(54),
        Some(0) if frame.get(54) == Some(&58) => frame.get(62),
        _ => None,
    };
    match (icmp, frame.get(20)) {
        (Some(133), _) => "RS".into(),
        (Some(135), _) => "NS".into(),
        (Some(136), _) => "NA".into(),
        (Some(143), _) => "MLDv2 report".into(),
        (Some(t), _) => format!("ICMPv6 {t}"),
        (None, Some(112)) => "VRRP".into(),
        (None, nh) => format!("next header {nh:?}"),
    }
}

fn vip() -> Ipv6Addr {
    VIP.parse().unwrap()
}

/// The adverts in `frames` with their source MACs.
fn adverts(frames: &[Captured]) -> Vec<(String, Ipv6Addr, Ipv6Addr, u8, u8)> {
    frames
        .iter()
        .filter_map(|c| match classify(&c.frame) {
            (mac, Kind::Advert(s, d, hl, p)) => Some((mac, s, d, hl, p)),
            _ => None,
        })
        .collect()
}

#[test]
fn ipv6_vmac_client_keeps_the_virtual_mac_through_failovers_and_stop_leaves_nothing() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let (ll1, ll2) = (macvlan_link_local(r1), macvlan_link_local(r2));
    let watch1 = Capture::start(&lan.switch, &r1.port, 5000, Duration::from_secs(60)).expect("cap");
    let mut a1 = start(r1, &dir, "h6m-r1", 150);
    assert!(
        wait_for(TRANSITION, || has_vip(r1).then_some(())).is_some(),
        "r1 holds the VIP on {MACVLAN}\n{}",
        a1.proc.log_text()
    );
    let watch2 = Capture::start(&lan.switch, &r2.port, 5000, Duration::from_secs(60)).expect("cap");
    let mut a2 = start(r2, &dir, "h6m-r2", 100);

    // The Master's macvlan: up, the IPv6 virtual MAC, its own link-local address only.
    let l1 = link_line(r1).expect("r1 has the macvlan");
    assert!(l1.contains(VMAC) && l1.contains("state UP"), "{l1}");
    let addrs1 = r1
        .ns
        .ip(&["-o", "-6", "addr", "show", "dev", MACVLAN, "scope", "link"])
        .unwrap_or_default();
    assert!(
        addrs1.contains(&format!("{ll1}/64")) && addrs1.lines().count() == 1,
        "r1's macvlan has {ll1} alone: {addrs1}"
    );
    assert_ne!(Some(ll1), base_link_local(r1));
    // The Backup's is down, without the VIP; its base interface is in ff02::12 (a NIC that
    // filters multicast passes the Master's adverts to XDP).
    let l2 = link_line(r2).expect("r2 has the macvlan");
    assert!(
        l2.contains("state DOWN") && !l2.contains(",UP"),
        "Backup's macvlan is down: {l2}"
    );
    let groups = r2
        .ns
        .ip(&["-6", "maddr", "show", "dev", &r2.iface])
        .unwrap_or_default();
    assert!(groups.contains("ff02::12"), "r2's base groups: {groups}");

    assert!(
        wait_for(TRANSITION, || ping6(client).then_some(())).is_some(),
        "client reaches the VIP"
    );
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    // Solicit again (multicast NS reaches r2 too) with both running a while: r2 stays Backup.
    client
        .ns
        .ip(&["-6", "neigh", "flush", "dev", &client.iface])
        .expect("flush");
    assert!(ping6(client));
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    std::thread::sleep(Duration::from_millis(700));
    assert!(!has_vip(r2), "r2 stayed Backup\n{}", a2.proc.log_text());

    // What r1 sent as Master (its port goes down next, which ends the capture): every advert
    // from the virtual MAC and the macvlan's link-local address, to ff02::12, hop limit 255;
    // the first one (as it became Master) right after the VIP's unsolicited NA.
    let sent1 = watch1.finish().expect("capture r1");
    let ads1 = adverts(&sent1);
    assert!(ads1.len() > 5, "r1 advertised: {ads1:?}");
    let group: Ipv6Addr = "ff02::12".parse().unwrap();
    for (mac, src, dst, hl, _) in &ads1 {
        assert_eq!(
            (mac.as_str(), *src, *dst, *hl),
            (VMAC, ll1, group, 255),
            "r1's adverts"
        );
    }
    let first_na = sent1
        .iter()
        .position(|c| classify(&c.frame) == (VMAC.to_owned(), Kind::Na(vip())))
        .expect("r1 announced the VIP from the virtual MAC");
    let first_ad = sent1
        .iter()
        .position(|c| matches!(classify(&c.frame).1, Kind::Advert(..)))
        .expect("an advert");
    // A new Master announces its VIPs, then advertises (the old one lets go on hearing it).
    let (t_ad, t_na) = (sent1[first_ad].at, sent1[first_na].at);
    let apart = t_ad.max(t_na) - t_ad.min(t_na);
    assert!(
        apart < Duration::from_millis(200),
        "the first advert as Master is on the wire with the NA (advert #{first_ad}, NA #{first_na}, {apart:?} apart)"
    );

    // Hard failover: r1 cut off (its link stays up: it stays Master behind the cut).
    let probe_log = dir.path().join("probe-cut.log");
    let probe = Probe::start(client, VIP, 10, 30, &probe_log).expect("probe");
    std::thread::sleep(Duration::from_millis(300));
    let sampler = client.sample_neigh(VIP, 3, false);
    let cut_at = SystemTime::now();
    lan.cut(0).expect("cut");
    assert!(
        wait_for(TRANSITION, || has_vip(r2).then_some(())).is_some(),
        "r2 took over\n{}",
        a2.proc.log_text()
    );
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    let seen = sampler.join().expect("sampler");
    assert!(seen.len() > 5 && seen.iter().all(|m| m == VMAC), "{seen:?}");
    let cut_gap = probe
        .longest_gap_after(cut_at)
        .expect("replies after the cut");
    let cut_lost = probe.lost_after(cut_at).unwrap_or(0);
    probe.stop();
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));

    // r1 back: it preempts; r2's macvlan goes down without the VIP.
    lan.reconnect(0).expect("reconnect");
    assert!(
        wait_for(TRANSITION, || (!has_vip(r2)
            && link_line(r2).is_some_and(|l| l.contains("state DOWN")))
        .then_some(()))
        .is_some(),
        "r2 back to Backup\n{}",
        a2.proc.log_text()
    );
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));

    // Graceful failover (SIGTERM: priority 0, handover).
    let probe_log = dir.path().join("probe-stop.log");
    let probe = Probe::start(client, VIP, 10, 30, &probe_log).expect("probe");
    std::thread::sleep(Duration::from_millis(300));
    let sampler = client.sample_neigh(VIP, 3, false);
    let stop_at = SystemTime::now();
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(TRANSITION).is_some(), "r1 stops");
    let seen = sampler.join().expect("sampler");
    assert!(has_vip(r2), "r2 took over\n{}", a2.proc.log_text());
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    let stop_gap = probe
        .longest_gap_after(stop_at)
        .expect("replies after the stop");
    let stop_lost = probe.lost_after(stop_at).unwrap_or(0);
    probe.stop();
    assert!(seen.len() > 5 && seen.iter().all(|m| m == VMAC), "{seen:?}");
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    assert!(
        a1.proc
            .log_text()
            .contains("new Master heard: VMAC interface down at once"),
        "{}",
        a1.proc.log_text()
    );
    // Generous bounds (one 10 ms probe interval is the resolution).
    assert!(cut_gap < Duration::from_secs(3), "cut: {cut_gap:?}");
    assert!(stop_gap < Duration::from_secs(2), "stop: {stop_gap:?}");
    eprintln!(
        "client-visible gap (ping every 10 ms): cut {cut_gap:?} ({cut_lost} lost), SIGTERM \
         {stop_gap:?} ({stop_lost} lost)"
    );
    assert!(r1.macvlans().is_empty(), "{:?}", r1.macvlans());

    // What r2 sent: as Backup nothing from the virtual MAC and no NA for the VIP; as Master
    // adverts from the virtual MAC and its own macvlan link-local address.
    let sent2 = watch2.finish().expect("capture r2");
    let master_from = sent2
        .iter()
        .position(|c| classify(&c.frame).0 == VMAC)
        .expect("r2 sent from the virtual MAC as Master");
    for c in &sent2[..master_from] {
        assert_ne!(classify(&c.frame).1, Kind::Na(vip()), "Backup r2 answered");
    }
    let ads2: Vec<_> = adverts(&sent2).into_iter().filter(|a| a.4 != 0).collect();
    assert!(!ads2.is_empty());
    assert!(
        ads2.iter().all(|a| a.0 == VMAC && a.1 == ll2),
        "r2's adverts from {VMAC} and {ll2}: {ads2:?}"
    );

    a2.proc.signal(libc::SIGTERM);
    assert!(a2.proc.wait_timeout(TRANSITION).is_some(), "r2 stops");
    assert!(r2.macvlans().is_empty(), "{:?}", r2.macvlans());
    assert!(!r2
        .ns
        .ip(&["-o", "-6", "addr"])
        .unwrap_or_default()
        .contains(VIP));
}

/// The Master's base interface deleted and created again (new MAC): the kernel removes the
/// macvlan with it. The router makes it again, with the link-local address derived from
/// the new MAC, preempts, and advertises from there; the client reaches the VIP at the
/// virtual MAC.
#[test]
fn ipv6_vmac_follows_a_recreated_base_interface_to_its_new_link_local() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let a1 = start(r1, &dir, "h6m-rc1", 150);
    let a2 = start(r2, &dir, "h6m-rc2", 100);
    let logs = || format!("{}\n--- r2\n{}", a1.proc.log_text(), a2.proc.log_text());
    assert!(
        wait_for(TRANSITION, || has_vip(r1).then_some(())).is_some(),
        "r1 Master\n{}",
        logs()
    );
    let old_ll = macvlan_link_local(r1);

    lan.recreate(0).expect("re-create r1's interface");
    let new_ll = macvlan_link_local(r1);
    assert_ne!(
        old_ll, new_ll,
        "a new MAC gives the macvlan a new link-local"
    );
    assert!(
        wait_for(TRANSITION, || (has_vip(r1) && !has_vip(r2)).then_some(())).is_some(),
        "r1 makes its VMAC again and preempts\n{}",
        logs()
    );
    let line = link_line(r1).expect("r1 has its macvlan");
    assert!(
        line.contains(VMAC) && line.contains(&format!("@{}", r1.iface)),
        "{line}"
    );
    let cap = Capture::start(&lan.switch, &r1.port, 200, TRANSITION).expect("capture");
    let seen = cap
        .finish_when(Duration::from_secs(5), |f| adverts(f).len() >= 5)
        .expect("capture");
    let seen = adverts(&seen);
    assert!(
        seen.len() >= 5
            && seen
                .iter()
                .all(|(mac, src, ..)| mac == VMAC && *src == new_ll),
        "r1's adverts from {VMAC} and {new_ll}: {seen:?}\n{}",
        logs()
    );
    assert!(
        wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some(),
        "client reaches the VIP\n{}",
        logs()
    );
}

/// Equal priorities: two Masters (each cut off from the other) meet again, and the one
/// whose macvlan link-local address (the source of its adverts) is the higher stays.
#[test]
fn ipv6_vmac_equal_priorities_elect_the_higher_macvlan_link_local() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2) = (&lan.hosts[0], &lan.hosts[1]);
    lan.isolate(0, true).expect("isolate");
    lan.isolate(1, true).expect("isolate");
    let a1 = start(r1, &dir, "h6m-t1", 100);
    let a2 = start(r2, &dir, "h6m-t2", 100);
    assert!(
        wait_for(TRANSITION, || (has_vip(r1) && has_vip(r2)).then_some(())).is_some(),
        "both Master while split\n{}\n{}",
        a1.proc.log_text(),
        a2.proc.log_text()
    );
    lan.isolate(0, false).expect("isolate");
    lan.isolate(1, false).expect("isolate");
    let (ll1, ll2) = (macvlan_link_local(r1), macvlan_link_local(r2));
    let (win, lose) = if ll1 > ll2 { (r1, r2) } else { (r2, r1) };
    assert!(
        wait_for(TRANSITION, || (has_vip(win) && !has_vip(lose))
            .then_some(()))
        .is_some(),
        "the higher link-local ({}) wins\n{}\n{}",
        ll1.max(ll2),
        a1.proc.log_text(),
        a2.proc.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(has_vip(win) && !has_vip(lose), "and it stays so");
}

/// Interop with keepalived 2.2.7 (`use_vmac`, IPv6, v3) both ways: keepalived Backup of
/// the agent, then Master when the agent stops; the agent Backup of keepalived, then
/// Master when keepalived stops. keepalived copies the base interface's link-local address
/// onto its macvlan (its issue #2296) and sends its adverts from there; the agent sends
/// from its macvlan's own address. Each side takes the other's adverts, and the client
/// keeps the virtual MAC throughout.
#[test]
fn ipv6_vmac_interop_with_keepalived_both_ways() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let mut a1 = start(r1, &dir, "h6m-i1", 150);
    assert!(wait_for(TRANSITION, || has_vip(r1).then_some(())).is_some());
    let watch = Capture::start(&lan.switch, &r2.port, 5000, Duration::from_secs(60)).expect("cap");
    let mut k = keepalived(&r2.ns, dir.path(), "h6m-ka", &conf(&r2.iface, 100, "")).expect("ka");
    k.wait_log("Entering BACKUP STATE", Duration::from_secs(20))
        .expect("keepalived Backup");
    std::thread::sleep(Duration::from_millis(800));
    assert!(!has_vip(r2), "keepalived stays Backup\n{}", k.log_text());
    assert!(wait_for(TRANSITION, || ping6(client).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));

    // keepalived keeps its macvlan up as Backup: what it sent from the virtual MAC then
    // (reported, not asserted: MLD reports and router solicitations as it came up).
    let backup_sent: Vec<String> = watch
        .seen()
        .iter()
        .filter(|c| mac_of(&c.frame, 6) == VMAC)
        .map(|c| describe(&c.frame))
        .collect();
    eprintln!("keepalived as Backup sent from {VMAC}: {backup_sent:?}");

    // The agent leaves: keepalived takes over; the client's entry does not change.
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(TRANSITION).is_some());
    assert!(
        wait_for(TRANSITION, || has_vip(r2).then_some(())).is_some(),
        "keepalived took over\n{}",
        k.log_text()
    );
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    assert!(r1.macvlans().is_empty());
    // keepalived's adverts as Master: from the virtual MAC, from a copy of its base
    // interface's link-local address.
    let ka = adverts(&watch.finish().expect("capture"));
    let base2 = base_link_local(r2).expect("r2's link-local");
    let ka_master: Vec<_> = ka.iter().filter(|a| a.4 == 100).collect();
    assert!(!ka_master.is_empty(), "keepalived advertised: {ka:?}");
    eprintln!(
        "keepalived's adverts as Master: from {} and {} (its base link-local is {base2})",
        ka_master[0].0, ka_master[0].1
    );

    // The agent comes back with a lower priority: Backup of keepalived, then Master when
    // keepalived stops.
    let mut a1 = start(r1, &dir, "h6m-i2", 50);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        has_vip(r2) && !has_vip(r1),
        "keepalived stays Master over the agent\n{}\n{}",
        a1.proc.log_text(),
        k.log_text()
    );
    assert!(link_line(r1).is_some_and(|l| l.contains("state DOWN")));
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    k.signal(libc::SIGTERM);
    assert!(k.wait_timeout(TRANSITION).is_some(), "keepalived stops");
    assert!(
        wait_for(TRANSITION, || has_vip(r1).then_some(())).is_some(),
        "the agent takes over from keepalived\n{}",
        a1.proc.log_text()
    );
    assert!(wait_for(Duration::from_secs(5), || ping6(client).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(TRANSITION).is_some());
    assert!(r1.macvlans().is_empty());
}
