//! The legacy v1 layout (the original project's): `meta.json`, one JSON file per node
//! under `nodes/`, `edges.jsonl`, `events.jsonl`, `audit.jsonl`, one JSON file per
//! review under `reviews/`, optional `profile.toml`; no checksums, no manifest.
//! This build reads it and migrates it; [`write_store`] writes it for fixtures.

use std::collections::BTreeMap;
use std::path::Path;

use phase_memory_model::{AuditRecord, Edge, Node, Review};
use phase_memory_store::{MemoryState, StoreError, StoreMeta, StoreResult};
use serde::de::DeserializeOwned;

use crate::fs::{Fs, RealFs};
use crate::layout::{self, corrupt, io_err, pretty_json, read_json, write_atomic};

/// Node files.
pub const NODES: &str = "nodes";
/// Review files.
pub const REVIEWS: &str = "reviews";
/// Edge lines.
pub const EDGES: &str = "edges.jsonl";
/// The profile.
pub const PROFILE: &str = "profile.toml";

/// Longest escaped name kept whole; longer ones are cut and suffixed with a hash.
const MAX_NAME: usize = 160;

/// Escapes an id into a file name that is safe on every common file system: ASCII
/// lowercase letters, digits, `-` and `_` stay; every other byte (including `.`, `/`
/// and uppercase letters, which case-insensitive systems would fold) becomes `%XX`.
/// Long names are cut and end in a hash of the id, so they stay unique.
pub fn escape_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_NAME {
        let hash = blake3::hash(id.as_bytes()).to_hex();
        out.truncate(MAX_NAME - 18);
        while out.ends_with('%') || out.as_bytes().get(out.len().wrapping_sub(2)) == Some(&b'%') {
            out.pop();
        }
        out.push('~');
        out.push_str(&hash[..16]);
    }
    out
}

/// Reads every `*.json` record of a v1 folder; the id inside each file must escape to
/// its file name.
fn read_dir_records<T: DeserializeOwned>(
    dir: &Path,
    sub: &str,
    id_of: fn(&T) -> &str,
) -> StoreResult<Vec<T>> {
    let folder = dir.join(sub);
    let entries = match std::fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", &folder, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("listing", &folder, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let rel = format!("{sub}/{name}");
        let rec: T = read_json(&entry.path(), &rel)?;
        if escape_id(id_of(&rec)) != stem {
            return Err(corrupt(
                rel,
                format!("holds id {:?}, which belongs in another file", id_of(&rec)),
            ));
        }
        out.push(rec);
    }
    Ok(out)
}

fn read_lines<T: DeserializeOwned>(dir: &Path, name: &str) -> StoreResult<Vec<T>> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading", &path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| corrupt(format!("{name}:{}", i + 1), format!("does not parse: {e}")))
        })
        .collect()
}

/// Loads a v1 store into an image. Its meta lists the pending migration.
pub fn load(dir: &Path) -> StoreResult<MemoryState> {
    let mut meta: StoreMeta = read_json(&dir.join(layout::META), layout::META)?;
    if !meta
        .planned_migrations
        .iter()
        .any(|m| m == layout::MIGRATION_0002)
    {
        meta.planned_migrations.push(layout::MIGRATION_0002.into());
    }
    let mut state = MemoryState::new(meta);
    for n in read_dir_records::<Node>(dir, NODES, |n| &n.id)? {
        state.nodes.insert(n.id.clone(), n);
    }
    for r in read_dir_records::<Review>(dir, REVIEWS, |r| &r.id)? {
        state.reviews.insert(r.id.clone(), r);
    }
    let edges: Vec<Edge> = read_lines(dir, EDGES)?;
    for e in edges {
        state.edges.insert(e.key(), e);
    }
    state.events = read_lines(dir, layout::EVENTS)?;
    state.audit = read_lines(dir, layout::AUDIT)?;
    for (name, seqs) in [
        (
            layout::EVENTS,
            state.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        ),
        (layout::AUDIT, state.audit.iter().map(|r| r.seq).collect()),
    ] {
        if let Some(i) = seqs.windows(2).position(|w| w[1] <= w[0]) {
            return Err(corrupt(
                format!("{name}:{}", i + 2),
                "seq does not grow: lines were reordered or duplicated",
            ));
        }
    }
    let profile_path = dir.join(PROFILE);
    state.profile = match std::fs::read_to_string(&profile_path) {
        Ok(p) => Some(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("reading", &profile_path, e)),
    };
    Ok(state)
}

fn jsonl<T: serde::Serialize>(items: impl Iterator<Item = T>) -> StoreResult<Vec<u8>> {
    let mut out = Vec::new();
    for it in items {
        serde_json::to_writer(&mut out, &it)
            .map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Writes `state` as a v1 store into `dir` (for fixtures and migration tests).
/// `meta.schema_version` is written as 1.
pub fn write_store(dir: &Path, state: &MemoryState) -> StoreResult<()> {
    let fs = RealFs;
    for sub in ["", NODES, REVIEWS] {
        let p = dir.join(sub);
        fs.create_dir_all(&p)
            .map_err(|e| io_err("creating", &p, e))?;
    }
    let mut meta = state.meta.clone();
    meta.schema_version = 1;
    meta.planned_migrations.clear();
    write_atomic(&fs, &dir.join(layout::META), &pretty_json(&meta)?)?;
    let mut seen = BTreeMap::new();
    for n in state.nodes.values() {
        let name = format!("{}.json", escape_id(&n.id));
        if let Some(other) = seen.insert(name.clone(), n.id.clone()) {
            return Err(StoreError::InvalidChange(format!(
                "ids {other:?} and {:?} escape to the same file",
                n.id
            )));
        }
        write_atomic(&fs, &dir.join(NODES).join(name), &pretty_json(n)?)?;
    }
    for r in state.reviews.values() {
        let name = format!("{}.json", escape_id(&r.id));
        write_atomic(&fs, &dir.join(REVIEWS).join(name), &pretty_json(r)?)?;
    }
    write_atomic(&fs, &dir.join(EDGES), &jsonl(state.edges.values())?)?;
    write_atomic(&fs, &dir.join(layout::EVENTS), &jsonl(state.events.iter())?)?;
    write_atomic(
        &fs,
        &dir.join(layout::AUDIT),
        &jsonl::<&AuditRecord>(state.audit.iter())?,
    )?;
    if let Some(p) = &state.profile {
        write_atomic(&fs, &dir.join(PROFILE), p.as_bytes())?;
    }
    Ok(())
}
