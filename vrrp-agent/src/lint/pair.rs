//! Two nodes' configurations against each other: the mistakes the guides' troubleshooting
//! sections list, which each file alone passes (`keepalived -t`, `vrrp-agent check`).
//!
//! Pure functions over two loaded [`Config`]s: no I/O. Instances are matched by VRID and
//! address family (interface names may differ between nodes; when one node has several
//! instances of one VRID and family, the same interface name, then the most shared virtual
//! addresses, decide). Every [`Finding`] points at both files (file:line:column), falling
//! back to the `vrrp_instance` line when the setting was not written (a default applies).
//!
//! Errors (the pair cannot work; keepalived 2.2.7's `vrrp_check_packet` discards the other
//! node's adverts, so both become Master):
//! - [`FindingKind::Version`], [`FindingKind::AdvertInt`] (VRRPv2 only: v3 Backups learn
//!   the Master's interval), [`FindingKind::Auth`] (VRRPv2);
//! - [`FindingKind::VipSet`]: different `virtual_ipaddress` sets (order does not matter);
//!   [`FindingKind::VridConflict`]: no address in common, i.e. the VRID is used on one
//!   segment for two different virtual routers;
//! - [`FindingKind::UnicastMulticast`]; [`FindingKind::UnicastPeerMissing`]: a
//!   `unicast_peer` list without the other node's `unicast_src_ip`.
//!
//! Warnings (it works, but not as the operator thinks):
//! - [`FindingKind::UnicastPeerUnknown`]: the other node's source address is its interface's
//!   primary address, which the file does not say;
//! - [`FindingKind::Unmatched`]: an instance with no counterpart on the other node;
//! - [`FindingKind::EqualPriority`], [`FindingKind::BothMaster`],
//!   [`FindingKind::NopreemptMaster`];
//! - [`FindingKind::CheckCannotMove`]: a health check of the Master (track_script,
//!   track_file, track_interface, its own or its sync group's) that, failing, does not take
//!   the Master's priority strictly below the Backup's. The effective priorities come from
//!   [`Tracking`] itself, so every rule the agent applies (weights on failure if negative,
//!   on success if positive; file value × weight; weight 0 = FAULT; `reverse`; weights
//!   ignored in sync groups and for the address owner) applies here too. "Healthy" is each
//!   check's better state; "failing" its worse one; a track file fails at value 1 (and the
//!   message says which value would move the VIP). A Backup with `nopreempt` never takes
//!   over from a Master that still advertises, so then only FAULT moves the VIP.
use std::{cmp::Ordering, collections::BTreeSet, fmt::Write as _, net::IpAddr};

use crate::{
    config::{Auth, Config, Family, InitialState, Instance, Location, TrackRef, Version},
    track::{effective_priority, Tracking},
};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The pair cannot work as one virtual router.
    Error,
    /// It works, but not as the operator probably thinks.
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What is wrong; [`FindingKind::name`] is the stable identifier (JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    Version,
    AdvertInt,
    Auth,
    VipSet,
    VridConflict,
    UnicastMulticast,
    UnicastPeerMissing,
    UnicastPeerUnknown,
    Unmatched,
    EqualPriority,
    BothMaster,
    NopreemptMaster,
    CheckCannotMove,
}

impl FindingKind {
    pub fn severity(self) -> Severity {
        use FindingKind::*;
        match self {
            Version | AdvertInt | Auth | VipSet | VridConflict | UnicastMulticast
            | UnicastPeerMissing => Severity::Error,
            UnicastPeerUnknown | Unmatched | EqualPriority | BothMaster | NopreemptMaster
            | CheckCannotMove => Severity::Warning,
        }
    }

    pub fn name(self) -> &'static str {
        use FindingKind::*;
        match self {
            Version => "version",
            AdvertInt => "advert_int",
            Auth => "auth",
            VipSet => "vip_set",
            VridConflict => "vrid_conflict",
            UnicastMulticast => "unicast_multicast",
            UnicastPeerMissing => "unicast_peer_missing",
            UnicastPeerUnknown => "unicast_peer_unknown",
            Unmatched => "unmatched",
            EqualPriority => "equal_priority",
            BothMaster => "both_master",
            NopreemptMaster => "nopreempt_master",
            CheckCannotMove => "check_cannot_move",
        }
    }
}

/// One problem between the two nodes. Index 0 is the first node given, 1 the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub vrid: u8,
    pub family: Family,
    /// The instance on each node (`None`: that node has none for this VRID and family).
    pub instances: [Option<String>; 2],
    /// Where to look on each node (`None`: nothing to point at on that node).
    pub locations: [Option<Location>; 2],
    pub message: String,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

/// Every problem between node `a` and node `b`, in the order of `a`'s instances (then
/// `b`'s unmatched ones).
pub fn check_pair(a: &Config, b: &Config) -> Vec<Finding> {
    let (matched, only_a, only_b) = match_instances(a, b);
    let mut out = Vec::new();
    for (ia, ib) in matched {
        check_instances(a, ia, b, ib, &mut out);
    }
    for (idx, inst) in only_a
        .iter()
        .map(|i| (0, *i))
        .chain(only_b.iter().map(|i| (1, *i)))
    {
        let mut f = finding(
            FindingKind::Unmatched,
            inst,
            [None, None],
            format!(
                "vrrp_instance {} (VRID {}, {}) has no counterpart on the other node (no instance \
                 with this VRID and family): {} is Master of it alone and nothing takes over; add \
                 it to the other node or remove it",
                inst.name,
                inst.vrid,
                inst.family,
                node(inst)
            ),
        );
        f.instances[idx] = Some(inst.name.clone());
        f.locations[idx] = Some(inst.location.clone());
        out.push(f);
    }
    out
}

/// Pairs `a`'s instances with `b`'s by (VRID, family); the rest of each side.
fn match_instances<'a>(
    a: &'a Config,
    b: &'a Config,
) -> (
    Vec<(&'a Instance, &'a Instance)>,
    Vec<&'a Instance>,
    Vec<&'a Instance>,
) {
    let mut used = vec![false; b.instances.len()];
    let mut matched = Vec::new();
    let mut only_a = Vec::new();
    for ia in &a.instances {
        let best = b
            .instances
            .iter()
            .enumerate()
            .filter(|(j, ib)| !used[*j] && ib.vrid == ia.vrid && ib.family == ia.family)
            .max_by_key(|(j, ib)| {
                (
                    ib.interface == ia.interface,
                    vip_set(ia).intersection(&vip_set(ib)).count(),
                    std::cmp::Reverse(*j),
                )
            });
        match best {
            Some((j, ib)) => {
                used[j] = true;
                matched.push((ia, ib));
            }
            None => only_a.push(ia),
        }
    }
    let only_b = b
        .instances
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(i, _)| i)
        .collect();
    (matched, only_a, only_b)
}

fn vip_set(i: &Instance) -> BTreeSet<IpAddr> {
    i.vips.iter().map(|v| v.addr).collect()
}

/// The file an instance comes from, for messages.
fn node(i: &Instance) -> String {
    i.location.file.display().to_string()
}

/// `span` if written, else the `vrrp_instance` line.
fn at(i: &Instance, span: &Option<Location>) -> Option<Location> {
    Some(span.clone().unwrap_or_else(|| i.location.clone()))
}

fn finding(
    kind: FindingKind,
    i: &Instance,
    locations: [Option<Location>; 2],
    message: String,
) -> Finding {
    Finding {
        kind,
        vrid: i.vrid,
        family: i.family,
        instances: [None, None],
        locations,
        message,
    }
}

fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_instances(ca: &Config, a: &Instance, cb: &Config, b: &Instance, out: &mut Vec<Finding>) {
    let start = out.len();
    let mut push = |kind, la: Option<Location>, lb: Option<Location>, message: String| {
        out.push(finding(kind, a, [la, lb], message));
    };
    let (na, nb) = (node(a), node(b));

    // Version, advert_int, auth: each makes the other's adverts invalid.
    if a.version != b.version {
        push(
            FindingKind::Version,
            at(a, &a.spans.version),
            at(b, &b.spans.version),
            format!(
                "{na} speaks {} and {nb} {}: each discards the other's adverts (another version), \
                 so both become Master; set the same `version` (or global vrrp_version) on both",
                a.version, b.version
            ),
        );
    } else if a.version == Version::V2 {
        if a.advert_int != b.advert_int {
            push(
                FindingKind::AdvertInt,
                at(a, &a.spans.advert_int),
                at(b, &b.spans.advert_int),
                format!(
                    "advert_int differs ({na}: {} s, {nb}: {} s): a VRRPv2 router discards adverts \
                     with another interval (RFC 3768 §7.1), so both become Master; set the same \
                     advert_int on both",
                    a.advert_int.as_secs(),
                    b.advert_int.as_secs()
                ),
            );
        }
        if a.auth != b.auth {
            let what = match (&a.auth, &b.auth) {
                (Some(Auth::Pass(_)), Some(Auth::Pass(_))) => {
                    "the auth_pass passwords differ (compared as sent: their first 8 characters)"
                        .to_string()
                }
                (Some(_), None) => format!("{na} has `auth_type PASS`, {nb} no authentication"),
                (None, _) => format!("{na} has no authentication, {nb} `auth_type PASS`"),
            };
            push(
                FindingKind::Auth,
                at(a, &a.spans.auth),
                at(b, &b.spans.auth),
                format!(
                    "{what}: each discards the other's adverts (RFC 3768 §7.1), so both become \
                     Master; use the same authentication block on both"
                ),
            );
        }
    }

    // Virtual addresses: keepalived discards an advert whose address list is not its own
    // ("ip address associated with VRID not present").
    let (sa, sb) = (vip_set(a), vip_set(b));
    if sa != sb {
        let only_a: Vec<_> = a.vips.iter().filter(|v| !sb.contains(&v.addr)).collect();
        let only_b: Vec<_> = b.vips.iter().filter(|v| !sa.contains(&v.addr)).collect();
        // The first address only that side has, else its first address.
        let la = only_a
            .first()
            .copied()
            .or(a.vips.first())
            .map(|v| v.location.clone());
        let lb = only_b
            .first()
            .copied()
            .or(b.vips.first())
            .map(|v| v.location.clone());
        if sa.is_disjoint(&sb) {
            push(
                FindingKind::VridConflict,
                la,
                lb,
                format!(
                    "VRID {} ({}) is used on both nodes for different virtual routers ({na}: {}; \
                     {nb}: {}): on one segment each discards the other's adverts (address \
                     mismatch), so both become Master of their own addresses; give one of them \
                     another virtual_router_id, or the same addresses",
                    a.vrid,
                    a.family,
                    join(&sa),
                    join(&sb)
                ),
            );
        } else {
            let mut what = Vec::new();
            if !only_a.is_empty() {
                what.push(format!(
                    "only {na} has {}",
                    join(only_a.iter().map(|v| v.addr))
                ));
            }
            if !only_b.is_empty() {
                what.push(format!(
                    "only {nb} has {}",
                    join(only_b.iter().map(|v| v.addr))
                ));
            }
            push(
                FindingKind::VipSet,
                la,
                lb,
                format!(
                    "the virtual_ipaddress sets differ ({}; order does not matter): each discards \
                     the other's adverts (address mismatch), so both become Master; list the same \
                     addresses on both",
                    what.join(", ")
                ),
            );
        }
    }

    // Unicast against multicast; unicast peers.
    match (a.is_unicast(), b.is_unicast()) {
        (true, false) | (false, true) => {
            let (u, m) = if a.is_unicast() {
                (&na, &nb)
            } else {
                (&nb, &na)
            };
            push(
                FindingKind::UnicastMulticast,
                peer_list_at(a),
                peer_list_at(b),
                format!(
                    "{u} sends adverts by unicast (unicast_peer) and {m} by multicast: each discards \
                     the other's (\"expected unicast/multicast packet\"), so both become Master; \
                     give both nodes a unicast_peer list, or neither"
                ),
            );
        }
        (true, true) => {
            for (x, y, x_first) in [(a, b, true), (b, a, false)] {
                let (nx, ny) = (node(x), node(y));
                let peers = join(&x.unicast_peers);
                let (lx, ly) = (peer_list_at(x), at(y, &y.spans.unicast_src_ip));
                let (l0, l1) = if x_first { (lx, ly) } else { (ly, lx) };
                match y.src_ip() {
                    Some(src) if !x.unicast_peers.contains(&src) => push(
                        FindingKind::UnicastPeerMissing,
                        l0,
                        l1,
                        format!(
                            "{nx}'s unicast_peer list ({peers}) does not contain {ny}'s source \
                             address {src} (unicast_src_ip): {nx} discards {ny}'s adverts (\"not a \
                             unicast peer\") and does not send it its own, so both become Master; \
                             add {src} to {nx}'s unicast_peer"
                        ),
                    ),
                    Some(_) => {}
                    None => push(
                        FindingKind::UnicastPeerUnknown,
                        l0,
                        l1,
                        format!(
                            "{ny} has no unicast_src_ip: its adverts leave from the primary \
                             address of its interface {}, which the file does not say, so \
                             whether {nx}'s unicast_peer list ({peers}) contains it cannot be \
                             checked; set unicast_src_ip on {ny}",
                            y.interface
                        ),
                    ),
                }
            }
        }
        (false, false) => {}
    }

    // Priorities and start states.
    if a.priority == b.priority {
        let winner = match (a.src_ip(), b.src_ip()) {
            (Some(x), Some(y)) if x != y => {
                let (w, ip) = if ip_greater(x, y) { (&na, x) } else { (&nb, y) };
                format!("here {w} wins: its source address {ip} is the higher")
            }
            _ => "the files do not say the addresses (no unicast_src_ip)".to_string(),
        };
        push(
            FindingKind::EqualPriority,
            at(a, &a.spans.priority),
            at(b, &b.spans.priority),
            format!(
                "both nodes have priority {}: the Master is the one with the higher primary \
                 address (RFC 9568 §6.4.3 tie-break), whatever `state` says; {winner}; give the \
                 intended Master a higher priority",
                a.priority
            ),
        );
    }
    if a.state == InitialState::Master && b.state == InitialState::Master {
        push(
            FindingKind::BothMaster,
            at(a, &a.spans.state),
            at(b, &b.spans.state),
            "both nodes start with `state MASTER`: each sends adverts and holds the addresses \
             until it hears the other, then the lower priority (or address) gives way; write \
             `state BACKUP` on the intended Backup"
                .to_string(),
        );
    }
    for (x, y, x_first) in [(a, b, true), (b, a, false)] {
        if let (InitialState::Master, Some(np)) = (x.state, &x.spans.nopreempt) {
            let lx = Some(np.clone());
            let ly = at(y, &y.spans.state);
            let (l0, l1) = if x_first { (lx, ly) } else { (ly, lx) };
            push(
                FindingKind::NopreemptMaster,
                l0,
                l1,
                format!(
                    "{} has nopreempt with `state MASTER`: keepalived ignores nopreempt there, so \
                     this node takes the addresses back whenever it can; to stop preemption write \
                     `state BACKUP` (with nopreempt) on both nodes",
                    node(x)
                ),
            );
        }
    }

    // Health checks of the Master.
    let a_master = match a.priority.cmp(&b.priority) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => a.state == InitialState::Master || b.state != InitialState::Master,
    };
    if a_master {
        check_moves(ca, a, cb, b, true, &mut push);
    } else {
        check_moves(cb, b, ca, a, false, &mut push);
    }

    for f in &mut out[start..] {
        f.instances = [Some(a.name.clone()), Some(b.name.clone())];
    }
}

/// Where an instance's unicast_peer list is (its first peer), else the instance.
fn peer_list_at(i: &Instance) -> Option<Location> {
    at(i, &i.spans.unicast_peers.first().cloned())
}

/// RFC 9568 §6.4.3: "the primary IP addresses are compared as unsigned integers".
fn ip_greater(x: IpAddr, y: IpAddr) -> bool {
    match (x, y) {
        (IpAddr::V4(x), IpAddr::V4(y)) => u32::from(x) > u32::from(y),
        (IpAddr::V6(x), IpAddr::V6(y)) => u128::from(x) > u128::from(y),
        _ => false,
    }
}

/// The priority tracking leaves an instance at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prio {
    Fault,
    Up(u8),
}

impl std::fmt::Display for Prio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prio::Fault => f.write_str("FAULT"),
            Prio::Up(p) => write!(f, "{p}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Script,
    Interface,
    File,
}

impl ProbeKind {
    fn keyword(self) -> &'static str {
        match self {
            ProbeKind::Script => "track_script",
            ProbeKind::Interface => "track_interface",
            ProbeKind::File => "track_file",
        }
    }
}

/// A state to put a tracked object in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Script(bool),
    Interface(bool),
    File(i64),
}

/// One health check of an instance, with its better and worse state.
#[derive(Debug, Clone)]
struct Check {
    kind: ProbeKind,
    name: String,
    /// The track_* reference (the instance's, or its sync group's).
    location: Location,
    weight: String,
    /// The worse of its two states (the better one is in [`Health::tracking`]).
    failing: Probe,
}

impl Check {
    fn label(&self) -> String {
        format!("{} {} ({})", self.kind.keyword(), self.name, self.weight)
    }
}

fn apply(t: &mut Tracking, name: &str, p: Probe) {
    match p {
        Probe::Script(good) => t.set_script_health(name, good),
        Probe::Interface(up) => t.interface_state(name, up),
        Probe::File(v) => t.file_value(name, v),
    };
}

fn prio(t: &Tracking, i: &Instance) -> Prio {
    let st = t.status(&i.name);
    if st.fault.is_some() {
        Prio::Fault
    } else {
        Prio::Up(effective_priority(i.priority, &st))
    }
}

/// The weight as written (or inherited from the object), for messages.
fn weight_text(c: &Config, kind: ProbeKind, r: &TrackRef) -> String {
    let (w, rev) = match kind {
        ProbeKind::Script => {
            let s = c.script(&r.name);
            (
                r.weight.or(s.map(|s| s.weight)).unwrap_or(0),
                r.reverse.or(s.map(|s| s.reverse)).unwrap_or(false),
            )
        }
        ProbeKind::File => {
            let f = c.track_file(&r.name);
            (
                r.weight.or(f.map(|f| f.weight)).unwrap_or(1),
                r.reverse.or(f.map(|f| f.reverse)).unwrap_or(false),
            )
        }
        ProbeKind::Interface => (r.weight.unwrap_or(0), r.reverse.unwrap_or(false)),
    };
    if rev {
        format!("weight {w} reverse")
    } else {
        format!("weight {w}")
    }
}

/// Tracking with every object of `c` healthy for `i`, and `i`'s checks.
struct Health {
    tracking: Tracking,
    checks: Vec<Check>,
    prio: Prio,
}

fn health(c: &Config, i: &Instance) -> Health {
    let mut t = Tracking::new(c);
    for s in t.scripts() {
        t.set_script_health(&s, true);
    }
    for name in t.interfaces() {
        t.interface_state(&name, true);
    }
    let group = c.sync_group_of(&i.name);
    let mut refs: Vec<(ProbeKind, &TrackRef)> = Vec::new();
    let own = [
        (ProbeKind::Script, &i.track_scripts),
        (ProbeKind::Interface, &i.track_interfaces),
        (ProbeKind::File, &i.track_files),
    ];
    let of_group = group.map(|g| {
        [
            (ProbeKind::Script, &g.track_scripts),
            (ProbeKind::Interface, &g.track_interfaces),
            (ProbeKind::File, &g.track_files),
        ]
    });
    for (kind, list) in own.into_iter().chain(of_group.into_iter().flatten()) {
        for r in list {
            if !refs.iter().any(|(k, x)| *k == kind && x.name == r.name) {
                refs.push((kind, r));
            }
        }
    }
    let mut checks = Vec::new();
    for (kind, r) in refs {
        let (p1, p2) = match kind {
            ProbeKind::Script => (Probe::Script(true), Probe::Script(false)),
            ProbeKind::Interface => (Probe::Interface(true), Probe::Interface(false)),
            ProbeKind::File => (Probe::File(0), Probe::File(1)),
        };
        let mut t2 = t.clone();
        apply(&mut t2, &r.name, p2);
        let failing = if prio(&t2, i) > prio(&t, i) {
            t = t2;
            p1
        } else {
            p2
        };
        checks.push(Check {
            kind,
            name: r.name.clone(),
            location: r.location.clone(),
            weight: weight_text(c, kind, r),
            failing,
        });
    }
    let prio = prio(&t, i);
    Health {
        tracking: t,
        checks,
        prio,
    }
}

/// The most checks searched for the smallest failing combination (2^16 combinations).
const MAX_COMBINATION_CHECKS: usize = 16;

/// For each health check of `master`: does it, failing, take the Master strictly below the
/// Backup's healthy priority (or into FAULT)? A warning for each that does not, naming the
/// smallest set of failing checks that does.
fn check_moves(
    cm: &Config,
    master: &Instance,
    cb: &Config,
    backup: &Instance,
    master_is_a: bool,
    push: &mut impl FnMut(FindingKind, Option<Location>, Option<Location>, String),
) {
    let hm = health(cm, master);
    let hb = health(cb, backup);
    let (Prio::Up(pm), Prio::Up(pb)) = (hm.prio, hb.prio) else {
        return;
    };
    if pm <= pb || hm.checks.is_empty() {
        return;
    }
    let (nm, nb) = (node(master), node(backup));
    let with_failing = |failing: &[&Check]| -> Prio {
        let mut t = hm.tracking.clone();
        for c in failing {
            apply(&mut t, &c.name, c.failing);
        }
        prio(&t, master)
    };
    // A Backup with nopreempt never takes over from a Master that still advertises, at
    // whatever priority (keepalived's vrrp_state_backup, RFC 9568 §6.4.2): only FAULT (the
    // Master stops advertising) moves the addresses then.
    let moves = |p: Prio| match p {
        Prio::Fault => true,
        Prio::Up(p) => backup.preempt && p < pb,
    };
    let stuck: Vec<(&Check, Prio)> = hm
        .checks
        .iter()
        .map(|c| (c, with_failing(&[c])))
        .filter(|(_, p)| !moves(*p))
        .collect();
    if stuck.is_empty() {
        return;
    }
    let n = hm.checks.len();
    let combination = if n > MAX_COMBINATION_CHECKS {
        format!("with more than {MAX_COMBINATION_CHECKS} checks the combinations were not searched")
    } else {
        let masks = (1u32..(1 << n)).filter(|m| m.count_ones() > 1);
        let mut masks: Vec<u32> = masks.collect();
        masks.sort_by_key(|m| m.count_ones());
        let single = hm
            .checks
            .iter()
            .map(|c| (vec![c], with_failing(&[c])))
            .find(|(_, p)| moves(*p));
        let found = single.or_else(|| {
            masks.into_iter().find_map(|m| {
                let set: Vec<&Check> = (0..n)
                    .filter(|b| m & (1 << b) != 0)
                    .map(|b| &hm.checks[b])
                    .collect();
                let p = with_failing(&set);
                moves(p).then_some((set, p))
            })
        });
        match found {
            Some((set, p)) => format!(
                "the smallest set of failing checks that moves it: {} ({nm} then at {p})",
                set.iter()
                    .map(|c| c.label())
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
            None => {
                let all: Vec<&Check> = hm.checks.iter().collect();
                format!(
                    "no combination moves it: with every check failing {nm} is at {}",
                    with_failing(&all)
                )
            }
        }
    };
    let backup_at = if backup.preempt {
        at(backup, &backup.spans.priority)
    } else {
        at(backup, &backup.spans.nopreempt)
    };
    for (c, p) in stuck {
        let mut msg = format!(
            "{} on the Master {nm} cannot move the virtual addresses: failing, it takes {} from \
             priority {pm} to {p}, ",
            c.label(),
            master.name
        );
        if !backup.preempt {
            let _ = write!(
                msg,
                "but the Backup {nb} has nopreempt: it never takes over from a Master that still \
                 advertises, whatever its priority (only FAULT, weight 0, or a stopped Master \
                 moves the addresses)"
            );
        } else if p == Prio::Up(pb) {
            let _ = write!(
                msg,
                "equal to the Backup's {pb} ({nb}), and at equal priority the Master stays (a \
                 Backup takes over only from a lower priority)"
            );
        } else {
            let _ = write!(msg, "still above the Backup's {pb} ({nb})");
        }
        if c.kind == ProbeKind::File {
            if let Some(v) = file_threshold(&hm, master, c, pb, backup.preempt) {
                let _ = write!(msg, "; it would move with the file holding {v}");
            }
        }
        if !backup.preempt {
            let _ = write!(
                msg,
                "; {combination}; use weight 0 (FAULT) for checks that must move the addresses, \
                 or drop nopreempt on {nb}"
            );
        } else if master.is_address_owner() {
            let _ = write!(
                msg,
                "; {combination}; the address owner's priority (255) never changes: use weight 0 \
                 (FAULT) or a lower priority"
            );
        } else {
            let _ = write!(
                msg,
                "; {combination}; make the weight's magnitude larger than {} or use weight 0 \
                 (FAULT)",
                pm - pb
            );
        }
        let lm = Some(c.location.clone());
        let (l0, l1) = if master_is_a {
            (lm, backup_at.clone())
        } else {
            (backup_at.clone(), lm)
        };
        push(FindingKind::CheckCannotMove, l0, l1, msg);
    }
}

/// The value of smallest magnitude that, held by track file `c`, moves the Master below
/// `pb` ("N or more" / "-N or less"), if any (into FAULT only, when the Backup does not
/// preempt).
fn file_threshold(
    hm: &Health,
    master: &Instance,
    c: &Check,
    pb: u8,
    preempt: bool,
) -> Option<String> {
    let moves_at = |v: i64| {
        let mut t = hm.tracking.clone();
        apply(&mut t, &c.name, Probe::File(v));
        match prio(&t, master) {
            Prio::Fault => true,
            Prio::Up(p) => preempt && p < pb,
        }
    };
    const FAR: i64 = 1 << 40;
    let mut best: Option<i64> = None;
    for sign in [1i64, -1] {
        if !moves_at(sign * FAR) {
            continue;
        }
        // Smallest magnitude that moves it: contributions grow with |value|.
        let (mut lo, mut hi) = (0i64, FAR);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if moves_at(sign * mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        if best.is_none_or(|b| hi < b.abs()) {
            best = Some(sign * hi);
        }
    }
    best.map(|v| {
        if v > 0 {
            format!("{v} or more")
        } else {
            format!("{v} or less")
        }
    })
}
