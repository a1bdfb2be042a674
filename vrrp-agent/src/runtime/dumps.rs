//! keepalived's dump signals: SIGUSR1 (`keepalived.data`), SIGUSR2 (`keepalived.stats`),
//! SIGRTMIN+2 (`keepalived.json`), written from the status snapshot by [`crate::dump`].
//! SIGRTMAX-1 (clear the statistics) is not available: the counters live in the kernel and
//! in the status snapshot, which never go backwards.
use super::{signals::Dump, Agent};
use crate::{config, dump, units::MonoTime};

impl Agent {
    /// Writes the file `d` asks for (logging where, or why not).
    pub(super) fn write_dump(&self, d: Dump) {
        let name = match d {
            Dump::Data => "keepalived.data",
            Dump::Stats => "keepalived.stats",
            Dump::Json => "keepalived.json",
            Dump::StatsClear => {
                tracing::warn!(
                    "{}: {} (as keepalived does) is not available in this version; carrying on",
                    d.signal_name(),
                    d.what()
                );
                return;
            }
        };
        let snap = self.snapshot();
        // The scripts' command lines (JSON's track_script) are not kept by the runtime: read
        // from the configuration file.
        let file = config::load(&self.opts.config).ok().map(|l| l.config);
        let scripts: Vec<(String, String)> = file
            .iter()
            .flat_map(|c| c.scripts.iter())
            .map(|s| (s.name.clone(), s.script.clone()))
            .collect();
        let (mono, wall) = (MonoTime::now(), snap.taken_unix);
        let instances: Vec<dump::DumpInstance<'_>> = snap
            .instances
            .iter()
            .filter_map(|st| {
                let vr = self.routers.values().find(|r| r.name == st.name);
                let config = match vr {
                    Some(vr) => &vr.inst,
                    None => file.as_ref()?.instance(&st.name)?,
                };
                Some(dump::DumpInstance {
                    status: st,
                    config,
                    src_ip: vr.map(|vr| vr.src),
                    read_timeout_unix: vr.and_then(|vr| {
                        let at = vr.router.next_deadline()?;
                        let ahead = at.saturating_since(mono).as_secs_f64();
                        let behind = mono.saturating_since(at).as_secs_f64();
                        Some(wall + ahead - behind)
                    }),
                    master_down_timer: vr
                        .map_or(Default::default(), |vr| vr.router.master_down_interval()),
                    script_commands: scripts.clone(),
                })
            })
            .collect();
        let text = match d {
            Dump::Data => dump::data(&instances),
            Dump::Stats => dump::stats(&instances),
            _ => dump::json(&instances),
        };
        let dir = dump::dump_dir();
        match dump::write_file(&dir, name, &text) {
            Ok(path) => tracing::info!(path = %path.display(), "{}: dump written", d.signal_name()),
            Err(e) => tracing::error!(
                "{}: writing {}: {e}",
                d.signal_name(),
                dir.join(name).display()
            ),
        }
    }
}
