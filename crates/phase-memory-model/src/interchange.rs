//! The JSONL import/export format of SPEC section 10: one record per line,
//! discriminated by `record` (node, edge, event). Parsing is pure and reports the
//! line number and what is wrong; profile defaults are applied by the runtime.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Attrs, Tombstone};
use crate::time::Time;

/// A node line. Only `id` and `kind` are required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// Node id.
    pub id: String,
    /// Node kind.
    pub kind: String,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Scope (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Sensitivity (default: the profile's default level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
    /// Phase (default: the kind's initial phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Attrs>,
    /// Created (default: the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// Updated (default: created_at).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
    /// Validity start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Time>,
    /// Validity end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// Tombstone of a forgotten node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstone: Option<Tombstone>,
}

/// An edge line. Only `from`, `to` and `type` are required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EdgeRecord {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Type.
    #[serde(rename = "type")]
    pub edge_type: String,
    /// Weight (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Attrs>,
    /// Created (default: the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
}

/// An event line. Only `event` and `at` are required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// Event type.
    pub event: String,
    /// When.
    pub at: Time,
    /// Actor id (default: the importing actor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    /// Payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Event id (default `ev-<seq>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One line of the interchange format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "record", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // parsed one line at a time; boxing buys nothing
pub enum ImportRecord {
    /// A node.
    Node(NodeRecord),
    /// An edge.
    Edge(EdgeRecord),
    /// An event.
    Event(EventRecord),
}

/// A line that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    /// 1-based line number (0 when the error is not tied to a line).
    pub line: usize,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Diagnostic code (`import.invalid_json`, `import.invalid_record`, `import.unknown_record`).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Parses one line (1-based `line` for diagnostics).
pub fn parse_record(text: &str, line: usize) -> Result<ImportRecord, ImportError> {
    // A well-formed line parses straight into its record (no intermediate JSON
    // tree: most of the time of a bulk import's parse). Whatever that refuses,
    // including what the general path accepts (a repeated key: the last wins),
    // is parsed again the general way, which words the diagnostic.
    if let Ok(r) = serde_json::from_str::<ImportRecord>(text) {
        return Ok(r);
    }
    parse_record_general(text, line)
}

/// [`parse_record`] through a JSON tree: the record kind first, then its fields.
fn parse_record_general(text: &str, line: usize) -> Result<ImportRecord, ImportError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ImportError {
        line,
        column: Some(e.column()),
        code: "import.invalid_json",
        message: format!("not valid JSON: {e}"),
    })?;
    let Value::Object(mut map) = v else {
        return Err(ImportError {
            line,
            column: None,
            code: "import.invalid_record",
            message: "a record must be a JSON object".into(),
        });
    };
    let kind = match map.remove("record") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ImportError {
                line,
                column: None,
                code: "import.invalid_record",
                message: "field `record` must be a string".into(),
            });
        }
        None => {
            return Err(ImportError {
                line,
                column: None,
                code: "import.invalid_record",
                message: "missing field `record` (node, edge or event)".into(),
            });
        }
    };
    let body = Value::Object(map);
    let invalid = |e: serde_json::Error| ImportError {
        line,
        column: None,
        code: "import.invalid_record",
        message: format!("{kind} record: {e}"),
    };
    match kind.as_str() {
        "node" => serde_json::from_value(body)
            .map(ImportRecord::Node)
            .map_err(invalid),
        "edge" => serde_json::from_value(body)
            .map(ImportRecord::Edge)
            .map_err(invalid),
        "event" => serde_json::from_value(body)
            .map(ImportRecord::Event)
            .map_err(invalid),
        other => Err(ImportError {
            line,
            column: None,
            code: "import.unknown_record",
            message: format!("unknown record kind {other:?} (want node, edge or event)"),
        }),
    }
}

/// Parses a whole JSONL text; blank lines are skipped. Stops at the first error.
pub fn parse_jsonl(text: &str) -> Result<Vec<(usize, ImportRecord)>, ImportError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        out.push((i + 1, parse_record(l, i + 1)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{parse_record, parse_record_general};

    proptest! {
        /// The direct parse agrees with the general one on every line: records with
        /// keys in any order, repeated keys, unknown fields, wrong types, odd numbers.
        #[test]
        fn the_direct_parse_agrees_with_the_general_one(
            kind in prop::sample::select(vec!["node", "edge", "event", "nope"]),
            fields in prop::collection::vec((
                prop::sample::select(vec![
                    "id", "kind", "title", "body", "labels", "scope", "phase", "attrs",
                    "created_at", "updated_at", "tombstone", "from", "to", "type", "weight",
                    "event", "at", "subjects", "payload", "actor", "record", "extra",
                ]),
                prop::sample::select(vec![
                    "\"a\"", "\"x\\u00e9\\n\"", "1", "-0.5", "1e400", "18446744073709551616",
                    "2.0", "null", "true", "[\"l\",\"m\"]", "[1]", "{\"k\":1,\"k\":2}", "{}",
                    "\"2026-01-02T03:04:05Z\"", "\"2026-01-02T03:04:05.123Z\"", "\"node\"",
                ]),
            ), 0..8),
            tag_at in 0usize..9,
        ) {
            let mut parts: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            parts.insert(tag_at.min(parts.len()), format!("\"record\":\"{kind}\""));
            let line = format!("{{{}}}", parts.join(","));
            prop_assert_eq!(
                parse_record(&line, 3),
                parse_record_general(&line, 3),
                "{}", line
            );
        }
    }
}
