//! Hostile input from a third host on the LAN. Two agents (Master at priority 150, Backup at
//! 100) run two instances side by side: VI_3 (VRRPv3, advert_int 0.1) and VI_2 (VRRPv2 with
//! auth_type PASS, advert_int 1), so that the fast v3 timers and the v2 password check are
//! attacked at once. Once they are stable, an attacker floods the LAN for 10 s with, in turn:
//! - adverts for a VRID nobody runs;
//! - valid lower-priority (50) adverts for both live VRIDs;
//! - v2 adverts with a wrong password (at priority 254: if one got through, the Master would
//!   step down);
//! - malformed VRRP, each at priority 254: bad checksum, bad version, bad type, TTL 1, an
//!   address count larger than the message, a truncated packet.
//!
//! Meanwhile the client pings both VIPs every 100 ms and every ping must be answered;
//! neither agent may log a state transition; the VIPs never move; the Master sends its
//! normal adverts and keepalived's answer to the attacker's lower priority (one extra
//! advert and the garp_lower_prio bursts per instance; captured on its switch port), and the
//! Backup sends nothing; and the Master's XDP counted every kind of discard.
//!
//! Needs root.
use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints, MacAddr,
    },
};
use vrrp_tests::{
    bpftool_counters, bpftool_peers, start_agent, wait_for, Agent, Capture, Captured, Lan,
    PacketSocket, TempDir,
};

const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 10);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 66);
/// VI_3: VRRPv3, advert_int 0.1.
const VRID_V3: u8 = 51;
const VIP_V3: &str = "198.18.5.100";
const INTERVAL_V3: Duration = Duration::from_millis(100);
/// VI_2: VRRPv2, auth_type PASS, advert_int 1.
const VRID_V2: u8 = 52;
const VIP_V2: &str = "198.18.5.101";
const INTERVAL_V2: Duration = Duration::from_secs(1);
const PASSWORD: &[u8] = b"s3cret";
/// A VRID configured nowhere.
const VRID_UNUSED: u8 = 99;

/// The flood: this long, at this rate (packets per second; `VRRP_HOSTILE_PPS` overrides it
/// for a heavier run by hand, e.g. 50000), and never more than FLOOD_FOR's worth of packets.
///
/// 10,000 a second, 100,000 in all: every kind thousands of times over, and within what a
/// 2-core machine busy with a build can deliver. At 50,000 (22,700 reached) beside a build,
/// the bridge's softirq fell behind: r1's adverts and r2's reached the other side ~0.37 s
/// late, r2's Master_Down_Interval (0.36 s at advert_int 0.1) ran out and it took over for
/// 0.37 s. That is the machine's capacity, which is for a benchmark to measure; what this
/// test asserts is that the hostile packets themselves change nothing.
const FLOOD_FOR: Duration = Duration::from_secs(10);
const FLOOD_RATE: u64 = 10_000;
/// Lines either agent may log during the flood: the XDP program wakes it only when
/// something changes (here, once per instance for the attacker's new source).
const MAX_LOG_LINES: usize = 20;
/// keepalived's default garp_master_delay: the second burst of gratuitous ARPs after
/// becoming Master. The flood starts after it, so that any gratuitous ARP seen during the
/// flood is a reaction to it.
const GARP_MASTER_DELAY: Duration = Duration::from_secs(5);

/// Both instances, in keepalived.conf syntax.
fn conf(iface: &str, priority: u8) -> String {
    let pass = std::str::from_utf8(PASSWORD).unwrap();
    format!(
        r#"global_defs {{
    router_id hostile
}}
vrrp_instance VI_3 {{
    state BACKUP
    interface {iface}
    virtual_router_id {VRID_V3}
    priority {priority}
    version 3
    advert_int 0.1
    virtual_ipaddress {{
        {VIP_V3}/24 dev {iface}
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface {iface}
    virtual_router_id {VRID_V2}
    priority {priority}
    version 2
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass {pass}
    }}
    virtual_ipaddress {{
        {VIP_V2}/24 dev {iface}
    }}
}}
"#
    )
}

/// One kind of hostile packet.
struct Hostile {
    what: &'static str,
    /// The discard counter (VRID, name) it must land in on the Master; `None`: a valid
    /// advert, passed to the election, which must ignore it.
    counter: Option<(u64, &'static str)>,
    frame: Vec<u8>,
}

/// Every kind of hostile packet, from the attacker's MAC.
fn hostile_frames(src_mac: MacAddr) -> Vec<Hostile> {
    let src = IpAddr::V4(ATTACKER);
    let ip = Endpoints::multicast(src);
    let v3 = |vrid: u8, priority: u8, vip: &str| Repr {
        version: Version::V3,
        vrid,
        priority,
        max_adver_int: Centisecs::new(10),
        addresses: vec![vip.parse().unwrap()],
        auth: Auth::None,
    };
    let v2 = |vrid: u8, priority: u8, pass: &[u8]| Repr {
        version: Version::V2,
        vrid,
        priority,
        max_adver_int: Centisecs::new(100),
        addresses: vec![VIP_V2.parse().unwrap()],
        auth: Auth::pass(pass),
    };
    let frame = |repr: &Repr| FrameBuilder::new(repr, ip).unwrap().src_mac(src_mac);
    let forged = v3(VRID_V3, 254, VIP_V3);
    vec![
        Hostile {
            what: "unused VRID",
            counter: Some((u64::from(VRID_UNUSED), "unknown_vrid")),
            frame: frame(&v3(VRID_UNUSED, 254, VIP_V3)).build(),
        },
        Hostile {
            what: "lower priority v3",
            counter: None,
            frame: frame(&v3(VRID_V3, 50, VIP_V3)).build(),
        },
        Hostile {
            what: "lower priority v2",
            counter: None,
            frame: frame(&v2(VRID_V2, 50, PASSWORD)).build(),
        },
        Hostile {
            what: "wrong password",
            counter: Some((u64::from(VRID_V2), "bad_auth_pass")),
            frame: frame(&v2(VRID_V2, 254, b"guessed!")).build(),
        },
        Hostile {
            what: "bad checksum",
            counter: Some((u64::from(VRID_V3), "bad_checksum")),
            frame: frame(&forged).vrrp_checksum(0x1234).build(),
        },
        Hostile {
            // A v2 advert for the v3 instance.
            what: "bad version",
            counter: Some((u64::from(VRID_V3), "bad_version")),
            frame: frame(&Repr {
                addresses: vec![VIP_V3.parse().unwrap()],
                ..v2(VRID_V3, 254, PASSWORD)
            })
            .build(),
        },
        Hostile {
            what: "bad type",
            counter: Some((u64::from(VRID_V3), "bad_type")),
            frame: frame(&forged).version_type(0x32).build(),
        },
        Hostile {
            what: "TTL 1",
            counter: Some((u64::from(VRID_V3), "bad_ttl")),
            frame: frame(&forged).ttl(1).build(),
        },
        Hostile {
            what: "count beyond the message",
            counter: Some((u64::from(VRID_V3), "bad_length")),
            frame: frame(&forged).count(9).build(),
        },
        Hostile {
            // A well-formed IP packet whose VRRP message ends 2 bytes into its checksum:
            // shorter than a VRRP header, so the VRID is not read (counted under VRID 0).
            // (A frame shorter than its IP length would not get this far: the lab's bridge,
            // with br_netfilter's IP checks, drops it.)
            what: "truncated",
            counter: Some((0, "truncated")),
            frame: FrameBuilder::from_vrrp_bytes(ip, &frame(&forged).build()[34..40])
                .src_mac(src_mac)
                .build(),
        },
    ]
}

fn parse_mac(s: &str) -> MacAddr {
    let mut mac = [0u8; 6];
    for (b, part) in mac.iter_mut().zip(s.split(':')) {
        *b = u8::from_str_radix(part, 16).unwrap();
    }
    MacAddr(mac)
}

/// What a captured frame is, as far as this test cares.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Sent {
    /// A VRRP advert for this VRID.
    Advert(u8),
    /// A gratuitous ARP (sender IP = target IP).
    Garp,
    Other,
}

fn classify(frame: &[u8]) -> Sent {
    let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match ethertype {
        Some(0x0800) if frame.len() >= 34 && frame[23] == 112 => {
            let ihl = usize::from(frame[14] & 0x0f) * 4;
            frame
                .get(14 + ihl + 1)
                .map_or(Sent::Other, |&vrid| Sent::Advert(vrid))
        }
        Some(0x0806) if frame.len() >= 42 && frame[28..32] == frame[38..42] => Sent::Garp,
        _ => Sent::Other,
    }
}

/// How many frames of each kind were captured between `from` and `to`.
fn tally(frames: &[Captured], from: Instant, to: Instant) -> BTreeMap<Sent, u64> {
    let mut out = BTreeMap::new();
    for c in frames.iter().filter(|c| c.at >= from && c.at <= to) {
        *out.entry(classify(&c.frame)).or_insert(0) += 1;
    }
    out
}

/// Lines of the agent's log that record a state transition ("Backup -> Master: ...").
fn transitions(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            ["Initialize", "Backup", "Master", "Fault"]
                .iter()
                .any(|s| l.contains(&format!("{s} -> ")))
        })
        .collect()
}

fn ping(lan: &Lan, vip: &str) -> std::process::Child {
    lan.hosts[2]
        .ns
        .command("ping")
        .args(["-n", "-q", "-i", "0.1", "-c", "100", "-W", "1", vip])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a ping started by [`ping`], at most `limit`; its summary, and whether every
/// echo was answered.
fn ping_result(mut child: std::process::Child, limit: Duration) -> (String, bool) {
    let done = wait_for(limit, || child.try_wait().ok().flatten());
    if done.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = out.status.success() && text.contains("100 packets transmitted, 100 received");
    (text, all)
}

#[test]
fn a_flood_of_hostile_adverts_changes_nothing() {
    let t0 = Instant::now();
    let mut lan = Lan::new().unwrap();
    lan.add_host("r1", R1).unwrap();
    lan.add_host("r2", R2).unwrap();
    lan.add_host("cl", CLIENT).unwrap();
    lan.add_host("ev", ATTACKER).unwrap();
    let dir = TempDir::new("vrrp-ho").unwrap();
    let r1 = start_agent(
        &lan.hosts[0].ns,
        dir.path(),
        "ho-r1",
        &conf(&lan.hosts[0].iface, 150),
    )
    .unwrap();
    let r2 = start_agent(
        &lan.hosts[1].ns,
        dir.path(),
        "ho-r2",
        &conf(&lan.hosts[1].iface, 100),
    )
    .unwrap();
    let logs = |agents: &[&Agent]| -> String {
        agents
            .iter()
            .map(|a| format!("--- {}\n{}", a.proc.what, a.proc.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Stable: r1 holds both VIPs, r2 neither, and the client reaches both at r1's MAC.
    let r1_mac = lan.hosts[0].mac();
    let stable = wait_for(Duration::from_secs(20), || {
        let h = &lan.hosts;
        (h[0].has_addr(VIP_V3)
            && h[0].has_addr(VIP_V2)
            && !h[1].has_addr(VIP_V3)
            && !h[1].has_addr(VIP_V2))
        .then_some(())
    });
    assert!(
        stable.is_some(),
        "r1 must be Master of both\n{}",
        logs(&[&r1, &r2])
    );
    for vip in [VIP_V3, VIP_V2] {
        let client = &lan.hosts[2];
        let ok = wait_for(Duration::from_secs(10), || {
            (client.ping(vip) && client.neigh_mac(vip).as_deref() == Some(r1_mac.as_str()))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "the client must reach {vip} at r1's MAC {r1_mac}"
        );
    }
    // The second burst of gratuitous ARPs (garp_master_delay after becoming Master) goes
    // out before the flood starts.
    std::thread::sleep(GARP_MASTER_DELAY + Duration::from_millis(500));
    let elected = t0.elapsed();

    let frames = hostile_frames(parse_mac(&lan.hosts[3].mac()));
    let sock = PacketSocket::open(&lan.hosts[3].ns, &lan.hosts[3].iface).unwrap();
    // What r1 and r2 send, as their switch ports receive it.
    let cap1 = Capture::start(
        &lan.switch,
        &lan.hosts[0].port,
        50_000,
        Duration::from_secs(20),
    )
    .unwrap();
    let cap2 = Capture::start(
        &lan.switch,
        &lan.hosts[1].port,
        50_000,
        Duration::from_secs(20),
    )
    .unwrap();
    let log_len = [r1.proc.log_text().len(), r2.proc.log_text().len()];
    let pings = [ping(&lan, VIP_V3), ping(&lan, VIP_V2)];
    // The Backup's own address is pinged too: its echo replies are what its port's capture
    // must see (the positive control for "the Backup sent nothing").
    let control = lan.hosts[2]
        .ns
        .command("ping")
        .args(["-n", "-q", "-i", "0.5", "-c", "15", "-W", "1"])
        .arg(R2.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // The flood, from its own thread, paced to `rate`; it stops after FLOOD_FOR or
    // `max_packets`, whichever comes first.
    let rate: u64 = std::env::var("VRRP_HOSTILE_PPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FLOOD_RATE);
    let max_packets = rate * FLOOD_FOR.as_secs();
    let flood = {
        let frames: Vec<Vec<u8>> = frames.iter().map(|h| h.frame.clone()).collect();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut sent = vec![0u64; frames.len()];
            let mut errors = 0u64;
            let mut total = 0u64;
            // The schedule: `total - base_n` packets are due `base_t` + their share of the
            // rate after the start.
            let (mut base_t, mut base_n) = (Duration::ZERO, 0u64);
            'flood: while total < max_packets {
                let elapsed = start.elapsed();
                if elapsed >= FLOOD_FOR {
                    break;
                }
                // Ahead of the rate: wait for it.
                let due = base_t + Duration::from_secs_f64((total - base_n) as f64 / rate as f64);
                if due > elapsed {
                    std::thread::sleep((due - elapsed).min(Duration::from_millis(5)));
                    continue;
                }
                // Behind it (this thread was not scheduled for a while): start the schedule
                // again from now rather than catch up. A catch-up burst of thousands of
                // packets, each forwarded to three ports, overflows the per-CPU backlog
                // (1000 packets) and drops the adverts and pings along with the flood: seen
                // on a loaded machine as a Backup taking over and 73% of the pings lost at
                // 8,300 packets/s.
                if elapsed - due > Duration::from_millis(10) {
                    (base_t, base_n) = (elapsed, total);
                }
                for (i, f) in frames.iter().enumerate() {
                    match sock.send(f) {
                        Ok(()) => sent[i] += 1,
                        Err(_) => errors += 1,
                    }
                    total += 1;
                    if total >= max_packets {
                        break 'flood;
                    }
                }
            }
            (start, Instant::now(), sent, errors)
        })
    };

    // Meanwhile the VIPs stay where they are.
    let mut moved = Vec::new();
    while !flood.is_finished() {
        let h = &lan.hosts;
        let holders = [
            h[0].has_addr(VIP_V3),
            h[0].has_addr(VIP_V2),
            h[1].has_addr(VIP_V3),
            h[1].has_addr(VIP_V2),
        ];
        if holders != [true, true, false, false] {
            moved.push(holders);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (start, end, sent, errors) = flood.join().unwrap();
    let pings = pings.map(|p| ping_result(p, Duration::from_secs(10)));
    let _ = ping_result(control, Duration::from_secs(10));
    let window = end - start;
    let (seen1, seen2) = (cap1.finish().unwrap(), cap2.finish().unwrap());
    let total: u64 = sent.iter().sum();
    let rate = total as f64 / window.as_secs_f64();
    let by_kind: Vec<String> = frames
        .iter()
        .zip(&sent)
        .map(|(h, n)| format!("{}: {n}", h.what))
        .collect();
    eprintln!(
        "flood: {total} packets in {window:?} = {rate:.0} packets/s ({errors} send errors); {}",
        by_kind.join(", ")
    );
    let all_logs = logs(&[&r1, &r2]);

    // Every ping answered.
    for ((text, all), vip) in pings.iter().zip([VIP_V3, VIP_V2]) {
        assert!(
            all,
            "pings to {vip} lost during the flood:\n{text}\n{all_logs}"
        );
    }
    // No transition in either agent, and the VIPs never moved.
    for (a, from) in [&r1, &r2].iter().zip(log_len) {
        let log = a.proc.log_text();
        let during = transitions(&log[from..]);
        let lines = log[from..].lines().count();
        assert!(
            lines <= MAX_LOG_LINES,
            "{} logged {lines} lines during the flood:\n{}",
            a.proc.what,
            &log[from..]
        );
        assert!(
            during.is_empty(),
            "{} changed state during the flood:\n{}\n{all_logs}",
            a.proc.what,
            during.join("\n")
        );
    }
    assert!(
        moved.is_empty(),
        "the VIPs moved during the flood (r1 v3, r1 v2, r2 v3, r2 v2): {moved:?}\n{all_logs}"
    );
    assert!(
        lan.hosts[0].has_addr(VIP_V3) && lan.hosts[0].has_addr(VIP_V2),
        "r1 must still hold both VIPs\n{all_logs}"
    );

    // The Master sent its usual adverts (one per interval, give or take the edges of the
    // window and a late timer) and answered the attacker's lower priority as keepalived
    // does, each time XDP reported it (a new source; again if the attacker's thread stalled
    // for more than three intervals on a busy machine), at most once per interval: an extra
    // advert (inside the slack) and garp_lower_prio_repeat (5) gratuitous ARPs at once and 5
    // more garp_lower_prio_delay (5 s) later, for its one VIP. The Backup sent nothing. The
    // capture stamps a frame when its thread reads it, which a busy machine delays: frames
    // from before the window can land in it, so the bound is half the schedule again plus
    // the slack. An agent that answered the flood would send thousands.
    let t1 = tally(&seen1, start, end);
    let t2 = tally(&seen2, start, end);
    eprintln!("r1 sent during the flood: {t1:?}; r2: {t2:?}");
    let count = |t: &BTreeMap<Sent, u64>, k: Sent| t.get(&k).copied().unwrap_or(0);
    for (vrid, interval, slack) in [(VRID_V3, INTERVAL_V3, 5), (VRID_V2, INTERVAL_V2, 2)] {
        let normal = (window.as_secs_f64() / interval.as_secs_f64()).round() as u64;
        let n = count(&t1, Sent::Advert(vrid));
        assert!(
            n <= normal + normal / 2 + slack,
            "r1 sent {n} adverts for VRID {vrid} in {window:?}; its schedule is {normal}"
        );
        // A Master that stopped advertising would have been replaced; this only says the
        // capture saw it.
        assert!(
            n >= normal / 2,
            "r1 sent only {n} adverts for VRID {vrid} in {window:?}; its schedule is {normal}"
        );
        assert_eq!(
            count(&t2, Sent::Advert(vrid)),
            0,
            "the Backup advertised VRID {vrid}"
        );
    }
    let replies = seen2
        .iter()
        .filter(|c| c.at >= start && c.at <= end)
        .filter(|c| {
            let f = &c.frame;
            // IPv4 (header of 20 bytes), ICMP echo reply, from r2.
            f.len() >= 35
                && f[12..14] == [8, 0]
                && f[14] == 0x45
                && f[23] == 1
                && f[26..30] == R2.octets()
                && f[34] == 0
        })
        .count();
    assert!(
        replies >= 3,
        "r2's port capture saw {replies} echo replies from r2 during the flood"
    );
    // As many answers as the advert slack allows (5 + 2), each two bursts of 5.
    let garps = count(&t1, Sent::Garp);
    assert!(
        garps <= (5 + 2) * 2 * 5,
        "r1 sent {garps} gratuitous ARPs: more than 7 answers of two bursts of 5\n{all_logs}"
    );
    assert_eq!(count(&t2, Sent::Garp), 0, "r2 sent gratuitous ARPs");

    // The Master's XDP counted every kind of discard, never more than was sent of it.
    let counters = bpftool_counters(&r1.pins);
    for (Hostile { what, counter, .. }, n) in frames.iter().zip(&sent) {
        let Some((vrid, name)) = counter else {
            continue;
        };
        let got = counters
            .get(&(*vrid, name.to_string()))
            .copied()
            .unwrap_or(0);
        assert!(
            got > 0 && got <= *n,
            "{what}: r1 counted {got} under VRID {vrid} {name}, {n} were sent; counters: {counters:?}"
        );
    }
    // The valid lower-priority adverts reached the election (as the attacker's peer
    // record), which ignored them.
    let peers = bpftool_peers(&r1.pins);
    for vrid in [VRID_V3, VRID_V2] {
        let attacker = peers.iter().find(|(v, _, rec)| {
            *v == u64::from(vrid)
                && rec["addr"].as_array().is_some_and(|a| {
                    a.iter()
                        .take(4)
                        .filter_map(|b| b.as_u64())
                        .eq(ATTACKER.octets().iter().map(|&b| u64::from(b)))
                })
        });
        assert!(
            attacker.is_some_and(|(_, _, rec)| rec["priority"] == 50),
            "r1 must have recorded the attacker's priority-50 adverts for VRID {vrid}: {peers:?}"
        );
    }
    eprintln!(
        "stable after {elected:?}; whole test {:?}; r1's counters: {counters:?}",
        t0.elapsed()
    );
}
