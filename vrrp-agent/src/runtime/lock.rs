//! One agent per pin directory and per network namespace.
//!
//! A second agent started by mistake with the same `--pin-dir` (on the same host, or in
//! another network namespace of it: the BPF filesystem is shared), or in the same network
//! namespace, would remove the live Master's VIPs as "left behind by a previous run" and
//! replace its pins or fail on its XDP attachment. So `run` first takes two exclusive
//! `flock(2)`s, before it changes anything, and holds them until the process exits:
//!
//! - `/run/vrrp-agent/<pin dir, escaped like systemd-escape --path>.lock`, e.g.
//!   `/run/vrrp-agent/sys-fs-bpf-vrrp.lock` for `/sys/fs/bpf/vrrp`. The pin directory is made
//!   absolute and its existing part canonical first, so `--pin-dir ./vrrp` and a symlink to
//!   the same directory name the same lock;
//! - `/run/vrrp-agent/netns-<device>-<inode>.lock`, the identity of the network namespace
//!   (`stat /proc/self/ns/net`): one agent per namespace runs all of its instances, as one
//!   keepalived does.
//!
//! Agents in different network namespaces with different pin directories (as the README
//! asks) coexist.
//!
//! The holder writes its pid into the file; a refused agent names it. The kernel drops a
//! `flock` when its process dies (even by SIGKILL), so a stale file never blocks a start.
//! A clean exit removes the file while still holding it; an agent that locked a file just
//! removed (it opened it before the removal) sees that the path no longer names its file
//! and starts over, so two agents never hold two different files of one name. The
//! descriptor is close-on-exec, so scripts and notify commands do not inherit the lock.
use std::{
    ffi::OsString,
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    os::unix::{
        ffi::OsStrExt,
        fs::{MetadataExt, OpenOptionsExt},
    },
    path::{Component, Path, PathBuf},
};

use nix::{
    errno::Errno,
    fcntl::{Flock, FlockArg},
};

/// Where the lock files live.
pub const LOCK_DIR: &str = "/run/vrrp-agent";

/// File names longer than this are shortened (with a hash of the whole name).
const NAME_MAX: usize = 200;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another agent holds it.
    #[error(
        "another vrrp-agent ({holder}) is running {what} (lock {lock}): nothing was changed; \
         {advice}"
    )]
    Held {
        holder: String,
        /// "with --pin-dir DIR", "in this network namespace".
        what: String,
        lock: String,
        advice: &'static str,
    },
    /// The lock file cannot be created or locked.
    #[error("lock file {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The locks, held while this value lives.
#[derive(Debug)]
pub struct AgentLock {
    held: Vec<Held>,
}

/// One locked file, removed (then unlocked) on drop.
#[derive(Debug)]
struct Held {
    path: PathBuf,
    file: Flock<File>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Still locked here: nobody else can hold this file, so the path is ours to remove.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How often a lock is retried when its file was replaced under us.
const ATTEMPTS: usize = 10;

impl AgentLock {
    /// Takes the locks of `pin_dir` and of this process's network namespace in `dir`
    /// (normally [`LOCK_DIR`]), without waiting.
    pub fn acquire(dir: &Path, pin_dir: &Path) -> Result<AgentLock, LockError> {
        let pin_lock = lock_path(dir, pin_dir);
        let pins = lock_file(
            dir,
            &pin_lock,
            format!("with --pin-dir {}", pin_dir.display()),
            "stop that agent first, or give this one its own --pin-dir",
        )?;
        let netns_lock = dir.join(netns_lock_name().map_err(|e| LockError::Io {
            path: "/proc/self/ns/net".to_owned(),
            reason: e.to_string(),
        })?);
        let netns = lock_file(
            dir,
            &netns_lock,
            "in this network namespace".to_owned(),
            "one agent runs every instance of a namespace: stop that agent first, or add \
             these instances to its configuration",
        )?;
        Ok(AgentLock {
            held: vec![pins, netns],
        })
    }

    /// The lock files.
    pub fn paths(&self) -> Vec<&Path> {
        self.held.iter().map(|h| h.path.as_path()).collect()
    }
}

/// `netns-<device>-<inode>.lock` for this process's network namespace.
fn netns_lock_name() -> std::io::Result<String> {
    let m = std::fs::metadata("/proc/self/ns/net")?;
    Ok(format!("netns-{}-{}.lock", m.dev(), m.ino()))
}

/// Locks `path` (in `dir`) and writes our pid into it.
fn lock_file(
    dir: &Path,
    path: &Path,
    what: String,
    advice: &'static str,
) -> Result<Held, LockError> {
    let io_err = |reason: &dyn std::fmt::Display| LockError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io_err(&e))?;
    for _ in 0..ATTEMPTS {
        let Some(locked) = try_lock(path, &what, advice)? else {
            continue;
        };
        let pid = std::process::id();
        let mut held = Held {
            path: path.to_path_buf(),
            file: locked,
        };
        let file: &mut File = &mut held.file;
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{pid}"))
            .map_err(|e| io_err(&e))?;
        return Ok(held);
    }
    Err(io_err(
        &"replaced by other agents while locking it; try again",
    ))
}

/// One attempt: the lock, or `None` when the file was removed or replaced after we opened
/// it (its previous holder exited).
fn try_lock(
    path: &Path,
    what: &str,
    advice: &'static str,
) -> Result<Option<Flock<File>>, LockError> {
    let io_err = |reason: &dyn std::fmt::Display| LockError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| io_err(&e))?;
    let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                // It has the lock but has not written its pid yet.
                Err(_) => "pid not recorded yet".to_owned(),
            };
            return Err(LockError::Held {
                holder,
                what: what.to_owned(),
                lock: path.display().to_string(),
                advice,
            });
        }
        Err((_, e)) => return Err(io_err(&e)),
    };
    let ours = locked.metadata().map_err(|e| io_err(&e))?;
    match std::fs::metadata(path) {
        Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => Ok(Some(locked)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&e)),
    }
}

/// The lock file of `pin_dir` in `dir`.
pub fn lock_path(dir: &Path, pin_dir: &Path) -> PathBuf {
    dir.join(lock_name(&canonical(pin_dir)))
}

/// `pin_dir` absolute, with symlinks resolved in the part that exists and `.`/`..`
/// resolved in the rest (the directory may not exist before the first run).
fn canonical(pin_dir: &Path) -> PathBuf {
    let abs = std::path::absolute(pin_dir).unwrap_or_else(|_| pin_dir.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    for split in (1..=parts.len()).rev() {
        let head: PathBuf = parts[..split].iter().collect();
        if let Ok(mut path) = head.canonicalize() {
            for c in &parts[split..] {
                match c {
                    Component::ParentDir => {
                        path.pop();
                    }
                    Component::Normal(n) => path.push(n),
                    _ => {}
                }
            }
            return path;
        }
    }
    abs
}

/// systemd-escape --path: `/` separators become `-`; bytes other than ASCII letters,
/// digits, `:`, `_` and `.` (not leading) become `\xNN`. Then `.lock`.
fn lock_name(path: &Path) -> OsString {
    let bytes = path.as_os_str().as_bytes();
    let trimmed = String::from_utf8_lossy(bytes);
    let trimmed = trimmed.trim_matches('/');
    let mut name = String::new();
    if trimmed.is_empty() {
        name.push('-');
    }
    for (i, b) in trimmed.bytes().enumerate() {
        match b {
            b'/' => name.push('-'),
            b'.' if i == 0 => name.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => {
                name.push(char::from(b))
            }
            b => name.push_str(&format!("\\x{b:02x}")),
        }
    }
    if name.len() > NAME_MAX {
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let mut cut = NAME_MAX - 17;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name = format!("{}-{hash:016x}", &name[..cut]);
    }
    name.push_str(".lock");
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_systemd_escape() {
        let name = |p: &str| lock_name(Path::new(p)).into_string().unwrap();
        assert_eq!(name("/sys/fs/bpf/vrrp"), "sys-fs-bpf-vrrp.lock");
        assert_eq!(name("/sys/fs/bpf/vrrp/"), "sys-fs-bpf-vrrp.lock");
        assert_eq!(name("/sys/fs/bpf/vrrp-a"), "sys-fs-bpf-vrrp\\x2da.lock");
        assert_eq!(name("/sys/fs/bpf/a b"), "sys-fs-bpf-a\\x20b.lock");
        assert_eq!(name("/.hidden"), "\\x2ehidden.lock");
        assert_eq!(name("/"), "-.lock");
        // Distinct directories, distinct names, even when shortened.
        let long_a = format!("/sys/fs/bpf/{}a", "x".repeat(300));
        let long_b = format!("/sys/fs/bpf/{}b", "x".repeat(300));
        assert_ne!(name(&long_a), name(&long_b));
        assert!(name(&long_a).len() <= NAME_MAX + ".lock".len());
    }

    #[test]
    fn relative_and_dotted_paths_name_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join("pins");
        std::fs::create_dir(&pins).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&pins, &link).unwrap();
        let locks = Path::new("/locks");
        let want = lock_path(locks, &pins);
        assert_eq!(lock_path(locks, &link), want);
        assert_eq!(lock_path(locks, &pins.join("..").join("pins")), want);
        // Not created yet: resolved from the part that exists.
        let later = lock_path(locks, &link.join("sub"));
        assert_eq!(later, lock_path(locks, &pins.join("sub")));
        assert_ne!(later, want);
    }

    #[test]
    fn a_second_agent_is_refused_with_the_holders_pid_and_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join("pins");
        let first = AgentLock::acquire(dir.path(), &pins).unwrap();
        assert_eq!(first.paths().len(), 2);
        assert!(first.paths().iter().all(|p| p.exists()));
        assert!(first.paths().iter().all(|p| p.starts_with(dir.path())));
        let pid = format!("pid {}", std::process::id());

        // The same pin directory.
        let msg = AgentLock::acquire(dir.path(), &pins)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&pid), "{msg}");
        assert!(
            msg.contains(&format!("with --pin-dir {}", pins.display())),
            "{msg}"
        );

        // Another pin directory, the same network namespace: the pin lock taken on the way
        // is released again.
        let other = dir.path().join("other");
        let msg = AgentLock::acquire(dir.path(), &other)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&pid), "{msg}");
        assert!(msg.contains("in this network namespace"), "{msg}");
        let pin_only = lock_file(
            dir.path(),
            &lock_path(dir.path(), &other),
            String::new(),
            "",
        );
        assert!(pin_only.is_ok());
        drop(pin_only);

        let paths: Vec<PathBuf> = first.paths().iter().map(|p| p.to_path_buf()).collect();
        drop(first);
        assert!(
            paths.iter().all(|p| !p.exists()),
            "a released lock leaves its file: {paths:?}"
        );
        let again = AgentLock::acquire(dir.path(), &pins).unwrap();
        for p in again.paths() {
            let text = std::fs::read_to_string(p).unwrap();
            assert_eq!(text, format!("{}\n", std::process::id()));
        }
    }
}
