//! `run --metrics-listen`: two agents elect on a veth pair (namespaces `mx*`), each serving
//! `/metrics` in its own namespace, scraped with curl. keepalived-exporter's series carry
//! its labels and values (vrrp_state per VIP on Master and Backup, become_master after a
//! failover), a bad-checksum advert moves the XDP discard counter, `promtool check metrics`
//! accepts the text, and without the flag nothing listens. Needs root.
use std::{net::IpAddr, time::Duration};

use vrrp_agent::{
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_tests::{
    metrics::{promtool_check, sample, samples, scrape, LISTEN},
    start_agent_with, wait_for, Agent, Netns, PacketSocket, TempDir, VethPair,
};

const VRID: u8 = 51;

/// Instance VI_1 on `iface`, two VIPs (one /32, one /24: keepalived writes the prefix only
/// when it is not /32), advert_int 0.1, a health check and a notify command.
fn conf(iface: &str, priority: u8) -> String {
    format!(
        "vrrp_script chk {{\n  script \"/bin/true\"\n  interval 1\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface {iface}\n  virtual_router_id {VRID}\n  \
         priority {priority}\n  version 3\n  advert_int 0.1\n  virtual_ipaddress {{\n    \
         198.18.0.100/32\n    198.18.0.101/24\n  }}\n  track_script {{\n    chk\n  }}\n  \
         notify_master /bin/true\n}}\n"
    )
}

fn start(ns: &Netns, dir: &TempDir, tag: &str, iface: &str, priority: u8, flag: bool) -> Agent {
    // A control socket of its own: two agents of this process run at once.
    let sock = dir.path().join(format!("{tag}.sock"));
    let mut args = vec!["--control-socket", sock.to_str().unwrap()];
    if flag {
        args.extend(["--metrics-listen", LISTEN]);
    }
    start_agent_with(ns, dir.path(), tag, &conf(iface, priority), &args).unwrap()
}

/// The value of `name` for VI_1 (any state label), 0 when absent.
fn instance_value(text: &str, name: &str) -> f64 {
    sample(text, name, &[("iname", "VI_1")])
        .unwrap()
        .unwrap_or(0.0)
}

/// keepalived_vrrp_state for each VIP of VI_1 on `intf`.
fn vip_states(text: &str, intf: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = samples(text, "keepalived_vrrp_state")
        .into_iter()
        .filter(|(ls, _)| {
            let has = |k: &str, v: &str| ls.iter().any(|(a, b)| a == k && b == v);
            has("iname", "VI_1") && has("intf", intf) && has("vrid", "51")
        })
        .map(|(ls, v)| {
            let ip = ls
                .into_iter()
                .find(|(k, _)| k == "ip_address")
                .map(|(_, v)| v)
                .unwrap_or_default();
            (ip, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn states(ip_states: f64) -> Vec<(String, f64)> {
    vec![
        ("198.18.0.100".to_string(), ip_states),
        ("198.18.0.101/24".to_string(), ip_states),
    ]
}

fn checksum_discards(text: &str, intf: &str) -> f64 {
    sample(
        text,
        "keepalived_xdp_discards_total",
        &[
            ("intf", intf),
            ("vrid", "51"),
            ("family", "ipv4"),
            ("reason", "checksum"),
        ],
    )
    .unwrap()
    .unwrap_or(0.0)
}

#[test]
fn exporter_series_follow_the_election_and_the_xdp_discards() {
    let pair = VethPair::new("mx").unwrap();
    let dir = TempDir::new("vrrp-mx").unwrap();
    let mut a = start(&pair.a, &dir, "mxa", &pair.a_if, 150, true);
    let _b = start(&pair.b, &dir, "mxb", &pair.b_if, 100, true);

    // A Master, B Backup, as the exporter's numbers say (2 MASTER, 1 BACKUP), per VIP.
    let (ta, tb) = wait_for(Duration::from_secs(15), || {
        let ta = scrape(&pair.a, LISTEN).ok()?;
        let tb = scrape(&pair.b, LISTEN).ok()?;
        // B has heard A (the kernel counted a valid advert) once A is Master.
        (vip_states(&ta, &pair.a_if) == states(2.0)
            && vip_states(&tb, &pair.b_if) == states(1.0)
            && instance_value(&tb, "keepalived_advertisements_received_total") >= 1.0)
            .then_some((ta, tb))
    })
    .unwrap_or_else(|| {
        panic!(
            "no Master/Backup in the metrics:\nA:\n{}\nB:\n{}",
            scrape(&pair.a, LISTEN).unwrap_or_default(),
            scrape(&pair.b, LISTEN).unwrap_or_default()
        )
    });
    for t in [&ta, &tb] {
        promtool_check(t).unwrap();
        assert_eq!(sample(t, "keepalived_up", &[]).unwrap(), Some(1.0), "{t}");
    }
    // The per-instance counters carry the exporter's labels, the state by name.
    let master = [
        ("iname", "VI_1"),
        ("intf", pair.a_if.as_str()),
        ("vrid", "51"),
        ("state", "MASTER"),
    ];
    assert_eq!(
        sample(&ta, "keepalived_become_master_total", &master).unwrap(),
        Some(1.0),
        "{ta}"
    );
    assert!(
        sample(&ta, "keepalived_advertisements_sent_total", &master)
            .unwrap()
            .unwrap_or(0.0)
            >= 1.0,
        "{ta}"
    );
    let backup = [
        ("iname", "VI_1"),
        ("intf", pair.b_if.as_str()),
        ("vrid", "51"),
        ("state", "BACKUP"),
    ];
    assert_eq!(
        sample(&tb, "keepalived_become_master_total", &backup).unwrap(),
        Some(0.0),
        "{tb}"
    );
    assert!(
        sample(&tb, "keepalived_advertisements_received_total", &backup)
            .unwrap()
            .unwrap_or(0.0)
            >= 1.0,
        "{tb}"
    );
    assert_eq!(
        sample(&ta, "keepalived_effective_priority", &[("iname", "VI_1")]).unwrap(),
        Some(150.0)
    );
    // The health check is GOOD and its runs are timed; the Master's notify_master ran.
    assert_eq!(
        sample(&ta, "keepalived_script_status", &[("name", "chk")]).unwrap(),
        Some(1.0),
        "{ta}"
    );
    let ta = wait_for(Duration::from_secs(10), || {
        let t = scrape(&pair.a, LISTEN).ok()?;
        let ran = sample(
            &t,
            "keepalived_notify_commands_total",
            &[("result", "succeeded")],
        )
        .ok()??;
        (ran >= 1.0).then_some(t)
    })
    .expect("notify_master never counted as succeeded");
    let runs = sample(
        &ta,
        "keepalived_script_runs_total",
        &[("name", "chk"), ("result", "success")],
    )
    .unwrap()
    .unwrap_or(0.0);
    let timed = sample(
        &ta,
        "keepalived_script_duration_seconds_count",
        &[("name", "chk")],
    )
    .unwrap()
    .unwrap_or(0.0);
    assert!(runs >= 1.0 && timed == runs, "{ta}");
    // A became Master when its Master_Down deadline ran out; how late was recorded.
    let late: f64 = samples(&ta, "keepalived_master_down_lateness_seconds_count")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert!(late >= 1.0, "{ta}");

    // A bad checksum sent at A (from B's side of the wire, as a router B would) is counted
    // by reason; keepalived cannot count it.
    let before = checksum_discards(&ta, &pair.a_if);
    let forged = Repr {
        version: Version::V3,
        vrid: VRID,
        priority: 254,
        max_adver_int: Centisecs::new(10),
        addresses: vec!["198.18.0.100".parse().unwrap()],
        auth: Auth::None,
    };
    let frame = FrameBuilder::new(&forged, Endpoints::multicast(IpAddr::V4(VethPair::B_ADDR)))
        .unwrap()
        .src_mac(pair.b_mac)
        .vrrp_checksum(0x1234)
        .build();
    let sock = PacketSocket::open(&pair.b, &pair.b_if).unwrap();
    for _ in 0..3 {
        sock.send(&frame).unwrap();
    }
    let after = wait_for(Duration::from_secs(5), || {
        let t = scrape(&pair.a, LISTEN).ok()?;
        let n = checksum_discards(&t, &pair.a_if);
        (n >= before + 3.0).then_some(n)
    });
    assert_eq!(
        after,
        Some(before + 3.0),
        "{}",
        scrape(&pair.a, LISTEN).unwrap_or_default()
    );

    // Failover: A stops (priority 0); B takes over and counts it.
    a.proc.signal(libc::SIGTERM);
    assert!(a.proc.wait_timeout(Duration::from_secs(10)).is_some());
    let tb = wait_for(Duration::from_secs(10), || {
        let t = scrape(&pair.b, LISTEN).ok()?;
        (vip_states(&t, &pair.b_if) == states(2.0)).then_some(t)
    })
    .expect("B did not become Master in its metrics");
    promtool_check(&tb).unwrap();
    let master_b = [
        ("iname", "VI_1"),
        ("intf", pair.b_if.as_str()),
        ("vrid", "51"),
        ("state", "MASTER"),
    ];
    assert_eq!(
        sample(&tb, "keepalived_become_master_total", &master_b).unwrap(),
        Some(1.0),
        "{tb}"
    );
    assert!(
        instance_value(&tb, "keepalived_priority_zero_received_total") >= 1.0,
        "{tb}"
    );
    // The takeover as B saw it: one observation, from A's priority-0 advert to B's change.
    assert_eq!(
        sample(
            &tb,
            "keepalived_failover_duration_seconds_count",
            &[("iname", "VI_1")]
        )
        .unwrap(),
        Some(1.0),
        "{tb}"
    );
    let took = sample(
        &tb,
        "keepalived_failover_duration_seconds_sum",
        &[("iname", "VI_1")],
    )
    .unwrap()
    .unwrap();
    assert!(took > 0.0 && took < 5.0, "failover took {took} s");
}

#[test]
fn an_address_in_use_fails_the_start_with_its_name() {
    let ns = Netns::new("mxu").unwrap();
    let dir = TempDir::new("vrrp-mxu").unwrap();
    ns.ip(&[
        "link", "add", "mxu0", "type", "veth", "peer", "name", "mxu1",
    ])
    .unwrap();
    ns.ip(&["link", "set", "mxu0", "up"]).unwrap();
    ns.ip(&["addr", "add", "198.18.0.1/24", "dev", "mxu0"])
        .unwrap();
    let _held = vrrp_tests::in_netns(&ns, || Ok(std::net::TcpListener::bind(LISTEN)?)).unwrap();
    let path = dir.path().join("u.conf");
    std::fs::write(&path, conf("mxu0", 100)).unwrap();
    let pins = vrrp_tests::pin_dir("mxu");
    let sock = dir.path().join("u.sock");
    let mut cmd = ns.command(vrrp_tests::agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(&path)
        .arg("--pin-dir")
        .arg(&pins)
        .arg("--control-socket")
        .arg(&sock)
        .args(["--metrics-listen", LISTEN]);
    let mut p = vrrp_tests::Proc::spawn("agent", &mut cmd, &dir.path().join("u.log")).unwrap();
    let status = p
        .wait_timeout(Duration::from_secs(20))
        .expect("the agent kept running");
    assert!(!status.success());
    let log = p.log_text();
    assert!(
        log.contains(&format!("--metrics-listen {LISTEN}")) && log.contains("in use"),
        "{log}"
    );
    // It stopped before touching the kernel: no XDP on the interface.
    let link = ns.ip(&["-d", "link", "show", "mxu0"]).unwrap();
    assert!(!link.contains("xdp"), "{link}");
}

#[test]
fn without_the_flag_nothing_listens() {
    let pair = VethPair::new("mxn").unwrap();
    let dir = TempDir::new("vrrp-mxn").unwrap();
    let _a = start(&pair.a, &dir, "mxna", &pair.a_if, 150, true);
    let _b = start(&pair.b, &dir, "mxnb", &pair.b_if, 100, false);
    let listening = |ns: &Netns| {
        let out = ns.output("ss", &["-Hltn"]).unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Control: the agent with the flag listens, and answers.
    assert!(
        listening(&pair.a).contains(LISTEN),
        "{}",
        listening(&pair.a)
    );
    scrape(&pair.a, LISTEN).unwrap();
    // Without it: no TCP listener at all, and a scrape is refused.
    assert_eq!(listening(&pair.b).trim(), "");
    assert!(scrape(&pair.b, LISTEN).is_err());
}
