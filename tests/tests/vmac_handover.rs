//! `use_vmac` (IPv4) at the moment a router becomes Master: its macvlan, down while Backup,
//! comes up before the advert that announces it, so that advert is on the wire (before the
//! gratuitous ARP of the VIP). Sent while the macvlan was still down it was lost
//! (ENETDOWN), and the peers heard the new Master one interval later. Checked at start-up
//! (nobody else) and at a takeover (the Master stops: priority 0, handover).
//!
//! Root only (network namespaces); skipped otherwise.
use std::{net::Ipv4Addr, time::Duration};

use vrrp_tests::{start_agent, wait_for, Agent, Capture, Captured, Lan, LanHost, TempDir};

const VIP: &str = "198.18.62.50";
const VRID: u8 = 53;
const VMAC: &str = "00:00:5e:00:01:35";
const MACVLAN: &str = "vrrp.53";
const TRANSITION: Duration = Duration::from_secs(10);

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn start(h: &LanHost, dir: &TempDir, tag: &str, priority: u8) -> Agent {
    let text = format!(
        "vrrp_instance VI_1 {{\n state BACKUP\n interface {}\n virtual_router_id {VRID}\n \
         priority {priority}\n version 3\n advert_int 0.5\n use_vmac\n \
         virtual_ipaddress {{\n {VIP}/24\n }}\n}}\n",
        h.iface
    );
    start_agent(&h.ns, dir.path(), tag, &text).expect("agent starts")
}

fn has_vip(h: &LanHost) -> bool {
    h.ns.ip(&["-o", "addr", "show", "dev", MACVLAN])
        .map(|s| s.contains(&format!("{VIP}/")))
        .unwrap_or(false)
}

fn src_mac(frame: &[u8]) -> String {
    vrrp_tests::frame_mac(frame, 6)
}

/// A VRRP advert's priority.
fn advert_priority(frame: &[u8]) -> Option<u8> {
    (frame.get(12..14) == Some(&[0x08, 0x00][..]) && frame.get(23) == Some(&112))
        .then(|| frame.get(14 + 20 + 2).copied())
        .flatten()
}

fn is_garp_for_vip(frame: &[u8]) -> bool {
    let vip: Ipv4Addr = VIP.parse().unwrap();
    frame.get(12..14) == Some(&[0x08, 0x06][..]) && frame.get(28..32) == Some(&vip.octets()[..])
}

/// In what `h` sent: the first advert with `priority` and the first gratuitous ARP for the
/// VIP, both from the virtual MAC (their positions), and the gap between them.
fn first_advert_and_garp(frames: &[Captured], priority: u8) -> (usize, usize, Duration) {
    let from_vmac = |c: &&Captured| src_mac(&c.frame) == VMAC;
    let ad = frames
        .iter()
        .position(|c| from_vmac(&c) && advert_priority(&c.frame) == Some(priority))
        .expect("an advert from the virtual MAC");
    let garp = frames
        .iter()
        .position(|c| from_vmac(&c) && is_garp_for_vip(&c.frame))
        .expect("a gratuitous ARP from the virtual MAC");
    let gap = if frames[ad].at > frames[garp].at {
        frames[ad].at - frames[garp].at
    } else {
        frames[garp].at - frames[ad].at
    };
    (ad, garp, gap)
}

#[test]
fn first_advert_as_vmac_master_is_on_the_wire() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut lan = Lan::new_tagged("h6mH").expect("switch");
    lan.add_host("h6mD", Ipv4Addr::new(198, 18, 62, 1))
        .expect("r1");
    lan.add_host("h6mE", Ipv4Addr::new(198, 18, 62, 2))
        .expect("r2");
    let dir = TempDir::new("h6m-handover").expect("tempdir");
    let (r1, r2) = (&lan.hosts[0], &lan.hosts[1]);

    // Start-up: r1 alone, Backup, then Master once its Master_Down_Interval runs out.
    let watch1 = Capture::start(&lan.switch, &r1.port, 2000, Duration::from_secs(60)).expect("cap");
    let mut a1 = start(r1, &dir, "h6m-h1", 150);
    assert!(
        wait_for(TRANSITION, || has_vip(r1).then_some(())).is_some(),
        "r1 Master\n{}",
        a1.proc.log_text()
    );
    let sent1 = watch1
        .finish_when(TRANSITION, |f| {
            f.iter()
                .filter(|c| advert_priority(&c.frame).is_some())
                .count()
                >= 2
        })
        .expect("capture r1");
    let (ad, garp, gap) = first_advert_and_garp(&sent1, 150);
    assert!(
        gap < Duration::from_millis(200),
        "r1's first advert as Master (#{ad}) is on the wire with its gratuitous ARP (a new Master announces its VIPs, then advertises) (#{garp}), {gap:?} \
         apart\n{}",
        a1.proc.log_text()
    );

    // Takeover: r1 stops (priority 0); r2's first advert as Master is on the wire.
    let watch2 = Capture::start(&lan.switch, &r2.port, 2000, Duration::from_secs(60)).expect("cap");
    let mut a2 = start(r2, &dir, "h6m-h2", 100);
    std::thread::sleep(Duration::from_millis(1600));
    assert!(!has_vip(r2), "r2 Backup\n{}", a2.proc.log_text());
    // Its macvlan is down, its base interface in 224.0.0.18 (a NIC that filters multicast
    // passes the Master's adverts to XDP).
    let groups = r2
        .ns
        .ip(&["-4", "maddr", "show", "dev", &r2.iface])
        .unwrap_or_default();
    assert!(groups.contains("224.0.0.18"), "r2's base groups: {groups}");
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(TRANSITION).is_some(), "r1 stops");
    assert!(
        wait_for(TRANSITION, || has_vip(r2).then_some(())).is_some(),
        "r2 took over\n{}",
        a2.proc.log_text()
    );
    let sent2 = watch2
        .finish_when(TRANSITION, |f| {
            f.iter()
                .filter(|c| advert_priority(&c.frame) == Some(100))
                .count()
                >= 2
        })
        .expect("capture r2");
    let (ad, garp, gap) = first_advert_and_garp(&sent2, 100);
    assert!(
        gap < Duration::from_millis(200),
        "r2's first advert as Master (#{ad}) is on the wire with its gratuitous ARP (a new Master announces its VIPs, then advertises) (#{garp}), {gap:?} \
         apart\n{}",
        a2.proc.log_text()
    );
    for a in [&a1, &a2] {
        assert!(
            !a.proc.log_text().contains("sending an advert"),
            "no advert failed to go\n{}",
            a.proc.log_text()
        );
    }
    a2.proc.signal(libc::SIGTERM);
    assert!(a2.proc.wait_timeout(TRANSITION).is_some(), "r2 stops");
}
