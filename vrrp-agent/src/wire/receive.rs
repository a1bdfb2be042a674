//! The XDP program's receive path, in user space: the same checks in the same order over a
//! whole Ethernet frame, given the instance tables the agent writes into the kernel.
//!
//! The XDP program (vrrp-ebpf) and this module are two implementations of one rule set
//! (RFC 9568 §7.1 / RFC 3768 §7.1 plus this project's additions: destination, IPv4 header,
//! owner conflict, unicast peers). The differential fuzz target `xdp-vs-agent` runs every
//! input through both and requires the same verdict, the same discard reason and, for a
//! valid advert, the same record; a disagreement is a bug in one of them.
//!
//! Not modelled: VLAN devices' subnets (`VRRP_VLAN_NETS`; the table here has none) and the
//! peer table's eviction and events (the record's fields are what is compared).
use std::collections::{BTreeMap, BTreeSet};

use vrrp_common::{
    AddrKey, Discard, InstanceConfig, InstanceKey, PeerKey, UnicastPeer, AUTH_PASS, CFG_CONSUME,
    CFG_OWNER, CFG_UNICAST, CFG_UNICAST_TTL, FAMILY_IPV4, FAMILY_IPV6, IPPROTO_VRRP, MAX_VRRP_LEN,
};

use super::checksum;
use super::frame::{ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPV4_HEADER_LEN};
use super::frame::{IPV6_HEADER_LEN, TPID_8021AD, TPID_8021Q};
use super::Endpoints;

/// Length of the fixed VRRP header.
const VRRP_HEADER_LEN: usize = 8;
/// Length of the v2 authentication data.
const V2_AUTH_LEN: usize = 8;

/// What the kernel knows when an advert arrives: the maps the agent writes.
#[derive(Clone, Debug, Default)]
pub struct ReceiveTable {
    /// `VRRP_INSTANCES`.
    pub instances: BTreeMap<InstanceKey, InstanceConfig>,
    /// `VRRP_UNICAST`: the allowed unicast sources with their TTL ranges.
    pub unicast: BTreeMap<PeerKey, UnicastPeer>,
    /// `VRRP_LOCAL_ADDRS`: this host's addresses (destinations of unicast adverts).
    pub local_addrs: BTreeSet<AddrKey>,
    /// `VRRP_IFACES`' `IFACE_DROP_UNKNOWN` for the receiving interface.
    pub drop_unknown: bool,
}

/// What the program does with the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// XDP_PASS: on to the IP stack.
    Pass,
    /// XDP_DROP.
    Drop,
}

/// What a valid advert leaves in its source's peer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The instance and the source address.
    pub peer: PeerKey,
    /// Advertised priority.
    pub priority: u8,
    /// VRRP version.
    pub version: u8,
    /// Count of addresses.
    pub addr_count: u8,
    /// Advertised interval in centiseconds (v2: seconds * 100).
    pub adver_int_cs: u16,
    /// Ethernet source address.
    pub src_mac: [u8; 6],
}

/// How the frame was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not VRRP (or VLAN-tagged, left to the VLAN device): untouched, not counted.
    NotVrrp,
    /// Discarded (counted) for `reason`, under `key` (VRID 0 when the VRRP header was not
    /// trusted).
    Discarded {
        /// The instance key the discard is counted under.
        key: InstanceKey,
        /// Why.
        reason: Discard,
    },
    /// A valid advert, recorded.
    Valid(Record),
}

/// The verdict and outcome of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// What the program returns.
    pub verdict: Verdict,
    /// Why.
    pub outcome: Outcome,
}

/// Judges `frame` received on `ifindex` as the XDP program does.
pub fn judge(frame: &[u8], ifindex: u32, table: &ReceiveTable) -> Judgement {
    let pass = Judgement {
        verdict: Verdict::Pass,
        outcome: Outcome::NotVrrp,
    };
    let Some(ethertype) = be16(frame, 12) else {
        return pass;
    };
    // A tag still in the frame: the VLAN device's own hook judges it.
    if ethertype == TPID_8021Q || ethertype == TPID_8021AD {
        return pass;
    }
    let o = ETHERNET_HEADER_LEN;
    let (family, proto_at) = match ethertype {
        ETHERTYPE_IPV4 => (FAMILY_IPV4, o + 9),
        ETHERTYPE_IPV6 => (FAMILY_IPV6, o + 6),
        _ => return pass,
    };
    if frame.get(proto_at) != Some(&IPPROTO_VRRP) {
        return pass;
    }
    let unknown = |vrid: u8, reason: Discard| {
        discard(table, None, InstanceKey::new(ifindex, vrid, family), reason)
    };
    let ip = match family {
        FAMILY_IPV4 => ipv4(frame, o),
        _ => ipv6(frame, o),
    };
    let ip = match ip {
        Ok(ip) => ip,
        Err(reason) => return unknown(0, reason),
    };
    let Some(hdr) = frame.get(ip.vrrp_off..ip.vrrp_off + VRRP_HEADER_LEN) else {
        return unknown(0, Discard::Truncated);
    };
    if ip.vrrp_len < VRRP_HEADER_LEN {
        return unknown(0, Discard::Truncated);
    }
    let key = InstanceKey::new(ifindex, hdr[1], family);
    let cfg = table.instances.get(&key);
    match check(frame, table, &ip, hdr, key, cfg) {
        Ok(record) => Judgement {
            verdict: if cfg.is_some_and(|c| c.flags & CFG_CONSUME != 0) {
                Verdict::Drop
            } else {
                Verdict::Pass
            },
            outcome: Outcome::Valid(record),
        },
        Err(reason) => discard(table, cfg, key, reason),
    }
}

/// A discard: dropped when an instance is configured (except [`Discard::Destination`]: not
/// ours), else passed unless the interface drops unknown VRIDs.
fn discard(
    table: &ReceiveTable,
    cfg: Option<&InstanceConfig>,
    key: InstanceKey,
    reason: Discard,
) -> Judgement {
    let drop = match cfg {
        Some(_) => reason != Discard::Destination,
        None => table.drop_unknown,
    };
    Judgement {
        verdict: if drop { Verdict::Drop } else { Verdict::Pass },
        outcome: Outcome::Discarded { key, reason },
    }
}

/// The IP header's facts the checks need.
struct Ip {
    endpoints: Endpoints,
    ttl: u8,
    multicast: bool,
    vrrp_off: usize,
    vrrp_len: usize,
}

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?))
}

fn ipv4(frame: &[u8], o: usize) -> Result<Ip, Discard> {
    let h = frame
        .get(o..o + IPV4_HEADER_LEN)
        .ok_or(Discard::Truncated)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
    if h[0] >> 4 != 4 || ihl < IPV4_HEADER_LEN || total < ihl || fragment {
        return Err(Discard::IpHeader);
    }
    if o + total > frame.len() {
        return Err(Discard::Truncated);
    }
    if checksum::ipv4_header(&frame[o..o + ihl]) != 0 {
        return Err(Discard::IpHeader);
    }
    let src: [u8; 4] = h[12..16].try_into().map_err(|_| Discard::Truncated)?;
    let dst: [u8; 4] = h[16..20].try_into().map_err(|_| Discard::Truncated)?;
    Ok(Ip {
        endpoints: Endpoints::V4 {
            src: src.into(),
            dst: dst.into(),
        },
        ttl: h[8],
        multicast: dst[0] & 0xf0 == 0xe0,
        vrrp_off: o + ihl,
        vrrp_len: total - ihl,
    })
}

fn ipv6(frame: &[u8], o: usize) -> Result<Ip, Discard> {
    let h = frame
        .get(o..o + IPV6_HEADER_LEN)
        .ok_or(Discard::Truncated)?;
    if h[0] >> 4 != 6 {
        return Err(Discard::IpHeader);
    }
    let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if o + IPV6_HEADER_LEN + payload > frame.len() {
        return Err(Discard::Truncated);
    }
    let src: [u8; 16] = h[8..24].try_into().map_err(|_| Discard::Truncated)?;
    let dst: [u8; 16] = h[24..40].try_into().map_err(|_| Discard::Truncated)?;
    Ok(Ip {
        endpoints: Endpoints::V6 {
            src: src.into(),
            dst: dst.into(),
        },
        ttl: h[7],
        multicast: dst[0] == 0xff,
        vrrp_off: o + IPV6_HEADER_LEN,
        vrrp_len: payload,
    })
}

/// The checks of the XDP program's `check_vrrp`, in its order.
fn check(
    frame: &[u8],
    table: &ReceiveTable,
    ip: &Ip,
    hdr: &[u8],
    key: InstanceKey,
    cfg: Option<&InstanceConfig>,
) -> Result<Record, Discard> {
    let family = key.family;
    let src = crate::runtime::addr_bytes(ip.endpoints.src());
    let dst = crate::runtime::addr_bytes(ip.endpoints.dst());
    if let Some(c) = cfg {
        let to_us = if c.flags & CFG_UNICAST != 0 {
            table.local_addrs.contains(&AddrKey::new(family, dst))
        } else if family == FAMILY_IPV4 && c.group4 != [0; 4] {
            // keepalived's mcast_dst_ip / vrrp_mcast_group4.
            dst[..4] == c.group4
        } else if family == FAMILY_IPV6 && c.group6 != [0; 16] {
            // keepalived's mcast_dst_ip / vrrp_mcast_group6.
            dst == c.group6
        } else {
            ip.endpoints.dst() == ip.endpoints.family().vrrp_group()
        };
        if !to_us {
            return Err(Discard::Destination);
        }
    }
    if family == FAMILY_IPV6 && ip.multicast && !(src[0] == 0xfe && src[1] & 0xc0 == 0x80) {
        return Err(Discard::Source);
    }
    let check_ttl = ip.multicast || cfg.is_some_and(|c| c.flags & CFG_UNICAST_TTL != 0);
    if check_ttl && ip.ttl != 255 {
        return Err(Discard::Ttl);
    }
    let version = hdr[0] >> 4;
    let version_ok = match cfg {
        Some(c) => version == c.version,
        None => version == 2 || version == 3,
    };
    if !version_ok || (version == 2 && family == FAMILY_IPV6) {
        return Err(Discard::Version);
    }
    if hdr[0] & 0x0f != 1 {
        return Err(Discard::Type);
    }
    let count = usize::from(hdr[3]);
    let addr_len = if family == FAMILY_IPV4 { 4 } else { 16 };
    let auth_len = if version == 2 { V2_AUTH_LEN } else { 0 };
    let msg_len = VRRP_HEADER_LEN + count * addr_len + auth_len;
    // A count of 0 is valid (keepalived's adverts for an instance without addresses).
    if ip.vrrp_len < msg_len || msg_len > MAX_VRRP_LEN {
        return Err(Discard::Length);
    }
    let msg = frame
        .get(ip.vrrp_off..ip.vrrp_off + msg_len)
        .ok_or(Discard::Truncated)?;
    if checksum::verify(version, &ip.endpoints, msg).is_none() {
        return Err(Discard::Checksum);
    }
    let Some(cfg) = cfg else {
        return Err(Discard::UnknownVrid);
    };
    let priority = hdr[2];
    let adver_int_cs = if version == 2 {
        if hdr[4] != cfg.auth_type {
            return Err(Discard::AuthType);
        }
        if cfg.auth_type == AUTH_PASS {
            let at = VRRP_HEADER_LEN + count * 4;
            if msg[at..at + V2_AUTH_LEN] != cfg.auth_pass {
                return Err(Discard::AuthPass);
            }
        }
        let cs = u16::from(hdr[5]) * 100;
        if cs != cfg.adver_int_cs {
            return Err(Discard::Interval);
        }
        cs
    } else {
        u16::from_be_bytes([hdr[4] & 0x0f, hdr[5]])
    };
    let peer = PeerKey::new(key, src);
    if cfg.flags & CFG_UNICAST != 0 {
        let Some(p) = table.unicast.get(&peer) else {
            return Err(Discard::UnicastSrc);
        };
        if ip.ttl < p.min_ttl || ip.ttl > p.max_ttl {
            return Err(Discard::Ttl);
        }
    }
    if priority == 255 && cfg.flags & CFG_OWNER != 0 {
        return Err(Discard::OwnerConflict);
    }
    let mut src_mac = [0; 6];
    src_mac.copy_from_slice(&frame[6..12]);
    Ok(Record {
        peer,
        priority,
        version,
        addr_count: hdr[3],
        adver_int_cs,
        src_mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures::{V2_FRAME, V3_IPV4_FRAME, V3_IPV6_FRAME};

    const LO: u32 = 1;

    fn table() -> ReceiveTable {
        let mut t = ReceiveTable::default();
        let mut pass = [0; 8];
        pass.copy_from_slice(b"secret12");
        t.instances.insert(
            InstanceKey::new(LO, 51, FAMILY_IPV4),
            InstanceConfig {
                version: 2,
                auth_type: AUTH_PASS,
                adver_int_cs: 100,
                auth_pass: pass,
                slot: 1,
                ..Default::default()
            },
        );
        t.instances.insert(
            InstanceKey::new(LO, 51, FAMILY_IPV6),
            InstanceConfig {
                version: 3,
                adver_int_cs: 10,
                slot: 2,
                ..Default::default()
            },
        );
        t
    }

    #[test]
    fn keepalived_adverts_are_valid_or_unknown() {
        let t = table();
        let j = judge(&V2_FRAME, LO, &t);
        assert_eq!(j.verdict, Verdict::Pass);
        let Outcome::Valid(r) = j.outcome else {
            panic!("{j:?}")
        };
        assert_eq!((r.priority, r.version, r.adver_int_cs), (100, 2, 100));
        // VRID 51 IPv4 is configured as v2: the v3 advert has the wrong version.
        let j = judge(&V3_IPV4_FRAME, LO, &t);
        assert_eq!(j.verdict, Verdict::Drop);
        assert!(matches!(
            j.outcome,
            Outcome::Discarded {
                reason: Discard::Version,
                ..
            }
        ));
        let j = judge(&V3_IPV6_FRAME, LO, &t);
        assert!(
            matches!(j.outcome, Outcome::Valid(r) if r.adver_int_cs == 10),
            "{j:?}"
        );
    }

    #[test]
    fn unknown_vrid_and_bad_checksum() {
        let t = table();
        let mut f = V2_FRAME;
        f[35] = 52; // VRID 52: not configured; the checksum no longer matches either
        let j = judge(&f, LO, &t);
        assert_eq!(j.verdict, Verdict::Pass);
        assert!(matches!(
            j.outcome,
            Outcome::Discarded {
                reason: Discard::Checksum,
                ..
            }
        ));
        let mut t2 = t.clone();
        t2.drop_unknown = true;
        assert_eq!(judge(&f, LO, &t2).verdict, Verdict::Drop);
        // Not VRRP at all.
        let mut f = V2_FRAME;
        f[23] = 17;
        assert_eq!(judge(&f, LO, &t).outcome, Outcome::NotVrrp);
        // Cut inside the IP header.
        let j = judge(&V2_FRAME[..30], LO, &t);
        assert!(matches!(
            j.outcome,
            Outcome::Discarded {
                reason: Discard::Truncated,
                ..
            }
        ));
    }
}
