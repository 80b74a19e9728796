//! Integrity check and repair: corrupt records, missing files, uncommitted tails and
//! orphaned paths; repair rebuilds damaged files from the image and moves what it
//! cannot read into `quarantine/` (never a silent delete).

use std::collections::BTreeSet;
use std::path::Path;

use phase_memory_store::{IntegrityFinding, SCHEMA_VERSION, StoreError, StoreResult};

use crate::FileStore;
use crate::commit::{
    cut_tails, ensure_dir, full_image, quarantine_path, rel_of, settle, write_segment,
};
use crate::layout::{self, LogEntry, Manifest, ProfileEntry, blake3_hex, io_err, pretty_json};
use crate::load::{self, Damage, DamageKind, resolve_log};
use crate::record::encode_lines;

fn finding(code: &str, location: String, message: String) -> IntegrityFinding {
    IntegrityFinding {
        code: code.into(),
        location,
        message,
        fixable: true,
    }
}

/// The findings of one damaged file.
fn damage_findings(d: &Damage) -> Vec<IntegrityFinding> {
    match &d.kind {
        DamageKind::BadLines(lines) => lines
            .iter()
            .map(|l| {
                finding(
                    "store.corrupt_record",
                    format!("{}:{}", d.rel, l.line),
                    format!("line {}: {}", l.line, l.detail),
                )
            })
            .collect(),
        DamageKind::Missing => vec![finding(
            "store.corrupt_record",
            d.rel.clone(),
            "a file the manifest names is missing; its records are lost".into(),
        )],
        DamageKind::Mismatch(why) => {
            vec![finding("store.corrupt_record", d.rel.clone(), why.clone())]
        }
        DamageKind::Short { have } => vec![finding(
            "store.corrupt_record",
            d.rel.clone(),
            format!("only {have} bytes: committed records are missing"),
        )],
    }
}

/// Paths (relative to the store) that the manifest does not name. `index/`,
/// `semantic/`, `snapshot/`, `quarantine/` and the service's `tokens.json` are never reported.
fn orphans(dir: &Path, m: &Manifest) -> StoreResult<Vec<String>> {
    let mut known: BTreeSet<&str> = [
        layout::META,
        layout::MANIFEST,
        layout::LOCK,
        layout::INDEX,
        layout::SEMANTIC,
        layout::SNAPSHOT,
        layout::QUARANTINE,
        layout::TOKENS,
        phase_memory_store::CONFIG_FILE,
        layout::SEGMENTS,
        layout::EVENTS,
        layout::AUDIT,
        crate::locator::LOCATOR,
    ]
    .into_iter()
    .collect();
    known.insert(&m.events.file);
    known.insert(&m.audit.file);
    if let Some(p) = &m.profile {
        known.insert(&p.file);
    }
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io_err("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("listing", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !known.contains(name.as_str()) {
            out.push(name);
        }
    }
    let named: BTreeSet<&str> = m.named_segments();
    let seg_dir = dir.join(layout::SEGMENTS);
    if let Ok(entries) = std::fs::read_dir(&seg_dir) {
        for entry in entries {
            let entry = entry.map_err(|e| io_err("listing", &seg_dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !named.contains(name.as_str()) {
                out.push(format!("{}/{name}", layout::SEGMENTS));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Uncommitted tails, as findings (without touching them).
fn tails(dir: &Path, m: &Manifest) -> Vec<IntegrityFinding> {
    let mut out = Vec::new();
    for (entry, canonical) in [(&m.events, layout::EVENTS), (&m.audit, layout::AUDIT)] {
        let path = resolve_log(dir, entry, canonical);
        if let Ok(md) = std::fs::metadata(&path)
            && md.len() > entry.bytes
        {
            out.push(finding(
                "store.orphaned_path",
                rel_of(dir, &path),
                format!(
                    "{} bytes beyond the commit point (an interrupted commit)",
                    md.len() - entry.bytes
                ),
            ));
        }
    }
    out
}

/// [`phase_memory_store::Store::check_integrity`] for the file adapter.
pub(crate) fn check(s: &FileStore) -> StoreResult<Vec<IntegrityFinding>> {
    let Some(own) = &s.manifest else {
        return Ok(vec![IntegrityFinding {
            code: "store.migration_needed".into(),
            location: layout::META.into(),
            message: format!(
                "format v{} needs migration {} to v{SCHEMA_VERSION}",
                s.state.get().map_or(1, |st| st.meta.schema_version),
                layout::MIGRATION_0002
            ),
            fixable: false,
        }]);
    };
    let m = if !s.lock_held() {
        s.read_manifest()?
    } else {
        own.clone()
    };
    let mut out = s.notes.clone();
    let loaded = load::load(&s.dir, &m, true)?;
    for d in &loaded.damage {
        out.extend(damage_findings(d));
    }
    out.extend(tails(&s.dir, &m));
    for rel in orphans(&s.dir, &m)? {
        out.push(finding(
            "store.orphaned_path",
            rel,
            "not named by manifest.json: left by an interrupted write or added by hand; ignored"
                .into(),
        ));
    }
    Ok(out)
}

/// [`phase_memory_store::Store::repair_integrity`] for the file adapter.
pub(crate) fn repair(s: &mut FileStore) -> StoreResult<Vec<IntegrityFinding>> {
    s.may_write("repair")?;
    let Some(m) = s.manifest.clone() else {
        return Ok(Vec::new());
    };
    match repair_v2(s, m) {
        Ok(done) => Ok(done),
        Err(e) => {
            s.poisoned = true;
            Err(e)
        }
    }
}

fn repair_v2(s: &mut FileStore, m: Manifest) -> StoreResult<Vec<IntegrityFinding>> {
    let dir = s.dir.clone();
    let fs = s.fs.as_ref();
    let mut done = std::mem::take(&mut s.notes);
    let damage = load::load(&dir, &m, true)?.damage;
    let generation = m.generation + 1;
    let mut new = m.clone();
    new.generation = generation;
    new.data_generation = Some(generation);
    let (mut segs, mut events, mut audit, mut profile) = (false, false, false, false);
    let mut to_quarantine = Vec::new();
    if !damage.is_empty() {
        ensure_dir(fs, &dir.join(layout::QUARANTINE))?;
    }
    for d in &damage {
        let mut f = damage_findings(d);
        if let DamageKind::BadLines(lines) = &d.kind {
            let mut text = Vec::new();
            for l in lines {
                text.extend_from_slice(&l.text);
                text.push(b'\n');
            }
            let q = quarantine_path(&dir, generation, &format!("{}.bad-lines", d.rel));
            layout::write_atomic(fs, &q, &text)?;
            for x in &mut f {
                x.message = format!("{}; moved to {}", x.message, rel_of(&dir, &q));
            }
        }
        done.extend(f);
        if d.rel.starts_with(layout::SEGMENTS) {
            segs = true;
            if !matches!(d.kind, DamageKind::Missing) {
                to_quarantine.push(d.rel.clone());
            }
        } else if d.rel == layout::EVENTS || d.rel == layout::EVENTS_NEXT {
            events = true;
        } else if d.rel == layout::AUDIT || d.rel == layout::AUDIT_NEXT {
            audit = true;
        } else {
            profile = true;
            if !matches!(d.kind, DamageKind::Missing) {
                to_quarantine.push(d.rel.clone());
            }
        }
    }
    if segs || events || audit || profile {
        let st = s.image()?;
        if segs {
            let image = full_image(st.nodes.values(), st.edges.values(), st.reviews.values());
            new.segments = vec![write_segment(fs, &dir, new.next_segment, &image)?];
            new.next_segment += 1;
            new.compaction = None;
        }
        let enc = |e: Result<Vec<u8>, String>| {
            e.map_err(|e| StoreError::Backend(format!("encoding records: {e}")))
        };
        if events {
            let bytes = enc(encode_lines(&st.events))?;
            layout::write_atomic(fs, &dir.join(layout::EVENTS_NEXT), &bytes)?;
            new.events = LogEntry {
                file: layout::EVENTS_NEXT.into(),
                bytes: bytes.len() as u64,
                lines: st.events.len() as u64,
            };
        }
        if audit {
            let bytes = enc(encode_lines(&st.audit))?;
            layout::write_atomic(fs, &dir.join(layout::AUDIT_NEXT), &bytes)?;
            new.audit = LogEntry {
                file: layout::AUDIT_NEXT.into(),
                bytes: bytes.len() as u64,
                lines: st.audit.len() as u64,
            };
        }
        if profile {
            new.profile = match &st.profile {
                Some(p) => {
                    let file = layout::profile_name(generation);
                    layout::write_atomic(fs, &dir.join(&file), p.as_bytes())?;
                    Some(ProfileEntry {
                        file,
                        blake3: blake3_hex(p.as_bytes()),
                    })
                }
                None => None,
            };
        }
        layout::write_atomic(fs, &dir.join(layout::MANIFEST), &pretty_json(&new)?)?;
        if let Some(st) = s.state.get_mut() {
            st.generation = generation;
            st.data_generation = generation;
        }
        for rel in &to_quarantine {
            let from = dir.join(rel);
            if from.exists() {
                let to = quarantine_path(&dir, generation, rel);
                fs.rename(&from, &to)
                    .map_err(|e| io_err("moving into quarantine", &from, e))?;
            }
        }
        settle(fs, &dir, &mut new, false)?;
    }
    for f in cut_tails(fs, &dir, &new)? {
        done.push(f);
    }
    let orphaned = orphans(&dir, &new)?;
    if !orphaned.is_empty() {
        ensure_dir(fs, &dir.join(layout::QUARANTINE))?;
    }
    for rel in orphaned {
        let from = dir.join(&rel);
        let to = quarantine_path(&dir, new.generation, &rel);
        fs.rename(&from, &to)
            .map_err(|e| io_err("moving into quarantine", &from, e))?;
        done.push(finding(
            "store.orphaned_path",
            rel,
            format!("not named by manifest.json; moved to {}", rel_of(&dir, &to)),
        ));
    }
    s.manifest = Some(new);
    s.damage.clear();
    Ok(done)
}
