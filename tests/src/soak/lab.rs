//! The soak's LAN: a bridge in a switch namespace, three routers running vrrp-agent and
//! one running keepalived, and a client, all in namespaces tagged "sk". Router r3 reaches
//! the bridge through the relay (the impaired port). Everything is removed on drop.
use std::{
    collections::BTreeMap, net::Ipv4Addr, os::unix::process::CommandExt, path::PathBuf,
    process::Command,
};

use anyhow::{bail, Context, Result};
use vrrp_agent::wire::MacAddr;

use super::{
    observe::{now, AddrDump},
    relay::Relay,
};
use crate::{agent_bin, pin_dir, unique, veth, Netns, PinDir, Proc, TempDir};

/// The advert interval of every instance, seconds.
pub const ADVERT_INT: f64 = 0.05;
/// The instances' VRIDs; the first two form the sync group G (agents only), the other two
/// also run on keepalived.
pub const VRIDS: [u8; 4] = [41, 42, 43, 44];
/// The sync group's members.
pub const GROUP: [u8; 2] = [41, 42];
/// `garp_master_refresh` of every instance, seconds. When a partition heals, the router
/// that was Master on both sides stays Master and announces nothing (it was never not
/// Master), while the client's ARP entry still points at the Master of the other side,
/// which has just stepped down: without periodic gratuitous ARPs the client stays cut off
/// until its neighbour entry expires (15 to 45 s). The same happens under partial loss
/// when the relayed router briefly becomes Master. keepalived has the same keyword for
/// the same reason.
pub const GARP_REFRESH: u32 = 1;
/// The router behind the relay.
pub const RELAYED: usize = 2;
/// The keepalived router.
pub const KEEPALIVED: usize = 3;
/// MAC address of the soak's own invalid adverts (the capture ignores it).
pub const ATTACKER_MAC: MacAddr = MacAddr([0x02, 0x5e, 0x00, 0x00, 0x00, 0x66]);
/// Address the invalid adverts come from when they do not spoof a router.
pub const ATTACKER: Ipv4Addr = Ipv4Addr::new(198, 18, 40, 66);
/// The client.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 40, 10);

/// The VIP of `vrid`: 198.18.40.(100 + vrid).
pub fn vip(vrid: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 40, 100 + vrid)
}

/// Whether router `node` runs `vrid`.
pub fn runs(node: usize, vrid: u8) -> bool {
    node != KEEPALIVED || !GROUP.contains(&vrid)
}

/// Starting priorities: each instance has another preferred Master.
fn base_priority(node: usize, vrid: u8) -> u8 {
    match vrid {
        41 | 42 => [150, 120, 100, 0][node],
        43 => [100, 150, 120, 110][node],
        _ => [120, 100, 110, 150][node],
    }
}

/// The Master_Down_Interval of a v3 Backup at `prio` (RFC 9568 §6.1): 3 × interval +
/// Skew_Time, Skew_Time = (256 - priority) × interval / 256.
pub fn master_down_interval(prio: u8) -> f64 {
    3.0 * ADVERT_INT + f64::from(256 - u32::from(prio)) * ADVERT_INT / 256.0
}

/// The longest Master_Down_Interval any priority gives.
pub fn master_down_max() -> f64 {
    master_down_interval(1)
}

/// One router.
pub struct Node {
    pub name: String,
    pub keepalived: bool,
    pub ns: Netns,
    /// Its LAN interface.
    pub iface: String,
    /// The switch-side end of its link.
    pub port: String,
    pub addr: Ipv4Addr,
    /// MAC of its LAN interface (as `ip` prints it).
    pub mac: String,
    /// The health-check file its instances track.
    pub health: PathBuf,
    /// Priority per VRID as configured now.
    pub prio: BTreeMap<u8, u8>,
    /// The running daemon (None while stopped).
    pub proc: Option<Proc>,
    /// Whether the daemon has logged that it is up.
    pub ready: bool,
    /// How many times it was started.
    pub starts: u32,
    /// When the current daemon started (epoch seconds).
    pub started_at: f64,
    /// The log of the current daemon.
    pub log: PathBuf,
    /// Pin directory (agents).
    pub pins: Option<PinDir>,
    /// Address dump socket inside its namespace.
    pub addrs: AddrDump,
    conf: PathBuf,
}

/// The whole lab.
pub struct Lab {
    pub nodes: Vec<Node>,
    pub client: Netns,
    pub client_if: String,
    pub relay: Relay,
    /// Dropped last: the namespaces die with everything in them.
    pub switch: Netns,
    pub dir: TempDir,
}

impl Lab {
    /// Builds the namespaces and links (no daemon runs yet).
    pub fn new(seed: u64) -> Result<Lab> {
        let dir = TempDir::new("sksoak")?;
        let switch = Netns::new("sksw")?;
        switch.ip(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"])?;
        switch.ip(&[
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        switch.ip(&["link", "set", "br0", "promisc", "on"])?;
        switch.ip(&["link", "set", "br0", "up"])?;
        let attach = |port: &str| -> Result<()> {
            switch.ip(&["link", "set", port, "master", "br0"])?;
            Ok(())
        };
        let mut nodes = Vec::new();
        let mut relay_ends = None;
        for i in 0..4 {
            let name = format!("r{}", i + 1);
            let ns = Netns::new(&format!("sk{name}"))?;
            quiet_ipv6(&ns);
            let iface = unique("skh");
            let port = unique("skp");
            veth(&ns, &iface, &switch, &port)?;
            if i == RELAYED {
                // r3 -- port (relay socket A) ... relay ... inner (socket B) -- bport in br0.
                let inner = unique("skq");
                let bport = unique("skb");
                veth(&switch, &inner, &switch, &bport)?;
                attach(&bport)?;
                for p in [&port, &inner] {
                    switch.ip(&["link", "set", p, "promisc", "on"])?;
                }
                relay_ends = Some((port.clone(), inner));
            } else {
                attach(&port)?;
            }
            let addr = Ipv4Addr::new(198, 18, 40, i as u8 + 1);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", &iface])?;
            let health = dir.path().join(format!("{name}.health"));
            std::fs::write(&health, "0\n")?;
            let addrs = AddrDump::open(&ns)?;
            let prio = VRIDS
                .iter()
                .filter(|v| runs(i, **v))
                .map(|v| (*v, base_priority(i, *v)))
                .collect();
            let mac = crate::link_mac(&ns, &iface)?
                .0
                .map(|b| format!("{b:02x}"))
                .join(":");
            nodes.push(Node {
                mac,
                conf: dir.path().join(format!("{name}.conf")),
                log: dir.path().join(format!("{name}.log")),
                name,
                keepalived: i == KEEPALIVED,
                ns,
                iface,
                port,
                addr,
                health,
                prio,
                proc: None,
                ready: false,
                starts: 0,
                started_at: 0.0,
                pins: None,
                addrs,
            });
        }
        let client = Netns::new("skcl")?;
        quiet_ipv6(&client);
        let client_if = unique("skh");
        let cport = unique("skp");
        veth(&client, &client_if, &switch, &cport)?;
        attach(&cport)?;
        client.ip(&["addr", "add", &format!("{CLIENT}/24"), "dev", &client_if])?;
        // The client takes every gratuitous ARP at once (Linux otherwise ignores a new MAC
        // within 1 s of the last update, and the faults come faster than that).
        let _ = client.output(
            "sysctl",
            &["-qw", &format!("net.ipv4.neigh.{client_if}.locktime=0")],
        );
        let (a, b) = relay_ends.context("no relayed router")?;
        let relay = Relay::start(&switch, &a, &b, seed ^ 0x5eed)?;
        Ok(Lab {
            nodes,
            client,
            client_if,
            relay,
            switch,
            dir,
        })
    }

    /// Writes node `i`'s configuration as its priorities say now.
    pub fn write_conf(&self, i: usize) -> Result<()> {
        let n = &self.nodes[i];
        std::fs::write(&n.conf, conf(n)).with_context(|| format!("writing {}", n.conf.display()))
    }

    /// Starts node `i`'s daemon (does not wait: [`Lab::poll_ready`] says when it is up).
    pub fn spawn(&mut self, i: usize) -> Result<()> {
        self.write_conf(i)?;
        let n = &mut self.nodes[i];
        n.starts += 1;
        n.log = self.dir.path().join(format!("{}-{}.log", n.name, n.starts));
        let mut cmd = if n.keepalived {
            let mut c = Command::new("ip");
            c.args([
                "netns",
                "exec",
                n.ns.name(),
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
            ])
            .arg(&n.conf)
            .arg("-p")
            .arg(self.dir.path().join(format!("{}.pid", n.name)))
            .arg("-r")
            .arg(self.dir.path().join(format!("{}-vrrp.pid", n.name)));
            c
        } else {
            let pins = n.pins.get_or_insert_with(|| pin_dir("skpin"));
            let mut c = n.ns.command(agent_bin()?);
            c.arg("run")
                .arg("-f")
                .arg(&n.conf)
                .arg("--pin-dir")
                .arg(&**pins)
                .env(
                    "RUST_LOG",
                    std::env::var("VRRP_AGENT_LOG").unwrap_or_else(|_| "info".into()),
                );
            c
        };
        // Its own process group: SIGKILL reaches keepalived's children too, and the
        // terminal's Ctrl-C reaches only the soak, which then stops everything itself.
        cmd.process_group(0);
        n.proc = Some(Proc::spawn(&n.name, &mut cmd, &n.log)?);
        n.ready = false;
        n.started_at = now();
        Ok(())
    }

    /// Whether node `i` is up; an error if its daemon exited.
    pub fn poll_ready(&mut self, i: usize) -> Result<bool> {
        let n = &mut self.nodes[i];
        if n.ready {
            return Ok(true);
        }
        let Some(p) = n.proc.as_mut() else {
            bail!("{} is not running", n.name)
        };
        if let Some(st) = p.try_wait() {
            bail!(
                "{} exited ({st}) while starting:\n{}",
                n.name,
                tail(&p.log_text(), 20)
            );
        }
        let text = p.log_text();
        n.ready = if n.keepalived {
            text.contains("Entering BACKUP STATE") || text.contains("Entering MASTER STATE")
        } else {
            text.contains("instance ready")
        };
        Ok(n.ready)
    }

    /// Sends `sig` to node `i`'s daemon (its whole process group).
    pub fn signal(&self, i: usize, sig: i32) {
        if let Some(p) = &self.nodes[i].proc {
            // SAFETY: kill(2) on the process group of our own child (its own group).
            unsafe { libc::kill(-(p.pid() as i32), sig) };
        }
    }

    /// Sets the health file of node `i` (non-zero: failing).
    pub fn set_health(&self, i: usize, value: u32) -> Result<()> {
        let path = &self.nodes[i].health;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{value}\n"))?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Link of node `i` down or up, on the router's side or the switch's.
    pub fn set_link(&self, i: usize, router_side: bool, up: bool) -> Result<()> {
        let n = &self.nodes[i];
        let state = if up { "up" } else { "down" };
        if router_side {
            n.ns.ip(&["link", "set", &n.iface, state])?;
        } else {
            self.switch.ip(&["link", "set", &n.port, state])?;
        }
        Ok(())
    }

    /// Names of the routers.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
}

/// Only IPv4 here: no router solicitations or DAD noise on the LAN.
fn quiet_ipv6(ns: &Netns) {
    let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A node's keepalived.conf: the sync group G (41, 42) on the agents, 43 and 44 on all;
/// every instance tracks the node's health file (weight 0, so FAULT, on the group: its
/// members ignore weights; -60 on the others), and repeats its gratuitous ARPs every
/// `GARP_REFRESH` seconds while Master (see there).
fn conf(n: &Node) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id sk-{}\n}}\nvrrp_track_file health {{\n    file {}\n}}\n",
        n.name,
        n.health.display()
    );
    if !n.keepalived {
        s.push_str("vrrp_sync_group G {\n    group {\n        VI_41\n        VI_42\n    }\n}\n");
    }
    for (vrid, prio) in &n.prio {
        let weight = if GROUP.contains(vrid) { 0 } else { -60 };
        s.push_str(&format!(
            "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface {iface}\n    \
             virtual_router_id {vrid}\n    priority {prio}\n    version 3\n    advert_int {ADVERT_INT}\n    \
             garp_master_refresh {GARP_REFRESH}\n    \
             virtual_ipaddress {{\n        {vip}/24 dev {iface}\n    }}\n    \
             track_file {{\n        health weight {weight}\n    }}\n}}\n",
            iface = n.iface,
            vip = vip(*vrid),
        ));
    }
    s
}

/// `ip -d link show` of a node's LAN interface mentions an XDP program.
pub fn xdp_attached(n: &Node) -> Result<usize> {
    let out = n.ns.ip(&["-d", "link", "show", "dev", &n.iface])?;
    Ok(out.matches("prog/xdp").count())
}

/// The entries of a pin directory (empty if it does not exist).
pub fn pins_left(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
