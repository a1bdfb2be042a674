//! `cargo xtask test-kernels`: the kernel-side tests inside VMs booted with Debian's kernels.
//!
//! The XDP verifier, BPF helpers and timers differ between kernels, and this host runs a
//! newer one than our users (Debian 12: 6.1, or 6.12 from backports). Each kernel of
//! [`KERNELS`] boots under virtme-ng (QEMU without KVM: /dev/kvm exists on this machine but does
//! not boot a guest), sees the host's filesystem read-only, and runs each test binary of
//! [`VM_TESTS`] as root with `VRRP_TEST_IN_VM=1`. Each binary's exit code, output and time go to
//! files in a directory the guest may write (the serial console loses output); the host reads
//! them after the VM is gone. Every wait is bounded: a test binary by its own timeout inside
//! the guest, the whole VM by the sum of them plus [`BOOT_ALLOWANCE`] on the host.
use std::{
    fmt::Write as _,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

/// A Debian kernel package the VM tests boot.
pub struct Kernel {
    /// How the table names it.
    pub label: &'static str,
    /// The Debian package (`apt-get download`), extracted under [`KERNEL_CACHE`]`/<package>/`.
    pub package: &'static str,
}

/// Debian 12's kernel and its backport. The packages stay fixed so that a run is repeatable;
/// a newer point release is a one-line change here.
pub const KERNELS: &[Kernel] = &[
    Kernel {
        label: "6.1",
        package: "linux-image-6.1.0-50-amd64",
    },
    Kernel {
        label: "6.12",
        package: "linux-image-6.12.100+deb12-amd64",
    },
];

/// The integration tests' package.
const TESTS: (&str, &str) = ("vrrp-tests", "tests");
/// The fuzz harnesses' package (its corpus replay).
const FUZZ: (&str, &str) = ("vrrp-fuzz", "vrrp-fuzz");

/// One test binary to run in each VM.
pub struct VmTest {
    /// The package and its directory: `vrrp-tests` (`tests/`) or `vrrp-fuzz`.
    pub package: (&'static str, &'static str),
    /// The `<dir>/tests/<target>.rs` test target of the package.
    pub target: &'static str,
    /// Test-name filters (`--exact` is not added: a filter matches by substring); empty: all.
    pub filters: &'static [&'static str],
    /// Wall-clock limit inside the guest (QEMU without KVM is 10-30 times slower than the
    /// host).
    pub timeout: Duration,
}

/// What runs in every VM. Add a test file here to have it checked on Debian's kernels; a file
/// that is not in the tree (yet) is reported and skipped.
///
/// Cost under TCG on this 2-core machine is mostly the verifier (each `Dataplane::load`) and
/// agents' start-up; the failover test is chosen over the whole election file for that reason.
pub const VM_TESTS: &[VmTest] = &[
    // The XDP program on byte fixtures: loads, verdicts, counters, the watchdog timer.
    VmTest {
        package: TESTS,
        target: "xdp_fixtures",
        filters: &[],
        timeout: Duration::from_secs(400),
    },
    // The no_accept filter on byte fixtures (IPv4, IPv6, Neighbour Discovery).
    VmTest {
        package: TESTS,
        target: "xdp_no_accept",
        filters: &[],
        timeout: Duration::from_secs(180),
    },
    // The kernel features the agent probes (and the large-message checksum path).
    VmTest {
        package: TESTS,
        target: "kernel_support",
        filters: &[],
        timeout: Duration::from_secs(180),
    },
    // Two agents on a LAN of network namespaces: start-up by priority, hard failover (the
    // Backup takes over when the Master's link goes), preemption.
    VmTest {
        package: TESTS,
        target: "election",
        filters: &["startup_by_priority_then_hard_failover_and_preemption"],
        timeout: Duration::from_secs(300),
    },
    // VLAN and bonding interfaces (modules this host's kernel lacks), and two agents with
    // instances on 64 VLANs.
    VmTest {
        package: TESTS,
        target: "vlan_bond",
        filters: &[],
        timeout: Duration::from_secs(600),
    },
    // Split brain and recovery with netem.
    VmTest {
        package: TESTS,
        target: "split_brain",
        filters: &[],
        timeout: Duration::from_secs(300),
    },
    // The differential corpus: every committed frame through the real XDP program and the
    // agent's model of it, on the older verifiers and helpers too.
    VmTest {
        package: FUZZ,
        target: "corpus",
        filters: &["xdp_vs_agent_corpus"],
        timeout: Duration::from_secs(600),
    },
];

/// Where kernel packages are extracted: `<KERNEL_CACHE>/<package>/boot/vmlinuz-*` and
/// `.../lib/modules/<version>/`.
pub const KERNEL_CACHE: &str = "/var/cache/vrrp-agent/kernels";
/// virtme-ng is pinned: its command line and guest set-up change between releases.
const VNG_VERSION: &str = "1.42";
/// Debian packages the VMs need (besides virtme-ng from PyPI).
const VM_DEB_PACKAGES: &[&str] = &["qemu-system-x86", "kmod", "busybox-static"];
/// Boot, shutdown and slack of one VM on top of its tests' timeouts.
const BOOT_ALLOWANCE: Duration = Duration::from_secs(180);
/// Guest memory: the agents, keepalived and the test binaries fit in 1 GiB, not in less.
const VM_MEMORY: &str = "1536M";

/// The result of one test binary on one kernel.
pub struct Outcome {
    /// The kernel's label.
    pub kernel: &'static str,
    /// The test target.
    pub target: &'static str,
    /// Tests passed and failed (a binary that crashed, timed out or never ran counts one
    /// failure).
    pub passed: u64,
    /// See `passed`.
    pub failed: u64,
    /// Wall-clock seconds inside the guest.
    pub secs: u64,
    /// Why it failed beyond the test counts, or why it was skipped.
    pub note: Option<String>,
}

/// Installs what the VMs need, saying what it installs: the Debian packages, virtme-ng and
/// the kernel packages (downloaded and extracted, with `depmod` for their modules).
pub fn setup(install_debs: impl Fn(&[&str]) -> Result<bool>) -> Result<()> {
    let mut need = VM_DEB_PACKAGES.to_vec();
    if vng().is_none() && !python_has_pip() {
        need.push("python3-pip");
    }
    install_debs(&need)?;
    if vng().is_none() {
        eprintln!("xtask: installing virtme-ng {VNG_VERSION} with pip");
        let spec = format!("virtme-ng=={VNG_VERSION}");
        let out = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", &spec])
            .output()
            .context("starting pip")?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.contains("externally-managed-environment") {
                bail!("pip install {spec} failed: {err}");
            }
            // Debian 12's own Python refuses pip installs without this flag (PEP 668).
            super::run(
                Command::new("python3").args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--break-system-packages",
                    &spec,
                ]),
                "pip install virtme-ng",
            )?;
        }
        if vng().is_none() {
            bail!("virtme-ng {VNG_VERSION} was installed but `vng` is not on PATH nor in Python's scripts directory");
        }
    }
    let mut updated = false;
    for k in KERNELS {
        if vmlinuz(k).is_some() {
            continue;
        }
        fetch_kernel(k, &mut updated)?;
    }
    Ok(())
}

/// The `vng` that reports [`VNG_VERSION`]: on PATH, or where pip put it.
fn vng() -> Option<PathBuf> {
    let scripts = super::output(Command::new("python3").args([
        "-c",
        "import sysconfig; print(sysconfig.get_path('scripts'))",
    ]))
    .map(|s| PathBuf::from(s.trim()).join("vng"));
    [Some(PathBuf::from("vng")), scripts]
        .into_iter()
        .flatten()
        .find(|p| {
            super::output(Command::new(p).arg("--version"))
                .is_some_and(|v| v.split_whitespace().any(|w| w == VNG_VERSION))
        })
}

fn python_has_pip() -> bool {
    super::output(Command::new("python3").args(["-m", "pip", "--version"])).is_some()
}

fn kernel_dir(k: &Kernel) -> PathBuf {
    Path::new(KERNEL_CACHE).join(k.package)
}

/// The kernel image of an extracted package whose modules are indexed.
fn vmlinuz(k: &Kernel) -> Option<PathBuf> {
    let dir = kernel_dir(k);
    let image = std::fs::read_dir(dir.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })?;
    let version = image.file_name()?.to_str()?.strip_prefix("vmlinuz-")?;
    dir.join("lib/modules")
        .join(version)
        .join("modules.dep")
        .exists()
        .then_some(image)
}

/// `apt-get download`, `dpkg-deb -x` into a temporary directory, `depmod`, then the rename
/// that makes it visible: an interrupted run leaves nothing that looks complete.
fn fetch_kernel(k: &Kernel, updated: &mut bool) -> Result<()> {
    let cache = Path::new(KERNEL_CACHE);
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    eprintln!(
        "xtask: installing kernel {} for the VM tests into {}",
        k.package,
        kernel_dir(k).display()
    );
    let find_deb = || -> Option<PathBuf> {
        std::fs::read_dir(cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(&format!("{}_", k.package)) && n.ends_with(".deb")
                })
            })
    };
    let deb = match find_deb() {
        Some(d) => d,
        None => {
            if !*updated {
                super::run(
                    Command::new("apt-get").arg("update").arg("-q"),
                    "apt-get update",
                )?;
                *updated = true;
            }
            super::run(
                Command::new("apt-get")
                    .args(["download", "-q", k.package])
                    .current_dir(cache),
                "apt-get download",
            )?;
            find_deb().with_context(|| format!("apt-get download left no {}_*.deb", k.package))?
        }
    };
    let tmp = cache.join(format!(".{}.partial", k.package));
    let _ = std::fs::remove_dir_all(&tmp);
    super::run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp),
        "dpkg-deb -x",
    )?;
    let modules = tmp.join("lib/modules");
    let versions: Vec<String> = std::fs::read_dir(&modules)
        .with_context(|| format!("{} has no lib/modules", deb.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for v in &versions {
        // The package ships no modules.dep (its postinst makes it); modprobe in the guest
        // needs it.
        super::run(
            Command::new("depmod").arg("-a").arg("-b").arg(&tmp).arg(v),
            "depmod",
        )?;
    }
    let dir = kernel_dir(k);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).with_context(|| format!("moving into {}", dir.display()))?;
    if vmlinuz(k).is_none() {
        bail!("{}: no boot/vmlinuz-* with indexed modules", dir.display());
    }
    Ok(())
}

/// Builds the test binaries of [`VM_TESTS`] (those in the tree) and the agent, boots each
/// kernel of `kernels`, and returns one [`Outcome`] per (kernel, test binary).
pub fn run(root: &Path, kernels: &[&'static Kernel]) -> Result<Vec<Outcome>> {
    let vng = vng().with_context(|| format!("virtme-ng {VNG_VERSION} is not installed"))?;
    let present: Vec<&VmTest> = VM_TESTS
        .iter()
        .filter(|t| {
            root.join(t.package.1)
                .join("tests")
                .join(format!("{}.rs", t.target))
                .exists()
        })
        .collect();
    for t in VM_TESTS
        .iter()
        .filter(|t| !present.iter().any(|p| p.target == t.target))
    {
        eprintln!(
            "xtask: VM tests: {}/tests/{}.rs is not in this tree, skipped",
            t.package.1, t.target
        );
    }
    let (bins, agent) = build(root, &present)?;
    let mut outcomes = Vec::new();
    // One VM at a time: a second vng started alongside the first exited at once without a
    // word (and each VM runs one test at a time anyway).
    for k in kernels {
        let r = start_kernel(root, &vng, k, &present, &bins, &agent, &mut outcomes)?;
        outcomes.extend(finish_kernel(r)?);
    }
    Ok(outcomes)
}

/// A VM that was started, with what it runs.
struct Running {
    kernel: &'static Kernel,
    child: std::process::Child,
    started: Instant,
    limit: Duration,
    out: PathBuf,
    planned: Vec<&'static VmTest>,
}

/// The cargo profile of the VM's binaries, defined here through cargo's environment: the
/// dev profile optimised (opt-level 1) and without debug info. Under QEMU without KVM an
/// unoptimised agent took 26 s to start (its 100 MB binary read over 9p, aya's ELF and BTF
/// parsing), more than the tests wait for.
const VM_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_VM_INHERITS", "dev"),
    ("CARGO_PROFILE_VM_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_VM_DEBUG", "false"),
];

fn vm_cargo(root: &Path, subcommand: &str) -> Command {
    let mut cmd = super::cargo();
    cmd.current_dir(root)
        .args([subcommand, "--profile", "vm"])
        .envs(VM_PROFILE.iter().copied());
    cmd
}

/// `cargo test --no-run` for the VM tests and `cargo build` for the agent (profile
/// [`VM_PROFILE`]), with cargo's JSON messages giving the executables' paths.
fn build(root: &Path, tests: &[&VmTest]) -> Result<(Vec<(String, PathBuf)>, PathBuf)> {
    let mut bins = Vec::new();
    let mut packages: Vec<&str> = tests.iter().map(|t| t.package.0).collect();
    packages.dedup();
    for package in packages {
        let mut cmd = vm_cargo(root, "test");
        cmd.args([
            "--no-run",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
        ]);
        for t in tests.iter().filter(|t| t.package.0 == package) {
            cmd.args(["--test", t.target]);
        }
        for (kind, name, exe) in artifacts(&mut cmd, "building the VM test binaries")? {
            if kind == "test" {
                bins.push((name, exe));
            }
        }
    }
    let mut cmd = vm_cargo(root, "build");
    cmd.args([
        "--message-format=json-render-diagnostics",
        "-p",
        "vrrp-agent",
        "--bin",
        "vrrp-agent",
    ]);
    let agent = artifacts(&mut cmd, "building vrrp-agent")?
        .into_iter()
        .find(|(kind, name, _)| kind == "bin" && name == "vrrp-agent")
        .map(|(_, _, exe)| exe)
        .context("cargo built no vrrp-agent binary")?;
    Ok((bins, agent))
}

/// (target kind, target name, executable) of every artifact with an executable.
fn artifacts(cmd: &mut Command, what: &str) -> Result<Vec<(String, String, PathBuf)>> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({})", out.status);
    }
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(exe), Some(name), Some(kind)) = (
            msg["executable"].as_str(),
            msg["target"]["name"].as_str(),
            msg["target"]["kind"][0].as_str(),
        ) else {
            continue;
        };
        found.push((kind.to_string(), name.to_string(), PathBuf::from(exe)));
    }
    Ok(found)
}

/// Single-quotes `s` for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script the guest runs: environment, then each binary under its own timeout, each
/// result in files of `out`.
fn guest_script(root: &Path, out: &Path, tests: &[(&VmTest, &Path)], agent: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/sh\n# Written by cargo xtask test-kernels.");
    let _ = writeln!(s, "OUT={}", quote(&out.display().to_string()));
    let _ = writeln!(
        s,
        "export VRRP_TEST_IN_VM=1 RUST_BACKTRACE=1 VRRP_AGENT_BIN={}",
        quote(&agent.display().to_string())
    );
    // `ip netns` keeps its names under /run/netns; /run is a fresh tmpfs in the guest.
    let _ = writeln!(s, "mkdir -p /run/netns");
    let _ = writeln!(
        s,
        "{{ uname -r; modprobe -v veth && echo 'modprobe veth: ok'; }} > \"$OUT/guest.txt\" 2>&1"
    );
    // cargo runs test binaries from the package directory.
    let _ = writeln!(
        s,
        "cd {} || exit 1",
        quote(&root.join("tests").display().to_string())
    );
    for (t, bin) in tests {
        let mut args = vec![quote(&bin.display().to_string())];
        args.extend(t.filters.iter().map(|f| quote(f)));
        args.push("--test-threads=1".into());
        let name = t.target;
        let _ = writeln!(
            s,
            "s=$(date +%s); timeout -k 10 {} {} > \"$OUT/{name}.out\" 2>&1; \
             echo $? > \"$OUT/{name}.rc\"; echo $(( $(date +%s) - s )) > \"$OUT/{name}.secs\"",
            t.timeout.as_secs(),
            args.join(" ")
        );
    }
    let _ = writeln!(s, "sync; echo done > \"$OUT/done\"");
    s
}

fn start_kernel(
    root: &Path,
    vng: &Path,
    k: &'static Kernel,
    tests: &[&'static VmTest],
    bins: &[(String, PathBuf)],
    agent: &Path,
    outcomes: &mut Vec<Outcome>,
) -> Result<Running> {
    let image = vmlinuz(k).with_context(|| {
        format!(
            "kernel {} is not in {} (run `cargo xtask test-kernels` to install it)",
            k.package, KERNEL_CACHE
        )
    })?;
    let out = root.join("target/vm-tests").join(k.label);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut planned = Vec::new();
    for t in tests {
        match bins.iter().find(|(name, _)| name == t.target) {
            Some((_, bin)) => planned.push((*t, bin.as_path())),
            None => outcomes.push(Outcome {
                kernel: k.label,
                target: t.target,
                passed: 0,
                failed: 1,
                secs: 0,
                note: Some("cargo built no such test binary".into()),
            }),
        }
    }
    let script = out.join("run.sh");
    std::fs::write(&script, guest_script(root, &out, &planned, agent))
        .with_context(|| format!("writing {}", script.display()))?;
    let limit = BOOT_ALLOWANCE
        + planned
            .iter()
            .map(|(t, _)| t.timeout + Duration::from_secs(15))
            .sum::<Duration>();
    eprintln!(
        "xtask: booting {} ({}) for {} test binaries, at most {}s",
        k.label,
        image.display(),
        planned.len(),
        limit.as_secs()
    );
    let console = std::fs::File::create(out.join("console.log"))
        .with_context(|| format!("creating {}/console.log", out.display()))?;
    let started = Instant::now();
    let child = Command::new(vng)
        .arg("--run")
        .arg(&image)
        // /dev/kvm exists on this machine but does not boot a guest: TCG.
        .arg("--disable-kvm")
        .args(["--memory", VM_MEMORY])
        // The guest gets a tmpfs on /var/cache: the modules must be mounted over it.
        .arg("--rodir")
        .arg(KERNEL_CACHE)
        .arg("--rwdir")
        .arg(&out)
        .arg("--")
        .arg("sh")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(console.try_clone().context("console log")?)
        .stderr(console)
        // Its own process group, so a timeout ends QEMU too.
        .process_group(0)
        .spawn()
        .context("starting vng")?;
    Ok(Running {
        kernel: k,
        child,
        started,
        limit,
        out,
        planned: planned.iter().map(|(t, _)| *t).collect(),
    })
}

/// Waits for a VM (at most its limit; then it is killed) and reads its results.
fn finish_kernel(r: Running) -> Result<Vec<Outcome>> {
    let Running {
        kernel: k,
        mut child,
        started,
        limit,
        out,
        planned,
    } = r;
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for vng")? {
            break Some(st);
        }
        if started.elapsed() > limit {
            kill_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let vm_secs = started.elapsed().as_secs();
    let vm_note = match status {
        None => Some(format!("VM timed out after {vm_secs}s")),
        Some(st) if !out.join("done").exists() => Some(format!(
            "VM ended ({st}) after {vm_secs}s before the tests finished (boot failure? see {}/console.log)",
            out.display()
        )),
        Some(_) => None,
    };
    let outcomes = planned
        .iter()
        .map(|t| read_outcome(&out, k.label, t.target, vm_note.as_deref()))
        .collect();
    eprintln!("xtask: {} done in {vm_secs}s", k.label);
    Ok(outcomes)
}

/// Ends QEMU and everything vng started: TERM to the group, KILL a few seconds later.
fn kill_group(pid: u32) {
    let group = format!("-{pid}");
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    std::thread::sleep(Duration::from_secs(3));
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
}

/// One binary's result from its files: counts from libtest's summary line, exit code, time.
fn read_outcome(
    out: &Path,
    kernel: &'static str,
    target: &'static str,
    vm_note: Option<&str>,
) -> Outcome {
    let read = |ext: &str| std::fs::read_to_string(out.join(format!("{target}.{ext}"))).ok();
    let secs = read("secs")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let (passed, failed) = read("out").map_or((0, 0), |o| count_results(&o));
    let rc: Option<i32> = read("rc").and_then(|s| s.trim().parse().ok());
    let note = match rc {
        None => Some(vm_note.unwrap_or("no result").to_string()),
        Some(0) => None,
        Some(124) | Some(137) => Some(format!("timed out after {secs}s")),
        Some(code) => Some(format!("exit code {code}")),
    };
    // A binary that failed without a failing test (crash, timeout, no VM) still fails.
    let failed = if note.is_some() && failed == 0 {
        1
    } else {
        failed
    };
    Outcome {
        kernel,
        target,
        passed,
        failed,
        secs,
        note: note.map(|n| {
            format!(
                "{n}; output: {}",
                out.join(format!("{target}.out")).display()
            )
        }),
    }
}

/// Sums libtest's "test result: ... N passed; M failed; ..." lines.
pub fn count_results(output: &str) -> (u64, u64) {
    let (mut passed, mut failed) = (0, 0);
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test result: ") else {
            continue;
        };
        let count = |what: &str| {
            rest.split(';')
                .find_map(|part| {
                    part.trim()
                        .strip_suffix(what)?
                        .trim()
                        .rsplit(' ')
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(0)
        };
        passed += count("passed");
        failed += count("failed");
    }
    (passed, failed)
}

/// The kernel x test binary table.
pub fn print_table(outcomes: &[Outcome]) {
    println!();
    println!(
        "{:<8} {:<16} {:>7} {:>7} {:>6}",
        "kernel", "test binary", "passed", "failed", "secs"
    );
    for o in outcomes {
        println!(
            "{:<8} {:<16} {:>7} {:>7} {:>6}",
            o.kernel, o.target, o.passed, o.failed, o.secs
        );
        if let Some(n) = &o.note {
            println!("         ^ {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_summary_line() {
        let out = "running 2 tests\ntest a ... ok\n\
                   test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
                   test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 5 filtered out\n";
        assert_eq!(count_results(out), (5, 1));
        assert_eq!(count_results("thread 'main' panicked"), (0, 0));
    }

    #[test]
    fn a_binary_that_did_not_finish_counts_as_failed() {
        let dir = std::env::temp_dir().join(format!("xtask-vm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.out"), "test result: ok. 4 passed; 0 failed;\n").unwrap();
        std::fs::write(dir.join("t.rc"), "0\n").unwrap();
        let o = read_outcome(&dir, "6.1", "t", None);
        assert_eq!((o.passed, o.failed, o.note.is_none()), (4, 0, true));
        std::fs::write(dir.join("t.rc"), "124\n").unwrap();
        let o = read_outcome(&dir, "6.1", "t", None);
        assert_eq!(o.failed, 1);
        assert!(o.note.unwrap().contains("timed out"));
        // No rc file: the VM never got there.
        let o = read_outcome(&dir, "6.1", "missing", Some("VM timed out after 9s"));
        assert_eq!((o.passed, o.failed), (0, 1));
        assert!(o.note.unwrap().contains("VM timed out"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_guest_script_quotes_filters_and_bounds_each_binary() {
        let t = VmTest {
            package: TESTS,
            target: "election",
            filters: &["it's"],
            timeout: Duration::from_secs(77),
        };
        let s = guest_script(
            Path::new("/r"),
            Path::new("/o"),
            &[(&t, Path::new("/b/election-1"))],
            Path::new("/b/vrrp-agent"),
        );
        assert!(
            s.contains("timeout -k 10 77 '/b/election-1' 'it'\\''s' --test-threads=1"),
            "{s}"
        );
        assert!(s.contains("VRRP_TEST_IN_VM=1"), "{s}");
        assert!(s.contains("\"$OUT/election.rc\""), "{s}");
    }
}
