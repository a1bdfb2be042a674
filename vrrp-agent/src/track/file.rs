//! Track files: one inotify instance watching the directory of every tracked file, so
//! that creation, writes, renames and deletion are all seen without polling.
//!
//! keepalived 2.2.7 (keepalived/core/track_file.c):
//! - `init_file [VALUE] [overwrite]` writes `VALUE\n` (default 0) at start-up when the file
//!   does not exist, or always with `overwrite` (not over something that is not a regular
//!   file, and not on a reload) (`track_file_end_handler`);
//! - the path is resolved once at start-up (`realpath` of the file, or of its directory when
//!   the file does not exist yet); a directory that does not exist or cannot be accessed
//!   makes keepalived drop the track file from everything that tracks it
//!   (`init_track_files`: "Track file directory for %s does not exist - removing");
//! - the directory is watched for `IN_CLOSE_WRITE | IN_DELETE | IN_MOVE`: a write (closed) or
//!   a file moved in re-reads it, a deletion or a move away reads as 0 (`process_inotify`);
//! - reading takes the first 127 bytes and `strtol(buf, NULL, 0)` (decimal, `0x` hex,
//!   leading-0 octal, leading blanks and a sign allowed, anything after the number
//!   ignored); a missing or empty file or text that is not a number is 0; a number out of
//!   range is logged and ignored, the previous value stays (`process_track_file`).
//!
//! This module also reacts to `IN_CREATE` (keepalived does not), so a symbolic link or hard
//! link created in place is read at once; the file created by `touch` or `echo N >` is read
//! on its close either way. Text that is not (only) a number is logged at warn level.
use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    io::{self, Read},
    os::{
        fd::{AsFd, AsRawFd, RawFd},
        unix::fs::OpenOptionsExt,
    },
    path::{Path, PathBuf},
};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use tokio::{io::unix::AsyncFd, sync::mpsc::UnboundedSender};

use crate::config::TrackFileDef;

use super::{TrackError, TrackEvent};

/// What keepalived reads at most.
const READ_MAX: usize = 127;

/// What the text of a track file means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileValue {
    /// A number, with nothing but blanks around it (an empty file is `Number(0)`).
    Number(i64),
    /// Not only a number: what `strtol` makes of it (the leading number, else 0).
    Lenient(i64),
    /// Beyond what keepalived accepts (32-bit): ignored, the previous value stays.
    OutOfRange,
}

/// Parses track file text as keepalived does (`strtol(text, NULL, 0)`, then the range
/// check of `process_track_file`).
pub fn parse_value(text: &str) -> FileValue {
    let text = text.split('\0').next().unwrap_or("");
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let b = rest.as_bytes();
    let (radix, digits) = if b.len() >= 3
        && b[0] == b'0'
        && (b[1] == b'x' || b[1] == b'X')
        && b[2].is_ascii_hexdigit()
    {
        (16, &rest[2..])
    } else if b.first() == Some(&b'0') {
        (8, rest)
    } else {
        (10, rest)
    };
    let len = digits
        .bytes()
        .take_while(|c| char::from(*c).is_digit(radix))
        .count();
    if len == 0 {
        // No conversion: strtol returns 0.
        return if text.trim().is_empty() {
            FileValue::Number(0)
        } else {
            FileValue::Lenient(0)
        };
    }
    let Ok(magnitude) = i64::from_str_radix(&digits[..len], radix) else {
        return FileValue::OutOfRange;
    };
    let value = if negative { -magnitude } else { magnitude };
    if value < i64::from(i32::MIN) || value > i64::from(i32::MAX) + 1 {
        return FileValue::OutOfRange;
    }
    if digits[len..].trim().is_empty() {
        FileValue::Number(value)
    } else {
        FileValue::Lenient(value)
    }
}

/// Reads `path` as keepalived does: `Some(value)` (0 when missing or unreadable), or `None`
/// when the number is out of range and the previous value must stay.
pub fn read_value(name: &str, path: &Path) -> Option<i64> {
    let mut buf = [0u8; READ_MAX];
    let n = fs::OpenOptions::new()
        .read(true)
        // A FIFO must not block the runtime.
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|mut f| f.read(&mut buf));
    let n = match n {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Some(0),
        Err(e) => {
            tracing::warn!(track_file = %name, path = %path.display(), error = %e,
                "cannot read the track file: it counts as 0");
            return Some(0);
        }
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    match parse_value(&text) {
        FileValue::Number(v) => Some(v),
        FileValue::Lenient(v) => {
            tracing::warn!(track_file = %name, path = %path.display(), value = v,
                text = %text.trim_end(),
                "the track file does not hold just a number; read as {v}, as keepalived does");
            Some(v)
        }
        FileValue::OutOfRange => {
            tracing::warn!(track_file = %name, path = %path.display(), text = %text.trim_end(),
                "the number in the track file is out of range: ignored, the previous value stays");
            None
        }
    }
}

/// `init_file`: writes the initial value if the file is missing, or always with
/// `overwrite` (except on a reload, and never over something that is not a regular file).
pub(super) fn init_file(def: &TrackFileDef, reload: bool) -> Result<(), String> {
    let Some(init) = def.init_file else {
        return Ok(());
    };
    match fs::metadata(&def.file) {
        Ok(_) if !init.overwrite || reload => return Ok(()),
        Ok(m) if !m.is_file() => {
            return Err(format!(
                "init_file: {} is not a regular file; not overwritten",
                def.file.display()
            ))
        }
        _ => {}
    }
    fs::write(&def.file, format!("{}\n", init.value))
        .map_err(|e| format!("init_file: writing {}: {e}", def.file.display()))
}

/// The file to watch: its path with symbolic links resolved (the file's own, if it exists,
/// else its directory's), as keepalived resolves it once at start-up.
fn resolve(path: &Path) -> Result<PathBuf, String> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let name = path
                .file_name()
                .ok_or_else(|| format!("{} names no file", path.display()))?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            match fs::canonicalize(dir) {
                Ok(d) if d.is_dir() => Ok(d.join(name)),
                _ => Err(format!(
                    "its directory {} does not exist (keepalived drops such a track file)",
                    dir.display()
                )),
            }
        }
        Err(e) => Err(format!("{} is not accessible: {e}", path.display())),
    }
}

struct Watched {
    name: String,
    path: PathBuf,
    file_name: OsString,
    wd: WatchDescriptor,
    /// The value last sent.
    value: i64,
}

/// tokio's `AsyncFd` wants `AsRawFd`; nix's `Inotify` offers `AsFd`.
struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The inotify watch of every tracked file, ready to run.
pub(super) struct FileWatch {
    fd: AsyncFd<InotifyFd>,
    files: Vec<Watched>,
}

/// What [`start`] set up.
pub(super) struct Started {
    /// `None` when nothing is left to watch.
    pub watch: Option<FileWatch>,
    /// Files that cannot be watched, with the reason (keepalived drops them).
    pub dropped: Vec<(String, String)>,
}

/// Sets up the watches and sends every file's current value on `tx` before returning, so
/// the receiver knows all of them before anything else.
pub(super) fn start(
    defs: &[&TrackFileDef],
    reload: bool,
    tx: &UnboundedSender<TrackEvent>,
) -> Result<Started, TrackError> {
    let mut dropped = Vec::new();
    let mut resolved = Vec::new();
    for def in defs {
        if let Err(why) = init_file(def, reload) {
            tracing::warn!(track_file = %def.name, "{why}");
        }
        match resolve(&def.file) {
            Ok(path) => resolved.push((def, path)),
            Err(why) => dropped.push((def.name.clone(), why)),
        }
    }
    if resolved.is_empty() {
        return Ok(Started {
            watch: None,
            dropped,
        });
    }
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| TrackError::Inotify(e.into()))?;
    let mut files = Vec::new();
    for (def, path) in resolved {
        let (Some(dir), Some(file_name)) = (path.parent(), path.file_name()) else {
            dropped.push((
                def.name.clone(),
                format!("{} names no file", path.display()),
            ));
            continue;
        };
        let wd = match inotify.add_watch(dir, mask()) {
            Ok(wd) => wd,
            Err(e) => {
                dropped.push((
                    def.name.clone(),
                    format!("cannot watch {}: {e}", dir.display()),
                ));
                continue;
            }
        };
        // Watch first, then read: a change in between is seen twice, never missed.
        let value = read_value(&def.name, &path).unwrap_or(0);
        tracing::info!(track_file = %def.name, path = %path.display(), value, "watching track file");
        let _ = tx.send(TrackEvent::File {
            name: def.name.clone(),
            value,
        });
        files.push(Watched {
            name: def.name.clone(),
            path: path.clone(),
            file_name: file_name.to_os_string(),
            wd,
            value,
        });
    }
    if files.is_empty() {
        return Ok(Started {
            watch: None,
            dropped,
        });
    }
    // SAFETY: `InotifyFd` owns the descriptor (nix's `Inotify` holds an `OwnedFd`), which
    // stays open and unchanged until the `AsyncFd` is dropped, and `as_raw_fd` always
    // returns it.
    let fd = unsafe { AsyncFd::register(InotifyFd(inotify)) }
        .map_err(|e| TrackError::Inotify(e.into()))?;
    Ok(Started {
        watch: Some(FileWatch { fd, files }),
        dropped,
    })
}

fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_ONLYDIR
}

impl FileWatch {
    /// Handles inotify events until the task is dropped or nobody listens.
    pub(super) async fn run(mut self, tx: UnboundedSender<TrackEvent>) {
        loop {
            let mut guard = match self.fd.readable().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!(error = %e, "inotify failed: track files are no longer watched");
                    return;
                }
            };
            let events = match guard
                .try_io(|fd| fd.get_ref().0.read_events().map_err(io::Error::from))
            {
                Ok(Ok(events)) => events,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reading inotify failed: track files are no longer watched");
                    return;
                }
                Err(_would_block) => continue,
            };
            drop(guard);
            for ev in events {
                for (name, value) in self.handle(&ev) {
                    if tx.send(TrackEvent::File { name, value }).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// The values that changed because of `ev`.
    fn handle(&mut self, ev: &InotifyEvent) -> Vec<(String, i64)> {
        let mut changed = BTreeMap::new();
        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            tracing::warn!("inotify queue overflow: re-reading every track file");
            for f in &mut self.files {
                if let Some(v) = read_value(&f.name, &f.path) {
                    set(f, v, &mut changed);
                }
            }
        } else if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
            for f in self.files.iter_mut().filter(|f| f.wd == ev.wd) {
                tracing::warn!(track_file = %f.name, path = %f.path.display(),
                    "the directory of the track file is gone: it counts as 0 and is no longer watched");
                set(f, 0, &mut changed);
            }
        } else if !ev.mask.contains(AddWatchFlags::IN_ISDIR) {
            let Some(event_name) = &ev.name else {
                return Vec::new();
            };
            for f in self
                .files
                .iter_mut()
                .filter(|f| f.wd == ev.wd && &f.file_name == event_name)
            {
                let value = if ev
                    .mask
                    .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM)
                {
                    Some(0)
                } else {
                    read_value(&f.name, &f.path)
                };
                if let Some(v) = value {
                    set(f, v, &mut changed);
                }
            }
        }
        changed.into_iter().collect()
    }
}

fn set(f: &mut Watched, value: i64, changed: &mut BTreeMap<String, i64>) {
    if f.value != value {
        tracing::info!(track_file = %f.name, path = %f.path.display(), from = f.value, to = value,
            "track file value changed");
        f.value = value;
        changed.insert(f.name.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;
    use crate::config::TrackFileInit;

    #[test]
    fn values_as_strtol_reads_them() {
        use FileValue::*;
        let cases: &[(&str, FileValue)] = &[
            ("", Number(0)),
            ("\n", Number(0)),
            ("0\n", Number(0)),
            ("1", Number(1)),
            ("  42\n", Number(42)),
            ("-7\n", Number(-7)),
            ("+5", Number(5)),
            ("0x1f", Number(31)),
            ("0X10\n", Number(16)),
            ("010", Number(8)),
            ("08", Lenient(0)),
            ("12abc", Lenient(12)),
            ("1 2", Lenient(1)),
            ("abc", Lenient(0)),
            ("- 3", Lenient(0)),
            ("0x", Lenient(0)),
            ("0xg", Lenient(0)),
            ("2147483648", Number(2147483648)),
            ("-2147483648", Number(-2147483648)),
            ("2147483649", OutOfRange),
            ("-2147483649", OutOfRange),
            ("99999999999999999999999", OutOfRange),
            ("3\0garbage", Number(3)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_value(text), *want, "{text:?}");
        }
    }

    fn def(name: &str, file: &Path, init: Option<(i64, bool)>) -> TrackFileDef {
        TrackFileDef {
            name: name.into(),
            location: crate::config::Location {
                file: PathBuf::new(),
                line: 0,
                column: 0,
            },
            file: file.to_path_buf(),
            weight: 1,
            reverse: false,
            init_file: init.map(|(value, overwrite)| TrackFileInit { value, overwrite }),
        }
    }

    #[test]
    fn init_file_rules() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        init_file(&def("f", &p, Some((5, false))), false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "5\n");
        // Exists, no overwrite: kept.
        fs::write(&p, "9\n").unwrap();
        init_file(&def("f", &p, Some((5, false))), false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "9\n");
        // overwrite: written, except on reload.
        init_file(&def("f", &p, Some((5, true))), true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "9\n");
        init_file(&def("f", &p, Some((-3, true))), false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "-3\n");
        // Not a regular file: not overwritten.
        assert!(init_file(&def("f", d.path(), Some((1, true))), false).is_err());
        // No init_file: nothing written.
        let q = d.path().join("g");
        init_file(&def("g", &q, None), false).unwrap();
        assert!(!q.exists());
    }

    async fn value(rx: &mut mpsc::UnboundedReceiver<TrackEvent>) -> (String, i64) {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(TrackEvent::File { name, value })) => (name, value),
            other => panic!("no file event: {other:?}"),
        }
    }

    #[tokio::test]
    async fn watch_sees_writes_creation_deletion_and_rename_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("down");
        let other = d.path().join("other");
        fs::write(&p, "3\n").unwrap();
        let defs = [def("down", &p, None), def("other", &other, None)];
        let refs: Vec<&TrackFileDef> = defs.iter().collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let Started { watch, dropped } = start(&refs, false, &tx).unwrap();
        assert!(dropped.is_empty());
        // Initial values, before start returned.
        assert_eq!(value(&mut rx).await, ("down".into(), 3));
        assert_eq!(value(&mut rx).await, ("other".into(), 0));
        let task = tokio::spawn(watch.unwrap().run(tx));

        // A write (echo 1 > file).
        fs::write(&p, "1\n").unwrap();
        assert_eq!(value(&mut rx).await, ("down".into(), 1));
        // Deletion reads as 0.
        fs::remove_file(&p).unwrap();
        assert_eq!(value(&mut rx).await, ("down".into(), 0));
        // Creation.
        fs::write(&p, "7").unwrap();
        assert_eq!(value(&mut rx).await, ("down".into(), 7));
        // Renamed over (an atomic update).
        let tmp = d.path().join("down.tmp");
        fs::write(&tmp, "-2\n").unwrap();
        fs::rename(&tmp, &p).unwrap();
        assert_eq!(value(&mut rx).await, ("down".into(), -2));
        // Moved away reads as 0.
        fs::rename(&p, &tmp).unwrap();
        assert_eq!(value(&mut rx).await, ("down".into(), 0));
        // The other file in the same directory, created empty (touch): 0, no change; then
        // a value.
        fs::write(&other, "").unwrap();
        fs::write(&other, "4").unwrap();
        assert_eq!(value(&mut rx).await, ("other".into(), 4));
        // Out of range: ignored, previous value kept; then garbage reads 0.
        fs::write(&other, "99999999999").unwrap();
        fs::write(&other, "garbage").unwrap();
        assert_eq!(value(&mut rx).await, ("other".into(), 0));
        task.abort();
    }

    #[tokio::test]
    async fn missing_directory_is_dropped_and_symlinks_resolved() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("f"), "2").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let defs = [
            def("gone", &d.path().join("no/such/dir/f"), None),
            def("linked", &link.join("f"), None),
        ];
        let refs: Vec<&TrackFileDef> = defs.iter().collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let Started { watch, dropped } = start(&refs, false, &tx).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0, "gone");
        assert!(dropped[0].1.contains("does not exist"), "{}", dropped[0].1);
        assert_eq!(value(&mut rx).await, ("linked".into(), 2));
        let task = tokio::spawn(watch.unwrap().run(tx));
        fs::write(real.join("f"), "5").unwrap();
        assert_eq!(value(&mut rx).await, ("linked".into(), 5));
        task.abort();
    }

    #[tokio::test]
    async fn init_file_creates_before_the_first_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let defs = [def("f", &p, Some((3, false)))];
        let refs: Vec<&TrackFileDef> = defs.iter().collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let Started { dropped, .. } = start(&refs, false, &tx).unwrap();
        assert!(dropped.is_empty());
        assert_eq!(value(&mut rx).await, ("f".into(), 3));
    }
}
