//! [`Snapshot::apply`]: bringing a snapshot forward by what commits changed,
//! without reading the rest of the store.

use std::collections::BTreeSet;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::Direction;

use super::csr::{
    csr_insert, csr_remove, csr_replace, insert_sorted, shift, str_insert, str_remove, str_replace,
};
use super::{EVENT_PATH_TYPES, Snapshot};
use crate::tokens::TokenCounter;

/// What commits changed in what a [`Snapshot`] is built from, for
/// [`Snapshot::apply`].
#[derive(Clone, Debug, Default)]
pub struct SnapshotChanges {
    /// Nodes put or deleted, each with its record after the commits (`None`: gone).
    pub nodes: Vec<(String, Option<Node>)>,
    /// Ids at either end of an edge put or deleted.
    pub edge_ends: Vec<String>,
    /// Events appended, in sequence order.
    pub events: Vec<Event>,
}

impl SnapshotChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.edge_ends.is_empty() && self.events.is_empty()
    }

    /// Rows touched: an estimate of the work [`Snapshot::apply`] does.
    pub fn len(&self) -> usize {
        self.nodes.len() + self.edge_ends.len() + self.events.len()
    }
}

impl Snapshot {
    /// Brings the snapshot to store generation `generation` by applying what the
    /// commits since its own generation changed. `edges_of(id)` answers every
    /// edge touching `id` in the store after those commits (the arcs of changed
    /// nodes and their neighbours are derived from it). Nothing else of the store
    /// is read and no unchanged node is re-derived; the result answers exactly as
    /// a fresh [`SnapshotBuilder`] over the new store would. Work is proportional
    /// to the change, plus moving the columns behind an inserted or removed node.
    pub fn apply(
        &mut self,
        generation: u64,
        changes: &SnapshotChanges,
        edges_of: &mut dyn FnMut(&str) -> Vec<Edge>,
    ) {
        let mut counter = None;
        let mut dirty: BTreeSet<String> = changes.edge_ends.iter().cloned().collect();
        for (id, node) in &changes.nodes {
            match (node, self.index_of(id)) {
                (Some(n), Some(r)) if n.id == *id => self.update_row(r as usize, n, &mut counter),
                (Some(n), None) if n.id == *id => {
                    self.insert_row(n, &mut counter);
                    dirty.insert(id.clone());
                    for e in edges_of(id) {
                        dirty.insert(e.from);
                        dirty.insert(e.to);
                    }
                }
                (None, Some(r)) => self.remove_row(r as usize),
                _ => {}
            }
        }
        for id in &dirty {
            if let Some(r) = self.index_of(id) {
                let edges = edges_of(id);
                self.set_arcs(r as usize, &edges);
            }
        }
        for e in &changes.events {
            self.add_event(e);
        }
        self.edge_count = self.arc_targets.len() as u64;
        self.generation = generation;
    }

    fn update_row(&mut self, r: usize, node: &Node, counter: &mut Option<TokenCounter>) {
        let row = self.dict.row(node, counter);
        self.kind[r] = row.kind;
        self.phase[r] = row.phase;
        self.sensitivity[r] = row.sensitivity;
        self.scope[r] = row.scope;
        csr_replace(&mut self.label_offsets, &mut self.label_ids, r, &row.labels);
        str_replace(
            &mut self.title_offsets,
            &mut self.title_bytes,
            r,
            &row.title,
        );
        self.valid_from[r] = row.valid_from;
        self.valid_to[r] = row.valid_to;
        self.tokens[r] = row.tokens;
        self.signature[r] = row.signature;
        self.policy_class[r] = self.class_of_row(r);
        if self.created_at[r] != row.created_at {
            let (a, b) = (self.access_offsets[r], self.access_offsets[r + 1]);
            let mut times: Vec<Time> = self.access_times[a..b].to_vec();
            if self.created_extra[r] {
                times.retain(|t| t.0 != self.created_at[r]);
            }
            self.created_extra[r] = insert_sorted(&mut times, Time(row.created_at));
            self.created_at[r] = row.created_at;
            csr_replace(&mut self.access_offsets, &mut self.access_times, r, &times);
        }
    }

    fn insert_row(&mut self, node: &Node, counter: &mut Option<TokenCounter>) {
        let row = self.dict.row(node, counter);
        let n = self.node_count();
        let r = {
            let (mut lo, mut hi) = (0usize, n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.id(mid as u32) < node.id.as_str() {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        let r32 = r as u32;
        for t in &mut self.arc_targets {
            if *t >= r32 {
                *t += 1;
            }
        }
        for (_, i) in &mut self.touches {
            if *i >= r32 {
                *i += 1;
            }
        }
        str_insert(&mut self.id_offsets, &mut self.id_bytes, r, &node.id);
        self.kind.insert(r, row.kind);
        self.phase.insert(r, row.phase);
        self.sensitivity.insert(r, row.sensitivity);
        self.scope.insert(r, row.scope);
        csr_insert(&mut self.label_offsets, &mut self.label_ids, r, &row.labels);
        str_insert(
            &mut self.title_offsets,
            &mut self.title_bytes,
            r,
            &row.title,
        );
        self.valid_from.insert(r, row.valid_from);
        self.valid_to.insert(r, row.valid_to);
        self.tokens.insert(r, row.tokens);
        self.created_at.insert(r, row.created_at);
        self.signature.insert(r, row.signature);
        self.policy_class.insert(r, 0);
        self.policy_class[r] = self.class_of_row(r);
        // No arcs yet (the caller derives them); they are two CSRs on one offset list.
        let a = self.arc_offsets[r];
        self.arc_offsets.insert(r + 1, a);
        self.arc_max.insert(r, 0.0);
        let mut times: Vec<Time> = self
            .orphan_access
            .remove(node.id.as_str())
            .unwrap_or_default()
            .into_iter()
            .map(Time)
            .collect();
        let extra = insert_sorted(&mut times, Time(row.created_at));
        csr_insert(&mut self.access_offsets, &mut self.access_times, r, &times);
        self.created_extra.insert(r, extra);
        if let Some(ts) = self.orphan_touches.remove(node.id.as_str()) {
            for t in ts {
                insert_sorted(&mut self.touches, (t, r32));
            }
        }
    }

    fn remove_row(&mut self, r: usize) {
        let id: Box<str> = self.id(r as u32).into();
        let r32 = r as u32;
        let (a, b) = (self.access_offsets[r], self.access_offsets[r + 1]);
        let times: Vec<i64> = self.access_times[a..b]
            .iter()
            .map(|t| t.0)
            .filter(|&t| !(self.created_extra[r] && t == self.created_at[r]))
            .collect();
        if !times.is_empty() {
            self.orphan_access.insert(id.clone(), times);
        }
        let mut touched = Vec::new();
        self.touches.retain_mut(|(t, i)| {
            if *i == r32 {
                touched.push(*t);
                return false;
            }
            if *i > r32 {
                *i -= 1;
            }
            true
        });
        if !touched.is_empty() {
            self.orphan_touches.insert(id, touched);
        }
        // Arcs: drop the node's row and every arc to it; renumber the rest.
        let n = self.node_count();
        let mut offsets = Vec::with_capacity(n);
        offsets.push(0);
        let mut w = 0usize;
        let mut maxes = Vec::with_capacity(n.saturating_sub(1));
        for u in 0..n {
            let (a, b) = (self.arc_offsets[u], self.arc_offsets[u + 1]);
            if u == r {
                continue;
            }
            let mut m = 0.0f32;
            for k in a..b {
                let t = self.arc_targets[k];
                if t == r32 {
                    continue;
                }
                let weight = self.arc_weights[k];
                self.arc_targets[w] = if t > r32 { t - 1 } else { t };
                self.arc_weights[w] = weight;
                m = m.max(weight);
                w += 1;
            }
            offsets.push(w);
            maxes.push(m);
        }
        self.arc_targets.truncate(w);
        self.arc_weights.truncate(w);
        self.arc_offsets = offsets;
        self.arc_max = maxes;
        str_remove(&mut self.id_offsets, &mut self.id_bytes, r);
        self.kind.remove(r);
        self.phase.remove(r);
        self.sensitivity.remove(r);
        self.scope.remove(r);
        csr_remove(&mut self.label_offsets, &mut self.label_ids, r);
        str_remove(&mut self.title_offsets, &mut self.title_bytes, r);
        self.valid_from.remove(r);
        self.valid_to.remove(r);
        self.tokens.remove(r);
        self.created_at.remove(r);
        self.signature.remove(r);
        self.policy_class.remove(r);
        csr_remove(&mut self.access_offsets, &mut self.access_times, r);
        self.created_extra.remove(r);
    }

    /// Re-derives the arcs out of node `r` from every edge touching it.
    fn set_arcs(&mut self, r: usize, edges: &[Edge]) {
        let me = self.id(r as u32).to_string();
        let mut arcs: Vec<(u32, f32)> = Vec::new();
        for e in edges {
            let Some((w, direction)) = self.dict.spread(e) else {
                continue;
            };
            if e.from == me
                && matches!(direction, Direction::Forward | Direction::Both)
                && let Some(t) = self.index_of(&e.to)
            {
                arcs.push((t, w));
            }
            if e.to == me
                && matches!(direction, Direction::Backward | Direction::Both)
                && let Some(t) = self.index_of(&e.from)
            {
                arcs.push((t, w));
            }
        }
        arcs.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        let targets: Vec<u32> = arcs.iter().map(|a| a.0).collect();
        let weights: Vec<f32> = arcs.iter().map(|a| a.1).collect();
        let (a, b) = (self.arc_offsets[r], self.arc_offsets[r + 1]);
        self.arc_targets.splice(a..b, targets);
        csr_replace(&mut self.arc_offsets, &mut self.arc_weights, r, &weights);
        self.arc_max[r] = weights.iter().fold(0.0f32, |m, &w| m.max(w));
    }

    fn add_event(&mut self, event: &Event) {
        let path = EVENT_PATH_TYPES.contains(&event.event_type.as_str());
        let at = event.at.millis();
        for s in &event.subjects {
            match self.index_of(s) {
                Some(r32) => {
                    let r = r32 as usize;
                    let (a, b) = (self.access_offsets[r], self.access_offsets[r + 1]);
                    match self.access_times[a..b].binary_search(&Time(at)) {
                        Ok(_) => {
                            if self.created_at[r] == at {
                                self.created_extra[r] = false;
                            }
                        }
                        Err(p) => {
                            self.access_times.insert(a + p, Time(at));
                            shift(&mut self.access_offsets[r + 1..], 0, 1);
                        }
                    }
                    if path {
                        insert_sorted(&mut self.touches, (at, r32));
                    }
                }
                None => {
                    insert_sorted(self.orphan_access.entry(s.as_str().into()).or_default(), at);
                    if path {
                        insert_sorted(
                            self.orphan_touches.entry(s.as_str().into()).or_default(),
                            at,
                        );
                    }
                }
            }
        }
    }
}
