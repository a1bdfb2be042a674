//! The runtime: wires configuration, the XDP data plane, the election, netlink, the advert
//! sender and the GARP announcer with tokio, on one thread.
//!
//! What wakes it:
//! - its one timer (a timerfd armed at the earliest election or GARP deadline);
//! - a ring-buffer event from XDP (a new source, a priority change, priority 0, an interval
//!   change);
//! - a signal.
//!
//! A Backup does not wake per received advert. At its Master_Down deadline it first reads
//! the kernel's record of the Master (shared memory, no syscall) and feeds the newest advert
//! to the election, which re-arms the timer from the advert's real receive time.
mod kernel;
mod timer;

use std::{collections::BTreeMap, net::IpAddr, path::PathBuf};

use anyhow::{bail, Context, Result};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, SignalKind},
};
use vrrp_common::{
    InstanceKey, PeerEvent, EV_INTERVAL, EV_NEW_SOURCE, EV_PRIORITY, EV_PRIORITY_ZERO,
};

pub use kernel::{addr_bytes, kernel_instance, parse_event, peer_addr, KernelInstance};

use crate::{
    announce::{Announcer, GarpSchedule},
    config::{self, Config, Family, VirtualAddress},
    dataplane::{Dataplane, XdpModeChoice},
    election::{Action, Input, Router, RouterConfig, State},
    netlink::Netlink,
    tx::{self, AdvertSocket, Outgoing},
    units::{Centisecs, MonoTime},
    wire::{self, vrrp::Repr, ChecksumForm, MacAddr},
};

/// How far ahead of its deadline a Backup is refreshed from the kernel's records when the
/// timer wakes the runtime for another router (see `Agent::on_timer`).
const REFRESH_AHEAD: std::time::Duration = std::time::Duration::from_millis(5);

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

/// Configured features whose behaviour is not active in this version, by name, so that `run`
/// can say so at start-up instead of silently ignoring them.
pub fn inactive_features(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for inst in &config.instances {
        let n = &inst.name;
        if inst.family == Family::V6 {
            out.push(format!(
                "{n}: IPv6 election (the kernel checks and records its adverts; the agent does not \
                 advertise or own its addresses yet)"
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
    }
    for s in &config.scripts {
        out.push(format!("vrrp_script {} (not run yet)", s.name));
    }
    for g in &config.sync_groups {
        out.push(format!("vrrp_sync_group {}", g.name));
    }
    out
}

/// One virtual router and the I/O state around its election.
struct Vrouter {
    name: String,
    iface: String,
    ifindex: u32,
    key: InstanceKey,
    router: Router,
    /// Addresses owned while Master (virtual_ipaddress and virtual_ipaddress_excluded).
    vips: Vec<VirtualAddress>,
    repr: Repr,
    src: IpAddr,
    dsts: Vec<IpAddr>,
    socket: usize,
    checksum: ChecksumForm,
    mac: MacAddr,
    garp: GarpSchedule,
    /// Advert payloads, one per destination, built for priority `built_for`.
    built: Vec<Vec<u8>>,
    built_for: Option<u8>,
    /// In FAULT because its interface lost carrier or went down (keepalived tracks an
    /// instance's own interface by default).
    link_fault: bool,
}

impl Vrouter {
    fn deadline(&self) -> Option<MonoTime> {
        match (self.router.next_deadline(), self.garp.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Everything the loop owns.
struct Agent {
    routers: Vec<Vrouter>,
    by_key: BTreeMap<InstanceKey, usize>,
    /// Names of every configured instance (IPv6 ones included), for event logs.
    names: BTreeMap<InstanceKey, String>,
    /// Advert sockets with the interface index they are bound to.
    sockets: Vec<(u32, AdvertSocket)>,
    netlink: Netlink,
    announcer: Announcer,
    dp: Dataplane,
    /// Adverts to send at the end of this turn: (router index, priority).
    pending: Vec<(usize, u8)>,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(opts: RunOptions) -> Result<()> {
    let loaded = config::load(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let config = loaded.config;
    for f in inactive_features(&config) {
        tracing::warn!("configured but not active yet: {f}");
    }
    if config.instances.is_empty() {
        bail!("{}: no vrrp_instance configured", opts.config.display());
    }

    let netlink = Netlink::connect().await.context("opening rtnetlink")?;
    let mut agent = Agent::start(&config, &opts, netlink).await?;
    let result = agent.main_loop().await;
    agent.shutdown().await;
    result
}

impl Agent {
    async fn start(config: &Config, opts: &RunOptions, netlink: Netlink) -> Result<Agent> {
        // Resolve every interface and source address first: a typo fails before anything
        // is loaded or changed.
        let mut plans = Vec::new();
        for inst in &config.instances {
            let link = netlink.link(&inst.interface).await.with_context(|| {
                format!(
                    "instance {}: interface {} does not exist on this host",
                    inst.name, inst.interface
                )
            })?;
            let src = match inst.family {
                Family::V4 => match inst.unicast_src_ip.or(inst.mcast_src_ip) {
                    Some(a) => Some(a),
                    None => netlink.primary_ipv4(link.index).await?.map(IpAddr::V4),
                },
                Family::V6 => None,
            };
            if inst.family == Family::V4 && src.is_none() {
                bail!(
                    "instance {}: interface {} has no IPv4 address to send adverts from; add one or \
                     set unicast_src_ip",
                    inst.name,
                    inst.interface
                );
            }
            plans.push((inst, link, src));
        }

        // Addresses a previous run left behind (e.g. after SIGKILL) go before we start as
        // Backup: a Backup must not answer for the VIPs.
        for (inst, link, src) in &plans {
            for vip in inst.vips.iter().chain(&inst.vips_excluded) {
                if Some(vip.addr) == *src {
                    continue; // the address owner's own address
                }
                // A VIP on an interface that does not exist (yet) has nothing to clean up;
                // taking it later fails and puts the instance in FAULT.
                let Ok(ifindex) = vip_ifindex(&netlink, vip, link.index).await else {
                    continue;
                };
                if netlink
                    .has_address(ifindex, vip.addr)
                    .await
                    .unwrap_or(false)
                {
                    netlink.remove_vip(ifindex, vip).await?;
                    tracing::info!(instance = %inst.name, vip = %vip.addr, "removed a VIP left by a previous run");
                }
            }
        }

        let mut dp = Dataplane::load(Some(&opts.pin_dir)).context("loading the XDP program")?;
        tracing::info!(pin_dir = %opts.pin_dir.display(), "XDP program loaded, maps pinned");
        let mut names = BTreeMap::new();
        for (inst, link, _) in &plans {
            let ki = kernel_instance(inst, link.index);
            dp.set_instance(ki.key, ki.cfg)?;
            for p in &ki.peers {
                dp.allow_unicast_peer(*p)?;
            }
            names.insert(ki.key, ki.name.clone());
        }
        let mut ifaces: Vec<&str> = plans.iter().map(|(i, _, _)| i.interface.as_str()).collect();
        ifaces.sort_unstable();
        ifaces.dedup();
        for iface in ifaces {
            let mode = dp.attach(iface, opts.xdp_mode)?;
            tracing::info!(iface, %mode, "XDP attached");
        }

        let announcer = Announcer::new().context("opening the GARP socket")?;
        let mut sockets: Vec<(u32, AdvertSocket)> = Vec::new();
        let mut routers = Vec::new();
        let mut by_key = BTreeMap::new();
        for (inst, link, src) in plans {
            let ki = kernel_instance(inst, link.index);
            let Some(src) = src else {
                tracing::info!(instance = %inst.name, iface = %inst.interface, vrid = inst.vrid, af = 6, "watching adverts (IPv6: no election yet)");
                continue;
            };
            let IpAddr::V4(src4) = src else { continue };
            let socket = match sockets
                .iter()
                .position(|(idx, s)| s.src() == src && *idx == link.index)
            {
                Some(i) => i,
                None => {
                    let socket = AdvertSocket::open(&inst.interface, link.index, src4)?;
                    socket.join_vrrp_group()?;
                    sockets.push((link.index, socket));
                    sockets.len() - 1
                }
            };
            let version = match inst.version {
                config::Version::V2 => crate::election::Version::V2,
                config::Version::V3 => crate::election::Version::V3,
            };
            let interval = inst.advert_centisecs();
            let router = Router::new(RouterConfig {
                version,
                priority: inst.priority,
                advertisement_interval: interval,
                preempt_mode: inst.preempt,
                preempt_delay: inst.preempt_delay,
                accept_mode: false,
                primary_address: src,
                // One wake-up and one sendmmsg per tick for all instances of an interval.
                align_adverts: true,
            });
            let advert_addrs: Vec<IpAddr> = inst.vips.iter().map(|v| v.addr).collect();
            let repr = Repr {
                version: match inst.version {
                    config::Version::V2 => wire::vrrp::Version::V2,
                    config::Version::V3 => wire::vrrp::Version::V3,
                },
                vrid: inst.vrid,
                priority: inst.priority,
                max_adver_int: interval,
                addresses: advert_addrs,
                auth: match &inst.auth {
                    Some(config::Auth::Pass(p)) if inst.version == config::Version::V2 => {
                        wire::vrrp::Auth::Pass(*p)
                    }
                    _ => wire::vrrp::Auth::None,
                },
            };
            let dsts = if inst.unicast_peers.is_empty() {
                vec![wire::VRRP_GROUP_V4.into()]
            } else {
                inst.unicast_peers.clone()
            };
            tracing::info!(
                instance = %inst.name,
                iface = %inst.interface,
                vrid = inst.vrid,
                priority = inst.priority,
                interval = %interval,
                from = %src,
                to = ?dsts,
                "instance ready"
            );
            by_key.insert(ki.key, routers.len());
            routers.push(Vrouter {
                name: inst.name.clone(),
                iface: inst.interface.clone(),
                ifindex: link.index,
                key: ki.key,
                router,
                vips: inst
                    .vips
                    .iter()
                    .chain(&inst.vips_excluded)
                    .cloned()
                    .collect(),
                repr,
                src,
                dsts,
                socket,
                checksum: if inst.v3_checksum_as_v2 {
                    ChecksumForm::Plain
                } else {
                    ChecksumForm::PseudoHeader
                },
                mac: link.mac,
                garp: GarpSchedule::new(&inst.garp),
                built: Vec::new(),
                built_for: None,
                link_fault: !(link.up && link.running),
            });
        }

        let mut agent = Agent {
            routers,
            by_key,
            names,
            sockets,
            netlink,
            announcer,
            dp,
            pending: Vec::new(),
        };
        let now = MonoTime::now();
        for i in 0..agent.routers.len() {
            if agent.routers[i].link_fault {
                // A router whose link is down starts in FAULT (remembered before Startup).
                let vr = &agent.routers[i];
                tracing::warn!(instance = %vr.name, iface = %vr.iface, "interface is down or has no carrier: starting in FAULT");
                let actions = agent.routers[i].router.handle(now, Input::Fault);
                agent.apply(i, now, actions).await;
            }
            let actions = agent.routers[i].router.handle(now, Input::Startup);
            agent.apply(i, now, actions).await;
        }
        agent.flush();
        Ok(agent)
    }

    async fn main_loop(&mut self) -> Result<()> {
        let events = self.dp.take_events()?;
        // SAFETY: the RingBuf owns its map fd and mmap for as long as the AsyncFd holds it.
        let mut events =
            unsafe { AsyncFd::register(events) }.context("polling the event ring buffer")?;
        let mut timer = timer::DeadlineTimer::new().context("creating the timerfd")?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        // Link state changes (no polling): an instance's interface going down or losing
        // carrier puts it in FAULT; coming back clears it.
        let mut links = Some(
            self.netlink
                .link_events()
                .await
                .context("subscribing to link events")?,
        );
        loop {
            let next = self.routers.iter().filter_map(Vrouter::deadline).min();
            timer.set(next).context("arming the timer")?;
            tokio::select! {
                biased;
                _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); return Ok(()); }
                _ = sigint.recv() => { tracing::info!("SIGINT: stopping"); return Ok(()); }
                _ = sighup.recv() => {
                    tracing::warn!("SIGHUP: reloading is not supported yet; keeping the running configuration");
                }
                ev = async { links.as_mut()?.recv().await }, if links.is_some() => {
                    match ev {
                        Some(ev) => self.on_link(MonoTime::now(), &ev).await,
                        None => {
                            tracing::error!("the link event stream ended: interface faults are no longer tracked");
                            links = None;
                        }
                    }
                }
                r = timer.expired() => {
                    r.context("waiting for the timer")?;
                    self.on_timer(MonoTime::now()).await;
                }
                guard = events.readable_mut() => {
                    let mut guard = guard.context("waiting for kernel events")?;
                    let mut batch = Vec::new();
                    let mut drain = |ring: &mut crate::dataplane::EventRing| {
                        while let Some(item) = ring.next() {
                            match parse_event(&item) {
                                Some(ev) => batch.push(ev),
                                None => tracing::warn!(len = item.len(), "malformed event from the kernel"),
                            }
                        }
                    };
                    drain(guard.get_inner_mut());
                    // The ring buffer notifies only when the reader has caught up: an event
                    // committed after the drain but before clear_ready would lose its wake-up,
                    // so drain once more after clearing.
                    guard.clear_ready();
                    drain(guard.get_inner_mut());
                    let now = MonoTime::now();
                    for ev in batch {
                        self.on_event(now, &ev).await;
                    }
                }
            }
            self.flush();
        }
    }

    /// Handles every router and GARP schedule whose deadline has come.
    ///
    /// Backups due within [`REFRESH_AHEAD`] are refreshed from the kernel's records now as
    /// well (never fired early: that only happens at their deadline). A live Master's record
    /// moves their deadline on, and since Masters advertise on a shared grid, the Backups of
    /// a host end up waking together instead of once per instance.
    async fn on_timer(&mut self, now: MonoTime) {
        let horizon = now + REFRESH_AHEAD;
        for i in 0..self.routers.len() {
            let vr = &self.routers[i];
            let due = vr.router.next_deadline();
            // Before a Master_Down deadline is judged, the newest adverts the kernel recorded
            // go in (with their real receive times); a live Master re-arms it. A Master needs
            // no such reading: what it must hear (a new or returning source, a priority
            // change, priority 0) comes as an event from XDP.
            if vr.router.state() == State::Backup && due.is_some_and(|d| d <= horizon) {
                self.feed_kernel_records(i, now).await;
            }
            if self.routers[i]
                .router
                .next_deadline()
                .is_some_and(|d| d <= now)
            {
                let actions = self.routers[i].router.handle(now, Input::Timer);
                self.apply(i, now, actions).await;
            }
            let rounds = self.routers[i].garp.due(now);
            if rounds > 0 {
                self.announce(i, rounds);
            }
        }
    }

    /// Feeds the kernel's peer records of router `i` newer than what the election has seen.
    async fn feed_kernel_records(&mut self, i: usize, now: MonoTime) {
        let key = self.routers[i].key;
        let Ok(Some(table)) = self.dp.peer_table(&key) else {
            return;
        };
        for rec in table.peers.iter().filter(|r| r.last_seen_ns != 0) {
            // The election ignores what it has already seen (duplicates and older adverts).
            let received_at = MonoTime::from_nanos(rec.last_seen_ns);
            let from = peer_addr(&vrrp_common::PeerKey::new(key, rec.addr));
            let input = Input::Advert {
                from,
                priority: rec.priority,
                max_adver_int: Centisecs::new(rec.adver_int_cs),
                received_at,
            };
            let actions = self.routers[i].router.handle(now, input);
            self.apply(i, now, actions).await;
        }
    }

    /// An interface changed state: its instances go to FAULT when it is down or has no
    /// carrier, and leave FAULT (as Backup, RFC 9568 §6.4.1 Startup rules) when it is back.
    async fn on_link(&mut self, now: MonoTime, ev: &crate::netlink::LinkEvent) {
        let ok = ev.up && ev.running && !ev.removed;
        for i in 0..self.routers.len() {
            let vr = &mut self.routers[i];
            if vr.ifindex != ev.index || vr.link_fault != ok {
                continue;
            }
            vr.link_fault = !ok;
            let input = if ok {
                tracing::info!(instance = %vr.name, iface = %vr.iface, "interface is back up");
                Input::FaultCleared
            } else {
                tracing::warn!(instance = %vr.name, iface = %vr.iface, up = ev.up, carrier = ev.running, "interface down or without carrier");
                Input::Fault
            };
            let actions = self.routers[i].router.handle(now, input);
            self.apply(i, now, actions).await;
        }
    }

    async fn on_event(&mut self, now: MonoTime, ev: &PeerEvent) {
        log_event(&self.names, ev);
        let Some(&i) = self.by_key.get(&ev.peer.instance()) else {
            return;
        };
        let input = Input::Advert {
            from: peer_addr(&ev.peer),
            priority: ev.priority,
            max_adver_int: Centisecs::new(ev.adver_int_cs),
            received_at: MonoTime::from_nanos(ev.ts_ns),
        };
        let actions = self.routers[i].router.handle(now, input);
        self.apply(i, now, actions).await;
    }

    /// Carries out the election's actions, in order.
    async fn apply(&mut self, i: usize, now: MonoTime, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert { priority } => self.pending.push((i, priority)),
                // An advert the election ordered before a VIP change leaves first (RFC 9568
                // §6.4: send, then take or release the addresses); netlink takes a while.
                Action::AddVips => {
                    self.flush();
                    if let Err(e) = self.add_vips(i).await {
                        let vr = &self.routers[i];
                        tracing::error!(instance = %vr.name, iface = %vr.iface, vrid = vr.key.vrid, "{e:#}; going to FAULT");
                        let more = self.routers[i].router.handle(now, Input::Fault);
                        Box::pin(self.apply(i, now, more)).await;
                        return;
                    }
                }
                Action::RemoveVips => {
                    self.flush();
                    self.remove_vips(i).await;
                }
                Action::Announce => {
                    self.routers[i].garp.became_master(now);
                    let rounds = self.routers[i].garp.due(now);
                    if rounds > 0 {
                        self.announce(i, rounds);
                    }
                }
                Action::StateChange { from, to, reason } => {
                    let vr = &mut self.routers[i];
                    if to != State::Master {
                        vr.garp.left_master();
                    }
                    tracing::info!(
                        instance = %vr.name,
                        vrid = vr.key.vrid,
                        iface = %vr.iface,
                        "{from} -> {to}: {reason}"
                    );
                }
            }
        }
    }

    async fn add_vips(&mut self, i: usize) -> Result<()> {
        let vr = &self.routers[i];
        let t0 = std::time::Instant::now();
        for vip in &vr.vips {
            let ifindex = vip_ifindex(&self.netlink, vip, vr.ifindex).await?;
            self.netlink.add_vip(ifindex, vip).await?;
        }
        let took_us = t0.elapsed().as_micros();
        tracing::info!(instance = %vr.name, vips = ?vr.vips.iter().map(|v| v.addr).collect::<Vec<_>>(), took_us, "VIPs added");
        Ok(())
    }

    async fn remove_vips(&mut self, i: usize) {
        let vr = &self.routers[i];
        for vip in &vr.vips {
            let result = match vip_ifindex(&self.netlink, vip, vr.ifindex).await {
                Ok(ifindex) => self
                    .netlink
                    .remove_vip(ifindex, vip)
                    .await
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::error!(instance = %vr.name, iface = %vr.iface, "{e:#}");
            }
        }
        tracing::info!(instance = %vr.name, "VIPs removed");
    }

    fn announce(&mut self, i: usize, rounds: u32) {
        let vr = &self.routers[i];
        let addrs: Vec<IpAddr> = vr
            .vips
            .iter()
            .map(|v| v.addr)
            .filter(IpAddr::is_ipv4)
            .collect();
        for _ in 0..rounds {
            for r in self.announcer.announce(vr.ifindex, vr.mac, &addrs) {
                if let Err(e) = r {
                    tracing::warn!(instance = %vr.name, iface = %vr.iface, "gratuitous ARP: {e}");
                }
            }
        }
    }

    /// Sends every pending advert, batched per socket.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // Payloads are built once per priority and reused tick after tick (one per
        // destination: the v3 pseudo-header checksum covers it).
        let mut meta = Vec::with_capacity(self.pending.len());
        for &(i, priority) in &self.pending {
            let vr = &mut self.routers[i];
            if vr.built_for != Some(priority) {
                vr.repr.priority = priority;
                vr.built.resize_with(vr.dsts.len(), Vec::new);
                let mut ok = true;
                for (buf, &dst) in vr.built.iter_mut().zip(&vr.dsts) {
                    if let Err(e) = tx::build_advert(&vr.repr, vr.src, dst, vr.checksum, buf) {
                        tracing::error!(instance = %vr.name, "building an advert: {e}");
                        ok = false;
                    }
                }
                vr.built_for = ok.then_some(priority);
                if !ok {
                    continue;
                }
            }
            meta.extend((0..vr.dsts.len()).map(|j| (i, j)));
        }
        self.pending.clear();
        let batch: Vec<Outgoing<'_>> = meta
            .iter()
            .map(|&(i, j)| {
                let vr = &self.routers[i];
                Outgoing {
                    socket: &self.sockets[vr.socket].1,
                    dst: vr.dsts[j],
                    payload: &vr.built[j],
                }
            })
            .collect();
        for (r, &(i, j)) in tx::send_batch(&batch).into_iter().zip(&meta) {
            if let Err(e) = r {
                let vr = &self.routers[i];
                tracing::warn!(instance = %vr.name, iface = %vr.iface, to = %vr.dsts[j], "sending an advert: {e}");
            }
        }
    }

    /// SIGTERM / SIGINT: each Master sends priority 0 and drops its VIPs; XDP is detached and
    /// the pins removed.
    async fn shutdown(&mut self) {
        let now = MonoTime::now();
        let mut was_master = false;
        let mut skew = std::time::Duration::ZERO;
        for i in 0..self.routers.len() {
            was_master |= self.routers[i].router.state() == State::Master;
            skew = skew.max(self.routers[i].router.skew_time());
            let actions = self.routers[i].router.handle(now, Input::Shutdown);
            self.apply(i, now, actions).await;
        }
        self.flush();
        if was_master {
            // The Backups take over one Skew_Time after our priority-0 advert. Detaching XDP
            // holds the kernel's global RTNL lock for an RCU grace period (~10 ms on veth),
            // which on a host shared with a Backup (network namespaces, containers) would
            // stall the Backup's VIP add. Let them act first; still far inside 1 s.
            let wait = (skew * 2 + std::time::Duration::from_millis(20))
                .min(std::time::Duration::from_millis(200));
            tokio::time::sleep(wait).await;
        }
        self.dp.detach_all();
        tracing::info!("stopped: priority 0 sent for Master instances, VIPs removed, XDP detached");
    }
}

/// The interface a VIP lives on: its `dev`, else the instance's.
async fn vip_ifindex(netlink: &Netlink, vip: &VirtualAddress, default: u32) -> Result<u32> {
    match &vip.dev {
        Some(dev) => Ok(netlink
            .link(dev)
            .await
            .with_context(|| format!("VIP {}: dev {dev}", vip.addr))?
            .index),
        None => Ok(default),
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
    tracing::info!(instance = name, vrid = ev.peer.vrid, %from, priority = ev.priority, %interval, "{}", what.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_features_are_named() {
        let loaded = config::parse_str(
            "vrrp_script chk { script \"/bin/true\" }\nvrrp_instance VI_1 {\n interface lo0x\n virtual_router_id 5\n \
             virtual_ipaddress { 198.18.0.1 }\n track_script { chk }\n notify_master /bin/true\n}\n",
            std::path::Path::new("t.conf"),
        )
        .expect("parses");
        let f = inactive_features(&loaded.config);
        assert!(f.iter().any(|s| s == "VI_1: track_script chk"), "{f:?}");
        assert!(f.iter().any(|s| s == "VI_1: notify_master"), "{f:?}");
        assert!(f.iter().any(|s| s.starts_with("vrrp_script chk")), "{f:?}");
    }
}
