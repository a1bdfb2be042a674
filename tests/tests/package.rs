//! `cargo xtask package`: the .deb's control fields and contents, and the extracted binary
//! runs (`--version`, `check` on the example configuration) with the XDP object inside.
//!
//! To keep `cargo xtask test` short the package is built from the binary the tests already
//! use (`--binary`); `cargo xtask package` alone builds the release binary first. Only the
//! `cargo build --release` step is not covered here, and the package is compressed with gzip
//! (`--fast`; xz takes a minute on the unoptimised binary).
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use vrrp_tests::{agent_bin, sh, TempDir};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the package into `dir`; returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = sh(Command::new(cargo)
        .current_dir(root())
        .args([
            "run", "--quiet", "-p", "xtask", "--", "package", "--fast", "--binary",
        ])
        .arg(agent_bin().unwrap())
        .arg("--out-dir")
        .arg(dir))
    .expect("cargo xtask package");
    let deb = PathBuf::from(out.trim());
    assert!(deb.exists(), "{out}");
    deb
}

#[test]
fn the_deb_holds_binary_unit_man_page_and_example_and_runs() {
    let dir = TempDir::new("vrrp-pkdeb").unwrap();
    let deb = build_deb(dir.path());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("vrrp-agent_{}_", env!("CARGO_PKG_VERSION")))
            && name.ends_with(".deb"),
        "{name}"
    );

    // Control fields.
    let field = |f: &str| {
        sh(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "vrrp-agent");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    let arch = sh(Command::new("dpkg").arg("--print-architecture")).unwrap();
    assert_eq!(field("Architecture"), arch.trim());
    let depends = field("Depends");
    assert!(depends.starts_with("libc6 (>= 2."), "{depends}");
    assert!(field("Installed-Size").parse::<u64>().unwrap() > 1000);
    assert!(field("Description").contains("keepalived.conf"));

    // Contents, owned by root.
    let list = sh(Command::new("dpkg-deb").arg("-c").arg(&deb)).unwrap();
    for path in [
        "./usr/sbin/vrrp-agent",
        "./lib/systemd/system/vrrp-agent.service",
        "./usr/share/man/man8/vrrp-agent.8.gz",
        "./usr/share/man/man8/vrrp-agent-check.8.gz",
        "./usr/share/man/man8/vrrp-agent-run.8.gz",
        "./usr/share/doc/vrrp-agent/copyright",
        "./usr/share/doc/vrrp-agent/examples/keepalived.conf",
    ] {
        let line = list
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} missing:\n{list}"));
        assert!(line.contains("root/root"), "{line}");
    }
    assert!(
        list.lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/sbin/vrrp-agent")),
        "{list}"
    );
    // Nothing under /etc: the service reads the admin's /etc/keepalived/keepalived.conf.
    assert!(!list.contains("./etc/"), "{list}");

    // Maintainer scripts are valid shell.
    let ctl = dir.path().join("control");
    sh(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&ctl)).unwrap();
    for script in ["postinst", "prerm", "postrm"] {
        sh(Command::new("sh").arg("-n").arg(ctl.join(script))).unwrap();
    }
    // What they ask of deb-systemd-helper (stubs on PATH record the calls): enabled on a
    // first install, left as the admin set it on an upgrade, masked on removal, purged.
    let calls = |script: &str, args: &[&str], was_enabled: bool| {
        let stubs = dir
            .path()
            .join(format!("stubs-{script}-{}", args.join("-")));
        std::fs::create_dir_all(&stubs).unwrap();
        let log = stubs.join("calls");
        for tool in ["deb-systemd-helper", "deb-systemd-invoke", "systemctl"] {
            let status = if tool == "deb-systemd-helper" && !was_enabled {
                "case \"$*\" in *was-enabled*) exit 1;; esac\n"
            } else {
                ""
            };
            let stub = stubs.join(tool);
            std::fs::write(
                &stub,
                format!(
                    "#!/bin/sh\necho \"{tool} $*\" >> '{}'\n{status}exit 0\n",
                    log.display()
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!(
            "{}:{}",
            stubs.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        sh(Command::new(ctl.join(script)).args(args).env("PATH", path)).unwrap();
        std::fs::read_to_string(&log).unwrap_or_default()
    };
    let first = calls("postinst", &["configure", ""], true);
    assert!(
        first.contains("deb-systemd-helper enable vrrp-agent.service"),
        "{first}"
    );
    let upgrade = calls("postinst", &["configure", "0.0.9"], false);
    assert!(
        upgrade.contains("deb-systemd-helper update-state vrrp-agent.service"),
        "{upgrade}"
    );
    assert!(!upgrade.contains(" enable "), "{upgrade}");
    let removed = calls("postrm", &["remove"], true);
    assert!(
        removed.contains("deb-systemd-helper mask vrrp-agent.service"),
        "{removed}"
    );
    let purged = calls("postrm", &["purge"], true);
    assert!(
        purged.contains("deb-systemd-helper purge vrrp-agent.service"),
        "{purged}"
    );

    // Extracted: the binary runs and checks the example configuration.
    let x = dir.path().join("x");
    sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x)).unwrap();
    let bin = x.join("usr/sbin/vrrp-agent");
    let version = sh(Command::new(&bin).arg("--version")).unwrap();
    assert_eq!(
        version.trim(),
        format!("vrrp-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let example = x.join("usr/share/doc/vrrp-agent/examples/keepalived.conf");
    let out = Command::new(&bin)
        .arg("check")
        .arg("-f")
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("OK (1 instance(s), 1 script(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The XDP object is inside the binary: an ELF file for EM_BPF (247) after the host's
    // own ELF header.
    let bytes = std::fs::read(&bin).unwrap();
    let bpf_elf = bytes
        .windows(20)
        .skip(1)
        .any(|w| w.starts_with(b"\x7fELF") && w[18] == 247 && w[19] == 0);
    assert!(bpf_elf, "no BPF ELF object embedded in the packaged binary");

    // The man pages are generated from the CLI: one per subcommand, with their options.
    let man = |page: &str| {
        sh(Command::new("zcat").arg(x.join(format!("usr/share/man/man8/{page}.8.gz")))).unwrap()
    };
    let top = man("vrrp-agent");
    assert!(top.contains(".TH vrrp-agent 8"), "{top}");
    assert!(
        top.contains(".SH SIGNALS") && top.contains("keepalived.json"),
        "{top}"
    );
    assert!(top.contains("vrrp\\-agent\\-run(8)"), "{top}");
    assert!(
        !top.contains("manpages"),
        "the hidden subcommand is documented:\n{top}"
    );
    let run = man("vrrp-agent-run");
    for word in ["\\-\\-pin\\-dir", "\\-\\-xdp\\-mode", "\\-\\-log\\-level"] {
        assert!(run.contains(word), "vrrp-agent-run(8) lacks {word}:\n{run}");
    }
    assert!(man("vrrp-agent-check").contains("keepalived \\-t"));

    // The packaged unit verifies, with its ExecStart= pointing at the extracted binary and
    // its Documentation= man page found in the extracted tree.
    let unit = std::fs::read_to_string(x.join("lib/systemd/system/vrrp-agent.service"))
        .unwrap()
        .replace("/usr/sbin/vrrp-agent", &bin.display().to_string());
    let unit_path = dir.path().join("vrrp-agent.service");
    std::fs::write(&unit_path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .env("MANPATH", x.join("usr/share/man"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
