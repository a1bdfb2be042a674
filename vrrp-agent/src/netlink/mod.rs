//! Links, addresses and link-state events through rtnetlink: the only module that uses
//! rtnetlink.
//!
//! [`Netlink`] wraps one rtnetlink connection of the network namespace it was created in.
//! Its connection task is spawned on the caller's tokio runtime (the agent runs a
//! current_thread runtime) and is aborted when the last clone of the `Netlink` is dropped.
//! Every request waits for the kernel's answer (ACK, DONE or an error): the reply stream ends
//! there, or when the connection closes.
//!
//! Virtual addresses are added and removed the way keepalived does it
//! (`keepalived/vrrp/vrrp_ipaddress.c`):
//! - adding an address that is already there (`EEXIST`) succeeds, removing one that is not
//!   there (`EADDRNOTAVAIL`) succeeds, so both can be repeated;
//! - removal names the exact address and prefix length (`IFA_LOCAL` and `IFA_ADDRESS`), so
//!   the kernel never picks "the first address" as it does for a bare `RTM_DELADDR`;
//! - IPv6 addresses are added with `IFA_F_NODAD`, as keepalived does unless `-nodad` is
//!   given, so a VIP is usable at once after a failover instead of after Duplicate Address
//!   Detection (which the old Master, still holding it for a moment, could fail);
//! - deleting the primary IPv4 address of a subnet makes the kernel delete every secondary
//!   address of that subnet too, unless `promote_secondaries` is set on the interface.
//!   [`Netlink::remove_vip`] sets it (as keepalived does on the interfaces it manages) before
//!   removing a VIP that other addresses depend on, so only the VIP goes.
//!
//! - the addresses it adds carry `IFA_PROTO` [`VIP_PROTO`], and [`Netlink::add_address`]
//!   tells whether the address was added or already there, so that the caller removes only
//!   what it added (keepalived 2.2.7 does not tell them apart).
//!
//! Link state changes arrive as [`LinkEvent`]s on a second connection subscribed to
//! `RTNLGRP_LINK` ([`Netlink::link_events`]); [`Netlink::events`] adds the addresses added
//! and removed (`RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`). Nothing polls.
use std::{
    fmt,
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt};
use netlink_packet_route::{
    address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope},
    link::{AfSpecInet, AfSpecUnspec, LinkAttribute, LinkFlags, LinkMessage},
    AddressFamily, RouteNetlinkMessage,
};
use rtnetlink::packet_core::{
    DefaultNla, NetlinkMessage, NetlinkPayload, NLA_F_NESTED, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_EXCL, NLM_F_REQUEST,
};

use crate::{config::VirtualAddress, wire::MacAddr};

pub mod routes;
pub mod vmac;

/// Longest interface name and address label the kernel keeps (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Events buffered between the netlink socket and a slow [`LinkEvents`] reader. When the
/// buffer is full the kernel drops events (ENOBUFS), which [`LinkEvents`] answers with a
/// fresh dump of every link.
const LINK_EVENT_BUFFER: usize = 1024;

/// The `IFA_PROTO` value of the addresses this agent adds (112, the IP protocol number of
/// VRRP): `ip addr` shows it as `proto 0x70`. It tells a VIP a previous run left behind from
/// an address someone else configured (an address owner's real address), which start-up
/// must not remove. Kernels before 6.1 ignore the attribute; their addresses read 0.
pub const VIP_PROTO: u8 = 112;

/// `RT_SCOPE_LINK` (linux/rtnetlink.h).
const RT_SCOPE_LINK: u8 = 253;

/// `IPV4_DEVCONF_PROMOTE_SECONDARIES` (linux/ip.h), an `IFLA_INET_CONF` entry.
const IPV4_DEVCONF_PROMOTE_SECONDARIES: u16 = 20;
/// `IFLA_INET_CONF` (linux/if_link.h), inside `IFLA_AF_SPEC` / `AF_INET`.
const IFLA_INET_CONF: u16 = 1;

/// Runs `future` to completion on a new current_thread tokio runtime with I/O and timers:
/// for synchronous callers (a one-shot check, the kernel tests) that have no runtime of
/// their own. Not for use inside a runtime (tokio refuses to nest them).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, NetlinkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NetlinkError::Runtime {
            errno: Errno(e.raw_os_error().unwrap_or(0)),
        })?;
    Ok(runtime.block_on(future))
}

/// An errno with its text, shown as `Operation not permitted (EPERM)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = nix::errno::Errno::from_raw(self.0);
        if e == nix::errno::Errno::UnknownErrno {
            write!(f, "unknown error (errno {})", self.0)
        } else {
            write!(f, "{} ({e:?})", e.desc())
        }
    }
}

/// An interface as errors name it: `eth0 (ifindex 2)`, or `ifindex 9` when the name is not
/// known (for example because no interface has that index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    pub index: u32,
    pub name: Option<String>,
}

impl Iface {
    /// An interface known only by its index.
    pub const fn index(index: u32) -> Iface {
        Iface { index, name: None }
    }

    /// An interface known by index and name.
    pub fn named(index: u32, name: &str) -> Iface {
        Iface {
            index,
            name: Some(name.to_owned()),
        }
    }
}

impl fmt::Display for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} (ifindex {})", self.index),
            None => write!(f, "ifindex {}", self.index),
        }
    }
}

/// Why a virtual address cannot be turned into a netlink request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VipProblem {
    /// The label is longer than the kernel keeps.
    #[error(
        "label `{label}` is {len} bytes long; the kernel accepts at most {IFNAME_MAX} \
         (IFNAMSIZ - 1)"
    )]
    LabelTooLong { label: String, len: usize },
    /// The label does not start with the interface name.
    #[error(
        "label `{label}` must be the interface name `{iface}` or start with `{iface}:` \
         (for example `{iface}:vip`): `ip`, `ifconfig` and keepalived read an IPv4 label as \
         `interface:alias`, and `ip` refuses any other form"
    )]
    LabelPrefix { label: String, iface: String },
    /// The scope is neither a name nor a number 0..=255.
    #[error("unknown scope `{0}`: expected host, link, global, site, nowhere or a number 0-255")]
    Scope(String),
    /// A prefix length longer than the address.
    #[error("prefix length {prefix_len} is longer than the address ({max} bits)")]
    PrefixLen { prefix_len: u8, max: u8 },
}

/// What went wrong talking to the kernel. Every variant names the interface, the address
/// where there is one, and the errno.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetlinkError {
    /// No tokio runtime to run the connection on.
    #[error("netlink needs a tokio runtime: call Netlink::connect from inside one")]
    NoRuntime,
    /// [`block_on`] could not build its runtime.
    #[error("starting a tokio runtime for netlink: {errno}")]
    Runtime { errno: Errno },
    /// The netlink socket could not be opened.
    #[error("opening a netlink socket ({purpose}): {errno}")]
    Socket { purpose: &'static str, errno: Errno },
    /// Looking up an interface by name failed (ENODEV: there is none).
    #[error("looking up interface {name}: {errno}")]
    LinkByName { name: String, errno: Errno },
    /// A read request about one interface failed.
    #[error("{what} of {iface}: {errno}")]
    Query {
        what: &'static str,
        iface: Iface,
        errno: Errno,
    },
    /// `RTM_NEWADDR` failed.
    #[error("adding {addr}/{prefix_len} to {iface}: {errno}")]
    AddAddress {
        iface: Iface,
        addr: IpAddr,
        prefix_len: u8,
        errno: Errno,
    },
    /// `RTM_DELADDR` failed.
    #[error("removing {addr}/{prefix_len} from {iface}: {errno}")]
    RemoveAddress {
        iface: Iface,
        addr: IpAddr,
        prefix_len: u8,
        errno: Errno,
    },
    /// The virtual address cannot be added as written.
    #[error("cannot add {addr}/{prefix_len} to {iface}: {problem}")]
    InvalidVip {
        iface: Iface,
        addr: IpAddr,
        prefix_len: u8,
        problem: VipProblem,
    },
    /// Setting `promote_secondaries` (needed to remove a primary address alone) failed.
    #[error(
        "setting promote_secondaries on {iface} before removing {addr}/{prefix_len}, so that \
         the kernel does not delete the other addresses of its subnet with it: {errno}"
    )]
    PromoteSecondaries {
        iface: Iface,
        addr: IpAddr,
        prefix_len: u8,
        errno: Errno,
    },
    /// The kernel answered with something this module does not expect, or the connection
    /// closed mid-request.
    #[error("{what} of {iface}: {detail}")]
    Protocol {
        what: &'static str,
        iface: Iface,
        detail: String,
    },
}

/// An interface, from `RTM_GETLINK`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `IFLA_ADDRESS`; 00:00:00:00:00:00 when the link has no 6-byte hardware address.
    pub mac: MacAddr,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Operationally up, carrier present (`IFF_RUNNING`).
    pub running: bool,
    pub mtu: u32,
    /// `IFLA_INFO_KIND`: the link type (`veth`, `bridge`, `vlan`, ...); `None` for a plain
    /// device (a physical NIC, virtio-net).
    pub kind: Option<String>,
    /// `IFLA_LINK`: the lower device of a VLAN (or a veth's peer, possibly in another
    /// namespace); `None` when absent or the link itself.
    pub lower: Option<u32>,
    /// `IFLA_VLAN_ID` of a VLAN device.
    pub vlan_id: Option<u16>,
    /// `IFLA_MASTER`: the bond or bridge this link is enslaved to.
    pub master: Option<u32>,
}

/// One address of an interface, from `RTM_GETADDR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// `IFA_LOCAL` when present (the address itself on point-to-point links), else
    /// `IFA_ADDRESS`.
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `IFA_LABEL` (IPv4 only).
    pub label: Option<String>,
    /// `IFA_F_SECONDARY` (IPv4: not the first address of its subnet; IPv6: a temporary
    /// address).
    pub secondary: bool,
    /// `IFA_F_TENTATIVE`: IPv6 Duplicate Address Detection has not finished; the address
    /// cannot be used as a source yet.
    pub tentative: bool,
    /// `RT_SCOPE_*`: 0 global, 200 site, 253 link, 254 host, 255 nowhere.
    pub scope: u8,
    /// `IFA_PROTO`: who added it; [`VIP_PROTO`] for a VIP this agent added, 0 when unset.
    pub proto: u8,
}

/// A link changed (`RTM_NEWLINK`) or went away (`RTM_DELLINK`). The kernel sends
/// `RTM_NEWLINK` for many changes (flags, MTU, statistics, addresses of the link layer), so
/// consecutive events may carry the same state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEvent {
    pub index: u32,
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_RUNNING` (carrier).
    pub running: bool,
    /// The link was deleted (`RTM_DELLINK`); `up` and `running` are then false.
    pub removed: bool,
    /// `IFLA_ADDRESS` when the message carries one (a MAC change comes as `RTM_NEWLINK`).
    pub mac: Option<MacAddr>,
}

/// What [`Netlink::events`] reports: a link change, or an address that went away
/// (`RTM_DELADDR` on `RTNLGRP_IPV4_IFADDR` / `RTNLGRP_IPV6_IFADDR`; whoever removed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    Link(LinkEvent),
    AddressRemoved {
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    },
    /// An address was added (`RTM_NEWADDR`).
    AddressAdded {
        index: u32,
        addr: IpAddr,
    },
}

/// Aborts a spawned task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A failed request, before it is given its context.
#[derive(Debug)]
enum Failure {
    Errno(i32),
    Protocol(String),
}

/// An rtnetlink connection in the network namespace it was opened in. Cheap to clone; the
/// connection closes when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    _conn: Arc<AbortOnDrop>,
}

impl Netlink {
    /// Opens a connection in the current network namespace and spawns its task on the
    /// current tokio runtime.
    pub async fn connect() -> Result<Netlink, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (conn, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(|e| NetlinkError::Socket {
                purpose: "requests",
                errno: Errno(e.raw_os_error().unwrap_or(0)),
            })?;
        let task = runtime.spawn(conn);
        Ok(Netlink {
            handle,
            _conn: Arc::new(AbortOnDrop(task)),
        })
    }

    /// Sends one request and collects the messages of the answer; an error message from the
    /// kernel becomes its errno. Failures are counted for the metrics, except the answers
    /// that mean "already done" (`EEXIST` to an add, `EADDRNOTAVAIL` to a delete).
    async fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        let (op, done_already) = match &message {
            RouteNetlinkMessage::NewAddress(_) => ("add_address", libc::EEXIST),
            RouteNetlinkMessage::DelAddress(_) => ("remove_address", libc::EADDRNOTAVAIL),
            RouteNetlinkMessage::SetLink(_) => ("set_link", 0),
            _ => ("query", 0),
        };
        let result = self.request_once(message, flags).await;
        match &result {
            Err(Failure::Errno(e)) if *e == done_already => {}
            Err(_) => crate::metrics::instruments().netlink_error(op),
            Ok(_) => {}
        }
        result
    }

    async fn request_once(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        let mut handle = self.handle.clone();
        let mut req = NetlinkMessage::from(message);
        req.header.flags = flags;
        let mut response = handle
            .request(req)
            .map_err(|_| Failure::Protocol("the netlink connection is closed".into()))?;
        let mut out = Vec::new();
        // Ends with the kernel's ACK / DONE, or when the connection task stops.
        while let Some(msg) = response.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(err) => {
                    if let Some(code) = err.code {
                        return Err(Failure::Errno(code.get().saturating_abs()));
                    }
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(Failure::Protocol("netlink receive buffer overrun".into()))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The interface called `name`.
    pub async fn link(&self, name: &str) -> Result<LinkInfo, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let fail = |errno| NetlinkError::LinkByName {
            name: name.to_owned(),
            errno: Errno(errno),
        };
        let replies = match self
            .request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)
            .await
        {
            Ok(replies) => replies,
            Err(Failure::Errno(e)) => return Err(fail(e)),
            Err(Failure::Protocol(detail)) => {
                return Err(NetlinkError::Protocol {
                    what: "looking up the link",
                    iface: Iface {
                        index: 0,
                        name: Some(name.to_owned()),
                    },
                    detail,
                })
            }
        };
        replies
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_info(l)),
                _ => None,
            })
            .ok_or_else(|| fail(libc::ENODEV))
    }

    /// Every interface of this network namespace.
    pub async fn links(&self) -> Result<Vec<LinkInfo>, NetlinkError> {
        let replies = self
            .request(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await
            .map_err(|f| query_error("listing the links", Iface::index(0), f))?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_info(l)),
                _ => None,
            })
            .collect())
    }

    /// The interface with index `ifindex`.
    pub async fn link_by_index(&self, ifindex: u32) -> Result<LinkInfo, NetlinkError> {
        Ok(link_info(
            &self.link_message(ifindex, "reading the link").await?,
        ))
    }

    async fn link_message(
        &self,
        ifindex: u32,
        what: &'static str,
    ) -> Result<LinkMessage, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        let replies = self
            .request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)
            .await
            .map_err(|f| query_error(what, Iface::index(ifindex), f))?;
        replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .ok_or(NetlinkError::Query {
                what,
                iface: Iface::index(ifindex),
                errno: Errno(libc::ENODEV),
            })
    }

    /// The interface's name for error messages: best effort, `None` if the lookup fails.
    async fn iface(&self, ifindex: u32) -> Iface {
        match self.link_by_index(ifindex).await {
            Ok(l) => Iface::named(ifindex, &l.name),
            Err(_) => Iface::index(ifindex),
        }
    }

    /// Every address of interface `ifindex` (both families), in the kernel's order (for
    /// IPv4: primaries before their secondaries, as `ip addr` shows them). An unknown
    /// ifindex has no addresses.
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<AddrInfo>, NetlinkError> {
        let replies = match self
            .request(
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await
        {
            Ok(replies) => replies,
            Err(f) => {
                return Err(query_error(
                    "reading the addresses",
                    self.iface(ifindex).await,
                    f,
                ))
            }
        };
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == ifindex => addr_info(a),
                _ => None,
            })
            .collect())
    }

    /// The first non-secondary IPv4 address of the interface with at most link scope: the
    /// source of VRRP adverts unless `unicast_src_ip` says otherwise (RFC 9568 §5.1.1.1:
    /// "the primary IPv4 address of the interface the packet is being sent from"). It is
    /// the address the kernel itself picks as the source of a packet to 224.0.0.18 on this
    /// interface (`inet_select_addr` with `RT_SCOPE_LINK`). The kernel lists narrower
    /// scopes first, so a `scope link` primary comes before a global one.
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, NetlinkError> {
        Ok(self
            .addresses(ifindex)
            .await?
            .iter()
            .find_map(|a| match a.addr {
                IpAddr::V4(v4) if !a.secondary && a.scope <= RT_SCOPE_LINK => Some(v4),
                _ => None,
            }))
    }

    /// The interface's IPv6 link-local address (fe80::/10), the source IPv6 VRRP adverts must
    /// use (RFC 9568 §5.1.2.1). `None` while Duplicate Address Detection has not finished
    /// (a tentative address cannot be a source) or when there is none.
    pub async fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, NetlinkError> {
        Ok(self
            .addresses(ifindex)
            .await?
            .iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v6) if v6.is_unicast_link_local() && !a.tentative => Some(v6),
                _ => None,
            }))
    }

    /// Whether interface `ifindex` has `addr` (any prefix length).
    pub async fn has_address(&self, ifindex: u32, addr: IpAddr) -> Result<bool, NetlinkError> {
        Ok(self
            .addresses(ifindex)
            .await?
            .iter()
            .any(|a| a.addr == addr))
    }

    /// Adds `vip` to interface `ifindex` (`ip addr add ADDR/PREFIX [brd B] [scope S]
    /// [label L] dev IF`). Already present (`EEXIST`) is success; an existing address keeps
    /// its label, scope and broadcast address. The label must be the interface's name or
    /// start with `NAME:` (see [`validate_label`]); IPv6 addresses have no label (the kernel
    /// keeps labels for IPv4 only) and get `IFA_F_NODAD`.
    pub async fn add_vip(&self, ifindex: u32, vip: &VirtualAddress) -> Result<(), NetlinkError> {
        self.add_address(ifindex, vip).await.map(drop)
    }

    /// [`Netlink::add_vip`], telling whether this call added the address (`true`) or it was
    /// there already (`EEXIST`, `false`: someone else's address, which the caller must not
    /// remove later). Added addresses carry `IFA_PROTO` [`VIP_PROTO`].
    pub async fn add_address(
        &self,
        ifindex: u32,
        vip: &VirtualAddress,
    ) -> Result<bool, NetlinkError> {
        let add_error = |iface: Iface, errno| NetlinkError::AddAddress {
            iface,
            addr: vip.addr,
            prefix_len: vip.prefix_len,
            errno: Errno(errno),
        };
        // The name is needed to check the label, and names the interface in errors.
        let link = match self.link_by_index(ifindex).await {
            Ok(link) => link,
            Err(NetlinkError::Query { errno, .. }) => {
                return Err(add_error(Iface::index(ifindex), errno.0))
            }
            Err(e) => return Err(e),
        };
        let iface = Iface::named(ifindex, &link.name);
        let message = vip_add_message(ifindex, &link.name, vip).map_err(|problem| {
            NetlinkError::InvalidVip {
                iface: iface.clone(),
                addr: vip.addr,
                prefix_len: vip.prefix_len,
                problem,
            }
        })?;
        match self
            .request(
                RouteNetlinkMessage::NewAddress(message),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            )
            .await
        {
            Ok(_) => {
                tracing::debug!(iface = %link.name, addr = %vip.addr, prefix_len = vip.prefix_len, "address added");
                Ok(true)
            }
            Err(Failure::Errno(libc::EEXIST)) => {
                tracing::debug!(iface = %link.name, addr = %vip.addr, prefix_len = vip.prefix_len, "address already present");
                Ok(false)
            }
            Err(Failure::Errno(e)) => Err(add_error(iface, e)),
            Err(Failure::Protocol(detail)) => Err(NetlinkError::Protocol {
                what: "adding an address",
                iface,
                detail,
            }),
        }
    }

    /// Removes exactly `vip.addr/vip.prefix_len` from interface `ifindex`; nothing else.
    /// Not present (`EADDRNOTAVAIL`) is success. When the VIP is the primary IPv4 address
    /// of a subnet that has secondaries, `promote_secondaries` is set on the interface first
    /// (see the module documentation). An unknown ifindex is an error (`ENODEV`).
    pub async fn remove_vip(&self, ifindex: u32, vip: &VirtualAddress) -> Result<(), NetlinkError> {
        let remove_error = |iface: Iface, errno| NetlinkError::RemoveAddress {
            iface,
            addr: vip.addr,
            prefix_len: vip.prefix_len,
            errno: Errno(errno),
        };
        if let IpAddr::V4(v4) = vip.addr {
            self.protect_secondaries(ifindex, v4, vip.prefix_len)
                .await?;
        }
        let message = vip_del_message(ifindex, vip);
        match self
            .request(
                RouteNetlinkMessage::DelAddress(message),
                NLM_F_REQUEST | NLM_F_ACK,
            )
            .await
        {
            Ok(_) => {
                tracing::debug!(ifindex, addr = %vip.addr, prefix_len = vip.prefix_len, "address removed");
                Ok(())
            }
            Err(Failure::Errno(libc::EADDRNOTAVAIL)) => Ok(()),
            Err(Failure::Errno(e)) => Err(remove_error(self.iface(ifindex).await, e)),
            Err(Failure::Protocol(detail)) => Err(NetlinkError::Protocol {
                what: "removing an address",
                iface: self.iface(ifindex).await,
                detail,
            }),
        }
    }

    /// If `addr/prefix_len` is the primary address of its subnet on the interface and that
    /// subnet has secondary addresses, makes sure `promote_secondaries` is on, so that
    /// deleting it promotes a secondary instead of deleting them all
    /// (net/ipv4/devinet.c, `__inet_del_ifa`).
    async fn protect_secondaries(
        &self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        let addrs = self.addresses(ifindex).await?;
        let is_primary = addrs
            .iter()
            .any(|a| a.addr == IpAddr::V4(addr) && a.prefix_len == prefix_len && !a.secondary);
        let has_dependents = addrs.iter().any(|a| match a.addr {
            IpAddr::V4(other) => {
                other != addr
                    && a.secondary
                    && a.prefix_len == prefix_len
                    && same_subnet(other, addr, prefix_len)
            }
            IpAddr::V6(_) => false,
        });
        if !is_primary || !has_dependents {
            return Ok(());
        }
        let link = self
            .link_message(ifindex, "reading the link settings")
            .await?;
        if promote_secondaries(&link) == Some(true) {
            return Ok(());
        }
        let iface = self.iface(ifindex).await;
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        msg.attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(vec![
                AfSpecInet::Other(DefaultNla::new(
                    IFLA_INET_CONF | NLA_F_NESTED,
                    devconf_entry(IPV4_DEVCONF_PROMOTE_SECONDARIES, 1),
                )),
            ])]));
        match self
            .request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    iface = %iface,
                    addr = %addr,
                    "set net.ipv4.conf.<iface>.promote_secondaries=1 (as keepalived does) so \
                     that removing this primary address keeps the secondaries of its subnet"
                );
                Ok(())
            }
            Err(Failure::Errno(e)) => Err(NetlinkError::PromoteSecondaries {
                iface,
                addr: IpAddr::V4(addr),
                prefix_len,
                errno: Errno(e),
            }),
            Err(Failure::Protocol(detail)) => Err(NetlinkError::Protocol {
                what: "setting promote_secondaries",
                iface,
                detail,
            }),
        }
    }

    /// Link-state events of every interface of this network namespace, from a second
    /// connection subscribed to `RTNLGRP_LINK`. Events that happen after this returns are
    /// delivered. If the kernel drops events because the reader fell behind (ENOBUFS), the
    /// stream sends the current state of every link instead, so the reader is never left
    /// with a stale view. Dropping the stream closes the connection.
    pub async fn link_events(&self) -> Result<LinkEvents, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (conn, handle, messages) =
            rtnetlink::new_multicast_connection(&[rtnetlink::MulticastGroup::Link]).map_err(
                |e| NetlinkError::Socket {
                    purpose: "link events (RTNLGRP_LINK)",
                    errno: Errno(e.raw_os_error().unwrap_or(0)),
                },
            )?;
        let conn = runtime.spawn(conn);
        let (tx, rx) = tokio::sync::mpsc::channel(LINK_EVENT_BUFFER);
        let forward = runtime.spawn(forward_link_events(messages, handle, tx));
        Ok(LinkEvents {
            rx,
            _tasks: [AbortOnDrop(forward), AbortOnDrop(conn)],
        })
    }
}

impl Netlink {
    /// Like [`Netlink::link_events`], and removed addresses too: one connection subscribed
    /// to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and `RTNLGRP_IPV6_IFADDR`. After an overrun
    /// (ENOBUFS) every link is reported again; removed addresses lost then are not (the
    /// reader can compare with [`Netlink::addresses`]).
    pub async fn events(&self) -> Result<NetEvents, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (conn, handle, messages) = rtnetlink::new_multicast_connection(&[
            rtnetlink::MulticastGroup::Link,
            rtnetlink::MulticastGroup::Ipv4Ifaddr,
            rtnetlink::MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(|e| NetlinkError::Socket {
            purpose: "link and address events",
            errno: Errno(e.raw_os_error().unwrap_or(0)),
        })?;
        let conn = runtime.spawn(conn);
        let (tx, rx) = tokio::sync::mpsc::channel(LINK_EVENT_BUFFER);
        let forward = runtime.spawn(forward_events(messages, handle, tx));
        Ok(NetEvents {
            rx,
            _tasks: [AbortOnDrop(forward), AbortOnDrop(conn)],
        })
    }
}

/// The stream [`Netlink::events`] returns.
#[derive(Debug)]
pub struct NetEvents {
    rx: tokio::sync::mpsc::Receiver<NetEvent>,
    _tasks: [AbortOnDrop; 2],
}

impl NetEvents {
    /// The next event; `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<NetEvent> {
        self.rx.recv().await
    }
}

/// Turns the multicast messages into [`NetEvent`]s until the reader or the socket goes.
async fn forward_events(
    mut messages: Unsolicited,
    handle: rtnetlink::Handle,
    tx: tokio::sync::mpsc::Sender<NetEvent>,
) {
    while let Some((msg, _)) = messages.next().await {
        let events = match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                vec![NetEvent::Link(link_event(&l, false))]
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                vec![NetEvent::Link(link_event(&l, true))]
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                match addr_info(&a) {
                    Some(info) => vec![NetEvent::AddressAdded {
                        index: a.header.index,
                        addr: info.addr,
                    }],
                    None => continue,
                }
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(a)) => {
                match addr_info(&a) {
                    Some(info) => vec![NetEvent::AddressRemoved {
                        index: a.header.index,
                        addr: info.addr,
                        prefix_len: info.prefix_len,
                    }],
                    None => continue,
                }
            }
            NetlinkPayload::Overrun(_) => {
                tracing::warn!(
                    "link and address events were lost (netlink buffer full); re-reading every link"
                );
                dump_links(&handle)
                    .await
                    .into_iter()
                    .map(NetEvent::Link)
                    .collect()
            }
            _ => continue,
        };
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// The stream [`Netlink::link_events`] returns.
#[derive(Debug)]
pub struct LinkEvents {
    rx: tokio::sync::mpsc::Receiver<LinkEvent>,
    _tasks: [AbortOnDrop; 2],
}

impl LinkEvents {
    /// The next event; `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<LinkEvent> {
        self.rx.recv().await
    }

    /// The next event, waiting at most `limit`; `None` if none came in time or the
    /// connection has closed. Needs the runtime's timer (`enable_time`, as [`block_on`] and
    /// the agent's runtime have).
    pub async fn recv_timeout(&mut self, limit: Duration) -> Option<LinkEvent> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Stream for LinkEvents {
    type Item = LinkEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LinkEvent>> {
        self.rx.poll_recv(cx)
    }
}

type Unsolicited = futures::channel::mpsc::UnboundedReceiver<(
    NetlinkMessage<RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

/// Turns the multicast messages into [`LinkEvent`]s until the reader or the socket goes.
async fn forward_link_events(
    mut messages: Unsolicited,
    handle: rtnetlink::Handle,
    tx: tokio::sync::mpsc::Sender<LinkEvent>,
) {
    while let Some((msg, _)) = messages.next().await {
        let events = match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                vec![link_event(&l, false)]
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                vec![link_event(&l, true)]
            }
            NetlinkPayload::Overrun(_) => {
                tracing::warn!(
                    "link events were lost (netlink buffer full); re-reading every link"
                );
                dump_links(&handle).await
            }
            _ => continue,
        };
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// The current state of every link, as events (empty if the dump fails).
async fn dump_links(handle: &rtnetlink::Handle) -> Vec<LinkEvent> {
    let mut links = handle.link().get().execute();
    let mut out = Vec::new();
    while let Some(Ok(l)) = links.next().await {
        out.push(link_event(&l, false));
    }
    out
}

fn query_error(what: &'static str, iface: Iface, failure: Failure) -> NetlinkError {
    match failure {
        Failure::Errno(e) => NetlinkError::Query {
            what,
            iface,
            errno: Errno(e),
        },
        Failure::Protocol(detail) => NetlinkError::Protocol {
            what,
            iface,
            detail,
        },
    }
}

fn link_flags(l: &LinkMessage) -> (bool, bool) {
    (
        l.header.flags.contains(LinkFlags::Up),
        l.header.flags.contains(LinkFlags::Running),
    )
}

fn link_name(l: &LinkMessage) -> String {
    l.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn link_info(l: &LinkMessage) -> LinkInfo {
    let (up, running) = link_flags(l);
    let mut mac = MacAddr::ZERO;
    let mut mtu = 0;
    let mut kind = None;
    let (mut lower, mut vlan_id, mut master) = (None, None, None);
    for a in &l.attributes {
        match a {
            LinkAttribute::Address(bytes) => mac = MacAddr::from_slice(bytes).unwrap_or_default(),
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Link(i) if *i != 0 && *i != l.header.index => lower = Some(*i),
            LinkAttribute::Controller(i) if *i != 0 => master = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                use netlink_packet_route::link::{InfoData, InfoVlan, LinkInfo as Info};
                for i in infos {
                    match i {
                        Info::Kind(k) => kind = Some(k.to_string()),
                        Info::Data(InfoData::Vlan(v)) => {
                            vlan_id = v.iter().find_map(|x| match x {
                                InfoVlan::Id(id) => Some(*id),
                                _ => None,
                            })
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // IFLA_LINK of a link whose lower device is in another namespace names an index there.
    if l.attributes
        .iter()
        .any(|a| matches!(a, LinkAttribute::LinkNetNsId(_)))
    {
        lower = None;
    }
    LinkInfo {
        index: l.header.index,
        name: link_name(l),
        mac,
        up,
        running,
        mtu,
        kind,
        lower,
        vlan_id,
        master,
    }
}

fn link_event(l: &LinkMessage, removed: bool) -> LinkEvent {
    let (up, running) = if removed {
        (false, false)
    } else {
        link_flags(l)
    };
    LinkEvent {
        index: l.header.index,
        name: link_name(l),
        up,
        running,
        removed,
        mac: l.attributes.iter().find_map(|a| match a {
            LinkAttribute::Address(bytes) => MacAddr::from_slice(bytes),
            _ => None,
        }),
    }
}

/// `promote_secondaries` from a link dump's `IFLA_AF_SPEC` / `AF_INET` devconf.
fn promote_secondaries(l: &LinkMessage) -> Option<bool> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::AfSpecUnspec(specs) => specs.iter().find_map(|s| match s {
            AfSpecUnspec::Inet(inet) => inet.iter().find_map(|i| match i {
                AfSpecInet::DevConf(conf) => Some(conf.promote_secondaries != 0),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    })
}

/// One `IFLA_INET_CONF` entry: a 4-byte attribute header and a u32 value, native endian.
fn devconf_entry(kind: u16, value: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    out.extend_from_slice(&8u16.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&value.to_ne_bytes());
    out
}

fn addr_info(a: &AddressMessage) -> Option<AddrInfo> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    let mut proto = 0;
    let mut flags = u32::from(a.header.flags.bits());
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Protocol(p) => proto = u8::from(*p),
            // IFA_FLAGS carries all 32 bits; the header only the low 8.
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    Some(AddrInfo {
        addr: local.or(address)?,
        prefix_len: a.header.prefix_len,
        label,
        secondary: flags & AddressFlags::Secondary.bits() != 0,
        tentative: flags & AddressFlags::Tentative.bits() != 0,
        scope: u8::from(a.header.scope),
        proto,
    })
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix_len: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

/// Checks an IPv4 address label: at most 15 bytes (`IFNAMSIZ - 1`; the kernel refuses a
/// longer one with `ERANGE`), and either the interface name itself or `NAME:` followed by
/// anything (`eth0:vip`). The kernel stores any other label too (checked on 6.18), but the
/// tools that read labels (`ip`, `ifconfig`, keepalived) take `eth0:x` as an alias of
/// `eth0`, and `ip addr add ... label` refuses a label that does not start with the device
/// name; keepalived configurations follow that rule, so this module enforces it.
pub fn validate_label(iface: &str, label: &str) -> Result<(), VipProblem> {
    if label.len() > IFNAME_MAX {
        return Err(VipProblem::LabelTooLong {
            label: label.to_owned(),
            len: label.len(),
        });
    }
    let ok = label == iface
        || label
            .strip_prefix(iface)
            .is_some_and(|rest| rest.starts_with(':'));
    if ok {
        Ok(())
    } else {
        Err(VipProblem::LabelPrefix {
            label: label.to_owned(),
            iface: iface.to_owned(),
        })
    }
}

/// A scope as `ip` writes it: host, link, global (or universe), site, nowhere, or a number.
pub fn parse_scope(scope: &str) -> Result<u8, VipProblem> {
    Ok(match scope {
        "global" | "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        other => other
            .parse::<u8>()
            .map_err(|_| VipProblem::Scope(other.to_owned()))?,
    })
}

fn check_prefix(vip: &VirtualAddress) -> Result<(), VipProblem> {
    let max = match vip.addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if vip.prefix_len > max {
        return Err(VipProblem::PrefixLen {
            prefix_len: vip.prefix_len,
            max,
        });
    }
    Ok(())
}

/// The `RTM_NEWADDR` message for `vip` on interface `ifindex` called `iface`.
fn vip_add_message(
    ifindex: u32,
    iface: &str,
    vip: &VirtualAddress,
) -> Result<AddressMessage, VipProblem> {
    check_prefix(vip)?;
    let mut msg = AddressMessage::default();
    msg.header.index = ifindex;
    msg.header.prefix_len = vip.prefix_len;
    msg.header.scope = match &vip.scope {
        Some(s) => AddressScope::from(parse_scope(s)?),
        None => AddressScope::Universe,
    };
    msg.attributes.push(AddressAttribute::Local(vip.addr));
    msg.attributes.push(AddressAttribute::Address(vip.addr));
    msg.attributes
        .push(AddressAttribute::Protocol(VIP_PROTO.into()));
    match vip.addr {
        IpAddr::V4(_) => {
            msg.header.family = AddressFamily::Inet;
            if let Some(brd) = vip.brd {
                msg.attributes.push(AddressAttribute::Broadcast(brd));
            }
            if let Some(label) = &vip.label {
                validate_label(iface, label)?;
                msg.attributes.push(AddressAttribute::Label(label.clone()));
            }
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    Ok(msg)
}

/// The `RTM_DELADDR` message that matches exactly `vip.addr/vip.prefix_len`: with
/// `IFA_LOCAL` the kernel matches the address, with `IFA_ADDRESS` also the prefix length
/// (net/ipv4/devinet.c `inet_rtm_deladdr`; IPv6 always matches both).
fn vip_del_message(ifindex: u32, vip: &VirtualAddress) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = ifindex;
    msg.header.prefix_len = vip.prefix_len;
    msg.header.family = match vip.addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    msg.attributes.push(AddressAttribute::Local(vip.addr));
    msg.attributes.push(AddressAttribute::Address(vip.addr));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;

    fn vip(addr: &str, prefix_len: u8) -> VirtualAddress {
        VirtualAddress {
            addr: addr.parse().unwrap(),
            prefix_len,
            dev: None,
            label: None,
            scope: None,
            brd: None,
            location: Location {
                file: "test.conf".into(),
                line: 1,
                column: 1,
            },
        }
    }

    #[test]
    fn labels() {
        let table: &[(&str, &str, bool)] = &[
            ("eth0", "eth0", true),
            ("eth0", "eth0:vip", true),
            ("eth0", "eth0:", true),
            ("eth0", "eth0:0123456789", true),   // 15 bytes
            ("eth0", "eth0:01234567890", false), // 16 bytes
            ("eth0", "eth1:vip", false),
            ("eth0", "eth0vip", false),
            ("eth0", "eth00:vip", false),
            ("eth0", "vip", false),
            ("eth0", "", false),
            ("eth0.100", "eth0.100:a", true),
            ("eth0.100", "eth0:a", false),
        ];
        for &(iface, label, ok) in table {
            assert_eq!(validate_label(iface, label).is_ok(), ok, "{iface} {label}");
        }
        assert_eq!(
            validate_label("eth0", "eth0:01234567890"),
            Err(VipProblem::LabelTooLong {
                label: "eth0:01234567890".into(),
                len: 16
            })
        );
        assert_eq!(
            validate_label("eth0", "lan:vip").unwrap_err().to_string(),
            "label `lan:vip` must be the interface name `eth0` or start with `eth0:` (for \
             example `eth0:vip`): `ip`, `ifconfig` and keepalived read an IPv4 label as \
             `interface:alias`, and `ip` refuses any other form"
        );
    }

    #[test]
    fn scopes() {
        let table: &[(&str, Option<u8>)] = &[
            ("global", Some(0)),
            ("universe", Some(0)),
            ("site", Some(200)),
            ("link", Some(253)),
            ("host", Some(254)),
            ("nowhere", Some(255)),
            ("0", Some(0)),
            ("17", Some(17)),
            ("255", Some(255)),
            ("256", None),
            ("-1", None),
            ("lnk", None),
            ("", None),
        ];
        for &(s, want) in table {
            assert_eq!(parse_scope(s).ok(), want, "{s:?}");
        }
    }

    #[test]
    fn errno_display() {
        assert_eq!(
            Errno(libc::EPERM).to_string(),
            "Operation not permitted (EPERM)"
        );
        assert_eq!(Errno(libc::ENODEV).to_string(), "No such device (ENODEV)");
        assert_eq!(Errno(9999).to_string(), "unknown error (errno 9999)");
    }

    #[test]
    fn error_display() {
        let e = NetlinkError::AddAddress {
            iface: Iface::named(2, "eth0"),
            addr: "198.18.0.100".parse().unwrap(),
            prefix_len: 24,
            errno: Errno(libc::EPERM),
        };
        assert_eq!(
            e.to_string(),
            "adding 198.18.0.100/24 to eth0 (ifindex 2): Operation not permitted (EPERM)"
        );
        let e = NetlinkError::RemoveAddress {
            iface: Iface::index(999),
            addr: "2001:db8::5".parse().unwrap(),
            prefix_len: 64,
            errno: Errno(libc::ENODEV),
        };
        assert_eq!(
            e.to_string(),
            "removing 2001:db8::5/64 from ifindex 999: No such device (ENODEV)"
        );
        let e = NetlinkError::InvalidVip {
            iface: Iface::named(3, "eth1"),
            addr: "198.18.0.100".parse().unwrap(),
            prefix_len: 24,
            problem: VipProblem::Scope("lnk".into()),
        };
        assert_eq!(
            e.to_string(),
            "cannot add 198.18.0.100/24 to eth1 (ifindex 3): unknown scope `lnk`: expected \
             host, link, global, site, nowhere or a number 0-255"
        );
        let e = NetlinkError::LinkByName {
            name: "eth9".into(),
            errno: Errno(libc::ENODEV),
        };
        assert_eq!(
            e.to_string(),
            "looking up interface eth9: No such device (ENODEV)"
        );
        let e = NetlinkError::Query {
            what: "reading the addresses",
            iface: Iface::named(2, "eth0"),
            errno: Errno(libc::EACCES),
        };
        assert_eq!(
            e.to_string(),
            "reading the addresses of eth0 (ifindex 2): Permission denied (EACCES)"
        );
    }

    #[test]
    fn add_message_ipv4() {
        let mut v = vip("198.18.0.100", 24);
        v.label = Some("eth0:vip".into());
        v.scope = Some("link".into());
        v.brd = Some(Ipv4Addr::new(198, 18, 0, 255));
        let m = vip_add_message(2, "eth0", &v).unwrap();
        assert_eq!(m.header.index, 2);
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.prefix_len, 24);
        assert_eq!(m.header.scope, AddressScope::Link);
        let a: IpAddr = "198.18.0.100".parse().unwrap();
        assert_eq!(
            m.attributes,
            vec![
                AddressAttribute::Local(a),
                AddressAttribute::Address(a),
                AddressAttribute::Protocol(VIP_PROTO.into()),
                AddressAttribute::Broadcast(Ipv4Addr::new(198, 18, 0, 255)),
                AddressAttribute::Label("eth0:vip".into()),
            ]
        );
        // No brd written: none sent (unlike rtnetlink's builder, which always adds one).
        let m = vip_add_message(2, "eth0", &vip("198.18.0.100", 24)).unwrap();
        assert_eq!(m.attributes.len(), 3);
        assert_eq!(m.header.scope, AddressScope::Universe);
    }

    #[test]
    fn add_message_errors() {
        let mut v = vip("198.18.0.100", 24);
        v.label = Some("eth1:vip".into());
        assert!(matches!(
            vip_add_message(2, "eth0", &v),
            Err(VipProblem::LabelPrefix { .. })
        ));
        let mut v = vip("198.18.0.100", 24);
        v.scope = Some("galaxy".into());
        assert_eq!(
            vip_add_message(2, "eth0", &v),
            Err(VipProblem::Scope("galaxy".into()))
        );
        assert_eq!(
            vip_add_message(2, "eth0", &vip("198.18.0.100", 33)),
            Err(VipProblem::PrefixLen {
                prefix_len: 33,
                max: 32
            })
        );
        assert!(vip_add_message(2, "eth0", &vip("2001:db8::1", 128)).is_ok());
        assert!(vip_add_message(2, "eth0", &vip("2001:db8::1", 129)).is_err());
    }

    #[test]
    fn add_message_ipv6_has_nodad_and_no_label() {
        let mut v = vip("2001:db8::100", 64);
        v.label = Some("whatever".into());
        let m = vip_add_message(2, "eth0", &v).unwrap();
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert_eq!(m.header.flags, AddressHeaderFlags::Nodad);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Label(_))));
    }

    #[test]
    fn delete_message_names_address_and_prefix() {
        let m = vip_del_message(7, &vip("198.18.0.100", 24));
        let a: IpAddr = "198.18.0.100".parse().unwrap();
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.prefix_len, 24);
        assert_eq!(
            m.attributes,
            vec![AddressAttribute::Local(a), AddressAttribute::Address(a)]
        );
    }

    #[test]
    fn subnets_and_devconf() {
        let a = Ipv4Addr::new(198, 18, 0, 1);
        assert!(same_subnet(a, Ipv4Addr::new(198, 18, 0, 200), 24));
        assert!(!same_subnet(a, Ipv4Addr::new(198, 18, 1, 1), 24));
        assert!(same_subnet(a, Ipv4Addr::new(10, 0, 0, 0), 0));
        assert!(!same_subnet(a, Ipv4Addr::new(198, 18, 0, 2), 32));
        let e = devconf_entry(IPV4_DEVCONF_PROMOTE_SECONDARIES, 1);
        assert_eq!(e.len(), 8);
        assert_eq!(u16::from_ne_bytes([e[0], e[1]]), 8);
        assert_eq!(u16::from_ne_bytes([e[2], e[3]]), 20);
        assert_eq!(u32::from_ne_bytes([e[4], e[5], e[6], e[7]]), 1);
    }
}
