//! The semantic index beside the full-text index and the snapshot: one sentence
//! vector per node (all-MiniLM-L6-v2, `phase-memory-embed`), searched exactly by
//! dot product over the nodes of the searched scopes; its hits seed activation
//! beside BM25 (docs/activation.md, docs/evaluation.md).
//!
//! Vectors are computed lazily, at the first activation that searches a node's
//! scope, and kept in a cache keyed by a digest of the embedded text: in memory,
//! and for a store with a folder in `DIR/semantic/vectors.bin`, so a restarted
//! process does not embed the store again and an unchanged node is never embedded
//! twice. Writes therefore cost nothing extra; the first activation over a scope
//! pays for its nodes (measured in docs/evaluation.md), bounded by the profile's
//! `semantic_max_nodes`. With `semantic_weight = 0` nothing here runs and no
//! model is needed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use phase_memory_embed::{Embedder, VectorCache, text_key, top_k};
use phase_memory_model::{Diagnostic, Node};
use phase_memory_profile::ActivationSpec;

use phase_memory_store::{Store, StoreError};

/// The model, loaded once per process on first use.
static MODEL: OnceLock<Result<Arc<Embedder>, String>> = OnceLock::new();

fn model() -> Result<Arc<Embedder>, String> {
    MODEL
        .get_or_init(|| {
            Embedder::load_default()
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// A node as the semantic index sees it.
struct Entry {
    id: String,
    scope: String,
    key: [u8; 32],
    /// The text to embed, kept only until its vector is in the cache.
    text: Option<String>,
}

/// Per-runtime state of the semantic index.
#[derive(Default)]
pub(crate) struct SemanticIndex {
    cache: Option<VectorCache>,
    /// The cache file, when the vectors outlive the process.
    file: Option<PathBuf>,
    /// Nodes by id, for one data generation.
    entries: Option<(u64, Vec<Entry>)>,
    /// Vectors of recent cue texts (at most [`QUERY_CACHE`]; in memory only).
    queries: std::collections::HashMap<[u8; 32], Vec<f32>>,
    /// The store's node count at one data generation (counting is a scan on a
    /// database: not on every activation).
    node_count: Option<(u64, usize)>,
}

/// Cue vectors kept per runtime.
const QUERY_CACHE: usize = 256;

impl std::fmt::Debug for SemanticIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticIndex")
            .field("file", &self.file)
            .finish()
    }
}

/// The text embedded for a node: `title: body` (either alone when the other is
/// empty).
pub(crate) fn embed_text(n: &Node) -> String {
    match (n.title.trim().is_empty(), n.body.trim().is_empty()) {
        (false, false) => format!("{}: {}", n.title.trim(), n.body.trim()),
        (false, true) => n.title.trim().to_string(),
        _ => n.body.trim().to_string(),
    }
}

impl SemanticIndex {
    /// The index of a store whose folder is `dir` (vectors in
    /// `DIR/semantic/vectors.bin`), or in memory only.
    pub(crate) fn new(dir: Option<&Path>) -> SemanticIndex {
        SemanticIndex {
            file: dir.map(|d| d.join("semantic").join("vectors.bin")),
            ..SemanticIndex::default()
        }
    }
}

impl SemanticIndex {
    /// Keeps the vectors in `path` (e.g. for a store in memory that is built
    /// again from the same data: its texts are not embedded again).
    pub(crate) fn set_cache_file(&mut self, path: &Path) {
        self.file = Some(path.to_path_buf());
        self.cache = None;
        self.entries = None;
    }

    /// The semantic-index hits of `text` among the nodes of `scopes` (all when
    /// `None`), best first: `(node id, cosine)`. Empty when the profile's
    /// `semantic_weight` is 0. A missing model, too many nodes or an unusable
    /// cache give a diagnostic (the caller answers with lexical seeds only).
    pub(crate) fn hits(
        &mut self,
        store: &dyn Store,
        text: &str,
        scopes: Option<&[String]>,
        params: &ActivationSpec,
    ) -> Result<Vec<(String, f32)>, Diagnostic> {
        let on = params.semantic_weight.is_finite() && params.semantic_weight > 0.0;
        if !on || text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let unavailable = |m: String| Diagnostic::warning("activation.semantic_unavailable", m);
        let skipped = |count: usize, what: &str| {
            Diagnostic::info(
                "activation.semantic_skipped",
                format!(
                    "{what} {count} nodes, more than semantic_max_nodes ({}): lexical seeds only",
                    params.semantic_max_nodes
                ),
            )
        };
        // A store past the bound is not even read: the entries are refreshed by
        // reading every node, which must not happen on each write of a big store.
        let generation = store.data_generation();
        let total = match self.node_count {
            Some((g, n)) if g == generation => n,
            _ => {
                let n = store
                    .node_count()
                    .map_err(|e| unavailable(format!("counting the nodes: {e}")))?;
                self.node_count = Some((generation, n));
                n
            }
        };
        if total > params.semantic_max_nodes as usize {
            return Err(skipped(total, "the store holds"));
        }
        self.refresh_entries(store)
            .map_err(|e| unavailable(format!("reading the nodes to embed: {e}")))?;
        let Some((_, entries)) = &self.entries else {
            return Ok(Vec::new());
        };
        let in_scope = |e: &Entry| scopes.is_none_or(|s| s.contains(&e.scope));
        let count = entries.iter().filter(|e| in_scope(e)).count();
        if count > params.semantic_max_nodes as usize {
            return Err(skipped(count, "the searched scopes hold"));
        }
        let embedder = model().map_err(|e| {
            unavailable(format!(
                "the profile asks for semantic seeds (semantic_weight > 0) but {e}; lexical seeds only"
            ))
        })?;
        if self.cache.is_none() {
            let cache = match &self.file {
                Some(f) => VectorCache::open(f).unwrap_or_else(|_| VectorCache::in_memory()),
                None => VectorCache::in_memory(),
            };
            self.cache = Some(cache);
        }
        let (Some(cache), Some((_, entries))) = (&mut self.cache, &mut self.entries) else {
            return Ok(Vec::new());
        };
        let mut failed = None;
        for e in entries.iter_mut().filter(|e| in_scope(e)) {
            if cache.get(&e.key).is_some() {
                e.text = None;
                continue;
            }
            let Some(t) = &e.text else { continue };
            match embedder.embed_one(t) {
                Ok(v) => {
                    cache.insert(e.key, v);
                    e.text = None;
                }
                Err(err) => {
                    failed = Some(unavailable(err.to_string()));
                    break;
                }
            }
        }
        if let Some(d) = failed {
            return Err(d);
        }
        // Best effort: a cache that cannot be written only costs embedding again.
        let _ = cache.flush();
        let qkey = text_key(text);
        let query = match self.queries.get(&qkey) {
            Some(q) => q.clone(),
            None => {
                let q = embedder
                    .embed_one(text)
                    .map_err(|err| unavailable(err.to_string()))?;
                if self.queries.len() >= QUERY_CACHE {
                    self.queries.clear();
                }
                self.queries.insert(qkey, q.clone());
                q
            }
        };
        let (Some(cache), Some((_, entries))) = (&self.cache, &self.entries) else {
            return Ok(Vec::new());
        };
        let scoped: Vec<(&str, &[f32])> = entries
            .iter()
            .filter(|e| in_scope(e))
            .filter_map(|e| cache.get(&e.key).map(|v| (e.id.as_str(), v)))
            .collect();
        let hits = top_k(
            &query,
            scoped.iter().map(|s| s.1),
            params.semantic_seeds as usize,
        );
        Ok(hits
            .into_iter()
            .map(|(i, s)| (scoped[i].0.to_string(), s))
            .collect())
    }

    /// Brings the entries (id, scope, text digest) to the store's data
    /// generation: only the nodes changed since when the store can tell which
    /// ([`Store::data_changes_since`]), else every node.
    fn refresh_entries(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let generation = store.data_generation();
        let held = self.entries.as_ref().map(|(g, _)| *g);
        if held == Some(generation) {
            return Ok(());
        }
        if let Some(since) = held
            && since < generation
            && let Some(ids) = store.data_changes_since(since)?
        {
            let mut fresh = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(n) = store.node(id)? {
                    fresh.push(self.entry(&n));
                }
            }
            if let Some((g, entries)) = &mut self.entries {
                let changed: std::collections::HashSet<&str> =
                    ids.iter().map(String::as_str).collect();
                entries.retain(|e| !changed.contains(e.id.as_str()));
                entries.extend(fresh);
                entries.sort_by(|a, b| a.id.cmp(&b.id));
                *g = generation;
                return Ok(());
            }
        }
        let mut entries = Vec::new();
        store.for_each_node(&mut |n| entries.push(self.entry(n)))?;
        // By id, so equal cosines are broken the same way every time.
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        self.entries = Some((generation, entries));
        Ok(())
    }

    /// The entry of one node; its text is kept only when its vector is not cached.
    fn entry(&self, n: &Node) -> Entry {
        let text = embed_text(n);
        let key = text_key(&text);
        let cached = self.cache.as_ref().is_some_and(|c| c.get(&key).is_some());
        Entry {
            id: n.id.clone(),
            scope: n.scope.clone(),
            key,
            text: (!cached).then_some(text),
        }
    }
}
