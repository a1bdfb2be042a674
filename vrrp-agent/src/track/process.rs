//! `vrrp_track_process`: counts the processes that match each tracked definition, from one
//! scan of /proc at start and then the kernel's process events only (the netlink connector,
//! `NETLINK_CONNECTOR` / `CN_IDX_PROC`: fork, exec, comm change, exit), never by polling.
//! A definition has quorum while `quorum <= count <= quorum_max`; gaining it by a fork
//! waits `fork_delay`, losing it by an exit waits `terminate_delay` (keepalived 2.2.7,
//! `core/track_process.c`: `check_process`, `check_process_fork`,
//! `check_process_termination`, `check_process_comm_change`).
//!
//! - [`Matcher`]: does a process (its `comm` and command line) match a definition;
//! - [`Quorum`] and [`Watcher`]: the counting and the delays, sans-I/O (time is a
//!   parameter);
//! - [`ProcEvent`] and [`parse_event`]: the connector's messages;
//! - [`start`]: the socket, the /proc scan and the task that feeds [`TrackEvent::Process`].
//!
//! The kernel delivers process events only to sockets of the initial network namespace.
//! An agent started in another namespace opens its socket in the namespace named by
//! `VRRP_AGENT_PROC_EVENTS_NETNS` (a path such as `/proc/PID/ns/net`), or else in
//! `/proc/1/ns/net`'s.
use std::{
    collections::BTreeSet,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use tokio::{io::unix::AsyncFd, sync::mpsc::UnboundedSender};

use super::TrackEvent;
use crate::config::{ParamMatch, TrackProcessDef};

/// Environment variable naming the network namespace to open the process-events socket in.
pub const NETNS_ENV: &str = "VRRP_AGENT_PROC_EVENTS_NETNS";

/// How much of a command line is read (keepalived reads only as much as the longest
/// configured name and parameters need; this is far above any of those).
const CMDLINE_MAX: usize = 8192;

// ----- matching ---------------------------------------------------------------------------

/// Does a process match a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    process: String,
    /// The parameters, each followed by a NUL, as in /proc/PID/cmdline.
    params: Vec<u8>,
    param_match: ParamMatch,
    full_command: bool,
}

impl Matcher {
    pub fn new(def: &TrackProcessDef) -> Matcher {
        let mut params = Vec::new();
        for p in &def.params {
            params.extend_from_slice(p.as_bytes());
            params.push(0);
        }
        Matcher {
            process: def.process.clone(),
            params,
            param_match: def.param_match,
            full_command: def.full_command,
        }
    }

    /// Matches on the command line (else on `comm`).
    pub fn full_command(&self) -> bool {
        self.full_command
    }

    /// `comm` is the process's name (/proc/PID/comm without the newline); `cmdline` its
    /// command line (/proc/PID/cmdline: NUL-terminated words).
    pub fn matches(&self, comm: &str, cmdline: &[u8]) -> bool {
        if !self.full_command {
            return comm == self.process;
        }
        let (argv0, rest) = match cmdline.iter().position(|b| *b == 0) {
            Some(i) => (&cmdline[..i], &cmdline[i + 1..]),
            None => (cmdline, &[][..]),
        };
        argv0 == self.process.as_bytes() && self.params_match(rest)
    }

    /// keepalived's `check_params`.
    fn params_match(&self, rest: &[u8]) -> bool {
        let p = &self.params;
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => rest == p.as_slice(),
            _ if p.is_empty() => true,
            ParamMatch::Partial => rest.starts_with(p),
            // The last parameter given need only start the process's one.
            ParamMatch::Initial => rest.starts_with(&p[..p.len() - 1]),
        }
    }
}

// ----- counting ---------------------------------------------------------------------------

/// The processes counted for one definition, its quorum and its pending delay.
#[derive(Debug, Clone)]
pub struct Quorum {
    quorum: u32,
    quorum_max: u32,
    fork_delay: Option<Duration>,
    terminate_delay: Option<Duration>,
    pids: BTreeSet<i32>,
    /// What was last reported.
    have: bool,
    fork_timer: Option<Instant>,
    terminate_timer: Option<Instant>,
}

impl Quorum {
    pub fn new(def: &TrackProcessDef) -> Quorum {
        Quorum {
            quorum: def.quorum,
            quorum_max: def.quorum_max,
            fork_delay: def.fork_delay,
            terminate_delay: def.terminate_delay,
            pids: BTreeSet::new(),
            have: false,
            fork_timer: None,
            terminate_timer: None,
        }
    }

    pub fn count(&self) -> usize {
        self.pids.len()
    }

    fn in_range(&self) -> bool {
        let n = u32::try_from(self.pids.len()).unwrap_or(u32::MAX);
        n >= self.quorum && n <= self.quorum_max
    }

    pub fn has_quorum(&self) -> bool {
        self.have
    }

    pub fn is_tracking(&self, pid: i32) -> bool {
        self.pids.contains(&pid)
    }

    /// Sets the reported state; `Some(new)` when it changed.
    fn report(&mut self, now_up: bool) -> Option<bool> {
        (now_up != self.have).then(|| {
            self.have = now_up;
            now_up
        })
    }

    /// Reports the state of the count as it is now (start-up, timers, rescans).
    fn settle(&mut self) -> Option<bool> {
        self.fork_timer = None;
        self.terminate_timer = None;
        let up = self.in_range();
        self.report(up)
    }

    /// Counts `pid` (if not yet counted). `fork`: it was forked by a counted process, so a
    /// gained quorum waits `fork_delay`; an exec (or rename) reports at once.
    pub fn add(&mut self, pid: i32, now: Instant, fork: bool) -> Option<bool> {
        if !self.pids.insert(pid) {
            return None;
        }
        let was = self.pids.len() - 1;
        if self.crossed(was) {
            if self.terminate_timer.take().is_some() {
                // The loss was never reported: nothing to do but cancel it.
                return self.report(self.in_range());
            }
            if let (true, Some(d)) = (fork, self.fork_delay) {
                self.fork_timer = Some(now + d);
                return None;
            }
            self.fork_timer = None;
            return self.report(self.in_range());
        }
        None
    }

    /// Stops counting `pid`. `exit`: it exited, so a lost quorum waits `terminate_delay`;
    /// an exec or rename into something else reports at once.
    pub fn remove(&mut self, pid: i32, now: Instant, exit: bool) -> Option<bool> {
        if !self.pids.remove(&pid) {
            return None;
        }
        let was = self.pids.len() + 1;
        if self.crossed(was) {
            if self.fork_timer.take().is_some() {
                return self.report(self.in_range());
            }
            if let (true, Some(d)) = (exit, self.terminate_delay) {
                self.terminate_timer = Some(now + d);
                return None;
            }
            self.terminate_timer = None;
            return self.report(self.in_range());
        }
        None
    }

    /// The count moved from `was` across a quorum boundary.
    fn crossed(&self, was: usize) -> bool {
        let was = u32::try_from(was).unwrap_or(u32::MAX);
        let in_was = was >= self.quorum && was <= self.quorum_max;
        in_was != self.in_range()
    }

    /// When a delay ends.
    pub fn deadline(&self) -> Option<Instant> {
        self.fork_timer.or(self.terminate_timer)
    }

    /// Ends a delay that is due.
    pub fn expire(&mut self, now: Instant) -> Option<bool> {
        match self.deadline() {
            Some(d) if d <= now => self.settle(),
            _ => None,
        }
    }

    /// Replaces the counted processes (a rescan after lost events) and reports at once.
    fn reset(&mut self, pids: BTreeSet<i32>) -> Option<bool> {
        self.pids = pids;
        self.settle()
    }
}

/// One process as read from /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: i32,
    pub comm: String,
    pub cmdline: Vec<u8>,
}

/// Every tracked definition's matcher and count; feeds on process events.
#[derive(Debug, Clone)]
pub struct Watcher {
    defs: Vec<(String, Matcher, Quorum)>,
}

/// A change of quorum: (definition name, has quorum now).
pub type Change = (String, bool);

impl Watcher {
    pub fn new<'a>(defs: impl IntoIterator<Item = &'a TrackProcessDef>) -> Watcher {
        Watcher {
            defs: defs
                .into_iter()
                .map(|d| (d.name.clone(), Matcher::new(d), Quorum::new(d)))
                .collect(),
        }
    }

    /// Whether any definition needs the command line (else `comm` is enough).
    pub fn needs_cmdline(&self) -> bool {
        self.defs.iter().any(|(_, m, _)| m.full_command())
    }

    /// The start: counts `procs` and returns every definition's state.
    pub fn scan(&mut self, procs: &[ProcInfo]) -> Vec<Change> {
        for (_, m, q) in &mut self.defs {
            let pids = procs
                .iter()
                .filter(|p| m.matches(&p.comm, &p.cmdline))
                .map(|p| p.pid)
                .collect();
            q.reset(pids);
        }
        self.states()
    }

    /// Every definition's state.
    pub fn states(&self) -> Vec<Change> {
        self.defs
            .iter()
            .map(|(n, _, q)| (n.clone(), q.has_quorum()))
            .collect()
    }

    /// The processes counted for `name`.
    pub fn count(&self, name: &str) -> Option<usize> {
        self.defs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, q)| q.count())
    }

    /// After lost events: counts `procs` afresh; reports changes at once.
    pub fn rescan(&mut self, procs: &[ProcInfo]) -> Vec<Change> {
        let mut out = Vec::new();
        for (name, m, q) in &mut self.defs {
            let pids = procs
                .iter()
                .filter(|p| m.matches(&p.comm, &p.cmdline))
                .map(|p| p.pid)
                .collect();
            if let Some(up) = q.reset(pids) {
                out.push((name.clone(), up));
            }
        }
        out
    }

    /// `proc` exec'd a new program (`None`: it could not be read, e.g. it is gone already).
    pub fn exec(&mut self, pid: i32, proc: Option<&ProcInfo>, now: Instant) -> Vec<Change> {
        let Some(p) = proc else {
            return Vec::new();
        };
        self.each(|m, q| {
            if m.matches(&p.comm, &p.cmdline) {
                q.add(pid, now, false)
            } else {
                q.remove(pid, now, false)
            }
        })
    }

    /// `parent` forked `child`: the child counts wherever the parent does.
    pub fn fork(&mut self, parent: i32, child: i32, now: Instant) -> Vec<Change> {
        self.each(|_, q| {
            if q.is_tracking(parent) {
                q.add(child, now, true)
            } else {
                None
            }
        })
    }

    /// `pid` renamed itself to `comm` (prctl PR_SET_NAME): matters to `comm` matches only.
    pub fn comm(&mut self, pid: i32, comm: &str, now: Instant) -> Vec<Change> {
        self.each(|m, q| {
            if m.full_command() {
                None
            } else if m.matches(comm, &[]) {
                q.add(pid, now, false)
            } else {
                q.remove(pid, now, false)
            }
        })
    }

    /// `pid` exited.
    pub fn exit(&mut self, pid: i32, now: Instant) -> Vec<Change> {
        self.each(|_, q| q.remove(pid, now, true))
    }

    /// The next delay to end.
    pub fn deadline(&self) -> Option<Instant> {
        self.defs.iter().filter_map(|(_, _, q)| q.deadline()).min()
    }

    /// Ends the delays that are due.
    pub fn expire(&mut self, now: Instant) -> Vec<Change> {
        self.each(|_, q| q.expire(now))
    }

    fn each(&mut self, mut f: impl FnMut(&Matcher, &mut Quorum) -> Option<bool>) -> Vec<Change> {
        let mut out = Vec::new();
        for (name, m, q) in &mut self.defs {
            if let Some(up) = f(m, q) {
                out.push((name.clone(), up));
            }
        }
        out
    }
}

// ----- the connector's messages -------------------------------------------------------------

/// `CN_IDX_PROC` / `CN_VAL_PROC` (linux/connector.h).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
/// `enum proc_cn_mcast_op` (linux/cn_proc.h).
const PROC_CN_MCAST_LISTEN: u32 = 1;
/// `enum what` of `struct proc_event` (linux/cn_proc.h).
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
/// `struct nlmsghdr` (16 bytes) then `struct cn_msg` (20 bytes) then `struct proc_event`.
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = NLMSG_HDR;
const PROC_EV: usize = NLMSG_HDR + 20;
/// `event_data` within `struct proc_event`: after `what`, `cpu` and `timestamp_ns`.
const EV_DATA: usize = PROC_EV + 16;
/// `comm` of a comm event: after `process_pid` and `process_tgid`, 16 bytes.
const COMM_LEN: usize = 16;

/// A process event this module uses. Threads are left out, as keepalived leaves them out:
/// only events where the thread is its group's leader (`pid == tgid`) are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    Fork { parent: i32, child: i32 },
    Exec { pid: i32 },
    Comm { pid: i32, comm: String },
    Exit { pid: i32 },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    u32_at(b, at).map(|v| v as i32)
}

/// Reads one connector message (the kernel sends one per datagram). `None` for anything
/// else: another connector, an ack, an event of no interest, a thread's event, a short
/// message.
pub fn parse_event(b: &[u8]) -> Option<ProcEvent> {
    let len = usize::try_from(u32_at(b, 0)?).ok()?;
    if len < EV_DATA || len > b.len() {
        return None;
    }
    let b = &b[..len];
    if u32_at(b, CN_MSG)? != CN_IDX_PROC || u32_at(b, CN_MSG + 4)? != CN_VAL_PROC {
        return None;
    }
    let d = EV_DATA;
    match u32_at(b, PROC_EV)? {
        PROC_EVENT_FORK => {
            let (parent_tgid, child_pid, child_tgid) =
                (i32_at(b, d + 4)?, i32_at(b, d + 8)?, i32_at(b, d + 12)?);
            (child_pid == child_tgid).then_some(ProcEvent::Fork {
                parent: parent_tgid,
                child: child_tgid,
            })
        }
        PROC_EVENT_EXEC => {
            let (pid, tgid) = (i32_at(b, d)?, i32_at(b, d + 4)?);
            (pid == tgid).then_some(ProcEvent::Exec { pid: tgid })
        }
        PROC_EVENT_COMM => {
            let (pid, tgid) = (i32_at(b, d)?, i32_at(b, d + 4)?);
            let raw = b.get(d + 8..d + 8 + COMM_LEN)?;
            let end = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
            let comm = String::from_utf8_lossy(&raw[..end]).into_owned();
            (pid == tgid).then_some(ProcEvent::Comm { pid: tgid, comm })
        }
        PROC_EVENT_EXIT => {
            let (pid, tgid) = (i32_at(b, d)?, i32_at(b, d + 4)?);
            (pid == tgid).then_some(ProcEvent::Exit { pid: tgid })
        }
        _ => None,
    }
}

/// The subscription message: `nlmsghdr` (NLMSG_DONE) + `cn_msg` + `PROC_CN_MCAST_LISTEN`.
fn listen_message() -> Vec<u8> {
    let total: u32 = (PROC_EV + 4) as u32;
    let mut m = Vec::with_capacity(PROC_EV + 4);
    m.extend_from_slice(&total.to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills in ours
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len of the payload
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

// ----- the socket and /proc -------------------------------------------------------------------

/// Opens the connector socket in this thread's network namespace and subscribes.
fn open_here() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = nix::sys::socket::NetlinkAddr::new(0, CN_IDX_PROC);
    nix::sys::socket::bind(fd.as_raw_fd(), &addr).map_err(std::io::Error::from)?;
    nix::sys::socket::send(
        fd.as_raw_fd(),
        &listen_message(),
        nix::sys::socket::MsgFlags::empty(),
    )
    .map_err(std::io::Error::from)?;
    Ok(fd)
}

/// Opens the socket in the network namespace at `path`, on a thread of its own (the
/// socket stays in that namespace; the agent's threads stay in theirs).
fn open_in(path: &str) -> std::io::Result<OwnedFd> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path)?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        open_here()
    })
    .join()
    .unwrap_or_else(|_| {
        Err(std::io::Error::other(
            "the thread opening the socket failed",
        ))
    })
}

/// The subscribed socket: here, or (the kernel refuses other namespaces with
/// ECONNREFUSED) in [`NETNS_ENV`]'s namespace or the initial one.
fn open_socket() -> Result<OwnedFd, String> {
    match open_here() {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
            return Err(
                "the kernel has no process events connector (CONFIG_PROC_EVENTS)".to_owned(),
            );
        }
        Err(e) if e.raw_os_error() != Some(libc::ECONNREFUSED) => {
            return Err(format!("cannot subscribe to process events: {e}"));
        }
        Err(_) => {}
    }
    let path = std::env::var(NETNS_ENV).unwrap_or_else(|_| "/proc/1/ns/net".to_owned());
    open_in(&path).map_err(|e| {
        format!(
            "the kernel delivers process events only in the initial network namespace, and \
             opening the socket there ({path}) failed: {e}; set {NETNS_ENV} to that \
             namespace's path (e.g. /proc/PID/ns/net of a process in it)"
        )
    })
}

fn read_comm(pid: i32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(s.strip_suffix('\n').unwrap_or(&s).to_owned())
}

fn read_cmdline(pid: i32) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut buf = Vec::new();
    f.take(CMDLINE_MAX as u64).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// One process from /proc (the command line only if `cmdline`: reading it touches the
/// process's memory). Zombies are left out.
fn read_proc(pid: i32, cmdline: bool) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rfind(')').map(|i| &stat[i + 1..])?;
    if after.trim_start().starts_with('Z') {
        return None;
    }
    Some(ProcInfo {
        pid,
        comm: read_comm(pid)?,
        cmdline: if cmdline {
            read_cmdline(pid)?
        } else {
            Vec::new()
        },
    })
}

/// Every process of /proc (this agent's PID namespace).
fn scan_proc(cmdline: bool) -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_proc(pid, cmdline))
        .collect()
}

// ----- the task ---------------------------------------------------------------------------------

/// The running watch, ready to be spawned.
pub struct ProcessWatch {
    fd: AsyncFd<OwnedFd>,
    watcher: Watcher,
}

impl std::fmt::Debug for ProcessWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessWatch").finish_non_exhaustive()
    }
}

/// Subscribes to process events, scans /proc and sends every definition's state on `tx`.
/// Must run inside a tokio runtime. `Err`: process events are not available (the reason).
pub fn start(
    defs: &[&TrackProcessDef],
    tx: &UnboundedSender<TrackEvent>,
) -> Result<ProcessWatch, String> {
    // Subscribe first, so nothing that starts during the scan is missed (a process seen
    // twice is counted once).
    let fd = open_socket()?;
    // SAFETY: the descriptor is owned by the AsyncFd and closed only when it is dropped.
    let fd = unsafe { AsyncFd::register(fd) }
        .map_err(|e| format!("cannot watch the process events socket: {e}"))?;
    let mut watcher = Watcher::new(defs.iter().copied());
    let procs = scan_proc(watcher.needs_cmdline());
    for (name, up) in watcher.scan(&procs) {
        tracing::info!(track_process = %name, processes = watcher.count(&name).unwrap_or(0),
            quorum = up, "vrrp_track_process watched");
        let _ = tx.send(TrackEvent::Process { name, up });
    }
    Ok(ProcessWatch { fd, watcher })
}

impl ProcessWatch {
    /// Reads process events until `tx` closes (or the task is dropped).
    pub async fn run(mut self, tx: UnboundedSender<TrackEvent>) {
        let needs_cmdline = self.watcher.needs_cmdline();
        let mut buf = vec![0u8; 4096];
        loop {
            let deadline = self.watcher.deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            let mut changes = Vec::new();
            tokio::select! {
                ready = self.fd.readable() => {
                    let Ok(mut guard) = ready else {
                        tracing::error!("process events socket failed: track_process stops");
                        return;
                    };
                    loop {
                        let fd = guard.get_inner().as_raw_fd();
                        match nix::sys::socket::recvfrom::<nix::sys::socket::NetlinkAddr>(fd, &mut buf) {
                            Ok((n, from)) => {
                                // Only the kernel (port 0) speaks on this socket.
                                if from.is_some_and(|a| a.pid() != 0) {
                                    continue;
                                }
                                let Some(ev) = buf.get(..n).and_then(parse_event) else {
                                    continue;
                                };
                                let now = Instant::now();
                                changes.extend(match ev {
                                    ProcEvent::Fork { parent, child } => self.watcher.fork(parent, child, now),
                                    ProcEvent::Exec { pid } => {
                                        let p = read_proc(pid, needs_cmdline);
                                        self.watcher.exec(pid, p.as_ref(), now)
                                    }
                                    ProcEvent::Comm { pid, comm } => self.watcher.comm(pid, &comm, now),
                                    ProcEvent::Exit { pid } => self.watcher.exit(pid, now),
                                });
                            }
                            Err(nix::errno::Errno::EAGAIN) => {
                                guard.clear_ready();
                                break;
                            }
                            Err(nix::errno::Errno::EINTR) => {}
                            Err(nix::errno::Errno::ENOBUFS) => {
                                // Events were lost: count again from /proc (keepalived waits a
                                // second for things to settle first).
                                tracing::warn!("process events were lost (socket buffer full): rescanning /proc");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                changes.extend(self.watcher.rescan(&scan_proc(needs_cmdline)));
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "reading process events failed: track_process stops");
                                return;
                            }
                        }
                    }
                }
                () = sleep => {
                    changes.extend(self.watcher.expire(Instant::now()));
                }
            }
            for (name, up) in changes {
                tracing::info!(track_process = %name, processes = self.watcher.count(&name).unwrap_or(0),
                    "quorum {} for tracked process {name}", if up { "gained" } else { "lost" });
                if tx.send(TrackEvent::Process { name, up }).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
