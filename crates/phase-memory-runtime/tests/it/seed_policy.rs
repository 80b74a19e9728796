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
