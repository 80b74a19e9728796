//! An open store with its profile, derived indexes (full-text index, activation
//! snapshot) and the front end's extensions: the state every operation runs
//! against. Opening lives in `open.rs`, running in `runner.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use phase_memory_activate::snapshot::{Snapshot, SnapshotChanges};
use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::FullTextIndex;
use phase_memory_model::Diagnostic;
use phase_memory_profile::Profile;
use phase_memory_store::{EventQuery, Store, StoreError};

use crate::clock::Clock;
use crate::outcome::{Extension, IndexUpdate};
use crate::sharing::{Sharing, stats};

/// Where the store lives, for the runtime's own files (index, quarantine).
#[derive(Clone, Debug)]
pub(crate) struct Home {
    pub dir: Option<PathBuf>,
}

/// An open store with its profile, derived indexes and the operation registry.
pub struct Runtime {
    pub(crate) store: Box<dyn Store>,
    pub(crate) profile: Profile,
    pub(crate) profile_digest: String,
    pub(crate) clock: Clock,
    pub(crate) index: FullTextIndex,
    /// The activation snapshot and the store generation it is valid for. A commit
    /// that writes only audit records or reviews moves the generation without
    /// changing what activation sees, so the snapshot carries over.
    pub(crate) snapshot: Option<(u64, Arc<Snapshot>)>,
    /// The sequence number of the last event the snapshot holds.
    pub(crate) snapshot_events: u64,
    /// How this runtime kept derived state in step (the process-wide sums are
    /// [`crate::derived_stats`]).
    pub(crate) derived: crate::sharing::DerivedStats,
    pub(crate) tokens: TokenCounter,
    /// The full-text index holds every change of the store and only its generation
    /// tag is behind: commits of audit records or reviews alone do not commit the
    /// index. The tag catches up with the next index write or when the runtime is
    /// dropped; after a crash the next open finds the tag behind and catches up.
    pub(crate) index_tag_lags: bool,
    pub(crate) extensions: BTreeMap<String, Extension>,
    pub(crate) home: Home,
    /// Shared access: lock and refresh state (see `open.rs`).
    pub(crate) sharing: Sharing,
    /// Group commit of audit records (see `group.rs`).
    pub(crate) group: crate::sharing::GroupState,
    /// Sentence vectors of the nodes (see `semantic.rs`).
    pub(crate) semantic: crate::semantic::SemanticIndex,
    /// The activation snapshot shared with the other runtimes of this process
    /// (then `snapshot` holds one only during a call).
    pub(crate) shared_snapshot: Option<Arc<crate::sharing::SharedSnapshot>>,
    /// Policy decisions per snapshot class, kept from one activation to the
    /// next while nothing they depend on changed (see `ops/activation.rs`).
    pub(crate) policy_memo: crate::policy_memo::PolicyMemo,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.index_tag_lags {
            // Best effort: if it fails the next open catches the index up.
            let _ = self.index.commit(self.store.generation());
        }
        // The documents the index keeps in memory (shared with the other
        // runtimes of a pool: the first to go writes them). Best effort too.
        let _ = self.index.flush();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.store.location())
            .field("profile", &self.profile.name)
            .finish()
    }
}

/// The warning of a full-text index update that failed (the commit stands).
pub(crate) fn stale(e: String) -> Diagnostic {
    Diagnostic::warning(
        "store.stale_index",
        format!(
            "the full-text index could not be updated ({e}); `phase-memory repair --apply` rebuilds it"
        ),
    )
}

impl Runtime {
    /// Keeps the semantic index's vectors in `path` (e.g. for a store in memory
    /// that is built again from the same data: its texts are not embedded again).
    pub fn set_vector_cache_file(&mut self, path: &std::path::Path) {
        self.semantic.set_cache_file(path);
    }

    /// The semantic-index hits of `text` among the nodes of `scopes` (see
    /// `semantic.rs`).
    pub(crate) fn semantic_hits(
        &mut self,
        text: &str,
        scopes: Option<&[String]>,
        params: &phase_memory_profile::ActivationSpec,
    ) -> Result<Vec<(String, f32)>, phase_memory_model::Diagnostic> {
        self.semantic
            .hits(self.store.as_ref(), text, scopes, params)
    }

    /// The active profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Registers a front-end handler for an operation (e.g. `eval.run`).
    pub fn register_extension(&mut self, operation: &str, handler: Extension) {
        self.extensions.insert(operation.to_string(), handler);
    }

    /// Sets the clock.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The activation snapshot of the store's current generation (built or
    /// brought forward as activation would).
    pub fn activation_snapshot(&mut self) -> Result<Arc<Snapshot>, StoreError> {
        self.snapshot()
    }

    /// How this runtime kept its derived state in step with the store so far
    /// (snapshots built from the whole store or brought forward, index rebuilds).
    pub fn derived_stats(&self) -> crate::sharing::DerivedStats {
        self.derived
    }

    fn count_snapshot(&mut self, full: bool, took: std::time::Duration) {
        stats::record_snapshot(full, took);
        if full {
            self.derived.snapshot_builds += 1;
        } else {
            self.derived.snapshot_updates += 1;
        }
        self.derived.snapshot_nanos += u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    }

    /// Brings the full-text index in step with the store after a commit.
    pub(crate) fn update_index(&mut self, u: IndexUpdate) -> Result<(), Diagnostic> {
        self.index_tag_lags = false;
        if u.purge {
            // Persisted snapshots hold titles: none may outlive an erasure.
            self.remove_persisted();
        }
        let generation = self.store.generation();
        if u.rebuild {
            return self.rebuild_index().map_err(stale);
        }
        if self.index.generation() == Some(generation) {
            return Ok(());
        }
        self.index
            .delete(&u.delete)
            .map_err(|e| stale(e.to_string()))?;
        self.index
            .upsert(&u.upsert)
            .map_err(|e| stale(e.to_string()))?;
        self.index
            .commit(generation)
            .map_err(|e| stale(e.to_string()))?;
        if u.purge {
            self.index.purge().map_err(|e| stale(e.to_string()))?;
        }
        Ok(())
    }

    /// Rebuilds the full-text index from the store.
    pub(crate) fn rebuild_index(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let out = self.rebuild_index_now();
        stats::record_index(true, started.elapsed());
        self.derived.index_rebuilds += 1;
        out
    }

    fn rebuild_index_now(&mut self) -> Result<(), String> {
        let mut nodes = Vec::new();
        self.store
            .for_each_node(&mut |n| nodes.push(n.clone()))
            .map_err(|e| e.to_string())?;
        let generation = self.store.generation();
        self.index
            .rebuild(nodes.iter(), generation)
            .map_err(|e| e.to_string())?;
        self.index.purge().map_err(|e| e.to_string())
    }

    /// Whether the index reflects the store.
    /// It is when its tag is at least the store's data generation: commits of
    /// audit records and reviews alone move the generation but not the index.
    pub(crate) fn index_fresh(&self) -> bool {
        self.index
            .generation()
            .is_some_and(|g| g >= self.store.data_generation() && g <= self.store.generation())
    }

    /// The activation snapshot of the current store generation: the one held when
    /// nothing activation reads changed; brought forward with the nodes, edges and
    /// events changed since (as the adapter reports them, see
    /// [`Store::data_changes_since`]); built from the whole store only on first
    /// use, after a new profile, or when the adapter cannot tell what changed —
    /// and then only when the store folder holds no persisted snapshot it can
    /// use (see `persisted.rs`).
    pub(crate) fn snapshot(&mut self) -> Result<Arc<Snapshot>, StoreError> {
        self.with_shared_snapshot(Runtime::own_snapshot)
    }

    /// Shares the activation snapshot with the other runtimes of this process
    /// that were given the same `shared` (a server's pool): one copy in memory,
    /// brought forward once per generation.
    /// The runtimes of a pool over one store folder share its full-text index
    /// handle too (reader, generation and the documents kept in memory, see
    /// [`phase_memory_index::IndexOptions::pending_docs`]): a write group of one
    /// is seen by the others without a commit of the index folder.
    pub fn share_snapshot(&mut self, shared: Arc<crate::sharing::SharedSnapshot>) {
        {
            let mut index = shared.index.lock().unwrap_or_else(|e| e.into_inner());
            match index.as_ref() {
                None if self.home.dir.is_some() => *index = Some(self.index.share()),
                Some(first)
                    if self.home.dir.is_some()
                        && first.location() == self.index.location()
                        && !first.shares_with(&self.index) =>
                {
                    // Its own documents kept in memory (none right after open).
                    let _ = self.index.flush();
                    self.index.release_writer();
                    self.index = first.share();
                }
                _ => {}
            }
        }
        self.shared_snapshot = Some(shared);
    }

    /// Runs `f` on the runtime's snapshot state; with a shared snapshot, first
    /// takes the newest shared generation this runtime's store handle can use,
    /// and afterwards publishes what `f` left (holding the share's lock
    /// throughout, so one runtime brings a generation forward and the others
    /// wait for it rather than repeat the work).
    fn with_shared_snapshot<R>(&mut self, f: impl FnOnce(&mut Runtime) -> R) -> R {
        let Some(shared) = self.shared_snapshot.clone() else {
            return f(self);
        };
        let mut versions = shared.versions.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.store.data_generation();
        let held = self.snapshot.as_ref().map_or(0, |(g, _)| *g);
        if let Some(v) = versions
            .iter()
            .rev()
            .find(|v| v.profile_digest == self.profile_digest && v.data_generation <= generation)
            && (self.snapshot.is_none() || v.data_generation >= held)
        {
            self.snapshot = Some((v.data_generation, v.snapshot.clone()));
            self.snapshot_events = v.events;
        }
        let out = f(self);
        if let Some((g, s)) = self.snapshot.take() {
            let newest = versions.last().map(|v| v.data_generation);
            let same_profile = versions
                .last()
                .is_none_or(|v| v.profile_digest == self.profile_digest);
            if !same_profile {
                versions.clear();
            }
            if newest.is_none_or(|n| g > n) || !same_profile {
                versions.push(crate::sharing::SnapshotVersion {
                    profile_digest: self.profile_digest.clone(),
                    data_generation: g,
                    events: self.snapshot_events,
                    snapshot: s,
                });
                let extra = versions
                    .len()
                    .saturating_sub(crate::sharing::SHARED_VERSIONS);
                versions.drain(..extra);
            }
        }
        out
    }

    fn own_snapshot(&mut self) -> Result<Arc<Snapshot>, StoreError> {
        let generation = self.store.data_generation();
        if let Some((valid_for, s)) = &self.snapshot
            && *valid_for == generation
        {
            return Ok(s.clone());
        }
        let started = Instant::now();
        if let Some((valid_for, _)) = &self.snapshot
            && *valid_for < generation
            && let Some(ids) = self.store.data_changes_since(*valid_for)?
        {
            let events = self.store.events(&EventQuery {
                after_seq: self.snapshot_events,
                ..Default::default()
            })?;
            if self.advance_snapshot(generation, ids, events)
                && let Some((_, s)) = &self.snapshot
            {
                let s = s.clone();
                self.count_snapshot(false, started.elapsed());
                return Ok(s);
            }
        }
        if let Some(s) = self.load_persisted(generation) {
            return Ok(s);
        }
        let started = Instant::now();
        let s = Arc::new(build_snapshot(
            self.store.as_ref(),
            &self.profile,
            generation,
        )?);
        self.snapshot_events = self.store.event_head()?;
        self.snapshot = Some((generation, s.clone()));
        self.count_snapshot(true, started.elapsed());
        self.write_persisted(generation, &s);
        Ok(s)
    }

    /// Brings the held snapshot to data generation `generation`, given the ids of
    /// the nodes changed since its generation (nodes put or deleted, ends of edges
    /// put or deleted) and the events appended since. False (and no snapshot
    /// held) when there is none, the change is too large to be worth it, or a
    /// read failed: the next use builds it from the store.
    pub(crate) fn advance_snapshot(
        &mut self,
        generation: u64,
        ids: Vec<String>,
        events: Vec<phase_memory_model::Event>,
    ) -> bool {
        let Some((valid_for, s)) = &mut self.snapshot else {
            return false;
        };
        let limit = INCREMENTAL_MIN.max(s.node_count() / 8);
        if ids.len() + events.len() > limit {
            self.snapshot = None;
            return false;
        }
        let store = self.store.as_ref();
        let mut failed = false;
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            match store.node(id) {
                Ok(n) => nodes.push((id.clone(), n)),
                Err(_) => failed = true,
            }
        }
        let last_event = events.last().map(|e| e.seq);
        let changes = SnapshotChanges {
            nodes,
            edge_ends: ids,
            events,
        };
        if !failed {
            let mut edges_of = |id: &str| {
                store.edges_of(id).unwrap_or_else(|_| {
                    failed = true;
                    Vec::new()
                })
            };
            Arc::make_mut(s).apply(generation, &changes, &mut edges_of);
        }
        if failed {
            self.snapshot = None;
            return false;
        }
        *valid_for = generation;
        if let Some(seq) = last_event {
            self.snapshot_events = seq;
        }
        true
    }
}

/// What one of this runtime's own commits changed for the activation snapshot,
/// taken from its change set before the commit.
pub(crate) struct OwnCommit {
    ids: Vec<String>,
    events: Vec<phase_memory_model::Event>,
    profile: bool,
}

impl OwnCommit {
    pub(crate) fn of(change: &phase_memory_store::ChangeSet) -> OwnCommit {
        OwnCommit {
            ids: phase_memory_store::ChangeLog::ids_of(change),
            events: change.events.clone(),
            profile: change.profile.is_some(),
        }
    }
}

impl Runtime {
    /// After this runtime committed data: brings the snapshot forward from the
    /// change set when it was at `before` (the generation the commit started
    /// from); a new profile drops it.
    pub(crate) fn snapshot_after_commit(&mut self, before: u64, own: OwnCommit) {
        self.with_shared_snapshot(|rt| rt.own_snapshot_after_commit(before, own));
    }

    fn own_snapshot_after_commit(&mut self, before: u64, own: OwnCommit) {
        if own.profile {
            self.snapshot = None;
            return;
        }
        if self
            .snapshot
            .as_ref()
            .is_none_or(|(valid_for, _)| *valid_for != before)
        {
            return;
        }
        let started = Instant::now();
        let generation = self.store.data_generation();
        if self.advance_snapshot(generation, own.ids, own.events) {
            self.count_snapshot(false, started.elapsed());
        }
    }
}

/// Below this many changed rows a snapshot is always brought forward rather
/// than rebuilt (above it: when the change is under an eighth of the nodes).
const INCREMENTAL_MIN: usize = 10_000;

/// The activation snapshot of what `store` holds now, tagged `generation` (the
/// runtime and the benchmark build it this one way).
pub fn build_snapshot(
    store: &dyn Store,
    profile: &Profile,
    generation: u64,
) -> Result<phase_memory_activate::snapshot::Snapshot, StoreError> {
    let mut b =
        phase_memory_activate::snapshot::SnapshotBuilder::new(profile).with_generation(generation);
    store.for_each_node(&mut |n| b.add_node(n))?;
    store.for_each_edge(&mut |e| b.add_edge(e))?;
    store.for_each_event(&mut |e| b.add_event(e))?;
    Ok(b.finish())
}
