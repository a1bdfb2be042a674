//! `vrrp-agent status` and `vrrp-agent reload`: the client side of the control socket.
//!
//! Exit codes of `status`: [`EXIT_OK`] every instance is MASTER or BACKUP,
//! [`EXIT_ERROR`] usage or protocol error (an unknown instance, a refused connection),
//! [`EXIT_FAULT`] an instance is in FAULT, [`EXIT_NO_AGENT`] no agent answers on the
//! socket, [`EXIT_NOT_STARTED`] an instance has not started yet (INIT: waiting for a
//! health check's first result). With INSTANCE, only that instance counts.
//!
//! Exit codes of `reload`: [`EXIT_OK`] accepted, [`EXIT_ERROR`] protocol error,
//! [`EXIT_REJECTED`] the configuration was rejected (the running one stays),
//! [`EXIT_NO_AGENT`] no agent answers on the socket.
use std::{
    io::{self, BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use super::{render, Command, Request, Response};
use crate::runtime::status::InstanceState;

/// Everything as wanted / reload accepted.
pub const EXIT_OK: u8 = 0;
/// Usage or protocol error.
pub const EXIT_ERROR: u8 = 1;
/// `status`: an instance is in FAULT. `reload`: rejected.
pub const EXIT_FAULT: u8 = 2;
/// `reload`: the configuration was rejected.
pub const EXIT_REJECTED: u8 = 2;
/// No agent answers on the control socket.
pub const EXIT_NO_AGENT: u8 = 3;
/// `status`: an instance has not started yet.
pub const EXIT_NOT_STARTED: u8 = 4;

/// How long the client waits for an answer (a reload may check many scripts).
const TIMEOUT: Duration = Duration::from_secs(90);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("no vrrp-agent is running here (control socket {path}: {source})")]
    NoAgent {
        /// The socket path.
        path: PathBuf,
        /// Why connecting failed.
        source: io::Error,
    },
    /// Talking to it failed.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The agent answered something unreadable, or refused.
    #[error("control socket {path}: {message}")]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Sends one request and reads its answer.
pub fn request(path: &Path, command: Command) -> Result<Response, ClientError> {
    send(path, &Request::new(command))
}

/// Sends `req` and reads its answer.
pub fn send(path: &Path, req: &Request) -> Result<Response, ClientError> {
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stream = UnixStream::connect(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::NoAgent {
            path: path.to_path_buf(),
            source,
        },
        _ => ClientError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
    let mut line = serde_json::to_string(req).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    line.push('\n');
    // An agent that refuses us answers and closes without reading: the write may then
    // fail, but its answer is still there to read.
    let written = (&stream).write_all(line.as_bytes());
    let mut answer = String::new();
    let read = BufReader::new(&stream).read_line(&mut answer);
    match (written, read) {
        (_, Ok(n)) if n > 0 => {}
        (Err(e), _) | (Ok(()), Err(e)) => return Err(io_err(e)),
        (Ok(()), Ok(_)) => {
            return Err(ClientError::Protocol {
                path: path.to_path_buf(),
                message: "the agent closed the connection without an answer".into(),
            })
        }
    }
    let response: Response = serde_json::from_str(&answer).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        message: format!("unreadable answer ({e})"),
    })?;
    if let Some(message) = response.error {
        return Err(ClientError::Protocol {
            path: path.to_path_buf(),
            message,
        });
    }
    Ok(response)
}

pub(super) fn fail(e: &ClientError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(match e {
        ClientError::NoAgent { .. } => EXIT_NO_AGENT,
        _ => EXIT_ERROR,
    })
}

/// The exit code for instances in these states.
pub fn status_exit_code(states: impl IntoIterator<Item = InstanceState>) -> u8 {
    let mut code = EXIT_OK;
    for s in states {
        match s {
            InstanceState::Fault => return EXIT_FAULT,
            InstanceState::Init => code = EXIT_NOT_STARTED,
            _ => {}
        }
    }
    code
}

/// `vrrp-agent status [INSTANCE] [--json]`.
pub fn status(socket: Option<PathBuf>, instance: Option<&str>, json: bool) -> ExitCode {
    let path = socket.unwrap_or_else(super::default_socket_path);
    let snapshot = match request(&path, Command::Status) {
        Ok(Response {
            status: Some(s), ..
        }) => s,
        Ok(_) => {
            eprintln!(
                "error: control socket {}: the answer holds no status",
                path.display()
            );
            return ExitCode::from(EXIT_ERROR);
        }
        Err(e) => return fail(&e),
    };
    let chosen = match instance {
        Some(name) => match snapshot.instance(name) {
            Some(i) => Some(i),
            None => {
                let names: Vec<&str> = snapshot.instances.iter().map(|i| i.name.as_str()).collect();
                eprintln!("error: no instance {name} (running: {})", names.join(", "));
                return ExitCode::from(EXIT_ERROR);
            }
        },
        None => None,
    };
    let text = match (json, chosen) {
        (true, Some(i)) => serde_json::to_string_pretty(i),
        (true, None) => serde_json::to_string_pretty(&snapshot),
        (false, Some(i)) => Ok(render::details(&snapshot, i)),
        (false, None) => Ok(render::table(&snapshot)),
    };
    match text {
        Ok(t) => {
            print!("{t}");
            if json {
                println!();
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let states: Vec<InstanceState> = match chosen {
        Some(i) => vec![i.state],
        None => snapshot.instances.iter().map(|i| i.state).collect(),
    };
    ExitCode::from(status_exit_code(states))
}

/// `vrrp-agent reload`.
pub fn reload(socket: Option<PathBuf>, json: bool) -> ExitCode {
    let path = socket.unwrap_or_else(super::default_socket_path);
    let reply = match request(&path, Command::Reload) {
        Ok(Response {
            reload: Some(r), ..
        }) => r,
        Ok(_) => {
            eprintln!(
                "error: control socket {}: the answer holds no reload outcome",
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
    } else if reply.accepted {
        print!("{}", render::reload(&reply));
    } else {
        eprint!("{}", render::reload(&reply));
    }
    ExitCode::from(if reply.accepted {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_wins_over_init_and_init_over_ok() {
        use InstanceState::*;
        assert_eq!(status_exit_code([Master, Backup]), EXIT_OK);
        assert_eq!(status_exit_code([Master, Init]), EXIT_NOT_STARTED);
        assert_eq!(status_exit_code([Init, Fault, Master]), EXIT_FAULT);
        assert_eq!(status_exit_code([]), EXIT_OK);
    }

    #[test]
    fn a_missing_socket_means_no_agent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = request(&dir.path().join("none.sock"), Command::Status).expect_err("nothing there");
        assert!(matches!(e, ClientError::NoAgent { .. }), "{e}");
    }
}
