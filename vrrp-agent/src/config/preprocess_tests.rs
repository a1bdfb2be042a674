//! keepalived's preprocessor: conditional lines, parameters, sequences, and where diagnostics
//! point inside expanded text.
use std::{fs, path::Path, rc::Rc};

use super::{
    diagnostics::Diags,
    parse_str_as,
    preprocess::{Line, Preprocessor},
    Diagnostic,
};

/// The lines `text` becomes for config id `id`: (line number, text) with blank lines dropped.
fn expand(text: &str, id: &str) -> (Vec<(u32, String)>, Vec<Diagnostic>, Vec<Diagnostic>) {
    let file: Rc<Path> = Rc::from(Path::new("/etc/keepalived/t.conf"));
    let mut diags = Diags::default();
    let mut pre = Preprocessor::new(id);
    pre.enter_file(Path::new("/etc/keepalived"));
    let mut out: Vec<Line> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        pre.feed(&file, i as u32 + 1, raw, &mut diags, &mut out);
    }
    pre.leave_file();
    let (errors, warnings) = diags.finish();
    let lines = out
        .into_iter()
        .filter(|l| !l.text.trim().is_empty())
        .map(|l| (l.line, l.text.trim().to_owned()))
        .collect();
    (lines, errors, warnings)
}

fn texts(text: &str, id: &str) -> Vec<String> {
    expand(text, id).0.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = "@main router_id main_router\n@backup router_id backup_router\n\
                @^main 198.18.0.1\n@^backup 198.18.0.2\nplain";
    assert_eq!(
        texts(text, "main"),
        ["router_id main_router", "198.18.0.2", "plain"]
    );
    assert_eq!(
        texts(text, "backup"),
        ["router_id backup_router", "198.18.0.1", "plain"]
    );
    assert_eq!(texts(text, "other"), ["198.18.0.1", "198.18.0.2", "plain"]);
}

#[test]
fn a_config_id_no_condition_names_is_worth_a_hint() {
    let text = format!("{BASE}    @lb1 priority 150\n    virtual_ipaddress {{\n        198.18.0.10/24\n    }}\n}}\n");
    let l = parse_str_as(&text, Path::new("t.conf"), "web7").expect("usable");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.line == 4 && w.message.contains("name lb1 but the config id is `web7`")),
        "{:?}",
        l.warnings
    );
    let l = parse_str_as(&text, Path::new("t.conf"), "lb1").expect("usable");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn a_kept_conditional_line_keeps_its_columns() {
    let file = "  @lb1 priority 150\n";
    let (lines, _, _) = expand(file, "lb1");
    assert_eq!(lines, [(1, "priority 150".to_owned())]);
    let file: Rc<Path> = Rc::from(Path::new("t.conf"));
    let mut diags = Diags::default();
    let mut pre = Preprocessor::new("lb1");
    let mut out = Vec::new();
    pre.feed(&file, 1, "  @lb1 priority 150", &mut diags, &mut out);
    assert_eq!(out[0].text.find("priority"), Some(7));
}

#[test]
fn a_condition_with_nothing_after_it_drops_the_line_with_a_warning() {
    let (lines, errors, warnings) = expand("@main\nx", "main");
    assert_eq!(lines, [(2, "x".to_owned())]);
    assert!(errors.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.contains("keepalived ignores the line"));
}

#[test]
fn parameters_are_replaced_recursively_at_use_time() {
    // keepalived.conf(5)'s own example.
    let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32";
    assert_eq!(texts(text, "x"), ["10.2.0.100/32", "10.2.10.100/32"]);
}

#[test]
fn bare_references_need_a_separator_after_them() {
    let text = "$P=240\npriority $P\nx $P,y\nx $Pz\nx ${P}z\nx $UNDEFINED ${UNDEF}";
    assert_eq!(
        texts(text, "x"),
        [
            "priority 240",
            "x 240,y",
            "x $Pz",
            "x 240z",
            "x $UNDEFINED ${UNDEF}"
        ]
    );
}

#[test]
fn a_space_before_the_equals_sign_is_not_a_definition() {
    assert_eq!(texts("$P =1\npriority $P", "x"), ["$P =1", "priority $P"]);
}

#[test]
fn definitions_work_with_conditions() {
    let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                $IF_MAIN=@main\n$IF_MAIN nopreempt";
    assert_eq!(texts(text, "main"), ["priority 240", "nopreempt"]);
    assert_eq!(texts(text, "backup"), ["priority 200"]);
}

#[test]
fn comments_end_a_definition_but_not_a_quoted_value() {
    let text = "$P=100 # the priority\npriority $P\n$S=\"/bin/x # y\"\nscript $S";
    assert_eq!(texts(text, "x"), ["priority 100", "script \"/bin/x # y\""]);
}

#[test]
fn multiline_definitions_expand_where_they_are_written() {
    let text = "$INST= \\\n\
                vrrp_instance VI_${NUM} { \\\n\
                \x20   interface eth${NUM} \\\n\
                \x20   @high priority 130 \\\n\
                \x20   @low priority 120 \\\n\
                }\n\
                \n\
                $NUM=0\n\
                $INST\n\
                $NUM=1\n\
                $INST";
    let (lines, errors, _) = expand(text, "high");
    assert!(errors.is_empty(), "{errors:?}");
    let want: Vec<(u32, String)> = [
        (2, "vrrp_instance VI_0 {"),
        (3, "interface eth0"),
        (4, "priority 130"),
        (6, "}"),
        (2, "vrrp_instance VI_1 {"),
        (3, "interface eth1"),
        (4, "priority 130"),
        (6, "}"),
    ]
    .into_iter()
    .map(|(n, t)| (n, t.to_owned()))
    .collect();
    assert_eq!(lines, want);
}

#[test]
fn a_multiline_parameter_in_the_middle_of_a_line_is_not_replaced() {
    let text = "$M=a \\\nb\nx $M y";
    assert_eq!(texts(text, "x"), ["x $M y"]);
}

#[test]
fn nested_multiline_definitions_and_definitions_inside_them() {
    let text = "$RS= \\\nreal ${VS}.${RS_NUM}\n\n$VS_DEF= \\\nvs ${VS} { \\\n$RS_NUM=1 \\\n$RS \\\n$RS_NUM=2 \\\n$RS \\\n}\n\n$VS=7\n$VS_DEF";
    assert_eq!(texts(text, "x"), ["vs 7 {", "real 7.1", "real 7.2", "}"]);
}

#[test]
fn sequences_and_lists() {
    assert_eq!(
        texts("~SEQ(SUBNET, 0, 3) ip 10.0.${SUBNET}.1", "x"),
        ["ip 10.0.0.1", "ip 10.0.1.1", "ip 10.0.2.1", "ip 10.0.3.1"]
    );
    assert_eq!(
        texts("~SEQx(S, 0x90, 0x10, 0xc0) fe80::20:${S}:1", "x"),
        [
            "fe80::20:90:1",
            "fe80::20:a0:1",
            "fe80::20:b0:1",
            "fe80::20:c0:1"
        ]
    );
    assert_eq!(texts("~SEQ(N, 3) n$N", "x"), ["n1", "n2", "n3"]);
    assert_eq!(texts("~SEQ(N, 5, 3) ${N}", "x"), ["5", "4", "3"]);
    assert_eq!(
        texts(
            "~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,170) 192.${IP2}.${IP}.${IP1}",
            "x"
        ),
        [
            "192.168.10.1",
            "192.170.10.1",
            "192.168.20.4",
            "192.170.20.4"
        ]
    );
    assert_eq!(texts("$LAST=2\n~SEQ(I, 1, $LAST) ${I}", "x"), ["1", "2"]);
}

#[test]
fn an_invalid_sequence_is_dropped_with_a_warning() {
    let (lines, errors, warnings) = expand("~SEQ(I, 1, 0, 3) x\nafter", "x");
    assert_eq!(lines, [(2, "after".to_owned())]);
    assert!(errors.is_empty());
    assert!(warnings[0].message.contains("invalid sequence"));
}

#[test]
fn predefined_parameters() {
    assert_eq!(
        texts("${_INSTANCE} ${_PWD} a${_HASH}b${_BANG}", "lb1"),
        ["lb1 /etc/keepalived a#b!"]
    );
    for _ in 0..50 {
        let v: u32 = texts("${_RANDOM 5 7}", "x")[0].parse().unwrap_or(0);
        assert!((5..=7).contains(&v), "{v}");
    }
}

#[test]
fn self_referencing_parameters_end_with_an_error() {
    let (lines, errors, _) = expand("$A=x$A\n$B=${B}${B}\ny ${B}\nz", "x");
    assert_eq!(lines, [(4, "z".to_owned())]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 3);
    let (_, errors, _) = expand("$M= \\\n$M\n\n$M", "x");
    assert!(errors
        .iter()
        .any(|e| e.message.contains("nested more than")));
}

#[test]
fn huge_sequences_are_capped() {
    let (lines, errors, _) = expand("~SEQ(A,1,1200) ~SEQ(B,1,1200) ${A}.${B}", "x");
    assert_eq!(lines.len(), 1_000_000);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("more than 1000000 lines"));
    // Multi-line parameters of 100 lines each using the next: 100^4 lines, stopped at the
    // cap without walking the rest.
    let mut text = String::new();
    for (name, next) in [("A", "$B"), ("B", "$C"), ("C", "$D"), ("D", "x")] {
        text.push_str(&format!("${name}= \\\n"));
        for _ in 0..99 {
            text.push_str(&format!("{next} \\\n"));
        }
        text.push_str(&format!("{next}\n\n"));
    }
    text.push_str("$A\n");
    let started = std::time::Instant::now();
    let (lines, errors, _) = expand(&text, "x");
    // The cap counts the blank lines too (the ones ending the definitions).
    assert!(
        (999_990..=1_000_000).contains(&lines.len()),
        "{}",
        lines.len()
    );
    assert_eq!(errors.len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let (lines, errors, _) = expand("~SEQ(A,1,100000000) ${A}", "x");
    assert!(lines.is_empty());
    assert!(errors[0].message.contains("more than 65536 values"));
}

const BASE: &str = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n";

#[test]
fn an_error_in_a_parameter_points_at_the_use_and_the_definition() {
    let text =
        "$VRID=300\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id $VRID\n    \
                virtual_ipaddress {\n        198.18.0.10/24\n    }\n}\n";
    let e = parse_str_as(text, Path::new("t.conf"), "x").unwrap_err();
    let err = &e.errors[0];
    assert_eq!(err.line, 4);
    assert!(
        err.message.contains("`$VRID` is defined at t.conf:1"),
        "{}",
        err.message
    );
}

#[test]
fn an_error_in_a_multiline_parameter_points_at_its_line_and_the_use() {
    let text = format!(
        "$VIPS= \\\n  198.18.0.10/24 \\\n  198.18.0.11/24 dve eth0\n\n{BASE}    virtual_ipaddress {{\n        $VIPS\n    }}\n}}\n"
    );
    let e = parse_str_as(&text, Path::new("t.conf"), "x").unwrap_err();
    let err = &e.errors[0];
    assert_eq!(err.line, 3, "{err}");
    assert!(
        err.message
            .contains("multi-line parameter `$VIPS` used at t.conf:9"),
        "{}",
        err.message
    );
}

#[test]
fn one_file_for_two_routers() {
    let text = "$VIP=198.18.0.10/24\n\
                vrrp_instance VI_1 {\n\
                \x20   @lb1 state MASTER\n\
                \x20   @^lb1 state BACKUP\n\
                \x20   @lb1 priority 150\n\
                \x20   @lb2 priority 100\n\
                \x20   interface eth0\n\
                \x20   virtual_router_id 51\n\
                \x20   virtual_ipaddress {\n\
                \x20       $VIP\n\
                \x20   }\n\
                }\n";
    let one = parse_str_as(text, Path::new("t.conf"), "lb1").expect("lb1");
    let two = parse_str_as(text, Path::new("t.conf"), "lb2").expect("lb2");
    assert_eq!(one.config.instances[0].priority, 150);
    assert_eq!(two.config.instances[0].priority, 100);
    assert_eq!(
        one.config.instances[0].vips[0].addr.to_string(),
        "198.18.0.10"
    );
    assert_ne!(one.config.instances[0].state, two.config.instances[0].state);
}

#[test]
fn definitions_carry_over_includes_and_includes_may_be_expanded() {
    let dir = std::env::temp_dir().join(format!("vrrp-pp-{}", std::process::id()));
    fs::create_dir_all(dir.join("conf.d")).expect("dir");
    fs::write(dir.join("defs.conf"), "$IFACE=eth0\n$PART=conf.d\n$ID=9\n").expect("write");
    fs::write(
        dir.join("conf.d/vi.conf"),
        "vrrp_instance VI_1 {\n interface $IFACE\n virtual_router_id $ID\n \
         virtual_ipaddress {\n  198.18.0.9\n }\n}\n",
    )
    .expect("write");
    fs::write(
        dir.join("main.conf"),
        "include defs.conf\ninclude ${PART}/*.conf\n",
    )
    .expect("write");
    let r = super::load_as(&dir.join("main.conf"), "x");
    let _ = fs::remove_dir_all(&dir);
    let loaded = r.expect("loads");
    assert_eq!(loaded.config.instances[0].interface, "eth0");
    assert_eq!(loaded.config.instances[0].vrid, 9);
}
