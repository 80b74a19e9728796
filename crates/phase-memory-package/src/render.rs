//! Pure rendering of a [`PackageInput`] into a [`Package`]: manifest, index and
//! one Markdown file per item. No I/O, no clock: byte-identical for equal input.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use phase_memory_model::{canonical_json, canonical_json_pretty, content_hash, round_score};
use serde_json::{Value, json};

use crate::escape::{fixed6, fold_line, markdown_inline, yaml_quoted, yaml_string_list};
use crate::naming::assign_item_paths;
use crate::{Package, PackageInput, PackageItem};

/// The `format` field of every manifest this crate writes.
pub const PACKAGE_FORMAT: &str = "markitect-package/1";
/// Path of the manifest inside a package.
pub const MANIFEST_PATH: &str = "package.json";
/// Path of the index inside a package.
pub const INDEX_PATH: &str = "index.md";
/// Heading used when the profile gives an empty title.
const DEFAULT_TITLE: &str = "Markitect package";

/// Renders a package. Items keep the input order; see `docs/packages.md` for
/// every field.
pub fn render(input: &PackageInput) -> Package {
    let pairs: Vec<(&str, &str)> = input
        .items
        .iter()
        .map(|i| (i.node.kind.as_str(), i.node.id.as_str()))
        .collect();
    let paths = assign_item_paths(&pairs);

    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut entries = Vec::with_capacity(input.items.len());
    for (item, path) in input.items.iter().zip(&paths) {
        let bytes = render_item(item).into_bytes();
        entries.push(json!({
            "node": item.node.id,
            "kind": item.node.kind,
            "phase": item.node.phase,
            "score": round_score(item.score),
            "tokens": item.tokens,
            "path": path,
            "blake3": content_hash(&bytes),
        }));
        files.insert(path.clone(), bytes);
    }

    let index = render_index(input, &paths).into_bytes();
    let mut manifest = json!({
        "format": PACKAGE_FORMAT,
        "title": input.title,
        "profile_digest": input.profile_digest,
        "cue": input.cue,
        "as_of": input.as_of.to_string(),
        "budget": {"limit": input.budget_limit, "used": input.budget_used},
        "index": {"path": INDEX_PATH, "blake3": content_hash(&index)},
        "items": entries,
        "withheld": {"count": input.withheld_count, "rules": input.withheld_rules},
        "provenance": {
            "store": input.store,
            "audit": {"seq": input.audit_seq, "hash": input.audit_hash},
        },
    });
    let id = manifest_id(&manifest);
    if let Value::Object(map) = &mut manifest {
        map.insert("id".into(), Value::String(id.clone()));
    }
    let mut manifest_text = canonical_json_pretty(&manifest);
    manifest_text.push('\n');

    files.insert(MANIFEST_PATH.into(), manifest_text.into_bytes());
    files.insert(INDEX_PATH.into(), index);
    Package { id, files }
}

/// The package id of a manifest: `blake3:<hex>` of the compact canonical JSON
/// (sorted keys, floats rounded to 6 decimals, no whitespace) of the manifest
/// with its `id` field removed. The manifest lists the BLAKE3 of `index.md` and
/// of every item file, so the id covers every byte of the package's content.
pub fn manifest_id(manifest: &Value) -> String {
    let mut without_id = manifest.clone();
    if let Value::Object(map) = &mut without_id {
        map.remove("id");
    }
    content_hash(canonical_json(&without_id).as_bytes())
}

/// One item file: YAML front matter, the title as a heading, the body.
fn render_item(item: &PackageItem) -> String {
    let node = &item.node;
    let mut out = String::with_capacity(node.body.len() + 256);
    out.push_str("---\n");
    let _ = writeln!(out, "id: {}", yaml_quoted(&node.id));
    let _ = writeln!(out, "kind: {}", yaml_quoted(&node.kind));
    let _ = writeln!(out, "phase: {}", yaml_quoted(&node.phase));
    let _ = writeln!(out, "title: {}", yaml_quoted(&node.title));
    let _ = writeln!(out, "labels: {}", yaml_string_list(&node.labels));
    let _ = writeln!(out, "score: {}", fixed6(item.score));
    let _ = writeln!(out, "tokens: {}", item.tokens);
    out.push_str("---\n\n");
    let _ = writeln!(out, "# {}", markdown_inline(heading_text(node)));
    let body = normalize_body(&node.body);
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&body);
        out.push('\n');
    }
    out
}

/// The text an item's heading shows: its title, or its id when the title is
/// blank once folded to one line.
pub fn heading_text(node: &phase_memory_model::Node) -> &str {
    if fold_line(&node.title).is_empty() {
        &node.id
    } else {
        &node.title
    }
}

/// Body as written: line endings normalised to `\n`, trailing blank lines and
/// trailing whitespace at the end dropped. Empty when the body is blank.
pub fn normalize_body(body: &str) -> String {
    let unified = body.replace("\r\n", "\n").replace('\r', "\n");
    unified.trim_end().to_string()
}

/// `index.md`: title, cue, provenance summary, and one line per item linking to
/// its file with score, kind and phase.
fn render_index(input: &PackageInput, paths: &[String]) -> String {
    let mut out = String::with_capacity(256 + 128 * paths.len());
    let title = if fold_line(&input.title).is_empty() {
        DEFAULT_TITLE
    } else {
        input.title.as_str()
    };
    let _ = writeln!(out, "# {}\n", markdown_inline(title));

    out.push_str("## Cue\n\n");
    let cue_lines = cue_lines(&input.cue);
    if cue_lines.is_empty() {
        out.push_str("(empty cue)\n");
    } else {
        for line in cue_lines {
            let _ = writeln!(out, "- {line}");
        }
    }

    out.push_str("\n## Contents\n\n");
    if input.items.is_empty() {
        out.push_str("No items.\n");
    }
    for (n, (item, path)) in input.items.iter().zip(paths).enumerate() {
        let _ = writeln!(
            out,
            "{}. [{}]({}) — score {} · {} · {} · id {}",
            n + 1,
            markdown_inline(heading_text(&item.node)),
            path,
            fixed6(item.score),
            markdown_inline(&item.node.kind),
            markdown_inline(&item.node.phase),
            markdown_inline(&item.node.id),
        );
    }

    out.push_str("\n## Provenance\n\n");
    let _ = writeln!(
        out,
        "- As of: {}",
        markdown_inline(&input.as_of.to_string())
    );
    let _ = writeln!(out, "- Profile: {}", markdown_inline(&input.profile_digest));
    let _ = writeln!(
        out,
        "- Budget: {} of {} tokens used",
        input.budget_used, input.budget_limit
    );
    let mut withheld = format!("- Withheld by policy: {}", input.withheld_count);
    if !input.withheld_rules.is_empty() {
        let rules: Vec<String> = input
            .withheld_rules
            .iter()
            .map(|(rule, n)| format!("{} {n}", markdown_inline(rule)))
            .collect();
        let _ = write!(withheld, " (by rule: {})", rules.join(", "));
    }
    let _ = writeln!(out, "{withheld}");
    let _ = writeln!(out, "- Store: {}", markdown_inline(&input.store));
    let _ = writeln!(
        out,
        "- Audit: seq {}, {}",
        input.audit_seq,
        markdown_inline(&input.audit_hash)
    );
    out
}

/// Human lines for the cue's known fields (every field is in `package.json`).
fn cue_lines(cue: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    match cue {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get("text")
                && !fold_line(text).is_empty()
            {
                lines.push(format!("Text: {}", markdown_inline(text)));
            }
            if let Some(Value::Array(nodes)) = map.get("nodes") {
                let ids: Vec<String> = nodes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(markdown_inline)
                    .collect();
                if !ids.is_empty() {
                    lines.push(format!("Nodes: {}", ids.join(", ")));
                }
            }
            if let Some(Value::Array(hints)) = map.get("hints") {
                let shown: Vec<String> = hints
                    .iter()
                    .filter_map(|h| {
                        let node = h.get("node")?.as_str()?;
                        let score = h.get("score").and_then(Value::as_f64).unwrap_or(0.0);
                        Some(format!("{} ({})", markdown_inline(node), fixed6(score)))
                    })
                    .collect();
                if !shown.is_empty() {
                    lines.push(format!("Hints: {}", shown.join(", ")));
                }
            }
            if let Some(Value::String(since)) = map.get("events_since") {
                lines.push(format!("Events since: {}", markdown_inline(since)));
            }
        }
        Value::String(text) if !fold_line(text).is_empty() => {
            lines.push(format!("Text: {}", markdown_inline(text)));
        }
        _ => {}
    }
    lines
}
