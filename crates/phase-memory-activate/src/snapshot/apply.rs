//! [`Snapshot::apply`]: bringing a snapshot forward by what commits changed,
//! without reading the rest of the store.

use std::collections::BTreeSet;
use std::sync::Arc;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::Direction;

use super::csr::insert_sorted;
use super::dict::Row;
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
    /// a fresh [`SnapshotBuilder`](super::SnapshotBuilder) over the new store
    /// would. Work is proportional to the change: a new node takes the next
    /// row and no row moves; only removing a node also scans every arc (for
    /// the arcs into it). On a clone, only the chunks of the columns it writes
    /// to are copied (the other clones keep theirs).
    pub fn apply(
        &mut self,
        generation: u64,
        changes: &SnapshotChanges,
        edges_of: &mut dyn FnMut(&str) -> Vec<Edge>,
    ) {
        let mut counter = None;
        let mut dirty: BTreeSet<String> = changes.edge_ends.iter().cloned().collect();
        for (id, node) in &changes.nodes {
            let row = self.row_of(id).map(|r| r as usize);
            let alive = row.is_some_and(|r| self.alive[r]);
            match (node, row) {
                (Some(n), Some(r)) if n.id == *id && alive => self.update_row(r, n, &mut counter),
                (Some(n), _) if n.id == *id => {
                    let r = row.unwrap_or_else(|| self.push_row(id));
                    self.revive_row(r, n, &mut counter);
                    dirty.insert(id.clone());
                    for e in edges_of(id) {
                        dirty.insert(e.from);
                        dirty.insert(e.to);
                    }
                }
                (None, Some(r)) if alive => self.remove_row(r),
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
        self.edge_count = self.arcs.live_items() as u64;
        self.generation = generation;
    }

    /// The row of a node; its names are interned first when one is new (the
    /// tables are copied then, if shared).
    fn derive_row(&mut self, node: &Node, counter: &mut Option<TokenCounter>) -> Row {
        if !self.dict.knows(node) {
            Arc::make_mut(&mut self.dict).intern(node);
        }
        self.dict.row(node, counter)
    }

    /// Sets the columns of row `r` a node's record gives (not its arcs, access
    /// times nor creation time).
    fn set_columns(&mut self, r: usize, row: &Row) {
        self.kind.set(r, row.kind);
        self.phase.set(r, row.phase);
        self.sensitivity.set(r, row.sensitivity);
        self.scope.set(r, row.scope);
        self.labels.replace(r, &row.labels);
        self.titles.replace(r, &row.title);
        self.valid_from.set(r, row.valid_from);
        self.valid_to.set(r, row.valid_to);
        self.tokens.set(r, row.tokens);
        self.signature.set(r, row.signature);
        let word = self.class_word(r);
        self.policy_class.set(r, word);
    }

    fn update_row(&mut self, r: usize, node: &Node, counter: &mut Option<TokenCounter>) {
        let row = self.derive_row(node, counter);
        self.set_columns(r, &row);
        if self.created_at[r] != row.created_at {
            let mut times: Vec<Time> = self.access.get(r).to_vec();
            if self.created_extra[r] {
                times.retain(|t| t.0 != self.created_at[r]);
            }
            let extra = insert_sorted(&mut times, Time(row.created_at));
            self.created_extra.set(r, extra);
            self.created_at.set(r, row.created_at);
            self.access.replace(r, &times);
        }
    }

    /// Appends an empty row (no node yet) for a new id and indexes it.
    fn push_row(&mut self, id: &str) -> usize {
        let r = self.kind.len();
        self.added_ids.push(id);
        self.alive.push(false);
        for column in [
            &mut self.kind,
            &mut self.phase,
            &mut self.sensitivity,
            &mut self.scope,
            &mut self.tokens,
            &mut self.policy_class,
        ] {
            column.push(0);
        }
        self.labels.push(&[]);
        self.titles.push("");
        self.valid_from.push(i64::MIN);
        self.valid_to.push(i64::MAX);
        self.created_at.push(0);
        self.signature.push(0);
        self.arcs.push(&[]);
        self.arc_max.push(0.0);
        self.access.push(&[]);
        self.created_extra.push(false);
        // A move (or, when shared, a copy) of 4 bytes per row added since the
        // snapshot was built or read (40 KB after 10,000 new nodes); the rows
        // themselves stay.
        let p = self.added.partition_point(|&a| self.id(a) < id);
        Arc::make_mut(&mut self.added).insert(p, r as u32);
        r
    }

    /// Puts a node into an empty row (new, or of a removed node): its columns,
    /// and the times kept aside while the id was no node. No arcs yet (the
    /// caller derives them).
    fn revive_row(&mut self, r: usize, node: &Node, counter: &mut Option<TokenCounter>) {
        let row = self.derive_row(node, counter);
        self.set_columns(r, &row);
        self.created_at.set(r, row.created_at);
        self.alive.set(r, true);
        self.live += 1;
        let id = node.id.as_str();
        let mut times: Vec<Time> = Vec::new();
        if self.orphan_access.contains_key(id)
            && let Some(kept) = Arc::make_mut(&mut self.orphan_access).remove(id)
        {
            times = kept.into_iter().map(Time).collect();
        }
        let extra = insert_sorted(&mut times, Time(row.created_at));
        self.created_extra.set(r, extra);
        self.access.replace(r, &times);
        if self.orphan_touches.contains_key(id)
            && let Some(ts) = Arc::make_mut(&mut self.orphan_touches).remove(id)
        {
            for t in ts {
                self.touches.insert((t, r as u32));
            }
        }
    }

    /// Empties the row of a removed node (it keeps its id, for the index and
    /// in case the node comes back); its event times are kept aside under its
    /// id, and every arc into it is dropped.
    fn remove_row(&mut self, r: usize) {
        let id: Box<str> = self.id(r as u32).into();
        let r32 = r as u32;
        let times: Vec<i64> = self
            .access
            .get(r)
            .iter()
            .map(|t| t.0)
            .filter(|&t| !(self.created_extra[r] && t == self.created_at[r]))
            .collect();
        if !times.is_empty() {
            Arc::make_mut(&mut self.orphan_access).insert(id.clone(), times);
        }
        let mut touched = Vec::new();
        self.touches.retain(|&(t, i)| {
            if i == r32 {
                touched.push(t);
            }
            i != r32
        });
        if !touched.is_empty() {
            Arc::make_mut(&mut self.orphan_touches).insert(id, touched);
        }
        for u in 0..self.arcs.len() {
            if u != r && self.arcs.get(u).iter().any(|a| a.0 == r32) {
                let kept: Vec<(u32, f32)> = self
                    .arcs
                    .get(u)
                    .iter()
                    .copied()
                    .filter(|a| a.0 != r32)
                    .collect();
                self.arc_max
                    .set(u, kept.iter().fold(0.0f32, |m, a| m.max(a.1)));
                self.arcs.replace(u, &kept);
            }
        }
        self.arcs.replace(r, &[]);
        self.arc_max.set(r, 0.0);
        self.labels.replace(r, &[]);
        self.titles.replace(r, "");
        self.access.replace(r, &[]);
        self.created_extra.set(r, false);
        self.alive.set(r, false);
        self.live -= 1;
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
        self.arc_max
            .set(r, arcs.iter().fold(0.0f32, |m, a| m.max(a.1)));
        self.arcs.replace(r, &arcs);
    }

    fn add_event(&mut self, event: &Event) {
        let path = EVENT_PATH_TYPES.contains(&event.event_type.as_str());
        let at = event.at.millis();
        for s in &event.subjects {
            match self.index_of(s) {
                Some(r32) => {
                    let r = r32 as usize;
                    if !self.access.insert_sorted(r, Time(at)) && self.created_at[r] == at {
                        self.created_extra.set(r, false);
                    }
                    if path {
                        self.touches.insert((at, r32));
                    }
                }
                None => {
                    let aside = Arc::make_mut(&mut self.orphan_access);
                    insert_sorted(aside.entry(s.as_str().into()).or_default(), at);
                    if path {
                        let aside = Arc::make_mut(&mut self.orphan_touches);
                        insert_sorted(aside.entry(s.as_str().into()).or_default(), at);
                    }
                }
            }
        }
    }
}
