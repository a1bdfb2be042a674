//! What a scrape shows, as plain data the agent's loop fills in (see
//! `runtime::metrics_view`), and its Prometheus text: keepalived-exporter's series with its
//! names, labels and values, then what only this agent can see.
use prometheus::{
    core::Collector, Encoder, GaugeVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use vrrp_common::{Counters, Discard};

/// keepalived's instance states, in keepalived-exporter's numbering (`keepalived_vrrp_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KaState {
    /// Not started (waiting for its health checks), or stopped.
    Init = 0,
    /// Backup.
    Backup = 1,
    /// Master.
    Master = 2,
    /// Fault.
    Fault = 3,
}

impl KaState {
    /// keepalived's name of the state (keepalived-exporter's `state` label).
    pub fn name(self) -> &'static str {
        match self {
            KaState::Init => "INIT",
            KaState::Backup => "BACKUP",
            KaState::Master => "MASTER",
            KaState::Fault => "FAULT",
        }
    }
}

/// Counts the agent keeps per instance (what the kernel cannot see: what it sends, what it
/// decides).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Adverts sent (every destination of a unicast instance counts).
    pub adverts_sent: u64,
    /// Changes to MASTER.
    pub become_master: u64,
    /// Changes from MASTER to another state.
    pub release_master: u64,
    /// Adverts sent with priority 0 (stepping down).
    pub priority_zero_sent: u64,
    /// Adverts received with priority 0 (the kernel's priority-0 events).
    pub priority_zero_received: u64,
}

/// One configured instance.
#[derive(Clone, Debug)]
pub struct InstanceView {
    /// `vrrp_instance` name.
    pub name: String,
    /// Its interface.
    pub iface: String,
    /// VRID.
    pub vrid: u8,
    /// Its state.
    pub state: KaState,
    /// `virtual_ipaddress` entries: keepalived's text of the address (`addr`, or
    /// `addr/len` unless /32 or /128) and the interface it goes on.
    pub vips: Vec<(String, String)>,
    /// Configured priority.
    pub priority: u8,
    /// Priority advertised now (tracking applied).
    pub effective_priority: u8,
    /// What the agent counted.
    pub tally: Tally,
    /// What the XDP program counted for this instance (None: nothing yet).
    pub kernel: Option<Counters>,
}

/// What the XDP program counted for one (interface, VRID, family), configured or not.
#[derive(Clone, Debug)]
pub struct KernelView {
    /// Interface name (or its index when it has none any more).
    pub iface: String,
    /// VRID (0 for packets whose VRRP header was not trusted).
    pub vrid: u8,
    /// 4 or 6.
    pub family: u8,
    /// The counts, summed over CPUs.
    pub counters: Counters,
}

/// A `vrrp_script` and its state.
#[derive(Clone, Debug)]
pub struct ScriptView {
    /// Its name.
    pub name: String,
    /// `Some(true)` GOOD, `Some(false)` BAD, `None` not run yet.
    pub good: Option<bool>,
}

/// Notify command totals since start.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyView {
    /// Exited 0.
    pub succeeded: u64,
    /// Non-zero exit, a signal, or could not start.
    pub failed: u64,
    /// Killed at the command timeout.
    pub timed_out: u64,
    /// Killed or skipped at shutdown.
    pub aborted: u64,
}

/// Everything a scrape shows that is read from the agent's state.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Configured IPv4 instances (those with an election).
    pub instances: Vec<InstanceView>,
    /// Every key the XDP program counted something for.
    pub kernel: Vec<KernelView>,
    /// Health checks.
    pub scripts: Vec<ScriptView>,
    /// Notify commands.
    pub notify: NotifyView,
}

/// keepalived-exporter's per-instance counters: (name, help, value from the instance).
type Stat = (&'static str, &'static str, fn(&InstanceView) -> u64);

fn k(i: &InstanceView) -> Counters {
    i.kernel.unwrap_or_default()
}

/// keepalived's `Stats` (the exporter's `keepalived_*_total` series), in its order.
const STATS: &[Stat] = &[
    (
        "keepalived_advertisements_received_total",
        "Advertisements received (valid ones, counted by the XDP program).",
        |i| k(i).valid,
    ),
    (
        "keepalived_advertisements_sent_total",
        "Advertisements sent.",
        |i| i.tally.adverts_sent,
    ),
    ("keepalived_become_master_total", "Became master.", |i| {
        i.tally.become_master
    }),
    ("keepalived_release_master_total", "Released master.", |i| {
        i.tally.release_master
    }),
    (
        "keepalived_packet_length_errors_total",
        "Packet length errors (truncated, or shorter than its address count needs).",
        |i| k(i).truncated + k(i).bad_length,
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        "Advertisement interval errors (VRRPv2: not the configured interval).",
        |i| k(i).bad_interval,
    ),
    (
        "keepalived_ip_ttl_errors_total",
        "TTL errors (not 255, or outside a unicast peer's min_ttl..max_ttl).",
        |i| k(i).bad_ttl,
    ),
    (
        "keepalived_invalid_type_received_total",
        "Invalid type errors (VRRP type other than ADVERTISEMENT).",
        |i| k(i).bad_type,
    ),
    (
        "keepalived_address_list_errors_total",
        "Address list errors (always 0: the address list of an advert is not compared).",
        |_| 0,
    ),
    (
        "keepalived_authentication_invalid_total",
        "Authentication invalid (always 0: an unknown type counts as a mismatch).",
        |_| 0,
    ),
    (
        "keepalived_authentication_mismatch_total",
        "Authentication mismatch (VRRPv2 auth type other than the configured one).",
        |i| k(i).bad_auth_type,
    ),
    (
        "keepalived_authentication_failure_total",
        "Authentication failure (VRRPv2 PASS: wrong password).",
        |i| k(i).bad_auth_pass,
    ),
    (
        "keepalived_priority_zero_received_total",
        "Priority zero received.",
        |i| i.tally.priority_zero_received,
    ),
    (
        "keepalived_priority_zero_sent_total",
        "Priority zero sent.",
        |i| i.tally.priority_zero_sent,
    ),
];

/// keepalived-exporter's labels of its per-instance counters.
const INSTANCE_LABELS: &[&str] = &["iname", "intf", "vrid", "state"];

/// A scratch registry for one scrape.
struct Scratch {
    registry: Registry,
}

impl Scratch {
    fn add<C: Collector + Clone + 'static>(&self, c: C) -> C {
        // Names are fixed and each registered once per scrape: this cannot fail.
        let _ = self.registry.register(Box::new(c.clone()));
        c
    }

    fn counters(&self, name: &str, help: &str, labels: &[&str]) -> Option<IntCounterVec> {
        IntCounterVec::new(Opts::new(name, help), labels)
            .ok()
            .map(|c| self.add(c))
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> Option<GaugeVec> {
        GaugeVec::new(Opts::new(name, help), labels)
            .ok()
            .map(|c| self.add(c))
    }
}

/// The `/metrics` text of `view` (`None`: the agent did not answer, `keepalived_up` 0) and
/// of the instruments, in the Prometheus text format 0.0.4.
pub fn render(view: Option<&View>, instruments: &Registry) -> Vec<u8> {
    let s = Scratch {
        registry: Registry::new(),
    };
    if let Ok(up) = IntGauge::new(
        "keepalived_up",
        "Whether the agent's loop answered this scrape (1) or not (0).",
    ) {
        up.set(i64::from(view.is_some()));
        s.add(up);
    }
    if let Some(view) = view {
        fill(&s, view);
    }
    let mut families = s.registry.gather();
    families.extend(instruments.gather());
    let mut out = Vec::with_capacity(16 * 1024);
    // Encoding into a Vec fails only on invalid families, which the registries refuse.
    let _ = TextEncoder::new().encode(&families, &mut out);
    out
}

fn fill(s: &Scratch, view: &View) {
    for &(name, help, value) in STATS {
        if let Some(c) = s.counters(name, help, INSTANCE_LABELS) {
            for i in &view.instances {
                let vrid = i.vrid.to_string();
                c.with_label_values(&[&i.name, &i.iface, &vrid, i.state.name()])
                    .inc_by(value(i));
            }
        }
    }
    if let Some(g) = s.gauges(
        "keepalived_vrrp_state",
        "State of the instance, one series per virtual_ipaddress: 0 INIT, 1 BACKUP, \
         2 MASTER, 3 FAULT.",
        &["iname", "intf", "vrid", "ip_address"],
    ) {
        for i in &view.instances {
            let vrid = i.vrid.to_string();
            for (addr, dev) in &i.vips {
                g.with_label_values(&[&i.name, dev, &vrid, addr])
                    .set(f64::from(i.state as u8));
            }
        }
    }
    if let Some(g) = s.gauges(
        "keepalived_script_status",
        "vrrp_script status: 0 BAD, 1 GOOD (no series before its first result).",
        &["name"],
    ) {
        for sc in &view.scripts {
            if let Some(good) = sc.good {
                g.with_label_values(&[&sc.name])
                    .set(f64::from(u8::from(good)));
            }
        }
    }
    // Beyond keepalived-exporter.
    let labels = &["iname", "intf", "vrid"];
    for (name, help, value) in [
        (
            "keepalived_effective_priority",
            "Priority advertised now: the configured one plus tracking weights.",
            (|i: &InstanceView| i.effective_priority) as fn(&InstanceView) -> u8,
        ),
        (
            "keepalived_configured_priority",
            "Priority in the configuration.",
            |i: &InstanceView| i.priority,
        ),
    ] {
        if let Some(g) = s.gauges(name, help, labels) {
            for i in &view.instances {
                g.with_label_values(&[&i.name, &i.iface, &i.vrid.to_string()])
                    .set(f64::from(value(i)));
            }
        }
    }
    let key_labels = &["intf", "vrid", "family"];
    let discards = s.counters(
        "keepalived_xdp_discards_total",
        "VRRP packets the XDP program refused, by interface, VRID, family and reason \
         (checksum and unknown_vrid included; VRID 0: the VRRP header was not trusted).",
        &["intf", "vrid", "family", "reason"],
    );
    let valid = s.counters(
        "keepalived_xdp_adverts_valid_total",
        "Adverts that passed every check of the XDP program.",
        key_labels,
    );
    let events = s.counters(
        "keepalived_xdp_events_total",
        "Events the XDP program wrote to the ring buffer for the agent.",
        key_labels,
    );
    let lost = s.counters(
        "keepalived_xdp_events_lost_total",
        "Events lost because the ring buffer was full.",
        key_labels,
    );
    for kv in &view.kernel {
        let vrid = kv.vrid.to_string();
        let family = if kv.family == 6 { "ipv6" } else { "ipv4" };
        let base = [kv.iface.as_str(), vrid.as_str(), family];
        if let Some(d) = &discards {
            for reason in Discard::ALL {
                d.with_label_values(&[base[0], base[1], base[2], discard_label(reason)])
                    .inc_by(kv.counters.discard(reason));
            }
        }
        for (c, v) in [
            (&valid, kv.counters.valid),
            (&events, kv.counters.events),
            (&lost, kv.counters.events_lost),
        ] {
            if let Some(c) = c {
                c.with_label_values(&base).inc_by(v);
            }
        }
    }
    if let Some(c) = s.counters(
        "keepalived_notify_commands_total",
        "notify commands (notify, notify_master, ...) by result: succeeded, failed (non-zero \
         exit, signal, could not start), timed_out (killed), aborted (at shutdown). Their sum \
         is the commands run.",
        &["result"],
    ) {
        let n = view.notify;
        for (result, v) in [
            ("succeeded", n.succeeded),
            ("failed", n.failed),
            ("timed_out", n.timed_out),
            ("aborted", n.aborted),
        ] {
            c.with_label_values(&[result]).inc_by(v);
        }
    }
}

/// The `reason` label of a discard: its counter name without the `bad_` prefix.
pub fn discard_label(reason: Discard) -> &'static str {
    let name = reason.name();
    name.strip_prefix("bad_").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let counters = Counters {
            valid: 7,
            bad_checksum: 2,
            ..Default::default()
        };
        View {
            instances: vec![InstanceView {
                name: "VI_1".into(),
                iface: "eth0".into(),
                vrid: 51,
                state: KaState::Master,
                vips: vec![
                    ("198.18.0.10".into(), "eth0".into()),
                    ("198.18.0.11/24".into(), "eth1".into()),
                ],
                priority: 100,
                effective_priority: 90,
                tally: Tally {
                    adverts_sent: 40,
                    become_master: 1,
                    ..Default::default()
                },
                kernel: Some(counters),
            }],
            kernel: vec![KernelView {
                iface: "eth0".into(),
                vrid: 51,
                family: 4,
                counters,
            }],
            scripts: vec![
                ScriptView {
                    name: "chk".into(),
                    good: Some(false),
                },
                ScriptView {
                    name: "later".into(),
                    good: None,
                },
            ],
            notify: NotifyView {
                succeeded: 3,
                ..Default::default()
            },
        }
    }

    fn text(view: Option<&View>) -> String {
        String::from_utf8(render(view, &Registry::new())).unwrap()
    }

    #[test]
    fn exporter_series_keep_their_names_labels_and_values() {
        let t = text(Some(&view()));
        for line in [
            "keepalived_up 1",
            r#"keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="198.18.0.10",vrid="51"} 2"#,
            r#"keepalived_vrrp_state{iname="VI_1",intf="eth1",ip_address="198.18.0.11/24",vrid="51"} 2"#,
            r#"keepalived_advertisements_received_total{iname="VI_1",intf="eth0",state="MASTER",vrid="51"} 7"#,
            r#"keepalived_advertisements_sent_total{iname="VI_1",intf="eth0",state="MASTER",vrid="51"} 40"#,
            r#"keepalived_become_master_total{iname="VI_1",intf="eth0",state="MASTER",vrid="51"} 1"#,
            r#"keepalived_script_status{name="chk"} 0"#,
            r#"keepalived_effective_priority{iname="VI_1",intf="eth0",vrid="51"} 90"#,
            r#"keepalived_xdp_discards_total{family="ipv4",intf="eth0",reason="checksum",vrid="51"} 2"#,
            r#"keepalived_notify_commands_total{result="succeeded"} 3"#,
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
        }
        assert!(
            !t.contains("later"),
            "a script with no result has no series:\n{t}"
        );
        for (name, _, _) in STATS {
            assert!(t.contains(&format!("# TYPE {name} counter")), "{name}");
        }
    }

    #[test]
    fn no_answer_is_up_0_and_nothing_else_of_the_agent() {
        let t = text(None);
        assert!(t.lines().any(|l| l == "keepalived_up 0"), "{t}");
        assert!(!t.contains("keepalived_vrrp_state"), "{t}");
    }

    #[test]
    fn discard_reasons_have_short_unique_labels() {
        let labels: std::collections::BTreeSet<_> =
            Discard::ALL.iter().map(|d| discard_label(*d)).collect();
        assert_eq!(labels.len(), Discard::ALL.len());
        assert!(labels.contains("checksum") && labels.contains("unknown_vrid"));
    }
}
