//! The compact, read-only graph snapshot activation runs on, built once per store
//! generation: interned ids (sorted, so node index order is id order), dense
//! per-node columns, a CSR of spreading arcs with their weights, per-node access
//! times (CSR) and the time-ordered event touches that feed event-path seeds.
//! Bodies are not kept; each node keeps a 64-bit SimHash of its words instead.
//!
//! A snapshot is also brought forward in place by [`Snapshot::apply`]: the nodes,
//! edges and events one or more commits changed are applied to it without reading
//! the rest of the store and without re-deriving anything of an unchanged node
//! (no tokenizing, no SimHash), and the result is the snapshot a fresh build of
//! the new store would give (same ids, columns, arcs, access times and touches;
//! only the internal numbering of interned names may differ).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::{Direction, Profile};
use rustc_hash::FxHashMap;

use crate::tokens::TokenCounter;

/// Event types whose subjects become event-path seeds (besides counting as accesses).
pub const EVENT_PATH_TYPES: [&str; 2] = ["observation", "node.accessed"];

/// A table of interned strings (kinds, phases, labels, …).
#[derive(Debug, Default, Clone)]
struct Table {
    names: Vec<String>,
    map: FxHashMap<String, u32>,
}

impl Table {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(i) = self.map.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.map.insert(name.to_string(), i);
        i
    }

    fn heap_bytes(&self) -> usize {
        // Names are held twice (list and map).
        self.names.iter().map(|s| 2 * (s.capacity() + 24) + 8).sum()
    }
}

/// What the profile says about the graph (edge types, phases, tokenizer) and the
/// interned names: shared by the builder and the snapshot it gives, so that
/// [`Snapshot::apply`] derives rows exactly as the builder does.
#[derive(Debug, Clone)]
struct Dict {
    edge_types: FxHashMap<String, (f32, Direction)>,
    phases: Table,
    phase_weights: Vec<f64>,
    kinds: Table,
    sensitivities: Table,
    scopes: Table,
    labels: Table,
    encoding: String,
}

impl Dict {
    fn new(profile: &Profile) -> Dict {
        let mut phases = Table::default();
        let mut phase_weights = Vec::new();
        for p in &profile.phases {
            phases.intern(&p.name);
            phase_weights.push(p.activation_weight.max(0.0));
        }
        let mut kinds = Table::default();
        for k in profile.kinds.keys() {
            kinds.intern(k);
        }
        let mut sensitivities = Table::default();
        for s in &profile.sensitivity.levels {
            sensitivities.intern(s);
        }
        let edge_types = profile
            .edge_types
            .iter()
            .map(|(name, spec)| (name.clone(), (spec.weight as f32, spec.direction)))
            .collect();
        Dict {
            edge_types,
            phases,
            phase_weights,
            kinds,
            sensitivities,
            scopes: Table::default(),
            labels: Table::default(),
            encoding: profile.tokenizer.encoding.clone(),
        }
    }

    /// The row of a node. Its token count is `node.tokens`, or counted with the
    /// profile's tokenizer when the record has none and the node has text.
    fn row(&mut self, node: &Node, counter: &mut Option<TokenCounter>) -> Row {
        let phase = self.phases.intern(&node.phase);
        if phase as usize >= self.phase_weights.len() {
            // A phase the profile does not declare is never activated.
            self.phase_weights.push(0.0);
        }
        let mut labels: Vec<u32> = node.labels.iter().map(|l| self.labels.intern(l)).collect();
        labels.sort_unstable();
        labels.dedup();
        let mut tokens = node.tokens;
        if tokens == 0 && !(node.title.is_empty() && node.body.is_empty()) {
            if counter.is_none() {
                // A validated profile names a known encoding; otherwise estimate.
                *counter = Some(match TokenCounter::new(&self.encoding) {
                    Ok(c) => c,
                    Err(_) => TokenCounter::chars4(),
                });
            }
            tokens = counter.as_ref().map_or(0, |c| c.count(&node.text()));
        }
        Row {
            kind: self.kinds.intern(&node.kind),
            phase,
            sensitivity: self.sensitivities.intern(&node.sensitivity),
            scope: self.scopes.intern(&node.scope),
            labels,
            title: node.title.as_str().into(),
            valid_from: node.valid_from.map_or(i64::MIN, Time::millis),
            valid_to: node.valid_to.map_or(i64::MAX, Time::millis),
            tokens,
            created_at: node.created_at.millis(),
            signature: simhash(&node.title, &node.body),
        }
    }

    /// The spreading weight and direction of an edge, `None` when it spreads
    /// nothing (undeclared type, non-positive or non-finite weight, a loop).
    fn spread(&self, edge: &Edge) -> Option<(f32, Direction)> {
        let &(type_weight, direction) = self.edge_types.get(&edge.edge_type)?;
        let w = (edge.weight as f32) * type_weight;
        (w.is_finite() && w > 0.0 && edge.from != edge.to).then_some((w, direction))
    }

    fn heap_bytes(&self) -> usize {
        self.phases.heap_bytes()
            + self.kinds.heap_bytes()
            + self.sensitivities.heap_bytes()
            + self.scopes.heap_bytes()
            + self.labels.heap_bytes()
            + self.phase_weights.capacity() * 8
    }
}

struct Row {
    kind: u32,
    phase: u32,
    sensitivity: u32,
    scope: u32,
    labels: Vec<u32>,
    title: Box<str>,
    valid_from: i64,
    valid_to: i64,
    tokens: u32,
    created_at: i64,
    signature: u64,
}

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
            mut arcs,
            mut access,
            mut touches,
            map,
            ..
        } = self;
        drop(map);
        // Final order: defined nodes sorted by id.
        let mut order: Vec<u32> = (0..ids.len() as u32)
            .filter(|&i| rows[i as usize].is_some())
            .collect();
        order.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
        let n = order.len();
        let mut remap = vec![u32::MAX; ids.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }

        let mut s = Snapshot {
            generation,
            id_bytes: String::new(),
            id_offsets: Vec::with_capacity(n + 1),
            kind: Vec::with_capacity(n),
            phase: Vec::with_capacity(n),
            sensitivity: Vec::with_capacity(n),
            scope: Vec::with_capacity(n),
            label_offsets: Vec::with_capacity(n + 1),
            label_ids: Vec::new(),
            title_bytes: String::new(),
            title_offsets: Vec::with_capacity(n + 1),
            valid_from: Vec::with_capacity(n),
            valid_to: Vec::with_capacity(n),
            tokens: Vec::with_capacity(n),
            created_at: Vec::with_capacity(n),
            signature: Vec::with_capacity(n),
            arc_offsets: Vec::new(),
            arc_targets: Vec::new(),
            arc_weights: Vec::new(),
            arc_max: Vec::new(),
            access_offsets: Vec::new(),
            access_times: Vec::new(),
            created_extra: Vec::new(),
            touches: Vec::new(),
            orphan_access: FxHashMap::default(),
            orphan_touches: FxHashMap::default(),
            edge_count: 0,
            dict,
        };
        s.id_offsets.push(0);
        s.label_offsets.push(0);
        s.title_offsets.push(0);
        for &old in &order {
            let Some(row) = &rows[old as usize] else {
                continue;
            };
            s.id_bytes.push_str(&ids[old as usize]);
            s.id_offsets.push(s.id_bytes.len());
            s.kind.push(row.kind);
            s.phase.push(row.phase);
            s.sensitivity.push(row.sensitivity);
            s.scope.push(row.scope);
            s.label_ids.extend_from_slice(&row.labels);
            s.label_offsets.push(s.label_ids.len());
            s.title_bytes.push_str(&row.title);
            s.title_offsets.push(s.title_bytes.len());
            s.valid_from.push(row.valid_from);
            s.valid_to.push(row.valid_to);
            s.tokens.push(row.tokens);
            s.created_at.push(row.created_at);
            s.signature.push(row.signature);
        }
        drop(rows);
        s.id_bytes.shrink_to_fit();
        s.title_bytes.shrink_to_fit();
        s.label_ids.shrink_to_fit();

        // Spreading arcs as CSR, targets ascending within a node.
        arcs.retain_mut(|(a, b, _)| {
            *a = remap[*a as usize];
            *b = remap[*b as usize];
            *a != u32::MAX && *b != u32::MAX
        });
        arcs.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
        s.arc_offsets = csr_offsets(n, arcs.iter().map(|a| a.0));
        s.arc_targets = arcs.iter().map(|a| a.1).collect();
        s.arc_weights = arcs.iter().map(|a| a.2).collect();
        s.arc_max = vec![0.0; n];
        for &(a, _, w) in &arcs {
            let m = &mut s.arc_max[a as usize];
            *m = m.max(w);
        }
        s.edge_count = arcs.len() as u64;
        drop(arcs);

        // Access times: events' subjects plus each node's creation, deduplicated.
        // Accesses and touches of ids with no node are kept aside: they join the
        // node if it is added later ([`Snapshot::apply`]).
        access.retain_mut(|(i, t)| {
            let old = *i as usize;
            *i = remap[old];
            if *i == u32::MAX {
                s.orphan_access
                    .entry(ids[old].clone())
                    .or_default()
                    .push(*t);
                return false;
            }
            true
        });
        access.sort_unstable();
        access.dedup();
        s.created_extra = (0..n)
            .map(|i| access.binary_search(&(i as u32, s.created_at[i])).is_err())
            .collect();
        access.extend(s.created_at.iter().enumerate().map(|(i, &t)| (i as u32, t)));
        access.sort_unstable();
        access.dedup();
        s.access_offsets = csr_offsets(n, access.iter().map(|a| a.0));
        s.access_times = access.iter().map(|a| Time(a.1)).collect();
        drop(access);

        touches.retain_mut(|(t, i)| {
            let old = *i as usize;
            *i = remap[old];
            if *i == u32::MAX {
                s.orphan_touches
                    .entry(ids[old].clone())
                    .or_default()
                    .push(*t);
                return false;
            }
            true
        });
        touches.sort_unstable();
        touches.dedup();
        touches.shrink_to_fit();
        s.touches = touches;
        for v in s
            .orphan_access
            .values_mut()
            .chain(s.orphan_touches.values_mut())
        {
            v.sort_unstable();
            v.dedup();
        }
        s
    }
}

fn csr_offsets(n: usize, sorted_sources: impl Iterator<Item = u32>) -> Vec<usize> {
    let mut offsets = vec![0usize; n + 1];
    for src in sorted_sources {
        offsets[src as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    offsets
}

/// Replaces row `r` of a CSR (`offsets` has one more entry than rows) with `new`.
fn csr_replace<T: Clone>(offsets: &mut [usize], items: &mut Vec<T>, r: usize, new: &[T]) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    items.splice(a..b, new.iter().cloned());
    shift(&mut offsets[r + 1..], b - a, new.len());
}

/// Inserts row `r` with `new` into a CSR.
fn csr_insert<T: Clone>(offsets: &mut Vec<usize>, items: &mut Vec<T>, r: usize, new: &[T]) {
    let a = offsets[r];
    items.splice(a..a, new.iter().cloned());
    offsets.insert(r + 1, a);
    shift(&mut offsets[r + 1..], 0, new.len());
}

/// Removes row `r` of a CSR.
fn csr_remove<T>(offsets: &mut Vec<usize>, items: &mut Vec<T>, r: usize) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    items.drain(a..b);
    offsets.remove(r + 1);
    shift(&mut offsets[r + 1..], b - a, 0);
}

/// Replaces row `r` of a string CSR (concatenated strings and their end offsets).
fn str_replace(offsets: &mut [usize], bytes: &mut String, r: usize, new: &str) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    bytes.replace_range(a..b, new);
    shift(&mut offsets[r + 1..], b - a, new.len());
}

/// Inserts row `r` into a string CSR.
fn str_insert(offsets: &mut Vec<usize>, bytes: &mut String, r: usize, new: &str) {
    let a = offsets[r];
    bytes.insert_str(a, new);
    offsets.insert(r + 1, a);
    shift(&mut offsets[r + 1..], 0, new.len());
}

/// Removes row `r` of a string CSR.
fn str_remove(offsets: &mut Vec<usize>, bytes: &mut String, r: usize) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    bytes.replace_range(a..b, "");
    offsets.remove(r + 1);
    shift(&mut offsets[r + 1..], b - a, 0);
}

/// Offsets after a row that went from `old` to `new` items.
fn shift(offsets: &mut [usize], old: usize, new: usize) {
    if new > old {
        offsets.iter_mut().for_each(|o| *o += new - old);
    } else if old > new {
        offsets.iter_mut().for_each(|o| *o -= old - new);
    }
}

/// Inserts into a sorted vector unless present; whether it was inserted.
fn insert_sorted<T: Ord>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(_) => false,
        Err(p) => {
            v.insert(p, x);
            true
        }
    }
}

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

/// The activation snapshot of one store generation. Immutable and `Sync` while
/// shared: share it behind an `Arc` between requests, and bring it forward with
/// [`Snapshot::apply`] (e.g. through `Arc::make_mut`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    generation: u64,
    id_bytes: String,
    id_offsets: Vec<usize>,
    kind: Vec<u32>,
    phase: Vec<u32>,
    sensitivity: Vec<u32>,
    scope: Vec<u32>,
    label_offsets: Vec<usize>,
    label_ids: Vec<u32>,
    title_bytes: String,
    title_offsets: Vec<usize>,
    valid_from: Vec<i64>,
    valid_to: Vec<i64>,
    tokens: Vec<u32>,
    created_at: Vec<i64>,
    signature: Vec<u64>,
    arc_offsets: Vec<usize>,
    arc_targets: Vec<u32>,
    arc_weights: Vec<f32>,
    arc_max: Vec<f32>,
    access_offsets: Vec<usize>,
    access_times: Vec<Time>,
    /// The node's creation time is in its access times only as its creation (no
    /// event at that instant), so a new creation time replaces it.
    created_extra: Vec<bool>,
    touches: Vec<(i64, u32)>,
    /// Event times (accesses, touches) of ids that are no node now.
    orphan_access: FxHashMap<Box<str>, Vec<i64>>,
    orphan_touches: FxHashMap<Box<str>, Vec<i64>>,
    edge_count: u64,
    dict: Dict,
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

    /// Everything activation reads of the snapshot, by node id and name (not by
    /// internal numbers), one line per node, arc, access time and touch: two
    /// snapshots answer every activation alike when their dumps are equal. For
    /// tests and diagnostics; it holds titles, never bodies.
    pub fn canonical_dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "generation {} nodes {} arcs {}",
            self.generation,
            self.node_count(),
            self.edge_count
        );
        for i in 0..self.node_count() as u32 {
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
            let (targets, weights) = self.arcs(i);
            for (t, w) in targets.iter().zip(weights) {
                let _ = writeln!(out, "  arc -> {:?} {}", self.id(*t), w);
            }
            let _ = writeln!(out, "  arc max {}", self.arc_max(i));
            let times: Vec<i64> = self.access_times(i).iter().map(|t| t.0).collect();
            let _ = writeln!(out, "  access {times:?}");
        }
        for &(at, i) in &self.touches {
            let _ = writeln!(out, "touch {at} {:?}", self.id(i));
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
        self.kind.len()
    }

    /// Number of spreading arcs (an edge whose type spreads both ways counts twice).
    pub fn edge_count(&self) -> u64 {
        self.edge_count
    }

    /// The index of a node id (binary search over the sorted ids).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.node_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id(mid as u32).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// A node by index (`None` past the end).
    pub fn node(&self, index: u32) -> Option<NodeView<'_>> {
        ((index as usize) < self.node_count()).then_some(NodeView { snap: self, index })
    }

    /// Approximate heap bytes held by the snapshot.
    pub fn heap_bytes(&self) -> usize {
        fn v<T>(x: &Vec<T>) -> usize {
            x.capacity() * std::mem::size_of::<T>()
        }
        let orphans: usize = self
            .orphan_access
            .iter()
            .chain(self.orphan_touches.iter())
            .map(|(k, t)| k.len() + 40 + v(t))
            .sum();
        self.id_bytes.capacity()
            + v(&self.id_offsets)
            + v(&self.kind)
            + v(&self.phase)
            + v(&self.sensitivity)
            + v(&self.scope)
            + v(&self.label_offsets)
            + v(&self.label_ids)
            + self.title_bytes.capacity()
            + v(&self.title_offsets)
            + v(&self.valid_from)
            + v(&self.valid_to)
            + v(&self.tokens)
            + v(&self.created_at)
            + v(&self.signature)
            + v(&self.arc_offsets)
            + v(&self.arc_targets)
            + v(&self.arc_weights)
            + v(&self.arc_max)
            + v(&self.access_offsets)
            + v(&self.access_times)
            + v(&self.created_extra)
            + v(&self.touches)
            + orphans
            + self.dict.heap_bytes()
    }

    pub(crate) fn id(&self, i: u32) -> &str {
        let i = i as usize;
        &self.id_bytes[self.id_offsets[i]..self.id_offsets[i + 1]]
    }

    pub(crate) fn title(&self, i: u32) -> &str {
        let i = i as usize;
        &self.title_bytes[self.title_offsets[i]..self.title_offsets[i + 1]]
    }

    pub(crate) fn kind_name(&self, i: u32) -> &str {
        &self.dict.kinds.names[self.kind[i as usize] as usize]
    }

    pub(crate) fn phase_name(&self, i: u32) -> &str {
        &self.dict.phases.names[self.phase[i as usize] as usize]
    }

    pub(crate) fn phase_weight(&self, i: u32) -> f64 {
        self.dict.phase_weights[self.phase[i as usize] as usize]
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

    /// Spreading arcs out of node `i`: (targets, weights).
    pub(crate) fn arcs(&self, i: u32) -> (&[u32], &[f32]) {
        let (a, b) = (
            self.arc_offsets[i as usize],
            self.arc_offsets[i as usize + 1],
        );
        (&self.arc_targets[a..b], &self.arc_weights[a..b])
    }

    /// Largest arc weight out of node `i` (0 without arcs).
    pub(crate) fn arc_max(&self, i: u32) -> f32 {
        self.arc_max[i as usize]
    }

    /// Access and creation times of node `i`, ascending.
    pub(crate) fn access_times(&self, i: u32) -> &[Time] {
        let (a, b) = (
            self.access_offsets[i as usize],
            self.access_offsets[i as usize + 1],
        );
        &self.access_times[a..b]
    }

    /// Event-path touches `(at millis, node)` with `since < at <= until`, in time order.
    pub(crate) fn touches_between(&self, since: i64, until: i64) -> &[(i64, u32)] {
        let a = self.touches.partition_point(|t| t.0 <= since);
        let b = self.touches.partition_point(|t| t.0 <= until);
        if a < b { &self.touches[a..b] } else { &[] }
    }
}

/// A read-only view of one node of a [`Snapshot`], given to the policy filter.
#[derive(Clone, Copy)]
pub struct NodeView<'a> {
    snap: &'a Snapshot,
    index: u32,
}

impl std::fmt::Debug for NodeView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeView")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl<'a> NodeView<'a> {
    /// Index in the snapshot.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// Node id.
    pub fn id(&self) -> &'a str {
        self.snap.id(self.index)
    }
    /// Kind.
    pub fn kind(&self) -> &'a str {
        self.snap.kind_name(self.index)
    }
    /// Phase.
    pub fn phase(&self) -> &'a str {
        self.snap.phase_name(self.index)
    }
    /// Sensitivity level.
    pub fn sensitivity(&self) -> &'a str {
        &self.snap.dict.sensitivities.names[self.snap.sensitivity[self.index as usize] as usize]
    }
    /// Scope.
    pub fn scope(&self) -> &'a str {
        &self.snap.dict.scopes.names[self.snap.scope[self.index as usize] as usize]
    }
    /// Labels (sorted by first appearance in the snapshot, deduplicated).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let snap = self.snap;
        let i = self.index as usize;
        snap.label_ids[snap.label_offsets[i]..snap.label_offsets[i + 1]]
            .iter()
            .map(move |&l| snap.dict.labels.names[l as usize].as_str())
    }
    /// Whether the node carries a label.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels().any(|l| l == label)
    }
    /// Title.
    pub fn title(&self) -> &'a str {
        self.snap.title(self.index)
    }
    /// Token count.
    pub fn tokens(&self) -> u32 {
        self.snap.tokens_of(self.index)
    }
    /// When it was created.
    pub fn created_at(&self) -> Time {
        Time(self.snap.created_at[self.index as usize])
    }
    /// Start of validity, if any.
    pub fn valid_from(&self) -> Option<Time> {
        let t = self.snap.valid_from[self.index as usize];
        (t != i64::MIN).then_some(Time(t))
    }
    /// End of validity (exclusive), if any.
    pub fn valid_to(&self) -> Option<Time> {
        let t = self.snap.valid_to[self.index as usize];
        (t != i64::MAX).then_some(Time(t))
    }
}

/// 64-bit SimHash of the distinct lowercased words of title and body (0 when there
/// are none). Deterministic across platforms and Rust versions (FNV-1a + splitmix).
pub fn simhash(title: &str, body: &str) -> u64 {
    let mut hashes: Vec<u64> = Vec::new();
    for text in [title, body] {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in word.chars().flat_map(char::to_lowercase) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            hashes.push(splitmix(h));
        }
    }
    if hashes.is_empty() {
        return 0;
    }
    hashes.sort_unstable();
    hashes.dedup();
    let mut counts = [0i32; 64];
    for h in &hashes {
        for (bit, c) in counts.iter_mut().enumerate() {
            *c += if (h >> bit) & 1 == 1 { 1 } else { -1 };
        }
    }
    let mut sig = 0u64;
    for (bit, c) in counts.iter().enumerate() {
        if *c > 0 {
            sig |= 1 << bit;
        }
    }
    sig.max(1)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Estimated similarity of two SimHash signatures: `cos(π · hamming / 64)`, an
/// estimate of the cosine similarity of the two word sets. 0 when either is 0.
pub fn signature_similarity(a: u64, b: u64) -> f64 {
    if a == 0 || b == 0 {
        return 0.0;
    }
    let h = f64::from((a ^ b).count_ones());
    (std::f64::consts::PI * h / 64.0).cos()
}
