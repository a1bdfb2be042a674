//! The runtime side of keepalived options that change how instances start and what puts
//! them in FAULT: `vrrp_startup_delay`, `promote_secondaries`, `dont_track_primary`,
//! `unicast_fault_no_peer`. Decisions are plain functions; the runtime calls them.
use std::path::PathBuf;

use crate::config::{Config, Family, Instance};

use super::signals::{Request, Signals};

/// Whether the instance's own interface going down (or losing carrier) puts it in FAULT:
/// yes, unless `dont_track_primary` (keepalived: `VRRP_FLAG_DONT_TRACK_PRIMARY`).
pub(super) fn tracks_own_link(inst: &Instance) -> bool {
    !inst.dont_track_primary
}

/// A fault that comes from the configuration itself: `unicast_fault_no_peer` without any
/// `unicast_peer` (keepalived counts it as a configuration fault: FAULT for good, instead of
/// falling back to multicast).
pub(super) fn config_fault(inst: &Instance) -> Option<String> {
    (inst.unicast_fault_no_peer && inst.unicast_peers.is_empty())
        .then(|| "unicast_fault_no_peer is set and there is no unicast_peer".to_owned())
}

/// Waits out `vrrp_startup_delay` before any instance starts, answering signals meanwhile.
/// Returns false if a stop signal came (the daemon then stops without starting).
///
/// keepalived's instances are Backup during the delay and their first Master_Down timer
/// runs from its end; here they start (as Backup, RFC 9568 §6.4.1) when it ends. On the wire
/// both send nothing for the delay and then wait a Master_Down_Interval.
pub(super) async fn startup_delay(config: &Config, signals: &mut Signals) -> bool {
    let Some(delay) = config.global.startup_delay else {
        return true;
    };
    tracing::info!("vrrp_startup_delay: delaying the start of every instance by {delay:?}");
    let end = tokio::time::sleep(delay);
    tokio::pin!(end);
    loop {
        tokio::select! {
            () = &mut end => return true,
            req = signals.recv() => match req {
                Request::Stop(name) => {
                    tracing::info!("{name} during vrrp_startup_delay: stopping");
                    return false;
                }
                Request::Reload => tracing::info!("SIGHUP during vrrp_startup_delay: the configuration is read when it ends"),
                Request::Dump(_) => {}
            },
        }
    }
}

/// The `promote_secondaries` sysctls set at start-up that were off before, to put back at
/// exit (keepalived resets the ones it set).
#[derive(Debug, Default)]
pub(super) struct Promoted(Vec<PathBuf>);

/// `net.ipv4.conf.IFACE.promote_secondaries` of an interface.
fn sysctl_path(iface: &str) -> PathBuf {
    PathBuf::from(format!(
        "/proc/sys/net/ipv4/conf/{iface}/promote_secondaries"
    ))
}

/// Turns on `promote_secondaries` on the interface of every IPv4 instance that asks for it
/// (keepalived does it for the instance's interface when the instance is set up).
pub(super) fn promote_secondaries(config: &Config) -> Promoted {
    let mut set = Promoted::default();
    let mut ifaces: Vec<&str> = config
        .instances
        .iter()
        .filter(|i| i.promote_secondaries && i.family == Family::V4)
        .map(|i| i.interface.as_str())
        .collect();
    ifaces.sort_unstable();
    ifaces.dedup();
    for iface in ifaces {
        let path = sysctl_path(iface);
        match std::fs::read_to_string(&path) {
            Ok(v) if v.trim() == "1" => {
                tracing::info!(iface, "promote_secondaries is already on");
            }
            Ok(_) => match std::fs::write(&path, "1") {
                Ok(()) => {
                    tracing::info!(iface, "promote_secondaries turned on (off again at exit)");
                    set.0.push(path);
                }
                Err(e) => tracing::warn!(
                    iface,
                    "promote_secondaries: writing {}: {e}",
                    path.display()
                ),
            },
            Err(e) => tracing::warn!(
                iface,
                "promote_secondaries: reading {}: {e}",
                path.display()
            ),
        }
    }
    set
}

impl Drop for Promoted {
    /// Turns off again what [`promote_secondaries`] turned on.
    fn drop(&mut self) {
        for path in self.0.drain(..) {
            if let Err(e) = std::fs::write(&path, "0") {
                tracing::warn!("promote_secondaries: resetting {}: {e}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(extra: &str, peers: &str) -> Instance {
        let text = format!(
            "vrrp_instance V {{\n interface lo0x\n virtual_router_id 1\n {extra}\n {peers}\n \
             virtual_ipaddress {{\n 198.18.0.10/24\n }}\n}}\n"
        );
        let loaded = crate::config::parse_str(&text, std::path::Path::new("/nonexistent.conf"))
            .expect("valid");
        loaded.config.instances[0].clone()
    }

    #[test]
    fn dont_track_primary_stops_tracking_the_own_interface() {
        assert!(tracks_own_link(&inst("", "")));
        assert!(!tracks_own_link(&inst("dont_track_primary", "")));
    }

    #[test]
    fn unicast_fault_no_peer_faults_only_without_peers() {
        assert_eq!(config_fault(&inst("", "")), None);
        assert!(config_fault(&inst("unicast_fault_no_peer", "")).is_some());
        assert_eq!(
            config_fault(&inst(
                "unicast_fault_no_peer",
                "unicast_peer {\n 198.18.0.2\n }"
            )),
            None
        );
    }
}
