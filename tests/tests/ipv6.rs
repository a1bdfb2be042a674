//! IPv6 elections (RFC 9568, VRRPv3) and dual stack, in network namespaces: two routers and
//! a client on one bridge. What is asserted is what the client sees: it pings the VIP over
//! IPv6 (`ping -6`) and its neighbour entry for the VIP is the Master's MAC, before and after
//! every failover, and the VIP is on the Master alone.
//!
//! - two agents over multicast (ff02::12 from the link-local address), and over unicast
//!   peers (2001:db8:: `unicast_src_ip` / `unicast_peer`);
//! - interop with a real keepalived 2.2.7, both directions;
//! - dual stack in the shape of the NGINX Plus guide: an IPv4 and an IPv6 instance with the
//!   same VRID and unicast peers in one `vrrp_sync_group`, the IPv4 one carrying an IPv6
//!   address in `virtual_ipaddress_excluded`: every VIP is on one node, they move together
//!   and come back together.
//!
//! Each story: election, hard failover (the Master's switch port is cut: carrier loss),
//! reconnection (the higher priority preempts back), graceful failover (SIGTERM: priority 0).
//!
//! Needs root and keepalived. The hosts run with `accept_dad=0` ([`Lan::add_host`]), so that
//! their link-local and 2001:db8:: addresses are usable at once.
use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use vrrp_tests::{
    bpftool_counters, keepalived, start_agent, unique, wait_for, Lan, PinDir, Proc, TempDir,
};

const ROUTERS: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 6, 1), Ipv4Addr::new(198, 18, 6, 2)];
const ROUTERS6: [&str; 2] = ["2001:db8:6::1", "2001:db8:6::2"];
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 6, 10);
const CLIENT6: &str = "2001:db8:6::10";
const VIP4: &str = "198.18.6.100";
const VIP6: &str = "2001:db8:6::100";
/// The IPv6 address the dual-stack IPv4 instance carries in `virtual_ipaddress_excluded`.
const VIP6_EXCLUDED: &str = "2001:db8:6::200";
/// The NGINX Plus guide's VRID, for both families.
const VRID: u64 = 51;
/// r1 runs the Master (this priority), r2 the Backup.
const HIGH: u8 = 150;
const LOW: u8 = 100;
/// Generous bound for one transition (v2 at 1 s: Master_Down_Interval ~3.6 s).
const TRANSITION: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One IPv6 instance, v3, advert_int 0.1, to ff02::12.
    Multicast,
    /// One IPv6 instance, v3, advert_int 0.1, unicast_src_ip / unicast_peer (2001:db8::).
    Unicast,
    /// The NGINX Plus guide's dual stack: VI_1 (IPv4, v2 by default, advert_int 1) and VI_2
    /// (IPv6, v3), both VRID 51 with unicast peers, in one sync group.
    DualStack,
}

impl Mode {
    /// How many instances each router runs.
    fn instances(self) -> usize {
        match self {
            Mode::Multicast | Mode::Unicast => 1,
            Mode::DualStack => 2,
        }
    }

    /// The addresses the Master holds and the client reaches.
    fn vips(self) -> &'static [&'static str] {
        match self {
            Mode::Multicast | Mode::Unicast => &[VIP6],
            Mode::DualStack => &[VIP4, VIP6, VIP6_EXCLUDED],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Daemon {
    Agent,
    Keepalived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Backup,
    Master,
    Fault,
    Stopped,
}

struct Speaker {
    daemon: Daemon,
    proc: Proc,
    pins: Option<PinDir>,
}

impl Speaker {
    /// The state the daemon's log reported last.
    fn logged_state(&self) -> Option<State> {
        let log = self.proc.log_text();
        let needles: &[(&str, State)] = match self.daemon {
            Daemon::Keepalived => &[
                ("Entering MASTER STATE", State::Master),
                ("Entering BACKUP STATE", State::Backup),
                ("Entering FAULT STATE", State::Fault),
                ("Stopped", State::Stopped),
            ],
            Daemon::Agent => &[
                ("-> Master:", State::Master),
                ("-> Backup:", State::Backup),
                ("-> Fault:", State::Fault),
                ("-> Initialize:", State::Stopped),
            ],
        };
        needles
            .iter()
            .filter_map(|&(n, s)| log.rfind(n).map(|at| (at, s)))
            .max_by_key(|&(at, _)| at)
            .map(|(_, s)| s)
    }
}

struct Lab {
    lan: Lan,
    dir: TempDir,
    mode: Mode,
}

impl Lab {
    fn new(mode: Mode) -> Lab {
        let mut lan = Lan::new_tagged("v6sw").unwrap();
        lan.add_host("v6r1", ROUTERS[0]).unwrap();
        lan.add_host("v6r2", ROUTERS[1]).unwrap();
        lan.add_host("v6cl", CLIENT).unwrap();
        for (h, a) in lan.hosts.iter().zip(ROUTERS6.iter().chain([&CLIENT6])) {
            h.ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{a}/64"),
                "dev",
                &h.iface,
                "nodad",
            ])
            .unwrap();
        }
        let lab = Lab {
            lan,
            dir: TempDir::new("vrrp-v6").unwrap(),
            mode,
        };
        // Link-local addresses are there (no DAD) once the links are up.
        for h in &lab.lan.hosts {
            let ready = wait_for(Duration::from_secs(5), || {
                h.ns.ip(&["-6", "addr", "show", "dev", &h.iface, "scope", "link"])
                    .ok()
                    .filter(|s| s.contains("fe80::") && !s.contains("tentative"))
            });
            assert!(
                ready.is_some(),
                "no usable link-local address on {}",
                h.iface
            );
        }
        lab
    }

    /// Router `i`'s keepalived.conf, the same text for either daemon.
    fn conf(&self, i: usize, priority: u8) -> String {
        let iface = &self.lan.hosts[i].iface;
        let n = i + 1;
        let global = format!("global_defs {{\n    router_id v6r{n}\n}}\n");
        match self.mode {
            Mode::Multicast | Mode::Unicast => {
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

    fn start(&self, i: usize, daemon: Daemon, priority: u8) -> Speaker {
        // Unique in this process: tests run in parallel, and the pin directory is named after
        // the tag.
        let tag = format!("{}-{daemon:?}", unique(&format!("v6r{}", i + 1))).to_lowercase();
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

    fn logs(&self, speakers: &[&Speaker]) -> String {
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
    fn vips_on(&self, m: usize) -> bool {
        self.mode
            .vips()
            .iter()
            .all(|v| self.lan.hosts[m].has_addr(v) && !self.lan.hosts[1 - m].has_addr(v))
    }

    /// Waits until router `m` alone holds every VIP and both logs agree (`m` Master, the
    /// other Backup), then checks the client reaches every VIP at `m`'s MAC.
    fn assert_master(&self, m: usize, speakers: [&Speaker; 2]) {
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
    fn assert_client_reaches(&self, m: usize, speakers: &[&Speaker]) {
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
    fn assert_no_discards(&self, speakers: &[&Speaker]) {
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
}

/// Election, hard failover, preemption on reconnection and graceful failover, with the
/// daemon `daemons[0]` on r1 (priority HIGH) and `daemons[1]` on r2 (priority LOW).
fn story(mode: Mode, daemons: [Daemon; 2]) {
    let t0 = Instant::now();
    let lab = Lab::new(mode);
    let mut s1 = lab.start(0, daemons[0], HIGH);
    let s2 = lab.start(1, daemons[1], LOW);
    lab.assert_master(0, [&s1, &s2]);
    let elected = t0.elapsed();

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
    eprintln!(
        "{mode:?} {daemons:?}: elected {elected:?}; cut -> v6r2 reachable {failed_over:?}; \
         reconnect -> v6r1 reachable {preempted:?}; SIGTERM -> v6r2 Master {after:?}; whole \
         test {:?}",
        t0.elapsed()
    );
}

#[test]
fn two_agents_elect_and_fail_over_over_ipv6_multicast() {
    story(Mode::Multicast, [Daemon::Agent, Daemon::Agent]);
}

#[test]
fn two_agents_with_ipv6_unicast_peers() {
    story(Mode::Unicast, [Daemon::Agent, Daemon::Agent]);
}

#[test]
fn dual_stack_sync_group_moves_every_vip_together() {
    story(Mode::DualStack, [Daemon::Agent, Daemon::Agent]);
}

#[test]
fn ipv6_agent_master_keepalived_backup() {
    story(Mode::Multicast, [Daemon::Agent, Daemon::Keepalived]);
}

#[test]
fn ipv6_keepalived_master_agent_backup() {
    story(Mode::Multicast, [Daemon::Keepalived, Daemon::Agent]);
}
