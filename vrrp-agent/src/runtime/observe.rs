//! What the runtime records for `status` (counters, when and why each state was entered,
//! settings other routers advertise differently) and the [`Snapshot`] built from it and
//! from the kernel's maps.
//!
//! Nothing here decides anything: the runtime calls in at the places where it already acts
//! (a state change, an advert sent, a kernel event) and building a snapshot only reads.
use super::RouterId;
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    path::PathBuf,
    time::SystemTime,
};

use vrrp_common::{Counters, Discard, PeerEvent, PeerKey, PeerRecord, EV_PRIORITY_ZERO};

use super::{groups, kernel::peer_addr, status::*, Agent, Vrouter};
use crate::{
    config::Version,
    election::{Reason, State},
    units::{Centisecs, MonoTime},
};

/// The kernel's counters per instance key.
pub(super) type KernelCounters = BTreeMap<vrrp_common::InstanceKey, Counters>;

/// How often the timer looks at v2 discards (see [`Agent::periodic_observations`]).
const V2_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A Backup's Master is a source heard within three of its intervals plus this.
const MASTER_SLACK: std::time::Duration = std::time::Duration::from_secs(1);

/// What the runtime records about one router for `status`.
#[derive(Debug, Clone, Default)]
pub(super) struct RouterObs {
    /// Counters kept in the agent (the kernel's are read when a snapshot is taken).
    pub counts: AgentCounts,
    /// When the current state was entered; `None`: never changed state.
    pub since: Option<MonoTime>,
    /// Why (the log line's reason).
    pub reason: Option<String>,
    /// Settings other routers advertise differently, as last seen: (peer, kind) ->
    /// (ours, theirs). `None` as peer: discarded by the kernel without recording the sender.
    pub mismatches: BTreeMap<(Option<IpAddr>, MismatchKind), (String, String)>,
}

/// The counters only the agent can keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AgentCounts {
    pub advert_sent: u64,
    pub pri_zero_sent: u64,
    pub pri_zero_rcvd: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub interval_mismatch: u64,
    pub vip_count_mismatch: u64,
    pub auth_mismatch: u64,
}

impl AgentCounts {
    fn mismatches(&self) -> u64 {
        self.interval_mismatch + self.vip_count_mismatch + self.auth_mismatch
    }
}

impl RouterObs {
    /// One advert left (or failed to leave) with `priority`.
    pub fn sent(&mut self, ok: bool, priority: u8) {
        if ok {
            self.counts.advert_sent += 1;
            if priority == 0 {
                self.counts.pri_zero_sent += 1;
            }
        }
    }

    /// The router went from `from` to `to` at `now`.
    pub fn state_changed(&mut self, from: State, to: State, reason: &Reason, now: MonoTime) {
        if to == State::Master && from != State::Master {
            self.counts.become_master += 1;
        }
        if from == State::Master && to != State::Master {
            self.counts.release_master += 1;
        }
        self.since = Some(now);
        self.reason = Some(reason.to_string());
    }

    /// Records what `found` says differs now; each (peer, kind) that starts differing is
    /// counted and returned (to be logged once).
    fn update_mismatches(
        &mut self,
        peer: Option<IpAddr>,
        found: Vec<(MismatchKind, String, String)>,
    ) -> Vec<(MismatchKind, String, String)> {
        let kinds: BTreeSet<MismatchKind> = found.iter().map(|f| f.0).collect();
        self.mismatches
            .retain(|(p, k), _| *p != peer || kinds.contains(k));
        let mut new = Vec::new();
        for (kind, ours, theirs) in found {
            let fresh = self
                .mismatches
                .insert((peer, kind), (ours.clone(), theirs.clone()))
                .is_none();
            if fresh {
                match kind {
                    MismatchKind::AdvertInterval => self.counts.interval_mismatch += 1,
                    MismatchKind::VipCount => self.counts.vip_count_mismatch += 1,
                    MismatchKind::Auth => self.counts.auth_mismatch += 1,
                }
                new.push((kind, ours, theirs));
            }
        }
        new
    }
}

/// What this router advertises, as a peer's record is compared with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ours {
    pub adver_int: Centisecs,
    pub addr_count: usize,
}

/// The settings of a peer's last advert that differ from ours: (kind, ours, theirs).
pub(super) fn peer_mismatches(ours: Ours, rec: &PeerRecord) -> Vec<(MismatchKind, String, String)> {
    let mut out = Vec::new();
    let theirs = Centisecs::new(rec.adver_int_cs);
    // A resigning Master's priority-0 advert says nothing about its settings.
    if rec.priority == 0 {
        return out;
    }
    if theirs != ours.adver_int {
        out.push((
            MismatchKind::AdvertInterval,
            ours.adver_int.to_string(),
            theirs.to_string(),
        ));
    }
    if usize::from(rec.addr_count) != ours.addr_count {
        out.push((
            MismatchKind::VipCount,
            ours.addr_count.to_string(),
            rec.addr_count.to_string(),
        ));
    }
    out
}

/// The agent-wide part of what `status` shows, and the control requests' way in.
pub(super) struct AgentObs {
    pub started_wall: SystemTime,
    pub started_mono: MonoTime,
    pub control_socket: Option<PathBuf>,
    /// Kernel discards of v2 interval and authentication mismatches already reported, per
    /// instance key: a rise is logged once.
    pub v2_discards_seen: BTreeMap<vrrp_common::InstanceKey, (u64, u64)>,
    /// When the kernel's v2 discard counters are next looked at (see
    /// [`Agent::periodic_observations`]).
    pub next_v2_check: Option<MonoTime>,
    /// Requests from the control socket, until the loop takes them.
    pub control: Option<tokio::sync::mpsc::Receiver<crate::control::server::AgentRequest>>,
}

impl AgentObs {
    pub fn new(control_socket: Option<PathBuf>) -> Self {
        AgentObs {
            started_wall: SystemTime::now(),
            started_mono: MonoTime::now(),
            control_socket,
            v2_discards_seen: BTreeMap::new(),
            control: None,
            next_v2_check: None,
        }
    }
}

/// Clock conversions for one snapshot: monotonic (kernel) times to Unix seconds.
#[derive(Clone, Copy)]
struct Clocks {
    mono: MonoTime,
    wall: f64,
}

impl Clocks {
    fn now() -> Self {
        Clocks {
            mono: MonoTime::now(),
            wall: unix_secs(SystemTime::now()),
        }
    }

    fn unix(&self, t: MonoTime) -> f64 {
        self.wall - (self.mono.as_nanos() as f64 - t.as_nanos() as f64) / 1e9
    }

    fn ago(&self, t: MonoTime) -> f64 {
        self.mono.saturating_since(t).as_secs_f64()
    }
}

fn secs(c: Centisecs) -> f64 {
    f64::from(c.get()) / 100.0
}

impl Vrouter {
    fn ours(&self) -> Ours {
        Ours {
            adver_int: self.inst.advert_centisecs(),
            addr_count: self.inst.vips.len(),
        }
    }
}

impl Agent {
    /// A kernel event for router `i`: counts a priority 0 and looks at the sender's
    /// settings.
    pub(super) fn observe_event(&mut self, i: RouterId, ev: &PeerEvent) {
        if ev.kind & EV_PRIORITY_ZERO != 0 {
            self.routers[i].obs.counts.pri_zero_rcvd += 1;
        }
        self.check_mismatches(i);
    }

    /// Compares router `i`'s settings with every peer record the kernel holds for it (and,
    /// for v2, looks at what the kernel discarded for a differing interval or password);
    /// logs each (peer, kind) once when it starts differing.
    pub(super) fn check_mismatches(&mut self, i: RouterId) {
        let key = self.routers[i].key;
        let ours = self.routers[i].ours();
        let records: Vec<PeerRecord> = match self.dp.peer_table(&key) {
            Ok(Some(t)) => t
                .peers
                .into_iter()
                .filter(|r| r.last_seen_ns != 0)
                .collect(),
            _ => Vec::new(),
        };
        let vr = &mut self.routers[i];
        let heard: BTreeSet<Option<IpAddr>> = records
            .iter()
            .map(|r| Some(peer_addr(&PeerKey::new(key, r.addr))))
            .collect();
        // Sources the kernel no longer holds a record of are no longer shown.
        vr.obs
            .mismatches
            .retain(|(p, _), _| p.is_none() || heard.contains(p));
        for rec in &records {
            let from = peer_addr(&PeerKey::new(key, rec.addr));
            for (kind, mine, theirs) in vr
                .obs
                .update_mismatches(Some(from), peer_mismatches(ours, rec))
            {
                tracing::warn!(
                    instance = %vr.name, iface = %vr.iface, vrid = key.vrid, %from,
                    "{} mismatch: we advertise {mine}, {from} advertises {theirs} for the same VRID; \
                     make the configurations agree",
                    kind.as_str()
                );
            }
        }
    }

    /// v2 adverts whose interval or authentication differ from ours never reach a record:
    /// the kernel discards them (RFC 3768 §7.1) and counts them per reason. A rise of those
    /// counters is one mismatch (sender unknown), logged once.
    fn check_v2_discards(&mut self, counters: &BTreeMap<vrrp_common::InstanceKey, Counters>) {
        for i in self.routers.ids() {
            let vr = &self.routers[i];
            if vr.inst.version != Version::V2 {
                continue;
            }
            let Some(c) = counters.get(&vr.key) else {
                continue;
            };
            let now = (
                c.discard(Discard::Interval),
                c.discard(Discard::AuthType) + c.discard(Discard::AuthPass),
            );
            let seen = self
                .obs
                .v2_discards_seen
                .get(&vr.key)
                .copied()
                .unwrap_or((0, 0));
            let mut found = Vec::new();
            let interval = secs(vr.inst.advert_centisecs());
            if now.0 > 0 {
                found.push((
                    MismatchKind::AdvertInterval,
                    format!("{interval}s"),
                    "unknown".to_string(),
                ));
            }
            if now.1 > 0 {
                found.push((
                    MismatchKind::Auth,
                    "ours".to_string(),
                    "different".to_string(),
                ));
            }
            let key = vr.key;
            let vr = &mut self.routers[i];
            for (kind, _, _) in vr.obs.update_mismatches(None, found) {
                tracing::warn!(
                    instance = %vr.name, iface = %vr.iface, vrid = key.vrid,
                    "{} mismatch: the kernel discarded v2 adverts for this VRID whose {} differs from ours; \
                     make the configurations agree",
                    kind.as_str(),
                    kind.as_str()
                );
            }
            if now != seen {
                self.obs.v2_discards_seen.insert(key, now);
            }
        }
    }

    /// On the agent's timer: every [`V2_CHECK_EVERY`], when a v2 instance runs, the kernel's
    /// discards of v2 adverts with another interval or password are looked at, so that such
    /// a mismatch is logged without anyone asking for `status`. (v2 routers that discard each
    /// other's adverts are both Master, so the timer wakes the agent every interval.)
    pub(super) fn periodic_observations(&mut self, now: MonoTime) {
        if self.obs.next_v2_check.is_some_and(|t| now < t)
            || !self.routers.values().any(|r| r.inst.version == Version::V2)
        {
            return;
        }
        self.obs.next_v2_check = Some(now + V2_CHECK_EVERY);
        let counters = self.kernel_counters();
        self.check_v2_discards(&counters);
    }

    /// Reads what a snapshot needs that changes state (mismatch records and their logs);
    /// then [`Agent::snapshot`] only reads.
    /// Returns the kernel's counters it read, for [`Agent::snapshot_with`].
    pub(super) fn refresh_observations(&mut self) -> KernelCounters {
        for i in self.routers.ids() {
            self.check_mismatches(i);
        }
        let counters = self.kernel_counters();
        self.check_v2_discards(&counters);
        counters
    }

    /// The kernel's counters per instance key (empty, with a warning, when unreadable).
    pub(super) fn kernel_counters(&self) -> KernelCounters {
        match self.dp.counters() {
            Ok(c) => c.into_iter().collect(),
            Err(e) => {
                tracing::warn!("status: reading the kernel's counters: {e}");
                BTreeMap::new()
            }
        }
    }

    /// Everything `status` shows, from the runtime's state and the kernel's maps (shared
    /// memory and a few map reads; no I/O that can block). VIP presence is left `None`:
    /// the control server reads the interfaces' addresses outside the loop.
    // The entry point for whatever else reads the agent's state (metrics, dump files);
    // the control socket reuses the counters it has just read (`snapshot_with`).
    #[allow(dead_code)]
    pub(super) fn snapshot(&self) -> Snapshot {
        self.snapshot_with(&self.kernel_counters())
    }

    /// [`Agent::snapshot`] with the kernel's counters already read.
    pub(super) fn snapshot_with(&self, counters: &KernelCounters) -> Snapshot {
        let clocks = Clocks::now();
        let instances: Vec<InstanceStatus> = self
            .routers
            .iter()
            .map(|(i, vr)| self.router_status(i, vr, counters, clocks))
            .collect();
        let sync_groups = self
            .groups
            .iter()
            .map(|g| {
                let states: Vec<State> = g
                    .members
                    .iter()
                    .filter_map(|m| self.routers.values().find(|r| &r.name == m))
                    .map(|r| r.router.state())
                    .collect();
                SyncGroupStatus {
                    name: g.name.clone(),
                    members: g.members.clone(),
                    state: groups::group_state(states).map(|s| match s {
                        crate::notify::NotifyState::Master => InstanceState::Master,
                        crate::notify::NotifyState::Backup => InstanceState::Backup,
                        crate::notify::NotifyState::Fault => InstanceState::Fault,
                        _ => InstanceState::Init,
                    }),
                }
            })
            .collect();
        let (ring_events, ring_events_lost) = counters
            .values()
            .fold((0, 0), |(e, l), c| (e + c.events, l + c.events_lost));
        Snapshot {
            schema_version: SCHEMA_VERSION,
            taken_unix: clocks.wall,
            agent: AgentStatus {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                started_unix: unix_secs(self.obs.started_wall),
                uptime_secs: clocks.ago(self.obs.started_mono),
                config_file: self.opts.config.display().to_string(),
                pin_dir: self.opts.pin_dir.display().to_string(),
                control_socket: self
                    .obs
                    .control_socket
                    .as_ref()
                    .map(|p| p.display().to_string()),
                xdp: self
                    .dp
                    .attachments()
                    .iter()
                    .map(|a| XdpAttachment {
                        iface: a.iface.clone(),
                        ifindex: a.ifindex,
                        mode: a.mode.to_string(),
                    })
                    .collect(),
                kernel_watchdog: self.watchdog,
                pass_adverts: self.opts.pass_adverts,
                drop_unknown_vrids: self.opts.drop_unknown_vrids,
                ring_events_lost,
                ring_events,
            },
            instances,
            sync_groups,
        }
    }

    fn router_status(
        &self,
        i: RouterId,
        vr: &Vrouter,
        counters: &BTreeMap<vrrp_common::InstanceKey, Counters>,
        clocks: Clocks,
    ) -> InstanceStatus {
        let inst = &vr.inst;
        let state = if vr.awaiting_checks {
            InstanceState::Init
        } else {
            match vr.router.state() {
                State::Initialize => InstanceState::Init,
                State::Backup => InstanceState::Backup,
                State::Master => InstanceState::Master,
                State::Fault => InstanceState::Fault,
            }
        };
        let since = vr.obs.since.unwrap_or(self.obs.started_mono);
        let track = self.tracker.state.status(&vr.name);
        let inputs = self
            .tracker
            .state
            .inputs(&vr.name)
            .into_iter()
            .map(|t| TrackInput {
                kind: match t.keyword {
                    "track_interface" => TrackKind::Interface,
                    "track_file" => TrackKind::File,
                    _ => TrackKind::Script,
                },
                name: t.name,
                weight: t.weight,
                reverse: t.reverse,
                sync_group: t.group,
                state: t.state,
                file_value: t.file_value,
                contribution: t.contribution,
                fault: t.fault,
            })
            .collect();
        let records: Vec<PeerRecord> = match self.dp.peer_table(&vr.key) {
            Ok(Some(t)) => t
                .peers
                .into_iter()
                .filter(|r| r.last_seen_ns != 0)
                .collect(),
            _ => Vec::new(),
        };
        let peers = records
            .iter()
            .map(|r| peer_status(&PeerKey::new(vr.key, r.addr), r, clocks))
            .collect::<Vec<_>>();
        let master = if vr.router.state() == State::Master {
            vr.router.current_master().map(|m| MasterStatus {
                address: m.address.to_string(),
                is_self: true,
                priority: m.priority,
                advert_interval_secs: secs(vr.router.advertisement_interval()),
                last_heard_unix: None,
                last_heard_ago_secs: None,
            })
        } else {
            // A Backup does not wake per advert: the kernel's records say who is Master
            // now (the election may not have been fed the newest one yet).
            let heard = vr.router.current_master();
            let live = |r: &&PeerRecord| {
                let int = Centisecs::new(r.adver_int_cs).as_duration();
                r.priority > 0
                    && clocks
                        .mono
                        .saturating_since(MonoTime::from_nanos(r.last_seen_ns))
                        <= int * 3 + MASTER_SLACK
            };
            let best = records
                .iter()
                .filter(live)
                .max_by_key(|r| (r.priority, peer_addr(&PeerKey::new(vr.key, r.addr))));
            match (best, heard) {
                (Some(r), _) => Some(MasterStatus {
                    address: peer_addr(&PeerKey::new(vr.key, r.addr)).to_string(),
                    is_self: false,
                    priority: r.priority,
                    advert_interval_secs: secs(Centisecs::new(r.adver_int_cs)),
                    last_heard_unix: Some(clocks.unix(MonoTime::from_nanos(r.last_seen_ns))),
                    last_heard_ago_secs: Some(clocks.ago(MonoTime::from_nanos(r.last_seen_ns))),
                }),
                (None, Some(m)) => Some(MasterStatus {
                    address: m.address.to_string(),
                    is_self: false,
                    priority: m.priority,
                    advert_interval_secs: secs(vr.router.master_adver_interval()),
                    last_heard_unix: None,
                    last_heard_ago_secs: None,
                }),
                (None, None) => None,
            }
        };
        let advertised = inst.vips.len();
        let vips = vr
            .vips
            .iter()
            .enumerate()
            .map(|(k, v)| VipStatus {
                address: format!("{}/{}", v.addr, v.prefix_len),
                interface: v.dev.clone().unwrap_or_else(|| vr.iface.clone()),
                excluded: k >= advertised,
                held: vr.addrs.held.get(k).is_some_and(Option::is_some),
                present: None,
            })
            .collect();
        let c = counters.get(&vr.key).copied().unwrap_or_default();
        let n = &vr.obs.counts;
        let stats = InstanceStats {
            advert_rcvd: c.valid,
            advert_sent: n.advert_sent,
            become_master: n.become_master,
            release_master: n.release_master,
            packet_len_err: c.discard(Discard::Truncated) + c.discard(Discard::Length),
            advert_interval_err: c.discard(Discard::Interval) + n.interval_mismatch,
            ip_ttl_err: c.discard(Discard::Ttl),
            invalid_type_rcvd: c.discard(Discard::Type),
            addr_list_err: n.vip_count_mismatch,
            invalid_authtype: 0,
            authtype_mismatch: c.discard(Discard::AuthType),
            auth_failure: c.discard(Discard::AuthPass),
            pri_zero_rcvd: n.pri_zero_rcvd,
            pri_zero_sent: n.pri_zero_sent,
            chk_err: c.discard(Discard::Checksum),
            vers_err: c.discard(Discard::Version),
            transitions: vr.transitions,
            mismatches: n.mismatches(),
        };
        let mismatches = vr
            .obs
            .mismatches
            .iter()
            .map(|((peer, kind), (ours, theirs))| Mismatch {
                kind: *kind,
                peer: peer.map(|p| p.to_string()),
                ours: ours.clone(),
                theirs: theirs.clone(),
            })
            .collect();
        InstanceStatus {
            name: vr.name.clone(),
            interface: vr.iface.clone(),
            vrid: vr.key.vrid,
            family: family_of(vr.key.family),
            version: version_number(inst.version),
            state,
            state_since_unix: clocks.unix(since),
            state_for_secs: clocks.ago(since),
            state_reason: vr.obs.reason.clone(),
            fault_reason: self
                .fault_reason(i)
                .or(track.pending.map(|p| format!("waiting: {p}"))),
            sync_group: self.group_of(&vr.name).map(|g| self.groups[g].name.clone()),
            priority: PriorityStatus {
                configured: inst.priority,
                effective: vr.router.effective_priority(),
                tracking_delta: track.delta,
                inputs,
                maintenance: vr.router.in_maintenance(),
            },
            advert_interval_secs: secs(vr.router.advertisement_interval()),
            master_advert_interval_secs: secs(vr.router.master_adver_interval()),
            unicast_peers: inst.unicast_peers.iter().map(|p| p.to_string()).collect(),
            master,
            peers,
            vips,
            stats,
            discards: discards(&c),
            kernel_valid: c.valid,
            mismatches,
        }
    }
}

fn peer_status(key: &PeerKey, r: &PeerRecord, clocks: Clocks) -> PeerStatus {
    let m = r.src_mac;
    PeerStatus {
        address: peer_addr(key).to_string(),
        mac: format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        ),
        priority: r.priority,
        advert_interval_secs: secs(Centisecs::new(r.adver_int_cs)),
        version: r.version,
        addr_count: r.addr_count,
        first_seen_unix: clocks.unix(MonoTime::from_nanos(r.first_seen_ns)),
        last_seen_unix: clocks.unix(MonoTime::from_nanos(r.last_seen_ns)),
        last_seen_ago_secs: clocks.ago(MonoTime::from_nanos(r.last_seen_ns)),
        adverts: r.adverts,
        changes: r.changes,
    }
}

fn discards(c: &Counters) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = Discard::ALL
        .iter()
        .filter(|d| c.discard(**d) > 0)
        .map(|d| (d.name().to_string(), c.discard(*d)))
        .collect();
    // Not VRRP: packets to the VIPs dropped while Master in no_accept mode.
    if c.no_accept > 0 {
        out.insert("no_accept".to_string(), c.no_accept);
    }
    out
}

fn family_of(f: u8) -> Family {
    if f == vrrp_common::FAMILY_IPV6 {
        Family::Ipv6
    } else {
        Family::Ipv4
    }
}

fn version_number(v: Version) -> u8 {
    match v {
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(adver_int_cs: u16, addr_count: u8, priority: u8) -> PeerRecord {
        PeerRecord {
            adver_int_cs,
            addr_count,
            priority,
            last_seen_ns: 1,
            ..Default::default()
        }
    }

    const OURS: Ours = Ours {
        adver_int: Centisecs::new(100),
        addr_count: 1,
    };

    #[test]
    fn a_peer_with_our_settings_is_no_mismatch() {
        assert!(peer_mismatches(OURS, &rec(100, 1, 150)).is_empty());
    }

    #[test]
    fn interval_and_vip_count_mismatches_name_both_values() {
        let m = peer_mismatches(OURS, &rec(200, 3, 150));
        assert_eq!(
            m,
            vec![
                (
                    MismatchKind::AdvertInterval,
                    "1.00s".to_string(),
                    "2.00s".to_string()
                ),
                (MismatchKind::VipCount, "1".to_string(), "3".to_string()),
            ]
        );
    }

    #[test]
    fn a_priority_zero_advert_is_not_compared() {
        assert!(peer_mismatches(OURS, &rec(200, 3, 0)).is_empty());
    }

    #[test]
    fn a_mismatch_is_counted_once_per_peer_and_kind_until_it_clears() {
        let mut obs = RouterObs::default();
        let peer = Some(IpAddr::from([198, 18, 0, 2]));
        let other = Some(IpAddr::from([198, 18, 0, 3]));
        let found = || peer_mismatches(OURS, &rec(200, 1, 150));
        assert_eq!(obs.update_mismatches(peer, found()).len(), 1);
        assert!(
            obs.update_mismatches(peer, found()).is_empty(),
            "logged once"
        );
        assert_eq!(
            obs.update_mismatches(other, found()).len(),
            1,
            "another peer"
        );
        assert_eq!(obs.counts.interval_mismatch, 2);
        assert!(obs.update_mismatches(peer, Vec::new()).is_empty());
        assert_eq!(obs.mismatches.len(), 1, "cleared for the first peer");
        assert_eq!(
            obs.update_mismatches(peer, found()).len(),
            1,
            "starts again"
        );
        assert_eq!(obs.counts.mismatches(), 3);
    }

    #[test]
    fn master_transitions_are_counted() {
        let mut obs = RouterObs::default();
        let now = MonoTime::from_nanos(5);
        obs.state_changed(State::Initialize, State::Backup, &Reason::Startup, now);
        obs.state_changed(State::Backup, State::Master, &Reason::FaultCleared, now);
        obs.state_changed(State::Master, State::Fault, &Reason::Fault, now);
        assert_eq!(
            (obs.counts.become_master, obs.counts.release_master),
            (1, 1)
        );
        assert_eq!(obs.reason.as_deref(), Some("fault"));
        assert_eq!(obs.since, Some(now));
        obs.sent(true, 0);
        obs.sent(true, 100);
        obs.sent(false, 100);
        assert_eq!((obs.counts.advert_sent, obs.counts.pri_zero_sent), (2, 1));
    }
}
