//! Packets on the wire: VRRP advertisements (v2 and v3), gratuitous ARP, unsolicited
//! Neighbor Advertisements, and whole Ethernet frames carrying them.
//!
//! Modelled on smoltcp's `wire` module: each message has a `Packet<T: AsRef<[u8]>>` view over
//! a byte buffer (a private `field` module names the byte ranges, `new_checked` makes every
//! accessor safe) and a `Repr` with `parse` and `emit`. Unlike smoltcp, a VRRP parse error
//! names the RFC 9568 §7.1 / RFC 3768 §7.1 rule that failed ([`vrrp_common::Discard`]),
//! because each rule feeds a counter.
//!
//! Nothing here panics on untrusted input: every parse path returns an error instead.
//!
//! - [`checksum`]: the Internet checksum and the VRRP, IPv4 header and ICMPv6 forms of it.
//! - [`vrrp`]: the VRRP message itself.
//! - [`frame`]: whole Ethernet frames (VLAN tags, IPv4/IPv6 header, VRRP payload).
//! - [`arp`]: gratuitous ARP, [`nd`]: unsolicited Neighbor Advertisement.
//! - [`receive`]: the XDP program's receive checks over a whole frame, in user space (the
//!   reference the differential fuzzer holds the kernel to).
#![deny(missing_docs)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub mod arp;
pub mod checksum;
#[doc(hidden)]
pub mod fixtures; // real keepalived captures, shared with the kernel tests and benchmarks
pub mod frame;
pub mod nd;
pub mod receive;
pub mod vrrp;

pub use checksum::ChecksumForm;
pub use frame::{parse_frame, FrameBuilder, FrameError, ParsedFrame, VlanTag};
pub use vrrp::{Auth, EmitContext, EmitError, ParseContext, Repr as VrrpRepr, Version};

/// The IPv4 multicast group of VRRP (RFC 9568 §5.1.1.2, RFC 3768 §5.2.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (RFC 9568 §5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The IPv6 all-nodes group, destination of unsolicited Neighbor Advertisements
/// (RFC 4861 §7.2.6).
pub const ALL_NODES_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The TTL / hop limit a VRRP router sends with and, for multicast, requires on receive
/// (RFC 9568 §5.1.1.3 and §7.1).
pub const VRRP_TTL: u8 = 255;

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The IPv4 virtual router MAC address 00-00-5E-00-01-{VRID} (RFC 3768 §7.3,
    /// RFC 9568 §7.3).
    pub const fn vrrp_v4(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, vrid])
    }

    /// The IPv6 virtual router MAC address 00-00-5E-00-02-{VRID} (RFC 9568 §7.3).
    pub const fn vrrp_v6(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x02, vrid])
    }

    /// The virtual router MAC address of `vrid` in `family`.
    pub const fn vrrp(family: Family, vrid: u8) -> MacAddr {
        match family {
            Family::Ipv4 => MacAddr::vrrp_v4(vrid),
            Family::Ipv6 => MacAddr::vrrp_v6(vrid),
        }
    }

    /// The Ethernet group address of an IP multicast group (RFC 1112 §6.4: 01:00:5e and the
    /// low 23 bits; RFC 2464 §7: 33:33 and the low 32 bits), or `None` for a unicast address.
    pub fn multicast(group: IpAddr) -> Option<MacAddr> {
        match group {
            IpAddr::V4(a) if a.is_multicast() => {
                let o = a.octets();
                Some(MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]))
            }
            IpAddr::V6(a) if a.is_multicast() => {
                let o = a.octets();
                Some(MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]]))
            }
            _ => None,
        }
    }

    /// The six bytes.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Whether the group bit is set (multicast or broadcast).
    pub const fn is_multicast(self) -> bool {
        self.0[0] & 1 != 0
    }

    /// The address in `bytes`, which must be six bytes long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Address family of a virtual router. A router is one (interface, VRID, family); IPv4 and
/// IPv6 addresses never share one advertisement (RFC 9568 §5.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4: 4-byte addresses, VRRP v2 or v3.
    Ipv4,
    /// IPv6: 16-byte addresses, VRRP v3 only.
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Length in bytes of one address of this family.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    /// The code the XDP maps use ([`vrrp_common::FAMILY_IPV4`] or
    /// [`vrrp_common::FAMILY_IPV6`]).
    pub const fn code(self) -> u8 {
        match self {
            Family::Ipv4 => vrrp_common::FAMILY_IPV4,
            Family::Ipv6 => vrrp_common::FAMILY_IPV6,
        }
    }

    /// The VRRP multicast group of this family (224.0.0.18 or ff02::12).
    pub const fn vrrp_group(self) -> IpAddr {
        match self {
            Family::Ipv4 => IpAddr::V4(VRRP_GROUP_V4),
            Family::Ipv6 => IpAddr::V6(VRRP_GROUP_V6),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

/// Source and destination of the IP packet that carries a message: one family by
/// construction. The VRRP v3 and ICMPv6 checksums cover them (pseudo-header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoints {
    /// An IPv4 packet.
    V4 {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
    },
    /// An IPv6 packet.
    V6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
    },
}

impl Endpoints {
    /// `src` and `dst`, or `None` if their families differ.
    pub const fn new(src: IpAddr, dst: IpAddr) -> Option<Endpoints> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(Endpoints::V4 { src, dst }),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(Endpoints::V6 { src, dst }),
            _ => None,
        }
    }

    /// From `src` to the VRRP group of its family (224.0.0.18 or ff02::12).
    pub const fn multicast(src: IpAddr) -> Endpoints {
        match src {
            IpAddr::V4(src) => Endpoints::V4 {
                src,
                dst: VRRP_GROUP_V4,
            },
            IpAddr::V6(src) => Endpoints::V6 {
                src,
                dst: VRRP_GROUP_V6,
            },
        }
    }

    /// The family of both addresses.
    pub const fn family(&self) -> Family {
        match self {
            Endpoints::V4 { .. } => Family::Ipv4,
            Endpoints::V6 { .. } => Family::Ipv6,
        }
    }

    /// The source address.
    pub const fn src(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { src, .. } => IpAddr::V4(src),
            Endpoints::V6 { src, .. } => IpAddr::V6(src),
        }
    }

    /// The destination address.
    pub const fn dst(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { dst, .. } => IpAddr::V4(dst),
            Endpoints::V6 { dst, .. } => IpAddr::V6(dst),
        }
    }

    /// Whether the destination is a multicast group.
    pub const fn dst_is_multicast(&self) -> bool {
        match self {
            Endpoints::V4 { dst, .. } => dst.is_multicast(),
            Endpoints::V6 { dst, .. } => dst.is_multicast(),
        }
    }
}

/// Reads a big-endian u16 at `at`; `None` if the buffer is too short.
fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    match data.get(at..at.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_and_multicast_macs() {
        assert_eq!(MacAddr::vrrp_v4(51).to_string(), "00:00:5e:00:01:33");
        assert_eq!(
            MacAddr::vrrp(Family::Ipv6, 255).to_string(),
            "00:00:5e:00:02:ff"
        );
        assert_eq!(
            MacAddr::multicast(VRRP_GROUP_V4.into()),
            Some(MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]))
        );
        // Only the low 23 bits of an IPv4 group map into the MAC.
        assert_eq!(
            MacAddr::multicast(Ipv4Addr::new(239, 129, 2, 3).into()),
            Some(MacAddr([0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]))
        );
        assert_eq!(
            MacAddr::multicast(VRRP_GROUP_V6.into()),
            Some(MacAddr([0x33, 0x33, 0, 0, 0, 0x12]))
        );
        assert_eq!(
            MacAddr::multicast(Ipv4Addr::new(198, 18, 0, 1).into()),
            None
        );
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::vrrp_v4(1).is_multicast());
    }

    #[test]
    fn endpoints_keep_one_family() {
        let v4: IpAddr = Ipv4Addr::new(198, 18, 0, 1).into();
        let v6: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
        assert_eq!(Endpoints::new(v4, v6), None);
        let e = Endpoints::multicast(v6);
        assert_eq!(e.family(), Family::Ipv6);
        assert_eq!(e.dst(), IpAddr::V6(VRRP_GROUP_V6));
        assert!(e.dst_is_multicast());
        assert!(!Endpoints::new(v4, v4).unwrap().dst_is_multicast());
        assert_eq!(Family::Ipv4.code(), vrrp_common::FAMILY_IPV4);
        assert_eq!(Family::Ipv6.code(), vrrp_common::FAMILY_IPV6);
    }

    #[test]
    fn read_u16_is_bounded() {
        assert_eq!(read_u16(&[1, 2, 3], 1), Some(0x0203));
        assert_eq!(read_u16(&[1, 2, 3], 2), None);
        assert_eq!(read_u16(&[1, 2, 3], usize::MAX), None);
    }
}
