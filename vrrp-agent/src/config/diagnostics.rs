//! Positions, diagnostics and the error type of the configuration loader.
//!
//! Every problem is reported as `FILE:LINE:COLUMN: error|warning: MESSAGE`, with the message
//! saying what is wrong and what to do about it. Errors are collected (up to [`MAX_ERRORS`])
//! instead of stopping at the first one.
use std::{
    collections::HashSet,
    fmt,
    path::{Path, PathBuf},
    rc::Rc,
};

/// Errors kept before the loader stops collecting more (the rest are summarised in one line).
pub const MAX_ERRORS: usize = 50;
/// Warnings kept before the loader stops collecting more.
pub const MAX_WARNINGS: usize = 200;

/// Where something was written: file, 1-based line and 1-based column (in characters).
/// Line 0 means the file as a whole (for example a file that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One message about the configuration, tied to a place in a file.
///
/// `Display` renders it as a warning (`FILE:LINE:COL: warning: MESSAGE`); errors are rendered
/// by [`ConfigError`] or [`Diagnostic::as_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// What kind of finding this is, for `vrrp-agent check --compat`.
    pub category: Category,
}

/// What a warning says about compatibility with keepalived 2.2.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Category {
    /// Advice about the configuration; keepalived would run it the same way.
    #[default]
    Advice,
    /// keepalived itself ignores, drops or rounds something here (and so does this daemon).
    KeepalivedIgnores,
    /// This daemon does something other than keepalived here (a subsystem it does not
    /// include, a setting it does not apply).
    Differs,
}

impl Category {
    /// The name printed by `check --compat`.
    pub fn label(self) -> &'static str {
        match self {
            Category::Advice => "advice",
            Category::KeepalivedIgnores => "keepalived-ignores",
            Category::Differs => "differs",
        }
    }
}

impl Diagnostic {
    /// The place this diagnostic points at.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    /// Renders the diagnostic as an error line: `FILE:LINE:COL: error: MESSAGE`.
    pub fn as_error(&self) -> impl fmt::Display + '_ {
        Rendered {
            diag: self,
            severity: "error",
        }
    }

    fn at(spot: &impl Spot, message: String) -> Self {
        let (file, line, column) = spot.spot();
        let message = match spot.note() {
            Some(note) => format!("{message} ({note})"),
            None => message,
        };
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message,
            category: Category::Advice,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Rendered {
            diag: self,
            severity: "warning",
        }
        .fmt(f)
    }
}

struct Rendered<'a> {
    diag: &'a Diagnostic,
    severity: &'static str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diag;
        write!(
            f,
            "{}:{}:{}: {}: {}",
            d.file.display(),
            d.line,
            d.column,
            self.severity,
            d.message
        )
    }
}

/// The configuration cannot be used. `errors` is never empty; `warnings` are the warnings
/// found on the way, so that a checker can print them as well.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(.errors))]
pub struct ConfigError {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

fn render_errors(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(|e| e.as_error().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A position inside the loader. Cheap to clone: the file name is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub file: Rc<Path>,
    pub line: u32,
    pub col: u32,
    /// Where the text at this position came from when the preprocessor produced it
    /// (`$NAME` used at FILE:LINE), appended to every diagnostic pointing here.
    pub note: Option<Rc<str>>,
}

impl Pos {
    pub fn new(file: &Rc<Path>, line: u32, col: u32) -> Self {
        Pos {
            file: Rc::clone(file),
            line,
            col,
            note: None,
        }
    }

    /// A position carrying the preprocessor's note `note`.
    pub fn with_note(file: &Rc<Path>, line: u32, col: u32, note: Option<&Rc<str>>) -> Self {
        Pos {
            file: Rc::clone(file),
            line,
            col,
            note: note.cloned(),
        }
    }

    /// The public form of this position.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.line,
            column: self.col,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Something a diagnostic can point at.
pub(crate) trait Spot {
    fn spot(&self) -> (&Path, u32, u32);
    /// Extra context for the message (where preprocessed text came from).
    fn note(&self) -> Option<&str> {
        None
    }
}

impl Spot for Pos {
    fn spot(&self) -> (&Path, u32, u32) {
        (&self.file, self.line, self.col)
    }
    fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

impl Spot for Location {
    fn spot(&self) -> (&Path, u32, u32) {
        (&self.file, self.line, self.column)
    }
}

/// Collects errors and warnings, with caps so that hostile input cannot flood the output.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    dropped_errors: usize,
    first_dropped: Option<Diagnostic>,
    dropped_warnings: usize,
    once: HashSet<String>,
    /// Files in the order they were opened, to sort diagnostics in reading order.
    files: Vec<PathBuf>,
}

impl Diags {
    pub fn error(&mut self, at: &impl Spot, message: impl Into<String>) {
        let diag = Diagnostic::at(at, message.into());
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(diag);
        } else {
            self.dropped_errors += 1;
            self.first_dropped.get_or_insert(diag);
        }
    }

    pub fn warn(&mut self, at: &impl Spot, message: impl Into<String>) {
        self.warn_as(Category::Advice, at, message);
    }

    /// A warning of a given compatibility category.
    pub fn warn_as(&mut self, category: Category, at: &impl Spot, message: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            let mut diag = Diagnostic::at(at, message.into());
            diag.category = category;
            self.warnings.push(diag);
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Warns only the first time `key` is seen during this load.
    pub fn warn_once(&mut self, key: &str, at: &impl Spot, message: impl Into<String>) {
        self.warn_once_as(Category::Advice, key, at, message);
    }

    /// [`Diags::warn_once`] with a compatibility category.
    pub fn warn_once_as(
        &mut self,
        category: Category,
        key: &str,
        at: &impl Spot,
        message: impl Into<String>,
    ) {
        if self.once.insert(key.to_owned()) {
            self.warn_as(category, at, message);
        }
    }

    /// Records that `file` is being read (diagnostics are sorted by file in this order).
    pub fn note_file(&mut self, file: &Path) {
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_path_buf());
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Errors and warnings in reading order (file, line, column), each with a closing line
    /// if some were left out.
    pub fn finish(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let files = std::mem::take(&mut self.files);
        let rank = |d: &Diagnostic| {
            (
                files
                    .iter()
                    .position(|f| *f == d.file)
                    .unwrap_or(usize::MAX),
                d.line,
                d.column,
            )
        };
        self.errors.sort_by_key(rank);
        self.warnings.sort_by_key(rank);
        if let Some(mut first) = self.first_dropped.take() {
            first.message = format!(
                "{} more error(s) not shown (the first is here: {}); fix the errors above and \
                 run the check again",
                self.dropped_errors, first.message
            );
            self.errors.push(first);
        }
        if self.dropped_warnings > 0 {
            if let Some(last) = self.warnings.last() {
                let mut more = last.clone();
                more.message = format!("{} more warning(s) not shown", self.dropped_warnings);
                self.warnings.push(more);
            }
        }
        (self.errors, self.warnings)
    }
}
