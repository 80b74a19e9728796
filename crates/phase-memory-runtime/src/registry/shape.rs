//! The one-line `data` shape of an operation, generated from its response
//! schema: `{budget{limit,used}, items[{explain?,kind,…}], path?}`. Fields are in
//! name order; `?` marks a field the schema does not require (absent or null);
//! objects and arrays of objects show their own fields one level down when they
//! have at most [`INLINE`] of them.

use serde_json::{Map, Value};

/// Nested objects with more fields than this show their name only.
const INLINE: usize = 8;

/// The shape line of a response schema.
pub(super) fn line(schema: &Value) -> String {
    let defs = schema.get("$defs").and_then(Value::as_object);
    format!("{{{}}}", fields(schema, defs, 0).join(", "))
}

/// The fields of an object schema, each with its nested shape.
fn fields(object: &Value, defs: Option<&Map<String, Value>>, depth: usize) -> Vec<String> {
    let Some(props) = object.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let mark = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            let nested = if depth == 0 {
                nested(&props[name], defs)
            } else {
                String::new()
            };
            format!("{name}{nested}{mark}")
        })
        .collect()
}

/// `{a,b}` for an object, `[{a,b}]` for an array of objects, `[]` for other
/// arrays, nothing for scalars or objects too wide to inline.
fn nested(prop: &Value, defs: Option<&Map<String, Value>>) -> String {
    let prop = resolve(prop, defs);
    if let Some(items) = prop.get("items") {
        let items = resolve(items, defs);
        return format!("[{}]", inline(items, defs));
    }
    inline(prop, defs)
}

fn inline(object: &Value, defs: Option<&Map<String, Value>>) -> String {
    let f = fields(object, defs, 1);
    if f.is_empty() || f.len() > INLINE {
        String::new()
    } else {
        format!("{{{}}}", f.join(","))
    }
}

/// Follows `$ref` into `$defs` and looks through `anyOf [T, null]`.
fn resolve<'a>(schema: &'a Value, defs: Option<&'a Map<String, Value>>) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        if let Some(name) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            && let Some(def) = defs.and_then(|d| d.get(name))
        {
            s = def;
            continue;
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && let Some(inner) = any
                .iter()
                .find(|v| v.get("type").and_then(Value::as_str) != Some("null"))
        {
            s = inner;
            continue;
        }
        break;
    }
    s
}
