//! `use_vmac` end to end (IPv4) on a bridged LAN with two routers and a client: the
//! client's ARP entry for the VIP is the virtual MAC before, during and after a failover;
//! the routers' own addresses stay reachable with their real MACs; a Backup never answers
//! ARP for the VIP nor sends from the virtual MAC; adverts leave from the virtual MAC (or
//! the base interface with `vmac_xmit_base`); a clean stop leaves no macvlan and restores
//! the sysctls; a start after SIGKILL takes over or removes what the killed run left.
//!
//! Root only (network namespaces); skipped otherwise.
use std::{net::Ipv4Addr, time::Duration};

use vrrp_tests::frame_mac as mac_of;
use vrrp_tests::{start_agent, wait_for, Agent, Capture, Lan, LanHost, TempDir};

const VIP: &str = "198.18.40.50";
const VRID: u8 = 51;
const VMAC: &str = "00:00:5e:00:01:33";

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn conf(priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n state BACKUP\n interface IFACE\n virtual_router_id {VRID}\n \
         priority {priority}\n version 3\n advert_int 0.1\n use_vmac {extra}\n \
         virtual_ipaddress {{\n {VIP}/24\n }}\n}}\n"
    )
}

fn start(h: &LanHost, dir: &TempDir, tag: &str, text: &str) -> Agent {
    start_agent(&h.ns, dir.path(), tag, &text.replace("IFACE", &h.iface)).expect("agent starts")
}

fn link_line(h: &LanHost, name: &str) -> Option<String> {
    h.ns.ip(&["-o", "-d", "link", "show", "dev", name]).ok()
}

fn sysctl(h: &LanHost, path: &str) -> String {
    h.ns.output("cat", &[&format!("/proc/sys/net/{path}")])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The sysctls a VMAC changes on a host, as `path=value`.
fn host_sysctls(h: &LanHost) -> Vec<String> {
    let mut v: Vec<String> = ["arp_ignore", "arp_filter", "arp_announce", "rp_filter"]
        .iter()
        .map(|k| {
            let p = format!("ipv4/conf/{}/{k}", h.iface);
            format!("{p}={}", sysctl(h, &p))
        })
        .collect();
    for p in ["ipv4/conf/all/rp_filter", "ipv4/conf/default/rp_filter"] {
        v.push(format!("{p}={}", sysctl(h, p)));
    }
    v
}

fn has_vip_on(h: &LanHost, dev: &str) -> bool {
    h.ns.ip(&["-o", "addr", "show", "dev", dev])
        .map(|s| s.contains(&format!("{VIP}/")))
        .unwrap_or(false)
}

/// (source MAC, is a VRRP advert, ARP reply sender IP) of a captured frame.
fn classify(frame: &[u8]) -> (String, bool, Option<Ipv4Addr>) {
    let src = mac_of(frame, 6);
    let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let vrrp = ethertype == Some(0x0800) && frame.get(23) == Some(&112);
    let arp_reply = (ethertype == Some(0x0806) && frame.get(20..22) == Some(&[0, 2][..]))
        .then(|| {
            frame
                .get(28..32)
                .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        })
        .flatten();
    (src, vrrp, arp_reply)
}

fn lab() -> (Lan, TempDir) {
    let mut lan = Lan::new_tagged("vmS").expect("switch");
    lan.add_host("vmA", Ipv4Addr::new(198, 18, 40, 1))
        .expect("r1");
    lan.add_host("vmB", Ipv4Addr::new(198, 18, 40, 2))
        .expect("r2");
    lan.add_host("vmC", Ipv4Addr::new(198, 18, 40, 100))
        .expect("client");
    (lan, TempDir::new("vmac").expect("tempdir"))
}

#[test]
fn client_sees_only_the_virtual_mac_through_failover_and_stop_leaves_nothing() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    // keepalived's rp_filter case: all.rp_filter=1 on r1 must still let clients in.
    r1.ns
        .output("sysctl", &["-qw", "net.ipv4.conf.all.rp_filter=1"])
        .expect("sysctl");
    let before = [host_sysctls(r1), host_sysctls(r2)];

    let mut a1 = start(r1, &dir, "vm-r1", &conf(150, ""));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some(),
        "r1 holds the VIP on vrrp.51\n{}",
        a1.proc.log_text()
    );
    let watch2 = Capture::start(&lan.switch, &r2.port, 5000, Duration::from_secs(60)).expect("cap");
    let watch1 = Capture::start(&lan.switch, &r1.port, 5000, Duration::from_secs(60)).expect("cap");
    let mut a2 = start(r2, &dir, "vm-r2", &conf(100, ""));

    // The macvlan as made: private mode, virtual MAC, our alias; up on the Master only.
    let l1 = link_line(r1, "vrrp.51").expect("r1 has vrrp.51");
    assert!(
        l1.contains(VMAC) && l1.contains("macvlan mode private"),
        "{l1}"
    );
    assert!(l1.contains("alias vrrp-agent vmac"), "{l1}");
    assert!(l1.contains("state UP"), "{l1}");
    let l2 = link_line(r2, "vrrp.51").expect("r2 has vrrp.51");
    assert!(
        l2.contains("state DOWN") && !l2.contains(",UP"),
        "Backup's VMAC is down: {l2}"
    );
    assert!(!has_vip_on(r2, "vrrp.51") && !r2.has_addr(VIP));
    assert_eq!(sysctl(r1, "ipv4/conf/vrrp.51/rp_filter"), "0");
    assert_eq!(sysctl(r1, "ipv4/conf/vrrp.51/arp_ignore"), "1");
    assert_eq!(sysctl(r1, "ipv4/conf/all/rp_filter"), "0");
    assert_eq!(
        sysctl(r1, &format!("ipv4/conf/{}/rp_filter", r1.iface)),
        "1"
    );

    // The client reaches the VIP at the virtual MAC, and r1/r2 at their real MACs.
    assert!(client.ping(VIP), "client reaches the VIP");
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    for r in [r1, r2] {
        let a = r.addr.to_string();
        assert!(client.ping(&a), "base address {a} reachable");
        assert_eq!(client.neigh_mac(&a), Some(r.mac()), "{a} at its real MAC");
    }
    // keepalived's defaults: r1 answering from the VIP ARPs for the client from the real
    // MAC with the VIP as sender, and the client relearns the VIP. Not with arp_announce=2.
    r1.ns
        .ip(&["neigh", "flush", "dev", &r1.iface])
        .expect("flush");
    assert!(client.ping(VIP));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        client.neigh_mac(VIP).as_deref(),
        Some(VMAC),
        "after r1 ARPed the client"
    );

    // Ask again (broadcast ARP for the VIP reaches r2 too), with both running a while:
    // r2 stays Backup (XDP on its base interface sees r1's adverts from the virtual MAC).
    client
        .ns
        .ip(&["neigh", "flush", "dev", &client.iface])
        .expect("flush");
    assert!(client.ping(VIP));
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !has_vip_on(r2, "vrrp.51"),
        "r2 stayed Backup\n{}",
        a2.proc.log_text()
    );

    // What r1 sent as Master (its port goes down next, which ends a capture).
    let sent1 = watch1.finish().expect("capture r1");
    // Hard failover: r1 cut off the LAN (its link stays up: it stays Master, macvlan up).
    lan.cut(0).expect("cut");
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r2, "vrrp.51")
            .then_some(()))
        .is_some(),
        "r2 took over\n{}",
        a2.proc.log_text()
    );
    assert!(wait_for(Duration::from_secs(5), || client.ping(VIP).then_some(())).is_some());
    assert_eq!(
        client.neigh_mac(VIP).as_deref(),
        Some(VMAC),
        "after the hard failover"
    );
    // r1 back: it preempts, r2 goes back to Backup (VIP gone, macvlan down).
    lan.reconnect(0).expect("reconnect");
    assert!(
        wait_for(Duration::from_secs(10), || (!has_vip_on(r2, "vrrp.51"))
            .then_some(()))
        .is_some(),
        "r2 back to Backup\n{}",
        a2.proc.log_text()
    );
    let l2 = link_line(r2, "vrrp.51").expect("r2 has vrrp.51");
    assert!(l2.contains("state DOWN"), "{l2}");
    assert!(wait_for(Duration::from_secs(5), || client.ping(VIP).then_some(())).is_some());
    assert_eq!(
        client.neigh_mac(VIP).as_deref(),
        Some(VMAC),
        "after r1 came back"
    );

    // Failover (graceful), the client's entry sampled all along.
    let sampler = client.sample_neigh(VIP, 3, true);
    std::thread::sleep(Duration::from_millis(200));
    a1.proc.signal(libc::SIGTERM);
    assert!(
        a1.proc.wait_timeout(Duration::from_secs(10)).is_some(),
        "r1 stops"
    );
    let seen = sampler.join().expect("sampler");
    assert!(seen.len() > 5, "sampled {seen:?}");
    assert!(
        seen.iter().all(|m| m == VMAC),
        "client's entry for the VIP: {seen:?}"
    );
    assert!(
        has_vip_on(r2, "vrrp.51"),
        "r2 took over\n{}",
        a2.proc.log_text()
    );
    assert!(client.ping(VIP));
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));

    // r1 after its clean stop: no macvlan, sysctls as before.
    assert!(r1.macvlans().is_empty(), "{:?}", r1.macvlans());
    assert_eq!(host_sysctls(r1), before[0]);

    // What r2 sent while Backup: no ARP reply for the VIP, nothing from the virtual MAC.
    // What r1 sent as Master: adverts from the virtual MAC.
    let sent2 = watch2.finish().expect("capture r2");
    let r2_master_from = sent2
        .iter()
        .position(|c| classify(&c.frame).0 == VMAC)
        .unwrap_or(sent2.len());
    // Before it first took over (its first frame from the virtual MAC), nothing of the VIP.
    for c in &sent2[..r2_master_from] {
        let (_, _, reply) = classify(&c.frame);
        assert_ne!(
            reply,
            Some(VIP.parse().unwrap()),
            "Backup r2 answered ARP for the VIP"
        );
    }
    assert!(
        r2_master_from < sent2.len(),
        "r2 as Master sends from the virtual MAC"
    );
    let adverts1: Vec<_> = sent1
        .iter()
        .map(|c| classify(&c.frame))
        .filter(|c| c.1)
        .collect();
    assert!(adverts1.len() > 3, "r1 advertised");
    assert!(
        adverts1.iter().all(|c| c.0 == VMAC),
        "r1's adverts from the virtual MAC"
    );
    for c in &sent1 {
        if let (src, _, Some(ip)) = classify(&c.frame) {
            if ip.to_string() == VIP {
                assert_eq!(
                    src, VMAC,
                    "r1 answered ARP for the VIP from the virtual MAC"
                );
            }
        }
    }

    a2.proc.signal(libc::SIGTERM);
    assert!(
        a2.proc.wait_timeout(Duration::from_secs(10)).is_some(),
        "r2 stops"
    );
    assert!(r2.macvlans().is_empty(), "{:?}", r2.macvlans());
    assert_eq!(host_sysctls(r2), before[1]);
}

/// The Master's base interface deleted and created again (a network restart re-creating a
/// VLAN or bond): the kernel deletes the macvlan with it. Once the interface is back the
/// router makes its macvlan again, preempts, and holds the VIP there: the client reaches it
/// at the virtual MAC. A clean stop then leaves no macvlan.
#[test]
fn a_vmac_is_made_again_when_its_base_interface_is_recreated() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let mut a1 = start(r1, &dir, "vm-rc1", &conf(150, ""));
    let mut a2 = start(r2, &dir, "vm-rc2", &conf(100, ""));
    let held = |r: &LanHost| {
        wait_for(Duration::from_secs(10), || {
            has_vip_on(r, "vrrp.51").then_some(())
        })
        .is_some()
    };
    assert!(held(r1), "r1 holds the VIP\n{}", a1.proc.log_text());

    lan.recreate(0).expect("re-create r1's interface");
    assert!(
        held(r2),
        "r2 takes over while r1's interface is away\n{}",
        a2.proc.log_text()
    );
    // r1 back: a new macvlan on the new interface, r1 Master again with the VIP on it.
    assert!(
        held(r1),
        "r1 makes its VMAC again and preempts\n{}\n--- r2\n{}",
        a1.proc.log_text(),
        a2.proc.log_text()
    );
    let line = link_line(r1, "vrrp.51").expect("r1 has vrrp.51");
    let parent = format!("@{}", r1.iface);
    assert!(
        line.contains(VMAC) && line.contains(&parent) && line.contains("state UP"),
        "{line}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || (!has_vip_on(r2, "vrrp.51"))
            .then_some(()))
        .is_some(),
        "r2 back to Backup\n{}",
        a2.proc.log_text()
    );
    client
        .ns
        .ip(&["neigh", "flush", "dev", &client.iface])
        .expect("flush");
    assert!(
        wait_for(Duration::from_secs(5), || client.ping(VIP).then_some(())).is_some(),
        "client reaches the VIP\n{}",
        a1.proc.log_text()
    );
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));

    for (a, r) in [(&mut a1, r1), (&mut a2, r2)] {
        a.proc.signal(libc::SIGTERM);
        assert!(a.proc.wait_timeout(Duration::from_secs(10)).is_some());
        assert!(r.macvlans().is_empty(), "{:?}", r.macvlans());
    }
}

#[test]
fn sigkill_leftovers_are_taken_over_or_removed_and_sysctls_restored() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, client) = (&lan.hosts[0], &lan.hosts[2]);
    let before = host_sysctls(r1);
    let a = start(r1, &dir, "vm-k1", &conf(150, ""));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    a.proc.signal(libc::SIGKILL);
    drop(a);
    assert!(
        link_line(r1, "vrrp.51").is_some(),
        "SIGKILL leaves the macvlan"
    );
    assert_ne!(host_sysctls(r1), before, "and the sysctls");

    // Same configuration: taken over (one macvlan, Master again, client still served).
    let a = start(r1, &dir, "vm-k2", &conf(150, ""));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    assert!(
        a.proc.log_text().contains("took over the VMAC interface"),
        "{}",
        a.proc.log_text()
    );
    assert_eq!(r1.macvlans().len(), 1, "{:?}", r1.macvlans());
    assert!(client.ping(VIP));
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    a.proc.signal(libc::SIGKILL);
    drop(a);

    // Another name: the killed run's vrrp.51 goes.
    let mut a = start(r1, &dir, "vm-k3", &conf(150, "vmx51"));
    assert!(wait_for(Duration::from_secs(10), || has_vip_on(r1, "vmx51")
        .then_some(()))
    .is_some());
    assert!(link_line(r1, "vrrp.51").is_none(), "{:?}", r1.macvlans());
    a.proc.signal(libc::SIGTERM);
    assert!(a.proc.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(r1.macvlans().is_empty(), "{:?}", r1.macvlans());
    // The originals from before the first run, although two runs were killed.
    assert_eq!(host_sysctls(r1), before);
}

#[test]
fn vmac_xmit_base_sends_adverts_from_the_base_interface() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let watch = Capture::start(&lan.switch, &r1.port, 2000, Duration::from_secs(30)).expect("cap");
    let mut a1 = start(r1, &dir, "vm-x1", &conf(150, "\n vmac_xmit_base"));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    let mut a2 = start(r2, &dir, "vm-x2", &conf(100, "\n vmac_xmit_base"));
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !has_vip_on(r2, "vrrp.51"),
        "r2 stays Backup\n{}",
        a2.proc.log_text()
    );
    assert!(client.ping(VIP));
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    // A reload (SIGHUP) leaves the Master's macvlan up with its VIP.
    a1.proc.signal(libc::SIGHUP);
    a1.proc
        .wait_log("reload ", Duration::from_secs(10))
        .expect("reloaded");
    let l1 = link_line(r1, "vrrp.51").expect("vrrp.51");
    assert!(
        l1.contains("state UP") && has_vip_on(r1, "vrrp.51"),
        "{l1}\n{}",
        a1.proc.log_text()
    );
    assert!(client.ping(VIP));
    let sent = watch.finish().expect("capture");
    let adverts: Vec<_> = sent
        .iter()
        .map(|c| classify(&c.frame))
        .filter(|c| c.1)
        .collect();
    assert!(adverts.len() > 3, "r1 advertised");
    assert!(
        adverts.iter().all(|c| c.0 == r1.mac()),
        "adverts from the base interface's MAC {}: {:?}",
        r1.mac(),
        adverts.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    for a in [&mut a1, &mut a2] {
        a.proc.signal(libc::SIGTERM);
        assert!(a.proc.wait_timeout(Duration::from_secs(10)).is_some());
    }
    assert!(r1.macvlans().is_empty() && r2.macvlans().is_empty());
}

#[test]
fn interop_with_keepalived_use_vmac_both_ways() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let (r1, r2, client) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let mut a1 = start(r1, &dir, "vm-i1", &conf(150, ""));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    // keepalived 2.2.7 leaves arp_announce alone: as Master it answers the client from the
    // VIP after ARPing "who-has client tell VIP" from the base interface's real MAC, and the
    // client then has the real MAC for the VIP (seen here without this line). The
    // workaround on a keepalived node is the setting this agent makes itself.
    r2.ns
        .output(
            "sysctl",
            &["-qw", &format!("net.ipv4.conf.{}.arp_announce=2", r2.iface)],
        )
        .expect("sysctl");
    let mut k = vrrp_tests::keepalived(
        &r2.ns,
        dir.path(),
        "vm-ka",
        &conf(100, "").replace("IFACE", &r2.iface),
    )
    .expect("keepalived");
    k.wait_log("Entering BACKUP STATE", Duration::from_secs(20))
        .expect("keepalived Backup");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        !has_vip_on(r2, "vrrp.51"),
        "keepalived stays Backup\n{}",
        k.log_text()
    );
    // keepalived 2.2.7 keeps its macvlan up as Backup (this agent keeps its own down).
    let lk = link_line(r2, "vrrp.51").expect("keepalived made vrrp.51");
    assert!(
        lk.contains(",UP") && lk.contains("macvlan mode private"),
        "{lk}"
    );
    assert!(client.ping(VIP));
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    // The agent leaves: keepalived takes over; the client's entry does not change.
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r2, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    assert!(wait_for(Duration::from_secs(5), || client.ping(VIP).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    assert!(r1.macvlans().is_empty());
    // The agent comes back with the higher priority and preempts keepalived.
    let mut a1 = start(r1, &dir, "vm-i2", &conf(150, ""));
    assert!(
        wait_for(Duration::from_secs(10), || has_vip_on(r1, "vrrp.51")
            .then_some(()))
        .is_some()
    );
    assert!(
        wait_for(Duration::from_secs(5), || (!has_vip_on(r2, "vrrp.51"))
            .then_some(()))
        .is_some()
    );
    assert!(wait_for(Duration::from_secs(5), || client.ping(VIP).then_some(())).is_some());
    assert_eq!(client.neigh_mac(VIP).as_deref(), Some(VMAC));
    a1.proc.signal(libc::SIGTERM);
    assert!(a1.proc.wait_timeout(Duration::from_secs(10)).is_some());
}

/// The macvlan of an IPv6 `use_vmac` instance has the IPv6 virtual MAC and `addrgenmode
/// none`, and the kernel gives it no address when it comes up (neither the parent's
/// link-local nor the EUI-64 one of the virtual MAC: the agent adds its own, see
/// `tests/tests/vmac_ipv6.rs` for the election); a clean stop removes it.
#[test]
fn ipv6_vmac_gets_the_ipv6_mac_and_no_generated_address() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (lan, dir) = lab();
    let r1 = &lan.hosts[0];
    let text = format!(
        "vrrp_instance V6 {{\n interface {}\n virtual_router_id 52\n priority 100\n \
         use_vmac\n virtual_ipaddress {{\n 2001:db8:40::50/64\n }}\n}}\n",
        r1.iface
    ) + &conf(100, "")
        .replace("VI_1", "V4")
        .replace("use_vmac ", "")
        .replace("IFACE", &r1.iface);
    let mut a = start_agent(&r1.ns, dir.path(), "vm-6", &text).expect("agent starts");
    let line = link_line(r1, "vrrp.52").expect("vrrp.52 exists");
    assert!(line.contains("00:00:5e:00:02:34"), "{line}");
    assert!(
        line.contains("macvlan mode private") && line.contains("addrgenmode none"),
        "{line}"
    );
    r1.ns.ip(&["link", "set", "vrrp.52", "up"]).expect("up");
    std::thread::sleep(Duration::from_millis(300));
    let addrs = r1
        .ns
        .ip(&["-o", "-6", "addr", "show", "dev", "vrrp.52"])
        .unwrap_or_default();
    assert!(addrs.trim().is_empty(), "no generated address: {addrs}");
    a.proc.signal(libc::SIGTERM);
    assert!(a.proc.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(r1.macvlans().is_empty(), "{:?}", r1.macvlans());
}
