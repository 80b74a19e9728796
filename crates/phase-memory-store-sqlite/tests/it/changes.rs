//! The change feed (`Store::data_changes_since`): a second handle learns which
//! nodes other handles' commits changed, and "unknown" where it cannot.

use phase_memory_store::conformance::fixtures::{audit_record, edge, sample_node};
use phase_memory_store::{AuditStore, ChangeSet, Store};
use phase_memory_store_sqlite::{DB_FILE, OpenMode, SqliteStore};

use super::new_store;

fn put(ids: &[&str]) -> ChangeSet {
    ChangeSet {
        put_nodes: ids.iter().map(|i| sample_node(i)).collect(),
        ..Default::default()
    }
}

#[test]
fn a_second_handle_reads_what_other_commits_changed() {
    let (tmp, mut w) = new_store();
    let dir = tmp.path().join("store");
    w.commit(put(&["a", "b"])).expect("first");
    let mut r = SqliteStore::open(&dir, OpenMode::Shared).expect("reader");
    let g = r.data_generation();
    assert_eq!(r.data_changes_since(g).expect("feed"), Some(vec![]));
    w.commit(put(&["z", "c"])).expect("second");
    // An edge changes the arcs of both ends; a delete names the node.
    w.commit(ChangeSet {
        put_edges: vec![edge("a", "c", "relates_to")],
        delete_nodes: vec!["b".into()],
        ..Default::default()
    })
    .expect("third");
    // Until the reader refreshes, it is at its generation: nothing new.
    assert_eq!(r.data_changes_since(g).expect("feed"), Some(vec![]));
    r.refresh().expect("refresh");
    assert_eq!(
        r.data_changes_since(g).expect("feed"),
        Some(vec!["a".to_string(), "b".into(), "c".into(), "z".into()])
    );
    // An audit-only commit changes no data: the data generation stays.
    let before = r.data_generation();
    let head = w.audit_head().expect("head").map(|h| (h.seq, h.hash));
    let (seq, prev) = head.unwrap_or((0, phase_memory_model::audit::GENESIS_HASH.to_string()));
    w.commit(ChangeSet {
        audit: vec![audit_record(seq + 1, &prev)],
        ..Default::default()
    })
    .expect("audit");
    r.refresh().expect("refresh");
    assert_eq!(r.data_generation(), before);
    assert_eq!(r.data_changes_since(before).expect("feed"), Some(vec![]));
}

#[test]
fn a_profile_a_purge_or_a_bulk_commit_means_rebuild() {
    let (tmp, mut w) = new_store();
    let dir = tmp.path().join("store");
    w.commit(put(&["a"])).expect("first");
    let g = w.data_generation();
    w.commit(ChangeSet {
        profile: Some("name = \"p\"\n".into()),
        ..Default::default()
    })
    .expect("profile");
    assert_eq!(w.data_changes_since(g).expect("feed"), None);
    let g = w.data_generation();
    w.commit(put(&["b"])).expect("after the profile");
    assert_eq!(
        w.data_changes_since(g).expect("feed"),
        Some(vec!["b".into()])
    );
    let g = w.data_generation();
    let many: Vec<String> = (0..=phase_memory_store_sqlite::CHANGE_LIST_MAX)
        .map(|i| format!("n{i:06}"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    w.commit(put(&refs)).expect("bulk");
    assert_eq!(w.data_changes_since(g).expect("feed"), None);
    let r = SqliteStore::open(&dir, OpenMode::ReadOnly).expect("reader");
    assert_eq!(r.data_changes_since(g).expect("feed"), None);
    assert!(dir.join(DB_FILE).is_file());
}

#[test]
fn a_store_written_before_the_feed_answers_unknown_for_older_generations() {
    let (tmp, mut w) = new_store();
    let dir = tmp.path().join("store");
    w.commit(put(&["a"])).expect("first");
    drop(w);
    // Remove the feed, as a store written by a build without it has none.
    {
        let c = rusqlite::Connection::open(dir.join(DB_FILE)).expect("open");
        c.execute_batch(
            "DROP TABLE node_changes; DELETE FROM meta WHERE key = 'node_changes_from';",
        )
        .expect("drop");
    }
    let mut w = SqliteStore::open(&dir, OpenMode::Write).expect("open");
    let old = w.data_generation();
    assert_eq!(w.data_changes_since(old - 1).expect("feed"), None);
    w.commit(put(&["b"])).expect("first commit with the feed");
    // The feed starts at that commit: from `old` it is known, before it not.
    assert_eq!(
        w.data_changes_since(old).expect("feed"),
        Some(vec!["b".into()])
    );
    assert_eq!(w.data_changes_since(old - 1).expect("feed"), None);
}
