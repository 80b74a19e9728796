//! Canonical JSON: sorted keys, floats rounded to a fixed precision, no
//! insignificant whitespace (or a stable pretty form). Envelopes, audit hashes and
//! package manifests are computed over this encoding, so it must never depend on
//! map insertion order or on serde_json feature flags.

use std::fmt::Write as _;

use serde_json::Value;

/// Decimal places every float is rounded to on the wire.
pub const FLOAT_DECIMALS: i32 = 6;

/// Rounds a score to the wire precision (6 decimals). NaN and infinities become 0.
pub fn round_score(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let p = 10f64.powi(FLOAT_DECIMALS);
    let r = (x * p).round() / p;
    if r == 0.0 { 0.0 } else { r }
}

/// Compact canonical encoding.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v, None, 0, true);
    out
}

/// Compact canonical encoding that keeps floats exact (sorted keys only). Used for
/// the interchange format, where a round trip must not lose precision.
pub fn canonical_json_exact(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v, None, 0, false);
    out
}

/// Pretty canonical encoding (two-space indent, sorted keys), used for human
/// readable files such as `package.json` and the CLI's `--json` output.
pub fn canonical_json_pretty(v: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_value(&mut out, v, Some(2), 0, true);
    out
}

fn write_value(out: &mut String, v: &Value, indent: Option<usize>, depth: usize, round: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() || !round {
                let _ = write!(out, "{n}");
            } else {
                let f = round_score(n.as_f64().unwrap_or(0.0));
                match serde_json::Number::from_f64(f) {
                    Some(num) => {
                        let _ = write!(out, "{num}");
                    }
                    None => out.push('0'),
                }
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write_value(out, item, indent, depth + 1, round);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&str, &Value)> =
                map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            write_entries(out, &mut entries, indent, depth, round);
        }
    }
}

/// Writes an object of `entries` (distinct keys, any order) as [`write_value`]
/// writes an object holding them: keys sorted.
fn write_entries(
    out: &mut String,
    entries: &mut [(&str, &Value)],
    indent: Option<usize>,
    depth: usize,
    round: bool,
) {
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent, depth + 1);
        write_str(out, k);
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        write_value(out, v, indent, depth + 1, round);
    }
    newline(out, indent, depth);
    out.push('}');
}

/// [`canonical_json`] of an object of `entries` (distinct keys, any order),
/// without building the object: what a caller holding its parts by reference
/// (an envelope and its data) writes without copying them.
pub fn canonical_json_of_entries(entries: &mut [(&str, &Value)]) -> String {
    let mut out = String::with_capacity(256);
    write_entries(&mut out, entries, None, 0, true);
    out
}

/// [`canonical_json_pretty`] of an object of `entries` (distinct keys, any order).
pub fn canonical_json_pretty_of_entries(entries: &mut [(&str, &Value)]) -> String {
    let mut out = String::with_capacity(512);
    write_entries(&mut out, entries, Some(2), 0, true);
    out
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(w) = indent {
        out.push('\n');
        for _ in 0..w * depth {
            out.push(' ');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    // serde_json's string escaping is canonical (it escapes only what JSON
    // requires: quotes, backslashes and control characters); a string with none
    // of those is written as it is.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

/// `blake3:<hex>` of raw bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// `blake3:<hex>` of the canonical encoding of a JSON value.
pub fn digest_value(v: &Value) -> String {
    content_hash(canonical_json(v).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_rounds_floats() {
        let v = json!({"b": 1, "a": {"z": 0.1234567891, "y": [1.0, 2]}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"y":[1.0,2],"z":0.123457},"b":1}"#
        );
    }
}
