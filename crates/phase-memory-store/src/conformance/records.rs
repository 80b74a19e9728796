//! Round trips of every record kind: nodes, edges, events, reviews, profile and meta.

use phase_memory_model::{Node, Review, ReviewStatus};

use super::StoreFactory;
use super::fixtures::*;
use crate::{ChangeSet, EventQuery, StoreMeta};

pub(super) fn node_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let g0 = s.generation();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("b"), sample_node("a")],
            ..Default::default()
        },
    )?;
    ensure!(s.generation() > g0, "generation did not grow");
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(sample_node("a")),
        "node a differs after round trip"
    );
    ensure!(
        s.node("zz").map_err(|e| e.to_string())?.is_none(),
        "missing node returned something"
    );
    let mut ids = Vec::new();
    s.for_each_node(&mut |n| ids.push(n.id.clone()))
        .map_err(|e| e.to_string())?;
    ensure!(ids == ["a", "b"], "for_each_node order {ids:?}");
    // The batched read answers in the order asked, a missing id (even repeated)
    // as `None`.
    let batch = s
        .nodes(&["b", "zz", "a", "zz", "b"])
        .map_err(|e| e.to_string())?;
    let want = vec![
        Some(sample_node("b")),
        None,
        Some(sample_node("a")),
        None,
        Some(sample_node("b")),
    ];
    ensure!(batch == want, "nodes() differs from node(): {batch:?}");
    let mut changed = sample_node("a");
    changed.title = "new title".into();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![changed.clone()],
            delete_nodes: vec!["b".into()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(changed),
        "upsert did not replace"
    );
    ensure!(
        s.node_count().map_err(|e| e.to_string())? == 1,
        "delete did not remove b"
    );
    Ok(())
}

pub(super) fn awkward_ids(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let ids = [
        "conv-26/D1:3",
        "../x",
        "Ünïcode",
        "a b\"c'",
        "/etc/passwd",
        "..",
        "CON",
        &"x".repeat(256),
    ];
    let nodes: Vec<Node> = ids.iter().map(|i| sample_node(i)).collect();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: nodes,
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    for id in ids {
        ensure!(
            s.node(id).map_err(|e| e.to_string())?.is_some(),
            "id {id:?} did not round trip"
        );
    }
    let batch = s.nodes(&ids).map_err(|e| e.to_string())?;
    ensure!(
        batch
            .iter()
            .zip(ids)
            .all(|(n, id)| n.as_ref().is_some_and(|n| n.id == id)),
        "nodes() of awkward ids did not round trip"
    );
    Ok(())
}

pub(super) fn edge_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a"), sample_node("b"), sample_node("c")],
            put_edges: vec![
                edge("a", "b", "relates_to"),
                edge("c", "a", "mentions"),
                edge("b", "c", "relates_to"),
            ],
            ..Default::default()
        },
    )?;
    ensure!(
        s.edge_count().map_err(|e| e.to_string())? == 3,
        "edge count"
    );
    let of_a = s.edges_of("a").map_err(|e| e.to_string())?;
    ensure!(
        of_a.len() == 2 && of_a[0] == edge("a", "b", "relates_to"),
        "edges_of(a) = {of_a:?}"
    );
    let mut keys = Vec::new();
    s.for_each_edge(&mut |e| keys.push((e.from.clone(), e.to.clone())))
        .map_err(|e| e.to_string())?;
    ensure!(
        keys == [
            ("a".into(), "b".into()),
            ("b".into(), "c".into()),
            ("c".into(), "a".into())
        ],
        "edge order {keys:?}"
    );
    commit(
        s.as_mut(),
        ChangeSet {
            delete_edges: vec![edge("a", "b", "relates_to").key()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.edges_of("a").map_err(|e| e.to_string())?.len() == 1,
        "edge delete"
    );
    Ok(())
}

pub(super) fn event_sequence(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            events: vec![
                event(1, "node.created", &["a"]),
                event(2, "node.accessed", &["a"]),
                event(3, "observation", &["b"]),
            ],
            ..Default::default()
        },
    )?;
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 3,
        "event head"
    );
    let q = EventQuery {
        subject: Some("a".into()),
        ..Default::default()
    };
    ensure!(
        s.events(&q).map_err(|e| e.to_string())?.len() == 2,
        "subject filter"
    );
    let q = EventQuery {
        after_seq: 1,
        types: vec!["observation".into()],
        ..Default::default()
    };
    let got = s.events(&q).map_err(|e| e.to_string())?;
    ensure!(
        got.len() == 1 && got[0] == event(3, "observation", &["b"]),
        "type filter {got:?}"
    );
    let q = EventQuery {
        since: Some(t(20)),
        until: Some(t(30)),
        ..Default::default()
    };
    ensure!(
        s.events(&q).map_err(|e| e.to_string())?.len() == 1,
        "time filter"
    );
    let gap = s.commit(ChangeSet {
        events: vec![event(5, "x", &[])],
        ..Default::default()
    });
    ensure!(gap.is_err(), "a seq gap was accepted");
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 3,
        "refused commit changed the head"
    );
    Ok(())
}

pub(super) fn reviews_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let mut r = Review {
        expires_at: Some(t(1000)),
        ..review("rev-1")
    };
    commit(
        s.as_mut(),
        ChangeSet {
            put_reviews: vec![r.clone()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.review("rev-1").map_err(|e| e.to_string())? == Some(r.clone()),
        "review round trip"
    );
    r.status = ReviewStatus::Approved;
    r.decided_by = Some("bob".into());
    commit(
        s.as_mut(),
        ChangeSet {
            put_reviews: vec![r.clone()],
            ..Default::default()
        },
    )?;
    let all = s.reviews().map_err(|e| e.to_string())?;
    ensure!(all == vec![r], "review update");
    Ok(())
}

pub(super) fn profile_and_meta(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let mut meta: StoreMeta = s.meta().map_err(|e| e.to_string())?;
    meta.applied_migrations.push("0002-test".into());
    commit(
        s.as_mut(),
        ChangeSet {
            profile: Some("name = \"p\"\n".into()),
            meta: Some(meta.clone()),
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    ensure!(
        s.profile_source().map_err(|e| e.to_string())?.as_deref() == Some("name = \"p\"\n"),
        "profile source"
    );
    ensure!(s.meta().map_err(|e| e.to_string())? == meta, "meta");
    Ok(())
}
