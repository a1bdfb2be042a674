//! A Master that hears a lower priority answers as keepalived 2.2.7 does
//! (vrrp_state_master_rx): an advert at once, and `garp_lower_prio_repeat` gratuitous ARPs
//! at once and again `garp_lower_prio_delay` later; but at most once per advert interval,
//! so that a flood of lower-priority adverts does not multiply its traffic. The same flood
//! shows that the per-event log lines are rate-limited.
//!
//! With `lower_prio_no_advert` (forced by strict mode) there is no answering advert, as the
//! RFC says, against an injected advert and against a real keepalived in strict mode.
//!
//! One agent (the Master) and an attacker (or keepalived) on a veth pair, in namespaces named
//! `sb...` (`hs...` for the lower_prio_no_advert tests); the attacker's side captures what
//! the Master sends. Needs root.
use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    units::{Centisecs, MonoTime},
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_tests::{
    keepalived, link_mac, start_agent_with, unique, veth, wait_for, Agent, Capture, Captured,
    Netns, PacketSocket, TempDir,
};

const MASTER: Ipv4Addr = Ipv4Addr::new(198, 18, 71, 1);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(198, 18, 71, 66);
const VIP: &str = "198.18.71.100";
const VRID: u8 = 71;

struct Lab {
    master: Netns,
    attacker: Netns,
    m_if: String,
    a_if: String,
    dir: TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab::named("sb")
    }

    /// The lab with namespaces, interfaces and directory named after `tag`.
    fn named(tag: &str) -> Lab {
        let master = Netns::new(&format!("{tag}m")).unwrap();
        let attacker = Netns::new(&format!("{tag}x")).unwrap();
        let (m_if, a_if) = (unique(&format!("{tag}m")), unique(&format!("{tag}x")));
        veth(&master, &m_if, &attacker, &a_if).unwrap();
        master
            .ip(&["addr", "add", &format!("{MASTER}/24"), "dev", &m_if])
            .unwrap();
        attacker
            .ip(&["addr", "add", &format!("{ATTACKER}/24"), "dev", &a_if])
            .unwrap();
        Lab {
            master,
            attacker,
            m_if,
            a_if,
            dir: TempDir::new(&format!("vrrp-{tag}l")).unwrap(),
        }
    }

    /// Starts the agent with one v3 instance of priority 254 and waits until it is Master.
    fn start_master(&self, advert_int: &str, garp: &str) -> Agent {
        let conf = format!(
            "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {}\n    virtual_router_id {VRID}\n    \
             priority 254\n    version 3\n    advert_int {advert_int}\n{garp}\n    virtual_ipaddress {{\n        \
             {VIP}/24\n    }}\n}}\n",
            self.m_if
        );
        let agent = start_agent_with(&self.master, self.dir.path(), "m", &conf, &[]).unwrap();
        let up = wait_for(Duration::from_secs(10), || {
            agent.proc.log_text().contains("-> Master").then_some(())
        });
        assert!(up.is_some(), "no Master\n{}", agent.proc.log_text());
        agent
    }

    /// A v3 advert for VRID from `src` at `priority`, from the attacker's MAC.
    fn advert(&self, src: Ipv4Addr, priority: u8) -> Vec<u8> {
        self.advert_every(src, priority, Centisecs::new(10))
    }

    /// [`Lab::advert`] with its Max Advertise Interval.
    fn advert_every(&self, src: Ipv4Addr, priority: u8, interval: Centisecs) -> Vec<u8> {
        let repr = Repr {
            version: Version::V3,
            vrid: VRID,
            priority,
            max_adver_int: interval,
            addresses: vec![VIP.parse().unwrap()],
            auth: Auth::None,
        };
        let mac = link_mac(&self.attacker, &self.a_if).unwrap();
        FrameBuilder::new(&repr, Endpoints::multicast(IpAddr::V4(src)))
            .unwrap()
            .src_mac(mac)
            .build()
    }
}

/// What a captured frame is.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Sent {
    Advert,
    Garp,
    Other,
}

fn classify(frame: &[u8]) -> Sent {
    match frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]])) {
        Some(0x0800)
            if frame.len() >= 34 && frame[23] == 112 && frame[26..30] == MASTER.octets() =>
        {
            Sent::Advert
        }
        Some(0x0806) if frame.len() >= 42 && frame[28..32] == frame[38..42] => Sent::Garp,
        _ => Sent::Other,
    }
}

fn count(frames: &[Captured], kind: Sent, from: Instant, to: Instant) -> usize {
    frames
        .iter()
        .filter(|c| c.at >= from && c.at < to && classify(&c.frame) == kind)
        .count()
}

/// The next multiple of `step` on CLOCK_MONOTONIC (the grid the agent advertises on).
fn next_grid_point(step: Duration) -> MonoTime {
    let step = step.as_nanos() as u64;
    let now = MonoTime::now().as_nanos();
    MonoTime::from_nanos((now / step + 1) * step)
}

#[test]
fn a_lower_priority_advert_is_answered_at_once_with_the_garp_lower_prio_bursts() {
    let lab = Lab::new();
    // advert_int 1: the Master advertises on the whole second of CLOCK_MONOTONIC. No second
    // burst after becoming Master, so that every gratuitous ARP below answers the advert.
    let m = lab.start_master(
        "1",
        "    garp_master_delay 0\n    garp_lower_prio_repeat 2\n    garp_lower_prio_delay 1",
    );
    // Past the first burst of gratuitous ARPs.
    std::thread::sleep(Duration::from_millis(500));
    let sock = PacketSocket::open(&lab.attacker, &lab.a_if).unwrap();
    let frame = lab.advert(ATTACKER, 100);
    let cap = Capture::start(&lab.attacker, &lab.a_if, 1000, Duration::from_secs(10)).unwrap();

    // 0.3 s after a whole second: the next scheduled advert is 0.7 s away.
    let grid = next_grid_point(Duration::from_secs(1));
    std::thread::sleep((grid + Duration::from_millis(300)).saturating_since(MonoTime::now()));
    let t0 = Instant::now();
    sock.send(&frame).unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    let seen = cap.finish().unwrap();
    let log = m.proc.log_text();

    // The answer: one advert before the scheduled one (due 0.7 s after the injection; the
    // window stops 0.1 s short of it).
    let answer = count(&seen, Sent::Advert, t0, t0 + Duration::from_millis(600));
    assert_eq!(
        answer, 1,
        "adverts in the 0.6 s after a lower priority\n{log}"
    );
    // garp_lower_prio_repeat 2 at once (well within 0.5 s), 2 more garp_lower_prio_delay
    // (1 s) later, nothing else.
    let now = count(&seen, Sent::Garp, t0, t0 + Duration::from_millis(500));
    let later = count(
        &seen,
        Sent::Garp,
        t0 + Duration::from_millis(900),
        t0 + Duration::from_millis(2500),
    );
    let all = count(&seen, Sent::Garp, t0, t0 + Duration::from_secs(3));
    assert_eq!(
        (now, later, all),
        (2, 2, 4),
        "gratuitous ARPs at once, after garp_lower_prio_delay, in all\n{log}"
    );
    // The scheduled adverts went on (positive control for the capture): 2 or 3 in 3 s.
    let scheduled = count(
        &seen,
        Sent::Advert,
        t0 + Duration::from_millis(600),
        t0 + Duration::from_secs(3),
    );
    assert!(
        (2..=3).contains(&scheduled),
        "{scheduled} scheduled adverts in 2.4 s\n{log}"
    );
}

#[test]
fn a_flood_of_lower_priorities_gets_at_most_one_extra_advert_per_interval() {
    let lab = Lab::new();
    let m = lab.start_master(
        "0.1",
        "    garp_master_delay 0\n    garp_lower_prio_repeat 1\n    garp_lower_prio_delay 0",
    );
    std::thread::sleep(Duration::from_millis(500));
    // Every packet is news to XDP, so every one wakes the agent: the priority changes each
    // time (1..=100), and the sources rotate over 16 addresses (the kernel keeps 4).
    let frames: Vec<Vec<u8>> = (0..1600u32)
        .map(|i| {
            let src = Ipv4Addr::new(198, 18, 71, 160 + (i % 16) as u8);
            lab.advert(src, (i % 100) as u8 + 1)
        })
        .collect();
    let sock = PacketSocket::open(&lab.attacker, &lab.a_if).unwrap();
    let cap = Capture::start(&lab.attacker, &lab.a_if, 20_000, Duration::from_secs(20)).unwrap();
    let log_from = m.proc.log_text().len();

    // 2000 packets/s for 3 s at most: bounded in count and time.
    const RATE: u64 = 2000;
    const FOR: Duration = Duration::from_secs(3);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < RATE * FOR.as_secs() && start.elapsed() < FOR {
        let due = Duration::from_secs_f64(sent as f64 / RATE as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait.min(Duration::from_millis(5)));
            continue;
        }
        sock.send(&frames[(sent % frames.len() as u64) as usize])
            .unwrap();
        sent += 1;
    }
    let end = Instant::now();
    // Time for the last summary of suppressed log lines (one token per second).
    std::thread::sleep(Duration::from_millis(1500));
    let seen = cap.finish().unwrap();
    let text = m.proc.log_text();
    let log = &text[log_from..];

    let window = end - start;
    let intervals = (window.as_secs_f64() / 0.1).round() as usize;
    let adverts = count(&seen, Sent::Advert, start, end);
    let garps = count(&seen, Sent::Garp, start, end);
    eprintln!(
        "{sent} lower-priority adverts in {window:?}: the Master sent {adverts} adverts and \
         {garps} gratuitous ARPs ({intervals} intervals)"
    );
    // At most its schedule plus one answer per interval (and the edges of the window).
    assert!(
        adverts <= 2 * intervals + 4,
        "{adverts} adverts in {intervals} intervals of a lower-priority flood\n{log}"
    );
    // The answers happened (without them: one advert per interval).
    assert!(
        adverts >= intervals + intervals / 3,
        "only {adverts} adverts in {intervals} intervals: lower priorities not answered\n{log}"
    );
    // garp_lower_prio_repeat 1: one round (one VIP) per answer.
    assert!(
        (1..=intervals + 4).contains(&garps),
        "{garps} gratuitous ARPs for at most {intervals} answers\n{log}"
    );

    // The log: every packet was an event, but an instance logs 5 lines at once and then one
    // per second, and says how many it left out.
    let lines = log.lines().count();
    assert!(lines <= 30, "{lines} log lines during the flood:\n{log}");
    let suppressed: u64 = log
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("vrrp_agent::runtime: ")?;
            rest.split_once(" more kernel events not logged")?
                .0
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(
        suppressed >= sent / 2,
        "{suppressed} events reported as suppressed of {sent} sent\n{log}"
    );
}

/// keepalived `lower_prio_no_advert` (vrrp_state_master_rx), also forced by strict mode: the
/// Master does not answer a lower priority with an advert; the `garp_lower_prio_repeat`
/// gratuitous ARPs still go out (none under strict mode, which makes them 0). The default
/// Master, in the same lab, answers (the control).
#[test]
fn a_lower_prio_no_advert_or_strict_master_does_not_answer_a_lower_priority() {
    let garp = "    garp_master_delay 0\n    garp_lower_prio_repeat 1\n    garp_lower_prio_delay 0";
    let cases = [
        ("default", garp.to_owned(), 1, 1),
        (
            "lower_prio_no_advert",
            format!("{garp}\n    lower_prio_no_advert"),
            0,
            1,
        ),
        (
            "strict_mode",
            "    garp_master_delay 0\n    strict_mode".to_owned(),
            0,
            0,
        ),
    ];
    for (name, extra, answers, garps) in cases {
        let lab = Lab::named("hs");
        let m = lab.start_master("1", &extra);
        std::thread::sleep(Duration::from_millis(500));
        let sock = PacketSocket::open(&lab.attacker, &lab.a_if).unwrap();
        let frame = lab.advert(ATTACKER, 100);
        let cap = Capture::start(&lab.attacker, &lab.a_if, 1000, Duration::from_secs(10)).unwrap();
        // 0.3 s after a whole second: the next scheduled advert is 0.7 s away.
        let grid = next_grid_point(Duration::from_secs(1));
        std::thread::sleep((grid + Duration::from_millis(300)).saturating_since(MonoTime::now()));
        let t0 = Instant::now();
        sock.send(&frame).unwrap();
        std::thread::sleep(Duration::from_millis(2000));
        let seen = cap.finish().unwrap();
        let log = m.proc.log_text();
        let got = (
            count(&seen, Sent::Advert, t0, t0 + Duration::from_millis(600)),
            count(&seen, Sent::Garp, t0, t0 + Duration::from_millis(600)),
        );
        assert_eq!(
            got,
            (answers, garps),
            "{name}: (adverts, gratuitous ARPs) in the 0.6 s after a lower priority\n{log}"
        );
        // The lower priority reached the Master (its notification path logs it) and the
        // scheduled adverts went on: the capture saw them.
        let scheduled = count(
            &seen,
            Sent::Advert,
            t0 + Duration::from_millis(600),
            t0 + Duration::from_millis(2000),
        );
        assert!(
            (1..=2).contains(&scheduled),
            "{name}: {scheduled} scheduled adverts in 1.4 s\n{log}"
        );
    }
}

/// A real keepalived in strict mode as the lower-priority peer: it has one more VIP than the
/// agent, so it discards the agent's adverts ("received an unexpected ip number count 1,
/// expected 2!"; the agent does not check the list) and becomes Master too, advertising
/// priority 100 to the agent's 254. The default agent answers keepalived's first advert at
/// once; in strict mode it does not. (Later adverts of the same sender and priority are not
/// news to the XDP program, so only the first one is judged.) On a switch, whose ports show
/// what each side sends.
#[test]
fn a_strict_master_does_not_answer_keepalived_s_lower_priority() {
    use vrrp_tests::Lan;
    for (name, extra, answers) in [("default", "", 1), ("strict_mode", "    strict_mode", 0)] {
        let dir = TempDir::new("vrrp-hsk").unwrap();
        let mut lan = Lan::new_tagged("hss").unwrap();
        let a = lan.add_host("hsa", MASTER).unwrap();
        let k = lan.add_host("hsk", ATTACKER).unwrap();
        let conf = format!(
            "vrrp_instance VI_1 {{\n    state BACKUP\n    interface {}\n    virtual_router_id {VRID}\n    \
             priority 254\n    version 3\n    advert_int 1\n    garp_master_delay 0\n{extra}\n    \
             virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
            lan.hosts[a].iface
        );
        let mut m = start_agent_with(&lan.hosts[a].ns, dir.path(), "m", &conf, &[]).unwrap();
        m.proc
            .wait_log("-> Master", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{name}: no Master: {e}"));
        std::thread::sleep(Duration::from_millis(500));
        let cap = |i: usize| {
            Capture::start(
                &lan.switch,
                &lan.hosts[i].port,
                1000,
                Duration::from_secs(20),
            )
            .unwrap()
        };
        let (from_agent, from_keepalived) = (cap(a), cap(k));
        // Instants of the captures, on the CLOCK_MONOTONIC grid the agent advertises on.
        let (i0, m0) = (Instant::now(), MonoTime::now());
        let kconf = format!(
            "global_defs {{\n    vrrp_strict\n}}\nvrrp_instance K {{\n    state BACKUP\n    \
             interface {}\n    virtual_router_id {VRID}\n    priority 100\n    version 3\n    \
             advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n        198.18.71.101/24\n    \
             }}\n}}\n",
            lan.hosts[k].iface
        );
        let mut kp = keepalived(&lan.hosts[k].ns, dir.path(), "k", &kconf).unwrap();
        kp.wait_log("Entering MASTER STATE", Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("{name}: keepalived did not become Master: {e}"));
        std::thread::sleep(Duration::from_millis(1500));
        let agent_frames = from_agent.finish().unwrap();
        let k_frames = from_keepalived.finish().unwrap();
        let (log, klog) = (m.proc.log_text(), kp.log_text());
        let is_k_advert = |f: &[u8]| {
            f.len() >= 34
                && f[12..14] == [0x08, 0x00]
                && f[23] == 112
                && f[26..30] == ATTACKER.octets()
        };
        let t_k = k_frames
            .iter()
            .find(|c| is_k_advert(&c.frame))
            .map(|c| c.at)
            .unwrap_or_else(|| panic!("{name}: no advert from keepalived\n{klog}"));
        // The agent's adverts from 0.1 s before keepalived's first advert to 0.3 s after it,
        // less those its schedule put there (one per whole second of CLOCK_MONOTONIC in the
        // window, sent within 10 ms of it): the answers.
        let mono = |at: Instant| -> u64 {
            if at >= i0 {
                (m0 + (at - i0)).as_nanos()
            } else {
                m0.as_nanos() - (i0 - at).as_nanos() as u64
            }
        };
        let (from, to) = (
            t_k - Duration::from_millis(100),
            t_k + Duration::from_millis(300),
        );
        let sec = 1_000_000_000;
        let grid_points = (mono(to - Duration::from_millis(10)) / sec - mono(from) / sec) as usize;
        let in_window = agent_frames
            .iter()
            .filter(|c| c.at >= from && c.at < to && classify(&c.frame) == Sent::Advert)
            .count();
        let answered = in_window.saturating_sub(grid_points);
        let off_grid = |at: Instant| {
            let into = mono(at) % sec;
            into > 10_000_000 && into < 990_000_000
        };
        let around: Vec<String> = agent_frames
            .iter()
            .filter(|c| classify(&c.frame) == Sent::Advert)
            .map(|c| {
                let rel =
                    c.at.checked_duration_since(t_k)
                        .map_or_else(|| format!("-{:?}", t_k - c.at), |d| format!("+{d:?}"));
                format!("{rel}{}", if off_grid(c.at) { "" } else { " (grid)" })
            })
            .collect();
        assert_eq!(
            (answered, in_window - answered),
            (answers, grid_points),
            "{name}: agent adverts (answering keepalived's lower priority, scheduled) around \
             keepalived's first advert: {around:?}\n{log}\n{klog}"
        );
        // The positive controls: the agent advertised (on its grid) meanwhile, and keepalived
        // discarded those adverts.
        let scheduled = count(&agent_frames, Sent::Advert, i0, Instant::now());
        assert!(scheduled >= 3, "{name}: {scheduled} agent adverts\n{log}");
        assert!(
            klog.contains("unexpected ip number count 1, expected 2"),
            "{name}: keepalived did not discard the agent's adverts\n{klog}"
        );
        kp.signal(libc::SIGTERM);
        let _ = kp.wait_timeout(Duration::from_secs(5));
    }
}

/// keepalived `higher_prio_send_advert` (vrrp_state_master_rx): a Master that hears a higher
/// priority sends one advert with its own before it becomes Backup; without it, it yields
/// without a word (the control). (The agent judges a higher priority at its next Adver_Timer,
/// from the kernel's records, so the advert goes out then.)
#[test]
fn a_higher_prio_send_advert_master_advertises_once_before_yielding() {
    for (name, extra, want) in [
        ("default", "", 0),
        ("higher_prio_send_advert", "    higher_prio_send_advert", 1),
    ] {
        let lab = Lab::named("hs");
        let m = lab.start_master("1", &format!("    garp_master_delay 0\n{extra}"));
        std::thread::sleep(Duration::from_millis(500));
        let sock = PacketSocket::open(&lab.attacker, &lab.a_if).unwrap();
        // Interval 1 s: the Master, now Backup, waits over 3 s before taking over again.
        let frame = lab.advert_every(ATTACKER, 255, Centisecs::new(100));
        let cap = Capture::start(&lab.attacker, &lab.a_if, 1000, Duration::from_secs(10)).unwrap();
        // 0.3 s after a whole second: the next scheduled advert is 0.7 s away.
        let grid = next_grid_point(Duration::from_secs(1));
        std::thread::sleep((grid + Duration::from_millis(300)).saturating_since(MonoTime::now()));
        let t0 = Instant::now();
        sock.send(&frame).unwrap();
        let left = wait_for(Duration::from_secs(5), || {
            m.proc.log_text().contains("-> Backup").then_some(())
        });
        std::thread::sleep(Duration::from_millis(1500));
        let seen = cap.finish().unwrap();
        let log = m.proc.log_text();
        assert!(left.is_some(), "{name}: the Master did not yield\n{log}");
        let sent = count(&seen, Sent::Advert, t0, t0 + Duration::from_millis(2500));
        assert_eq!(sent, want, "{name}: adverts after a higher priority\n{log}");
    }
}
