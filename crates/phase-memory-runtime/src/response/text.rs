//! Building blocks of the human renderings: aligned tables and short forms.

use std::fmt::Write;

/// An aligned table: upper-cased headers, cells cut at 60 characters, columns
/// two spaces apart, no trailing blanks.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count().min(60));
            }
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(60).collect();
                format!("{c:<width$}", width = w[i])
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    let head: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let _ = writeln!(out, "{}", line(&head));
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out.trim_end().to_string()
}

/// Key facts: a two-column table without its header line.
pub(crate) fn facts(rows: &[Vec<String>]) -> String {
    table(&["", ""], rows)
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A score or other fraction, to 4 decimals.
pub(crate) fn num(f: f64) -> String {
    format!("{f:.4}")
}

/// An optional value, or nothing.
pub(crate) fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The first 12 characters of a digest or hash (after its `algo:` prefix).
pub(crate) fn short(t: &str) -> String {
    let t = t.split_once(':').map_or(t, |(_, h)| h);
    t.chars().take(12).collect()
}

/// A JSON value as a table cell (for the parts of an answer that stay JSON:
/// adapter manifests, evaluation reports): strings bare, null empty, fractions
/// to 4 decimals.
pub(crate) fn cell(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => num(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A value as it is written on the wire, as a table cell (enums by their wire
/// name).
pub(crate) fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).map_or_else(|_| String::new(), |v| cell(&v))
}
