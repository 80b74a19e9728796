//! Where a profile's diagnostics point: line and column of a byte offset or a field
//! path, the key under a parser error, and parser messages scrubbed of anything
//! quoted from the source (which may be a file that is not a profile at all).

use std::collections::BTreeSet;

/// Line and column (1-based) of a byte offset.
pub(super) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The key (or table header) on the line holding `offset`, qualified by its table.
pub(super) fn key_at(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = source[start..].lines().next().unwrap_or("").trim();
    let mut table = String::new();
    for l in source[..start].lines().rev() {
        let t = l.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            break;
        }
    }
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() {
        return None;
    }
    Some(if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    })
}

/// Whether every segment of a dotted key is a field name of the profile schema
/// (or a declared-by-the-user map key: kinds, edge types, roles are user names
/// but then the source is a profile, not some other file).
pub(super) fn is_schema_path(path: &str) -> bool {
    let names = schema_names();
    let segs: Vec<&str> = path.split('.').map(str::trim).collect();
    // The first segment must be a top-level field; later ones are fields or names
    // under a map the schema declares (kinds.fact.initial_phase).
    segs.first().is_some_and(|f| names.contains(*f))
        && segs.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Every property name in the profile's JSON Schema.
fn schema_names() -> &'static BTreeSet<String> {
    static NAMES: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut out = BTreeSet::new();
        fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(&crate::Profile::json_schema(), &mut out);
        out
    })
}

/// A parser message with anything quoted from the source replaced: the TOML
/// parser quotes unknown keys and values in backticks or double quotes, and the
/// source may be a file that is not a profile at all. Names of the profile
/// schema survive (`missing field `levels``).
pub(super) fn scrub_message(msg: &str) -> String {
    let mut out = String::new();
    for (i, part) in msg.split('`').enumerate() {
        if i % 2 == 1 {
            if schema_names().contains(part) || is_toml_word(part) {
                out.push('`');
                out.push_str(part);
                out.push('`');
            } else {
                out.push_str("`…`");
            }
        } else {
            out.push_str(&scrub_quotes(part));
        }
    }
    out.lines().next().unwrap_or("").chars().take(200).collect()
}

fn is_toml_word(s: &str) -> bool {
    ["=", "]", "[", ",", "}", "{", ".", "\"", "'", "\n", "#"].contains(&s)
}

fn scrub_quotes(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if i % 2 == 1 && !schema_names().contains(part) {
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    out
}

pub(super) fn field_from_message(msg: &str) -> String {
    // toml messages name the field in backticks: "missing field `levels`".
    msg.split('`').nth(1).unwrap_or("(document)").to_string()
}

/// Finds the line and column of a field path in the source, best effort.
pub(super) fn locate(source: &str, field: &str) -> Option<(usize, usize)> {
    // Split `policy.rules[2].effect` into table path `policy.rules`, index 2, key `effect`.
    let mut table = String::new();
    let mut index: Option<usize> = None;
    let mut rest = field;
    if let Some(open) = field.find('[') {
        table = field[..open].to_string();
        let close = field[open..].find(']')? + open;
        index = field[open + 1..close].parse().ok();
        rest = field[close + 1..].trim_start_matches('.');
    } else if let Some(dot) = field.rfind('.') {
        table = field[..dot].to_string();
        rest = &field[dot + 1..];
    }
    let key = rest.split('.').next().unwrap_or(rest);
    let mut offset = 0;
    let mut in_table = table.is_empty();
    let mut seen = 0usize;
    for line in source.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            in_table = if name == table {
                let hit = index.is_none_or(|i| i == seen);
                seen += 1;
                hit
            } else {
                false
            };
            if in_table && key.is_empty() {
                return Some(line_col(source, offset));
            }
        } else if in_table && !key.is_empty() {
            let k = t.split('=').next().unwrap_or("").trim();
            if k == key {
                let col = line.find(k).unwrap_or(0);
                return Some(line_col(source, offset + col));
            }
        }
        offset += line.len();
    }
    if !table.is_empty() {
        // Fall back to the table header (the indexed one when there is an index).
        if let Some(i) = index
            && !key.is_empty()
        {
            return locate(source, &format!("{table}[{i}]"));
        }
        return locate(source, &table);
    }
    None
}
