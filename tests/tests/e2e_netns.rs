//! End to end, in network namespaces: the agent on one side of a veth pair, a real
//! keepalived and crafted adverts on the other, and assertions on the pinned maps as
//! `bpftool` shows them. Then a clean stop (nothing left attached or pinned) and a restart
//! after SIGKILL. Needs root.
use std::{net::IpAddr, path::Path, process::Command, time::Duration};

use serde_json::Value;
use vrrp_agent::{
    units::Centisecs,
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_tests::{
    agent_bin, bpftool_counters, bpftool_peers, pin_dir, unique, veth, wait_for, Netns,
    PacketSocket, Proc, TempDir,
};

const A_ADDR: &str = "198.18.1.1";
const B_ADDR: &str = "198.18.1.2";

fn agent_conf(iface: &str) -> String {
    format!(
        r#"# the agent's side
global_defs {{
    router_id agent
}}
vrrp_instance V2 {{
    interface {iface}
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass secret12
    }}
    virtual_ipaddress {{
        198.18.1.100/24
    }}
}}
vrrp_instance V3 {{
    interface {iface}
    version 3
    virtual_router_id 52
    advert_int 0.1
    virtual_ipaddress {{ 198.18.1.101/24 }}
}}
vrrp_instance V6 {{
    interface {iface}
    version 3
    virtual_router_id 53
    advert_int 0.1
    virtual_ipaddress {{ 2001:db8:1::100/64 }}
}}
vrrp_instance UC {{
    interface {iface}
    version 3
    virtual_router_id 54
    advert_int 0.1
    unicast_src_ip {A_ADDR}
    unicast_peer {{ {B_ADDR} }}
    virtual_ipaddress {{ 198.18.1.102/24 }}
}}
"#
    )
}

fn keepalived_conf(iface: &str) -> String {
    format!(
        r#"global_defs {{
    router_id peer
}}
vrrp_instance V2 {{
    state MASTER
    interface {iface}
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass secret12
    }}
    virtual_ipaddress {{
        198.18.1.100/24
    }}
}}
vrrp_instance V3 {{
    state MASTER
    interface {iface}
    version 3
    virtual_router_id 52
    priority 150
    advert_int 0.1
    virtual_ipaddress {{
        198.18.1.101/24
    }}
}}
vrrp_instance V6 {{
    state MASTER
    interface {iface}
    version 3
    virtual_router_id 53
    priority 150
    advert_int 0.1
    virtual_ipaddress {{
        2001:db8:1::100/64
    }}
}}
vrrp_instance UC {{
    state MASTER
    interface {iface}
    version 3
    virtual_router_id 54
    priority 150
    advert_int 0.1
    unicast_src_ip {B_ADDR}
    unicast_peer {{
        {A_ADDR}
    }}
    virtual_ipaddress {{
        198.18.1.102/24
    }}
}}
"#
    )
}

fn peers_by_vrid(pins: &Path) -> Vec<(u64, Value)> {
    bpftool_peers(pins)
        .into_iter()
        .map(|(vrid, _, rec)| (vrid, rec))
        .collect()
}

fn stat(pins: &Path, vrid: u64, field: &str) -> u64 {
    bpftool_counters(pins)
        .get(&(vrid, field.to_string()))
        .copied()
        .unwrap_or(0)
}

fn start_agent(a: &Netns, conf: &Path, pins: &Path, log: &Path) -> Proc {
    let mut cmd = a.command(agent_bin().expect("agent binary"));
    cmd.arg("run")
        .arg("--config")
        .arg(conf)
        .arg("--pin-dir")
        .arg(pins)
        .env("RUST_LOG", "info");
    let mut p = Proc::spawn("vrrp-agent", &mut cmd, log).expect("spawn agent");
    p.wait_log("XDP attached", Duration::from_secs(20))
        .expect("agent attaches");
    p
}

fn xdp_attached(ns: &Netns, iface: &str) -> bool {
    ns.ip(&["-d", "link", "show", iface])
        .map(|s| s.contains("prog/xdp"))
        .unwrap_or(false)
}

#[test]
fn agent_records_keepalived_and_crafted_adverts_then_cleans_up() {
    let a = Netns::new("vea").unwrap();
    let b = Netns::new("veb").unwrap();
    for ns in [&a, &b] {
        let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.default.accept_dad=0"]);
        let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.all.accept_dad=0"]);
    }
    let (a_if, b_if) = (unique("va"), unique("vb"));
    veth(&a, &a_if, &b, &b_if).unwrap();
    a.ip(&["addr", "add", &format!("{A_ADDR}/24"), "dev", &a_if])
        .unwrap();
    b.ip(&["addr", "add", &format!("{B_ADDR}/24"), "dev", &b_if])
        .unwrap();

    let dir = TempDir::new("vrrp-e2e").unwrap();
    let conf = dir.path().join("agent.conf");
    std::fs::write(&conf, agent_conf(&a_if)).unwrap();
    let kconf = dir.path().join("keepalived.conf");
    std::fs::write(&kconf, keepalived_conf(&b_if)).unwrap();
    let pins = pin_dir("vrrpe2e");

    let mut agent = start_agent(&a, &conf, &pins, &dir.path().join("agent.log"));
    assert!(xdp_attached(&a, &a_if), "XDP must be attached to {a_if}");
    for m in vrrp_common::map_names::ALL {
        assert!(
            pins.join(m).exists(),
            "{m} must be pinned under {}",
            pins.display()
        );
    }

    // A real keepalived on the other side, Master for all four instances.
    let mut kcmd = Command::new("ip");
    kcmd.args([
        "netns",
        "exec",
        b.name(),
        "keepalived",
        "-n",
        "-l",
        "-D",
        "-P",
        "-f",
    ])
    .arg(&kconf)
    .arg("-p")
    .arg(dir.path().join("k.pid"))
    .arg("-r")
    .arg(dir.path().join("k-vrrp.pid"));
    let _keepalived =
        Proc::spawn("keepalived", &mut kcmd, &dir.path().join("keepalived.log")).unwrap();

    // The kernel records each of keepalived's instances, as bpftool shows them by name.
    let want = [51u64, 52, 53, 54];
    let seen = wait_for(Duration::from_secs(20), || {
        let peers = peers_by_vrid(&pins);
        let ok = want.iter().all(|v| {
            peers.iter().any(|(vrid, val)| {
                vrid == v && val["priority"] == 150 && val["adverts"].as_u64() >= Some(3)
            })
        });
        ok.then_some(peers)
    });
    let peers = seen.unwrap_or_else(|| {
        panic!(
            "bpftool never showed keepalived's adverts for {want:?}: {:?}\nagent log:\n{}\nkeepalived log:\n{}",
            peers_by_vrid(&pins),
            agent.log_text(),
            std::fs::read_to_string(dir.path().join("keepalived.log")).unwrap_or_default()
        )
    });
    let v2 = &peers.iter().find(|(v, _)| *v == 51).unwrap().1;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["adver_int_cs"], 100);
    let v3 = &peers.iter().find(|(v, _)| *v == 52).unwrap().1;
    assert_eq!(
        (v3["version"].as_u64(), v3["adver_int_cs"].as_u64()),
        (Some(3), Some(10))
    );
    assert!(
        v3["last_seen_ns"].as_u64().unwrap_or(0)
            >= v3["first_seen_ns"].as_u64().unwrap_or(u64::MAX)
    );

    // The agent was told about each new advertiser once, not once per advert.
    agent
        .wait_log("new advertiser", Duration::from_secs(20))
        .unwrap();
    let log = agent.log_text();
    assert!(
        log.contains(&format!("from={B_ADDR}")),
        "event log names the source:\n{log}"
    );
    // A steady stream of 20 more adverts (the positive control: they are counted as they
    // arrive) must not wake the agent again. On a busy machine keepalived's stream is not
    // always steady: a silence of more than 3 intervals is news (the source's return, and
    // the master-down watchdog), so each such silence, seen in the kernel's timestamps of
    // what b sent, allows two events, and a steady window none.
    let sent_log = dir.path().join("b-sent.txt");
    let mut sent = Proc::spawn(
        "tcpdump",
        b.command("tcpdump").args([
            "--immediate-mode",
            "-l",
            "-n",
            "-tt",
            "-i",
            &b_if,
            "src",
            "host",
            B_ADDR,
            "and",
            "proto",
            "112",
        ]),
        &sent_log,
    )
    .unwrap();
    sent.wait_log("listening on", Duration::from_secs(20))
        .unwrap();
    let epoch = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let (valid0, events0, t0) = (stat(&pins, 52, "valid"), stat(&pins, 52, "events"), epoch());
    let more = wait_for(Duration::from_secs(20), || {
        (stat(&pins, 52, "valid") >= valid0 + 20).then_some(())
    });
    let (valid, events, t1) = (stat(&pins, 52, "valid"), stat(&pins, 52, "events"), epoch());
    assert!(
        more.is_some(),
        "0.1 s adverts must keep arriving: valid={valid} (was {valid0})"
    );
    // keepalived's VRID 52 adverts, as b's interface sent them: "1795325201.576400 IP
    // 198.18.1.2 > 224.0.0.18: VRRPv3, Advertisement, vrid 52, prio 150, ...".
    let vrid52 = || -> Vec<f64> {
        sent.log_text()
            .lines()
            .filter(|l| l.contains("vrid 52,"))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let caught_up = wait_for(Duration::from_secs(20), || {
        vrid52().iter().any(|t| *t > t1).then_some(())
    });
    assert!(
        caught_up.is_some(),
        "tcpdump on b printed nothing after the window"
    );
    let at: Vec<f64> = vrid52()
        .into_iter()
        .filter(|t| *t >= t0 - 1.0 && *t <= t1)
        .collect();
    let silences = at.windows(2).filter(|w| w[1] - w[0] > 0.25).count();
    assert!(
        events - events0 <= 2 * silences as u64,
        "a steady stream must not send events: {} events, {silences} silences of keepalived \
         over 0.25 s, valid {valid0} -> {valid}",
        events - events0
    );
    drop(sent);

    // Crafted bad adverts from the peer's side are dropped and counted by reason.
    let sock = PacketSocket::open(&b, &b_if).unwrap();
    let src: IpAddr = B_ADDR.parse().unwrap();
    let vip: IpAddr = "198.18.1.100".parse().unwrap();
    let bad_pass = Repr {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        max_adver_int: Centisecs::new(100),
        addresses: vec![vip],
        auth: Auth::pass(b"guessed!"),
    };
    let low_ttl = Repr {
        version: Version::V3,
        vrid: 52,
        auth: Auth::None,
        max_adver_int: Centisecs::new(10),
        ..bad_pass.clone()
    };
    for _ in 0..5 {
        sock.send(
            &FrameBuilder::new(&bad_pass, Endpoints::multicast(src))
                .unwrap()
                .build(),
        )
        .unwrap();
        sock.send(
            &FrameBuilder::new(&low_ttl, Endpoints::multicast(src))
                .unwrap()
                .ttl(1)
                .build(),
        )
        .unwrap();
        sock.send(
            &FrameBuilder::new(
                &Repr {
                    vrid: 99,
                    ..low_ttl.clone()
                },
                Endpoints::multicast(src),
            )
            .unwrap()
            .build(),
        )
        .unwrap();
    }
    let counted = wait_for(Duration::from_secs(20), || {
        let got = (
            stat(&pins, 51, "bad_auth_pass"),
            stat(&pins, 52, "bad_ttl"),
            stat(&pins, 99, "unknown_vrid"),
        );
        (got == (5, 5, 5)).then_some(got)
    });
    assert!(
        counted.is_some(),
        "discards by reason: auth_pass={} ttl={} unknown_vrid={}",
        stat(&pins, 51, "bad_auth_pass"),
        stat(&pins, 52, "bad_ttl"),
        stat(&pins, 99, "unknown_vrid")
    );
    // The forged priority-200 adverts never reached the peer record.
    let v2_now = peers_by_vrid(&pins)
        .into_iter()
        .find(|(v, _)| *v == 51)
        .unwrap()
        .1;
    assert_eq!(v2_now["priority"], 150);

    // Clean stop: XDP detached, pins and the pin directory removed, exit 0.
    agent.signal(libc::SIGTERM);
    let st = agent
        .wait_timeout(Duration::from_secs(20))
        .expect("agent exits on SIGTERM");
    assert!(st.success(), "exit status {st}:\n{}", agent.log_text());
    assert!(!xdp_attached(&a, &a_if), "XDP left attached after SIGTERM");
    assert!(
        !pins.exists(),
        "pins left behind after SIGTERM: {}",
        pins.display()
    );

    // After SIGKILL the links die with the process; the pins stay and a restart replaces them.
    let mut killed = start_agent(&a, &conf, &pins, &dir.path().join("agent2.log"));
    killed.signal(libc::SIGKILL);
    killed
        .wait_timeout(Duration::from_secs(20))
        .expect("SIGKILL ends the agent");
    assert!(
        pins.join("VRRP_PEERS").exists(),
        "SIGKILL leaves pins behind"
    );
    let mut again = start_agent(&a, &conf, &pins, &dir.path().join("agent3.log"));
    again
        .wait_log("removed stale pin", Duration::from_secs(20))
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || (!peers_by_vrid(&pins)
        .is_empty())
    .then_some(()))
    .is_some());
    again.signal(libc::SIGINT);
    let st = again
        .wait_timeout(Duration::from_secs(20))
        .expect("agent exits on SIGINT");
    assert!(st.success());
    assert!(!pins.exists() && !xdp_attached(&a, &a_if));
}

#[test]
fn run_in_skb_mode_and_refuse_bad_input_without_leaving_anything() {
    let a = Netns::new("vsa").unwrap();
    let b = Netns::new("vsb").unwrap();
    let (a_if, b_if) = (unique("sa"), unique("sb"));
    veth(&a, &a_if, &b, &b_if).unwrap();
    a.ip(&["addr", "add", &format!("{A_ADDR}/24"), "dev", &a_if])
        .unwrap();
    let dir = TempDir::new("vrrp-skb").unwrap();
    let conf = dir.path().join("agent.conf");
    std::fs::write(&conf, agent_conf(&a_if)).unwrap();
    let pins = pin_dir("vrrpskb");

    // --xdp-mode skb attaches in generic mode.
    let mut cmd = a.command(agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(&conf)
        .arg("--pin-dir")
        .arg(&pins)
        .args(["--xdp-mode", "skb"]);
    let mut agent = Proc::spawn("vrrp-agent", &mut cmd, &dir.path().join("skb.log")).unwrap();
    agent.wait_log("mode=skb", Duration::from_secs(20)).unwrap();
    assert!(a
        .ip(&["-d", "link", "show", &a_if])
        .unwrap()
        .contains("xdpgeneric"));
    // The IPv6 instance runs an election like the others (no start-up warning about it).
    let ready = wait_for(Duration::from_secs(10), || {
        let log = agent.log_text();
        log.lines()
            .any(|l| l.contains("instance ready") && l.contains("V6") && l.contains("af=6"))
            .then_some(log)
    });
    let log = ready.unwrap_or_else(|| panic!("V6 not ready:\n{}", agent.log_text()));
    assert!(!log.contains("not active yet"), "{log}");
    agent.signal(libc::SIGTERM);
    assert!(agent
        .wait_timeout(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
    assert!(!pins.exists() && !xdp_attached(&a, &a_if));

    // A broken config and a missing interface are refused before anything is loaded.
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "vrrp_instance X {\n interface eth0\n virtual_router_id 300\n}\n",
    )
    .unwrap();
    let out = a
        .command(agent_bin().unwrap())
        .arg("run")
        .arg("-f")
        .arg(&bad)
        .arg("--pin-dir")
        .arg(&pins)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.conf:3:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = dir.path().join("other.conf");
    std::fs::write(&other, agent_conf("nosuchif0")).unwrap();
    let out = a
        .command(agent_bin().unwrap())
        .arg("run")
        .arg("-f")
        .arg(&other)
        .arg("--pin-dir")
        .arg(&pins)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interface nosuchif0 does not exist"));
    assert!(!pins.exists(), "a refused start must not pin anything");
}
