//! `virtual_routes` / `virtual_rules` lines, as keepalived 2.2.7 reads them
//! (`vrrp_iproute.c` `alloc_route`, `vrrp_iprule.c` `alloc_rule`): `ip route` / `ip rule`
//! syntax. The options this project does not implement (route metrics such as `mtu`,
//! `encap`, `nexthop`, `vrf`; rule `tos`, `realms`, `uidrange`, ports...) are errors that
//! say so, never silently dropped. A child module of the builder, so it uses its helpers.
use std::net::IpAddr;

use super::{did_you_mean, Block, Builder, InstanceDraft, Stmt, Word};
use crate::config::{Family, RuleAction, VirtualRoute, VirtualRule};

/// `RTPROT_KEEPALIVED`: keepalived's protocol on the routes and rules it tracks.
pub(crate) const RTPROT_KEEPALIVED: u8 = 18;
/// `RT_TABLE_MAIN`.
const TABLE_MAIN: u32 = 254;
/// keepalived's first automatic rule priority (`RULE_START_PRIORITY`).
const RULE_START_PRIORITY: u32 = 16384;

const ROUTE_KEYWORDS: &[&str] = &[
    "inet",
    "inet6",
    "src",
    "via",
    "gw",
    "dev",
    "oif",
    "table",
    "protocol",
    "scope",
    "metric",
    "priority",
    "preference",
    "onlink",
    "no_track",
    "to",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "unicast",
];
/// Route options keepalived has and this project does not (yet).
const ROUTE_UNSUPPORTED: &[&str] = &[
    "from",
    "as",
    "tos",
    "dsfield",
    "encap",
    "expires",
    "mtu",
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "pref",
    "ttl-propagate",
    "fastopen_no_cookie",
    "add",
    "prepend",
    "append",
    "or",
    "nexthop",
    "track_group",
    "vrf",
];
const RULE_KEYWORDS: &[&str] = &[
    "inet",
    "inet6",
    "from",
    "to",
    "table",
    "lookup",
    "preference",
    "order",
    "priority",
    "fwmark",
    "dev",
    "iif",
    "oif",
    "protocol",
    "no_track",
    "not",
    "type",
    "goto",
    "nop",
    "blackhole",
    "unreachable",
    "prohibit",
];
const RULE_UNSUPPORTED: &[&str] = &[
    "tos",
    "dsfield",
    "realms",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "tunnel-id",
    "uidrange",
    "l3mdev",
    "ipproto",
    "sport",
    "dport",
    "track_group",
];

/// `ADDR[/LEN]` or `default`; `family` is the family known so far.
fn prefix(text: &str, family: Option<Family>) -> Option<(IpAddr, u8)> {
    if text == "default" || text == "all" || text == "any" {
        return Some(match family {
            Some(Family::V6) => (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
            _ => (IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
        });
    }
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

/// A table number or name (`main`, `local`, `default`, or one of /etc/iproute2/rt_tables).
fn table(text: &str) -> Option<u32> {
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    match text {
        "main" => return Some(TABLE_MAIN),
        "local" => return Some(255),
        "default" => return Some(253),
        _ => {}
    }
    let file = std::fs::read_to_string("/etc/iproute2/rt_tables").ok()?;
    file.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse::<u32>().ok()?, w.next()?))
        })
        .find(|(_, name)| *name == text)
        .map(|(n, _)| n)
}

fn protocol(text: &str) -> Option<u8> {
    text.parse::<u8>().ok().or(match text {
        "unspec" => Some(0),
        "redirect" => Some(1),
        "kernel" => Some(2),
        "boot" => Some(3),
        "static" => Some(4),
        "keepalived" => Some(RTPROT_KEEPALIVED),
        _ => None,
    })
}

fn scope(text: &str) -> Option<u8> {
    text.parse::<u8>().ok().or(match text {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => None,
    })
}

fn route_type(text: &str) -> Option<u8> {
    match text {
        "unicast" => Some(1),
        "blackhole" => Some(6),
        "unreachable" => Some(7),
        "prohibit" => Some(8),
        "throw" => Some(9),
        _ => None,
    }
}

impl Builder<'_> {
    pub(super) fn virtual_routing(&mut self, kw: &str, block: &Block, d: &mut InstanceDraft) {
        for line in &block.stmts {
            self.reject_block(line);
            if kw == "virtual_routes" {
                if let Some(r) = self.route(line) {
                    d.virtual_routes.push(r);
                }
            } else if let Some(r) = self.rule(line) {
                d.virtual_rules.push(r);
            }
        }
    }

    /// Sets the family of a line, or reports a mix of IPv4 and IPv6.
    fn family(&mut self, family: &mut Option<Family>, addr: IpAddr, w: &Word, what: &str) -> bool {
        let f = Family::of(&addr);
        match family {
            Some(known) if *known != f => {
                self.diags.error(
                    &w.pos,
                    format!(
                        "`{}` is {f} but this {what} is {known}: a {what} is one family",
                        w.text
                    ),
                );
                false
            }
            _ => {
                *family = Some(f);
                true
            }
        }
    }

    /// An `inet` / `inet6` word: sets the family of a line, or reports that it contradicts the
    /// line's addresses (`what`: route or rule).
    fn family_word(&mut self, w: &Word, family: &mut Option<Family>, what: &str) -> Option<()> {
        let f = if w.text == "inet" {
            Family::V4
        } else {
            Family::V6
        };
        if family.is_some_and(|k| k != f) {
            self.diags.error(
                &w.pos,
                format!("`{}` does not match the {what}'s addresses", w.text),
            );
            return None;
        }
        *family = Some(f);
        Some(())
    }

    /// The value after `words[i]`, or an error.
    fn next_value<'w>(&mut self, words: &'w [&'w Word], i: usize, what: &str) -> Option<&'w Word> {
        let v = words.get(i + 1).copied();
        if v.is_none() {
            self.diags.error(
                &words[i].pos,
                format!("`{}` needs a value: {what}", words[i].text),
            );
        }
        v
    }

    fn unsupported_option(&mut self, w: &Word, what: &str) {
        self.diags.error(
            &w.pos,
            format!(
                "`{}` in {what} is a keepalived option this project does not support (yet): \
                 remove it, or keep this configuration on keepalived",
                w.text
            ),
        );
    }

    fn route(&mut self, line: &Stmt) -> Option<VirtualRoute> {
        let words: Vec<&Word> = line.words.iter().collect();
        let mut family: Option<Family> = None;
        let mut r = VirtualRoute {
            family: Family::V4,
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst_len: 0,
            kind: 1,
            via: None,
            dev: None,
            src: None,
            table: TABLE_MAIN,
            metric: None,
            scope: None,
            protocol: 0,
            onlink: false,
            no_track: false,
            location: line.pos().location(),
        };
        let mut dst = false;
        let mut protocol_set = false;
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            match w.text.as_str() {
                "inet" | "inet6" => self.family_word(w, &mut family, "route")?,
                "src" | "via" | "gw" => {
                    let mut v = self.next_value(&words, i, "an address")?;
                    if (w.text == "via" || w.text == "gw")
                        && (v.text == "inet" || v.text == "inet6")
                    {
                        i += 1;
                        v = self.next_value(&words, i, "an address")?;
                    }
                    let Ok(addr) = v.text.parse::<IpAddr>() else {
                        self.diags.error(
                            &v.pos,
                            format!("expected an address after `{}`, found `{}`", w.text, v.text),
                        );
                        return None;
                    };
                    if !self.family(&mut family, addr, v, "route") {
                        return None;
                    }
                    if w.text == "src" {
                        r.src = Some(addr);
                    } else {
                        if w.text == "gw" {
                            self.diags.warn(&w.pos, "`gw` for routes is deprecated (keepalived says so too): write `via`");
                        }
                        r.via = Some(addr);
                    }
                    i += 1;
                }
                "dev" | "oif" => {
                    let v = self.next_value(&words, i, "an interface name")?;
                    if !self.ifname(v, "dev") {
                        return None;
                    }
                    self.host_interface(v, "a virtual route".to_owned(), false);
                    r.dev = Some(v.text.clone());
                    i += 1;
                }
                "table" => {
                    let v = self.next_value(&words, i, "a table number or name")?;
                    let Some(t) = table(&v.text) else {
                        self.diags.error(&v.pos, format!("routing table `{}` not found: give its number, or main, local or default (or a name from /etc/iproute2/rt_tables)", v.text));
                        return None;
                    };
                    r.table = t;
                    i += 1;
                }
                "protocol" => {
                    let v = self.next_value(&words, i, "a protocol number or name")?;
                    let Some(p) = protocol(&v.text) else {
                        self.diags.error(&v.pos, format!("unknown route protocol `{}`: give a number 0 to 255 or kernel, boot, static, keepalived", v.text));
                        return None;
                    };
                    r.protocol = p;
                    protocol_set = true;
                    i += 1;
                }
                "scope" => {
                    let v = self.next_value(&words, i, "a scope")?;
                    let Some(s) = scope(&v.text) else {
                        self.diags.error(&v.pos, format!("unknown scope `{}`: expected global, site, link, host, nowhere or a number", v.text));
                        return None;
                    };
                    r.scope = Some(s);
                    i += 1;
                }
                "metric" | "priority" | "preference" => {
                    let v = self.next_value(&words, i, "a number")?;
                    let Ok(m) = v.text.parse::<u32>() else {
                        self.diags.error(
                            &v.pos,
                            format!(
                                "expected a number 0 to 4294967295 after `{}`, found `{}`",
                                w.text, v.text
                            ),
                        );
                        return None;
                    };
                    r.metric = Some(m);
                    i += 1;
                }
                "onlink" => r.onlink = true,
                "no_track" => r.no_track = true,
                other if ROUTE_UNSUPPORTED.contains(&other) => {
                    self.unsupported_option(w, "virtual_routes");
                    return None;
                }
                other => {
                    // [to] [TYPE] PREFIX
                    let mut at = i;
                    if other == "to" {
                        at += 1;
                    }
                    let mut t = words.get(at).copied();
                    if let Some(k) = t.and_then(|t| route_type(&t.text)) {
                        r.kind = k;
                        at += 1;
                        t = words.get(at).copied();
                    }
                    let Some(t) = t else {
                        self.diags
                            .error(&w.pos, "the route needs a destination after it");
                        return None;
                    };
                    let Some((addr, len)) = prefix(&t.text, family) else {
                        self.diags.error(
                            &t.pos,
                            format!(
                                "unknown route keyword or destination `{}`{}",
                                t.text,
                                did_you_mean(&t.text, ROUTE_KEYWORDS.iter().copied())
                            ),
                        );
                        return None;
                    };
                    if t.text != "default" && !self.family(&mut family, addr, t, "route") {
                        return None;
                    }
                    r.dst = addr;
                    r.dst_len = len;
                    dst = true;
                    i = at;
                }
            }
            i += 1;
        }
        if !dst {
            self.diags.error(
                line.pos(),
                "the route has no destination: write `PREFIX [via ADDR] [dev IFACE] ...`",
            );
            return None;
        }
        r.family = family.unwrap_or(Family::V4);
        if r.family == Family::V6 && r.dst.is_ipv4() && r.dst_len == 0 {
            r.dst = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
        }
        if !r.no_track {
            if protocol_set && r.protocol != RTPROT_KEEPALIVED {
                self.diags.warn(line.pos(), format!("a tracked route's protocol is {RTPROT_KEEPALIVED} (keepalived): the protocol given is replaced, as keepalived replaces it (add `no_track` to keep it)"));
            }
            r.protocol = RTPROT_KEEPALIVED;
        }
        Some(r)
    }

    fn rule(&mut self, line: &Stmt) -> Option<VirtualRule> {
        let words: Vec<&Word> = line.words.iter().collect();
        let mut family: Option<Family> = None;
        let mut r = VirtualRule {
            family: Family::V4,
            from: None,
            to: None,
            action: RuleAction::Nop,
            priority: 0,
            iif: None,
            oif: None,
            fwmark: None,
            invert: false,
            protocol: 0,
            no_track: false,
            location: line.pos().location(),
        };
        let mut action: Option<RuleAction> = None;
        let mut priority: Option<u32> = None;
        let mut protocol_set = false;
        let mut i = 0;
        let mut set_action = |b: &mut Self, a: RuleAction, w: &Word| -> bool {
            if action.is_some() {
                b.diags.error(
                    &w.pos,
                    "a rule has one action: table, goto, nop, blackhole, unreachable or prohibit",
                );
                return false;
            }
            action = Some(a);
            true
        };
        while i < words.len() {
            let w = words[i];
            match w.text.as_str() {
                "inet" | "inet6" => self.family_word(w, &mut family, "rule")?,
                "from" | "to" => {
                    let v = self.next_value(&words, i, "a prefix")?;
                    let Some((addr, len)) = prefix(&v.text, family) else {
                        self.diags.error(
                            &v.pos,
                            format!(
                                "expected an address or prefix after `{}`, found `{}`",
                                w.text, v.text
                            ),
                        );
                        return None;
                    };
                    if !matches!(v.text.as_str(), "all" | "any" | "default")
                        && !self.family(&mut family, addr, v, "rule")
                    {
                        return None;
                    }
                    if len > 0 {
                        if w.text == "from" {
                            r.from = Some((addr, len));
                        } else {
                            r.to = Some((addr, len));
                        }
                    }
                    i += 1;
                }
                "table" | "lookup" => {
                    let v = self.next_value(&words, i, "a table number or name")?;
                    let Some(t) = table(&v.text) else {
                        self.diags.error(&v.pos, format!("routing table `{}` not found: give its number, or main, local or default", v.text));
                        return None;
                    };
                    if !set_action(self, RuleAction::Table(t), w) {
                        return None;
                    }
                    i += 1;
                }
                "preference" | "order" | "priority" => {
                    let v = self.next_value(&words, i, "a number")?;
                    let Ok(p) = v.text.parse::<u32>() else {
                        self.diags.error(
                            &v.pos,
                            format!("expected a number after `{}`, found `{}`", w.text, v.text),
                        );
                        return None;
                    };
                    priority = Some(p);
                    i += 1;
                }
                "fwmark" => {
                    let v = self.next_value(&words, i, "MARK[/MASK]")?;
                    let num = |s: &str| match s.strip_prefix("0x") {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => s.parse::<u32>().ok(),
                    };
                    let parsed = match v.text.split_once('/') {
                        Some((m, k)) => num(m).zip(num(k)).map(|(m, k)| (m, Some(k))),
                        None => num(&v.text).map(|m| (m, None)),
                    };
                    let Some(f) = parsed else {
                        self.diags.error(
                            &v.pos,
                            format!("expected MARK[/MASK] after `fwmark`, found `{}`", v.text),
                        );
                        return None;
                    };
                    r.fwmark = Some(f);
                    i += 1;
                }
                "dev" | "iif" | "oif" => {
                    let v = self.next_value(&words, i, "an interface name")?;
                    if !self.ifname(v, &w.text) {
                        return None;
                    }
                    if w.text == "oif" {
                        r.oif = Some(v.text.clone());
                    } else {
                        r.iif = Some(v.text.clone());
                    }
                    i += 1;
                }
                "protocol" => {
                    let v = self.next_value(&words, i, "a protocol number or name")?;
                    let Some(p) = protocol(&v.text) else {
                        self.diags
                            .error(&v.pos, format!("unknown rule protocol `{}`", v.text));
                        return None;
                    };
                    r.protocol = p;
                    protocol_set = true;
                    i += 1;
                }
                "no_track" => r.no_track = true,
                "not" => r.invert = true,
                "type" => {}
                "goto" => {
                    let v = self.next_value(&words, i, "the priority of the rule to go to")?;
                    let Ok(t) = v.text.parse::<u32>() else {
                        self.diags.error(
                            &v.pos,
                            format!("expected a rule priority after `goto`, found `{}`", v.text),
                        );
                        return None;
                    };
                    if !set_action(self, RuleAction::Goto(t), w) {
                        return None;
                    }
                    i += 1;
                }
                "nop" | "blackhole" | "unreachable" | "prohibit" => {
                    let a = match w.text.as_str() {
                        "nop" => RuleAction::Nop,
                        "blackhole" => RuleAction::Blackhole,
                        "unreachable" => RuleAction::Unreachable,
                        _ => RuleAction::Prohibit,
                    };
                    if !set_action(self, a, w) {
                        return None;
                    }
                }
                other if RULE_UNSUPPORTED.contains(&other) => {
                    self.unsupported_option(w, "virtual_rules");
                    return None;
                }
                other => {
                    self.diags.error(
                        &w.pos,
                        format!(
                            "unknown rule option `{other}`{}",
                            did_you_mean(other, RULE_KEYWORDS.iter().copied())
                        ),
                    );
                    return None;
                }
            }
            i += 1;
        }
        let Some(action) = action else {
            self.diags.error(line.pos(), "the rule has no action: add `table N` (or goto, nop, blackhole, unreachable, prohibit)");
            return None;
        };
        r.action = action;
        r.family = family.unwrap_or(Family::V4);
        for (addr, _) in [&mut r.from, &mut r.to].into_iter().flatten() {
            if r.family == Family::V6 && addr.is_ipv4() && addr.is_unspecified() {
                *addr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
            }
        }
        r.priority = match priority {
            Some(p) => p,
            None => {
                let n = match r.family {
                    Family::V4 => &mut self.out.unnumbered_rules.0,
                    Family::V6 => &mut self.out.unnumbered_rules.1,
                };
                let p = RULE_START_PRIORITY.saturating_sub(*n);
                *n += 1;
                self.diags.warn(line.pos(), format!("the rule has no priority: it gets {p}, as keepalived numbers them (from 16384 down); give it one with `priority N`"));
                p
            }
        };
        if let RuleAction::Goto(t) = r.action {
            if priority.is_none() || r.priority >= t {
                self.diags.error(
                    line.pos(),
                    format!("a `goto {t}` rule needs a priority below {t}"),
                );
                return None;
            }
        }
        if !r.no_track {
            if protocol_set && r.protocol != RTPROT_KEEPALIVED {
                self.diags.warn(line.pos(), format!("a tracked rule's protocol is {RTPROT_KEEPALIVED} (keepalived): the protocol given is replaced, as keepalived replaces it (add `no_track` to keep it)"));
            }
            r.protocol = RTPROT_KEEPALIVED;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use std::{net::IpAddr, path::Path};

    use crate::config::{parse_str, Family, RuleAction};

    fn conf(routes: &str, rules: &str) -> String {
        format!(
            "vrrp_instance VI {{\n interface lo0x\n virtual_router_id 1\n virtual_ipaddress {{ \
             198.18.0.1 }}\n virtual_routes {{\n{routes}\n }}\n virtual_rules {{\n{rules}\n }}\n}}\n"
        )
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_str(text, Path::new("/x/k.conf")) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|d| d.message).collect(),
        }
    }

    #[test]
    fn routes() {
        let c = parse_str(
            &conf(
                "198.18.5.0/24 via 198.18.0.1 dev lo0x table 100 metric 5\n\
                 blackhole 198.18.7.0/24\n\
                 to unreachable 2001:db8:9::/48 protocol static no_track\n\
                 default via 198.18.0.254 src 198.18.0.1 scope global onlink",
                "from 198.18.0.0/24 table 100 priority 100",
            ),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .config;
        let r = &c.instances[0].virtual_routes;
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].dst, "198.18.5.0".parse::<IpAddr>().unwrap());
        assert_eq!(r[0].dst_len, 24);
        assert_eq!(r[0].via, Some("198.18.0.1".parse().unwrap()));
        assert_eq!(r[0].dev.as_deref(), Some("lo0x"));
        assert_eq!((r[0].table, r[0].metric, r[0].kind), (100, Some(5), 1));
        assert_eq!(r[0].protocol, 18, "tracked: keepalived's protocol");
        assert_eq!((r[1].kind, r[1].table), (6, 254));
        assert_eq!((r[2].kind, r[2].family, r[2].protocol), (7, Family::V6, 4));
        assert!(r[2].no_track);
        assert_eq!(r[3].dst_len, 0);
        assert_eq!(r[3].src, Some("198.18.0.1".parse().unwrap()));
        assert_eq!(r[3].scope, Some(0));
        assert!(r[3].onlink);
        let rule = &c.instances[0].virtual_rules[0];
        assert_eq!(rule.from, Some(("198.18.0.0".parse().unwrap(), 24)));
        assert_eq!(rule.action, RuleAction::Table(100));
        assert_eq!((rule.priority, rule.protocol), (100, 18));
    }

    #[test]
    fn rules() {
        let c = parse_str(
            &conf(
                "",
                "to 2001:db8::/32 lookup main\nfrom all fwmark 0x10/0xff blackhole\n\
                 iif lo0x not prohibit priority 7\npriority 5 goto 7",
            ),
            Path::new("/x/k.conf"),
        )
        .unwrap();
        let r = &c.config.instances[0].virtual_rules;
        assert_eq!(r[0].family, Family::V6);
        assert_eq!(r[0].action, RuleAction::Table(254));
        assert_eq!(r[0].priority, 16384, "keepalived's automatic numbering");
        assert_eq!(r[1].priority, 16384, "per family");
        assert_eq!(r[1].fwmark, Some((0x10, Some(0xff))));
        assert_eq!(r[1].action, RuleAction::Blackhole);
        assert!(r[2].invert);
        assert_eq!(r[2].iif.as_deref(), Some("lo0x"));
        assert_eq!(r[3].action, RuleAction::Goto(7));
        assert!(c.warnings.iter().any(|w| w.message.contains("gets 16384")));
    }

    #[test]
    fn bad_lines_are_errors() {
        for (routes, rules, want) in [
            ("198.18.5.0/24 mtu 1400", "", "does not support (yet)"),
            (
                "198.18.5.0/24 nexthop via 198.18.0.1",
                "",
                "does not support (yet)",
            ),
            ("198.18.5.0/24 via 2001:db8::1", "", "one family"),
            ("via 198.18.0.1", "", "no destination"),
            ("198.18.5.0/33", "", "unknown route keyword or destination"),
            ("198.18.5.0/24 table nosuchtable", "", "not found"),
            ("198.18.5.0/24 metrc 5", "", "did you mean `metric`"),
            ("", "from 198.18.0.0/24 priority 3", "no action"),
            (
                "",
                "from 198.18.0.0/24 table 1 blackhole priority 3",
                "one action",
            ),
            ("", "goto 7", "needs a priority below 7"),
            (
                "",
                "from 198.18.0.0/24 table 1 uidrange 1-2 priority 3",
                "does not support (yet)",
            ),
            (
                "",
                "to 198.18.0.0/24 to 2001:db8::/32 table 1 priority 3",
                "one family",
            ),
        ] {
            let errs = errors(&conf(routes, rules));
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{routes}|{rules}: {errs:?}"
            );
        }
    }
}
