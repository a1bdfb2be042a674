//! Notifications: notify_* commands and notify FIFOs on state changes.
//!
//! The runtime calls [`Notifier::transition`] for every state change of an instance or a
//! sync group. That call never waits: it counts the transition, logs it, writes one line to
//! each notify FIFO (non-blocking) and queues the commands. What it does follows keepalived
//! 2.2.7 (`send_instance_notifies` / `send_group_notifies` in keepalived/vrrp/vrrp_notify.c,
//! checked against the installed binary in a network namespace):
//!
//! 1. the state's own command (`notify_master`, `notify_backup`, `notify_fault`,
//!    `notify_stop`), as configured;
//! 2. the generic `notify` with four more arguments: `INSTANCE|GROUP`, the name,
//!    `MASTER|BACKUP|FAULT|STOP`, the priority;
//! 3. one line to `notify_fifo` and to `vrrp_notify_fifo`: `INSTANCE "VI_1" MASTER 100\n`
//!    (the name in double quotes, nothing escaped).
//!
//! A sync group's priority is always 0, in the arguments and in the FIFO line, whatever the
//! caller passes: keepalived does the same. An instance reports the priority it is given
//! (keepalived: its effective priority; at `STOP` still that priority, not 0).
//!
//! Differences from keepalived, on purpose:
//! - keepalived forks every command and never waits, so `notify_master` and `notify` of the
//!   same transition, or of two quick transitions, can run in any order. Here the commands of
//!   one instance (or group) run one after another, in the order of the transitions; different
//!   instances and groups run concurrently.
//! - So a command that hangs would hold up the later notifications of its instance: each
//!   command gets [`COMMAND_TIMEOUT`] (30 s; [`Notifier::with_command_timeout`] changes it),
//!   after which its whole process group is killed and the queue goes on. keepalived bounds
//!   only the commands it runs at shutdown (`STOP`, 1 s) and lets the others run forever.
//! - A FIFO that cannot be created, opened or trusted is an error of [`Notifier::new`];
//!   keepalived logs it and runs without that FIFO.
//!
//! Commands run as their `USER [GROUP]`, else as the global `script_user`, else as
//! `keepalived_script` if that user exists, else as the agent's own user; that is keepalived's
//! rule. Each runs in its own process group with stdin/stdout/stderr on /dev/null
//! (see [`crate::process`]).
//!
//! Lifetime. [`Notifier::shutdown`] waits (bounded) for everything queued, kills what is
//! still running when the bound expires, and removes the FIFOs it created. Dropping a
//! `Notifier` without `shutdown` detaches its queues: what is queued still runs, each command
//! within its timeout, and the FIFOs stay.
//!
//! Reload. Build the new notifier with [`Notifier::reload`] on the old one: it shares the old
//! one's queues (an instance's notifications stay in order across the reload) and counters.
//! Then drop the old one, or `shutdown` it: shutting down never kills a queue a newer
//! notifier shares. [`Notifier::new`] works too, with separate queues: the old one's
//! leftovers may then run alongside the new one's first commands. Either way notifiers of one
//! process share an open FIFO by path, so a reader keeps its FIFO across reloads, and it is
//! removed only when the last notifier using it shuts down.
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::Path,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use crate::{
    config::{Config, Location, Notify, NotifyCommand},
    process::{Command, ProcessError},
    track::security,
};

mod events;
mod fifo;
pub mod mail;
mod queue;
#[cfg(test)]
mod tests;

pub use events::priority_line;
use fifo::Fifo;
use queue::{subject_event, Job, Queue, Stats};

/// How long one notify command may run before its process group is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// After [`Notifier::shutdown`]'s bound, how long we wait for killed commands to be reaped.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// What changed state: a `vrrp_instance` or a `vrrp_sync_group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Instance,
    Group,
}

impl fmt::Display for Subject {
    /// keepalived's word: the first extra argument of `notify`, the first word of a FIFO line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Subject::Instance => "INSTANCE",
            Subject::Group => "GROUP",
        })
    }
}

/// The state entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    /// The agent stops (SIGTERM) or the instance is removed.
    Stop,
}

impl fmt::Display for NotifyState {
    /// keepalived's word, as `notify` and the FIFOs get it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        })
    }
}

/// Why notifications cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A notify command cannot be parsed, or its user or group does not exist.
    #[error("{location}: `{keyword}` of {owner}: cannot run `{command}`: {error}")]
    Command {
        /// Where the instance or sync group is.
        location: Location,
        keyword: &'static str,
        /// `vrrp_instance VI_1` or `vrrp_sync_group G1`.
        owner: String,
        command: String,
        error: Box<ProcessError>,
    },
    /// A notify FIFO cannot be created, opened, or is not one we may write to.
    #[error("{location}: `{keyword} {}`: {reason}", path.display())]
    Fifo {
        location: Location,
        keyword: &'static str,
        path: std::path::PathBuf,
        reason: String,
    },
    /// `notify_fifo` and `vrrp_notify_fifo` name the same FIFO: every line would come twice.
    #[error(
        "{location}: `vrrp_notify_fifo {}` is also the `notify_fifo`; keepalived requires \
         different FIFOs (each line would be written twice): drop one of them",
        path.display()
    )]
    SameFifo {
        location: Location,
        path: std::path::PathBuf,
    },
}

/// Totals of what the queues and FIFOs did, since the first notifier (kept across reloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotifyStats {
    /// Commands that exited with status 0.
    pub succeeded: u64,
    /// Commands that exited non-zero, were killed by a signal, or could not start.
    pub failed: u64,
    /// Commands killed after [`COMMAND_TIMEOUT`].
    pub timed_out: u64,
    /// Commands killed or skipped because [`Notifier::shutdown`] ran out of time.
    pub aborted: u64,
    /// Lines written to FIFOs (one per FIFO per transition).
    pub fifo_lines: u64,
    /// Lines dropped because the FIFO's buffer was full (no one reading).
    pub fifo_dropped: u64,
}

/// The parsed commands of one instance or sync group.
#[derive(Debug, Default)]
struct Commands {
    master: Option<Command>,
    backup: Option<Command>,
    fault: Option<Command>,
    stop: Option<Command>,
    generic: Option<Command>,
    master_rx_lower_pri: Option<Command>,
}

impl Commands {
    fn parse(
        notify: &Notify,
        owner: &str,
        location: &Location,
        default_user: Option<&(String, Option<String>)>,
    ) -> Result<Commands, NotifyError> {
        let parse = |keyword: &'static str, c: &Option<NotifyCommand>| {
            c.as_ref()
                .map(|c| {
                    let user = match &c.user {
                        Some(u) => Some((u.as_str(), c.group.as_deref())),
                        None => default_user.map(|(u, g)| (u.as_str(), g.as_deref())),
                    };
                    Command::parse(&c.command, user).map_err(|error| NotifyError::Command {
                        location: location.clone(),
                        keyword,
                        owner: owner.to_string(),
                        command: c.command.clone(),
                        error: Box::new(error),
                    })
                })
                .transpose()
        };
        Ok(Commands {
            master: parse("notify_master", &notify.master)?,
            backup: parse("notify_backup", &notify.backup)?,
            fault: parse("notify_fault", &notify.fault)?,
            stop: parse("notify_stop", &notify.stop)?,
            generic: parse("notify", &notify.generic)?,
            master_rx_lower_pri: parse("notify_master_rx_lower_pri", &notify.master_rx_lower_pri)?,
        })
    }

    fn all(&self) -> impl Iterator<Item = (&'static str, &Command)> {
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

    /// What to run for a transition, in keepalived's order.
    fn for_transition(
        &self,
        subject: Subject,
        name: &str,
        state: NotifyState,
        priority: u8,
    ) -> Vec<(&'static str, Command)> {
        let specific = match state {
            NotifyState::Master => ("notify_master", &self.master),
            NotifyState::Backup => ("notify_backup", &self.backup),
            NotifyState::Fault => ("notify_fault", &self.fault),
            NotifyState::Stop => ("notify_stop", &self.stop),
        };
        let mut out = Vec::with_capacity(2);
        if let (keyword, Some(cmd)) = specific {
            out.push((keyword, cmd.clone()));
        }
        if let Some(cmd) = &self.generic {
            let cmd = cmd
                .clone()
                .arg(subject.to_string())
                .arg(name)
                .arg(state.to_string())
                .arg(priority.to_string());
            out.push(("notify", cmd));
        }
        out
    }
}

/// The counter key of [`Notifier::counts`].
pub type TransitionKey = (Subject, String, NotifyState);

/// Runs notify commands and writes notify FIFOs for the runtime. See the module docs.
#[derive(Debug)]
pub struct Notifier {
    commands: HashMap<(Subject, String), Commands>,
    fifos: Vec<Arc<Fifo>>,
    /// Started on the first transition that has commands to run.
    queues: HashMap<(Subject, String), Queue>,
    counts: BTreeMap<TransitionKey, u64>,
    stats: Arc<Stats>,
    timeout: Duration,
    /// `smtp_alert` mails (none without `smtp_server` / `notification_email`).
    mail: Option<mail::Mailer>,
}

impl Notifier {
    /// Parses every notify command of `config` and opens its notify FIFOs (creating them when
    /// missing). Needs no runtime; commands start on the tokio runtime `transition` is called
    /// on.
    pub fn new(config: &Config) -> Result<Notifier, NotifyError> {
        Notifier::build(config, None)
    }

    /// A notifier for a reloaded `config` that continues this one: same queues for the
    /// instances and groups that remain (their notifications stay in order across the
    /// reload), same counters and command timeout. Drop `self` afterwards, or `shutdown` it
    /// (which waits for, but never kills, the queues the new one shares).
    pub fn reload(&self, config: &Config) -> Result<Notifier, NotifyError> {
        Notifier::build(config, Some(self))
    }

    /// A notifier with nothing to run and no FIFO: it only counts and logs.
    pub fn disabled() -> Notifier {
        Notifier {
            commands: HashMap::new(),
            fifos: Vec::new(),
            queues: HashMap::new(),
            counts: BTreeMap::new(),
            stats: Arc::default(),
            timeout: COMMAND_TIMEOUT,
            mail: None,
        }
    }

    /// Changes how long each command may run (default [`COMMAND_TIMEOUT`]). Applies to
    /// queues started afterwards.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Notifier {
        self.timeout = timeout;
        self
    }

    fn build(config: &Config, previous: Option<&Notifier>) -> Result<Notifier, NotifyError> {
        // Looking a user up loads the NSS modules (a few hundred KiB): only when some notify
        // command will need it.
        let any = config.instances.iter().any(|i| !i.notify.is_empty())
            || config.sync_groups.iter().any(|g| !g.notify.is_empty())
            || [&config.global.notify_fifo, &config.global.vrrp_notify_fifo]
                .iter()
                .any(|f| f.as_ref().is_some_and(|f| f.script.is_some()));
        let default_user = if any {
            default_script_user(config)
        } else {
            None
        };
        let mut commands = HashMap::new();
        for inst in &config.instances {
            let owner = format!("vrrp_instance {}", inst.name);
            let c = Commands::parse(&inst.notify, &owner, &inst.location, default_user.as_ref())?;
            commands.insert((Subject::Instance, inst.name.clone()), c);
        }
        for group in &config.sync_groups {
            let owner = format!("vrrp_sync_group {}", group.name);
            let c = Commands::parse(
                &group.notify,
                &owner,
                &group.location,
                default_user.as_ref(),
            )?;
            commands.insert((Subject::Group, group.name.clone()), c);
        }

        let global = &config.global;
        if let (Some(a), Some(b)) = (&global.notify_fifo, &global.vrrp_notify_fifo) {
            if a.path == b.path {
                return Err(NotifyError::SameFifo {
                    location: b.location.clone(),
                    path: b.path.clone(),
                });
            }
        }
        let mut fifos = Vec::new();
        for (keyword, cfg) in [
            ("notify_fifo", &global.notify_fifo),
            ("vrrp_notify_fifo", &global.vrrp_notify_fifo),
        ] {
            if let Some(cfg) = cfg {
                fifos.push(Fifo::open_shared(keyword, cfg, default_user.as_ref())?);
            }
        }

        let (queues, counts, stats, timeout) = match previous {
            Some(p) => (
                p.queues
                    .iter()
                    .filter(|(k, _)| commands.contains_key(*k))
                    .map(|(k, q)| (k.clone(), q.clone()))
                    .collect(),
                p.counts.clone(),
                Arc::clone(&p.stats),
                p.timeout,
            ),
            None => (
                HashMap::new(),
                BTreeMap::new(),
                Arc::default(),
                COMMAND_TIMEOUT,
            ),
        };
        let mut mail = mail::Mailer::new(config);
        if let (Some(m), Some(Some(old))) = (&mut mail, previous.map(|p| &p.mail)) {
            m.carry_over(old);
        }
        Ok(Notifier {
            commands,
            fifos,
            queues,
            counts,
            stats,
            timeout,
            mail,
        })
    }

    /// Reports that `name` entered `state`. Never waits: counts it, logs it, writes the FIFO
    /// lines (non-blocking) and queues the commands of `name` (if any) behind its earlier
    /// ones. For a group, `priority` is ignored and 0 reported, as keepalived does.
    ///
    /// Commands run on the tokio runtime this is called on; called outside one, they are
    /// skipped with an error in the log (FIFO lines and counts still happen).
    pub fn transition(&mut self, subject: Subject, name: &str, state: NotifyState, priority: u8) {
        let priority = match subject {
            Subject::Instance => priority,
            Subject::Group => 0,
        };
        *self
            .counts
            .entry((subject, name.to_string(), state))
            .or_default() += 1;

        let key = (subject, name.to_string());
        let commands = match self.commands.get(&key) {
            Some(c) => c.for_transition(subject, name, state, priority),
            None => {
                subject_event!(debug, subject, name, state = %state,
                    "not in the configuration: no notify commands");
                Vec::new()
            }
        };
        subject_event!(info, subject, name, state = %state, priority,
            "entering {state} state: {} notify command(s) queued, {} FIFO line(s)",
            commands.len(), self.fifos.len());

        if !commands.is_empty() {
            let job = Job { state, commands };
            self.enqueue(key, job);
        }

        if let Some(m) = &mut self.mail {
            m.transition(subject, name, state);
        }

        let line = fifo_line(subject, name, state, priority);
        for fifo in &self.fifos {
            match fifo.write_line(&line) {
                Ok(()) => Stats::bump(&self.stats.fifo_lines),
                Err(e) => {
                    Stats::bump(&self.stats.fifo_dropped);
                    let why = if e.kind() == std::io::ErrorKind::WouldBlock {
                        "its buffer is full (is anything reading it?)".to_string()
                    } else {
                        e.to_string()
                    };
                    subject_event!(warn, subject, name, state = %state,
                        fifo = %fifo.path().display(),
                        "{} line dropped: {why}", fifo.keyword());
                }
            }
        }
    }

    fn enqueue(&mut self, key: (Subject, String), job: Job) {
        let (subject, name) = (key.0, key.1.clone());
        // A queue whose task has ended (it cannot, short of a panic) is replaced.
        if self.queues.get(&key).is_some_and(Queue::is_closed) {
            self.queues.remove(&key);
        }
        let queue = match self.queues.entry(key) {
            std::collections::hash_map::Entry::Occupied(q) => q.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                match Queue::spawn(subject, &name, self.timeout, self.stats.clone()) {
                    Some(q) => v.insert(q),
                    None => {
                        subject_event!(
                            error,
                            subject,
                            name,
                            "notify commands not run: no tokio runtime (a bug in the agent)"
                        );
                        return;
                    }
                }
            }
        };
        if !queue.push(job) {
            subject_event!(
                error,
                subject,
                name,
                "notify commands not run: the queue has ended"
            );
        }
    }

    /// How many transitions of each (subject, name, state) this notifier (and those it was
    /// reloaded from) has seen.
    pub fn counts(&self) -> &BTreeMap<TransitionKey, u64> {
        &self.counts
    }

    /// The count of one (subject, name, state); 0 if never seen.
    pub fn count(&self, subject: Subject, name: &str, state: NotifyState) -> u64 {
        self.counts
            .get(&(subject, name.to_string(), state))
            .copied()
            .unwrap_or(0)
    }

    /// What the commands and FIFOs did so far.
    pub fn stats(&self) -> NotifyStats {
        let s = &self.stats;
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        NotifyStats {
            succeeded: get(&s.succeeded),
            failed: get(&s.failed),
            timed_out: get(&s.timed_out),
            aborted: get(&s.aborted),
            fifo_lines: get(&s.fifo_lines),
            fifo_dropped: get(&s.fifo_dropped),
        }
    }

    /// Every parsed command: (subject, name, keyword, command), e.g. for security checks.
    pub fn commands(&self) -> impl Iterator<Item = (Subject, &str, &'static str, &Command)> {
        self.commands.iter().flat_map(|((subject, name), c)| {
            c.all()
                .map(move |(keyword, cmd)| (*subject, name.as_str(), keyword, cmd))
        })
    }

    /// The FIFOs lines go to.
    pub fn fifo_paths(&self) -> impl Iterator<Item = &Path> {
        self.fifos.iter().map(|f| f.path())
    }

    /// Waits until everything queued so far has run, at most `within`. True if it has.
    pub async fn wait_idle(&self, within: Duration) -> bool {
        let barriers = futures::future::join_all(self.queues.values().map(Queue::barrier));
        tokio::time::timeout(within, barriers).await.is_ok()
    }

    /// Waits, at most `within`, for every queued command to run (the `notify_stop`s queued
    /// on SIGTERM among them); then kills what still runs and skips what has not started
    /// (logged, counted as aborted), except in queues a reloaded notifier shares: those go on.
    /// Finally removes the FIFOs this notifier created, unless another notifier still uses
    /// them.
    pub async fn shutdown(mut self, within: Duration) {
        let queues: Vec<Queue> = self.queues.drain().map(|(_, q)| q).collect();
        let barriers = futures::future::join_all(queues.iter().map(Queue::barrier));
        let mut barriers = std::pin::pin!(barriers);
        if tokio::time::timeout(within, &mut barriers).await.is_err() {
            let mine: Vec<&Queue> = queues.iter().filter(|q| !q.is_shared()).collect();
            if !mine.is_empty() {
                tracing::warn!(
                    "notify commands still running {within:?} after shutdown began: killing them"
                );
                for q in mine {
                    q.abort();
                }
                if tokio::time::timeout(ABORT_GRACE, &mut barriers)
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "notify commands did not stop within {ABORT_GRACE:?} of the kill"
                    );
                }
            }
        }
        drop(queues);
        for fifo in self.fifos.drain(..) {
            Fifo::release(fifo);
        }
    }
}

/// keepalived's FIFO line: `INSTANCE "VI_1" MASTER 100\n`.
pub fn fifo_line(subject: Subject, name: &str, state: NotifyState, priority: u8) -> String {
    format!("{subject} \"{name}\" {state} {priority}\n")
}

/// Who runs commands that name no user: `script_user`, else `keepalived_script` if it
/// exists (keepalived's rule, [`security::script_user`]), else nobody in particular (the
/// agent's own user; with `enable_script_security` the runtime then refuses the command).
fn default_script_user(config: &Config) -> Option<(String, Option<String>)> {
    security::script_user(&config.global, None).ok().flatten()
}
