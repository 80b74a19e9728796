//! Object-level authorization as a property: over random stores, random profiles
//! (extra deny rules by kind and label) and random actors (roles, scopes), no
//! read — export, event and audit queries, review list, lifecycle plan,
//! activation, compile — shows a node the actor may not see, and a hidden node
//! answers exactly as a missing one.

use phase_memory_model::Status;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::props::{KINDS, LEVELS, SCOPES, WORDS, records, spec};
use crate::*;

const ROLE_SETS: &[&[&str]] = &[
    &["member"],
    &["reader"],
    &["reviewer"],
    &["auditor"],
    &["member", "auditor"],
];

/// Whether `needle` occurs in `hay` not followed by a digit (so `n/1` does not
/// match inside `n/12`).
fn contains_token(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        !hay[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

fn profile(deny_kind: Option<usize>, deny_label: Option<usize>) -> String {
    let mut p = phase_memory_profile::DEFAULT_PROFILE_TOML.to_string();
    if let Some(k) = deny_kind {
        p.push_str(&format!(
            "\n[[policy.rules]]\nid = \"deny-kind\"\neffect = \"deny\"\noperations = [\"*\"]\nkinds = [\"{}\"]\nroles_none = [\"owner\"]\n",
            KINDS[k]
        ));
    }
    if let Some(l) = deny_label {
        p.push_str(&format!(
            "\n[[policy.rules]]\nid = \"deny-label\"\neffect = \"deny\"\noperations = [\"*\"]\nlabels = [\"{}\"]\nroles_none = [\"owner\"]\n",
            WORDS[l]
        ));
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn reads_never_show_what_the_actor_may_not_see(
        s in spec(),
        deny_kind in prop::option::of(0..KINDS.len()),
        deny_label in prop::option::of(0..WORDS.len()),
        roles in 0..ROLE_SETS.len(),
        scopes in prop::collection::btree_set(0..SCOPES.len(), 1..3),
        cue in prop::collection::vec(0..WORDS.len(), 1..4),
    ) {
        let mut rt = phase_memory_runtime::memory_runtime(&profile(deny_kind, deny_label), phase_memory_runtime::Clock::Fixed(t(T0))).expect("runtime");
        check(&mut rt, &owner(), "graph.import", json!({"records": records(&s)}), Status::Ok);
        let scope_names: Vec<&str> = scopes.iter().map(|i| SCOPES[*i]).collect();
        let who = actor("prop", ROLE_SETS[roles], &scope_names);
        // The oracle, computed from the generated facts alone.
        let hidden: Vec<(String, String)> = s.nodes.iter().enumerate()
            .filter(|(i, (k, lvl, _, sc, _))| {
                !scopes.contains(sc)
                    || LEVELS[*lvl] == "secret"
                    || deny_kind == Some(*k)
                    || deny_label == Some(i % WORDS.len())
            })
            .map(|(i, _)| (format!("n/{i}:ü"), format!("secret-body-{i}")))
            .collect();
        let text: Vec<&str> = cue.iter().map(|w| WORDS[*w]).collect();
        let explicit: Vec<String> = hidden.iter().take(3).map(|(id, _)| id.clone()).collect();
        let reads: Vec<(&str, Value)> = vec![
            ("graph.export", json!({})),
            ("event.query", json!({})),
            ("audit.query", json!({})),
            ("review.list", json!({})),
            ("lifecycle.plan", json!({})),
            ("activation.run", json!({"cue": {"text": text.join(" "), "nodes": explicit.clone()}, "explain": true})),
            ("package.compile", json!({"cue": {"text": text.join(" "), "nodes": explicit.clone()}})),
        ];
        for (op, req) in reads {
            let env = rt.run(op, req, &who);
            let out = env.to_json();
            prop_assert!(matches!(env.status, Status::Ok | Status::Denied), "{}: {}", op, out);
            for (id, body) in &hidden {
                // A package records the cue as the actor gave it: an id the actor
                // named itself is its own input, never a finding.
                let shown = if explicit.contains(id) {
                    env.data["items"].to_string()
                } else {
                    out.clone()
                };
                prop_assert!(!contains_token(&shown, id), "{} leaked {}: {}", op, id, out);
                prop_assert!(!contains_token(&out, body), "{} leaked {}", op, body);
            }
        }
        // A hidden node answers as a missing one.
        for (id, _) in hidden.iter().take(3) {
            let a = rt.run("node.get", json!({"node": id}), &who);
            let b = rt.run("node.get", json!({"node": "n/none:ü"}), &who);
            prop_assert_eq!(a.status, b.status);
            prop_assert_eq!(a.status, Status::NotFound);
            prop_assert_eq!(&a.data, &b.data);
            prop_assert_eq!(
                a.diagnostics[0].message.replace(id.as_str(), "X"),
                b.diagnostics[0].message.replace("n/none:ü", "X")
            );
            prop_assert_eq!(&a.diagnostics[0].code, &b.diagnostics[0].code);
            let a = rt.run("activation.run", json!({"cue": {"nodes": [id]}}), &who);
            let b = rt.run("activation.run", json!({"cue": {"nodes": ["n/none:ü"]}}), &who);
            prop_assert_eq!(&a.data, &b.data, "explicit seed {}", id);
        }
    }
}
