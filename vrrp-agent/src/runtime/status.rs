//! The status snapshot: what a running agent knows about itself, its instances and the
//! routers it hears, as plain data.
//!
//! `vrrp-agent status --json` prints it, the control socket carries it, metrics and the
//! keepalived-style dump files are written from it. The types only hold data (no I/O, no
//! references into the runtime) and serialize with serde; [`SCHEMA_VERSION`] changes when a
//! field is renamed or removed or its meaning changes, never for an addition.
//!
//! Conventions: wall-clock times are Unix seconds (`*_unix`, `f64`, as keepalived's JSON
//! writes `last_transition`), durations are seconds (`*_secs`, `f64`), intervals are
//! seconds too (`0.1` for 10 centiseconds). Addresses are strings in their usual notation.
use std::{collections::BTreeMap, time::SystemTime};

use serde::{Deserialize, Serialize};

/// The version of this schema. Readers should refuse a snapshot with a higher major number
/// than they know; fields they do not know are additions and may be ignored.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SCHEMA_VERSION`] of the agent that wrote it.
    pub schema_version: u32,
    /// When the snapshot was taken (Unix seconds).
    pub taken_unix: f64,
    /// The agent as a whole.
    pub agent: AgentStatus,
    /// Every configured instance (IPv4 and IPv6) in the order the agent runs them
    /// (configuration order; instances added by a reload last).
    pub instances: Vec<InstanceStatus>,
    /// Every `vrrp_sync_group`.
    pub sync_groups: Vec<SyncGroupStatus>,
}

/// The agent process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// Process id.
    pub pid: u32,
    /// The agent's version (`vrrp-agent --version`).
    pub version: String,
    /// When it started (Unix seconds).
    pub started_unix: f64,
    /// How long it has been running.
    pub uptime_secs: f64,
    /// The configuration file it runs.
    pub config_file: String,
    /// Where its maps are pinned.
    pub pin_dir: String,
    /// Its control socket, when it has one.
    pub control_socket: Option<String>,
    /// The interfaces XDP is attached to, and in which mode.
    pub xdp: Vec<XdpAttachment>,
    /// Backups' Master_Down_Timers run in the kernel (the XDP watchdog).
    pub kernel_watchdog: bool,
    /// Valid adverts go on to the IP stack after XDP (`--pass-adverts`).
    pub pass_adverts: bool,
    /// VRRP for unknown VRIDs is dropped in XDP (`--drop-unknown-vrids`).
    pub drop_unknown_vrids: bool,
    /// Kernel events lost because the ring buffer was full, over all instances.
    pub ring_events_lost: u64,
    /// Kernel events written to the ring buffer, over all instances.
    pub ring_events: u64,
}

/// One interface XDP is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpAttachment {
    /// Interface name.
    pub iface: String,
    /// Interface index.
    pub ifindex: u32,
    /// `native` or `skb`.
    pub mode: String,
}

/// Address family of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// An instance's state, with keepalived's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InstanceState {
    /// Not started: waiting for the first result of a weight-0 health check, or stopped.
    Init,
    /// Monitoring the Master.
    Backup,
    /// Master: advertising and holding the VIPs.
    Master,
    /// Held down by tracking, its interface or a failed VIP add.
    Fault,
}

impl InstanceState {
    /// The name as `status` prints it (keepalived's).
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Init => "INIT",
            InstanceState::Backup => "BACKUP",
            InstanceState::Master => "MASTER",
            InstanceState::Fault => "FAULT",
        }
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configured instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// `vrrp_instance` name.
    pub name: String,
    /// Its interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Address family.
    pub family: Family,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// Current state.
    pub state: InstanceState,
    /// When it entered that state (Unix seconds); the agent's start for one that never
    /// changed state.
    pub state_since_unix: f64,
    /// How long it has been in that state.
    pub state_for_secs: f64,
    /// Why it entered that state (the log line's reason), if it changed state.
    pub state_reason: Option<String>,
    /// Why it is in FAULT (or would be), if it is.
    pub fault_reason: Option<String>,
    /// The sync group it belongs to.
    pub sync_group: Option<String>,
    /// Priorities and what moves them.
    pub priority: PriorityStatus,
    /// Our advertisement interval (seconds).
    pub advert_interval_secs: f64,
    /// The interval learned from the Master (v3), or ours.
    pub master_advert_interval_secs: f64,
    /// Unicast peers, empty for multicast.
    pub unicast_peers: Vec<String>,
    /// The current Master: this instance while Master; otherwise the highest-priority
    /// source the kernel heard within three of its intervals (plus 1 s), or the one the
    /// election last followed; `None` while it knows of none.
    pub master: Option<MasterStatus>,
    /// Every source the kernel has recorded adverts from for this instance.
    pub peers: Vec<PeerStatus>,
    /// Virtual addresses (virtual_ipaddress, then virtual_ipaddress_excluded).
    pub vips: Vec<VipStatus>,
    /// Counters like keepalived's `vrrp_stats`.
    pub stats: InstanceStats,
    /// What the kernel discarded for this instance, by reason (the counter names of
    /// `vrrp_common::Discard::name`); reasons with a zero count are left out.
    pub discards: BTreeMap<String, u64>,
    /// Adverts the kernel found valid.
    pub kernel_valid: u64,
    /// Settings other routers advertise for this VRID that differ from ours.
    pub mismatches: Vec<Mismatch>,
}

/// Configured and effective priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityStatus {
    /// `priority` in the configuration.
    pub configured: u8,
    /// What it advertises now (configured plus tracking, 1..=254; 255 for the owner).
    pub effective: u8,
    /// The sum of the tracking weights in force.
    pub tracking_delta: i32,
    /// Every tracked object of the instance (its own and its sync group's).
    pub inputs: Vec<TrackInput>,
    /// `vrrp-agent maintenance on`: the effective priority is 1 until `off`.
    #[serde(default)]
    pub maintenance: bool,
}

/// Kind of a tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    /// `track_script`.
    Script,
    /// `track_interface`.
    Interface,
    /// `track_file`.
    File,
}

/// One tracked object and what it does to the instance now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackInput {
    /// Script, interface or file.
    pub kind: TrackKind,
    /// Its name.
    pub name: String,
    /// The weight in force (0: FAULT instead of a weight).
    pub weight: i64,
    /// `reverse`.
    pub reverse: bool,
    /// The sync group it comes from, if it is the group's.
    pub sync_group: Option<String>,
    /// Its state: a script's `ok`, `failing`, `not run yet` or `disabled`; an interface's
    /// `up` or `down`; a file's value.
    pub state: String,
    /// A track file's value.
    pub file_value: Option<i64>,
    /// What it adds to the priority now.
    pub contribution: i64,
    /// It holds the instance in FAULT now.
    pub fault: bool,
}

/// The Master of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterStatus {
    /// Its primary (IPv4) or link-local (IPv6) address.
    pub address: String,
    /// This instance is the Master.
    pub is_self: bool,
    /// Its advertised priority (0 once it resigned).
    pub priority: u8,
    /// Its advertised interval (seconds).
    pub advert_interval_secs: f64,
    /// When its last advert arrived (Unix seconds); `None` for ourselves or when the
    /// kernel holds no record of it.
    pub last_heard_unix: Option<f64>,
    /// How long ago that was.
    pub last_heard_ago_secs: Option<f64>,
}

/// A source of adverts the kernel recorded for an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Source address.
    pub address: String,
    /// Source MAC address.
    pub mac: String,
    /// Last advertised priority.
    pub priority: u8,
    /// Last advertised interval (seconds).
    pub advert_interval_secs: f64,
    /// VRRP version of its adverts.
    pub version: u8,
    /// Number of addresses in its last advert.
    pub addr_count: u8,
    /// First advert (Unix seconds).
    pub first_seen_unix: f64,
    /// Last advert (Unix seconds).
    pub last_seen_unix: f64,
    /// How long ago that was.
    pub last_seen_ago_secs: f64,
    /// Valid adverts from it.
    pub adverts: u64,
    /// Times its priority or interval changed.
    pub changes: u64,
}

/// A VIP and whether it is on its interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VipStatus {
    /// The address with its prefix length, e.g. `198.18.0.10/32`.
    pub address: String,
    /// The interface it goes on.
    pub interface: String,
    /// From `virtual_ipaddress_excluded` (not in adverts).
    pub excluded: bool,
    /// The instance holds it (as Master).
    pub held: bool,
    /// It is on the interface now, as read from the kernel when the snapshot was taken;
    /// `None` when it could not be read.
    pub present: Option<bool>,
}

/// Per-instance counters, named as keepalived's `vrrp_stats` (and its JSON) name them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStats {
    /// Valid adverts received (counted by the kernel).
    pub advert_rcvd: u64,
    /// Adverts sent.
    pub advert_sent: u64,
    /// Times it became Master.
    pub become_master: u64,
    /// Times it left Master.
    pub release_master: u64,
    /// Truncated adverts, or lengths that disagree with the address count.
    pub packet_len_err: u64,
    /// Adverts whose interval differs from ours: discarded by the kernel (v2), or seen in
    /// a peer's record (v3, counted once per peer each time it starts differing).
    pub advert_interval_err: u64,
    /// Adverts with a wrong TTL / hop limit.
    pub ip_ttl_err: u64,
    /// Packets whose VRRP type is not ADVERTISEMENT.
    pub invalid_type_rcvd: u64,
    /// Adverts whose address count differs from ours (once per peer each time it starts
    /// differing).
    pub addr_list_err: u64,
    /// v2 adverts with an unknown authentication type. Always 0 here: the kernel counts
    /// any type other than ours as `authtype_mismatch`.
    pub invalid_authtype: u64,
    /// v2 adverts whose authentication type differs from ours.
    pub authtype_mismatch: u64,
    /// v2 adverts whose password differs from ours.
    pub auth_failure: u64,
    /// Priority-0 adverts received (as kernel events reached the agent).
    pub pri_zero_rcvd: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
    /// Adverts with a bad checksum (keepalived's SNMP `chk_err`).
    pub chk_err: u64,
    /// Adverts of another VRRP version (keepalived's SNMP `vers_err`).
    pub vers_err: u64,
    /// State changes.
    pub transitions: u64,
    /// Configuration mismatches detected on the wire (each kind, each peer, each time it
    /// starts differing).
    pub mismatches: u64,
}

/// What differs between another router's adverts and ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The advertisement interval.
    AdvertInterval,
    /// The number of virtual addresses.
    VipCount,
    /// v2 authentication (type or password).
    Auth,
}

impl MismatchKind {
    /// How `status` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::AdvertInterval => "advert_int",
            MismatchKind::VipCount => "VIP count",
            MismatchKind::Auth => "authentication",
        }
    }
}

/// One setting another router advertises differently for the same VRID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// What differs.
    pub kind: MismatchKind,
    /// Who advertises it; `None` when the kernel discarded the adverts without recording
    /// the sender (v2 interval and authentication).
    pub peer: Option<String>,
    /// Our value.
    pub ours: String,
    /// Theirs (`unknown` when discarded unrecorded).
    pub theirs: String,
}

/// A `vrrp_sync_group`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncGroupStatus {
    /// Its name.
    pub name: String,
    /// Its members.
    pub members: Vec<String>,
    /// MASTER or BACKUP when every member is, FAULT when one is, INIT when all stopped;
    /// `None` while they disagree (a transition in progress).
    pub state: Option<InstanceState>,
}

/// `t` as Unix seconds.
pub fn unix_secs(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

impl Snapshot {
    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceStatus> {
        self.instances.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Snapshot {
        Snapshot {
            schema_version: SCHEMA_VERSION,
            taken_unix: 1_700_000_100.5,
            agent: AgentStatus {
                pid: 42,
                version: "0.1.0".into(),
                started_unix: 1_700_000_000.0,
                uptime_secs: 100.5,
                config_file: "/etc/keepalived/keepalived.conf".into(),
                pin_dir: "/sys/fs/bpf/vrrp".into(),
                control_socket: Some("/run/vrrp-agent/control.sock".into()),
                xdp: vec![XdpAttachment {
                    iface: "eth0".into(),
                    ifindex: 2,
                    mode: "native".into(),
                }],
                kernel_watchdog: true,
                pass_adverts: false,
                drop_unknown_vrids: false,
                ring_events_lost: 0,
                ring_events: 3,
            },
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: Family::Ipv4,
                version: 3,
                state: InstanceState::Backup,
                state_since_unix: 1_700_000_001.0,
                state_for_secs: 99.5,
                state_reason: Some("startup".into()),
                fault_reason: None,
                sync_group: None,
                priority: PriorityStatus {
                    configured: 100,
                    effective: 90,
                    maintenance: false,
                    tracking_delta: -10,
                    inputs: vec![TrackInput {
                        kind: TrackKind::Script,
                        name: "chk".into(),
                        weight: -10,
                        reverse: false,
                        sync_group: None,
                        state: "failing".into(),
                        file_value: None,
                        contribution: -10,
                        fault: false,
                    }],
                },
                advert_interval_secs: 1.0,
                master_advert_interval_secs: 1.0,
                unicast_peers: vec![],
                master: Some(MasterStatus {
                    address: "198.18.0.2".into(),
                    is_self: false,
                    priority: 150,
                    advert_interval_secs: 1.0,
                    last_heard_unix: Some(1_700_000_100.0),
                    last_heard_ago_secs: Some(0.5),
                }),
                peers: vec![],
                vips: vec![VipStatus {
                    address: "198.18.0.10/32".into(),
                    interface: "eth0".into(),
                    excluded: false,
                    held: false,
                    present: Some(false),
                }],
                stats: InstanceStats {
                    advert_rcvd: 100,
                    ..Default::default()
                },
                discards: BTreeMap::from([("bad_ttl".to_string(), 2)]),
                kernel_valid: 100,
                mismatches: vec![Mismatch {
                    kind: MismatchKind::AdvertInterval,
                    peer: Some("198.18.0.3".into()),
                    ours: "1.00s".into(),
                    theirs: "2.00s".into(),
                }],
            }],
            sync_groups: vec![SyncGroupStatus {
                name: "G".into(),
                members: vec!["VI_1".into()],
                state: Some(InstanceState::Backup),
            }],
        }
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let s = sample();
        let json = serde_json::to_string(&s).expect("serializes");
        let back: Snapshot = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, s);
    }

    #[test]
    fn json_field_names_and_enum_spellings_are_the_documented_ones() {
        let v = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(v["schema_version"], 1);
        let i = &v["instances"][0];
        assert_eq!(i["state"], "BACKUP");
        assert_eq!(i["family"], "ipv4");
        assert_eq!(i["priority"]["inputs"][0]["kind"], "script");
        assert_eq!(i["master"]["address"], "198.18.0.2");
        assert_eq!(i["stats"]["advert_rcvd"], 100);
        assert_eq!(i["stats"]["pri_zero_sent"], 0);
        assert_eq!(i["mismatches"][0]["kind"], "advert_interval");
        assert_eq!(i["discards"]["bad_ttl"], 2);
        assert_eq!(i["vips"][0]["present"], false);
        assert_eq!(v["sync_groups"][0]["state"], "BACKUP");
        assert_eq!(v["agent"]["xdp"][0]["mode"], "native");
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let mut v = serde_json::to_value(sample()).expect("serializes");
        v["added_later"] = serde_json::json!({"x": 1});
        v["instances"][0]["added_later"] = serde_json::json!(true);
        let back: Snapshot = serde_json::from_value(v).expect("parses");
        assert_eq!(back, sample());
    }

    #[test]
    fn unix_secs_of_the_epoch_is_zero() {
        assert_eq!(unix_secs(SystemTime::UNIX_EPOCH), 0.0);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1500);
        assert_eq!(unix_secs(t), 1.5);
    }
}
