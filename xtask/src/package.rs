//! `cargo xtask package`: a Debian package built with `dpkg-deb` from a staged tree.
//!
//! cargo-deb would have to be compiled by `cargo xtask setup` (minutes on a small machine)
//! for what is a dozen files and a control file; dpkg-deb is on every Debian system.
//!
//! Contents:
//! - `/usr/sbin/vrrp-agent`: the release binary (stripped; the XDP object is embedded in it
//!   by vrrp-agent's build.rs);
//! - `/lib/systemd/system/vrrp-agent.service`: packaging/vrrp-agent.service;
//! - `/usr/share/man/man8/vrrp-agent{,-check,-run,...}.8.gz`: generated from the CLI definition
//!   by the binary itself (hidden `vrrp-agent manpages DIR`, clap_mangen), so they cannot
//!   drift from `--help`;
//! - `/usr/share/doc/vrrp-agent/`: copyright, README.md and examples/keepalived.conf.
//!
//! Maintainer scripts do what dh_installsystemd's would: enable and start the service on
//! install (unless keepalived.service is active: both would run the same
//! /etc/keepalived/keepalived.conf), restart it on upgrade, stop it on removal.
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

/// The package's name, and the binary's.
const NAME: &str = "vrrp-agent";

const POSTINST: &str = r#"#!/bin/sh
set -e
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
    # Removes only the mask a removal (not purge) left.
    deb-systemd-helper unmask vrrp-agent.service >/dev/null || true
    # was-enabled is true on a first install: enabled, as Debian's daemons are; an admin's
    # `systemctl disable` survives upgrades.
    if deb-systemd-helper --quiet was-enabled vrrp-agent.service; then
        deb-systemd-helper enable vrrp-agent.service >/dev/null || true
    else
        deb-systemd-helper update-state vrrp-agent.service >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if systemctl --quiet is-active keepalived.service; then
            echo "vrrp-agent: keepalived.service is running; not starting vrrp-agent on the same"
            echo "  /etc/keepalived/keepalived.conf. Switch with:"
            echo "  systemctl disable --now keepalived && systemctl enable --now vrrp-agent"
        elif [ -n "$2" ]; then
            deb-systemd-invoke try-restart vrrp-agent.service >/dev/null || true
        else
            # Skipped, not failed, while /etc/keepalived/keepalived.conf does not exist.
            deb-systemd-invoke start vrrp-agent.service >/dev/null || true
        fi
    fi
fi
exit 0
"#;

const PRERM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop vrrp-agent.service >/dev/null || true
fi
exit 0
"#;

const POSTRM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper mask vrrp-agent.service >/dev/null || true
fi
if [ "$1" = purge ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper purge vrrp-agent.service >/dev/null || true
    deb-systemd-helper unmask vrrp-agent.service >/dev/null || true
fi
exit 0
"#;

/// Stages and builds the package from `binary`; returns the .deb's path in `out_dir`.
/// `fast`: gzip -1 instead of xz (a test's unoptimised binary takes xz a minute).
pub fn build(root: &Path, binary: &Path, out_dir: &Path, fast: bool) -> Result<PathBuf> {
    let version = binary_version(binary)?;
    let arch = stdout(Command::new("dpkg").arg("--print-architecture"))?;
    let arch = arch.trim();
    let stage = out_dir.join(format!("{NAME}_{version}_{arch}"));
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    let packaging = root.join("packaging");

    let sbin = stage.join("usr/sbin").join(NAME);
    install(binary, &sbin, 0o755)?;
    // Debug info is most of a release binary's size; the embedded XDP object is data and
    // stays whole.
    run(
        Command::new("strip").arg("--strip-debug").arg(&sbin),
        "strip",
    )?;
    install(
        &packaging.join("vrrp-agent.service"),
        &stage.join("lib/systemd/system/vrrp-agent.service"),
        0o644,
    )?;
    let doc = stage.join("usr/share/doc").join(NAME);
    install(&packaging.join("copyright"), &doc.join("copyright"), 0o644)?;
    install(&root.join("README.md"), &doc.join("README.md"), 0o644)?;
    install(
        &packaging.join("keepalived.conf"),
        &doc.join("examples/keepalived.conf"),
        0o644,
    )?;
    let man = stage.join("usr/share/man/man8");
    fs::create_dir_all(&man)?;
    run(
        Command::new(binary).arg("manpages").arg(&man),
        "generating the man pages",
    )?;
    for page in fs::read_dir(&man)? {
        let page = page?.path();
        fs::set_permissions(&page, fs::Permissions::from_mode(0o644))?;
        // -n: no name or time in the header, so the package is reproducible.
        run(Command::new("gzip").args(["-9nf"]).arg(&page), "gzip")?;
    }

    let debian = stage.join("DEBIAN");
    write(&debian.join("postinst"), POSTINST, 0o755)?;
    write(&debian.join("prerm"), PRERM, 0o755)?;
    write(&debian.join("postrm"), POSTRM, 0o755)?;
    let control = control(&stage, &sbin, &version, arch)?;
    write(&debian.join("control"), &control, 0o644)?;
    let sums = stdout(
        Command::new("sh")
            .current_dir(&stage)
            .args(["-c", "find usr lib -type f | LC_ALL=C sort | xargs md5sum"]),
    )?;
    write(&debian.join("md5sums"), &sums, 0o644)?;

    let deb = out_dir.join(format!("{NAME}_{version}_{arch}.deb"));
    run(
        Command::new("dpkg-deb")
            .arg("--root-owner-group")
            .args(if fast {
                ["-Zgzip", "-z1"]
            } else {
                ["-Zxz", "-z6"]
            })
            .arg("--build")
            .arg(&stage)
            .arg(&deb),
        "dpkg-deb --build",
    )?;
    fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    Ok(deb)
}

/// The control file; `Depends` on the glibc the binary was linked against.
fn control(stage: &Path, binary: &Path, version: &str, arch: &str) -> Result<String> {
    let size_kib = stdout(
        Command::new("du")
            .args(["-sk", "--exclude=DEBIAN"])
            .arg(stage),
    )?;
    let size_kib = size_kib.split_whitespace().next().unwrap_or("0");
    let glibc = min_glibc(binary)?;
    Ok(format!(
        "Package: {NAME}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: vrrp-agent developers <root@localhost>\n\
         Installed-Size: {size_kib}\n\
         Depends: libc6 (>= {glibc})\n\
         Section: net\n\
         Priority: optional\n\
         Description: VRRP daemon with an XDP data plane, reading keepalived.conf\n \
         vrrp-agent runs VRRP (RFC 9568 VRRPv3 and RFC 3768 VRRPv2) for highly available\n \
         virtual IP addresses. It reads an unchanged keepalived.conf, checks adverts in an\n \
         eBPF/XDP program, and answers keepalived's signals and dump files.\n \
         .\n \
         The service reads /etc/keepalived/keepalived.conf; an example is in\n \
         /usr/share/doc/vrrp-agent/examples/.\n"
    ))
}

/// The newest GLIBC_x.y symbol version the binary needs.
fn min_glibc(binary: &Path) -> Result<String> {
    let dump = stdout(Command::new("objdump").arg("-T").arg(binary))?;
    let newest = dump
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let parts: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
            parts
        })
        .max();
    match newest {
        Some(v) => Ok(v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")),
        None => bail!("{}: no GLIBC symbol versions found", binary.display()),
    }
}

/// `vrrp-agent --version` -> "0.1.0".
fn binary_version(binary: &Path) -> Result<String> {
    let out = stdout(Command::new(binary).arg("--version"))?;
    match out.split_whitespace().nth(1) {
        Some(v) => Ok(v.to_string()),
        None => bail!("{} --version printed {out:?}", binary.display()),
    }
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn write(to: &Path, text: &str, mode: u32) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(to, text).with_context(|| format!("writing {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn stdout(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    stdout(cmd).map(|_| ()).with_context(|| what.to_string())
}
