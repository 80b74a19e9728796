//! All-or-nothing commits and what survives a reopen.

use super::StoreFactory;
use super::fixtures::*;
use crate::ChangeSet;

pub(super) fn atomic_refusal(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a")],
            events: vec![event(1, "x", &["a"])],
            ..Default::default()
        },
    )?;
    let bad = ChangeSet {
        put_nodes: vec![sample_node("b")],
        events: vec![event(7, "x", &["b"])],
        ..Default::default()
    };
    ensure!(s.commit(bad).is_err(), "bad change set accepted");
    ensure!(
        s.node("b").map_err(|e| e.to_string())?.is_none(),
        "half of a refused change set landed"
    );
    let s = f.reopen(s);
    ensure!(
        s.node("b").map_err(|e| e.to_string())?.is_none(),
        "half of a refused change set landed (after reopen)"
    );
    ensure!(
        s.node("a").map_err(|e| e.to_string())?.is_some(),
        "earlier commit lost"
    );
    Ok(())
}

pub(super) fn durable_reopen(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 2)?;
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a"), sample_node("b")],
            put_edges: vec![edge("a", "b", "relates_to")],
            events: vec![event(1, "node.created", &["a"])],
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    for i in 0..20 {
        commit(
            s.as_mut(),
            ChangeSet {
                put_nodes: vec![sample_node(&format!("n{i}"))],
                events: vec![event(2 + i, "node.created", &["x"])],
                ..Default::default()
            },
        )?;
    }
    let s = f.reopen(s);
    ensure!(
        s.node_count().map_err(|e| e.to_string())? == 22,
        "node count after reopen"
    );
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(sample_node("a")),
        "node a after reopen"
    );
    ensure!(
        s.edges_of("b").map_err(|e| e.to_string())?.len() == 1,
        "edges after reopen"
    );
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 21,
        "events after reopen"
    );
    ensure!(
        s.audit_records(0).map_err(|e| e.to_string())? == recs,
        "audit after reopen"
    );
    Ok(())
}
