//! Two handles on one store: the shared-access protocol.

use std::time::{Duration, Instant};

use phase_memory_model::AuditCheckpoint;

use super::fixtures::*;
use crate::{ChangeSet, Store, StoreError};

fn e(e: StoreError) -> String {
    e.to_string()
}

/// Shared access between two handles of one store (the protocol in the crate
/// docs), for adapters that support [`crate::OpenMode::Shared`]. `open_shared`
/// opens a new shared handle on the same, already initialised, empty store. Every
/// durable adapter's test binary runs it.
pub fn shared_access(open_shared: &dyn Fn() -> Box<dyn Store>) -> Result<(), String> {
    let mut a = open_shared();
    let mut b = open_shared();
    let g0 = b.generation();
    writing_needs_the_lock(a.as_mut(), b.as_mut())?;
    let g1 = a_commit_shows_on_refresh(a.as_mut(), b.as_mut(), g0)?;
    audit_only_commits_keep_the_data_generation(a.as_mut(), b.as_mut(), g1)?;
    let mut b = the_lock_passes_to_a_waiter(a.as_mut(), b)?;
    a_reader_catches_up(a.as_mut(), b.as_mut())
}

/// Writing needs the lock; a second writer waits, then gets store.locked.
fn writing_needs_the_lock(a: &mut dyn Store, b: &mut dyn Store) -> Result<(), String> {
    ensure!(!a.holds_writer(), "a shared handle holds the lock at open");
    ensure!(
        a.commit(ChangeSet {
            put_nodes: vec![sample_node("early")],
            ..Default::default()
        })
        .is_err(),
        "a commit without the writer lock was accepted"
    );
    a.lock_writer(Duration::from_secs(5)).map_err(e)?;
    let started = Instant::now();
    match b.lock_writer(Duration::from_millis(150)) {
        Err(err) if err.code() == "store.locked" => {}
        other => return Err(format!("second writer got {other:?}, want store.locked")),
    }
    ensure!(
        started.elapsed() >= Duration::from_millis(140),
        "the second writer did not wait ({:?})",
        started.elapsed()
    );
    Ok(())
}

/// A commit is invisible to the other handle until it refreshes, then whole;
/// the generation the reader reached.
fn a_commit_shows_on_refresh(a: &mut dyn Store, b: &mut dyn Store, g0: u64) -> Result<u64, String> {
    let mut c = ChangeSet {
        put_nodes: vec![sample_node("n1"), sample_node("n2")],
        put_edges: vec![edge("n1", "n2", "supports")],
        events: vec![event(1, "note", &["n1"]), event(2, "note", &["n2"])],
        ..Default::default()
    };
    c.audit = chain_after(a, 1)?;
    a.commit(c).map_err(e)?;
    ensure!(
        b.node("n1").map_err(e)?.is_none() && b.generation() == g0,
        "a reader saw a commit before refreshing"
    );
    let g1 = b.refresh().map_err(e)?;
    ensure!(
        g1 == a.generation(),
        "refresh reached {g1}, want {}",
        a.generation()
    );
    ensure!(
        b.node("n1").map_err(e)? == Some(sample_node("n1"))
            && b.edges_of("n2").map_err(e)?.len() == 1
            && b.event_head().map_err(e)? == 2
            && b.audit_head().map_err(e)? == a.audit_head().map_err(e)?,
        "a refreshed reader does not see the whole commit"
    );
    ensure!(
        b.refresh().map_err(e)? == g1,
        "a refresh without commits moved"
    );
    Ok(g1)
}

/// Audit-only commits move the generation but not the data generation.
fn audit_only_commits_keep_the_data_generation(
    a: &mut dyn Store,
    b: &mut dyn Store,
    g1: u64,
) -> Result<(), String> {
    let data = b.data_generation();
    let c = ChangeSet {
        audit: chain_after(a, 2)?,
        ..Default::default()
    };
    a.commit(c).map_err(e)?;
    b.refresh().map_err(e)?;
    ensure!(
        b.generation() > g1 && b.data_generation() == data,
        "an audit-only commit moved the data generation ({data} -> {})",
        b.data_generation()
    );
    Ok(())
}

/// The lock passes to a waiting writer once released.
fn the_lock_passes_to_a_waiter(
    a: &mut dyn Store,
    mut b: Box<dyn Store>,
) -> Result<Box<dyn Store>, String> {
    let waiter = std::thread::spawn(move || {
        let r = b.lock_writer(Duration::from_secs(10)).map(|_| ());
        (b, r)
    });
    std::thread::sleep(Duration::from_millis(100));
    a.unlock_writer();
    let (b, r) = waiter
        .join()
        .map_err(|_| "the waiting writer panicked".to_string())?;
    r.map_err(e)?;
    ensure!(
        b.holds_writer(),
        "the waiting writer does not hold the lock"
    );
    Ok(b)
}

/// Many commits (enough to make the file adapter compact), then a prune: the
/// other handle catches up with all of them.
fn a_reader_catches_up(a: &mut dyn Store, b: &mut dyn Store) -> Result<(), String> {
    for i in 0..40u64 {
        let mut c = ChangeSet {
            put_nodes: vec![sample_node(&format!("m{i:02}"))],
            delete_nodes: if i == 5 {
                vec!["n2".into()]
            } else {
                Vec::new()
            },
            events: vec![event(3 + i, "note", &["m"])],
            ..Default::default()
        };
        c.audit = chain_after(b, 1)?;
        b.commit(c).map_err(e)?;
    }
    let head = b.audit_head().map_err(e)?.ok_or("no audit head")?;
    let kept = b.audit_records(0).map_err(e)?;
    let cut = &kept[kept.len() / 2];
    b.commit(ChangeSet {
        prune_audit: Some(AuditCheckpoint {
            last_pruned_seq: cut.seq,
            last_pruned_hash: cut.hash.clone(),
            pruned_at: Some(t(100)),
            pruned_count: cut.seq,
        }),
        ..Default::default()
    })
    .map_err(e)?;
    b.unlock_writer();
    a.refresh().map_err(e)?;
    ensure!(
        a.generation() == b.generation(),
        "generations differ after catch-up"
    );
    ensure!(
        a.node_count().map_err(e)? == b.node_count().map_err(e)?
            && a.node("n2").map_err(e)?.is_none()
            && a.node("m39").map_err(e)?.is_some()
            && a.event_head().map_err(e)? == 42,
        "the catch-up missed commits"
    );
    ensure!(
        a.audit_records(0).map_err(e)? == b.audit_records(0).map_err(e)?
            && a.audit_head().map_err(e)? == Some(head),
        "the catch-up missed the audit prune"
    );
    Ok(())
}
