//! The compact, read-only graph snapshot activation runs on, built once per store
//! generation: interned ids (with an index sorted by id), dense per-node
//! columns, a CSR of spreading arcs with their weights, per-node access
//! times (CSR) and the time-ordered event touches that feed event-path seeds.
//! Bodies are not kept; each node keeps a 64-bit SimHash of its words instead.
//!
//! A snapshot is also brought forward in place by [`Snapshot::apply`]: the nodes,
//! edges and events one or more commits changed are applied to it without reading
//! the rest of the store and without re-deriving anything of an unchanged node
//! (no tokenizing, no SimHash), and the result is the snapshot a fresh build of
//! the new store would give (same ids, columns, arcs, access times and touches;
//! only the internal numbering of interned names and of rows may differ). Work
//! is proportional to the change: no row moves, so nothing is renumbered.
//!
//! Every column is copy-on-write in chunks ([`chunked`], pages of [`csr`]):
//! cloning a snapshot copies one pointer per chunk, so a writer brings a clone
//! forward while readers keep the generation they hold, and `apply` copies
//! only the chunks it writes to.

mod apply;
mod builder;
mod chunked;
mod classes;
mod csr;
mod dict;
mod ids;
mod persist;
mod signature;
mod view;

use std::fmt::Write as _;
use std::sync::Arc;

use phase_memory_model::Time;
use rustc_hash::FxHashMap;

pub use apply::SnapshotChanges;
pub use builder::SnapshotBuilder;
use chunked::{Chunked, Sorted};
use csr::{Rows, StrRows};
use dict::Dict;
use ids::BaseIds;
pub use persist::{FORMAT_VERSION, PersistError, PersistKey};
pub use signature::{signature_similarity, simhash};
pub use view::{NodeView, PolicyKey};

/// Event types whose subjects become event-path seeds (besides counting as accesses).
pub const EVENT_PATH_TYPES: [&str; 2] = ["observation", "node.accessed"];

/// The activation snapshot of one store generation. Immutable and `Sync` while
/// shared: share it behind an `Arc` between requests, and bring it forward with
/// [`Snapshot::apply`] (e.g. through `Arc::make_mut`). Cloning it is cheap
/// (a pointer per chunk of each column, not the columns): the clone's `apply`
/// copies only the chunks it changes, and the original never sees them.
///
/// Each node has a row (its index) that never changes while the snapshot is
/// brought forward: a new node gets the next row, a removed node's row stays
/// empty (and comes back if the id does). The rows as built or read
/// (`0..base`) are in id order and searched directly; rows added since are
/// searched through `added`, their list sorted by id. Whatever depends on
/// order (ranking ties, result order, the persisted form) orders by id
/// explicitly.
#[derive(Debug, Clone)]
pub struct Snapshot {
    generation: u64,
    /// Ids of rows `0..base`, in id order: they never change, so every
    /// clone shares them as they are (a flat layout for the binary search).
    base_ids: Arc<BaseIds>,
    /// Ids of the rows added since (row `base + k` is row `k` here).
    added_ids: StrRows,
    /// Rows `0..base` are in id order (as built or read).
    base: usize,
    /// Rows added since (`base..`), sorted by id.
    added: Arc<Vec<u32>>,
    /// Whether the row holds a node (false: removed).
    alive: Chunked<bool>,
    live: usize,
    kind: Chunked<u32>,
    phase: Chunked<u32>,
    sensitivity: Chunked<u32>,
    scope: Chunked<u32>,
    labels: Rows<u32>,
    titles: StrRows,
    valid_from: Chunked<i64>,
    valid_to: Chunked<i64>,
    tokens: Chunked<u32>,
    created_at: Chunked<i64>,
    signature: Chunked<u64>,
    /// Spreading arcs out of each row: (target row, weight).
    arcs: Rows<(u32, f32)>,
    arc_max: Chunked<f32>,
    access: Rows<Time>,
    /// The node's creation time is in its access times only as its creation (no
    /// event at that instant), so a new creation time replaces it.
    created_extra: Chunked<bool>,
    /// Event-path touches `(at millis, row)`, ascending.
    touches: Sorted<(i64, u32)>,
    /// Event times (accesses, touches) of ids that are no node now (copied
    /// only when a commit changes them).
    orphan_access: Arc<FxHashMap<Box<str>, Vec<i64>>>,
    orphan_touches: Arc<FxHashMap<Box<str>, Vec<i64>>>,
    /// Arcs out of live rows.
    edge_count: u64,
    /// Copied only when a commit brings a new name.
    dict: Arc<Dict>,
    /// Each node's policy class (see `classes.rs`), derived from the columns
    /// above (never persisted).
    policy_class: Chunked<u32>,
    classes: classes::Classes,
}

impl Snapshot {
    /// Everything activation reads of the snapshot, by node id and name (not by
    /// internal numbers), one line per node, arc, access time and touch, in id
    /// order: two snapshots answer every activation alike when their dumps are
    /// equal. For tests and diagnostics; it holds titles, never bodies.
    pub fn canonical_dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "generation {} nodes {} arcs {}",
            self.generation,
            self.node_count(),
            self.edge_count
        );
        for i in self.rows_by_id() {
            let Some(v) = self.node(i) else { continue };
            let mut labels: Vec<&str> = v.labels().collect();
            labels.sort_unstable();
            let _ = writeln!(
                out,
                "node {:?} kind {:?} phase {:?} weight {} sensitivity {:?} scope {:?} labels {:?} title {:?} valid {:?}..{:?} tokens {} created {} signature {:x}",
                v.id(),
                v.kind(),
                v.phase(),
                self.phase_weight(i),
                v.sensitivity(),
                v.scope(),
                labels,
                v.title(),
                v.valid_from(),
                v.valid_to(),
                v.tokens(),
                self.created_ms(i),
                self.signature(i)
            );
            let mut arcs: Vec<(&str, f32)> =
                self.arcs(i).iter().map(|&(t, w)| (self.id(t), w)).collect();
            arcs.sort_unstable_by(|x, y| x.0.cmp(y.0).then(x.1.total_cmp(&y.1)));
            for (t, w) in arcs {
                let _ = writeln!(out, "  arc -> {t:?} {w}");
            }
            let _ = writeln!(out, "  arc max {}", self.arc_max(i));
            let times: Vec<i64> = self.access_times(i).iter().map(|t| t.0).collect();
            let _ = writeln!(out, "  access {times:?}");
        }
        let mut touches: Vec<(i64, &str)> = self
            .touches
            .iter()
            .map(|&(at, i)| (at, self.id(i)))
            .collect();
        touches.sort_unstable();
        for (at, id) in touches {
            let _ = writeln!(out, "touch {at} {id:?}");
        }
        let mut orphans: Vec<_> = self.orphan_access.iter().collect();
        orphans.sort();
        for (id, t) in orphans {
            let _ = writeln!(out, "orphan access {id:?} {t:?}");
        }
        let mut orphans: Vec<_> = self.orphan_touches.iter().collect();
        orphans.sort();
        for (id, t) in orphans {
            let _ = writeln!(out, "orphan touch {id:?} {t:?}");
        }
        out
    }

    /// The store generation it reflects.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.live
    }

    /// Every node index is below it (an index of a removed node gives no
    /// [`Snapshot::node`]); equal to [`Snapshot::node_count`] as built or read.
    pub fn index_bound(&self) -> usize {
        self.kind.len()
    }

    /// Number of spreading arcs (an edge whose type spreads both ways counts twice).
    pub fn edge_count(&self) -> u64 {
        self.edge_count
    }

    /// The index of a node id (binary searches over the id index).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.row_of(id).filter(|&r| self.alive[r as usize])
    }

    /// The row of an id, also of a removed node's.
    pub(super) fn row_of(&self, id: &str) -> Option<u32> {
        if let Some(r) = self.base_ids.row_of(id) {
            return Some(r);
        }
        if self.added.is_empty() {
            return None;
        }
        let key = id.as_bytes();
        self.added
            .binary_search_by(|&r| self.id(r).as_bytes().cmp(key))
            .ok()
            .map(|k| self.added[k])
    }

    /// Every row (removed nodes' too) in id order.
    pub(super) fn rows_by_id(&self) -> Vec<u32> {
        let b = &self.added;
        let mut out = Vec::with_capacity(self.base + b.len());
        let (mut i, mut j) = (0u32, 0);
        while (i as usize) < self.base && j < b.len() {
            if self.id(i) < self.id(b[j]) {
                out.push(i);
                i += 1;
            } else {
                out.push(b[j]);
                j += 1;
            }
        }
        out.extend(i..self.base as u32);
        out.extend_from_slice(&b[j..]);
        out
    }

    /// A node by index (`None` past the end or for a removed node).
    pub fn node(&self, index: u32) -> Option<NodeView<'_>> {
        self.alive
            .get(index as usize)
            .copied()
            .unwrap_or(false)
            .then_some(NodeView { snap: self, index })
    }

    /// Approximate heap bytes held by the snapshot (chunks it shares with
    /// clones counted in full).
    pub fn heap_bytes(&self) -> usize {
        let orphans: usize = self
            .orphan_access
            .iter()
            .chain(self.orphan_touches.iter())
            .map(|(k, t)| k.len() + 40 + t.capacity() * 8)
            .sum();
        self.base_ids.heap_bytes()
            + self.added_ids.heap_bytes()
            + self.added.capacity() * 4
            + self.alive.heap_bytes()
            + self.kind.heap_bytes()
            + self.phase.heap_bytes()
            + self.sensitivity.heap_bytes()
            + self.scope.heap_bytes()
            + self.labels.heap_bytes()
            + self.titles.heap_bytes()
            + self.valid_from.heap_bytes()
            + self.valid_to.heap_bytes()
            + self.tokens.heap_bytes()
            + self.created_at.heap_bytes()
            + self.signature.heap_bytes()
            + self.arcs.heap_bytes()
            + self.arc_max.heap_bytes()
            + self.access.heap_bytes()
            + self.created_extra.heap_bytes()
            + self.touches.heap_bytes()
            + orphans
            + self.dict.heap_bytes()
            + self.policy_class.heap_bytes()
            + self.classes.heap_bytes()
    }

    #[inline]
    pub(crate) fn id(&self, i: u32) -> &str {
        let i = i as usize;
        if i < self.base {
            self.base_ids.get(i)
        } else {
            self.added_ids.get(i - self.base)
        }
    }

    pub(crate) fn title(&self, i: u32) -> &str {
        self.titles.get(i as usize)
    }

    pub(crate) fn kind_name(&self, i: u32) -> &str {
        &self.dict.kinds.names[self.kind[i as usize] as usize]
    }

    pub(crate) fn phase_name(&self, i: u32) -> &str {
        &self.dict.phases.names[self.phase[i as usize] as usize]
    }

    /// The activation weight of node `i`'s phase (its class's: the phase is
    /// part of the class, and the class word is what admission reads).
    pub(crate) fn phase_weight(&self, i: u32) -> f64 {
        self.classes
            .weight(self.policy_class[i as usize] & classes::bits::CLASS)
    }

    /// Whether node `i` (a row of the snapshot) may take part in an
    /// activation at `t` before policy is asked: its phase has a positive
    /// activation weight and, unless `include_invalid`, it is valid at `t`.
    /// One read of the class column for most nodes (those without validity
    /// bounds).
    pub(crate) fn admissible(&self, i: u32, t: i64, include_invalid: bool) -> bool {
        use classes::bits;
        let word = self.policy_class[i as usize];
        word & bits::PHASE_ACTIVE != 0
            && (include_invalid || word & bits::ALWAYS_VALID != 0 || self.valid_at(i, t))
    }

    pub(crate) fn valid_at(&self, i: u32, t: i64) -> bool {
        let i = i as usize;
        self.valid_from[i] <= t && t < self.valid_to[i]
    }

    pub(crate) fn created_ms(&self, i: u32) -> i64 {
        self.created_at[i as usize]
    }

    pub(crate) fn tokens_of(&self, i: u32) -> u32 {
        self.tokens[i as usize]
    }

    pub(crate) fn signature(&self, i: u32) -> u64 {
        self.signature[i as usize]
    }

    /// Spreading arcs out of node `i`: (target, weight).
    pub(crate) fn arcs(&self, i: u32) -> &[(u32, f32)] {
        self.arcs.get(i as usize)
    }

    /// Number of spreading arcs out of node `i`.
    #[inline]
    pub(crate) fn arc_count(&self, i: u32) -> usize {
        self.arcs.row_len(i as usize)
    }

    /// Largest arc weight out of node `i` (0 without arcs).
    pub(crate) fn arc_max(&self, i: u32) -> f32 {
        self.arc_max[i as usize]
    }

    /// Access and creation times of node `i`, ascending.
    pub(crate) fn access_times(&self, i: u32) -> &[Time] {
        self.access.get(i as usize)
    }

    /// Event-path touches `(at millis, node)` with `since < at <= until`, in time order.
    pub(crate) fn touches_between(
        &self,
        since: i64,
        until: i64,
    ) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.touches
            .iter_from(move |t| t.0 <= since)
            .take_while(move |t| t.0 <= until)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    /// Readers on other threads share it behind an `Arc`.
    #[test]
    fn a_snapshot_is_shareable() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Snapshot>();
    }
}
