//! Integration tests of the full-text index: search order, upsert/delete, generation,
//! persistence, rebuild, and purge leaving no deleted text on disk.

use std::path::Path;

use phase_memory_index::{FullTextIndex, IndexOptions};
use phase_memory_model::{Node, Time, Tombstone};
use proptest::prelude::*;

mod feedback;
mod layout;
mod overlay;

fn node(id: &str, title: &str, body: &str) -> Node {
    Node {
        id: id.into(),
        kind: "fact".into(),
        phase: "active".into(),
        title: title.into(),
        body: body.into(),
        labels: vec![],
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: Default::default(),
        created_at: Time::EPOCH,
        updated_at: Time::EPOCH,
        valid_from: None,
        valid_to: None,
        tokens: 0,
        tombstone: None,
        implicit_time: false,
    }
}

fn small() -> IndexOptions {
    IndexOptions {
        num_threads: 1,
        memory_budget_bytes: 20_000_000,
        ..IndexOptions::default()
    }
}

fn ram(nodes: &[Node]) -> FullTextIndex {
    let mut idx = FullTextIndex::open_or_create_with(None, small()).expect("ram index");
    idx.upsert(nodes).expect("upsert");
    idx.commit(1).expect("commit");
    idx
}

/// Checks the ids a search returns, in order.
fn check(idx: &FullTextIndex, cue: &str, expect: &[&str]) {
    let hits = idx.search(cue, 10).expect("search");
    let ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, expect, "cue {cue:?} gave {hits:?}");
    for w in hits.windows(2) {
        assert!(w[0].1 >= w[1].1, "scores descending: {hits:?}");
    }
}

fn corpus() -> Vec<Node> {
    vec![
        node("paris", "Paris", "Paris is the capital of France."),
        node("berlin", "Berlin", "Berlin is the capital of Germany."),
        node(
            "france",
            "France",
            "France is a country in Europe. Its wine is famous.",
        ),
        node(
            "cafe",
            "Café crème",
            "A café in Zürich serves crème brûlée.",
        ),
    ]
}

#[test]
fn bm25_ranks_title_and_body_matches() {
    let idx = ram(&corpus());
    check(&idx, "paris", &["paris"]);
    // A title match outweighs a body match (short field, BM25 length norm).
    check(&idx, "capital France", &["france", "paris", "berlin"]);
    check(&idx, "CAPITAL", &["berlin", "paris"]);
    check(&idx, "nothing-matches-this", &[]);
    // Accents fold to ASCII in both the index and the cue.
    check(&idx, "cafe creme zurich", &["cafe"]);
    check(&idx, "Zürich", &["cafe"]);
    assert_eq!(idx.doc_count(), 4);
}

#[test]
fn user_text_never_fails_to_parse() {
    let idx = ram(&corpus());
    for cue in [
        "",
        "   ",
        "\"unbalanced",
        "title:paris AND (",
        "+-*~^[]{}:\\/!",
        "paris^3",
        "NOT OR AND",
        "\u{0}\u{1f}💥",
    ] {
        let r = idx.search(cue, 5);
        assert!(r.is_ok(), "cue {cue:?}: {r:?}");
    }
    check(&idx, "title:paris AND (", &["paris"]);
    assert!(idx.search("paris", 0).expect("limit 0").is_empty());
}

#[test]
fn ties_break_by_id() {
    let nodes: Vec<Node> = ["d", "b", "c", "a"]
        .iter()
        .map(|id| node(id, "", "same words here"))
        .collect();
    let idx = ram(&nodes);
    check(&idx, "same", &["a", "b", "c", "d"]);
}

#[test]
fn upsert_replaces_and_tombstones_remove() {
    let mut idx = ram(&corpus());
    idx.upsert(&[node("paris", "Lutetia", "An old Roman town.")])
        .expect("upsert");
    // Not visible before commit.
    check(&idx, "roman", &[]);
    idx.commit(2).expect("commit");
    check(&idx, "roman", &["paris"]);
    check(&idx, "capital", &["berlin"]);
    let mut gone = node("berlin", "", "");
    gone.tombstone = Some(Tombstone {
        content_hash: "blake3:00".into(),
        forgotten_at: Time::EPOCH,
        reason: "rule".into(),
    });
    idx.upsert(&[gone]).expect("upsert tombstone");
    idx.delete(&["france".to_string(), "unknown".to_string()])
        .expect("delete");
    idx.commit(3).expect("commit");
    check(&idx, "capital", &[]);
    check(&idx, "europe", &[]);
    assert_eq!(idx.doc_count(), 2);
    assert_eq!(idx.generation(), Some(3));
}

#[test]
fn persistent_index_keeps_documents_and_generation() {
    for durable in [true, false] {
        persistent_index_keeps_documents_and_generation_with(IndexOptions { durable, ..small() });
    }
}

fn persistent_index_keeps_documents_and_generation_with(options: IndexOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested").join("index");
    {
        let mut idx = FullTextIndex::open_or_create_with(Some(&path), options).expect("create");
        assert_eq!(idx.generation(), None);
        assert_eq!(idx.doc_count(), 0);
        idx.upsert(&corpus()).expect("upsert");
        idx.commit(7).expect("commit");
        // A second handle on the same folder reads what the first committed, but
        // cannot write while the first holds the writer: an error, not a panic.
        let mut second =
            FullTextIndex::open_or_create_with(Some(&path), options).expect("second handle");
        assert_eq!(second.generation(), Some(7));
        check(&second, "germany", &["berlin"]);
        assert!(second.upsert(&corpus()).is_err());
        // Once the first gives the writer up, the second may write; the first sees
        // it after a reload.
        idx.release_writer();
        second.delete(&["berlin".to_string()]).expect("delete");
        second.commit(8).expect("commit");
        idx.reload().expect("reload");
        assert_eq!(idx.generation(), Some(8));
        assert_eq!(idx.doc_count(), 3);
        second.release_writer();
        idx.upsert(&corpus()).expect("upsert again");
        idx.commit(7).expect("commit");
    }
    let mut idx = FullTextIndex::open_or_create_with(Some(&path), options).expect("reopen");
    assert_eq!(idx.generation(), Some(7));
    assert_eq!(idx.doc_count(), 4);
    check(&idx, "germany", &["berlin"]);
    idx.rebuild(corpus()[..1].iter(), 9).expect("rebuild");
    assert_eq!(idx.generation(), Some(9));
    assert_eq!(idx.doc_count(), 1);
    check(&idx, "capital", &["paris"]);
}

/// An index written without syncing that an operating-system crash left
/// unreadable (here: a damaged `meta.json`, a segment file gone) is cleared on
/// open and reports no generation, so its user rebuilds it; a durable index
/// reports the damage instead.
#[test]
fn an_unreadable_relaxed_index_is_cleared_on_open() {
    let relaxed = IndexOptions {
        durable: false,
        ..small()
    };
    let damages: [fn(&Path); 2] = [
        |p| std::fs::write(p.join("meta.json"), b"{\"segments\": [").expect("damage"),
        |p| {
            for e in std::fs::read_dir(p).expect("dir").flatten() {
                if e.path().extension().is_some_and(|x| x == "idx") {
                    std::fs::remove_file(e.path()).expect("remove");
                }
            }
        },
    ];
    for (i, damage) in damages.iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        {
            let mut idx = FullTextIndex::open_or_create_with(Some(&path), relaxed).expect("create");
            idx.upsert(&corpus()).expect("upsert");
            idx.commit(3).expect("commit");
        }
        // Written without sync, read back by a new handle all the same.
        let idx = FullTextIndex::open_or_create_with(Some(&path), relaxed).expect("reopen");
        assert_eq!(idx.generation(), Some(3), "damage {i}");
        check(&idx, "germany", &["berlin"]);
        drop(idx);
        damage(&path);
        let durable = FullTextIndex::open_or_create_with(Some(&path), small());
        assert!(durable.is_err(), "damage {i}: a durable open reports it");
        let mut idx = FullTextIndex::open_or_create_with(Some(&path), relaxed).expect("cleared");
        assert_eq!(idx.generation(), None, "damage {i}");
        assert_eq!(idx.doc_count(), 0, "damage {i}");
        idx.rebuild(corpus().iter(), 4).expect("rebuild");
        check(&idx, "germany", &["berlin"]);
    }
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    found
}

#[test]
fn purge_leaves_no_deleted_text_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    let word = "zqxjsecretword";
    let mut idx = FullTextIndex::open_or_create_with(Some(&path), small()).expect("create");
    idx.upsert(&corpus()).expect("upsert");
    idx.commit(1).expect("commit");
    idx.upsert(&[node("secret", "Secret", &format!("the {word} is here"))])
        .expect("upsert");
    idx.commit(2).expect("commit");
    // Another commit so there are several segments.
    idx.upsert(&[node("other", "Other", "unrelated text")])
        .expect("upsert");
    idx.commit(3).expect("commit");
    check(&idx, word, &["secret"]);
    idx.delete(&["secret".to_string()]).expect("delete");
    idx.commit(4).expect("commit");
    idx.purge().expect("purge");
    assert_eq!(
        files_containing(&path, word.as_bytes()),
        Vec::<String>::new()
    );
    assert_eq!(
        files_containing(&path, b"secret"),
        Vec::<String>::new(),
        "not even the id"
    );
    check(&idx, word, &[]);
    check(&idx, "capital", &["berlin", "paris"]);
    assert_eq!(idx.generation(), Some(4));
    assert_eq!(idx.doc_count(), 5);
    drop(idx);
    let idx = FullTextIndex::open_or_create_with(Some(&path), small()).expect("reopen");
    assert_eq!(idx.generation(), Some(4));
    // Purging an index whose every document is deleted also works.
    let mut idx = idx;
    let ids: Vec<String> = ["paris", "berlin", "france", "cafe", "other"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    idx.delete(&ids).expect("delete all");
    idx.commit(5).expect("commit");
    idx.purge().expect("purge empty");
    assert_eq!(idx.doc_count(), 0);
    assert_eq!(files_containing(&path, b"capital"), Vec::<String>::new());
}

#[test]
fn ram_index_purges_too() {
    let mut idx = ram(&corpus());
    idx.delete(&["paris".to_string()]).expect("delete");
    idx.purge().expect("purge");
    assert_eq!(idx.doc_count(), 3);
    assert_eq!(idx.generation(), Some(1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any text is a valid cue, and results are ordered and deterministic.
    #[test]
    fn any_cue_searches(cue in ".{0,40}") {
        let idx = ram(&corpus());
        let a = idx.search(&cue, 10).expect("search");
        let b = idx.search(&cue, 10).expect("search");
        prop_assert_eq!(&a, &b);
        for w in a.windows(2) {
            prop_assert!(w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0));
        }
    }
}

/// The same documents indexed with one or four threads, in different commit
/// batches, give identical hits and scores; ties at the cut-off are chosen by id.
#[test]
fn hits_do_not_depend_on_threads_or_segments() {
    let mut docs = Vec::new();
    for i in 0..300 {
        docs.push(node(
            &format!("n{i:03}"),
            "",
            &format!("movies and hiking with friend {} on the weekend", i % 7),
        ));
    }
    let build = |threads: usize, batch: usize| {
        let mut idx = FullTextIndex::open_or_create_with(
            None,
            IndexOptions {
                num_threads: threads,
                memory_budget_bytes: 60_000_000,
                ..IndexOptions::default()
            },
        )
        .expect("ram index");
        for (g, chunk) in docs.chunks(batch).enumerate() {
            idx.upsert(chunk).expect("upsert");
            idx.commit(g as u64 + 1).expect("commit");
        }
        idx
    };
    let a = build(1, 300);
    let b = build(4, 37);
    for cue in ["movie", "hiking friends 3", "weekend", "the"] {
        let ha = a.search(cue, 10).expect("search");
        let hb = b.search(cue, 10).expect("search");
        // The same documents in the same order; scores equal up to the last bits
        // (a multi-term sum may be added up in another order per segment).
        let ids = |h: &[(String, f32)]| h.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&ha), ids(&hb), "{cue}");
        for (x, y) in ha.iter().zip(&hb) {
            assert!(
                (x.1 - y.1).abs() <= 1e-4 * x.1.abs().max(1.0),
                "{cue}: {x:?} vs {y:?}"
            );
        }
    }
    // Every document ties on "weekend": the first ten by id.
    let ids: Vec<String> = a
        .search("weekend", 10)
        .expect("search")
        .into_iter()
        .map(|h| h.0)
        .collect();
    let want: Vec<String> = (0..10).map(|i| format!("n{i:03}")).collect();
    assert_eq!(ids, want);
}

/// English analysis: stemming, stop words; a scope filter applies before the limit.
#[test]
fn english_analysis_and_scopes() {
    let mut docs = vec![
        node("a", "", "We watched two movies last night"),
        node("b", "", "What did you eat today?"),
        node("c", "", "The movie was long"),
    ];
    docs[2].scope = "other".into();
    let idx = ram(&docs);
    // "movies" is stemmed to the same term; the shorter document ranks first.
    check(&idx, "movie", &["c", "a"]);
    // Stop words alone match nothing.
    check(&idx, "what did you", &[]);
    assert_eq!(idx.terms("The Movies"), vec!["movi"]);
    let scopes = ["other".to_string()];
    let mut s = phase_memory_index::Search::new("movies", 1);
    s.scopes = Some(&scopes);
    let hits = idx.search_with(&s).expect("search");
    assert_eq!(
        hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        vec!["c"]
    );
    s.scopes = Some(&[]);
    assert!(idx.search_with(&s).expect("search").is_empty());
    assert_eq!(phase_memory_index::scope_filter(&["*".into()], None), None);
    assert_eq!(
        phase_memory_index::scope_filter(
            &["a".into(), "b".into()],
            Some(&["b".into(), "z".into()])
        ),
        Some(vec!["b".to_string()])
    );
    assert_eq!(
        phase_memory_index::scope_filter(&["*".into()], Some(&["z".into()])),
        Some(vec!["z".to_string()])
    );
}

/// An index written by an older analyzer version reports no generation (so the
/// runtime rebuilds it) and one with another schema is recreated.
#[test]
fn an_index_of_another_version_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    {
        let mut idx = FullTextIndex::open_or_create_with(
            Some(&path),
            IndexOptions {
                analysis: phase_memory_index::Analysis::Simple,
                ..small()
            },
        )
        .expect("create");
        idx.upsert(&corpus()).expect("upsert");
        idx.commit(3).expect("commit");
        assert_eq!(idx.generation(), Some(3));
    }
    let idx = FullTextIndex::open_or_create_with(Some(&path), small()).expect("reopen");
    assert_eq!(idx.generation(), None, "another analysis must be rebuilt");
    // A folder holding an index with a different schema is cleared.
    drop(idx);
    let other = dir.path().join("old");
    {
        let mut b = tantivy_schema_v1();
        let _ = &mut b;
        std::fs::create_dir_all(&other).expect("mkdir");
        let index = tantivy::Index::create_in_dir(&other, b.build()).expect("old index");
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).expect("writer");
        w.commit().expect("commit");
    }
    let idx = FullTextIndex::open_or_create_with(Some(&other), small()).expect("recreated");
    assert_eq!(idx.generation(), None);
    assert_eq!(idx.doc_count(), 0);
}

/// An index folder of schema version 2 (the node id stored, not a fast field),
/// with documents and a generation, is cleared on open: it reports no
/// generation (its user rebuilds it) and no documents; the rebuilt index finds
/// every node by its id again.
#[test]
fn an_index_of_schema_version_2_is_cleared_and_rebuilt() {
    use tantivy::schema::{IndexRecordOption, STORED, STRING, TextFieldIndexing, TextOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    {
        let mut b = tantivy::schema::Schema::builder();
        let id = b.add_text_field("id", STRING | STORED);
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let title = b.add_text_field("title", text.clone());
        b.add_text_field("body", text.clone());
        b.add_text_field("exact", text);
        b.add_text_field("scope", STRING);
        std::fs::create_dir_all(&path).expect("mkdir");
        let index = tantivy::Index::create_in_dir(&path, b.build()).expect("v2 index");
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).expect("writer");
        let mut doc = tantivy::TantivyDocument::default();
        doc.add_text(id, "paris");
        doc.add_text(title, "Paris");
        w.add_document(doc).expect("add");
        let mut prepared = w.prepare_commit().expect("prepare");
        prepared.set_payload(r#"{"generation":7,"analyzer":2,"analysis":"english"}"#);
        prepared.commit().expect("commit");
    }
    let mut idx = FullTextIndex::open_or_create_with(Some(&path), small()).expect("reopen");
    assert_eq!(idx.generation(), None, "a version-2 index must be rebuilt");
    assert_eq!(idx.doc_count(), 0, "its documents are cleared");
    let nodes = corpus();
    idx.rebuild(nodes.iter(), 8).expect("rebuild");
    assert_eq!(idx.generation(), Some(8));
    assert_eq!(idx.doc_count(), nodes.len() as u64);
    let hits = idx.search("Paris capital", 10).expect("search");
    assert_eq!(
        hits.first().map(|h| h.0.as_str()),
        Some("paris"),
        "{hits:?}"
    );
    drop(idx);
    let idx = FullTextIndex::open_or_create_with(Some(&path), small()).expect("reopen again");
    assert_eq!(idx.generation(), Some(8), "the rebuilt index is kept");
}

/// A rebuild with several indexing threads leaves one segment (searched with
/// one top-hits threshold), and the same hits as documents written one commit
/// at a time (several segments).
#[test]
fn a_rebuild_leaves_one_segment_with_the_same_hits() {
    let nodes: Vec<Node> = (0..3000)
        .map(|i| {
            node(
                &format!("n{i:05}"),
                &format!("title {} word{}", i % 7, i % 13),
                &format!("body word{} word{} shared text {}", i % 11, i % 17, i % 5),
            )
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rebuilt = FullTextIndex::open_or_create_with(
        Some(&dir.path().join("a")),
        IndexOptions {
            num_threads: 2,
            memory_budget_bytes: 40_000_000,
            ..IndexOptions::default()
        },
    )
    .expect("open");
    rebuilt.rebuild(nodes.iter(), 1).expect("rebuild");
    assert_eq!(rebuilt.segment_count(), 1);
    let mut layered =
        FullTextIndex::open_or_create_with(Some(&dir.path().join("b")), small()).expect("open");
    for (g, chunk) in nodes.chunks(700).enumerate() {
        layered.upsert(chunk).expect("upsert");
        layered.commit(g as u64 + 1).expect("commit");
    }
    assert!(layered.segment_count() > 1);
    for cue in ["word3 shared", "title 4 word12", "text body word9 word16"] {
        let a = rebuilt.search(cue, 216).expect("search");
        let b = layered.search(cue, 216).expect("search");
        assert!(!a.is_empty(), "{cue}");
        // The same ids in the same order; scores equal but for the last bits
        // (the order terms are summed in depends on the segments).
        let ids = |h: &[(String, f32)]| h.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b), "{cue}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x.1 - y.1).abs() < 1e-4, "{cue}: {x:?} {y:?}");
        }
    }
}

fn tantivy_schema_v1() -> tantivy::schema::SchemaBuilder {
    use tantivy::schema::{STORED, STRING, TEXT};
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("id", STRING | STORED);
    b.add_text_field("title", TEXT);
    b.add_text_field("body", TEXT);
    b
}

/// Into an empty index the first document of a node is added without a delete;
/// a node repeated in the batch, a second batch before the commit, and documents
/// another handle committed (this handle's reader not reloaded) are still
/// replaced, never duplicated.
#[test]
fn upserts_into_an_empty_index_never_duplicate() {
    let mut idx = FullTextIndex::open_or_create_with(None, small()).expect("ram index");
    let mut batch = corpus();
    batch.push(node("paris", "Paris", "Paris again, the capital."));
    idx.upsert(&batch).expect("upsert");
    idx.upsert(&corpus()[..1])
        .expect("second batch before the commit");
    idx.commit(1).expect("commit");
    assert_eq!(idx.doc_count(), corpus().len() as u64);
    // The last upsert of "paris" (the corpus text) replaced "Paris again".
    check(&idx, "again", &[]);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    let mut stale = FullTextIndex::open_or_create_with(Some(&path), small()).expect("create");
    let mut other = FullTextIndex::open_or_create_with(Some(&path), small()).expect("second");
    other.upsert(&corpus()).expect("other writes");
    other.commit(1).expect("commit");
    other.release_writer();
    // `stale` has not reloaded: its reader still sees an empty index.
    stale
        .upsert(&corpus())
        .expect("upsert over the other's commit");
    stale.commit(2).expect("commit");
    assert_eq!(stale.doc_count(), corpus().len() as u64);
}

/// A segment's first search reads its hits' ids from the id dictionary, later
/// ones from the segment's id table: both give the same hits, before and after
/// documents are replaced and deleted (and new segments written).
#[test]
fn first_and_later_searches_of_a_segment_give_the_same_hits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), small()).expect("open");
    let nodes: Vec<Node> = (0..500)
        .map(|i| {
            node(
                &format!("id-{i:03}"),
                &format!("word{}", i % 9),
                "common text",
            )
        })
        .collect();
    idx.upsert(&nodes).expect("upsert");
    idx.commit(1).expect("commit");
    let first = idx.search("word3 common", 100).expect("first");
    assert_eq!(first.len(), 100);
    for _ in 0..3 {
        assert_eq!(idx.search("word3 common", 100).expect("again"), first);
    }
    idx.upsert(&[node("id-003", "word3 word3", "common")])
        .expect("upsert");
    idx.delete(&["id-012".to_string()]).expect("delete");
    idx.commit(2).expect("commit");
    let after: Vec<Vec<(String, f32)>> = (0..3)
        .map(|_| idx.search("word3 common", 100).expect("search"))
        .collect();
    assert_eq!(after[0].first().map(|h| h.0.as_str()), Some("id-003"));
    assert!(after[0].iter().all(|h| h.0 != "id-012"));
    assert_eq!(after[0], after[1]);
    assert_eq!(after[1], after[2]);
}

/// Ids with multi-byte characters read back whole from the id table (checked
/// as UTF-8 once per table) as from the id dictionary.
#[test]
fn multi_byte_ids_read_back_whole_from_the_id_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), small()).expect("open");
    let ids: Vec<String> = (0..60)
        .map(|i| match i % 3 {
            0 => format!("ид-{i:02}"),
            1 => format!("n{i:02}-日本語"),
            _ => format!("e{i:02}\u{301}🙂"),
        })
        .collect();
    let nodes: Vec<Node> = ids
        .iter()
        .map(|id| node(id, "shared title", "shared words"))
        .collect();
    idx.upsert(&nodes).expect("upsert");
    idx.commit(1).expect("commit");
    let first = idx.search("shared", 100).expect("first");
    let later = idx.search("shared", 100).expect("later");
    assert_eq!(first, later);
    let mut found: Vec<String> = later.into_iter().map(|h| h.0).collect();
    found.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(found, want);
}
