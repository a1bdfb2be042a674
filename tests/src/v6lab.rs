//! The IPv6 lab: two routers and a client on one bridge ([`Lan`]), each router running an
//! agent or a real keepalived 2.2.7 on the same keepalived.conf, and the story every IPv6
//! test tells ([`story`]). What is asserted is what the client sees: it pings the VIPs
//! (`ping -6` / `ping -4`) and its neighbour entry for each is the Master's MAC, before and
//! after every failover, and the VIPs are on the Master alone.
//!
//! The hosts run with `accept_dad=0` ([`Lan::add_host`]), so that their link-local and
//! 2001:db8:: addresses are usable at once. Needs root (and keepalived for its stories).
use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use crate::{
    bpftool_counters, keepalived, start_agent, unique, wait_for, Capture, Captured, Lan, TempDir,
};

/// The routers' IPv4 addresses (hosts 0 and 1).
pub const ROUTERS: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 6, 1), Ipv4Addr::new(198, 18, 6, 2)];
/// Their 2001:db8:: addresses (`unicast_src_ip` / `unicast_peer` in [`Mode::Unicast`]).
pub const ROUTERS6: [&str; 2] = ["2001:db8:6::1", "2001:db8:6::2"];
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 6, 10);
const CLIENT6: &str = "2001:db8:6::10";
const VIP4: &str = "198.18.6.100";
/// The IPv6 VIP.
pub const VIP6: &str = "2001:db8:6::100";
/// The IPv6 address the dual-stack IPv4 instance carries in `virtual_ipaddress_excluded`.
const VIP6_EXCLUDED: &str = "2001:db8:6::200";
/// The group of [`Mode::Group6`] (`vrrp_mcast_group6`).
pub const GROUP6: &str = "ff02::1:12";
/// The NGINX Plus guide's VRID, for both families.
pub const VRID: u64 = 51;
/// r1 runs the Master (this priority), r2 the Backup.
pub const HIGH: u8 = 150;
pub const LOW: u8 = 100;
/// Generous bound for one transition (v2 at 1 s: Master_Down_Interval ~3.6 s).
pub const TRANSITION: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One IPv6 instance, v3, advert_int 0.1, to ff02::12.
    Multicast,
    /// [`Mode::Multicast`] with `vrrp_mcast_group6` [`GROUP6`]: adverts go to (and are
    /// heard on) that group only.
    Group6,
    /// One IPv6 instance, v3, advert_int 0.1, unicast_src_ip / unicast_peer (2001:db8::).
    Unicast,
    /// The NGINX Plus guide's dual stack: VI_1 (IPv4, v2 by default, advert_int 1) and VI_2
    /// (IPv6, v3), both VRID 51 with unicast peers, in one sync group.
    DualStack,
}

impl Mode {
    /// How many instances each router runs.
    pub fn instances(self) -> usize {
        match self {
            Mode::Multicast | Mode::Group6 | Mode::Unicast => 1,
            Mode::DualStack => 2,
        }
    }

    /// The addresses the Master holds and the client reaches.
    pub fn vips(self) -> &'static [&'static str] {
        match self {
            Mode::Multicast | Mode::Group6 | Mode::Unicast => &[VIP6],
            Mode::DualStack => &[VIP4, VIP6, VIP6_EXCLUDED],
        }
    }
}

pub use crate::speaker::{Daemon, Speaker, State};

/// Two routers (hosts 0 and 1) and a client (host 2).
pub struct Lab {
    pub lan: Lan,
    pub dir: TempDir,
    pub mode: Mode,
    prefix: String,
}

impl Lab {
    /// The LAN, with namespace names starting with `prefix`.
    pub fn new(mode: Mode, prefix: &str) -> Lab {
        let mut lan = Lan::new_tagged(&format!("{prefix}sw")).unwrap();
        lan.add_host(&format!("{prefix}r1"), ROUTERS[0]).unwrap();
        lan.add_host(&format!("{prefix}r2"), ROUTERS[1]).unwrap();
        lan.add_host(&format!("{prefix}cl"), CLIENT).unwrap();
        for (h, a) in lan.hosts.iter().zip(ROUTERS6.iter().chain([&CLIENT6])) {
            add_v6(h, a);
        }
        let lab = Lab {
            lan,
            dir: TempDir::new(&format!("vrrp-{prefix}")).unwrap(),
            mode,
            prefix: prefix.to_owned(),
        };
        for i in 0..lab.lan.hosts.len() {
            lab.wait_link_local(i);
        }
        lab
    }

    /// Host `i`'s usable (not tentative) link-local address, once it has one (up to 5 s).
    pub fn wait_link_local(&self, i: usize) -> String {
        let h = &self.lan.hosts[i];
        let ready = wait_for(Duration::from_secs(5), || {
            let out =
                h.ns.ip(&["-6", "-o", "addr", "show", "dev", &h.iface, "scope", "link"])
                    .ok()?;
            if out.contains("tentative") {
                return None;
            }
            let w = out
                .split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)?;
            Some(w.split('/').next()?.to_owned())
        });
        ready.unwrap_or_else(|| panic!("no usable link-local address on {}", h.iface))
    }

    /// Router `i`'s keepalived.conf, the same text for either daemon.
    pub fn conf(&self, i: usize, priority: u8) -> String {
        let iface = &self.lan.hosts[i].iface;
        let n = i + 1;
        let group = match self.mode {
            Mode::Group6 => format!("    vrrp_mcast_group6 {GROUP6}\n"),
            _ => String::new(),
        };
        let global = format!("global_defs {{\n    router_id v6r{n}\n{group}}}\n");
        match self.mode {
            Mode::Multicast | Mode::Group6 | Mode::Unicast => {
                let unicast = if self.mode == Mode::Unicast {
                    format!(
                        "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n    }}\n",
                        ROUTERS6[i],
                        ROUTERS6[1 - i]
                    )
                } else {
                    String::new()
                };
                format!(
                    r#"{global}vrrp_instance VI_6 {{
    state BACKUP
    interface {iface}
    virtual_router_id {VRID}
    priority {priority}
    version 3
    advert_int 0.1
{unicast}    virtual_ipaddress {{
        {VIP6}/64 dev {iface}
    }}
}}
"#
                )
            }
            // The guide's two instances (same VRID, unicast peers), in a sync group so that
            // both move together, as keepalived users run them.
            Mode::DualStack => format!(
                r#"{global}vrrp_sync_group G_NGINX {{
    group {{
        VI_1
        VI_2
    }}
}}
vrrp_instance VI_1 {{
    interface                  {iface}
    priority                   {priority}
    virtual_router_id          {VRID}
    advert_int                 1
    garp_master_refresh        5
    garp_master_refresh_repeat 1
    unicast_src_ip             {me4}
    unicast_peer {{
        {peer4}
    }}
    virtual_ipaddress {{
        {VIP4}/24
    }}
    virtual_ipaddress_excluded {{
        {VIP6_EXCLUDED}/64
    }}
}}
vrrp_instance VI_2 {{
    interface         {iface}
    priority          {priority}
    virtual_router_id {VRID}
    advert_int        1
    unicast_src_ip    {me6}
    unicast_peer {{
        {peer6}
    }}
    virtual_ipaddress {{
        {VIP6}/64
    }}
}}
"#,
                me4 = ROUTERS[i],
                peer4 = ROUTERS[1 - i],
                me6 = ROUTERS6[i],
                peer6 = ROUTERS6[1 - i],
            ),
        }
    }

    /// Starts `daemon` on router `i` at `priority`; keepalived once it is Backup.
    pub fn start(&self, i: usize, daemon: Daemon, priority: u8) -> Speaker {
        // Unique in this process: tests run in parallel, and the pin directory is named after
        // the tag.
        let tag = format!(
            "{}-{daemon:?}",
            unique(&format!("{}r{}", self.prefix, i + 1))
        )
        .to_lowercase();
        let conf = self.conf(i, priority);
        let host = &self.lan.hosts[i];
        match daemon {
            Daemon::Agent => {
                let agent = start_agent(&host.ns, self.dir.path(), &tag, &conf).unwrap();
                Speaker {
                    daemon,
                    proc: agent.proc,
                    pins: Some(agent.pins),
                }
            }
            Daemon::Keepalived => {
                let mut proc = keepalived(&host.ns, self.dir.path(), &tag, &conf).unwrap();
                proc.wait_log("Entering BACKUP STATE", Duration::from_secs(20))
                    .unwrap();
                Speaker {
                    daemon,
                    proc,
                    pins: None,
                }
            }
        }
    }

    /// The daemons' logs, the routers' addresses and the client's neighbours.
    pub fn logs(&self, speakers: &[&Speaker]) -> String {
        let mut out = String::new();
        for s in speakers {
            out.push_str(&format!(
                "--- {} (state {:?})\n{}\n",
                s.proc.what,
                s.logged_state(),
                s.proc.log_text()
            ));
        }
        for (i, h) in self.lan.hosts.iter().enumerate() {
            out.push_str(&format!(
                "--- host {i} addresses:\n{}\n",
                h.ns.ip(&["addr", "show", "dev", &h.iface])
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "--- client neighbours:\n{}",
            self.lan.hosts[2].ns.ip(&["neigh"]).unwrap_or_default()
        ));
        out
    }

    /// Every VIP on router `m`, none on the other.
    pub fn vips_on(&self, m: usize) -> bool {
        self.mode
            .vips()
            .iter()
            .all(|v| self.lan.hosts[m].has_addr(v) && !self.lan.hosts[1 - m].has_addr(v))
    }

    /// Waits until router `m` alone holds every VIP and both logs agree (`m` Master, the
    /// other Backup), then checks the client reaches every VIP at `m`'s MAC.
    pub fn assert_master(&self, m: usize, speakers: [&Speaker; 2]) {
        let agreed = wait_for(TRANSITION, || {
            (self.vips_on(m)
                && speakers[m].logged_state() == Some(State::Master)
                && speakers[1 - m].logged_state() == Some(State::Backup))
            .then_some(())
        });
        assert!(
            agreed.is_some(),
            "v6r{} should be Master alone with every VIP\n{}",
            m + 1,
            self.logs(&speakers)
        );
        self.assert_client_reaches(m, &speakers);
    }

    /// The client pings every VIP (IPv6 ones with `ping -6`) and its neighbour (ARP / ND)
    /// entry for each is router `m`'s MAC.
    pub fn assert_client_reaches(&self, m: usize, speakers: &[&Speaker]) {
        let client = &self.lan.hosts[2];
        let want = self.lan.hosts[m].mac();
        for vip in self.mode.vips() {
            let family = if vip.contains(':') { "-6" } else { "-4" };
            let ok = wait_for(TRANSITION, || {
                let pinged = client
                    .ns
                    .output("ping", &[family, "-c", "1", "-W", "1", "-n", vip])
                    .is_ok_and(|o| o.status.success());
                (pinged && client.neigh_mac(vip).as_deref() == Some(want.as_str())).then_some(())
            });
            assert!(
                ok.is_some(),
                "the client must reach {vip} at v6r{}'s MAC {want}; its neighbour entry is \
                 {:?}\n{}",
                m + 1,
                client.neigh_mac(vip),
                self.logs(speakers)
            );
        }
    }

    /// The agents' XDP counted the other side's adverts as valid and discarded none.
    pub fn assert_no_discards(&self, speakers: &[&Speaker]) {
        for s in speakers {
            let Some(pins) = &s.pins else { continue };
            let counters = bpftool_counters(pins);
            let valid = counters
                .get(&(VRID, "valid".to_string()))
                .copied()
                .unwrap_or(0);
            assert!(
                valid > 0,
                "{}: XDP counted no valid advert: {counters:?}\n{}",
                s.proc.what,
                self.logs(speakers)
            );
            let bad: Vec<_> = counters
                .into_iter()
                .filter(|((vrid, name), _)| {
                    [0, VRID].contains(vrid) && !["valid", "events"].contains(&name.as_str())
                })
                .collect();
            assert!(
                bad.is_empty(),
                "{}: adverts discarded: {bad:?}\n{}",
                s.proc.what,
                self.logs(speakers)
            );
        }
    }

    /// Where router `i`'s IPv6 adverts must go and come from: the group (ff02::12 or
    /// [`GROUP6`]) from its link-local address, or its peer from its 2001:db8:: address.
    pub fn advert_endpoints(&self, i: usize) -> (Ipv6Addr, Ipv6Addr) {
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        match self.mode {
            Mode::Multicast => (a(&self.wait_link_local(i)), a("ff02::12")),
            Mode::Group6 => (a(&self.wait_link_local(i)), a(GROUP6)),
            Mode::Unicast | Mode::DualStack => (a(ROUTERS6[i]), a(ROUTERS6[1 - i])),
        }
    }

    /// Router `i` (the Master) sends its IPv6 adverts to [`Lab::advert_endpoints`] only: at
    /// least 3 seen on its switch port (which sees exactly what it sends), none elsewhere.
    pub fn assert_adverts_sent(&self, i: usize, speakers: &[&Speaker]) {
        let h = &self.lan.hosts[i];
        let want = self.advert_endpoints(i);
        let adverts = |seen: &[Captured]| -> Vec<(Ipv6Addr, Ipv6Addr)> {
            seen.iter()
                .map(|c| &c.frame)
                .filter(|f| f.len() >= 54 && f[12..14] == [0x86, 0xdd] && f[20] == 112)
                .map(|f| {
                    let addr =
                        |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&f[o..o + 16]).unwrap());
                    (addr(22), addr(38))
                })
                .collect()
        };
        let cap = Capture::start(&self.lan.switch, &h.port, 500, Duration::from_secs(5)).unwrap();
        let seen = cap
            .finish_when(Duration::from_secs(5), |s| adverts(s).len() >= 3)
            .unwrap();
        let seen = adverts(&seen);
        assert!(
            seen.len() >= 3 && seen.iter().all(|e| *e == want),
            "v6r{}'s adverts must go from {} to {}: saw {seen:?}\n{}",
            i + 1,
            want.0,
            want.1,
            self.logs(speakers)
        );
    }

    /// Deletes router `i`'s LAN link (both veth ends).
    pub fn delete_link(&self, i: usize) {
        let h = &self.lan.hosts[i];
        h.ns.ip(&["link", "del", &h.iface]).unwrap();
    }

    /// Creates router `i`'s LAN link again (after [`Lab::delete_link`]) under the same
    /// names, with a new MAC (so a new link-local address) and the same IPv4 and 2001:db8::
    /// addresses. With `dad`, the new interface runs Duplicate Address Detection on its
    /// link-local address (tentative for a second or so), as a real host's would. Returns
    /// the new link-local address once usable.
    pub fn create_link(&self, i: usize, dad: bool) -> String {
        let h = &self.lan.hosts[i];
        // Created down, so that the sysctl applies before the link-local address exists.
        crate::ip(&[
            "link",
            "add",
            &h.iface,
            "netns",
            h.ns.name(),
            "type",
            "veth",
            "peer",
            "name",
            &h.port,
            "netns",
            self.lan.switch.name(),
        ])
        .unwrap();
        let sysctl = format!(
            "net.ipv6.conf.{}.accept_dad={}",
            h.iface,
            if dad { 1 } else { 0 }
        );
        let out = h.ns.output("sysctl", &["-qw", &sysctl]).unwrap();
        assert!(out.status.success(), "sysctl {sysctl}: {out:?}");
        self.lan
            .switch
            .ip(&["link", "set", &h.port, "master", "br0"])
            .unwrap();
        h.ns.ip(&["addr", "add", &format!("{}/24", h.addr), "dev", &h.iface])
            .unwrap();
        add_v6(h, ROUTERS6[i]);
        self.lan.switch.ip(&["link", "set", &h.port, "up"]).unwrap();
        h.ns.ip(&["link", "set", &h.iface, "up"]).unwrap();
        self.wait_link_local(i)
    }
}

/// Adds `addr`/64 to host `h`'s LAN interface without DAD.
fn add_v6(h: &crate::LanHost, addr: &str) {
    h.ns.ip(&[
        "-6",
        "addr",
        "add",
        &format!("{addr}/64"),
        "dev",
        &h.iface,
        "nodad",
    ])
    .unwrap();
}

/// Election, hard failover, preemption on reconnection and graceful failover, with the
/// daemon `daemons[0]` on r1 (priority HIGH) and `daemons[1]` on r2 (priority LOW), in a lab
/// whose namespaces are named `prefix...`.
///
/// Each step: the election (r1 Master); hard failover (r1's switch port is cut: carrier
/// loss, r1 in FAULT, r2 takes every VIP); reconnection (r1 preempts back, the agents' XDP
/// counted no discard); a SIGHUP with the same file (an agent r1 keeps its routers, no
/// transition); graceful failover (SIGTERM on r1: priority 0, r2 takes over).
pub fn story(mode: Mode, daemons: [Daemon; 2], prefix: &str) {
    let t0 = Instant::now();
    let lab = Lab::new(mode, prefix);
    let mut s1 = lab.start(0, daemons[0], HIGH);
    let s2 = lab.start(1, daemons[1], LOW);
    lab.assert_master(0, [&s1, &s2]);
    let elected = t0.elapsed();
    lab.assert_adverts_sent(0, &[&s1, &s2]);

    // Hard failover: r1 loses carrier (FAULT, VIPs released); r2 stops hearing adverts.
    let cut = Instant::now();
    lab.lan.cut(0).unwrap();
    let took_over = wait_for(TRANSITION, || {
        (mode.vips().iter().all(|v| lab.lan.hosts[1].has_addr(v))
            && s2.logged_state() == Some(State::Master))
        .then_some(())
    });
    assert!(
        took_over.is_some(),
        "v6r2 must take every VIP when v6r1 is cut off\n{}",
        lab.logs(&[&s1, &s2])
    );
    lab.assert_client_reaches(1, &[&s1, &s2]);
    let failed_over = cut.elapsed();
    let fault = wait_for(TRANSITION, || {
        (s1.logged_state() == Some(State::Fault)
            && mode.vips().iter().all(|v| !lab.lan.hosts[0].has_addr(v)))
        .then_some(())
    });
    assert!(
        fault.is_some(),
        "v6r1 cut off must be in FAULT without its VIPs\n{}",
        lab.logs(&[&s1, &s2])
    );

    // Reconnection: r1 preempts back, announcing the VIPs (NA with Override for IPv6).
    let reconnect = Instant::now();
    lab.lan.reconnect(0).unwrap();
    lab.assert_master(0, [&s1, &s2]);
    let preempted = reconnect.elapsed();
    lab.assert_no_discards(&[&s1, &s2]);

    // A reload with the same file keeps every IPv6 (and IPv4) router as it is: no
    // transition on the Master, which keeps its VIPs.
    if daemons[0] == Daemon::Agent {
        let transitions = |s: &Speaker| s.proc.log_text().matches(" -> ").count();
        let before = transitions(&s1);
        s1.proc.signal(libc::SIGHUP);
        let kept = wait_for(TRANSITION, || {
            let log = s1.proc.log_text();
            (log.matches("reload: kept").count() == mode.instances()).then_some(())
        });
        assert!(
            kept.is_some(),
            "SIGHUP with the same file must keep the instances\n{}",
            lab.logs(&[&s1, &s2])
        );
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            transitions(&s1),
            before,
            "no transition on reload\n{}",
            lab.logs(&[&s1, &s2])
        );
        lab.assert_master(0, [&s1, &s2]);
    }

    // Graceful failover: SIGTERM on r1 sends priority 0; r2 takes over after Skew_Time.
    let stop = Instant::now();
    s1.proc.signal(libc::SIGTERM);
    let after = wait_for(TRANSITION, || {
        (mode.vips().iter().all(|v| lab.lan.hosts[1].has_addr(v))
            && s2.logged_state() == Some(State::Master))
        .then_some(stop.elapsed())
    })
    .unwrap_or_else(|| {
        panic!(
            "v6r2 must take over when v6r1 stops\n{}",
            lab.logs(&[&s1, &s2])
        )
    });
    assert!(
        s1.proc.wait_timeout(Duration::from_secs(20)).is_some(),
        "v6r1 must exit on SIGTERM\n{}",
        lab.logs(&[&s1, &s2])
    );
    assert!(
        mode.vips().iter().all(|v| !lab.lan.hosts[0].has_addr(v)),
        "v6r1 must remove its VIPs when it stops\n{}",
        lab.logs(&[&s1, &s2])
    );
    let why = match daemons[1] {
        Daemon::Agent => "(master resigned)",
        Daemon::Keepalived => "Backup received priority 0 advertisement",
    };
    assert!(
        s2.proc.log_text().contains(why),
        "v6r2 must take over because of v6r1's priority 0, logging {why:?}\n{}",
        lab.logs(&[&s1, &s2])
    );
    lab.assert_client_reaches(1, &[&s1, &s2]);
    lab.assert_adverts_sent(1, &[&s1, &s2]);
    eprintln!(
        "{mode:?} {daemons:?}: elected {elected:?}; cut -> v6r2 reachable {failed_over:?}; \
         reconnect -> v6r1 reachable {preempted:?}; SIGTERM -> v6r2 Master {after:?}; whole \
         test {:?}",
        t0.elapsed()
    );
}
