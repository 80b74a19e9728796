//! The baselines activation is compared with, over the same nodes: plain BM25 on
//! node text (an in-RAM full-text index, top-k by score, no policy) and
//! recency-only (nodes by their latest creation or access before `as_of`, no cue).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use phase_memory_index::FullTextIndex;
use phase_memory_model::{Event, Node, Time};

/// Event types whose subjects count as created or accessed for recency.
const RECENCY_EVENTS: [&str; 3] = ["node.created", "node.accessed", "observation"];

/// Plain BM25 over the title and body of every stored (not forgotten) node.
pub struct Bm25Baseline {
    index: FullTextIndex,
}

impl std::fmt::Debug for Bm25Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Baseline").finish()
    }
}

impl Bm25Baseline {
    /// Indexes `nodes` in RAM.
    pub fn new(nodes: &[Node]) -> Result<Self> {
        let mut index = FullTextIndex::open_or_create(None).context("creating a RAM index")?;
        let live: Vec<Node> = nodes
            .iter()
            .filter(|n| n.tombstone.is_none())
            .cloned()
            .collect();
        index.upsert(&live).context("indexing the baseline")?;
        index.commit(1).context("committing the baseline index")?;
        Ok(Bm25Baseline { index })
    }

    /// The top `k` ids for `text` by BM25 score, ties by id; none without text.
    pub fn rank(&self, text: Option<&str>, k: usize) -> Result<Vec<String>> {
        match text.filter(|t| !t.trim().is_empty()) {
            None => Ok(Vec::new()),
            Some(t) => Ok(self
                .index
                .search(t, k)
                .context("BM25 baseline search")?
                .into_iter()
                .map(|(id, _)| id)
                .collect()),
        }
    }
}

/// Recency-only: the latest creation or access instant of every node.
#[derive(Debug, Clone, Default)]
pub struct RecencyBaseline {
    times: BTreeMap<String, Vec<Time>>,
}

impl RecencyBaseline {
    /// Collects creation times and creation/access/observation events.
    pub fn new(nodes: &[Node], events: &[Event]) -> Self {
        let mut times: BTreeMap<String, Vec<Time>> = BTreeMap::new();
        for n in nodes.iter().filter(|n| n.tombstone.is_none()) {
            times.entry(n.id.clone()).or_default().push(n.created_at);
        }
        for e in events
            .iter()
            .filter(|e| RECENCY_EVENTS.contains(&e.event_type.as_str()))
        {
            for s in &e.subjects {
                if let Some(t) = times.get_mut(s) {
                    t.push(e.at);
                }
            }
        }
        RecencyBaseline { times }
    }

    /// The `k` nodes with the latest creation or access at or before `as_of`,
    /// latest first, ties by id.
    pub fn rank(&self, as_of: Time, k: usize) -> Vec<String> {
        let mut latest: Vec<(Time, &str)> = self
            .times
            .iter()
            .filter_map(|(id, ts)| {
                ts.iter()
                    .filter(|t| **t <= as_of)
                    .max()
                    .map(|t| (*t, id.as_str()))
            })
            .collect();
        latest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        latest
            .into_iter()
            .take(k)
            .map(|(_, id)| id.to_string())
            .collect()
    }
}
