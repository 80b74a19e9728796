//! The full-text index of phase-memory: BM25 over node titles and bodies, on tantivy.
//!
//! The index is derived data: it can always be rebuilt from the store
//! ([`FullTextIndex::rebuild`]). It records the store generation it reflects in the
//! commit payload, so the runtime can tell whether it is fresh
//! ([`FullTextIndex::generation`]).
//!
//! Only the node id is stored; title and body are indexed (term frequencies, no
//! positions) but never stored, so after [`FullTextIndex::purge`] no text of a deleted
//! node survives in any file of the index folder.
//!
//! Writes ([`FullTextIndex::upsert`], [`FullTextIndex::delete`]) become visible to
//! [`FullTextIndex::search`] and [`FullTextIndex::doc_count`] at the next
//! [`FullTextIndex::commit`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phase_memory_model::Node;
use tantivy::collector::TopDocs;
use tantivy::merge_policy::LogMergePolicy;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// Name of the analyzer used for titles, bodies and cues.
pub const ANALYZER: &str = "phase_memory_text";

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
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            num_threads: 2,
            memory_budget_bytes: 150_000_000,
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
}

/// The persistent (or in-RAM) full-text index. Any number of handles (in any
/// number of processes) may read one folder; the first write of a handle takes the
/// folder's one writer (a second handle writing at the same time fails with
/// [`IndexError::Open`]) until [`FullTextIndex::release_writer`]. The store's writer
/// lock decides who writes; [`FullTextIndex::reload`] shows a reader what other
/// handles committed.
pub struct FullTextIndex {
    index: Index,
    writer: Option<IndexWriter>,
    reader: IndexReader,
    fields: Fields,
    location: String,
    options: IndexOptions,
    generation: Option<u64>,
}

impl std::fmt::Debug for FullTextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullTextIndex")
            .field("location", &self.location)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("id", STRING | STORED);
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    b.add_text_field("title", text.clone());
    b.add_text_field("body", text);
    b.build()
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    generation: u64,
}

impl FullTextIndex {
    /// Opens the index in `dir` (created with its parents if missing), or a fresh
    /// in-RAM index when `dir` is `None`, with the default [`IndexOptions`].
    pub fn open_or_create(dir: Option<&Path>) -> Result<FullTextIndex, IndexError> {
        Self::open_or_create_with(dir, IndexOptions::default())
    }

    /// Like [`FullTextIndex::open_or_create`] with explicit writer settings.
    pub fn open_or_create_with(
        dir: Option<&Path>,
        options: IndexOptions,
    ) -> Result<FullTextIndex, IndexError> {
        let location = match dir {
            Some(d) => d.display().to_string(),
            None => "memory".to_string(),
        };
        let open_err = |source| IndexError::Open {
            location: location.clone(),
            source,
        };
        let index = match dir {
            None => Index::create_in_ram(schema()),
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| IndexError::CreateDir {
                    path: d.to_path_buf(),
                    source,
                })?;
                let mmap = tantivy::directory::MmapDirectory::open(d)
                    .map_err(|e| open_err(tantivy::TantivyError::from(e)))?;
                Index::open_or_create(mmap, schema()).map_err(open_err)?
            }
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let s = index.schema();
        let field = |name: &'static str| {
            s.get_field(name).map_err(|_| IndexError::Schema {
                location: location.clone(),
                field: name,
            })
        };
        let fields = Fields {
            id: field("id")?,
            title: field("title")?,
            body: field("body")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(open_err)?;
        let generation = read_generation(&index).map_err(open_err)?;
        Ok(FullTextIndex {
            index,
            writer: None,
            reader,
            fields,
            location,
            options,
            generation,
        })
    }

    fn err(&self, action: &'static str) -> impl Fn(tantivy::TantivyError) -> IndexError + '_ {
        move |source| IndexError::Tantivy {
            action,
            location: self.location.clone(),
            source,
        }
    }

    /// The writer, taken on first use.
    fn writer(&mut self) -> Result<&IndexWriter, IndexError> {
        if self.writer.is_none() {
            let writer =
                new_writer(&self.index, self.options).map_err(|source| IndexError::Open {
                    location: self.location.clone(),
                    source,
                })?;
            self.writer = Some(writer);
        }
        self.writer.as_ref().ok_or_else(|| IndexError::WriterLost {
            location: self.location.clone(),
        })
    }

    /// Gives up the folder's writer (after waiting for its merges), so another
    /// handle may write. Pending uncommitted writes are dropped.
    pub fn release_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.wait_merging_threads();
        }
    }

    /// Shows what other handles committed since this one last looked: reloads the
    /// reader and the generation tag.
    pub fn reload(&mut self) -> Result<(), IndexError> {
        self.reader.reload().map_err(self.err("reload"))?;
        self.generation = read_generation(&self.index).map_err(self.err("reload"))?;
        Ok(())
    }

    fn document(&self, node: &Node) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.fields.id, &node.id);
        if !node.title.is_empty() {
            doc.add_text(self.fields.title, &node.title);
        }
        if !node.body.is_empty() {
            doc.add_text(self.fields.body, &node.body);
        }
        doc
    }

    /// Replaces the documents of these nodes (by id). A forgotten node
    /// (`tombstone.is_some()`) is removed instead of indexed.
    pub fn upsert(&mut self, nodes: &[Node]) -> Result<(), IndexError> {
        self.writer()?;
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        for node in nodes {
            writer.delete_term(Term::from_field_text(self.fields.id, &node.id));
            if node.tombstone.is_none() {
                writer
                    .add_document(self.document(node))
                    .map_err(self.err("upsert"))?;
            }
        }
        Ok(())
    }

    /// Removes the documents of these node ids (unknown ids are ignored).
    pub fn delete(&mut self, ids: &[String]) -> Result<(), IndexError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.writer()?;
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        Ok(())
    }

    /// Makes pending writes durable and visible, recording the store generation the
    /// index now reflects.
    pub fn commit(&mut self, generation: u64) -> Result<(), IndexError> {
        self.commit_with(Some(generation))?;
        self.generation = Some(generation);
        Ok(())
    }

    fn commit_with(&mut self, generation: Option<u64>) -> Result<(), IndexError> {
        let payload = generation.map(|g| serde_json::json!({ "generation": g }).to_string());
        self.writer()?;
        let writer = self.writer.as_mut().ok_or_else(|| IndexError::WriterLost {
            location: self.location.clone(),
        })?;
        let res = writer.prepare_commit().and_then(|mut prepared| {
            if let Some(p) = &payload {
                prepared.set_payload(p);
            }
            prepared.commit()
        });
        res.map_err(self.err("commit"))?;
        self.reader.reload().map_err(self.err("reload"))
    }

    /// The store generation of the last commit (`None` for a new index).
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// Clears the index, indexes `nodes` (forgotten ones are skipped) and commits at
    /// `generation`.
    pub fn rebuild<'a>(
        &mut self,
        nodes: impl Iterator<Item = &'a Node>,
        generation: u64,
    ) -> Result<(), IndexError> {
        self.writer()?;
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        writer.delete_all_documents().map_err(self.err("rebuild"))?;
        for node in nodes {
            if node.tombstone.is_none() {
                writer
                    .add_document(self.document(node))
                    .map_err(self.err("rebuild"))?;
            }
        }
        self.commit(generation)
    }

    /// Commits pending writes (under the current generation), merges every segment
    /// into one and deletes every file no longer used, so no text of a deleted
    /// document survives in the index folder. Costs a full rewrite of the index:
    /// run it after a forget, not after every write.
    pub fn purge(&mut self) -> Result<(), IndexError> {
        self.commit_with(self.generation)?;
        // Wait for background merges to end, so that every segment can be merged now.
        if let Some(writer) = self.writer.take() {
            writer
                .wait_merging_threads()
                .map_err(self.err("purge (waiting for merges)"))?;
        }
        let mut writer = new_writer(&self.index, self.options).map_err(self.err("purge"))?;
        let segments = self
            .index
            .searchable_segment_ids()
            .map_err(self.err("purge"))?;
        if !segments.is_empty() {
            writer
                .merge(&segments)
                .wait()
                .map_err(self.err("purge (merge)"))?;
        }
        self.reader.reload().map_err(self.err("reload"))?;
        writer
            .garbage_collect_files()
            .wait()
            .map_err(self.err("purge (garbage collection)"))?;
        self.writer = Some(writer);
        Ok(())
    }

    /// Number of documents in the last commit.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Splits text into the index's terms (lowercased, ASCII-folded words), in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = match self.index.tokenizers().get(ANALYZER) {
            Some(a) => a,
            None => analyzer(),
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
        if limit == 0 {
            return Ok(Vec::new());
        }
        let terms: BTreeSet<String> = self.terms(text).into_iter().collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in terms.iter().take(MAX_QUERY_TERMS) {
            for field in [self.fields.title, self.fields.body] {
                clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, term),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top: Vec<(f32, DocAddress)> = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(self.err("search"))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(self.err("search"))?;
            if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                hits.push((id.to_string(), score));
            }
        }
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(hits)
    }
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

fn read_generation(index: &Index) -> tantivy::Result<Option<u64>> {
    let metas = index.load_metas()?;
    Ok(metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok())
        .map(|p| p.generation))
}
