//! `use_vmac [NAME]` and `vmac_xmit_base`: the instance's virtual MAC (RFC 9568 §7.3), held by
//! the Master on a macvlan interface of its own (see `runtime::vmac`).
//!
//! keepalived 2.2.7's rules: the default name is `vrrp.<VRID>`, else (taken by another
//! instance) `vrrp6.<VRID>` for IPv6, then `vrrp1.<VRID>`, `vrrp2.<VRID>`, ...; unicast adverts
//! with `use_vmac` are always sent from the base interface (`vmac_xmit_base` is set, with a
//! warning); `vmac_xmit_base` without `use_vmac` does nothing.
use super::{
    diagnostics::{Diags, Pos},
    model::{Family, Instance},
};

/// An instance's virtual MAC interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    /// The macvlan's name (`use_vmac NAME`, else the default, see the module docs).
    pub name: String,
    /// Whether NAME was written (else chosen by [`assign_default_names`]).
    pub named: bool,
    /// `vmac_xmit_base`: adverts leave from the base interface (its own MAC), not the
    /// macvlan.
    pub xmit_base: bool,
}

/// The virtual router MAC of RFC 9568 §7.3: 00-00-5E-00-01-{VRID} (IPv4),
/// 00-00-5E-00-02-{VRID} (IPv6).
pub fn virtual_mac(family: Family, vrid: u8) -> [u8; 6] {
    let kind = match family {
        Family::V4 => 1,
        Family::V6 => 2,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// What a `vrrp_instance` block says about its VMAC, as written.
#[derive(Debug, Default)]
pub(crate) struct VmacDraft {
    /// `use_vmac [NAME]`.
    pub use_vmac: Option<(Option<String>, Pos)>,
    pub xmit_base: Option<Pos>,
}

impl VmacDraft {
    /// The instance's [`Vmac`], if it has one; the default name is left empty for
    /// [`assign_default_names`].
    pub fn finish(&self, name: &str, unicast: bool, diags: &mut Diags) -> Option<Vmac> {
        let Some((ifname, pos)) = &self.use_vmac else {
            if let Some(at) = &self.xmit_base {
                diags.warn(
                    at,
                    format!("vrrp_instance {name}: `vmac_xmit_base` without `use_vmac` has no effect, as in keepalived"),
                );
            }
            return None;
        };
        let mut xmit_base = self.xmit_base.is_some();
        if unicast && !xmit_base {
            diags.warn(
                pos,
                format!(
                    "vrrp_instance {name}: unicast adverts with `use_vmac` are sent from the base \
                     interface; `vmac_xmit_base` is implied, as keepalived sets it"
                ),
            );
            xmit_base = true;
        }
        Some(Vmac {
            name: ifname.clone().unwrap_or_default(),
            named: ifname.is_some(),
            xmit_base,
        })
    }
}

/// Names the VMACs that were not named, as keepalived does (module docs), and refuses two
/// instances naming the same interface.
pub(crate) fn assign_default_names(instances: &mut [Instance], diags: &mut Diags) {
    let mut taken: Vec<String> = Vec::new();
    for inst in instances.iter() {
        let Some(v) = inst.vmac.as_ref().filter(|v| v.named) else {
            continue;
        };
        if taken.contains(&v.name) {
            diags.error(
                &inst.location,
                format!(
                    "vrrp_instance {}: `use_vmac {}` names an interface another instance already \
                     uses for its VMAC: give each instance its own name",
                    inst.name, v.name
                ),
            );
        }
        taken.push(v.name.clone());
    }
    for inst in instances.iter_mut() {
        let (family, vrid) = (inst.family, inst.vrid);
        let Some(v) = inst.vmac.as_mut().filter(|v| !v.named) else {
            continue;
        };
        let name = default_names(family, vrid)
            .find(|n| !taken.contains(n))
            .unwrap_or_else(|| format!("vrrp.{vrid}"));
        taken.push(name.clone());
        v.name = name;
    }
}

/// keepalived's candidates for an unnamed VMAC, in order.
fn default_names(family: Family, vrid: u8) -> impl Iterator<Item = String> {
    let prefixes: Vec<String> = match family {
        Family::V4 => std::iter::once(String::new())
            .chain((1..100).map(|n| n.to_string()))
            .collect(),
        Family::V6 => ["".to_string(), "6".to_string()]
            .into_iter()
            .chain((1..100).filter(|n| *n != 6).map(|n| n.to_string()))
            .collect(),
    };
    prefixes.into_iter().map(move |p| format!("vrrp{p}.{vrid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> crate::config::Loaded {
        crate::config::parse_str(text, std::path::Path::new("t.conf")).expect("loads")
    }

    fn inst(vrid: u8, family6: bool, extra: &str) -> String {
        let vip = if family6 { "2001:db8::1" } else { "198.18.0.1" };
        format!(
            "vrrp_instance I{vrid}{family6} {{\n interface lo0x\n virtual_router_id {vrid}\n \
             priority 100\n {extra}\n virtual_ipaddress {{ {vip} }}\n}}\n"
        )
    }

    #[test]
    fn virtual_macs_follow_rfc_9568() {
        assert_eq!(virtual_mac(Family::V4, 7), [0, 0, 0x5e, 0, 1, 7]);
        assert_eq!(virtual_mac(Family::V6, 255), [0, 0, 0x5e, 0, 2, 255]);
    }

    #[test]
    fn default_names_are_keepalivds() {
        let text = inst(5, false, "use_vmac")
            + &inst(5, true, "use_vmac")
            + &inst(6, false, "use_vmac vrrp.5x\n vmac_xmit_base");
        let l = load(&text);
        let v: Vec<_> = l
            .config
            .instances
            .iter()
            .map(|i| i.vmac.clone().unwrap())
            .collect();
        assert_eq!(v[0].name, "vrrp.5");
        assert_eq!(v[1].name, "vrrp6.5");
        assert_eq!(
            (v[2].name.as_str(), v[2].named, v[2].xmit_base),
            ("vrrp.5x", true, true)
        );
        assert!(!v[0].xmit_base);
    }

    #[test]
    fn unicast_implies_xmit_base_and_xmit_base_alone_warns() {
        let l = load(&inst(
            9,
            false,
            "use_vmac\n unicast_src_ip 198.18.0.2\n unicast_peer { 198.18.0.3 }",
        ));
        assert!(l.config.instances[0].vmac.as_ref().unwrap().xmit_base);
        assert!(l
            .warnings
            .iter()
            .any(|w| w.message.contains("vmac_xmit_base` is implied")));
        let l = load(&inst(9, false, "vmac_xmit_base"));
        assert!(l.config.instances[0].vmac.is_none());
        assert!(l
            .warnings
            .iter()
            .any(|w| w.message.contains("without `use_vmac`")));
    }

    #[test]
    fn bad_names_and_duplicates_are_errors() {
        for bad in [
            "use_vmac averylonginterfacename",
            "use_vmac a/b",
            "use_vmac 00:11:22:33:44:55",
        ] {
            let e = crate::config::parse_str(&inst(3, false, bad), std::path::Path::new("t.conf"))
                .expect_err(bad);
            assert!(e.to_string().contains("t.conf:5:"), "{bad}: {e}");
        }
        let text = inst(3, false, "use_vmac vm0") + &inst(4, false, "use_vmac vm0");
        let e = crate::config::parse_str(&text, std::path::Path::new("t.conf")).expect_err("dup");
        assert!(e.to_string().contains("another instance"), "{e}");
    }
}
