//! A multicast group membership held on an interface that sends no adverts: the base
//! interface of a `use_vmac` macvlan, whose instance's adverts (and advert socket) are on
//! the macvlan.
//!
//! Adverts are received by XDP on the base interface, before any socket. But a NIC that
//! filters multicast in hardware only passes 01:00:5e:00:00:12 (224.0.0.18) or
//! 33:33:00:00:00:12 (ff02::12) frames once someone joined the group on it. The advert
//! socket joins on the macvlan, and a down macvlan (a Backup's) is not in its base
//! interface's filters: without this membership a Backup on such a NIC would not hear the
//! Master. keepalived's receive socket joins on the base interface.
use std::net::IpAddr;

use socket2::{Domain, Socket, Type};

use super::{attach_drop_all, errno_of, TxError, RCVBUF_REQUEST};

/// A UDP socket joined to one group on one interface. It is never bound to a port, so the
/// kernel delivers nothing to it (a drop-all filter and the smallest receive buffer
/// besides); it only holds the membership, which goes when it is dropped.
#[derive(Debug)]
pub struct GroupMember {
    _socket: Socket,
    iface: String,
    ifindex: u32,
    group: IpAddr,
}

impl GroupMember {
    /// Joins `group` (IPv4 or IPv6) on `iface` (index `ifindex`).
    pub fn join(iface: &str, ifindex: u32, group: IpAddr) -> Result<GroupMember, TxError> {
        let fail = |step: &'static str| {
            move |e: std::io::Error| TxError::Open {
                iface: iface.to_owned(),
                src: group,
                step,
                errno: errno_of(&e),
            }
        };
        let domain = match group {
            IpAddr::V4(_) => Domain::IPV4,
            IpAddr::V6(_) => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::DGRAM.nonblocking(), None)
            .map_err(fail("socket(SOCK_DGRAM) for a group membership"))?;
        attach_drop_all(&socket).map_err(fail("setsockopt(SO_ATTACH_FILTER)"))?;
        socket
            .set_recv_buffer_size(RCVBUF_REQUEST)
            .map_err(fail("setsockopt(SO_RCVBUF)"))?;
        match group {
            IpAddr::V4(g) => socket
                .join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(ifindex))
                .map_err(fail("setsockopt(IP_ADD_MEMBERSHIP) on the base interface"))?,
            IpAddr::V6(g) => socket.join_multicast_v6(&g, ifindex).map_err(fail(
                "setsockopt(IPV6_ADD_MEMBERSHIP) on the base interface",
            ))?,
        }
        Ok(GroupMember {
            _socket: socket,
            iface: iface.to_owned(),
            ifindex,
            group,
        })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The group joined.
    pub fn group(&self) -> IpAddr {
        self.group
    }
}
