//! Policy classes: nodes of one snapshot that are alike for policy (same kind,
//! phase, sensitivity, scope and labels) share a small number, so a caller
//! decides policy once per class and looks the decision up by number
//! ([`NodeView::policy_class`](super::NodeView::policy_class)) instead of
//! hashing each node's attributes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use rustc_hash::FxHashMap;

use super::Snapshot;

/// Bits of the class column besides the class number: what activation's
/// admission reads of a node besides policy, kept with the class so one read
/// answers both (`Snapshot::admissible`).
pub(crate) mod bits {
    /// The node's phase has a positive activation weight.
    pub const PHASE_ACTIVE: u32 = 1 << 31;
    /// The node has no validity bounds (valid at every instant).
    pub const ALWAYS_VALID: u32 = 1 << 30;
    /// The class number.
    pub const CLASS: u32 = (1 << 30) - 1;
}

/// The classes a snapshot has numbered so far, keyed by what a policy decision
/// reads of a node as interned numbers: `[kind, phase, sensitivity, scope,
/// labels…]`. A class is never renumbered nor dropped while the snapshot is
/// brought forward (a class no node has any more only costs its entry), so
/// numbers stay below [`Classes::len`]. Copied only when a commit brings a
/// new class.
#[derive(Clone, Debug)]
pub(super) struct Classes {
    map: Arc<FxHashMap<Box<[u32]>, u32>>,
    /// Each class's phase activation weight (its phase is part of the key),
    /// by class number: read with the class word a node's admission read
    /// already, instead of its phase column.
    weights: Arc<Vec<f64>>,
    /// Which numbering this is: a new one whenever a class is numbered (and
    /// for a snapshot built or loaded afresh), so two snapshots share it only
    /// when they hold the same classes under the same numbers — also two
    /// snapshots brought forward from one along different paths (a process's
    /// runtimes may), which could number their new classes differently.
    /// Unique within the process.
    lineage: u64,
}

/// A lineage number not given before in this process.
fn next_lineage() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, AtomicOrdering::Relaxed)
}

impl Default for Classes {
    fn default() -> Self {
        Classes {
            map: Default::default(),
            weights: Default::default(),
            lineage: next_lineage(),
        }
    }
}

impl Classes {
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.map
            .keys()
            .map(|k| std::mem::size_of::<(Box<[u32]>, u32)>() + 8 + 4 * k.len())
            .sum::<usize>()
            + self.weights.capacity() * 8
    }

    /// The phase activation weight of class `class` (0 for a number not given).
    pub(super) fn weight(&self, class: u32) -> f64 {
        self.weights.get(class as usize).copied().unwrap_or(0.0)
    }
}

impl Snapshot {
    /// The class of row `r` from its columns, numbered on first sight (a new
    /// lineage then), with a buffer for the key (allocated only for a class
    /// seen for the first time).
    fn class_of_row_with(&mut self, r: usize, key: &mut Vec<u32>) -> u32 {
        key.clear();
        key.extend_from_slice(&[
            self.kind[r],
            self.phase[r],
            self.sensitivity[r],
            self.scope[r],
        ]);
        key.extend_from_slice(self.labels.get(r));
        if let Some(&c) = self.classes.map.get(key.as_slice()) {
            return c;
        }
        let c = self.classes.map.len() as u32;
        Arc::make_mut(&mut self.classes.map).insert(key.as_slice().into(), c);
        let weight = self.dict.phase_weights[self.phase[r] as usize];
        Arc::make_mut(&mut self.classes.weights).push(weight);
        self.classes.lineage = next_lineage();
        c
    }

    /// The class column's word of row `r`: its class number and admission
    /// bits ([`bits`]).
    pub(super) fn class_word(&mut self, r: usize) -> u32 {
        let mut key = Vec::new();
        self.class_word_with(r, &mut key)
    }

    fn class_word_with(&mut self, r: usize, key: &mut Vec<u32>) -> u32 {
        let class = self.class_of_row_with(r, key) & bits::CLASS;
        let active = self.classes.weight(class) > 0.0;
        let always = self.valid_from[r] == i64::MIN && self.valid_to[r] == i64::MAX;
        class
            | if active { bits::PHASE_ACTIVE } else { 0 }
            | if always { bits::ALWAYS_VALID } else { 0 }
    }

    /// Numbers the class of every row (after the columns are filled).
    pub(super) fn derive_classes(&mut self) {
        let n = self.node_count();
        let mut column = Vec::with_capacity(n);
        let mut key = Vec::new();
        for r in 0..n {
            column.push(self.class_word_with(r, &mut key));
        }
        self.policy_class = column.into();
    }

    /// Number of policy classes: every [`NodeView::policy_class`](super::NodeView::policy_class)
    /// of this snapshot is below it.
    pub fn policy_class_count(&self) -> usize {
        self.classes.len()
    }

    /// Which numbering of policy classes this snapshot uses: equal for two
    /// snapshots only when they hold the same classes under the same numbers
    /// (one was brought forward from the other without numbering a class), so
    /// a caller may keep decisions per class number across snapshots of one
    /// lineage. Numbering a class starts a new lineage: two snapshots brought
    /// forward from one along different paths may number their new classes
    /// differently, and must not share decisions. Unique within the process.
    pub fn policy_class_lineage(&self) -> u64 {
        self.classes.lineage
    }
}
