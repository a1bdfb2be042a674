//! The Internet checksum (RFC 1071) and the forms VRRP, IPv4 and ICMPv6 use.
//!
//! Every `*_checksum`-style function here returns the one's complement of the one's
//! complement sum of its input. Over a message whose checksum field is zero that is the value
//! to write into the field; over a message that carries a correct checksum it is zero.
//!
//! VRRP has three forms:
//! - v2: over the VRRP message only (RFC 3768 §5.3.8).
//! - v3 over IPv4: RFC 9568 §5.2.8 (and Cisco, Juniper, keepalived's `v3_checksum_as_v2`)
//!   covers the message only, like v2: [`ChecksumForm::Plain`]. RFC 5798 §5.2.8 as read by
//!   keepalived (its default) and FRR prepends the IPv4 pseudo-header (source, destination,
//!   zero, protocol 112, VRRP length): [`ChecksumForm::PseudoHeader`]. We send the latter by
//!   default and accept either.
//! - v3 over IPv6: always with the IPv6 pseudo-header of RFC 8200 §8.1 (source, destination,
//!   32-bit length, three zero bytes, next header 112).
use std::net::{Ipv4Addr, Ipv6Addr};

use super::Endpoints;
use vrrp_common::IPPROTO_VRRP;

/// IP protocol number of ICMPv6 (RFC 4443).
pub const IPPROTO_ICMPV6: u8 = 58;

/// Which VRRPv3-over-IPv4 checksum a message carries (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// Over the VRRP message only: VRRPv2, and VRRPv3 over IPv4 as RFC 9568 §5.2.8 specifies
    /// it (keepalived's `v3_checksum_as_v2`, Cisco, Juniper).
    Plain,
    /// With the IP pseudo-header in front: keepalived's and FRR's default for VRRPv3 over
    /// IPv4, and the only form for VRRPv3 over IPv6.
    #[default]
    PseudoHeader,
}

/// The one's complement sum of `data` as big-endian 16-bit words (an odd last byte is padded
/// with a zero byte, RFC 1071 §4.1), folded to 16 bits.
///
/// The result is at most `0xffff`, so partial sums of word-aligned pieces can be added with
/// `+` (a few thousand of them fit in a u32) and finished with [`fold`].
pub fn sum(data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    let mut acc: u64 = 0;
    for word in &mut chunks {
        acc += u64::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    // 2^16 = 1 (mod 0xffff): end-around carries keep the one's complement sum.
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// Folds the carries of a 32-bit accumulator into 16 bits (RFC 1071 §4.1). Not
/// complemented: the checksum is `!fold(..)`.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Sum of the IPv4 pseudo-header (RFC 768 layout: source, destination, zero, protocol,
/// 16-bit length).
pub fn ipv4_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(protocol) + u32::from(len)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1: source, destination, 32-bit upper-layer
/// length, three zero bytes, next header).
pub fn ipv6_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + sum(&len.to_be_bytes()) + u32::from(next_header)
}

/// The IPv4 header checksum (RFC 791 §3.1) of `header` (IHL * 4 bytes).
pub fn ipv4_header(header: &[u8]) -> u16 {
    !fold(sum(header))
}

/// The VRRPv2 checksum: over the message only (RFC 3768 §5.3.8).
pub fn vrrp_v2(msg: &[u8]) -> u16 {
    !fold(sum(msg))
}

/// The VRRPv3-over-IPv4 checksum in `form` (RFC 9568 §5.2.8; see the module
/// documentation for why there are two).
pub fn vrrp_v3_ipv4(src: Ipv4Addr, dst: Ipv4Addr, msg: &[u8], form: ChecksumForm) -> u16 {
    match form {
        ChecksumForm::Plain => !fold(sum(msg)),
        ChecksumForm::PseudoHeader => {
            let len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
            !fold(ipv4_pseudo_header(src, dst, IPPROTO_VRRP, len) + sum(msg))
        }
    }
}

/// The VRRPv3-over-IPv6 checksum, with the IPv6 pseudo-header (RFC 9568 §5.2.8).
pub fn vrrp_v3_ipv6(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    !fold(ipv6_pseudo_header(src, dst, IPPROTO_VRRP, len) + sum(msg))
}

/// The ICMPv6 checksum, with the IPv6 pseudo-header (RFC 4443 §2.3).
pub fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    !fold(ipv6_pseudo_header(src, dst, IPPROTO_ICMPV6, len) + sum(msg))
}

/// The VRRP checksum of `msg` for a message of `version` carried between `ip`.
///
/// `form` only matters for v3 over IPv4: v2 is always [`ChecksumForm::Plain`] and v3 over
/// IPv6 always [`ChecksumForm::PseudoHeader`]. Any version other than 2 is computed as v3.
pub fn vrrp(version: u8, ip: &Endpoints, msg: &[u8], form: ChecksumForm) -> u16 {
    match (version, *ip) {
        (2, _) => vrrp_v2(msg),
        (_, Endpoints::V4 { src, dst }) => vrrp_v3_ipv4(src, dst, msg, form),
        (_, Endpoints::V6 { src, dst }) => vrrp_v3_ipv6(src, dst, msg),
    }
}

/// Checks the checksum of a VRRP message `msg` (with its checksum field as received) of
/// `version` carried between `ip`, and tells which form matched; `None` if none did.
///
/// v2 accepts only [`ChecksumForm::Plain`], v3 over IPv6 only
/// [`ChecksumForm::PseudoHeader`], and v3 over IPv4 either (PROTOCOL.md: accept a packet
/// whose checksum is valid in either form); the pseudo-header form, keepalived's default,
/// is tried first.
pub fn verify(version: u8, ip: &Endpoints, msg: &[u8]) -> Option<ChecksumForm> {
    let ok = |form| vrrp(version, ip, msg, form) == 0;
    match (version, ip) {
        (2, _) => ok(ChecksumForm::Plain).then_some(ChecksumForm::Plain),
        (_, Endpoints::V4 { .. }) => [ChecksumForm::PseudoHeader, ChecksumForm::Plain]
            .into_iter()
            .find(|form| ok(*form)),
        (_, Endpoints::V6 { .. }) => {
            ok(ChecksumForm::PseudoHeader).then_some(ChecksumForm::PseudoHeader)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

    /// The VRRPv3 message of `vrrp::tests::V3_IPV4_BYTES` with its checksum field zeroed.
    const V3_MSG: [u8; 12] = [
        0x31, 0x33, 0x64, 0x01, 0x00, 0x0a, 0, 0, 0xc6, 0x12, 0x00, 0x64,
    ];

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 (carries folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(!fold(sum(&data)), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn fold_handles_large_accumulators() {
        assert_eq!(fold(0xffff_ffff), 0xffff);
        assert_eq!(fold(0x0001_0000), 0x0001);
        assert_eq!(fold(0x0002_fffe), 0x0001);
        // A long run of 0xffff words must not overflow.
        assert_eq!(sum(&vec![0xff; 200_000]), 0xffff);
    }

    #[test]
    fn ipv4_header_checksum_of_keepalived_advert() {
        // IP header of the v2 fixture (vrrp::tests::V2_FRAME), checksum 0x147f in place.
        let mut hdr = [
            0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x14, 0x7f, 0xc6, 0x12,
            0x00, 0x01, 0xe0, 0x00, 0x00, 0x12,
        ];
        assert_eq!(ipv4_header(&hdr), 0);
        hdr[10] = 0;
        hdr[11] = 0;
        assert_eq!(ipv4_header(&hdr), 0x147f);
    }

    #[test]
    fn vrrp_forms() {
        // Expected values computed independently (Python) from the keepalived captures.
        let ip = Endpoints::V4 {
            src: SRC4,
            dst: GROUP4,
        };
        assert_eq!(
            vrrp_v3_ipv4(SRC4, GROUP4, &V3_MSG, ChecksumForm::PseudoHeader),
            0xfda7
        );
        assert_eq!(
            vrrp_v3_ipv4(SRC4, GROUP4, &V3_MSG, ChecksumForm::Plain),
            0xa44a
        );
        assert_eq!(vrrp(3, &ip, &V3_MSG, ChecksumForm::Plain), 0xa44a);
        // v2 ignores the requested form.
        assert_eq!(vrrp(2, &ip, &V3_MSG, ChecksumForm::PseudoHeader), 0xa44a);

        let mut with = V3_MSG;
        with[6..8].copy_from_slice(&0xfda7u16.to_be_bytes());
        assert_eq!(verify(3, &ip, &with), Some(ChecksumForm::PseudoHeader));
        assert_eq!(verify(2, &ip, &with), None);
        with[6..8].copy_from_slice(&0xa44au16.to_be_bytes());
        assert_eq!(verify(3, &ip, &with), Some(ChecksumForm::Plain));
        assert_eq!(verify(2, &ip, &with), Some(ChecksumForm::Plain));
        with[6..8].copy_from_slice(&0xa44bu16.to_be_bytes());
        assert_eq!(verify(3, &ip, &with), None);
        // The pseudo-header binds the addresses: another destination breaks that form only.
        with[6..8].copy_from_slice(&0xfda7u16.to_be_bytes());
        let unicast = Endpoints::V4 {
            src: SRC4,
            dst: Ipv4Addr::new(198, 18, 0, 2),
        };
        assert_eq!(verify(3, &unicast, &with), None);
    }

    #[test]
    fn vrrp_v3_ipv6_needs_the_pseudo_header() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::12".parse().unwrap();
        let ip = Endpoints::V6 { src, dst };
        let mut msg = [0u8; 24];
        msg[..6].copy_from_slice(&[0x31, 0x33, 0x64, 0x01, 0x00, 0x0a]);
        msg[8..].copy_from_slice(&"2001:db8::100".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(vrrp_v3_ipv6(src, dst, &msg), 0x3de9);
        msg[6..8].copy_from_slice(&0x3de9u16.to_be_bytes());
        assert_eq!(verify(3, &ip, &msg), Some(ChecksumForm::PseudoHeader));
        // The plain form (0x3c08) is not accepted over IPv6.
        msg[6..8].copy_from_slice(&0x3c08u16.to_be_bytes());
        assert_eq!(vrrp_v2(&msg), 0);
        assert_eq!(verify(3, &ip, &msg), None);
    }
}
