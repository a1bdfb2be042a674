//! keepalived's configuration preprocessor, applied line by line before the lexer.
//!
//! As keepalived.conf(5) ("ADVANCED CONFIGURATION") and keepalived 2.2.7's `read_line`
//! define it:
//! - `@ID text` keeps `text` only when ID is the config id (`--config-id`, keepalived's `-i`;
//!   default: the host name up to its first dot); `@^ID text` only when it is not;
//! - `$NAME=VALUE` defines a parameter (no space before `=`); a VALUE ending in `\` goes on
//!   on the next lines (a multi-line definition), until a line without `\` or an empty line;
//! - `$NAME` (followed by a blank, `,`, `)` or the end of the line) and `${NAME}` anywhere
//!   are replaced by the value, again and again (the value may use other parameters), also
//!   inside quotes; an undefined parameter stays as written; a multi-line parameter is
//!   replaced only at the end of a line, and its further lines follow that line;
//! - `~SEQ(VAR, START, STEP, END) text`, `~SEQx(...)` (hexadecimal) and
//!   `~LST(VAR, V1, V2, ...)` / `~LST({A, B}, {1, 2}, {3, 4}) text` repeat `text` with `$VAR`
//!   set to each value; they nest;
//! - predefined: `${_PWD}` (the directory of the file being read), `${_INSTANCE}` (the config
//!   id), `${_RANDOM [MIN [MAX]]}`, `${_HASH}` (`#`) and `${_BANG}` (`!`).
//!
//! Every produced line keeps the file and line where its text was written; text that came
//! from a parameter carries a note naming the use (or the definition), which every
//! diagnostic pointing there repeats. Hostile input is bounded: nesting depth, replacements
//! per line, line length and the number of produced lines are capped, with an error.
use std::{collections::HashMap, path::Path, rc::Rc, sync::OnceLock};

use super::diagnostics::{Category, Diags, Pos};

/// Nested expansions (multi-line parameters, sequences) deeper than this are an error.
const MAX_DEPTH: usize = 32;
/// Replacements in one line beyond this are an error (a parameter that uses itself).
const MAX_REPLACEMENTS: usize = 1000;
/// A line that grows beyond this by replacements is an error.
const MAX_LINE: usize = 64 * 1024;
/// Produced lines beyond this (for all files together) are an error.
const MAX_LINES: usize = 1_000_000;
/// Values of one `~SEQ` beyond this are an error (keepalived.conf(5)'s largest example
/// nests sequences of 8, 32 and 254 values).
const MAX_SEQ_VALUES: usize = 65_536;

static CONFIG_ID: OnceLock<String> = OnceLock::new();

/// Sets the config id used by [`super::load`] and [`super::parse_str`] for this process
/// (`vrrp-agent run|check --config-id`). Only the first call has an effect.
pub fn set_config_id(id: &str) {
    let _ = CONFIG_ID.set(id.to_owned());
}

/// The config id: the one set with [`set_config_id`], else the host name up to its first
/// dot, as keepalived does.
pub fn config_id() -> String {
    if let Some(id) = CONFIG_ID.get() {
        return id.clone();
    }
    short_hostname()
}

fn short_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    name.split('.').next().unwrap_or("").to_owned()
}

/// One line after preprocessing.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub file: Rc<Path>,
    /// The line where this text was written.
    pub line: u32,
    pub text: String,
    /// Where the text came from, when a parameter produced it.
    pub note: Option<Rc<str>>,
}

#[derive(Debug, Clone)]
struct Def {
    /// The value's lines, each with the line it was written on.
    lines: Vec<(String, u32)>,
    multiline: bool,
    file: Rc<Path>,
    line: u32,
}

#[derive(Debug, Clone)]
struct Origin {
    file: Rc<Path>,
    line: u32,
    note: Option<Rc<str>>,
}

impl Origin {
    fn pos(&self) -> Pos {
        Pos::with_note(&self.file, self.line, 1, self.note.as_ref())
    }
}

/// The preprocessor's state; parameters stay defined across included files, as in
/// keepalived.
pub(crate) struct Preprocessor {
    config_id: String,
    defs: HashMap<String, Def>,
    /// The multi-line definition being read.
    pending: Option<String>,
    /// The directories of the files being read (for `${_PWD}`).
    dirs: Vec<String>,
    produced: usize,
    random: u64,
    overflow_reported: bool,
    /// The ids named by `@ID` / `@^ID` lines (the first place each is used), and whether
    /// one of them was the config id.
    ids: Vec<(String, Pos)>,
    id_matched: bool,
}

impl Preprocessor {
    pub fn new(config_id: &str) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        Preprocessor {
            config_id: config_id.to_owned(),
            defs: HashMap::new(),
            pending: None,
            dirs: Vec::new(),
            produced: 0,
            random: seed | 1,
            overflow_reported: false,
            ids: Vec::new(),
            id_matched: false,
        }
    }

    /// A file starts being read; `dir` is its directory (for `${_PWD}`).
    pub fn enter_file(&mut self, dir: &Path) {
        self.dirs.push(dir.display().to_string());
    }

    /// The current file ends: an open multi-line definition ends with it.
    pub fn leave_file(&mut self) {
        self.pending = None;
        self.dirs.pop();
    }

    /// After the last file: a hint when `@ID` lines exist but none names the config id
    /// (a forgotten `--config-id`: keepalived too then keeps only the `@^ID` lines).
    pub fn finish(&self, diags: &mut Diags) {
        if self.id_matched {
            return;
        }
        if let Some((_, first)) = self.ids.first() {
            let names: Vec<&str> = self.ids.iter().map(|(i, _)| i.as_str()).collect();
            diags.warn(
                first,
                format!(
                    "the conditional lines name {} but the config id is `{}`, so only their \
                     `@^ID` lines apply (as in keepalived); give the id with --config-id (keepalived's \
                     -i) if this is not meant",
                    names.join(", "),
                    self.config_id
                ),
            );
        }
    }

    /// Preprocesses one physical line (without its `\n`), appending what it produces.
    pub fn feed(
        &mut self,
        file: &Rc<Path>,
        line_no: u32,
        raw: &str,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(name) = self.pending.clone() {
            if raw.is_empty() {
                self.pending = None;
                return;
            }
            let (code, _) = split_comment(raw);
            let code = code.trim();
            if code.is_empty() {
                // A comment line inside a definition: skipped, the definition goes on.
                return;
            }
            let (piece, more) = match code.strip_suffix('\\') {
                Some(rest) => (rest.trim_end(), true),
                None => (code, false),
            };
            if let Some(def) = self.defs.get_mut(&name) {
                if !piece.is_empty() {
                    def.lines.push((piece.to_owned(), line_no));
                }
            }
            if !more {
                self.pending = None;
            }
            return;
        }
        let origin = Origin {
            file: Rc::clone(file),
            line: line_no,
            note: None,
        };
        self.process(raw.to_owned(), &origin, 0, diags, out);
    }

    fn emit(&mut self, text: String, origin: &Origin, diags: &mut Diags, out: &mut Vec<Line>) {
        if self.produced >= MAX_LINES {
            if !self.overflow_reported {
                self.overflow_reported = true;
                diags.error(
                    &origin.pos(),
                    format!(
                        "the preprocessor produced more than {MAX_LINES} lines (a ~SEQ, ~LST or \
                         parameter that repeats too much); the rest is not read"
                    ),
                );
            }
            return;
        }
        self.produced += 1;
        out.push(Line {
            file: Rc::clone(&origin.file),
            line: origin.line,
            text,
            note: origin.note.clone(),
        });
    }

    fn process(
        &mut self,
        mut text: String,
        origin: &Origin,
        depth: usize,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        if self.overflow_reported {
            // Past the cap nothing more is produced; stop expanding at once.
            return;
        }
        if depth > MAX_DEPTH {
            diags.error(
                &origin.pos(),
                format!(
                    "parameters and sequences are nested more than {MAX_DEPTH} deep here (a \
                     multi-line parameter that uses itself?); this line is skipped"
                ),
            );
            return;
        }
        let mut origin = origin.clone();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let (code, _) = split_comment(&text);
            let lead = code.len() - code.trim_start().len();
            let body = code[lead..].to_owned();
            if body.is_empty() {
                self.emit(text, &origin, diags, out);
                return;
            }
            if let Some(rest) = body.strip_prefix('@') {
                let (rev, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let Some(id_end) = rest.find([' ', '\t']) else {
                    diags.warn_as(
                        Category::KeepalivedIgnores,
                        &origin.pos(),
                        format!(
                            "nothing follows `{body}` on this line: keepalived ignores the line, \
                             and so does this daemon"
                        ),
                    );
                    return;
                };
                let id = &rest[..id_end];
                if id == self.config_id {
                    self.id_matched = true;
                } else if self.ids.len() < 16 && !self.ids.iter().any(|(i, _)| i == id) {
                    self.ids.push((id.to_owned(), origin.pos()));
                }
                if (id == self.config_id) == rev {
                    return;
                }
                // Blank the condition, so that columns stay those of the file.
                let prefix = body.len() - rest.len() + id_end;
                text.replace_range(lead..lead + prefix, &" ".repeat(prefix));
                continue;
            }
            if body.starts_with('$') {
                if let Some((name, value)) = definition(&body) {
                    self.define(name, value, &origin);
                    return;
                }
            }
            if body.starts_with("~SEQ") || body.starts_with("~LST") {
                self.sequence(&body, &origin, depth, diags, out);
                return;
            }
            if body.starts_with('~') || !code.contains('$') || rounds > 8 {
                self.emit(text, &origin, diags, out);
                return;
            }
            match self.substitute(code, &origin, diags) {
                Substituted::Unchanged => {
                    self.emit(text, &origin, diags, out);
                    return;
                }
                Substituted::Failed => return,
                Substituted::Done {
                    text: new_text,
                    note,
                    rest,
                } => {
                    let comment = &text[code.len()..];
                    text = new_text + comment;
                    if origin.note.is_none() {
                        origin.note = note;
                    }
                    if let Some((name, first_line, lines, def_file, use_pos)) = rest {
                        // The first line of a multi-line value replaced the reference; the
                        // others follow. Each points at the line where it was written, with
                        // the use in its note.
                        let note: Rc<str> = Rc::from(format!(
                            "from the multi-line parameter `${name}` used at {use_pos}"
                        ));
                        let first = Origin {
                            file: Rc::clone(&def_file),
                            line: first_line,
                            note: Some(Rc::clone(&note)),
                        };
                        self.process(text, &first, depth + 1, diags, out);
                        for (line_text, line_no) in lines {
                            let o = Origin {
                                file: Rc::clone(&def_file),
                                line: line_no,
                                note: Some(Rc::clone(&note)),
                            };
                            self.process(line_text, &o, depth + 1, diags, out);
                        }
                        return;
                    }
                    let (code, _) = split_comment(&text);
                    let body = code.trim_start();
                    if !(body.starts_with('@') || body.starts_with('~') || body.starts_with('$')) {
                        self.emit(text, &origin, diags, out);
                        return;
                    }
                }
            }
        }
    }

    fn define(&mut self, name: &str, value: &str, origin: &Origin) {
        let value = value.trim_start();
        let (first, multiline) = match value.strip_suffix('\\') {
            Some(rest) => (rest.trim_end(), true),
            None => (value, false),
        };
        let mut lines = Vec::new();
        if !first.is_empty() || !multiline {
            lines.push((first.to_owned(), origin.line));
        }
        self.defs.insert(
            name.to_owned(),
            Def {
                lines,
                multiline,
                file: Rc::clone(&origin.file),
                line: origin.line,
            },
        );
        if multiline {
            self.pending = Some(name.to_owned());
        }
    }

    /// The value of a predefined parameter (unless the configuration redefined it).
    fn predefined(&mut self, name: &str, params: &[u64]) -> Option<String> {
        match name {
            "_PWD" => Some(self.dirs.last().cloned().unwrap_or_else(|| ".".to_owned())),
            "_INSTANCE" => Some(self.config_id.clone()),
            "_HASH" => Some("#".to_owned()),
            "_BANG" => Some("!".to_owned()),
            "_RANDOM" => {
                let min = params.first().copied().unwrap_or(0);
                let max = params.get(1).copied().unwrap_or(32767).max(min);
                // xorshift: keepalived's value is random too; only the range matters.
                self.random ^= self.random << 13;
                self.random ^= self.random >> 7;
                self.random ^= self.random << 17;
                let span = max - min + 1;
                Some((min + self.random % span).to_string())
            }
            _ => None,
        }
    }

    /// Replaces the parameters in `code`, rescanning each replacement.
    fn substitute(&mut self, code: &str, origin: &Origin, diags: &mut Diags) -> Substituted {
        let mut s = code.to_owned();
        let mut i = 0;
        let mut count = 0;
        let mut note: Option<Rc<str>> = None;
        let mut rest = None;
        while let Some(off) = s[i..].find('$') {
            let at = i + off;
            let Some(r) = reference(&s[at..]) else {
                i = at + 1;
                continue;
            };
            let ends_line = s[at + r.len..].trim().is_empty();
            let (value, def_note) = match self.defs.get(r.name) {
                Some(def) if def.multiline && !ends_line => {
                    i = at + 1;
                    continue;
                }
                Some(def) => {
                    let first = def
                        .lines
                        .first()
                        .map(|(t, _)| t.clone())
                        .unwrap_or_default();
                    if def.multiline {
                        rest = Some((
                            r.name.to_owned(),
                            def.lines.first().map_or(def.line, |(_, n)| *n),
                            def.lines.iter().skip(1).cloned().collect::<Vec<_>>(),
                            Rc::clone(&def.file),
                            format!("{}:{}", origin.file.display(), origin.line),
                        ));
                    }
                    (
                        first,
                        format!(
                            "`${}` is defined at {}:{}",
                            r.name,
                            def.file.display(),
                            def.line
                        ),
                    )
                }
                None => match self.predefined(r.name, &r.params) {
                    Some(v) => (v, format!("`${{{}}}` is predefined", r.name)),
                    None => {
                        i = at + 1;
                        continue;
                    }
                },
            };
            count += 1;
            if count > MAX_REPLACEMENTS || s.len() + value.len() > MAX_LINE {
                diags.error(
                    &origin.pos(),
                    format!(
                        "replacing `${}` does not end (a parameter that uses itself?); this line \
                         is skipped",
                        r.name
                    ),
                );
                return Substituted::Failed;
            }
            note.get_or_insert_with(|| Rc::from(def_note));
            let stop = value.trim_start().starts_with('~');
            s.replace_range(at..at + r.len, &value);
            if rest.is_some() {
                break;
            }
            if stop {
                break;
            }
            // Rescan from the replacement: a value may use other parameters.
            i = at;
        }
        if count == 0 {
            Substituted::Unchanged
        } else {
            Substituted::Done {
                text: s,
                note,
                rest,
            }
        }
    }

    /// `~SEQ(...)`, `~SEQx(...)` and `~LST(...)` lines.
    fn sequence(
        &mut self,
        body: &str,
        origin: &Origin,
        depth: usize,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        let seq = if body.starts_with("~SEQ") {
            self.parse_seq(body, origin, diags)
        } else {
            parse_lst(body)
        };
        let Some((sets, text)) = seq else {
            diags.warn_as(
                Category::KeepalivedIgnores,
                &origin.pos(),
                format!(
                    "invalid sequence `{body}`: keepalived reports it and ignores the line, and so \
                     does this daemon; the forms are ~SEQ(VAR, START, STEP, END), ~SEQx(...) and \
                     ~LST(VAR, V1, V2, ...)"
                ),
            );
            return;
        };
        for set in sets {
            for (name, value) in set {
                self.defs.insert(
                    name,
                    Def {
                        lines: vec![(value, origin.line)],
                        multiline: false,
                        file: Rc::clone(&origin.file),
                        line: origin.line,
                    },
                );
            }
            self.process(text.clone(), origin, depth + 1, diags, out);
            if self.overflow_reported {
                return;
            }
        }
    }

    /// `~SEQ[x](VAR, [[START,] STEP,] END) text` -> the values of VAR and the text.
    #[allow(clippy::type_complexity)]
    fn parse_seq(
        &mut self,
        body: &str,
        origin: &Origin,
        diags: &mut Diags,
    ) -> Option<(Vec<Vec<(String, String)>>, String)> {
        let p = &body[4..];
        let (hex, p) = match p.strip_prefix('x') {
            Some(r) => (true, r),
            None => (false, p),
        };
        let p = p.trim_start().strip_prefix('(')?;
        let close = p.find(')')?;
        let inner = &p[..close];
        let text = p[close + 1..].trim_start().to_owned();
        let (var, params) = inner.split_once(',')?;
        let var = var.trim();
        if !is_name(var) {
            return None;
        }
        // The numbers may be parameters.
        let params = match self.substitute(params, origin, diags) {
            Substituted::Done {
                text, rest: None, ..
            } => text,
            Substituted::Unchanged => params.to_owned(),
            _ => return None,
        };
        let nums: Vec<i64> = params
            .split(',')
            .map(|n| parse_c_long(n.trim()))
            .collect::<Option<_>>()?;
        let (start, step, end) = match nums[..] {
            [end] => (
                if end < 0 { -1 } else { 1 },
                if end < 1 { -1 } else { 1 },
                end,
            ),
            [start, end] => (start, if start <= end { 1 } else { -1 }, end),
            [start, step, end] => {
                if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                    return None;
                }
                (start, step, end)
            }
            _ => return None,
        };
        if hex && (start < 0 || end < 0) {
            return None;
        }
        let mut sets = Vec::new();
        let mut v = start;
        loop {
            let value = if hex { format!("{v:x}") } else { v.to_string() };
            sets.push(vec![(var.to_owned(), value)]);
            if sets.len() > MAX_SEQ_VALUES {
                diags.error(
                    &origin.pos(),
                    format!(
                        "this ~SEQ has more than {MAX_SEQ_VALUES} values; split it, or write \
                         fewer lines"
                    ),
                );
                return Some((Vec::new(), text));
            }
            v = v.checked_add(step)?;
            if (step > 0 && v > end) || (step < 0 && v < end) {
                break;
            }
        }
        Some((sets, text))
    }
}

enum Substituted {
    Unchanged,
    Failed,
    Done {
        text: String,
        note: Option<Rc<str>>,
        /// A multi-line parameter: its name, the line of its first line, its further
        /// lines, its file, and the use.
        #[allow(clippy::type_complexity)]
        rest: Option<(String, u32, Vec<(String, u32)>, Rc<Path>, String)>,
    },
}

/// A parameter reference at the start of `s` (which starts with `$`).
struct Reference<'a> {
    name: &'a str,
    /// Bytes of `s` the reference covers.
    len: usize,
    params: Vec<u64>,
}

fn reference(s: &str) -> Option<Reference<'_>> {
    let after = &s[1..];
    if let Some(inner) = after.strip_prefix('{') {
        let close = inner.find('}')?;
        let content = &inner[..close];
        let name_end = content
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(content.len());
        let name = &content[..name_end];
        let tail = &content[name_end..];
        if !is_name(name) {
            return None;
        }
        // Parameters: digits and spaces, not ending with a space (only _RANDOM takes them).
        let params = if tail.is_empty() {
            Vec::new()
        } else {
            if !tail.chars().all(|c| c == ' ' || c.is_ascii_digit()) || tail.ends_with(' ') {
                return None;
            }
            let p: Vec<u64> = tail
                .split_whitespace()
                .map(|n| n.parse().ok())
                .collect::<Option<_>>()?;
            if name != "_RANDOM" {
                return None;
            }
            p
        };
        Some(Reference {
            name,
            len: 1 + 1 + close + 1,
            params,
        })
    } else {
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_end];
        if !is_name(name) {
            return None;
        }
        match after[name_end..].chars().next() {
            None | Some(' ' | '\t' | ',' | ')') => Some(Reference {
                name,
                len: 1 + name_end,
                params: Vec::new(),
            }),
            _ => None,
        }
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME=VALUE` -> (NAME, VALUE).
fn definition(body: &str) -> Option<(&str, &str)> {
    let rest = body.strip_prefix('$')?;
    let (name, value) = rest.split_once('=')?;
    is_name(name).then_some((name, value))
}

/// `~LST(VAR, V1, V2, ...) text` or `~LST({A, B}, {1, 2}, {3, 4}) text`.
#[allow(clippy::type_complexity)]
fn parse_lst(body: &str) -> Option<(Vec<Vec<(String, String)>>, String)> {
    let p = body[4..].trim_start().strip_prefix('(')?;
    // The closing `)` is the first one outside braces.
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in p.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.checked_sub(1)?,
            ')' if depth == 0 => {
                close = Some(i);
                break;
            }
            _ => {}
        }
    }
    let close = close?;
    let inner = &p[..close];
    let text = p[close + 1..].trim_start().to_owned();
    let groups = split_groups(inner)?;
    let (names, values) = groups.split_first()?;
    if values.is_empty() || names.iter().any(|n| !is_name(n)) {
        return None;
    }
    let mut sets = Vec::new();
    for group in values {
        if group.len() != names.len() {
            return None;
        }
        sets.push(names.iter().cloned().zip(group.iter().cloned()).collect());
    }
    Some((sets, text))
}

/// `{A, B}, {1, 2}` -> [[A, B], [1, 2]]; `A, 1, 2` -> [[A], [1], [2]].
fn split_groups(inner: &str) -> Option<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let mut s = inner.trim();
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix('{') {
            let close = r.find('}')?;
            out.push(r[..close].split(',').map(|v| v.trim().to_owned()).collect());
            s = r[close + 1..].trim_start();
            s = s.strip_prefix(',').unwrap_or(s).trim_start();
        } else {
            let (v, r) = s.split_once(',').unwrap_or((s, ""));
            out.push(vec![v.trim().to_owned()]);
            s = r.trim_start();
        }
    }
    Some(out)
}

/// `strtol(s, 0)`: decimal, `0x` hexadecimal or `0` octal, with a sign.
fn parse_c_long(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Splits a line at its comment: the first `#` or `!` outside double quotes (keepalived's
/// rule; `\` protects the next character).
pub(crate) fn split_comment(line: &str) -> (&str, &str) {
    let mut quote = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quote = !quote,
            '#' | '!' if !quote => return line.split_at(i),
            _ => {}
        }
    }
    (line, "")
}
