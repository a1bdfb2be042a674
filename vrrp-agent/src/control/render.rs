//! `vrrp-agent status` for people: one line per instance, or one instance in detail.
use std::fmt::Write;

use super::{ChangeKind, ReloadReply};
use crate::runtime::status::{InstanceStatus, Snapshot};

/// A duration as `3d4h`, `2h5m`, `4m2s` or `12.3s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0);
    let whole = s as u64;
    match whole {
        0..=59 => format!("{s:.1}s"),
        60..=3599 => format!("{}m{}s", whole / 60, whole % 60),
        3600..=86_399 => format!("{}h{}m", whole / 3600, whole % 3600 / 60),
        _ => format!("{}d{}h", whole / 86_400, whole % 86_400 / 3600),
    }
}

fn master_cell(i: &InstanceStatus) -> String {
    match &i.master {
        Some(m) if m.is_self => format!("{} (self)", m.address),
        Some(m) => format!("{} prio {}", m.address, m.priority),
        None => "-".to_string(),
    }
}

fn vips_cell(i: &InstanceStatus) -> String {
    if i.vips.is_empty() {
        return "-".to_string();
    }
    let present = i.vips.iter().filter(|v| v.present == Some(true)).count();
    format!("{present}/{} up", i.vips.len())
}

/// The table `status` prints: a header, one line per instance, then one line per
/// mismatch and per sync group.
pub fn table(s: &Snapshot) -> String {
    let header = [
        "INSTANCE", "IFACE", "VRID", "AF", "STATE", "PRIO", "MASTER", "VIPS", "FOR",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for i in &s.instances {
        rows.push(vec![
            i.name.clone(),
            i.interface.clone(),
            i.vrid.to_string(),
            match i.family {
                crate::runtime::status::Family::Ipv4 => "4".into(),
                crate::runtime::status::Family::Ipv6 => "6".into(),
            },
            i.state.to_string(),
            match (
                i.priority.maintenance,
                i.priority.effective == i.priority.configured,
            ) {
                (true, _) => format!("{}/{} maint", i.priority.effective, i.priority.configured),
                (false, true) => i.priority.effective.to_string(),
                (false, false) => format!("{}/{}", i.priority.effective, i.priority.configured),
            },
            master_cell(i),
            vips_cell(i),
            human_duration(i.state_for_secs),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for i in &s.instances {
        if let Some(f) = i
            .fault_reason
            .as_ref()
            .filter(|_| i.state.as_str() == "FAULT")
        {
            let _ = writeln!(out, "{}: FAULT: {f}", i.name);
        }
        for m in &i.mismatches {
            let _ = writeln!(
                out,
                "{}: {} mismatch: {} advertises {}, we {}",
                i.name,
                m.kind.as_str(),
                m.peer
                    .as_deref()
                    .unwrap_or("a router (discarded by the kernel)"),
                m.theirs,
                m.ours
            );
        }
    }
    for g in &s.sync_groups {
        let _ = writeln!(
            out,
            "sync group {}: {} ({})",
            g.name,
            g.state.map_or("changing".to_string(), |s| s.to_string()),
            g.members.join(", ")
        );
    }
    out
}

/// Everything about one instance.
pub fn details(s: &Snapshot, i: &InstanceStatus) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Instance {} (VRID {} on {}, VRRPv{}, IPv{})",
        i.name,
        i.vrid,
        i.interface,
        i.version,
        if i.family == crate::runtime::status::Family::Ipv6 {
            6
        } else {
            4
        }
    );
    let _ = writeln!(
        o,
        "  State:            {} for {}{}",
        i.state,
        human_duration(i.state_for_secs),
        i.state_reason
            .as_ref()
            .map_or(String::new(), |r| format!(" ({r})"))
    );
    if let Some(f) = &i.fault_reason {
        let _ = writeln!(o, "  Fault:            {f}");
    }
    if let Some(g) = &i.sync_group {
        let _ = writeln!(o, "  Sync group:       {g}");
    }
    let p = &i.priority;
    let _ = writeln!(
        o,
        "  Priority:         {} (configured {}, tracking {:+}{})",
        p.effective,
        p.configured,
        p.tracking_delta,
        if p.maintenance { ", maintenance" } else { "" }
    );
    for t in &p.inputs {
        let _ = writeln!(
            o,
            "    {:?} {}: {} weight {}{} -> {}{}",
            t.kind,
            t.name,
            t.state,
            t.weight,
            if t.reverse { " reverse" } else { "" },
            t.contribution,
            if t.fault { " (FAULT)" } else { "" }
        );
    }
    let _ = writeln!(
        o,
        "  Advert interval:  {}s (master's {}s)",
        i.advert_interval_secs, i.master_advert_interval_secs
    );
    match &i.master {
        Some(m) if m.is_self => {
            let _ = writeln!(
                o,
                "  Master:           {} (this router), priority {}",
                m.address, m.priority
            );
        }
        Some(m) => {
            let _ = writeln!(
                o,
                "  Master:           {} priority {} interval {}s, last heard {}",
                m.address,
                m.priority,
                m.advert_interval_secs,
                m.last_heard_ago_secs
                    .map_or("-".to_string(), |a| format!("{} ago", human_duration(a)))
            );
        }
        None => {
            let _ = writeln!(o, "  Master:           unknown");
        }
    }
    for peer in &i.peers {
        let _ = writeln!(
            o,
            "  Heard:            {} ({}) priority {} interval {}s, {} VIP(s), {} adverts, last {} ago",
            peer.address,
            peer.mac,
            peer.priority,
            peer.advert_interval_secs,
            peer.addr_count,
            peer.adverts,
            human_duration(peer.last_seen_ago_secs)
        );
    }
    for v in &i.vips {
        let _ = writeln!(
            o,
            "  VIP:              {} on {}{}: {}",
            v.address,
            v.interface,
            if v.excluded { " (excluded)" } else { "" },
            match v.present {
                Some(true) => "present",
                Some(false) => "absent",
                None => "unknown",
            }
        );
    }
    for m in &i.mismatches {
        let _ = writeln!(
            o,
            "  Mismatch:         {}: {} advertises {}, we {}",
            m.kind.as_str(),
            m.peer
                .as_deref()
                .unwrap_or("a router (discarded by the kernel)"),
            m.theirs,
            m.ours
        );
    }
    let st = &i.stats;
    let _ = writeln!(
        o,
        "  Adverts:          sent {} received {}; priority 0 sent {} received {}",
        st.advert_sent, st.advert_rcvd, st.pri_zero_sent, st.pri_zero_rcvd
    );
    let _ = writeln!(
        o,
        "  Transitions:      {} (became master {}, released {})",
        st.transitions, st.become_master, st.release_master
    );
    let _ = writeln!(
        o,
        "  Errors:           length {} interval {} ttl {} type {} addr_list {} auth_type {} auth {} checksum {} version {} mismatches {}",
        st.packet_len_err,
        st.advert_interval_err,
        st.ip_ttl_err,
        st.invalid_type_rcvd,
        st.addr_list_err,
        st.authtype_mismatch,
        st.auth_failure,
        st.chk_err,
        st.vers_err,
        st.mismatches
    );
    if !i.discards.is_empty() {
        let list: Vec<String> = i.discards.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(o, "  Kernel discards:  {}", list.join(", "));
    }
    let _ = writeln!(
        o,
        "Agent pid {} version {} up {}, config {}",
        s.agent.pid,
        s.agent.version,
        human_duration(s.agent.uptime_secs),
        s.agent.config_file
    );
    o
}

/// What `reload` prints.
pub fn reload(r: &ReloadReply) -> String {
    let mut o = String::new();
    for w in &r.warnings {
        let _ = writeln!(o, "{w}");
    }
    if !r.accepted {
        for e in &r.errors {
            let _ = writeln!(o, "{e}");
        }
        let _ = writeln!(o, "reload rejected: the running configuration stays");
        return o;
    }
    let _ = writeln!(o, "reload accepted");
    for c in &r.changes {
        let what = match c.change {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Restarted => "restarted",
            ChangeKind::Changed => "changed in place",
            ChangeKind::Kept => "kept",
        };
        let _ = writeln!(
            o,
            "  {}: {what}{}",
            c.instance,
            c.detail
                .as_ref()
                .map_or(String::new(), |d| format!(" ({d})"))
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_aligned_line_per_instance_then_mismatches_and_groups() {
        let s = crate::runtime::status::tests::sample();
        assert_eq!(
            table(&s),
            "INSTANCE  IFACE  VRID  AF  STATE   PRIO    MASTER               VIPS    FOR\n\
             VI_1      eth0   51    4   BACKUP  90/100  198.18.0.2 prio 150  0/1 up  1m39s\n\
             VI_1: advert_int mismatch: 198.18.0.3 advertises 2.00s, we 1.00s\n\
             sync group G: BACKUP (VI_1)\n"
        );
        let d = details(&s, &s.instances[0]);
        assert!(
            d.contains("Priority:         90 (configured 100, tracking -10)"),
            "{d}"
        );
        assert!(d.contains("Script chk: failing weight -10 -> -10"), "{d}");
        assert!(
            d.contains("VIP:              198.18.0.10/32 on eth0: absent"),
            "{d}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(1.25), "1.2s");
        assert_eq!(human_duration(125.0), "2m5s");
        assert_eq!(human_duration(7300.0), "2h1m");
        assert_eq!(human_duration(90_000.0), "1d1h");
    }
}
