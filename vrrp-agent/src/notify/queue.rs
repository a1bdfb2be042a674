//! One queue per subject (instance or sync group): a tokio task that runs the commands of
//! each transition one after another, in the order the transitions happened.
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::sync::{mpsc, oneshot, watch};

use super::{NotifyState, Subject};
use crate::process::{self, Command, Outcome};

/// Logs with the subject as field `instance` or `group`.
macro_rules! subject_event {
    ($level:ident, $subject:expr, $name:expr, $($rest:tt)+) => {
        match $subject {
            $crate::notify::Subject::Instance => tracing::$level!(instance = %$name, $($rest)+),
            $crate::notify::Subject::Group => tracing::$level!(group = %$name, $($rest)+),
        }
    };
}
pub(super) use subject_event;

/// The commands of one transition, arguments already appended.
#[derive(Debug)]
pub(super) struct Job {
    pub state: NotifyState,
    /// (keyword, command), in the order they run.
    pub commands: Vec<(&'static str, Command)>,
}

#[derive(Debug)]
enum Msg {
    Run(Job),
    /// Answered once everything queued before it is done.
    Barrier(oneshot::Sender<()>),
}

/// Counters the queues update, shared with every [`super::Notifier`] that uses them.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub aborted: AtomicU64,
    pub fifo_lines: AtomicU64,
    pub fifo_dropped: AtomicU64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The sending side of one subject's queue. Clones share the queue; the task ends once the
/// last clone is gone and the queue is empty.
#[derive(Debug, Clone)]
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Msg>,
    abort: Arc<watch::Sender<bool>>,
}

impl Queue {
    /// Starts the task on the current tokio runtime; `None` outside one.
    pub fn spawn(
        subject: Subject,
        name: &str,
        timeout: Duration,
        stats: Arc<Stats>,
    ) -> Option<Queue> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (abort, abort_rx) = watch::channel(false);
        handle.spawn(worker(subject, name.into(), rx, abort_rx, timeout, stats));
        Some(Queue {
            tx,
            abort: Arc::new(abort),
        })
    }

    /// Queues a job; never waits. False if the task is gone.
    pub fn push(&self, job: Job) -> bool {
        self.tx.send(Msg::Run(job)).is_ok()
    }

    /// Resolves once everything queued so far has been run (or skipped after an abort).
    pub fn barrier(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        // If the task is gone, `tx` is dropped here and `rx` resolves at once.
        let _ = self.tx.send(Msg::Barrier(tx));
        rx
    }

    /// Another notifier (a reloaded one) uses this queue too.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.abort) > 1
    }

    /// The task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Kills the command running now and skips the rest of the queue (for good).
    pub fn abort(&self) {
        self.abort.send_replace(true);
    }
}

async fn worker(
    subject: Subject,
    name: Arc<str>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut abort: watch::Receiver<bool>,
    timeout: Duration,
    stats: Arc<Stats>,
) {
    while let Some(msg) = rx.recv().await {
        let job = match msg {
            Msg::Barrier(done) => {
                let _ = done.send(());
                continue;
            }
            Msg::Run(job) => job,
        };
        for (keyword, cmd) in &job.commands {
            if *abort.borrow() {
                Stats::bump(&stats.aborted);
                subject_event!(warn, subject, name, state = %job.state, command = %cmd,
                    "{keyword} not run: shutting down");
                continue;
            }
            let outcome = tokio::select! {
                outcome = process::run_with(cmd, Some(timeout), process::Leftovers::Keep) => outcome,
                () = aborted(&mut abort) => {
                    // Dropping the `run` future killed the command's process group.
                    Stats::bump(&stats.aborted);
                    subject_event!(warn, subject, name, state = %job.state, command = %cmd,
                        "{keyword} killed: shutting down");
                    continue;
                }
            };
            report(
                subject, &name, job.state, keyword, cmd, &outcome, timeout, &stats,
            );
        }
    }
}

/// Resolves when an abort is asked for; never if the last sender went away without one.
async fn aborted(abort: &mut watch::Receiver<bool>) {
    if abort.wait_for(|a| *a).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    subject: Subject,
    name: &str,
    state: NotifyState,
    keyword: &str,
    cmd: &Command,
    outcome: &Outcome,
    timeout: Duration,
    stats: &Stats,
) {
    match outcome {
        o if o.success() => {
            Stats::bump(&stats.succeeded);
            subject_event!(debug, subject, name, state = %state, command = %cmd, "{keyword} done");
        }
        Outcome::TimedOut => {
            Stats::bump(&stats.timed_out);
            subject_event!(warn, subject, name, state = %state, command = %cmd,
                "{keyword} still running after {timeout:?}: killed its process group");
        }
        o => {
            Stats::bump(&stats.failed);
            subject_event!(warn, subject, name, state = %state, command = %cmd,
                "{keyword} failed: {o}");
        }
    }
}
