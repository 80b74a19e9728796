//! An open store with its profile, derived indexes (full-text index, activation
//! snapshot) and the front end's extensions: the state every operation runs
//! against. Opening lives in `open.rs`, running in `runner.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use phase_memory_activate::snapshot::Snapshot;
use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::FullTextIndex;
use phase_memory_model::Diagnostic;
use phase_memory_profile::Profile;
use phase_memory_store::{Store, StoreError};

use crate::clock::Clock;
use crate::outcome::{Extension, IndexUpdate};
use crate::sharing::Sharing;

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
    pub(crate) tokens: TokenCounter,
    /// The full-text index holds every change of the store and only its generation
    /// tag is behind: commits of audit records or reviews alone do not commit the
    /// index. The tag catches up with the next index write or when the runtime is
    /// dropped; after a crash the next open finds the tag behind and rebuilds.
    pub(crate) index_tag_lags: bool,
    pub(crate) extensions: BTreeMap<String, Extension>,
    pub(crate) home: Home,
    /// Shared access: lock and refresh state (see `open.rs`).
    pub(crate) sharing: Sharing,
    /// Group commit of audit records (see `group.rs`).
    pub(crate) group: crate::sharing::GroupState,
    /// Sentence vectors of the nodes (see `semantic.rs`).
    pub(crate) semantic: crate::semantic::SemanticIndex,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.index_tag_lags {
            // Best effort: if it fails the next open rebuilds the index.
            let _ = self.index.commit(self.store.generation());
        }
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

impl Runtime {
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

    /// Brings the full-text index in step with the store after a commit.
    pub(crate) fn update_index(&mut self, u: IndexUpdate) -> Result<(), Diagnostic> {
        self.index_tag_lags = false;
        let generation = self.store.generation();
        let stale = |e: String| {
            Diagnostic::warning(
                "store.stale_index",
                format!(
                    "the full-text index could not be updated ({e}); `phase-memory repair --apply` rebuilds it"
                ),
            )
        };
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

    /// The activation snapshot of the current store generation, built on demand.
    pub(crate) fn snapshot(&mut self) -> Result<Arc<Snapshot>, StoreError> {
        let generation = self.store.data_generation();
        if let Some((valid_for, s)) = &self.snapshot
            && *valid_for == generation
        {
            return Ok(s.clone());
        }
        let s = Arc::new(build_snapshot(
            self.store.as_ref(),
            &self.profile,
            generation,
        )?);
        self.snapshot = Some((generation, s.clone()));
        Ok(s)
    }
}

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
