//! Control requests in the agent loop: `status` answers from a snapshot, `reload` runs the
//! same reload as SIGHUP and says what it did to each instance.
use std::collections::BTreeMap;

use super::Agent;
use crate::{
    config::{self, Instance},
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

/// An instance as it ran before a reload: its router's id (0: watched only) and settings.
struct Before {
    id: u64,
    inst: Option<Instance>,
    kernel: Option<super::KernelInstance>,
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
        let before = self.running_instances();
        if let Err(e) = self.reload().await {
            tracing::error!("reload rejected, the running configuration stays: {e:#}");
            return ReloadReply {
                accepted: false,
                changes: Vec::new(),
                errors: vec![format!("{e:#}")],
                warnings,
            };
        }
        let after = self.running_instances();
        ReloadReply {
            accepted: true,
            changes: changes(&before, &after),
            errors: Vec::new(),
            warnings,
        }
    }

    fn running_instances(&self) -> BTreeMap<String, Before> {
        let mut out: BTreeMap<String, Before> = self
            .kernel
            .values()
            .map(|k| {
                (
                    k.name.clone(),
                    Before {
                        id: 0,
                        inst: None,
                        kernel: Some(k.clone()),
                    },
                )
            })
            .collect();
        for r in &self.routers {
            let e = out.entry(r.name.clone()).or_insert(Before {
                id: 0,
                inst: None,
                kernel: None,
            });
            e.id = r.obs.id;
            e.inst = Some(r.inst.clone());
        }
        out
    }
}

/// What a reload did, instance by instance, from what ran before and after it.
fn changes(
    before: &BTreeMap<String, Before>,
    after: &BTreeMap<String, Before>,
) -> Vec<InstanceChange> {
    let mut out = Vec::new();
    for (name, a) in after {
        let (change, detail) = match before.get(name) {
            None => (ChangeKind::Added, None),
            Some(b) if a.id != 0 && b.id != a.id => (ChangeKind::Restarted, None),
            Some(b) if a.id == 0 && b.kernel != a.kernel => (ChangeKind::Restarted, None),
            Some(b) => match (&b.inst, &a.inst) {
                (Some(bi), Some(ai)) if bi != ai => {
                    let detail = (bi.priority != ai.priority)
                        .then(|| format!("priority {} -> {}", bi.priority, ai.priority));
                    (ChangeKind::Changed, detail)
                }
                _ => (ChangeKind::Kept, None),
            },
        };
        out.push(InstanceChange {
            instance: name.clone(),
            change,
            detail,
        });
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(InstanceChange {
            instance: name.clone(),
            change: ChangeKind::Removed,
            detail: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances(text: &str) -> Vec<Instance> {
        match config::parse_str(text, std::path::Path::new("t.conf")) {
            Ok(l) => l.config.instances,
            Err(e) => panic!("{e}"),
        }
    }

    fn inst(name: &str, vrid: u8, priority: u8) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority {priority}\n \
             virtual_ipaddress {{ 198.18.0.{vrid} }}\n}}\n"
        )
    }

    fn running(list: &[(Instance, u64)]) -> BTreeMap<String, Before> {
        list.iter()
            .map(|(i, id)| {
                (
                    i.name.clone(),
                    Before {
                        id: *id,
                        inst: Some(i.clone()),
                        kernel: None,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn changes_name_each_instance_once() {
        let old = instances(&format!(
            "{}{}{}",
            inst("A", 1, 100),
            inst("B", 2, 100),
            inst("C", 3, 100)
        ));
        let new = instances(&format!(
            "{}{}{}",
            inst("A", 1, 100),
            inst("B", 2, 120),
            inst("D", 4, 100)
        ));
        let before = running(&[
            (old[0].clone(), 1),
            (old[1].clone(), 2),
            (old[2].clone(), 3),
        ]);
        // A kept (same router), B changed in place (same router), D new, C gone; then A
        // rebuilt (another router id) is a restart.
        let after = running(&[
            (new[0].clone(), 1),
            (new[1].clone(), 2),
            (new[2].clone(), 9),
        ]);
        let got: Vec<(String, ChangeKind, Option<String>)> = changes(&before, &after)
            .into_iter()
            .map(|c| (c.instance, c.change, c.detail))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A".into(), ChangeKind::Kept, None),
                (
                    "B".into(),
                    ChangeKind::Changed,
                    Some("priority 100 -> 120".into())
                ),
                ("D".into(), ChangeKind::Added, None),
                ("C".into(), ChangeKind::Removed, None),
            ]
        );
        let after = running(&[(new[0].clone(), 7)]);
        assert_eq!(changes(&before, &after)[0].change, ChangeKind::Restarted);
    }
}
