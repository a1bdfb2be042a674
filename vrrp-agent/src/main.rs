//! `vrrp-agent`: check a keepalived.conf, or run VRRP with an XDP data plane.
use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use vrrp_agent::{dataplane, runtime};

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
    },
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
        Cmd::Check { .. } => LogLevel::Info,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.directive())),
        )
        .init();
    match cli.cmd {
        Cmd::Check {
            config,
            config_id,
            compat,
        } => {
            if let Some(id) = config_id {
                vrrp_agent::config::set_config_id(&id);
            }
            if compat {
                check_compat(&config)
            } else {
                check(&config)
            }
        }
        Cmd::Run {
            config,
            config_id,
            pin_dir,
            xdp_mode,
            pass_adverts,
            log_level: _,
            drop_unknown_vrids,
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
            })) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match vrrp_agent::config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            let c = &loaded.config;
            // What keepalived changes in the tracking it is given (weights ignored for sync
            // group members and the address owner), as `run` would log it.
            let notes = vrrp_agent::track::Tracking::new(c).notes().to_vec();
            for n in &notes {
                eprintln!("{}: warning: {n}", path.display());
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
            for w in &e.warnings {
                eprintln!("{w}");
            }
            eprintln!("{e}");
            eprintln!("{}: {} error(s)", path.display(), e.errors.len());
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
