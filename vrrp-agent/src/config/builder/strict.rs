//! keepalived 2.2.7's strict mode (`vrrp_strict` in global_defs, `strict_mode` in an
//! instance), and the two answers it decides: `lower_prio_no_advert` and
//! `higher_prio_send_advert` (with their `vrrp_` globals).
//!
//! keepalived (`vrrp_complete_instance`) reports each setting strict mode forbids as a
//! configuration error (`keepalived -t` fails), then resets it and runs. This daemon resets
//! the same setting to the same value, with a `keepalived-ignores` warning at its line:
//!
//! | written (strict mode)                        | keepalived says                           | runs with              |
//! |----------------------------------------------|-------------------------------------------|------------------------|
//! | `state` not matching priority 255            | State MASTER must match being address owner | MASTER iff priority 255 |
//! | `authentication`                             | Strict mode does not support authentication | no authentication    |
//! | `preempt_delay`                              | preempt_delay is incompatible with strict mode | 0                  |
//! | `accept`, VRRPv2, not the owner              | accept mode for VRRP version 2 does not comply | no_accept          |
//! | `garp_lower_prio_repeat` / `_delay` not 0    | Strict mode requires no repeat garps (delay) | 0                    |
//! | `lower_prio_no_advert off`                   | Strict mode requires no lower priority advert | on                  |
//! | `higher_prio_send_advert [on]`               | strict mode requires higher_prio_send_advert to be clear | off      |
//! | `vmac_xmit_base` with `use_vmac`             | xmit_base is incompatible with strict mode | not set               |
//! | `version 2` with IPv6 addresses              | cannot use IPv6 with VRRP version 2       | version 3              |
//!
//! Unset, strict mode's defaults are no_accept, `garp_lower_prio_*` 0 and
//! `lower_prio_no_advert` on, `higher_prio_send_advert` off; the globals
//! (`vrrp_garp_lower_prio_*`, `vrrp_lower_prio_no_advert`, `vrrp_higher_prio_send_advert`)
//! are not used, which gets a warning too. Reported but run as written, as keepalived does:
//! an IPv6 instance whose first address is not link-local ("the first IPv6 VIP address must
//! be link local"), and unicast peers (keepalived 2.2.7's check "Unicast peers are not
//! supported in strict mode" runs before it counts the peers, so it never fires). Refused,
//! as keepalived's VRRP process stops: an instance without `virtual_ipaddress` (see
//! `validate`).
use super::{Builder, InstanceDraft, Slot};
use crate::config::{
    diagnostics::{Category, Diags, Pos},
    model::{Family, InitialState, Version},
    parser::Stmt,
};

/// What global_defs says about strict mode and the answers.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrictGlobal {
    /// `vrrp_strict`.
    pub on: Option<Pos>,
    /// `vrrp_lower_prio_no_advert [BOOL]`.
    pub lower_prio_no_advert: Slot<bool>,
    /// `vrrp_higher_prio_send_advert [BOOL]`.
    pub higher_prio_send_advert: Slot<bool>,
    /// `vrrp_garp_lower_prio_repeat` / `vrrp_garp_lower_prio_delay`, copied from the GARP
    /// draft once global_defs is read (for the warning that strict mode ignores them).
    pub garp_lower_prio_repeat: Slot<u32>,
    pub garp_lower_prio_delay: Slot<std::time::Duration>,
}

/// An instance's `lower_prio_no_advert` and `higher_prio_send_advert`.
#[derive(Debug, Default)]
pub(crate) struct AnswerDraft {
    pub lower_prio_no_advert: Slot<bool>,
    pub higher_prio_send_advert: Slot<bool>,
}

impl Builder<'_> {
    /// `vrrp_strict`, `vrrp_lower_prio_no_advert`, `vrrp_higher_prio_send_advert` in
    /// global_defs; false for any other keyword.
    pub(super) fn strict_global(&mut self, kw: &str, stmt: &Stmt, g: &mut StrictGlobal) -> bool {
        let at = stmt.keyword().pos.clone();
        let slot = match kw {
            "vrrp_strict" => {
                self.flag(stmt);
                g.on = Some(at);
                return true;
            }
            "vrrp_lower_prio_no_advert" => &mut g.lower_prio_no_advert,
            "vrrp_higher_prio_send_advert" => &mut g.higher_prio_send_advert,
            _ => return false,
        };
        if let Some(v) = self.opt_bool(stmt) {
            self.put(slot, v, &at, kw);
        }
        true
    }

    /// `lower_prio_no_advert [BOOL]`, `higher_prio_send_advert [BOOL]` in an instance; false
    /// for any other keyword.
    pub(super) fn answer_keyword(&mut self, kw: &str, stmt: &Stmt, d: &mut AnswerDraft) -> bool {
        let slot = match kw {
            "lower_prio_no_advert" => &mut d.lower_prio_no_advert,
            "higher_prio_send_advert" => &mut d.higher_prio_send_advert,
            _ => return false,
        };
        if let Some(v) = self.opt_bool(stmt) {
            self.put(slot, v, &stmt.keyword().pos.clone(), kw);
        }
        true
    }
}

/// Whether an instance runs in strict mode: its `strict_mode`, else the global `vrrp_strict`.
pub(crate) fn is_strict(d: &InstanceDraft, global_strict: bool) -> bool {
    d.accept.strict.as_ref().map_or(global_strict, |(v, _)| *v)
}

/// The priority keepalived runs an instance with: as written, else 255 with `state MASTER`
/// (the address owner) and 100 otherwise (`vrrp_complete_instance`: "If no priority has been
/// set, derive it from the initial state").
pub(crate) fn priority(d: &InstanceDraft) -> u8 {
    match (&d.priority, &d.state) {
        (Some((p, _)), _) => *p,
        (None, Some((InitialState::Master, _))) => 255,
        (None, _) => 100,
    }
}

/// `version 2` written for an IPv6 instance under strict mode: keepalived runs it as
/// VRRPv3 (without strict mode it is an error, see `validate`).
pub(crate) fn v2_with_ipv6(name: &str, pos: &Pos, diags: &mut Diags) {
    diags.warn_as(
        Category::KeepalivedIgnores,
        pos,
        format!(
            "vrrp_instance {name}: `version 2` with IPv6 addresses: keepalived's strict mode \
             reports \"cannot use IPv6 with VRRP version 2; setting version 3\" and runs \
             VRRPv3, and so does this daemon; write `version 3`"
        ),
    );
}

/// keepalived's strict-mode resets (module docs), applied to the draft of a strict instance
/// once its version and family are known, before its state, authentication, preemption,
/// accept mode and GARP settings are resolved.
pub(crate) fn reset(d: &mut InstanceDraft, version: Version, family: Family, diags: &mut Diags) {
    let name = d.name.clone();
    let priority = priority(d);
    let owner = priority == 255;
    let ignored = |diags: &mut Diags, pos: &Pos, what: &str, says: &str, runs: &str| {
        diags.warn_as(
            Category::KeepalivedIgnores,
            pos,
            format!(
                "vrrp_instance {name}: {what}: keepalived's strict mode (vrrp_strict / \
                 strict_mode) reports \"{says}\" and runs it {runs}, and so does this daemon; \
                 remove it, or leave strict mode off for this instance (`strict_mode off`)"
            ),
        );
    };
    if let Some((state, pos)) = d.state.clone() {
        let want = if owner {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        if state != want {
            ignored(
                diags,
                &pos,
                &format!("`state {state}` with priority {priority}"),
                "State MASTER must match being address owner",
                &format!("as `state {want}` (MASTER only for the address owner, priority 255)"),
            );
            d.state = Some((want, pos));
        }
    }
    if let Some(a) = d.auth.as_mut().filter(|a| a.auth.is_some()) {
        ignored(
            diags,
            &a.pos,
            "authentication",
            "Strict mode does not support authentication. Ignoring.",
            "without authentication (adverts with auth type 0)",
        );
        a.auth = None;
    }
    if let Some((_, pos)) = d.preempt_delay.clone().filter(|(v, _)| !v.is_zero()) {
        ignored(
            diags,
            &pos,
            "preempt_delay",
            "preempt_delay is incompatible with strict mode - resetting",
            "with preempt_delay 0",
        );
        d.preempt_delay = Some((std::time::Duration::ZERO, pos));
    }
    if let (Some((true, pos)), Version::V2, false) = (d.accept.mode.clone(), version, owner) {
        ignored(
            diags,
            &pos,
            "`accept` with VRRPv2 (RFC 3768 has no Accept_Mode)",
            "warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
            "as no_accept",
        );
        d.accept.mode = Some((false, pos));
    }
    if let Some((_, pos)) = d.garp.lower_prio_repeat.clone().filter(|(v, _)| *v != 0) {
        ignored(
            diags,
            &pos,
            "garp_lower_prio_repeat",
            "Strict mode requires no repeat garps. resetting",
            "with garp_lower_prio_repeat 0 (no gratuitous ARP in answer to a lower priority)",
        );
        d.garp.lower_prio_repeat = Some((0, pos));
    }
    if let Some((_, pos)) = d
        .garp
        .lower_prio_delay
        .clone()
        .filter(|(v, _)| !v.is_zero())
    {
        ignored(
            diags,
            &pos,
            "garp_lower_prio_delay",
            "Strict mode requires no repeat garp delay. resetting",
            "with garp_lower_prio_delay 0",
        );
        d.garp.lower_prio_delay = Some((std::time::Duration::ZERO, pos));
    }
    if let Some((false, pos)) = d.answers.lower_prio_no_advert.clone() {
        ignored(
            diags,
            &pos,
            "`lower_prio_no_advert off`",
            "Strict mode requires no lower priority advert. resetting",
            "with lower_prio_no_advert on (a lower priority is not answered with an advert)",
        );
        d.answers.lower_prio_no_advert = Some((true, pos));
    }
    if let Some((true, pos)) = d.answers.higher_prio_send_advert.clone() {
        ignored(
            diags,
            &pos,
            "higher_prio_send_advert",
            "strict mode requires higher_prio_send_advert to be clear. resetting",
            "with higher_prio_send_advert off",
        );
        d.answers.higher_prio_send_advert = Some((false, pos));
    }
    if d.extra.vmac.use_vmac.is_some() {
        if let Some(pos) = d.extra.vmac.xmit_base.take() {
            ignored(
                diags,
                &pos,
                "vmac_xmit_base",
                "xmit_base is incompatible with strict mode - resetting",
                "without it (adverts leave from the VMAC)",
            );
        }
    }
    if let Some((peer, pos)) = d.unicast_peers.first() {
        diags.warn_as(
            Category::KeepalivedIgnores,
            pos,
            format!(
                "vrrp_instance {name}: unicast_peer {peer} under strict mode: keepalived's rule \
                 \"Unicast peers are not supported in strict mode\" never fires in 2.2.7 (it is \
                 checked before the peers are counted), so keepalived runs the instance with \
                 unicast adverts, and so does this daemon; use multicast to follow the RFCs"
            ),
        );
    }
    // keepalived checks the first address whatever the peers (the unicast flag it tests is
    // set later, as above).
    if let (Family::V6, Some(first)) = (family, d.vips.first()) {
        let link_local =
            matches!(first.addr, std::net::IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
        if !link_local {
            diags.warn_as(
                Category::KeepalivedIgnores,
                &first.location,
                format!(
                    "vrrp_instance {name}: the first IPv6 virtual address {} is not link-local: \
                     keepalived's strict mode reports \"the first IPv6 VIP address must be link \
                     local\" and runs the instance as written, and so does this daemon; put a \
                     fe80:: address first",
                    first.addr
                ),
            );
        }
    }
}

/// The instance's (lower_prio_no_advert, higher_prio_send_advert): its own values (already
/// reset under strict mode), else on / off under strict mode, else the globals'.
pub(crate) fn answers(d: &InstanceDraft, strict: bool, global: (bool, bool)) -> (bool, bool) {
    let lower = d.answers.lower_prio_no_advert.as_ref().map(|(v, _)| *v);
    let higher = d.answers.higher_prio_send_advert.as_ref().map(|(v, _)| *v);
    if strict {
        (lower.unwrap_or(true), higher.unwrap_or(false))
    } else {
        (lower.unwrap_or(global.0), higher.unwrap_or(global.1))
    }
}

/// keepalived ignores these globals for a strict instance that does not set the value
/// itself: one warning at each global that a strict instance ignores (`d` is such an
/// instance's draft, before [`reset`]).
pub(crate) fn warn_unused_globals(d: &InstanceDraft, g: &StrictGlobal, diags: &mut Diags) {
    let unused = [
        (
            "vrrp_lower_prio_no_advert",
            d.answers.lower_prio_no_advert.is_none(),
            g.lower_prio_no_advert
                .as_ref()
                .filter(|(v, _)| !v)
                .map(|(_, p)| p),
            "on",
        ),
        (
            "vrrp_higher_prio_send_advert",
            d.answers.higher_prio_send_advert.is_none(),
            g.higher_prio_send_advert
                .as_ref()
                .filter(|(v, _)| *v)
                .map(|(_, p)| p),
            "off",
        ),
        (
            "vrrp_garp_lower_prio_repeat",
            d.garp.lower_prio_repeat.is_none(),
            g.garp_lower_prio_repeat
                .as_ref()
                .filter(|(v, _)| *v != 0)
                .map(|(_, p)| p),
            "0",
        ),
        (
            "vrrp_garp_lower_prio_delay",
            d.garp.lower_prio_delay.is_none(),
            g.garp_lower_prio_delay
                .as_ref()
                .filter(|(v, _)| !v.is_zero())
                .map(|(_, p)| p),
            "0",
        ),
    ];
    for (kw, unset, pos, value) in unused {
        if let (true, Some(pos)) = (unset, pos) {
            diags.warn_once_as(
                Category::KeepalivedIgnores,
                &format!("strict {kw}"),
                pos,
                format!(
                    "{kw} is not used by instances in strict mode (vrrp_instance {} is the first): \
                     keepalived gives them {value}, and so does this daemon",
                    d.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_str, Category, ConfigError, Instance};

    fn conf(global: &str, body: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance VI {{\n interface lo0x\n virtual_router_id 9\n{body}\n}}\n"
        )
    }

    /// A warning as (line, category, message).
    type Warning = (u32, Category, String);

    fn load(global: &str, body: &str) -> Result<(Instance, Vec<Warning>), ConfigError> {
        parse_str(&conf(global, body), std::path::Path::new("t.conf")).map(|l| {
            let w = l
                .warnings
                .iter()
                .filter(|w| !w.message.contains("does not exist on this host"))
                .map(|w| (w.line, w.category, w.message.clone()))
                .collect();
            (l.config.instances[0].clone(), w)
        })
    }

    fn ok(global: &str, body: &str) -> (Instance, Vec<Warning>) {
        load(global, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The keepalived-ignores warnings as (line, message).
    fn ignored(w: &[Warning]) -> Vec<(u32, &str)> {
        w.iter()
            .filter(|(_, c, _)| *c == Category::KeepalivedIgnores)
            .map(|(l, _, m)| (*l, m.as_str()))
            .collect()
    }

    const V4: &str = " virtual_ipaddress { 198.18.0.10/24 }";

    /// Each setting keepalived's strict mode resets is reset here to the same value, with a
    /// keepalived-ignores warning at its line quoting keepalived's message.
    #[test]
    fn every_strict_reset_is_a_keepalived_ignores_warning_at_its_line() {
        let body = " state MASTER\n priority 150\n preempt_delay 5\n accept\n \
                    garp_lower_prio_repeat 2\n garp_lower_prio_delay 3\n lower_prio_no_advert off\n \
                    higher_prio_send_advert\n use_vmac\n vmac_xmit_base\n authentication {\n  \
                    auth_type PASS\n  auth_pass secret\n }\n virtual_ipaddress { 198.18.0.10/24 }";
        let (i, w) = ok(" vrrp_strict", body);
        let got = ignored(&w);
        let want: [(u32, &str); 9] = [
            (7, "State MASTER must match being address owner"),
            (
                9,
                "preempt_delay is incompatible with strict mode - resetting",
            ),
            (
                10,
                "accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
            ),
            (11, "Strict mode requires no repeat garps. resetting"),
            (12, "Strict mode requires no repeat garp delay. resetting"),
            (
                13,
                "Strict mode requires no lower priority advert. resetting",
            ),
            (
                14,
                "strict mode requires higher_prio_send_advert to be clear. resetting",
            ),
            (16, "xmit_base is incompatible with strict mode - resetting"),
            (17, "Strict mode does not support authentication. Ignoring."),
        ];
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|(l, _)| *l);
        assert_eq!(got_sorted.len(), want.len(), "{got:#?}");
        for ((line, text), (gl, gm)) in want.iter().zip(&got_sorted) {
            assert_eq!(line, gl, "{got:#?}");
            assert!(gm.contains(text), "line {line}: {gm}");
            assert!(gm.contains("and so does this daemon"), "{gm}");
        }
        // What runs: what keepalived runs.
        assert_eq!(i.state, crate::config::InitialState::Backup);
        assert_eq!(i.priority, 150);
        assert!(i.preempt_delay.is_zero());
        assert!(!i.accept_mode);
        assert_eq!(i.garp.lower_prio_repeat, 0);
        assert!(i.garp.lower_prio_delay.is_zero());
        assert!(i.lower_prio_no_advert && !i.higher_prio_send_advert);
        assert!(!i.vmac.as_ref().expect("use_vmac").xmit_base);
        assert_eq!(i.auth, None);
        assert!(i.strict);
    }

    /// `state BACKUP` for the address owner is reset to MASTER.
    #[test]
    fn strict_owner_state_backup_becomes_master() {
        let (i, w) = ok(
            " vrrp_strict",
            &format!(" state BACKUP\n priority 255\n version 3\n{V4}"),
        );
        assert_eq!(i.state, crate::config::InitialState::Master);
        let got = ignored(&w);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 7);
        assert!(got[0].1.contains("as `state MASTER`"), "{got:?}");
    }

    /// Unset, strict mode's values apply and the globals keepalived does not use for a
    /// strict instance are reported at their lines; without strict mode they are the
    /// defaults.
    #[test]
    fn strict_instances_ignore_the_globals() {
        let g = " vrrp_lower_prio_no_advert off\n vrrp_higher_prio_send_advert\n \
                 vrrp_garp_lower_prio_repeat 3";
        let (i, w) = ok(g, V4);
        assert!(!i.lower_prio_no_advert && i.higher_prio_send_advert);
        assert_eq!(i.garp.lower_prio_repeat, 3);
        assert!(ignored(&w).is_empty(), "{w:?}");

        let (i, w) = ok(&format!("{g}\n vrrp_strict"), &format!(" version 3\n{V4}"));
        assert!(i.lower_prio_no_advert && !i.higher_prio_send_advert);
        assert_eq!(i.garp.lower_prio_repeat, 0);
        let got = ignored(&w);
        let lines: Vec<u32> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4], "{got:#?}");
        assert!(got[0]
            .1
            .starts_with("vrrp_lower_prio_no_advert is not used"));
        assert!(got[1]
            .1
            .starts_with("vrrp_higher_prio_send_advert is not used"));
        assert!(got[2]
            .1
            .starts_with("vrrp_garp_lower_prio_repeat is not used"));
    }

    #[test]
    fn lower_prio_no_advert_and_higher_prio_send_advert_are_read() {
        let (i, _) = ok("", V4);
        assert!(!i.lower_prio_no_advert && !i.higher_prio_send_advert);
        let (i, _) = ok(
            "",
            &format!(" lower_prio_no_advert\n higher_prio_send_advert on\n{V4}"),
        );
        assert!(i.lower_prio_no_advert && i.higher_prio_send_advert);
        let (i, _) = ok(" vrrp_lower_prio_no_advert", V4);
        assert!(i.lower_prio_no_advert);
        let (i, _) = ok(
            " vrrp_lower_prio_no_advert",
            &format!(" lower_prio_no_advert no\n{V4}"),
        );
        assert!(!i.lower_prio_no_advert, "the instance's value wins");
        // keepalived ignores an invalid boolean (the global value stays).
        let (i, w) = ok(
            " vrrp_lower_prio_no_advert",
            &format!(" lower_prio_no_advert maybe\n{V4}"),
        );
        assert!(i.lower_prio_no_advert);
        assert!(w
            .iter()
            .any(|(line, c, _)| *line == 7 && *c == Category::KeepalivedIgnores));
    }

    /// keepalived's VRRP process stops on a strict instance without addresses (VRRPv2 too).
    #[test]
    fn strict_without_virtual_ipaddress_is_refused() {
        let e = load(" vrrp_strict", " priority 100").unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e}");
        assert_eq!(e.errors[0].line, 4);
        assert!(e.errors[0].message.contains("strict mode"), "{e}");
        assert!(
            e.errors[0].message.contains("at least one is required"),
            "{e}"
        );
        // Without strict mode keepalived runs it (VRRPv2).
        let (i, _) = ok("", " priority 100");
        assert!(i.vips.is_empty());
    }

    /// keepalived 2.2.7 never applies its strict rule against unicast peers: run unicast,
    /// with a warning.
    #[test]
    fn strict_unicast_runs_unicast_with_a_warning() {
        let (i, w) = ok(
            " vrrp_strict",
            &format!(" version 3\n unicast_peer {{\n  198.18.0.2\n }}\n{V4}"),
        );
        assert_eq!(
            i.unicast_peers,
            ["198.18.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        let got = ignored(&w);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 9);
        assert!(got[0].1.contains("never fires"), "{got:?}");
    }

    #[test]
    fn strict_ipv6_first_address_not_link_local_runs_as_written() {
        let (i, w) = ok(" vrrp_strict", " virtual_ipaddress { 2001:db8::10/64 }");
        assert_eq!(
            i.vips[0].addr,
            "2001:db8::10".parse::<std::net::IpAddr>().unwrap()
        );
        let got = ignored(&w);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 7);
        assert!(got[0].1.contains("must be link local"), "{got:?}");
        let (_, w) = ok(
            " vrrp_strict",
            " virtual_ipaddress { fe80::10/64\n 2001:db8::10/64 }",
        );
        assert!(ignored(&w).is_empty(), "{w:?}");
    }

    /// `version 2` with IPv6: strict mode runs VRRPv3 (an error without it).
    #[test]
    fn strict_v2_with_ipv6_runs_v3() {
        let body = " version 2\n virtual_ipaddress { fe80::10/64 }";
        let (i, w) = ok(" vrrp_strict", body);
        assert_eq!(i.version, crate::config::Version::V3);
        assert_eq!(ignored(&w)[0].0, 7);
        assert!(load("", body).is_err());
    }

    /// keepalived derives a missing priority from the state: `state MASTER` alone is the
    /// address owner, so strict mode has nothing to reset.
    #[test]
    fn state_master_without_priority_is_the_address_owner() {
        let (i, w) = ok("", &format!(" state MASTER\n{V4}"));
        assert_eq!(i.priority, 255);
        assert!(i.accept_mode);
        assert!(w
            .iter()
            .any(|(l, c, m)| *l == 7 && *c == Category::Advice && m.contains("priority 255")));
        let (i, w) = ok(" vrrp_strict", &format!(" state MASTER\n{V4}"));
        assert_eq!(
            (i.priority, i.state),
            (255, crate::config::InitialState::Master)
        );
        assert!(ignored(&w).is_empty(), "{w:?}");
        let (i, _) = ok("", &format!(" state BACKUP\n{V4}"));
        assert_eq!(i.priority, 100);
    }
}
