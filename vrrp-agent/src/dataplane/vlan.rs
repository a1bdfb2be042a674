//! VLAN devices and bonds: the XDP mode each kind of interface gets, and what the program
//! must know about the VLAN devices on the interfaces it is attached to.
//!
//! Where generic (SKB-mode) XDP runs (`__netif_receive_skb_core` in net/core/dev.c): on the
//! receiving device first; then, for a frame with a VLAN tag, after `vlan_do_receive` again
//! on the VLAN device (`another_round`, the tag removed, `ingress_ifindex` the VLAN's); for a
//! bond slave, after the bond's `rx_handler` again on the bond. So an instance on a VLAN
//! device or a bond is served by attaching there, in SKB mode:
//! - a VLAN device has no native XDP (`ndo_bpf`), only generic;
//! - native XDP on a bond is installed on its slaves and runs in their drivers, so the
//!   program would see the slave's ifindex and key adverts to the wrong interface.
//!
//! On the parent, a tag still in the frame makes the program pass the advert untouched (the
//! VLAN device's hook keys it). A tag the NIC stripped (RX VLAN offload), or a sending veth
//! carried in `skb->vlan_tci` (veth has `NETIF_F_HW_VLAN_CTAG_TX`, so a VLAN device on it
//! sends with the tag in metadata, and `veth_xmit` hands the skb over as is), is invisible to
//! XDP on the parent (generic XDP builds its buffer from the skb's data; only the
//! `bpf_xdp_metadata_rx_vlan_tag` kfunc reads the offloaded tag, in native mode on 6.8+
//! drivers). For that case the agent writes `VRRP_VLAN_NETS`:
//! - one entry per attached interface that has VLAN devices (value 0): the program never
//!   drops an advert there, since it may be a VLAN's;
//! - one entry per IPv4 subnet of each of those VLAN devices (value: the VLAN's ifindex):
//!   an advert from such a source is passed without being recorded for the parent, so a
//!   VLAN advert with the same VRID as a parent instance does not count for the parent.
//!
//! What stays ambiguous: an IPv6 advert (its source is link-local, the same prefix on every
//! VLAN) with an offloaded tag and the same VRID as an IPv6 instance on the parent, and a
//! VLAN device without an IPv4 address. `vrrp-agent run` warns about such configurations.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr},
};

use aya::maps::lpm_trie::{Key, LpmTrie};
use vrrp_common::vlan::{vlan_net_data, VlanNetData, VLAN_NETS, VLAN_PARENT_BITS};

use super::{map_err, Dataplane, DataplaneError, XdpModeChoice};
use crate::netlink::{AddrInfo, LinkInfo};

/// One entry of `VRRP_VLAN_NETS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct VlanNet {
    /// The attached interface the VLAN device sits on.
    pub parent: u32,
    /// An IPv4 subnet of the VLAN device (network address, prefix length); `None` for the
    /// parent's own entry.
    pub subnet: Option<(Ipv4Addr, u8)>,
    /// The VLAN device (0 for the parent's own entry).
    pub vlan: u32,
}

impl VlanNet {
    fn key(&self) -> Key<VlanNetData> {
        match self.subnet {
            None => Key::new(VLAN_PARENT_BITS, vlan_net_data(self.parent, [0; 4])),
            Some((net, len)) => Key::new(
                VLAN_PARENT_BITS + u32::from(len),
                vlan_net_data(self.parent, net.octets()),
            ),
        }
    }
}

/// The mode to attach to an interface of `kind` (`IFLA_INFO_KIND`) in, and a warning when
/// that is not what the user asked for.
pub fn attach_choice(
    kind: Option<&str>,
    asked: XdpModeChoice,
) -> (XdpModeChoice, Option<&'static str>) {
    match (kind, asked) {
        // Native XDP on a veth makes the kernel copy every received packet into a page-pool
        // buffer and adds a NAPI/GRO pass (12% more CPU for the sender in bench-cpu).
        (Some("veth"), XdpModeChoice::Auto) => (XdpModeChoice::Skb, None),
        (Some("vlan"), XdpModeChoice::Auto) => (XdpModeChoice::Skb, None),
        (Some("vlan"), XdpModeChoice::Native) => (
            XdpModeChoice::Skb,
            Some("a VLAN device has no native XDP: using SKB mode"),
        ),
        (Some("bond"), XdpModeChoice::Auto) => (XdpModeChoice::Skb, None),
        (Some("bond"), XdpModeChoice::Native) => (
            XdpModeChoice::Skb,
            Some(
                "native XDP on a bond runs on its slaves and sees their ifindex, not the bond's: using SKB mode",
            ),
        ),
        (_, asked) => (asked, None),
    }
}

/// The entries of `VRRP_VLAN_NETS` for the attached interfaces `attached`, from every link
/// of the namespace and the addresses of each (by ifindex).
pub fn plan(
    attached: &BTreeSet<u32>,
    links: &[LinkInfo],
    addrs: &BTreeMap<u32, Vec<AddrInfo>>,
) -> BTreeSet<VlanNet> {
    let mut out = BTreeSet::new();
    for l in links {
        let (Some("vlan"), Some(parent)) = (l.kind.as_deref(), l.lower) else {
            continue;
        };
        if !attached.contains(&parent) {
            continue;
        }
        out.insert(VlanNet {
            parent,
            subnet: None,
            vlan: 0,
        });
        for a in addrs.get(&l.index).map(Vec::as_slice).unwrap_or_default() {
            let IpAddr::V4(v4) = a.addr else { continue };
            let len = a.prefix_len.min(32);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            out.insert(VlanNet {
                parent,
                subnet: Some((Ipv4Addr::from(u32::from(v4) & mask), len)),
                vlan: l.index,
            });
        }
    }
    out
}

/// VLAN devices on attached interfaces that have no IPv4 address: an advert of theirs whose
/// tag was offloaded cannot be told from the parent's own (see the module comment).
pub fn unaddressed<'a>(
    attached: &BTreeSet<u32>,
    links: &'a [LinkInfo],
    nets: &BTreeSet<VlanNet>,
) -> Vec<&'a LinkInfo> {
    links
        .iter()
        .filter(|l| l.kind.as_deref() == Some("vlan"))
        .filter(|l| l.lower.is_some_and(|p| attached.contains(&p)))
        .filter(|l| !nets.iter().any(|n| n.vlan == l.index))
        .collect()
}

impl Dataplane {
    /// Makes `VRRP_VLAN_NETS` hold exactly `nets`: stale entries are removed, new ones
    /// added. Returns how many entries changed.
    pub fn set_vlan_nets(&mut self, nets: &BTreeSet<VlanNet>) -> Result<usize, DataplaneError> {
        let mut trie: LpmTrie<_, VlanNetData, u32> =
            LpmTrie::try_from(self.map_mut(VLAN_NETS)?).map_err(|e| map_err(VLAN_NETS, e))?;
        let want: BTreeMap<(u32, VlanNetData), u32> = nets
            .iter()
            .map(|n| {
                let k = n.key();
                ((k.prefix_len(), k.data()), n.vlan)
            })
            .collect();
        let have: Vec<Key<VlanNetData>> = trie.keys().filter_map(Result::ok).collect();
        let mut changed = 0;
        for k in have {
            if !want.contains_key(&(k.prefix_len(), k.data())) {
                trie.remove(&k).map_err(|e| map_err(VLAN_NETS, e))?;
                changed += 1;
            }
        }
        for (&(len, data), &vlan) in &want {
            let key = Key::new(len, data);
            if trie.get(&key, 0).ok() != Some(vlan) {
                trie.insert(&key, vlan, 0)
                    .map_err(|e| map_err(VLAN_NETS, e))?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MacAddr;

    fn link(index: u32, kind: Option<&str>, lower: Option<u32>) -> LinkInfo {
        LinkInfo {
            index,
            name: format!("if{index}"),
            mac: MacAddr::ZERO,
            up: true,
            running: true,
            mtu: 1500,
            kind: kind.map(str::to_owned),
            lower,
            vlan_id: kind.filter(|k| *k == "vlan").map(|_| 100),
            master: None,
        }
    }

    fn addr(a: &str, len: u8) -> AddrInfo {
        AddrInfo {
            addr: a.parse().unwrap(),
            prefix_len: len,
            label: None,
            secondary: false,
            tentative: false,
            scope: 0,
            proto: 0,
        }
    }

    #[test]
    fn vlan_on_attached_parent_gets_parent_entry_and_subnets() {
        let links = [
            link(2, Some("veth"), None),
            link(3, Some("vlan"), Some(2)),
            link(4, Some("vlan"), Some(9)),
        ];
        let addrs = BTreeMap::from([
            (3, vec![addr("198.18.5.7", 24), addr("2001:db8::1", 64)]),
            (4, vec![addr("198.18.6.1", 24)]),
        ]);
        let nets = plan(&BTreeSet::from([2]), &links, &addrs);
        let want = BTreeSet::from([
            VlanNet {
                parent: 2,
                subnet: None,
                vlan: 0,
            },
            VlanNet {
                parent: 2,
                subnet: Some((Ipv4Addr::new(198, 18, 5, 0), 24)),
                vlan: 3,
            },
        ]);
        assert_eq!(nets, want);
        assert!(unaddressed(&BTreeSet::from([2]), &links, &nets).is_empty());
    }

    #[test]
    fn vlan_without_ipv4_is_reported() {
        let links = [link(2, None, None), link(3, Some("vlan"), Some(2))];
        let nets = plan(&BTreeSet::from([2]), &links, &BTreeMap::new());
        assert_eq!(nets.len(), 1, "the parent entry only");
        let u = unaddressed(&BTreeSet::from([2]), &links, &nets);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].index, 3);
    }

    #[test]
    fn keys_match_the_program() {
        let n = VlanNet {
            parent: 0x0102_0304,
            subnet: Some((Ipv4Addr::new(198, 18, 0, 0), 15)),
            vlan: 7,
        };
        let k = n.key();
        assert_eq!(k.prefix_len(), 47);
        assert_eq!(k.data(), [1, 2, 3, 4, 198, 18, 0, 0]);
        let p = VlanNet {
            parent: 5,
            subnet: None,
            vlan: 0,
        };
        assert_eq!(p.key().prefix_len(), VLAN_PARENT_BITS);
    }

    #[test]
    fn modes_per_kind() {
        use XdpModeChoice::*;
        assert_eq!(attach_choice(Some("veth"), Auto), (Skb, None));
        assert_eq!(attach_choice(Some("vlan"), Auto), (Skb, None));
        assert_eq!(attach_choice(Some("bond"), Auto), (Skb, None));
        assert_eq!(attach_choice(Some("bond"), Native).0, Skb);
        assert!(attach_choice(Some("bond"), Native).1.is_some());
        assert_eq!(attach_choice(None, Auto), (Auto, None));
        assert_eq!(attach_choice(None, Native), (Native, None));
        assert_eq!(attach_choice(Some("veth"), Native), (Native, None));
    }
}
