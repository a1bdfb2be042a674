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

/// Reads the XDP program's debug log (aya-log records: one line per discarded advert,
/// rate-limited in the kernel) on a thread of its own and hands it to the `log` facade,
/// which `tracing` picks up (target `vrrp_xdp`). Stops when dropped.
pub(super) struct LogPump {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogPump {
    /// Starts reading the `AYA_LOGS` ring buffer of `ebpf`.
    pub(super) fn start(ebpf: &mut aya::Ebpf) -> Result<LogPump, DataplaneError> {
        use std::os::fd::AsRawFd;
        let mut logger = aya_log::EbpfLogger::init(ebpf).map_err(|e| map_err("AYA_LOGS", e))?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("xdp-log".into())
            .spawn(move || {
                let fd = logger.as_raw_fd();
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; the fd lives as long as `logger`.
                    let n = unsafe { libc::poll(&mut pfd, 1, 200) };
                    if n > 0 {
                        logger.flush();
                    }
                }
                logger.flush();
            })
            .map_err(|e| map_err("AYA_LOGS", e))?;
        Ok(LogPump {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LogPump {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
