//! Whole Ethernet frames: a builder of VRRP advertisement frames (with knobs to corrupt
//! them, for tests and benchmarks of the receive path) and a decoder that walks Ethernet,
//! up to two VLAN tags and the IPv4 / IPv6 header.
//!
//! The builder's defaults are what a VRRP router puts on the wire: destination MAC of the
//! VRRP group (01:00:5e:00:00:12 or 33:33:00:00:00:12), source the virtual MAC of the VRID
//! (RFC 9568 §7.3), TTL / hop limit 255 (RFC 9568 §5.1.1.3, §5.1.2.3), protocol / next
//! header 112, and keepalived's IP header: TOS / traffic class 0xc0 (precedence
//! "internetwork control"), DF clear, no options, flow label 0.
use std::ops::Range;

use thiserror::Error;
use vrrp_common::{Discard, IPPROTO_VRRP};

use super::checksum::{self, ChecksumForm};
use super::vrrp::{EmitContext, EmitError, ParseContext, Repr};
use super::{read_u16, Endpoints, Family, MacAddr, VRRP_TTL};

/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Tag protocol identifier of an IEEE 802.1Q (customer) VLAN tag.
pub const TPID_8021Q: u16 = 0x8100;
/// Tag protocol identifier of an IEEE 802.1ad (service, outer) VLAN tag.
pub const TPID_8021AD: u16 = 0x88a8;
/// Pre-standard outer tag protocol identifier some switches still use for Q-in-Q.
pub const TPID_QINQ_LEGACY: u16 = 0x9100;
/// Length of the Ethernet header without tags (no FCS anywhere in this module).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of one VLAN tag.
pub const VLAN_TAG_LEN: usize = 4;
/// The most VLAN tags [`parse_frame`] walks (802.1ad outer plus 802.1Q inner).
pub const MAX_VLAN_TAGS: usize = 2;
/// Shortest Ethernet frame without FCS; NICs pad shorter ones with zeros.
pub const MIN_FRAME_LEN: usize = 60;
/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Longest IPv4 options (IHL is at most 15 words).
pub const IPV4_MAX_OPTIONS_LEN: usize = 40;
/// Length of the IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// IPv4 TOS / IPv6 traffic class keepalived sends VRRP with (IPTOS_PREC_INTERNETCONTROL).
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

/// One VLAN tag: its TPID and tag control information (PCP, DEI, VID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier ([`TPID_8021Q`], [`TPID_8021AD`], ...).
    pub tpid: u16,
    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    pub tci: u16,
}

impl VlanTag {
    /// A tag with `tpid` and VLAN ID `vid` (low 12 bits), priority 0.
    pub const fn new(tpid: u16, vid: u16) -> VlanTag {
        VlanTag {
            tpid,
            tci: vid & 0x0fff,
        }
    }

    /// The VLAN ID.
    pub const fn vid(self) -> u16 {
        self.tci & 0x0fff
    }

    /// The priority code point.
    pub const fn pcp(self) -> u8 {
        (self.tci >> 13) as u8
    }
}

/// Why [`parse_frame`] (or the ARP / NA parsers) rejected a frame.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The frame ends inside the named header or payload.
    #[error("frame truncated in the {0}")]
    Truncated(&'static str),
    /// More VLAN tags than [`MAX_VLAN_TAGS`].
    #[error("more than {MAX_VLAN_TAGS} VLAN tags")]
    TooManyVlanTags,
    /// The ethertype (after any VLAN tags) is not the one expected.
    #[error("unexpected ethertype {0:#06x}")]
    Ethertype(u16),
    /// The IP version field disagrees with the ethertype.
    #[error("IP version {0} does not match the ethertype")]
    IpVersion(u8),
    /// IPv4 IHL below 5 words.
    #[error("IPv4 header length {0} is shorter than 20 bytes")]
    Ipv4HeaderLen(usize),
    /// The IPv4 total length is shorter than the IPv4 header.
    #[error("IP length {0} is shorter than the IP header")]
    IpLength(usize),
    /// The IPv4 header checksum is wrong.
    #[error("IPv4 header checksum is wrong")]
    Ipv4Checksum,
    /// A fragment (VRRP, ARP and ND messages are never fragmented).
    #[error("IP fragment")]
    Fragmented,
    /// The IP protocol / next header is not the one expected.
    #[error("unexpected IP protocol {0}")]
    Protocol(u8),
    /// ND message with hop limit other than 255 (RFC 4861 §7.1.2).
    #[error("hop limit {0} (must be 255)")]
    HopLimit(u8),
    /// ARP for something other than Ethernet and IPv4.
    #[error("ARP packet is not Ethernet/IPv4")]
    ArpFormat,
    /// ARP operation other than request.
    #[error("ARP operation {0} (gratuitous ARP is a request)")]
    ArpOperation(u16),
    /// ARP whose sender and target protocol addresses differ.
    #[error("ARP is not gratuitous (sender and target address differ)")]
    NotGratuitous,
    /// ICMPv6 type or code other than Neighbor Advertisement (136, 0).
    #[error("ICMPv6 type {0} code {1} is not a Neighbor Advertisement")]
    Icmpv6Type(u8, u8),
    /// The ICMPv6 checksum is wrong.
    #[error("ICMPv6 checksum is wrong")]
    Icmpv6Checksum,
    /// Neighbor Advertisement that is not an unsolicited override: Solicited set (invalid
    /// to a multicast destination, RFC 4861 §7.1.2) or Override clear.
    #[error("Neighbor Advertisement flags are not unsolicited-override")]
    NdFlags,
    /// Neighbor Advertisement for a multicast target (RFC 4861 §7.1.2).
    #[error("Neighbor Advertisement target is multicast")]
    NdTargetMulticast,
    /// ND option with length 0 or running past the message (RFC 4861 §4.6).
    #[error("malformed ND option")]
    NdOption,
    /// Neighbor Advertisement without a Target Link-Layer Address option.
    #[error("Neighbor Advertisement has no target link-layer address")]
    NdNoTargetLinkAddr,
}

impl FrameError {
    /// The discard counter the XDP program would count this under if the frame's IP
    /// protocol is VRRP: [`Discard::Truncated`] when the frame is cut short (also when the
    /// IP length runs past it), [`Discard::IpHeader`] for a malformed IP header (version,
    /// IHL, total length shorter than the header, header checksum, fragment). Other errors
    /// mean "not a VRRP packet" (passed on, not counted).
    pub const fn as_discard(&self) -> Option<Discard> {
        match self {
            FrameError::Truncated(_) => Some(Discard::Truncated),
            FrameError::IpVersion(_)
            | FrameError::Ipv4HeaderLen(_)
            | FrameError::IpLength(_)
            | FrameError::Ipv4Checksum
            | FrameError::Fragmented => Some(Discard::IpHeader),
            _ => None,
        }
    }
}

/// The Ethernet header and VLAN tags of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EthernetHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// Outermost first.
    pub vlans: Vec<VlanTag>,
    /// Ethertype after the tags.
    pub ethertype: u16,
    /// Offset of what follows the ethertype.
    pub payload_offset: usize,
}

/// Walks the Ethernet header and up to [`MAX_VLAN_TAGS`] tags.
pub(crate) fn parse_ethernet(frame: &[u8]) -> Result<EthernetHeader, FrameError> {
    let header = frame
        .get(..ETHERNET_HEADER_LEN)
        .ok_or(FrameError::Truncated("ethernet header"))?;
    let dst = MacAddr::from_slice(&header[0..6]).ok_or(FrameError::Truncated("ethernet header"))?;
    let src =
        MacAddr::from_slice(&header[6..12]).ok_or(FrameError::Truncated("ethernet header"))?;
    let mut offset = 12;
    let mut vlans = Vec::new();
    loop {
        let ethertype = read_u16(frame, offset).ok_or(FrameError::Truncated("ethernet header"))?;
        offset += 2;
        if !matches!(ethertype, TPID_8021Q | TPID_8021AD | TPID_QINQ_LEGACY) {
            return Ok(EthernetHeader {
                dst,
                src,
                vlans,
                ethertype,
                payload_offset: offset,
            });
        }
        if vlans.len() == MAX_VLAN_TAGS {
            return Err(FrameError::TooManyVlanTags);
        }
        let tci = read_u16(frame, offset).ok_or(FrameError::Truncated("vlan tag"))?;
        vlans.push(VlanTag {
            tpid: ethertype,
            tci,
        });
        offset += 2;
    }
}

/// Appends an Ethernet header with `vlans` (outermost first).
pub(crate) fn write_ethernet(
    out: &mut Vec<u8>,
    dst: MacAddr,
    src: MacAddr,
    vlans: &[VlanTag],
    ethertype: u16,
) {
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    for tag in vlans {
        out.extend_from_slice(&tag.tpid.to_be_bytes());
        out.extend_from_slice(&tag.tci.to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// A decoded frame: link layer, IP header, and where the IP payload (the VRRP message)
/// lies in the frame. Ethernet padding after the IP packet is excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFrame {
    /// Destination MAC.
    pub dst_mac: MacAddr,
    /// Source MAC.
    pub src_mac: MacAddr,
    /// VLAN tags, outermost first.
    pub vlans: Vec<VlanTag>,
    /// IP source and destination.
    pub ip: Endpoints,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// TOS (IPv4) or traffic class (IPv6).
    pub tos: u8,
    /// IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
    /// IP protocol (IPv4) or next header (IPv6; extension headers are not walked).
    pub protocol: u8,
    /// Byte range of the IP payload in the frame.
    pub payload: Range<usize>,
}

impl ParsedFrame {
    /// The IP payload within `frame` (the frame this was parsed from); empty if `frame` is
    /// another, shorter one.
    pub fn payload_bytes<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.payload.clone()).unwrap_or(&[])
    }

    /// The context [`Repr::parse`] needs from this frame's IP header.
    pub const fn parse_context(&self) -> ParseContext {
        ParseContext::new(self.ip, self.ttl)
    }
}

/// Decodes Ethernet, up to two VLAN tags and an IPv4 or IPv6 header. Any IP protocol is
/// accepted (see [`ParsedFrame::protocol`]); the IPv4 header checksum is verified and
/// fragments are rejected. Never panics.
pub fn parse_frame(frame: &[u8]) -> Result<ParsedFrame, FrameError> {
    let eth = parse_ethernet(frame)?;
    let o = eth.payload_offset;
    let ip = match eth.ethertype {
        ETHERTYPE_IPV4 => parse_ipv4(frame, o)?,
        ETHERTYPE_IPV6 => parse_ipv6(frame, o)?,
        other => return Err(FrameError::Ethertype(other)),
    };
    Ok(ParsedFrame {
        dst_mac: eth.dst,
        src_mac: eth.src,
        vlans: eth.vlans,
        ip: ip.endpoints,
        ttl: ip.ttl,
        tos: ip.tos,
        flow_label: ip.flow_label,
        protocol: ip.protocol,
        payload: ip.payload,
    })
}

struct IpHeader {
    endpoints: Endpoints,
    ttl: u8,
    tos: u8,
    flow_label: u32,
    protocol: u8,
    payload: Range<usize>,
}

fn parse_ipv4(frame: &[u8], o: usize) -> Result<IpHeader, FrameError> {
    let h = frame
        .get(o..o + IPV4_HEADER_LEN)
        .ok_or(FrameError::Truncated("ipv4 header"))?;
    if h[0] >> 4 != 4 {
        return Err(FrameError::IpVersion(h[0] >> 4));
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < IPV4_HEADER_LEN {
        return Err(FrameError::Ipv4HeaderLen(header_len));
    }
    let header = frame
        .get(o..o + header_len)
        .ok_or(FrameError::Truncated("ipv4 options"))?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < header_len {
        return Err(FrameError::IpLength(total));
    }
    if frame.len() < o + total {
        return Err(FrameError::Truncated("ipv4 payload"));
    }
    if checksum::ipv4_header(header) != 0 {
        return Err(FrameError::Ipv4Checksum);
    }
    // More Fragments set, or a non-zero offset.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return Err(FrameError::Fragmented);
    }
    let src = <[u8; 4]>::try_from(&h[12..16]).map_err(|_| FrameError::Truncated("ipv4 header"))?;
    let dst = <[u8; 4]>::try_from(&h[16..20]).map_err(|_| FrameError::Truncated("ipv4 header"))?;
    Ok(IpHeader {
        endpoints: Endpoints::V4 {
            src: src.into(),
            dst: dst.into(),
        },
        ttl: h[8],
        tos: h[1],
        flow_label: 0,
        protocol: h[9],
        payload: o + header_len..o + total,
    })
}

fn parse_ipv6(frame: &[u8], o: usize) -> Result<IpHeader, FrameError> {
    let h = frame
        .get(o..o + IPV6_HEADER_LEN)
        .ok_or(FrameError::Truncated("ipv6 header"))?;
    let word = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if word >> 28 != 6 {
        return Err(FrameError::IpVersion((word >> 28) as u8));
    }
    let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let start = o + IPV6_HEADER_LEN;
    if frame.len() < start + payload_len {
        return Err(FrameError::Truncated("ipv6 payload"));
    }
    let src = <[u8; 16]>::try_from(&h[8..24]).map_err(|_| FrameError::Truncated("ipv6 header"))?;
    let dst = <[u8; 16]>::try_from(&h[24..40]).map_err(|_| FrameError::Truncated("ipv6 header"))?;
    Ok(IpHeader {
        endpoints: Endpoints::V6 {
            src: src.into(),
            dst: dst.into(),
        },
        ttl: h[7],
        tos: (word >> 20) as u8,
        flow_label: word & 0x000f_ffff,
        protocol: h[6],
        payload: start..start + payload_len,
    })
}

/// Builds a whole Ethernet frame carrying a VRRP advertisement, for tests, benchmarks and
/// the sender. Every setter takes and returns the builder; [`FrameBuilder::build`] can be
/// called any number of times.
///
/// The corruption knobs ([`FrameBuilder::ttl`], [`FrameBuilder::version_type`],
/// [`FrameBuilder::count`], [`FrameBuilder::vrrp_checksum`], [`FrameBuilder::truncate`])
/// each break one rule and leave the rest valid: the VRRP checksum is recomputed after the
/// version/type and count overrides, so a frame fails exactly the check under test.
#[derive(Clone, Debug)]
pub struct FrameBuilder {
    ip: Endpoints,
    vrrp: Vec<u8>,
    vrid: u8,
    recompute_checksum: bool,
    checksum_form: ChecksumForm,
    dst_mac: Option<MacAddr>,
    src_mac: Option<MacAddr>,
    /// Tags outermost first; `None` TPID: chosen at build (802.1ad outside, 802.1Q inside).
    vlans: Vec<(Option<u16>, u16)>,
    ttl: u8,
    tos: u8,
    ident: u16,
    flow_label: u32,
    ip_options: Vec<u8>,
    version_type: Option<u8>,
    count: Option<u8>,
    vrrp_checksum: Option<u16>,
    truncate: Option<usize>,
    pad: bool,
}

impl FrameBuilder {
    /// A frame carrying `repr` between `ip`, or why `repr` cannot be emitted there.
    pub fn new(repr: &Repr, ip: Endpoints) -> Result<FrameBuilder, EmitError> {
        let vrrp = repr.to_bytes(&EmitContext::new(ip))?;
        let mut builder = FrameBuilder::from_vrrp_bytes(ip, &vrrp);
        builder.recompute_checksum = true;
        Ok(builder)
    }

    /// A frame carrying `payload` (any bytes, even too short for a VRRP header) between
    /// `ip`. Its checksum is left as given: the version/type and count knobs still apply
    /// but do not recompute it; [`FrameBuilder::vrrp_checksum`] still overrides it.
    pub fn from_vrrp_bytes(ip: Endpoints, payload: &[u8]) -> FrameBuilder {
        FrameBuilder {
            ip,
            vrrp: payload.to_vec(),
            vrid: payload.get(1).copied().unwrap_or(0),
            recompute_checksum: false,
            checksum_form: ChecksumForm::PseudoHeader,
            dst_mac: None,
            src_mac: None,
            vlans: Vec::new(),
            ttl: VRRP_TTL,
            tos: TOS_INTERNETWORK_CONTROL,
            ident: 0,
            flow_label: 0,
            ip_options: Vec::new(),
            version_type: None,
            count: None,
            vrrp_checksum: None,
            truncate: None,
            pad: false,
        }
    }

    /// Destination MAC (default: the group MAC of a multicast destination, else broadcast).
    #[must_use]
    pub fn dst_mac(mut self, mac: MacAddr) -> Self {
        self.dst_mac = Some(mac);
        self
    }

    /// Source MAC (default: the virtual MAC of the VRID, RFC 9568 §7.3; keepalived without
    /// `use_vmac` sends from the interface MAC instead).
    #[must_use]
    pub fn src_mac(mut self, mac: MacAddr) -> Self {
        self.src_mac = Some(mac);
        self
    }

    /// Adds a VLAN tag inside those already added (the first call is the outermost tag).
    /// The TPID is 802.1Q (0x8100) for the innermost tag and 802.1ad (0x88a8) outside it.
    #[must_use]
    pub fn vlan(mut self, vid: u16) -> Self {
        self.vlans.push((None, vid & 0x0fff));
        self
    }

    /// Adds an explicit VLAN tag inside those already added.
    #[must_use]
    pub fn vlan_tag(mut self, tag: VlanTag) -> Self {
        self.vlans.push((Some(tag.tpid), tag.tci));
        self
    }

    /// TTL / hop limit (default 255; anything else breaks RFC 9568 §7.1 for multicast).
    #[must_use]
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// IPv4 TOS / IPv6 traffic class (default 0xc0).
    #[must_use]
    pub fn tos(mut self, tos: u8) -> Self {
        self.tos = tos;
        self
    }

    /// IPv4 identification (default 0; keepalived counts up from 1).
    #[must_use]
    pub fn ident(mut self, ident: u16) -> Self {
        self.ident = ident;
        self
    }

    /// IPv6 flow label (low 20 bits; default 0).
    #[must_use]
    pub fn flow_label(mut self, label: u32) -> Self {
        self.flow_label = label & 0x000f_ffff;
        self
    }

    /// IPv4 options, zero-padded to a multiple of 4 bytes so IHL > 5; bytes beyond 40 are
    /// dropped. Ignored for IPv6.
    #[must_use]
    pub fn ip_options(mut self, options: &[u8]) -> Self {
        let mut opts = options[..options.len().min(IPV4_MAX_OPTIONS_LEN)].to_vec();
        opts.resize(opts.len().div_ceil(4) * 4, 0);
        self.ip_options = opts;
        self
    }

    /// v3-over-IPv4 checksum form (default: keepalived's pseudo-header form).
    #[must_use]
    pub fn checksum_form(mut self, form: ChecksumForm) -> Self {
        self.checksum_form = form;
        self
    }

    /// Corruption: overrides the VRRP version/type byte (the checksum is recomputed for the
    /// version written: plain for 2, per family otherwise).
    #[must_use]
    pub fn version_type(mut self, byte: u8) -> Self {
        self.version_type = Some(byte);
        self
    }

    /// Corruption: overrides the VRRP Count field (checksum recomputed).
    #[must_use]
    pub fn count(mut self, count: u8) -> Self {
        self.count = Some(count);
        self
    }

    /// Corruption: writes this VRRP checksum instead of the right one.
    #[must_use]
    pub fn vrrp_checksum(mut self, checksum: u16) -> Self {
        self.vrrp_checksum = Some(checksum);
        self
    }

    /// Corruption: cuts the finished frame to `len` bytes (the IP length still claims the
    /// whole packet, as in a short capture).
    #[must_use]
    pub fn truncate(mut self, len: usize) -> Self {
        self.truncate = Some(len);
        self
    }

    /// Pads the frame with zeros to [`MIN_FRAME_LEN`] like a NIC (after the IP packet; the IP
    /// length excludes the padding).
    #[must_use]
    pub fn pad_to_min_len(mut self) -> Self {
        self.pad = true;
        self
    }

    /// The VRRP message as it goes into the frame, knobs applied.
    fn vrrp_payload(&self) -> Vec<u8> {
        let mut msg = self.vrrp.clone();
        if let (Some(b), Some(v)) = (msg.get_mut(0), self.version_type) {
            *b = v;
        }
        if let (Some(b), Some(c)) = (msg.get_mut(3), self.count) {
            *b = c;
        }
        if self.recompute_checksum && msg.len() >= 8 {
            msg[6..8].fill(0);
            let sum = checksum::vrrp(msg[0] >> 4, &self.ip, &msg, self.checksum_form);
            msg[6..8].copy_from_slice(&sum.to_be_bytes());
        }
        if let (Some(field), Some(sum)) = (msg.get_mut(6..8), self.vrrp_checksum) {
            field.copy_from_slice(&sum.to_be_bytes());
        }
        msg
    }

    /// The frame.
    pub fn build(&self) -> Vec<u8> {
        let msg = self.vrrp_payload();
        let family = self.ip.family();
        let dst_mac = self
            .dst_mac
            .or_else(|| MacAddr::multicast(self.ip.dst()))
            .unwrap_or(MacAddr::BROADCAST);
        let src_mac = self.src_mac.unwrap_or(MacAddr::vrrp(family, self.vrid));
        let n = self.vlans.len();
        let vlans: Vec<VlanTag> = self
            .vlans
            .iter()
            .enumerate()
            .map(|(i, &(tpid, tci))| {
                let auto = if i + 1 == n { TPID_8021Q } else { TPID_8021AD };
                VlanTag {
                    tpid: tpid.unwrap_or(auto),
                    tci,
                }
            })
            .collect();
        let ethertype = match family {
            Family::Ipv4 => ETHERTYPE_IPV4,
            Family::Ipv6 => ETHERTYPE_IPV6,
        };
        let mut out = Vec::with_capacity(ETHERNET_HEADER_LEN + 4 * n + 60 + msg.len());
        write_ethernet(&mut out, dst_mac, src_mac, &vlans, ethertype);
        match self.ip {
            Endpoints::V4 { src, dst } => {
                let header_len = IPV4_HEADER_LEN + self.ip_options.len();
                let total = u16::try_from(header_len + msg.len()).unwrap_or(u16::MAX);
                let start = out.len();
                out.push(0x40 | (header_len / 4) as u8);
                out.push(self.tos);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&self.ident.to_be_bytes());
                out.extend_from_slice(&[0, 0]); // flags (DF clear, as keepalived) and offset
                out.push(self.ttl);
                out.push(IPPROTO_VRRP);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&self.ip_options);
                let sum = checksum::ipv4_header(&out[start..]);
                out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
            }
            Endpoints::V6 { src, dst } => {
                let word = (6u32 << 28) | (u32::from(self.tos) << 20) | self.flow_label;
                let payload_len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&word.to_be_bytes());
                out.extend_from_slice(&payload_len.to_be_bytes());
                out.push(IPPROTO_VRRP);
                out.push(self.ttl);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
            }
        }
        out.extend_from_slice(&msg);
        if self.pad && out.len() < MIN_FRAME_LEN {
            out.resize(MIN_FRAME_LEN, 0);
        }
        if let Some(len) = self.truncate {
            out.truncate(len);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Centisecs;
    use crate::wire::fixtures::{
        XorShift, ALL_FRAMES, GARP_FRAME, IF_MAC, SRC4, SRC6, V2_FRAME, V2_MSG, V3_IPV4_FRAME,
        V3_IPV4_MSG, V3_IPV6_FRAME, V3_IPV6_MSG, VIP4, VIP6,
    };
    use crate::wire::vrrp::{Auth, Version};
    use crate::wire::{VRRP_GROUP_V4, VRRP_GROUP_V6};
    use std::net::{IpAddr, Ipv4Addr};

    fn ip4() -> Endpoints {
        Endpoints::multicast(SRC4.into())
    }

    fn ip6() -> Endpoints {
        Endpoints::multicast(SRC6.into())
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

    fn v3_repr(addr: IpAddr) -> Repr {
        Repr {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            max_adver_int: Centisecs::new(10),
            addresses: vec![addr],
            auth: Auth::None,
        }
    }

    /// Frame -> VRRP Repr, as the receive path sees it.
    fn decode(frame: &[u8]) -> Result<Repr, Discard> {
        let parsed = parse_frame(frame).map_err(|e| e.as_discard().expect("a VRRP frame"))?;
        assert_eq!(parsed.protocol, IPPROTO_VRRP);
        Repr::parse_bytes(parsed.payload_bytes(frame), &parsed.parse_context())
    }

    #[test]
    fn parse_keepalived_frames() {
        let cases = [
            (&V2_FRAME[..], ip4(), V2_MSG, 34..54),
            (&V3_IPV4_FRAME, ip4(), V3_IPV4_MSG, 34..46),
            (&V3_IPV6_FRAME, ip6(), V3_IPV6_MSG, 54..78),
        ];
        for (frame, ip, msg, range) in cases {
            let p = parse_frame(frame).unwrap();
            assert_eq!(p.src_mac, IF_MAC);
            assert_eq!(p.dst_mac, MacAddr::multicast(ip.dst()).unwrap());
            assert!(p.vlans.is_empty());
            assert_eq!(p.ip, ip);
            assert_eq!(p.ttl, 255);
            assert_eq!(p.tos, 0xc0);
            assert_eq!(p.protocol, 112);
            assert_eq!(p.payload, range);
            assert_eq!(p.payload_bytes(frame), msg);
        }
        assert_eq!(parse_frame(&V3_IPV6_FRAME).unwrap().flow_label, 0x72df6);
        assert_eq!(decode(&V2_FRAME), Ok(v2_repr()));
        assert_eq!(decode(&V3_IPV4_FRAME), Ok(v3_repr(VIP4.into())));
        assert_eq!(decode(&V3_IPV6_FRAME), Ok(v3_repr(VIP6.into())));
    }

    #[test]
    fn build_reproduces_keepalived_frames() {
        let v2 = FrameBuilder::new(&v2_repr(), ip4())
            .unwrap()
            .src_mac(IF_MAC)
            .ident(1);
        assert_eq!(v2.build(), V2_FRAME);
        let v3 = FrameBuilder::new(&v3_repr(VIP4.into()), ip4())
            .unwrap()
            .src_mac(IF_MAC)
            .ident(1);
        assert_eq!(v3.build(), V3_IPV4_FRAME);
        let v6 = FrameBuilder::new(&v3_repr(VIP6.into()), ip6())
            .unwrap()
            .src_mac(IF_MAC)
            .flow_label(0x72df6);
        assert_eq!(v6.build(), V3_IPV6_FRAME);
    }

    #[test]
    fn build_defaults() {
        let f = FrameBuilder::new(&v3_repr(VIP4.into()), ip4())
            .unwrap()
            .build();
        assert_eq!(f[0..6], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        assert_eq!(f[6..12], [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
        assert_eq!(f[14], 0x45);
        assert_eq!(f[15], 0xc0);
        assert_eq!(f[20..22], [0, 0], "DF clear, no fragment offset");
        assert_eq!(f[22], 255);
        assert_eq!(f[23], 112);
        let f = FrameBuilder::new(&v3_repr(VIP6.into()), ip6())
            .unwrap()
            .build();
        assert_eq!(f[0..6], [0x33, 0x33, 0, 0, 0, 0x12]);
        assert_eq!(f[6..12], [0x00, 0x00, 0x5e, 0x00, 0x02, 51]);
        assert_eq!(
            f[14..18],
            [0x6c, 0x00, 0x00, 0x00],
            "version 6, class 0xc0, flow 0"
        );
        assert_eq!((f[20], f[21]), (112, 255));
        // A unicast destination gets the broadcast MAC unless told otherwise.
        let uni = Endpoints::V4 {
            src: SRC4,
            dst: Ipv4Addr::new(198, 18, 0, 2),
        };
        let f = FrameBuilder::new(&v2_repr(), uni).unwrap().build();
        assert_eq!(MacAddr::from_slice(&f[0..6]), Some(MacAddr::BROADCAST));
        let peer = MacAddr([0x02, 0, 0, 0, 0, 2]);
        let f = FrameBuilder::new(&v2_repr(), uni)
            .unwrap()
            .dst_mac(peer)
            .build();
        assert_eq!(parse_frame(&f).unwrap().dst_mac, peer);
        assert_eq!(decode(&f), Ok(v2_repr()));
    }

    #[test]
    fn new_reports_emit_errors() {
        assert_eq!(
            FrameBuilder::new(&v2_repr(), ip6()).err(),
            Some(EmitError::V2OverIpv6)
        );
        assert_eq!(
            FrameBuilder::new(&v3_repr(VIP6.into()), ip4()).err(),
            Some(EmitError::AddressFamily(VIP6.into()))
        );
    }

    #[test]
    fn round_trip_with_0_1_2_vlan_tags() {
        let reprs = [
            (v2_repr(), ip4()),
            (v3_repr(VIP4.into()), ip4()),
            (v3_repr(VIP6.into()), ip6()),
        ];
        for (repr, ip) in reprs {
            let base = FrameBuilder::new(&repr, ip).unwrap();
            let plain_len = base.build().len();
            let tagged: [(FrameBuilder, Vec<VlanTag>); 3] = [
                (base.clone(), vec![]),
                (base.clone().vlan(100), vec![VlanTag::new(TPID_8021Q, 100)]),
                (
                    base.clone().vlan(10).vlan(4094),
                    vec![
                        VlanTag::new(TPID_8021AD, 10),
                        VlanTag::new(TPID_8021Q, 4094),
                    ],
                ),
            ];
            for (builder, vlans) in tagged {
                let frame = builder.build();
                assert_eq!(frame.len(), plain_len + 4 * vlans.len());
                let p = parse_frame(&frame).unwrap();
                assert_eq!(p.vlans, vlans);
                assert_eq!(p.ip, ip);
                assert_eq!(p.src_mac, MacAddr::vrrp(ip.family(), 51));
                assert_eq!(decode(&frame), Ok(repr.clone()), "{} vlans", vlans.len());
            }
        }
    }

    #[test]
    fn explicit_vlan_tpids_and_priority() {
        let tag = VlanTag {
            tpid: TPID_QINQ_LEGACY,
            tci: (5 << 13) | 7,
        };
        let frame = FrameBuilder::new(&v2_repr(), ip4())
            .unwrap()
            .vlan_tag(tag)
            .vlan(8)
            .build();
        let p = parse_frame(&frame).unwrap();
        assert_eq!(p.vlans, vec![tag, VlanTag::new(TPID_8021Q, 8)]);
        assert_eq!((p.vlans[0].pcp(), p.vlans[0].vid()), (5, 7));
    }

    #[test]
    fn three_vlan_tags_are_rejected() {
        let frame = FrameBuilder::new(&v2_repr(), ip4())
            .unwrap()
            .vlan(1)
            .vlan(2)
            .vlan(3)
            .build();
        assert_eq!(parse_frame(&frame), Err(FrameError::TooManyVlanTags));
    }

    #[test]
    fn ipv4_options_raise_ihl() {
        // Router Alert (RFC 2113), 4 bytes; and 3 bytes that get padded to 4.
        for (opts, ihl) in [
            (&[0x94u8, 0x04, 0x00, 0x00][..], 6),
            (&[0x01, 0x01, 0x01][..], 6),
        ] {
            let frame = FrameBuilder::new(&v2_repr(), ip4())
                .unwrap()
                .ip_options(opts)
                .build();
            assert_eq!(frame[14], 0x40 | ihl);
            let p = parse_frame(&frame).unwrap();
            assert_eq!(p.payload, 38..58);
            assert_eq!(decode(&frame), Ok(v2_repr()));
        }
        let frame = FrameBuilder::new(&v2_repr(), ip4())
            .unwrap()
            .ip_options(&[1; 64])
            .build();
        assert_eq!(frame[14], 0x4f, "options are capped at 40 bytes");
        assert_eq!(decode(&frame), Ok(v2_repr()));
    }

    #[test]
    fn padding_is_not_payload() {
        let frame = FrameBuilder::new(&v3_repr(VIP4.into()), ip4())
            .unwrap()
            .pad_to_min_len()
            .build();
        assert_eq!(frame.len(), MIN_FRAME_LEN);
        assert_eq!(frame[46..], [0; 14]);
        assert_eq!(parse_frame(&frame).unwrap().payload, 34..46);
        assert_eq!(decode(&frame), Ok(v3_repr(VIP4.into())));
        // Frames already longer than the minimum are not padded.
        let frame = FrameBuilder::new(&v3_repr(VIP6.into()), ip6())
            .unwrap()
            .pad_to_min_len()
            .build();
        assert_eq!(frame.len(), 78);
    }

    #[test]
    fn knobs_break_exactly_one_rule() {
        for (repr, ip) in [
            (v2_repr(), ip4()),
            (v3_repr(VIP4.into()), ip4()),
            (v3_repr(VIP6.into()), ip6()),
        ] {
            let b = FrameBuilder::new(&repr, ip).unwrap();
            let v = repr.version.number() << 4;
            assert_eq!(decode(&b.clone().ttl(254).build()), Err(Discard::Ttl));
            assert_eq!(decode(&b.clone().ttl(1).build()), Err(Discard::Ttl));
            assert_eq!(
                decode(&b.clone().version_type(0x11).build()),
                Err(Discard::Version)
            );
            assert_eq!(
                decode(&b.clone().version_type(v | 2).build()),
                Err(Discard::Type)
            );
            assert_eq!(decode(&b.clone().count(2).build()), Err(Discard::Length));
            let good = b.build();
            let at = good.len() - repr.buffer_len() + 6;
            let sum = u16::from_be_bytes([good[at], good[at + 1]]);
            assert_eq!(
                decode(&b.clone().vrrp_checksum(sum ^ 0x0100).build()),
                Err(Discard::Checksum)
            );
            assert_eq!(
                decode(&b.clone().vrrp_checksum(sum).build()),
                Ok(repr.clone())
            );
            // Every cut of the frame: truncated at the frame level, never a panic.
            for n in 0..good.len() {
                let r = parse_frame(&b.clone().truncate(n).build());
                assert!(r.is_err(), "{n}");
                if n >= ETHERNET_HEADER_LEN {
                    assert_eq!(r.unwrap_err().as_discard(), Some(Discard::Truncated), "{n}");
                }
            }
        }
        // v2 over IPv6.
        let b = FrameBuilder::new(&v3_repr(VIP6.into()), ip6())
            .unwrap()
            .version_type(0x21);
        assert_eq!(decode(&b.build()), Err(Discard::Version));
    }

    #[test]
    fn plain_checksum_form() {
        let b = FrameBuilder::new(&v3_repr(VIP4.into()), ip4())
            .unwrap()
            .checksum_form(ChecksumForm::Plain);
        let frame = b.build();
        assert_eq!(frame[40..42], [0xa4, 0x4a]);
        assert_eq!(decode(&frame), Ok(v3_repr(VIP4.into())));
    }

    #[test]
    fn short_vrrp_payload_is_truncated() {
        for n in 0..8 {
            let frame = FrameBuilder::from_vrrp_bytes(ip4(), &V3_IPV4_MSG[..n]).build();
            assert_eq!(decode(&frame), Err(Discard::Truncated), "{n}");
        }
        // Raw payloads keep their checksum.
        let frame = FrameBuilder::from_vrrp_bytes(ip4(), V3_IPV4_MSG)
            .src_mac(IF_MAC)
            .ident(1)
            .build();
        assert_eq!(frame, V3_IPV4_FRAME);
    }

    #[test]
    fn frame_errors() {
        assert_eq!(
            parse_frame(&GARP_FRAME),
            Err(FrameError::Ethertype(ETHERTYPE_ARP))
        );
        assert_eq!(
            parse_frame(&V2_FRAME[..13]),
            Err(FrameError::Truncated("ethernet header"))
        );
        assert_eq!(
            parse_frame(&V2_FRAME[..33]),
            Err(FrameError::Truncated("ipv4 header"))
        );
        assert_eq!(
            parse_frame(&V2_FRAME[..53]),
            Err(FrameError::Truncated("ipv4 payload"))
        );
        assert_eq!(
            parse_frame(&V3_IPV6_FRAME[..77]),
            Err(FrameError::Truncated("ipv6 payload"))
        );

        let mut f = V2_FRAME.to_vec();
        f[24] ^= 1;
        assert_eq!(parse_frame(&f), Err(FrameError::Ipv4Checksum));

        let fix_ip_checksum = |f: &mut Vec<u8>| {
            f[24..26].fill(0);
            let sum = checksum::ipv4_header(&f[14..34]);
            f[24..26].copy_from_slice(&sum.to_be_bytes());
        };
        let mut f = V2_FRAME.to_vec();
        f[20] = 0x20; // More Fragments
        fix_ip_checksum(&mut f);
        assert_eq!(parse_frame(&f), Err(FrameError::Fragmented));
        let mut f = V2_FRAME.to_vec();
        f[21] = 0x01; // offset 8
        fix_ip_checksum(&mut f);
        assert_eq!(parse_frame(&f), Err(FrameError::Fragmented));
        let mut f = V2_FRAME.to_vec();
        f[20] = 0x40; // DF is fine
        fix_ip_checksum(&mut f);
        assert_eq!(decode(&f), Ok(v2_repr()));

        let mut f = V2_FRAME.to_vec();
        f[14] = 0x44;
        assert_eq!(parse_frame(&f), Err(FrameError::Ipv4HeaderLen(16)));
        let mut f = V2_FRAME.to_vec();
        f[14] = 0x65;
        assert_eq!(parse_frame(&f), Err(FrameError::IpVersion(6)));
        let mut f = V2_FRAME.to_vec();
        f[16..18].copy_from_slice(&19u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        assert_eq!(parse_frame(&f), Err(FrameError::IpLength(19)));
        // As the XDP program counts them.
        assert_eq!(
            FrameError::IpLength(19).as_discard(),
            Some(Discard::IpHeader)
        );
        assert_eq!(
            FrameError::Ipv4Checksum.as_discard(),
            Some(Discard::IpHeader)
        );
        assert_eq!(FrameError::Fragmented.as_discard(), Some(Discard::IpHeader));
        assert_eq!(
            FrameError::Truncated("ipv4 payload").as_discard(),
            Some(Discard::Truncated)
        );
        assert_eq!(FrameError::Protocol(17).as_discard(), None);
        let mut f = V3_IPV6_FRAME.to_vec();
        f[14] = 0x4c;
        assert_eq!(parse_frame(&f), Err(FrameError::IpVersion(4)));
    }

    #[test]
    fn ip_length_shorter_than_frame_excludes_trailer() {
        // An IPv6 payload length shorter than the frame: the rest is padding.
        let mut f = V3_IPV6_FRAME.to_vec();
        f.extend_from_slice(&[0xee; 10]);
        assert_eq!(parse_frame(&f).unwrap().payload, 54..78);
        assert_eq!(decode(&f), Ok(v3_repr(VIP6.into())));
    }

    #[test]
    fn group_addresses() {
        assert_eq!(ip4().dst(), IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(ip6().dst(), IpAddr::V6(VRRP_GROUP_V6));
    }

    #[test]
    fn no_panic_on_truncations_and_mutations() {
        let mut rng = XorShift::new(0x5eed_0003);
        for frame in ALL_FRAMES {
            for n in 0..=frame.len() {
                let _ = parse_frame(&frame[..n]);
            }
            for _ in 0..5000 {
                let m = rng.mutate(frame);
                if let Ok(p) = parse_frame(&m) {
                    assert!(p.payload.end <= m.len());
                    let _ = Repr::parse_bytes(p.payload_bytes(&m), &p.parse_context());
                }
            }
        }
        // Random VLAN stacks in front of real frames.
        for _ in 0..2000 {
            let mut f = V2_FRAME[..12].to_vec();
            for _ in 0..rng.below(4) {
                let tpid = [TPID_8021Q, TPID_8021AD, TPID_QINQ_LEGACY][rng.below(3)];
                f.extend_from_slice(&tpid.to_be_bytes());
                f.extend_from_slice(&(rng.next_u64() as u16).to_be_bytes());
            }
            f.extend_from_slice(&V2_FRAME[12..]);
            let cut = rng.below(f.len() + 1);
            let _ = parse_frame(&f[..cut]);
        }
    }
}
