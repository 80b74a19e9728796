//! The index's schema and text analysis: the analyzers of titles, bodies and
//! cues ([`crate::Analysis`]) and the English stop words.

use tantivy::schema::{FAST, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
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
