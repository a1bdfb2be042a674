//! keepalived's notify FIFO lines that are not state changes. `notify_priority_changes`
//! (instance, or the global `vrrp_notify_priority_changes`): every change of an instance's
//! effective priority writes `INSTANCE "VI_1" MASTER_PRIORITY 150` (while Master) or
//! `INSTANCE "VI_1" BACKUP_PRIORITY 150` (otherwise) to the notify FIFOs; keepalived 2.2.7
//! runs no script for it (`send_instance_priority_notifies`).
//!
//! A Master that answers a lower-priority advert (keepalived's `send_event_notify`) writes
//! `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 254` to the FIFOs, whatever the configuration, and
//! runs `notify_master_rx_lower_pri` (no arguments added) if the instance has one. The
//! election answers at most once per advert interval (keepalived: every advert), and so do
//! these.
use super::{
    queue::{subject_event, Job},
    Notifier, NotifyState, Stats, Subject,
};

/// The FIFO line of a priority change of instance `name`.
pub fn priority_line(name: &str, master: bool, priority: u8) -> String {
    let event = if master {
        "MASTER_PRIORITY"
    } else {
        "BACKUP_PRIORITY"
    };
    format!("INSTANCE \"{name}\" {event} {priority}\n")
}

/// The FIFO line of a Master that heard a lower priority.
pub fn rx_lower_line(name: &str, priority: u8) -> String {
    format!("INSTANCE \"{name}\" MASTER_RX_LOWER_PRI {priority}\n")
}

impl Notifier {
    /// Instance `name`, Master at `priority`, answered a lower-priority advert.
    pub fn master_rx_lower_priority(&mut self, name: &str, priority: u8) {
        let key = (Subject::Instance, name.to_string());
        let command = self
            .commands
            .get(&key)
            .and_then(|c| c.master_rx_lower_pri.clone());
        if let Some(cmd) = command {
            let job = Job {
                state: NotifyState::Master,
                commands: vec![("notify_master_rx_lower_pri", cmd)],
            };
            self.enqueue(key, job);
        }
        self.write_event_line(name, &rx_lower_line(name, priority));
    }

    fn write_event_line(&mut self, name: &str, line: &str) {
        for fifo in &self.fifos {
            match fifo.write_line(line) {
                Ok(()) => Stats::bump(&self.stats.fifo_lines),
                Err(e) => {
                    Stats::bump(&self.stats.fifo_dropped);
                    let subject = Subject::Instance;
                    subject_event!(warn, subject, name, fifo = %fifo.path().display(),
                        "{} event line dropped: {e}", fifo.keyword());
                }
            }
        }
    }

    /// Reports instance `name`'s new effective priority on the FIFOs (never waits).
    pub fn priority_changed(&mut self, name: &str, master: bool, priority: u8) {
        self.write_event_line(name, &priority_line(name, master, priority));
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
        assert_eq!(
            rx_lower_line("VI_1", 254),
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 254\n"
        );
    }
}
