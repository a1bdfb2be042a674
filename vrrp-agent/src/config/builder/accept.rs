//! Accept mode (`accept`, `no_accept`) and keepalived's strict mode (`vrrp_strict` in
//! global_defs, `strict_mode` in an instance), as keepalived 2.2.7 reads them
//! (`vrrp_complete_instance`):
//! - Accept_Mode (RFC 9568 §6.1) defaults to on (`accept`), off under strict mode; the address
//!   owner (priority 255) always accepts. A Master without it drops packets sent to its
//!   addresses (the XDP program's no_accept filter, see `runtime::accept`).
//! - Strict mode refuses what RFC 3768 / RFC 9568 do not allow: keepalived reports each as a
//!   configuration error (and mostly resets the value); here each is an error at its line.
//!   It also sets the defaults of `garp_lower_prio_repeat` / `garp_lower_prio_delay` to 0.
use super::{Builder, InstanceDraft, Slot};
use crate::config::{
    diagnostics::{Diags, Pos},
    model::{Family, InitialState, Version},
    parser::Stmt,
};

/// What an instance says about accept and strict mode.
#[derive(Debug, Default)]
pub(crate) struct AcceptDraft {
    /// `accept` (true) or `no_accept` (false): the last one written.
    pub mode: Slot<bool>,
    /// `strict_mode [BOOL]`: overrides the global `vrrp_strict` for this instance.
    pub strict: Slot<bool>,
}

impl Builder<'_> {
    /// `accept`, `no_accept`, `strict_mode`; false if `kw` is none of them.
    pub(super) fn accept_keyword(&mut self, kw: &str, stmt: &Stmt, d: &mut AcceptDraft) -> bool {
        match kw {
            "accept" | "no_accept" => {
                self.flag(stmt);
                let at = stmt.keyword().pos.clone();
                if let Some((prev, first)) = &d.mode {
                    let prev = if *prev { "accept" } else { "no_accept" };
                    self.diags.warn(
                        &at,
                        format!(
                            "`{kw}` after `{prev}` (at {first}): the last one is used, as in \
                             keepalived"
                        ),
                    );
                }
                d.mode = Some((kw == "accept", at));
            }
            "strict_mode" => {
                if let Some(v) = self.opt_bool(stmt) {
                    self.put(&mut d.strict, v, &stmt.keyword().pos.clone(), kw);
                }
            }
            _ => return false,
        }
        true
    }

    /// `vrrp_strict` in global_defs; false for any other keyword.
    pub(super) fn accept_global(
        &mut self,
        kw: &str,
        stmt: &Stmt,
        strict: &mut Option<Pos>,
    ) -> bool {
        if kw != "vrrp_strict" {
            return false;
        }
        self.flag(stmt);
        *strict = Some(stmt.keyword().pos.clone());
        true
    }
}

/// An instance's accept mode, once its priority, version and family are known:
/// (Accept_Mode, strict mode). Under strict mode, reports every setting keepalived's strict
/// mode refuses, each at its line.
pub(crate) fn resolve(
    d: &InstanceDraft,
    global_strict: bool,
    version: Version,
    family: Family,
    diags: &mut Diags,
) -> (bool, bool) {
    let strict = d.accept.strict.as_ref().map_or(global_strict, |(v, _)| *v);
    let priority = d.priority.as_ref().map_or(100, |(p, _)| *p);
    let owner = priority == 255;
    let name = &d.name;
    let accept = match &d.accept.mode {
        // The address owner always accepts (RFC 9568 §6.1; keepalived only defaults it so,
        // and its firewall rules never cover an owner's own addresses).
        _ if owner => true,
        Some((true, pos)) if strict && version == Version::V2 => {
            diags.error(
                pos,
                format!(
                    "vrrp_instance {name}: `accept` with VRRPv2 under strict mode: RFC 3768 has no \
                     Accept_Mode (keepalived: \"accept mode for VRRP version 2 does not comply \
                     with RFC3768\"); remove `accept` or use `version 3`"
                ),
            );
            false
        }
        Some((v, _)) => *v,
        None => !strict,
    };
    if strict {
        strict_checks(d, version, family, diags);
    }
    (accept, strict)
}

/// The checks of keepalived 2.2.7's strict mode (`vrrp_complete_instance`) that apply to the
/// keywords this project supports.
fn strict_checks(d: &InstanceDraft, version: Version, family: Family, diags: &mut Diags) {
    let name = &d.name;
    let why = "keepalived's strict mode (vrrp_strict / strict_mode) refuses it";
    if d.vips.is_empty() && version == Version::V2 && family == Family::V4 {
        // v3 and IPv6 instances without addresses are refused in any mode (validate).
        diags.error(
            &d.pos,
            format!(
                "vrrp_instance {name} has no virtual_ipaddress: {why} (\"No VIP specified; at \
                 least one is required\"); add `virtual_ipaddress {{ ADDRESS/PREFIX }}`"
            ),
        );
    }
    let owner = d.priority.as_ref().is_some_and(|(p, _)| *p == 255);
    if let Some((state, pos)) = &d.state {
        if (*state == InitialState::Master) != owner {
            diags.error(
                pos,
                format!(
                    "vrrp_instance {name}: `state {state}` with priority {}: {why} (\"State MASTER \
                     must match being address owner\"): use `state MASTER` only with priority \
                     255, or remove `state`",
                    d.priority.as_ref().map_or(100, |(p, _)| *p)
                ),
            );
        }
    }
    if let Some(a) = d.auth.as_ref().filter(|a| a.auth.is_some()) {
        diags.error(
            &a.pos,
            format!(
                "vrrp_instance {name}: authentication: {why} (\"Strict mode does not support \
                 authentication\"); remove the authentication block"
            ),
        );
    }
    if let Some((peer, pos)) = d.unicast_peers.first() {
        diags.error(
            pos,
            format!(
                "vrrp_instance {name}: unicast_peer {peer}: {why} (\"Unicast peers are not \
                 supported in strict mode\"); use multicast, or leave strict mode off for this \
                 instance (`strict_mode off`)"
            ),
        );
    }
    if let Some((delay, pos)) = &d.preempt_delay {
        if !delay.is_zero() {
            diags.error(
                pos,
                format!(
                    "vrrp_instance {name}: preempt_delay: {why} (\"preempt_delay is incompatible \
                     with strict mode\"); remove it"
                ),
            );
        }
    }
    for (kw, set) in [
        (
            "garp_lower_prio_repeat",
            d.garp.lower_prio_repeat.as_ref().map(|(v, p)| (*v != 0, p)),
        ),
        (
            "garp_lower_prio_delay",
            d.garp
                .lower_prio_delay
                .as_ref()
                .map(|(v, p)| (!v.is_zero(), p)),
        ),
    ] {
        if let Some((true, pos)) = set {
            diags.error(
                pos,
                format!(
                    "vrrp_instance {name}: {kw}: {why} (strict mode sends no gratuitous ARP in \
                     answer to a lower priority); remove it or set it to 0"
                ),
            );
        }
    }
    if family == Family::V6 && d.unicast_peers.is_empty() {
        if let Some(first) = d.vips.first() {
            let link_local =
                matches!(first.addr, std::net::IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
            if !link_local {
                diags.error(
                    &first.location,
                    format!(
                        "vrrp_instance {name}: the first IPv6 virtual address {} is not link-local: \
                         {why} (\"the first IPv6 VIP address must be link local\"); put a fe80:: \
                         address first",
                        first.addr
                    ),
                );
            }
        }
    }
}

/// Under strict mode, the lower-priority GARP settings an instance does not set are 0
/// (keepalived ignores the global `vrrp_garp_lower_prio_*` then).
pub(crate) fn strict_garp(d: &super::GarpDraft, garp: &mut crate::config::model::GarpSettings) {
    if d.lower_prio_repeat.is_none() {
        garp.lower_prio_repeat = 0;
    }
    if d.lower_prio_delay.is_none() {
        garp.lower_prio_delay = std::time::Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_str, ConfigError, Instance};

    fn conf(global: &str, body: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance VI {{\n interface lo0x\n virtual_router_id 9\n{body}\n}}\n"
        )
    }

    fn load(global: &str, body: &str) -> Result<Instance, ConfigError> {
        parse_str(&conf(global, body), std::path::Path::new("t.conf"))
            .map(|l| l.config.instances[0].clone())
    }

    fn ok(global: &str, body: &str) -> Instance {
        load(global, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The errors as (line, message).
    fn errors(global: &str, body: &str) -> Vec<(u32, String)> {
        match load(global, body) {
            Ok(_) => panic!("accepted: {global} / {body}"),
            Err(e) => e
                .errors
                .iter()
                .map(|d| (d.line, d.message.clone()))
                .collect(),
        }
    }

    const V4: &str = " virtual_ipaddress { 198.18.0.10/24 }";

    #[test]
    fn accept_is_keepalived_default_without_strict_mode() {
        let i = ok("", V4);
        assert!(i.accept_mode && !i.strict);
        assert!(!ok("", &format!("{V4}\n no_accept")).accept_mode);
        assert!(
            ok("", &format!("{V4}\n no_accept\n accept")).accept_mode,
            "the last wins"
        );
    }

    #[test]
    fn strict_mode_defaults_to_no_accept_but_the_owner_accepts() {
        let i = ok(" vrrp_strict", &format!(" version 3\n{V4}"));
        assert!(!i.accept_mode && i.strict);
        let owner = ok(
            " vrrp_strict",
            &format!(" version 3\n priority 255\n state MASTER\n{V4}"),
        );
        assert!(owner.accept_mode, "the address owner always accepts");
        let owner = ok("", &format!(" priority 255\n no_accept\n{V4}"));
        assert!(owner.accept_mode, "even with no_accept");
        let v3 = ok(" vrrp_strict", &format!(" version 3\n accept\n{V4}"));
        assert!(v3.accept_mode, "accept is allowed with v3");
    }

    #[test]
    fn strict_mode_per_instance_overrides_the_global_one() {
        let i = ok("", &format!(" version 3\n strict_mode\n{V4}"));
        assert!(i.strict && !i.accept_mode);
        let i = ok(
            " vrrp_strict",
            &format!(" strict_mode off\n{V4}\n unicast_peer {{ 198.18.0.2 }}"),
        );
        assert!(!i.strict && i.accept_mode);
    }

    #[test]
    fn strict_mode_sends_no_garp_in_answer_to_a_lower_priority() {
        let g = " vrrp_garp_lower_prio_repeat 3";
        let i = ok(g, V4);
        assert_eq!(i.garp.lower_prio_repeat, 3);
        let i = ok(&format!("{g}\n vrrp_strict"), &format!(" version 3\n{V4}"));
        assert_eq!(i.garp.lower_prio_repeat, 0);
        assert!(i.garp.lower_prio_delay.is_zero());
        let e = errors(
            " vrrp_strict",
            &format!(" version 3\n garp_lower_prio_repeat 2\n{V4}"),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, 8);
        assert!(e[0].1.contains("garp_lower_prio_repeat"), "{e:?}");
    }

    #[test]
    fn every_strict_refusal_is_an_error_at_its_line() {
        let e = errors(
            " vrrp_strict",
            " state MASTER\n priority 150\n preempt_delay 5\n accept\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n unicast_peer { 198.18.0.2 }",
        );
        let lines: Vec<u32> = e.iter().map(|(l, _)| *l).collect();
        // state (7), preempt_delay (9), accept (10), authentication (11), unicast_peer (15);
        // and no virtual_ipaddress (instance at 4).
        assert_eq!(lines, [4, 7, 9, 10, 11, 15], "{e:#?}");
        assert!(
            e.iter()
                .all(|(_, m)| m.contains("strict") || m.contains("RFC 3768")),
            "{e:#?}"
        );
    }

    #[test]
    fn strict_ipv6_wants_a_link_local_first_address() {
        let e = errors(" vrrp_strict", " virtual_ipaddress { 2001:db8::10/64 }");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, 7);
        assert!(e[0].1.contains("link-local"), "{e:?}");
        ok(
            " vrrp_strict",
            " virtual_ipaddress { fe80::10/64\n 2001:db8::10/64 }",
        );
    }

    #[test]
    fn accept_takes_no_value() {
        let e = errors("", &format!("{V4}\n no_accept yes"));
        assert_eq!(e[0].0, 8);
        assert!(e[0].1.contains("takes no value"), "{e:?}");
    }
}
