//! `vrrp-agent maintenance on|off [INSTANCE|--all]`: the client side, and the answer.
//!
//! `on` asks the agent to hand the instance over as on SIGTERM (priority 0 once, the VIPs
//! kept until the new Master is heard) and then to stay Backup at an effective priority
//! of 1 until `off`. The mode survives a reload, not a restart of the agent.
//!
//! Exit codes: [`EXIT_OK`] done (also when it already was so), [`EXIT_ERROR`] usage or
//! protocol error (an unknown instance), [`EXIT_NO_AGENT`](super::cli::EXIT_NO_AGENT) no agent answers on the socket.
use std::{path::PathBuf, process::ExitCode};

use serde::{Deserialize, Serialize};

use super::cli::{fail, send, EXIT_ERROR, EXIT_OK};
use super::{Command, Request, Response};

/// What `maintenance on|off` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceReply {
    /// `true` for `on`.
    pub on: bool,
    /// Each instance asked about.
    pub instances: Vec<MaintenanceInstance>,
}

/// One instance's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceInstance {
    /// Instance name.
    pub instance: String,
    /// Its mode changed (`false`: it already was so).
    pub changed: bool,
    /// It was Master and is handing its VIPs over now.
    pub handing_over: bool,
    /// Its effective priority now (1 in maintenance).
    pub effective_priority: u8,
}

/// The text `maintenance` prints.
pub fn render(r: &MaintenanceReply) -> String {
    let mode = if r.on { "on" } else { "off" };
    let mut out = String::new();
    for i in &r.instances {
        let what = match (i.changed, i.handing_over) {
            (false, _) => format!("maintenance already {mode}"),
            (true, true) => format!("maintenance {mode}: handing over to the new Master"),
            (true, false) => format!("maintenance {mode}"),
        };
        out.push_str(&format!(
            "{}: {what} (effective priority {})\n",
            i.instance, i.effective_priority
        ));
    }
    out
}

/// `vrrp-agent maintenance on|off [INSTANCE] [--json]` (no INSTANCE: every instance).
pub fn maintenance(
    socket: Option<PathBuf>,
    on: bool,
    instance: Option<String>,
    json: bool,
) -> ExitCode {
    let path = socket.unwrap_or_else(super::default_socket_path);
    let command = if on {
        Command::MaintenanceOn
    } else {
        Command::MaintenanceOff
    };
    let req = Request {
        instance,
        ..Request::new(command)
    };
    let reply = match send(&path, &req) {
        Ok(Response {
            maintenance: Some(r),
            ..
        }) => r,
        Ok(_) => {
            eprintln!(
                "error: control socket {}: the answer holds no maintenance outcome",
                path.display()
            );
            return ExitCode::from(EXIT_ERROR);
        }
        Err(e) => return fail(&e),
    };
    if json {
        match serde_json::to_string_pretty(&reply) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    } else {
        print!("{}", render(&reply));
    }
    ExitCode::from(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_instance_only_when_given() {
        let all = Request::new(Command::MaintenanceOn);
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            r#"{"schema_version":1,"command":"maintenance_on"}"#
        );
        let one = Request {
            instance: Some("VI_1".into()),
            ..Request::new(Command::MaintenanceOff)
        };
        assert_eq!(
            serde_json::to_string(&one).unwrap(),
            r#"{"schema_version":1,"command":"maintenance_off","instance":"VI_1"}"#
        );
    }

    #[test]
    fn the_text_says_what_happened() {
        let r = MaintenanceReply {
            on: true,
            instances: vec![
                MaintenanceInstance {
                    instance: "VI_1".into(),
                    changed: true,
                    handing_over: true,
                    effective_priority: 1,
                },
                MaintenanceInstance {
                    instance: "VI_2".into(),
                    changed: false,
                    handing_over: false,
                    effective_priority: 1,
                },
            ],
        };
        assert_eq!(
            render(&r),
            "VI_1: maintenance on: handing over to the new Master (effective priority 1)\n\
             VI_2: maintenance already on (effective priority 1)\n"
        );
    }
}
