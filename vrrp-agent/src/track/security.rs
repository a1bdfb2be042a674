//! `enable_script_security` and `script_user`: may a configured command be run?
//!
//! keepalived 2.2.7's rules (`check_script_secure` and `check_security` in
//! keepalived/core/notify.c, `get_default_script_user`; checked against the installed
//! binary):
//! - A program that cannot be found, is not a regular file, or that its user may not execute
//!   is never run ("Disabling track script X since not found/accessible").
//! - A program that runs as root (uid or gid 0, or set-uid/set-gid root) is *insecure* when
//!   any part of its path could be changed by someone other than root: a path element (each
//!   directory from `/`, the file itself, a symbolic link on the way) owned by a non-root
//!   user, or a directory without the sticky bit or the file being writable by a non-root
//!   group or by everyone. Both the path as written and the path with symbolic links
//!   resolved are checked.
//! - An insecure program is refused with `enable_script_security`; without it keepalived
//!   warns ("SECURITY VIOLATION - scripts are being executed but script_security not
//!   enabled. There are insecure scripts.") and runs it.
//! - A program running as a non-root user is not checked: it cannot do more than that user.
//! - Who runs a script: its own `user`, else `script_user`, else `keepalived_script` if that
//!   user exists, else keepalived's own user (root); but with `enable_script_security` and
//!   none of the first three, keepalived refuses every script ("Unable to set default user
//!   keepalived_script for script").
use std::{
    ffi::OsStr,
    fmt, io,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Component, Path, PathBuf},
};

use crate::{config::GlobalDefs, process::Command};

/// The user keepalived runs scripts as when neither the script nor `script_user` names one.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// Who could change a path element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// It is owned by this non-root user (who can change its mode at will).
    Owner(u32),
    /// It is writable by this non-root group.
    Group(u32),
    /// It is writable by everyone.
    Everyone,
}

impl fmt::Display for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Writer::Owner(uid) => write!(f, "its owner, uid {uid}"),
            Writer::Group(gid) => write!(f, "group gid {gid}"),
            Writer::Everyone => f.write_str("everyone"),
        }
    }
}

/// Why a command may not (or should not) run.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The program does not exist or cannot be reached.
    #[error("`{}` cannot be found: {source}", program.display())]
    NotFound {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A bare program name that no directory of PATH holds as an executable file.
    #[error("`{}` is in no directory of PATH; give its full path", program.display())]
    NotInPath { program: PathBuf },
    /// A path element is not what it must be (a directory, or a file at the end).
    #[error("`{}`: {} is not a {expected}", program.display(), path.display())]
    WrongType {
        program: PathBuf,
        path: PathBuf,
        expected: &'static str,
    },
    /// The user the command runs as may not execute it.
    #[error("`{}` is not executable by uid {uid} gid {gid} (mode {mode:04o})", program.display())]
    NotExecutable {
        program: PathBuf,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// Runs as root, but a non-root user could change what runs.
    #[error(
        "`{}` runs as root but {} can be changed by {writer} (owner uid {owner}, mode \
         {mode:04o}): a non-root user could replace what runs; make every directory on the \
         path and the file owned by root and not group- or world-writable (chmod go-w), or \
         run it as another user (`user` or `script_user`)",
        program.display(),
        path.display()
    )]
    Insecure {
        program: PathBuf,
        /// The path element at fault.
        path: PathBuf,
        writer: Writer,
        owner: u32,
        mode: u32,
    },
    /// `enable_script_security` without `script_user` and without a `keepalived_script`
    /// user: keepalived does not know whom to run scripts as and refuses them all.
    #[error(
        "enable_script_security is set but no user is given to run scripts as: set \
         `script_user USER` in global_defs (e.g. `script_user root`), give the script a `user`, \
         or create the user {DEFAULT_SCRIPT_USER}"
    )]
    NoScriptUser,
}

impl SecurityError {
    /// Whether the command must not run: everything but an insecure program, which only
    /// `enable_script_security` refuses (keepalived warns otherwise).
    pub fn refuses(&self, enable_script_security: bool) -> bool {
        !matches!(self, SecurityError::Insecure { .. }) || enable_script_security
    }
}

/// Who runs a script or notify command: its own `user [group]`, else `script_user`, else
/// `keepalived_script` if that user exists, else `None` (the agent's own user). With
/// `enable_script_security` that last case is [`SecurityError::NoScriptUser`], as keepalived
/// refuses it.
pub fn script_user(
    global: &GlobalDefs,
    own: Option<&(String, Option<String>)>,
) -> Result<Option<(String, Option<String>)>, SecurityError> {
    if let Some(u) = own.or(global.script_user.as_ref()) {
        return Ok(Some(u.clone()));
    }
    if let Ok(Some(_)) = nix::unistd::User::from_name(DEFAULT_SCRIPT_USER) {
        return Ok(Some((DEFAULT_SCRIPT_USER.to_string(), None)));
    }
    if global.enable_script_security {
        return Err(SecurityError::NoScriptUser);
    }
    Ok(None)
}

/// Checks `cmd` as keepalived does before running it (see the module docs). `Ok` when it
/// may run; an [`SecurityError::Insecure`] error only blocks it with
/// `enable_script_security` (see [`SecurityError::refuses`]).
pub fn check_command(cmd: &Command) -> Result<(), SecurityError> {
    let uid = cmd.uid().unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    let gid = cmd.gid().unwrap_or_else(|| nix::unistd::getegid().as_raw());
    check_program(cmd.program(), uid, gid)
}

/// [`check_command`] for a program run as `uid`/`gid`.
pub fn check_program(program: &Path, uid: u32, gid: u32) -> Result<(), SecurityError> {
    let as_str = program.as_os_str().to_string_lossy();
    // `</path`: keepalived only checks that the file can be opened; nothing is executed.
    if as_str.trim_start().starts_with('<') {
        return Ok(());
    }
    let written = if as_str.contains('/') {
        program.to_path_buf()
    } else {
        find_in_path(program, uid, gid)?
    };
    let not_found = |source| SecurityError::NotFound {
        program: program.to_path_buf(),
        source,
    };
    let real = std::fs::canonicalize(&written).map_err(not_found)?;
    let meta = std::fs::metadata(&real).map_err(not_found)?;
    if !meta.is_file() {
        return Err(SecurityError::WrongType {
            program: program.to_path_buf(),
            path: real,
            expected: "regular file",
        });
    }
    let mode = meta.mode();
    if !is_executable(mode, meta.uid(), meta.gid(), uid, gid) {
        return Err(SecurityError::NotExecutable {
            program: program.to_path_buf(),
            uid,
            gid,
            mode: mode & 0o7777,
        });
    }
    let setuid_root = meta.uid() == 0 && mode & 0o4100 == 0o4100;
    let setgid_root = meta.gid() == 0 && mode & 0o2010 == 0o2010;
    if uid != 0 && gid != 0 && !setuid_root && !setgid_root {
        return Ok(());
    }
    // keepalived checks the resolved path and, when the name differs, the resolved
    // directory with the name as written (a symbolic link there).
    check_chain(program, &real)?;
    if let (Some(dir), Some(name)) = (real.parent(), written.file_name()) {
        if Some(name) != real.file_name() {
            if let Ok(dir) = std::fs::canonicalize(written.parent().unwrap_or(dir)) {
                check_chain(program, &dir.join(name))?;
            }
        }
    }
    Ok(())
}

/// keepalived's `check_security`: every element of `path` from `/` (not following symbolic
/// links) must be a directory, the last a file or a symbolic link, and none changeable by
/// a non-root user.
fn check_chain(program: &Path, path: &Path) -> Result<(), SecurityError> {
    let mut cur = PathBuf::new();
    let components: Vec<Component> = path.components().collect();
    for (i, c) in components.iter().enumerate() {
        cur.push(c.as_os_str());
        let last = i + 1 == components.len();
        let meta = std::fs::symlink_metadata(&cur).map_err(|source| SecurityError::NotFound {
            program: program.to_path_buf(),
            source,
        })?;
        let ft = meta.file_type();
        let ok_type = if last {
            ft.is_file() || ft.is_symlink()
        } else {
            ft.is_dir()
        };
        if !ok_type {
            return Err(SecurityError::WrongType {
                program: program.to_path_buf(),
                path: cur,
                expected: if last { "regular file" } else { "directory" },
            });
        }
        let mode = meta.permissions().mode();
        let writer = if meta.uid() != 0 {
            Some(Writer::Owner(meta.uid()))
        } else if (ft.is_dir() && mode & 0o1000 == 0) || ft.is_file() {
            if meta.gid() != 0 && mode & 0o020 != 0 {
                Some(Writer::Group(meta.gid()))
            } else if mode & 0o002 != 0 {
                Some(Writer::Everyone)
            } else {
                None
            }
        } else {
            None
        };
        if let Some(writer) = writer {
            return Err(SecurityError::Insecure {
                program: program.to_path_buf(),
                path: cur,
                writer,
                owner: meta.uid(),
                mode: mode & 0o7777,
            });
        }
    }
    Ok(())
}

/// Execute permission for `uid`/`gid` (root: any execute bit).
fn is_executable(mode: u32, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
    if uid == 0 {
        mode & 0o111 != 0
    } else if uid == owner {
        mode & 0o100 != 0
    } else if gid == group {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// keepalived's `find_path`: the first directory of PATH holding an executable file of
/// that name (it warns "Please specify full path", and so do callers).
fn find_in_path(program: &Path, uid: u32, gid: u32) -> Result<PathBuf, SecurityError> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| {
        OsStr::new("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").into()
    });
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && is_executable(meta.mode(), meta.uid(), meta.gid(), uid, gid) {
                return Ok(candidate);
            }
        }
    }
    Err(SecurityError::NotInPath {
        program: program.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::symlink};

    use super::*;

    /// A root-owned, 0755 temp dir (tempfile makes 0700 dirs under /tmp, which is 1777).
    fn secure_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn script(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn as_root(p: &Path) -> Result<(), SecurityError> {
        check_program(p, 0, 0)
    }

    #[test]
    fn root_owned_script_in_root_dirs_is_secure() {
        assert!(nix::unistd::geteuid().is_root(), "these tests run as root");
        let d = secure_dir();
        let s = script(d.path(), "ok.sh", 0o755);
        as_root(&s).unwrap();
        as_root(Path::new("/bin/true")).unwrap();
        // Found through PATH.
        as_root(Path::new("true")).unwrap();
    }

    #[test]
    fn world_writable_script_is_insecure() {
        let d = secure_dir();
        let s = script(d.path(), "ww.sh", 0o777);
        let e = as_root(&s).unwrap_err();
        match &e {
            SecurityError::Insecure { path, writer, .. } => {
                assert_eq!(path, &s);
                assert_eq!(*writer, Writer::Everyone);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.refuses(true));
        assert!(!e.refuses(false));
        let msg = e.to_string();
        assert!(msg.contains("ww.sh") && msg.contains("everyone"), "{msg}");
    }

    #[test]
    fn script_in_world_writable_dir_is_insecure() {
        let d = secure_dir();
        let ww = d.path().join("ww");
        fs::create_dir(&ww).unwrap();
        fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).unwrap();
        let s = script(&ww, "ok.sh", 0o755);
        match as_root(&s).unwrap_err() {
            SecurityError::Insecure { path, writer, .. } => {
                assert_eq!(path, ww);
                assert_eq!(writer, Writer::Everyone);
            }
            other => panic!("{other:?}"),
        }
        // The sticky bit (like /tmp) makes a world-writable directory acceptable.
        fs::set_permissions(&ww, fs::Permissions::from_mode(0o1777)).unwrap();
        as_root(&s).unwrap();
    }

    #[test]
    fn group_writable_and_non_root_owner_are_insecure() {
        let d = secure_dir();
        let s = script(d.path(), "g.sh", 0o775);
        // Group root may write: fine.
        as_root(&s).unwrap();
        nix::unistd::chown(&s, None, Some(nix::unistd::Gid::from_raw(65534))).unwrap();
        assert!(matches!(
            as_root(&s),
            Err(SecurityError::Insecure {
                writer: Writer::Group(65534),
                ..
            })
        ));
        let o = script(d.path(), "o.sh", 0o755);
        nix::unistd::chown(&o, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        assert!(matches!(
            as_root(&o),
            Err(SecurityError::Insecure {
                writer: Writer::Owner(65534),
                ..
            })
        ));
    }

    #[test]
    fn a_non_root_user_is_not_checked() {
        let d = secure_dir();
        let s = script(d.path(), "ww.sh", 0o777);
        check_program(&s, 65534, 65534).unwrap();
    }

    #[test]
    fn symlink_into_an_insecure_dir_is_insecure() {
        let d = secure_dir();
        let ww = d.path().join("ww");
        fs::create_dir(&ww).unwrap();
        fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).unwrap();
        let target = script(&ww, "real.sh", 0o755);
        let link = d.path().join("link.sh");
        symlink(&target, &link).unwrap();
        assert!(matches!(
            as_root(&link),
            Err(SecurityError::Insecure { path, .. }) if path == ww
        ));
    }

    #[test]
    fn missing_wrong_type_and_not_executable() {
        let d = secure_dir();
        assert!(matches!(
            as_root(&d.path().join("nope.sh")),
            Err(SecurityError::NotFound { .. })
        ));
        assert!(matches!(
            as_root(Path::new("no-such-program-xyz")),
            Err(SecurityError::NotInPath { .. })
        ));
        assert!(matches!(
            as_root(d.path()),
            Err(SecurityError::WrongType { .. })
        ));
        let s = script(d.path(), "noexec.sh", 0o644);
        let e = as_root(&s).unwrap_err();
        assert!(matches!(e, SecurityError::NotExecutable { .. }));
        // Refused even without enable_script_security.
        assert!(e.refuses(false));
        let s = script(d.path(), "owner-only.sh", 0o700);
        assert!(matches!(
            check_program(&s, 65534, 65534),
            Err(SecurityError::NotExecutable { .. })
        ));
    }

    #[test]
    fn command_uses_its_user() {
        let d = secure_dir();
        let s = script(d.path(), "ww.sh", 0o777);
        let line = s.to_str().unwrap();
        let root = Command::parse(line, None).unwrap();
        assert!(matches!(
            check_command(&root),
            Err(SecurityError::Insecure { .. })
        ));
        let nobody = Command::parse(line, Some(("nobody", None))).unwrap();
        check_command(&nobody).unwrap();
    }

    #[test]
    fn default_script_user() {
        let mut g = GlobalDefs::default();
        // No keepalived_script user on the test machines.
        if nix::unistd::User::from_name(DEFAULT_SCRIPT_USER)
            .ok()
            .flatten()
            .is_none()
        {
            assert_eq!(script_user(&g, None).unwrap(), None);
            g.enable_script_security = true;
            assert!(matches!(
                script_user(&g, None),
                Err(SecurityError::NoScriptUser)
            ));
        }
        let own = ("nobody".to_string(), None);
        assert_eq!(script_user(&g, Some(&own)).unwrap(), Some(own.clone()));
        g.script_user = Some(("root".into(), None));
        assert_eq!(script_user(&g, None).unwrap(), Some(("root".into(), None)));
        assert_eq!(script_user(&g, Some(&own)).unwrap(), Some(own));
    }
}
