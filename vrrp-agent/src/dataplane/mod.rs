//! The XDP data plane: the only module that uses aya.
//!
//! Loads the embedded XDP object, pins its maps under a directory (so `bpftool map dump
//! pinned DIR/VRRP_PEERS` works and several agents can run in separate network namespaces
//! with separate directories), writes instance settings, attaches to interfaces (native
//! first, then SKB mode under `auto`), and gives typed access to what the kernel records.
//! Dropping a [`Dataplane`] detaches every link it made and removes every pin it made.
//! Links are `bpf_link`s owned by this process, so after SIGKILL the kernel detaches them;
//! only the pins survive, and [`Dataplane::load`] removes stale ones before pinning anew.
//!
//! It also arms each Backup's master-down watchdog in the kernel
//! ([`Dataplane::arm_master_down`]): one BPF timer checks the peer records XDP keeps and sends
//! an `EV_MASTER_DOWN` event when a Master has been silent for the armed interval.
//!
//! Before loading, [`probe`] asks the kernel for every feature the object needs: one without
//! fallback that is missing stops the load with the kernel needed; where the watchdog cannot
//! work, [`Dataplane::watchdog_path`] says so and Backups keep their timers in the agent.
pub mod probe;

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use aya::{
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues, RingBuf},
    programs::{xdp::XdpLinkId, ProgramError, TestRun, TestRunOptions, Xdp, XdpMode},
    Ebpf, EbpfLoader,
};
use vrrp_common::{
    map_names, Counters, InstanceConfig, InstanceKey, MasterDownWatch, PeerKey, PeerRecord,
    PeerTable, WatchCommand, WatchTimer, MAX_INSTANCES, WATCH_BAD_COMMAND, WATCH_OK,
    WATCH_TIMER_FAILED,
};

use crate::units::MonoTime;
pub use probe::{KernelSupport, WatchdogPath, FEATURES};

pub mod vlan;

mod accept;
mod rx;
pub use rx::ALL_IFACES;

/// The XDP object built by `cargo xtask build-ebpf`, embedded by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp.bpf.o"));

/// The ring buffer of [`vrrp_common::PeerEvent`]s, as [`Dataplane::take_events`] hands it out.
pub type EventRing = RingBuf<MapData>;

/// Name of the XDP program inside the object.
pub const PROGRAM: &str = "vrrp_xdp";

/// Name of the program that arms master-down watchdogs. It is never attached: the agent runs
/// it with BPF_PROG_TEST_RUN on a [`WatchCommand`].
pub const WATCH_PROGRAM: &str = "vrrp_watch_arm";

/// Default directory the maps are pinned under.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/vrrp";

/// Errors of the data plane, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// The kernel lacks a feature the data plane cannot do without (names the kernel needed).
    #[error("{0}")]
    Kernel(String),
    /// The binary was built without a usable XDP object.
    #[error(
        "the embedded XDP object is empty or invalid ({0}); rebuild after `cargo xtask build-ebpf`"
    )]
    Object(String),
    /// The kernel refused the program (the verifier log is in the message).
    #[error("loading the XDP program failed: {0}")]
    Load(String),
    /// A map the program should have is missing or of the wrong type.
    #[error("map {name}: {reason}")]
    Map {
        /// Map name.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Pinning or unpinning failed.
    #[error("pin {path}: {reason}")]
    Pin {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Attaching to an interface failed in every allowed mode.
    #[error("attaching XDP to {iface}: {reason}")]
    Attach {
        /// The interface.
        iface: String,
        /// What went wrong, per mode tried.
        reason: String,
    },
    /// BPF_PROG_TEST_RUN failed.
    #[error("BPF_PROG_TEST_RUN: {0}")]
    TestRun(String),
    /// Arming or disarming a master-down watchdog failed.
    #[error("master-down watchdog of {key:?}: {reason}")]
    Watch {
        /// The instance.
        key: InstanceKey,
        /// What went wrong.
        reason: String,
    },
}

/// Which XDP mode to attach in (`--xdp-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpModeChoice {
    /// Native (driver) mode, falling back to SKB (generic) mode if the driver refuses.
    #[default]
    Auto,
    /// Native mode only.
    Native,
    /// SKB (generic) mode only.
    Skb,
}

impl FromStr for XdpModeChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "native" | "driver" | "drv" => Ok(Self::Native),
            "skb" | "generic" => Ok(Self::Skb),
            _ => Err(format!(
                "unknown XDP mode `{s}`: expected auto, native or skb"
            )),
        }
    }
}

/// The mode an attachment ended up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachedMode {
    /// Native (driver) XDP.
    Native,
    /// Generic (SKB) XDP.
    Skb,
}

impl fmt::Display for AttachedMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachedMode::Native => "native",
            AttachedMode::Skb => "skb",
        })
    }
}

/// One interface the program is attached to.
#[derive(Debug)]
pub struct Attachment {
    /// Interface name.
    pub iface: String,
    /// Interface index.
    pub ifindex: u32,
    /// Mode in use.
    pub mode: AttachedMode,
    link: XdpLinkId,
}

/// What the master-down watchdog timer measured of itself since the program was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchTimerStats {
    /// Timer runs; each checks every slot that may be armed.
    pub runs: u64,
    /// Time spent inside them.
    pub busy: Duration,
    /// Times the timer could not start itself again from its callback (see
    /// [`vrrp_common::WatchTimer::start_failures`]); 0 on every kernel that works.
    pub start_failures: u32,
}

/// The loaded program and its maps.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: Option<PathBuf>,
    /// The pin directory is ours to remove at exit (created by us, or by a killed run).
    created_dir: bool,
    pinned: Vec<PathBuf>,
    attached: Vec<Attachment>,
    /// Slot of each configured instance in `VRRP_PEERS` / `VRRP_STATS`.
    slots: std::collections::BTreeMap<InstanceKey, u16>,
    /// Interfaces marked `IFACE_NO_ACCEPT` (see `accept`).
    no_accept_ifaces: std::collections::BTreeSet<u32>,
    /// The `VRRP_VIPS` entries of each instance (see `accept`).
    no_accept_vips:
        std::collections::BTreeMap<InstanceKey, std::collections::BTreeSet<vrrp_common::AddrKey>>,
    /// `VRRP_PEERS` mapped read-only into our memory.
    peers_view: PeersView,
    /// Who keeps Backups' Master_Down_Timers on this kernel.
    watchdog: WatchdogPath,
    /// Reader of the XDP program's debug log, when it was loaded with one.
    _log: Option<rx::LogPump>,
}

/// A read-only mapping of the `VRRP_PEERS` array (BPF_F_MMAPABLE): the XDP program writes
/// peer records, the agent reads them with plain loads instead of one syscall each.
struct PeersView {
    ptr: *const PeerTable,
    len: usize,
}

impl PeersView {
    fn map(map: &aya::maps::Map) -> Result<Self, DataplaneError> {
        use std::os::fd::{AsFd, AsRawFd};
        let name = map_names::PEERS;
        let aya::maps::Map::Array(data) = map else {
            return Err(map_err(name, "not an array"));
        };
        // Array elements of an mmapable map are laid out back to back, each rounded up to 8
        // bytes (PeerTable's size already is a multiple of 8), from offset 0.
        const _: () = assert!(std::mem::size_of::<PeerTable>().is_multiple_of(8));
        let bytes = std::mem::size_of::<PeerTable>() * MAX_INSTANCES as usize;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = bytes.div_ceil(page) * page;
        // SAFETY: mapping a BPF array fd read-only and shared; the kernel checks the length
        // and flags. The mapping stays valid until munmap in Drop, even after the fd closes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                data.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(map_err(
                name,
                format!("mmap: {}", std::io::Error::last_os_error()),
            ));
        }
        Ok(PeersView {
            ptr: ptr as *const PeerTable,
            len,
        })
    }

    fn get(&self, slot: u16) -> Option<PeerTable> {
        if u32::from(slot) >= MAX_INSTANCES {
            return None;
        }
        // SAFETY: slot < MAX_INSTANCES, so the element lies inside the mapping. The XDP
        // program may be writing it concurrently; a volatile read copies whatever is there,
        // and every field is a plain integer written whole, so each field is old or new.
        Some(unsafe { std::ptr::read_volatile(self.ptr.add(usize::from(slot))) })
    }
}

// SAFETY: the mapping is read-only shared memory owned by this value; reading it from
// another thread is as safe as from this one.
unsafe impl Send for PeersView {}

impl Drop for PeersView {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

fn map_err(name: &'static str, e: impl fmt::Display) -> DataplaneError {
    DataplaneError::Map {
        name,
        reason: e.to_string(),
    }
}

impl Dataplane {
    /// Checks the kernel's features, loads and verifies the program, and finds out whether
    /// the master-down watchdog works here ([`Dataplane::watchdog_path`]). With `pin_dir`,
    /// removes stale pins of our maps left there by a killed agent, then pins every map there.
    pub fn load(pin_dir: Option<&Path>) -> Result<Self, DataplaneError> {
        Self::load_with(pin_dir, false)
    }

    /// [`Dataplane::load`], and with `xdp_debug_log` the program logs each discarded advert
    /// (reason, VRID, source; at most 20 lines a second per CPU) to this process's `log` /
    /// `tracing` output under target `vrrp_xdp`, at debug level. Without it the logging code
    /// is dead code the verifier removes: it costs the fast path nothing.
    pub fn load_with(pin_dir: Option<&Path>, xdp_debug_log: bool) -> Result<Self, DataplaneError> {
        if OBJECT.is_empty() {
            return Err(DataplaneError::Object("0 bytes".into()));
        }
        bump_memlock_rlimit();
        let support = probe::probe_kernel();
        if let Some(why) = support.refusal() {
            return Err(DataplaneError::Kernel(why));
        }
        // aya-log's level, a read-only global of the object: 0 turns every log line off.
        let level: u8 = if xdp_debug_log {
            aya_log::Level::Debug as u8
        } else {
            0
        };
        let mut ebpf = EbpfLoader::new()
            .override_global(aya_log::LEVEL, &level, true)
            .load(OBJECT)
            .map_err(|e| DataplaneError::Load(format!("{e:#}")))?;
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| DataplaneError::Object(format!("no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| DataplaneError::Object(e.to_string()))?;
        prog.load().map_err(|e| {
            DataplaneError::Load(format!(
                "{} (kernel {}; the program is tested on Linux 6.1, 6.12 and 6.18)",
                verifier_message(&e),
                probe::kernel_release()
            ))
        })?;
        let arm: &mut Xdp = ebpf
            .program_mut(WATCH_PROGRAM)
            .ok_or_else(|| DataplaneError::Object(format!("no program {WATCH_PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| DataplaneError::Object(e.to_string()))?;
        // The watchdog is optional: without it, Backups keep their timers in the agent.
        let mut watchdog = match support.watchdog_blocker() {
            Some(reason) => WatchdogPath::Agent { reason },
            None => match arm.load() {
                Ok(()) => WatchdogPath::Kernel,
                Err(e) => {
                    tracing::debug!(error = %verifier_message(&e), "watchdog program refused");
                    WatchdogPath::Agent {
                        reason: format!("the kernel refused the watchdog program: {e}"),
                    }
                }
            },
        };

        let log = if xdp_debug_log {
            Some(rx::LogPump::start(&mut ebpf)?)
        } else {
            None
        };
        let peers_view = PeersView::map(
            ebpf.map(map_names::PEERS)
                .ok_or_else(|| map_err(map_names::PEERS, "missing from the XDP object"))?,
        )?;
        let mut dp = Dataplane {
            peers_view,
            ebpf,
            pin_dir: pin_dir.map(Path::to_path_buf),
            created_dir: false,
            pinned: Vec::new(),
            attached: Vec::new(),
            slots: std::collections::BTreeMap::new(),
            no_accept_ifaces: std::collections::BTreeSet::new(),
            no_accept_vips: std::collections::BTreeMap::new(),
            watchdog: watchdog.clone(),
            _log: log,
        };
        if watchdog == WatchdogPath::Kernel {
            if let Err(reason) = dp.probe_watchdog() {
                watchdog = WatchdogPath::Agent { reason };
            }
        }
        tracing::info!(kernel = %probe::kernel_release(), "Backups' Master_Down_Timers run {watchdog}");
        dp.watchdog = watchdog;
        if let Some(dir) = pin_dir {
            dp.pin_all(dir)?;
        }
        Ok(dp)
    }

    fn pin_all(&mut self, dir: &Path) -> Result<(), DataplaneError> {
        let pin_err = |path: &Path, e: &dyn fmt::Display| DataplaneError::Pin {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        ensure_bpffs(dir)?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| pin_err(dir, &e))?;
            self.created_dir = true;
        }
        for name in map_names::ALL {
            let path = dir.join(name);
            // A pin left by an agent that was killed: ours by name, so replace it.
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| pin_err(&path, &e))?;
                // The directory is a previous run's of ours: remove it at exit too.
                self.created_dir = true;
                tracing::info!(path = %path.display(), "removed stale pin from a previous run");
            }
            let map = self
                .ebpf
                .map(name)
                .ok_or_else(|| map_err(name, "missing from object"))?;
            map.pin(&path).map_err(|e| pin_err(&path, &e))?;
            self.pinned.push(path);
        }
        Ok(())
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, DataplaneError> {
        self.ebpf
            .map(name)
            .ok_or_else(|| map_err(name, "missing from the XDP object"))
    }

    fn map_mut(&mut self, name: &'static str) -> Result<&mut aya::maps::Map, DataplaneError> {
        self.ebpf
            .map_mut(name)
            .ok_or_else(|| map_err(name, "missing from the XDP object"))
    }

    /// Directory the maps are pinned under, if any.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pin_dir.as_deref()
    }

    /// Who keeps Backups' Master_Down_Timers on this kernel: the kernel's watchdog (then
    /// [`Dataplane::arm_master_down`] works), or the agent, and why.
    pub fn watchdog_path(&self) -> &WatchdogPath {
        &self.watchdog
    }

    /// Whether the kernel's master-down watchdog is in use.
    pub fn kernel_watchdog(&self) -> bool {
        self.watchdog == WatchdogPath::Kernel
    }

    /// The interfaces the program is attached to.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attached
    }

    /// Writes (or replaces) the settings of one instance. A new instance gets a free slot,
    /// with its peer table and counters cleared and labelled with the instance's key;
    /// `cfg.slot` is set by this call.
    pub fn set_instance(
        &mut self,
        key: InstanceKey,
        mut cfg: InstanceConfig,
    ) -> Result<(), DataplaneError> {
        let slot = match self.slots.get(&key) {
            Some(s) => *s,
            None => {
                let used: std::collections::BTreeSet<u16> = self.slots.values().copied().collect();
                let slot = (1..MAX_INSTANCES as u16)
                    .find(|s| !used.contains(s))
                    .ok_or_else(|| {
                        map_err(
                            map_names::INSTANCES,
                            format!("more than {} instances", MAX_INSTANCES - 1),
                        )
                    })?;
                self.reset_slot(slot, key)?;
                self.slots.insert(key, slot);
                slot
            }
        };
        cfg.slot = slot;
        let name = map_names::INSTANCES;
        let map = self.map_mut(name)?;
        let mut map: HashMap<&mut MapData, InstanceKey, InstanceConfig> =
            HashMap::try_from(map).map_err(|e| map_err(name, e))?;
        map.insert(key, cfg, 0).map_err(|e| map_err(name, e))
    }

    /// Clears a slot's peer table and counters, labels them with `key`, and disarms its
    /// master-down watchdog.
    fn reset_slot(&mut self, slot: u16, key: InstanceKey) -> Result<(), DataplaneError> {
        if self.kernel_watchdog() {
            self.run_watch_command(
                key,
                WatchCommand {
                    slot: u32::from(slot),
                    ..Default::default()
                },
            )?;
        }
        let name = map_names::PEERS;
        let map = self.map_mut(name)?;
        let mut peers: Array<&mut MapData, PeerTable> =
            Array::try_from(map).map_err(|e| map_err(name, e))?;
        let table = PeerTable {
            ifindex: key.ifindex,
            vrid: key.vrid,
            family: key.family,
            ..Default::default()
        };
        peers
            .set(u32::from(slot), table, 0)
            .map_err(|e| map_err(name, e))?;

        let name = map_names::STATS;
        let ncpus = aya::util::nr_cpus().map_err(|(_, e)| map_err(name, e))?;
        let map = self.map_mut(name)?;
        let mut stats: PerCpuArray<&mut MapData, Counters> =
            PerCpuArray::try_from(map).map_err(|e| map_err(name, e))?;
        let c = Counters {
            ifindex: key.ifindex,
            vrid: key.vrid,
            family: key.family,
            ..Default::default()
        };
        let values = PerCpuValues::try_from(vec![c; ncpus]).map_err(|e| map_err(name, e))?;
        stats
            .set(u32::from(slot), values, 0)
            .map_err(|e| map_err(name, e))
    }

    /// Removes one instance's settings (its adverts are then discarded as unknown VRID) and
    /// frees its slot.
    pub fn remove_instance(&mut self, key: InstanceKey) -> Result<(), DataplaneError> {
        let name = map_names::INSTANCES;
        let map = self.map_mut(name)?;
        let mut map: HashMap<&mut MapData, InstanceKey, InstanceConfig> =
            HashMap::try_from(map).map_err(|e| map_err(name, e))?;
        map.remove(&key).map_err(|e| map_err(name, e))?;
        // No VIP entry outlives its instance (it would drop traffic for good).
        self.clear_no_accept_vips(&key)?;
        if let Some(slot) = self.slots.remove(&key) {
            self.reset_slot(slot, InstanceKey::default())?;
        }
        Ok(())
    }

    /// The slot of a configured instance.
    pub fn slot(&self, key: &InstanceKey) -> Option<u16> {
        self.slots.get(key).copied()
    }

    /// Allows adverts from one unicast peer of an instance configured with `CFG_UNICAST`,
    /// with any TTL.
    pub fn allow_unicast_peer(&mut self, key: PeerKey) -> Result<(), DataplaneError> {
        self.allow_unicast_peer_ttl(key, vrrp_common::UnicastPeer::default())
    }

    /// Stops accepting adverts from one unicast peer.
    pub fn remove_unicast_peer(&mut self, key: PeerKey) -> Result<(), DataplaneError> {
        let name = map_names::UNICAST;
        let map = self.map_mut(name)?;
        let mut map: HashMap<&mut MapData, PeerKey, vrrp_common::UnicastPeer> =
            HashMap::try_from(map).map_err(|e| map_err(name, e))?;
        match map.remove(&key) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(name, e)),
        }
    }

    /// Arms the kernel's master-down watchdog of a configured instance (a Backup's
    /// Master_Down_Timer, RFC 9568 §6.4.2), replacing any earlier arming.
    ///
    /// The deadline is `max(from, newest last_seen of an advert with priority >=
    /// min_priority) + down_after`; adverts XDP records keep moving it on without waking
    /// anyone. When it passes (checked at most [`vrrp_common::WATCH_SLACK_NS`] late, plus
    /// timer latency), the kernel sends one `EV_MASTER_DOWN` event on the event ring and the
    /// watchdog stays quiet until armed again. `min_priority` 0 counts as 1 (a priority-0
    /// advert never holds it off). One BPF_PROG_TEST_RUN syscall; no wake-up in steady state.
    pub fn arm_master_down(
        &mut self,
        key: &InstanceKey,
        down_after: Duration,
        from: MonoTime,
        min_priority: u8,
    ) -> Result<(), DataplaneError> {
        let slot = self.watch_slot(key)?;
        // Zero would mean "off"; a zero interval fires at once anyway.
        let down_after_ns = u64::try_from(down_after.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        self.run_watch_command(
            *key,
            WatchCommand {
                slot,
                min_priority,
                down_after_ns,
                from_ns: from.as_nanos(),
                ..Default::default()
            },
        )
    }

    /// Disarms the master-down watchdog of a configured instance (it became Master, went to
    /// Fault, or stops). An `EV_MASTER_DOWN` the timer was sending at that very moment may
    /// still arrive afterwards; the election, which owns the deadline, ignores it.
    pub fn disarm_master_down(&mut self, key: &InstanceKey) -> Result<(), DataplaneError> {
        let slot = self.watch_slot(key)?;
        self.run_watch_command(
            *key,
            WatchCommand {
                slot,
                ..Default::default()
            },
        )
    }

    /// The master-down watchdog of a configured instance, as the kernel holds it (one map
    /// lookup syscall; for status and tests).
    pub fn master_down_watch(
        &self,
        key: &InstanceKey,
    ) -> Result<Option<MasterDownWatch>, DataplaneError> {
        let Some(slot) = self.slot(key) else {
            return Ok(None);
        };
        let name = map_names::WATCH;
        let map: Array<&MapData, MasterDownWatch> =
            Array::try_from(self.map(name)?).map_err(|e| map_err(name, e))?;
        map.get(&u32::from(slot), 0)
            .map(Some)
            .map_err(|e| map_err(name, e))
    }

    /// How often the watchdog timer ran and how long it ran in total (its own measurement,
    /// without the interrupt and softirq entry around it), for benchmarks: this kernel time
    /// is charged to no process and is not in `kernel.bpf_stats_enabled` figures.
    pub fn watch_timer_stats(&self) -> Result<WatchTimerStats, DataplaneError> {
        let name = map_names::WATCH_TIMER;
        let map: Array<&MapData, WatchTimer> =
            Array::try_from(self.map(name)?).map_err(|e| map_err(name, e))?;
        let t = map.get(&0, 0).map_err(|e| map_err(name, e))?;
        Ok(WatchTimerStats {
            runs: t.runs,
            busy: Duration::from_nanos(t.run_ns),
            start_failures: t.start_failures,
        })
    }

    fn watch_slot(&self, key: &InstanceKey) -> Result<u32, DataplaneError> {
        self.slot(key)
            .map(u32::from)
            .ok_or_else(|| DataplaneError::Watch {
                key: *key,
                reason: "the instance is not configured (set_instance first)".into(),
            })
    }

    /// Runs `vrrp_watch_arm` once on `cmd`.
    fn run_watch_command(&self, key: InstanceKey, cmd: WatchCommand) -> Result<(), DataplaneError> {
        if let WatchdogPath::Agent { reason } = &self.watchdog {
            return Err(DataplaneError::Watch {
                key,
                reason: format!("the kernel's watchdog is not in use: {reason}"),
            });
        }
        let prog: &Xdp = self
            .ebpf
            .program(WATCH_PROGRAM)
            .ok_or_else(|| DataplaneError::Object(format!("no program {WATCH_PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| DataplaneError::Object(e.to_string()))?;
        // SAFETY: WatchCommand is repr(C) plain data without padding (vrrp-common's layout
        // test); viewing it as bytes reads initialised memory only.
        let frame = unsafe {
            std::slice::from_raw_parts(
                (&cmd as *const WatchCommand).cast::<u8>(),
                std::mem::size_of::<WatchCommand>(),
            )
        };
        let mut out = [0u8; std::mem::size_of::<WatchCommand>() + 256];
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: 1,
            ..Default::default()
        };
        let r = prog
            .test_run(opts)
            .map_err(|e| DataplaneError::TestRun(error_chain(&e)))?;
        let reason = match r.return_value {
            WATCH_OK => return Ok(()),
            WATCH_BAD_COMMAND => format!("slot {} rejected", cmd.slot),
            WATCH_TIMER_FAILED => "the kernel refused to start the BPF timer".to_string(),
            other => format!("unexpected return value {other}"),
        };
        Err(DataplaneError::Watch { key, reason })
    }

    /// The peer table of one configured instance, read from the shared mapping (no
    /// syscall).
    pub fn peer_table(&self, key: &InstanceKey) -> Result<Option<PeerTable>, DataplaneError> {
        Ok(self.slot(key).and_then(|slot| self.peers_view.get(slot)))
    }

    /// Every peer record the kernel holds, with the instance it belongs to.
    pub fn peers(&self) -> Result<Vec<(InstanceKey, PeerRecord)>, DataplaneError> {
        let mut out = Vec::new();
        for key in self.slots.keys() {
            if let Some(t) = self.peer_table(key)? {
                out.extend(
                    t.peers
                        .iter()
                        .filter(|r| r.last_seen_ns != 0)
                        .map(|r| (*key, *r)),
                );
            }
        }
        Ok(out)
    }

    /// The record of one source of one instance.
    pub fn peer(&self, key: &PeerKey) -> Result<Option<PeerRecord>, DataplaneError> {
        Ok(self.peer_table(&key.instance())?.and_then(|t| {
            t.peers
                .into_iter()
                .find(|r| r.last_seen_ns != 0 && r.addr == key.addr)
        }))
    }

    /// Events the kernel could not queue (the ring buffer was full), per configured
    /// instance, summed over CPUs: one lookup per instance, no other map.
    pub fn events_lost(&self) -> Result<Vec<(InstanceKey, u64)>, DataplaneError> {
        let name = map_names::STATS;
        let map = self.map(name)?;
        let stats: PerCpuArray<&MapData, Counters> =
            PerCpuArray::try_from(map).map_err(|e| map_err(name, e))?;
        let mut out = Vec::with_capacity(self.slots.len());
        for (key, slot) in &self.slots {
            let per_cpu = stats
                .get(&u32::from(*slot), 0)
                .map_err(|e| map_err(name, e))?;
            out.push((*key, per_cpu.iter().map(|c| c.events_lost).sum()));
        }
        Ok(out)
    }

    /// Counters per instance key, summed over CPUs: configured instances from their slots,
    /// others (unknown VRID, unreadable packets) from `VRRP_UNKNOWN`.
    pub fn counters(&self) -> Result<Vec<(InstanceKey, Counters)>, DataplaneError> {
        let mut out: std::collections::BTreeMap<InstanceKey, Counters> =
            std::collections::BTreeMap::new();
        let name = map_names::STATS;
        let map = self.map(name)?;
        let stats: PerCpuArray<&MapData, Counters> =
            PerCpuArray::try_from(map).map_err(|e| map_err(name, e))?;
        for (key, slot) in &self.slots {
            let per_cpu = stats
                .get(&u32::from(*slot), 0)
                .map_err(|e| map_err(name, e))?;
            let total = out.entry(*key).or_default();
            for c in per_cpu.iter() {
                total.add(c);
            }
        }
        let name = map_names::UNKNOWN;
        let map = self.map(name)?;
        let unknown: PerCpuHashMap<&MapData, InstanceKey, Counters> =
            PerCpuHashMap::try_from(map).map_err(|e| map_err(name, e))?;
        for item in unknown.iter() {
            let (key, per_cpu) = item.map_err(|e| map_err(name, e))?;
            let total = out.entry(key).or_default();
            for c in per_cpu.iter() {
                total.add(c);
            }
        }
        // Only the counts are summed; the identity fields are the key's.
        Ok(out
            .into_iter()
            .map(|(k, mut c)| {
                (c.ifindex, c.vrid, c.family) = (k.ifindex, k.vrid, k.family);
                (k, c)
            })
            .filter(|(_, c)| c.valid + c.discards() + c.events + c.events_lost + c.no_accept > 0)
            .collect())
    }

    /// Takes the event ring buffer (once) to read [`vrrp_common::PeerEvent`]s from.
    pub fn take_events(&mut self) -> Result<EventRing, DataplaneError> {
        let name = map_names::EVENTS;
        let map = self
            .ebpf
            .take_map(name)
            .ok_or_else(|| map_err(name, "missing or already taken"))?;
        RingBuf::try_from(map).map_err(|e| map_err(name, e))
    }

    /// Attaches the program to `iface`. Under [`XdpModeChoice::Auto`], native mode is tried
    /// first and SKB mode if the driver refuses.
    pub fn attach(
        &mut self,
        iface: &str,
        choice: XdpModeChoice,
    ) -> Result<AttachedMode, DataplaneError> {
        let ifindex = if_index(iface).ok_or_else(|| DataplaneError::Attach {
            iface: iface.to_string(),
            reason: "no such interface".into(),
        })?;
        let prog: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| DataplaneError::Object(format!("no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| DataplaneError::Object(e.to_string()))?;
        let tries: &[(XdpMode, AttachedMode)] = match choice {
            XdpModeChoice::Auto => &[
                (XdpMode::Driver, AttachedMode::Native),
                (XdpMode::Skb, AttachedMode::Skb),
            ],
            XdpModeChoice::Native => &[(XdpMode::Driver, AttachedMode::Native)],
            XdpModeChoice::Skb => &[(XdpMode::Skb, AttachedMode::Skb)],
        };
        let mut failures = Vec::new();
        for (mode, used) in tries {
            match prog.attach_to_if_index(ifindex, *mode) {
                Ok(link) => {
                    if !failures.is_empty() {
                        tracing::warn!(iface, reason = %failures.join("; "), "native XDP refused, using SKB mode");
                    }
                    self.attached.push(Attachment {
                        iface: iface.to_string(),
                        ifindex,
                        mode: *used,
                        link,
                    });
                    return Ok(*used);
                }
                Err(e) => failures.push(format!("{used} mode: {}", error_chain(&e))),
            }
        }
        Err(DataplaneError::Attach {
            iface: iface.to_string(),
            reason: failures.join("; "),
        })
    }

    /// Detaches from one interface (no instance uses it any more).
    pub fn detach(&mut self, iface: &str) {
        let Some(pos) = self.attached.iter().position(|a| a.iface == iface) else {
            return;
        };
        let a = self.attached.remove(pos);
        let Some(prog) = self.ebpf.program_mut(PROGRAM) else {
            return;
        };
        let Ok(prog): Result<&mut Xdp, _> = prog.try_into() else {
            return;
        };
        if let Err(e) = prog.detach(a.link) {
            tracing::warn!(iface = %a.iface, error = %e, "detaching XDP failed");
        }
    }

    /// Detaches from every interface.
    pub fn detach_all(&mut self) {
        let Some(prog) = self.ebpf.program_mut(PROGRAM) else {
            return;
        };
        let Ok(prog): Result<&mut Xdp, _> = prog.try_into() else {
            return;
        };
        for a in self.attached.drain(..) {
            if let Err(e) = prog.detach(a.link) {
                tracing::warn!(iface = %a.iface, error = %e, "detaching XDP failed");
            }
        }
    }

    /// Runs the program once per `repeat` over `frame` with BPF_PROG_TEST_RUN, on the
    /// loopback device's context (ingress ifindex 1). Returns the verdict and the kernel's
    /// mean run time per repetition.
    pub fn test_run(
        &self,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(u32, std::time::Duration), DataplaneError> {
        let prog: &Xdp = self
            .ebpf
            .program(PROGRAM)
            .ok_or_else(|| DataplaneError::Object(format!("no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| DataplaneError::Object(e.to_string()))?;
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: repeat.max(1),
            ..Default::default()
        };
        let r = prog
            .test_run(opts)
            .map_err(|e| DataplaneError::TestRun(error_chain(&e)))?;
        Ok((r.return_value, r.duration))
    }

    /// Detaches everything and removes every pin this process made (and the pin directory
    /// if it created it and it is empty). Dropping does the same; this reports errors.
    pub fn shutdown(mut self) -> Result<(), DataplaneError> {
        self.detach_all();
        self.unpin()
    }

    fn unpin(&mut self) -> Result<(), DataplaneError> {
        let mut first_err = None;
        for path in self.pinned.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound && first_err.is_none() {
                    first_err = Some(DataplaneError::Pin {
                        path,
                        reason: e.to_string(),
                    });
                }
            }
        }
        if self.created_dir {
            if let Some(dir) = &self.pin_dir {
                // Fails harmlessly if someone else put files there.
                let _ = std::fs::remove_dir(dir);
            }
            self.created_dir = false;
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.detach_all();
        if let Err(e) = self.unpin() {
            tracing::warn!(error = %e, "cleaning up pins failed");
        }
    }
}

/// Interface index of `name`, or `None` if there is no such interface.
pub fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we own and reads the C string we own.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// Makes sure `dir` will be on a BPF filesystem. systemd mounts one at /sys/fs/bpf on most
/// hosts; where nobody did (containers, minimal systems), mount it there, as bpftool does.
fn ensure_bpffs(dir: &Path) -> Result<(), DataplaneError> {
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    if is_bpffs(existing) {
        return Ok(());
    }
    let sys_bpf = Path::new("/sys/fs/bpf");
    if dir.starts_with(sys_bpf) && sys_bpf.is_dir() {
        let src = c"bpf";
        let target = c"/sys/fs/bpf";
        // SAFETY: mount(2) with constant NUL-terminated strings and no data.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            tracing::info!("mounted a BPF filesystem on /sys/fs/bpf");
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        return Err(DataplaneError::Pin {
            path: sys_bpf.to_path_buf(),
            reason: format!("not a BPF filesystem and mounting one failed: {e}"),
        });
    }
    Err(DataplaneError::Pin {
        path: dir.to_path_buf(),
        reason: "not on a BPF filesystem: choose a --pin-dir under one (mount -t bpf bpf DIR)"
            .into(),
    })
}

/// Raises RLIMIT_MEMLOCK for kernels older than 5.11 that still charge BPF maps to it.
/// Not needed (and often not permitted) on newer kernels, so failure is only logged.
fn bump_memlock_rlimit() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "setrlimit(RLIMIT_MEMLOCK) failed; not needed on kernels >= 5.11");
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn verifier_message(e: &ProgramError) -> String {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            format!("{io_error}\nverifier log:\n{verifier_log}")
        }
        other => error_chain(other),
    }
}
