//! What each commit changed, by node id, kept by a store handle so that derived
//! state (activation snapshot, full-text index) catches up with new commits
//! incrementally ([`crate::Store::data_changes_since`]).

use std::collections::{BTreeSet, VecDeque};

use rustc_hash::FxHashSet;

use crate::ChangeSet;

/// Most node ids a [`ChangeLog`] keeps; older commits are forgotten (asking
/// about them answers "unknown", and the caller rebuilds).
pub const CHANGE_LOG_IDS: usize = 200_000;

/// The node ids each commit since a floor generation changed: nodes put or
/// deleted and both ends of edges put or deleted. A new profile changes how
/// every node is derived, so it resets the log.
#[derive(Clone, Debug)]
pub struct ChangeLog {
    /// Every change of the commits after this generation is in `entries`.
    floor: u64,
    entries: VecDeque<(u64, Vec<String>)>,
    ids: usize,
}

impl ChangeLog {
    /// A log that knows the commits after `generation` (none yet).
    pub fn new(generation: u64) -> Self {
        ChangeLog {
            floor: generation,
            entries: VecDeque::new(),
            ids: 0,
        }
    }

    /// The node ids a change set touches: nodes put or deleted, edge ends.
    pub fn ids_of(c: &ChangeSet) -> Vec<String> {
        // Distinct first (borrowed, hashed), then sorted and copied: a bulk
        // change names each node many times (once per edge end).
        let mut distinct: FxHashSet<&str> = FxHashSet::default();
        distinct.extend(c.put_nodes.iter().map(|n| n.id.as_str()));
        distinct.extend(c.delete_nodes.iter().map(String::as_str));
        distinct.extend(
            c.put_edges
                .iter()
                .flat_map(|e| [e.from.as_str(), e.to.as_str()]),
        );
        distinct.extend(
            c.delete_edges
                .iter()
                .flat_map(|k| [k.from.as_str(), k.to.as_str()]),
        );
        let mut ids: Vec<&str> = distinct.into_iter().collect();
        ids.sort_unstable();
        ids.into_iter().map(str::to_string).collect()
    }

    /// Records what the commit that made `generation` changed.
    pub fn record(&mut self, generation: u64, c: &ChangeSet) {
        if c.profile.is_some() {
            self.reset(generation);
            return;
        }
        self.record_ids(generation, Self::ids_of(c));
    }

    /// Records node ids changed by the commits up to `generation`.
    pub fn record_ids(&mut self, generation: u64, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        self.ids += ids.len();
        self.entries.push_back((generation, ids));
        while self.ids > CHANGE_LOG_IDS {
            let Some((g, old)) = self.entries.pop_front() else {
                break;
            };
            self.ids -= old.len();
            self.floor = g;
        }
    }

    /// Forgets everything: only commits after `generation` will be known.
    pub fn reset(&mut self, generation: u64) {
        self.floor = generation;
        self.entries.clear();
        self.ids = 0;
    }

    /// The node ids changed by the commits after `since` (sorted, unique), or
    /// `None` when the log does not reach back that far.
    pub fn since(&self, since: u64) -> Option<Vec<String>> {
        if since < self.floor {
            return None;
        }
        let mut out = BTreeSet::new();
        for (g, ids) in self.entries.iter().rev() {
            if *g <= since {
                break;
            }
            out.extend(ids.iter().cloned());
        }
        Some(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phase_memory_model::{Edge, Time};

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            edge_type: "relates_to".into(),
            weight: 1.0,
            attrs: Default::default(),
            created_at: Time(0),
        }
    }

    #[test]
    fn answers_the_ids_since_a_generation_and_unknown_before_its_floor() {
        let mut log = ChangeLog::new(3);
        log.record(
            4,
            &ChangeSet {
                put_edges: vec![edge("b", "a")],
                delete_nodes: vec!["c".into()],
                ..Default::default()
            },
        );
        log.record(5, &ChangeSet::default());
        log.record(
            6,
            &ChangeSet {
                put_edges: vec![edge("d", "a")],
                ..Default::default()
            },
        );
        assert_eq!(log.since(2), None);
        assert_eq!(
            log.since(3),
            Some(vec!["a".into(), "b".into(), "c".into(), "d".into()])
        );
        assert_eq!(log.since(4), Some(vec!["a".into(), "d".into()]));
        assert_eq!(log.since(6), Some(vec![]));
        log.record(
            7,
            &ChangeSet {
                profile: Some("x".into()),
                ..Default::default()
            },
        );
        assert_eq!(log.since(6), None, "a new profile changes every node");
        assert_eq!(log.since(7), Some(vec![]));
    }

    #[test]
    fn forgets_the_oldest_commits_beyond_its_size() {
        let mut log = ChangeLog::new(0);
        let many: Vec<String> = (0..CHANGE_LOG_IDS).map(|i| format!("n{i}")).collect();
        log.record_ids(1, many);
        log.record_ids(2, vec!["x".into()]);
        assert_eq!(log.since(0), None);
        assert_eq!(log.since(1), Some(vec!["x".into()]));
    }
}
