//! `vrrp_sync_group`: members change state together (keepalived vrrp_sync.c).
//!
//! - A member in FAULT puts every member in FAULT (see `Agent::fault_reason`).
//! - A member that becomes Master takes the others with it; one that leaves Master for
//!   Backup takes the others back to Backup (`Input::GroupMaster` / `Input::GroupBackup`).
//! - The group has a state of its own for its notify commands: FAULT as soon as one member
//!   is in FAULT, MASTER or BACKUP once every member is, STOP once every member stopped.
use crate::{election::State, notify::NotifyState};

/// A sync group as the runtime tracks it.
#[derive(Debug, Clone)]
pub(super) struct GroupRt {
    pub name: String,
    pub members: Vec<String>,
    /// The state last notified.
    pub notified: Option<NotifyState>,
}

/// The group's state from its members' states, or `None` while they disagree (a transition
/// in progress).
pub(super) fn group_state(members: impl IntoIterator<Item = State>) -> Option<NotifyState> {
    let mut all = None;
    let mut fault = false;
    let mut mixed = false;
    for s in members {
        fault |= s == State::Fault;
        match all {
            None => all = Some(s),
            Some(a) if a != s => mixed = true,
            Some(_) => {}
        }
    }
    if fault {
        return Some(NotifyState::Fault);
    }
    if mixed {
        return None;
    }
    match all? {
        State::Master => Some(NotifyState::Master),
        State::Backup => Some(NotifyState::Backup),
        State::Initialize => Some(NotifyState::Stop),
        State::Fault => Some(NotifyState::Fault),
    }
}

/// The notify state of one instance entering `state`.
pub(super) fn notify_state(state: State) -> NotifyState {
    match state {
        State::Master => NotifyState::Master,
        State::Backup => NotifyState::Backup,
        State::Fault => NotifyState::Fault,
        State::Initialize => NotifyState::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_state_rules() {
        use State::*;
        assert_eq!(group_state([Master, Master]), Some(NotifyState::Master));
        assert_eq!(group_state([Backup, Backup]), Some(NotifyState::Backup));
        assert_eq!(group_state([Master, Backup]), None);
        assert_eq!(group_state([Master, Fault]), Some(NotifyState::Fault));
        assert_eq!(
            group_state([Backup, Fault, Master]),
            Some(NotifyState::Fault)
        );
        assert_eq!(
            group_state([Initialize, Initialize]),
            Some(NotifyState::Stop)
        );
        assert_eq!(group_state([Initialize, Backup]), None);
        assert_eq!(group_state([]), None);
    }
}
