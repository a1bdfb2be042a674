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
