//! The index's schema and text analysis: the analyzers of titles, bodies and
//! cues ([`crate::Analysis`]) and the English stop words.

use std::cell::RefCell;
use std::collections::HashMap;
use tantivy::schema::{FAST, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, PreTokenizedString, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer, Token,
};

use crate::{ANALYZER, Analysis, EXACT_ANALYZER, ID_FIELD, MAX_TOKEN_BYTES};

/// The index's schema: the node id (indexed whole, and a fast field a search
/// reads its hits' ids from; nothing is stored), title, body and the exact
/// words (term frequencies, no positions), and the scope (indexed whole).
pub(crate) fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field(ID_FIELD, STRING | FAST);
    let text = |analyzer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    b.add_text_field("title", text(ANALYZER));
    b.add_text_field("body", text(ANALYZER));
    b.add_text_field("exact", text(EXACT_ANALYZER));
    b.add_text_field("scope", STRING);
    b.build()
}

fn simple() -> tantivy::tokenizer::TextAnalyzerBuilder {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .dynamic()
}

/// English function words dropped by the English analysis: articles, pronouns,
/// auxiliaries, question words, prepositions and conjunctions (tantivy's built-in
/// English list has only 33 words and keeps "what", "did", "you", which made small
/// talk match every question).
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "being",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "me",
    "my",
    "myself",
    "of",
    "on",
    "or",
    "ought",
    "our",
    "ours",
    "ourselves",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "s",
    "t",
    "d",
    "ll",
    "m",
    "re",
    "ve",
];

fn stop_words() -> StopWordFilter {
    StopWordFilter::remove(STOP_WORDS.iter().map(|w| (*w).to_string()))
}

/// The analyzer of titles, bodies and cues for `analysis`.
pub(crate) fn analyzer(analysis: Analysis) -> TextAnalyzer {
    match analysis {
        Analysis::Simple => simple().build(),
        Analysis::English => simple()
            .filter_dynamic(stop_words())
            .filter_dynamic(Stemmer::new(Language::English))
            .build(),
    }
}

/// The analyzer of the `exact` field: stop words removed, no stemming.
pub(crate) fn exact_analyzer() -> TextAnalyzer {
    simple().filter_dynamic(stop_words()).build()
}

/// Distinct words whose stems one thread keeps; the table starts again when full.
const STEM_CACHE: usize = 1 << 17;

/// One thread's analyzers for [`english`]: the exact analysis, a stemmer of one
/// word, and the stems of the words it has seen (a node's words repeat across
/// nodes, and the stemmer costs as much as the tokenizing).
struct Local {
    exact: TextAnalyzer,
    stemmer: TextAnalyzer,
    stems: HashMap<String, String>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local {
        exact: exact_analyzer(),
        stemmer: TextAnalyzer::builder(RawTokenizer::default())
            .filter(Stemmer::new(Language::English))
            .build(),
        stems: HashMap::new(),
    });
}

/// A text's English analysis done once: the unstemmed words of the `exact` field
/// and their stems (what the English analyzer gives, word for word: the stemmed
/// analysis is the exact one followed by the stemmer).
pub(crate) struct English {
    pub(crate) words: Vec<Token>,
    pub(crate) stems: Vec<Token>,
}

/// A pre-tokenized field value (the fields store nothing, so its text stays empty).
pub(crate) fn pre_tokenized(tokens: Vec<Token>) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens,
    }
}

/// Analyses `text` once for the English fields.
pub(crate) fn english(text: &str) -> English {
    LOCAL.with(|local| {
        let mut guard = local.borrow_mut();
        let local = &mut *guard;
        let mut words = Vec::new();
        let mut stream = local.exact.token_stream(text);
        while stream.advance() {
            words.push(stream.token().clone());
        }
        drop(stream);
        if local.stems.len() >= STEM_CACHE {
            local.stems.clear();
        }
        let stems = words
            .iter()
            .map(|w| {
                let mut token = w.clone();
                if let Some(stem) = local.stems.get(&w.text) {
                    token.text.clone_from(stem);
                } else {
                    let mut stream = local.stemmer.token_stream(&w.text);
                    if stream.advance() {
                        token.text.clone_from(&stream.token().text);
                    }
                    local.stems.insert(w.text.clone(), token.text.clone());
                }
                token
            })
            .collect();
        English { words, stems }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::TantivyDocument;
    use tantivy::{Index, Term};

    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            out.push(stream.token().clone());
        }
        out
    }

    fn text() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            prop::sample::select(vec![
                "movies",
                "Movie",
                "running",
                "ran",
                "the",
                "What",
                "did",
                "café",
                "Naïve",
                "studies",
                "studying",
                "x",
                "42",
                "it's",
                "généralement",
                "OK",
            ])
            .prop_map(str::to_string),
            "[a-zA-Zé0-9]{1,12}",
            "[ -~]{0,8}",
        ];
        prop::collection::vec(word, 0..30).prop_map(|w| w.join(" "))
    }

    proptest! {
        /// One pass gives exactly what the two analyzers gave: the exact words
        /// and, word for word, the English analyzer's stems (text, offsets,
        /// positions), also when a word's stem comes from the cache.
        #[test]
        fn english_once_equals_both_analyzers(a in text(), b in text()) {
            for t in [&a, &b, &a] {
                let once = english(t);
                prop_assert_eq!(&once.words, &tokens(exact_analyzer(), t));
                prop_assert_eq!(&once.stems, &tokens(analyzer(Analysis::English), t));
            }
        }
    }

    /// A document indexed pre-tokenized scores exactly as one the analyzers
    /// index: same hits, same BM25 (field norms and term frequencies).
    #[test]
    fn pre_tokenized_documents_score_as_analysed_ones() -> tantivy::Result<()> {
        let texts = [
            "Movies about running, the runner ran",
            "a study of studies; studying movies",
            "café naïve CAFE cafe movie",
            "",
            "what did you do with the movie",
        ];
        // Per query term: the hits' (doc, score bits).
        type Hits = Vec<(String, Vec<(u64, u32)>)>;
        let score = |pre: bool| -> tantivy::Result<Hits> {
            let index = Index::create_in_ram(schema());
            index
                .tokenizers()
                .register(ANALYZER, analyzer(Analysis::English));
            index
                .tokenizers()
                .register(EXACT_ANALYZER, exact_analyzer());
            let s = index.schema();
            let f = |n: &str| s.get_field(n);
            let (title, body, exact) = (f("title")?, f("body")?, f("exact")?);
            let mut w = index.writer_with_num_threads(1, 15_000_000)?;
            for (i, t) in texts.iter().enumerate() {
                let mut doc = TantivyDocument::default();
                doc.add_text(f(ID_FIELD)?, format!("n{i}"));
                let b = texts[(i + 1) % texts.len()];
                if pre {
                    for (field, text) in [(title, t), (body, &b)] {
                        if !text.is_empty() {
                            let e = english(text);
                            doc.add_pre_tokenized_text(field, pre_tokenized(e.stems));
                            doc.add_pre_tokenized_text(exact, pre_tokenized(e.words));
                        }
                    }
                } else {
                    for (field, text) in [(title, t), (body, &b)] {
                        if !text.is_empty() {
                            doc.add_text(field, text);
                            doc.add_text(exact, text);
                        }
                    }
                }
                w.add_document(doc)?;
            }
            w.commit()?;
            let searcher = index.reader()?.searcher();
            let mut out = Vec::new();
            for (field, term) in [
                (title, "movi"),
                (body, "movi"),
                (title, "studi"),
                (exact, "movies"),
                (exact, "cafe"),
                (body, "run"),
            ] {
                let q = TermQuery::new(
                    Term::from_field_text(field, term),
                    tantivy::schema::IndexRecordOption::WithFreqs,
                );
                let hits = searcher.search(&q, &TopDocs::with_limit(10).order_by_score())?;
                let hits = hits
                    .into_iter()
                    .map(|(s, a)| (u64::from(a.doc_id), s.to_bits()))
                    .collect();
                out.push((term.to_string(), hits));
            }
            Ok(out)
        };
        let analysed = score(false)?;
        assert!(
            analysed.iter().all(|(_, hits)| !hits.is_empty()),
            "{analysed:?}"
        );
        assert_eq!(score(true)?, analysed);
        Ok(())
    }
}
