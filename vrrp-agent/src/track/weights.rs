//! The tracking state and the priority weights and FAULT it implies, sans-I/O: no files, no
//! processes, no clock, no logging. The monitors (scripts, inotify) and the runtime (link
//! events) feed it results; it answers, per instance, "FAULT or not, and by how much is the
//! priority adjusted".
//!
//! Every rule is keepalived 2.2.7's; the comments name the place:
//! - `vrrp_track.c`: `process_script_update_priority`, `initialise_track_script_state`,
//!   `initialise_interface_tracking_priorities`;
//! - `vrrp_scheduler.c`: `vrrp_init_script` (start values) and `vrrp_script_child_thread`
//!   (rise/fall counting);
//! - `core/track_file.c`: `update_track_file_status`, `process_update_vrrp_track_file_status`;
//! - `vrrp.c`: `vrrp_complete_instance` and `sync_group_tracking_init` (weights ignored in
//!   sync groups and for the address owner), `add_vrrp_to_track_script` (an object tracked by
//!   both an instance and its sync group), `vrrp_set_effective_priority` (clamping).
//!
//! A tracked object's *contribution* to an instance depends only on the object's state and
//! the reference's weight and `reverse` (multiplier -1), so the status is recomputed from
//! scratch on every change (keepalived keeps a running total; the result is the same):
//!
//! | object state          | weight 0                  | weight w > 0 | weight w < 0 |
//! |-----------------------|---------------------------|--------------|--------------|
//! | script OK / link up   | FAULT if reverse          | + w × m      | 0            |
//! | script KO / link down | FAULT unless reverse      | 0            | + w × m      |
//! | script not run yet    | pending (keepalived INIT) | 0            | 0            |
//!
//! (m = -1 with `reverse`, else 1.) A track file holding v: with weight 0, FAULT when
//! (v ≠ 0) ≠ reverse; otherwise v × w × m, limited to -254..=253, where -254 is FAULT.
//!
//! A tracked process (`vrrp_track_process`) is OK while it has quorum, and counts like a
//! link: up = quorum (`initialise_process_tracking_priorities`,
//! `process_update_track_process_status`). Unlike scripts, keepalived 2.2.7 keeps a
//! process's weight in a sync group member (`vrrp_complete_instance` does not filter
//! `track_process`), so this does too. The process monitor reports every process's state
//! before the instances start (it scans /proc first).
//!
//! Interfaces nothing has reported yet count as down (keepalived: an interface that does
//! not exist is down).
use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, TrackRef};

use super::TrackEvent;

/// Smallest value a track file contribution can have; at it the instance is in FAULT
/// (keepalived: "if the result is less than -253 anything monitoring the script will
/// transition to the fault state", man keepalived.conf, Track files).
const FILE_FAULT: i64 = -254;
/// Largest value a track file contribution can have.
const FILE_MAX: i64 = 253;

/// What tracking does to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackStatus {
    /// Why the instance must be in FAULT (every reason, `; `-separated), e.g.
    /// `track_script chk_nginx failing (weight 0)`. `None`: tracking does not hold it there.
    pub fault: Option<String>,
    /// Sum of the weights in force, added to the configured priority.
    pub delta: i32,
    /// Weight-0 scripts that have not reported yet (no `init_fail`): keepalived keeps the
    /// instance in its INIT state, neither FAULT nor running, until each has run once (its
    /// first run starts at once). `None` when there are none.
    pub pending: Option<String>,
}

/// The priority to advertise: `base` plus the weights, limited to 1..=254
/// (`vrrp_set_effective_priority`). The address owner (255) never changes: "if an instance
/// has priority 255 configured, the priority cannot be reduced by track_scripts [...] and
/// likewise track_scripts etc cannot increase the priority to 255" (man keepalived.conf).
/// FAULT is separate: see [`TrackStatus::fault`].
pub fn effective_priority(base: u8, status: &TrackStatus) -> u8 {
    if base == 255 {
        return 255;
    }
    let p = i64::from(base) + i64::from(status.delta);
    // In 1..=254, so the conversion cannot fail.
    u8::try_from(p.clamp(1, 254)).unwrap_or(1)
}

/// One tracked object of an instance and what it does to it now ([`Tracking::inputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInput {
    /// `track_script`, `track_interface`, `track_file` or `track_process`.
    pub keyword: &'static str,
    /// The object's name.
    pub name: String,
    /// The weight in force (0: FAULT instead of a weight).
    pub weight: i64,
    /// `reverse`.
    pub reverse: bool,
    /// The sync group the reference comes from, if any.
    pub group: Option<String>,
    /// A script's `ok`, `failing`, `not run yet` or `disabled`; an interface's `up` or
    /// `down`; a file's value (or `disabled`); a process's `quorum`, `no quorum` or
    /// `disabled`.
    pub state: String,
    /// A track file's value.
    pub file_value: Option<i64>,
    /// What it adds to the priority now.
    pub contribution: i64,
    /// It holds the instance in FAULT now.
    pub fault: bool,
}

/// The state of a `vrrp_script`, as its runs have left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptHealth {
    /// Not run yet (and no `init_fail`): its first result decides.
    Unknown,
    /// `rise` consecutive successes (or the first success).
    Good,
    /// `fall` consecutive failures, or `init_fail` before `rise` successes.
    Bad,
}

/// keepalived's `result` counter: OK when `result >= rise`; `init` while it has not run.
#[derive(Debug, Clone)]
struct ScriptState {
    rise: u32,
    fall: u32,
    result: u32,
    /// keepalived's SCRIPT_INIT_STATE_INIT: never run and no `init_fail`.
    init: bool,
    /// keepalived removes a script it refuses to run from every track_script list.
    disabled: bool,
}

impl ScriptState {
    /// `vrrp_init_script`: without `init_fail`, `result = rise - 1` ("one success is
    /// enough"; one failure is enough too); with it, `result = 0` ("assume failed by
    /// config": `rise` successes needed).
    fn new(rise: u32, fall: u32, init_fail: bool) -> ScriptState {
        let rise = rise.max(1);
        ScriptState {
            rise,
            fall: fall.max(1),
            result: if init_fail { 0 } else { rise - 1 },
            init: !init_fail,
            disabled: false,
        }
    }

    fn health(&self) -> ScriptHealth {
        if self.init {
            ScriptHealth::Unknown
        } else if self.result >= self.rise {
            ScriptHealth::Good
        } else {
            ScriptHealth::Bad
        }
    }

    /// `vrrp_script_child_thread`: a success moves towards OK one step at a time and, on
    /// reaching it, jumps to `rise + fall - 1` (so `fall` failures are needed to go KO); a
    /// failure moves down one step while above `rise` and otherwise drops to 0 (so `rise`
    /// successes are needed to go OK).
    fn record(&mut self, success: bool) {
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = self.rise + self.fall - 1;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.init = false;
    }
}

#[derive(Debug, Clone)]
struct FileState {
    value: i64,
    disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Script,
    Interface,
    File,
    Process,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Script => "track_script",
            Kind::Interface => "track_interface",
            Kind::File => "track_file",
            Kind::Process => "track_process",
        }
    }
}

/// One resolved reference: the weight and direction in force for this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    kind: Kind,
    name: String,
    weight: i64,
    reverse: bool,
    /// The sync group it comes from, if any.
    group: Option<String>,
}

impl Ref {
    fn label(&self) -> String {
        match &self.group {
            Some(g) => format!("{} {} (of sync group {g})", self.kind.keyword(), self.name),
            None => format!("{} {}", self.kind.keyword(), self.name),
        }
    }

    fn weight_text(&self) -> String {
        if self.reverse {
            format!("weight {} reverse", self.weight)
        } else {
            format!("weight {}", self.weight)
        }
    }
}

/// What one reference does to its instance.
enum Effect {
    None,
    Delta(i64),
    Fault(String),
    Pending(String),
}

#[derive(Debug, Clone)]
struct InstanceRefs {
    name: String,
    owner: bool,
    refs: Vec<Ref>,
}

/// The tracking state of a whole configuration: one object per tracked script, file and
/// interface that something references, and per instance the references in force (its own
/// and its sync group's).
#[derive(Debug, Clone)]
pub struct Tracking {
    scripts: BTreeMap<String, ScriptState>,
    files: BTreeMap<String, FileState>,
    /// Up (keepalived: IFF_UP and IFF_RUNNING). Unknown interfaces count as down, as
    /// keepalived counts an interface that does not exist.
    interfaces: BTreeMap<String, bool>,
    /// Tracked processes: quorum or not (`None` while disabled: the kernel's process events
    /// are not available).
    processes: BTreeMap<String, Option<bool>>,
    instances: Vec<InstanceRefs>,
    notes: Vec<String>,
}

impl Tracking {
    /// Resolves every `track_script`, `track_interface` and `track_file` of `config`.
    /// Scripts start per `init_fail`, files at 0 (a missing file), interfaces down: the
    /// runtime reports each tracked interface's state (see [`Tracking::interfaces`]) and the
    /// monitors report each file's value before anything else.
    ///
    /// What keepalived changes on the way is in [`Tracking::notes`].
    pub fn new(config: &Config) -> Tracking {
        let mut t = Tracking {
            scripts: BTreeMap::new(),
            files: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            processes: BTreeMap::new(),
            instances: Vec::new(),
            notes: Vec::new(),
        };
        for inst in &config.instances {
            let group = config.sync_group_of(&inst.name);
            let owner = inst.priority == 255;
            let mut refs = Vec::new();
            // vrrp_complete_instance: in a sync group (keepalived's sync_group_tracking_weight
            // is not supported, so always) or as address owner, weights are ignored.
            let why = match (group, owner) {
                (Some(g), _) => Some(format!(
                    "{} is a member of sync group {} (keepalived ignores weighted tracking \
                     there)",
                    inst.name, g.name
                )),
                (None, true) => Some(format!(
                    "{} is the address owner (priority 255), whose priority never changes",
                    inst.name
                )),
                (None, false) => None,
            };
            for (kind, list) in [
                (Kind::Script, &inst.track_scripts),
                (Kind::Interface, &inst.track_interfaces),
                (Kind::File, &inst.track_files),
                (Kind::Process, &inst.track_processes),
            ] {
                for r in list {
                    let Some(mut res) = t.resolve(config, kind, r, None, &inst.name) else {
                        continue;
                    };
                    // keepalived keeps weighted processes in sync groups; the owner's
                    // priority never moves anyway (effective_priority).
                    let filtered = kind != Kind::Process && res.weight != 0;
                    if let (Some(why), true) = (&why, filtered) {
                        match kind {
                            // Sync group member: weight set to 0; owner: not tracked at all.
                            Kind::Interface if group.is_some() => {
                                t.notes.push(format!(
                                    "{}: track_interface {} weight {} is ignored, the \
                                     interface going down means FAULT: {why}",
                                    inst.name, res.name, res.weight
                                ));
                                res.weight = 0;
                            }
                            // weight 1 is the default: made unweighted; others dropped.
                            Kind::File if res.weight == 1 => {
                                t.notes.push(format!(
                                    "{}: track_file {} weight 1 is ignored, a non-zero value \
                                     means FAULT (write `weight 0` to say so): {why}",
                                    inst.name, res.name
                                ));
                                res.weight = 0;
                            }
                            _ => {
                                t.notes.push(format!(
                                    "{}: {} {} ({}) is ignored: {why}",
                                    inst.name,
                                    kind.keyword(),
                                    res.name,
                                    res.weight_text()
                                ));
                                continue;
                            }
                        }
                    }
                    push_unique(&mut refs, res, &inst.name, &mut t.notes);
                }
            }
            // vrrp_complete_instance: the `dev` of a tracked virtual route, and the
            // `iif`/`oif` of a tracked virtual rule, are tracked as interfaces with weight 0
            // (TRACK_ROUTE, TRACK_RULE): down = FAULT. An explicit track_interface wins.
            let devs = inst
                .virtual_routes
                .iter()
                .filter(|r| !r.no_track)
                .filter_map(|r| r.dev.as_ref())
                .chain(
                    inst.virtual_rules
                        .iter()
                        .filter(|r| !r.no_track)
                        .flat_map(|r| r.iif.iter().chain(r.oif.iter())),
                );
            for dev in devs {
                if !refs
                    .iter()
                    .any(|e| e.kind == Kind::Interface && &e.name == dev)
                {
                    refs.push(Ref {
                        kind: Kind::Interface,
                        name: dev.clone(),
                        weight: 0,
                        reverse: false,
                        group: None,
                    });
                }
            }
            if let Some(g) = group {
                // sync_group_tracking_init: a member that is the address owner makes every
                // weight of the group's own tracking 0.
                let owner_member = g
                    .members
                    .iter()
                    .find(|m| config.instance(m).is_some_and(|i| i.priority == 255));
                for (kind, list) in [
                    (Kind::Script, &g.track_scripts),
                    (Kind::Interface, &g.track_interfaces),
                    (Kind::File, &g.track_files),
                    (Kind::Process, &g.track_processes),
                ] {
                    for r in list {
                        let Some(mut res) = t.resolve(config, kind, r, Some(&g.name), &inst.name)
                        else {
                            continue;
                        };
                        if let (Some(o), true) = (owner_member, res.weight != 0) {
                            t.notes.push(format!(
                                "sync group {}: {} {} ({}) is made weight 0: member {o} is \
                                 the address owner",
                                g.name,
                                kind.keyword(),
                                res.name,
                                res.weight_text()
                            ));
                            res.weight = 0;
                        }
                        merge_group_ref(&mut refs, res, &inst.name, &mut t.notes);
                    }
                }
            }
            t.instances.push(InstanceRefs {
                name: inst.name.clone(),
                owner,
                refs,
            });
        }
        // The objects something still tracks (keepalived drops the others: "script %s is
        // not used").
        for r in t.instances.iter().flat_map(|i| &i.refs) {
            match r.kind {
                Kind::Script => {
                    if let Some(s) = config.script(&r.name) {
                        t.scripts
                            .entry(r.name.clone())
                            .or_insert_with(|| ScriptState::new(s.rise, s.fall, s.init_fail));
                    }
                }
                Kind::File => {
                    t.files.entry(r.name.clone()).or_insert(FileState {
                        value: 0,
                        disabled: false,
                    });
                }
                Kind::Interface => {
                    t.interfaces.entry(r.name.clone()).or_insert(false);
                }
                Kind::Process => {
                    t.processes.entry(r.name.clone()).or_insert(Some(false));
                }
            }
        }
        // One note per group, not one per member.
        let mut seen = BTreeSet::new();
        t.notes.retain(|n| seen.insert(n.clone()));
        t
    }

    /// Turns a configured reference into the weight and direction in force. `None` (with a note) when the object is not defined; the
    /// configuration checker reports that as an error, so it only happens to hand-built
    /// configurations.
    fn resolve(
        &mut self,
        config: &Config,
        kind: Kind,
        r: &TrackRef,
        group: Option<&str>,
        instance: &str,
    ) -> Option<Ref> {
        // A reference without `weight` takes the object's weight and `reverse`; with one it
        // still inherits the object's `reverse` (alloc_track_script: `reverse =
        // vsc->weight_reverse` unless `reverse`/`noreverse` follows the weight). The parsed
        // TrackRef cannot tell `noreverse` from nothing, so the object's `reverse` wins.
        let (weight, reverse) = match kind {
            Kind::Script => {
                let Some(s) = config.script(&r.name) else {
                    self.notes.push(format!(
                        "{instance}: track_script {} names no vrrp_script: ignored",
                        r.name
                    ));
                    return None;
                };
                (
                    i64::from(r.weight.unwrap_or(s.weight)),
                    r.reverse.unwrap_or(s.reverse),
                )
            }
            Kind::File => {
                let Some(f) = config.track_file(&r.name) else {
                    self.notes.push(format!(
                        "{instance}: track_file {} names no vrrp_track_file: ignored",
                        r.name
                    ));
                    return None;
                };
                (
                    i64::from(r.weight.unwrap_or(f.weight)),
                    r.reverse.unwrap_or(f.reverse),
                )
            }
            Kind::Interface => (i64::from(r.weight.unwrap_or(0)), r.reverse.unwrap_or(false)),
            Kind::Process => {
                let Some(p) = config.track_process(&r.name) else {
                    self.notes.push(format!(
                        "{instance}: track_process {} names no vrrp_track_process: ignored",
                        r.name
                    ));
                    return None;
                };
                (
                    i64::from(r.weight.unwrap_or(p.weight)),
                    r.reverse.unwrap_or(p.reverse),
                )
            }
        };
        Some(Ref {
            kind,
            name: r.name.clone(),
            weight,
            reverse,
            group: group.map(str::to_string),
        })
    }

    /// What keepalived would have logged while resolving the references: weights it ignores
    /// (sync group members, the address owner), duplicates. Log these at start-up.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The tracked interfaces, for the runtime to report their state.
    pub fn interfaces(&self) -> Vec<String> {
        self.interfaces.keys().cloned().collect()
    }

    /// The `vrrp_script`s something tracks (the ones to run).
    pub fn scripts(&self) -> Vec<String> {
        self.scripts.keys().cloned().collect()
    }

    /// The track files something tracks (the ones to watch).
    pub fn files(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// The `vrrp_track_process`es something tracks (the ones to watch).
    pub fn processes(&self) -> Vec<String> {
        self.processes.keys().cloned().collect()
    }

    /// Whether a tracked process has quorum (`None` if nothing tracks it or it is disabled).
    pub fn process_state(&self, name: &str) -> Option<bool> {
        self.processes.get(name).copied().flatten()
    }

    /// A tracked process gained (`up`) or lost quorum. Returns the instances whose status
    /// changed.
    pub fn process_quorum(&mut self, name: &str, up: bool) -> Vec<String> {
        self.changing(|t| {
            if let Some(Some(s)) = t.processes.get_mut(name) {
                *s = up;
            }
        })
    }

    /// The kernel's process events are not available (keepalived: "track_process not
    /// supported by kernel", the reference is dropped): the process counts for nothing.
    pub fn disable_process(&mut self, name: &str) -> Vec<String> {
        self.changing(|t| {
            if let Some(s) = t.processes.get_mut(name) {
                *s = None;
            }
        })
    }

    /// The instances, in configuration order.
    pub fn instances(&self) -> impl Iterator<Item = &str> {
        self.instances.iter().map(|i| i.name.as_str())
    }

    /// The state of a tracked script (`None` if nothing tracks it or it is disabled).
    pub fn script_health(&self, name: &str) -> Option<ScriptHealth> {
        self.scripts
            .get(name)
            .filter(|s| !s.disabled)
            .map(ScriptState::health)
    }

    /// The last value of a tracked file (`None` if nothing tracks it or it is disabled).
    pub fn file_state(&self, name: &str) -> Option<i64> {
        self.files
            .get(name)
            .filter(|f| !f.disabled)
            .map(|f| f.value)
    }

    /// One run of `name`: exit status 0 (`success`) or anything else (non-zero, signal,
    /// timeout, could not start). Applies rise/fall. Returns the instances whose
    /// [`TrackStatus`] changed.
    pub fn script_result(&mut self, name: &str, success: bool) -> Vec<String> {
        self.changing(|t| match t.scripts.get_mut(name) {
            Some(s) if !s.disabled => s.record(success),
            _ => {}
        })
    }

    /// Puts `name` straight into the settled state `good` (as if `rise` successes or
    /// `fall` failures had just been counted), for what-if questions such as `check
    /// --peer`'s "does this check failing move the VIP?". Returns the instances whose
    /// status changed.
    pub fn set_script_health(&mut self, name: &str, good: bool) -> Vec<String> {
        self.changing(|t| match t.scripts.get_mut(name) {
            Some(s) if !s.disabled => {
                s.result = if good { s.rise + s.fall - 1 } else { 0 };
                s.init = false;
            }
            _ => {}
        })
    }

    /// A track file now holds `value` (0 when missing, empty or not a number). Returns the
    /// instances whose status changed.
    pub fn file_value(&mut self, name: &str, value: i64) -> Vec<String> {
        self.changing(|t| {
            if let Some(f) = t.files.get_mut(name) {
                f.value = value;
            }
        })
    }

    /// A tracked interface is up (administratively up and running) or not. Returns the
    /// instances whose status changed; interfaces nothing tracks are ignored.
    pub fn interface_state(&mut self, ifname: &str, up: bool) -> Vec<String> {
        self.changing(|t| {
            if let Some(s) = t.interfaces.get_mut(ifname) {
                *s = up;
            }
        })
    }

    /// keepalived removes a script it refuses to run (insecure, missing, not executable, no
    /// such user) from every `track_script`: from then on it counts for nothing, not even
    /// as pending. Returns the instances whose status changed.
    pub fn disable_script(&mut self, name: &str) -> Vec<String> {
        self.changing(|t| {
            if let Some(s) = t.scripts.get_mut(name) {
                s.disabled = true;
            }
        })
    }

    /// keepalived removes a track file whose directory does not exist (or cannot be
    /// watched) from every `track_file`: from then on it counts for nothing. Returns the
    /// instances whose status changed.
    pub fn disable_file(&mut self, name: &str) -> Vec<String> {
        self.changing(|t| {
            if let Some(f) = t.files.get_mut(name) {
                f.disabled = true;
            }
        })
    }

    /// Applies a monitor's event; see [`Tracking::script_result`] and
    /// [`Tracking::file_value`].
    pub fn apply(&mut self, event: &TrackEvent) -> Vec<String> {
        match event {
            TrackEvent::Script { name, success } => self.script_result(name, *success),
            TrackEvent::File { name, value } => self.file_value(name, *value),
            TrackEvent::Process { name, up } => self.process_quorum(name, *up),
        }
    }

    /// After a reload: takes over what `old` knew. A script that was OK in `old` starts OK
    /// here, one failure away from KO (keepalived's `clear_diff_script`: "considered
    /// successful on reload"); others start as configured. Interface states and file
    /// values are kept (the new monitors re-read the files anyway).
    pub fn carry_over(&mut self, old: &Tracking) {
        for (name, s) in &mut self.scripts {
            if old.script_health(name) == Some(ScriptHealth::Good) {
                s.result = s.rise;
                s.init = false;
            }
        }
        for (name, up) in &mut self.interfaces {
            if let Some(o) = old.interfaces.get(name) {
                *up = *o;
            }
        }
        for (name, f) in &mut self.files {
            if let Some(o) = old.file_state(name) {
                f.value = o;
            }
        }
        for (name, p) in &mut self.processes {
            if let (Some(o), Some(_)) = (old.process_state(name), p.as_ref()) {
                *p = Some(o);
            }
        }
    }

    /// What tracking does to `instance` now (the default status for an instance that is
    /// not in the configuration).
    pub fn status(&self, instance: &str) -> TrackStatus {
        let Some(inst) = self.instances.iter().find(|i| i.name == instance) else {
            return TrackStatus::default();
        };
        let mut faults = Vec::new();
        let mut pending = Vec::new();
        let mut delta: i64 = 0;
        for r in &inst.refs {
            match self.effect(r) {
                Effect::None => {}
                Effect::Delta(d) => delta = delta.saturating_add(d),
                Effect::Fault(why) => faults.push(why),
                Effect::Pending(why) => pending.push(why),
            }
        }
        // The owner's priority never moves (vrrp_set_effective_priority); keepalived also
        // drops its weighted references, so this is 0 anyway.
        if inst.owner {
            delta = 0;
        }
        let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
        TrackStatus {
            fault: join(faults),
            delta: i32::try_from(delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
                .unwrap_or(0),
            pending: join(pending),
        }
    }

    fn effect(&self, r: &Ref) -> Effect {
        let m = if r.reverse { -1 } else { 1 };
        match r.kind {
            Kind::Script => {
                let Some(s) = self.scripts.get(&r.name).filter(|s| !s.disabled) else {
                    return Effect::None;
                };
                match (s.health(), r.weight) {
                    (ScriptHealth::Unknown, 0) => {
                        Effect::Pending(format!("{} has not run yet", r.label()))
                    }
                    (ScriptHealth::Unknown, _) => Effect::None,
                    // process_script_update_priority: FAULT when `script_ok != (multiplier
                    // == 1)`.
                    (h, 0) => {
                        let ok = h == ScriptHealth::Good;
                        if ok == r.reverse {
                            Effect::Fault(format!(
                                "{} {} ({})",
                                r.label(),
                                if ok { "succeeding" } else { "failing" },
                                r.weight_text()
                            ))
                        } else {
                            Effect::None
                        }
                    }
                    (h, w) => weighted(h == ScriptHealth::Good, w, m),
                }
            }
            Kind::Interface => {
                let up = self.interfaces.get(&r.name).copied().unwrap_or(false);
                if r.weight == 0 {
                    // initialise_interface_tracking_priorities: FAULT when `IF_FLAGS_UP !=
                    // (multiplier == 1)`.
                    if up == r.reverse {
                        Effect::Fault(format!(
                            "{} {} ({})",
                            r.label(),
                            if up { "up" } else { "down" },
                            r.weight_text()
                        ))
                    } else {
                        Effect::None
                    }
                } else {
                    weighted(up, r.weight, m)
                }
            }
            Kind::Process => {
                let Some(up) = self.processes.get(&r.name).copied().flatten() else {
                    return Effect::None;
                };
                if r.weight == 0 {
                    // initialise_process_tracking_priorities: FAULT when `have_quorum !=
                    // (multiplier == 1)`.
                    if up == r.reverse {
                        Effect::Fault(format!(
                            "{} {} ({})",
                            r.label(),
                            if up { "has quorum" } else { "without quorum" },
                            r.weight_text()
                        ))
                    } else {
                        Effect::None
                    }
                } else {
                    weighted(up, r.weight, m)
                }
            }
            Kind::File => {
                let Some(f) = self.files.get(&r.name).filter(|f| !f.disabled) else {
                    return Effect::None;
                };
                if r.weight == 0 {
                    // update_track_file_status: `!new_status != (multiplier == 1)` is FAULT.
                    if (f.value != 0) != r.reverse {
                        Effect::Fault(format!(
                            "{} holds {} ({})",
                            r.label(),
                            f.value,
                            r.weight_text()
                        ))
                    } else {
                        Effect::None
                    }
                } else {
                    let s = f
                        .value
                        .saturating_mul(r.weight)
                        .saturating_mul(m)
                        .clamp(FILE_FAULT, FILE_MAX);
                    if s == FILE_FAULT {
                        Effect::Fault(format!(
                            "{} holds {} ({}): {} × {} is below -253",
                            r.label(),
                            f.value,
                            r.weight_text(),
                            f.value,
                            r.weight * m
                        ))
                    } else {
                        Effect::Delta(s)
                    }
                }
            }
        }
    }

    /// Every tracked object of `instance` (its own and its sync group's) and what each does
    /// to it now, for `status`.
    pub fn inputs(&self, instance: &str) -> Vec<TrackInput> {
        let Some(inst) = self.instances.iter().find(|i| i.name == instance) else {
            return Vec::new();
        };
        inst.refs
            .iter()
            .map(|r| {
                let (state, file_value) = match r.kind {
                    Kind::Script => {
                        let state = match self.scripts.get(&r.name) {
                            Some(s) if s.disabled => "disabled",
                            Some(s) => match s.health() {
                                ScriptHealth::Unknown => "not run yet",
                                ScriptHealth::Good => "ok",
                                ScriptHealth::Bad => "failing",
                            },
                            None => "unknown",
                        };
                        (state.to_string(), None)
                    }
                    Kind::Interface => {
                        let up = self.interfaces.get(&r.name).copied().unwrap_or(false);
                        ((if up { "up" } else { "down" }).to_string(), None)
                    }
                    Kind::File => match self.files.get(&r.name) {
                        Some(f) if f.disabled => ("disabled".to_string(), Some(f.value)),
                        Some(f) => (f.value.to_string(), Some(f.value)),
                        None => ("unknown".to_string(), None),
                    },
                    Kind::Process => {
                        let state = match self.processes.get(&r.name) {
                            Some(Some(true)) => "quorum",
                            Some(Some(false)) => "no quorum",
                            Some(None) => "disabled",
                            None => "unknown",
                        };
                        (state.to_string(), None)
                    }
                };
                let (contribution, fault) = match self.effect(r) {
                    Effect::Delta(d) if !inst.owner => (d, false),
                    Effect::Fault(_) => (0, true),
                    _ => (0, false),
                };
                TrackInput {
                    keyword: r.kind.keyword(),
                    name: r.name.clone(),
                    weight: r.weight,
                    reverse: r.reverse,
                    group: r.group.clone(),
                    state,
                    file_value,
                    contribution,
                    fault,
                }
            })
            .collect()
    }

    /// Runs `change` and returns the instances whose status differs afterwards.
    fn changing(&mut self, change: impl FnOnce(&mut Tracking)) -> Vec<String> {
        let before: Vec<TrackStatus> = self
            .instances
            .iter()
            .map(|i| self.status(&i.name))
            .collect();
        change(self);
        self.instances
            .iter()
            .zip(before)
            .filter(|(i, b)| self.status(&i.name) != *b)
            .map(|(i, _)| i.name.clone())
            .collect()
    }
}

/// A weighted object: a positive weight counts while OK, a negative one while KO, each
/// times the multiplier (-1 with `reverse`). (initialise_track_script_state,
/// process_script_update_priority.)
fn weighted(ok: bool, weight: i64, m: i64) -> Effect {
    match (ok, weight > 0) {
        (true, true) | (false, false) => Effect::Delta(weight * m),
        _ => Effect::None,
    }
}

/// Adds an instance's own reference unless the same object is already in its list
/// (keepalived: "duplicate track_script %s - ignoring", the first one stays).
fn push_unique(refs: &mut Vec<Ref>, r: Ref, instance: &str, notes: &mut Vec<String>) {
    if refs.iter().any(|e| e.kind == r.kind && e.name == r.name) {
        notes.push(format!(
            "{instance}: duplicate {} {}: the first one is used",
            r.kind.keyword(),
            r.name
        ));
        return;
    }
    refs.push(r);
}

/// Adds a sync group's reference to a member. When the member tracks the object itself,
/// keepalived keeps one entry and uses the group's weight unless the member's entry is
/// unweighted (add_vrrp_to_track_script and its track file / interface siblings).
fn merge_group_ref(refs: &mut Vec<Ref>, r: Ref, instance: &str, notes: &mut Vec<String>) {
    let existing = refs
        .iter_mut()
        .find(|e| e.kind == r.kind && e.name == r.name);
    match existing {
        Some(e) if e.group.as_deref() == r.group.as_deref() => {
            notes.push(format!(
                "{instance}: duplicate {} {} in sync group {}: the first one is used",
                r.kind.keyword(),
                r.name,
                r.group.as_deref().unwrap_or("")
            ));
        }
        Some(e) => {
            notes.push(format!(
                "{instance}: {} {} is configured on the instance and on its sync group {}: \
                 remove it from the instance",
                r.kind.keyword(),
                r.name,
                r.group.as_deref().unwrap_or("")
            ));
            if e.weight != 0 {
                e.weight = r.weight;
                e.reverse = r.reverse;
                e.group = r.group;
            }
        }
        None => refs.push(r),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        match crate::config::parse_str(text, Path::new("test.conf")) {
            Ok(l) => l.config,
            Err(e) => panic!("{e}"),
        }
    }

    /// An instance block; `body` holds its track_* blocks.
    fn inst(name: &str, vrid: u8, priority: u8, body: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority \
             {priority}\n virtual_ipaddress {{ 198.18.0.{vrid} }}\n {body}\n}}\n"
        )
    }

    fn script_def(name: &str, extra: &str) -> String {
        format!("vrrp_script {name} {{\n script /bin/true\n {extra}\n}}\n")
    }

    fn file_def(name: &str, extra: &str) -> String {
        format!("vrrp_track_file {name} {{\n file /tmp/{name}\n {extra}\n}}\n")
    }

    #[test]
    fn inputs_say_what_each_tracked_object_does_now() {
        let c = config(&format!(
            "{}{}{}",
            script_def("chk", "weight -20"),
            file_def("f", "weight 2"),
            inst(
                "VI_1",
                1,
                100,
                "track_script {\n chk\n }\n track_interface {\n eth9 weight 0\n }\n track_file {\n f\n }"
            )
        ));
        let mut t = Tracking::new(&c);
        t.script_result("chk", false);
        t.file_value("f", 5);
        t.interface_state("eth9", false);
        let inputs = t.inputs("VI_1");
        let by = |name: &str| inputs.iter().find(|i| i.name == name).cloned();
        let chk = by("chk").expect("script");
        assert_eq!(
            (chk.keyword, chk.state.as_str()),
            ("track_script", "failing")
        );
        assert_eq!((chk.weight, chk.contribution, chk.fault), (-20, -20, false));
        let f = by("f").expect("file");
        assert_eq!((f.file_value, f.contribution), (Some(5), 10));
        let eth9 = by("eth9").expect("interface");
        assert_eq!((eth9.state.as_str(), eth9.fault), ("down", true));
        // The sum is the status's delta.
        let sum: i64 = inputs.iter().map(|i| i.contribution).sum();
        assert_eq!(sum, i64::from(t.status("VI_1").delta));
        assert!(t.inputs("nope").is_empty());
    }

    fn st(fault: Option<&str>, delta: i32, pending: Option<&str>) -> TrackStatus {
        TrackStatus {
            fault: fault.map(str::to_string),
            delta,
            pending: pending.map(str::to_string),
        }
    }

    #[test]
    fn set_script_health_settles_at_once_whatever_rise_and_fall() {
        let c = config(&format!(
            "{}{}",
            script_def("chk", "weight -20\n rise 5\n fall 7"),
            inst("VI_1", 1, 100, "track_script { chk }")
        ));
        let mut t = Tracking::new(&c);
        assert_eq!(t.set_script_health("chk", false), ["VI_1"]);
        assert_eq!(t.script_health("chk"), Some(ScriptHealth::Bad));
        assert_eq!(t.status("VI_1").delta, -20);
        assert_eq!(t.set_script_health("chk", true), ["VI_1"]);
        assert_eq!(t.script_health("chk"), Some(ScriptHealth::Good));
        assert_eq!(t.status("VI_1").delta, 0);
        // Settled as if `fall` (7) failures were needed: 6 leave it Good, the 7th does not.
        for _ in 0..6 {
            t.script_result("chk", false);
        }
        assert_eq!(t.script_health("chk"), Some(ScriptHealth::Good));
        t.script_result("chk", false);
        assert_eq!(t.script_health("chk"), Some(ScriptHealth::Bad));
        assert!(t.set_script_health("missing", false).is_empty());
    }

    #[test]
    fn effective_priority_is_clamped_and_owner_fixed() {
        let d = |delta| st(None, delta, None);
        let cases = [
            (100, 0, 100),
            (100, 50, 150),
            (100, 154, 254),
            (100, 200, 254),
            (100, -99, 1),
            (100, -150, 1),
            (1, 0, 1),
            (254, 10, 254),
            (255, -50, 255),
            (255, 50, 255),
        ];
        for (base, delta, want) in cases {
            assert_eq!(
                effective_priority(base, &d(delta)),
                want,
                "{base} {delta:+}"
            );
        }
        // FAULT does not change the priority.
        assert_eq!(effective_priority(100, &st(Some("x"), -10, None)), 90);
    }

    #[test]
    fn rise_and_fall_counting() {
        // (rise, fall, init_fail, results, health after each)
        use ScriptHealth::*;
        type Case = (u32, u32, bool, &'static [bool], &'static [ScriptHealth]);
        let cases: &[Case] = &[
            // Not run yet: one result decides, whatever rise and fall say.
            (3, 2, false, &[true], &[Good]),
            (3, 2, false, &[false], &[Bad]),
            // fall 2: two failures in a row to go KO; a success in between resets.
            (
                3,
                2,
                false,
                &[true, false, true, false, false],
                &[Good, Good, Good, Good, Bad],
            ),
            // rise 3: three successes in a row to go OK; a failure resets.
            (
                3,
                2,
                false,
                &[false, true, true, false, true, true, true],
                &[Bad, Bad, Bad, Bad, Bad, Bad, Good],
            ),
            // init_fail: KO from the start, rise successes needed.
            (1, 1, true, &[true], &[Good]),
            (3, 1, true, &[true, true, true], &[Bad, Bad, Good]),
            (
                2,
                1,
                true,
                &[false, true, false, true, true],
                &[Bad, Bad, Bad, Bad, Good],
            ),
            // rise 1 fall 1: follows each result.
            (
                1,
                1,
                false,
                &[true, false, true, false],
                &[Good, Bad, Good, Bad],
            ),
            // fall 3.
            (
                1,
                3,
                false,
                &[true, false, false, true, false, false, false],
                &[Good, Good, Good, Good, Good, Good, Bad],
            ),
        ];
        for (rise, fall, init_fail, results, want) in cases {
            let mut s = ScriptState::new(*rise, *fall, *init_fail);
            assert_eq!(
                s.health(),
                if *init_fail { Bad } else { Unknown },
                "start rise {rise} fall {fall}"
            );
            let got: Vec<ScriptHealth> = results
                .iter()
                .map(|r| {
                    s.record(*r);
                    s.health()
                })
                .collect();
            assert_eq!(
                &got, want,
                "rise {rise} fall {fall} init_fail {init_fail} {results:?}"
            );
        }
    }

    /// One instance, one script with `weight_clause`; the status after each state.
    #[test]
    fn script_weight_table() {
        // (weight clause, unknown, good, bad) as (fault?, delta, pending?)
        type Row = (
            &'static str,
            (bool, i32, bool),
            (bool, i32, bool),
            (bool, i32, bool),
        );
        let rows: &[Row] = &[
            ("", (false, 0, true), (false, 0, false), (true, 0, false)),
            (
                "weight 0",
                (false, 0, true),
                (false, 0, false),
                (true, 0, false),
            ),
            (
                "weight 0 reverse",
                (false, 0, true),
                (true, 0, false),
                (false, 0, false),
            ),
            (
                "weight 10",
                (false, 0, false),
                (false, 10, false),
                (false, 0, false),
            ),
            (
                "weight 10 reverse",
                (false, 0, false),
                (false, -10, false),
                (false, 0, false),
            ),
            (
                "weight -10",
                (false, 0, false),
                (false, 0, false),
                (false, -10, false),
            ),
            (
                "weight -10 reverse",
                (false, 0, false),
                (false, 0, false),
                (false, 10, false),
            ),
            (
                "weight 253",
                (false, 0, false),
                (false, 253, false),
                (false, 0, false),
            ),
            (
                "weight -253",
                (false, 0, false),
                (false, 0, false),
                (false, -253, false),
            ),
        ];
        for (clause, unknown, good, bad) in rows {
            let c = config(&format!(
                "{}{}",
                script_def("chk", clause),
                inst("VI_1", 1, 100, "track_script {\n chk\n}")
            ));
            let mut t = Tracking::new(&c);
            let check = |t: &Tracking, (fault, delta, pending): (bool, i32, bool), when: &str| {
                let s = t.status("VI_1");
                assert_eq!(s.fault.is_some(), fault, "{clause} {when}: {s:?}");
                assert_eq!(s.delta, delta, "{clause} {when}: {s:?}");
                assert_eq!(s.pending.is_some(), pending, "{clause} {when}: {s:?}");
            };
            check(&t, *unknown, "not run");
            t.script_result("chk", true);
            check(&t, *good, "good");
            t.script_result("chk", false);
            check(&t, *bad, "bad");
            t.script_result("chk", true);
            check(&t, *good, "good again");
        }
    }

    #[test]
    fn reference_overrides_and_inherits() {
        let c = config(&format!(
            "{}{}{}{}",
            script_def("neg", "weight -20 reverse"),
            script_def("pos", "weight 30"),
            inst("A", 1, 100, "track_script {\n neg\n pos weight 5\n}"),
            inst(
                "B",
                2,
                100,
                "track_script {\n neg weight -7\n pos weight 0 reverse\n}"
            ),
        ));
        let mut t = Tracking::new(&c);
        t.script_result("neg", false);
        t.script_result("pos", true);
        // A: neg inherits -20 reverse (+20 while failing); pos overridden to 5.
        assert_eq!(t.status("A"), st(None, 25, None));
        // B: neg weight -7 still inherits the script's reverse (+7); pos weight 0 reverse:
        // FAULT while succeeding.
        assert_eq!(
            t.status("B"),
            st(
                Some("track_script pos succeeding (weight 0 reverse)"),
                7,
                None
            )
        );
    }

    #[test]
    fn noreverse_overrides_the_objects_reverse() {
        let c = config(&format!(
            "{}{}",
            script_def("neg", "weight -20 reverse"),
            inst("A", 1, 100, "track_script {\n neg weight -20 noreverse\n}"),
        ));
        let mut t = Tracking::new(&c);
        t.script_result("neg", false);
        // Without `noreverse` a failing reverse script adds 20; with it, it subtracts.
        assert_eq!(t.status("A"), st(None, -20, None));
    }

    #[test]
    fn interface_table() {
        // (weight clause, up, down)
        type Row = (&'static str, (bool, i32), (bool, i32));
        let rows: &[Row] = &[
            ("", (false, 0), (true, 0)),
            ("weight 0 reverse", (true, 0), (false, 0)),
            ("weight 15", (false, 15), (false, 0)),
            ("weight 15 reverse", (false, -15), (false, 0)),
            ("weight -15", (false, 0), (false, -15)),
            ("weight -15 reverse", (false, 0), (false, 15)),
        ];
        for (clause, up, down) in rows {
            let c = config(&inst(
                "VI_1",
                1,
                100,
                &format!("track_interface {{\n ethA {clause}\n}}"),
            ));
            let mut t = Tracking::new(&c);
            assert_eq!(t.interfaces(), ["ethA"]);
            // Not reported yet: down.
            let s = t.status("VI_1");
            assert_eq!((s.fault.is_some(), s.delta), *down, "{clause} initially");
            t.interface_state("ethA", true);
            let s = t.status("VI_1");
            assert_eq!((s.fault.is_some(), s.delta), *up, "{clause} up: {s:?}");
            t.interface_state("ethA", false);
            let s = t.status("VI_1");
            assert_eq!((s.fault.is_some(), s.delta), *down, "{clause} down: {s:?}");
        }
        let c = config(&inst("VI_1", 1, 100, "track_interface {\n ethA\n}"));
        let t = Tracking::new(&c);
        assert_eq!(
            t.status("VI_1").fault.as_deref(),
            Some("track_interface ethA down (weight 0)")
        );
    }

    #[test]
    fn track_file_table() {
        // (file weight clause, reference clause, value, fault?, delta)
        let rows: &[(&str, &str, i64, bool, i32)] = &[
            // Default weight 1: the value is added.
            ("", "", 0, false, 0),
            ("", "", 3, false, 3),
            ("", "", -3, false, -3),
            ("", "", 300, false, 253),
            ("", "", -253, false, -253),
            ("", "", -254, true, 0),
            ("", "", -300, true, 0),
            // weight 0: non-zero is FAULT; reverse: zero is FAULT.
            ("weight 0", "", 0, false, 0),
            ("weight 0", "", 1, true, 0),
            ("weight 0", "", -1, true, 0),
            ("weight 0 reverse", "", 0, true, 0),
            ("weight 0 reverse", "", 5, false, 0),
            // Multiplied.
            ("weight -10", "", 1, false, -10),
            ("weight -10", "", -1, false, 10),
            ("weight -10", "", 25, false, -250),
            ("weight -10", "", 26, true, 0),
            ("weight 2 reverse", "", 3, false, -6),
            ("weight 2 reverse", "", -3, false, 6),
            // The reference's weight wins; 254 lets -1 mean FAULT (man keepalived.conf).
            ("weight 5", "weight 254", -1, true, 0),
            ("weight 5", "weight 254", 1, false, 253),
            ("weight 5", "weight 0", 1, true, 0),
            ("", "weight 3 reverse", 2, false, -6),
            // A big file weight cannot overflow.
            ("weight 2147483647", "", 2147483648, false, 253),
            ("weight 2147483647", "", -2147483648, true, 0),
        ];
        for (fw, rw, value, fault, delta) in rows {
            let c = config(&format!(
                "{}{}",
                file_def("f", fw),
                inst("VI_1", 1, 100, &format!("track_file {{\n f {rw}\n}}"))
            ));
            let mut t = Tracking::new(&c);
            t.file_value("f", *value);
            let s = t.status("VI_1");
            assert_eq!(
                (s.fault.is_some(), s.delta),
                (*fault, *delta),
                "file `{fw}` ref `{rw}` value {value}: {s:?}"
            );
            assert_eq!(s.pending, None);
        }
    }

    #[test]
    fn sums_and_reasons() {
        let c = config(&format!(
            "{}{}{}{}",
            script_def("a", "weight 10"),
            script_def("b", "weight -5"),
            script_def("z", ""),
            inst(
                "VI_1",
                1,
                100,
                "track_script {\n a\n b\n z\n}\n track_interface {\n ethA weight -20\n ethB\n}"
            ),
        ));
        let mut t = Tracking::new(&c);
        t.interface_state("ethA", true);
        t.interface_state("ethB", true);
        t.script_result("a", true);
        t.script_result("b", false);
        assert_eq!(
            t.status("VI_1"),
            st(None, 5, Some("track_script z has not run yet"))
        );
        t.script_result("z", false);
        t.interface_state("ethA", false);
        t.interface_state("ethB", false);
        assert_eq!(
            t.status("VI_1"),
            st(
                Some("track_script z failing (weight 0); track_interface ethB down (weight 0)"),
                -15,
                None
            )
        );
        assert_eq!(effective_priority(100, &t.status("VI_1")), 85);
    }

    #[test]
    fn changes_name_only_the_instances_that_changed() {
        let c = config(&format!(
            "{}{}{}{}{}",
            script_def("chk", ""),
            file_def("f", "weight 0"),
            inst("A", 1, 100, "track_script {\n chk weight 10\n}"),
            inst(
                "B",
                2,
                100,
                "track_script {\n chk weight -10\n}\n track_file {\n f\n}"
            ),
            inst("C", 3, 100, "track_script {\n chk\n}"),
        ));
        let mut t = Tracking::new(&c);
        // First success: A gains 10, B stays at 0, C leaves pending.
        assert_eq!(t.script_result("chk", true), ["A", "C"]);
        // Same result again: nothing changes.
        assert!(t.script_result("chk", true).is_empty());
        assert_eq!(t.script_result("chk", false), ["A", "B", "C"]);
        assert_eq!(t.file_value("f", 1), ["B"]);
        // Still FAULT, but the reason names the new value.
        assert_eq!(t.file_value("f", 2), ["B"]);
        assert_eq!(
            t.status("B").fault.as_deref(),
            Some("track_file f holds 2 (weight 0)")
        );
        assert!(t.file_value("f", 2).is_empty());
    }

    #[test]
    fn unknown_names_change_nothing() {
        let c = config(&format!(
            "{}{}",
            script_def("chk", ""),
            inst("A", 1, 100, "track_script {\n chk\n}")
        ));
        let mut t = Tracking::new(&c);
        assert!(t.script_result("other", false).is_empty());
        assert!(t.file_value("other", 1).is_empty());
        assert!(t.interface_state("eth9", false).is_empty());
        assert_eq!(t.status("nope"), TrackStatus::default());
        assert_eq!(t.script_health("other"), None);
    }

    #[test]
    fn only_referenced_objects_are_tracked() {
        let c = config(&format!(
            "{}{}{}{}{}",
            script_def("used", ""),
            script_def("unused", ""),
            file_def("fu", ""),
            file_def("fx", ""),
            inst(
                "A",
                1,
                100,
                "track_script {\n used\n}\n track_file {\n fu\n}"
            ),
        ));
        let t = Tracking::new(&c);
        assert_eq!(t.scripts(), ["used"]);
        assert_eq!(t.files(), ["fu"]);
        assert!(t.interfaces().is_empty());
    }

    #[test]
    fn sync_group_members_lose_their_own_weights() {
        let c = config(&format!(
            "{}{}{}{}{}{}{}",
            script_def("w", "weight 10"),
            script_def("u", ""),
            file_def("f1", ""),
            file_def("f5", "weight 5"),
            inst(
                "A",
                1,
                100,
                "track_script {\n w\n u\n}\n track_interface {\n ethA weight -20\n}\n \
                 track_file {\n f1\n f5\n}"
            ),
            inst("B", 2, 100, ""),
            "vrrp_sync_group G {\n group {\n A\n B\n }\n track_script {\n w weight 7\n }\n}\n",
        ));
        let mut t = Tracking::new(&c);
        // A's own weighted script `w` is dropped; the group's `w weight 7` applies to both.
        t.script_result("w", true);
        t.script_result("u", true);
        t.interface_state("ethA", true);
        assert_eq!(t.status("A"), st(None, 7, None));
        assert_eq!(t.status("B"), st(None, 7, None));
        // ethA weight -20 became weight 0: down is FAULT.
        t.interface_state("ethA", false);
        assert_eq!(
            t.status("A").fault.as_deref(),
            Some("track_interface ethA down (weight 0)")
        );
        t.interface_state("ethA", true);
        // f1 (default weight 1) became weight 0; f5 (weight 5) is dropped.
        t.file_value("f5", 3);
        assert_eq!(t.status("A"), st(None, 7, None));
        t.file_value("f1", 3);
        assert!(t.status("A").fault.is_some());
        assert!(t.status("B").fault.is_none());
        let notes = t.notes().join("\n");
        for needle in [
            "A: track_script w (weight 10) is ignored",
            "A: track_interface ethA weight -20 is ignored",
            "A: track_file f1 weight 1 is ignored",
            "A: track_file f5 (weight 5) is ignored",
        ] {
            assert!(notes.contains(needle), "{needle} not in\n{notes}");
        }
    }

    #[test]
    fn instance_and_group_tracking_the_same_script() {
        let c = config(&format!(
            "{}{}{}{}",
            script_def("s", ""),
            inst("A", 1, 100, "track_script {\n s\n}"),
            inst("B", 2, 100, ""),
            "vrrp_sync_group G {\n group {\n A\n B\n }\n track_script {\n s weight 9\n }\n}\n",
        ));
        let mut t = Tracking::new(&c);
        t.script_result("s", false);
        // A keeps its own unweighted entry (FAULT); B gets the group's weight.
        assert!(t.status("A").fault.is_some());
        assert_eq!(t.status("A").delta, 0);
        assert_eq!(t.status("B"), st(None, 0, None));
        t.script_result("s", true);
        assert_eq!(t.status("A"), st(None, 0, None));
        assert_eq!(t.status("B"), st(None, 9, None));
        assert!(t
            .notes()
            .iter()
            .any(|n| n.contains("configured on the instance and on its sync group G")));
    }

    #[test]
    fn group_with_an_owner_member_is_unweighted() {
        let c = config(&format!(
            "{}{}{}{}",
            script_def("s", ""),
            inst("A", 1, 255, ""),
            inst("B", 2, 100, ""),
            "vrrp_sync_group G {\n group {\n A\n B\n }\n track_script {\n s weight 9\n }\n \
             track_interface {\n ethA weight 5\n }\n}\n",
        ));
        let mut t = Tracking::new(&c);
        t.interface_state("ethA", true);
        t.script_result("s", true);
        assert_eq!(t.status("B"), st(None, 0, None));
        t.script_result("s", false);
        assert!(t.status("A").fault.is_some());
        assert!(t.status("B").fault.is_some());
        let group_notes = t
            .notes()
            .iter()
            .filter(|n| n.starts_with("sync group G: track_script s"))
            .count();
        assert_eq!(group_notes, 1, "{:?}", t.notes());
    }

    #[test]
    fn address_owner_ignores_weights_but_not_faults() {
        let c = config(&format!(
            "{}{}{}{}",
            script_def("w", "weight -50"),
            script_def("z", ""),
            file_def("f", ""),
            inst(
                "O",
                1,
                255,
                "track_script {\n w\n z\n}\n track_interface {\n ethA weight 10\n ethB\n}\n \
                 track_file {\n f\n}"
            ),
        ));
        let mut t = Tracking::new(&c);
        // What is ignored is not run or watched either.
        assert_eq!(t.scripts(), ["z"]);
        assert_eq!(t.interfaces(), ["ethB"]);
        t.script_result("w", false);
        t.script_result("z", true);
        t.interface_state("ethA", true);
        t.interface_state("ethB", true);
        assert_eq!(t.status("O"), st(None, 0, None));
        assert_eq!(effective_priority(255, &t.status("O")), 255);
        // f (weight 1) became weight 0.
        t.file_value("f", 1);
        assert!(t.status("O").fault.is_some());
        t.file_value("f", 0);
        t.script_result("z", false);
        assert!(t.status("O").fault.is_some());
        t.script_result("z", true);
        t.interface_state("ethB", false);
        assert!(t.status("O").fault.is_some());
        // ethA (weighted) is not tracked at all for the owner.
        t.interface_state("ethB", true);
        assert!(t.interface_state("ethA", false).is_empty());
    }

    #[test]
    fn duplicates_keep_the_first() {
        let c = config(&format!(
            "{}{}",
            script_def("s", ""),
            inst(
                "A",
                1,
                100,
                "track_script {\n s weight 10\n s weight -10\n}"
            )
        ));
        // The loader already drops the second line (a keepalived-ignores warning).
        assert_eq!(c.instances[0].track_scripts.len(), 1);
        let mut t = Tracking::new(&c);
        t.script_result("s", true);
        assert_eq!(t.status("A").delta, 10);
    }

    #[test]
    fn disabled_objects_count_for_nothing() {
        let c = config(&format!(
            "{}{}{}",
            script_def("s", ""),
            file_def("f", "weight 0 reverse"),
            inst("A", 1, 100, "track_script {\n s\n}\n track_file {\n f\n}")
        ));
        let mut t = Tracking::new(&c);
        let s = t.status("A");
        assert!(s.pending.is_some() && s.fault.is_some(), "{s:?}");
        assert_eq!(t.disable_script("s"), ["A"]);
        assert_eq!(t.disable_file("f"), ["A"]);
        assert_eq!(t.status("A"), TrackStatus::default());
        // Later results of a disabled script are ignored.
        assert!(t.script_result("s", false).is_empty());
        assert_eq!(t.script_health("s"), None);
    }

    #[test]
    fn apply_dispatches_events() {
        let c = config(&format!(
            "{}{}{}",
            script_def("s", ""),
            file_def("f", "weight 0"),
            inst("A", 1, 100, "track_script {\n s\n}\n track_file {\n f\n}")
        ));
        let mut t = Tracking::new(&c);
        let ev = |n: &str, success| TrackEvent::Script {
            name: n.into(),
            success,
        };
        assert_eq!(t.apply(&ev("s", true)), ["A"]);
        assert_eq!(
            t.apply(&TrackEvent::File {
                name: "f".into(),
                value: 4
            }),
            ["A"]
        );
        assert_eq!(t.file_state("f"), Some(4));
        assert_eq!(
            t.status("A").fault.as_deref(),
            Some("track_file f holds 4 (weight 0)")
        );
    }

    #[test]
    fn carry_over_keeps_good_scripts_interfaces_and_files() {
        let text = format!(
            "{}{}{}{}",
            script_def("good", "rise 3\n fall 2"),
            script_def("bad", "rise 3"),
            file_def("f", ""),
            inst(
                "A",
                1,
                100,
                "track_script {\n good\n bad weight -10\n}\n track_interface {\n ethA\n}\n \
                 track_file {\n f\n}"
            ),
        );
        let c = config(&text);
        let mut old = Tracking::new(&c);
        old.script_result("good", true);
        old.script_result("bad", false);
        old.interface_state("ethA", true);
        old.file_value("f", 4);
        let mut new = Tracking::new(&c);
        new.carry_over(&old);
        assert_eq!(new.status("A"), st(None, 4, None));
        assert_eq!(new.script_health("good"), Some(ScriptHealth::Good));
        // Not Good before: starts as configured (not run yet).
        assert_eq!(new.script_health("bad"), Some(ScriptHealth::Unknown));
        // "considered successful on reload": one failure is enough to go KO.
        new.script_result("good", false);
        assert_eq!(new.script_health("good"), Some(ScriptHealth::Bad));
    }
}
