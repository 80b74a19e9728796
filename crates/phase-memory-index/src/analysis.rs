//! The index's schema and text analysis: the analyzers of titles, bodies and
//! cues ([`crate::Analysis`]) and the English stop words.

use std::cell::RefCell;

use rustc_hash::FxHashMap;
use tantivy::schema::{FAST, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, StopWordFilter, TextAnalyzer, WhitespaceTokenizer,
};

use crate::{Analysis, ID_FIELD, MAX_TOKEN_BYTES};

/// Name of the tokenizer of the scored fields: their terms come analysed,
/// separated by spaces (an analysed term never holds a space: the words are runs
/// of alphanumeric characters, and neither lowercasing, ASCII folding nor the
/// stemmer adds one).
pub(crate) const TERMS: &str = "phase_memory_terms";

/// The tokenizer of the scored fields (see [`TERMS`]).
pub(crate) fn terms_tokenizer() -> TextAnalyzer {
    TextAnalyzer::from(WhitespaceTokenizer::default())
}

/// The index's schema: the node id (indexed whole, and a fast field a search
/// reads its hits' ids from; nothing is stored), title, body and the exact
/// words (term frequencies, no positions), and the scope (indexed whole). The
/// scored fields are given their terms already analysed ([`analyse_once`]),
/// separated by spaces, and split at the spaces by the [`TERMS`] tokenizer.
pub(crate) fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field(ID_FIELD, STRING | FAST);
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TERMS)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    b.add_text_field("title", text.clone());
    b.add_text_field("body", text.clone());
    b.add_text_field("exact", text);
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

/// One thread's analyzers for [`analyse_once`]: the English exact analysis, a
/// stemmer of one word, the stems of the words it has seen (a node's words repeat
/// across nodes, and the stemmer costs as much as the tokenizing), and the
/// simple analysis.
struct Local {
    exact: TextAnalyzer,
    stemmer: TextAnalyzer,
    stems: FxHashMap<Box<str>, Box<str>>,
    simple: TextAnalyzer,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local {
        exact: exact_analyzer(),
        stemmer: TextAnalyzer::builder(RawTokenizer::default())
            .filter(Stemmer::new(Language::English))
            .build(),
        stems: FxHashMap::default(),
        simple: analyzer(Analysis::Simple),
    });
}

/// A text analysed once, each list of terms joined by spaces (what the scored
/// fields are given): the terms of the title or body field (what [`analyzer`]
/// gives: the stems, for English) and the unstemmed words of the `exact` field
/// (English only: the stemmed analysis is the exact one followed by the
/// stemmer, so the stems are the words', one for one).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Analysed {
    pub(crate) terms: String,
    pub(crate) exact: String,
}

impl Analysed {
    /// The terms one by one.
    pub(crate) fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.split(' ').filter(|t| !t.is_empty())
    }

    /// The exact words one by one.
    pub(crate) fn exact(&self) -> impl Iterator<Item = &str> {
        self.exact.split(' ').filter(|t| !t.is_empty())
    }
}

/// Appends `term` to the space-separated `list`.
fn push_term(list: &mut String, term: &str) {
    if !list.is_empty() {
        list.push(' ');
    }
    list.push_str(term);
}

/// Analyses `text` once for the scored fields under `analysis`.
pub(crate) fn analyse_once(analysis: Analysis, text: &str) -> Analysed {
    let mut out = Analysed::default();
    if text.is_empty() {
        return out;
    }
    LOCAL.with(|local| {
        let mut guard = local.borrow_mut();
        let Local {
            exact,
            stemmer,
            stems,
            simple,
        } = &mut *guard;
        if analysis == Analysis::Simple {
            let mut stream = simple.token_stream(text);
            while stream.advance() {
                push_term(&mut out.terms, &stream.token().text);
            }
            return;
        }
        if stems.len() >= STEM_CACHE {
            stems.clear();
        }
        let mut stream = exact.token_stream(text);
        while stream.advance() {
            let word = stream.token().text.as_str();
            push_term(&mut out.exact, word);
            if let Some(stem) = stems.get(word) {
                push_term(&mut out.terms, stem);
                continue;
            }
            let mut one = stemmer.token_stream(word);
            let stem: Box<str> = if one.advance() {
                one.token().text.as_str().into()
            } else {
                word.into()
            };
            push_term(&mut out.terms, &stem);
            stems.insert(word.into(), stem);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::{Field, TantivyDocument};
    use tantivy::{Index, Term};

    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            out.push(stream.token().text.clone());
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
                "½",
                "ﬁne",
                "Straße",
                "İstanbul",
            ])
            .prop_map(str::to_string),
            "[a-zA-Zé0-9]{1,12}",
            "[ -~]{0,8}",
            "\\PC{0,6}",
        ];
        prop::collection::vec(word, 0..30).prop_map(|w| w.join(" "))
    }

    proptest! {
        /// One pass gives exactly what the analyzers gave, also after the
        /// fields' tokenizer splits the joined terms again: the English terms
        /// are the English analyzer's stems and the exact words the exact
        /// analyzer's (also when a stem comes from the table), the simple terms
        /// the simple analyzer's.
        #[test]
        fn one_pass_equals_the_analyzers(a in text(), b in text()) {
            for t in [&a, &b, &a] {
                let once = analyse_once(Analysis::English, t);
                let english = tokens(analyzer(Analysis::English), t);
                let exact = tokens(exact_analyzer(), t);
                prop_assert_eq!(once.terms().collect::<Vec<_>>(), english.clone());
                prop_assert_eq!(once.exact().collect::<Vec<_>>(), exact.clone());
                prop_assert_eq!(tokens(terms_tokenizer(), &once.terms), english);
                prop_assert_eq!(tokens(terms_tokenizer(), &once.exact), exact);
                let simple = analyse_once(Analysis::Simple, t);
                let words = tokens(analyzer(Analysis::Simple), t);
                prop_assert_eq!(simple.terms().collect::<Vec<_>>(), words.clone());
                prop_assert_eq!(tokens(terms_tokenizer(), &simple.terms), words);
                prop_assert!(simple.exact.is_empty());
            }
        }
    }

    /// Per query term: the hits' (doc, score bits).
    type Hits = Vec<(String, Vec<(u64, u32)>)>;

    /// An in-RAM index of `texts` (title i, body i + 1) in the schema `schema`,
    /// its scored fields analysed by `add`; the hits of a few terms.
    fn hits(
        schema: Schema,
        texts: &[&str],
        add: impl Fn(&mut TantivyDocument, [Field; 3], &str, &str),
    ) -> tantivy::Result<Hits> {
        let index = Index::create_in_ram(schema);
        let tokenizers = index.tokenizers();
        tokenizers.register(crate::ANALYZER, analyzer(Analysis::English));
        tokenizers.register(crate::EXACT_ANALYZER, exact_analyzer());
        tokenizers.register(TERMS, terms_tokenizer());
        let s = index.schema();
        let fields = [
            s.get_field("title")?,
            s.get_field("body")?,
            s.get_field("exact")?,
        ];
        let mut w = index.writer_with_num_threads(1, 15_000_000)?;
        for (i, t) in texts.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(s.get_field(ID_FIELD)?, format!("n{i}"));
            add(&mut doc, fields, t, texts[(i + 1) % texts.len()]);
            w.add_document(doc)?;
        }
        w.commit()?;
        let searcher = index.reader()?.searcher();
        let mut out = Vec::new();
        let [title, body, exact] = fields;
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
                IndexRecordOption::WithFreqs,
            );
            let found = searcher.search(&q, &TopDocs::with_limit(10).order_by_score())?;
            let found = found
                .into_iter()
                .map(|(s, a)| (u64::from(a.doc_id), s.to_bits()))
                .collect();
            out.push((term.to_string(), found));
        }
        Ok(out)
    }

    /// Documents whose terms were analysed once score exactly as documents the
    /// analyzers index (the schema before the terms tokenizer): same hits, same
    /// BM25 (field norms and term frequencies).
    #[test]
    fn documents_analysed_once_score_as_analysed_ones() -> tantivy::Result<()> {
        let texts = [
            "Movies about running, the runner ran",
            "a study of studies; studying movies",
            "café naïve CAFE cafe movie",
            "",
            "the of and",
            "what did you do with the movie",
        ];
        let mut analysed_schema = Schema::builder();
        analysed_schema.add_text_field(ID_FIELD, STRING | FAST);
        for (name, tokenizer) in [
            ("title", crate::ANALYZER),
            ("body", crate::ANALYZER),
            ("exact", crate::EXACT_ANALYZER),
        ] {
            analysed_schema.add_text_field(
                name,
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(tokenizer)
                        .set_index_option(IndexRecordOption::WithFreqs),
                ),
            );
        }
        let analysed = hits(
            analysed_schema.build(),
            &texts,
            |doc, [t, b, e], title, body| {
                for (field, text) in [(t, title), (b, body)] {
                    if !text.is_empty() {
                        doc.add_text(field, text);
                        doc.add_text(e, text);
                    }
                }
            },
        )?;
        assert!(analysed.iter().all(|(_, h)| !h.is_empty()), "{analysed:?}");
        let once = hits(schema(), &texts, |doc, [t, b, e], title, body| {
            for (field, text) in [(t, title), (b, body)] {
                if !text.is_empty() {
                    let a = analyse_once(Analysis::English, text);
                    doc.add_text(field, a.terms);
                    doc.add_text(e, a.exact);
                }
            }
        })?;
        assert_eq!(once, analysed);
        Ok(())
    }
}
