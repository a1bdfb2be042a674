//! Turns tokens into a tree of statements and expands `include`.
//!
//! A statement is a keyword, its values, and optionally a `{ ... }` block of statements; the
//! block's `{` may be on the same line or on the next one. The tree knows nothing about which
//! keywords exist: that is the builder's job. `include PATTERN` (and keepalived's variants
//! `includer`, `includem`, `includew`, `includeb`, `includea`) may appear anywhere a
//! statement may; the pattern is a glob (with `{a,b}` brace expansion) relative to the
//! directory of the file that contains it, and the included statements take its place.
use std::{
    fs,
    path::{Path, PathBuf},
    rc::Rc,
};

use super::{
    diagnostics::{Category, Diags, Pos},
    lexer::{lex_lines, Tok, Token, INCLUDE_KEYWORDS},
    preprocess::{split_comment, Line, Preprocessor},
};

/// Blocks nested deeper than this are skipped with an error (keepalived needs three levels).
const MAX_DEPTH: usize = 16;
/// Include nesting deeper than this is an error.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Files larger than this are refused.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Word {
    pub text: String,
    pub quoted: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    /// Never empty: `words[0]` is the keyword.
    pub words: Vec<Word>,
    pub block: Option<Block>,
}

impl Stmt {
    pub fn keyword(&self) -> &Word {
        &self.words[0]
    }

    pub fn args(&self) -> &[Word] {
        &self.words[1..]
    }

    pub fn pos(&self) -> &Pos {
        &self.words[0].pos
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub open: Pos,
    pub stmts: Vec<Stmt>,
}

/// Reads, tokenizes and parses files, following includes.
pub(crate) struct Parser<'d> {
    diags: &'d mut Diags,
    /// Canonical paths of the files being read, outermost first (for include loops).
    stack: Vec<PathBuf>,
    pre: Preprocessor,
}

impl<'d> Parser<'d> {
    /// A parser whose preprocessor keeps `@ID` lines for `config_id`.
    pub fn new(diags: &'d mut Diags, config_id: &str) -> Self {
        Parser {
            diags,
            stack: Vec::new(),
            pre: Preprocessor::new(config_id),
        }
    }

    /// Parses `text` as the contents of `path`: preprocessed line by line, with the
    /// included files read where their `include` line is (as keepalived reads them, so
    /// that parameters defined in one file are known in the next).
    pub fn parse_text(&mut self, text: &str, path: &Path) -> Vec<Stmt> {
        let mut lines = Vec::new();
        self.expand(text, path, &mut lines);
        self.pre.finish(self.diags);
        let tokens = lex_lines(&lines, self.diags);
        let dir = parent_dir(path);
        let mut cursor = 0;
        self.statements(&tokens, &mut cursor, 0, None, &dir)
    }

    /// Preprocesses the file `path` (contents `text`) into `out`, following includes.
    fn expand(&mut self, text: &str, path: &Path, out: &mut Vec<Line>) {
        self.diags.note_file(path);
        self.stack.push(canonical(path));
        let file: Rc<Path> = Rc::from(path);
        let dir = parent_dir(path);
        self.pre.enter_file(&canonical(&dir));
        let mut produced = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            produced.clear();
            self.pre
                .feed(&file, line_no, raw, self.diags, &mut produced);
            for line in produced.drain(..) {
                if include_line(&line.text) {
                    let words = line_words(&line, self.diags);
                    self.include(&words, &dir, out);
                } else {
                    out.push(line);
                }
            }
        }
        self.pre.leave_file();
        self.stack.pop();
    }

    fn statements(
        &mut self,
        toks: &[Token],
        i: &mut usize,
        depth: usize,
        open: Option<(&Pos, &str)>,
        dir: &Path,
    ) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        while let Some(token) = toks.get(*i) {
            match &token.tok {
                Tok::End => *i += 1,
                Tok::Close => {
                    *i += 1;
                    if open.is_some() {
                        return stmts;
                    }
                    self.diags.error(
                        &token.pos,
                        "unexpected `}`: no block is open here; remove it (or add the `{` it \
                         was meant to close)",
                    );
                }
                Tok::Open => {
                    self.diags.error(
                        &token.pos,
                        "`{` without a keyword before it: a block must follow a keyword, as in \
                         `vrrp_instance NAME {`",
                    );
                    *i += 1;
                    let _ = self.block(toks, i, depth, &token.pos, "{", dir);
                }
                Tok::Word { .. } => {
                    let stmt_words = take_words(toks, i);
                    let block = if next_is_open(toks, i) {
                        let open_pos = toks[*i].pos.clone();
                        *i += 1;
                        let owner = describe(&stmt_words);
                        Some(self.block(toks, i, depth, &open_pos, &owner, dir))
                    } else {
                        None
                    };
                    let stmt = Stmt {
                        words: stmt_words,
                        block,
                    };
                    if is_include(&stmt.keyword().text) {
                        // Only reached for an include that does not start its line.
                        self.diags.warn_as(
                            Category::KeepalivedIgnores,
                            stmt.pos(),
                            format!(
                                "keepalived reads `{}` only at the start of a line: here it is an \
                                 unknown keyword, and nothing is included (by keepalived or by \
                                 this daemon); put it on a line of its own",
                                stmt.keyword().text
                            ),
                        );
                    } else {
                        stmts.push(stmt);
                    }
                }
            }
        }
        if let Some((pos, owner)) = open {
            self.diags.error(
                pos,
                format!(
                    "the block `{owner} {{` opened here is never closed: add the missing `}}` \
                     where the block ends"
                ),
            );
        }
        stmts
    }

    /// Parses a block whose `{` (at `open`) has just been consumed.
    fn block(
        &mut self,
        toks: &[Token],
        i: &mut usize,
        depth: usize,
        open: &Pos,
        owner: &str,
        dir: &Path,
    ) -> Block {
        if depth + 1 >= MAX_DEPTH {
            self.diags.error(
                open,
                format!("blocks are nested more than {MAX_DEPTH} deep here; this block is skipped"),
            );
            skip_block(toks, i);
            return Block {
                open: open.clone(),
                stmts: Vec::new(),
            };
        }
        let stmts = self.statements(toks, i, depth + 1, Some((open, owner)), dir);
        Block {
            open: open.clone(),
            stmts,
        }
    }

    fn include(&mut self, words: &[Word], dir: &Path, out: &mut Vec<Line>) {
        let Some((first, args)) = words.split_first() else {
            return;
        };
        let keyword = &first.text;
        let pattern = match args {
            [one] => one,
            [] => {
                self.diags.error(
                    &first.pos,
                    format!("`{keyword}` needs a file name or pattern: `{keyword} /etc/keepalived/conf.d/*.conf`"),
                );
                return;
            }
            [_, extra, ..] => {
                self.diags.error(
                    &extra.pos,
                    format!(
                        "`{keyword}` takes one file name or pattern; quote the name if it \
                         contains spaces, or write one `{keyword}` per pattern"
                    ),
                );
                return;
            }
        };
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.diags.error(
                &first.pos,
                format!("includes are nested more than {MAX_INCLUDE_DEPTH} deep; this `{keyword}` is skipped"),
            );
            return;
        }
        let must_match = matches!(
            keyword.as_str(),
            "includem" | "includew" | "includeb" | "includea"
        );
        let mut files = Vec::new();
        for expanded in expand_braces(&pattern.text) {
            let full = if Path::new(&expanded).is_absolute() {
                expanded
            } else {
                format!(
                    "{}/{}",
                    glob::Pattern::escape(&dir.to_string_lossy()),
                    expanded
                )
            };
            let options = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: true,
            };
            match glob::glob_with(&full, options) {
                Ok(paths) => files.extend(paths.flatten()),
                Err(e) => {
                    self.diags.error(
                        &pattern.pos,
                        format!("invalid include pattern `{}`: {}", pattern.text, e.msg),
                    );
                    return;
                }
            }
        }
        files.sort();
        files.dedup();
        if files.is_empty() {
            let message = format!(
                "`{keyword} {}` matches no file (looked in {}); nothing was included",
                pattern.text,
                dir.display()
            );
            if must_match {
                self.diags.error(&pattern.pos, message);
            } else {
                self.diags.warn(&pattern.pos, message);
            }
            return;
        }
        for file in files {
            if file.is_dir() {
                self.diags.warn(
                    &pattern.pos,
                    format!(
                        "`{}` matches the directory {}, which is skipped",
                        pattern.text,
                        file.display()
                    ),
                );
                continue;
            }
            let key = canonical(&file);
            if let Some(first) = self.stack.iter().position(|p| *p == key) {
                let chain: Vec<String> = self.stack[first..]
                    .iter()
                    .chain([&key])
                    .map(|p| p.display().to_string())
                    .collect();
                self.diags.error(
                    &pattern.pos,
                    format!(
                        "include loop: {}; remove the `{keyword}` that closes the loop",
                        chain.join(" -> ")
                    ),
                );
                continue;
            }
            match read_config_file(&file) {
                Ok(text) => self.expand(&text, &file, out),
                Err(reason) => self.diags.error(
                    &pattern.pos,
                    format!("cannot read included file {}: {reason}", file.display()),
                ),
            }
        }
    }
}

/// Reads a configuration file; invalid UTF-8 is replaced (keepalived reads bytes, and a
/// stray byte in a comment should not stop the check).
pub(crate) fn read_config_file(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory".to_owned());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("it is larger than {MAX_FILE_BYTES} bytes"));
    }
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn is_include(keyword: &str) -> bool {
    INCLUDE_KEYWORDS.contains(&keyword)
}

/// keepalived's test: the line (comment removed) starts with an include keyword and a blank.
fn include_line(text: &str) -> bool {
    let (code, _) = split_comment(text);
    let mut words = code.split_whitespace();
    matches!(words.next(), Some(w) if is_include(w))
}

/// The words of one line.
fn line_words(line: &Line, diags: &mut Diags) -> Vec<Word> {
    let tokens = lex_lines(std::slice::from_ref(line), diags);
    let mut i = 0;
    take_words(&tokens, &mut i)
}

fn take_words(toks: &[Token], i: &mut usize) -> Vec<Word> {
    let mut words = Vec::new();
    while let Some(Token {
        tok: Tok::Word { text, quoted },
        pos,
    }) = toks.get(*i)
    {
        words.push(Word {
            text: text.clone(),
            quoted: *quoted,
            pos: pos.clone(),
        });
        *i += 1;
    }
    words
}

/// True if the next token is `{`, possibly after line ends (a brace on the next line). On
/// true, `i` points at the `{`.
fn next_is_open(toks: &[Token], i: &mut usize) -> bool {
    let mut j = *i;
    while let Some(Token { tok: Tok::End, .. }) = toks.get(j) {
        j += 1;
    }
    if let Some(Token { tok: Tok::Open, .. }) = toks.get(j) {
        *i = j;
        true
    } else {
        false
    }
}

/// Skips to just after the `}` that closes a block whose `{` was consumed, without recursion.
fn skip_block(toks: &[Token], i: &mut usize) {
    let mut depth = 1usize;
    while let Some(token) = toks.get(*i) {
        *i += 1;
        match token.tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

fn describe(words: &[Word]) -> String {
    let mut s = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "...";
    }
    s
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// Expands csh-style braces: `a{b,c{d,e}}f` -> `abf`, `acdf`, `acef`. A pattern without a
/// complete brace group is returned as is. The expansion is capped to stay cheap.
fn expand_braces(pattern: &str) -> Vec<String> {
    const MAX_EXPANSIONS: usize = 256;
    let mut done = Vec::new();
    let mut todo = vec![pattern.to_owned()];
    while let Some(p) = todo.pop() {
        match find_brace_group(&p) {
            Some((open, close, commas)) if done.len() + todo.len() < MAX_EXPANSIONS => {
                let mut start = open + 1;
                for end in commas.into_iter().chain([close]) {
                    todo.push(format!(
                        "{}{}{}",
                        &p[..open],
                        &p[start..end],
                        &p[close + 1..]
                    ));
                    start = end + 1;
                }
            }
            _ => done.push(p),
        }
    }
    done.reverse();
    done
}

/// The first `{...}` group with at least one top-level comma: (open, close, comma indexes).
fn find_brace_group(p: &str) -> Option<(usize, usize, Vec<usize>)> {
    let bytes = p.as_bytes();
    for (open, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'{') {
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (j, b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if !commas.is_empty() {
                            return Some((open, j, commas));
                        }
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(j),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Stmt>, Diags) {
        let mut diags = Diags::default();
        let stmts =
            Parser::new(&mut diags, "test").parse_text(text, Path::new("/nonexistent/t.conf"));
        (stmts, diags)
    }

    #[test]
    fn brace_on_next_line_and_one_line_blocks() {
        let (stmts, diags) = parse("a x\n{\n b 1; c { d } \n}\ne");
        assert!(!diags.has_errors());
        assert_eq!(stmts.len(), 2);
        let block = stmts[0].block.as_ref().map(|b| b.stmts.len());
        assert_eq!(block, Some(2));
        assert_eq!(stmts[1].keyword().text, "e");
    }

    #[test]
    fn unclosed_block_points_at_its_brace() {
        let (_, diags) = parse("a {\n b {\n }\n");
        let (errors, _) = diags.finish();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (1, 3));
        assert!(errors[0]
            .message
            .contains("`a {` opened here is never closed"));
    }

    #[test]
    fn stray_close_brace() {
        let (_, diags) = parse("a { }\n}\n");
        let (errors, _) = diags.finish();
        assert_eq!((errors[0].line, errors[0].column), (2, 1));
        assert!(errors[0].message.contains("unexpected `}`"));
    }

    #[test]
    fn deep_nesting_does_not_recurse_forever() {
        let text = "a ".to_owned() + &"{".repeat(100_000) + &"}".repeat(100_000);
        let (_, diags) = parse(&text);
        assert!(diags.has_errors());
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("x/*.conf"), vec!["x/*.conf"]);
        assert_eq!(expand_braces("{}{,"), vec!["{}{,"]);
    }
}
