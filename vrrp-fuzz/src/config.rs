//! Bytes as a keepalived.conf. Whatever the input: no panic, and every diagnostic's
//! line:column lies inside the file it names. An input with a NUL byte is split there: the
//! part after it becomes a file the first part includes, so included text is fuzzed too.
use std::path::{Path, PathBuf};

use vrrp_agent::config::{self, Diagnostic};

/// The name the included part is written under, next to the main file.
const INCLUDED: &str = "included.conf";

/// Runs one input through the loader.
pub fn run(data: &[u8]) {
    let (main, included) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let main = String::from_utf8_lossy(main).into_owned();
    let dir = scratch_dir();
    let origin = dir.join("keepalived.conf");
    let mut files: Vec<(PathBuf, String)> = vec![(origin.clone(), main.clone())];
    let text = match included {
        Some(inc) => {
            let inc = String::from_utf8_lossy(inc).into_owned();
            let path = dir.join(INCLUDED);
            if std::fs::write(&path, &inc).is_err() {
                return;
            }
            files.push((path, inc));
            format!("{main}\ninclude {INCLUDED}\n")
        }
        None => main,
    };
    if let Some((_, t)) = files.first_mut() {
        t.clone_from(&text);
    }
    let diags: Vec<Diagnostic> = match config::parse_str(&text, &origin) {
        Ok(loaded) => loaded.warnings,
        Err(e) => e.errors.into_iter().chain(e.warnings).collect(),
    };
    for d in &diags {
        let Some((_, t)) = files.iter().find(|(p, _)| p == &d.file) else {
            continue; // a file the input included by another name (a glob, an absolute path)
        };
        assert!(
            inside(t, d.line, d.column),
            "diagnostic outside its file ({} lines): {}:{}: {}",
            t.lines().count(),
            d.line,
            d.column,
            d.message
        );
    }
}

/// Whether `line:column` (1-based; 0 for "the whole file") lies within `text`, or just
/// after its end (an error at end of input).
fn inside(text: &str, line: u32, column: u32) -> bool {
    if line == 0 {
        return column == 0;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(l) = lines.get(line as usize - 1) else {
        return false;
    };
    column as usize <= l.chars().count() + 1
}

/// A directory of this process's own for included files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrrp-fuzz-config-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The seed corpus: the project's example and test configurations.
pub fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.join("tests/configs")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(b) = std::fs::read(&path) {
                out.push(b);
            }
        }
    }
    out.sort();
    out
}
