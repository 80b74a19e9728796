//! The full-text index of phase-memory: BM25 over node titles and bodies, on tantivy.
//!
//! The index is derived data: it can always be rebuilt from the store
//! ([`FullTextIndex::rebuild`]). It records the store generation it reflects in the
//! commit payload, so the runtime can tell whether it is fresh
//! ([`FullTextIndex::generation`]).
//!
//! Nothing is stored: the node id is indexed whole and kept in a fast field (a
//! column the hits' ids are read from without decompressing stored documents);
//! title and body are indexed (term frequencies, no positions) but never stored,
//! so after [`FullTextIndex::purge`] no text of a deleted node survives in any
//! file of the index folder.
//!
//! Text is analysed for English ([`Analysis::English`], the default): words are
//! lowercased, ASCII-folded, English stop words dropped and the rest stemmed
//! (Snowball), so "movie" matches "movies"; an `exact` field keeps the unstemmed
//! words, so an exact match still scores above a stem-only one. Each node's scope
//! is indexed too, so a search can be limited to the scopes an actor may see
//! before the top hits are taken ([`Search::scopes`]). A document's text is
//! analysed once: its terms and unstemmed words go to tantivy already analysed.
//!
//! The commit payload records the analyzer version ([`ANALYZER_VERSION`]); an index
//! written by another version reports no generation, so the runtime rebuilds it on
//! open, and a folder whose schema differs is cleared and recreated.
//!
//! Writes ([`FullTextIndex::upsert`], [`FullTextIndex::delete`]) become visible to
//! [`FullTextIndex::search`] and [`FullTextIndex::doc_count`] at the next
//! [`FullTextIndex::commit`]. With [`IndexOptions::pending_docs`] set, a commit of
//! a few documents keeps them in memory beside the folder's last commit (see
//! `overlay.rs`: searches give what the committed index would) and writes them
//! to the folder only once that many gathered, after
//! [`IndexOptions::pending_age`], or on [`FullTextIndex::flush`]; the generation
//! then is what index and memory reflect, while the folder records the last
//! generation written there (a process that ends without a flush leaves the
//! folder behind, to be caught up by its next user).

mod analysis;
mod commit;
mod ids;
mod journal;
mod maxscore;
mod open;
mod overlay;
mod ranked;
mod relaxed;

pub use analysis::STOP_WORDS;
use analysis::{analyzer, exact_analyzer, schema};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use maxscore::set_exhaustive_for_thread;
use overlay::{Clause, Doc, Overlay};

use phase_memory_model::Node;
use tantivy::merge_policy::LogMergePolicy;
use tantivy::schema::{Field, TantivyDocument};
use tantivy::{Index, IndexReader, IndexWriter, Term};

pub mod feedback;
pub use feedback::{Feedback, rm3_weights};

/// Name of the analyzer used for titles, bodies and cues.
pub const ANALYZER: &str = "phase_memory_text";

/// Name of the analyzer of the `exact` field (no stemming).
pub const EXACT_ANALYZER: &str = "phase_memory_exact";

/// Version of the schema and analyzers, recorded in every commit. An index written
/// with another version reports no generation (so it is rebuilt).
/// 1: simple words; 2: English stop words + stemming, exact field, scope field;
/// 3: the id a fast field instead of a stored one; 4: the scored fields get their
/// terms analysed once, split at spaces by their tokenizer.
pub const ANALYZER_VERSION: u32 = 4;

/// The id field (indexed whole; a fast field the hits' ids are read from).
pub(crate) const ID_FIELD: &str = "id";

/// How text is split into terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Analysis {
    /// Lowercased, ASCII-folded words, English stop words removed, Snowball-stemmed;
    /// plus an unstemmed `exact` field for exact-match boosts.
    #[default]
    English,
    /// Lowercased, ASCII-folded words, nothing removed or stemmed (the analyzer of
    /// version 1; kept as a baseline).
    Simple,
}

/// Score multipliers of the fields a search looks at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldWeights {
    /// The title field.
    pub title: f32,
    /// The body field.
    pub body: f32,
    /// The unstemmed words of title and body (English analysis only).
    pub exact: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            title: 1.0,
            body: 1.0,
            exact: 0.0,
        }
    }
}

/// One search: text, how many hits, and the scopes it is limited to.
#[derive(Clone, Copy, Debug)]
pub struct Search<'a> {
    /// The cue text.
    pub text: &'a str,
    /// Most hits returned.
    pub limit: usize,
    /// Only nodes in one of these scopes (`None`: every scope). The filter applies
    /// before the top `limit` are taken.
    pub scopes: Option<&'a [String]>,
    /// Field weights.
    pub weights: FieldWeights,
}

impl<'a> Search<'a> {
    /// A search over every scope with the default weights.
    pub fn new(text: &'a str, limit: usize) -> Self {
        Search {
            text,
            limit,
            scopes: None,
            weights: FieldWeights::default(),
        }
    }
}

/// Longest token (bytes) that is indexed; longer ones are dropped.
pub const MAX_TOKEN_BYTES: usize = 40;

/// Most distinct cue terms a search uses (the rest of a very long cue is ignored).
pub const MAX_QUERY_TERMS: usize = 256;

/// Writer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexOptions {
    /// Indexing threads.
    pub num_threads: usize,
    /// Memory budget of the writer over all threads, in bytes.
    pub memory_budget_bytes: usize,
    /// Text analysis.
    pub analysis: Analysis,
    /// Whether a commit syncs what it wrote (`fsync`) before it returns. When
    /// false (see `relaxed.rs`), a commit survives the process being killed but
    /// not necessarily an operating-system crash, after which the index is behind
    /// (caught up by its user) or unreadable (cleared on open: it reports no
    /// generation, so its user rebuilds it).
    pub durable: bool,
    /// Documents a commit may keep in memory instead of writing them to the
    /// folder (0: every commit writes). Only a handle shared with another
    /// ([`FullTextIndex::share`], a server's pool) keeps any: a lone one writes
    /// at every commit. Searches see them at once; they are written once this
    /// many gathered, after [`IndexOptions::pending_age`], or on
    /// [`FullTextIndex::flush`].
    pub pending_docs: usize,
    /// Longest time documents stay in memory only (checked at each commit).
    pub pending_age: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            num_threads: 2,
            memory_budget_bytes: 150_000_000,
            analysis: Analysis::English,
            durable: true,
            pending_docs: 0,
            pending_age: Duration::from_secs(1),
        }
    }
}

/// An error of the full-text index, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index folder could not be created.
    #[error("cannot create the full-text index folder {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The index could not be opened or created (busy, corrupt, unreadable).
    #[error("cannot open the full-text index at {location}: {source}")]
    Open {
        /// Folder or `memory`.
        location: String,
        /// Cause.
        source: tantivy::TantivyError,
    },
    /// The folder holds an index with another schema; rebuild it.
    #[error(
        "the full-text index at {location} has an unexpected schema (field {field:?} missing); delete the folder and rebuild"
    )]
    Schema {
        /// Folder or `memory`.
        location: String,
        /// The missing field.
        field: &'static str,
    },
    /// An operation on an open index failed.
    #[error("full-text index {action} failed at {location}: {source}")]
    Tantivy {
        /// What was being done (upsert, commit, search, …).
        action: &'static str,
        /// Folder or `memory`.
        location: String,
        /// Cause.
        source: tantivy::TantivyError,
    },
    /// The writer was lost after an earlier failure; reopen the index.
    #[error("full-text index writer at {location} is unavailable after an earlier failure")]
    WriterLost {
        /// Folder or `memory`.
        location: String,
    },
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    exact: Field,
    scope: Field,
}

/// The persistent (or in-RAM) full-text index. Any number of handles (in any
/// number of processes) may read one folder; the first write of a handle takes the
/// folder's one writer (a second handle writing at the same time fails with
/// [`IndexError::Open`]) until [`FullTextIndex::release_writer`]. The store's writer
/// lock decides who writes; [`FullTextIndex::reload`] shows a reader what other
/// handles committed. Handles made with [`FullTextIndex::share`] share one reader,
/// generation and the documents kept in memory (one process's pool).
pub struct FullTextIndex {
    index: Index,
    writer: Option<IndexWriter>,
    reader: IndexReader,
    fields: Fields,
    location: String,
    options: IndexOptions,
    shared: Arc<RwLock<Shared>>,
    /// The index folder (`None` in RAM).
    dir: Option<PathBuf>,
    /// Documents written since the last commit, for the overlay (id, document or
    /// deletion), in order.
    staged: Vec<(String, Option<Doc>)>,
    /// Documents were added to or deleted from the tantivy writer since the last
    /// commit (a bulk write or a rebuild).
    uncommitted: bool,
    /// A rebuild replaces everything: the overlay is dropped at its commit.
    superseded: bool,
    /// The node ids of the segments searched lately (shared with the handles
    /// of [`FullTextIndex::share`]).
    ids: Arc<ids::IdTables>,
    /// The writer held is the configured (bulk) one, not the small one.
    writer_bulk: bool,
}

/// What the handles of [`FullTextIndex::share`] share.
#[derive(Debug, Default)]
struct Shared {
    /// The store generation index and overlay reflect.
    generation: Option<u64>,
    /// The opstamp of the folder's commit the reader shows.
    opstamp: u64,
    /// The generation that commit records.
    written: Option<u64>,
    /// The journal of kept commits (`journal.rs`) starts at `written`.
    noting: bool,
    overlay: Overlay,
}

/// Memory budget of the writer of small updates (tantivy's smallest).
const SMALL_WRITER_BUDGET: usize = 15_000_000;

/// Documents in one upsert from which the configured (bulk) writer is used.
const BULK_DOCUMENTS: usize = 1_000;

/// Nodes analysed together (in parallel) by a bulk write before their documents
/// go to the writer.
const DOCUMENT_CHUNK: usize = 4_096;

impl std::fmt::Debug for FullTextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullTextIndex")
            .field("location", &self.location)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    generation: u64,
    #[serde(default)]
    analyzer: u32,
    #[serde(default)]
    analysis: String,
}

fn analysis_tag(a: Analysis) -> &'static str {
    match a {
        Analysis::English => "english",
        Analysis::Simple => "simple",
    }
}

impl FullTextIndex {
    fn err(&self, action: &'static str) -> impl Fn(tantivy::TantivyError) -> IndexError + '_ {
        move |source| IndexError::Tantivy {
            action,
            location: self.location.clone(),
            source,
        }
    }

    /// The writer, taken on first use: a small one (one indexing thread, the
    /// smallest memory budget) for the few documents of a write, so a commit of
    /// one write does not start threads and allocate buffers sized for a bulk
    /// import; the configured one for a rebuild or a large batch (`bulk`).
    fn writer_for(&mut self, bulk: bool) -> Result<&IndexWriter, IndexError> {
        if bulk && !self.writer_bulk && !self.uncommitted {
            self.release_writer();
        }
        if self.writer.is_none() {
            let options = if bulk {
                self.options
            } else {
                IndexOptions {
                    num_threads: 1,
                    memory_budget_bytes: SMALL_WRITER_BUDGET,
                    ..self.options
                }
            };
            let writer = new_writer(&self.index, options).map_err(|source| IndexError::Open {
                location: self.location.clone(),
                source,
            })?;
            self.writer = Some(writer);
            self.writer_bulk = bulk;
        }
        self.writer.as_ref().ok_or_else(|| IndexError::WriterLost {
            location: self.location.clone(),
        })
    }

    /// Gives up the folder's writer (after waiting for its merges), so another
    /// handle may write. Pending uncommitted writes are dropped (documents a
    /// commit kept in memory stay).
    pub fn release_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.wait_merging_threads();
        }
        self.uncommitted = false;
        self.superseded = false;
        self.staged.clear();
    }

    fn read_shared(&self) -> RwLockReadGuard<'_, Shared> {
        self.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_shared(shared: &RwLock<Shared>) -> RwLockWriteGuard<'_, Shared> {
        shared.write().unwrap_or_else(|e| e.into_inner())
    }

    fn document(&self, node: &Node) -> TantivyDocument {
        self.document_terms(node, false).0
    }

    /// A node's document and, when `terms`, the terms of its scored fields (title,
    /// body, exact) for the overlay. Each text is analysed once: the fields get
    /// their terms (stems, for English) and the unstemmed words of `exact`
    /// joined by spaces, which their tokenizer only splits again.
    fn document_terms(&self, node: &Node, terms: bool) -> (TantivyDocument, [Vec<String>; 3]) {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.fields.id, &node.id);
        let mut out: [Vec<String>; 3] = Default::default();
        let mut exact = Vec::with_capacity(2);
        for (slot, (field, text)) in [
            (self.fields.title, &node.title),
            (self.fields.body, &node.body),
        ]
        .into_iter()
        .enumerate()
        {
            let analysed = analysis::analyse_once(self.options.analysis, text);
            if terms {
                out[slot] = analysed.terms().map(str::to_string).collect();
                out[2].extend(analysed.exact().map(str::to_string));
            }
            if !text.is_empty() {
                doc.add_text(field, analysed.terms);
            }
            if !analysed.exact.is_empty() {
                exact.push(analysed.exact);
            }
        }
        for words in exact {
            doc.add_text(self.fields.exact, words);
        }
        doc.add_text(self.fields.scope, &node.scope);
        (doc, out)
    }

    /// The overlay's form of a node's document.
    fn overlay_doc(&self, node: &Node) -> Doc {
        let (document, terms) = self.document_terms(node, true);
        Doc::new(document, node.scope.clone(), terms)
    }

    /// Whether writes go to the overlay (not straight to the tantivy writer).
    fn overlaid(&self) -> bool {
        self.options.pending_docs > 0 && !self.uncommitted
    }

    /// Replaces the documents of these nodes (by id). A forgotten node
    /// (`tombstone.is_some()`) is removed instead of indexed.
    pub fn upsert(&mut self, nodes: &[Node]) -> Result<(), IndexError> {
        let bulk = nodes.len() >= BULK_DOCUMENTS;
        if self.overlaid() && !bulk {
            for node in nodes {
                let doc = node.tombstone.is_none().then(|| self.overlay_doc(node));
                self.staged.push((node.id.clone(), doc));
            }
            return Ok(());
        }
        if self.options.pending_docs > 0 && !self.uncommitted {
            // A bulk write goes to the writer: what memory holds goes first.
            self.flush()?;
            self.write_staged()?;
        }
        self.writer_for(bulk)?;
        // Into an empty index (nothing committed by any handle, nothing pending),
        // a node's first document replaces nothing: no delete to queue and apply
        // (a bulk import into a new store).
        // The reader answers first (no disk read when it holds documents); only an
        // empty-looking index is checked against the folder's last commit.
        let empty = !self.uncommitted
            && self.reader.searcher().num_docs() == 0
            && self.committed_docs()? == 0;
        let mut added: std::collections::HashSet<&str> = Default::default();
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        self.uncommitted = true;
        for chunk in nodes.chunks(DOCUMENT_CHUNK) {
            let chunk: Vec<&Node> = chunk.iter().collect();
            let docs = self.documents(&chunk);
            for (node, doc) in chunk.into_iter().zip(docs) {
                if !empty || !added.insert(node.id.as_str()) {
                    writer.delete_term(Term::from_field_text(self.fields.id, &node.id));
                }
                if let Some(doc) = doc {
                    writer.add_document(doc).map_err(self.err("upsert"))?;
                }
            }
        }
        Ok(())
    }

    /// The documents of these nodes (`None` for a forgotten one), analysed in
    /// parallel: the caller's thread would otherwise do all of a bulk write's
    /// analysis while tantivy's indexing threads wait for documents.
    fn documents(&self, nodes: &[&Node]) -> Vec<Option<TantivyDocument>> {
        use rayon::prelude::*;
        nodes
            .par_iter()
            .map(|node| node.tombstone.is_none().then(|| self.document(node)))
            .collect()
    }

    /// Removes the documents of these node ids (unknown ids are ignored).
    pub fn delete(&mut self, ids: &[String]) -> Result<(), IndexError> {
        if ids.is_empty() {
            return Ok(());
        }
        if self.overlaid() {
            self.staged.extend(ids.iter().map(|id| (id.clone(), None)));
            return Ok(());
        }
        self.writer_for(false)?;
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        self.uncommitted = true;
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        Ok(())
    }

    /// Live documents of the last commit of any handle (read from the folder's
    /// metadata, not from this handle's possibly older reader).
    fn committed_docs(&self) -> Result<u64, IndexError> {
        let metas = self.index.load_metas().map_err(self.err("upsert"))?;
        Ok(metas.segments.iter().map(|s| u64::from(s.num_docs())).sum())
    }

    /// The store generation the index reflects (`None` for a new index): of the
    /// last commit, or of the documents kept in memory since.
    pub fn generation(&self) -> Option<u64> {
        self.read_shared().generation
    }

    /// Clears the index, indexes `nodes` (forgotten ones are skipped), commits at
    /// `generation` and merges what the indexing threads wrote into one segment.
    pub fn rebuild<'a>(
        &mut self,
        nodes: impl Iterator<Item = &'a Node>,
        generation: u64,
    ) -> Result<(), IndexError> {
        self.writer_for(true)?;
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        writer.delete_all_documents().map_err(self.err("rebuild"))?;
        self.uncommitted = true;
        self.superseded = true;
        self.staged.clear();
        let mut nodes = nodes.peekable();
        while nodes.peek().is_some() {
            let chunk: Vec<&Node> = nodes.by_ref().take(DOCUMENT_CHUNK).collect();
            for doc in self.documents(&chunk).into_iter().flatten() {
                writer.add_document(doc).map_err(self.err("rebuild"))?;
            }
        }
        self.commit(generation)?;
        // One segment instead of one per indexing thread: a search then prunes
        // with one top-hits threshold over every document instead of starting
        // again in each segment. The commit stands if the merge fails.
        if self.merge_all("rebuild (merge)", 2).is_err() {
            self.writer = None;
            let _ = self.reader.reload();
        }
        Ok(())
    }

    /// Commits pending writes (under the current generation), merges every segment
    /// into one and deletes every file no longer used, so no text of a deleted
    /// document survives in the index folder. Costs a full rewrite of the index:
    /// run it after a forget, not after every write.
    pub fn purge(&mut self) -> Result<(), IndexError> {
        self.commit_with(None)?;
        self.merge_all("purge", 1)
    }

    /// Merges every segment of the last commit into one (when there are at
    /// least `min_segments`: one alone is rewritten without its deleted
    /// documents), waiting for it, and deletes every file no longer used. The
    /// merge keeps the commit's payload (its generation).
    fn merge_all(&mut self, action: &'static str, min_segments: usize) -> Result<(), IndexError> {
        // Wait for background merges to end, so that every segment can be merged now.
        if let Some(writer) = self.writer.take() {
            writer
                .wait_merging_threads()
                .map_err(self.err("merge (waiting for merges)"))?;
        }
        let mut writer = new_writer(&self.index, self.options).map_err(self.err(action))?;
        let segments = self
            .index
            .searchable_segment_ids()
            .map_err(self.err(action))?;
        if segments.len() >= min_segments.max(1) {
            writer.merge(&segments).wait().map_err(self.err(action))?;
        }
        self.reader.reload().map_err(self.err("reload"))?;
        writer
            .garbage_collect_files()
            .wait()
            .map_err(self.err(action))?;
        self.writer = Some(writer);
        self.writer_bulk = true;
        Ok(())
    }

    /// Number of documents in the last commit (with those kept in memory).
    pub fn doc_count(&self) -> u64 {
        let st = self.read_shared();
        let searcher = self.reader.searcher();
        if st.overlay.is_empty() {
            return searcher.num_docs();
        }
        let shadow = st.overlay.shadow_for(&searcher, self.fields.id);
        searcher.num_docs() - Overlay::shadowed(shadow.as_ref()) + st.overlay.live()
    }

    /// Segments of the commit the reader shows (for tests and diagnostics).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// The scored fields by slot (see `overlay.rs`).
    fn slots(&self) -> [Field; overlay::SCORED] {
        [self.fields.title, self.fields.body, self.fields.exact]
    }

    /// Runs `f` on the current searcher with the statistics of the committed
    /// documents and the ones kept in memory together (the overlay's shadow
    /// computed for that searcher).
    fn with_stats<R>(&self, f: impl FnOnce(&overlay::Combined<'_>) -> R) -> R {
        let st = self.read_shared();
        let searcher = self.reader.searcher();
        let shadow = st.overlay.shadow_for(&searcher, self.fields.id);
        let stats = overlay::Combined {
            searcher: &searcher,
            shadow: shadow.as_ref(),
            overlay: &st.overlay,
            slots: self.slots(),
        };
        f(&stats)
    }

    /// Splits text into the index's terms (lowercased, ASCII-folded words; for
    /// English analysis without stop words and stemmed), in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.analyse(ANALYZER, text)
    }

    fn analyse(&self, name: &str, text: &str) -> Vec<String> {
        let mut analyzer = match self.index.tokenizers().get(name) {
            Some(a) => a,
            None if name == EXACT_ANALYZER => exact_analyzer(),
            None => analyzer(self.options.analysis),
        };
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// BM25 over title and body: up to `limit` `(node id, raw score)` pairs, highest
    /// score first, ties by id. Never fails on user text: the cue is split into the
    /// index's terms and each becomes a should-clause on title and on body.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<(String, f32)>, IndexError> {
        self.search_with(&Search::new(text, limit))
    }

    /// BM25 over title, body and (English analysis) the exact words, each field's
    /// score times its weight, limited to `search.scopes` before the top hits are
    /// taken: up to `limit` `(node id, raw score)` pairs, highest score first, ties
    /// by id. Ties at the cut-off are resolved by id too, whatever the segment
    /// layout, so the same documents give the same hits.
    pub fn search_with(&self, search: &Search<'_>) -> Result<Vec<(String, f32)>, IndexError> {
        let limit = search.limit;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let terms: BTreeSet<String> = self.terms(search.text).into_iter().collect();
        let exact: BTreeSet<String> =
            if self.options.analysis == Analysis::English && search.weights.exact > 0.0 {
                self.analyse(EXACT_ANALYZER, search.text)
                    .into_iter()
                    .collect()
            } else {
                BTreeSet::new()
            };
        if terms.is_empty() && exact.is_empty() {
            return Ok(Vec::new());
        }
        let w = search.weights;
        let mut clauses = Vec::new();
        for term in terms.iter().take(MAX_QUERY_TERMS) {
            self.clause(&mut clauses, 0, term, w.title);
            self.clause(&mut clauses, 1, term, w.body);
        }
        for term in exact.iter().take(MAX_QUERY_TERMS) {
            self.clause(&mut clauses, 2, term, w.exact);
        }
        self.ranked(&clauses, search.scopes, limit)
    }

    /// Adds the clause of `term` in scored field `slot` at `weight` (none for a
    /// weight that is not positive and finite).
    pub(crate) fn clause(&self, clauses: &mut Vec<Clause>, slot: usize, term: &str, weight: f32) {
        if weight > 0.0 && weight.is_finite() {
            clauses.push(Clause {
                field: self.slots()[slot],
                slot,
                term: term.to_string(),
                weight,
            });
        }
    }
}

/// The score a hit is ranked by: BM25 rounded to 1/65536. Scores of equal documents
/// can differ in the last bits with the order a multi-term query sums its terms in
/// (which depends on segments and threads); rounding makes them tie, and ties are
/// broken by id, so rankings do not depend on how the index was built.
fn tie_key(score: f32) -> i64 {
    (f64::from(score) * 65536.0).round() as i64
}

/// Orders hits best first by [`tie_key`], ties by id.
fn rank_hits(hits: &mut [(String, f32)]) {
    hits.sort_by(|a, b| tie_key(b.1).cmp(&tie_key(a.1)).then_with(|| a.0.cmp(&b.0)));
}

/// Removes every file and folder inside `dir` (the index folder only).
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// The scopes a search must be limited to for an actor with `actor_scopes` (`*`:
/// every scope) asking about `requested` scopes (`None`: all it may see): `None`
/// when nothing limits the search, else the scopes both allow (possibly none).
pub fn scope_filter(actor_scopes: &[String], requested: Option<&[String]>) -> Option<Vec<String>> {
    let all = actor_scopes.iter().any(|s| s == "*");
    let mut out: Vec<String> = match (all, requested) {
        (true, None) => return None,
        (true, Some(r)) => r.to_vec(),
        (false, None) => actor_scopes.to_vec(),
        (false, Some(r)) => r
            .iter()
            .filter(|s| actor_scopes.contains(s))
            .cloned()
            .collect(),
    };
    out.sort();
    out.dedup();
    Some(out)
}

fn new_writer(index: &Index, options: IndexOptions) -> tantivy::Result<IndexWriter> {
    let threads = options.num_threads.max(1);
    let per_thread = (options.memory_budget_bytes / threads).max(15_000_000);
    let writer = index.writer_with_options(
        tantivy::indexer::IndexWriterOptions::builder()
            .num_worker_threads(threads)
            .num_merge_threads(1)
            .memory_budget_per_thread(per_thread)
            .build(),
    )?;
    writer.set_merge_policy(Box::new(LogMergePolicy::default()));
    Ok(writer)
}

/// The generation of the last commit, if it was written by this analyzer version
/// and analysis (otherwise the index must be rebuilt: `None`).
fn read_generation(index: &Index, analysis: Analysis) -> tantivy::Result<Option<u64>> {
    Ok(generation_of(&index.load_metas()?.payload, analysis))
}

/// The generation a commit payload records, if this analyzer version and
/// analysis wrote it.
fn generation_of(payload: &Option<String>, analysis: Analysis) -> Option<u64> {
    payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok())
        .filter(|p| p.analyzer == ANALYZER_VERSION && p.analysis == analysis_tag(analysis))
        .map(|p| p.generation)
}
