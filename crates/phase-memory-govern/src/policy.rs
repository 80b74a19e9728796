//! Policy decisions: which rule allows, denies or holds an operation for review.
//!
//! Evaluation order: scope visibility first (an actor never reaches a node outside
//! its scopes), then every rule that matches; among them deny beats review beats
//! allow, and the first rule (in profile order) with the winning effect names the
//! decision; when nothing matches, the profile's default effect applies.

use phase_memory_model::{Actor, Node};
use phase_memory_profile::{Effect, PolicyRule, Profile};
use serde::{Deserialize, Serialize};

/// Rule id reported when the actor cannot see the node's scope.
pub const SCOPE_RULE_ID: &str = "scope";

/// Reason reported when no rule matched and the default effect applied.
pub const DEFAULT_REASON: &str = "default";

/// What a policy rule is matched against: the facts of one node (never its title,
/// body or attributes) and, for lifecycle changes, the target phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// Node kind.
    pub kind: &'a str,
    /// Current phase.
    pub phase: &'a str,
    /// Sensitivity level.
    pub sensitivity: &'a str,
    /// Scope (namespace).
    pub scope: &'a str,
    /// Labels.
    pub labels: &'a [String],
    /// Phase the operation moves the node into, for lifecycle changes and forgetting.
    pub target_phase: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// The target facts of a node (no target phase).
    pub fn of(node: &'a Node) -> Self {
        Target {
            kind: &node.kind,
            phase: &node.phase,
            sensitivity: &node.sensitivity,
            scope: &node.scope,
            labels: &node.labels,
            target_phase: None,
        }
    }

    /// The same target, moving into phase `p`.
    pub fn with_target_phase(self, p: &'a str) -> Self {
        Target {
            target_phase: Some(p),
            ..self
        }
    }
}

/// The outcome of a policy evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// allow, review or deny.
    pub effect: Effect,
    /// The rule that decided (`scope` for a scope denial); `None` when the profile's
    /// default effect applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Why, in words taken from the profile. Never contains node content.
    pub reason: String,
}

impl Decision {
    /// Whether the operation may go ahead now.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Whether the operation is refused.
    pub fn is_denied(&self) -> bool {
        self.effect == Effect::Deny
    }

    /// Whether the operation must be held for a second actor.
    pub fn needs_review(&self) -> bool {
        self.effect == Effect::Review
    }

    /// The decision name used in audit records: `allow`, `review` or `deny`.
    pub fn effect_name(&self) -> &'static str {
        effect_name(self.effect)
    }

    fn default_of(profile: &Profile) -> Self {
        Decision {
            effect: profile.policy.default_effect,
            rule_id: None,
            reason: DEFAULT_REASON.to_string(),
        }
    }

    fn from_rule(rule: &PolicyRule) -> Self {
        let reason = if rule.reason.trim().is_empty() {
            format!("{} by policy rule {:?}", effect_name(rule.effect), rule.id)
        } else {
            rule.reason.clone()
        };
        Decision {
            effect: rule.effect,
            rule_id: Some(rule.id.clone()),
            reason,
        }
    }
}

/// `allow`, `review` or `deny`.
pub(crate) fn effect_name(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allow",
        Effect::Review => "review",
        Effect::Deny => "deny",
    }
}

/// Whether an operation pattern matches an operation name: `*` matches every
/// operation, `family.*` every operation of a family (`audit.*` matches
/// `audit.query`), anything else only itself.
pub fn operation_matches(pattern: &str, operation: &str) -> bool {
    if pattern == "*" || pattern == operation {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(family) => operation
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with('.')),
        None => false,
    }
}

fn actor_matches(rule: &PolicyRule, operation: &str, actor: &Actor) -> bool {
    (rule.operations.is_empty()
        || rule
            .operations
            .iter()
            .any(|p| operation_matches(p, operation)))
        && (rule.roles_any.is_empty() || rule.roles_any.iter().any(|r| actor.has_role(r)))
        && !rule.roles_none.iter().any(|r| actor.has_role(r))
}

fn has_node_matchers(rule: &PolicyRule) -> bool {
    !(rule.kinds.is_empty()
        && rule.phases.is_empty()
        && rule.sensitivity.is_empty()
        && rule.scopes.is_empty()
        && rule.labels.is_empty()
        && rule.target_phase.is_empty())
}

fn target_matches(rule: &PolicyRule, t: &Target) -> bool {
    let within = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
    within(&rule.kinds, t.kind)
        && within(&rule.phases, t.phase)
        && within(&rule.sensitivity, t.sensitivity)
        && within(&rule.scopes, t.scope)
        && (rule.labels.is_empty() || rule.labels.iter().any(|l| t.labels.contains(l)))
        && (rule.target_phase.is_empty()
            || t.target_phase
                .is_some_and(|p| rule.target_phase.iter().any(|x| x == p)))
}

/// Picks the strongest effect among matching rules; the first rule in profile order
/// with that effect names the decision.
fn strongest<'r>(rules: impl Iterator<Item = &'r PolicyRule>) -> Option<&'r PolicyRule> {
    let mut best: Option<&PolicyRule> = None;
    for r in rules {
        // Effect orders Allow < Review < Deny; keep the first of the strongest.
        if best.is_none_or(|b| r.effect > b.effect) {
            best = Some(r);
        }
    }
    best
}

/// Decision about an operation that concerns no node (e.g. `audit.query`,
/// `store.migrate`). Only rules without node matchers (kinds, phases, sensitivity,
/// scopes, labels, target_phase) can match: a rule about secret nodes says nothing
/// about reading the audit log.
pub fn decide_operation(profile: &Profile, operation: &str, actor: &Actor) -> Decision {
    let matching = profile
        .policy
        .rules
        .iter()
        .filter(|r| !has_node_matchers(r) && actor_matches(r, operation, actor));
    match strongest(matching) {
        Some(r) => Decision::from_rule(r),
        None => Decision::default_of(profile),
    }
}

/// Decision about an operation on a node. First the actor must see the node's scope
/// (else deny, rule id `scope`); then every matching rule counts: deny beats review
/// beats allow; when none matches, the profile's default effect applies (rule id
/// `None`, reason `default`).
pub fn decide(profile: &Profile, operation: &str, actor: &Actor, target: &Target) -> Decision {
    if !actor.sees_scope(target.scope) {
        return Decision {
            effect: Effect::Deny,
            rule_id: Some(SCOPE_RULE_ID.to_string()),
            reason: "the actor may not see the node's scope".to_string(),
        };
    }
    let matching = profile
        .policy
        .rules
        .iter()
        .filter(|r| actor_matches(r, operation, actor) && target_matches(r, target));
    match strongest(matching) {
        Some(r) => Decision::from_rule(r),
        None => Decision::default_of(profile),
    }
}
