//! Email alerts in `global_defs` (keepalived 2.2.7's `global_parser.c`):
//! `notification_email { ADDR ... }`, `notification_email_from ADDR`,
//! `smtp_server ADDRESS [PORT]`, `smtp_helo_name NAME`, `smtp_connect_timeout SECONDS`,
//! `smtp_alert [BOOL]`, `smtp_alert_vrrp [BOOL]`, `no_email_faults`. A child module of the
//! builder, so it uses its helpers.
use std::time::Duration;

use super::{Builder, SmtpSettings, Stmt};

/// keepalived's limit on `smtp_connect_timeout` (whole seconds, at least 1).
const CONNECT_TIMEOUT_MAX: u32 = 3600;

impl Builder<'_> {
    pub(super) fn smtp_global(&mut self, kw: &str, stmt: &Stmt, s: &mut SmtpSettings) {
        match kw {
            "notification_email" => {
                let Some(block) = self.block_of(stmt) else {
                    return;
                };
                for line in &block.stmts {
                    self.reject_block(line);
                    for w in &line.words {
                        // keepalived takes any word; so does this, with a warning.
                        if !w.text.contains('@') {
                            self.diags.warn(
                                &w.pos,
                                format!(
                                    "`{}` is not an email address (USER@DOMAIN): mail to it \
                                     will fail",
                                    w.text
                                ),
                            );
                        }
                        s.to.push(w.text.clone());
                    }
                }
            }
            "notification_email_from" => {
                if let Some(w) = self.single(stmt, "an email address") {
                    if !w.text.contains('@') {
                        self.diags.warn(
                            &w.pos,
                            format!(
                                "`{}` is not an email address (USER@DOMAIN): no mail can be \
                                 sent from it",
                                w.text
                            ),
                        );
                    }
                    s.from = Some(w.text.clone());
                }
            }
            "smtp_server" => {
                let Some(args) = self.values(stmt, 1, 2, "smtp_server ADDRESS [PORT]") else {
                    return;
                };
                let Some(addr) = self.ip(&args[0], kw) else {
                    return;
                };
                let port = match args.get(1) {
                    None => 25,
                    Some(p) => match self.int_in(p, "smtp_server port", 1, 65535, "1 to 65535") {
                        Some(p) => u16::try_from(p).unwrap_or(25),
                        None => return,
                    },
                };
                s.server = Some((addr, port));
            }
            "smtp_helo_name" => {
                if let Some(w) = self.single(stmt, "a host name") {
                    s.helo_name = Some(w.text.clone());
                }
            }
            "smtp_connect_timeout" => {
                if let Some(w) = self.single(stmt, "seconds, 1 to 3600") {
                    if let Some(v) = self.u32_in(w, kw, 1, CONNECT_TIMEOUT_MAX, "1 to 3600") {
                        s.connect_timeout = Duration::from_secs(u64::from(v));
                    }
                }
            }
            "smtp_alert" | "smtp_alert_vrrp" => {
                if let Some(v) = self.opt_bool(stmt) {
                    let slot = if kw == "smtp_alert" {
                        &mut s.alert
                    } else {
                        &mut s.alert_vrrp
                    };
                    *slot = Some(v);
                }
            }
            "no_email_faults" => {
                self.flag(stmt);
                s.no_email_faults = true;
            }
            _ => self.internal(stmt),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Duration};

    use crate::config::parse_str;

    fn conf(global: &str, inst: &str, group: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface lo0x\n virtual_router_id 1\n \
             virtual_ipaddress {{ 198.18.0.1 }}\n{inst}\n}}\nvrrp_instance B {{\n interface lo0x\n \
             virtual_router_id 2\n virtual_ipaddress {{ 198.18.0.2 }}\n}}\nvrrp_sync_group G {{\n \
             group {{ A B }}\n{group}\n}}\n"
        )
    }

    #[test]
    fn settings_and_defaults() {
        let c = parse_str(
            &conf(
                "notification_email {\n ops@example.net\n noc@example.net\n}\n\
                 notification_email_from vrrp@example.net\nsmtp_server 198.18.0.25 2525\n\
                 smtp_helo_name lb1\nsmtp_connect_timeout 5\nno_email_faults",
                "smtp_alert",
                "",
            ),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .config;
        let s = &c.global.smtp;
        assert_eq!(s.to, ["ops@example.net", "noc@example.net"]);
        assert_eq!(s.from.as_deref(), Some("vrrp@example.net"));
        assert_eq!(s.server, Some(("198.18.0.25".parse().unwrap(), 2525)));
        assert_eq!(s.helo_name.as_deref(), Some("lb1"));
        assert_eq!(s.connect_timeout, Duration::from_secs(5));
        assert!(s.no_email_faults);
        let w = parse_str(
            &conf("notification_email {\n [email protected]\n}", "", ""),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .warnings;
        assert!(
            w.iter().any(|w| w.message.contains("not an email address")),
            "{w:?}"
        );
        assert!(c.instances[0].smtp_alert);
        assert!(!c.instances[1].smtp_alert, "off unless asked for");
        assert!(!c.sync_groups[0].smtp_alert);

        // The global default, and its VRRP-specific override.
        let c = parse_str(
            &conf(
                "smtp_server 198.18.0.25\nsmtp_alert",
                "smtp_alert off",
                "smtp_alert",
            ),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .config;
        assert_eq!(c.global.smtp.server.unwrap().1, 25);
        assert!(!c.instances[0].smtp_alert);
        assert!(c.instances[1].smtp_alert);
        assert!(c.sync_groups[0].smtp_alert);
        let c = parse_str(
            &conf("smtp_alert\nsmtp_alert_vrrp false", "", ""),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .config;
        assert!(!c.instances[1].smtp_alert);
    }

    #[test]
    fn bad_values_are_errors() {
        for (global, want) in [
            ("smtp_server mail.example.net", "expected"),
            ("smtp_server 198.18.0.25 0", "out of range"),
            ("smtp_connect_timeout 0", "out of range"),
        ] {
            let errs = match parse_str(&conf(global, "", ""), Path::new("/x/k.conf")) {
                Ok(_) => Vec::new(),
                Err(e) => e.errors.into_iter().map(|d| d.message).collect(),
            };
            assert!(errs.iter().any(|e| e.contains(want)), "{global}: {errs:?}");
        }
    }
}
