//! Activation decides the policy of its seeds on the activation snapshot (not on
//! node records read from the store): this holds only while the snapshot's copy
//! of what policy reads (kind, phase, sensitivity, scope, labels) is the
//! store's, after imports and after writes that change exactly those fields
//! (the snapshot then brought forward, not rebuilt).

use phase_memory_model::Status;
use proptest::prelude::*;
use serde_json::json;

use crate::props::{KINDS, LEVELS, SCOPES, WORDS, records, spec};
use crate::*;

/// Every node of the store against its view in the runtime's snapshot.
fn assert_snapshot_policy_matches_store(rt: &mut Runtime) -> Result<(), TestCaseError> {
    let snap = rt.activation_snapshot().expect("snapshot");
    let mut nodes = Vec::new();
    rt.store()
        .for_each_node(&mut |n| nodes.push(n.clone()))
        .expect("nodes");
    prop_assert_eq!(snap.node_count(), nodes.len());
    for n in &nodes {
        let i = snap.index_of(&n.id);
        prop_assert!(i.is_some(), "{} not in the snapshot", n.id);
        let v = snap.node(i.unwrap_or_default()).expect("view");
        prop_assert_eq!(v.kind(), n.kind.as_str());
        prop_assert_eq!(v.phase(), n.phase.as_str());
        prop_assert_eq!(v.sensitivity(), n.sensitivity.as_str());
        prop_assert_eq!(v.scope(), n.scope.as_str());
        let mut a: Vec<&str> = v.labels().collect();
        let mut b: Vec<&str> = n.labels.iter().map(String::as_str).collect();
        a.sort_unstable();
        b.sort_unstable();
        b.dedup();
        prop_assert_eq!(a, b, "labels of {}", n.id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn the_snapshot_holds_what_policy_reads_of_every_node(
        s in spec(),
        rewrites in prop::collection::vec((0usize..25, 0..KINDS.len(), 0..LEVELS.len(), 0..3usize, 0..WORDS.len()), 0..6),
    ) {
        let mut rt = mem();
        check(&mut rt, &owner(), "graph.import", json!({"records": records(&s)}), Status::Ok);
        assert_snapshot_policy_matches_store(&mut rt)?;
        for (n, k, lvl, scope, label) in rewrites {
            let id = format!("n/{}:ü", n % s.nodes.len());
            check(&mut rt, &owner(), "node.upsert", json!({"node": {"id": id, "kind": KINDS[k], "title": WORDS[label],
                "sensitivity": LEVELS[lvl], "scope": SCOPES[scope], "labels": [WORDS[label], WORDS[(label + 1) % WORDS.len()]]}}), Status::Ok);
            assert_snapshot_policy_matches_store(&mut rt)?;
        }
    }
}

/// The ids of an activation's items for `who`.
fn items(rt: &mut Runtime, who: &CallContext, text: &str) -> Vec<String> {
    let env = check(
        rt,
        who,
        "activation.run",
        json!({"cue": {"text": text}, "budget_tokens": 1000}),
        Status::Ok,
    );
    env.data["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["node"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A runtime keeps its policy decisions from one activation to the next only
/// while the profile is the same: a rule applied in between is obeyed by the
/// very next activation, and so is its removal.
#[test]
fn kept_policy_decisions_follow_a_profile_change() {
    let mut rt = mem();
    for (id, level) in [("n/1", "internal"), ("n/2", "public")] {
        check(
            &mut rt,
            &owner(),
            "node.upsert",
            json!({"node": {"id": id, "kind": KINDS[0], "title": "zebra crossing",
                "sensitivity": level, "scope": "team-a"}}),
            Status::Ok,
        );
    }
    let member = actor("m", &["member"], &["team-a"]);
    assert_eq!(items(&mut rt, &member, "zebra"), ["n/1", "n/2"]);
    let rule = "[[policy.rules]]\nid = \"no-internal\"\neffect = \"deny\"\n\
                operations = [\"*\"]\nsensitivity = [\"internal\"]\nroles_none = [\"owner\"]\n\n";
    let default = phase_memory_profile::DEFAULT_PROFILE_TOML;
    let stricter = default.replacen(
        "[[policy.admission]]",
        &format!("{rule}[[policy.admission]]"),
        1,
    );
    assert_ne!(stricter, default);
    check(
        &mut rt,
        &owner(),
        "profile.apply",
        json!({"source": stricter}),
        Status::Ok,
    );
    assert_eq!(items(&mut rt, &member, "zebra"), ["n/2"]);
    assert_eq!(items(&mut rt, &owner(), "zebra"), ["n/1", "n/2"]);
    check(
        &mut rt,
        &owner(),
        "profile.apply",
        json!({"source": default}),
        Status::Ok,
    );
    assert_eq!(items(&mut rt, &member, "zebra"), ["n/1", "n/2"]);
}
