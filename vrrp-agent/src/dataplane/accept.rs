//! The no_accept filter's maps (RFC 9568 §6.4.3): which interfaces filter
//! (`IFACE_NO_ACCEPT` in `VRRP_IFACES`, and their bit in `VRRP_NO_ACCEPT_IFACES`), and the
//! VIPs of the instances that are Master in no_accept mode (`VRRP_VIPS`, each entry naming
//! the instance's slot, whose `no_accept` counter counts the drops).
use std::collections::BTreeSet;

use aya::maps::{Array, HashMap, MapData, MapError};
use vrrp_common::{map_names, no_accept_bit, AddrKey, InstanceKey, IFACE_NO_ACCEPT};

use super::{map_err, Dataplane, DataplaneError, ALL_IFACES};

impl Dataplane {
    /// Makes exactly the interfaces in `ifindexes` filter: their `IFACE_NO_ACCEPT` bit in
    /// `VRRP_IFACES` (other settings kept, those of the default entry for an interface
    /// without one; an entry left equal to the default entry is removed) and
    /// their bits in `VRRP_NO_ACCEPT_IFACES`. The bitmap is written before a flag is set and
    /// after one is cleared, so that no marked interface is ever skipped.
    pub fn set_no_accept_ifaces(
        &mut self,
        ifindexes: &BTreeSet<u32>,
    ) -> Result<(), DataplaneError> {
        let old = std::mem::take(&mut self.no_accept_ifaces);
        let union: BTreeSet<u32> = old.union(ifindexes).copied().collect();
        self.write_no_accept_bitmap(&union)?;
        // An interface without an entry of its own follows the default entry (key 0): its
        // new entry starts from the default's settings, and goes again when it has nothing
        // else.
        let default = self.iface_config(ALL_IFACES)?.unwrap_or_default();
        for &ifindex in ifindexes.difference(&old) {
            let mut cfg = self.iface_config(ifindex)?.unwrap_or(default);
            cfg.flags |= IFACE_NO_ACCEPT;
            self.set_iface_config(ifindex, cfg)?;
        }
        for &ifindex in old.difference(ifindexes) {
            if let Some(mut cfg) = self.iface_config(ifindex)? {
                cfg.flags &= !IFACE_NO_ACCEPT;
                if cfg == default {
                    self.remove_iface_config(ifindex)?;
                } else {
                    self.set_iface_config(ifindex, cfg)?;
                }
            }
        }
        self.no_accept_ifaces = ifindexes.clone();
        self.write_no_accept_bitmap(ifindexes)
    }

    /// Marks (`on`) or unmarks one interface, keeping the others.
    pub fn set_no_accept_iface(&mut self, ifindex: u32, on: bool) -> Result<(), DataplaneError> {
        let mut set = self.no_accept_ifaces.clone();
        if on {
            set.insert(ifindex);
        } else {
            set.remove(&ifindex);
        }
        self.set_no_accept_ifaces(&set)
    }

    /// The interfaces marked as filtering.
    pub fn no_accept_ifaces(&self) -> &BTreeSet<u32> {
        &self.no_accept_ifaces
    }

    fn write_no_accept_bitmap(&mut self, ifindexes: &BTreeSet<u32>) -> Result<(), DataplaneError> {
        let mut words = [0u64; vrrp_common::NO_ACCEPT_WORDS as usize];
        for &i in ifindexes {
            let (w, m) = no_accept_bit(i);
            words[w as usize] |= m;
        }
        let name = map_names::NO_ACCEPT_IFACES;
        let mut map: Array<&mut MapData, u64> =
            Array::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        for (w, bits) in (0u32..).zip(words) {
            map.set(w, bits, 0).map_err(|e| map_err(name, e))?;
        }
        Ok(())
    }

    /// Makes the VIP table hold exactly `addrs` for instance `key` (a configured instance:
    /// its drops are counted under its slot): entries it had that are not in `addrs` go.
    pub fn set_no_accept_vips(
        &mut self,
        key: &InstanceKey,
        addrs: &[AddrKey],
    ) -> Result<(), DataplaneError> {
        let name = map_names::VIPS;
        let slot = self
            .slot(key)
            .ok_or_else(|| map_err(name, format!("instance {key:?} is not configured")))?;
        let new: BTreeSet<AddrKey> = addrs.iter().copied().collect();
        let old = self.no_accept_vips.remove(key).unwrap_or_default();
        let gone: Vec<AddrKey> = old.difference(&new).copied().collect();
        let mut map: HashMap<&mut MapData, AddrKey, u32> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        for a in &new {
            map.insert(*a, u32::from(slot), 0)
                .map_err(|e| map_err(name, e))?;
        }
        if !new.is_empty() {
            self.no_accept_vips.insert(*key, new);
        }
        self.remove_vip_entries(&gone, u32::from(slot))
    }

    /// Takes every VIP of instance `key` out of the table (it left Master, or stops). No
    /// syscall when it has none.
    pub fn clear_no_accept_vips(&mut self, key: &InstanceKey) -> Result<(), DataplaneError> {
        let Some(old) = self.no_accept_vips.remove(key) else {
            return Ok(());
        };
        let slot = self.slot(key).map_or(0, u32::from);
        let old: Vec<AddrKey> = old.into_iter().collect();
        self.remove_vip_entries(&old, slot)
    }

    /// Removes `addrs` from the table, except those another instance holds (its own slot).
    fn remove_vip_entries(&mut self, addrs: &[AddrKey], slot: u32) -> Result<(), DataplaneError> {
        let taken: BTreeSet<AddrKey> = self.no_accept_vips.values().flatten().copied().collect();
        let name = map_names::VIPS;
        let mut map: HashMap<&mut MapData, AddrKey, u32> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        for a in addrs.iter().filter(|a| !taken.contains(a)) {
            match map.get(a, 0) {
                Ok(s) if s != slot && slot != 0 => continue,
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

    /// Every entry of the VIP table, as the kernel holds it: address -> instance slot.
    pub fn no_accept_vips(&self) -> Result<Vec<(AddrKey, u32)>, DataplaneError> {
        let name = map_names::VIPS;
        let map: HashMap<&MapData, AddrKey, u32> =
            HashMap::try_from(self.map(name)?).map_err(|e| map_err(name, e))?;
        map.iter()
            .map(|r| r.map_err(|e| map_err(name, e)))
            .collect()
    }
}
