//! keepalived's notify FIFO lines that are not state changes. `notify_priority_changes`
//! (instance, or the global `vrrp_notify_priority_changes`): every change of an instance's
//! effective priority writes `INSTANCE "VI_1" MASTER_PRIORITY 150` (while Master) or
//! `INSTANCE "VI_1" BACKUP_PRIORITY 150` (otherwise) to the notify FIFOs; keepalived 2.2.7
//! runs no script for it (`send_instance_priority_notifies`).
use super::{queue::subject_event, Notifier, Stats, Subject};

/// The FIFO line of a priority change of instance `name`.
pub fn priority_line(name: &str, master: bool, priority: u8) -> String {
    let event = if master {
        "MASTER_PRIORITY"
    } else {
        "BACKUP_PRIORITY"
    };
    format!("INSTANCE \"{name}\" {event} {priority}\n")
}

impl Notifier {
    /// Reports instance `name`'s new effective priority on the FIFOs (never waits).
    pub fn priority_changed(&mut self, name: &str, master: bool, priority: u8) {
        let line = priority_line(name, master, priority);
        for fifo in &self.fifos {
            match fifo.write_line(&line) {
                Ok(()) => Stats::bump(&self.stats.fifo_lines),
                Err(e) => {
                    Stats::bump(&self.stats.fifo_dropped);
                    let subject = Subject::Instance;
                    subject_event!(warn, subject, name, fifo = %fifo.path().display(),
                        "{} priority line dropped: {e}", fifo.keyword());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_keepalived_s() {
        assert_eq!(
            priority_line("VI_1", true, 150),
            "INSTANCE \"VI_1\" MASTER_PRIORITY 150\n"
        );
        assert_eq!(
            priority_line("VI_1", false, 90),
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n"
        );
    }
}
