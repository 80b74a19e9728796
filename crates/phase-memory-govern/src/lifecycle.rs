//! Lifecycle planning: which nodes move to which phase at a given time, by the
//! profile's ordered lifecycle rules, with legal hold blocking purges.

use std::collections::BTreeSet;

use phase_memory_model::actr::base_level;
use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::{Conditions, EdgeDirection, LifecycleRule, Profile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::erasure::legal_hold;

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// Event type that records an access.
pub const ACCESS_EVENT: &str = "node.accessed";

/// What the runtime knows about a node's history at the planning time, gathered
/// from events and edges recorded up to `as_of`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// Creation and access times not after `as_of` (input of the ACT-R base level).
    pub access_times: Vec<Time>,
    /// Number of access events not after `as_of`.
    pub access_count: u64,
    /// Time of the last access not after `as_of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access: Option<Time>,
    /// Types of events not after `as_of` that name the node.
    pub events_seen: BTreeSet<String>,
    /// Types of edges into the node.
    pub incoming_edge_types: BTreeSet<String>,
    /// Types of edges out of the node.
    pub outgoing_edge_types: BTreeSet<String>,
}

impl NodeFacts {
    /// Gathers the facts of `node` at `as_of` from events and edges (any order; those
    /// recorded after `as_of`, and those not concerning the node, are ignored). The
    /// creation time counts as the first entry of `access_times`; `node.accessed`
    /// events count as accesses.
    pub fn gather<'a>(
        node: &Node,
        events: impl IntoIterator<Item = &'a Event>,
        edges: impl IntoIterator<Item = &'a Edge>,
        as_of: Time,
    ) -> NodeFacts {
        let mut f = NodeFacts::default();
        if node.created_at <= as_of {
            f.access_times.push(node.created_at);
        }
        for e in events {
            if e.at > as_of || !e.subjects.iter().any(|s| s == &node.id) {
                continue;
            }
            f.events_seen.insert(e.event_type.clone());
            if e.event_type == ACCESS_EVENT {
                f.access_times.push(e.at);
                f.access_count += 1;
                f.last_access = Some(f.last_access.map_or(e.at, |l| l.max(e.at)));
            }
        }
        f.access_times.sort();
        for e in edges {
            if e.created_at > as_of {
                continue;
            }
            if e.to == node.id {
                f.incoming_edge_types.insert(e.edge_type.clone());
            }
            if e.from == node.id {
                f.outgoing_edge_types.insert(e.edge_type.clone());
            }
        }
        f
    }
}

/// One planned phase change (also the wire shape of `lifecycle.*` answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Transition {
    /// Node id.
    pub node: String,
    /// Current phase.
    pub from: String,
    /// Target phase.
    pub to: String,
    /// The lifecycle rule that fired.
    pub rule_id: String,
    /// The rule asks for a second actor's review before the change applies.
    pub review: bool,
}

/// The lifecycle plan at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Planned transitions, sorted by node id.
    pub transitions: Vec<Transition>,
    /// Transitions that fired but may not happen: (node, rule id, why), sorted by
    /// node id.
    pub blocked: Vec<(String, String, String)>,
}

/// Reason given in [`Plan::blocked`] for a purge stopped by legal hold.
pub const LEGAL_HOLD_REASON: &str = "legal hold";

/// `a > b`, false when either is NaN.
fn greater(a: f64, b: f64) -> bool {
    a > b
}

fn days_between(earlier: Time, later: Time) -> f64 {
    (later.millis() - earlier.millis()) as f64 / DAY_MS
}

/// Whether every given condition holds for `node` with `facts` at `as_of`, with
/// `decay` the ACT-R decay for `base_level_lt`. Empty conditions hold.
pub fn conditions_hold(
    when: &Conditions,
    node: &Node,
    facts: &NodeFacts,
    as_of: Time,
    decay: f64,
) -> bool {
    if let Some(x) = when.age_days_gt
        && !greater(days_between(node.created_at, as_of), x)
    {
        return false;
    }
    if let Some(x) = when.idle_days_gt {
        let last = facts
            .last_access
            .unwrap_or(node.created_at)
            .max(node.created_at);
        if !greater(days_between(last, as_of), x) {
            return false;
        }
    }
    if let Some(x) = when.access_count_gte
        && facts.access_count < x
    {
        return false;
    }
    if let Some(x) = when.access_count_lt
        && facts.access_count >= x
    {
        return false;
    }
    if let Some(x) = when.base_level_lt {
        let b = base_level(&facts.access_times, as_of, decay).unwrap_or(f64::NEG_INFINITY);
        if !greater(x, b) {
            return false;
        }
    }
    if let Some(e) = &when.has_edge {
        let t = &e.edge_type;
        let ok = match e.direction {
            EdgeDirection::Incoming => facts.incoming_edge_types.contains(t),
            EdgeDirection::Outgoing => facts.outgoing_edge_types.contains(t),
            EdgeDirection::Any => {
                facts.incoming_edge_types.contains(t) || facts.outgoing_edge_types.contains(t)
            }
        };
        if !ok {
            return false;
        }
    }
    if let Some(ev) = &when.event_seen
        && !facts.events_seen.contains(ev)
    {
        return false;
    }
    if let Some(l) = &when.label
        && !node.has_label(l)
    {
        return false;
    }
    true
}

fn is_purge_phase(profile: &Profile, phase: &str) -> bool {
    profile.phase(phase).is_some_and(|p| p.purge)
}

fn rule_applies(rule: &LifecycleRule, node: &Node) -> bool {
    rule.to != node.phase
        && (rule.from.is_empty() || rule.from.iter().any(|f| f == &node.phase))
        && (rule.kinds.is_empty() || rule.kinds.iter().any(|k| k == &node.kind))
}

/// Evaluates the lifecycle rules at `as_of` for each node: the first rule (in
/// profile order) whose `from`, `kinds` and conditions hold fires. A rule never
/// fires for a node already in its target phase (an empty `from` means any phase
/// but the target). Nodes already in a purge phase (or carrying a tombstone) and
/// nodes created after `as_of` are skipped. A transition into a purge phase for a
/// node under legal hold is dropped and reported in `blocked`; the node gets no
/// other transition in that plan.
pub fn plan(
    profile: &Profile,
    nodes: &[&Node],
    facts: &dyn Fn(&str) -> NodeFacts,
    as_of: Time,
) -> Plan {
    let mut order: Vec<&Node> = nodes.to_vec();
    order.sort_by(|a, b| a.id.cmp(&b.id));
    order.dedup_by(|a, b| a.id == b.id);
    let decay = profile.activation.decay;
    let mut out = Plan::default();
    for node in order {
        if node.tombstone.is_some()
            || is_purge_phase(profile, &node.phase)
            || node.created_at > as_of
        {
            continue;
        }
        let candidates: Vec<&LifecycleRule> = profile
            .lifecycle
            .iter()
            .filter(|r| rule_applies(r, node))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let f = facts(&node.id);
        let Some(rule) = candidates
            .into_iter()
            .find(|r| conditions_hold(&r.when, node, &f, as_of, decay))
        else {
            continue;
        };
        if is_purge_phase(profile, &rule.to) && legal_hold(profile, node) {
            out.blocked.push((
                node.id.clone(),
                rule.id.clone(),
                LEGAL_HOLD_REASON.to_string(),
            ));
            continue;
        }
        out.transitions.push(Transition {
            node: node.id.clone(),
            from: node.phase.clone(),
            to: rule.to.clone(),
            rule_id: rule.id.clone(),
            review: rule.review,
        });
    }
    out
}
