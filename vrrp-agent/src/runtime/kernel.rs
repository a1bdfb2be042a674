//! Conversions between the configuration, the map types the XDP program reads and the
//! events it writes.
use std::net::IpAddr;

use vrrp_common::{
    InstanceConfig, InstanceKey, PeerEvent, PeerKey, AUTH_NONE, AUTH_PASS, CFG_UNICAST,
    FAMILY_IPV4, FAMILY_IPV6,
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
    /// Allowed unicast sources (empty: multicast).
    pub peers: Vec<PeerKey>,
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
    let cfg = InstanceConfig {
        version: match inst.version {
            Version::V2 => 2,
            Version::V3 => 3,
        },
        auth_type,
        flags: if unicast { CFG_UNICAST } else { 0 },
        _pad0: 0,
        adver_int_cs,
        slot: 0, // assigned by Dataplane::set_instance
        auth_pass,
    };
    let peers = inst
        .unicast_peers
        .iter()
        .map(|p| PeerKey::new(key, addr_bytes(*p)))
        .collect();
    KernelInstance {
        name: inst.name.clone(),
        iface: inst.interface.clone(),
        key,
        cfg,
        peers,
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
