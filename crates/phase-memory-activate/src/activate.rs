//! Activation (SPEC section 4): seeds → ACT-R base level → spreading over the
//! snapshot's typed arcs with the policy filter inside the traversal → score →
//! greedy budget packing with a redundancy penalty. docs/activation.md gives the
//! formula, the parameters and the reasons for each choice.
//!
//! Work is proportional to the touched neighbourhood: seeds come from the cue, a
//! node is expanded only if some arc out of it can carry activation above the
//! threshold, and per-request state lives in sparse maps keyed by node index.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use phase_memory_model::{actr, round_score};
use phase_memory_profile::ActivationSpec;
use rustc_hash::FxHashMap;

use crate::snapshot::{NodeView, Snapshot, signature_similarity};

mod types;
pub use types::*;

const NONE: u32 = u32::MAX;

/// The per-node score factors besides the phase weight: hub damping and time in
/// the cue.
struct Factors {
    hub_degree: f64,
    ranges: Vec<(i64, i64)>,
    time_boost: f64,
}

impl Factors {
    fn new(params: &ActivationSpec, input: &ActivationInput<'_>) -> Self {
        let ranges = if params.time_weight > 0.0 && params.time_weight.is_finite() {
            input
                .cue
                .text
                .as_deref()
                .map(|t| crate::when::time_ranges(t, input.as_of.millis()))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Factors {
            hub_degree: f64::from(params.hub_degree),
            ranges,
            time_boost: 1.0 + params.time_weight.max(0.0),
        }
    }

    fn hub(&self, snap: &Snapshot, i: u32) -> f64 {
        let deg = snap.arc_count(i) as f64;
        if self.hub_degree > 0.0 && deg > self.hub_degree {
            self.hub_degree / deg
        } else {
            1.0
        }
    }

    fn time(&self, snap: &Snapshot, i: u32) -> f64 {
        // Without time in the cue the node's time is not read (a cache miss per
        // candidate).
        if self.ranges.is_empty() {
            return 1.0;
        }
        let t = snap.created_ms(i);
        if self.ranges.iter().any(|&(a, b)| a <= t && t < b) {
            self.time_boost
        } else {
            1.0
        }
    }

    /// Phase weight × hub factor × time factor.
    fn weight(&self, snap: &Snapshot, i: u32) -> f64 {
        snap.phase_weight(i) * self.hub(snap, i) * self.time(snap, i)
    }
}

thread_local! {
    /// The touched-node map of this thread's last activation, emptied and used
    /// again: a request touches a thousand nodes or more, and growing a fresh
    /// map to that size (rehashing on the way) costs more than clearing one.
    static TOUCHED: std::cell::RefCell<FxHashMap<u32, Touch>> =
        std::cell::RefCell::new(FxHashMap::default());
}

/// Largest touched-node map kept for the next activation of a thread (entries).
const KEPT_TOUCHED: usize = 1 << 14;

/// An empty touched-node map with room for `room` nodes (this thread's last
/// one when there is one).
fn touched_map(room: usize) -> FxHashMap<u32, Touch> {
    let mut m = TOUCHED
        .try_with(|c| {
            c.try_borrow_mut()
                .map(|mut m| std::mem::take(&mut *m))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    m.clear();
    m.reserve(room);
    m
}

/// Gives a touched-node map back for this thread's next activation.
fn keep_touched(m: FxHashMap<u32, Touch>) {
    if m.capacity() <= KEPT_TOUCHED {
        let _ = TOUCHED.try_with(|c| {
            if let Ok(mut slot) = c.try_borrow_mut() {
                *slot = m;
            }
        });
    }
}

/// Per-request state of a touched (admitted) node.
#[derive(Clone, Copy)]
struct Touch {
    seed: f64,
    spread: f64,
    /// The seed the best spreading path started from.
    origin: u32,
    /// The node before this one on the best spreading path.
    pred: u32,
    /// The hop that set `spread`.
    hop: u32,
}

impl Default for Touch {
    fn default() -> Self {
        Touch {
            seed: 0.0,
            spread: 0.0,
            origin: NONE,
            pred: NONE,
            hop: 0,
        }
    }
}

struct Run<'s, 'f> {
    snap: &'s Snapshot,
    as_of: i64,
    include_invalid: bool,
    visible: &'f dyn Fn(NodeView<'s>) -> Visibility,
    admitted: Answers,
    withheld: BTreeMap<String, u64>,
    withheld_count: u64,
}

/// The answers of [`Run::admit`] so far, two bits per node of the snapshot
/// (asked, admitted): 25 KiB per request at 100k nodes, and cheaper than a hash
/// map over the thousands of nodes one request asks about.
struct Answers {
    asked: Vec<u64>,
    admitted: Vec<u64>,
}

impl Answers {
    fn new(nodes: usize) -> Self {
        let words = nodes.div_ceil(64);
        Answers {
            asked: vec![0; words],
            admitted: vec![0; words],
        }
    }

    /// The answer for node `i`, if it was asked about.
    fn get(&self, i: u32) -> Option<bool> {
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let asked = self.asked.get(w).is_some_and(|x| x & bit != 0);
        asked.then(|| self.admitted.get(w).is_some_and(|x| x & bit != 0))
    }

    fn set(&mut self, i: u32, admitted: bool) {
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if let (Some(a), Some(y)) = (self.asked.get_mut(w), self.admitted.get_mut(w)) {
            *a |= bit;
            if admitted {
                *y |= bit;
            }
        }
    }
}

impl Run<'_, '_> {
    /// Whether a node may be seeded, receive and pass on activation: its phase
    /// activates, it is valid at `as_of` (unless asked), and policy shows it.
    /// Policy is asked once per node per request; a withheld node is counted once.
    fn admit(&mut self, i: u32) -> bool {
        if let Some(ok) = self.admitted.get(i) {
            return ok;
        }
        let ok = match self.snap.node(i) {
            Some(view) if self.snap.admissible(i, self.as_of, self.include_invalid) => {
                match (self.visible)(view) {
                    Visibility::Visible => true,
                    Visibility::Withheld(rule) => {
                        *self.withheld.entry(rule).or_insert(0) += 1;
                        self.withheld_count += 1;
                        false
                    }
                }
            }
            _ => false,
        };
        self.admitted.set(i, ok);
        ok
    }
}

/// A candidate in the packing queue: highest score first, then lowest id (not
/// index: indices are not in id order once a snapshot is brought forward).
struct Queued<'s> {
    score: f64,
    index: u32,
    /// The snapshot, for the ids of an exact tie (rare: not looked up ahead).
    snap: &'s Snapshot,
    penalised: bool,
    /// `score` is exact, not an upper bound.
    exact: bool,
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued<'_> {}
impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // At equal scores a bound goes first, so it is resolved before an exact
        // score it might tie with is taken; then the lower id. Equal bounds are
        // all resolved before anything else is taken, whatever their order
        // (resolving one changes neither the budget used nor the items packed),
        // so they skip the id comparison.
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.exact.cmp(&self.exact))
            .then_with(|| {
                if self.exact {
                    other.snap.id(other.index).cmp(self.snap.id(self.index))
                } else {
                    other.index.cmp(&self.index)
                }
            })
    }
}

fn finite_positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Runs activation on a snapshot (SPEC section 4, docs/activation.md).
///
/// `visible` is the policy filter: it is asked about every node before it becomes a
/// seed or passes activation on; a withheld node neither appears nor spreads and is
/// counted under its rule id. Pure and deterministic: the same snapshot, parameters,
/// input and filter give the same working set.
pub fn activate<'s>(
    snapshot: &'s Snapshot,
    params: &ActivationSpec,
    input: &ActivationInput<'_>,
    visible: &dyn Fn(NodeView<'s>) -> Visibility,
) -> WorkingSet {
    activate_indexed(snapshot, params, input, &[], visible)
}

/// [`activate`] with the snapshot index of each lexical hit looked up already:
/// `lexical_indices[k]` is `snapshot.index_of(&input.lexical[k].0)`, as a caller
/// that decided policy on the seeds has it, so they are not looked up again.
/// Indices of another length than the hits are ignored (looked up here).
pub fn activate_indexed<'s>(
    snapshot: &'s Snapshot,
    params: &ActivationSpec,
    input: &ActivationInput<'_>,
    lexical_indices: &[Option<u32>],
    visible: &dyn Fn(NodeView<'s>) -> Visibility,
) -> WorkingSet {
    let lexical_indices = (lexical_indices.len() == input.lexical.len()).then_some(lexical_indices);
    let mut run = Run {
        snap: snapshot,
        as_of: input.as_of.millis(),
        include_invalid: input.include_invalid,
        visible,
        admitted: Answers::new(snapshot.index_bound()),
        withheld: BTreeMap::new(),
        withheld_count: 0,
    };

    // 1. Seeds: every source, then the maximum per node.
    let (mut sources, mut touched, frontier) = seed(&mut run, params, input, lexical_indices);
    if !input.explain {
        sources = Vec::new();
    }

    // 2. Spreading.
    spread(&mut run, params, frontier, &mut touched);

    // 3. Score every candidate.
    let factors = Factors::new(params, input);
    let (heap, considered) = queue_candidates(snapshot, params, &factors, &touched);

    // 4. Greedy packing under the budget with the redundancy penalty.
    let penalty = redundancy_penalty(params);
    let mut packing = pack(snapshot, params, input, &factors, &touched, heap, penalty);

    // 5. Items in descending (wire) score, ties by id.
    packing.packed.sort_by(|a, b| {
        round_score(b.1)
            .total_cmp(&round_score(a.1))
            .then_with(|| snapshot.id(a.0).cmp(snapshot.id(b.0)))
    });
    let explained = Explained {
        snapshot,
        params,
        factors: &factors,
        touched: &touched,
        scored: &packing.scored,
        sources: &sources,
        penalty,
    };
    let items = packing
        .packed
        .iter()
        .map(|&(i, score, penalised)| {
            let explain = input.explain.then(|| explained.explain(i, penalised));
            ActivatedItem {
                node: snapshot.id(i).to_string(),
                kind: snapshot.kind_name(i).to_string(),
                phase: snapshot.phase_name(i).to_string(),
                title: snapshot.title(i).to_string(),
                score: round_score(score),
                tokens: snapshot.tokens_of(i),
                explain,
            }
        })
        .collect();
    keep_touched(touched);

    WorkingSet {
        items,
        budget_limit: input.budget_tokens,
        budget_used: packing.used,
        withheld: run.withheld,
        withheld_count: run.withheld_count,
        considered,
        not_fitted: packing.not_fitted,
    }
}

/// A spreading frontier entry: `(node, activation it passes on, origin seed)`.
type Frontier = Vec<(u32, f64, u32)>;

/// Step 1: collects the seed sources, keeps the strongest of each kind per node,
/// fuses them into one seed per node and admits the seeded nodes. Returns the
/// sorted, deduplicated sources (for explain), the touched nodes and the first
/// spreading frontier.
fn seed(
    run: &mut Run<'_, '_>,
    params: &ActivationSpec,
    input: &ActivationInput<'_>,
    lexical_indices: Option<&[Option<u32>]>,
) -> (Vec<(u32, SeedSource)>, FxHashMap<u32, Touch>, Frontier) {
    let mut sources = collect_seed_sources(run.snap, params, input, lexical_indices);
    sources.sort_by(|a, b| {
        (a.0, a.1.kind)
            .cmp(&(b.0, b.1.kind))
            .then(b.1.value.total_cmp(&a.1.value))
    });
    // Keep the strongest source of each kind per node.
    sources.dedup_by(|later, first| later.0 == first.0 && later.1.kind == first.1.kind);
    // Spreading usually touches a thousand nodes or more: room for them from the
    // start instead of growing the map a dozen times.
    let mut touched = touched_map(1024.min(run.snap.index_bound()));
    let mut frontier: Frontier = Vec::new();
    let mut k = 0;
    while k < sources.len() {
        let node = sources[k].0;
        let start = k;
        while k < sources.len() && sources[k].0 == node {
            k += 1;
        }
        let seed = fused(&sources[start..k]);
        if seed > 0.0 && run.admit(node) {
            touched.insert(
                node,
                Touch {
                    seed,
                    ..Touch::default()
                },
            );
            frontier.push((node, seed, node));
        }
    }
    (sources, touched, frontier)
}

/// Fusion: the lexical and semantic values of a node add up; any other source
/// (explicit, hint, event) competes with that sum by maximum.
fn fused(group: &[(u32, SeedSource)]) -> f64 {
    let sum: f64 = group
        .iter()
        .filter(|s| matches!(s.1.kind, SeedKind::Lexical | SeedKind::Semantic))
        .map(|s| s.1.value)
        .sum();
    group
        .iter()
        .filter(|s| !matches!(s.1.kind, SeedKind::Lexical | SeedKind::Semantic))
        .map(|s| s.1.value)
        .fold(sum, f64::max)
}

/// Step 2, spreading: best path (max, not sum) of at most max_hops arcs; each hop
/// multiplies by the arc weight and hop_decay and divides by the source's
/// out-degree; nothing below spread_threshold is passed on or enqueued. Among
/// equal best values the earliest hop wins, then within a hop the source with
/// the lowest id, whatever order the frontier is walked in.
fn spread(
    run: &mut Run<'_, '_>,
    params: &ActivationSpec,
    mut frontier: Frontier,
    touched: &mut FxHashMap<u32, Touch>,
) {
    let snapshot = run.snap;
    let threshold = if params.spread_threshold.is_finite() {
        params.spread_threshold.max(f64::MIN_POSITIVE)
    } else {
        f64::MAX
    };
    let hop_decay = if params.hop_decay.is_finite() {
        params.hop_decay.max(0.0)
    } else {
        0.0
    };
    for hop in 1..=params.max_hops {
        if frontier.is_empty() || hop_decay == 0.0 {
            break;
        }
        let mut updated: Vec<u32> = Vec::new();
        for &(u, act, origin) in &frontier {
            let arcs = snapshot.arcs(u);
            if arcs.is_empty() {
                continue;
            }
            let per_arc = act * hop_decay / arcs.len() as f64;
            if per_arc * f64::from(snapshot.arc_max(u)) < threshold {
                continue;
            }
            for &(v, w) in arcs {
                let val = per_arc * f64::from(w);
                if val < threshold || v == origin || !run.admit(v) {
                    continue;
                }
                let t = touched.entry(v).or_default();
                if val > t.spread {
                    t.spread = val;
                    t.origin = origin;
                    t.pred = u;
                    t.hop = hop;
                    if val > t.seed {
                        updated.push(v);
                    }
                } else if val == t.spread && t.hop == hop && snapshot.id(u) < snapshot.id(t.pred) {
                    // A tie within this hop: the lower id's path (already queued).
                    t.origin = origin;
                    t.pred = u;
                }
            }
        }
        updated.sort_unstable();
        updated.dedup();
        frontier = updated
            .into_iter()
            .filter_map(|v| touched.get(&v).map(|t| (v, t.spread, t.origin)))
            .collect();
    }
}

/// Step 3: queues every candidate (a node with a seed or spread) by an upper bound
/// of its score. Returns the queue and the number of candidates.
///
/// The base-level term is bounded by base_level_weight, so candidates are queued
/// by an upper bound and scored exactly only when they reach the top (a lazy
/// heap): an exact score at the top is at least every other candidate's bound.
fn queue_candidates<'s>(
    snapshot: &'s Snapshot,
    params: &ActivationSpec,
    factors: &Factors,
    touched: &FxHashMap<u32, Touch>,
) -> (BinaryHeap<Queued<'s>>, u64) {
    let bound_extra = params.base_level_weight.max(0.0);
    // The queue's order is total (ties by index), so the order candidates are
    // queued in does not matter.
    let queued: Vec<Queued<'s>> = touched
        .iter()
        .filter(|(_, t)| t.seed > 0.0 || t.spread > 0.0)
        .map(|(&i, t)| Queued {
            score: (t.seed + params.spread_weight * t.spread + bound_extra)
                * factors.weight(snapshot, i),
            index: i,
            snap: snapshot,
            penalised: false,
            exact: false,
        })
        .collect();
    let considered = queued.len() as u64;
    (BinaryHeap::from(queued), considered)
}

/// The redundancy penalty factor: non-negative, 1 (none) when not finite.
fn redundancy_penalty(params: &ActivationSpec) -> f64 {
    if params.redundancy_penalty.is_finite() {
        params.redundancy_penalty.max(0.0)
    } else {
        1.0
    }
}

/// The outcome of packing.
struct Packing {
    /// `(node, score, penalised)` in packing order.
    packed: Vec<(u32, f64, bool)>,
    /// Tokens of the packed items.
    used: u64,
    /// Candidates that did not fit the remaining budget.
    not_fitted: u64,
    /// Base level of every candidate scored exactly.
    scored: FxHashMap<u32, Option<f64>>,
}

/// Step 4: greedy packing under the budget with the redundancy penalty.
fn pack(
    snapshot: &Snapshot,
    params: &ActivationSpec,
    input: &ActivationInput<'_>,
    factors: &Factors,
    touched: &FxHashMap<u32, Touch>,
    mut heap: BinaryHeap<Queued<'_>>,
    penalty: f64,
) -> Packing {
    let mut scored: FxHashMap<u32, Option<f64>> = FxHashMap::default();
    let mut packed: Vec<(u32, f64, bool)> = Vec::new();
    let mut used: u64 = 0;
    let mut not_fitted: u64 = 0;
    while let Some(q) = heap.pop() {
        if packed.len() >= input.limit {
            break;
        }
        // The remaining budget only shrinks: what does not fit now never will, so it
        // is counted without computing its exact score.
        let tokens = u64::from(snapshot.tokens_of(q.index));
        if used + tokens > input.budget_tokens {
            not_fitted += 1;
            continue;
        }
        if !q.exact {
            let t = touched.get(&q.index).copied().unwrap_or_default();
            let b = actr::base_level(snapshot.access_times(q.index), input.as_of, params.decay);
            scored.insert(q.index, b);
            let exact = score(
                params,
                t.seed,
                t.spread,
                b,
                factors.weight(snapshot, q.index),
            );
            heap.push(Queued {
                score: if q.penalised { exact * penalty } else { exact },
                exact: true,
                ..q
            });
            continue;
        }
        let sig = snapshot.signature(q.index);
        if !q.penalised
            && penalty < 1.0
            && packed.iter().any(|&(p, _, _)| {
                signature_similarity(sig, snapshot.signature(p)) >= params.redundancy_threshold
            })
        {
            heap.push(Queued {
                score: q.score * penalty,
                penalised: true,
                exact: true,
                ..q
            });
            continue;
        }
        used += tokens;
        packed.push((q.index, q.score, q.penalised));
    }
    Packing {
        packed,
        used,
        not_fitted,
        scored,
    }
}

/// Step 5: what the score breakdown of a packed item is built from.
struct Explained<'a> {
    snapshot: &'a Snapshot,
    params: &'a ActivationSpec,
    factors: &'a Factors,
    touched: &'a FxHashMap<u32, Touch>,
    scored: &'a FxHashMap<u32, Option<f64>>,
    /// Seed sources sorted by node, then kind.
    sources: &'a [(u32, SeedSource)],
    penalty: f64,
}

impl Explained<'_> {
    /// The score breakdown of packed item `i`.
    fn explain(&self, i: u32, penalised: bool) -> Explain {
        let snapshot = self.snapshot;
        let t = self.touched.get(&i).copied().unwrap_or_default();
        let base = self.scored.get(&i).copied().flatten();
        let lo = self.sources.partition_point(|s| s.0 < i);
        let own = self.sources[lo..].iter().take_while(|s| s.0 == i);
        let semantic = own
            .clone()
            .filter(|s| s.1.kind == SeedKind::Semantic)
            .map(|s| s.1.value)
            .fold(0.0, f64::max);
        let seed_sources = own
            .map(|s| SeedSource {
                kind: s.1.kind,
                raw: round_score(s.1.raw),
                value: round_score(s.1.value),
            })
            .collect();
        Explain {
            seed: round_score(t.seed),
            semantic: round_score(semantic),
            seed_sources,
            spread: round_score(t.spread),
            base_level: base.map(round_score),
            phase_weight: round_score(snapshot.phase_weight(i)),
            redundancy_penalty: if penalised {
                round_score(self.penalty)
            } else {
                1.0
            },
            hub_factor: round_score(self.factors.hub(snapshot, i)),
            time_factor: round_score(self.factors.time(snapshot, i)),
            path: path_to(snapshot, self.touched, i, self.params.max_hops),
        }
    }
}

/// `(seed + spread_weight·spread + base_level_weight·σ(B)) × phase_weight`, where
/// `σ(B) = 1/(1+e^(−B)) = S/(1+S)` with `S = Σ (t_now − t_j)^(−d)`: bounded in (0, 1),
/// 0 without history.
pub fn score(
    params: &ActivationSpec,
    seed: f64,
    spread: f64,
    base_level: Option<f64>,
    phase_weight: f64,
) -> f64 {
    let squashed = base_level.map_or(0.0, |b| 1.0 / (1.0 + (-b).exp()));
    let s =
        (seed + params.spread_weight * spread + params.base_level_weight * squashed) * phase_weight;
    if s.is_finite() { s.max(0.0) } else { 0.0 }
}

/// Every seed source `(node, source)` of the cue, unfiltered by policy.
fn collect_seed_sources(
    snap: &Snapshot,
    params: &ActivationSpec,
    input: &ActivationInput<'_>,
    lexical_indices: Option<&[Option<u32>]>,
) -> Vec<(u32, SeedSource)> {
    let mut out = Vec::new();
    let mut push = |node: Option<u32>, kind, raw: f64, value: f64| {
        if let Some(i) = node
            && finite_positive(value)
        {
            out.push((i, SeedSource { kind, raw, value }));
        }
    };
    let top = input
        .lexical
        .iter()
        .map(|h| f64::from(h.1))
        .filter(|s| finite_positive(*s))
        .fold(0.0f64, f64::max);
    if top > 0.0 {
        for (k, (id, raw)) in input.lexical.iter().enumerate() {
            let raw = f64::from(*raw);
            if finite_positive(raw) {
                push(
                    match lexical_indices {
                        Some(known) => known.get(k).copied().flatten(),
                        None => snap.index_of(id),
                    },
                    SeedKind::Lexical,
                    raw,
                    raw / top * params.lexical_weight,
                );
            }
        }
    }
    for (i, value) in crate::semantic::seed_values(params, input.semantic) {
        push(
            snap.index_of(&input.semantic[i].0),
            SeedKind::Semantic,
            f64::from(input.semantic[i].1),
            value,
        );
    }
    for id in &input.cue.nodes {
        push(snap.index_of(id), SeedKind::Explicit, 1.0, 1.0);
    }
    for (id, s) in &input.cue.hints {
        if finite_positive(*s) {
            push(
                snap.index_of(id),
                SeedKind::Hint,
                *s,
                s * params.hint_weight,
            );
        }
    }
    if let Some(since) = input.cue.events_since {
        let half_life_ms = params.event_half_life_hours * 3_600_000.0;
        let as_of = input.as_of.millis();
        for (at, i) in snap.touches_between(since.millis(), as_of) {
            let age = (as_of - at) as f64;
            let recency = if finite_positive(half_life_ms) {
                0.5f64.powf(age / half_life_ms)
            } else {
                1.0
            };
            push(
                Some(i),
                SeedKind::Event,
                recency,
                recency * params.event_weight,
            );
        }
    }
    out
}

/// The best spreading path to `i`, seed first. Just `[i]` when `i` received no spread.
fn path_to(snap: &Snapshot, touched: &FxHashMap<u32, Touch>, i: u32, max_hops: u32) -> Vec<String> {
    let mut path = vec![i];
    let mut cur = i;
    for _ in 0..max_hops {
        let Some(t) = touched.get(&cur) else { break };
        if t.pred == NONE || t.spread <= 0.0 || cur == t.origin {
            break;
        }
        // Stop at the node's own seed if the path loops back.
        if path.contains(&t.pred) {
            break;
        }
        cur = t.pred;
        path.push(cur);
    }
    path.reverse();
    path.into_iter().map(|n| snap.id(n).to_string()).collect()
}
