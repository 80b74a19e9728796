//! Storage seams of phase-memory: the read traits for the graph, the event history,
//! the audit chain and the review queue, the one atomic write ([`Store::commit`] of a
//! [`ChangeSet`]), adapter manifests, the in-memory reference adapter and the shared
//! conformance suite every adapter must pass unchanged.
//!
//! Durability contract (every adapter): `commit` is all-or-nothing. When it returns
//! `Ok`, the whole change set is durable; when it returns `Err` or the process dies
//! mid-commit, a later open sees the store exactly as before the commit. After an I/O
//! error a handle refuses further writes (`StoreError::Poisoned`).
//!
//! # Shared access: readers never wait, writers queue
//!
//! Any number of handles, in any number of processes, may use one store at once.
//! A handle opened with [`OpenMode::Shared`] follows this protocol (the runtime
//! drives it; an adapter implements the four methods named here):
//!
//! - **Reading.** A handle reads an immutable snapshot of one committed generation
//!   and takes no lock for it: whatever other handles commit meanwhile, every read
//!   of the handle sees exactly that generation (never half a commit, never a mix
//!   of two). [`Store::refresh`] moves the handle to the latest committed
//!   generation; it must be cheap when nothing changed (one small read: a manifest,
//!   a generation row) and catch up incrementally when something did where the
//!   adapter can. The runtime calls it at the start of every request.
//! - **Writing.** [`Store::lock_writer`] waits (up to the given time) for the
//!   store's one writer lock, then refreshes to the latest generation and finishes
//!   what a writer that died mid-commit left behind; only then may
//!   [`Store::commit`] (and `migrate`, `repair_integrity`) be called, and each
//!   commit moves the handle's snapshot to the generation it made.
//!   [`Store::unlock_writer`] releases the lock. A writer still blocked after the
//!   wait gets [`StoreError::Locked`] (`store.locked`). The lock must be released
//!   by the operating system when its process dies (an advisory file lock, a
//!   database session lock).
//! - A commit on a shared handle that does not hold the lock is refused with
//!   `InvalidChange`; handles opened with [`OpenMode::Write`] or
//!   [`OpenMode::Repair`] hold the lock for their whole life (`lock_writer` and
//!   `unlock_writer` do nothing) and [`OpenMode::ReadOnly`] never writes.
//!
//! [`Store::data_generation`] is the generation of the last commit that changed
//! what activation and the full-text index read (nodes, edges, events, profile,
//! metadata): derived state keyed on it survives commits of audit records and
//! reviews alone, which is what audited reads make.

mod changes;
pub mod conformance;
mod error;
mod manifest;
mod memory;
pub mod meta;
mod open;
mod validate;

use phase_memory_model::{
    AuditCheckpoint, AuditRecord, AuditRef, Edge, EdgeKey, Event, Node, Review, Time,
};
use serde::{Deserialize, Serialize};

pub use changes::{CHANGE_LOG_IDS, ChangeLog};
pub use error::{StoreError, StoreResult};
pub use manifest::{AdapterManifest, Capability};
pub use memory::{MemoryState, MemoryStore};
pub use open::{
    AdapterKind, CONFIG_FILE, DEFAULT_WRITE_WAIT, OpenMode, StoreConfig, WriterLock,
    detect_adapter, open_any,
};
pub use validate::{Heads, validate_change};

/// The store format this build writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Store metadata: format, schema version, migrations, generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// Always `phase-memory-store`.
    pub format: String,
    /// Schema version of the stored data.
    pub schema_version: u32,
    /// Adapter name (file, sqlite, memory).
    pub adapter: String,
    /// Migrations applied, in order.
    #[serde(default)]
    pub applied_migrations: Vec<String>,
    /// Migrations this build would apply to reach [`SCHEMA_VERSION`].
    #[serde(default)]
    pub planned_migrations: Vec<String>,
    /// When the store was created.
    pub created_at: Time,
}

impl StoreMeta {
    /// Metadata of a new store for `adapter`.
    pub fn new(adapter: &str, created_at: Time) -> Self {
        StoreMeta {
            format: "phase-memory-store".into(),
            schema_version: SCHEMA_VERSION,
            adapter: adapter.into(),
            applied_migrations: Vec::new(),
            planned_migrations: Vec::new(),
            created_at,
        }
    }
}

/// Filters for reading the event history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    /// Only events with seq > this.
    pub after_seq: u64,
    /// Only events at or after this time.
    pub since: Option<Time>,
    /// Only events before this time.
    pub until: Option<Time>,
    /// Only these types (empty: all).
    pub types: Vec<String>,
    /// Only events naming this subject.
    pub subject: Option<String>,
    /// At most this many (None: all).
    pub limit: Option<usize>,
}

impl EventQuery {
    /// Whether an event passes the filter (the limit aside).
    pub fn matches(&self, e: &Event) -> bool {
        e.seq > self.after_seq
            && self.since.is_none_or(|s| e.at >= s)
            && self.until.is_none_or(|u| e.at < u)
            && (self.types.is_empty() || self.types.contains(&e.event_type))
            && self
                .subject
                .as_ref()
                .is_none_or(|s| e.subjects.iter().any(|x| x == s))
    }
}

/// Everything one commit changes, applied all-or-nothing.
///
/// Events and audit records carry their final `seq`; they must continue the store's
/// sequences without gaps (adapters refuse otherwise).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeSet {
    /// Nodes to insert or replace.
    pub put_nodes: Vec<Node>,
    /// Node ids to delete.
    pub delete_nodes: Vec<String>,
    /// Edges to insert or replace (by key).
    pub put_edges: Vec<Edge>,
    /// Edges to delete.
    pub delete_edges: Vec<EdgeKey>,
    /// Events to append.
    pub events: Vec<Event>,
    /// Audit records to append.
    pub audit: Vec<AuditRecord>,
    /// Reviews to insert or replace.
    pub put_reviews: Vec<Review>,
    /// A new profile source (TOML) to store.
    pub profile: Option<String>,
    /// New store metadata.
    pub meta: Option<StoreMeta>,
    /// Drop audit records up to the checkpoint's `last_pruned_seq` and keep it.
    pub prune_audit: Option<AuditCheckpoint>,
    /// Physically erase superseded content (forgetting): no earlier version of a
    /// changed node may survive anywhere in the store's files.
    pub purge: bool,
}

impl ChangeSet {
    /// Whether the change set changes nothing.
    pub fn is_empty(&self) -> bool {
        self.put_nodes.is_empty()
            && self.delete_nodes.is_empty()
            && self.put_edges.is_empty()
            && self.delete_edges.is_empty()
            && self.events.is_empty()
            && self.audit.is_empty()
            && self.put_reviews.is_empty()
            && self.profile.is_none()
            && self.meta.is_none()
            && self.prune_audit.is_none()
    }

    /// Whether the change set touches what derived state (activation snapshot,
    /// full-text index) is built from: anything but audit records, an audit prune
    /// and reviews. Adapters move [`Store::data_generation`] when it does.
    pub fn changes_data(&self) -> bool {
        !self.put_nodes.is_empty()
            || !self.delete_nodes.is_empty()
            || !self.put_edges.is_empty()
            || !self.delete_edges.is_empty()
            || !self.events.is_empty()
            || self.profile.is_some()
            || self.meta.is_some()
            || self.purge
    }
}

/// Reads of the typed graph.
pub trait GraphStore {
    /// One node by id.
    fn node(&self, id: &str) -> StoreResult<Option<Node>>;
    /// Several nodes by id, in the order asked (`None` where there is none). An
    /// adapter behind a network round trip answers in one query; the default asks
    /// [`GraphStore::node`] for each.
    fn nodes(&self, ids: &[&str]) -> StoreResult<Vec<Option<Node>>> {
        ids.iter().map(|id| self.node(id)).collect()
    }
    /// Visits every node in id order.
    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()>;
    /// Number of nodes.
    fn node_count(&self) -> StoreResult<usize>;
    /// Visits every edge in (from, to, type) order.
    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()>;
    /// Number of edges.
    fn edge_count(&self) -> StoreResult<usize>;
    /// Edges whose `from` or `to` is `id`, in key order.
    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>>;
}

/// Reads of the append-only event history.
pub trait EventStore {
    /// Events matching a query, in seq order.
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>>;
    /// Visits every event in seq order.
    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()>;
    /// Seq of the last event (0 when empty).
    fn event_head(&self) -> StoreResult<u64>;
}

/// Reads of the audit chain.
pub trait AuditStore {
    /// Records with seq > `after_seq`, in chain order.
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>>;
    /// The last record's seq and hash.
    fn audit_head(&self) -> StoreResult<Option<AuditRef>>;
    /// The checkpoint left by pruning.
    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint>;
}

/// Reads of the review queue.
pub trait ReviewStore {
    /// One review.
    fn review(&self, id: &str) -> StoreResult<Option<Review>>;
    /// Every review, by id.
    fn reviews(&self) -> StoreResult<Vec<Review>>;
}

/// One finding of an adapter's own integrity check (used by `repair`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityFinding {
    /// Diagnostic code (`store.corrupt_record`, `store.orphaned_path`, …).
    pub code: String,
    /// Where (a path inside the store, or a record key).
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// Whether `repair --apply` can fix it.
    pub fixable: bool,
}

/// A store: the four read seams plus the one atomic write.
pub trait Store: GraphStore + EventStore + AuditStore + ReviewStore + Send + Sync {
    /// What this adapter is and can do.
    fn manifest(&self) -> AdapterManifest;
    /// Store metadata.
    fn meta(&self) -> StoreResult<StoreMeta>;
    /// The stored profile source (TOML), if one was applied.
    fn profile_source(&self) -> StoreResult<Option<String>>;
    /// A counter that grows with every commit (snapshots and indexes key on it).
    fn generation(&self) -> u64;
    /// Applies a change set atomically.
    fn commit(&mut self, change: ChangeSet) -> StoreResult<u64>;
    /// Whether [`Store::commit_borrowed`] writes from the borrowed change set
    /// (adapters that copy what they store into their own memory need it by
    /// value and answer `false`).
    fn commits_borrowed(&self) -> bool {
        false
    }
    /// [`Store::commit`] of a change set the caller keeps using meanwhile (a
    /// bulk import indexes its nodes while they are written). The default
    /// commits a copy; adapters answering [`Store::commits_borrowed`] write
    /// from the borrowed one.
    fn commit_borrowed(&mut self, change: &ChangeSet) -> StoreResult<u64> {
        self.commit(change.clone())
    }
    /// Checks the physical store (checksums, orphans, quarantine candidates).
    fn check_integrity(&self) -> StoreResult<Vec<IntegrityFinding>> {
        Ok(Vec::new())
    }
    /// Fixes what [`Store::check_integrity`] found: moves what cannot be read into
    /// quarantine (never a silent delete). Returns what was done. `now` is the
    /// caller's clock (quarantine names and timestamps), never the system time.
    fn repair_integrity(&mut self, now: Time) -> StoreResult<Vec<IntegrityFinding>> {
        let _ = now;
        Ok(Vec::new())
    }
    /// Migrations this store needs before it accepts writes (empty when current).
    fn pending_migrations(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }
    /// Applies pending migrations in order; each is idempotent. Returns the names
    /// applied (empty when the store was current).
    fn migrate(&mut self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }
    /// Where the store lives, for messages.
    fn location(&self) -> String;

    /// The generation of the last commit that changed data derived state is built
    /// from ([`ChangeSet::changes_data`]); at most [`Store::generation`]. An adapter
    /// that does not track it returns the generation (always correct, only less
    /// reuse of derived state).
    fn data_generation(&self) -> u64 {
        self.generation()
    }

    /// The ids of the nodes whose record or edges changed in the commits after
    /// data generation `since` up to the handle's generation (nodes put or
    /// deleted, both ends of edges put or deleted; events are read by sequence
    /// number). `None` when the adapter cannot tell (no change feed, history
    /// trimmed, a new profile): derived state is then rebuilt from the whole
    /// store. The default knows nothing.
    fn data_changes_since(&self, since: u64) -> StoreResult<Option<Vec<String>>> {
        let _ = since;
        Ok(None)
    }

    /// Moves the handle to the latest committed generation (commits of other
    /// handles, other processes) and returns it. Cheap when nothing changed. Reads
    /// between two refreshes see one generation. Adapters whose handle is the only
    /// one (memory) keep the default.
    fn refresh(&mut self) -> StoreResult<u64> {
        Ok(self.generation())
    }

    /// Waits up to `wait` for the store's writer lock, then refreshes to the latest
    /// generation and finishes interrupted work of a dead writer. Returns the
    /// generation the handle now reads. [`StoreError::Locked`] after the wait. A
    /// no-op for handles that hold the lock for their whole life.
    fn lock_writer(&mut self, wait: std::time::Duration) -> StoreResult<u64> {
        let _ = wait;
        self.refresh()
    }

    /// Releases the writer lock taken by [`Store::lock_writer`] (a no-op when the
    /// handle holds it for its whole life, or does not hold it).
    fn unlock_writer(&mut self) {}

    /// Whether the handle may commit now (holds the writer lock).
    fn holds_writer(&self) -> bool {
        true
    }
}
