//! The full-text index of a store folder keeps the documents of small writes in
//! memory: a pool's runtimes share them (a write of one is found by another
//! without a commit of the index folder), another process catches the folder
//! up from the store, and the folder is written when the runtimes go.

use phase_memory_index::{FullTextIndex, IndexOptions};
use phase_memory_model::Status;
use phase_memory_runtime::{Adapter, Clock, Runtime, SharedSnapshot, open_runtime};
use serde_json::json;

use crate::incremental::{seeded, upsert};
use crate::{T0, check, on_disk, owner, pool, t};

/// The index part of `health.check`: (fresh, generation, documents).
fn index_health(rt: &mut Runtime) -> (bool, Option<u64>, u64) {
    let env = check(rt, &owner(), "health.check", json!({}), Status::Ok);
    let i = &env.data["index"];
    (
        i["fresh"].as_bool().unwrap_or(false),
        i["generation"].as_u64(),
        i["documents"].as_u64().unwrap_or(0),
    )
}

/// The generation the index folder records (what a new process finds).
fn folder_generation(store: &std::path::Path) -> Option<u64> {
    let options = IndexOptions {
        durable: false,
        ..Default::default()
    };
    FullTextIndex::open_or_create_with(Some(&store.join("index")), options)
        .expect("index")
        .generation()
}

#[test]
fn a_pool_shares_the_documents_of_small_writes_and_writes_them_when_it_goes() {
    for adapter in [Adapter::File, Adapter::Sqlite] {
        let (dir, mut seed) = on_disk(adapter, None);
        seeded(&mut seed);
        drop(seed);
        let path = dir.path().join("store");
        let written = folder_generation(&path);
        let shared = SharedSnapshot::new();
        let mut pool = pool(&path, &shared, 2);
        assert_eq!(index_health(&mut pool[1]).2, 3, "{adapter:?}");
        upsert(&mut pool[0], "zebra", "Zebra");
        upsert(&mut pool[0], "louvre", "Museum");
        let generation = pool[0].store().data_generation();
        // The other runtime of the pool sees the index at the new generation
        // with the new document, with no catch-up or rebuild of its own...
        let (fresh, at, documents) = index_health(&mut pool[1]);
        assert!(fresh, "{adapter:?}");
        assert!(at >= Some(generation), "{adapter:?}: {at:?}");
        assert_eq!(documents, 4, "{adapter:?}");
        let stats = pool[1].derived_stats();
        assert_eq!(
            (stats.index_rebuilds, stats.index_catch_ups),
            (0, 0),
            "{adapter:?}"
        );
        // ...while the folder still records the generation before the writes.
        assert_eq!(folder_generation(&path), written, "{adapter:?}");
        // A runtime of another process catches up from the store.
        let mut other = open_runtime(&path, Clock::Fixed(t(T0))).expect("open");
        let stats = other.derived_stats();
        assert_eq!(
            (stats.index_rebuilds, stats.index_catch_ups),
            (0, 1),
            "{adapter:?}"
        );
        assert_eq!(index_health(&mut other), (true, at, 4), "{adapter:?}");
        drop(other);
        drop(pool);
        assert!(
            folder_generation(&path) >= Some(generation),
            "{adapter:?}: written when the pool went"
        );
        let mut fresh = open_runtime(&path, Clock::Fixed(t(T0))).expect("open");
        let stats = fresh.derived_stats();
        assert_eq!(
            (stats.index_rebuilds, stats.index_catch_ups),
            (0, 0),
            "{adapter:?}"
        );
        assert_eq!(index_health(&mut fresh).2, 4, "{adapter:?}");
    }
}
