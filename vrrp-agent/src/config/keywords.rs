//! Every keyword keepalived accepts in the blocks this loader reads, and what this project
//! does with it.
//!
//! Built from keepalived.conf(5) of keepalived 2.2.7 and keepalived's own keyword
//! registration (`init_global_keywords`, `init_vrrp_keywords`, `add_track_file_keywords`),
//! plus `v3_checksum_as_v2` (keepalived 2.2.8). A keyword is one of:
//! - [`Support::Supported`]: parsed into the typed configuration;
//! - [`Support::Unsupported`]: a VRRP keyword keepalived knows and this project does not
//!   implement: an error, never silently ignored;
//! - [`Support::Skipped`]: belongs to another keepalived subsystem (LVS, BFD, email, SNMP,
//!   ...): skipped with a warning at each occurrence;
//! - [`Support::Ignored`]: not a keepalived keyword, but common in configurations found in the
//!   wild; accepted with a warning that says why it has no effect.

/// What the loader does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Supported,
    Unsupported,
    /// The subsystem it belongs to, for the warning.
    Skipped(&'static str),
    /// Why it has no effect, for the warning.
    Ignored(&'static str),
}

/// The block a statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Root,
    GlobalDefs,
    Instance,
    Authentication,
    Script,
    SyncGroup,
    TrackFile,
    TrackProcess,
}

impl Context {
    /// How messages name the block.
    pub fn label(self) -> &'static str {
        match self {
            Context::Root => "the top level",
            Context::GlobalDefs => "global_defs",
            Context::Instance => "vrrp_instance",
            Context::Authentication => "authentication",
            Context::Script => "vrrp_script",
            Context::SyncGroup => "vrrp_sync_group",
            Context::TrackFile => "vrrp_track_file",
            Context::TrackProcess => "vrrp_track_process",
        }
    }

    /// "in vrrp_instance", "at the top level".
    pub fn where_(self) -> String {
        match self {
            Context::Root => "at the top level".to_owned(),
            other => format!("in {}", other.label()),
        }
    }

    pub fn table(self) -> &'static [(&'static str, Support)] {
        match self {
            Context::Root => ROOT,
            Context::GlobalDefs => GLOBAL_DEFS,
            Context::Instance => INSTANCE,
            Context::Authentication => AUTHENTICATION,
            Context::Script => SCRIPT,
            Context::SyncGroup => SYNC_GROUP,
            Context::TrackFile => TRACK_FILE,
            Context::TrackProcess => TRACK_PROCESS_BLOCK,
        }
    }

    pub const ALL: [Context; 8] = [
        Context::Root,
        Context::GlobalDefs,
        Context::Instance,
        Context::Authentication,
        Context::Script,
        Context::SyncGroup,
        Context::TrackFile,
        Context::TrackProcess,
    ];
}

/// The entry for `name` in `ctx` (keepalived keywords are case-sensitive).
pub(crate) fn lookup(ctx: Context, name: &str) -> Option<Support> {
    find(ctx.table(), name)
}

pub(crate) fn find(table: &[(&str, Support)], name: &str) -> Option<Support> {
    table.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely misspelling.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let mut score = strsim::normalized_damerau_levenshtein(&word, &candidate.to_lowercase());
        // `vrrp_garp_master_delay` in an instance means `garp_master_delay`, and vice versa.
        if word.strip_prefix("vrrp_") == Some(candidate)
            || candidate.strip_prefix("vrrp_") == Some(&word)
        {
            score = score.max(0.9);
        }
        if score >= 0.7 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Suffix for messages: "; did you mean `x`?" or "".
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    suggest(word, candidates)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

use Support::{Ignored, Skipped, Supported, Unsupported};

const LVS: &str = "keepalived's LVS/IPVS load balancer (the checker process)";
const EMAIL: &str = "keepalived's email alerts for its LVS checkers";
const SNMP: &str = "keepalived's SNMP agent";
const DBUS: &str = "keepalived's D-Bus interface";
const BFD: &str = "keepalived's BFD process";
const STATIC: &str = "keepalived's static addresses, routes and rules";
const PROCESS: &str = "keepalived's own process management";
const TRACK_PROCESS: &str =
    "keepalived's process-events socket tuning (the socket size is the kernel's default here)";
const CONFIG: &str = "keepalived's configuration reload machinery";

/// Top-level keywords. `include` and its variants are handled by the parser.
pub(crate) const ROOT: &[(&str, Support)] = &[
    ("global_defs", Supported),
    ("vrrp_instance", Supported),
    ("vrrp_script", Supported),
    ("vrrp_sync_group", Supported),
    ("vrrp_track_file", Supported),
    ("track_file", Supported),
    ("include", Supported),
    ("includer", Supported),
    ("includem", Supported),
    ("includew", Supported),
    ("includeb", Supported),
    ("includea", Supported),
    ("garp_group", Unsupported),
    ("linkbeat_interfaces", Unsupported),
    ("linkbeat_use_polling", Unsupported),
    ("interface_up_down_delays", Unsupported),
    ("net_namespace", Unsupported),
    ("namespace_with_ipsets", Unsupported),
    ("virtual_server", Skipped(LVS)),
    ("virtual_server_group", Skipped(LVS)),
    ("real_server", Skipped(LVS)),
    ("net_namespace_ipvs", Skipped(LVS)),
    ("static_ipaddress", Skipped(STATIC)),
    ("static_routes", Skipped(STATIC)),
    ("static_rules", Skipped(STATIC)),
    ("track_group", Skipped(STATIC)),
    ("bfd_instance", Skipped(BFD)),
    ("vrrp_track_process", Supported),
    ("instance", Skipped(PROCESS)),
    ("use_pid_dir", Skipped(PROCESS)),
    ("child_wait_time", Skipped(PROCESS)),
];

pub(crate) const GLOBAL_DEFS: &[(&str, Support)] = &[
    ("router_id", Supported),
    ("vrrp_version", Supported),
    ("vrrp_garp_master_delay", Supported),
    ("vrrp_garp_master_repeat", Supported),
    ("vrrp_garp_master_refresh", Supported),
    ("vrrp_garp_master_refresh_repeat", Supported),
    ("vrrp_garp_lower_prio_delay", Supported),
    ("vrrp_garp_lower_prio_repeat", Supported),
    ("vrrp_garp_interval", Supported),
    ("vrrp_gna_interval", Supported),
    ("vrrp_min_garp", Supported),
    ("enable_script_security", Supported),
    ("script_user", Supported),
    ("notify_fifo", Supported),
    ("vrrp_notify_fifo", Supported),
    ("v3_checksum_as_v2", Supported),
    // Unicast sources are always checked against unicast_peer here (PROTOCOL.md).
    ("vrrp_check_unicast_src", Supported),
    ("vrrp_mcast_group4", Supported),
    ("vrrp_mcast_group6", Supported),
    ("vrrp_garp_extra_if", Supported),
    ("vrrp_vmac_garp_intvl", Supported),
    ("vrrp_lower_prio_no_advert", Supported),
    ("vrrp_higher_prio_send_advert", Supported),
    ("vrrp_down_timer_adverts", Unsupported),
    ("vrrp_iptables", Unsupported),
    ("vrrp_ipsets", Unsupported),
    ("nftables", Unsupported),
    ("nftables_priority", Unsupported),
    ("nftables_ifindex", Unsupported),
    ("nftables_counters", Unsupported),
    ("vrrp_skip_check_adv_addr", Supported),
    ("vrrp_strict", Supported),
    ("vrrp_priority", Supported),
    ("vrrp_no_swap", Supported),
    ("vrrp_rt_priority", Supported),
    ("vrrp_cpu_affinity", Supported),
    ("vrrp_rlimit_rttime", Supported),
    ("vrrp_rlimit_rtime", Supported),
    ("vrrp_process_name", Unsupported),
    ("notify_fifo_script", Supported),
    ("vrrp_notify_fifo_script", Supported),
    ("vrrp_notify_priority_changes", Supported),
    ("fifo_write_vrrp_states_on_reload", Unsupported),
    ("vrrp_netlink_cmd_rcv_bufs", Unsupported),
    ("vrrp_netlink_cmd_rcv_bufs_force", Unsupported),
    ("vrrp_netlink_monitor_rcv_bufs", Unsupported),
    ("vrrp_netlink_monitor_rcv_bufs_force", Unsupported),
    ("vrrp_rx_bufs_policy", Unsupported),
    ("vrrp_rx_bufs_multiplier", Unsupported),
    ("vrrp_startup_delay", Supported),
    ("log_unknown_vrids", Unsupported),
    ("vmac_prefix", Unsupported),
    ("vmac_addr_prefix", Unsupported),
    ("dynamic_interfaces", Supported),
    ("default_interface", Supported),
    ("disable_local_igmp", Unsupported),
    ("notification_email", Supported),
    ("notification_email_from", Supported),
    ("smtp_server", Supported),
    ("smtp_helo_name", Supported),
    ("smtp_connect_timeout", Supported),
    ("smtp_alert", Supported),
    ("smtp_alert_vrrp", Supported),
    ("smtp_alert_checker", Skipped(EMAIL)),
    ("no_email_faults", Supported),
    ("checker_process_name", Skipped(LVS)),
    ("lvs_process_name", Skipped(LVS)),
    ("checker_log_all_failures", Skipped(LVS)),
    ("lvs_timeouts", Skipped(LVS)),
    ("lvs_flush", Skipped(LVS)),
    ("lvs_flush_on_stop", Skipped(LVS)),
    ("lvs_flush_onstop", Skipped(LVS)),
    ("lvs_sync_daemon", Skipped(LVS)),
    ("nftables_ipvs", Skipped(LVS)),
    ("nftables_ipvs_priority", Skipped(LVS)),
    ("nftables_ipvs_start_fwmark", Skipped(LVS)),
    ("lvs_notify_fifo", Skipped(LVS)),
    ("lvs_notify_fifo_script", Skipped(LVS)),
    ("checker_priority", Skipped(LVS)),
    ("checker_no_swap", Skipped(LVS)),
    ("checker_rt_priority", Skipped(LVS)),
    ("checker_cpu_affinity", Skipped(LVS)),
    ("checker_rlimit_rttime", Skipped(LVS)),
    ("checker_rlimit_rtime", Skipped(LVS)),
    ("lvs_netlink_cmd_rcv_bufs", Skipped(LVS)),
    ("lvs_netlink_cmd_rcv_bufs_force", Skipped(LVS)),
    ("lvs_netlink_monitor_rcv_bufs", Skipped(LVS)),
    ("lvs_netlink_monitor_rcv_bufs_force", Skipped(LVS)),
    ("rs_init_notifies", Skipped(LVS)),
    ("no_checker_emails", Skipped(LVS)),
    ("bfd_process_name", Skipped(BFD)),
    ("bfd_priority", Skipped(BFD)),
    ("bfd_no_swap", Skipped(BFD)),
    ("bfd_rt_priority", Skipped(BFD)),
    ("bfd_cpu_affinity", Skipped(BFD)),
    ("bfd_rlimit_rttime", Skipped(BFD)),
    ("bfd_rlimit_rtime", Skipped(BFD)),
    ("snmp_socket", Skipped(SNMP)),
    ("enable_traps", Skipped(SNMP)),
    ("enable_snmp_vrrp", Skipped(SNMP)),
    ("enable_snmp_keepalived", Skipped(SNMP)),
    ("enable_snmp_rfc", Skipped(SNMP)),
    ("enable_snmp_rfcv2", Skipped(SNMP)),
    ("enable_snmp_rfcv3", Skipped(SNMP)),
    ("enable_snmp_checker", Skipped(SNMP)),
    ("enable_dbus", Skipped(DBUS)),
    ("dbus_service_name", Skipped(DBUS)),
    ("process_monitor_rcv_bufs", Skipped(TRACK_PROCESS)),
    ("process_monitor_rcv_bufs_force", Skipped(TRACK_PROCESS)),
    ("process_names", Skipped(PROCESS)),
    ("process_name", Skipped(PROCESS)),
    ("startup_script", Skipped(PROCESS)),
    ("startup_script_timeout", Skipped(PROCESS)),
    ("shutdown_script", Skipped(PROCESS)),
    ("shutdown_script_timeout", Skipped(PROCESS)),
    ("max_auto_priority", Skipped(PROCESS)),
    ("min_auto_priority_delay", Skipped(PROCESS)),
    ("umask", Skipped(PROCESS)),
    ("data_use_instance", Skipped(PROCESS)),
    ("random_seed", Skipped(CONFIG)),
    ("reload_check_config", Skipped(CONFIG)),
    ("reload_time_file", Skipped(CONFIG)),
    ("reload_repeat", Skipped(CONFIG)),
    ("reload_file", Skipped(CONFIG)),
    ("include_check", Skipped(CONFIG)),
    ("tmp_config_directory", Skipped(CONFIG)),
    ("config_save_dir", Skipped(CONFIG)),
    (
        "log_level",
        Ignored(
            "logging is set with `vrrp-agent run --log-level` or RUST_LOG (keepalived itself rejects `log_level` \
             as an unknown keyword)",
        ),
    ),
    (
        "log_facility",
        Ignored(
            "this daemon logs to stderr, at the level set with `vrrp-agent run --log-level` or RUST_LOG \
             (keepalived itself takes the facility from its -S option, not from global_defs)",
        ),
    ),
];

pub(crate) const INSTANCE: &[(&str, Support)] = &[
    ("state", Supported),
    ("interface", Supported),
    ("virtual_router_id", Supported),
    ("priority", Supported),
    ("advert_int", Supported),
    ("version", Supported),
    ("nopreempt", Supported),
    ("preempt", Supported),
    ("preempt_delay", Supported),
    ("authentication", Supported),
    ("unicast_src_ip", Supported),
    ("unicast_peer", Supported),
    ("unicast_ttl", Supported),
    ("mcast_src_ip", Supported),
    ("virtual_ipaddress", Supported),
    ("virtual_ipaddress_excluded", Supported),
    ("garp_master_delay", Supported),
    ("garp_master_repeat", Supported),
    ("garp_master_refresh", Supported),
    ("garp_master_refresh_repeat", Supported),
    ("garp_lower_prio_delay", Supported),
    ("garp_lower_prio_repeat", Supported),
    ("track_script", Supported),
    ("track_interface", Supported),
    ("track_file", Supported),
    ("notify_master", Supported),
    ("notify_backup", Supported),
    ("notify_fault", Supported),
    ("notify_stop", Supported),
    ("notify", Supported),
    ("v3_checksum_as_v2", Supported),
    // Unicast sources are always checked against unicast_peer here (PROTOCOL.md).
    ("check_unicast_src", Supported),
    ("use_vmac", Supported),
    ("use_vmac_addr", Unsupported),
    ("vmac_xmit_base", Supported),
    ("use_ipvlan", Unsupported),
    ("unicast_fault_no_peer", Supported),
    ("old_unicast_checksum", Unsupported),
    ("native_ipv6", Unsupported),
    ("vrf", Unsupported),
    ("dont_track_primary", Supported),
    ("track_process", Supported),
    ("track_bfd", Unsupported),
    ("mcast_dst_ip", Supported),
    ("track_src_ip", Unsupported),
    ("promote_secondaries", Supported),
    ("linkbeat_use_polling", Unsupported),
    ("virtual_routes", Supported),
    ("virtual_rules", Supported),
    ("accept", Supported),
    ("no_accept", Supported),
    ("skip_check_adv_addr", Supported),
    ("strict_mode", Supported),
    ("debug", Supported),
    ("notify_deleted", Unsupported),
    ("notify_master_rx_lower_pri", Supported),
    ("notify_priority_changes", Supported),
    ("smtp_alert", Supported),
    ("lvs_sync_daemon_interface", Skipped(LVS)),
    ("down_timer_adverts", Unsupported),
    ("timer_expired_backup", Unsupported),
    ("garp_extra_if", Supported),
    ("vmac_garp_intvl", Supported),
    ("lower_prio_no_advert", Supported),
    ("higher_prio_send_advert", Supported),
    ("kernel_rx_buf_size", Unsupported),
];

pub(crate) const AUTHENTICATION: &[(&str, Support)] =
    &[("auth_type", Supported), ("auth_pass", Supported)];

pub(crate) const SCRIPT: &[(&str, Support)] = &[
    ("script", Supported),
    ("interval", Supported),
    ("timeout", Supported),
    ("weight", Supported),
    ("rise", Supported),
    ("fall", Supported),
    ("user", Supported),
    ("init_fail", Supported),
];

pub(crate) const SYNC_GROUP: &[(&str, Support)] = &[
    ("group", Supported),
    ("track_interface", Supported),
    ("track_script", Supported),
    ("track_file", Supported),
    ("notify_master", Supported),
    ("notify_backup", Supported),
    ("notify_fault", Supported),
    ("notify_stop", Supported),
    ("notify", Supported),
    ("track_process", Supported),
    ("track_bfd", Unsupported),
    ("notify_deleted", Unsupported),
    ("notify_priority_changes", Supported),
    ("smtp_alert", Supported),
    ("global_tracking", Unsupported),
    ("sync_group_tracking_weight", Unsupported),
];

pub(crate) const TRACK_FILE: &[(&str, Support)] = &[
    ("file", Supported),
    ("weight", Supported),
    ("init_file", Supported),
];

/// `vrrp_track_process NAME { ... }` (keepalived's `init_vrrp_keywords`, track process
/// part).
pub(crate) const TRACK_PROCESS_BLOCK: &[(&str, Support)] = &[
    ("process", Supported),
    ("param_match", Supported),
    ("weight", Supported),
    ("quorum", Supported),
    ("quorum_max", Supported),
    ("delay", Supported),
    ("terminate_delay", Supported),
    ("fork_delay", Supported),
    ("full_command", Supported),
];

/// Options after an address in `virtual_ipaddress` / `virtual_ipaddress_excluded`
/// (`ip address add` syntax).
pub(crate) const VIP_OPTIONS: &[(&str, Support)] = &[
    ("dev", Supported),
    ("label", Supported),
    ("scope", Supported),
    ("brd", Supported),
    ("broadcast", Unsupported),
    ("use_vmac", Unsupported),
    ("peer", Unsupported),
    ("home", Unsupported),
    ("-nodad", Unsupported),
    ("nodad", Unsupported),
    ("mngtmpaddr", Unsupported),
    ("noprefixroute", Unsupported),
    ("autojoin", Unsupported),
    ("no_track", Unsupported),
    ("preferred_lft", Unsupported),
    ("track_group", Unsupported),
];

/// Options after an address in `unicast_peer`.
pub(crate) const PEER_OPTIONS: &[(&str, Support)] =
    &[("min_ttl", Supported), ("max_ttl", Supported)];

/// Address scopes accepted by `scope` (as `ip address add`).
pub(crate) const SCOPES: &[&str] = &["global", "site", "link", "host", "nowhere"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_have_no_duplicates() {
        for ctx in Context::ALL {
            let mut seen = HashSet::new();
            for (name, _) in ctx.table() {
                assert!(seen.insert(name), "{name} twice in {}", ctx.label());
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("priorty", INSTANCE.iter().map(|(n, _)| *n)),
            Some("priority")
        );
        assert_eq!(
            suggest("vrrp_garp_master_delay", INSTANCE.iter().map(|(n, _)| *n)),
            Some("garp_master_delay")
        );
        assert_eq!(suggest("xyzzy", INSTANCE.iter().map(|(n, _)| *n)), None);
        assert_eq!(
            suggest("lable", ["dev", "label", "scope", "brd"]),
            Some("label")
        );
    }
}
