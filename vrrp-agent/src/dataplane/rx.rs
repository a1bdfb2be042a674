//! Receive-path settings of the XDP program beyond one instance's: per-interface settings
//! (`VRRP_IFACES`), this host's addresses that unicast adverts may be sent to
//! (`VRRP_LOCAL_ADDRS`), and unicast peers with their TTL range (`VRRP_UNICAST`).
use std::collections::BTreeSet;

use aya::maps::{HashMap, MapData, MapError};
use vrrp_common::{map_names, AddrKey, IfaceConfig, PeerKey, UnicastPeer};

use super::{map_err, Dataplane, DataplaneError};

/// `VRRP_IFACES` key of the settings that apply to every interface without its own entry.
pub const ALL_IFACES: u32 = 0;

impl Dataplane {
    /// Writes the settings of interface `ifindex` ([`ALL_IFACES`]: the default of every
    /// interface without an entry of its own).
    pub fn set_iface_config(
        &mut self,
        ifindex: u32,
        cfg: IfaceConfig,
    ) -> Result<(), DataplaneError> {
        let name = map_names::IFACES;
        let mut map: HashMap<&mut MapData, u32, IfaceConfig> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        map.insert(ifindex, cfg, 0).map_err(|e| map_err(name, e))
    }

    /// The settings written for `ifindex`, if any (no fallback to [`ALL_IFACES`]).
    pub fn iface_config(&self, ifindex: u32) -> Result<Option<IfaceConfig>, DataplaneError> {
        let name = map_names::IFACES;
        let map: HashMap<&MapData, u32, IfaceConfig> =
            HashMap::try_from(self.map(name)?).map_err(|e| map_err(name, e))?;
        match map.get(&ifindex, 0) {
            Ok(c) => Ok(Some(c)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(name, e)),
        }
    }

    /// Removes the settings of `ifindex` (it then follows [`ALL_IFACES`]).
    pub fn remove_iface_config(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        let name = map_names::IFACES;
        let mut map: HashMap<&mut MapData, u32, IfaceConfig> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        match map.remove(&ifindex) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(name, e)),
        }
    }

    /// Makes `VRRP_LOCAL_ADDRS` hold exactly `addrs`: the addresses unicast adverts may be
    /// sent to. Entries not in `addrs` are removed.
    pub fn set_local_addrs(&mut self, addrs: &BTreeSet<AddrKey>) -> Result<(), DataplaneError> {
        let name = map_names::LOCAL_ADDRS;
        let mut map: HashMap<&mut MapData, AddrKey, u32> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        let old: Vec<AddrKey> = map.keys().filter_map(Result::ok).collect();
        for k in old.iter().filter(|k| !addrs.contains(k)) {
            match map.remove(k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(name, e)),
            }
        }
        for k in addrs {
            map.insert(*k, 1, 0).map_err(|e| map_err(name, e))?;
        }
        Ok(())
    }

    /// Allows adverts from one unicast peer of an instance configured with `CFG_UNICAST`,
    /// when their TTL / hop limit is within the peer's range.
    pub fn allow_unicast_peer_ttl(
        &mut self,
        key: PeerKey,
        peer: UnicastPeer,
    ) -> Result<(), DataplaneError> {
        let name = map_names::UNICAST;
        let mut map: HashMap<&mut MapData, PeerKey, UnicastPeer> =
            HashMap::try_from(self.map_mut(name)?).map_err(|e| map_err(name, e))?;
        map.insert(key, peer, 0).map_err(|e| map_err(name, e))
    }
}
