//! The no_accept filter's maps (RFC 9568 §6.4.3): which interfaces filter
//! (`IFACE_NO_ACCEPT` in `VRRP_IFACES`, and their bit in `VRRP_NO_ACCEPT_IFACES`), and the
//! VIPs of the instances that are Master in no_accept mode (`VRRP_VIPS`).
use aya::maps::{Array, HashMap, MapData, MapError};
use vrrp_common::{
    map_names, no_accept_bit, AddrKey, IfaceConfig, InstanceKey, IFACE_NO_ACCEPT, NO_ACCEPT_WORDS,
};

use super::{map_err, Dataplane, DataplaneError};

impl Dataplane {
    /// Marks interface `ifindex` as filtering (`on`) or not: its `IFACE_NO_ACCEPT` bit in
    /// `VRRP_IFACES` (other settings kept), and its bit in `VRRP_NO_ACCEPT_IFACES` (set while
    /// any marked interface shares it).
    pub fn set_no_accept_iface(&mut self, ifindex: u32, on: bool) -> Result<(), DataplaneError> {
        let mut cfg = self.iface_config(ifindex)?.unwrap_or_default();
        if on {
            cfg.flags |= IFACE_NO_ACCEPT;
        } else {
            cfg.flags &= !IFACE_NO_ACCEPT;
        }
        if on || cfg != IfaceConfig::default() {
            self.set_iface_config(ifindex, cfg)?;
        } else {
            self.remove_iface_config(ifindex)?;
        }
        if on {
            self.no_accept_ifaces.insert(ifindex);
        } else {
            self.no_accept_ifaces.remove(&ifindex);
        }
        let (word, _) = no_accept_bit(ifindex);
        let bits = self
            .no_accept_ifaces
            .iter()
            .map(|i| no_accept_bit(*i))
            .filter(|(w, _)| *w == word)
            .fold(0u64, |acc, (_, m)| acc | m);
        let name = map_names::NO_ACCEPT_IFACES;
        let mut map: Array<&mut MapData, u64> =
            Array::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        debug_assert!(word < NO_ACCEPT_WORDS);
        map.set(word, bits, 0).map_err(|e| map_err(name, e))
    }

    /// The interfaces marked with [`Dataplane::set_no_accept_iface`].
    pub fn no_accept_ifaces(&self) -> impl Iterator<Item = u32> + '_ {
        self.no_accept_ifaces.iter().copied()
    }

    /// Puts `addrs` in the VIP table under the instance `key` (its drops are counted in its
    /// counters). The instance must be configured ([`Dataplane::set_instance`]).
    pub fn add_no_accept_vips(
        &mut self,
        key: &InstanceKey,
        addrs: &[AddrKey],
    ) -> Result<(), DataplaneError> {
        let slot = self.slot(key).ok_or_else(|| {
            map_err(
                map_names::VIPS,
                format!("instance {key:?} is not configured"),
            )
        })?;
        let name = map_names::VIPS;
        let mut map: HashMap<&mut MapData, AddrKey, u32> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        for a in addrs {
            map.insert(*a, u32::from(slot), 0)
                .map_err(|e| map_err(name, e))?;
        }
        Ok(())
    }

    /// Takes `addrs` out of the VIP table (those absent are skipped). An address another
    /// instance put there under its own slot stays.
    pub fn remove_no_accept_vips(
        &mut self,
        key: &InstanceKey,
        addrs: &[AddrKey],
    ) -> Result<(), DataplaneError> {
        let slot = self.slot(key).map(u32::from);
        let name = map_names::VIPS;
        let mut map: HashMap<&mut MapData, AddrKey, u32> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        for a in addrs {
            match map.get(a, 0) {
                Ok(s) if slot.is_some_and(|own| own != s) => continue,
                Ok(_) => {}
                Err(MapError::KeyNotFound) => continue,
                Err(e) => return Err(map_err(name, e)),
            }
            match map.remove(a) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(name, e)),
            }
        }
        Ok(())
    }

    /// Every entry of the VIP table: address -> instance slot.
    pub fn no_accept_vips(&self) -> Result<Vec<(AddrKey, u32)>, DataplaneError> {
        let name = map_names::VIPS;
        let map: HashMap<&MapData, AddrKey, u32> =
            HashMap::try_from(self.map(name)?).map_err(|e| map_err(name, e))?;
        map.iter()
            .map(|r| r.map_err(|e| map_err(name, e)))
            .collect()
    }
}
