//! Parsing and validation of profile TOML with diagnostics that name the file, the
//! line and column, and the field. One sub-module per profile section; `source`
//! locates and scrubs diagnostics.

mod access;
mod activation;
mod lifecycle;
mod policy;
mod source;
mod vocabulary;

use std::fmt;

pub use policy::{BUILTIN_PATTERNS, OPERATION_FAMILIES};

use crate::types::*;
use source::{field_from_message, is_schema_path, key_at, line_col, locate, scrub_message};
use vocabulary::Declared;

/// One problem in a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileProblem {
    /// Field path, e.g. `lifecycle[2].to`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line, when located.
    pub line: Option<usize>,
    /// 1-based column, when located.
    pub column: Option<usize>,
}

/// A profile that does not parse or validate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// The file (or origin) the profile came from.
    pub origin: String,
    /// Every problem found.
    pub problems: Vec<ProfileProblem>,
}

impl ProfileProblem {
    /// `file:line:col` location string.
    pub fn location(&self, origin: &str) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{origin}:{l}:{c}"),
            (Some(l), None) => format!("{origin}:{l}"),
            _ => origin.to_string(),
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}: {}: {}",
                p.location(&self.origin),
                p.field,
                p.message
            )?;
        }
        Ok(())
    }
}

pub(crate) fn parse_and_validate(source: &str, origin: &str) -> Result<Profile, ProfileError> {
    let mut profile: Profile = match toml::from_str(source) {
        Ok(p) => p,
        Err(e) => {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(source, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            // The source may be any file (a mistaken path): diagnostics quote
            // nothing from it but names the profile schema itself declares.
            let message = scrub_message(e.message());
            let field = e
                .span()
                .and_then(|s| key_at(source, s.start))
                .filter(|k| is_schema_path(k))
                .unwrap_or_else(|| {
                    let f = field_from_message(e.message());
                    if is_schema_path(&f) {
                        f
                    } else {
                        "(document)".to_string()
                    }
                });
            return Err(ProfileError {
                origin: origin.to_string(),
                problems: vec![ProfileProblem {
                    field,
                    message,
                    line,
                    column,
                }],
            });
        }
    };
    for ph in &mut profile.phases {
        if ph.name == "forgotten" {
            ph.purge = true;
        }
    }
    let mut problems = Vec::new();
    check(&profile, &mut problems);
    if problems.is_empty() {
        Ok(profile)
    } else {
        for p in &mut problems {
            if let Some((l, c)) = locate(source, &p.field) {
                p.line = Some(l);
                p.column = Some(c);
            }
        }
        Err(ProfileError {
            origin: origin.to_string(),
            problems,
        })
    }
}

struct Ctx<'a> {
    problems: &'a mut Vec<ProfileProblem>,
}

impl Ctx<'_> {
    fn bad(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ProfileProblem {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
        });
    }
}

/// Every check, section by section; problems accumulate, none stops the others.
fn check(p: &Profile, problems: &mut Vec<ProfileProblem>) {
    let mut cx = Ctx { problems };
    if p.name.trim().is_empty() {
        cx.bad("name", "the profile needs a non-empty name");
    }
    let declared = Declared::of(p);
    vocabulary::check_sensitivity(&mut cx, p, &declared);
    vocabulary::check_tokenizer(&mut cx, p);
    vocabulary::check_phases(&mut cx, p);
    vocabulary::check_kinds(&mut cx, p, &declared);
    vocabulary::check_edge_types(&mut cx, p);
    activation::check_activation(&mut cx, p);
    lifecycle::check_lifecycle(&mut cx, p, &declared);
    policy::check_policy(&mut cx, p, &declared);
    if p.retention.legal_hold_label.trim().is_empty() {
        cx.bad(
            "retention.legal_hold_label",
            "the legal-hold label must not be empty",
        );
    }
    access::check_access(&mut cx, &p.access);
}
