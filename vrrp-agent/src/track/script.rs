//! One task per tracked `vrrp_script`: runs it every `interval`, sends each raw result.
//!
//! keepalived (vrrp_scheduler.c, `vrrp_init_script` / `vrrp_script_thread` /
//! `vrrp_script_child_thread`): the first run starts at once; then one run per `interval`,
//! never two at a time ("Track script %s is already running, expect idle - skipping run");
//! a run that lasts longer than `timeout` (default: the interval) is killed and counts as a
//! failure, as does a non-zero exit, a signal, or a program that cannot be started.
//!
//! Here the runs of a script are one loop, so they cannot overlap; the next run starts
//! `interval` after the previous one started, or as soon as it ended when it overran (no
//! burst of catch-up runs). A timed-out run's whole process group gets SIGKILL at once
//! (keepalived sends SIGTERM, then SIGKILL 2 s later): see [`crate::process::run`].
use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc::UnboundedSender, Mutex},
    time::Instant,
};

use crate::{
    config::{GlobalDefs, VrrpScript},
    process::{self, Command, Outcome},
};

use super::{security, TrackEvent};

/// A script ready to run: its command line parsed and its user resolved and vetted.
#[derive(Debug)]
pub(super) struct Prepared {
    pub name: String,
    pub cmd: Command,
    pub interval: Duration,
    pub timeout: Duration,
    /// Runs as root with a path a non-root user could change, allowed because
    /// `enable_script_security` is off (keepalived warns and runs it).
    pub insecure: Option<security::SecurityError>,
}

/// Why a script is not run (keepalived disables it and removes it from every track_script).
#[derive(Debug, thiserror::Error)]
pub enum ScriptRefusal {
    #[error("cannot run `{command}`: {error}")]
    Command {
        command: String,
        error: crate::process::ProcessError,
    },
    #[error(transparent)]
    Security(#[from] security::SecurityError),
}

/// Parses the command line, resolves the user and checks the program as keepalived does.
pub(super) fn prepare(script: &VrrpScript, global: &GlobalDefs) -> Result<Prepared, ScriptRefusal> {
    let user = security::script_user(global, script.user.as_ref())?;
    let cmd = Command::parse(
        &script.script,
        user.as_ref().map(|(u, g)| (u.as_str(), g.as_deref())),
    )
    .map_err(|error| ScriptRefusal::Command {
        command: script.script.clone(),
        error,
    })?;
    let insecure = match security::check_command(&cmd) {
        Ok(()) => None,
        Err(e) if e.refuses(global.enable_script_security) => return Err(e.into()),
        Err(e) => Some(e),
    };
    Ok(Prepared {
        name: script.name.clone(),
        cmd,
        interval: script.interval,
        // keepalived: `vscript->timeout ? vscript->timeout : vscript->interval`.
        timeout: script.timeout.unwrap_or(script.interval),
        insecure,
    })
}

/// What the monitors of one script share across a reload: held during each run, with the
/// leader of the run in progress (see [`process::run_exclusive`]).
pub(super) type RunLock = Arc<Mutex<Option<nix::unistd::Pid>>>;

/// Runs `p` forever (until the task is dropped or nobody listens), one run at a time. `lock`
/// is held during each run: the monitors of a reload share it with the old ones.
pub(super) async fn monitor(p: Prepared, tx: UnboundedSender<TrackEvent>, lock: RunLock) {
    let mut last: Option<Outcome> = None;
    loop {
        let mut running = lock.lock().await;
        let started = Instant::now();
        // A run cancelled by a reload leaves its killed leader in the slot; this one starts
        // once that process is gone.
        let outcome = process::run_exclusive(&p.cmd, Some(p.timeout), &mut running).await;
        drop(running);
        let success = outcome.success();
        let result = match outcome {
            _ if success => crate::metrics::RunResult::Success,
            Outcome::TimedOut => crate::metrics::RunResult::Timeout,
            _ => crate::metrics::RunResult::Failure,
        };
        crate::metrics::instruments().script_run(&p.name, started.elapsed(), result);
        if last.as_ref() != Some(&outcome) {
            // keepalived: "Script `%s` now returning %d".
            if success {
                tracing::info!(script = %p.name, outcome = %outcome, "vrrp_script now succeeding");
            } else {
                tracing::info!(script = %p.name, outcome = %outcome, command = %p.cmd,
                    "vrrp_script now failing");
            }
        } else {
            tracing::debug!(script = %p.name, outcome = %outcome, "vrrp_script ran");
        }
        last = Some(outcome);
        let event = TrackEvent::Script {
            name: p.name.clone(),
            success,
        };
        if tx.send(event).is_err() {
            return;
        }
        // `interval` after the start; right away after an overrun, never a burst.
        tokio::time::sleep_until((started + p.interval).max(Instant::now())).await;
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::PermissionsExt, path::Path};

    use tokio::sync::mpsc;

    use super::*;

    fn vrrp_script(
        name: &str,
        line: &str,
        interval_ms: u64,
        timeout_ms: Option<u64>,
    ) -> VrrpScript {
        VrrpScript {
            name: name.into(),
            location: crate::config::Location {
                file: std::path::PathBuf::new(),
                line: 0,
                column: 0,
            },
            script: line.into(),
            interval: Duration::from_millis(interval_ms),
            timeout: timeout_ms.map(Duration::from_millis),
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
        }
    }

    fn write_script(dir: &Path, name: &str, body: &str) -> String {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        let p = dir.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p.to_str().unwrap().to_string()
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<TrackEvent>) -> bool {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(TrackEvent::Script { success, .. })) => success,
            other => panic!("no script result: {other:?}"),
        }
    }

    #[test]
    fn default_timeout_is_the_interval() {
        let s = vrrp_script("s", "/bin/true", 700, None);
        let p = prepare(&s, &GlobalDefs::default()).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(700));
        assert!(p.insecure.is_none());
        let s = vrrp_script("s", "/bin/true", 700, Some(200));
        assert_eq!(
            prepare(&s, &GlobalDefs::default()).unwrap().timeout,
            Duration::from_millis(200)
        );
    }

    #[test]
    fn refusals() {
        let g = GlobalDefs::default();
        let missing = vrrp_script("m", "/nonexistent/check.sh", 1000, None);
        assert!(matches!(
            prepare(&missing, &g),
            Err(ScriptRefusal::Security(
                security::SecurityError::NotFound { .. }
            ))
        ));
        let mut bad_user = vrrp_script("u", "/bin/true", 1000, None);
        bad_user.user = Some(("no-such-user-x".into(), None));
        assert!(matches!(
            prepare(&bad_user, &g),
            Err(ScriptRefusal::Command { .. })
        ));

        let d = tempfile::tempdir().unwrap();
        let line = write_script(d.path(), "ww.sh", "exit 0");
        fs::set_permissions(&line, fs::Permissions::from_mode(0o777)).unwrap();
        let ww = vrrp_script("ww", &line, 1000, None);
        // Without enable_script_security: runs, flagged insecure (keepalived warns).
        assert!(prepare(&ww, &g).unwrap().insecure.is_some());
        let secure = GlobalDefs {
            enable_script_security: true,
            script_user: Some(("root".into(), None)),
            ..GlobalDefs::default()
        };
        let e = prepare(&ww, &secure).unwrap_err();
        assert!(e.to_string().contains("ww.sh"), "{e}");
        // As a non-root user the path does not matter.
        let mut as_nobody = ww.clone();
        as_nobody.user = Some(("nobody".into(), None));
        assert!(prepare(&as_nobody, &secure).unwrap().insecure.is_none());
    }

    #[tokio::test]
    async fn reports_each_run() {
        let d = tempfile::tempdir().unwrap();
        let flag = d.path().join("ok");
        let line = write_script(d.path(), "chk.sh", &format!("test -e {}", flag.display()));
        // A long timeout: the default (the interval, 50 ms) can kill a run of a shell on a
        // busy machine, and a killed run is a failure.
        let p = prepare(
            &vrrp_script("chk", &line, 50, Some(5000)),
            &GlobalDefs::default(),
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(monitor(p, tx, Arc::default()));
        assert!(!next(&mut rx).await);
        fs::write(&flag, "").unwrap();
        // A run may have started before the file existed; one after it must succeed.
        let mut ok = false;
        for _ in 0..3 {
            ok |= next(&mut rx).await;
        }
        assert!(ok);
        task.abort();
    }

    #[tokio::test]
    async fn missing_program_at_run_time_is_a_failure() {
        let d = tempfile::tempdir().unwrap();
        let line = write_script(d.path(), "gone.sh", "exit 0");
        let p = prepare(
            &vrrp_script("gone", &line, 50, None),
            &GlobalDefs::default(),
        )
        .unwrap();
        fs::remove_file(&line).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(monitor(p, tx, Arc::default()));
        assert!(!next(&mut rx).await);
        task.abort();
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("child.pid");
        let line = write_script(
            d.path(),
            "hang.sh",
            &format!("sleep 30 &\necho $! > {}\nwait", pidfile.display()),
        );
        let p = prepare(
            &vrrp_script("hang", &line, 100, Some(200)),
            &GlobalDefs::default(),
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let t0 = std::time::Instant::now();
        let task = tokio::spawn(monitor(p, tx, Arc::default()));
        assert!(!next(&mut rx).await, "a timed-out run is a failure");
        // Many times the 0.2 s timeout, and far from the 30 s of the sleep.
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        task.abort();
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            super::super::test_util::gone(pid).await,
            "the script's child {pid} survived the timeout"
        );
    }

    #[tokio::test]
    async fn runs_never_overlap() {
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join("lock");
        let log = d.path().join("runs");
        let overlap = d.path().join("overlap");
        // Each run takes 150 ms, three times the interval.
        let line = write_script(
            d.path(),
            "slow.sh",
            &format!(
                "mkdir {lock} 2>/dev/null || {{ touch {overlap}; exit 1; }}\necho run >> {log}\n\
                 sleep 0.15\nrmdir {lock}",
                lock = lock.display(),
                log = log.display(),
                overlap = overlap.display()
            ),
        );
        let p = prepare(
            &vrrp_script("slow", &line, 50, Some(5000)),
            &GlobalDefs::default(),
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(monitor(p, tx, Arc::default()));
        for _ in 0..3 {
            assert!(
                next(&mut rx).await,
                "a run failed: overlap or lock left behind"
            );
        }
        task.abort();
        assert!(!overlap.exists(), "two runs of one script overlapped");
        assert_eq!(fs::read_to_string(&log).unwrap().lines().count(), 3);
    }

    #[tokio::test]
    async fn an_overrun_is_not_caught_up_with_a_burst() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("starts");
        let first = d.path().join("first");
        // The first run takes 1 s (twenty intervals); the others return at once.
        let line = write_script(
            d.path(),
            "once-slow.sh",
            &format!(
                "date +%s%N >> {log}\nif [ ! -e {first} ]; then touch {first}; sleep 1; fi",
                log = log.display(),
                first = first.display()
            ),
        );
        let p = prepare(
            &vrrp_script("once", &line, 50, Some(2000)),
            &GlobalDefs::default(),
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(monitor(p, tx, Arc::default()));
        for _ in 0..9 {
            next(&mut rx).await;
        }
        task.abort();
        let starts: Vec<u64> = fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert!(starts.len() >= 9);
        assert!(starts[1] - starts[0] >= 1_000_000_000, "{starts:?}");
        // After the overrun, runs keep the interval: the 8 runs after it span at least 7
        // intervals (350 ms) from their starts; a catch-up burst runs them back to back
        // (a few ms each). The times are `date`'s, a fork and two execs after each start,
        // which a busy machine delays by varying amounts: no single gap is a bound (one was
        // seen 35 ms apart on a loaded machine), and half the span (175 ms) allows the
        // first `date` of the span to be that much later than its start.
        let span = starts[8] - starts[1];
        assert!(
            span >= 175_000_000,
            "8 runs after an overrun within {} ms: {starts:?}",
            span / 1_000_000
        );
    }
}
