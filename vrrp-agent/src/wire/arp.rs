//! Gratuitous ARP: the announcement a new VRRP Master sends for each virtual IPv4 address
//! (RFC 3768 §6.4.1, RFC 9568 §6.4.1: "broadcast a gratuitous ARP request"), so that hosts
//! and switches learn the address's new location.
//!
//! It is an ARP request from the address to itself (RFC 5227 §3 "ARP Announcement"):
//! sender and target protocol address are the virtual address, sender hardware address the
//! MAC the address now answers from (the interface MAC, or the virtual MAC with
//! `use_vmac`), sent to the broadcast MAC. RFC 5227 says the target hardware address is
//! ignored and should be zero; keepalived 2.2.7 sends ff:ff:ff:ff:ff:ff there (see
//! `fixtures::GARP_FRAME`), which [`GarpRepr::new`] reproduces.
//!
//! ```text
//! 0        2        4    5    6        8                14         18                24         28
//! | HTYPE  | PTYPE  |HLEN|PLEN|  OPER  |  sender MAC    | sender IP |  target MAC    | target IP |
//! ```
use std::net::Ipv4Addr;

use super::frame::{
    parse_ethernet, write_ethernet, FrameError, ETHERNET_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4,
};
use super::MacAddr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;
/// Length of a gratuitous ARP frame without VLAN tags, padding or FCS.
pub const FRAME_LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;
/// ARP hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// ARP operation: request.
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const OP_REPLY: u16 = 2;

mod field {
    pub type Field = core::ops::Range<usize>;

    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    // Offsets below hold for Ethernet (6-byte) and IPv4 (4-byte) addresses, the only kind
    // this module reads; `GarpRepr::parse_packet` checks HLEN and PLEN say so.
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// A read/write view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length (accessors panic below [`ARP_LEN`]).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer`, or fails if it cannot hold an Ethernet/IPv4 ARP packet. Accessors of
    /// the result never panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, FrameError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`FrameError::Truncated`] if the buffer is shorter than [`ARP_LEN`].
    pub fn check_len(&self) -> Result<(), FrameError> {
        if self.buffer.as_ref().len() < ARP_LEN {
            Err(FrameError::Truncated("arp packet"))
        } else {
            Ok(())
        }
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let d = &self.buffer.as_ref()[f];
        u16::from_be_bytes([d[0], d[1]])
    }

    fn mac_at(&self, f: field::Field) -> MacAddr {
        MacAddr::from_slice(&self.buffer.as_ref()[f]).unwrap_or_default()
    }

    fn ipv4_at(&self, f: field::Field) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[f];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// Hardware type (1: Ethernet).
    pub fn hardware_type(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }

    /// Protocol type (0x0800: IPv4).
    pub fn protocol_type(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }

    /// Hardware address length (6 for Ethernet).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (4 for IPv4).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation (1 request, 2 reply).
    pub fn operation(&self) -> u16 {
        self.u16_at(field::OPER)
    }

    /// Sender hardware address.
    pub fn sender_hardware_addr(&self) -> MacAddr {
        self.mac_at(field::SHA)
    }

    /// Sender protocol address.
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4_at(field::SPA)
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> MacAddr {
        self.mac_at(field::THA)
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4_at(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.buffer.as_mut()[field::HTYPE].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.buffer.as_mut()[field::PTYPE].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, value: u16) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the sender hardware address.
    pub fn set_sender_hardware_addr(&mut self, value: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&value.0);
    }

    /// Sets the sender protocol address.
    pub fn set_sender_protocol_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&value.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, value: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&value.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&value.octets());
    }
}

/// A gratuitous ARP announcing `addr` at `sender_mac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GarpRepr {
    /// The MAC the address now answers from: ARP sender hardware address and Ethernet
    /// source.
    pub sender_mac: MacAddr,
    /// The virtual address: sender and target protocol address.
    pub addr: Ipv4Addr,
    /// Target hardware address: ignored by receivers (RFC 5227 §2.3); keepalived sends
    /// broadcast, RFC 5227 §3 recommends zero.
    pub target_mac: MacAddr,
}

impl GarpRepr {
    /// The announcement keepalived 2.2.7 sends: target hardware address ff:ff:ff:ff:ff:ff.
    pub const fn new(sender_mac: MacAddr, addr: Ipv4Addr) -> GarpRepr {
        GarpRepr {
            sender_mac,
            addr,
            target_mac: MacAddr::BROADCAST,
        }
    }

    /// The announcement as RFC 5227 §3 words it: target hardware address zero.
    pub const fn rfc5227(sender_mac: MacAddr, addr: Ipv4Addr) -> GarpRepr {
        GarpRepr {
            sender_mac,
            addr,
            target_mac: MacAddr::ZERO,
        }
    }

    /// Parses an ARP packet (without Ethernet header) as a gratuitous ARP: Ethernet/IPv4,
    /// a request (RFC 5227 §3), and sender protocol address = target protocol address.
    pub fn parse_packet<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<GarpRepr, FrameError> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != ETHERTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(FrameError::ArpFormat);
        }
        if packet.operation() != OP_REQUEST {
            return Err(FrameError::ArpOperation(packet.operation()));
        }
        let addr = packet.sender_protocol_addr();
        if packet.target_protocol_addr() != addr {
            return Err(FrameError::NotGratuitous);
        }
        Ok(GarpRepr {
            sender_mac: packet.sender_hardware_addr(),
            addr,
            target_mac: packet.target_hardware_addr(),
        })
    }

    /// Parses a whole Ethernet frame (VLAN tags and padding allowed).
    pub fn parse(frame: &[u8]) -> Result<GarpRepr, FrameError> {
        let eth = parse_ethernet(frame)?;
        if eth.ethertype != ETHERTYPE_ARP {
            return Err(FrameError::Ethertype(eth.ethertype));
        }
        let arp = frame
            .get(eth.payload_offset..)
            .ok_or(FrameError::Truncated("arp packet"))?;
        GarpRepr::parse_packet(&Packet::new_checked(arp)?)
    }

    /// Writes the ARP packet (without Ethernet header).
    ///
    /// # Panics
    /// If the buffer is shorter than [`ARP_LEN`].
    pub fn emit_packet<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(ETHERTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(OP_REQUEST);
        packet.set_sender_hardware_addr(self.sender_mac);
        packet.set_sender_protocol_addr(self.addr);
        packet.set_target_hardware_addr(self.target_mac);
        packet.set_target_protocol_addr(self.addr);
    }

    /// Writes the whole frame: broadcast destination, `sender_mac` source, ARP.
    pub fn emit(&self, frame: &mut [u8; FRAME_LEN]) {
        let mut header = Vec::with_capacity(ETHERNET_HEADER_LEN);
        write_ethernet(
            &mut header,
            MacAddr::BROADCAST,
            self.sender_mac,
            &[],
            ETHERTYPE_ARP,
        );
        let (eth, arp) = frame.split_at_mut(ETHERNET_HEADER_LEN);
        eth.copy_from_slice(&header);
        self.emit_packet(&mut Packet::new_unchecked(arp));
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
    use crate::wire::fixtures::{XorShift, GARP_FRAME, IF_MAC, V2_FRAME, VIP4};

    const ARP: &[u8] = GARP_FRAME.split_at(ETHERNET_HEADER_LEN).1;

    fn repr() -> GarpRepr {
        GarpRepr::new(IF_MAC, VIP4)
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(ARP).unwrap();
        assert_eq!(p.hardware_type(), HTYPE_ETHERNET);
        assert_eq!(p.protocol_type(), ETHERTYPE_IPV4);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(p.operation(), OP_REQUEST);
        assert_eq!(p.sender_hardware_addr(), IF_MAC);
        assert_eq!(p.sender_protocol_addr(), VIP4);
        assert_eq!(p.target_hardware_addr(), MacAddr::BROADCAST);
        assert_eq!(p.target_protocol_addr(), VIP4);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; ARP_LEN];
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(OP_REQUEST);
        p.set_sender_hardware_addr(IF_MAC);
        p.set_sender_protocol_addr(VIP4);
        p.set_target_hardware_addr(MacAddr::BROADCAST);
        p.set_target_protocol_addr(VIP4);
        assert_eq!(&bytes[..], ARP);
    }

    #[test]
    fn parse_keepalived_garp() {
        assert_eq!(GarpRepr::parse(&GARP_FRAME), Ok(repr()));
        assert_eq!(
            GarpRepr::parse_packet(&Packet::new_checked(ARP).unwrap()),
            Ok(repr())
        );
    }

    #[test]
    fn emit_matches_keepalived() {
        assert_eq!(repr().to_frame(), GARP_FRAME);
        let mut frame = [0xa5; FRAME_LEN];
        repr().emit(&mut frame);
        assert_eq!(frame, GARP_FRAME);
        assert_eq!(frame[12..14], ETHERTYPE_ARP.to_be_bytes());
    }

    #[test]
    fn rfc5227_form_round_trips() {
        let r = GarpRepr::rfc5227(MacAddr::vrrp_v4(51), VIP4);
        let frame = r.to_frame();
        assert_eq!(frame[32..38], [0; 6]);
        assert_eq!(frame[6..12], [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
        assert_eq!(frame[0..6], [0xff; 6]);
        assert_eq!(GarpRepr::parse(&frame), Ok(r));
    }

    #[test]
    fn parse_accepts_padding_and_vlan_tags() {
        let mut padded = GARP_FRAME.to_vec();
        padded.resize(60, 0);
        assert_eq!(GarpRepr::parse(&padded), Ok(repr()));
        let mut tagged = GARP_FRAME[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        tagged.extend_from_slice(&GARP_FRAME[12..]);
        assert_eq!(GarpRepr::parse(&tagged), Ok(repr()));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            GarpRepr::parse(&V2_FRAME),
            Err(FrameError::Ethertype(ETHERTYPE_IPV4))
        );
        for n in 0..ETHERNET_HEADER_LEN {
            assert_eq!(
                GarpRepr::parse(&GARP_FRAME[..n]),
                Err(FrameError::Truncated("ethernet header"))
            );
        }
        for n in ETHERNET_HEADER_LEN..FRAME_LEN {
            assert_eq!(
                GarpRepr::parse(&GARP_FRAME[..n]),
                Err(FrameError::Truncated("arp packet"))
            );
        }
        let with = |i: usize, v: u8| {
            let mut f = GARP_FRAME;
            f[i] = v;
            GarpRepr::parse(&f)
        };
        assert_eq!(with(15, 6), Err(FrameError::ArpFormat)); // htype 6 (IEEE 802)
        assert_eq!(with(16, 0x86), Err(FrameError::ArpFormat)); // ptype 0x8600
        assert_eq!(with(18, 8), Err(FrameError::ArpFormat)); // hlen 8
        assert_eq!(with(19, 16), Err(FrameError::ArpFormat)); // plen 16
        assert_eq!(with(21, 2), Err(FrameError::ArpOperation(OP_REPLY)));
        assert_eq!(with(41, 0x65), Err(FrameError::NotGratuitous));
        assert_eq!(
            Packet::new_checked(&ARP[..27]).err(),
            Some(FrameError::Truncated("arp packet"))
        );
    }

    #[test]
    fn no_panic_on_truncations_and_mutations() {
        let mut rng = XorShift::new(0x5eed_0004);
        for n in 0..=FRAME_LEN {
            assert_eq!(GarpRepr::parse(&GARP_FRAME[..n]).is_ok(), n == FRAME_LEN);
        }
        for _ in 0..20000 {
            let m = rng.mutate(&GARP_FRAME);
            if let Ok(r) = GarpRepr::parse(&m) {
                // Anything accepted re-emits to a frame that parses the same.
                assert_eq!(GarpRepr::parse(&r.to_frame()), Ok(r));
            }
        }
    }
}
