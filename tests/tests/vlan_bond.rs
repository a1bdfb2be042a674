//! VLAN devices and bonds, with real keepalived peers:
//! - one agent with instances on a veth and on a VLAN device on it, with the same VRID, and
//!   keepalived as the peer on the VLAN only: the VLAN instance follows keepalived, the
//!   parent instance (which has no peer) stays Master, the kernel records the adverts under
//!   the VLAN device's ifindex, never the parent's; with the tag offloaded (a veth sends a
//!   VLAN device's tag in skb metadata, as a NIC with RX VLAN offload delivers it) and with
//!   the tag in the frame (TX VLAN offload turned off on keepalived's veth);
//! - a bond of two veths: adverts are recorded under the bond, the bond's slave failover
//!   does not disturb the election, and the agent takes over when keepalived dies;
//! - a VLAN the agent does not serve: tagged adverts (crafted, tag in the frame, one with the
//!   parent's VRID) and keepalived's (tag offloaded) reach a capture on the VLAN device, and
//!   the parent instance does not count them.
//!
//! Needs root, keepalived, and a kernel with 802.1Q VLAN and bonding support: without it the
//! tests print "skipped: ..." and pass, unless VRRP_TEST_IN_VM=1 (the test-kernels VMs, which
//! have both), where a missing feature fails.
use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    path::Path,
    time::Duration,
};

use vrrp_agent::wire::{
    frame::FrameBuilder,
    vrrp::{Auth, Repr, Version},
    Endpoints,
};
use vrrp_tests::{
    agent_bin, bpftool_dump, formatted, keepalived, pin_dir, unique, veth, wait_for, Agent,
    Capture, Netns, PacketSocket, Proc, TempDir,
};

/// Generous bound for one election transition under TCG: Master_Down_Interval at advert_int
/// 1 is ~3.6 s.
const TRANSITION: Duration = Duration::from_secs(30);
/// How long a state must hold to count as stable: several Master_Down_Intervals.
const HOLD: Duration = Duration::from_secs(8);

/// `vrrp_tests::start_agent` with a start-up bound for TCG: under emulation, loading the
/// debug binary and verifying the program take far longer than the 20 s that helper allows.
fn start_agent(ns: &Netns, dir: &Path, tag: &str, conf: &str) -> anyhow::Result<Agent> {
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf)?;
    let pins = pin_dir(tag);
    let mut cmd = ns.command(agent_bin()?);
    cmd.arg("run")
        .arg("-f")
        .arg(&path)
        .arg("--pin-dir")
        .arg(&pins)
        .env("RUST_LOG", "info");
    let mut proc = Proc::spawn(tag, &mut cmd, &dir.join(format!("{tag}.log")))?;
    proc.wait_log("instance ready", Duration::from_secs(180))?;
    Ok(Agent { proc, pins })
}

/// Whether the kernel can do `what` (checked by `probe` in a scratch namespace). Without it
/// the test is skipped, or fails inside the test-kernels VMs.
fn require(what: &str, probe: impl FnOnce(&Netns) -> anyhow::Result<String>) -> bool {
    let ns = Netns::new("vlq").unwrap();
    match probe(&ns) {
        Ok(_) => true,
        Err(e) if std::env::var_os("VRRP_TEST_IN_VM").is_some() => {
            panic!("VRRP_TEST_IN_VM=1 but this kernel lacks {what}: {e:#}")
        }
        Err(e) => {
            println!("skipped: no {what} in this kernel ({e:#})");
            false
        }
    }
}

fn vlan_supported() -> bool {
    require("802.1Q support", |ns| {
        ns.ip(&[
            "link", "add", "vlqd", "type", "veth", "peer", "name", "vlqe",
        ])?;
        ns.ip(&[
            "link", "add", "link", "vlqd", "name", "vlqd.5", "type", "vlan", "id", "5",
        ])
    })
}

fn bond_supported() -> bool {
    require("bonding support", |ns| {
        ns.ip(&["link", "add", "vlqb", "type", "bond"])
    })
}

/// Adds VLAN `vid` on `parent` in `ns`, with `addr`, up; returns its name.
fn add_vlan(ns: &Netns, parent: &str, vid: u16, addr: &str) -> String {
    let name = unique("vlv");
    ns.ip(&[
        "link",
        "add",
        "link",
        parent,
        "name",
        &name,
        "type",
        "vlan",
        "id",
        &vid.to_string(),
    ])
    .unwrap();
    ns.ip(&["addr", "add", addr, "dev", &name]).unwrap();
    ns.ip(&["link", "set", &name, "up"]).unwrap();
    name
}

/// Turns TX VLAN offload off on `iface` in `ns` (ETHTOOL_SFLAGS without ETH_FLAG_TXVLAN),
/// so that a VLAN device on it puts the tag into the frame.
fn txvlan_off(ns: &Netns, iface: &str) {
    const ETHTOOL_GFLAGS: u32 = 0x25;
    const ETHTOOL_SFLAGS: u32 = 0x26;
    const ETH_FLAG_TXVLAN: u32 = 1 << 7;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }
    let iface = iface.to_owned();
    vrrp_tests::in_netns(ns, move || {
        // SAFETY: socket(2) with constant arguments; closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        anyhow::ensure!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut v = EthtoolValue {
            cmd: ETHTOOL_GFLAGS,
            data: 0,
        };
        let mut req = IfReq {
            name: [0; 16],
            data: &mut v,
            _pad: [0; 16],
        };
        req.name[..iface.len()].copy_from_slice(iface.as_bytes());
        let call = |req: &mut IfReq| {
            // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points to, both
            // alive and of the layout the kernel expects.
            unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, req as *mut IfReq) }
        };
        let rc = call(&mut req);
        let got = std::io::Error::last_os_error();
        let result = if rc != 0 {
            Err(anyhow::anyhow!("ETHTOOL_GFLAGS: {got}"))
        } else {
            v.cmd = ETHTOOL_SFLAGS;
            v.data &= !ETH_FLAG_TXVLAN;
            req.data = &mut v;
            if call(&mut req) != 0 {
                Err(anyhow::anyhow!(
                    "ETHTOOL_SFLAGS: {}",
                    std::io::Error::last_os_error()
                ))
            } else {
                Ok(())
            }
        };
        // SAFETY: closing the socket opened above.
        unsafe { libc::close(fd) };
        result
    })
    .unwrap();
}

/// Valid adverts recorded per (ifindex, vrid), from the pinned VRRP_STATS.
fn valid_by_iface(pins: &Path) -> BTreeMap<(u64, u64), u64> {
    let mut out = BTreeMap::new();
    if let Ok(dump) = bpftool_dump(&pins.join("VRRP_STATS")) {
        for e in dump.as_array().into_iter().flatten() {
            for v in formatted(e)["values"].as_array().into_iter().flatten() {
                let v = &v["value"];
                let n = v["valid"].as_u64().unwrap_or(0);
                if n > 0 {
                    let k = (
                        v["ifindex"].as_u64().unwrap_or(0),
                        v["vrid"].as_u64().unwrap_or(0),
                    );
                    *out.entry(k).or_insert(0) += n;
                }
            }
        }
    }
    out
}

/// The state the agent logged last for `instance` ("Backup -> Master: ... instance=NAME").
fn agent_state(agent: &Proc, instance: &str) -> Option<&'static str> {
    let field = format!("instance={instance} ");
    agent
        .log_text()
        .lines()
        .rev()
        .filter(|l| l.contains(&field) || l.ends_with(&format!("instance={instance}")))
        .find_map(|l| {
            ["-> Master:", "-> Backup:", "-> Fault:"]
                .into_iter()
                .find(|n| l.contains(n))
        })
        .map(|n| &n[3..9])
}

/// How often the agent logged the transition `from -> to` of `instance`
/// ("Master -> Backup: ... instance=NAME").
fn transitions(agent: &Proc, instance: &str, from: &str, to: &str) -> usize {
    let needle = format!("{from} -> {to}:");
    let field = format!("instance={instance}");
    agent
        .log_text()
        .lines()
        .filter(|l| l.contains(&needle))
        .filter(|l| l.split_whitespace().any(|w| w == field))
        .count()
}

fn has_addr(ns: &Netns, iface: &str, addr: &str) -> bool {
    ns.ip(&["-o", "addr", "show", "dev", iface])
        .map(|s| {
            s.split_whitespace()
                .any(|w| w.split('/').next() == Some(addr))
        })
        .unwrap_or(false)
}

fn instance(name: &str, iface: &str, vrid: u8, priority: u8, vip: &str) -> String {
    format!(
        r#"vrrp_instance {name} {{
    state BACKUP
    interface {iface}
    virtual_router_id {vrid}
    priority {priority}
    version 2
    advert_int 1
    virtual_ipaddress {{
        {vip}/24 dev {iface}
    }}
}}
"#
    )
}

fn logs(procs: &[&Proc]) -> String {
    procs
        .iter()
        .map(|p| format!("--- {}\n{}\n", p.what, p.log_text()))
        .collect()
}

/// A: agent on veth `a` (198.18.0.1/24) and VLAN 100 on it (198.18.1.1/24); B: keepalived
/// on VLAN 100 of the other end (198.18.1.2/24). Both agent instances use VRID 51.
fn same_vrid_on_parent_and_vlan(tag_in_frame: bool) {
    if !vlan_supported() {
        return;
    }
    let dir = TempDir::new("vrrp-vl").unwrap();
    let (a, b) = (Netns::new("vla").unwrap(), Netns::new("vlb").unwrap());
    let (a_if, b_if) = (unique("vla"), unique("vlb"));
    veth(&a, &a_if, &b, &b_if).unwrap();
    a.ip(&["addr", "add", "198.18.0.1/24", "dev", &a_if])
        .unwrap();
    b.ip(&["addr", "add", "198.18.0.2/24", "dev", &b_if])
        .unwrap();
    if tag_in_frame {
        txvlan_off(&b, &b_if);
    }
    let a_vl = add_vlan(&a, &a_if, 100, "198.18.1.1/24");
    let b_vl = add_vlan(&b, &b_if, 100, "198.18.1.2/24");
    let (a_ifindex, a_vl_ifindex) = (a.ifindex(&a_if).unwrap(), a.ifindex(&a_vl).unwrap());

    let mut ka = keepalived(
        &b,
        dir.path(),
        "ka",
        &instance("K", &b_vl, 51, 200, "198.18.1.100"),
    )
    .unwrap();
    ka.wait_log("Entering MASTER STATE", TRANSITION).unwrap();
    let conf = format!(
        "{}{}",
        instance("PARENT", &a_if, 51, 100, "198.18.0.100"),
        instance("VLAN", &a_vl, 51, 100, "198.18.1.100")
    );
    let agent = start_agent(&a, dir.path(), "agent", &conf).unwrap();

    // The parent instance has no peer: Master. The VLAN instance hears keepalived (200).
    let settled = wait_for(TRANSITION, || {
        (agent_state(&agent.proc, "PARENT") == Some("Master")
            && agent_state(&agent.proc, "VLAN") == Some("Backup"))
        .then_some(())
    });
    assert!(
        settled.is_some(),
        "PARENT should be Master and VLAN Backup\n{}",
        logs(&[&agent.proc, &ka])
    );
    std::thread::sleep(HOLD);
    assert_eq!(agent_state(&agent.proc, "PARENT"), Some("Master"));
    assert_eq!(
        transitions(&agent.proc, "VLAN", "Backup", "Master"),
        0,
        "the VLAN instance never took over from keepalived\n{}",
        logs(&[&agent.proc, &ka])
    );
    assert!(has_addr(&a, &a_if, "198.18.0.100"));
    assert!(!has_addr(&a, &a_vl, "198.18.1.100"), "no split brain");
    assert!(has_addr(&b, &b_vl, "198.18.1.100"));
    let ka_log = ka.log_text();
    let since_master = ka_log
        .split_once("Entering MASTER STATE")
        .map_or("", |(_, r)| r);
    assert!(
        !since_master.contains("Entering BACKUP STATE"),
        "keepalived stayed Master\n{ka_log}"
    );

    // Records keyed to the VLAN device, none to the parent.
    let valid = valid_by_iface(&agent.pins);
    let on_vlan = valid
        .get(&(u64::from(a_vl_ifindex), 51))
        .copied()
        .unwrap_or(0);
    assert!(on_vlan >= 3, "keepalived's adverts on the VLAN: {valid:?}");
    assert_eq!(
        valid.get(&(u64::from(a_ifindex), 51)),
        None,
        "nothing for the parent: {valid:?}"
    );

    // Hard failover on the VLAN: the VLAN instance's master-down watchdog fires.
    ka.signal(libc::SIGKILL);
    let took_over = wait_for(TRANSITION, || {
        (agent_state(&agent.proc, "VLAN") == Some("Master")).then_some(())
    });
    assert!(
        took_over.is_some(),
        "the VLAN instance takes over when keepalived dies\n{}",
        logs(&[&agent.proc])
    );
    assert!(wait_for(TRANSITION, || has_addr(&a, &a_vl, "198.18.1.100")
        .then_some(()))
    .is_some());
    assert_eq!(agent_state(&agent.proc, "PARENT"), Some("Master"));
}

#[test]
fn same_vrid_on_veth_and_its_vlan_tag_offloaded() {
    same_vrid_on_parent_and_vlan(false);
}

#[test]
fn same_vrid_on_veth_and_its_vlan_tag_in_frame() {
    same_vrid_on_parent_and_vlan(true);
}

/// Creates an active-backup bond with `slaves` in `ns`, `addr` on it, all up.
fn add_bond(ns: &Netns, slaves: &[&str], addr: &str) -> String {
    let name = unique("vlbo");
    ns.ip(&[
        "link",
        "add",
        &name,
        "type",
        "bond",
        "mode",
        "active-backup",
        "miimon",
        "100",
    ])
    .unwrap();
    for s in slaves {
        ns.ip(&["link", "set", s, "down"]).unwrap();
        ns.ip(&["link", "set", s, "master", &name]).unwrap();
        ns.ip(&["link", "set", s, "up"]).unwrap();
    }
    // Both ends prefer their first slave: two independent choices could pick the two ends
    // of different veths, and an active-backup bond drops what its inactive slave receives.
    ns.ip(&["link", "set", &name, "type", "bond", "primary", slaves[0]])
        .unwrap();
    ns.ip(&["addr", "add", addr, "dev", &name]).unwrap();
    ns.ip(&["link", "set", &name, "up"]).unwrap();
    name
}

/// The bond's active slave, from `ip -d link show` ("active_slave NAME").
fn active_slave(ns: &Netns, bond: &str) -> String {
    ns.ip(&["-d", "link", "show", bond])
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .skip_while(|w| *w != "active_slave")
                .nth(1)
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[test]
fn bond_of_two_veths() {
    if !bond_supported() {
        return;
    }
    let dir = TempDir::new("vrrp-vb").unwrap();
    let (a, b) = (Netns::new("vla").unwrap(), Netns::new("vlb").unwrap());
    let (a1, b1, a2, b2) = (unique("vla"), unique("vlb"), unique("vla"), unique("vlb"));
    veth(&a, &a1, &b, &b1).unwrap();
    veth(&a, &a2, &b, &b2).unwrap();
    let a_bond = add_bond(&a, &[&a1, &a2], "198.18.2.1/24");
    let b_bond = add_bond(&b, &[&b1, &b2], "198.18.2.2/24");
    let bond_ifindex = a.ifindex(&a_bond).unwrap();

    let mut ka = keepalived(
        &b,
        dir.path(),
        "ka",
        &instance("K", &b_bond, 52, 200, "198.18.2.100"),
    )
    .unwrap();
    ka.wait_log("Entering MASTER STATE", TRANSITION).unwrap();
    let mut agent = start_agent(
        &a,
        dir.path(),
        "agent",
        &instance("BOND", &a_bond, 52, 100, "198.18.2.100"),
    )
    .unwrap();
    agent.proc.wait_log("XDP attached", TRANSITION).unwrap();
    assert!(
        agent
            .proc
            .log_text()
            .lines()
            .any(|l| l.contains("XDP attached") && l.contains("mode=skb")),
        "a bond is attached in SKB mode\n{}",
        agent.proc.log_text()
    );
    let backup = wait_for(TRANSITION, || {
        (agent_state(&agent.proc, "BOND") == Some("Backup")).then_some(())
    });
    assert!(backup.is_some(), "{}", logs(&[&agent.proc, &ka]));
    let recorded = |at: &str| {
        let v = valid_by_iface(&agent.pins);
        let n = v.get(&(u64::from(bond_ifindex), 52)).copied().unwrap_or(0);
        assert!(
            v.keys().all(|&(i, _)| i == u64::from(bond_ifindex)),
            "{at}: only the bond's ifindex: {v:?}"
        );
        n
    };
    assert!(
        wait_for(TRANSITION, || (recorded("before") >= 2).then_some(())).is_some(),
        "adverts recorded under the bond: {:?}\n{}",
        valid_by_iface(&agent.pins),
        logs(&[&agent.proc, &ka])
    );

    // Slave failover: the active slave's link goes down on both sides' bonds.
    let first = active_slave(&a, &a_bond);
    a.ip(&["link", "set", &first, "down"]).unwrap();
    let moved = wait_for(TRANSITION, || {
        let now = active_slave(&a, &a_bond);
        (!now.is_empty() && now != first).then_some(now)
    });
    assert!(moved.is_some(), "the bond fails over from {first}");
    let before = recorded("after slave failover");
    std::thread::sleep(HOLD);
    assert!(
        recorded("after slave failover") >= before + 2,
        "adverts keep coming through the other slave"
    );
    assert_eq!(
        transitions(&agent.proc, "BOND", "Backup", "Master"),
        0,
        "no takeover while keepalived advertises\n{}",
        logs(&[&agent.proc, &ka])
    );

    // VRRP failover.
    ka.signal(libc::SIGKILL);
    let took_over = wait_for(TRANSITION, || {
        (agent_state(&agent.proc, "BOND") == Some("Master")
            && has_addr(&a, &a_bond, "198.18.2.100"))
        .then_some(())
    });
    assert!(took_over.is_some(), "{}", logs(&[&agent.proc]));
}

/// A VRRPv2 advert (no auth, 1 s) for `vrid` at `priority` from `src`, in a frame tagged
/// with VLAN `vid` (the tag in the frame).
fn tagged_advert(vrid: u8, priority: u8, src: Ipv4Addr, vid: u16) -> Vec<u8> {
    let repr = Repr {
        version: Version::V2,
        vrid,
        priority,
        max_adver_int: vrrp_agent::units::Centisecs::new(100),
        addresses: vec![IpAddr::V4(Ipv4Addr::new(198, 18, 3, 100))],
        auth: Auth::None,
    };
    FrameBuilder::new(&repr, Endpoints::multicast(IpAddr::V4(src)))
        .unwrap()
        .vlan(vid)
        .build()
}

/// (vrid, source) of each VRRP frame a capture on a VLAN device saw (untagged there).
fn vrrp_seen(frames: &[vrrp_tests::Captured]) -> Vec<(u8, Ipv4Addr)> {
    frames
        .iter()
        .filter_map(|c| {
            let f = &c.frame;
            (f.len() >= 14 + 20 + 8 && f[12..14] == [0x08, 0x00] && f[23] == 112).then(|| {
                let ihl = usize::from(f[14] & 0x0f) * 4;
                (
                    f.get(14 + ihl + 1).copied().unwrap_or(0),
                    Ipv4Addr::new(f[26], f[27], f[28], f[29]),
                )
            })
        })
        .collect()
}

#[test]
fn tagged_adverts_for_a_vlan_the_agent_does_not_serve_reach_it() {
    if !vlan_supported() {
        return;
    }
    let dir = TempDir::new("vrrp-vu").unwrap();
    let (a, b) = (Netns::new("vla").unwrap(), Netns::new("vlb").unwrap());
    let (a_if, b_if) = (unique("vla"), unique("vlb"));
    veth(&a, &a_if, &b, &b_if).unwrap();
    a.ip(&["addr", "add", "198.18.0.1/24", "dev", &a_if])
        .unwrap();
    b.ip(&["addr", "add", "198.18.0.2/24", "dev", &b_if])
        .unwrap();
    let a_vl = add_vlan(&a, &a_if, 200, "198.18.3.1/24");
    let b_vl = add_vlan(&b, &b_if, 200, "198.18.3.2/24");

    let agent = start_agent(
        &a,
        dir.path(),
        "agent",
        &instance("PARENT", &a_if, 51, 100, "198.18.0.100"),
    )
    .unwrap();
    assert!(
        wait_for(TRANSITION, || (agent_state(&agent.proc, "PARENT")
            == Some("Master"))
        .then_some(()))
        .is_some(),
        "{}",
        agent.proc.log_text()
    );
    let cap = Capture::start(&a, &a_vl, 500, Duration::from_secs(120)).unwrap();

    // Tag in the frame: an unknown VRID, and the parent's VRID at a higher priority (which
    // would make PARENT Backup if it counted for the parent).
    let src = Ipv4Addr::new(198, 18, 3, 2);
    let sock = PacketSocket::open(&b, &b_if).unwrap();
    for _ in 0..3 {
        sock.send(&tagged_advert(77, 150, src, 200)).unwrap();
        sock.send(&tagged_advert(51, 250, src, 200)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    // Tag offloaded: keepalived on the VLAN, unknown VRID for the agent.
    let mut ka = keepalived(
        &b,
        dir.path(),
        "ka",
        &instance("K", &b_vl, 78, 200, "198.18.3.100"),
    )
    .unwrap();
    ka.wait_log("Entering MASTER STATE", TRANSITION).unwrap();
    // keepalived advertises every second as Master.
    std::thread::sleep(Duration::from_secs(5));
    let seen = vrrp_seen(&cap.finish().unwrap());
    let count = |vrid| seen.iter().filter(|(v, s)| *v == vrid && *s == src).count();
    assert!(count(77) >= 3, "crafted VRID 77 reached the VLAN: {seen:?}");
    assert!(count(51) >= 3, "crafted VRID 51 reached the VLAN: {seen:?}");
    assert!(
        count(78) >= 2,
        "keepalived's adverts reached the VLAN: {seen:?}"
    );
    assert_eq!(
        transitions(&agent.proc, "PARENT", "Master", "Backup"),
        0,
        "the VLAN's VRID 51 at priority 250 did not count for the parent\n{}",
        logs(&[&agent.proc, &ka])
    );
    assert_eq!(agent_state(&agent.proc, "PARENT"), Some("Master"));
}

/// How many VLAN devices the scale test puts on each side.
const VLANS: u16 = 64;

/// VIPs of the scale test (198.19.<i>.100) that `ns` holds.
fn vlan_vips(ns: &Netns) -> usize {
    ns.ip(&["-4", "-o", "addr", "show"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("198.19.") && l.contains(".100/"))
        .count()
}

/// Instances on 64 VLAN interfaces of one veth (one instance per VLAN, every one with the
/// same VRID, so that only the VLAN tells them apart): two agents start, elect (A, priority
/// 200, Master of all 64), A stops (resigning each) and B takes all 64 over, B stops; no VIP
/// and no pin is left behind.
#[test]
fn instances_on_64_vlans_elect_fail_over_and_stop_cleanly() {
    if !vlan_supported() {
        return;
    }
    let dir = TempDir::new("stv").unwrap();
    let (a, b) = (Netns::new("stva").unwrap(), Netns::new("stvb").unwrap());
    let (a_if, b_if) = (unique("stva"), unique("stvb"));
    veth(&a, &a_if, &b, &b_if).unwrap();
    let (mut conf_a, mut conf_b) = (String::new(), String::new());
    for i in 0..VLANS {
        let vid = 200 + i;
        let a_vl = add_vlan(&a, &a_if, vid, &format!("198.19.{i}.1/24"));
        let b_vl = add_vlan(&b, &b_if, vid, &format!("198.19.{i}.2/24"));
        let vip = format!("198.19.{i}.100");
        conf_a += &instance(&format!("A{i}"), &a_vl, 64, 200, &vip);
        conf_b += &instance(&format!("B{i}"), &b_vl, 64, 100, &vip);
    }
    let all = usize::from(VLANS);
    let mut ra = start_agent(&a, dir.path(), "stva", &conf_a).unwrap();
    let up = wait_for(TRANSITION * 2, || (vlan_vips(&a) == all).then_some(()));
    assert!(
        up.is_some(),
        "A holds {} of {all} VIPs\n{}",
        vlan_vips(&a),
        logs(&[&ra.proc])
    );
    let mut rb = start_agent(&b, dir.path(), "stvb", &conf_b).unwrap();
    std::thread::sleep(HOLD);
    assert_eq!(
        vlan_vips(&b),
        0,
        "B took over from a live Master\n{}",
        logs(&[&ra.proc, &rb.proc])
    );
    assert_eq!(
        vlan_vips(&a),
        all,
        "A lost VIPs\n{}",
        logs(&[&ra.proc, &rb.proc])
    );

    ra.proc.signal(libc::SIGTERM);
    let st = ra.proc.wait_timeout(TRANSITION).expect("A did not stop");
    assert!(st.success(), "A failed to stop\n{}", logs(&[&ra.proc]));
    assert_eq!(vlan_vips(&a), 0, "A left VIPs behind");
    let over = wait_for(TRANSITION * 2, || (vlan_vips(&b) == all).then_some(()));
    assert!(
        over.is_some(),
        "B holds {} of {all} VIPs after A stopped\n{}",
        vlan_vips(&b),
        logs(&[&rb.proc])
    );
    rb.proc.signal(libc::SIGTERM);
    let st = rb.proc.wait_timeout(TRANSITION).expect("B did not stop");
    assert!(st.success(), "B failed to stop\n{}", logs(&[&rb.proc]));
    assert_eq!(vlan_vips(&b), 0, "B left VIPs behind");
    assert!(!ra.pins.exists() && !rb.pins.exists(), "pins left behind");
}
