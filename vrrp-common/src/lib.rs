//! Types shared by the XDP program (`vrrp-ebpf`) and the agent (`vrrp-agent`).
//!
//! Every map key and value is `#[repr(C)]` with explicit padding, so that the layout the
//! kernel sees, the layout BTF describes to `bpftool`, and the layout the agent reads are one
//! and the same. Field names carry their unit (`_ns`, `_cs`) because these structs cross the
//! kernel boundary as plain integers; the agent wraps them in typed units on the way in.
#![no_std]

/// Address family of a virtual router (one router per interface, VRID and family).
pub const FAMILY_IPV4: u8 = 4;
/// Address family of a virtual router (one router per interface, VRID and family).
pub const FAMILY_IPV6: u8 = 6;

/// IP protocol number of VRRP (RFC 9568 §5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;

/// Names of the maps, as the agent pins them under its pin directory.
pub mod vlan;

pub mod map_names {
    /// Instance settings, written by the agent: [`InstanceKey`](super::InstanceKey) ->
    /// [`InstanceConfig`](super::InstanceConfig).
    pub const INSTANCES: &str = "VRRP_INSTANCES";
    /// Allowed unicast sources, written by the agent: [`PeerKey`](super::PeerKey) -> `u32` (1).
    pub const UNICAST: &str = "VRRP_UNICAST";
    /// Who is advertising, written by XDP: array indexed by the instance's slot ->
    /// [`PeerTable`](super::PeerTable) (up to [`PEERS_PER_INSTANCE`](super::PEERS_PER_INSTANCE)
    /// sources, each a [`PeerRecord`](super::PeerRecord)).
    pub const PEERS: &str = "VRRP_PEERS";
    /// Per-CPU counters of configured instances, written by XDP: array indexed by slot ->
    /// [`Counters`](super::Counters) (which name their interface, VRID and family).
    pub const STATS: &str = "VRRP_STATS";
    /// Per-CPU counters of VRRP packets that match no configured instance (unknown VRID,
    /// unreadable header): [`InstanceKey`](super::InstanceKey) -> [`Counters`](super::Counters).
    pub const UNKNOWN: &str = "VRRP_UNKNOWN";
    /// Ring buffer of [`PeerEvent`](super::PeerEvent), written by XDP.
    pub const EVENTS: &str = "VRRP_EVENTS";
    /// Per-CPU scratch buffer the XDP program checksums large VRRP messages in.
    pub const SCRATCH: &str = "VRRP_SCRATCH";
    /// Master-down watchdog of each instance, armed by the agent (through the
    /// `vrrp_watch_arm` program) and checked by a kernel timer: array indexed by slot ->
    /// [`MasterDownWatch`](super::MasterDownWatch).
    pub const WATCH: &str = "VRRP_WATCH";
    /// The one kernel timer that checks every armed watchdog (a `struct bpf_timer` and the
    /// bookkeeping that wakes it). Not pinned: a pin would keep the timer running after the
    /// agent is gone, and userspace cannot write a value holding a timer anyway.
    pub const WATCH_TIMER: &str = "VRRP_WATCH_TIMER";
    /// VLAN devices on the attached interfaces and their IPv4 subnets, written by the agent
    /// (see [`vlan`](super::vlan)).
    pub const VLAN_NETS: &str = super::vlan::VLAN_NETS;
    /// Per-interface settings, written by the agent: interface index (0: every interface
    /// without an entry of its own) -> [`IfaceConfig`](super::IfaceConfig).
    pub const IFACES: &str = "VRRP_IFACES";
    /// This host's addresses that unicast adverts may be sent to, written by the agent:
    /// [`AddrKey`](super::AddrKey) -> `u32` (1).
    pub const LOCAL_ADDRS: &str = "VRRP_LOCAL_ADDRS";
    /// The virtual addresses of the instances that are Master in no_accept mode, written by
    /// the agent on each transition: [`AddrKey`](super::AddrKey) -> the instance's slot
    /// (`u32`, whose [`Counters::no_accept`](super::Counters::no_accept) counts the drops).
    /// Packets sent to one of them are dropped on interfaces with
    /// [`IFACE_NO_ACCEPT`](super::IFACE_NO_ACCEPT) (RFC 9568 §6.4.3).
    pub const VIPS: &str = "VRRP_VIPS";
    /// Bitmap of the interfaces with [`IFACE_NO_ACCEPT`](super::IFACE_NO_ACCEPT), written by
    /// the agent: array of [`NO_ACCEPT_WORDS`](super::NO_ACCEPT_WORDS) `u64`, bit
    /// `ifindex % NO_ACCEPT_BITS` (see [`no_accept_bit`](super::no_accept_bit)). The XDP
    /// program tests it (an array lookup the verifier inlines) before anything else on a
    /// non-VRRP packet, so that interfaces without no_accept pay no hash lookup.
    pub const NO_ACCEPT_IFACES: &str = "VRRP_NO_ACCEPT_IFACES";
    /// All maps the agent pins, in the order it pins them.
    pub const ALL: [&str; 12] = [
        INSTANCES,
        UNICAST,
        PEERS,
        STATS,
        UNKNOWN,
        EVENTS,
        WATCH,
        IFACES,
        LOCAL_ADDRS,
        VLAN_NETS,
        VIPS,
        NO_ACCEPT_IFACES,
    ];
}

/// Number of instance slots (interface, VRID, family). Slot 0 is never assigned.
pub const MAX_INSTANCES: u32 = 1024;
/// Capacity of the allowed-unicast-source map.
pub const MAX_UNICAST_PEERS: u32 = 16384;
/// Capacity of the per-interface settings map.
pub const MAX_IFACES: u32 = 1024;
/// Capacity of the map of this host's addresses (unicast advert destinations).
pub const MAX_LOCAL_ADDRS: u32 = 4096;
/// Capacity of the no_accept VIP table (`VRRP_VIPS`): the addresses (virtual_ipaddress and
/// virtual_ipaddress_excluded) of every instance this host is Master of in no_accept mode.
pub const MAX_VIPS: u32 = 16384;
/// Words of the `VRRP_NO_ACCEPT_IFACES` bitmap.
pub const NO_ACCEPT_WORDS: u32 = 64;
/// Bits of the `VRRP_NO_ACCEPT_IFACES` bitmap.
pub const NO_ACCEPT_BITS: u32 = NO_ACCEPT_WORDS * 64;

/// Where interface `ifindex` is in the `VRRP_NO_ACCEPT_IFACES` bitmap: (word, bit mask).
/// Interfaces whose indexes are equal modulo [`NO_ACCEPT_BITS`] share a bit; the XDP
/// program then confirms with the interface's own `VRRP_IFACES` entry.
pub const fn no_accept_bit(ifindex: u32) -> (u32, u64) {
    let bit = ifindex % NO_ACCEPT_BITS;
    (bit / 64, 1u64 << (bit % 64))
}

/// Capacity of the map counting packets for unconfigured instances.
pub const MAX_UNKNOWN_KEYS: u32 = 4096;
/// Sources remembered per instance. VRRP has one Master per instance, two during a
/// transition; a flood of spoofed sources evicts within its own instance only.
pub const PEERS_PER_INSTANCE: usize = 4;
/// Messages up to this many bytes are checksummed straight from packet memory; longer
/// ones (many addresses) are copied to scratch space and summed with `bpf_csum_diff`.
pub const INLINE_CSUM_BYTES: usize = 64;
/// Capacity of the event ring buffer in bytes (a power of two, a multiple of the page size).
pub const EVENTS_RING_BYTES: u32 = 256 * 1024;
/// Size of the per-CPU scratch buffer: the largest VRRP message this project accepts.
/// IPv6 v3 with 255 addresses is 8 + 255 * 16 = 4088 bytes; v2 tops out at 1036.
pub const SCRATCH_BYTES: usize = 4096;
/// The largest VRRP message (header, addresses, v2 auth data) the XDP program checks.
pub const MAX_VRRP_LEN: usize = 4088;

/// Key of everything that belongs to one virtual router: interface, VRID and family.
///
/// Counters for packets whose VRID cannot be read (truncated) use `vrid` 0, which no
/// configured instance can have.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    /// Interface index the advert arrived on.
    pub ifindex: u32,
    /// Virtual router identifier, 1..=255 (0: unknown, for counters only).
    pub vrid: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Always zero.
    pub _pad: [u8; 2],
}

impl InstanceKey {
    /// A key with the padding zeroed (hash maps compare keys byte for byte).
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        }
    }
}

/// `InstanceConfig::flags`: the instance uses unicast peers; adverts must come from one of
/// the sources in the `VRRP_UNICAST` map.
pub const CFG_UNICAST: u8 = 1 << 0;
/// `InstanceConfig::flags`: also require TTL / hop limit 255 on unicast adverts
/// (multicast adverts always require it, RFC 9568 §7.1).
pub const CFG_UNICAST_TTL: u8 = 1 << 1;
/// `InstanceConfig::flags`: a valid advert ends in XDP (XDP_DROP after it is recorded)
/// instead of going on to the IP stack; packet captures on this host then do not show it.
pub const CFG_CONSUME: u8 = 1 << 2;

/// `InstanceConfig::flags`: this router is the address owner (priority 255). An advert that
/// also claims priority 255 is discarded as [`Discard::OwnerConflict`] (RFC 9568 §7.1) and
/// reported to the agent with [`EV_OWNER_CONFLICT`].
pub const CFG_OWNER: u8 = 1 << 3;

/// Value of `VRRP_UNICAST`: one allowed unicast source, with keepalived's per-peer
/// `min_ttl` / `max_ttl` (`unicast_peer { ADDR min_ttl N max_ttl M }`; default 0..255, so
/// that any TTL is accepted as keepalived does for unicast).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnicastPeer {
    /// Always 1 (an entry is an allowed source).
    pub allowed: u8,
    /// Adverts from this peer with a lower TTL / hop limit are discarded ([`Discard::Ttl`]).
    pub min_ttl: u8,
    /// Adverts from this peer with a higher TTL / hop limit are discarded ([`Discard::Ttl`]).
    pub max_ttl: u8,
    /// Always zero.
    pub _pad: u8,
}

impl Default for UnicastPeer {
    fn default() -> Self {
        Self::new(0, 255)
    }
}

impl UnicastPeer {
    /// An allowed source whose adverts must arrive with a TTL in `min_ttl..=max_ttl`.
    pub const fn new(min_ttl: u8, max_ttl: u8) -> Self {
        Self {
            allowed: 1,
            min_ttl,
            max_ttl,
            _pad: 0,
        }
    }
}

/// `IfaceConfig::flags`: VRRP packets that match no configured instance on this interface
/// (unknown VRID, unreadable header) are dropped instead of passed on. Off by default, so
/// that another VRRP speaker on the host (keepalived during a migration) still gets its own
/// VRIDs' adverts; `run --drop-unknown-vrids` sets it for every interface.
pub const IFACE_DROP_UNKNOWN: u32 = 1 << 0;
/// `IfaceConfig::flags`: an instance in no_accept mode (keepalived's `no_accept`, or
/// `vrrp_strict` without `accept`) uses this interface: packets that are not VRRP and are
/// sent to an address in `VRRP_VIPS` are dropped (and counted) here, except ARP (not IP)
/// and IPv6 Neighbour Solicitations and Advertisements (RFC 9568 §6.4.3). The agent also
/// sets the interface's bit in `VRRP_NO_ACCEPT_IFACES`.
pub const IFACE_NO_ACCEPT: u32 = 1 << 1;

/// Per-interface settings in `VRRP_IFACES`, keyed by interface index; key 0 holds the
/// settings of every interface without an entry of its own. Only read on the slow paths
/// (packets not for a configured instance, and non-VRRP packets on an interface whose
/// `VRRP_NO_ACCEPT_IFACES` bit is set), so that adding settings here costs valid adverts
/// nothing.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceConfig {
    /// `IFACE_*` bits.
    pub flags: u32,
    /// Always zero (room for later settings).
    pub _reserved: u32,
}

/// Key of `VRRP_LOCAL_ADDRS`: one of this host's addresses, which a unicast advert must be
/// sent to (RFC 9568 §7.1 via the IP stack's own rule: a unicast packet for another host is
/// not ours, e.g. one seen in promiscuous mode).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrKey {
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Always zero.
    pub _pad: [u8; 3],
    /// The address in network byte order; IPv4 uses bytes 0..4, the rest zero.
    pub addr: [u8; 16],
}

impl AddrKey {
    /// The key of `addr` (IPv4 in bytes 0..4).
    pub const fn new(family: u8, addr: [u8; 16]) -> Self {
        Self {
            family,
            _pad: [0; 3],
            addr,
        }
    }
}

/// v2 `auth_type`: no authentication.
pub const AUTH_NONE: u8 = 0;
/// v2 `auth_type`: simple text password (RFC 2338 §5.3.6.1; removed in RFC 3768 but
/// still sent by keepalived's `auth_type PASS`).
pub const AUTH_PASS: u8 = 1;

/// Settings of one configured virtual router, as the XDP program needs them for the
/// receive checks that need no election state (RFC 9568 §7.1, RFC 3768 §7.1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceConfig {
    /// VRRP version the instance speaks: 2 or 3. Adverts of the other version are discarded.
    pub version: u8,
    /// v2 authentication type ([`AUTH_NONE`] or [`AUTH_PASS`]); 0 for v3.
    pub auth_type: u8,
    /// `CFG_*` bits.
    pub flags: u8,
    /// Always zero.
    pub _pad0: u8,
    /// Configured advertisement interval in centiseconds. v2 adverts whose interval (whole
    /// seconds) differs are discarded (RFC 3768 §7.1); v3 learns the Master's instead.
    pub adver_int_cs: u16,
    /// Index of this instance's entries in `VRRP_PEERS` and `VRRP_STATS` (1..MAX_INSTANCES),
    /// assigned by the agent.
    pub slot: u16,
    /// v2 PASS password, NUL-padded to 8 bytes; zero otherwise.
    pub auth_pass: [u8; 8],
    /// The IPv4 multicast group a multicast instance's adverts are sent to (network byte
    /// order; keepalived's `mcast_dst_ip` / `vrrp_mcast_group4`). All zero: 224.0.0.18.
    pub group4: [u8; 4],
    /// The IPv6 multicast group a multicast instance's adverts are sent to (network byte
    /// order; keepalived's `mcast_dst_ip` / `vrrp_mcast_group6`). All zero: ff02::12.
    pub group6: [u8; 16],
}

/// Key of a peer record and of an allowed unicast source: the instance plus a source
/// address (IPv4 in the first four bytes, the rest zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey {
    /// Interface index.
    pub ifindex: u32,
    /// Virtual router identifier.
    pub vrid: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Always zero.
    pub _pad: [u8; 2],
    /// Source address in network byte order; IPv4 uses bytes 0..4.
    pub addr: [u8; 16],
}

impl PeerKey {
    /// The key for `addr` within `instance`.
    pub const fn new(instance: InstanceKey, addr: [u8; 16]) -> Self {
        Self {
            ifindex: instance.ifindex,
            vrid: instance.vrid,
            family: instance.family,
            _pad: [0; 2],
            addr,
        }
    }

    /// The instance this peer belongs to.
    pub const fn instance(&self) -> InstanceKey {
        InstanceKey::new(self.ifindex, self.vrid, self.family)
    }
}

/// What the kernel last heard from one advertising router of one instance. An unused
/// record has `last_seen_ns` 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerRecord {
    /// Source address in network byte order; IPv4 uses bytes 0..4.
    pub addr: [u8; 16],
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) of the last valid advert from this source.
    pub last_seen_ns: u64,
    /// `bpf_ktime_get_ns` of the first valid advert from this source (since the record was
    /// created or last evicted).
    pub first_seen_ns: u64,
    /// Valid adverts received from this source.
    pub adverts: u64,
    /// Adverts from this source that changed priority or interval.
    pub changes: u64,
    /// Advertised interval in centiseconds (v2: the seconds field times 100).
    pub adver_int_cs: u16,
    /// Advertised priority (0: the sender is resigning, 255: address owner).
    pub priority: u8,
    /// VRRP version of the last advert.
    pub version: u8,
    /// Count of addresses in the last advert.
    pub addr_count: u8,
    /// Always zero.
    pub _pad: u8,
    /// Source MAC of the last advert.
    pub src_mac: [u8; 6],
}

/// The sources one instance has heard, with the instance's identity so that a `bpftool`
/// dump of `VRRP_PEERS` reads on its own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerTable {
    /// Interface index (0: slot unused).
    pub ifindex: u32,
    /// Virtual router identifier.
    pub vrid: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Always zero.
    pub _pad: [u8; 2],
    /// Up to [`PEERS_PER_INSTANCE`] sources. A new source takes a free record, else the
    /// one with the lowest priority (oldest among equals).
    pub peers: [PeerRecord; PEERS_PER_INSTANCE],
}

impl PeerTable {
    /// The key of the instance this table belongs to.
    pub const fn instance(&self) -> InstanceKey {
        InstanceKey::new(self.ifindex, self.vrid, self.family)
    }
}

/// `PeerEvent::kind` bit: the first advert from this source (or the first since eviction),
/// or the first after a silence longer than 3 of its intervals (a returning router).
pub const EV_NEW_SOURCE: u32 = 1 << 0;
/// `PeerEvent::kind` bit: the source's priority changed.
pub const EV_PRIORITY: u32 = 1 << 1;
/// `PeerEvent::kind` bit: the advert has priority 0 (the sender resigns, RFC 9568 §6.4.2).
pub const EV_PRIORITY_ZERO: u32 = 1 << 2;
/// `PeerEvent::kind` bit: the source's advertised interval changed.
pub const EV_INTERVAL: u32 = 1 << 3;
/// `PeerEvent::kind` bit, always alone: the instance's master-down watchdog expired. No
/// advert of priority `min_priority` or higher arrived within `down_after_ns` of the later of
/// the arming's `from_ns` and the newest such advert (see [`MasterDownWatch`]). Not an
/// advert: the fields mean
/// - `peer`: the instance, and the source of the newest advert that counted (the silent
///   Master), or an all-zero address if none counted;
/// - `ts_ns`: the deadline that expired (`CLOCK_MONOTONIC`); the kernel checks it at most
///   [`WATCH_SLACK_NS`] (plus timer latency) later;
/// - `priority`, `adver_int_cs`: that source's last advert (0 if none);
/// - `old_priority`: 0.
///
/// Sent once per arming: the watchdog then stays quiet until the agent arms it again.
pub const EV_MASTER_DOWN: u32 = 1 << 4;
/// `PeerEvent::kind` bit, always alone: an advert claiming priority 255 arrived for an
/// instance whose own priority is 255 (two address owners; RFC 9568 §7.1 discards it, and
/// the agent logs the conflict). Not recorded in the peer table. `peer` names the sender,
/// `priority` is 255, `adver_int_cs` the advert's interval. Sent for the 1st, 2nd, 4th, 8th...
/// such advert per CPU and instance, then every [`OWNER_CONFLICT_EVENT_EVERY`]th, so that a
/// stream of them does not wake the agent at the advert rate.
pub const EV_OWNER_CONFLICT: u32 = 1 << 5;
/// See [`EV_OWNER_CONFLICT`] (a power of two).
pub const OWNER_CONFLICT_EVENT_EVERY: u64 = 256;

/// A change the election must act on, sent through the `VRRP_EVENTS` ring buffer.
/// A steady stream of identical adverts sends none.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerEvent {
    /// Which instance and source.
    pub peer: PeerKey,
    /// `bpf_ktime_get_ns` of the advert.
    pub ts_ns: u64,
    /// `EV_*` bits.
    pub kind: u32,
    /// Advertised interval in centiseconds.
    pub adver_int_cs: u16,
    /// Priority in this advert.
    pub priority: u8,
    /// Priority in the previous advert from this source (equal to `priority` if new).
    pub old_priority: u8,
}

/// How late the watchdog timer may check a deadline, so that the deadlines of instances whose
/// Masters advertise together (one `sendmmsg`, received microseconds apart) are checked in one
/// timer run instead of one run each.
pub const WATCH_SLACK_NS: u64 = 200_000;
/// How soon the watchdog timer tries again when the event ring buffer was full.
pub const WATCH_RETRY_NS: u64 = 1_000_000;

/// The master-down watchdog of one instance slot, in `VRRP_WATCH`: the kernel-side
/// Master_Down_Timer (RFC 9568 §6.4.2) of a Backup, so that the agent sleeps until a Master
/// really goes silent instead of waking at every deadline.
///
/// The agent arms it through the `vrrp_watch_arm` program (a [`WatchCommand`] run with
/// BPF_PROG_TEST_RUN), never by writing the map: the program also starts the kernel timer.
/// One timer checks every armed slot. While armed, the slot's deadline is
/// `max(from_ns, newest last_seen_ns of a record with priority >= min_priority) +
/// down_after_ns`; at the deadline (at most [`WATCH_SLACK_NS`] late) the timer sends one
/// [`EV_MASTER_DOWN`] event and the slot stays quiet until armed again. The XDP program does
/// nothing more per advert than update the peer record, as before.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterDownWatch {
    /// Master_Down_Interval in nanoseconds; 0: the watchdog is off.
    pub down_after_ns: u64,
    /// `CLOCK_MONOTONIC` time the interval counts from when no counted advert is newer
    /// (when the agent started or last reset its Master_Down_Timer).
    pub from_ns: u64,
    /// The deadline the timer computed at its last check (0: not checked since armed).
    pub deadline_ns: u64,
    /// Bumped by 2 by every arming and disarming; odd while `vrrp_watch_arm` writes the slot
    /// (a sequence lock: the timer skips a slot that changes under it).
    pub seq: u32,
    /// The `seq` whose [`EV_MASTER_DOWN`] was sent; equal to `seq`: fired, waiting for the
    /// agent.
    pub fired_seq: u32,
    /// Adverts of lower priority do not hold the watchdog off (at least 1: a priority-0
    /// advert never does; the agent's own priority for a Backup that would preempt them).
    pub min_priority: u8,
    /// Always zero.
    pub _pad: [u8; 7],
}

impl MasterDownWatch {
    /// Whether the watchdog is armed and has not fired.
    pub const fn armed(&self) -> bool {
        self.down_after_ns != 0 && self.seq & 1 == 0 && self.fired_seq != self.seq
    }

    /// Whether the current arming has fired (its event was sent).
    pub const fn fired(&self) -> bool {
        self.down_after_ns != 0 && self.seq != 0 && self.fired_seq == self.seq
    }
}

/// The kernel's `struct bpf_timer`, opaque. The verifier finds a timer in a map value by this
/// exact BTF type name, hence the C-style name.
#[allow(non_camel_case_types)]
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bpf_timer {
    /// Owned by the kernel (zero in a userspace lookup).
    pub _opaque: [u64; 2],
}

/// The one value of `VRRP_WATCH_TIMER`: the timer that checks every armed
/// [`MasterDownWatch`], and what it measures of itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchTimer {
    /// The timer.
    pub timer: bpf_timer,
    /// Bumped by every arming: the timer checks the slots again if it changed during a
    /// check, so that an arming is never missed.
    pub gen: u64,
    /// Slots `1..slots` may be armed (the highest slot ever armed, plus one).
    pub slots: u32,
    /// Times the timer could not start itself again (`bpf_timer_start` failed in its
    /// callback). Each time it hands every armed slot back to the agent at once with an
    /// [`EV_MASTER_DOWN`] (whose `ts_ns` may then lie in the future), so that the agent
    /// re-arms it (and, if the kernel refuses again, keeps the Master_Down_Timers itself).
    pub start_failures: u32,
    /// Timer runs (each checks every slot below `slots`).
    pub runs: u64,
    /// Time spent in those runs, from `bpf_ktime_get_ns` at entry and exit (the timer
    /// interrupt and softirq entry around them are not included).
    pub run_ns: u64,
}

/// The input frame of `vrrp_watch_arm`: arms (or, with `down_after_ns` 0, disarms) the
/// watchdog of one slot. BPF_PROG_TEST_RUN of an XDP program needs at least 14 bytes of data;
/// this is 24.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchCommand {
    /// The instance's slot (1..[`MAX_INSTANCES`]).
    pub slot: u32,
    /// See [`MasterDownWatch::min_priority`] (0 is taken as 1).
    pub min_priority: u8,
    /// Always zero.
    pub _pad: [u8; 3],
    /// See [`MasterDownWatch::down_after_ns`]; 0 disarms.
    pub down_after_ns: u64,
    /// See [`MasterDownWatch::from_ns`].
    pub from_ns: u64,
}

/// `vrrp_watch_arm`'s return value: the slot is armed (or disarmed) and the timer kicked.
pub const WATCH_OK: u32 = 2;
/// `vrrp_watch_arm`'s return value: the frame is not a [`WatchCommand`] or the slot is out
/// of range.
pub const WATCH_BAD_COMMAND: u32 = 0;
/// `vrrp_watch_arm`'s return value: `bpf_timer_init`, `bpf_timer_set_callback` or
/// `bpf_timer_start` failed; the slot is written but nothing checks it.
pub const WATCH_TIMER_FAILED: u32 = 1;

/// Why the XDP program dropped a VRRP packet, in the order of the receive checks
/// (RFC 9568 §7.1, RFC 3768 §7.1). Each reason has a counter in [`Counters`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Discard {
    /// The IP header or VRRP header is cut short (or the IP length disagrees with the frame).
    Truncated = 0,
    /// Multicast (or unicast with `CFG_UNICAST_TTL`) advert with TTL / hop limit other than
    /// 255, or a unicast advert whose TTL is outside its peer's `min_ttl..=max_ttl`.
    Ttl = 1,
    /// Version field is not 2 or 3, or not the instance's version.
    Version = 2,
    /// Type field is not 1 (ADVERTISEMENT).
    Type = 3,
    /// Count of addresses is 0, or the message is shorter than its header, addresses
    /// (and v2 auth data) need.
    Length = 4,
    /// Checksum is wrong (v3 IPv4: wrong in both the RFC 9568 and the pseudo-header form).
    Checksum = 5,
    /// No instance with this VRID on this interface and family. Passed on unless the
    /// interface's [`IFACE_DROP_UNKNOWN`] is set (another VRRP speaker may own it).
    UnknownVrid = 6,
    /// v2 authentication type differs from the instance's.
    AuthType = 7,
    /// v2 PASS password differs from the instance's.
    AuthPass = 8,
    /// v2 advertisement interval differs from the instance's.
    Interval = 9,
    /// Unicast instance, and the source is not a configured peer.
    UnicastSrc = 10,
    /// The IP header is malformed: IP version, IPv4 IHL, total length shorter than the
    /// header, header checksum, or a fragment. Counted under VRID 0 (the VRRP header is not
    /// trusted), so it is passed on unless the interface drops unknown VRIDs: the IP stack
    /// discards such a packet itself.
    IpHeader = 11,
    /// Not sent to us: a multicast instance's advert not sent to 224.0.0.18 / ff02::12, or a
    /// unicast instance's advert not sent to one of this host's addresses (e.g. a frame for
    /// another host seen in promiscuous mode). Passed on, never dropped: it is not ours.
    Destination = 12,
    /// IPv6 multicast advert whose source is not link-local (RFC 9568 §5.1.2.1).
    Source = 13,
    /// An advert claiming priority 255 for an instance of which this router is the address
    /// owner (RFC 9568 §7.1); the agent is told ([`EV_OWNER_CONFLICT`]).
    OwnerConflict = 14,
}

impl Discard {
    /// Every reason, in the order of their numbers (and counter fields).
    pub const ALL: [Discard; 15] = [
        Discard::Truncated,
        Discard::Ttl,
        Discard::Version,
        Discard::Type,
        Discard::Length,
        Discard::Checksum,
        Discard::UnknownVrid,
        Discard::AuthType,
        Discard::AuthPass,
        Discard::Interval,
        Discard::UnicastSrc,
        Discard::IpHeader,
        Discard::Destination,
        Discard::Source,
        Discard::OwnerConflict,
    ];

    /// The reason with number `n` (as the XDP program passes it around), if any.
    pub const fn from_u32(n: u32) -> Option<Discard> {
        if (n as usize) < Self::ALL.len() {
            Some(Self::ALL[n as usize])
        } else {
            None
        }
    }

    /// The counter's field name in [`Counters`] (and in `bpftool map dump`).
    pub const fn name(self) -> &'static str {
        match self {
            Discard::Truncated => "truncated",
            Discard::Ttl => "bad_ttl",
            Discard::Version => "bad_version",
            Discard::Type => "bad_type",
            Discard::Length => "bad_length",
            Discard::Checksum => "bad_checksum",
            Discard::UnknownVrid => "unknown_vrid",
            Discard::AuthType => "bad_auth_type",
            Discard::AuthPass => "bad_auth_pass",
            Discard::Interval => "bad_interval",
            Discard::UnicastSrc => "bad_unicast_src",
            Discard::IpHeader => "bad_ip_header",
            Discard::Destination => "bad_destination",
            Discard::Source => "bad_source",
            Discard::OwnerConflict => "owner_conflict",
        }
    }
}

/// Per-CPU counters of one instance key (interface, VRID, family). The agent sums the CPUs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Interface index (in `VRRP_STATS`, written by the agent; 0 in `VRRP_UNKNOWN`, whose
    /// key says it).
    pub ifindex: u32,
    /// Virtual router identifier (as `ifindex`).
    pub vrid: u8,
    /// Address family (as `ifindex`).
    pub family: u8,
    /// Always zero.
    pub _pad: [u8; 2],
    /// Adverts that passed every check.
    pub valid: u64,
    /// Events written to the ring buffer.
    pub events: u64,
    /// Events lost because the ring buffer was full.
    pub events_lost: u64,
    /// Discards, one field per [`Discard`] reason.
    pub truncated: u64,
    /// See [`Discard::Ttl`].
    pub bad_ttl: u64,
    /// See [`Discard::Version`].
    pub bad_version: u64,
    /// See [`Discard::Type`].
    pub bad_type: u64,
    /// See [`Discard::Length`].
    pub bad_length: u64,
    /// See [`Discard::Checksum`].
    pub bad_checksum: u64,
    /// See [`Discard::UnknownVrid`].
    pub unknown_vrid: u64,
    /// See [`Discard::AuthType`].
    pub bad_auth_type: u64,
    /// See [`Discard::AuthPass`].
    pub bad_auth_pass: u64,
    /// See [`Discard::Interval`].
    pub bad_interval: u64,
    /// See [`Discard::UnicastSrc`].
    pub bad_unicast_src: u64,
    /// See [`Discard::IpHeader`].
    pub bad_ip_header: u64,
    /// See [`Discard::Destination`].
    pub bad_destination: u64,
    /// See [`Discard::Source`].
    pub bad_source: u64,
    /// See [`Discard::OwnerConflict`].
    pub owner_conflict: u64,
    /// Not VRRP: packets sent to one of this instance's VIPs while it is Master in no_accept
    /// mode, dropped (RFC 9568 §6.4.3; see [`IFACE_NO_ACCEPT`]). Not in [`Counters::discards`].
    pub no_accept: u64,
}

impl Counters {
    /// The counter of one discard reason.
    pub const fn discard(&self, reason: Discard) -> u64 {
        match reason {
            Discard::Truncated => self.truncated,
            Discard::Ttl => self.bad_ttl,
            Discard::Version => self.bad_version,
            Discard::Type => self.bad_type,
            Discard::Length => self.bad_length,
            Discard::Checksum => self.bad_checksum,
            Discard::UnknownVrid => self.unknown_vrid,
            Discard::AuthType => self.bad_auth_type,
            Discard::AuthPass => self.bad_auth_pass,
            Discard::Interval => self.bad_interval,
            Discard::UnicastSrc => self.bad_unicast_src,
            Discard::IpHeader => self.bad_ip_header,
            Discard::Destination => self.bad_destination,
            Discard::Source => self.bad_source,
            Discard::OwnerConflict => self.owner_conflict,
        }
    }

    /// The counter of one discard reason, mutably (used by the XDP program).
    pub fn discard_mut(&mut self, reason: Discard) -> &mut u64 {
        match reason {
            Discard::Truncated => &mut self.truncated,
            Discard::Ttl => &mut self.bad_ttl,
            Discard::Version => &mut self.bad_version,
            Discard::Type => &mut self.bad_type,
            Discard::Length => &mut self.bad_length,
            Discard::Checksum => &mut self.bad_checksum,
            Discard::UnknownVrid => &mut self.unknown_vrid,
            Discard::AuthType => &mut self.bad_auth_type,
            Discard::AuthPass => &mut self.bad_auth_pass,
            Discard::Interval => &mut self.bad_interval,
            Discard::UnicastSrc => &mut self.bad_unicast_src,
            Discard::IpHeader => &mut self.bad_ip_header,
            Discard::Destination => &mut self.bad_destination,
            Discard::Source => &mut self.bad_source,
            Discard::OwnerConflict => &mut self.owner_conflict,
        }
    }

    /// Sum of all discards.
    pub fn discards(&self) -> u64 {
        Discard::ALL.iter().map(|r| self.discard(*r)).sum()
    }

    /// Adds `other` field by field (summing per-CPU values).
    pub fn add(&mut self, other: &Counters) {
        self.valid += other.valid;
        self.events += other.events;
        self.events_lost += other.events_lost;
        self.no_accept += other.no_accept;
        for r in Discard::ALL {
            *self.discard_mut(r) += other.discard(r);
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are repr(C), contain only integers and byte arrays, and have
    // explicit padding fields, so every bit pattern is valid and there are no holes.
    unsafe impl aya::Pod for super::InstanceKey {}
    unsafe impl aya::Pod for super::InstanceConfig {}
    unsafe impl aya::Pod for super::PeerKey {}
    unsafe impl aya::Pod for super::PeerRecord {}
    unsafe impl aya::Pod for super::PeerTable {}
    unsafe impl aya::Pod for super::PeerEvent {}
    unsafe impl aya::Pod for super::Counters {}
    unsafe impl aya::Pod for super::MasterDownWatch {}
    unsafe impl aya::Pod for super::WatchCommand {}
    unsafe impl aya::Pod for super::WatchTimer {}
    unsafe impl aya::Pod for super::UnicastPeer {}
    unsafe impl aya::Pod for super::IfaceConfig {}
    unsafe impl aya::Pod for super::AddrKey {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<InstanceKey>(), 8);
        assert_eq!(size_of::<InstanceConfig>(), 36);
        assert_eq!(size_of::<PeerKey>(), 24);
        assert_eq!(size_of::<PeerRecord>(), 64);
        assert_eq!(size_of::<PeerTable>(), 8 + 64 * PEERS_PER_INSTANCE);
        assert_eq!(size_of::<PeerEvent>(), 40);
        assert_eq!(size_of::<Counters>(), 8 + 8 * (4 + Discard::ALL.len()));
        assert_eq!(size_of::<MasterDownWatch>(), 40);
        assert_eq!(size_of::<WatchCommand>(), 24);
        assert_eq!(size_of::<WatchTimer>(), 48);
        assert_eq!(size_of::<UnicastPeer>(), 4);
        assert_eq!(size_of::<IfaceConfig>(), 8);
        assert_eq!(size_of::<AddrKey>(), 20);
    }

    #[test]
    fn no_accept_bits_cover_the_bitmap() {
        assert_eq!(no_accept_bit(0), (0, 1));
        assert_eq!(no_accept_bit(65), (1, 2));
        assert_eq!(
            no_accept_bit(NO_ACCEPT_BITS - 1),
            (NO_ACCEPT_WORDS - 1, 1 << 63)
        );
        assert_eq!(no_accept_bit(NO_ACCEPT_BITS + 3), no_accept_bit(3));
    }

    #[test]
    fn a_watchdog_is_armed_until_its_arming_fires() {
        let mut w = MasterDownWatch::default();
        assert!(!w.armed() && !w.fired(), "all zero: off");
        (w.down_after_ns, w.seq) = (30_000_000, 2);
        assert!(w.armed() && !w.fired());
        w.seq = 3;
        assert!(!w.armed(), "being written");
        w.seq = 2;
        w.fired_seq = 2;
        assert!(!w.armed() && w.fired());
        w.seq = 4;
        assert!(w.armed() && !w.fired(), "armed again");
        w.down_after_ns = 0;
        assert!(!w.armed() && !w.fired(), "disarmed");
    }

    #[test]
    fn discard_counters_are_distinct() {
        let mut c = Counters::default();
        for (i, r) in Discard::ALL.iter().enumerate() {
            *c.discard_mut(*r) = i as u64 + 1;
        }
        for (i, r) in Discard::ALL.iter().enumerate() {
            assert_eq!(c.discard(*r), i as u64 + 1, "{}", r.name());
        }
        assert_eq!(c.discards(), (1..=Discard::ALL.len() as u64).sum::<u64>());
        for (i, r) in Discard::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(Discard::from_u32(i as u32), Some(*r));
        }
        assert_eq!(Discard::from_u32(Discard::ALL.len() as u32), None);
    }
}
