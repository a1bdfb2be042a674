//! `cargo xtask demo`: a small lab in network namespaces that shows what the agent does
//! today. keepalived advertises on one side of a link; vrrp-agent's XDP program on the other
//! side checks every advert in the kernel, records who is advertising, drops forged ones
//! by reason, and wakes the agent only when something changes. Everything is removed at the
//! end, and on Ctrl-C.
use std::{
    net::IpAddr,
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::{bail, Context, Result};
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
    agent_bin, bpftool_counters, bpftool_peers, pin_dir, unique, veth, Netns, PacketSocket, Proc,
    TempDir,
};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: i32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Sleeps in small steps; fails at once on Ctrl-C so every guard runs its cleanup.
fn pause(d: Duration) -> Result<()> {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted: cleaning up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn step(n: u32, text: &str) {
    println!("\n== {n}. {text}");
}

fn main() {
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    if let Err(e) = demo() {
        eprintln!("\ndemo stopped: {e:#}");
        std::process::exit(1);
    }
}

const AGENT_CONF: &str = r#"# vrrp-agent's side (router A): the same instances as keepalived's, lower priority
global_defs {
    router_id router-a
}
vrrp_instance VI_1 {
    state BACKUP
    interface IFACE
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        198.18.5.100/24 dev IFACE label IFACE:vip
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface IFACE
    version 3
    virtual_router_id 52
    priority 100
    advert_int 0.1
    virtual_ipaddress {
        198.18.5.101/24
    }
}
"#;

fn demo() -> Result<()> {
    println!("vrrp-agent demo: the XDP data plane next to a real keepalived");
    println!(
        "(the election and VIP failover come in the next milestone; this shows the kernel side)"
    );

    step(1, "Lab: two network namespaces joined by a veth pair");
    let a = Netns::new("demoa")?;
    let b = Netns::new("demob")?;
    let (a_if, b_if) = (unique("da"), unique("db"));
    veth(&a, &a_if, &b, &b_if)?;
    a.ip(&["addr", "add", "198.18.5.1/24", "dev", &a_if])?;
    b.ip(&["addr", "add", "198.18.5.2/24", "dev", &b_if])?;
    println!(
        "   router A ({}): {a_if} 198.18.5.1 runs vrrp-agent",
        a.name()
    );
    println!(
        "   router B ({}): {b_if} 198.18.5.2 runs keepalived as MASTER",
        b.name()
    );

    let dir = TempDir::new("vrrp-demo")?;
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, AGENT_CONF.replace("IFACE", &a_if))?;
    let kconf = dir.path().join("keepalived-b.conf");
    let kb = AGENT_CONF
        .replace("IFACE", &b_if)
        .replace("router-a", "router-b")
        .replace("state BACKUP", "state MASTER")
        .replace("priority 100", "priority 150");
    std::fs::write(&kconf, kb)?;

    step(
        2,
        "vrrp-agent check: the same keepalived.conf keepalived would read",
    );
    let bin = agent_bin()?;
    let out = Command::new(&bin)
        .arg("check")
        .arg("-f")
        .arg(&conf)
        .output()?;
    print!("   {}", String::from_utf8_lossy(&out.stdout));

    step(
        3,
        "vrrp-agent run: load the XDP program, pin its maps, attach to the link",
    );
    let pins = pin_dir("demo");
    let mut cmd = a.command(&bin);
    cmd.arg("run")
        .arg("-f")
        .arg(&conf)
        .arg("--pin-dir")
        .arg(&pins)
        .env("RUST_LOG", "info");
    let mut agent = Proc::spawn("vrrp-agent", &mut cmd, &dir.path().join("agent.log"))?;
    agent.wait_log("XDP attached", Duration::from_secs(20))?;
    println!(
        "   {}",
        a.ip(&["-d", "link", "show", &a_if])?
            .lines()
            .find(|l| l.contains("xdp"))
            .unwrap_or("")
            .trim()
    );
    println!("   maps pinned under {}", pins.display());

    step(
        4,
        "keepalived starts on router B and advertises (v2 every 1 s, v3 every 0.1 s)",
    );
    let mut kcmd = Command::new("ip");
    kcmd.args([
        "netns",
        "exec",
        b.name(),
        "keepalived",
        "-n",
        "-l",
        "-P",
        "-f",
    ])
    .arg(&kconf)
    .arg("-p")
    .arg(dir.path().join("k.pid"))
    .arg("-r")
    .arg(dir.path().join("k-vrrp.pid"));
    let keepalived = Proc::spawn("keepalived", &mut kcmd, &dir.path().join("keepalived.log"))?;
    // Wait (bounded) until both instances' adverts have been recorded.
    for _ in 0..100 {
        let seen = bpftool_peers(&pins);
        if [51, 52]
            .iter()
            .all(|v| seen.iter().any(|(vrid, _, _)| vrid == v))
        {
            break;
        }
        pause(Duration::from_millis(100))?;
    }
    println!("   what the kernel recorded, per instance and source (bpftool map dump pinned {}/VRRP_PEERS):", pins.display());
    print_peers(&pins)?;

    step(
        5,
        "Forged adverts from router B's link: wrong password, TTL 1, unconfigured VRID",
    );
    let sock = PacketSocket::open(&b, &b_if)?;
    let src: IpAddr = "198.18.5.2".parse()?;
    let forged = Repr {
        version: Version::V2,
        vrid: 51,
        priority: 254,
        max_adver_int: Centisecs::new(100),
        addresses: vec!["198.18.5.100".parse()?],
        auth: Auth::pass(b"guess"),
    };
    let v3 = Repr {
        version: Version::V3,
        vrid: 52,
        auth: Auth::None,
        max_adver_int: Centisecs::new(10),
        ..forged.clone()
    };
    for _ in 0..100 {
        sock.send(&FrameBuilder::new(&forged, Endpoints::multicast(src))?.build())?;
        sock.send(
            &FrameBuilder::new(&v3, Endpoints::multicast(src))?
                .ttl(1)
                .build(),
        )?;
        sock.send(
            &FrameBuilder::new(
                &Repr {
                    vrid: 77,
                    ..v3.clone()
                },
                Endpoints::multicast(src),
            )?
            .build(),
        )?;
    }
    pause(Duration::from_millis(300))?;
    println!("   dropped in XDP and counted by reason (bpftool map dump pinned {}/VRRP_STATS and VRRP_UNKNOWN):", pins.display());
    print_counters(&pins)?;
    println!("   the forged priority 254 never reached the peer record:");
    print_peers(&pins)?;

    step(
        6,
        "keepalived stops (SIGTERM): it sends priority 0, and XDP wakes the agent at once",
    );
    keepalived.signal(libc::SIGTERM);
    pause(Duration::from_secs(1))?;
    drop(keepalived);
    for line in agent
        .log_text()
        .lines()
        .filter(|l| l.contains("new advertiser") || l.contains("priority"))
    {
        println!(
            "   agent: {}",
            line.split("vrrp_agent::runtime: ").last().unwrap_or(line)
        );
    }

    step(7, "vrrp-agent stops (SIGTERM): XDP detached, pins removed");
    agent.signal(libc::SIGTERM);
    let st = agent
        .wait_timeout(Duration::from_secs(5))
        .context("agent did not stop")?;
    let attached = a.ip(&["-d", "link", "show", &a_if])?.contains("prog/xdp");
    let code = st.code().map_or("killed".to_string(), |c| c.to_string());
    println!(
        "   exit code {code}; XDP still attached: {attached}; pin directory still there: {}",
        pins.exists()
    );
    println!("\nDone. Namespaces and files are removed now.");
    Ok(())
}

fn print_peers(pins: &std::path::Path) -> Result<()> {
    println!(
        "   {:<6} {:<14} {:>8} {:>9} {:>8} {:>8}",
        "vrid", "source", "priority", "interval", "adverts", "version"
    );
    for (vrid, family, r) in bpftool_peers(pins) {
        let a: Vec<u8> = r["addr"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_u64())
            .map(|v| v as u8)
            .collect();
        let src = match (family, <[u8; 16]>::try_from(a.as_slice())) {
            (4, Ok(b)) => IpAddr::from([b[0], b[1], b[2], b[3]]).to_string(),
            (_, Ok(b)) => IpAddr::from(b).to_string(),
            _ => "?".to_string(),
        };
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let cs = n(&r["adver_int_cs"]);
        println!(
            "   {:<6} {:<14} {:>8} {:>8}s {:>8} {:>8}",
            vrid,
            src,
            n(&r["priority"]),
            format!("{}.{:02}", cs / 100, cs % 100),
            n(&r["adverts"]),
            n(&r["version"])
        );
    }
    Ok(())
}

fn print_counters(pins: &std::path::Path) -> Result<()> {
    println!("   {:<6} {:<16} {:>8}", "vrid", "counter", "count");
    for ((vrid, k), n) in bpftool_counters(pins) {
        println!("   {vrid:<6} {k:<16} {n:>8}");
    }
    Ok(())
}
