//! Unsolicited Neighbor Advertisement: the IPv6 counterpart of gratuitous ARP, sent by a new
//! VRRP Master for each virtual IPv6 address (RFC 9568 §6.4.1: "for each IPv6 address
//! associated with the virtual router, send an unsolicited ND Neighbor Advertisement with
//! the Router Flag (R) set if in Router mode, the Solicited Flag (S) unset, the Override
//! flag (O) set, the target address set to the IPv6 address of the virtual router, and the
//! target link-layer address set to the virtual router MAC address").
//!
//! RFC 4861 §7.2.6 ("Sending Unsolicited Neighbor Advertisements") gives the rest: to the
//! all-nodes group ff02::1, hop limit 255 (§7.1.2), with the Target Link-Layer Address
//! option (type 2). keepalived sends it from the virtual address itself and sets R only
//! when the interface forwards (see `fixtures::NA_FRAME`).
//!
//! ```text
//! 0      1      2          4                    8                         24   25   26      32
//! | type | code | checksum |R|S|O| reserved      | target address          | 2  | 1  | MAC   |
//! ```
use std::net::Ipv6Addr;

use super::checksum::{self, IPPROTO_ICMPV6};
use super::frame::{
    parse_frame, write_ethernet, FrameError, ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
    IPV6_HEADER_LEN,
};
use super::{Endpoints, MacAddr, ALL_NODES_V6};

/// ICMPv6 type of a Neighbor Advertisement (RFC 4861 §4.4).
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// ND option type Target Link-Layer Address (RFC 4861 §4.6.1).
pub const OPT_TARGET_LINK_ADDR: u8 = 2;
/// Router flag (RFC 4861 §4.4).
pub const FLAG_ROUTER: u8 = 0x80;
/// Solicited flag (RFC 4861 §4.4).
pub const FLAG_SOLICITED: u8 = 0x40;
/// Override flag (RFC 4861 §4.4).
pub const FLAG_OVERRIDE: u8 = 0x20;
/// Length of the Neighbor Advertisement without options.
pub const NA_HEADER_LEN: usize = 24;
/// Length of the message this module sends: header and one Ethernet TLLA option.
pub const MESSAGE_LEN: usize = NA_HEADER_LEN + 8;
/// Length of the whole frame this module sends (no VLAN tags, no FCS).
pub const FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + MESSAGE_LEN;
/// Hop limit of every ND message (RFC 4861 §7.1.2).
pub const ND_HOP_LIMIT: u8 = 255;

mod field {
    pub type Field = core::ops::Range<usize>;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    /// R, S, O and 29 reserved bits.
    pub const FLAGS: Field = 4..8;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: usize = 24;
}

/// A read/write view of an ICMPv6 Neighbor Advertisement (the IPv6 payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length (accessors panic below
    /// [`NA_HEADER_LEN`]).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer`, or fails if it cannot hold the 24-byte header (RFC 4861 §7.1.2: ICMP
    /// length 24 or more). Accessors of the result never panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, FrameError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`FrameError::Truncated`] if the buffer is shorter than [`NA_HEADER_LEN`].
    pub fn check_len(&self) -> Result<(), FrameError> {
        if self.buffer.as_ref().len() < NA_HEADER_LEN {
            Err(FrameError::Truncated("neighbor advertisement"))
        } else {
            Ok(())
        }
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// ICMPv6 type (136).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// ICMPv6 code (0).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// ICMPv6 checksum.
    pub fn checksum(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// The flags byte (R, S, O in the top three bits).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS.start]
    }

    /// The Router flag.
    pub fn router_flag(&self) -> bool {
        self.flags() & FLAG_ROUTER != 0
    }

    /// The Solicited flag.
    pub fn solicited_flag(&self) -> bool {
        self.flags() & FLAG_SOLICITED != 0
    }

    /// The Override flag.
    pub fn override_flag(&self) -> bool {
        self.flags() & FLAG_OVERRIDE != 0
    }

    /// The target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        let d = &self.buffer.as_ref()[field::TARGET];
        let mut b = [0; 16];
        b.copy_from_slice(d);
        Ipv6Addr::from(b)
    }

    /// Walks the options (RFC 4861 §4.6) and returns the first Ethernet Target Link-Layer
    /// Address; [`FrameError::NdOption`] for an option of length 0 or one running past the
    /// buffer (RFC 4861 §7.1.2: such a packet is discarded).
    pub fn target_link_addr(&self) -> Result<Option<MacAddr>, FrameError> {
        let data = self.buffer.as_ref();
        let mut offset = field::OPTIONS;
        let mut found = None;
        while offset < data.len() {
            let (kind, len) = match data.get(offset..offset + 2) {
                Some(&[kind, len]) => (kind, usize::from(len) * 8),
                _ => return Err(FrameError::NdOption),
            };
            let option = match data.get(offset..offset + len) {
                Some(option) if len > 0 => option,
                _ => return Err(FrameError::NdOption),
            };
            if kind == OPT_TARGET_LINK_ADDR && len == 8 && found.is_none() {
                found = MacAddr::from_slice(&option[2..8]);
            }
            offset += len;
        }
        Ok(found)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the ICMPv6 type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the ICMPv6 code.
    pub fn set_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the flags byte and clears the reserved bits.
    pub fn set_flags(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&[value & 0xe0, 0, 0, 0]);
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&value.octets());
    }

    /// Writes an Ethernet Target Link-Layer Address option right after the header.
    ///
    /// # Panics
    /// If the buffer is shorter than [`MESSAGE_LEN`].
    pub fn set_target_link_addr(&mut self, mac: MacAddr) {
        let option = &mut self.buffer.as_mut()[field::OPTIONS..field::OPTIONS + 8];
        option[0] = OPT_TARGET_LINK_ADDR;
        option[1] = 1;
        option[2..].copy_from_slice(&mac.0);
    }

    /// Computes and writes the ICMPv6 checksum over the whole buffer, with the pseudo-header
    /// of `src` and `dst` (RFC 4443 §2.3).
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let sum = checksum::icmpv6(src, dst, self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// An unsolicited Neighbor Advertisement announcing `target` at `sender_mac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NaRepr {
    /// The MAC the address now answers from: the Target Link-Layer Address option and the
    /// Ethernet source.
    pub sender_mac: MacAddr,
    /// IPv6 source address (keepalived: the virtual address itself).
    pub src: Ipv6Addr,
    /// The virtual address.
    pub target: Ipv6Addr,
    /// The Router flag: set when the node forwards (RFC 9568 §6.4.1 "if in Router mode").
    pub router: bool,
}

impl NaRepr {
    /// The advertisement keepalived sends: from `target` itself, Router flag clear.
    pub const fn new(sender_mac: MacAddr, target: Ipv6Addr) -> NaRepr {
        NaRepr {
            sender_mac,
            src: target,
            target,
            router: false,
        }
    }

    /// Parses a whole Ethernet frame (VLAN tags and padding allowed) and runs the RFC 4861
    /// §7.1.2 validity checks that apply: hop limit 255, ICMPv6 checksum, code 0, length
    /// 24 or more, target not multicast, Solicited clear (the destination of an unsolicited
    /// advertisement is multicast), every option of non-zero length. Also requires the
    /// Override flag and a Target Link-Layer Address option, which make it an announcement.
    pub fn parse(frame: &[u8]) -> Result<NaRepr, FrameError> {
        let parsed = parse_frame(frame)?;
        let (src, dst) = match parsed.ip {
            Endpoints::V6 { src, dst } => (src, dst),
            Endpoints::V4 { .. } => return Err(FrameError::Ethertype(ETHERTYPE_IPV4)),
        };
        if parsed.protocol != IPPROTO_ICMPV6 {
            return Err(FrameError::Protocol(parsed.protocol));
        }
        if parsed.ttl != ND_HOP_LIMIT {
            return Err(FrameError::HopLimit(parsed.ttl));
        }
        let msg = parsed.payload_bytes(frame);
        let packet = Packet::new_checked(msg)?;
        if packet.msg_type() != ICMPV6_NEIGHBOR_ADVERT || packet.code() != 0 {
            return Err(FrameError::Icmpv6Type(packet.msg_type(), packet.code()));
        }
        if checksum::icmpv6(src, dst, msg) != 0 {
            return Err(FrameError::Icmpv6Checksum);
        }
        if packet.solicited_flag() || !packet.override_flag() {
            return Err(FrameError::NdFlags);
        }
        let target = packet.target_addr();
        if target.is_multicast() {
            return Err(FrameError::NdTargetMulticast);
        }
        let sender_mac = packet
            .target_link_addr()?
            .ok_or(FrameError::NdNoTargetLinkAddr)?;
        Ok(NaRepr {
            sender_mac,
            src,
            target,
            router: packet.router_flag(),
        })
    }

    /// Writes the ICMPv6 message ([`MESSAGE_LEN`] bytes) with its checksum for a packet
    /// from `self.src` to ff02::1.
    ///
    /// # Panics
    /// If the buffer is shorter than [`MESSAGE_LEN`].
    pub fn emit_packet<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_msg_type(ICMPV6_NEIGHBOR_ADVERT);
        packet.set_code(0);
        let router = if self.router { FLAG_ROUTER } else { 0 };
        packet.set_flags(router | FLAG_OVERRIDE);
        packet.set_target_addr(self.target);
        packet.set_target_link_addr(self.sender_mac);
        packet.fill_checksum(self.src, ALL_NODES_V6);
    }

    /// Writes the whole frame: Ethernet to 33:33:00:00:00:01 from `sender_mac`, IPv6 from
    /// `src` to ff02::1 with hop limit 255 (traffic class and flow label 0), and the message.
    pub fn emit(&self, frame: &mut [u8; FRAME_LEN]) {
        let mut out = Vec::with_capacity(FRAME_LEN);
        let dst_mac = MacAddr::multicast(ALL_NODES_V6.into()).unwrap_or(MacAddr::BROADCAST);
        write_ethernet(&mut out, dst_mac, self.sender_mac, &[], ETHERTYPE_IPV6);
        out.extend_from_slice(&(6u32 << 28).to_be_bytes());
        out.extend_from_slice(&(MESSAGE_LEN as u16).to_be_bytes());
        out.push(IPPROTO_ICMPV6);
        out.push(ND_HOP_LIMIT);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&ALL_NODES_V6.octets());
        let (headers, msg) = frame.split_at_mut(out.len());
        headers.copy_from_slice(&out);
        self.emit_packet(&mut Packet::new_unchecked(msg));
    }

    /// The whole frame in a new array.
    pub fn to_frame(&self) -> [u8; FRAME_LEN] {
        let mut frame = [0; FRAME_LEN];
        self.emit(&mut frame);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures::{
        XorShift, GARP_FRAME, IF_MAC, NA_FRAME, V2_FRAME, V3_IPV6_FRAME, VIP6,
    };
    use crate::wire::frame::ETHERTYPE_ARP;

    const MSG: &[u8] = NA_FRAME.split_at(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN).1;

    fn repr() -> NaRepr {
        NaRepr::new(IF_MAC, VIP6)
    }

    /// `NA_FRAME` with byte `i` of the ICMPv6 message set to `v` and the checksum redone.
    fn with_msg_byte(i: usize, v: u8) -> Vec<u8> {
        let mut f = NA_FRAME.to_vec();
        let msg = &mut f[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
        msg[i] = v;
        Packet::new_unchecked(msg).fill_checksum(VIP6, ALL_NODES_V6);
        f
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(MSG).unwrap();
        assert_eq!(p.msg_type(), 136);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x991c);
        assert_eq!(p.flags(), FLAG_OVERRIDE);
        assert!(!p.router_flag() && !p.solicited_flag() && p.override_flag());
        assert_eq!(p.target_addr(), VIP6);
        assert_eq!(p.target_link_addr(), Ok(Some(IF_MAC)));
        assert_eq!(checksum::icmpv6(VIP6, ALL_NODES_V6, MSG), 0);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; MESSAGE_LEN];
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_msg_type(136);
        p.set_code(0);
        p.set_flags(FLAG_OVERRIDE);
        p.set_target_addr(VIP6);
        p.set_target_link_addr(IF_MAC);
        p.fill_checksum(VIP6, ALL_NODES_V6);
        assert_eq!(&bytes[..], MSG);
    }

    #[test]
    fn parse_keepalived_na() {
        assert_eq!(NaRepr::parse(&NA_FRAME), Ok(repr()));
    }

    #[test]
    fn emit_matches_keepalived() {
        assert_eq!(repr().to_frame(), NA_FRAME);
        let mut frame = [0xa5; FRAME_LEN];
        repr().emit(&mut frame);
        assert_eq!(frame, NA_FRAME);
    }

    #[test]
    fn router_flag_and_other_source_round_trip() {
        let r = NaRepr {
            sender_mac: MacAddr::vrrp_v6(51),
            src: "fe80::1".parse().unwrap(),
            target: VIP6,
            router: true,
        };
        let frame = r.to_frame();
        assert_eq!(frame[58], FLAG_ROUTER | FLAG_OVERRIDE);
        assert_eq!(frame[6..12], [0x00, 0x00, 0x5e, 0x00, 0x02, 51]);
        assert_eq!(NaRepr::parse(&frame), Ok(r));
    }

    #[test]
    fn parse_accepts_padding_vlan_tags_and_extra_options() {
        let mut tagged = NA_FRAME[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        tagged.extend_from_slice(&NA_FRAME[12..]);
        tagged.extend_from_slice(&[0; 8]); // trailer beyond the IPv6 payload length
        assert_eq!(NaRepr::parse(&tagged), Ok(repr()));

        // An unknown option (type 99, 16 bytes) before the TLLA option is skipped.
        let mut f = NA_FRAME[..ETHERNET_HEADER_LEN + IPV6_HEADER_LEN].to_vec();
        let mut msg = MSG[..NA_HEADER_LEN].to_vec();
        msg.extend_from_slice(&[99, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        msg.extend_from_slice(&MSG[NA_HEADER_LEN..]);
        Packet::new_unchecked(&mut msg[..]).fill_checksum(VIP6, ALL_NODES_V6);
        f[18..20].copy_from_slice(&(msg.len() as u16).to_be_bytes());
        f.extend_from_slice(&msg);
        assert_eq!(NaRepr::parse(&f), Ok(repr()));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            NaRepr::parse(&GARP_FRAME),
            Err(FrameError::Ethertype(ETHERTYPE_ARP))
        );
        assert_eq!(
            NaRepr::parse(&V2_FRAME),
            Err(FrameError::Ethertype(ETHERTYPE_IPV4))
        );
        assert_eq!(
            NaRepr::parse(&V3_IPV6_FRAME),
            Err(FrameError::Protocol(112))
        );

        let mut f = NA_FRAME.to_vec();
        f[21] = 64;
        assert_eq!(NaRepr::parse(&f), Err(FrameError::HopLimit(64)));

        let mut f = NA_FRAME.to_vec();
        f[57] ^= 1;
        assert_eq!(NaRepr::parse(&f), Err(FrameError::Icmpv6Checksum));

        assert_eq!(
            NaRepr::parse(&with_msg_byte(0, 135)),
            Err(FrameError::Icmpv6Type(135, 0))
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(1, 1)),
            Err(FrameError::Icmpv6Type(136, 1))
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(4, FLAG_SOLICITED | FLAG_OVERRIDE)),
            Err(FrameError::NdFlags)
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(4, 0)),
            Err(FrameError::NdFlags)
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(8, 0xff)),
            Err(FrameError::NdTargetMulticast)
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(25, 0)),
            Err(FrameError::NdOption)
        );
        assert_eq!(
            NaRepr::parse(&with_msg_byte(25, 2)),
            Err(FrameError::NdOption)
        );
        // A Source (type 1) instead of a Target Link-Layer Address option.
        assert_eq!(
            NaRepr::parse(&with_msg_byte(24, 1)),
            Err(FrameError::NdNoTargetLinkAddr)
        );

        // No options at all: IPv6 payload length 24.
        let mut f = NA_FRAME[..ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NA_HEADER_LEN].to_vec();
        f[18..20].copy_from_slice(&24u16.to_be_bytes());
        let msg = &mut f[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
        Packet::new_unchecked(msg).fill_checksum(VIP6, ALL_NODES_V6);
        assert_eq!(NaRepr::parse(&f), Err(FrameError::NdNoTargetLinkAddr));

        // ICMPv6 shorter than 24 bytes.
        let mut f = NA_FRAME[..ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + 20].to_vec();
        f[18..20].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(
            NaRepr::parse(&f),
            Err(FrameError::Truncated("neighbor advertisement"))
        );
    }

    #[test]
    fn no_panic_on_truncations_and_mutations() {
        let mut rng = XorShift::new(0x5eed_0005);
        for n in 0..=FRAME_LEN {
            assert_eq!(NaRepr::parse(&NA_FRAME[..n]).is_ok(), n == FRAME_LEN, "{n}");
        }
        for _ in 0..20000 {
            let m = rng.mutate(&NA_FRAME);
            if let Ok(r) = NaRepr::parse(&m) {
                assert_eq!(NaRepr::parse(&r.to_frame()), Ok(r));
            }
            // Arbitrary option areas.
            let len = NA_HEADER_LEN + rng.below(40);
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = Packet::new_checked(&data[..]).map(|p| p.target_link_addr());
        }
    }
}
