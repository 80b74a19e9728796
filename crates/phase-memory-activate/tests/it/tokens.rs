//! The ASCII fast paths of `o200k_base` and `cl100k_base` count what tiktoken counts.

use phase_memory_activate::TokenCounter;
use proptest::prelude::*;

/// Fragments that meet every branch of the o200k_base and cl100k_base patterns
/// and their edges:
/// case changes, contractions (any case), digit runs, punctuation with trailing
/// line breaks and slashes, every ASCII white space, control bytes, long runs.
const FRAGMENTS: [&str; 40] = [
    "a",
    "Z",
    "hello",
    "World",
    "HTTPServer",
    "ABC",
    "x",
    "0",
    "12345",
    "7",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\x0b",
    "\x0c",
    "'",
    "'s",
    "'S",
    "'re",
    "'LL",
    "'ve",
    "'m",
    "'d",
    "'t",
    "'x",
    ".",
    "/",
    "//",
    "(",
    "!?",
    "\x00",
    "\x1f",
    "\x7f",
    "-",
    "_",
    "é",
    "日本",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn o200k_fast_count_equals_tiktoken(parts in prop::collection::vec(0usize..FRAGMENTS.len(), 0..40)) {
        let text: String = parts.iter().map(|&k| FRAGMENTS[k]).collect();
        let o = TokenCounter::new("o200k_base").expect("o200k");
        prop_assert_eq!(o.count_fast(&text), o.count_reference(&text), "{:?}", text);
    }

    #[test]
    fn o200k_fast_count_equals_tiktoken_on_any_ascii(text in "[\\x00-\\x7f]{0,200}") {
        let o = TokenCounter::new("o200k_base").expect("o200k");
        prop_assert_eq!(o.count_fast(&text), o.count_reference(&text), "{:?}", text);
    }

    #[test]
    fn cl100k_fast_count_equals_tiktoken(parts in prop::collection::vec(0usize..FRAGMENTS.len(), 0..40)) {
        let text: String = parts.iter().map(|&k| FRAGMENTS[k]).collect();
        let c = TokenCounter::new("cl100k_base").expect("cl100k");
        prop_assert_eq!(c.count_fast(&text), c.count_reference(&text), "{:?}", text);
    }

    #[test]
    fn cl100k_fast_count_equals_tiktoken_on_any_ascii(text in "[\\x00-\\x7f]{0,200}") {
        let c = TokenCounter::new("cl100k_base").expect("cl100k");
        prop_assert_eq!(c.count_fast(&text), c.count_reference(&text), "{:?}", text);
    }
}

#[test]
fn o200k_fast_count_on_prose_and_long_runs() {
    prose_and_long_runs(&TokenCounter::new("o200k_base").expect("o200k"));
}

#[test]
fn cl100k_fast_count_on_prose_and_long_runs() {
    prose_and_long_runs(&TokenCounter::new("cl100k_base").expect("cl100k"));
}

fn prose_and_long_runs(o: &TokenCounter) {
    let texts = [
        "The quarterly report's numbers don't add up: revenue was $1,234,567.89 (up 12%).\n\nSee https://example.org/a/b?c=d#e for details -- or call 555-0100.",
        "  leading and trailing spaces   \n\n\n   indented\tTabbed\r\nCRLF line\r\n",
        "CamelCaseWords and snake_case_words and SCREAMING_CASE and mIxEd CaSe'S",
        "it's we'LL they're I'd  'tis ''quoted'' x'y\n\n  \n",
        "trailing white space with a line break \n  ",
        &"x".repeat(150),
        &"!".repeat(120),
        &format!("{}\n{}", " ".repeat(130), "9".repeat(101)),
        "",
    ];
    for t in texts {
        assert_eq!(o.count_fast(t), o.count_reference(t), "{t:?}");
    }
    // The public count agrees too, before and after the fast path starts.
    for k in 0..(phase_memory_activate::tokens::FAST_AFTER + 10) {
        let t = format!("note {k}: Alice's {k}th visit");
        assert_eq!(o.count(&t), o.count_reference(&t), "{t:?}");
    }
}
