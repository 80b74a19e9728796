//! Verification of a package held in memory: manifest id, index and item
//! hashes, missing and unlisted files. Pure; [`crate::verify`] reads from disk.

use std::collections::{BTreeMap, BTreeSet};

use phase_memory_model::{canonical_json_pretty, content_hash};
use serde::Serialize;
use serde_json::Value;

use crate::naming::is_safe_relative_path;
use crate::render::{INDEX_PATH, MANIFEST_PATH, PACKAGE_FORMAT, manifest_id};

/// Diagnostic code: a file's bytes (or the manifest's content) do not match the
/// hash recorded for them.
pub const HASH_MISMATCH: &str = "package.hash_mismatch";
/// Diagnostic code: the package is malformed (missing, unlisted or unreadable
/// file, bad manifest, unsafe path, unsupported archive entry).
pub const INVALID: &str = "package.invalid";

/// One thing wrong with a package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VerifyProblem {
    /// `package.hash_mismatch` or `package.invalid`.
    pub code: String,
    /// Package-relative path of the file concerned (`package.json` for the
    /// manifest; the archive's own path when the archive cannot be read).
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl VerifyProblem {
    /// A problem with the given code.
    pub fn new(code: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        VerifyProblem {
            code: code.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The outcome of verifying a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The id the manifest claims (empty when there is no readable manifest).
    pub id: String,
    /// Number of items the manifest lists.
    pub items: usize,
    /// Everything found wrong, sorted by path, then code, then message.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// Whether the package verified without any problem.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies a package given as relative path → bytes.
///
/// Checks, each reported with the path concerned: the manifest exists, is JSON,
/// has format `markitect-package/1` and is in canonical form; its `id` matches
/// [`manifest_id`] of its content; `index.md` and every listed item exist and
/// match their BLAKE3; item paths are safe and unique; no file is unlisted.
pub fn verify_files(files: &BTreeMap<String, Vec<u8>>) -> VerifyReport {
    let mut problems = Vec::new();
    let mut report = VerifyReport {
        id: String::new(),
        items: 0,
        problems: Vec::new(),
    };
    let Some(bytes) = files.get(MANIFEST_PATH) else {
        problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            "the package has no manifest",
        ));
        report.problems = finish(problems);
        return report;
    };
    let manifest: Value = match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => {
            problems.push(VerifyProblem::new(
                INVALID,
                MANIFEST_PATH,
                "the manifest is not a JSON object",
            ));
            report.problems = finish(problems);
            return report;
        }
        Err(e) => {
            problems.push(VerifyProblem::new(
                INVALID,
                MANIFEST_PATH,
                format!(
                    "the manifest is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            ));
            report.problems = finish(problems);
            return report;
        }
    };

    match manifest.get("format").and_then(Value::as_str) {
        Some(PACKAGE_FORMAT) => {}
        Some(other) => {
            problems.push(VerifyProblem::new(
                INVALID,
                MANIFEST_PATH,
                format!("unsupported format {other:?} (expected {PACKAGE_FORMAT:?})"),
            ));
            report.problems = finish(problems);
            return report;
        }
        None => {
            problems.push(VerifyProblem::new(
                INVALID,
                MANIFEST_PATH,
                format!("the manifest has no \"format\" (expected {PACKAGE_FORMAT:?})"),
            ));
            report.problems = finish(problems);
            return report;
        }
    }

    // The id over the content.
    let computed = manifest_id(&manifest);
    match manifest.get("id").and_then(Value::as_str) {
        Some(claimed) => {
            report.id = claimed.to_string();
            if claimed != computed {
                problems.push(VerifyProblem::new(
                    HASH_MISMATCH,
                    MANIFEST_PATH,
                    format!("the manifest says id {claimed} but its content hashes to {computed}"),
                ));
            }
        }
        None => problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            "the manifest has no \"id\"",
        )),
    }
    let mut canonical = canonical_json_pretty(&manifest);
    canonical.push('\n');
    if canonical.as_bytes() != bytes.as_slice() {
        problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            "the manifest is not in canonical form (sorted keys, two-space indent, 6-decimal floats, trailing newline)",
        ));
    }

    let mut listed: BTreeSet<String> = BTreeSet::new();
    listed.insert(MANIFEST_PATH.to_string());

    // The index.
    match manifest.get("index") {
        Some(index) => check_listed_file(
            files,
            index,
            "index",
            Some(INDEX_PATH),
            &mut listed,
            &mut problems,
        ),
        None => problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            "the manifest has no \"index\" entry",
        )),
    }

    // The items.
    match manifest.get("items").and_then(Value::as_array) {
        Some(items) => {
            report.items = items.len();
            for (n, item) in items.iter().enumerate() {
                check_listed_file(
                    files,
                    item,
                    &format!("items[{n}]"),
                    None,
                    &mut listed,
                    &mut problems,
                );
            }
        }
        None => problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            "the manifest has no \"items\" list",
        )),
    }

    // Files nobody listed.
    for path in files.keys() {
        if !listed.contains(path) {
            problems.push(VerifyProblem::new(
                INVALID,
                path.clone(),
                "file is not listed in package.json",
            ));
        }
    }

    report.problems = finish(problems);
    report
}

/// Checks one `{path, blake3}` entry of the manifest against the files.
fn check_listed_file(
    files: &BTreeMap<String, Vec<u8>>,
    entry: &Value,
    what: &str,
    required_path: Option<&str>,
    listed: &mut BTreeSet<String>,
    problems: &mut Vec<VerifyProblem>,
) {
    let path = entry.get("path").and_then(Value::as_str);
    let hash = entry.get("blake3").and_then(Value::as_str);
    let (Some(path), Some(hash)) = (path, hash) else {
        problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            format!("{what} needs a string \"path\" and \"blake3\""),
        ));
        return;
    };
    let shape_ok = match required_path {
        Some(required) => path == required,
        None => is_safe_relative_path(path) && path.starts_with("items/") && path.ends_with(".md"),
    };
    if !shape_ok {
        problems.push(VerifyProblem::new(
            INVALID,
            MANIFEST_PATH,
            format!("{what} has path {path:?}, which is not a valid package path for it"),
        ));
        return;
    }
    if !listed.insert(path.to_string()) {
        problems.push(VerifyProblem::new(
            INVALID,
            path,
            format!("{what} lists a path that is already listed"),
        ));
        return;
    }
    match files.get(path) {
        None => problems.push(VerifyProblem::new(
            INVALID,
            path,
            format!("{what} is listed in package.json but the file is missing"),
        )),
        Some(bytes) => {
            let actual = content_hash(bytes);
            if actual != hash {
                problems.push(VerifyProblem::new(
                    HASH_MISMATCH,
                    path,
                    format!("file hashes to {actual} but package.json records {hash}"),
                ));
            }
        }
    }
}

fn finish(mut problems: Vec<VerifyProblem>) -> Vec<VerifyProblem> {
    problems.sort_by(|a, b| (&a.path, &a.code, &a.message).cmp(&(&b.path, &b.code, &b.message)));
    problems.dedup();
    problems
}
