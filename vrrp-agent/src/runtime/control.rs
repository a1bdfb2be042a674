//! Control requests in the agent loop: `status` answers from a snapshot, `reload` runs the
//! same reload as SIGHUP and says what it did to each instance.
use super::Agent;
use crate::{
    config,
    control::{
        server::{AgentRequest, ControlServer},
        ChangeKind, Command, InstanceChange, ReloadReply, Response,
    },
};

/// Opens the control socket `opts` asks for (none without a path).
pub(super) async fn open(
    opts: &super::RunOptions,
) -> anyhow::Result<(
    Option<ControlServer>,
    Option<tokio::sync::mpsc::Receiver<AgentRequest>>,
)> {
    let Some(path) = &opts.control_socket else {
        return Ok((None, None));
    };
    match ControlServer::bind(path).await {
        Ok((server, rx)) => Ok((Some(server), Some(rx))),
        // The default path is shared by agents whose namespaces cannot be told apart (an
        // unnamed namespace, /proc/1 unreadable): the second one runs without a socket
        // rather than not at all. A path given on the command line must work.
        Err(e) if *path == crate::control::default_socket_path() => {
            tracing::warn!("{e}; running without a control socket (`status` and `reload` will not reach this agent)");
            Ok((None, None))
        }
        Err(e) => Err(e.into()),
    }
}

impl Agent {
    /// Answers one control request.
    pub(super) async fn on_control(&mut self, req: AgentRequest) {
        let response = match req.command {
            Command::Status => {
                let t0 = std::time::Instant::now();
                let counters = self.refresh_observations();
                let s = self.snapshot_with(&counters);
                let took_us = t0.elapsed().as_micros();
                tracing::debug!(
                    took_us,
                    instances = s.instances.len(),
                    "status snapshot built"
                );
                Response::status(s)
            }
            Command::Reload => Response::reload(self.reload_for_control().await),
            Command::MaintenanceOn => self.maintenance(true, req.instance).await,
            Command::MaintenanceOff => self.maintenance(false, req.instance).await,
        };
        // The client may have gone; nothing to do then.
        let _ = req.reply.send(response);
    }

    /// Reloads as SIGHUP does; the configuration's own errors are reported one by one
    /// (file:line:column), anything else that rejects it as one error.
    async fn reload_for_control(&mut self) -> ReloadReply {
        tracing::info!(config = %self.opts.config.display(), "control socket: reloading");
        let warnings = match config::load(&self.opts.config) {
            Ok(loaded) => loaded.warnings.iter().map(ToString::to_string).collect(),
            Err(e) => {
                let errors: Vec<String> =
                    e.errors.iter().map(|d| d.as_error().to_string()).collect();
                tracing::error!(
                    "reload rejected, the running configuration stays: {}",
                    errors.join("; ")
                );
                return ReloadReply {
                    accepted: false,
                    changes: Vec::new(),
                    errors,
                    warnings: e.warnings.iter().map(ToString::to_string).collect(),
                };
            }
        };
        match self.reload().await {
            super::reload::ReloadOutcome::Applied(list) => ReloadReply {
                accepted: true,
                changes: list.iter().map(change_of).collect(),
                errors: Vec::new(),
                warnings,
            },
            super::reload::ReloadOutcome::Rejected { step, error } => {
                tracing::error!(
                    "reload rejected, the running configuration stays: {step}: {error}"
                );
                ReloadReply {
                    accepted: false,
                    changes: Vec::new(),
                    errors: vec![format!("{step}: {error}")],
                    warnings,
                }
            }
        }
    }
}

/// One instance's line of the reply, from the reload's own diff.
fn change_of(c: &super::reload::InstanceChange) -> InstanceChange {
    use super::diff::Change;
    let (change, detail) = match &c.change {
        Change::Added => (ChangeKind::Added, None),
        Change::Removed => (ChangeKind::Removed, None),
        Change::Restarted(why) => (ChangeKind::Restarted, Some(why.clone())),
        Change::ChangedInPlace(what) => (ChangeKind::Changed, Some(what.clone())),
        Change::Kept => (ChangeKind::Kept, None),
    };
    InstanceChange {
        instance: c.name.clone(),
        change,
        detail,
    }
}
