//! `cargo xtask fuzz`: the cargo-fuzz targets of fuzz/ (libFuzzer, nightly, AddressSanitizer)
//! for a bounded time each, then a table of executions, speed, coverage and crashes.
//!
//! The corpus each run grows stays in fuzz/corpus/TARGET (commit it after `--cmin`, which
//! minimises it); a crash leaves its input in fuzz/artifacts/TARGET/. The plain tests of the
//! vrrp-fuzz crate replay the committed corpus in `cargo xtask test`.
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// cargo-fuzz is pinned, like bpf-linker.
pub const CARGO_FUZZ_VERSION: &str = "0.12.0";
/// The targets, in the order they run.
pub const TARGETS: [&str; 4] = ["config", "wire", "election", "xdp_vs_agent"];

/// What one target's run did.
pub struct Run {
    target: String,
    secs: u32,
    execs: u64,
    execs_per_sec: u64,
    cov: u64,
    features: u64,
    corpus: u64,
    crashes: usize,
}

/// Installs cargo-fuzz (pinned) if it is missing or another version.
pub fn setup(cargo: impl Fn() -> Command) -> Result<()> {
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if have.contains(CARGO_FUZZ_VERSION) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (takes a minute)");
    let status = cargo()
        .args([
            "install",
            &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
            "--locked",
            "--force",
        ])
        .status()
        .context("starting cargo install cargo-fuzz")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// Runs each of `targets` (all when empty) for `secs` seconds; `cmin` minimises each
/// corpus afterwards. Fails if any target crashed.
pub fn run(root: &Path, targets: &[String], secs: u32, cmin: bool) -> Result<()> {
    let chosen: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        for t in targets {
            if !TARGETS.contains(&t.as_str()) {
                bail!("no fuzz target {t}: expected one of {}", TARGETS.join(", "));
            }
        }
        targets.iter().map(String::as_str).collect()
    };
    let mut runs = Vec::new();
    for target in chosen {
        runs.push(run_one(root, target, secs)?);
        if cmin {
            let status = fuzz_cmd(root)
                .args(["cmin", target])
                .status()
                .context("starting cargo fuzz cmin")?;
            if !status.success() {
                bail!("cargo fuzz cmin {target} failed ({status})");
            }
        }
    }
    print_table(&runs);
    let crashed: Vec<&str> = runs
        .iter()
        .filter(|r| r.crashes > 0)
        .map(|r| r.target.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!(
            "crashes in {} (inputs in fuzz/artifacts/): add each as a fixture test",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// `cargo +nightly fuzz` in fuzz/, with the toolchain variables of the outer cargo removed.
fn fuzz_cmd(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        .args(["+nightly", "fuzz"])
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

fn run_one(root: &Path, target: &str, secs: u32) -> Result<Run> {
    let artifacts = root.join("fuzz/artifacts").join(target);
    let crashes_before = count_files(&artifacts);
    eprintln!("xtask: fuzzing {target} for {secs} s");
    let out = fuzz_cmd(root)
        .args(["run", target, "--fuzz-dir", "."])
        .args([
            "--",
            &format!("-max_total_time={secs}"),
            "-print_final_stats=1",
            "-timeout=10",
            "-rss_limit_mb=4096",
        ])
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("starting cargo fuzz run {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    std::fs::create_dir_all(root.join("target/fuzz-logs")).ok();
    let log_path = root.join(format!("target/fuzz-logs/{target}.log"));
    std::fs::write(&log_path, log.as_bytes()).ok();
    let crashes = count_files(&artifacts).saturating_sub(crashes_before);
    if !out.status.success() && crashes == 0 {
        bail!(
            "cargo fuzz run {target} failed ({}); log: {}",
            out.status,
            log_path.display()
        );
    }
    Ok(parse_stats(target, secs, &log, crashes))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Reads libFuzzer's final statistics and its last status line (`#N DONE cov: C ft: F
/// corp: K/...`).
fn parse_stats(target: &str, secs: u32, log: &str, crashes: usize) -> Run {
    let stat = |name: &str| -> u64 {
        log.lines()
            .filter_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .filter_map(|v| v.trim().parse().ok())
            .next_back()
            .unwrap_or(0)
    };
    let field = |line: &str, name: &str| -> u64 {
        line.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .and_then(|v| v.split('/').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let last = log
        .lines()
        .rfind(|l| l.starts_with('#') && l.contains("cov:"))
        .unwrap_or("");
    Run {
        target: target.to_string(),
        secs,
        execs: stat("number_of_executed_units"),
        execs_per_sec: stat("average_exec_per_sec"),
        cov: field(last, "cov:"),
        features: field(last, "ft:"),
        corpus: field(last, "corp:"),
        crashes,
    }
}

fn print_table(runs: &[Run]) {
    println!(
        "\n| target | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target, r.secs, r.execs, r.execs_per_sec, r.cov, r.features, r.corpus, r.crashes
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_stats() {
        let log = "#1024\tpulse  cov: 10 ft: 12 corp: 3/40b exec/s: 512\n\
                   #90000\tDONE   cov: 812 ft: 2403 corp: 311/18Kb lim: 4096 exec/s: 1500\n\
                   stat::number_of_executed_units: 90000\n\
                   stat::average_exec_per_sec:     1500\n";
        let r = parse_stats("wire", 60, log, 0);
        assert_eq!(
            (r.execs, r.execs_per_sec, r.cov, r.features, r.corpus),
            (90000, 1500, 812, 2403, 311)
        );
    }
}
