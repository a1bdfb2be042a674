//! One agent per pin directory.
//!
//! A second agent started by mistake with the same `--pin-dir` (on the same host, or in
//! another network namespace of it: the BPF filesystem is shared) would remove the live
//! Master's VIPs as "left behind by a previous run" and replace its pins. So `run` first
//! takes an exclusive `flock(2)` on a lock file named after the pin directory, before it
//! changes anything, and holds it until the process exits:
//!
//! `/run/vrrp-agent/<pin dir, escaped like systemd-escape --path>.lock`, e.g.
//! `/run/vrrp-agent/sys-fs-bpf-vrrp.lock` for `/sys/fs/bpf/vrrp`.
//!
//! The pin directory is made absolute and its existing part canonical first, so
//! `--pin-dir ./vrrp` and a symlink to the same directory name the same lock. Agents with
//! different pin directories (one per network namespace, as the README asks) coexist.
//!
//! The holder writes its pid into the file; a refused agent names it. The kernel drops a
//! `flock` when its process dies (even by SIGKILL), so a stale file never blocks a start;
//! the file is never removed (removing it would let two agents lock two different files).
//! The descriptor is close-on-exec, so scripts and notify commands do not inherit the lock.
use std::{
    ffi::OsString,
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    os::unix::{ffi::OsStrExt, fs::OpenOptionsExt},
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
        "another vrrp-agent ({holder}) is running with --pin-dir {pin_dir} (lock {lock}): \
         nothing was changed; stop that agent first, or give this one its own --pin-dir"
    )]
    Held {
        holder: String,
        pin_dir: String,
        lock: String,
    },
    /// The lock file cannot be created or locked.
    #[error("lock file {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The lock, held while this value lives.
#[derive(Debug)]
pub struct PinDirLock {
    _file: Flock<File>,
    path: PathBuf,
}

impl PinDirLock {
    /// Takes the lock of `pin_dir` in `dir` (normally [`LOCK_DIR`]), without waiting.
    pub fn acquire(dir: &Path, pin_dir: &Path) -> Result<PinDirLock, LockError> {
        let path = lock_path(dir, pin_dir);
        let io_err = |reason: &dyn std::fmt::Display| LockError::Io {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io_err(&e))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(|e| io_err(&e))?;
        let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
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
                    pin_dir: pin_dir.display().to_string(),
                    lock: path.display().to_string(),
                });
            }
            Err((_, e)) => return Err(io_err(&e)),
        };
        let pid = std::process::id();
        locked
            .set_len(0)
            .and_then(|()| locked.rewind())
            .and_then(|()| writeln!(*locked, "{pid}"))
            .map_err(|e| io_err(&e))?;
        Ok(PinDirLock {
            _file: locked,
            path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
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
    fn a_second_lock_is_refused_with_the_holders_pid_and_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join("pins");
        let first = PinDirLock::acquire(dir.path(), &pins).unwrap();
        assert!(first.path().starts_with(dir.path()));
        let err = PinDirLock::acquire(dir.path(), &pins).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("--pin-dir"), "{msg}");
        // Another pin directory is another lock.
        let other = PinDirLock::acquire(dir.path(), &dir.path().join("other")).unwrap();
        drop(other);
        drop(first);
        let again = PinDirLock::acquire(dir.path(), &pins).unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
    }
}
