//! Prometheus metrics (`run --metrics-listen ADDR:PORT`, off by default): `/metrics` in the
//! Prometheus text format. keepalived-exporter's series keep their names, labels and values
//! (dashboards built on it work unchanged); what only this agent can see (XDP discards by
//! reason, watchdog lateness, failover durations, health-check timings, notify results,
//! netlink errors, lost ring-buffer events) follows under the same `keepalived_` prefix.
//!
//! - [`view`]: what a scrape shows, as data the agent's loop fills in, and its text;
//! - [`instruments`]: timings and counts recorded as things happen, process-wide;
//! - [`server`]: the HTTP endpoint.
mod instruments;
mod server;
mod view;

pub use instruments::{instruments, DownPath, Instruments, RunResult};
pub use server::{serve, Scrapes, ServeError, ViewRequest};
pub use view::{
    discard_label, ka_address, render, state_number, KernelView, NotifyView, ScriptView, View,
};

/// The address the systemd unit and the README use.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9165";
