//! Conversions between the configuration, the map types the XDP program reads and the
//! events it writes.
use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use vrrp_common::{
    AddrKey, InstanceConfig, InstanceKey, PeerEvent, PeerKey, UnicastPeer, AUTH_NONE, AUTH_PASS,
    CFG_OWNER, CFG_UNICAST, FAMILY_IPV4, FAMILY_IPV6,
};

use crate::{
    config::{Auth, Family, Instance, Version},
    units::Centisecs,
};

/// What the kernel must know about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInstance {
    /// Instance name from the configuration.
    pub name: String,
    /// Interface name.
    pub iface: String,
    /// Map key.
    pub key: InstanceKey,
    /// Map value.
    pub cfg: InstanceConfig,
    /// Allowed unicast sources with their TTL range (empty: multicast).
    pub peers: Vec<(PeerKey, UnicastPeer)>,
}

/// Address bytes as the maps hold them: IPv4 in bytes 0..4, the rest zero.
pub fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The kernel's view of one configured instance, given the index of its interface.
pub fn kernel_instance(inst: &Instance, ifindex: u32) -> KernelInstance {
    let family = match inst.family {
        Family::V4 => FAMILY_IPV4,
        Family::V6 => FAMILY_IPV6,
    };
    let key = InstanceKey::new(ifindex, inst.vrid, family);
    let (auth_type, auth_pass) = match (&inst.version, &inst.auth) {
        (Version::V2, Some(Auth::Pass(p))) => (AUTH_PASS, *p),
        _ => (AUTH_NONE, [0; 8]),
    };
    let adver_int_cs =
        Centisecs::from_duration_round(inst.advert_int).map_or(u16::MAX, Centisecs::get);
    let unicast = !inst.unicast_peers.is_empty();
    let mut flags = if unicast { CFG_UNICAST } else { 0 };
    if inst.is_address_owner() {
        flags |= CFG_OWNER;
    }
    let cfg = InstanceConfig {
        version: match inst.version {
            Version::V2 => 2,
            Version::V3 => 3,
        },
        auth_type,
        flags,
        _pad0: 0,
        adver_int_cs,
        slot: 0, // assigned by Dataplane::set_instance
        auth_pass,
        group4: match inst.mcast_group {
            Some(IpAddr::V4(g)) if !unicast => g.octets(),
            _ => [0; 4],
        },
        group6: match inst.mcast_group {
            Some(IpAddr::V6(g)) if !unicast => g.octets(),
            _ => [0; 16],
        },
    };
    let peers = inst
        .unicast_peers
        .iter()
        .map(|p| {
            let ttl = inst
                .unicast_peer_ttl
                .iter()
                .find(|(a, _)| a == p)
                .map_or(UnicastPeer::default(), |(_, r)| {
                    UnicastPeer::new(r.min, r.max)
                });
            (PeerKey::new(key, addr_bytes(*p)), ttl)
        })
        .collect();
    KernelInstance {
        name: inst.name.clone(),
        iface: inst.interface.clone(),
        key,
        cfg,
        peers,
    }
}

/// The `VRRP_LOCAL_ADDRS` entries a unicast instance needs: the addresses of its family
/// that unicast adverts to this host may be sent to (`iface_addrs`, the addresses of its
/// interface, and its own source address). Nothing for a multicast instance.
pub fn unicast_destinations(
    inst: &Instance,
    src: Option<IpAddr>,
    iface_addrs: &[IpAddr],
) -> Vec<AddrKey> {
    if !inst.is_unicast() {
        return Vec::new();
    }
    let family = match inst.family {
        Family::V4 => FAMILY_IPV4,
        Family::V6 => FAMILY_IPV6,
    };
    iface_addrs
        .iter()
        .chain(src.iter())
        .chain(inst.unicast_src_ip.iter())
        .filter(|a| a.is_ipv4() == (family == FAMILY_IPV4))
        .map(|a| AddrKey::new(family, addr_bytes(*a)))
        .collect()
}

/// How often at most the agent logs the same instance's address-owner conflict.
pub const OWNER_CONFLICT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Rate limit for the warnings about [`vrrp_common::EV_OWNER_CONFLICT`]: another router
/// claims to own an instance's addresses (priority 255) while this one does.
#[derive(Debug, Default)]
pub struct OwnerConflicts {
    last: BTreeMap<PeerKey, Duration>,
}

impl OwnerConflicts {
    /// Whether the conflict with `peer` reported at `now` (monotonic time) is to be logged:
    /// the first time, then at most once per [`OWNER_CONFLICT_LOG_EVERY`].
    pub fn should_log(&mut self, peer: PeerKey, now: Duration) -> bool {
        match self.last.get(&peer) {
            Some(t) if now.saturating_sub(*t) < OWNER_CONFLICT_LOG_EVERY => false,
            _ => {
                self.last.insert(peer, now);
                true
            }
        }
    }
}

/// Decodes one ring-buffer record.
pub fn parse_event(bytes: &[u8]) -> Option<PeerEvent> {
    if bytes.len() < std::mem::size_of::<PeerEvent>() {
        return None;
    }
    // SAFETY: PeerEvent is repr(C) plain data valid for any bit pattern, and we read exactly
    // its size from a buffer at least that long.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const PeerEvent) })
}

/// A peer address from map bytes.
pub fn peer_addr(key: &PeerKey) -> IpAddr {
    if key.family == FAMILY_IPV4 {
        IpAddr::from([key.addr[0], key.addr[1], key.addr[2], key.addr[3]])
    } else {
        IpAddr::from(key.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_conflicts_are_logged_once_a_minute_per_sender() {
        let mut c = OwnerConflicts::default();
        let a = PeerKey::new(InstanceKey::new(2, 51, FAMILY_IPV4), [1; 16]);
        let b = PeerKey::new(InstanceKey::new(2, 51, FAMILY_IPV4), [2; 16]);
        let s = Duration::from_secs;
        assert!(c.should_log(a, s(100)));
        assert!(!c.should_log(a, s(101)));
        assert!(c.should_log(b, s(101)), "another sender is news");
        assert!(!c.should_log(a, s(159)));
        assert!(c.should_log(a, s(160)));
    }

    /// The group each family's multicast instance accepts adverts on reaches the XDP
    /// instance table (zero: the standard group); a unicast instance has none.
    #[test]
    fn the_configured_group_reaches_the_instance_table() {
        let inst = |global: &str, vip: &str, extra: &str| {
            let text = format!(
                "global_defs {{\n{global}\n}}\nvrrp_instance V {{\n interface eth0\n \
                 virtual_router_id 51\n version 3\n{extra}\n virtual_ipaddress {{\n  {vip}\n \
                 }}\n}}\n"
            );
            let l = crate::config::parse_str(&text, std::path::Path::new("t.conf"))
                .unwrap_or_else(|e| panic!("{e}"));
            kernel_instance(&l.config.instances[0], 7).cfg
        };
        let both = " vrrp_mcast_group4 224.0.0.19\n vrrp_mcast_group6 ff02::1:12";
        let c = inst("", "2001:db8::100/64", "");
        assert_eq!((c.group4, c.group6), ([0; 4], [0; 16]));
        let c = inst(both, "2001:db8::100/64", "");
        let want: std::net::Ipv6Addr = "ff02::1:12".parse().unwrap();
        assert_eq!((c.group4, c.group6), ([0; 4], want.octets()));
        let c = inst(both, "198.18.0.100/24", "");
        assert_eq!((c.group4, c.group6), ([224, 0, 0, 19], [0; 16]));
        let unicast = " unicast_src_ip 2001:db8::1\n unicast_peer {\n  2001:db8::2\n }";
        let c = inst(both, "2001:db8::100/64", unicast);
        assert_eq!((c.group4, c.group6), ([0; 4], [0; 16]));
    }
}
