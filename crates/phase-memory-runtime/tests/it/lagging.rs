//! A runtime whose file store handle lags behind compactions (it was idle while
//! another handle committed enough to compact, as a pool runtime often is) brings
//! its activation snapshot forward with what those commits changed instead of
//! building it from the whole store again.

use phase_memory_model::Status;
use phase_memory_runtime::{Adapter, Clock, open_runtime};
use serde_json::json;

use crate::incremental::{activation, dumps, upsert};
use crate::{T0, check, on_disk, owner, t};

fn first_segment(store: &std::path::Path) -> String {
    let bytes = std::fs::read(store.join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest parses");
    m["segments"][0]["file"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_runtime_lagging_behind_compactions_brings_its_snapshot_forward() {
    let (dir, mut writer) = on_disk(Adapter::File, None);
    let store = dir.path().join("store");
    // One import: a first segment large next to the single upserts after it, so
    // the compactions fold them and keep it.
    let notes: Vec<_> = (0..400)
        .map(|k| {
            json!({"record": "node", "id": format!("n{k:05}"), "kind": "fact",
                   "title": format!("Note {k}"),
                   "body": format!("Plain note number {k} about paris, louvre and nothing in particular.")})
        })
        .collect();
    check(
        &mut writer,
        &owner(),
        "graph.import",
        json!({"records": notes}),
        Status::Ok,
    );
    upsert(&mut writer, "paris", "Paris");
    let mut reader = open_runtime(&store, Clock::Fixed(t(T0))).expect("open");
    activation(&mut reader);
    let before = reader.derived_stats();
    let base = first_segment(&store);
    // The reader is idle while more than two compactions' worth of upserts
    // (32 segments each) are committed.
    for i in 0..80 {
        upsert(&mut writer, &format!("late{i:02}"), "Paris late");
    }
    assert_eq!(first_segment(&store), base, "the compactions kept the base");
    activation(&mut reader);
    let after = reader.derived_stats();
    assert_eq!(
        after.snapshot_builds, before.snapshot_builds,
        "rebuilt: {after:?}"
    );
    assert_eq!(
        after.snapshot_updates,
        before.snapshot_updates + 1,
        "brought forward once: {after:?}"
    );
    let (snap, fresh) = dumps(&mut reader);
    assert_eq!(snap, fresh);
    assert!(snap.contains("\"late79\""));
}
