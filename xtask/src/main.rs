//! Project tasks: `cargo xtask <command>`.
//!
//! Every command first makes sure the machine has what the project needs (Debian packages,
//! nightly's rust-src, bpf-linker built against LLVM 22), installing only what is missing
//! and saying what it installs. When everything is present the check takes a few
//! milliseconds.
mod fuzz;
mod package;
mod vm;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Debian packages the build, the tests and the demo use.
const DEB_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "zlib1g-dev",
    "libzstd-dev",
    "bpftool",
    "libbpf-dev",
    "iproute2",
    "iputils-ping",
    "tcpdump",
    "keepalived",
    // promtool, which checks the agent's /metrics output in the tests.
    "prometheus",
    // systemd-analyze verify (the unit's test), strip and objdump (cargo xtask package).
    "systemd",
    "binutils",
];
/// bpf-linker is pinned: newer releases may want another LLVM.
const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

#[derive(Parser)]
#[command(about = "Build, test, demo and benchmark vrrp-agent")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing (Debian packages, rust-src, bpf-linker).
    Setup,
    /// Build the XDP object (nightly, -Z build-std=core, bpfel-unknown-none, BTF).
    BuildEbpf,
    /// Set up, build, and run every test (the CI command): the host's, then the kernel-side
    /// ones in VMs with Debian's 6.1 and 6.12 kernels. Needs root.
    Test {
        /// Run the host's tests only (no VMs).
        #[arg(long)]
        host_only: bool,
        /// Extra arguments for the host's `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the kernel-side tests (XDP fixtures, agents in network namespaces) inside VMs
    /// booted with Debian's kernels (virtme-ng, QEMU without KVM), and print a table kernel x
    /// test binary. Installs QEMU, virtme-ng and the kernels if missing. Needs root.
    TestKernels {
        /// Only these kernels (by label: 6.1, 6.12); default: all.
        #[arg(long = "kernel")]
        kernels: Vec<String>,
    },
    /// Build the Debian package (target/debian/vrrp-agent_VERSION_ARCH.deb): the release
    /// binary, the systemd unit, the man page and an example configuration.
    Package {
        /// Package this binary instead of building the release one (the tests pass the
        /// build they already have).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Where to write the package (default: target/debian).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Compress with gzip -1 instead of xz (for tests).
        #[arg(long)]
        fast: bool,
    },
    /// A short lab in network namespaces: the agent on one side, keepalived's and crafted
    /// adverts on the other, and what the kernel recorded, shown with bpftool. Needs root.
    Demo,
    /// Cost of the XDP program per packet (BPF_PROG_TEST_RUN). Needs root.
    BenchXdp {
        /// Repetitions per packet kind.
        #[arg(long, default_value_t = 5_000_000)]
        repeat: u32,
    },
    /// Failover times of vrrp-agent and keepalived in the same lab (IPv4 and IPv6,
    /// advert_int 0.1 and 0.01), and advert jitter. Needs root; takes several minutes.
    BenchFailover {
        /// Repetitions per case.
        #[arg(long, default_value_t = 20)]
        reps: u32,
        /// Address families to measure: ipv4, ipv6 or all.
        #[arg(long, default_value = "all")]
        family: String,
    },
    /// Steady state: spurious transitions per hour of two vrrp-agents and two keepalived, run
    /// at the same time on two bridges, with nothing injected, and how late the Master's
    /// adverts and the Backup's takeovers come. Needs root.
    BenchStability {
        /// Advertisement interval in seconds.
        #[arg(long, default_value = "0.01")]
        advert: String,
        /// Minutes of steady state (both daemons at once).
        #[arg(long, default_value_t = 5)]
        minutes: u32,
        /// `vrrp_rt_priority` for both daemons (SCHED_RR 1..99); none by default.
        #[arg(long)]
        rt_priority: Option<u8>,
    },
    /// CPU seconds (userspace + XDP) and RSS of Master and Backup with 50 and 200 instances
    /// at advert_int 0.01, vrrp-agent next to keepalived. Needs root.
    BenchCpu {
        /// Seconds to measure each case.
        #[arg(long, default_value_t = 10)]
        secs: u32,
    },
    /// Fuzz the parsers, the election and the XDP program against the agent's model of it
    /// (cargo-fuzz, libFuzzer; installs cargo-fuzz if missing), then print executions,
    /// speed, coverage and crashes per target. Needs root for xdp_vs_agent.
    Fuzz {
        /// Targets to run (config, wire, election, xdp_vs_agent); default: all.
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        secs: u32,
        /// Minimise each corpus afterwards (before committing it).
        #[arg(long)]
        cmin: bool,
    },
    /// CPU of sending 50 adverts per 10 ms through raw IP sockets versus prebuilt frames on
    /// AF_PACKET, to a receiving agent. Needs root.
    BenchTx {
        /// Seconds per window.
        #[arg(long, default_value_t = 10)]
        secs: u32,
    },
    /// Advert jitter of a Master at advert_int 0.01, idle and while /metrics is scraped 50
    /// times a second. Needs root.
    BenchMetrics {
        /// Seconds per window.
        #[arg(long, default_value_t = 10)]
        secs: u32,
    },
    /// Chaos soak: three agents and one keepalived under a random schedule of faults
    /// (reproducible from the seed), with an invariant checker; prints one table and exits
    /// non-zero on any violation. Needs root.
    Soak {
        /// Minutes of faults.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Seed of the schedule (default: from the clock, printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Scheduling margin added to every settle bound, seconds.
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.cmd {
        Cmd::Setup => setup(),
        Cmd::BuildEbpf => {
            setup()?;
            build_ebpf(&root)
        }
        Cmd::Test { host_only, args } => {
            require_root("the tests load XDP programs and create network namespaces")?;
            setup()?;
            if !host_only {
                vm::setup(install_debs)?;
            }
            build_ebpf(&root)?;
            let mut cmd = cargo();
            cmd.current_dir(&root)
                // Every test binary runs even when one fails, so the closing line counts
                // them all and one failure does not hide another.
                .args([
                    "test",
                    "--workspace",
                    "--exclude",
                    "vrrp-ebpf",
                    "--no-fail-fast",
                ])
                .args(args);
            let host = run_tests(&mut cmd)?;
            let vms = if host_only {
                Vec::new()
            } else {
                let kernels: Vec<&vm::Kernel> = vm::KERNELS.iter().collect();
                run_vms(&root, &kernels)
            };
            finish(host, &vms)
        }
        Cmd::TestKernels { kernels } => {
            require_root("the guests load XDP programs and create network namespaces")?;
            setup()?;
            vm::setup(install_debs)?;
            build_ebpf(&root)?;
            let chosen: Vec<&vm::Kernel> = vm::KERNELS
                .iter()
                .filter(|k| kernels.is_empty() || kernels.iter().any(|l| l == k.label))
                .collect();
            if chosen.is_empty() {
                let labels: Vec<&str> = vm::KERNELS.iter().map(|k| k.label).collect();
                bail!("no such kernel: expected one of {}", labels.join(", "));
            }
            let vms = run_vms(&root, &chosen);
            finish(HostTests::default(), &vms)
        }
        Cmd::Demo => {
            require_root("the demo creates network namespaces and attaches XDP")?;
            setup()?;
            build_ebpf(&root)?;
            let mut cmd = cargo();
            cmd.current_dir(&root).args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "vrrp-tests",
                "--bin",
                "demo",
            ]);
            run(&mut cmd, "demo")
        }
        Cmd::Package {
            binary,
            out_dir,
            fast,
        } => {
            let binary = match binary {
                Some(b) => b,
                None => {
                    setup()?;
                    build_ebpf(&root)?;
                    let mut cmd = cargo();
                    cmd.current_dir(&root).args([
                        "build",
                        "--quiet",
                        "--release",
                        "-p",
                        "vrrp-agent",
                        "--bin",
                        "vrrp-agent",
                    ]);
                    run(&mut cmd, "building the release binary")?;
                    root.join("target/release/vrrp-agent")
                }
            };
            let out_dir = out_dir.unwrap_or_else(|| root.join("target/debian"));
            let deb = package::build(&root, &binary, &out_dir, fast)?;
            println!("{}", deb.display());
            Ok(())
        }
        Cmd::BenchFailover { reps, family } => {
            bench(&root, "bench-failover", &[&reps.to_string(), &family])
        }
        Cmd::BenchCpu { secs } => bench(&root, "bench-cpu", &[&secs.to_string()]),
        Cmd::BenchStability {
            advert,
            minutes,
            rt_priority,
        } => {
            let mut args = vec![
                "--advert".to_string(),
                advert,
                "--minutes".into(),
                minutes.to_string(),
            ];
            if let Some(p) = rt_priority {
                args.extend(["--rt-priority".into(), p.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bench(&root, "bench-stability", &args)
        }
        Cmd::BenchXdp { repeat } => bench(&root, "bench-xdp", &[&repeat.to_string()]),
        Cmd::Fuzz {
            targets,
            secs,
            cmin,
        } => {
            setup()?;
            fuzz::setup(cargo)?;
            build_ebpf(&root)?;
            fuzz::run(&root, &targets, secs, cmin)
        }
        Cmd::BenchTx { secs } => bench(&root, "bench-tx", &["--secs", &secs.to_string()]),
        Cmd::BenchMetrics { secs } => bench(&root, "bench-metrics", &[&secs.to_string()]),
        Cmd::Soak {
            minutes,
            seed,
            margin,
        } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_secs() % 100_000)
            });
            let args = [
                "--minutes".to_string(),
                minutes.to_string(),
                "--seed".into(),
                seed.to_string(),
                "--margin".into(),
                margin.to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bench(&root, "soak", &args)
        }
    }
}

/// Builds what is missing and runs one of the benchmark binaries of the tests crate.
fn bench(root: &Path, bin: &str, args: &[&str]) -> Result<()> {
    require_root("the benchmarks load XDP programs (and create network namespaces)")?;
    setup()?;
    build_ebpf(root)?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "vrrp-tests",
            "--bin",
            bin,
            "--",
        ])
        .args(args);
    run(&mut cmd, bin)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn require_root(why: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } != 0 {
        bail!("run this as root: {why}");
    }
    Ok(())
}

extern "C" {
    fn geteuid() -> u32;
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// What the host's `cargo test` counted.
#[derive(Default)]
struct HostTests {
    passed: u64,
    failed: u64,
    /// cargo test's exit status was not success (a build error, a crashed binary).
    broken: bool,
}

/// Runs the VM tests; a set-up error counts as one failure, so the total still says so.
fn run_vms(root: &Path, kernels: &[&'static vm::Kernel]) -> Vec<vm::Outcome> {
    let started = Instant::now();
    let outcomes = match vm::run(root, kernels) {
        Ok(o) => o,
        Err(e) => vec![vm::Outcome {
            kernel: "-",
            target: "(VM set-up)",
            passed: 0,
            failed: 1,
            secs: 0,
            note: Some(format!("{e:#}")),
        }],
    };
    vm::print_table(&outcomes);
    println!("VM tests took {}s", started.elapsed().as_secs());
    outcomes
}

/// Prints the closing line, totalling the host's and the VMs' tests, and fails if any did.
fn finish(host: HostTests, vms: &[vm::Outcome]) -> Result<()> {
    let passed = host.passed + vms.iter().map(|o| o.passed).sum::<u64>();
    let failed = host.failed + vms.iter().map(|o| o.failed).sum::<u64>();
    println!("tests: {passed} passed, {failed} failed");
    if host.broken {
        bail!("cargo test failed");
    }
    if failed > 0 {
        bail!("{failed} tests failed");
    }
    Ok(())
}

/// Runs `cargo test`, passing its output through, and totals every test binary's result
/// (cargo's own last line is the doc-test summary, often "0 passed").
fn run_tests(cmd: &mut Command) -> Result<HostTests> {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            let (p, f) = vm::count_results(&line);
            passed += p;
            failed += f;
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    if !status.success() {
        eprintln!("xtask: cargo test failed ({status})");
    }
    Ok(HostTests {
        passed,
        failed,
        broken: !status.success(),
    })
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs what is missing; cheap when nothing is.
fn setup() -> Result<()> {
    let start = Instant::now();
    let mut did = false;

    did |= install_debs(DEB_PACKAGES)?;

    // Nightly with rust-src, for -Z build-std=core.
    let sysroot = output(
        Command::new("rustc")
            .arg("+nightly")
            .args(["--print", "sysroot"]),
    )
    .map(|s| PathBuf::from(s.trim()));
    let Some(sysroot) = sysroot else {
        bail!(
            "no nightly Rust toolchain: the XDP program needs one (`rustup toolchain install \
             nightly --component rust-src`)"
        );
    };
    if !sysroot.join("lib/rustlib/src/rust/library/core").exists() {
        eprintln!("xtask: installing rust-src for the nightly toolchain");
        run(
            Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
            "rustup component add rust-src",
        )?;
        did = true;
    }

    // bpf-linker, pinned and built against LLVM 22 (/usr/bin/llvm-config is LLVM 14).
    let have = output(Command::new("bpf-linker").arg("--version")).unwrap_or_default();
    if !have.contains(BPF_LINKER_VERSION) {
        eprintln!(
            "xtask: installing bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (takes a minute)"
        );
        run(
            cargo()
                .args(["install", &format!("bpf-linker@{BPF_LINKER_VERSION}")])
                .args(["--no-default-features", "--features", "llvm-22", "--force"])
                .env("LLVM_PREFIX", LLVM_PREFIX),
            "cargo install bpf-linker",
        )?;
        did = true;
    }
    if did {
        eprintln!("xtask: set-up done in {:.1?}", start.elapsed());
    }
    Ok(())
}

/// Installs the Debian packages of `packages` that are missing (one dpkg-query for all of
/// them), saying which. Returns whether it installed anything.
fn install_debs(packages: &[&str]) -> Result<bool> {
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Status}\n"])
        .args(packages)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !installed.lines().any(|l| l == format!("{p} installed")))
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    require_root("installing Debian packages")?;
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    run(
        Command::new("apt-get").arg("update").arg("-q"),
        "apt-get update",
    )?;
    run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install",
    )?;
    Ok(true)
}

/// Builds the XDP object into target/bpf, where vrrp-agent's build.rs picks it up.
fn build_ebpf(root: &Path) -> Result<()> {
    // bpf_target_arch: aya-ebpf's arch-specific helpers; debuginfo + --btf: BTF for the
    // maps, so bpftool prints field names.
    let flags = [
        "--cfg=bpf_target_arch=\"x86_64\"",
        "-Cdebuginfo=2",
        "-Clink-arg=--btf",
    ];
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args([
            "+nightly",
            "build",
            "--quiet",
            "-p",
            "vrrp-ebpf",
            "-Z",
            "build-std=core",
        ])
        .args([
            "--target",
            "bpfel-unknown-none",
            "--release",
            "--target-dir",
        ])
        .arg(root.join("target/bpf"))
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO");
    run(&mut cmd, "building the XDP object")?;
    let obj = root.join("target/bpf/bpfel-unknown-none/release/vrrp");
    if !obj.exists() {
        bail!("the XDP build succeeded but {} is missing", obj.display());
    }
    Ok(())
}
