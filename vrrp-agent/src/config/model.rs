//! The typed configuration: what the rest of the agent uses. Every value here has been
//! checked; defaults are keepalived's.
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
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
    pub notify: Notify,
    /// `v3_checksum_as_v2` (instance or global): v3 IPv4 checksum without pseudo-header.
    pub v3_checksum_as_v2: bool,
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
    pub notify: Notify,
}
