//! The notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`), opened as keepalived opens them.
//!
//! keepalived 2.2.7 (`fifo_open` in keepalived/core/notify.c, and checked against the
//! installed binary in a network namespace):
//! - creates the FIFO when the path does not exist (`mkfifo`, mode 0600 as observed) and
//!   hands it to the configured user/group; an existing FIFO is used as it is;
//! - opens it `O_RDWR | O_NONBLOCK`: opening never waits for a reader, and since we hold a
//!   read end ourselves a writer never gets `EPIPE`/`SIGPIPE`. Lines written while no one
//!   reads stay in the pipe buffer (64 KiB on Linux) until a reader comes; once the buffer is
//!   full a write fails with `EAGAIN` and that line is dropped, never waited for;
//! - refuses a path that is not a FIFO, or is owned neither by us nor by the FIFO's user;
//! - removes, at exit, a FIFO it created.
//!
//! A FIFO is a resource of the process, not of one [`super::Notifier`]: notifiers that name
//! the same path (the old and the new one across a reload) share one open FIFO, which is
//! removed (if we created it) only when the last of them shuts down.
//!
//! One line is far below `PIPE_BUF` (4096 bytes), so each write is atomic: a reader never
//! sees a partial line, and lines of different instances never interleave.
use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError, Weak},
};

use nix::{
    errno::Errno,
    sys::stat::Mode,
    unistd::{self, Gid, Group, Uid, User},
};

use super::NotifyError;
use crate::config::NotifyFifo;

/// An open notify FIFO.
#[derive(Debug)]
pub(super) struct Fifo {
    /// `notify_fifo` or `vrrp_notify_fifo`.
    keyword: &'static str,
    path: PathBuf,
    file: File,
    /// We made it, so we remove it at shutdown (as keepalived does).
    created: bool,
    /// (st_dev, st_ino) of what we opened: only that is ever removed.
    identity: (u64, u64),
    /// The running `notify_fifo_script`, stopped (its process group killed) with the FIFO.
    script: Option<tokio::task::AbortHandle>,
}

impl Drop for Fifo {
    fn drop(&mut self) {
        if let Some(h) = self.script.take() {
            h.abort();
        }
    }
}

/// Starts `notify_fifo_script` for a FIFO just opened, as keepalived does (`fifo_open`): the
/// command with the FIFO's path as one more argument, in a process group of its own, never
/// timed out; as its `USER [GROUP]`, else the default script user.
fn start_script(
    keyword: &'static str,
    cfg: &NotifyFifo,
    default_user: Option<&(String, Option<String>)>,
) -> Result<Option<tokio::task::AbortHandle>, NotifyError> {
    let Some(script) = &cfg.script else {
        return Ok(None);
    };
    let user = match &script.user {
        Some(u) => Some((u.as_str(), script.group.as_deref())),
        None => default_user.map(|(u, g)| (u.as_str(), g.as_deref())),
    };
    let cmd = crate::process::Command::parse(&script.command, user)
        .map_err(|e| NotifyError::Fifo {
            keyword,
            path: cfg.path.clone(),
            location: cfg.location.clone(),
            reason: format!("its script `{}`: {e}", script.command),
        })?
        .arg(cfg.path.display().to_string());
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::error!(fifo = %cfg.path.display(), "{keyword}_script not started: no tokio runtime (a bug in the agent)");
        return Ok(None);
    };
    tracing::info!(fifo = %cfg.path.display(), "{keyword}_script started: {cmd}");
    let path = cfg.path.clone();
    let task = rt.spawn(async move {
        let outcome = crate::process::run(&cmd, None).await;
        tracing::warn!(fifo = %path.display(), "{keyword}_script ended: {outcome:?}");
    });
    Ok(Some(task.abort_handle()))
}

/// The FIFOs some notifier of this process has open.
static OPEN: Mutex<Vec<Weak<Fifo>>> = Mutex::new(Vec::new());

impl Fifo {
    /// The FIFO at `cfg.path`: the one already open in this process if the path still names
    /// it, else newly opened (and created if missing).
    pub(super) fn open_shared(
        keyword: &'static str,
        cfg: &NotifyFifo,
        default_user: Option<&(String, Option<String>)>,
    ) -> Result<Arc<Fifo>, NotifyError> {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|w| w.strong_count() > 0);
        let current = std::fs::symlink_metadata(&cfg.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let live = open
            .iter()
            .filter_map(Weak::upgrade)
            .find(|f| f.path == cfg.path && Some(f.identity) == current);
        if let Some(f) = live {
            return Ok(f);
        }
        let mut f = Fifo::open(keyword, cfg)?;
        f.script = start_script(keyword, cfg, default_user)?;
        let f = Arc::new(f);
        open.push(Arc::downgrade(&f));
        Ok(f)
    }

    /// Creates the FIFO if missing, opens it without blocking and checks what it opened.
    fn open(keyword: &'static str, cfg: &NotifyFifo) -> Result<Fifo, NotifyError> {
        let fail = |reason: String| NotifyError::Fifo {
            keyword,
            path: cfg.path.clone(),
            location: cfg.location.clone(),
            reason,
        };
        let owner = owner_of(cfg).map_err(&fail)?;
        let created = match unistd::mkfifo(&cfg.path, Mode::S_IRUSR | Mode::S_IWUSR) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => {
                return Err(fail(format!(
                    "cannot create it ({e}); create its directory, or name a FIFO that exists"
                )))
            }
        };
        if created {
            if let Some((uid, gid)) = owner {
                if let Err(e) = unistd::chown(&cfg.path, Some(uid), Some(gid)) {
                    // keepalived logs this and goes on; so do we.
                    tracing::warn!(
                        fifo = %cfg.path.display(),
                        "{keyword}: cannot give the new FIFO to uid {uid} gid {gid}: {e}"
                    );
                }
            }
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&cfg.path)
            .and_then(|file| file.metadata().map(|meta| (file, meta)));
        let (file, meta) = match opened {
            Ok(x) => x,
            Err(e) => {
                if created {
                    let _ = std::fs::remove_file(&cfg.path);
                }
                return Err(fail(format!("cannot open it: {e}")));
            }
        };
        if !meta.file_type().is_fifo() {
            return Err(fail(
                "it exists and is not a FIFO; remove it or name another path".to_string(),
            ));
        }
        let ours = meta.uid() == unistd::geteuid().as_raw()
            || owner.is_some_and(|(uid, _)| uid.as_raw() == meta.uid());
        if !ours {
            return Err(fail(format!(
                "it is owned by uid {}, neither by us nor by the FIFO's user; remove it or \
                 name another path",
                meta.uid()
            )));
        }
        Ok(Fifo {
            keyword,
            path: cfg.path.clone(),
            file,
            created,
            identity: (meta.dev(), meta.ino()),
            script: None,
        })
    }

    pub(super) fn keyword(&self) -> &'static str {
        self.keyword
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one whole line without ever blocking: `WouldBlock` when the pipe is full.
    pub(super) fn write_line(&self, line: &str) -> io::Result<()> {
        let n = (&self.file).write(line.as_bytes())?;
        if n == line.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("only {n} of {} bytes written", line.len()),
            ))
        }
    }

    /// Lets go of a shared FIFO; the last holder removes it if we created it. Under the
    /// registry's lock, so a notifier being built at the same time cannot pick it up.
    pub(super) fn release(fifo: Arc<Fifo>) {
        let _open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fifo) = Arc::into_inner(fifo) {
            fifo.remove_if_created();
        }
    }

    /// Removes the FIFO if we created it and the path still names it.
    fn remove_if_created(&self) {
        if !self.created {
            return;
        }
        let same = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_fifo() && (m.dev(), m.ino()) == self.identity);
        if same {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(fifo = %self.path.display(), "{}: cannot remove the FIFO we created: {e}", self.keyword);
            }
        }
    }
}

/// The uid/gid the FIFO is for: `USER [GROUP]` of the keyword (the user's group by default).
fn owner_of(cfg: &NotifyFifo) -> Result<Option<(Uid, Gid)>, String> {
    let Some(name) = cfg.user.as_deref() else {
        return Ok(None);
    };
    let user = User::from_name(name)
        .map_err(|e| format!("looking up user `{name}`: {e}"))?
        .ok_or_else(|| format!("user `{name}` does not exist on this host"))?;
    let gid = match cfg.group.as_deref() {
        None => user.gid,
        Some(g) => {
            Group::from_name(g)
                .map_err(|e| format!("looking up group `{g}`: {e}"))?
                .ok_or_else(|| format!("group `{g}` does not exist on this host"))?
                .gid
        }
    };
    Ok(Some((user.uid, gid)))
}
