//! The chaos soak (`cargo xtask soak`) for 90 s with a fixed seed (one whose first 18
//! faults include every kind): three agents and one
//! keepalived on a bridge with a client, under SIGKILL/SIGTERM and restart, link faults,
//! loss, partition, delay and reordering on one port, SIGHUP with a new priority, health
//! check flips and bursts of invalid adverts. Every invariant of the checker must hold:
//! 0 violations. Needs root.
use std::time::Duration;

use vrrp_tests::soak::{self, Options};

#[test]
fn chaos_soak_90_seconds_has_no_violation() {
    let report = soak::run(Options {
        duration: Duration::from_secs(90),
        seed: soak::faults::TEST_SEED,
        // A busy 2-core machine: the settle bounds get 1.5 s of scheduling margin.
        margin: 1.5,
        warmup: 15.0,
    })
    .expect("the soak ran");
    assert!(report.faults >= 10, "only {} faults in 90 s", report.faults);
    assert!(
        report.violations.is_empty(),
        "{} violation(s):\n{}",
        report.violations.len(),
        report.table
    );
}
