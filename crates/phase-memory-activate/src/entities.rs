//! Entities found in text without a model: names (runs of up to four capitalised
//! words, a run not starting with a common word such as "Yeah", "What" or "I'm";
//! a single such word that starts a sentence is not taken) and numbers of two to
//! eight digits. Deterministic: the same text gives the same
//! mentions, in order of first appearance, each once.
//!
//! An importer links a node to an entity node per mention (`mentions` edges), so
//! spreading activation joins nodes about the same person, place or thing.

/// Capitalised words that are not names when they start a sentence (or stand
/// alone): pronouns, articles, greetings, question words and fillers.
const NOT_NAMES: &[&str] = &[
    "a", "about", "after", "again", "ah", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "aw", "awesome", "aww", "be", "because", "been", "before", "but", "by", "bye", "can",
    "cause", "cool", "could", "did", "do", "does", "don't", "even", "ever", "every", "for", "from",
    "glad", "good", "great", "ha", "had", "haha", "hahaha", "has", "have", "he", "hello", "her",
    "here", "hey", "hi", "his", "hm", "hmm", "honestly", "how", "i", "i'd", "i'll", "i'm", "i've",
    "if", "in", "is", "it", "it's", "its", "just", "let", "like", "lol", "maybe", "me", "my",
    "nice", "no", "nope", "not", "now", "of", "oh", "ok", "okay", "omg", "on", "one", "or", "our",
    "really", "right", "same", "she", "so", "some", "sorry", "sounds", "sure", "thank", "thanks",
    "that", "that's", "the", "their", "then", "there", "these", "they", "this", "those", "to",
    "too", "um", "very", "was", "we", "well", "were", "what", "what's", "when", "where", "which",
    "who", "why", "will", "with", "would", "wow", "yay", "yeah", "yep", "yes", "yet", "you",
    "your", "yup",
];

/// Most words in one name.
const MAX_NAME_WORDS: usize = 4;

/// Most mentions taken from one text.
pub const MAX_MENTIONS: usize = 32;

/// One mention: the surface form (as written) and its key (lowercased words
/// joined by one space), which identifies the entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mention {
    /// The words as written.
    pub surface: String,
    /// Lowercased words joined by a space.
    pub key: String,
}

fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && chars.clone().any(char::is_lowercase)
        && chars.all(|c| c.is_alphabetic() || c == '\'' || c == '-')
}

fn is_number(word: &str) -> bool {
    word.len() >= 2 && word.len() <= 8 && word.chars().all(|c| c.is_ascii_digit())
}

fn common(word: &str) -> bool {
    let lower = word.to_lowercase();
    NOT_NAMES.binary_search(&lower.as_str()).is_ok()
}

/// The entity mentions of `text`, first appearance first, each key once, at most
/// [`MAX_MENTIONS`].
pub fn mentions(text: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    // A lone capitalised word that starts a sentence is usually not a name
    // ("Morning!", "Barely."): it is dropped; a name shows up mid-sentence too.
    let flush = |run: &mut Vec<&str>, out: &mut Vec<Mention>, at_start: bool| {
        if run.len() > 1 || (run.len() == 1 && !at_start) {
            let key = run
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if out.len() < MAX_MENTIONS && !out.iter().any(|m| m.key == key) {
                out.push(Mention {
                    surface: run.join(" "),
                    key,
                });
            }
        }
        run.clear();
    };
    let mut sentence_start = true;
    let mut run_at_start = false;
    for raw in text.split_whitespace() {
        let ends_sentence = raw.ends_with(['.', '!', '?']);
        let ends_phrase = ends_sentence || raw.ends_with([':', ';', ',', ')', '"']);
        let word = raw.trim_matches(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'));
        let word = word.strip_suffix("'s").unwrap_or(word);
        if is_number(word) {
            flush(&mut run, &mut out, run_at_start);
            run.push(word);
            flush(&mut run, &mut out, false);
        } else if is_capitalised(word) && !(run.is_empty() && common(word)) {
            if run.is_empty() {
                run_at_start = sentence_start;
            }
            run.push(word);
            if run.len() >= MAX_NAME_WORDS {
                flush(&mut run, &mut out, run_at_start);
            }
        } else {
            flush(&mut run, &mut out, run_at_start);
        }
        if ends_phrase {
            flush(&mut run, &mut out, run_at_start);
        }
        sentence_start = ends_sentence;
    }
    flush(&mut run, &mut out, run_at_start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(text: &str) -> Vec<String> {
        mentions(text).into_iter().map(|m| m.key).collect()
    }

    #[test]
    fn the_stop_list_is_sorted_for_binary_search() {
        assert!(NOT_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn names_places_and_numbers_are_found_once() {
        assert_eq!(
            keys("Hey! I went to New York with Kate, and Kate's dog. It was 2019 and I was 7."),
            ["new york", "kate", "2019"]
        );
    }

    #[test]
    fn sentence_starters_and_lowercase_words_are_not_names() {
        assert!(keys("Yeah that was great. What did you do? Lol ok").is_empty());
        assert_eq!(keys("Honestly Emi is the best"), ["emi"]);
        assert!(keys("Morning! Barely slept. Poor me").is_empty());
        assert_eq!(keys("Pixel is a cat. I named her Pixel."), ["pixel"]);
    }

    #[test]
    fn long_runs_are_cut() {
        assert_eq!(
            keys("Alpha Beta Gamma Delta Epsilon"),
            ["alpha beta gamma delta", "epsilon"]
        );
    }

    proptest! {
        #[test]
        fn mentions_are_bounded_unique_lowercase_and_deterministic(text in "[A-Za-z0-9 ,.!?']{0,200}") {
            let m = mentions(&text);
            prop_assert!(m.len() <= MAX_MENTIONS);
            for (i, x) in m.iter().enumerate() {
                prop_assert!(!x.key.is_empty());
                prop_assert_eq!(x.key.clone(), x.surface.to_lowercase());
                prop_assert!(m[..i].iter().all(|y| y.key != x.key));
                prop_assert!(x.surface.split(' ').count() <= MAX_NAME_WORDS);
            }
            prop_assert_eq!(m, mentions(&text));
        }
    }
}
