//! Tracking: vrrp_script, track_file, track_process and track_interface state, and the priority weights and
//! FAULT they imply for each instance.
//!
//! - [`Tracking`] (sans-I/O, [`weights`]) holds the state and answers, per instance, "FAULT
//!   or not, and by how much is the priority adjusted" ([`TrackStatus`],
//!   [`effective_priority`]).
//! - [`Monitors`] runs what feeds it: one task per tracked `vrrp_script` ([`script`]) and one
//!   inotify watch for every tracked file ([`mod@file`]), and one process-events socket for
//!   every tracked `vrrp_track_process` ([`process`]). Their results arrive as [`TrackEvent`]s
//!   on the channel given to [`Monitors::start`]; the runtime passes them to
//!   [`Tracking::apply`] and feeds link events to [`Tracking::interface_state`].
//! - [`security`]: `enable_script_security` / `script_user`, for scripts and notify commands.
//!
//! Start-up, as the runtime should do it:
//! 1. `Monitors::start(&config, tx)`: refuses what keepalived refuses (logged at error level,
//!    see [`Monitors::refused`]), and has already sent every track file's value when it
//!    returns;
//! 2. `Tracking::new(&config)`, then [`Monitors::apply_refusals`] and
//!    [`Tracking::interface_state`] for each of [`Tracking::interfaces`];
//! 3. drain the channel, then start the instances (an instance whose [`TrackStatus::pending`]
//!    is set waits in keepalived's INIT state for its scripts' first results).
//!
//! Reload (SIGHUP): `monitors.reload(&new_config, new_tx)` (old monitors stopped first, no
//! two runs of a script at once, `init_file ... overwrite` not re-applied), a new
//! `Tracking::new(&new_config)` with [`Tracking::carry_over`] from the old one, then steps 2
//! and 3.
//!
//! A script keepalived refuses (missing, not executable, insecure under
//! `enable_script_security`, unknown user) is removed from every `track_script`, as keepalived
//! does: it then counts for nothing (not FAULT, no weight). So is a track file whose
//! directory does not exist.
use std::{collections::HashMap, sync::Arc};

use tokio::{sync::mpsc::UnboundedSender, task::JoinHandle};

use crate::config::Config;

pub mod file;
pub mod process;
pub mod script;
pub mod security;
pub mod weights;

pub use weights::{effective_priority, ScriptHealth, TrackStatus, Tracking};

/// A raw result from a monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackEvent {
    /// One run of a `vrrp_script`: exit status 0, or not (non-zero, signal, timeout, could
    /// not start).
    Script { name: String, success: bool },
    /// A track file's value, when the monitors start and whenever it changes (0 when the
    /// file is missing or empty).
    File { name: String, value: i64 },
    /// A `vrrp_track_process` gained (`up`) or lost quorum, after its delays; sent for every
    /// tracked process when the monitors start.
    Process { name: String, up: bool },
}

/// Why the monitors cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// `Monitors::start` must be called on a tokio runtime (with I/O enabled).
    #[error("tracking monitors need a tokio runtime: {0}")]
    NoRuntime(String),
    /// inotify is not available (e.g. too many instances: fs.inotify.max_user_instances).
    #[error("cannot watch track files with inotify: {0}")]
    Inotify(#[source] std::io::Error),
}

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Script,
    File,
    Process,
}

/// A script or track file the monitors do not run or watch, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: Refused,
    pub name: String,
    pub reason: String,
}

/// The running monitors. Dropping it stops every task: a script that is running has its
/// process group killed (SIGKILL) as its task is dropped, on the runtime's next turn, and
/// the inotify descriptor is closed.
///
/// For a reload use [`Monitors::reload`]: the new monitors wait for a run of the same script
/// that the old ones had started to be killed, so two runs of a script never overlap, even
/// across a reload.
#[derive(Debug)]
pub struct Monitors {
    tasks: Vec<JoinHandle<()>>,
    refused: Vec<Refusal>,
    /// Held by a script's task while it runs the script; shared with the monitors of a
    /// reload.
    locks: HashMap<String, script::RunLock>,
}

impl Monitors {
    /// Starts a task per tracked `vrrp_script` (first run at once) and the inotify watch of
    /// the tracked files (writing `init_file`s first). Before returning it has sent every
    /// watched file's current value on `tx`. Must run on a tokio runtime.
    pub fn start(config: &Config, tx: UnboundedSender<TrackEvent>) -> Result<Monitors, TrackError> {
        Monitors::start_inner(config, tx, None)
    }

    /// Stops these monitors and starts those of the reloaded `config`, like keepalived on
    /// SIGHUP: `init_file ... overwrite` does not overwrite an existing file, and a script
    /// still running under the old monitors is killed before the new monitors run it again.
    /// Use a new channel (events still queued on the old one are stale).
    pub fn reload(
        mut self,
        config: &Config,
        tx: UnboundedSender<TrackEvent>,
    ) -> Result<Monitors, TrackError> {
        self.stop();
        let locks = std::mem::take(&mut self.locks);
        Monitors::start_inner(config, tx, Some(locks))
    }

    fn start_inner(
        config: &Config,
        tx: UnboundedSender<TrackEvent>,
        previous: Option<HashMap<String, script::RunLock>>,
    ) -> Result<Monitors, TrackError> {
        let reload = previous.is_some();
        let mut old_locks = previous.unwrap_or_default();
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|e| TrackError::NoRuntime(e.to_string()))?;
        let tracking = Tracking::new(config);
        for note in tracking.notes() {
            tracing::warn!("{note}");
        }
        let mut m = Monitors {
            tasks: Vec::new(),
            refused: Vec::new(),
            locks: HashMap::new(),
        };

        let mut insecure = 0;
        for name in tracking.scripts() {
            let Some(s) = config.script(&name) else {
                continue;
            };
            match script::prepare(s, &config.global) {
                Ok(p) => {
                    if let Some(e) = &p.insecure {
                        insecure += 1;
                        tracing::warn!(script = %p.name, "vrrp_script is insecure: {e}");
                    }
                    if p.cmd.program().as_os_str().to_string_lossy().contains('/') {
                        tracing::debug!(script = %p.name, command = %p.cmd, "vrrp_script started");
                    } else {
                        tracing::warn!(script = %p.name, command = %p.cmd,
                            "vrrp_script names its program without a path; give its full path");
                    }
                    let lock = old_locks.remove(&name).unwrap_or_default();
                    m.locks.insert(name.clone(), Arc::clone(&lock));
                    m.tasks.push(rt.spawn(script::monitor(p, tx.clone(), lock)));
                }
                Err(e) => {
                    tracing::error!(script = %name, location = %s.location,
                        "vrrp_script {name} is disabled, as keepalived disables it: {e}; \
                         it is ignored by every track_script until this is fixed");
                    m.refused.push(Refusal {
                        kind: Refused::Script,
                        name: name.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        if insecure > 0 {
            tracing::warn!(
                "SECURITY VIOLATION (as keepalived calls it): {insecure} script(s) run as root \
                 from a path a non-root user could change, and enable_script_security is off"
            );
        }

        let defs: Vec<_> = tracking
            .files()
            .iter()
            .filter_map(|n| config.track_file(n))
            .collect();
        let file::Started { watch, dropped } = {
            let _guard = rt.enter();
            file::start(&defs, reload, &tx)?
        };
        for (name, reason) in dropped {
            tracing::error!(track_file = %name,
                "track_file {name} is dropped, as keepalived drops it: {reason}; it is ignored \
                 by every track_file");
            m.refused.push(Refusal {
                kind: Refused::File,
                name,
                reason,
            });
        }
        let procs: Vec<_> = tracking
            .processes()
            .iter()
            .filter_map(|n| config.track_process(n))
            .collect();
        if !procs.is_empty() {
            let started = {
                let _guard = rt.enter();
                process::start(&procs, &tx)
            };
            match started {
                Ok(w) => m.tasks.push(rt.spawn(w.run(tx.clone()))),
                Err(reason) => {
                    for p in procs {
                        tracing::error!(track_process = %p.name, location = %p.location,
                            "vrrp_track_process {} is not tracked: {reason}; it is ignored by \
                             every track_process", p.name);
                        m.refused.push(Refusal {
                            kind: Refused::Process,
                            name: p.name.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
        }
        if let Some(w) = watch {
            m.tasks.push(rt.spawn(w.run(tx)));
        }
        Ok(m)
    }

    /// The scripts and files that are not run or watched, and why (also logged).
    pub fn refused(&self) -> &[Refusal] {
        &self.refused
    }

    /// Tells `tracking` what was refused ([`Tracking::disable_script`],
    /// [`Tracking::disable_file`]). Returns the instances whose status changed.
    pub fn apply_refusals(&self, tracking: &mut Tracking) -> Vec<String> {
        let mut changed = Vec::new();
        for r in &self.refused {
            let c = match r.kind {
                Refused::Script => tracking.disable_script(&r.name),
                Refused::File => tracking.disable_file(&r.name),
                Refused::Process => tracking.disable_process(&r.name),
            };
            for name in c {
                if !changed.contains(&name) {
                    changed.push(name);
                }
            }
        }
        changed
    }

    /// Stops every task now (what `drop` does).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Monitors {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod test_util {
    use std::time::Duration;

    /// Waits (bounded) until `pid` no longer exists or is a zombie awaiting its reaper.
    pub async fn gone(pid: i32) -> bool {
        for _ in 0..500 {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "));
            if !alive {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

#[cfg(test)]
mod tests;
