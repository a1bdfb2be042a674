//! What a scrape shows, as plain data the agent's loop fills in (the status [`Snapshot`]
//! plus what it leaves out: every key the XDP program counted, unknown VRIDs included, and
//! every health check), and its Prometheus text: keepalived-exporter's series with its
//! names, labels and values, then what only this agent can see.
use prometheus::{
    core::Collector, Encoder, GaugeVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use vrrp_common::{Counters, Discard};

use crate::runtime::status::{InstanceState, InstanceStats, InstanceStatus, Snapshot};

/// keepalived-exporter's number of a state (`keepalived_vrrp_state`): 0 INIT, 1 BACKUP,
/// 2 MASTER, 3 FAULT.
pub fn state_number(s: InstanceState) -> u8 {
    match s {
        InstanceState::Init => 0,
        InstanceState::Backup => 1,
        InstanceState::Master => 2,
        InstanceState::Fault => 3,
    }
}

/// keepalived's text of a virtual address (`ipaddresstos`): the address, with `/len` only
/// when it is not /32 (/128). The snapshot always writes the length.
pub fn ka_address(addr: &str) -> &str {
    match addr.rsplit_once('/') {
        Some((a, "32")) if !a.contains(':') => a,
        Some((a, "128")) if a.contains(':') => a,
        _ => addr,
    }
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
#[derive(Clone, Debug)]
pub struct View {
    /// The status snapshot (instances, their counters and priorities).
    pub snapshot: Snapshot,
    /// Every key the XDP program counted something for.
    pub kernel: Vec<KernelView>,
    /// Health checks.
    pub scripts: Vec<ScriptView>,
    /// Notify commands.
    pub notify: NotifyView,
}

/// keepalived-exporter's per-instance counters: (name, help, value).
type Stat = (&'static str, &'static str, fn(&InstanceStats) -> u64);

/// keepalived's `vrrp_stats` (the exporter's `keepalived_*_total` series), in its order.
const STATS: &[Stat] = &[
    (
        "keepalived_advertisements_received_total",
        "Advertisements received (valid ones, counted by the XDP program).",
        |s| s.advert_rcvd,
    ),
    (
        "keepalived_advertisements_sent_total",
        "Advertisements sent.",
        |s| s.advert_sent,
    ),
    ("keepalived_become_master_total", "Became master.", |s| {
        s.become_master
    }),
    ("keepalived_release_master_total", "Released master.", |s| {
        s.release_master
    }),
    (
        "keepalived_packet_length_errors_total",
        "Packet length errors (truncated, or shorter than its address count needs).",
        |s| s.packet_len_err,
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        "Advertisement interval errors (VRRPv2: discarded; VRRPv3: a peer's interval \
         differs, once per peer each time it starts differing).",
        |s| s.advert_interval_err,
    ),
    (
        "keepalived_ip_ttl_errors_total",
        "TTL errors (not 255, or outside a unicast peer's min_ttl..max_ttl).",
        |s| s.ip_ttl_err,
    ),
    (
        "keepalived_invalid_type_received_total",
        "Invalid type errors (VRRP type other than ADVERTISEMENT).",
        |s| s.invalid_type_rcvd,
    ),
    (
        "keepalived_address_list_errors_total",
        "Address list errors (a peer advertises another number of addresses; once per peer \
         each time it starts differing).",
        |s| s.addr_list_err,
    ),
    (
        "keepalived_authentication_invalid_total",
        "Authentication invalid (VRRPv2 unknown auth type; the XDP program counts those as \
         a mismatch).",
        |s| s.invalid_authtype,
    ),
    (
        "keepalived_authentication_mismatch_total",
        "Authentication mismatch (VRRPv2 auth type other than the configured one).",
        |s| s.authtype_mismatch,
    ),
    (
        "keepalived_authentication_failure_total",
        "Authentication failure (VRRPv2 PASS: wrong password).",
        |s| s.auth_failure,
    ),
    (
        "keepalived_priority_zero_received_total",
        "Priority zero received.",
        |s| s.pri_zero_rcvd,
    ),
    (
        "keepalived_priority_zero_sent_total",
        "Priority zero sent.",
        |s| s.pri_zero_sent,
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
    let instances: Vec<(&InstanceStatus, u8)> = view
        .snapshot
        .instances
        .iter()
        .map(|i| (i, state_number(i.state)))
        .collect();
    for &(name, help, value) in STATS {
        if let Some(c) = s.counters(name, help, INSTANCE_LABELS) {
            for (i, _) in &instances {
                let vrid = i.vrid.to_string();
                c.with_label_values(&[&i.name, &i.interface, &vrid, i.state.as_str()])
                    .inc_by(value(&i.stats));
            }
        }
    }
    if let Some(g) = s.gauges(
        "keepalived_vrrp_state",
        "State of the instance, one series per virtual_ipaddress: 0 INIT, 1 BACKUP, \
         2 MASTER, 3 FAULT.",
        &["iname", "intf", "vrid", "ip_address"],
    ) {
        for (i, state) in &instances {
            let vrid = i.vrid.to_string();
            for vip in i.vips.iter().filter(|v| !v.excluded) {
                g.with_label_values(&[&i.name, &vip.interface, &vrid, ka_address(&vip.address)])
                    .set(f64::from(*state));
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
    for (name, help, configured) in [
        (
            "keepalived_effective_priority",
            "Priority advertised now: the configured one plus tracking weights.",
            false,
        ),
        (
            "keepalived_configured_priority",
            "Priority in the configuration.",
            true,
        ),
    ] {
        if let Some(g) = s.gauges(name, help, labels) {
            for (i, _) in &instances {
                let p = if configured {
                    i.priority.configured
                } else {
                    i.priority.effective
                };
                g.with_label_values(&[&i.name, &i.interface, &i.vrid.to_string()])
                    .set(f64::from(p));
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
    let no_accept = s.counters(
        "keepalived_xdp_no_accept_drops_total",
        "Packets sent to a VIP of this instance while it was Master in no_accept mode, \
         dropped by the XDP program (RFC 9568 §6.4.3).",
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
            (&no_accept, kv.counters.no_accept),
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

    /// A snapshot of one Master instance with two VIPs (one excluded) and one IPv6 Backup
    /// with the same VRID, through serde as the control socket carries it.
    fn snapshot() -> Snapshot {
        let instance = |name: &str, family: &str, state: &str, vips: serde_json::Value| {
            serde_json::json!({
                "name": name, "interface": "eth0", "vrid": 51, "family": family, "version": 3,
                "state": state, "state_since_unix": 1.0, "state_for_secs": 1.0,
                "state_reason": null, "fault_reason": null, "sync_group": null,
                "priority": {"configured": 100, "effective": 90, "tracking_delta": -10,
                             "inputs": []},
                "advert_interval_secs": 1.0, "master_advert_interval_secs": 1.0,
                "unicast_peers": [], "master": null, "peers": [], "vips": vips,
                "stats": {"advert_rcvd": 7, "advert_sent": 40, "become_master": 1,
                          "release_master": 0, "packet_len_err": 0, "advert_interval_err": 0,
                          "ip_ttl_err": 0, "invalid_type_rcvd": 0, "addr_list_err": 0,
                          "invalid_authtype": 0, "authtype_mismatch": 0, "auth_failure": 0,
                          "pri_zero_rcvd": 0, "pri_zero_sent": 0, "chk_err": 2, "vers_err": 0,
                          "transitions": 2, "mismatches": 0},
                "discards": {}, "kernel_valid": 7, "mismatches": []
            })
        };
        let vip = |addr: &str, dev: &str, excluded: bool| {
            serde_json::json!({"address": addr, "interface": dev, "excluded": excluded,
                               "held": true, "present": null})
        };
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "taken_unix": 2.0,
            "agent": {"pid": 1, "version": "0", "started_unix": 1.0, "uptime_secs": 1.0,
                      "config_file": "k.conf", "pin_dir": "/p", "control_socket": null,
                      "xdp": [], "kernel_watchdog": true, "pass_adverts": false,
                      "drop_unknown_vrids": false, "ring_events_lost": 0, "ring_events": 3},
            "instances": [
                instance("VI_1", "ipv4", "MASTER", serde_json::json!([
                    vip("198.18.0.10/32", "eth0", false),
                    vip("198.18.0.11/24", "eth1", false),
                    vip("198.18.0.12/32", "eth0", true),
                ])),
                instance("VI_6", "ipv6", "BACKUP",
                         serde_json::json!([vip("2001:db8::1/128", "eth0", false)])),
            ],
            "sync_groups": []
        }))
        .expect("a snapshot")
    }

    fn view() -> View {
        let counters = Counters {
            valid: 7,
            bad_checksum: 2,
            ..Default::default()
        };
        View {
            snapshot: snapshot(),
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
            r#"keepalived_configured_priority{iname="VI_1",intf="eth0",vrid="51"} 100"#,
            r#"keepalived_vrrp_state{iname="VI_6",intf="eth0",ip_address="2001:db8::1",vrid="51"} 1"#,
            r#"keepalived_xdp_discards_total{family="ipv4",intf="eth0",reason="checksum",vrid="51"} 2"#,
            r#"keepalived_notify_commands_total{result="succeeded"} 3"#,
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
        }
        assert!(
            !t.contains("later"),
            "a script with no result has no series:\n{t}"
        );
        assert!(
            !t.contains("198.18.0.12"),
            "excluded VIPs are not the exporter's:\n{t}"
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
    fn addresses_are_written_as_keepalived_writes_them() {
        assert_eq!(ka_address("198.18.0.1/32"), "198.18.0.1");
        assert_eq!(ka_address("198.18.0.1/24"), "198.18.0.1/24");
        assert_eq!(ka_address("2001:db8::1/128"), "2001:db8::1");
        assert_eq!(ka_address("2001:db8::1/64"), "2001:db8::1/64");
    }

    #[test]
    fn discard_reasons_have_short_unique_labels() {
        let labels: std::collections::BTreeSet<_> =
            Discard::ALL.iter().map(|d| discard_label(*d)).collect();
        assert_eq!(labels.len(), Discard::ALL.len());
        assert!(labels.contains("checksum") && labels.contains("unknown_vrid"));
    }
}
