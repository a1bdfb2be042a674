//! The control socket: `vrrp-agent status` and `vrrp-agent reload` talk to a running agent
//! over a Unix socket.
//!
//! Protocol (schema version [`PROTOCOL_VERSION`]): newline-delimited JSON. The client writes
//! one [`Request`] per line, e.g. `{"schema_version":1,"command":"status"}`; the agent
//! answers each with one [`Response`] line, e.g. `{"schema_version":1,"status":{...}}` (a
//! [`Snapshot`]), `{"schema_version":1,"reload":{"accepted":true,...}}` (a [`ReloadReply`])
//! or `{"schema_version":1,"error":"..."}`. Fields are added without a version change; a
//! rename, removal or change of meaning raises the version.
//!
//! Only the agent's own user and root may talk to it: the socket is created mode 0600, and
//! the server checks each connection's peer credentials (`SO_PEERCRED`) as well.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::runtime::status::Snapshot;

pub mod cli;
pub mod maintenance;
pub mod render;
pub mod server;

/// The version of the request and response schema (the snapshot inside has its own,
/// [`crate::runtime::status::SCHEMA_VERSION`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request line the server reads.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Where the control socket goes by default: `/run/vrrp-agent/control.sock` in the host's
/// network namespace. In a named namespace (`ip netns add NAME`)
/// `/run/vrrp-agent/control-NAME.sock`, in another one that is not the host's
/// `control-netns-<dev>-<inode>.sock`, so that the agents of several namespaces coexist and
/// `ip netns exec NAME vrrp-agent status` finds the agent of `NAME`.
pub fn default_socket_path() -> PathBuf {
    let dir = PathBuf::from(crate::runtime::lock::LOCK_DIR);
    dir.join(socket_name(
        ns_ident("/proc/self/ns/net"),
        ns_ident("/proc/1/ns/net"),
        &named_netns(),
    ))
}

fn ns_ident(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The namespaces `ip netns` names, with their identities, sorted by name.
fn named_netns() -> Vec<(String, (u64, u64))> {
    let mut out: Vec<(String, (u64, u64))> = std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    let id = ns_ident(&e.path().to_string_lossy())?;
                    Some((name, id))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The socket's file name for a process in namespace `ours`, given the host's (`init`,
/// when readable) and the named ones.
fn socket_name(
    ours: Option<(u64, u64)>,
    init: Option<(u64, u64)>,
    named: &[(String, (u64, u64))],
) -> String {
    let Some(ours) = ours else {
        return "control.sock".to_string();
    };
    let plain = |n: &str| {
        !n.is_empty()
            && n.len() <= 100
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if let Some((name, _)) = named.iter().find(|(n, id)| *id == ours && plain(n)) {
        return format!("control-{name}.sock");
    }
    match init {
        Some(init) if init != ours => format!("control-netns-{}-{}.sock", ours.0, ours.1),
        _ => "control.sock".to_string(),
    }
}

/// What a client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// The status snapshot.
    Status,
    /// Re-read the configuration, as SIGHUP does, and say what changed.
    Reload,
    /// `vrrp-agent maintenance on`: hand over and stay Backup at priority 1 (the request's
    /// `instance`, or every instance without one).
    MaintenanceOn,
    /// `vrrp-agent maintenance off`: back to the tracked priority.
    MaintenanceOff,
}

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// [`PROTOCOL_VERSION`] of the client.
    pub schema_version: u32,
    /// What it asks.
    pub command: Command,
    /// `maintenance_on` / `maintenance_off`: the instance (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Request {
    /// A request of this version.
    pub fn new(command: Command) -> Self {
        Request {
            schema_version: PROTOCOL_VERSION,
            command,
            instance: None,
        }
    }
}

/// One response line: exactly one of `status`, `reload` and `error` is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// [`PROTOCOL_VERSION`] of the agent.
    pub schema_version: u32,
    /// The answer to `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Snapshot>,
    /// The answer to `reload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadReply>,
    /// The answer to `maintenance_on` / `maintenance_off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<maintenance::MaintenanceReply>,
    /// The request could not be served (unreadable, unknown command, not allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    /// A status answer.
    pub fn status(s: Snapshot) -> Self {
        Response {
            schema_version: PROTOCOL_VERSION,
            status: Some(s),
            reload: None,
            maintenance: None,
            error: None,
        }
    }

    /// A reload answer.
    pub fn reload(r: ReloadReply) -> Self {
        Response {
            schema_version: PROTOCOL_VERSION,
            status: None,
            reload: Some(r),
            maintenance: None,
            error: None,
        }
    }

    /// A maintenance answer.
    pub fn maintenance(m: maintenance::MaintenanceReply) -> Self {
        Response {
            schema_version: PROTOCOL_VERSION,
            status: None,
            reload: None,
            maintenance: Some(m),
            error: None,
        }
    }

    /// An error answer.
    pub fn error(message: impl Into<String>) -> Self {
        Response {
            schema_version: PROTOCOL_VERSION,
            status: None,
            reload: None,
            maintenance: None,
            error: Some(message.into()),
        }
    }
}

/// The outcome of a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReply {
    /// The new configuration runs; `false`: it was rejected and the running one stays.
    pub accepted: bool,
    /// What happened to each instance (empty when rejected).
    pub changes: Vec<InstanceChange>,
    /// Why it was rejected: configuration errors as `file:line:column: error: message`,
    /// or what failed on the host.
    pub errors: Vec<String>,
    /// Warnings about the new configuration (`file:line:column: warning: message`).
    pub warnings: Vec<String>,
}

/// What a reload did to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New in the file: started.
    Added,
    /// Gone from the file: stopped as on SIGTERM.
    Removed,
    /// Its settings changed: stopped and started again.
    Restarted,
    /// Changed in place (VIPs, interval, priority, peers...): kept its state and timers.
    Changed,
    /// Unchanged.
    Kept,
}

/// One instance's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceChange {
    /// Instance name.
    pub instance: String,
    /// What happened to it.
    pub change: ChangeKind,
    /// What changed, e.g. `priority 100 -> 120`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_the_documented_lines() {
        let line = serde_json::to_string(&Request::new(Command::Status)).expect("serializes");
        assert_eq!(line, r#"{"schema_version":1,"command":"status"}"#);
        let r: Request =
            serde_json::from_str(r#"{"schema_version":1,"command":"reload"}"#).expect("parses");
        assert_eq!(r.command, Command::Reload);
        assert!(
            serde_json::from_str::<Request>(r#"{"schema_version":1,"command":"dump"}"#).is_err()
        );
    }

    #[test]
    fn a_reload_reply_carries_changes_and_errors() {
        let reply = ReloadReply {
            accepted: false,
            changes: vec![InstanceChange {
                instance: "VI_1".into(),
                change: ChangeKind::Changed,
                detail: Some("priority 100 -> 120".into()),
            }],
            errors: vec!["/etc/k.conf:3:5: error: unknown keyword".into()],
            warnings: vec![],
        };
        let v = serde_json::to_value(Response::reload(reply.clone())).expect("serializes");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["reload"]["changes"][0]["change"], "changed");
        assert_eq!(
            v["reload"]["errors"][0],
            "/etc/k.conf:3:5: error: unknown keyword"
        );
        assert!(v.get("status").is_none() && v.get("error").is_none());
        let back: Response = serde_json::from_value(v).expect("parses");
        assert_eq!(back.reload, Some(reply));
    }

    #[test]
    fn an_error_response_has_only_the_error() {
        let line = serde_json::to_string(&Response::error("no")).expect("serializes");
        assert_eq!(line, r#"{"schema_version":1,"error":"no"}"#);
    }

    #[test]
    fn each_namespace_gets_its_own_default_socket() {
        let named = vec![("blue".to_string(), (4, 7)), ("../x".to_string(), (4, 8))];
        assert_eq!(
            socket_name(Some((4, 1)), Some((4, 1)), &named),
            "control.sock"
        );
        assert_eq!(socket_name(Some((4, 1)), None, &named), "control.sock");
        assert_eq!(socket_name(Some((4, 7)), None, &named), "control-blue.sock");
        assert_eq!(
            socket_name(Some((4, 8)), Some((4, 1)), &named),
            "control-netns-4-8.sock"
        );
        assert_eq!(socket_name(None, None, &named), "control.sock");
    }

    #[test]
    fn the_default_socket_is_under_the_lock_directory() {
        let p = default_socket_path();
        assert!(p.starts_with(crate::runtime::lock::LOCK_DIR), "{p:?}");
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            name.starts_with("control") && name.ends_with(".sock"),
            "{name}"
        );
    }
}
