//! The thin runtime that wires configuration, data plane and signals together with tokio.
//!
//! At this stage the agent loads the configuration, programs the kernel with every
//! instance's receive settings, attaches XDP, and reports what the kernel sees. The election
//! (becoming Master, owning VIPs) plugs in here next.
use std::{collections::BTreeMap, net::IpAddr, path::PathBuf};

use anyhow::{bail, Context, Result};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, SignalKind},
};
use vrrp_common::{
    InstanceConfig, InstanceKey, PeerEvent, PeerKey, AUTH_NONE, AUTH_PASS, CFG_UNICAST,
    EV_INTERVAL, EV_NEW_SOURCE, EV_PRIORITY, EV_PRIORITY_ZERO, FAMILY_IPV4, FAMILY_IPV6,
};

use crate::{
    config::{Auth, Config, Family, Instance, Version},
    dataplane::{self, Dataplane, XdpModeChoice},
    units::Centisecs,
};

/// Options of `vrrp-agent run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// keepalived.conf to read.
    pub config: PathBuf,
    /// Directory to pin the maps under.
    pub pin_dir: PathBuf,
    /// XDP attach mode.
    pub xdp_mode: XdpModeChoice,
}

/// What the kernel must know about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInstance {
    /// Instance name from the configuration.
    pub name: String,
    /// Interface name.
    pub iface: String,
    /// Map key.
    pub key: InstanceKey,
    /// Map value.
    pub cfg: InstanceConfig,
    /// Allowed unicast sources (empty: multicast).
    pub peers: Vec<PeerKey>,
}

/// Address bytes as the maps hold them: IPv4 in bytes 0..4, the rest zero.
pub fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The kernel's view of one configured instance, given the index of its interface.
pub fn kernel_instance(inst: &Instance, ifindex: u32) -> KernelInstance {
    let family = match inst.family {
        Family::V4 => FAMILY_IPV4,
        Family::V6 => FAMILY_IPV6,
    };
    let key = InstanceKey::new(ifindex, inst.vrid, family);
    let (auth_type, auth_pass) = match (&inst.version, &inst.auth) {
        (Version::V2, Some(Auth::Pass(p))) => (AUTH_PASS, *p),
        _ => (AUTH_NONE, [0; 8]),
    };
    let adver_int_cs =
        Centisecs::from_duration_round(inst.advert_int).map_or(u16::MAX, Centisecs::get);
    let unicast = !inst.unicast_peers.is_empty();
    let cfg = InstanceConfig {
        version: match inst.version {
            Version::V2 => 2,
            Version::V3 => 3,
        },
        auth_type,
        flags: if unicast { CFG_UNICAST } else { 0 },
        _pad0: 0,
        adver_int_cs,
        slot: 0, // assigned by Dataplane::set_instance
        auth_pass,
    };
    let peers = inst
        .unicast_peers
        .iter()
        .map(|p| PeerKey::new(key, addr_bytes(*p)))
        .collect();
    KernelInstance {
        name: inst.name.clone(),
        iface: inst.interface.clone(),
        key,
        cfg,
        peers,
    }
}

/// Configured features whose behaviour is not active in this version, by name, so that `run`
/// can say so at start-up instead of silently ignoring them.
pub fn inactive_features(config: &Config) -> Vec<String> {
    let mut out = vec![
        "the election (Master/Backup transitions) and VIP ownership: this version only \
         programs the kernel's advert checks and reports what it sees"
            .to_string(),
    ];
    for inst in &config.instances {
        let n = &inst.name;
        if !inst.vips.is_empty() || !inst.vips_excluded.is_empty() {
            out.push(format!(
                "{n}: virtual_ipaddress (addresses are not added yet)"
            ));
        }
        for t in &inst.track_scripts {
            out.push(format!("{n}: track_script {}", t.name));
        }
        for t in &inst.track_interfaces {
            out.push(format!("{n}: track_interface {}", t.name));
        }
        for t in &inst.track_files {
            out.push(format!("{n}: track_file {}", t.name));
        }
        let notify = &inst.notify;
        for (kw, set) in [
            ("notify_master", notify.master.is_some()),
            ("notify_backup", notify.backup.is_some()),
            ("notify_fault", notify.fault.is_some()),
            ("notify_stop", notify.stop.is_some()),
            ("notify", notify.generic.is_some()),
        ] {
            if set {
                out.push(format!("{n}: {kw}"));
            }
        }
        if inst.preempt_delay > std::time::Duration::ZERO {
            out.push(format!("{n}: preempt_delay"));
        }
    }
    for s in &config.scripts {
        out.push(format!("vrrp_script {} (not run yet)", s.name));
    }
    for g in &config.sync_groups {
        out.push(format!("vrrp_sync_group {}", g.name));
    }
    out
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(opts: RunOptions) -> Result<()> {
    let loaded = crate::config::load(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let config = loaded.config;
    for f in inactive_features(&config) {
        tracing::warn!("configured but not active yet: {f}");
    }

    let mut instances = Vec::new();
    for inst in &config.instances {
        let Some(ifindex) = dataplane::if_index(&inst.interface) else {
            bail!(
                "instance {}: interface {} does not exist on this host",
                inst.name,
                inst.interface
            );
        };
        instances.push(kernel_instance(inst, ifindex));
    }
    if instances.is_empty() {
        bail!("{}: no vrrp_instance configured", opts.config.display());
    }

    let mut dp = Dataplane::load(Some(&opts.pin_dir)).context("loading the XDP program")?;
    tracing::info!(pin_dir = %opts.pin_dir.display(), "XDP program loaded, maps pinned");
    let mut names = BTreeMap::new();
    for ki in &instances {
        dp.set_instance(ki.key, ki.cfg)?;
        for p in &ki.peers {
            dp.allow_unicast_peer(*p)?;
        }
        names.insert(ki.key, ki.name.clone());
    }
    let mut ifaces: Vec<&str> = instances.iter().map(|k| k.iface.as_str()).collect();
    ifaces.sort_unstable();
    ifaces.dedup();
    for iface in ifaces {
        let mode = dp.attach(iface, opts.xdp_mode)?;
        tracing::info!(iface, %mode, "XDP attached");
    }
    for ki in &instances {
        tracing::info!(
            instance = %ki.name,
            iface = %ki.iface,
            vrid = ki.key.vrid,
            af = ki.key.family,
            version = ki.cfg.version,
            "watching adverts"
        );
    }

    let events = dp.take_events()?;
    // SAFETY: the RingBuf owns its map fd and mmap for as long as the AsyncFd holds it; the
    // fd is neither closed nor replaced while registered.
    let mut events =
        unsafe { AsyncFd::register(events) }.context("polling the event ring buffer")?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = sighup.recv() => {
                tracing::warn!("SIGHUP: reloading is not supported yet; keeping the running configuration");
            }
            guard = events.readable_mut() => {
                let mut guard = guard.context("waiting for kernel events")?;
                let ring = guard.get_inner_mut();
                while let Some(item) = ring.next() {
                    match parse_event(&item) {
                        Some(ev) => log_event(&names, &ev),
                        None => tracing::warn!(len = item.len(), "malformed event from the kernel"),
                    }
                }
                guard.clear_ready();
            }
        }
    }
    drop(events);
    dp.shutdown().context("detaching XDP and removing pins")?;
    tracing::info!("stopped: XDP detached, pins removed");
    Ok(())
}

/// Decodes one ring-buffer record.
pub fn parse_event(bytes: &[u8]) -> Option<PeerEvent> {
    if bytes.len() < std::mem::size_of::<PeerEvent>() {
        return None;
    }
    // SAFETY: PeerEvent is repr(C) plain data valid for any bit pattern, and we read exactly
    // its size from a buffer at least that long.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const PeerEvent) })
}

/// A peer address from map bytes.
pub fn peer_addr(key: &PeerKey) -> IpAddr {
    if key.family == FAMILY_IPV4 {
        IpAddr::from([key.addr[0], key.addr[1], key.addr[2], key.addr[3]])
    } else {
        IpAddr::from(key.addr)
    }
}

fn log_event(names: &BTreeMap<InstanceKey, String>, ev: &PeerEvent) {
    let name = names.get(&ev.peer.instance()).map_or("?", String::as_str);
    let from = peer_addr(&ev.peer);
    let interval = Centisecs::new(ev.adver_int_cs);
    let mut what = Vec::new();
    if ev.kind & EV_NEW_SOURCE != 0 {
        what.push("new advertiser".to_string());
    }
    if ev.kind & EV_PRIORITY != 0 {
        what.push(format!("priority {} -> {}", ev.old_priority, ev.priority));
    }
    if ev.kind & EV_PRIORITY_ZERO != 0 {
        what.push("priority 0 (master resigning)".to_string());
    }
    if ev.kind & EV_INTERVAL != 0 {
        what.push(format!("interval now {interval}"));
    }
    tracing::info!(
        instance = name,
        vrid = ev.peer.vrid,
        %from,
        priority = ev.priority,
        %interval,
        "{}",
        what.join(", ")
    );
}
