//! The links of `use_vmac`: a private-mode macvlan on the instance's interface with the
//! virtual router MAC, created down; up only while the instance is Master (see
//! `runtime::vmac`). Every macvlan this agent makes carries an `IFLA_IFALIAS` starting with
//! [`ALIAS_PREFIX`], which is how a later run recognises the ones a killed run left.
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkMessage, MacVlanMode,
};
use rtnetlink::{
    packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST},
    LinkMacVlan, LinkUnspec,
};

use super::{query_error, Errno, Failure, Iface, LinkInfo, Netlink, NetlinkError};
use crate::wire::MacAddr;
use netlink_packet_route::RouteNetlinkMessage;

/// The start of the `ifalias` of every macvlan this agent creates (`ip -d link` shows it
/// as `alias vrrp-agent vmac ...`).
pub const ALIAS_PREFIX: &str = "vrrp-agent vmac";

/// A macvlan as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacvlanInfo {
    pub link: LinkInfo,
    /// `IFLA_IFALIAS`, if set.
    pub alias: Option<String>,
}

impl Netlink {
    /// Creates macvlan `name` on `parent` in private mode with `mac`, administratively down,
    /// then gives it `alias`; returns its ifindex.
    pub async fn create_macvlan(
        &self,
        name: &str,
        parent: u32,
        mac: MacAddr,
        alias: &str,
    ) -> Result<u32, NetlinkError> {
        let msg = LinkMacVlan::new(name, parent, MacVlanMode::Private)
            .address(mac.0.to_vec())
            .down()
            .build();
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
        .map_err(|f| query_error("creating the macvlan", Iface::named(0, name), f))?;
        let index = self.link(name).await?.index;
        // The kernel ignores IFLA_IFALIAS in a create request.
        self.set_link_alias(index, alias).await?;
        Ok(index)
    }

    /// `ip link set dev INDEX alias ALIAS`.
    pub async fn set_link_alias(&self, index: u32, alias: &str) -> Result<(), NetlinkError> {
        let msg = LinkUnspec::new_with_index(index).alias(alias).build();
        self.set_link(index, msg, "setting the alias").await
    }

    /// `ip link set dev INDEX up|down`.
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let b = LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.set_link(index, msg, "setting the link up/down").await
    }

    /// `ip link set dev INDEX addrgenmode none`: the kernel generates no IPv6 address (no
    /// EUI-64 link-local from the virtual MAC, the same on every node) when it comes up.
    pub async fn set_addrgenmode_none(&self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]));
        self.set_link(index, msg, "setting addrgenmode none").await
    }

    async fn set_link(
        &self,
        index: u32,
        msg: LinkMessage,
        what: &'static str,
    ) -> Result<(), NetlinkError> {
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK)
            .await
            .map(drop)
            .map_err(|f| query_error(what, Iface::index(index), f))
    }

    /// `ip link del dev INDEX`. Already gone (`ENODEV`) is success.
    pub async fn delete_link(&self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self
            .request(RouteNetlinkMessage::DelLink(msg), NLM_F_REQUEST | NLM_F_ACK)
            .await
        {
            Ok(_) | Err(Failure::Errno(libc::ENODEV)) => Ok(()),
            Err(f) => Err(query_error("deleting the link", Iface::index(index), f)),
        }
    }

    /// Every macvlan of this network namespace, with its alias.
    pub async fn macvlans(&self) -> Result<Vec<MacvlanInfo>, NetlinkError> {
        let replies = self
            .request(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_REQUEST | rtnetlink::packet_core::NLM_F_DUMP,
            )
            .await
            .map_err(|f| query_error("listing the links", Iface::index(0), f))?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .map(|l| MacvlanInfo {
                link: super::link_info(l),
                alias: l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfAlias(s) => Some(s.clone()),
                    _ => None,
                }),
            })
            .filter(|m| m.link.kind.as_deref() == Some("macvlan"))
            .collect())
    }
}

/// `ENODEV` of a failed netlink call (the link is gone).
pub fn is_enodev(e: &NetlinkError) -> bool {
    matches!(
        e,
        NetlinkError::Query {
            errno: Errno(libc::ENODEV),
            ..
        }
    )
}
