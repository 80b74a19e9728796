//! Property: any sequence of change sets, committed and reopened, gives the same
//! content as the in-memory reference image given the same change sets.

use phase_memory_model::AuditCheckpoint;
use phase_memory_store::{ChangeSet, EventStore, GraphStore, MemoryState, Store};
use phase_memory_store_file::{FileStore, OpenMode};
use proptest::prelude::*;
use tempfile::TempDir;

use crate::{audit_after, edge, event, node, review, snapshot_state};

/// A change set drawn without seqs; seqs are filled in against the current image.
#[derive(Clone, Debug)]
pub(crate) struct Draw {
    puts: Vec<(u8, String)>,
    deletes: Vec<u8>,
    edges: Vec<(u8, u8, bool)>,
    edge_deletes: Vec<(u8, u8)>,
    events: u8,
    audit: u8,
    review: Option<u8>,
    profile: Option<String>,
    purge: bool,
    prune: bool,
}

pub(crate) fn draw() -> impl Strategy<Value = Draw> {
    (
        prop::collection::vec((0u8..12, "[a-zA-Z0-9 éü/.]{0,24}"), 0..6),
        prop::collection::vec(0u8..12, 0..3),
        prop::collection::vec((0u8..12, 0u8..12, any::<bool>()), 0..5),
        prop::collection::vec((0u8..12, 0u8..12), 0..2),
        0u8..3,
        0u8..3,
        prop::option::of(0u8..4),
        prop::option::of("[a-z =\"\n]{0,20}"),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(puts, deletes, edges, edge_deletes, events, audit, review, profile, purge, prune)| {
                Draw {
                    puts,
                    deletes,
                    edges,
                    edge_deletes,
                    events,
                    audit,
                    review,
                    profile,
                    purge,
                    prune,
                }
            },
        )
}

pub(crate) fn id(i: u8) -> String {
    match i {
        0 => "../x".into(),
        1 => "Ünïcode".into(),
        n => format!("n{n}"),
    }
}

/// [`realize`] for a handle that must not load its image: no audit prune and
/// no purge (both rewrite from the image).
pub(crate) fn realize_lazily(d: &Draw, s: &FileStore) -> ChangeSet {
    let head = s.event_head().expect("event head");
    ChangeSet {
        prune_audit: None,
        purge: false,
        ..change(d, s, head)
    }
}

pub(crate) fn realize(d: &Draw, s: &FileStore) -> ChangeSet {
    let st = s.state().expect("image");
    let head = st.event_head();
    let prune_audit = (d.prune && !st.audit.is_empty()).then(|| {
        let r = &st.audit[st.audit.len() / 2];
        AuditCheckpoint {
            last_pruned_seq: r.seq,
            last_pruned_hash: r.hash.clone(),
            pruned_at: Some(crate::t(9)),
            pruned_count: st.checkpoint.pruned_count + 1,
        }
    });
    ChangeSet {
        prune_audit,
        ..change(d, s, head)
    }
}

/// The change set of a draw after event `head`, with the draw's purge and no prune.
fn change(d: &Draw, s: &FileStore, head: u64) -> ChangeSet {
    ChangeSet {
        put_nodes: d.puts.iter().map(|(i, b)| node(&id(*i), b)).collect(),
        delete_nodes: d.deletes.iter().map(|i| id(*i)).collect(),
        put_edges: d
            .edges
            .iter()
            .map(|(a, b, m)| edge(&id(*a), &id(*b), if *m { "mentions" } else { "relates_to" }))
            .collect(),
        delete_edges: d
            .edge_deletes
            .iter()
            .map(|(a, b)| edge(&id(*a), &id(*b), "relates_to").key())
            .collect(),
        events: (1..=d.events as u64)
            .map(|k| event(head + k, "node.accessed", &["n3"]))
            .collect(),
        audit: audit_after(s, d.audit as u64),
        put_reviews: d
            .review
            .map(|r| review(&format!("rev-{r}")))
            .into_iter()
            .collect(),
        profile: d.profile.clone(),
        meta: None,
        prune_audit: None,
        purge: d.purge,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn committed_change_sets_reopen_as_the_reference_image(draws in prop::collection::vec(draw(), 1..40)) {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("s");
        let mut s = FileStore::init(&dir, crate::meta()).expect("init");
        let mut reference = MemoryState::new(crate::meta());
        for d in &draws {
            let c = realize(d, &s);
            reference.validate(&c).expect("valid");
            reference.apply(c.clone());
            s.commit(c).expect("commit");
        }
        drop(s);
        let back = FileStore::open(&dir, OpenMode::ReadOnly).expect("reopen");
        prop_assert_eq!(snapshot_state(back.state().expect("image")), snapshot_state(&reference));
        let mut via_trait = Vec::new();
        back.for_each_edge(&mut |e| via_trait.push(e.key())).expect("edges");
        for k in &via_trait {
            prop_assert!(back.edges_of(&k.from).expect("edges_of").iter().any(|e| e.key() == *k));
        }
        prop_assert!(back.check_integrity().expect("check").is_empty());
    }
}
