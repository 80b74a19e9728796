//! A handle that lags behind compactions (it had not read commits they folded)
//! follows them without loading the whole store while the first segment is
//! kept: its image ends up as a fresh open's and its change feed names every
//! node the unread commits changed. When the first segment was rewritten it
//! reloads and restarts its change feed, still correct.

use std::collections::BTreeSet;
use std::path::Path;

use phase_memory_store::{
    AuditStore, ChangeLog, ChangeSet, EventStore, GraphStore, MemoryState, Store,
};
use phase_memory_store_file::{
    FileStore, OpenMode, set_max_segments_for_thread, set_scan_limit_for_thread,
};
use proptest::prelude::*;
use tempfile::TempDir;

use crate::roundtrip::{Draw, draw, realize};
use crate::{audit_after, edge, event, node, snapshot_state};

/// Segments a commit allows before compacting, in these tests: a compaction
/// every few commits.
const FEW_SEGMENTS: usize = 4;

/// Nodes of the first commit (the base segment the folds keep).
const BASE_NODES: usize = 120;

fn big(i: usize) -> String {
    format!("big{i:03}")
}

/// A writer on a new store whose first segment is large next to the small
/// commits that follow (so folding them keeps it), with a locator written.
fn store_with_base(dir: &Path) -> FileStore {
    let mut w = FileStore::init(dir, crate::meta()).expect("init");
    let audit = audit_after(&w, 1);
    w.commit(ChangeSet {
        put_nodes: (0..BASE_NODES)
            .map(|i| node(&big(i), &format!("{i} {}", "words ".repeat(40))))
            .collect(),
        put_edges: (1..BASE_NODES)
            .map(|i| edge(&big(i - 1), &big(i), "relates_to"))
            .collect(),
        events: vec![event(1, "node.created", &["big000"])],
        audit,
        ..Default::default()
    })
    .expect("base commit");
    assert!(w.write_locator(), "locator written");
    w
}

/// A small commit: a node put, now and then a node and an edge deleted, an
/// edge put, an event and an audit record.
fn small(w: &FileStore, i: usize) -> ChangeSet {
    let id = format!("n{}", i % 9);
    let head = w.event_head().expect("event head");
    let mut c = ChangeSet {
        put_nodes: vec![node(&id, &format!("v{i}"))],
        put_edges: vec![edge(&id, &big(i % BASE_NODES), "mentions")],
        events: vec![event(head + 1, "node.updated", &[&id])],
        audit: audit_after(w, 1),
        ..Default::default()
    };
    if i % 5 == 3 {
        c.delete_nodes = vec![big(i * 7 % BASE_NODES)];
        c.delete_edges = vec![edge(&big(i + 1), &big(i + 2), "relates_to").key()];
    }
    c
}

fn manifest(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("manifest.json")).expect("manifest");
    serde_json::from_slice(&bytes).expect("manifest parses")
}

/// The first segment's file name.
fn base_file(dir: &Path) -> String {
    manifest(dir)["segments"][0]["file"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Commits `n` small commits from `*i` on; returns the ids they touched and
/// how many of them compacted.
fn commit_small(w: &mut FileStore, dir: &Path, i: &mut usize, n: usize) -> (Vec<String>, usize) {
    let mut ids = BTreeSet::new();
    let mut compactions = 0;
    for _ in 0..n {
        let c = small(w, *i);
        ids.extend(ChangeLog::ids_of(&c));
        w.commit(c).expect("commit");
        compactions += usize::from(manifest(dir).get("compaction").is_some());
        *i += 1;
    }
    (ids.into_iter().collect(), compactions)
}

/// Node ids whose node or an edge at which differs between two images.
fn changed_between(a: &MemoryState, b: &MemoryState) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for id in a.nodes.keys().chain(b.nodes.keys()) {
        if a.nodes.get(id) != b.nodes.get(id) {
            out.insert(id.clone());
        }
    }
    for k in a.edges.keys().chain(b.edges.keys()) {
        if a.edges.get(k) != b.edges.get(k) {
            out.insert(k.from.clone());
            out.insert(k.to.clone());
        }
    }
    out
}

/// What a lazy handle answers without its image for `ids`, as text.
fn answers(s: &FileStore, ids: &[String]) -> String {
    let nodes: Vec<_> = ids.iter().map(|id| s.node(id).expect("node")).collect();
    format!(
        "nodes={nodes:?}\ncount={}\nevent_head={}\naudit_head={:?}\nprofile={:?}\ngen={} data={}",
        s.node_count().expect("count"),
        s.event_head().expect("event head"),
        s.audit_head().expect("audit head"),
        s.profile_source().expect("profile"),
        s.generation(),
        s.data_generation(),
    )
}

/// Commits on this thread compact after a few segments while it lives.
struct CompactEvery;

impl CompactEvery {
    fn new(segments: usize) -> Self {
        set_max_segments_for_thread(Some(segments));
        CompactEvery
    }
}

impl Drop for CompactEvery {
    fn drop(&mut self) {}
}

/// A shared handle with its whole image loaded.
fn full_reader(dir: &Path) -> FileStore {
    let s = FileStore::open(dir, OpenMode::Shared).expect("full reader");
    s.state().expect("load");
    s
}

/// A fresh handle's loaded image.
fn fresh(dir: &Path) -> FileStore {
    let s = FileStore::open(dir, OpenMode::ReadOnly).expect("fresh open");
    s.state().expect("load");
    s
}

fn asked() -> Vec<String> {
    (0..BASE_NODES)
        .map(big)
        .chain((0..9).map(|i| format!("n{i}")))
        .chain(["missing".to_string()])
        .collect()
}

/// Both kinds of reader lag across one compaction, then across several, and
/// follow each time without a load, as a fresh open, reporting exactly the
/// ids the unread commits touched.
#[test]
fn a_lagging_handle_follows_folds_without_loading_and_keeps_its_change_feed() {
    let _compact = CompactEvery::new(FEW_SEGMENTS);
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    let mut w = store_with_base(&dir);
    let base = base_file(&dir);
    let mut lazy = FileStore::open(&dir, OpenMode::Shared).expect("lazy reader");
    assert!(lazy.is_lazy());
    let mut full = full_reader(&dir);
    let (lazy_loads, full_loads) = (lazy.loads(), full.loads());
    let mut i = 0;
    // One commit read, so the readers do not hold exactly the image the
    // compaction merges (that case has its own path).
    commit_small(&mut w, &dir, &mut i, 1);
    lazy.refresh().expect("refresh");
    full.refresh().expect("refresh");
    for (round, (n, at_least)) in [(FEW_SEGMENTS - 1, 1), (5 * FEW_SEGMENTS, 4)]
        .into_iter()
        .enumerate()
    {
        let since = w.data_generation();
        let (touched, compactions) = commit_small(&mut w, &dir, &mut i, n);
        assert!(
            compactions >= at_least,
            "round {round}: {compactions} compactions"
        );
        assert_eq!(
            base_file(&dir),
            base,
            "round {round}: the folds kept the base"
        );
        for r in [&mut lazy, &mut full] {
            assert_eq!(r.refresh().expect("refresh"), w.generation());
            assert_eq!(
                r.data_changes_since(since).expect("changes"),
                Some(touched.clone()),
                "round {round}: the change feed names what the unread commits touched"
            );
        }
        assert_eq!(
            lazy.loads(),
            lazy_loads,
            "round {round}: the lazy reader loaded"
        );
        assert_eq!(
            full.loads(),
            full_loads,
            "round {round}: the full reader loaded"
        );
        let reference = fresh(&dir);
        assert_eq!(
            answers(&lazy, &asked()),
            answers(&reference, &asked()),
            "round {round}"
        );
        assert!(lazy.is_lazy(), "round {round}: answered without loading");
        assert_eq!(
            snapshot_state(full.state().expect("image")),
            snapshot_state(reference.state().expect("image")),
            "round {round}"
        );
    }
    // The lazy reader's image, loaded at last, is the fresh open's too.
    assert_eq!(
        snapshot_state(lazy.state().expect("image")),
        snapshot_state(fresh(&dir).state().expect("image"))
    );
}

/// When a compaction rewrote the first segment after commits a handle has not
/// read, the handle reloads and restarts its change feed; its image is right.
#[test]
fn a_lagging_handle_reloads_when_the_base_was_rewritten() {
    let _compact = CompactEvery::new(FEW_SEGMENTS);
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    let mut w = store_with_base(&dir);
    let base = base_file(&dir);
    let mut lazy = FileStore::open(&dir, OpenMode::Shared).expect("lazy reader");
    let mut full = full_reader(&dir);
    let mut i = 0;
    commit_small(&mut w, &dir, &mut i, 1);
    lazy.refresh().expect("refresh");
    full.refresh().expect("refresh");
    let since = w.data_generation();
    let (lazy_loads, full_loads) = (lazy.loads(), full.loads());
    // A commit as large as the base, then small ones up to the compaction,
    // which must rewrite the whole image (the tail is over a quarter of it).
    let head = w.event_head().expect("head");
    let audit = audit_after(&w, 1);
    w.commit(ChangeSet {
        put_nodes: (0..BASE_NODES)
            .map(|i| node(&format!("wide{i:03}"), &"more words ".repeat(30)))
            .collect(),
        events: vec![event(head + 1, "node.created", &["wide000"])],
        audit,
        ..Default::default()
    })
    .expect("wide commit");
    commit_small(&mut w, &dir, &mut i, FEW_SEGMENTS);
    assert_ne!(base_file(&dir), base, "the base was rewritten");
    // No scanning allowed: the lazy reader's reopen loads, as the full one's.
    set_scan_limit_for_thread(Some(0));
    for r in [&mut lazy, &mut full] {
        assert_eq!(r.refresh().expect("refresh"), w.generation());
        assert_eq!(
            r.data_changes_since(since).expect("changes"),
            None,
            "the change feed restarted"
        );
    }
    set_scan_limit_for_thread(None);
    assert_eq!(lazy.loads(), lazy_loads + 1);
    assert_eq!(full.loads(), full_loads + 1);
    let reference = fresh(&dir);
    for r in [&lazy, &full] {
        assert_eq!(
            snapshot_state(r.state().expect("image")),
            snapshot_state(reference.state().expect("image"))
        );
    }
}

/// A folded segment that does not begin with the bytes the handle read (here:
/// edited on disk with its manifest entry rewritten to match) is not trusted:
/// the handle reloads.
#[test]
fn a_folded_segment_that_does_not_begin_with_what_was_read_reloads() {
    let _compact = CompactEvery::new(FEW_SEGMENTS);
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    let mut w = store_with_base(&dir);
    let mut full = full_reader(&dir);
    let mut i = 0;
    commit_small(&mut w, &dir, &mut i, 2);
    full.refresh().expect("refresh");
    let since = w.data_generation();
    let loads = full.loads();
    let (_, compactions) = commit_small(&mut w, &dir, &mut i, FEW_SEGMENTS);
    assert!(compactions >= 1);
    drop(w);
    // Swap the folded segment's first two records: the same records, another
    // order, its manifest entry updated to match.
    let mut m = manifest(&dir);
    let file = m["segments"][1]["file"]
        .as_str()
        .expect("folded")
        .to_string();
    let path = dir.join("segments").join(&file);
    let bytes = std::fs::read(&path).expect("folded");
    let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    lines.swap(0, 1);
    let swapped = lines.concat();
    assert_ne!(swapped, bytes);
    std::fs::write(&path, &swapped).expect("write");
    m["segments"][1]["blake3"] = format!("blake3:{}", blake3::hash(&swapped).to_hex()).into();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&m).expect("json"),
    )
    .expect("manifest");
    full.refresh().expect("refresh");
    assert_eq!(full.loads(), loads + 1, "reloaded");
    assert_eq!(full.data_changes_since(since).expect("changes"), None);
    assert_eq!(
        snapshot_state(full.state().expect("image")),
        snapshot_state(fresh(&dir).state().expect("image"))
    );
}

/// One step of the property: a commit, then maybe a refresh of either reader.
#[derive(Clone, Debug)]
struct Step {
    draw: Draw,
    /// Without the draw's profile and purge (which restart change feeds), so
    /// that most intervals between refreshes can keep them.
    quiet: bool,
    refresh_lazy: bool,
    refresh_full: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        draw(),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(draw, quiet, refresh_lazy, refresh_full)| Step {
            draw,
            quiet,
            refresh_lazy,
            refresh_full,
        })
}

/// A reader and what it last caught up with.
struct Reader {
    store: FileStore,
    /// The image at the reader's generation (a fresh open's then).
    seen: MemoryState,
    /// Whether a commit since rewrote what a change feed cannot follow.
    restart: bool,
}

impl Reader {
    fn new(dir: &Path, lazy: bool) -> Reader {
        let store = FileStore::open(dir, OpenMode::Shared).expect("reader");
        if !lazy {
            store.state().expect("load");
        }
        let seen = fresh(dir).state().expect("image").clone();
        Reader {
            store,
            seen,
            restart: false,
        }
    }

    /// Refreshes and checks the reader against a fresh open.
    fn refresh(&mut self, dir: &Path) -> Result<(), TestCaseError> {
        let since = self.store.data_generation();
        let loads = self.store.loads();
        let lazy = self.store.is_lazy();
        self.store.refresh().expect("refresh");
        let reference = fresh(dir);
        let now = reference.state().expect("image").clone();
        let changed = self.store.data_changes_since(since).expect("changes");
        if !self.restart {
            prop_assert!(changed.is_some(), "the change feed restarted");
            prop_assert_eq!(self.store.loads(), loads, "the reader loaded");
        }
        if let Some(ids) = changed {
            let ids: BTreeSet<String> = ids.into_iter().collect();
            let truly = changed_between(&self.seen, &now);
            prop_assert!(
                truly.is_subset(&ids),
                "changed {:?} not reported",
                truly.difference(&ids).collect::<Vec<_>>()
            );
        }
        if lazy && self.store.is_lazy() {
            // Asked without loading it (as far as the lazy image can answer).
            let ids: Vec<String> = now
                .nodes
                .keys()
                .chain(self.seen.nodes.keys())
                .cloned()
                .collect();
            prop_assert_eq!(answers(&self.store, &ids), answers(&reference, &ids));
        } else {
            prop_assert_eq!(
                snapshot_state(self.store.state().expect("image")),
                snapshot_state(&now)
            );
        }
        self.seen = now;
        self.restart = false;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Random commits (node and edge puts and deletes, reviews, profiles,
    /// purges, audit prunes) with compactions every few commits; a lazy and a
    /// full-image reader refresh at random points. After each refresh the
    /// reader's image is a fresh open's and its change feed names every node
    /// that changed since its last generation; it neither loads nor restarts
    /// the feed unless a commit since rewrote the base segment, purged or
    /// changed the profile.
    #[test]
    fn lagging_readers_refresh_to_a_fresh_open_with_their_change_feed(
        steps in prop::collection::vec(step(), 1..48),
    ) {
        let _compact = CompactEvery::new(3);
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("s");
        let mut w = store_with_base(&dir);
        // The lazy reader loads its image the first time it answers something
        // lazily it cannot (it then goes on as a full-image reader).
        let mut lazy = Reader::new(&dir, true);
        let mut full = Reader::new(&dir, false);
        for s in &steps {
            let base = base_file(&dir);
            // The base is rewritten by purges and by compactions once the tail
            // outgrows it; the profile restarts a change feed on its own.
            let mut c = realize(&s.draw, &w);
            if s.quiet {
                c.profile = None;
                c.purge = false;
            }
            let restart = c.profile.is_some() || c.purge;
            w.commit(c).expect("commit");
            let restart = restart || base_file(&dir) != base;
            for r in [&mut lazy, &mut full] {
                r.restart |= restart;
            }
            if s.refresh_lazy {
                lazy.refresh(&dir)?;
            }
            if s.refresh_full {
                full.refresh(&dir)?;
            }
        }
        lazy.refresh(&dir)?;
        full.refresh(&dir)?;
    }
}

/// A lazy handle following commits that only audited reads (the event log as
/// the manifest had it) keeps its open event log: the events are still read
/// back from the log's end, without loading the store.
#[test]
fn a_lazy_handle_keeps_its_event_log_across_audit_only_commits() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    let mut w = store_with_base(&dir);
    let mut r = FileStore::open(&dir, OpenMode::Shared).expect("reader");
    assert!(r.is_lazy());
    for _ in 0..3 {
        let audit = audit_after(&w, 1);
        w.commit(ChangeSet {
            audit,
            ..Default::default()
        })
        .expect("audit-only commit");
        r.refresh().expect("refresh");
    }
    let events = r
        .events(&phase_memory_store::EventQuery::default())
        .expect("events");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(r.loads(), 0, "the events came from the kept event log");
    assert!(r.is_lazy());
    assert_eq!(
        format!("{:?}", r.audit_head().expect("audit head")),
        format!("{:?}", w.audit_head().expect("audit head"))
    );
}
