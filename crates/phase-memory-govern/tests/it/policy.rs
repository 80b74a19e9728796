//! Policy decisions: matching, deny > review > allow, default effect, scope.

use phase_memory_govern::{Decision, Effect, Target, decide, decide_operation, operation_matches};
use phase_memory_model::Node;

use crate::{actor, node, profile};

const RULES: &str = r#"
[policy]
default_effect = "allow"

[[policy.rules]]
id = "secret-owner-only"
effect = "deny"
operations = ["node.*", "activation.run"]
sensitivity = ["secret"]
roles_none = ["owner"]
reason = "secret memories are for owners"

[[policy.rules]]
id = "forget-needs-review"
effect = "review"
operations = ["lifecycle.apply", "node.delete"]
target_phase = ["forgotten"]
reason = "forgetting needs a second actor"

[[policy.rules]]
id = "facts-readable"
effect = "allow"
operations = ["node.get"]
kinds = ["fact"]

[[policy.rules]]
id = "pii-review"
effect = "review"
operations = ["node.*"]
labels = ["pii"]
reason = "personal data"

[[policy.rules]]
id = "blocked-label"
effect = "deny"
operations = ["node.get"]
labels = ["blocked"]
reason = "blocked by label"

[[policy.rules]]
id = "team-a-dormant"
effect = "deny"
operations = ["package.compile"]
scopes = ["team-a"]
phases = ["dormant"]
reason = "dormant team-a memories are not compiled"

[[policy.rules]]
id = "audit-readers"
effect = "deny"
operations = ["audit.*"]
roles_none = ["auditor", "owner"]
reason = "only auditors read the audit log"
"#;

struct Case<'a> {
    op: &'a str,
    roles: &'a [&'a str],
    scopes: &'a [&'a str],
    node: Node,
    target_phase: Option<&'a str>,
}

fn n(kind: &str, phase: &str, sensitivity: &str, scope: &str, labels: &[&str]) -> Node {
    let mut x = node("n1", kind, phase);
    x.sensitivity = sensitivity.into();
    x.scope = scope.into();
    x.labels = labels.iter().map(|s| s.to_string()).collect();
    x
}

fn check(c: Case, effect: Effect, rule: Option<&str>) {
    let p = profile(RULES);
    let a = actor(c.roles, c.scopes);
    let mut target = Target::of(&c.node);
    if let Some(tp) = c.target_phase {
        target = target.with_target_phase(tp);
    }
    let d = decide(&p, c.op, &a, &target);
    assert_eq!(
        (d.effect, d.rule_id.as_deref()),
        (effect, rule),
        "{} by {:?} on {:?}: {d:?}",
        c.op,
        c.roles,
        c.node
    );
    // Deterministic.
    assert_eq!(d, decide(&p, c.op, &a, &target));
}

#[test]
fn rules_match_on_operation_actor_and_node() {
    use Effect::*;
    let all = &["*"][..];
    // Secret: owners pass (default), others are denied, on node.* and activation.run only.
    check(
        Case {
            op: "node.get",
            roles: &["member"],
            scopes: all,
            node: n("episode", "active", "secret", "default", &[]),
            target_phase: None,
        },
        Deny,
        Some("secret-owner-only"),
    );
    check(
        Case {
            op: "activation.run",
            roles: &["member"],
            scopes: all,
            node: n("episode", "active", "secret", "default", &[]),
            target_phase: None,
        },
        Deny,
        Some("secret-owner-only"),
    );
    check(
        Case {
            op: "node.get",
            roles: &["owner"],
            scopes: all,
            node: n("episode", "active", "secret", "default", &[]),
            target_phase: None,
        },
        Allow,
        None,
    );
    check(
        Case {
            op: "package.compile",
            roles: &["member"],
            scopes: all,
            node: n("episode", "active", "secret", "default", &[]),
            target_phase: None,
        },
        Allow,
        None,
    );
    // Target phase: only when the operation moves the node there.
    check(
        Case {
            op: "lifecycle.apply",
            roles: &["owner"],
            scopes: all,
            node: n("fact", "archived", "internal", "default", &[]),
            target_phase: Some("forgotten"),
        },
        Review,
        Some("forget-needs-review"),
    );
    check(
        Case {
            op: "lifecycle.apply",
            roles: &["owner"],
            scopes: all,
            node: n("fact", "active", "internal", "default", &[]),
            target_phase: Some("dormant"),
        },
        Allow,
        None,
    );
    check(
        Case {
            op: "lifecycle.apply",
            roles: &["owner"],
            scopes: all,
            node: n("fact", "active", "internal", "default", &[]),
            target_phase: None,
        },
        Allow,
        None,
    );
    // Kind matcher: an explicit allow names its rule.
    check(
        Case {
            op: "node.get",
            roles: &["member"],
            scopes: all,
            node: n("fact", "active", "internal", "default", &[]),
            target_phase: None,
        },
        Allow,
        Some("facts-readable"),
    );
    // Scope + phase matchers together.
    check(
        Case {
            op: "package.compile",
            roles: &["member"],
            scopes: all,
            node: n("fact", "dormant", "internal", "team-a", &[]),
            target_phase: None,
        },
        Deny,
        Some("team-a-dormant"),
    );
    check(
        Case {
            op: "package.compile",
            roles: &["member"],
            scopes: all,
            node: n("fact", "active", "internal", "team-a", &[]),
            target_phase: None,
        },
        Allow,
        None,
    );
    check(
        Case {
            op: "package.compile",
            roles: &["member"],
            scopes: all,
            node: n("fact", "dormant", "internal", "team-b", &[]),
            target_phase: None,
        },
        Allow,
        None,
    );
}

#[test]
fn deny_beats_review_beats_allow() {
    use Effect::*;
    let all = &["*"][..];
    // facts-readable (allow), pii-review (review), blocked-label (deny) all match.
    check(
        Case {
            op: "node.get",
            roles: &[],
            scopes: all,
            node: n("fact", "active", "internal", "default", &["blocked", "pii"]),
            target_phase: None,
        },
        Deny,
        Some("blocked-label"),
    );
    // allow + review.
    check(
        Case {
            op: "node.get",
            roles: &[],
            scopes: all,
            node: n("fact", "active", "internal", "default", &["pii"]),
            target_phase: None,
        },
        Review,
        Some("pii-review"),
    );
    // allow only.
    check(
        Case {
            op: "node.get",
            roles: &[],
            scopes: all,
            node: n("fact", "active", "internal", "default", &[]),
            target_phase: None,
        },
        Allow,
        Some("facts-readable"),
    );
    // Two denies: the first in profile order names the decision.
    check(
        Case {
            op: "node.get",
            roles: &[],
            scopes: all,
            node: n("fact", "active", "secret", "default", &["blocked"]),
            target_phase: None,
        },
        Deny,
        Some("secret-owner-only"),
    );
}

#[test]
fn default_effect_applies_when_nothing_matches() {
    let strict = profile("[policy]\ndefault_effect = \"deny\"\n");
    let x = node("n1", "fact", "active");
    let d = decide(
        &strict,
        "node.get",
        &actor(&["owner"], &["*"]),
        &Target::of(&x),
    );
    assert_eq!(
        d,
        Decision {
            effect: Effect::Deny,
            rule_id: None,
            reason: "default".into()
        }
    );
    let open = profile("");
    let d = decide(&open, "node.get", &actor(&[], &["*"]), &Target::of(&x));
    assert_eq!(
        (d.effect, d.rule_id, d.reason.as_str()),
        (Effect::Allow, None, "default")
    );
}

#[test]
fn scope_visibility_comes_first() {
    let p = profile(RULES);
    let mut x = node("n1", "fact", "active");
    x.scope = "team-b".into();
    // facts-readable would allow, but the actor cannot see team-b.
    let d = decide(
        &p,
        "node.get",
        &actor(&["owner"], &["team-a"]),
        &Target::of(&x),
    );
    assert_eq!(
        (d.effect, d.rule_id.as_deref()),
        (Effect::Deny, Some("scope"))
    );
    assert!(!d.reason.contains("team-b"), "{d:?}");
    let d = decide(
        &p,
        "node.get",
        &actor(&[], &["team-a", "team-b"]),
        &Target::of(&x),
    );
    assert_eq!(d.effect, Effect::Allow);
    let d = decide(&p, "node.get", &actor(&[], &["*"]), &Target::of(&x));
    assert_eq!(d.effect, Effect::Allow);
    let d = decide(&p, "node.get", &actor(&["owner"], &[]), &Target::of(&x));
    assert_eq!(d.rule_id.as_deref(), Some("scope"));
}

#[test]
fn operation_level_decisions_ignore_node_rules() {
    let p = profile(RULES);
    let check = |op: &str, roles: &[&str], effect: Effect, rule: Option<&str>| {
        let d = decide_operation(&p, op, &actor(roles, &["*"]));
        assert_eq!(
            (d.effect, d.rule_id.as_deref()),
            (effect, rule),
            "{op} {roles:?}"
        );
    };
    check(
        "audit.query",
        &["member"],
        Effect::Deny,
        Some("audit-readers"),
    );
    check("audit.verify", &[], Effect::Deny, Some("audit-readers"));
    check("audit.query", &["auditor"], Effect::Allow, None);
    // secret-owner-only has a sensitivity matcher: it says nothing about node.get without a node.
    check("node.get", &["member"], Effect::Allow, None);
    check("store.migrate", &[], Effect::Allow, None);
}

#[test]
fn operation_patterns() {
    for (pattern, op, want) in [
        ("*", "audit.query", true),
        ("audit.*", "audit.query", true),
        ("audit.*", "audit.prune", true),
        ("audit.*", "auditx.query", false),
        ("audit.*", "audit", false),
        ("node.get", "node.get", true),
        ("node.get", "node.getx", false),
        ("node.get", "node.delete", false),
    ] {
        assert_eq!(operation_matches(pattern, op), want, "{pattern} vs {op}");
    }
}

#[test]
fn empty_rule_reason_names_effect_and_rule() {
    let p = profile(RULES);
    let x = node("n1", "fact", "active");
    let d = decide(&p, "node.get", &actor(&[], &["*"]), &Target::of(&x));
    assert_eq!(d.reason, "allow by policy rule \"facts-readable\"");
    assert_eq!(d.effect_name(), "allow");
    assert!(d.is_allowed() && !d.is_denied() && !d.needs_review());
}
