//! The wire schemas the front ends publish (the OpenAPI document and the MCP
//! tools' `inputSchema`/`outputSchema`), derived from the operation registry and
//! made exact where the registry's request types are loose:
//!
//! - inner `node`, `edge` and `event` objects (typed `Value` in the request
//!   types) get the import format's record schemas;
//! - `decision` and `status` fields get their enums;
//! - times get the shape the server parses (RFC 3339 with an offset, years
//!   0000–9998, so that any offset stays in range), `as_of` included;
//! - unsigned integers get their maximum, hint scores their [0, 1] range;
//! - every request accepts `request_id`; reads also accept `as_of` (writes run on
//!   the service's clock);
//! - with a [`Vocabulary`] (the HTTP service's `/v1/contracts` passes the store's
//!   profile), the node kinds, phases and sensitivity levels of `node.upsert` and
//!   the edge types of `edge.upsert` become enums, so that every schema-valid
//!   record is one the profile accepts.
//!
//! Schemas are self-contained JSON Schema 2020-12 documents: definitions live in
//! the root's `$defs` and are referenced as `#/$defs/NAME`.

use phase_memory_model::{EdgeRecord, EventRecord, NodeRecord};
use phase_memory_profile::Profile;
use phase_memory_runtime::registry;
use serde_json::{Map, Value, json};

/// Years the server can place any offset around (jiff's range ends in 9999).
pub const TIME_PATTERN: &str = "^([0-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-";

/// A time as the server parses it.
pub fn time_schema() -> Value {
    json!({
        "type": "string",
        "format": "date-time",
        "pattern": TIME_PATTERN,
        "description": "RFC 3339 time with an offset, e.g. 2026-01-01T00:00:00Z",
    })
}

/// An id or scope: no control character (`char::is_control`: C0, DEL and C1).
const ID_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$";

/// The record times a network client may send and the service ignores (it
/// stamps them with its own clock).
fn ignored_time() -> Value {
    json!({"description": "ignored: the service stamps the record with its own clock"})
}

/// The review statuses `review.list` filters on.
pub const REVIEW_STATUSES: [&str; 4] = ["pending", "approved", "rejected", "expired"];
/// The decisions `review.decide` takes.
pub const DECISIONS: [&str; 2] = ["approve", "reject"];

fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

/// Moves `schema`'s `$defs` into `defs` (names prefixed by `prefix` when they
/// clash with a different definition) and returns the root with references
/// rewritten.
pub fn absorb(mut schema: Value, prefix: &str, defs: &mut Map<String, Value>) -> Value {
    let mut own = Map::new();
    if let Value::Object(m) = &mut schema {
        m.remove("$schema");
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(d)) = m.remove(key) {
                own.extend(d);
            }
        }
    }
    let clash = own
        .iter()
        .any(|(n, d)| defs.get(n).is_some_and(|existing| existing != d));
    let rename = |n: &str| {
        if clash {
            format!("{prefix}_{n}")
        } else {
            n.to_string()
        }
    };
    for (n, mut d) in own.clone() {
        rewrite_refs(&mut d, "#/$defs/", &rename);
        defs.insert(rename(&n), d);
    }
    rewrite_refs(&mut schema, "#/$defs/", &rename);
    schema
}

/// Rewrites every `$ref` of the form `#/$defs/NAME` (or `#/definitions/NAME`) to
/// `<target>` + `rename(NAME)` (`#/$defs/` here, `#/components/schemas/` in OpenAPI).
pub(crate) fn rewrite_refs(v: &mut Value, target: &str, rename: &dyn Fn(&str) -> String) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "$ref"
                    && let Value::String(s) = val
                {
                    let name = s
                        .strip_prefix("#/$defs/")
                        .or_else(|| s.strip_prefix("#/definitions/"));
                    if let Some(name) = name {
                        *s = format!("{target}{}", rename(name));
                    }
                } else {
                    rewrite_refs(val, target, rename);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, target, rename)),
        _ => {}
    }
}

/// Rewrites every `$ref` of the form `#/$defs/NAME` to `{base}NAME`.
pub fn rebase_refs(v: &mut Value, base: &str) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "$ref"
                    && let Value::String(s) = val
                {
                    if let Some(name) = s.strip_prefix("#/$defs/") {
                        *s = format!("{base}{name}");
                    }
                } else {
                    rebase_refs(val, base);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rebase_refs(x, base)),
        _ => {}
    }
}

/// Tightens generated schemas in place: times, unsigned maxima.
fn tighten(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let is_time = m.get("format").and_then(Value::as_str) == Some("date-time");
            if is_time {
                m.insert("pattern".into(), json!(TIME_PATTERN));
            }
            let max = match m.get("format").and_then(Value::as_str) {
                Some("uint64") | Some("uint") => Some(json!(u64::MAX)),
                Some("uint32") => Some(json!(u32::MAX)),
                Some("uint16") => Some(json!(u16::MAX)),
                Some("uint8") => Some(json!(u8::MAX)),
                Some("int64") => Some(json!(i64::MAX)),
                Some("int32") => Some(json!(i32::MAX)),
                _ => None,
            };
            if let Some(max) = max {
                m.entry("maximum").or_insert(max);
            }
            if m.get("format").and_then(Value::as_str) == Some("int64") {
                m.entry("minimum").or_insert(json!(i64::MIN));
            }
            for (_, val) in m.iter_mut() {
                tighten(val);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(tighten),
        _ => {}
    }
}

/// A pattern that matches a string holding a character that is not Unicode
/// `White_Space` (what Rust's `str::trim` removes).
const NOT_ONLY_WHITESPACE: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A record schema of the import format, with the optional `record` tag.
fn record_schema<T: schemars::JsonSchema>(tag: &str, defs: &mut Map<String, Value>) -> Value {
    let mut s = absorb(schema_of::<T>(), tag, defs);
    if let Some(Value::Object(p)) = s.get_mut("properties") {
        // Ids are 1–256 bytes without control characters; names are never empty.
        for key in ["id", "from", "to", "kind", "type", "event"] {
            if let Some(Value::Object(f)) = p.get_mut(key)
                && f.get("type") == Some(&json!("string"))
            {
                f.insert("minLength".into(), json!(1));
                if matches!(key, "id" | "from" | "to") {
                    f.insert("maxLength".into(), json!(256));
                    f.insert("pattern".into(), json!(ID_PATTERN));
                }
            }
        }
        // The server trims names with Rust's `char::is_whitespace`: at least one
        // character outside that set.
        if let Some(Value::Object(f)) = p.get_mut("event")
            && f.get("type") == Some(&json!("string"))
        {
            f.insert("pattern".into(), json!(NOT_ONLY_WHITESPACE));
        }
        p.insert(
            "record".into(),
            json!({"description": format!("the import format's tag (`{tag}`); ignored here")}),
        );
        if let Some(Value::Object(subjects)) = p.get_mut("subjects") {
            subjects.insert("items".into(), json!({"type": "string", "minLength": 1}));
        }
    }
    s
}

/// The names a profile declares that a record must use: what makes a
/// schema-valid `node.upsert` or `edge.upsert` one the store accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Node kinds.
    pub kinds: Vec<String>,
    /// Phases a node may be written in (the forgetting phase is reached only
    /// through `lifecycle.apply` or `node.delete`).
    pub phases: Vec<String>,
    /// Sensitivity levels.
    pub sensitivities: Vec<String>,
    /// Edge types.
    pub edge_types: Vec<String>,
}

impl Vocabulary {
    /// The vocabulary of `profile`.
    pub fn of(profile: &Profile) -> Self {
        let forgotten = profile.forgotten_phase();
        Vocabulary {
            kinds: profile.kinds.keys().cloned().collect(),
            phases: profile
                .phases
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| Some(n.as_str()) != forgotten)
                .collect(),
            sensitivities: profile.sensitivity.levels.clone(),
            edge_types: profile.edge_types.keys().cloned().collect(),
        }
    }

    /// Narrows the request schema of `operation` (from [`request_schema`]) to
    /// this vocabulary; other operations are left as they are.
    pub fn narrow(&self, operation: &str, schema: &mut Value) {
        let (field, narrowed): (&str, Vec<(&str, &[String])>) = match operation {
            "node.upsert" => (
                "node",
                vec![
                    ("kind", &self.kinds),
                    ("phase", &self.phases),
                    ("sensitivity", &self.sensitivities),
                ],
            ),
            "edge.upsert" => ("edge", vec![("type", &self.edge_types)]),
            _ => return,
        };
        let Some(record) = prop(schema, field) else {
            return;
        };
        for (name, values) in narrowed {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            set_enum(record, name, &values);
        }
    }
}

fn prop<'a>(schema: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    schema.get_mut("properties")?.get_mut(name)
}

fn set_enum(schema: &mut Value, name: &str, values: &[&str]) {
    if let Some(Value::Object(p)) = prop(schema, name) {
        let nullable = p
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|x| x == "null"));
        p.remove("type");
        let mut e: Vec<Value> = values.iter().map(|v| json!(v)).collect();
        if nullable {
            e.push(Value::Null);
        }
        p.insert("enum".into(), Value::Array(e));
    }
}

/// The request schema of `operation` as the front ends accept it (see the
/// module doc); `None` for an unknown operation.
pub fn request_schema(operation: &str) -> Option<Value> {
    let op = registry::find(operation)?;
    let mut defs = Map::new();
    let mut s = absorb((op.request_schema)(), "req", &mut defs);
    match operation {
        "node.upsert" => {
            let mut r = record_schema::<NodeRecord>("node", &mut defs);
            if let Some(Value::Object(p)) = r.get_mut("properties") {
                // Only an import restores a tombstone; a scope is an id.
                p.insert(
                    "tombstone".into(),
                    json!({"type": "null", "description": "written only by node.delete and imports"}),
                );
                p.insert("created_at".into(), ignored_time());
                p.insert("updated_at".into(), ignored_time());
                if let Some(Value::Object(f)) = p.get_mut("scope") {
                    f.insert("minLength".into(), json!(1));
                    f.insert("maxLength".into(), json!(256));
                    f.insert("pattern".into(), json!(ID_PATTERN));
                }
            }
            if let Some(p) = prop(&mut s, "node") {
                *p = r;
            }
        }
        "edge.upsert" => {
            let mut r = record_schema::<EdgeRecord>("edge", &mut defs);
            if let Some(Value::Object(p)) = r.get_mut("properties") {
                p.insert("created_at".into(), ignored_time());
            }
            if let Some(p) = prop(&mut s, "edge") {
                *p = r;
            }
        }
        "event.append" => {
            let mut r = record_schema::<EventRecord>("event", &mut defs);
            // `at` may be left out: the event takes the time of the request.
            if let Some(Value::Array(required)) = r.get_mut("required") {
                required.retain(|k| k != "at");
            }
            if let Some(p) = prop(&mut s, "event") {
                *p = r;
            }
        }
        "review.decide" => set_enum(&mut s, "decision", &DECISIONS),
        "review.list" => set_enum(&mut s, "status", &REVIEW_STATUSES),
        // audit.query's `status` is a free filter (an unknown value matches nothing);
        // its `actor` is a filter when a string, and an object there is ignored (the
        // caller comes from the token or the server's configuration).
        "audit.query" => {
            if let Some(a) = prop(&mut s, "actor") {
                *a = json!({"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "object"}], "description": "records by this actor id"});
            }
        }
        _ => {}
    }
    if let Some(Value::Object(cue)) = defs.get_mut("CueRequest") {
        // The server refuses an empty cue.
        cue.insert(
            "anyOf".into(),
            json!([
                {"required": ["text"], "properties": {"text": {"type": "string", "pattern": "\\S"}}},
                {"required": ["nodes"], "properties": {"nodes": {"type": "array", "minItems": 1}}},
                {"required": ["hints"], "properties": {"hints": {"type": "array", "minItems": 1}}},
                {"required": ["events_since"], "properties": {"events_since": {"type": "string"}}},
            ]),
        );
    }
    if let Some(Value::Object(hint)) = defs.get_mut("Hint")
        && let Some(Value::Object(score)) =
            hint.get_mut("properties").and_then(|p| p.get_mut("score"))
    {
        score.insert("minimum".into(), json!(0.0));
        score.insert("maximum".into(), json!(1.0));
    }
    if let Value::Object(m) = &mut s {
        let props = m
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(p) = props {
            // Only reads let a network client choose the time; writes run on the
            // service's clock and refuse `as_of` (request.as_of_write).
            if phase_memory_runtime::registry::find(operation)
                .is_some_and(|spec| spec.accepts_client_time())
            {
                p.insert(
                    "as_of".into(),
                    json!({
                        "anyOf": [time_schema(), {"type": "null"}],
                        "description": "RFC 3339 time (with an offset) that overrides the clock for this call",
                    }),
                );
            }
            p.insert(
                "request_id".into(),
                json!({"type": ["string", "null"], "description": "echoed in the envelope (default: derived from the request digest)"}),
            );
            if matches!(operation, "activation.run" | "package.compile")
                && let Some(Value::Object(limit)) = p.get_mut("limit")
            {
                limit.insert("minimum".into(), json!(1));
            }
        }
        m.insert("type".into(), json!("object"));
    }
    tighten(&mut s);
    for d in defs.values_mut() {
        tighten(d);
    }
    if !defs.is_empty()
        && let Value::Object(m) = &mut s
    {
        m.insert("$defs".into(), Value::Object(defs));
    }
    Some(s)
}

/// Envelope statuses, as they appear on the wire.
pub const STATUSES: [&str; 7] = [
    "ok",
    "invalid",
    "denied",
    "review_required",
    "not_found",
    "conflict",
    "error",
];

/// The envelope schema with `data` typed by `operation`'s data schema when the
/// status is `ok` (self-contained, definitions in `$defs`).
pub fn envelope_schema(operation: Option<&str>) -> Value {
    let contracts = phase_memory_runtime::service_contracts();
    let mut defs = Map::new();
    let mut env = absorb(
        contracts
            .get("envelope_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"})),
        "Envelope",
        &mut defs,
    );
    if let Some(op) = operation.and_then(registry::find) {
        let data = absorb((op.response_schema)(), "data", &mut defs);
        if let Value::Object(m) = &mut env {
            m.insert(
                "if".into(),
                json!({"properties": {"status": {"const": "ok"}}, "required": ["status"]}),
            );
            m.insert("then".into(), json!({"properties": {"data": data}}));
        }
    }
    if let Value::Object(m) = &mut env {
        m.insert("type".into(), json!("object"));
        if !defs.is_empty() {
            m.insert("$defs".into(), Value::Object(defs));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_request_schema_with_the_common_fields() {
        for op in registry::OPERATIONS {
            let s = request_schema(op.name).expect("schema");
            assert_eq!(s["type"], "object", "{}", op.name);
            if op.accepts_client_time() {
                assert_eq!(
                    s["properties"]["as_of"]["anyOf"][0]["pattern"],
                    TIME_PATTERN
                );
            } else {
                // Writes run on the service's clock: no `as_of` to offer.
                assert!(s["properties"].get("as_of").is_none(), "{}", op.name);
            }
            assert!(s["properties"]["request_id"].is_object());
        }
        assert!(request_schema("no.such").is_none());
    }

    #[test]
    fn inner_records_and_enums_are_typed() {
        let s = request_schema("node.upsert").expect("schema");
        assert_eq!(s["properties"]["node"]["type"], "object", "{s}");
        assert!(
            s["properties"]["node"]["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("id")) && r.contains(&json!("kind"))),
            "{s}"
        );
        let s = request_schema("event.append").expect("schema");
        assert!(
            s["properties"]["event"]["properties"]["at"].is_object(),
            "{s}"
        );
        let s = request_schema("review.decide").expect("schema");
        assert_eq!(
            s["properties"]["decision"]["enum"],
            json!(["approve", "reject"])
        );
        let s = request_schema("review.list").expect("schema");
        let e = s["properties"]["status"]["enum"].as_array().expect("enum");
        assert!(e.contains(&json!("pending")), "{s}");
    }

    #[test]
    fn statuses_match_the_model() {
        for s in STATUSES {
            let v: phase_memory_model::Status =
                serde_json::from_value(json!(s)).expect("a model status");
            assert_eq!(v.as_str(), s);
        }
    }
}
