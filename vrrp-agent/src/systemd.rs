//! Running under systemd: readiness and the watchdog (`sd_notify`, through the `sd-notify`
//! crate), and the journal's log format.
//!
//! - `READY=1` once every instance has started and XDP is attached (`Type=notify`), and
//!   `STOPPING=1` when a stop begins.
//! - `WATCHDOG=1` from the main loop itself at half of `WATCHDOG_USEC` (set by `WatchdogSec=`),
//!   so that a hung loop stops feeding it and systemd restarts the agent. Without
//!   `WATCHDOG_USEC` (or with `WATCHDOG_PID` naming another process) nothing is sent.
//! - Outside systemd (no `NOTIFY_SOCKET`) every call here does nothing.
use std::{fmt, time::Duration};

use sd_notify::NotifyState;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::{
    fmt::{
        format::{self, FormatEvent, FormatFields, Writer},
        FmtContext,
    },
    registry::LookupSpan,
};

/// Tells systemd the agent is ready (every instance started, XDP attached).
pub fn notify_ready(instances: usize) {
    let status = format!("{instances} instance(s) running");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Tells systemd a stop has begun (priority 0, VIPs removed, XDP detached follow).
pub fn notify_stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(
            "telling systemd ({:?}): {e}",
            std::env::var_os("NOTIFY_SOCKET")
        );
    }
}

/// The watchdog systemd asked for (`WatchdogSec=`), fed from the main loop.
pub struct Watchdog {
    ticks: Option<tokio::time::Interval>,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC` (and `WATCHDOG_PID`): pings at half the interval, or never.
    pub fn from_env() -> Watchdog {
        let ticks = watchdog_period().map(|every| {
            tracing::info!(every = ?every, "feeding the systemd watchdog");
            let mut i = tokio::time::interval(every);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        Watchdog { ticks }
    }

    /// Resolves when the next ping is due; never when there is no watchdog.
    pub async fn tick(&mut self) {
        match &mut self.ticks {
            Some(i) => {
                i.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// `WATCHDOG=1`.
    pub fn ping(&self) {
        send(&[NotifyState::Watchdog]);
    }
}

/// Half of the watchdog interval systemd set for this process, if it set one.
///
/// As sd_watchdog_enabled(3) reads it: `WATCHDOG_USEC`, for this process unless
/// `WATCHDOG_PID` names another one. (The sd-notify crate's `watchdog_enabled` also requires
/// `WATCHDOG_PID`, which systemd sets but need not.)
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM` (set by systemd for
/// `StandardError=journal`) names stderr's device and inode. A child that inherited the
/// variable but not the stream (stderr redirected to a file) does not match.
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr()) {
        Ok(st) => st.st_dev == dev && st.st_ino == ino,
        Err(_) => false,
    }
}

/// The syslog priority of a tracing level (sd-daemon.h's `SD_ERR` .. `SD_DEBUG`).
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Log lines for the journal: each line starts with its syslog priority (`<4>` for a
/// warning), as sd-daemon.h describes for stderr streams; no timestamp (the journal adds
/// its own) and no level word.
pub struct JournalFormat {
    inner: format::Format<format::Full, ()>,
}

impl Default for JournalFormat {
    fn default() -> Self {
        JournalFormat {
            inner: format::format().without_time().with_level(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut text = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut text), event)?;
        let priority = syslog_priority(*event.metadata().level());
        // The journal reads the prefix per line: a multi-line message keeps its priority.
        for line in text.trim_end_matches('\n').split('\n') {
            writeln!(writer, "<{priority}>{line}")?;
        }
        Ok(())
    }
}

/// Installs the global log subscriber for stderr: the journal's format when stderr is the
/// journal, otherwise the usual lines with time and level. `directive` applies unless
/// `RUST_LOG` is set.
pub fn init_logging(directive: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directive));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if stderr_is_journal() {
        builder
            .with_ansi(false)
            .event_format(JournalFormat::default())
            .init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(syslog_priority(Level::ERROR), 3);
        assert_eq!(syslog_priority(Level::WARN), 4);
        assert_eq!(syslog_priority(Level::INFO), 6);
        assert_eq!(syslog_priority(Level::DEBUG), 7);
    }

    #[test]
    fn journal_format_prefixes_every_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .event_format(JournalFormat::default())
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(vrid = 51, "two\nlines");
            tracing::error!("bad");
            tracing::info!("fine");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("<4>") && lines[0].contains("two"),
            "{text}"
        );
        assert!(lines[1].starts_with("<4>lines"), "{text}");
        assert!(lines[1].contains("vrid=51"), "{text}");
        assert!(
            lines[2].starts_with("<3>") && lines[2].contains("bad"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("<6>") && lines[3].contains("fine"),
            "{text}"
        );
        assert!(!text.contains("WARN") && !text.contains("INFO"), "{text}");
    }
}
