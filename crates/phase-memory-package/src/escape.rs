//! Escaping of untrusted text: Markdown inline text and YAML double-quoted scalars.
//!
//! Titles, ids, labels and cue text come from users. In Markdown they are
//! rendered as literal inline text (every character that could open an
//! inline construct backslash-escaped, line breaks and other control characters folded to a
//! space), so they can neither start a block nor open a link, emphasis, HTML or
//! entity. In YAML front matter every string is a double-quoted scalar with JSON
//! style escapes, which YAML 1.1 and 1.2 both accept, so no value can end the
//! front matter or change its structure.

use std::fmt::Write as _;

/// Characters that can open or close an inline construct (code span, emphasis,
/// link, image, autolink, raw HTML, entity, GFM table/strikethrough) or a
/// heading's closing sequence. Each is escaped with a backslash.
const MARKDOWN_SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '!', '#', '&', '|', '~',
];

/// Text made safe for CommonMark inline content that follows a block marker on
/// the same line (`# `, `- `, `1. `).
///
/// Control characters (including `\n`, `\r`, `\t`) become spaces; leading and
/// trailing spaces are dropped; the characters that could start an inline
/// construct are escaped with a backslash, which CommonMark turns back into the
/// character itself. The result never starts a block of its own because it is
/// only ever written after such a marker.
pub fn markdown_inline(text: &str) -> String {
    let folded = fold_line(text);
    let mut out = String::with_capacity(folded.len() + 8);
    for c in folded.chars() {
        if MARKDOWN_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text as it reads after [`markdown_inline`] is parsed back: control
/// characters folded to spaces, surrounding spaces trimmed.
pub fn fold_line(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    folded.trim_matches(' ').to_string()
}

/// A YAML double-quoted scalar holding exactly `s`.
///
/// Escapes `"` and `\`, the C0 and C1 control characters, DEL, the Unicode
/// line and paragraph separators, the byte-order mark and the non-characters
/// U+FFFE/U+FFFF (which YAML does not allow in a stream); everything else is
/// written as it is (UTF-8).
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_yaml_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_yaml_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7F..=0x9F).contains(&u)
        || u == 0x2028
        || u == 0x2029
        || u == 0xFEFF
        || u == 0xFFFE
        || u == 0xFFFF
}

/// A YAML flow sequence of double-quoted scalars: `["a", "b"]` (`[]` when empty).
pub fn yaml_string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| yaml_quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A number with exactly six decimals (`0.500000`): a valid float in YAML 1.1
/// and 1.2 and stable in Markdown. Non-finite values print as `0.000000`.
pub fn fixed6(x: f64) -> String {
    let r = phase_memory_model::round_score(x);
    format!("{r:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(markdown_inline(" *a*\n[b](c) "), "\\*a\\* \\[b\\](c)");
        assert_eq!(
            yaml_quoted("a\"b\\c\n\u{85}é"),
            "\"a\\\"b\\\\c\\n\\u0085é\""
        );
        assert_eq!(yaml_string_list(&[]), "[]");
        assert_eq!(fixed6(0.5), "0.500000");
        assert_eq!(fixed6(f64::NAN), "0.000000");
        assert_eq!(fixed6(-0.0000001), "0.000000");
    }
}
