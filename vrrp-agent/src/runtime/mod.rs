//! The runtime: wires configuration, the XDP data plane, the election, netlink, the advert
//! sender, the GARP announcer, tracking and notifications with tokio, on one thread.
//!
//! What wakes it:
//! - its one timer (a timerfd armed at the earliest election or GARP deadline);
//! - a ring-buffer event from XDP (a new source, a priority change, priority 0, an interval
//!   change);
//! - a link event from rtnetlink (an instance's own interface, a `track_interface`);
//! - a tracking result (a `vrrp_script` run, a track file written);
//! - a signal (SIGTERM/SIGINT stop, SIGHUP reloads; keepalived's dump signals write its dump
//!   files, see `dumps`).
//!
//! A Backup does not wake per received advert. At its Master_Down deadline it first reads
//! the kernel's record of the Master (shared memory, no syscall) and feeds the newest advert
//! to the election, which re-arms the timer from the advert's real receive time.
mod accept;
mod addresses;
mod attach;
mod control;
mod diff;
mod dumps;
mod groups;
mod handover;
mod inplace;
mod kernel;
mod links;
pub mod lock;
mod lograte;
mod metrics_view;
mod observe;
mod options;
mod registry;
mod reload;
mod resync;
mod sender;
mod setup;
pub mod signals;
mod stall;
pub mod status;
mod timer;
mod vmac;

use std::{
    collections::{BTreeMap, VecDeque},
    net::IpAddr,
    path::PathBuf,
};

use anyhow::{bail, Context, Result};
use tokio::{io::unix::AsyncFd, sync::mpsc};
use vrrp_common::{
    InstanceKey, PeerEvent, EV_INTERVAL, EV_MASTER_DOWN, EV_NEW_SOURCE, EV_PRIORITY,
    EV_PRIORITY_ZERO,
};

pub use diff::Change;
pub use kernel::{addr_bytes, kernel_instance, parse_event, peer_addr, KernelInstance};
pub use reload::{InstanceChange, ReloadOutcome, Step as ReloadStep};

use crate::{
    announce::{Announcer, GarpSchedule},
    config::{self, Config, Instance, VirtualAddress},
    dataplane::{vlan, Dataplane, XdpModeChoice},
    election::{Action, DownWatch, Input, Reason, Router, State},
    netlink::Netlink,
    notify::{Notifier, Subject},
    track::{self, Monitors, TrackEvent, Tracking},
    units::{Centisecs, MonoTime},
    wire::MacAddr,
};
use groups::GroupRt;
use registry::Registry;
pub use registry::RouterId;
use sender::Sender;
use setup::Plan;

/// How far ahead of its deadline a Backup is refreshed from the kernel's records when the
/// timer wakes the runtime for another router (see `Agent::on_timer`).
const REFRESH_AHEAD: std::time::Duration = std::time::Duration::from_millis(5);

/// How long a stop waits for queued notify commands (notify_stop) to finish.
const NOTIFY_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Options of `vrrp-agent run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// keepalived.conf to read.
    pub config: PathBuf,
    /// Directory to pin the maps under.
    pub pin_dir: PathBuf,
    /// XDP attach mode.
    pub xdp_mode: XdpModeChoice,
    /// Valid adverts go on to the IP stack after XDP recorded them (so that tcpdump on
    /// this host shows them), instead of ending in XDP.
    pub pass_adverts: bool,
    /// VRRP packets for VRIDs no instance configures are dropped in XDP (counted in
    /// `VRRP_UNKNOWN` either way) instead of going on to the stack, where another VRRP
    /// speaker on this host may want them.
    pub drop_unknown_vrids: bool,
    /// Serve Prometheus metrics on this address (`--metrics-listen`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The control socket to serve `status` and `reload` on; `None`: none.
    pub control_socket: Option<PathBuf>,
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
    /// Source address of its adverts (what it sends is the sender's, see [`sender::TxSpec`]).
    src: IpAddr,
    mac: MacAddr,
    /// `use_vmac`: the macvlan its VIPs live on (up only while Master).
    vmac: Option<vmac::VmacLink>,
    /// Which VIPs it holds, where, which of them it added; the retry of a failed add.
    addrs: addresses::VipState,
    garp: GarpSchedule,
    /// Its interface lost carrier or went down (keepalived tracks an instance's own
    /// interface by default).
    link_fault: bool,
    /// The last link event of its interface said up with carrier (`link_fault` may still
    /// hold it: its sockets could not be rebuilt for a re-created interface yet).
    link_up: bool,
    /// Why tracking (a weight-0 script, interface or file) holds it in FAULT.
    track_fault: Option<String>,
    /// Why taking its VIPs failed; cleared for the next try (with backoff) or when its
    /// interface comes back.
    vip_fault: Option<String>,
    /// The configuration it runs (for reload).
    inst: Instance,
    /// Not started yet: a weight-0 health check has not reported (keepalived's INIT).
    awaiting_checks: bool,
    /// State changes so far.
    transitions: u64,
    /// The Master_Down_Timer as the kernel's watchdog holds it (then the agent does not
    /// wake for it); `None`: not armed, or it fired.
    watch: Option<DownWatch>,
    /// A Master_Down_Timer found late is read again once before a takeover (see `stall`).
    stall: stall::Guard,
    /// Counters and state history for `status`.
    obs: observe::RouterObs,
}

impl registry::Entry for Vrouter {
    fn key(&self) -> InstanceKey {
        self.key
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_key(&mut self, key: InstanceKey) {
        self.key = key;
        self.ifindex = key.ifindex;
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_owned();
    }
}

impl Vrouter {
    /// When the agent must wake for this router: its election deadline, unless the kernel
    /// watchdog keeps it, its GARP schedule, and the retry of a failed VIP add.
    fn deadline(&self) -> Option<MonoTime> {
        let election = self.router.next_deadline().filter(|_| self.watch.is_none());
        let election = self
            .stall
            .holds(self.router.master_down_timer())
            .or(election);
        let retry = self
            .addrs
            .retry
            .due_at()
            .filter(|_| self.vip_fault.is_some());
        [election, self.garp.next_deadline(), retry]
            .into_iter()
            .flatten()
            .min()
    }

    /// Why this instance itself must be in FAULT, if it must.
    fn own_fault(&self) -> Option<String> {
        if let Some(why) = options::config_fault(&self.inst) {
            return Some(why);
        }
        if self.link_fault && options::tracks_own_link(&self.inst) {
            return Some(format!(
                "interface {} is down or has no carrier",
                self.iface
            ));
        }
        self.track_fault.clone().or_else(|| self.vip_fault.clone())
    }
}

/// Tracking: the state, the monitors that feed it, and their results.
struct Tracker {
    state: Tracking,
    /// Dropped to stop every script and watch; reload replaces them.
    monitors: Monitors,
    events: mpsc::UnboundedReceiver<TrackEvent>,
}

impl Tracker {
    /// Starts the monitors of `config` (or, on reload, replaces `previous` with them: the old
    /// ones stop first, so a script never runs twice at once) and takes in what they know at
    /// once (track file values, refused scripts).
    fn start(config: &Config, previous: Option<Monitors>) -> Result<Tracker> {
        let (tx, mut events) = mpsc::unbounded_channel();
        let monitors = match previous {
            Some(old) => old.reload(config, tx),
            None => Monitors::start(config, tx),
        }
        .map_err(|e| anyhow::anyhow!("starting health checks: {e}"))?;
        let mut state = Tracking::new(config);
        monitors.apply_refusals(&mut state);
        while let Ok(ev) = events.try_recv() {
            state.apply(&ev);
        }
        Ok(Tracker {
            state,
            monitors,
            events,
        })
    }
}

/// Everything the loop owns.
struct Agent {
    opts: RunOptions,
    /// The configuration running (what a failed reload goes back to).
    config: Config,
    /// Debug builds: the reload steps at which a test injects failures, one per reload
    /// (`VRRP_AGENT_FAIL_RELOAD`, see `reload`); always empty in release builds.
    fail_reload: VecDeque<reload::Step>,
    /// The routers (one per instance), by id, with their key and name lookups.
    routers: Registry<Vrouter>,
    /// Every configured instance in the kernel, by key: for event logs and reload.
    kernel: BTreeMap<InstanceKey, KernelInstance>,
    /// Advert sockets, frame sockets, built adverts, and the adverts to send at the end of
    /// this turn.
    sender: Sender,
    netlink: Netlink,
    announcer: Announcer,
    dp: Dataplane,
    tracker: Tracker,
    notifier: Notifier,
    groups: Vec<GroupRt>,
    /// Inputs the election still has to see in this turn (sync groups, faults).
    followups: VecDeque<(RouterId, Input)>,
    /// Some instance's own fault changed: its sync group must be looked at.
    faults_dirty: bool,
    /// Backups' Master_Down_Timers run in the kernel (the watchdog); off after it failed.
    watchdog: bool,
    /// The router whose watchdog fired and is being judged: not re-armed until decided
    /// (re-arming with the records just fed would only fire again at once).
    watch_hold: Option<RouterId>,
    /// Rate limits of the per-event log lines, per instance.
    event_logs: lograte::LogRates<InstanceKey>,
    /// When each address-owner conflict was last logged.
    owner_conflicts: kernel::OwnerConflicts,
    /// What `status` shows of the agent as a whole.
    obs: observe::AgentObs,
    /// The `use_vmac` macvlans and sysctls this run made or changed.
    vmacs: vmac::Vmacs,
    /// `vrrp-agent maintenance on`, and routers a reload removed that are handing over.
    planned: handover::Planned,
    /// Events the kernel dropped on a full ring buffer, as last seen (see `resync`).
    ring_loss: resync::RingLoss,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(opts: RunOptions) -> Result<()> {
    // Before anything can change: no signal a keepalived user sends may kill us from here
    // on, and a second agent on the same pin directory or in the same network namespace
    // stops here (it would remove the live Master's VIPs as leftovers, replace its pins).
    let mut signals = signals::Signals::install().context("installing signal handlers")?;
    let lock = lock::AgentLock::acquire(std::path::Path::new(lock::LOCK_DIR), &opts.pin_dir)?;
    tracing::debug!(locks = ?lock.paths(), "pin directory and network namespace locked");
    let loaded = config::load(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let config = loaded.config;
    if config.instances.is_empty() {
        bail!("{}: no vrrp_instance configured", opts.config.display());
    }

    if !options::startup_delay(&config, &mut signals).await {
        return Ok(());
    }
    // Turned off again when this returns (keepalived resets what it set).
    let _promoted = options::promote_secondaries(&config);

    // Bound before anything changes: an address in use fails the start, like a config error.
    let scrapes = match opts.metrics_listen {
        Some(addr) => {
            let s = crate::metrics::serve(addr).await?;
            tracing::info!(listen = %s.local_addr(), "serving Prometheus metrics on /metrics");
            Some(s)
        }
        None => None,
    };
    let netlink = Netlink::connect().await.context("opening rtnetlink")?;
    let (control_server, control) = control::open(&opts).await?;
    let mut agent = Agent::start(&config, &opts, netlink).await?;
    agent.obs.control = control;
    // Once loaded: under a real-time policy the XDP verifier's CPU time counts against
    // RLIMIT_RTTIME (keepalived's default of 10 ms would kill the start-up).
    crate::tuning::apply(&config.global.tuning);
    crate::systemd::notify_ready(agent.kernel.len());
    let result = agent.main_loop(&mut signals, scrapes).await;
    crate::systemd::notify_stopping();
    agent.shutdown().await;
    drop(control_server);
    drop(lock);
    result
}

impl Agent {
    async fn start(config: &Config, opts: &RunOptions, netlink: Netlink) -> Result<Agent> {
        // Resolve every interface and source address first, and every script and notify
        // command: a typo fails before anything is loaded or changed.
        let mut plans = setup::plan_instances(&netlink, config).await?;
        let notifier = Notifier::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        check_notify_security(config, &notifier)?;
        let tracker = Tracker::start(config, None)?;

        // use_vmac macvlans (down until Master); a killed run's are taken over or removed.
        let mut vmacs = vmac::Vmacs::default();
        vmacs.prepare(&netlink, &mut plans, true).await?;
        // Addresses a previous run left behind (e.g. after SIGKILL) go before we start as
        // Backup: a Backup must not answer for the VIPs.
        for plan in &plans {
            setup::remove_leftover_vips(&netlink, plan).await?;
        }

        // The XDP program's discard log, when debug logging is on for it (`RUST_LOG=vrrp=debug`).
        let xdp_debug = tracing::enabled!(target: "vrrp_xdp", tracing::Level::DEBUG);
        let dp = Dataplane::load_with(Some(&opts.pin_dir), xdp_debug)
            .context("loading the XDP program")?;
        tracing::info!(pin_dir = %opts.pin_dir.display(), "XDP program loaded, maps pinned");
        // Where the kernel's watchdog cannot work, Backups keep their timers here.
        let watchdog = dp.kernel_watchdog();
        let announcer = Announcer::new().context("opening the GARP socket")?;
        let mut agent = Agent {
            opts: opts.clone(),
            config: config.clone(),
            fail_reload: fail_reload_from_env(),
            routers: Registry::default(),
            kernel: BTreeMap::new(),
            sender: Sender::default(),
            netlink,
            announcer,
            dp,
            tracker,
            notifier,
            groups: groups_of(config),
            followups: VecDeque::new(),
            faults_dirty: false,
            watchdog,
            watch_hold: None,
            event_logs: lograte::LogRates::new(),
            owner_conflicts: Default::default(),
            obs: observe::AgentObs::new(opts.control_socket.clone()),
            vmacs,
            planned: handover::Planned::default(),
            ring_loss: resync::RingLoss::default(),
        };
        let flags = if opts.drop_unknown_vrids {
            vrrp_common::IFACE_DROP_UNKNOWN
        } else {
            0
        };
        agent.dp.set_iface_config(
            crate::dataplane::ALL_IFACES,
            vrrp_common::IfaceConfig {
                flags,
                ..Default::default()
            },
        )?;
        agent.sync_local_addrs(&plans).await?;
        for plan in &plans {
            agent.add_instance(plan)?;
        }
        agent.attach_all().await?;
        agent.sync_no_accept_ifaces();
        agent.init_tracked_interfaces().await;
        let now = MonoTime::now();
        for id in agent.routers.ids() {
            agent.start_router(id, now).await;
        }
        agent.flush();
        // Loading the object (ELF and BTF parsing, verifier logs) used a few MiB of heap that
        // is free now; give it back rather than keep it resident for the daemon's lifetime.
        // SAFETY: malloc_trim has no preconditions.
        unsafe { libc::malloc_trim(0) };
        Ok(agent)
    }

    /// Programs the kernel for one instance and builds its router (not started).
    fn add_instance(&mut self, plan: &Plan) -> Result<()> {
        let ki = self.kernel_instance(&plan.inst, plan.link.index);
        self.dp.set_instance(ki.key, ki.cfg)?;
        for (key, peer) in &ki.peers {
            self.dp.allow_unicast_peer_ttl(*key, *peer)?;
        }
        self.kernel.insert(ki.key, ki);
        let prepared = self.sender.prepare(&setup::tx_spec(plan))?;
        self.insert_router(plan, prepared);
        Ok(())
    }

    /// Registers the router of `plan` (not started) with the sockets prepared for it.
    fn insert_router(&mut self, plan: &Plan, prepared: sender::Prepared) -> RouterId {
        let vr = setup::build_router(plan);
        let (id, displaced) = self.routers.insert(vr);
        for old in displaced {
            // The callers remove a router before they add its successor.
            tracing::error!(instance = %old.name, "replaced a router that was still registered");
        }
        self.sender.register(id, prepared);
        id
    }

    /// Writes the addresses unicast adverts may be sent to (`VRRP_LOCAL_ADDRS`): those of
    /// the interfaces of unicast instances, and their source addresses. Read at start-up and
    /// on reload; an address added to an interface in between is not known until the next
    /// reload (adverts sent to it are counted as `bad_destination` and passed on).
    async fn sync_local_addrs(&mut self, plans: &[Plan]) -> Result<()> {
        let keys = self.local_addr_keys(plans).await?;
        self.dp.set_local_addrs(&keys)?;
        Ok(())
    }

    /// The `VRRP_LOCAL_ADDRS` entries of `plans` (see [`Agent::sync_local_addrs`]).
    async fn local_addr_keys(
        &self,
        plans: &[Plan],
    ) -> Result<std::collections::BTreeSet<vrrp_common::AddrKey>> {
        let mut keys = std::collections::BTreeSet::new();
        for plan in plans.iter().filter(|p| p.inst.is_unicast()) {
            let addrs: Vec<IpAddr> = self
                .netlink
                .addresses(plan.link.index)
                .await?
                .into_iter()
                .map(|a| a.addr)
                .collect();
            keys.extend(kernel::unicast_destinations(
                &plan.inst,
                Some(plan.src),
                &addrs,
            ));
        }
        Ok(keys)
    }

    /// The kernel's view of an instance, with this run's options.
    fn kernel_instance(&self, inst: &Instance, ifindex: u32) -> KernelInstance {
        let mut ki = kernel_instance(inst, ifindex);
        if !self.opts.pass_adverts {
            ki.cfg.flags |= vrrp_common::CFG_CONSUME;
        }
        ki
    }

    /// Attaches XDP to every interface an instance uses and it is not attached to yet, in
    /// the mode [`vlan::attach_choice`] picks for its kind (SKB mode for a veth under
    /// `auto`, and always for a VLAN device or a bond), after telling the program about
    /// the VLAN devices on those interfaces.
    async fn attach_all(&mut self) -> Result<()> {
        self.sync_vlans(true).await;
        let mut ifaces: Vec<String> = self.kernel.values().map(|k| k.iface.clone()).collect();
        ifaces.sort_unstable();
        ifaces.dedup();
        for iface in ifaces {
            if self.dp.attachments().iter().any(|a| a.iface == iface) {
                continue;
            }
            self.attach_one(&iface).await?;
        }
        Ok(())
    }

    /// Attaches XDP to `iface` in the mode [`vlan::attach_choice`] picks for its kind.
    async fn attach_one(&mut self, iface: &str) -> Result<()> {
        let kind = self.netlink.link(iface).await.ok().and_then(|l| l.kind);
        let (choice, why) = vlan::attach_choice(kind.as_deref(), self.opts.xdp_mode);
        if let Some(why) = why {
            tracing::warn!(iface, "{why}");
        }
        let mode = self.dp.attach(iface, choice)?;
        tracing::info!(iface, %mode, "XDP attached");
        Ok(())
    }

    /// Tells tracking the current state of every tracked interface (later changes come as
    /// link events).
    async fn init_tracked_interfaces(&mut self) {
        for name in self.tracker.state.interfaces() {
            let up = match self.netlink.link(&name).await {
                Ok(link) => link.up && link.running,
                Err(_) => {
                    tracing::warn!(iface = %name, "track_interface: no such interface; counted as down");
                    false
                }
            };
            self.tracker.state.interface_state(&name, up);
        }
    }

    /// Applies tracking to router `id` and starts it (RFC 9568 §6.4.1 Startup), unless a
    /// weight-0 health check has not reported yet: like keepalived, the instance then waits
    /// (neither FAULT nor Backup) for that first result, so that a slow failing check does
    /// not let it become Master for a moment.
    async fn start_router(&mut self, id: RouterId, now: MonoTime) {
        self.apply_tracking(id, now).await;
        let Some(vr) = self.routers.get_mut(id) else {
            return;
        };
        let status = self.tracker.state.status(&vr.name);
        vr.awaiting_checks = false;
        if let (Some(pending), None, false) = (&status.pending, &status.fault, vr.link_fault) {
            tracing::info!(instance = %vr.name, "waiting for the first result of {pending} before starting");
            vr.awaiting_checks = true;
            return;
        }
        if let Some(why) = self
            .fault_reason(id)
            .filter(|_| !self.routers[id].router.is_faulty())
        {
            // A router that must not serve starts in FAULT (remembered before Startup).
            let vr = &self.routers[id];
            tracing::warn!(instance = %vr.name, iface = %vr.iface, "{why}: starting in FAULT");
            self.feed(id, now, Input::Fault).await;
        }
        if self.planned.contains(&self.routers[id].name) {
            // Started again by a reload: still in maintenance (priority 1).
            self.feed(id, now, Input::Maintenance(true)).await;
        }
        self.feed(id, now, Input::Startup).await;
    }

    async fn main_loop(
        &mut self,
        signals: &mut signals::Signals,
        mut scrapes: Option<crate::metrics::Scrapes>,
    ) -> Result<()> {
        let events = self.dp.take_events()?;
        // SAFETY: the RingBuf owns its map fd and mmap for as long as the AsyncFd holds it.
        let mut events =
            unsafe { AsyncFd::register(events) }.context("polling the event ring buffer")?;
        let mut timer = timer::DeadlineTimer::new().context("creating the timerfd")?;
        let mut control = self.obs.control.take();
        // Link state changes (no polling): an instance's interface going down or losing
        // carrier puts it in FAULT; coming back clears it.
        let mut links = Some(
            self.netlink
                .events()
                .await
                .context("subscribing to link and address events")?,
        );
        // systemd's WatchdogSec=: fed from this loop, so a hung loop gets restarted.
        let mut watchdog = crate::systemd::Watchdog::from_env();
        // SIGTERM came: the loop runs on only until the Masters' handovers are done.
        let mut stopping = false;
        loop {
            let next = self
                .routers
                .values()
                .filter_map(Vrouter::deadline)
                .chain(self.event_logs.next_deadline())
                .min();
            timer.set(next).context("arming the timer")?;
            tokio::select! {
                biased;
                req = signals.recv() => match req {
                    signals::Request::Stop(name) if stopping => {
                        tracing::info!("{name} again: stopping now");
                        return Ok(());
                    }
                    signals::Request::Stop(name) => {
                        tracing::info!("{name}: stopping");
                        if !self.begin_stop().await {
                            return Ok(());
                        }
                        tracing::info!("handing the VIPs over before exiting");
                        stopping = true;
                    }
                    signals::Request::Reload => {
                        tracing::info!(config = %self.opts.config.display(), "SIGHUP: reloading");
                        let outcome = self.reload().await;
                        tracing::info!("reload {outcome}");
                    }
                    signals::Request::Dump(d) => self.write_dump(d),
                },
                () = watchdog.tick() => watchdog.ping(),
                ev = async { links.as_mut()?.recv().await }, if links.is_some() => {
                    match ev {
                        Some(ev) => self.on_link(MonoTime::now(), &ev).await,
                        None => {
                            tracing::error!("the link event stream ended: interface faults are no longer tracked");
                            links = None;
                        }
                    }
                }
                Some(req) = async { control.as_mut()?.recv().await }, if control.is_some() => {
                    self.on_control(req).await;
                }
                r = timer.expired() => {
                    r.context("waiting for the timer")?;
                    self.on_timer(MonoTime::now()).await;
                }
                Some(ev) = self.tracker.events.recv() => {
                    self.on_track(MonoTime::now(), ev).await;
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
                    let n = batch.len();
                    for ev in batch {
                        self.on_event(now, &ev).await;
                    }
                    let _ = self.check_ring_loss(now, n).await;
                }
                // Last: a scrape waits for the timer, signals and kernel events.
                Some(ask) = async { scrapes.as_mut()?.recv().await }, if scrapes.is_some() => {
                    self.answer_scrape(ask);
                }
            }
            self.flush();
            // After the adverts of this turn are out: the once-a-second look at lost events.
            if self.check_ring_loss(MonoTime::now(), 0).await {
                self.flush();
            }
            self.reap_lingering();
            if stopping && self.handovers_done() {
                return Ok(());
            }
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
        for i in self.routers.ids() {
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            // The kernel's watchdog keeps this Backup's timer (and tells when it runs out).
            let due = vr.router.next_deadline().filter(|_| vr.watch.is_none());
            // Before a Master_Down deadline is judged, the newest adverts the kernel recorded
            // go in (with their real receive times); a live Master re-arms it. Before a
            // Master's Adver_Timer, the records that would make it step down go in: XDP
            // raises no event for a known peer back within three intervals at an unchanged
            // priority, and a full ring buffer loses events, so events alone could leave two
            // Masters (see `Router::master_scan`).
            match vr.router.state() {
                State::Backup if due.is_some_and(|d| d <= horizon) => {
                    self.feed_kernel_records(i, now).await;
                }
                State::Master if due.is_some_and(|d| d <= now) => {
                    self.feed_master_records(i, now).await;
                }
                _ => {}
            }
            self.refresh_handover(i, now).await;
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            let expired = vr.watch.is_none() && vr.router.next_deadline().is_some_and(|d| d <= now);
            if expired && self.stall_allows(i, now) {
                self.note_down_lateness(i, now);
                self.feed(i, now, Input::Timer).await;
            }
            let Some(vr) = self.routers.get_mut(i) else {
                continue;
            };
            let rounds = vr.garp.due(now);
            let extra = vr.garp.extra_if_due(now);
            if rounds > 0 {
                self.announce(i, rounds);
            }
            if extra {
                self.announce_extra_if(i);
            }
            self.retry_vips(i, now).await;
        }
        for (key, n) in self.event_logs.summaries(now) {
            log_suppressed(&self.kernel, &key, n);
        }
        self.periodic_observations(now);
    }

    /// Feeds the kernel's peer records of router `i` newer than what the election has seen.
    async fn feed_kernel_records(&mut self, i: RouterId, now: MonoTime) {
        let Some(key) = self.routers.get(i).map(|r| r.key) else {
            return;
        };
        let Ok(Some(table)) = self.dp.peer_table(&key) else {
            return;
        };
        for rec in table.peers.iter().filter(|r| r.last_seen_ns != 0) {
            // The election ignores what it has already seen (duplicates and older adverts).
            let input = Input::Advert {
                from: peer_addr(&vrrp_common::PeerKey::new(key, rec.addr)),
                priority: rec.priority,
                max_adver_int: Centisecs::new(rec.adver_int_cs),
                received_at: MonoTime::from_nanos(rec.last_seen_ns),
            };
            self.feed(i, now, input).await;
        }
    }

    /// Feeds a Master the kernel's records that could make it step down: received since it
    /// became Master, with a priority of at least its own. In steady state no record passes
    /// (nobody else advertises), so this is one read of shared memory and a few compares.
    async fn feed_master_records(&mut self, i: RouterId, now: MonoTime) {
        let Some(scan) = self.routers.get(i).and_then(|r| r.router.master_scan()) else {
            return;
        };
        let key = self.routers[i].key;
        let Ok(Some(table)) = self.dp.peer_table(&key) else {
            return;
        };
        let since = scan.since.as_nanos();
        for rec in table.peers.iter() {
            if rec.last_seen_ns <= since || rec.priority < scan.min_priority {
                continue;
            }
            let input = Input::Advert {
                from: peer_addr(&vrrp_common::PeerKey::new(key, rec.addr)),
                priority: rec.priority,
                max_adver_int: Centisecs::new(rec.adver_int_cs),
                received_at: MonoTime::from_nanos(rec.last_seen_ns),
            };
            self.feed(i, now, input).await;
        }
    }

    /// A link or address event: see [`Agent::on_link_change`] and
    /// [`Agent::on_address_removed`].
    async fn on_link(&mut self, now: MonoTime, ev: &crate::netlink::NetEvent) {
        match ev {
            crate::netlink::NetEvent::Link(l) => self.on_link_change(now, l).await,
            crate::netlink::NetEvent::AddressRemoved { index, addr, .. } => {
                self.on_address_removed(now, *index, *addr).await;
            }
            crate::netlink::NetEvent::AddressAdded { index, .. } => {
                self.on_address_added(now, *index).await;
            }
        }
    }

    /// An interface changed state: its instances go to FAULT when it is down or has no
    /// carrier, and leave FAULT (as Backup, RFC 9568 §6.4.1 Startup rules) when it is back.
    /// Instances that track it (`track_interface`) get its weight or FAULT.
    async fn on_link_change(&mut self, now: MonoTime, ev: &crate::netlink::LinkEvent) {
        self.sync_vlans(false).await;
        // A new MAC or ifindex first (sockets, frames, XDP, kernel records follow it).
        let usable = self.follow_link(ev).await;
        self.sync_no_accept_ifaces();
        let link_ok = ev.up && ev.running && !ev.removed;
        let ok = link_ok && usable;
        for vr in self.routers.values_mut() {
            if vr.ifindex == ev.index {
                vr.link_up = link_ok;
            }
            if vr.ifindex != ev.index || vr.link_fault != ok {
                continue;
            }
            vr.link_fault = !ok;
            if ok {
                vr.vip_fault = None;
                vr.addrs.retry.reset();
                tracing::info!(instance = %vr.name, iface = %vr.iface, "interface is back up");
            } else {
                tracing::warn!(instance = %vr.name, iface = %vr.iface, up = ev.up, carrier = ev.running, "interface down or without carrier");
            }
            self.faults_dirty = true;
        }
        let changed = self.tracker.state.interface_state(&ev.name, link_ok);
        self.retrack(now, changed).await;
        self.sync_faults(now).await;
    }

    /// A tracking result: a script run or a track file change.
    async fn on_track(&mut self, now: MonoTime, ev: TrackEvent) {
        let changed = self.tracker.state.apply(&ev);
        self.retrack(now, changed).await;
        self.sync_faults(now).await;
    }

    /// Re-applies tracking to the named instances, and starts those that were waiting for
    /// their health checks' first results once they have them.
    async fn retrack(&mut self, now: MonoTime, instances: Vec<String>) {
        for name in instances {
            if let Some(i) = self.routers.by_name(&name) {
                if self.routers[i].awaiting_checks {
                    if self.tracker.state.status(&name).pending.is_none() {
                        self.start_router(i, now).await;
                    }
                } else {
                    self.apply_tracking(i, now).await;
                }
            }
        }
    }

    /// Sets router `i`'s effective priority and tracking fault from the tracking state.
    async fn apply_tracking(&mut self, i: RouterId, now: MonoTime) {
        let Some(vr) = self.routers.get_mut(i) else {
            return;
        };
        let status = self.tracker.state.status(&vr.name);
        let priority = track::effective_priority(vr.inst.priority, &status);
        if priority != vr.router.effective_priority() {
            tracing::info!(
                instance = %vr.name,
                vrid = vr.key.vrid,
                "effective priority {} -> {priority} (configured {}, tracking {:+})",
                vr.router.effective_priority(),
                vr.inst.priority,
                status.delta
            );
            self.feed(i, now, Input::PriorityChanged(priority)).await;
            let vr = &self.routers[i];
            if vr.inst.notify_priority_changes {
                let master = vr.router.state() == State::Master;
                self.notifier.priority_changed(&vr.name, master, priority);
            }
        }
        let Some(vr) = self.routers.get_mut(i) else {
            return;
        };
        if vr.track_fault != status.fault {
            vr.track_fault = status.fault;
            self.faults_dirty = true;
        }
    }

    /// Why router `i` must be in FAULT: its own fault, or one of its sync group's members'.
    fn fault_reason(&self, i: RouterId) -> Option<String> {
        let vr = self.routers.get(i)?;
        if let Some(why) = vr.own_fault() {
            return Some(why);
        }
        let group = self.group_of(&vr.name)?;
        self.groups[group].members.iter().find_map(|m| {
            let j = self.routers.by_name(m)?;
            let why = self.routers[j].own_fault()?;
            Some(format!(
                "sync group {}: member {m} in FAULT ({why})",
                self.groups[group].name
            ))
        })
    }

    /// Puts into FAULT (or takes out) every router whose fault reasons changed.
    async fn sync_faults(&mut self, now: MonoTime) {
        self.run_followups(now).await;
    }

    /// Hands router `i`'s Master_Down_Timer to the kernel's watchdog when the election says
    /// it can be kept there, re-arms it when it changed, takes it back otherwise. In steady
    /// state nothing changes and this costs nothing.
    fn sync_watch(&mut self, i: RouterId) {
        if self.stall_holds(i) || !self.watchdog || self.watch_hold == Some(i) {
            return;
        }
        let Some(vr) = self.routers.get_mut(i) else {
            return;
        };
        let want = vr.router.master_down_watch();
        if want == vr.watch {
            return;
        }
        let result = match want {
            Some(w) => self
                .dp
                .arm_master_down(&vr.key, w.down_after, w.from, w.min_priority),
            None => self.dp.disarm_master_down(&vr.key),
        };
        match result {
            Ok(()) => vr.watch = want,
            Err(e) => {
                tracing::warn!(instance = %vr.name, "the kernel's master-down watchdog failed ({e}); Backups wake at their own deadlines from now on");
                self.watchdog = false;
                for r in self.routers.values_mut() {
                    if r.watch.take().is_some() {
                        let _ = self.dp.disarm_master_down(&r.key);
                    }
                }
            }
        }
    }

    async fn on_event(&mut self, now: MonoTime, ev: &PeerEvent) {
        let Some(i) = self.routers.by_key(&ev.peer.instance()) else {
            log_event(&self.kernel, &mut self.event_logs, now, ev);
            return;
        };
        if ev.kind & vrrp_common::EV_OWNER_CONFLICT != 0 {
            let since_boot = std::time::Duration::from_nanos(now.as_nanos());
            if self.owner_conflicts.should_log(ev.peer, since_boot) {
                let vr = &self.routers[i];
                tracing::warn!(
                    instance = %vr.name,
                    iface = %vr.iface,
                    vrid = ev.peer.vrid,
                    from = %peer_addr(&ev.peer),
                    "another router also claims to own this instance's addresses (priority 255); \
                     its adverts are discarded (RFC 9568 §7.1): give one of the two a lower priority"
                );
            }
            return;
        }
        if ev.kind & EV_MASTER_DOWN != 0 {
            // The watchdog saw no advert for a Master_Down_Interval and is now quiet. The
            // election decides: with the newest records fed in, its timer has run out (it
            // takes over) or an advert came just now (the watchdog is armed again).
            self.routers[i].watch = None;
            self.watch_hold = Some(i);
            self.feed_kernel_records(i, now).await;
            let due = self.routers[i].router.next_deadline();
            tracing::debug!(
                instance = %self.routers[i].name,
                deadline_ns = ev.ts_ns,
                now_ns = now.as_nanos(),
                election_due_ns = due.map(MonoTime::as_nanos),
                "master-down watchdog fired"
            );
            if due.is_some_and(|d| d <= now) && self.stall_allows(i, now) {
                crate::metrics::instruments().master_down_late(
                    crate::metrics::DownPath::Kernel,
                    std::time::Duration::from_nanos(now.as_nanos().saturating_sub(ev.ts_ns)),
                );
                self.feed(i, now, Input::Timer).await;
            }
            self.watch_hold = None;
            self.sync_watch(i);
            return;
        }
        log_event(&self.kernel, &mut self.event_logs, now, ev);
        self.observe_event(i, ev);
        let input = Input::Advert {
            from: peer_addr(&ev.peer),
            priority: ev.priority,
            max_adver_int: Centisecs::new(ev.adver_int_cs),
            received_at: MonoTime::from_nanos(ev.ts_ns),
        };
        self.feed(i, now, input).await;
    }

    /// Feeds `input` to router `i` and carries out the actions, then any follow-ups they
    /// cause (sync group members following, FAULT after a failed VIP add).
    async fn feed(&mut self, i: RouterId, now: MonoTime, input: Input) {
        self.followups.push_back((i, input));
        self.run_followups(now).await;
    }

    /// Runs queued inputs until none is left, then, if some instance's own fault changed,
    /// moves every router whose fault reasons changed into or out of FAULT.
    async fn run_followups(&mut self, now: MonoTime) {
        loop {
            while let Some((i, input)) = self.followups.pop_front() {
                // A router removed since the input was queued has nothing left to do.
                let Some(vr) = self.routers.get_mut(i) else {
                    continue;
                };
                let heard_before = vr.router.handover_heard();
                let actions = vr.router.handle(now, input);
                let heard = !heard_before && vr.router.handover_heard();
                self.apply(i, now, actions).await;
                if heard {
                    self.new_master_heard(i).await;
                }
                self.sync_watch(i);
            }
            if !std::mem::take(&mut self.faults_dirty) {
                return;
            }
            for j in self.routers.ids() {
                let why = self.fault_reason(j);
                let vr = &self.routers[j];
                if why.is_some() == vr.router.is_faulty() {
                    if self.link_lost_while_handing_over(j) {
                        self.followups.push_back((j, Input::Fault));
                    }
                    continue;
                }
                let input = match why {
                    Some(why) => {
                        tracing::warn!(instance = %vr.name, iface = %vr.iface, vrid = vr.key.vrid, "{why}");
                        self.fault_input(j)
                    }
                    None => Input::FaultCleared,
                };
                self.followups.push_back((j, input));
            }
            if self.followups.is_empty() {
                return;
            }
        }
    }

    /// Carries out the election's actions, in order.
    async fn apply(&mut self, i: RouterId, now: MonoTime, actions: Vec<Action>) {
        // A new Master's advert follows its VIPs and GARP: out at once, not at the turn's end.
        let took = actions.contains(&Action::AddVips);
        self.apply_each(i, now, actions).await;
        if took {
            self.flush();
        }
    }

    async fn apply_each(&mut self, i: RouterId, now: MonoTime, actions: Vec<Action>) {
        for action in actions {
            if !self.routers.contains(i) {
                return;
            }
            match action {
                Action::SendAdvert { priority } => self.sender.queue(i, priority),
                // An advert the election ordered before a VIP change leaves first; netlink
                // takes a while. A new Master's own advert comes after its AddVips and
                // Announce (`apply` sends it at once): with use_vmac that advert leaves from
                // the macvlan, which is up with the VIPs by then.
                Action::AddVips => {
                    self.flush();
                    self.no_accept_take(i);
                    if let Err(e) = self.add_vips(i).await {
                        self.vip_add_failed(i, now, &e);
                        return;
                    }
                }
                Action::RemoveVips => {
                    self.flush();
                    self.remove_vips(i).await;
                    self.no_accept_release(i);
                }
                Action::Announce => {
                    self.routers[i].garp.became_master(now);
                    let rounds = self.routers[i].garp.due(now);
                    if rounds > 0 {
                        self.announce(i, rounds);
                    }
                }
                Action::AnnounceLowerPriority => self.announce_lower_priority(i, now),
                Action::StateChange { from, to, reason } => self.state_changed(i, from, to, reason),
            }
        }
    }

    /// keepalived's answer to a lower-priority advert, GARP part: `garp_lower_prio_repeat`
    /// rounds now (and again after `garp_lower_prio_delay`) for the instance, and, as
    /// keepalived does, for each other member of its sync group that is Master (with its
    /// own `garp_lower_prio_repeat`; 0 sends nothing).
    fn announce_lower_priority(&mut self, i: RouterId, now: MonoTime) {
        // The answering advert first, as in keepalived.
        self.flush();
        let vr = &self.routers[i];
        self.notifier
            .master_rx_lower_priority(&vr.name, vr.router.effective_priority());
        let mut members = vec![i];
        if let Some(g) = self.group_of(&self.routers[i].name) {
            members.extend(
                self.routers
                    .iter()
                    .filter(|(j, r)| *j != i && self.groups[g].members.contains(&r.name))
                    .map(|(j, _)| j),
            );
        }
        for j in members {
            let vr = &mut self.routers[j];
            vr.garp.lower_priority_advert(now);
            let rounds = vr.garp.due(now);
            if rounds > 0 {
                self.announce(j, rounds);
            }
        }
    }

    /// Logs, counts and notifies a state change, and has the sync group follow.
    fn state_changed(&mut self, i: RouterId, from: State, to: State, reason: Reason) {
        let vr = &mut self.routers[i];
        if to != State::Master {
            vr.garp.left_master();
        }
        vr.transitions += 1;
        vr.obs.state_changed(from, to, &reason, MonoTime::now());
        self.note_takeover(i, from, to);
        let vr = &mut self.routers[i];
        tracing::info!(
            instance = %vr.name,
            vrid = vr.key.vrid,
            iface = %vr.iface,
            transitions = vr.transitions,
            "{from} -> {to}: {reason}"
        );
        let priority = vr.router.effective_priority();
        let name = vr.name.clone();
        self.notifier
            .transition(Subject::Instance, &name, groups::notify_state(to), priority);
        let Some(g) = self.group_of(&name) else {
            return;
        };
        // keepalived vrrp_sync_master / vrrp_sync_backup: the others follow a member that
        // took over or stepped down on its own (not one that is itself following).
        let follow = match (from, to) {
            _ if reason == Reason::SyncGroup => None,
            (_, State::Master) => Some(Input::GroupMaster),
            (State::Master, State::Backup) => Some(Input::GroupBackup),
            _ => None,
        };
        if let Some(input) = follow {
            for m in &self.groups[g].members {
                if let Some(j) = self.routers.by_name(m) {
                    if j != i {
                        self.followups.push_back((j, input));
                    }
                }
            }
        }
        let states: Vec<State> = self.groups[g]
            .members
            .iter()
            .filter_map(|m| self.routers.get(self.routers.by_name(m)?))
            .map(|r| r.router.state())
            .collect();
        if let Some(state) = groups::group_state(states) {
            let group = &mut self.groups[g];
            if group.notified != Some(state) {
                group.notified = Some(state);
                tracing::info!(group = %group.name, "sync group is now {state}");
                self.notifier
                    .transition(Subject::Group, &group.name, state, 0);
            }
        }
    }

    /// The sync group that has instance `name` as a member.
    fn group_of(&self, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.members.iter().any(|m| m == name))
    }

    /// Sends every queued advert (see [`sender::Sender::flush`]) and counts each in its
    /// router's statistics.
    fn flush(&mut self) {
        let routers = &mut self.routers;
        self.sender.flush(|sent| {
            if let Some(vr) = routers.get_mut(sent.id) {
                vr.obs.sent(sent.ok, sent.priority);
            }
        });
    }

    /// Stops routers `which` as on SIGTERM (Masters send priority 0 and drop their VIPs);
    /// returns whether one was Master and the longest Skew_Time among them.
    async fn stop_routers(
        &mut self,
        which: &[RouterId],
        now: MonoTime,
    ) -> (bool, std::time::Duration) {
        let mut was_master = false;
        let mut skew = std::time::Duration::ZERO;
        for &i in which {
            let Some(vr) = self.routers.get(i) else {
                continue;
            };
            was_master |= vr.router.state() == State::Master;
            skew = skew.max(vr.router.skew_time());
            self.feed(i, now, Input::Shutdown).await;
        }
        self.flush();
        (was_master, skew)
    }

    /// SIGTERM / SIGINT: each Master sends priority 0 and drops its VIPs; notify_stop runs;
    /// XDP is detached and the pins removed.
    async fn shutdown(&mut self) {
        // A second signal (or a loop error) during a handover: the VIPs go now.
        self.release_handovers().await;
        let all = self.routers.ids();
        let (was_master, skew) = self.stop_routers(&all, MonoTime::now()).await;
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
        self.vmacs.teardown(&self.netlink).await;
        tracing::info!("stopped: priority 0 sent for Master instances, VIPs removed, XDP detached");
        let notifier = std::mem::replace(&mut self.notifier, Notifier::disabled());
        notifier.shutdown(NOTIFY_DRAIN).await;
    }
}

/// Debug builds: the reload steps listed in `VRRP_AGENT_FAIL_RELOAD` (comma-separated;
/// tests inject a failure at the first step of the list, the next reload at the next one).
/// Release builds never read it.
fn fail_reload_from_env() -> VecDeque<reload::Step> {
    if !cfg!(debug_assertions) {
        return VecDeque::new();
    }
    let Ok(list) = std::env::var("VRRP_AGENT_FAIL_RELOAD") else {
        return VecDeque::new();
    };
    let mut steps = VecDeque::new();
    for name in list.split(',').filter(|n| !n.is_empty()) {
        match reload::Step::parse(name) {
            Some(s) => steps.push_back(s),
            None => tracing::warn!("VRRP_AGENT_FAIL_RELOAD: no reload step {name}"),
        }
    }
    if !steps.is_empty() {
        tracing::warn!(
            ?steps,
            "debug build: reloads fail at these steps, one per reload (VRRP_AGENT_FAIL_RELOAD)"
        );
    }
    steps
}

/// Refuses notify commands keepalived would refuse (missing, not executable, or, with
/// `enable_script_security`, modifiable by a non-root user); warns about insecure ones
/// otherwise.
fn check_notify_security(config: &Config, notifier: &Notifier) -> Result<()> {
    for (subject, name, keyword, cmd) in notifier.commands() {
        // No user of its own, no script_user and no keepalived_script user: keepalived
        // refuses to run it as root under enable_script_security.
        let unowned =
            cmd.uid().is_none() && track::security::script_user(&config.global, None).is_err();
        let checked = if unowned {
            Err(track::security::SecurityError::NoScriptUser)
        } else {
            track::security::check_command(cmd)
        };
        if let Err(e) = checked {
            let what = format!("{subject} {name}: {keyword} `{cmd}`: {e}");
            if e.refuses(config.global.enable_script_security) {
                bail!("{what}");
            }
            tracing::warn!("{what} (enable_script_security would refuse it)");
        }
    }
    Ok(())
}

/// The sync groups of `config`, none notified yet.
fn groups_of(config: &Config) -> Vec<GroupRt> {
    config
        .sync_groups
        .iter()
        .map(|g| GroupRt {
            name: g.name.clone(),
            members: g.members.clone(),
            notified: None,
        })
        .collect()
}

/// Logs a kernel event at info, at most [`lograte::BURST`] lines at once and then one per
/// [`lograte::REFILL`] per instance; what is left out is counted and reported.
fn log_event(
    kernel: &BTreeMap<InstanceKey, KernelInstance>,
    rates: &mut lograte::LogRates<InstanceKey>,
    now: MonoTime,
    ev: &PeerEvent,
) {
    let key = ev.peer.instance();
    let suppressed = match rates.admit(&key, now) {
        lograte::Admit::Suppress => return,
        lograte::Admit::Log { suppressed } => suppressed,
    };
    if suppressed > 0 {
        log_suppressed(kernel, &key, suppressed);
    }
    let name = kernel.get(&key).map_or("?", |k| k.name.as_str());
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

/// The summary of a storm of kernel events left out of the log.
fn log_suppressed(kernel: &BTreeMap<InstanceKey, KernelInstance>, key: &InstanceKey, n: u64) {
    let name = kernel.get(key).map_or("?", |k| k.name.as_str());
    tracing::info!(
        instance = name,
        vrid = key.vrid,
        "{n} more kernel events not logged (rate limit: {} at once, then one per {:?})",
        lograte::BURST,
        lograte::REFILL
    );
}
