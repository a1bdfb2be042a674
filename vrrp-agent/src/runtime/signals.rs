//! The signals `run` answers, installed before it changes anything so that none of them
//! can kill it with its default action (which would leave the VIPs without a priority-0
//! advert).
//!
//! - SIGTERM, SIGINT: stop (priority 0, VIPs removed, pins removed).
//! - SIGHUP: reload.
//! - The signals keepalived users send for dumps (`keepalived --signum=NAME`): SIGUSR1
//!   (DATA, `/tmp/keepalived.data`), SIGUSR2 (STATS, `/tmp/keepalived.stats`), SIGRTMIN+2
//!   (JSON, `/tmp/keepalived.json`), SIGRTMAX-1 (STATS_CLEAR). The runtime writes the
//!   first three (`dumps`, `crate::dump`) and logs that it cannot clear statistics.
//! - SIGPIPE stays ignored (Rust's start-up sets it so; `main` makes sure): a closed pipe
//!   is an error on that write, never the end of the process.
use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// A keepalived dump request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// SIGUSR1: keepalived writes `/tmp/keepalived.data`.
    Data,
    /// SIGUSR2: keepalived writes `/tmp/keepalived.stats`.
    Stats,
    /// SIGRTMIN+2: keepalived writes `/tmp/keepalived.json`.
    Json,
    /// SIGRTMAX-1: keepalived clears its statistics.
    StatsClear,
}

impl Dump {
    /// The signal, as logs name it.
    pub fn signal_name(self) -> &'static str {
        match self {
            Dump::Data => "SIGUSR1",
            Dump::Stats => "SIGUSR2",
            Dump::Json => "SIGRTMIN+2",
            Dump::StatsClear => "SIGRTMAX-1",
        }
    }

    /// What keepalived does on it.
    pub fn what(self) -> &'static str {
        match self {
            Dump::Data => "a state dump to /tmp/keepalived.data",
            Dump::Stats => "a statistics dump to /tmp/keepalived.stats",
            Dump::Json => "a JSON dump to /tmp/keepalived.json",
            Dump::StatsClear => "clearing the statistics",
        }
    }
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGTERM or SIGINT (the name).
    Stop(&'static str),
    /// SIGHUP.
    Reload,
    Dump(Dump),
}

/// The installed handlers.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
    json: Signal,
    stats_clear: Signal,
}

impl Signals {
    /// Installs every handler (inside a tokio runtime). From here on, a signal that comes
    /// before the loop reads it waits for it.
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            json: signal(SignalKind::from_raw(libc::SIGRTMIN() + 2))?,
            stats_clear: signal(SignalKind::from_raw(libc::SIGRTMAX() - 1))?,
        })
    }

    /// The next request; stops first when several are pending.
    pub async fn recv(&mut self) -> Request {
        tokio::select! {
            biased;
            Some(()) = self.term.recv() => Request::Stop("SIGTERM"),
            Some(()) = self.int.recv() => Request::Stop("SIGINT"),
            Some(()) = self.hup.recv() => Request::Reload,
            Some(()) = self.usr1.recv() => Request::Dump(Dump::Data),
            Some(()) = self.usr2.recv() => Request::Dump(Dump::Stats),
            Some(()) = self.json.recv() => Request::Dump(Dump::Json),
            Some(()) = self.stats_clear.recv() => Request::Dump(Dump::StatsClear),
            // Only if tokio's signal driver went away.
            else => std::future::pending().await,
        }
    }
}
