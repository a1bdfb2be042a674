//! A router's daemon in a lab, vrrp-agent or keepalived, and the VRRP state its log
//! reported last (shared by the interop and IPv6 labs).

use crate::{PinDir, Proc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    Agent,
    Keepalived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Backup,
    Master,
    Fault,
    Stopped,
}

/// One router's daemon.
pub struct Speaker {
    pub daemon: Daemon,
    pub proc: Proc,
    /// The agent's pin directory.
    pub pins: Option<PinDir>,
}

impl Speaker {
    /// The state the daemon's log reported last.
    pub fn logged_state(&self) -> Option<State> {
        let log = self.proc.log_text();
        let needles: &[(&str, State)] = match self.daemon {
            Daemon::Keepalived => &[
                ("Entering MASTER STATE", State::Master),
                ("Entering BACKUP STATE", State::Backup),
                ("Entering FAULT STATE", State::Fault),
                ("Stopped", State::Stopped),
            ],
            Daemon::Agent => &[
                ("-> Master:", State::Master),
                ("-> Backup:", State::Backup),
                ("-> Fault:", State::Fault),
                ("-> Initialize:", State::Stopped),
            ],
        };
        needles
            .iter()
            .filter_map(|&(n, s)| log.rfind(n).map(|at| (at, s)))
            .max_by_key(|&(at, _)| at)
            .map(|(_, s)| s)
    }
}
