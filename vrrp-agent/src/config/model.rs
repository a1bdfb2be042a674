//! The typed configuration: what the rest of the agent uses. Every value here has been
//! checked; defaults are keepalived's.
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    time::Duration,
};

pub use super::diagnostics::Location;
use crate::units::Centisecs;

/// A whole keepalived.conf, as far as VRRP is concerned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub global: GlobalDefs,
    pub instances: Vec<Instance>,
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFileDef>,
    pub sync_groups: Vec<SyncGroup>,
    /// `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackProcessDef>,
}

impl Config {
    /// The `vrrp_instance` called `name`.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The `vrrp_script` called `name`.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The `vrrp_track_file` called `name`.
    pub fn track_file(&self, name: &str) -> Option<&TrackFileDef> {
        self.track_files.iter().find(|f| f.name == name)
    }

    /// The `vrrp_track_process` called `name`.
    pub fn track_process(&self, name: &str) -> Option<&TrackProcessDef> {
        self.track_processes.iter().find(|p| p.name == name)
    }

    /// The sync group that has `instance` as a member.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
}

/// VRRP protocol version (RFC 3768 = 2, RFC 5798/9568 = 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// keepalived's default.
    #[default]
    V2,
    V3,
}

impl Version {
    /// The version number as sent in the advertisement.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The largest advertisement interval: v2 255 s (8-bit seconds), v3 40.95 s (12-bit
    /// centiseconds).
    pub fn max_advert_int(self) -> Duration {
        match self {
            Version::V2 => Duration::from_secs(255),
            Version::V3 => Centisecs::V3_MAX.as_duration(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// Address family of an instance (of its virtual addresses and adverts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    #[default]
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// `state` of an instance: where it starts (keepalived's default is BACKUP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

impl fmt::Display for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        })
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). Only simple text passwords are supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// `auth_type PASS`: the password, truncated to 8 bytes and NUL-padded as sent.
    Pass([u8; 8]),
}

/// Gratuitous ARP / unsolicited NA settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpSettings {
    /// Delay before the second burst after becoming Master (`garp_master_delay`, 5 s).
    pub master_delay: Duration,
    /// Messages per burst after becoming Master (`garp_master_repeat`, 5).
    pub master_repeat: u32,
    /// Period of refresh bursts while Master (`garp_master_refresh`; `None` = off).
    pub master_refresh: Option<Duration>,
    /// Messages per refresh burst (`garp_master_refresh_repeat`, 1).
    pub master_refresh_repeat: u32,
    /// Delay of the second burst after a lower-priority advert while Master
    /// (`garp_lower_prio_delay`, defaults to `master_delay`).
    pub lower_prio_delay: Duration,
    /// Messages per burst after a lower-priority advert (`garp_lower_prio_repeat`, defaults
    /// to `master_repeat`).
    pub lower_prio_repeat: u32,
    /// Gap between gratuitous ARPs on an interface (global `vrrp_garp_interval`, 0).
    pub interval: Duration,
    /// Gap between unsolicited NAs on an interface (global `vrrp_gna_interval`, 0).
    pub gna_interval: Duration,
    /// `garp_extra_if all N` (or the global `vrrp_garp_extra_if all N`): while Master, one
    /// gratuitous ARP per address whose `dev` is another interface, every N seconds
    /// (keepalived's `vmac_garp_intvl` with `VMAC_GARP_ALL_IF`). `None`: off, or no address
    /// is on another interface.
    pub extra_if: Option<Duration>,
}

impl Default for GarpSettings {
    fn default() -> Self {
        GarpSettings {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            extra_if: None,
        }
    }
}

/// A FIFO that receives notify events (`notify_fifo` / `vrrp_notify_fifo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyFifo {
    pub path: PathBuf,
    pub user: Option<String>,
    pub group: Option<String>,
    pub location: Location,
    /// `notify_fifo_script` / `vrrp_notify_fifo_script`: started (with the FIFO's path as
    /// its last argument) when the FIFO is opened, to read it; stopped at exit.
    pub script: Option<NotifyCommand>,
}

/// `global_defs`, VRRP part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// `vrrp_version`: the default for instances (keepalived: 2).
    pub vrrp_version: Option<Version>,
    /// `vrrp_garp_*`, `vrrp_gna_interval`, `vrrp_min_garp`: defaults for every instance.
    pub garp: GarpSettings,
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]`: who runs scripts by default.
    pub script_user: Option<(String, Option<String>)>,
    /// `notify_fifo`: receives VRRP (and, in keepalived, LVS) events.
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo`: receives VRRP events.
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// `v3_checksum_as_v2` (keepalived 2.2.8): the default for instances: compute VRRPv3
    /// IPv4 checksums without the pseudo-header (RFC 9568, Cisco, Juniper).
    pub v3_checksum_as_v2: bool,
    /// Email alerts: `smtp_server`, `notification_email`, ...
    pub smtp: SmtpSettings,
    /// `vrrp_priority`, `vrrp_no_swap`, `vrrp_rt_priority`, `vrrp_cpu_affinity`,
    /// `vrrp_rlimit_rttime`: how the daemon's process is scheduled and kept in memory.
    pub tuning: ProcessTuning,
    /// `vrrp_startup_delay`: Backups wait this long more before their first Master_Down
    /// timer can fire (keepalived: only at start-up, not on reload).
    pub startup_delay: Option<Duration>,
    /// `vrrp_mcast_group4`, when not 224.0.0.18: the group of IPv4 multicast adverts.
    pub mcast_group4: Option<Ipv4Addr>,
    /// `vrrp_mcast_group6`, when not ff02::12: the group of IPv6 multicast adverts.
    pub mcast_group6: Option<Ipv6Addr>,
    /// `vrrp_notify_priority_changes`: the default of instances' `notify_priority_changes`.
    pub notify_priority_changes: bool,
    /// `vrrp_strict`: instances default to strict mode (see [`Instance::strict`]).
    pub vrrp_strict: bool,
}

/// keepalived's RLIMIT_RTTIME when `vrrp_rt_priority` is set and `vrrp_rlimit_rttime` is not
/// (`RT_RLIMIT_DEFAULT`, microseconds of CPU time without a blocking call).
pub const RLIMIT_RTTIME_DEFAULT_US: u64 = 10_000;

/// Process scheduling settings of `global_defs` (applied once at start-up).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessTuning {
    /// `vrrp_priority`: the nice value, -20..=19. keepalived applies it only without a
    /// real-time priority.
    pub nice: Option<i32>,
    /// `vrrp_no_swap`: lock the process in memory (`mlockall`).
    pub no_swap: bool,
    /// `vrrp_rt_priority`: SCHED_RR at this priority (1..=99, keepalived clamps to it).
    pub rt_priority: Option<u32>,
    /// `vrrp_cpu_affinity`: CPU numbers to run on (empty = no change).
    pub cpu_affinity: Vec<usize>,
    /// `vrrp_rlimit_rttime`: the RLIMIT_RTTIME hard limit in microseconds, set (with a soft
    /// limit of half) with a real-time priority only.
    pub rlimit_rttime_us: Option<u64>,
    /// Where these were written, for the start-up log (the first of them).
    pub location: Option<Location>,
}

impl ProcessTuning {
    /// Nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.nice.is_none()
            && !self.no_swap
            && self.rt_priority.is_none()
            && self.cpu_affinity.is_empty()
            && self.rlimit_rttime_us.is_none()
    }

    /// The RLIMIT_RTTIME hard limit that goes with the real-time priority, if one is set.
    pub fn effective_rlimit_rttime_us(&self) -> Option<u64> {
        self.rt_priority
            .map(|_| self.rlimit_rttime_us.unwrap_or(RLIMIT_RTTIME_DEFAULT_US))
    }
}

impl GlobalDefs {
    /// The version instances use when they do not set `version`.
    pub fn default_version(&self) -> Version {
        self.vrrp_version.unwrap_or_default()
    }
}

/// A command run on a state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCommand {
    /// The command line as written (a quoted string keeps its spaces).
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

impl NotifyCommand {
    /// The program: the first word of the command line.
    pub fn program(&self) -> &str {
        self.command.split_whitespace().next().unwrap_or("")
    }
}

/// Notify commands of an instance or sync group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub master: Option<NotifyCommand>,
    pub backup: Option<NotifyCommand>,
    pub fault: Option<NotifyCommand>,
    /// Only instances run it (keepalived runs it when the instance stops).
    pub stop: Option<NotifyCommand>,
    /// `notify`: run on every transition with four more arguments: INSTANCE|GROUP, name,
    /// state (MASTER|BACKUP|FAULT|STOP), priority.
    pub generic: Option<NotifyCommand>,
    /// `notify_master_rx_lower_pri` (instances): run, without arguments added, when the
    /// Master answers a lower-priority advert.
    pub master_rx_lower_pri: Option<NotifyCommand>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }

    /// Every configured command with its keyword.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &NotifyCommand)> {
        [
            ("notify_master", &self.master),
            ("notify_backup", &self.backup),
            ("notify_fault", &self.fault),
            ("notify_stop", &self.stop),
            ("notify", &self.generic),
            ("notify_master_rx_lower_pri", &self.master_rx_lower_pri),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.as_ref().map(|c| (k, c)))
    }
}

/// A reference to a tracked object from `track_script`, `track_interface` or `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    pub name: String,
    /// `weight N`; `None` = the tracked object's own weight (scripts, files) or 0 (FAULT on
    /// failure, interfaces).
    pub weight: Option<i32>,
    /// `reverse` (`Some(true)`): the adjustment applies in the other direction;
    /// `noreverse` (`Some(false)`): it does not, whatever the object says; `None`: as the
    /// tracked object says.
    pub reverse: Option<bool>,
    pub location: Location,
}

/// One address of `virtual_ipaddress` / `virtual_ipaddress_excluded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    /// 32 / 128 when not written.
    pub prefix_len: u8,
    /// `dev`: the interface to add it to (default: the instance's interface).
    pub dev: Option<String>,
    pub label: Option<String>,
    pub scope: Option<String>,
    /// `brd` (IPv4 only; `+` and `-` are resolved to an address).
    pub brd: Option<Ipv4Addr>,
    pub location: Location,
}

impl VirtualAddress {
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
}

/// One `vrrp_instance`: a virtual router on one interface for one address family.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub name: String,
    /// Where the `vrrp_instance` keyword is.
    pub location: Location,
    pub state: InitialState,
    pub interface: String,
    pub vrid: u8,
    /// 1..=255; 255 = address owner.
    pub priority: u8,
    /// After rounding: whole seconds for v2, 10 ms steps for v3.
    pub advert_int: Duration,
    pub version: Version,
    pub family: Family,
    /// False with `nopreempt` (unless state is MASTER, where keepalived ignores it).
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// v2 only (removed for v3 with a warning, as keepalived does).
    pub auth: Option<Auth>,
    pub unicast_src_ip: Option<IpAddr>,
    /// Empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// keepalived's `unicast_peer { ADDR min_ttl N max_ttl M }`: the TTL / hop limit range
    /// of adverts accepted from the peers that set one (the others: any TTL).
    pub unicast_peer_ttl: Vec<(IpAddr, TtlRange)>,
    /// `unicast_ttl`: the IP TTL of sent unicast adverts (default 255); `None` for multicast.
    pub unicast_ttl: Option<u8>,
    pub mcast_src_ip: Option<IpAddr>,
    /// Sent in adverts; all of `family`. Never empty.
    pub vips: Vec<VirtualAddress>,
    /// Managed with the instance but not advertised; may be of either family.
    pub vips_excluded: Vec<VirtualAddress>,
    /// The instance's values with the global defaults applied.
    pub garp: GarpSettings,
    pub track_scripts: Vec<TrackRef>,
    pub track_interfaces: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    /// `track_process`: references to `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackRef>,
    /// `virtual_routes`: set while Master.
    pub virtual_routes: Vec<VirtualRoute>,
    /// `virtual_rules`: set while Master.
    pub virtual_rules: Vec<VirtualRule>,
    /// Mail its state changes (`smtp_alert`, or the global default).
    pub smtp_alert: bool,
    pub notify: Notify,
    /// `v3_checksum_as_v2` (instance or global): v3 IPv4 checksum without pseudo-header.
    pub v3_checksum_as_v2: bool,
    /// `dont_track_primary`: its own interface going down or losing carrier does not put
    /// it in FAULT.
    pub dont_track_primary: bool,
    /// `promote_secondaries`: set the interface's `promote_secondaries` sysctl, so that
    /// removing a primary address (a VIP) keeps the secondaries of its subnet.
    pub promote_secondaries: bool,
    /// `unicast_fault_no_peer`: without `unicast_peer`, stay in FAULT instead of falling back
    /// to multicast.
    pub unicast_fault_no_peer: bool,
    /// The multicast group of its adverts when not the standard one (`mcast_dst_ip`, else
    /// the global `vrrp_mcast_group4` / `vrrp_mcast_group6` of its family).
    pub mcast_group: Option<IpAddr>,
    /// `notify_priority_changes` (or the global default): effective priority changes are
    /// written to the notify FIFOs.
    pub notify_priority_changes: bool,
    /// `use_vmac` / `vmac_xmit_base`: the Master holds the virtual MAC on a macvlan.
    pub vmac: Option<super::vmac::Vmac>,
    /// Accept_Mode (RFC 9568 §6.1): while Master, accept packets sent to the virtual
    /// addresses (`accept`, keepalived's default without strict mode; always for the
    /// address owner). Off (`no_accept`, or strict mode): the XDP program drops them.
    pub accept_mode: bool,
    /// keepalived's strict mode (`vrrp_strict`, or the instance's `strict_mode`): the
    /// configuration was checked against RFC 3768 / RFC 9568 as keepalived checks it.
    pub strict: bool,
    /// `lower_prio_no_advert` (or `vrrp_lower_prio_no_advert`; always under strict mode): a
    /// Master does not answer a lower-priority advert with an advert of its own.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert` (or `vrrp_higher_prio_send_advert`; never under strict
    /// mode): a Master sends one advert before yielding to a higher priority.
    pub higher_prio_send_advert: bool,
    /// Where the settings above were written, for messages that compare configurations.
    pub spans: InstanceSpans,
}

/// Where some of an instance's settings were written; `None`: not written (the default or
/// the global value applies). Kept for checks that compare two nodes' files (`check
/// --peer`), which point at both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceSpans {
    pub state: Option<Location>,
    pub vrid: Option<Location>,
    pub priority: Option<Location>,
    pub advert_int: Option<Location>,
    pub version: Option<Location>,
    /// `nopreempt` (the last `preempt`/`nopreempt` written, when it is `nopreempt`).
    pub nopreempt: Option<Location>,
    /// The `authentication` block.
    pub auth: Option<Location>,
    pub unicast_src_ip: Option<Location>,
    /// One per entry of `unicast_peers`, in the same order.
    pub unicast_peers: Vec<Location>,
}

impl Instance {
    /// The family of the adverts (= of `virtual_ipaddress`).
    pub fn primary_family(&self) -> Family {
        self.family
    }

    /// The first virtual address (the one an IPv6 advert's first address is).
    pub fn primary_vip(&self) -> Option<&VirtualAddress> {
        self.vips.first()
    }

    /// Priority 255: the owner of the virtual addresses (RFC 9568 §6.1).
    pub fn is_address_owner(&self) -> bool {
        self.priority == 255
    }

    /// Adverts go to `unicast_peers` instead of the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The advert interval in the unit of the v3 header.
    pub fn advert_centisecs(&self) -> Centisecs {
        Centisecs::from_duration_round(self.advert_int).unwrap_or(Centisecs::V3_MAX)
    }

    /// The group its multicast adverts go to: `mcast_group`, else 224.0.0.18 / ff02::12.
    pub fn advert_group(&self) -> IpAddr {
        self.mcast_group.unwrap_or(match self.family {
            Family::V4 => IpAddr::V4(crate::wire::VRRP_GROUP_V4),
            Family::V6 => IpAddr::V6(crate::wire::VRRP_GROUP_V6),
        })
    }

    /// The source address configured for adverts, if any.
    pub fn src_ip(&self) -> Option<IpAddr> {
        self.unicast_src_ip.or(self.mcast_src_ip)
    }
}

/// keepalived's default MTU: `check` sizes adverts for it (`run` for the interface's own).
pub const DEFAULT_MTU: u32 = 1500;

/// The most virtual addresses one advert carries on a link of `mtu`, as keepalived 2.2.7
/// computes it (`vrrp_complete_instance`): what fits after the Ethernet, IP and VRRP
/// headers (and v2's 8 bytes of authentication data), and at most 255 (the count field is
/// one byte). At 1500 bytes: IPv4 255, IPv6 89.
pub fn max_advertised(family: Family, version: Version, mtu: u32) -> usize {
    let (ip_hdr, addr_len) = match family {
        Family::V4 => (20, 4),
        Family::V6 => (40, 16),
    };
    let auth = if version == Version::V2 { 8 } else { 0 };
    let hdr = 14 + ip_hdr + 8 + auth;
    let mtu = usize::try_from(mtu).unwrap_or(usize::MAX);
    (mtu.saturating_sub(hdr) / addr_len).min(usize::from(u8::MAX))
}

impl Instance {
    /// keepalived's answer to more virtual addresses than an advert on a link of `mtu`
    /// carries: the first ones stay advertised, the rest move to the front of
    /// `vips_excluded` (set and removed with the instance, not advertised). Returns how many
    /// moved. At least one stays, whatever the MTU.
    pub fn fit_vips_to_mtu(&mut self, mtu: u32) -> usize {
        let max = max_advertised(self.family, self.version, mtu).max(1);
        if self.vips.len() <= max {
            return 0;
        }
        let extra = self.vips.split_off(max);
        let moved = extra.len();
        self.vips_excluded.splice(0..0, extra);
        moved
    }
}

/// The TTL / hop limit range a unicast peer's adverts must arrive with (keepalived's
/// `min_ttl` / `max_ttl`, 0..=255 when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlRange {
    pub min: u8,
    pub max: u8,
}

impl Default for TtlRange {
    fn default() -> Self {
        TtlRange { min: 0, max: 255 }
    }
}

/// `vrrp_script NAME { ... }`: a periodic health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    pub name: String,
    pub location: Location,
    /// The command line (words joined by single spaces).
    pub script: String,
    /// Default 1 s; sub-second values are allowed.
    pub interval: Duration,
    /// `None`: keepalived uses the interval.
    pub timeout: Option<Duration>,
    /// -253..=253; 0 = FAULT while failing.
    pub weight: i32,
    pub reverse: bool,
    /// Consecutive successes before OK (default 1).
    pub rise: u32,
    /// Consecutive failures before KO (default 1).
    pub fall: u32,
    pub user: Option<(String, Option<String>)>,
    /// Start in the failed state.
    pub init_fail: bool,
}

impl VrrpScript {
    /// The program: the first word of the command line.
    pub fn program(&self) -> &str {
        self.script.split_whitespace().next().unwrap_or("")
    }
}

/// `init_file [VALUE] [overwrite]` of a track file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackFileInit {
    pub value: i64,
    pub overwrite: bool,
}

/// `vrrp_track_file NAME { ... }` (or `track_file NAME { ... }`): a file holding a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFileDef {
    pub name: String,
    pub location: Location,
    pub file: PathBuf,
    /// Default 1.
    pub weight: i32,
    pub reverse: bool,
    pub init_file: Option<TrackFileInit>,
}

/// `vrrp_sync_group NAME { ... }`: instances that change state together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    pub location: Location,
    pub members: Vec<String>,
    pub track_scripts: Vec<TrackRef>,
    pub track_interfaces: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    /// `track_process`: references to `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackRef>,
    /// Mail its state changes (`smtp_alert`, or the global default).
    pub smtp_alert: bool,
    pub notify: Notify,
}

/// How `vrrp_track_process`'s `process NAME PARAMS...` compares a process's parameters
/// (keepalived's `param_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamMatch {
    /// Parameters are not looked at (no parameters given, no `param_match`).
    #[default]
    None,
    /// The parameters are exactly the ones given (`param_match exact`, and the default when
    /// parameters are given).
    Exact,
    /// The process's parameters start with the ones given (`param_match partial`).
    Partial,
    /// As `partial`, but the last given parameter need only be a prefix of the process's
    /// parameter in that place (`param_match initial`).
    Initial,
}

/// `vrrp_track_process NAME { ... }`: processes counted through the kernel's process events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackProcessDef {
    pub name: String,
    pub location: Location,
    /// `process`: the name to match: the process's `comm` (at most 15 bytes, as the kernel
    /// keeps it), or with `full_command` the first word of its command line (argv\[0\]).
    pub process: String,
    /// The parameters after the name in `process` (implies `full_command`).
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    /// Match the command line rather than `comm` (`full_command`, or parameters given).
    pub full_command: bool,
    /// -254..=254; 0 (the default) = FAULT without quorum.
    pub weight: i32,
    pub reverse: bool,
    /// At least this many matching processes (default 1; 0 with `quorum_max 0`).
    pub quorum: u32,
    /// At most this many (default: no limit, `u32::MAX`).
    pub quorum_max: u32,
    /// Wait this long after a fork gains quorum before reporting it (`fork_delay`, `delay`).
    pub fork_delay: Option<Duration>,
    /// Wait this long after an exit loses quorum before reporting it (`terminate_delay`,
    /// `delay`); a process starting meanwhile cancels it.
    pub terminate_delay: Option<Duration>,
}

/// One line of `virtual_routes` (keepalived's `ip route` syntax): added with the VIPs when
/// the instance becomes Master, removed when it leaves Master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualRoute {
    pub family: Family,
    /// The destination and its prefix length (`default` = 0.0.0.0/0 or ::/0).
    pub dst: IpAddr,
    pub dst_len: u8,
    /// The kernel's route type (`RTN_*`): unicast (1, the default), blackhole (6),
    /// unreachable (7), prohibit (8), throw (9).
    pub kind: u8,
    /// `via` (or the deprecated `gw`).
    pub via: Option<IpAddr>,
    /// `dev` / `oif`.
    pub dev: Option<String>,
    /// `src`: the preferred source address.
    pub src: Option<IpAddr>,
    /// `table` (254, main, by default).
    pub table: u32,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `scope` (`RT_SCOPE_*`); `None`: the kernel's choice for the type (universe).
    pub scope: Option<u8>,
    /// `protocol`; keepalived sets 18 (`RTPROT_KEEPALIVED`) on tracked routes.
    pub protocol: u8,
    pub onlink: bool,
    /// `no_track`: keepalived does not watch the route (nor its `dev`).
    pub no_track: bool,
    pub location: Location,
}

/// What a `virtual_rules` rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// `table N` / `lookup N`.
    Table(u32),
    Blackhole,
    Unreachable,
    Prohibit,
    /// `goto PRIORITY`.
    Goto(u32),
    Nop,
}

/// One line of `virtual_rules` (keepalived's `ip rule` syntax): added with the VIPs when
/// the instance becomes Master, removed when it leaves Master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualRule {
    pub family: Family,
    /// `from ADDR[/LEN]`.
    pub from: Option<(IpAddr, u8)>,
    /// `to ADDR[/LEN]`.
    pub to: Option<(IpAddr, u8)>,
    pub action: RuleAction,
    /// `priority` / `preference` / `order`; keepalived numbers rules without one from 16384
    /// down (with a warning).
    pub priority: u32,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// `fwmark MARK[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `not`: the selector is inverted.
    pub invert: bool,
    /// `protocol`; 18 (`RTPROT_KEEPALIVED`) on tracked rules, as keepalived sets it.
    pub protocol: u8,
    pub no_track: bool,
    pub location: Location,
}

/// keepalived's email alerts (`global_defs`): where and how to mail state changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// `smtp_server ADDRESS [PORT]` (port 25 by default); no server, no mail.
    pub server: Option<(IpAddr, u16)>,
    /// `notification_email { ... }`: the recipients; none, no mail.
    pub to: Vec<String>,
    /// `notification_email_from` (keepalived: `keepalived@HOSTNAME`).
    pub from: Option<String>,
    /// `smtp_helo_name` (keepalived: the host name).
    pub helo_name: Option<String>,
    /// `smtp_connect_timeout` (30 s): also the bound on the whole exchange here.
    pub connect_timeout: Duration,
    /// `smtp_alert`: the default for instances and sync groups.
    pub alert: Option<bool>,
    /// `smtp_alert_vrrp`: the default for VRRP, before `smtp_alert`.
    pub alert_vrrp: Option<bool>,
    /// `no_email_faults`: no mail on entering FAULT.
    pub no_email_faults: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            server: None,
            to: Vec::new(),
            from: None,
            helo_name: None,
            connect_timeout: Duration::from_secs(30),
            alert: None,
            alert_vrrp: None,
            no_email_faults: false,
        }
    }
}

impl SmtpSettings {
    /// Whether an instance or sync group with `smtp_alert` set to `own` mails (keepalived:
    /// its own value, else `smtp_alert_vrrp`, else `smtp_alert`, else no).
    pub fn alerts(&self, own: Option<bool>) -> bool {
        own.or(self.alert_vrrp).or(self.alert).unwrap_or(false)
    }
}
