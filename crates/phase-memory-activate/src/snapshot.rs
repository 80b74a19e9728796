//! The compact, read-only graph snapshot activation runs on, built once per store
//! generation: interned ids (sorted, so node index order is id order), dense
//! per-node columns, a CSR of spreading arcs with their weights, per-node access
//! times (CSR) and the time-ordered event touches that feed event-path seeds.
//! Bodies are not kept; each node keeps a 64-bit SimHash of its words instead.

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
    edge_types: FxHashMap<String, (f32, Direction)>,
    phases: Table,
    phase_weights: Vec<f64>,
    kinds: Table,
    sensitivities: Table,
    scopes: Table,
    labels: Table,
    ids: Vec<Box<str>>,
    map: FxHashMap<Box<str>, u32>,
    rows: Vec<Option<Row>>,
    arcs: Vec<(u32, u32, f32)>,
    access: Vec<(u32, i64)>,
    touches: Vec<(i64, u32)>,
    encoding: String,
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
        SnapshotBuilder {
            generation: 0,
            edge_types,
            phases,
            phase_weights,
            kinds,
            sensitivities,
            scopes: Table::default(),
            labels: Table::default(),
            ids: Vec::new(),
            map: FxHashMap::default(),
            rows: Vec::new(),
            arcs: Vec::new(),
            access: Vec::new(),
            touches: Vec::new(),
            encoding: profile.tokenizer.encoding.clone(),
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
            tokens = self.count_tokens(&node.text());
        }
        let row = Row {
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
        };
        self.rows[i] = Some(row);
    }

    fn count_tokens(&mut self, text: &str) -> u32 {
        if self.counter.is_none() {
            // A validated profile names a known encoding; otherwise estimate.
            self.counter = Some(match TokenCounter::new(&self.encoding) {
                Ok(c) => c,
                Err(_) => TokenCounter::chars4(),
            });
        }
        self.counter.as_ref().map_or(0, |c| c.count(text))
    }

    /// Adds an edge: spreading arcs per its type's direction (forward: from → to,
    /// backward: to → from, both: both), weighted `edge.weight × type weight`.
    /// Edges of undeclared types, with a non-positive or non-finite weight, or from
    /// a node to itself spread nothing and are ignored.
    pub fn add_edge(&mut self, edge: &Edge) {
        let Some(&(type_weight, direction)) = self.edge_types.get(&edge.edge_type) else {
            return;
        };
        let w = (edge.weight as f32) * type_weight;
        if !(w.is_finite() && w > 0.0) || edge.from == edge.to {
            return;
        }
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
            phases,
            phase_weights,
            kinds,
            sensitivities,
            scopes,
            labels,
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
            touches: Vec::new(),
            edge_count: 0,
            kinds: kinds.names,
            phases: phases.names,
            phase_weights,
            sensitivities: sensitivities.names,
            scopes: scopes.names,
            labels: labels.names,
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
        drop(ids);
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
        access.retain_mut(|(i, _)| {
            *i = remap[*i as usize];
            *i != u32::MAX
        });
        access.extend(s.created_at.iter().enumerate().map(|(i, &t)| (i as u32, t)));
        access.sort_unstable();
        access.dedup();
        s.access_offsets = csr_offsets(n, access.iter().map(|a| a.0));
        s.access_times = access.iter().map(|a| Time(a.1)).collect();
        drop(access);

        touches.retain_mut(|(_, i)| {
            *i = remap[*i as usize];
            *i != u32::MAX
        });
        touches.sort_unstable();
        touches.dedup();
        touches.shrink_to_fit();
        s.touches = touches;
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

/// The activation snapshot of one store generation. Immutable and `Sync`: share it
/// behind an `Arc` between requests.
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
    touches: Vec<(i64, u32)>,
    edge_count: u64,
    kinds: Vec<String>,
    phases: Vec<String>,
    phase_weights: Vec<f64>,
    sensitivities: Vec<String>,
    scopes: Vec<String>,
    labels: Vec<String>,
}

impl Snapshot {
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
        fn names(x: &[String]) -> usize {
            x.iter().map(|s| s.capacity() + 24).sum()
        }
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
            + v(&self.touches)
            + v(&self.phase_weights)
            + names(&self.kinds)
            + names(&self.phases)
            + names(&self.sensitivities)
            + names(&self.scopes)
            + names(&self.labels)
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
        &self.kinds[self.kind[i as usize] as usize]
    }

    pub(crate) fn phase_name(&self, i: u32) -> &str {
        &self.phases[self.phase[i as usize] as usize]
    }

    pub(crate) fn phase_weight(&self, i: u32) -> f64 {
        self.phase_weights[self.phase[i as usize] as usize]
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
        &self.snap.sensitivities[self.snap.sensitivity[self.index as usize] as usize]
    }
    /// Scope.
    pub fn scope(&self) -> &'a str {
        &self.snap.scopes[self.snap.scope[self.index as usize] as usize]
    }
    /// Labels (sorted by first appearance in the snapshot, deduplicated).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let snap = self.snap;
        let i = self.index as usize;
        snap.label_ids[snap.label_offsets[i]..snap.label_offsets[i + 1]]
            .iter()
            .map(move |&l| snap.labels[l as usize].as_str())
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
