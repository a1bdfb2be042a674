//! Accept mode (`accept`, `no_accept`) and keepalived's strict mode (`vrrp_strict` in
//! global_defs, `strict_mode` in an instance), as keepalived 2.2.7 reads them
//! (`vrrp_complete_instance`):
//! - Accept_Mode (RFC 9568 §6.1) defaults to on (`accept`), off under strict mode; the address
//!   owner (priority 255) always accepts. A Master without it drops packets sent to its
//!   addresses (the XDP program's no_accept filter, see `runtime::accept`).
//! - Strict mode (see `strict` for what it resets) makes no_accept the default and sets the
//!   defaults of `garp_lower_prio_repeat` / `garp_lower_prio_delay` to 0.
use super::{Builder, InstanceDraft, Slot};
use crate::config::parser::Stmt;

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
}

/// An instance's Accept_Mode, once its priority and strict mode are known (with strict
/// mode's reset of `accept` with VRRPv2 already applied, see `strict`).
pub(crate) fn resolve(d: &InstanceDraft, priority: u8, strict: bool) -> bool {
    match &d.accept.mode {
        // The address owner always accepts (RFC 9568 §6.1; keepalived only defaults it so,
        // and its firewall rules never cover an owner's own addresses).
        _ if priority == 255 => true,
        Some((v, _)) => *v,
        None => !strict,
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
        // Written: reset to 0 with a warning (see `strict`).
        let i = ok(
            " vrrp_strict",
            &format!(" version 3\n garp_lower_prio_repeat 2\n{V4}"),
        );
        assert_eq!(i.garp.lower_prio_repeat, 0);
    }

    #[test]
    fn accept_takes_no_value() {
        let e = errors("", &format!("{V4}\n no_accept yes"));
        assert_eq!(e[0].0, 8);
        assert!(e[0].1.contains("takes no value"), "{e:?}");
    }
}
