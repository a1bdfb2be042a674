//! keepalived's email alerts (`smtp_alert`): a mail on each state change of the instances
//! and sync groups that ask for one, with keepalived 2.2.7's subject and body
//! (`vrrp_notify.c` `vrrp_smtp_notifier` / `vrrp_sync_smtp_notifier`, `core/smtp.c`
//! `smtp_alert`): `[ROUTER_ID] VRRP Instance VI_1 - Entering MASTER state`, body
//! `=> VRRP Instance is now owning VRRP VIPs <=`.
//!
//! Sending never holds anything back: each mail is a task of its own (lettre over tokio,
//! plain SMTP as keepalived speaks it, no TLS), bounded by `smtp_connect_timeout` for the
//! connection and each reply and by twice that for the whole exchange; failures are
//! logged. Like keepalived, no mail without `smtp_server` and `notification_email`, and a
//! state mailed already is not mailed again.
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    time::Duration,
};

use lettre::{
    message::Mailbox, transport::smtp::extension::ClientId, AsyncSmtpTransport, AsyncTransport,
    Message, Tokio1Executor,
};

use super::{NotifyState, Subject};
use crate::config::Config;

/// The host name keepalived uses for `router_id`, `notification_email_from` and
/// `smtp_helo_name` when they are not set.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// keepalived's subject and body for `subject` `name` entering `state`.
pub fn alert_text(
    router_id: &str,
    subject: Subject,
    name: &str,
    state: NotifyState,
) -> (String, String) {
    let what = match state {
        NotifyState::Master => "Entering MASTER state",
        NotifyState::Backup => "Entering BACKUP state",
        NotifyState::Fault => "Entering FAULT state",
        NotifyState::Stop => "Stopping",
    };
    let body = match (subject, state) {
        (Subject::Instance, NotifyState::Master) => "=> VRRP Instance is now owning VRRP VIPs <=",
        (Subject::Instance, NotifyState::Backup | NotifyState::Fault) => {
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        }
        (Subject::Instance, NotifyState::Stop) => "=> VRRP Instance stopping <=",
        (Subject::Group, NotifyState::Master) => {
            "=> All VRRP group instances are now in MASTER state <="
        }
        (Subject::Group, NotifyState::Backup) => {
            "=> All VRRP group instances are now in BACKUP state <="
        }
        (Subject::Group, NotifyState::Fault) => {
            "=> All VRRP group instances are now in FAULT state <="
        }
        (Subject::Group, NotifyState::Stop) => "=> All VRRP group instances are now stopping <=",
    };
    let kind = match subject {
        Subject::Instance => "VRRP Instance",
        Subject::Group => "VRRP Group",
    };
    (
        format!("[{router_id}] {kind} {name} - {what}"),
        body.to_owned(),
    )
}

/// Mails state changes for the instances and groups with `smtp_alert`.
#[derive(Debug)]
pub struct Mailer {
    server: (IpAddr, u16),
    from: Mailbox,
    to: Vec<Mailbox>,
    helo: String,
    router_id: String,
    timeout: Duration,
    no_email_faults: bool,
    alerting: HashSet<(Subject, String)>,
    /// keepalived's `last_email_state`.
    last: HashMap<(Subject, String), NotifyState>,
}

impl Mailer {
    /// `None` when nothing is to be mailed (no server, no recipient, or nothing has
    /// `smtp_alert`). Addresses that do not parse are logged and left out.
    pub fn new(config: &Config) -> Option<Mailer> {
        let s = &config.global.smtp;
        let server = s.server?;
        let mut alerting: HashSet<(Subject, String)> = config
            .instances
            .iter()
            .filter(|i| i.smtp_alert)
            .map(|i| (Subject::Instance, i.name.clone()))
            .collect();
        alerting.extend(
            config
                .sync_groups
                .iter()
                .filter(|g| g.smtp_alert)
                .map(|g| (Subject::Group, g.name.clone())),
        );
        if alerting.is_empty() || s.to.is_empty() {
            return None;
        }
        let host = hostname();
        let parse = |a: &str| -> Option<Mailbox> {
            a.parse()
                .map_err(|e| tracing::error!(address = a, "email address not usable: {e}"))
                .ok()
        };
        let from = parse(
            &s.from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host}")),
        )?;
        let to: Vec<Mailbox> = s.to.iter().filter_map(|a| parse(a)).collect();
        if to.is_empty() {
            return None;
        }
        Some(Mailer {
            server,
            from,
            to,
            helo: s.helo_name.clone().unwrap_or_else(|| host.clone()),
            router_id: config.global.router_id.clone().unwrap_or(host),
            timeout: s.connect_timeout,
            no_email_faults: s.no_email_faults,
            alerting,
            last: HashMap::new(),
        })
    }

    /// Keeps what was mailed last from `old` (a reload), as keepalived does.
    pub fn carry_over(&mut self, old: &Mailer) {
        self.last = old.last.clone();
    }

    /// The mail for `subject` `name` entering `state`, if one is due: it has `smtp_alert`,
    /// this state was not the last one mailed, and it is not a FAULT under
    /// `no_email_faults`.
    pub fn message(&mut self, subject: Subject, name: &str, state: NotifyState) -> Option<Message> {
        let key = (subject, name.to_owned());
        if !self.alerting.contains(&key)
            || (self.no_email_faults && state == NotifyState::Fault)
            || self.last.get(&key) == Some(&state)
        {
            return None;
        }
        self.last.insert(key, state);
        let (title, body) = alert_text(&self.router_id, subject, name, state);
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(title)
            .date_now();
        for to in &self.to {
            b = b.to(to.clone());
        }
        b.body(body)
            .map_err(|e| tracing::error!(name, "cannot build the alert mail: {e}"))
            .ok()
    }

    /// Sends the mail due for this transition, if any, on a task of its own.
    pub fn transition(&mut self, subject: Subject, name: &str, state: NotifyState) {
        let Some(message) = self.message(subject, name, state) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                name,
                "alert mail not sent: no tokio runtime (a bug in the agent)"
            );
            return;
        };
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.server.0.to_string())
                .port(self.server.1)
                .timeout(Some(self.timeout))
                .hello_name(ClientId::Domain(self.helo.clone()))
                .build();
        let (server, limit, name) = (self.server, self.timeout * 2, name.to_owned());
        rt.spawn(async move {
            match tokio::time::timeout(limit, transport.send(message)).await {
                Ok(Ok(_)) => tracing::info!(name, server = %server.0, port = server.1,
                    state = %state, "alert mail sent"),
                Ok(Err(e)) => tracing::warn!(name, server = %server.0, port = server.1,
                    "alert mail not sent: {e}"),
                Err(_) => tracing::warn!(name, server = %server.0, port = server.1,
                    "alert mail not sent: no answer within {limit:?}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_str;

    fn mailer(global: &str, inst: &str) -> Option<Mailer> {
        let text = format!(
            "global_defs {{\n router_id lb1\n{global}\n}}\nvrrp_instance VI_1 {{\n interface lo0x\n \
             virtual_router_id 1\n virtual_ipaddress {{ 198.18.0.1 }}\n{inst}\n}}\n"
        );
        Mailer::new(&parse_str(&text, Path::new("/x/k.conf")).unwrap().config)
    }

    const MAIL: &str = "notification_email {\n ops@example.net\n}\nsmtp_server 198.18.0.25";

    #[test]
    fn keepalived_subjects_and_bodies() {
        assert_eq!(
            alert_text("lb1", Subject::Instance, "VI_1", NotifyState::Master),
            (
                "[lb1] VRRP Instance VI_1 - Entering MASTER state".to_owned(),
                "=> VRRP Instance is now owning VRRP VIPs <=".to_owned()
            )
        );
        assert_eq!(
            alert_text("lb1", Subject::Group, "G", NotifyState::Fault).0,
            "[lb1] VRRP Group G - Entering FAULT state"
        );
        assert_eq!(
            alert_text("lb1", Subject::Instance, "VI_1", NotifyState::Stop).1,
            "=> VRRP Instance stopping <="
        );
    }

    #[test]
    fn who_gets_mail() {
        assert!(mailer(MAIL, "").is_none(), "no smtp_alert");
        assert!(
            mailer("smtp_server 198.18.0.25", "smtp_alert").is_none(),
            "no recipient"
        );
        assert!(
            mailer("notification_email {\n a@b\n}", "smtp_alert").is_none(),
            "no server"
        );
        let mut m = mailer(MAIL, "smtp_alert").unwrap();
        let msg = m
            .message(Subject::Instance, "VI_1", NotifyState::Master)
            .unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains("Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state"),
            "{text}"
        );
        assert!(text.contains("To: ops@example.net"), "{text}");
        assert!(
            text.contains("=> VRRP Instance is now owning VRRP VIPs <="),
            "{text}"
        );
        assert!(
            m.message(Subject::Instance, "VI_1", NotifyState::Master)
                .is_none(),
            "the same state twice: one mail"
        );
        assert!(m
            .message(Subject::Instance, "VI_2", NotifyState::Master)
            .is_none());
        assert!(m
            .message(Subject::Instance, "VI_1", NotifyState::Fault)
            .is_some());

        let mut m = mailer(&format!("{MAIL}\nno_email_faults"), "smtp_alert").unwrap();
        assert!(m
            .message(Subject::Instance, "VI_1", NotifyState::Fault)
            .is_none());
        assert!(m
            .message(Subject::Instance, "VI_1", NotifyState::Backup)
            .is_some());
    }
}
