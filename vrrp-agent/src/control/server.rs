//! The agent's side of the control socket: accepts connections on the tokio runtime, checks
//! who is calling, reads request lines and hands each to the agent loop through a channel;
//! the loop answers through a oneshot. What may take time outside the loop (reading the
//! interfaces' addresses for VIP presence) happens here, not there.
use std::{
    collections::BTreeMap,
    io,
    net::IpAddr,
    os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use super::{Command, Request, Response, MAX_REQUEST, PROTOCOL_VERSION};
use crate::{netlink::Netlink, runtime::status::Snapshot};

/// How long a client may take to send a request line.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the agent may take to answer (a reload checks interfaces and scripts).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests served on one connection at most.
const MAX_REQUESTS_PER_CONNECTION: usize = 64;
/// Requests waiting for the agent loop at most; more are refused with an error.
const QUEUE: usize = 16;

/// A request for the agent loop, with the way back.
#[derive(Debug)]
pub struct AgentRequest {
    /// What is asked.
    pub command: Command,
    /// The instance it names, if any (`maintenance`).
    pub instance: Option<String>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Response>,
}

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another process answers on the path.
    #[error("{0}: another agent serves this control socket; give this one its own with --control-socket")]
    InUse(PathBuf),
    /// A file that is not a socket is in the way.
    #[error("{0}: exists and is not a socket; remove it or choose another --control-socket")]
    NotASocket(PathBuf),
    /// The system refused.
    #[error("control socket {path}: {what}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// The listening control socket; dropping it stops serving and removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    /// The socket file's identity, so that only our own file is removed.
    ident: (u64, u64),
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Listens on `path` (mode 0600) and returns the requests the agent loop must answer.
    /// A socket file left by a dead agent is replaced; one a live agent answers on is not.
    pub async fn bind(
        path: &Path,
    ) -> Result<(ControlServer, mpsc::Receiver<AgentRequest>), ControlError> {
        let io = |what| {
            move |source| ControlError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("creating its directory"))?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_socket() => {
                return Err(ControlError::NotASocket(path.to_path_buf()))
            }
            Ok(_) => {
                if UnixStream::connect(path).await.is_ok() {
                    return Err(ControlError::InUse(path.to_path_buf()));
                }
                std::fs::remove_file(path).map_err(io("removing a stale socket"))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("looking at the path")(e)),
        }
        let listener = UnixListener::bind(path).map_err(io("binding"))?;
        // Before anyone can be served: only our user may connect (the peer check below
        // holds even if this is loosened later).
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("setting mode 0600"))?;
        let m = std::fs::metadata(path).map_err(io("reading its identity"))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(accept_loop(listener, tx));
        tracing::info!(path = %path.display(), "control socket ready");
        Ok((
            ControlServer {
                path: path.to_path_buf(),
                ident: (m.dev(), m.ino()),
                task,
            },
            rx,
        ))
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.ident);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<AgentRequest>) {
    let netlink = Netlink::connect().await.ok();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let tx = tx.clone();
                let netlink = netlink.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, tx, netlink).await {
                        tracing::debug!("control connection: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("control socket: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Whether a peer with `uid` may use the socket: the agent's own user, or root.
pub fn allowed(peer_uid: u32, our_uid: u32) -> bool {
    peer_uid == our_uid || peer_uid == 0
}

async fn serve(
    stream: UnixStream,
    tx: mpsc::Sender<AgentRequest>,
    netlink: Option<Netlink>,
) -> io::Result<()> {
    let peer = stream.peer_cred()?;
    let (read, mut write) = stream.into_split();
    let our_uid = nix::unistd::geteuid().as_raw();
    if !allowed(peer.uid(), our_uid) {
        tracing::warn!(uid = peer.uid(), pid = ?peer.pid(), "control socket: refused a connection from another user");
        let line = line_of(&Response::error(format!(
            "permission denied: uid {} may not control this agent (only uid {our_uid} and root)",
            peer.uid()
        )));
        // Its request is read (bounded) but not served, so that it gets the answer
        // rather than a reset for unread data.
        let mut sink = Vec::new();
        let mut limited = BufReader::new(read).take(MAX_REQUEST as u64);
        let _ = tokio::time::timeout(Duration::from_secs(1), limited.read_until(b'\n', &mut sink))
            .await;
        write.write_all(line.as_bytes()).await?;
        return Ok(());
    }
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        buf.clear();
        let mut limited = (&mut read).take(MAX_REQUEST as u64 + 1);
        let n = match tokio::time::timeout(READ_TIMEOUT, limited.read_until(b'\n', &mut buf)).await
        {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        let response = if buf.len() > MAX_REQUEST {
            Response::error(format!("request longer than {MAX_REQUEST} bytes"))
        } else {
            match serde_json::from_slice::<Request>(&buf) {
                Err(e) => Response::error(format!(
                    "unreadable request ({e}); expected e.g. {{\"schema_version\":{PROTOCOL_VERSION},\"command\":\"status\"}}"
                )),
                Ok(r) if r.schema_version > PROTOCOL_VERSION => Response::error(format!(
                    "request schema version {} is newer than this agent's ({PROTOCOL_VERSION})",
                    r.schema_version
                )),
                Ok(r) => ask(&tx, r.command, r.instance, netlink.as_ref()).await,
            }
        };
        write.write_all(line_of(&response).as_bytes()).await?;
        if buf.len() > MAX_REQUEST {
            return Ok(());
        }
    }
    Ok(())
}

fn line_of(r: &Response) -> String {
    let mut s = serde_json::to_string(r)
        .unwrap_or_else(|e| format!("{{\"schema_version\":{PROTOCOL_VERSION},\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

async fn ask(
    tx: &mpsc::Sender<AgentRequest>,
    command: Command,
    instance: Option<String>,
    netlink: Option<&Netlink>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    let req = AgentRequest {
        command,
        instance,
        reply,
    };
    if tx.try_send(req).is_err() {
        return Response::error("the agent is busy (too many requests waiting); try again");
    }
    let mut response = match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return Response::error("the agent is stopping"),
        Err(_) => return Response::error("the agent did not answer in time"),
    };
    if let (Some(s), Some(nl)) = (response.status.as_mut(), netlink) {
        fill_vip_presence(s, nl).await;
    }
    response
}

/// Reads the addresses of every interface a VIP goes on and marks each VIP present or not.
async fn fill_vip_presence(s: &mut Snapshot, netlink: &Netlink) {
    let mut addrs: BTreeMap<String, Option<Vec<IpAddr>>> = BTreeMap::new();
    for inst in &mut s.instances {
        for vip in &mut inst.vips {
            if !addrs.contains_key(&vip.interface) {
                let got = match crate::dataplane::if_index(&vip.interface) {
                    Some(idx) => netlink
                        .addresses(idx)
                        .await
                        .ok()
                        .map(|v| v.into_iter().map(|a| a.addr).collect()),
                    None => Some(Vec::new()),
                };
                addrs.insert(vip.interface.clone(), got);
            }
            let ip: Option<IpAddr> = vip.address.split('/').next().and_then(|a| a.parse().ok());
            vip.present = match (&addrs[&vip.interface], ip) {
                (Some(list), Some(ip)) => Some(list.contains(&ip)),
                _ => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_user_and_root_are_allowed() {
        assert!(allowed(1000, 1000));
        assert!(allowed(0, 1000));
        assert!(allowed(0, 0));
        assert!(!allowed(65534, 0));
        assert!(!allowed(1001, 1000));
    }

    #[tokio::test]
    async fn a_socket_is_0600_answers_and_goes_away_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sock");
        let (server, mut rx) = ControlServer::bind(&path).await.expect("binds");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second server on a live socket is refused.
        assert!(matches!(
            ControlServer::bind(&path).await,
            Err(ControlError::InUse(_))
        ));
        let agent = tokio::spawn(async move {
            let req = rx.recv().await.expect("a request");
            assert_eq!(req.command, Command::Reload);
            let _ = req.reply.send(Response::reload(Default::default()));
        });
        let mut c = UnixStream::connect(&path).await.expect("connects");
        c.write_all(b"not json\n{\"schema_version\":1,\"command\":\"reload\"}\n")
            .await
            .expect("writes");
        let mut lines = BufReader::new(c).lines();
        let first: Response =
            serde_json::from_str(&lines.next_line().await.expect("reads").expect("a line"))
                .expect("json");
        assert!(first
            .error
            .expect("an error")
            .contains("unreadable request"));
        let second: Response =
            serde_json::from_str(&lines.next_line().await.expect("reads").expect("a line"))
                .expect("json");
        assert_eq!(second.reload, Some(Default::default()));
        agent.await.expect("agent task");
        drop(server);
        assert!(!path.exists(), "socket removed on drop");
    }
}
