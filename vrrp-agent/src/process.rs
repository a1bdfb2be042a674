//! Running configured commands (vrrp_script, notify_*).
//!
//! keepalived splits a command line into words itself and execs it without a shell; we do the
//! same, and fall back to `/bin/sh -c` only when the line uses shell syntax (a pipe, a
//! redirection, `$`, a glob, `&&`...), which keepalived would have passed as literal words.
//! Every command runs in a process group of its own, so a timeout kills what it started too.
use std::{
    fmt,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::{Group, Pid, User},
};

/// Characters that only mean something to a shell.
const SHELL_SYNTAX: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '~', '{', '}', '\\', '\n',
];

/// Why a command line cannot be run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProcessError {
    #[error("the command line is empty")]
    Empty,
    #[error("unterminated {0} quote in `{1}`")]
    UnterminatedQuote(char, String),
    #[error("user `{0}` does not exist on this host")]
    NoSuchUser(String),
    #[error("group `{0}` does not exist on this host")]
    NoSuchGroup(String),
    #[error("looking up `{0}`: {1}")]
    Lookup(String, nix::Error),
}

/// A parsed command line, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program and its arguments; for a shell line, `/bin/sh -c LINE`.
    argv: Vec<String>,
    /// The executable (for a shell line, the first word of the line: what security checks
    /// look at).
    program: PathBuf,
    /// The line as configured, with appended arguments, for logs.
    display: String,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Command {
    /// Parses `line` and resolves `user [group]` (the user's primary group when no group is
    /// given).
    pub fn parse(line: &str, user: Option<(&str, Option<&str>)>) -> Result<Command, ProcessError> {
        let words = split_words(line)?;
        let first = words.first().ok_or(ProcessError::Empty)?.clone();
        let argv = if line.contains(SHELL_SYNTAX) {
            vec!["/bin/sh".into(), "-c".into(), line.trim().to_string()]
        } else {
            words
        };
        let (uid, gid) = match user {
            None => (None, None),
            Some((name, group)) => {
                let u = User::from_name(name)
                    .map_err(|e| ProcessError::Lookup(name.into(), e))?
                    .ok_or_else(|| ProcessError::NoSuchUser(name.into()))?;
                let gid = match group {
                    None => u.gid.as_raw(),
                    Some(g) => Group::from_name(g)
                        .map_err(|e| ProcessError::Lookup(g.into(), e))?
                        .ok_or_else(|| ProcessError::NoSuchGroup(g.into()))?
                        .gid
                        .as_raw(),
                };
                (Some(u.uid.as_raw()), Some(gid))
            }
        };
        Ok(Command {
            argv,
            program: PathBuf::from(first),
            display: line.trim().to_string(),
            uid,
            gid,
        })
    }

    /// Appends an argument (shell-quoted for a shell line).
    pub fn arg(mut self, a: impl Into<String>) -> Command {
        let a = a.into();
        let quoted = shell_quote(&a);
        if self.is_shell() {
            if let Some(line) = self.argv.last_mut() {
                line.push(' ');
                line.push_str(&quoted);
            }
        } else {
            self.argv.push(a);
        }
        self.display.push(' ');
        self.display.push_str(&quoted);
        self
    }

    /// The executable the line names.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether it runs through `/bin/sh -c`.
    pub fn is_shell(&self) -> bool {
        self.argv.len() == 3 && self.argv[0] == "/bin/sh" && self.argv[1] == "-c"
    }

    /// The words it execs.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    pub fn gid(&self) -> Option<u32> {
        self.gid
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signalled(i32),
    /// Ran past its timeout; its process group was killed.
    TimedOut,
    /// Could not be started (missing, not executable, ...).
    SpawnFailed(String),
}

impl Outcome {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "exit status {c}"),
            Outcome::Signalled(s) => write!(f, "killed by signal {s}"),
            Outcome::TimedOut => f.write_str("timed out (process group killed)"),
            Outcome::SpawnFailed(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// Kills a process group when dropped, unless disarmed: a dropped `run` future (reload,
/// shutdown) leaves nothing behind.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH: already gone.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What happens to processes a command started and left running when it exits by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Killed with the group (health checks: nothing may pile up run after run).
    Kill,
    /// Left alone (notify commands may start something in the background, as with
    /// keepalived).
    Keep,
}

/// Runs `cmd` in a new process group with stdin/stdout/stderr on /dev/null, as its user; on
/// timeout kills the whole group (SIGKILL) and reaps the leader. Dropping the future kills the
/// group too (tokio reaps the leader in the background). What the command leaves running
/// when it exits is killed as well.
pub async fn run(cmd: &Command, timeout: Option<Duration>) -> Outcome {
    run_with(cmd, timeout, Leftovers::Kill).await
}

/// [`run`] for a command that must never run twice at once (a health check across a
/// reload): `slot`, shared by its runners under a lock, holds the leader of the run in
/// progress. A run cancelled by dropping its future leaves its (killed) leader there, and
/// the next run first waits until that process is really gone: SIGKILL takes effect
/// asynchronously, later on a busy machine.
pub async fn run_exclusive(
    cmd: &Command,
    timeout: Option<Duration>,
    slot: &mut Option<Pid>,
) -> Outcome {
    if let Some(pid) = slot.take() {
        wait_gone(pid).await;
    }
    run_inner(cmd, timeout, Leftovers::Kill, Some(slot)).await
}

/// Waits until `pid` has exited (no such process, or a zombie waiting to be reaped), for at
/// most 2 s (a reused pid must not hold anything up for long).
async fn wait_gone(pid: Pid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let alive = nix::sys::signal::kill(pid, None).is_ok()
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit_once(')')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
                })
                .unwrap_or(false);
        if !alive || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// [`run`], choosing what happens to what the command leaves running when it exits.
pub async fn run_with(cmd: &Command, timeout: Option<Duration>, leftovers: Leftovers) -> Outcome {
    run_inner(cmd, timeout, leftovers, None).await
}

async fn run_inner(
    cmd: &Command,
    timeout: Option<Duration>,
    leftovers: Leftovers,
    slot: Option<&mut Option<Pid>>,
) -> Outcome {
    let mut c = tokio::process::Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(gid) = cmd.gid {
        c.gid(gid);
    }
    if let Some(uid) = cmd.uid {
        c.uid(uid);
    }
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::SpawnFailed(format!("{}: {e}", cmd.argv[0])),
    };
    let mut guard = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    // Noted until the leader is reaped below; left there if this future is dropped.
    let slot = slot.map(|s| {
        *s = guard.0;
        s
    });
    let waited = match timeout {
        Some(t) => tokio::time::timeout(t, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let outcome = match waited {
        None => {
            guard.kill();
            let _ = child.wait().await;
            Outcome::TimedOut
        }
        Some(Ok(status)) => {
            // The leader is gone; what it left running in its group goes with it (a health
            // check must not leave children behind), unless asked otherwise.
            match leftovers {
                Leftovers::Kill => guard.kill(),
                Leftovers::Keep => guard.0 = None,
            }
            match (status.code(), status.signal()) {
                (Some(code), _) => Outcome::Exited(code),
                (None, Some(sig)) => Outcome::Signalled(sig),
                (None, None) => Outcome::Exited(-1),
            }
        }
        Some(Err(e)) => Outcome::SpawnFailed(format!("waiting for {}: {e}", cmd.argv[0])),
    };
    // The leader has been reaped: nothing for the next run to wait for.
    if let Some(s) = slot {
        *s = None;
    }
    outcome
}

/// Splits a command line into words: whitespace separates, '...' and "..." group (no escapes
/// inside single quotes; `\"` and `\\` inside double quotes), as keepalived's own splitting.
fn split_words(line: &str) -> Result<Vec<String>, ProcessError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && d == '\\' && matches!(chars.peek(), Some('"' | '\\')) {
                        cur.extend(chars.next());
                        continue;
                    }
                    cur.push(d);
                }
                if !closed {
                    return Err(ProcessError::UnterminatedQuote(c, line.to_string()));
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Quotes `s` for `/bin/sh` when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(
            split_words(r#"/usr/bin/killall -0 "nginx worker" 'a b'"#).unwrap(),
            ["/usr/bin/killall", "-0", "nginx worker", "a b"]
        );
        assert_eq!(split_words(r#"x "a\"b""#).unwrap(), ["x", r#"a"b"#]);
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert!(matches!(
            split_words("x 'open"),
            Err(ProcessError::UnterminatedQuote('\'', _))
        ));
    }

    #[test]
    fn shell_only_when_needed() {
        let c = Command::parse("/usr/bin/pgrep nginx", None).unwrap();
        assert!(!c.is_shell());
        assert_eq!(c.argv(), ["/usr/bin/pgrep", "nginx"]);
        let c = Command::parse("/usr/bin/curl -sf http://198.18.0.1/ | grep ok", None).unwrap();
        assert!(c.is_shell());
        assert_eq!(c.program(), Path::new("/usr/bin/curl"));
        assert_eq!(Command::parse("", None), Err(ProcessError::Empty));
    }

    #[test]
    fn appended_args_are_quoted_for_the_shell() {
        let c = Command::parse("/bin/echo $HOME", None)
            .unwrap()
            .arg("INSTANCE")
            .arg("it's");
        assert_eq!(c.argv()[2], r"/bin/echo $HOME INSTANCE 'it'\''s'");
        let c = Command::parse("/bin/echo", None).unwrap().arg("a b");
        assert_eq!(c.argv(), ["/bin/echo", "a b"]);
        assert_eq!(c.to_string(), "/bin/echo 'a b'");
    }

    #[test]
    fn unknown_user_is_an_error() {
        assert_eq!(
            Command::parse("/bin/true", Some(("no-such-user-x", None))),
            Err(ProcessError::NoSuchUser("no-such-user-x".into()))
        );
        let c = Command::parse("/bin/true", Some(("nobody", None))).unwrap();
        assert!(c.uid().is_some_and(|u| u != 0));
    }

    #[tokio::test]
    async fn outcomes() {
        let run0 = |l: &str| Command::parse(l, None).unwrap();
        assert_eq!(run(&run0("/bin/true"), None).await, Outcome::Exited(0));
        assert_eq!(run(&run0("/bin/false"), None).await, Outcome::Exited(1));
        assert_eq!(
            run(&run0("/bin/sh -c 'exit 3'"), None).await,
            Outcome::Exited(3)
        );
        assert!(matches!(
            run(&run0("/nonexistent/x"), None).await,
            Outcome::SpawnFailed(_)
        ));
        assert_eq!(
            // perl (perl-base is essential on Debian) signals itself: no shell involved.
            run(&run0("/usr/bin/perl -e 'kill 15, getpgrp'"), None).await,
            Outcome::Signalled(15)
        );
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        // The script starts a grandchild and waits: both must die at the timeout.
        let line = format!(
            "/bin/sleep 30 & echo $! > {}; wait",
            pidfile.to_str().unwrap()
        );
        let t0 = std::time::Instant::now();
        let out = run(
            &Command::parse(&line, None).unwrap(),
            Some(Duration::from_millis(300)),
        )
        .await;
        assert_eq!(out, Outcome::TimedOut);
        // Many times the 0.3 s timeout, and far from the 30 s of the sleep.
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed, and reaped by init once orphaned; give it a moment.
        let gone = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            nix::sys::signal::kill(Pid::from_raw(pid), None).is_err()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        });
        assert!(gone, "the grandchild {pid} survived the timeout");
    }

    /// `run` ignores SIGPIPE (a closed pipe must not end the daemon); the commands it
    /// starts must not inherit that: a script writing into a closed pipe ends as usual.
    #[tokio::test]
    async fn commands_get_the_default_sigpipe_even_when_we_ignore_it() {
        // SAFETY: what `main` does; ignoring SIGPIPE in the test process is harmless.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let ignored = |status: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .is_some_and(|m| m & (1 << (libc::SIGPIPE - 1)) != 0)
        };
        assert!(ignored(
            &std::fs::read_to_string("/proc/self/status").unwrap()
        ));
        let line = "m=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status); \
                    [ $(( 0x$m & 0x1000 )) -eq 0 ]";
        assert_eq!(
            run(&Command::parse(line, None).unwrap(), None).await,
            Outcome::Exited(0)
        );
    }
}
