//! The in-memory reference adapter. [`MemoryState`] is also the in-memory image the
//! file adapter loads on open and keeps in step with its files.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use phase_memory_model::{
    AuditCheckpoint, AuditRecord, AuditRef, Edge, EdgeKey, Event, Node, Review, Time,
};

use crate::{
    AdapterManifest, AuditStore, Capability, ChangeSet, EventQuery, EventStore, GraphStore,
    ReviewStore, Store, StoreError, StoreMeta, StoreResult, conformance,
};

/// The whole content of a store, held in memory.
#[derive(Clone, Debug)]
pub struct MemoryState {
    /// Nodes by id.
    pub nodes: BTreeMap<String, Node>,
    /// Edges by key.
    pub edges: BTreeMap<EdgeKey, Edge>,
    /// Edge keys touching each node.
    pub adjacency: HashMap<String, BTreeSet<EdgeKey>>,
    /// Events in seq order.
    pub events: Vec<Event>,
    /// Audit records in chain order (after the checkpoint).
    pub audit: Vec<AuditRecord>,
    /// The pruning checkpoint.
    pub checkpoint: AuditCheckpoint,
    /// Reviews by id.
    pub reviews: BTreeMap<String, Review>,
    /// Stored profile source.
    pub profile: Option<String>,
    /// Metadata.
    pub meta: StoreMeta,
    /// Commit counter.
    pub generation: u64,
}

impl MemoryState {
    /// An empty store image.
    pub fn new(meta: StoreMeta) -> Self {
        MemoryState {
            nodes: BTreeMap::new(),
            edges: BTreeMap::new(),
            adjacency: HashMap::new(),
            events: Vec::new(),
            audit: Vec::new(),
            checkpoint: AuditCheckpoint::default(),
            reviews: BTreeMap::new(),
            profile: None,
            meta,
            generation: 0,
        }
    }

    /// Seq of the last event.
    pub fn event_head(&self) -> u64 {
        self.events.last().map(|e| e.seq).unwrap_or(0)
    }

    /// Seq of the last audit record (or of the checkpoint).
    pub fn audit_head_seq(&self) -> u64 {
        self.audit
            .last()
            .map(|r| r.seq)
            .unwrap_or(self.checkpoint.last_pruned_seq)
    }

    /// Checks a change set against the store invariants without applying it.
    pub fn validate(&self, c: &ChangeSet) -> StoreResult<()> {
        for (next, e) in (self.event_head() + 1..).zip(&c.events) {
            if e.seq != next {
                return Err(StoreError::InvalidChange(format!(
                    "event seq {} does not continue the history (want {next})",
                    e.seq
                )));
            }
        }
        let base = match &c.prune_audit {
            Some(cp) => self
                .audit
                .iter()
                .rfind(|r| r.seq > cp.last_pruned_seq)
                .map(|r| r.seq)
                .unwrap_or(cp.last_pruned_seq)
                .max(cp.last_pruned_seq),
            None => self.audit_head_seq(),
        };
        for (next, r) in (base + 1..).zip(&c.audit) {
            if r.seq != next {
                return Err(StoreError::InvalidChange(format!(
                    "audit seq {} does not continue the chain (want {next})",
                    r.seq
                )));
            }
        }
        for n in &c.put_nodes {
            phase_memory_model::validate_id(&n.id)
                .map_err(|e| StoreError::InvalidChange(format!("node id: {e}")))?;
        }
        Ok(())
    }

    /// Applies a validated change set.
    pub fn apply(&mut self, c: ChangeSet) {
        for id in &c.delete_nodes {
            self.nodes.remove(id);
        }
        for n in c.put_nodes {
            self.nodes.insert(n.id.clone(), n);
        }
        for k in &c.delete_edges {
            if self.edges.remove(k).is_some() {
                for end in [&k.from, &k.to] {
                    if let Some(set) = self.adjacency.get_mut(end) {
                        set.remove(k);
                        if set.is_empty() {
                            self.adjacency.remove(end);
                        }
                    }
                }
            }
        }
        for e in c.put_edges {
            let k = e.key();
            self.adjacency
                .entry(k.from.clone())
                .or_default()
                .insert(k.clone());
            self.adjacency
                .entry(k.to.clone())
                .or_default()
                .insert(k.clone());
            self.edges.insert(k, e);
        }
        self.events.extend(c.events);
        if let Some(cp) = c.prune_audit {
            self.audit.retain(|r| r.seq > cp.last_pruned_seq);
            self.checkpoint = cp;
        }
        self.audit.extend(c.audit);
        for r in c.put_reviews {
            self.reviews.insert(r.id.clone(), r);
        }
        if let Some(p) = c.profile {
            self.profile = Some(p);
        }
        if let Some(m) = c.meta {
            self.meta = m;
        }
        self.generation += 1;
    }

    /// Audit head.
    pub fn audit_head(&self) -> Option<AuditRef> {
        match self.audit.last() {
            Some(r) => Some(AuditRef {
                seq: r.seq,
                hash: r.hash.clone(),
            }),
            None if self.checkpoint.last_pruned_seq > 0 => Some(AuditRef {
                seq: self.checkpoint.last_pruned_seq,
                hash: self.checkpoint.last_pruned_hash.clone(),
            }),
            None => None,
        }
    }

    /// Events matching a query.
    pub fn query_events(&self, q: &EventQuery) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.seq <= q.after_seq);
        let it = self.events[start..]
            .iter()
            .filter(|e| q.matches(e))
            .cloned();
        match q.limit {
            Some(l) => it.take(l).collect(),
            None => it.collect(),
        }
    }

    /// Edges touching a node.
    pub fn edges_of(&self, id: &str) -> Vec<Edge> {
        self.adjacency
            .get(id)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.edges.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The in-memory adapter: the reference implementation of the traits.
#[derive(Debug)]
pub struct MemoryStore {
    state: MemoryState,
}

impl MemoryStore {
    /// A new empty in-memory store.
    pub fn new(created_at: Time) -> Self {
        MemoryStore {
            state: MemoryState::new(StoreMeta::new("memory", created_at)),
        }
    }

    /// The adapter's manifest.
    pub fn adapter_manifest() -> AdapterManifest {
        AdapterManifest {
            name: "memory".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![
                Capability::Graph,
                Capability::Events,
                Capability::Audit,
                Capability::Reviews,
                Capability::AtomicCommit,
                Capability::Purge,
                Capability::AuditPrune,
            ],
            ownership: "everything in process memory; nothing survives the process".into(),
            conformance: conformance::CHECKS
                .iter()
                .filter(|c| !c.needs.contains(&Capability::Durable))
                .map(|c| c.name.to_string())
                .collect(),
        }
    }
}

impl GraphStore for MemoryStore {
    fn node(&self, id: &str) -> StoreResult<Option<Node>> {
        Ok(self.state.nodes.get(id).cloned())
    }
    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()> {
        self.state.nodes.values().for_each(f);
        Ok(())
    }
    fn node_count(&self) -> StoreResult<usize> {
        Ok(self.state.nodes.len())
    }
    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()> {
        self.state.edges.values().for_each(f);
        Ok(())
    }
    fn edge_count(&self) -> StoreResult<usize> {
        Ok(self.state.edges.len())
    }
    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>> {
        Ok(self.state.edges_of(id))
    }
}

impl EventStore for MemoryStore {
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>> {
        Ok(self.state.query_events(q))
    }
    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()> {
        self.state.events.iter().for_each(f);
        Ok(())
    }
    fn event_head(&self) -> StoreResult<u64> {
        Ok(self.state.event_head())
    }
}

impl AuditStore for MemoryStore {
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>> {
        Ok(self
            .state
            .audit
            .iter()
            .filter(|r| r.seq > after_seq)
            .cloned()
            .collect())
    }
    fn audit_head(&self) -> StoreResult<Option<AuditRef>> {
        Ok(self.state.audit_head())
    }
    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint> {
        Ok(self.state.checkpoint.clone())
    }
}

impl ReviewStore for MemoryStore {
    fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        Ok(self.state.reviews.get(id).cloned())
    }
    fn reviews(&self) -> StoreResult<Vec<Review>> {
        Ok(self.state.reviews.values().cloned().collect())
    }
}

impl Store for MemoryStore {
    fn manifest(&self) -> AdapterManifest {
        Self::adapter_manifest()
    }
    fn meta(&self) -> StoreResult<StoreMeta> {
        Ok(self.state.meta.clone())
    }
    fn profile_source(&self) -> StoreResult<Option<String>> {
        Ok(self.state.profile.clone())
    }
    fn generation(&self) -> u64 {
        self.state.generation
    }
    fn commit(&mut self, change: ChangeSet) -> StoreResult<u64> {
        self.state.validate(&change)?;
        self.state.apply(change);
        Ok(self.state.generation)
    }
    fn location(&self) -> String {
        "memory".into()
    }
}
