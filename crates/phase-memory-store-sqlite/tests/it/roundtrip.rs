//! Random change sets applied to the SQLite store and to the reference
//! `MemoryState` must leave both in the same state (and the same after reopening).

use std::path::PathBuf;

use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{AuditCheckpoint, Edge, EdgeKey, Event, Node, Review, ReviewStatus};
use phase_memory_store::conformance::sample_node;
use phase_memory_store::{ChangeSet, EventQuery, MemoryState, Store, StoreMeta};
use phase_memory_store_sqlite::{OpenMode, SqliteStore};
use proptest::prelude::*;
use serde_json::json;

use crate::{audit, t};

const IDS: &[&str] = &["a", "a b", "ab", "B", "é", "../x", "z/1:2", "\u{10000}x"];
const TYPES: &[&str] = &["relates_to", "mentions", "part_of"];
const EVENT_TYPES: &[&str] = &["node.created", "node.accessed", "observation"];

#[derive(Clone, Debug)]
enum Op {
    PutNode(usize, String, i64),
    DeleteNode(usize),
    PutEdge(usize, usize, usize, f64),
    DeleteEdge(usize, usize, usize),
    Event(usize, Vec<usize>, i64),
    Audit,
    Review(usize, bool),
    Profile(String),
    Prune(u64),
    Meta(String),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..IDS.len();
    prop_oneof![
        3 => (i.clone(), "\\PC{0,12}", -5i64..5).prop_map(|(i, s, n)| Op::PutNode(i, s, n)),
        1 => i.clone().prop_map(Op::DeleteNode),
        3 => (i.clone(), i.clone(), 0..TYPES.len(), -2.0f64..2.0)
            .prop_map(|(a, b, ty, w)| Op::PutEdge(a, b, ty, w)),
        1 => (i.clone(), i.clone(), 0..TYPES.len()).prop_map(|(a, b, ty)| Op::DeleteEdge(a, b, ty)),
        3 => (0..EVENT_TYPES.len(), prop::collection::vec(i.clone(), 0..3), 0i64..100)
            .prop_map(|(ty, s, at)| Op::Event(ty, s, at)),
        2 => Just(Op::Audit),
        1 => (i.clone(), any::<bool>()).prop_map(|(i, d)| Op::Review(i, d)),
        1 => "\\PC{0,20}".prop_map(Op::Profile),
        1 => (0u64..6).prop_map(Op::Prune),
        1 => "[a-z0-9-]{1,8}".prop_map(Op::Meta),
    ]
}

/// A change set built from ops against the model's current heads; `gap` breaks the
/// event sequence so the commit must be refused by both.
fn change_set(model: &MemoryState, ops: &[Op], gap: bool, purge: bool) -> ChangeSet {
    let mut c = ChangeSet {
        purge,
        ..Default::default()
    };
    let mut next_event = model.event_head() + 1 + u64::from(gap);
    let prune = ops.iter().rev().find_map(|o| match o {
        Op::Prune(back) => Some(model.audit_head_seq().saturating_sub(*back)),
        _ => None,
    });
    let mut audit_head = match prune {
        Some(cut) => model
            .audit
            .iter()
            .rev()
            .find(|r| r.seq > cut)
            .map(|r| (r.seq, r.hash.clone()))
            .unwrap_or((cut, "blake3:cut".into())),
        None => model
            .audit_head()
            .map(|h| (h.seq, h.hash))
            .unwrap_or((0, GENESIS_HASH.into())),
    };
    if let Some(cut) = prune {
        let hash = model
            .audit
            .iter()
            .find(|r| r.seq == cut)
            .map(|r| r.hash.clone())
            .unwrap_or_else(|| "blake3:cut".into());
        c.prune_audit = Some(AuditCheckpoint {
            last_pruned_seq: cut,
            last_pruned_hash: hash,
            pruned_at: Some(t(7)),
            pruned_count: cut,
        });
    }
    for o in ops {
        match o {
            Op::PutNode(i, title, n) => {
                let mut node: Node = sample_node(IDS[*i]);
                node.title = title.clone();
                node.tokens = *n as u32;
                node.attrs.insert("n".into(), json!(*n as f64 / 3.0));
                c.put_nodes.push(node);
            }
            Op::DeleteNode(i) => c.delete_nodes.push(IDS[*i].into()),
            Op::PutEdge(a, b, ty, w) => c.put_edges.push(Edge {
                from: IDS[*a].into(),
                to: IDS[*b].into(),
                edge_type: TYPES[*ty].into(),
                weight: *w,
                attrs: Default::default(),
                created_at: t(3),
            }),
            Op::DeleteEdge(a, b, ty) => c.delete_edges.push(EdgeKey {
                from: IDS[*a].into(),
                to: IDS[*b].into(),
                edge_type: TYPES[*ty].into(),
            }),
            Op::Event(ty, subjects, at) => {
                c.events.push(Event {
                    seq: next_event,
                    id: format!("ev-{next_event}"),
                    at: t(*at),
                    actor: "alice".into(),
                    event_type: EVENT_TYPES[*ty].into(),
                    subjects: subjects.iter().map(|s| IDS[*s].to_string()).collect(),
                    payload: json!({"at": at}),
                });
                next_event += 1;
            }
            Op::Audit => {
                let r = audit(audit_head.0 + 1, &audit_head.1);
                audit_head = (r.seq, r.hash.clone());
                c.audit.push(r);
            }
            Op::Review(i, decided) => c.put_reviews.push(Review {
                id: format!("rev-{}", IDS[*i]),
                operation: "node.delete".into(),
                subjects: vec![IDS[*i].into()],
                requested_by: "alice".into(),
                reason: "review".into(),
                rule_id: None,
                status: if *decided {
                    ReviewStatus::Approved
                } else {
                    ReviewStatus::Pending
                },
                decided_by: decided.then(|| "bob".into()),
                decided_at: None,
                decision_reason: None,
                created_at: t(0),
                expires_at: None,
                request: json!({"node": IDS[*i]}),
            }),
            Op::Profile(p) => c.profile = Some(p.clone()),
            Op::Meta(m) => {
                let mut meta: StoreMeta = model.meta.clone();
                meta.applied_migrations.push(m.clone());
                c.meta = Some(meta);
            }
            Op::Prune(_) => {}
        }
    }
    c
}

fn same_state(model: &MemoryState, s: &dyn Store) -> Result<(), TestCaseError> {
    let mut nodes = Vec::new();
    s.for_each_node(&mut |n| nodes.push(n.clone()))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(nodes, model.nodes.values().cloned().collect::<Vec<_>>());
    let mut edges = Vec::new();
    s.for_each_edge(&mut |e| edges.push(e.clone()))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(edges, model.edges.values().cloned().collect::<Vec<_>>());
    prop_assert_eq!(s.node_count().ok(), Some(model.nodes.len()));
    prop_assert_eq!(s.edge_count().ok(), Some(model.edges.len()));
    for id in IDS {
        prop_assert_eq!(s.node(id).ok(), Some(model.nodes.get(*id).cloned()));
        prop_assert_eq!(s.edges_of(id).ok(), Some(model.edges_of(id)));
        let q = EventQuery {
            subject: Some(id.to_string()),
            ..Default::default()
        };
        prop_assert_eq!(s.events(&q).ok(), Some(model.query_events(&q)));
    }
    let queries = [
        EventQuery::default(),
        EventQuery {
            after_seq: 2,
            limit: Some(3),
            ..Default::default()
        },
        EventQuery {
            types: vec!["observation".into(), "node.created".into()],
            since: Some(t(20)),
            until: Some(t(70)),
            ..Default::default()
        },
        EventQuery {
            subject: Some("a".into()),
            types: vec!["node.accessed".into()],
            limit: Some(1),
            ..Default::default()
        },
    ];
    for q in &queries {
        prop_assert_eq!(s.events(q).ok(), Some(model.query_events(q)));
    }
    prop_assert_eq!(s.event_head().ok(), Some(model.event_head()));
    prop_assert_eq!(s.audit_records(0).ok(), Some(model.audit.clone()));
    prop_assert_eq!(s.audit_head().ok(), Some(model.audit_head()));
    prop_assert_eq!(s.audit_checkpoint().ok(), Some(model.checkpoint.clone()));
    prop_assert_eq!(
        s.reviews().ok(),
        Some(model.reviews.values().cloned().collect::<Vec<_>>())
    );
    prop_assert_eq!(s.profile_source().ok(), Some(model.profile.clone()));
    prop_assert_eq!(s.meta().ok(), Some(model.meta.clone()));
    prop_assert_eq!(s.generation(), model.generation);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_change_sets_match_the_reference_adapter(
        batches in prop::collection::vec(
            (prop::collection::vec(op(), 0..10), prop::bool::weighted(0.1), any::<bool>()),
            1..6,
        )
    ) {
        let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dir: PathBuf = tmp.path().join("store");
        let meta = StoreMeta::new("sqlite", t(0));
        let mut model = MemoryState::new(meta.clone());
        let mut store = SqliteStore::init(&dir, meta)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (ops, gap, purge) in &batches {
            let c = change_set(&model, ops, *gap, *purge);
            let expected = model.validate(&c);
            let got = store.commit(c.clone());
            prop_assert_eq!(expected.is_ok(), got.is_ok(), "model {:?} vs sqlite {:?}", expected, got);
            if expected.is_ok() {
                model.apply(c);
            }
            same_state(&model, &store)?;
        }
        drop(store);
        let store = SqliteStore::open(&dir, OpenMode::ReadOnly)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        same_state(&model, &store)?;
        prop_assert!(store.check_integrity().map_err(|e| TestCaseError::fail(e.to_string()))?.is_empty());
    }
}
