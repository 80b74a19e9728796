//! Invariants over random policies and nodes: decisions are deterministic, the
//! effect does not depend on rule order, and nothing of a node's content leaks.

use phase_memory_govern::{Effect, Target, admit, decide};
use phase_memory_model::Node;
use phase_memory_profile::{AdmissionRule, PolicyRule, Profile};
use proptest::prelude::*;

use crate::{actor, node};

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(pool, 0..=pool.len().min(2))
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        Just(Effect::Allow),
        Just(Effect::Review),
        Just(Effect::Deny)
    ]
}

fn rule(i: usize) -> impl Strategy<Value = PolicyRule> {
    (
        effect(),
        subset(&[
            "*",
            "node.*",
            "node.get",
            "activation.run",
            "lifecycle.apply",
        ]),
        subset(&["owner", "member", "reviewer"]),
        subset(&["guest", "member"]),
        subset(&["fact", "decision", "episode"]),
        subset(&["active", "dormant"]),
        subset(&["internal", "secret"]),
        (
            subset(&["a", "b"]),
            subset(&["x", "y"]),
            subset(&["forgotten", "archived"]),
        ),
        prop_oneof![
            Just(String::new()),
            Just("because the profile says so".to_string())
        ],
    )
        .prop_map(
            move |(
                effect,
                operations,
                roles_any,
                roles_none,
                kinds,
                phases,
                sensitivity,
                (scopes, labels, target_phase),
                reason,
            )| PolicyRule {
                id: format!("rule-{i}"),
                effect,
                operations,
                roles_any,
                roles_none,
                kinds,
                phases,
                sensitivity,
                scopes,
                labels,
                target_phase,
                reason,
            },
        )
}

fn policy() -> impl Strategy<Value = Profile> {
    (effect(), proptest::collection::vec(0usize..1, 0..8))
        .prop_flat_map(|(default, slots)| {
            let rules: Vec<_> = (0..slots.len()).map(rule).collect();
            (Just(default), rules)
        })
        .prop_map(|(default, rules)| {
            let mut p = Profile::builtin();
            p.policy.default_effect = default;
            p.policy.rules = rules;
            p
        })
}

/// Content tokens long and odd enough never to occur in a rule id or reason.
fn content() -> impl Strategy<Value = String> {
    "[a-z]{4}".prop_map(|s| format!("Qz{s}Vq content"))
}

fn random_node() -> impl Strategy<Value = Node> {
    (
        prop::sample::select(vec!["fact", "decision", "episode"]),
        prop::sample::select(vec!["active", "dormant", "archived"]),
        prop::sample::select(vec!["internal", "secret", "public"]),
        prop::sample::select(vec!["a", "b", "c"]),
        subset(&["x", "y", "z"]),
        content(),
        content(),
    )
        .prop_map(|(kind, phase, sens, scope, labels, title, body)| {
            let mut n = node("node-under-test", kind, phase);
            n.sensitivity = sens.into();
            n.scope = scope.into();
            n.labels = labels;
            n.title = title;
            n.body = body;
            n
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decisions_are_deterministic_and_never_leak(
        p in policy(),
        n in random_node(),
        op in prop::sample::select(vec!["node.get", "node.delete", "activation.run", "lifecycle.apply", "audit.query"]),
        roles in subset(&["owner", "member", "reviewer", "guest"]),
        scopes in subset(&["a", "b", "*"]),
        target_phase in prop::option::of(prop::sample::select(vec!["forgotten", "archived"])),
    ) {
        let who = actor(&roles.iter().map(String::as_str).collect::<Vec<_>>(), &scopes.iter().map(String::as_str).collect::<Vec<_>>());
        let mut target = Target::of(&n);
        if let Some(tp) = target_phase {
            target = target.with_target_phase(tp);
        }
        let d = decide(&p, op, &who, &target);
        prop_assert_eq!(&d, &decide(&p, op, &who, &target));
        // The winning effect does not depend on rule order.
        let mut reversed = p.clone();
        reversed.policy.rules.reverse();
        prop_assert_eq!(d.effect, decide(&reversed, op, &who, &target).effect);
        let wire = serde_json::to_string(&d).unwrap_or_default();
        for text in [&n.title, &n.body] {
            prop_assert!(!d.reason.contains(text.as_str()));
            prop_assert!(!d.rule_id.clone().unwrap_or_default().contains(text.as_str()));
            prop_assert!(!wire.contains(text.as_str()));
        }
        if d.rule_id.is_none() {
            prop_assert_eq!(d.effect, p.policy.default_effect);
        }
    }

    #[test]
    fn admission_never_leaks_the_matched_text(
        prefix in "[a-z ]{0,20}",
        user in "[a-z]{3,10}",
        digits in "[0-9]{16}",
        which in 0usize..3,
    ) {
        let mut p = Profile::builtin();
        p.policy.admission.push(AdmissionRule {
            id: "email".into(),
            effect: Effect::Review,
            builtin: Some("email".into()),
            pattern: None,
            fields: vec!["title".into(), "body".into(), "attrs".into()],
        });
        let secret = match which {
            0 => format!("{user}@example.org"),
            1 => format!("AKIA{}", digits.chars().map(|c| (b'A' + (c as u8 - b'0')) as char).collect::<String>()),
            _ => format!("-----BEGIN PRIVATE KEY-----{digits}"),
        };
        let mut n = node("n", "fact", "active");
        n.body = format!("{prefix} {secret} trailing");
        let d = admit(&p, &n);
        prop_assert!(d.is_some(), "{} should fire", n.body);
        let d = d.unwrap_or_else(|| unreachable!());
        prop_assert!(!d.reason.contains(&secret));
        prop_assert!(!serde_json::to_string(&d).unwrap_or_default().contains(&secret));
        prop_assert!(d.reason.contains("body"));
    }
}
