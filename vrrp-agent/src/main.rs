//! `vrrp-agent`: check a keepalived.conf, or run VRRP with an XDP data plane.
use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use vrrp_agent::{dataplane, runtime, systemd};

#[derive(Parser)]
#[command(
    version,
    about = "VRRP (RFC 9568 / RFC 3768) with an XDP data plane; reads keepalived.conf"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Parse and validate a keepalived.conf, like `keepalived -t`: exit 0 when usable
    /// (warnings printed), 1 on any error.
    Check {
        /// The configuration file.
        #[arg(
            short = 'f',
            long = "config",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// Another node's configuration: check the nodes against each other (VRID by VRID)
        /// instead; exit 0 clean, 1 errors, 2 warnings only. Repeat for more nodes.
        #[arg(long, value_name = "FILE")]
        peer: Vec<PathBuf>,
        /// With --peer: print the findings as one JSON object (see README).
        #[arg(long, requires = "peer")]
        json: bool,
        /// keepalived's config id (its -i): `@ID` lines are kept for it. Default: the host
        /// name up to its first dot.
        #[arg(short = 'i', long, value_name = "ID")]
        config_id: Option<String>,
        /// Print only, with file:line, every place where this daemon and keepalived 2.2.7
        /// behave differently, or where keepalived itself ignores something.
        #[arg(long)]
        compat: bool,
    },
    /// Run in the foreground until SIGTERM or SIGINT; logs go to stderr (--log-level, or
    /// RUST_LOG, which wins when set).
    Run {
        /// The configuration file.
        #[arg(
            short = 'f',
            long = "config",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// keepalived's config id (its -i): `@ID` lines are kept for it. Default: the host
        /// name up to its first dot.
        #[arg(short = 'i', long, value_name = "ID")]
        config_id: Option<String>,
        /// Directory on a BPF filesystem to pin the maps under.
        #[arg(long, default_value = dataplane::DEFAULT_PIN_DIR)]
        pin_dir: PathBuf,
        /// XDP mode: auto (native, falling back to skb; skb on veth), native, or skb.
        #[arg(long, default_value = "auto")]
        xdp_mode: dataplane::XdpModeChoice,
        /// Let valid adverts go on to the IP stack after XDP recorded them, so that packet
        /// captures on this host (tcpdump) show them. By default they end in XDP.
        #[arg(long)]
        pass_adverts: bool,
        /// Log level: error, warn, info, debug or trace. RUST_LOG, when set, wins (it can
        /// also filter per module, e.g. RUST_LOG=vrrp_agent::runtime=debug).
        #[arg(long, value_name = "LEVEL", default_value = "info")]
        log_level: LogLevel,
        /// Drop VRRP packets for VRIDs no instance here configures. By default they go on
        /// to the stack, so that another VRRP speaker on this host (keepalived during a
        /// migration) keeps working; both ways they are counted in VRRP_UNKNOWN.
        #[arg(long)]
        drop_unknown_vrids: bool,
        /// Serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. 127.0.0.1:9165).
        /// Off by default.
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Unix socket for `status` and `reload` (mode 0600). Default:
        /// /run/vrrp-agent/control.sock; in a network namespace named NAME
        /// (`ip netns`), control-NAME.sock there.
        #[arg(long, value_name = "PATH")]
        control_socket: Option<PathBuf>,
    },
    /// Show a running agent's instances (one line each), or one instance in detail. Exit
    /// 0: all MASTER or BACKUP; 1: error; 2: an instance in FAULT; 3: no agent running;
    /// 4: an instance not started yet.
    Status {
        /// Show only this instance, in detail.
        instance: Option<String>,
        /// Print the JSON snapshot instead (README: "Status and control").
        #[arg(long)]
        json: bool,
        /// The agent's control socket (default: as `run` picks it in this network namespace).
        #[arg(long, value_name = "PATH")]
        control_socket: Option<PathBuf>,
    },
    /// Ask a running agent to reload its configuration (as SIGHUP does) and print what
    /// changed or why it was rejected. Exit 0: accepted; 1: error; 2: rejected (the running
    /// configuration stays); 3: no agent running.
    Reload {
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// The agent's control socket (default: as `run` picks it in this network namespace).
        #[arg(long, value_name = "PATH")]
        control_socket: Option<PathBuf>,
    },
    /// Hand instances over to their peers for planned work (`on`: priority 0 once, the VIPs
    /// kept until the new Master is heard, then Backup at priority 1), or give them their
    /// priority back (`off`). Survives a reload, not a restart. Exit 0: done; 1: error (an
    /// unknown instance); 3: no agent running.
    Maintenance {
        /// on or off.
        mode: OnOff,
        /// The instance.
        #[arg(required_unless_present = "all")]
        instance: Option<String>,
        /// Every instance.
        #[arg(long, conflicts_with = "instance")]
        all: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// The agent's control socket (default: as `run` picks it in this network namespace).
        #[arg(long, value_name = "PATH")]
        control_socket: Option<PathBuf>,
    },
    /// Write the man pages (vrrp-agent.8 and one per subcommand, e.g. vrrp-agent-run.8)
    /// generated from this command line definition into a directory.
    #[command(hide = true)]
    Manpages {
        /// The directory.
        out_dir: PathBuf,
    },
}

/// `maintenance on|off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// `run --log-level`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A closed pipe (a notify FIFO reader gone, stderr piped into a pager that quit) must be
    // an error on that write, never the end of the daemon. Rust's start-up already ignores
    // SIGPIPE; this keeps it so whatever the build flags.
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let level = match &cli.cmd {
        Cmd::Run { log_level, .. } => *log_level,
        Cmd::Check { .. }
        | Cmd::Status { .. }
        | Cmd::Reload { .. }
        | Cmd::Maintenance { .. }
        | Cmd::Manpages { .. } => LogLevel::Info,
    };
    // Under systemd with stderr in the journal: `<N>` priority prefixes, no timestamps.
    systemd::init_logging(level.directive());
    match cli.cmd {
        Cmd::Check {
            config,
            peer,
            json,
            config_id,
            compat,
        } => {
            if let Some(id) = config_id {
                vrrp_agent::config::set_config_id(&id);
            }
            if !peer.is_empty() {
                ExitCode::from(vrrp_agent::lint::report::check_nodes(&config, &peer, json))
            } else if compat {
                check_compat(&config)
            } else {
                check(&config)
            }
        }
        Cmd::Status {
            instance,
            json,
            control_socket,
        } => vrrp_agent::control::cli::status(control_socket, instance.as_deref(), json),
        Cmd::Reload {
            json,
            control_socket,
        } => vrrp_agent::control::cli::reload(control_socket, json),
        Cmd::Maintenance {
            mode,
            instance,
            all: _,
            json,
            control_socket,
        } => vrrp_agent::control::maintenance::maintenance(
            control_socket,
            mode == OnOff::On,
            instance,
            json,
        ),
        Cmd::Run {
            config,
            config_id,
            pin_dir,
            xdp_mode,
            pass_adverts,
            log_level: _,
            drop_unknown_vrids,
            metrics_listen,
            control_socket,
        } => {
            if let Some(id) = config_id {
                vrrp_agent::config::set_config_id(&id);
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(runtime::run(runtime::RunOptions {
                config,
                pin_dir,
                xdp_mode,
                pass_adverts,
                drop_unknown_vrids,
                metrics_listen,
                control_socket: Some(
                    control_socket.unwrap_or_else(vrrp_agent::control::default_socket_path),
                ),
            })) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{}error: {e:#}", journal_prefix(3));
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Manpages { out_dir } => manpages(&out_dir),
    }
}

/// The syslog priority prefix (`<3>`) of a line written straight to stderr, when stderr is
/// the journal (`ExecStartPre=vrrp-agent check` under systemd); empty otherwise.
fn journal_prefix(priority: u8) -> String {
    if systemd::stderr_is_journal() {
        format!("<{priority}>")
    } else {
        String::new()
    }
}

/// Writes `text` to stderr, each line after `prefix` (the journal reads priorities per line).
fn eprint_lines(prefix: &str, text: &str) {
    if prefix.is_empty() {
        eprintln!("{text}");
        return;
    }
    for line in text.lines() {
        eprintln!("{prefix}{line}");
    }
}

/// Writes the man pages, generated from this CLI definition, into `dir` (`cargo xtask
/// package` installs them in section 8): one for the command, one per subcommand.
fn manpages(dir: &std::path::Path) -> ExitCode {
    fn generate(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            generate(sub.clone(), dir)?;
        }
        clap_mangen::Man::new(cmd).section("8").generate_to(dir)?;
        Ok(())
    }
    let mut cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    cmd.build();
    let top = dir.join("vrrp-agent.8");
    let extra = || -> std::io::Result<()> {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&top)?
            .write_all(MAN_EXTRA.as_bytes())
    };
    match generate(cmd, dir).and_then(|()| extra()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the man pages to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// The top page's sections that are not in the CLI definition (roff).
const MAN_EXTRA: &str = r#".SH FILES
.TP
/etc/keepalived/keepalived.conf
The configuration the service reads (keepalived's syntax, unchanged).
.TP
/lib/systemd/system/vrrp-agent.service
The systemd unit (Type=notify, watchdog; options in /etc/default/vrrp-agent).
.TP
/run/vrrp-agent/
Locks (one agent per pin directory and network namespace) and the control socket.
.TP
/sys/fs/bpf/vrrp/
The pinned maps (\-\-pin\-dir).
.SH SIGNALS
.TP
SIGTERM, SIGINT
Stop: priority 0 from each Master, VIPs removed, XDP detached.
.TP
SIGHUP
Reload the configuration.
.TP
SIGUSR1, SIGUSR2, SIGRTMIN+2
Write keepalived.data, keepalived.stats, keepalived.json (keepalived's layouts) to $TMPDIR or /tmp.
.SH SEE ALSO
keepalived.conf(5), systemctl(1), journalctl(1)
"#;

fn check(path: &std::path::Path) -> ExitCode {
    match vrrp_agent::config::load(path) {
        Ok(loaded) => {
            let warn = journal_prefix(4);
            for w in &loaded.warnings {
                eprint_lines(&warn, &w.to_string());
            }
            let c = &loaded.config;
            // What keepalived changes in the tracking it is given (weights ignored for sync
            // group members and the address owner), as `run` would log it.
            let notes = vrrp_agent::track::Tracking::new(c).notes().to_vec();
            for n in &notes {
                eprintln!("{warn}{}: warning: {n}", path.display());
            }
            println!(
                "{}: OK ({} instance(s), {} script(s), {} sync group(s), {} warning(s))",
                path.display(),
                c.instances.len(),
                c.scripts.len(),
                c.sync_groups.len(),
                loaded.warnings.len() + notes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let (warn, err) = (journal_prefix(4), journal_prefix(3));
            for w in &e.warnings {
                eprint_lines(&warn, &w.to_string());
            }
            eprint_lines(&err, &e.to_string());
            eprintln!("{err}{}: {} error(s)", path.display(), e.errors.len());
            ExitCode::FAILURE
        }
    }
}

/// `check --compat`: the findings about keepalived compatibility, one per line, then a
/// summary; exit 0 when the file is usable.
fn check_compat(path: &std::path::Path) -> ExitCode {
    use vrrp_agent::config::Category;
    let (warnings, errors, notes) = match vrrp_agent::config::load(path) {
        Ok(loaded) => {
            let notes = vrrp_agent::track::Tracking::new(&loaded.config)
                .notes()
                .to_vec();
            (loaded.warnings, Vec::new(), notes)
        }
        Err(e) => (e.warnings, e.errors, Vec::new()),
    };
    let mut shown = 0;
    for w in warnings.iter().filter(|w| w.category != Category::Advice) {
        println!("{w} [{}]", w.category.label());
        shown += 1;
    }
    for n in &notes {
        println!(
            "{}: warning: {n} [{}]",
            path.display(),
            Category::KeepalivedIgnores.label()
        );
        shown += 1;
    }
    for e in &errors {
        println!("{} [refused]", e.as_error());
    }
    println!(
        "{}: {} compatibility finding(s), {} error(s) (config id `{}`)",
        path.display(),
        shown,
        errors.len(),
        vrrp_agent::config::config_id()
    );
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
