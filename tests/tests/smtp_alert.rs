//! `smtp_alert` with a real agent in a network namespace (prefix `ft`): a small SMTP
//! server (this test's, on 198.18.8.25 in a namespace of its own on the LAN) receives
//! keepalived's alert mails for the instance's transitions; the subject, body, sender and
//! recipients are checked. A second instance without `smtp_alert` is the control: it changes
//! state in the same window and must send nothing.
use std::{
    io::{BufRead, BufReader, Write},
    net::{Ipv4Addr, TcpListener},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use vrrp_tests::{
    in_netns,
    lab::{self, Daemon},
    wait_for, Lan, TempDir,
};

const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 8, 1);
const MAIL: Ipv4Addr = Ipv4Addr::new(198, 18, 8, 25);

/// One mail as the server received it.
#[derive(Debug, Clone, Default)]
struct Mail {
    helo: String,
    from: String,
    to: Vec<String>,
    data: String,
}

/// Serves SMTP on `listener` for `secs` seconds at most, recording every mail.
fn serve(listener: TcpListener, mails: Arc<Mutex<Vec<Mail>>>, secs: u64) {
    let end = Instant::now() + Duration::from_secs(secs);
    listener.set_nonblocking(true).unwrap();
    while Instant::now() < end {
        let Ok((stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut mail = Mail::default();
        let _ = w.write_all(b"220 ft.test ESMTP\r\n");
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let cmd = line.trim_end().to_owned();
            let upper = cmd.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                mail.helo = cmd[5..].to_owned();
                b"250 ft.test\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                mail.from = cmd[10..].to_owned();
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                mail.to.push(cmd[8..].to_owned());
                b"250 OK\r\n"
            } else if upper == "DATA" {
                let _ = w.write_all(b"354 go on\r\n");
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                        break;
                    }
                    mail.data.push_str(&line);
                }
                mails.lock().unwrap().push(std::mem::take(&mut mail));
                b"250 queued\r\n"
            } else if upper == "QUIT" {
                let _ = w.write_all(b"221 bye\r\n");
                break;
            } else {
                b"250 OK\r\n"
            };
            let _ = w.write_all(reply);
        }
    }
}

#[test]
fn transitions_are_mailed_like_keepalived() {
    let mut lan = Lan::new_tagged("ftsw").unwrap();
    lan.add_host("ftr1", R1).unwrap();
    lan.add_host("ftml", MAIL).unwrap();
    let dir = TempDir::new("ftmail").unwrap();
    let listener = in_netns(&lan.hosts[1].ns, || Ok(TcpListener::bind((MAIL, 2525))?)).unwrap();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let mails = Arc::clone(&mails);
        std::thread::spawn(move || serve(listener, mails, 60))
    };

    let iface = lan.hosts[0].iface.clone();
    let text = format!(
        "global_defs {{\n    router_id ftlb\n    notification_email {{\n        ops@example.net\n        \
         noc@example.net\n    }}\n    notification_email_from vrrp@example.net\n    \
         smtp_server {MAIL} 2525\n    smtp_helo_name lb1.example.net\n    smtp_connect_timeout 5\n}}\n\
         vrrp_instance VI_1 {{\n    interface {iface}\n    virtual_router_id 81\n    priority 100\n    \
         version 3\n    advert_int 0.1\n    smtp_alert\n    virtual_ipaddress {{\n        198.18.8.100/24\n    }}\n}}\n\
         vrrp_instance VI_2 {{\n    interface {iface}\n    virtual_router_id 82\n    priority 100\n    \
         version 3\n    advert_int 0.1\n    virtual_ipaddress {{\n        198.18.8.101/24\n    }}\n}}\n"
    );
    let r1 = lab::start(Daemon::Agent, &lan.hosts[0], dir.path(), "r1", &text).unwrap();

    let subject =
        |state: &str| format!("Subject: [ftlb] VRRP Instance VI_1 - Entering {state} state");
    let got = wait_for(Duration::from_secs(20), || {
        let m = mails.lock().unwrap();
        m.iter()
            .find(|m| m.data.contains(&subject("MASTER")))
            .cloned()
    });
    let all = || mails.lock().unwrap().clone();
    let Some(master) = got else {
        panic!("no MASTER mail; mails: {:?}\n{}", all(), r1.proc.log_text());
    };
    assert_eq!(master.helo, "lb1.example.net");
    assert_eq!(master.from, "<vrrp@example.net>");
    assert_eq!(master.to, ["<ops@example.net>", "<noc@example.net>"]);
    assert!(
        master
            .data
            .contains("=> VRRP Instance is now owning VRRP VIPs <="),
        "{master:?}"
    );
    assert!(master.data.contains("From: vrrp@example.net"), "{master:?}");
    // The control: VI_2 became Master too (same log), but has no smtp_alert.
    let log = r1.proc.log_text();
    assert!(log.contains("Backup -> Master"), "{log}");
    assert_eq!(
        log.matches("Backup -> Master").count(),
        2,
        "both instances should have become Master:\n{log}"
    );
    let m = all();
    assert!(
        m.iter().any(|m| m.data.contains(&subject("BACKUP"))),
        "{m:?}"
    );
    assert!(
        m.iter().all(|m| !m.data.contains("VI_2")),
        "VI_2 has no smtp_alert: {m:?}"
    );
    assert!(log.contains("alert mail sent"), "{log}");
    drop(r1);
    drop(server);
}
