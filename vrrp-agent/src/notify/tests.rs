//! Real processes, real FIFOs, temporary directories. Every wait is bounded.
use std::{
    fs,
    io::Read,
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::*;
use crate::config::parse_str;

/// What keepalived 2.2.7 wrote to `notify_fifo` and `vrrp_notify_fifo` (identical bytes) in a
/// network namespace: sync group G1 = { VI_1 (priority 117) }, VI_2 (priority 90) alone; start
/// (all BACKUP), both become MASTER, then SIGTERM.
const KEEPALIVED_FIFO: &str = "\
GROUP \"G1\" BACKUP 0
INSTANCE \"VI_1\" BACKUP 117
INSTANCE \"VI_2\" BACKUP 90
INSTANCE \"VI_1\" MASTER 117
GROUP \"G1\" MASTER 0
INSTANCE \"VI_2\" MASTER 90
INSTANCE \"VI_1\" STOP 117
INSTANCE \"VI_2\" STOP 90
GROUP \"G1\" STOP 0
";

/// The same transitions, as the runtime would report them (a group's priority is ignored).
const KEEPALIVED_RUN: &[(Subject, &str, NotifyState, u8)] = &[
    (Subject::Group, "G1", NotifyState::Backup, 117),
    (Subject::Instance, "VI_1", NotifyState::Backup, 117),
    (Subject::Instance, "VI_2", NotifyState::Backup, 90),
    (Subject::Instance, "VI_1", NotifyState::Master, 117),
    (Subject::Group, "G1", NotifyState::Master, 117),
    (Subject::Instance, "VI_2", NotifyState::Master, 90),
    (Subject::Instance, "VI_1", NotifyState::Stop, 117),
    (Subject::Instance, "VI_2", NotifyState::Stop, 90),
    (Subject::Group, "G1", NotifyState::Stop, 0),
];

/// `rec.sh LOG [sleep=S] [touch=F] [waitfor=F] ARGS...`: appends `ARG|ARG|...|` to LOG.
const REC: &str = r#"#!/bin/sh
log=$1; shift
while :; do
  case $1 in
    sleep=*) sleep "${1#sleep=}"; shift ;;
    touch=*) : > "${1#touch=}"; shift ;;
    waitfor=*) f=${1#waitfor=}; n=0
      while [ ! -e "$f" ]; do
        n=$((n+1)); if [ $n -gt 1000 ]; then echo "gave up waiting|" >> "$log"; exit 1; fi
        sleep 0.01
      done; shift ;;
    *) break ;;
  esac
done
line=$(printf '%s|' "$@")
printf '%s\n' "$line" >> "$log"
"#;

/// Starts a grandchild that would sleep for a long time, records its pid, and waits for it.
const HANG: &str = "#!/bin/sh\n/bin/sleep 60 &\necho $! > \"$1\"\nwait\n";

/// A temporary directory with the scripts, readable by `nobody`.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for (name, text) in [("rec.sh", REC), ("hang.sh", HANG)] {
            let p = tmp.path().join(name);
            fs::write(&p, text).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Dir { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `"rec.sh LOG ARGS"` (quoted for keepalived.conf).
    fn rec(&self, args: &str) -> String {
        format!("\"{} {} {args}\"", self.p("rec.sh"), self.p("log"))
    }

    fn log(&self) -> Vec<String> {
        fs::read_to_string(self.path("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn config(global: &str, body: &str) -> Config {
    let text = format!("global_defs {{\n router_id t\n{global}\n}}\n{body}");
    match parse_str(&text, Path::new("test.conf")) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn instance(name: &str, vrid: u8, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority 100\n \
         advert_int 1\n virtual_ipaddress {{ 198.18.0.{vrid}/32 }}\n{extra}\n}}\n"
    )
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Everything a FIFO holds right now.
fn drain_fifo(path: &Path) -> String {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading {}: {e}", path.display()),
        }
    }
    String::from_utf8(out).unwrap()
}

/// Polls `cond` for up to 10 s.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

const IDLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn commands_run_in_order_even_when_the_first_is_slow() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!(
                "notify_master {}\nnotify_backup {}\nnotify_fault {}\nnotify {}",
                d.rec("sleep=0.4 master"),
                d.rec("backup"),
                d.rec("fault"),
                d.rec("generic 'a b'"),
            ),
        ),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    n.transition(Subject::Instance, "VI_1", NotifyState::Backup, 100);
    n.transition(Subject::Instance, "VI_1", NotifyState::Fault, 0);
    n.transition(Subject::Instance, "VI_1", NotifyState::Backup, 90);
    assert!(n.wait_idle(IDLE).await);
    assert_eq!(
        d.log(),
        lines(&[
            "master|",
            "generic|a b|INSTANCE|VI_1|MASTER|100|",
            "backup|",
            "generic|a b|INSTANCE|VI_1|BACKUP|100|",
            "fault|",
            "generic|a b|INSTANCE|VI_1|FAULT|0|",
            "backup|",
            "generic|a b|INSTANCE|VI_1|BACKUP|90|",
        ])
    );
    assert_eq!(n.count(Subject::Instance, "VI_1", NotifyState::Backup), 2);
    assert_eq!(n.count(Subject::Instance, "VI_1", NotifyState::Master), 1);
    assert_eq!(n.count(Subject::Instance, "VI_1", NotifyState::Stop), 0);
    assert_eq!(n.counts().values().sum::<u64>(), 4);
    assert_eq!(n.stats().succeeded, 8);
    n.shutdown(IDLE).await;
}

#[tokio::test]
async fn only_the_generic_notify_and_stop() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!("notify_stop {}\nnotify {}", d.rec("stop"), d.rec("generic")),
        ),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 255);
    n.transition(Subject::Instance, "VI_1", NotifyState::Stop, 255);
    // A name the configuration does not know: counted, nothing run.
    n.transition(Subject::Instance, "VI_9", NotifyState::Master, 1);
    assert!(n.wait_idle(IDLE).await);
    assert_eq!(
        d.log(),
        lines(&[
            "generic|INSTANCE|VI_1|MASTER|255|",
            "stop|",
            "generic|INSTANCE|VI_1|STOP|255|",
        ])
    );
    assert_eq!(n.count(Subject::Instance, "VI_9", NotifyState::Master), 1);
}

#[tokio::test]
async fn group_notifications_report_priority_zero() {
    let d = Dir::new();
    let body = format!(
        "{}vrrp_sync_group G1 {{\n group {{ VI_1 }}\n notify_master {}\n notify_backup {}\n \
         notify_stop {}\n notify {}\n}}\n",
        instance("VI_1", 1, ""),
        d.rec("gmaster"),
        d.rec("gbackup"),
        d.rec("gstop"),
        d.rec("ggeneric"),
    );
    let mut n = Notifier::new(&config("", &body)).unwrap();
    n.transition(Subject::Group, "G1", NotifyState::Backup, 100);
    n.transition(Subject::Group, "G1", NotifyState::Master, 100);
    n.transition(Subject::Group, "G1", NotifyState::Stop, 100);
    // The instance has no commands of its own.
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    assert!(n.wait_idle(IDLE).await);
    assert_eq!(
        d.log(),
        lines(&[
            "gbackup|",
            "ggeneric|GROUP|G1|BACKUP|0|",
            "gmaster|",
            "ggeneric|GROUP|G1|MASTER|0|",
            "gstop|",
            "ggeneric|GROUP|G1|STOP|0|",
        ])
    );
    assert_eq!(n.count(Subject::Group, "G1", NotifyState::Master), 1);
    assert_eq!(n.count(Subject::Instance, "VI_1", NotifyState::Master), 1);
}

#[tokio::test]
async fn different_instances_run_concurrently() {
    let d = Dir::new();
    let flag = d.p("flag");
    // VI_1's command waits for a file that only VI_2's command creates.
    let body = format!(
        "{}{}",
        instance(
            "VI_1",
            1,
            &format!("notify_master {}", d.rec(&format!("waitfor={flag} vi1")))
        ),
        instance(
            "VI_2",
            2,
            &format!("notify_master {}", d.rec(&format!("touch={flag} vi2")))
        ),
    );
    let mut n = Notifier::new(&config("", &body)).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    n.transition(Subject::Instance, "VI_2", NotifyState::Master, 100);
    assert!(n.wait_idle(Duration::from_secs(20)).await);
    // Had VI_1's queue held up VI_2's, VI_1 would have given up waiting. Which of the two
    // logs first after the flag appears is a race.
    let mut log = d.log();
    log.sort();
    assert_eq!(log, lines(&["vi1|", "vi2|"]));
}

#[tokio::test]
async fn commands_run_as_their_user() {
    let d = Dir::new();
    let out = d.path("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let rec_to = |file: &str| format!("\"{} {}/{file} x\"", d.p("rec.sh"), out.display());
    let body = format!(
        "{}{}{}",
        // Named user.
        instance(
            "VI_1",
            1,
            &format!("notify_master {} nobody", rec_to("vi1"))
        ),
        // The global script_user.
        instance("VI_2", 2, &format!("notify_master {}", rec_to("vi2"))),
        // Its own user beats script_user.
        instance("VI_3", 3, &format!("notify_master {} root", rec_to("vi3"))),
    );
    let mut n = Notifier::new(&config("script_user nobody", &body)).unwrap();
    for name in ["VI_1", "VI_2", "VI_3"] {
        n.transition(Subject::Instance, name, NotifyState::Master, 100);
    }
    assert!(n.wait_idle(IDLE).await);
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let owner = |f: &str| fs::metadata(out.join(f)).map(|m| m.uid()).ok();
    assert_eq!(owner("vi1"), Some(nobody));
    assert_eq!(owner("vi2"), Some(nobody));
    assert_eq!(owner("vi3"), Some(0));
}

#[tokio::test]
async fn fifo_lines_are_keepalived_lines() {
    let d = Dir::new();
    let existing = d.path("existing.fifo");
    nix::unistd::mkfifo(&existing, nix::sys::stat::Mode::from_bits_truncate(0o640)).unwrap();
    let created = d.path("created.fifo");
    let body = format!(
        "{}{}vrrp_sync_group G1 {{\n group {{ VI_1 }}\n}}\n",
        instance("VI_1", 1, ""),
        instance("VI_2", 2, ""),
    );
    let cfg = config(
        &format!(
            "notify_fifo {}\nvrrp_notify_fifo {}",
            existing.display(),
            created.display()
        ),
        &body,
    );
    let mut n = Notifier::new(&cfg).unwrap();
    let meta = fs::metadata(&created).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(
        n.fifo_paths().collect::<Vec<_>>(),
        [existing.as_path(), created.as_path()]
    );
    for &(subject, name, state, priority) in KEEPALIVED_RUN {
        n.transition(subject, name, state, priority);
    }
    // Nothing was reading: the lines waited in the pipes.
    assert_eq!(drain_fifo(&existing), KEEPALIVED_FIFO);
    assert_eq!(drain_fifo(&created), KEEPALIVED_FIFO);
    assert_eq!(n.stats().fifo_lines, 18);
    n.shutdown(IDLE).await;
    // We remove what we created, and only that.
    assert!(!created.exists());
    assert!(fs::metadata(&existing).unwrap().file_type().is_fifo());
}

#[tokio::test]
async fn a_full_fifo_drops_lines_and_never_blocks() {
    let d = Dir::new();
    let fifo = d.path("vrrp.fifo");
    let cfg = config(
        &format!("vrrp_notify_fifo {}", fifo.display()),
        &instance("VI_1", 1, ""),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    // ~27 bytes a line: 5000 lines are twice the 64 KiB a pipe holds.
    let t0 = Instant::now();
    for i in 0..5000u32 {
        let state = if i % 2 == 0 {
            NotifyState::Master
        } else {
            NotifyState::Backup
        };
        n.transition(Subject::Instance, "VI_1", state, 100);
    }
    assert!(t0.elapsed() < Duration::from_secs(10));
    let s = n.stats();
    assert_eq!(s.fifo_lines + s.fifo_dropped, 5000);
    assert!(s.fifo_dropped > 0, "{s:?}");
    // What the pipe kept is whole lines, in order.
    let kept = drain_fifo(&fifo);
    assert_eq!(kept.lines().count() as u64, s.fifo_lines);
    assert!(kept.starts_with("INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" BACKUP 100\n"));
    // Once read, lines flow again.
    n.transition(Subject::Instance, "VI_1", NotifyState::Fault, 0);
    assert_eq!(drain_fifo(&fifo), "INSTANCE \"VI_1\" FAULT 0\n");
}

#[tokio::test]
async fn a_hanging_command_is_killed_and_the_queue_goes_on() {
    let d = Dir::new();
    let pid_file = d.path("sleep.pid");
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!(
                "notify_master \"{} {}\"\nnotify_backup {}",
                d.p("hang.sh"),
                pid_file.display(),
                d.rec("backup")
            ),
        ),
    );
    let mut n = Notifier::new(&cfg)
        .unwrap()
        // Long enough for the quick command to finish on a busy machine (a timeout applies
        // to every command), far shorter than the hanging one's 60 s.
        .with_command_timeout(Duration::from_secs(3));
    let t0 = Instant::now();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    n.transition(Subject::Instance, "VI_1", NotifyState::Backup, 100);
    assert!(n.wait_idle(Duration::from_secs(30)).await);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    assert_eq!(d.log(), lines(&["backup|"]));
    let s = n.stats();
    assert_eq!((s.timed_out, s.succeeded), (1, 1));
    // The script's own child went with it (its process group was killed).
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = eventually(|| {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.contains(") Z ") || !s.contains("sleep"))
    })
    .await;
    assert!(gone, "sleep {pid} survived");
}

#[tokio::test]
async fn transition_returns_at_once_and_shutdown_is_bounded() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!(
                "notify_master {}\nnotify_backup {}",
                d.rec("sleep=60 master"),
                d.rec("sleep=60 backup")
            ),
        ),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    let t0 = Instant::now();
    for _ in 0..10 {
        n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
        n.transition(Subject::Instance, "VI_1", NotifyState::Backup, 100);
    }
    // 20 commands of 60 s each are queued; queuing them takes (far) less than one: the
    // bounds are many times what it takes (milliseconds; 0.3 s + the 1 s abort grace for
    // the shutdown), and still well under the 60 s that waiting for one command would take.
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let t1 = Instant::now();
    n.shutdown(Duration::from_millis(300)).await;
    assert!(t1.elapsed() < Duration::from_secs(20), "{:?}", t1.elapsed());
    assert_eq!(d.log(), Vec::<String>::new());
}

#[tokio::test]
async fn shutdown_runs_the_queued_stop_commands() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!(
                "notify_stop {}\nnotify {}",
                d.rec("sleep=0.3 stop"),
                d.rec("generic")
            ),
        ),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Stop, 100);
    n.shutdown(IDLE).await;
    assert_eq!(
        d.log(),
        lines(&["stop|", "generic|INSTANCE|VI_1|STOP|100|"])
    );
}

#[tokio::test]
async fn dropping_a_notifier_lets_queued_commands_finish() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!("notify_master {}", d.rec("sleep=0.2 master")),
        ),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    drop(n);
    assert!(eventually(|| d.log().len() == 2).await, "{:?}", d.log());
    assert_eq!(d.log(), lines(&["master|", "master|"]));
}

#[tokio::test]
async fn reload_keeps_order_fifo_and_counts() {
    let d = Dir::new();
    let fifo = d.path("vrrp.fifo");
    let global = format!("vrrp_notify_fifo {}", fifo.display());
    let old_cfg = config(
        &global,
        &instance(
            "VI_1",
            1,
            &format!("notify_master {}", d.rec("sleep=0.4 old")),
        ),
    );
    let new_cfg = config(
        &global,
        &instance("VI_1", 1, &format!("notify_master {}", d.rec("new"))),
    );
    let mut old = Notifier::new(&old_cfg).unwrap();
    old.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    let mut new = old.reload(&new_cfg).unwrap();
    drop(old);
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    new.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    assert!(new.wait_idle(IDLE).await);
    assert_eq!(d.log(), lines(&["old|", "new|"]));
    assert_eq!(new.count(Subject::Instance, "VI_1", NotifyState::Master), 2);
    assert_eq!(
        drain_fifo(&fifo),
        "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" MASTER 100\n"
    );
    new.shutdown(IDLE).await;
    assert!(!fifo.exists());
}

#[tokio::test]
async fn shutting_down_the_old_notifier_spares_the_queues_it_shares() {
    let d = Dir::new();
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            &format!("notify_master {}", d.rec("sleep=0.5 master")),
        ),
    );
    let mut old = Notifier::new(&cfg).unwrap();
    old.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    let mut new = old.reload(&cfg).unwrap();
    // Far shorter than the command: an unshared queue would be killed here.
    old.shutdown(Duration::from_millis(50)).await;
    new.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    assert!(new.wait_idle(IDLE).await);
    assert_eq!(d.log(), lines(&["master|", "master|"]));
    assert_eq!(new.stats().aborted, 0);
}

#[tokio::test]
async fn a_fifo_outlives_the_old_notifier_when_a_new_one_uses_it() {
    let d = Dir::new();
    let fifo = d.path("vrrp.fifo");
    let cfg = config(
        &format!("vrrp_notify_fifo {}", fifo.display()),
        &instance("VI_1", 1, ""),
    );
    let mut old = Notifier::new(&cfg).unwrap();
    old.transition(Subject::Instance, "VI_1", NotifyState::Backup, 100);
    // A reload done with `new` rather than `reload`: the FIFO is still shared.
    let mut new = Notifier::new(&cfg).unwrap();
    old.shutdown(IDLE).await;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    new.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    assert_eq!(
        drain_fifo(&fifo),
        "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\n"
    );
    new.shutdown(IDLE).await;
    assert!(!fifo.exists());
}

#[test]
fn without_a_runtime_commands_are_skipped_without_panic() {
    let d = Dir::new();
    let fifo = d.path("vrrp.fifo");
    let cfg = config(
        &format!("vrrp_notify_fifo {}", fifo.display()),
        &instance("VI_1", 1, &format!("notify_master {}", d.rec("master"))),
    );
    let mut n = Notifier::new(&cfg).unwrap();
    n.transition(Subject::Instance, "VI_1", NotifyState::Master, 100);
    assert_eq!(n.count(Subject::Instance, "VI_1", NotifyState::Master), 1);
    assert_eq!(drain_fifo(&fifo), "INSTANCE \"VI_1\" MASTER 100\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(d.log(), Vec::<String>::new());
    let mut off = Notifier::disabled();
    off.transition(Subject::Group, "G1", NotifyState::Fault, 0);
    assert_eq!(off.count(Subject::Group, "G1", NotifyState::Fault), 1);
}

#[test]
fn an_unknown_user_is_a_clear_error() {
    let cfg = config(
        "",
        &instance("VI_1", 1, "notify_master /bin/true no-such-user-vrrp"),
    );
    let err = Notifier::new(&cfg).unwrap_err();
    assert!(matches!(
        err,
        NotifyError::Command {
            keyword: "notify_master",
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.starts_with("test.conf:"), "{msg}");
    assert!(
        msg.contains("`notify_master` of vrrp_instance VI_1") && msg.contains("no-such-user-vrrp"),
        "{msg}"
    );
}

#[test]
fn fifo_ownership() {
    let d = Dir::new();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // Created for its user.
    let made = d.path("made.fifo");
    let cfg = config(
        &format!("vrrp_notify_fifo {} nobody", made.display()),
        &instance("VI_1", 1, ""),
    );
    let n = Notifier::new(&cfg).unwrap();
    let meta = fs::metadata(&made).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (nobody.uid.as_raw(), nobody.gid.as_raw())
    );
    drop(n);
    // Someone else's FIFO: refused unless it is the FIFO's user.
    let theirs = d.path("theirs.fifo");
    nix::unistd::mkfifo(&theirs, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    nix::unistd::chown(&theirs, Some(nobody.uid), None).unwrap();
    let refused = config(
        &format!("notify_fifo {}", theirs.display()),
        &instance("VI_1", 1, ""),
    );
    let err = Notifier::new(&refused).unwrap_err();
    assert!(err.to_string().contains("owned by uid"), "{err}");
    let accepted = config(
        &format!("notify_fifo {} nobody", theirs.display()),
        &instance("VI_1", 1, ""),
    );
    assert!(Notifier::new(&accepted).is_ok());
}

#[test]
fn fifo_errors() {
    let d = Dir::new();
    // A regular file where the FIFO should be.
    let file = d.path("file");
    fs::write(&file, "").unwrap();
    let cfg = config(
        &format!("vrrp_notify_fifo {}", file.display()),
        &instance("VI_1", 1, ""),
    );
    let err = Notifier::new(&cfg).unwrap_err();
    assert!(err.to_string().contains("not a FIFO"), "{err}");
    // A directory that does not exist.
    let cfg = config(
        &format!("notify_fifo {}", d.path("no/such.fifo").display()),
        &instance("VI_1", 1, ""),
    );
    let err = Notifier::new(&cfg).unwrap_err();
    assert!(err.to_string().contains("cannot create"), "{err}");
    // Both keywords on one FIFO.
    let same = d.path("same.fifo");
    let cfg = config(
        &format!("notify_fifo {0}\nvrrp_notify_fifo {0}", same.display()),
        &instance("VI_1", 1, ""),
    );
    assert!(matches!(
        Notifier::new(&cfg),
        Err(NotifyError::SameFifo { .. })
    ));
    assert!(!same.exists());
}

#[test]
fn words_and_lines() {
    assert_eq!(Subject::Instance.to_string(), "INSTANCE");
    assert_eq!(Subject::Group.to_string(), "GROUP");
    let words: Vec<String> = [
        NotifyState::Master,
        NotifyState::Backup,
        NotifyState::Fault,
        NotifyState::Stop,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(words, ["MASTER", "BACKUP", "FAULT", "STOP"]);
    assert_eq!(
        fifo_line(Subject::Instance, "VI_1", NotifyState::Master, 100),
        "INSTANCE \"VI_1\" MASTER 100\n"
    );
}

#[test]
fn commands_are_listed_for_security_checks() {
    let cfg = config(
        "",
        &instance(
            "VI_1",
            1,
            "notify_master \"/bin/echo up\"\nnotify \"/bin/echo any\"",
        ),
    );
    let n = Notifier::new(&cfg).unwrap();
    let mut listed: Vec<_> = n
        .commands()
        .map(|(s, name, kw, c)| (s, name.to_string(), kw, c.program().to_path_buf()))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            (
                Subject::Instance,
                "VI_1".into(),
                "notify",
                PathBuf::from("/bin/echo")
            ),
            (
                Subject::Instance,
                "VI_1".into(),
                "notify_master",
                PathBuf::from("/bin/echo")
            ),
        ]
    );
}
