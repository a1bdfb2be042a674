//! What is measured as it happens (not read from a snapshot at scrape time): timings and
//! counts of things the agent does. Process-wide, like the default registry of every
//! Prometheus client: the places that measure (the runtime, the health-check monitors,
//! netlink) need no handle passed through their constructors, and recording costs an atomic
//! add whether or not `--metrics-listen` is on.
use std::{sync::LazyLock, time::Duration};

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The instruments, registered in [`Instruments::registry`].
pub struct Instruments {
    registry: Registry,
    /// `keepalived_master_down_lateness_seconds{path}`.
    master_down_lateness: HistogramVec,
    /// `keepalived_failover_duration_seconds{iname}`.
    failover: HistogramVec,
    /// `keepalived_script_duration_seconds{name}`.
    script_duration: HistogramVec,
    /// `keepalived_script_runs_total{name,result}`.
    script_runs: IntCounterVec,
    /// `keepalived_netlink_errors_total{op}`.
    netlink_errors: IntCounterVec,
    /// `keepalived_metrics_scrape_duration_seconds`.
    scrape: Histogram,
}

/// Where a Master_Down deadline was kept when it ran out.
#[derive(Clone, Copy, Debug)]
pub enum DownPath {
    /// The kernel's watchdog (a BPF timer) fired and told the agent.
    Kernel,
    /// The agent's own timer (no watchdog on this kernel, or it failed).
    Agent,
}

/// How a health-check run ended, for `keepalived_script_runs_total{result}`.
#[derive(Clone, Copy, Debug)]
pub enum RunResult {
    /// Exit status 0.
    Success,
    /// Non-zero exit, killed by a signal, or could not start.
    Failure,
    /// Killed after its `timeout`.
    Timeout,
}

impl RunResult {
    fn label(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failure => "failure",
            RunResult::Timeout => "timeout",
        }
    }
}

/// Seconds, for deadlines a few hundred microseconds to a few hundred milliseconds late.
const LATENESS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Seconds, for takeovers after Master_Down_Intervals of 30 ms (advert_int 0.01) to ~4 s
/// (advert_int 1) and more.
const FAILOVER_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Seconds, for health checks (a fork and exec at least).
const SCRIPT_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(Instruments::new);

/// The process-wide instruments.
pub fn instruments() -> &'static Instruments {
    &INSTRUMENTS
}

impl Instruments {
    fn new() -> Instruments {
        let registry = Registry::new();
        let hist = |name: &str, help: &str, buckets: &[f64], labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("a valid histogram definition");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let master_down_lateness = hist(
            "keepalived_master_down_lateness_seconds",
            "How late a Backup acted on its Master_Down_Timer: from the deadline to the \
             agent taking the decision (path: kernel watchdog or agent timer).",
            LATENESS_BUCKETS,
            &["path"],
        );
        let failover = hist(
            "keepalived_failover_duration_seconds",
            "Takeovers as this node saw them: from the last advert of the previous Master it \
             received to its own change to MASTER.",
            FAILOVER_BUCKETS,
            &["iname"],
        );
        let script_duration = hist(
            "keepalived_script_duration_seconds",
            "Run time of each vrrp_script run (a run killed at its timeout counts its timeout).",
            SCRIPT_BUCKETS,
            &["name"],
        );
        let script_runs = IntCounterVec::new(
            Opts::new(
                "keepalived_script_runs_total",
                "vrrp_script runs by result: success (exit 0), failure, timeout.",
            ),
            &["name", "result"],
        )
        .expect("a valid counter definition");
        registry
            .register(Box::new(script_runs.clone()))
            .expect("registered once");
        let netlink_errors = IntCounterVec::new(
            Opts::new(
                "keepalived_netlink_errors_total",
                "rtnetlink requests that failed, by operation (add_address, remove_address, \
                 set_link, query).",
            ),
            &["op"],
        )
        .expect("a valid counter definition");
        registry
            .register(Box::new(netlink_errors.clone()))
            .expect("registered once");
        let scrape = Histogram::with_opts(
            HistogramOpts::new(
                "keepalived_metrics_scrape_duration_seconds",
                "Time the agent's loop spent answering a scrape (building the snapshot).",
            )
            .buckets(LATENESS_BUCKETS.to_vec()),
        )
        .expect("a valid histogram definition");
        registry
            .register(Box::new(scrape.clone()))
            .expect("registered once");
        Instruments {
            registry,
            master_down_lateness,
            failover,
            script_duration,
            script_runs,
            netlink_errors,
            scrape,
        }
    }

    /// The registry holding every instrument (gathered at each scrape).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A Master_Down deadline that ran out `late` after it was due was acted on.
    pub fn master_down_late(&self, path: DownPath, late: Duration) {
        let label = match path {
            DownPath::Kernel => "kernel",
            DownPath::Agent => "agent",
        };
        self.master_down_lateness
            .with_label_values(&[label])
            .observe(late.as_secs_f64());
    }

    /// Instance `iname` became Master `took` after the previous Master's last advert.
    pub fn failover(&self, iname: &str, took: Duration) {
        self.failover
            .with_label_values(&[iname])
            .observe(took.as_secs_f64());
    }

    /// Health check `name` ran for `took` and ended with `result`.
    pub fn script_run(&self, name: &str, took: Duration, result: RunResult) {
        self.script_duration
            .with_label_values(&[name])
            .observe(took.as_secs_f64());
        self.script_runs
            .with_label_values(&[name, result.label()])
            .inc();
    }

    /// An rtnetlink request `op` failed.
    pub fn netlink_error(&self, op: &'static str) {
        self.netlink_errors.with_label_values(&[op]).inc();
    }

    /// The loop spent `took` building a scrape's snapshot.
    pub fn scraped(&self, took: Duration) {
        self.scrape.observe(took.as_secs_f64());
    }
}
