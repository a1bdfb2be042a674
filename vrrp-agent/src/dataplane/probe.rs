//! What the data plane needs from the kernel, the first kernel that has it, and what the agent
//! does where it is missing.
//!
//! At start-up [`probe_kernel`] asks the kernel about each helper and map type the XDP object
//! uses (libbpf's way: a two-instruction program calling the helper, a one-entry map), before
//! the object is loaded, so that a kernel that is too old gets one sentence naming the kernel
//! needed instead of a verifier log. Then [`Dataplane::load`](super::Dataplane::load) runs the
//! master-down watchdog once for real ([`Dataplane::probe_watchdog`](super::Dataplane)): it
//! arms a slot for 10 ms with BPF_PROG_TEST_RUN and waits for the timer's event. Where the
//! watchdog cannot work (no `bpf_timer` or `bpf_loop`, a verifier that refuses it, a timer
//! that does not fire), Backups keep their Master_Down_Timers in the agent, as they did
//! before the watchdog existed. Everything else has no fallback: the agent refuses to start
//! and names the kernel needed.
use std::{fmt, time::Duration};

use aya::{
    maps::{Array, MapData, MapType, RingBuf},
    programs::ProgramType,
    sys::{is_helper_supported, is_map_supported, BpfHelper},
};
use vrrp_common::{
    map_names, MasterDownWatch, PeerEvent, WatchCommand, WatchTimer, EV_MASTER_DOWN,
};

use super::{Dataplane, DataplaneError};
use crate::units::MonoTime;

/// What depends on a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needed {
    /// The XDP program or the agent cannot work without it: no fallback.
    Always,
    /// Only the kernel's master-down watchdog uses it; without it the agent keeps Backups'
    /// Master_Down_Timers itself.
    ForWatchdog,
    /// Not used; listed because an obvious design would use it (and older kernels lack it).
    NotUsed,
}

/// How a feature is asked for at start-up.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// An XDP program calling this helper loads.
    Helper(BpfHelper),
    /// A map of this type can be created.
    Map(MapType),
    /// Not asked separately: the kernel that has the features checked above has it, or the
    /// load itself shows it.
    Implied,
}

/// One kernel feature the data plane relies on.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// What it is called in the kernel's documentation.
    pub name: &'static str,
    /// The first mainline kernel that has it (as XDP programs can use it).
    pub since: &'static str,
    /// What this project uses it for.
    pub used_for: &'static str,
    /// What depends on it.
    pub needed: Needed,
    check: Check,
}

/// Every kernel feature the XDP object and the agent rely on, oldest first. The README's
/// "Supported kernels" table is this list.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "bpf_map_lookup_elem / bpf_map_update_elem, hash and (per-CPU) array maps",
        since: "4.6",
        used_for: "instances, counters, peer records",
        needed: Needed::Always,
        check: Check::Helper(BpfHelper::BPF_FUNC_map_update_elem),
    },
    Feature {
        name: "bpf_csum_diff (from XDP)",
        since: "4.16",
        used_for: "checksum of VRRP messages over 64 bytes",
        needed: Needed::Always,
        check: Check::Helper(BpfHelper::BPF_FUNC_csum_diff),
    },
    Feature {
        name: "bpf_ktime_get_ns",
        since: "4.1",
        used_for: "last-seen times of adverts",
        needed: Needed::Always,
        check: Check::Helper(BpfHelper::BPF_FUNC_ktime_get_ns),
    },
    Feature {
        name: "BTF for map keys and values",
        since: "4.18",
        used_for: "field names in bpftool; the timer's map value",
        needed: Needed::Always,
        check: Check::Implied,
    },
    Feature {
        name: "BPF_F_MMAPABLE array",
        since: "5.5",
        used_for: "the agent reads peer records without a syscall",
        needed: Needed::Always,
        check: Check::Implied,
    },
    Feature {
        name: "ring buffer map, bpf_ringbuf_reserve / bpf_ringbuf_submit",
        since: "5.8",
        used_for: "events to the agent",
        needed: Needed::Always,
        check: Check::Map(MapType::RingBuf),
    },
    Feature {
        name: "bpf_link for XDP",
        since: "5.9",
        used_for: "attachments that go away with the agent (even after SIGKILL)",
        needed: Needed::Always,
        check: Check::Implied,
    },
    Feature {
        name: "bpf_timer_init / bpf_timer_set_callback / bpf_timer_start",
        since: "5.15",
        used_for: "the master-down watchdog",
        needed: Needed::ForWatchdog,
        check: Check::Helper(BpfHelper::BPF_FUNC_timer_init),
    },
    Feature {
        name: "bpf_loop",
        since: "5.17",
        used_for: "the watchdog timer's scan over all instances",
        needed: Needed::ForWatchdog,
        check: Check::Helper(BpfHelper::BPF_FUNC_loop),
    },
    Feature {
        name: "bpf_xdp_load_bytes",
        since: "5.18",
        used_for: "copying VRRP messages over 64 bytes to be checksummed",
        needed: Needed::Always,
        check: Check::Helper(BpfHelper::BPF_FUNC_xdp_load_bytes),
    },
    Feature {
        name: "BPF_F_TIMER_ABS (bpf_timer_start flag)",
        since: "6.4",
        used_for: "not used: the timer computes a relative timeout from bpf_ktime_get_ns",
        needed: Needed::NotUsed,
        check: Check::Implied,
    },
];

/// The oldest kernel that has every feature the agent cannot do without.
pub const MIN_KERNEL: &str = "5.18";

/// What [`probe_kernel`] found missing.
#[derive(Clone, Debug, Default)]
pub struct KernelSupport {
    /// Features the kernel said it lacks.
    pub missing: Vec<&'static Feature>,
}

impl KernelSupport {
    /// Missing features without a fallback.
    pub fn missing_required(&self) -> impl Iterator<Item = &'static Feature> + '_ {
        self.missing
            .iter()
            .copied()
            .filter(|f| f.needed == Needed::Always)
    }

    /// Why the kernel watchdog cannot work here, if it cannot.
    pub fn watchdog_blocker(&self) -> Option<String> {
        let names: Vec<String> = self
            .missing
            .iter()
            .filter(|f| f.needed == Needed::ForWatchdog)
            .map(|f| format!("{} (Linux {})", f.name, f.since))
            .collect();
        (!names.is_empty()).then(|| format!("this kernel lacks {}", names.join(", ")))
    }

    /// The refusal when a feature without fallback is missing: what is missing and which
    /// kernel has it.
    pub fn refusal(&self) -> Option<String> {
        let missing: Vec<String> = self
            .missing_required()
            .map(|f| format!("{} (Linux {}, for {})", f.name, f.since, f.used_for))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "this kernel ({}) lacks {}: vrrp-agent needs Linux {MIN_KERNEL} or newer",
                kernel_release(),
                missing.join("; ")
            )
        })
    }
}

/// Asks the kernel about each feature that can be asked about separately. A question the
/// kernel cannot answer (an unexpected error) counts as present: loading the object then
/// tells.
pub fn probe_kernel() -> KernelSupport {
    let mut missing = Vec::new();
    for f in FEATURES {
        let present = match f.check {
            Check::Helper(h) => is_helper_supported(ProgramType::Xdp, h).unwrap_or(true),
            Check::Map(m) => is_map_supported(m).unwrap_or(true),
            Check::Implied => true,
        };
        tracing::debug!(feature = f.name, since = f.since, present, "kernel feature");
        if !present {
            missing.push(f);
        }
    }
    KernelSupport { missing }
}

/// `uname -r`.
pub fn kernel_release() -> String {
    // SAFETY: uname writes into the zeroed struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    // SAFETY: uname NUL-terminates release.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Who keeps Backups' Master_Down_Timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchdogPath {
    /// The kernel's watchdog (a BPF timer): the agent sleeps while Masters advertise.
    Kernel,
    /// The agent's own timers, because the kernel's watchdog cannot work here.
    Agent {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for WatchdogPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchdogPath::Kernel => f.write_str("in the kernel (BPF timer watchdog)"),
            WatchdogPath::Agent { reason } => write!(f, "in the agent ({reason})"),
        }
    }
}

/// How long the probe waits for a 10 ms watchdog to fire: generous, for an emulated guest on
/// a busy host. A timer that takes longer is not one to rely on.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// The probe's interval: long enough that on a real machine the timer's first run (at
/// arming) finds the deadline ahead and must restart itself for it, the path that needs a
/// relative timeout on 6.1; short enough not to delay start-up.
const PROBE_DOWN_AFTER: Duration = Duration::from_millis(10);
/// The slot the probe arms: free, since it runs before any instance is configured, and
/// cleared again afterwards.
const PROBE_SLOT: u32 = 1;

impl Dataplane {
    /// Arms the watchdog of a free slot for [`PROBE_DOWN_AFTER`] and checks, within
    /// [`PROBE_WAIT`], that the timer re-armed itself (its first run comes at arming, before
    /// the deadline), fired once, and sent its event, which is then taken off the ring.
    /// Leaves the slot disarmed.
    pub(super) fn probe_watchdog(&mut self) -> Result<(), String> {
        let key = vrrp_common::InstanceKey::default();
        let now = MonoTime::now();
        let down_after_ns = PROBE_DOWN_AFTER.as_nanos() as u64;
        self.run_watch_command(
            key,
            WatchCommand {
                slot: PROBE_SLOT,
                min_priority: 1,
                down_after_ns,
                from_ns: now.as_nanos(),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let fired = loop {
            let w = self.probe_slot().map_err(|e| e.to_string())?;
            if w.fired() {
                break true;
            }
            if started.elapsed() > PROBE_WAIT {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let event = self.take_probe_event();
        let timer = self.probe_timer().map_err(|e| e.to_string())?;
        // Disarm whatever happened; set_instance clears the slot again when it takes it.
        self.run_watch_command(
            key,
            WatchCommand {
                slot: PROBE_SLOT,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        if timer.start_failures != 0 {
            return Err(format!(
                "the kernel refused to restart the BPF timer from its callback ({} times)",
                timer.start_failures
            ));
        }
        if !fired {
            return Err(format!(
                "a {PROBE_DOWN_AFTER:?} watchdog did not fire within {PROBE_WAIT:?}"
            ));
        }
        match event {
            Ok(true) => Ok(()),
            Ok(false) => Err("the watchdog fired but its event did not arrive".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn probe_slot(&self) -> Result<MasterDownWatch, DataplaneError> {
        let name = map_names::WATCH;
        let map: Array<&MapData, MasterDownWatch> =
            Array::try_from(self.map(name)?).map_err(|e| super::map_err(name, e))?;
        map.get(&PROBE_SLOT, 0).map_err(|e| super::map_err(name, e))
    }

    fn probe_timer(&self) -> Result<WatchTimer, DataplaneError> {
        let name = map_names::WATCH_TIMER;
        let map: Array<&MapData, WatchTimer> =
            Array::try_from(self.map(name)?).map_err(|e| super::map_err(name, e))?;
        map.get(&0, 0).map_err(|e| super::map_err(name, e))
    }

    /// Takes every event off the ring (nothing else is there yet: no instance is configured)
    /// and says whether the probe's `EV_MASTER_DOWN` was among them.
    fn take_probe_event(&mut self) -> Result<bool, DataplaneError> {
        let name = map_names::EVENTS;
        let map = self.map_mut(name)?;
        let mut ring: RingBuf<&mut MapData> =
            RingBuf::try_from(map).map_err(|e| super::map_err(name, e))?;
        let mut seen = false;
        while let Some(item) = ring.next() {
            if item.len() >= std::mem::size_of::<PeerEvent>() {
                // SAFETY: PeerEvent is repr(C) plain data valid for any bit pattern, and the
                // item holds at least its size.
                let ev = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<PeerEvent>()) };
                seen |= ev.kind == EV_MASTER_DOWN;
            }
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_kernel_is_the_newest_feature_without_fallback() {
        let version = |s: &str| -> (u32, u32) {
            let (a, b) = s.split_once('.').expect("major.minor");
            (a.parse().expect("major"), b.parse().expect("minor"))
        };
        let newest = FEATURES
            .iter()
            .filter(|f| f.needed == Needed::Always)
            .map(|f| version(f.since))
            .max();
        assert_eq!(newest, Some(version(MIN_KERNEL)));
    }

    #[test]
    fn a_missing_feature_without_fallback_names_the_kernel_needed() {
        let load_bytes = FEATURES
            .iter()
            .find(|f| f.name == "bpf_xdp_load_bytes")
            .expect("listed");
        let bpf_loop = FEATURES
            .iter()
            .find(|f| f.name == "bpf_loop")
            .expect("listed");
        // 5.15 (Ubuntu 22.04): no bpf_loop (watchdog falls back), no bpf_xdp_load_bytes.
        let k = KernelSupport {
            missing: vec![bpf_loop, load_bytes],
        };
        let refusal = k.refusal().expect("refused");
        assert!(
            refusal.contains("bpf_xdp_load_bytes (Linux 5.18"),
            "{refusal}"
        );
        assert!(refusal.contains("needs Linux 5.18 or newer"), "{refusal}");
        assert!(!refusal.contains("bpf_loop"), "{refusal}");
        let blocker = k.watchdog_blocker().expect("no watchdog");
        assert!(blocker.contains("bpf_loop (Linux 5.17)"), "{blocker}");

        // Only the watchdog's features missing: no refusal.
        let k = KernelSupport {
            missing: vec![bpf_loop],
        };
        assert_eq!(k.refusal(), None);
        assert!(k.watchdog_blocker().is_some());
        assert_eq!(KernelSupport::default().watchdog_blocker(), None);
    }
}
