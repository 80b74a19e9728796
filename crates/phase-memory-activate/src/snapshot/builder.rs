//! [`SnapshotBuilder`]: a snapshot built from a whole store.

use std::sync::Arc;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::{Direction, Profile};
use rustc_hash::FxHashMap;

use super::chunked::Sorted;
use super::csr::{Rows, StrRows, csr_offsets};
use super::dict::{Dict, Row};
use super::{BaseIds, EVENT_PATH_TYPES, Snapshot};
use crate::tokens::TokenCounter;

/// Builds a [`Snapshot`]. Nodes, edges and events may be added in any order; edges
/// and events that name a node never added are ignored at [`SnapshotBuilder::finish`].
/// Adding a node id twice keeps the last.
pub struct SnapshotBuilder {
    generation: u64,
    dict: Dict,
    ids: Vec<Box<str>>,
    map: FxHashMap<Box<str>, u32>,
    rows: Vec<Option<Row>>,
    arcs: Vec<(u32, u32, f32)>,
    access: Vec<(u32, i64)>,
    touches: Vec<(i64, u32)>,
    counter: Option<TokenCounter>,
}

impl std::fmt::Debug for SnapshotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotBuilder")
            .field("generation", &self.generation)
            .field("ids", &self.ids.len())
            .field("arcs", &self.arcs.len())
            .finish_non_exhaustive()
    }
}

impl SnapshotBuilder {
    /// A builder for the graph of a store configured by `profile` (its phases, phase
    /// weights, edge types and tokenizer).
    pub fn new(profile: &Profile) -> SnapshotBuilder {
        SnapshotBuilder {
            generation: 0,
            dict: Dict::new(profile),
            ids: Vec::new(),
            map: FxHashMap::default(),
            rows: Vec::new(),
            arcs: Vec::new(),
            access: Vec::new(),
            touches: Vec::new(),
            counter: None,
        }
    }

    /// Sets the store generation the snapshot reflects.
    pub fn with_generation(mut self, generation: u64) -> SnapshotBuilder {
        self.generation = generation;
        self
    }

    /// Sets the store generation the snapshot reflects.
    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    fn intern_id(&mut self, id: &str) -> u32 {
        if let Some(i) = self.map.get(id) {
            return *i;
        }
        let i = self.ids.len() as u32;
        let boxed: Box<str> = id.into();
        self.ids.push(boxed.clone());
        self.map.insert(boxed, i);
        self.rows.push(None);
        i
    }

    /// Adds (or replaces) a node. Its token count is `node.tokens`, or counted with
    /// the profile's tokenizer when the record has none and the node has text.
    pub fn add_node(&mut self, node: &Node) {
        let i = self.intern_id(&node.id) as usize;
        self.dict.intern(node);
        let row = self.dict.row(node, &mut self.counter);
        self.rows[i] = Some(row);
    }

    /// Adds an edge: spreading arcs per its type's direction (forward: from → to,
    /// backward: to → from, both: both), weighted `edge.weight × type weight`.
    /// Edges of undeclared types, with a non-positive or non-finite weight, or from
    /// a node to itself spread nothing and are ignored.
    pub fn add_edge(&mut self, edge: &Edge) {
        let Some((w, direction)) = self.dict.spread(edge) else {
            return;
        };
        let from = self.intern_id(&edge.from);
        let to = self.intern_id(&edge.to);
        if matches!(direction, Direction::Forward | Direction::Both) {
            self.arcs.push((from, to, w));
        }
        if matches!(direction, Direction::Backward | Direction::Both) {
            self.arcs.push((to, from, w));
        }
    }

    /// Adds an event: every subject gets an access time at `event.at` (for the base
    /// level); subjects of `observation` and `node.accessed` events also become
    /// event-path seed candidates.
    pub fn add_event(&mut self, event: &Event) {
        let path = EVENT_PATH_TYPES.contains(&event.event_type.as_str());
        for s in &event.subjects {
            let i = self.intern_id(s);
            self.access.push((i, event.at.millis()));
            if path {
                self.touches.push((event.at.millis(), i));
            }
        }
    }

    /// Freezes the snapshot.
    pub fn finish(self) -> Snapshot {
        let SnapshotBuilder {
            generation,
            dict,
            ids,
            rows,
            arcs,
            access,
            touches,
            map,
            ..
        } = self;
        drop(map);
        let (order, remap) = final_order(&ids, &rows);
        let n = order.len();
        let mut s = empty_snapshot(generation, dict, n);
        push_rows(&mut s, &order, &ids, rows);
        set_arcs(&mut s, arcs, &remap, n);
        set_access(&mut s, access, &remap, &ids, n);
        set_touches(&mut s, touches, &remap, &ids);
        s.derive_classes();
        s
    }
}

/// Final order: defined nodes sorted by id. Returns the order (old indices) and
/// the map from old to new index (`u32::MAX` for ids with no node).
fn final_order(ids: &[Box<str>], rows: &[Option<Row>]) -> (Vec<u32>, Vec<u32>) {
    let mut order: Vec<u32> = (0..ids.len() as u32)
        .filter(|&i| rows[i as usize].is_some())
        .collect();
    order.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
    let mut remap = vec![u32::MAX; ids.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    (order, remap)
}

/// A snapshot of `n` nodes with nothing in it yet.
fn empty_snapshot(generation: u64, dict: Dict, n: usize) -> Snapshot {
    Snapshot {
        generation,
        base_ids: Arc::default(),
        added_ids: StrRows::default(),
        base: n,
        added: Arc::default(),
        alive: std::iter::repeat_n(true, n).collect(),
        live: n,
        kind: Default::default(),
        phase: Default::default(),
        sensitivity: Default::default(),
        scope: Default::default(),
        labels: Rows::default(),
        titles: StrRows::default(),
        valid_from: Default::default(),
        valid_to: Default::default(),
        tokens: Default::default(),
        created_at: Default::default(),
        signature: Default::default(),
        arcs: Rows::default(),
        arc_max: Default::default(),
        access: Rows::default(),
        created_extra: Default::default(),
        touches: Sorted::default(),
        orphan_access: Arc::default(),
        orphan_touches: Arc::default(),
        edge_count: 0,
        dict: Arc::new(dict),
        policy_class: Default::default(),
        classes: Default::default(),
    }
}

/// The node columns, in the final order.
fn push_rows(s: &mut Snapshot, order: &[u32], ids: &[Box<str>], rows: Vec<Option<Row>>) {
    let (mut id_offsets, mut id_bytes) = (vec![0], String::new());
    let (mut label_offsets, mut label_ids) = (vec![0], Vec::new());
    let (mut title_offsets, mut title_bytes) = (vec![0], String::new());
    for &old in order {
        let Some(row) = &rows[old as usize] else {
            continue;
        };
        id_bytes.push_str(&ids[old as usize]);
        id_offsets.push(id_bytes.len());
        s.kind.push(row.kind);
        s.phase.push(row.phase);
        s.sensitivity.push(row.sensitivity);
        s.scope.push(row.scope);
        label_ids.extend_from_slice(&row.labels);
        label_offsets.push(label_ids.len());
        title_bytes.push_str(&row.title);
        title_offsets.push(title_bytes.len());
        s.valid_from.push(row.valid_from);
        s.valid_to.push(row.valid_to);
        s.tokens.push(row.tokens);
        s.created_at.push(row.created_at);
        s.signature.push(row.signature);
    }
    drop(rows);
    id_bytes.shrink_to_fit();
    s.base_ids = Arc::new(BaseIds::new(id_bytes, id_offsets));
    s.labels = Rows::from_offsets(&label_offsets, &label_ids);
    s.titles = StrRows::from_offsets(&title_offsets, &title_bytes);
}

/// Spreading arcs as CSR, targets ascending within a node.
fn set_arcs(s: &mut Snapshot, mut arcs: Vec<(u32, u32, f32)>, remap: &[u32], n: usize) {
    arcs.retain_mut(|(a, b, _)| {
        *a = remap[*a as usize];
        *b = remap[*b as usize];
        *a != u32::MAX && *b != u32::MAX
    });
    arcs.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
    let offsets = csr_offsets(n, arcs.iter().map(|a| a.0));
    let items: Vec<(u32, f32)> = arcs.iter().map(|a| (a.1, a.2)).collect();
    s.arcs = Rows::from_offsets(&offsets, &items);
    let mut arc_max = vec![0.0f32; n];
    for &(a, _, w) in &arcs {
        let m = &mut arc_max[a as usize];
        *m = m.max(w);
    }
    s.arc_max = arc_max.into();
    s.edge_count = arcs.len() as u64;
}

/// Access times: events' subjects plus each node's creation, deduplicated.
/// Accesses of ids with no node are kept aside: they join the node if it is added
/// later ([`Snapshot::apply`]).
fn set_access(
    s: &mut Snapshot,
    mut access: Vec<(u32, i64)>,
    remap: &[u32],
    ids: &[Box<str>],
    n: usize,
) {
    let aside = Arc::make_mut(&mut s.orphan_access);
    access.retain_mut(|(i, t)| remap_or_keep_aside(i, *t, remap, ids, aside));
    access.sort_unstable();
    access.dedup();
    s.created_extra = (0..n)
        .map(|i| access.binary_search(&(i as u32, s.created_at[i])).is_err())
        .collect();
    access.extend(s.created_at.iter().enumerate().map(|(i, &t)| (i as u32, t)));
    access.sort_unstable();
    access.dedup();
    let offsets = csr_offsets(n, access.iter().map(|a| a.0));
    let times: Vec<Time> = access.iter().map(|a| Time(a.1)).collect();
    s.access = Rows::from_offsets(&offsets, &times);
}

/// Event-path touches, ordered by time. Touches of ids with no node are kept aside
/// like accesses; the kept-aside lists are sorted and deduplicated.
fn set_touches(s: &mut Snapshot, mut touches: Vec<(i64, u32)>, remap: &[u32], ids: &[Box<str>]) {
    let aside = Arc::make_mut(&mut s.orphan_touches);
    touches.retain_mut(|(t, i)| remap_or_keep_aside(i, *t, remap, ids, aside));
    touches.sort_unstable();
    touches.dedup();
    s.touches = Sorted::from_sorted(&touches);
    for v in Arc::make_mut(&mut s.orphan_access)
        .values_mut()
        .chain(Arc::make_mut(&mut s.orphan_touches).values_mut())
    {
        v.sort_unstable();
        v.dedup();
    }
}

/// Moves a node index to its final position; an index with no node (its id
/// only known from an access or a touch) is kept aside under its id with its
/// time. True when the index stays.
fn remap_or_keep_aside(
    i: &mut u32,
    t: i64,
    remap: &[u32],
    ids: &[Box<str>],
    aside: &mut rustc_hash::FxHashMap<Box<str>, Vec<i64>>,
) -> bool {
    let old = *i as usize;
    *i = remap[old];
    if *i == u32::MAX {
        aside.entry(ids[old].clone()).or_default().push(t);
        return false;
    }
    true
}
