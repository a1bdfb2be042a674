//! keepalived's dump files, side by side: our agent (Master, priority 150) and keepalived
//! 2.2.7 (Backup, priority 100) run the same instance across a veth pair; both get SIGUSR1,
//! SIGUSR2 and SIGRTMIN+2, each with a TMPDIR of its own, and their files are compared
//! section by section: the same keys in the same order and indentation, and values that
//! agree (VRID, interval, VIPs, versions; keepalived's Master router is our address and
//! priority).
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use vrrp_tests::{agent_bin, pin_dir, wait_for, Proc, TempDir, VethPair};

const VIP: &str = "198.18.0.100";
const LIMIT: Duration = Duration::from_secs(20);

fn conf(iface: &str, priority: u8) -> String {
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\nvrrp_script chk {{\n    script \"/usr/bin/true\"\n    \
         interval 1\n    weight -20\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    \
         interface {iface}\n    virtual_router_id 81\n    priority {priority}\n    \
         advert_int 0.1\n    virtual_ipaddress {{\n        {VIP}/32\n    }}\n    \
         track_script {{\n        chk\n    }}\n}}\n"
    )
}

/// The VRRP Topology section of a `.data` file (keepalived writes other sections too).
fn topology(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "------< VRRP Topology >------")
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("------<"))
        .map(|(_, l)| l.to_string())
        .collect()
}

/// A line's key: before ` = `; a list item (5 spaces in) is just an item, its text is
/// compared apart.
fn key(line: &str) -> String {
    if line.starts_with("     ") {
        return "     ITEM".into();
    }
    line.split(" = ").next().unwrap_or(line).to_string()
}

fn value<'a>(lines: &'a [String], k: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(k)?.strip_prefix(" = "))
        .unwrap_or_else(|| panic!("no {k:?} in:\n{}", lines.join("\n")))
}

/// Sends `sig` to `pid` and waits until `dir/name` is complete (`done` says so).
fn dump(pid: u32, sig: i32, dir: &Path, name: &str, done: impl Fn(&str) -> bool) -> String {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    // SAFETY: kill(2) with a pid we started.
    unsafe { libc::kill(pid as i32, sig) };
    wait_for(LIMIT, || {
        let t = std::fs::read_to_string(&path).ok()?;
        done(&t).then_some(t)
    })
    .unwrap_or_else(|| panic!("no complete {} after signal {sig}", path.display()))
}

#[test]
fn our_dumps_have_keepalived_layout_and_agree_with_keepalived_about_the_lab() {
    let vp = VethPair::new("pkd").unwrap();
    let dir = TempDir::new("vrrp-pkd").unwrap();
    let (ours_tmp, theirs_tmp) = (dir.path().join("agent"), dir.path().join("keepalived"));
    std::fs::create_dir_all(&ours_tmp).unwrap();
    std::fs::create_dir_all(&theirs_tmp).unwrap();

    // keepalived on B, Backup.
    let ka_conf = dir.path().join("ka.conf");
    std::fs::write(&ka_conf, conf(&vp.b_if, 100)).unwrap();
    let vrrp_pid_file = dir.path().join("ka-vrrp.pid");
    let mut ka_cmd = Command::new("ip");
    ka_cmd
        .args([
            "netns",
            "exec",
            vp.b.name(),
            "keepalived",
            "-n",
            "-l",
            "-P",
            "-f",
        ])
        .arg(&ka_conf)
        .arg("-p")
        .arg(dir.path().join("ka.pid"))
        .arg("-r")
        .arg(&vrrp_pid_file)
        .env("TMPDIR", &theirs_tmp);
    let mut ka = Proc::spawn("keepalived", &mut ka_cmd, &dir.path().join("ka.log")).unwrap();
    ka.wait_log("Entering BACKUP STATE", LIMIT).unwrap();

    // Our agent on A, priority 150: it takes over.
    let agent_conf = dir.path().join("agent.conf");
    std::fs::write(&agent_conf, conf(&vp.a_if, 150)).unwrap();
    let pins = pin_dir("pkd");
    let mut cmd = vp.a.command(agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(&agent_conf)
        .arg("--pin-dir")
        .arg(&*pins)
        .env("RUST_LOG", "info")
        .env("TMPDIR", &ours_tmp);
    let mut agent = Proc::spawn("agent", &mut cmd, &dir.path().join("agent.log")).unwrap();
    agent.wait_log("VIPs added", LIMIT).unwrap();
    // keepalived has heard our adverts: its last state is BACKUP (alone at first, it may
    // have become Master before we started).
    wait_for(LIMIT, || {
        let log = ka.log_text();
        let last = log.lines().rev().find(|l| l.contains("Entering "))?;
        last.contains("Entering BACKUP STATE").then_some(())
    })
    .unwrap_or_else(|| panic!("keepalived is not Backup:\n{}", ka.log_text()));
    std::thread::sleep(Duration::from_millis(500));

    let ka_pid: u32 = wait_for(LIMIT, || {
        std::fs::read_to_string(&vrrp_pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    })
    .expect("keepalived's VRRP pid file");
    let our_pid = agent.pid();

    // ---- keepalived.data
    let data_done = |t: &str| t.contains("------< VRRP Topology >------") && t.ends_with('\n');
    let ours_data = dump(
        our_pid,
        libc::SIGUSR1,
        &ours_tmp,
        "keepalived.data",
        data_done,
    );
    let theirs_data = dump(ka_pid, libc::SIGUSR1, &theirs_tmp, "keepalived.data", |t| {
        t.contains("------< Interfaces >------")
    });
    let ours = topology(&ours_data);
    let theirs = topology(&theirs_data);
    assert!(ours.len() > 30, "{ours_data}");
    // Lines only a Backup writes (its Master) and keepalived's socket fds (XDP receives
    // here) are the only difference in keys.
    let backup_only = [
        "   Master router",
        "   Master priority",
        "   Master advert int",
        "   Master advert interval",
    ];
    let theirs_keys: Vec<String> = theirs
        .iter()
        .filter(|l| !l.starts_with("   fd_in "))
        .map(|l| key(l))
        .filter(|k| !backup_only.contains(&k.as_str()))
        .collect();
    let ours_keys: Vec<String> = ours.iter().map(|l| key(l)).collect();
    assert_eq!(
        ours_keys,
        theirs_keys,
        "ours:\n{}\n\nkeepalived's:\n{}",
        ours.join("\n"),
        theirs.join("\n")
    );
    // Values.
    assert_eq!(value(&ours, "   State"), "MASTER");
    assert_eq!(value(&theirs, "   State"), "BACKUP");
    assert_eq!(value(&theirs, "   Master router"), "198.18.0.1");
    assert_eq!(value(&theirs, "   Master priority"), "150");
    assert_eq!(value(&ours, "   Priority"), "150");
    assert_eq!(value(&ours, "   Effective priority"), "150");
    assert_eq!(value(&ours, "   Using src_ip"), "198.18.0.1");
    assert_eq!(value(&theirs, "   Using src_ip"), "198.18.0.2");
    assert_eq!(value(&ours, "   Interface"), vp.a_if);
    assert_eq!(value(&theirs, "   Interface"), vp.b_if);
    for k in [
        " VRRP Instance",
        "   VRRP Version",
        "   Virtual Router ID",
        "   Advert interval",
        "   Accept",
        "   Preempt",
        "   Gratuitous ARP delay",
        "   Gratuitous ARP repeat",
        "   Gratuitous ARP refresh",
        "   Down timer adverts",
        "   Notify deleted",
    ] {
        assert_eq!(value(&ours, k), value(&theirs, k), "{k}");
    }
    let vip_line = |lines: &[String]| {
        let at = lines
            .iter()
            .position(|l| l == "   Virtual IP (1):")
            .expect("Virtual IP (1):");
        lines[at + 1].clone()
    };
    assert_eq!(
        vip_line(&ours),
        format!("     {VIP} dev {} scope global set", vp.a_if)
    );
    assert_eq!(
        vip_line(&theirs),
        format!("     {VIP} dev {} scope global", vp.b_if)
    );
    let tracked = |lines: &[String]| {
        let at = lines
            .iter()
            .position(|l| l == "   Tracked scripts :")
            .expect("Tracked scripts :");
        lines[at + 1].clone()
    };
    assert_eq!(tracked(&ours), tracked(&theirs));
    // Master_Down_Interval: keepalived's Backup computes it for priority 100, ours is for
    // 150 (3 x 100 ms + skew).
    assert_eq!(value(&ours, "   Master down timer"), "341406 usecs");
    assert_eq!(value(&theirs, "   Master down timer"), "360937 usecs");

    // ---- keepalived.stats
    let stats_done = |t: &str| t.matches("Sent:").count() >= 2;
    let ours_stats = dump(
        our_pid,
        libc::SIGUSR2,
        &ours_tmp,
        "keepalived.stats",
        stats_done,
    );
    let theirs_stats = dump(
        ka_pid,
        libc::SIGUSR2,
        &theirs_tmp,
        "keepalived.stats",
        stats_done,
    );
    let shape = |t: &str| {
        t.lines()
            .map(|l| l.trim_end_matches(|c: char| c.is_ascii_digit()).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(&ours_stats),
        shape(&theirs_stats),
        "{ours_stats}\n{theirs_stats}"
    );
    let stat = |t: &str, section: &str, k: &str| -> u64 {
        let mut in_section = section.is_empty();
        for l in t.lines() {
            if l.trim_end() == format!("  {section}:") {
                in_section = true;
                continue;
            }
            if in_section {
                if let Some(v) = l.trim().strip_prefix(&format!("{k}: ")) {
                    return v.parse().unwrap();
                }
            }
        }
        panic!("no {section}/{k} in {t}")
    };
    assert!(
        stat(&ours_stats, "Advertisements", "Sent") > 0,
        "{ours_stats}"
    );
    assert!(
        stat(&theirs_stats, "Advertisements", "Received") > 0,
        "{theirs_stats}"
    );
    assert_eq!(stat(&ours_stats, "", "Became master"), 1);
    // keepalived, alone at first, may have been Master before we preempted it.
    assert_eq!(
        stat(&theirs_stats, "", "Became master"),
        stat(&theirs_stats, "", "Released master")
    );

    // ---- keepalived.json (SIGRTMIN+2)
    let json_done = |t: &str| serde_json::from_str::<serde_json::Value>(t).is_ok();
    let sig = libc::SIGRTMIN() + 2;
    let ours_json: serde_json::Value =
        serde_json::from_str(&dump(our_pid, sig, &ours_tmp, "keepalived.json", json_done)).unwrap();
    let theirs_json: serde_json::Value = serde_json::from_str(&dump(
        ka_pid,
        sig,
        &theirs_tmp,
        "keepalived.json",
        json_done,
    ))
    .unwrap();
    let keys = |v: &serde_json::Value, part: &str| -> BTreeSet<String> {
        v[0][part]
            .as_object()
            .unwrap_or_else(|| panic!("no {part} in {v}"))
            .keys()
            .cloned()
            .collect()
    };
    for part in ["data", "stats"] {
        assert_eq!(keys(&ours_json, part), keys(&theirs_json, part), "{part}");
    }
    let (o, t) = (&ours_json[0]["data"], &theirs_json[0]["data"]);
    assert_eq!(o["state"], 2);
    assert_eq!(t["state"], 1);
    assert_eq!(t["master_priority"], 150);
    for k in [
        "iname",
        "vrid",
        "version",
        "adver_int",
        "garp_delay",
        "nopreempt",
        "accept",
        "track_script",
    ] {
        assert_eq!(o[k], t[k], "{k}");
    }
    assert_eq!(o["base_priority"], 150);
    assert_eq!(t["base_priority"], 100);
    assert_eq!(o["vipset"], true);
    assert_eq!(t["vipset"], false);
    assert_eq!(
        o["vips"][0],
        format!("{VIP} dev {} scope global set", vp.a_if)
    );
    assert_eq!(t["vips"][0], format!("{VIP} dev {} scope global", vp.b_if));

    // The files are private and nothing temporary is left behind.
    use std::os::unix::fs::PermissionsExt;
    let files: Vec<PathBuf> = std::fs::read_dir(&ours_tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    agent.signal(libc::SIGTERM);
    assert!(agent.wait_timeout(LIMIT).is_some_and(|s| s.success()));
    drop(pins);

    // ---- The other way round: keepalived Master, our agent (priority 50) Backup. Our
    // Backup's .data has keepalived's Backup keys, all of them, and names keepalived as its
    // Master.
    wait_for(LIMIT, || {
        let log = ka.log_text();
        let last = log.lines().rev().find(|l| l.contains("Entering "))?;
        last.contains("Entering MASTER STATE").then_some(())
    })
    .unwrap_or_else(|| panic!("keepalived did not take over:\n{}", ka.log_text()));
    std::fs::write(&agent_conf, conf(&vp.a_if, 50)).unwrap();
    let pins = pin_dir("pkd2");
    let mut cmd = vp.a.command(agent_bin().unwrap());
    cmd.arg("run")
        .arg("-f")
        .arg(&agent_conf)
        .arg("--pin-dir")
        .arg(&*pins)
        .env("RUST_LOG", "info")
        .env("TMPDIR", &ours_tmp);
    let mut backup = Proc::spawn("backup", &mut cmd, &dir.path().join("backup.log")).unwrap();
    backup.wait_log("instance ready", LIMIT).unwrap();
    // Until it has heard keepalived (a Backup names its Master only then).
    let ours = wait_for(LIMIT, || {
        let text = dump(
            backup.pid(),
            libc::SIGUSR1,
            &ours_tmp,
            "keepalived.data",
            data_done,
        );
        let lines = topology(&text);
        lines
            .iter()
            .any(|l| l == "   Master router = 198.18.0.2")
            .then_some(lines)
    })
    .unwrap_or_else(|| panic!("our Backup never named keepalived:\n{}", backup.log_text()));
    let ours_keys: Vec<String> = ours.iter().map(|l| key(l)).collect();
    let theirs_keys: Vec<String> = theirs
        .iter()
        .filter(|l| !l.starts_with("   fd_in "))
        .map(|l| key(l))
        .collect();
    assert_eq!(ours_keys, theirs_keys, "ours:\n{}", ours.join("\n"));
    assert_eq!(value(&ours, "   State"), "BACKUP");
    assert_eq!(value(&ours, "   Master priority"), "100");
    assert_eq!(value(&ours, "   Master advert int"), "0.10 sec");
    assert_eq!(value(&ours, "   Master advert interval"), "100 milli-sec");
    assert_eq!(
        vip_line(&ours),
        format!("     {VIP} dev {} scope global", vp.a_if)
    );
    let json: serde_json::Value = serde_json::from_str(&dump(
        backup.pid(),
        libc::SIGRTMIN() + 2,
        &ours_tmp,
        "keepalived.json",
        json_done,
    ))
    .unwrap();
    assert_eq!(json[0]["data"]["state"], 1);
    assert_eq!(json[0]["data"]["master_priority"], 100);
    backup.signal(libc::SIGTERM);
    assert!(backup.wait_timeout(LIMIT).is_some_and(|s| s.success()));
}
