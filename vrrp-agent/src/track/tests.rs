//! Monitors end to end: real scripts and files in temp dirs feeding a `Tracking`.
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::sync::mpsc;

use super::*;

fn config(text: &str) -> Config {
    match crate::config::parse_str(text, Path::new("test.conf")) {
        Ok(l) => l.config,
        Err(e) => panic!("{e}"),
    }
}

/// A root-owned 0755 temp dir holding `name` (0755) with `body`.
fn script_in(dir: &Path, name: &str, body: &str) -> PathBuf {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<TrackEvent>) -> TrackEvent {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(ev)) => ev,
        other => panic!("no event: {other:?}"),
    }
}

/// Applies events until `instance`'s status satisfies `ok` (bounded).
async fn until(
    t: &mut Tracking,
    rx: &mut mpsc::UnboundedReceiver<TrackEvent>,
    instance: &str,
    ok: impl Fn(&TrackStatus) -> bool,
) -> TrackStatus {
    for _ in 0..50 {
        let s = t.status(instance);
        if ok(&s) {
            return s;
        }
        let ev = recv(rx).await;
        t.apply(&ev);
    }
    panic!(
        "{instance} never reached the wanted status: {:?}",
        t.status(instance)
    );
}

#[tokio::test]
async fn scripts_and_files_drive_the_status() {
    let d = tempfile::tempdir().unwrap();
    let flag = d.path().join("healthy");
    let chk = script_in(d.path(), "chk.sh", &format!("test -e {}", flag.display()));
    let down = d.path().join("down");
    let ww_dir = d.path().join("ww");
    fs::create_dir(&ww_dir).unwrap();
    fs::set_permissions(&ww_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let ww = ww_dir.join("chk.sh");
    fs::write(&ww, "#!/bin/sh\nexit 1\n").unwrap();
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o755)).unwrap();
    let c = config(&format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\n\
         vrrp_script chk {{\n script {chk}\n interval 0.05\n timeout 5\n weight 20\n}}\n\
         vrrp_script insecure {{\n script {ww}\n interval 0.05\n}}\n\
         vrrp_track_file down {{\n file {down}\n weight 0\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_script {{\n chk\n insecure\n }}\n \
         track_file {{\n down\n }}\n}}\n",
        chk = chk.display(),
        ww = ww.display(),
        down = down.display(),
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let monitors = Monitors::start(&c, tx).unwrap();
    // The insecure script is refused, as keepalived refuses it.
    assert_eq!(monitors.refused().len(), 1, "{:?}", monitors.refused());
    let r = &monitors.refused()[0];
    assert_eq!((r.kind, r.name.as_str()), (Refused::Script, "insecure"));
    assert!(r.reason.contains("everyone"), "{}", r.reason);

    let mut t = Tracking::new(&c);
    // Not run yet: the unweighted insecure script would hold VI_1 pending; refused, it
    // counts for nothing.
    assert!(t.status("VI_1").pending.is_some());
    assert_eq!(monitors.apply_refusals(&mut t), ["VI_1"]);
    assert_eq!(t.status("VI_1"), TrackStatus::default());
    // The file's value was sent before start returned.
    assert_eq!(
        rx.try_recv().unwrap(),
        TrackEvent::File {
            name: "down".into(),
            value: 0
        }
    );

    // chk fails (no flag) then succeeds: +20.
    fs::write(&flag, "").unwrap();
    let s = until(&mut t, &mut rx, "VI_1", |s| s.delta == 20).await;
    assert_eq!(effective_priority(100, &s), 120);
    // Manual failover: a non-zero value in the file puts VI_1 in FAULT.
    fs::write(&down, "1\n").unwrap();
    let s = until(&mut t, &mut rx, "VI_1", |s| s.fault.is_some()).await;
    assert!(s.fault.unwrap().contains("track_file down holds 1"));
    fs::remove_file(&down).unwrap();
    until(&mut t, &mut rx, "VI_1", |s| s.fault.is_none()).await;
    // The check fails again: the weight goes.
    fs::remove_file(&flag).unwrap();
    until(&mut t, &mut rx, "VI_1", |s| s.delta == 0).await;
}

#[tokio::test]
async fn dropping_monitors_kills_running_scripts() {
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("pid");
    let hang = script_in(
        d.path(),
        "hang.sh",
        &format!("sleep 30 &\necho $! > {}\nwait", pidfile.display()),
    );
    let c = config(&format!(
        "vrrp_script hang {{\n script {}\n interval 20\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_script {{\n hang\n }}\n}}\n",
        hang.display()
    ));
    let (tx, _rx) = mpsc::unbounded_channel();
    let monitors = Monitors::start(&c, tx).unwrap();
    let mut pid = None;
    for _ in 0..500 {
        if let Some(p) = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = pid.expect("the script never started");
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
        "the script's child is running"
    );
    drop(monitors);
    assert!(
        super::test_util::gone(pid).await,
        "the script's child {pid} survived dropping the monitors"
    );
}

#[tokio::test]
async fn restart_after_reload() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    let text = format!(
        "vrrp_track_file f {{\n file {}\n init_file 5 overwrite\n}}\n\
         vrrp_script ok {{\n script /bin/true\n interval 0.05\n timeout 5\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_file {{\n f\n }}\n track_script {{\n ok\n \
         }}\n}}\n",
        f.display()
    );
    let c = config(&text);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = Monitors::start(&c, tx.clone()).unwrap();
    assert_eq!(fs::read_to_string(&f).unwrap(), "5\n");
    fs::write(&f, "7\n").unwrap();
    let second = first.reload(&c, tx).unwrap();
    // Not overwritten on reload.
    assert_eq!(fs::read_to_string(&f).unwrap(), "7\n");
    assert!(second.refused().is_empty());
    // The new monitors work: the file's value and script results arrive.
    let mut saw_file = false;
    let mut saw_script = false;
    for _ in 0..20 {
        match recv(&mut rx).await {
            TrackEvent::File { value: 7, .. } => saw_file = true,
            TrackEvent::Script { success: true, .. } => saw_script = true,
            _ => {}
        }
        if saw_file && saw_script {
            break;
        }
    }
    assert!(saw_file && saw_script);
}

#[test]
fn start_needs_a_runtime() {
    let c = config(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress { 198.18.0.1 }\n}\n",
    );
    let (tx, _rx) = mpsc::unbounded_channel();
    assert!(matches!(
        Monitors::start(&c, tx),
        Err(TrackError::NoRuntime(_))
    ));
}

#[tokio::test]
async fn missing_script_and_track_file_directory_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let c = config(&format!(
        "vrrp_script gone {{\n script {}/nope.sh\n}}\n\
         vrrp_track_file f {{\n file {}/no/dir/f\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_script {{\n gone\n }}\n track_file {{\n f \
         weight 0 reverse\n }}\n}}\n",
        d.path().display(),
        d.path().display()
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let m = Monitors::start(&c, tx).unwrap();
    let kinds: Vec<(Refused, &str)> = m
        .refused()
        .iter()
        .map(|r| (r.kind, r.name.as_str()))
        .collect();
    assert_eq!(kinds, [(Refused::Script, "gone"), (Refused::File, "f")]);
    let mut t = Tracking::new(&c);
    // Before: pending (script) and FAULT (a missing file reads 0, reverse); after: nothing.
    assert!(t.status("VI_1").fault.is_some());
    m.apply_refusals(&mut t);
    assert_eq!(t.status("VI_1"), TrackStatus::default());
    assert!(rx.try_recv().is_err(), "nothing is monitored");
}

/// Lines in `path` (0 if missing).
fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

async fn wait_lines(path: &Path, n: usize) {
    for _ in 0..500 {
        if lines(path) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never reached {n} lines", path.display());
}

#[tokio::test]
async fn runs_of_a_script_never_overlap_across_a_reload() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("runs");
    let pidf = d.path().join("pid");
    let overlap = d.path().join("overlap");
    // Each run notes whether the previous run is still alive, then hangs.
    let hang = script_in(
        d.path(),
        "hang.sh",
        &format!(
            "old=$(cat {pidf} 2>/dev/null)\n\
             if [ -n \"$old\" ] && [ -e /proc/$old ] && ! grep -q ') Z ' /proc/$old/stat; then \
             touch {overlap}; fi\n\
             echo $$ > {pidf}\necho run >> {log}\nsleep 30",
            pidf = pidf.display(),
            overlap = overlap.display(),
            log = log.display()
        ),
    );
    let c = config(&format!(
        "vrrp_script hang {{\n script {}\n interval 20\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {{ 198.18.0.1 }}\n track_script {{\n hang\n }}\n}}\n",
        hang.display()
    ));
    let (tx, _rx) = mpsc::unbounded_channel();
    let first = Monitors::start(&c, tx.clone()).unwrap();
    wait_lines(&log, 1).await;
    // Monitors sharing the old ones' locks while those still run: they wait.
    let second = Monitors::start_inner(&c, tx.clone(), Some(first.locks.clone())).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lines(&log),
        1,
        "a second run started while the first one ran"
    );
    drop(first);
    wait_lines(&log, 2).await;
    // And through `reload`.
    let third = second.reload(&c, tx).unwrap();
    wait_lines(&log, 3).await;
    drop(third);
    assert!(!overlap.exists(), "two runs of the script overlapped");
}
