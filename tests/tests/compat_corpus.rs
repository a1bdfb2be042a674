//! keepalived 2.2.7 and `vrrp-agent check --compat` side by side on the corpus of
//! tests/configs/corpus/: realistic keepalived.conf files, each with a sidecar `NAME.expect`.
//!
//! For each file, in a network namespace (prefix `pp`) holding the interfaces the file names
//! (and with the scripts it references created): `keepalived -t -f FILE` and
//! `vrrp-agent check --compat -f FILE`, with the same config id when the sidecar gives one.
//! Asserted:
//! - keepalived's verdict is the sidecar's (`keepalived clean|warns|refuses`): clean is exit
//!   0; refuses is exit 4 or one of the [`REFUSALS`] messages (keepalived's exit code keeps
//!   the last kind of problem, not the worst); warns is anything else; and keepalived prints
//!   every `keepalived-says` text;
//! - where keepalived runs the file (clean or warns) we accept it, unless the sidecar says
//!   `usable no` with a `why` (keepalived reports an error and runs something else); where
//!   keepalived refuses it, we refuse it too;
//! - our compatibility findings (`finding CATEGORY FILE:LINE`) and errors (`error FILE:LINE`)
//!   are exactly the sidecar's.
//!
//! Sidecar lines: `interfaces IF...`, `config-id ID`, `scripts PATH...` (created as
//! executable scripts that exit 0), `keepalived ...`, `keepalived-says TEXT`, `usable yes|no`,
//! `why TEXT`, `finding CATEGORY FILE:LINE`, `error FILE:LINE`, `note TEXT` (free text, e.g.
//! which findings depend on keywords other branches add). `#` starts a comment line.
use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use vrrp_tests::{agent_bin, unique, Netns};

/// What keepalived 2.2.7 prints when it drops an instance or cannot start.
const REFUSALS: &[&str] = &[
    "at least one is required",
    "Unknown interface!",
    "the virtual router id must be set",
    "both use VRID",
    "Config files missing",
];

#[derive(Default, Debug)]
struct Expect {
    interfaces: Vec<String>,
    config_id: Option<String>,
    scripts: Vec<PathBuf>,
    keepalived: String,
    says: Vec<String>,
    usable: bool,
    why: Option<String>,
    findings: BTreeSet<String>,
    errors: BTreeSet<String>,
}

fn read_expect(path: &Path) -> Result<Expect> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut e = Expect::default();
    let mut usable = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match key {
            "interfaces" => e.interfaces = rest.split_whitespace().map(String::from).collect(),
            "config-id" => e.config_id = Some(rest.to_owned()),
            "scripts" => e.scripts = rest.split_whitespace().map(PathBuf::from).collect(),
            "keepalived" => e.keepalived = rest.to_owned(),
            "keepalived-says" => e.says.push(rest.to_owned()),
            "usable" => usable = Some(rest == "yes"),
            "why" => e.why = Some(rest.to_owned()),
            "finding" => {
                e.findings
                    .insert(rest.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            "error" => {
                e.errors.insert(rest.to_owned());
            }
            "note" => {}
            other => bail!(
                "{}:{}: unknown sidecar key `{other}`",
                path.display(),
                n + 1
            ),
        }
    }
    e.usable = usable.with_context(|| format!("{}: no `usable` line", path.display()))?;
    if !["clean", "warns", "refuses"].contains(&e.keepalived.as_str()) {
        bail!(
            "{}: `keepalived` must be clean, warns or refuses",
            path.display()
        );
    }
    Ok(e)
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/corpus")
}

/// `FILE:LINE:COL: severity: MESSAGE [category]` -> (category, "basename:line").
fn finding(line: &str) -> Option<(String, String)> {
    let (head, tail) = line.rsplit_once(" [")?;
    let category = tail.strip_suffix(']')?;
    let mut parts = head.splitn(4, ':');
    let file = parts.next()?;
    let line_no = parts.next()?;
    let base = Path::new(file).file_name()?.to_string_lossy().into_owned();
    Some((category.to_owned(), format!("{base}:{line_no}")))
}

/// Runs one corpus file; returns the list of disagreements (empty when all is as expected).
fn run_one(conf: &Path, agent: &Path) -> Result<Vec<String>> {
    let expect = read_expect(&conf.with_extension("expect"))?;
    let ns = Netns::new("ppc")?;
    for iface in &expect.interfaces {
        let peer = unique("ppv");
        ns.ip(&["link", "add", iface, "type", "veth", "peer", "name", &peer])?;
        ns.ip(&["link", "set", iface, "up"])?;
        ns.ip(&["link", "set", &peer, "up"])?;
    }
    for script in &expect.scripts {
        if let Some(dir) = script.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(script, "#!/bin/sh\nexit 0\n")?;
        fs::set_permissions(script, fs::Permissions::from_mode(0o755))?;
    }
    let conf_s = conf.to_string_lossy().into_owned();
    let mut k_args = vec!["-t", "-f", conf_s.as_str()];
    let mut a_args = vec!["check", "--compat", "-f", conf_s.as_str()];
    if let Some(id) = &expect.config_id {
        k_args.extend(["-i", id.as_str()]);
        a_args.extend(["--config-id", id.as_str()]);
    }
    let k = ns.output("keepalived", &k_args)?;
    let a = ns.output(&agent.to_string_lossy(), &a_args)?;
    let k_text = format!(
        "{}{}",
        String::from_utf8_lossy(&k.stdout),
        String::from_utf8_lossy(&k.stderr)
    );
    let a_out = String::from_utf8_lossy(&a.stdout).into_owned();
    let a_err = String::from_utf8_lossy(&a.stderr).into_owned();

    let mut bad = Vec::new();
    // keepalived's exit code keeps the last kind of problem reported, not the worst, so a
    // refusal is recognised by what keepalived says: each of these drops an instance or
    // stops keepalived.
    let refusal = REFUSALS.iter().find(|r| k_text.contains(*r));
    let k_verdict = match (k.status.code(), refusal) {
        (Some(0), _) => "clean",
        (Some(4), _) | (_, Some(_)) => "refuses",
        _ => "warns",
    };
    if k_verdict != expect.keepalived {
        bad.push(format!(
            "keepalived {k_verdict} (exit {:?}, refusal {refusal:?}), the sidecar says {}",
            k.status.code(),
            expect.keepalived
        ));
    }
    for s in &expect.says {
        if !k_text.contains(s.as_str()) {
            bad.push(format!("keepalived did not print `{s}`"));
        }
    }
    let usable = a.status.success();
    if usable != expect.usable {
        bad.push(format!(
            "vrrp-agent check: usable {usable}, the sidecar says {}",
            expect.usable
        ));
    }
    match (k_verdict, expect.usable) {
        ("refuses", true) => bad.push("keepalived refuses it: it must be an error for us".into()),
        ("clean", false) => bad.push("keepalived runs it cleanly: we must accept it".into()),
        ("warns", false) if expect.why.is_none() => {
            bad.push("keepalived runs it: refusing needs a `why` in the sidecar".into())
        }
        _ => {}
    }
    let mut findings = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for line in a_out.lines() {
        if let Some((category, at)) = finding(line) {
            if category == "refused" {
                errors.insert(at);
            } else {
                findings.insert(format!("{category} {at}"));
            }
        }
    }
    if findings != expect.findings {
        bad.push(format!(
            "findings differ:\n    only ours: {:?}\n    only the sidecar's: {:?}",
            findings.difference(&expect.findings).collect::<Vec<_>>(),
            expect.findings.difference(&findings).collect::<Vec<_>>()
        ));
    }
    if errors != expect.errors {
        bad.push(format!(
            "errors differ: ours {errors:?}, the sidecar's {:?}",
            expect.errors
        ));
    }
    if !bad.is_empty() {
        bad.push(format!(
            "--- keepalived -t:\n{k_text}--- vrrp-agent check --compat:\n{a_out}{a_err}"
        ));
    }
    Ok(bad)
}

#[test]
fn keepalived_and_vrrp_agent_agree_on_the_corpus() -> Result<()> {
    let agent = agent_bin()?;
    let mut confs: Vec<PathBuf> = fs::read_dir(corpus_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    confs.sort();
    assert!(confs.len() >= 20, "corpus too small: {}", confs.len());
    let mut report = Vec::new();
    let mut refused = 0;
    for conf in &confs {
        let expect = read_expect(&conf.with_extension("expect"))?;
        if expect.keepalived == "refuses" {
            refused += 1;
        }
        let bad = run_one(conf, &agent)?;
        if !bad.is_empty() {
            report.push(format!("{}:\n  {}", conf.display(), bad.join("\n  ")));
        }
    }
    // The positive control: the corpus holds files keepalived itself refuses.
    assert!(refused >= 2, "the corpus needs files keepalived refuses");
    assert!(report.is_empty(), "{}", report.join("\n\n"));
    Ok(())
}

/// The cloud pattern keepalived runs: VRRPv2 instances without `virtual_ipaddress`, unicast,
/// the notify script moving the address. The agent (priority 150) and keepalived (100) on
/// one LAN: the agent becomes Master and runs its notify_master; keepalived, started then,
/// receiving the agent's adverts (count 0), stays Backup although it would take over after
/// Master_Down_Interval (~3.6 s) without them; when the agent stops (priority 0), keepalived
/// takes over (the positive control that its transitions show in its log); then an agent of
/// lower priority stays Backup under keepalived's count-0 adverts.
#[test]
fn an_instance_without_addresses_runs_against_keepalived() -> Result<()> {
    use std::{net::Ipv4Addr, time::Duration};
    use vrrp_tests::{keepalived, start_agent, wait_for, Lan, TempDir};

    let dir = TempDir::new("ppnovip")?;
    let mut lan = Lan::new()?;
    let routers = [Ipv4Addr::new(198, 18, 5, 1), Ipv4Addr::new(198, 18, 5, 2)];
    let a = lan.add_host("ppa", routers[0])?;
    let k = lan.add_host("ppk", routers[1])?;
    let marker = dir.path().join("agent-master");
    let script = dir.path().join("notify.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", marker.display()),
    )?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
    let conf = |iface: &str, me: Ipv4Addr, peer: Ipv4Addr, priority: u8, notify: bool| {
        let notify = if notify {
            format!("    notify_master \"{} MASTER\"\n", script.display())
        } else {
            String::new()
        };
        format!(
            "global_defs {{\n    enable_script_security\n    script_user root\n}}\n\
             vrrp_instance CLOUD {{\n    state BACKUP\n    interface {iface}\n    \
             virtual_router_id 77\n    priority {priority}\n    advert_int 1\n    \
             unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n{notify}}}\n"
        )
    };
    let aa = conf(&lan.hosts[a].iface, routers[0], routers[1], 150, true);
    let mut agent = start_agent(&lan.hosts[a].ns, dir.path(), "ppa", &aa)?;
    agent
        .proc
        .wait_log("-> Master:", Duration::from_secs(10))
        .context("the agent did not become Master")?;
    let ka = conf(&lan.hosts[k].iface, routers[1], routers[0], 100, false);
    let mut kproc = keepalived(&lan.hosts[k].ns, dir.path(), "ppk", &ka)?;
    kproc
        .wait_log("Entering BACKUP STATE", Duration::from_secs(10))
        .context("keepalived did not start")?;
    assert!(
        wait_for(Duration::from_secs(5), || fs::read_to_string(&marker)
            .ok()
            .filter(|s| s.contains("MASTER")))
        .is_some(),
        "notify_master did not run"
    );
    // Three times keepalived's Master_Down_Interval with the agent advertising.
    std::thread::sleep(Duration::from_secs(6));
    let klog = kproc.log_text();
    assert!(
        klog.contains("Entering BACKUP STATE") && !klog.contains("Entering MASTER STATE"),
        "keepalived left Backup while the agent advertised:\n{klog}"
    );
    agent.proc.signal(libc::SIGTERM);
    kproc
        .wait_log("Entering MASTER STATE", Duration::from_secs(10))
        .context("keepalived did not take over when the agent stopped")?;
    let _ = agent.proc.wait_timeout(Duration::from_secs(5));
    // The other direction: an agent of lower priority receives keepalived's count-0 adverts
    // and stays Backup (without them it would take over after ~3.8 s).
    let low = conf(&lan.hosts[a].iface, routers[0], routers[1], 50, false);
    let mut agent2 = start_agent(&lan.hosts[a].ns, dir.path(), "ppa2", &low)?;
    std::thread::sleep(Duration::from_secs(6));
    let alog = agent2.proc.log_text();
    assert!(
        alog.contains("-> Backup:") && !alog.contains("-> Master:"),
        "the agent took over from keepalived, whose adverts carry no address:\n{alog}"
    );
    agent2.proc.signal(libc::SIGTERM);
    let _ = agent2.proc.wait_timeout(Duration::from_secs(5));
    Ok(())
}
