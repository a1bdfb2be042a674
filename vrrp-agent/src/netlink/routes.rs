//! `virtual_routes` and `virtual_rules`: added with the VIPs when an instance becomes Master,
//! removed when it leaves Master, as keepalived 2.2.7 does (`vrrp_state_become_master`:
//! addresses, then routes, then rules; `vrrp_restore_interface`: rules, then routes, then
//! addresses). keepalived keeps none of them in Backup or FAULT.
//!
//! Unlike keepalived, which deletes every configured route on leaving Master, only what
//! this run added is removed: a route or rule that was already there (`EEXIST`) stays, so an
//! administrator's identical static route survives a failover. A failed add is logged and
//! does not hold the election back (keepalived logs it too).
//!
//! A tracked route's `dev` (a rule's `iif`/`oif`) is tracked like `track_interface` with
//! weight 0 (see `track::weights`). Not done (keepalived does it for routes and rules
//! without `no_track`): watching for them being deleted by someone else (keepalived then
//! makes the Master step down), and removing the configured ones left over from an earlier
//! run at start-up.
use netlink_packet_route::{
    route::{
        RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol,
        RouteScope, RouteType,
    },
    rule::{RuleAction as NlRuleAction, RuleAttribute, RuleFlags, RuleHeader, RuleMessage},
    AddressFamily, RouteNetlinkMessage,
};
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};

use super::{Failure, Netlink};
use crate::config::{Family, RuleAction, VirtualRoute, VirtualRule};

/// `RT_SCOPE_LINK`, `RT_SCOPE_NOWHERE`.
const SCOPE_LINK: u8 = 253;
const SCOPE_NOWHERE: u8 = 255;
/// `RTN_UNICAST`.
const RTN_UNICAST: u8 = 1;

/// A failed route or rule request.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("{what}: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel { what: String, errno: i32 },
    #[error("{what}: {detail}")]
    Protocol { what: String, detail: String },
    #[error("{what}: interface {dev} not found")]
    NoDevice { what: String, dev: String },
}

fn family(f: Family) -> AddressFamily {
    match f {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

/// `ip route` as text, for logs.
pub fn describe_route(r: &VirtualRoute) -> String {
    let mut s = match r.kind {
        6 => "blackhole ".to_owned(),
        7 => "unreachable ".to_owned(),
        8 => "prohibit ".to_owned(),
        9 => "throw ".to_owned(),
        _ => String::new(),
    };
    s.push_str(&format!("{}/{}", r.dst, r.dst_len));
    if let Some(v) = r.via {
        s.push_str(&format!(" via {v}"));
    }
    if let Some(d) = &r.dev {
        s.push_str(&format!(" dev {d}"));
    }
    if r.table != 254 {
        s.push_str(&format!(" table {}", r.table));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    s
}

/// `ip rule` as text, for logs.
pub fn describe_rule(r: &VirtualRule) -> String {
    let mut s = format!("priority {}", r.priority);
    if r.invert {
        s.push_str(" not");
    }
    if let Some((a, l)) = r.from {
        s.push_str(&format!(" from {a}/{l}"));
    }
    if let Some((a, l)) = r.to {
        s.push_str(&format!(" to {a}/{l}"));
    }
    match r.action {
        RuleAction::Table(t) => s.push_str(&format!(" table {t}")),
        RuleAction::Goto(t) => s.push_str(&format!(" goto {t}")),
        RuleAction::Nop => s.push_str(" nop"),
        RuleAction::Blackhole => s.push_str(" blackhole"),
        RuleAction::Unreachable => s.push_str(" unreachable"),
        RuleAction::Prohibit => s.push_str(" prohibit"),
    }
    s
}

/// The `RTM_NEWROUTE` / `RTM_DELROUTE` body for `r` (`oif`: its `dev`'s index).
pub fn route_message(r: &VirtualRoute, oif: Option<u32>, delete: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    let h: &mut RouteHeader = &mut m.header;
    h.address_family = family(r.family);
    h.destination_prefix_length = r.dst_len;
    h.table = u8::try_from(r.table).unwrap_or(0);
    h.protocol = RouteProtocol::from(r.protocol);
    // As `ip route`: a delete matches any scope; a unicast route without a gateway is a
    // link route.
    let scope = if delete {
        SCOPE_NOWHERE
    } else {
        r.scope
            .unwrap_or(if r.kind == RTN_UNICAST && r.via.is_none() {
                SCOPE_LINK
            } else {
                0
            })
    };
    h.scope = RouteScope::from(scope);
    h.kind = RouteType::from(r.kind);
    if r.onlink {
        h.flags = RouteFlags::Onlink;
    }
    let a = &mut m.attributes;
    if r.dst_len > 0 {
        a.push(RouteAttribute::Destination(RouteAddress::from(r.dst)));
    }
    if let Some(v) = r.via {
        a.push(RouteAttribute::Gateway(RouteAddress::from(v)));
    }
    if let Some(i) = oif {
        a.push(RouteAttribute::Oif(i));
    }
    if let Some(s) = r.src {
        a.push(RouteAttribute::PrefSource(RouteAddress::from(s)));
    }
    if let Some(p) = r.metric {
        a.push(RouteAttribute::Priority(p));
    }
    a.push(RouteAttribute::Table(r.table));
    m
}

/// The `RTM_NEWRULE` / `RTM_DELRULE` body for `r`.
pub fn rule_message(r: &VirtualRule) -> RuleMessage {
    let mut m = RuleMessage::default();
    let h: &mut RuleHeader = &mut m.header;
    h.family = family(r.family);
    h.src_len = r.from.map_or(0, |(_, l)| l);
    h.dst_len = r.to.map_or(0, |(_, l)| l);
    h.action = match r.action {
        RuleAction::Table(_) => NlRuleAction::ToTable,
        RuleAction::Goto(_) => NlRuleAction::Goto,
        RuleAction::Nop => NlRuleAction::Nop,
        RuleAction::Blackhole => NlRuleAction::Blackhole,
        RuleAction::Unreachable => NlRuleAction::Unreachable,
        RuleAction::Prohibit => NlRuleAction::Prohibit,
    };
    if r.invert {
        h.flags = RuleFlags::Invert;
    }
    let a = &mut m.attributes;
    if let RuleAction::Table(t) = r.action {
        h.table = u8::try_from(t).unwrap_or(0);
        a.push(RuleAttribute::Table(t));
    }
    if let RuleAction::Goto(t) = r.action {
        a.push(RuleAttribute::Goto(t));
    }
    if let Some((addr, _)) = r.from {
        a.push(RuleAttribute::Source(addr));
    }
    if let Some((addr, _)) = r.to {
        a.push(RuleAttribute::Destination(addr));
    }
    a.push(RuleAttribute::Priority(r.priority));
    if let Some((mark, mask)) = r.fwmark {
        a.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            a.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(i) = &r.iif {
        a.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        a.push(RuleAttribute::Oifname(o.clone()));
    }
    if r.protocol != 0 {
        a.push(RuleAttribute::Protocol(RouteProtocol::from(r.protocol)));
    }
    m
}

impl Netlink {
    async fn oif(&self, r: &VirtualRoute, what: &str) -> Result<Option<u32>, RoutingError> {
        match &r.dev {
            None => Ok(None),
            Some(dev) => match self.link(dev).await {
                Ok(l) => Ok(Some(l.index)),
                Err(_) => Err(RoutingError::NoDevice {
                    what: what.to_owned(),
                    dev: dev.clone(),
                }),
            },
        }
    }

    /// Adds `r`; `Ok(true)` if this call added it, `Ok(false)` if it was there already.
    pub async fn add_route(&self, r: &VirtualRoute) -> Result<bool, RoutingError> {
        let what = format!("adding route {}", describe_route(r));
        let oif = self.oif(r, &what).await?;
        let msg = RouteNetlinkMessage::NewRoute(route_message(r, oif, false));
        outcome(
            self.request(msg, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
                .await,
            what,
            libc::EEXIST,
        )
    }

    /// Removes `r`; not there (`ESRCH`, or its interface gone) is success.
    pub async fn remove_route(&self, r: &VirtualRoute) -> Result<(), RoutingError> {
        let what = format!("removing route {}", describe_route(r));
        let oif = match self.oif(r, &what).await {
            Ok(o) => o,
            // The interface is gone, and its routes with it.
            Err(RoutingError::NoDevice { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let msg = RouteNetlinkMessage::DelRoute(route_message(r, oif, true));
        outcome(
            self.request(msg, NLM_F_REQUEST | NLM_F_ACK).await,
            what,
            libc::ESRCH,
        )
        .map(drop)
    }

    /// Adds `r`; `Ok(true)` if this call added it, `Ok(false)` if it was there already.
    pub async fn add_rule(&self, r: &VirtualRule) -> Result<bool, RoutingError> {
        let what = format!("adding rule {}", describe_rule(r));
        let msg = RouteNetlinkMessage::NewRule(rule_message(r));
        outcome(
            self.request(msg, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
                .await,
            what,
            libc::EEXIST,
        )
    }

    /// Removes `r`; not there (`ENOENT`) is success.
    pub async fn remove_rule(&self, r: &VirtualRule) -> Result<(), RoutingError> {
        let what = format!("removing rule {}", describe_rule(r));
        let msg = RouteNetlinkMessage::DelRule(rule_message(r));
        outcome(
            self.request(msg, NLM_F_REQUEST | NLM_F_ACK).await,
            what,
            libc::ENOENT,
        )
        .map(drop)
    }
}

/// `Ok(true)`: done; `Ok(false)`: the kernel answered `benign` (already there / not there).
fn outcome(
    r: Result<Vec<RouteNetlinkMessage>, Failure>,
    what: String,
    benign: i32,
) -> Result<bool, RoutingError> {
    match r {
        Ok(_) => Ok(true),
        Err(Failure::Errno(e)) if e == benign => Ok(false),
        Err(Failure::Errno(errno)) => Err(RoutingError::Kernel { what, errno }),
        Err(Failure::Protocol(detail)) => Err(RoutingError::Protocol { what, detail }),
    }
}

/// Which of an instance's routes and rules this run added (only those are removed).
#[derive(Debug, Clone, Default)]
pub struct VirtualRouting {
    routes: Vec<bool>,
    rules: Vec<bool>,
}

impl VirtualRouting {
    /// Adds `routes` then `rules` (after the VIPs); failures are logged, the rest goes on.
    pub async fn install(
        &mut self,
        nl: &Netlink,
        instance: &str,
        routes: &[VirtualRoute],
        rules: &[VirtualRule],
    ) {
        self.routes.resize(routes.len(), false);
        self.rules.resize(rules.len(), false);
        for (r, added) in routes.iter().zip(self.routes.iter_mut()) {
            match nl.add_route(r).await {
                Ok(true) => *added = true,
                Ok(false) if !*added => tracing::info!(instance, route = %describe_route(r),
                    "virtual route already present: it stays when the instance leaves Master"),
                Ok(false) => {}
                Err(e) => tracing::error!(instance, "{e}"),
            }
        }
        for (r, added) in rules.iter().zip(self.rules.iter_mut()) {
            match nl.add_rule(r).await {
                Ok(true) => *added = true,
                Ok(false) if !*added => tracing::info!(instance, rule = %describe_rule(r),
                    "virtual rule already present: it stays when the instance leaves Master"),
                Ok(false) => {}
                Err(e) => tracing::error!(instance, "{e}"),
            }
        }
        if !routes.is_empty() || !rules.is_empty() {
            tracing::info!(
                instance,
                routes = self.routes.iter().filter(|a| **a).count(),
                rules = self.rules.iter().filter(|a| **a).count(),
                "virtual routes and rules added"
            );
        }
    }

    /// Removes the rules, then the routes, that [`VirtualRouting::install`] added.
    pub async fn remove(
        &mut self,
        nl: &Netlink,
        instance: &str,
        routes: &[VirtualRoute],
        rules: &[VirtualRule],
    ) {
        let mut removed = 0;
        for (r, added) in rules.iter().zip(self.rules.iter_mut()) {
            if std::mem::take(added) {
                match nl.remove_rule(r).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::error!(instance, "{e}"),
                }
            }
        }
        for (r, added) in routes.iter().zip(self.routes.iter_mut()) {
            if std::mem::take(added) {
                match nl.remove_route(r).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::error!(instance, "{e}"),
                }
            }
        }
        if removed > 0 {
            tracing::info!(instance, removed, "virtual routes and rules removed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use netlink_packet_route::{route::RouteAttribute, rule::RuleAttribute};

    use super::*;
    use crate::config::parse_str;

    fn instance(routes: &str, rules: &str) -> crate::config::Instance {
        let text = format!(
            "vrrp_instance VI {{\n interface lo0x\n virtual_router_id 1\n virtual_ipaddress {{ \
             198.18.0.1 }}\n virtual_routes {{\n{routes}\n }}\n virtual_rules {{\n{rules}\n }}\n}}\n"
        );
        parse_str(&text, Path::new("/x/k.conf"))
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    #[test]
    fn route_messages() {
        let i = instance(
            "198.18.5.0/24 via 198.18.0.1 dev lo0x table 100 metric 5\n198.18.6.0/24 dev lo0x\n\
             blackhole 198.18.7.0/24 table 1000",
            "",
        );
        let m = route_message(&i.virtual_routes[0], Some(7), false);
        assert_eq!(m.header.destination_prefix_length, 24);
        assert_eq!(
            (m.header.table, m.header.scope),
            (100, RouteScope::Universe)
        );
        assert_eq!(m.header.protocol, RouteProtocol::from(18));
        assert_eq!(m.header.kind, RouteType::Unicast);
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(m.attributes.contains(&RouteAttribute::Priority(5)));
        assert!(m
            .attributes
            .contains(&RouteAttribute::Gateway(RouteAddress::Inet(
                "198.18.0.1".parse().unwrap()
            ))));
        // No gateway: a link route; a delete matches any scope.
        let m = route_message(&i.virtual_routes[1], Some(7), false);
        assert_eq!(m.header.scope, RouteScope::Link);
        let m = route_message(&i.virtual_routes[1], Some(7), true);
        assert_eq!(m.header.scope, RouteScope::NoWhere);
        // Tables above 255 travel in RTA_TABLE only.
        let m = route_message(&i.virtual_routes[2], None, false);
        assert_eq!((m.header.table, m.header.kind), (0, RouteType::BlackHole));
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
    }

    #[test]
    fn rule_messages() {
        let i = instance(
            "",
            "from 198.18.0.0/24 table 100 priority 100\nnot to 2001:db8::/32 iif lo0x blackhole priority 9",
        );
        let m = rule_message(&i.virtual_rules[0]);
        assert_eq!((m.header.src_len, m.header.table), (24, 100));
        assert_eq!(m.header.action, NlRuleAction::ToTable);
        assert!(m.attributes.contains(&RuleAttribute::Priority(100)));
        assert!(m
            .attributes
            .contains(&RuleAttribute::Source("198.18.0.0".parse().unwrap())));
        let m = rule_message(&i.virtual_rules[1]);
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert_eq!(m.header.flags, RuleFlags::Invert);
        assert_eq!(m.header.action, NlRuleAction::Blackhole);
        assert!(m
            .attributes
            .contains(&RuleAttribute::Iifname("lo0x".into())));
        assert_eq!(
            describe_rule(&i.virtual_rules[1]),
            "priority 9 not to 2001:db8::/32 blackhole"
        );
    }
}
