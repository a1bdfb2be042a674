//! VLAN devices on the interfaces XDP is attached to, as the agent tells the XDP program.
//!
//! The program never keys an advert by a VLAN tag. A tag still in the frame means the advert
//! belongs to the VLAN device, whose own hook (generic XDP runs again on the VLAN device
//! after `vlan_do_receive`) keys it by the VLAN device's ifindex; the parent passes it
//! untouched. A tag the NIC (or a sending veth) offloaded into packet metadata is not in the
//! frame, and XDP on the parent cannot read it (only the `bpf_xdp_metadata_rx_vlan_tag`
//! kfunc can, in native mode, on 6.8+ drivers that implement it). The map below lets the
//! parent's program (a) never drop an advert, since it may be a VLAN's, and (b) pass without
//! recording an advert whose IPv4 source lies in the subnet of a VLAN device on it, so that
//! a VLAN advert with the same VRID as a parent instance does not count for the parent.

/// Name of the map: an LPM trie of [`VlanNetData`] -> `u32`. The entry with prefix length
/// [`VLAN_PARENT_BITS`] marks an interface that has VLAN devices (value 0); entries with
/// longer prefixes are the IPv4 subnets of those VLAN devices (value: the VLAN ifindex).
pub const VLAN_NETS: &str = "VRRP_VLAN_NETS";

/// Capacity of [`VLAN_NETS`].
pub const MAX_VLAN_NETS: u32 = 1024;

/// Key data of [`VLAN_NETS`]: the parent's ifindex in big-endian order (so that prefix
/// matching covers it whole), then an IPv4 address.
pub type VlanNetData = [u8; 8];

/// Prefix length of a parent's own entry: its ifindex only.
pub const VLAN_PARENT_BITS: u32 = 32;

/// Prefix length of a lookup by IPv4 source: ifindex and the whole address.
pub const VLAN_NET_BITS: u32 = 64;

/// The key data for `parent` and the IPv4 address `addr`.
pub const fn vlan_net_data(parent: u32, addr: [u8; 4]) -> VlanNetData {
    let p = parent.to_be_bytes();
    [p[0], p[1], p[2], p[3], addr[0], addr[1], addr[2], addr[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_ifindex_then_address() {
        assert_eq!(
            vlan_net_data(0x0102_0304, [198, 18, 0, 1]),
            [1, 2, 3, 4, 198, 18, 0, 1]
        );
    }
}
