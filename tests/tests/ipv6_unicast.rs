//! IPv6 unicast peers with a real keepalived 2.2.7 (VRRPv3, `unicast_src_ip` /
//! `unicast_peer` with 2001:db8:: addresses), in both directions: keepalived Master and
//! agent Backup, agent Master and keepalived Backup. Each story (see
//! [`vrrp_tests::v6lab::story`]): election, hard failover (the Master loses carrier), the
//! Master preempting back, graceful failover (SIGTERM: priority 0); the client pings the
//! VIP over IPv6 and its neighbour entry must be the Master's MAC after every step; the
//! agent's XDP counted keepalived's adverts as valid and discarded none.
//!
//! Needs root and keepalived.
use vrrp_tests::v6lab::{story, Daemon, Mode};

#[test]
fn ipv6_unicast_agent_master_keepalived_backup() {
    story(Mode::Unicast, [Daemon::Agent, Daemon::Keepalived], "h6n");
}

#[test]
fn ipv6_unicast_keepalived_master_agent_backup() {
    story(Mode::Unicast, [Daemon::Keepalived, Daemon::Agent], "h6n");
}
