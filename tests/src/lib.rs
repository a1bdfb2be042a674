//! Helpers for the tests that need the kernel: network namespaces that remove themselves,
//! processes that are killed on drop, and `bpftool` access to pinned maps.
//!
//! Only 198.18.0.0/15 and 2001:db8::/32 are used inside the namespaces.

pub mod lab;
pub mod metrics;
pub mod soak;
pub mod speaker;
pub mod v6lab;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Linux's limit on interface (and our namespace) names: IFNAMSIZ - 1.
const NAME_MAX: usize = 15;

/// `n` in base 36, at least `width` digits (lower case, as names are).
fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 || out.len() < width {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The part of a name no other live process and no other call of this one has: the pid in
/// base 36 (5 digits hold any pid, pid_max is at most 2^22) and this process's call number
/// (at least 3 digits). Fixed widths, so two tails never read as one another with the
/// prefix cut at a different place.
fn unique_tail() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}{}",
        base36(u64::from(std::process::id()), 5),
        base36(u64::from(n), 3)
    )
}

/// A short name unique to this process and call, usable as an interface name (<= 15 bytes):
/// `prefix` (shortened when needed, never the unique tail) followed by the pid and a call
/// counter. Two test binaries running at once differ in the pid, two calls of one binary
/// (from any thread, in the same nanosecond) in the counter.
pub fn unique(prefix: &str) -> String {
    let tail = unique_tail();
    let keep = prefix
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|end| end + tail.len() <= NAME_MAX)
        .last()
        .unwrap_or(0);
    format!("{}{tail}", &prefix[..keep])
}

/// Runs a command, failing with its stderr if it fails.
pub fn sh(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS...`
pub fn ip(args: &[&str]) -> Result<String> {
    sh(Command::new("ip").args(args))
}

/// A network namespace, deleted (with every process in it killed) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with a unique name starting with `tag`, with loopback up.
    pub fn new(tag: &str) -> Result<Self> {
        let name = unique(tag);
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command that runs `program` inside this namespace's network stack only (the mount
    /// namespace stays the host's, so pins on /sys/fs/bpf are shared with the host).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.name))
            .arg("--")
            .arg(program);
        c
    }

    /// Runs `program args` in the namespace and returns its output, whatever its status.
    pub fn output(&self, program: &str, args: &[&str]) -> Result<Output> {
        self.command(program)
            .args(args)
            .output()
            .with_context(|| format!("running {program}"))
    }

    /// Interface index of `iface` inside this namespace (from `ip`: under nsenter --net,
    /// /sys still shows the host's interfaces).
    pub fn ifindex(&self, iface: &str) -> Result<u32> {
        let line = self.ip(&["-o", "link", "show", iface])?;
        line.split(':')
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .context("parsing ifindex")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Creates a veth pair with `a_if` in `a` and `b_if` in `b`, both up.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    ip(&[
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// A child process killed (SIGTERM, then SIGKILL) on drop.
pub struct Proc {
    child: Option<Child>,
    /// What it is, for messages.
    pub what: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr to `log`.
    pub fn spawn(what: &str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let f = std::fs::File::create(log)?;
        cmd.stdin(Stdio::null());
        // A program written by this test (a copied binary, a script) can be briefly "busy"
        // (ETXTBSY): another test thread that forks inherits the write descriptor until its
        // child execs. That window is short; wait it out, a bounded number of times.
        let mut tries = 0;
        let child = loop {
            let spawned = cmd.stdout(f.try_clone()?).stderr(f.try_clone()?).spawn();
            match spawned {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other.with_context(|| format!("spawning {what}"))?,
            }
        };
        Ok(Proc {
            child: Some(child),
            what: what.to_string(),
            log: log.to_path_buf(),
        })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Its exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the process to exit; its exit code if it did.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`, up to `timeout`.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    bail!(
                        "{} exited ({st}) before logging {needle:?}:\n{}",
                        self.what,
                        self.log_text()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} did not log {needle:?} within {timeout:?}:\n{}",
            self.what,
            self.log_text()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The vrrp-agent binary next to the test executables, brought up to date once per test
/// process (`cargo build` is quick when nothing changed, and a stale binary built against
/// another XDP object would test the wrong program).
pub fn agent_bin() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_agent().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn build_agent() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("VRRP_AGENT_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/test-xxxx -> target/<profile>/vrrp-agent
    let profile_dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .context("locating the target directory")?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "vrrp-agent",
        "--bin",
        "vrrp-agent",
    ]);
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    sh(&mut cmd)?;
    Ok(profile_dir.join("vrrp-agent"))
}

/// A per-test pin directory on the host's BPF filesystem (not created here: the agent
/// creates it), removed on drop even if the test failed half way.
pub struct PinDir(PathBuf);

impl std::ops::Deref for PinDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for PinDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A unique pin directory under /sys/fs/bpf.
pub fn pin_dir(tag: &str) -> PinDir {
    PinDir(PathBuf::from("/sys/fs/bpf").join(unique(tag)))
}

/// `bpftool -j map dump pinned PATH`, parsed.
pub fn bpftool_dump(path: &Path) -> Result<serde_json::Value> {
    let out = sh(Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(path))?;
    serde_json::from_str(&out).with_context(|| format!("bpftool output for {}", path.display()))
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `/tmp/<tag>-<pid>-<n>`, a directory no one else has: the whole tag is kept
    /// (paths have no 15-byte limit) and one left behind by an earlier process with the same
    /// pid is never shared (creation fails on an existing directory, and the next number is
    /// tried).
    pub fn new(tag: &str) -> Result<Self> {
        for _ in 0..100 {
            let p = std::env::temp_dir().join(format!("{tag}-{}", unique_tail()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
            }
        }
        bail!("no free temporary directory name for {tag}")
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // VRRP_KEEP_TMP=1 keeps the logs and configurations for a look afterwards.
        if std::env::var_os("VRRP_KEEP_TMP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` every 20 ms until it returns `Some`, up to `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw AF_PACKET socket bound to one interface of a namespace, to send crafted frames.
pub struct PacketSocket {
    fd: std::os::fd::OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Opens the socket inside `ns` (from a short-lived thread that enters the namespace,
    /// so the test process itself stays where it is) and binds it to `iface`.
    pub fn open(ns: &Netns, iface: &str) -> Result<Self> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let ifindex = ns.ifindex(iface)?;
        let path = format!("/run/netns/{}", ns.name());
        let fd = std::thread::spawn(move || -> Result<OwnedFd> {
            let nsf = std::fs::File::open(&path)?;
            // SAFETY: setns on this thread only, with a namespace fd we own.
            if unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            // SAFETY: socket(2) with constant arguments; the fd is owned right away.
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW,
                    (libc::ETH_P_ALL as u16).to_be() as i32,
                )
            };
            if raw < 0 {
                bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
            }
            // SAFETY: raw is a fresh, valid descriptor.
            Ok(unsafe { OwnedFd::from_raw_fd(raw) })
        })
        .join()
        .map_err(|_| anyhow::anyhow!("netns thread panicked"))??;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Sends one Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = self.ifindex as i32;
        sa.sll_halen = 6;
        sa.sll_addr[..6].copy_from_slice(&frame[..6.min(frame.len())]);
        // SAFETY: sendto reads `frame` and `sa`, both valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            bail!("sendto: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// bpftool's JSON entry for a BTF map: `formatted` (older bpftool) or the entry itself holds
/// the named fields.
pub fn formatted(entry: &serde_json::Value) -> &serde_json::Value {
    entry.get("formatted").unwrap_or(entry)
}

/// Every used peer record in the pinned VRRP_PEERS (an array of per-instance tables that
/// name their instance), as (vrid, family, record), read with bpftool.
pub fn bpftool_peers(pins: &Path) -> Vec<(u64, u64, serde_json::Value)> {
    let Ok(dump) = bpftool_dump(&pins.join("VRRP_PEERS")) else {
        return vec![];
    };
    let mut out = Vec::new();
    for e in dump.as_array().into_iter().flatten() {
        let table = &formatted(e)["value"];
        let (vrid, family) = (
            table["vrid"].as_u64().unwrap_or(0),
            table["family"].as_u64().unwrap_or(0),
        );
        for rec in table["peers"].as_array().into_iter().flatten() {
            if rec["last_seen_ns"].as_u64().unwrap_or(0) != 0 {
                out.push((vrid, family, rec.clone()));
            }
        }
    }
    out
}

/// Non-zero counters by (vrid, counter name), summed over CPUs, from bpftool's dumps of the
/// pinned VRRP_STATS (each value names its VRID) and VRRP_UNKNOWN (keyed by VRID).
pub fn bpftool_counters(pins: &Path) -> std::collections::BTreeMap<(u64, String), u64> {
    let mut out = std::collections::BTreeMap::new();
    let mut add = |vrid: u64, v: &serde_json::Value| {
        for (k, n) in v.as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            if n > 0 && !["ifindex", "vrid", "family"].contains(&k.as_str()) {
                *out.entry((vrid, k.clone())).or_insert(0) += n;
            }
        }
    };
    if let Ok(dump) = bpftool_dump(&pins.join("VRRP_STATS")) {
        for e in dump.as_array().into_iter().flatten() {
            for v in formatted(e)["values"].as_array().into_iter().flatten() {
                add(v["value"]["vrid"].as_u64().unwrap_or(0), &v["value"]);
            }
        }
    }
    if let Ok(dump) = bpftool_dump(&pins.join("VRRP_UNKNOWN")) {
        for e in dump.as_array().into_iter().flatten() {
            let f = formatted(e);
            for v in f["values"].as_array().into_iter().flatten() {
                add(f["key"]["vrid"].as_u64().unwrap_or(0), &v["value"]);
            }
        }
    }
    out
}

/// A LAN in network namespaces: a bridge in a "switch" namespace, routers and one client
/// attached by veth pairs. Everything is removed on drop.
pub struct Lan {
    /// The switch namespace (holds the bridge and the switch-side veth ends).
    pub switch: Netns,
    /// Hosts attached to the LAN, in the order added.
    pub hosts: Vec<LanHost>,
}

/// One host on a [`Lan`].
pub struct LanHost {
    /// Its namespace.
    pub ns: Netns,
    /// Its interface on the LAN.
    pub iface: String,
    /// The switch-side end of its link (set it down to cut the host off).
    pub port: String,
    /// Its IPv4 address on the LAN.
    pub addr: std::net::Ipv4Addr,
}

impl Lan {
    /// A bridge with no hosts yet.
    pub fn new() -> Result<Lan> {
        Lan::new_tagged("sw")
    }

    /// [`Lan::new`] with the switch namespace's name starting with `tag`.
    pub fn new_tagged(tag: &str) -> Result<Lan> {
        let switch = Netns::new(tag)?;
        switch.ip(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"])?;
        // No multicast snooping: VRRP multicast must reach every port at once.
        let _ = sh(switch.command("ip").args([
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]));
        switch.ip(&["link", "set", "br0", "up"])?;
        Ok(Lan {
            switch,
            hosts: Vec::new(),
        })
    }

    /// Adds a host in a new namespace with `addr`/24 on its LAN interface; returns its index.
    pub fn add_host(&mut self, tag: &str, addr: std::net::Ipv4Addr) -> Result<usize> {
        let ns = Netns::new(tag)?;
        let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.all.accept_dad=0"]);
        let _ = ns.output("sysctl", &["-qw", "net.ipv6.conf.default.accept_dad=0"]);
        let iface = unique("h");
        let port = unique("p");
        veth(&ns, &iface, &self.switch, &port)?;
        self.switch.ip(&["link", "set", &port, "master", "br0"])?;
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", &iface])?;
        self.hosts.push(LanHost {
            ns,
            iface,
            port,
            addr,
        });
        Ok(self.hosts.len() - 1)
    }

    /// Cuts host `i` off the LAN (its switch port goes down; its own link stays up).
    pub fn cut(&self, i: usize) -> Result<()> {
        self.switch
            .ip(&["link", "set", &self.hosts[i].port, "down"])
            .map(|_| ())
    }

    /// Reconnects host `i`.
    pub fn reconnect(&self, i: usize) -> Result<()> {
        self.switch
            .ip(&["link", "set", &self.hosts[i].port, "up"])
            .map(|_| ())
    }

    /// Deletes host `i`'s LAN link and creates it again under the same names: a new
    /// ifindex and a new MAC, plugged into the switch, up, with its IPv4 address (what a
    /// network restart does to a VLAN or bond interface).
    pub fn recreate(&self, i: usize) -> Result<()> {
        let h = &self.hosts[i];
        h.ns.ip(&["link", "del", &h.iface])?;
        veth(&h.ns, &h.iface, &self.switch, &h.port)?;
        self.switch.ip(&["link", "set", &h.port, "master", "br0"])?;
        h.ns.ip(&["addr", "add", &format!("{}/24", h.addr), "dev", &h.iface])?;
        Ok(())
    }

    /// Bridge port isolation for host `i`: isolated ports cannot reach each other but still
    /// reach the others, and every link keeps its carrier. Isolating two routers splits
    /// them (both become Master) while the client still reaches both.
    pub fn isolate(&self, i: usize, on: bool) -> Result<()> {
        let flag = if on { "on" } else { "off" };
        self.switch
            .ip(&[
                "link",
                "set",
                "dev",
                &self.hosts[i].port,
                "type",
                "bridge_slave",
                "isolated",
                flag,
            ])
            .map(|_| ())
    }
}

/// The MAC address at byte `at` of a captured frame ("aa:bb:..."), empty when the frame is
/// too short.
pub fn frame_mac(frame: &[u8], at: usize) -> String {
    frame
        .get(at..at + 6)
        .unwrap_or(&[])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl LanHost {
    /// Every macvlan in this host's namespace, one `ip -o -d link` line each.
    pub fn macvlans(&self) -> Vec<String> {
        self.ns
            .ip(&["-o", "-d", "link", "show", "type", "macvlan"])
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Whether `addr` is configured on this host's LAN interface.
    pub fn has_addr(&self, addr: &str) -> bool {
        self.ns
            .ip(&["-o", "addr", "show", "dev", &self.iface])
            .map(|s| {
                s.split_whitespace()
                    .any(|w| w.split('/').next() == Some(addr))
            })
            .unwrap_or(false)
    }

    /// MAC address of the LAN interface.
    pub fn mac(&self) -> String {
        self.ns
            .ip(&["-o", "link", "show", &self.iface])
            .ok()
            .and_then(|s| {
                s.split("link/ether ")
                    .nth(1)
                    .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
            })
            .unwrap_or_default()
    }

    /// One ping to `addr` with a 1 s timeout; true if answered.
    pub fn ping(&self, addr: &str) -> bool {
        self.ns
            .output("ping", &["-c", "1", "-W", "1", "-n", addr])
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The MAC this host's neighbour table has for `addr`, if any.
    pub fn neigh_mac(&self, addr: &str) -> Option<String> {
        let out = self
            .ns
            .ip(&["neigh", "show", addr, "dev", &self.iface])
            .ok()?;
        lladdr(&out)
    }

    /// Samples this host's neighbour entry for `addr` every ~20 ms for `secs` seconds, in a
    /// thread; with `ping`, pings `addr` once (1 s at most) before each sample, so that the
    /// entry is refreshed. The thread returns the MACs seen, in order.
    pub fn sample_neigh(
        &self,
        addr: &str,
        secs: u64,
        ping: bool,
    ) -> std::thread::JoinHandle<Vec<String>> {
        let (ns, iface, addr) = (
            self.ns.name().to_owned(),
            self.iface.clone(),
            addr.to_owned(),
        );
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end {
                if ping {
                    let _ = Command::new("ip")
                        .args(["netns", "exec", &ns, "ping", "-c1", "-W1", "-n", &addr])
                        .output();
                }
                let out = Command::new("ip")
                    .args(["-n", &ns, "neigh", "show", &addr, "dev", &iface])
                    .output();
                if let Some(mac) = out
                    .ok()
                    .and_then(|o| lladdr(&String::from_utf8_lossy(&o.stdout)))
                {
                    seen.push(mac);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    }
}

/// The MAC after `lladdr` in a line of `ip neigh show`.
fn lladdr(neigh: &str) -> Option<String> {
    neigh
        .split("lladdr ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
}

/// Starts a real keepalived (VRRP only, in the foreground, detailed log to stdout/stderr)
/// inside `ns`, as the e2e tests do: `ip netns exec NS keepalived -n -l -D -P -f CONF -p PID
/// -r PID2`. `conf` is written to `dir/<tag>.conf`, the log goes to `dir/<tag>.log` and the
/// pid files beside them. The returned [`Proc`] is stopped on drop (SIGTERM, then SIGKILL);
/// anything left in the namespace dies with it.
pub fn keepalived(ns: &Netns, dir: &Path, tag: &str, conf: &str) -> Result<Proc> {
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        ns.name(),
        "keepalived",
        "-n",
        "-l",
        "-D",
        "-P",
        "-f",
    ])
    .arg(&path)
    .arg("-p")
    .arg(dir.join(format!("{tag}.pid")))
    .arg("-r")
    .arg(dir.join(format!("{tag}-vrrp.pid")));
    Proc::spawn(
        &format!("keepalived {tag}"),
        &mut cmd,
        &dir.join(format!("{tag}.log")),
    )
}

/// One frame seen by a [`Capture`], with when it was seen.
#[derive(Clone, Debug)]
pub struct Captured {
    /// When the capture thread read it.
    pub at: Instant,
    /// The Ethernet frame (at most 2048 bytes of it).
    pub frame: Vec<u8>,
}

/// A bounded capture of the frames an interface receives (not those it sends), on a raw
/// AF_PACKET socket in a background thread. It stops at its time limit or after `max`
/// frames, whichever comes first, or when finished or dropped.
///
/// On a switch port of a [`Lan`] (`lan.switch`, `host.port`) it sees exactly what that host
/// sends, and none of the traffic the bridge forwards to it.
pub struct Capture {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    frames: std::sync::Arc<std::sync::Mutex<Vec<Captured>>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Capture {
    /// Starts capturing on `iface` in `ns`; the socket is bound before this returns.
    pub fn start(ns: &Netns, iface: &str, max: usize, limit: Duration) -> Result<Capture> {
        use std::os::fd::AsRawFd;
        let sock = PacketSocket::open(ns, iface)?;
        let fd = sock.fd.as_raw_fd();
        let set = |level: i32, name: i32, val: &[u8]| -> Result<()> {
            // SAFETY: setsockopt reads `val.len()` bytes from `val`.
            let rc =
                unsafe { libc::setsockopt(fd, level, name, val.as_ptr().cast(), val.len() as u32) };
            if rc != 0 {
                bail!(
                    "setsockopt({level}, {name}): {}",
                    std::io::Error::last_os_error()
                );
            }
            Ok(())
        };
        // Frames the interface sends (here: the bridge forwarding to the host) are not
        // wanted; the flood the tests generate would fill the buffer with them.
        set(
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &1i32.to_ne_bytes(),
        )?;
        set(
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &(4i32 << 20).to_ne_bytes(),
        )?;
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        // SAFETY: timeval is plain data; the slice covers exactly it.
        let tv_bytes = unsafe {
            std::slice::from_raw_parts(
                (&tv as *const libc::timeval).cast::<u8>(),
                std::mem::size_of::<libc::timeval>(),
            )
        };
        set(libc::SOL_SOCKET, libc::SO_RCVTIMEO, tv_bytes)?;
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sa.sll_ifindex = sock.ifindex as i32;
        // SAFETY: bind reads `sa`, valid for the length given.
        let rc = unsafe {
            libc::bind(
                fd,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            bail!(
                "bind(AF_PACKET, {iface}): {}",
                std::io::Error::last_os_error()
            );
        }
        // Frames queued between socket() and bind() may belong to any interface: drop them.
        let mut buf = vec![0u8; 2048];
        loop {
            // SAFETY: recv writes at most `buf.len()` bytes into `buf`.
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n < 0 {
                break;
            }
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let frames2 = frames.clone();
        let thread = std::thread::spawn(move || -> Result<()> {
            let deadline = Instant::now() + limit;
            let mut n_seen = 0;
            while n_seen < max && Instant::now() < deadline && !stop2.load(Ordering::Relaxed) {
                // SAFETY: recv writes at most `buf.len()` bytes into `buf`.
                let n = unsafe {
                    libc::recv(sock.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                        _ => bail!("recv on the capture socket: {e}"),
                    }
                }
                let c = Captured {
                    at: Instant::now(),
                    frame: buf[..n as usize].to_vec(),
                };
                frames2
                    .lock()
                    .map_err(|_| anyhow::anyhow!("capture buffer poisoned"))?
                    .push(c);
                n_seen += 1;
            }
            Ok(())
        });
        Ok(Capture {
            stop,
            frames,
            thread: Some(thread),
        })
    }

    /// A copy of what the capture saw so far, while it goes on.
    pub fn seen(&self) -> Vec<Captured> {
        self.frames.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits (polling every 20 ms, at most `timeout`) until `done` holds for what the
    /// capture saw so far: a test waits for what must arrive instead of sleeping a fixed
    /// time that a busy machine can overrun. Then stops the capture and returns everything
    /// it saw, whether or not `done` came to hold (the caller's assertions say what was
    /// missing).
    pub fn finish_when(
        self,
        timeout: Duration,
        mut done: impl FnMut(&[Captured]) -> bool,
    ) -> Result<Vec<Captured>> {
        wait_for(timeout, || done(&self.seen()).then_some(()));
        self.finish()
    }

    /// Stops the capture and returns what it saw.
    pub fn finish(mut self) -> Result<Vec<Captured>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .context("capture already finished")?
            .join()
            .map_err(|_| anyhow::anyhow!("capture thread panicked"))??;
        let frames = self
            .frames
            .lock()
            .map_err(|_| anyhow::anyhow!("capture buffer poisoned"))?;
        Ok(frames.clone())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A vrrp-agent started by [`start_agent`]: the process, then its pin directory (dropped in
/// that order: the agent stops, removing its pins, before the directory is cleaned up).
pub struct Agent {
    /// The `vrrp-agent run` process.
    pub proc: Proc,
    /// Its pin directory on /sys/fs/bpf.
    pub pins: PinDir,
}

/// Starts `vrrp-agent run` inside `ns` on `conf` (written to `dir/<tag>.conf`), with a pin
/// directory of its own and `RUST_LOG=info` to `dir/<tag>.log`, and waits (up to 20 s) until
/// it logs "instance ready".
pub fn start_agent(ns: &Netns, dir: &Path, tag: &str, conf: &str) -> Result<Agent> {
    start_agent_with(ns, dir, tag, conf, &[])
}

/// [`start_agent`] with more arguments for `vrrp-agent run`. The log level is `info`, or
/// what `VRRP_AGENT_LOG` says (e.g. `vrrp_agent=debug`).
pub fn start_agent_with(
    ns: &Netns,
    dir: &Path,
    tag: &str,
    conf: &str,
    args: &[&str],
) -> Result<Agent> {
    start_agent_env(ns, dir, tag, conf, args, &[])
}

/// [`start_agent_with`] with more environment variables for the agent.
pub fn start_agent_env(
    ns: &Netns,
    dir: &Path,
    tag: &str,
    conf: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Agent> {
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    let pins = pin_dir(tag);
    let mut cmd = ns.command(agent_bin()?);
    cmd.arg("run")
        .arg("-f")
        .arg(&path)
        .arg("--pin-dir")
        .arg(&pins)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("VRRP_AGENT_LOG").unwrap_or_else(|_| "info".into()),
        )
        .envs(env.iter().copied());
    let mut proc = Proc::spawn(tag, &mut cmd, &dir.join(format!("{tag}.log")))?;
    proc.wait_log("instance ready", agent_start_limit())?;
    Ok(Agent { proc, pins })
}

/// How long an agent may take to start. Loading the XDP program runs the verifier, which in a
/// VM without KVM (`VRRP_TEST_IN_VM`, `cargo xtask test-kernels`) on a busy host took more
/// than 20 s.
fn agent_start_limit() -> Duration {
    if std::env::var_os("VRRP_TEST_IN_VM").is_some() {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(20)
    }
}

/// Runs `f` on a thread that has entered `ns`'s network namespace (sockets it opens live
/// there; the calling thread stays where it is).
pub fn in_netns<T: Send>(ns: &Netns, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{}", ns.name());
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            let nsf = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            // SAFETY: setns on this thread only, with a namespace fd we own.
            if unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            f()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("thread in {path} panicked"))?
    })
}

/// MAC address of `iface` in `ns`, from `ip -o link show`.
pub fn link_mac(ns: &Netns, iface: &str) -> Result<vrrp_agent::wire::MacAddr> {
    let line = ns.ip(&["-o", "link", "show", iface])?;
    let text = line
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .context("no link/ether in `ip link show`")?;
    let mut bytes = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut bytes {
        *b = u8::from_str_radix(parts.next().context("short MAC")?, 16)?;
    }
    Ok(vrrp_agent::wire::MacAddr(bytes))
}

/// Two namespaces joined by a veth pair: A at 198.18.0.1/24, B at 198.18.0.2/24.
pub struct VethPair {
    pub a: Netns,
    pub b: Netns,
    pub a_if: String,
    pub b_if: String,
    pub a_ifindex: u32,
    pub a_mac: vrrp_agent::wire::MacAddr,
    pub b_mac: vrrp_agent::wire::MacAddr,
}

impl VethPair {
    /// Address of A's end.
    pub const A_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 1);
    /// Address of B's end.
    pub const B_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 2);

    /// A new pair; `tag` names the namespaces and interfaces.
    pub fn new(tag: &str) -> Result<VethPair> {
        let a = Netns::new(&format!("{tag}a"))?;
        let b = Netns::new(&format!("{tag}b"))?;
        let (a_if, b_if) = (unique(&format!("{tag}a")), unique(&format!("{tag}b")));
        veth(&a, &a_if, &b, &b_if)?;
        a.ip(&["addr", "add", &format!("{}/24", Self::A_ADDR), "dev", &a_if])?;
        b.ip(&["addr", "add", &format!("{}/24", Self::B_ADDR), "dev", &b_if])?;
        Ok(VethPair {
            a_ifindex: a.ifindex(&a_if)?,
            a_mac: link_mac(&a, &a_if)?,
            b_mac: link_mac(&b, &b_if)?,
            a,
            b,
            a_if,
            b_if,
        })
    }
}

impl VethPair {
    /// The virtual address the tx tests' adverts carry.
    pub const VIP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 100);

    /// A VRRPv3 advert for `vrid`: priority 100, 0.1 s, [`Self::VIP`].
    pub fn v3(vrid: u8) -> vrrp_agent::wire::vrrp::Repr {
        use vrrp_agent::wire::vrrp::{Auth, Repr, Version};
        Repr {
            version: Version::V3,
            vrid,
            priority: 100,
            max_adver_int: vrrp_agent::units::Centisecs::new(10),
            addresses: vec![Self::VIP.into()],
            auth: Auth::None,
        }
    }

    /// A VRRPv2 PASS ("secret12") advert for `vrid`: priority 150, 1 s, [`Self::VIP`].
    pub fn v2_pass(vrid: u8) -> vrrp_agent::wire::vrrp::Repr {
        use vrrp_agent::wire::vrrp::{Auth, Repr, Version};
        Repr {
            version: Version::V2,
            vrid,
            priority: 150,
            max_adver_int: vrrp_agent::units::Centisecs::new(100),
            addresses: vec![Self::VIP.into()],
            auth: Auth::pass(b"secret12"),
        }
    }
}

#[cfg(test)]
mod unique_names {
    use super::*;

    #[test]
    fn names_fit_an_interface_and_never_repeat() {
        let pid = base36(u64::from(std::process::id()), 5);
        assert_eq!(base36(0, 3), "000");
        assert_eq!(base36(4_194_304, 5), "2hwcg");
        let short = unique("hs");
        assert!(short.starts_with("hs") && short.contains(&pid), "{short}");
        let long = unique("a-very-long-prefix");
        assert_eq!(long.len(), NAME_MAX, "{long}");
        assert!(long.contains(&pid), "the tail is never cut: {long}");
        // From several threads at once: all distinct, all within the limit.
        let names: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..3000).map(|_| unique("vrrp-cli")).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        assert_eq!(names.len(), 12_000);
        assert!(names.iter().all(|n| n.len() <= NAME_MAX));
        let set: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(set.len(), names.len(), "a name repeated");
    }

    #[test]
    fn temp_dirs_keep_their_tag_and_are_never_shared() {
        let a = TempDir::new("vrrp-hs-a-long-tag").unwrap();
        let b = TempDir::new("vrrp-hs-a-long-tag").unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("vrrp-hs-a-long-tag-"), "{name}");
        assert!(a.path().is_dir() && b.path().is_dir());
    }
}

#[cfg(test)]
mod spawning {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// What made CI fail once: a test copies a program and runs it while another test thread
    /// forks, so the copy is "busy" (ETXTBSY) for a moment. Proc::spawn must wait that out.
    #[test]
    fn a_program_just_written_runs_while_other_threads_fork() {
        let dir = TempDir::new("vrrp-hs-spawn").unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Forks as fast as it can, bounded in count.
                for _ in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let _ = Command::new("/bin/true").status();
                }
            });
            let result = (0..200).try_for_each(|i| {
                let program = dir.path().join(format!("true{i}"));
                std::fs::copy("/bin/true", &program)?;
                let mut p =
                    Proc::spawn("copy", &mut Command::new(&program), &dir.path().join("log"))?;
                p.wait_timeout(Duration::from_secs(5));
                anyhow::Ok(())
            });
            stop.store(true, Ordering::Relaxed);
            result.unwrap();
        });
    }
}
