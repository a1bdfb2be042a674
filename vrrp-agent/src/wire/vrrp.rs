//! The VRRP advertisement: VRRPv2 (RFC 3768 §5.3) and VRRPv3 (RFC 5798 / RFC 9568 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | v2: Auth Type | v2: Adver Int |          Checksum             |
//! | v3: (rsvd) |  Max Adver Int   |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Count IPvX Addr addresses                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         v2 only: Authentication Data (8 bytes)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The message does not say which family its addresses are: the IP header does, so
//! [`Packet::addresses`] and [`Repr::parse`] take it from the caller.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;
use vrrp_common::{Discard, AUTH_NONE, AUTH_PASS};

use super::checksum::{self, ChecksumForm};
use super::{Endpoints, Family, VRRP_TTL};
use crate::units::Centisecs;

/// Length of the fixed header, v2 and v3 alike.
pub const HEADER_LEN: usize = 8;
/// Length of the v2 Authentication Data field (RFC 3768 §5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only message type: ADVERTISEMENT (RFC 9568 §5.2.2, RFC 3768 §5.3.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// The most addresses one message can list (the Count field is 8 bits).
pub const MAX_ADDRESSES: usize = 255;

mod field {
    #![allow(non_snake_case)]

    pub type Field = core::ops::Range<usize>;

    /// Version (high nibble) and Type (low nibble).
    pub const VERS_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2 only.
    pub const AUTH_TYPE: usize = 4;
    /// v2 only: Advertisement Interval in seconds.
    pub const ADVER_INT: usize = 5;
    /// v3 only: 4 reserved bits, then the 12-bit Max Advertise Interval in centiseconds.
    pub const MAX_ADVER_INT: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const ADDRESSES: usize = 8;

    /// The `index`th address of `addr_len` bytes.
    pub const fn ADDRESS(index: usize, addr_len: usize) -> Field {
        let start = ADDRESSES + index * addr_len;
        start..start + addr_len
    }

    /// v2 Authentication Data, after `count` IPv4 addresses.
    pub const fn AUTH_DATA(count: u8) -> Field {
        let start = ADDRESSES + count as usize * 4;
        start..start + super::AUTH_DATA_LEN
    }
}

/// Mask of the 12-bit v3 Max Advertise Interval within its 16-bit field.
const MAX_ADVER_INT_MASK: u16 = 0x0fff;

/// Length of a message of `version` listing `count` addresses of `family`: the header, the
/// addresses and, for v2, the authentication data (RFC 3768 §5.3, RFC 9568 §5.2).
pub const fn message_len(version: u8, family: Family, count: u8) -> usize {
    let auth = if version == 2 { AUTH_DATA_LEN } else { 0 };
    HEADER_LEN + count as usize * family.addr_len() + auth
}

/// A read/write view of a VRRP message in a byte buffer (the IP payload).
///
/// Build it from untrusted bytes with [`Packet::new_checked`]; after that no accessor
/// panics. The variable-length parts ([`Packet::addresses`], [`Packet::auth_data`]) stop at
/// the end of the buffer; whether they are complete is a receive rule (RFC 9568 §7.1,
/// [`Discard::Length`]) that [`Repr::parse`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length: the header accessors panic if it is
    /// shorter than [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer`, or returns [`Discard::Truncated`] if it cannot hold the 8-byte
    /// header. Accessors of the result never panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Discard> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Discard::Truncated`] if the buffer is shorter than the 8-byte header.
    pub fn check_len(&self) -> Result<(), Discard> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Discard::Truncated)
        } else {
            Ok(())
        }
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Version field (high nibble of byte 0): 2 or 3 when valid.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERS_TYPE] >> 4
    }

    /// The Type field (low nibble of byte 0): 1 (ADVERTISEMENT) when valid.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VERS_TYPE] & 0x0f
    }

    /// The Virtual Router ID.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// The Priority (0: the Master resigns, 255: address owner; RFC 9568 §5.2.4).
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// The Count IPvX Addr field.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v2: the Auth Type (0 none, 1 simple text password, 2 IP AH; RFC 3768 §5.3.6).
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// v2: the Advertisement Interval in seconds (RFC 3768 §5.3.7).
    pub fn adver_int(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// v3: the Max Advertise Interval in centiseconds, the low 12 bits of bytes 4-5; the 4
    /// reserved bits are masked off (RFC 9568 §5.2.6-5.2.7).
    pub fn max_adver_int(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[4], data[5]]) & MAX_ADVER_INT_MASK
    }

    /// v3: the 4 reserved bits (sent as 0, ignored on receive; RFC 9568 §5.2.6).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::MAX_ADVER_INT.start] >> 4
    }

    /// The Checksum field.
    pub fn checksum(&self) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[6], data[7]])
    }

    /// Length this message should have, from its version and count, if its addresses are
    /// of `family` (see [`message_len`]).
    pub fn message_len(&self, family: Family) -> usize {
        message_len(self.version(), family, self.count())
    }

    /// The listed addresses, read as `family`: at most `count`, and only those wholly in
    /// the buffer.
    pub fn addresses(&self, family: Family) -> Addresses<'_> {
        let data = self.buffer.as_ref();
        Addresses {
            data: data.get(field::ADDRESSES..).unwrap_or(&[]),
            family,
            remaining: data.get(field::COUNT).map_or(0, |c| usize::from(*c)),
        }
    }

    /// v2: the Authentication Data after `count` IPv4 addresses, or `None` if the buffer
    /// ends before it.
    pub fn auth_data(&self) -> Option<[u8; AUTH_DATA_LEN]> {
        let data = self.buffer.as_ref();
        let count = *data.get(field::COUNT)?;
        data.get(field::AUTH_DATA(count))?.try_into().ok()
    }

    /// Checks the checksum of the message (its first [`Packet::message_len`] bytes) carried
    /// between `ip`, and tells which form matched (see [`checksum::verify`]).
    pub fn verify_checksum(&self, ip: &Endpoints) -> Option<ChecksumForm> {
        let data = self.buffer.as_ref();
        let version = self.version();
        let len = message_len(version, ip.family(), self.count()).min(data.len());
        checksum::verify(version, ip, &data[..len])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Version field.
    pub fn set_version(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VERS_TYPE];
        *b = (*b & 0x0f) | (value << 4);
    }

    /// Sets the Type field.
    pub fn set_msg_type(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VERS_TYPE];
        *b = (*b & 0xf0) | (value & 0x0f);
    }

    /// Sets the Virtual Router ID.
    pub fn set_vrid(&mut self, value: u8) {
        self.buffer.as_mut()[field::VRID] = value;
    }

    /// Sets the Priority.
    pub fn set_priority(&mut self, value: u8) {
        self.buffer.as_mut()[field::PRIORITY] = value;
    }

    /// Sets the Count IPvX Addr field.
    pub fn set_count(&mut self, value: u8) {
        self.buffer.as_mut()[field::COUNT] = value;
    }

    /// v2: sets the Auth Type.
    pub fn set_auth_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = value;
    }

    /// v2: sets the Advertisement Interval in seconds.
    pub fn set_adver_int(&mut self, value: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = value;
    }

    /// v3: sets the 12-bit Max Advertise Interval (centiseconds; higher bits of `value` are
    /// dropped), keeping the reserved bits.
    pub fn set_max_adver_int(&mut self, value: u16) {
        let data = self.buffer.as_mut();
        let old = u16::from_be_bytes([data[4], data[5]]);
        let new = (old & !MAX_ADVER_INT_MASK) | (value & MAX_ADVER_INT_MASK);
        data[field::MAX_ADVER_INT].copy_from_slice(&new.to_be_bytes());
    }

    /// v3: sets the 4 reserved bits (senders set 0).
    pub fn set_reserved(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::MAX_ADVER_INT.start];
        *b = (*b & 0x0f) | (value << 4);
    }

    /// Sets the Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Writes `addr` as the `index`th address (4 bytes for IPv4, 16 for IPv6).
    ///
    /// # Panics
    /// If the buffer ends before that address.
    pub fn set_address(&mut self, index: usize, addr: IpAddr) {
        let data = self.buffer.as_mut();
        match addr {
            IpAddr::V4(a) => data[field::ADDRESS(index, 4)].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => data[field::ADDRESS(index, 16)].copy_from_slice(&a.octets()),
        }
    }

    /// v2: writes the Authentication Data after `count` IPv4 addresses.
    ///
    /// # Panics
    /// If the buffer ends before the end of the field.
    pub fn set_auth_data(&mut self, value: &[u8; AUTH_DATA_LEN]) {
        let count = self.count();
        self.buffer.as_mut()[field::AUTH_DATA(count)].copy_from_slice(value);
    }

    /// Computes the checksum of the message (its first [`Packet::message_len`] bytes)
    /// carried between `ip`, in `form` for v3 over IPv4, and writes it.
    ///
    /// # Panics
    /// If the buffer is shorter than the message.
    pub fn fill_checksum(&mut self, ip: &Endpoints, form: ChecksumForm) {
        self.set_checksum(0);
        let version = self.version();
        let len = self.message_len(ip.family());
        let sum = checksum::vrrp(version, ip, &self.buffer.as_ref()[..len], form);
        self.set_checksum(sum);
    }
}

/// Iterator over the addresses of a [`Packet`], from [`Packet::addresses`].
#[derive(Debug, Clone)]
pub struct Addresses<'a> {
    data: &'a [u8],
    family: Family,
    remaining: usize,
}

impl Iterator for Addresses<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let len = self.family.addr_len();
        let (head, rest) = match self.data.split_at_checked(len) {
            Some(split) => split,
            None => {
                self.remaining = 0;
                return None;
            }
        };
        self.data = rest;
        match self.family {
            Family::Ipv4 => <[u8; 4]>::try_from(head)
                .ok()
                .map(|b| Ipv4Addr::from(b).into()),
            Family::Ipv6 => <[u8; 16]>::try_from(head)
                .ok()
                .map(|b| Ipv6Addr::from(b).into()),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let whole = self.data.len() / self.family.addr_len();
        (0, Some(self.remaining.min(whole)))
    }
}

/// VRRP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2 (RFC 3768): IPv4 only, interval in seconds, authentication data.
    V2,
    /// VRRPv3 (RFC 5798, RFC 9568): IPv4 and IPv6, interval in centiseconds.
    V3,
}

impl Version {
    /// The value of the Version field.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with field value `n`, if VRRP has it.
    pub const fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; RFC 2338 §5.3.6 for the text password that
/// RFC 3768 removed and keepalived's `auth_type PASS` still sends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth Type 0; the Authentication Data is sent as zero and ignored on receive.
    #[default]
    None,
    /// Auth Type 1: a password of up to 8 bytes, NUL-padded.
    Pass([u8; AUTH_DATA_LEN]),
    /// Any other Auth Type (2 is IP AH), kept so the receive check can report a mismatch
    /// ([`Discard::AuthType`]). Emitted with zero Authentication Data.
    Other(u8),
}

impl Auth {
    /// A text password as keepalived stores it: the first 8 bytes, NUL-padded (longer ones
    /// are silently truncated, which the configuration should warn about).
    pub fn pass(password: &[u8]) -> Auth {
        let mut data = [0; AUTH_DATA_LEN];
        let n = password.len().min(AUTH_DATA_LEN);
        data[..n].copy_from_slice(&password[..n]);
        Auth::Pass(data)
    }

    /// The Auth Type field value.
    pub const fn auth_type(&self) -> u8 {
        match self {
            Auth::None => AUTH_NONE,
            Auth::Pass(_) => AUTH_PASS,
            Auth::Other(t) => *t,
        }
    }
}

/// What [`Repr::parse`] needs from the IP header that carried the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseContext {
    /// Source and destination (the v3 checksum covers them).
    pub ip: Endpoints,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Whether the destination is multicast: then the TTL must be 255 (RFC 9568 §7.1). For
    /// unicast the TTL rule is configuration (`CFG_UNICAST_TTL`) and left to the caller.
    pub multicast: bool,
}

impl ParseContext {
    /// The context of a message carried between `ip` with `ttl`; `multicast` from the
    /// destination.
    pub const fn new(ip: Endpoints, ttl: u8) -> ParseContext {
        ParseContext {
            ip,
            ttl,
            multicast: ip.dst_is_multicast(),
        }
    }
}

/// What [`Repr::emit`] needs to know about the IP packet that will carry the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmitContext {
    /// Source and destination (the v3 checksum covers them).
    pub ip: Endpoints,
    /// Checksum form for v3 over IPv4: keepalived's and FRR's pseudo-header form by default,
    /// [`ChecksumForm::Plain`] for RFC 9568 / Cisco / Juniper peers. Ignored otherwise.
    pub v3_ipv4_checksum: ChecksumForm,
}

impl EmitContext {
    /// A message between `ip` with the default (keepalived) checksum form.
    pub const fn new(ip: Endpoints) -> EmitContext {
        EmitContext {
            ip,
            v3_ipv4_checksum: ChecksumForm::PseudoHeader,
        }
    }

    /// The same with the v3-over-IPv4 checksum in `form`.
    pub const fn with_v3_ipv4_checksum(self, form: ChecksumForm) -> EmitContext {
        EmitContext {
            v3_ipv4_checksum: form,
            ..self
        }
    }
}

/// Why a [`Repr`] could not be emitted. Each is a bug in the caller or its configuration
/// checks, not in a peer.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EmitError {
    /// The buffer cannot hold the message.
    #[error("buffer of {have} bytes cannot hold a {need}-byte VRRP message")]
    BufferTooShort {
        /// Bytes the message needs.
        need: usize,
        /// Bytes the buffer has.
        have: usize,
    },
    /// VRRPv2 is IPv4 only (RFC 3768 §5.1).
    #[error("VRRPv2 cannot be sent over IPv6; use vrrp_version 3")]
    V2OverIpv6,
    /// More than 255 addresses do not fit the Count field.
    #[error("{0} virtual addresses do not fit one advertisement (at most 255)")]
    TooManyAddresses(usize),
    /// An address is not of the family of the IP header.
    #[error("virtual address {0} is not of the instance's address family")]
    AddressFamily(IpAddr),
    /// The interval cannot be carried: v2 needs whole seconds up to 255, v3 up to 4095 cs.
    #[error("advertisement interval {0} cannot be sent in this VRRP version")]
    Interval(Centisecs),
    /// VRRPv3 has no authentication (RFC 9568 §9.2).
    #[error("VRRPv3 has no authentication")]
    AuthOnV3,
}

/// A VRRP advertisement, v2 or v3, as the election sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Protocol version.
    pub version: Version,
    /// Virtual Router ID (1..=255 when configured; 0 is parsed as is).
    pub vrid: u8,
    /// Priority (0: resigning Master, 255: address owner).
    pub priority: u8,
    /// The advertisement interval: v3's Max Advertise Interval, or v2's Advertisement
    /// Interval seconds times 100.
    pub max_adver_int: Centisecs,
    /// The virtual addresses, all of the family of the IP header.
    pub addresses: Vec<IpAddr>,
    /// v2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
}

impl Repr {
    /// Parses a message and runs the receive checks that need no configuration, in the
    /// order of RFC 9568 §7.1 / RFC 3768 §7.1 (PROTOCOL.md):
    ///
    /// 1. multicast to a group other than the VRRP group: [`Discard::Destination`];
    ///    multicast over IPv6 from a source that is not link-local: [`Discard::Source`]
    ///    (a unicast destination is the caller's to check: one of this host's addresses);
    /// 1. multicast and TTL / hop limit not 255: [`Discard::Ttl`];
    /// 2. buffer shorter than the 8-byte header: [`Discard::Truncated`];
    /// 3. version neither 2 nor 3, or 2 over IPv6: [`Discard::Version`];
    /// 4. type not 1 (ADVERTISEMENT): [`Discard::Type`];
    /// 5. buffer shorter than header + addresses (+ 8 bytes v2 authentication data):
    ///    [`Discard::Length`]. A count of 0 is valid: keepalived sends it for an instance
    ///    without virtual addresses, and RFC 9568 §7.1 does not discard it;
    /// 6. checksum wrong in every form the version allows: [`Discard::Checksum`].
    ///
    /// Bytes after the message (e.g. Ethernet padding) are ignored and not checksummed.
    /// The rest of §7.1 (VRID configured, version matches the instance, authentication,
    /// v2 interval, unicast source) needs configuration and is the caller's.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, ctx: &ParseContext) -> Result<Repr, Discard> {
        // As the XDP program: a multicast advert goes to the VRRP group (RFC 9568 §5.1.1.2,
        // §5.1.2.2); one to another group is not for us.
        if ctx.multicast && ctx.ip.dst() != ctx.ip.family().vrrp_group() {
            return Err(Discard::Destination);
        }
        // RFC 9568 §5.1.2.1: an IPv6 advert comes from the sender's link-local address.
        if let (true, IpAddr::V6(src)) = (ctx.multicast, ctx.ip.src()) {
            if !src.is_unicast_link_local() {
                return Err(Discard::Source);
            }
        }
        // RFC 9568 §7.1: MUST verify that the IP TTL / hop limit is 255 (multicast).
        if ctx.multicast && ctx.ttl != VRRP_TTL {
            return Err(Discard::Ttl);
        }
        packet.check_len()?;
        let family = ctx.ip.family();
        // RFC 9568 §7.1: MUST verify the VRRP version; RFC 3768 §5.1: v2 is IPv4 only.
        let version = match (Version::from_number(packet.version()), family) {
            (Some(Version::V2), Family::Ipv6) | (None, _) => return Err(Discard::Version),
            (Some(v), _) => v,
        };
        // RFC 9568 §5.2.2: a packet with unknown type MUST be discarded.
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Discard::Type);
        }
        // RFC 9568 §7.1: MUST verify that the received packet contains the complete VRRP
        // packet (including fixed fields and IPvX addresses).
        let data = packet.buffer.as_ref();
        let len = packet.message_len(family);
        if data.len() < len {
            return Err(Discard::Length);
        }
        // RFC 9568 §7.1: MUST verify the VRRP checksum.
        if packet.verify_checksum(&ctx.ip).is_none() {
            return Err(Discard::Checksum);
        }
        let (max_adver_int, auth) = match version {
            Version::V2 => {
                let auth = match packet.auth_type() {
                    AUTH_NONE => Auth::None,
                    AUTH_PASS => Auth::Pass(packet.auth_data().ok_or(Discard::Length)?),
                    other => Auth::Other(other),
                };
                (Centisecs::new(u16::from(packet.adver_int()) * 100), auth)
            }
            Version::V3 => (Centisecs::new(packet.max_adver_int()), Auth::None),
        };
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_adver_int,
            addresses: packet.addresses(family).collect(),
            auth,
        })
    }

    /// [`Repr::parse`] of raw bytes (the IP payload), so a message shorter than its header
    /// reports [`Discard::Ttl`] before [`Discard::Truncated`] like any other.
    pub fn parse_bytes(data: &[u8], ctx: &ParseContext) -> Result<Repr, Discard> {
        Repr::parse(&Packet::new_unchecked(data), ctx)
    }

    /// Length of the message [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self
            .addresses
            .iter()
            .map(|a| Family::of(a).addr_len())
            .sum();
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + auth
    }

    /// Whether the message can be emitted between `ip`.
    fn check_emit(&self, family: Family) -> Result<u8, EmitError> {
        if self.version == Version::V2 && family == Family::Ipv6 {
            return Err(EmitError::V2OverIpv6);
        }
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| EmitError::TooManyAddresses(self.addresses.len()))?;
        if let Some(a) = self.addresses.iter().find(|a| Family::of(a) != family) {
            return Err(EmitError::AddressFamily(*a));
        }
        let cs = self.max_adver_int.get();
        let fits = match self.version {
            Version::V2 => cs.is_multiple_of(100) && cs / 100 <= u16::from(u8::MAX),
            Version::V3 => cs <= Centisecs::V3_MAX.get(),
        };
        if !fits {
            return Err(EmitError::Interval(self.max_adver_int));
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(EmitError::AuthOnV3);
        }
        Ok(count)
    }

    /// Writes the message into the start of `buf` with its checksum (form per `ctx`, see
    /// [`EmitContext`]) and returns its length ([`Repr::buffer_len`]). Reserved bits and
    /// unused authentication data are zero.
    pub fn emit(&self, buf: &mut [u8], ctx: &EmitContext) -> Result<usize, EmitError> {
        let count = self.check_emit(ctx.ip.family())?;
        let len = self.buffer_len();
        let have = buf.len();
        let buf = buf
            .get_mut(..len)
            .ok_or(EmitError::BufferTooShort { need: len, have })?;
        buf.fill(0);
        let mut packet = Packet::new_unchecked(buf);
        packet.set_version(self.version.number());
        packet.set_msg_type(TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_count(count);
        for (i, addr) in self.addresses.iter().enumerate() {
            packet.set_address(i, *addr);
        }
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth.auth_type());
                // Checked above: a whole number of seconds up to 255.
                packet.set_adver_int((self.max_adver_int.get() / 100) as u8);
                if let Auth::Pass(data) = &self.auth {
                    packet.set_auth_data(data);
                }
            }
            Version::V3 => packet.set_max_adver_int(self.max_adver_int.get()),
        }
        packet.fill_checksum(&ctx.ip, ctx.v3_ipv4_checksum);
        Ok(len)
    }

    /// The emitted message in a new buffer.
    pub fn to_bytes(&self, ctx: &EmitContext) -> Result<Vec<u8>, EmitError> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf, ctx)?;
        Ok(buf)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VRRPv{} vrid {} prio {} intvl {} addrs [",
            self.version.number(),
            self.vrid,
            self.priority,
            self.max_adver_int
        )?;
        for (i, a) in self.addresses.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str("]")?;
        match self.auth {
            Auth::None => Ok(()),
            // Never print the password.
            Auth::Pass(_) => f.write_str(" auth pass"),
            Auth::Other(t) => write!(f, " auth type {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures::{
        XorShift, SRC4, SRC6, V2_MSG, V2_PRIO0_MSG, V3_IPV4_MSG, V3_IPV6_MSG, VIP4, VIP6,
    };
    use crate::wire::{VRRP_GROUP_V4, VRRP_GROUP_V6};

    fn ip4() -> Endpoints {
        Endpoints::V4 {
            src: SRC4,
            dst: VRRP_GROUP_V4,
        }
    }

    fn ip6() -> Endpoints {
        Endpoints::V6 {
            src: SRC6,
            dst: VRRP_GROUP_V6,
        }
    }

    fn v2_repr() -> Repr {
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            max_adver_int: Centisecs::new(100),
            addresses: vec![VIP4.into()],
            auth: Auth::Pass(*b"secret12"),
        }
    }

    fn v3_ipv4_repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            max_adver_int: Centisecs::new(10),
            addresses: vec![VIP4.into()],
            auth: Auth::None,
        }
    }

    fn v3_ipv6_repr() -> Repr {
        Repr {
            addresses: vec![VIP6.into()],
            ..v3_ipv4_repr()
        }
    }

    /// (message, endpoints, repr) for each captured kind.
    fn cases() -> [(&'static [u8], Endpoints, Repr); 3] {
        [
            (V2_MSG, ip4(), v2_repr()),
            (V3_IPV4_MSG, ip4(), v3_ipv4_repr()),
            (V3_IPV6_MSG, ip6(), v3_ipv6_repr()),
        ]
    }

    fn parse(data: &[u8], ip: Endpoints) -> Result<Repr, Discard> {
        Repr::parse_bytes(data, &ParseContext::new(ip, 255))
    }

    /// `msg` changed by `f`, with its checksum recomputed (so only `f`'s defect remains).
    fn craft(msg: &[u8], ip: Endpoints, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut m = msg.to_vec();
        f(&mut m);
        let mut p = Packet::new_unchecked(&mut m[..]);
        p.set_checksum(0);
        let version = p.version();
        let sum = checksum::vrrp(version, &ip, p.into_inner(), ChecksumForm::PseudoHeader);
        m[6..8].copy_from_slice(&sum.to_be_bytes());
        m
    }

    #[test]
    fn deconstruct_v2() {
        let p = Packet::new_checked(V2_MSG).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.msg_type(), 1);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 100);
        assert_eq!(p.count(), 1);
        assert_eq!(p.auth_type(), AUTH_PASS);
        assert_eq!(p.adver_int(), 1);
        assert_eq!(p.checksum(), 0x45d5);
        assert_eq!(
            p.addresses(Family::Ipv4).collect::<Vec<_>>(),
            vec![IpAddr::from(VIP4)]
        );
        assert_eq!(p.auth_data(), Some(*b"secret12"));
        assert_eq!(p.message_len(Family::Ipv4), 20);
        assert_eq!(p.verify_checksum(&ip4()), Some(ChecksumForm::Plain));
    }

    #[test]
    fn deconstruct_v3() {
        let p = Packet::new_checked(V3_IPV4_MSG).unwrap();
        assert_eq!(
            (p.version(), p.msg_type(), p.vrid(), p.priority()),
            (3, 1, 51, 100)
        );
        assert_eq!(p.count(), 1);
        assert_eq!(p.max_adver_int(), 10);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.checksum(), 0xfda7);
        assert_eq!(p.message_len(Family::Ipv4), 12);
        assert_eq!(p.verify_checksum(&ip4()), Some(ChecksumForm::PseudoHeader));

        let p = Packet::new_checked(V3_IPV6_MSG).unwrap();
        assert_eq!(p.checksum(), 0x3de9);
        assert_eq!(p.message_len(Family::Ipv6), 24);
        assert_eq!(
            p.addresses(Family::Ipv6).collect::<Vec<_>>(),
            vec![IpAddr::from(VIP6)]
        );
        assert_eq!(p.verify_checksum(&ip6()), Some(ChecksumForm::PseudoHeader));
    }

    #[test]
    fn max_adver_int_masks_reserved_bits() {
        let mut m = V3_IPV4_MSG.to_vec();
        m[4] |= 0xf0;
        let mut p = Packet::new_checked(&mut m[..]).unwrap();
        assert_eq!(p.max_adver_int(), 10);
        assert_eq!(p.reserved(), 0xf);
        p.set_max_adver_int(0xffff);
        assert_eq!(p.max_adver_int(), 4095);
        assert_eq!(p.reserved(), 0xf);
        p.set_reserved(0);
        assert_eq!(p.max_adver_int(), 4095);
        // Reserved bits are ignored on receive (RFC 9568 §5.2.6), but covered by the checksum.
        let m = craft(V3_IPV4_MSG, ip4(), |m| m[4] |= 0xa0);
        assert_eq!(parse(&m, ip4()), Ok(v3_ipv4_repr()));
    }

    #[test]
    fn construct_v2() {
        let mut bytes = vec![0xa5; V2_MSG.len()];
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_version(2);
        p.set_msg_type(1);
        p.set_vrid(51);
        p.set_priority(100);
        p.set_count(1);
        p.set_auth_type(AUTH_PASS);
        p.set_adver_int(1);
        p.set_address(0, VIP4.into());
        p.set_auth_data(b"secret12");
        p.fill_checksum(&ip4(), ChecksumForm::PseudoHeader);
        assert_eq!(&p.into_inner()[..], V2_MSG);
    }

    #[test]
    fn construct_v3() {
        for (msg, ip) in [(V3_IPV4_MSG, ip4()), (V3_IPV6_MSG, ip6())] {
            let mut bytes = vec![0; msg.len()];
            let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
            p.set_version(3);
            p.set_msg_type(1);
            p.set_vrid(51);
            p.set_priority(100);
            p.set_count(1);
            p.set_max_adver_int(10);
            p.set_address(
                0,
                if ip.family() == Family::Ipv4 {
                    VIP4.into()
                } else {
                    VIP6.into()
                },
            );
            p.fill_checksum(&ip, ChecksumForm::PseudoHeader);
            assert_eq!(&p.into_inner()[..], msg);
        }
    }

    #[test]
    fn parse_fixtures() {
        for (msg, ip, repr) in cases() {
            assert_eq!(parse(msg, ip), Ok(repr));
        }
        let prio0 = parse(V2_PRIO0_MSG, ip4()).unwrap();
        assert_eq!(
            prio0,
            Repr {
                priority: 0,
                ..v2_repr()
            }
        );
    }

    #[test]
    fn emit_fixtures() {
        for (msg, ip, repr) in cases() {
            let ctx = EmitContext::new(ip);
            assert_eq!(repr.buffer_len(), msg.len());
            let mut buf = vec![0xa5; msg.len() + 3];
            assert_eq!(repr.emit(&mut buf, &ctx), Ok(msg.len()));
            assert_eq!(&buf[..msg.len()], msg, "{repr}");
            assert_eq!(buf[msg.len()..], [0xa5; 3], "emit writes past the message");
            assert_eq!(repr.to_bytes(&ctx).unwrap(), msg);
        }
        let prio0 = Repr {
            priority: 0,
            ..v2_repr()
        };
        assert_eq!(
            prio0.to_bytes(&EmitContext::new(ip4())).unwrap(),
            V2_PRIO0_MSG
        );
    }

    #[test]
    fn emit_v3_ipv4_in_either_checksum_form() {
        let repr = v3_ipv4_repr();
        let plain = EmitContext::new(ip4()).with_v3_ipv4_checksum(ChecksumForm::Plain);
        let bytes = repr.to_bytes(&plain).unwrap();
        // Independently computed (Python) RFC 9568 form of the keepalived fixture.
        assert_eq!(bytes[6..8], [0xa4, 0x4a]);
        assert_eq!(bytes[..6], V3_IPV4_MSG[..6]);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.verify_checksum(&ip4()), Some(ChecksumForm::Plain));
        // Both forms are accepted on receive.
        assert_eq!(parse(&bytes, ip4()), Ok(repr.clone()));
        assert_eq!(parse(V3_IPV4_MSG, ip4()), Ok(repr));
        // The form knob does not touch v2 or IPv6.
        let v2 =
            v2_repr().to_bytes(&EmitContext::new(ip4()).with_v3_ipv4_checksum(ChecksumForm::Plain));
        assert_eq!(v2.unwrap(), V2_MSG);
        let v6 = v3_ipv6_repr()
            .to_bytes(&EmitContext::new(ip6()).with_v3_ipv4_checksum(ChecksumForm::Plain));
        assert_eq!(v6.unwrap(), V3_IPV6_MSG);
    }

    #[test]
    fn emit_multiple_addresses_and_auth_kinds() {
        let addrs: Vec<IpAddr> = (1..=3)
            .map(|i| Ipv4Addr::new(198, 18, 1, i).into())
            .collect();
        for auth in [Auth::None, Auth::pass(b"pw"), Auth::Other(2)] {
            let repr = Repr {
                addresses: addrs.clone(),
                auth,
                ..v2_repr()
            };
            let bytes = repr.to_bytes(&EmitContext::new(ip4())).unwrap();
            assert_eq!(bytes.len(), 8 + 12 + 8);
            assert_eq!(bytes[4], auth.auth_type());
            assert_eq!(parse(&bytes, ip4()), Ok(repr));
        }
        assert_eq!(Auth::pass(b"pw"), Auth::Pass(*b"pw\0\0\0\0\0\0"));
        // keepalived truncates long passwords to 8 bytes.
        assert_eq!(Auth::pass(b"secret123456"), Auth::Pass(*b"secret12"));
        // 255 IPv6 addresses: the largest message (vrrp_common::MAX_VRRP_LEN).
        let many: Vec<IpAddr> = (0..255u16)
            .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i).into())
            .collect();
        let repr = Repr {
            addresses: many,
            ..v3_ipv6_repr()
        };
        let bytes = repr.to_bytes(&EmitContext::new(ip6())).unwrap();
        assert_eq!(bytes.len(), vrrp_common::MAX_VRRP_LEN);
        assert_eq!(parse(&bytes, ip6()), Ok(repr));
    }

    /// keepalived advertises an instance without virtual addresses with count 0; such an
    /// advert is emitted and parsed like any other.
    #[test]
    fn count_zero_round_trips() {
        let ctx4 = EmitContext::new(ip4());
        let repr = Repr {
            addresses: vec![],
            ..v2_repr()
        };
        let mut buf = [0u8; 64];
        let n = repr.emit(&mut buf, &ctx4).expect("emits");
        assert_eq!(n, HEADER_LEN + AUTH_DATA_LEN);
        assert_eq!(buf[3], 0);
        assert_eq!(parse(&buf[..n], ip4()), Ok(repr));
    }

    #[test]
    fn emit_rejects_what_the_wire_cannot_carry() {
        let ctx4 = EmitContext::new(ip4());
        let ctx6 = EmitContext::new(ip6());
        let mut buf = [0u8; 4096];
        assert_eq!(
            Repr {
                addresses: vec![VIP6.into()],
                ..v2_repr()
            }
            .emit(&mut buf, &ctx6),
            Err(EmitError::V2OverIpv6)
        );
        let many = vec![IpAddr::from(VIP4); 256];
        assert_eq!(
            Repr {
                addresses: many,
                ..v3_ipv4_repr()
            }
            .emit(&mut buf, &ctx4),
            Err(EmitError::TooManyAddresses(256))
        );
        assert_eq!(
            v3_ipv6_repr().emit(&mut buf, &ctx4),
            Err(EmitError::AddressFamily(VIP6.into()))
        );
        for cs in [150, 25600] {
            let r = Repr {
                max_adver_int: Centisecs::new(cs),
                ..v2_repr()
            };
            assert_eq!(
                r.emit(&mut buf, &ctx4),
                Err(EmitError::Interval(Centisecs::new(cs)))
            );
        }
        let r = Repr {
            max_adver_int: Centisecs::new(25500),
            ..v2_repr()
        };
        assert!(r.emit(&mut buf, &ctx4).is_ok());
        let r = Repr {
            max_adver_int: Centisecs::new(4096),
            ..v3_ipv4_repr()
        };
        assert_eq!(
            r.emit(&mut buf, &ctx4),
            Err(EmitError::Interval(Centisecs::new(4096)))
        );
        let r = Repr {
            max_adver_int: Centisecs::V3_MAX,
            ..v3_ipv4_repr()
        };
        assert!(r.emit(&mut buf, &ctx4).is_ok());
        let r = Repr {
            auth: Auth::pass(b"x"),
            ..v3_ipv4_repr()
        };
        assert_eq!(r.emit(&mut buf, &ctx4), Err(EmitError::AuthOnV3));
        assert_eq!(
            v2_repr().emit(&mut buf[..19], &ctx4),
            Err(EmitError::BufferTooShort { need: 20, have: 19 })
        );
    }

    #[test]
    fn new_checked_rejects_short_buffers() {
        for msg in [V2_MSG, V3_IPV4_MSG, V3_IPV6_MSG] {
            for n in 0..HEADER_LEN {
                assert_eq!(
                    Packet::new_checked(&msg[..n]).err(),
                    Some(Discard::Truncated),
                    "{n}"
                );
            }
            assert!(Packet::new_checked(&msg[..HEADER_LEN]).is_ok());
        }
    }

    #[test]
    fn discard_destination_and_source_as_xdp() {
        for (msg, ip, _) in cases() {
            // Multicast to a group that is not the VRRP group.
            let other = match ip {
                Endpoints::V4 { src, .. } => Endpoints::V4 {
                    src,
                    dst: Ipv4Addr::new(224, 0, 0, 19),
                },
                Endpoints::V6 { src, .. } => Endpoints::V6 {
                    src,
                    dst: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x13),
                },
            };
            let ctx = ParseContext::new(other, 255);
            assert_eq!(Repr::parse_bytes(msg, &ctx), Err(Discard::Destination));
        }
        // IPv6 multicast from a global address.
        let (msg, ip, repr) = cases()
            .into_iter()
            .find(|(_, ip, _)| matches!(ip, Endpoints::V6 { .. }))
            .unwrap();
        let global =
            Endpoints::multicast(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)));
        assert_eq!(
            Repr::parse_bytes(msg, &ParseContext::new(global, 255)),
            Err(Discard::Source)
        );
        assert_eq!(
            Repr::parse_bytes(msg, &ParseContext::new(ip, 255)),
            Ok(repr)
        );
    }

    #[test]
    fn discard_ttl() {
        for (msg, ip, repr) in cases() {
            for ttl in [0, 1, 64, 254] {
                let ctx = ParseContext::new(ip, ttl);
                assert!(ctx.multicast);
                assert_eq!(Repr::parse_bytes(msg, &ctx), Err(Discard::Ttl));
                // TTL is checked first, even before the length.
                assert_eq!(Repr::parse_bytes(&msg[..3], &ctx), Err(Discard::Ttl));
            }
            // Unicast: the TTL rule is the caller's (configuration), not parse's.
            let ctx = ParseContext {
                multicast: false,
                ..ParseContext::new(ip, 64)
            };
            assert_eq!(Repr::parse_bytes(msg, &ctx), Ok(repr));
        }
        // A unicast destination gives multicast = false.
        let uni = Endpoints::V4 {
            src: SRC4,
            dst: Ipv4Addr::new(198, 18, 0, 2),
        };
        assert!(!ParseContext::new(uni, 64).multicast);
    }

    #[test]
    fn discard_truncated() {
        for (msg, ip, _) in cases() {
            for n in 0..HEADER_LEN {
                assert_eq!(parse(&msg[..n], ip), Err(Discard::Truncated), "{n}");
            }
        }
    }

    #[test]
    fn discard_version() {
        for (msg, ip, _) in cases() {
            for v in [0, 1, 4, 15] {
                let m = craft(msg, ip, |m| m[0] = (v << 4) | 1);
                assert_eq!(parse(&m, ip), Err(Discard::Version), "version {v}");
            }
        }
        // v2 over IPv6 (RFC 3768 is IPv4 only), even with a valid checksum.
        let m = craft(V3_IPV6_MSG, ip6(), |m| m[0] = 0x21);
        assert_eq!(parse(&m, ip6()), Err(Discard::Version));
        // Version comes before type.
        let m = craft(V2_MSG, ip4(), |m| m[0] = 0x42);
        assert_eq!(parse(&m, ip4()), Err(Discard::Version));
    }

    #[test]
    fn discard_type() {
        for (msg, ip, _) in cases() {
            for t in [0, 2, 15] {
                let m = craft(msg, ip, |m| m[0] = (m[0] & 0xf0) | t);
                assert_eq!(parse(&m, ip), Err(Discard::Type), "type {t}");
            }
            // Type comes before length.
            let m = craft(msg, ip, |m| {
                m[0] = (m[0] & 0xf0) | 2;
                m[3] = 2;
            });
            assert_eq!(parse(&m, ip), Err(Discard::Type));
        }
    }

    #[test]
    fn discard_length() {
        for (msg, ip, _) in cases() {
            // Count larger than the addresses present.
            let m = craft(msg, ip, |m| m[3] = 2);
            assert_eq!(parse(&m, ip), Err(Discard::Length));
            // Every cut between the header and the end of the message.
            for n in HEADER_LEN..msg.len() {
                assert_eq!(parse(&msg[..n], ip), Err(Discard::Length), "{n}");
            }
        }
        // v2 without its 8 bytes of authentication data.
        let m = craft(&V2_MSG[..12], ip4(), |_| ());
        assert_eq!(parse(&m, ip4()), Err(Discard::Length));
        // An IPv4-sized v3 message read as IPv6 is too short for its address.
        assert_eq!(parse(V3_IPV4_MSG, ip6()), Err(Discard::Length));
        // Length comes before checksum.
        let mut m = msg_with_bad_checksum(V2_MSG);
        m[3] = 2;
        assert_eq!(parse(&m, ip4()), Err(Discard::Length));
    }

    fn msg_with_bad_checksum(msg: &[u8]) -> Vec<u8> {
        let mut m = msg.to_vec();
        m[7] ^= 0x01;
        m
    }

    #[test]
    fn discard_checksum() {
        for (msg, ip, _) in cases() {
            assert_eq!(
                parse(&msg_with_bad_checksum(msg), ip),
                Err(Discard::Checksum)
            );
            // A changed priority without a new checksum.
            let mut m = msg.to_vec();
            m[2] = 101;
            assert_eq!(parse(&m, ip), Err(Discard::Checksum));
        }
        // The v3 pseudo-header binds the source address (IPv4 pseudo-header form and IPv6).
        let other4 = Endpoints::V4 {
            src: Ipv4Addr::new(198, 18, 0, 9),
            dst: VRRP_GROUP_V4,
        };
        assert_eq!(parse(V3_IPV4_MSG, other4), Err(Discard::Checksum));
        let other6 = Endpoints::V6 {
            src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9),
            dst: VRRP_GROUP_V6,
        };
        assert_eq!(parse(V3_IPV6_MSG, other6), Err(Discard::Checksum));
        // v2 has no pseudo-header: another source is fine.
        assert!(parse(V2_MSG, other4).is_ok());
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        for (msg, ip, repr) in cases() {
            let mut m = msg.to_vec();
            m.extend_from_slice(&[0xee; 7]);
            assert_eq!(parse(&m, ip), Ok(repr));
        }
    }

    #[test]
    fn parse_keeps_unknown_auth_types() {
        let m = craft(V2_MSG, ip4(), |m| m[4] = 2);
        assert_eq!(parse(&m, ip4()).unwrap().auth, Auth::Other(2));
        let m = craft(V2_MSG, ip4(), |m| m[4] = 0);
        assert_eq!(parse(&m, ip4()).unwrap().auth, Auth::None);
    }

    #[test]
    fn v2_interval_is_seconds_times_100() {
        let m = craft(V2_MSG, ip4(), |m| m[5] = 255);
        assert_eq!(
            parse(&m, ip4()).unwrap().max_adver_int,
            Centisecs::new(25500)
        );
    }

    #[test]
    fn accessors_never_panic_after_new_checked() {
        let mut rng = XorShift::new(0x5eed_0001);
        for _ in 0..5000 {
            let len = HEADER_LEN + rng.below(40);
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let p = Packet::new_checked(&data[..]).unwrap();
            let _ = (p.version(), p.msg_type(), p.vrid(), p.priority(), p.count());
            let _ = (
                p.auth_type(),
                p.adver_int(),
                p.max_adver_int(),
                p.reserved(),
                p.checksum(),
            );
            for family in [Family::Ipv4, Family::Ipv6] {
                let n = p.addresses(family).count();
                assert!(n <= usize::from(p.count()));
                assert!(n * family.addr_len() <= len - HEADER_LEN);
                let _ = p.message_len(family);
            }
            let _ = p.auth_data();
            let _ = p.verify_checksum(&ip4());
            let _ = p.verify_checksum(&ip6());
        }
    }

    #[test]
    fn no_panic_on_truncations_and_mutations() {
        let mut rng = XorShift::new(0x5eed_0002);
        let ctxs = [
            ParseContext::new(ip4(), 255),
            ParseContext::new(ip6(), 255),
            ParseContext {
                multicast: false,
                ..ParseContext::new(ip4(), 1)
            },
        ];
        for (msg, ip, _) in cases() {
            for n in 0..=msg.len() {
                let r = parse(&msg[..n], ip);
                assert_eq!(r.is_ok(), n == msg.len(), "{n}");
                for ctx in &ctxs {
                    let _ = Repr::parse_bytes(&msg[..n], ctx);
                }
            }
            for _ in 0..3000 {
                let m = rng.mutate(msg);
                for ctx in &ctxs {
                    if let Ok(r) = Repr::parse_bytes(&m, ctx) {
                        // Whatever parses must emit and parse back to the same thing.
                        let emit = EmitContext::new(ctx.ip);
                        if let Ok(bytes) = r.to_bytes(&emit) {
                            let again = Repr::parse_bytes(&bytes, &ParseContext::new(ctx.ip, 255));
                            assert_eq!(again, Ok(r));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn display_hides_the_password() {
        let s = v2_repr().to_string();
        assert_eq!(
            s,
            "VRRPv2 vrid 51 prio 100 intvl 1.00s addrs [198.18.0.100] auth pass"
        );
        assert!(!s.contains("secret"));
        assert_eq!(
            v3_ipv6_repr().to_string(),
            "VRRPv3 vrid 51 prio 100 intvl 0.10s addrs [2001:db8::100]"
        );
    }
}
