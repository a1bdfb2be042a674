//! Reloads that change a running pair without flapping it (issue 12, "Reload without
//! flapping"), with two real agents on a bridged LAN in network namespaces (prefix `rl`),
//! a client, and a capture of what each router sends (its switch port). Needs root.
//!
//! Each test changes a running Master/Backup pair by `vrrp-agent reload` and checks what
//! the client and the wire see: no priority-0 advert, no state change on either node, no
//! advert gap beyond a generous bound, and the change itself in effect (a VIP answering
//! ping and announced by gratuitous ARP, a VIP gone, a new interval in the adverts, a new
//! peer table).
use std::{
    net::Ipv4Addr,
    path::PathBuf,
    time::{Duration, Instant},
};

use vrrp_tests::{
    agent_bin, start_agent_with, wait_for, Agent, Capture, Captured, Lan, LanHost, TempDir,
};

const A_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const VIP1: &str = "198.18.0.100";
const VIP2: &str = "198.18.0.101";
const VIP3: &str = "198.18.0.102";
/// Generous bound for an election or a reload's effect on a busy machine.
const SETTLE: Duration = Duration::from_secs(20);
/// The largest gap between two adverts of the Master tolerated around a reload: the
/// interval is 0.1 s, a restart costs at least a Master_Down_Interval (> 0.3 s) plus the
/// Backup's takeover; this bound only catches that, not scheduling noise.
const GAP: Duration = Duration::from_millis(900);

/// One VRRP advert a router sent, as the capture saw it.
#[derive(Debug, Clone)]
struct Adv {
    at: Instant,
    dst: Ipv4Addr,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addrs: Vec<Ipv4Addr>,
}

fn ip4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// The VRRPv3 adverts in `frames`.
fn adverts(frames: &[Captured]) -> Vec<Adv> {
    frames
        .iter()
        .filter_map(|c| {
            let f = &c.frame;
            if f.get(12..14)? != [0x08, 0x00] {
                return None;
            }
            let ihl = usize::from(f.get(14)? & 0x0f) * 4;
            let ip = f.get(14..14 + ihl)?;
            if ip[9] != 112 {
                return None;
            }
            let v = f.get(14 + ihl..)?;
            let n = usize::from(*v.get(3)?);
            let addrs = (0..n)
                .map(|k| v.get(8 + 4 * k..12 + 4 * k).map(ip4))
                .collect::<Option<Vec<_>>>()?;
            Some(Adv {
                at: c.at,
                dst: ip4(&ip[16..20]),
                vrid: v[1],
                priority: v[2],
                interval_cs: u16::from_be_bytes([v[4] & 0x0f, v[5]]),
                addrs,
            })
        })
        .collect()
}

/// The addresses announced by gratuitous ARP in `frames` (sender = target address).
fn garps(frames: &[Captured]) -> Vec<(Instant, Ipv4Addr)> {
    frames
        .iter()
        .filter_map(|c| {
            let f = &c.frame;
            if f.get(12..14)? != [0x08, 0x06] {
                return None;
            }
            let (spa, tpa) = (f.get(28..32)?, f.get(38..42)?);
            (spa == tpa).then(|| (c.at, ip4(spa)))
        })
        .collect()
}

/// The longest gap between consecutive adverts of `vrid` in `adv` within [from, to].
fn longest_gap(adv: &[Adv], vrid: u8, from: Instant, to: Instant) -> Duration {
    let times: Vec<Instant> = adv
        .iter()
        .filter(|a| a.vrid == vrid && a.at >= from && a.at <= to)
        .map(|a| a.at)
        .collect();
    let mut gap = Duration::ZERO;
    for w in times.windows(2) {
        gap = gap.max(w[1] - w[0]);
    }
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        gap = gap.max(*first - from).max(to - *last);
    } else {
        gap = to - from;
    }
    gap
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// One instance block (v3, advert_int `int`); `extra` goes inside it.
fn instance(
    name: &str,
    iface: &str,
    vrid: u8,
    prio: u8,
    int: &str,
    vips: &[&str],
    extra: &str,
) -> String {
    let vips: String = vips.iter().map(|v| format!("  {v}/24\n")).collect();
    format!(
        "vrrp_instance {name} {{\n state BACKUP\n interface {iface}\n virtual_router_id {vrid}\n \
         priority {prio}\n version 3\n advert_int {int}\n virtual_ipaddress {{\n{vips} }}\n{extra}}}\n"
    )
}

/// A router of the lab: its agent, control socket and configuration file.
struct Node {
    agent: Agent,
    sock: PathBuf,
    conf: PathBuf,
}

/// Two routers (A, B) and a client on one bridge; captures of what A and B send. Dropped
/// in field order: agents, captures, then the namespaces and files.
struct Lab {
    a: Node,
    b: Node,
    cap_a: Capture,
    cap_b: Capture,
    lan: Lan,
    _dir: TempDir,
}

impl Lab {
    /// Starts A on `conf_a(iface)`, waits until it holds `master_vip`, then B on
    /// `conf_b(iface)`; captures start before B does.
    fn start(
        tag: &str,
        conf_a: impl Fn(&str) -> String,
        conf_b: impl Fn(&str) -> String,
        master_vip: &str,
    ) -> Lab {
        let dir = TempDir::new(tag).unwrap();
        let mut lan = Lan::new_tagged(tag).unwrap();
        lan.add_host(&format!("{tag}a"), A_ADDR).unwrap();
        lan.add_host(&format!("{tag}b"), B_ADDR).unwrap();
        lan.add_host(&format!("{tag}c"), CLIENT).unwrap();
        let cap_a = Capture::start(&lan.switch, &lan.hosts[0].port, 200_000, SETTLE * 6).unwrap();
        let cap_b = Capture::start(&lan.switch, &lan.hosts[1].port, 200_000, SETTLE * 6).unwrap();
        let node = |i: usize, name: &str, text: String| {
            let sock = dir.path().join(format!("{name}.sock"));
            let agent = start_agent_with(
                &lan.hosts[i].ns,
                dir.path(),
                name,
                &text,
                &["--control-socket", &sock.to_string_lossy()],
            )
            .unwrap();
            Node {
                agent,
                sock,
                conf: dir.path().join(format!("{name}.conf")),
            }
        };
        let a = node(0, "a", conf_a(&lan.hosts[0].iface));
        let up = wait_for(SETTLE, || lan.hosts[0].has_addr(master_vip).then_some(()));
        assert!(up.is_some(), "A not Master:\n{}", a.agent.proc.log_text());
        let b = node(1, "b", conf_b(&lan.hosts[1].iface));
        // B is Backup once it has heard A (and A has not stepped down).
        std::thread::sleep(Duration::from_millis(500));
        assert!(lan.hosts[0].has_addr(master_vip));
        assert!(!lan.hosts[1].has_addr(master_vip));
        Lab {
            a,
            b,
            cap_a,
            cap_b,
            lan,
            _dir: dir,
        }
    }

    fn host(&self, i: usize) -> &LanHost {
        &self.lan.hosts[i]
    }

    fn client(&self) -> &LanHost {
        &self.lan.hosts[2]
    }

    /// Writes `text` as node `i`'s configuration and runs `vrrp-agent reload`; its output.
    fn reload(&self, i: usize, text: &str) -> String {
        let node = if i == 0 { &self.a } else { &self.b };
        std::fs::write(&node.conf, text).unwrap();
        let out = self
            .host(i)
            .ns
            .command(agent_bin().unwrap())
            .args(["reload", "--control-socket"])
            .arg(&node.sock)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "reload failed: {text}");
        text
    }

    fn transitions(&self) -> (usize, usize) {
        (
            count(&self.a.agent.proc.log_text(), " transitions="),
            count(&self.b.agent.proc.log_text(), " transitions="),
        )
    }

    fn logs(&self) -> String {
        format!(
            "--- A:\n{}\n--- B:\n{}",
            self.a.agent.proc.log_text(),
            self.b.agent.proc.log_text()
        )
    }

    /// No priority-0 advert from either node since `since`, no state change since
    /// `before`, and A's adverts of `vrid` never more than [`GAP`] apart until now.
    fn no_flap(&self, since: Instant, before: (usize, usize), vrid: u8) {
        let (sa, sb) = (adverts(&self.cap_a.seen()), adverts(&self.cap_b.seen()));
        let zero: Vec<_> = sa
            .iter()
            .chain(&sb)
            .filter(|a| a.at >= since && a.priority == 0)
            .collect();
        assert!(
            zero.is_empty(),
            "priority-0 adverts: {zero:?}\n{}",
            self.logs()
        );
        assert_eq!(
            self.transitions(),
            before,
            "a state changed:\n{}",
            self.logs()
        );
        let gap = longest_gap(&sa, vrid, since, Instant::now());
        eprintln!("longest gap between A's adverts of VRID {vrid} around the reload: {gap:?}");
        assert!(
            gap < GAP,
            "A's adverts stopped for {gap:?}\n{}",
            self.logs()
        );
    }
}

/// Waits (bounded) until A has sent at least `n` adverts of `vrid` after `since` that
/// satisfy `f`; returns them.
fn wait_adverts(
    cap: &Capture,
    since: Instant,
    vrid: u8,
    n: usize,
    f: impl Fn(&Adv) -> bool,
) -> Option<Vec<Adv>> {
    wait_for(SETTLE, || {
        let v: Vec<Adv> = adverts(&cap.seen())
            .into_iter()
            .filter(|a| a.at > since && a.vrid == vrid && f(a))
            .collect();
        (v.len() >= n).then_some(v)
    })
}

#[test]
fn vips_added_and_removed_a_rename_and_a_new_interval_are_taken_in_place() {
    let conf = |name: &'static str, prio: u8, int: &'static str, vips: &'static [&'static str]| {
        move |iface: &str| instance(name, iface, 51, prio, int, vips, "")
    };
    let lab = Lab::start(
        "rlv",
        conf("VI_1", 150, "0.1", &[VIP1, VIP2]),
        conf("VI_1", 100, "0.1", &[VIP1, VIP2]),
        VIP1,
    );
    assert!(lab.client().ping(VIP2), "{}", lab.logs());

    // VIP2 goes, VIP3 comes, on both nodes (the Backup first, as an operator would).
    let before = lab.transitions();
    let since = Instant::now();
    let b_out = lab.reload(
        1,
        &instance(
            "VI_1",
            &lab.host(1).iface,
            51,
            100,
            "0.1",
            &[VIP1, VIP3],
            "",
        ),
    );
    let a_out = lab.reload(
        0,
        &instance(
            "VI_1",
            &lab.host(0).iface,
            51,
            150,
            "0.1",
            &[VIP1, VIP3],
            "",
        ),
    );
    let what = "VI_1: changed in place (virtual_ipaddress (+198.18.0.102 -198.18.0.101))";
    assert!(a_out.contains(what), "{a_out}");
    assert!(b_out.contains(what), "{b_out}");
    let announced = wait_for(SETTLE, || {
        garps(&lab.cap_a.seen())
            .iter()
            .any(|(at, a)| *at > since && a.to_string() == VIP3)
            .then_some(())
    });
    assert!(
        announced.is_some(),
        "no gratuitous ARP for {VIP3}:\n{}",
        lab.logs()
    );
    assert!(lab.host(0).has_addr(VIP3) && lab.host(0).has_addr(VIP1));
    assert!(
        !lab.host(0).has_addr(VIP2),
        "{VIP2} still on A:\n{}",
        lab.logs()
    );
    assert!(!lab.host(1).has_addr(VIP3) && !lab.host(1).has_addr(VIP2));
    assert!(
        lab.client().ping(VIP3),
        "{VIP3} unreachable:\n{}",
        lab.logs()
    );
    assert!(!lab.client().ping(VIP2), "{VIP2} still answers");
    // The adverts carry the new list.
    let vip3: Ipv4Addr = VIP3.parse().unwrap();
    let new_list = wait_adverts(&lab.cap_a, since, 51, 3, |a| a.addrs.contains(&vip3));
    assert!(
        new_list.is_some(),
        "A's adverts lack {VIP3}:\n{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    lab.no_flap(since, before, 51);

    // A rename (same VRID and interface): kept, nothing else happens.
    let since = Instant::now();
    let out = lab.reload(
        0,
        &instance(
            "VI_R",
            &lab.host(0).iface,
            51,
            150,
            "0.1",
            &[VIP1, VIP3],
            "",
        ),
    );
    assert!(
        out.contains("VI_R: changed in place (renamed from VI_1)"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(500));
    lab.no_flap(since, before, 51);
    assert!(lab.host(0).has_addr(VIP1) && lab.host(0).has_addr(VIP3));
    assert!(wait_adverts(&lab.cap_a, since, 51, 3, |a| a.priority == 150).is_some());

    // A new interval on the Master only: the Backup learns it from the adverts (v3) and
    // does not take over, although its own configuration still says 0.1 s.
    let since = Instant::now();
    let out = lab.reload(
        0,
        &instance(
            "VI_R",
            &lab.host(0).iface,
            51,
            150,
            "0.5",
            &[VIP1, VIP3],
            "",
        ),
    );
    assert!(
        out.contains("VI_R: changed in place (advert_int 0.10s -> 0.50s)"),
        "{out}"
    );
    let slow = wait_adverts(&lab.cap_a, since, 51, 5, |a| a.interval_cs == 50)
        .unwrap_or_else(|| panic!("no adverts at 0.5 s:\n{}", lab.logs()));
    let spacing: Vec<Duration> = slow.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("advert spacing after the change: {spacing:?}");
    assert!(
        spacing.iter().all(|d| *d > Duration::from_millis(300)),
        "adverts still at the old interval: {spacing:?}"
    );
    // Beyond three old intervals plus skew: a Backup that had not learned would be Master.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(lab.transitions(), before, "{}", lab.logs());
    assert!(!lab.host(1).has_addr(VIP1), "B took over:\n{}", lab.logs());
    let zero = adverts(&lab.cap_a.seen())
        .iter()
        .chain(&adverts(&lab.cap_b.seen()))
        .any(|a| a.at >= since && a.priority == 0);
    assert!(!zero, "{}", lab.logs());
    assert!(!lab.logs().contains("panicked"));
}

#[test]
fn a_vrid_swap_leaves_every_vip_on_its_node() {
    // A is Master of both instances; the swap gives VI_1 VRID 52 and VI_2 VRID 51, each
    // keeping its VIP (keepalived #2364 loses VIPs here).
    let two = |prio: u8, swapped: bool| {
        move |iface: &str| {
            let (v1, v2) = if swapped { (52, 51) } else { (51, 52) };
            instance("VI_1", iface, v1, prio, "0.1", &[VIP1], "")
                + &instance("VI_2", iface, v2, prio, "0.1", &[VIP2], "")
        }
    };
    let lab = Lab::start("rls", two(150, false), two(100, false), VIP1);
    let both = wait_for(SETTLE, || lab.host(0).has_addr(VIP2).then_some(()));
    assert!(both.is_some(), "{}", lab.logs());
    let before = lab.transitions();
    let since = Instant::now();
    let b_out = lab.reload(1, &two(100, true)(&lab.host(1).iface));
    let a_out = lab.reload(0, &two(150, true)(&lab.host(0).iface));
    for out in [&a_out, &b_out] {
        assert!(
            out.contains("VI_2: changed in place (renamed from VI_1, virtual_ipaddress (+198.18.0.101 -198.18.0.100))")
                && out.contains("VI_1: changed in place (renamed from VI_2, virtual_ipaddress (+198.18.0.100 -198.18.0.101))"),
            "{out}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    for vip in [VIP1, VIP2] {
        assert!(
            lab.host(0).has_addr(vip),
            "{vip} lost on A:\n{}",
            lab.logs()
        );
        assert!(!lab.host(1).has_addr(vip), "{vip} on B:\n{}", lab.logs());
        assert!(lab.client().ping(vip), "{vip} unreachable:\n{}", lab.logs());
    }
    // VRID 51 now advertises VI_2's address, VRID 52 VI_1's.
    let (v1, v2): (Ipv4Addr, Ipv4Addr) = (VIP1.parse().unwrap(), VIP2.parse().unwrap());
    assert!(wait_adverts(&lab.cap_a, since, 51, 3, |a| a.addrs == [v2]).is_some());
    assert!(wait_adverts(&lab.cap_a, since, 52, 3, |a| a.addrs == [v1]).is_some());
    lab.no_flap(since, before, 51);
    lab.no_flap(since, before, 52);
    // Still so a while later (no removal event undoes it).
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        lab.host(0).has_addr(VIP1) && lab.host(0).has_addr(VIP2),
        "{}",
        lab.logs()
    );

    // Swapped back, one of them also becoming the address owner (a restart): the router
    // of VRID 51 restarts as VI_1 while the router of VRID 52, still called VI_1 until
    // this reload renames it to VI_2, goes on. Both must live on.
    let iface = lab.host(0).iface.clone();
    let out = lab.reload(
        0,
        &(instance("VI_1", &iface, 51, 255, "0.1", &[VIP2], "")
            + &instance("VI_2", &iface, 52, 150, "0.1", &[VIP1], "")),
    );
    assert!(
        out.contains("VI_1: restarted (priority 150 -> 255 (address owner))")
            && out.contains("VI_2: changed in place (renamed from VI_1)"),
        "{out}"
    );
    let since = Instant::now();
    assert!(
        wait_adverts(&lab.cap_a, since, 52, 5, |a| a.priority == 150).is_some(),
        "VRID 52 went quiet:\n{}",
        lab.logs()
    );
    assert!(
        wait_adverts(&lab.cap_a, since, 51, 5, |a| a.priority == 255).is_some(),
        "VRID 51 did not come back as owner:\n{}",
        lab.logs()
    );
    for vip in [VIP1, VIP2] {
        let held = wait_for(SETTLE, || lab.host(0).has_addr(vip).then_some(()));
        assert!(held.is_some(), "{vip} lost on A:\n{}", lab.logs());
    }
    assert!(
        !lab.a.agent.proc.log_text().contains("still registered"),
        "{}",
        lab.logs()
    );
}

#[test]
fn preempt_is_taken_in_place() {
    // A (priority 100) is Master; B (150, nopreempt) stays Backup. Dropping nopreempt on
    // B makes it take over, with no restart (no priority-0 advert from anyone).
    let lab = Lab::start(
        "rlp",
        |iface| instance("VI_1", iface, 51, 100, "0.1", &[VIP1], ""),
        |iface| instance("VI_1", iface, 51, 150, "0.1", &[VIP1], " nopreempt\n"),
        VIP1,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lab.host(1).has_addr(VIP1), "B preempted despite nopreempt");
    let since = Instant::now();
    let out = lab.reload(
        1,
        &instance("VI_1", &lab.host(1).iface, 51, 150, "0.1", &[VIP1], ""),
    );
    assert!(out.contains("VI_1: changed in place (preempt)"), "{out}");
    let took = wait_for(SETTLE, || lab.host(1).has_addr(VIP1).then_some(()));
    assert!(took.is_some(), "B did not preempt:\n{}", lab.logs());
    let gone = wait_for(SETTLE, || (!lab.host(0).has_addr(VIP1)).then_some(()));
    assert!(gone.is_some(), "{}", lab.logs());
    let zero = adverts(&lab.cap_a.seen())
        .iter()
        .chain(&adverts(&lab.cap_b.seen()))
        .any(|a| a.at >= since && a.priority == 0);
    assert!(!zero, "priority-0 advert: a restart\n{}", lab.logs());
    let b_log = lab.b.agent.proc.log_text();
    assert!(b_log.contains("Backup -> Master"), "{b_log}");
    assert!(!b_log.contains("-> Initialize"), "B restarted:\n{b_log}");
    assert!(lab.client().ping(VIP1));
}

#[test]
fn unicast_peers_added_and_removed_in_place() {
    let uc = |src: Ipv4Addr, prio: u8, peers: &[Ipv4Addr]| {
        let peers: String = peers.iter().map(|p| format!("  {p}\n")).collect();
        let extra = format!(" unicast_src_ip {src}\n unicast_peer {{\n{peers} }}\n");
        move |iface: &str| instance("VI_1", iface, 51, prio, "0.1", &[VIP1], &extra)
    };
    let lab = Lab::start(
        "rlu",
        uc(A_ADDR, 150, &[B_ADDR]),
        uc(B_ADDR, 100, &[A_ADDR]),
        VIP1,
    );
    let before = lab.transitions();

    // A (Master) adds the client as a peer: its adverts go to both.
    let since = Instant::now();
    let out = lab.reload(0, &uc(A_ADDR, 150, &[B_ADDR, CLIENT])(&lab.host(0).iface));
    assert!(
        out.contains("VI_1: changed in place (unicast_peer (+198.18.0.10))"),
        "{out}"
    );
    assert!(
        wait_adverts(&lab.cap_a, since, 51, 3, |a| a.dst == CLIENT).is_some(),
        "{}",
        lab.logs()
    );
    assert!(wait_adverts(&lab.cap_a, since, 51, 3, |a| a.dst == B_ADDR).is_some());
    lab.no_flap(since, before, 51);

    // And removes it again: none to the client after a moment.
    let out = lab.reload(0, &uc(A_ADDR, 150, &[B_ADDR])(&lab.host(0).iface));
    assert!(out.contains("(unicast_peer (-198.18.0.10))"), "{out}");
    let since = Instant::now();
    assert!(wait_adverts(&lab.cap_a, since, 51, 5, |a| a.dst == B_ADDR).is_some());
    let to_client = adverts(&lab.cap_a.seen())
        .iter()
        .filter(|a| a.at > since && a.dst == CLIENT)
        .count();
    assert_eq!(to_client, 0, "{}", lab.logs());
    lab.no_flap(since, before, 51);

    // B's kernel peer table follows too: with the client added B still accepts A (no
    // takeover); with A removed it discards A's adverts and takes over.
    let since = Instant::now();
    let out = lab.reload(1, &uc(B_ADDR, 100, &[A_ADDR, CLIENT])(&lab.host(1).iface));
    assert!(
        out.contains("changed in place (unicast_peer (+198.18.0.10))"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    lab.no_flap(since, before, 51);
    assert!(!lab.host(1).has_addr(VIP1));
    let out = lab.reload(1, &uc(B_ADDR, 100, &[CLIENT])(&lab.host(1).iface));
    assert!(
        out.contains("changed in place (unicast_peer (-198.18.0.1))"),
        "{out}"
    );
    let took = wait_for(SETTLE, || lab.host(1).has_addr(VIP1).then_some(()));
    assert!(
        took.is_some(),
        "B still accepts A's adverts:\n{}",
        lab.logs()
    );
    assert!(!lab.b.agent.proc.log_text().contains("-> Initialize"));
}
