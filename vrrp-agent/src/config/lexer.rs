//! Splits keepalived.conf text into words, braces and statement ends.
//!
//! The rules follow keepalived.conf(5): `#` and `!` start a comment anywhere outside a quoted
//! string (even in the middle of a word, as keepalived does), `{` and `}` are tokens of their
//! own even when written against a word, and quoted strings (`"..."` or `'...'`) keep their
//! spaces and may use shell-like escapes. Two additions: `;` ends a statement like a newline
//! does (so `authentication { auth_type PASS; auth_pass secret; }` works), and a `\` at the
//! end of a line continues the statement on the next line.
use std::{path::Path, rc::Rc};

use super::{
    diagnostics::{Diags, Pos},
    preprocess::Line,
};

/// keepalived's include keyword and its variants.
pub(crate) const INCLUDE_KEYWORDS: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A word; `quoted` is true if any part of it was written in quotes.
    Word {
        text: String,
        quoted: bool,
    },
    Open,
    Close,
    /// End of a statement: a newline or `;`.
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

struct PendingWord {
    text: String,
    quoted: bool,
    col: u32,
}

/// Tokenizes one file. Problems (an unterminated quote, a comment glued to a word) are
/// reported to `diags`; the lexer never fails.
#[cfg(test)]
pub(crate) fn lex(text: &str, file: &Rc<Path>, diags: &mut Diags) -> Vec<Token> {
    let lines: Vec<Line> = text
        .split('\n')
        .enumerate()
        .map(|(index, raw)| Line {
            file: Rc::clone(file),
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            text: raw.to_owned(),
            note: None,
        })
        .collect();
    lex_lines(&lines, diags)
}

/// Tokenizes preprocessed lines; each keeps the file, line and note it came with.
pub(crate) fn lex_lines(lines: &[Line], diags: &mut Diags) -> Vec<Token> {
    let mut out = Vec::new();
    for l in lines {
        let line = l.text.strip_suffix('\r').unwrap_or(&l.text);
        let at = LineAt {
            file: &l.file,
            line: l.line,
            note: l.note.as_ref(),
        };
        let continued = lex_line(line, &at, diags, &mut out);
        if !continued {
            out.push(Token {
                tok: Tok::End,
                pos: at.pos(line_end_col(line)),
            });
        }
    }
    out
}

/// Where a line was written.
struct LineAt<'a> {
    file: &'a Rc<Path>,
    line: u32,
    note: Option<&'a Rc<str>>,
}

impl LineAt<'_> {
    fn pos(&self, col: u32) -> Pos {
        Pos::with_note(self.file, self.line, col, self.note)
    }
}

fn line_end_col(line: &str) -> u32 {
    u32::try_from(line.chars().count() + 1).unwrap_or(u32::MAX)
}

/// Lexes one line; returns true if it ends with a continuation backslash.
fn lex_line(line: &str, at: &LineAt<'_>, diags: &mut Diags, out: &mut Vec<Token>) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let col_of = |i: usize| u32::try_from(i + 1).unwrap_or(u32::MAX);
    let mut word: Option<PendingWord> = None;
    let mut i = 0;
    let line_start = out.len();

    let flush = |word: &mut Option<PendingWord>, out: &mut Vec<Token>| {
        if let Some(w) = word.take() {
            out.push(Token {
                tok: Tok::Word {
                    text: w.text,
                    quoted: w.quoted,
                },
                pos: at.pos(w.col),
            });
        }
    };

    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => flush(&mut word, out),
            '{' | '}' | ';' if !is_include_line(out, line_start) => {
                flush(&mut word, out);
                let tok = match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    _ => Tok::End,
                };
                out.push(Token {
                    tok,
                    pos: at.pos(col_of(i)),
                });
            }
            '#' | '!' => {
                if let Some(w) = &word {
                    diags.warn(
                        &at.pos(col_of(i)),
                        format!(
                            "`{c}` starts a comment even inside a word (as in keepalived), so \
                             the value here is `{}`; put the value in double quotes if the `{c}` \
                             and what follows belong to it",
                            w.text
                        ),
                    );
                }
                flush(&mut word, out);
                return false;
            }
            '"' | '\'' => {
                let start = i;
                let w = word.get_or_insert_with(|| PendingWord {
                    text: String::new(),
                    quoted: true,
                    col: col_of(start),
                });
                w.quoted = true;
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        q if q == c => {
                            closed = true;
                            break;
                        }
                        '\\' if i + 1 < chars.len() => {
                            i += 1;
                            i = unescape(&chars, i, &mut w.text);
                            continue;
                        }
                        other => w.text.push(other),
                    }
                    i += 1;
                }
                if !closed {
                    diags.error(
                        &at.pos(col_of(start)),
                        format!(
                            "unterminated quoted string: add the closing `{c}` on this line \
                             (quoted strings cannot span lines)"
                        ),
                    );
                    flush(&mut word, out);
                    return false;
                }
            }
            '\\' if chars[i + 1..].iter().all(|c| c.is_whitespace()) => {
                flush(&mut word, out);
                return true;
            }
            other => {
                word.get_or_insert_with(|| PendingWord {
                    text: String::new(),
                    quoted: false,
                    col: col_of(i),
                })
                .text
                .push(other);
            }
        }
        i += 1;
    }
    flush(&mut word, out);
    false
}

/// After `include` at the start of a line, braces and `;` belong to the file pattern
/// (keepalived handles include lines before splitting them, so `{a,b}` expands).
fn is_include_line(out: &[Token], line_start: usize) -> bool {
    matches!(out.get(line_start), Some(Token { tok: Tok::Word { text, .. }, .. }) if INCLUDE_KEYWORDS.contains(&text.as_str()))
}

/// Decodes the escape whose first character (after the backslash) is at `i`; returns the
/// index of the next unread character. Supported as in keepalived.conf(5): `\a \b \E \f \n
/// \r \t \v`, `\nnn` (octal), `\xXX` (hex), `\cC` (control-C); any other `\C` is `C`.
fn unescape(chars: &[char], i: usize, out: &mut String) -> usize {
    let c = chars[i];
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return i + 1;
    }
    match c {
        '0'..='7' => {
            let mut value = 0u32;
            let mut j = i;
            while j < chars.len() && j < i + 3 {
                match chars[j].to_digit(8) {
                    Some(d) => value = value * 8 + d,
                    None => break,
                }
                j += 1;
            }
            out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            j
        }
        'x' => {
            let mut value = 0u32;
            let mut j = i + 1;
            while j < chars.len() && j < i + 3 {
                match chars[j].to_digit(16) {
                    Some(d) => value = value * 16 + d,
                    None => break,
                }
                j += 1;
            }
            if j == i + 1 {
                out.push('x');
            } else {
                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            j
        }
        'c' if i + 1 < chars.len() => {
            let ctl = (chars[i + 1].to_ascii_uppercase() as u32) ^ 0x40;
            out.push(char::from_u32(ctl).unwrap_or('\u{fffd}'));
            i + 2
        }
        other => {
            out.push(other);
            i + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> (Vec<Tok>, Diags) {
        let file: Rc<Path> = Rc::from(Path::new("t.conf"));
        let mut diags = Diags::default();
        let toks = lex(text, &file, &mut diags)
            .into_iter()
            .map(|t| t.tok)
            .collect();
        (toks, diags)
    }

    fn w(s: &str) -> Tok {
        Tok::Word {
            text: s.to_owned(),
            quoted: false,
        }
    }

    fn q(s: &str) -> Tok {
        Tok::Word {
            text: s.to_owned(),
            quoted: true,
        }
    }

    #[test]
    fn braces_semicolons_and_comments() {
        let (toks, diags) = words("a { b c; d } # x\n! whole line\ne");
        assert_eq!(
            toks,
            vec![
                w("a"),
                Tok::Open,
                w("b"),
                w("c"),
                Tok::End,
                w("d"),
                Tok::Close,
                Tok::End,
                Tok::End,
                w("e"),
                Tok::End
            ]
        );
        assert!(!diags.has_errors());
    }

    #[test]
    fn quotes_keep_spaces_and_comment_characters() {
        let (toks, _) = words(r#"notify "/x.sh MASTER # ! ;" 'a b'c"#);
        assert_eq!(
            toks,
            vec![w("notify"), q("/x.sh MASTER # ! ;"), q("a bc"), Tok::End]
        );
    }

    #[test]
    fn escapes_in_quotes() {
        let (toks, _) = words(r#""a\"b\\c\x41\101\tz""#);
        assert_eq!(toks, vec![q("a\"b\\cAA\tz"), Tok::End]);
    }

    #[test]
    fn comment_glued_to_word_is_a_comment_with_a_warning() {
        let (toks, diags) = words("auth_pass Infra$2026!");
        assert_eq!(toks, vec![w("auth_pass"), w("Infra$2026"), Tok::End]);
        let (_, warnings) = diags.finish();
        assert_eq!(warnings.len(), 1);
        assert_eq!((warnings[0].line, warnings[0].column), (1, 21));
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let (_, diags) = words("notify \"abc");
        let (errors, _) = diags.finish();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (1, 8));
        assert!(errors[0].message.contains("unterminated quoted string"));
    }

    #[test]
    fn backslash_continues_a_line() {
        let (toks, _) = words("a b \\\n c\nd");
        assert_eq!(
            toks,
            vec![w("a"), w("b"), w("c"), Tok::End, w("d"), Tok::End]
        );
    }

    #[test]
    fn columns_count_characters() {
        let file: Rc<Path> = Rc::from(Path::new("t.conf"));
        let mut diags = Diags::default();
        let toks = lex("é  x\r\n\ty", &file, &mut diags);
        assert_eq!((toks[1].pos.line, toks[1].pos.col), (1, 4));
        assert_eq!((toks[3].pos.line, toks[3].pos.col), (2, 2));
    }
}
