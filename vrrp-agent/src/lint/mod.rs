//! Checks that need more than one configuration file.
//!
//! - [`pair`]: two nodes' keepalived.conf against each other (`check -f A --peer B`):
//!   the mistakes the guides' troubleshooting sections list, which each file alone passes.
//! - [`report`]: how `check --peer` prints the findings (text or JSON) and its exit code.
pub mod pair;
pub mod report;

#[cfg(test)]
mod tests;
