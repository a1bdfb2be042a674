//! The agent's addresses and interfaces under real operations, in network namespaces: an
//! address owner keeps its real address (SIGTERM, FAULT, start-up clean-up), a VIP with
//! `dev X` is announced on X with X's MAC, a failed VIP add is retried until it works, a VIP
//! removed behind a Master's back makes it resign and take it again (as keepalived 2.2.7),
//! and an interface that changes its MAC or is re-created is picked up. Needs root.
use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use vrrp_agent::{
    netlink::{self, VIP_PROTO},
    wire::{arp::GarpRepr, MacAddr},
};
use vrrp_tests::{
    in_netns, link_mac, start_agent, unique, veth, wait_for, Agent, Capture, Netns, TempDir,
};

/// Upper bound for anything that takes well under a second on an idle machine.
const PATIENCE: Duration = Duration::from_secs(15);

/// An agent's namespace and a peer's, joined by a veth pair: the agent at .1/24, the peer
/// at .2/24 of 198.18.`net`.0/24.
struct Pair {
    a: Netns,
    b: Netns,
    a_if: String,
    b_if: String,
    net: u8,
    dir: TempDir,
}

impl Pair {
    fn new(tag: &str, net: u8) -> Result<Pair> {
        let a = Netns::new(&format!("{tag}a"))?;
        let b = Netns::new(&format!("{tag}b"))?;
        let (a_if, b_if) = (unique(&format!("{tag}a")), unique(&format!("{tag}b")));
        veth(&a, &a_if, &b, &b_if)?;
        a.ip(&["addr", "add", &format!("198.18.{net}.1/24"), "dev", &a_if])?;
        b.ip(&["addr", "add", &format!("198.18.{net}.2/24"), "dev", &b_if])?;
        Ok(Pair {
            a,
            b,
            a_if,
            b_if,
            net,
            dir: TempDir::new(&format!("vrrp-{tag}"))?,
        })
    }

    fn addr(&self, host: u8) -> String {
        format!("198.18.{}.{host}", self.net)
    }

    fn start(&self, tag: &str, conf: &str) -> Result<Agent> {
        start_agent(&self.a, self.dir.path(), tag, conf)
    }
}

/// Whether `addr` is on `dev` in `ns` (`ip -o addr show dev DEV`).
fn has_addr(ns: &Netns, dev: &str, addr: &str) -> bool {
    ns.ip(&["-o", "addr", "show", "dev", dev])
        .map(|s| {
            s.split_whitespace()
                .any(|w| w.split('/').next() == Some(addr))
        })
        .unwrap_or(false)
}

/// Occurrences of `needle` in the agent's log.
fn count(agent: &Agent, needle: &str) -> usize {
    agent.proc.log_text().matches(needle).count()
}

/// Waits until the agent's log holds `needle` `n` times.
fn wait_count(agent: &Agent, needle: &str, n: usize) -> Result<()> {
    wait_for(PATIENCE, || (count(agent, needle) >= n).then_some(())).with_context(|| {
        format!(
            "{needle:?} not logged {n} times within {PATIENCE:?}:\n{}",
            agent.proc.log_text()
        )
    })
}

/// An instance block: v3, 0.1 s adverts, `vips` lines inside virtual_ipaddress.
fn instance(iface: &str, vrid: u8, priority: u8, vips: &[String]) -> String {
    format!(
        "vrrp_instance VI_{vrid} {{\n    interface {iface}\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    version 3\n    advert_int 0.1\n    virtual_ipaddress {{\n        {}\n    }}\n}}\n",
        vips.join("\n        ")
    )
}

/// The addresses of `dev` in `ns` with their IFA_PROTO, read through the agent's netlink.
fn protos(ns: &Netns, dev: &str) -> Result<Vec<(IpAddr, u8)>> {
    let index = ns.ifindex(dev)?;
    in_netns(ns, || {
        netlink::block_on(async move {
            let nl = netlink::Netlink::connect().await?;
            let addrs = nl.addresses(index).await?;
            Ok(addrs.into_iter().map(|a| (a.addr, a.proto)).collect())
        })?
    })
}

/// Adds `addr/24` to `dev` in `ns` as the agent adds a VIP (marked with IFA_PROTO), as a
/// previous run killed with SIGKILL would have left it.
fn add_as_agent(ns: &Netns, dev: &str, addr: &str) -> Result<()> {
    let index = ns.ifindex(dev)?;
    let vip = vrrp_agent::config::VirtualAddress {
        addr: addr.parse()?,
        prefix_len: 24,
        brd: None,
        dev: None,
        scope: None,
        label: None,
        location: Default::default(),
    };
    in_netns(ns, move || {
        netlink::block_on(async move {
            let nl = netlink::Netlink::connect().await?;
            ensure!(nl.add_address(index, &vip).await?, "was already there");
            Ok(())
        })?
    })
}

/// An address owner (priority 255) whose VIP is an address the host configured: it keeps
/// it when it goes to FAULT and when it stops (SIGTERM), and start-up does not take it away;
/// the VIPs the agent added go in each case. A VIP a killed run added (IFA_PROTO marked) is
/// removed at start-up.
#[test]
fn address_owner_keeps_its_real_address() -> Result<()> {
    let p = Pair::new("ado", 40)?;
    let (real, vip, left) = (p.addr(5), p.addr(50), p.addr(51));
    p.a.ip(&["addr", "add", &format!("{real}/24"), "dev", &p.a_if])?;
    add_as_agent(&p.a, &p.a_if, &left)?;
    let protos_before = protos(&p.a, &p.a_if)?;
    ensure!(
        protos_before.contains(&(left.parse()?, VIP_PROTO)),
        "the kernel keeps IFA_PROTO: {protos_before:?}"
    );
    let conf = instance(
        &p.a_if,
        40,
        255,
        &[
            format!("{real}/24"),
            format!("{vip}/24"),
            format!("{left}/24"),
        ],
    );
    let mut agent = p.start("owner", &conf)?;
    wait_count(&agent, "-> Master", 1)?;
    let log = agent.proc.log_text();
    ensure!(
        log.contains(&format!("address owner: {real} is on the interface")),
        "{log}"
    );
    ensure!(
        log.contains("removed a VIP left by a previous run") && log.contains(&left),
        "{log}"
    );
    for a in [&real, &vip, &left] {
        ensure!(has_addr(&p.a, &p.a_if, a), "{a} missing as Master");
    }
    // What the agent added carries its mark; the real address does not.
    let marks = protos(&p.a, &p.a_if)?;
    ensure!(marks.contains(&(vip.parse()?, VIP_PROTO)), "{marks:?}");
    ensure!(!marks.contains(&(real.parse()?, VIP_PROTO)), "{marks:?}");

    // FAULT (interface down; IPv4 addresses stay on a down interface): the added VIPs go,
    // the real address stays.
    p.a.ip(&["link", "set", &p.a_if, "down"])?;
    wait_count(&agent, "-> Fault", 1)?;
    wait_for(PATIENCE, || (!has_addr(&p.a, &p.a_if, &vip)).then_some(()))
        .context("the added VIP stayed in FAULT")?;
    ensure!(
        has_addr(&p.a, &p.a_if, &real),
        "the real address went in FAULT"
    );
    ensure!(!has_addr(&p.a, &p.a_if, &left));
    p.a.ip(&["link", "set", &p.a_if, "up"])?;
    wait_count(&agent, "-> Master", 2)?;
    ensure!(has_addr(&p.a, &p.a_if, &vip));

    // SIGTERM: the same.
    agent.proc.signal(libc::SIGTERM);
    let status = agent.proc.wait_timeout(PATIENCE).context("no exit")?;
    ensure!(status.success(), "{status}");
    ensure!(
        has_addr(&p.a, &p.a_if, &real),
        "SIGTERM removed the owner's real address:\n{}",
        agent.proc.log_text()
    );
    ensure!(!has_addr(&p.a, &p.a_if, &vip), "SIGTERM left {vip}");
    ensure!(!has_addr(&p.a, &p.a_if, &left), "SIGTERM left {left}");
    Ok(())
}

/// The frames received on `dev` in `ns` during `secs` seconds (at most 2000).
fn frames_during(
    ns: &Netns,
    dev: &str,
    limit: Duration,
    act: impl FnOnce() -> Result<()>,
) -> Result<Vec<Vec<u8>>> {
    let cap = Capture::start(ns, dev, 2000, limit)?;
    act()?;
    std::thread::sleep(limit);
    Ok(cap.finish()?.into_iter().map(|c| c.frame).collect())
}

/// A VIP with `dev X` is announced on X, from X's MAC; the instance's interface carries
/// only the announcements of its own VIPs.
#[test]
fn garp_for_a_vip_with_dev_goes_out_on_that_interface() -> Result<()> {
    let p = Pair::new("adg", 41)?;
    let (x_a, x_b) = (unique("adgx"), unique("adgy"));
    veth(&p.a, &x_a, &p.b, &x_b)?;
    let x_mac = link_mac(&p.a, &x_a)?;
    let a_mac = link_mac(&p.a, &p.a_if)?;
    let (on_x, on_a) = (p.addr(60), p.addr(61));
    let conf = instance(
        &p.a_if,
        41,
        100,
        &[format!("{on_x}/24 dev {x_a}"), format!("{on_a}/24")],
    );
    let cap_x = Capture::start(&p.b, &x_b, 2000, PATIENCE)?;
    let cap_a = Capture::start(&p.b, &p.b_if, 2000, PATIENCE)?;
    let agent = p.start("garp", &conf)?;
    wait_count(&agent, "-> Master", 1)?;
    ensure!(has_addr(&p.a, &x_a, &on_x), "{on_x} not on {x_a}");
    // keepalived's default schedule: 5 at once; give them time to arrive.
    std::thread::sleep(Duration::from_millis(500));
    let garps = |frames: Vec<vrrp_tests::Captured>| -> Vec<GarpRepr> {
        frames
            .iter()
            .filter_map(|c| GarpRepr::parse(&c.frame).ok())
            .collect()
    };
    let seen_x = garps(cap_x.finish()?);
    let seen_a = garps(cap_a.finish()?);
    let want_x: std::net::Ipv4Addr = on_x.parse()?;
    let want_a: std::net::Ipv4Addr = on_a.parse()?;
    ensure!(
        seen_x
            .iter()
            .any(|g| g.addr == want_x && g.sender_mac == x_mac),
        "no GARP for {on_x} from {x_mac} on {x_b}: {seen_x:?}"
    );
    ensure!(
        seen_x
            .iter()
            .all(|g| g.addr == want_x && g.sender_mac == x_mac),
        "wrong GARPs on {x_b}: {seen_x:?}"
    );
    // Positive control on the instance's interface: its own VIP, with its MAC, and never
    // the other one.
    ensure!(
        seen_a
            .iter()
            .any(|g| g.addr == want_a && g.sender_mac == a_mac),
        "no GARP for {on_a} on {}: {seen_a:?}",
        p.b_if
    );
    ensure!(
        seen_a.iter().all(|g| g.addr != want_x),
        "{on_x} announced on the instance's interface: {seen_a:?}"
    );
    Ok(())
}

/// keepalived's `garp_extra_if all N`: while Master, the addresses on other interfaces are
/// announced again every N seconds; those on the instance's own interface are not.
#[test]
fn garp_extra_if_all_repeats_the_other_interfaces_announcements() -> Result<()> {
    let p = Pair::new("adx", 43)?;
    let (x_a, x_b) = (unique("adxx"), unique("adxy"));
    veth(&p.a, &x_a, &p.b, &x_b)?;
    let (on_x, on_a) = (p.addr(60), p.addr(61));
    // One gratuitous ARP on becoming Master and no second burst, so whatever follows is
    // the periodic one.
    let conf = format!(
        "global_defs {{\n    vrrp_garp_master_repeat 1\n    vrrp_garp_master_delay 0\n}}\n{}",
        instance(
            &p.a_if,
            43,
            100,
            &[format!("{on_x}/24 dev {x_a}"), format!("{on_a}/24")],
        )
        .replace(
            "    advert_int 0.1\n",
            "    advert_int 0.1\n    garp_extra_if all 1\n"
        )
    );
    let window = Duration::from_secs(5);
    let cap_x = Capture::start(&p.b, &x_b, 2000, PATIENCE)?;
    let cap_a = Capture::start(&p.b, &p.b_if, 2000, PATIENCE)?;
    let agent = p.start("extra", &conf)?;
    wait_count(&agent, "-> Master", 1)?;
    std::thread::sleep(window);
    let count_for = |frames: Vec<vrrp_tests::Captured>, addr: &str| -> Result<usize> {
        let want: std::net::Ipv4Addr = addr.parse()?;
        Ok(frames
            .iter()
            .filter_map(|c| GarpRepr::parse(&c.frame).ok())
            .filter(|g| g.addr == want)
            .count())
    };
    let on_x_seen = count_for(cap_x.finish()?, &on_x)?;
    let on_a_seen = count_for(cap_a.finish()?, &on_a)?;
    // 1 at once, then one a second: at least 3 in 5 s even on a slow machine.
    ensure!(
        on_x_seen >= 3,
        "{on_x} (dev {x_a}) announced {on_x_seen} times in {window:?}, want the periodic ones"
    );
    // Control: the instance's own interface got its single burst only.
    ensure!(
        on_a_seen == 1,
        "{on_a} announced {on_a_seen} times on the instance's own interface, want 1"
    );
    Ok(())
}

/// A VIP add that fails (its `dev` does not exist yet) puts the instance in FAULT, is logged
/// with the errno, and is tried again with backoff; once the interface exists the instance
/// is Master with the VIP, without any link flap of its own interface.
#[test]
fn a_failed_vip_add_is_retried_until_it_works() -> Result<()> {
    let p = Pair::new("adr", 42)?;
    let dummy = unique("adrd");
    let vip = p.addr(70);
    let conf = instance(&p.a_if, 42, 100, &[format!("{vip}/24 dev {dummy}")]);
    let agent = p.start("retry", &conf)?;
    wait_count(&agent, "trying again in", 3)?;
    let log = agent.proc.log_text();
    ensure!(log.contains("(ENODEV)"), "no errno in the log:\n{log}");
    // The missing interface is checked without leaving FAULT: no election round (and no
    // priority-0 advert to other routers) per try.
    ensure!(count(&agent, "-> Fault") == 1, "{log}");
    ensure!(!log.contains("interface is back up"), "{log}");
    // (No dummy module on every host: a veth pair inside the namespace will do.)
    let peer = unique("adre");
    p.a.ip(&["link", "add", &dummy, "type", "veth", "peer", "name", &peer])?;
    p.a.ip(&["link", "set", &dummy, "up"])?;
    let t0 = Instant::now();
    wait_for(PATIENCE, || has_addr(&p.a, &dummy, &vip).then_some(()))
        .with_context(|| format!("{vip} never added:\n{}", agent.proc.log_text()))?;
    let took = t0.elapsed();
    wait_for(PATIENCE, || {
        let log = agent.proc.log_text();
        let last = log.lines().rfind(|l| l.contains(" -> "))?.to_owned();
        last.contains("-> Master").then_some(())
    })
    .with_context(|| format!("not Master at the end:\n{}", agent.proc.log_text()))?;
    let log = agent.proc.log_text();
    ensure!(
        !log.contains("interface is back up"),
        "recovered through a link flap:\n{log}"
    );
    eprintln!("VIP taken {took:?} after its interface appeared");
    Ok(())
}

/// The priority field of the VRRP adverts among `frames` (IPv4, no IP options).
fn advert_priorities(frames: &[Vec<u8>], vrid: u8) -> Vec<u8> {
    frames
        .iter()
        .filter(|f| f.len() >= 14 + 20 + 8 && f[12..14] == [0x08, 0x00] && f[23] == 112)
        .filter(|f| f[14 + 20 + 1] == vrid)
        .map(|f| f[14 + 20 + 2])
        .collect()
}

/// A VIP removed from a Master by someone else (`ip addr del`): as keepalived 2.2.7 does,
/// the Master logs it, resigns with a priority-0 advert, and (alone on the link) becomes
/// Master again after Skew_Time with the VIP back.
#[test]
fn a_vip_removed_behind_a_masters_back_comes_back_after_a_reelection() -> Result<()> {
    let p = Pair::new("add", 43)?;
    let vip = p.addr(80);
    let conf = instance(&p.a_if, 43, 100, &[format!("{vip}/24")]);
    let agent = p.start("deleted", &conf)?;
    wait_count(&agent, "-> Master", 1)?;
    ensure!(has_addr(&p.a, &p.a_if, &vip));
    let t0 = Instant::now();
    let frames = frames_during(&p.b, &p.b_if, Duration::from_secs(2), || {
        p.a.ip(&["addr", "del", &format!("{vip}/24"), "dev", &p.a_if])
            .map(drop)
    })?;
    wait_count(&agent, "-> Master", 2)?;
    wait_for(PATIENCE, || has_addr(&p.a, &p.a_if, &vip).then_some(()))
        .context("the VIP did not come back")?;
    let back = t0.elapsed();
    let log = agent.proc.log_text();
    ensure!(log.contains("removed by someone else"), "{log}");
    ensure!(
        log.contains("Master -> Backup: a VIP was removed by someone else"),
        "{log}"
    );
    let prios = advert_priorities(&frames, 43);
    ensure!(prios.contains(&0), "no priority-0 advert: {prios:?}");
    ensure!(prios.contains(&100), "positive control: {prios:?}");
    // Skew_Time for priority 100 at 0.1 s is ~61 ms; far below the bound.
    ensure!(back < PATIENCE, "{back:?}");
    eprintln!("VIP back {back:?} after `ip addr del`");
    Ok(())
}

/// VRRP adverts for `vrid` among `frames` from Ethernet source `mac`.
fn adverts_from(frames: &[vrrp_tests::Captured], vrid: u8, mac: MacAddr) -> usize {
    frames
        .iter()
        .filter(|c| c.frame.get(6..12) == Some(&mac.0[..]))
        .filter(|c| !advert_priorities(std::slice::from_ref(&c.frame), vrid).is_empty())
        .count()
}

/// A Master whose interface gets a new MAC: its next adverts (prebuilt AF_PACKET frames)
/// and a gratuitous ARP carry the new MAC.
#[test]
fn a_masters_adverts_follow_a_mac_change() -> Result<()> {
    let p = Pair::new("adm", 44)?;
    let vip = p.addr(90);
    let conf = instance(&p.a_if, 44, 100, &[format!("{vip}/24")]);
    let agent = p.start("mac", &conf)?;
    wait_count(&agent, "-> Master", 1)?;
    let old = link_mac(&p.a, &p.a_if)?;
    let new = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x44, 0x01]);
    let cap = Capture::start(&p.b, &p.b_if, 2000, Duration::from_secs(4))?;
    std::thread::sleep(Duration::from_millis(500));
    let changed_at = Instant::now();
    p.a.ip(&["link", "set", "dev", &p.a_if, "address", &new.to_string()])?;
    ensure!(link_mac(&p.a, &p.a_if)? == new, "the MAC did not change");
    std::thread::sleep(Duration::from_secs(2));
    let frames = cap.finish()?;
    let (before, after): (Vec<_>, Vec<_>) = frames.into_iter().partition(|c| c.at < changed_at);
    // Positive control: adverts from the old MAC before the change.
    ensure!(
        adverts_from(&before, 44, old) >= 2,
        "no adverts before the change"
    );
    // 0.1 s adverts for ~2 s: expect ~20; only frames a little after the change count.
    let settled: Vec<_> = after
        .iter()
        .filter(|c| c.at > changed_at + Duration::from_millis(500))
        .cloned()
        .collect();
    let n_new = adverts_from(&settled, 44, new);
    let n_old = adverts_from(&settled, 44, old);
    ensure!(
        n_new >= 5 && n_old == 0,
        "adverts after the change: {n_new} from {new}, {n_old} from {old}:\n{}",
        agent.proc.log_text()
    );
    let want: std::net::Ipv4Addr = vip.parse()?;
    ensure!(
        after.iter().any(|c| GarpRepr::parse(&c.frame)
            .is_ok_and(|g| g.addr == want && g.sender_mac == new)),
        "no GARP from the new MAC"
    );
    ensure!(
        count(&agent, "Master -> ") == 0,
        "the MAC change caused a transition:\n{}",
        agent.proc.log_text()
    );
    Ok(())
}

/// A Backup whose interface is deleted and created again (new ifindex): once it is back
/// it follows the Master again (XDP sees the Master's adverts on the new interface, so it
/// does not take over), and when the Master stops it takes over, adds the VIP on the new
/// interface and advertises there.
#[test]
fn a_backup_keeps_working_after_its_interface_is_recreated() -> Result<()> {
    let mut lan = vrrp_tests::Lan::new()?;
    let a = lan.add_host("adla", "198.18.45.1".parse()?)?;
    let b = lan.add_host("adlb", "198.18.45.2".parse()?)?;
    let dir = TempDir::new("vrrp-adl")?;
    let vip = "198.18.45.100";
    let (ha, hb) = (&lan.hosts[a], &lan.hosts[b]);
    let master = start_agent(
        &hb.ns,
        dir.path(),
        "lb",
        &instance(&hb.iface, 45, 200, &[format!("{vip}/24")]),
    )?;
    wait_count(&master, "-> Master", 1)?;
    let backup = start_agent(
        &ha.ns,
        dir.path(),
        "la",
        &instance(&ha.iface, 45, 100, &[format!("{vip}/24")]),
    )?;
    wait_count(&backup, "-> Backup", 1)?;
    let old_index = ha.ns.ifindex(&ha.iface)?;

    ha.ns.ip(&["link", "del", &ha.iface])?;
    wait_count(&backup, "interface down or without carrier", 1)?;
    vrrp_tests::ip(&[
        "link",
        "add",
        &ha.iface,
        "netns",
        ha.ns.name(),
        "type",
        "veth",
        "peer",
        "name",
        &ha.port,
        "netns",
        lan.switch.name(),
    ])?;
    lan.switch.ip(&["link", "set", &ha.port, "master", "br0"])?;
    lan.switch.ip(&["link", "set", &ha.port, "up"])?;
    // Up before it has its address: the advert socket cannot be bound yet, so the
    // instance stays in FAULT until the address comes.
    ha.ns.ip(&["link", "set", &ha.iface, "up"])?;
    ensure!(ha.ns.ifindex(&ha.iface)? != old_index, "same ifindex");
    wait_count(&backup, "XDP attached to the re-created interface", 1)?;
    wait_count(&backup, "to send adverts from; waiting for it", 1)?;
    // Time for the agent to see the link up (it takes milliseconds).
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        count(&backup, "-> Backup") == 1,
        "{}",
        backup.proc.log_text()
    );
    ha.ns
        .ip(&["addr", "add", "198.18.45.1/24", "dev", &ha.iface])?;
    // "usable again" from the address event; "back up" if the agent only saw the link come
    // up after the address was there (a very slow machine).
    wait_for(PATIENCE, || {
        let log = backup.proc.log_text();
        (log.contains("interface is usable again") || log.contains("interface is back up"))
            .then_some(())
    })
    .with_context(|| format!("never usable:\n{}", backup.proc.log_text()))?;
    let via_address = count(&backup, "interface is usable again") > 0;
    eprintln!("usable again after the address event: {via_address}");
    wait_count(&backup, "-> Backup", 2)?;
    // Master_Down_Interval is ~0.36 s: two seconds as Backup means it hears the Master.
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        count(&backup, "-> Master") == 0,
        "took over while the Master was alive:\n{}",
        backup.proc.log_text()
    );

    let cap = Capture::start(&lan.switch, &ha.port, 2000, PATIENCE)?;
    master.proc.signal(libc::SIGTERM);
    wait_count(&backup, "-> Master", 1)?;
    wait_for(PATIENCE, || ha.has_addr(vip).then_some(()))
        .with_context(|| format!("no VIP:\n{}", backup.proc.log_text()))?;
    std::thread::sleep(Duration::from_millis(500));
    let frames = cap.finish()?;
    let mac = link_mac(&ha.ns, &ha.iface)?;
    ensure!(
        adverts_from(&frames, 45, mac) >= 2,
        "no adverts on the new interface:\n{}",
        backup.proc.log_text()
    );
    Ok(())
}
