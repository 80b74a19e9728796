//! File naming: node ids and kinds made into file-safe, collision-free names.
//!
//! Ids and kinds are arbitrary UTF-8 (`../x`, `conv-26/D1:3`, `Ünïcode`, `CON`),
//! so none is ever used as a path as it is. The rule (documented in
//! `docs/packages.md`):
//!
//! - **slug**: ASCII letters lowercased, ASCII digits and `_` kept, every other
//!   character becomes `-`; runs of `-` collapse, `-` is trimmed from both ends,
//!   the result is cut to 60 bytes; an empty slug becomes `x`.
//! - **item file**: `<slug(id)>-<first 8 hex of BLAKE3(id)>.md`.
//! - **kind folder**: the kind itself when it already is its own slug and not a
//!   reserved device name (so `fact` stays `fact`), otherwise
//!   `<slug(kind)>-<first 8 hex of BLAKE3(kind)>`.
//!
//! Every name therefore consists of `[a-z0-9_-]` only, never starts with `.`,
//! never equals a Windows device name, and is lowercase (no clash on
//! case-insensitive file systems). The rare hash-prefix collision between two
//! ids is resolved by [`assign_item_paths`] with the full hash.

use std::collections::{BTreeMap, BTreeSet};

/// Longest slug, in bytes (all ASCII).
pub const MAX_SLUG: usize = 60;

/// Slug length kept when the full hash is used, so that a file name stays
/// within the 100 bytes of a ustar name field.
const CLASH_SLUG: usize = 24;

/// Names Windows reserves for devices, whatever the extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    "conin$", "conout$",
];

/// Lowercase ASCII slug of any string: `[a-z0-9_-]`, at most [`MAX_SLUG`] bytes,
/// never empty (`x` stands in), never starting or ending with `-`.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SLUG + 1));
    let mut dash = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
            if out.len() >= MAX_SLUG {
                break;
            }
        } else {
            dash = true;
        }
    }
    out.truncate(MAX_SLUG);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// [`slug`] cut to `max` bytes, without a trailing `-`.
fn short_slug(s: &str, max: usize) -> String {
    let mut out = slug(s);
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn hash_hex(s: &str) -> String {
    blake3::hash(s.as_bytes()).to_hex().to_string()
}

fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// The file-safe name of an id: `<slug>-<8 hex of BLAKE3(id)>` (no extension).
pub fn file_safe_name(id: &str) -> String {
    format!("{}-{}", slug(id), &hash_hex(id)[..8])
}

/// The folder an item of `kind` goes into, below `items/`.
pub fn kind_dir(kind: &str) -> String {
    let s = slug(kind);
    if s == kind && !is_reserved(&s) {
        s
    } else {
        format!("{}-{}", s, &hash_hex(kind)[..8])
    }
}

/// The package-relative path of an item: `items/<kind_dir>/<file_safe_name>.md`.
pub fn item_path(kind: &str, id: &str) -> String {
    format!("items/{}/{}.md", kind_dir(kind), file_safe_name(id))
}

/// Paths for a list of `(kind, id)` pairs, in the same order, all distinct.
///
/// Normally each is [`item_path`]. When two different ids land on the same path
/// (a clash of the 8-hex hash prefix), every id on that path uses its slug cut
/// to 24 bytes and the full 64-hex hash instead; should one id be listed twice, its later occurrences get
/// `-2`, `-3`, … so no file is ever overwritten. The result depends only on the
/// list, so it is deterministic.
pub fn assign_item_paths(items: &[(&str, &str)]) -> Vec<String> {
    let short: Vec<String> = items.iter().map(|(k, id)| item_path(k, id)).collect();
    let mut ids_per_path: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (p, (_, id)) in short.iter().zip(items) {
        ids_per_path.entry(p.as_str()).or_default().insert(id);
    }
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (p, (kind, id)) in short.iter().zip(items) {
        let clash = ids_per_path.get(p.as_str()).is_some_and(|s| s.len() > 1);
        let base = if clash {
            format!(
                "items/{}/{}-{}",
                kind_dir(kind),
                short_slug(id, CLASH_SLUG),
                hash_hex(id)
            )
        } else {
            p.trim_end_matches(".md").to_string()
        };
        let mut candidate = format!("{base}.md");
        let mut n = 2u64;
        while used.contains(&candidate) {
            candidate = format!("{base}-{n}.md");
            n += 1;
        }
        used.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

/// Whether a package-relative path is safe to join under a folder: `/`-separated,
/// relative, each component non-empty, not `.` or `..`, without `\`, `:` or NUL.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && !c.contains(['\\', ':', '\0'])
                && !c.chars().any(char::is_control)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe() {
        assert_eq!(slug("conv-26/D1:3"), "conv-26-d1-3");
        assert_eq!(slug("../x"), "x");
        assert_eq!(slug("Ünïcode"), "n-code");
        assert_eq!(slug("..."), "x");
        assert_eq!(slug(&"a".repeat(100)).len(), MAX_SLUG);
        assert_eq!(kind_dir("fact"), "fact");
        assert!(kind_dir("CON").starts_with("con-"));
        assert!(kind_dir("con").starts_with("con-"));
        assert!(kind_dir("../x").starts_with("x-"));
    }

    #[test]
    fn a_repeated_id_gets_a_numbered_path() {
        let p = assign_item_paths(&[("fact", "a"), ("fact", "a")]);
        assert_eq!(p[0], item_path("fact", "a"));
        assert_eq!(p[1], item_path("fact", "a").replace(".md", "-2.md"));
    }

    /// Finds two ids with the same slug and the same 8-hex hash prefix (a
    /// birthday search over ids that differ only in separators).
    fn clashing_ids() -> (String, String) {
        let seps = ['/', ':', '.', ' ', '!', '?', '+', '=', ',', ';', '~', '@'];
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut stack = vec![String::new()];
        while let Some(sep) = stack.pop() {
            if !sep.is_empty() {
                let id = format!("a{sep}b");
                if let Some(other) = seen.insert(item_path("fact", &id), id.clone()) {
                    return (other, id);
                }
            }
            if sep.chars().count() < 6 {
                for c in seps {
                    stack.push(format!("{sep}{c}"));
                }
            }
        }
        panic!("no clash found");
    }

    #[test]
    fn clashing_ids_get_the_full_hash() {
        let (a, b) = clashing_ids();
        assert_eq!(item_path("fact", &a), item_path("fact", &b));
        let p = assign_item_paths(&[("fact", &a), ("fact", &b), ("fact", "c")]);
        assert_ne!(p[0], p[1]);
        assert!(p[0].ends_with(&format!("a-b-{}.md", hash_hex(&a))));
        assert_eq!(p[2], item_path("fact", "c"));
        for path in &p {
            let name = path.rsplit('/').next().unwrap_or_default();
            assert!(name.len() <= 100, "{name} fits a ustar name");
        }
    }
}
