//! Persisted activation snapshots: a fresh runtime on a store another runtime
//! already built the snapshot of reads it from the store folder instead of
//! building it, answers alike, brings an older one forward where the adapter
//! can tell what changed, and never uses a damaged file or one of another
//! profile.

use std::path::{Path, PathBuf};

use phase_memory_activate::Snapshot;
use phase_memory_model::Status;
use phase_memory_runtime::{
    Adapter, Clock, KEEP, Runtime, SNAPSHOT_DIR, open_runtime, persisted_stats, snapshot_file,
};
use serde_json::{Value, json};

use crate::incremental::{activation, dumps, seeded, upsert, writes};
use crate::{T0, check, on_disk, owner, t};

fn open(store: &Path) -> Runtime {
    open_runtime(store, Clock::Fixed(t(T0))).expect("open")
}

/// The persisted snapshot files of a store, oldest first.
fn files(store: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(store.join(SNAPSHOT_DIR))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|x| x == "bin"));
    out.sort();
    out
}

fn answer(rt: &mut Runtime) -> Value {
    let mut v = activation(rt);
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    v
}

/// A store with a few nodes whose snapshot one runtime built (and wrote).
fn built(adapter: Adapter) -> (tempfile::TempDir, PathBuf, Value) {
    let (dir, mut first) = on_disk(adapter, None);
    seeded(&mut first);
    let a = answer(&mut first);
    assert_eq!(first.derived_stats().snapshot_builds, 1);
    let store = dir.path().join("store");
    let generation = first.store().data_generation();
    assert!(
        snapshot_file(&store, generation).is_file(),
        "{adapter:?}: written after the build: {:?}",
        files(&store)
    );
    (dir, store, a)
}

#[test]
fn a_fresh_runtime_loads_the_persisted_snapshot_and_answers_alike() {
    for adapter in [Adapter::File, Adapter::Sqlite] {
        let (_dir, store, a) = built(adapter);
        let loads = persisted_stats().loads;
        let mut second = open(&store);
        let b = answer(&mut second);
        assert_eq!(a, b, "{adapter:?}");
        let stats = second.derived_stats();
        assert_eq!(
            stats.snapshot_builds, 0,
            "{adapter:?}: loaded, not built: {stats:?}"
        );
        assert_eq!(stats.index_rebuilds, 0, "{adapter:?}: {stats:?}");
        assert!(persisted_stats().loads > loads, "{adapter:?}");
        let (snap, fresh) = dumps(&mut second);
        assert_eq!(snap, fresh, "{adapter:?}");
        assert_eq!(files(&store).len(), 1, "{adapter:?}: nothing new written");
    }
}

#[test]
fn after_another_handles_write_it_is_brought_forward_or_rebuilt() {
    for adapter in [Adapter::File, Adapter::Sqlite] {
        let (_dir, store, _) = built(adapter);
        // Opened before the writes, so its handle follows them.
        let mut reader = open(&store);
        let mut writer = open(&store);
        writes(&mut writer);
        let b = answer(&mut reader);
        // Both adapters report what changed since the persisted generation (the
        // file handle from the commits it followed, SQLite from its change feed):
        // brought forward, not built.
        let stats = reader.derived_stats();
        assert_eq!(stats.snapshot_builds, 0, "{adapter:?} {stats:?}");
        let (snap, fresh) = dumps(&mut reader);
        assert_eq!(snap, fresh, "{adapter:?}");
        // Written for the new generation; the newest two kept.
        let generation = reader.store().data_generation();
        assert!(snapshot_file(&store, generation).is_file(), "{adapter:?}");
        assert!(files(&store).len() <= KEEP, "{:?}", files(&store));
        // A runtime opened now loads that one and answers alike.
        let mut third = open(&store);
        assert_eq!(answer(&mut third), b, "{adapter:?}");
        assert_eq!(third.derived_stats().snapshot_builds, 0, "{adapter:?}");
    }
}

#[test]
fn old_generations_are_removed_after_a_write() {
    let (_dir, store, _) = built(Adapter::Sqlite);
    for i in 0..4 {
        let mut writer = open(&store);
        upsert(&mut writer, &format!("n{i}"), &format!("Node {i}"));
        drop(writer);
        // Each fresh runtime brings the newest file forward (SQLite's change
        // feed) and writes the new generation's.
        let mut rt = open(&store);
        answer(&mut rt);
        assert!(files(&store).len() <= KEEP, "{:?}", files(&store));
        let generation = rt.store().data_generation();
        assert!(snapshot_file(&store, generation).is_file());
    }
    assert_eq!(files(&store).len(), KEEP);
}

#[test]
fn a_damaged_file_is_ignored_and_rebuilt_with_the_same_answer() {
    for adapter in [Adapter::File, Adapter::Sqlite] {
        let (_dir, store, a) = built(adapter);
        let file = files(&store).pop().expect("one file");
        let mut bytes = std::fs::read(&file).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&file, &bytes).expect("damage");
        let rejected = persisted_stats().rejected;
        let mut second = open(&store);
        assert_eq!(answer(&mut second), a, "{adapter:?}");
        assert_eq!(second.derived_stats().snapshot_builds, 1, "{adapter:?}");
        assert!(persisted_stats().rejected > rejected);
        // Written again, whole.
        let bytes = std::fs::read(&file).expect("read");
        assert!(Snapshot::decode(&bytes).is_ok(), "{adapter:?}");

        // A file cut short (a writer that died) and a stray temp file: the same.
        std::fs::write(&file, &bytes[..bytes.len() / 3]).expect("cut");
        std::fs::write(store.join(SNAPSHOT_DIR).join(".x.tmp"), b"partial").expect("tmp");
        let mut third = open(&store);
        assert_eq!(answer(&mut third), a, "{adapter:?}");
        assert_eq!(third.derived_stats().snapshot_builds, 1, "{adapter:?}");
    }
}

#[test]
fn a_file_of_another_profile_is_never_used() {
    let (_dir, store, _) = built(Adapter::File);
    // The same store, generation and event head, but tagged with another profile.
    let file = files(&store).pop().expect("one file");
    let (mut key, snap) = Snapshot::decode(&std::fs::read(&file).expect("read")).expect("decode");
    key.profile_digest = "another profile".into();
    std::fs::write(&file, snap.encode(&key)).expect("write");
    let mut rt = open(&store);
    answer(&mut rt);
    assert_eq!(rt.derived_stats().snapshot_builds, 1, "built, not loaded");

    // A profile applied: the files of the old one are not used after it.
    let source = phase_memory_profile::DEFAULT_PROFILE_TOML.replacen(
        "activation_weight = 0.8",
        "activation_weight = 0.7",
        1,
    );
    check(
        &mut rt,
        &owner(),
        "profile.apply",
        json!({"source": source}),
        Status::Ok,
    );
    let mut after = open(&store);
    answer(&mut after);
    assert_eq!(
        after.derived_stats().snapshot_builds,
        1,
        "built under the new profile"
    );
    let (snap, fresh) = dumps(&mut after);
    assert_eq!(snap, fresh);
}
