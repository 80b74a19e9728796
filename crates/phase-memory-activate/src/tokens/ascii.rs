//! An exact fast path for counting ASCII text in `o200k_base` and `cl100k_base`.
//!
//! `CoreBPE::count_ordinary` splits text with the encoding's pattern through a
//! backtracking regular expression engine (the pattern has a look-ahead), which
//! costs most of the count. On ASCII text every class of the pattern reduces to a
//! byte class, so the split is done here by hand, following the pattern's
//! alternatives in order (leftmost-first, greedy, as the engine backtracks). Each
//! piece is then counted as `count_ordinary` does: one token when the vocabulary
//! holds it, else the same byte-pair merge (`tiktoken_rs::byte_pair_split`) over
//! the same ranks, whose result is remembered per distinct piece (a merge depends
//! on the piece alone). Pieces of 100 bytes or more that the vocabulary lacks (where
//! tiktoken switches to another merge routine) give `None`, and the caller counts
//! the whole text with tiktoken. The integration tests compare both counts on
//! random text (proptest).

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank, byte_pair_split};

/// Which encoding's split pattern a fast path follows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    O200k,
    Cl100k,
}

/// The fast path of one encoding: its pattern, and its vocabulary map built on
/// first use.
pub(super) struct FastPath {
    pattern: Pattern,
    ranks: OnceLock<Ranks>,
}

impl FastPath {
    pub(super) const fn new(pattern: Pattern) -> FastPath {
        FastPath {
            pattern,
            ranks: OnceLock::new(),
        }
    }

    /// Tokens of ASCII `text` in the vocabulary of `bpe` (`None`: count it with
    /// tiktoken instead).
    pub(super) fn count(&self, text: &[u8], bpe: &CoreBPE) -> Option<usize> {
        count(
            text,
            self.ranks.get_or_init(|| Ranks::of(bpe)),
            self.pattern,
        )
    }
}

/// The vocabulary's ordinary tokens by their bytes (the map `CoreBPE` keeps
/// private), rebuilt from its decoder.
pub(super) struct Ranks(FxHashMap<Vec<u8>, Rank>);

/// Ranks without a token past the last one of the vocabulary before the search
/// ends (the ordinary ranks are contiguous from 0; special tokens follow).
const RANK_GAP: Rank = 10_000;

impl Ranks {
    pub(super) fn of(bpe: &CoreBPE) -> Ranks {
        let special: HashSet<&str> = bpe.special_tokens();
        let mut map = FxHashMap::default();
        let mut last: Rank = 0;
        let mut rank: Rank = 0;
        while rank <= last.saturating_add(RANK_GAP) {
            if let Ok(bytes) = bpe.decode_bytes(&[rank]) {
                last = rank;
                if !std::str::from_utf8(&bytes).is_ok_and(|s| special.contains(s)) {
                    map.insert(bytes, rank);
                }
            }
            rank += 1;
        }
        Ranks(map)
    }
}

/// Tokens of ASCII `text` (`None`: count it with tiktoken instead).
fn count(text: &[u8], ranks: &Ranks, pattern: Pattern) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        let end = match pattern {
            Pattern::O200k => piece_end(text, i),
            Pattern::Cl100k => piece_end_cl100k(text, i),
        };
        let piece = &text[i..end];
        n += if piece.len() == 1 || ranks.0.contains_key(piece) {
            1
        } else if piece.len() < 100 {
            merged(piece, ranks, pattern)
        } else {
            return None;
        };
        i = end;
    }
    Some(n)
}

/// Distinct pieces a thread remembers the merge of before it starts over.
const MEMO_PIECES: usize = 1 << 16;

thread_local! {
    /// Tokens of pieces the vocabulary lacks, as merged before on this thread
    /// (one map per encoding): the merge costs most of a count, and words recur
    /// (text follows Zipf's law).
    static MERGED: RefCell<[FxHashMap<Vec<u8>, usize>; 2]> = RefCell::new(Default::default());
}

/// Tokens of a piece of 2 to 99 bytes the vocabulary lacks (the byte-pair merge,
/// remembered per thread).
fn merged(piece: &[u8], ranks: &Ranks, pattern: Pattern) -> usize {
    MERGED.with(|m| {
        let mut maps = m.borrow_mut();
        let m = &mut maps[pattern as usize];
        if let Some(&n) = m.get(piece) {
            return n;
        }
        let n = byte_pair_split(piece, &ranks.0).len();
        if m.len() >= MEMO_PIECES {
            m.clear();
        }
        m.insert(piece.to_vec(), n);
        n
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// `\r` or `\n`.
    Newline,
    /// Other white space: tab, vertical tab, form feed, space.
    Space,
    /// Anything else (punctuation, symbols, control characters).
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'A'..=b'Z' => Class::Upper,
        b'a'..=b'z' => Class::Lower,
        b'0'..=b'9' => Class::Digit,
        b'\r' | b'\n' => Class::Newline,
        b'\t' | 0x0b | 0x0c | b' ' => Class::Space,
        _ => Class::Other,
    }
}

/// The end of the run of bytes from `i` whose class passes `f`.
fn run(s: &[u8], i: usize, f: impl Fn(Class) -> bool) -> usize {
    i + s[i.min(s.len())..]
        .iter()
        .take_while(|&&b| f(class(b)))
        .count()
}

fn class_at(s: &[u8], i: usize) -> Option<Class> {
    s.get(i).map(|&b| class(b))
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` after a word ending at `e`.
fn contraction(s: &[u8], e: usize) -> usize {
    if s.get(e) != Some(&b'\'') {
        return e;
    }
    let lower = |k: usize| s.get(k).map(u8::to_ascii_lowercase);
    match (lower(e + 1), lower(e + 2)) {
        (Some(b's' | b't' | b'm' | b'd'), _) => e + 2,
        (Some(b'r' | b'v'), Some(b'e')) | (Some(b'l'), Some(b'l')) => e + 3,
        _ => e,
    }
}

/// The end of the piece starting at `i` under the `o200k_base` pattern:
///
/// ```text
/// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// ```
///
/// On ASCII: `\p{Lu}…` is `[A-Z]`, `\p{Ll}…` is `[a-z]`, `\p{N}` is `[0-9]`,
/// `\s` is `[\t\n\x0b\x0c\r ]`.
fn piece_end(s: &[u8], i: usize) -> usize {
    use Class::*;
    let c = class(s[i]);
    // A word, with one optional leading byte that is no letter, digit or line
    // break. The leading byte is tried first (greedy `?`); without it the word
    // would have to start at `i`, which is then no letter.
    if matches!(c, Upper | Lower | Space | Other) {
        let j = if matches!(c, Space | Other) { i + 1 } else { i };
        let uppers = run(s, j, |k| k == Upper);
        // Uppercase then lowercase (a backtracking `[A-Z]*` cannot help: a
        // shorter run is followed by an uppercase letter).
        if class_at(s, uppers) == Some(Lower) {
            return contraction(s, run(s, uppers, |k| k == Lower));
        }
        // Uppercase only (no lowercase follows, or the first branch took it).
        if uppers > j {
            return contraction(s, uppers);
        }
    }
    if c == Digit {
        return i + (run(s, i, |k| k == Digit) - i).min(3);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    let k = if s[i] == b' ' && class_at(s, i + 1) == Some(Other) {
        i + 1
    } else {
        i
    };
    if class(s[k]) == Other {
        let end = run(s, k, |x| x == Other);
        return end
            + s[end..]
                .iter()
                .take_while(|&&b| matches!(b, b'\r' | b'\n' | b'/'))
                .count();
    }
    // White space from here on: the run is [i, r).
    let r = run(s, i, |x| matches!(x, Space | Newline));
    // `\s*[\r\n]+`: up to the run's last line break.
    if let Some(last) = (i..r).rev().find(|&x| class(s[x]) == Newline) {
        return last + 1;
    }
    // `\s+(?!\S)`: the whole run at the end of the text, else all of it but the
    // byte before the next non-space (when that leaves one); else `\s+`.
    if r == s.len() || r - i < 2 { r } else { r - 1 }
}

/// The end of the piece starting at `i` under the `cl100k_base` pattern (as
/// `tiktoken-rs` writes it, with possessive quantifiers):
///
/// ```text
/// '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
/// |\s++$|\s*[\r\n]|\s+(?!\S)|\s
/// ```
///
/// On ASCII: `\p{L}` is `[A-Za-z]`, `\p{N}` is `[0-9]`, `\s` is
/// `[\t\n\x0b\x0c\r ]`, and `$` is the end of the text.
fn piece_end_cl100k(s: &[u8], i: usize) -> usize {
    use Class::*;
    // A contraction on its own (not attached to the word before it).
    let c = contraction(s, i);
    if c > i {
        return c;
    }
    let letter = |k: Class| matches!(k, Upper | Lower);
    let c = class(s[i]);
    // Letters, with one leading byte that is no letter, digit or line break
    // (possessive: taken whenever present, so letters must follow it).
    if letter(c) {
        return run(s, i, letter);
    }
    if matches!(c, Space | Other) && class_at(s, i + 1).is_some_and(letter) {
        return run(s, i + 1, letter);
    }
    if c == Digit {
        return i + (run(s, i, |k| k == Digit) - i).min(3);
    }
    // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
    let k = if s[i] == b' ' && class_at(s, i + 1) == Some(Other) {
        i + 1
    } else {
        i
    };
    if class(s[k]) == Other {
        let end = run(s, k, |x| x == Other);
        return run(s, end, |x| x == Newline);
    }
    // White space from here on: the run is [i, r).
    let r = run(s, i, |x| matches!(x, Space | Newline));
    // `\s++$`: the whole run when it ends the text.
    if r == s.len() {
        return r;
    }
    // `\s*[\r\n]`: up to the run's last line break.
    if let Some(last) = (i..r).rev().find(|&x| class(s[x]) == Newline) {
        return last + 1;
    }
    // `\s+(?!\S)`: all of the run but the byte before the next non-space (when
    // that leaves one); else `\s`.
    if r - i < 2 { i + 1 } else { r - 1 }
}
