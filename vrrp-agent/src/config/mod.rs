//! keepalived.conf -> typed, validated configuration.
//!
//! [`load`] behaves like `keepalived -t` for the VRRP part of a configuration: a usable file
//! gives a [`Loaded`] (perhaps with warnings), anything else a [`ConfigError`] listing every
//! problem as `FILE:LINE:COLUMN: error: MESSAGE`. The stages are separate modules:
//! - `preprocess`: keepalived's preprocessor (`@ID` lines, `$NAME` parameters, `~SEQ`),
//!   line by line, for the config id of [`config_id`];
//! - `lexer`: words, braces, `;`, comments (`#`, `!`), quoted strings;
//! - `parser`: a tree of statements, with `include` (globs, loops) expanded where the line
//!   is, as keepalived reads it;
//! - `compat`: where keepalived 2.2.7 reads something differently (unknown keywords and
//!   their blocks, prefixes after addresses, odd timer values), with warnings that carry a
//!   [`Category`] for `vrrp-agent check --compat`;
//! - `keywords`: every keepalived keyword of the VRRP blocks and what this project does
//!   with it (supported, unsupported = error, other subsystem = skipped with a warning);
//! - `builder`: statements -> drafts, checking each value where it is written;
//! - `validate`: defaults, per-instance rules, cross-references, checks against this host;
//! - `model`: the typed result.
//!
//! The loader never panics, whatever the input.
use std::{path::Path, rc::Rc};

mod builder;
mod compat;
#[cfg(test)]
mod compat_tests;
mod diagnostics;
mod keywords;
mod lexer;
mod model;
mod parser;
mod preprocess;
#[cfg(test)]
mod preprocess_tests;
mod validate;
mod values;
pub mod vmac;

#[cfg(test)]
mod keywords_tests;
#[cfg(test)]
mod tests;

pub use diagnostics::{Category, ConfigError, Diagnostic, Location, MAX_ERRORS};
pub use model::{
    max_advertised, Auth, Config, Family, GarpSettings, GlobalDefs, InitialState, Instance,
    InstanceSpans, Notify, NotifyCommand, NotifyFifo, ParamMatch, ProcessTuning, RuleAction,
    SmtpSettings, SyncGroup, TrackFileDef, TrackFileInit, TrackProcessDef, TrackRef, TtlRange,
    Version, VirtualAddress, VirtualRoute, VirtualRule, VrrpScript, DEFAULT_MTU,
    RLIMIT_RTTIME_DEFAULT_US,
};
pub use preprocess::{config_id, set_config_id};

use diagnostics::{Diags, Pos};

/// A usable configuration and the warnings found while reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads `path` (and the files it includes), parses and validates it, with the config id
/// of this process ([`config_id`]).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_as(path, &config_id())
}

/// [`load`] with the config id `id` (the `@ID` lines kept, `${_INSTANCE}`).
pub fn load_as(path: &Path, id: &str) -> Result<Loaded, ConfigError> {
    match parser::read_config_file(path) {
        Ok(text) => parse_str_as(&text, path, id),
        Err(reason) => {
            let mut diags = Diags::default();
            let file: Rc<Path> = Rc::from(path);
            diags.error(
                &Pos::new(&file, 0, 0),
                format!("cannot read the configuration file: {reason}; check the path given with --config"),
            );
            let (errors, warnings) = diags.finish();
            Err(ConfigError { errors, warnings })
        }
    }
}

/// Parses and validates `text` as if it were the file `origin`: diagnostics name `origin`,
/// and relative includes are resolved from its directory.
pub fn parse_str(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    parse_str_as(text, origin, &config_id())
}

/// [`parse_str`] with the config id `id`.
pub fn parse_str_as(text: &str, origin: &Path, id: &str) -> Result<Loaded, ConfigError> {
    let mut diags = Diags::default();
    let stmts = parser::Parser::new(&mut diags, id).parse_text(text, origin);
    compat::check_blocks(&stmts, &mut diags);
    let drafts = builder::build(&stmts, &mut diags);
    let config = validate::finish(drafts, &mut diags);
    let (errors, warnings) = diags.finish();
    if errors.is_empty() {
        Ok(Loaded { config, warnings })
    } else {
        Err(ConfigError { errors, warnings })
    }
}
