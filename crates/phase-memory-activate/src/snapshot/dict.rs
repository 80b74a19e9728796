//! Interned names and the per-node row derived from a node record: what the
//! builder and [`Snapshot::apply`](super::Snapshot::apply) share, so both derive
//! a node's columns alike.

use phase_memory_model::{Edge, Node, Time};
use phase_memory_profile::{Direction, Profile};
use rustc_hash::FxHashMap;

use super::simhash;
use crate::tokens::TokenCounter;

/// A table of interned strings (kinds, phases, labels, …).
#[derive(Debug, Default, Clone)]
pub(super) struct Table {
    pub(super) names: Vec<String>,
    pub(super) map: FxHashMap<String, u32>,
}

impl Table {
    pub(super) fn intern(&mut self, name: &str) -> u32 {
        if let Some(i) = self.map.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.map.insert(name.to_string(), i);
        i
    }

    /// The number of an interned name (`u32::MAX`, out of every table, for
    /// a name never interned: callers intern first).
    pub(super) fn number(&self, name: &str) -> u32 {
        self.map.get(name).copied().unwrap_or(u32::MAX)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        // Names are held twice (list and map).
        self.names.iter().map(|s| 2 * (s.capacity() + 24) + 8).sum()
    }
}

/// What the profile says about the graph (edge types, phases, tokenizer) and the
/// interned names: shared by the builder and the snapshot it gives, so that
/// [`Snapshot::apply`] derives rows exactly as the builder does.
#[derive(Debug, Clone)]
pub(super) struct Dict {
    pub(super) edge_types: FxHashMap<String, (f32, Direction)>,
    pub(super) phases: Table,
    pub(super) phase_weights: Vec<f64>,
    pub(super) kinds: Table,
    pub(super) sensitivities: Table,
    pub(super) scopes: Table,
    pub(super) labels: Table,
    pub(super) encoding: String,
}

impl Dict {
    pub(super) fn new(profile: &Profile) -> Dict {
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

    /// Whether every name of `node` is interned (its row can be derived
    /// without changing the tables).
    pub(super) fn knows(&self, node: &Node) -> bool {
        self.phases.map.contains_key(&node.phase)
            && self.kinds.map.contains_key(&node.kind)
            && self.sensitivities.map.contains_key(&node.sensitivity)
            && self.scopes.map.contains_key(&node.scope)
            && node.labels.iter().all(|l| self.labels.map.contains_key(l))
    }

    /// Interns every name of `node`, in the order the builder always has
    /// (the numbers, hence the persisted tables, depend on it).
    pub(super) fn intern(&mut self, node: &Node) {
        let phase = self.phases.intern(&node.phase);
        if phase as usize >= self.phase_weights.len() {
            // A phase the profile does not declare is never activated.
            self.phase_weights.push(0.0);
        }
        for l in &node.labels {
            self.labels.intern(l);
        }
        self.kinds.intern(&node.kind);
        self.sensitivities.intern(&node.sensitivity);
        self.scopes.intern(&node.scope);
    }

    /// The row of a node whose names are interned ([`Dict::intern`]). Its
    /// token count is `node.tokens`, or counted with the profile's tokenizer
    /// when the record has none and the node has text.
    pub(super) fn row(&self, node: &Node, counter: &mut Option<TokenCounter>) -> Row {
        let mut labels: Vec<u32> = node.labels.iter().map(|l| self.labels.number(l)).collect();
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
            kind: self.kinds.number(&node.kind),
            phase: self.phases.number(&node.phase),
            sensitivity: self.sensitivities.number(&node.sensitivity),
            scope: self.scopes.number(&node.scope),
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
    pub(super) fn spread(&self, edge: &Edge) -> Option<(f32, Direction)> {
        let &(type_weight, direction) = self.edge_types.get(&edge.edge_type)?;
        let w = (edge.weight as f32) * type_weight;
        (w.is_finite() && w > 0.0 && edge.from != edge.to).then_some((w, direction))
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.phases.heap_bytes()
            + self.kinds.heap_bytes()
            + self.sensitivities.heap_bytes()
            + self.scopes.heap_bytes()
            + self.labels.heap_bytes()
            + self.phase_weights.capacity() * 8
    }
}

pub(super) struct Row {
    pub(super) kind: u32,
    pub(super) phase: u32,
    pub(super) sensitivity: u32,
    pub(super) scope: u32,
    pub(super) labels: Vec<u32>,
    pub(super) title: Box<str>,
    pub(super) valid_from: i64,
    pub(super) valid_to: i64,
    pub(super) tokens: u32,
    pub(super) created_at: i64,
    pub(super) signature: u64,
}
