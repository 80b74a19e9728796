//! The in-memory reference adapter. [`MemoryState`] is also the in-memory image the
//! file adapter loads on open and keeps in step with its files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use phase_memory_model::{
    AuditCheckpoint, AuditRecord, AuditRef, Edge, EdgeKey, Event, Node, Review, Time,
};

use crate::{
    AdapterManifest, AuditStore, Capability, ChangeSet, EventQuery, EventStore, GraphStore,
    ReviewStore, Store, StoreMeta, StoreResult, conformance,
};

/// Implements the four read traits of a type by delegating to a [`MemoryState`]
/// field: adapters that keep their store image in memory (the memory and file
/// adapters) read it the same way.
#[macro_export]
macro_rules! reads_from_image {
    ($ty:ty, $field:ident) => {
        impl $crate::GraphStore for $ty {
            fn node(&self, id: &str) -> $crate::StoreResult<Option<phase_memory_model::Node>> {
                $crate::GraphStore::node(&self.$field, id)
            }
            fn for_each_node(
                &self,
                f: &mut dyn FnMut(&phase_memory_model::Node),
            ) -> $crate::StoreResult<()> {
                $crate::GraphStore::for_each_node(&self.$field, f)
            }
            fn node_count(&self) -> $crate::StoreResult<usize> {
                $crate::GraphStore::node_count(&self.$field)
            }
            fn for_each_edge(
                &self,
                f: &mut dyn FnMut(&phase_memory_model::Edge),
            ) -> $crate::StoreResult<()> {
                $crate::GraphStore::for_each_edge(&self.$field, f)
            }
            fn edge_count(&self) -> $crate::StoreResult<usize> {
                $crate::GraphStore::edge_count(&self.$field)
            }
            fn edges_of(&self, id: &str) -> $crate::StoreResult<Vec<phase_memory_model::Edge>> {
                $crate::GraphStore::edges_of(&self.$field, id)
            }
        }
        impl $crate::EventStore for $ty {
            fn events(
                &self,
                q: &$crate::EventQuery,
            ) -> $crate::StoreResult<Vec<phase_memory_model::Event>> {
                $crate::EventStore::events(&self.$field, q)
            }
            fn for_each_event(
                &self,
                f: &mut dyn FnMut(&phase_memory_model::Event),
            ) -> $crate::StoreResult<()> {
                $crate::EventStore::for_each_event(&self.$field, f)
            }
            fn event_head(&self) -> $crate::StoreResult<u64> {
                $crate::EventStore::event_head(&self.$field)
            }
        }
        impl $crate::AuditStore for $ty {
            fn audit_records(
                &self,
                after_seq: u64,
            ) -> $crate::StoreResult<Vec<phase_memory_model::AuditRecord>> {
                $crate::AuditStore::audit_records(&self.$field, after_seq)
            }
            fn audit_head(&self) -> $crate::StoreResult<Option<phase_memory_model::AuditRef>> {
                $crate::AuditStore::audit_head(&self.$field)
            }
            fn audit_checkpoint(&self) -> $crate::StoreResult<phase_memory_model::AuditCheckpoint> {
                $crate::AuditStore::audit_checkpoint(&self.$field)
            }
        }
        impl $crate::ReviewStore for $ty {
            fn review(&self, id: &str) -> $crate::StoreResult<Option<phase_memory_model::Review>> {
                $crate::ReviewStore::review(&self.$field, id)
            }
            fn reviews(&self) -> $crate::StoreResult<Vec<phase_memory_model::Review>> {
                $crate::ReviewStore::reviews(&self.$field)
            }
        }
    };
}

/// The whole content of a store, held in memory.
#[derive(Clone, Debug)]
pub struct MemoryState {
    /// Nodes by id.
    pub nodes: BTreeMap<String, Node>,
    /// Edges by key.
    pub edges: BTreeMap<EdgeKey, Edge>,
    /// Edge keys touching each node, built on the first `edges_of` (opening a big
    /// store need not pay for it) and kept in step by `apply` from then on.
    adjacency: OnceLock<HashMap<String, BTreeSet<EdgeKey>>>,
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
    /// Generation of the last commit that changed data ([`ChangeSet::changes_data`]).
    pub data_generation: u64,
}

impl MemoryState {
    /// An empty store image.
    pub fn new(meta: StoreMeta) -> Self {
        MemoryState {
            nodes: BTreeMap::new(),
            edges: BTreeMap::new(),
            adjacency: OnceLock::new(),
            events: Vec::new(),
            audit: Vec::new(),
            checkpoint: AuditCheckpoint::default(),
            reviews: BTreeMap::new(),
            profile: None,
            meta,
            generation: 0,
            data_generation: 0,
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

    /// Checks a change set against the store invariants without applying it
    /// ([`crate::validate_change`]).
    pub fn validate(&self, c: &ChangeSet) -> StoreResult<()> {
        crate::validate_change(
            c,
            crate::Heads {
                event_head: self.event_head(),
                last_audit_seq: self.audit.last().map(|r| r.seq),
                checkpoint_seq: self.checkpoint.last_pruned_seq,
            },
        )
    }

    /// Applies a validated change set.
    pub fn apply(&mut self, c: ChangeSet) {
        let changes_data = c.changes_data();
        for id in &c.delete_nodes {
            self.nodes.remove(id);
        }
        for n in c.put_nodes {
            self.nodes.insert(n.id.clone(), n);
        }
        for k in &c.delete_edges {
            if self.edges.remove(k).is_some()
                && let Some(adjacency) = self.adjacency.get_mut()
            {
                for end in [&k.from, &k.to] {
                    if let Some(set) = adjacency.get_mut(end) {
                        set.remove(k);
                        if set.is_empty() {
                            adjacency.remove(end);
                        }
                    }
                }
            }
        }
        for e in c.put_edges {
            let k = e.key();
            if let Some(adjacency) = self.adjacency.get_mut() {
                adjacency
                    .entry(k.from.clone())
                    .or_default()
                    .insert(k.clone());
                adjacency.entry(k.to.clone()).or_default().insert(k.clone());
            }
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
        if changes_data {
            self.data_generation = self.generation;
        }
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

    /// Edge keys touching each node (built on first use).
    fn adjacency(&self) -> &HashMap<String, BTreeSet<EdgeKey>> {
        self.adjacency.get_or_init(|| {
            let mut adjacency: HashMap<String, BTreeSet<EdgeKey>> = HashMap::new();
            for k in self.edges.keys() {
                adjacency
                    .entry(k.from.clone())
                    .or_default()
                    .insert(k.clone());
                adjacency.entry(k.to.clone()).or_default().insert(k.clone());
            }
            adjacency
        })
    }

    /// Edges touching a node.
    pub fn edges_of(&self, id: &str) -> Vec<Edge> {
        self.adjacency()
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
            capabilities: Capability::IN_MEMORY.to_vec(),
            ownership: "everything in process memory; nothing survives the process".into(),
            conformance: conformance::claimed(Capability::IN_MEMORY),
        }
    }
}

impl GraphStore for MemoryState {
    fn node(&self, id: &str) -> StoreResult<Option<Node>> {
        Ok(self.nodes.get(id).cloned())
    }
    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()> {
        self.nodes.values().for_each(f);
        Ok(())
    }
    fn node_count(&self) -> StoreResult<usize> {
        Ok(self.nodes.len())
    }
    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()> {
        self.edges.values().for_each(f);
        Ok(())
    }
    fn edge_count(&self) -> StoreResult<usize> {
        Ok(self.edges.len())
    }
    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>> {
        Ok(self.edges_of(id))
    }
}

impl EventStore for MemoryState {
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>> {
        Ok(self.query_events(q))
    }
    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()> {
        self.events.iter().for_each(f);
        Ok(())
    }
    fn event_head(&self) -> StoreResult<u64> {
        Ok(self.event_head())
    }
}

impl AuditStore for MemoryState {
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>> {
        let start = self.audit.partition_point(|r| r.seq <= after_seq);
        Ok(self.audit[start..].to_vec())
    }
    fn audit_head(&self) -> StoreResult<Option<AuditRef>> {
        Ok(self.audit_head())
    }
    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint> {
        Ok(self.checkpoint.clone())
    }
}

impl ReviewStore for MemoryState {
    fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        Ok(self.reviews.get(id).cloned())
    }
    fn reviews(&self) -> StoreResult<Vec<Review>> {
        Ok(self.reviews.values().cloned().collect())
    }
}

crate::reads_from_image!(MemoryStore, state);

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
    fn data_generation(&self) -> u64 {
        self.state.data_generation
    }
}
