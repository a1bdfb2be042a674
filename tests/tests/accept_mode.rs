//! Accept_Mode (RFC 9568 §6.4.3) as a client sees it: a non-owner Master in no_accept mode
//! drops the client's packets to its VIP (a UDP datagram to a port a test listens on, and a
//! ping) and counts them, while ARP for the VIP still resolves to it; with `accept` (the
//! default) the same packets are delivered. After a failover the old Master's VIP table entry
//! is gone. Two routers and a client on a bridge, namespaces `ac...`. Needs root.
use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    time::Duration,
};

use vrrp_tests::{
    bpftool_counters, bpftool_dump, formatted, in_netns, start_agent, wait_for, Agent, Lan, TempDir,
};

const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 81, 1);
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 81, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 81, 50);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 81, 100);
const VRID: u8 = 81;
const PORT: u16 = 5081;

fn conf(iface: &str, priority: u8, mode: &str) -> String {
    format!(
        "vrrp_instance VI_AC {{\n    interface {iface}\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    version 3\n    advert_int 0.1\n    {mode}\n    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn lab() -> Lan {
    let mut lan = Lan::new_tagged("acsw").unwrap();
    lan.add_host("acr", R1).unwrap();
    lan.add_host("acr", R2).unwrap();
    lan.add_host("acc", CLIENT).unwrap();
    lan
}

fn wait_master(agent: &Agent, lan: &Lan, i: usize) {
    let up = wait_for(Duration::from_secs(10), || {
        lan.hosts[i].has_addr(&VIP.to_string()).then_some(())
    });
    assert!(
        up.is_some(),
        "no Master with the VIP\n{}",
        agent.proc.log_text()
    );
}

/// A UDP socket bound to VIP:PORT in router `i`'s namespace.
fn listen(lan: &Lan, i: usize) -> UdpSocket {
    in_netns(&lan.hosts[i].ns, || {
        let s = UdpSocket::bind(SocketAddr::from((VIP, PORT)))?;
        s.set_read_timeout(Some(Duration::from_millis(700)))?;
        Ok(s)
    })
    .unwrap()
}

/// The client sends `msg` to VIP:PORT; returns what the listener got, if anything.
fn send_and_receive(lan: &Lan, listener: &UdpSocket, msg: &[u8]) -> Option<Vec<u8>> {
    in_netns(&lan.hosts[2].ns, || {
        let s = UdpSocket::bind(SocketAddr::from((CLIENT, 0)))?;
        s.send_to(msg, SocketAddr::from((VIP, PORT)))?;
        Ok(())
    })
    .unwrap();
    let mut buf = [0u8; 64];
    listener.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// The VIP table of an agent: the addresses (dotted IPv4) in its pinned VRRP_VIPS.
fn vip_table(agent: &Agent) -> Vec<String> {
    let dump = bpftool_dump(&agent.pins.join("VRRP_VIPS")).unwrap();
    dump.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let addr = &formatted(e)["key"]["addr"];
            let b: Vec<u64> = addr
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
        })
        .collect()
}

fn no_accept_drops(agent: &Agent) -> u64 {
    bpftool_counters(&agent.pins)
        .get(&(u64::from(VRID), "no_accept".to_string()))
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_no_accept_master_drops_what_clients_send_to_its_vip_but_answers_arp() {
    let lan = lab();
    let dir = TempDir::new("vrrp-ac").unwrap();
    let r1 = start_agent(
        &lan.hosts[0].ns,
        dir.path(),
        "r1",
        &conf(&lan.hosts[0].iface, 100, "no_accept"),
    )
    .unwrap();
    wait_master(&r1, &lan, 0);
    assert_eq!(vip_table(&r1), [VIP.to_string()]);

    let listener = listen(&lan, 0);
    assert_eq!(
        send_and_receive(&lan, &listener, b"one"),
        None,
        "the datagram was delivered"
    );
    assert!(
        !lan.hosts[2].ping(&VIP.to_string()),
        "the VIP answered a ping"
    );
    // ARP is not filtered: the client resolved the VIP to the Master.
    assert_eq!(
        lan.hosts[2].neigh_mac(&VIP.to_string()).as_deref(),
        Some(lan.hosts[0].mac().as_str())
    );
    // The Master's own address is not a VIP: it still answers.
    assert!(
        lan.hosts[2].ping(&R1.to_string()),
        "the Master's own address"
    );
    let drops = no_accept_drops(&r1);
    assert!(drops >= 2, "datagram and ping counted: {drops}");

    // A higher priority takes over: the old Master's entry goes with its VIP, and the new
    // Master filters instead.
    let r2 = start_agent(
        &lan.hosts[1].ns,
        dir.path(),
        "r2",
        &conf(&lan.hosts[1].iface, 150, "no_accept"),
    )
    .unwrap();
    wait_master(&r2, &lan, 1);
    let gone = wait_for(Duration::from_secs(5), || {
        (!lan.hosts[0].has_addr(&VIP.to_string()) && vip_table(&r1).is_empty()).then_some(())
    });
    assert!(
        gone.is_some(),
        "old Master still has {:?}\n{}",
        vip_table(&r1),
        r1.proc.log_text()
    );
    assert_eq!(vip_table(&r2), [VIP.to_string()]);
    drop(listener);
    let listener = listen(&lan, 1);
    // The client learns the new Master's MAC for the VIP (gratuitous ARP, or ARP again).
    let _ = lan.hosts[2]
        .ns
        .ip(&["neigh", "flush", "dev", &lan.hosts[2].iface]);
    assert_eq!(
        send_and_receive(&lan, &listener, b"two"),
        None,
        "delivered on the new Master"
    );
    assert!(
        no_accept_drops(&r2) >= 1,
        "{:?}",
        bpftool_counters(&r2.pins)
    );
}

#[test]
fn with_accept_the_master_takes_what_clients_send_to_its_vip() {
    let lan = lab();
    let dir = TempDir::new("vrrp-ac").unwrap();
    let r1 = start_agent(
        &lan.hosts[0].ns,
        dir.path(),
        "r1",
        &conf(&lan.hosts[0].iface, 100, "accept"),
    )
    .unwrap();
    wait_master(&r1, &lan, 0);
    let listener = listen(&lan, 0);
    assert_eq!(
        send_and_receive(&lan, &listener, b"hello").as_deref(),
        Some(&b"hello"[..])
    );
    assert!(
        lan.hosts[2].ping(&VIP.to_string()),
        "the VIP did not answer a ping"
    );
    assert!(vip_table(&r1).is_empty());
    assert_eq!(no_accept_drops(&r1), 0);
}
