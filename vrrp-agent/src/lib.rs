//! vrrp-agent: a VRRP daemon whose receive path is an XDP program.
//!
//! One module per concern: `config` (keepalived.conf -> typed config -> validation),
//! `wire` (VRRP packets), `election` (the sans-I/O state machine), `dataplane` (the only
//! user of aya: load, attach, typed map access).
pub mod announce;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod dump;
pub mod election;
pub mod lint;
pub mod metrics;
pub mod netlink;
pub mod notify;
pub mod process;
pub mod runtime;
pub mod systemd;
pub mod track;
pub mod tuning;
pub mod tx;
pub mod units;
pub mod wire;
