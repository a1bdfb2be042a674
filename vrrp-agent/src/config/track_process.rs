//! `vrrp_track_process NAME { ... }`: keepalived 2.2.7's keywords and limits
//! (`vrrp_parser.c`, `vrrp_tprocess_*_handler`). A child module of the builder, so it uses its
//! helpers; the block's result is a [`TrackProcessDef`].
use std::time::Duration;

use super::{did_you_mean, Block, Builder, Context, Parent, Stmt, TrackProcessDef, Word};
use crate::config::{diagnostics::Diags, Config, ParamMatch, TrackRef};

/// keepalived's limit on `quorum` and `quorum_max`.
const QUORUM_MAX: u32 = 65535;
/// keepalived's limit on the delays: 0.000001 to 3600 seconds.
const DELAY_MAX: Duration = Duration::from_secs(3600);
/// The kernel keeps a process's `comm` in 16 bytes with the NUL (TASK_COMM_LEN).
pub(crate) const COMM_MAX: usize = 15;

impl Builder<'_> {
    pub(super) fn track_process_def(&mut self, stmt: &Stmt, name: &Word, block: &Block) {
        let parent = Parent {
            ctx: Context::TrackProcess,
            label: format!("vrrp_track_process {}", name.text),
            open: block.open.clone(),
        };
        let mut process: Option<(String, Vec<String>)> = None;
        let mut param_match: Option<ParamMatch> = None;
        let mut full_command = false;
        let mut weight = 0;
        let mut reverse = false;
        let mut quorum: Option<(u32, &Word)> = None;
        let mut quorum_max: Option<u32> = None;
        let mut fork_delay = None;
        let mut terminate_delay = None;
        for line in &block.stmts {
            let Some(kw) = self.classify(Context::TrackProcess, line, Some(&parent)) else {
                continue;
            };
            match kw {
                "process" => {
                    let Some(args) =
                        self.values(line, 1, usize::MAX, "process NAME [PARAMETERS...]")
                    else {
                        continue;
                    };
                    if process.is_some() {
                        self.diags.warn(
                            line.pos(),
                            format!(
                                "the process of {} is already set: this one is ignored, as \
                                 keepalived ignores it",
                                parent.label
                            ),
                        );
                        continue;
                    }
                    if args[0].text.is_empty() {
                        self.diags.error(&args[0].pos, "the process name is empty");
                        continue;
                    }
                    let params: Vec<String> = args[1..].iter().map(|w| w.text.clone()).collect();
                    process = Some((args[0].text.clone(), params));
                }
                "param_match" => {
                    let Some(args) = self.values(line, 0, 1, "param_match [exact|partial|initial]")
                    else {
                        continue;
                    };
                    let m = match args.first().map(|w| w.text.as_str()) {
                        None | Some("exact") => ParamMatch::Exact,
                        Some("partial") => ParamMatch::Partial,
                        Some("initial") => ParamMatch::Initial,
                        Some(other) => {
                            self.diags.error(
                                &args[0].pos,
                                format!(
                                    "unknown param_match `{other}`: expected exact, partial or \
                                     initial{}",
                                    did_you_mean(other, ["exact", "partial", "initial"])
                                ),
                            );
                            continue;
                        }
                    };
                    param_match = Some(m);
                    full_command = true;
                }
                "weight" => {
                    let Some(args) = self.values(line, 1, 2, "weight N [reverse]") else {
                        continue;
                    };
                    // keepalived keeps a weight other than 0 ("Weight already set") and
                    // ignores the line for one outside -254..254.
                    if weight != 0 {
                        let what = format!("a second `weight` in {}", parent.label);
                        let says = "Weight already set for track process - ignoring";
                        let result = "keeps the weight set before";
                        self.keepalived_ignores(line.pos(), &what, says, result);
                        continue;
                    }
                    let w = &args[0];
                    let says = "Weight for vrrp_track_process must be between [-254..254]";
                    let range = (-254, 254);
                    let Some(v) = self.c_int(w, kw, range, true, true, says, "ignores the line")
                    else {
                        continue;
                    };
                    weight = i32::try_from(v).unwrap_or(0);
                    match args.get(1) {
                        None => {}
                        Some(w) if w.text == "reverse" => reverse = true,
                        Some(w) => {
                            let what = format!("`{}` after the weight of {}", w.text, parent.label);
                            let says = "unknown weight option";
                            let result = "ignores it (only `reverse` may follow)";
                            self.keepalived_ignores(&w.pos, &what, says, result);
                        }
                    }
                }
                "quorum" => {
                    if let Some(w) = self.single(line, "a number of processes, 1 to 65535") {
                        if let Some(v) = self.u32_in(w, kw, 1, QUORUM_MAX, "1 to 65535") {
                            quorum = Some((v, w));
                        }
                    }
                }
                "quorum_max" => {
                    if let Some(w) = self.single(line, "a number of processes, 0 to 65535") {
                        if let Some(v) = self.u32_in(w, kw, 0, QUORUM_MAX, "0 to 65535") {
                            quorum_max = Some(v);
                        }
                    }
                }
                "delay" | "terminate_delay" | "fork_delay" => {
                    let Some(w) = self.single(line, "seconds, 0.000001 to 3600") else {
                        continue;
                    };
                    let Some(d) = self.seconds_upto(w, kw, DELAY_MAX, "0.000001 to 3600 seconds")
                    else {
                        continue;
                    };
                    if d < Duration::from_micros(1) {
                        self.diags.error(
                            &w.pos,
                            format!("`{kw}` {} is out of range: expected 0.000001 to 3600 seconds (leave it out for no delay)", w.text),
                        );
                        continue;
                    }
                    if kw != "fork_delay" {
                        terminate_delay = Some(d);
                    }
                    if kw != "terminate_delay" {
                        fork_delay = Some(d);
                    }
                }
                "full_command" => {
                    self.flag(line);
                    full_command = true;
                }
                _ => self.internal(line),
            }
        }
        let Some((process, params)) = process else {
            self.diags.error(
                stmt.pos(),
                format!(
                    "vrrp_track_process {} has no `process`: add `process NAME` (the process's \
                     name, e.g. `process haproxy`)",
                    name.text
                ),
            );
            return;
        };
        // Parameters imply matching them exactly (unless param_match says otherwise) against
        // the command line.
        if !params.is_empty() {
            full_command = true;
            param_match.get_or_insert(ParamMatch::Exact);
        }
        if !full_command && process.len() > COMM_MAX {
            self.diags.warn(
                stmt.pos(),
                format!(
                    "vrrp_track_process {}: `{process}` is longer than the {COMM_MAX} characters the \
                     kernel keeps as a process's name, so no process can match it; add \
                     `full_command` to match the command line instead",
                    name.text
                ),
            );
        }
        // quorum_max 0 without quorum: "the process must not run" (quorum 0).
        let quorum_max = quorum_max.unwrap_or(u32::MAX);
        let quorum = match quorum {
            Some((q, w)) => {
                if q > quorum_max {
                    self.diags.error(
                        &w.pos,
                        format!(
                            "quorum {q} is greater than quorum_max {quorum_max} in \
                             vrrp_track_process {}: no number of processes could satisfy both",
                            name.text
                        ),
                    );
                }
                q
            }
            None if quorum_max == 0 => 0,
            None => 1,
        };
        self.out.track_processes.push(TrackProcessDef {
            name: name.text.clone(),
            location: stmt.pos().location(),
            process,
            params,
            param_match: param_match.unwrap_or_default(),
            full_command,
            weight,
            reverse,
            quorum,
            quorum_max,
            fork_delay,
            terminate_delay,
        });
    }
}

/// Every `track_process` reference names a `vrrp_track_process` (keepalived only warns and
/// runs without it; here it is an error, like the other track references).
pub(crate) fn check_refs(config: &Config, refs: &[TrackRef], diags: &mut Diags) {
    for r in refs {
        if config.track_process(&r.name).is_none() {
            diags.error(
                &r.location,
                format!(
                    "track_process `{}` names no vrrp_track_process{} (define it with \
                     `vrrp_track_process {} {{ process NAME }}` or remove the line)",
                    r.name,
                    did_you_mean(
                        &r.name,
                        config.track_processes.iter().map(|p| p.name.as_str())
                    ),
                    r.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Duration};

    use crate::config::{parse_str, ParamMatch};

    fn conf(block: &str, track: &str) -> String {
        format!(
            "vrrp_track_process P {{\n{block}\n}}\nvrrp_instance VI {{\n interface lo0x\n \
             virtual_router_id 1\n virtual_ipaddress {{ 198.18.0.1 }}\n track_process {{\n{track}\n }}\n}}\n"
        )
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_str(text, Path::new("/x/keepalived.conf")) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|d| d.message).collect(),
        }
    }

    #[test]
    fn defaults_and_every_keyword() {
        let c = parse_str(
            &conf("process haproxy", "P"),
            Path::new("/x/keepalived.conf"),
        )
        .unwrap()
        .config;
        let p = c.track_process("P").unwrap();
        assert_eq!(p.process, "haproxy");
        assert!(p.params.is_empty());
        assert_eq!(p.param_match, ParamMatch::None);
        assert!(!p.full_command);
        assert_eq!((p.weight, p.reverse), (0, false));
        assert_eq!((p.quorum, p.quorum_max), (1, u32::MAX));
        assert_eq!((p.fork_delay, p.terminate_delay), (None, None));
        assert_eq!(c.instances[0].track_processes[0].name, "P");

        let c = parse_str(
            &conf(
                "process /usr/sbin/nginx -g daemon\nparam_match partial\nweight -20 reverse\n\
                 quorum 2\nquorum_max 4\ndelay 1.5\nfork_delay 0.25",
                "P weight 10",
            ),
            Path::new("/x/keepalived.conf"),
        )
        .unwrap()
        .config;
        let p = c.track_process("P").unwrap();
        assert_eq!(p.process, "/usr/sbin/nginx");
        assert_eq!(p.params, ["-g", "daemon"]);
        assert_eq!(p.param_match, ParamMatch::Partial);
        assert!(p.full_command);
        assert_eq!((p.weight, p.reverse), (-20, true));
        assert_eq!((p.quorum, p.quorum_max), (2, 4));
        assert_eq!(p.terminate_delay, Some(Duration::from_millis(1500)));
        assert_eq!(p.fork_delay, Some(Duration::from_millis(250)));
        assert_eq!(c.instances[0].track_processes[0].weight, Some(10));
    }

    #[test]
    fn parameters_imply_exact_full_command() {
        let c = parse_str(&conf("process sleep 100", "P"), Path::new("/x/k.conf"))
            .unwrap()
            .config;
        let p = c.track_process("P").unwrap();
        assert_eq!(p.param_match, ParamMatch::Exact);
        assert!(p.full_command);
    }

    #[test]
    fn quorum_max_zero_means_must_not_run() {
        let c = parse_str(
            &conf("process x\nquorum_max 0", "P"),
            Path::new("/x/k.conf"),
        )
        .unwrap()
        .config;
        let p = c.track_process("P").unwrap();
        assert_eq!((p.quorum, p.quorum_max), (0, 0));
    }

    #[test]
    fn bad_values_are_errors() {
        for (block, want) in [
            ("process x\nquorum 0", "out of range"),
            (
                "process x\nquorum 3\nquorum_max 2",
                "greater than quorum_max",
            ),
            ("process x\ndelay 0", "out of range"),
            ("process x\ndelay 3601", "out of range"),
            ("process x\nparam_match fuzzy", "unknown param_match"),
            ("process x\nwieght 2", "did you mean `weight`"),
        ] {
            let errs = errors(&conf(block, "P"));
            assert!(errs.iter().any(|e| e.contains(want)), "{block}: {errs:?}");
        }
        let errs = errors(&conf("weight 2", "P"));
        assert!(
            errs.iter().any(|e| e.contains("has no `process`")),
            "{errs:?}"
        );
        let errs = errors(&conf("process x", "Q"));
        assert!(
            errs.iter()
                .any(|e| e.contains("names no vrrp_track_process")),
            "{errs:?}"
        );
        // keepalived ignores a weight outside -254..254: the definition's weight is used.
        let l = parse_str(&conf("process x", "P weight 300"), Path::new("/x/k.conf")).unwrap();
        assert_eq!(l.config.instances[0].track_processes[0].weight, None);
        assert!(l
            .warnings
            .iter()
            .any(|w| w.line == 9 && w.category == crate::config::Category::KeepalivedIgnores));
    }

    #[test]
    fn sync_groups_track_processes() {
        let text = format!(
            "{}vrrp_instance VI2 {{\n interface lo0x\n virtual_router_id 2\n virtual_ipaddress {{ \
             198.18.0.2 }}\n}}\nvrrp_sync_group G {{\n group {{ VI VI2 }}\n track_process {{\n P \
             weight 0\n }}\n}}\n",
            conf("process x", "P")
        );
        let c = parse_str(&text, Path::new("/x/k.conf")).unwrap().config;
        assert_eq!(c.sync_groups[0].track_processes[0].name, "P");
    }
}
