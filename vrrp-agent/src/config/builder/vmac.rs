//! `use_vmac [NAME]` and `vmac_xmit_base` in a `vrrp_instance` (see `config::vmac`).
use super::Builder;
use crate::config::{parser::Stmt, vmac::VmacDraft};

impl Builder<'_> {
    /// The VMAC keywords; false if `kw` is not one of them.
    pub(super) fn vmac_keyword(&mut self, kw: &str, stmt: &Stmt, d: &mut VmacDraft) -> bool {
        match kw {
            "use_vmac" => {
                let Some(args) = self.values(stmt, 0, 1, "use_vmac [NAME]") else {
                    return true;
                };
                let name = match args.first() {
                    None => None,
                    Some(w) if w.text.contains(':') => {
                        self.diags.error(
                            &w.pos,
                            format!(
                                "`use_vmac {}`: a MAC address other than the RFC's \
                                 00:00:5e:00:01:VRID / 00:00:5e:00:02:VRID is not supported \
                                 yet; remove it",
                                w.text
                            ),
                        );
                        return true;
                    }
                    Some(w) => {
                        if !self.ifname(w, "use_vmac") {
                            return true;
                        }
                        Some(w.text.clone())
                    }
                };
                d.use_vmac = Some((name, stmt.pos().clone()));
            }
            "vmac_xmit_base" => {
                self.flag(stmt);
                d.xmit_base = Some(stmt.pos().clone());
            }
            _ => return false,
        }
        true
    }
}
