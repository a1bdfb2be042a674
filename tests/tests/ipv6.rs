//! IPv6 elections (RFC 9568, VRRPv3) and dual stack, in network namespaces: two routers and
//! a client on one bridge ([`vrrp_tests::v6lab`], where the story and its assertions live).
//!
//! - two agents over multicast (ff02::12 from the link-local address), and over unicast
//!   peers (2001:db8:: `unicast_src_ip` / `unicast_peer`);
//! - interop with a real keepalived 2.2.7, both directions, on ff02::12 and on another group
//!   (`vrrp_mcast_group6`);
//! - dual stack in the shape of the NGINX Plus guide: an IPv4 and an IPv6 instance with the
//!   same VRID and unicast peers in one `vrrp_sync_group`, the IPv4 one carrying an IPv6
//!   address in `virtual_ipaddress_excluded`: every VIP is on one node, they move together
//!   and come back together;
//! - a router's interface deleted and created again under a running pair.
//!
//! Needs root and keepalived.
use std::time::Duration;

use vrrp_tests::{
    v6lab::{story, Daemon, Lab, Mode, State, HIGH, LOW, TRANSITION, VIP6},
    wait_for,
};

#[test]
fn two_agents_elect_and_fail_over_over_ipv6_multicast() {
    story(Mode::Multicast, [Daemon::Agent, Daemon::Agent], "v6");
}

#[test]
fn two_agents_with_ipv6_unicast_peers() {
    story(Mode::Unicast, [Daemon::Agent, Daemon::Agent], "v6");
}

#[test]
fn dual_stack_sync_group_moves_every_vip_together() {
    story(Mode::DualStack, [Daemon::Agent, Daemon::Agent], "v6");
}

#[test]
fn ipv6_agent_master_keepalived_backup() {
    story(Mode::Multicast, [Daemon::Agent, Daemon::Keepalived], "v6");
}

#[test]
fn ipv6_keepalived_master_agent_backup() {
    story(Mode::Multicast, [Daemon::Keepalived, Daemon::Agent], "v6");
}

/// `vrrp_mcast_group6 ff02::1:12` on both sides: keepalived listens on that group only (its
/// receive socket is bound to it), so the election only works if the agent sends there,
/// and the agent's XDP must accept adverts sent there (it discards ff02::12 then).
#[test]
fn ipv6_group6_agent_master_keepalived_backup() {
    story(Mode::Group6, [Daemon::Agent, Daemon::Keepalived], "h6n");
}

#[test]
fn ipv6_group6_keepalived_master_agent_backup() {
    story(Mode::Group6, [Daemon::Keepalived, Daemon::Agent], "h6n");
}

/// Each router's interface deleted and created again under the same name while two agents
/// run: a new ifindex, a new MAC and so a new link-local address, which must become the
/// advert source (ff02::12 adverts must come from the link-local address, RFC 9568
/// §5.1.2.1), with DAD running on it as on a real host.
///
/// The Master's link first: the Backup takes over; when the link is back the Master leaves
/// FAULT and preempts (the Backup only steps down if it hears the new source's adverts);
/// the client reaches the VIP at the new MAC. Then the Backup's: it leaves FAULT as Backup;
/// once Master (r1 stopped), a new agent on r1 at a lower priority must stay Backup, so it
/// hears r2's adverts from r2's new link-local address.
#[test]
fn a_recreated_interface_is_followed_with_its_new_link_local_address() {
    let lab = Lab::new(Mode::Multicast, "h6n");
    let s1 = lab.start(0, Daemon::Agent, HIGH);
    let s2 = lab.start(1, Daemon::Agent, LOW);
    lab.assert_master(0, [&s1, &s2]);
    let old1 = lab.wait_link_local(0);

    lab.delete_link(0);
    let took_over = wait_for(TRANSITION, || {
        (lab.lan.hosts[1].has_addr(VIP6)
            && s2.logged_state() == Some(State::Master)
            && s1.logged_state() == Some(State::Fault))
        .then_some(())
    });
    assert!(
        took_over.is_some(),
        "v6r1's link deleted: it must be in FAULT and v6r2 Master\n{}",
        lab.logs(&[&s1, &s2])
    );
    let new1 = lab.create_link(0, true);
    assert_ne!(old1, new1, "a new MAC gives a new link-local address");
    lab.assert_master(0, [&s1, &s2]);
    let log1 = s1.proc.log_text();
    assert!(
        log1.contains("advert source changed") && log1.contains(&new1),
        "v6r1 must send from {new1} now\n{}",
        lab.logs(&[&s1, &s2])
    );

    let old2 = lab.wait_link_local(1);
    lab.delete_link(1);
    let fault = wait_for(TRANSITION, || {
        (s2.logged_state() == Some(State::Fault)).then_some(())
    });
    assert!(
        fault.is_some(),
        "v6r2's link deleted: FAULT\n{}",
        lab.logs(&[&s1, &s2])
    );
    let new2 = lab.create_link(1, true);
    assert_ne!(old2, new2);
    lab.assert_master(0, [&s1, &s2]);
    drop(s1);
    let s1 = lab.start(0, Daemon::Agent, LOW - 10);
    lab.assert_master(1, [&s1, &s2]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !s1.proc.log_text().contains("-> Master"),
        "v6r1 must hear v6r2's adverts from {new2}\n{}",
        lab.logs(&[&s1, &s2])
    );
    lab.assert_no_discards(&[&s1, &s2]);
}
