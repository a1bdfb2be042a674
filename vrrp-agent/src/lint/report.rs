//! `check -f NODE1 --peer NODE2 [--peer ...] [--json]`: loads every file, checks each pair
//! of nodes with [`super::pair::check_pair`], prints the findings and chooses the exit code.
//!
//! Exit codes ([`exit_code`]): 0 no finding, 1 at least one error (or a file that does not
//! load), 2 warnings only. (clap also exits 2 on a command-line usage error; it prints the
//! usage on stderr and nothing on stdout.)
//!
//! Text output (stdout), one line per finding, then one summary line per pair:
//! `SEVERITY[KIND]: FILE:LINE:COL <-> FILE:LINE:COL: VRID N (FAMILY): MESSAGE`
//! (`FILE (no instance)` for a side with nothing to point at).
//!
//! JSON output (stdout, one object):
//! ```text
//! { "files": [PATH, ...], "exit_code": 0|1|2, "errors": N, "warnings": N,
//!   "load_errors": [ {"file", "line", "column", "message"} ],
//!   "findings": [ { "severity": "error"|"warning", "kind": KIND, "nodes": [PATH, PATH],
//!                   "vrid": N, "family": "IPv4"|"IPv6", "instances": [NAME|null, NAME|null],
//!                   "locations": [{"file", "line", "column"}|null, ...], "message": TEXT } ] }
//! ```
//! Each file's own warnings (those `check` prints) go to stderr and do not change the exit
//! code.
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::pair::{check_pair, Finding, Severity};
use crate::config::{self, Location};

/// 0 clean, 1 any error, 2 warnings only.
pub fn exit_code(findings: &[Finding]) -> u8 {
    if findings.iter().any(|f| f.severity() == Severity::Error) {
        1
    } else if findings.is_empty() {
        0
    } else {
        2
    }
}

fn show(l: &Option<Location>, node: &Path) -> String {
    match l {
        Some(l) => l.to_string(),
        None => format!("{} (no instance)", node.display()),
    }
}

/// The text line of one finding between `nodes[0]` and `nodes[1]`.
pub fn text_line(nodes: [&Path; 2], f: &Finding) -> String {
    format!(
        "{}[{}]: {} <-> {}: VRID {} ({}): {}",
        f.severity().name(),
        f.kind.name(),
        show(&f.locations[0], nodes[0]),
        show(&f.locations[1], nodes[1]),
        f.vrid,
        f.family,
        f.message
    )
}

fn location_json(l: &Option<Location>) -> Value {
    match l {
        Some(l) => json!({
            "file": l.file.display().to_string(),
            "line": l.line,
            "column": l.column,
        }),
        None => Value::Null,
    }
}

/// The JSON object of one finding.
pub fn finding_json(nodes: [&Path; 2], f: &Finding) -> Value {
    json!({
        "severity": f.severity().name(),
        "kind": f.kind.name(),
        "nodes": [nodes[0].display().to_string(), nodes[1].display().to_string()],
        "vrid": f.vrid,
        "family": f.family.to_string(),
        "instances": f.instances,
        "locations": [location_json(&f.locations[0]), location_json(&f.locations[1])],
        "message": f.message,
    })
}

/// Loads `node` and `peers`, checks every pair (each file against each later one), prints
/// the result and returns the exit code.
pub fn check_nodes(node: &Path, peers: &[PathBuf], as_json: bool) -> u8 {
    let files: Vec<&Path> = std::iter::once(node)
        .chain(peers.iter().map(PathBuf::as_path))
        .collect();
    let mut loaded = Vec::new();
    let mut load_errors = Vec::new();
    for f in &files {
        match config::load(f) {
            Ok(l) => {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
                // What keepalived changes in the tracking (as `check` prints it): the
                // weights the health-check findings reason with.
                for n in crate::track::Tracking::new(&l.config).notes() {
                    eprintln!("{}: warning: {n}", f.display());
                }
                loaded.push((*f, l.config));
            }
            Err(e) => {
                for w in &e.warnings {
                    eprintln!("{w}");
                }
                eprintln!("{e}");
                eprintln!("{}: {} error(s)", f.display(), e.errors.len());
                load_errors.extend(e.errors);
            }
        }
    }
    let mut all: Vec<([&Path; 2], Finding)> = Vec::new();
    if load_errors.is_empty() {
        for (i, (pa, ca)) in loaded.iter().enumerate() {
            for (pb, cb) in &loaded[i + 1..] {
                let findings = check_pair(ca, cb);
                if !as_json {
                    for f in &findings {
                        println!("{}", text_line([pa, pb], f));
                    }
                    let errors = findings
                        .iter()
                        .filter(|f| f.severity() == Severity::Error)
                        .count();
                    println!(
                        "{} <-> {}: {} error(s), {} warning(s)",
                        pa.display(),
                        pb.display(),
                        errors,
                        findings.len() - errors
                    );
                }
                all.extend(findings.into_iter().map(|f| ([*pa, *pb], f)));
            }
        }
    }
    let findings: Vec<Finding> = all.iter().map(|(_, f)| f.clone()).collect();
    let code = if load_errors.is_empty() {
        exit_code(&findings)
    } else {
        1
    };
    if as_json {
        let errors = findings
            .iter()
            .filter(|f| f.severity() == Severity::Error)
            .count();
        let out = json!({
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "exit_code": code,
            "errors": errors,
            "warnings": findings.len() - errors,
            "load_errors": load_errors.iter().map(|d| json!({
                "file": d.file.display().to_string(),
                "line": d.line,
                "column": d.column,
                "message": d.message,
            })).collect::<Vec<_>>(),
            "findings": all.iter().map(|(n, f)| finding_json(*n, f)).collect::<Vec<_>>(),
        });
        println!("{out:#}");
    }
    code
}
