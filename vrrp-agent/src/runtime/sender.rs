//! The advert sender: owns every advert socket, every AF_PACKET frame socket and every
//! router's built adverts, and sends what the routers queued, batched per socket.
//!
//! IPv4 and IPv6 routers are registered alike: the family of the source address picks the
//! raw socket (`AF_INET` or `AF_INET6`, see [`tx::AdvertSocket`]).
//!
//! A router is registered with what it sends ([`TxSpec`]) under its [`RouterId`]; it never
//! holds a socket. Sockets are shared by the routers that send through the same interface,
//! source address and TTL (raw IP sockets) or the same interface (frame sockets), and closed
//! by the sender itself when the last router using them is unregistered.
//!
//! Registering is split so that a reload can open everything it needs before it changes
//! anything: [`Sender::prepare`] opens what is missing (and may fail) without touching the
//! running sockets; [`Sender::register`] then only moves the result in.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
};

use anyhow::Result;

use super::registry::RouterId;
use crate::{
    tx::{self, AdvertSocket, FrameSocket, GroupMember, Outgoing},
    wire::{vrrp::Repr, ChecksumForm, Family, MacAddr, VRRP_TTL},
};

/// What a router sends, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TxSpec {
    /// Instance name (for logs).
    pub name: String,
    pub iface: String,
    pub ifindex: u32,
    pub src: IpAddr,
    /// `src` is not on `iface` yet (an IPv6 `use_vmac` macvlan's link-local address, there
    /// only while Master): the socket binds it with IPV6_FREEBIND.
    pub nonlocal_src: bool,
    /// The multicast group (224.0.0.18 or ff02::12, or keepalived's `mcast_dst_ip` /
    /// `vrrp_mcast_group4` / `vrrp_mcast_group6`), or the unicast peers.
    pub dsts: Vec<IpAddr>,
    /// IP TTL of unicast adverts (`unicast_ttl`); multicast ones always carry 255.
    pub ttl: u8,
    pub checksum: ChecksumForm,
    /// Multicast: whole frames on the interface's AF_PACKET socket when it has one.
    pub multicast: bool,
    /// Where the instance's adverts are received (by XDP) when that is not `iface`: the
    /// base interface of its `use_vmac` macvlan, name and index. Multicast: the group is
    /// joined there too ([`tx::GroupMember`]).
    pub rx_link: Option<(String, u32)>,
    /// The advert (its priority is set per send).
    pub repr: Repr,
}

impl TxSpec {
    /// A configured multicast group other than 224.0.0.18 or ff02::12, which its socket
    /// must join.
    fn extra_group(&self) -> Option<IpAddr> {
        match self.dsts.first() {
            Some(&g) if self.multicast && g != Family::of(&g).vrrp_group() => Some(g),
            _ => None,
        }
    }

    /// The membership to hold on the receiving interface: (interface, index, group).
    fn rx_membership(&self) -> Option<(&str, u32, IpAddr)> {
        match (&self.rx_link, self.dsts.first()) {
            (Some((iface, ifindex)), Some(&g)) if self.multicast => Some((iface, *ifindex, g)),
            _ => None,
        }
    }

    fn sock_key(&self) -> SockKey {
        SockKey {
            iface: self.iface.clone(),
            src: self.src,
            ttl: if self.multicast { VRRP_TTL } else { self.ttl },
        }
    }
}

/// Which raw IP socket a router sends through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SockKey {
    iface: String,
    src: IpAddr,
    ttl: u8,
}

/// A registered router.
#[derive(Debug)]
struct Route {
    spec: TxSpec,
    sock: SockKey,
    /// Its adverts go as frames on the frame socket of `spec.iface`.
    framed: bool,
    /// Payloads (one per destination) or the one frame, built for priority `built_for`.
    built: Vec<Vec<u8>>,
    built_for: Option<u8>,
}

/// One advert [`Sender::flush`] handed to the kernel (or failed to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sent {
    pub id: RouterId,
    pub priority: u8,
    pub ok: bool,
}

/// What [`Sender::prepare`] opened for one router (nothing when the sockets it needs are
/// open already).
#[derive(Debug)]
pub(super) struct Prepared {
    spec: TxSpec,
    socket: Option<AdvertSocket>,
    member: Option<GroupMember>,
    frames: Option<FrameSocket>,
    framed: bool,
}

/// The sockets, the routers' built adverts and the adverts queued in this turn.
#[derive(Debug, Default)]
pub(super) struct Sender {
    sockets: BTreeMap<SockKey, AdvertSocket>,
    frames: BTreeMap<String, FrameSocket>,
    /// Group memberships on receiving interfaces, by (interface, group).
    members: BTreeMap<(String, IpAddr), GroupMember>,
    routes: BTreeMap<RouterId, Route>,
    pending: Vec<(RouterId, u8)>,
}

impl Sender {
    /// Opens the sockets `spec` needs that are not open yet, changing nothing here. An
    /// AF_PACKET socket that cannot be opened is not an error: its adverts then go through
    /// the raw IP socket.
    pub fn prepare(&self, spec: &TxSpec) -> Result<Prepared> {
        let key = spec.sock_key();
        let socket = match self.sockets.get(&key) {
            Some(open) => {
                // A shared socket joins each router's group (joining twice is fine).
                if let Some(g) = spec.extra_group() {
                    join(open, g)?;
                }
                None
            }
            None => Some(open_socket(&key, spec, spec.extra_group())?),
        };
        let member = match spec.rx_membership() {
            Some((iface, ifindex, group))
                if !self.members.contains_key(&(iface.to_owned(), group)) =>
            {
                Some(GroupMember::join(iface, ifindex, group)?)
            }
            _ => None,
        };
        let mut frames = None;
        let mut framed = false;
        // IPv6 adverts always go through the raw IPv6 socket (the frame path builds IPv4).
        if spec.multicast && spec.src.is_ipv4() {
            if self.frames.contains_key(&spec.iface) {
                framed = true;
            } else {
                match FrameSocket::open(&spec.iface, spec.ifindex) {
                    Ok(s) => {
                        frames = Some(s);
                        framed = true;
                    }
                    Err(e) => {
                        tracing::info!(iface = %spec.iface, "multicast adverts go through the IP stack: {e}");
                    }
                }
            }
        }
        Ok(Prepared {
            spec: spec.clone(),
            socket,
            member,
            frames,
            framed,
        })
    }

    /// Registers router `id` with what [`Sender::prepare`] opened for it. Sockets opened
    /// meanwhile for another router with the same needs are kept, the duplicates closed.
    pub fn register(&mut self, id: RouterId, prepared: Prepared) {
        let Prepared {
            spec,
            socket,
            member,
            frames,
            mut framed,
        } = prepared;
        if let Some(m) = member {
            self.members
                .entry((m.iface().to_owned(), m.group()))
                .or_insert(m);
        }
        let sock = spec.sock_key();
        if let Some(s) = socket {
            self.sockets.entry(sock.clone()).or_insert(s);
        }
        if let Some(f) = frames {
            self.frames.entry(spec.iface.clone()).or_insert(f);
        }
        framed &= self.frames.contains_key(&spec.iface);
        self.routes.insert(
            id,
            Route {
                spec,
                sock,
                framed,
                built: Vec::new(),
                built_for: None,
            },
        );
    }

    /// Forgets router `id` and its queued adverts, and closes the sockets nobody uses any
    /// more.
    pub fn unregister(&mut self, id: RouterId) {
        if self.routes.remove(&id).is_none() {
            return;
        }
        self.pending.retain(|(p, _)| *p != id);
        self.close_unused();
    }

    /// What router `id` sends now.
    pub fn spec(&self, id: RouterId) -> Option<&TxSpec> {
        self.routes.get(&id).map(|r| &r.spec)
    }

    /// Router `id` sends what [`Sender::prepare`] prepared from now on (a reload changed
    /// its VIPs, interval, peers...): its adverts are built afresh at the next send, an
    /// advert already queued included; sockets nobody uses any more are closed.
    pub fn replace(&mut self, id: RouterId, prepared: Prepared) {
        self.register(id, prepared);
        self.close_unused();
    }

    /// Router `id` sends from `src` on interface index `ifindex` from now on (its interface
    /// was re-created with another link-local or primary address): it moves to a socket
    /// bound to `src`, opened (and joined to its groups) if none is; its adverts are built
    /// afresh; the old socket closes once no router uses it. On error nothing changed.
    pub fn set_source(&mut self, id: RouterId, src: IpAddr, ifindex: u32) -> Result<()> {
        let Some(route) = self.routes.get(&id) else {
            return Ok(());
        };
        let mut spec = route.spec.clone();
        spec.src = src;
        spec.ifindex = ifindex;
        let prepared = self.prepare(&spec)?;
        self.replace(id, prepared);
        Ok(())
    }

    /// Closes the sockets no registered router uses.
    fn close_unused(&mut self) {
        let socks: BTreeSet<&SockKey> = self.routes.values().map(|r| &r.sock).collect();
        self.sockets.retain(|k, _| socks.contains(k));
        let framed: BTreeSet<&str> = self
            .routes
            .values()
            .filter(|r| r.framed)
            .map(|r| r.spec.iface.as_str())
            .collect();
        self.frames.retain(|k, _| framed.contains(k.as_str()));
        let members: BTreeSet<(&str, IpAddr)> = self
            .routes
            .values()
            .filter_map(|r| r.spec.rx_membership())
            .map(|(iface, _, group)| (iface, group))
            .collect();
        self.members
            .retain(|(iface, group), _| members.contains(&(iface.as_str(), *group)));
    }

    /// How many raw IP and AF_PACKET sockets are open.
    pub fn socket_counts(&self) -> (usize, usize) {
        (self.sockets.len(), self.frames.len())
    }

    /// Queues an advert of router `id` at `priority`, sent by the next [`Sender::flush`].
    pub fn queue(&mut self, id: RouterId, priority: u8) {
        self.pending.push((id, priority));
    }

    /// Sends every queued advert, batched per socket: multicast ones as prebuilt frames on
    /// AF_PACKET (no route lookup, IP header, neighbour or netfilter work per advert),
    /// unicast ones through the raw IP socket. `sent` hears of each send (its router,
    /// priority and whether it went out; one per destination), for the counters.
    pub fn flush(&mut self, mut sent: impl FnMut(Sent)) {
        if self.pending.is_empty() {
            return;
        }
        // Payloads and frames are built once per priority and reused tick after tick (one
        // per destination: the v3 pseudo-header checksum covers it).
        let mut raw = Vec::with_capacity(self.pending.len());
        let mut framed = Vec::new();
        for (id, priority) in std::mem::take(&mut self.pending) {
            let Some(route) = self.routes.get_mut(&id) else {
                continue;
            };
            let mac = match route.framed {
                true => self.frames.get(&route.spec.iface).map(FrameSocket::mac),
                false => None,
            };
            if route.built_for != Some(priority) && !build(route, priority, mac) {
                continue;
            }
            match mac {
                Some(_) => framed.push(id),
                None => raw.extend((0..route.spec.dsts.len()).map(|j| (id, j))),
            }
        }
        if !framed.is_empty() {
            let batch: Vec<(RouterId, (&FrameSocket, &[u8]))> = framed
                .iter()
                .filter_map(|id| {
                    let r = &self.routes[id];
                    let s = self.frames.get(&r.spec.iface)?;
                    Some((*id, (s, r.built.first()?.as_slice())))
                })
                .collect();
            let frames: Vec<_> = batch.iter().map(|(_, b)| *b).collect();
            for (r, (id, _)) in tx::send_frames(&frames).into_iter().zip(&batch) {
                sent(Sent {
                    id: *id,
                    priority: self.routes[id].spec.repr.priority,
                    ok: r.is_ok(),
                });
                if let Err(e) = r {
                    let s = &self.routes[id].spec;
                    tracing::warn!(instance = %s.name, iface = %s.iface, "sending an advert: {e}");
                }
            }
        }
        if raw.is_empty() {
            return;
        }
        let batch: Vec<((RouterId, usize), Outgoing<'_>)> = raw
            .iter()
            .filter_map(|&(id, j)| {
                let r = &self.routes[&id];
                let out = Outgoing {
                    socket: self.sockets.get(&r.sock)?,
                    dst: r.spec.dsts[j],
                    payload: r.built.get(j)?,
                };
                Some(((id, j), out))
            })
            .collect();
        let outgoing: Vec<_> = batch.iter().map(|(_, o)| *o).collect();
        for (r, ((id, j), _)) in tx::send_batch(&outgoing).into_iter().zip(&batch) {
            sent(Sent {
                id: *id,
                priority: self.routes[id].spec.repr.priority,
                ok: r.is_ok(),
            });
            if let Err(e) = r {
                let s = &self.routes[id].spec;
                tracing::warn!(instance = %s.name, iface = %s.iface, to = %s.dsts[*j], "sending an advert: {e}");
            }
        }
    }

    /// Interface `name` has index `ifindex` (and MAC `mac`) now: reopens its sockets bound
    /// to another index, and its frame socket if it holds another MAC (its routers rebuild
    /// their frames). False if one could not be reopened (try again at the next event).
    pub fn follow_link(&mut self, name: &str, ifindex: u32, mac: Option<MacAddr>) -> bool {
        let mut ok = true;
        for (key, socket) in self.sockets.iter_mut() {
            if key.iface != name || socket.ifindex() == ifindex {
                continue;
            }
            let Some(spec) = self.routes.values().find(|r| &r.sock == key) else {
                continue;
            };
            let mut spec = spec.spec.clone();
            spec.ifindex = ifindex;
            let groups: BTreeSet<IpAddr> = self
                .routes
                .values()
                .filter(|r| &r.sock == key)
                .filter_map(|r| r.spec.extra_group())
                .collect();
            match open_socket(key, &spec, None).and_then(|s| {
                for g in groups {
                    join(&s, g)?;
                }
                Ok(s)
            }) {
                Ok(s) => {
                    tracing::info!(iface = %name, ifindex, from = %key.src, "advert socket reopened");
                    *socket = s;
                }
                Err(e) => {
                    tracing::warn!(instance = %spec.name, iface = %name, "reopening the advert socket: {e:#}; the instance stays in FAULT until it works");
                    ok = false;
                }
            }
        }
        if let Some(s) = self.frames.get_mut(name) {
            let stale = s.ifindex() != ifindex || mac.is_some_and(|m| m != s.mac());
            if stale {
                match FrameSocket::open(name, ifindex) {
                    Ok(new) => {
                        tracing::info!(iface = %name, ifindex, mac = %new.mac(), "AF_PACKET advert socket reopened; frames rebuilt");
                        *s = new;
                        for r in self.routes.values_mut().filter(|r| r.spec.iface == name) {
                            r.built_for = None;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(iface = %name, "reopening the AF_PACKET advert socket: {e}");
                        ok = false;
                    }
                }
            }
        }
        for ((iface, group), m) in self.members.iter_mut() {
            if iface != name || m.ifindex() == ifindex {
                continue;
            }
            match GroupMember::join(name, ifindex, *group) {
                Ok(new) => *m = new,
                Err(e) => {
                    tracing::warn!(iface = %name, "joining {group} again: {e}");
                    ok = false;
                }
            }
        }
        for r in self.routes.values_mut() {
            if r.spec.iface == name {
                r.spec.ifindex = ifindex;
            }
            if let Some((rx, index)) = &mut r.spec.rx_link {
                if rx == name {
                    *index = ifindex;
                }
            }
        }
        ok
    }
}

/// Joins the multicast `group` (of the socket's family) on `socket`'s interface.
fn join(socket: &AdvertSocket, group: IpAddr) -> Result<(), tx::TxError> {
    match group {
        IpAddr::V4(g) => socket.join_group(g),
        IpAddr::V6(g) => socket.join_group_v6(g),
    }
}

/// Opens the raw IP socket `key` for `spec` (IPv4 or IPv6, by its source address), a member
/// of the VRRP group (224.0.0.18 or ff02::12) and of `group`.
fn open_socket(key: &SockKey, spec: &TxSpec, group: Option<IpAddr>) -> Result<AdvertSocket> {
    let socket = match key.src {
        IpAddr::V4(src) => AdvertSocket::open(&key.iface, spec.ifindex, src)?,
        IpAddr::V6(src) if spec.nonlocal_src => {
            AdvertSocket::open_v6_nonlocal(&key.iface, spec.ifindex, src)?
        }
        IpAddr::V6(src) => AdvertSocket::open_v6(&key.iface, spec.ifindex, src)?,
    };
    socket.join_vrrp_group()?;
    if let Some(g) = group {
        join(&socket, g)?;
    }
    if key.ttl != VRRP_TTL {
        socket.set_unicast_ttl(key.ttl)?;
    }
    Ok(socket)
}

/// Builds `route`'s adverts for `priority` (frames with source MAC `mac`, or payloads).
/// False (logged) if one could not be built.
fn build(route: &mut Route, priority: u8, mac: Option<MacAddr>) -> bool {
    let spec = &mut route.spec;
    spec.repr.priority = priority;
    let n = if mac.is_some() { 1 } else { spec.dsts.len() };
    route.built.resize_with(n, Vec::new);
    let mut ok = true;
    for (buf, &dst) in route.built.iter_mut().zip(&spec.dsts) {
        let built = match (mac, spec.src, dst) {
            (Some(mac), IpAddr::V4(src), IpAddr::V4(group)) => {
                tx::build_advert_frame_to(&spec.repr, src, group, mac, spec.checksum, buf)
            }
            _ => tx::build_advert(&spec.repr, spec.src, dst, spec.checksum, buf),
        };
        if let Err(e) = built {
            tracing::error!(instance = %spec.name, "building an advert: {e}");
            ok = false;
        }
    }
    route.built_for = ok.then_some(priority);
    ok
}
